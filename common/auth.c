/* auth.c — stateless bearer tokens every daemon can check with the shared key:
 *   "st1." b64url(JSON {u,p,r,e,iat,n[,m][,ac]}) "." b64url(HMAC-SHA256(key, "st1." payload))
 * (e: expiry in unix seconds, iat: issue time in ms, n: the audit id, m: the
 * methods, ac: the application credential), checked against the current key
 * and any previous keys of a rotation, plus the bootstrap admin token from
 * config, compared by SHA-256 digest. */
#include "strata/auth.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_PREFIX "st1."
#define TOKEN_PREFIX_LEN 4
#define TOKEN_MAX 4096         /* longer strings are refused before any work */
#define KEY_MIN 32
#define ROLE_MAX 31
#define NONCE_LEN 16
#define MAC_LEN 32             /* SHA-256 */
#define MAC_B64_LEN 43         /* b64url of 32 bytes, no padding */
#define EXTRA_KEYS_MAX 4

struct auth_key {
    unsigned char *key;
    size_t keylen;
};

struct st_auth {
    unsigned char *key;
    size_t keylen;
    struct auth_key extra[EXTRA_KEYS_MAX]; /* verify-only, from a rotation */
    int nextra;
    bool has_admin;
    unsigned char admin_digest[SHA256_DIGEST_LENGTH];
    char admin_project[ST_ID_MAX + 1];
};

int st_auth_create(const unsigned char *key, size_t keylen, const char *admin_token,
                   const char *admin_project_id, struct st_auth **out)
{
    struct st_auth *a;

    if (!key || keylen < KEY_MIN || keylen > INT_MAX || !out)
        return -EINVAL;
    if (!admin_project_id || !*admin_project_id)
        admin_project_id = "admin";
    if (strlen(admin_project_id) > ST_ID_MAX)
        return -EINVAL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->key = malloc(keylen);
    if (!a->key) {
        free(a);
        return -ENOMEM;
    }
    memcpy(a->key, key, keylen);
    a->keylen = keylen;
    if (admin_token && *admin_token) {
        /* Only the digest is kept: enough to compare, nothing to leak. */
        SHA256((const unsigned char *)admin_token, strlen(admin_token), a->admin_digest);
        a->has_admin = true;
    }
    strcpy(a->admin_project, admin_project_id);
    *out = a;
    return 0;
}

void st_auth_destroy(struct st_auth *a)
{
    if (!a)
        return;
    if (a->key) {
        OPENSSL_cleanse(a->key, a->keylen);
        free(a->key);
    }
    for (int i = 0; i < a->nextra; i++) {
        OPENSSL_cleanse(a->extra[i].key, a->extra[i].keylen);
        free(a->extra[i].key);
    }
    OPENSSL_cleanse(a, sizeof(*a));
    free(a);
}

int st_auth_add_key(struct st_auth *a, const unsigned char *key, size_t keylen)
{
    struct auth_key *k;

    if (!a || !key || keylen < KEY_MIN || keylen > INT_MAX)
        return -EINVAL;
    if (a->nextra >= EXTRA_KEYS_MAX)
        return -E2BIG;
    k = &a->extra[a->nextra];
    k->key = malloc(keylen);
    if (!k->key)
        return -ENOMEM;
    memcpy(k->key, key, keylen);
    k->keylen = keylen;
    a->nextra++;
    return 0;
}

/* ---- base64url without padding (OpenSSL does the coding) ---- */

