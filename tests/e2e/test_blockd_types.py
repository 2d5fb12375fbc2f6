"""strata-blockd's volume types (extra specs) and qos-specs through the real
`cinder` client and raw HTTP, and what a volume's type does: front-end QoS in
connection_info (per-GB keys expanded by size), back-end QoS as librbd image
metadata on the RBD image (set at create, re-scaled at extend, replaced at
retype), and retype of available and in-use volumes."""
import uuid

import pytest
import rbd
import requests

from test_blockd import api, cinder, cluster, carol, dave, vol_create, vurl, wait_status  # noqa: F401
from test_blockd_attach import CONNECTOR, MV, SERVER, action, volume
from test_imaged import H


@pytest.fixture(scope="module")
def admin(strata_env):
    return strata_env["STRATA_ADMIN_TOKEN"], strata_env["STRATA_ADMIN_PROJECT_ID"]


def acinder(vurl, admin, *args):
    p = cinder(vurl, admin[0], admin[1], *args)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def table(out):
    rows = {}
    for line in out.splitlines():
        parts = [x.strip() for x in line.split("|")]
        if len(parts) >= 4 and parts[1] and parts[1] != "Property":
            rows[parts[1]] = parts[2]
    return rows


def image_meta(cluster, vid):
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, "volume-" + vid, read_only=True) as im:
        return {k: v for k, v in im.metadata_list() if k.startswith("conf_rbd_qos")}


def test_types_with_the_cinder_client(vurl, admin, carol):
    name = "gold-" + uuid.uuid4().hex[:6]
    out = acinder(vurl, admin, "type-create", name, "--description", "fast")
    tid = [l.split("|")[1].strip() for l in out.splitlines() if name in l][0]
    acinder(vurl, admin, "type-key", name, "set", "volume_backend_name=rbd", "tier=gold")
    out = acinder(vurl, admin, "extra-specs-list")
    assert name in out and "tier" in out
    acinder(vurl, admin, "type-key", name, "unset", "tier")
    base = api(vurl, admin[0], admin[1])
    r = requests.get("%s/types/%s/extra_specs" % (base, tid), headers=H(admin[0]))
    assert r.status_code == 200 and r.json() == {"extra_specs": {"volume_backend_name": "rbd"}}
    r = requests.get("%s/types/%s/extra_specs/volume_backend_name" % (base, tid), headers=H(admin[0]))
    assert r.json() == {"volume_backend_name": "rbd"}
    r = requests.put("%s/types/%s/extra_specs/a" % (base, tid), headers=H(admin[0]), json={"b": "1"})
    assert r.status_code == 400
    # a duplicate name is refused; update renames
    r = requests.post(base + "/types", headers=H(admin[0]), json={"volume_type": {"name": name}})
    assert r.status_code == 409, r.text
    acinder(vurl, admin, "type-update", "--description", "faster", tid)
    assert requests.get("%s/types/%s" % (base, tid), headers=H(admin[0])).json()["volume_type"]["description"] == "faster"
    # members: list and show public types, change nothing
    cb = api(vurl, carol, "p-carol")
    r = requests.get(cb + "/types", headers=H(carol))
    assert r.status_code == 200 and name in [x["name"] for x in r.json()["volume_types"]]
    assert "qos_specs_id" not in r.json()["volume_types"][0]
    assert requests.get(cb + "/types/" + name, headers=H(carol)).status_code == 200
    assert requests.post(cb + "/types", headers=H(carol), json={"volume_type": {"name": "x"}}).status_code == 403
    assert requests.delete(cb + "/types/" + tid, headers=H(carol)).status_code == 403
    assert requests.post(cb + "/types/%s/extra_specs" % tid, headers=H(carol),
                         json={"extra_specs": {"a": "b"}}).status_code == 403
    # a private type is invisible to members
    r = requests.post(base + "/types", headers=H(admin[0]),
                      json={"volume_type": {"name": name + "-p", "os-volume-type-access:is_public": False}})
    assert r.status_code == 200, r.text
    pid = r.json()["volume_type"]["id"]
    assert r.json()["volume_type"]["is_public"] is False
    assert requests.get(cb + "/types/" + pid, headers=H(carol)).status_code == 404
    assert pid not in [x["id"] for x in requests.get(cb + "/types", headers=H(carol)).json()["volume_types"]]
    r = requests.post(cb + "/volumes", headers=H(carol), json={"volume": {"size": 1, "volume_type": pid}})
    assert r.status_code == 404
    assert pid in [x["id"] for x in requests.get(base + "/types?is_public=None", headers=H(admin[0])).json()["volume_types"]]
    # the default type stays
    assert requests.delete(base + "/types/default", headers=H(admin[0])).status_code == 400
    assert requests.get(cb + "/types/default", headers=H(carol)).json()["volume_type"]["name"] == "__DEFAULT__"
    acinder(vurl, admin, "type-delete", pid)
    acinder(vurl, admin, "type-delete", tid)
    assert requests.get("%s/types/%s" % (base, tid), headers=H(admin[0])).status_code == 404


