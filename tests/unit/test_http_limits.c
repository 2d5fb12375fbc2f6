/* test_http_limits.c — the HTTP server's connection policing without a
 * server: the limits sized from RLIMIT_NOFILE, and MHD's lines summarised. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "strata/log.h"
#include "log_capture.h"
#include "../../common/http_limits.h"

#define REFUSAL "Server reached connection limit. Closing inbound connection."

static unsigned expected_budget(unsigned nofile)
{
    unsigned reserve = nofile / 4 > 256 ? nofile / 4 : 256;

    return nofile > 2 * reserve ? nofile - reserve : nofile / 2;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;

    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_auto_size_raises_nofile(void **state)
{
    struct rlimit rl, now;
    struct st_http_limits *l = NULL;
    unsigned want;

    (void)state;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max / 2; /* below the hard limit: create raises it */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_int_equal(st_http_limits_create(&(struct st_http_limits_config){0, 7, 1000}, &l), 0);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
    want = rl.rlim_max > (1u << 20) ? (1u << 20) : (unsigned)rl.rlim_max;
    assert_int_equal(now.rlim_cur, want);
    want = expected_budget(want) < 65536 ? expected_budget(want) : 65536;
    assert_int_equal(st_http_limits_max_connections(l), want);
    assert_int_equal(st_http_limits_per_ip(l), 7);
    st_http_limits_destroy(l);
}

static void test_configured_size_kept_or_lowered(void **state)
{
    struct st_http_limits *l = NULL;
    struct rlimit rl;
    char *out;

    (void)state;
    assert_int_equal(st_http_limits_create(&(struct st_http_limits_config){100, 0, 0}, &l), 0);
    assert_int_equal(st_http_limits_max_connections(l), 100);
    st_http_limits_destroy(l);

    capture_start();
    assert_int_equal(st_http_limits_create(&(struct st_http_limits_config){1u << 20, 0, 0}, &l), 0);
    out = capture_end();
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_int_equal(st_http_limits_max_connections(l), expected_budget((unsigned)rl.rlim_cur));
    assert_non_null(strstr(out, "[http] max_connections = 1048576"));
    free(out);
    st_http_limits_destroy(l);
    assert_int_equal(st_http_limits_create(NULL, &l), -EINVAL);
}

static void test_mhd_lines_are_summarised(void **state)
{
    struct st_http_limits *l = NULL;
    char *out;

    (void)state;
    assert_int_equal(st_http_limits_create(&(struct st_http_limits_config){100, 10, 1000}, &l), 0);
    capture_start();
    for (int i = 0; i < 500; i++)
        st_http_limits_mhd_log(l, REFUSAL);
    for (int i = 0; i < 25; i++)
        st_http_limits_mhd_log(l, "Connection socket is closed when reading request");
    out = capture_end();
    /* 500 refusals: one summary line now (the rest go in the next one); 25
     * other lines: the first 10 of this interval */
    assert_int_equal(count(out, "refused 1 new connection(s) at a connection limit"), 1);
    assert_int_equal(count(out, "refused"), 1);
    assert_int_equal(count(out, REFUSAL), 0);
    assert_int_equal(count(out, "microhttpd: Connection socket is closed"), 10);
    assert_non_null(strstr(out, "10 per address ([http] max_connections_per_ip), 100 in all"));
    free(out);
    st_http_limits_destroy(l);

    capture_start();
    st_http_limits_mhd_log(NULL, "no limits yet");
    out = capture_end();
    assert_non_null(strstr(out, "microhttpd: no limits yet"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auto_size_raises_nofile),
        cmocka_unit_test(test_configured_size_kept_or_lowered),
        cmocka_unit_test(test_mhd_lines_are_summarised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
