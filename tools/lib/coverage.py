#!/usr/bin/env python3
"""coverage.py SRC BUILD [--markdown] — line coverage of the services' state
machines and reconcile loops, read with gcov from a tree built with --coverage
whose tests have run: blockd/vol_*.c, imaged/image_*.c, compute/guest_*.c and
the metadata store's leases (common/lease.c, meta.c, meta_list.c), per file
and per group.  Used by `tools/strata coverage`; docs/testing.md has figures."""
import glob
import os
import re
import subprocess
import sys

GROUPS = [
    ("blockd", ["blockd/vol_*.c"]),
    ("imaged", ["imaged/image_*.c"]),
    ("compute", ["compute/guest_*.c"]),
    ("common", ["common/lease.c", "common/meta.c", "common/meta_list.c"]),
]


def object_of(build, rel):
    d, name = os.path.split(rel)
    hits = glob.glob(os.path.join(build, d, "CMakeFiles", "*.dir", "**", name + ".o"),
                     recursive=True)
    return hits[0] if hits else None


def lines_of(src, obj):
    """(executable lines, executed lines) of src per gcov, (n, 0) never run."""
    out = subprocess.run(["gcov", "-n", "-o", obj, src], capture_output=True, text=True,
                         cwd=os.path.dirname(obj)).stdout
    m = re.search(r"File '%s'\nLines executed:([0-9.]+)%% of (\d+)" % re.escape(src), out)
    if not m:
        return None
    total = int(m.group(2))
    return total, round(float(m.group(1)) * total / 100)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    md = "--markdown" in sys.argv
    if len(args) != 2:
        sys.exit(__doc__)
    src, build = (os.path.realpath(a) for a in args)
    rows = []
    for group, pats in GROUPS:
        files = sorted({f for p in pats for f in glob.glob(os.path.join(src, p))})
        gt = ge = 0
        for f in files:
            rel = os.path.relpath(f, src)
            obj = object_of(build, rel)
            r = lines_of(f, obj) if obj else None
            if not r:
                rows.append((rel, None, None))
                continue
            gt += r[0]
            ge += r[1]
            rows.append((rel, r[0], r[1]))
        rows.append(("%s total" % group, gt, ge))
    if md:
        print("| file | lines | run | % |\n|---|---:|---:|---:|")
    for rel, t, e in rows:
        pct = "-" if not t else "%.1f" % (100.0 * e / t)
        if md:
            bold = "**" if rel.endswith("total") else ""
            print("| %s%s%s | %s | %s | %s |" % (bold, rel, bold, t if t is not None else "-",
                                                e if e is not None else "-", pct))
        else:
            print("%-34s %6s %6s %6s%%" % (rel, t if t is not None else "-",
                                          e if e is not None else "-", pct))


if __name__ == "__main__":
    main()
