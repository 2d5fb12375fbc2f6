"""tools/strata bench volumes — blockd's benchmarks against a running Strata
(`tools/strata up`), beside the platform's own librbd doing the same RBD work
in-process (the floor):

1. latency p50/p99, request to "available" (or gone): create an empty 1 GiB
   volume, create from a 1 GiB and a 10 GiB image, snapshot, volume from
   snapshot, extend, delete;
2. GET /v3/{project}/volumes/{id} and volumes/detail?limit=100: requests/second,
   16 connections, 10 s (wrk).

Runs in a project of its own (bench-volumes-<random>, a member token minted
with `tools/strata token`) whose quota the admin token raises to what N needs,
so it runs on a fresh `tools/strata up`; the quota is reset at the end.

Prints figures; asserts nothing.  Usage: bench_volumes.py STRATA_HOME [-n N]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

import rados
import rbd
import requests

from bench_images import create_image, curl_upload, pct, read_env

GIB = 1 << 30
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def member_token(home, project):
    out = subprocess.run([os.path.join(TOP, "tools", "strata"), "token", "--project", project,
                          "--user", "u-" + project, "--roles", "member"],
                         env=dict(os.environ, STRATA_HOME=home), capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("cannot mint a token for %s: %s" % (project, out.stderr.strip()))
    return out.stdout.strip()


def volume_root(env):
    """http://host:port/v3 of blockd (STRATA_VOLUME_URL ends with the admin project)."""
    return env["STRATA_VOLUME_URL"].rstrip("/").rsplit("/", 1)[0]


class Api:
    """blockd as the bench's own project: a member token, the quota set by the admin."""

    def __init__(self, env, home, n):
        self.project = "bench-volumes-" + uuid.uuid4().hex[:8]
        self.tok = member_token(home, self.project)
        self.base = "%s/%s" % (volume_root(env), self.project)
        self.h = {"X-Auth-Token": self.tok}
        self.admin = {"X-Auth-Token": env["STRATA_ADMIN_TOKEN"]}
        self.quota_url = "%s/%s/os-quota-sets/%s" % (volume_root(env), env["STRATA_ADMIN_PROJECT_ID"],
                                                    self.project)
        # n empty + 2n from images + n from snapshots, n snapshots; sizes 1 + 10 + 10 + 1 GiB, +1 extend
        need = {"volumes": 4 * n + 10, "snapshots": n + 10, "gigabytes": 30 * n + 100}
        r = requests.put(self.quota_url, headers=self.admin, json={"quota_set": need})
        if r.status_code != 200:
            sys.exit("cannot set the quota of %s: %s %s" % (self.project, r.status_code, r.text))
        print("project %s, quota %s" % (self.project, need))

    def reset_quota(self):
        requests.delete(self.quota_url, headers=self.admin)

    def post(self, path, body):
        r = requests.post(self.base + path, headers=self.h, json=body)
        r.raise_for_status()
        return r.json()

    def status(self, kind, ident):
        r = requests.get("%s/%s/%s" % (self.base, kind, ident), headers=self.h)
        return "gone" if r.status_code == 404 else r.json()[kind[:-1]]["status"]

    def wait(self, kind, ident, want, t0):
        while True:
            st = self.status(kind, ident)
            if st == want:
                return time.monotonic() - t0
            if st.startswith("error"):
                raise RuntimeError("%s %s went %s" % (kind, ident, st))
            time.sleep(0.005)


def timed_op(api, kind, body=None, path=None, method="post", want="available"):
    t0 = time.monotonic()
    if method == "post":
        ident = api.post(path or "/" + kind, body)[kind[:-1]]["id"]
    else:
        ident = body
        r = requests.delete("%s/%s/%s" % (api.base, kind, ident), headers=api.h)
        r.raise_for_status()
    return ident, api.wait(kind, ident, want, t0)


def report(name, lat, floor=None):
    p50, p99 = pct(lat, 50) * 1000, pct(lat, 99) * 1000
    extra = ""
    if floor:
        extra = "   librbd alone p50 %6.1f ms" % (pct(floor, 50) * 1000)
    print("%-28s p50 %7.1f ms  p99 %7.1f ms%s" % (name, p50, p99, extra))
    return {"p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
            "librbd_p50_ms": round(pct(floor, 50) * 1000, 1) if floor else None}


