/* nameidx.h — unique names as claims in the metadata store: a name (within a
 * scope, e.g. a domain) is a record of its own kind keyed by the SHA-256 of
 * "<scope>\n<name>" and written with the store's create-exclusive write, so of
 * any number of racing creates of one name exactly one wins (-EEXIST for the rest). */
#ifndef STRATA_NAMEIDX_H
#define STRATA_NAMEIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/meta.h"

/* Whether the resource `owner_id` still exists (a claim whose owner is gone,
 * left by a crash between claim and create or delete and release, may be
 * taken over once it is older than the grace period). */
typedef bool (*st_name_alive_fn)(const char *owner_id, void *arg);

#define ST_NAME_GRACE_MS 30000

/* The usual owner: a record of one kind.  st_name_record_alive(owner, &recs)
 * says alive unless that record is missing (in doubt, e.g. Ceph trouble, alive). */
struct st_name_records {
    struct st_meta *meta;
    const struct st_meta_kind *kind;
};
bool st_name_record_alive(const char *owner_id, void *arg);

/* Claim `name` in `scope` for owner_id: 0 (also when owner_id holds it
 * already), -EEXIST when another live owner holds it, -EINVAL, -errno. */
int st_name_claim(struct st_meta *m, const struct st_meta_kind *k, const char *scope,
                  const char *name, const char *owner_id, st_name_alive_fn alive, void *arg,
                  int64_t now_ms);
/* The owner of `name` in `scope` into owner[len]: 0 or -ENOENT. */
int st_name_lookup(struct st_meta *m, const struct st_meta_kind *k, const char *scope,
                   const char *name, char *owner, size_t len);
/* Drop the claim if owner_id holds it (0 also when it is gone or another's). */
int st_name_release(struct st_meta *m, const struct st_meta_kind *k, const char *scope,
                    const char *name, const char *owner_id);

#endif
