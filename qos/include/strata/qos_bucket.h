/* qos_bucket.h — token buckets for Strata's own I/O (copies, flattens,
 * backups): one throttle per policy, several buckets per request (IOPS and
 * bytes, total and read/write, a peak bucket for bursts), waits computed from
 * the buckets rather than polled, and "now" passed in so tests are exact. */
#ifndef STRATA_QOS_BUCKET_H
#define STRATA_QOS_BUCKET_H

#include <stddef.h>
#include <stdint.h>

#include "strata/qos.h"

struct qos_throttle;

/* A throttle enforcing the resolved policy p (a copy is kept), its buckets
 * full at now_ns.  0 or -ENOMEM. */
int qos_throttle_create(const struct qos_policy *p, int64_t now_ns, struct qos_throttle **out);
/* NULL is accepted. */
void qos_throttle_destroy(struct qos_throttle *t);
/* A new policy for a live throttle (levels kept, capped to the new sizes). */
void qos_throttle_set(struct qos_throttle *t, const struct qos_policy *p, int64_t now_ns);

/* A request of `bytes` in direction dir (QOS_READ or QOS_WRITE) through every
 * throttle of ts (n of them; NULL entries are no limit): 0 when it may go now
 * — and it is then charged to all of them — else the nanoseconds to wait
 * before asking again (nothing charged).  Thread-safe. */
int64_t qos_throttle_try(struct qos_throttle *const *ts, size_t n, enum qos_dir dir,
                         uint64_t bytes, int64_t now_ns);

/* qos_throttle_try on CLOCK_MONOTONIC, sleeping the waits it computes, until
 * the request went.  Returns the nanoseconds slept. */
int64_t qos_throttle_wait(struct qos_throttle *const *ts, size_t n, enum qos_dir dir,
                          uint64_t bytes);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t qos_now_ns(void);

#endif