def librbd_floor(conf, n):
    """The same RBD work in-process with python-rbd, no HTTP, no records."""
    c = rados.Rados(conffile=conf, name="client.admin")
    c.connect(timeout=15)
    io = c.open_ioctx("strata.volumes")
    R = rbd.RBD()
    out = {k: [] for k in ("create", "snapshot", "clone", "extend", "delete")}
    for _ in range(n):
        name = "bench-floor-" + uuid.uuid4().hex[:10]
        t = time.monotonic(); R.create(io, name, GIB); out["create"].append(time.monotonic() - t)
        t = time.monotonic()
        with rbd.Image(io, name) as im:
            im.create_snap("s"); im.protect_snap("s")
        out["snapshot"].append(time.monotonic() - t)
        t = time.monotonic(); R.clone(io, name, "s", io, name + "-c"); out["clone"].append(time.monotonic() - t)
        t = time.monotonic()
        with rbd.Image(io, name + "-c") as im:
            im.resize(2 * GIB)
        out["extend"].append(time.monotonic() - t)
        t = time.monotonic()
        R.remove(io, name + "-c")
        with rbd.Image(io, name) as im:
            im.unprotect_snap("s"); im.remove_snap("s")
        R.remove(io, name)
        out["delete"].append((time.monotonic() - t) / 2)
    io.close()
    c.shutdown()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("home")
    ap.add_argument("-n", type=int, default=20)
    a = ap.parse_args()
    env = read_env(a.home)
    if "STRATA_VOLUME_URL" not in env:
        sys.exit("strata-blockd is not running in %s" % a.home)
    n = a.n
    api = Api(env, a.home, n)
    results = {}
    floor = librbd_floor(env["CEPH_CONF"], n)

    lat, vols = [], []
    for _ in range(n):
        v, t = timed_op(api, "volumes", {"volume": {"size": 1}})
        vols.append(v)
        lat.append(t)
    results["create_empty_1g"] = report("create empty 1 GiB", lat, floor["create"])

    with tempfile.TemporaryDirectory(dir=a.home) as work:
        images = {}
        for gib in (1, 10):
            raw = os.path.join(work, "s.raw")
            with open(raw, "wb") as f:
                f.write(os.urandom(1 << 20))
                f.truncate(gib * GIB)
            qcow = os.path.join(work, "s.qcow2")
            subprocess.run(["qemu-img", "convert", "-O", "qcow2", raw, qcow], check=True)
            os.unlink(raw)
            images[gib] = create_image(env["STRATA_IMAGE_URL"], api.tok, "bench-vol-%dg" % gib, "qcow2")
            curl_upload(env["STRATA_IMAGE_URL"], api.tok, images[gib], qcow)
            os.unlink(qcow)
    time.sleep(3)
    lat = {1: [], 10: []}
    for _ in range(n):
        for gib, img in images.items():   # interleaved: same conditions for both
            v, t = timed_op(api, "volumes", {"volume": {"size": 10, "imageRef": img}})
            vols.append(v)
            lat[gib].append(t)
    for gib in (1, 10):
        results["create_from_%dg_image" % gib] = report("create from %d GiB image" % gib, lat[gib],
                                                        floor["clone"])

    lat, snaps = [], []
    for v in vols[:n]:
        s, t = timed_op(api, "snapshots", {"snapshot": {"volume_id": v}})
        snaps.append(s)
        lat.append(t)
    results["snapshot"] = report("snapshot", lat, floor["snapshot"])
    lat = []
    for s in snaps:
        v, t = timed_op(api, "volumes", {"volume": {"snapshot_id": s}})
        vols.append(v)
        lat.append(t)
    results["volume_from_snapshot"] = report("volume from snapshot", lat, floor["clone"])
    lat = []
    for v in vols[:n]:
        t0 = time.monotonic()
        requests.post("%s/volumes/%s/action" % (api.base, v), headers=api.h,
                      json={"os-extend": {"new_size": 2}}).raise_for_status()
        lat.append(api.wait("volumes", v, "available", t0))
    results["extend"] = report("extend 1 -> 2 GiB", lat, floor["extend"])

    # reads, while the volumes exist
    for what, path in (("GET volume", "/volumes/" + vols[0]), ("GET detail?limit=100", "/volumes/detail?limit=100")):
        p = subprocess.run(["wrk", "-t2", "-c16", "-d10s", "-H", "X-Auth-Token: " + api.tok,
                            "-H", "OpenStack-API-Version: volume 3.44", api.base + path],
                           capture_output=True, text=True)
        rps = [l for l in p.stdout.splitlines() if "Requests/sec" in l]
        print("%-28s %s" % (what, rps[0].strip() if rps else p.stdout + p.stderr))
        if rps:
            results[what.split("?")[0].replace(" ", "_").lower() + "_rps"] = float(rps[0].split()[-1])

    # clones of the snapshots first, then the snapshots, then everything else
    lat = []
    from_snap, rest = vols[-n:], vols[:-n]
    for v in from_snap:
        _, t = timed_op(api, "volumes", v, method="delete", want="gone")
        lat.append(t)
    for s in snaps:
        timed_op(api, "snapshots", s, method="delete", want="gone")
    for v in rest:
        _, t = timed_op(api, "volumes", v, method="delete", want="gone")
        lat.append(t)
    results["delete"] = report("delete", lat, floor["delete"])
    for img in images.values():
        requests.delete(env["STRATA_IMAGE_URL"] + "/v2/images/" + img, headers=api.h)
    api.reset_quota()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
