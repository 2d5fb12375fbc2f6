/* vol_backup.c — backups of volumes: set-up, records and state machine, the
 * leased create and delete jobs.  Restore and export/import are in
 * vol_backup_restore.c, audit and recovery in vol_backup_reconcile.c, the data
 * paths in vol_backup_run.c, the repository in backup/. */
#include "vol_backup_internal.h"

#include <openssl/evp.h>
#include <rbd/librbd.h>
#include <unistd.h>

#include "bk_repo.h"

static int validate_backup(const json_t *d)
{
    return json_is_string(json_object_get(d, "id")) && json_is_string(json_object_get(d, "status"))
               ? 0
               : -EINVAL;
}

const struct st_meta_kind backup_kind = { "backup", validate_backup };

const struct st_auth_ctx bk_admin_ctx = { .is_admin = true };

/* ---- set-up ---- */

static int parse_dirs(const char *list, char ***out, unsigned *n)
{
    char *copy = strdup(list), *save = NULL;
    char **dirs = calloc(64, sizeof(*dirs));
    unsigned k = 0;

    if (!copy || !dirs) {
        free(copy);
        free(dirs);
        return -ENOMEM;
    }
    for (char *t = strtok_r(copy, ", ", &save); t && k < 64; t = strtok_r(NULL, ", ", &save))
        dirs[k++] = strdup(t);
    free(copy);
    *out = dirs;
    *n = k;
    return 0;
}

static int open_store(struct vol_service *s, const struct st_config *c, struct bk_store **st)
{
    const char *target = st_config_str(c, "backup", "target");
    char **dirs = NULL, msg[BK_MSG_MAX] = "";
    unsigned ndirs = 0;
    struct bk_store_conf sc = {
        .cluster = st_daemon_rados(s->d),
        .pool = st_config_str(c, "ceph", "backups_pool"),
        .k = (unsigned)st_config_int(c, "backup", "ec_k"),
        .m = (unsigned)st_config_int(c, "backup", "ec_m"),
        .aio_depth = (unsigned)st_config_int(c, "backup", "aio_depth"),
    };
    int rc = parse_dirs(st_config_str(c, "backup", "dirs"), &dirs, &ndirs);

    if (rc < 0)
        return rc;
    sc.kind = strcmp(target, "dir") == 0 ? BK_STORE_DIR
              : strcmp(target, "ec") == 0 ? BK_STORE_EC : BK_STORE_RADOS;
    sc.dirs = (const char *const *)dirs;
    sc.ndirs = ndirs;
    if (sc.kind == BK_STORE_DIR && ndirs != 1) {
        st_error("[backup] target = dir needs exactly one directory in [backup] dirs");
        rc = -EINVAL;
    } else if (sc.kind == BK_STORE_EC && ndirs != sc.k + sc.m) {
        st_error("[backup] target = ec needs ec_k + ec_m = %u directories in [backup] dirs "
                 "(%u given)", sc.k + sc.m, ndirs);
        rc = -EINVAL;
    } else if ((rc = bk_store_open(&sc, st, msg, sizeof(msg))) < 0) {
        st_error("[backup] target %s: %s", target, msg);
    }
    for (unsigned i = 0; i < ndirs; i++)
        free(dirs[i]);
    free(dirs);
    return rc;
}

