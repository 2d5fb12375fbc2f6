/* api_auth.c — Keystone's version documents, token API (issue, validate,
 * check, revoke), the caller's catalog and projects, and the read-only
 * services/endpoints/regions listings.  Routes and JSON; no Ceph calls. */
#include "api_auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"
#include "catalog.h"
#include "id_json.h"
#include "id_service.h"

static const char *base(const struct st_req *r) { return ids_base(idapi_svc(r)); }

/* ---- versions ---- */

static int h_root(struct st_req *r)
{
    json_t *v = idj_version_v3(base(r));
    return idapi_reply(r, 300, v ? json_pack("{s:{s:[o]}}", "versions", "values", v) : NULL);
}

static int h_v3(struct st_req *r)
{
    json_t *v = idj_version_v3(base(r));
    return idapi_reply(r, 200, v ? json_pack("{s:o}", "version", v) : NULL);
}

/* ---- tokens ---- */

static bool want_catalog(const struct st_req *r)
{
    return st_req_query(r, "nocatalog") == NULL;
}

static int h_token_issue(struct st_req *r)
{
    char msg[IDJ_MSG_MAX] = "", *token = NULL;
    struct idj_auth a;
    struct st_auth_ctx subject, ctx;
    json_t *body = NULL, *view = NULL;
    int rc;

    if ((rc = idapi_body(r, &body)) < 0)
        return rc;
    rc = idj_auth_decode(body, &a, msg);
    if (rc == 0 && (a.methods & ST_AUTH_M_TOKEN)) {
        rc = st_req_check_token(r, a.token, &subject);
        if (rc < 0) {
            snprintf(msg, sizeof(msg), "The request you have made requires authentication.");
            rc = -EACCES;
        }
    }
    if (rc == 0)
        rc = ids_authenticate(idapi_svc(r), &a, (a.methods & ST_AUTH_M_TOKEN) ? &subject : NULL,
                              &token, &ctx, msg);
    if (rc == 0)
        rc = ids_token_body(idapi_svc(r), &ctx, want_catalog(r), &view);
    if (rc == 0) {
        rc = st_reply_header(r, "X-Subject-Token", token);
        if (rc == 0)
            rc = idapi_reply(r, 201, view);
        else
            json_decref(view);
    } else {
        if (rc == -EACCES) {
            char h[600];
            snprintf(h, sizeof(h), "Keystone uri=\"%s\"", base(r));
            st_reply_header(r, "WWW-Authenticate", h);
        }
        idapi_fail(r, rc, msg, "token", "");
    }
    if (token) {
        memset(token, 0, strlen(token));
        free(token);
    }
    json_decref(body);
    return rc;
}

/* The X-Subject-Token, verified, into ctx; replies 404 (or 400) otherwise. */
static int subject(struct st_req *r, struct st_auth_ctx *ctx)
{
    const char *tok = st_req_header(r, "X-Subject-Token");

    if (!tok || !*tok) {
        st_reply_error(r, 400, "Expecting to find X-Subject-Token in the request headers.");
        return -EINVAL;
    }
    if (st_req_check_token(r, tok, ctx) < 0) {
        st_reply_error(r, 404, "Could not find token.");
        return -ENOENT;
    }
    /* Keystone: an admin validates any token, everyone else their own. */
    if (!idapi_self_or_admin(r, ctx->user_id)) {
        st_reply_error(r, 403, "You are not authorized to perform the requested action.");
        return -EPERM;
    }
    return 0;
}

static int h_token_get(struct st_req *r)
{
    struct st_auth_ctx ctx;
    json_t *view = NULL;
    int rc = subject(r, &ctx);

    if (rc < 0)
        return rc;
    rc = ids_token_body(idapi_svc(r), &ctx, want_catalog(r), &view);
    if (rc == -ENOENT)
        return idapi_fail(r, rc, "Could not find token.", NULL, NULL);
    return rc < 0 ? idapi_fail(r, rc, NULL, NULL, NULL) : idapi_reply(r, 200, view);
}

static int h_token_head(struct st_req *r)
{
    struct st_auth_ctx ctx;
    int rc = subject(r, &ctx);

    return rc < 0 ? rc : st_reply_json(r, 200, NULL);
}

static int h_token_delete(struct st_req *r)
{
    struct st_auth_ctx ctx;
    int rc = subject(r, &ctx);

    if (rc < 0)
        return rc;
    rc = ids_token_revoke(idapi_svc(r), &ctx);
    return rc < 0 ? idapi_fail(r, rc, NULL, NULL, NULL) : st_reply_json(r, 204, NULL);
}

static int h_auth_catalog(struct st_req *r)
{
    const struct st_auth_ctx *who = idapi_who(r);
    json_t *cat;

    if (!who->project_id[0]) {
        st_reply_error(r, 403, "The catalog is given to project-scoped tokens.");
        return -EPERM;
    }
    cat = id_catalog_token(ids_catalog(idapi_svc(r)), who->project_id);
    return idapi_reply(r, 200, cat ? json_pack("{s:o, s:o}", "catalog", cat, "links",
                                               idj_list_links(base(r), "/v3/auth/catalog")) : NULL);
}

