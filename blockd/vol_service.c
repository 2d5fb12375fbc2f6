/* vol_service.c — the core of blockd's volume service: records, Cinder's
 * state machine, leased jobs and their dispatch, the service's life cycle.
 * Every long operation is recorded first with a lease (create: record +
 * lease in one write), run by a worker whose lease the pool renews, and each
 * of its steps is a fenced write, so a crash or a paused process never
 * leaves a volume half-made or half-deleted.  The operations themselves live
 * in vol_create.c, vol_delete.c, vol_extend.c, vol_snapshots.c,
 * vol_attach.c, vol_upload.c, vol_qos_apply.c; crash recovery in
 * vol_reconcile.c. */
#include "vol_internal.h"

static int validate_rec(const json_t *d)
{
    return json_is_string(json_object_get(d, "id")) && json_is_string(json_object_get(d, "status"))
               ? 0
               : -EINVAL;
}

const struct st_meta_kind vol_kind = { "volume", validate_rec };
const struct st_meta_kind snap_kind = { "snapshot", validate_rec };
const struct st_meta_kind att_kind = { "attachment", validate_rec };

/* Which statuses each operation may start from (Cinder's rules). */
static const struct {
    enum vol_op op;
    const char *const from[6];
} rules[] = {
    { OP_DELETE, { "available", "error", "error_restoring", "error_extending", "error_managing", NULL } },
    { OP_EXTEND, { "available", NULL } },
    { OP_EXTEND_IN_USE, { "available", "in-use", NULL } },   /* 3.42+ */
    { OP_REVERT, { "available", NULL } },
    { OP_SNAPSHOT, { "available", NULL } },
    { OP_SNAPSHOT_FORCE, { "available", "in-use", NULL } },
    { OP_SOURCE, { "available", "in-use", NULL } },
    { OP_SNAP_DELETE, { "available", "error", "error_deleting", NULL } },
    { OP_RESERVE, { "available", NULL } },
    { OP_UNRESERVE, { "reserved", NULL } },
    { OP_BEGIN_DETACH, { "in-use", NULL } },
    { OP_ROLL_DETACH, { "detaching", NULL } },
    { OP_ATTACH, { "reserved", "attaching", NULL } },
    { OP_DETACH, { "in-use", "detaching", NULL } },
    { OP_CONNECT, { "reserved", "attaching", "in-use", "detaching", NULL } },
    { OP_ATT_CREATE, { "available", NULL } },
    { OP_ATT_UPDATE, { "reserved", "attaching", NULL } },
    { OP_ATT_COMPLETE, { "reserved", "attaching", NULL } },
    { OP_ATT_DELETE, { "reserved", "attaching", "in-use", "detaching", NULL } },
    { OP_RETYPE, { "available", "in-use", NULL } },
    { OP_UNMANAGE, { "available", NULL } },
};

const char *const *vs_rule_from(enum vol_op op)
{
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (rules[i].op == op)
            return rules[i].from;
    return NULL;
}

bool vs_status_in(const char *status, const char *const *set)
{
    for (; set && *set; set++)
        if (status && strcmp(status, *set) == 0)
            return true;
    return false;
}

static bool rvisible(const json_t *rec, const struct st_auth_ctx *who)
{
    const char *p = st_rec_str(rec, "project_id");
    return !st_rec_hidden(rec) && (who->is_admin || (p && strcmp(p, who->project_id) == 0));
}

/* Cinder's timestamp form. */
void vs_now_ts(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    char base[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06ld", base, ts.tv_nsec / 1000);
}

void vs_new_id(char *buf)
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, buf);
}

void vol_rbd_name(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "volume-%s", id);
}

void snap_rbd_name(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "snapshot-%s", id);
}

int vs_get_visible(struct vol_service *s, const struct st_meta_kind *k,
                   const struct st_auth_ctx *who, const char *id, struct st_record *rec)
{
    int rc = st_meta_get(s->meta, k, id, rec);

    if (rc == -EINVAL)
        return -ENOENT;
    if (rc < 0)
        return rc;
    if (!rvisible(rec->data, who)) {
        st_record_cleanup(rec);
        return -ENOENT;
    }
    return 0;
}

/* A visible record's data (a new reference), or -ENOENT. */
int vs_get_data(struct vol_service *s, const struct st_meta_kind *k, const struct st_auth_ctx *who,
                const char *id, json_t **out)
{
    struct st_record rec = { 0 };
    int rc = vs_get_visible(s, k, who, id, &rec);

    if (rc == 0)
        *out = json_incref(rec.data);
    st_record_cleanup(&rec);
    return rc;
}