int vs_backup_open(struct vol_service *s, const struct st_config *c)
{
    struct bk_store *st = NULL;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int rc;

    s->bk_level = (int)st_config_int(c, "backup", "compression_level");
    s->bk_chunk = (uint32_t)st_config_size(c, "backup", "chunk_size");
    s->bk_max = (unsigned)st_config_int(c, "backup", "max_concurrent");
    s->bk_threads = (unsigned)st_config_int(c, "backup", "threads");
    if (s->bk_threads == 0)
        s->bk_threads = cores > 0 ? (unsigned)cores : 2;
    pthread_mutex_init(&s->bk_mu, NULL);
    pthread_cond_init(&s->bk_cv, NULL);
    if ((rc = qos_bulk_init(&s->bk_bulk, (uint64_t)st_config_int(c, "backup", "bytes_sec"),
                            (uint64_t)st_config_int(c, "backup", "backup_bytes_sec"))) < 0)
        return rc;
    rc = st_rados_ioctx(st_daemon_rados(s->d), st_config_str(c, "ceph", "backups_pool"),
                        &s->backups_io);
    if (rc < 0) {
        st_error("backups pool %s ([ceph] backups_pool): %s",
                 st_config_str(c, "ceph", "backups_pool"), strerror(-rc));
        return rc;
    }
    if ((rc = open_store(s, c, &st)) < 0)
        return rc;
    if ((rc = bk_repo_create(s->backups_io, st, s->owner, &s->repo)) < 0) {
        bk_store_close(st);
        return rc;
    }
    st_info("backups: %s, %u KiB chunks, igzip level %d, %u threads each, %u at once",
            bk_store_describe(st), s->bk_chunk / 1024, s->bk_level, s->bk_threads, s->bk_max);
    return 0;
}

void vs_backup_close(struct vol_service *s)
{
    bk_repo_destroy(s->repo);
    s->repo = NULL;
    if (s->backups_io)
        rados_ioctx_destroy(s->backups_io);
    qos_bulk_cleanup(&s->bk_bulk);
    pthread_mutex_destroy(&s->bk_mu);
    pthread_cond_destroy(&s->bk_cv);
}

/* ---- records ---- */

static int backups_where(struct vol_service *s, const char *field, const char *value,
                         json_t **out)
{
    struct vol_filter f = { field, value };
    struct list_ctx c = { &bk_admin_ctx, true, &f, 1 };
    return vs_list_kind(s, &backup_kind, &c, out);
}

static bool has_dependents(struct vol_service *s, const char *id)
{
    json_t *kids = NULL, *k;
    size_t i;
    bool any = false;

    if (backups_where(s, "parent_id", id, &kids) < 0)
        return true;   /* unknown: say yes, so nothing is deleted under an incremental */
    json_array_foreach(kids, i, k) any |=
        !vs_status_in(st_rec_str(k, "status"), (const char *const[]){"deleting", NULL});
    json_decref(kids);
    return any;
}

static json_t *with_dependents(struct vol_service *s, json_t *rec)
{
    json_object_set_new(rec, "has_dependent_backups",
                        json_boolean(has_dependents(s, st_rec_str(rec, "id"))));
    return rec;
}

int bk_get(struct vol_service *s, const struct st_auth_ctx *who, const char *id, json_t **out)
{
    json_t *rec = NULL;
    int rc = vs_get_data(s, &backup_kind, who, id, &rec);

    if (rc == 0) {
        *out = with_dependents(s, json_deep_copy(rec));
        json_decref(rec);
    }
    return rc;
}

int bk_list(struct vol_service *s, const struct st_auth_ctx *who, bool all_projects,
            const struct vol_filter *filters, size_t nfilters, json_t **out)
{
    struct list_ctx c = { who, all_projects, filters, nfilters };
    json_t *all = NULL, *rec, *parents = json_object();
    size_t i;
    int rc = vs_list_kind(s, &backup_kind, &c, &all);

    if (rc < 0) {
        json_decref(parents);
        return rc;
    }
    /* every parent of a live incremental (of any project: dependents count) */
    json_t *every = NULL;
    struct list_ctx ec = { &bk_admin_ctx, true, NULL, 0 };
    if (vs_list_kind(s, &backup_kind, &ec, &every) == 0)
        json_array_foreach(every, i, rec) if (st_rec_str(rec, "parent_id") &&
                                              strcmp(st_rec_str(rec, "status"), "deleting") != 0)
            json_object_set_new(parents, st_rec_str(rec, "parent_id"), json_true());
    json_decref(every);
    json_array_foreach(all, i, rec)
        json_object_set_new(rec, "has_dependent_backups",
                            json_boolean(json_object_get(parents, st_rec_str(rec, "id")) != NULL));
    json_decref(parents);
    *out = all;
    return 0;
}

