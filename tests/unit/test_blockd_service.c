/* test_blockd_service.c — blockd's volume service life cycle
 * (vol_service_create/destroy) with no daemon or cluster: the daemon's
 * accessors, the Ceph handles and the reconciler's ticker are stubs; the
 * configuration is a real one loaded from a file.  Asserts what the service
 * takes from it, the pool's "blockd since" mark, and that every refusal
 * (bad ratio, bad public_url, missing pool, unwritable mark) unwinds with
 * nothing leaked (ASan). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_rados.h"
#include "fake_rbd.h"
#include "fake_work.h"
#include "meta_assert.h"
#include "mock.h"
#include "options.h"
#include "strata/config.h"
#include "strata/daemon.h"
#include "strata/rados.h"
#include "strata/ticker.h"
#include "vol_internal.h"

static struct st_config *cfg;
static struct st_meta *meta;

ST_WRAP(st_daemon_config, const struct st_config *, (const struct st_daemon *d))
{
    return cfg;
}

ST_WRAP(st_daemon_meta, struct st_meta *, (const struct st_daemon *d))
{
    return meta;
}

ST_STUB(st_daemon_owner, const char *, (const struct st_daemon *d), "node1/0000000000000001")
ST_STUB(st_daemon_rados, rados_t, (const struct st_daemon *d), NULL)
ST_STUB(rados_conf_get, int, (rados_t cluster, const char *option, char *buf, size_t len), -ENOENT)
ST_STUB(vs_backup_open, int, (struct vol_service * s, const struct st_config *c), 0)
ST_STUB(st_ticker_start_after, int,
        (struct st_ticker * t, int64_t first_ms, int64_t interval_ms, void (*fn)(void *),
         void *arg),
        0)

ST_WRAP(vs_backup_close, void, (struct vol_service * s)) {}

ST_WRAP(rados_ioctx_destroy, void, (rados_ioctx_t io)) {}

ST_WRAP(st_ticker_stop, void, (struct st_ticker * t)) {}

ST_WRAP(st_daemon_public_url, int,
        (const struct st_daemon *d, const char *configured, char *buf, size_t len))
{
    if (configured && configured[0] && strncmp(configured, "http", 4) != 0)
        return -EINVAL;
    snprintf(buf, len, "http://public.test:8776"); /* the daemon's normalised answer */
    return 0;
}

ST_WRAP(st_rados_fsid, int, (rados_t cluster, char *buf, size_t len))
{
    snprintf(buf, len, "fsid-1");
    return 0;
}

static int ioctx_rc;

ST_WRAP(st_rados_ioctx, int, (rados_t cluster, const char *pool, rados_ioctx_t *out))
{
    if (ioctx_rc)
        return ioctx_rc;
    *out = fake_rados_ioctx(1);
    return 0;
}

/* Load a configuration whose [blockd] section has these lines (NULL: none). */
static void config(const char *blockd_lines)
{
    const struct st_opt *tables[] = {st_common_options, blockd_options, NULL};
    char path[] = "/tmp/strata-blockd-conf-XXXXXX", err[256] = "";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");

    assert_non_null(f);
    fprintf(f, "[ceph]\nvolumes_pool = vols\n[blockd]\nworkers = 1\n%s\n",
            blockd_lines ? blockd_lines : "");
    fclose(f);
    st_config_destroy(cfg);
    cfg = NULL;
    int rc = st_config_load(path, tables, &cfg, err, sizeof(err));
    unlink(path);
    if (rc < 0)
        fail_msg("config: %s", err);
}

static int setup(void **state)
{
    (void)state;
    fake_rados_reset();
    fake_rbd_reset();
    fake_work_reset();
    st_log_set_level(ST_LOG_ERROR);
    ioctx_rc = 0;
    return st_meta_open(fake_rados_ioctx(0), &meta);
}

static int teardown(void **state)
{
    (void)state;
    st_meta_close(meta);
    st_config_destroy(cfg);
    cfg = NULL;
    fake_rbd_reset();
    fake_rados_reset();
    return 0;
}

static void test_create_from_config(void **state)
{
    struct vol_service *s = NULL;
    int64_t since = 0;

    (void)state;
    config("max_over_subscription_ratio = 4.5\npublic_url = http://blockd.test:8776/\n"
           "max_metadata_items = 7");
    assert_int_equal(vol_service_create(NULL, &s), 0);
    assert_string_equal(s->pool, "vols");
    assert_string_equal(s->fsid, "fsid-1");
    assert_true(s->over_ratio == 4.5);
    assert_int_equal(vol_service_metadata_max(s), 7);
    assert_string_equal(vol_service_public_url(s), "http://public.test:8776");
    assert_non_null(vol_service_quota(s));
    assert_non_null(vol_service_types(s));
    assert_int_equal(json_array_size(s->mon_hosts), 0); /* mon_host unknown: none listed */
    /* the pool is marked as blockd's from now */
    assert_int_equal(st_rbd_pool_since(s->vols, VS_POOL_SINCE_KEY, 1, &since), 0);
    assert_true(since == st_now_ms() / 1000);
    vol_service_destroy(s);
    vol_service_destroy(NULL);
}

static void test_bad_ratio_refused(void **state)
{
    static const char *const bad[] = {"max_over_subscription_ratio = abc",
                                      "max_over_subscription_ratio = 0",
                                      "max_over_subscription_ratio = 2e7"};
    struct vol_service *s = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        config(bad[i]);
        assert_int_equal(vol_service_create(NULL, &s), -EINVAL);
        assert_null(s);
    }
    config("public_url = ftp://x");
    assert_int_equal(vol_service_create(NULL, &s), -EINVAL);
    assert_null(s);
}

static void test_ceph_refusals_unwound(void **state)
{
    struct vol_service *s = NULL;

    (void)state;
    config(NULL);
    ioctx_rc = -ENOENT; /* no volumes pool */
    assert_int_equal(vol_service_create(NULL, &s), -ENOENT);
    ioctx_rc = 0;
    fake_rbd_fail("st_rbd_pool_since", -EPERM);
    assert_int_equal(vol_service_create(NULL, &s), -EPERM);
    ST_SET(vs_backup_open, -EIO);
    assert_int_equal(vol_service_create(NULL, &s), -EIO);
    ST_SET(vs_backup_open, 0);
    ST_SET(st_ticker_start_after, -EAGAIN);
    assert_int_equal(vol_service_create(NULL, &s), -EAGAIN);
    ST_SET(st_ticker_start_after, 0);
    assert_null(s);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_create_from_config),
        T(test_bad_ratio_refused),
        T(test_ceph_refusals_unwound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
