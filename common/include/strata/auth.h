/* auth.h — stateless bearer tokens: HMAC-SHA256 (OpenSSL) over user, project,
 * roles and expiry, verifiable by every daemon with the shared key and no round
 * trip; plus the bootstrap admin token from config. */
#ifndef STRATA_AUTH_H
#define STRATA_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ST_ID_MAX 64
#define ST_ROLES_MAX 8

/* Who is calling: put on every authenticated request. */
struct st_auth_ctx {
    char user_id[ST_ID_MAX + 1];
    char project_id[ST_ID_MAX + 1];
    char roles[ST_ROLES_MAX][32];
    int nroles;
    int64_t expires_at;   /* unix seconds; 0 for the static admin token */
    bool is_admin;        /* has role "admin" */
};

struct st_auth;

/* key: the HMAC secret (at least 32 bytes); admin_token: the bootstrap token
 * (may be NULL = disabled) which maps to user "admin", project
 * admin_project_id, role admin.  Both are copied and wiped on destroy. */
int st_auth_create(const unsigned char *key, size_t keylen, const char *admin_token,
                   const char *admin_project_id, struct st_auth **out);
void st_auth_destroy(struct st_auth *a);

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

#endif
