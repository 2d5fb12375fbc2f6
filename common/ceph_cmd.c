/* ceph_cmd.c — mon/mgr commands in JSON (rados_mon_command/rados_mgr_command,
 * bounded by the connection's rados_mon_op_timeout) and `df`'s pool line. */
#include "strata/ceph_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strata/log.h"

int st_ceph_command_json(rados_t cluster, bool mgr, const char *prefix, json_t **out)
{
    char cmd[128], *buf = NULL, *st = NULL;
    size_t blen = 0, slen = 0;
    const char *cmds[1] = { cmd };
    int rc;

    if (!cluster || !prefix || !out)
        return -EINVAL;
    snprintf(cmd, sizeof(cmd), "{\"prefix\": \"%s\", \"format\": \"json\"}", prefix);
    rc = mgr ? rados_mgr_command(cluster, cmds, 1, "", 0, &buf, &blen, &st, &slen)
             : rados_mon_command(cluster, cmds, 1, "", 0, &buf, &blen, &st, &slen);
    if (rc == 0) {
        json_error_t e;
        json_t *j = json_loadb(buf, blen, 0, &e);
        if (j)
            *out = j;
        else {
            st_warn("ceph %s: the answer is not JSON: %s", prefix, e.text);
            rc = -EIO;
        }
    } else if (!mgr || rc != -EACCES) {
        st_warn("ceph %s: %s%s%.*s", prefix, strerror(-rc), slen ? ": " : "", (int)slen,
                st ? st : "");
    }
    rados_buffer_free(buf);
    rados_buffer_free(st);
    return rc;
}

int st_ceph_df_pool(const json_t *df, const char *pool, struct st_ceph_pool_df *out)
{
    const json_t *pools = json_object_get(df, "pools"), *p, *stats, *avail, *stored;
    size_t i;

    if (!json_is_array(pools) || !pool || !out)
        return -EINVAL;
    json_array_foreach(pools, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        if (!name || strcmp(name, pool) != 0)
            continue;
        stats = json_object_get(p, "stats");
        avail = json_object_get(stats, "max_avail");
        if (!json_is_integer(avail))
            return -EINVAL;
        stored = json_object_get(stats, "stored");
        if (!json_is_integer(stored))
            stored = json_object_get(stats, "bytes_used");
        out->max_avail = json_integer_value(avail);
        out->stored = json_is_integer(stored) ? json_integer_value(stored) : 0;
        return 0;
    }
    return -ENOENT;
}
