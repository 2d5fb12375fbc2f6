"""tools/strata bench qos — how well Strata's QoS holds, through volumes made by
its block API (volume types carrying back-end qos-specs, which blockd turns
into librbd's conf_rbd_qos_* image metadata):

1. accuracy: limits of 100, 500 and 2000 IOPS (4 KiB random writes, 16 in
   flight) and 20 and 100 MB/s (1 MiB sequential writes, 16 in flight;
   MB = 10^6 bytes, the spec's total_bytes_sec is 20000000 / 100000000),
   one volume retyped from case to case, beside the same volume unlimited in
   the same run (the platform's reach); driven by python-rbd in-process
   (aio_write, completions counted per second) and, for the IOPS cases, by
   `rbd bench` too;
2. burst: total_iops_sec=200, total_iops_sec_max=1000,
   total_iops_sec_max_length=3; the image is opened, left idle (librbd's
   bucket starts empty on open and fills while idle), then driven;
3. two projects: a 500 IOPS volume of one project and an untyped volume of
   another driven at the same time;
4. blockd's own bulk I/O: create-from-volume (snapshot, clone, flatten) of a
   1 GiB volume holding 256 MiB of random data, create -> available, through
   a blockd of the bench's own (own port, the home's config plus
   [blockd] bulk_bytes_sec or bulk_volume_bytes_sec = 20000000) beside an
   unlimited one; the copy's progress is sampled from the clone's RADOS
   objects.

Every case writes an SVG chart (per-second rate, the limit dashed) into
--plot-dir.  Prints figures; asserts nothing.

Usage: bench_qos.py STRATA_HOME [--seconds S] [--only accuracy,burst,two-projects,project-cap,bulk]
                    [--plot-dir DIR] [--no-rbd-bench]
"""
import argparse
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import rados
import rbd
import requests

from bench_images import read_env

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("STRATA_BUILD_DIR", os.path.join(TOP, "build"))
POOL = "strata.volumes"
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
MB = 10 ** 6
SKIP = 2          # seconds dropped from the start of every run before averaging
CASES = ("accuracy", "burst", "two-projects", "project-cap", "bulk")


# ---------------------------------------------------------------- I/O worker
# Each run is its own process (bench_qos.py --worker JSON): its own librbd
# handle (librbd's limits are per open image per process), no GIL shared with
# another run.

def worker(spec):
    c = rados.Rados(conffile=spec["conf"], name="client.admin")
    c.connect(timeout=15)
    io = c.open_ioctx(spec["pool"])
    img = rbd.Image(io, spec["image"])
    opened = time.time()
    if spec.get("idle"):
        time.sleep(spec["idle"])
    if spec.get("start_at"):
        time.sleep(max(0.0, spec["start_at"] - time.time()))
    bs, qd, seconds = spec["bs"], spec["qd"], spec["seconds"]
    nblocks = img.size() // bs
    buf = os.urandom(bs)
    sem = threading.Semaphore(qd)
    done, errors = [], [0]

    def cb(comp):
        done.append(time.monotonic())
        if comp.get_return_value() < 0:
            errors[0] += 1
        sem.release()

    start = time.time()
    t0 = time.monotonic()
    end = t0 + seconds
    seq = 0
    while time.monotonic() < end:
        if not sem.acquire(timeout=0.05):
            continue
        if spec["pattern"] == "rand":
            off = random.randrange(nblocks) * bs
        else:
            off = (seq % nblocks) * bs
            seq += 1
        img.aio_write(buf, off, cb)
    for _ in range(qd):                 # drain what is in flight
        sem.acquire(timeout=60)
    img.close()
    io.close()
    c.shutdown()
    per = [0] * int(seconds)
    for t in done:
        i = int(t - t0)
        if 0 <= i < len(per):
            per[i] += 1
    return {"opened": opened, "start": start, "ops": per, "errors": errors[0]}


def spawn(env, image, bs, pattern, seconds, qd=16, idle=0, start_at=None):
    spec = {"conf": env["CEPH_CONF"], "pool": POOL, "image": image, "bs": bs, "qd": qd,
            "pattern": pattern, "seconds": seconds, "idle": idle, "start_at": start_at}
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
                            stdout=subprocess.PIPE, text=True)


