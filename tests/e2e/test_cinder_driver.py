"""strata_cinder (blockd/cinder/) inside Debian's real python3-cinder: loaded by
Cinder's own import path, passing Cinder's interface compliance test, and every
method driven with Cinder's own volume/snapshot objects against the live blockd
(logged in as a Strata user with a password, through keystoneauth): results
checked through blockd's API and in RBD.  The driver's user has its own project,
and the test leaves nothing of its own in RBD or blockd."""
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
import rbd
import requests

from conftest import TOP
from test_blockd import cluster, unlimited, vurl  # noqa: F401
from test_blockd_types import make_type
from test_identity import Directory, idurl, remember_secret  # noqa: F401
from test_imaged import H, create as create_image, upload

GIB = 1 << 30
MIB = 1 << 20
PKG = os.path.join(TOP, "blockd", "cinder")
POOL = "strata.volumes"

sys.path.insert(0, PKG)


@pytest.fixture(scope="module")
def account(idurl, strata_env, home, vurl):  # noqa: F811
    """A Strata project and an admin user of it for the driver (as an operator
    would make for Cinder), and a token of that user for direct checks."""
    d = Directory(idurl, strata_env["STRATA_ADMIN_TOKEN"], home)
    suffix = uuid.uuid4().hex[:8]
    p = d.project("cinder-" + suffix)
    u = d.user("cinder-" + suffix, p, "admin")
    unlimited(vurl, strata_env, p["id"])
    r = requests.post(idurl + "/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": u["name"], "domain": {"name": "Default"}, "password": u["password"]}}},
        "scope": {"project": {"name": p["name"], "domain": {"name": "Default"}}}}})
    assert r.status_code == 201, r.text
    tok = r.headers["X-Subject-Token"]
    remember_secret(home, tok)
    return {"project": p, "user": u, "token": tok}


def cinder_conf(tmp):
    """Cinder's global CONF parsed once (no files), image transfers under tmp."""
    from cinder import objects
    from oslo_config import cfg
    objects.register_all()
    conf = cfg.CONF
    if not conf._args and not getattr(conf, "_strata_parsed", False):
        conf([], project="cinder", default_config_files=[])
        conf._strata_parsed = True
    conf.set_override("image_conversion_dir", str(tmp))
    return conf


def make_driver(account, idurl, strata_env, tmp, section):  # noqa: F811
    """StrataDriver as cinder-volume builds it: Configuration of a backend
    section, importutils.import_object of the volume_driver path, do_setup,
    check_for_setup_error."""
    from cinder import context
    from cinder.volume import configuration, driver as base
    from oslo_utils import importutils
    conf = cinder_conf(tmp)
    c = configuration.Configuration(base.volume_opts, config_group=section)
    drv = importutils.import_object("strata_cinder.driver.StrataDriver", configuration=c,
                                    host="cinder-host@" + section)
    ceph = os.path.dirname(strata_env["CEPH_CONF"])
    for k, v in {"strata_auth_url": idurl, "strata_auth_username": account["user"]["name"],
                 "strata_auth_password": account["user"]["password"],
                 "strata_project": account["project"]["name"],
                 "strata_url": strata_env["STRATA_VOLUME_URL"].rsplit("/v3/", 1)[0],
                 "strata_op_timeout": 120, "strata_ceph_conf": strata_env["CEPH_CONF"],
                 "strata_rbd_keyring": os.path.join(ceph, "keyring.client.strata-computed"),
                 "volume_backend_name": section}.items():
        conf.set_override(k, v, group=section)
    drv.do_setup(context.get_admin_context())
    drv.check_for_setup_error()
    return drv


@pytest.fixture(scope="module")
def drv(account, idurl, strata_env, tmp_path_factory):  # noqa: F811
    return make_driver(account, idurl, strata_env, tmp_path_factory.mktemp("cinder"),
                       "strata-e2e")


@pytest.fixture(scope="module")
def ctx():
    from cinder import context
    return context.get_admin_context()


def volume(ctx, size=1, vtype=None, **kw):
    from cinder import objects
    return objects.Volume(context=ctx, id=str(uuid.uuid4()), size=size, display_name="v",
                          volume_type=vtype, provider_id=None, status="creating", _name_id=None,
                          host="cinder-host@strata-e2e#" + POOL, **kw)


