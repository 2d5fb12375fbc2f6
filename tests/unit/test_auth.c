/* test_auth.c — unit tests of common/auth.c: issue/verify round trips, forged
 * tokens (every flipped character of payload and MAC, other key, truncation),
 * expiry at the boundary, payloads with a valid MAC but bad fields, admin token,
 * key rotation, role levels, the claims identity adds, revocation events. */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strata/auth.h"
#include "strata/log.h"
#include "strata/revoke.h"

static const unsigned char key1[] = "0123456789abcdef0123456789abcdef";  /* 32 + NUL */
static const unsigned char key2[] = "0123456789abcdef0123456789abcdeF";
#define KEYLEN 32
#define NOW 1700000000
#define LATER (NOW + 3600)

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static struct st_auth *make_auth(const unsigned char *key, const char *admin)
{
    struct st_auth *a = NULL;

    assert_int_equal(st_auth_create(key, KEYLEN, admin, "adminproj", &a), 0);
    assert_non_null(a);
    return a;
}

static struct st_auth_ctx make_ctx(const char *user, const char *project, int nroles, ...)
{
    struct st_auth_ctx c;
    va_list ap;

    memset(&c, 0, sizeof(c));
    snprintf(c.user_id, sizeof(c.user_id), "%s", user);
    snprintf(c.project_id, sizeof(c.project_id), "%s", project);
    va_start(ap, nroles);
    for (int i = 0; i < nroles; i++)
        snprintf(c.roles[i], sizeof(c.roles[i]), "%s", va_arg(ap, const char *));
    va_end(ap);
    c.nroles = nroles;
    return c;
}

static char *issue(const struct st_auth *a, const struct st_auth_ctx *c, int64_t exp)
{
    char *tok = NULL;

    assert_int_equal(st_auth_issue(a, c, exp, &tok), 0);
    assert_non_null(tok);
    return tok;
}

/* Build a token by hand: "st1." b64url(payload) "." b64url(HMAC(key, ...)). */
static char *b64url(const unsigned char *in, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    int n;

    assert_non_null(out);
    n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return out;
}

static char *craft(const unsigned char *key, const char *payload, size_t plen)
{
    unsigned char mac[32];
    unsigned int maclen = 0;
    char *p64 = b64url((const unsigned char *)payload, plen);
    size_t n = strlen(p64) + 4;
    char *signed_part = malloc(n + 1), *m64, *tok;

    assert_non_null(signed_part);
    snprintf(signed_part, n + 1, "st1.%s", p64);
    assert_non_null(HMAC(EVP_sha256(), key, KEYLEN, (const unsigned char *)signed_part, n, mac,
                         &maclen));
    m64 = b64url(mac, maclen);
    tok = malloc(n + 1 + strlen(m64) + 1);
    assert_non_null(tok);
    sprintf(tok, "%s.%s", signed_part, m64);
    free(p64);
    free(m64);
    free(signed_part);
    return tok;
}

static int verify_crafted(const struct st_auth *a, const char *payload)
{
    struct st_auth_ctx c;
    char *tok = craft(key1, payload, strlen(payload));
    int rc = st_auth_verify(a, tok, NOW, &c);

    free(tok);
    return rc;
}

static void test_create(void **state)
{
    struct st_auth *a = NULL;

    (void)state;
    assert_int_equal(st_auth_create(key1, 31, NULL, NULL, &a), -EINVAL);
    assert_int_equal(st_auth_create(NULL, 32, NULL, NULL, &a), -EINVAL);
    assert_int_equal(st_auth_create(key1, 32, NULL, NULL, NULL), -EINVAL);
    assert_null(a);
    assert_int_equal(st_auth_create(key1, 32, NULL, NULL, &a), 0);
    assert_non_null(a);
    st_auth_destroy(a);
    st_auth_destroy(NULL);
}

