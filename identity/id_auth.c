/* id_auth.c — authentication (password, token, application credential; scope
 * and roles), token bodies, password change, application credentials. */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "id_internal.h"
#include "options.h"
#include "password.h"
#include "strata/log.h"
#include "strata/meta.h"
#include "strata/nameidx.h"
#include "strata/revoke.h"

/* ---- authentication ---- */

static const char *const AUTH_FAILED = "The request you have made requires authentication.";

static int resolve_domain(struct id_service *s, const char *id, const char *name,
                          char out[ST_META_ID_MAX + 1])
{
    if (id) {
        snprintf(out, ST_META_ID_MAX + 1, "%s", id);
        return 0;
    }
    return idi_lookup_name(s, IDJ_DOMAIN, "", name, out);
}

/* The user record by id or name + domain: 0, or -EACCES (the same answer
 * for every kind of failure: nothing tells which users exist). */
static int find_user(struct id_service *s, const struct idj_user_ref *u, json_t **rec)
{
    char dom[ST_META_ID_MAX + 1], id[ST_META_ID_MAX + 1];
    json_t *d = NULL;
    int rc;

    if (u->id) {
        snprintf(id, sizeof(id), "%s", u->id);
    } else {
        if (resolve_domain(s, u->domain_id, u->domain_name, dom) < 0 ||
            idi_lookup_name(s, IDJ_USER, dom, u->name, id) < 0)
            return -EACCES;
    }
    rc = idi_get_rec(s, &K_USER, id, rec);
    if (rc == -ENOENT)
        return -EACCES;
    if (rc < 0)
        return rc;
    rc = idi_get_rec(s, &K_DOMAIN, st_json_str(*rec, "domain_id"), &d);
    if (rc == 0 && (!idi_rec_enabled(*rec) || !idi_rec_enabled(d)))
        rc = -EACCES;
    json_decref(d);
    if (rc < 0) {
        json_decref(*rec);
        *rec = NULL;
    }
    return rc == -ENOENT ? -EACCES : rc;
}

static void ctx_add_role(struct st_auth_ctx *ctx, const char *n)
{
    for (int i = 0; i < ctx->nroles; i++)
        if (strcmp(ctx->roles[i], n) == 0)
            return;
    if (ctx->nroles < ST_ROLES_MAX && strlen(n) < sizeof(ctx->roles[0]))
        snprintf(ctx->roles[ctx->nroles++], sizeof(ctx->roles[0]), "%s", n);
}

/* Role names into ctx, the admin/member/reader levels first with the roles
 * they imply (admin > member > reader, as Keystone's default implied roles
 * put them in a token); a token has room for ST_ROLES_MAX names of up to 31
 * characters. */
static void ctx_roles(struct st_auth_ctx *ctx, const json_t *roles)
{
    json_t *r;
    size_t i;

    ctx->nroles = 0;
    json_array_foreach(roles, i, r) {
        const char *n = st_json_str(r, "name");
        if (!n)
            continue;
        if (strcmp(n, "admin") == 0)
            ctx_add_role(ctx, "admin");
        if (strcmp(n, "admin") == 0 || strcmp(n, "member") == 0)
            ctx_add_role(ctx, "member");
        if (st_in_list(builtin_roles, n))
            ctx_add_role(ctx, "reader");
    }
    for (int pass = 0; pass < 2; pass++) {
        json_array_foreach(roles, i, r) {
            const char *n = st_json_str(r, "name");
            bool builtin = n && st_in_list(builtin_roles, n);
            if (!n || builtin != (pass == 0))
                continue;
            ctx_add_role(ctx, n);
        }
    }
}

/* The project of a scope: enabled, in an enabled domain.  -ENOENT (401 in
 * Keystone's words for a project the user cannot see) or 0. */
static int scope_project(struct id_service *s, const struct idj_auth *a, char *pid, char *msg)
{
    char dom[ST_META_ID_MAX + 1];
    json_t *p = NULL, *d = NULL;
    int rc;

    if (a->project_id) {
        snprintf(pid, ST_META_ID_MAX + 1, "%s", a->project_id);
    } else if (resolve_domain(s, a->project_domain_id, a->project_domain_name, dom) < 0 ||
               idi_lookup_name(s, IDJ_PROJECT, dom, a->project_name, pid) < 0) {
        return msgf(msg, -EACCES, "Could not find project: %s.", a->project_name);
    }
    rc = idi_get_rec(s, &K_PROJECT, pid, &p);
    if (rc == 0)
        rc = idi_get_rec(s, &K_DOMAIN, st_json_str(p, "domain_id"), &d);
    if (rc == 0 && (!idi_rec_enabled(p) || !idi_rec_enabled(d)))
        rc = msgf(msg, -EACCES, "Project %s is disabled.", pid);
    else if (rc == -ENOENT)
        rc = msgf(msg, -EACCES, "Could not find project: %s.", pid);
    json_decref(p);
    json_decref(d);
    return rc;
}

