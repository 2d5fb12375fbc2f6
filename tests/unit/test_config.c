/* test_config.c — unit tests of common/config.c and the st_common_options table:
 * value parsers and their bounds, error messages, warnings for unknown keys and
 * sections, defaults, and that etc/strata.conf.sample documents every option. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "strata/config.h"
#include "strata/log.h"

static const struct st_opt *const common_only[] = { st_common_options, NULL };

/* ---- helpers ---- */

#include "log_capture.h"
#include "sample_check.h"

static size_t count_lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Write `text` into a new temporary file; returns its malloc'd path. */
static char *write_conf(const char *text)
{
    char *path = strdup("/tmp/strata-test-conf-XXXXXX");
    int fd;

    assert_non_null(path);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void drop_conf(char *path)
{
    unlink(path);
    free(path);
}

/* Load `text` with the given tables; returns rc, the error text and the log. */
static int load_text(const char *text, const struct st_opt *const *tables,
                     struct st_config **cfg, char *err, size_t errlen, char **log,
                     char **path_out)
{
    char *path = write_conf(text);
    int rc;

    capture_start();
    rc = st_config_load(path, tables, cfg, err, errlen);
    *log = capture_end();
    if (path_out)
        *path_out = path;
    else
        drop_conf(path);
    return rc;
}

/* Expect loading `text` to fail with the error "<path>: <tail>". */
static void expect_load_error(const char *text, const struct st_opt *const *tables,
                              const char *tail)
{
    struct st_config *cfg = (struct st_config *)0x1;
    char err[512], want[512];
    char *log, *path;
    int rc = load_text(text, tables, &cfg, err, sizeof(err), &log, &path);

    assert_int_equal(rc, -EINVAL);
    assert_ptr_equal(cfg, (struct st_config *)0x1); /* *out untouched on failure */
    snprintf(want, sizeof(want), "%s: %s", path, tail);
    assert_string_equal(err, want);
    assert_null(strchr(err, '\n'));
    free(log);
    drop_conf(path);
}

/* ---- parsers ---- */

static void test_parse_int(void **state)
{
    int64_t v;

    (void)state;
    assert_int_equal(st_parse_int("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(st_parse_int("-5", &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(st_parse_int("+7", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(st_parse_int("9223372036854775807", &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(st_parse_int("-9223372036854775808", &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(st_parse_int("9223372036854775808", &v), -EINVAL);
    assert_int_equal(st_parse_int("-9223372036854775809", &v), -EINVAL);
    assert_int_equal(st_parse_int("", &v), -EINVAL);
    assert_int_equal(st_parse_int("abc", &v), -EINVAL);
    assert_int_equal(st_parse_int("12a", &v), -EINVAL);
    assert_int_equal(st_parse_int(" 1", &v), -EINVAL);
    assert_int_equal(st_parse_int("1 ", &v), -EINVAL);
    assert_int_equal(st_parse_int("0x10", &v), -EINVAL);
    assert_int_equal(st_parse_int("-", &v), -EINVAL);
    assert_int_equal(st_parse_int(NULL, &v), -EINVAL);
}

static void test_parse_size(void **state)
{
    static const struct { const char *s; uint64_t v; } ok[] = {
        { "0", 0 },
        { "512", 512 },
        { "7B", 7 },
        { "1K", 1024 },
        { "1k", 1024 },
        { "1KiB", 1024 },
        { "2M", 2ULL << 20 },
        { "2MiB", 2ULL << 20 },
        { "3G", 3ULL << 30 },
        { "3gib", 3ULL << 30 },
        { "4T", 4ULL << 40 },
        { "16777215T", 16777215ULL << 40 },
        { "18446744073709551615", UINT64_MAX },
    };
    static const char *const bad[] = {
        "", "-1", "-1K", "1.5M", "1 M", "M", "1X", "1KB", "0x10", " 1",
        "16777216T", "18446744073709551616", "99999999999999999999999K",
    };
    uint64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(st_parse_size(ok[i].s, &v), 0);
        assert_true(v == ok[i].v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (st_parse_size(bad[i], &v) != -EINVAL)
            fail_msg("size \"%s\" was accepted", bad[i]);
    }
}

static void test_parse_duration(void **state)
{
    static const struct { const char *s; int64_t ms; } ok[] = {
        { "0", 0 },
        { "30", 30000 },
        { "30s", 30000 },
        { "500ms", 500 },
        { "5m", 300000 },
        { "2h", 7200000 },
        { "1d", 86400000 },
        { "9223372036854775807ms", INT64_MAX },
        { "9223372036854775s", 9223372036854775000LL },
    };
    static const char *const bad[] = {
        "", "-1s", "-1", "1x", "s", "1.5s", "1S", "1 s", "ms",
        "9223372036854776s", "9223372036854775808ms", "106751991167301d",
    };
    int64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(st_parse_duration_ms(ok[i].s, &v), 0);
        assert_true(v == ok[i].ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (st_parse_duration_ms(bad[i], &v) != -EINVAL)
            fail_msg("duration \"%s\" was accepted", bad[i]);
    }
}

static void test_parse_bool(void **state)
{
    static const char *const yes[] = { "true", "TRUE", "yes", "on", "1", "On" };
    static const char *const no[] = { "false", "no", "off", "0", "NO" };
    bool b;

    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        b = false;
        assert_int_equal(st_parse_bool(yes[i], &b), 0);
        assert_true(b);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        b = true;
        assert_int_equal(st_parse_bool(no[i], &b), 0);
        assert_false(b);
    }
    assert_int_equal(st_parse_bool("y", &b), -EINVAL);
    assert_int_equal(st_parse_bool("2", &b), -EINVAL);
    assert_int_equal(st_parse_bool("", &b), -EINVAL);
}

/* ---- loading ---- */

static void test_defaults_without_file(void **state)
{
    struct st_config *cfg = NULL;
    char err[256];

    (void)state;
    assert_int_equal(st_config_load(NULL, common_only, &cfg, err, sizeof(err)), 0);
    assert_null(st_config_path(cfg));
    assert_string_equal(st_config_str(cfg, "ceph", "conf"), "/etc/ceph/ceph.conf");
    assert_string_equal(st_config_str(cfg, "ceph", "keyring"), "");
    assert_string_equal(st_config_str(cfg, "ceph", "cluster"), "ceph");
    assert_int_equal(st_config_duration_ms(cfg, "ceph", "op_timeout"), 30000);
    assert_int_equal(st_config_duration_ms(cfg, "ceph", "connect_timeout"), 30000);
    assert_string_equal(st_config_str(cfg, "ceph", "meta_pool"), "strata.meta");
    assert_string_equal(st_config_str(cfg, "ceph", "images_pool"), "strata.images");
    assert_string_equal(st_config_str(cfg, "ceph", "volumes_pool"), "strata.volumes");
    assert_string_equal(st_config_str(cfg, "ceph", "vms_pool"), "strata.vms");
    assert_string_equal(st_config_str(cfg, "ceph", "backups_pool"), "strata.backups");
    assert_string_equal(st_config_str(cfg, "log", "level"), "info");
    assert_string_equal(st_config_str(cfg, "log", "file"), "");
    assert_null(st_config_str(cfg, "auth", "token_key"));
    assert_string_equal(st_config_str(cfg, "auth", "admin_token"), "");
    assert_string_equal(st_config_str(cfg, "auth", "admin_project_id"), "admin");
    assert_int_equal(st_config_duration_ms(cfg, "auth", "token_ttl"), 24 * 3600 * 1000);
    assert_int_equal(st_config_int(cfg, "http", "threads"), 16);
    assert_int_equal(st_config_size(cfg, "http", "max_json_body"), 1 << 20);
    assert_int_equal(st_config_duration_ms(cfg, "http", "conn_timeout"), 60000);
    assert_int_equal(st_config_duration_ms(cfg, "http", "stop_timeout"), 30000);
    assert_string_equal(st_config_str(cfg, "node", "name"), "");
    assert_string_equal(st_config_str(cfg, "node", "zone"), "nova");
    assert_int_equal(st_config_duration_ms(cfg, "lease", "ttl"), 90000);
    assert_false(st_config_is_set(cfg, "http", "threads"));
    st_config_destroy(cfg);
    st_config_destroy(NULL);
}

static const char *const color_choices[] = { "red", "green", NULL };
static const struct st_opt testd_options[] = {
    { "testd", "port", ST_OPT_INT, "8080", false, 1, 65535, NULL, "port" },
    { "testd", "verbose", ST_OPT_BOOL, "false", false, 0, 0, NULL, "verbose" },
    { "testd", "color", ST_OPT_ENUM, "red", false, 0, 0, color_choices, "color" },
    { "testd", "big", ST_OPT_INT, "0", false, 0, 0, NULL, "unbounded int" },
    { "testd", "chunk", ST_OPT_SIZE, "4M", false, 0, 0, NULL, "unbounded size" },
    { "testd", "wait", ST_OPT_DURATION, NULL, false, 0, 0, NULL, "no default" },
    ST_OPT_END,
};
static const struct st_opt *const with_testd[] = { st_common_options, testd_options, NULL };

static void test_load_values(void **state)
{
    struct st_config *cfg = NULL;
    char err[256];
    char *log, *path;
    int rc;

    (void)state;
    rc = load_text("; a comment\n"
                   "# another\n"
                   "[http]\n"
                   "threads =   1024   \n"
                   "max_json_body = 64MiB ; inline comment\n"
                   "stop_timeout = 0\n"
                   "[log]\n"
                   "level = DEBUG\n"
                   "[auth]\n"
                   "token_key = 0123456789abcdef0123456789abcdef\n"
                   "[ceph]\n"
                   "op_timeout = 600s\n"
                   "keyring =\n"
                   "[testd]\n"
                   "port = 1\n"
                   "verbose = yes\n"
                   "color = Green\n"
                   "big = -9223372036854775808\n"
                   "wait = 1500ms\n",
                   with_testd, &cfg, err, sizeof(err), &log, &path);
    assert_int_equal(rc, 0);
    assert_string_equal(log, ""); /* nothing unknown, nothing to warn about */
    assert_string_equal(st_config_path(cfg), path);
    assert_int_equal(st_config_int(cfg, "http", "threads"), 1024);
    assert_true(st_config_is_set(cfg, "http", "threads"));
    assert_int_equal(st_config_size(cfg, "http", "max_json_body"), 64 << 20);
    assert_int_equal(st_config_duration_ms(cfg, "http", "stop_timeout"), 0);
    assert_string_equal(st_config_str(cfg, "log", "level"), "debug"); /* canonical */
    assert_string_equal(st_config_str(cfg, "auth", "token_key"),
                        "0123456789abcdef0123456789abcdef");
    assert_int_equal(st_config_duration_ms(cfg, "ceph", "op_timeout"), 600000);
    assert_string_equal(st_config_str(cfg, "ceph", "keyring"), "");
    assert_true(st_config_is_set(cfg, "ceph", "keyring"));
    assert_false(st_config_is_set(cfg, "ceph", "conf"));
    assert_int_equal(st_config_int(cfg, "testd", "port"), 1);
    assert_true(st_config_bool(cfg, "testd", "verbose"));
    assert_string_equal(st_config_str(cfg, "testd", "color"), "green");
    assert_true(st_config_int(cfg, "testd", "big") == INT64_MIN);
    assert_int_equal(st_config_size(cfg, "testd", "chunk"), 4 << 20);
    assert_int_equal(st_config_duration_ms(cfg, "testd", "wait"), 1500);
    assert_string_equal(st_config_str(cfg, "testd", "port"), "1");
    st_config_destroy(cfg);
    free(log);
    drop_conf(path);
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_load_error("[http]\nthreads = abc\n", common_only,
                      "[http] threads = \"abc\": not an integer");
    expect_load_error("[http]\nthreads = 0\n", common_only,
                      "[http] threads = \"0\": must be between 1 and 1024");
    expect_load_error("[http]\nthreads = 1025\n", common_only,
                      "[http] threads = \"1025\": must be between 1 and 1024");
    expect_load_error("[http]\nthreads = 99999999999999999999\n", common_only,
                      "[http] threads = \"99999999999999999999\": must be between 1 and 1024");
    expect_load_error("[http]\nthreads =\n", common_only,
                      "[http] threads = \"\": not an integer");
    expect_load_error("[http]\nmax_json_body = 1023\n", common_only,
                      "[http] max_json_body = \"1023\": must be between 1K and 64M");
    expect_load_error("[http]\nmax_json_body = 67108865\n", common_only,
                      "[http] max_json_body = \"67108865\": must be between 1K and 64M");
    expect_load_error("[http]\nmax_json_body = -1M\n", common_only,
                      "[http] max_json_body = \"-1M\": must not be negative");
    expect_load_error("[http]\nmax_json_body = 1.5M\n", common_only,
                      "[http] max_json_body = \"1.5M\": not a size "
                      "(a number with an optional K, M, G or T suffix)");
    expect_load_error("[http]\nmax_json_body = 99999999999999999999T\n", common_only,
                      "[http] max_json_body = \"99999999999999999999T\": "
                      "must be between 1K and 64M");
    expect_load_error("[ceph]\nop_timeout = 999ms\n", common_only,
                      "[ceph] op_timeout = \"999ms\": must be between 1s and 10m");
    expect_load_error("[ceph]\nop_timeout = 601\n", common_only,
                      "[ceph] op_timeout = \"601\": must be between 1s and 10m");
    expect_load_error("[ceph]\nop_timeout = soon\n", common_only,
                      "[ceph] op_timeout = \"soon\": not a duration "
                      "(a number with an optional ms, s, m, h or d suffix)");
    expect_load_error("[lease]\nttl = 2s\n", common_only,
                      "[lease] ttl = \"2s\": must be between 3s and 1h");
    expect_load_error("[log]\nlevel = loud\n", common_only,
                      "[log] level = \"loud\": must be one of debug, info, warn, error");
    expect_load_error("[testd]\nverbose = maybe\n", with_testd,
                      "[testd] verbose = \"maybe\": not a boolean "
                      "(true/false, yes/no, on/off, 1/0)");
    /* Unbounded options still refuse what does not fit in 64 bits. */
    expect_load_error("[testd]\nbig = 9223372036854775808\n", with_testd,
                      "[testd] big = \"9223372036854775808\": out of range");
    expect_load_error("[testd]\nchunk = 16777216T\n", with_testd,
                      "[testd] chunk = \"16777216T\": out of range");
    expect_load_error("[testd]\nwait = 9223372036854775808ms\n", with_testd,
                      "[testd] wait = \"9223372036854775808ms\": out of range");
}

static void test_boundaries_accepted(void **state)
{
    static const char *const texts[] = {
        "[http]\nthreads = 1\nmax_json_body = 1K\n",
        "[http]\nthreads = 1024\nmax_json_body = 64M\n",
        "[ceph]\nop_timeout = 1s\n[lease]\nttl = 3s\n",
        "[ceph]\nop_timeout = 10m\n[lease]\nttl = 1h\n",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct st_config *cfg = NULL;
        char err[256], *log;

        assert_int_equal(load_text(texts[i], common_only, &cfg, err, sizeof(err), &log, NULL),
                         0);
        st_config_destroy(cfg);
        free(log);
    }
}

static void test_required(void **state)
{
    static const struct st_opt req[] = {
        { "auth", "secret", ST_OPT_STR, NULL, true, 0, 0, NULL, "required" },
        ST_OPT_END,
    };
    static const struct st_opt *const tables[] = { req, NULL };
    struct st_config *cfg = NULL;
    char err[256], *log;

    (void)state;
    expect_load_error("[auth]\nother = 1\n", tables, "[auth] secret: required but not set");
    assert_int_equal(st_config_load(NULL, tables, &cfg, err, sizeof(err)), -EINVAL);
    assert_null(cfg);
    assert_string_equal(err, "(no config file): [auth] secret: required but not set");
    assert_int_equal(load_text("[auth]\nsecret = x\n", tables, &cfg, err, sizeof(err), &log,
                               NULL),
                     0);
    assert_string_equal(st_config_str(cfg, "auth", "secret"), "x");
    st_config_destroy(cfg);
    free(log);
}

static void test_unknown_keys_and_sections(void **state)
{
    struct st_config *cfg = NULL;
    char err[256], want[512];
    char *log, *path;
    int rc;

    (void)state;
    rc = load_text("orphan = 1\n"
                   "[http]\n"
                   "threds = 4\n"
                   "[bogus]\n"
                   "a = 1\n"
                   "b = 2\n"
                   "[imaged]\n"
                   "anything = 1\n"
                   "[computed]\n"
                   "x = y\n",
                   common_only, &cfg, err, sizeof(err), &log, &path);
    assert_int_equal(rc, 0);
    snprintf(want, sizeof(want), "WARN [-] config.c:");
    assert_non_null(strstr(log, want));
    snprintf(want, sizeof(want), "%s:1: 'orphan' is outside any [section], ignored\n", path);
    assert_non_null(strstr(log, want));
    snprintf(want, sizeof(want), "%s:3: unknown option [http] threds, ignored\n", path);
    assert_non_null(strstr(log, want));
    snprintf(want, sizeof(want), "%s:5: unknown section [bogus], ignored\n", path);
    assert_non_null(strstr(log, want));
    /* One warning per unknown section, none for other daemons' sections. */
    assert_int_equal(count_lines(log), 3);
    assert_null(strstr(log, "imaged"));
    assert_null(strstr(log, "compute"));
    assert_int_equal(st_config_int(cfg, "http", "threads"), 16);
    st_config_destroy(cfg);
    free(log);
    drop_conf(path);

    /* Once a daemon loads its own table, its section is checked like any other. */
    rc = load_text("[testd]\nprot = 1\n[imaged]\nx = 1\n", with_testd, &cfg, err, sizeof(err),
                   &log, &path);
    assert_int_equal(rc, 0);
    snprintf(want, sizeof(want), "%s:2: unknown option [testd] prot, ignored\n", path);
    assert_non_null(strstr(log, want));
    assert_int_equal(count_lines(log), 1);
    st_config_destroy(cfg);
    free(log);
    drop_conf(path);
}

static void test_duplicate_last_wins(void **state)
{
    struct st_config *cfg = NULL;
    char err[256], want[512];
    char *log, *path;

    (void)state;
    /* The first value is bad, but it is overridden, so the load succeeds. */
    assert_int_equal(load_text("[http]\nthreads = bad\nthreads = 8\n", common_only, &cfg, err,
                               sizeof(err), &log, &path),
                     0);
    assert_int_equal(st_config_int(cfg, "http", "threads"), 8);
    snprintf(want, sizeof(want),
             "%s:3: [http] threads is set again (first at line 2); the last value wins\n",
             path);
    assert_non_null(strstr(log, want));
    assert_int_equal(count_lines(log), 1);
    st_config_destroy(cfg);
    free(log);
    drop_conf(path);
}

static void test_file_errors(void **state)
{
    struct st_config *cfg = (struct st_config *)0x1;
    char err[512], want[512], line[400];
    char *log, *path;

    (void)state;
    assert_int_equal(st_config_load("/nonexistent/strata.conf", common_only, &cfg, err,
                                    sizeof(err)),
                     -ENOENT);
    assert_string_equal(err, "/nonexistent/strata.conf: cannot open: No such file or directory");
    assert_ptr_equal(cfg, (struct st_config *)0x1);

    assert_int_equal(load_text("[http]\nthreads = 4\nthis line has no equals sign\n",
                               common_only, &cfg, err, sizeof(err), &log, &path),
                     -EINVAL);
    snprintf(want, sizeof(want), "%s:3: syntax error (expected [section] or key = value)", path);
    assert_string_equal(err, want);
    free(log);
    drop_conf(path);

    /* No multi-line values: an indented line after a key is an error. */
    assert_int_equal(load_text("[log]\nlevel = info\n  file = /var/log/x\n", common_only, &cfg,
                               err, sizeof(err), &log, &path),
                     -EINVAL);
    snprintf(want, sizeof(want),
             "%s:3: indented line continues the value above (values cannot span lines)", path);
    assert_string_equal(err, want);
    free(log);
    drop_conf(path);
    /* ... but an indented comment, or key right after a [section], is fine. */
    assert_int_equal(load_text("[log]\n  level = warn\n  # comment\nfile = /x\n",
                               common_only, &cfg, err, sizeof(err), &log, NULL),
                     0);
    assert_string_equal(st_config_str(cfg, "log", "level"), "warn");
    assert_string_equal(st_config_str(cfg, "log", "file"), "/x");
    st_config_destroy(cfg);
    cfg = (struct st_config *)0x1;
    free(log);

    /* A line longer than inih's buffer is refused, not split in two. */
    memset(line, 'x', sizeof(line));
    memcpy(line, "[node]\nname = ", 14);
    line[sizeof(line) - 2] = '\n';
    line[sizeof(line) - 1] = '\0';
    assert_int_equal(load_text(line, common_only, &cfg, err, sizeof(err), &log, &path),
                     -EINVAL);
    snprintf(want, sizeof(want), "%s:2: line too long", path);
    assert_string_equal(err, want);
    free(log);
    drop_conf(path);
    assert_ptr_equal(cfg, (struct st_config *)0x1);
}

static void test_bad_tables(void **state)
{
    static const struct st_opt twice[] = {
        { "http", "threads", ST_OPT_INT, "4", false, 0, 0, NULL, "again" },
        ST_OPT_END,
    };
    static const struct st_opt bad_default[] = {
        { "x", "n", ST_OPT_INT, "many", false, 0, 0, NULL, "bad default" },
        ST_OPT_END,
    };
    const struct st_opt *const t1[] = { st_common_options, twice, NULL };
    const struct st_opt *const t2[] = { bad_default, NULL };
    struct st_config *cfg = NULL;
    char err[256];

    (void)state;
    assert_int_equal(st_config_load(NULL, t1, &cfg, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "option table: [http] threads is declared twice");
    assert_int_equal(st_config_load(NULL, t2, &cfg, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "option table: default [x] n = \"many\": not an integer");
    assert_null(cfg);
    /* No tables at all: a valid, empty configuration. */
    assert_int_equal(st_config_load(NULL, NULL, &cfg, NULL, 0), 0);
    st_config_destroy(cfg);
}

static void test_getter_misuse(void **state)
{
    struct st_config *cfg = NULL;
    char *log;

    (void)state;
    assert_int_equal(st_config_load(NULL, common_only, &cfg, NULL, 0), 0);
    capture_start();
    assert_null(st_config_str(cfg, "nope", "nope"));
    assert_int_equal(st_config_int(cfg, "http", "nope"), 0);
    assert_int_equal(st_config_int(cfg, "http", "max_json_body"), 0); /* a size */
    assert_false(st_config_bool(cfg, "http", "threads"));
    assert_int_equal(st_config_size(NULL, "http", "max_json_body"), 0);
    assert_false(st_config_is_set(cfg, "x", "y"));
    log = capture_end();
    assert_non_null(strstr(log, "ERROR"));
    assert_non_null(strstr(log, "[nope] nope is not declared in any option table"));
    assert_non_null(strstr(log, "[http] max_json_body is a size option"));
    assert_int_equal(count_lines(log), 6);
    free(log);
    st_config_destroy(cfg);
}

/* ---- the sample configuration ---- */

static void test_sample_documents_every_option(void **state)
{
    (void)state;
    assert_sample_documents(st_common_options);
}

static void test_sample_loads(void **state)
{
    struct st_config *cfg = NULL;
    char err[256];
    char *log, *text, *path, *p;
    FILE *fp;
    long size;

    (void)state;
    /* As shipped (everything commented out): loads with no warning. */
    capture_start();
    assert_int_equal(st_config_load(STRATA_SOURCE_DIR "/etc/strata.conf.sample", common_only,
                                    &cfg, err, sizeof(err)),
                     0);
    log = capture_end();
    assert_string_equal(log, "");
    free(log);
    st_config_destroy(cfg);

    /* With every "# key = value" line uncommented: still valid, same values. */
    fp = fopen(STRATA_SOURCE_DIR "/etc/strata.conf.sample", "r");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    rewind(fp);
    text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    for (p = text; (p = strstr(p, "\n# ")); p++) {
        char *q = p + 3;
        while ((*q >= 'a' && *q <= 'z') || *q == '_')
            q++;
        if (q > p + 3 && strncmp(q, " =", 2) == 0)
            memmove(p + 1, p + 3, strlen(p + 3) + 1);
    }
    if (load_text(text, common_only, &cfg, err, sizeof(err), &log, &path) != 0)
        fail_msg("uncommented sample: %s", err);
    assert_string_equal(log, "");
    for (const struct st_opt *o = st_common_options; o->section; o++) {
        assert_true(st_config_is_set(cfg, o->section, o->key));
        if (o->def)
            assert_string_equal(st_config_str(cfg, o->section, o->key), o->def);
    }
    st_config_destroy(cfg);
    free(log);
    free(text);
    drop_conf(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_bool),
        cmocka_unit_test(test_defaults_without_file),
        cmocka_unit_test(test_load_values),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_boundaries_accepted),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_unknown_keys_and_sections),
        cmocka_unit_test(test_duplicate_last_wins),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_bad_tables),
        cmocka_unit_test(test_getter_misuse),
        cmocka_unit_test(test_sample_documents_every_option),
        cmocka_unit_test(test_sample_loads),
    };

    st_log_init("test", ST_LOG_INFO);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