def snapshot(ctx, vol):
    from cinder import objects
    return objects.Snapshot(context=ctx, id=str(uuid.uuid4()), volume_id=vol.id, volume=vol,
                            volume_size=vol.size, provider_id=None, status="creating")


def cinder_type(ctx, blockd_type):
    from cinder import objects
    return objects.VolumeType(context=ctx, id=str(uuid.uuid4()), name="ct-" + blockd_type,
                              extra_specs={"strata:volume_type": blockd_type})


def bapi(vurl, account):  # noqa: F811
    return "%s/v3/%s" % (vurl, account["project"]["id"])


def shown(vurl, account, kind, bid):  # noqa: F811
    r = requests.get("%s/%ss/%s" % (bapi(vurl, account), kind, bid), headers=H(account["token"]))
    return r.json()[kind] if r.status_code == 200 else None


def rbd_images(cluster):  # noqa: F811
    with cluster.open_ioctx(POOL) as io:
        return set(rbd.RBD().list(io))


def rbd_read(cluster, name, off, n):  # noqa: F811
    with cluster.open_ioctx(POOL) as io, rbd.Image(io, name, read_only=True) as im:
        return im.read(off, n)


def rbd_write(cluster, name, off, data):  # noqa: F811
    with cluster.open_ioctx(POOL) as io, rbd.Image(io, name) as im:
        im.write(data, off)


def rbd_size(cluster, name):  # noqa: F811
    with cluster.open_ioctx(POOL) as io, rbd.Image(io, name, read_only=True) as im:
        return im.size()


def wait_until(cond, timeout=60):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out"
        time.sleep(0.5)


def test_loaded_by_cinder_and_compliant(tmp_path):
    """The package installed with `pip install --no-deps`, then Cinder's own
    compliance test (cinder/tests/compliance) run on it with only this driver
    registered (cwd outside cinder/, so no in-tree driver is loaded)."""
    site, src = tmp_path / "site", tmp_path / "src"
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("__pycache__"))
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                        "--no-build-isolation", "--target", str(site), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (site / "strata_cinder" / "driver.py").exists()
    code = ("import sys, unittest\n"
            "import strata_cinder.driver\n"
            "assert strata_cinder.driver.__file__.startswith(%r)\n" % str(site) +
            "from cinder.tests.compliance import test_volume_drivers as t\n"
            "names = [d.class_fqn for d in t.VOLUME_DRIVERS]\n"
            "assert names == ['strata_cinder.driver.StrataDriver'], names\n"
            "r = unittest.TextTestRunner(verbosity=2).run(\n"
            "    unittest.defaultTestLoader.loadTestsFromModule(t))\n"
            "sys.exit(0 if r.wasSuccessful() and r.testsRun >= 2 else 1)\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True,
                       text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(site)))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "test_volume_driver_compliance" in p.stderr and "ok" in p.stderr
    from cinder.interface import volume_driver, volume_manageable_driver, volume_snapshot_revert
    from strata_cinder.driver import StrataDriver
    for iface in (volume_driver.VolumeDriverCore, volume_manageable_driver.VolumeListManageableDriver,
                  volume_snapshot_revert.VolumeSnapshotRevertDriver):
        assert issubclass(StrataDriver, iface), iface


