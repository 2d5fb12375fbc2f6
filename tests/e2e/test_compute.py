"""strata-computed against real libvirt, QEMU (TCG here) and Ceph: host
registration and heartbeat, guests booted from RBD clones of the strata-test
image and from blockd volumes, the serial-console marker, hot attach of a
blockd volume with a pattern written by the guest and read back through
librbd, live <iotune>, power actions, delete leaving nothing behind, a second
agent killed with -9 while its guest runs, and changes made behind its back."""
import os
import re
import signal
import subprocess
import time
import uuid

import pytest
import rbd
import requests

from conftest import BUILD, Daemon, free_port, write_config
from test_blockd import api, cluster, unlimited, vol_create, vurl, wait_status  # noqa: F401
from test_imaged import H, token

MV = {"OpenStack-API-Version": "volume 3.44"}
PROJECT = "p-erin"
VIRSH = ["virsh", "-c", "qemu:///system"]
BOOT_TIMEOUT = 180   # TCG boots take ~10 s alone; the CI machine may be busy


@pytest.fixture(scope="module")
def agent(strata_env):
    if "STRATA_AGENT_URL" not in strata_env:
        pytest.fail("strata-computed is not running (no STRATA_AGENT_URL in strata.env)")
    return strata_env["STRATA_AGENT_URL"]


@pytest.fixture(scope="module")
def admin(strata_env):
    return strata_env["STRATA_ADMIN_TOKEN"]


@pytest.fixture(scope="module")
def image_id(strata_env, admin):
    r = requests.get(strata_env["STRATA_IMAGE_URL"] + "/v2/images?name=strata-test", headers=H(admin))
    assert r.status_code == 200, r.text
    imgs = [i for i in r.json()["images"] if i["status"] == "active"]
    assert imgs, "tools/strata up did not publish the strata-test image"
    assert imgs[0]["visibility"] == "public"
    return imgs[0]["id"]


@pytest.fixture(scope="module")
def erin(home, vurl, strata_env):
    unlimited(vurl, strata_env, PROJECT)
    return token(home, PROJECT)


def spawn_body(sid, image_id, name="e2e", **over):
    b = {"id": sid, "name": name, "project_id": PROJECT, "vcpus": 1, "ram_mb": 256,
         "flavor": "m1.tiny", "root_disk": {"image_id": image_id, "size_gb": 1}}
    b.update(over)
    return b


def server(agent, admin, sid):
    r = requests.get("%s/v1/servers/%s" % (agent, sid), headers=H(admin))
    assert r.status_code == 200, r.text
    return r.json()["server"]


def wait_server(agent, admin, sid, status, power, timeout=60):
    deadline, s = time.time() + timeout, None
    while time.time() < deadline:
        s = server(agent, admin, sid)
        if s["status"] == status and s["power_state"] == power and s["task_state"] is None:
            return s
        assert s["status"] != "error", s
        time.sleep(0.5)
    pytest.fail("server %s did not reach %s/%s: %s" % (sid, status, power, s))


def console(agent, admin, sid):
    r = requests.get("%s/v1/servers/%s/console" % (agent, sid), headers=H(admin))
    assert r.status_code == 200, r.text
    return r.text


def wait_console(agent, admin, sid, pattern, count=1, timeout=BOOT_TIMEOUT):
    deadline, text = time.time() + timeout, ""
    while time.time() < deadline:
        text = console(agent, admin, sid)
        found = re.findall(pattern, text)
        if len(found) >= count:
            return found[-1]
        time.sleep(1)
    pytest.fail("no %r on the console of %s after %d s:\n%s" % (pattern, sid, timeout, text[-2000:]))


