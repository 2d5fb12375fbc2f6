"""Connection exhaustion, on every daemon (imaged, blockd, the compute agent):
1,200 sockets from 127.0.0.2 send a partial request head and then one header
line every second.  Clients from 127.0.0.1 keep getting answers in under a
second, the per-address limit turns most slow sockets away at once, the server
closes the others when their head deadline passes (each line sent does not
extend it), and the refusals are logged, once per interval, not once a socket."""
import resource
import selectors
import socket
import threading
import time

import pytest
import requests

from conftest import free_port

SLOW = 1200
PER_IP = 200
HEAD_TIMEOUT = 3.0  # [http] header_timeout of the daemons started here
SLACK = 2.0         # the reaper ticks every head_timeout / 4, plus scheduling
TRICKLE_EVERY = 1.0
HTTP = {"header_timeout": "%ds" % HEAD_TIMEOUT, "max_connections_per_ip": PER_IP}


@pytest.fixture(scope="module", autouse=True)
def enough_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = SLOW + 512
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            pytest.fail("RLIMIT_NOFILE hard limit %d is below the %d sockets this test needs" % (hard, want))
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Prober(threading.Thread):
    """GETs each URL from 127.0.0.1 every 0.2 s (a fresh connection each time)
    and records (url, status or error, seconds)."""

    def __init__(self, urls, headers):
        super().__init__(daemon=True)
        self.urls, self.headers, self.results = urls, headers, []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            for url in self.urls:
                t = time.monotonic()
                try:
                    status = requests.get(url, headers=self.headers, timeout=1.0).status_code
                except requests.RequestException as e:
                    status = type(e).__name__
                self.results.append((url, status, time.monotonic() - t))
            self.done.wait(0.2)


def slowloris(port, duration):
    """SLOW trickling sockets from 127.0.0.2: {socket: (opened, closed by the server or None)}."""
    sel = selectors.DefaultSelector()
    opened, closed = {}, {}
    for _ in range(SLOW):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        opened[s] = time.monotonic()
        sel.register(s, selectors.EVENT_READ)
        try:
            s.send(b"GET /healthz HTTP/1.1\r\nHost: slow\r\n")
        except OSError:
            closed[s] = time.monotonic()

    def gone(s):
        if s not in closed:
            closed[s] = time.monotonic()

    end = time.monotonic() + duration
    next_line, n = time.monotonic() + TRICKLE_EVERY, 0
    while time.monotonic() < end and len(closed) < SLOW:
        for key, _ in sel.select(timeout=0.1):
            try:
                if not key.fileobj.recv(4096):
                    gone(key.fileobj)
            except OSError:
                gone(key.fileobj)
            if key.fileobj in closed:
                sel.unregister(key.fileobj)
        if time.monotonic() >= next_line:
            n += 1
            for s in opened:
                if s not in closed:
                    try:
                        s.send(b"X-Slow-%d: still coming\r\n" % n)
                    except OSError:
                        gone(s)
            next_line += TRICKLE_EVERY
    result = {s: (opened[s], closed.get(s)) for s in opened}
    for s in opened:
        s.close()
    sel.close()
    return result


def start(service_factory, tmp_path, kind):
    port = free_port()
    extra = {"http": HTTP}
    if kind == "computed":
        # a host no flavor fits, in a zone of its own, so nothing is ever placed on it
        extra["computed"] = {"host": "e2e-slowloris", "state_dir": str(tmp_path / "compute"),
                             "hypervisor": "qemu", "vcpus": 1, "ram_mb": 1, "disk_gb": 1,
                             "availability_zone": "e2e-slowloris"}
    return service_factory(kind, port, extra), port


def authed_url(kind, d, strata_env):
    if kind == "imaged":
        return d.url + "/v2/images"
    if kind == "blockd":
        return d.url + "/v3/%s/volumes" % strata_env["STRATA_ADMIN_PROJECT_ID"]
    return d.url + "/v1/host"


@pytest.mark.parametrize("kind", ["imaged", "blockd", "computed"])
def test_slow_clients_cannot_exhaust_connections(service_factory, tmp_path, strata_env, kind):
    d, port = start(service_factory, tmp_path, kind)
    admin = {"X-Auth-Token": strata_env["STRATA_ADMIN_TOKEN"]}
    urls = [d.url + "/healthz", authed_url(kind, d, strata_env)]
    for url in urls:
        assert requests.get(url, headers=admin, timeout=5).status_code == 200, url
    prober = Prober(urls, admin)
    prober.start()
    try:
        socks = slowloris(port, HEAD_TIMEOUT + SLACK + 2)
    finally:
        prober.done.set()
        prober.join()

    # 127.0.0.1 was answered throughout, each time in under a second
    assert len(prober.results) >= 10, prober.results
    bad = [r for r in prober.results if r[1] != 200 or r[2] >= 1.0]
    assert not bad, "%d of %d probes failed or were slow: %s" % (len(bad), len(prober.results), bad[:10])

    # every slow socket was closed by the server within the deadline
    lasted = sorted((closed - opened) if closed else None for opened, closed in socks.values())
    still_open = sum(1 for t in lasted if t is None)
    assert still_open == 0, "%d of %d slow sockets were never closed" % (still_open, SLOW)
    assert lasted[-1] <= HEAD_TIMEOUT + SLACK, lasted[-10:]
    # those past the per-address limit at once; the admitted ones (at most the
    # limit) only when their head deadline passed, although they kept sending
    admitted = [t for t in lasted if t > 1.0]
    assert 0 < len(admitted) <= PER_IP, (len(admitted), lasted[:5], lasted[-5:])
    assert min(admitted) >= HEAD_TIMEOUT - 0.3, admitted[:5]

    # the refusals and the reaping were logged, summarised rather than one line a socket
    log = d.output()
    refused = [l for l in log.splitlines() if "refused" in l and "connection limit" in l]
    assert refused and len(refused) <= 3, refused
    assert "127.0.0.2" in refused[0] and "max_connections_per_ip" in refused[0], refused[0]
    assert "Server reached connection limit" not in log
    mhd = [l for l in log.splitlines() if "microhttpd:" in l]
    assert len(mhd) <= 12, "%d microhttpd lines: %s" % (len(mhd), mhd[:3])
    reaped = [l for l in log.splitlines() if "no complete request head" in l]
    assert reaped and len(reaped) <= 3, reaped
