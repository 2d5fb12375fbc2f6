"""strata-scheduler's compute API through the stock `openstack` client as the
demo member (password auth): servers booted from a copy-on-write clone of the
strata-test image and from blockd volumes, power actions, the console marker,
volume attach/detach, delete (delete_on_termination deletes the made volume),
a request no host can take failing with the filters' explanation, bad input,
and another project seeing none of it.  Real Ceph, libvirt/QEMU and HTTP."""
import json
import os
import subprocess
import time
import uuid

import pytest
import requests

from conftest import BUILD, Daemon, free_port, write_config
from test_identity import os_env, osc, osj
from test_imaged import token

BOOT_TIMEOUT = 240   # TCG boots take ~10 s alone; the CI machine may be busy


@pytest.fixture(scope="module")
def curl(strata_env):
    if "STRATA_COMPUTE_URL" not in strata_env:
        pytest.fail("strata-scheduler is not running (no STRATA_COMPUTE_URL in strata.env)")
    return strata_env["STRATA_COMPUTE_URL"]


@pytest.fixture(scope="module")
def demo(strata_env):
    return os_env(strata_env, strata_env["STRATA_DEMO_USER"], strata_env["STRATA_DEMO_PASSWORD"],
                  strata_env["STRATA_DEMO_PROJECT"])


@pytest.fixture(scope="module")
def admin(strata_env):
    return strata_env["STRATA_ADMIN_TOKEN"]


@pytest.fixture(scope="module")
def demo_tok(demo):
    return osc(demo, "token", "issue", "-f", "value", "-c", "id").stdout.strip()


def H(tok):
    return {"X-Auth-Token": tok, "Content-Type": "application/json"}


def wait_for(fn, what, timeout=BOOT_TIMEOUT, every=1.0):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.time() < deadline, "timed out waiting for " + what
        time.sleep(every)


def status(env, sid):
    return osj(env, "server", "show", sid)["status"]


def volume_status(env, vid):
    return osj(env, "volume", "show", vid)["status"]


@pytest.fixture(scope="module")
def home_host(strata_env, admin):
    r = requests.get(strata_env["STRATA_AGENT_URL"] + "/v1/host", headers=H(admin))
    assert r.status_code == 200, r.text
    return r.json()["host"]["name"]


def hypervisor(curl, admin, host):
    """The hypervisor of `host` (other tests leave stopped agents' hosts, down)."""
    r = requests.get(curl + "/os-hypervisors/detail", headers=H(admin))
    assert r.status_code == 200, r.text
    hvs = [h for h in r.json()["hypervisors"] if h["hypervisor_hostname"] == host]
    assert hvs, "host %s is not among the hypervisors" % host
    return hvs[0]


def console_has(env, sid, text):
    return text in osc(env, "console", "log", "show", sid).stdout


def test_versions_flavors_and_zones(curl, demo, admin, home_host):
    r = requests.get(curl.rsplit("/v2.1", 1)[0] + "/")
    assert r.status_code == 200 and r.json()["versions"][0]["id"] == "v2.1"
    names = {f["Name"] for f in osj(demo, "flavor", "list")}
    assert {"m1.nano", "m1.tiny", "m1.small"} <= names
    f = osj(demo, "flavor", "show", "m1.nano")
    assert f["ram"] == 256 and f["vcpus"] == 1
    zones = osj(demo, "availability", "zone", "list", "--compute")
    assert any(z["Zone Status"] == "available" for z in zones), zones
    hv = hypervisor(curl, admin, home_host)
    assert hv["state"] == "up" and hv["vcpus"] > 0 and hv["memory_mb"] > 0
    # a member may not see hypervisors or make flavors
    r = requests.get(curl + "/os-hypervisors", headers=H(token_for("p-sched-x")))
    assert r.status_code == 403


def token_for(project, roles="member"):
    return token(os.environ["STRATA_HOME"], project, roles)