def test_qos_specs_with_the_cinder_client(vurl, admin, carol):
    name = "q-" + uuid.uuid4().hex[:6]
    q = table(acinder(vurl, admin, "qos-create", name, "consumer=front-end", "read_iops_sec=100"))
    qid = q["id"]
    assert q["consumer"] == "front-end"
    acinder(vurl, admin, "qos-key", qid, "set", "write_iops_sec=50")
    acinder(vurl, admin, "qos-key", qid, "unset", "read_iops_sec")
    shown = table(acinder(vurl, admin, "qos-show", qid))
    assert "write_iops_sec : 50" in shown["specs"] and "read_iops_sec" not in shown["specs"]
    base = api(vurl, admin[0], admin[1])
    # values and keys are checked; nothing changes on a bad request
    for body in ({"qos_specs": {"name": "bad", "total_iops_sec": "-1"}},
                 {"qos_specs": {"name": "bad", "iops": "5"}},
                 {"qos_specs": {"name": "bad", "consumer": "sideways"}},
                 {"qos_specs": {"name": "bad", "total_iops_sec": "5", "read_iops_sec": "5"}}):
        r = requests.post(base + "/qos-specs", headers=H(admin[0]), json=body)
        assert r.status_code == 400, (body, r.text)
    r = requests.put("%s/qos-specs/%s" % (base, qid), headers=H(admin[0]),
                     json={"qos_specs": {"total_iops_sec": "10"}})
    assert r.status_code == 400   # total beside write_iops_sec
    r = requests.put("%s/qos-specs/%s/delete_keys" % (base, qid), headers=H(admin[0]), json={"keys": ["nope"]})
    assert r.status_code == 404
    assert requests.get(api(vurl, carol, "p-carol") + "/qos-specs", headers=H(carol)).status_code == 403
    # associations
    t = requests.post(base + "/types", headers=H(admin[0]), json={"volume_type": {"name": name}}).json()["volume_type"]
    acinder(vurl, admin, "qos-associate", qid, t["id"])
    assert t["id"] in acinder(vurl, admin, "qos-get-association", qid)
    shown = requests.get("%s/types/%s" % (base, t["id"]), headers=H(admin[0])).json()["volume_type"]
    assert shown["qos_specs_id"] == qid
    other = requests.post(base + "/qos-specs", headers=H(admin[0]),
                          json={"qos_specs": {"name": name + "-2", "total_bytes_sec": "1000"}}).json()["qos_specs"]
    r = requests.get("%s/qos-specs/%s/associate?vol_type_id=%s" % (base, other["id"], t["id"]), headers=H(admin[0]))
    assert r.status_code == 400 and "already associated" in r.text
    r = requests.delete("%s/qos-specs/%s" % (base, qid), headers=H(admin[0]))
    assert r.status_code == 400
    acinder(vurl, admin, "qos-disassociate", qid, t["id"])
    assert requests.get("%s/qos-specs/%s/associations" % (base, qid), headers=H(admin[0])).json() == {"qos_associations": []}
    acinder(vurl, admin, "qos-associate", qid, t["id"])
    acinder(vurl, admin, "qos-disassociate-all", qid)
    acinder(vurl, admin, "qos-associate", qid, t["id"])
    acinder(vurl, admin, "qos-delete", "--force", "True", qid)
    assert requests.get("%s/types/%s" % (base, t["id"]), headers=H(admin[0])).json()["volume_type"]["qos_specs_id"] is None
    for q2 in (other["id"],):
        assert requests.delete("%s/qos-specs/%s" % (base, q2), headers=H(admin[0])).status_code == 202
    assert requests.delete("%s/types/%s" % (base, t["id"]), headers=H(admin[0])).status_code == 202


def make_type(vurl, admin, specs, consumer):
    base = api(vurl, admin[0], admin[1])
    name = "t-" + uuid.uuid4().hex[:6]
    t = requests.post(base + "/types", headers=H(admin[0]), json={"volume_type": {"name": name}}).json()["volume_type"]
    q = requests.post(base + "/qos-specs", headers=H(admin[0]),
                      json={"qos_specs": dict(specs, name=name, consumer=consumer)})
    assert q.status_code == 200, q.text
    qid = q.json()["qos_specs"]["id"]
    r = requests.get("%s/qos-specs/%s/associate?vol_type_id=%s" % (base, qid, t["id"]), headers=H(admin[0]))
    assert r.status_code == 202
    return t, qid