static int apply_transition(json_t *rec, void *arg)
{
    struct transition *t = arg;
    const char *cur = st_rec_str(rec, "status");
    char now[40];

    snprintf(t->cur, sizeof(t->cur), "%s", cur ? cur : "");
    if (st_rec_hidden(rec))
        return -ENOENT;
    if (t->from && !vs_status_in(cur, t->from))
        return -ECANCELED;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)t->extra, k, v) {
        if (strcmp(k, "_s") == 0)
            json_object_update(st_rec_private(rec), v);
        else
            json_object_set(rec, k, v);
    }
    if (t->to)
        json_object_set_new(rec, "status", json_string(t->to));
    if (t->edit) {
        int rc = t->edit(rec, t->edit_arg);
        if (rc != 0)
            return rc;   /* an error, or 1: nothing to change */
    }
    vs_now_ts(now, sizeof(now));
    json_object_set_new(rec, "updated_at", json_string(now));
    return 0;
}

int vs_transition(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                  bool fenced, struct transition *t)
{
    return fenced ? st_meta_modify_as(s->meta, k, id, s->owner, apply_transition, t, NULL)
                  : st_meta_modify(s->meta, k, id, apply_transition, t, NULL);
}

/* Fenced step of a job: to `to` from `from` (one status), with extra members. */
int vs_step(struct vol_service *s, const struct st_meta_kind *k, const char *id,
            const char *from, const char *to, json_t *extra)
{
    const char *fromset[2] = { from, NULL };
    struct transition t = { from ? fromset : NULL, to, extra, "", NULL, NULL };
    int rc = vs_transition(s, k, id, true, &t);

    if (rc < 0)
        st_warn("%s %s: not moved to %s: %s", k->name, id, to ? to : "(same)", strerror(-rc));
    json_decref(extra);
    return rc;
}

struct job {
    struct vol_service *s;
    enum job_kind kind;
    char id[ST_META_ID_MAX + 1];
};

static void run_job(void *arg);

/* Hand a leased operation on (kind, id) to a worker.  The caller holds the
 * lease; the pool renews it and releases it when the job ends (JOB_TELL
 * takes none). */
int vs_submit(struct vol_service *s, enum job_kind kind, const char *id)
{
    const struct st_meta_kind *k =
        kind == JOB_SNAP_CREATE || kind == JOB_SNAP_DELETE      ? &snap_kind
        : kind == JOB_BACKUP || kind == JOB_BACKUP_DELETE ? &backup_kind
                                                          : &vol_kind;
    struct job *j = calloc(1, sizeof(*j));
    int rc;

    if (!j)
        return -ENOMEM;
    j->s = s;
    j->kind = kind;
    snprintf(j->id, sizeof(j->id), "%s", id);
    rc = kind == JOB_TELL || kind == JOB_TELL_QOS || kind == JOB_QOS
             ? st_workpool_submit(s->workers, run_job, j)
             : st_workpool_submit_leased(s->workers, s->meta, k, id, s->owner, s->ttl_ms, run_job,
                                         free, j);
    if (rc < 0) {
        st_error("%s %s: cannot queue the operation: %s", k->name, id, strerror(-rc));
        free(j);
    }
    return rc;
}

/* Start a leased operation on an existing record: lease, fenced vs_transition
 * from the allowed statuses, then the worker. */
/* Take the record's lease for an operation: -ECANCELED with a message naming
 * the status and the operation in progress when another holds it. */
int vs_lease_for(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                 const char *lease_op, char *msg)
{
    int rc = st_lease_acquire(s->meta, k, id, s->owner, lease_op, st_now_ms(), s->ttl_ms);

    if (rc == -EBUSY) {   /* another operation runs: say which, and the status */
        struct st_record rec = { 0 };
        struct st_lease l = { .op = "an operation" };
        st_lease_get(s->meta, k, id, &l);
        st_meta_get(s->meta, k, id, &rec);
        snprintf(msg, VOL_MSG_MAX, "Invalid %s: %s %s is %s (%s in progress)", k->name, k->name, id,
                 rec.data && st_rec_str(rec.data, "status") ? st_rec_str(rec.data, "status")
                                                            : "busy",
                 l.op);
        st_record_cleanup(&rec);
        rc = -ECANCELED;
    }
    return rc;
}

/* With the lease held: the fenced vs_transition, then the worker (which owns
 * the lease from then on); on failure the lease is released. */
int vs_begin_leased(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                    enum vol_op rule, const char *to, json_t *extra, enum job_kind job,
                    char *msg)
{
    struct transition t = { vs_rule_from(rule), to, extra, "", NULL, NULL };
    int rc;

    {
        rc = vs_transition(s, k, id, true, &t);
        if (rc == -ECANCELED)
            snprintf(msg, VOL_MSG_MAX, "Invalid %s: %s %s is %s; this needs one of: %s%s%s",
                     k->name, k->name, id, t.cur, t.from[0], t.from[1] ? ", " : "",
                     t.from[1] ? t.from[1] : "");
        if (rc == 0 && (rc = vs_submit(s, job, id)) < 0)
            vs_step(s, k, id, to, t.cur, NULL);   /* put it back */
        if (rc < 0)
            st_lease_release(s->meta, k, id, s->owner);
    }
    json_decref(extra);
    return rc;
}

