/* vol_service.c — volumes and snapshots: records, Cinder's state machine,
 * tenancy, and the long operations on RBD.  Every long operation is recorded
 * first with a lease (create: record + lease in one write), run by a worker
 * whose lease the pool renews, and each of its steps is a fenced write, so a
 * crash or a paused process never leaves a volume half-made or half-deleted. */
#include "vol_service.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <rados/librados.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "strata/config.h"
#include "strata/daemon.h"
#include "strata/httpc.h"
#include "strata/log.h"
#include "strata/meta.h"
#include "strata/rados.h"
#include "strata/rbd.h"
#include "strata/ticker.h"
#include "strata/workpool.h"
#include "vol_conn.h"
#include "strata/qos.h"
#include "strata/qos_bucket.h"
#include "strata/qos_bulk.h"
#include "vol_quota.h"
#include "vol_rbdmeta.h"
#include "vol_types.h"

#define GIB (1ULL << 30)
#define NAME_MAX_LEN 96

struct vol_service {
    struct st_daemon *d;
    struct st_meta *meta;
    const char *owner;
    rados_ioctx_t vols;
    char pool[128];
    char image_url[256];
    char compute_url[256];
    char service_token[4200];
    char az[64];
    char rbd_user[128], secret_uuid[64], cluster_name[64];
    json_t *mon_hosts, *mon_ports;   /* connection_info's hosts/ports */
    int max_depth;
    size_t md_max;                   /* [blockd] max_metadata_items */
    char public_url[VOLJ_BASE_MAX];  /* links' base */
    struct qos_bulk bulk;            /* [blockd] bulk_bytes_sec, bulk_volume_bytes_sec */
    uint64_t project_cap[QOS_NUNIT]; /* [blockd] project_iops_sec, project_bytes_sec (0 = none) */
    char pause_steps[128];           /* [blockd] debug_pause_step (tests only) */
    int64_t ttl_ms;
    int64_t reconcile_ms;
    struct st_httpc *http;
    struct st_workpool *workers;
    struct vol_quota *quota;
    struct vol_types *types;
    struct st_ticker reconciler;     /* periodic reconcile */
};

static int validate_rec(const json_t *d)
{
    return json_is_string(json_object_get(d, "id")) && json_is_string(json_object_get(d, "status"))
               ? 0
               : -EINVAL;
}

static const struct st_meta_kind vol_kind = { "volume", validate_rec };
static const struct st_meta_kind snap_kind = { "snapshot", validate_rec };
static const struct st_meta_kind att_kind = { "attachment", validate_rec };

/* ---- the state machine ---- */

enum vol_op {
    OP_REVERT, OP_DELETE, OP_EXTEND, OP_SNAPSHOT, OP_SNAPSHOT_FORCE, OP_SOURCE, OP_SNAP_DELETE,
    OP_RESERVE, OP_UNRESERVE, OP_BEGIN_DETACH, OP_ROLL_DETACH, OP_ATTACH, OP_DETACH,
    OP_CONNECT, OP_ATT_CREATE, OP_ATT_UPDATE, OP_ATT_COMPLETE, OP_ATT_DELETE, OP_RETYPE,
    OP_EXTEND_IN_USE,
};

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
};

static const char *const *rule_from(enum vol_op op)
{
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (rules[i].op == op)
            return rules[i].from;
    return NULL;
}

static bool status_in(const char *status, const char *const *set)
{
    for (; set && *set; set++)
        if (status && strcmp(status, *set) == 0)
            return true;
    return false;
}

/* ---- records ---- */

static const char *rstr(const json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

static json_t *rpriv(json_t *rec)
{
    json_t *p = json_object_get(rec, "_s");
    if (!json_is_object(p)) {
        p = json_object();
        json_object_set_new(rec, "_s", p);
    }
    return p;
}

static bool rhidden(const json_t *rec)
{
    return json_is_true(json_object_get(json_object_get(rec, "_s"), "deleted"));
}

static bool rvisible(const json_t *rec, const struct st_auth_ctx *who)
{
    const char *p = rstr(rec, "project_id");
    return !rhidden(rec) && (who->is_admin || (p && strcmp(p, who->project_id) == 0));
}

/* Cinder's timestamp form. */
static void now_ts(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    char base[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06ld", base, ts.tv_nsec / 1000);
}

static void vol_rbd_name(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "volume-%s", id);
}

static void snap_rbd_name(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "snapshot-%s", id);
}

static int get_visible(struct vol_service *s, const struct st_meta_kind *k,
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

/* A status change guarded by the allowed current statuses; fenced when the
 * caller holds the record's lease. */
struct transition {
    const char *const *from;   /* NULL = any */
    const char *to;
    const json_t *extra;       /* members to set ("_s" merged) */
    char cur[32];              /* the status found (for messages) */
    st_meta_modify_fn edit;    /* then this edit (NULL = none), with edit_arg */
    void *edit_arg;
};

static int apply_transition(json_t *rec, void *arg)
{
    struct transition *t = arg;
    const char *cur = rstr(rec, "status");
    char now[40];

    snprintf(t->cur, sizeof(t->cur), "%s", cur ? cur : "");
    if (rhidden(rec))
        return -ENOENT;
    if (t->from && !status_in(cur, t->from))
        return -ECANCELED;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)t->extra, k, v) {
        if (strcmp(k, "_s") == 0)
            json_object_update(rpriv(rec), v);
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
    now_ts(now, sizeof(now));
    json_object_set_new(rec, "updated_at", json_string(now));
    return 0;
}

static int transition(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                      bool fenced, struct transition *t)
{
    return fenced ? st_meta_modify_as(s->meta, k, id, s->owner, apply_transition, t, NULL)
                  : st_meta_modify(s->meta, k, id, apply_transition, t, NULL);
}

/* Fenced step of a job: to `to` from `from` (one status), with extra members. */
static int step(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                const char *from, const char *to, json_t *extra)
{
    const char *fromset[2] = { from, NULL };
    struct transition t = { from ? fromset : NULL, to, extra, "", NULL, NULL };
    int rc = transition(s, k, id, true, &t);

    if (rc < 0)
        st_warn("%s %s: not moved to %s: %s", k->name, id, to ? to : "(same)", strerror(-rc));
    json_decref(extra);
    return rc;
}

/* ---- jobs ---- */

enum job_kind {
    JOB_REVERT, JOB_CREATE, JOB_DELETE, JOB_EXTEND, JOB_SNAP_CREATE, JOB_SNAP_DELETE, JOB_RETYPE,
    JOB_TELL,   /* tell the compute API a volume grew: no lease (best effort) */
    JOB_TELL_QOS,   /* tell it the volume's front-end QoS may have changed: no lease */
    JOB_QOS,    /* its type's qos-specs changed: re-apply the image's limits (no lease) */
};

struct job {
    struct vol_service *s;
    enum job_kind kind;
    char id[ST_META_ID_MAX + 1];
};

static void run_job(void *arg);

/* Hand a leased operation on (kind, id) to a worker.  The caller holds the
 * lease; the pool renews it and releases it when the job ends (JOB_TELL
 * takes none). */
static int submit(struct vol_service *s, enum job_kind kind, const char *id)
{
    const struct st_meta_kind *k =
        kind == JOB_SNAP_CREATE || kind == JOB_SNAP_DELETE ? &snap_kind : &vol_kind;
    struct job *j = calloc(1, sizeof(*j));
    int rc;

    if (!j)
        return -ENOMEM;
    j->s = s;
    j->kind = kind;
    snprintf(j->id, sizeof(j->id), "%s", id);
    rc = kind == JOB_TELL || kind == JOB_TELL_QOS || kind == JOB_QOS
             ? st_workpool_submit(s->workers, run_job, j)
             : st_workpool_submit_leased(s->workers, s->meta, k, id, s->owner, s->ttl_ms, run_job, j);
    if (rc < 0) {
        st_error("%s %s: cannot queue the operation: %s", k->name, id, strerror(-rc));
        free(j);
    }
    return rc;
}

/* Start a leased operation on an existing record: lease, fenced transition
 * from the allowed statuses, then the worker. */
/* Take the record's lease for an operation: -ECANCELED with a message naming
 * the status and the operation in progress when another holds it. */
static int lease_for(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                     const char *lease_op, char *msg)
{
    int rc = st_lease_acquire(s->meta, k, id, s->owner, lease_op, st_now_ms(), s->ttl_ms);

    if (rc == -EBUSY) {   /* another operation runs: say which, and the status */
        struct st_record rec = { 0 };
        struct st_lease l = { .op = "an operation" };
        st_lease_get(s->meta, k, id, &l);
        st_meta_get(s->meta, k, id, &rec);
        snprintf(msg, VOL_MSG_MAX, "Invalid %s: %s %s is %s (%s in progress)", k->name, k->name,
                 id, rec.data && rstr(rec.data, "status") ? rstr(rec.data, "status") : "busy",
                 l.op);
        st_record_cleanup(&rec);
        rc = -ECANCELED;
    }
    return rc;
}

/* With the lease held: the fenced transition, then the worker (which owns
 * the lease from then on); on failure the lease is released. */
static int begin_leased(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                        enum vol_op rule, const char *to, json_t *extra, enum job_kind job,
                        char *msg)
{
    struct transition t = { rule_from(rule), to, extra, "", NULL, NULL };
    int rc;

    {
        rc = transition(s, k, id, true, &t);
        if (rc == -ECANCELED)
            snprintf(msg, VOL_MSG_MAX, "Invalid %s: %s %s is %s; this needs one of: %s%s%s",
                     k->name, k->name, id, t.cur, t.from[0], t.from[1] ? ", " : "",
                     t.from[1] ? t.from[1] : "");
        if (rc == 0 && (rc = submit(s, job, id)) < 0)
            step(s, k, id, to, t.cur, NULL);   /* put it back */
        if (rc < 0)
            st_lease_release(s->meta, k, id, s->owner);
    }
    json_decref(extra);
    return rc;
}

static int begin_op(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                    const char *lease_op, enum vol_op rule, const char *to, json_t *extra,
                    enum job_kind job, char *msg)
{
    int rc = lease_for(s, k, id, lease_op, msg);

    if (rc < 0) {
        json_decref(extra);
        return rc;
    }
    return begin_leased(s, k, id, rule, to, extra, job, msg);
}

/* ---- imaged, for volumes from images ---- */

/* The image as imaged shows it to the caller's project (a short-lived token
 * for that project, so imaged's own visibility rules decide: owned, public,
 * community, shared): 0; -EINVAL (400) when imaged does not know it or it is
 * not active; -EIO (503) when imaged is unreachable or failing. */
static int image_lookup(struct vol_service *s, const char *image_id,
                        const struct st_auth_ctx *who, json_t **image, char *msg)
{
    struct st_auth_ctx as = { .nroles = 1, .roles = { "member" } };
    struct st_httpc_resp r = { 0 };
    char url[512], *tok = NULL;
    int rc;

    snprintf(as.user_id, sizeof(as.user_id), "%s", who->user_id);
    snprintf(as.project_id, sizeof(as.project_id), "%s", who->project_id);
    rc = st_auth_issue(st_daemon_auth(s->d), &as, st_now_ms() / 1000 + 300, &tok);
    if (rc < 0)
        return rc;
    snprintf(url, sizeof(url), "%s/v2/images/%s", s->image_url, image_id);
    rc = st_httpc_request(s->http, "GET", url, tok, NULL, &r);
    OPENSSL_cleanse(tok, strlen(tok));
    free(tok);
    const char *status = r.body ? json_string_value(json_object_get(r.body, "status")) : NULL;
    if (rc < 0 || (r.status != 200 && r.status != 404)) {
        snprintf(msg, VOL_MSG_MAX, "The image service is unavailable (%s); try again later",
                 rc < 0 ? strerror(-rc) : "it refused the lookup");
        rc = -EIO;
    } else if (r.status == 404) {
        snprintf(msg, VOL_MSG_MAX,
                 "Invalid image identifier or unable to access requested image.");
        rc = -EINVAL;
    } else if (!status || strcmp(status, "active") != 0) {
        snprintf(msg, VOL_MSG_MAX, "Image %s is not active.", image_id);
        rc = -EINVAL;
    } else {
        *image = json_incref(r.body);
    }
    st_httpc_resp_cleanup(&r);
    return rc;
}

