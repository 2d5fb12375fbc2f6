/* api_internal.h — what blockd's Cinder v3 handler files (api_volumes.c,
 * api_attachments.c, api_backups.c) share: the settled request, the reply and
 * failure helpers, the list machinery.  The API layer only; no Ceph here. */
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

/* Answer a failure with the service's (or vol_json's) message when there is
 * one, Cinder's text for an unknown volume/snapshot, else the status's
 * generic text (from the common layer).  Returns rc for the handler. */
static inline int fail(struct st_req *r, int rc, const char *msg, const char *kind,
                       const char *id)
{
    if (msg && msg[0])
        st_reply_error(r, st_errno_to_http(rc), "%s", msg);
    else if (rc == -ENOENT && kind && id)
        st_reply_error(r, 404, "%s %s could not be found.", kind, id);
    return rc;
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

/* The request's query parameters for vol_json's parsers (arg is the st_req). */
const char *api_query_get(void *arg, const char *name, size_t nth);
/* Settle the microversion (406/400), its reply headers, the URL's project (the
 * caller's own unless admin) and the links' base, then run fn. */
int api_v3_run(struct st_req *r, v3_fn fn);
/* GET of a volume/snapshot/backup list: parse, filter, sort, page, answer. */
int api_list(struct st_req *r, const struct v3 *v, enum volj_list_kind kind, bool detail);

/* One route handler per v3 function. */
#define V3_HANDLER(fn)                                                                             \
    static int h_##fn(struct st_req *r)                                                            \
    {                                                                                              \
        return api_v3_run(r, fn);                                                                  \
    }

#endif
