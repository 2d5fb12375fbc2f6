/* vol_capacity.c — the volumes pool's capacity for Cinder's get_pools: ceph
 * df (mon, else mgr) for the pool's stored bytes and MAX AVAIL, and sums of
 * blockd's volume records for the provisioned and allocated sizes. */
#include "vol_internal.h"

#include <unistd.h>

#include "strata/ceph_cmd.h"
#include "strata/strutil.h"

struct sums {
    int64_t provisioned, allocated;
};

/* Every record counts for provisioned (hidden ones keep their data while
 * clones need it); visible ones also for allocated (what quotas count). */
static bool add_size(const json_t *rec, void *arg)
{
    struct sums *t = arg;
    int64_t gb = json_integer_value(json_object_get(rec, "size"));

    t->provisioned += gb;
    if (!st_rec_hidden(rec))
        t->allocated += gb;
    return false;   /* nothing to keep: the sums are the answer */
}

int vol_capacity(struct vol_service *s, struct volj_pool_stats *out, char *msg)
{
    rados_t cluster = st_daemon_rados(s->d);
    struct st_ceph_pool_df df = { 0 };
    struct sums t = { 0, 0 };
    json_t *doc = NULL, *none = NULL;
    char host[256] = "localhost";
    int rc;

    /* `df` is a mon command on some releases and a mgr one on others */
    if ((rc = st_ceph_command_json(cluster, false, "df", &doc)) < 0)
        rc = st_ceph_command_json(cluster, true, "df", &doc);
    if (rc == 0)
        rc = st_ceph_df_pool(doc, s->pool, &df);
    json_decref(doc);
    if (rc < 0)
        return st_msgf(msg, VOL_MSG_MAX, -EIO,
                       "The capacity of pool %s is unknown: ceph df failed (%s); try again later",
                       s->pool, strerror(-rc));
    /* provisioned_capacity_gb from the volume records, not the RBD images:
     * one listing of the metadata store instead of an open per image, and
     * exact for blockd's volumes, whose images are sized to their records
     * (create, extend, manage grows an image to the whole GiB). */
    if ((rc = st_meta_list_all(s->meta, &vol_kind, add_size, &t, &none)) < 0)
        return st_msgf(msg, VOL_MSG_MAX, -EIO,
                       "The metadata store did not answer (%s); try again later", strerror(-rc));
    json_decref(none);
    if (gethostname(host, sizeof(host) - 1) < 0)
        snprintf(host, sizeof(host), "localhost");
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s@strata#%s", host, s->pool);
    snprintf(out->pool, sizeof(out->pool), "%s", s->pool);
    snprintf(out->location_info, sizeof(out->location_info), "%s:%s", s->fsid, s->pool);
    vs_now_ts(out->timestamp, sizeof(out->timestamp));
    out->stored = df.stored;
    out->max_avail = df.max_avail;
    out->provisioned_gb = t.provisioned;
    out->allocated_gb = t.allocated;
    out->max_over_subscription_ratio = s->over_ratio;
    return 0;
}
