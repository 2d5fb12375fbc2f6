/* test_identity_json.c — unit tests of the identity service's pure parts:
 * password hashes (password.c), the catalog (catalog.c), Keystone request
 * decoding and views (id_json.c) with the shapes of Keystone's API reference,
 * and the [identity] options documented in etc/strata.conf.sample. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "catalog.h"
#include "id_json.h"
#include "options.h"
#include "password.h"
#include "sample_check.h"

#define BASE "http://id.example:5000"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);

    if (!j)
        fail_msg("bad test JSON: %s: %s", e.text, text);
    return j;
}

static void test_sample_documents_identity_options(void **state)
{
    (void)state;
    assert_sample_documents(identity_options);
}

/* ---- password.c ---- */

static void test_password_hash(void **state)
{
    char h1[PW_HASH_MAX], h2[PW_HASH_MAX], bad[PW_HASH_MAX];

    (void)state;
    assert_int_equal(pw_hash("s3cret pass", 1000, h1), 0);
    assert_int_equal(pw_hash("s3cret pass", 1000, h2), 0);
    assert_memory_equal(h1, "$pbkdf2-sha512$1000$", 20);
    assert_null(strstr(h1, "s3cret"));
    assert_string_not_equal(h1, h2); /* salted */
    assert_true(pw_verify("s3cret pass", h1));
    assert_true(pw_verify("s3cret pass", h2));
    assert_false(pw_verify("s3cret pas", h1));
    assert_false(pw_verify("", h1));
    assert_false(pw_verify("s3cret pass", ""));
    assert_false(pw_verify("s3cret pass", NULL));
    /* Any change of the stored hash fails, nothing malformed matches. */
    snprintf(bad, sizeof(bad), "%s", h1);
    /* A character inside the key, not the last one before the '=='
     * padding: its low bits are padding and decode to the same key. */
    bad[strlen(bad) - 10] = bad[strlen(bad) - 10] == 'A' ? 'B' : 'A';
    assert_false(pw_verify("s3cret pass", bad));
    assert_false(pw_verify("s3cret pass", "$pbkdf2-sha512$999$AAAA$AAAA"));
    assert_false(pw_verify("s3cret pass", "$pbkdf2-sha512$1000$$"));
    assert_false(pw_verify("s3cret pass", "$md5$abc"));
    /* Bounds. */
    assert_int_equal(pw_hash("x", 999, h1), -EINVAL);
    assert_int_equal(pw_hash("x", PW_ROUNDS_MAX + 1, h1), -EINVAL);
    char *huge = malloc(PW_LEN_MAX + 2);
    memset(huge, 'a', PW_LEN_MAX + 1);
    huge[PW_LEN_MAX + 1] = '\0';
    assert_int_equal(pw_hash(huge, 1000, h1), -EINVAL);
    free(huge);
}

/* ---- catalog.c ---- */

static const struct id_catalog CAT = {
    "RegionOne", BASE, "http://c:8774/v2.1", "http://v:8776/v3/$(project_id)s",
    "http://i:9292", BASE,
};

static json_t *service_of(json_t *cat, const char *type)
{
    json_t *s;
    size_t i;

    json_array_foreach(cat, i, s) {
        if (strcmp(json_string_value(json_object_get(s, "type")), type) == 0)
            return s;
    }
    return NULL;
}