int vs_begin_op(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                const char *lease_op, enum vol_op rule, const char *to, json_t *extra,
                enum job_kind job, char *msg)
{
    int rc = vs_lease_for(s, k, id, lease_op, msg);

    if (rc < 0) {
        json_decref(extra);
        return rc;
    }
    return vs_begin_leased(s, k, id, rule, to, extra, job, msg);
}

static void run_job(void *arg)
{
    struct job *j = arg;

    switch (j->kind) {
    case JOB_REVERT: vs_job_revert(j->s, j->id); break;
    case JOB_CREATE: vs_job_create(j->s, j->id); break;
    case JOB_DELETE: vs_job_delete(j->s, j->id); break;
    case JOB_TELL: vs_tell_guests(j->s, j->id, true); break;
    case JOB_TELL_QOS: vs_tell_guests(j->s, j->id, false); break;
    case JOB_QOS: vs_job_qos(j->s, j->id); break;
    case JOB_EXTEND: vs_job_extend(j->s, j->id); break;
    case JOB_SNAP_CREATE: vs_job_snap_create(j->s, j->id); break;
    case JOB_SNAP_DELETE: vs_job_snap_delete(j->s, j->id); break;
    case JOB_RETYPE: vs_job_retype(j->s, j->id); break;
    case JOB_BACKUP: vs_job_backup(j->s, j->id); break;
    case JOB_BACKUP_DELETE: vs_job_backup_delete(j->s, j->id); break;
    case JOB_RESTORE: vs_job_restore(j->s, j->id); break;
    case JOB_MANAGE: vs_job_manage(j->s, j->id); break;
    case JOB_UNMANAGE: vs_job_unmanage(j->s, j->id); break;
    }
    free(j);
}

static void reconcile_tick(void *arg)
{
    int64_t t0 = st_now_ms();
    int rc = vol_service_reconcile(arg);
    int64_t took = st_now_ms() - t0;

    if (rc < 0)
        st_warn("reconcile pass incomplete (%s): the next pass retries", strerror(-rc));
    if (took >= 5000)
        st_warn("reconcile pass took %lld ms", (long long)took);
}

struct vol_quota *vol_service_quota(struct vol_service *s)
{
    return s->quota;
}

struct vol_types *vol_service_types(struct vol_service *s)
{
    return s->types;
}

size_t vol_service_metadata_max(const struct vol_service *s)
{
    return s->md_max;
}

const char *vol_service_public_url(const struct vol_service *s)
{
    return s->public_url;
}