/* Cinder's volume_image_metadata: string values from the image. */
static json_t *image_metadata(const json_t *image)
{
    static const char *const keys[] = { "checksum", "container_format", "disk_format",
                                         "min_disk", "min_ram", "size", NULL };
    json_t *m = json_object();
    char buf[64];

    json_object_set_new(m, "image_id", json_string(rstr(image, "id")));
    json_object_set_new(m, "image_name", json_string(rstr(image, "name") ? rstr(image, "name") : ""));
    for (int i = 0; keys[i]; i++) {
        json_t *v = json_object_get(image, keys[i]);
        if (json_is_string(v))
            json_object_set(m, keys[i], v);
        else if (json_is_integer(v)) {
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
            json_object_set_new(m, keys[i], json_string(buf));
        }
    }
    return m;
}

static int clone_image(struct vol_service *s, const json_t *rec, const char *rbd_name,
                       uint64_t bytes, char *msg)
{
    const char *image_id = json_string_value(json_object_get(json_object_get(rec, "_s"), "image_id"));
    json_t *body = json_pack("{s:s, s:s, s:I, s:s}", "pool", s->pool, "name", rbd_name,
                             "size", (json_int_t)bytes, "project_id", rstr(rec, "project_id"));
    struct st_httpc_resp r = { 0 };
    char url[512];
    int rc;

    snprintf(url, sizeof(url), "%s/internal/v1/images/%s/clone", s->image_url, image_id);
    rc = st_httpc_request(s->http, "POST", url, s->service_token, body, &r);
    json_decref(body);
    if (rc == 0 && r.status != 201) {
        snprintf(msg, VOL_MSG_MAX, "The image service refused the clone (%ld): %.150s", r.status,
                 r.raw ? r.raw : "");
        rc = r.status == 409 ? -EEXIST : -EIO;
    }
    st_httpc_resp_cleanup(&r);
    return rc;
}

/* ---- job bodies ---- */

/* ---- blockd's own bulk I/O, through the qos/ buckets ---- */

/* Flatten a new volume's image at the pace [blockd] bulk_bytes_sec (daemon)
 * and bulk_volume_bytes_sec (this copy) allow, so copies cannot starve guests;
 * at full speed (librbd's own flatten) when neither is set. */
static int bulk_flatten(struct vol_service *s, const char *name)
{
    struct qos_bulk_copy c;
    int rc = qos_bulk_copy_begin(&s->bulk, &c);

    if (rc < 0)
        return rc;
    bool paced = qos_bulk_copy_limited(&c);
    int64_t t0 = qos_now_ns();
    rc = st_rbd_flatten_paced(s->vols, name, paced ? qos_bulk_copy_pace : NULL, &c);
    st_info("%s: flattened in %.2f s (%s)", name, (double)(qos_now_ns() - t0) / 1e9,
            paced ? "paced by [blockd] bulk_*bytes_sec" : "at full speed");
    qos_bulk_copy_end(&c);
    return rc;
}

/* Test only ([blockd] debug_pause_step): hold a job at a named step for 60 s,
 * logging where, so a test can kill -9 the daemon in exactly that window. */
static void debug_pause(struct vol_service *s, const char *step, const char *id)
{
    char list[sizeof(s->pause_steps) + 2], want[72];

    if (!s->pause_steps[0])
        return;
    snprintf(list, sizeof(list), ",%s,", s->pause_steps);
    snprintf(want, sizeof(want), ",%s,", step);
    if (!strstr(list, want))
        return;
    st_warn("debug_pause_step: volume %s paused at %s", id, step);
    struct timespec ts = { 60, 0 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int make_volume(struct vol_service *s, const json_t *rec, char *msg)
{
    char name[NAME_MAX_LEN], parent[NAME_MAX_LEN], snap[NAME_MAX_LEN];
    const char *id = rstr(rec, "id");
    uint64_t bytes = (uint64_t)json_integer_value(json_object_get(rec, "size")) * GIB;
    const char *snapshot_id = rstr(rec, "snapshot_id");
    const char *source = rstr(rec, "source_volid");
    const json_t *priv = json_object_get(rec, "_s");
    int rc;

    vol_rbd_name(id, name, sizeof(name));
    if (json_is_string(json_object_get(priv, "image_id")))
        return clone_image(s, rec, name, bytes, msg);
    if (snapshot_id) {
        snap_rbd_name(snapshot_id, snap, sizeof(snap));
        vol_rbd_name(json_string_value(json_object_get(priv, "parent_volume")), parent,
                     sizeof(parent));
        rc = st_rbd_clone(s->vols, parent, snap, s->vols, name, bytes);
        unsigned depth = 0;
        if (rc == 0 && st_rbd_parent_depth(s->vols, name, &depth) == 0 &&
            depth > (unsigned)s->max_depth) {
            st_info("volume %s: clone depth %u > %d: flattening", id, depth, s->max_depth);
            rc = bulk_flatten(s, name);
        }
        return rc;
    }
    if (source) {
        /* snapshot + clone, then flatten and drop the snapshot: the new volume
         * is independent of its source from then on */
        vol_rbd_name(source, parent, sizeof(parent));
        snprintf(snap, sizeof(snap), "clone-%s", id);
        rc = st_rbd_snap_create(s->vols, parent, snap, true);
        if (rc == 0)
            rc = st_rbd_clone(s->vols, parent, snap, s->vols, name, bytes);
        if (rc == 0)
            rc = bulk_flatten(s, name);
        if (rc == 0)
            st_rbd_snap_remove(s->vols, parent, snap);
        return rc;   /* on failure job_create removes the clone, then the snapshot */
    }
    return st_rbd_create(s->vols, name, bytes);
}

/* The from-volume path's temporary snapshot "clone-<id>" on the source, once
 * the clone is gone (a failed or interrupted create). */
static void drop_clone_snap(struct vol_service *s, const json_t *rec)
{
    char parent[NAME_MAX_LEN], snap[NAME_MAX_LEN];
    const char *source = rstr(rec, "source_volid");

    if (!source)
        return;
    vol_rbd_name(source, parent, sizeof(parent));
    snprintf(snap, sizeof(snap), "clone-%s", rstr(rec, "id"));
    st_rbd_snap_remove(s->vols, parent, snap);
}

/* ---- QoS: a volume's type decides it (vol_types.h, strata/qos.h) ---- */

/* The resolved policy of a volume of type_id and size_gb, and where it is
 * enforced (front-end and an empty policy when the type has no qos-specs). */
static int volume_policy(struct vol_service *s, const char *type_id, int64_t size_gb,
                         struct qos_policy *p, enum qos_consumer *c)
{
    char msg[QOS_MSG_MAX];
    json_t *qos = NULL;
    int rc = vt_type_qos(s->types, type_id, &qos);

    memset(p, 0, sizeof(*p));
    *c = QOS_FRONT_END;
    if (rc == 0 && qos) {
        if (qos_consumer_parse(rstr(qos, "consumer"), c) < 0)
            *c = QOS_BACK_END;
        /* stored specs were checked when written: a failure here is a damaged record */
        if ((rc = qos_policy_parse(json_object_get(qos, "specs"), true, p, msg, sizeof(msg))) < 0)
            st_warn("type %s: qos-specs %s unreadable (%s): no limit applied", type_id,
                    rstr(qos, "id"), msg);
        qos_policy_resolve(p, size_gb);
    }
    json_decref(qos);
    return rc;
}

/* The back-end policy of a volume of type_id and size_gb (none when the
 * type's consumer is front-end only). */
static int backend_policy(struct vol_service *s, const char *type_id, int64_t size_gb,
                          struct qos_policy *p)
{
    enum qos_consumer c;
    int rc = volume_policy(s, type_id, size_gb, p, &c);

    if (rc == 0 && !qos_consumer_back(c))
        memset(p, 0, sizeof(*p));
    return rc;
}

/* Write policy p to the volume's image as librbd metadata, clearing what it
 * does not set.  A fresh image has none to clear: nothing is written unless p
 * sets something. */
static int write_backend_qos(struct vol_service *s, const char *id, const struct qos_policy *p,
                             bool fresh)
{
    char name[NAME_MAX_LEN];
    int rc;

    if (fresh && !qos_policy_any(p))
        return 0;
    json_t *kv = qos_rbd_metadata(p);
    vol_rbd_name(id, name, sizeof(name));
    rc = kv ? vrbd_metadata_apply(s->vols, name, kv) : -ENOMEM;
    if (rc < 0 && rc != -ENOENT)
        st_warn("volume %s: back-end QoS not applied: %s", id, strerror(-rc));
    json_decref(kv);
    return rc;
}

/* ---- a project's cap: [blockd] project_iops_sec, project_bytes_sec ---- */

struct pvol {
    char id[ST_META_ID_MAX + 1];
    struct qos_policy p;
};

struct pvols {
    struct pvol *v;
    size_t n, cap;
};

static int pvols_add(struct pvols *l, const char *id, const struct qos_policy *p)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct pvol *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    snprintf(l->v[l->n].id, sizeof(l->v[l->n].id), "%s", id);
    l->v[l->n++].p = *p;
    return 0;
}

/* Every volume of the project that holds data (not hidden, not being
 * deleted) with its back-end policy; volume `id` with type_id and size_gb,
 * which its record may not say yet (a retype, an extend in progress). */
static int project_volumes(struct vol_service *s, const char *project, const char *id,
                           const char *type_id, int64_t size_gb, struct pvols *out)
{
    const struct st_meta_filter f = { "project_id", project };
    char marker[ST_META_ID_MAX + 1] = "";
    struct qos_policy p;
    bool more, seen = false;
    int rc;

    do {
        struct st_record_list l = { 0 };
        rc = st_meta_list(s->meta, &vol_kind, marker[0] ? marker : NULL, 1000, &f, 1, NULL,
                          NULL, &l);
        for (size_t i = 0; rc == 0 && i < l.count; i++) {
            const json_t *v = l.items[i].data;
            const char *vid = l.items[i].id, *st = rstr(v, "status");
            bool me = id && strcmp(vid, id) == 0;
            if (!me && (rhidden(v) || (st && strcmp(st, "deleting") == 0)))
                continue;
            rc = me ? backend_policy(s, type_id, size_gb, &p)
                    : backend_policy(s, rstr(v, "volume_type_id"),
                                     json_integer_value(json_object_get(v, "size")), &p);
            if (rc == -ENOENT && !me) {   /* its type is gone: no limits of its own */
                memset(&p, 0, sizeof(p));
                rc = 0;
            }
            if (rc == 0)
                rc = pvols_add(out, vid, &p);
            seen = seen || me;
        }
        snprintf(marker, sizeof(marker), "%s", l.next_marker);
        more = rc == 0 && l.truncated;
        st_record_list_cleanup(&l);
    } while (more);
    if (rc == 0 && id && !seen && (rc = backend_policy(s, type_id, size_gb, &p)) == 0)
        rc = pvols_add(out, id, &p);
    return rc;
}

/* The project's cap split over its volumes (qos_share) and each volume's
 * image given min(its type's limits, its share); volume `id` as above (NULL:
 * only re-split, after a delete).  Returns the result for `id`. */
static int apply_project_qos(struct vol_service *s, const char *project, const char *id,
                             const char *type_id, int64_t size_gb, bool fresh)
{
    struct pvols l = { 0 };
    uint64_t *own = NULL, *share = NULL;
    int rc = project_volumes(s, project, id, type_id, size_gb, &l), mine = 0;

    if (rc == 0 && l.n && (!(own = calloc(2 * l.n, sizeof(*own))) ||
                           !(share = calloc(2 * l.n, sizeof(*share)))))
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        own[i] = qos_total_limit(&l.v[i].p, QOS_IOPS);
        own[l.n + i] = qos_total_limit(&l.v[i].p, QOS_BPS);
    }
    if (rc == 0 && l.n && ((rc = qos_share(s->project_cap[QOS_IOPS], own, l.n, share)) == 0))
        rc = qos_share(s->project_cap[QOS_BPS], own + l.n, l.n, share + l.n);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        bool me = id && strcmp(l.v[i].id, id) == 0;
        qos_policy_cap(&l.v[i].p, s->project_cap[QOS_IOPS] ? share[i] : 0,
                       s->project_cap[QOS_BPS] ? share[l.n + i] : 0);
        int r = write_backend_qos(s, l.v[i].id, &l.v[i].p, me && fresh);
        if (me)
            mine = r;
    }
    if (rc < 0)
        st_warn("project %s: its QoS cap was not re-split: %s", project, strerror(-rc));
    free(own);
    free(share);
    free(l.v);
    return rc < 0 ? rc : mine;
}

