/* bucket.c — the token-bucket engine: per limit a bucket refilled at its
 * average rate (sized for 100 ms, or for the configured burst on top of it)
 * and, with a burst, a peak bucket refilled at the burst rate.  A request may
 * go while every bucket it draws on holds tokens; it may leave one in debt, so
 * requests larger than a bucket pass and the long-run average is the limit. */
#include "strata/qos_bucket.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS 1000000000.0
#define BASE_SECONDS 0.1   /* a bucket without burst holds 100 ms of traffic */

struct bucket {
    double rate;     /* tokens per second; 0 = this bucket is unused */
    double cap;      /* most tokens it holds */
    double tokens;   /* may go below zero (debt) */
};

/* [dir][unit][0 = average, 1 = peak] */
struct qos_throttle {
    pthread_mutex_t lock;
    struct qos_policy policy;
    struct bucket b[QOS_NDIR][QOS_NUNIT][2];
    int64_t last_ns;
};

/* Size the buckets of limit l; levels are kept but capped. */
static void size_buckets(struct bucket b[2], const struct qos_limit *l)
{
    double avg = (double)l->avg, max = (double)l->max;
    double len = l->max_length ? (double)l->max_length : 1.0;

    b[0].rate = avg;
    b[1].rate = 0;
    if (avg <= 0)
        return;
    b[0].cap = fmax(avg * BASE_SECONDS, 1.0);
    if (max > avg) {
        /* at the peak the average bucket drains at max - avg: it lasts len seconds */
        b[0].cap += (max - avg) * len;
        b[1].rate = max;
        b[1].cap = fmax(max * BASE_SECONDS, 1.0);
    }
    for (int i = 0; i < 2; i++)
        if (b[i].tokens > b[i].cap)
            b[i].tokens = b[i].cap;
}

static void size_all(struct qos_throttle *t, bool fill)
{
    for (int d = 0; d < QOS_NDIR; d++) {
        for (int u = 0; u < QOS_NUNIT; u++) {
            struct bucket *b = t->b[d][u];
            size_buckets(b, &t->policy.lim[d][u]);
            if (fill) {
                b[0].tokens = b[0].cap;
                b[1].tokens = b[1].cap;
            }
        }
    }
}

int qos_throttle_create(const struct qos_policy *p, int64_t now_ns, struct qos_throttle **out)
{
    struct qos_throttle *t = calloc(1, sizeof(*t));

    if (!t)
        return -ENOMEM;
    pthread_mutex_init(&t->lock, NULL);
    t->policy = *p;
    t->last_ns = now_ns;
    size_all(t, true);
    *out = t;
    return 0;
}

void qos_throttle_destroy(struct qos_throttle *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* Add what flowed in since the last look (under the lock). */
static void refill(struct qos_throttle *t, int64_t now_ns)
{
    double dt = now_ns > t->last_ns ? (double)(now_ns - t->last_ns) / NS : 0;

    if (now_ns > t->last_ns)
        t->last_ns = now_ns;
    for (int d = 0; d < QOS_NDIR; d++)
        for (int u = 0; u < QOS_NUNIT; u++)
            for (int k = 0; k < 2; k++) {
                struct bucket *b = &t->b[d][u][k];
                if (b->rate > 0)
                    b->tokens = fmin(b->cap, b->tokens + b->rate * dt);
            }
}

void qos_throttle_set(struct qos_throttle *t, const struct qos_policy *p, int64_t now_ns)
{
    pthread_mutex_lock(&t->lock);
    refill(t, now_ns);
    t->policy = *p;
    size_all(t, false);
    pthread_mutex_unlock(&t->lock);
}

/* The units a request costs in each unit: bytes, and ops (a request larger
 * than size_iops counts as bytes / size_iops ops, as QEMU's iops-size). */
static double cost(const struct qos_throttle *t, enum qos_unit u, uint64_t bytes)
{
    if (u == QOS_BPS)
        return (double)bytes;
    if (t->policy.size_iops && bytes > t->policy.size_iops)
        return (double)bytes / (double)t->policy.size_iops;
    return 1.0;
}

/* The longest wait among the buckets a request in dir draws on (total's and
 * dir's, average and peak): seconds until none of them is in debt. */
static double worst_wait(struct qos_throttle *t, enum qos_dir dir)
{
    double w = 0;
    enum qos_dir dirs[2] = { QOS_TOTAL, dir };

    for (int i = 0; i < (dir == QOS_TOTAL ? 1 : 2); i++)
        for (int u = 0; u < QOS_NUNIT; u++)
            for (int k = 0; k < 2; k++) {
                const struct bucket *b = &t->b[dirs[i]][u][k];
                if (b->rate > 0 && b->tokens < 0)
                    w = fmax(w, -b->tokens / b->rate);
            }
    return w;
}

static void charge(struct qos_throttle *t, enum qos_dir dir, uint64_t bytes)
{
    enum qos_dir dirs[2] = { QOS_TOTAL, dir };

    for (int i = 0; i < (dir == QOS_TOTAL ? 1 : 2); i++)
        for (int u = 0; u < QOS_NUNIT; u++)
            for (int k = 0; k < 2; k++) {
                struct bucket *b = &t->b[dirs[i]][u][k];
                if (b->rate > 0)
                    b->tokens -= cost(t, (enum qos_unit)u, bytes);
            }
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(struct qos_throttle *const *)a;
    uintptr_t y = (uintptr_t)*(struct qos_throttle *const *)b;

    return x < y ? -1 : x > y;
}

#define MAX_THROTTLES 8

int64_t qos_throttle_try(struct qos_throttle *const *ts, size_t n, enum qos_dir dir,
                         uint64_t bytes, int64_t now_ns)
{
    struct qos_throttle *set[MAX_THROTTLES];
    size_t m = 0;
    double w = 0;

    for (size_t i = 0; i < n && m < MAX_THROTTLES; i++) {
        bool dup = false;
        for (size_t j = 0; ts[i] && j < m; j++)
            dup = dup || set[j] == ts[i];
        if (ts[i] && !dup)
            set[m++] = ts[i];
    }
    qsort(set, m, sizeof(set[0]), by_address);   /* one lock order: no deadlock */
    for (size_t i = 0; i < m; i++) {
        pthread_mutex_lock(&set[i]->lock);
        refill(set[i], now_ns);
        w = fmax(w, worst_wait(set[i], dir));
    }
    for (size_t i = 0; w == 0 && i < m; i++)
        charge(set[i], dir, bytes);
    for (size_t i = m; i > 0; i--)
        pthread_mutex_unlock(&set[i - 1]->lock);
    return w == 0 ? 0 : (int64_t)ceil(w * NS);
}

int64_t qos_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t qos_throttle_wait(struct qos_throttle *const *ts, size_t n, enum qos_dir dir,
                          uint64_t bytes)
{
    int64_t slept = 0, w;

    while ((w = qos_throttle_try(ts, n, dir, bytes, qos_now_ns())) > 0) {
        struct timespec d = { (time_t)(w / 1000000000LL), (long)(w % 1000000000LL) };
        while (nanosleep(&d, &d) < 0 && errno == EINTR)
            ;
        slept += w;
    }
    return slept;
}