static void test_catalog(void **state)
{
    json_t *cat = id_catalog_token(&CAT, "p123"), *s, *e;
    char *u;

    (void)state;
    assert_int_equal(json_array_size(cat), 5);
    s = service_of(cat, "volumev3");
    assert_non_null(s);
    assert_string_equal(json_string_value(json_object_get(s, "name")), "cinderv3");
    assert_int_equal(json_array_size(json_object_get(s, "endpoints")), 3);
    e = json_array_get(json_object_get(s, "endpoints"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "url")), "http://v:8776/v3/p123");
    assert_string_equal(json_string_value(json_object_get(e, "interface")), "public");
    assert_string_equal(json_string_value(json_object_get(e, "region_id")), "RegionOne");
    assert_int_equal(strlen(json_string_value(json_object_get(e, "id"))), 32);
    assert_non_null(service_of(cat, "block-storage"));
    assert_non_null(service_of(cat, "identity"));
    json_decref(cat);

    /* Unscoped: endpoints that need a project are left out. */
    cat = id_catalog_token(&CAT, "");
    assert_null(service_of(cat, "volumev3"));
    assert_non_null(service_of(cat, "image"));
    json_decref(cat);

    /* An empty URL leaves the service out; ids are stable. */
    struct id_catalog c2 = CAT;
    c2.compute_url = "";
    cat = id_catalog_services(&c2, NULL);
    assert_int_equal(json_array_size(cat), 4);
    json_t *again = id_catalog_services(&c2, "image");
    assert_int_equal(json_array_size(again), 1);
    json_decref(cat);
    json_decref(again);
    cat = id_catalog_endpoints(&CAT, "admin", NULL);
    assert_int_equal(json_array_size(cat), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cat, 2), "url")),
                        "http://v:8776/v3/$(project_id)s"); /* listings show templates */
    json_decref(cat);

    u = id_catalog_expand("http://x/%(tenant_id)s/a/$(project_id)s", "P");
    assert_string_equal(u, "http://x/P/a/P");
    free(u);
    assert_null(id_catalog_expand("http://x/$(project_id)s", ""));
}

/* ---- resources ---- */

static void test_resource_decode(void **state)
{
    char msg[IDJ_MSG_MAX];
    json_t *body, *out = NULL;

    (void)state;
    body = J("{\"user\": {\"name\": \"alice\", \"password\": \"pw\", \"enabled\": false, "
             "\"email\": \"a@x\", \"id\": \"ignored\", \"favourite\": 7}}");
    assert_int_equal(idj_resource_decode(IDJ_USER, body, true, &out, msg), 0);
    assert_string_equal(json_string_value(json_object_get(out, "name")), "alice");
    assert_true(json_is_false(json_object_get(out, "enabled")));
    assert_null(json_object_get(out, "id"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "extra"), "favourite")), 7);
    json_decref(out);
    json_decref(body);

    const struct {
        enum idj_res res;
        const char *body;
        bool creating;
        const char *needle;
    } bad[] = {
        {IDJ_USER, "{\"user\": {}}", true, "'name' is a required property"},
        {IDJ_USER, "{\"users\": {\"name\": \"a\"}}", true, "Expecting to find user"},
        {IDJ_USER, "{\"user\": {\"name\": 5}}", true, "expected a string"},
        {IDJ_USER, "{\"user\": {\"name\": \"\"}}", false, "must not be empty"},
        {IDJ_PROJECT, "{\"project\": {\"name\": \"p\", \"enabled\": \"yes\"}}", true, "boolean"},
        {IDJ_PROJECT, "{\"project\": {\"name\": \"p\", \"is_domain\": true}}", true, "(false)"},
        {IDJ_PROJECT, "{\"project\": {\"name\": \"p\", \"tags\": [\"a,b\"]}}", true, "tags"},
        {IDJ_ROLE, "{\"role\": {\"name\": \"r\", \"domain_id\": \"d\"}}", true, "global roles"},
        {IDJ_DOMAIN, "{\"domain\": {\"name\": \"0123456789012345678901234567890123456789"
                     "01234567890123456789012345\"}}", true, "too long"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        body = J(bad[i].body);
        msg[0] = '\0';
        assert_int_equal(idj_resource_decode(bad[i].res, body, bad[i].creating, &out, msg), -EINVAL);
        if (!strstr(msg, bad[i].needle))
            fail_msg("%s: message \"%s\" lacks \"%s\"", bad[i].body, msg, bad[i].needle);
        json_decref(body);
    }
    /* An update needs no name. */
    body = J("{\"project\": {\"description\": null}}");
    assert_int_equal(idj_resource_decode(IDJ_PROJECT, body, false, &out, msg), 0);
    json_decref(out);
    json_decref(body);
}

