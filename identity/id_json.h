/* id_json.h — Keystone v3 JSON: request decoding (tables of fields: a new
 * attribute is a row) and the views of domains, projects, users, roles, role
 * assignments, application credentials and tokens.  Pure: no I/O. */
#ifndef IDENTITY_ID_JSON_H
#define IDENTITY_ID_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "strata/auth.h"

#define IDJ_MSG_MAX 256
#define IDJ_NAME_MAX 255

/* The resources an admin manages, in one table each (fields, view). */
enum idj_res { IDJ_DOMAIN, IDJ_PROJECT, IDJ_USER, IDJ_ROLE, IDJ_NRES };

/* "domain", "project", ... and the plural member of list replies. */
const char *idj_res_name(enum idj_res res);
const char *idj_res_plural(enum idj_res res);

/* Decode {"<resource>": {...}} of a create (creating) or update body into a
 * new object of the known fields (strings, booleans, tags) plus "extra" (the
 * attributes Keystone keeps without knowing them).  "id" and "links" are
 * ignored; a field of the wrong type or too long is -EINVAL with msg. */
int idj_resource_decode(enum idj_res res, const json_t *body, bool creating, json_t **out,
                        char *msg);
/* View of a stored record (id + data) under base (this service's public URL). */
json_t *idj_resource_view(enum idj_res res, const char *base, const char *id, const json_t *rec);

/* ---- POST /v3/auth/tokens ---- */
enum idj_scope { IDJ_SCOPE_DEFAULT, IDJ_SCOPE_UNSCOPED, IDJ_SCOPE_PROJECT };

/* Borrowed from the body, which must outlive it. */
struct idj_user_ref {
    const char *id, *name, *domain_id, *domain_name;
};
struct idj_auth {
    unsigned methods;        /* ST_AUTH_M_* asked for */
    struct idj_user_ref user;/* password / application credential by name */
    const char *password;
    const char *token;       /* token method */
    const char *ac_id, *ac_name, *ac_secret;
    enum idj_scope scope;
    const char *project_id, *project_name, *project_domain_id, *project_domain_name;
};
/* -EINVAL (400: malformed), -EOPNOTSUPP (a method or scope Strata does not
 * offer: 401 as Keystone answers), with msg. */
int idj_auth_decode(const json_t *body, struct idj_auth *out, char *msg);

/* Everything a token body shows; records are borrowed. */
struct idj_token_info {
    const struct st_auth_ctx *ctx;
    const char *user_id;
    const json_t *user, *user_domain;      /* records (data) */
    const char *user_domain_id;
    const char *project_id;                /* NULL when unscoped */
    const json_t *project, *project_domain;
    const char *project_domain_id;
    const json_t *roles;                   /* [{"id","name"}] */
    json_t *catalog;                       /* stolen; NULL = "nocatalog" */
    const char *app_cred_id;
};
json_t *idj_token_body(const struct idj_token_info *t);

/* ---- role assignments ---- */
/* One row of GET /v3/role_assignments; names (optional records) with
 * ?include_names. */
json_t *idj_assignment_view(const char *base, const char *user_id, const char *project_id,
                            const char *role_id, const json_t *user, const json_t *project,
                            const json_t *role, const json_t *user_domain,
                            const json_t *project_domain);

/* ---- application credentials ---- */
struct idj_appcred_req {
    const char *name, *description, *secret; /* secret NULL = generate one */
    int64_t expires_ms;                      /* 0 = never */
    bool unrestricted;
    const json_t *roles;                     /* [{"id"} | {"name"}] or NULL = all of the token's */
};
int idj_appcred_decode(const json_t *body, struct idj_appcred_req *out, char *msg);
json_t *idj_appcred_view(const char *base, const char *id, const json_t *rec, const char *secret);

/* ---- small things ---- */
/* ISO 8601 with microseconds, Keystone's: "2026-12-03T10:00:00.000000Z". */
void idj_time(int64_t ms, char *buf, size_t len);
/* Parse Keystone's time forms (…Z, with or without fraction): 0 or -EINVAL. */
int idj_time_parse(const char *s, int64_t *ms);
/* {"self", "previous": null, "next": null} */
json_t *idj_list_links(const char *base, const char *path);
/* The version document of v3 (GET /v3 and an entry of GET /). */
json_t *idj_version_v3(const char *base);

#endif
