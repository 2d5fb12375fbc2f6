"""strata_cinder.driver -- a Cinder volume driver that delegates every operation
to Strata's blockd over its REST API; blockd does the RBD work, QoS and records.

Enable it in a backend section of cinder.conf:
    volume_driver = strata_cinder.driver.StrataDriver
The driver keeps no state: a Cinder volume's blockd id is in its provider_id,
and blockd names it cinder-<cinder id> so a lost provider_id is found again.
"""
import re
import urllib.parse

from oslo_config import cfg
from oslo_log import log as logging

from cinder.common import constants
from cinder import exception
from cinder.image import image_utils
from cinder import interface
from cinder.volume import configuration
from cinder.volume import driver
from cinder.volume import volume_utils

from strata_cinder.client import BlockdClient, BlockdError

LOG = logging.getLogger(__name__)

STRATA_OPTS = [
    cfg.StrOpt("strata_url", default="",
               help="blockd's base URL (http://host:port); empty: the volumev3 endpoint "
                    "of Strata identity's catalog"),
    cfg.StrOpt("strata_auth_url", default="", help="Strata identity's v3 URL"),
    cfg.StrOpt("strata_auth_username", default="cinder",
               help="Strata user the driver logs in as (admin role in strata_project for "
                    "capacity and manage)"),
    cfg.StrOpt("strata_auth_password", default="", secret=True, help="its password"),
    cfg.StrOpt("strata_auth_user_domain_name", default="Default"),
    cfg.StrOpt("strata_auth_project_domain_name", default="Default"),
    cfg.StrOpt("strata_project", default="cinder",
               help="Strata project that owns the volumes of this backend"),
    cfg.StrOpt("strata_auth_token", default="", secret=True,
               help="a static token instead of a password (tests, bootstrap); needs "
                    "strata_url and strata_project_id"),
    cfg.StrOpt("strata_project_id", default="", help="project id for strata_auth_token"),
    cfg.BoolOpt("strata_verify_tls", default=True, help="verify blockd's/identity's TLS"),
    cfg.IntOpt("strata_timeout", default=30, min=1, help="seconds per HTTP request"),
    cfg.IntOpt("strata_op_timeout", default=600, min=1,
               help="seconds to wait for an async blockd operation (create, clone, "
                    "extend, delete, revert, manage)"),
    cfg.IntOpt("strata_retries", default=3, min=0,
               help="retries of a request on a connection error or a 503"),
    cfg.StrOpt("strata_ceph_conf", default="/etc/ceph/ceph.conf",
               help="ceph.conf for image transfers (copy image to/from volume)"),
    cfg.StrOpt("strata_rbd_keyring", default="",
               help="keyring of the RBD user blockd hands out in connection_info, for "
                    "image transfers on this host; empty: ceph.conf's default"),
]

CONF = cfg.CONF
CONF.register_opts(STRATA_OPTS, group=configuration.SHARED_CONF_GROUP)

# Cinder volume-type extra spec naming the blockd type (which carries the QoS).
TYPE_SPEC = "strata:volume_type"
BUSY_STATUSES = ("reserved", "attaching", "in-use", "detaching")
RBD_URL = re.compile(r"^rbd://([^/]+)/([^/]+)/([^/]+)/([^/]+)$")


def blockd_name(obj):
    """What blockd calls a Cinder volume/snapshot: how a lost provider_id is found."""
    return "cinder-%s" % obj.id


