/* vol_quota.c — per-project quotas: the pure check/reserve arithmetic with
 * Cinder's over-quota messages, the quota records (compare-and-swap via
 * st_meta_modify) and the reconcile pass that recounts usage from records. */
#include "vol_quota.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/config.h"
#include "strata/log.h"
#include "strata/meta.h"
#include "strata/workpool.h"

const char *const vq_names[VQ_NRES] = { "volumes", "snapshots", "gigabytes" };

struct vol_quota {
    struct st_meta *meta;
    struct vq_counts defaults;
    int64_t quiet_ms;
};

static int validate_quota(const json_t *d)
{
    return json_is_object(json_object_get(d, "usage")) ? 0 : -EINVAL;
}

static const struct st_meta_kind quota_kind = { "quota", validate_quota };
/* read-only views of vol_service.c's kinds, to count a project's records */
static const struct st_meta_kind count_kinds[2] = { { "volume", NULL }, { "snapshot", NULL } };

/* ---- pure arithmetic ---- */

int vq_check(const struct vq_counts *limit, const struct vq_counts *usage,
             const struct vq_counts *delta, char *msg, size_t len)
{
    for (int i = 0; i < VQ_NRES; i++) {
        int64_t lim = limit->n[i], used = usage->n[i], want = delta->n[i];
        if (want <= 0 || lim < 0 || used + want <= lim)
            continue;
        if (i == VQ_GIGABYTES)
            snprintf(msg, len, "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot "
                     "exceeds allowed gigabytes quota. Requested %lldG, quota is %lldG and "
                     "%lldG has been consumed.", (long long)want, (long long)lim,
                     (long long)used);
        else if (i == VQ_VOLUMES)
            snprintf(msg, len, "VolumeLimitExceeded: Maximum number of volumes allowed (%lld) "
                     "exceeded for quota 'volumes'.", (long long)lim);
        else
            snprintf(msg, len, "SnapshotLimitExceeded: Maximum number of snapshots allowed "
                     "(%lld) exceeded", (long long)lim);
        return -EDQUOT;
    }
    return 0;
}

void vq_apply(struct vq_counts *usage, const struct vq_counts *delta)
{
    for (int i = 0; i < VQ_NRES; i++) {
        usage->n[i] += delta->n[i];
        if (usage->n[i] < 0)
            usage->n[i] = 0;
    }
}

int vq_parse_limit(const json_t *v, int64_t *out)
{
    long long n;
    char *end;

    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v) && json_string_value(v)[0]) {
        errno = 0;
        n = strtoll(json_string_value(v), &end, 10);
        if (errno || *end)
            return -EINVAL;
    } else {
        return -EINVAL;
    }
    if (n < VQ_UNLIMITED || n > VQ_LIMIT_MAX)
        return -EINVAL;
    *out = n;
    return 0;
}

void vq_of_record(const json_t *rec, bool snapshot, int sign, struct vq_counts *out)
{
    memset(out, 0, sizeof(*out));
    out->n[snapshot ? VQ_SNAPSHOTS : VQ_VOLUMES] = sign;
    out->n[VQ_GIGABYTES] = sign * (int64_t)json_integer_value(json_object_get(rec, "size"));
}

/* ---- records ---- */

static void counts_get(const json_t *obj, const struct vq_counts *dflt, struct vq_counts *out)
{
    for (int i = 0; i < VQ_NRES; i++) {
        json_t *v = json_object_get(obj, vq_names[i]);
        out->n[i] = json_is_integer(v) ? json_integer_value(v) : dflt ? dflt->n[i] : 0;
    }
}

static void counts_set(json_t *rec, const char *member, const struct vq_counts *c)
{
    json_t *o = json_object();

    for (int i = 0; i < VQ_NRES; i++)
        json_object_set_new(o, vq_names[i], json_integer(c->n[i]));
    json_object_set_new(rec, member, o);
}

/* What the records of a project count for (hidden ones too: they are
 * released when finally deleted). */
