"""tools/strata bench backup — blockd's backups against a running Strata
(`tools/strata up`), each beside the platform's own tool doing the same work
in the same run:

1. full backup of a 1 GiB volume of random data, and of one half zeros, to
   each target (rados: [ceph] backups_pool; dir: one directory, libaio +
   O_DIRECT; ec: 4+2 directories): time, MB/s and the ratio to `rbd export`
   of the same volume to the same place (rados: `rbd export | rbd import`
   into the backups pool; dir and ec: `rbd export` into a file of the first
   directory); the igzip level; bytes stored;
2. an incremental after rewriting 64 MiB: its time as a fraction of the full
   backup's, and bytes stored;
3. a second full backup of the unchanged volume: bytes stored (dedup);
4. restore to a new volume: MB/s against `rbd import` of the same data;
5. a 10 GiB thin volume with 512 MiB written against a 1 GiB one with the
   same 512 MiB: the backup time ratio (≈ 1: time follows the data, not the
   size).

Each target is served by a blockd of the bench's own (own port and log, the
home's config plus a [backup] section), in a project of its own with the
quota it needs.  Prints figures; asserts nothing.
Usage: bench_backup.py STRATA_HOME [--targets rados,dir,ec] [--level N] [--dir D]"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import rados
import rbd
import requests

from bench_images import read_env
from bench_qos import SideBlockd
from bench_volumes import Api

MIB = 1 << 20
GIB = 1 << 30
MB = 1000 * 1000


class TargetBlockd(SideBlockd):
    """A side blockd whose [backup] section names the target."""

    def __init__(self, home, backup):
        super().__init__(home, {})
        with open(self.conf, "a") as f:
            f.write("\n[backup]\n" + "".join("%s = %s\n" % kv for kv in backup.items()))


def fill(cluster, vid, pattern, size=GIB):
    """Write the volume: 'random' everywhere, 'half' random then zeros,
    ('at', offset, n) n random bytes at offset."""
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, "volume-" + vid) as im:
        if isinstance(pattern, tuple):
            _, off, n = pattern
            for o in range(0, n, 4 * MIB):
                im.write(os.urandom(min(4 * MIB, n - o)), off + o)
            return
        end = size if pattern == "random" else size // 2
        for o in range(0, end, 4 * MIB):
            im.write(os.urandom(4 * MIB), o)


def stored_bytes(d, bid):
    m = re.findall(r"backup %s: available in (\d+) ms: read (\d+) bytes .*?stored (\d+) bytes" % bid,
                   d.output())
    return (int(m[-1][0]), int(m[-1][1]), int(m[-1][2])) if m else (None, None, None)


def timed_backup(api, base, vid, incremental=False):
    t0 = time.monotonic()
    r = requests.post(base + "/backups", headers=api.h,
                      json={"backup": {"volume_id": vid, "incremental": incremental}})
    r.raise_for_status()
    bid = r.json()["backup"]["id"]
    while True:
        st = requests.get("%s/backups/%s" % (base, bid), headers=api.h).json()["backup"]["status"]
        if st == "available":
            return bid, time.monotonic() - t0
        if st == "error":
            raise RuntimeError("backup %s failed" % bid)
        time.sleep(0.02)


def timed_restore(api, base, bid):
    t0 = time.monotonic()
    r = requests.post("%s/backups/%s/restore" % (base, bid), headers=api.h, json={"restore": {}})
    r.raise_for_status()
    vid = r.json()["restore"]["volume_id"]
    while True:
        st = requests.get("%s/volumes/%s" % (base, vid), headers=api.h).json()["volume"]["status"]
        if st == "available":
            return vid, time.monotonic() - t0
        if st.startswith("error"):
            raise RuntimeError("restore of %s failed" % bid)
        time.sleep(0.02)


def new_volume(api, base, size_gb=1):
    r = requests.post(base + "/volumes", headers=api.h, json={"volume": {"size": size_gb}})
    r.raise_for_status()
    vid = r.json()["volume"]["id"]
    while requests.get("%s/volumes/%s" % (base, vid), headers=api.h).json()["volume"]["status"] != "available":
        time.sleep(0.02)
    return vid


def run(cmd, shell=False):
    t0 = time.monotonic()
    subprocess.run(cmd, shell=shell, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0


def export_floor(env, target, vid, where):
    """`rbd export` of the volume to where the target keeps its data."""
    c = "-c %s --id admin" % env["CEPH_CONF"]
    if target == "rados":
        t = run("rbd %s export strata.volumes/volume-%s - | rbd %s import - strata.backups/bench-floor"
                % (c, vid, c), shell=True)
        run("rbd %s rm strata.backups/bench-floor" % c, shell=True)
        return t
    f = os.path.join(where, "bench-export.raw")
    t = run("rbd %s export strata.volumes/volume-%s %s && sync -f %s" % (c, vid, f, f), shell=True)
    os.unlink(f)
    return t


def import_floor(env, vid, scratch):
    """`rbd import` of the same data (exported to a file first, not timed)."""
    c = "-c %s --id admin" % env["CEPH_CONF"]
    f = os.path.join(scratch, "bench-import.raw")
    run("rbd %s export strata.volumes/volume-%s %s" % (c, vid, f), shell=True)
    t = run("rbd %s import %s strata.volumes/bench-import-floor" % (c, f), shell=True)
    run("rbd %s rm strata.volumes/bench-import-floor" % c, shell=True)
    os.unlink(f)
    return t


def bench_target(a, env, api, cluster, target, out):
    dirs = []
    backup = {"compression_level": a.level}
    if target != "rados":
        top = tempfile.mkdtemp(prefix="bk", dir=a.dir)
        n = 1 if target == "dir" else 6
        dirs = [os.path.join(top, str(i)) for i in range(n)]
        for d in dirs:
            os.mkdir(d)
        backup.update({"target": target, "dirs": ",".join(dirs)})
        if target == "ec":
            backup.update({"ec_k": 4, "ec_m": 2})
    d = TargetBlockd(a.home, backup)
    if not d.start():
        raise RuntimeError("blockd for %s did not start:\n%s" % (target, d.output()[-2000:]))
    base = "%s/v3/%s" % (d.url, api.project)
    res = {}
    try:
        for pattern in ("random", "half"):
            vid = new_volume(api, base)
            fill(cluster, vid, pattern)
            bid, t = timed_backup(api, base, vid)
            _, _, stored = stored_bytes(d, bid)
            floor = export_floor(env, target, vid, dirs[0] if dirs else None)
            row = {"seconds": round(t, 2), "MBps": round(GIB / MB / t, 1), "stored_bytes": stored,
                   "rbd_export_seconds": round(floor, 2), "ratio_to_rbd_export": round(floor / t, 2)}
            print("%-5s full, %-6s 1 GiB: %6.2f s %6.1f MB/s  stored %6.1f MiB   rbd export %5.2f s  "
                  "ratio %.2f" % (target, pattern, t, GIB / MB / t, (stored or 0) / MIB, floor, floor / t))
            res["full_" + pattern] = row
            if pattern != "random":
                continue
            # incremental after 64 MiB rewritten
            fill(cluster, vid, ("at", 256 * MIB, 64 * MIB))
            ibid, ti = timed_backup(api, base, vid, incremental=True)
            _, _, istored = stored_bytes(d, ibid)
            res["incremental_64MiB"] = {"seconds": round(ti, 2), "fraction_of_full": round(ti / t, 3),
                                        "stored_bytes": istored}
            print("%-5s incremental after 64 MiB: %5.2f s = %.1f%% of the full backup, stored %.1f MiB"
                  % (target, ti, 100 * ti / t, (istored or 0) / MIB))
            # a second full backup of the unchanged volume
            sbid, ts = timed_backup(api, base, vid)
            _, _, sstored = stored_bytes(d, sbid)
            res["second_full_unchanged"] = {"seconds": round(ts, 2), "stored_bytes": sstored}
            print("%-5s second full, unchanged: %5.2f s, stored %d bytes" % (target, ts, sstored or 0))
            # restore to a new volume against rbd import
            rvid, tr = timed_restore(api, base, sbid)
            floor = import_floor(env, vid, a.dir)
            res["restore"] = {"seconds": round(tr, 2), "MBps": round(GIB / MB / tr, 1),
                              "rbd_import_seconds": round(floor, 2), "ratio_to_rbd_import": round(floor / tr, 2)}
            print("%-5s restore 1 GiB: %5.2f s %6.1f MB/s   rbd import %5.2f s  ratio %.2f"
                  % (target, tr, GIB / MB / tr, floor, floor / tr))
        if target == a.thin_target:
            small, big = new_volume(api, base, 1), new_volume(api, base, 10)
            for v in (small, big):
                fill(cluster, v, ("at", 0, 512 * MIB))
            _, t1 = timed_backup(api, base, small)
            _, t10 = timed_backup(api, base, big)
            res["thin_10GiB_512MiB"] = {"seconds": round(t10, 2), "one_GiB_same_data_seconds": round(t1, 2),
                                        "ratio": round(t10 / t1, 2)}
            print("%-5s 10 GiB thin, 512 MiB written: %5.2f s; 1 GiB with the same 512 MiB: %5.2f s; "
                  "ratio %.2f" % (target, t10, t1, t10 / t1))
    finally:
        d.stop()
        for x in dirs[:1]:
            shutil.rmtree(os.path.dirname(x), ignore_errors=True)
    out[target] = res


def cleanup(api, env):
    """Every backup, then every volume of the bench's project (system blockd)."""
    root = env["STRATA_VOLUME_URL"].split("/v3/")[0]
    base = "%s/v3/%s" % (root, api.project)
    for b in requests.get(base + "/backups/detail", headers=api.h).json().get("backups", []):
        requests.delete("%s/backups/%s" % (base, b["id"]), headers=api.h)
    deadline = time.time() + 300
    while time.time() < deadline and requests.get(base + "/backups", headers=api.h).json()["backups"]:
        time.sleep(0.5)
    for v in requests.get(base + "/volumes", headers=api.h).json().get("volumes", []):
        requests.delete("%s/volumes/%s" % (base, v["id"]), headers=api.h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("home")
    ap.add_argument("--targets", default="rados,dir,ec")
    ap.add_argument("--level", type=int, default=1, help="igzip level (default 1)")
    ap.add_argument("--dir", default="/var/tmp", help="where the dir/ec repositories and scratch go")
    ap.add_argument("--thin-target", default="rados", help="target of the thin-volume case")
    a = ap.parse_args()
    a.home = os.path.abspath(a.home)
    env = read_env(a.home)
    if "STRATA_VOLUME_URL" not in env:
        sys.exit("strata-blockd is not running in %s" % a.home)
    api = Api(env, a.home, 4)
    cluster = rados.Rados(conffile=env["CEPH_CONF"], name="client.admin")
    cluster.connect(timeout=15)
    out = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "igzip_level": a.level, "chunk": "4 MiB"}
    print("strata bench backup, %s, igzip level %d, 4 MiB chunks" % (out["date"], a.level))
    try:
        for t in [x.strip() for x in a.targets.split(",") if x.strip()]:
            try:
                bench_target(a, env, api, cluster, t, out)
            except Exception as e:   # noqa: BLE001 — report and go on to the next target
                print("  target %s failed: %s" % (t, e))
                out.setdefault("failed", {})[t] = str(e)
    finally:
        cleanup(api, env)
        api.reset_quota()
        cluster.shutdown()
    with open(os.path.join(a.home, "bench-backup.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