def collect(p):
    out, _ = p.communicate()
    if p.returncode != 0:
        raise RuntimeError("I/O worker failed (rc %d)" % p.returncode)
    return json.loads(out.strip().splitlines()[-1])


def drive(env, image, bs, pattern, seconds, **kw):
    return collect(spawn(env, image, bs, pattern, seconds, **kw))


RBD_LINE = re.compile(r"^\s*(\d+)\s+(\d+)\s+([\d.]+)\s")
RBD_SUM = re.compile(r"elapsed:\s*(\d+)\s+ops:\s*(\d+)\s+ops/sec:\s*([\d.]+)")


def rbd_bench(env, image, bs, pattern, ops_total, seconds):
    """`rbd bench` (16 threads) for ops_total operations: per-second ops (the
    differences of its cumulative OPS column) and its own ops/sec summary."""
    cmd = ["rbd", "-c", env["CEPH_CONF"], "--id", "admin", "bench", "--io-type", "write",
           "--io-pattern", pattern, "--io-size", str(bs), "--io-threads", "16",
           "--io-total", str(ops_total * bs), "%s/%s" % (POOL, image)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=3 * seconds + 30)
    except subprocess.TimeoutExpired:
        return None
    cum, summary = [0], None
    for line in p.stdout.splitlines():
        m = RBD_LINE.match(line)
        if m:
            cum.append(int(m.group(2)))
        m = RBD_SUM.search(line)
        if m:
            summary = float(m.group(3))
    return {"ops": [b - a for a, b in zip(cum, cum[1:])], "ops_sec": summary}


def steady(per):
    """avg/min/max over the seconds after the first SKIP ones."""
    s = per[SKIP:] or per
    return {"avg": sum(s) / len(s) if s else 0.0, "min": min(s) if s else 0, "max": max(s) if s else 0}


# ---------------------------------------------------------------- API
class Api:
    """Strata's block API as one project (token, project id)."""

    def __init__(self, env, tok, project):
        self.root = env["STRATA_VOLUME_URL"].split("/v3/")[0]
        self.tok, self.project = tok, project
        self.h = {"X-Auth-Token": tok}

    def url(self, path):
        return "%s/v3/%s%s" % (self.root, self.project, path)

    def req(self, method, path, ok=(200, 202, 204), **kw):
        r = requests.request(method, self.url(path), headers=self.h, timeout=30, **kw)
        if r.status_code not in ok:
            raise RuntimeError("%s %s: %d %s" % (method, path, r.status_code, r.text[:300]))
        return r

    def status(self, vid):
        r = requests.get(self.url("/volumes/" + vid), headers=self.h, timeout=30)
        return "gone" if r.status_code == 404 else r.json()["volume"]["status"]

    def wait(self, vid, want, timeout=300, poll=0.05):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status(vid)
            if st == want:
                return
            if st.startswith("error"):
                raise RuntimeError("volume %s went %s" % (vid, st))
            time.sleep(poll)
        raise RuntimeError("volume %s not %s after %d s" % (vid, want, timeout))


class Made:
    """What the bench created, removed in reverse at the end (even on failure)."""

    def __init__(self, admin):
        self.admin = admin
        self.volumes, self.types, self.specs = [], [], []

    def type(self, name, specs=None):
        t = self.admin.req("POST", "/types", json={"volume_type": {"name": name}}).json()["volume_type"]
        self.types.append(t["id"])
        if specs:
            q = self.admin.req("POST", "/qos-specs", json={"qos_specs": dict(
                specs, name=name, consumer="back-end")}).json()["qos_specs"]
            self.specs.append(q["id"])
            self.admin.req("GET", "/qos-specs/%s/associate?vol_type_id=%s" % (q["id"], t["id"]))
        return t

    def volume(self, api, size=1, vtype=None, name=None, **extra):
        body = dict({"size": size, "name": name or "qos-bench-" + uuid.uuid4().hex[:6]}, **extra)
        if vtype:
            body["volume_type"] = vtype["name"]
        v = api.req("POST", "/volumes", json={"volume": body}).json()["volume"]
        self.volumes.append((api, v["id"]))
        api.wait(v["id"], "available")
        return v["id"]

    def forget(self, vid):
        self.volumes = [(a, v) for a, v in self.volumes if v != vid]

    def cleanup(self):
        for api, vid in reversed(self.volumes):
            try:
                api.req("DELETE", "/volumes/" + vid, ok=(202, 404))
            except Exception as e:      # noqa: BLE001 — keep cleaning
                print("cleanup: volume %s: %s" % (vid, e))
        for api, vid in reversed(self.volumes):
            try:
                api.wait(vid, "gone", timeout=120)
            except Exception as e:      # noqa: BLE001
                print("cleanup: volume %s: %s" % (vid, e))
        for q in self.specs:
            try:
                self.admin.req("GET", "/qos-specs/%s/disassociate_all" % q, ok=(202, 404))
                self.admin.req("DELETE", "/qos-specs/%s?force=True" % q, ok=(202, 404))
            except Exception as e:      # noqa: BLE001
                print("cleanup: qos-specs %s: %s" % (q, e))
        for t in self.types:
            try:
                self.admin.req("DELETE", "/types/" + t, ok=(202, 404))
            except Exception as e:      # noqa: BLE001
                print("cleanup: type %s: %s" % (t, e))


