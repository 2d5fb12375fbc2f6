"""Fixtures for Strata's end-to-end tests.

`tools/strata test` runs these against a throw-away embedded cluster: it exports
STRATA_HOME (whose strata.env holds endpoints and credentials), STRATA_BUILD_DIR
and STRATA_TOP.  Everything here talks to real Ceph, real libvirt, real HTTP.
"""
import glob
import os
import re
import shlex
import signal
import socket
import subprocess
import time

import pytest
import requests

TOP = os.environ.get("STRATA_TOP", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
BUILD = os.environ.get("STRATA_BUILD_DIR", os.path.join(TOP, "build"))


def _read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("export "):
                k, _, v = line[len("export "):].partition("=")
                env[k] = shlex.split(v)[0] if v else ""
    return env


@pytest.fixture(scope="session")
def home():
    h = os.environ.get("STRATA_HOME")
    if not h or not os.path.exists(os.path.join(h, "strata.env")):
        pytest.fail("STRATA_HOME with a strata.env is required: run these through `tools/strata test`")
    return h


@pytest.fixture(scope="session")
def strata_env(home):
    return _read_env(os.path.join(home, "strata.env"))


@pytest.fixture(scope="session")
def ceph_conf(strata_env):
    return strata_env["CEPH_CONF"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    """A Strata daemon process started by a test, with its own config file."""

    def __init__(self, binary, config_path, log_path):
        self.binary, self.config, self.log_path = binary, config_path, log_path
        self.proc = None

    def start(self, wait_url=None, timeout=30):
        watch_log(self.log_path)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "--config", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if wait_url:
            deadline = time.time() + timeout
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("%s exited with %s:\n%s" % (self.binary, self.proc.returncode, self.output()))
                try:
                    if requests.get(wait_url + "/healthz", timeout=2).status_code == 200:
                        return self
                except requests.ConnectionError:
                    pass
                time.sleep(0.1)
            raise RuntimeError("%s did not become healthy:\n%s" % (self.binary, self.output()))
        return self

    def stop(self, sig=signal.SIGTERM, timeout=40):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def rss_peak_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmHWM")


# ---- sanitizer reports ----
# `tools/strata test` runs the daemons built with ASan/UBSan (STRATA_BUILD_DIR
# is the sanitized tree; the sanitizer options are in the environment, which
# every daemon started here or by `tools/strata up` inherits).  A report in any
# daemon's log fails the test during which it appeared, and tools/lib/test.sh
# reads every log again once the daemons have stopped (leak checks run at
# exit).  Logs of daemons started by a test are listed in
# $STRATA_HOME/e2e-daemon-logs for that final scan.

SANITIZER_REPORT = re.compile(rb"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:")
_watched = []   # logs of daemons started by the tests
_offsets = {}   # log -> bytes already read


def watch_log(path):
    """Scan this daemon log for sanitizer reports from now on (and at the end of the run)."""
    if path in _watched:
        return
    _watched.append(path)
    home = os.environ.get("STRATA_HOME")
    if home and os.path.isdir(home):
        with open(os.path.join(home, "e2e-daemon-logs"), "a") as f:
            f.write(path + "\n")


def new_sanitizer_reports():
    """Sanitizer reports written to the daemons' logs since the last call, as text."""
    home = os.environ.get("STRATA_HOME")
    paths = sorted(glob.glob(os.path.join(home, "log", "*.log"))) if home else []
    out = []
    for path in paths + _watched:
        try:
            with open(path, "rb") as f:
                f.seek(_offsets.get(path, 0))
                data = f.read()
        except OSError:
            continue
        if not data.endswith(b"\n"):   # a line being written: next time
            data = data[:data.rfind(b"\n") + 1]
        _offsets[path] = _offsets.get(path, 0) + len(data)
        m = SANITIZER_REPORT.search(data)
        if m:
            begin = data.rfind(b"\n", 0, m.start()) + 1
            end = data.find(b"\nSUMMARY: ", m.start())
            end = data.find(b"\n", end + 1) if end >= 0 else -1
            out.append("%s:\n%s" % (path, data[begin:end if end >= 0 else len(data)]
                                     .decode(errors="replace")))
    return "\n".join(out)


@pytest.fixture(autouse=True)
def no_sanitizer_report():
    """Fails the test during which a daemon wrote a sanitizer report."""
    yield
    text = new_sanitizer_reports()
    if text:
        pytest.fail("sanitizer report(s) in daemon logs:\n" + text[:20000], pytrace=False)


def write_config(path, base_conf, extra):
    """A config = the home's strata.conf plus extra sections/keys (dict of dicts)."""
    with open(base_conf) as f:
        text = f.read()
    for section, kv in extra.items():
        text += "\n[%s]\n" % section + "".join("%s = %s\n" % (k, v) for k, v in kv.items())
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


@pytest.fixture(scope="session")
def testd_factory(home, tmp_path_factory):
    """Start strata-testd (the harness daemon) with a config of the test's choosing."""
    started = []
    base = os.path.join(home, "etc", "strata.conf")
    binary = os.path.join(BUILD, "tests", "strata-testd")

    def make(extra=None, wait=True):
        d = tmp_path_factory.mktemp("testd")
        port = free_port()
        cfg = {"testd": {"port": port, "ceph_user": "strata-scheduler"}}
        for k, v in (extra or {}).items():
            cfg.setdefault(k, {}).update(v)
        conf = write_config(str(d / "strata.conf"), base, cfg)
        daemon = Daemon(binary, conf, str(d / "testd.log"))
        daemon.url = "http://127.0.0.1:%d" % port
        daemon.port = port
        started.append(daemon)
        return daemon.start(daemon.url if wait else None)

    yield make
    for d in started:
        d.stop(signal.SIGKILL)


BINARIES = {"imaged": "imaged/strata-imaged", "blockd": "blockd/strata-blockd",
            "computed": "compute/strata-computed"}


@pytest.fixture
def service_factory(home, tmp_path):
    """Start a Strata daemon of the test's own: make(daemon, port, extra), daemon
    one of BINARIES, with the home's config plus extra sections ({section: {key:
    value}}) and [daemon] port.  Killed at the end."""
    started = []

    def make(daemon, port, extra=None):
        cfg = {daemon: {"port": port}}
        for section, kv in (extra or {}).items():
            cfg.setdefault(section, {}).update(kv)
        name = "%s-%d" % (daemon, len(started))
        conf = write_config(str(tmp_path / (name + ".conf")),
                            os.path.join(home, "etc", "strata.conf"), cfg)
        d = Daemon(os.path.join(BUILD, BINARIES[daemon]), conf, str(tmp_path / (name + ".log")))
        d.url = "http://127.0.0.1:%d" % port
        started.append(d)
        return d.start(d.url)

    yield make
    for d in started:
        d.stop(signal.SIGKILL)


@pytest.fixture
def blockd_factory(service_factory):
    """Start a strata-blockd of the test's own (own port, the home's config plus
    extra [blockd] keys): make(port, **blockd).  Killed at the end."""
    return lambda port, **blockd: service_factory("blockd", port, {"blockd": blockd})


@pytest.fixture
def imaged_factory(service_factory):
    """Start a strata-imaged of the test's own (own port, the home's config plus
    extra [imaged] keys): make(port, **imaged).  Killed at the end."""
    return lambda port, **imaged: service_factory("imaged", port, {"imaged": imaged})
