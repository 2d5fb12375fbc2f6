"""The common core over real HTTP, through strata-testd (a daemon built from
st_daemon_main like every Strata daemon): auth, routing, errors, limits,
streaming, metadata compare-and-swap, metrics, config errors, graceful stop."""
import hashlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid

import pytest
import requests

from conftest import BUILD, write_config

REQ_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def testd(testd_factory):
    return testd_factory()


@pytest.fixture(scope="module")
def admin(strata_env):
    return {"X-Auth-Token": strata_env["STRATA_ADMIN_TOKEN"]}


def mint(testd, admin, user="alice", project="p1", roles=("member",), ttl=3600):
    r = requests.post(testd.url + "/v1/tokens", headers=admin,
                      json={"user": user, "project": project, "roles": list(roles), "ttl": ttl})
    assert r.status_code == 201, r.text
    return {"X-Auth-Token": r.json()["token"]}


def fault(r, status, name):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body[name]["code"] == status and body[name]["message"], body
    return body[name]["message"]


def test_healthz_and_metrics_are_public(testd):
    r = requests.get(testd.url + "/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    requests.get(testd.url + "/v1/json")  # something to count
    r = requests.get(testd.url + "/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE strata_http_requests_total counter" in r.text
    assert re.search(r'strata_http_requests_total\{[^}]*status="(401|405)"[^}]*\} \d+', r.text), r.text
    assert "strata_http_request_duration_seconds_bucket" in r.text


def test_request_id_generated_and_reused(testd, admin):
    r = requests.get(testd.url + "/healthz")
    assert REQ_ID.match(r.headers["X-Openstack-Request-Id"])
    mine = "req-" + str(uuid.uuid4())
    r = requests.get(testd.url + "/v1/echo/x/items/y", headers=dict(admin, **{"X-Openstack-Request-Id": mine}))
    assert r.headers["X-Openstack-Request-Id"] == mine
    r = requests.get(testd.url + "/nope", headers={"X-Openstack-Request-Id": "req-<script>"})
    assert REQ_ID.match(r.headers["X-Openstack-Request-Id"])


def test_tokens(testd, admin):
    r = requests.get(testd.url + "/v1/echo/x/items/y")
    fault_or_error = r.json()
    assert r.status_code == 401 and fault_or_error
    alice = mint(testd, admin)
    r = requests.get(testd.url + "/v1/echo/x/items/y", headers=alice)
    assert r.status_code == 200
    assert r.json()["user"] == "alice" and r.json()["project"] == "p1"
    assert r.json()["roles"] == ["member"] and r.json()["admin"] is False
    # forged: flip one character of the payload, of the MAC; truncate; garbage
    tok = alice["X-Auth-Token"]
    head, payload, mac = tok.split(".")
    flip = lambda s, i: s[:i] + ("A" if s[i] != "A" else "B") + s[i + 1:]
    for bad in (".".join([head, flip(payload, 5), mac]), ".".join([head, payload, flip(mac, 3)]),
                tok[:-4], "garbage", "", "st1..", tok + "x"):
        r = requests.get(testd.url + "/v1/echo/x/items/y", headers={"X-Auth-Token": bad})
        assert r.status_code == 401, bad
    # expired
    old = mint(testd, admin, ttl=-10)
    assert requests.get(testd.url + "/v1/echo/x/items/y", headers=old).status_code == 401
    # admin-only route: member 403, admin 200
    fault(requests.get(testd.url + "/v1/admin", headers=alice), 403, "forbidden")
    assert requests.get(testd.url + "/v1/admin", headers=admin).status_code == 200
    # no token is leaked in the log
    assert tok not in testd.output()


def test_routing(testd, admin):
    r = requests.get(testd.url + "/v1/echo/a%20b/items/c%2Fd?q=x%26y", headers=admin)
    assert r.status_code == 200
    assert (r.json()["a"], r.json()["b"], r.json()["q"]) == ("a b", "c/d", "x&y")
    assert requests.get(testd.url + "/v1/echo/a/items/b/", headers=admin).status_code == 200
    fault(requests.get(testd.url + "/v1/nothing", headers=admin), 404, "itemNotFound")
    r = requests.delete(testd.url + "/v1/json", headers=admin)
    fault(r, 405, "badMethod")
    assert "POST" in r.headers["Allow"]


def test_bad_json_and_limits(testd, admin):
    h = dict(admin, **{"Content-Type": "application/json"})
    assert requests.post(testd.url + "/v1/json", headers=h, data='{"a": [1, 2]}').json() == {"received": {"a": [1, 2]}}
    for bad in ('{"a": ', "not json", "[1, 2]", '"str"', "{\"a\": 1}}"):
        fault(requests.post(testd.url + "/v1/json", headers=h, data=bad), 400, "badRequest")
    big = '{"a": "' + "x" * (2 << 20) + '"}'          # over the 1 MiB default
    fault(requests.post(testd.url + "/v1/json", headers=h, data=big), 413, "overLimit")
    gen = (chunk for chunk in [b'{"a": "'] + [b"x" * 65536] * 40 + [b'"}'])   # chunked, no length
    fault(requests.post(testd.url + "/v1/json", headers=h, data=gen), 413, "overLimit")
    # the server is still fine afterwards
    assert requests.post(testd.url + "/v1/json", headers=h, data="{}").status_code == 200


def test_unauthenticated_upload_refused_before_body(testd):
    # A 10 GiB upload without a token is refused from its headers alone.
    s = socket.create_connection(("127.0.0.1", testd.port))
    s.sendall(b"PUT /v1/blob/x HTTP/1.1\r\nHost: t\r\nContent-Length: 10737418240\r\n\r\n")
    s.settimeout(10)
    head = s.recv(4096).decode()
    s.close()
    assert head.startswith("HTTP/1.1 401"), head


BLOCK = bytes((i * 7) % 251 for i in range(251 * 4096))   # whole periods of the pattern


def pattern(n):
    """n bytes where byte i is (i*7) % 251 (what strata-testd streams), in ~1 MiB chunks."""
    pos = 0
    while pos < n:
        take = min(len(BLOCK), n - pos)
        yield BLOCK[:take]
        pos += take


class Body:
    """A streamed request body of known length (so requests sends Content-Length)."""

    def __init__(self, n, digest):
        self.n, self.digest = n, digest

    def __len__(self):
        return self.n

    def __iter__(self):
        for c in pattern(self.n):
            self.digest.update(c)
            yield c


def test_stream_upload_1gib_without_buffering(testd, admin):
    size = 1 << 30
    rss_before = testd.rss_peak_kib()
    want = hashlib.sha256()
    h = dict(admin, **{"Content-Type": "application/octet-stream"})
    r = requests.put(testd.url + "/v1/blob/big", headers=h, data=Body(size, want))
    assert r.status_code == 200, r.text
    assert r.json()["bytes"] == size and r.json()["sha256"] == want.hexdigest()
    grown_mib = (testd.rss_peak_kib() - rss_before) / 1024
    assert grown_mib < 64, "peak RSS grew %.0f MiB streaming 1 GiB" % grown_mib


def test_stream_download(testd, admin):
    for query in ("size=100000000", "size=33554433&chunked=1"):
        n = int(query.split("&")[0].split("=")[1])
        r = requests.get(testd.url + "/v1/blob?" + query, headers=admin, stream=True)
        assert r.status_code == 200
        got, h = 0, hashlib.sha256()
        for c in r.iter_content(1 << 20):
            got += len(c)
            h.update(c)
        want = hashlib.sha256()
        for c in pattern(n):
            want.update(c)
        assert got == n and h.hexdigest() == want.hexdigest()


def test_records_compare_and_swap(testd, admin):
    rid = "rec-" + uuid.uuid4().hex
    r = requests.post(testd.url + "/v1/records", headers=admin, json={"id": rid, "n": 1})
    assert r.status_code == 201 and r.json()["version"] == 1
    fault(requests.post(testd.url + "/v1/records", headers=admin, json={"id": rid}), 409, "conflictingRequest")
    # two writers read version 1; exactly one update wins
    results = []

    def writer(n):
        results.append(requests.put(testd.url + "/v1/records/" + rid,
                                    headers=dict(admin, **{"If-Match": "1"}), json={"id": rid, "n": n}))

    ts = [threading.Thread(target=writer, args=(n,)) for n in (2, 3)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    winner = [r for r in results if r.status_code == 200][0].json()
    now = requests.get(testd.url + "/v1/records/" + rid, headers=admin).json()
    assert now["version"] == 2 and now["data"]["n"] == winner["data"]["n"]
    fault(requests.get(testd.url + "/v1/records/nope-" + rid, headers=admin), 404, "itemNotFound")
    assert requests.delete(testd.url + "/v1/records/" + rid, headers=admin).status_code == 204
    fault(requests.get(testd.url + "/v1/records/" + rid, headers=admin), 404, "itemNotFound")
    fault(requests.get(testd.url + "/v1/records/bad%2Fid", headers=admin), 400, "badRequest")


def test_graceful_stop_finishes_inflight(testd_factory, admin):
    d = testd_factory()
    out = {}

    def slow():
        out["r"] = requests.get(d.url + "/v1/slow?ms=1500", headers=admin)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)
    d.proc.send_signal(signal.SIGTERM)
    t.join()
    assert out["r"].status_code == 200 and out["r"].json() == {"slept_ms": 1500}
    assert d.proc.wait(30) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(d.url + "/healthz", timeout=2)


def run_bad_config(tmp_path, home, extra):
    conf = write_config(str(tmp_path / "bad.conf"), os.path.join(home, "etc", "strata.conf"), extra)
    p = subprocess.run([os.path.join(BUILD, "tests", "strata-testd"), "--config", conf],
                       capture_output=True, text=True, timeout=30)
    return conf, p


def test_bad_config_stops_with_one_clear_line(tmp_path, home):
    conf, p = run_bad_config(tmp_path, home, {"http": {"threads": "lots"}})
    assert p.returncode == 1
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, p.stderr
    assert conf in lines[0] and "[http]" in lines[0] and "threads" in lines[0] and "lots" in lines[0]
    conf, p = run_bad_config(tmp_path, home, {"testd": {"port": "70000"}})
    assert p.returncode == 1 and "[testd]" in p.stderr and "port" in p.stderr and "70000" in p.stderr
    p = subprocess.run([os.path.join(BUILD, "tests", "strata-testd"), "--config", str(tmp_path / "missing.conf")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "missing.conf" in p.stderr


def test_unknown_key_warns_and_taken_port_named(testd_factory, testd):
    d = testd_factory({"http": {"thraeds": "4"}})
    assert "thraeds" in d.output() and "[http]" in d.output()
    clash = testd_factory({"testd": {"port": testd.port}}, wait=False)
    assert clash.proc.wait(30) == 1
    assert str(testd.port) in clash.output() and "in use" in clash.output()
