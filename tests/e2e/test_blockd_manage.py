"""strata-blockd's admin APIs for a Cinder driver that delegates to it, on the
real cluster through raw HTTP: scheduler-stats/get_pools (capacity from ceph
df and the volume records), manage of an RBD image made with python-rbd
(renamed volume-<id>, grown to the whole GiB, data kept, quota counted),
manageable_volumes, os-unmanage (the image stays), their refusals, and kill -9
of blockd in the middle of a manage and of an unmanage (held there by the
test-only [blockd] debug_pause_step).  Uses its own project and images, and
ends with nothing of its own left in RBD, the records or the quota."""
import signal
import time
import uuid

import pytest
import rbd
import requests

from conftest import free_port
from test_blockd import cluster, vol_create, vurl, wait_status  # noqa: F401
from test_blockd_crash import volume_records, wait_log
from test_imaged import H, token

GIB = 1 << 30
MIB = 1 << 20
P = "p-manage-" + uuid.uuid4().hex[:8]
PREFIX = "t-manage-" + uuid.uuid4().hex[:6] + "-"


@pytest.fixture(scope="module")
def adm(home):
    return token(home, P, roles="admin")


@pytest.fixture(scope="module")
def mem(home):
    return token(home, P)


def b(url):
    return "%s/v3/%s" % (url, P)


def make_image(cluster, size, pattern=None):
    """An RBD image of the volumes pool, as an operator made it (not blockd)."""
    name = PREFIX + uuid.uuid4().hex[:8]
    with cluster.open_ioctx("strata.volumes") as io:
        rbd.RBD().create(io, name, size, old_format=False, features=rbd.RBD_FEATURE_LAYERING)
        if pattern:
            with rbd.Image(io, name) as im:
                for off, data in pattern:
                    im.write(data, off)
    return name


def images(cluster):
    with cluster.open_ioctx("strata.volumes") as io:
        return set(rbd.RBD().list(io))


def read(cluster, name, off, n):
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, name, read_only=True) as im:
        return im.read(off, n)


def rbd_meta(cluster, name):
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, name, read_only=True) as im:
        return dict(im.metadata_list())


def remove_image(cluster, name):
    with cluster.open_ioctx("strata.volumes") as io:
        try:
            rbd.RBD().remove(io, name)
        except rbd.ImageNotFound:
            pass


def manage(url, tok, ref, path="manageable_volumes", **extra):
    body = {"volume": dict({"host": "ignored@strata#strata.volumes", "ref": ref}, **extra)}
    return requests.post("%s/%s" % (b(url), path), headers=H(tok), json=body)


def action(url, tok, vid, body):
    return requests.post("%s/volumes/%s/action" % (b(url), vid), headers=H(tok), json=body)


def pools(url, tok, detail=True):
    r = requests.get(b(url) + "/scheduler-stats/get_pools" + ("?detail=true" if detail else ""),
                     headers=H(tok))
    assert r.status_code == 200, r.text
    return r.json()["pools"]


def manageable(url, tok, detail=True, query=""):
    r = requests.get(b(url) + "/manageable_volumes" + ("/detail" if detail else "") + query,
                     headers=H(tok))
    assert r.status_code == 200, r.text
    return {m["reference"]["source-name"]: m for m in r.json()["manageable-volumes"]}


def message(r):
    return list(r.json().values())[0]["message"]


def usage(url, tok):
    r = requests.get("%s/os-quota-sets/%s?usage=True" % (b(url), P), headers=H(tok))
    assert r.status_code == 200, r.text
    return {k: v["in_use"] for k, v in r.json()["quota_set"].items() if k != "id"}


def test_get_pools(vurl, adm, mem):
    (p,) = pools(vurl, adm, detail=False)
    assert set(p) == {"name"} and p["name"].endswith("@strata#strata.volumes")
    (p,) = pools(vurl, adm)
    c = p["capabilities"]
    assert c["pool_name"] == "strata.volumes"
    assert c["total_capacity_gb"] >= c["free_capacity_gb"] > 0
    assert c["allocated_capacity_gb"] <= c["provisioned_capacity_gb"]
    assert c["max_over_subscription_ratio"] == 20.0 and c["reserved_percentage"] == 0
    assert c["thin_provisioning_support"] is True and c["thick_provisioning_support"] is False
    assert c["multiattach"] is False and c["QoS_support"] is True
    assert (c["storage_protocol"], c["vendor_name"], c["volume_backend_name"]) == \
        ("ceph", "Strata", "strata")
    assert c["location_info"].endswith(":strata.volumes") and len(c["location_info"]) > 36
    assert c["timestamp"][:2] == "20" and "T" in c["timestamp"]
    before = c["provisioned_capacity_gb"]
    v = vol_create(vurl, mem, P, size=3, name="cap")
    wait_status(vurl, mem, P, "volumes", v["id"], "available")
    c = pools(vurl, adm)[0]["capabilities"]
    assert c["provisioned_capacity_gb"] >= before + 3   # others' volumes may come and go
    assert requests.delete(b(vurl) + "/volumes/" + v["id"], headers=H(mem)).status_code == 202
    wait_status(vurl, mem, P, "volumes", v["id"], "gone")
    # admins only
    r = requests.get(b(vurl) + "/scheduler-stats/get_pools", headers=H(mem))
    assert r.status_code == 403, r.text
    r = requests.get(b(vurl) + "/scheduler-stats/get_pools?detail=maybe", headers=H(adm))
    assert r.status_code == 400, r.text


