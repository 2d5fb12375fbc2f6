/* test_log.c — unit tests of common/log.c: the exact line format, level
 * filtering (arguments not even evaluated), thread-local request ids, and
 * whole lines when many threads log at once. */
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "strata/log.h"

#include "log_capture.h"

static void assert_matches(const char *text, const char *pattern)
{
    regex_t re;

    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    if (regexec(&re, text, 0, NULL, 0) != 0)
        fail_msg("\"%s\" does not match /%s/", text, pattern);
    regfree(&re);
}

static int setup(void **state)
{
    (void)state;
    st_log_init("testd", ST_LOG_INFO);
    st_log_set_request_id(NULL);
    return 0;
}

static void test_line_format(void **state)
{
    char want[256];
    char *out;
    int line;

    (void)state;
    capture_start();
    line = __LINE__ + 1;
    st_info("hello %d %s", 42, "world");
    out = capture_end();
    assert_matches(out, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                        "strata-testd\\[[0-9]+\\] INFO \\[-\\] test_log\\.c:[0-9]+ "
                        "test_line_format: hello 42 world\n$");
    snprintf(want, sizeof(want), " strata-testd[%ld] INFO [-] test_log.c:%d test_line_format: "
             "hello 42 world\n", (long)getpid(), line);
    assert_string_equal(out + 24, want);
    free(out);
}

static void test_levels(void **state)
{
    static const char *const names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
    int evaluated = 0;
    char *out;

    (void)state;
    st_log_set_level(ST_LOG_WARN);
    assert_int_equal(st_log_get_level(), ST_LOG_WARN);
    capture_start();
    st_debug("d %d", ++evaluated);
    st_info("i %d", ++evaluated);
    st_warn("w %d", ++evaluated);
    st_error("e %d", ++evaluated);
    st_log_write(ST_LOG_INFO, __FILE__, __LINE__, __func__, "direct call below level");
    out = capture_end();
    /* Below the level nothing is formatted: the arguments are not evaluated. */
    assert_int_equal(evaluated, 2);
    assert_null(strstr(out, "INFO"));
    assert_non_null(strstr(out, " WARN [-] test_log.c:"));
    assert_non_null(strstr(out, "test_levels: w 1\n"));
    assert_non_null(strstr(out, " ERROR [-] "));
    assert_non_null(strstr(out, "test_levels: e 2\n"));
    free(out);

    st_log_set_level(ST_LOG_DEBUG);
    for (int l = ST_LOG_DEBUG; l <= ST_LOG_ERROR; l++) {
        char want[32];

        capture_start();
        ST_LOG((enum st_log_level)l, "x");
        out = capture_end();
        snprintf(want, sizeof(want), "] %s [-] ", names[l]);
        assert_non_null(strstr(out, want));
        free(out);
    }
    st_log_set_level(ST_LOG_INFO);
}

static void test_parse_level(void **state)
{
    enum st_log_level l;

    (void)state;
    assert_int_equal(st_log_parse_level("debug", &l), 0);
    assert_int_equal(l, ST_LOG_DEBUG);
    assert_int_equal(st_log_parse_level("INFO", &l), 0);
    assert_int_equal(l, ST_LOG_INFO);
    assert_int_equal(st_log_parse_level("Warn", &l), 0);
    assert_int_equal(l, ST_LOG_WARN);
    assert_int_equal(st_log_parse_level("warning", &l), 0);
    assert_int_equal(l, ST_LOG_WARN);
    assert_int_equal(st_log_parse_level("error", &l), 0);
    assert_int_equal(l, ST_LOG_ERROR);
    assert_int_equal(st_log_parse_level("fatal", &l), -EINVAL);
    assert_int_equal(st_log_parse_level("", &l), -EINVAL);
    assert_int_equal(st_log_parse_level(NULL, &l), -EINVAL);
}

static void *other_thread_request_id(void *arg)
{
    const char **seen = arg;

    *seen = st_log_request_id();
    return NULL;
}

static void test_request_id(void **state)
{
    const char *seen = "unset";
    pthread_t t;
    char *out;

    (void)state;
    assert_null(st_log_request_id());
    st_log_set_request_id("req-0123abcd");
    assert_string_equal(st_log_request_id(), "req-0123abcd");

    /* Thread-local: another thread does not see this thread's id. */
    assert_int_equal(pthread_create(&t, NULL, other_thread_request_id, &seen), 0);
    pthread_join(t, NULL);
    assert_null(seen);

    capture_start();
    st_warn("with id");
    st_log_set_request_id(NULL);
    st_warn("without id");
    out = capture_end();
    assert_non_null(strstr(out, " WARN [req-0123abcd] test_log.c:"));
    assert_non_null(strstr(out, " WARN [-] test_log.c:"));
    assert_null(st_log_request_id());
    free(out);
}

