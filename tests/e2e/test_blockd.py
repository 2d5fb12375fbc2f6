"""strata-blockd through the real `cinder` client and raw HTTP, against real
Ceph and a real strata-imaged: volumes (empty, from an image, a snapshot or a
volume), extend, snapshots, deletes with and without cascade, tenancy,
illegal transitions, and kill -9 in the middle of operations."""
import os
import signal
import subprocess
import time
import uuid

import pytest
import rados
import rbd
import requests

from conftest import TOP
from test_imaged import H, create as create_image, token, upload

GIB = 1 << 30


@pytest.fixture(scope="module")
def vurl(strata_env):
    if "STRATA_VOLUME_URL" not in strata_env:
        pytest.fail("strata-blockd is not running (no STRATA_VOLUME_URL in strata.env)")
    return strata_env["STRATA_VOLUME_URL"].rsplit("/v3/", 1)[0]


@pytest.fixture(scope="module")
def iurl(strata_env):
    return strata_env["STRATA_IMAGE_URL"]


def unlimited(vurl, strata_env, project):
    """These tests' projects create many volumes: lift their quota (the quota
    behaviour itself is tested in test_blockd_quota.py with its own project)."""
    admin, ap = strata_env["STRATA_ADMIN_TOKEN"], strata_env["STRATA_ADMIN_PROJECT_ID"]
    r = requests.put("%s/v3/%s/os-quota-sets/%s" % (vurl, ap, project), headers=H(admin),
                     json={"quota_set": {"volumes": -1, "snapshots": -1, "gigabytes": -1}})
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def carol(home, vurl, strata_env):
    unlimited(vurl, strata_env, "p-carol")
    return token(home, "p-carol")


@pytest.fixture(scope="module")
def dave(home, vurl, strata_env):
    unlimited(vurl, strata_env, "p-dave")
    return token(home, "p-dave")


@pytest.fixture(scope="module")
def cluster(ceph_conf):
    c = rados.Rados(conffile=ceph_conf, name="client.admin")
    c.connect(timeout=15)
    yield c
    c.shutdown()


def cinder(vurl, tok, project, *args):
    p = subprocess.run(["cinder", "--os-auth-type", "admin_token", "--os-token", tok,
                        "--os-project-id", project, "--os-endpoint",
                        "%s/v3/%s" % (vurl, project), *args],
                       capture_output=True, text=True, timeout=120)
    return p


def cinder_show(vurl, tok, project, what, ident):
    p = cinder(vurl, tok, project, what, ident)
    assert p.returncode == 0, p.stderr
    # cinder prints a table: | key | value |
    out = {}
    for line in p.stdout.splitlines():
        parts = [x.strip() for x in line.split("|")]
        if len(parts) >= 4 and parts[1] and parts[1] != "Property":
            out[parts[1]] = parts[2]
    return out


def api(vurl, tok, project):
    return "%s/v3/%s" % (vurl, project)


def wait_status(vurl, tok, project, kind, ident, want, timeout=60):
    deadline = time.time() + timeout
    st = None
    while time.time() < deadline:
        r = requests.get("%s/%s/%s" % (api(vurl, tok, project), kind, ident), headers=H(tok))
        if r.status_code == 404 and want == "gone":
            return "gone"
        assert r.status_code == 200, r.text
        st = r.json()[kind[:-1]]["status"]
        if st == want:
            return st
        if st.startswith("error") and not want.startswith("error"):
            break
        time.sleep(0.2)
    raise AssertionError("%s %s is %s, wanted %s" % (kind, ident, st, want))


def vol_create(vurl, tok, project, **body):
    r = requests.post(api(vurl, tok, project) + "/volumes", headers=H(tok), json={"volume": body})
    assert r.status_code == 202, r.text
    return r.json()["volume"]


def rbd_size(cluster, name):
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, name, read_only=True) as im:
        return im.size()