static void test_round_trip(void **state)
{
    struct st_auth *a = make_auth(key1, NULL);
    struct st_auth_ctx in = make_ctx("u-123", "p-456", 2, "member", "reader");
    struct st_auth_ctx out;
    char *tok = issue(a, &in, LATER), *tok2;
    size_t dot;

    (void)state;
    assert_memory_equal(tok, "st1.", 4);
    assert_non_null(strchr(tok + 4, '.'));
    dot = strcspn(tok + 4, ".") + 4; /* an index: gcc -O2 misreads pointers here */
    assert_null(strchr(tok + dot + 1, '.'));
    assert_int_equal(strlen(tok + dot + 1), 43);
    assert_int_equal(strspn(tok + 4, b64url_chars), dot - 4);

    memset(&out, 0xa5, sizeof(out));
    assert_int_equal(st_auth_verify(a, tok, NOW, &out), 0);
    assert_string_equal(out.user_id, "u-123");
    assert_string_equal(out.project_id, "p-456");
    assert_int_equal(out.nroles, 2);
    assert_string_equal(out.roles[0], "member");
    assert_string_equal(out.roles[1], "reader");
    assert_int_equal(out.expires_at, LATER);
    assert_false(out.is_admin);
    assert_true(st_auth_has_role(&out, "reader"));
    assert_false(st_auth_has_role(&out, "admin"));

    /* A random nonce: two tokens for the same caller differ. */
    tok2 = issue(a, &in, LATER);
    assert_string_not_equal(tok, tok2);
    free(tok2);
    free(tok);

    /* Role "admin" makes is_admin; no roles and an empty project are fine. */
    in = make_ctx("boss", "", 1, "admin");
    tok = issue(a, &in, LATER);
    assert_int_equal(st_auth_verify(a, tok, NOW, &out), 0);
    assert_true(out.is_admin);
    assert_string_equal(out.project_id, "");
    free(tok);
    in = make_ctx("nobody", "p", 0);
    tok = issue(a, &in, LATER);
    assert_int_equal(st_auth_verify(a, tok, NOW, &out), 0);
    assert_int_equal(out.nroles, 0);
    free(tok);
    st_auth_destroy(a);
}

static void test_limits(void **state)
{
    struct st_auth *a = make_auth(key1, NULL);
    struct st_auth_ctx c, out;
    char *tok = NULL;

    (void)state;
    /* The largest valid caller: 64-char ids, 8 roles of 31 chars. */
    memset(&c, 0, sizeof(c));
    memset(c.user_id, 'u', ST_ID_MAX);
    memset(c.project_id, 'p', ST_ID_MAX);
    for (int i = 0; i < ST_ROLES_MAX; i++) {
        memset(c.roles[i], 'r', 31);
        c.roles[i][0] = (char)('a' + i);
    }
    c.nroles = ST_ROLES_MAX;
    tok = issue(a, &c, LATER);
    assert_int_equal(st_auth_verify(a, tok, NOW, &out), 0);
    assert_int_equal(strlen(out.user_id), ST_ID_MAX);
    assert_int_equal(out.nroles, ST_ROLES_MAX);
    assert_string_equal(out.roles[7], c.roles[7]);
    free(tok);
    tok = NULL;

    c.nroles = ST_ROLES_MAX + 1;
    assert_int_equal(st_auth_issue(a, &c, LATER, &tok), -EINVAL);
    c.nroles = -1;
    assert_int_equal(st_auth_issue(a, &c, LATER, &tok), -EINVAL);
    c.nroles = 1;
    memset(c.roles[0], 'r', 32); /* no NUL within 32: longer than 31 */
    assert_int_equal(st_auth_issue(a, &c, LATER, &tok), -EINVAL);
    c.roles[0][0] = '\0';
    assert_int_equal(st_auth_issue(a, &c, LATER, &tok), -EINVAL);
    c.nroles = 0;
    memset(c.user_id, 'u', ST_ID_MAX + 1); /* not terminated: longer than 64 */
    assert_int_equal(st_auth_issue(a, &c, LATER, &tok), -EINVAL);
    c.user_id[0] = '\0';
    assert_int_equal(st_auth_issue(a, &c, LATER, &tok), -EINVAL);
    c = make_ctx("u", "p", 0);
    assert_int_equal(st_auth_issue(a, &c, 0, &tok), -EINVAL);
    assert_null(tok);
    st_auth_destroy(a);
}

