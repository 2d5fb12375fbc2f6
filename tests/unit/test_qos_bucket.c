/* test_qos_bucket.c — qos/bucket.c on a fake clock: long runs average the
 * limit within 1%, bursts last their configured length, several buckets per
 * request, iops-size, live policy changes, and throttles shared by threads. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "strata/qos_bucket.h"
#include "strata/qos_bulk.h"

#define SEC 1000000000LL

/* Greedy client: at t, send as soon as allowed; count what went before end. */
static uint64_t run(struct qos_throttle *t, enum qos_dir dir, uint64_t bytes, int64_t *now,
                    int64_t end)
{
    uint64_t n = 0;
    struct qos_throttle *ts[] = { t };

    while (*now < end) {
        int64_t w = qos_throttle_try(ts, 1, dir, bytes, *now);
        if (w == 0)
            n++;
        else
            *now += w;
    }
    return n;
}

static struct qos_throttle *make(struct qos_policy *p, int64_t now)
{
    struct qos_throttle *t = NULL;

    assert_int_equal(qos_throttle_create(p, now, &t), 0);
    return t;
}

static void test_iops_average(void **state)
{
    static const uint64_t limits[] = { 1, 100, 500, 2000, 100000 };

    (void)state;
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        struct qos_policy p = { 0 };
        int64_t now = 0;
        p.lim[QOS_TOTAL][QOS_IOPS].avg = limits[i];
        struct qos_throttle *t = make(&p, now);
        uint64_t n = run(t, QOS_WRITE, 4096, &now, 600 * SEC);
        double avg = (double)n / 600.0;
        assert_true(avg >= limits[i] * 0.99 && avg <= limits[i] * 1.01);
        qos_throttle_destroy(t);
    }
    qos_throttle_destroy(NULL);
}

/* Requests larger than the bucket still pass, and bytes average the limit. */
static void test_bps_big_requests(void **state)
{
    struct qos_policy p = { 0 };
    int64_t now = 0;

    (void)state;
    p.lim[QOS_TOTAL][QOS_BPS].avg = 20000000;   /* 20 MB/s, bucket of 2 MB */
    struct qos_throttle *t = make(&p, now);
    uint64_t n = run(t, QOS_WRITE, 4 << 20, &now, 300 * SEC);
    double rate = (double)n * (4 << 20) / 300.0;
    assert_true(rate >= 20000000 * 0.99 && rate <= 20000000 * 1.01);
    qos_throttle_destroy(t);
}

/* 200 IOPS with a burst of 1000 for 3 s: after idle, ~1000/s for 3 s, then 200/s. */
static void test_burst_length(void **state)
{
    struct qos_policy p = { 0 };
    int64_t now = 0;

    (void)state;
    p.lim[QOS_TOTAL][QOS_IOPS] = (struct qos_limit){ .avg = 200, .max = 1000, .max_length = 3 };
    struct qos_throttle *t = make(&p, now);
    uint64_t s[8];
    for (int i = 0; i < 8; i++)
        s[i] = run(t, QOS_READ, 4096, &now, (i + 1) * SEC);
    /* the peak (plus the 100 ms buckets) for the configured 3 s: ~3,000 ops in all */
    assert_true(s[0] >= 1000 && s[0] <= 1130);
    assert_true(s[1] >= 990 && s[1] <= 1010);
    assert_true(s[0] + s[1] + s[2] >= 2900 && s[0] + s[1] + s[2] <= 3150);
    for (int i = 4; i < 8; i++)
        assert_true(s[i] >= 198 && s[i] <= 202);
    /* idle refills the burst */
    now += 10 * SEC;
    uint64_t again = run(t, QOS_READ, 4096, &now, now + SEC);
    assert_true(again >= 950);
    qos_throttle_destroy(t);
}