/* Encode into a malloc'd NUL-terminated string; NULL when out of memory. */
static char *b64url_encode(const unsigned char *in, size_t len)
{
    char *out;
    int n;

    if (len > INT_MAX / 2)
        return NULL;
    out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (int i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return out;
}

/* Decode `len` chars of b64url into a malloc'd buffer (NUL-terminated for
 * convenience): 0, -EINVAL (bad alphabet or length) or -ENOMEM. */
static int b64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
    size_t padded = (len + 3) / 4 * 4;
    unsigned char *tmp, *buf;
    int n;

    if (len == 0 || len % 4 == 1 || len > INT_MAX / 2)
        return -EINVAL;
    tmp = malloc(padded + 1);
    buf = malloc(padded / 4 * 3 + 1);
    if (!tmp || !buf) {
        free(tmp);
        free(buf);
        return -ENOMEM;
    }
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            goto bad;
        tmp[i] = (unsigned char)c;
    }
    memset(tmp + len, '=', padded - len);
    tmp[padded] = '\0';
    n = EVP_DecodeBlock(buf, tmp, (int)padded);
    if (n < 0 || (size_t)n < padded - len)
        goto bad;
    n -= (int)(padded - len); /* EVP_DecodeBlock counts the padding as zero bytes */
    buf[n] = '\0';
    free(tmp);
    *out = buf;
    *outlen = (size_t)n;
    return 0;
bad:
    free(tmp);
    free(buf);
    return -EINVAL;
}

/* b64url(HMAC-SHA256(key, data)) into out[MAC_B64_LEN + 1]. */
static int sign(const unsigned char *key, size_t keylen, const char *data, size_t len, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char *b64;

    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, len, mac,
              &maclen) ||
        maclen != MAC_LEN)
        return -EIO;
    b64 = b64url_encode(mac, maclen);
    OPENSSL_cleanse(mac, sizeof(mac));
    if (!b64)
        return -ENOMEM;
    memcpy(out, b64, MAC_B64_LEN + 1);
    free(b64);
    return 0;
}

static bool valid_id(const char *s, size_t max, bool empty_ok)
{
    size_t n = strnlen(s, max + 1);

    return n <= max && (empty_ok || n > 0);
}

/* ---- issuing ---- */

int st_auth_issue(const struct st_auth *a, const struct st_auth_ctx *ctx, int64_t expires_at,
                  char **out)
{
    unsigned char nonce[NONCE_LEN];
    char mac[MAC_B64_LEN + 1];
    char *nonce_b64 = NULL, *json = NULL, *payload = NULL, *token = NULL;
    json_t *roles = NULL, *obj = NULL;
    struct timespec ts;
    size_t plen;
    int rc = -EINVAL;

    if (!a || !ctx || !out || expires_at <= 0 || !valid_id(ctx->user_id, ST_ID_MAX, false) ||
        !valid_id(ctx->project_id, ST_ID_MAX, true) || ctx->nroles < 0 ||
        ctx->nroles > ST_ROLES_MAX || !valid_id(ctx->app_cred_id, ST_ID_MAX, true) ||
        (ctx->methods & ~(ST_AUTH_M_PASSWORD | ST_AUTH_M_TOKEN | ST_AUTH_M_APPCRED)))
        return -EINVAL;
    clock_gettime(CLOCK_REALTIME, &ts);
    roles = json_array();
    if (!roles)
        return -ENOMEM;
    for (int i = 0; i < ctx->nroles; i++) {
        if (!valid_id(ctx->roles[i], ROLE_MAX, false))
            goto out;
        if (json_array_append_new(roles, json_string(ctx->roles[i])) < 0) {
            rc = -ENOMEM;
            goto out;
        }
    }
    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        rc = -EIO;
        goto out;
    }
    rc = -ENOMEM;
    nonce_b64 = b64url_encode(nonce, sizeof(nonce));
    if (!nonce_b64)
        goto out;
    obj = json_pack("{s:s, s:s, s:O, s:I, s:I, s:s}", "u", ctx->user_id, "p", ctx->project_id,
                    "r", roles, "e", (json_int_t)expires_at, "iat",
                    (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, "n", nonce_b64);
    if (!obj)
        goto out;
    if (ctx->methods && json_object_set_new(obj, "m", json_integer(ctx->methods)) < 0)
        goto out;
    if (ctx->app_cred_id[0] && json_object_set_new(obj, "ac", json_string(ctx->app_cred_id)) < 0)
        goto out;
    json = json_dumps(obj, JSON_COMPACT);
    if (!json)
        goto out;
    payload = b64url_encode((const unsigned char *)json, strlen(json));
    if (!payload)
        goto out;
    plen = strlen(payload);
    token = malloc(TOKEN_PREFIX_LEN + plen + 1 + MAC_B64_LEN + 1);
    if (!token)
        goto out;
    memcpy(token, TOKEN_PREFIX, TOKEN_PREFIX_LEN);
    memcpy(token + TOKEN_PREFIX_LEN, payload, plen);
    rc = sign(a->key, a->keylen, token, TOKEN_PREFIX_LEN + plen, mac);
    if (rc < 0)
        goto out;
    token[TOKEN_PREFIX_LEN + plen] = '.';
    memcpy(token + TOKEN_PREFIX_LEN + plen + 1, mac, MAC_B64_LEN + 1);
    *out = token;
    token = NULL;
    rc = 0;
out:
    free(token);
    free(payload);
    free(json);
    free(nonce_b64);
    json_decref(obj);
    json_decref(roles);
    return rc;
}

