#!/usr/bin/python3
"""Boot the Strata test guest under QEMU (TCG) and check its console protocol.

    tools/guest/boot-check.py DISK [--runs N] [--timeout S] [--full]

Each run boots DISK (raw or qcow2, never modified: snapshot=on) with an SMBIOS
UUID and a second virtio disk whose first sector starts with STRATA-WRITE-TEST,
and checks: the READY line carries the UUID in lower case, STRATA-DISKS lists
both disks, the pattern lands at offset 4096 of the second disk (read back on
the host) and its sector 0 then says STRATA-WRITE-DONE.  --full also, in the
first run: hot-plugs a third test disk (and unplugs it), resets the machine
(the guest boots again) and presses the ACPI power button (the guest powers
off).  Prints the time from QEMU's start to READY for each run.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

MAGIC = b"STRATA-WRITE-TEST"
FILL = b"0123456789abcdef"


class Guest:
    def __init__(self, disk, extra, tmp, timeout):
        self.timeout = timeout
        self.qmp_path = os.path.join(tmp, "qmp.sock")
        self.uuid = str(uuid.uuid4())
        fmt = "qcow2" if disk.endswith(".qcow2") else "raw"
        cmd = ["qemu-system-x86_64", "-machine", "accel=tcg", "-m", "256", "-display", "none",
               "-serial", "stdio", "-monitor", "none",
               "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
               "-smbios", "type=1,uuid=" + self.uuid.upper(),
               "-drive", "file=%s,format=%s,if=virtio,snapshot=on" % (disk, fmt)]
        for path in extra:
            cmd += ["-drive", "file=%s,format=raw,if=virtio" % path]
        self.lines = []   # (seconds since start, text)
        self.cond = threading.Condition()
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        threading.Thread(target=self._reader, daemon=True).start()
        self.qmp = None

    def _reader(self):
        for raw in self.proc.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self.cond:
                self.lines.append((time.monotonic() - self.t0, text))
                self.cond.notify_all()
        with self.cond:
            self.lines.append((time.monotonic() - self.t0, None))   # EOF
            self.cond.notify_all()

    def wait(self, pattern, after=0):
        """First console line at index >= after matching pattern: (index, secs, match)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + self.timeout
        i = after
        with self.cond:
            while True:
                while i < len(self.lines):
                    secs, text = self.lines[i]
                    if text is None:
                        raise AssertionError("QEMU exited waiting for %r" % pattern)
                    m = rx.search(text)
                    if m:
                        return i, secs, m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %r; console:\n%s" % (
                        pattern, "\n".join(t for _, t in self.lines if t)))
                self.cond.wait(left)

    def command(self, name, **args):
        if self.qmp is None:
            s = socket.socket(socket.AF_UNIX)
            s.connect(self.qmp_path)
            self.qmp = s.makefile("rw")
            json.loads(self.qmp.readline())        # greeting
            self.command("qmp_capabilities")
        self.qmp.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.qmp.flush()
        while True:
            reply = json.loads(self.qmp.readline())
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise AssertionError("QMP %s: %s" % (name, reply["error"]))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def test_disk(path, mib=16):
    with open(path, "wb") as f:
        f.truncate(mib << 20)
        f.write(MAGIC + b"\0" * (512 - len(MAGIC)))


def check_pattern(path, server, name, nonce):
    with open(path, "rb") as f:
        sector0 = f.read(512)
        f.seek(4096)
        block = f.read(4096)
    header = ("STRATA-PATTERN server=%s disk=%s nonce=%s\n" % (server, name, nonce)).encode()
    assert block.startswith(header), block[:120]
    tail = bytes(FILL[i % 16] for i in range(len(header), 4096))
    assert block[len(header):] == tail, "fill pattern differs"
    assert sector0.startswith(b"STRATA-WRITE-DONE"), sector0[:32]


def run(disk, timeout, full, log):
    with tempfile.TemporaryDirectory(prefix="strata-guest-check.") as tmp:
        vdb = os.path.join(tmp, "vdb.raw")
        test_disk(vdb)
        g = Guest(disk, [vdb], tmp, timeout)
        try:
            i, ready, m = g.wait(r"STRATA-GUEST-READY server=(\S+)")
            assert m.group(1) == g.uuid, (m.group(1), g.uuid)
            i, _, _ = g.wait(r"^STRATA-DISKS vda vdb$", i)
            i, written, m = g.wait(r"^STRATA-PATTERN-WRITTEN disk=vdb nonce=([0-9a-f]{16}) (ok|failed)$", i)
            assert m.group(2) == "ok", m.group(0)
            check_pattern(vdb, g.uuid, "vdb", m.group(1))
            out = {"ready_s": round(ready, 2), "pattern_s": round(written, 2)}
            if full:
                vdc = os.path.join(tmp, "vdc.raw")
                test_disk(vdc)
                t = time.monotonic()
                g.command("blockdev-add", driver="raw", **{"node-name": "hp"},
                          file={"driver": "file", "filename": vdc})
                g.command("device_add", driver="virtio-blk-pci", drive="hp", id="hpdisk")
                i, _, _ = g.wait(r"^STRATA-DISKS vda vdb vdc$", i)
                i, _, m = g.wait(r"^STRATA-PATTERN-WRITTEN disk=vdc nonce=([0-9a-f]{16}) ok$", i)
                out["hotplug_to_pattern_s"] = round(time.monotonic() - t, 2)
                check_pattern(vdc, g.uuid, "vdc", m.group(1))
                g.command("device_del", id="hpdisk")
                i, _, _ = g.wait(r"^STRATA-DISKS vda vdb$", i)
                t = time.monotonic()
                g.command("system_reset")
                i, _, m = g.wait(r"STRATA-GUEST-READY server=(\S+)", i + 1)
                out["reset_to_ready_s"] = round(time.monotonic() - t, 2)
                # vdb says DONE now: no second pattern write
                i, _, _ = g.wait(r"^STRATA-DISKS vda vdb$", i)
                g.command("system_powerdown")
                g.wait(r"STRATA-GUEST-POWEROFF", i)
                g.proc.wait(timeout=timeout)
                later = [t for _, t in g.lines[i:] if t and "STRATA-PATTERN-WRITTEN" in t]
                assert not later, later
                out["powerdown"] = "ok"
            return out
        finally:
            g.close()
            if log:
                with open(log, "a") as f:
                    f.writelines("%7.2f %s\n" % (s, t) for s, t in g.lines if t is not None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("disk")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--full", action="store_true", help="also hot plug, reset and power off")
    ap.add_argument("--log", help="append the consoles to this file")
    a = ap.parse_args()
    disk = os.path.abspath(a.disk)
    rc = 0
    for n in range(a.runs):
        try:
            out = run(disk, a.timeout, a.full and n == 0, a.log)
            print("run %d: ok %s" % (n + 1, json.dumps(out)), flush=True)
        except AssertionError as e:
            print("run %d: FAILED %s" % (n + 1, e), flush=True)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
