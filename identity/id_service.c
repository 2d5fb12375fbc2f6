/* id_service.c — identity records and authentication.  A resource's unique
 * name is claimed (strata/nameidx.h) before its record is written and released
 * after it is deleted, so two racing creates of one name cannot both win.
 * Every change that must end existing tokens (a token revoked, a user deleted
 * or disabled or given a new password, a role taken away, a project or role or
 * application credential deleted) writes a revocation event that every daemon
 * mirrors.  Passwords and secrets are stored only as slow hashes. */
#include "id_service.h"

#include <errno.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "options.h"
#include "password.h"
#include "strata/config.h"
#include "strata/daemon.h"
#include "strata/log.h"
#include "strata/meta.h"
#include "strata/nameidx.h"
#include "strata/revoke.h"
#include "strata/strutil.h"

static const struct st_meta_kind K_DOMAIN = {"id_domain", NULL};
static const struct st_meta_kind K_PROJECT = {"id_project", NULL};
static const struct st_meta_kind K_USER = {"id_user", NULL};
static const struct st_meta_kind K_ROLE = {"id_role", NULL};
static const struct st_meta_kind K_GRANT = {"id_grant", NULL};
static const struct st_meta_kind K_APPCRED = {"id_appcred", NULL};
static const struct st_meta_kind N_DOMAIN = {"id_domain_name", NULL};
static const struct st_meta_kind N_PROJECT = {"id_project_name", NULL};
static const struct st_meta_kind N_USER = {"id_user_name", NULL};
static const struct st_meta_kind N_ROLE = {"id_role_name", NULL};
static const struct st_meta_kind N_APPCRED = {"id_appcred_name", NULL};

/* Per resource: its record kind, its name claims and how names are scoped. */
static const struct {
    const struct st_meta_kind *kind, *names;
    bool in_domain; /* names unique per domain_id (else global) */
    const char *title; /* for messages */
} classes[IDJ_NRES] = {
    [IDJ_DOMAIN] = {&K_DOMAIN, &N_DOMAIN, false, "domain"},
    [IDJ_PROJECT] = {&K_PROJECT, &N_PROJECT, true, "project"},
    [IDJ_USER] = {&K_USER, &N_USER, true, "user"},
    [IDJ_ROLE] = {&K_ROLE, &N_ROLE, false, "role"},
};

static const char *const builtin_roles[] = {"admin", "member", "reader", NULL};

