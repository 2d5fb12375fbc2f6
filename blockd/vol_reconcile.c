/* vol_reconcile.c — blockd's crash recovery, at start-up and periodically:
 * dead leases finished or undone, stale transient statuses, orphans, hidden records. */
#include "vol_internal.h"

/* A lease whose holder died: undo or finish what it was doing. */
static int reconcile_lease(struct st_meta *m, const char *id, const struct st_lease *l,
                           void *arg, const struct st_meta_kind *k)
{
    struct vol_service *s = arg;
    struct st_record rec = { 0 };
    char name[NAME_MAX_LEN], snap[NAME_MAX_LEN];
    int rc = st_lease_acquire(m, k, id, s->owner, l->op, st_now_ms(), s->ttl_ms);

    if (rc == -EBUSY || rc == -ENOENT)
        return 0;
    if (rc < 0 || (rc = st_meta_get(m, k, id, &rec)) < 0)
        goto release;
    const char *status = st_rec_str(rec.data, "status");
    bool is_vol = k == &vol_kind;
    enum job_kind resume = 0;
    bool resumed = false;
    st_warn("%s %s: %s interrupted (held by %s, status %s): reconciling", k->name, id, l->op,
            l->owner, status);
    if (status && strcmp(status, "creating") == 0) {
        /* not resumed: whatever was made is removed and the volume ends in error */
        if (is_vol) {
            vol_rbd_name(id, name, sizeof(name));
            rc = st_rbd_remove(s->vols, name);
            vs_drop_clone_snap(s, rec.data);
        } else {
            vol_rbd_name(st_rec_str(rec.data, "volume_id"), name, sizeof(name));
            snap_rbd_name(id, snap, sizeof(snap));
            rc = st_rbd_snap_remove(s->vols, name, snap);
        }
        if (rc == 0 || rc == -ENOENT)
            rc = vs_step(s, k, id, "creating", "error",
                         json_pack("{s:{s:s}}", "_s", "error", "interrupted"));
    } else if (status && strcmp(status, "deleting") == 0) {
        resume = is_vol ? JOB_DELETE : JOB_SNAP_DELETE;
        resumed = true;
    } else if (status && strcmp(status, "extending") == 0) {
        resume = JOB_EXTEND;
        resumed = true;
    } else if (status && strcmp(status, "reverting") == 0) {
        resume = JOB_REVERT;   /* a rollback can simply run again */
        resumed = true;
    } else if (status && strcmp(status, "uploading") == 0 && is_vol) {
        /* the import may have started: keep the snapshot for the sweep to judge */
        char pending[40];
        snprintf(pending, sizeof(pending), "%s",
                 st_rec_str(json_object_get(rec.data, "_s"), "upload_pending")
                     ? st_rec_str(json_object_get(rec.data, "_s"), "upload_pending")
                     : "");
        struct transition back = { vs_uploading_only, NULL, NULL, "", vs_end_upload,
                                   pending[0] ? pending : NULL };
        rc = vs_transition(s, k, id, true, &back);
    } else if (status && strcmp(status, "restoring-backup") == 0 && is_vol) {
        /* the data is partly written: the volume cannot be trusted (its
         * backup is released by vs_reconcile_backups) */
        rc = vs_step(s, k, id, "restoring-backup", "error_restoring",
                     json_pack("{s:{s:n}}", "_s", "restore_backup"));
    } else if (status && strcmp(status, "retyping") == 0) {
        resume = JOB_RETYPE;   /* applying QoS again is harmless */
        resumed = true;
    } else if (status && strcmp(status, "managing") == 0 && is_vol) {
        /* finished, never undone: the job renames the source unless
         * volume-<id> exists already, and ends error_managing only when both
         * are gone, so no image is lost and the record never dangles */
        resume = JOB_MANAGE;
        resumed = true;
    } else if (status && strcmp(status, "unmanaging") == 0 && is_vol) {
        resume = JOB_UNMANAGE;   /* mark the image kept, then drop the record */
        resumed = true;
    }
    st_record_cleanup(&rec);
    if (resumed && vs_submit(s, resume, id) == 0)
        return 0;   /* the job owns the lease now */
release:
    st_lease_release(m, k, id, s->owner);
    return rc;
}

static int reconcile_vol_lease(struct st_meta *m, const char *id, const struct st_lease *l,
                               void *arg)
{
    return reconcile_lease(m, id, l, arg, &vol_kind);
}

static int reconcile_snap_lease(struct st_meta *m, const char *id, const struct st_lease *l,
                                void *arg)
{
    return reconcile_lease(m, id, l, arg, &snap_kind);
}

