/* test_metrics.c — unit tests of common/metrics.c: the exact Prometheus text of
 * a small registry, label escaping, name checks, and exact sums when many
 * threads update the same (and brand-new) series at once. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strata/log.h"
#include "strata/metrics.h"

#define L(...) ((const char *const[]){ __VA_ARGS__ })

static double fixed_gauge(void *arg)
{
    return *(double *)arg;
}

static char *render(struct st_metrics *m)
{
    char *out = NULL;
    size_t len = 0;

    assert_int_equal(st_metrics_render(m, &out, &len), 0);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    return out;
}

static void test_render_exact(void **state)
{
    static const double bounds[] = { 0.125, 0.5, 1 };
    struct st_metrics *m = NULL;
    struct st_counter *req, *errs;
    struct st_histogram *lat;
    double inflight = 2.5;
    char *out;

    (void)state;
    assert_int_equal(st_metrics_create(&m), 0);
    assert_int_equal(st_counter_register(m, "strata_http_requests_total", "HTTP requests handled.",
                                         L("method", "code", NULL), &req),
                     0);
    assert_int_equal(st_counter_register(m, "strata_errors_total", "Errors.", NULL, &errs), 0);
    assert_int_equal(st_histogram_register(m, "strata_http_request_seconds", "Latency.",
                                           L("route", NULL), bounds, 3, &lat),
                     0);
    assert_int_equal(st_gauge_register(m, "strata_inflight_requests", "In flight.", fixed_gauge,
                                       &inflight),
                     0);

    st_counter_add(req, L("GET", "200"), 1);
    st_counter_add(req, L("POST", "201"), 1);
    st_counter_add(req, L("GET", "200"), 2);
    st_counter_add(req, L("DELETE", "404"), 1);
    st_histogram_observe(lat, L("/v2/images"), 0.0625);
    st_histogram_observe(lat, L("/v2/images"), 0.125); /* on a bound: counted as le */
    st_histogram_observe(lat, L("/v2/images"), 0.75);
    st_histogram_observe(lat, L("/v2/images"), 3);

    out = render(m);
    assert_string_equal(
        out,
        "# HELP strata_errors_total Errors.\n"
        "# TYPE strata_errors_total counter\n"
        "strata_errors_total 0\n"
        "# HELP strata_http_request_seconds Latency.\n"
        "# TYPE strata_http_request_seconds histogram\n"
        "strata_http_request_seconds_bucket{route=\"/v2/images\",le=\"0.125\"} 2\n"
        "strata_http_request_seconds_bucket{route=\"/v2/images\",le=\"0.5\"} 2\n"
        "strata_http_request_seconds_bucket{route=\"/v2/images\",le=\"1\"} 3\n"
        "strata_http_request_seconds_bucket{route=\"/v2/images\",le=\"+Inf\"} 4\n"
        "strata_http_request_seconds_sum{route=\"/v2/images\"} 3.9375\n"
        "strata_http_request_seconds_count{route=\"/v2/images\"} 4\n"
        "# HELP strata_http_requests_total HTTP requests handled.\n"
        "# TYPE strata_http_requests_total counter\n"
        "strata_http_requests_total{method=\"DELETE\",code=\"404\"} 1\n"
        "strata_http_requests_total{method=\"GET\",code=\"200\"} 3\n"
        "strata_http_requests_total{method=\"POST\",code=\"201\"} 1\n"
        "# HELP strata_inflight_requests In flight.\n"
        "# TYPE strata_inflight_requests gauge\n"
        "strata_inflight_requests 2.5\n");
    free(out);

    assert_int_equal(st_counter_get(req, L("GET", "200")), 3);
    assert_int_equal(st_counter_get(errs, NULL), 0);
    st_counter_add(errs, NULL, 7);
    assert_int_equal(st_counter_get(errs, NULL), 7);
    /* get does not create a series */
    assert_int_equal(st_counter_get(req, L("PUT", "500")), 0);
    out = render(m);
    assert_null(strstr(out, "PUT"));
    assert_non_null(strstr(out, "\nstrata_errors_total 7\n"));
    free(out);
    st_metrics_destroy(m);
    st_metrics_destroy(NULL);
}