int vol_service_create(struct st_daemon *d, struct vol_service **out)
{
    const struct st_config *c = st_daemon_config(d);
    struct vol_service *s = calloc(1, sizeof(*s));
    struct st_httpc_config hc = { 30000, 5000, 3, 200 };
    int rc;

    if (!s)
        return -ENOMEM;
    s->d = d;
    s->meta = st_daemon_meta(d);
    s->owner = st_daemon_owner(d);
    snprintf(s->pool, sizeof(s->pool), "%s", st_config_str(c, "ceph", "volumes_pool"));
    snprintf(s->az, sizeof(s->az), "%s", st_config_str(c, "blockd", "availability_zone"));
    /* blockd calls imaged as a service: the bootstrap admin token */
    snprintf(s->service_token, sizeof(s->service_token), "%s",
             st_config_str(c, "auth", "admin_token"));
    s->max_depth = (int)st_config_int(c, "blockd", "max_clone_depth");
    s->md_max = (size_t)st_config_int(c, "blockd", "max_metadata_items");
    if ((rc = st_daemon_public_url(d, st_config_str(c, "blockd", "public_url"), s->public_url,
                                   sizeof(s->public_url))) < 0) {
        st_error("[blockd] public_url: an http:// or https:// URL of at most %d characters",
                 VOLJ_BASE_MAX - 1);
        goto fail;
    }
    s->project_cap[QOS_IOPS] = (uint64_t)st_config_int(c, "blockd", "project_iops_sec");
    s->project_cap[QOS_BPS] = (uint64_t)st_config_int(c, "blockd", "project_bytes_sec");
    if ((rc = qos_bulk_init(&s->bulk, (uint64_t)st_config_int(c, "blockd", "bulk_bytes_sec"),
                            (uint64_t)st_config_int(c, "blockd", "bulk_volume_bytes_sec"))) < 0)
        goto fail;
    snprintf(s->pause_steps, sizeof(s->pause_steps), "%s",
             st_config_str(c, "blockd", "debug_pause_step"));
    if (s->pause_steps[0])
        st_warn("[blockd] debug_pause_step = %s: jobs will stall (tests only)", s->pause_steps);
    const char *ratio = st_config_str(c, "blockd", "max_over_subscription_ratio");
    char *end = NULL;
    s->over_ratio = ratio ? strtod(ratio, &end) : 0;
    if (!ratio || end == ratio || *end || !(s->over_ratio > 0) || s->over_ratio > 1e6) {
        st_error("[blockd] max_over_subscription_ratio = %s: must be a number greater than 0 "
                 "(e.g. 20.0)", ratio ? ratio : "");
        rc = -EINVAL;
        goto fail;
    }
    s->ttl_ms = st_config_duration_ms(c, "lease", "ttl");
    snprintf(s->rbd_user, sizeof(s->rbd_user), "%s", st_config_str(c, "blockd", "rbd_user"));
    snprintf(s->secret_uuid, sizeof(s->secret_uuid), "%s",
             st_config_str(c, "blockd", "rbd_secret_uuid"));
    snprintf(s->cluster_name, sizeof(s->cluster_name), "%s", st_config_str(c, "ceph", "cluster"));
    char mon[1024] = "";
    if (rados_conf_get(st_daemon_rados(d), "mon_host", mon, sizeof(mon)) < 0 ||
        volc_mon_hosts(mon, &s->mon_hosts, &s->mon_ports) < 0) {
        st_warn("cannot tell the monitors' addresses (mon_host \"%s\"): connection_info "
                "will list none", mon);
        s->mon_hosts = json_array();
        s->mon_ports = json_array();
    }
    s->reconcile_ms = st_config_duration_ms(c, "blockd", "reconcile_interval");
    if ((rc = st_rados_fsid(st_daemon_rados(d), s->fsid, sizeof(s->fsid))) < 0)
        goto fail;
    rc = st_rados_ioctx(st_daemon_rados(d), s->pool, &s->vols);
    if (rc < 0) {
        st_error("volumes pool %s ([ceph] volumes_pool): %s", s->pool, strerror(-rc));
        goto fail;
    }
    /* the pool's "blockd since" mark, before blockd makes anything in it: an
     * image older than it is someone else's, never an orphan of ours */
    int64_t since = 0;
    if ((rc = st_rbd_pool_since(s->vols, VS_POOL_SINCE_KEY, st_now_ms() / 1000, &since)) < 0) {
        st_error("volumes pool %s: cannot read or write its rbd pool metadata %s: %s", s->pool,
                 VS_POOL_SINCE_KEY, strerror(-rc));
        goto fail;
    }
    if ((rc = st_httpc_create(&hc, &s->http)) < 0 ||
        (rc = st_httpc_peer_create(s->http, st_config_str(c, "blockd", "image_url"),
                                   s->service_token, &s->imaged)) < 0 ||
        (rc = st_httpc_peer_create(s->http, st_config_str(c, "blockd", "compute_url"),
                                   s->service_token, &s->compute)) < 0 ||
        (rc = vol_quota_create(s->meta, c, s->ttl_ms, &s->quota)) < 0 ||
        (rc = vt_create(s->meta, &s->types)) < 0 || (rc = vs_backup_open(s, c)) < 0 ||
        (rc = st_workpool_create((unsigned)st_config_int(c, "blockd", "workers"), 1024,
                                 &s->workers)) < 0)
        goto fail;
    /* Crash recovery runs at once on the reconciler's thread, not before
     * serving: a pass can wait ~30 s on an RBD image whose exclusive lock a
     * killed daemon still holds, and requests are safe beside it (leases). */
    if ((rc = st_ticker_start_after(&s->reconciler, 0, s->reconcile_ms, reconcile_tick, s)) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    vol_service_destroy(s);
    return rc;
}

void vol_service_destroy(struct vol_service *s)
{
    if (!s)
        return;
    st_ticker_stop(&s->reconciler);
    st_workpool_destroy(s->workers);
    vs_backup_close(s);
    vol_quota_destroy(s->quota);
    vt_destroy(s->types);
    qos_bulk_cleanup(&s->bulk);
    st_httpc_peer_destroy(s->compute);
    st_httpc_peer_destroy(s->imaged);
    st_httpc_destroy(s->http);
    if (s->vols)
        rados_ioctx_destroy(s->vols);
    json_decref(s->mon_hosts);
    json_decref(s->mon_ports);
    OPENSSL_cleanse(s->service_token, sizeof(s->service_token));
    free(s);
}