/* Several buckets: read limited by its own, and by total bytes; write untouched by read's. */
static void test_several_buckets(void **state)
{
    struct qos_policy p = { 0 };
    int64_t now = 0;

    (void)state;
    p.lim[QOS_READ][QOS_IOPS].avg = 100;
    p.lim[QOS_TOTAL][QOS_BPS].avg = 1 << 20;   /* 1 MiB/s: 256 × 4 KiB */
    struct qos_throttle *t = make(&p, now);
    uint64_t r = run(t, QOS_READ, 4096, &now, 100 * SEC);
    assert_true(r >= 9900 && r <= 10100);         /* read IOPS binds */
    int64_t start = now;
    uint64_t w = run(t, QOS_WRITE, 4096, &now, start + 100 * SEC);
    assert_true(w >= 25344 && w <= 25856);        /* the byte limit binds: 256/s */
    qos_throttle_destroy(t);
}

/* size_iops_sec: a 64 KiB request counts as 16 ops of 4 KiB. */
static void test_iops_size(void **state)
{
    struct qos_policy p = { 0 };
    int64_t now = 0;

    (void)state;
    p.lim[QOS_TOTAL][QOS_IOPS].avg = 1600;
    p.size_iops = 4096;
    struct qos_throttle *t = make(&p, now);
    uint64_t n = run(t, QOS_WRITE, 65536, &now, 100 * SEC);
    assert_true(n >= 9900 && n <= 10100);
    qos_throttle_destroy(t);
}

/* Two throttles (daemon + operation): the tighter one decides, both are charged. */
static void test_two_throttles(void **state)
{
    struct qos_policy a = { 0 }, b = { 0 };
    int64_t now = 0;

    (void)state;
    a.lim[QOS_TOTAL][QOS_IOPS].avg = 500;
    b.lim[QOS_TOTAL][QOS_IOPS].avg = 50;
    struct qos_throttle *ta = make(&a, now), *tb = make(&b, now);
    struct qos_throttle *ts[] = { ta, NULL, tb, ta };   /* NULLs and repeats are fine */
    uint64_t n = 0;
    while (now < 100 * SEC) {
        int64_t w = qos_throttle_try(ts, 4, QOS_WRITE, 1, now);
        if (w == 0)
            n++;
        else
            now += w;
    }
    assert_true(n >= 4950 && n <= 5050);
    /* a charged 5000 too: it has no room left for a burst beyond its 100 ms bucket */
    struct qos_throttle *only_a[] = { ta };
    uint64_t m = 0;
    while (qos_throttle_try(only_a, 1, QOS_WRITE, 1, now) == 0)
        m++;
    assert_true(m <= 51);
    qos_throttle_destroy(ta);
    qos_throttle_destroy(tb);
}

/* A live policy change: 200 → 400 IOPS, and a wait is computed, not polled. */
static void test_set_live(void **state)
{
    struct qos_policy p = { 0 };
    int64_t now = 0;

    (void)state;
    p.lim[QOS_TOTAL][QOS_IOPS].avg = 200;
    struct qos_throttle *t = make(&p, now);
    uint64_t a = run(t, QOS_WRITE, 4096, &now, 50 * SEC);
    p.lim[QOS_TOTAL][QOS_IOPS].avg = 400;
    qos_throttle_set(t, &p, now);
    int64_t start = now;
    uint64_t b = run(t, QOS_WRITE, 4096, &now, start + 50 * SEC);
    assert_true(a >= 9900 && a <= 10100);
    assert_true(b >= 19800 && b <= 20200);
    /* empty bucket: the next request waits exactly until one token is back */
    struct qos_throttle *ts[] = { t };
    while (qos_throttle_try(ts, 1, QOS_WRITE, 1, now) == 0)
        ;
    int64_t w = qos_throttle_try(ts, 1, QOS_WRITE, 1, now);
    assert_true(w > 0 && w <= SEC / 400 + 1);
    assert_int_equal(qos_throttle_try(ts, 1, QOS_WRITE, 1, now + w), 0);
    /* no limit at all: never waits */
    memset(&p, 0, sizeof(p));
    qos_throttle_set(t, &p, now);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(qos_throttle_try(ts, 1, QOS_READ, 1 << 20, now), 0);
    qos_throttle_destroy(t);
}

