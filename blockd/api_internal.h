/* api_internal.h — what blockd's Cinder v3 handler files (api_volumes.c,
 * api_attachments.c, api_backups.c) share: the settled request, the reply and
 * failure helpers, the resources' show/list/delete (api_res.c).  The API layer
 * only; no Ceph here. */
#ifndef BLOCKD_API_INTERNAL_H
#define BLOCKD_API_INTERNAL_H

#include <errno.h>
#include <stdbool.h>

#include "strata/http.h"
#include "vol_json.h"
#include "vol_service.h"

_Static_assert(VOLJ_MSG_MAX <= VOL_MSG_MAX, "vol_json messages must fit VOL_MSG_MAX");

#define BASE_MAX VOLJ_BASE_MAX

/* What every v3 handler knows once the microversion and project are settled. */
struct v3 {
    struct volj_ctx ctx;
    char base[BASE_MAX];
};

typedef int (*v3_fn)(struct st_req *r, const struct v3 *v);

static inline struct vol_service *svc(const struct st_req *r)
{
    return st_req_app(r);
}

static inline const struct st_auth_ctx *who(const struct st_req *r)
{
    return st_req_auth(r);
}

static inline bool is_admin(const struct st_req *r)
{
    const struct st_auth_ctx *a = st_req_auth(r);

    return a && a->is_admin;
}

static inline int reply_doc(struct st_req *r, unsigned status, json_t *doc)
{
    return doc ? st_reply_json(r, status, doc) : -ENOMEM;
}

/* {"<member>": view} (takes view). */
static inline int reply_one(struct st_req *r, unsigned status, const char *member,
                            json_t *view)
{
    return reply_doc(r, status, view ? json_pack("{s:o}", member, view) : NULL);
}

/* 202 with no body when rc is 0, else the failure (st_reply_fail). */
static inline int reply_accepted(struct st_req *r, int rc, const char *msg, const char *kind,
                                 const char *id)
{
    return rc == 0 ? st_reply_json(r, 202, NULL) : st_reply_fail(r, rc, msg, kind, id);
}

/* The request's query parameters for vol_json's parsers (arg is the st_req). */
const char *api_query_get(void *arg, const char *name, size_t nth);
/* Settle the microversion (406/400), its reply headers, the URL's project (the
 * caller's own unless admin) and the links' base, then run fn. */
int api_v3_run(struct st_req *r, v3_fn fn);

/* ---- api_res.c: one descriptor per resource, and what is built on it ---- */

struct api_res {
    const char *label;  /* "Volume": Cinder's "Volume X could not be found." */
    const char *member; /* "volume": the reply's {"volume": view} */
    enum volj_list_kind list_kind;
    int (*list)(struct vol_service *s, const struct st_auth_ctx *who, bool all_projects,
                const struct vol_filter *filters, size_t nfilters, json_t **out);
    int (*get)(struct vol_service *s, const struct st_auth_ctx *who, const char *id, json_t **out);
    /* NULL when the resource's delete takes more than the id (volumes) */
    int (*del)(struct vol_service *s, const struct st_auth_ctx *who, const char *id, char *msg);
    json_t *(*view)(const json_t *rec, enum volj_view_kind kind, const struct volj_ctx *c);
};

extern const struct api_res api_volumes, api_snapshots, api_backups;

/* {"<member>": view of rec} with status. */
int api_reply(struct st_req *r, const struct v3 *v, const struct api_res *res, unsigned status,
              const json_t *rec, enum volj_view_kind kind);
/* GET .../{id}: the detailed view, or 404 in Cinder's words. */
int api_show(struct st_req *r, const struct v3 *v, const struct api_res *res);
/* DELETE .../{id}: 202, or the service's refusal. */
int api_delete(struct st_req *r, const struct v3 *v, const struct api_res *res);
/* GET of a list (summary or detail): parse, filter, sort, page, answer. */
int api_list(struct st_req *r, const struct v3 *v, const struct api_res *res, bool detail);

/* What a body handler's op leaves for api_body: the record to show (owned,
 * released by api_body), the service's message, and whom a 404 names (preset:
 * the resource and the URL's id). */
struct api_out {
    json_t *rec;
    const char *what, *id;
    char msg[VOL_MSG_MAX];
};

typedef int (*api_op_fn)(struct st_req *r, const json_t *body, struct api_out *o);

/* Read the JSON body, run op (decode, call the service), then answer
 * {"<member>": view of o.rec} with status, or the failure. */
int api_body(struct st_req *r, const struct v3 *v, const struct api_res *res, unsigned status,
             enum volj_view_kind kind, api_op_fn op);

/* One route handler per v3 function. */
#define V3_HANDLER(fn)                                                                             \
    static int h_##fn(struct st_req *r)                                                            \
    {                                                                                              \
        return api_v3_run(r, fn);                                                                  \
    }

/* h_<name>_show, h_<name>_list and h_<name>_list_detail of a resource. */
#define V3_RES_HANDLERS(name, res)                                                                 \
    static int name##_show(struct st_req *r, const struct v3 *v)                                   \
    {                                                                                              \
        return api_show(r, v, &res);                                                               \
    }                                                                                              \
    static int name##_list(struct st_req *r, const struct v3 *v)                                   \
    {                                                                                              \
        return api_list(r, v, &res, false);                                                        \
    }                                                                                              \
    static int name##_list_detail(struct st_req *r, const struct v3 *v)                            \
    {                                                                                              \
        return api_list(r, v, &res, true);                                                         \
    }                                                                                              \
    V3_HANDLER(name##_show)                                                                        \
    V3_HANDLER(name##_list)                                                                        \
    V3_HANDLER(name##_list_detail)

/* h_<name>_delete of a resource whose delete takes only the id. */
#define V3_DELETE_HANDLER(name, res)                                                               \
    static int name##_delete(struct st_req *r, const struct v3 *v)                                 \
    {                                                                                              \
        return api_delete(r, v, &res);                                                             \
    }                                                                                              \
    V3_HANDLER(name##_delete)

#endif