/* The newest available backup of the volume whose snapshot is still kept. */
static int latest_parent(struct vol_service *s, const char *volume_id, json_t **out)
{
    json_t *all = NULL, *rec, *best = NULL;
    size_t i;
    int rc = backups_where(s, "volume_id", volume_id, &all);

    if (rc < 0)
        return rc;
    json_array_foreach(all, i, rec) {
        if (strcmp(st_rec_str(rec, "status"), "available") != 0 ||
            !json_is_true(json_object_get(json_object_get(rec, "_s"), "snap_kept")))
            continue;
        if (!best || strcmp(st_rec_str(rec, "created_at"), st_rec_str(best, "created_at")) > 0)
            best = rec;
    }
    *out = best ? json_incref(best) : NULL;
    json_decref(all);
    return best ? 0 : -ENOENT;
}

int bk_create(struct vol_service *s, const struct st_auth_ctx *who, const struct bk_create_req *req,
              json_t **out, char *msg)
{
    json_t *vol = NULL, *parent = NULL;
    char id[37], now[40];
    int rc = vs_get_data(s, &vol_kind, who, req->volume_id, &vol);

    if (rc == -ENOENT)
        snprintf(msg, VOL_MSG_MAX, "Volume %s could not be found.", req->volume_id);
    if (rc < 0)
        return rc;
    const char *vstatus = st_rec_str(vol, "status");
    bool in_use = vstatus && strcmp(vstatus, "in-use") == 0;
    if (!vs_status_in(vstatus, (const char *const[]){ "available", "in-use", NULL })) {
        snprintf(msg, VOL_MSG_MAX, "Invalid volume: Volume to be backed up must be available or "
                 "in-use, but the current status is \"%s\".", vstatus);
        rc = -EINVAL;
    } else if (in_use && !req->force && !req->snapshot_id) {
        snprintf(msg, VOL_MSG_MAX, "Invalid volume: Backing up an in-use volume must use the "
                 "force flag.");
        rc = -EINVAL;
    }
    if (rc == 0 && req->snapshot_id) {
        json_t *snap = NULL;
        rc = vs_get_data(s, &snap_kind, who, req->snapshot_id, &snap);
        if (rc == -ENOENT)
            snprintf(msg, VOL_MSG_MAX, "Snapshot %s could not be found.", req->snapshot_id);
        else if (rc == 0 && (strcmp(st_rec_str(snap, "status"), "available") != 0 ||
                             strcmp(st_rec_str(snap, "volume_id"), req->volume_id) != 0)) {
            snprintf(msg, VOL_MSG_MAX, "Invalid snapshot: snapshot %s must be available and of "
                     "volume %s.", req->snapshot_id, req->volume_id);
            rc = -EINVAL;
        }
        json_decref(snap);
    }
    if (rc == 0 && req->incremental && (rc = latest_parent(s, req->volume_id, &parent)) < 0) {
        snprintf(msg, VOL_MSG_MAX, "Invalid backup: No backups available to do an incremental "
                 "backup.");
        rc = -EINVAL;
    }
    if (rc < 0)
        goto out;
    vs_new_id(id);
    vs_now_ts(now, sizeof(now));
    json_t *rec = json_pack(
        "{s:s, s:s?, s:s?, s:s, s:s, s:s?, s:O, s:i, s:s, s:s, s:s, s:s, s:s, s:b, s:s?, s:s, "
        "s:o, s:n, s:n, s:{s:s, s:b}}",
        "id", id, "name", req->name, "description", req->description, "status", "creating",
        "volume_id", req->volume_id, "snapshot_id", req->snapshot_id, "size",
        json_object_get(vol, "size"), "object_count", 0, "availability_zone", s->az, "container",
        req->container ? req->container : bk_store_describe(bk_repo_store(s->repo)), "project_id",
        who->project_id, "user_id", who->user_id, "created_at", now, "is_incremental",
        parent != NULL, "parent_id", parent ? st_rec_str(parent, "id") : NULL, "updated_at", now,
        "metadata", req->metadata ? json_deep_copy(req->metadata) : json_object(), "fail_reason",
        "data_timestamp", "_s", "chunk_project", who->project_id, "snap_kept", 0);
    if (!rec) {
        rc = -ENOMEM;
        goto out;
    }
    json_object_set_new(rec, "progress", json_string("0%"));
    rc = st_meta_create_leased(s->meta, &backup_kind, id, rec, s->owner, "create", st_now_ms(),
                               s->ttl_ms, NULL);
    if (rc == 0 && (rc = vs_submit(s, JOB_BACKUP, id)) < 0) {
        st_meta_delete(s->meta, &backup_kind, id, 0);
        snprintf(msg, VOL_MSG_MAX, "The block service is too busy; try again later");
    }
    if (rc < 0)
        json_decref(rec);
    else
        *out = with_dependents(s, rec);
out:
    json_decref(vol);
    json_decref(parent);
    return rc;
}