def test_server_from_image_lifecycle(curl, demo, admin, home_host):
    name = "e2e-img-" + uuid.uuid4().hex[:6]
    hv0 = hypervisor(curl, admin, home_host)
    s = osj(demo, "server", "create", "--image", "strata-test", "--flavor", "m1.nano", "--wait",
            name)
    sid = s["id"]
    try:
        assert s["status"] == "ACTIVE"
        assert sid in [x["ID"] for x in osj(demo, "server", "list")]
        # admins see the host; the claim shows in the hypervisor's usage
        r = requests.get(curl + "/servers/" + sid, headers=H(admin))
        assert r.status_code == 200, r.text
        host = r.json()["server"]["OS-EXT-SRV-ATTR:host"]
        assert host == hv0["hypervisor_hostname"]
        hv = hypervisor(curl, admin, home_host)
        assert hv["vcpus_used"] == hv0["vcpus_used"] + 1
        assert hv["memory_mb_used"] == hv0["memory_mb_used"] + 256
        wait_for(lambda: console_has(demo, sid, "STRATA-GUEST-READY server=" + sid),
                 "the guest's console marker")
        osc(demo, "server", "stop", sid)
        wait_for(lambda: status(demo, sid) == "SHUTOFF", "SHUTOFF")
        osc(demo, "server", "start", sid)
        wait_for(lambda: status(demo, sid) == "ACTIVE", "ACTIVE after start")
        osc(demo, "server", "reboot", "--wait", sid)
        assert status(demo, sid) == "ACTIVE"
        # a blockd volume attached and detached through the compute API
        vol = osj(demo, "volume", "create", "--size", "1", "e2e-data-" + name)
        wait_for(lambda: volume_status(demo, vol["id"]) == "available", "volume available", 60)
        osc(demo, "server", "add", "volume", sid, vol["id"])
        assert volume_status(demo, vol["id"]) == "in-use"
        atts = requests.get(curl + "/servers/%s/os-volume_attachments" % sid,
                            headers=H(admin)).json()["volumeAttachments"]
        assert [a["volumeId"] for a in atts] == [vol["id"]] and atts[0]["device"] == "/dev/vdb"
        # attaching it twice is refused and changes nothing
        r = requests.post(curl + "/servers/%s/os-volume_attachments" % sid, headers=H(admin),
                          json={"volumeAttachment": {"volumeId": vol["id"]}})
        assert r.status_code in (400, 409), r.text
        osc(demo, "server", "remove", "volume", sid, vol["id"])
        wait_for(lambda: volume_status(demo, vol["id"]) == "available", "volume detached", 60)
        osc(demo, "volume", "delete", vol["id"])
    finally:
        osc(demo, "server", "delete", "--wait", sid)
    assert sid not in [x["ID"] for x in osj(demo, "server", "list")]
    assert requests.get(curl + "/servers/" + sid, headers=H(admin)).status_code == 404
    assert hypervisor(curl, admin, home_host)["vcpus_used"] == hv0["vcpus_used"]


def test_boot_from_volume(curl, demo, demo_tok, strata_env):
    vol = osj(demo, "volume", "create", "--size", "1", "--image", "strata-test", "e2e-bootv")
    wait_for(lambda: volume_status(demo, vol["id"]) == "available", "boot volume", 120)
    s = osj(demo, "server", "create", "--volume", vol["id"], "--flavor", "m1.nano", "--wait",
            "e2e-bfv")
    assert s["status"] == "ACTIVE"
    assert volume_status(demo, vol["id"]) == "in-use"
    wait_for(lambda: console_has(demo, s["id"], "STRATA-GUEST-READY"), "boot-from-volume marker")
    osc(demo, "server", "delete", "--wait", s["id"])
    # not delete_on_termination: the volume stays, detached
    wait_for(lambda: volume_status(demo, vol["id"]) == "available", "volume released", 60)
    osc(demo, "volume", "delete", vol["id"])

    # source image -> volume made by the scheduler, deleted with the server
    img = osj(demo, "image", "show", "strata-test")["id"]
    body = {"server": {"name": "e2e-bfi", "flavorRef": "0", "block_device_mapping_v2": [
        {"boot_index": 0, "uuid": img, "source_type": "image", "destination_type": "volume",
         "volume_size": 1, "delete_on_termination": True}]}}
    r = requests.post(curl + "/servers", headers=H(demo_tok), json=body)
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    assert r.headers["Location"].endswith("/servers/" + sid)
    wait_for(lambda: status(demo, sid) in ("ACTIVE", "ERROR"), "boot from image-volume")
    srv = osj(demo, "server", "show", sid)
    assert srv["status"] == "ACTIVE", srv
    made = [v["id"] for v in srv["volumes_attached"]]
    assert len(made) == 1 and volume_status(demo, made[0]) == "in-use"
    osc(demo, "server", "delete", "--wait", sid)
    vid = made[0]
    wait_for(lambda: vid not in [v["ID"] for v in osj(demo, "volume", "list")],
             "the made volume deleted on termination", 120)


def test_no_valid_host_says_why(curl, demo, admin):
    fid = "e2e-huge-" + uuid.uuid4().hex[:6]
    r = requests.post(curl + "/flavors", headers=H(admin), json={
        "flavor": {"name": fid, "id": fid, "ram": 64 * 1024 * 1024, "vcpus": 1, "disk": 1}})
    assert r.status_code == 200, r.text
    try:
        p = osc(demo, "server", "create", "--image", "strata-test", "--flavor", fid, "--wait",
                "e2e-huge", check=False)
        assert "Error creating server" in p.stdout + p.stderr, (p.stdout, p.stderr)
        srv = [x for x in osj(demo, "server", "list") if x["Name"] == "e2e-huge"][0]
        s = osj(demo, "server", "show", srv["ID"])
        assert s["status"] == "ERROR"
        msg = s["fault"]["message"]
        assert msg.startswith("no valid host: ") and "ram 1\u21920" in msg, msg
        osc(demo, "server", "delete", "--wait", srv["ID"])
    finally:
        assert requests.delete(curl + "/flavors/" + fid, headers=H(admin)).status_code == 202