def wait_gone(agent, admin, sid, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = requests.get("%s/v1/servers/%s" % (agent, sid), headers=H(admin))
        if r.status_code == 404:
            return
        assert r.status_code == 200 and r.json()["server"]["status"] == "deleting", r.text
        time.sleep(0.5)
    pytest.fail("server %s not deleted" % sid)


def virsh(*args, check=True):
    return subprocess.run(VIRSH + list(args), capture_output=True, text=True, check=check).stdout


def domain_exists(sid):
    return subprocess.run(VIRSH + ["dominfo", "strata-" + sid], capture_output=True).returncode == 0


def vms_images(cluster):
    with cluster.open_ioctx("strata.vms") as io:
        return rbd.RBD().list(io)


def attach_via_blockd(vurl, tok, vid, sid):
    """Nova's flow: an attachment with a connector gives the connection_info."""
    base = api(vurl, tok, PROJECT)
    r = requests.post(base + "/attachments", headers=H(tok, **MV),
                      json={"attachment": {"volume_uuid": vid, "instance_uuid": sid,
                                           "connector": {"host": "e2e", "ip": "127.0.0.1"}}})
    assert r.status_code == 200, r.text
    return r.json()["attachment"]


def complete(vurl, tok, att_id):
    r = requests.post("%s/attachments/%s/action" % (api(vurl, tok, PROJECT), att_id),
                      headers=H(tok, **MV), json={"os-complete": {}})
    assert r.status_code in (200, 204), r.text


# ---- the agent's API -------------------------------------------------------

def test_host_record_and_heartbeat(agent, admin, cluster):
    r = requests.get(agent + "/v1/host", headers=H(admin))
    assert r.status_code == 200, r.text
    h = r.json()["host"]
    assert h["state"] == "up" and h["name"]
    assert h["hypervisor_type"] in ("kvm", "qemu") and h["hypervisor_why"]
    assert h["vcpus"] >= 1 and h["ram_mb"] >= 256 and h["disk_gb"] >= 1
    assert h["arch"] == "x86_64" and h["availability_zone"]
    assert h["location"] == {"host": h["name"]}
    assert h["ceph"][0]["fsid"] == cluster.get_fsid()
    assert h["agent_url"].endswith(":" + agent.rsplit(":", 1)[1])
    time.sleep(6)   # heartbeat_interval is 5 s by default
    h2 = requests.get(agent + "/v1/host", headers=H(admin)).json()["host"]
    assert h2["heartbeat_at"] > h["heartbeat_at"]


def test_auth_and_bad_requests(agent, admin, home, image_id):
    member = token(home, PROJECT)
    assert requests.get(agent + "/v1/servers").status_code == 401
    assert requests.get(agent + "/v1/servers", headers=H(member)).status_code == 403
    sid = str(uuid.uuid4())
    bad = [
        ("not json", None),
        ('{"id": "x"}', "'id' must be a UUID"),
        (spawn_body(sid, image_id, vcpus="1"), "'vcpus' must be an integer"),
        (spawn_body(sid, image_id, ram_mb=1), "'ram_mb' must be between"),
        (spawn_body(sid, image_id, name=""), "'name'"),
        (spawn_body(sid, image_id, root_disk={"image_id": image_id}), "'size_gb'"),
        (spawn_body(sid, image_id, root_disk={"image_id": image_id, "volume_id": image_id,
                                              "size_gb": 1}), "exactly one"),
        (spawn_body(sid, image_id, root_disk={"volume_id": image_id,
                                              "connection_info": {"driver_volume_type": "iscsi",
                                                                  "data": {}}}), "rbd"),
        (spawn_body(sid, image_id, root_disk={"image_id": image_id, "size_gb": 1,
                                              "qos_specs": {"total_iops_sec": "-5"}}),
         "total_iops_sec"),
    ]
    for body, msg in bad:
        kw = {"data": body} if isinstance(body, str) else {"json": body}
        r = requests.post(agent + "/v1/servers", headers=H(admin), **kw)
        assert r.status_code == 400, (body, r.text)
        if msg:
            assert msg in r.text, (msg, r.text)
    # nothing was recorded by the refused requests
    assert requests.get("%s/v1/servers/%s" % (agent, sid), headers=H(admin)).status_code == 404
    missing = str(uuid.uuid4())
    for method, path, body in [("GET", "", None), ("DELETE", "", None),
                               ("POST", "/action", {"start": None}), ("GET", "/console", None),
                               ("DELETE", "/volumes/" + missing, None)]:
        r = requests.request(method, "%s/v1/servers/%s%s" % (agent, missing, path),
                             headers=H(admin), json=body)
        assert r.status_code == 404, (method, path, r.text)
    # an unknown image fails the build with a fault, and the record says so
    r = requests.post(agent + "/v1/servers", headers=H(admin), json=spawn_body(sid, missing))
    assert r.status_code == 202, r.text
    deadline = time.time() + 30
    while server(agent, admin, sid)["status"] != "error" and time.time() < deadline:
        time.sleep(0.3)
    s = server(agent, admin, sid)
    assert s["status"] == "error" and "image" in s["fault"]["message"].lower()
    r = requests.delete("%s/v1/servers/%s" % (agent, sid), headers=H(admin))
    assert r.status_code == 202
    wait_gone(agent, admin, sid)


# ---- one guest's whole life -------------------------------------------------

def test_guest_lifecycle_with_volume(agent, admin, image_id, cluster, vurl, erin):
    sid = str(uuid.uuid4())
    t0 = time.time()
    r = requests.post(agent + "/v1/servers", headers=H(admin), json=spawn_body(sid, image_id))
    assert r.status_code == 202, r.text
    assert r.json()["server"]["status"] == "building"
    # a retry of the same spawn is answered with the same server, not a second one
    r = requests.post(agent + "/v1/servers", headers=H(admin), json=spawn_body(sid, image_id))
    assert r.status_code == 200 and r.json()["server"]["id"] == sid
    r = requests.post(agent + "/v1/servers", headers=H(admin), json=spawn_body(sid, image_id, vcpus=2))
    assert r.status_code == 409
    wait_server(agent, admin, sid, "active", "running")
    wait_console(agent, admin, sid, r"STRATA-GUEST-READY server=" + sid)
    print("spawn to console marker: %.1f s" % (time.time() - t0))
    assert sid + "_disk" in vms_images(cluster)

    # the domain is what the design says: RBD network disk, no cache, discard, virtio
    xml = virsh("dumpxml", "strata-" + sid)
    assert "<uuid>%s</uuid>" % sid in xml
    assert re.search(r"<source protocol=['\"]rbd['\"] name=['\"]strata.vms/%s_disk['\"]" % sid, xml)
    assert re.search(r"cache=['\"]none['\"]", xml) and re.search(r"discard=['\"]unmap['\"]", xml)
    assert re.search(r"bus=['\"]virtio['\"]", xml) and "<secret type='ceph'" in xml.replace('"', "'")
    assert "strata:instance" in xml and PROJECT in xml
    assert re.search(r"<domain type=['\"](qemu|kvm)['\"]", xml)

    # a blockd volume, hot-plugged; the guest writes a pattern that librbd reads back
    v = vol_create(vurl, erin, PROJECT, size=1, name="e2e-data")
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "available")
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, "volume-" + v["id"]) as im:
        im.write(b"STRATA-WRITE-TEST".ljust(512, b"\0"), 0)
    att = attach_via_blockd(vurl, erin, v["id"], sid)
    r = requests.post("%s/v1/servers/%s/volumes" % (agent, sid), headers=H(admin),
                      json={"volume_id": v["id"], "connection_info": att["connection_info"]})
    assert r.status_code == 200, r.text
    assert r.json()["volume_attachment"]["device"] == "/dev/vdb"
    complete(vurl, erin, att["id"])
    # attaching again is answered with the same attachment
    r = requests.post("%s/v1/servers/%s/volumes" % (agent, sid), headers=H(admin),
                      json={"volume_id": v["id"], "connection_info": att["connection_info"]})
    assert r.status_code == 200 and r.json()["volume_attachment"]["target"] == "vdb"
    wait_console(agent, admin, sid, r"STRATA-DISKS vda vdb")
    nonce = wait_console(agent, admin, sid, r"STRATA-PATTERN-WRITTEN disk=vdb nonce=([0-9a-f]+) ok")
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, "volume-" + v["id"], read_only=True) as im:
        block = im.read(4096, 4096)
    assert block.startswith(("STRATA-PATTERN server=%s disk=vdb nonce=%s" % (sid, nonce)).encode()), block[:100]
    assert server(agent, admin, sid)["volumes"][0]["volume_id"] == v["id"]

    # live QoS on the attached disk
    r = requests.put("%s/v1/servers/%s/volumes/%s" % (agent, sid, v["id"]), headers=H(admin),
                     json={"qos_specs": {"total_iops_sec": "300", "read_bytes_sec": 10485760}})
    assert r.status_code == 204, r.text
    tune = virsh("blkdeviotune", "strata-" + sid, "vdb")
    assert re.search(r"total_iops_sec\s*:\s*300", tune) and re.search(r"read_bytes_sec\s*:\s*10485760", tune)

    # an extended volume grows live in the guest (what blockd's extend of an
    # in-use volume needs from the agent)
    r = requests.put("%s/v1/servers/%s/volumes/%s" % (agent, sid, v["id"]), headers=H(admin),
                     json={"size_gb": 2})
    assert r.status_code == 204, r.text
    assert re.search(r"Capacity:\s*2147483648", virsh("domblkinfo", "strata-" + sid, "vdb"))

    # detach: the guest loses the disk, the definition too
    r = requests.delete("%s/v1/servers/%s/volumes/%s" % (agent, sid, v["id"]), headers=H(admin))
    assert r.status_code == 204, r.text
    r = requests.delete("%s/attachments/%s" % (api(vurl, erin, PROJECT), att["id"]), headers=H(erin, **MV))
    assert r.status_code == 200, r.text
    wait_console(agent, admin, sid, r"STRATA-DISKS vda\r?\n", count=2)
    assert "vdb" not in virsh("dumpxml", "--inactive", "strata-" + sid)
    assert server(agent, admin, sid)["volumes"] == []

    # stop, start (a second boot prints a second marker), hard reboot (a third)
    act = "%s/v1/servers/%s/action" % (agent, sid)
    assert requests.post(act, headers=H(admin), json={"stop": None}).status_code == 202
    wait_server(agent, admin, sid, "stopped", "shutoff")
    assert virsh("domstate", "strata-" + sid).strip() == "shut off"
    r = requests.post(act, headers=H(admin), json={"action": "dance"})
    assert r.status_code == 400
    assert requests.post(act, headers=H(admin), json={"start": None}).status_code == 202
    wait_server(agent, admin, sid, "active", "running")
    wait_console(agent, admin, sid, r"STRATA-GUEST-READY server=" + sid, count=2)
    assert requests.post(act, headers=H(admin), json={"reboot": {"type": "HARD"}}).status_code == 202
    wait_server(agent, admin, sid, "active", "running")
    wait_console(agent, admin, sid, r"STRATA-GUEST-READY server=" + sid, count=3)

    # delete: no domain, no vms-pool image, no console log; the volume is untouched
    assert requests.delete("%s/v1/servers/%s" % (agent, sid), headers=H(admin)).status_code == 202
    wait_gone(agent, admin, sid)
    assert not domain_exists(sid)
    assert sid + "_disk" not in vms_images(cluster)
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "available")
    if not [d for d in virsh("list", "--all", "--name").split() if d.startswith("strata-")]:
        assert "5b1e6c2a-3f0d-4d8e-9a77-2c4f8e1d0b51" not in virsh("secret-list")


