/* revoke.h — the token revocation list: small events in one RADOS object of
 * the metadata pool that every daemon mirrors in memory (a watch for prompt
 * notice plus a periodic refresh), so a revoked token stops working everywhere
 * within seconds while tokens stay stateless. */
#ifndef STRATA_REVOKE_H
#define STRATA_REVOKE_H

#include <jansson.h>
#include <rados/librados.h>
#include <stdbool.h>
#include <stdint.h>

#include "strata/auth.h"

#define ST_REVOKE_OID "strata.revocations"

/* One event: a token is revoked when every non-empty field equals the
 * token's and it was issued at or before issued_before_ms (Keystone's
 * revocation events).  expires_ms: when no token it can match is still valid,
 * so the event can be dropped. */
struct st_revoke_event {
    char audit_id[ST_AUDIT_ID_MAX + 1];
    char user_id[ST_ID_MAX + 1];
    char project_id[ST_ID_MAX + 1];
    char role[32];
    char app_cred_id[ST_ID_MAX + 1];
    int64_t issued_before_ms;
    int64_t expires_ms;
};

/* ---- pure parts (unit-tested) ---- */
bool st_revoke_event_matches(const struct st_revoke_event *ev, const struct st_auth_ctx *ctx);
/* JSON form of an event, as stored; NULL when out of memory. */
json_t *st_revoke_event_to_json(const struct st_revoke_event *ev);
/* -EINVAL for a value that is not a well-formed event (it is then ignored). */
int st_revoke_event_from_json(const json_t *v, struct st_revoke_event *out);

/* ---- the mirror every daemon keeps ---- */
struct st_revoke;

/* Create the object if needed, load it, watch it and refresh it every
 * refresh_ms on a thread of its own.  ioctx is borrowed (metadata pool). */
int st_revoke_create(rados_ioctx_t ioctx, int64_t refresh_ms, struct st_revoke **out);
void st_revoke_destroy(struct st_revoke *rv);
/* Whether ctx's token is revoked by an event of the last list loaded.
 * Thread-safe; never does I/O. */
bool st_revoke_check(struct st_revoke *rv, const struct st_auth_ctx *ctx);
/* Reload now: 0 or -errno (the previous list stays in force on failure). */
int st_revoke_refresh(struct st_revoke *rv);
/* Events in the mirror (for tests and metrics). */
size_t st_revoke_count(struct st_revoke *rv);

/* ---- writing (the identity service) ---- */
/* Add ev (dropping events expired at now_ms in the same write) and notify
 * every watcher, waiting up to notify_timeout_ms for them to reload.
 * 0 once the event is stored (a late watcher is not an error), or -errno. */
int st_revoke_add(rados_ioctx_t ioctx, const struct st_revoke_event *ev, int64_t now_ms,
                  int64_t notify_timeout_ms);

#endif