static void test_forged(void **state)
{
    struct st_auth *a = make_auth(key1, NULL);
    struct st_auth *b = make_auth(key2, NULL);
    struct st_auth_ctx in = make_ctx("alice", "proj", 1, "member");
    struct st_auth_ctx out, untouched;
    char *tok = issue(a, &in, LATER);
    char *bad = strdup(tok);
    size_t len = strlen(tok);

    (void)state;
    assert_non_null(bad);
    memset(&out, 0x5a, sizeof(out));
    untouched = out;

    /* Every character of payload and MAC, each bit of its 6-bit value flipped. */
    for (size_t i = 4; i < len; i++) {
        const char *pos = strchr(b64url_chars, tok[i]);
        if (tok[i] == '.')
            continue;
        assert_non_null(pos);
        for (int bit = 0; bit < 6; bit++) {
            bad[i] = b64url_chars[(pos - b64url_chars) ^ (1 << bit)];
            if (st_auth_verify(a, bad, NOW, &out) != -EACCES)
                fail_msg("token with char %zu bit %d flipped was accepted", i, bit);
        }
        bad[i] = tok[i];
    }
    assert_memory_equal(&out, &untouched, sizeof(out)); /* ctx untouched on failure */

    /* Another key: a well-formed token, but not ours. */
    assert_int_equal(st_auth_verify(b, tok, NOW, &out), -EACCES);
    /* Every truncation, and extensions. */
    for (size_t n = 0; n < len; n++) {
        bad[n] = '\0';
        if (st_auth_verify(a, bad, NOW, &out) != -EACCES)
            fail_msg("token truncated to %zu chars was accepted", n);
        bad[n] = tok[n];
    }
    free(bad);
    bad = malloc(len + 3);
    assert_non_null(bad);
    sprintf(bad, "%sA", tok);
    assert_int_equal(st_auth_verify(a, bad, NOW, &out), -EACCES);
    sprintf(bad, "%s=", tok);
    assert_int_equal(st_auth_verify(a, bad, NOW, &out), -EACCES);
    sprintf(bad, "x%s", tok);
    assert_int_equal(st_auth_verify(a, bad, NOW, &out), -EACCES);
    memcpy(bad, tok, len + 1);
    memcpy(bad, "st2.", 4);
    assert_int_equal(st_auth_verify(a, bad, NOW, &out), -EACCES);
    assert_int_equal(st_auth_verify(a, "", NOW, &out), -EACCES);
    assert_int_equal(st_auth_verify(a, NULL, NOW, &out), -EACCES);
    assert_int_equal(st_auth_verify(a, "st1..", NOW, &out), -EACCES);
    assert_memory_equal(&out, &untouched, sizeof(out));
    assert_int_equal(st_auth_verify(a, tok, NOW, &out), 0);
    free(bad);
    free(tok);
    st_auth_destroy(a);
    st_auth_destroy(b);
}

static void test_expiry(void **state)
{
    struct st_auth *a = make_auth(key1, NULL);
    struct st_auth_ctx in = make_ctx("u", "p", 0), out;
    char *tok = issue(a, &in, 1000);

    (void)state;
    assert_int_equal(st_auth_verify(a, tok, 999, &out), 0);
    assert_int_equal(st_auth_verify(a, tok, 1000, &out), -EKEYEXPIRED);
    assert_int_equal(st_auth_verify(a, tok, NOW, &out), -EKEYEXPIRED);
    free(tok);
    st_auth_destroy(a);
}