def test_manage_list_unmanage(vurl, adm, mem, cluster):
    head, tail = b"strata-manage-head" * 100, b"strata-manage-tail" * 100
    size = 100 * MIB + 4096                       # not a whole GiB: grown to 1
    src = make_image(cluster, size, [(0, head), (size - len(tail), tail)])
    listed = manageable(vurl, adm)
    assert listed[src]["safe_to_manage"] is True and listed[src]["size"] == 1
    assert listed[src]["reason_not_safe"] is None and listed[src]["cinder_id"] is None
    summary = manageable(vurl, adm, detail=False)[src]
    assert set(summary) == {"reference", "size", "safe_to_manage"}
    assert requests.get(b(vurl) + "/manageable_volumes", headers=H(mem)).status_code == 403

    r = manage(vurl, adm, {"source-name": src}, name="adopted", bootable=True,
               metadata={"from": "rbd"})
    assert r.status_code == 202, r.text
    v = r.json()["volume"]
    assert v["size"] == 1 and v["name"] == "adopted" and v["status"] == "managing"
    wait_status(vurl, mem, P, "volumes", v["id"], "available")
    shown = requests.get(b(vurl) + "/volumes/" + v["id"], headers=H(mem)).json()["volume"]
    assert shown["bootable"] == "true" and shown["metadata"] == {"from": "rbd"}
    name = "volume-" + v["id"]
    names = images(cluster)
    assert name in names and src not in names
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, name, read_only=True) as im:
        assert im.size() == GIB
    assert read(cluster, name, 0, len(head)) == head
    assert read(cluster, name, size - len(tail), len(tail)) == tail
    assert usage(vurl, adm) == {"volumes": 1, "snapshots": 0, "gigabytes": 1}
    listed = manageable(vurl, adm)
    assert listed[name]["safe_to_manage"] is False and listed[name]["cinder_id"] == v["id"]
    assert listed[name]["reason_not_safe"] == "already managed"

    # refusals
    r = manage(vurl, adm, {"source-name": name})
    assert r.status_code == 400 and "already managed" in message(r), r.text
    r = manage(vurl, adm, {"source-name": PREFIX + "nothing"})
    assert r.status_code == 400 and "invalid backend reference" in message(r), r.text
    r = manage(vurl, adm, {"source-id": "0123456789ab"})
    assert r.status_code == 400, r.text
    r = requests.post(b(vurl) + "/manageable_volumes", headers=H(adm), json={"volume": {"host": "h"}})
    assert r.status_code == 400 and "ref" in message(r), r.text
    r = requests.post(b(vurl) + "/manageable_volumes", headers=H(adm),
                      json={"volume": {"host": 7, "ref": {"source-name": src}}})
    assert r.status_code == 400 and "host" in message(r), r.text
    r = manage(vurl, mem, {"source-name": name})
    assert r.status_code == 403, r.text

    # unmanage refusals: non-admin, with a snapshot, attached
    assert action(vurl, mem, v["id"], {"os-unmanage": None}).status_code == 403
    r = requests.post(b(vurl) + "/snapshots", headers=H(mem),
                      json={"snapshot": {"volume_id": v["id"], "name": "s"}})
    assert r.status_code == 202, r.text
    sid = r.json()["snapshot"]["id"]
    wait_status(vurl, mem, P, "snapshots", sid, "available")
    r = action(vurl, adm, v["id"], {"os-unmanage": None})
    assert r.status_code == 400 and "snapshots" in message(r), r.text
    assert requests.delete(b(vurl) + "/snapshots/" + sid, headers=H(mem)).status_code == 202
    wait_status(vurl, mem, P, "snapshots", sid, "gone")
    assert action(vurl, mem, v["id"], {"os-reserve": None}).status_code == 202
    assert action(vurl, mem, v["id"], {"os-attach": {"instance_uuid": str(uuid.uuid4()),
                                                     "mountpoint": "/dev/vdb"}}).status_code == 202
    r = action(vurl, adm, v["id"], {"os-unmanage": {}})
    assert r.status_code == 400 and "in-use" in message(r), r.text
    assert action(vurl, mem, v["id"], {"os-detach": {}}).status_code == 202
    wait_status(vurl, mem, P, "volumes", v["id"], "available")

    # unmanage: the record and its quota go, the image stays (and stays listed as safe)
    r = action(vurl, adm, v["id"], {"os-unmanage": None})
    assert r.status_code == 202, r.text
    wait_status(vurl, mem, P, "volumes", v["id"], "gone")
    assert name in images(cluster)
    assert "strata_unmanaged" in rbd_meta(cluster, name)
    assert read(cluster, name, 0, len(head)) == head
    assert usage(vurl, adm) == {"volumes": 0, "snapshots": 0, "gigabytes": 0}
    listed = manageable(vurl, adm)
    assert listed[name]["safe_to_manage"] is True and listed[name]["cinder_id"] is None

    # managed again through the legacy path, by its RBD id: the mark goes
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, name, read_only=True) as im:
        rid = im.id()
    r = manage(vurl, adm, {"source-id": rid}, path="os-volume-manage")
    assert r.status_code == 202, r.text
    v2 = r.json()["volume"]
    wait_status(vurl, mem, P, "volumes", v2["id"], "available")
    assert "strata_unmanaged" not in rbd_meta(cluster, "volume-" + v2["id"])
    assert read(cluster, "volume-" + v2["id"], 0, len(head)) == head
    assert requests.delete(b(vurl) + "/volumes/" + v2["id"], headers=H(mem)).status_code == 202
    wait_status(vurl, mem, P, "volumes", v2["id"], "gone")
    assert "volume-" + v2["id"] not in images(cluster)


