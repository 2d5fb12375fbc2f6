/* api_servers.c — routes and status codes of the agent API; JSON shapes are in
 * guest_json.c and the work in guest_service.c.  No libvirt or Ceph here. */
#include "api_servers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_json.h"
#include "guest_service.h"

static struct guest_service *svc(const struct st_req *r)
{
    return st_req_app(r);
}

/* st_reply_fail, with the agent's not-found texts (a volume of a server, or
 * the server). */
static int fail(struct st_req *r, int rc, const char *msg)
{
    const char *id = st_req_param(r, "id"), *vol = st_req_param(r, "volume_id");

    if (rc == -ENOENT && !(msg && msg[0]) && vol)
        return st_reply_error(r, 404, "Volume %s is not attached to server %s", vol, id), rc;
    return st_reply_fail(r, rc, msg, id ? "Server" : NULL, id);
}

static int reply_wrapped(struct st_req *r, unsigned status, const char *key, json_t *doc)
{
    json_t *body = doc ? json_pack("{s:o}", key, doc) : NULL;

    return body ? st_reply_json(r, status, body) : -ENOMEM;
}

/* A service call's answer (rc, msg and the record or records `rec`, which
 * this takes): the error, or view(rec) wrapped in {key: ...}. */
static int reply_view(struct st_req *r, int rc, const char *msg, unsigned status, const char *key,
                      json_t *(*view)(const json_t *), json_t *rec)
{
    rc = rc == 0 ? reply_wrapped(r, status, key, view(rec)) : fail(r, rc, msg);
    json_decref(rec);
    return rc;
}

static int h_host(struct st_req *r)
{
    json_t *host = NULL;
    int rc = gsvc_host(svc(r), &host);

    return rc < 0 ? fail(r, rc, NULL) : reply_wrapped(r, 200, "host", host);
}

static int h_spawn(struct st_req *r)
{
    char msg[GJ_MSG_MAX] = "";
    struct gj_spawn_req q;
    json_t *body = NULL, *rec = NULL;
    int created = 0, rc = st_req_json(r, &body);

    if (rc < 0)
        return rc;
    rc = gj_spawn_req(body, &q, msg);
    if (rc == 0)
        rc = gsvc_spawn(svc(r), &q, &rec, &created, msg);
    gj_spawn_req_cleanup(&q);
    json_decref(body);
    return reply_view(r, rc, msg, created ? 202 : 200, "server", gj_view, rec);
}

static int h_list(struct st_req *r)
{
    json_t *recs = NULL;
    int rc = gsvc_list(svc(r), st_req_query(r, "project_id"), &recs);

    return reply_view(r, rc, NULL, 200, "servers", gj_list_view, recs);
}

static int h_show(struct st_req *r)
{
    json_t *rec = NULL;
    int rc = gsvc_show(svc(r), st_req_param(r, "id"), &rec);

    return reply_view(r, rc, NULL, 200, "server", gj_view, rec);
}

static int h_delete(struct st_req *r)
{
    char msg[GJ_MSG_MAX] = "";
    int rc = gsvc_delete(svc(r), st_req_param(r, "id"), msg);

    return rc < 0 ? fail(r, rc, msg) : st_reply_json(r, 202, NULL);
}

static int h_action(struct st_req *r)
{
    char msg[GJ_MSG_MAX] = "";
    enum gj_action a;
    json_t *body = NULL;
    int rc = st_req_json(r, &body);

    if (rc < 0)
        return rc;
    rc = gj_action(body, &a, msg);
    json_decref(body);
    if (rc == 0)
        rc = gsvc_action(svc(r), st_req_param(r, "id"), a, msg);
    return rc < 0 ? fail(r, rc, msg) : st_reply_json(r, 202, NULL);
}

static int h_console(struct st_req *r)
{
    const char *len = st_req_query(r, "length");
    char *end = NULL, *text = NULL;
    size_t n = 0;
    long lines = 0;
    int rc;

    if (len && ((lines = strtol(len, &end, 10)) < 0 || end == len || *end)) {
        st_reply_error(r, 400, "length must be a non-negative number of lines, not '%s'", len);
        return -EINVAL;
    }
    rc = gsvc_console(svc(r), st_req_param(r, "id"), lines, &text, &n);
    if (rc < 0)
        return fail(r, rc, NULL);
    rc = st_reply_text(r, 200, "text/plain; charset=utf-8", text ? text : "", n);
    free(text);
    return rc;
}

static int h_attach(struct st_req *r)
{
    char msg[GJ_MSG_MAX] = "";
    struct gj_attach_req q;
    json_t *body = NULL, *vol = NULL;
    int rc = st_req_json(r, &body);

    if (rc < 0)
        return rc;
    rc = gj_attach(body, &q, msg);
    if (rc == 0)
        rc = gsvc_attach(svc(r), st_req_param(r, "id"), &q, &vol, msg);
    json_decref(body);
    return reply_view(r, rc, msg, 200, "volume_attachment", gj_attachment_view, vol);
}

static int h_detach(struct st_req *r)
{
    char msg[GJ_MSG_MAX] = "";
    int rc = gsvc_detach(svc(r), st_req_param(r, "id"), st_req_param(r, "volume_id"), msg);

    return rc < 0 ? fail(r, rc, msg) : st_reply_json(r, 204, NULL);
}

static int h_volume_update(struct st_req *r)
{
    char msg[GJ_MSG_MAX] = "";
    struct gj_volume_update_req q;
    json_t *body = NULL;
    int rc = st_req_json(r, &body);

    if (rc < 0)
        return rc;
    rc = gj_volume_update(body, &q, msg);
    if (rc == 0)
        rc = gsvc_volume_update(svc(r), st_req_param(r, "id"), st_req_param(r, "volume_id"), &q,
                                msg);
    json_decref(body);
    return rc < 0 ? fail(r, rc, msg) : st_reply_json(r, 204, NULL);
}

/* clang-format off */
const struct st_route compute_api_routes[] = {
    {"GET",    "/v1/host",                                h_host,          ST_ROUTE_ADMIN, NULL, NULL},
    {"GET",    "/v1/servers",                             h_list,          ST_ROUTE_ADMIN, NULL, NULL},
    {"POST",   "/v1/servers",                             h_spawn,         ST_ROUTE_ADMIN, NULL, NULL},
    {"GET",    "/v1/servers/{id}",                        h_show,          ST_ROUTE_ADMIN, NULL, NULL},
    {"DELETE", "/v1/servers/{id}",                        h_delete,        ST_ROUTE_ADMIN, NULL, NULL},
    {"POST",   "/v1/servers/{id}/action",                 h_action,        ST_ROUTE_ADMIN, NULL, NULL},
    {"GET",    "/v1/servers/{id}/console",                h_console,       ST_ROUTE_ADMIN, NULL, NULL},
    {"POST",   "/v1/servers/{id}/volumes",                h_attach,        ST_ROUTE_ADMIN, NULL, NULL},
    {"PUT",    "/v1/servers/{id}/volumes/{volume_id}",    h_volume_update, ST_ROUTE_ADMIN, NULL, NULL},
    {"DELETE", "/v1/servers/{id}/volumes/{volume_id}",    h_detach,        ST_ROUTE_ADMIN, NULL, NULL},
    ST_ROUTE_END,
};
/* clang-format on */