static void test_payload_checked_after_mac(void **state)
{
    static const char *const bad[] = {
        "not json",
        "[]",
        "{\"u\":5,\"p\":\"p\",\"r\":[],\"e\":2000000000,\"iat\":1,\"n\":\"x\"}",
        "{\"p\":\"p\",\"r\":[],\"e\":2000000000,\"iat\":1,\"n\":\"x\"}",
        "{\"u\":\"\",\"p\":\"p\",\"r\":[],\"e\":2000000000,\"iat\":1,\"n\":\"x\"}",
        "{\"u\":\"a\\u0000b\",\"p\":\"p\",\"r\":[],\"e\":2000000000,\"iat\":1,\"n\":\"x\"}",
        "{\"u\":\"u\",\"p\":null,\"r\":[],\"e\":2000000000,\"iat\":1,\"n\":\"x\"}",
        "{\"u\":\"u\",\"p\":\"p\",\"r\":\"admin\",\"e\":2000000000,\"iat\":1,\"n\":\"x\"}",
        "{\"u\":\"u\",\"p\":\"p\",\"r\":[1],\"e\":2000000000,\"iat\":1,\"n\":\"x\"}",
        "{\"u\":\"u\",\"p\":\"p\",\"r\":[\"\"],\"e\":2000000000,\"iat\":1,\"n\":\"x\"}",
        "{\"u\":\"u\",\"p\":\"p\",\"r\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"],"
        "\"e\":2000000000,\"iat\":1,\"n\":\"x\"}",
        "{\"u\":\"u\",\"p\":\"p\",\"r\":[\"rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr\"],"
        "\"e\":2000000000,\"iat\":1,\"n\":\"x\"}",
        "{\"u\":\"uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu\",\"p\":\"p\","
        "\"r\":[],\"e\":2000000000,\"iat\":1,\"n\":\"x\"}",
        "{\"u\":\"u\",\"p\":\"p\",\"r\":[],\"e\":\"2000000000\",\"iat\":1,\"n\":\"x\"}",
        "{\"u\":\"u\",\"p\":\"p\",\"r\":[],\"e\":2000000000.5,\"iat\":1,\"n\":\"x\"}",
        "{\"u\":\"u\",\"p\":\"p\",\"r\":[],\"iat\":1,\"n\":\"x\"}",
        "{\"u\":\"u\",\"p\":\"p\",\"r\":[],\"e\":2000000000,\"n\":\"x\"}",
        "{\"u\":\"u\",\"p\":\"p\",\"r\":[],\"e\":2000000000,\"iat\":1}",
        "{\"u\":\"u\",\"u\":\"admin\",\"p\":\"p\",\"r\":[],\"e\":2000000000,\"iat\":1,\"n\":\"x\"}",
    };
    struct st_auth *a = make_auth(key1, NULL);
    struct st_auth_ctx out;
    char *tok;
    int rc;

    (void)state;
    /* The hand-made token format is right: a good payload verifies. */
    tok = craft(key1, "{\"u\":\"u\",\"p\":\"p\",\"r\":[\"admin\"],\"e\":2000000000,\"iat\":1,"
                      "\"n\":\"x\",\"future\":true}",
                strlen("{\"u\":\"u\",\"p\":\"p\",\"r\":[\"admin\"],\"e\":2000000000,\"iat\":1,"
                       "\"n\":\"x\",\"future\":true}"));
    assert_int_equal(st_auth_verify(a, tok, NOW, &out), 0);
    assert_true(out.is_admin);
    free(tok);
    /* The same payload signed with another key is refused. */
    tok = craft(key2, "{}", 2);
    assert_int_equal(st_auth_verify(a, tok, NOW, &out), -EACCES);
    free(tok);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rc = verify_crafted(a, bad[i]);
        if (rc != -EACCES)
            fail_msg("payload %zu (%s) gave %d", i, bad[i], rc);
    }
    st_auth_destroy(a);
}

static void test_admin_token(void **state)
{
    struct st_auth *a = make_auth(key1, "s3cret-admin-token-s3cret");
    struct st_auth *none = make_auth(key1, NULL);
    struct st_auth *empty = make_auth(key1, "");
    struct st_auth *dflt = NULL;
    struct st_auth_ctx out;

    (void)state;
    memset(&out, 0x33, sizeof(out));
    assert_int_equal(st_auth_verify(a, "s3cret-admin-token-s3cret", NOW, &out), 0);
    assert_string_equal(out.user_id, "admin");
    assert_string_equal(out.project_id, "adminproj");
    assert_int_equal(out.nroles, 1);
    assert_string_equal(out.roles[0], "admin");
    assert_int_equal(out.expires_at, 0);
    assert_true(out.is_admin);
    assert_true(st_auth_has_role(&out, "admin"));

    assert_int_equal(st_auth_verify(a, "s3cret-admin-token-s3creT", NOW, &out), -EACCES);
    assert_int_equal(st_auth_verify(a, "s3cret-admin-token-s3cre", NOW, &out), -EACCES);
    assert_int_equal(st_auth_verify(a, "s3cret-admin-token-s3cret ", NOW, &out), -EACCES);
    assert_int_equal(st_auth_verify(none, "s3cret-admin-token-s3cret", NOW, &out), -EACCES);
    assert_int_equal(st_auth_verify(empty, "", NOW, &out), -EACCES);

    /* The admin project defaults to "admin"; an overlong one is refused. */
    assert_int_equal(st_auth_create(key1, KEYLEN, "tok", NULL, &dflt), 0);
    assert_int_equal(st_auth_verify(dflt, "tok", NOW, &out), 0);
    assert_string_equal(out.project_id, "admin");
    st_auth_destroy(dflt);
    dflt = NULL;
    assert_int_equal(st_auth_create(key1, KEYLEN, "tok",
                                    "ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp",
                                    &dflt),
                     -EINVAL);
    assert_null(dflt);
    st_auth_destroy(a);
    st_auth_destroy(none);
    st_auth_destroy(empty);
}