def image_qos(cluster, vid):
    with cluster.open_ioctx(POOL) as io, rbd.Image(io, "volume-" + vid, read_only=True) as im:
        return {k[len("conf_"):]: v for k, v in im.metadata_list() if k.startswith("conf_rbd_qos")}


def retype(api, vid, t, cluster):
    api.req("POST", "/volumes/%s/action" % vid,
            json={"os-retype": {"new_type": t["id"], "migration_policy": "never"}})
    api.wait(vid, "available")
    return image_qos(cluster, vid)


def mint(home, project):
    return subprocess.run([os.path.join(BUILD, "tools", "strata-token"), "--config",
                           os.path.join(home, "etc", "strata.conf"), "--project", project,
                           "--user", "u-" + project, "--roles", "member"],
                          capture_output=True, text=True, check=True).stdout.strip()


# ---------------------------------------------------------------- SVG
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def nice_step(span, n=5):
    raw = span / n if span > 0 else 1
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def fmt(v):
    return ("%d" % v) if v == int(v) else ("%g" % v)


def svg_chart(path, title, series, ylabel, limit=None, limit_label=None, note=None,
              xlabel="second of the run"):
    """A polyline chart: series = [(label, [value per second])], the limit dashed."""
    W, H, ml, mr, mt, mb = 760, 380, 78, 20, 48, 74
    pw, ph = W - ml - mr, H - mt - mb
    xmax = max([len(v) for _, v in series] + [1])
    ymax = max([max(v) for _, v in series if v] + [limit or 0, 1]) * 1.12
    step = nice_step(ymax)
    ymax = step * (int(ymax / step) + 1)
    X = lambda s: ml + pw * s / float(xmax)          # noqa: E731
    Y = lambda v: mt + ph - ph * v / float(ymax)      # noqa: E731
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
         'font-family="sans-serif" font-size="12">' % (W, H, W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>' % (ml, esc(title))]
    if note:
        o.append('<text x="%d" y="39" fill="#555">%s</text>' % (ml, esc(note)))
    v = 0.0
    while v <= ymax + 1e-9:
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/>' % (ml, Y(v), ml + pw, Y(v)))
        o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (ml - 6, Y(v) + 4, fmt(v)))
        v += step
    xstep = max(1, int(nice_step(xmax, 8)))
    for s in range(0, xmax + 1, xstep):
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#999"/>' % (X(s), mt + ph, X(s), mt + ph + 5))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (X(s), mt + ph + 18, s))
    o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (ml, mt + ph, ml + pw, mt + ph))
    o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (ml, mt, ml, mt + ph))
    o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (ml + pw / 2.0, H - 36, esc(xlabel)))
    o.append('<text transform="translate(16,%.1f) rotate(-90)" text-anchor="middle">%s</text>'
             % (mt + ph / 2.0, esc(ylabel)))
    if limit:
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black" stroke-width="1.5" '
                 'stroke-dasharray="7,5"/>' % (ml, Y(limit), ml + pw, Y(limit)))
        o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>'
                 % (ml + pw - 4, Y(limit) - 5, esc(limit_label or "limit %s" % fmt(limit))))
    lx = ml
    for i, (label, vals) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        # each second's value drawn at the middle of that second
        pts = " ".join("%.1f,%.1f" % (X(s + 0.5), Y(val)) for s, val in enumerate(vals))
        o.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (c, pts))
        for s, val in enumerate(vals):
            o.append('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>' % (X(s + 0.5), Y(val), c))
        o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>'
                 % (lx, H - 12, lx + 22, H - 12, c))
        o.append('<text x="%d" y="%d">%s</text>' % (lx + 28, H - 8, esc(label)))
        lx += 40 + 7 * len(label)
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")
    print("  plot: %s" % path)


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------- cases
def line(label, limit, st, ref, unit, per):
    ratio = st["avg"] / limit if limit else None
    reach = (limit / ref) if (limit and ref) else None
    print("  %-22s limit %8s  avg %9.1f  ratio %s  min %8.1f  max %8.1f  (limit/unlimited %s)" % (
        label, fmt(limit) if limit else "-", st["avg"], "%.3f" % ratio if ratio else "  -  ",
        st["min"], st["max"], "%.3f" % reach if reach else "-"))
    print("      per second (%s): %s" % (unit, " ".join("%g" % round(v, 1) for v in per)))
    return {"limit": limit, "avg": round(st["avg"], 1), "ratio": round(ratio, 3) if ratio else None,
            "min": st["min"], "max": st["max"], "limit_over_unlimited": round(reach, 3) if reach else None,
            "per_second": per}


