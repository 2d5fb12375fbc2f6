/* id_service.h — the identity service's logic: domains, projects, users and
 * roles with unique names (claims), role assignments, application credentials,
 * password/token/application-credential authentication that issues the
 * platform's signed tokens, and revocation events for every change that must
 * end existing tokens.  Records live in the metadata store (compare-and-swap). */
#ifndef IDENTITY_ID_SERVICE_H
#define IDENTITY_ID_SERVICE_H

#include <jansson.h>
#include <stdbool.h>

#include "catalog.h"
#include "id_json.h"
#include "strata/auth.h"

struct st_daemon;
struct id_service;

#define IDS_DEFAULT_DOMAIN "default"

/* Create the service and bootstrap (domain default, roles admin/member/reader,
 * the admin project with id [auth] admin_project_id, and, if a bootstrap
 * password is configured and the user does not exist, the admin user with
 * the admin role there).  Idempotent; safe with several instances. */
int ids_create(struct st_daemon *d, struct id_service **out);
void ids_destroy(struct id_service *s);
const char *ids_base(const struct id_service *s);
const struct id_catalog *ids_catalog(const struct id_service *s);

/* ---- resources (records returned with their "id"; caller decrefs) ---- */
struct ids_filter {
    const char *name, *domain_id, *enabled; /* NULL = any; enabled "true"/"false" */
};
int ids_res_create(struct id_service *s, enum idj_res res, const json_t *fields, json_t **rec,
                   char *msg);
int ids_res_get(struct id_service *s, enum idj_res res, const char *id, json_t **rec);
int ids_res_list(struct id_service *s, enum idj_res res, const struct ids_filter *f,
                 json_t **recs);
int ids_res_update(struct id_service *s, enum idj_res res, const char *id, const json_t *fields,
                   json_t **rec, char *msg);
int ids_res_delete(struct id_service *s, enum idj_res res, const char *id, char *msg);

/* ---- role assignments on projects ---- */
int ids_grant(struct id_service *s, const char *project, const char *user, const char *role,
              char *msg);
/* -ENOENT when not granted (or a part is missing: msg says which). */
int ids_ungrant(struct id_service *s, const char *project, const char *user, const char *role,
                char *msg);
int ids_grant_check(struct id_service *s, const char *project, const char *user,
                    const char *role, char *msg);
/* Rows {"user_id","project_id","role_id"} matching the non-NULL filters. */
int ids_grants(struct id_service *s, const char *user, const char *project, const char *role,
               json_t **rows);
/* Role records the user holds on the project. */
int ids_user_roles(struct id_service *s, const char *user, const char *project, json_t **roles);
/* Enabled projects the user holds a role on. */
int ids_user_projects(struct id_service *s, const char *user, json_t **projects);

/* ---- authentication and tokens ---- */
/* Authenticate and issue: 0 with *token (malloc'd) and *ctx; -EACCES (401,
 * msg), -EINVAL (400), -ENOENT (404: a named scope that does not exist). */
int ids_authenticate(struct id_service *s, const struct idj_auth *a,
                     const struct st_auth_ctx *subject, char **token, struct st_auth_ctx *ctx,
                     char *msg);
/* The token body for a verified token; -ENOENT if its user or project is gone. */
int ids_token_body(struct id_service *s, const struct st_auth_ctx *ctx, bool catalog,
                   json_t **body);
int ids_token_revoke(struct id_service *s, const struct st_auth_ctx *ctx);
/* A user's own password change: -EACCES if original is wrong. */
int ids_password_change(struct id_service *s, const char *user, const char *original,
                        const char *password, char *msg);

/* ---- application credentials (of `user`, made with the caller's token) ---- */
int ids_appcred_create(struct id_service *s, const struct st_auth_ctx *who, const char *user,
                       const struct idj_appcred_req *req, json_t **rec, char **secret,
                       char *msg);
int ids_appcred_get(struct id_service *s, const char *user, const char *id, json_t **rec);
int ids_appcred_list(struct id_service *s, const char *user, const char *name, json_t **recs);
int ids_appcred_delete(struct id_service *s, const char *user, const char *id);

#endif