/* ---- the backup job ---- */

static void slot_take(struct vol_service *s, const char *id)
{
    pthread_mutex_lock(&s->bk_mu);
    if (s->bk_running >= s->bk_max) {
        unsigned pos = ++s->bk_queued;
        pthread_mutex_unlock(&s->bk_mu);
        char p[48];
        snprintf(p, sizeof(p), "queued (%u ahead)", pos - 1 + s->bk_max);
        vs_step(s, &backup_kind, id, "creating", NULL, json_pack("{s:s}", "progress", p));
        pthread_mutex_lock(&s->bk_mu);
        while (s->bk_running >= s->bk_max)
            pthread_cond_wait(&s->bk_cv, &s->bk_mu);
        s->bk_queued--;
    }
    s->bk_running++;
    pthread_mutex_unlock(&s->bk_mu);
}

static void slot_give(struct vol_service *s)
{
    pthread_mutex_lock(&s->bk_mu);
    s->bk_running--;
    pthread_cond_signal(&s->bk_cv);
    pthread_mutex_unlock(&s->bk_mu);
}

static void backup_snap_name(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "backup-%s", id);
}

static int set_snap_kept(json_t *rec, void *arg)
{
    json_object_set_new(st_rec_private(rec), "snap_kept", json_boolean(*(bool *)arg));
    return 0;
}

/* Drop backup rec's RBD snapshot on its volume (gone volume: nothing to do). */
static void drop_snap(struct vol_service *s, const json_t *rec)
{
    char vol[NAME_MAX_LEN], snap[NAME_MAX_LEN];
    bool no = false;

    if (!json_is_true(json_object_get(json_object_get(rec, "_s"), "snap_kept")))
        return;
    st_meta_modify(s->meta, &backup_kind, st_rec_str(rec, "id"), set_snap_kept, &no, NULL);
    vol_rbd_name(st_rec_str(rec, "volume_id"), vol, sizeof(vol));
    backup_snap_name(st_rec_str(rec, "id"), snap, sizeof(snap));
    int rc = st_rbd_snap_remove(s->vols, vol, snap);
    if (rc < 0 && rc != -ENOENT)
        st_warn("backup %s: cannot remove snapshot %s@%s: %s", st_rec_str(rec, "id"), vol, snap,
                strerror(-rc));
}

/* Only the newest backup's snapshot is kept (the next incremental's base),
 * unless another backup is being made from one. */
static void prune_snaps(struct vol_service *s, const char *volume_id, const char *keep)
{
    json_t *all = NULL, *rec, *busy = json_object();
    size_t i;

    if (backups_where(s, "volume_id", volume_id, &all) < 0) {
        json_decref(busy);
        return;
    }
    json_array_foreach(all, i, rec) if (strcmp(st_rec_str(rec, "status"), "creating") == 0 &&
                                        st_rec_str(rec, "parent_id"))
        json_object_set_new(busy, st_rec_str(rec, "parent_id"), json_true());
    json_array_foreach(all, i, rec) if (strcmp(st_rec_str(rec, "id"), keep) != 0 &&
                                        !json_object_get(busy, st_rec_str(rec, "id")))
        drop_snap(s, rec);
    json_decref(all);
    json_decref(busy);
}

/* Undo what a failed or interrupted backup made: its snapshot, references,
 * manifest. */