def case_accuracy(a, env, admin, made, cluster, out):
    S = a.seconds
    print("== 1. librbd back-end QoS accuracy (%d s runs; average over seconds %d-%d, the first %d "
          "dropped: the bucket starts empty on open)" % (S, SKIP + 1, S, SKIP))
    tag = uuid.uuid4().hex[:6]
    none = made.type("qos-bench-none-" + tag)
    iops = {n: made.type("qos-bench-iops%d-%s" % (n, tag), {"total_iops_sec": str(n)}) for n in (100, 500, 2000)}
    bps = {n: made.type("qos-bench-%dmb-%s" % (n, tag), {"total_bytes_sec": str(n * MB)}) for n in (20, 100)}
    vid = made.volume(admin, 1, none, name="qos-bench-accuracy")
    image = "volume-" + vid
    res = out.setdefault("accuracy", {})

    print(" 4 KiB random writes, 16 in flight (IOPS)")
    ref = drive(env, image, 4 * KIB, "rand", S)["ops"]
    ref_st = steady(ref)
    res["unlimited_4k"] = line("unlimited (python-rbd)", None, ref_st, None, "IOPS", ref)
    rref = None
    if not a.no_rbd_bench:
        rb = rbd_bench(env, image, 4 * KIB, "rand", int(max(ref_st["avg"], 1000) * S), S)
        if rb:
            rref = steady(rb["ops"])
            res["unlimited_4k_rbd_bench"] = line("unlimited (rbd bench)", None, rref, None, "IOPS", rb["ops"])
    for n, t in iops.items():
        meta = retype(admin, vid, t, cluster)
        print(" total_iops_sec=%d -> image metadata %s" % (n, meta))
        per = drive(env, image, 4 * KIB, "rand", S)["ops"]
        r = res["iops_%d" % n] = line("python-rbd", n, steady(per), ref_st["avg"], "IOPS", per)
        r["image_metadata"] = meta
        series = [("python-rbd aio_write, qd 16", per)]
        if not a.no_rbd_bench:
            rb = rbd_bench(env, image, 4 * KIB, "rand", n * S, S)
            if rb:
                r2 = res["iops_%d_rbd_bench" % n] = line(
                    "rbd bench", n, steady(rb["ops"]), rref["avg"] if rref else None, "IOPS", rb["ops"])
                r2["rbd_bench_ops_sec"] = rb["ops_sec"]
                print("      rbd bench's own ops/sec over the whole run: %s" % rb["ops_sec"])
                series.append(("rbd bench, 16 threads", rb["ops"]))
            else:
                print("  rbd bench did not finish in time")
        svg_chart(os.path.join(a.plot_dir, "qos-iops-%d.svg" % n),
                  "librbd QoS: total_iops_sec=%d, 4 KiB random writes" % n, series, "IOPS", limit=n,
                  note="average s%d-%d %.0f IOPS (ratio %.3f); same volume unlimited %.0f IOPS"
                  % (SKIP + 1, S, r["avg"], r["ratio"], ref_st["avg"]))

    print(" 1 MiB sequential writes, 16 in flight (MB/s, MB = 10^6 bytes)")
    retype(admin, vid, none, cluster)
    ref = [o * MIB / MB for o in drive(env, image, MIB, "seq", S)["ops"]]
    ref_st = steady(ref)
    res["unlimited_1m"] = line("unlimited (python-rbd)", None, ref_st, None, "MB/s", ref)
    for n, t in bps.items():
        meta = retype(admin, vid, t, cluster)
        print(" total_bytes_sec=%d -> image metadata %s" % (n * MB, meta))
        per = [o * MIB / MB for o in drive(env, image, MIB, "seq", S)["ops"]]
        r = res["mbps_%d" % n] = line("python-rbd", n, steady(per), ref_st["avg"], "MB/s", per)
        r["image_metadata"] = meta
        svg_chart(os.path.join(a.plot_dir, "qos-bps-%d.svg" % n),
                  "librbd QoS: total_bytes_sec=%d (%d MB/s), 1 MiB sequential writes" % (n * MB, n),
                  [("python-rbd aio_write, qd 16", per)], "MB/s", limit=n,
                  note="average s%d-%d %.1f MB/s (ratio %.3f); same volume unlimited %.0f MB/s"
                  % (SKIP + 1, S, r["avg"], r["ratio"], ref_st["avg"]))


