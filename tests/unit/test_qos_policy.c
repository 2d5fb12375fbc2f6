/* test_qos_policy.c — qos/policy.c with no cluster: consumers, every key and
 * bad value, the cross-key rules, per-GB resolution, and the three mappings
 * (qos_specs, golden conf_rbd_qos_* key set, <iotune> order). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "strata/qos.h"
#include "json_assert.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);

    assert_non_null(j);
    return j;
}

static int parse(const char *text, bool lenient, struct qos_policy *p, char *msg)
{
    json_t *s = J(text);
    int rc = qos_policy_parse(s, lenient, p, msg, QOS_MSG_MAX);

    json_decref(s);
    return rc;
}

static void test_consumers(void **state)
{
    enum qos_consumer c = QOS_BOTH;

    (void)state;
    assert_int_equal(qos_consumer_parse("front-end", &c), 0);
    assert_int_equal(c, QOS_FRONT_END);
    assert_true(qos_consumer_front(c) && !qos_consumer_back(c));
    assert_int_equal(qos_consumer_parse("back-end", &c), 0);
    assert_int_equal(c, QOS_BACK_END);
    assert_true(!qos_consumer_front(c) && qos_consumer_back(c));
    assert_int_equal(qos_consumer_parse("both", &c), 0);
    assert_true(qos_consumer_front(c) && qos_consumer_back(c));
    assert_string_equal(qos_consumer_name(c), "both");
    assert_int_equal(qos_consumer_parse("frontend", &c), -EINVAL);
    assert_int_equal(qos_consumer_parse(NULL, &c), -EINVAL);
    assert_int_equal(c, QOS_BOTH);   /* untouched on failure */
}

/* Every key Strata knows is accepted and lands in its own field. */
static void test_every_key(void **state)
{
    static const char *const dirs[] = { "total", "read", "write" };
    static const char *const units[] = { "iops", "bytes" };
    static const char *const suffixes[] = { "", "_max", "_max_length", "_per_gb", "_per_gb_min" };
    char key[64], out[32], msg[QOS_MSG_MAX];
    json_t *v = json_integer(7);
    int n = 0;

    (void)state;
    for (int d = 0; d < 3; d++)
        for (int u = 0; u < 2; u++)
            for (int x = 0; x < 5; x++, n++) {
                snprintf(key, sizeof(key), "%s_%s_sec%s", dirs[d], units[u], suffixes[x]);
                assert_int_equal(qos_spec_check(key, v, out, sizeof(out), msg, sizeof(msg)), 0);
                assert_string_equal(out, "7");
            }
    assert_int_equal(n, 30);
    assert_int_equal(qos_spec_check("size_iops_sec", v, out, sizeof(out), msg, sizeof(msg)), 0);
    json_decref(v);

    struct qos_policy p;
    assert_int_equal(parse("{\"read_bytes_sec\": \"10\", \"read_bytes_sec_max\": 20, "
                           "\"read_bytes_sec_max_length\": \"3\", \"write_iops_sec_per_gb\": 4, "
                           "\"write_iops_sec_per_gb_min\": \"9\", \"size_iops_sec\": 4096, "
                           "\"consumer\": \"both\"}", false, &p, msg), 0);
    assert_int_equal(p.lim[QOS_READ][QOS_BPS].avg, 10);
    assert_int_equal(p.lim[QOS_READ][QOS_BPS].max, 20);
    assert_int_equal(p.lim[QOS_READ][QOS_BPS].max_length, 3);
    assert_int_equal(p.lim[QOS_WRITE][QOS_IOPS].per_gb, 4);
    assert_int_equal(p.lim[QOS_WRITE][QOS_IOPS].per_gb_min, 9);
    assert_int_equal(p.size_iops, 4096);
    assert_int_equal(p.lim[QOS_TOTAL][QOS_IOPS].avg, 0);
}

