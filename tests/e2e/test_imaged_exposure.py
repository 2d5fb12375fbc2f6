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
