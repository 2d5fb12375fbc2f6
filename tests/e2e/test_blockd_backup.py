"""Backups end to end with the real cinder client: full and incremental
backups read only what is there or changed, restores to a new and onto an
existing volume give the source's bytes back, dedup stores an unchanged volume
once, delete order follows the incrementals, export/import restores on
another Strata sharing the repository, an erasure-coded repository with m
directories gone still restores, a flipped bit is caught naming the backup and
offset, and kill -9 mid-backup or mid-restore reconciles with a clean audit."""
import hashlib
import os
import shutil
import signal
import tempfile
import time

import rados
import rbd
import requests

from conftest import free_port
from test_blockd import api, carol, cinder as cinder0, cluster, dave, vol_create, vurl, wait_status  # noqa: F401
from test_blockd_crash import wait_log
from test_blockd_types import admin  # noqa: F401
from test_imaged import H

MIB = 1 << 20
GIB = 1 << 30
P = "p-carol"


def cinder(vurl, tok, project, *args):
    return cinder0(vurl, tok, project, "--os-volume-api-version", "3.50", *args)


def write_at(cluster, vid, off, data, pool="strata.volumes"):
    with cluster.open_ioctx(pool) as io, rbd.Image(io, "volume-" + vid) as im:
        im.write(data, off)


def digest(cluster, vid, size, pool="strata.volumes"):
    h = hashlib.sha256()
    with cluster.open_ioctx(pool) as io, rbd.Image(io, "volume-" + vid, read_only=True) as im:
        for off in range(0, size, 16 * MIB):
            h.update(im.read(off, min(16 * MIB, size - off)))
    return h.hexdigest()


def ok(p):
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def field(out, name):
    for line in out.splitlines():
        parts = [x.strip() for x in line.split("|")]
        if len(parts) >= 4 and parts[1] == name:
            return parts[2]
    raise AssertionError("no %s in:\n%s" % (name, out))


def backup(vurl, tok, vid, *flags, base=None):
    """cinder backup-create; waits until available; returns the backup's view."""
    out = ok(cinder(vurl, tok, P, "backup-create", *flags, vid)) \
        if base is None else None
    if out is not None:
        bid = field(out, "id")
    else:
        r = requests.post(base + "/backups", headers=H(tok), json={"backup": {"volume_id": vid}})
        assert r.status_code == 202, r.text
        bid = r.json()["backup"]["id"]
    wait_status(base.rsplit("/v3/", 1)[0] if base else vurl, tok, P, "backups", bid, "available",
                timeout=120)
    b = requests.get("%s/backups/%s" % (base or api(vurl, tok, P), bid), headers=H(tok))
    return b.json()["backup"]


def audit(url, admin, repair=False):
    r = requests.get(url + "/internal/v1/backup-audit" + ("?repair=true" if repair else ""),
                     headers=H(admin[0]))
    assert r.status_code == 200, r.text
    return r.json()


def clean(report):
    return not report["orphan_chunks"] and not report["missing_chunks"] and not report["dangling_refs"]


