/* id_json.c — Keystone v3 shapes.  Each resource is a row of `resources`: its
 * names and a table of fields {name, type, required, max length, default in
 * views}; decoding and views walk the same table, so a new attribute is one
 * line.  Unknown attributes are kept under "extra" and shown back, as
 * Keystone does; the password is a field that is never shown. */
#include "id_json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "strata/strutil.h"

enum ftype { F_STR, F_STR_NULL, F_BOOL, F_TAGS, F_SECRET, F_FIXED_NULL, F_FIXED_FALSE };

struct field {
    const char *name;
    enum ftype type;
    bool required;    /* on create */
    size_t max;       /* characters, for strings */
    const char *def;  /* view default: NULL = omitted when unset; "" = JSON null;
                       * "true"/"false" booleans; "[]" empty list */
};

static const struct field domain_fields[] = {
    {"name", F_STR, true, 64, NULL},
    {"description", F_STR_NULL, false, 65535, ""},
    {"enabled", F_BOOL, false, 0, "true"},
    {"tags", F_TAGS, false, 0, "[]"},
    {NULL, 0, false, 0, NULL},
};

static const struct field project_fields[] = {
    {"name", F_STR, true, 64, NULL},
    {"domain_id", F_STR, false, 64, NULL},
    {"description", F_STR_NULL, false, 65535, ""},
    {"enabled", F_BOOL, false, 0, "true"},
    {"tags", F_TAGS, false, 0, "[]"},
    {"parent_id", F_STR_NULL, false, 64, NULL},  /* checked by the service: flat projects */
    {"is_domain", F_FIXED_FALSE, false, 0, "false"},
    {NULL, 0, false, 0, NULL},
};

static const struct field user_fields[] = {
    {"name", F_STR, true, 255, NULL},
    {"domain_id", F_STR, false, 64, NULL},
    {"password", F_SECRET, false, 4096, NULL},
    {"enabled", F_BOOL, false, 0, "true"},
    {"default_project_id", F_STR_NULL, false, 64, NULL},
    {"description", F_STR_NULL, false, 65535, NULL},
    {"email", F_STR_NULL, false, 255, NULL},
    {NULL, 0, false, 0, NULL},
};

static const struct field role_fields[] = {
    {"name", F_STR, true, 255, NULL},
    {"description", F_STR_NULL, false, 255, ""},
    {"domain_id", F_FIXED_NULL, false, 0, ""},
    {NULL, 0, false, 0, NULL},
};

static const struct {
    const char *name, *plural;
    const struct field *fields;
} resources[IDJ_NRES] = {
    [IDJ_DOMAIN] = {"domain", "domains", domain_fields},
    [IDJ_PROJECT] = {"project", "projects", project_fields},
    [IDJ_USER] = {"user", "users", user_fields},
    [IDJ_ROLE] = {"role", "roles", role_fields},
};

const char *idj_res_name(enum idj_res res) { return resources[res].name; }
const char *idj_res_plural(enum idj_res res) { return resources[res].plural; }

