"""strata-blockd's attachment flow against real Ceph: the attachments API
(3.27+/3.44, as Nova drives it; raw HTTP and the real `cinder` client), the
legacy volume actions (os-reserve ... os-detach), connection_info (RBD, the
cluster's monitors, never a key), illegal transitions and tenancy."""
import json
import uuid

import pytest
import requests

from test_blockd import api, cinder, cluster, carol, dave, vol_create, vurl, wait_status  # noqa: F401
from test_imaged import H

MV = {"OpenStack-API-Version": "volume 3.44"}
SERVER = "0f2e5b8a-6c1d-4e7f-9a3b-2d4c6e8f0a1b"
CONNECTOR = {"ip": "127.0.0.1", "host": "h1", "initiator": "iqn.x", "multipath": False,
             "platform": "x86_64", "os_type": "linux2", "mountpoint": "/dev/vdb"}


def new_volume(vurl, tok, project):
    v = vol_create(vurl, tok, project, size=1, name="att-" + uuid.uuid4().hex[:6])
    wait_status(vurl, tok, project, "volumes", v["id"], "available")
    return v["id"]


def volume(vurl, tok, project, vid):
    r = requests.get(api(vurl, tok, project) + "/volumes/" + vid, headers=H(tok))
    assert r.status_code == 200, r.text
    return r.json()["volume"]


def action(vurl, tok, project, vid, body):
    return requests.post("%s/volumes/%s/action" % (api(vurl, tok, project), vid),
                         headers=H(tok, **MV), json=body)


def mon_addrs(cluster):
    """(hosts, ports) of the real cluster's monitors, v1 addresses."""
    rc, out, err = cluster.mon_command(json.dumps({"prefix": "mon dump", "format": "json"}), b"")
    assert rc == 0, err
    hosts, ports = [], []
    for m in json.loads(out)["mons"]:
        addrs = m["public_addrs"]["addrvec"]
        a = [x for x in addrs if x["type"] == "v1"] or addrs
        h, p = a[0]["addr"].rsplit(":", 1)
        hosts.append(h.strip("[]"))
        ports.append(p)
    return hosts, ports


def check_connection_info(ci, vid, cluster):
    assert ci["driver_volume_type"] == "rbd"
    d = ci["data"]
    assert d["name"] == "strata.volumes/volume-" + vid
    assert (d["hosts"], d["ports"]) == mon_addrs(cluster)
    assert d["volume_id"] == vid and d["auth_enabled"] is True and d["secret_type"] == "ceph"
    assert d["auth_username"] and d["secret_uuid"] and d["cluster_name"] == "ceph"
    assert d["discard"] is True and d["qos_specs"] is None and d["access_mode"] == "rw"
    assert d["encrypted"] is False
    assert not [k for k in d if "key" in k.lower()]


def test_attachments_nova_flow_raw(vurl, carol, cluster):
    vid = new_volume(vurl, carol, "p-carol")
    base = api(vurl, carol, "p-carol")
    # below 3.27 there is no attachments API
    r = requests.post(base + "/attachments", headers=H(carol, **{"OpenStack-API-Version": "volume 3.0"}),
                      json={"attachment": {"volume_uuid": vid, "instance_uuid": SERVER}})
    assert r.status_code == 404
    r = requests.post(base + "/attachments", headers=H(carol, **MV),
                      json={"attachment": {"volume_uuid": vid, "instance_uuid": SERVER,
                                           "connector": CONNECTOR}})
    assert r.status_code == 200, r.text
    att = r.json()["attachment"]
    assert att["volume_id"] == vid and att["instance"] == SERVER and att["status"] == "attaching"
    check_connection_info(att["connection_info"], vid, cluster)
    assert volume(vurl, carol, "p-carol", vid)["status"] == "attaching"
    # a second attachment of a non-multiattach volume is refused
    r = requests.post(base + "/attachments", headers=H(carol, **MV),
                      json={"attachment": {"volume_uuid": vid, "instance_uuid": SERVER}})
    assert r.status_code == 409 and "attaching" in r.text
    r = requests.get(base + "/attachments/detail", headers=H(carol, **MV))
    assert r.status_code == 200 and att["id"] in [a["id"] for a in r.json()["attachments"]]
    r = requests.post("%s/attachments/%s/action" % (base, att["id"]), headers=H(carol, **MV),
                      json={"os-complete": {}})
    assert r.status_code in (200, 204), r.text
    r = requests.get("%s/attachments/%s" % (base, att["id"]), headers=H(carol, **MV))
    assert r.status_code == 200 and r.json()["attachment"]["status"] == "attached"
    v = volume(vurl, carol, "p-carol", vid)
    assert v["status"] == "in-use"
    assert [(a["attachment_id"], a["server_id"], a["volume_id"]) for a in v["attachments"]] == \
        [(att["id"], SERVER, vid)]
    # an in-use volume cannot be deleted
    r = requests.delete(base + "/volumes/" + vid, headers=H(carol))
    assert r.status_code in (400, 409) and "in-use" in r.text
    r = requests.delete("%s/attachments/%s" % (base, att["id"]), headers=H(carol, **MV))
    assert r.status_code == 200, r.text
    v = volume(vurl, carol, "p-carol", vid)
    assert v["status"] == "available" and v["attachments"] == []
    r = requests.get("%s/attachments/%s" % (base, att["id"]), headers=H(carol, **MV))
    assert r.status_code == 404