static void test_bad_input(void **state)
{
    char out[32], msg[QOS_MSG_MAX];
    struct qos_policy p;
    json_t *v = json_string("20");

    (void)state;
    assert_int_equal(qos_spec_check("iops", v, out, sizeof(out), msg, sizeof(msg)), -EINVAL);
    assert_non_null(strstr(msg, "unknown QoS key 'iops'"));
    /* per-GB forms exist only for the six averages */
    assert_int_equal(qos_spec_check("total_iops_sec_max_per_gb", v, out, sizeof(out), msg,
                                    sizeof(msg)), -EINVAL);
    assert_int_equal(qos_spec_check("size_iops_sec_per_gb", v, out, sizeof(out), msg,
                                    sizeof(msg)), -EINVAL);
    json_decref(v);
    const char *bad[] = { "-1", "1.5", "", "abc", " 5", "10000000000000000", "1000000000000001",
                          NULL };
    for (int i = 0; bad[i]; i++) {
        v = json_string(bad[i]);
        assert_int_equal(qos_spec_check("total_iops_sec", v, out, sizeof(out), msg,
                                        sizeof(msg)), -EINVAL);
        assert_non_null(strstr(msg, "non-negative integer"));
        json_decref(v);
    }
    json_t *odd[] = { json_integer(-3), json_real(2.0), json_true(), json_null(), json_object() };
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        assert_int_equal(qos_spec_check("total_iops_sec", odd[i], out, sizeof(out), msg,
                                        sizeof(msg)), -EINVAL);
        json_decref(odd[i]);
    }
    /* a whole set: not an object, a bad value, an unknown key (lenient skips it) */
    assert_int_equal(parse("[1]", false, &p, msg), -EINVAL);
    assert_non_null(strstr(msg, "must be an object"));
    assert_int_equal(parse("{\"total_iops_sec\": \"x\"}", false, &p, msg), -EINVAL);
    assert_int_equal(parse("{\"total_iops_sec\": \"x\"}", true, &p, msg), -EINVAL);
    assert_int_equal(parse("{\"foo\": 1, \"total_iops_sec\": 5}", false, &p, msg), -EINVAL);
    assert_int_equal(parse("{\"foo\": 1, \"total_iops_sec\": 5}", true, &p, msg), 0);
    assert_int_equal(p.lim[QOS_TOTAL][QOS_IOPS].avg, 5);
    assert_int_equal(qos_policy_parse(NULL, false, &p, msg, sizeof(msg)), 0);
    assert_false(qos_policy_any(&p));
}

static void test_rules(void **state)
{
    char msg[QOS_MSG_MAX];
    struct qos_policy p;

    (void)state;
    assert_int_equal(parse("{\"read_iops_sec\": \"100\", \"write_iops_sec\": \"50\", "
                           "\"total_bytes_sec\": \"9\"}", false, &p, msg), 0);
    /* libvirt refuses total beside read/write (per-GB and burst forms count too) */
    assert_int_equal(parse("{\"total_iops_sec\": \"100\", \"read_iops_sec_per_gb\": \"5\"}",
                           false, &p, msg), -EINVAL);
    assert_non_null(strstr(msg, "total_iops_sec cannot be set together"));
    assert_int_equal(parse("{\"total_bytes_sec_max\": \"100\", \"write_bytes_sec\": \"5\"}",
                           false, &p, msg), -EINVAL);
    assert_non_null(strstr(msg, "total_bytes_sec cannot be set together"));
    /* a burst below its limit: librbd would refuse it */
    assert_int_equal(parse("{\"total_iops_sec\": \"100\", \"total_iops_sec_max\": \"50\"}",
                           false, &p, msg), -EINVAL);
    assert_non_null(strstr(msg, "total_iops_sec_max (50)"));
    assert_int_equal(parse("{\"total_iops_sec\": \"100\", \"total_iops_sec_max\": \"0\"}",
                           false, &p, msg), 0);
}

static void test_resolve_and_frontend(void **state)
{
    char msg[QOS_MSG_MAX];
    struct qos_policy p;
    json_t *f, *want;

    (void)state;
    const char *spec = "{\"total_iops_sec_per_gb\": \"10\", \"total_iops_sec_per_gb_min\": "
                       "\"50\", \"read_bytes_sec_per_gb\": \"1000\", \"total_iops_sec_max\": "
                       "\"500\", \"size_iops_sec\": \"4096\"}";
    /* 3 GiB: 30 < min 50; bytes 3000 with no minimum */
    assert_int_equal(parse(spec, false, &p, msg), 0);
    assert_true(qos_policy_any(&p));
    qos_policy_resolve(&p, 3);
    f = qos_frontend_specs(&p);
    want = J("{\"total_iops_sec\": 50, \"read_bytes_sec\": 3000, \"total_iops_sec_max\": 500, "
             "\"size_iops_sec\": 4096}");
    assert_json_equal(f, want);
    json_decref(f);
    json_decref(want);
    /* 10 GiB: 100 > min; 60 GiB: the scaled limit passes the burst, which then goes */
    assert_int_equal(parse(spec, false, &p, msg), 0);
    qos_policy_resolve(&p, 10);
    assert_int_equal(p.lim[QOS_TOTAL][QOS_IOPS].avg, 100);
    assert_int_equal(p.lim[QOS_READ][QOS_BPS].avg, 10000);
    assert_int_equal(parse(spec, false, &p, msg), 0);
    qos_policy_resolve(&p, 60);
    assert_int_equal(p.lim[QOS_TOTAL][QOS_IOPS].avg, 600);
    assert_int_equal(p.lim[QOS_TOTAL][QOS_IOPS].max, 0);
    /* overflow saturates at the value ceiling */
    assert_int_equal(parse("{\"total_bytes_sec_per_gb\": \"1000000000000000\"}", false, &p, msg),
                     0);
    qos_policy_resolve(&p, 1 << 20);
    assert_int_equal(p.lim[QOS_TOTAL][QOS_BPS].avg, QOS_VALUE_MAX);
}

