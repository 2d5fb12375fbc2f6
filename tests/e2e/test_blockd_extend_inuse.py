"""Changing an in-use volume reaches the running guest.  Extending it (Cinder
microversion 3.42+): blockd resizes the RBD image, then sends the compute API
(strata-scheduler) Nova's "volume-extended" external event and the server's
agent grows the guest's disk without a reboot.  Changing its front-end QoS
(per-GB limits after an extend, a qos-spec edit, a retype): blockd refreshes
the attachment's connection_info and sends Strata's "volume-qos-changed"
event, and the agent changes the disk's <iotune> live.  When the compute API
knows no such server the extend still succeeds (best effort)."""
import re
import time
import uuid

import requests

from test_blockd import api, cinder, vol_create, vurl, wait_status  # noqa: F401
from test_compute import (MV, PROJECT, admin, complete, erin, image_id,  # noqa: F401
                          virsh)
from test_blockd_types import make_type
from test_imaged import H

GIB = 1 << 30


def attach(vurl, tok, vid, sid, host):
    base = api(vurl, tok, PROJECT)
    r = requests.post(base + "/attachments", headers=H(tok, **MV),
                      json={"attachment": {"volume_uuid": vid, "instance_uuid": sid,
                                           "connector": {"host": host, "ip": "127.0.0.1"}}})
    assert r.status_code == 200, r.text
    return r.json()["attachment"]


def volume(vurl, tok, vid):
    r = requests.get("%s/volumes/%s" % (api(vurl, tok, PROJECT), vid), headers=H(tok))
    assert r.status_code == 200, r.text
    return r.json()["volume"]


def wait_capacity(sid, target, want, timeout=30):
    deadline, info = time.time() + timeout, ""
    while time.time() < deadline:
        info = virsh("domblkinfo", "strata-" + sid, target)
        if re.search(r"Capacity:\s*%d\b" % want, info):
            return
        time.sleep(0.5)
    raise AssertionError("%s of strata-%s: %s" % (target, sid, info))


def iotune(sid, target):
    out = virsh("blkdeviotune", "strata-" + sid, target)
    return {k: int(v) for k, v in re.findall(r"^\s*(\w+)\s*:\s*(\d+)\s*$", out, re.M) if int(v)}


def wait_iotune(sid, target, want, timeout=30):
    deadline, got = time.time() + timeout, None
    while time.time() < deadline:
        got = iotune(sid, target)
        if got == want:
            return
        time.sleep(0.5)
    raise AssertionError("%s of strata-%s: iotune %s, want %s" % (target, sid, got, want))


def test_extend_in_use_without_agent_still_extends(vurl, erin):
    v = vol_create(vurl, erin, PROJECT, size=1, name="e2e-extend-noagent")
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "available")
    att = attach(vurl, erin, v["id"], str(uuid.uuid4()), "no-such-host")
    complete(vurl, erin, att["id"])
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "in-use")
    # before 3.42 an in-use volume cannot be extended
    p = cinder(vurl, erin, PROJECT, "--os-volume-api-version", "3.41", "extend", v["id"], "2")
    assert p.returncode != 0 and "in-use" in p.stderr, p.stderr
    p = cinder(vurl, erin, PROJECT, "--os-volume-api-version", "3.42", "extend", v["id"], "2")
    assert p.returncode == 0, p.stderr
    deadline = time.time() + 60
    while volume(vurl, erin, v["id"])["size"] != 2 and time.time() < deadline:
        time.sleep(0.2)
    got = volume(vurl, erin, v["id"])
    assert got["size"] == 2 and got["status"] == "in-use", got
    assert [a["attachment_id"] for a in got["attachments"]] == [att["id"]]
    r = requests.delete("%s/attachments/%s" % (api(vurl, erin, PROJECT), att["id"]), headers=H(erin, **MV))
    assert r.status_code == 200, r.text
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "available")
    assert requests.delete("%s/volumes/%s" % (api(vurl, erin, PROJECT), v["id"]), headers=H(erin)).status_code == 202