void bk_backup_undo(struct vol_service *s, const json_t *rec)
{
    size_t freed = 0;

    drop_snap(s, rec);
    if (bk_repo_unref_all(s->repo, bk_chunk_ns(rec), bk_ref_id(rec), &freed) == 0)
        bk_repo_remove_manifest(s->repo, bk_ref_id(rec));
    if (freed)
        st_info("backup %s: %zu chunks freed", st_rec_str(rec, "id"), freed);
}

static int take_snapshot(struct vol_service *s, const json_t *rec, char *snap, size_t len,
                         char *msg)
{
    char vol[NAME_MAX_LEN], ts[40];
    const char *id = st_rec_str(rec, "id"), *sid = st_rec_str(rec, "snapshot_id");
    bool yes = true;
    int rc;

    if (sid) {
        snap_rbd_name(sid, snap, len);
        return 0;
    }
    backup_snap_name(id, snap, len);
    vol_rbd_name(st_rec_str(rec, "volume_id"), vol, sizeof(vol));
    /* recorded first, so an interrupted job's undo finds it */
    if ((rc = st_meta_modify_as(s->meta, &backup_kind, id, s->owner, set_snap_kept, &yes, NULL)) < 0)
        return rc;
    if ((rc = st_rbd_snap_create(s->vols, vol, snap, false)) < 0) {
        snprintf(msg, VOL_MSG_MAX, "cannot snapshot volume %s: %s", st_rec_str(rec, "volume_id"),
                 rc == -ENOENT ? "it is gone" : strerror(-rc));
        return rc;
    }
    vs_now_ts(ts, sizeof(ts));
    vs_step(s, &backup_kind, id, "creating", NULL, json_pack("{s:s}", "data_timestamp", ts));
    return 0;
}

static int make_backup(struct vol_service *s, const json_t *rec, struct vs_backup_stats *st,
                       char *msg)
{
    const char *pid = st_rec_str(rec, "parent_id");
    json_t *parent = NULL, *pm = NULL, *manifest = NULL;
    char snap[NAME_MAX_LEN], psnap[NAME_MAX_LEN] = "";
    int rc = take_snapshot(s, rec, snap, sizeof(snap), msg);

    if (rc == 0 && pid) {
        if ((rc = vs_get_data(s, &backup_kind, &bk_admin_ctx, pid, &parent)) < 0 ||
            (rc = bk_repo_get_manifest(s->repo, bk_ref_id(parent), &pm)) < 0)
            snprintf(msg, VOL_MSG_MAX, "the parent backup %s cannot be read: %s", pid,
                     strerror(-rc));
        backup_snap_name(pid, psnap, sizeof(psnap));
    }
    struct vs_backup_plan p = {st_rec_str(rec, "id"),
                               bk_chunk_ns(rec),
                               st_rec_str(rec, "volume_id"),
                               snap,
                               pm,
                               pid,
                               psnap};
    if (rc == 0)
        rc = vs_backup_data(s, &p, &manifest, st, msg);
    if (rc == 0 && (rc = bk_repo_put_manifest(s->repo, bk_ref_id(rec), manifest)) < 0)
        snprintf(msg, VOL_MSG_MAX, "cannot store the manifest: %s", strerror(-rc));
    json_decref(manifest);
    json_decref(pm);
    json_decref(parent);
    return rc;
}

