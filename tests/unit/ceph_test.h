/* ceph_test.h — unit-test helper for tests against a REAL Ceph cluster: connect
 * from STRATA_TEST_CEPH_CONF (every test skips without it), open one pool, name
 * images with a random per-run prefix and remove them all at teardown.
 * Include after cmocka.h; call ceph_test_setup/teardown from the group hooks. */
#ifndef STRATA_TEST_CEPH_TEST_H
#define STRATA_TEST_CEPH_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "strata/log.h"
#include "strata/rados.h"
#include "strata/rbd.h"

static rados_t cluster;
static rados_ioctx_t io;
static bool have_cluster;
static char prefix[48];

static inline const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);

    return v && v[0] ? v : dflt;
}

/* Image name `what` under this run's prefix. */
static inline void img_name(char *buf, size_t len, const char *what)
{
    snprintf(buf, len, "%s%s", prefix, what);
}

/* Connect as STRATA_TEST_CEPH_USER (default admin) and open `pool`; images are
 * named t-<tag>-<random>-*.  0 with have_cluster false when no cluster is
 * configured (a message says every test is skipped), -1 if it cannot be reached. */
static inline int ceph_test_setup(const char *test, const char *tag, const char *pool)
{
    struct st_rados_config cfg = {
        .conf = getenv("STRATA_TEST_CEPH_CONF"),
        .keyring = getenv("STRATA_TEST_CEPH_KEYRING"),
        .user = env_or("STRATA_TEST_CEPH_USER", "admin"),
        .op_timeout_s = 30,
        .connect_timeout_s = 20,
    };
    unsigned char rnd[6];

    st_log_init(test, ST_LOG_WARN);
    if (!cfg.conf || !cfg.conf[0]) {
        printf("%s: STRATA_TEST_CEPH_CONF is not set: skipping every test "
               "(they need a real Ceph cluster)\n",
               test);
        return 0;
    }
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return -1;
    snprintf(prefix, sizeof(prefix), "t-%s-%02x%02x%02x%02x%02x%02x-", tag, rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5]);
    if (st_rados_connect(&cfg, &cluster) < 0) {
        printf("%s: cannot reach the cluster in %s\n", test, cfg.conf);
        return -1;
    }
    if (st_rados_ioctx(cluster, pool, &io) < 0) {
        printf("%s: cannot open pool %s\n", test, pool);
        st_rados_shutdown(cluster);
        return -1;
    }
    have_cluster = true;
    return 0;
}

/* Remove whatever this run left behind (clones first: they pin parents, hence
 * several passes for chains), then disconnect. */
static inline void ceph_test_teardown(void)
{
    char **names = NULL;
    size_t n = 0;

    if (!have_cluster)
        return;
    for (int pass = 0; pass < 3; pass++) {
        if (st_rbd_list(io, &names, &n) < 0)
            break;
        for (size_t i = 0; i < n; i++)
            if (strncmp(names[i], prefix, strlen(prefix)) == 0)
                st_rbd_remove(io, names[i]);
        st_rbd_list_free(names, n);
    }
    rados_ioctx_destroy(io);
    st_rados_shutdown(cluster);
    have_cluster = false;
}

#define NEED_CLUSTER()                                                                             \
    do {                                                                                           \
        if (!have_cluster)                                                                         \
            skip();                                                                                \
    } while (0)

#endif