def test_volume_snapshot_clone_extend_revert_delete(drv, ctx, vurl, account, cluster):  # noqa: F811
    from cinder import exception
    vol = volume(ctx)
    vol.update(drv.create_volume(vol))
    bid = vol.provider_id
    b = shown(vurl, account, "volume", bid)
    assert b["name"] == "cinder-" + vol.id and b["status"] == "available" and b["size"] == 1
    assert "volume-" + bid in rbd_images(cluster)
    data = os.urandom(2 * MIB)
    rbd_write(cluster, "volume-" + bid, 5 * MIB, data)

    snap = snapshot(ctx, vol)
    snap.update(drv.create_snapshot(snap))
    s = shown(vurl, account, "snapshot", snap.provider_id)
    assert s["volume_id"] == bid and s["name"] == "cinder-" + snap.id and s["status"] == "available"

    # a volume from the snapshot, bigger than it; a clone of the volume
    v2 = volume(ctx, size=2)
    v2.update(drv.create_volume_from_snapshot(v2, snap))
    v3 = volume(ctx)
    v3.update(drv.create_cloned_volume(v3, vol))
    for v, size in ((v2, 2), (v3, 1)):
        assert shown(vurl, account, "volume", v.provider_id)["size"] == size
        assert rbd_size(cluster, "volume-" + v.provider_id) == size * GIB
        assert rbd_read(cluster, "volume-" + v.provider_id, 5 * MIB, len(data)) == data

    # revert: the overwrite goes away
    rbd_write(cluster, "volume-" + bid, 5 * MIB, b"\xff" * MIB)
    drv.revert_to_snapshot(ctx, vol, snap)
    assert rbd_read(cluster, "volume-" + bid, 5 * MIB, len(data)) == data

    # extend; the provider_id lost (a crash before Cinder saved it): found by name
    vol.provider_id = None
    drv.extend_volume(vol, 3)
    assert shown(vurl, account, "volume", bid)["size"] == 3
    assert rbd_size(cluster, "volume-" + bid) == 3 * GIB

    # a volume with a snapshot is busy; the snapshot goes, then the volume
    with pytest.raises(exception.VolumeIsBusy) as e:
        drv.delete_volume(vol)
    assert "snapshot" in str(e.value)
    drv.delete_snapshot(snap)
    assert shown(vurl, account, "snapshot", snap.provider_id) is None
    drv.delete_snapshot(snap)   # again: already gone is success
    pids = [bid, v2.provider_id, v3.provider_id]
    for v, pid in zip((vol, v2, v3), pids):
        drv.delete_volume(v)
        assert shown(vurl, account, "volume", pid) is None
    drv.delete_volume(vol)       # again: nothing to delete is success
    # the source's image outlives its clones' records for a moment (blockd's rule)
    wait_until(lambda: not {"volume-" + p for p in pids} & rbd_images(cluster))


def test_a_retried_create_reuses_the_volume(drv, ctx, vurl, account, cluster):  # noqa: F811
    """cinder-volume killed after blockd made the volume but before Cinder saved
    provider_id: the rescheduled create finds it by name instead of leaking a
    second one, and a delete without provider_id removes it."""
    vol = volume(ctx)
    first = drv.create_volume(vol)["provider_id"]
    again = volume(ctx)
    again.id = vol.id                       # the same Cinder volume, its provider_id lost
    assert drv.create_volume(again)["provider_id"] == first
    r = requests.get("%s/volumes/detail?name=cinder-%s" % (bapi(vurl, account), vol.id),
                     headers=H(account["token"]))
    assert [v["id"] for v in r.json()["volumes"]] == [first]
    drv.delete_volume(again)                # found by name
    assert shown(vurl, account, "volume", first) is None
    assert "volume-" + first not in rbd_images(cluster)


def test_connection_is_rbd_and_state_follows(drv, ctx, vurl, account, cluster, strata_env):  # noqa: F811
    vol = volume(ctx)
    vol.update(drv.create_volume(vol))
    connector = {"host": "nova-compute-1", "ip": "127.0.0.1", "initiator": None,
                 "platform": "x86_64", "os_type": "linux", "multipath": False}
    info = drv.initialize_connection(vol, connector)
    assert info["driver_volume_type"] == "rbd"
    d = info["data"]
    assert d["name"] == "%s/volume-%s" % (POOL, vol.provider_id)
    assert d["hosts"] and len(d["hosts"]) == len(d["ports"])
    assert d["auth_enabled"] and d["auth_username"] and d["secret_type"] == "ceph"
    assert "qos_specs" not in d   # Cinder's manager adds the front-end specs itself
    b = shown(vurl, account, "volume", vol.provider_id)
    assert b["status"] == "in-use"
    assert [a["host_name"] for a in b["attachments"]] == ["nova-compute-1"]
    drv.terminate_connection(vol, connector)
    b = shown(vurl, account, "volume", vol.provider_id)
    assert b["status"] == "available" and b["attachments"] == []
    # a connection never closed (Cinder lost it): delete still cleans up
    drv.initialize_connection(vol, connector)
    drv.delete_volume(vol)
    assert shown(vurl, account, "volume", vol.provider_id) is None
    assert "volume-" + vol.provider_id not in rbd_images(cluster)