/* ---- verifying ---- */

/* Copy a JSON string of 0..max chars (min_len..) with no NUL inside. */
static bool take_string(json_t *v, char *dst, size_t max, size_t min_len)
{
    size_t n;

    if (!json_is_string(v))
        return false;
    n = json_string_length(v);
    if (n < min_len || n > max || strlen(json_string_value(v)) != n)
        return false;
    memcpy(dst, json_string_value(v), n + 1);
    return true;
}

/* Decode and check the payload's fields and types into ctx. */
static int parse_payload(const char *b64, size_t len, struct st_auth_ctx *ctx)
{
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    json_t *obj, *roles, *v;
    size_t i;
    int rc = -EACCES;

    if (b64url_decode(b64, len, &raw, &rawlen) < 0)
        return -EACCES;
    obj = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (!json_is_object(obj))
        goto out;
    if (!take_string(json_object_get(obj, "u"), ctx->user_id, ST_ID_MAX, 1) ||
        !take_string(json_object_get(obj, "p"), ctx->project_id, ST_ID_MAX, 0))
        goto out;
    roles = json_object_get(obj, "r");
    if (!json_is_array(roles) || json_array_size(roles) > ST_ROLES_MAX)
        goto out;
    json_array_foreach(roles, i, v) {
        if (!take_string(v, ctx->roles[i], ROLE_MAX, 1))
            goto out;
    }
    ctx->nroles = (int)json_array_size(roles);
    v = json_object_get(obj, "e");
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        goto out;
    ctx->expires_at = json_integer_value(v);
    v = json_object_get(obj, "iat");
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        goto out;
    ctx->issued_at_ms = json_integer_value(v);
    if (!take_string(json_object_get(obj, "n"), ctx->audit_id, ST_AUDIT_ID_MAX, 1))
        goto out;
    v = json_object_get(obj, "m");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 7))
        goto out;
    ctx->methods = v ? (unsigned)json_integer_value(v) : 0;
    v = json_object_get(obj, "ac");
    if (v && !take_string(v, ctx->app_cred_id, ST_ID_MAX, 1))
        goto out;
    rc = 0;
out:
    json_decref(obj);
    return rc;
}

static void admin_ctx(const struct st_auth *a, struct st_auth_ctx *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    strcpy(ctx->user_id, "admin");
    strcpy(ctx->project_id, a->admin_project);
    strcpy(ctx->roles[0], "admin");
    ctx->nroles = 1;
    ctx->expires_at = 0;
    ctx->is_admin = true;
    ctx->bootstrap = true;
}

int st_auth_verify(const struct st_auth *a, const char *token, int64_t now,
                   struct st_auth_ctx *ctx)
{
    struct st_auth_ctx tmp;
    char mac[MAC_B64_LEN + 1];
    const char *dot;
    size_t len;
    int rc;