def case_burst(a, env, admin, made, cluster, out):
    S = a.seconds
    print("== 2. burst: total_iops_sec=200, total_iops_sec_max=1000, total_iops_sec_max_length=3 "
          "(opened, idle %g s, then %d s of 4 KiB random writes, 16 in flight)" % (a.idle, S))
    t = made.type("qos-bench-burst-" + uuid.uuid4().hex[:6],
                  {"total_iops_sec": "200", "total_iops_sec_max": "1000", "total_iops_sec_max_length": "3"})
    vid = made.volume(admin, 1, t, name="qos-bench-burst")
    meta = image_qos(cluster, vid)
    print("  image metadata: %s" % meta)
    if "rbd_qos_iops_burst_seconds" not in meta:
        print("  (no conf_rbd_qos_iops_burst_seconds: *_max_length is not mapped; librbd's default "
              "burst_seconds 1 applies)")
    idle = drive(env, "volume-" + vid, 4 * KIB, "rand", S, idle=a.idle)["ops"]
    cold = drive(env, "volume-" + vid, 4 * KIB, "rand", S)["ops"]
    print("  per second after %g s idle: %s" % (a.idle, " ".join(map(str, idle))))
    print("  per second right after open: %s" % " ".join(map(str, cold)))
    tail = idle[4:] or idle
    print("  first 3 s after idle: %s ops (%.0f/s); seconds 5-%d average %.1f/s (limit 200)"
          % (sum(idle[:3]), sum(idle[:3]) / 3.0, S, sum(tail) / float(len(tail))))
    out["burst"] = {"image_metadata": meta, "after_idle": idle, "after_open": cold,
                    "first3_avg": round(sum(idle[:3]) / 3.0, 1),
                    "after4_avg": round(sum(tail) / float(len(tail)), 1)}
    svg_chart(os.path.join(a.plot_dir, "qos-burst.svg"),
              "librbd QoS burst: 200 IOPS, max 1000, max_length 3",
              [("after %g s idle" % a.idle, idle), ("right after open", cold)], "IOPS", limit=200,
              note="image metadata: " + ", ".join("%s=%s" % kv for kv in sorted(meta.items())))


