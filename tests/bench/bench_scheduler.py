"""tools/strata bench scheduler — the scheduler's benchmarks:

1. placement decision time at 100, 1,000 and 10,000 synthetic hosts
   (in-process, strata-bench-placement): p50/p99 and the growth;
2. compute API create -> ACTIVE (domain running on the agent; the guest's
   own boot not included): p50/p99 over N servers one at a time, beside the
   agent's own spawn -> running in the same run (the floor the scheduler adds
   placement, claim and polling to);
3. N servers created at once by 4 clients: all placed, no host over its
   limits (the hypervisor usage after the burst).

Prints figures; asserts nothing.  Usage: bench_scheduler.py STRATA_HOME BUILD_DIR [-n N]
"""
import argparse
import concurrent.futures as cf
import os
import subprocess
import sys
import time
import uuid

import requests

from bench_boot import Agent, wait_running
from bench_images import pct, read_env

PROJECT = "bench-sched"


def token(home, build):
    return subprocess.run([os.path.join(build, "tools", "strata-token"), "--config",
                           os.path.join(home, "etc", "strata.conf"), "--project", PROJECT,
                           "--user", "u-" + PROJECT, "--roles", "member"],
                          capture_output=True, text=True, check=True).stdout.strip()


class Compute:
    def __init__(self, env, tok):
        self.url = env["STRATA_COMPUTE_URL"]
        self.h = {"X-Auth-Token": tok}
        self.admin = {"X-Auth-Token": env["STRATA_ADMIN_TOKEN"]}

    def create(self, image, name):
        r = requests.post(self.url + "/servers", headers=self.h, json={
            "server": {"name": name, "imageRef": image, "flavorRef": "0"}})
        r.raise_for_status()
        return r.json()["server"]["id"]

    def status(self, sid):
        r = requests.get(self.url + "/servers/" + sid, headers=self.h)
        return r.json()["server"]["status"] if r.status_code == 200 else None

    def wait(self, sid, t0, timeout=300):
        while time.time() - t0 < timeout:
            st = self.status(sid)
            if st in ("ACTIVE", "ERROR"):
                return st, time.time() - t0
            time.sleep(0.05)
        return "TIMEOUT", time.time() - t0

    def delete(self, sids):
        for sid in sids:
            requests.delete(self.url + "/servers/" + sid, headers=self.h)
        deadline = time.time() + 300
        while time.time() < deadline and any(
                requests.get(self.url + "/servers/" + s, headers=self.h).status_code != 404
                for s in sids):
            time.sleep(0.5)

    def hypervisors(self):
        return requests.get(self.url + "/os-hypervisors/detail", headers=self.admin).json()[
            "hypervisors"]


def placement(build):
    print("== placement decision (in-process, synthetic hosts)")
    sys.stdout.flush()
    subprocess.run([os.path.join(build, "tests", "strata-bench-placement")], check=False)


def sequential(compute, agent, n):
    api, floor = [], []
    for i in range(n):
        t0 = time.time()
        sid = compute.create(agent.image, "bench-%d" % i)
        st, dt = compute.wait(sid, t0)
        if st != "ACTIVE":
            print("  server %s: %s" % (sid, st))
        api.append(dt)
        compute.delete([sid])
        sid = str(uuid.uuid4())
        t0 = time.monotonic()   # wait_running's clock
        agent.spawn(sid)
        floor.append(wait_running(agent, sid, t0))
        agent.delete(sid)
        while agent.server(sid):
            time.sleep(0.2)
    p50, f50 = pct(api, 50), pct(floor, 50)
    print("== create -> ACTIVE (domain running), %d servers one at a time" % n)
    print("  compute API (scheduler): p50 %.2f s  p99 %.2f s" % (p50, pct(api, 99)))
    print("  agent spawn (floor)    : p50 %.2f s  p99 %.2f s" % (f50, pct(floor, 99)))
    print("  ratio API/agent p50    : %.2f" % (p50 / f50 if f50 else 0))


def capacity(compute):
    """m1.nano servers (1 vCPU, 256 MiB) the hosts still have room for."""
    room = 0
    for h in compute.hypervisors():
        if h["state"] == "up":
            room += max(0, min(int(h["vcpus"] * 4.0) - h["vcpus_used"],
                               (h["memory_mb"] - 512 - h["memory_mb_used"]) // 256))
    return room


def burst(compute, image, n):
    room = capacity(compute)
    if room < n:
        print("== the hosts have room for %d m1.nano servers (vCPU x4.0, RAM - 512 MiB): "
              "the burst is %d" % (room, room))
        n = room
    t0 = time.time()

    def one(i):
        sid = compute.create(image, "burst-%d" % i)
        return sid, compute.wait(sid, t0)
    with cf.ThreadPoolExecutor(4) as ex:
        res = list(ex.map(one, range(n)))
    wall = time.time() - t0
    active = sum(1 for _, (st, _) in res if st == "ACTIVE")
    print("== %d servers created at once by 4 clients" % n)
    errors = [sid for sid, (st, _) in res if st != "ACTIVE"]
    for sid in errors:
        r = requests.get(compute.url + "/servers/" + sid, headers=compute.h).json()["server"]
        print("  %s: %s %s" % (sid, r["status"], r.get("fault", {}).get("message", "")))
    print("  ACTIVE %d of %d in %.1f s (last ACTIVE at p100 %.1f s, p50 %.1f s)" % (
        active, n, wall, max(d for _, (_, d) in res), pct([d for _, (_, d) in res], 50)))
    for h in compute.hypervisors():
        over = h["vcpus_used"] > 4 * h["vcpus"] or h["memory_mb_used"] > h["memory_mb"]
        print("  host %s: %d vCPUs used of %d (x4.0), %d MiB used of %d: %s" % (
            h["hypervisor_hostname"], h["vcpus_used"], h["vcpus"], h["memory_mb_used"],
            h["memory_mb"], "OVERCOMMITTED" if over else "within limits"))
    compute.delete([sid for sid, _ in res])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("home")
    ap.add_argument("build")
    ap.add_argument("-n", type=int, default=20)
    a = ap.parse_args()
    env = read_env(a.home)
    placement(a.build)
    if "STRATA_COMPUTE_URL" not in env:
        sys.exit("strata-scheduler is not running: tools/strata up")
    agent = Agent(env)
    compute = Compute(env, token(a.home, a.build))
    sequential(compute, agent, a.n)
    burst(compute, agent.image, a.n)


if __name__ == "__main__":
    main()
