"""Run on demand, not in `tools/strata test` (see docs/testing.md):
    cd tests/e2e && STRATA_HOME=... python3 -m pytest faults_ceph_down.py
Ceph down, then back: with the embedded OSD stopped (SIGSTOP: it answers
nothing), every API of every daemon answers 503 with an OpenStack-shaped error
within [ceph] op_timeout plus a margin, /healthz says the OSDs are down, and
nothing is left half-written; with the monitor stopped instead, /healthz says
the monitors are down and mon-backed calls fail the same way.  Once Ceph
resumes, everything works again without restarting a daemon."""
import os
import signal
import time
import uuid

import pytest
import requests

from conftest import BINARIES, free_port
from test_blockd import unlimited
from test_imaged import H, token

OP_TIMEOUT = 3          # [ceph] op_timeout of the daemons started here
MARGIN = 3              # the "plus a second", and a busy CI machine
PROJECT = "p-cephdown"

BINARIES.setdefault("identity", "identity/strata-identity")
BINARIES.setdefault("scheduler", "scheduler/strata-scheduler")


def ceph_pid(strata_env, name):
    run = os.path.join(os.path.dirname(strata_env["CEPH_CONF"]), "run", name + ".pid")
    with open(run) as f:
        return int(f.read().strip())


@pytest.fixture
def daemons(service_factory, tmp_path, home, strata_env):
    short = {"ceph": {"op_timeout": "%ds" % OP_TIMEOUT}, "lease": {"ttl": "15s"}}
    d = {}
    for name in ("identity", "imaged", "blockd", "scheduler"):
        extra = dict(short)
        if name in ("imaged", "blockd"):
            extra[name] = {"reconcile_interval": "2s"}
        d[name] = service_factory(name, free_port(), extra)
    d["computed"] = service_factory("computed", free_port(), dict(short, computed={
        "host": "e2e-host-cephdown", "state_dir": str(tmp_path / "compute"),
        "hypervisor": "qemu", "vcpus": 1, "ram_mb": 1024, "disk_gb": 10}))
    unlimited(d["blockd"].url, strata_env, PROJECT)
    return d


def calls(d, admin, tok):
    """(daemon, method, url, token, body): one read and, where there is one, one
    write of each API."""
    v, i, s = d["blockd"].url, d["imaged"].url, d["scheduler"].url
    return [
        ("identity", "GET", d["identity"].url + "/v3/projects", admin, None),
        ("identity", "POST", d["identity"].url + "/v3/projects", admin,
         {"project": {"name": "cephdown-" + uuid.uuid4().hex[:8]}}),
        ("imaged", "GET", i + "/v2/images", tok, None),
        ("imaged", "POST", i + "/v2/images", tok,
         {"name": "cephdown", "disk_format": "raw", "container_format": "bare"}),
        ("blockd", "GET", "%s/v3/%s/volumes/detail" % (v, PROJECT), tok, None),
        ("blockd", "POST", "%s/v3/%s/volumes" % (v, PROJECT), tok, {"volume": {"size": 1}}),
        ("scheduler", "GET", s + "/v2.1/servers/detail", tok, None),
        ("scheduler", "GET", s + "/v2.1/flavors", tok, None),
        ("computed", "GET", d["computed"].url + "/v1/servers", admin, None),
    ]


def request(method, url, tok, body):
    t = time.time()
    r = requests.request(method, url, headers=H(tok), json=body, timeout=OP_TIMEOUT + 30)
    return r, time.time() - t


def openstack_error(r):
    """{"<kind>": {"code": 503, "message": "..."}} (Nova/Cinder/Keystone shape)."""
    doc = r.json()
    assert isinstance(doc, dict) and len(doc) == 1, r.text
    err = list(doc.values())[0]
    assert err.get("code") == 503 and err.get("message"), r.text
    return err["message"]


def wait_health(d, status, timeout):
    deadline, last = time.time() + timeout, {}
    while time.time() < deadline:
        last = {n: requests.get(x.url + "/healthz", timeout=OP_TIMEOUT + MARGIN)
                for n, x in d.items()}
        if all(r.status_code == status for r in last.values()):
            return {n: r.json() for n, r in last.items()}
        time.sleep(0.5)
    pytest.fail("healthz did not all become %d: %s" % (status, {n: r.text for n, r in last.items()}))