static void test_resource_views(void **state)
{
    json_t *rec = J("{\"name\": \"alice\", \"domain_id\": \"default\", \"password\": \"$pbkdf2\", "
                    "\"extra\": {\"favourite\": 7}, \"email\": \"a@x\"}");
    json_t *v = idj_resource_view(IDJ_USER, BASE, "u1", rec);

    (void)state;
    /* Keystone's user: id, name, domain_id, enabled, password_expires_at,
     * options, links; extra attributes shown; never the password. */
    assert_string_equal(json_string_value(json_object_get(v, "id")), "u1");
    assert_true(json_is_true(json_object_get(v, "enabled")));
    assert_true(json_is_null(json_object_get(v, "password_expires_at")));
    assert_true(json_is_object(json_object_get(v, "options")));
    assert_null(json_object_get(v, "password"));
    assert_null(json_object_get(v, "extra"));
    assert_int_equal(json_integer_value(json_object_get(v, "favourite")), 7);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "links"), "self")),
                        BASE "/v3/users/u1");
    json_decref(v);
    json_decref(rec);

    rec = J("{\"name\": \"p\", \"domain_id\": \"d1\"}");
    v = idj_resource_view(IDJ_PROJECT, BASE, "p1", rec);
    assert_string_equal(json_string_value(json_object_get(v, "parent_id")), "d1");
    assert_true(json_is_false(json_object_get(v, "is_domain")));
    assert_true(json_is_null(json_object_get(v, "description")));
    assert_int_equal(json_array_size(json_object_get(v, "tags")), 0);
    json_decref(v);
    json_decref(rec);

    rec = J("{\"name\": \"member\"}");
    v = idj_resource_view(IDJ_ROLE, BASE, "r1", rec);
    assert_true(json_is_null(json_object_get(v, "domain_id")));
    json_decref(v);
    json_decref(rec);
}

/* ---- auth requests ---- */