/* Set the librbd limits of the volume's image from its type's back-end specs
 * (per-GB ones scaled by size_gb), clearing any the type no longer sets, and
 * held to its share of the project's cap when there is one (every volume of
 * the project is re-split then).  fresh: a new image, nothing to clear. */
static int apply_backend_qos(struct vol_service *s, const char *project, const char *id,
                             const char *type_id, int64_t size_gb, bool fresh)
{
    struct qos_policy p;
    int rc;

    if ((s->project_cap[QOS_IOPS] || s->project_cap[QOS_BPS]) && project)
        return apply_project_qos(s, project, id, type_id, size_gb, fresh);
    if ((rc = backend_policy(s, type_id, size_gb, &p)) < 0)
        return rc;
    return write_backend_qos(s, id, &p, fresh);
}

/* connection_info's qos_specs: the front-end specs of the volume's type for
 * its size (NULL = none). */
static json_t *frontend_qos(struct vol_service *s, const char *volume_id)
{
    struct st_record rec = { 0 };
    enum qos_consumer c;
    struct qos_policy p;
    json_t *out = NULL;

    if (st_meta_get(s->meta, &vol_kind, volume_id, &rec) == 0 &&
        volume_policy(s, rstr(rec.data, "volume_type_id"),
                      json_integer_value(json_object_get(rec.data, "size")), &p, &c) == 0 &&
        qos_consumer_front(c) && qos_policy_any(&p))
        out = qos_frontend_specs(&p);
    st_record_cleanup(&rec);
    return out;
}

static void job_create(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    char msg[VOL_MSG_MAX] = "", name[NAME_MAX_LEN];
    int rc = st_meta_get(s->meta, &vol_kind, id, &rec);

    if (rc < 0)
        return;
    rc = make_volume(s, rec.data, msg);
    if (rc == 0)
        rc = apply_backend_qos(s, rstr(rec.data, "project_id"), id,
                               rstr(rec.data, "volume_type_id"),
                               json_integer_value(json_object_get(rec.data, "size")), true);
    if (rc == 0)
        debug_pause(s, "create", id);
    bool bootable = json_is_string(json_object_get(json_object_get(rec.data, "_s"), "image_id"));
    if (rc == 0) {
        st_record_cleanup(&rec);
        step(s, &vol_kind, id, "creating", "available",
             json_pack("{s:s}", "bootable", bootable ? "true" : "false"));
        st_info("volume %s: available", id);
        return;
    }
    st_warn("volume %s: create failed: %s", id, msg[0] ? msg : strerror(-rc));
    vol_rbd_name(id, name, sizeof(name));
    if (rc != -EEXIST)
        st_rbd_remove(s->vols, name);
    drop_clone_snap(s, rec.data);
    st_record_cleanup(&rec);
    step(s, &vol_kind, id, "creating", "error",
         json_pack("{s:{s:s}}", "_s", "error", msg[0] ? msg : strerror(-rc)));
}

static int hide(json_t *rec, void *arg)
{
    char now[40];

    (void)arg;
    now_ts(now, sizeof(now));
    json_object_set_new(rpriv(rec), "deleted", json_true());
    json_object_set_new(rec, "status", json_string("deleted"));
    json_object_set_new(rec, "updated_at", json_string(now));
    return 0;
}

/* Delete a volume/snapshot record for good and give its quota back (rec: its
 * data when the caller has it, else read here). */
static int delete_counted(struct vol_service *s, const struct st_meta_kind *k, const char *id,
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
static int purge_snapshot(struct vol_service *s, const json_t *rec, bool fenced)
{
    char vol[NAME_MAX_LEN], snap[NAME_MAX_LEN];
    const char *id = rstr(rec, "id");
    int rc;

    vol_rbd_name(rstr(rec, "volume_id"), vol, sizeof(vol));
    snap_rbd_name(id, snap, sizeof(snap));
    rc = st_rbd_snap_remove(s->vols, vol, snap);
    if (rc == -EBUSY) {
        st_info("snapshot %s: clones still use it: kept hidden until they are gone", id);
        return fenced ? st_meta_modify_as(s->meta, &snap_kind, id, s->owner, hide, NULL, NULL)
                      : st_meta_modify(s->meta, &snap_kind, id, hide, NULL, NULL);
    }
    if (rc < 0 && rc != -ENOENT)
        return rc;
    rc = delete_counted(s, &snap_kind, id, rec);
    return rc == -ENOENT ? 0 : rc;
}

static int snapshots_of(struct vol_service *s, const char *volume_id, json_t **out);

/* Remove a volume's RBD image: 0 once it is gone, -EBUSY while clones need
 * it.  A -ENOENT from a snapshot that vanished meanwhile (a clone's parent
 * snapshot moved to RBD's trash namespace) is not "gone": the image is
 * checked, so its record is never deleted while its data stays. */
static int remove_volume_image(struct vol_service *s, const char *name)
{
    uint64_t size;
    int rc = st_rbd_remove(s->vols, name);

    if (rc == -ENOENT)
        rc = st_rbd_size(s->vols, name, NULL, &size) == -ENOENT ? 0 : -EBUSY;
    return rc;
}

/* After a volume of `project` went: the others share its cap among fewer. */
static void resplit_project(struct vol_service *s, const char *project)
{
    if ((s->project_cap[QOS_IOPS] || s->project_cap[QOS_BPS]) && project[0])
        apply_project_qos(s, project, NULL, NULL, 0, false);
}

static void job_delete(struct vol_service *s, const char *id)
{
    char name[NAME_MAX_LEN], project[ST_META_ID_MAX + 1] = "";
    struct st_record rec = { 0 };
    json_t *snaps = NULL, *snap;
    size_t i;
    int rc = snapshots_of(s, id, &snaps);

    if (st_meta_get(s->meta, &vol_kind, id, &rec) == 0 && rstr(rec.data, "project_id"))
        snprintf(project, sizeof(project), "%s", rstr(rec.data, "project_id"));
    st_record_cleanup(&rec);

    /* cascade: vol_delete refused volumes with snapshots unless asked to */
    json_array_foreach(snaps, i, snap) {
        if (rc == 0 && !rhidden(snap))
            rc = purge_snapshot(s, snap, false);
    }
    json_decref(snaps);
    vol_rbd_name(id, name, sizeof(name));
    if (rc == 0)
        debug_pause(s, "delete", id);
    if (rc == 0)
        rc = remove_volume_image(s, name);
    if (rc == -EBUSY) {   /* snapshots of it still have clones: keep the data hidden */
        st_meta_modify_as(s->meta, &vol_kind, id, s->owner, hide, NULL, NULL);
        st_info("volume %s deleted; its RBD image stays hidden until its clones are gone", id);
        resplit_project(s, project);
        return;
    }
    if (rc == 0)
        rc = delete_counted(s, &vol_kind, id, NULL);
    if (rc < 0 && rc != -ENOENT) {
        st_warn("volume %s: delete failed: %s", id, strerror(-rc));
        step(s, &vol_kind, id, "deleting", "error_deleting", NULL);
        return;
    }
    st_info("volume %s: deleted", id);
    resplit_project(s, project);
}

struct ci_qos {
    const json_t *qos;   /* the volume's front-end qos_specs now (NULL = none) */
    bool changed;        /* an attachment's copy was rewritten */
};

static int set_ci_qos(json_t *att, void *arg)
{
    struct ci_qos *c = arg;
    json_t *data = json_object_get(json_object_get(att, "connection_info"), "data");
    const json_t *cur = json_object_get(data, "qos_specs");

    if (!json_is_object(data))   /* reserved, no connector yet: nothing to refresh */
        return 1;
    if (c->qos ? cur && json_equal(cur, c->qos) : !cur || json_is_null(cur))
        return 1;
    c->changed = true;
    return json_object_set_new(data, "qos_specs", c->qos ? json_deep_copy(c->qos) : json_null())
               ? -ENOMEM : 0;
}

/* Each attachment's stored connection_info takes the volume's front-end QoS
 * of now (its type, its size); true when one of them changed, so the guests
 * behind them need telling. */
static bool refresh_attachment_qos(struct vol_service *s, const char *id, const json_t *vol)
{
    struct ci_qos c = { frontend_qos(s, id), false };
    const json_t *a;
    size_t i;

    json_array_foreach(json_object_get(vol, "attachments"), i, a)
    {
        int rc = rstr(a, "attachment_id") ? st_meta_modify(s->meta, &att_kind,
                                                           rstr(a, "attachment_id"), set_ci_qos,
                                                           &c, NULL)
                                          : 0;
        if (rc < 0 && rc != -ENOENT)
            st_warn("volume %s: attachment %s keeps its old qos_specs: %s", id,
                    rstr(a, "attachment_id"), strerror(-rc));
    }
    json_decref((json_t *)c.qos);
    return c.changed;
}

/* Every server an in-use volume is attached to should see what changed.  As
 * Cinder does for a size, blockd sends the compute API (POST
 * {compute_url}/os-server-external-events, one event per server) Nova's
 * "volume-extended" when the volume grew, and Strata's "volume-qos-changed"
 * when its front-end QoS did (retype, qos-spec edit, per-GB limits after an
 * extend); the compute API has the server's agent resize the guest's disk or
 * change its <iotune> live.  Best effort: a failure is logged, once per
 * server, and changes nothing else. */
static void tell_guests(struct vol_service *s, const char *id, bool grew)
{
    static const char *const names[] = { "volume-extended", "volume-qos-changed" };
    struct st_record rec = { 0 };
    struct st_httpc_resp r = { 0 };
    const json_t *a, *e;
    json_t *events = json_array();
    char url[512], what[64];
    size_t i;
    int rc;

    if (!events || st_meta_get(s->meta, &vol_kind, id, &rec) < 0)
        goto out;
    json_int_t size = json_integer_value(json_object_get(rec.data, "size"));
    bool tell[2] = { grew, refresh_attachment_qos(s, id, rec.data) };
    if (grew)
        snprintf(what, sizeof(what), "extended to %lld GiB%s", (long long)size,
                 tell[1] ? " (and its QoS changed)" : "");
    else
        snprintf(what, sizeof(what), "QoS changed");
    json_array_foreach(json_object_get(rec.data, "attachments"), i, a)
    {
        if (!rstr(a, "server_id")) {
            if (tell[0] || tell[1])
                st_warn("volume %s %s: attachment %s names no server, nobody was told", id, what,
                        rstr(a, "attachment_id"));
            continue;
        }
        for (int n = 0; n < 2; n++)
            if (tell[n])
                json_array_append_new(events, json_pack("{s:s, s:s, s:s}", "name", names[n],
                                                        "server_uuid", rstr(a, "server_id"),
                                                        "tag", id));
    }
    if (json_array_size(events) == 0)
        goto out;
    snprintf(url, sizeof(url), "%s/os-server-external-events", s->compute_url);
    json_t *body = json_pack("{s:O}", "events", events);
    rc = body ? st_httpc_request(s->http, "POST", url, s->service_token, body, &r) : -ENOMEM;
    json_decref(body);
    if (rc < 0 || (r.status != 200 && r.status != 207 && r.status != 404)) {
        st_warn("volume %s %s, but the compute API was not told (%s): its guests see it at "
                "their next attach or reboot", id, what,
                rc < 0 ? strerror(-rc) : "it answered an error");
        goto out;
    }
    json_array_foreach(r.status == 404 ? events : json_object_get(r.body, "events"), i, e)
        if (r.status == 404 || json_integer_value(json_object_get(e, "code")) != 200)
            st_warn("volume %s %s, but server %s was not told of %s (compute API: %s): its "
                    "guest sees it at its next attach or reboot", id, what,
                    rstr(e, "server_uuid"), rstr(e, "name"),
                    r.status == 404 ? "no such server" : "the event failed");
        else
            st_info("volume %s: server %s told of %s", id, rstr(e, "server_uuid"),
                    rstr(e, "name"));
out:
    json_decref(events);
    st_httpc_resp_cleanup(&r);
    st_record_cleanup(&rec);
}

/* A volume's type got other qos-specs (edited, associated, disassociated):
 * its image's librbd limits follow.  No lease, so no user request meets a busy
 * volume; a retype or extend racing it applies its own limits after its step. */
static void job_qos(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };

    if (st_meta_get(s->meta, &vol_kind, id, &rec) < 0)
        return;
    const char *st = rstr(rec.data, "status");
    if (st && strcmp(st, "creating") != 0 && strcmp(st, "deleting") != 0 &&
        apply_backend_qos(s, rstr(rec.data, "project_id"), id, rstr(rec.data, "volume_type_id"),
                          json_integer_value(json_object_get(rec.data, "size")), false) == 0)
        st_info("volume %s: QoS of type %s re-applied", id, rstr(rec.data, "volume_type_id"));
    bool attached = json_array_size(json_object_get(rec.data, "attachments")) > 0;
    st_record_cleanup(&rec);
    if (attached)   /* this job holds no lease: tell the guests from here */
        tell_guests(s, id, false);
}