def test_a_volumes_type_decides_its_qos(vurl, admin, carol, cluster):
    both, _ = make_type(vurl, admin, {"total_iops_sec_per_gb": "100", "total_iops_sec_per_gb_min": "300",
                                      "write_bytes_sec": "10485760"}, "both")
    front, _ = make_type(vurl, admin, {"read_iops_sec": "77"}, "front-end")
    cb = api(vurl, carol, "p-carol")
    # by name; unknown types are 404
    r = requests.post(cb + "/volumes", headers=H(carol), json={"volume": {"size": 1, "volume_type": "nope"}})
    assert r.status_code == 404
    vol = vol_create(vurl, carol, "p-carol", size=2, volume_type=both["name"])
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "available")
    shown = requests.get(cb + "/volumes/" + vol["id"], headers=H(carol, **MV)).json()["volume"]
    assert shown["volume_type"] == both["name"]
    # back-end: librbd limits on the image, per-GB scaled (max(100*2, 300) = 300)
    assert image_meta(cluster, vol["id"]) == {"conf_rbd_qos_iops_limit": "300",
                                              "conf_rbd_qos_write_bps_limit": "10485760"}
    # front-end: connection_info carries the expanded specs
    r = action(vurl, carol, "p-carol", vol["id"], {"os-reserve": {}})
    r = action(vurl, carol, "p-carol", vol["id"], {"os-initialize_connection": {"connector": CONNECTOR}})
    assert r.status_code == 200, r.text
    assert r.json()["connection_info"]["data"]["qos_specs"] == {"total_iops_sec": 300,
                                                                "write_bytes_sec": 10485760}
    action(vurl, carol, "p-carol", vol["id"], {"os-unreserve": {}})
    # extend: the per-GB limit follows the size
    assert requests.post(cb + "/volumes/%s/action" % vol["id"], headers=H(carol),
                         json={"os-extend": {"new_size": 5}}).status_code == 202
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "available")
    assert image_meta(cluster, vol["id"])["conf_rbd_qos_iops_limit"] == "500"
    # retype (the cinder client, by id) to a front-end type: the image's limits go
    p = cinder(vurl, carol, "p-carol", "retype", vol["id"], front["id"])
    assert p.returncode == 0, p.stderr
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "available")
    shown = requests.get(cb + "/volumes/" + vol["id"],
                         headers=H(carol, **{"OpenStack-API-Version": "volume 3.63"})).json()["volume"]
    assert shown["volume_type"] == front["name"] and shown["volume_type_id"] == front["id"]
    assert image_meta(cluster, vol["id"]) == {}
    # retype to the same type or an unknown one is refused, nothing changes
    r = requests.post(cb + "/volumes/%s/action" % vol["id"], headers=H(carol),
                      json={"os-retype": {"new_type": front["name"]}})
    assert r.status_code == 400
    r = requests.post(cb + "/volumes/%s/action" % vol["id"], headers=H(carol),
                      json={"os-retype": {"new_type": "nope", "migration_policy": "never"}})
    assert r.status_code == 404
    r = requests.post(cb + "/volumes/%s/action" % vol["id"], headers=H(carol),
                      json={"os-retype": {"new_type": both["name"], "migration_policy": "always"}})
    assert r.status_code == 400
    # an attachment made now gets the front-end type's specs
    r = requests.post(cb + "/attachments", headers=H(carol, **MV),
                      json={"attachment": {"volume_uuid": vol["id"], "instance_uuid": SERVER,
                                           "connector": CONNECTOR}})
    assert r.status_code == 200, r.text
    att = r.json()["attachment"]
    assert att["connection_info"]["data"]["qos_specs"] == {"read_iops_sec": 77}
    assert requests.post("%s/attachments/%s/action" % (cb, att["id"]), headers=H(carol, **MV),
                         json={"os-complete": {}}).status_code == 204
    # in-use retype back: allowed, limits back on the image, still in-use
    r = requests.post(cb + "/volumes/%s/action" % vol["id"], headers=H(carol),
                      json={"os-retype": {"new_type": both["id"], "migration_policy": "on-demand"}})
    assert r.status_code == 202, r.text
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "in-use")
    assert image_meta(cluster, vol["id"])["conf_rbd_qos_iops_limit"] == "500"
    # a type in use cannot be deleted
    base = api(vurl, admin[0], admin[1])
    r = requests.delete("%s/types/%s" % (base, both["id"]), headers=H(admin[0]))
    assert r.status_code == 400 and "in use" in r.text
    assert requests.delete("%s/attachments/%s" % (cb, att["id"]), headers=H(carol, **MV)).status_code == 200
    assert requests.delete(cb + "/volumes/" + vol["id"], headers=H(carol)).status_code == 202
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "gone")
