"""Two strata-blockd instances on one cluster (the system's and one of the
test's own) given conflicting requests at the same moment: the same volume
extended by both, one volume reserved and attached from two servers, a source
deleted while a clone of it is made, and two volume types created with one
name.  No update is lost, every loser gets a 4xx (never a 500), and the
volumes pool's RBD images match the records at the end."""
import threading
import time
import uuid

import requests

from conftest import free_port
from test_blockd import api, carol, cluster, rbd_size, vol_create, vurl, wait_status  # noqa: F401
from test_blockd_crash import rbd_volumes, volume_records
from test_imaged import H

GIB = 1 << 30
ROUNDS = 3
MV = {"OpenStack-API-Version": "volume 3.44"}


def at_once(*calls):
    """Run each (method, url, token, body, headers) at the same moment; their
    responses, in order."""
    gate, out = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i, method, url, tok, body, extra):
        gate.wait()
        out[i] = requests.request(method, url, headers=H(tok, **(extra or {})), json=body,
                                  timeout=60)

    ts = [threading.Thread(target=run, args=(i,) + tuple(c)) for i, c in enumerate(calls)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    return out


def settle(base, tok, vid, timeout=90):
    """The volume's status once it is no longer moving."""
    deadline, st = time.time() + timeout, None
    while time.time() < deadline:
        st = requests.get(base + "/volumes/" + vid, headers=H(tok)).json()["volume"]["status"]
        if st in ("available", "error", "in-use"):
            return st
        time.sleep(0.2)
    raise AssertionError("volume %s still %s" % (vid, st))


def no_server_error(rs):
    for r in rs:
        assert r.status_code < 500, (r.status_code, r.text)


def test_two_blockds_conflicting_requests(blockd_factory, vurl, carol, cluster, strata_env):
    b = blockd_factory(free_port())
    A, B = api(vurl, carol, "p-carol"), api(b.url, carol, "p-carol")
    made = []

    # the same volume extended by both instances
    for _ in range(ROUNDS):
        v = vol_create(vurl, carol, "p-carol", size=1)
        made.append(v["id"])
        wait_status(vurl, carol, "p-carol", "volumes", v["id"], "available")
        rs = at_once(("POST", A + "/volumes/%s/action" % v["id"], carol,
                      {"os-extend": {"new_size": 3}}, None),
                     ("POST", B + "/volumes/%s/action" % v["id"], carol,
                      {"os-extend": {"new_size": 2}}, None))
        no_server_error(rs)
        assert any(r.status_code == 202 for r in rs), [r.text for r in rs]
        assert all(r.status_code in (202, 400, 409) for r in rs), [r.text for r in rs]
        wait_status(vurl, carol, "p-carol", "volumes", v["id"], "available")
        size = requests.get(A + "/volumes/" + v["id"], headers=H(carol)).json()["volume"]["size"]
        won = [n for n, r in zip((3, 2), rs) if r.status_code == 202]
        assert size == max(won), (size, won)           # no extend was lost or undone
        assert rbd_size(cluster, "volume-" + v["id"]) == size * GIB

    # one volume, two servers: exactly one reservation, one attachment
    for _ in range(ROUNDS):
        v = vol_create(vurl, carol, "p-carol", size=1)
        made.append(v["id"])
        wait_status(vurl, carol, "p-carol", "volumes", v["id"], "available")
        rs = at_once(("POST", A + "/volumes/%s/action" % v["id"], carol, {"os-reserve": {}}, None),
                     ("POST", B + "/volumes/%s/action" % v["id"], carol, {"os-reserve": {}}, None))
        no_server_error(rs)
        assert sorted(r.status_code for r in rs) == [202, 409], [r.text for r in rs]
        assert requests.post(A + "/volumes/%s/action" % v["id"], headers=H(carol),
                             json={"os-unreserve": {}}).status_code == 202
        wait_status(vurl, carol, "p-carol", "volumes", v["id"], "available")
        rs = at_once(*[("POST", base + "/attachments", carol,
                        {"attachment": {"volume_uuid": v["id"], "instance_uuid": str(uuid.uuid4())}},
                        MV) for base in (A, B)])
        no_server_error(rs)
        ok = [r for r in rs if r.status_code == 200]
        assert len(ok) == 1, [(r.status_code, r.text) for r in rs]
        vol = requests.get(A + "/volumes/" + v["id"], headers=H(carol, **MV)).json()["volume"]
        assert vol["status"] == "reserved", vol
        att = ok[0].json()["attachment"]["id"]
        assert requests.delete(A + "/attachments/" + att, headers=H(carol, **MV)).status_code == 200
        wait_status(vurl, carol, "p-carol", "volumes", v["id"], "available")

    # a source deleted on one instance while the other clones it
    for _ in range(ROUNDS):
        src = vol_create(vurl, carol, "p-carol", size=1)
        made.append(src["id"])
        wait_status(vurl, carol, "p-carol", "volumes", src["id"], "available")
        rs = at_once(("POST", B + "/volumes", carol, {"volume": {"size": 1,
                                                                "source_volid": src["id"]}}, None),
                     ("DELETE", A + "/volumes/" + src["id"], carol, None, None))
        no_server_error(rs)
        clone, delete = rs
        assert clone.status_code in (202, 400, 404), clone.text
        assert delete.status_code in (202, 400, 409), delete.text
        if clone.status_code == 202:
            cid = clone.json()["volume"]["id"]
            made.append(cid)
            # the clone ends usable or in error, never stuck half-made
            assert settle(A, carol, cid) in ("available", "error")
        if delete.status_code == 202:
            # deleted, or found busy (a copy of it under way) and available again
            deadline, st = time.time() + 90, None
            while time.time() < deadline:
                r = requests.get(A + "/volumes/" + src["id"], headers=H(carol))
                st = "gone" if r.status_code == 404 else r.json()["volume"]["status"]
                if st in ("gone", "available"):
                    break
                time.sleep(0.2)
            assert st in ("gone", "available"), st

    # two types created with one name, one on each instance
    admin, ap = strata_env["STRATA_ADMIN_TOKEN"], strata_env["STRATA_ADMIN_PROJECT_ID"]
    for _ in range(ROUNDS):
        name = "race-" + uuid.uuid4().hex[:8]
        rs = at_once(*[("POST", "%s/v3/%s/types" % (base, ap), admin,
                        {"volume_type": {"name": name}}, None) for base in (vurl, b.url)])
        no_server_error(rs)
        assert sorted(r.status_code for r in rs) == [200, 409], [r.text for r in rs]
        types = requests.get("%s/v3/%s/types" % (vurl, ap), headers=H(admin)).json()["volume_types"]
        mine = [t for t in types if t["name"] == name]
        assert len(mine) == 1, mine
        assert requests.delete("%s/v3/%s/types/%s" % (vurl, ap, mine[0]["id"]),
                               headers=H(admin)).status_code == 202

    # clean up, then: nothing leaked, nothing lost
    for vid in made:
        requests.delete(A + "/volumes/" + vid, headers=H(carol))
    for vid in made:
        wait_status(vurl, carol, "p-carol", "volumes", vid, "gone", timeout=90)
    recs = volume_records(cluster)
    images = rbd_volumes(cluster)
    for vid in made:
        assert vid not in recs and "volume-" + vid not in images, vid
