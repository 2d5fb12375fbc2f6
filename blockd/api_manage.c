/* api_manage.c — Cinder's scheduler-stats/get_pools (capacity of the volumes
 * pool) and manageable_volumes (list the pool's images, manage one; also the
 * legacy os-volume-manage), admins only.  The logic is in vol_capacity.c and
 * vol_manage.c, the JSON in vol_json_manage.c; os-unmanage is a volume action
 * (api_volumes.c). */
#include "api_manage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_v3.h"
#include "vol_json.h"
#include "vol_service.h"

/* ?name=true|1|... (absent: false); -EINVAL with a 400 when not a boolean. */
static int query_bool(struct st_req *r, const char *name, bool *out)
{
    const char *v = st_req_query(r, name);

    *out = false;
    if (v && volj_bool_parse(v, out) < 0)
        return st_reply_error(r, 400, "Invalid value '%.32s' for %s: must be a boolean.", v,
                              name), -EINVAL;
    return 0;
}

static int query_uint(struct st_req *r, const char *name, unsigned *out)
{
    const char *v = st_req_query(r, name);
    char *end = NULL;
    unsigned long n = v ? strtoul(v, &end, 10) : 0;

    *out = 0;
    if (v && (!*v || *end || v[0] == '-' || n > 1000000))
        return st_reply_error(r, 400, "Invalid value '%.32s' for %s: must be a non-negative "
                              "integer.", v, name), -EINVAL;
    *out = (unsigned)n;
    return 0;
}

static int h_get_pools(struct st_req *r)
{
    struct volj_pool_stats p;
    char msg[VOL_MSG_MAX] = "";
    bool detail;
    int rc = api_v3_begin(r, NULL, NULL);

    if (rc < 0 || (rc = query_bool(r, "detail", &detail)) < 0)
        return rc;
    if ((rc = vol_capacity(st_req_app(r), &p, msg)) < 0)
        return st_reply_fail(r, rc, msg, NULL, NULL);
    json_t *doc = volj_pools_view(&p, detail);
    return doc ? st_reply_json(r, 200, doc) : -ENOMEM;
}

static int list_manageable(struct st_req *r, bool detail)
{
    char msg[VOL_MSG_MAX] = "";
    unsigned limit, offset;
    json_t *items = NULL, *doc = NULL;
    int rc = api_v3_begin(r, NULL, NULL);

    if (rc < 0 || (rc = query_uint(r, "limit", &limit)) < 0 ||
        (rc = query_uint(r, "offset", &offset)) < 0)
        return rc;
    if ((rc = vol_manageable(st_req_app(r), st_req_auth(r), &items)) < 0) {
        snprintf(msg, sizeof(msg), "The images of the volumes pool cannot be listed now; try "
                                   "again later");
        return st_reply_fail(r, rc, rc == -EIO ? msg : "", NULL, NULL);
    }
    rc = volj_manageable_body(items, detail, st_req_query(r, "marker"), offset, limit, &doc, msg);
    json_decref(items);
    return rc < 0 ? st_reply_fail(r, rc, msg, NULL, NULL) : st_reply_json(r, 200, doc);
}

static int h_manageable(struct st_req *r)
{
    return list_manageable(r, false);
}

static int h_manageable_detail(struct st_req *r)
{
    return list_manageable(r, true);
}

static int h_manage(struct st_req *r)
{
    const char *project = st_req_param(r, "project_id");
    char msg[VOL_MSG_MAX] = "", base[VOLJ_BASE_MAX];
    struct volj_manage m;
    json_t *body = NULL, *rec = NULL;
    unsigned mv = 0;
    int rc = api_v3_begin(r, NULL, &mv);

    if (rc < 0 || (rc = st_req_json(r, &body)) < 0)
        return rc;
    if ((rc = volj_manage_body(body, &m, msg)) == 0) {
        struct vol_manage_req q = { project, m.source_name, m.source_id, m.name, m.description,
                                    m.volume_type, m.availability_zone, m.bootable, m.metadata };
        rc = vol_manage(st_req_app(r), st_req_auth(r), &q, &rec, msg);
    }
    json_decref(body);
    if (rc < 0)
        return st_reply_fail(r, rc, msg, NULL, NULL);
    snprintf(base, sizeof(base), "%s", vol_service_public_url(st_req_app(r)));
    struct volj_ctx c = { base, project, mv, true };
    json_t *view = volj_volume_view(rec, VOLJ_BASIC, &c);
    json_decref(rec);
    json_t *doc = view ? json_pack("{s:o}", "volume", view) : NULL;
    return doc ? st_reply_json(r, 202, doc) : -ENOMEM;
}

/* clang-format off */
const struct st_route vol_manage_routes[] = {
    {"GET",  "/v3/{project_id}/scheduler-stats/get_pools",  h_get_pools,          ST_ROUTE_ADMIN, NULL, NULL},
    {"GET",  "/v3/{project_id}/manageable_volumes",         h_manageable,         ST_ROUTE_ADMIN, NULL, NULL},
    {"GET",  "/v3/{project_id}/manageable_volumes/detail",  h_manageable_detail,  ST_ROUTE_ADMIN, NULL, NULL},
    {"POST", "/v3/{project_id}/manageable_volumes",         h_manage,             ST_ROUTE_ADMIN, NULL, NULL},
    {"POST", "/v3/{project_id}/os-volume-manage",           h_manage,             ST_ROUTE_ADMIN, NULL, NULL},
    ST_ROUTE_END,
};
/* clang-format on */
