/* meta.h — the metadata store: typed JSON records kept in RADOS omap.
 * Each kind is one object in the metadata pool; every write is one RADOS write
 * op guarded by omap_cmp on the record's version (compare-and-swap), so two
 * daemons racing on a record cannot lose an update: one wins, one gets -ECANCELED. */
#ifndef STRATA_META_H
#define STRATA_META_H

#include <jansson.h>
#include <rados/librados.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ST_META_ID_MAX 128

/* A record kind: its name names the RADOS object ("volume", "image", ...);
 * validate (optional) checks a record body before every write (-EINVAL). */
struct st_meta_kind {
    const char *name;
    int (*validate)(const json_t *data);
};

struct st_meta;

/* ioctx is borrowed (must outlive the store).  Records of every kind live in
 * the ioctx's current namespace. */
int st_meta_open(rados_ioctx_t ioctx, struct st_meta **out);
void st_meta_close(struct st_meta *m);

struct st_record {
    char id[ST_META_ID_MAX + 1];
    uint64_t version;   /* +1 per successful update; a new record starts above
                         * every version a deleted record of the same kind
                         * reached (1 in a fresh kind), so a version held from
                         * a deleted record never matches its re-creation */
    json_t *data;       /* a JSON object; owned by the record */
};
void st_record_cleanup(struct st_record *r);
/* A record body's conventions, shared by every service: its string field
 * (NULL when absent or not a string); its private object "_s" (never shown by
 * an API; made when missing); whether it is deleted but kept ("_s".deleted). */
const char *st_rec_str(const json_t *data, const char *key);
json_t *st_rec_private(json_t *data);
bool st_rec_hidden(const json_t *data);

/* Create; -EEXIST if the id exists.  data is not stolen.  *version (optional)
 * receives the new record's first version. */
int st_meta_create(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                   const json_t *data, uint64_t *version);
/* Create with its lease in the same write (crash-safe start of a long
 * operation: no window where the record exists without an owner). */
int st_meta_create_leased(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                          const json_t *data, const char *owner, const char *op,
                          int64_t now_ms, int64_t ttl_ms, uint64_t *version);
/* Get; -ENOENT if missing. */
int st_meta_get(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                struct st_record *out);
/* Compare-and-swap: writes data only if the stored version is `expected`;
 * -ECANCELED if it is not (someone else wrote first), -ENOENT if gone. */
int st_meta_update(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                   uint64_t expected, const json_t *data, uint64_t *new_version);
/* Delete the record (and its lease); expected 0 = whatever the version.
 * -ECANCELED on a version mismatch, -ENOENT if missing. */
int st_meta_delete(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                   uint64_t expected);

/* Read-modify-write with retries on conflict: fn edits a copy of the current
 * data in place and returns 0 to write it, 1 to leave the record unchanged,
 * or a negative errno to abort.  *out (optional) receives the stored result. */
typedef int (*st_meta_modify_fn)(json_t *data, void *arg);
int st_meta_modify(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                   st_meta_modify_fn fn, void *arg, struct st_record *out);

/* The same, fenced: the write also requires that `owner` still holds the
 * record's lease (-ESTALE once another owner took it over, even if our lease
 * merely expired and nobody else took it the write is allowed).  Use it for
 * every step of a leased operation, so a process that lost its lease (paused,
 * partitioned) can never overwrite its successor's work. */
int st_meta_modify_as(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                      const char *owner, st_meta_modify_fn fn, void *arg, struct st_record *out);

/* Listing: records in id order after `marker` (NULL = from the start), at most
 * `limit` (0 = default 1000) that match every filter (top-level field equals
 * string value; a NULL value matches a JSON null or absent field) and the
 * optional predicate.  truncated/next_marker say whether more may follow. */
struct st_meta_filter {
    const char *field;
    const char *value;
};
typedef bool (*st_meta_pred_fn)(const json_t *data, void *arg);
struct st_record_list {
    struct st_record *items;
    size_t count;
    bool truncated;
    char next_marker[ST_META_ID_MAX + 1];
};
int st_meta_list(struct st_meta *m, const struct st_meta_kind *k, const char *marker,
                 size_t limit, const struct st_meta_filter *filters, size_t nfilters,
                 st_meta_pred_fn pred, void *pred_arg, struct st_record_list *out);
void st_record_list_cleanup(struct st_record_list *l);
/* Every record of kind k that pred accepts (NULL: all), page after page, as a
 * new array of their data: 0 or -errno. */
int st_meta_list_all(struct st_meta *m, const struct st_meta_kind *k, st_meta_pred_fn pred,
                     void *pred_arg, json_t **out);

/* ---- leases on records (DESIGN.md §2.3) ----
 * A lease sits beside the record (its own omap key, so renewing it does not
 * bump the record's version): owner, expiry (ms since epoch) and the operation
 * in progress.  Owners are "<node>/<incarnation>" strings (st_lease_owner_new). */
struct st_lease {
    char owner[128];
    int64_t expires_ms;
    char op[64];        /* e.g. "create", "delete", "extend" */
};

/* Take the lease: -EBUSY while anyone (this owner too: one operation per
 * record at a time) holds a lease that is not stale at now_ms, -ENOENT if the
 * record does not exist.  Use st_lease_renew to extend a lease one holds. */
int st_lease_acquire(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                     const char *owner, const char *op, int64_t now_ms, int64_t ttl_ms);
/* Extend our lease: -ESTALE if we no longer hold it. */
int st_lease_renew(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                   const char *owner, int64_t now_ms, int64_t ttl_ms);
/* Drop our lease (no-op success if already gone): -ESTALE if another holds it. */
int st_lease_release(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                     const char *owner);
/* Read a record's lease: -ENOENT if none. */
int st_lease_get(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                 struct st_lease *out);
/* True if `l` is expired at now_ms, or was held by an earlier incarnation of
 * `self_owner`'s node (that process is gone: its work may be taken over). */
bool st_lease_is_stale(const struct st_lease *l, const char *self_owner, int64_t now_ms);
/* Make an owner id "<node>/<random incarnation>" into buf. */
int st_lease_owner_new(const char *node, char *buf, size_t len);

/* Reconcile: call fn for every lease of kind k that is stale for self_owner at
 * now_ms (the process that held it died).  fn takes the lease over with
 * st_lease_acquire and resumes or fails the operation; its errors are logged
 * and the pass goes on.  Returns the number of stale leases seen, or -errno. */
typedef int (*st_lease_reconcile_fn)(struct st_meta *m, const char *id,
                                     const struct st_lease *l, void *arg);
int st_lease_reconcile(struct st_meta *m, const struct st_meta_kind *k,
                       const char *self_owner, int64_t now_ms,
                       st_lease_reconcile_fn fn, void *arg);

#endif
