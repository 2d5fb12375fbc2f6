/* ceph_cmd.h — Ceph monitor/manager commands answered in JSON, and the pure
 * readers of their answers the daemons share (today: a pool's line of `df`). */
#ifndef STRATA_CEPH_CMD_H
#define STRATA_CEPH_CMD_H

#include <jansson.h>
#include <rados/librados.h>
#include <stdbool.h>
#include <stdint.h>

/* Run {"prefix": prefix, "format": "json"} on the monitors (mgr false) or the
 * manager (mgr true) and parse the answer into *out (new reference).  0,
 * -EIO (the answer is not JSON) or librados' -errno; a failure is logged once
 * with Ceph's status text, except the manager's -EACCES (callers fall back). */
int st_ceph_command_json(rados_t cluster, bool mgr, const char *prefix, json_t **out);

/* One pool of `df` (format json), in bytes: stored = stats.stored (the data
 * written, before replication; older releases: stats.bytes_used), max_avail =
 * stats.max_avail (what can still be written, replication-aware). */
struct st_ceph_pool_df {
    int64_t stored;
    int64_t max_avail;
};
/* -EINVAL when df has no pools array or the pool no integer max_avail,
 * -ENOENT when no pool is named `pool`. */
int st_ceph_df_pool(const json_t *df, const char *pool, struct st_ceph_pool_df *out);

#endif
