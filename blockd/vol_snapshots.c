/* vol_snapshots.c — snapshots: RBD snapshots of a volume's image with their
 * own records, created, listed, updated, reset and deleted. */
#include "vol_internal.h"

void vs_job_snap_create(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    char vol[NAME_MAX_LEN], snap[NAME_MAX_LEN];
    int rc = st_meta_get(s->meta, &snap_kind, id, &rec);

    if (rc < 0)
        return;
    vol_rbd_name(st_rec_str(rec.data, "volume_id"), vol, sizeof(vol));
    st_record_cleanup(&rec);
    snap_rbd_name(id, snap, sizeof(snap));
    rc = st_rbd_snap_create(s->vols, vol, snap, true);
    vs_step(s, &snap_kind, id, "creating", rc == 0 ? "available" : "error", NULL);
}

void vs_job_snap_delete(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    int rc = st_meta_get(s->meta, &snap_kind, id, &rec);

    if (rc < 0)
        return;
    rc = vs_purge_snapshot(s, rec.data, true);
    st_record_cleanup(&rec);
    if (rc < 0)
        vs_step(s, &snap_kind, id, "deleting", "error_deleting", NULL);
}

/* Every snapshot record of a volume, hidden ones included (admin view). */
int vs_snapshots_of(struct vol_service *s, const char *volume_id, json_t **out)
{
    static const struct st_auth_ctx admin = { .is_admin = true };
    struct vol_filter f = { "volume_id", volume_id };
    struct list_ctx c = { &admin, true, &f, 1 };
    return vs_list_kind(s, &snap_kind, &c, out);
}

int snap_create(struct vol_service *s, const struct st_auth_ctx *who, const char *volume_id,
                const char *name, const char *description, bool force, const json_t *metadata,
                json_t **out, char *msg)
{
    struct st_record vol = { 0 };
    char id[37], now[40];
    int rc = vs_get_visible(s, &vol_kind, who, volume_id, &vol);

    if (rc == -ENOENT)
        snprintf(msg, VOL_MSG_MAX, "Volume %s could not be found.", volume_id);
    if (rc < 0)
        return rc;
    /* Hold the volume's lease while the snapshot is registered: a delete,
     * extend or revert (they take it too) cannot start in between. */
    st_record_cleanup(&vol);
    if ((rc = vs_lease_for(s, &vol_kind, volume_id, "snapshot", msg)) < 0)
        return rc;
    if ((rc = st_meta_get(s->meta, &vol_kind, volume_id, &vol)) < 0) {
        st_lease_release(s->meta, &vol_kind, volume_id, s->owner);
        return rc;
    }
    const char *vstatus = st_rec_str(vol.data, "status");
    if (!vs_status_in(vstatus, vs_rule_from(force ? OP_SNAPSHOT_FORCE : OP_SNAPSHOT))) {
        snprintf(msg, VOL_MSG_MAX, "Invalid volume: Volume %s status must be available%s, "
                 "but current status is: %s.", volume_id, force ? " or in-use" : "", vstatus);
        st_record_cleanup(&vol);
        st_lease_release(s->meta, &vol_kind, volume_id, s->owner);
        return -ECANCELED;
    }
    vs_new_id(id);
    vs_now_ts(now, sizeof(now));
    json_t *rec = json_pack("{s:s, s:s?, s:s?, s:s, s:O, s:s, s:s, s:s, s:s, s:o, s:s}",
        "id", id, "name", name, "description", description, "status", "creating",
        "size", json_object_get(vol.data, "size"), "volume_id", volume_id,
        "project_id", who->project_id, "user_id", who->user_id, "created_at", now,
        "metadata", metadata ? json_deep_copy(metadata) : json_object(), "updated_at", now);
    st_record_cleanup(&vol);
    if (!rec) {
        st_lease_release(s->meta, &vol_kind, volume_id, s->owner);
        return -ENOMEM;
    }
    json_object_set_new(rec, "progress", json_string("100%"));
    struct vq_counts need;
    vq_of_record(rec, true, 1, &need);
    rc = vol_quota_reserve(s->quota, who->project_id, &need, msg);
    bool reserved = rc == 0;
    if (rc == 0)
        rc = st_meta_create_leased(s->meta, &snap_kind, id, rec, s->owner, "create", st_now_ms(),
                                   s->ttl_ms, NULL);
    if (rc == 0 && (rc = vs_submit(s, JOB_SNAP_CREATE, id)) < 0)
        st_meta_delete(s->meta, &snap_kind, id, 0);
    st_lease_release(s->meta, &vol_kind, volume_id, s->owner);
    if (rc < 0) {
        if (reserved)
            vol_quota_release(s->quota, who->project_id, &need);
        json_decref(rec);
        return rc;
    }
    *out = rec;
    return 0;
}

int snap_get(struct vol_service *s, const struct st_auth_ctx *who, const char *id, json_t **out)
{
    return vs_get_data(s, &snap_kind, who, id, out);
}

int snap_list(struct vol_service *s, const struct st_auth_ctx *who, bool all_projects,
              const struct vol_filter *filters, size_t nfilters, json_t **out)
{
    struct list_ctx c = { who, all_projects, filters, nfilters };
    return vs_list_kind(s, &snap_kind, &c, out);
}

int snap_update(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                const char *name, const char *description, const json_t *metadata,
                json_t **out, char *msg)
{
    struct edit e = { name, description, metadata, VMD_REPLACE, NULL, "Snapshot", msg, 0 };
    return vs_update_kind(s, &snap_kind, who, id, &e, out);
}

int snap_reset_status(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                      const char *status, char *msg)
{
    static const char *const allowed[] = { "available", "error", "creating", "deleting",
                                           "error_deleting", NULL };
    struct st_record rec = { 0 };
    struct transition t = { NULL, status, NULL, "", NULL, NULL };
    int rc;

    if (!who->is_admin)
        return -EPERM;
    if (!vs_status_in(status, allowed)) {
        snprintf(msg, VOL_MSG_MAX, "Invalid input received: status '%.32s' is not a snapshot "
                 "status.", status ? status : "");
        return -EINVAL;
    }
    rc = vs_get_visible(s, &snap_kind, who, id, &rec);
    st_record_cleanup(&rec);
    return rc < 0 ? rc : vs_transition(s, &snap_kind, id, false, &t);
}

int snap_delete(struct vol_service *s, const struct st_auth_ctx *who, const char *id, char *msg)
{
    struct st_record rec = { 0 };
    int rc = vs_get_visible(s, &snap_kind, who, id, &rec);

    st_record_cleanup(&rec);
    if (rc < 0)
        return rc;
    return vs_begin_op(s, &snap_kind, id, "delete", OP_SNAP_DELETE, "deleting", NULL,
                       JOB_SNAP_DELETE, msg);
}
