/* vol_delete.c — deleting a volume: hidden first, then its RBD image (and
 * hidden snapshots) removed; quota given back when the record goes. */
#include "vol_internal.h"

static int hide(json_t *rec, void *arg)
{
    char now[40];

    (void)arg;
    vs_now_ts(now, sizeof(now));
    json_object_set_new(st_rec_private(rec), "deleted", json_true());
    json_object_set_new(rec, "status", json_string("deleted"));
    json_object_set_new(rec, "updated_at", json_string(now));
    return 0;
}

/* Delete a volume/snapshot record for good and give its quota back (rec: its
 * data when the caller has it, else read here). */
int vs_delete_counted(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                      const json_t *rec)
{
    struct st_record got = { 0 };
    int rc;

    if (!rec && st_meta_get(s->meta, k, id, &got) == 0)
        rec = got.data;
    rc = st_meta_delete(s->meta, k, id, 0);
    if (rc == 0 && rec)
        vol_quota_release_record(s->quota, rec, k == &snap_kind);
    st_record_cleanup(&got);
    return rc;
}

/* Remove a snapshot's RBD snapshot and record; while clones of it live, keep
 * the data and hide the record (purged once they are gone). */
int vs_purge_snapshot(struct vol_service *s, const json_t *rec, bool fenced)
{
    char vol[NAME_MAX_LEN], snap[NAME_MAX_LEN];
    const char *id = st_rec_str(rec, "id");
    int rc;

    vol_rbd_name(st_rec_str(rec, "volume_id"), vol, sizeof(vol));
    snap_rbd_name(id, snap, sizeof(snap));
    rc = st_rbd_snap_remove(s->vols, vol, snap);
    if (rc == -EBUSY) {
        st_info("snapshot %s: clones still use it: kept hidden until they are gone", id);
        return fenced ? st_meta_modify_as(s->meta, &snap_kind, id, s->owner, hide, NULL, NULL)
                      : st_meta_modify(s->meta, &snap_kind, id, hide, NULL, NULL);
    }
    if (rc < 0 && rc != -ENOENT)
        return rc;
    rc = vs_delete_counted(s, &snap_kind, id, rec);
    return rc == -ENOENT ? 0 : rc;
}

/* Remove a volume's RBD image: 0 once it is gone, -EBUSY while clones need
 * it.  A -ENOENT from a snapshot that vanished meanwhile (a clone's parent
 * snapshot moved to RBD's trash namespace) is not "gone": the image is
 * checked, so its record is never deleted while its data stays. */
int vs_remove_volume_image(struct vol_service *s, const char *name)
{
    uint64_t size;
    int rc = st_rbd_remove(s->vols, name);

    if (rc == -ENOENT)
        rc = st_rbd_size(s->vols, name, NULL, &size) == -ENOENT ? 0 : -EBUSY;
    return rc;
}

void vs_job_delete(struct vol_service *s, const char *id)
{
    char name[NAME_MAX_LEN], project[ST_META_ID_MAX + 1] = "";
    struct st_record rec = { 0 };
    json_t *snaps = NULL, *snap;
    size_t i;
    int rc = vs_snapshots_of(s, id, &snaps);

    if (st_meta_get(s->meta, &vol_kind, id, &rec) == 0 && st_rec_str(rec.data, "project_id"))
        snprintf(project, sizeof(project), "%s", st_rec_str(rec.data, "project_id"));
    st_record_cleanup(&rec);

    /* cascade: vol_delete refused volumes with snapshots unless asked to */
    json_array_foreach(snaps, i, snap) {
        if (rc == 0 && !st_rec_hidden(snap))
            rc = vs_purge_snapshot(s, snap, false);
    }
    json_decref(snaps);
    vol_rbd_name(id, name, sizeof(name));
    if (rc == 0)
        vs_debug_pause(s, "delete", id);
    if (rc == 0)
        rc = vs_remove_volume_image(s, name);
    if (rc == -EBUSY) {   /* snapshots of it still have clones: keep the data hidden */
        st_meta_modify_as(s->meta, &vol_kind, id, s->owner, hide, NULL, NULL);
        st_info("volume %s deleted; its RBD image stays hidden until its clones are gone", id);
        vs_resplit_project(s, project);
        return;
    }
    if (rc == -ENOTEMPTY) {
        /* a clone of it took a snapshot meanwhile: busy, as Cinder's RBD
         * driver answers (VolumeIsBusy), not broken */
        st_warn("volume %s: not deleted, it is busy (a copy of it is being made); available again",
                id);
        vs_step(s, &vol_kind, id, "deleting", "available", NULL);
        return;
    }
    if (rc == 0)
        rc = vs_delete_counted(s, &vol_kind, id, NULL);
    if (rc < 0 && rc != -ENOENT) {
        st_warn("volume %s: delete failed: %s", id, strerror(-rc));
        vs_step(s, &vol_kind, id, "deleting", "error_deleting", NULL);
        return;
    }
    st_info("volume %s: deleted", id);
    vs_resplit_project(s, project);
}

int vol_delete(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               bool cascade, char *msg)
{
    struct st_record rec = { 0 };
    json_t *snaps = NULL, *sn;
    size_t i, live = 0;
    int rc = vs_get_visible(s, &vol_kind, who, id, &rec);

    st_record_cleanup(&rec);
    /* Under the volume's lease no snapshot can be registered (snap_create
     * takes it too), so the count below cannot go stale before "deleting". */
    if (rc == 0)
        rc = vs_lease_for(s, &vol_kind, id, "delete", msg);
    if (rc < 0)
        return rc;
    rc = vs_snapshots_of(s, id, &snaps);
    if (rc < 0) {
        st_lease_release(s->meta, &vol_kind, id, s->owner);
        return rc;
    }
    json_array_foreach(snaps, i, sn) {
        live += !st_rec_hidden(sn);
    }
    json_decref(snaps);
    if (live && !cascade) {
        snprintf(msg, VOL_MSG_MAX, "Invalid volume: Volume %s still has %zu dependent "
                 "snapshot(s); delete them first or use cascade", id, live);
        st_lease_release(s->meta, &vol_kind, id, s->owner);
        return -EINVAL;
    }
    return vs_begin_leased(s, &vol_kind, id, OP_DELETE, "deleting", NULL, JOB_DELETE, msg);
}
