/* api_admin.c — Keystone v3 resource APIs: domains, projects, users and roles
 * (one generic set of handlers over id_json's resource tables), role
 * assignments on projects, role_assignments, password change and application
 * credentials.  Admins manage everything; a user reads itself, its projects
 * and its application credentials.  Routes and JSON; no Ceph calls. */
#include "api_admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_auth.h"
#include "api_util.h"
#include "id_json.h"
#include "id_service.h"
#include "strata/strutil.h"

static const char *base(const struct st_req *r) { return ids_base(idapi_svc(r)); }

static int forbidden(struct st_req *r)
{
    st_reply_error(r, 403, "You are not authorized to perform the requested action.");
    return -EPERM;
}

/* ---- the four resources, one set of handlers ---- */

static int reply_rec(struct st_req *r, enum idj_res res, unsigned status, json_t *rec)
{
    json_t *v = idj_resource_view(res, base(r), st_json_str(rec, "id"), rec);

    json_decref(rec);
    return idapi_reply(r, status, v ? json_pack("{s:o}", idj_res_name(res), v) : NULL);
}

static int res_list(struct st_req *r, enum idj_res res)
{
    struct ids_filter f = {st_req_query(r, "name"), st_req_query(r, "domain_id"),
                           st_req_query(r, "enabled")};
    json_t *recs = NULL, *list, *rec;
    size_t i;
    int rc = ids_res_list(idapi_svc(r), res, &f, &recs);

    if (rc < 0)
        return idapi_fail(r, rc, NULL, NULL, NULL);
    list = json_array();
    json_array_foreach(recs, i, rec) {
        json_array_append_new(list, idj_resource_view(res, base(r), st_json_str(rec, "id"), rec));
    }
    json_decref(recs);
    return idapi_reply(r, 200, json_pack("{s:o, s:o}", idj_res_plural(res), list, "links",
                                         idj_list_links(base(r), st_req_path(r))));
}

static int res_show(struct st_req *r, enum idj_res res)
{
    const char *id = st_req_param(r, "id");
    const struct st_auth_ctx *who = idapi_who(r);
    json_t *rec = NULL;
    int rc;

    /* Keystone's defaults: admins see all; a user itself; a project its members. */
    if (!idapi_is_admin(r) &&
        !(res == IDJ_USER && strcmp(who->user_id, id) == 0) &&
        !(res == IDJ_PROJECT && strcmp(who->project_id, id) == 0))
        return forbidden(r);
    rc = ids_res_get(idapi_svc(r), res, id, &rec);
    return rc < 0 ? idapi_fail(r, rc, NULL, idj_res_name(res), id) : reply_rec(r, res, 200, rec);
}

static int res_create(struct st_req *r, enum idj_res res)
{
    char msg[IDJ_MSG_MAX] = "";
    json_t *body = NULL, *fields = NULL, *rec = NULL;
    int rc;

    if ((rc = idapi_body(r, &body)) < 0)
        return rc;
    rc = idj_resource_decode(res, body, true, &fields, msg);
    json_decref(body);
    if (rc == 0)
        rc = ids_res_create(idapi_svc(r), res, fields, &rec, msg);
    json_decref(fields);
    return rc < 0 ? idapi_fail(r, rc, msg, NULL, NULL) : reply_rec(r, res, 201, rec);
}

static int res_update(struct st_req *r, enum idj_res res)
{
    const char *id = st_req_param(r, "id");
    char msg[IDJ_MSG_MAX] = "";
    json_t *body = NULL, *fields = NULL, *rec = NULL;
    int rc;

    if ((rc = idapi_body(r, &body)) < 0)
        return rc;
    rc = idj_resource_decode(res, body, false, &fields, msg);
    json_decref(body);
    if (rc == 0)
        rc = ids_res_update(idapi_svc(r), res, id, fields, &rec, msg);
    json_decref(fields);
    return rc < 0 ? idapi_fail(r, rc, msg, idj_res_name(res), id) : reply_rec(r, res, 200, rec);
}

