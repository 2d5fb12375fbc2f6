/* test_blockd_quota.c — blockd/vol_quota.c's pure arithmetic with no cluster:
 * the check against limits (unlimited, releases, boundaries), Cinder's
 * over-quota messages, usage updates and the parsing of limits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vol_quota.h"

static const struct vq_counts lim10 = { { 10, 10, 10 } };

static void test_check_fits_and_boundaries(void **state)
{
    struct vq_counts used = { { 9, 0, 5 } }, one = { { 1, 0, 5 } };
    char msg[256] = "";

    (void)state;
    assert_int_equal(vq_check(&lim10, &used, &one, msg, sizeof(msg)), 0);   /* exactly full */
    assert_string_equal(msg, "");
    used.n[VQ_VOLUMES] = 10;
    assert_int_equal(vq_check(&lim10, &used, &one, msg, sizeof(msg)), -EDQUOT);
    assert_string_equal(msg, "VolumeLimitExceeded: Maximum number of volumes allowed (10) "
                             "exceeded for quota 'volumes'.");
}

static void test_gigabytes_message(void **state)
{
    struct vq_counts used = { { 1, 0, 8 } }, want = { { 1, 0, 5 } };
    char msg[256];

    (void)state;
    assert_int_equal(vq_check(&lim10, &used, &want, msg, sizeof(msg)), -EDQUOT);
    assert_string_equal(msg, "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot "
                             "exceeds allowed gigabytes quota. Requested 5G, quota is 10G and "
                             "8G has been consumed.");
}

static void test_snapshot_message(void **state)
{
    struct vq_counts used = { { 0, 10, 0 } }, want = { { 0, 1, 1 } };
    char msg[256];

    (void)state;
    assert_int_equal(vq_check(&lim10, &used, &want, msg, sizeof(msg)), -EDQUOT);
    assert_string_equal(msg, "SnapshotLimitExceeded: Maximum number of snapshots allowed (10) "
                             "exceeded");
}

static void test_unlimited_and_releases(void **state)
{
    struct vq_counts unl = { { VQ_UNLIMITED, VQ_UNLIMITED, VQ_UNLIMITED } };
    struct vq_counts used = { { 1000, 1000, 1000000 } }, big = { { 1, 1, 1000000 } };
    struct vq_counts over = { { 20, 20, 20 } }, back = { { -1, 0, -5 } };
    char msg[256];

    (void)state;
    assert_int_equal(vq_check(&unl, &used, &big, msg, sizeof(msg)), 0);
    /* already over (limits lowered): giving back is always allowed */
    assert_int_equal(vq_check(&lim10, &over, &back, msg, sizeof(msg)), 0);
    /* a zero limit refuses any growth */
    struct vq_counts zero = { { 0, 0, 0 } }, none = { { 0, 0, 0 } }, vol = { { 1, 0, 1 } };
    assert_int_equal(vq_check(&zero, &none, &vol, msg, sizeof(msg)), -EDQUOT);
}

static void test_apply_never_negative(void **state)
{
    struct vq_counts u = { { 1, 0, 3 } }, d = { { -2, -1, 4 } };

    (void)state;
    vq_apply(&u, &d);
    assert_int_equal(u.n[VQ_VOLUMES], 0);
    assert_int_equal(u.n[VQ_SNAPSHOTS], 0);
    assert_int_equal(u.n[VQ_GIGABYTES], 7);
}

static void test_of_record(void **state)
{
    json_t *rec = json_pack("{s:s, s:i}", "project_id", "p", "size", 7);
    struct vq_counts c;

    (void)state;
    vq_of_record(rec, false, 1, &c);
    assert_true(c.n[0] == 1 && c.n[1] == 0 && c.n[2] == 7);
    vq_of_record(rec, true, -1, &c);
    assert_true(c.n[0] == 0 && c.n[1] == -1 && c.n[2] == -7);
    json_decref(rec);
}

static void test_parse_limit(void **state)
{
    static const char *const bad[] = { "-2", "x", "1.5", "\"\"", "\"3a\"", "null", "true",
                                       "2147483648", "{}", NULL };
    int64_t n;

    (void)state;
    json_t *v = json_integer(5);
    assert_int_equal(vq_parse_limit(v, &n), 0);
    assert_int_equal(n, 5);
    json_decref(v);
    v = json_string("-1");
    assert_int_equal(vq_parse_limit(v, &n), 0);
    assert_int_equal(n, -1);
    json_decref(v);
    for (int i = 0; bad[i]; i++) {
        json_t *b = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        if (!b)
            b = json_string(bad[i]);
        assert_int_equal(vq_parse_limit(b, &n), -EINVAL);
        json_decref(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_fits_and_boundaries),
        cmocka_unit_test(test_gigabytes_message),
        cmocka_unit_test(test_snapshot_message),
        cmocka_unit_test(test_unlimited_and_releases),
        cmocka_unit_test(test_apply_never_negative),
        cmocka_unit_test(test_of_record),
        cmocka_unit_test(test_parse_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
