/* vol_backup_reconcile.c — the repository audit and the crash recovery of
 * backups: dead leases finished or undone, restores whose volume went away. */
#include "vol_backup_internal.h"

#include <openssl/evp.h>
#include <rbd/librbd.h>
#include <unistd.h>

#include "bk_repo.h"

/* ---- audit and crash recovery ---- */

static bool ref_live(void *arg, const char *ref)
{
    json_t *all = arg, *rec;
    size_t i;

    json_array_foreach(all, i, rec)
        if (strcmp(bk_ref_id(rec), ref) == 0)
            return true;
    return false;
}

int bk_audit(struct vol_service *s, bool repair, json_t **report)
{
    json_t *all = NULL;
    struct list_ctx c = { &bk_admin_ctx, true, NULL, 0 };
    int rc = vs_list_kind(s, &backup_kind, &c, &all);

    if (rc == 0)
        rc = bk_repo_audit(s->repo, ref_live, all, repair, report);
    json_decref(all);
    return rc;
}

static int reconcile_backup_lease(struct st_meta *m, const char *id, const struct st_lease *l,
                                  void *arg)
{
    struct vol_service *s = arg;
    struct st_record rec = { 0 };
    int rc = st_lease_acquire(m, &backup_kind, id, s->owner, l->op, st_now_ms(), s->ttl_ms);

    if (rc == -EBUSY || rc == -ENOENT)
        return 0;
    if (rc < 0 || (rc = st_meta_get(m, &backup_kind, id, &rec)) < 0)
        goto release;
    const char *status = st_rec_str(rec.data, "status");
    st_warn("backup %s: %s interrupted (held by %s, status %s): reconciling", id, l->op, l->owner,
            status);
    if (strcmp(status, "creating") == 0) {
        bk_backup_undo(s, rec.data);
        vs_step(s, &backup_kind, id, "creating", "error",
                json_pack("{s:s}", "fail_reason", "interrupted (the block service restarted)"));
    } else if (strcmp(status, "deleting") == 0 && vs_submit(s, JOB_BACKUP_DELETE, id) == 0) {
        st_record_cleanup(&rec);
        return 0;   /* the job owns the lease */
    }
    st_record_cleanup(&rec);
release:
    st_lease_release(m, &backup_kind, id, s->owner);
    return rc;
}

/* A restore whose volume is no longer being restored (its job died). */
static bool restore_orphaned(struct vol_service *s, const json_t *rec)
{
    const char *vid = bk_priv_str(rec, "restoring_volume");
    struct st_record vol = { 0 };
    struct st_lease l;

    if (!vid || st_meta_get(s->meta, &vol_kind, vid, &vol) < 0)
        return true;
    bool busy = vs_status_in(st_rec_str(vol.data, "status"),
                             (const char *const[]){"creating", "restoring-backup", NULL}) &&
                st_lease_get(s->meta, &vol_kind, vid, &l) == 0 &&
                !st_lease_is_stale(&l, s->owner, st_now_ms());
    st_record_cleanup(&vol);
    return !busy;
}

void vs_reconcile_backups(struct vol_service *s)
{
    json_t *all = NULL, *rec;
    struct list_ctx c = { &bk_admin_ctx, true, NULL, 0 };
    size_t i;

    st_lease_reconcile(s->meta, &backup_kind, s->owner, st_now_ms(), reconcile_backup_lease, s);
    if (vs_list_kind(s, &backup_kind, &c, &all) < 0)
        return;
    json_array_foreach(all, i, rec) {
        const char *id = st_rec_str(rec, "id"), *status = st_rec_str(rec, "status");
        struct st_lease l = { .owner = "(none)", .op = "unknown" };
        if (vs_status_in(status, (const char *const[]){ "creating", "deleting", NULL }) &&
            st_lease_get(s->meta, &backup_kind, id, &l) == -ENOENT)
            reconcile_backup_lease(s->meta, id, &l, s);
        else if (strcmp(status, "restoring") == 0 && restore_orphaned(s, rec))
            vs_backup_unclaim(s, id, "the restore was interrupted");
    }
    json_decref(all);
}