def test_stats_are_the_clusters(drv, vurl, account, strata_env):  # noqa: F811
    stats = drv.get_volume_stats(refresh=True)
    assert stats["vendor_name"] == "Strata" and stats["storage_protocol"] == "ceph"
    assert stats["volume_backend_name"] == "strata-e2e" and stats["driver_version"]
    [pool] = stats["pools"]
    r = requests.get("%s/scheduler-stats/get_pools?detail=true" % bapi(vurl, account),
                     headers=H(account["token"]))
    cap = r.json()["pools"][0]["capabilities"]
    assert pool["pool_name"] == POOL == cap["pool_name"]
    assert 0 < pool["free_capacity_gb"] <= pool["total_capacity_gb"]
    assert abs(pool["total_capacity_gb"] - cap["total_capacity_gb"]) < 1
    assert pool["provisioned_capacity_gb"] >= 0 and pool["backend_state"] == "up"
    assert pool["thin_provisioning_support"] and not pool["multiattach"] and pool["QoS_support"]
    fsid = subprocess.run(["ceph", "--conf", strata_env["CEPH_CONF"], "fsid"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert pool["location_info"] == "%s:%s" % (fsid, POOL)


def test_retype_changes_qos(drv, ctx, vurl, account, cluster):  # noqa: F811
    adm = (account["token"], account["project"]["id"])
    gold, _ = make_type(vurl, adm, {"total_iops_sec": "300"}, "back-end")
    vol = volume(ctx)
    vol.update(drv.create_volume(vol))
    ok, update = drv.retype(ctx, vol, cinder_type(ctx, gold["name"]), {}, vol.host)
    assert ok is True and update is None
    assert shown(vurl, account, "volume", vol.provider_id)["volume_type"] == gold["name"]
    with cluster.open_ioctx(POOL) as io, rbd.Image(io, "volume-" + vol.provider_id,
                                                    read_only=True) as im:
        assert dict(im.metadata_list()).get("conf_rbd_qos_iops_limit") == "300"
    # a Cinder type naming a blockd type that does not exist: blockd's message
    from cinder import exception
    with pytest.raises(exception.VolumeBackendAPIException) as e:
        drv.retype(ctx, vol, cinder_type(ctx, "no-such-type"), {}, vol.host)
    assert "no-such-type could not be found" in str(e.value)
    # a volume created with a type gets it
    v2 = volume(ctx, vtype=cinder_type(ctx, gold["name"]))
    v2.update(drv.create_volume(v2))
    assert shown(vurl, account, "volume", v2.provider_id)["volume_type"] == gold["name"]
    drv.delete_volume(vol)
    drv.delete_volume(v2)


def glance(iurl_, ctx_token, project_id):
    """Cinder's GlanceImageService on Strata's imaged, as the driver's user."""
    from cinder import context
    from cinder.image import glance as g
    from oslo_config import cfg
    cfg.CONF.set_override("glance_api_servers", [iurl_])
    ctx = context.RequestContext(user_id="cinder", project_id=project_id, auth_token=ctx_token,
                                 is_admin=True)
    return ctx, g.GlanceImageService()


def test_images_clone_copy_and_upload(drv, vurl, account, cluster, strata_env, tmp_path):  # noqa: F811
    iurl = strata_env["STRATA_IMAGE_URL"]
    tok, pid = account["token"], account["project"]["id"]
    data = os.urandom(3 * MIB)
    img = create_image(iurl, tok)
    assert upload(iurl, tok, img["id"], data).status_code == 204
    meta = requests.get(iurl + "/v2/images/" + img["id"], headers=H(tok)).json()
    ctx, images = glance(iurl, tok, pid)

    # clone_image: the rbd:// location is this cluster's: a copy-on-write clone
    vol = volume(ctx)
    update, cloned = drv.clone_image(ctx, vol, (meta["direct_url"], meta["locations"]),
                                     meta, images)
    assert cloned is True and update["bootable"] is True
    vol.update(update)
    with cluster.open_ioctx(POOL) as io, rbd.Image(io, "volume-" + vol.provider_id,
                                                    read_only=True) as im:
        parent = im.get_parent_image_spec()
        assert parent["pool_name"] == "strata.images" and parent["image_name"] == img["id"]
    assert rbd_read(cluster, "volume-" + vol.provider_id, 0, len(data)) == data
    # another cluster's rbd:// location, or none: Cinder must copy
    other = ("rbd://00000000-0000-0000-0000-000000000000/images/%s/snap" % img["id"], [])
    assert drv.clone_image(ctx, volume(ctx), other, meta, images) == (None, False)
    assert drv.clone_image(ctx, volume(ctx), (None, []), meta, images) == (None, False)

    # copy_image_to_volume: a qcow2 image fetched, converted, written into RBD
    raw, qcow = tmp_path / "d.raw", tmp_path / "d.qcow2"
    raw.write_bytes(data)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow)],
                   check=True)
    q = create_image(iurl, tok, disk_format="qcow2")
    assert upload(iurl, tok, q["id"], qcow.read_bytes()).status_code == 204
    from cinder import objects
    v2 = volume(ctx, vtype=objects.VolumeType(context=ctx, id=str(uuid.uuid4()), name="plain",
                                              extra_specs={}), glance_metadata={})
    v2.update(drv.create_volume(v2))
    drv.copy_image_to_volume(ctx, v2, images, q["id"])
    assert rbd_read(cluster, "volume-" + v2.provider_id, 0, len(data)) == data
    assert shown(vurl, account, "volume", v2.provider_id)["status"] == "available"

    # copy_volume_to_image: the volume's bytes become a new image
    out = create_image(iurl, tok)
    out_meta = images.show(ctx, out["id"])
    drv.copy_volume_to_image(ctx, v2, images, out_meta)
    got = requests.get(iurl + "/v2/images/" + out["id"], headers=H(tok)).json()
    assert got["status"] == "active" and got["size"] == GIB
    r = requests.get(iurl + "/v2/images/%s/file" % out["id"], headers=H(tok),
                     stream=True)
    head = b""
    for chunk in r.iter_content(MIB):
        head += chunk
        if len(head) >= len(data):
            break
    r.close()
    assert head[:len(data)] == data
    for v in (vol, v2):
        drv.delete_volume(v)
    for i in (img["id"], q["id"], out["id"]):
        requests.delete(iurl + "/v2/images/" + i, headers=H(tok))