static void job_extend(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    char name[NAME_MAX_LEN];
    int rc = st_meta_get(s->meta, &vol_kind, id, &rec);

    if (rc < 0)
        return;
    json_int_t to = json_integer_value(json_object_get(json_object_get(rec.data, "_s"), "extend_to"));
    struct vq_counts grow = { { 0, 0, to - json_integer_value(json_object_get(rec.data,
                                                                               "size")) } };
    char project[ST_META_ID_MAX + 1];
    snprintf(project, sizeof(project), "%s",
             rstr(rec.data, "project_id") ? rstr(rec.data, "project_id") : "");
    json_int_t cur = json_integer_value(json_object_get(rec.data, "size"));
    /* an in-use volume (3.42) goes back to in-use */
    bool attached = json_array_size(json_object_get(rec.data, "attachments")) > 0;
    char type_id[ST_META_ID_MAX + 1];
    snprintf(type_id, sizeof(type_id), "%s",
             rstr(rec.data, "volume_type_id") ? rstr(rec.data, "volume_type_id") : "");
    st_record_cleanup(&rec);
    vol_rbd_name(id, name, sizeof(name));
    /* never shrink: a target at or below the size is already reached
     * (vol_extend refuses those; a stale resume could carry one) */
    rc = to > cur ? st_rbd_resize(s->vols, name, (uint64_t)to * GIB) : 0;
    if (to <= cur)
        to = cur;
    if (rc == 0)   /* per-GB limits follow the size */
        rc = apply_backend_qos(s, project[0] ? project : NULL, id, type_id[0] ? type_id : NULL,
                               to, false);
    if (rc == 0)
        debug_pause(s, "extend", id);
    if (rc == 0 && step(s, &vol_kind, id, "extending", attached ? "in-use" : "available",
                        json_pack("{s:I}", "size", to)) == 0 && attached)
        submit(s, JOB_TELL, id);   /* after the lease: the volume is free for the next op */
    else if (rc < 0 && step(s, &vol_kind, id, "extending", "error_extending", NULL) == 0)
        vol_quota_release(s->quota, project, &grow);   /* Cinder rolls the reservation back */
}

/* Roll the volume back to its snapshot (then back to the volume's size). */
static void job_revert(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 }, snap = { 0 };
    char name[NAME_MAX_LEN], sname[NAME_MAX_LEN];
    int rc = st_meta_get(s->meta, &vol_kind, id, &rec);

    if (rc < 0)
        return;
    const char *sid = json_string_value(json_object_get(json_object_get(rec.data, "_s"), "revert_to"));
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
        step(s, &vol_kind, id, "reverting", "available", NULL);
    else
        step(s, &vol_kind, id, "reverting", "error", NULL);
    st_record_cleanup(&snap);
    st_record_cleanup(&rec);
}

static void job_snap_create(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    char vol[NAME_MAX_LEN], snap[NAME_MAX_LEN];
    int rc = st_meta_get(s->meta, &snap_kind, id, &rec);

    if (rc < 0)
        return;
    vol_rbd_name(rstr(rec.data, "volume_id"), vol, sizeof(vol));
    st_record_cleanup(&rec);
    snap_rbd_name(id, snap, sizeof(snap));
    rc = st_rbd_snap_create(s->vols, vol, snap, true);
    step(s, &snap_kind, id, "creating", rc == 0 ? "available" : "error", NULL);
}

static void job_snap_delete(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    int rc = st_meta_get(s->meta, &snap_kind, id, &rec);

    if (rc < 0)
        return;
    rc = purge_snapshot(s, rec.data, true);
    st_record_cleanup(&rec);
    if (rc < 0)
        step(s, &snap_kind, id, "deleting", "error_deleting", NULL);
}

/* The record names the new type under "_s"; apply its back-end QoS, then
 * switch the type and settle back to in-use or available.  In use, the new
 * front-end QoS reaches the running guests (tell_guests, after the lease). */
static void job_retype(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    int rc = st_meta_get(s->meta, &vol_kind, id, &rec);

    if (rc < 0)
        return;
    const json_t *priv = json_object_get(rec.data, "_s");
    const char *to = rstr(priv, "retype_to"), *to_name = rstr(priv, "retype_name");
    const char *back = json_array_size(json_object_get(rec.data, "attachments")) ? "in-use"
                                                                                 : "available";
    json_int_t size = json_integer_value(json_object_get(rec.data, "size"));
    const char *project = rstr(rec.data, "project_id");
    rc = to ? apply_backend_qos(s, project, id, to, size, false) : -EINVAL;
    if (rc == 0) {
        if (step(s, &vol_kind, id, "retyping", back,
                 json_pack("{s:s, s:s?, s:{s:n, s:n}}", "volume_type_id", to, "volume_type",
                           to_name, "_s", "retype_to", "retype_name")) == 0 &&
            strcmp(back, "in-use") == 0)
            submit(s, JOB_TELL_QOS, id);
        st_info("volume %s: retyped to %s", id, to);
    } else {   /* the old type's limits back on the image */
        apply_backend_qos(s, project, id, rstr(rec.data, "volume_type_id"), size, false);
        step(s, &vol_kind, id, "retyping", back,
             json_pack("{s:{s:n, s:n}}", "_s", "retype_to", "retype_name"));
    }
    st_record_cleanup(&rec);
}

static void run_job(void *arg)
{
    struct job *j = arg;

    switch (j->kind) {
    case JOB_REVERT: job_revert(j->s, j->id); break;
    case JOB_CREATE: job_create(j->s, j->id); break;
    case JOB_DELETE: job_delete(j->s, j->id); break;
    case JOB_TELL: tell_guests(j->s, j->id, true); break;
    case JOB_TELL_QOS: tell_guests(j->s, j->id, false); break;
    case JOB_QOS: job_qos(j->s, j->id); break;
    case JOB_EXTEND: job_extend(j->s, j->id); break;
    case JOB_SNAP_CREATE: job_snap_create(j->s, j->id); break;
    case JOB_SNAP_DELETE: job_snap_delete(j->s, j->id); break;
    case JOB_RETYPE: job_retype(j->s, j->id); break;
    }
    free(j);
}

/* ---- volumes ---- */

static void new_id(char *buf)
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, buf);
}

/* Check the create's source and fill what the record needs from it. */
static int resolve_source(struct vol_service *s, const struct st_auth_ctx *who,
                          const struct vol_create_req *req, json_t *rec, int64_t *min_gb,
                          char *msg)
{
    struct st_record src = { 0 };
    int rc = 0;

    *min_gb = 1;
    if (req->snapshot_id) {
        rc = get_visible(s, &snap_kind, who, req->snapshot_id, &src);
        if (rc == -ENOENT)
            snprintf(msg, VOL_MSG_MAX, "Snapshot %s could not be found.", req->snapshot_id);
        if (rc < 0)
            return rc;
        if (!status_in(rstr(src.data, "status"), (const char *const[]){ "available", NULL })) {
            snprintf(msg, VOL_MSG_MAX, "Invalid snapshot: snapshot %s is %s, not available",
                     req->snapshot_id, rstr(src.data, "status"));
            rc = -EINVAL;
        } else {
            *min_gb = json_integer_value(json_object_get(src.data, "size"));
            json_object_set_new(rpriv(rec), "parent_volume",
                                json_string(rstr(src.data, "volume_id")));
        }
    } else if (req->source_volid) {
        rc = get_visible(s, &vol_kind, who, req->source_volid, &src);
        if (rc == -ENOENT)
            snprintf(msg, VOL_MSG_MAX, "Volume %s could not be found.", req->source_volid);
        if (rc < 0)
            return rc;
        if (!status_in(rstr(src.data, "status"), rule_from(OP_SOURCE))) {
            snprintf(msg, VOL_MSG_MAX, "Invalid volume: source volume %s is %s",
                     req->source_volid, rstr(src.data, "status"));
            rc = -EINVAL;
        } else {
            *min_gb = json_integer_value(json_object_get(src.data, "size"));
        }
    } else if (req->image_id) {
        json_t *image = NULL;
        rc = image_lookup(s, req->image_id, who, &image, msg);
        if (rc < 0)
            return rc;
        json_int_t vsize = json_integer_value(json_object_get(image, "virtual_size"));
        if (vsize <= 0)
            vsize = json_integer_value(json_object_get(image, "size"));
        *min_gb = (int64_t)(((uint64_t)vsize + GIB - 1) / GIB);
        if (*min_gb < 1)
            *min_gb = 1;
        json_object_set_new(rpriv(rec), "image_id", json_string(req->image_id));
        json_object_set_new(rec, "volume_image_metadata", image_metadata(image));
        json_decref(image);
    }
    st_record_cleanup(&src);
    return rc;
}

