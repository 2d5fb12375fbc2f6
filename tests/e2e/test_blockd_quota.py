"""strata-blockd's quotas through raw HTTP and the real `cinder` client:
os-quota-sets (show, defaults, update/reset by admins, ?usage=True), limits,
and over-quota refusals (413 with Cinder's messages) for creates, extends and
snapshots; deleting frees quota.  Uses its own project, so others are unaffected."""
import uuid

import pytest
import requests

from test_blockd import api, cinder, cinder_show, vol_create, wait_status, vurl  # noqa: F401
from test_imaged import H, token

P = "p-quota-" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def mem(home):
    return token(home, P)


@pytest.fixture(scope="module")
def adm(home):
    return token(home, "p-quota-admin-" + uuid.uuid4().hex[:8], roles="admin")


def qurl(vurl, target, suffix=""):
    return "%s/os-quota-sets/%s%s" % (api(vurl, None, P), target, suffix)


def over(r):
    assert r.status_code == 413, r.text
    return r.json()["overLimit"]["message"]


def usage(vurl, tok):
    r = requests.get(qurl(vurl, P) + "?usage=True", headers=H(tok))
    assert r.status_code == 200, r.text
    return {k: v["in_use"] for k, v in r.json()["quota_set"].items() if k != "id"}


def delete_and_wait(vurl, tok, vid):
    r = requests.delete("%s/volumes/%s" % (api(vurl, tok, P), vid), headers=H(tok))
    assert r.status_code == 202, r.text
    wait_status(vurl, tok, P, "volumes", vid, "gone")


def test_defaults_and_tenancy(vurl, mem, adm):
    r = requests.get(qurl(vurl, P, "/defaults"), headers=H(mem))
    assert r.status_code == 200, r.text
    assert r.json()["quota_set"] == {"id": P, "volumes": 10, "snapshots": 10, "gigabytes": 1000}
    r = requests.get(qurl(vurl, P), headers=H(mem))
    assert r.status_code == 200 and r.json()["quota_set"]["volumes"] == 10
    # another project's quota, and updates, are admins' business
    assert requests.get(qurl(vurl, "p-quota-other"), headers=H(mem)).status_code == 403
    r = requests.put(qurl(vurl, P), headers=H(mem), json={"quota_set": {"volumes": 100}})
    assert r.status_code == 403
    assert requests.delete(qurl(vurl, P), headers=H(mem)).status_code == 403
    for bad in ({"volumes": "x"}, {"volumes": -2}, {"volumes": 1.5}, {"bogus": 1}, {}):
        body = {"quota_set": bad} if bad else {"volumes": 1}
        r = requests.put(qurl(vurl, P), headers=H(adm), json=body)
        assert r.status_code == 400, (bad, r.text)


def test_over_quota_refusals_and_release(vurl, mem, adm):
    p = cinder(vurl, adm, P, "quota-update", "--volumes", "2", "--gigabytes", "10", P)
    assert p.returncode == 0, p.stderr
    shown = cinder_show(vurl, adm, P, "quota-show", P)
    assert shown["volumes"] == "2" and shown["gigabytes"] == "10", shown

    v1 = vol_create(vurl, mem, P, size=1, name="q1")
    v2 = vol_create(vurl, mem, P, size=1, name="q2")
    r = requests.post(api(vurl, mem, P) + "/volumes", headers=H(mem),
                      json={"volume": {"size": 1, "name": "q3"}})
    assert over(r) == ("VolumeLimitExceeded: Maximum number of volumes allowed (2) "
                       "exceeded for quota 'volumes'.")

    r = requests.put(qurl(vurl, P), headers=H(adm), json={"quota_set": {"volumes": 5}})
    assert r.status_code == 200 and r.json()["quota_set"]["volumes"] == 5, r.text
    r = requests.post(api(vurl, mem, P) + "/volumes", headers=H(mem),
                      json={"volume": {"size": 9, "name": "big"}})
    assert over(r) == ("VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds "
                       "allowed gigabytes quota. Requested 9G, quota is 10G and 2G has been "
                       "consumed.")

    wait_status(vurl, mem, P, "volumes", v1["id"], "available")
    r = requests.post("%s/volumes/%s/action" % (api(vurl, mem, P), v1["id"]), headers=H(mem),
                      json={"os-extend": {"new_size": 10}})
    assert over(r).startswith("VolumeSizeExceedsAvailableQuota: Requested volume or snapshot "
                              "exceeds allowed gigabytes quota. Requested 9G")
    r = requests.put(qurl(vurl, P), headers=H(adm), json={"quota_set": {"snapshots": 0}})
    assert r.status_code == 200, r.text
    r = requests.post(api(vurl, mem, P) + "/snapshots", headers=H(mem),
                      json={"snapshot": {"volume_id": v1["id"], "name": "s"}})
    assert over(r) == "SnapshotLimitExceeded: Maximum number of snapshots allowed (0) exceeded"

    assert usage(vurl, mem) == {"volumes": 2, "snapshots": 0, "gigabytes": 2}
    r = requests.get(api(vurl, mem, P) + "/limits", headers=H(mem))
    assert r.status_code == 200, r.text
    ab = r.json()["limits"]["absolute"]
    assert (ab["maxTotalVolumes"], ab["totalVolumesUsed"], ab["totalGigabytesUsed"],
            ab["maxTotalVolumeGigabytes"], ab["maxTotalSnapshots"]) == (5, 2, 2, 10, 0)
    assert r.json()["limits"]["rate"] == []
    p = cinder(vurl, mem, P, "absolute-limits")
    assert p.returncode == 0, p.stderr
    rows = {x[1]: x[2] for x in ([c.strip() for c in line.split("|")]
                                 for line in p.stdout.splitlines()) if len(x) >= 4}
    assert rows.get("totalVolumesUsed") == "2" and rows.get("maxTotalVolumes") == "5", p.stdout

    # deleting frees quota: the 9G volume now fits (1 + 9 = 10)
    delete_and_wait(vurl, mem, v2["id"])
    assert usage(vurl, mem) == {"volumes": 1, "snapshots": 0, "gigabytes": 1}
    v3 = vol_create(vurl, mem, P, size=9, name="big")
    assert usage(vurl, mem) == {"volumes": 2, "snapshots": 0, "gigabytes": 10}
    wait_status(vurl, mem, P, "volumes", v3["id"], "available")
    for v in (v1, v3):
        delete_and_wait(vurl, mem, v["id"])
    assert usage(vurl, mem) == {"volumes": 0, "snapshots": 0, "gigabytes": 0}

    # an extend within quota is charged, and reset goes back to the defaults
    r = requests.delete(qurl(vurl, P), headers=H(adm))
    assert r.status_code == 200, r.text
    v4 = vol_create(vurl, mem, P, size=1, name="grow")
    wait_status(vurl, mem, P, "volumes", v4["id"], "available")
    r = requests.post("%s/volumes/%s/action" % (api(vurl, mem, P), v4["id"]), headers=H(mem),
                      json={"os-extend": {"new_size": 3}})
    assert r.status_code == 202, r.text
    wait_status(vurl, mem, P, "volumes", v4["id"], "available")
    shown = cinder_show(vurl, mem, P, "quota-show", P)
    assert shown["volumes"] == "10" and shown["gigabytes"] == "1000", shown
    assert usage(vurl, mem) == {"volumes": 1, "snapshots": 0, "gigabytes": 3}
    delete_and_wait(vurl, mem, v4["id"])
    assert usage(vurl, mem) == {"volumes": 0, "snapshots": 0, "gigabytes": 0}