def case_two_projects(a, env, admin, made, cluster, out):
    S = a.seconds
    print("== 3. two projects at once: a 500 IOPS volume (project qos-bench-a) and an untyped one "
          "(project qos-bench-b), 4 KiB random writes, 16 in flight each, %d s" % S)
    t = made.type("qos-bench-iops500-" + uuid.uuid4().hex[:6], {"total_iops_sec": "500"})
    pa = Api(env, mint(a.home, "qos-bench-a"), "qos-bench-a")
    pb = Api(env, mint(a.home, "qos-bench-b"), "qos-bench-b")
    va = made.volume(pa, 1, t, name="qos-bench-limited")
    vb = made.volume(pb, 1, None, name="qos-bench-unlimited")
    print("  image metadata: limited %s, untyped %s" % (image_qos(cluster, va), image_qos(cluster, vb)))
    start_at = time.time() + 3   # both open first, then start together
    ps = [spawn(env, "volume-" + v, 4 * KIB, "rand", S, start_at=start_at) for v in (va, vb)]
    ra, rb_ = [collect(p) for p in ps]
    print("  start skew %.3f s" % abs(ra["start"] - rb_["start"]))
    out["two_projects"] = {
        "limited_500": line("project a, 500 IOPS", 500, steady(ra["ops"]), None, "IOPS", ra["ops"]),
        "untyped": line("project b, untyped", None, steady(rb_["ops"]), None, "IOPS", rb_["ops"])}
    svg_chart(os.path.join(a.plot_dir, "qos-two-projects.svg"),
              "Two projects at once: 500 IOPS volume beside an unlimited one",
              [("project a, total_iops_sec=500", ra["ops"]), ("project b, untyped", rb_["ops"])],
              "IOPS", limit=500,
              note="averages s%d-%d: %.0f and %.0f IOPS" % (SKIP + 1, S, steady(ra["ops"])["avg"],
                                                            steady(rb_["ops"])["avg"]))