int vol_create(struct vol_service *s, const struct st_auth_ctx *who,
               const struct vol_create_req *req, json_t **out, char *msg)
{
    char id[37], now[40];
    json_t *rec = json_object();
    int64_t min_gb = 1;
    int rc;

    new_id(id);
    now_ts(now, sizeof(now));
    json_t *type = NULL;
    rc = vt_type_get(s->types, who, req->volume_type ? req->volume_type : "default", &type);
    if (rc == -ENOENT)
        snprintf(msg, VOL_MSG_MAX, "Volume type with name %.128s could not be found.",
                 req->volume_type ? req->volume_type : "default");
    if (rc < 0)
        goto out;
    json_object_set_new(rec, "volume_type_id", json_string(rstr(type, "id")));
    json_object_set_new(rec, "volume_type", json_string(rstr(type, "name")));
    json_decref(type);
    rc = resolve_source(s, who, req, rec, &min_gb, msg);
    if (rc < 0)
        goto out;
    int64_t size = req->size_gb ? req->size_gb : min_gb;
    if (size < min_gb) {
        snprintf(msg, VOL_MSG_MAX, "Invalid input received: volume size %lld GiB is smaller "
                 "than its source (%lld GiB)", (long long)size, (long long)min_gb);
        rc = -EINVAL;
        goto out;
    }
    json_t *fields = json_pack("{s:s, s:s?, s:s?, s:s, s:I, s:s, s:s?, s:s?, "
                                      "s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:b}",
        "id", id, "name", req->name, "description", req->description, "status", "creating",
        "size", (json_int_t)size,
        "availability_zone", req->availability_zone ? req->availability_zone : s->az,
        "snapshot_id", req->snapshot_id, "source_volid", req->source_volid,
        "project_id", who->project_id, "user_id", who->user_id, "created_at", now,
        "updated_at", now, "metadata", req->metadata ? json_deep_copy(req->metadata) : json_object(),
        "attachments", json_array(), "multiattach", 0, "encrypted", 0);
    json_object_update(rec, fields);
    json_decref(fields);
    json_object_set_new(rec, "bootable", json_string("false"));
    /* quota first (vol_quota.h: released when the record is finally deleted) */
    struct vq_counts need = { { 1, 0, size } };
    if ((rc = vol_quota_reserve(s->quota, who->project_id, &need, msg)) < 0)
        goto out;
    /* the record and its lease in one write: nothing can see a creating
     * volume that no operation owns */
    rc = st_meta_create_leased(s->meta, &vol_kind, id, rec, s->owner, "create", st_now_ms(),
                               s->ttl_ms, NULL);
    if (rc == 0 && (rc = submit(s, JOB_CREATE, id)) < 0) {
        st_meta_delete(s->meta, &vol_kind, id, 0);
        snprintf(msg, VOL_MSG_MAX, "The block service is too busy; try again later");
    }
    if (rc < 0)
        vol_quota_release(s->quota, who->project_id, &need);
out:
    if (rc < 0) {
        json_decref(rec);
        return rc;
    }
    *out = rec;
    return 0;
}

int vol_get(struct vol_service *s, const struct st_auth_ctx *who, const char *id, json_t **out)
{
    struct st_record rec = { 0 };
    int rc = get_visible(s, &vol_kind, who, id, &rec);

    if (rc == 0)
        *out = json_incref(rec.data);
    st_record_cleanup(&rec);
    return rc;
}

struct list_ctx {
    const struct st_auth_ctx *who;
    bool all;
    const struct vol_filter *f;
    size_t n;
};

static bool list_match(const json_t *rec, void *arg)
{
    const struct list_ctx *c = arg;
    const char *p = rstr(rec, "project_id");

    if (rhidden(rec) || !(c->who->is_admin && c->all ? true : p && strcmp(p, c->who->project_id) == 0))
        return false;
    for (size_t i = 0; i < c->n; i++) {
        const char *v = rstr(rec, c->f[i].field);
        if (!v || strcmp(v, c->f[i].value) != 0)
            return false;
    }
    return true;
}

static int list_kind(struct vol_service *s, const struct st_meta_kind *k, struct list_ctx *c,
                     json_t **out)
{
    char marker[ST_META_ID_MAX + 1] = "";
    json_t *all = json_array();
    int rc;

    for (;;) {
        struct st_record_list l = { 0 };
        rc = st_meta_list(s->meta, k, marker[0] ? marker : NULL, 1000, NULL, 0, list_match, c, &l);
        if (rc < 0)
            break;
        for (size_t i = 0; i < l.count; i++)
            json_array_append(all, l.items[i].data);
        bool more = l.truncated;
        snprintf(marker, sizeof(marker), "%s", l.next_marker);
        st_record_list_cleanup(&l);
        if (!more)
            break;
    }
    if (rc < 0) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return 0;
}

int vol_list(struct vol_service *s, const struct st_auth_ctx *who, bool all_projects,
             const struct vol_filter *filters, size_t nfilters, json_t **out)
{
    struct list_ctx c = { who, all_projects, filters, nfilters };
    return list_kind(s, &vol_kind, &c, out);
}

/* Every snapshot record of a volume, hidden ones included (admin view). */
static int snapshots_of(struct vol_service *s, const char *volume_id, json_t **out)
{
    static const struct st_auth_ctx admin = { .is_admin = true };
    struct vol_filter f = { "volume_id", volume_id };
    struct list_ctx c = { &admin, true, &f, 1 };
    return list_kind(s, &snap_kind, &c, out);
}

/* One edit of a record's user-visible fields: name, description (NULL =
 * unchanged) and metadata (replaced by, or with md_op merged with, metadata;
 * or its key unset removed: -ENOENT and msg naming label when absent). */
struct edit {
    const char *name, *description;
    const json_t *metadata;
    enum vol_md_op md_op;
    const char *unset, *label;
    char *msg;
    size_t md_max;    /* set by update_kind */
};

static int apply_edit(json_t *rec, void *arg)
{
    struct edit *e = arg;
    json_t *md = json_object_get(rec, "metadata");
    char now[40];

    if (rhidden(rec))
        return -ENOENT;
    if (e->name)
        json_object_set_new(rec, "name", json_string(e->name));
    if (e->description)
        json_object_set_new(rec, "description", json_string(e->description));
    if (!json_is_object(md) && (e->metadata || e->unset)) {
        md = json_object();
        json_object_set_new(rec, "metadata", md);
    }
    if (e->unset && json_object_del(md, e->unset) < 0) {
        snprintf(e->msg, VOL_MSG_MAX, "%s %s has no metadata with key %.64s.", e->label,
                 rstr(rec, "id"), e->unset);
        return -ENOENT;
    }
    if (e->metadata && e->md_op == VMD_MERGE)
        json_object_update(md, (json_t *)e->metadata);
    else if (e->metadata)
        json_object_set_new(rec, "metadata", json_deep_copy(e->metadata));
    if (volj_metadata_count_check(json_object_get(rec, "metadata"), e->md_max, e->msg) < 0)
        return -EFBIG;
    now_ts(now, sizeof(now));
    json_object_set_new(rec, "updated_at", json_string(now));
    return 0;
}

static int update_kind(struct vol_service *s, const struct st_meta_kind *k,
                       const struct st_auth_ctx *who, const char *id, struct edit *e, json_t **out)
{
    struct st_record rec = { 0 };
    int rc = get_visible(s, k, who, id, &rec);

    st_record_cleanup(&rec);
    e->md_max = s->md_max;
    if (rc == 0)
        rc = st_meta_modify(s->meta, k, id, apply_edit, e, &rec);
    if (rc == 0)
        *out = json_incref(rec.data);
    st_record_cleanup(&rec);
    return rc;
}

int vol_update(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               const char *name, const char *description, const json_t *metadata,
               json_t **out, char *msg)
{
    struct edit e = { name, description, metadata, VMD_REPLACE, NULL, "Volume", msg, 0 };
    return update_kind(s, &vol_kind, who, id, &e, out);
}

int vol_metadata_edit(struct vol_service *s, const struct st_auth_ctx *who, enum vol_res res,
                      const char *id, enum vol_md_op op, const json_t *md, const char *key,
                      json_t **out, char *msg)
{
    bool snap = res == VOL_RES_SNAPSHOT;
    struct edit e = { NULL, NULL, op == VMD_DELETE ? NULL : md, op, op == VMD_DELETE ? key : NULL,
                      snap ? "Snapshot" : "Volume", msg, 0 };

    if (op == VMD_DELETE && !key)
        return -EINVAL;
    return update_kind(s, snap ? &snap_kind : &vol_kind, who, id, &e, out);
}

int vol_delete(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               bool cascade, char *msg)
{
    struct st_record rec = { 0 };
    json_t *snaps = NULL, *sn;
    size_t i, live = 0;
    int rc = get_visible(s, &vol_kind, who, id, &rec);

    st_record_cleanup(&rec);
    /* Under the volume's lease no snapshot can be registered (snap_create
     * takes it too), so the count below cannot go stale before "deleting". */
    if (rc == 0)
        rc = lease_for(s, &vol_kind, id, "delete", msg);
    if (rc < 0)
        return rc;
    rc = snapshots_of(s, id, &snaps);
    if (rc < 0) {
        st_lease_release(s->meta, &vol_kind, id, s->owner);
        return rc;
    }
    json_array_foreach(snaps, i, sn) {
        live += !rhidden(sn);
    }
    json_decref(snaps);
    if (live && !cascade) {
        snprintf(msg, VOL_MSG_MAX, "Invalid volume: Volume %s still has %zu dependent "
                 "snapshot(s); delete them first or use cascade", id, live);
        st_lease_release(s->meta, &vol_kind, id, s->owner);
        return -EINVAL;
    }
    return begin_leased(s, &vol_kind, id, OP_DELETE, "deleting", NULL, JOB_DELETE, msg);
}

int vol_extend(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               int64_t new_size_gb, bool in_use_ok, char *msg)
{
    struct st_record rec = { 0 };
    int rc = get_visible(s, &vol_kind, who, id, &rec);

    st_record_cleanup(&rec);
    /* The size is read under the volume's lease (every size change holds
     * it), so two extends cannot both be judged against the same old size. */
    if (rc == 0)
        rc = lease_for(s, &vol_kind, id, "extend", msg);
    if (rc < 0)
        return rc;
    if ((rc = st_meta_get(s->meta, &vol_kind, id, &rec)) < 0) {
        st_lease_release(s->meta, &vol_kind, id, s->owner);
        return rc == -EINVAL ? -ENOENT : rc;
    }
    json_int_t size = json_integer_value(json_object_get(rec.data, "size"));
    char project[ST_META_ID_MAX + 1];
    snprintf(project, sizeof(project), "%s",
             rstr(rec.data, "project_id") ? rstr(rec.data, "project_id") : "");
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
    rc = begin_leased(s, &vol_kind, id, in_use_ok ? OP_EXTEND_IN_USE : OP_EXTEND, "extending",
                      json_pack("{s:{s:I}}", "_s", "extend_to", (json_int_t)new_size_gb),
                      JOB_EXTEND, msg);
    if (rc < 0)
        vol_quota_release(s->quota, project, &grow);
    return rc;
}

