/* id_service.c — identity records, resources and bootstrap (role assignments
 * are in id_grants.c, authentication and application credentials in id_auth.c).  A resource's unique
 * name is claimed (strata/nameidx.h) before its record is written and released
 * after it is deleted, so two racing creates of one name cannot both win.
 * Every change that must end existing tokens (a token revoked, a user deleted
 * or disabled or given a new password, a role taken away, a project or role or
 * application credential deleted) writes a revocation event that every daemon
 * mirrors.  Passwords and secrets are stored only as slow hashes. */
#include "id_internal.h"

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

const struct st_meta_kind K_DOMAIN = {"id_domain", NULL};
const struct st_meta_kind K_PROJECT = {"id_project", NULL};
const struct st_meta_kind K_USER = {"id_user", NULL};
const struct st_meta_kind K_ROLE = {"id_role", NULL};
const struct st_meta_kind K_GRANT = {"id_grant", NULL};
const struct st_meta_kind K_APPCRED = {"id_appcred", NULL};
static const struct st_meta_kind N_DOMAIN = {"id_domain_name", NULL};
static const struct st_meta_kind N_PROJECT = {"id_project_name", NULL};
static const struct st_meta_kind N_USER = {"id_user_name", NULL};
static const struct st_meta_kind N_ROLE = {"id_role_name", NULL};
const struct st_meta_kind N_APPCRED = {"id_appcred_name", NULL};

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

const char *const builtin_roles[] = {"admin", "member", "reader", NULL};


int64_t idi_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void idi_new_id(char out[33])
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


/* ---- revocation ---- */

void idi_revoke_event(struct id_service *s, const char *user, const char *project,
                         const char *role, const char *app_cred, const char *why)
{
    struct st_revoke_event ev;
    int64_t now = idi_now_ms();
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
    int64_t now = idi_now_ms();

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

int idi_get_rec(struct id_service *s, const struct st_meta_kind *k, const char *id,
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
int idi_list_all(struct id_service *s, const struct st_meta_kind *k,
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
                           &a, idi_now_ms());

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

int idi_lookup_name(struct id_service *s, enum idj_res res, const char *scope,
                       const char *name, char id[ST_META_ID_MAX + 1])
{
    return st_name_lookup(s->meta, classes[res].names, scope, name, id, ST_META_ID_MAX + 1);
}

bool idi_rec_enabled(const json_t *rec)
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
    rc = idi_get_rec(s, &K_DOMAIN, d, &rec);
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
            rc = idi_get_rec(s, &K_PROJECT, v, &p);
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
    idi_new_id(id);
    name = st_json_str(fields, "name");
    scope = name_scope(res, fields);
    json_object_set_new(fields, "created_ms", json_integer(idi_now_ms()));
    if ((rc = claim(s, res, scope, name, id, msg)) < 0)
        goto out;
    rc = st_meta_create(s->meta, classes[res].kind, id, fields, NULL);
    if (rc < 0) {
        st_name_release(s->meta, classes[res].names, scope, name, id);
        goto out;
    }
    st_info("%s %s created (name %s)", classes[res].title, id, name);
    rc = idi_get_rec(s, classes[res].kind, id, out);
out:
    json_decref(fields);
    return rc;
}

int ids_res_get(struct id_service *s, enum idj_res res, const char *id, json_t **rec)
{
    return idi_get_rec(s, classes[res].kind, id, rec);
}

static bool enabled_is(const json_t *rec, void *arg)
{
    return idi_rec_enabled(rec) == (strcmp((const char *)arg, "true") == 0 ||
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
    return idi_list_all(s, classes[res].kind, mf, n, f && f->enabled ? enabled_is : NULL,
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

    if ((rc = idi_get_rec(s, classes[res].kind, id, &cur)) < 0)
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
    bool disabled = json_is_false(json_object_get(fields, "enabled")) && idi_rec_enabled(e.old);
    if (res == IDJ_USER && (disabled || json_object_get(fields, "password")))
        idi_revoke_event(s, id, NULL, NULL, NULL, disabled ? "user disabled" : "password changed");
    if (res == IDJ_PROJECT && disabled)
        idi_revoke_event(s, NULL, id, NULL, NULL, "project disabled");
    if (res == IDJ_DOMAIN && disabled) {
        struct ids_filter f = {NULL, id, NULL};
        json_t *users = NULL, *u;
        size_t i;
        if (ids_res_list(s, IDJ_USER, &f, &users) == 0) {
            json_array_foreach(users, i, u) {
                idi_revoke_event(s, st_json_str(u, "id"), NULL, NULL, NULL, "domain disabled");
            }
        }
        json_decref(users);
    }
    rc = idi_get_rec(s, classes[res].kind, id, out);
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

    if (idi_list_all(s, k, &f, 1, NULL, NULL, &recs) < 0)
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

    if ((rc = idi_get_rec(s, classes[res].kind, id, &cur)) < 0)
        return rc;
    if (res == IDJ_DOMAIN) {
        if (strcmp(id, IDS_DEFAULT_DOMAIN) == 0) {
            rc = msgf(msg, -EPERM, "The default domain cannot be deleted.");
            goto out;
        }
        if (idi_rec_enabled(cur)) {
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
        idi_revoke_event(s, NULL, id, NULL, NULL, "project deleted");
    } else if (res == IDJ_USER) {
        delete_where(s, &K_GRANT, "user_id", id);
        delete_where(s, &K_APPCRED, "user_id", id);
        idi_revoke_event(s, id, NULL, NULL, NULL, "user deleted");
    } else if (res == IDJ_ROLE) {
        delete_where(s, &K_GRANT, "role_id", id);
        idi_revoke_event(s, NULL, NULL, st_json_str(cur, "name"), NULL, "role deleted");
    }
    st_info("%s %s deleted", classes[res].title, id);
out:
    json_decref(cur);
    return rc;
}

/* ---- bootstrap and life cycle ---- */

/* A record with a fixed id and a claimed name, created if missing. */
static int ensure_fixed(struct id_service *s, enum idj_res res, const char *id, json_t *data)
{
    const char *name = st_json_str(data, "name");
    const char *scope = name_scope(res, data);
    json_t *cur = NULL;
    int rc = idi_get_rec(s, classes[res].kind, id, &cur);

    json_decref(cur);
    if (rc != -ENOENT)
        return rc;
    json_object_set_new(data, "created_ms", json_integer(idi_now_ms()));
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
    int rc = idi_lookup_name(s, res, scope, st_json_str(data, "name"), id);

    if (rc == 0) {
        rc = idi_get_rec(s, classes[res].kind, id, &rec);
        json_decref(rec);
        if (rc != -ENOENT)
            return rc;
    }
    rc = ids_res_create(s, res, data, &rec, NULL);
    if (rc == -EEXIST) /* another instance won the race */
        return idi_lookup_name(s, res, scope, st_json_str(data, "name"), id);
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
    if (idi_lookup_name(s, IDJ_USER, IDS_DEFAULT_DOMAIN, uname, uid) == 0) {
        json_t *u = NULL;
        int grc = idi_get_rec(s, &K_USER, uid, &u);
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