static void test_daemon_name(void **state)
{
    char name[100];
    char *out;

    (void)state;
    capture_start();
    st_log_init("strata-imaged", ST_LOG_INFO); /* prefix not doubled */
    st_info("a");
    memset(name, 'n', sizeof(name));
    name[sizeof(name) - 1] = '\0';
    st_log_init(name, ST_LOG_INFO); /* truncated to 63 characters */
    st_info("b");
    out = capture_end();
    assert_non_null(strstr(out, " strata-imaged["));
    name[63 - strlen("strata-")] = '\0';
    assert_non_null(strstr(out, name));
    assert_matches(out, " strata-n{56}\\[");
    free(out);
    st_log_init("testd", ST_LOG_INFO);
}

static void test_one_line_per_event(void **state)
{
    char *big, *out;

    (void)state;
    capture_start();
    st_info("multi\nline\r\nmessage\n\n");
    out = capture_end();
    assert_non_null(strstr(out, "test_one_line_per_event: multi line  message\n"));
    assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));
    free(out);

    /* A message longer than the stack buffer is written whole. */
    big = malloc(10001);
    assert_non_null(big);
    memset(big, 'x', 10000);
    big[10000] = '\0';
    capture_start();
    st_info("<%s>", big);
    out = capture_end();
    assert_non_null(strstr(out, "test_one_line_per_event: <xxxx"));
    assert_non_null(strstr(out, "xxxx>\n"));
    assert_int_equal(strlen(strchr(out, '<')), 10003);
    free(out);
    free(big);
}

static void test_errno_preserved(void **state)
{
    char *out;

    (void)state;
    capture_start();
    errno = EAGAIN;
    st_error("failed: %s", strerror(errno));
    assert_int_equal(errno, EAGAIN);
    out = capture_end();
    assert_non_null(strstr(out, "failed: Resource temporarily unavailable\n"));
    free(out);
}

#define NTHREADS 8
#define NLINES 500

static void *log_many(void *arg)
{
    long id = (long)arg;
    char rid[32];

    snprintf(rid, sizeof(rid), "req-t%ld", id);
    st_log_set_request_id(rid);
    for (int i = 0; i < NLINES; i++)
        st_info("thread %ld line %d %s end", id, i,
                "padding-padding-padding-padding-padding-padding-padding-padding");
    return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
    pthread_t t[NTHREADS];
    int seen[NTHREADS] = { 0 };
    char line[512];
    int total = 0;
    FILE *fp = tmpfile();
    regex_t re;

    (void)state;
    assert_non_null(fp);
    setvbuf(fp, NULL, _IONBF, 0); /* every fwrite is a write(2): worst case */
    st_log_set_stream(fp);
    for (long i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, log_many, (void *)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    st_log_set_stream(NULL);

    assert_int_equal(regcomp(&re,
                             "^[0-9T:.-]{23}Z strata-testd\\[[0-9]+\\] INFO \\[req-t([0-9])\\] "
                             "test_log\\.c:[0-9]+ log_many: thread ([0-9]) line [0-9]+ "
                             "(padding-){7}padding end\n$",
                             REG_EXTENDED),
                     0);
    rewind(fp);
    while (fgets(line, sizeof(line), fp)) {
        regmatch_t m[3];

        if (regexec(&re, line, 3, m, 0) != 0)
            fail_msg("garbled line: %s", line);
        assert_int_equal(line[m[1].rm_so], line[m[2].rm_so]); /* its own request id */
        seen[line[m[2].rm_so] - '0']++;
        total++;
    }
    regfree(&re);
    fclose(fp);
    assert_int_equal(total, NTHREADS * NLINES);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(seen[i], NLINES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_line_format, setup),
        cmocka_unit_test_setup(test_levels, setup),
        cmocka_unit_test_setup(test_parse_level, setup),
        cmocka_unit_test_setup(test_request_id, setup),
        cmocka_unit_test_setup(test_daemon_name, setup),
        cmocka_unit_test_setup(test_one_line_per_event, setup),
        cmocka_unit_test_setup(test_errno_preserved, setup),
        cmocka_unit_test_setup(test_threads_do_not_interleave, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
