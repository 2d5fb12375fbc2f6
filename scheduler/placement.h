/* placement.h — the placement engine: filters and weighers over host states,
 * and the host-usage claim arithmetic.  Pure (no I/O), unit-tested without a cluster. */
#ifndef SCHEDULER_PLACEMENT_H
#define SCHEDULER_PLACEMENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_NAME_MAX   64
#define PL_LOC_MAX    10      /* CRUSH levels of a location (region .. host) */
#define PL_EXPLAIN_MAX 512

/* One CRUSH level: type ("rack") and bucket name ("r1"). */
struct pl_loc {
    char type[16];
    char name[PL_NAME_MAX + 1];
};

struct pl_config {
    double cpu_ratio, ram_ratio, disk_ratio;  /* allocation ratios (4.0, 1.0, 1.0) */
    int64_t reserved_ram_mb, reserved_disk_mb;
    int64_t service_down_ms;                  /* alive = heartbeat within this */
    double w_locality, w_ram, w_cpu, w_failures;  /* weigher multipliers */
    int64_t failure_window_ms;                /* build failures counted this far back */
    unsigned host_subset_size;                /* pick at random among the best N (>= 1) */
    double w_group;   /* soft (anti-)affinity multiplier; 0 = 1.0 (Nova's default) */
};

/* A host as the scheduler sees it: the agent's record plus the usage record. */
struct pl_host {
    char name[PL_NAME_MAX + 1];
    char zone[PL_NAME_MAX + 1];
    char fsid[64];                 /* Ceph cluster the agent reaches */
    char arch[32];                 /* "x86_64" */
    char hypervisor[16];           /* "kvm" or "qemu" */
    struct pl_loc loc[PL_LOC_MAX]; /* declared crush_location */
    int nloc;
    bool up;                       /* record state "up" */
    int64_t heartbeat_ms;
    int64_t vcpus, ram_mb, disk_gb;                 /* totals offered */
    int64_t vcpus_used, ram_mb_used, disk_gb_used;  /* sums of claims */
    unsigned failures;             /* recent build failures (within the window) */
};

enum pl_group_policy { PL_GROUP_NONE, PL_GROUP_AFFINITY, PL_GROUP_ANTI_AFFINITY,
                       PL_GROUP_SOFT_AFFINITY, PL_GROUP_SOFT_ANTI_AFFINITY };

struct pl_request {
    int64_t vcpus, ram_mb, disk_gb;        /* disk_gb: local disk only (RBD disks: 0) */
    const char *zone;                      /* NULL/"" = any */
    const char *arch, *hypervisor_type;    /* image properties; NULL/"" = any */
    const char *fsid;                      /* cluster holding the boot disk (required) */
    /* Where the disk's pool places its data, most specific first (rack=r1,
     * row=w1, root=default): a host sharing level i scores (n - i) / n. */
    struct pl_loc target[PL_LOC_MAX];
    int ntarget;
    enum pl_group_policy group_policy;
    const char *const *group_hosts;        /* hosts of the group's other members */
    size_t ngroup_hosts;
    const char *const *exclude;            /* hosts a failed attempt used (retry) */
    size_t nexclude;
};

/* Filter order, also the order of the explain string. */
enum pl_filter { PL_F_ALIVE, PL_F_RETRY, PL_F_ZONE, PL_F_STORAGE, PL_F_IMAGE, PL_F_VCPU,
                 PL_F_RAM, PL_F_DISK, PL_F_GROUP, PL_F_COUNT };
/* "alive", "retry", "availability-zone", "storage", "image", "vcpu", "ram", "disk",
 * "group" (the explain string says "affinity"/"anti-affinity" for that one).
 * The image filter treats "kvm" and "qemu" as one hypervisor (both are QEMU). */
const char *pl_filter_name(enum pl_filter f);

struct pl_result {
    size_t nhosts;
    size_t remaining[PL_F_COUNT];  /* hosts left after each filter */
    size_t *order;                 /* caller's array: indexes of passing hosts, best first */
    size_t norder;                 /* how many were written (<= max_order) */
    /* "no valid host: 12 hosts; alive 12→11, ram 11→3, anti-affinity 3→0" (only
     * filters that removed hosts), or "" when a host was chosen. */
    char explain[PL_EXPLAIN_MAX];
};

/* Filter and weigh hosts[0..n) for req.  res->order receives up to max_order
 * candidate indexes, best first; when host_subset_size > 1 the first one is
 * picked with `rnd` (any 64-bit random value) among the best subset.
 * Returns 0 with norder >= 1, -ENOSPC with norder 0 and explain filled when no
 * host passes, -EINVAL on a bad argument. */
int pl_place(const struct pl_config *cfg, const struct pl_host *hosts, size_t n,
             const struct pl_request *req, uint64_t rnd, struct pl_result *res, size_t max_order);

/* Whether host h (with its current usage) has room for req after ratios and
 * reserved amounts — the claim's check. */
bool pl_fits(const struct pl_config *cfg, const struct pl_host *h, const struct pl_request *req);

/* A table of hosts x filters/weights for the debug log (malloc'd string). */
char *pl_explain_table(const struct pl_config *cfg, const struct pl_host *hosts, size_t n,
                       const struct pl_request *req);

/* ---- host state from records (JSON, pure) ----
 * host_rec: the agent's "host" record {name, state, heartbeat_at, vcpus,
 * ram_mb, disk_gb, availability_zone, location{type: name}, ceph[{fsid}] (or
 * ceph{fsid}), arch (or cpu{arch}), hypervisor_type ...}; usage: the "host_usage"
 * record or NULL.  up = state "up" and heartbeat within cfg->service_down_ms.
 * -EINVAL when the host record lacks what placement needs. */
int pl_host_from_records(const json_t *host_rec, const json_t *usage, int64_t now_ms,
                         const struct pl_config *cfg, struct pl_host *out);

/* ---- the usage record (kind "host_usage", id = host name) ----
 * {"allocations": {"<server id>": {"vcpus": 1, "ram_mb": 512, "disk_gb": 0}},
 *  "failures": [<ms>, ...]}.  Used figures are the sums of the allocations, so
 * adding the same server twice changes nothing. */
/* Add server's allocation to `usage` (edited in place) when h still has room:
 * 0 added, 1 already there (no change), -ENOSPC no room. */
int pl_usage_claim(json_t *usage, const char *server_id, const struct pl_config *cfg,
                   const struct pl_host *h, const struct pl_request *req);
/* Remove server's allocation: 0 removed, 1 was not there. */
int pl_usage_release(json_t *usage, const char *server_id);
/* Record a build failure at now_ms (entries older than the window are dropped). */
int pl_usage_failure(json_t *usage, int64_t now_ms, int64_t window_ms);

/* ---- Ceph facts (JSON of mon commands, pure) ---- */
/* `osd dump` (format json): the crush_rule of pool `pool`. -ENOENT if no such pool. */
int pl_pool_rule(const json_t *osd_dump, const char *pool, int *rule);
/* `osd crush dump`: the locality target of rule: the bucket its first "take"
 * step names, then that bucket's ancestors up to the root. */
int pl_crush_target(const json_t *crush_dump, int rule, struct pl_loc *out, int max, int *n);
/* `df` (format json): pool's stats.max_avail (bytes, replication-aware). */
int pl_pool_max_avail(const json_t *df, const char *pool, int64_t *bytes);

#endif
