"""Extending an in-use volume (Cinder microversion 3.42+): blockd resizes the
RBD image, then asks the compute agent of the attachment's host to grow the
guest's disk, so a running guest sees the new size without a reboot.  When the
host has no agent record the extend still succeeds (best effort, as Nova's
volume-extended event)."""
import re
import time
import uuid

import requests

from test_blockd import api, cinder, vol_create, vurl, wait_status  # noqa: F401
from test_compute import (MV, PROJECT, admin, agent, complete, erin, image_id,  # noqa: F401
                          spawn_body, virsh, wait_console, wait_gone, wait_server)
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


def test_extend_in_use_reaches_the_guest(agent, admin, image_id, vurl, erin):
    host = requests.get(agent + "/v1/host", headers=H(admin)).json()["host"]["name"]
    sid = str(uuid.uuid4())
    r = requests.post(agent + "/v1/servers", headers=H(admin), json=spawn_body(sid, image_id))
    assert r.status_code == 202, r.text
    wait_server(agent, admin, sid, "active", "running")
    wait_console(agent, admin, sid, r"STRATA-GUEST-READY server=" + sid)

    v = vol_create(vurl, erin, PROJECT, size=1, name="e2e-extend-inuse")
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "available")
    att = attach(vurl, erin, v["id"], sid, host)
    r = requests.post("%s/v1/servers/%s/volumes" % (agent, sid), headers=H(admin),
                      json={"volume_id": v["id"], "connection_info": att["connection_info"]})
    assert r.status_code == 200, r.text
    assert r.json()["volume_attachment"]["target"] == "vdb"
    complete(vurl, erin, att["id"])
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "in-use")
    wait_capacity(sid, "vdb", GIB)

    p = cinder(vurl, erin, PROJECT, "--os-volume-api-version", "3.42", "extend", v["id"], "2")
    assert p.returncode == 0, p.stderr
    wait_capacity(sid, "vdb", 2 * GIB)
    got = volume(vurl, erin, v["id"])
    assert got["size"] == 2 and got["status"] == "in-use", got

    # clean up: the server goes, then the attachment and the volume
    assert requests.delete("%s/v1/servers/%s" % (agent, sid), headers=H(admin)).status_code == 202
    wait_gone(agent, admin, sid)
    r = requests.delete("%s/attachments/%s" % (api(vurl, erin, PROJECT), att["id"]), headers=H(erin, **MV))
    assert r.status_code == 200, r.text
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "available")
    assert requests.delete("%s/volumes/%s" % (api(vurl, erin, PROJECT), v["id"]), headers=H(erin)).status_code == 202
    wait_status(vurl, erin, PROJECT, "volumes", v["id"], "gone")