static int reply_projects(struct st_req *r, const char *user, const char *path)
{
    json_t *recs = NULL, *list, *p;
    size_t i;
    int rc = ids_user_projects(idapi_svc(r), user, &recs);

    if (rc < 0)
        return idapi_fail(r, rc, NULL, NULL, NULL);
    list = json_array();
    json_array_foreach(recs, i, p) {
        json_array_append_new(list, idj_resource_view(IDJ_PROJECT, base(r), json_string_value(
                                                          json_object_get(p, "id")), p));
    }
    json_decref(recs);
    return idapi_reply(r, 200, json_pack("{s:o, s:o}", "projects", list, "links",
                                         idj_list_links(base(r), path)));
}

static int h_auth_projects(struct st_req *r)
{
    const struct st_auth_ctx *who = idapi_who(r);

    if (who->bootstrap)
        return idapi_reply(r, 200, json_pack("{s:[], s:o}", "projects", "links",
                                             idj_list_links(base(r), "/v3/auth/projects")));
    return reply_projects(r, who->user_id, "/v3/auth/projects");
}

int idapi_user_projects(struct st_req *r)
{
    const char *user = st_req_param(r, "user_id");

    if (!idapi_self_or_admin(r, user)) {
        st_reply_error(r, 403, "You are not authorized to perform the requested action.");
        return -EPERM;
    }
    return reply_projects(r, user, st_req_path(r));
}

static int h_auth_domains(struct st_req *r)
{
    /* Roles are granted on projects only, so no token can be domain-scoped. */
    return idapi_reply(r, 200, json_pack("{s:[], s:o}", "domains", "links",
                                         idj_list_links(base(r), "/v3/auth/domains")));
}

/* ---- the catalog as resources (read-only: it is configuration) ---- */

static int reply_listing(struct st_req *r, const char *member, json_t *list)
{
    return idapi_reply(r, 200, list ? json_pack("{s:o, s:o}", member, list, "links",
                                                idj_list_links(base(r), st_req_path(r))) : NULL);
}

/* The one element of `list` whose id is the path's, or 404. */
static int reply_one(struct st_req *r, const char *member, const char *what, json_t *list)
{
    const char *id = st_req_param(r, "id");
    json_t *e;
    size_t i;

    json_array_foreach(list, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0) {
            json_t *doc = json_pack("{s:O}", member, e);
            json_decref(list);
            return idapi_reply(r, 200, doc);
        }
    }
    json_decref(list);
    return idapi_fail(r, -ENOENT, NULL, what, id);
}

static int h_services(struct st_req *r)
{
    return reply_listing(r, "services", id_catalog_services(ids_catalog(idapi_svc(r)),
                                                            st_req_query(r, "type")));
}

static int h_service(struct st_req *r)
{
    return reply_one(r, "service", "service", id_catalog_services(ids_catalog(idapi_svc(r)), NULL));
}

static int h_endpoints(struct st_req *r)
{
    return reply_listing(r, "endpoints",
                         id_catalog_endpoints(ids_catalog(idapi_svc(r)), st_req_query(r, "interface"),
                                              st_req_query(r, "service_id")));
}

static int h_endpoint(struct st_req *r)
{
    return reply_one(r, "endpoint", "endpoint",
                     id_catalog_endpoints(ids_catalog(idapi_svc(r)), NULL, NULL));
}

static int h_regions(struct st_req *r)
{
    return reply_listing(r, "regions", id_catalog_regions(ids_catalog(idapi_svc(r))));
}

static int h_region(struct st_req *r)
{
    return reply_one(r, "region", "region", id_catalog_regions(ids_catalog(idapi_svc(r))));
}

#define ANY ST_ROUTE_ANY_TOKEN
const struct st_route id_auth_routes[] = {
    {"GET", "/", h_root, ST_ROUTE_PUBLIC, NULL, "versions"},
    {"GET", "/v3", h_v3, ST_ROUTE_PUBLIC, NULL, "version"},
    {"POST", "/v3/auth/tokens", h_token_issue, ST_ROUTE_PUBLIC, NULL, "token_issue"},
    {"GET", "/v3/auth/tokens", h_token_get, ANY, NULL, "token_validate"},
    {"HEAD", "/v3/auth/tokens", h_token_head, ANY, NULL, "token_check"},
    {"DELETE", "/v3/auth/tokens", h_token_delete, ANY, NULL, "token_revoke"},
    {"GET", "/v3/auth/catalog", h_auth_catalog, ANY, NULL, NULL},
    {"GET", "/v3/auth/projects", h_auth_projects, ANY, NULL, NULL},
    {"GET", "/v3/auth/domains", h_auth_domains, ANY, NULL, NULL},
    {"GET", "/v3/services", h_services, ST_ROUTE_ADMIN, NULL, NULL},
    {"GET", "/v3/services/{id}", h_service, ST_ROUTE_ADMIN, NULL, NULL},
    {"GET", "/v3/endpoints", h_endpoints, ST_ROUTE_ADMIN, NULL, NULL},
    {"GET", "/v3/endpoints/{id}", h_endpoint, ST_ROUTE_ADMIN, NULL, NULL},
    {"GET", "/v3/regions", h_regions, ST_ROUTE_ADMIN, NULL, NULL},
    {"GET", "/v3/regions/{id}", h_region, ST_ROUTE_ADMIN, NULL, NULL},
    ST_ROUTE_END,
};
