/* auth.h — stateless bearer tokens: HMAC-SHA256 (OpenSSL) over user, project,
 * roles, expiry and an audit id, verifiable by every daemon with the shared key
 * (or a previous key during a rotation) and no round trip; the bootstrap admin
 * token from config; the role levels every API's policy is written in. */
#ifndef STRATA_AUTH_H
#define STRATA_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ST_ID_MAX 64
#define ST_ROLES_MAX 8
#define ST_AUDIT_ID_MAX 22   /* b64url of 16 random bytes */

/* How the token's holder authenticated (Keystone's "methods"). */
#define ST_AUTH_M_PASSWORD 0x1u
#define ST_AUTH_M_TOKEN    0x2u
#define ST_AUTH_M_APPCRED  0x4u

/* Role levels, implied downwards as Keystone's default implied roles are:
 * admin > member > reader.  Other role names carry no level. */
enum st_role_level { ST_LEVEL_NONE = 0, ST_LEVEL_READER = 1, ST_LEVEL_MEMBER = 2, ST_LEVEL_ADMIN = 3 };

/* Who is calling: put on every authenticated request. */
struct st_auth_ctx {
    char user_id[ST_ID_MAX + 1];
    char project_id[ST_ID_MAX + 1];
    char roles[ST_ROLES_MAX][32];
    int nroles;
    int64_t expires_at;   /* unix seconds; 0 for the static admin token */
    bool is_admin;        /* has role "admin" */
    /* Set by st_auth_verify from the token (issuing ignores them except
     * methods and app_cred_id): */
    char audit_id[ST_AUDIT_ID_MAX + 1]; /* unique per token: what revocation names */
    int64_t issued_at_ms;               /* 0 for the static admin token */
    unsigned methods;                   /* ST_AUTH_M_* */
    char app_cred_id[ST_ID_MAX + 1];    /* "" unless issued for an application credential */
    bool bootstrap;                     /* the static admin token from config */
};

struct st_auth;

/* key: the HMAC secret (at least 32 bytes); admin_token: the bootstrap token
 * (may be NULL = disabled) which maps to user "admin", project
 * admin_project_id, role admin.  Both are copied and wiped on destroy. */
int st_auth_create(const unsigned char *key, size_t keylen, const char *admin_token,
                   const char *admin_project_id, struct st_auth **out);
void st_auth_destroy(struct st_auth *a);
/* Also accept tokens signed with `key` (a previous token_key during a key
 * rotation: tokens it signed stay valid until they expire, new ones are
 * signed with the current key).  At most 4 extra keys; -E2BIG past that. */
int st_auth_add_key(struct st_auth *a, const unsigned char *key, size_t keylen);

/* Issue a token for ctx (roles, user, project) valid until expires_at.
 * *out is malloc'd; the caller frees it. */
int st_auth_issue(const struct st_auth *a, const struct st_auth_ctx *ctx,
                  int64_t expires_at, char **out);

/* Verify `token` at time `now` (unix seconds).  0 and *ctx filled on success;
 * -EACCES for a forged or malformed token, -EKEYEXPIRED when expired.
 * The MAC is compared in constant time. */
int st_auth_verify(const struct st_auth *a, const char *token, int64_t now,
                   struct st_auth_ctx *ctx);

bool st_auth_has_role(const struct st_auth_ctx *ctx, const char *role);
/* Whether ctx has one of the roles of csv ("admin, service": comma- or
 * space-separated names; exact matches, no levels implied). */
bool st_auth_has_any_role(const struct st_auth_ctx *ctx, const char *csv);
/* The highest level among ctx's roles (ST_LEVEL_NONE for none of them). */
enum st_role_level st_auth_level(const struct st_auth_ctx *ctx);
/* "admin", "member", "reader" (NULL for ST_LEVEL_NONE). */
const char *st_role_level_name(enum st_role_level l);

#endif