/* os-reset_status's attach_status: "detached" forgets every attachment. */
static int reset_attach(json_t *rec, void *arg)
{
    const char *attach = arg;

    json_object_set_new(rec, "attach_status", json_string(attach));
    if (strcmp(attach, "detached") == 0) {
        json_object_set_new(rec, "attachments", json_array());
        json_object_del(rpriv(rec), "pending_attachment");
        json_object_del(rpriv(rec), "pending_since");
    }
    return 0;
}

int vol_retype(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               const char *new_type, char *msg)
{
    struct st_record rec = { 0 };
    json_t *type = NULL;
    int rc = get_visible(s, &vol_kind, who, id, &rec);

    if (rc < 0)
        return rc;
    rc = vt_type_get(s->types, who, new_type, &type);
    if (rc == -ENOENT)
        snprintf(msg, VOL_MSG_MAX, "Volume type %.128s could not be found.", new_type);
    const char *cur = rstr(rec.data, "volume_type_id");
    if (rc == 0 && strcmp(cur ? cur : VT_DEFAULT_ID, rstr(type, "id")) == 0) {
        snprintf(msg, VOL_MSG_MAX, "Invalid input received: Retype needs volume type %s to be "
                 "different from the volume's.", new_type);
        rc = -EINVAL;
    }
    st_record_cleanup(&rec);
    if (rc == 0)
        rc = begin_op(s, &vol_kind, id, "retype", OP_RETYPE, "retyping",
                      json_pack("{s:{s:s, s:s}}", "_s", "retype_to", rstr(type, "id"),
                                "retype_name", rstr(type, "name")),
                      JOB_RETYPE, msg);
    json_decref(type);
    return rc;
}

int vol_reset_status(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                     const char *status, const char *attach_status, char *msg)
{
    static const char *const allowed[] = { "available", "error", "creating", "deleting",
                                           "error_deleting", "extending", "error_extending",
                                           "in-use", "reserved", "attaching", "detaching", NULL };
    static const struct st_auth_ctx admin = { .is_admin = true };
    struct st_record rec = { 0 };
    struct transition t = { NULL, status, NULL, "", attach_status ? reset_attach : NULL,
                            (void *)attach_status };
    json_t *atts = NULL, *att;
    size_t i;
    int rc;

    if (!who->is_admin)
        return -EPERM;
    if (status && !status_in(status, allowed)) {
        snprintf(msg, VOL_MSG_MAX, "Invalid status: %s", status);
        return -EINVAL;
    }
    rc = get_visible(s, &vol_kind, who, id, &rec);
    st_record_cleanup(&rec);
    if (rc == 0)
        rc = transition(s, &vol_kind, id, false, &t);
    if (rc == 0 && attach_status && strcmp(attach_status, "detached") == 0) {
        struct vol_filter f = { "volume_id", id };
        if (att_list(s, &admin, true, &f, 1, &atts) == 0) {
            json_array_foreach(atts, i, att) {
                st_meta_delete(s->meta, &att_kind, rstr(att, "id"), 0);
            }
        }
        json_decref(atts);
    }
    return rc;
}

/* ---- attach/detach ---- */

/* "Invalid volume: volume X is S; this needs one of: a, b" */
static void wrong_status(char *msg, const struct st_meta_kind *k, const char *id,
                         const struct transition *t)
{
    int n = snprintf(msg, VOL_MSG_MAX, "Invalid %s: %s %s is %s; this needs one of:", k->name,
                     k->name, id, t->cur);

    for (size_t i = 0; t->from && t->from[i] && n > 0 && n < VOL_MSG_MAX; i++)
        n += snprintf(msg + n, VOL_MSG_MAX - (size_t)n, "%s %s", i ? "," : "", t->from[i]);
}

/* A quick (unleased, compare-and-swap) move of a record under rule `op`. */
static int cas_move(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                    enum vol_op op, const char *to, const json_t *extra, st_meta_modify_fn edit,
                    void *edit_arg, char *msg)
{
    struct transition t = { rule_from(op), to, extra, "", edit, edit_arg };
    int rc = transition(s, k, id, false, &t);

    if (rc == -ECANCELED && msg)
        wrong_status(msg, k, id, &t);
    return rc;
}

/* How a volume's attachments change with a move. */
struct att_edit {
    enum { AE_NONE, AE_ADD, AE_REMOVE } what;
    const char *attachment_id; /* added/removed (AE_REMOVE: NULL = all) */
    json_t *entry;             /* AE_ADD: the volume's view of it */
    const char *set_pending;   /* record it as the attachment being made */
    bool clear_pending;        /* forget the pending attachment_id (if it is that one) */
    bool require_pending;      /* -ESTALE unless attachment_id is the pending one */
    bool settle;               /* status from what remains: in-use or available */
};

static int edit_attachments(json_t *rec, void *arg)
{
    struct att_edit *e = arg;
    json_t *list = json_object_get(rec, "attachments"), *priv = rpriv(rec);
    const char *pending = rstr(priv, "pending_attachment");
    bool is_pending = pending && e->attachment_id && strcmp(pending, e->attachment_id) == 0;

    if (e->require_pending && !is_pending)
        return -ESTALE;
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(rec, "attachments", list);
    }
    size_t removed = 0;
    if (e->what != AE_NONE) {
        for (size_t i = json_array_size(list); i-- > 0;) {
            const char *a = rstr(json_array_get(list, i), "attachment_id");
            if (!e->attachment_id || (a && strcmp(a, e->attachment_id) == 0)) {
                json_array_remove(list, i);
                removed++;
            }
        }
    }
    /* A named attachment the volume neither lists nor waits for is stale
     * (its volume was freed and taken by another since): it changes nothing. */
    if (e->what == AE_REMOVE && e->attachment_id && !removed && !is_pending)
        return 1;
    if (e->what == AE_ADD)
        json_array_append(list, e->entry);
    if (e->set_pending) {
        json_object_set_new(priv, "pending_attachment", json_string(e->set_pending));
        json_object_set_new(priv, "pending_since", json_integer(st_now_ms()));
    } else if (e->clear_pending && (is_pending || !e->attachment_id)) {
        json_object_del(priv, "pending_attachment");
        json_object_del(priv, "pending_since");
    }
    if (e->settle || e->what != AE_NONE) {
        bool attached = json_array_size(list) > 0;
        if (e->settle)
            json_object_set_new(rec, "status", json_string(attached ? "in-use" : "available"));
        json_object_set_new(rec, "attach_status", json_string(attached ? "attached" : "detached"));
    }
    return 0;
}

static json_t *conn_info(struct vol_service *s, const char *volume_id, const char *mode)
{
    json_t *qos = frontend_qos(s, volume_id);
    struct volc_params p = { s->pool, volume_id, s->mon_hosts, s->mon_ports, s->cluster_name,
                             s->rbd_user, s->secret_uuid, mode, qos };
    json_t *ci = volc_connection_info(&p);

    json_decref(qos);
    return ci;
}

/* The volume's view of an attachment (Cinder's volume "attachments" entry). */
static json_t *attachment_entry(const char *volume_id, const char *attachment_id,
                                const char *server, const char *host, const char *device)
{
    char now[40];

    now_ts(now, sizeof(now));
    return json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s}", "id", volume_id, "attachment_id",
                     attachment_id, "volume_id", volume_id, "server_id", server, "host_name", host,
                     "device", device, "attached_at", now);
}

/* Quick volume actions: table of rule and target status. */
static const struct {
    enum vol_attach_op op;
    enum vol_op rule;
    const char *to; /* NULL: settled from what remains attached */
} attach_moves[] = {
    { VA_RESERVE, OP_RESERVE, "reserved" },
    { VA_UNRESERVE, OP_UNRESERVE, "available" },
    { VA_BEGIN_DETACH, OP_BEGIN_DETACH, "detaching" },
    { VA_ROLL_DETACH, OP_ROLL_DETACH, "in-use" },
    { VA_ATTACH, OP_ATTACH, "in-use" },
    { VA_DETACH, OP_DETACH, NULL },
};

int vol_attach_action(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                      const struct vol_attach_req *req, json_t **out, char *msg)
{
    struct st_record rec = { 0 };
    char att_id[37];
    struct att_edit e = { AE_NONE, NULL, NULL, NULL, false, false, false };
    int rc = get_visible(s, &vol_kind, who, id, &rec);

    if (rc < 0)
        return rc;
    if (req->op == VA_INIT_CONN || req->op == VA_TERM_CONN) {
        const char *status = rstr(rec.data, "status");
        if (req->op == VA_INIT_CONN && !status_in(status, rule_from(OP_CONNECT))) {
            struct transition t = { rule_from(OP_CONNECT), NULL, NULL, "", NULL, NULL };
            snprintf(t.cur, sizeof(t.cur), "%s", status ? status : "");
            wrong_status(msg, &vol_kind, id, &t);
            rc = -ECANCELED;
        } else if (req->op == VA_INIT_CONN) {
            json_t *ci = conn_info(s, id, NULL);
            *out = ci ? json_pack("{s:o}", "connection_info", ci) : NULL;
            rc = *out ? 0 : -ENOMEM;
        }
        st_record_cleanup(&rec);
        return rc;
    }
    st_record_cleanup(&rec);
    if (req->op == VA_ATTACH) {
        new_id(att_id);
        e = (struct att_edit){ AE_ADD, att_id,
                               attachment_entry(id, att_id, req->instance_uuid, req->host_name,
                                                req->mountpoint),
                               NULL, false, false, false };
    } else if (req->op == VA_DETACH) {
        e = (struct att_edit){ AE_REMOVE, req->attachment_id, NULL, NULL, true, false, true };
    } else if (req->op == VA_RESERVE || req->op == VA_UNRESERVE) {
        /* the legacy flow owns the volume now: forget any attachment create
         * it was waiting for, so reconcile cannot free it under this one */
        e.clear_pending = true;
    }
    rc = -EINVAL;
    for (size_t i = 0; i < sizeof(attach_moves) / sizeof(attach_moves[0]); i++) {
        if (attach_moves[i].op == req->op)
            rc = cas_move(s, &vol_kind, id, attach_moves[i].rule, attach_moves[i].to, NULL,
                          edit_attachments, &e, msg);
    }
    json_decref(e.entry);
    /* an attachment made through the attachments API goes with its detach */
    if (rc == 0 && req->op == VA_DETACH && req->attachment_id) {
        struct st_record att = { 0 };
        if (st_meta_get(s->meta, &att_kind, req->attachment_id, &att) == 0 &&
            rstr(att.data, "volume_id") && strcmp(rstr(att.data, "volume_id"), id) == 0)
            st_meta_delete(s->meta, &att_kind, req->attachment_id, 0);
        st_record_cleanup(&att);
    }
    return rc;
}

/* ---- attachments ---- */