struct id_service {
    struct st_meta *meta;
    rados_ioctx_t io;
    const struct st_auth *auth;
    struct st_auth *signer;  /* signs with [auth] token_key */
    int64_t ttl_ms;
    int64_t notify_ms;
    unsigned rounds;
    char admin_project[ST_ID_MAX + 1];
    char *base;
    struct id_catalog cat;
    char *region, *compute_url, *volume_url, *image_url;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void new_id(char out[33])
{
    uuid_t u;
    char s[37];
    size_t j = 0;

    uuid_generate_random(u);
    uuid_unparse_lower(u, s);
    for (size_t i = 0; s[i]; i++)
        if (s[i] != '-')
            out[j++] = s[i];
    out[j] = '\0';
}

/* Ids that can be record ids and path segments: [A-Za-z0-9_-], 1..64. */
static bool id_ok(const char *id)
{
    size_t n = 0;

    if (!id)
        return false;
    for (; id[n]; n++) {
        char c = id[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-') || n >= ST_ID_MAX)
            return false;
    }
    return n > 0;
}

#define msgf(msg, rc, ...) st_msgf((msg), IDJ_MSG_MAX, (rc), __VA_ARGS__)

/* ---- revocation ---- */

static void revoke_event(struct id_service *s, const char *user, const char *project,
                         const char *role, const char *app_cred, const char *why)
{
    struct st_revoke_event ev;
    int64_t now = now_ms();
    int rc;

    memset(&ev, 0, sizeof(ev));
    snprintf(ev.user_id, sizeof(ev.user_id), "%s", user ? user : "");
    snprintf(ev.project_id, sizeof(ev.project_id), "%s", project ? project : "");
    snprintf(ev.role, sizeof(ev.role), "%s", role ? role : "");
    snprintf(ev.app_cred_id, sizeof(ev.app_cred_id), "%s", app_cred ? app_cred : "");
    ev.issued_before_ms = now;
    ev.expires_ms = now + s->ttl_ms + 60000;
    rc = st_revoke_add(s->io, &ev, now, s->notify_ms);
    if (rc < 0)
        st_error("revocation (%s) could not be stored: %s", why, strerror(-rc));
    else
        st_info("tokens revoked: %s", why);
}

int ids_token_revoke(struct id_service *s, const struct st_auth_ctx *ctx)
{
    struct st_revoke_event ev;
    int64_t now = now_ms();

    if (ctx->bootstrap)
        return -EPERM;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.audit_id, sizeof(ev.audit_id), "%s", ctx->audit_id);
    ev.issued_before_ms = now;
    ev.expires_ms = ctx->expires_at * 1000 + 60000;
    return st_revoke_add(s->io, &ev, now, s->notify_ms);
}

/* ---- records ---- */

/* The record data with its id, as the rest of the service hands it out. */
static json_t *with_id(const struct st_record *r)
{
    json_t *o = json_deep_copy(r->data);

    if (o && json_object_set_new(o, "id", json_string(r->id)) < 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

static int get_rec(struct id_service *s, const struct st_meta_kind *k, const char *id,
                   json_t **out)
{
    struct st_record r = { 0 };
    int rc;

    if (!id_ok(id))
        return -ENOENT;
    rc = st_meta_get(s->meta, k, id, &r);
    if (rc == 0) {
        *out = with_id(&r);
        rc = *out ? 0 : -ENOMEM;
    }
    st_record_cleanup(&r);
    return rc == -EINVAL ? -ENOENT : rc;
}

/* Every record of a kind matching filters/pred, as an array of records with ids. */
static int list_all(struct id_service *s, const struct st_meta_kind *k,
                    const struct st_meta_filter *f, size_t nf, st_meta_pred_fn pred, void *arg,
                    json_t **out)
{
    char marker[ST_META_ID_MAX + 1] = "";
    json_t *all = json_array();
    int rc = 0;

    if (!all)
        return -ENOMEM;
    for (;;) {
        struct st_record_list l = { 0 };
        rc = st_meta_list(s->meta, k, marker[0] ? marker : NULL, 0, f, nf, pred, arg, &l);
        if (rc < 0)
            break;
        for (size_t i = 0; i < l.count; i++)
            json_array_append_new(all, with_id(&l.items[i]));
        bool more = l.truncated;
        snprintf(marker, sizeof(marker), "%s", l.next_marker);
        st_record_list_cleanup(&l);
        if (!more || !marker[0])
            break;
    }
    if (rc < 0) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return 0;
}

static const char *name_scope(enum idj_res res, const json_t *rec)
{
    const char *d = st_json_str(rec, "domain_id");
    return classes[res].in_domain ? (d ? d : IDS_DEFAULT_DOMAIN) : "";
}

static int claim(struct id_service *s, enum idj_res res, const char *scope, const char *name,
                 const char *id, char *msg)
{
    struct st_name_records a = {s->meta, classes[res].kind};
    int rc = st_name_claim(s->meta, classes[res].names, scope, name, id, st_name_record_alive,
                           &a, now_ms());

    if (rc == -EEXIST) {
        if (classes[res].in_domain)
            return msgf(msg, rc, "Conflict occurred attempting to store %s - Duplicate entry "
                                 "found with name %s at domain ID %s.", classes[res].title, name,
                        scope);
        return msgf(msg, rc, "Conflict occurred attempting to store %s - Duplicate entry found "
                             "with name %s.", classes[res].title, name);
    }
    return rc;
}

static int lookup_name(struct id_service *s, enum idj_res res, const char *scope,
                       const char *name, char id[ST_META_ID_MAX + 1])
{
    return st_name_lookup(s->meta, classes[res].names, scope, name, id, ST_META_ID_MAX + 1);
}

static bool rec_enabled(const json_t *rec)
{
    return !json_is_false(json_object_get(rec, "enabled"));
}

/* ---- resource checks (what Keystone enforces) ---- */

static int check_domain_ref(struct id_service *s, json_t *fields, char *msg)
{
    const char *d = st_json_str(fields, "domain_id");
    json_t *rec = NULL;
    int rc;

    if (!d) {
        json_object_set_new(fields, "domain_id", json_string(IDS_DEFAULT_DOMAIN));
        return 0;
    }
    rc = get_rec(s, &K_DOMAIN, d, &rec);
    json_decref(rec);
    if (rc == -ENOENT)
        return msgf(msg, -EINVAL, "Could not find domain: %s.", d);
    return rc;
}

static int prepare(struct id_service *s, enum idj_res res, json_t *fields, const json_t *old,
                   char *msg)
{
    const char *v;
    int rc;

    if (res == IDJ_PROJECT || res == IDJ_USER) {
        if (old) {
            v = st_json_str(fields, "domain_id");
            if (v && strcmp(v, st_json_str(old, "domain_id")) != 0)
                return msgf(msg, -EINVAL, "Cannot change the domain of a %s.", classes[res].title);
            json_object_set(fields, "domain_id", json_object_get(old, "domain_id"));
        } else if ((rc = check_domain_ref(s, fields, msg)) < 0) {
            return rc;
        }
    }
    if (res == IDJ_PROJECT) {
        v = st_json_str(fields, "parent_id");
        if (v && strcmp(v, st_json_str(fields, "domain_id")) != 0)
            return msgf(msg, -EINVAL, "Strata projects are flat: parent_id must be the domain.");
        json_object_del(fields, "parent_id");
        json_object_del(fields, "is_domain");
    }
    if (res == IDJ_USER) {
        json_t *pw = json_object_get(fields, "password");
        v = st_json_str(fields, "default_project_id");
        if (v) {
            json_t *p = NULL;
            rc = get_rec(s, &K_PROJECT, v, &p);
            json_decref(p);
            if (rc == -ENOENT)
                return msgf(msg, -EINVAL, "Could not find project: %s.", v);
            if (rc < 0)
                return rc;
        }
        if (json_is_string(pw)) {
            char hash[PW_HASH_MAX];
            rc = pw_hash(json_string_value(pw), s->rounds, hash);
            if (rc < 0)
                return msgf(msg, rc, "The password cannot be stored.");
            json_object_set_new(fields, "password", json_string(hash));
            OPENSSL_cleanse(hash, sizeof(hash));
        } else if (pw) {
            json_object_del(fields, "password"); /* null: no password (no login) */
            json_object_set_new(fields, "password", json_string(""));
        }
    }
    if (res == IDJ_DOMAIN && old && st_json_str(fields, "name") &&
        strcmp(st_json_str(fields, "name"), st_json_str(old, "name")) != 0 &&
        strcmp(st_json_str(old, "id") ? st_json_str(old, "id") : "", IDS_DEFAULT_DOMAIN) == 0)
        return msgf(msg, -EPERM, "The default domain cannot be renamed.");
    return 0;
}

int ids_res_create(struct id_service *s, enum idj_res res, const json_t *in, json_t **out,
                   char *msg)
{
    char id[33];
    json_t *fields = json_deep_copy(in);
    const char *name, *scope;
    int rc;

    if (!fields)
        return -ENOMEM;
    if ((rc = prepare(s, res, fields, NULL, msg)) < 0)
        goto out;
    new_id(id);
    name = st_json_str(fields, "name");
    scope = name_scope(res, fields);
    json_object_set_new(fields, "created_ms", json_integer(now_ms()));
    if ((rc = claim(s, res, scope, name, id, msg)) < 0)
        goto out;
    rc = st_meta_create(s->meta, classes[res].kind, id, fields, NULL);
    if (rc < 0) {
        st_name_release(s->meta, classes[res].names, scope, name, id);
        goto out;
    }
    st_info("%s %s created (name %s)", classes[res].title, id, name);
    rc = get_rec(s, classes[res].kind, id, out);
out:
    json_decref(fields);
    return rc;
}

int ids_res_get(struct id_service *s, enum idj_res res, const char *id, json_t **rec)
{
    return get_rec(s, classes[res].kind, id, rec);
}

static bool enabled_is(const json_t *rec, void *arg)
{
    return rec_enabled(rec) == (strcmp((const char *)arg, "true") == 0 ||
                                strcmp((const char *)arg, "True") == 0 ||
                                strcmp((const char *)arg, "1") == 0);
}

int ids_res_list(struct id_service *s, enum idj_res res, const struct ids_filter *f,
                 json_t **recs)
{
    struct st_meta_filter mf[2];
    size_t n = 0;

    if (f && f->name)
        mf[n++] = (struct st_meta_filter){"name", f->name};
    if (f && f->domain_id && classes[res].in_domain)
        mf[n++] = (struct st_meta_filter){"domain_id", f->domain_id};
    return list_all(s, classes[res].kind, mf, n, f && f->enabled ? enabled_is : NULL,
                    f ? (void *)f->enabled : NULL, recs);
}

struct edit {
    const json_t *fields;
    json_t *old; /* copy of the record before the edit */
};

static int apply_edit(json_t *data, void *arg)
{
    struct edit *e = arg;
    const char *k;
    json_t *v;

    json_decref(e->old);
    e->old = json_deep_copy(data);
    json_object_foreach((json_t *)e->fields, k, v) {
        if (strcmp(k, "extra") == 0 && json_is_object(json_object_get(data, "extra")))
            json_object_update(json_object_get(data, "extra"), v);
        else
            json_object_set(data, k, v);
    }
    return 0;
}

int ids_res_update(struct id_service *s, enum idj_res res, const char *id, const json_t *in,
                   json_t **out, char *msg)
{
    json_t *cur = NULL, *fields = NULL;
    struct edit e = { NULL, NULL };
    const char *new_name, *scope;
    bool renamed = false;
    int rc;

    if ((rc = get_rec(s, classes[res].kind, id, &cur)) < 0)
        return rc;
    fields = json_deep_copy(in);
    if (!fields) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = prepare(s, res, fields, cur, msg)) < 0)
        goto out;
    scope = name_scope(res, cur);
    new_name = st_json_str(fields, "name");
    if (new_name && strcmp(new_name, st_json_str(cur, "name")) != 0) {
        if ((rc = claim(s, res, scope, new_name, id, msg)) < 0)
            goto out;
        renamed = true;
    }
    e.fields = fields;
    rc = st_meta_modify(s->meta, classes[res].kind, id, apply_edit, &e, NULL);
    if (rc < 0) {
        if (renamed)
            st_name_release(s->meta, classes[res].names, scope, new_name, id);
        goto out;
    }
    if (renamed)
        st_name_release(s->meta, classes[res].names, scope, st_json_str(e.old, "name"), id);

    /* What ends existing tokens. */
    bool disabled = json_is_false(json_object_get(fields, "enabled")) && rec_enabled(e.old);
    if (res == IDJ_USER && (disabled || json_object_get(fields, "password")))
        revoke_event(s, id, NULL, NULL, NULL, disabled ? "user disabled" : "password changed");
    if (res == IDJ_PROJECT && disabled)
        revoke_event(s, NULL, id, NULL, NULL, "project disabled");
    if (res == IDJ_DOMAIN && disabled) {
        struct ids_filter f = {NULL, id, NULL};
        json_t *users = NULL, *u;
        size_t i;
        if (ids_res_list(s, IDJ_USER, &f, &users) == 0) {
            json_array_foreach(users, i, u) {
                revoke_event(s, st_json_str(u, "id"), NULL, NULL, NULL, "domain disabled");
            }
        }
        json_decref(users);
    }
    rc = get_rec(s, classes[res].kind, id, out);
out:
    json_decref(e.old);
    json_decref(fields);
    json_decref(cur);
    return rc;
}

/* Delete every record of kind k whose field equals value (grants, app creds). */
static void delete_where(struct id_service *s, const struct st_meta_kind *k, const char *field,
                         const char *value)
{
    struct st_meta_filter f = {field, value};
    json_t *recs = NULL, *r;
    size_t i;

    if (list_all(s, k, &f, 1, NULL, NULL, &recs) < 0)
        return;
    json_array_foreach(recs, i, r) {
        const char *id = st_json_str(r, "id");
        if (k == &K_APPCRED)
            st_name_release(s->meta, &N_APPCRED, st_json_str(r, "user_id"),
                            st_json_str(r, "name"), id);
        st_meta_delete(s->meta, k, id, 0);
    }
    json_decref(recs);
}

static int delete_domain_contents(struct id_service *s, const char *id, char *msg)
{
    struct ids_filter f = {NULL, id, NULL};
    json_t *list = NULL, *r;
    size_t i;
    int rc;

    for (int res = IDJ_PROJECT; res <= IDJ_USER; res++) {
        if ((rc = ids_res_list(s, (enum idj_res)res, &f, &list)) < 0)
            return rc;
        json_array_foreach(list, i, r) {
            rc = ids_res_delete(s, (enum idj_res)res, st_json_str(r, "id"), msg);
            if (rc < 0 && rc != -ENOENT) {
                json_decref(list);
                return rc;
            }
        }
        json_decref(list);
        list = NULL;
    }
    return 0;
}

int ids_res_delete(struct id_service *s, enum idj_res res, const char *id, char *msg)
{
    json_t *cur = NULL;
    int rc;

    if ((rc = get_rec(s, classes[res].kind, id, &cur)) < 0)
        return rc;
    if (res == IDJ_DOMAIN) {
        if (strcmp(id, IDS_DEFAULT_DOMAIN) == 0) {
            rc = msgf(msg, -EPERM, "The default domain cannot be deleted.");
            goto out;
        }
        if (rec_enabled(cur)) {
            rc = msgf(msg, -EPERM, "Cannot delete a domain that is enabled, please disable it first.");
            goto out;
        }
        if ((rc = delete_domain_contents(s, id, msg)) < 0)
            goto out;
    }
    if (res == IDJ_PROJECT && strcmp(id, s->admin_project) == 0) {
        rc = msgf(msg, -EPERM, "The admin project ([auth] admin_project_id) cannot be deleted.");
        goto out;
    }
    if (res == IDJ_ROLE && st_in_list(builtin_roles, st_json_str(cur, "name"))) {
        rc = msgf(msg, -EPERM, "The role %s is built in: every API's policy uses it.",
                  st_json_str(cur, "name"));
        goto out;
    }
    rc = st_meta_delete(s->meta, classes[res].kind, id, 0);
    if (rc < 0)
        goto out;
    st_name_release(s->meta, classes[res].names, name_scope(res, cur), st_json_str(cur, "name"), id);
    if (res == IDJ_PROJECT) {
        delete_where(s, &K_GRANT, "project_id", id);
        revoke_event(s, NULL, id, NULL, NULL, "project deleted");
    } else if (res == IDJ_USER) {
        delete_where(s, &K_GRANT, "user_id", id);
        delete_where(s, &K_APPCRED, "user_id", id);
        revoke_event(s, id, NULL, NULL, NULL, "user deleted");
    } else if (res == IDJ_ROLE) {
        delete_where(s, &K_GRANT, "role_id", id);
        revoke_event(s, NULL, NULL, st_json_str(cur, "name"), NULL, "role deleted");
    }
    st_info("%s %s deleted", classes[res].title, id);
out:
    json_decref(cur);
    return rc;
}

/* ---- role assignments ---- */

static void grant_id(const char *project, const char *user, const char *role, char *out, size_t n)
{
    snprintf(out, n, "%s.%s.%s", project, user, role);
}

/* The three parts exist: 0, or -ENOENT with Keystone's message. */
static int grant_parts(struct id_service *s, const char *project, const char *user,
                       const char *role, json_t **role_rec, char *msg)
{
    const struct {
        const struct st_meta_kind *k;
        const char *id, *what;
    } parts[] = {{&K_PROJECT, project, "project"}, {&K_USER, user, "user"}, {&K_ROLE, role, "role"}};

    for (size_t i = 0; i < 3; i++) {
        json_t *rec = NULL;
        int rc = get_rec(s, parts[i].k, parts[i].id, &rec);
        if (rc == -ENOENT)
            return msgf(msg, rc, "Could not find %s: %s.", parts[i].what, parts[i].id);
        if (rc < 0)
            return rc;
        if (i == 2 && role_rec)
            *role_rec = rec;
        else
            json_decref(rec);
    }
    return 0;
}

int ids_grant(struct id_service *s, const char *project, const char *user, const char *role,
              char *msg)
{
    char id[3 * ST_ID_MAX + 3];
    json_t *data;
    int rc = grant_parts(s, project, user, role, NULL, msg);

    if (rc < 0)
        return rc;
    grant_id(project, user, role, id, sizeof(id));
    data = json_pack("{s:s, s:s, s:s, s:I}", "project_id", project, "user_id", user, "role_id",
                     role, "created_ms", (json_int_t)now_ms());
    if (!data)
        return -ENOMEM;
    rc = st_meta_create(s->meta, &K_GRANT, id, data, NULL);
    json_decref(data);
    if (rc == 0)
        st_info("role %s granted to user %s on project %s", role, user, project);
    return rc == -EEXIST ? 0 : rc;
}

int ids_ungrant(struct id_service *s, const char *project, const char *user, const char *role,
                char *msg)
{
    char id[3 * ST_ID_MAX + 3];
    json_t *role_rec = NULL;
    int rc = grant_parts(s, project, user, role, &role_rec, msg);

    if (rc < 0)
        return rc;
    grant_id(project, user, role, id, sizeof(id));
    rc = st_meta_delete(s->meta, &K_GRANT, id, 0);
    if (rc == -ENOENT)
        msgf(msg, rc, "Could not find role assignment with role: %s, user or group: %s, project, "
                      "domain, or system: %s.", role, user, project);
    if (rc == 0) {
        char why[128];
        snprintf(why, sizeof(why), "role %s taken from user %s on project %s", role, user, project);
        /* Tokens carry role names: end the user's tokens on that project that
         * hold the role. */
        revoke_event(s, user, project, st_json_str(role_rec, "name"), NULL, why);
    }
    json_decref(role_rec);
    return rc;
}

int ids_grant_check(struct id_service *s, const char *project, const char *user,
                    const char *role, char *msg)
{
    char id[3 * ST_ID_MAX + 3];
    struct st_record r = { 0 };
    int rc = grant_parts(s, project, user, role, NULL, msg);

    if (rc < 0)
        return rc;
    grant_id(project, user, role, id, sizeof(id));
    rc = st_meta_get(s->meta, &K_GRANT, id, &r);
    st_record_cleanup(&r);
    if (rc == -ENOENT)
        msgf(msg, rc, "Could not find role assignment with role: %s, user or group: %s, project, "
                      "domain, or system: %s.", role, user, project);
    return rc;
}

int ids_grants(struct id_service *s, const char *user, const char *project, const char *role,
               json_t **rows)
{
    struct st_meta_filter f[3];
    size_t n = 0;

    if (user)
        f[n++] = (struct st_meta_filter){"user_id", user};
    if (project)
        f[n++] = (struct st_meta_filter){"project_id", project};
    if (role)
        f[n++] = (struct st_meta_filter){"role_id", role};
    return list_all(s, &K_GRANT, f, n, NULL, NULL, rows);
}

int ids_user_roles(struct id_service *s, const char *user, const char *project, json_t **roles)
{
    json_t *rows = NULL, *row, *out = json_array();
    size_t i;
    int rc;

    if (!out)
        return -ENOMEM;
    rc = ids_grants(s, user, project, NULL, &rows);
    if (rc < 0) {
        json_decref(out);
        return rc;
    }
    json_array_foreach(rows, i, row) {
        json_t *role = NULL;
        if (get_rec(s, &K_ROLE, st_json_str(row, "role_id"), &role) == 0)
            json_array_append_new(out, role);
    }
    json_decref(rows);
    *roles = out;
    return 0;
}

/* The user's roles on the project with the roles they imply (admin >
 * member > reader), as records, each once. */
static int effective_roles(struct id_service *s, const char *user, const char *project,
                           json_t **out)
{
    static const char *const implied[][3] = {{"admin", "member", "reader"}, {"member", "reader", NULL}};
    json_t *roles = NULL, *r;
    size_t i;
    int rc = ids_user_roles(s, user, project, &roles);

    if (rc < 0)
        return rc;
    json_array_foreach(roles, i, r) {
        const char *n = st_json_str(r, "name");
        for (size_t k = 0; k < 2; k++) {
            if (!n || strcmp(n, implied[k][0]) != 0)
                continue;
            for (size_t m = 1; m < 3 && implied[k][m]; m++) {
                bool have = false;
                json_t *x;
                size_t j;
                json_array_foreach(roles, j, x) {
                    have = have || strcmp(st_json_str(x, "name"), implied[k][m]) == 0;
                }
                char rid[ST_META_ID_MAX + 1];
                json_t *rec = NULL;
                if (!have && lookup_name(s, IDJ_ROLE, "", implied[k][m], rid) == 0 &&
                    get_rec(s, &K_ROLE, rid, &rec) == 0)
                    json_array_append_new(roles, rec);
            }
        }
    }
    *out = roles;
    return 0;
}

int ids_user_projects(struct id_service *s, const char *user, json_t **projects)
{
    json_t *rows = NULL, *row, *out = json_object(), *list = json_array(), *p;
    const char *k;
    size_t i;
    int rc;

    if (!out || !list) {
        json_decref(out);
        json_decref(list);
        return -ENOMEM;
    }
    rc = ids_grants(s, user, NULL, NULL, &rows);
    json_array_foreach(rows, i, row) {
        const char *pid = st_json_str(row, "project_id");
        if (!json_object_get(out, pid) && get_rec(s, &K_PROJECT, pid, &p) == 0) {
            if (rec_enabled(p))
                json_object_set_new(out, pid, p);
            else
                json_decref(p);
        }
    }
    json_object_foreach(out, k, p) {
        json_array_append(list, p);
    }
    json_decref(out);
    json_decref(rows);
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    *projects = list;
    return 0;
}

/* ---- authentication ---- */

static const char *const AUTH_FAILED = "The request you have made requires authentication.";

static int resolve_domain(struct id_service *s, const char *id, const char *name,
                          char out[ST_META_ID_MAX + 1])
{
    if (id) {
        snprintf(out, ST_META_ID_MAX + 1, "%s", id);
        return 0;
    }
    return lookup_name(s, IDJ_DOMAIN, "", name, out);
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
            lookup_name(s, IDJ_USER, dom, u->name, id) < 0)
            return -EACCES;
    }
    rc = get_rec(s, &K_USER, id, rec);
    if (rc == -ENOENT)
        return -EACCES;
    if (rc < 0)
        return rc;
    rc = get_rec(s, &K_DOMAIN, st_json_str(*rec, "domain_id"), &d);
    if (rc == 0 && (!rec_enabled(*rec) || !rec_enabled(d)))
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
               lookup_name(s, IDJ_PROJECT, dom, a->project_name, pid) < 0) {
        return msgf(msg, -EACCES, "Could not find project: %s.", a->project_name);
    }
    rc = get_rec(s, &K_PROJECT, pid, &p);
    if (rc == 0)
        rc = get_rec(s, &K_DOMAIN, st_json_str(p, "domain_id"), &d);
    if (rc == 0 && (!rec_enabled(p) || !rec_enabled(d)))
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
    rc = get_rec(s, &K_APPCRED, id, rec);
    return rc == -ENOENT ? -EACCES : rc;
}