/* Hidden (deleted) snapshots and volumes whose clones are gone. */
static void purge_hidden(struct vol_service *s)
{
    static const struct st_meta_filter del = { "status", "deleted" };
    struct st_record_list l = { 0 };
    char name[NAME_MAX_LEN];

    if (st_meta_list(s->meta, &snap_kind, NULL, 1000, &del, 1, NULL, NULL, &l) == 0) {
        for (size_t n = 0; n < l.count; n++)
            vs_purge_snapshot(s, l.items[n].data, false);
        st_record_list_cleanup(&l);
    }
    if (st_meta_list(s->meta, &vol_kind, NULL, 1000, &del, 1, NULL, NULL, &l) == 0) {
        for (size_t n = 0; n < l.count; n++) {
            vol_rbd_name(l.items[n].id, name, sizeof(name));
            if (vs_remove_volume_image(s, name) == 0)
                vs_delete_counted(s, &vol_kind, l.items[n].id, l.items[n].data);
        }
        st_record_list_cleanup(&l);
    }
}

/* RBD images "volume-<id>" that no record owns, blockd's own (not left by an
 * unmanage, not older than blockd's use of the pool). */
static void sweep_orphans(struct vol_service *s)
{
    char **names = NULL;
    size_t n = 0;

    if (st_rbd_list(s->vols, &names, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        struct st_record rec = { 0 };
        if (strncmp(names[i], "volume-", 7) != 0 || strlen(names[i]) != 7 + 36)
            continue;
        if (st_meta_get(s->meta, &vol_kind, names[i] + 7, &rec) == -ENOENT &&
            vs_image_orphan(s, names[i])) {
            if (st_rbd_remove(s->vols, names[i]) == 0)
                st_warn("removed RBD image %s/%s: no volume record owns it", s->pool, names[i]);
        }
        st_record_cleanup(&rec);
    }
    st_rbd_list_free(names, n);
}

struct pending_ctx {
    int64_t now_ms, grace_ms;
};

static bool pending_match(const json_t *rec, void *arg)
{
    const struct pending_ctx *p = arg;
    return volc_pending_attachment(rec, p->now_ms, p->grace_ms) != NULL;
}

/* Volumes left reserved/attaching by an attachment create that died before
 * writing its attachment record: back to available. */
static void free_pending(struct vol_service *s)
{
    struct pending_ctx p = { st_now_ms(), s->ttl_ms };
    struct st_record_list l = { 0 };

    if (st_meta_list(s->meta, &vol_kind, NULL, 1000, NULL, 0, pending_match, &p, &l) < 0)
        return;
    for (size_t n = 0; n < l.count; n++) {
        struct st_record att = { 0 };
        const char *aid = volc_pending_attachment(l.items[n].data, p.now_ms, p.grace_ms);
        if (aid && st_meta_get(s->meta, &att_kind, aid, &att) == -ENOENT) {
            struct att_edit e = { AE_NONE, aid, NULL, NULL, true, true, false };
            if (vs_cas_move(s, &vol_kind, l.items[n].id, OP_ATT_UPDATE, "available", NULL,
                            vs_edit_attachments, &e, NULL) == 0)
                st_warn("volume %s: attachment %s was never recorded: volume available again",
                        l.items[n].id, aid);
        }
        st_record_cleanup(&att);
    }
    st_record_list_cleanup(&l);
}

/* Records in a transient status that no lease covers (a job's last step
 * failed, a resume could not be queued, an admin reset the status): treated
 * like an interrupted operation, so nothing stays "creating" forever. */
static void sweep_transient(struct vol_service *s, const struct st_meta_kind *k)
{
    static const char *const transient[] = { "creating", "deleting", "extending", "reverting",
                                             "retyping", "uploading", "restoring-backup", "managing",
                                             "unmanaging", NULL };
    char marker[ST_META_ID_MAX + 1] = "";

    for (;;) {
        struct st_record_list l = { 0 };
        if (st_meta_list(s->meta, k, marker[0] ? marker : NULL, 500, NULL, 0, NULL, NULL, &l) < 0)
            return;
        for (size_t i = 0; i < l.count; i++) {
            struct st_lease lease = { .owner = "(none)", .op = "unknown" };
            if (vs_status_in(st_rec_str(l.items[i].data, "status"), transient) &&
                st_lease_get(s->meta, k, l.items[i].id, &lease) == -ENOENT)
                reconcile_lease(s->meta, l.items[i].id, &lease, s, k);
        }
        bool more = l.truncated;
        snprintf(marker, sizeof(marker), "%s", l.next_marker);
        st_record_list_cleanup(&l);
        if (!more)
            return;
    }
}

int vol_service_reconcile(struct vol_service *s)
{
    int64_t now = st_now_ms();
    int rc = st_lease_reconcile(s->meta, &vol_kind, s->owner, now, reconcile_vol_lease, s);
    int rc2 = st_lease_reconcile(s->meta, &snap_kind, s->owner, now, reconcile_snap_lease, s);

    sweep_transient(s, &vol_kind);
    sweep_transient(s, &snap_kind);
    purge_hidden(s);
    sweep_orphans(s);
    free_pending(s);
    vs_sweep_uploads(s);
    vs_reconcile_backups(s);
    vol_quota_reconcile(s->quota);
    return rc < 0 ? rc : rc2 < 0 ? rc2 : 0;
}