static void test_rbd_metadata(void **state)
{
    char msg[QOS_MSG_MAX];
    struct qos_policy p;
    json_t *b;

    (void)state;
    assert_int_equal(parse("{\"total_iops_sec\": \"1000\", \"total_iops_sec_max\": \"2000\", "
                           "\"total_iops_sec_max_length\": \"3\", "
                           "\"write_bytes_sec_per_gb\": \"1048576\", \"size_iops_sec\": \"4096\"}",
                           false, &p, msg), 0);
    qos_policy_resolve(&p, 5);
    b = qos_rbd_metadata(&p);
    /* the golden key set: every librbd setting Strata manages, nothing librbd lacks */
    json_t *want = J("{"
        "\"conf_rbd_qos_bps_limit\": \"0\", \"conf_rbd_qos_bps_burst\": \"0\", "
        "\"conf_rbd_qos_bps_burst_seconds\": \"0\", "
        "\"conf_rbd_qos_read_bps_limit\": \"0\", \"conf_rbd_qos_read_bps_burst\": \"0\", "
        "\"conf_rbd_qos_read_bps_burst_seconds\": \"0\", "
        "\"conf_rbd_qos_write_bps_limit\": \"5242880\", \"conf_rbd_qos_write_bps_burst\": \"0\", "
        "\"conf_rbd_qos_write_bps_burst_seconds\": \"0\", "
        "\"conf_rbd_qos_iops_limit\": \"1000\", \"conf_rbd_qos_iops_burst\": \"2000\", "
        "\"conf_rbd_qos_iops_burst_seconds\": \"3\", "
        "\"conf_rbd_qos_read_iops_limit\": \"0\", \"conf_rbd_qos_read_iops_burst\": \"0\", "
        "\"conf_rbd_qos_read_iops_burst_seconds\": \"0\", "
        "\"conf_rbd_qos_write_iops_limit\": \"0\", \"conf_rbd_qos_write_iops_burst\": \"0\", "
        "\"conf_rbd_qos_write_iops_burst_seconds\": \"0\"}");
    assert_json_equal(b, want);
    json_decref(b);
    /* no policy: every key at its "none", so applying it clears earlier limits */
    memset(&p, 0, sizeof(p));
    b = qos_rbd_metadata(&p);
    assert_same_keys(b, want);
    assert_string_equal(json_string_value(json_object_get(b, "conf_rbd_qos_iops_limit")), "0");
    assert_string_equal(json_string_value(json_object_get(b,
                                                          "conf_rbd_qos_iops_burst_seconds")),
                        "0");
    json_decref(b);
    json_decref(want);
}

struct xml {
    char buf[1024];
    size_t len;
};

static int to_xml(const char *name, uint64_t value, void *arg)
{
    struct xml *x = arg;

    x->len += (size_t)snprintf(x->buf + x->len, sizeof(x->buf) - x->len, "<%s>%llu</%s>", name,
                               (unsigned long long)value, name);
    return 0;
}

static int stop_at_second(const char *name, uint64_t value, void *arg)
{
    return ++*(int *)arg == 2 ? 42 : 0;
}