int ids_authenticate(struct id_service *s, const struct idj_auth *a,
                     const struct st_auth_ctx *subject, char **token, struct st_auth_ctx *ctx,
                     char *msg)
{
    char project[ST_META_ID_MAX + 1] = "";
    struct st_auth_ctx c;
    json_t *user = NULL, *ac = NULL, *roles = NULL;
    int64_t now = now_ms(), expires = now + s->ttl_ms;
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
        rc = effective_roles(s, c.user_id, project, &roles);
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
    if ((rc = get_rec(s, &K_USER, ctx->user_id, &user)) < 0)
        goto out;
    t.user = user;
    t.user_domain_id = st_json_str(user, "domain_id");
    get_rec(s, &K_DOMAIN, t.user_domain_id, &udom);
    t.user_domain = udom;
    if (ctx->project_id[0]) {
        if ((rc = get_rec(s, &K_PROJECT, ctx->project_id, &proj)) < 0)
            goto out;
        t.project_id = ctx->project_id;
        t.project = proj;
        t.project_domain_id = st_json_str(proj, "domain_id");
        get_rec(s, &K_DOMAIN, t.project_domain_id, &pdom);
        t.project_domain = pdom;
        for (int i = 0; i < ctx->nroles; i++) {
            char rid[ST_META_ID_MAX + 1];
            if (lookup_name(s, IDJ_ROLE, "", ctx->roles[i], rid) < 0)
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
    if ((rc = effective_roles(s, user, who->project_id, &held)) < 0)
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
    new_id(id);
    data = json_pack("{s:s, s:s, s:s, s:s, s:O, s:I, s:b, s:b, s:I}", "user_id", user,
                     "project_id", who->project_id, "name", req->name, "secret", hash, "roles",
                     roles, "expires_ms", (json_int_t)req->expires_ms, "unrestricted",
                     req->unrestricted, "all_roles", 0, "created_ms", (json_int_t)now_ms());
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
                           now_ms());
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
    if ((rc = get_rec(s, &K_APPCRED, id, rec)) < 0)
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
    int rc = get_rec(s, &K_APPCRED, id, rec);

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

    return list_all(s, &K_APPCRED, f, name ? 2 : 1, NULL, NULL, recs);
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
        revoke_event(s, NULL, NULL, NULL, id, "application credential deleted");
    }
    json_decref(rec);
    return rc;
}