static int count_usage(struct vol_quota *q, const char *project, struct vq_counts *out)
{
    const struct st_meta_filter f = { "project_id", project };

    memset(out, 0, sizeof(*out));
    for (int k = 0; k < 2; k++) {
        char marker[ST_META_ID_MAX + 1] = "";
        struct st_record_list l;
        bool more;
        do {
            memset(&l, 0, sizeof(l));
            int rc = st_meta_list(q->meta, &count_kinds[k], marker[0] ? marker : NULL, 0, &f, 1,
                                  NULL, NULL, &l);
            if (rc < 0)
                return rc;
            for (size_t i = 0; i < l.count; i++) {
                struct vq_counts one;
                vq_of_record(l.items[i].data, k == 1, 1, &one);
                vq_apply(out, &one);
            }
            more = l.truncated;
            snprintf(marker, sizeof(marker), "%s", l.next_marker);
            st_record_list_cleanup(&l);
        } while (more && marker[0]);
    }
    return 0;
}

/* Make the project's record (usage counted from its records); 0 if another
 * made it first. */
static int make_record(struct vol_quota *q, const char *project)
{
    struct vq_counts usage;
    json_t *rec = json_object();
    int rc = count_usage(q, project, &usage);

    if (rc == 0) {
        counts_set(rec, "usage", &usage);
        json_object_set_new(rec, "updated_ms", json_integer(st_now_ms()));
        rc = st_meta_create(q->meta, &quota_kind, project, rec, NULL);
    }
    json_decref(rec);
    return rc == -EEXIST ? 0 : rc;
}

/* One edit of a quota record: usage += delta (checked against the limits
 * when check), and/or the limits set or reset. */
struct quota_edit {
    const struct vol_quota *q;
    const struct vq_counts *delta;   /* NULL = usage unchanged */
    bool check;
    const struct vq_counts *limit;   /* with set[]: limits to set */
    const bool *set;
    bool reset;
    char *msg;
};

static int apply_edit(json_t *rec, void *arg)
{
    struct quota_edit *e = arg;
    struct vq_counts lim, usage;
    json_t *limits = json_object_get(rec, "limits");

    counts_get(limits, &e->q->defaults, &lim);
    counts_get(json_object_get(rec, "usage"), NULL, &usage);
    if (e->delta) {
        if (e->check && vq_check(&lim, &usage, e->delta, e->msg, 256) < 0)
            return -EDQUOT;
        vq_apply(&usage, e->delta);
        counts_set(rec, "usage", &usage);
    }
    if (e->reset) {
        json_object_del(rec, "limits");
        limits = NULL;   /* freed with its key: set below starts a new object */
    }
    if (e->set) {
        if (!json_is_object(limits)) {
            limits = json_object();
            json_object_set_new(rec, "limits", limits);
        }
        for (int i = 0; i < VQ_NRES; i++)
            if (e->set[i])
                json_object_set_new(limits, vq_names[i], json_integer(e->limit->n[i]));
    }
    json_object_set_new(rec, "updated_ms", json_integer(st_now_ms()));
    return 0;
}

/* The edit, making the record first when the project has none. */
static int edit(struct vol_quota *q, const char *project, struct quota_edit *e)
{
    int rc = -ENOENT;

    for (int tries = 0; tries < 3 && rc == -ENOENT; tries++) {
        rc = st_meta_modify(q->meta, &quota_kind, project, apply_edit, e, NULL);
        if (rc == -ENOENT && (rc = make_record(q, project)) == 0)
            rc = -ENOENT;   /* made: edit it */
    }
    return rc;
}

/* ---- the service ---- */

int vol_quota_create(struct st_meta *m, const struct st_config *c, int64_t quiet_ms,
                     struct vol_quota **out)
{
    static const char *const opts[VQ_NRES] = { "quota_volumes", "quota_snapshots",
                                               "quota_gigabytes" };
    struct vol_quota *q = calloc(1, sizeof(*q));

    if (!q)
        return -ENOMEM;
    q->meta = m;
    q->quiet_ms = quiet_ms;
    for (int i = 0; i < VQ_NRES; i++)
        q->defaults.n[i] = st_config_int(c, "blockd", opts[i]);
    *out = q;
    return 0;
}

void vol_quota_destroy(struct vol_quota *q)
{
    free(q);
}

void vol_quota_defaults(const struct vol_quota *q, struct vq_counts *out)
{
    *out = q->defaults;
}