def test_manage_and_unmanage_an_existing_image(drv, ctx, vurl, account, cluster):  # noqa: F811
    from cinder import exception
    name = "legacy-" + uuid.uuid4().hex[:8]
    data = os.urandom(MIB)
    with cluster.open_ioctx(POOL) as io:
        rbd.RBD().create(io, name, 10 * MIB, old_format=False, features=rbd.RBD_FEATURE_LAYERING)
    rbd_write(cluster, name, 0, data)
    listed = drv.get_manageable_volumes([], None, 1000, 0, ["size"], ["asc"])
    [mine] = [i for i in listed if i["reference"] == {"source-name": name}]
    assert mine["safe_to_manage"] is True and mine["size"] == 1
    vol = volume(ctx)
    assert drv.manage_existing_get_size(vol, {"source-name": name}) == 1
    with pytest.raises(exception.ManageExistingInvalidReference):
        drv.manage_existing_get_size(vol, {"source-name": "no-such-" + name})
    vol.update(drv.manage_existing(vol, {"source-name": name}))
    b = shown(vurl, account, "volume", vol.provider_id)
    assert b["name"] == "cinder-" + vol.id and b["size"] == 1
    images = rbd_images(cluster)
    assert name not in images and "volume-" + vol.provider_id in images
    assert rbd_read(cluster, "volume-" + vol.provider_id, 0, len(data)) == data
    listed = drv.get_manageable_volumes([vol], None, 1000, 0, ["size"], ["asc"])
    [again] = [i for i in listed if i["reference"] == {"source-name": "volume-" + vol.provider_id}]
    assert again["safe_to_manage"] is False and again["cinder_id"] == vol.id
    # an image with snapshots blockd would not know is not safe to manage
    snapped = "legacy-" + uuid.uuid4().hex[:8]
    with cluster.open_ioctx(POOL) as io:
        rbd.RBD().create(io, snapped, MIB, old_format=False, features=rbd.RBD_FEATURE_LAYERING)
        with rbd.Image(io, snapped) as im:
            im.create_snap("before")
    try:
        [s] = [i for i in drv.get_manageable_volumes([], None, 1000, 0, ["size"], ["asc"])
               if i["reference"] == {"source-name": snapped}]
        assert s["safe_to_manage"] is False and "snapshot" in s["reason_not_safe"]
        with pytest.raises(exception.ManageExistingInvalidReference) as e:
            drv.manage_existing(volume(ctx), {"source-name": snapped})
        assert "snapshot" in str(e.value)
    finally:
        with cluster.open_ioctx(POOL) as io:
            with rbd.Image(io, snapped) as im:
                im.remove_snap("before")
            rbd.RBD().remove(io, snapped)
    drv.unmanage(vol)
    assert shown(vurl, account, "volume", vol.provider_id) is None
    assert "volume-" + vol.provider_id in rbd_images(cluster)   # the data stays
    with cluster.open_ioctx(POOL) as io:
        rbd.RBD().remove(io, "volume-" + vol.provider_id)