def test_full_incremental_restore_dedup_and_delete_order(vurl, carol, admin, cluster):
    vol = vol_create(vurl, carol, P, size=1, name="bk-src")
    vid = vol["id"]
    wait_status(vurl, carol, P, "volumes", vid, "available")
    a, b, c = os.urandom(5 * MIB), os.urandom(3 * MIB), os.urandom(2 * MIB)
    write_at(cluster, vid, 0, a)
    write_at(cluster, vid, 700 * MIB + 123, b)
    full_state = digest(cluster, vid, GIB)
    before = audit(vurl, admin)["chunks"]
    full = backup(vurl, carol, vid, "--name", "full")
    assert full["is_incremental"] is False and full["size"] == 1
    # 5 MiB at 0 = chunks 0 and 1; 3 MiB at 700 MiB + 123 = chunk 175
    assert full["object_count"] == 3, full
    assert audit(vurl, admin)["chunks"] == before + 3

    # a second full backup of the unchanged volume stores nothing new
    again = backup(vurl, carol, vid, "--name", "again")
    assert again["object_count"] == 3
    assert audit(vurl, admin)["chunks"] == before + 3

    # an incremental after a change reads only what changed
    write_at(cluster, vid, 300 * MIB, c)
    inc_state = digest(cluster, vid, GIB)
    inc = backup(vurl, carol, vid, "--name", "inc", "--incremental")
    assert inc["is_incremental"] is True and inc["object_count"] == 4
    r = requests.get(api(vurl, carol, P) + "/backups/detail?volume_id=" + vid, headers=H(carol))
    views = {x["name"]: x for x in r.json()["backups"]}
    assert views["again"]["has_dependent_backups"] is True
    assert views["full"]["has_dependent_backups"] is False

    # restore the incremental to a new volume: the source's bytes at that time
    out = ok(cinder(vurl, carol, P, "backup-restore", "--name", "bk-restored", inc["id"]))
    new = field(out, "volume_id")
    wait_status(vurl, carol, P, "volumes", new, "available", timeout=120)
    wait_status(vurl, carol, P, "backups", inc["id"], "available")
    assert digest(cluster, new, GIB) == inc_state

    # restore the first full backup onto an existing volume (the restored one):
    # chunks the backup does not have are zeroed, not left over
    ok(cinder(vurl, carol, P, "backup-restore", "--volume", new, full["id"]))
    wait_status(vurl, carol, P, "volumes", new, "available", timeout=120)
    assert digest(cluster, new, GIB) == full_state

    # delete order: the parent of an incremental stays until the incremental goes
    p = cinder(vurl, carol, P, "backup-delete", again["id"])
    assert p.returncode != 0 and "Incremental backups exist" in p.stdout + p.stderr
    for bk in (inc, again, full):
        ok(cinder(vurl, carol, P, "backup-delete", bk["id"]))
        wait_status(vurl, carol, P, "backups", bk["id"], "gone")
    rep = audit(vurl, admin)
    assert clean(rep), rep
    assert rep["chunks"] == before
    # only the newest backup's snapshot was ever kept, and none once deleted
    with cluster.open_ioctx("strata.volumes") as io, rbd.Image(io, "volume-" + vid) as im:
        assert [s["name"] for s in im.list_snaps() if s["name"].startswith("backup-")] == []


def test_bad_requests_in_use_and_other_projects(vurl, carol, dave, admin, cluster):
    base = api(vurl, carol, P)
    vol = vol_create(vurl, carol, P, size=1)
    wait_status(vurl, carol, P, "volumes", vol["id"], "available")
    for body, want in ((b"{", 400), (b'{"backup": {}}', 400), (b'{"backup": {"volume_id": 5}}', 400),
                       (b'{"backup": {"volume_id": "%s", "incremental": "maybe"}}' % vol["id"].encode(), 400)):
        r = requests.post(base + "/backups", headers=dict(H(carol), **{"Content-Type": "application/json"}), data=body)
        assert r.status_code == want, (body, r.text)
    r = requests.post(base + "/backups", headers=H(carol),
                      json={"backup": {"volume_id": vol["id"], "incremental": True}})
    assert r.status_code == 400 and "No backups available" in r.text
    assert requests.get(base + "/backups/%s" % vol["id"], headers=H(carol)).status_code == 404
    # in-use needs --force
    ar = requests.post("%s/volumes/%s/action" % (api(vurl, admin[0], P), vol["id"]), headers=H(admin[0]),
                       json={"os-reset_status": {"status": "in-use"}})
    assert ar.status_code == 202, ar.text
    p = cinder(vurl, carol, P, "backup-create", vol["id"])
    assert p.returncode != 0 and "force" in p.stdout + p.stderr
    b = backup(vurl, carol, vol["id"], "--force")
    # another project sees none of it
    other = requests.get("%s/v3/p-dave/backups/%s" % (vurl, b["id"]), headers=H(dave))
    assert other.status_code == 404
    assert b["id"] not in requests.get("%s/v3/p-dave/backups" % vurl, headers=H(dave)).text
    requests.post("%s/volumes/%s/action" % (api(vurl, admin[0], P), vol["id"]), headers=H(admin[0]),
                  json={"os-reset_status": {"status": "available"}})
    # restore onto a smaller or busy volume is refused; export needs admin
    assert requests.get("%s/backups/%s/export_record" % (base, b["id"]), headers=H(carol)).status_code == 403
    r = requests.post("%s/backups/%s/restore" % (base, b["id"]), headers=H(carol),
                      json={"restore": {"volume_id": "00000000-0000-4000-8000-000000000000"}})
    assert r.status_code == 404
    ok(cinder(vurl, carol, P, "backup-delete", b["id"]))
    wait_status(vurl, carol, P, "backups", b["id"], "gone")