def test_manage_paging(vurl, adm, cluster):
    made = sorted(make_image(cluster, MIB) for _ in range(3))
    try:
        names = sorted(manageable(vurl, adm))
        assert set(made) <= set(names)
        after = manageable(vurl, adm, query="?marker=%s&limit=1" % made[0])
        assert list(after) == [names[names.index(made[0]) + 1]]
        r = requests.get(b(vurl) + "/manageable_volumes?marker=" + PREFIX + "none", headers=H(adm))
        assert r.status_code == 400, r.text
    finally:
        for n in made:
            remove_image(cluster, n)


def test_kill_9_mid_manage_and_unmanage(blockd_factory, adm, mem, cluster):
    data = b"survives-kill-9" * 300
    src = make_image(cluster, 3 * MIB, [(0, data)])
    port = free_port()
    d = blockd_factory(port, debug_pause_step="manage,unmanage")
    r = manage(d.url, adm, {"source-name": src})
    assert r.status_code == 202, r.text
    vid = r.json()["volume"]["id"]
    wait_log(d, "volume %s paused at manage" % vid)
    assert src in images(cluster) and "volume-" + vid not in images(cluster)
    assert volume_records(cluster)[vid]["status"] == "managing"
    d.stop(signal.SIGKILL)

    d = blockd_factory(port)                     # reconcile finishes the manage
    wait_status(d.url, mem, P, "volumes", vid, "available", timeout=90)
    names = images(cluster)
    assert src not in names and "volume-" + vid in names
    assert read(cluster, "volume-" + vid, 0, len(data)) == data
    d.stop(signal.SIGKILL)

    d = blockd_factory(port, debug_pause_step="unmanage")
    assert action(d.url, adm, vid, {"os-unmanage": None}).status_code == 202
    wait_log(d, "volume %s paused at unmanage" % vid)
    d.stop(signal.SIGKILL)
    d = blockd_factory(port)                     # reconcile finishes the unmanage
    wait_status(d.url, mem, P, "volumes", vid, "gone", timeout=90)
    assert "volume-" + vid in images(cluster)
    assert read(cluster, "volume-" + vid, 0, len(data)) == data
    # a later reconcile pass (the orphan sweep) keeps the unmanaged image
    time.sleep(1)
    assert "volume-" + vid in images(cluster)
    remove_image(cluster, "volume-" + vid)


def test_zz_nothing_leaked(vurl, adm, cluster):
    names = images(cluster)
    assert not [n for n in names if n.startswith(PREFIX)]
    recs = {i: v for i, v in volume_records(cluster).items() if v.get("project_id") == P}
    assert not recs, recs
    vols = {n for n in names if n.startswith("volume-")}
    assert vols <= {"volume-" + i for i in volume_records(cluster)} | \
        {n for n in vols if "strata_unmanaged" in rbd_meta(cluster, n)}
    assert usage(vurl, adm) == {"volumes": 0, "snapshots": 0, "gigabytes": 0}