struct worker {
    struct qos_throttle *t;
    uint64_t n;
};

/* A daemon's bulk limits: unset is no throttle at all; the daemon-wide one is
 * shared by every copy, the per-copy one is each copy's own. */
static void test_bulk_copies(void **state)
{
    (void)state;
    struct qos_bulk none, b;
    struct qos_bulk_copy c1, c2;

    assert_int_equal(qos_bulk_init(&none, 0, 0), 0);
    assert_int_equal(qos_bulk_copy_begin(&none, &c1), 0);
    assert_false(qos_bulk_copy_limited(&c1));
    assert_int_equal(qos_bulk_copy_pace(&c1, 1 << 30), 0);   /* no limit: no wait */
    qos_bulk_copy_end(&c1);
    qos_bulk_cleanup(&none);

    assert_int_equal(qos_bulk_init(&b, 100000000, 1000000), 0);   /* 100 MB/s, 1 MB/s each */
    assert_int_equal(qos_bulk_copy_begin(&b, &c1), 0);
    assert_int_equal(qos_bulk_copy_begin(&b, &c2), 0);
    assert_true(qos_bulk_copy_limited(&c1));
    assert_ptr_equal(c1.ts[0], c2.ts[0]);
    assert_ptr_not_equal(c1.ts[1], c2.ts[1]);
    int64_t now = qos_now_ns();
    /* c1 spends its own second: it waits ~1 s, c2 does not */
    assert_int_equal(qos_throttle_try(c1.ts, 2, QOS_WRITE, 1000000, now), 0);
    int64_t w = qos_throttle_try(c1.ts, 2, QOS_WRITE, 1, now);
    assert_true(w > 800000000 && w <= 1000000000);
    assert_int_equal(qos_throttle_try(c2.ts, 2, QOS_WRITE, 1000000, now), 0);
    qos_bulk_copy_end(&c2);
    /* the daemon's bucket is shared: once the copies have drained it, a
     * fresh copy with a full bucket of its own waits on it */
    assert_int_equal(qos_throttle_try(&c1.ts[0], 1, QOS_WRITE, 20000000, now), 0);
    assert_int_equal(qos_bulk_copy_begin(&b, &c2), 0);
    assert_true(qos_throttle_try(c2.ts, 2, QOS_WRITE, 1, now) > 0);
    qos_bulk_copy_end(&c1);
    qos_bulk_copy_end(&c2);
    qos_bulk_cleanup(&b);
}

static void *hammer(void *arg)
{
    struct worker *w = arg;
    struct qos_throttle *ts[] = { w->t };

    for (int i = 0; i < 20; i++) {
        qos_throttle_wait(ts, 1, QOS_WRITE, 1);
        w->n++;
    }
    return NULL;
}

/* Real clock, four threads on one throttle of 200 IOPS: 80 requests take ~0.4 s
 * beyond the 20 the bucket held (bounds loose: this machine is noisy). */
static void test_threads_real_clock(void **state)
{
    struct qos_policy p = { 0 };
    struct worker w[4];
    pthread_t th[4];

    (void)state;
    p.lim[QOS_TOTAL][QOS_IOPS].avg = 200;
    struct qos_throttle *t = make(&p, qos_now_ns());
    int64_t start = qos_now_ns();
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){ t, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    int64_t took = qos_now_ns() - start;
    assert_int_equal(w[0].n + w[1].n + w[2].n + w[3].n, 80);
    assert_true(took >= 250 * 1000000LL);   /* (80 - 20) / 200 s = 0.3 s at the least */
    qos_throttle_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iops_average),
        cmocka_unit_test(test_bps_big_requests),
        cmocka_unit_test(test_burst_length),
        cmocka_unit_test(test_several_buckets),
        cmocka_unit_test(test_iops_size),
        cmocka_unit_test(test_two_throttles),
        cmocka_unit_test(test_set_live),
        cmocka_unit_test(test_threads_real_clock),
        cmocka_unit_test(test_bulk_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
