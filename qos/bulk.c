/* bulk.c — a daemon's bulk-copy limits (daemon-wide and per copy) over the
 * token buckets of bucket.c. */
#include <errno.h>

#include "strata/qos_bulk.h"

static int bps_throttle(uint64_t bps, struct qos_throttle **out)
{
    struct qos_policy p = { 0 };

    *out = NULL;
    if (bps == 0)
        return 0;
    p.lim[QOS_TOTAL][QOS_BPS].avg = bps;
    return qos_throttle_create(&p, qos_now_ns(), out);
}

int qos_bulk_init(struct qos_bulk *b, uint64_t daemon_bps, uint64_t copy_bps)
{
    b->copy_bps = copy_bps;
    return bps_throttle(daemon_bps, &b->daemon);
}

void qos_bulk_cleanup(struct qos_bulk *b)
{
    qos_throttle_destroy(b->daemon);
    b->daemon = NULL;
}

int qos_bulk_copy_begin(const struct qos_bulk *b, struct qos_bulk_copy *c)
{
    c->ts[0] = b->daemon;
    return bps_throttle(b->copy_bps, &c->ts[1]);
}

void qos_bulk_copy_end(struct qos_bulk_copy *c)
{
    qos_throttle_destroy(c->ts[1]);
    c->ts[0] = c->ts[1] = NULL;
}

bool qos_bulk_copy_limited(const struct qos_bulk_copy *c)
{
    return c->ts[0] || c->ts[1];
}

int qos_bulk_copy_pace(void *arg, uint64_t bytes)
{
    struct qos_bulk_copy *c = arg;

    qos_throttle_wait(c->ts, 2, QOS_WRITE, bytes);
    return 0;
}