def case_project_cap(a, env, admin, made, cluster, out):
    S, cap = a.seconds, 1000
    print("== 4. a project cap: [blockd] project_iops_sec=%d; project qos-bench-c has two untyped "
          "volumes, project qos-bench-b one (made by the system's blockd, no cap), all three driven "
          "at once, 4 KiB random writes, 16 in flight each, %d s" % (cap, S))
    d = SideBlockd(a.home, {"project_iops_sec": cap})
    pc = None
    try:
        if not d.start():
            print("  blockd did not start:\n%s" % d.output()[-1200:])
            out["project_cap"] = {"skipped": True}
            return
        pc = Api(env, mint(a.home, "qos-bench-c"), "qos-bench-c")
        pc.root = d.url
        pb = Api(env, mint(a.home, "qos-bench-b"), "qos-bench-b")
        c1 = made.volume(pc, 1, None, name="qos-bench-cap-1")
        c2 = made.volume(pc, 1, None, name="qos-bench-cap-2")
        vb = made.volume(pb, 1, None, name="qos-bench-uncapped")
        print("  image metadata: c1 %s, c2 %s, b %s" % (image_qos(cluster, c1), image_qos(cluster, c2),
                                                        image_qos(cluster, vb)))
        start_at = time.time() + 3
        ps = [spawn(env, "volume-" + v, 4 * KIB, "rand", S, start_at=start_at) for v in (c1, c2, vb)]
        r1, r2, rb_ = [collect(p) for p in ps]
        both = [x + y for x, y in zip(r1["ops"], r2["ops"])]
        out["project_cap"] = {
            "c1": line("project c, volume 1", cap / 2, steady(r1["ops"]), None, "IOPS", r1["ops"]),
            "c2": line("project c, volume 2", cap / 2, steady(r2["ops"]), None, "IOPS", r2["ops"]),
            "c_sum": line("project c, both", cap, steady(both), None, "IOPS", both),
            "b": line("project b, no cap", None, steady(rb_["ops"]), None, "IOPS", rb_["ops"])}
        svg_chart(os.path.join(a.plot_dir, "qos-project-cap.svg"),
                  "A project cap of %d IOPS over two volumes, beside an uncapped project" % cap,
                  [("project c, both volumes", both), ("project c, volume 1", r1["ops"]),
                   ("project c, volume 2", r2["ops"]), ("project b, no cap", rb_["ops"])],
                  "IOPS", limit=cap, limit_label="cap %d" % cap,
                  note="averages s%d-%d: c %.0f (%.0f + %.0f), b %.0f IOPS" % (
                      SKIP + 1, S, steady(both)["avg"], steady(r1["ops"])["avg"],
                      steady(r2["ops"])["avg"], steady(rb_["ops"])["avg"]))
    finally:
        if pc:   # the cleanup deletes them through the system's blockd
            pc.root = env["STRATA_VOLUME_URL"].split("/v3/")[0]
        d.stop()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SideBlockd:
    """A strata-blockd of the bench's own: the home's config plus a [blockd]
    section of extra keys and its own port (as the e2e tests run theirs);
    the system's blockd and its config are left alone."""

    def __init__(self, home, extra):
        self.port = free_port()
        self.dir = os.path.join(home, "bench-qos-blockd")
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "blockd-%d.conf" % self.port)
        self.log_path = os.path.join(self.dir, "blockd-%d.log" % self.port)
        with open(os.path.join(home, "etc", "strata.conf")) as f:
            text = f.read()
        text += "\n[blockd]\nport = %d\n" % self.port + "".join("%s = %s\n" % kv for kv in extra.items())
        with open(self.conf, "w") as f:
            f.write(text)
        os.chmod(self.conf, 0o600)
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None

    def start(self, timeout=30):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([os.path.join(BUILD, "blockd", "strata-blockd"), "--config", self.conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return True
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        return False

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()


def sample_objects(cluster, vid, stop, samples):
    """(time, RADOS objects of volume-<vid>'s data) every 0.25 s until stop."""
    prefix = None
    with cluster.open_ioctx(POOL) as io:
        while not stop.is_set():
            if prefix is None:
                try:
                    with rbd.Image(io, "volume-" + vid, read_only=True) as im:
                        prefix = im.stat()["block_name_prefix"] + "."
                except rbd.ImageNotFound:
                    time.sleep(0.05)
                    continue
            n = sum(1 for o in io.list_objects() if o.key.startswith(prefix))
            samples.append((time.monotonic(), n))
            stop.wait(0.25)


def case_bulk(a, env, admin, made, cluster, out):
    limit = 20 * MB
    data = a.bulk_mib * MIB
    print("== 5. blockd's bulk I/O: create from a 1 GiB volume holding %d MiB of random data "
          "(snapshot, clone, flatten), create -> available; limit %d bytes/s (20 MB/s)" % (a.bulk_mib, limit))
    src = made.volume(admin, 1, None, name="qos-bench-bulk-src")
    with cluster.open_ioctx(POOL) as io, rbd.Image(io, "volume-" + src) as im:
        chunk = 4 * MIB
        for off in range(0, data, chunk):
            im.write(os.urandom(chunk), off)
        im.flush()
        obj = 1 << im.stat()["order"]
    runs = [("unlimited", {}), ("bulk_bytes_sec", {"bulk_bytes_sec": limit}),
            ("bulk_volume_bytes_sec", {"bulk_volume_bytes_sec": limit})]
    res = out.setdefault("bulk", {})
    series = []
    for label, extra in runs:
        d = SideBlockd(a.home, extra)
        try:
            if not d.start():
                text = d.output()
                key = next(iter(extra), None)
                if key and key in text:
                    print("  blockd has no %s yet (it refused to start):\n%s" % (key, text[-600:]))
                else:
                    print("  %s: blockd did not start:\n%s" % (label, text[-1200:]))
                res[label] = {"skipped": True}
                continue
            for key in extra:
                if "unknown option [blockd] %s" % key in d.output():
                    print("  blockd has no %s yet (unknown option, ignored): no throttling expected" % key)
            side = Api(env, admin.tok, admin.project)
            side.root = d.url
            stop, samples = threading.Event(), []
            t0 = time.monotonic()
            vid = side.req("POST", "/volumes", json={"volume": {
                "source_volid": src, "size": 1, "name": "qos-bench-bulk-copy"}}).json()["volume"]["id"]
            made.volumes.append((admin, vid))
            th = threading.Thread(target=sample_objects, args=(cluster, vid, stop, samples), daemon=True)
            th.start()
            side.wait(vid, "available", timeout=600, poll=0.02)
            took = time.monotonic() - t0
            stop.set()
            th.join()
            rate = data / took / MB
            per = []           # MB/s per second from the clone's object count
            for s in range(int(took) + 1):
                upto = [n for t, n in samples if t - t0 <= s + 1]
                before = [n for t, n in samples if t - t0 <= s]
                per.append(((upto[-1] if upto else 0) - (before[-1] if before else 0)) * obj / MB)
            print("  %-22s create -> available %6.2f s   %7.1f MB/s   ratio to 20 MB/s %.2f" % (
                label + ("=%d" % limit if extra else ""), took, rate, rate / (limit / MB)))
            print("      MB/s per second (from the clone's objects): %s" % " ".join("%g" % round(v, 1) for v in per))
            res[label] = {"seconds": round(took, 2), "mb_s": round(rate, 1),
                          "ratio_to_20": round(rate / (limit / MB), 2), "per_second": per}
            series.append(("%s (%.1f s)" % (label, took), per))
            side.req("DELETE", "/volumes/" + vid)
            side.wait(vid, "gone", timeout=120)
            made.forget(vid)
        finally:
            d.stop()
    if "unlimited" in res and not res["unlimited"].get("skipped"):
        base = res["unlimited"]["seconds"]
        for label, _ in runs[1:]:
            if label in res and not res[label].get("skipped"):
                print("  %s: %.2fx the unlimited time" % (label, res[label]["seconds"] / base))
    if series:
        svg_chart(os.path.join(a.plot_dir, "qos-bulk.svg"),
                  "blockd bulk I/O: create from a volume with %d MiB of data" % a.bulk_mib,
                  series, "MB/s (clone objects written)", limit=limit / MB, limit_label="20 MB/s",
                  note="copy progress sampled from the clone's RADOS objects (%d MiB each)" % (obj // MIB))


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("home")
    ap.add_argument("--seconds", type=int, default=15, help="length of each I/O run (default 15)")
    ap.add_argument("--only", default=",".join(CASES), help="comma-separated: " + ",".join(CASES))
    ap.add_argument("--plot-dir", default=None, help="where the SVGs go (default $STRATA_HOME/bench-qos)")
    ap.add_argument("--no-rbd-bench", action="store_true", help="python-rbd only")
    ap.add_argument("--idle", type=float, default=5, help="idle seconds before the burst run (default 5)")
    ap.add_argument("--bulk-mib", type=int, default=256, help="data in the bulk case's source (default 256)")
    a = ap.parse_args()
    a.home = os.path.abspath(a.home)
    only = [c.strip() for c in a.only.split(",") if c.strip()]
    bad = [c for c in only if c not in CASES]
    if bad:
        sys.exit("unknown case(s) %s: choose from %s" % (",".join(bad), ",".join(CASES)))
    a.plot_dir = a.plot_dir or os.path.join(a.home, "bench-qos")
    os.makedirs(a.plot_dir, exist_ok=True)
    env = read_env(a.home)
    if "STRATA_VOLUME_URL" not in env:
        sys.exit("strata-blockd is not running in %s" % a.home)
    admin = Api(env, env["STRATA_ADMIN_TOKEN"], env["STRATA_ADMIN_PROJECT_ID"])
    cluster = rados.Rados(conffile=env["CEPH_CONF"], name="client.admin")
    cluster.connect(timeout=15)
    made = Made(admin)
    out = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "seconds": a.seconds, "skip": SKIP}
    print("strata bench qos, %s, %d s runs" % (out["date"], a.seconds))
    t0 = time.monotonic()
    try:
        for name, fn in (("accuracy", case_accuracy), ("burst", case_burst),
                         ("two-projects", case_two_projects), ("project-cap", case_project_cap),
                         ("bulk", case_bulk)):
            if name in only:
                try:
                    fn(a, env, admin, made, cluster, out)
                except Exception as e:      # noqa: BLE001 — report and go on to the next case
                    print("  case %s failed: %s" % (name, e))
                    out.setdefault("failed", {})[name] = str(e)
    finally:
        made.cleanup()
        cluster.shutdown()
    out["total_seconds"] = round(time.monotonic() - t0, 1)
    print("total %.0f s" % out["total_seconds"])
    with open(os.path.join(a.home, "bench-qos.json"), "w") as f:   # not into --plot-dir (docs/)
        json.dump(out, f, indent=1)
    print(json.dumps({k: v for k, v in out.items()
                      if k not in ("accuracy", "burst", "two_projects", "project_cap", "bulk")}))


if __name__ == "__main__":
    main()
