/* test_blockd_qos.c — blockd/vol_qos.c with no cluster: consumers, the checks
 * of spec keys and values, and the front-end (qos_specs, per-GB expanded) and
 * back-end (conf_rbd_qos_* metadata) mappings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vol_qos.h"
#include "json_assert.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);

    assert_non_null(j);
    return j;
}

static void test_consumers(void **state)
{
    enum vqos_consumer c = VQOS_BOTH;

    (void)state;
    assert_int_equal(vqos_consumer_parse("front-end", &c), 0);
    assert_int_equal(c, VQOS_FRONT_END);
    assert_int_equal(vqos_consumer_parse("back-end", &c), 0);
    assert_int_equal(c, VQOS_BACK_END);
    assert_int_equal(vqos_consumer_parse("both", &c), 0);
    assert_int_equal(c, VQOS_BOTH);
    assert_string_equal(vqos_consumer_name(c), "both");
    assert_int_equal(vqos_consumer_parse("frontend", &c), -EINVAL);
    assert_int_equal(vqos_consumer_parse(NULL, &c), -EINVAL);
    assert_int_equal(c, VQOS_BOTH);   /* untouched on failure */
}

static void test_check_spec(void **state)
{
    char out[32], msg[256];
    json_t *v;

    (void)state;
    v = json_integer(1000);
    assert_int_equal(vqos_check_spec("total_iops_sec", v, out, sizeof(out), msg, sizeof(msg)), 0);
    assert_string_equal(out, "1000");
    json_decref(v);
    v = json_string("20");
    assert_int_equal(vqos_check_spec("read_bytes_sec_per_gb_min", v, out, sizeof(out), msg,
                                     sizeof(msg)), 0);
    assert_string_equal(out, "20");
    assert_int_equal(vqos_check_spec("size_iops_sec", v, out, sizeof(out), msg, sizeof(msg)), 0);
    /* unknown keys, and per-GB forms of keys that have none */
    assert_int_equal(vqos_check_spec("iops", v, out, sizeof(out), msg, sizeof(msg)), -EINVAL);
    assert_non_null(strstr(msg, "unknown QoS key 'iops'"));
    assert_int_equal(vqos_check_spec("total_iops_sec_max_per_gb", v, out, sizeof(out), msg,
                                     sizeof(msg)), -EINVAL);
    json_decref(v);
    /* values: non-negative integers only */
    const char *bad[] = { "-1", "1.5", "", "abc", " 5", "10000000000000000", NULL };
    for (int i = 0; bad[i]; i++) {
        v = json_string(bad[i]);
        assert_int_equal(vqos_check_spec("total_iops_sec", v, out, sizeof(out), msg, sizeof(msg)),
                         -EINVAL);
        assert_non_null(strstr(msg, "non-negative integer"));
        json_decref(v);
    }
    v = json_integer(-3);
    assert_int_equal(vqos_check_spec("total_iops_sec", v, out, sizeof(out), msg, sizeof(msg)),
                     -EINVAL);
    json_decref(v);
    v = json_real(2.0);
    assert_int_equal(vqos_check_spec("total_iops_sec", v, out, sizeof(out), msg, sizeof(msg)),
                     -EINVAL);
    json_decref(v);
}

static void test_check_specs_sets(void **state)
{
    char msg[256];
    json_t *s;

    (void)state;
    s = J("{\"read_iops_sec\": \"100\", \"write_iops_sec\": \"50\", \"total_bytes_sec\": \"9\"}");
    assert_int_equal(vqos_check_specs(s, msg, sizeof(msg)), 0);
    json_decref(s);
    /* libvirt refuses total beside read/write (per-GB forms count too) */
    s = J("{\"total_iops_sec\": \"100\", \"read_iops_sec_per_gb\": \"5\"}");
    assert_int_equal(vqos_check_specs(s, msg, sizeof(msg)), -EINVAL);
    assert_non_null(strstr(msg, "total_iops_sec cannot be set together"));
    json_decref(s);
    /* a burst below its limit: librbd would refuse it */
    s = J("{\"total_iops_sec\": \"100\", \"total_iops_sec_max\": \"50\"}");
    assert_int_equal(vqos_check_specs(s, msg, sizeof(msg)), -EINVAL);
    assert_non_null(strstr(msg, "total_iops_sec_max (50)"));
    json_decref(s);
    s = J("{\"total_iops_sec\": \"100\", \"total_iops_sec_max\": \"0\"}");
    assert_int_equal(vqos_check_specs(s, msg, sizeof(msg)), 0);
    json_decref(s);
    s = J("{\"total_iops_sec\": \"x\"}");
    assert_int_equal(vqos_check_specs(s, msg, sizeof(msg)), -EINVAL);
    json_decref(s);
}