def test_bad_requests_and_isolation(curl, demo, demo_tok, admin):
    img = osj(demo, "image", "show", "strata-test")["id"]

    def post(body, tok=demo_tok, raw=None, hdrs=None):
        h = H(tok)
        h.update(hdrs or {})
        return requests.post(curl + "/servers", headers=h,
                             data=raw if raw is not None else json.dumps(body))
    ok = {"server": {"name": "x", "imageRef": img, "flavorRef": "0"}}
    for body, raw, code, words in [
            (None, "{not json", 400, "JSON"),
            ({"server": {"name": "x", "imageRef": img}}, None, 400, "flavorRef"),
            ({"server": {"name": "x", "imageRef": img, "flavorRef": "nope"}}, None, 400, "Flavor"),
            ({"server": {"name": "x", "imageRef": str(uuid.uuid4()), "flavorRef": "0"}}, None, 400,
             "Image"),
            ({"server": {"name": "", "imageRef": img, "flavorRef": "0"}}, None, 400, "name"),
            ({"server": dict(ok["server"], min_count=2)}, None, 400, "min_count"),
            ({"server": {"name": "x", "flavorRef": "0"}}, None, 400, "imageRef")]:
        r = post(body, raw=raw)
        assert r.status_code == code, (body, r.text)
        assert words in r.text, r.text
    r = post(ok, hdrs={"OpenStack-API-Version": "compute 2.90"})
    assert r.status_code == 406
    assert post(ok, tok=token_for("p-sched-r", "reader")).status_code == 403
    r = requests.get(curl + "/servers/" + str(uuid.uuid4()), headers=H(demo_tok))
    assert r.status_code == 404 and "itemNotFound" in r.text
    # another project's server is not found, not listed, not deletable
    r = post(ok)
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]
    other = token_for("p-sched-other")
    try:
        assert requests.get(curl + "/servers/" + sid, headers=H(other)).status_code == 404
        assert requests.delete(curl + "/servers/" + sid, headers=H(other)).status_code == 404
        r = requests.get(curl + "/servers/detail", headers=H(other))
        assert sid not in [x["id"] for x in r.json()["servers"]]
        r = requests.get(curl + "/servers/detail?all_tenants=1", headers=H(admin))
        assert sid in [x["id"] for x in r.json()["servers"]]
    finally:
        assert requests.delete(curl + "/servers/" + sid, headers=H(demo_tok)).status_code == 204
        wait_for(lambda: requests.get(curl + "/servers/" + sid, headers=H(admin)).status_code
                 == 404, "deleted")


# ---- placement with several agents: locality, capacity, anti-affinity ----