static const struct field *field_find(const struct field *t, const char *name)
{
    for (; t->name; t++)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

#define bad(msg, ...) st_msgf((msg), IDJ_MSG_MAX, -EINVAL, __VA_ARGS__)

static int check_value(const char *what, const struct field *f, const json_t *v, char *msg)
{
    switch (f->type) {
    case F_STR:
    case F_SECRET:
        if (!json_is_string(v))
            return bad(msg, "Invalid input for field '%s.%s': expected a string.", what, f->name);
        break;
    case F_STR_NULL:
        if (!json_is_string(v) && !json_is_null(v))
            return bad(msg, "Invalid input for field '%s.%s': expected a string or null.", what,
                       f->name);
        break;
    case F_BOOL:
        if (!json_is_boolean(v))
            return bad(msg, "Invalid input for field '%s.%s': expected a boolean.", what, f->name);
        return 0;
    case F_TAGS: {
        size_t i;
        json_t *t;
        if (!json_is_array(v) || json_array_size(v) > 80)
            return bad(msg, "Invalid input for field '%s.%s': expected a list of at most 80 tags.",
                       what, f->name);
        json_array_foreach(v, i, t) {
            if (!json_is_string(t) || json_string_length(t) == 0 || st_utf8_len(json_string_value(t)) > 255 ||
                strchr(json_string_value(t), ',') || strchr(json_string_value(t), '/'))
                return bad(msg, "Invalid input for field '%s.%s': tags are 1..255 characters "
                                "without ',' or '/'.", what, f->name);
        }
        return 0;
    }
    case F_FIXED_NULL:
        if (!json_is_null(v))
            return bad(msg, "Invalid input for field '%s.%s': Strata supports only global "
                            "roles and flat projects (null).", what, f->name);
        return 0;
    case F_FIXED_FALSE:
        if (!json_is_false(v))
            return bad(msg, "Invalid input for field '%s.%s': projects acting as domains are "
                            "not supported (false).", what, f->name);
        return 0;
    }
    if (json_is_string(v) && st_utf8_len(json_string_value(v)) > f->max)
        return bad(msg, "Invalid input for field '%s.%s': too long.", what, f->name);
    if (f->type == F_STR && json_string_length(v) == 0)
        return bad(msg, "Invalid input for field '%s.%s': must not be empty.", what, f->name);
    return 0;
}

int idj_resource_decode(enum idj_res res, const json_t *body, bool creating, json_t **out,
                        char *msg)
{
    const char *what = resources[res].name;
    const struct field *t = resources[res].fields;
    json_t *in = json_object_get(body, what), *o, *extra, *v;
    const char *k;
    int rc = 0;

    if (!json_is_object(in))
        return bad(msg, "Expecting to find %s in request body%s.", what, "");
    o = json_object();
    extra = json_object();
    if (!o || !extra) {
        json_decref(o);
        json_decref(extra);
        return -ENOMEM;
    }
    json_object_foreach(in, k, v) {
        const struct field *f = field_find(t, k);
        if (!f) {
            if (strcmp(k, "id") != 0 && strcmp(k, "links") != 0 && strcmp(k, "options") != 0)
                json_object_set(extra, k, v);
            continue;
        }
        if ((rc = check_value(what, f, v, msg)) < 0)
            goto fail;
        json_object_set(o, k, v);
    }
    for (; creating && t->name; t++) {
        if (t->required && !json_object_get(o, t->name)) {
            rc = bad(msg, "Invalid input for field '%s': '%s' is a required property.", what,
                     t->name);
            goto fail;
        }
    }
    if (json_object_size(extra))
        json_object_set(o, "extra", extra);
    json_decref(extra);
    *out = o;
    return 0;
fail:
    json_decref(o);
    json_decref(extra);
    return rc;
}

static json_t *view_default(const char *def)
{
    if (!def[0])
        return json_null();
    if (strcmp(def, "true") == 0)
        return json_true();
    if (strcmp(def, "false") == 0)
        return json_false();
    return json_array();
}

json_t *idj_resource_view(enum idj_res res, const char *base, const char *id, const json_t *rec)
{
    char self[512];
    json_t *v = json_object(), *x;
    const char *k;

    if (!v)
        return NULL;
    x = json_object_get(rec, "extra");
    if (json_is_object(x))
        json_object_update(v, x);
    snprintf(self, sizeof(self), "%s/v3/%s/%s", base, resources[res].plural, id);
    json_object_set_new(v, "id", json_string(id));
    for (const struct field *f = resources[res].fields; f->name; f++) {
        json_t *val = json_object_get(rec, f->name);
        if (f->type == F_SECRET)
            continue;
        if (val)
            json_object_set(v, f->name, val);
        else if (f->def)
            json_object_set_new(v, f->name, view_default(f->def));
    }
    if (res == IDJ_PROJECT) /* flat projects: the parent is the domain */
        json_object_set(v, "parent_id", json_object_get(v, "domain_id"));
    if (res == IDJ_USER)
        json_object_set_new(v, "password_expires_at", json_null());
    json_object_set_new(v, "options", json_object());
    json_object_set_new(v, "links", json_pack("{s:s}", "self", self));
    (void)k;
    return v;
}

/* ---- auth requests ---- */

static const char *str_at(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static int user_ref(const json_t *u, struct idj_user_ref *out, char *msg)
{
    const json_t *d;

    if (!json_is_object(u))
        return bad(msg, "Expecting to find %s in %s.", "user", "the identity");
    out->id = str_at(u, "id");
    out->name = str_at(u, "name");
    d = json_object_get(u, "domain");
    if (d && !json_is_object(d))
        return bad(msg, "Invalid input for field '%s': expected an object%s.", "user.domain", "");
    out->domain_id = str_at(d, "id");
    out->domain_name = str_at(d, "name");
    if (!out->id && !out->name)
        return bad(msg, "Expecting to find %s or %s of the user.", "id", "name");
    if (!out->id && !out->domain_id && !out->domain_name)
        return bad(msg, "Expecting to find %s of the %s (by id or name).", "domain", "user");
    return 0;
}

int idj_auth_decode(const json_t *body, struct idj_auth *out, char *msg)
{
    const json_t *auth = json_object_get(body, "auth"), *ident, *methods, *m, *scope;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    ident = json_object_get(auth, "identity");
    if (!json_is_object(auth) || !json_is_object(ident))
        return bad(msg, "Expecting to find %s in %s.", "identity", "auth");
    methods = json_object_get(ident, "methods");
    if (!json_is_array(methods) || json_array_size(methods) == 0)
        return bad(msg, "Expecting to find %s in %s.", "methods", "identity");
    json_array_foreach(methods, i, m) {
        const char *name = json_string_value(m);
        if (!name)
            return bad(msg, "Invalid input for field '%s': %s.", "identity.methods", "expected strings");
        if (strcmp(name, "password") == 0)
            out->methods |= ST_AUTH_M_PASSWORD;
        else if (strcmp(name, "token") == 0)
            out->methods |= ST_AUTH_M_TOKEN;
        else if (strcmp(name, "application_credential") == 0)
            out->methods |= ST_AUTH_M_APPCRED;
        else {
            snprintf(msg, IDJ_MSG_MAX, "Attempted to authenticate with an unsupported method (%s).",
                     name);
            return -EOPNOTSUPP;
        }
    }
    if (__builtin_popcount(out->methods) != 1) {
        snprintf(msg, IDJ_MSG_MAX, "Exactly one of the methods password, token and "
                                   "application_credential is supported.");
        return -EOPNOTSUPP;
    }
    if (out->methods & ST_AUTH_M_PASSWORD) {
        const json_t *pw = json_object_get(ident, "password");
        if (!json_is_object(pw))
            return bad(msg, "Expecting to find %s in %s.", "password", "identity");
        if ((rc = user_ref(json_object_get(pw, "user"), &out->user, msg)) < 0)
            return rc;
        out->password = str_at(json_object_get(pw, "user"), "password");
        if (!out->password)
            return bad(msg, "Expecting to find %s in %s.", "password", "user");
    } else if (out->methods & ST_AUTH_M_TOKEN) {
        out->token = str_at(json_object_get(ident, "token"), "id");
        if (!out->token)
            return bad(msg, "Expecting to find %s in %s.", "id", "token");
    } else {
        const json_t *ac = json_object_get(ident, "application_credential");
        if (!json_is_object(ac))
            return bad(msg, "Expecting to find %s in %s.", "application_credential", "identity");
        out->ac_id = str_at(ac, "id");
        out->ac_name = str_at(ac, "name");
        out->ac_secret = str_at(ac, "secret");
        if (!out->ac_secret || (!out->ac_id && !out->ac_name))
            return bad(msg, "Expecting to find %s in %s.", "id or name and secret",
                       "application_credential");
        if (!out->ac_id && (rc = user_ref(json_object_get(ac, "user"), &out->user, msg)) < 0)
            return rc;
    }

    scope = json_object_get(auth, "scope");
    if (!scope) {
        out->scope = IDJ_SCOPE_DEFAULT;
    } else if (json_is_string(scope) && strcmp(json_string_value(scope), "unscoped") == 0) {
        out->scope = IDJ_SCOPE_UNSCOPED;
    } else if (json_is_object(scope) && json_object_get(scope, "project")) {
        const json_t *p = json_object_get(scope, "project"), *d;
        if (!json_is_object(p))
            return bad(msg, "Invalid input for field '%s': expected an object%s.", "scope.project", "");
        out->scope = IDJ_SCOPE_PROJECT;
        out->project_id = str_at(p, "id");
        out->project_name = str_at(p, "name");
        d = json_object_get(p, "domain");
        out->project_domain_id = str_at(d, "id");
        out->project_domain_name = str_at(d, "name");
        if (!out->project_id && !out->project_name)
            return bad(msg, "Expecting to find %s or %s of the project.", "id", "name");
        if (!out->project_id && !out->project_domain_id && !out->project_domain_name)
            return bad(msg, "Expecting to find %s of the %s (by id or name).", "domain", "project");
    } else if (json_is_object(scope) &&
               (json_object_get(scope, "domain") || json_object_get(scope, "system") ||
                json_object_get(scope, "OS-TRUST:trust"))) {
        snprintf(msg, IDJ_MSG_MAX, "Strata issues project-scoped and unscoped tokens only "
                                   "(domain, system and trust scopes are not supported).");
        return -EOPNOTSUPP;
    } else {
        return bad(msg, "Invalid input for field '%s'%s.", "auth.scope", "");
    }
    return 0;
}

/* ---- views ---- */

void idj_time(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char s[32];

    gmtime_r(&t, &tm);
    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06dZ", s, (int)(ms % 1000) * 1000);
}

int idj_time_parse(const char *s, int64_t *ms)
{
    struct tm tm;
    const char *p;
    int frac_ms = 0;

    memset(&tm, 0, sizeof(tm));
    if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
        return -EINVAL;
    if (*p == '.') {
        int digits = 0, v = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits < 3)
                v = v * 10 + (*p - '0');
        }
        if (!digits)
            return -EINVAL;
        for (; digits < 3; digits++)
            v *= 10;
        frac_ms = v;
    }
    if (*p == 'Z' || strcmp(p, "+00:00") == 0)
        p += *p == 'Z' ? 1 : 6;
    if (*p)
        return -EINVAL;
    *ms = (int64_t)timegm(&tm) * 1000 + frac_ms;
    return 0;
}

