/* ceph_facts.h — what placement needs to know from Ceph, read with mon/mgr
 * commands and cached for a while: pool free space and where pools put data. */
#ifndef SCHEDULER_CEPH_FACTS_H
#define SCHEDULER_CEPH_FACTS_H

#include <rados/librados.h>
#include <stdint.h>

#include "placement.h"

struct ceph_facts;

/* cluster is borrowed; facts older than ttl_ms are read again. */
int cf_create(rados_t cluster, int64_t ttl_ms, struct ceph_facts **out);
void cf_destroy(struct ceph_facts *f);

/* The fsid of the cluster the scheduler is connected to. */
const char *cf_fsid(const struct ceph_facts *f);

/* Pool's replication-aware free space (bytes) and the CRUSH buckets its rule
 * places data in (most specific first).  -ENOENT for an unknown pool, -EIO
 * (and a log line) when Ceph does not answer. */
int cf_pool(struct ceph_facts *f, const char *pool, int64_t *max_avail, struct pl_loc *target,
            int *ntarget);

#endif