def ceph(ceph_conf, *args):
    p = subprocess.run(["ceph", "-c", ceph_conf, "--connect-timeout", "15"] + list(args),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "ceph %s: %s" % (" ".join(args), p.stderr)
    return p.stdout


@pytest.fixture
def rack_rule(ceph_conf):
    """Racks e2e-r1 (holding the OSD's host) and e2e-r2 (empty) under the root,
    and strata.images placed by a rule that takes e2e-r1; undone afterwards."""
    tree = json.loads(ceph(ceph_conf, "osd", "find", "0", "-f", "json"))
    host = tree["crush_location"]["host"]
    old = json.loads(ceph(ceph_conf, "osd", "pool", "get", "strata.images", "crush_rule",
                          "-f", "json"))["crush_rule"]
    for r in ("e2e-r1", "e2e-r2"):
        ceph(ceph_conf, "osd", "crush", "add-bucket", r, "rack")
        ceph(ceph_conf, "osd", "crush", "move", r, "root=default")
    ceph(ceph_conf, "osd", "crush", "move", host, "rack=e2e-r1")
    ceph(ceph_conf, "osd", "crush", "rule", "create-replicated", "e2e-r1-rule", "e2e-r1", "osd")
    ceph(ceph_conf, "osd", "pool", "set", "strata.images", "crush_rule", "e2e-r1-rule")
    try:
        yield
    finally:
        ceph(ceph_conf, "osd", "pool", "set", "strata.images", "crush_rule", old)
        ceph(ceph_conf, "osd", "crush", "move", host, "root=default")
        ceph(ceph_conf, "osd", "crush", "rule", "rm", "e2e-r1-rule")
        for r in ("e2e-r1", "e2e-r2"):
            ceph(ceph_conf, "osd", "crush", "rm", r)


def start_daemon(home, tmp_path, kind, name, section):
    port = free_port()
    section = dict(section, port=port)
    conf = write_config(str(tmp_path / (name + ".conf")), os.path.join(home, "etc", "strata.conf"),
                        {kind: section})
    binary = os.path.join(BUILD, "compute" if kind == "computed" else "scheduler", "strata-" + kind)
    d = Daemon(binary, conf, str(tmp_path / (name + ".log")))
    d.url = "http://127.0.0.1:%d" % port
    d.start(d.url)
    return d


@pytest.fixture
def two_racks(home, tmp_path, rack_rule):
    """Agents e2e-near (rack e2e-r1, room for two m1.nano) and e2e-far (rack
    e2e-r2), and a second scheduler reading Ceph's facts every second."""
    common = {"hypervisor": "qemu", "vcpus": 8, "disk_gb": 100, "heartbeat_interval": "1s",
              "shutdown_timeout": "3s", "running_deleted_instance_action": "reap"}
    ds = []
    try:
        ds.append(start_daemon(home, tmp_path, "computed", "near", dict(
            common, host="e2e-near", ram_mb=1024, location="rack=e2e-r1 host=e2e-near",
            state_dir=str(tmp_path / "near"))))
        ds.append(start_daemon(home, tmp_path, "computed", "far", dict(
            common, host="e2e-far", ram_mb=8192, location="rack=e2e-r2 host=e2e-far",
            state_dir=str(tmp_path / "far"))))
        ds.append(start_daemon(home, tmp_path, "scheduler", "sched2",
                               {"ceph_facts_ttl": "1s", "reconcile_interval": "2s"}))
        yield ds[2].url + "/v2.1"
    finally:
        for d in reversed(ds):
            d.stop()


def placed_host(curl, admin, sid):
    def done():
        r = requests.get(curl + "/servers/" + sid, headers=H(admin)).json()["server"]
        return r if r["status"] in ("ACTIVE", "ERROR") else None
    s = wait_for(done, "server %s placed" % sid)
    assert s["status"] == "ACTIVE", s.get("fault")
    return s["OS-EXT-SRV-ATTR:host"]


def test_locality_then_capacity_and_anti_affinity(two_racks, admin, demo_tok, curl, demo):
    url = two_racks
    img = osj(demo, "image", "show", "strata-test")["id"]

    def create(name, group=None):
        body = {"server": {"name": name, "imageRef": img, "flavorRef": "0"}}
        if group:
            body["os:scheduler_hints"] = {"group": group}
        r = requests.post(url + "/servers", headers=H(demo_tok), json=body)
        assert r.status_code == 202, r.text
        return r.json()["server"]["id"]
    sids = []
    try:
        # the image's data is in rack e2e-r1: the host there wins while it has room
        for i in range(2):
            sids.append(create("e2e-near-%d" % i))
            assert placed_host(url, admin, sids[-1]) == "e2e-near"
        # full (2 x 256 MiB + 512 reserved): capacity decides, elsewhere
        sids.append(create("e2e-spill"))
        assert placed_host(url, admin, sids[-1]) != "e2e-near"
        hv = requests.get(url + "/os-hypervisors/e2e-near", headers=H(admin)).json()["hypervisor"]
        assert hv["memory_mb_used"] == 512 and hv["running_vms"] == 2
        for sid in sids:
            requests.delete(url + "/servers/" + sid, headers=H(demo_tok))
        for sid in sids:
            wait_for(lambda: requests.get(url + "/servers/" + sid, headers=H(admin)).status_code
                     == 404, "deleted")
        sids = []
        # anti-affinity: two members never share a host, even the near one with room
        r = requests.post(url + "/os-server-groups", headers=H(demo_tok), json={
            "server_group": {"name": "e2e-spread", "policies": ["anti-affinity"]}})
        assert r.status_code == 200, r.text
        gid = r.json()["server_group"]["id"]
        a = create("e2e-aa-0", gid)
        sids.append(a)
        ha = placed_host(url, admin, a)
        b = create("e2e-aa-1", gid)
        sids.append(b)
        hb = placed_host(url, admin, b)
        assert ha == "e2e-near" and hb != ha
        g = requests.get(url + "/os-server-groups/" + gid, headers=H(demo_tok)).json()
        assert sorted(g["server_group"]["members"]) == sorted([a, b])
    finally:
        for sid in sids:
            requests.delete(url + "/servers/" + sid, headers=H(demo_tok))
        for sid in sids:
            wait_for(lambda: requests.get(url + "/servers/" + sid, headers=H(admin)).status_code
                     == 404, "deleted")