static int appcred_find(struct id_service *s, const struct idj_auth *a, json_t **rec)
{
    char id[ST_META_ID_MAX + 1];
    json_t *u = NULL;
    int rc;

    if (a->ac_id) {
        snprintf(id, sizeof(id), "%s", a->ac_id);
    } else {
        if ((rc = find_user(s, &a->user, &u)) < 0)
            return rc;
        rc = st_name_lookup(s->meta, &N_APPCRED, st_json_str(u, "id"), a->ac_name, id, sizeof(id));
        json_decref(u);
        if (rc < 0)
            return -EACCES;
    }
    rc = idi_get_rec(s, &K_APPCRED, id, rec);
    return rc == -ENOENT ? -EACCES : rc;
}

int ids_authenticate(struct id_service *s, const struct idj_auth *a,
                     const struct st_auth_ctx *subject, char **token, struct st_auth_ctx *ctx,
                     char *msg)
{
    char project[ST_META_ID_MAX + 1] = "";
    struct st_auth_ctx c;
    json_t *user = NULL, *ac = NULL, *roles = NULL;
    int64_t now = idi_now_ms(), expires = now + s->ttl_ms;
    int rc;

    memset(&c, 0, sizeof(c));
    c.methods = a->methods;
    if (a->methods & ST_AUTH_M_PASSWORD) {
        struct idj_user_ref u = a->user;
        rc = find_user(s, &u, &user);
        if (rc == 0 && !pw_verify(a->password, st_json_str(user, "password")))
            rc = -EACCES;
    } else if (a->methods & ST_AUTH_M_TOKEN) {
        if (!subject || subject->bootstrap || subject->app_cred_id[0]) {
            rc = msgf(msg, -EACCES, "%s", subject && subject->app_cred_id[0]
                      ? "A token made from an application credential cannot be rescoped."
                      : AUTH_FAILED);
            goto out;
        }
        struct idj_user_ref u = {subject->user_id, NULL, NULL, NULL};
        rc = find_user(s, &u, &user);
        expires = subject->expires_at * 1000;
        c.methods |= subject->methods;
    } else {
        rc = appcred_find(s, a, &ac);
        if (rc == 0) {
            json_int_t ems = json_integer_value(json_object_get(ac, "expires_ms"));
            struct idj_user_ref u = {st_json_str(ac, "user_id"), NULL, NULL, NULL};
            if (!pw_verify(a->ac_secret, st_json_str(ac, "secret")) || (ems && ems <= now))
                rc = -EACCES;
            else
                rc = find_user(s, &u, &user);
            if (ems && ems < expires)
                expires = ems;
        }
        if (rc == 0 && a->scope != IDJ_SCOPE_DEFAULT) {
            rc = msgf(msg, -EACCES, "Application credentials cannot request a scope.");
            goto out;
        }
    }
    if (rc < 0) {
        if (rc == -EACCES)
            msgf(msg, rc, "%s", AUTH_FAILED);
        goto out;
    }
    snprintf(c.user_id, sizeof(c.user_id), "%s", st_json_str(user, "id"));

    /* Scope. */
    if (ac) {
        snprintf(project, sizeof(project), "%s", st_json_str(ac, "project_id"));
        snprintf(c.app_cred_id, sizeof(c.app_cred_id), "%s", st_json_str(ac, "id"));
    } else if (a->scope == IDJ_SCOPE_PROJECT) {
        if ((rc = scope_project(s, a, project, msg)) < 0)
            goto out;
    } else if (a->scope == IDJ_SCOPE_DEFAULT && a->methods & ST_AUTH_M_TOKEN) {
        snprintf(project, sizeof(project), "%s", subject->project_id);
    } else if (a->scope == IDJ_SCOPE_DEFAULT && st_json_str(user, "default_project_id")) {
        struct idj_auth d = {.project_id = st_json_str(user, "default_project_id")};
        if (scope_project(s, &d, project, NULL) < 0)
            project[0] = '\0'; /* Keystone falls back to unscoped */
    }
    if (project[0]) {
        rc = idi_effective_roles(s, c.user_id, project, &roles);
        if (rc < 0)
            goto out;
        if (ac && !json_is_true(json_object_get(ac, "all_roles"))) {
            /* The credential's roles that the user still holds. */
            json_t *keep = json_array(), *r, *want;
            size_t i, j;
            json_array_foreach(roles, i, r) {
                json_array_foreach(json_object_get(ac, "roles"), j, want) {
                    if (strcmp(st_json_str(r, "id"), st_json_str(want, "id")) == 0)
                        json_array_append(keep, r);
                }
            }
            json_decref(roles);
            roles = keep;
        }
        if (json_array_size(roles) == 0 && (ac || a->scope != IDJ_SCOPE_DEFAULT)) {
            rc = msgf(msg, -EACCES, "User %s has no access to project %s.", c.user_id, project);
            goto out;
        }
        if (json_array_size(roles) > 0) { /* else a default project without roles: unscoped */
            snprintf(c.project_id, sizeof(c.project_id), "%s", project);
            ctx_roles(&c, roles);
        }
    }
    if (expires <= now) {
        rc = msgf(msg, -EACCES, "%s", AUTH_FAILED);
        goto out;
    }
    rc = st_auth_issue(s->signer, &c, expires / 1000, token);
    if (rc == 0 && (rc = st_auth_verify(s->signer, *token, (int64_t)time(NULL), ctx)) < 0) {
        free(*token);
        *token = NULL;
    }
    if (rc == 0)
        st_info("token issued to user %s (project %s, %d roles)", c.user_id,
                c.project_id[0] ? c.project_id : "none", c.nroles);
out:
    if (rc == -EACCES)
        st_info("authentication failed for user %s", user ? st_json_str(user, "id")
                : a->user.id ? a->user.id : "(by name)");
    json_decref(user);
    json_decref(ac);
    json_decref(roles);
    return rc;
}