static void test_escaping(void **state)
{
    struct st_metrics *m = NULL;
    struct st_counter *c;
    char longv[600];
    char *out;

    (void)state;
    assert_int_equal(st_metrics_create(&m), 0);
    assert_int_equal(st_counter_register(m, "x_total", "back\\slash and\nnewline \"quoted\"",
                                         L("v", NULL), &c),
                     0);
    st_counter_add(c, L("a\"b\\c\nd"), 1);
    st_counter_add(c, L(""), 2);
    out = render(m);
    assert_string_equal(out, "# HELP x_total back\\\\slash and\\nnewline \"quoted\"\n"
                             "# TYPE x_total counter\n"
                             "x_total{v=\"\"} 2\n"
                             "x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
    free(out);

    /* A label set longer than the lookup's stack buffer. */
    memset(longv, 'v', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    st_counter_add(c, L(longv), 1);
    st_counter_add(c, L(longv), 2);
    assert_int_equal(st_counter_get(c, L(longv)), 3);
    st_metrics_destroy(m);
}

static void test_default_buckets_and_gauge_values(void **state)
{
    struct st_metrics *m = NULL;
    struct st_histogram *h;
    double inf = INFINITY, nan_v = NAN;
    char *out;

    (void)state;
    assert_int_equal(st_metrics_create(&m), 0);
    assert_int_equal(st_histogram_register(m, "op_seconds", "Ops.", NULL, NULL, 0, &h), 0);
    st_histogram_observe(h, NULL, 0.0005);
    st_histogram_observe(h, NULL, 120);
    assert_int_equal(st_gauge_register(m, "g_inf", "inf", fixed_gauge, &inf), 0);
    assert_int_equal(st_gauge_register(m, "g_nan", "nan", fixed_gauge, &nan_v), 0);
    out = render(m);
    assert_string_equal(out, "# HELP g_inf inf\n"
                             "# TYPE g_inf gauge\n"
                             "g_inf +Inf\n"
                             "# HELP g_nan nan\n"
                             "# TYPE g_nan gauge\n"
                             "g_nan NaN\n"
                             "# HELP op_seconds Ops.\n"
                             "# TYPE op_seconds histogram\n"
                             "op_seconds_bucket{le=\"0.001\"} 1\n"
                             "op_seconds_bucket{le=\"0.0025\"} 1\n"
                             "op_seconds_bucket{le=\"0.005\"} 1\n"
                             "op_seconds_bucket{le=\"0.01\"} 1\n"
                             "op_seconds_bucket{le=\"0.025\"} 1\n"
                             "op_seconds_bucket{le=\"0.05\"} 1\n"
                             "op_seconds_bucket{le=\"0.1\"} 1\n"
                             "op_seconds_bucket{le=\"0.25\"} 1\n"
                             "op_seconds_bucket{le=\"0.5\"} 1\n"
                             "op_seconds_bucket{le=\"1\"} 1\n"
                             "op_seconds_bucket{le=\"2.5\"} 1\n"
                             "op_seconds_bucket{le=\"5\"} 1\n"
                             "op_seconds_bucket{le=\"10\"} 1\n"
                             "op_seconds_bucket{le=\"30\"} 1\n"
                             "op_seconds_bucket{le=\"60\"} 1\n"
                             "op_seconds_bucket{le=\"+Inf\"} 2\n"
                             "op_seconds_sum 120.0005\n"
                             "op_seconds_count 2\n");
    free(out);
    st_metrics_destroy(m);
}

static void test_registration_errors(void **state)
{
    static const double desc[] = { 1, 0.5 };
    static const double dup[] = { 1, 1 };
    static const double nanb[] = { 0.1, NAN };
    struct st_metrics *m = NULL;
    struct st_counter *c = NULL;
    struct st_histogram *h = NULL;
    char *out;

    (void)state;
    assert_int_equal(st_metrics_create(&m), 0);
    assert_int_equal(st_counter_register(m, "1abc", "", NULL, &c), -EINVAL);
    assert_int_equal(st_counter_register(m, "a-b", "", NULL, &c), -EINVAL);
    assert_int_equal(st_counter_register(m, "", "", NULL, &c), -EINVAL);
    assert_int_equal(st_counter_register(m, NULL, "", NULL, &c), -EINVAL);
    assert_int_equal(st_counter_register(m, "ok", "", L("bad-label", NULL), &c), -EINVAL);
    assert_int_equal(st_counter_register(m, "ok", "", L("a:b", NULL), &c), -EINVAL);
    assert_int_equal(st_counter_register(m, "ok", "", L("__reserved", NULL), &c), -EINVAL);
    assert_int_equal(st_counter_register(m, "ok", "", L("a", "a", NULL), &c), -EINVAL);
    assert_int_equal(st_counter_register(m, "ok", "", L("a", "b", "c", "d", "e", NULL), &c),
                     -EINVAL);
    assert_null(c);
    assert_int_equal(st_counter_register(m, "ok:name_1", "", L("a", "b", "c", "d", NULL), &c), 0);
    assert_non_null(c);
    assert_int_equal(st_counter_register(m, "ok:name_1", "", NULL, &c), -EEXIST);
    assert_int_equal(st_gauge_register(m, "ok:name_1", "", fixed_gauge, NULL), -EEXIST);
    assert_int_equal(st_gauge_register(m, "nofn", "", NULL, NULL), -EINVAL);
    assert_int_equal(st_histogram_register(m, "h", "", L("le", NULL), NULL, 0, &h), -EINVAL);
    assert_int_equal(st_histogram_register(m, "h", "", NULL, desc, 2, &h), -EINVAL);
    assert_int_equal(st_histogram_register(m, "h", "", NULL, dup, 2, &h), -EINVAL);
    assert_int_equal(st_histogram_register(m, "h", "", NULL, nanb, 2, &h), -EINVAL);
    assert_int_equal(st_histogram_register(m, "h", "", NULL, desc, 0, &h), -EINVAL);
    assert_null(h);
    assert_int_equal(st_histogram_register(m, "h", "", L("le_not", NULL), desc, 1, &h), 0);
    assert_int_equal(st_histogram_register(m, "h", "", NULL, desc, 1, &h), -EEXIST);
    /* Only the two successful registrations are rendered. */
    out = render(m);
    assert_string_equal(out, "# HELP h \n# TYPE h histogram\n"
                             "# HELP ok:name_1 \n# TYPE ok:name_1 counter\n");
    free(out);
    st_metrics_destroy(m);
}

static void test_empty_registry(void **state)
{
    struct st_metrics *m = NULL;
    char *out = NULL;
    size_t len = 99;

    (void)state;
    assert_int_equal(st_metrics_create(&m), 0);
    assert_int_equal(st_metrics_render(m, &out, &len), 0);
    assert_string_equal(out, "");
    assert_int_equal(len, 0);
    free(out);
    st_metrics_destroy(m);
}

#define NTHREADS 8
#define NADDS 100000

struct worker {
    struct st_counter *c;
    struct st_histogram *h;
    int id;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    char label[16];

    for (int i = 0; i < NADDS; i++) {
        /* 64 series created on the fly, each hit by every thread */
        snprintf(label, sizeof(label), "s%02d", i % 64);
        st_counter_add(w->c, L(label), 1);
        st_counter_add(w->c, L("shared"), 2);
        if (i % 10 == 0)
            st_histogram_observe(w->h, L(label), 1.0);
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    struct st_metrics *m = NULL;
    struct st_counter *c;
    struct st_histogram *h;
    struct worker w[NTHREADS];
    pthread_t t[NTHREADS];
    uint64_t total = 0;
    char label[16], want[128], *out;

    (void)state;
    assert_int_equal(st_metrics_create(&m), 0);
    assert_int_equal(st_counter_register(m, "hits_total", "Hits.", L("s", NULL), &c), 0);
    assert_int_equal(st_histogram_register(m, "obs", "Obs.", L("s", NULL), NULL, 0, &h), 0);
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (struct worker){ .c = c, .h = h, .id = i };
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    /* Render while the series are being created and updated. */
    for (int i = 0; i < 20; i++)
        free(render(m));
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);

    assert_int_equal(st_counter_get(c, L("shared")), (uint64_t)2 * NTHREADS * NADDS);
    for (int s = 0; s < 64; s++) {
        snprintf(label, sizeof(label), "s%02d", s);
        total += st_counter_get(c, L(label));
    }
    assert_int_equal(total, (uint64_t)NTHREADS * NADDS);

    out = render(m);
    /* s00 is observed when i is a multiple of 320: 313 times per thread. */
    snprintf(want, sizeof(want), "obs_count{s=\"s00\"} %d\n", NTHREADS * 313);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof(want), "obs_sum{s=\"s00\"} %d\n", NTHREADS * 313);
    assert_non_null(strstr(out, want));
    /* Series are sorted: s00 < s01 < ... < shared. */
    assert_true(strstr(out, "hits_total{s=\"s00\"}") < strstr(out, "hits_total{s=\"s01\"}"));
    assert_true(strstr(out, "hits_total{s=\"s63\"}") < strstr(out, "hits_total{s=\"shared\"}"));
    free(out);
    st_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_exact),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_default_buckets_and_gauge_values),
        cmocka_unit_test(test_registration_errors),
        cmocka_unit_test(test_empty_registry),
        cmocka_unit_test(test_concurrent_updates),
    };

    st_log_init("test", ST_LOG_INFO);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