json_t *idj_list_links(const char *base, const char *path)
{
    char self[512];

    snprintf(self, sizeof(self), "%s%s", base, path);
    return json_pack("{s:s, s:n, s:n}", "self", self, "previous", "next");
}

json_t *idj_version_v3(const char *base)
{
    char self[512];

    snprintf(self, sizeof(self), "%s/v3/", base);
    return json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}", "id", "v3.14", "status",
                     "stable", "updated", "2020-04-07T00:00:00Z", "links", "rel", "self", "href",
                     self, "media-types", "base", "application/json", "type",
                     "application/vnd.openstack.identity-v3+json");
}

static json_t *ref(const char *id, const json_t *rec)
{
    const char *name = str_at(rec, "name");
    return name ? json_pack("{s:s, s:s}", "id", id, "name", name) : json_pack("{s:s}", "id", id);
}

json_t *idj_token_body(const struct idj_token_info *t)
{
    const struct st_auth_ctx *c = t->ctx;
    char issued[40], expires[40];
    json_t *tok, *methods = json_array(), *user;

    idj_time(c->issued_at_ms, issued, sizeof(issued));
    idj_time(c->expires_at * 1000, expires, sizeof(expires));
    if (c->methods & ST_AUTH_M_PASSWORD)
        json_array_append_new(methods, json_string("password"));
    if (c->methods & ST_AUTH_M_TOKEN)
        json_array_append_new(methods, json_string("token"));
    if (c->methods & ST_AUTH_M_APPCRED)
        json_array_append_new(methods, json_string("application_credential"));
    user = json_pack("{s:s, s:s, s:o, s:n}", "id", t->user_id, "name",
                     str_at(t->user, "name") ? str_at(t->user, "name") : "", "domain",
                     ref(t->user_domain_id, t->user_domain), "password_expires_at");
    tok = json_pack("{s:o, s:o, s:[s], s:s, s:s}", "methods", methods, "user", user, "audit_ids",
                    c->audit_id, "issued_at", issued, "expires_at", expires);
    if (!tok)
        goto fail;
    if (t->project_id) {
        json_t *p = json_pack("{s:s, s:s, s:o}", "id", t->project_id, "name",
                              str_at(t->project, "name") ? str_at(t->project, "name") : "",
                              "domain", ref(t->project_domain_id, t->project_domain));
        if (json_object_set_new(tok, "project", p) < 0) { /* never a scoped token unscoped */
            json_decref(tok);
            goto fail;
        }
        json_object_set_new(tok, "is_domain", json_false());
        json_object_set(tok, "roles", (json_t *)t->roles);
    }
    if (t->app_cred_id && t->app_cred_id[0])
        json_object_set_new(tok, "application_credential",
                            json_pack("{s:s, s:b}", "id", t->app_cred_id, "restricted", 1));
    if (t->catalog)
        json_object_set_new(tok, "catalog", t->catalog);
    return json_pack("{s:o}", "token", tok);
fail:
    json_decref(t->catalog);
    return NULL;
}

