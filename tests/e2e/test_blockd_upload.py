"""os-volume_upload_image (`cinder upload-to-image`): imaged makes the image
from a protected RBD snapshot of the volume (clone + background flatten, no
bytes through any API); the image goes active, owns its data (no parent), a
volume made from it reads the same bytes, and blockd removes its upload
snapshot once the image is active.  Runs its own blockd with a short
reconcile interval (the snapshot sweep runs in reconcile)."""
import os
import time

import rbd
import requests

from conftest import free_port
from test_blockd import carol, cinder, cluster, iurl, vol_create, vurl, wait_status  # noqa: F401
from test_blockd_attach import CONNECTOR, MV, SERVER
from test_imaged import H

GIB = 1 << 30


def snaps(cluster, vid):
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, "volume-" + vid, read_only=True) as im:
        return [s["name"] for s in im.list_snaps()]


def wait_for(fn, what, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError("never: " + what)


def test_upload_to_image_then_a_volume_from_it(blockd_factory, iurl, carol, cluster):
    d = blockd_factory(free_port(), reconcile_interval="1s")
    vol = vol_create(d.url, carol, "p-carol", size=1, name="src")
    wait_status(d.url, carol, "p-carol", "volumes", vol["id"], "available")
    head, tail = os.urandom(1 << 20), os.urandom(4096)
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, "volume-" + vol["id"]) as im:
        im.write(head, 0)
        im.write(tail, 600 << 20)
    p = cinder(d.url, carol, "p-carol", "--os-volume-api-version", "3.1", "upload-to-image",
               vol["id"], "from-volume")
    assert p.returncode == 0, p.stderr
    rows = {l.split("|")[1].strip(): l.split("|")[2].strip() for l in p.stdout.splitlines()
            if l.startswith("|") and len(l.split("|")) > 3}
    iid = rows["image_id"]
    assert rows["status"] == "uploading" and rows["disk_format"] == "raw"
    assert rows["container_format"] == "bare" and rows["image_name"] == "from-volume"
    wait_status(d.url, carol, "p-carol", "volumes", vol["id"], "available")

    def image():
        r = requests.get("%s/v2/images/%s" % (iurl, iid), headers=H(carol))
        assert r.status_code == 200, r.text
        return r.json() if r.json()["status"] in ("active", "killed") else None

    img = wait_for(image, "image active")
    assert img["status"] == "active" and img["size"] == GIB and img["disk_format"] == "raw"
    assert img["owner"] == "p-carol" and img["name"] == "from-volume"
    with cluster.open_ioctx("strata.images") as io, rbd.Image(io, iid, read_only=True) as im:
        with __import__("pytest").raises(rbd.ImageNotFound):
            im.parent_info()   # flattened: the image owns its data
        assert [(s["name"], im.is_protected_snap(s["name"])) for s in im.list_snaps()] == [("snap", True)]
    # blockd's reconcile drops its upload snapshot once the image is active
    wait_for(lambda: "upload-" + iid not in snaps(cluster, vol["id"]), "upload snapshot removed")
    # a volume from the new image reads the same bytes
    copy = vol_create(d.url, carol, "p-carol", imageRef=iid, size=1)
    wait_status(d.url, carol, "p-carol", "volumes", copy["id"], "available")
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, "volume-" + copy["id"], read_only=True) as im:
        assert im.read(0, len(head)) == head and im.read(600 << 20, len(tail)) == tail
    for v in (copy, vol):
        assert requests.delete("%s/v3/p-carol/volumes/%s" % (d.url, v["id"]), headers=H(carol)).status_code == 202
    for v in (copy, vol):
        wait_status(d.url, carol, "p-carol", "volumes", v["id"], "gone")
    assert requests.delete("%s/v2/images/%s" % (iurl, iid), headers=H(carol)).status_code == 204


def test_upload_rules(blockd_factory, carol, cluster):
    d = blockd_factory(free_port(), reconcile_interval="1s")
    vol = vol_create(d.url, carol, "p-carol", size=1)
    wait_status(d.url, carol, "p-carol", "volumes", vol["id"], "available")
    act = "%s/v3/p-carol/volumes/%s/action" % (d.url, vol["id"])
    for body in ({"image_name": "x", "disk_format": "qcow2"}, {"disk_format": "raw"},
                 {"image_name": "x", "container_format": "ovf"},
                 {"image_name": "x", "visibility": "everyone"}):
        r = requests.post(act, headers=H(carol), json={"os-volume_upload_image": body})
        assert r.status_code == 400, (body, r.text)
    # in-use needs force
    r = requests.post("%s/v3/p-carol/attachments" % d.url, headers=H(carol, **MV),
                      json={"attachment": {"volume_uuid": vol["id"], "instance_uuid": SERVER,
                                           "connector": CONNECTOR}})
    aid = r.json()["attachment"]["id"]
    assert requests.post("%s/v3/p-carol/attachments/%s/action" % (d.url, aid), headers=H(carol, **MV),
                         json={"os-complete": {}}).status_code == 204
    r = requests.post(act, headers=H(carol), json={"os-volume_upload_image": {"image_name": "x"}})
    assert r.status_code == 409 and "in-use" in r.text, r.text
    r = requests.post(act, headers=H(carol), json={"os-volume_upload_image": {"image_name": "x", "force": "True"}})
    assert r.status_code == 202, r.text
    assert r.json()["os-volume_upload_image"]["status"] == "uploading"
    wait_status(d.url, carol, "p-carol", "volumes", vol["id"], "in-use")
    assert snaps(cluster, vol["id"]) == [] or all(s.startswith("upload-") for s in snaps(cluster, vol["id"]))
    assert requests.delete("%s/v3/p-carol/attachments/%s" % (d.url, aid), headers=H(carol, **MV)).status_code == 200
    assert requests.delete("%s/v3/p-carol/volumes/%s" % (d.url, vol["id"]), headers=H(carol)).status_code == 202