static void test_auth_decode(void **state)
{
    char msg[IDJ_MSG_MAX];
    struct idj_auth a;
    json_t *body;

    (void)state;
    body = J("{\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": "
             "{\"name\": \"admin\", \"domain\": {\"name\": \"Default\"}, \"password\": \"pw\"}}}, "
             "\"scope\": {\"project\": {\"name\": \"admin\", \"domain\": {\"id\": \"default\"}}}}}");
    assert_int_equal(idj_auth_decode(body, &a, msg), 0);
    assert_int_equal(a.methods, ST_AUTH_M_PASSWORD);
    assert_string_equal(a.user.name, "admin");
    assert_string_equal(a.user.domain_name, "Default");
    assert_string_equal(a.password, "pw");
    assert_int_equal(a.scope, IDJ_SCOPE_PROJECT);
    assert_string_equal(a.project_name, "admin");
    assert_string_equal(a.project_domain_id, "default");
    json_decref(body);

    body = J("{\"auth\": {\"identity\": {\"methods\": [\"token\"], \"token\": {\"id\": \"T\"}}, "
             "\"scope\": \"unscoped\"}}");
    assert_int_equal(idj_auth_decode(body, &a, msg), 0);
    assert_int_equal(a.methods, ST_AUTH_M_TOKEN);
    assert_string_equal(a.token, "T");
    assert_int_equal(a.scope, IDJ_SCOPE_UNSCOPED);
    json_decref(body);

    body = J("{\"auth\": {\"identity\": {\"methods\": [\"application_credential\"], "
             "\"application_credential\": {\"id\": \"AC\", \"secret\": \"S\"}}}}");
    assert_int_equal(idj_auth_decode(body, &a, msg), 0);
    assert_int_equal(a.methods, ST_AUTH_M_APPCRED);
    assert_string_equal(a.ac_id, "AC");
    assert_int_equal(a.scope, IDJ_SCOPE_DEFAULT);
    json_decref(body);

    const struct {
        const char *body;
        int rc;
    } bad[] = {
        {"{}", -EINVAL},
        {"{\"auth\": {\"identity\": {\"methods\": []}}}", -EINVAL},
        {"{\"auth\": {\"identity\": {\"methods\": [\"totp\"]}}}", -EOPNOTSUPP},
        {"{\"auth\": {\"identity\": {\"methods\": [\"password\", \"token\"], \"token\": {\"id\": \"t\"}}}}",
         -EOPNOTSUPP},
        {"{\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": "
         "{\"name\": \"a\", \"password\": \"p\"}}}}}", -EINVAL},  /* name without domain */
        {"{\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": "
         "{\"id\": \"u\"}}}}}", -EINVAL},  /* no password */
        {"{\"auth\": {\"identity\": {\"methods\": [\"token\"], \"token\": {\"id\": \"t\"}}, "
         "\"scope\": {\"domain\": {\"id\": \"default\"}}}}", -EOPNOTSUPP},
        {"{\"auth\": {\"identity\": {\"methods\": [\"token\"], \"token\": {\"id\": \"t\"}}, "
         "\"scope\": {\"project\": {\"name\": \"p\"}}}}", -EINVAL},  /* name without domain */
        {"{\"auth\": {\"identity\": {\"methods\": [\"token\"], \"token\": {\"id\": \"t\"}}, "
         "\"scope\": 7}}", -EINVAL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        body = J(bad[i].body);
        msg[0] = '\0';
        if (idj_auth_decode(body, &a, msg) != bad[i].rc)
            fail_msg("%s: expected %d", bad[i].body, bad[i].rc);
        assert_true(msg[0] != '\0');
        json_decref(body);
    }
}

/* A token body has Keystone's members (the API reference's example). */
static void test_token_body(void **state)
{
    struct st_auth_ctx ctx = {.user_id = "u1", .project_id = "p1", .nroles = 1,
                              .roles = {"member"}, .expires_at = 1800000000,
                              .audit_id = "AUDITAUDITAUDITAUDIT12", .issued_at_ms = 1799996400123,
                              .methods = ST_AUTH_M_PASSWORD};
    json_t *user = J("{\"name\": \"alice\", \"domain_id\": \"default\"}");
    json_t *dom = J("{\"name\": \"Default\"}"), *proj = J("{\"name\": \"demo\"}");
    json_t *roles = J("[{\"id\": \"r1\", \"name\": \"member\"}]");
    struct idj_token_info t = {&ctx, "u1", user, dom, "default", "p1", proj, dom, "default",
                               roles, id_catalog_token(&CAT, "p1"), NULL};
    json_t *body = idj_token_body(&t), *tok;

    (void)state;
    tok = json_object_get(body, "token");
    assert_non_null(tok);
    assert_string_equal(json_string_value(json_array_get(json_object_get(tok, "methods"), 0)),
                        "password");
    assert_string_equal(json_string_value(json_object_get(json_object_get(tok, "user"), "name")),
                        "alice");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(tok, "user"), "domain"), "name")),
                        "Default");
    assert_string_equal(json_string_value(json_object_get(json_object_get(tok, "project"), "id")),
                        "p1");
    assert_string_equal(json_string_value(json_object_get(tok, "expires_at")),
                        "2027-01-15T08:00:00.000000Z");
    assert_string_equal(json_string_value(json_object_get(tok, "issued_at")),
                        "2027-01-15T07:00:00.123000Z");
    assert_string_equal(json_string_value(json_array_get(json_object_get(tok, "audit_ids"), 0)),
                        ctx.audit_id);
    assert_int_equal(json_array_size(json_object_get(tok, "roles")), 1);
    assert_int_equal(json_array_size(json_object_get(tok, "catalog")), 5);
    assert_true(json_is_false(json_object_get(tok, "is_domain")));
    json_decref(body);

    /* Unscoped: no project, roles or catalog. */
    t.project_id = NULL;
    t.catalog = NULL;
    body = idj_token_body(&t);
    tok = json_object_get(body, "token");
    assert_null(json_object_get(tok, "project"));
    assert_null(json_object_get(tok, "roles"));
    assert_null(json_object_get(tok, "catalog"));
    json_decref(body);
    json_decref(user);
    json_decref(dom);
    json_decref(proj);
    json_decref(roles);
}

