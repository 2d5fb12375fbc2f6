"""tools/strata bench boot — the compute agent's boot benchmarks against a
running Strata (`tools/strata up`), beside QEMU booting the same disk from a
local raw file in the same run (the floor):

1. spawn call -> "STRATA-GUEST-READY" on the serial console, one guest and 4
   guests spawned together (the strata-test image: RBD clone, libvirt, QEMU);
   the floor: qemu-system-x86_64 (same accelerator) on the local raw file;
2. spawn call -> domain running (excluding the guest's own boot): p50/p99 over
   N spawns (default 20).

Prints figures; asserts nothing.  Usage: bench_boot.py STRATA_HOME [-n N]
"""
import argparse
import concurrent.futures as cf
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid

import requests

from bench_images import pct, read_env

MARKER = "STRATA-GUEST-READY server="


class Agent:
    def __init__(self, env):
        self.url = env["STRATA_AGENT_URL"]
        self.h = {"X-Auth-Token": env["STRATA_ADMIN_TOKEN"]}
        iurl = env["STRATA_IMAGE_URL"]
        imgs = requests.get(iurl + "/v2/images?name=strata-test", headers=self.h).json()["images"]
        active = [i for i in imgs if i["status"] == "active"]
        if not active:
            sys.exit("no active strata-test image in imaged: run tools/strata up")
        self.image = active[0]["id"]
        self.host = requests.get(self.url + "/v1/host", headers=self.h).json()["host"]

    def spawn(self, sid):
        body = {"id": sid, "name": "bench-" + sid[:8], "project_id": "bench", "vcpus": 1,
                "ram_mb": 256, "root_disk": {"image_id": self.image, "size_gb": 1}}
        r = requests.post(self.url + "/v1/servers", headers=self.h, json=body)
        r.raise_for_status()

    def server(self, sid):
        r = requests.get("%s/v1/servers/%s" % (self.url, sid), headers=self.h)
        return r.json()["server"] if r.status_code == 200 else None

    def console(self, sid):
        return requests.get("%s/v1/servers/%s/console" % (self.url, sid), headers=self.h).text

    def delete(self, sid):
        requests.delete("%s/v1/servers/%s" % (self.url, sid), headers=self.h)
        while self.server(sid) is not None:
            time.sleep(0.2)


def wait_running(agent, sid, t0, timeout=120):
    while time.monotonic() - t0 < timeout:
        s = agent.server(sid)
        if s and s["status"] == "error":
            raise RuntimeError("spawn failed: %s" % s["fault"])
        if s and s["status"] == "active" and s["power_state"] == "running":
            return time.monotonic() - t0
        time.sleep(0.05)
    raise RuntimeError("%s not running after %d s" % (sid, timeout))


def wait_marker(agent, sid, t0, timeout=300):
    while time.monotonic() - t0 < timeout:
        if MARKER + sid in agent.console(sid):
            return time.monotonic() - t0
        time.sleep(0.2)
    raise RuntimeError("no console marker from %s after %d s" % (sid, timeout))


def agent_boot(agent, count):
    sids = [str(uuid.uuid4()) for _ in range(count)]
    t0 = time.monotonic()
    for sid in sids:
        agent.spawn(sid)
    try:
        with cf.ThreadPoolExecutor(count) as ex:
            return list(ex.map(lambda s: wait_marker(agent, s, t0), sids))
    finally:
        for sid in sids:
            agent.delete(sid)


def local_boot(raw, accel, count):
    """qemu-system-x86_64 on the local raw file (-snapshot: nothing written)."""
    with tempfile.TemporaryDirectory() as tmp:
        procs, logs = [], []
        t0 = time.monotonic()
        for i in range(count):
            sid = str(uuid.uuid4())
            log = os.path.join(tmp, "console%d.log" % i)
            logs.append((sid, log))
            procs.append(subprocess.Popen(
                ["qemu-system-x86_64", "-machine", "pc,accel=" + ("kvm" if accel == "kvm" else "tcg"),
                 "-m", "256", "-smp", "1", "-display", "none", "-nodefaults", "-snapshot",
                 "-drive", "file=%s,format=raw,if=virtio,cache=none" % raw,
                 "-smbios", "type=1,uuid=" + sid, "-serial", "file:" + log],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        times = [None] * count
        try:
            while None in times and time.monotonic() - t0 < 300:
                for i, (sid, log) in enumerate(logs):
                    if times[i] is None and os.path.exists(log) and MARKER + sid in open(log, errors="replace").read():
                        times[i] = time.monotonic() - t0
                time.sleep(0.05)
        finally:
            for p in procs:
                p.kill()
                p.wait()
        return times


def guest_raw(home):
    for d in (os.path.join(home, "guest"), os.environ.get("STRATA_GUEST_CACHE", ""),
              os.path.expanduser("~/.cache/strata-guest")):
        if d and os.path.exists(os.path.join(d, "strata-test.raw")):
            return os.path.join(d, "strata-test.raw")
    sys.exit("no strata-test.raw: run tools/strata guest-image")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("home")
    ap.add_argument("-n", type=int, default=20, help="spawns for the spawn->running figure")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of the boot comparisons")
    a = ap.parse_args()
    env = read_env(a.home)
    agent = Agent(env)
    accel = agent.host["hypervisor_type"]
    raw = guest_raw(a.home)
    print("host %s, hypervisor %s (%s)" % (agent.host["name"], accel, agent.host["hypervisor_why"]))
    print("image strata-test %s; floor: qemu-system-x86_64 on %s" % (agent.image, raw))

    print("\n1. spawn call -> console marker (s)")
    print("   %-34s %8s %8s %8s" % ("", "strata", "local", "ratio"))
    for count in (1, 4):
        for rnd in range(a.rounds):
            s = agent_boot(agent, count)
            loc = local_boot(raw, accel, count)
            label = "%d guest%s, round %d%s" % (count, "s" if count > 1 else "", rnd + 1,
                                                " (slowest)" if count > 1 else "")
            print("   %-34s %8.1f %8.1f %7.2fx" % (label, max(s), max(loc), max(s) / max(loc)))

    print("\n2. spawn call -> domain running, %d spawns (clone + define + start; no guest boot)" % a.n)
    times = []
    for _ in range(a.n):
        sid = str(uuid.uuid4())
        t0 = time.monotonic()
        agent.spawn(sid)
        times.append(wait_running(agent, sid, t0))
        agent.delete(sid)
    print("   p50 %.3f s  p99 %.3f s  min %.3f s  max %.3f s"
          % (pct(times, 50), pct(times, 99), min(times), max(times)))


if __name__ == "__main__":
    main()
