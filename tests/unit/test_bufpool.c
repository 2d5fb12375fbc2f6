/* test_bufpool.c — common/bufpool.c: buffers mapped on demand up to the cap and
 * reused, all-or-none takes, the timed wait, and takers on several threads
 * never deadlocking or exceeding the cap. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "strata/bufpool.h"

#define SZ (256u << 10)

static void test_reuse_and_cap(void **state)
{
    struct st_bufpool *p;
    void *a[4], *b[4];
    unsigned mapped, nfree;

    (void)state;
    assert_int_equal(st_bufpool_create(SZ, 4, &p), 0);
    assert_int_equal(st_bufpool_buf_size(p), SZ);
    st_bufpool_stats(p, &mapped, &nfree);
    assert_int_equal(mapped, 0);                        /* nothing mapped up front */
    assert_int_equal(st_bufpool_get(p, 3, 0, a), 0);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal((uintptr_t)a[i] % 4096, 0);    /* page-aligned, writable */
        memset(a[i], 0xab, SZ);
    }
    st_bufpool_stats(p, &mapped, &nfree);
    assert_int_equal(mapped, 3);
    assert_int_equal(nfree, 0);
    /* all or none: 2 more than the one left waits, then times out with nothing taken */
    assert_int_equal(st_bufpool_get(p, 2, 50, b), -ETIMEDOUT);
    st_bufpool_stats(p, &mapped, &nfree);
    assert_int_equal(mapped, 4);
    assert_int_equal(nfree, 1);
    st_bufpool_put(p, 3, a);
    /* the same buffers come back: nothing new is mapped */
    for (int round = 0; round < 100; round++) {
        assert_int_equal(st_bufpool_get(p, 4, 0, b), 0);
        st_bufpool_put(p, 4, b);
    }
    st_bufpool_stats(p, &mapped, &nfree);
    assert_int_equal(mapped, 4);
    assert_int_equal(nfree, 4);
    assert_int_equal(st_bufpool_get(p, 5, 0, b), -EINVAL);   /* more than it can ever hold */
    assert_int_equal(st_bufpool_get(p, 0, 0, b), -EINVAL);
    st_bufpool_destroy(p);
    assert_int_equal(st_bufpool_create(0, 4, &p), -EINVAL);
    assert_int_equal(st_bufpool_create(SZ, 0, &p), -EINVAL);
}

struct taker {
    struct st_bufpool *p;
    unsigned n;
    int failures;
};

static void *take_loop(void *arg)
{
    struct taker *t = arg;
    void *v[8];

    for (int i = 0; i < 300; i++) {
        if (st_bufpool_get(t->p, t->n, 10000, v) != 0) {
            t->failures++;
            continue;
        }
        memset(v[0], i, 64);
        st_bufpool_put(t->p, t->n, v);
    }
    return NULL;
}

static void test_threads_share_without_deadlock(void **state)
{
    struct st_bufpool *p;
    struct taker t[6];
    pthread_t tid[6];
    unsigned mapped, nfree;

    (void)state;
    assert_int_equal(st_bufpool_create(SZ, 8, &p), 0);
    for (int i = 0; i < 6; i++) {
        t[i] = (struct taker){ p, (unsigned)(i % 2 ? 6 : 3), 0 };   /* 3 + 6 > 8: they contend */
        assert_int_equal(pthread_create(&tid[i], NULL, take_loop, &t[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(t[i].failures, 0);
    }
    st_bufpool_stats(p, &mapped, &nfree);
    assert_true(mapped <= 8);
    assert_int_equal(nfree, mapped);
    st_bufpool_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_and_cap),
        cmocka_unit_test(test_threads_share_without_deadlock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