static void test_times_and_appcreds(void **state)
{
    char msg[IDJ_MSG_MAX], buf[40];
    struct idj_appcred_req req;
    int64_t ms;
    json_t *body;

    (void)state;
    assert_int_equal(idj_time_parse("2027-01-15T08:00:00Z", &ms), 0);
    assert_int_equal(ms, 1800000000000LL);
    assert_int_equal(idj_time_parse("2027-01-15T08:00:00.250000", &ms), 0);
    assert_int_equal(ms, 1800000000250LL);
    assert_int_equal(idj_time_parse("2027-01-15T08:00:00.5+00:00", &ms), 0);
    assert_int_equal(ms, 1800000000500LL);
    assert_int_equal(idj_time_parse("tomorrow", &ms), -EINVAL);
    assert_int_equal(idj_time_parse("2027-01-15T08:00:00Zjunk", &ms), -EINVAL);
    idj_time(1800000000250LL, buf, sizeof(buf));
    assert_string_equal(buf, "2027-01-15T08:00:00.250000Z");

    body = J("{\"application_credential\": {\"name\": \"ci\", \"roles\": [{\"name\": \"reader\"}], "
             "\"expires_at\": \"2027-01-15T08:00:00Z\"}}");
    assert_int_equal(idj_appcred_decode(body, &req, msg), 0);
    assert_string_equal(req.name, "ci");
    assert_null(req.secret);
    assert_int_equal(req.expires_ms, 1800000000000LL);
    assert_int_equal(json_array_size(req.roles), 1);
    json_decref(body);
    body = J("{\"application_credential\": {\"name\": \"ci\", \"roles\": [{}]}}");
    assert_int_equal(idj_appcred_decode(body, &req, msg), -EINVAL);
    json_decref(body);
    body = J("{\"application_credential\": {\"name\": \"ci\", \"expires_at\": \"soon\"}}");
    assert_int_equal(idj_appcred_decode(body, &req, msg), -EINVAL);
    json_decref(body);
    body = J("{\"application_credential\": {\"name\": \"ci\", \"access_rules\": [{\"path\": \"/\"}]}}");
    assert_int_equal(idj_appcred_decode(body, &req, msg), -EINVAL);
    json_decref(body);

    /* The view shows the secret only when given (at creation). */
    json_t *rec = J("{\"name\": \"ci\", \"user_id\": \"u\", \"project_id\": \"p\", \"roles\": [], "
                    "\"secret\": \"$pbkdf2-hash\", \"expires_ms\": 0}");
    json_t *v = idj_appcred_view(BASE, "ac1", rec, NULL);
    assert_null(json_object_get(v, "secret"));
    assert_true(json_is_null(json_object_get(v, "expires_at")));
    json_decref(v);
    v = idj_appcred_view(BASE, "ac1", rec, "clear-once");
    assert_string_equal(json_string_value(json_object_get(v, "secret")), "clear-once");
    json_decref(v);
    json_decref(rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_documents_identity_options),
        cmocka_unit_test(test_password_hash),
        cmocka_unit_test(test_catalog),
        cmocka_unit_test(test_resource_decode),
        cmocka_unit_test(test_resource_views),
        cmocka_unit_test(test_auth_decode),
        cmocka_unit_test(test_token_body),
        cmocka_unit_test(test_times_and_appcreds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
