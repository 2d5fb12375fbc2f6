/* test_workpool.c — the worker pool without a cluster: every job runs once,
 * a full queue says -EAGAIN, destroy drains and waits, and a pool that is
 * stopping refuses work with -ESHUTDOWN. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "strata/log.h"
#include "strata/workpool.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Wait (up to 5 s) until *flag becomes nonzero. */
static bool wait_flag(atomic_int *flag)
{
    for (int i = 0; i < 500 && !atomic_load(flag); i++)
        sleep_ms(10);
    return atomic_load(flag) != 0;
}

static void test_create_args(void **state)
{
    struct st_workpool *p = NULL;

    (void)state;
    assert_int_equal(st_workpool_create(0, 0, &p), -EINVAL);
    assert_null(p);
    st_workpool_destroy(NULL);
    assert_int_equal(st_workpool_pending(NULL), 0);
    assert_int_equal(st_workpool_create(2, 0, &p), 0);
    assert_int_equal(st_workpool_submit(p, NULL, NULL), -EINVAL);
    assert_int_equal(st_workpool_pending(p), 0);
    st_workpool_destroy(p);
}

#define NJOBS 2000
static atomic_int runs[NJOBS];

static void count_job(void *arg)
{
    atomic_fetch_add(&runs[(intptr_t)arg], 1);
}

static void test_all_jobs_run_once(void **state)
{
    struct st_workpool *p;

    (void)state;
    for (int i = 0; i < NJOBS; i++)
        atomic_store(&runs[i], 0);
    assert_int_equal(st_workpool_create(4, 0, &p), 0);
    for (intptr_t i = 0; i < NJOBS; i++)
        assert_int_equal(st_workpool_submit(p, count_job, (void *)i), 0);
    st_workpool_destroy(p); /* drains the queue */
    for (int i = 0; i < NJOBS; i++)
        assert_int_equal(atomic_load(&runs[i]), 1);
}

struct gate {
    atomic_int started;
    atomic_int open;
    atomic_int done;
};

static void gated_job(void *arg)
{
    struct gate *g = arg;

    atomic_fetch_add(&g->started, 1);
    while (!atomic_load(&g->open))
        sleep_ms(2);
    atomic_fetch_add(&g->done, 1);
}

static void test_queue_full(void **state)
{
    struct gate g = {0};
    struct st_workpool *p;

    (void)state;
    assert_int_equal(st_workpool_create(1, 2, &p), 0);
    assert_int_equal(st_workpool_submit(p, gated_job, &g), 0);
    assert_true(wait_flag(&g.started)); /* the only worker is busy */
    assert_int_equal(st_workpool_submit(p, gated_job, &g), 0);
    assert_int_equal(st_workpool_submit(p, gated_job, &g), 0);
    assert_int_equal(st_workpool_submit(p, gated_job, &g), -EAGAIN);
    assert_int_equal(st_workpool_pending(p), 3);
    atomic_store(&g.open, 1);
    for (int i = 0; i < 500 && st_workpool_pending(p); i++)
        sleep_ms(10);
    assert_int_equal(st_workpool_pending(p), 0);
    assert_int_equal(atomic_load(&g.done), 3);
    /* Room again once drained. */
    assert_int_equal(st_workpool_submit(p, gated_job, &g), 0);
    st_workpool_destroy(p);
    assert_int_equal(atomic_load(&g.done), 4);
}

static void slow_job(void *arg)
{
    struct gate *g = arg;

    atomic_fetch_add(&g->started, 1);
    sleep_ms(300);
    atomic_fetch_add(&g->done, 1);
}

static void test_destroy_waits(void **state)
{
    struct gate g = {0};
    struct st_workpool *p;

    (void)state;
    assert_int_equal(st_workpool_create(2, 0, &p), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(st_workpool_submit(p, slow_job, &g), 0);
    assert_true(wait_flag(&g.started));
    st_workpool_destroy(p);
    /* Running and queued jobs all finished before destroy returned. */
    assert_int_equal(atomic_load(&g.done), 5);
}

struct resubmit {
    struct st_workpool *p;
    atomic_int started;
    atomic_int accepted;
    atomic_int ran;
    int last_rc;
};

static void noop_job(void *arg)
{
    struct resubmit *r = arg;

    atomic_fetch_add(&r->ran, 1);
}

/* Runs while the main thread destroys the pool: keeps submitting until the
 * pool says it is stopping. */
static void resubmit_job(void *arg)
{
    struct resubmit *r = arg;
    int rc = 0;

    atomic_store(&r->started, 1);
    for (int i = 0; i < 5000 && rc == 0; i++) {
        rc = st_workpool_submit(r->p, noop_job, r);
        if (rc == 0)
            atomic_fetch_add(&r->accepted, 1);
        sleep_ms(1);
    }
    r->last_rc = rc;
}

static void test_submit_while_stopping(void **state)
{
    struct resubmit r = {0};

    (void)state;
    assert_int_equal(st_workpool_create(2, 0, &r.p), 0);
    assert_int_equal(st_workpool_submit(r.p, resubmit_job, &r), 0);
    assert_true(wait_flag(&r.started));
    st_workpool_destroy(r.p);
    assert_int_equal(r.last_rc, -ESHUTDOWN);
    /* Whatever was accepted before the stop still ran. */
    assert_int_equal(atomic_load(&r.ran), atomic_load(&r.accepted));
}

static void test_now_ms(void **state)
{
    int64_t a = st_now_ms(), t = (int64_t)time(NULL) * 1000, b;

    (void)state;
    assert_true(a > 1600000000000LL);
    assert_true(a - t < 2000 && t - a < 2000);
    sleep_ms(20);
    b = st_now_ms();
    assert_true(b - a >= 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_args),
        cmocka_unit_test(test_all_jobs_run_once),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_destroy_waits),
        cmocka_unit_test(test_submit_while_stopping),
        cmocka_unit_test(test_now_ms),
    };

    st_log_init("test_workpool", ST_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
