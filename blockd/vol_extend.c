/* vol_extend.c — a volume's size and contents in place: extend (also
 * in-use, with the guests told) and revert to its latest snapshot. */
#include "vol_internal.h"

void vs_job_extend(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    char name[NAME_MAX_LEN];
    int rc = st_meta_get(s->meta, &vol_kind, id, &rec);

    if (rc < 0)
        return;
    json_int_t to =
        json_integer_value(json_object_get(json_object_get(rec.data, "_s"), "extend_to"));
    struct vq_counts grow = { { 0, 0, to - json_integer_value(json_object_get(rec.data,
                                                                               "size")) } };
    char project[ST_META_ID_MAX + 1];
    snprintf(project, sizeof(project), "%s",
             st_rec_str(rec.data, "project_id") ? st_rec_str(rec.data, "project_id") : "");
    json_int_t cur = json_integer_value(json_object_get(rec.data, "size"));
    /* an in-use volume (3.42) goes back to in-use */
    bool attached = json_array_size(json_object_get(rec.data, "attachments")) > 0;
    char type_id[ST_META_ID_MAX + 1];
    snprintf(type_id, sizeof(type_id), "%s",
             st_rec_str(rec.data, "volume_type_id") ? st_rec_str(rec.data, "volume_type_id") : "");
    st_record_cleanup(&rec);
    vol_rbd_name(id, name, sizeof(name));
    /* never shrink: a target at or below the size is already reached
     * (vol_extend refuses those; a stale resume could carry one) */
    rc = to > cur ? st_rbd_resize(s->vols, name, (uint64_t)to * GIB) : 0;
    if (to <= cur)
        to = cur;
    if (rc == 0)   /* per-GB limits follow the size */
        rc = vs_apply_backend_qos(s, project[0] ? project : NULL, id, type_id[0] ? type_id : NULL,
                                  to, false);
    if (rc == 0)
        vs_debug_pause(s, "extend", id);
    if (rc == 0 && vs_step(s, &vol_kind, id, "extending", attached ? "in-use" : "available",
                           json_pack("{s:I}", "size", to)) == 0 && attached)
        vs_submit(s, JOB_TELL, id);   /* after the lease: the volume is free for the next op */
    else if (rc < 0 && vs_step(s, &vol_kind, id, "extending", "error_extending", NULL) == 0)
        vol_quota_release(s->quota, project, &grow);   /* Cinder rolls the reservation back */
}

/* Roll the volume back to its snapshot (then back to the volume's size). */
void vs_job_revert(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 }, snap = { 0 };
    char name[NAME_MAX_LEN], sname[NAME_MAX_LEN];
    int rc = st_meta_get(s->meta, &vol_kind, id, &rec);

    if (rc < 0)
        return;
    const char *sid =
        json_string_value(json_object_get(json_object_get(rec.data, "_s"), "revert_to"));
    rc = sid ? st_meta_get(s->meta, &snap_kind, sid, &snap) : -ENOENT;
    if (rc == 0) {
        vol_rbd_name(id, name, sizeof(name));
        snap_rbd_name(sid, sname, sizeof(sname));
        rc = st_rbd_rollback(s->vols, name, sname);
    }
    /* the rollback restores the snapshot's size: grow back to the volume's,
     * as Cinder's RBD driver does (the volume keeps its size) */
    uint64_t vbytes = (uint64_t)json_integer_value(json_object_get(rec.data, "size")) * GIB;
    uint64_t now_bytes = 0;
    if (rc == 0 && st_rbd_size(s->vols, name, NULL, &now_bytes) == 0 && now_bytes < vbytes)
        rc = st_rbd_resize(s->vols, name, vbytes);
    if (rc == 0)
        vs_step(s, &vol_kind, id, "reverting", "available", NULL);
    else
        vs_step(s, &vol_kind, id, "reverting", "error", NULL);
    st_record_cleanup(&snap);
    st_record_cleanup(&rec);
}

