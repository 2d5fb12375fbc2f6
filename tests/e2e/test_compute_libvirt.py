"""strata-computed with libvirtd frozen (SIGSTOP) during a spawn: libvirt calls
are bounded by [computed] libvirt_timeout (keepalive on libvirt's event loop),
the build waits with a fault naming libvirt instead of failing for good, the
agent's API and /healthz keep answering, and once libvirtd resumes (SIGCONT)
the reconcile loop builds the guest."""
import os
import signal
import time
import uuid

import pytest
import requests

from conftest import BUILD, Daemon, free_port, write_config
from test_compute import admin, image_id, spawn_body, wait_gone, wait_server  # noqa: F401
from test_imaged import H

TIMEOUT_S = 4   # [computed] libvirt_timeout of this agent


def libvirtd_pid():
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/comm" % pid) as f:
                    if f.read().strip() == "libvirtd":
                        return int(pid)
            except OSError:
                pass
    pytest.fail("no libvirtd process")


@pytest.fixture
def agent3(home, tmp_path):
    port = free_port()
    conf = write_config(str(tmp_path / "strata.conf"), os.path.join(home, "etc", "strata.conf"),
                        {"computed": {"port": port, "host": "e2e-host-3",
                                      "state_dir": str(tmp_path / "compute3"),
                                      "hypervisor": "qemu", "vcpus": 2, "ram_mb": 2048,
                                      "disk_gb": 20, "reconcile_interval": "2s",
                                      "heartbeat_interval": "1s", "shutdown_timeout": "3s",
                                      "libvirt_timeout": "%ds" % TIMEOUT_S}})
    d = Daemon(os.path.join(BUILD, "compute", "strata-computed"), conf,
               str(tmp_path / "computed3.log"))
    d.url = "http://127.0.0.1:%d" % port
    d.start(d.url)
    yield d
    d.stop()


def timed(method, url, admin, **kw):
    """A request that must be answered within libvirt_timeout plus a margin."""
    t = time.time()
    r = requests.request(method, url, headers=H(admin), timeout=TIMEOUT_S + 5, **kw)
    return r, time.time() - t


def test_libvirtd_stopped_during_spawn(agent3, admin, image_id):
    a, sid, pid = agent3.url, str(uuid.uuid4()), libvirtd_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        r, _ = timed("POST", a + "/v1/servers", admin, json=spawn_body(sid, image_id, name="lv"))
        assert r.status_code == 202, r.text
        # the build cannot reach libvirtd: within the deadline it says so and
        # waits (building), while every request is still answered in time
        deadline, s, slowest = time.time() + 4 * TIMEOUT_S + 20, None, 0.0
        while time.time() < deadline:
            r, took = timed("GET", "%s/v1/servers/%s" % (a, sid), admin)
            assert r.status_code == 200, r.text
            slowest = max(slowest, took)
            s = r.json()["server"]
            h, took = timed("GET", a + "/healthz", admin)
            assert h.status_code == 200, h.text
            slowest = max(slowest, took)
            if s.get("fault") and "libvirt" in s["fault"]["message"]:
                break
            time.sleep(0.5)
        assert s.get("fault") and "libvirt" in s["fault"]["message"], s
        assert s["status"] == "building", s
        assert "unreachable" in s["fault"]["message"], s
        assert slowest < TIMEOUT_S + 3, slowest
        r, _ = timed("GET", a + "/v1/servers", admin)
        assert r.status_code == 200 and sid in [x["id"] for x in r.json()["servers"]]
    finally:
        os.kill(pid, signal.SIGCONT)
    # libvirtd is back: the agent reconnects and the reconcile loop builds it
    s = wait_server(a, admin, sid, "active", "running", timeout=120)
    assert s.get("fault") is None, s
    log = agent3.output()
    assert "libvirt connection to qemu:///system lost" in log or "unreachable" in log
    assert "building again" in log
    r = requests.delete("%s/v1/servers/%s" % (a, sid), headers=H(admin))
    assert r.status_code == 202, r.text
    wait_gone(a, admin, sid)