static int res_delete(struct st_req *r, enum idj_res res)
{
    const char *id = st_req_param(r, "id");
    char msg[IDJ_MSG_MAX] = "";
    int rc = ids_res_delete(idapi_svc(r), res, id, msg);

    return rc < 0 ? idapi_fail(r, rc, msg, idj_res_name(res), id) : st_reply_json(r, 204, NULL);
}

#define RESOURCE_HANDLERS(prefix, RES)                                                     \
    static int h_##prefix##_list(struct st_req *r) { return res_list(r, RES); }           \
    static int h_##prefix##_show(struct st_req *r) { return res_show(r, RES); }           \
    static int h_##prefix##_create(struct st_req *r) { return res_create(r, RES); }       \
    static int h_##prefix##_update(struct st_req *r) { return res_update(r, RES); }       \
    static int h_##prefix##_delete(struct st_req *r) { return res_delete(r, RES); }

RESOURCE_HANDLERS(domain, IDJ_DOMAIN)
RESOURCE_HANDLERS(project, IDJ_PROJECT)
RESOURCE_HANDLERS(user, IDJ_USER)
RESOURCE_HANDLERS(role, IDJ_ROLE)

/* ---- role assignments ---- */

static int h_grant_put(struct st_req *r)
{
    char msg[IDJ_MSG_MAX] = "";
    int rc = ids_grant(idapi_svc(r), st_req_param(r, "project_id"), st_req_param(r, "user_id"),
                       st_req_param(r, "role_id"), msg);

    return rc < 0 ? idapi_fail(r, rc, msg, NULL, NULL) : st_reply_json(r, 204, NULL);
}

static int h_grant_head(struct st_req *r)
{
    char msg[IDJ_MSG_MAX] = "";
    int rc = ids_grant_check(idapi_svc(r), st_req_param(r, "project_id"),
                             st_req_param(r, "user_id"), st_req_param(r, "role_id"), msg);

    return rc < 0 ? idapi_fail(r, rc, msg, NULL, NULL) : st_reply_json(r, 204, NULL);
}

static int h_grant_delete(struct st_req *r)
{
    char msg[IDJ_MSG_MAX] = "";
    int rc = ids_ungrant(idapi_svc(r), st_req_param(r, "project_id"), st_req_param(r, "user_id"),
                         st_req_param(r, "role_id"), msg);

    return rc < 0 ? idapi_fail(r, rc, msg, NULL, NULL) : st_reply_json(r, 204, NULL);
}

static int h_grant_list(struct st_req *r)
{
    const char *project = st_req_param(r, "project_id"), *user = st_req_param(r, "user_id");
    json_t *roles = NULL, *list, *role, *chk = NULL;
    size_t i;
    int rc;

    if ((rc = ids_res_get(idapi_svc(r), IDJ_PROJECT, project, &chk)) < 0)
        return idapi_fail(r, rc, NULL, "project", project);
    json_decref(chk);
    if ((rc = ids_res_get(idapi_svc(r), IDJ_USER, user, &chk)) < 0)
        return idapi_fail(r, rc, NULL, "user", user);
    json_decref(chk);
    if ((rc = ids_user_roles(idapi_svc(r), user, project, &roles)) < 0)
        return idapi_fail(r, rc, NULL, NULL, NULL);
    list = json_array();
    json_array_foreach(roles, i, role) {
        json_array_append_new(list, idj_resource_view(IDJ_ROLE, base(r), st_json_str(role, "id"),
                                                      role));
    }
    json_decref(roles);
    return idapi_reply(r, 200, json_pack("{s:o, s:o}", "roles", list, "links",
                                         idj_list_links(base(r), st_req_path(r))));
}