json_t *idj_assignment_view(const char *base, const char *user_id, const char *project_id,
                            const char *role_id, const json_t *user, const json_t *project,
                            const json_t *role, const json_t *user_domain,
                            const json_t *project_domain)
{
    char link[512];
    json_t *u = user ? ref(user_id, user) : json_pack("{s:s}", "id", user_id);
    json_t *p = project ? ref(project_id, project) : json_pack("{s:s}", "id", project_id);
    json_t *r = role ? ref(role_id, role) : json_pack("{s:s}", "id", role_id);

    if (user && str_at(user, "domain_id"))
        json_object_set_new(u, "domain", ref(str_at(user, "domain_id"), user_domain));
    if (project && str_at(project, "domain_id"))
        json_object_set_new(p, "domain", ref(str_at(project, "domain_id"), project_domain));
    snprintf(link, sizeof(link), "%s/v3/projects/%s/users/%s/roles/%s", base, project_id, user_id,
             role_id);
    return json_pack("{s:o, s:o, s:{s:o}, s:{s:s}}", "role", r, "user", u, "scope", "project", p,
                     "links", "assignment", link);
}

/* ---- application credentials ---- */

int idj_appcred_decode(const json_t *body, struct idj_appcred_req *out, char *msg)
{
    const json_t *in = json_object_get(body, "application_credential"), *v;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(in))
        return bad(msg, "Expecting to find %s in request body%s.", "application_credential", "");
    out->name = str_at(in, "name");
    if (!out->name || !out->name[0] || st_utf8_len(out->name) > IDJ_NAME_MAX)
        return bad(msg, "Invalid input for field '%s.%s': a name of 1..255 characters is required.",
                   "application_credential", "name");
    v = json_object_get(in, "description");
    if (v && !json_is_null(v) && !json_is_string(v))
        return bad(msg, "Invalid input for field '%s.%s': expected a string or null.",
                   "application_credential", "description");
    out->description = json_string_value(v);
    v = json_object_get(in, "secret");
    if (v && !json_is_null(v) && (!json_is_string(v) || !json_string_length(v)))
        return bad(msg, "Invalid input for field '%s.%s': expected a non-empty string.",
                   "application_credential", "secret");
    out->secret = json_string_value(v);
    v = json_object_get(in, "expires_at");
    if (v && !json_is_null(v) && idj_time_parse(json_string_value(v), &out->expires_ms) < 0)
        return bad(msg, "Invalid input for field '%s.%s': expected an ISO 8601 time.",
                   "application_credential", "expires_at");
    v = json_object_get(in, "unrestricted");
    if (v && !json_is_boolean(v))
        return bad(msg, "Invalid input for field '%s.%s': expected a boolean.",
                   "application_credential", "unrestricted");
    out->unrestricted = json_is_true(v);
    v = json_object_get(in, "roles");
    if (v) {
        json_t *r;
        if (!json_is_array(v))
            return bad(msg, "Invalid input for field '%s.%s': expected a list.",
                       "application_credential", "roles");
        json_array_foreach(v, i, r) {
            if (!json_is_object(r) || (!str_at(r, "id") && !str_at(r, "name")))
                return bad(msg, "Invalid input for field '%s.%s': each role needs an id or a name.",
                           "application_credential", "roles");
        }
        out->roles = v;
    }
    if (json_object_get(in, "access_rules") && json_array_size(json_object_get(in, "access_rules")))
        return bad(msg, "Invalid input for field '%s.%s': access rules are not supported.",
                   "application_credential", "access_rules");
    return 0;
}