static void test_frontend(void **state)
{
    json_t *s, *f, *want;

    (void)state;
    s = J("{\"total_iops_sec_per_gb\": \"10\", \"total_iops_sec_per_gb_min\": \"50\", "
          "\"read_bytes_sec_per_gb\": \"1000\", \"total_iops_sec_max\": \"500\"}");
    /* 3 GiB: 30 < min 50; bytes 3000 with no minimum */
    f = vqos_frontend(s, VQOS_FRONT_END, 3);
    want = J("{\"total_iops_sec\": 50, \"read_bytes_sec\": 3000, \"total_iops_sec_max\": \"500\"}");
    assert_json_equal(f, want);
    json_decref(f);
    json_decref(want);
    /* 10 GiB: 100 > min */
    f = vqos_frontend(s, VQOS_BOTH, 10);
    assert_int_equal(json_integer_value(json_object_get(f, "total_iops_sec")), 100);
    assert_int_equal(json_integer_value(json_object_get(f, "read_bytes_sec")), 10000);
    json_decref(f);
    /* back-end specs do not reach the guest */
    f = vqos_frontend(s, VQOS_BACK_END, 10);
    assert_true(json_is_null(f));
    json_decref(f);
    json_decref(s);
    /* plain keys are passed as stored */
    s = J("{\"write_iops_sec\": \"7\", \"size_iops_sec\": \"4096\"}");
    f = vqos_frontend(s, VQOS_FRONT_END, 1);
    assert_json_equal(f, s);
    json_decref(f);
    json_decref(s);
}

static void test_backend(void **state)
{
    json_t *s, *b;

    (void)state;
    s = J("{\"total_iops_sec\": \"1000\", \"total_iops_sec_max\": \"2000\", "
          "\"write_bytes_sec_per_gb\": \"1048576\", \"size_iops_sec\": \"4096\"}");
    b = vqos_backend(s, VQOS_BACK_END, 5);
    assert_string_equal(json_string_value(json_object_get(b, "conf_rbd_qos_iops_limit")), "1000");
    assert_string_equal(json_string_value(json_object_get(b, "conf_rbd_qos_iops_burst")), "2000");
    assert_string_equal(json_string_value(json_object_get(b, "conf_rbd_qos_write_bps_limit")),
                        "5242880");
    /* every librbd key, the ones not set at 0, nothing librbd lacks */
    assert_int_equal(json_object_size(b), 12);
    assert_string_equal(json_string_value(json_object_get(b, "conf_rbd_qos_bps_limit")), "0");
    assert_string_equal(json_string_value(json_object_get(b, "conf_rbd_qos_read_iops_burst")), "0");
    json_decref(b);
    /* extend: per-GB limits follow the size */
    b = vqos_backend(s, VQOS_BOTH, 8);
    assert_string_equal(json_string_value(json_object_get(b, "conf_rbd_qos_write_bps_limit")),
                        "8388608");
    /* front-end only: the image carries no limit (earlier ones cleared) */
    json_t *all = b;
    b = vqos_backend(s, VQOS_FRONT_END, 8);
    assert_same_keys(b, all);
    json_decref(all);
    assert_string_equal(json_string_value(json_object_get(b, "conf_rbd_qos_iops_limit")), "0");
    assert_int_equal(json_object_size(b), 12);
    json_decref(b);
    json_decref(s);
    /* no specs at all */
    s = json_object();
    b = vqos_backend(s, VQOS_BOTH, 1);
    assert_string_equal(json_string_value(json_object_get(b, "conf_rbd_qos_iops_limit")), "0");
    json_decref(b);
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consumers),
        cmocka_unit_test(test_check_spec),
        cmocka_unit_test(test_check_specs_sets),
        cmocka_unit_test(test_frontend),
        cmocka_unit_test(test_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