/* ---- bootstrap and life cycle ---- */

/* A record with a fixed id and a claimed name, created if missing. */
static int ensure_fixed(struct id_service *s, enum idj_res res, const char *id, json_t *data)
{
    const char *name = st_json_str(data, "name");
    const char *scope = name_scope(res, data);
    json_t *cur = NULL;
    int rc = get_rec(s, classes[res].kind, id, &cur);

    json_decref(cur);
    if (rc != -ENOENT)
        return rc;
    json_object_set_new(data, "created_ms", json_integer(now_ms()));
    if ((rc = claim(s, res, scope, name, id, NULL)) < 0) {
        st_error("bootstrap: the %s name %s is taken by another %s", classes[res].title, name,
                 classes[res].title);
        return rc;
    }
    rc = st_meta_create(s->meta, classes[res].kind, id, data, NULL);
    if (rc == -EEXIST)
        rc = 0;
    if (rc == 0)
        st_info("bootstrap: %s %s (%s) ready", classes[res].title, name, id);
    return rc;
}

/* The id of a record named `name` (created with `data` if none is). */
static int ensure_named(struct id_service *s, enum idj_res res, const char *scope, json_t *data,
                        char id[ST_META_ID_MAX + 1])
{
    json_t *rec = NULL;
    int rc = lookup_name(s, res, scope, st_json_str(data, "name"), id);

    if (rc == 0) {
        rc = get_rec(s, classes[res].kind, id, &rec);
        json_decref(rec);
        if (rc != -ENOENT)
            return rc;
    }
    rc = ids_res_create(s, res, data, &rec, NULL);
    if (rc == -EEXIST) /* another instance won the race */
        return lookup_name(s, res, scope, st_json_str(data, "name"), id);
    if (rc == 0)
        snprintf(id, ST_META_ID_MAX + 1, "%s", st_json_str(rec, "id"));
    json_decref(rec);
    return rc;
}