def test_attachment_reserve_then_update(vurl, carol, cluster):
    vid = new_volume(vurl, carol, "p-carol")
    base = api(vurl, carol, "p-carol")
    r = requests.post(base + "/attachments", headers=H(carol, **MV),
                      json={"attachment": {"volume_uuid": vid, "instance_uuid": SERVER}})
    assert r.status_code == 200, r.text
    att = r.json()["attachment"]
    assert att["status"] == "reserved" and att["connection_info"] is None
    assert volume(vurl, carol, "p-carol", vid)["status"] == "reserved"
    r = requests.put("%s/attachments/%s" % (base, att["id"]), headers=H(carol, **MV),
                     json={"attachment": {"connector": CONNECTOR}})
    assert r.status_code == 200, r.text
    check_connection_info(r.json()["attachment"]["connection_info"], vid, cluster)
    assert volume(vurl, carol, "p-carol", vid)["status"] == "attaching"
    r = requests.delete("%s/attachments/%s" % (base, att["id"]), headers=H(carol, **MV))
    assert r.status_code == 200
    assert volume(vurl, carol, "p-carol", vid)["status"] == "available"


def test_legacy_attach_detach(vurl, carol, cluster):
    vid = new_volume(vurl, carol, "p-carol")
    r = action(vurl, carol, "p-carol", vid, {"os-detach": {}})
    assert r.status_code == 409 and "is available" in r.text
    assert action(vurl, carol, "p-carol", vid, {"os-reserve": {}}).status_code == 202
    assert volume(vurl, carol, "p-carol", vid)["status"] == "reserved"
    r = action(vurl, carol, "p-carol", vid, {"os-reserve": {}})
    assert r.status_code == 409 and "reserved" in r.text
    r = action(vurl, carol, "p-carol", vid, {"os-initialize_connection": {"connector": CONNECTOR}})
    assert r.status_code == 200, r.text
    check_connection_info(r.json()["connection_info"], vid, cluster)
    r = action(vurl, carol, "p-carol", vid,
               {"os-attach": {"instance_uuid": SERVER, "mountpoint": "/dev/vdb", "mode": "rw"}})
    assert r.status_code == 202, r.text
    v = volume(vurl, carol, "p-carol", vid)
    assert v["status"] == "in-use" and v["attachments"][0]["server_id"] == SERVER
    assert v["attachments"][0]["device"] == "/dev/vdb"
    assert action(vurl, carol, "p-carol", vid, {"os-begin_detaching": {}}).status_code == 202
    assert volume(vurl, carol, "p-carol", vid)["status"] == "detaching"
    assert action(vurl, carol, "p-carol", vid, {"os-roll_detaching": {}}).status_code == 202
    assert volume(vurl, carol, "p-carol", vid)["status"] == "in-use"
    assert action(vurl, carol, "p-carol", vid, {"os-begin_detaching": {}}).status_code == 202
    r = action(vurl, carol, "p-carol", vid, {"os-terminate_connection": {"connector": CONNECTOR}})
    assert r.status_code == 202
    r = action(vurl, carol, "p-carol", vid,
               {"os-detach": {"attachment_id": v["attachments"][0]["attachment_id"]}})
    assert r.status_code == 202, r.text
    v = volume(vurl, carol, "p-carol", vid)
    assert v["status"] == "available" and v["attachments"] == []
    assert action(vurl, carol, "p-carol", vid, {"os-reserve": {}}).status_code == 202
    assert action(vurl, carol, "p-carol", vid, {"os-unreserve": {}}).status_code == 202
    assert volume(vurl, carol, "p-carol", vid)["status"] == "available"