@interface.volumedriver
class StrataDriver(driver.CloneableImageVD, driver.ManageableVD, driver.BaseVD):
    """Cinder volumes as Strata blockd volumes (RBD, attached by librbd)."""

    VERSION = "1.0.0"
    CI_WIKI_NAME = "Strata_CI"
    SUPPORTS_ACTIVE_ACTIVE = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(STRATA_OPTS)
        self.client = None
        self._location = None   # "<fsid>:<pool>" from blockd's capacity

    @staticmethod
    def get_driver_options():
        return STRATA_OPTS

    # ---- set-up ----
    def do_setup(self, context):
        c = self.configuration
        try:
            self.client = BlockdClient(
                c.strata_url, auth_url=c.strata_auth_url, username=c.strata_auth_username,
                password=c.strata_auth_password, project_name=c.strata_project,
                user_domain_name=c.strata_auth_user_domain_name,
                project_domain_name=c.strata_auth_project_domain_name,
                token=c.strata_auth_token, project_id=c.strata_project_id,
                verify=c.strata_verify_tls, timeout=c.strata_timeout, retries=c.strata_retries)
        except ValueError as e:
            raise exception.InvalidConfigurationValue(option="strata_*", value=str(e))

    def check_for_setup_error(self):
        try:
            v = self.client.version()
            self.client.call("GET", "/volumes?limit=1")
        except BlockdError as e:
            raise exception.VolumeBackendAPIException(
                data="Strata blockd is not usable: %s" % e)
        LOG.info("Strata blockd %s (volume API %s), project %s", self.client.base(),
                 v.get("version"), self.configuration.strata_project)

    # ---- errors ----
    def _fail(self, what, err):
        LOG.error("%s: %s", what, err)
        return exception.VolumeBackendAPIException(data="%s: %s" % (what, err))

    # ---- lookups ----
    def _volume(self, volume, required=True):
        """The blockd volume of a Cinder volume (provider_id, else by name)."""
        res = self.client.get("volume", volume.provider_id) if volume.provider_id else None
        if res is None:
            res = self.client.find_by_name("volume", blockd_name(volume))
        if res is None and required:
            raise exception.VolumeNotFound(volume_id=volume.id)
        return res

    def _snapshot(self, snapshot, required=True):
        res = (self.client.get("snapshot", snapshot.provider_id)
               if snapshot.provider_id else None)
        if res is None:
            res = self.client.find_by_name("snapshot", blockd_name(snapshot))
        if res is None and required:
            raise exception.SnapshotNotFound(snapshot_id=snapshot.id)
        return res

    @staticmethod
    def _blockd_type(volume_type):
        """The blockd type a Cinder type maps to (None: blockd's default)."""
        if not volume_type:
            return None
        specs = volume_type.get("extra_specs") or {}
        return specs.get(TYPE_SPEC) or None

    # ---- create ----
    def _create(self, volume, **source):
        """A blockd volume for `volume`, waited until available: the model update.
        A volume of the same name left by an interrupted create is reused."""
        old = self.client.find_by_name("volume", blockd_name(volume))
        if old and old["status"] in ("error", "error_restoring"):
            self._delete(old["id"])
            old = None
        if old is None:
            body = {"name": blockd_name(volume), "size": volume.size,
                    "description": "Cinder volume %s" % volume.id,
                    "metadata": {"cinder_volume_id": volume.id}}
            body.update({k: v for k, v in source.items() if v})
            vtype = self._blockd_type(volume.volume_type)
            if vtype:
                body["volume_type"] = vtype
            old = self.client.call("POST", "/volumes", {"volume": body})["volume"]
        try:
            self.client.wait("volume", old["id"], ("available",), ("error",),
                             self.configuration.strata_op_timeout)
        except BlockdError as e:
            self._delete(old["id"], quiet=True)
            raise self._fail("creating volume %s in blockd" % volume.id, e)
        return {"provider_id": old["id"]}

    def create_volume(self, volume):
        try:
            return self._create(volume)
        except BlockdError as e:
            raise self._fail("creating volume %s" % volume.id, e)

    def create_volume_from_snapshot(self, volume, snapshot):
        try:
            return self._create(volume, snapshot_id=self._snapshot(snapshot)["id"])
        except BlockdError as e:
            raise self._fail("creating volume %s from snapshot %s" % (volume.id, snapshot.id), e)

    def create_cloned_volume(self, volume, src_vref):
        try:
            return self._create(volume, source_volid=self._volume(src_vref)["id"])
        except BlockdError as e:
            raise self._fail("cloning volume %s to %s" % (src_vref.id, volume.id), e)

    # ---- delete ----
    def _detach(self, vol, host=None):
        """Undo what this driver's connections left on a blockd volume: the
        attachments of `host` (None: all of them), then the reservation."""
        for att in vol.get("attachments") or []:
            if host is None or att.get("host_name") in (host, None):
                self.client.action(vol["id"], "os-detach",
                                   {"attachment_id": att["attachment_id"]})
        cur = self.client.get("volume", vol["id"])
        if cur and cur["status"] in ("reserved", "attaching", "detaching"):
            self.client.action(vol["id"], "os-unreserve", {})

    def _delete(self, bid, quiet=False):
        try:
            vol = self.client.get("volume", bid)
            if vol is None:
                return
            if vol["status"] in BUSY_STATUSES:   # Cinder deletes only what it no longer attaches
                self._detach(vol)
            try:
                self.client.call("DELETE", "/volumes/%s" % bid)
            except BlockdError as e:
                if e.status == 404:
                    return
                raise
            self.client.wait("volume", bid, (), ("error_deleting",),
                             self.configuration.strata_op_timeout, gone_ok=True)
        except BlockdError:
            if not quiet:
                raise
            LOG.warning("could not remove blockd volume %s; blockd's reconciler owns it", bid)

    def delete_volume(self, volume):
        try:
            vol = self._volume(volume, required=False)
            if vol is None:
                LOG.info("volume %s: not in blockd, nothing to delete", volume.id)
                return
            self._delete(vol["id"])
        except BlockdError as e:
            if e.status in (400, 409) and "snapshot" in e.message:
                raise exception.VolumeIsBusy(volume_name=volume.name, message=e.message)
            raise self._fail("deleting volume %s" % volume.id, e)

    # ---- size, contents, type ----
    def extend_volume(self, volume, new_size):
        try:
            bid = self._volume(volume)["id"]
            self.client.action(bid, "os-extend", {"new_size": new_size})
            self.client.wait("volume", bid, ("available", "in-use"), ("error_extending",),
                             self.configuration.strata_op_timeout,
                             check=lambda v: v["size"] >= new_size)
        except BlockdError as e:
            raise self._fail("extending volume %s to %d GiB" % (volume.id, new_size), e)

    def revert_to_snapshot(self, context, volume, snapshot):
        try:
            bid = self._volume(volume)["id"]
            self.client.action(bid, "revert", {"snapshot_id": self._snapshot(snapshot)["id"]})
            self.client.wait("volume", bid, ("available",), ("error",),
                             self.configuration.strata_op_timeout)
        except BlockdError as e:
            raise self._fail("reverting volume %s to snapshot %s" % (volume.id, snapshot.id), e)

    def retype(self, context, volume, new_type, diff, host):
        """blockd's own retype (the new type's QoS reaches librbd and running
        guests); (False, None) when blockd refuses, so Cinder may migrate."""
        want = self._blockd_type(new_type)
        try:
            vol = self._volume(volume)
            cur = vol.get("volume_type")
            if want is None or cur == want:
                return True, None
            self.client.action(vol["id"], "os-retype",
                               {"new_type": want, "migration_policy": "never"})
            self.client.wait("volume", vol["id"], ("available", "in-use"), ("error",),
                             self.configuration.strata_op_timeout,
                             check=lambda v: v.get("volume_type") == want)
            return True, None
        except BlockdError as e:
            if e.status == 400:
                LOG.warning("blockd refused retype of %s to %s: %s", volume.id, want, e)
                return False, None
            raise self._fail("retyping volume %s to %s" % (volume.id, want), e)

    # ---- snapshots ----
    def create_snapshot(self, snapshot):
        try:
            vid = self._volume(snapshot.volume)["id"]
            snap = self.client.find_by_name("snapshot", blockd_name(snapshot))
            if snap is None:
                snap = self.client.call("POST", "/snapshots", {"snapshot": {
                    "volume_id": vid, "name": blockd_name(snapshot), "force": True,
                    "description": "Cinder snapshot %s" % snapshot.id}})["snapshot"]
            self.client.wait("snapshot", snap["id"], ("available",), ("error",),
                             self.configuration.strata_op_timeout)
            return {"provider_id": snap["id"]}
        except BlockdError as e:
            raise self._fail("creating snapshot %s" % snapshot.id, e)

    def delete_snapshot(self, snapshot):
        try:
            snap = self._snapshot(snapshot, required=False)
            if snap is None:
                return
            try:
                self.client.call("DELETE", "/snapshots/%s" % snap["id"])
            except BlockdError as e:
                if e.status == 404:
                    return
                raise
            self.client.wait("snapshot", snap["id"], (), ("error_deleting",),
                             self.configuration.strata_op_timeout, gone_ok=True)
        except BlockdError as e:
            if e.status in (400, 409):
                raise exception.SnapshotIsBusy(snapshot_name=snapshot.name, message=e.message)
            raise self._fail("deleting snapshot %s" % snapshot.id, e)

    # ---- connections: Nova attaches through librbd with blockd's connection_info ----
    @staticmethod
    def _host_of(connector):
        return (connector or {}).get("host") or "cinder"

    def _connect(self, vol, connector):
        host = self._host_of(connector)
        if vol["status"] == "available":
            self.client.action(vol["id"], "os-reserve", {})
            self.client.action(vol["id"], "os-attach", {"host_name": host,
                                                        "mountpoint": "/dev/cinder-rbd"})
        return self.client.action(vol["id"], "os-initialize_connection",
                                  {"connector": connector or {}})["connection_info"]

    def initialize_connection(self, volume, connector):
        try:
            info = self._connect(self._volume(volume), connector)
        except BlockdError as e:
            raise self._fail("connecting volume %s" % volume.id, e)
        # Cinder's manager adds the type's front-end qos_specs itself
        info["data"].pop("qos_specs", None)
        return info

    def terminate_connection(self, volume, connector, **kwargs):
        try:
            vol = self._volume(volume, required=False)
            if vol is None:
                return
            if connector:
                self.client.action(vol["id"], "os-terminate_connection",
                                   {"connector": connector})
            self._detach(vol, self._host_of(connector) if connector else None)
        except BlockdError as e:
            if e.status != 404:
                raise self._fail("disconnecting volume %s" % volume.id, e)

    def create_export(self, context, volume, connector):
        pass

    def ensure_export(self, context, volume):
        pass

    def remove_export(self, context, volume):
        pass

    # ---- capacity ----
    def _update_volume_stats(self):
        c = self.configuration
        stats = {"volume_backend_name": c.safe_get("volume_backend_name") or "strata",
                 "vendor_name": "Strata", "driver_version": self.VERSION,
                 "storage_protocol": constants.CEPH, "pools": []}
        ratio = volume_utils.get_max_over_subscription_ratio(
            c.safe_get("max_over_subscription_ratio"), supports_auto=False)
        try:
            pools = self.client.call("GET", "/scheduler-stats/get_pools?detail=true")["pools"]
        except BlockdError as e:
            LOG.warning("Strata blockd capacity unavailable: %s", e)
            pools = []
            stats["pools"].append({"pool_name": "strata", "total_capacity_gb": 0,
                                   "free_capacity_gb": 0, "backend_state": "down",
                                   "reserved_percentage": c.safe_get("reserved_percentage")})
        for p in pools:
            cap = p["capabilities"]
            self._location = cap.get("location_info") or self._location
            stats["pools"].append({
                "pool_name": cap["pool_name"],
                "total_capacity_gb": cap["total_capacity_gb"],
                "free_capacity_gb": cap["free_capacity_gb"],
                "provisioned_capacity_gb": cap["provisioned_capacity_gb"],
                "allocated_capacity_gb": cap.get("allocated_capacity_gb", 0),
                "max_over_subscription_ratio": ratio,
                "reserved_percentage": c.safe_get("reserved_percentage") or 0,
                "thin_provisioning_support": cap.get("thin_provisioning_support", True),
                "thick_provisioning_support": cap.get("thick_provisioning_support", False),
                "multiattach": cap.get("multiattach", False),
                "QoS_support": cap.get("QoS_support", True),
                "location_info": cap.get("location_info"),
                "backend_state": "up"})
        self._stats = stats

    # ---- images ----
    def _fsid(self):
        if self._location is None:
            self._update_volume_stats()
        return (self._location or ":").split(":")[0]

    def clone_image(self, context, volume, image_location, image_meta, image_service):
        """The fast path: a copy-on-write clone inside Ceph when the image is an
        rbd:// location of this cluster that Strata's imaged serves (blockd clones
        imaged's snapshot); otherwise (None, False) and Cinder copies."""
        direct_url, locations = image_location or (None, None)
        urls = [direct_url] + [loc.get("url") for loc in (locations or [])]
        fsid = None
        for url in filter(None, urls):
            m = RBD_URL.match(url)
            if m:
                fsid = fsid or self._fsid()
                if urllib.parse.unquote(m.group(1)) == fsid:
                    break
        else:
            return None, False
        if image_meta.get("disk_format") != "raw":
            LOG.debug("image %s is %s, not raw: no clone", image_meta["id"],
                      image_meta.get("disk_format"))
            return None, False
        try:
            update = self._create(volume, imageRef=image_meta["id"])
        except BlockdError as e:
            LOG.info("image %s is in this cluster but blockd cannot clone it (%s); copying",
                     image_meta["id"], e)
            return None, False
        update["bootable"] = True
        return update, True

    def _rbd_uri(self, conn):
        """qemu-img's rbd: target for a connection_info (this host's ceph.conf/keyring)."""
        d = conn["data"]
        uri = "rbd:%s:id=%s:conf=%s" % (d["name"], d["auth_username"],
                                         self.configuration.strata_ceph_conf)
        if self.configuration.strata_rbd_keyring:
            uri += ":keyring=%s" % self.configuration.strata_rbd_keyring
        return uri

    def _with_rbd(self, volume, fn):
        """fn(qemu-img rbd: URI of the volume's image), the volume connected to this
        host meanwhile (blockd's state says so; a crash leaves it for delete)."""
        connector = {"host": "cinder-transfer", "initiator": None}
        vol = self._volume(volume)
        conn = self._connect(vol, connector)
        try:
            return fn(self._rbd_uri(conn))
        finally:
            self.terminate_connection(volume, connector)

    def copy_image_to_volume(self, context, volume, image_service, image_id):
        """Fetch, convert to raw (Cinder's checks on format and size), write into
        the RBD image with qemu-img (zero runs are not written)."""
        with image_utils.temporary_file(prefix="strata-") as tmp:
            image_utils.fetch_to_raw(context, image_service, image_id, tmp,
                                     self.configuration.volume_dd_blocksize,
                                     size=volume.size)
            self._with_rbd(volume, lambda uri: self._execute(
                "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", tmp, uri))

    def copy_volume_to_image(self, context, volume, image_service, image_meta):
        with image_utils.temporary_file(prefix="strata-") as tmp:
            self._with_rbd(volume, lambda uri: self._execute(
                "qemu-img", "convert", "-f", "raw", "-O", "raw", uri, tmp))
            volume_utils.upload_volume(context, image_service, image_meta, tmp, volume,
                                       run_as_root=False, compress=True)

    # ---- manage existing RBD images ----
    def _manageable(self):
        return self.client.call("GET", "/manageable_volumes/detail")["manageable-volumes"]

    @staticmethod
    def _ref_of(existing_ref):
        ref = {k: existing_ref[k] for k in ("source-name", "source-id") if k in existing_ref}
        if not ref:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref, reason="source-name or source-id is required")
        return ref

    def manage_existing_get_size(self, volume, existing_ref):
        ref = self._ref_of(existing_ref)
        try:
            items = self._manageable()
        except BlockdError as e:
            raise self._fail("listing manageable volumes", e)
        for it in items:
            if all(it["reference"].get(k) == v for k, v in ref.items()):
                if not it.get("safe_to_manage"):
                    raise exception.ManageExistingInvalidReference(
                        existing_ref=existing_ref, reason=it.get("reason_not_safe"))
                return int(it["size"])
        raise exception.ManageExistingInvalidReference(
            existing_ref=existing_ref, reason="no such image in blockd's pool")

    def manage_existing(self, volume, existing_ref):
        ref = self._ref_of(existing_ref)
        body = {"host": volume.host or "cinder", "ref": ref, "name": blockd_name(volume),
                "description": "Cinder volume %s" % volume.id,
                "metadata": {"cinder_volume_id": volume.id}}
        vtype = self._blockd_type(volume.volume_type)
        if vtype:
            body["volume_type"] = vtype
        try:
            vol = self.client.call("POST", "/manageable_volumes", {"volume": body})["volume"]
            self.client.wait("volume", vol["id"], ("available",), ("error",),
                             self.configuration.strata_op_timeout)
        except BlockdError as e:
            if e.status in (400, 404):
                raise exception.ManageExistingInvalidReference(existing_ref=existing_ref,
                                                               reason=e.message)
            raise self._fail("managing %s" % ref, e)
        return {"provider_id": vol["id"]}

    def unmanage(self, volume):
        try:
            vol = self._volume(volume)
            self.client.action(vol["id"], "os-unmanage", {})
            self.client.wait("volume", vol["id"], (), ("error",),
                             self.configuration.strata_op_timeout, gone_ok=True)
        except BlockdError as e:
            raise self._fail("unmanaging volume %s" % volume.id, e)

    def get_manageable_volumes(self, cinder_volumes, marker, limit, offset, sort_keys,
                               sort_dirs):
        by_blockd = {v.provider_id: v.id for v in cinder_volumes if v.provider_id}
        try:
            items = self._manageable()
        except BlockdError as e:
            raise self._fail("listing manageable volumes", e)
        entries = []
        for it in items:
            cid = it.get("cinder_id")
            entries.append({"reference": it["reference"], "size": it["size"],
                            "safe_to_manage": it["safe_to_manage"],
                            "reason_not_safe": it.get("reason_not_safe"),
                            "cinder_id": by_blockd.get(cid, cid),
                            "extra_info": it.get("extra_info")})
        return volume_utils.paginate_entries_list(entries, marker, limit, offset, sort_keys,
                                                  sort_dirs)
