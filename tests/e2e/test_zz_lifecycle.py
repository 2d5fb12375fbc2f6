"""Runs last: `tools/strata down` leaves no process of this home running and
keeps the data; `up` from cold brings everything back, data intact."""
import os
import subprocess
import uuid

import rados

from test_platform import connect, strata


def processes_of(home):
    out = subprocess.run(["pgrep", "-af", home], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if "pgrep" not in l and "pytest" not in l]


def test_down_then_cold_up_keeps_data(home, ceph_conf):
    obj = "strata-e2e-" + uuid.uuid4().hex
    c = connect(ceph_conf, "admin")
    with c.open_ioctx("strata.meta") as io:
        io.write_full(obj, b"survives")
    c.shutdown()

    p = strata(home, "down")
    assert p.returncode == 0, p.stderr
    assert processes_of(home) == []
    for f in os.listdir(os.path.join(home, "ceph", "run")):
        assert not f.endswith(".pid"), f

    p = strata(home, "up")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "nothing changed" not in p.stdout
    c = connect(ceph_conf, "admin")
    try:
        with c.open_ioctx("strata.meta") as io:
            assert io.read(obj) == b"survives"
            io.remove_object(obj)
    finally:
        c.shutdown()
    assert "HEALTH_OK" in strata(home, "status").stdout