def test_blockd_errors_become_cinder_exceptions(drv, ctx, account, idurl, strata_env, tmp_path):  # noqa: F811
    from cinder import exception
    vol = volume(ctx, size=1)
    vol.provider_id = str(uuid.uuid4())       # unknown to blockd and not by name either
    with pytest.raises(exception.VolumeNotFound):
        drv.extend_volume(vol, 2)
    v = volume(ctx, size=-1)                   # blockd's 400 with its message
    with pytest.raises(exception.VolumeBackendAPIException) as e:
        drv.create_volume(v)
    assert "size" in str(e.value).lower()
    bad = dict(account, user=dict(account["user"], password="wrong"))
    with pytest.raises(exception.VolumeBackendAPIException) as e:
        make_driver(bad, idurl, strata_env, tmp_path, "strata-badpw")
    assert "wrong" not in str(e.value)


def test_foreign_images_are_not_orphans_and_migrate_in_place(drv, ctx, vurl, account, cluster,  # noqa: F811
                                                              blockd_factory):
    """A `volume-<uuid>` image older than blockd's use of the pool (Cinder's RBD
    driver names its volumes so: blockd pointed at that pool) is not an orphan:
    the sweep of a freshly started blockd keeps it while it removes a real
    orphan, and it is managed in place.  The pool's mark is moved for the test,
    between the two images' creations, and put back."""
    from conftest import free_port
    key = "strata_blockd_since"
    foreign, orphan = "volume-" + str(uuid.uuid4()), "volume-" + str(uuid.uuid4())
    data = os.urandom(MIB)
    with cluster.open_ioctx(POOL) as io:
        mark = rbd.RBD().pool_metadata_get(io, key)
        rbd.RBD().create(io, foreign, 4 * MIB, old_format=False, features=rbd.RBD_FEATURE_LAYERING)
        with rbd.Image(io, foreign) as im:
            im.write(data, 0)
            made = int(im.create_timestamp().timestamp())
        try:
            time.sleep(1.2)
            rbd.RBD().pool_metadata_set(io, key, str(made + 1))
            time.sleep(1.2)
            rbd.RBD().create(io, orphan, MIB, old_format=False, features=rbd.RBD_FEATURE_LAYERING)
            listed = drv.get_manageable_volumes([], None, 1000, 0, ["size"], ["asc"])
            [f] = [i for i in listed if i["reference"] == {"source-name": foreign}]
            [o] = [i for i in listed if i["reference"] == {"source-name": orphan}]
            assert f["safe_to_manage"] is True, f
            assert o["safe_to_manage"] is False and "orphan" in o["reason_not_safe"], o
            blockd_factory(free_port())        # its start-up reconcile sweeps the pool now
            wait_until(lambda: orphan not in rbd_images(cluster), timeout=120)
            assert foreign in rbd_images(cluster)
            vol = volume(ctx)
            vol.update(drv.manage_existing(vol, {"source-name": foreign}))
            assert rbd_read(cluster, "volume-" + vol.provider_id, 0, len(data)) == data
            assert shown(vurl, account, "volume", vol.provider_id)["size"] == 1
            drv.delete_volume(vol)
            assert "volume-" + vol.provider_id not in rbd_images(cluster)
        finally:
            rbd.RBD().pool_metadata_set(io, key, mark)
            for name in (foreign, orphan):
                try:
                    rbd.RBD().remove(io, name)
                except rbd.ImageNotFound:
                    pass