/* A previous key keeps verifying what it signed; new tokens use the current
 * key only; a key that is neither is refused. */
static void test_rotation(void **state)
{
    static const unsigned char key3[] = "zyxwvutsrqponmlkjihgfedcba987654";
    struct st_auth *old = make_auth(key1, NULL), *cur = make_auth(key2, NULL);
    struct st_auth *other = make_auth(key3, NULL);
    struct st_auth_ctx in = make_ctx("u", "p", 1, "member"), out;
    char *by_old = issue(old, &in, LATER), *by_cur;

    (void)state;
    assert_int_equal(st_auth_verify(cur, by_old, NOW, &out), -EACCES);
    assert_int_equal(st_auth_add_key(cur, key1, KEYLEN), 0);
    assert_int_equal(st_auth_verify(cur, by_old, NOW, &out), 0);
    assert_string_equal(out.user_id, "u");
    by_cur = issue(cur, &in, LATER);
    assert_int_equal(st_auth_verify(old, by_cur, NOW, &out), -EACCES); /* signed with key2 */
    assert_int_equal(st_auth_verify(cur, by_cur, NOW, &out), 0);
    assert_int_equal(st_auth_verify(other, by_old, NOW, &out), -EACCES);
    assert_int_equal(st_auth_add_key(cur, key1, 8), -EINVAL);
    for (int i = 1; i < 4; i++)
        assert_int_equal(st_auth_add_key(cur, key3, KEYLEN), 0);
    assert_int_equal(st_auth_add_key(cur, key3, KEYLEN), -E2BIG);
    free(by_old);
    free(by_cur);
    st_auth_destroy(old);
    st_auth_destroy(cur);
    st_auth_destroy(other);
}

static void test_levels(void **state)
{
    struct st_auth_ctx c = make_ctx("u", "p", 0);

    (void)state;
    assert_int_equal(st_auth_level(&c), ST_LEVEL_NONE);
    c = make_ctx("u", "p", 2, "custom", "reader");
    assert_int_equal(st_auth_level(&c), ST_LEVEL_READER);
    c = make_ctx("u", "p", 2, "member", "reader");
    assert_int_equal(st_auth_level(&c), ST_LEVEL_MEMBER);
    c = make_ctx("u", "p", 2, "reader", "admin");
    assert_int_equal(st_auth_level(&c), ST_LEVEL_ADMIN);
    c = make_ctx("u", "p", 1, "Member"); /* names are exact */
    assert_int_equal(st_auth_level(&c), ST_LEVEL_NONE);
    assert_string_equal(st_role_level_name(ST_LEVEL_MEMBER), "member");
    assert_null(st_role_level_name(ST_LEVEL_NONE));
    assert_int_equal(st_auth_level(NULL), ST_LEVEL_NONE);
}

/* A comma/space-separated role list matches exact names only. */
static void test_any_role(void **state)
{
    struct st_auth_ctx c = make_ctx("u", "p", 2, "member", "service");

    (void)state;
    assert_true(st_auth_has_any_role(&c, "admin,service"));
    assert_true(st_auth_has_any_role(&c, " admin , service "));
    assert_true(st_auth_has_any_role(&c, "member"));
    assert_false(st_auth_has_any_role(&c, "admin"));
    assert_false(st_auth_has_any_role(&c, "serv,ice,services,Service"));
    assert_false(st_auth_has_any_role(&c, ""));
    assert_false(st_auth_has_any_role(&c, ",,"));
    assert_false(st_auth_has_any_role(NULL, "admin"));
    c = make_ctx("u", "p", 1, "admin");
    assert_true(st_auth_has_any_role(&c, "admin,service"));
}

/* Methods, the application credential, the audit id and the issue time in ms
 * come back from verification; the bootstrap token says so. */