int att_create(struct vol_service *s, const struct st_auth_ctx *who, const char *volume_id,
               const char *instance, const json_t *connector, const char *mode, json_t **out,
               char *msg)
{
    struct st_record vol = { 0 };
    char id[37], now[40];
    int rc = get_visible(s, &vol_kind, who, volume_id, &vol);

    if (rc == -ENOENT)
        snprintf(msg, VOL_MSG_MAX, "Volume %s could not be found.", volume_id);
    if (rc < 0)
        return rc;
    st_record_cleanup(&vol);
    new_id(id);
    /* the volume first, naming the attachment: reconcile frees it if the
     * attachment record below is never written */
    struct att_edit e = { AE_NONE, id, NULL, id, false, false, false };
    rc = cas_move(s, &vol_kind, volume_id, OP_ATT_CREATE, connector ? "attaching" : "reserved",
                  NULL, edit_attachments, &e, msg);
    if (rc < 0)
        return rc;
    now_ts(now, sizeof(now));
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:s, s:s}", "id", id,
                            "volume_id", volume_id, "status", connector ? "attaching" : "reserved",
                            "attach_mode", mode ? mode : "rw", "project_id", who->project_id,
                            "attached_at", "detached_at", "created_at", now, "updated_at", now);
    if (!rec) {
        rc = -ENOMEM;
    } else {
        json_object_set_new(rec, "instance", instance ? json_string(instance) : json_null());
        json_object_set(rec, "connector", connector ? (json_t *)connector : json_null());
        json_object_set_new(rec, "connection_info",
                            connector ? conn_info(s, volume_id, mode) : json_null());
        rc = st_meta_create(s->meta, &att_kind, id, rec, NULL);
    }
    if (rc < 0) {
        struct att_edit undo = { AE_NONE, id, NULL, NULL, true, true, false };
        cas_move(s, &vol_kind, volume_id, OP_ATT_UPDATE, "available", NULL, edit_attachments,
                 &undo, NULL);
        json_decref(rec);
        return rc;
    }
    *out = rec;
    return 0;
}

int att_get(struct vol_service *s, const struct st_auth_ctx *who, const char *id, json_t **out)
{
    struct st_record rec = { 0 };
    int rc = get_visible(s, &att_kind, who, id, &rec);

    if (rc == 0)
        *out = json_incref(rec.data);
    st_record_cleanup(&rec);
    return rc;
}

int att_list(struct vol_service *s, const struct st_auth_ctx *who, bool all_projects,
             const struct vol_filter *filters, size_t nfilters, json_t **out)
{
    struct list_ctx c = { who, all_projects, filters, nfilters };
    return list_kind(s, &att_kind, &c, out);
}

int att_update(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               const json_t *connector, json_t **out, char *msg)
{
    json_t *rec = NULL, *extra;
    int rc = att_get(s, who, id, &rec);

    if (rc < 0)
        return rc;
    const char *vol = rstr(rec, "volume_id");
    rc = cas_move(s, &vol_kind, vol, OP_ATT_UPDATE, "attaching", NULL, NULL, NULL, msg);
    extra = json_pack("{s:O, s:o}", "connector", connector, "connection_info",
                      conn_info(s, vol, rstr(rec, "attach_mode")));
    if (rc == 0)
        rc = extra ? cas_move(s, &att_kind, id, OP_ATT_UPDATE, "attaching", extra, NULL, NULL, msg)
                   : -ENOMEM;
    json_decref(extra);
    json_decref(rec);
    return rc < 0 ? rc : att_get(s, who, id, out);
}

int att_complete(struct vol_service *s, const struct st_auth_ctx *who, const char *id, char *msg)
{
    json_t *rec = NULL, *extra;
    char now[40];
    int rc = att_get(s, who, id, &rec);

    if (rc < 0)
        return rc;
    const char *vol = rstr(rec, "volume_id");
    const json_t *conn = json_object_get(rec, "connector");
    struct att_edit e = { AE_ADD, id,
                          attachment_entry(vol, id, rstr(rec, "instance"), rstr(conn, "host"),
                                           rstr(conn, "mountpoint")),
                          NULL, true, false, false };
    rc = cas_move(s, &vol_kind, vol, OP_ATT_COMPLETE, "in-use", NULL, edit_attachments, &e, msg);
    json_decref(e.entry);
    now_ts(now, sizeof(now));
    extra = json_pack("{s:s}", "attached_at", now);
    if (rc == 0)
        rc = cas_move(s, &att_kind, id, OP_ATT_COMPLETE, "attached", extra, NULL, NULL, msg);
    json_decref(extra);
    json_decref(rec);
    return rc;
}

int att_delete(struct vol_service *s, const struct st_auth_ctx *who, const char *id, char *msg)
{
    json_t *rec = NULL;
    int rc = att_get(s, who, id, &rec);

    if (rc < 0)
        return rc;
    struct att_edit e = { AE_REMOVE, id, NULL, NULL, true, false, true };
    rc = cas_move(s, &vol_kind, rstr(rec, "volume_id"), OP_ATT_DELETE, NULL, NULL,
                  edit_attachments, &e, msg);
    json_decref(rec);
    if (rc == -ENOENT || rc == -ECANCELED) /* the volume no longer counts it */
        rc = 0;
    if (rc == 0) {
        rc = st_meta_delete(s->meta, &att_kind, id, 0);
        rc = rc == -ENOENT ? 0 : rc;
    }
    return rc;
}

int vol_revert(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               const char *snapshot_id, char *msg)
{
    struct st_record vol = { 0 }, snap = { 0 };
    json_t *snaps = NULL, *sn;
    const char *latest = NULL, *latest_at = "";
    size_t i;
    int rc = get_visible(s, &vol_kind, who, id, &vol);

    if (rc < 0)
        return rc;
    st_record_cleanup(&vol);
    rc = get_visible(s, &snap_kind, who, snapshot_id, &snap);
    if (rc == -ENOENT)
        snprintf(msg, VOL_MSG_MAX, "Snapshot %s could not be found.", snapshot_id);
    if (rc < 0)
        return rc;
    bool mine = strcmp(rstr(snap.data, "volume_id"), id) == 0;
    const char *sst = rstr(snap.data, "status");
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
    if ((rc = snapshots_of(s, id, &snaps)) < 0)
        return rc;
    json_array_foreach(snaps, i, sn) {
        const char *at = rstr(sn, "created_at");
        if (!rhidden(sn) && at && strcmp(at, latest_at) >= 0) {
            latest_at = at;
            latest = rstr(sn, "id");
        }
    }
    bool is_latest = latest && strcmp(latest, snapshot_id) == 0;
    json_decref(snaps);
    if (!is_latest) {
        snprintf(msg, VOL_MSG_MAX, "Invalid snapshot: volume %s can only be reverted to its "
                 "latest snapshot", id);
        return -EINVAL;
    }
    return begin_op(s, &vol_kind, id, "revert", OP_REVERT, "reverting",
                    json_pack("{s:{s:s}}", "_s", "revert_to", snapshot_id), JOB_REVERT, msg);
}

/* ---- upload to image: imaged makes the image from a snapshot ---- */

static const char *const uploading_only[] = { "uploading", NULL };

/* Back from uploading (to in-use while attached, else available), naming the
 * upload whose snapshot "upload-<image id>" stays until imaged has flattened
 * the image (arg: that image id, or NULL when there is no snapshot). */
static int end_upload(json_t *rec, void *arg)
{
    json_t *priv = rpriv(rec), *list = json_object_get(priv, "uploads");
    bool attached = json_array_size(json_object_get(rec, "attachments")) > 0;

    if (arg) {
        if (!json_is_array(list)) {
            list = json_array();
            json_object_set_new(priv, "uploads", list);
        }
        json_array_append_new(list, json_string(arg));
    }
    json_object_del(priv, "upload_pending");
    json_object_set_new(rec, "status", json_string(attached ? "in-use" : "available"));
    return 0;
}

/* Ask imaged for an image made from volume id's snapshot, for the caller's
 * project: 0, -EINVAL (refused: msg), -EIO (unreachable or failing: 503). */
static int imaged_import(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                         const char *image_id, const struct vol_upload_req *u, char *msg)
{
    char name[NAME_MAX_LEN], snap[NAME_MAX_LEN], url[512];
    struct st_httpc_resp r = { 0 };
    json_t *body;
    int rc;

    vol_rbd_name(id, name, sizeof(name));
    snprintf(snap, sizeof(snap), "upload-%s", image_id);
    body = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:b, s:s}}", "pool", s->pool,
                     "name", name, "snap", snap, "project_id", who->project_id, "image", "name",
                     u->image_name, "disk_format", "raw", "container_format", "bare",
                     "protected", u->is_protected, "visibility",
                     u->visibility ? u->visibility : "private");
    if (!body)
        return -ENOMEM;
    snprintf(url, sizeof(url), "%s/internal/v1/images/%s/import-rbd", s->image_url, image_id);
    rc = st_httpc_request(s->http, "POST", url, s->service_token, body, &r);
    json_decref(body);
    if (rc < 0 || r.status >= 500) {
        snprintf(msg, VOL_MSG_MAX, "The image service is unavailable (%s); try again later",
                 rc < 0 ? strerror(-rc) : "it failed");
        rc = -EIO;
    } else if (r.status != 201) {
        snprintf(msg, VOL_MSG_MAX, "The image service refused the image (%ld): %.150s", r.status,
                 r.raw ? r.raw : "");
        rc = -EINVAL;
    }
    st_httpc_resp_cleanup(&r);
    return rc;
}

int vol_upload_image(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                     const struct vol_upload_req *u, json_t **out, char *image_id, char *msg)
{
    static const char *const plain[] = { "available", NULL };
    static const char *const forced[] = { "available", "in-use", NULL };
    struct st_record rec = { 0 };
    char name[NAME_MAX_LEN], snap[NAME_MAX_LEN], iid[37];
    int rc = get_visible(s, &vol_kind, who, id, &rec);

    st_record_cleanup(&rec);
    if (rc == 0)
        rc = lease_for(s, &vol_kind, id, "upload", msg);
    if (rc < 0)
        return rc;
    new_id(iid);
    json_t *extra = json_pack("{s:{s:s}}", "_s", "upload_pending", iid);
    struct transition t = { u->force ? forced : plain, "uploading", extra, "", NULL, NULL };
    rc = transition(s, &vol_kind, id, true, &t);
    json_decref(extra);
    if (rc == -ECANCELED)
        snprintf(msg, VOL_MSG_MAX, "Invalid volume: Volume %s status must be available%s to "
                 "upload, but current status is: %s.", id, u->force ? " or in-use" : "", t.cur);
    if (rc < 0) {
        st_lease_release(s->meta, &vol_kind, id, s->owner);
        return rc;
    }
    /* the data imaged clones and flattens: a protected snapshot of the volume */
    vol_rbd_name(id, name, sizeof(name));
    snprintf(snap, sizeof(snap), "upload-%s", iid);
    bool keep = false;
    rc = st_rbd_snap_create(s->vols, name, snap, true);
    if (rc == 0 && (rc = imaged_import(s, who, id, iid, u, msg)) == 0)
        keep = true;
    else if (rc < 0)   /* still cloned by an import that did start: the sweep removes it later */
        keep = st_rbd_snap_remove(s->vols, name, snap) == -EBUSY;
    struct transition back = { uploading_only, NULL, NULL, "", end_upload, keep ? iid : NULL };
    int brc = transition(s, &vol_kind, id, true, &back);
    if (brc < 0)
        st_warn("volume %s: not back from uploading: %s", id, strerror(-brc));
    struct st_record now = { 0 };
    if (rc == 0 && (rc = st_meta_get(s->meta, &vol_kind, id, &now)) == 0) {
        json_object_set_new(now.data, "status", json_string("uploading"));   /* Cinder's answer */
        *out = json_incref(now.data);
        snprintf(image_id, 37, "%s", iid);
        st_info("volume %s: uploading to image %s", id, iid);
    }
    st_record_cleanup(&now);
    st_lease_release(s->meta, &vol_kind, id, s->owner);
    return rc;
}

/* Whether imaged is done with an image made from an upload snapshot (active,
 * killed, deleted or gone): 1 yes, 0 not yet, -EIO when it cannot tell. */
