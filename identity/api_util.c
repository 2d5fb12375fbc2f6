/* api_util.c — shared steps of the identity API handlers (see api_util.h). */
#include "api_util.h"

#include <errno.h>
#include <string.h>

struct id_service *idapi_svc(const struct st_req *r) { return st_req_app(r); }
const struct st_auth_ctx *idapi_who(const struct st_req *r) { return st_req_auth(r); }

bool idapi_is_admin(const struct st_req *r)
{
    const struct st_auth_ctx *a = st_req_auth(r);
    return a && a->is_admin && a->project_id[0];
}

bool idapi_self_or_admin(const struct st_req *r, const char *user)
{
    const struct st_auth_ctx *a = st_req_auth(r);
    return idapi_is_admin(r) || (a && user && strcmp(a->user_id, user) == 0);
}

int idapi_fail(struct st_req *r, int rc, const char *msg, const char *what, const char *id)
{
    unsigned status = rc == -EOPNOTSUPP ? 401 : st_errno_to_http(rc);

    if (msg && msg[0])
        st_reply_error(r, status, "%s", msg);
    else if (rc == -ENOENT && what)
        st_reply_error(r, 404, "Could not find %s: %s.", what, id ? id : "");
    else if (rc == -EPERM)
        st_reply_error(r, 403, "You are not authorized to perform the requested action.");
    else if (rc == -EACCES)
        st_reply_error(r, 401, "The request you have made requires authentication.");
    return rc;
}

int idapi_reply(struct st_req *r, unsigned status, json_t *doc)
{
    return doc ? st_reply_json(r, status, doc) : -ENOMEM;
}

int idapi_body(struct st_req *r, json_t **body)
{
    return st_req_json(r, body);
}
