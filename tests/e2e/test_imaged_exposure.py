"""What strata-imaged shows to whom (issue 18): the Ceph layout (direct_url,
locations) only to admins and the service role; a failed glance-direct import
reported as Glance reports it; caps on image properties and tags; the admin
image list with ?owner= includes that project's shared images."""
import subprocess
import time
import uuid

import pytest
import requests

from test_imaged import H, MIB, admin_tok, alice, bob, create, make_file, token, upload, url  # noqa: F401


@pytest.fixture(scope="module")
def active_image(url, alice):
    img = create(url, alice)
    assert upload(url, alice, img["id"], b"\1" * MIB).status_code == 204
    return img["id"]


def test_members_do_not_see_the_ceph_layout(url, alice, home, admin_tok, active_image):
    r = requests.get(url + "/v2/images/" + active_image, headers=H(alice))
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert "direct_url" not in r.json() and "locations" not in r.json(), r.json()
    listed = requests.get(url + "/v2/images", headers=H(alice)).json()["images"]
    mine = [i for i in listed if i["id"] == active_image]
    assert mine and "direct_url" not in mine[0] and "locations" not in mine[0]
    # a reader or member role of another name is no better
    r = requests.get(url + "/v2/images/" + active_image, headers=H(token(home, "p-alice", "reader")))
    assert "direct_url" not in r.json()

    # the admin and the service role (what blockd, compute and a Cinder driver use) see both
    for tok in (admin_tok, token(home, "p-alice", "member,service")):
        r = requests.get(url + "/v2/images/" + active_image, headers=H(tok))
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["direct_url"].startswith("rbd://") and doc["direct_url"].endswith(
            "/strata.images/%s/snap" % active_image)
        assert [loc["url"] for loc in doc["locations"]] == [doc["direct_url"]]


def test_admin_lists_every_image_of_a_project(url, alice, bob, admin_tok):
    project = "p-alice"
    made = {vis: create(url, alice, visibility=vis)["id"] for vis in ("shared", "private", "community")}
    want = set(made.values())

    def listed(tok, query):
        r = requests.get(url + "/v2/images" + query, headers=H(tok), params={"limit": 1000})
        assert r.status_code == 200, r.text
        return {i["id"] for i in r.json()["images"]}

    assert want <= listed(admin_tok, "?owner=" + project)
    assert want <= listed(admin_tok, "")
    for vis, iid in made.items():
        assert iid in listed(admin_tok, "?owner=%s&visibility=%s" % (project, vis))
        assert requests.get(url + "/v2/images/" + iid, headers=H(admin_tok)).status_code == 200
    # members keep Glance's rules: another project's community image is usable by
    # id but not listed unless asked for; shared and private ones are not theirs
    other = listed(bob, "")
    assert not (want & other)
    assert made["community"] in listed(bob, "?visibility=community")
    assert want <= listed(alice, "")


def stage_and_import(url, tok, image_id, data):
    r = requests.put(url + "/v2/images/%s/stage" % image_id,
                     headers=H(tok, **{"Content-Type": "application/octet-stream"}), data=data)
    assert r.status_code == 204, r.text
    r = requests.post(url + "/v2/images/%s/import" % image_id, headers=H(tok),
                      json={"method": {"name": "glance-direct"}})
    assert r.status_code == 202, r.text


def wait_import(url, tok, image_id):
    deadline = time.time() + 60
    while time.time() < deadline:
        img = requests.get(url + "/v2/images/" + image_id, headers=H(tok)).json()
        if img["status"] not in ("uploading", "importing"):
            return img
        time.sleep(0.2)
    pytest.fail("import of %s did not end: %s" % (image_id, img))


def test_a_failed_import_says_why(url, alice, bob, tmp_path):
    base = make_file(str(tmp_path / "base.raw"), MIB)
    child = str(tmp_path / "child.qcow2")
    subprocess.run(["qemu-img", "create", "-f", "qcow2", "-b", base, "-F", "raw", child], check=True)
    img = create(url, alice, disk_format="qcow2")
    stage_and_import(url, alice, img["id"], open(child, "rb").read())
    shown = wait_import(url, alice, img["id"])
    # Glance: back to queued, the store in os_glance_failed_import, none importing
    assert shown["status"] == "queued"
    assert shown["os_glance_failed_import"] == "rbd", shown
    assert shown["os_glance_importing_to_stores"] == ""
    # the reason, through the API: the image's import task (Glance's /tasks)
    r = requests.get(url + "/v2/images/%s/tasks" % img["id"], headers=H(alice))
    assert r.status_code == 200, r.text
    [task] = r.json()["tasks"]
    assert task["type"] == "api_image_import" and task["status"] == "failure"
    assert task["image_id"] == img["id"] and "backing" in task["message"], task
    assert task["input"] == {"method": {"name": "glance-direct"}}
    # other projects see neither; the properties stay read-only
    assert requests.get(url + "/v2/images/%s/tasks" % img["id"], headers=H(bob)).status_code == 404
    r = requests.patch(url + "/v2/images/" + img["id"],
                       headers=H(alice, **{"Content-Type": "application/openstack-images-v2.1-json-patch"}),
                       json=[{"op": "replace", "path": "/os_glance_failed_import", "value": ""}])
    assert r.status_code == 403, r.text

    # a good import after it: active, the failure cleared, the task a success
    good = str(tmp_path / "good.qcow2")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", base, good], check=True)
    stage_and_import(url, alice, img["id"], open(good, "rb").read())
    shown = wait_import(url, alice, img["id"])
    assert shown["status"] == "active", shown
    assert shown["os_glance_failed_import"] == "" and shown["os_glance_importing_to_stores"] == ""
    [task] = requests.get(url + "/v2/images/%s/tasks" % img["id"], headers=H(alice)).json()["tasks"]
    assert task["status"] == "success" and task["message"] == ""


def test_an_image_never_imported_has_no_task(url, alice):
    img = create(url, alice)
    r = requests.get(url + "/v2/images/%s/tasks" % img["id"], headers=H(alice))
    assert r.status_code == 200 and r.json() == {"tasks": []}
