"""strata-blockd against a hostile client (issue 18): metadata capped per
volume and per snapshot ([blockd] max_metadata_items, 255-character keys and
values), links that never echo the client's Host header, and an extend past
the largest size refused with a message naming that size."""
import pytest
import requests

from test_blockd import api, carol, vol_create, vurl, wait_status  # noqa: F401
from test_imaged import H

LIMIT = 128


def items(n, prefix="k"):
    return {"%s%d" % (prefix, i): "v" for i in range(n)}


@pytest.fixture(scope="module")
def base(vurl, carol):
    return api(vurl, carol, "p-carol")


@pytest.fixture(scope="module")
def volume(vurl, carol, base):
    vol = vol_create(vurl, carol, "p-carol", size=1, name="limits")
    wait_status(vurl, carol, "p-carol", "volumes", vol["id"], "available")
    yield vol["id"]
    requests.delete("%s/volumes/%s?cascade=true" % (base, vol["id"]), headers=H(carol))


def assert_over_limit(r):
    assert r.status_code == 413, r.text
    assert "128" in r.text and "max_metadata_items" in r.text, r.text


def test_volume_metadata_is_capped(vurl, carol, base, volume):
    url = "%s/volumes/%s/metadata" % (base, volume)
    # at create
    r = requests.post(base + "/volumes", headers=H(carol),
                      json={"volume": {"size": 1, "metadata": items(LIMIT + 1)}})
    assert_over_limit(r)
    # replace: the limit itself is fine, one more is not
    r = requests.put(url, headers=H(carol), json={"metadata": items(LIMIT)})
    assert r.status_code == 200, r.text
    assert_over_limit(requests.put(url, headers=H(carol), json={"metadata": items(LIMIT + 1)}))
    # merge and one key: counted with what is there; nothing is half-applied
    assert_over_limit(requests.post(url, headers=H(carol), json={"metadata": {"extra": "v"}}))
    assert_over_limit(requests.put(url + "/extra", headers=H(carol), json={"meta": {"extra": "v"}}))
    r = requests.post(url, headers=H(carol), json={"metadata": {"k0": "changed"}})
    assert r.status_code == 200 and len(r.json()["metadata"]) == LIMIT
    # the volume update body too
    assert_over_limit(requests.put("%s/volumes/%s" % (base, volume), headers=H(carol),
                                   json={"volume": {"metadata": items(LIMIT + 1)}}))
    got = requests.get(url, headers=H(carol)).json()["metadata"]
    assert len(got) == LIMIT and got["k0"] == "changed"
    # lengths as Cinder: 255 characters for keys and values
    for md in ({"k" * 256: "v"}, {"k": "v" * 256}):
        r = requests.post(url, headers=H(carol), json={"metadata": md})
        assert r.status_code == 400 and "255" in r.text, r.text
    assert requests.post(url, headers=H(carol), json={"metadata": {"k0": "v" * 255}}).status_code == 200


def test_snapshot_metadata_is_capped(vurl, carol, base, volume):
    r = requests.post(base + "/snapshots", headers=H(carol),
                      json={"snapshot": {"volume_id": volume, "metadata": items(LIMIT + 1)}})
    assert_over_limit(r)
    r = requests.post(base + "/snapshots", headers=H(carol),
                      json={"snapshot": {"volume_id": volume, "force": True, "metadata": items(LIMIT)}})
    assert r.status_code == 202, r.text
    sid = r.json()["snapshot"]["id"]
    wait_status(vurl, carol, "p-carol", "snapshots", sid, "available")
    url = "%s/snapshots/%s/metadata" % (base, sid)
    assert_over_limit(requests.post(url, headers=H(carol), json={"metadata": {"more": "v"}}))
    assert len(requests.get(url, headers=H(carol)).json()["metadata"]) == LIMIT
    assert requests.delete("%s/snapshots/%s" % (base, sid), headers=H(carol)).status_code == 202
    wait_status(vurl, carol, "p-carol", "snapshots", sid, "gone")


FORGED = "evil.example:666"


def hrefs(doc):
    """Every "href" anywhere in a JSON document."""
    if isinstance(doc, dict):
        return [v for k, v in doc.items() if k == "href"] + [h for v in doc.values() for h in hrefs(v)]
    if isinstance(doc, list):
        return [h for v in doc for h in hrefs(v)]
    return []


def test_links_ignore_the_host_header(vurl, carol, base, volume, blockd_factory, strata_env):
    forged = dict(H(carol), Host=FORGED)
    docs = [requests.get("%s/volumes/%s" % (base, volume), headers=forged),
            requests.get(base + "/volumes", headers=forged),
            requests.get(vurl + "/", headers={"Host": FORGED}),
            requests.get(vurl + "/v3/", headers={"Host": FORGED})]
    admin, ap = strata_env["STRATA_ADMIN_TOKEN"], strata_env["STRATA_ADMIN_PROJECT_ID"]
    r = requests.post(api(vurl, admin, ap) + "/qos-specs", headers=dict(H(admin), Host=FORGED),
                      json={"qos_specs": {"name": "links-" + volume[:8], "total_iops_sec": "100"}})
    docs.append(r)
    for r in docs:
        assert r.status_code in (200, 300), r.text
        links = hrefs(r.json())
        assert links and "evil" not in r.text, r.text
        assert all(h.startswith(vurl + "/") or h.startswith("https://docs.openstack.org")
                   for h in links), links
    requests.delete(api(vurl, admin, ap) + "/qos-specs/" + r.json()["qos_specs"]["id"], headers=H(admin))

    # a configured public endpoint (the one the catalog gives) is what links use
    from conftest import free_port
    other = blockd_factory(free_port(), public_url="https://volumes.example.com:8776/")
    r = requests.get("%s/v3/p-carol/volumes/%s" % (other.url, volume), headers=forged)
    assert r.status_code == 200, r.text
    assert {h.split("/p-carol")[0] for h in hrefs(r.json())} == {
        "https://volumes.example.com:8776/v3", "https://volumes.example.com:8776"}


def test_extend_past_the_largest_size_names_it(carol, base, volume):
    for size in (2 ** 31, str(2 ** 40), 10 ** 15):
        r = requests.post("%s/volumes/%s/action" % (base, volume), headers=H(carol),
                          json={"os-extend": {"new_size": size}})
        assert r.status_code == 400, r.text
        assert "at most 2147483647 GiB" in r.text and "greater than 0" not in r.text, r.text
    r = requests.post("%s/volumes/%s/action" % (base, volume), headers=H(carol),
                      json={"os-extend": {"new_size": 0}})
    assert r.status_code == 400 and "greater than 0" in r.text
