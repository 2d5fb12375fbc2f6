/* qos_bulk.h — the pace of a daemon's own bulk copies (flattens, backups,
 * restores): one throttle all of a daemon's copies share and a limit per copy,
 * both in bytes per second, so background work cannot starve guests. */
#ifndef STRATA_QOS_BULK_H
#define STRATA_QOS_BULK_H

#include <stdbool.h>
#include <stdint.h>

#include "strata/qos_bucket.h"

/* A daemon's limits: shared by its copies, each copy its own per-copy bucket. */
struct qos_bulk {
    struct qos_throttle *daemon;   /* NULL: no daemon-wide limit */
    uint64_t copy_bps;             /* 0: no per-copy limit */
};

/* 0 or -ENOMEM; 0 bytes/s is "no limit" for either. */
int qos_bulk_init(struct qos_bulk *b, uint64_t daemon_bps, uint64_t copy_bps);
void qos_bulk_cleanup(struct qos_bulk *b);

/* One copy's pace: the daemon's throttle and a fresh one of its own. */
struct qos_bulk_copy {
    struct qos_throttle *ts[2];
};
int qos_bulk_copy_begin(const struct qos_bulk *b, struct qos_bulk_copy *c);
void qos_bulk_copy_end(struct qos_bulk_copy *c);
/* true when either limit applies (else the copy may run at full speed). */
bool qos_bulk_copy_limited(const struct qos_bulk_copy *c);
/* Wait until `bytes` more may be written by the copy (arg: its qos_bulk_copy);
 * always 0, in the shape of st_rbd_pace_fn. */
int qos_bulk_copy_pace(void *arg, uint64_t bytes);

#endif