def test_boot_from_volume(agent, admin, image_id, cluster, vurl, erin):
    v = vol_create(vurl, erin, PROJECT, size=1, imageRef=image_id, name="e2e-root")
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "available")
    sid = str(uuid.uuid4())
    att = attach_via_blockd(vurl, erin, v["id"], sid)
    body = spawn_body(sid, image_id, root_disk={"volume_id": v["id"],
                                                 "connection_info": att["connection_info"],
                                                 "delete_on_termination": False})
    r = requests.post(agent + "/v1/servers", headers=H(admin), json=body)
    assert r.status_code == 202, r.text
    complete(vurl, erin, att["id"])
    wait_server(agent, admin, sid, "active", "running")
    wait_console(agent, admin, sid, r"STRATA-GUEST-READY server=" + sid)
    xml = virsh("dumpxml", "strata-" + sid)
    assert "strata.volumes/volume-" + v["id"] in xml and "<serial>%s</serial>" % v["id"] in xml
    assert sid + "_disk" not in vms_images(cluster)
    assert requests.delete("%s/v1/servers/%s" % (agent, sid), headers=H(admin)).status_code == 202
    wait_gone(agent, admin, sid)
    assert not domain_exists(sid)
    # the volume is blockd's: still there after the server is gone
    with cluster.open_ioctx("strata.volumes") as io:
        assert "volume-" + v["id"] in rbd.RBD().list(io)