static void test_iotune(void **state)
{
    char msg[QOS_MSG_MAX];
    struct qos_policy p;
    struct xml x = { "", 0 };

    (void)state;
    assert_int_equal(parse("{\"total_iops_sec\": 200, \"total_iops_sec_max\": 1000, "
                           "\"total_iops_sec_max_length\": 3, \"read_bytes_sec\": 1000000, "
                           "\"write_bytes_sec\": 2000000, \"write_bytes_sec_max\": 4000000, "
                           "\"size_iops_sec\": 4096}", false, &p, msg), 0);
    assert_int_equal(qos_iotune_foreach(&p, false, to_xml, &x), 0);
    /* libvirt's schema order; a length only beside its burst */
    assert_string_equal(x.buf,
        "<read_bytes_sec>1000000</read_bytes_sec><write_bytes_sec>2000000</write_bytes_sec>"
        "<total_iops_sec>200</total_iops_sec>"
        "<write_bytes_sec_max>4000000</write_bytes_sec_max>"
        "<total_iops_sec_max>1000</total_iops_sec_max>"
        "<size_iops_sec>4096</size_iops_sec>"
        "<total_iops_sec_max_length>3</total_iops_sec_max_length>");
    /* a live change sets every parameter: 0 clears, a burst's length defaults to 1 */
    memset(&x, 0, sizeof(x));
    assert_int_equal(qos_iotune_foreach(&p, true, to_xml, &x), 0);
    assert_non_null(strstr(x.buf, "<total_bytes_sec>0</total_bytes_sec>"));
    assert_non_null(strstr(x.buf, "<write_bytes_sec_max_length>1</write_bytes_sec_max_length>"));
    assert_null(strstr(x.buf, "read_bytes_sec_max_length"));
    int n = 0;
    assert_int_equal(qos_iotune_foreach(&p, false, stop_at_second, &n), 42);
}

/* Max-min fair shares of a project cap; never over the cap, never 0. */
static void test_share(void **state)
{
    (void)state;
    uint64_t out[4];

    const uint64_t none[4] = { 0, 0, 0, 0 };   /* four unlimited volumes: a quarter each */
    assert_int_equal(qos_share(1000, none, 4, out), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(out[i], 250);
    const uint64_t mixed[3] = { 100, 0, 2000 };   /* 100 kept; 900 left for two */
    assert_int_equal(qos_share(1000, mixed, 3, out), 0);
    assert_int_equal(out[0], 100);
    assert_int_equal(out[1], 450);
    assert_int_equal(out[2], 450);
    const uint64_t low[2] = { 100, 200 };   /* under the cap: own limits stand */
    assert_int_equal(qos_share(1000, low, 2, out), 0);
    assert_int_equal(out[0], 100);
    assert_int_equal(out[1], 200);
    assert_int_equal(qos_share(0, mixed, 3, out), 0);   /* no cap */
    assert_int_equal(out[0], 100);
    assert_int_equal(out[1], 0);
    assert_int_equal(out[2], 2000);
    assert_int_equal(qos_share(2, none, 4, out), 0);   /* 0 would mean unlimited to librbd */
    for (int i = 0; i < 4; i++)
        assert_int_equal(out[i], 1);
    uint64_t sum = 0, own[7] = { 5, 0, 333, 1, 0, 999, 70 }, o7[7];
    assert_int_equal(qos_share(1000, own, 7, o7), 0);
    for (int i = 0; i < 7; i++) {
        sum += o7[i];
        assert_true(!own[i] || o7[i] <= own[i]);
    }
    assert_true(sum <= 1000 && sum >= 993);
}

/* A volume held to its share: totals lowered, bursts above it dropped, a
 * direction no higher than the total. */
static void test_policy_cap(void **state)
{
    (void)state;
    struct qos_policy p;
    char msg[QOS_MSG_MAX];
    json_t *specs = json_pack("{s:s, s:s, s:s}", "total_iops_sec", "1000", "total_iops_sec_max",
                              "2000", "total_iops_sec_max_length", "5");

    assert_int_equal(qos_policy_parse(specs, false, &p, msg, sizeof(msg)), 0);
    assert_int_equal(qos_total_limit(&p, QOS_IOPS), 1000);
    qos_policy_cap(&p, 500, 0);
    assert_int_equal(p.lim[QOS_TOTAL][QOS_IOPS].avg, 500);
    assert_int_equal(p.lim[QOS_TOTAL][QOS_IOPS].max, 0);
    assert_int_equal(p.lim[QOS_TOTAL][QOS_IOPS].max_length, 0);
    assert_int_equal(p.lim[QOS_TOTAL][QOS_BPS].avg, 0);   /* no bytes share: untouched */
    json_decref(specs);
    specs = json_pack("{s:s}", "write_bytes_sec", "50000000");
    assert_int_equal(qos_policy_parse(specs, false, &p, msg, sizeof(msg)), 0);
    qos_policy_cap(&p, 300, 20000000);
    assert_int_equal(p.lim[QOS_TOTAL][QOS_IOPS].avg, 300);
    assert_int_equal(p.lim[QOS_TOTAL][QOS_BPS].avg, 20000000);
    assert_int_equal(p.lim[QOS_WRITE][QOS_BPS].avg, 20000000);
    json_decref(specs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consumers),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_resolve_and_frontend),
        cmocka_unit_test(test_rbd_metadata),
        cmocka_unit_test(test_iotune),
        cmocka_unit_test(test_share),
        cmocka_unit_test(test_policy_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