def test_version_documents(vurl):
    r = requests.get(vurl + "/")
    assert r.status_code in (200, 300)
    v = r.json()["versions"][0]
    assert v["min_version"] == "3.0"
    major, minor = v["version"].split(".")
    assert major == "3" and int(minor) >= 44


def test_cinder_client_create_extend_snapshot_delete(vurl, carol, cluster):
    p = cinder(vurl, carol, "p-carol", "create", "--name", "c1", "1")
    assert p.returncode == 0, p.stderr
    vid = [l.split("|")[2].strip() for l in p.stdout.splitlines() if "| id " in l][0]
    wait_status(vurl, carol, "p-carol", "volumes", vid, "available")
    assert rbd_size(cluster, "volume-" + vid) == GIB
    shown = cinder_show(vurl, carol, "p-carol", "show", vid)
    assert shown["status"] == "available" and shown["size"] == "1" and shown["name"] == "c1"
    assert vid in cinder(vurl, carol, "p-carol", "list").stdout
    # extend
    p = cinder(vurl, carol, "p-carol", "extend", vid, "2")
    assert p.returncode == 0, p.stderr
    wait_status(vurl, carol, "p-carol", "volumes", vid, "available")
    assert rbd_size(cluster, "volume-" + vid) == 2 * GIB
    assert cinder_show(vurl, carol, "p-carol", "show", vid)["size"] == "2"
    # snapshot, then a volume from it and one from the volume
    p = cinder(vurl, carol, "p-carol", "snapshot-create", "--name", "s1", vid)
    assert p.returncode == 0, p.stderr
    sid = [l.split("|")[2].strip() for l in p.stdout.splitlines() if "| id " in l][0]
    wait_status(vurl, carol, "p-carol", "snapshots", sid, "available")
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, "volume-" + vid) as im:
        assert "snapshot-" + sid in [s["name"] for s in im.list_snaps()]
    from_snap = vol_create(vurl, carol, "p-carol", snapshot_id=sid, name="from-snap")
    from_vol = vol_create(vurl, carol, "p-carol", source_volid=vid, size=3, name="from-vol")
    wait_status(vurl, carol, "p-carol", "volumes", from_snap["id"], "available")
    wait_status(vurl, carol, "p-carol", "volumes", from_vol["id"], "available")
    assert rbd_size(cluster, "volume-" + from_vol["id"]) == 3 * GIB
    # delete without cascade refused while the snapshot exists
    r = requests.delete(api(vurl, carol, "p-carol") + "/volumes/" + vid, headers=H(carol))
    assert r.status_code == 400, r.text
    # snapshot still has a clone (from_snap): deleting it hides it, data stays
    assert cinder(vurl, carol, "p-carol", "snapshot-delete", sid).returncode == 0
    wait_status(vurl, carol, "p-carol", "snapshots", sid, "gone")
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, "volume-" + vid) as im:
        assert "snapshot-" + sid in [s["name"] for s in im.list_snaps()]
    # the clone still reads; deleting everything leaves nothing behind
    for v in (from_snap["id"], from_vol["id"], vid):
        assert cinder(vurl, carol, "p-carol", "delete", v).returncode == 0
    for v in (from_snap["id"], from_vol["id"], vid):
        wait_status(vurl, carol, "p-carol", "volumes", v, "gone")