def works_again(d, admin, tok):
    """Every call succeeds without a restart; the volume made now is available."""
    wait_health(d, 200, 60)
    vid = None
    for name, method, url, t, body in calls(d, admin, tok):
        deadline = time.time() + 60
        while True:
            r, _ = request(method, url, t, body)
            if r.status_code < 300 or time.time() > deadline:
                break
            time.sleep(1)   # a client's backoff: OSD sessions are re-established
        assert r.status_code < 300, (name, method, url, r.status_code, r.text)
        if name == "blockd" and method == "POST":
            vid = r.json()["volume"]["id"]
    v = d["blockd"].url
    deadline = time.time() + 60
    while time.time() < deadline:
        st = requests.get("%s/v3/%s/volumes/%s" % (v, PROJECT, vid), headers=H(tok)).json()
        if st["volume"]["status"] == "available":
            break
        time.sleep(0.5)
    assert st["volume"]["status"] == "available", st
    assert requests.delete("%s/v3/%s/volumes/%s" % (v, PROJECT, vid),
                           headers=H(tok)).status_code == 202


def volumes(d, tok):
    r = requests.get("%s/v3/%s/volumes/detail" % (d["blockd"].url, PROJECT), headers=H(tok))
    assert r.status_code == 200, r.text
    return {x["id"]: x["status"] for x in r.json()["volumes"]}


def settle_and_clean(d, admin, tok):
    """A write the OSD applied after its client had been answered 503 (a
    timeout cannot tell) is a record like any other: it settles (reconcile),
    nothing stays half-made, and it is removed here."""
    deadline = time.time() + 90
    while time.time() < deadline:
        vols = volumes(d, tok)
        if all(st in ("available", "error") for st in vols.values()):
            break
        time.sleep(1)
    assert all(st in ("available", "error") for st in vols.values()), vols
    for vid in vols:
        assert requests.delete("%s/v3/%s/volumes/%s" % (d["blockd"].url, PROJECT, vid),
                               headers=H(tok)).status_code == 202
    deadline = time.time() + 60
    while volumes(d, tok) and time.time() < deadline:
        time.sleep(0.5)
    assert not volumes(d, tok)
    r = requests.get(d["imaged"].url + "/v2/images?name=cephdown", headers=H(tok))
    for img in r.json()["images"]:
        assert requests.delete(d["imaged"].url + "/v2/images/" + img["id"],
                               headers=H(tok)).status_code == 204
    r = requests.get(d["identity"].url + "/v3/projects", headers=H(admin))
    for p in r.json()["projects"]:
        if p["name"].startswith("cephdown-"):
            assert requests.delete(d["identity"].url + "/v3/projects/" + p["id"],
                                   headers=H(admin)).status_code == 204


def test_osd_stopped_then_back(daemons, home, strata_env):
    d, admin, tok = daemons, strata_env["STRATA_ADMIN_TOKEN"], token(home, PROJECT)
    pid = ceph_pid(strata_env, "osd.0")
    os.kill(pid, signal.SIGSTOP)
    try:
        for name, method, url, t, body in calls(d, admin, tok):
            r, took = request(method, url, t, body)
            assert r.status_code == 503, (name, method, url, r.status_code, r.text)
            openstack_error(r)
            assert took < OP_TIMEOUT + MARGIN, (name, method, url, took)
        health = wait_health(d, 503, 2 * OP_TIMEOUT + 10)
        for name, h in health.items():
            assert "OSDs unreachable" in h["reason"], (name, h)
    finally:
        os.kill(pid, signal.SIGCONT)
    works_again(d, admin, tok)
    settle_and_clean(d, admin, tok)


def test_mon_stopped_then_back(daemons, home, strata_env):
    d, admin, tok = daemons, strata_env["STRATA_ADMIN_TOKEN"], token(home, PROJECT)
    pid = ceph_pid(strata_env, "mon.a")
    os.kill(pid, signal.SIGSTOP)
    try:
        health = wait_health(d, 503, 2 * OP_TIMEOUT + 10)
        for name, h in health.items():
            assert "monitors unreachable" in h["reason"], (name, h)
        # calls that need the monitors (capacity from `ceph df`) fail in time
        r, took = request("GET", "%s/v3/%s/scheduler-stats/get_pools?detail=true"
                          % (d["blockd"].url, strata_env["STRATA_ADMIN_PROJECT_ID"]), admin, None)
        assert r.status_code == 503, r.text
        openstack_error(r)
        assert took < OP_TIMEOUT + MARGIN, took
        # and the rest still answer within the deadline (records live on the OSDs)
        for name, method, url, t, body in calls(d, admin, tok):
            if method == "GET":
                r, took = request(method, url, t, body)
                assert r.status_code in (200, 503), (name, url, r.status_code, r.text)
                assert took < OP_TIMEOUT + MARGIN, (name, url, took)
    finally:
        os.kill(pid, signal.SIGCONT)
    works_again(d, admin, tok)
    settle_and_clean(d, admin, tok)
