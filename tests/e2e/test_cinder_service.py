"""A real Cinder (Debian's cinder-api, cinder-scheduler and cinder-volume, SQLite,
RabbitMQ on loopback, noauth API) with strata_cinder as its only backend: the
stock `cinder` client's create, snapshot-create, create --snapshot-id, extend and
delete go through cinder-api, the scheduler (fed by the driver's capacity) and
cinder-volume into blockd, and land there and in RBD."""
import os
import re
import signal
import subprocess
import time
import uuid

import pytest
import requests

from conftest import free_port
from test_blockd import cluster, vurl  # noqa: F401
from test_cinder_driver import PKG, account, rbd_images, shown  # noqa: F401
from test_identity import idurl  # noqa: F401

PROJECT = uuid.uuid4().hex   # Cinder routes only hex project ids
MV = "3.59"


def wait_for(cond, what, timeout, logs=()):
    deadline = time.time() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.time() > deadline:
            tails = "".join("\n--- %s ---\n%s" % (p, tail(p)) for p in logs)
            pytest.fail("timed out waiting for %s%s" % (what, tails), pytrace=False)
        time.sleep(0.5)


def tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


class Proc:
    """A service started in its own session, stopped with its children."""

    def __init__(self, argv, log, env=None):
        self.log = log
        with open(log, "ab") as out:
            self.p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                      start_new_session=True)

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.alive():
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()


def port_open(port):
    import socket
    s = socket.socket()
    try:
        return s.connect_ex(("127.0.0.1", port)) == 0
    finally:
        s.close()


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory):
    """RabbitMQ on loopback with its own node name, ports, data and epmd."""
    d = tmp_path_factory.mktemp("rabbit")
    (d / "enabled_plugins").write_text("[].\n")
    port, dist, epmd = free_port(), free_port(), free_port()
    env = dict(os.environ, HOME=str(d), RABBITMQ_NODENAME="strata-%d@localhost" % port,
               RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", RABBITMQ_NODE_PORT=str(port),
               RABBITMQ_DIST_PORT=str(dist), RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
               RABBITMQ_LOG_BASE=str(d / "log"), RABBITMQ_CONFIG_FILE=str(d / "rabbitmq"),
               RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
               ERL_EPMD_ADDRESS="127.0.0.1", ERL_EPMD_PORT=str(epmd))
    log = str(d / "server.log")
    proc = Proc(["/usr/lib/rabbitmq/bin/rabbitmq-server"], log, env)
    wait_for(lambda: port_open(port), "RabbitMQ on port %d" % port, 90, [log])
    yield "rabbit://guest:guest@127.0.0.1:%d/" % port
    proc.stop()
    subprocess.run(["epmd", "-port", str(epmd), "-kill"], capture_output=True, env=env)


@pytest.fixture(scope="module")
def cinder_api(rabbit, account, idurl, strata_env, tmp_path_factory):  # noqa: F811
    """cinder-scheduler, cinder-volume (backend strata) and cinder-api, on one
    config file and a fresh SQLite database; yields the API's base URL."""
    d = tmp_path_factory.mktemp("cinder-svc")
    for sub in ("state", "lock", "conv", "log"):
        (d / sub).mkdir()
    api_port = free_port()
    ceph = os.path.dirname(strata_env["CEPH_CONF"])
    conf = d / "cinder.conf"
    conf.write_text("""[DEFAULT]
auth_strategy = noauth
transport_url = {rabbit}
enabled_backends = strata
host = cinder-e2e
my_ip = 127.0.0.1
state_path = {d}/state
image_conversion_dir = {d}/conv
api_paste_config = /etc/cinder/api-paste.ini
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = {api_port}
osapi_volume_workers = 1
glance_api_servers = {image_url}
report_interval = 2
periodic_interval = 5
service_down_time = 30
[database]
connection = sqlite:///{d}/cinder.sqlite
[oslo_concurrency]
lock_path = {d}/lock
[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 0
[strata]
volume_driver = strata_cinder.driver.StrataDriver
volume_backend_name = strata
strata_url = {blockd}
strata_auth_url = {idurl}
strata_auth_username = {user}
strata_auth_password = {password}
strata_project = {project}
strata_op_timeout = 120
strata_ceph_conf = {ceph_conf}
strata_rbd_keyring = {ceph}/keyring.client.strata-computed
""".format(rabbit=rabbit, d=d, api_port=api_port, image_url=strata_env["STRATA_IMAGE_URL"],
           blockd=strata_env["STRATA_VOLUME_URL"].rsplit("/v3/", 1)[0], idurl=idurl,
           user=account["user"]["name"], password=account["user"]["password"],
           project=account["project"]["name"], ceph_conf=strata_env["CEPH_CONF"], ceph=ceph))
    os.chmod(conf, 0o600)
    env = dict(os.environ, PYTHONPATH=PKG)
    args = ["--config-file", str(conf)]
    subprocess.run(["cinder-manage"] + args + ["db", "sync"], check=True, capture_output=True,
                   env=env, timeout=300)
    logs = {n: str(d / "log" / (n + ".log")) for n in ("scheduler", "volume", "api")}
    procs = [Proc(["cinder-" + n] + args + ["--log-file", logs[n]], logs[n] + ".out", env)
             for n in ("scheduler", "volume", "api")]
    url = "http://127.0.0.1:%d/v3" % api_port
    h = {"X-Auth-Token": "admin:" + PROJECT}
    every = list(logs.values()) + [p.log for p in procs]

    def volume_up():
        try:
            r = requests.get("%s/%s/os-services?binary=cinder-volume" % (url, PROJECT), headers=h,
                             timeout=5)
        except requests.ConnectionError:
            return False
        return r.status_code == 200 and any(s["state"] == "up" and s["status"] == "enabled"
                                            for s in r.json()["services"])

    def pools():
        r = requests.get("%s/%s/scheduler-stats/get_pools?detail=true" % (url, PROJECT), headers=h,
                         timeout=5)
        return r.status_code == 200 and r.json()["pools"]

    try:
        wait_for(volume_up, "cinder-volume up", 180, every)
        wait_for(pools, "the scheduler to know the strata pool", 120, every)
        yield {"url": url, "logs": every}
    finally:
        for p in reversed(procs):
            p.stop()


