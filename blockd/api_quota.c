/* api_quota.c — Cinder's quota API on blockd: os-quota-sets (show, defaults,
 * update and reset by admins, ?usage=True) and limits (absolute usage).
 * The arithmetic and the records are in vol_quota.c. */
#include "api_quota.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api_v3.h"
#include "strata/auth.h"
#include "vol_json.h"
#include "vol_quota.h"
#include "vol_service.h"

static struct vol_quota *quota(const struct st_req *r)
{
    return vol_service_quota(st_req_app(r));
}

static int begin(struct st_req *r, bool target)
{
    return api_v3_begin(r, target ? st_req_param(r, "target") : NULL, NULL);
}

static bool want_usage(const struct st_req *r)
{
    const char *u = st_req_query(r, "usage");

    return u && (strcasecmp(u, "true") == 0 || strcmp(u, "1") == 0);
}

/* {"quota_set": {"id": project, resource: limit | {in_use, limit, ...}}} */
static int reply_set(struct st_req *r, const char *project, const struct vq_counts *limit,
                     const struct vq_counts *usage)
{
    json_t *set = json_pack("{s:s}", "id", project);

    for (int i = 0; set && i < VQ_NRES; i++)
        if (json_object_set_new(
                set, vq_names[i],
                usage ? json_pack("{s:I, s:I, s:i, s:i}", "in_use", (json_int_t)usage->n[i],
                                  "limit", (json_int_t)limit->n[i], "reserved", 0, "allocated", 0)
                      : json_integer(limit->n[i])) < 0) {
            json_decref(set);
            set = NULL;
        }
    json_t *doc = set ? json_pack("{s:o}", "quota_set", set) : NULL;
    return doc ? st_reply_json(r, 200, doc) : -ENOMEM;
}

static int h_show(struct st_req *r)
{
    const char *t = st_req_param(r, "target");
    struct vq_counts limit, usage;
    int rc = begin(r, true);

    if (rc < 0)
        return rc;
    if ((rc = vol_quota_get(quota(r), t, &limit, &usage)) < 0)
        return rc;
    return reply_set(r, t, &limit, want_usage(r) ? &usage : NULL);
}

static int h_defaults(struct st_req *r)
{
    struct vq_counts d;
    int rc = begin(r, true);

    if (rc < 0)
        return rc;
    vol_quota_defaults(quota(r), &d);
    return reply_set(r, st_req_param(r, "target"), &d, NULL);
}

/* Members a client may send besides the limits (cinderclient sends some). */
static bool ignored_key(const char *k)
{
    return strcmp(k, "tenant_id") == 0 || strcmp(k, "id") == 0 || strcmp(k, "skip_validation") == 0;
}

static int h_update(struct st_req *r)
{
    const char *t = st_req_param(r, "target");
    struct vq_counts limit = { { 0 } }, usage;
    bool set[VQ_NRES] = { false };
    json_t *body = NULL, *qs, *v;
    const char *k;
    int rc = begin(r, true);

    if (rc < 0 || (rc = st_req_json(r, &body)) < 0)
        return rc;
    qs = json_object_get(body, "quota_set");
    if (!json_is_object(qs)) {
        rc = -EINVAL;
        st_reply_error(r, 400, "Missing required element 'quota_set' in request body.");
        goto out;
    }
    json_object_foreach(qs, k, v) {
        int i = 0;
        while (i < VQ_NRES && strcmp(k, vq_names[i]) != 0)
            i++;
        if (i == VQ_NRES && ignored_key(k))
            continue;
        if (i == VQ_NRES) {
            rc = -EINVAL;
            st_reply_error(r, 400, "Bad key(s) in quota set: %s", k);
            goto out;
        }
        if (vq_parse_limit(v, &limit.n[i]) < 0) {
            rc = -EINVAL;
            st_reply_error(r, 400, "Invalid input received: Quota %s must be an integer "
                           "between -1 and %lld.", k, VQ_LIMIT_MAX);
            goto out;
        }
        set[i] = true;
    }
    if ((rc = vol_quota_set(quota(r), t, &limit, set)) == 0 &&
        (rc = vol_quota_get(quota(r), t, &limit, &usage)) == 0)
        rc = reply_set(r, t, &limit, NULL);
out:
    json_decref(body);
    return rc;
}

static int h_reset(struct st_req *r)
{
    int rc = begin(r, true);

    if (rc < 0 || (rc = vol_quota_reset(quota(r), st_req_param(r, "target"))) < 0)
        return rc;
    return st_reply_json(r, 200, NULL);
}

static int h_limits(struct st_req *r)
{
    const char *p = st_req_param(r, "project_id");
    struct vq_counts l, u;
    int rc = begin(r, false);

    if (rc < 0 || (rc = vol_quota_get(quota(r), p, &l, &u)) < 0)
        return rc;
    json_t *abs = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
        "maxTotalVolumes", (json_int_t)l.n[VQ_VOLUMES],
        "maxTotalSnapshots", (json_int_t)l.n[VQ_SNAPSHOTS],
        "maxTotalVolumeGigabytes", (json_int_t)l.n[VQ_GIGABYTES],
        "totalVolumesUsed", (json_int_t)u.n[VQ_VOLUMES],
        "totalSnapshotsUsed", (json_int_t)u.n[VQ_SNAPSHOTS],
        "totalGigabytesUsed", (json_int_t)u.n[VQ_GIGABYTES]);
    json_t *doc = abs ? json_pack("{s:{s:[], s:o}}", "limits", "rate", "absolute", abs) : NULL;
    return doc ? st_reply_json(r, 200, doc) : -ENOMEM;
}

/* clang-format off */
const struct st_route vol_quota_routes[] = {
    {"GET",    "/v3/{project_id}/os-quota-sets/{target}",          h_show,     0, NULL, NULL},
    {"GET",    "/v3/{project_id}/os-quota-sets/{target}/defaults", h_defaults, 0, NULL, NULL},
    {"PUT",    "/v3/{project_id}/os-quota-sets/{target}",          h_update,   ST_ROUTE_ADMIN, NULL, NULL},
    {"DELETE", "/v3/{project_id}/os-quota-sets/{target}",          h_reset,    ST_ROUTE_ADMIN, NULL, NULL},
    {"GET",    "/v3/{project_id}/limits",                          h_limits,   0, NULL, NULL},
    ST_ROUTE_END,
};
/* clang-format on */