def test_corrupt_chunk_is_caught_naming_backup_and_offset(vurl, carol, admin, cluster):
    vol = vol_create(vurl, carol, P, size=1)
    vid = vol["id"]
    wait_status(vurl, carol, P, "volumes", vid, "available")
    chunk16 = os.urandom(MIB)
    write_at(cluster, vid, 64 * MIB, chunk16)
    b = backup(vurl, carol, vid)
    # flip one bit of the stored chunk in RADOS (chunk 16: the MiB, then zeros)
    sha = hashlib.sha256(chunk16 + bytes(3 * MIB)).hexdigest()
    victim = "chunks/%s/%s/%s" % (P, sha[:2], sha)
    with cluster.open_ioctx("strata.backups") as io:
        data = io.read(victim, 8 << 20)
        assert len(data) > 0
        flipped = bytearray(data)
        flipped[len(flipped) // 2] ^= 0x10
        io.write_full(victim, bytes(flipped))
    try:
        r = requests.post("%s/backups/%s/restore" % (api(vurl, carol, P), b["id"]), headers=H(carol),
                          json={"restore": {"name": "from-corrupt"}})
        assert r.status_code == 202, r.text
        new = r.json()["restore"]["volume_id"]
        wait_status(vurl, carol, P, "volumes", new, "error_restoring", timeout=120)
        wait_status(vurl, carol, P, "backups", b["id"], "available")
        view = requests.get("%s/backups/%s" % (api(vurl, carol, P), b["id"]), headers=H(carol)).json()["backup"]
        assert b["id"] in view["fail_reason"] and "offset %d" % (64 * MIB) in view["fail_reason"], view
        assert "crc" in view["fail_reason"] or "SHA" in view["fail_reason"] or "sha" in view["fail_reason"]
    finally:
        with cluster.open_ioctx("strata.backups") as io:
            io.write_full(victim, data)


def side_pools(cluster, suffix):
    """A second Strata's own metadata and volumes pools on the same cluster."""
    pools = ("strata.meta-" + suffix, "strata.volumes-" + suffix)
    for p in pools:
        if not cluster.pool_exists(p):
            cluster.create_pool(p)
            with cluster.open_ioctx(p) as io:
                io.application_enable("rbd")
    return {"meta_pool": pools[0], "volumes_pool": pools[1], "user": "admin"}


def test_export_import_restores_on_another_strata(vurl, carol, admin, cluster, service_factory):
    vol = vol_create(vurl, carol, P, size=1)
    vid = vol["id"]
    wait_status(vurl, carol, P, "volumes", vid, "available")
    write_at(cluster, vid, 10 * MIB, os.urandom(6 * MIB))
    want = digest(cluster, vid, GIB)
    b = backup(vurl, carol, vid)
    rec = requests.get("%s/backups/%s/export_record" % (api(vurl, admin[0], P), b["id"]), headers=H(admin[0]))
    assert rec.status_code == 200, rec.text
    record = rec.json()["backup-record"]
    assert record["backup_service"] == "strata.backup"
    # importing where it exists is refused
    again = requests.post(api(vurl, admin[0], P) + "/backups/import_record", headers=H(admin[0]),
                          json={"backup-record": record})
    assert again.status_code == 400 and "already exists" in again.text
    bad = requests.post(api(vurl, admin[0], P) + "/backups/import_record", headers=H(admin[0]),
                        json={"backup-record": {"backup_service": "strata.backup", "backup_url": "bm9wZQ=="}})
    assert bad.status_code == 400
    # another Strata (own metadata and volumes pools) sharing the repository
    port = free_port()
    other = service_factory("blockd", port, {"ceph": side_pools(cluster, "b")})
    ob = "%s/v3/%s" % (other.url, P)
    r = requests.post(ob + "/backups/import_record", headers=H(admin[0]), json={"backup-record": record})
    assert r.status_code == 201, r.text
    assert r.json()["backup"]["id"] == b["id"]
    r = requests.post("%s/backups/%s/restore" % (ob, b["id"]), headers=H(admin[0]), json={"restore": {}})
    assert r.status_code == 202, r.text
    new = r.json()["restore"]["volume_id"]
    wait_status(other.url, admin[0], P, "volumes", new, "available", timeout=120)
    assert digest(cluster, new, GIB, pool="strata.volumes-b") == want
    # either side deletes its record without taking the other's chunks
    assert requests.delete("%s/backups/%s" % (ob, b["id"]), headers=H(admin[0])).status_code == 202
    wait_status(other.url, admin[0], P, "backups", b["id"], "gone")
    rep = audit(vurl, admin)
    assert clean(rep), rep
    r = requests.post("%s/backups/%s/restore" % (api(vurl, carol, P), b["id"]), headers=H(carol),
                      json={"restore": {}})
    assert r.status_code == 202
    wait_status(vurl, carol, P, "volumes", r.json()["restore"]["volume_id"], "available", timeout=120)
    ok(cinder(vurl, carol, P, "backup-delete", b["id"]))


def test_erasure_coded_repository_survives_m_lost_directories(carol, admin, cluster, service_factory):
    top = tempfile.mkdtemp(prefix="ec", dir="/tmp")   # short: the list is one config line
    dirs = [os.path.join(top, str(i)) for i in range(6)]
    for d in dirs:
        os.mkdir(d)
    port = free_port()
    cfg = {"ceph": side_pools(cluster, "ec"),
           "backup": {"target": "ec", "dirs": ",".join(str(d) for d in dirs), "ec_k": 4, "ec_m": 2}}
    d = service_factory("blockd", port, cfg)
    base = "%s/v3/%s" % (d.url, P)
    r = requests.post(base + "/volumes", headers=H(carol), json={"volume": {"size": 1}})
    assert r.status_code == 202, r.text
    vid = r.json()["volume"]["id"]
    wait_status(d.url, carol, P, "volumes", vid, "available")
    write_at(cluster, vid, 5 * MIB, os.urandom(9 * MIB), pool="strata.volumes-ec")
    want = digest(cluster, vid, GIB, pool="strata.volumes-ec")
    b = backup(None, carol, vid, base=base)
    assert b["container"].startswith("ec4+2:")
    shutil.rmtree(dirs[1])
    shutil.rmtree(dirs[4])
    r = requests.post("%s/backups/%s/restore" % (base, b["id"]), headers=H(carol), json={"restore": {}})
    assert r.status_code == 202, r.text
    new = r.json()["restore"]["volume_id"]
    wait_status(d.url, carol, P, "volumes", new, "available", timeout=120)
    assert digest(cluster, new, GIB, pool="strata.volumes-ec") == want
    shutil.rmtree(dirs[0])   # a third: fewer than k remain
    r = requests.post("%s/backups/%s/restore" % (base, b["id"]), headers=H(carol), json={"restore": {}})
    assert r.status_code == 202
    wait_status(d.url, carol, P, "volumes", r.json()["restore"]["volume_id"], "error_restoring", timeout=120)
    shutil.rmtree(top)


def test_kill_9_mid_backup_and_mid_restore(vurl, carol, admin, cluster, service_factory):
    vol = vol_create(vurl, carol, P, size=1)
    vid = vol["id"]
    wait_status(vurl, carol, P, "volumes", vid, "available")
    write_at(cluster, vid, 0, os.urandom(12 * MIB))
    port = free_port()
    d = service_factory("blockd", port, {"blockd": {"debug_pause_step": "backup,restore"}})
    base = "%s/v3/%s" % (d.url, P)
    r = requests.post(base + "/backups", headers=H(carol), json={"backup": {"volume_id": vid}})
    assert r.status_code == 202, r.text
    bid = r.json()["backup"]["id"]
    wait_log(d, "paused at backup")
    d.stop(signal.SIGKILL)
    # restarted on its port (the same node): its leases are known dead at once
    d2 = service_factory("blockd", port, {})
    wait_status(d2.url, carol, P, "backups", bid, "error", timeout=90)
    rep = audit(d2.url, admin)
    assert clean(rep), rep
    # the volume itself was never blocked, and a new backup works
    good = backup(vurl, carol, vid)
    d2.stop(signal.SIGKILL)
    port = free_port()
    d3 = service_factory("blockd", port, {"blockd": {"debug_pause_step": "backup,restore"}})
    target = vol_create(vurl, carol, P, size=1)
    wait_status(vurl, carol, P, "volumes", target["id"], "available")
    r = requests.post("%s/v3/%s/backups/%s/restore" % (d3.url, P, good["id"]), headers=H(carol),
                      json={"restore": {"volume_id": target["id"]}})
    assert r.status_code == 202, r.text
    wait_log(d3, "paused at restore")
    d3.stop(signal.SIGKILL)
    d4 = service_factory("blockd", port, {})
    wait_status(d4.url, carol, P, "volumes", target["id"], "error_restoring", timeout=90)
    wait_status(d4.url, carol, P, "backups", good["id"], "available", timeout=90)
    for x in (bid, good["id"]):
        assert requests.delete("%s/backups/%s" % (base.replace(d.url, vurl), x), headers=H(carol)).status_code == 202
        wait_status(vurl, carol, P, "backups", x, "gone")
    rep = audit(vurl, admin)
    assert clean(rep), rep
