"""The embedded platform as `tools/strata up` leaves it: a healthy single-node
Ceph cluster with Strata's pools, one least-privilege cephx user per daemon,
libvirtd answering, strata.env to source, and the CLI's status/logs/up."""
import base64
import json
import os
import subprocess
import time
import uuid

import pytest
import rados

from conftest import TOP

POOLS = ["strata.meta", "strata.images", "strata.volumes", "strata.vms", "strata.backups"]


def strata(home, *args, timeout=300):
    env = dict(os.environ, STRATA_HOME=home)
    return subprocess.run([os.path.join(TOP, "tools", "strata"), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def connect(conf, user):
    c = rados.Rados(conffile=conf, name="client." + user)
    c.conf_set("client_mount_timeout", "15")
    c.conf_set("rados_osd_op_timeout", "15")
    c.connect(timeout=15)
    return c


def test_cluster_healthy_with_pools(ceph_conf):
    c = connect(ceph_conf, "admin")
    try:
        ret, out, err = c.mon_command('{"prefix": "health", "format": "json"}', b"")
        assert ret == 0
        import json
        assert json.loads(out)["status"] == "HEALTH_OK", out
        for p in POOLS:
            assert c.pool_exists(p), p
    finally:
        c.shutdown()


def test_strata_env_is_complete(strata_env, ceph_conf):
    for k in ("CEPH_CONF", "STRATA_ADMIN_TOKEN", "STRATA_ADMIN_PROJECT_ID", "STRATA_HOME"):
        assert strata_env.get(k), k
    assert os.path.exists(ceph_conf)
    mode = os.stat(os.path.join(strata_env["STRATA_HOME"], "strata.env")).st_mode & 0o777
    assert mode == 0o600, oct(mode)   # it holds the admin token


# user -> (pools it may write, pools it may only read, pools it may not touch)
LEAST_PRIVILEGE = {
    "strata-imaged": (["strata.images", "strata.volumes", "strata.vms", "strata.meta"], [], ["strata.backups"]),
    "strata-blockd": (["strata.volumes", "strata.backups", "strata.meta"], ["strata.images"], ["strata.vms"]),
    "strata-computed": (["strata.vms", "strata.volumes", "strata.meta"], ["strata.images"], ["strata.backups"]),
    "strata-scheduler": (["strata.meta"], [], ["strata.images", "strata.volumes", "strata.vms", "strata.backups"]),
    "strata-identity": (["strata.meta"], [], ["strata.images", "strata.volumes", "strata.vms", "strata.backups"]),
}


@pytest.mark.parametrize("user", sorted(LEAST_PRIVILEGE))
def test_cephx_user_has_least_privilege(ceph_conf, user):
    writable, readonly, forbidden = LEAST_PRIVILEGE[user]
    c = connect(ceph_conf, user)
    obj = "strata-e2e-" + uuid.uuid4().hex
    try:
        for p in writable:
            with c.open_ioctx(p) as io:
                io.write_full(obj, b"x")
                assert io.read(obj) == b"x"
                io.remove_object(obj)
        for p in readonly + forbidden:
            with c.open_ioctx(p) as io:
                with pytest.raises(rados.PermissionError):
                    io.write_full(obj, b"x")
        for p in forbidden:
            with c.open_ioctx(p) as io:
                with pytest.raises((rados.PermissionError, rados.ObjectNotFound)) as e:
                    io.read(obj)
                assert isinstance(e.value, rados.PermissionError), "%s can read %s" % (user, p)
        # no user but admin can change the cluster
        ret, _, _ = c.mon_command('{"prefix": "osd pool create", "pool": "x-%s"}' % obj, b"")
        assert ret != 0
    finally:
        c.shutdown()


def test_libvirt_answers_and_can_run_qemu():
    out = subprocess.run(["virsh", "-c", "qemu:///system", "capabilities"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "<domain type='qemu'" in out.stdout


def test_status_reports_health_and_pools(home):
    p = strata(home, "status")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "HEALTH_OK" in p.stdout
    for name in ("ceph-mon.a", "ceph-osd.0", "ceph-mgr.x", "libvirtd"):
        assert name + " " in p.stdout or name + "\t" in p.stdout or name in p.stdout
    for pool in POOLS:
        assert pool in p.stdout


def test_second_up_changes_nothing(home):
    p = strata(home, "up")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "nothing changed" in p.stdout, p.stdout
    assert "started" not in p.stdout


def test_logs_shows_component_log(home):
    p = strata(home, "logs", "mon")
    assert p.returncode == 0 and p.stdout.strip(), p.stderr
    p = strata(home, "logs", "nosuchthing")
    assert p.returncode != 0 and "nosuchthing" in p.stderr


def test_up_names_a_taken_port(tmp_path):
    # A second home whose mon port is the running cluster's: `up` must name it.
    other = tmp_path / "other"
    other.mkdir()
    home = os.environ["STRATA_HOME"]
    with open(os.path.join(home, "ports.env")) as f:
        ports = f.read()
    (other / "ports.env").write_text(ports)
    mon_port = [l.split("=")[1] for l in ports.splitlines() if l.startswith("PORT_MON=")][0]
    p = strata(str(other), "up")
    assert p.returncode != 0
    assert mon_port in p.stderr and "ceph-mon" in p.stderr, p.stderr
    strata(str(other), "destroy")


def token_payload(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.mark.parametrize("ttl", ["-100", "abc", "0", "10x", "", "99999999999999999999", "2592001"])
def test_token_refuses_a_bad_ttl(home, ttl):
    p = strata(home, "token", "--project", "p-ttl", "--ttl", ttl, timeout=60)
    assert p.returncode != 0 and not p.stdout.strip(), (p.returncode, p.stdout)
    assert "--ttl" in p.stderr and "seconds" in p.stderr, p.stderr


def test_token_honours_a_good_ttl(home):
    before = time.time()
    p = strata(home, "token", "--project", "p-ttl", "--ttl", "120", timeout=60)
    assert p.returncode == 0, p.stderr
    exp = token_payload(p.stdout.strip())["e"]
    assert before + 119 <= exp <= time.time() + 121, (before, exp)


def test_every_keyring_is_private(home):
    keyrings = []
    for root, _, files in os.walk(home):
        keyrings += [os.path.join(root, f) for f in files if "keyring" in f]
    assert len(keyrings) >= 8, keyrings   # mon., admin, osd.0, mgr.x and one per daemon
    loose = ["%s %o" % (k, os.stat(k).st_mode & 0o777) for k in keyrings
             if os.stat(k).st_mode & 0o077]
    assert not loose, loose
