"""Unique names under racing creates (issue 18, item 2): twenty concurrent
creates of one volume-type (or qos-specs) name, spread over two strata-blockd
instances, give exactly one record and nineteen 409s; the name is found by
name, freed by delete and by a rename, and taken by no one else meanwhile."""
import threading
import uuid

import pytest
import requests

from conftest import free_port
from test_blockd import api, vurl  # noqa: F401
from test_imaged import H

RACERS = 20


@pytest.fixture(scope="module")
def admin(strata_env):
    return strata_env["STRATA_ADMIN_TOKEN"], strata_env["STRATA_ADMIN_PROJECT_ID"]


def race(bases, tok, path, body):
    """POST body to base+path from RACERS threads released together: the statuses."""
    go = threading.Barrier(RACERS)
    out = [None] * RACERS

    def one(i):
        base = bases[i % len(bases)]
        go.wait()
        try:
            out[i] = requests.post(base + path, headers=H(tok), json=body, timeout=60)
        except requests.RequestException as e:  # reported below, not swallowed
            out[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


@pytest.fixture
def bases(vurl, admin, blockd_factory):
    second = blockd_factory(free_port())
    return [api(vurl, *admin), api(second.url, *admin)]


def named(base, tok, kind, name):
    r = requests.get("%s/%s" % (base, kind), headers=H(tok))
    assert r.status_code == 200, r.text
    key = "volume_types" if kind == "types" else "qos_specs"
    return [x for x in r.json()[key] if x["name"] == name]


@pytest.mark.parametrize("kind,key", [("types", "volume_type"), ("qos-specs", "qos_specs")])
def test_one_name_one_record(bases, admin, kind, key):
    name = "race-" + uuid.uuid4().hex[:8]
    out = race(bases, admin[0], "/" + kind, {key: {"name": name}})
    codes = sorted(r.status_code if isinstance(r, requests.Response) else repr(r) for r in out)
    assert codes == [200] + [409] * (RACERS - 1), codes
    conflict = [r for r in out if r.status_code == 409][0]
    assert name in conflict.text and "already exists" in conflict.text
    won = [r for r in out if r.status_code == 200][0].json()[key]
    assert [x["id"] for x in named(bases[0], admin[0], kind, name)] == [won["id"]]

    # delete frees the name: a new create of it succeeds
    r = requests.delete("%s/%s/%s" % (bases[0], kind, won["id"]), headers=H(admin[0]))
    assert r.status_code in (202, 204), r.text
    r = requests.post("%s/%s" % (bases[1], kind), headers=H(admin[0]), json={key: {"name": name}})
    assert r.status_code == 200, r.text
    requests.delete("%s/%s/%s" % (bases[0], kind, r.json()[key]["id"]), headers=H(admin[0]))


def test_type_rename_moves_the_claim(bases, admin):
    tok = admin[0]
    a, b = "ren-a-" + uuid.uuid4().hex[:6], "ren-b-" + uuid.uuid4().hex[:6]
    r = requests.post(bases[0] + "/types", headers=H(tok), json={"volume_type": {"name": a}})
    assert r.status_code == 200, r.text
    tid = r.json()["volume_type"]["id"]
    r = requests.put("%s/types/%s" % (bases[0], tid), headers=H(tok), json={"volume_type": {"name": b}})
    assert r.status_code == 200, r.text
    # found by its new name (from either daemon), not by the old one
    r = requests.get("%s/types/%s" % (bases[1], b), headers=H(tok))
    assert r.status_code == 200 and r.json()["volume_type"]["id"] == tid
    assert requests.get("%s/types/%s" % (bases[1], a), headers=H(tok)).status_code == 404
    # the old name is free, the new one taken
    r = requests.post(bases[1] + "/types", headers=H(tok), json={"volume_type": {"name": a}})
    assert r.status_code == 200, r.text
    other = r.json()["volume_type"]["id"]
    r = requests.put("%s/types/%s" % (bases[0], other), headers=H(tok), json={"volume_type": {"name": b}})
    assert r.status_code == 409, r.text
    for t in (tid, other):
        assert requests.delete("%s/types/%s" % (bases[0], t), headers=H(tok)).status_code == 202


def test_flavor_names_are_unique(strata_env, admin):
    curl = strata_env["STRATA_COMPUTE_URL"]
    name = "race-" + uuid.uuid4().hex[:8]
    body = {"flavor": {"name": name, "ram": 64, "vcpus": 1, "disk": 1}}
    out = race([curl], admin[0], "/flavors", body)
    codes = sorted(r.status_code if isinstance(r, requests.Response) else repr(r) for r in out)
    assert codes == [200] + [409] * (RACERS - 1), codes
    assert "Flavor with name %s already exists." % name in [r for r in out if r.status_code == 409][0].text
    fid = [r for r in out if r.status_code == 200][0].json()["flavor"]["id"]
    flavors = requests.get(curl + "/flavors", headers=H(admin[0])).json()["flavors"]
    assert [f["id"] for f in flavors if f["name"] == name] == [fid]
    # the default flavors' names are taken too; a delete frees the name
    r = requests.post(curl + "/flavors", headers=H(admin[0]),
                      json={"flavor": {"name": "m1.nano", "ram": 64, "vcpus": 1, "disk": 1}})
    assert r.status_code == 409, r.text
    assert requests.delete("%s/flavors/%s" % (curl, fid), headers=H(admin[0])).status_code == 202
    r = requests.post(curl + "/flavors", headers=H(admin[0]), json=body)
    assert r.status_code == 200, r.text
    requests.delete("%s/flavors/%s" % (curl, r.json()["flavor"]["id"]), headers=H(admin[0]))