json_t *idj_appcred_view(const char *base, const char *id, const json_t *rec, const char *secret)
{
    char self[512], exp[40];
    json_int_t ems = json_integer_value(json_object_get(rec, "expires_ms"));
    json_t *v;

    snprintf(self, sizeof(self), "%s/v3/users/%s/application_credentials/%s", base,
             str_at(rec, "user_id"), id);
    v = json_pack("{s:s, s:s, s:O, s:s, s:s, s:O, s:O, s:[], s:{s:s}}", "id", id, "name",
                  str_at(rec, "name"), "description",
                  json_object_get(rec, "description") ? json_object_get(rec, "description")
                                                      : json_null(),
                  "user_id", str_at(rec, "user_id"), "project_id", str_at(rec, "project_id"),
                  "roles", json_object_get(rec, "roles"), "unrestricted",
                  json_is_true(json_object_get(rec, "unrestricted")) ? json_true() : json_false(),
                  "access_rules", "links", "self", self);
    if (!v)
        return NULL;
    if (ems) {
        idj_time(ems, exp, sizeof(exp));
        json_object_set_new(v, "expires_at", json_string(exp));
    } else {
        json_object_set_new(v, "expires_at", json_null());
    }
    if (secret)
        json_object_set_new(v, "secret", json_string(secret));
    return v;
}
