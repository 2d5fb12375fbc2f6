/* vol_quota.h — per-project quotas (Cinder's volumes, snapshots, gigabytes):
 * one record of kind "quota" per project (id = project id) holding explicit
 * limits (absent = the [blockd] quota_* defaults) and usage counters, both
 * changed by compare-and-swap.  Usage is reserved before a volume/snapshot
 * record is written and released when that record is finally deleted; the
 * records are the truth and reconcile recomputes usage from them.
 *
 * Crash window: a reservation whose record write never happened (process
 * died between the two writes), or a record deleted whose release never
 * happened, leaves usage off by that amount until a reconcile pass finds the
 * quota record quiet (unchanged for [lease] ttl) and rewrites usage. */
#ifndef BLOCKD_VOL_QUOTA_H
#define BLOCKD_VOL_QUOTA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct st_config;
struct st_meta;
struct vol_quota;

enum vq_res { VQ_VOLUMES, VQ_SNAPSHOTS, VQ_GIGABYTES, VQ_NRES };
#define VQ_UNLIMITED (-1)
#define VQ_LIMIT_MAX 2147483647LL

/* Cinder's names for the resources ("volumes", "snapshots", "gigabytes"). */
extern const char *const vq_names[VQ_NRES];

struct vq_counts {
    int64_t n[VQ_NRES];
};

/* ---- pure arithmetic ---- */
/* 0 if usage + delta stays within limit for every resource that grows
 * (negative deltas always fit; VQ_UNLIMITED never refuses); else -EDQUOT
 * and msg (len bytes) is Cinder's over-quota message for the first refused
 * resource. */
int vq_check(const struct vq_counts *limit, const struct vq_counts *usage,
             const struct vq_counts *delta, char *msg, size_t len);
/* usage += delta, never below 0. */
void vq_apply(struct vq_counts *usage, const struct vq_counts *delta);
/* A limit as a client sends it: a JSON integer or a string of one, in
 * -1..VQ_LIMIT_MAX.  0 or -EINVAL. */
int vq_parse_limit(const json_t *v, int64_t *out);
/* What a volume or snapshot record counts for: {1, 0, size} or {0, 1, size}
 * (sign -1 to release). */
void vq_of_record(const json_t *rec, bool snapshot, int sign, struct vq_counts *out);

/* ---- the service ---- */
/* Defaults from [blockd] quota_volumes/quota_snapshots/quota_gigabytes;
 * quiet_ms: how long a quota record must be unchanged before reconcile may
 * rewrite its usage. */
int vol_quota_create(struct st_meta *m, const struct st_config *c, int64_t quiet_ms,
                     struct vol_quota **out);
void vol_quota_destroy(struct vol_quota *q);
void vol_quota_defaults(const struct vol_quota *q, struct vq_counts *out);

/* Reserve delta for project: -EDQUOT with Cinder's message in msg (at least
 * 256 bytes) when over quota; the record is made on first use with usage
 * counted from the records. */
int vol_quota_reserve(struct vol_quota *q, const char *project, const struct vq_counts *delta,
                      char *msg);
/* Give back (delta positive: what was reserved).  Failures are logged. */
void vol_quota_release(struct vol_quota *q, const char *project, const struct vq_counts *delta);
/* Give back what a volume/snapshot record counted for (on its final delete). */
void vol_quota_release_record(struct vol_quota *q, const json_t *rec, bool snapshot);

/* Limits and usage of a project (defaults and counted usage if it has no
 * record yet). */
int vol_quota_get(struct vol_quota *q, const char *project, struct vq_counts *limit,
                  struct vq_counts *usage);
/* Set limits: set[i] says which of limit are given (others unchanged). */
int vol_quota_set(struct vol_quota *q, const char *project, const struct vq_counts *limit,
                  const bool set[VQ_NRES]);
/* Back to the defaults. */
int vol_quota_reset(struct vol_quota *q, const char *project);

/* Recompute usage from the records for every quiet quota record. */
void vol_quota_reconcile(struct vol_quota *q);

#endif