int vol_extend(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               int64_t new_size_gb, bool in_use_ok, char *msg)
{
    struct st_record rec = { 0 };
    int rc = vs_get_visible(s, &vol_kind, who, id, &rec);

    st_record_cleanup(&rec);
    /* The size is read under the volume's lease (every size change holds
     * it), so two extends cannot both be judged against the same old size. */
    if (rc == 0)
        rc = vs_lease_for(s, &vol_kind, id, "extend", msg);
    if (rc < 0)
        return rc;
    if ((rc = st_meta_get(s->meta, &vol_kind, id, &rec)) < 0) {
        st_lease_release(s->meta, &vol_kind, id, s->owner);
        return rc == -EINVAL ? -ENOENT : rc;
    }
    json_int_t size = json_integer_value(json_object_get(rec.data, "size"));
    char project[ST_META_ID_MAX + 1];
    snprintf(project, sizeof(project), "%s",
             st_rec_str(rec.data, "project_id") ? st_rec_str(rec.data, "project_id") : "");
    st_record_cleanup(&rec);
    struct vq_counts grow = { { 0, 0, new_size_gb - size } };
    if (new_size_gb <= size) {
        snprintf(msg, VOL_MSG_MAX, "Invalid input received: New size for extend must be "
                 "greater than current size. (current: %lld, extended: %lld).",
                 (long long)size, (long long)new_size_gb);
        rc = -EINVAL;
    } else {
        rc = vol_quota_reserve(s->quota, project, &grow, msg);
    }
    if (rc < 0) {
        st_lease_release(s->meta, &vol_kind, id, s->owner);
        return rc;
    }
    rc = vs_begin_leased(s, &vol_kind, id, in_use_ok ? OP_EXTEND_IN_USE : OP_EXTEND, "extending",
                         json_pack("{s:{s:I}}", "_s", "extend_to", (json_int_t)new_size_gb),
                         JOB_EXTEND, msg);
    if (rc < 0)
        vol_quota_release(s->quota, project, &grow);
    return rc;
}

int vol_revert(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               const char *snapshot_id, char *msg)
{
    struct st_record vol = { 0 }, snap = { 0 };
    json_t *snaps = NULL, *sn;
    const char *latest = NULL, *latest_at = "";
    size_t i;
    int rc = vs_get_visible(s, &vol_kind, who, id, &vol);

    if (rc < 0)
        return rc;
    st_record_cleanup(&vol);
    rc = vs_get_visible(s, &snap_kind, who, snapshot_id, &snap);
    if (rc == -ENOENT)
        snprintf(msg, VOL_MSG_MAX, "Snapshot %s could not be found.", snapshot_id);
    if (rc < 0)
        return rc;
    bool mine = strcmp(st_rec_str(snap.data, "volume_id"), id) == 0;
    const char *sst = st_rec_str(snap.data, "status");
    bool ready = sst && strcmp(sst, "available") == 0;
    st_record_cleanup(&snap);
    if (mine && !ready) {
        snprintf(msg, VOL_MSG_MAX, "Invalid snapshot: snapshot %s is not available", snapshot_id);
        return -EINVAL;
    }
    if (!mine) {
        snprintf(msg, VOL_MSG_MAX, "Invalid snapshot: snapshot %s is not of volume %s",
                 snapshot_id, id);
        return -EINVAL;
    }
    /* Cinder reverts to the latest snapshot only */
    if ((rc = vs_snapshots_of(s, id, &snaps)) < 0)
        return rc;
    json_array_foreach(snaps, i, sn) {
        const char *at = st_rec_str(sn, "created_at");
        if (!st_rec_hidden(sn) && at && strcmp(at, latest_at) >= 0) {
            latest_at = at;
            latest = st_rec_str(sn, "id");
        }
    }
    bool is_latest = latest && strcmp(latest, snapshot_id) == 0;
    json_decref(snaps);
    if (!is_latest) {
        snprintf(msg, VOL_MSG_MAX, "Invalid snapshot: volume %s can only be reverted to its "
                 "latest snapshot", id);
        return -EINVAL;
    }
    return vs_begin_op(s, &vol_kind, id, "revert", OP_REVERT, "reverting",
                       json_pack("{s:{s:s}}", "_s", "revert_to", snapshot_id), JOB_REVERT, msg);
}