static int bootstrap(struct id_service *s, const struct st_config *cfg)
{
    char admin_role[ST_META_ID_MAX + 1] = "", rid[ST_META_ID_MAX + 1], uid[ST_META_ID_MAX + 1];
    const char *pw = st_config_str(cfg, "identity", "bootstrap_password");
    const char *uname = st_config_str(cfg, "identity", "bootstrap_user");
    json_t *d;
    int rc;

    d = json_pack("{s:s, s:s, s:b}", "name", "Default", "description", "The default domain",
                  "enabled", 1);
    rc = d ? ensure_fixed(s, IDJ_DOMAIN, IDS_DEFAULT_DOMAIN, d) : -ENOMEM;
    json_decref(d);
    for (int i = 0; rc == 0 && builtin_roles[i]; i++) {
        d = json_pack("{s:s}", "name", builtin_roles[i]);
        rc = d ? ensure_named(s, IDJ_ROLE, "", d, rid) : -ENOMEM;
        json_decref(d);
        if (rc == 0 && i == 0)
            snprintf(admin_role, sizeof(admin_role), "%s", rid);
    }
    if (rc < 0)
        return rc;
    d = json_pack("{s:s, s:s, s:s, s:b}", "name", st_config_str(cfg, "identity", "bootstrap_project"),
                  "domain_id", IDS_DEFAULT_DOMAIN, "description", "Bootstrap project for managing the cloud",
                  "enabled", 1);
    rc = d ? ensure_fixed(s, IDJ_PROJECT, s->admin_project, d) : -ENOMEM;
    json_decref(d);
    if (rc < 0 || !pw || !pw[0])
        return rc;
    if (lookup_name(s, IDJ_USER, IDS_DEFAULT_DOMAIN, uname, uid) == 0) {
        json_t *u = NULL;
        int grc = get_rec(s, &K_USER, uid, &u);
        json_decref(u);
        if (grc == 0)
            return ids_grant(s, s->admin_project, uid, admin_role, NULL);
    }
    d = json_pack("{s:s, s:s, s:s, s:b, s:s}", "name", uname, "domain_id", IDS_DEFAULT_DOMAIN,
                  "password", pw, "enabled", 1, "default_project_id", s->admin_project);
    rc = d ? ensure_named(s, IDJ_USER, IDS_DEFAULT_DOMAIN, d, uid) : -ENOMEM;
    if (d) {
        json_t *p = json_object_get(d, "password");
        if (p)
            OPENSSL_cleanse((char *)json_string_value(p), json_string_length(p));
        json_decref(d);
    }
    if (rc == 0)
        rc = ids_grant(s, s->admin_project, uid, admin_role, NULL);
    return rc;
}