def test_volume_from_image_is_a_clone(vurl, iurl, carol, dave, cluster):
    img = create_image(iurl, carol)
    data = os.urandom(3 << 20)
    assert upload(iurl, carol, img["id"], data).status_code == 204
    vol = vol_create(vurl, carol, "p-carol", imageRef=img["id"], size=1, name="boot")
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "available")
    shown = requests.get(api(vurl, carol, "p-carol") + "/volumes/" + vol["id"], headers=H(carol)).json()["volume"]
    assert shown["bootable"] == "true"
    assert shown["volume_image_metadata"]["image_id"] == img["id"]
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, "volume-" + vol["id"], read_only=True) as im:
        parent = im.get_parent_image_spec()
        assert parent["pool_name"] == "strata.images" and parent["image_name"] == img["id"]
        assert im.read(0, len(data)) == data
    # dave cannot make a volume from carol's private image
    r = requests.post(api(vurl, dave, "p-dave") + "/volumes", headers=H(dave),
                      json={"volume": {"size": 1, "imageRef": img["id"]}})
    assert r.status_code == 400, r.text
    requests.delete(api(vurl, carol, "p-carol") + "/volumes/" + vol["id"], headers=H(carol))
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "gone")


def test_tenancy_and_bad_requests(vurl, carol, dave):
    vol = vol_create(vurl, carol, "p-carol", size=1)
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "available")
    base = api(vurl, dave, "p-dave")
    assert requests.get(base + "/volumes/" + vol["id"], headers=H(dave)).status_code == 404
    assert requests.delete(base + "/volumes/" + vol["id"], headers=H(dave)).status_code == 404
    listed = requests.get(base + "/volumes/detail", headers=H(dave)).json()["volumes"]
    assert vol["id"] not in [v["id"] for v in listed]
    # someone else's project in the URL
    assert requests.get(api(vurl, dave, "p-carol") + "/volumes", headers=H(dave)).status_code in (401, 403, 404)
    assert requests.get(api(vurl, dave, "p-dave") + "/volumes").status_code == 401
    c = api(vurl, carol, "p-carol")
    for body in ('{"volume": {"size": "x"}}', '{"volume": {"size": -1}}', "{bad", '{"volume": {}}'):
        r = requests.post(c + "/volumes", headers=H(carol, **{"Content-Type": "application/json"}), data=body)
        assert r.status_code == 400, (body, r.text)
    r = requests.post(c + "/volumes/%s/action" % vol["id"], headers=H(carol), json={"os-extend": {"new_size": 1}})
    assert r.status_code == 400
    # illegal transition: extend while deleting -> 409 naming the status
    requests.post(c + "/volumes/%s/action" % vol["id"], headers=H(carol), json={"os-extend": {"new_size": 2}})
    r = requests.post(c + "/volumes/%s/action" % vol["id"], headers=H(carol), json={"os-extend": {"new_size": 3}})
    assert r.status_code in (202, 409), r.text
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "available")
    assert requests.delete(c + "/volumes/" + vol["id"], headers=H(carol)).status_code == 202
    r = requests.post(c + "/volumes/%s/action" % vol["id"], headers=H(carol), json={"os-extend": {"new_size": 9}})
    assert r.status_code in (404, 409), r.text
    if r.status_code == 409:
        assert "deleting" in r.text
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "gone")


def kill_blockd(home, sig):
    pid = int(open(os.path.join(home, "run", "blockd.pid")).read())
    os.kill(pid, sig)
    for _ in range(300):
        try:
            os.kill(pid, 0)
            time.sleep(0.1)
        except ProcessLookupError:
            return


