/* test_blockd_capacity.c — blockd's get_pools figures (vol_capacity.c) with no
 * cluster: ceph df scripted with cmocka's will_return (mon first, mgr when the
 * mon refuses), the sums of the volume records from the fake store (hidden
 * ones provisioned, not allocated), and -EIO with the reason when Ceph or the
 * store does not answer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fake_httpc.h"
#include "fake_rados.h"
#include "fake_rbd.h"
#include "fake_work.h"
#include "mock.h"
#include "strata/ceph_cmd.h"
#include "vol_json.h"

#include "blockd_fixture.h"

ST_STUB(st_daemon_rados, rados_t, (const struct st_daemon *d), NULL)

/* Scripted: will_return(__wrap_st_ceph_command_json, rc) then, when rc is 0,
 * will_return(..., JSON text); expect_value(..., mgr, which) says where it goes. */
ST_WRAP(st_ceph_command_json, int, (rados_t cluster, bool mgr, const char *prefix, json_t **out))
{
    check_expected(mgr);
    assert_ptr_equal(cluster, ut_st_daemon_rados); /* the daemon's connection */
    assert_string_equal(prefix, "df");
    int rc = mock_type(int);
    if (rc == 0)
        *out = json_loads(mock_ptr_type(const char *), 0, NULL);
    return rc;
}

static const char df[] = "{\"pools\": [{\"name\": \"other\", \"stats\": {\"stored\": 1, "
                         "\"max_avail\": 2}}, {\"name\": \"volumes\", \"stats\": {\"stored\": "
                         "3221225472, \"max_avail\": 107374182400}}]}";

static void test_mon_df_and_record_sums(void **state)
{
    struct volj_pool_stats p;
    char a[37], b[37], hidden[37], msg[VOL_MSG_MAX] = "";

    (void)state;
    fx_volume("available", 10, false, a);
    fx_volume("in-use", 5, false, b);
    fx_volume("deleted", 7, false, hidden);
    struct transition t = {NULL, NULL, json_pack("{s:{s:b}}", "_s", "deleted", 1), "", NULL, NULL};
    assert_int_equal(vs_transition(fx, &vol_kind, hidden, false, &t), 0);
    json_decref((json_t *)t.extra);
    snprintf(fx->fsid, sizeof(fx->fsid), "fsid-1");
    fx->over_ratio = 20.0;
    ST_SET(st_daemon_rados, (rados_t)df);

    expect_value(__wrap_st_ceph_command_json, mgr, false);
    will_return(__wrap_st_ceph_command_json, 0);
    will_return(__wrap_st_ceph_command_json, df);
    assert_int_equal(vol_capacity(fx, &p, msg), 0);
    assert_string_equal(p.pool, "volumes");
    assert_string_equal(p.location_info, "fsid-1:volumes");
    assert_non_null(strstr(p.name, "@strata#volumes"));
    assert_true(p.stored == 3221225472LL);
    assert_true(p.max_avail == 107374182400LL);
    assert_int_equal(p.provisioned_gb, 22);
    assert_int_equal(p.allocated_gb, 15);
    assert_true(p.max_over_subscription_ratio == 20.0);
}

static void test_mgr_when_mon_refuses(void **state)
{
    struct volj_pool_stats p;
    char msg[VOL_MSG_MAX] = "";

    (void)state;
    expect_value(__wrap_st_ceph_command_json, mgr, false);
    will_return(__wrap_st_ceph_command_json, -EINVAL);
    expect_value(__wrap_st_ceph_command_json, mgr, true);
    will_return(__wrap_st_ceph_command_json, 0);
    will_return(__wrap_st_ceph_command_json, df);
    assert_int_equal(vol_capacity(fx, &p, msg), 0);
    assert_int_equal(p.provisioned_gb, 0);
}

static void test_unknown_when_ceph_or_store_silent(void **state)
{
    struct volj_pool_stats p;
    char msg[VOL_MSG_MAX] = "";

    (void)state;
    expect_value(__wrap_st_ceph_command_json, mgr, false);
    will_return(__wrap_st_ceph_command_json, -ETIMEDOUT);
    expect_value(__wrap_st_ceph_command_json, mgr, true);
    will_return(__wrap_st_ceph_command_json, -ETIMEDOUT);
    assert_int_equal(vol_capacity(fx, &p, msg), -EIO);
    assert_string_equal(msg, "The capacity of pool volumes is unknown: ceph df failed "
                             "(Connection timed out); try again later");

    /* a df without our pool */
    expect_value(__wrap_st_ceph_command_json, mgr, false);
    will_return(__wrap_st_ceph_command_json, 0);
    will_return(__wrap_st_ceph_command_json, "{\"pools\": []}");
    assert_int_equal(vol_capacity(fx, &p, msg), -EIO);

    expect_value(__wrap_st_ceph_command_json, mgr, false);
    will_return(__wrap_st_ceph_command_json, 0);
    will_return(__wrap_st_ceph_command_json, df);
    fake_rados_fail(-ETIMEDOUT, 1);
    assert_int_equal(vol_capacity(fx, &p, msg), -EIO);
    assert_string_equal(msg, "The metadata store did not answer (Connection timed out); try "
                             "again later");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_mon_df_and_record_sums),
        T(test_mgr_when_mon_refuses),
        T(test_unknown_when_ceph_or_store_silent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