static void test_claims(void **state)
{
    struct st_auth *a = make_auth(key1, "bootstrap-secret");
    struct st_auth_ctx in = make_ctx("u", "p", 1, "member"), out, out2;
    char *tok, *tok2;

    (void)state;
    in.methods = ST_AUTH_M_APPCRED;
    snprintf(in.app_cred_id, sizeof(in.app_cred_id), "ac-1");
    tok = issue(a, &in, LATER);
    tok2 = issue(a, &in, LATER);
    assert_int_equal(st_auth_verify(a, tok, NOW, &out), 0);
    assert_int_equal(st_auth_verify(a, tok2, NOW, &out2), 0);
    assert_int_equal(out.methods, ST_AUTH_M_APPCRED);
    assert_string_equal(out.app_cred_id, "ac-1");
    assert_int_equal(strlen(out.audit_id), ST_AUDIT_ID_MAX);
    assert_string_not_equal(out.audit_id, out2.audit_id);
    assert_true(out.issued_at_ms > (int64_t)NOW * 1000);
    assert_false(out.bootstrap);
    in.methods = 0x80;
    assert_int_equal(st_auth_issue(a, &in, LATER, &tok2 /* unchanged */), -EINVAL);
    free(tok2);
    assert_int_equal(st_auth_verify(a, "bootstrap-secret", NOW, &out), 0);
    assert_true(out.bootstrap);
    free(tok);
    st_auth_destroy(a);
}

static void test_revoke_events(void **state)
{
    struct st_auth_ctx c = make_ctx("u1", "p1", 2, "member", "reader");
    struct st_revoke_event ev, back;
    json_t *j;

    (void)state;
    snprintf(c.audit_id, sizeof(c.audit_id), "AUDIT");
    c.issued_at_ms = 1000;
    memset(&ev, 0, sizeof(ev));
    ev.issued_before_ms = 1000;
    ev.expires_ms = 5000;
    assert_false(st_revoke_event_matches(&ev, &c)); /* names nothing */
    snprintf(ev.user_id, sizeof(ev.user_id), "u1");
    assert_true(st_revoke_event_matches(&ev, &c));
    c.issued_at_ms = 1001; /* issued after the event: a new login is fine */
    assert_false(st_revoke_event_matches(&ev, &c));
    c.issued_at_ms = 999;
    snprintf(ev.project_id, sizeof(ev.project_id), "p2");
    assert_false(st_revoke_event_matches(&ev, &c));
    snprintf(ev.project_id, sizeof(ev.project_id), "p1");
    snprintf(ev.role, sizeof(ev.role), "admin");
    assert_false(st_revoke_event_matches(&ev, &c));
    snprintf(ev.role, sizeof(ev.role), "member");
    assert_true(st_revoke_event_matches(&ev, &c));
    memset(&ev, 0, sizeof(ev));
    ev.issued_before_ms = 2000;
    snprintf(ev.audit_id, sizeof(ev.audit_id), "AUDIT");
    assert_true(st_revoke_event_matches(&ev, &c));
    snprintf(ev.audit_id, sizeof(ev.audit_id), "OTHER");
    assert_false(st_revoke_event_matches(&ev, &c));
    memset(&ev, 0, sizeof(ev));
    ev.issued_before_ms = 2000;
    snprintf(ev.app_cred_id, sizeof(ev.app_cred_id), "ac");
    assert_false(st_revoke_event_matches(&ev, &c));
    snprintf(c.app_cred_id, sizeof(c.app_cred_id), "ac");
    assert_true(st_revoke_event_matches(&ev, &c));
    c.bootstrap = true; /* the config's admin token is not revocable */
    assert_false(st_revoke_event_matches(&ev, &c));

    /* JSON round trip, and what is not an event. */
    snprintf(ev.user_id, sizeof(ev.user_id), "u9");
    ev.expires_ms = 77;
    j = st_revoke_event_to_json(&ev);
    assert_non_null(j);
    assert_int_equal(st_revoke_event_from_json(j, &back), 0);
    assert_memory_equal(&back, &ev, sizeof(ev));
    json_decref(j);
    j = json_pack("{s:s}", "user_id", "u");
    assert_int_equal(st_revoke_event_from_json(j, &back), -EINVAL);
    json_decref(j);
    j = json_pack("{s:I, s:I, s:i}", "issued_before", (json_int_t)1, "expires", (json_int_t)2,
                  "user_id", 3);
    assert_int_equal(st_revoke_event_from_json(j, &back), -EINVAL);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_forged),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_payload_checked_after_mac),
        cmocka_unit_test(test_admin_token),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_any_role),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_revoke_events),
    };

    st_log_init("test", ST_LOG_INFO);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