static bool query_true(const char *v)
{
    return v && (strcmp(v, "") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

static int h_role_assignments(struct st_req *r)
{
    const char *user = st_req_query(r, "user.id"), *project = st_req_query(r, "scope.project.id");
    const char *role = st_req_query(r, "role.id");
    bool names = query_true(st_req_query(r, "include_names"));
    json_t *rows = NULL, *list, *row;
    size_t i;
    int rc;

    if (st_req_query(r, "group.id") || st_req_query(r, "scope.domain.id") ||
        st_req_query(r, "scope.system"))
        /* Strata grants roles to users on projects only: nothing matches. */
        return idapi_reply(r, 200, json_pack("{s:[], s:o}", "role_assignments", "links",
                                             idj_list_links(base(r), st_req_path(r))));
    if ((rc = ids_grants(idapi_svc(r), user, project, role, &rows)) < 0)
        return idapi_fail(r, rc, NULL, NULL, NULL);
    list = json_array();
    json_array_foreach(rows, i, row) {
        const char *u = st_json_str(row, "user_id"), *p = st_json_str(row, "project_id");
        const char *ro = st_json_str(row, "role_id");
        json_t *ur = NULL, *pr = NULL, *rr = NULL, *ud = NULL, *pd = NULL;
        if (names) {
            ids_res_get(idapi_svc(r), IDJ_USER, u, &ur);
            ids_res_get(idapi_svc(r), IDJ_PROJECT, p, &pr);
            ids_res_get(idapi_svc(r), IDJ_ROLE, ro, &rr);
            ids_res_get(idapi_svc(r), IDJ_DOMAIN, st_json_str(ur, "domain_id"), &ud);
            ids_res_get(idapi_svc(r), IDJ_DOMAIN, st_json_str(pr, "domain_id"), &pd);
        }
        json_array_append_new(list, idj_assignment_view(base(r), u, p, ro, ur, pr, rr, ud, pd));
        json_decref(ur);
        json_decref(pr);
        json_decref(rr);
        json_decref(ud);
        json_decref(pd);
    }
    json_decref(rows);
    return idapi_reply(r, 200, json_pack("{s:o, s:o}", "role_assignments", list, "links",
                                         idj_list_links(base(r), st_req_path(r))));
}

/* ---- a user's own things ---- */

static int h_password(struct st_req *r)
{
    const char *user = st_req_param(r, "user_id");
    char msg[IDJ_MSG_MAX] = "";
    json_t *body = NULL, *u;
    const char *orig, *pw;
    int rc;

    if (strcmp(idapi_who(r)->user_id, user) != 0)
        return forbidden(r);
    if ((rc = idapi_body(r, &body)) < 0)
        return rc;
    u = json_object_get(body, "user");
    orig = st_json_str(u, "original_password");
    pw = st_json_str(u, "password");
    if (!orig || !pw || !pw[0])
        rc = idapi_fail(r, -EINVAL, "Expecting to find user.original_password and user.password "
                                    "in the request body.", NULL, NULL);
    else if ((rc = ids_password_change(idapi_svc(r), user, orig, pw, msg)) < 0)
        idapi_fail(r, rc, msg, "user", user);
    else
        rc = st_reply_json(r, 204, NULL);
    json_decref(body);
    return rc;
}

static int h_appcred_create(struct st_req *r)
{
    const char *user = st_req_param(r, "user_id");
    char msg[IDJ_MSG_MAX] = "", *secret = NULL;
    struct idj_appcred_req req;
    json_t *body = NULL, *rec = NULL, *v;
    int rc;

    if (strcmp(idapi_who(r)->user_id, user) != 0)
        return forbidden(r); /* made only by the user, with its own roles */
    if ((rc = idapi_body(r, &body)) < 0)
        return rc;
    rc = idj_appcred_decode(body, &req, msg);
    if (rc == 0)
        rc = ids_appcred_create(idapi_svc(r), idapi_who(r), user, &req, &rec, &secret, msg);
    json_decref(body);
    if (rc < 0)
        return idapi_fail(r, rc, msg, NULL, NULL);
    v = idj_appcred_view(base(r), st_json_str(rec, "id"), rec, secret);
    memset(secret, 0, strlen(secret));
    free(secret);
    json_decref(rec);
    return idapi_reply(r, 201, v ? json_pack("{s:o}", "application_credential", v) : NULL);
}

static int h_appcred_list(struct st_req *r)
{
    const char *user = st_req_param(r, "user_id");
    json_t *recs = NULL, *list, *rec;
    size_t i;
    int rc;

    if (!idapi_self_or_admin(r, user))
        return forbidden(r);
    if ((rc = ids_appcred_list(idapi_svc(r), user, st_req_query(r, "name"), &recs)) < 0)
        return idapi_fail(r, rc, NULL, NULL, NULL);
    list = json_array();
    json_array_foreach(recs, i, rec) {
        json_array_append_new(list, idj_appcred_view(base(r), st_json_str(rec, "id"), rec, NULL));
    }
    json_decref(recs);
    return idapi_reply(r, 200, json_pack("{s:o, s:o}", "application_credentials", list, "links",
                                         idj_list_links(base(r), st_req_path(r))));
}

static int h_appcred_show(struct st_req *r)
{
    const char *user = st_req_param(r, "user_id"), *id = st_req_param(r, "id");
    json_t *rec = NULL, *v;
    int rc;

    if (!idapi_self_or_admin(r, user))
        return forbidden(r);
    if ((rc = ids_appcred_get(idapi_svc(r), user, id, &rec)) < 0)
        return idapi_fail(r, rc, NULL, "application credential", id);
    v = idj_appcred_view(base(r), id, rec, NULL);
    json_decref(rec);
    return idapi_reply(r, 200, v ? json_pack("{s:o}", "application_credential", v) : NULL);
}

static int h_appcred_delete(struct st_req *r)
{
    const char *user = st_req_param(r, "user_id"), *id = st_req_param(r, "id");
    int rc;

    if (!idapi_self_or_admin(r, user))
        return forbidden(r);
    rc = ids_appcred_delete(idapi_svc(r), user, id);
    return rc < 0 ? idapi_fail(r, rc, NULL, "application credential", id)
                  : st_reply_json(r, 204, NULL);
}

#define ADMIN ST_ROUTE_ADMIN
#define ANY ST_ROUTE_ANY_TOKEN
#define RESOURCE_ROUTES(prefix, path, member_show)                                  \
    {"GET", "/v3/" path, h_##prefix##_list, ADMIN, NULL, NULL},                    \
    {"POST", "/v3/" path, h_##prefix##_create, ADMIN, NULL, NULL},                 \
    {"GET", "/v3/" path "/{id}", h_##prefix##_show, member_show, NULL, NULL},      \
    {"PATCH", "/v3/" path "/{id}", h_##prefix##_update, ADMIN, NULL, NULL},        \
    {"DELETE", "/v3/" path "/{id}", h_##prefix##_delete, ADMIN, NULL, NULL}

const struct st_route id_admin_routes[] = {
    RESOURCE_ROUTES(domain, "domains", ADMIN),
    RESOURCE_ROUTES(project, "projects", ANY),
    RESOURCE_ROUTES(user, "users", ANY),
    RESOURCE_ROUTES(role, "roles", ADMIN),
    {"GET", "/v3/projects/{project_id}/users/{user_id}/roles", h_grant_list, ADMIN, NULL, NULL},
    {"PUT", "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", h_grant_put, ADMIN, NULL,
     NULL},
    {"HEAD", "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", h_grant_head, ADMIN,
     NULL, NULL},
    {"GET", "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", h_grant_head, ADMIN,
     NULL, NULL},
    {"DELETE", "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}", h_grant_delete, ADMIN,
     NULL, NULL},
    {"GET", "/v3/role_assignments", h_role_assignments, ADMIN, NULL, NULL},
    {"POST", "/v3/users/{user_id}/password", h_password, ANY, NULL, NULL},
    {"GET", "/v3/users/{user_id}/projects", idapi_user_projects, ANY, NULL, NULL},
    {"GET", "/v3/users/{user_id}/application_credentials", h_appcred_list, ANY, NULL, NULL},
    {"POST", "/v3/users/{user_id}/application_credentials", h_appcred_create, ANY, NULL, NULL},
    {"GET", "/v3/users/{user_id}/application_credentials/{id}", h_appcred_show, ANY, NULL, NULL},
    {"DELETE", "/v3/users/{user_id}/application_credentials/{id}", h_appcred_delete, ANY, NULL,
     NULL},
    ST_ROUTE_END,
};