def test_in_use_changes_reach_the_guest(strata_env, image_id, vurl, erin):
    adm = (strata_env["STRATA_ADMIN_TOKEN"], strata_env["STRATA_ADMIN_PROJECT_ID"])
    per_gb, q_per_gb = make_type(vurl, adm, {"total_iops_sec_per_gb": "100"}, "front-end")
    both, _ = make_type(vurl, adm, {"write_bytes_sec": "10485760"}, "both")
    curl = strata_env["STRATA_COMPUTE_URL"]
    r = requests.post(curl + "/servers", headers=H(erin), json={
        "server": {"name": "e2e-extend", "imageRef": image_id, "flavorRef": "0"}})
    assert r.status_code == 202, r.text
    sid = r.json()["server"]["id"]

    def server():
        return requests.get(curl + "/servers/" + sid, headers=H(erin)).json()["server"]
    deadline = time.time() + 180
    while server()["status"] == "BUILD" and time.time() < deadline:
        time.sleep(0.5)
    assert server()["status"] == "ACTIVE", server()

    def console():   # a booted guest answers the hot-unplug at the end
        r = requests.post(curl + "/servers/%s/action" % sid, headers=H(erin),
                          json={"os-getConsoleOutput": {"length": 50}})
        return r.json().get("output", "") if r.status_code == 200 else ""
    deadline = time.time() + 180
    while "STRATA-GUEST-READY server=" + sid not in console():
        assert time.time() < deadline, "the guest did not boot"
        time.sleep(1)
    v = vol_create(vurl, erin, PROJECT, size=1, name="e2e-extend-inuse",
                   volume_type=per_gb["name"])
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "available")
    r = requests.post(curl + "/servers/%s/os-volume_attachments" % sid, headers=H(erin),
                      json={"volumeAttachment": {"volumeId": v["id"]}})
    assert r.status_code == 200, r.text
    assert r.json()["volumeAttachment"]["device"] == "/dev/vdb"
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "in-use")
    wait_capacity(sid, "vdb", GIB)

    wait_iotune(sid, "vdb", {"total_iops_sec": 100})   # 1 GiB x 100 per GB, set at attach

    p = cinder(vurl, erin, PROJECT, "--os-volume-api-version", "3.42", "extend", v["id"], "2")
    assert p.returncode == 0, p.stderr
    wait_capacity(sid, "vdb", 2 * GIB)
    got = volume(vurl, erin, v["id"])
    assert got["size"] == 2 and got["status"] == "in-use", got
    wait_iotune(sid, "vdb", {"total_iops_sec": 200})   # the per-GB limit followed the size

    # an edit of the type's qos-specs reaches the running guest and the attachment
    base = api(vurl, adm[0], adm[1])
    r = requests.put("%s/qos-specs/%s" % (base, q_per_gb), headers=H(adm[0]),
                     json={"qos_specs": {"total_iops_sec_per_gb": "150"}})
    assert r.status_code == 200, r.text
    wait_iotune(sid, "vdb", {"total_iops_sec": 300})
    att = volume(vurl, erin, v["id"])["attachments"][0]["attachment_id"]
    r = requests.get("%s/attachments/%s" % (api(vurl, erin, PROJECT), att), headers=H(erin, **MV))
    assert r.json()["attachment"]["connection_info"]["data"]["qos_specs"] == {"total_iops_sec": 300}

    # a retype of the in-use volume: the old limits go, the new type's arrive
    r = requests.post("%s/volumes/%s/action" % (api(vurl, erin, PROJECT), v["id"]), headers=H(erin),
                      json={"os-retype": {"new_type": both["id"], "migration_policy": "never"}})
    assert r.status_code == 202, r.text
    wait_iotune(sid, "vdb", {"write_bytes_sec": 10485760})
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "in-use")

    # clean up through the compute API: detach, the server, then the volume
    r = requests.delete(curl + "/servers/%s/os-volume_attachments/%s" % (sid, v["id"]),
                        headers=H(erin))
    assert r.status_code == 202, r.text
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "available")
    assert requests.delete(curl + "/servers/" + sid, headers=H(erin)).status_code == 204
    deadline = time.time() + 120
    while requests.get(curl + "/servers/" + sid, headers=H(erin)).status_code != 404:
        assert time.time() < deadline, "server not deleted"
        time.sleep(0.5)
    assert requests.delete("%s/volumes/%s" % (api(vurl, erin, PROJECT), v["id"]), headers=H(erin)).status_code == 202
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "gone")
