/* http_request.c — what a handler reads from its request: method, path,
 * parameters, query arguments, headers, caller, body and JSON body. */
#include "http_internal.h"

#include <errno.h>
#include <string.h>

/* ---- the request, for handlers ---- */

const char *st_req_method(const struct st_req *r)
{
    return r->method;
}

const char *st_req_path(const struct st_req *r)
{
    return r->path;
}

static const char *kv_find(const struct st_kv *kv, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(kv[i].name, name) == 0)
            return kv[i].value;
    }
    return NULL;
}

const char *st_req_param(const struct st_req *r, const char *name)
{
    return kv_find(r->params, r->nparams, name);
}

const char *st_req_query(const struct st_req *r, const char *name)
{
    return kv_find(r->query, r->nquery, name);
}

const char *st_req_query_nth(const struct st_req *r, const char *name, size_t nth)
{
    for (size_t i = 0; i < r->nquery; i++) {
        if (strcmp(r->query[i].name, name) == 0 && nth-- == 0)
            return r->query[i].value;
    }
    return NULL;
}

const char *st_req_header(const struct st_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *st_req_id(const struct st_req *r)
{
    return r->id;
}

const struct st_auth_ctx *st_req_auth(const struct st_req *r)
{
    return r->authed ? &r->auth : NULL;
}

void *st_req_app(const struct st_req *r)
{
    return r->srv->app;
}

int64_t st_req_content_length(const struct st_req *r)
{
    return r->content_length;
}

const char *st_req_body(const struct st_req *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body ? r->body : "";
}

int st_req_json(struct st_req *r, json_t **out)
{
    json_error_t err;
    json_t *j;

    if (r->body_len == 0) {
        st_reply_error(r, 400, "A JSON object body is required.");
        return -EINVAL;
    }
    j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        st_reply_error(r, 400, "Malformed JSON body: %s (line %d, column %d, byte %d).", err.text,
                       err.line, err.column, err.position);
        return -EINVAL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        st_reply_error(r, 400, "The JSON body must be an object.");
        return -EINVAL;
    }
    *out = j;
    return 0;
}

void st_req_set_stream_ctx(struct st_req *r, void *ctx)
{
    r->stream_ctx = ctx;
}

void *st_req_stream_ctx(const struct st_req *r)
{
    return r->stream_ctx;
}