def restart(home):
    p = subprocess.run([os.path.join(TOP, "tools", "strata"), "up"], env=dict(os.environ, STRATA_HOME=home),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr


def test_kill_9_mid_operations_then_records_match_rbd(vurl, carol, home, cluster, strata_env):
    c = api(vurl, carol, "p-carol")
    keep = vol_create(vurl, carol, "p-carol", size=1, name="keep")
    wait_status(vurl, carol, "p-carol", "volumes", keep["id"], "available")
    # a volume being made from a volume (snapshot + clone + flatten) when the daemon dies
    moving = vol_create(vurl, carol, "p-carol", source_volid=keep["id"], size=2)
    requests.post(c + "/volumes/%s/action" % keep["id"], headers=H(carol),
                  json={"os-extend": {"new_size": 2}})
    kill_blockd(home, signal.SIGKILL)
    restart(home)
    deadline = time.time() + 60
    while time.time() < deadline:
        sts = [requests.get(c + "/volumes/" + v, headers=H(carol)).json()["volume"]["status"]
               for v in (keep["id"], moving["id"])]
        if all(s in ("available", "error") for s in sts):
            break
        time.sleep(0.3)
    assert all(s in ("available", "error") for s in sts), sts
    # every RBD image in the volumes pool belongs to a volume record, and back
    admin = strata_env["STRATA_ADMIN_TOKEN"]
    recs = requests.get(api(vurl, admin, strata_env["STRATA_ADMIN_PROJECT_ID"]) +
                        "/volumes/detail?all_tenants=1&limit=1000", headers=H(admin)).json()["volumes"]
    with cluster.open_ioctx("strata.volumes") as io:
        names = set(n for n in rbd.RBD().list(io) if n.startswith("volume-"))
    ids = {"volume-" + v["id"] for v in recs if v["status"] not in ("error",)}
    assert ids <= names, ids - names
    assert names <= {"volume-" + v["id"] for v in recs}, names - {"volume-" + v["id"] for v in recs}
    for v in (moving["id"], keep["id"]):
        requests.delete(c + "/volumes/" + v, headers=H(carol))


def test_revert_to_latest_snapshot(vurl, carol, cluster):
    c = api(vurl, carol, "p-carol")
    vol = vol_create(vurl, carol, "p-carol", size=1)
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "available")
    name = "volume-" + vol["id"]
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, name) as im:
        im.write(b"before" * 1000, 0)
    s1 = requests.post(c + "/snapshots", headers=H(carol), json={"snapshot": {"volume_id": vol["id"]}}).json()["snapshot"]
    wait_status(vurl, carol, "p-carol", "snapshots", s1["id"], "available")
    time.sleep(0.01)
    s2 = requests.post(c + "/snapshots", headers=H(carol), json={"snapshot": {"volume_id": vol["id"]}}).json()["snapshot"]
    wait_status(vurl, carol, "p-carol", "snapshots", s2["id"], "available")
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, name) as im:
        im.write(b"after!" * 1000, 0)
    # only the latest snapshot, and only from 3.40
    mv = {"OpenStack-API-Version": "volume 3.40"}
    r = requests.post(c + "/volumes/%s/action" % vol["id"], headers=H(carol, **mv),
                      json={"revert": {"snapshot_id": s1["id"]}})
    assert r.status_code == 400, r.text
    r = requests.post(c + "/volumes/%s/action" % vol["id"], headers=H(carol),
                      json={"revert": {"snapshot_id": s2["id"]}})
    assert r.status_code == 400, r.text
    p = cinder(vurl, carol, "p-carol", "--os-volume-api-version", "3.40", "revert-to-snapshot", s2["id"])
    assert p.returncode == 0, p.stderr
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "available")
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, name, read_only=True) as im:
        assert im.read(0, 6000) == b"before" * 1000
    r = requests.delete(c + "/volumes/%s?cascade=true" % vol["id"], headers=H(carol))
    assert r.status_code == 202, r.text
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "gone")


def test_concurrent_extends_never_end_in_error(vurl, carol, cluster):
    """Review bug: two extends judged against the same old size could shrink
    and end in error_extending; now the second is judged under the volume's
    lease against the size the first left (400), or refused while it runs (409)."""
    import threading
    c = api(vurl, carol, "p-carol")
    for _ in range(3):
        vol = vol_create(vurl, carol, "p-carol", size=1)
        wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "available")
        codes = []

        def extend(n):
            r = requests.post(c + "/volumes/%s/action" % vol["id"], headers=H(carol),
                              json={"os-extend": {"new_size": n}})
            codes.append((n, r.status_code, r.text))

        ts = [threading.Thread(target=extend, args=(n,)) for n in (3, 2)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        assert all(code in (202, 400, 409) for _, code, _ in codes), codes
        assert any(code == 202 for _, code, _ in codes), codes
        wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "available")
        # whichever went last wins only if it grew the volume
        r = requests.post(c + "/volumes/%s/action" % vol["id"], headers=H(carol),
                          json={"os-extend": {"new_size": 2}})
        size = requests.get(c + "/volumes/" + vol["id"], headers=H(carol)).json()["volume"]["size"]
        if size >= 2:
            assert r.status_code == 400 and "current: %d" % size in r.text, r.text
        wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "available")
        size = requests.get(c + "/volumes/" + vol["id"], headers=H(carol)).json()["volume"]["size"]
        assert rbd_size(cluster, "volume-" + vol["id"]) == size * GIB
        assert requests.delete(c + "/volumes/" + vol["id"], headers=H(carol)).status_code == 202