    if (!a || !ctx)
        return -EINVAL;
    if (!token)
        return -EACCES;
    len = strnlen(token, TOKEN_MAX + 1);
    if (len > TOKEN_MAX)
        return -EACCES;

    if (a->has_admin) {
        unsigned char digest[SHA256_DIGEST_LENGTH];
        bool match;

        SHA256((const unsigned char *)token, len, digest);
        match = CRYPTO_memcmp(digest, a->admin_digest, sizeof(digest)) == 0;
        OPENSSL_cleanse(digest, sizeof(digest));
        if (match) {
            admin_ctx(a, ctx);
            return 0;
        }
    }

    /* Structure: prefix, payload, one dot, a MAC of exactly 43 chars. */
    if (len < TOKEN_PREFIX_LEN + 2 + MAC_B64_LEN ||
        memcmp(token, TOKEN_PREFIX, TOKEN_PREFIX_LEN) != 0)
        return -EACCES;
    dot = token + len - MAC_B64_LEN - 1;
    if (*dot != '.' || memchr(token + TOKEN_PREFIX_LEN, '.', (size_t)(dot - token) -
                                                            TOKEN_PREFIX_LEN))
        return -EACCES;

    /* The MAC first: nothing in an unauthenticated payload is looked at.
     * Comparing the encodings keeps the check strict (no second spelling).
     * The current key, then the previous keys of a rotation. */
    rc = -EACCES;
    for (int i = -1; i < a->nextra && rc == -EACCES; i++) {
        const struct auth_key *k = i < 0 ? &(struct auth_key){a->key, a->keylen} : &a->extra[i];
        int src = sign(k->key, k->keylen, token, (size_t)(dot - token), mac);
        if (src < 0)
            return src;
        if (CRYPTO_memcmp(mac, dot + 1, MAC_B64_LEN) == 0)
            rc = 0;
    }
    if (rc < 0)
        return rc;

    memset(&tmp, 0, sizeof(tmp));
    rc = parse_payload(token + TOKEN_PREFIX_LEN, (size_t)(dot - token) - TOKEN_PREFIX_LEN,
                       &tmp);
    if (rc < 0)
        return rc;
    if (now >= tmp.expires_at)
        return -EKEYEXPIRED;
    tmp.is_admin = st_auth_has_role(&tmp, "admin");
    *ctx = tmp;
    return 0;
}

bool st_auth_has_role(const struct st_auth_ctx *ctx, const char *role)
{
    if (!ctx || !role)
        return false;
    for (int i = 0; i < ctx->nroles && i < ST_ROLES_MAX; i++)
        if (strcmp(ctx->roles[i], role) == 0)
            return true;
    return false;
}

bool st_auth_has_any_role(const struct st_auth_ctx *ctx, const char *csv)
{
    if (!ctx || !csv)
        return false;
    while (*csv) {
        size_t n;
        csv += strspn(csv, ", ");
        n = strcspn(csv, ", ");
        for (int i = 0; n && i < ctx->nroles && i < ST_ROLES_MAX; i++)
            if (strlen(ctx->roles[i]) == n && strncmp(ctx->roles[i], csv, n) == 0)
                return true;
        csv += n;
    }
    return false;
}

enum st_role_level st_auth_level(const struct st_auth_ctx *ctx)
{
    static const char *const names[] = { "reader", "member", "admin" };
    enum st_role_level best = ST_LEVEL_NONE;

    if (!ctx)
        return ST_LEVEL_NONE;
    for (int i = 0; i < ctx->nroles && i < ST_ROLES_MAX; i++) {
        for (int l = 0; l < 3; l++) {
            if (strcmp(ctx->roles[i], names[l]) == 0 && (int)best < l + 1)
                best = (enum st_role_level)(l + 1);
        }
    }
    return best;
}

const char *st_role_level_name(enum st_role_level l)
{
    switch (l) {
    case ST_LEVEL_READER: return "reader";
    case ST_LEVEL_MEMBER: return "member";
    case ST_LEVEL_ADMIN: return "admin";
    default: return NULL;
    }
}
