/* rados.h — one RADOS connection per daemon, built from config.
 * Connects as the daemon's own cephx user with op timeouts set, so no Ceph call
 * can block a daemon forever when the cluster is down. */
#ifndef STRATA_RADOS_H
#define STRATA_RADOS_H

#include <rados/librados.h>
#include <stddef.h>

struct st_rados_config {
    const char *conf;        /* ceph.conf path (NULL = librados default search) */
    const char *keyring;     /* keyring path (NULL/"" = from ceph.conf) */
    const char *user;        /* cephx id without "client.", e.g. "strata-imaged" */
    const char *cluster;     /* cluster name, default "ceph" */
    unsigned op_timeout_s;   /* rados_osd_op_timeout and rados_mon_op_timeout; 0 = 30 */
    unsigned connect_timeout_s; /* client_mount_timeout; 0 = 30 */
};

/* Connect; 0 and *out on success, -errno (and one log line naming the user,
 * conf and reason) on failure.  Never logs the key. */
int st_rados_connect(const struct st_rados_config *cfg, rados_t *out);
void st_rados_shutdown(rados_t cluster);
/* The cluster fsid as text (37 bytes with NUL). */
int st_rados_fsid(rados_t cluster, char *buf, size_t len);
/* Open an I/O context on a pool: -ENOENT if it does not exist. */
int st_rados_ioctx(rados_t cluster, const char *pool, rados_ioctx_t *out);

#endif
