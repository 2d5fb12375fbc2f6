/* test_nameidx.c — name claims (common/nameidx.c) against a REAL Ceph cluster
 * (STRATA_TEST_CEPH_CONF; skipped without it), in a random RADOS namespace:
 * one winner of racing claims, take-over of a dead owner's claim after the
 * grace period (time is a parameter), never of a live one's, release. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ceph_test.h"
#include "strata/meta.h"
#include "strata/nameidx.h"

static const struct st_meta_kind K_OWNER = {"nt_owner", NULL};
static const struct st_meta_kind K_NAMES = {"nt_names", NULL};
static struct st_meta *meta;
static struct st_name_records owners;

#define T0 1000000000000LL
#define RACERS 16

static void make_owner(const char *id)
{
    json_t *d = json_object();

    assert_int_equal(st_meta_create(meta, &K_OWNER, id, d, NULL), 0);
    json_decref(d);
}

static void assert_owner(const char *scope, const char *name, const char *want)
{
    char got[ST_META_ID_MAX + 1];

    assert_int_equal(st_name_lookup(meta, &K_NAMES, scope, name, got, sizeof(got)), 0);
    assert_string_equal(got, want);
}

static int claim(const char *name, const char *owner, int64_t now)
{
    return st_name_claim(meta, &K_NAMES, "", name, owner, st_name_record_alive, &owners, now);
}

static void test_one_holder(void **state)
{
    (void)state;
    NEED_CLUSTER();
    make_owner("a1");
    assert_int_equal(claim("gold", "a1", T0), 0);
    assert_int_equal(claim("gold", "b1", T0), -EEXIST);
    assert_int_equal(claim("gold", "a1", T0), 0); /* the holder again */
    assert_owner("", "gold", "a1");
    /* scopes are apart */
    assert_int_equal(st_name_claim(meta, &K_NAMES, "dom2", "gold", "b1", NULL, NULL, T0), 0);
    assert_owner("dom2", "gold", "b1");
}

static void test_dead_owner_taken_over_after_grace(void **state)
{
    (void)state;
    NEED_CLUSTER();
    /* "crashed" claimed and died before writing its record */
    assert_int_equal(claim("silver", "crashed", T0), 0);
    make_owner("b2");
    assert_int_equal(claim("silver", "b2", T0 + ST_NAME_GRACE_MS - 1), -EEXIST);
    assert_int_equal(claim("silver", "b2", T0 + ST_NAME_GRACE_MS), 0);
    assert_owner("", "silver", "b2");
    /* b2 is alive: no take-over, however late */
    assert_int_equal(claim("silver", "c2", T0 + 100 * ST_NAME_GRACE_MS), -EEXIST);
    assert_owner("", "silver", "b2");
}

static void test_release(void **state)
{
    char got[ST_META_ID_MAX + 1];

    (void)state;
    NEED_CLUSTER();
    assert_int_equal(claim("bronze", "a3", T0), 0);
    assert_int_equal(st_name_release(meta, &K_NAMES, "", "bronze", "b3"), 0); /* not b3's */
    assert_owner("", "bronze", "a3");
    assert_int_equal(st_name_release(meta, &K_NAMES, "", "bronze", "a3"), 0);
    assert_int_equal(st_name_lookup(meta, &K_NAMES, "", "bronze", got, sizeof(got)), -ENOENT);
    assert_int_equal(st_name_release(meta, &K_NAMES, "", "bronze", "a3"), 0); /* idempotent */
    assert_int_equal(claim("bronze", "b3", T0), 0);
}

struct racer {
    char id[16];
    pthread_barrier_t *go;
    int rc;
};

static void *race_one(void *arg)
{
    struct racer *r = arg;

    pthread_barrier_wait(r->go);
    r->rc = claim("platinum", r->id, T0);
    return NULL;
}

static void test_racing_claims_one_winner(void **state)
{
    struct racer r[RACERS];
    pthread_t th[RACERS];
    pthread_barrier_t go;
    int won = -1, lost = 0;

    (void)state;
    NEED_CLUSTER();
    pthread_barrier_init(&go, NULL, RACERS);
    for (int i = 0; i < RACERS; i++) {
        snprintf(r[i].id, sizeof(r[i].id), "r%d", i);
        r[i].go = &go;
        assert_int_equal(pthread_create(&th[i], NULL, race_one, &r[i]), 0);
    }
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        if (r[i].rc == 0) {
            assert_int_equal(won, -1);
            won = i;
        } else {
            assert_int_equal(r[i].rc, -EEXIST);
            lost++;
        }
    }
    pthread_barrier_destroy(&go);
    assert_int_not_equal(won, -1);
    assert_int_equal(lost, RACERS - 1);
    assert_owner("", "platinum", r[won].id);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_int_equal(st_name_claim(NULL, &K_NAMES, "", "x", "a", NULL, NULL, T0), -EINVAL);
    assert_int_equal(st_name_claim(meta, &K_NAMES, "", "x", "", NULL, NULL, T0), -EINVAL);
    assert_int_equal(st_name_release(meta, &K_NAMES, NULL, "x", "a"), -EINVAL);
}

static int setup(void **state)
{
    (void)state;
    if (ceph_test_setup("test_nameidx", "nm", env_or("STRATA_TEST_META_POOL", "strata.meta")) < 0)
        return -1;
    if (!have_cluster)
        return 0;
    rados_ioctx_set_namespace(io, prefix);
    owners = (struct st_name_records){NULL, &K_OWNER};
    if (st_meta_open(io, &meta) < 0)
        return -1;
    owners.meta = meta;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (have_cluster) {
        rados_remove(io, "meta.nt_owner");
        rados_remove(io, "meta.nt_names");
        st_meta_close(meta);
    }
    ceph_test_teardown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_holder),
        cmocka_unit_test(test_dead_owner_taken_over_after_grace),
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_racing_claims_one_winner),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