def test_image_lookup_errors_and_visibility(vurl, iurl, carol, dave):
    img = create_image(iurl, carol, visibility="community")
    assert upload(iurl, carol, img["id"], os.urandom(1 << 20)).status_code == 204
    # a community image of another project: imaged lets dave see it
    vol = vol_create(vurl, dave, "p-dave", imageRef=img["id"], size=1)
    wait_status(vurl, dave, "p-dave", "volumes", vol["id"], "available")
    # unknown image: 400 with Cinder's words
    r = requests.post(api(vurl, dave, "p-dave") + "/volumes", headers=H(dave),
                      json={"volume": {"size": 1, "imageRef": str(uuid.uuid4())}})
    assert r.status_code == 400 and "Invalid image identifier" in r.text, r.text
    requests.delete(api(vurl, dave, "p-dave") + "/volumes/" + vol["id"], headers=H(dave))
    wait_status(vurl, dave, "p-dave", "volumes", vol["id"], "gone")


def test_snapshot_reset_status_is_for_admins(vurl, carol, strata_env):
    admin, ap = strata_env["STRATA_ADMIN_TOKEN"], strata_env["STRATA_ADMIN_PROJECT_ID"]
    c = api(vurl, carol, "p-carol")
    vol = vol_create(vurl, carol, "p-carol", size=1)
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "available")
    snap = requests.post(c + "/snapshots", headers=H(carol), json={"snapshot": {"volume_id": vol["id"]}}).json()["snapshot"]
    wait_status(vurl, carol, "p-carol", "snapshots", snap["id"], "available")
    r = requests.post(c + "/snapshots/%s/action" % snap["id"], headers=H(carol),
                      json={"os-reset_status": {"status": "error"}})
    assert r.status_code == 403
    p = cinder(vurl, admin, ap, "snapshot-reset-state", "--state", "error", snap["id"])
    assert p.returncode == 0, p.stderr
    assert cinder_show(vurl, carol, "p-carol", "snapshot-show", snap["id"])["status"] == "error"
    r = requests.post(api(vurl, admin, ap) + "/snapshots/%s/action" % snap["id"], headers=H(admin),
                      json={"os-reset_status": {"status": "bogus"}})
    assert r.status_code == 400
    assert requests.delete(c + "/volumes/%s?cascade=true" % vol["id"], headers=H(carol)).status_code == 202
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "gone")