# ---- a second agent: kill -9 with a guest running, changes behind its back --

@pytest.fixture
def agent2(home, tmp_path):
    port = free_port()
    state = tmp_path / "compute2"
    conf = write_config(str(tmp_path / "strata.conf"), os.path.join(home, "etc", "strata.conf"),
                        {"computed": {"port": port, "host": "e2e-host-2", "state_dir": str(state),
                                      "hypervisor": "qemu", "vcpus": 8, "ram_mb": 16384,
                                      "disk_gb": 200, "location": "rack=r2 host=h2",
                                      "reconcile_interval": "2s", "heartbeat_interval": "1s",
                                      "shutdown_timeout": "3s",
                                      "running_deleted_instance_action": "reap"}})
    binary = os.path.join(BUILD, "compute", "strata-computed")
    d = Daemon(binary, conf, str(tmp_path / "computed2.log"))
    d.url = "http://127.0.0.1:%d" % port
    d.start(d.url)
    yield d
    d.stop(signal.SIGKILL)


def test_agent_kill9_and_out_of_band_changes(agent2, agent, admin, image_id, cluster):
    a = agent2.url
    h = requests.get(a + "/v1/host", headers=H(admin)).json()["host"]
    assert (h["name"], h["vcpus"], h["ram_mb"], h["disk_gb"]) == ("e2e-host-2", 8, 16384, 200)
    assert h["hypervisor_type"] == "qemu" and "configured" in h["hypervisor_why"]
    assert h["location"] == {"rack": "r2", "host": "h2"}

    sid = str(uuid.uuid4())
    r = requests.post(a + "/v1/servers", headers=H(admin), json=spawn_body(sid, image_id, name="k9"))
    assert r.status_code == 202, r.text
    # killed in the middle of the spawn: the restarted agent resumes it
    agent2.stop(signal.SIGKILL)
    agent2.start(agent2.url)
    wait_server(a, admin, sid, "active", "running")
    assert virsh("list", "--name").split().count("strata-" + sid) == 1
    pid = int(open("/var/run/libvirt/qemu/strata-%s.pid" % sid).read())

    agent2.stop(signal.SIGKILL)
    assert os.path.exists("/proc/%d" % pid), "the guest died with its agent"
    agent2.start(agent2.url)
    s = wait_server(a, admin, sid, "active", "running")
    assert s["host"] == "e2e-host-2"
    assert int(open("/var/run/libvirt/qemu/strata-%s.pid" % sid).read()) == pid, "guest was restarted"

    # powered off behind the agent's back: reconcile records it (and leaves it off)
    virsh("destroy", "strata-" + sid)
    wait_server(a, admin, sid, "stopped", "shutoff", timeout=30)
    time.sleep(3)
    assert virsh("domstate", "strata-" + sid).strip() == "shut off"
    assert "power state changed outside Strata" in agent2.output()

    # a domain of this host that no record owns is reaped (configured: reap)
    orphan = str(uuid.uuid4())
    xml = virsh("dumpxml", "--inactive", "strata-" + sid).replace(sid, orphan)
    xml_path = os.path.join(os.path.dirname(agent2.log_path), "orphan.xml")
    with open(xml_path, "w") as f:
        f.write(xml)
    virsh("define", xml_path)
    assert domain_exists(orphan)
    deadline = time.time() + 30
    while domain_exists(orphan) and time.time() < deadline:
        time.sleep(0.5)
    assert not domain_exists(orphan)
    assert "server %s has no record: reaping it" % orphan in agent2.output()

    # the first agent does not see or touch the second one's guests
    assert requests.get("%s/v1/servers/%s" % (agent, sid), headers=H(admin)).status_code == 404
    assert sid not in [x["id"] for x in requests.get(agent + "/v1/servers", headers=H(admin)).json()["servers"]]
    r = requests.post(a + "/v1/servers/%s/action" % sid, headers=H(admin), json={"start": None})
    assert r.status_code == 202
    wait_server(a, admin, sid, "active", "running")
    assert requests.delete("%s/v1/servers/%s" % (a, sid), headers=H(admin)).status_code == 202
    wait_gone(a, admin, sid)
    assert not domain_exists(sid) and sid + "_disk" not in vms_images(cluster)