int ids_token_body(struct id_service *s, const struct st_auth_ctx *ctx, bool catalog,
                   json_t **body)
{
    json_t *user = NULL, *udom = NULL, *proj = NULL, *pdom = NULL, *roles = json_array();
    struct idj_token_info t = { .ctx = ctx, .user_id = ctx->user_id };
    int rc;

    if (!roles)
        return -ENOMEM;
    if (ctx->bootstrap) {
        rc = -ENOENT; /* the config's admin token is no Keystone token */
        goto out;
    }
    if ((rc = idi_get_rec(s, &K_USER, ctx->user_id, &user)) < 0)
        goto out;
    t.user = user;
    t.user_domain_id = st_json_str(user, "domain_id");
    idi_get_rec(s, &K_DOMAIN, t.user_domain_id, &udom);
    t.user_domain = udom;
    if (ctx->project_id[0]) {
        if ((rc = idi_get_rec(s, &K_PROJECT, ctx->project_id, &proj)) < 0)
            goto out;
        t.project_id = ctx->project_id;
        t.project = proj;
        t.project_domain_id = st_json_str(proj, "domain_id");
        idi_get_rec(s, &K_DOMAIN, t.project_domain_id, &pdom);
        t.project_domain = pdom;
        for (int i = 0; i < ctx->nroles; i++) {
            char rid[ST_META_ID_MAX + 1];
            if (idi_lookup_name(s, IDJ_ROLE, "", ctx->roles[i], rid) < 0)
                snprintf(rid, sizeof(rid), "%s", ctx->roles[i]);
            json_array_append_new(roles, json_pack("{s:s, s:s}", "id", rid, "name", ctx->roles[i]));
        }
    }
    t.roles = roles;
    t.app_cred_id = ctx->app_cred_id;
    t.catalog = catalog ? id_catalog_token(&s->cat, ctx->project_id) : NULL;
    *body = idj_token_body(&t);
    rc = *body ? 0 : -ENOMEM;
out:
    json_decref(user);
    json_decref(udom);
    json_decref(proj);
    json_decref(pdom);
    json_decref(roles);
    return rc;
}

int ids_password_change(struct id_service *s, const char *user, const char *original,
                        const char *password, char *msg)
{
    struct idj_user_ref u = {user, NULL, NULL, NULL};
    json_t *rec = NULL, *fields, *out = NULL;
    int rc = find_user(s, &u, &rec);

    if (rc == 0 && !pw_verify(original, st_json_str(rec, "password")))
        rc = -EACCES;
    json_decref(rec);
    if (rc < 0)
        return rc == -EACCES ? msgf(msg, rc, "%s", AUTH_FAILED) : rc;
    fields = json_pack("{s:s}", "password", password);
    if (!fields)
        return -ENOMEM;
    rc = ids_res_update(s, IDJ_USER, user, fields, &out, msg);
    json_decref(fields);
    json_decref(out);
    return rc;
}

/* ---- application credentials ---- */