static int upload_done(struct vol_service *s, const char *image_id)
{
    static const char *const done[] = { "active", "killed", "deleted", "deactivated", NULL };
    struct st_httpc_resp r = { 0 };
    char url[512];
    int rc;

    snprintf(url, sizeof(url), "%s/v2/images/%s", s->image_url, image_id);
    rc = st_httpc_request(s->http, "GET", url, s->service_token, NULL, &r);
    if (rc == 0)
        rc = r.status == 404 ? 1
             : r.status == 200 ? status_in(rstr(r.body, "status"), done)
                               : -EIO;
    st_httpc_resp_cleanup(&r);
    return rc;
}

static int drop_upload(json_t *rec, void *arg)
{
    json_t *list = json_object_get(rpriv(rec), "uploads");

    for (size_t i = 0; i < json_array_size(list); i++) {
        if (strcmp(json_string_value(json_array_get(list, i)), arg) == 0) {
            json_array_remove(list, i);
            return 0;
        }
    }
    return 1;
}

static bool has_uploads(const json_t *rec, void *arg)
{
    (void)arg;
    return json_array_size(json_object_get(json_object_get(rec, "_s"), "uploads")) > 0;
}

/* Upload snapshots imaged no longer needs (its image is flattened, or gone). */
static void sweep_uploads(struct vol_service *s)
{
    struct st_record_list l = { 0 };
    char name[NAME_MAX_LEN], snap[NAME_MAX_LEN];
    json_t *iid;
    size_t i;

    if (st_meta_list(s->meta, &vol_kind, NULL, 1000, NULL, 0, has_uploads, NULL, &l) < 0)
        return;
    for (size_t n = 0; n < l.count; n++) {
        /* no lease: a user's request must never meet a busy volume because of
         * this sweep; a delete racing it is safe (remove_volume_image) */
        vol_rbd_name(l.items[n].id, name, sizeof(name));
        json_array_foreach(json_object_get(json_object_get(l.items[n].data, "_s"), "uploads"), i,
                           iid) {
            const char *image_id = json_string_value(iid);
            if (!image_id || upload_done(s, image_id) != 1)
                continue;
            snprintf(snap, sizeof(snap), "upload-%s", image_id);
            int rc = st_rbd_snap_remove(s->vols, name, snap);
            if (rc == 0 || rc == -ENOENT) {
                st_meta_modify(s->meta, &vol_kind, l.items[n].id, drop_upload, (void *)image_id,
                               NULL);
                st_info("volume %s: upload snapshot %s removed (image %s done)", l.items[n].id,
                        snap, image_id);
            }
        }
    }
    st_record_list_cleanup(&l);
}

/* ---- snapshots ---- */

int snap_create(struct vol_service *s, const struct st_auth_ctx *who, const char *volume_id,
                const char *name, const char *description, bool force, const json_t *metadata,
                json_t **out, char *msg)
{
    struct st_record vol = { 0 };
    char id[37], now[40];
    int rc = get_visible(s, &vol_kind, who, volume_id, &vol);

    if (rc == -ENOENT)
        snprintf(msg, VOL_MSG_MAX, "Volume %s could not be found.", volume_id);
    if (rc < 0)
        return rc;
    /* Hold the volume's lease while the snapshot is registered: a delete,
     * extend or revert (they take it too) cannot start in between. */
    st_record_cleanup(&vol);
    if ((rc = lease_for(s, &vol_kind, volume_id, "snapshot", msg)) < 0)
        return rc;
    if ((rc = st_meta_get(s->meta, &vol_kind, volume_id, &vol)) < 0) {
        st_lease_release(s->meta, &vol_kind, volume_id, s->owner);
        return rc;
    }
    const char *vstatus = rstr(vol.data, "status");
    if (!status_in(vstatus, rule_from(force ? OP_SNAPSHOT_FORCE : OP_SNAPSHOT))) {
        snprintf(msg, VOL_MSG_MAX, "Invalid volume: Volume %s status must be available%s, "
                 "but current status is: %s.", volume_id, force ? " or in-use" : "", vstatus);
        st_record_cleanup(&vol);
        st_lease_release(s->meta, &vol_kind, volume_id, s->owner);
        return -ECANCELED;
    }
    new_id(id);
    now_ts(now, sizeof(now));
    json_t *rec = json_pack("{s:s, s:s?, s:s?, s:s, s:O, s:s, s:s, s:s, s:s, s:o, s:s}",
        "id", id, "name", name, "description", description, "status", "creating",
        "size", json_object_get(vol.data, "size"), "volume_id", volume_id,
        "project_id", who->project_id, "user_id", who->user_id, "created_at", now,
        "metadata", metadata ? json_deep_copy(metadata) : json_object(), "updated_at", now);
    st_record_cleanup(&vol);
    json_object_set_new(rec, "progress", json_string("100%"));
    struct vq_counts need;
    vq_of_record(rec, true, 1, &need);
    rc = vol_quota_reserve(s->quota, who->project_id, &need, msg);
    bool reserved = rc == 0;
    if (rc == 0)
        rc = st_meta_create_leased(s->meta, &snap_kind, id, rec, s->owner, "create", st_now_ms(),
                                   s->ttl_ms, NULL);
    if (rc == 0 && (rc = submit(s, JOB_SNAP_CREATE, id)) < 0)
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
    struct st_record rec = { 0 };
    int rc = get_visible(s, &snap_kind, who, id, &rec);

    if (rc == 0)
        *out = json_incref(rec.data);
    st_record_cleanup(&rec);
    return rc;
}

int snap_list(struct vol_service *s, const struct st_auth_ctx *who, bool all_projects,
              const struct vol_filter *filters, size_t nfilters, json_t **out)
{
    struct list_ctx c = { who, all_projects, filters, nfilters };
    return list_kind(s, &snap_kind, &c, out);
}

int snap_update(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                const char *name, const char *description, const json_t *metadata,
                json_t **out, char *msg)
{
    struct edit e = { name, description, metadata, VMD_REPLACE, NULL, "Snapshot", msg, 0 };
    return update_kind(s, &snap_kind, who, id, &e, out);
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
    if (!status_in(status, allowed)) {
        snprintf(msg, VOL_MSG_MAX, "Invalid input received: status '%.32s' is not a snapshot "
                 "status.", status ? status : "");
        return -EINVAL;
    }
    rc = get_visible(s, &snap_kind, who, id, &rec);
    st_record_cleanup(&rec);
    return rc < 0 ? rc : transition(s, &snap_kind, id, false, &t);
}

int snap_delete(struct vol_service *s, const struct st_auth_ctx *who, const char *id, char *msg)
{
    struct st_record rec = { 0 };
    int rc = get_visible(s, &snap_kind, who, id, &rec);

    st_record_cleanup(&rec);
    if (rc < 0)
        return rc;
    return begin_op(s, &snap_kind, id, "delete", OP_SNAP_DELETE, "deleting", NULL,
                    JOB_SNAP_DELETE, msg);
}

/* ---- reconcile ---- */

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
    const char *status = rstr(rec.data, "status");
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
            drop_clone_snap(s, rec.data);
        } else {
            vol_rbd_name(rstr(rec.data, "volume_id"), name, sizeof(name));
            snap_rbd_name(id, snap, sizeof(snap));
            rc = st_rbd_snap_remove(s->vols, name, snap);
        }
        if (rc == 0 || rc == -ENOENT)
            rc = step(s, k, id, "creating", "error",
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
                 rstr(json_object_get(rec.data, "_s"), "upload_pending")
                     ? rstr(json_object_get(rec.data, "_s"), "upload_pending") : "");
        struct transition back = { uploading_only, NULL, NULL, "", end_upload,
                                   pending[0] ? pending : NULL };
        rc = transition(s, k, id, true, &back);
    } else if (status && strcmp(status, "retyping") == 0) {
        resume = JOB_RETYPE;   /* applying QoS again is harmless */
        resumed = true;
    }
    st_record_cleanup(&rec);
    if (resumed && submit(s, resume, id) == 0)
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
            purge_snapshot(s, l.items[n].data, false);
        st_record_list_cleanup(&l);
    }
    if (st_meta_list(s->meta, &vol_kind, NULL, 1000, &del, 1, NULL, NULL, &l) == 0) {
        for (size_t n = 0; n < l.count; n++) {
            vol_rbd_name(l.items[n].id, name, sizeof(name));
            if (remove_volume_image(s, name) == 0)
                delete_counted(s, &vol_kind, l.items[n].id, l.items[n].data);
        }
        st_record_list_cleanup(&l);
    }
}

/* RBD images "volume-<id>" that no record owns. */
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
        if (st_meta_get(s->meta, &vol_kind, names[i] + 7, &rec) == -ENOENT) {
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
            if (cas_move(s, &vol_kind, l.items[n].id, OP_ATT_UPDATE, "available", NULL,
                         edit_attachments, &e, NULL) == 0)
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
                                             "retyping", "uploading", NULL };
    char marker[ST_META_ID_MAX + 1] = "";

    for (;;) {
        struct st_record_list l = { 0 };
        if (st_meta_list(s->meta, k, marker[0] ? marker : NULL, 500, NULL, 0, NULL, NULL, &l) < 0)
            return;
        for (size_t i = 0; i < l.count; i++) {
            struct st_lease lease = { .owner = "(none)", .op = "unknown" };
            if (status_in(rstr(l.items[i].data, "status"), transient) &&
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
    sweep_uploads(s);
    vol_quota_reconcile(s->quota);
    return rc < 0 ? rc : rc2 < 0 ? rc2 : 0;
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

static bool of_types(const json_t *d, void *arg)
{
    const char *t = rstr(d, "volume_type_id");
    const json_t *v;
    size_t i;

    json_array_foreach((const json_t *)arg, i, v)
        if (t && json_is_string(v) && strcmp(json_string_value(v), t) == 0)
            return true;
    return false;
}

int vol_service_qos_changed(struct vol_service *s, const json_t *type_ids)
{
    struct st_record_list l = { 0 };
    char marker[ST_META_ID_MAX + 1] = "";
    int rc = 0;

    if (json_array_size(type_ids) == 0)
        return 0;
    do {
        rc = st_meta_list(s->meta, &vol_kind, marker[0] ? marker : NULL, 1000, NULL, 0, of_types,
                          (void *)type_ids, &l);
        for (size_t n = 0; rc == 0 && n < l.count; n++)
            submit(s, JOB_QOS, l.items[n].id);
        snprintf(marker, sizeof(marker), "%s", l.next_marker);
        bool more = rc == 0 && l.truncated;
        st_record_list_cleanup(&l);
        memset(&l, 0, sizeof(l));
        if (!more)
            break;
    } while (1);
    return rc;
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

/* ---- life cycle ---- */

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
    snprintf(s->image_url, sizeof(s->image_url), "%s", st_config_str(c, "blockd", "image_url"));
    snprintf(s->compute_url, sizeof(s->compute_url), "%s",
             st_config_str(c, "blockd", "compute_url"));
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
    rc = st_rados_ioctx(st_daemon_rados(d), s->pool, &s->vols);
    if (rc < 0) {
        st_error("volumes pool %s ([ceph] volumes_pool): %s", s->pool, strerror(-rc));
        goto fail;
    }
    if ((rc = st_httpc_create(&hc, &s->http)) < 0 ||
        (rc = vol_quota_create(s->meta, c, s->ttl_ms, &s->quota)) < 0 ||
        (rc = vt_create(s->meta, &s->types)) < 0 ||
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
    vol_quota_destroy(s->quota);
    vt_destroy(s->types);
    qos_bulk_cleanup(&s->bulk);
    st_httpc_destroy(s->http);
    if (s->vols)
        rados_ioctx_destroy(s->vols);
    json_decref(s->mon_hosts);
    json_decref(s->mon_ports);
    OPENSSL_cleanse(s->service_token, sizeof(s->service_token));
    free(s);
}