static char *dup_opt(const struct st_config *cfg, const char *key)
{
    const char *v = st_config_str(cfg, "identity", key);
    size_t n = v ? strlen(v) : 0;

    while (n && v[n - 1] == '/')
        n--; /* no trailing slash: links append "/v3/..." */
    return strndup(v ? v : "", n);
}

int ids_create(struct st_daemon *d, struct id_service **out)
{
    const struct st_config *cfg = st_daemon_config(d);
    const char *key = st_config_str(cfg, "auth", "token_key");
    const char *admin_project = st_config_str(cfg, "auth", "admin_project_id");
    struct id_service *s;
    int rc;

    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->meta = st_daemon_meta(d);
    s->io = NULL;
    s->auth = st_daemon_auth(d);
    s->ttl_ms = st_config_duration_ms(cfg, "auth", "token_ttl");
    s->notify_ms = st_config_duration_ms(cfg, "identity", "notify_timeout");
    s->rounds = (unsigned)st_config_int(cfg, "identity", "password_hash_rounds");
    if (!id_ok(admin_project)) {
        st_error("[auth] admin_project_id = %s: an identity project id is 1..64 of "
                 "[A-Za-z0-9_-]", admin_project);
        free(s);
        return -EINVAL;
    }
    snprintf(s->admin_project, sizeof(s->admin_project), "%s", admin_project);
    s->base = dup_opt(cfg, "public_url");
    s->region = dup_opt(cfg, "region");
    s->compute_url = dup_opt(cfg, "compute_url");
    s->volume_url = dup_opt(cfg, "volume_url");
    s->image_url = dup_opt(cfg, "image_url");
    if (!s->base || !s->region || !s->compute_url || !s->volume_url || !s->image_url) {
        rc = -ENOMEM;
        goto fail;
    }
    s->cat = (struct id_catalog){s->region, s->base, s->compute_url, s->volume_url, s->image_url,
                                 s->base};
    rc = st_auth_create((const unsigned char *)key, strlen(key), NULL, NULL, &s->signer);
    if (rc < 0)
        goto fail;
    s->io = st_daemon_meta_ioctx(d);
    if ((rc = bootstrap(s, cfg)) < 0) {
        st_error("identity bootstrap failed: %s", strerror(-rc));
        goto fail;
    }
    *out = s;
    return 0;
fail:
    ids_destroy(s);
    return rc;
}

void ids_destroy(struct id_service *s)
{
    if (!s)
        return;
    st_auth_destroy(s->signer);
    free(s->base);
    free(s->region);
    free(s->compute_url);
    free(s->volume_url);
    free(s->image_url);
    free(s);
}

const char *ids_base(const struct id_service *s) { return s->base; }
const struct id_catalog *ids_catalog(const struct id_service *s) { return &s->cat; }
