/* ceph_facts.c — `osd dump`, `osd crush dump` and `df` (mon, else mgr) as JSON
 * (common/ceph_cmd.c), cached for ttl_ms under a lock; parsed by the pure
 * helpers of placement.
 * Without mgr read caps, free space falls back to raw free / pool size. */
#include "ceph_facts.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/ceph_cmd.h"
#include "strata/log.h"
#include "strata/rados.h"
#include "strata/workpool.h"

struct ceph_facts {
    rados_t cluster;
    int64_t ttl_ms;
    char fsid[64];
    pthread_mutex_t lock;
    int64_t read_at;
    json_t *osd_dump, *crush, *df;   /* df NULL when the mgr refused */
    bool df_refused_logged;
};

int cf_create(rados_t cluster, int64_t ttl_ms, struct ceph_facts **out)
{
    struct ceph_facts *f = calloc(1, sizeof(*f));
    int rc;

    if (!f)
        return -ENOMEM;
    f->cluster = cluster;
    f->ttl_ms = ttl_ms;
    pthread_mutex_init(&f->lock, NULL);
    if ((rc = st_rados_fsid(cluster, f->fsid, sizeof(f->fsid))) < 0) {
        cf_destroy(f);
        return rc;
    }
    *out = f;
    return 0;
}

void cf_destroy(struct ceph_facts *f)
{
    if (!f)
        return;
    json_decref(f->osd_dump);
    json_decref(f->crush);
    json_decref(f->df);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

const char *cf_fsid(const struct ceph_facts *f)
{
    return f->fsid;
}

static int command(struct ceph_facts *f, bool mgr, const char *prefix, json_t **out)
{
    return st_ceph_command_json(f->cluster, mgr, prefix, out);
}

/* Refresh the cache when stale; called with the lock held. */
static int refresh(struct ceph_facts *f)
{
    json_t *od = NULL, *cr = NULL, *df = NULL;
    int64_t now = st_now_ms();
    int rc;

    if (f->osd_dump && now - f->read_at < f->ttl_ms)
        return 0;
    if ((rc = command(f, false, "osd dump", &od)) < 0 ||
        (rc = command(f, false, "osd crush dump", &cr)) < 0) {
        json_decref(od);
        return f->osd_dump ? 0 : -EIO;   /* old facts beat none */
    }
    /* df is a mon command on some releases and a mgr one on others */
    if (command(f, false, "df", &df) < 0 && command(f, true, "df", &df) < 0 &&
        !f->df_refused_logged) {
        st_warn("ceph df (mgr) refused: pool free space is estimated from the raw free space "
                "and the pools' replica counts (the cephx user may not read df)");
        f->df_refused_logged = true;
    }
    json_decref(f->osd_dump);
    json_decref(f->crush);
    json_decref(f->df);
    f->osd_dump = od;
    f->crush = cr;
    f->df = df;
    f->read_at = now;
    return 0;
}

/* Raw free space / the pool's size, when df is not ours to read. */
static int estimate_free(struct ceph_facts *f, const char *pool, int64_t *bytes)
{
    struct rados_cluster_stat_t cs;
    const json_t *p;
    size_t i;
    int rc = rados_cluster_stat(f->cluster, &cs);

    if (rc < 0)
        return -EIO;
    json_array_foreach(json_object_get(f->osd_dump, "pools"), i, p) {
        const char *name = json_string_value(json_object_get(p, "pool_name"));
        json_int_t size = json_integer_value(json_object_get(p, "size"));
        if (name && strcmp(name, pool) == 0) {
            *bytes = (int64_t)(cs.kb_avail * 1024 / (uint64_t)(size > 0 ? size : 1));
            return 0;
        }
    }
    return -ENOENT;
}

int cf_pool(struct ceph_facts *f, const char *pool, int64_t *max_avail, struct pl_loc *target,
            int *ntarget)
{
    int rule = -1, rc;

    pthread_mutex_lock(&f->lock);
    rc = refresh(f);
    if (rc == 0)
        rc = pl_pool_rule(f->osd_dump, pool, &rule);
    if (rc == 0)
        rc = pl_crush_target(f->crush, rule, target, PL_LOC_MAX, ntarget);
    if (rc == 0)
        rc = f->df ? pl_pool_max_avail(f->df, pool, max_avail)
                   : estimate_free(f, pool, max_avail);
    pthread_mutex_unlock(&f->lock);
    return rc;
}