def test_isolation(vurl, carol, dave):
    vid = new_volume(vurl, carol, "p-carol")
    base = api(vurl, carol, "p-carol")
    r = requests.post(base + "/attachments", headers=H(carol, **MV),
                      json={"attachment": {"volume_uuid": vid, "instance_uuid": SERVER}})
    assert r.status_code == 200
    aid = r.json()["attachment"]["id"]
    dbase = api(vurl, dave, "p-dave")
    assert requests.get("%s/attachments/%s" % (dbase, aid), headers=H(dave, **MV)).status_code == 404
    assert requests.delete("%s/attachments/%s" % (dbase, aid),
                           headers=H(dave, **MV)).status_code == 404
    r = requests.post(dbase + "/attachments", headers=H(dave, **MV),
                      json={"attachment": {"volume_uuid": vid, "instance_uuid": SERVER}})
    assert r.status_code == 404
    assert action(vurl, dave, "p-dave", vid, {"os-reserve": {}}).status_code == 404
    r = requests.get(dbase + "/attachments", headers=H(dave, **MV))
    assert r.status_code == 200 and aid not in [a["id"] for a in r.json()["attachments"]]
    assert requests.delete("%s/attachments/%s" % (base, aid), headers=H(carol, **MV)).status_code == 200


def test_cinder_client_attachment_flow(vurl, carol, cluster):
    vid = new_volume(vurl, carol, "p-carol")
    mv = ["--os-volume-api-version", "3.44"]
    p = cinder(vurl, carol, "p-carol", *mv, "attachment-create", vid, SERVER, "--connect", "True",
               "--ip", "127.0.0.1", "--host", "h1", "--initiator", "iqn.x")
    assert p.returncode == 0, p.stderr
    rows = {l.split("|")[1].strip(): l.split("|")[2].strip()
            for l in p.stdout.splitlines() if l.startswith("|")}
    aid = rows["id"]
    assert rows["status"] == "attaching" and rows["volume_id"] == vid
    assert "strata.volumes/volume-" + vid in p.stdout and "rbd" in p.stdout
    p = cinder(vurl, carol, "p-carol", *mv, "attachment-list")
    assert p.returncode == 0 and aid in p.stdout, p.stderr
    p = cinder(vurl, carol, "p-carol", *mv, "attachment-complete", aid)
    assert p.returncode == 0, p.stderr
    p = cinder(vurl, carol, "p-carol", *mv, "attachment-show", aid)
    assert p.returncode == 0 and "attached" in p.stdout, p.stderr
    assert volume(vurl, carol, "p-carol", vid)["status"] == "in-use"
    p = cinder(vurl, carol, "p-carol", *mv, "attachment-delete", aid)
    assert p.returncode == 0, p.stderr
    assert volume(vurl, carol, "p-carol", vid)["status"] == "available"