def test_snapshot_and_volume_metadata(vurl, carol, dave):
    c = api(vurl, carol, "p-carol")
    vol = vol_create(vurl, carol, "p-carol", size=1)
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "available")
    snap = requests.post(c + "/snapshots", headers=H(carol),
                         json={"snapshot": {"volume_id": vol["id"], "metadata": {"a": "1"}}}).json()["snapshot"]
    sid = snap["id"]
    wait_status(vurl, carol, "p-carol", "snapshots", sid, "available")
    md = c + "/snapshots/%s/metadata" % sid

    # the real client: set, show, unset
    p = cinder(vurl, carol, "p-carol", "snapshot-metadata", sid, "set", "k=v", "k2=v2")
    assert p.returncode == 0, p.stderr
    shown = cinder_show(vurl, carol, "p-carol", "snapshot-metadata-show", sid)
    assert shown["k"] == "v" and shown["k2"] == "v2" and shown["a"] == "1"
    p = cinder(vurl, carol, "p-carol", "snapshot-metadata", sid, "unset", "k")
    assert p.returncode == 0, p.stderr
    assert requests.get(md, headers=H(carol)).json() == {"metadata": {"a": "1", "k2": "v2"}}
    assert cinder_show(vurl, carol, "p-carol", "snapshot-show", sid)["metadata"] in (
        "{'a': '1', 'k2': 'v2'}", "{'k2': 'v2', 'a': '1'}")

    # POST merges, PUT replaces, one key at a time
    r = requests.post(md, headers=H(carol), json={"metadata": {"b": "2"}})
    assert r.status_code == 200 and r.json() == {"metadata": {"a": "1", "k2": "v2", "b": "2"}}
    r = requests.put(md, headers=H(carol), json={"metadata": {"x": "y"}})
    assert r.status_code == 200 and r.json() == {"metadata": {"x": "y"}}
    assert requests.get(md, headers=H(carol)).json() == {"metadata": {"x": "y"}}
    r = requests.put(md + "/z", headers=H(carol), json={"meta": {"z": "9"}})
    assert r.status_code == 200 and r.json() == {"meta": {"z": "9"}}
    assert requests.get(md + "/z", headers=H(carol)).json() == {"meta": {"z": "9"}}
    assert requests.delete(md + "/z", headers=H(carol)).status_code == 200
    assert requests.get(md, headers=H(carol)).json() == {"metadata": {"x": "y"}}

    # Cinder's validation and 404s
    for body in ({"metadata": {"n": 1}}, {"metadata": {"": "v"}}, {"metadata": {"k" * 256: "v"}},
                 {"metadata": {"k": "v" * 256}}, {"metadata": ["k"]}, {"meta": {"k": "v"}}):
        r = requests.post(md, headers=H(carol), json=body)
        assert r.status_code == 400, (body, r.text)
    assert requests.put(md + "/z", headers=H(carol), json={"meta": {"w": "1"}}).status_code == 400
    assert requests.put(md + "/z", headers=H(carol),
                        json={"meta": {"z": "1", "w": "2"}}).status_code == 400
    r = requests.delete(md + "/nokey", headers=H(carol))
    assert r.status_code == 404 and "nokey" in r.text
    assert requests.get(md + "/nokey", headers=H(carol)).status_code == 404
    assert requests.get(c + "/snapshots/%s/metadata" % uuid.uuid4(), headers=H(carol)).status_code == 404
    d = api(vurl, dave, "p-dave") + "/snapshots/%s/metadata" % sid
    assert requests.get(d, headers=H(dave)).status_code == 404
    assert requests.post(d, headers=H(dave), json={"metadata": {"a": "b"}}).status_code == 404
    assert requests.delete(d + "/x", headers=H(dave)).status_code == 404
    assert requests.get(md, headers=H(carol)).json() == {"metadata": {"x": "y"}}

    # volumes share the code: cinder metadata set/unset
    p = cinder(vurl, carol, "p-carol", "metadata", vol["id"], "set", "vk=vv")
    assert p.returncode == 0, p.stderr
    assert requests.get(c + "/volumes/%s/metadata/vk" % vol["id"], headers=H(carol)).json() == {"meta": {"vk": "vv"}}
    p = cinder(vurl, carol, "p-carol", "metadata", vol["id"], "unset", "vk")
    assert p.returncode == 0, p.stderr
    assert requests.get(c + "/volumes/%s/metadata" % vol["id"], headers=H(carol)).json() == {"metadata": {}}

    assert requests.delete(c + "/volumes/%s?cascade=true" % vol["id"], headers=H(carol)).status_code == 202
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "gone")