int ids_appcred_create(struct id_service *s, const struct st_auth_ctx *who, const char *user,
                       const struct idj_appcred_req *req, json_t **rec, char **secret, char *msg)
{
    char id[33], hash[PW_HASH_MAX], gen[65];
    json_t *held = NULL, *roles = json_array(), *data = NULL, *r, *want;
    size_t i, j;
    int rc;

    if (!roles)
        return -ENOMEM;
    if (!who->project_id[0] || who->bootstrap) {
        rc = msgf(msg, -EPERM, "An application credential is made with a project-scoped user token.");
        goto out;
    }
    if (who->app_cred_id[0]) {
        rc = msgf(msg, -EPERM, "An application credential cannot make another one.");
        goto out;
    }
    /* Its roles: those asked for (each held by the caller on the project), or all held. */
    if ((rc = idi_effective_roles(s, user, who->project_id, &held)) < 0)
        goto out;
    json_array_foreach(held, i, r) {
        bool take = !req->roles;
        json_array_foreach(req->roles, j, want) {
            const char *wid = st_json_str(want, "id"), *wname = st_json_str(want, "name");
            if ((wid && strcmp(wid, st_json_str(r, "id")) == 0) ||
                (wname && strcmp(wname, st_json_str(r, "name")) == 0))
                take = true;
        }
        if (take)
            json_array_append_new(roles, json_pack("{s:s, s:s, s:n}", "id", st_json_str(r, "id"),
                                                   "name", st_json_str(r, "name"), "domain_id"));
    }
    if (req->roles && json_array_size(roles) != json_array_size(req->roles)) {
        rc = msgf(msg, -EPERM, "An application credential may only hold roles its creator holds "
                               "on the project.");
        goto out;
    }
    if (!req->secret) {
        unsigned char rnd[32];
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            rc = -EIO;
            goto out;
        }
        for (i = 0; i < 32; i++)
            snprintf(gen + 2 * i, 3, "%02x", rnd[i]);
        OPENSSL_cleanse(rnd, sizeof(rnd));
    }
    if ((rc = pw_hash(req->secret ? req->secret : gen, s->rounds, hash)) < 0)
        goto out;
    idi_new_id(id);
    data = json_pack("{s:s, s:s, s:s, s:s, s:O, s:I, s:b, s:b, s:I}", "user_id", user,
                     "project_id", who->project_id, "name", req->name, "secret", hash, "roles",
                     roles, "expires_ms", (json_int_t)req->expires_ms, "unrestricted",
                     req->unrestricted, "all_roles", 0, "created_ms", (json_int_t)idi_now_ms());
    OPENSSL_cleanse(hash, sizeof(hash));
    if (!data) {
        rc = -ENOMEM;
        goto out;
    }
    if (req->description)
        json_object_set_new(data, "description", json_string(req->description));
    {
        struct st_name_records a = {s->meta, &K_APPCRED};
        rc = st_name_claim(s->meta, &N_APPCRED, user, req->name, id, st_name_record_alive, &a,
                           idi_now_ms());
        if (rc == -EEXIST) {
            msgf(msg, rc, "Conflict occurred attempting to store application_credential - "
                          "Duplicate entry.");
            goto out;
        }
        if (rc < 0)
            goto out;
    }
    rc = st_meta_create(s->meta, &K_APPCRED, id, data, NULL);
    if (rc < 0) {
        st_name_release(s->meta, &N_APPCRED, user, req->name, id);
        goto out;
    }
    if ((rc = idi_get_rec(s, &K_APPCRED, id, rec)) < 0)
        goto out;
    *secret = strdup(req->secret ? req->secret : gen);
    rc = *secret ? 0 : -ENOMEM;
    st_info("application credential %s created for user %s", id, user);
out:
    OPENSSL_cleanse(gen, sizeof(gen));
    json_decref(data);
    json_decref(held);
    json_decref(roles);
    return rc;
}

static int appcred_of(struct id_service *s, const char *user, const char *id, json_t **rec)
{
    int rc = idi_get_rec(s, &K_APPCRED, id, rec);

    if (rc == 0 && strcmp(st_json_str(*rec, "user_id"), user) != 0) {
        json_decref(*rec);
        *rec = NULL;
        rc = -ENOENT;
    }
    return rc;
}

int ids_appcred_get(struct id_service *s, const char *user, const char *id, json_t **rec)
{
    return appcred_of(s, user, id, rec);
}

int ids_appcred_list(struct id_service *s, const char *user, const char *name, json_t **recs)
{
    struct st_meta_filter f[2] = {{"user_id", user}, {"name", name}};

    return idi_list_all(s, &K_APPCRED, f, name ? 2 : 1, NULL, NULL, recs);
}

int ids_appcred_delete(struct id_service *s, const char *user, const char *id)
{
    json_t *rec = NULL;
    int rc = appcred_of(s, user, id, &rec);

    if (rc < 0)
        return rc;
    rc = st_meta_delete(s->meta, &K_APPCRED, id, 0);
    if (rc == 0) {
        st_name_release(s->meta, &N_APPCRED, user, st_json_str(rec, "name"), id);
        idi_revoke_event(s, NULL, NULL, NULL, id, "application credential deleted");
    }
    json_decref(rec);
    return rc;
}
