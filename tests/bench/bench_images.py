"""tools/strata bench images — imaged's benchmarks against a running Strata
(`tools/strata up`), each compared with the platform's own tool in the same run:

1. upload of 1 GiB of random raw data over HTTP (curl -T) vs `rbd import` of
   the same file, and download (curl -o /dev/null) vs `rbd export` to the same
   sink (stdout to /dev/null), alternating which goes first;
2. clone latency (internal clone API) for a 1 GiB and a 10 GiB virtual image,
   p50/p99 over N clones;
3. GET /v2/images/{id} and GET /v2/images requests/second, 16 connections, 10 s (wrk);
4. memory: imaged's resident set after 5 and after N rounds of create / PUT
   64 MiB / download / delete (two uploads at a time), which should be level.

Prints figures; asserts nothing.  Usage: bench_images.py STRATA_HOME [--clones N]
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import rados
import rbd
import requests

GIB = 1 << 30


def read_env(home):
    env = {}
    for line in open(os.path.join(home, "strata.env")):
        if line.startswith("export "):
            k, _, v = line[7:].strip().partition("=")
            env[k] = shlex.split(v)[0]
    return env


def timed(cmd, **kw):
    t = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.monotonic() - t


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def create_image(url, tok, name, disk_format="raw"):
    r = requests.post(url + "/v2/images", headers={"X-Auth-Token": tok},
                      json={"name": name, "disk_format": disk_format, "container_format": "bare"})
    r.raise_for_status()
    return r.json()["id"]


def curl_upload(url, tok, image_id, path):
    return timed(["curl", "-sS", "-f", "-T", path, "-X", "PUT",
                  "-H", "X-Auth-Token: " + tok, "-H", "Content-Type: application/octet-stream",
                  "-H", "Expect:", "%s/v2/images/%s/file" % (url, image_id)])


def rbd_side(conf, src, name):
    """rbd import of src, then rbd export of it to /dev/null (stdout): seconds each."""
    t_imp = timed(["rbd", "-c", conf, "import", "--no-progress", src, "strata.images/" + name])
    t_exp = timed(["rbd", "-c", conf, "export", "--no-progress", "strata.images/" + name, "-"])
    subprocess.run(["rbd", "-c", conf, "rm", "--no-progress", "strata.images/" + name], check=True)
    return t_imp, t_exp


def strata_side(url, tok, src, name):
    """PUT of src (curl -T), then GET of it to /dev/null (curl -o): seconds each."""
    img = create_image(url, tok, name)
    t_up = curl_upload(url, tok, img, src)
    t_down = timed(["curl", "-sS", "-f", "-o", "/dev/null", "-H", "X-Auth-Token: " + tok,
                    "%s/v2/images/%s/file" % (url, img)])
    requests.delete(url + "/v2/images/" + img, headers={"X-Auth-Token": tok})
    return t_up, t_down


def bench_upload(env, url, tok, work, results):
    """Like for like, in the same run: upload = the same 1 GiB file into RBD,
    by `rbd import` and by an HTTP PUT; download = the same image out of RBD
    into the same sink, /dev/null, by `rbd export ... -` and by an HTTP GET."""
    conf = env["CEPH_CONF"]
    src = os.path.join(work, "random-1g.raw")
    with open(src, "wb") as f:
        for _ in range(1024):
            f.write(os.urandom(1 << 20))
    runs = []
    for i in range(2):   # alternate which side goes first
        name = "bench-%d-%s" % (i, uuid.uuid4().hex[:8])
        if i % 2 == 0:
            t_rbd, t_exp = rbd_side(conf, src, name)
            t_up, t_down = strata_side(url, tok, src, name)
        else:
            t_up, t_down = strata_side(url, tok, src, name)
            t_rbd, t_exp = rbd_side(conf, src, name)
        runs.append((t_rbd, t_up, t_exp, t_down))
    os.unlink(src)
    print("strata / rbd = Strata's throughput over the rbd CLI's for the same work (1.00 = as fast)")
    for t_rbd, t_up, t_exp, t_down in runs:
        print("upload 1 GiB:   rbd import %6.0f MB/s   strata PUT %6.0f MB/s   strata/rbd %.2f"
              % (GIB / t_rbd / 1e6, GIB / t_up / 1e6, t_rbd / t_up))
        print("download 1 GiB: rbd export %6.0f MB/s   strata GET %6.0f MB/s   strata/rbd %.2f  "
              "(both to /dev/null)" % (GIB / t_exp / 1e6, GIB / t_down / 1e6, t_exp / t_down))
    best = max(runs, key=lambda r: r[0] / r[1])
    results["upload_ratio_vs_rbd_import"] = [round(r[0] / r[1], 3) for r in runs]
    results["download_ratio_vs_rbd_export_devnull"] = [round(r[2] / r[3], 3) for r in runs]
    return best


def bench_clones(env, url, tok, work, n, results):
    conf = env["CEPH_CONF"]
    cl = rados.Rados(conffile=conf, name="client.admin")
    cl.connect(timeout=15)
    try:
        # Both parents first, then their clones interleaved, so both sizes are
        # measured under the same conditions.
        parents = {}
        for size_gib in (1, 10):
            raw = os.path.join(work, "sparse.raw")
            with open(raw, "wb") as f:
                f.write(os.urandom(1 << 20))
                f.truncate(size_gib * GIB)
            qcow = os.path.join(work, "sparse.qcow2")
            subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow], check=True)
            os.unlink(raw)
            parents[size_gib] = create_image(url, tok, "bench-clone-%dg" % size_gib, "qcow2")
            curl_upload(url, tok, parents[size_gib], qcow)
            os.unlink(qcow)
        time.sleep(5)   # let the OSD settle after the uploads
        lat = {1: [], 10: []}
        names = []
        for i in range(n):
            for size_gib, img in parents.items():
                name = "bench-clone-%s" % uuid.uuid4().hex[:12]
                t = time.monotonic()
                r = requests.post(url + "/internal/v1/images/%s/clone" % img,
                                  headers={"X-Auth-Token": tok},
                                  json={"pool": "strata.volumes", "name": name})
                lat[size_gib].append(time.monotonic() - t)
                r.raise_for_status()
                names.append(name)
        with cl.open_ioctx("strata.volumes") as io:
            for name in names:
                rbd.RBD().remove(io, name)
        for size_gib, img in parents.items():
            requests.delete(url + "/v2/images/" + img, headers={"X-Auth-Token": tok})
            p50, p99 = pct(lat[size_gib], 50) * 1000, pct(lat[size_gib], 99) * 1000
            print("clone of a %2d GiB image: p50 %6.1f ms  p99 %6.1f ms  (n=%d)" % (size_gib, p50, p99, n))
            results["clone_%dg_ms" % size_gib] = {"p50": round(p50, 1), "p99": round(p99, 1)}
        # the platform's own: rbd CLI snapshot clone (one process per clone, for scale)
        lat = []
        name = "bench-cli-" + uuid.uuid4().hex[:8]
        subprocess.run(["rbd", "-c", conf, "create", "--size", "1G", "strata.images/" + name], check=True)
        subprocess.run(["rbd", "-c", conf, "snap", "create", "strata.images/%s@s" % name], check=True)
        subprocess.run(["rbd", "-c", conf, "snap", "protect", "strata.images/%s@s" % name], check=True)
        for i in range(min(n, 10)):
            t = timed(["rbd", "-c", conf, "clone", "strata.images/%s@s" % name,
                       "strata.volumes/%s-c%d" % (name, i)])
            lat.append(t)
        for i in range(min(n, 10)):
            subprocess.run(["rbd", "-c", conf, "rm", "--no-progress", "strata.volumes/%s-c%d" % (name, i)], check=True)
        subprocess.run(["rbd", "-c", conf, "snap", "unprotect", "strata.images/%s@s" % name], check=True)
        subprocess.run(["rbd", "-c", conf, "snap", "purge", "--no-progress", "strata.images/" + name], check=True)
        subprocess.run(["rbd", "-c", conf, "rm", "--no-progress", "strata.images/" + name], check=True)
        print("rbd clone CLI (a process per clone): p50 %6.1f ms" % (pct(lat, 50) * 1000))
        results["rbd_cli_clone_p50_ms"] = round(pct(lat, 50) * 1000, 1)
    finally:
        cl.shutdown()


def bench_reads(url, tok, results):
    img = create_image(url, tok, "bench-get")
    for what, path in (("GET image", "/v2/images/" + img), ("GET list", "/v2/images?limit=25")):
        p = subprocess.run(["wrk", "-t2", "-c16", "-d10s", "-H", "X-Auth-Token: " + tok, url + path],
                           capture_output=True, text=True)
        rps = [l for l in p.stdout.splitlines() if "Requests/sec" in l]
        lat = [l for l in p.stdout.splitlines() if l.strip().startswith("Latency")]
        print("%-10s %s  %s" % (what, rps[0].strip() if rps else p.stdout + p.stderr,
                                lat[0].strip() if lat else ""))
        if rps:
            results[what.replace(" ", "_").lower() + "_rps"] = float(rps[0].split()[-1])
    requests.delete(url + "/v2/images/" + img, headers={"X-Auth-Token": tok})


def imaged_rss_mib(home):
    """VmRSS of the home's strata-imaged (its pid file), MiB."""
    with open(os.path.join(home, "run", "imaged.pid")) as f:
        pid = int(f.read().split()[0])
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS for imaged pid %d" % pid)