int vol_quota_reserve(struct vol_quota *q, const char *project, const struct vq_counts *delta,
                      char *msg)
{
    struct quota_edit e = { q, delta, true, NULL, NULL, false, msg };

    return edit(q, project, &e);
}

void vol_quota_release(struct vol_quota *q, const char *project, const struct vq_counts *delta)
{
    struct vq_counts back;
    struct quota_edit e = { q, &back, false, NULL, NULL, false, NULL };
    int rc;

    for (int i = 0; i < VQ_NRES; i++)
        back.n[i] = -delta->n[i];
    rc = st_meta_modify(q->meta, &quota_kind, project, apply_edit, &e, NULL);
    if (rc < 0 && rc != -ENOENT)   /* no record: nothing was counted */
        st_warn("quota of project %s: release failed (%s): reconcile will recount",
                project, strerror(-rc));
}

void vol_quota_release_record(struct vol_quota *q, const json_t *rec, bool snapshot)
{
    const char *project = json_string_value(json_object_get(rec, "project_id"));
    struct vq_counts d;

    if (!project)
        return;
    vq_of_record(rec, snapshot, 1, &d);
    vol_quota_release(q, project, &d);
}

int vol_quota_get(struct vol_quota *q, const char *project, struct vq_counts *limit,
                  struct vq_counts *usage)
{
    struct st_record rec = { 0 };
    int rc = st_meta_get(q->meta, &quota_kind, project, &rec);

    if (rc == -ENOENT) {
        *limit = q->defaults;
        return count_usage(q, project, usage);
    }
    if (rc == 0) {
        counts_get(json_object_get(rec.data, "limits"), &q->defaults, limit);
        counts_get(json_object_get(rec.data, "usage"), NULL, usage);
    }
    st_record_cleanup(&rec);
    return rc;
}

int vol_quota_set(struct vol_quota *q, const char *project, const struct vq_counts *limit,
                  const bool set[VQ_NRES])
{
    struct quota_edit e = { q, NULL, false, limit, set, false, NULL };

    return edit(q, project, &e);
}

int vol_quota_reset(struct vol_quota *q, const char *project)
{
    struct quota_edit e = { q, NULL, false, NULL, NULL, true, NULL };
    int rc = st_meta_modify(q->meta, &quota_kind, project, apply_edit, &e, NULL);

    return rc == -ENOENT ? 0 : rc;
}

/* One quota record: if quiet long enough, usage := what its records count
 * for, written only if the record did not change meanwhile. */
static void recount(struct vol_quota *q, const struct st_record *r, int64_t now)
{
    struct vq_counts stored, counted;
    json_t *upd;

    if (now - json_integer_value(json_object_get(r->data, "updated_ms")) < q->quiet_ms)
        return;   /* reservations may be in flight */
    if (count_usage(q, r->id, &counted) < 0)
        return;
    counts_get(json_object_get(r->data, "usage"), NULL, &stored);
    if (memcmp(&stored, &counted, sizeof(stored)) == 0)
        return;
    upd = json_deep_copy(r->data);
    counts_set(upd, "usage", &counted);
    json_object_set_new(upd, "updated_ms", json_integer(now));
    if (st_meta_update(q->meta, &quota_kind, r->id, r->version, upd, NULL) == 0)
        st_warn("quota of project %s: usage was %lld volumes, %lld snapshots, %lldG; "
                "the records say %lld, %lld, %lldG: corrected", r->id,
                (long long)stored.n[0], (long long)stored.n[1], (long long)stored.n[2],
                (long long)counted.n[0], (long long)counted.n[1], (long long)counted.n[2]);
    json_decref(upd);
}

void vol_quota_reconcile(struct vol_quota *q)
{
    char marker[ST_META_ID_MAX + 1] = "";
    struct st_record_list l;
    int64_t now = st_now_ms();
    bool more;

    do {
        memset(&l, 0, sizeof(l));
        if (st_meta_list(q->meta, &quota_kind, marker[0] ? marker : NULL, 0, NULL, 0, NULL, NULL,
                         &l) < 0)
            return;
        for (size_t i = 0; i < l.count; i++)
            recount(q, &l.items[i], now);
        more = l.truncated;
        snprintf(marker, sizeof(marker), "%s", l.next_marker);
        st_record_list_cleanup(&l);
    } while (more && marker[0]);
}