def run_cinder(url, *args):
    argv = ["cinder", "--os-auth-type", "noauth", "--os-user-id", "admin", "--os-project-id",
            PROJECT, "--os-endpoint", "%s/%s" % (url, PROJECT), "--os-volume-api-version", MV]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=120)


def cinder(url, *args):
    p = run_cinder(url, *args)
    assert p.returncode == 0, "cinder %s: %s%s" % (" ".join(args), p.stdout, p.stderr)
    return p.stdout


def table(out):
    """`cinder show`'s Property/Value table as a dict."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^\|\s*(\S[^|]*?)\s*\|\s*(.*?)\s*\|$", line)
        if m and m.group(1) != "Property":
            rows[m.group(1)] = m.group(2)
    return rows


def wait_cinder(url, kind, ident, want, timeout=180):
    """Poll `cinder show`/`snapshot-show` until the status is `want` ("gone": 404)."""
    show = "snapshot-show" if kind == "snapshot" else "show"

    def status():
        if want == "gone":   # the API's 404 (the client's wording varies)
            r = requests.get("%s/%s/%ss/%s" % (url, PROJECT, kind, ident),
                             headers={"X-Auth-Token": "admin:" + PROJECT}, timeout=30)
            return r.status_code == 404
        p = run_cinder(url, show, ident)
        assert p.returncode == 0, p.stderr
        t = table(p.stdout)
        assert not t.get("status", "").startswith("error"), t
        return t if t.get("status") == want else None
    return wait_for(status, "%s %s %s" % (kind, ident, want), timeout)


def blockd_named(vurl, account, kind, cinder_id):  # noqa: F811
    r = requests.get("%s/v3/%s/%ss/detail?name=cinder-%s" % (vurl, account["project"]["id"], kind,
                                                              cinder_id),
                     headers={"X-Auth-Token": account["token"]})
    return r.json()[kind + "s"]


def test_cinder_client_through_a_real_cinder(cinder_api, account, vurl, cluster):  # noqa: F811
    url = cinder_api["url"]
    v = table(cinder(url, "create", "1", "--name", "via-cinder"))
    vol = wait_cinder(url, "volume", v["id"], "available")
    assert vol["os-vol-host-attr:host"] == "cinder-e2e@strata#strata.volumes"
    # in blockd, named after Cinder's id, and an image in RBD
    [b] = blockd_named(vurl, account, "volume", v["id"])
    assert b["size"] == 1 and "volume-" + b["id"] in rbd_images(cluster)

    s = table(cinder(url, "snapshot-create", "--name", "snap", v["id"]))
    wait_cinder(url, "snapshot", s["id"], "available")
    [bs] = blockd_named(vurl, account, "snapshot", s["id"])
    assert bs["volume_id"] == b["id"]

    v2 = table(cinder(url, "create", "--snapshot-id", s["id"], "--name", "from-snap", "2"))
    wait_cinder(url, "volume", v2["id"], "available")
    [b2] = blockd_named(vurl, account, "volume", v2["id"])
    assert b2["size"] == 2 and b2["snapshot_id"] == bs["id"]

    cinder(url, "extend", v["id"], "3")
    wait_for(lambda: table(cinder(url, "show", v["id"])).get("size") == "3", "extend", 120)
    assert shown(vurl, account, "volume", b["id"])["size"] == 3

    cinder(url, "delete", v2["id"])
    wait_cinder(url, "volume", v2["id"], "gone")
    cinder(url, "snapshot-delete", s["id"])
    wait_cinder(url, "snapshot", s["id"], "gone")
    cinder(url, "delete", v["id"])
    wait_cinder(url, "volume", v["id"], "gone")
    for ident in (b["id"], b2["id"]):
        assert shown(vurl, account, "volume", ident) is None
    wait_for(lambda: not {"volume-" + b["id"], "volume-" + b2["id"]} & rbd_images(cluster),
             "the RBD images to go", 60)
    # the driver's Strata password and token are in no log line of the Cinder services
    for path in cinder_api["logs"]:
        text = open(path, errors="replace").read() if os.path.exists(path) else ""
        assert account["user"]["password"] not in text, path
        assert account["token"] not in text, path