def test_stale_attachment_cannot_free_a_volume_held_by_another(vurl, carol):
    """Review bug: deleting an attachment the volume no longer counts used to
    settle the volume to available under another attachment's feet."""
    vid = new_volume(vurl, carol, "p-carol")
    base = api(vurl, carol, "p-carol")
    body = {"attachment": {"volume_uuid": vid, "instance_uuid": SERVER}}
    r = requests.post(base + "/attachments", headers=H(carol, **MV), json=body)
    assert r.status_code == 200, r.text
    stale = r.json()["attachment"]["id"]
    # the legacy flow takes the volume back: the first attachment is stale now
    assert action(vurl, carol, "p-carol", vid, {"os-unreserve": {}}).status_code == 202
    r = requests.post(base + "/attachments", headers=H(carol, **MV), json=body)
    assert r.status_code == 200, r.text
    live = r.json()["attachment"]["id"]
    assert volume(vurl, carol, "p-carol", vid)["status"] == "reserved"
    r = requests.delete("%s/attachments/%s" % (base, stale), headers=H(carol, **MV))
    assert r.status_code == 200, r.text
    assert volume(vurl, carol, "p-carol", vid)["status"] == "reserved"
    r = requests.get("%s/attachments/%s" % (base, stale), headers=H(carol, **MV))
    assert r.status_code == 404
    # the live one completes and detaches normally
    r = requests.put("%s/attachments/%s" % (base, live), headers=H(carol, **MV),
                     json={"attachment": {"connector": CONNECTOR}})
    assert r.status_code == 200, r.text
    r = requests.post("%s/attachments/%s/action" % (base, live), headers=H(carol, **MV),
                      json={"os-complete": {}})
    assert r.status_code == 204, r.text
    assert volume(vurl, carol, "p-carol", vid)["status"] == "in-use"
    # a second attachment of the in-use volume is refused
    r = requests.post(base + "/attachments", headers=H(carol, **MV), json=body)
    assert r.status_code == 409
    assert requests.delete("%s/attachments/%s" % (base, live), headers=H(carol, **MV)).status_code == 200
    assert volume(vurl, carol, "p-carol", vid)["status"] == "available"


def test_reserve_clears_a_pending_attachment_mark(vurl, carol):
    """os-unreserve/os-reserve forget the attachment a volume waited for, so the
    reconcile pass (which frees volumes whose pending attachment was never
    recorded) cannot free a volume the legacy flow holds."""
    vid = new_volume(vurl, carol, "p-carol")
    base = api(vurl, carol, "p-carol")
    r = requests.post(base + "/attachments", headers=H(carol, **MV),
                      json={"attachment": {"volume_uuid": vid, "instance_uuid": SERVER}})
    aid = r.json()["attachment"]["id"]
    assert action(vurl, carol, "p-carol", vid, {"os-unreserve": {}}).status_code == 202
    assert action(vurl, carol, "p-carol", vid, {"os-reserve": {}}).status_code == 202
    # the old attachment's record goes; the volume stays reserved by os-reserve
    assert requests.delete("%s/attachments/%s" % (base, aid), headers=H(carol, **MV)).status_code == 200
    assert volume(vurl, carol, "p-carol", vid)["status"] == "reserved"
    assert action(vurl, carol, "p-carol", vid, {"os-unreserve": {}}).status_code == 202


def test_reset_status_sets_attach_status(vurl, carol, strata_env):
    vid = new_volume(vurl, carol, "p-carol")
    admin, ap = strata_env["STRATA_ADMIN_TOKEN"], strata_env["STRATA_ADMIN_PROJECT_ID"]
    base = api(vurl, carol, "p-carol")
    r = requests.post(base + "/attachments", headers=H(carol, **MV),
                      json={"attachment": {"volume_uuid": vid, "instance_uuid": SERVER,
                                           "connector": CONNECTOR}})
    aid = r.json()["attachment"]["id"]
    r = requests.post("%s/attachments/%s/action" % (base, aid), headers=H(carol, **MV),
                      json={"os-complete": {}})
    assert r.status_code == 204
    # not for members
    r = action(vurl, carol, "p-carol", vid, {"os-reset_status": {"status": "available",
                                                                "attach_status": "detached"}})
    assert r.status_code == 403
    r = requests.post("%s/volumes/%s/action" % (api(vurl, admin, ap), vid), headers=H(admin),
                      json={"os-reset_status": {"status": "available", "attach_status": "bogus"}})
    assert r.status_code == 400
    assert volume(vurl, carol, "p-carol", vid)["status"] == "in-use"
    r = requests.post("%s/volumes/%s/action" % (api(vurl, admin, ap), vid), headers=H(admin),
                      json={"os-reset_status": {"status": "available", "attach_status": "detached"}})
    assert r.status_code == 202, r.text
    v = requests.get("%s/volumes/%s" % (api(vurl, admin, ap), vid), headers=H(admin, **MV)).json()["volume"]
    assert v["status"] == "available" and v["attachments"] == []
    assert requests.get("%s/attachments/%s" % (base, aid), headers=H(carol, **MV)).status_code == 404
    # the volume is usable again
    assert action(vurl, carol, "p-carol", vid, {"os-reserve": {}}).status_code == 202
    assert action(vurl, carol, "p-carol", vid, {"os-unreserve": {}}).status_code == 202