void vs_job_backup(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    struct vs_backup_stats st = { 0 };
    char msg[VOL_MSG_MAX] = "";
    int64_t t0 = st_now_ms();

    if (st_meta_get(s->meta, &backup_kind, id, &rec) < 0)
        return;
    slot_take(s, id);
    vs_step(s, &backup_kind, id, "creating", NULL, json_pack("{s:s}", "progress", "0%"));
    int rc = make_backup(s, rec.data, &st, msg);
    slot_give(s);
    if (rc == 0)
        vs_debug_pause(s, "backup", id);
    if (rc == 0) {
        int64_t ms = st_now_ms() - t0;
        rc = vs_step(s, &backup_kind, id, "creating", "available",
                     json_pack("{s:I, s:s, s:{s:I, s:I, s:I, s:I, s:I}}", "object_count",
                               (json_int_t)st.chunks, "progress", "100%", "_s", "read_bytes",
                               (json_int_t)st.read_bytes, "stored_bytes",
                               (json_int_t)st.stored_bytes, "new_chunks",
                               (json_int_t)st.new_chunks, "chunks_read",
                               (json_int_t)st.chunks_read, "took_ms", (json_int_t)ms));
        st_info("backup %s: available in %lld ms: read %llu bytes (%llu chunks), stored %llu "
                "bytes (%llu new chunks), %llu chunks in all", id, (long long)ms,
                (unsigned long long)st.read_bytes, (unsigned long long)st.chunks_read,
                (unsigned long long)st.stored_bytes, (unsigned long long)st.new_chunks,
                (unsigned long long)st.chunks);
        if (rc == 0 && !st_rec_str(rec.data, "snapshot_id"))
            prune_snaps(s, st_rec_str(rec.data, "volume_id"), id);
    } else {
        st_warn("backup %s: failed: %s", id, msg[0] ? msg : strerror(-rc));
        struct st_record cur = { 0 };
        if (st_meta_get(s->meta, &backup_kind, id, &cur) == 0)
            bk_backup_undo(s, cur.data);
        st_record_cleanup(&cur);
        vs_step(s, &backup_kind, id, "creating", "error",
                json_pack("{s:s}", "fail_reason", msg[0] ? msg : strerror(-rc)));
    }
    st_record_cleanup(&rec);
}

/* ---- delete ---- */

int bk_delete(struct vol_service *s, const struct st_auth_ctx *who, const char *id, char *msg)
{
    json_t *rec = NULL;
    int rc = vs_get_data(s, &backup_kind, who, id, &rec);

    json_decref(rec);
    if (rc < 0)
        return rc;
    if (has_dependents(s, id)) {
        snprintf(msg, VOL_MSG_MAX, "Invalid backup: Incremental backups exist for this backup.");
        return -EINVAL;
    }
    static const char *const from[] = { "available", "error", NULL };
    int lr = vs_lease_for(s, &backup_kind, id, "delete", msg);
    if (lr < 0)
        return lr;
    struct transition t = { from, "deleting", NULL, "", NULL, NULL };
    rc = vs_transition(s, &backup_kind, id, true, &t);
    if (rc == -ECANCELED)
        snprintf(msg, VOL_MSG_MAX, "Invalid backup: Backup status must be available or error, "
                 "but is %s.", t.cur);
    if (rc == 0 && (rc = vs_submit(s, JOB_BACKUP_DELETE, id)) < 0)
        vs_step(s, &backup_kind, id, "deleting", t.cur, NULL);
    if (rc < 0)
        st_lease_release(s->meta, &backup_kind, id, s->owner);
    return rc;
}

void vs_job_backup_delete(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    size_t freed = 0;

    if (st_meta_get(s->meta, &backup_kind, id, &rec) < 0)
        return;
    drop_snap(s, rec.data);
    int rc = bk_repo_unref_all(s->repo, bk_chunk_ns(rec.data), bk_ref_id(rec.data), &freed);
    if (rc == 0)
        rc = bk_repo_remove_manifest(s->repo, bk_ref_id(rec.data));
    if (rc == 0)
        rc = st_meta_delete(s->meta, &backup_kind, id, 0);
    if (rc == 0)
        st_info("backup %s: deleted (%zu chunks freed)", id, freed);
    else
        st_warn("backup %s: delete incomplete (%s): reconcile retries", id, strerror(-rc));
    st_record_cleanup(&rec);
}

int bk_reset_status(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                    const char *status, char *msg)
{
    json_t *rec = NULL;
    int rc;

    if (!who->is_admin)
        return -EPERM;
    if (!vs_status_in(status, (const char *const[]){ "available", "error", NULL })) {
        snprintf(msg, VOL_MSG_MAX, "Invalid input received: status '%.32s' must be available or "
                 "error.", status ? status : "");
        return -EINVAL;
    }
    if ((rc = vs_get_data(s, &backup_kind, who, id, &rec)) < 0)
        return rc;
    json_decref(rec);
    struct transition t = { NULL, status, NULL, "", NULL, NULL };
    return vs_transition(s, &backup_kind, id, false, &t);
}
