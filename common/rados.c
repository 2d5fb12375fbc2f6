/* rados.c — the daemon's RADOS connection: create, read ceph.conf, pick the
 * keyring, set op/mount timeouts (so no Ceph call blocks forever), connect.
 * A failure is logged once here, naming the user, the conf and the reason. */
#include "strata/rados.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strata/log.h"

#define ST_RADOS_DEFAULT_TIMEOUT_S 30u

/* Apply one numeric option; rc and the failing step are reported by the caller. */
static int set_timeout(rados_t cluster, const char *option, unsigned seconds)
{
    char val[16];

    snprintf(val, sizeof(val), "%u", seconds ? seconds : ST_RADOS_DEFAULT_TIMEOUT_S);
    return rados_conf_set(cluster, option, val);
}

/* Everything between create and connect; *step names what failed. */
static int configure(rados_t cluster, const struct st_rados_config *cfg, const char **step)
{
    int rc;

    *step = "read conf";
    rc = rados_conf_read_file(cluster, cfg->conf);
    if (rc < 0)
        return rc;
    if (cfg->keyring && cfg->keyring[0]) {
        *step = "set keyring";
        rc = rados_conf_set(cluster, "keyring", cfg->keyring);
        if (rc < 0)
            return rc;
    }
    *step = "set timeouts";
    rc = set_timeout(cluster, "rados_osd_op_timeout", cfg->op_timeout_s);
    if (rc == 0)
        rc = set_timeout(cluster, "rados_mon_op_timeout", cfg->op_timeout_s);
    if (rc == 0)
        rc = set_timeout(cluster, "client_mount_timeout", cfg->connect_timeout_s);
    if (rc < 0)
        return rc;
    *step = "connect";
    return rados_connect(cluster);
}

int st_rados_connect(const struct st_rados_config *cfg, rados_t *out)
{
    char name[160];
    const char *user, *step = "create";
    rados_t cluster = NULL;
    int rc;

    if (!cfg || !out)
        return -EINVAL;
    user = cfg->user && cfg->user[0] ? cfg->user : "admin";
    if ((size_t)snprintf(name, sizeof(name), "client.%s", user) >= sizeof(name)) {
        st_error("rados: user name too long: %.40s...", user);
        return -EINVAL;
    }
    rc = rados_create2(&cluster, cfg->cluster && cfg->cluster[0] ? cfg->cluster : "ceph", name, 0);
    if (rc == 0)
        rc = configure(cluster, cfg, &step);
    if (rc < 0) {
        st_error("rados: cannot connect as %s with conf %s (%s): %s", name,
                 cfg->conf ? cfg->conf : "(default search path)", step, strerror(-rc));
        if (cluster)
            rados_shutdown(cluster);
        return rc;
    }
    *out = cluster;
    return 0;
}

void st_rados_shutdown(rados_t cluster)
{
    if (cluster)
        rados_shutdown(cluster);
}

int st_rados_fsid(rados_t cluster, char *buf, size_t len)
{
    int rc;

    if (!cluster || !buf)
        return -EINVAL;
    if (len < 37)
        return -ERANGE;
    rc = rados_cluster_fsid(cluster, buf, len);
    if (rc < 0) {
        st_error("rados: cannot read cluster fsid: %s", strerror(-rc));
        return rc;
    }
    return 0;
}

int st_rados_ioctx(rados_t cluster, const char *pool, rados_ioctx_t *out)
{
    rados_ioctx_t io;
    int rc;

    if (!cluster || !pool || !pool[0] || !out)
        return -EINVAL;
    rc = rados_ioctx_create(cluster, pool, &io);
    if (rc < 0) {
        st_error("rados: cannot open pool %s: %s", pool, strerror(-rc));
        return rc;
    }
    *out = io;
    return 0;
}
