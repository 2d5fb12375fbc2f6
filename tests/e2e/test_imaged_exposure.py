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