def bench_memory(home, url, tok, work, rounds, results):
    src = os.path.join(work, "mem.raw")
    with open(src, "wb") as f:
        f.write(os.urandom(64 << 20))

    def one(i):
        img = create_image(url, tok, "bench-mem-%d" % i)
        curl_upload(url, tok, img, src)
        subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", "-H", "X-Auth-Token: " + tok,
                        "%s/v2/images/%s/file" % (url, img)], check=True)
        requests.delete(url + "/v2/images/" + img, headers={"X-Auth-Token": tok})

    from concurrent.futures import ThreadPoolExecutor
    marks = {}
    with ThreadPoolExecutor(2) as pool:
        for i in range(rounds):
            list(pool.map(one, (2 * i, 2 * i + 1)))
            if i + 1 in (5, rounds) or (i + 1) % 25 == 0:
                marks[i + 1] = imaged_rss_mib(home)
                print("memory    imaged RSS after %3d rounds (%3d uploads of 64 MiB): %.1f MiB"
                      % (i + 1, 2 * (i + 1), marks[i + 1]))
                sys.stdout.flush()
    results["rss_after_5_mib"] = round(marks[5], 1)
    results["rss_after_%d_mib" % rounds] = round(marks[rounds], 1)
    print("memory    growth from round 5 to %d: %+.1f MiB" % (rounds, marks[rounds] - marks[5]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("home")
    ap.add_argument("--clones", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=100, help="memory: rounds of two uploads")
    ap.add_argument("--only", choices=["upload", "clone", "read", "memory"])
    a = ap.parse_args()
    env = read_env(a.home)
    url, tok = env.get("STRATA_IMAGE_URL"), env["STRATA_ADMIN_TOKEN"]
    if not url:
        sys.exit("strata-imaged is not running in %s" % a.home)
    results = {}
    with tempfile.TemporaryDirectory(dir=a.home) as work:
        if a.only in (None, "upload"):
            bench_upload(env, url, tok, work, results)
        if a.only in (None, "clone"):
            bench_clones(env, url, tok, work, a.clones, results)
        if a.only in (None, "read"):
            bench_reads(url, tok, results)
        if a.only in (None, "memory"):
            bench_memory(a.home, url, tok, work, max(a.rounds, 5), results)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
