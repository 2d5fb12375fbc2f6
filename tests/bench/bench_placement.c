/* bench_placement.c — time pl_place over synthetic clouds of 100, 1,000 and 10,000
 * hosts (zones, rows, racks, two Ceph clusters, varied usage) with varied requests;
 * prints p50/p99 µs per decision and the growth from one size to the next. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "placement.h"

static const char *const fsids[] = {"5c1f3a2e-0b7d-4e8f-9a6c-1d2e3f4a5b6c",
                                    "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"};

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void set_level(struct pl_loc *l, const char *type, const char *prefix, unsigned i)
{
    snprintf(l->type, sizeof(l->type), "%s", type);
    snprintf(l->name, sizeof(l->name), "%s%u", prefix, i);
}

/* Host i: 20 per rack, 5 racks per row, 4 zones; one host in ten on the second cluster. */
static void make_host(struct pl_host *h, unsigned i, uint64_t *rs)
{
    memset(h, 0, sizeof(*h));
    snprintf(h->name, sizeof(h->name), "cmp%05u", i);
    snprintf(h->zone, sizeof(h->zone), "az%u", i % 4);
    snprintf(h->fsid, sizeof(h->fsid), "%s", fsids[i % 10 == 9]);
    snprintf(h->arch, sizeof(h->arch), "x86_64");
    snprintf(h->hypervisor, sizeof(h->hypervisor), "kvm");
    set_level(&h->loc[0], "row", "w", i / 100);
    set_level(&h->loc[1], "rack", "r", i / 20);
    set_level(&h->loc[2], "host", "cmp", i);
    h->nloc = 3;
    h->up = next_rand(rs) % 50 != 0;
    h->vcpus = 32 << (next_rand(rs) % 2);
    h->ram_mb = 131072 << (next_rand(rs) % 2);
    h->disk_gb = 1000;
    h->vcpus_used = (int64_t)(next_rand(rs) % (uint64_t)(h->vcpus * 4));
    h->ram_mb_used = (int64_t)(next_rand(rs) % (uint64_t)h->ram_mb);
    h->disk_gb_used = (int64_t)(next_rand(rs) % 900);
    h->failures = next_rand(rs) % 20 == 0;
}

struct req_buf {
    struct pl_request r;
    char zone[8];
    char group[3][16];
    const char *group_ptrs[3];
};

static void make_request(struct req_buf *b, size_t nhosts, uint64_t *rs)
{
    unsigned rack = (unsigned)(next_rand(rs) % (nhosts / 20));

    memset(b, 0, sizeof(*b));
    b->r.vcpus = 1 << (next_rand(rs) % 4);
    b->r.ram_mb = 512 << (next_rand(rs) % 6);
    b->r.disk_gb = next_rand(rs) % 4 == 0 ? 20 : 0;
    b->r.fsid = fsids[next_rand(rs) % 8 == 0];
    if (next_rand(rs) % 2) {
        snprintf(b->zone, sizeof(b->zone), "az%u", (unsigned)(next_rand(rs) % 4));
        b->r.zone = b->zone;
    }
    set_level(&b->r.target[0], "rack", "r", rack);
    set_level(&b->r.target[1], "row", "w", rack / 5);
    set_level(&b->r.target[2], "root", "default", 0);
    b->r.ntarget = 3;
    if (next_rand(rs) % 3 == 0) {
        for (int g = 0; g < 3; g++) {
            snprintf(b->group[g], sizeof(b->group[g]), "cmp%05u",
                     (unsigned)(next_rand(rs) % nhosts));
            b->group_ptrs[g] = b->group[g];
        }
        b->r.group_policy = PL_GROUP_ANTI_AFFINITY;
        b->r.group_hosts = b->group_ptrs;
        b->r.ngroup_hosts = 3;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* One size: fills p50 (µs); 0 or -errno. */
static int bench_size(const struct pl_config *cfg, size_t nhosts, size_t iters, double *p50)
{
    struct pl_host *hosts = calloc(nhosts, sizeof(*hosts));
    double *us = calloc(iters, sizeof(*us));
    uint64_t rs = 0x9e3779b97f4a7c15ULL ^ nhosts;
    size_t order[3], placed = 0;
    struct pl_result res;
    struct req_buf b;

    if (!hosts || !us) {
        free(hosts);
        free(us);
        return -ENOMEM;
    }
    for (size_t i = 0; i < nhosts; i++)
        make_host(&hosts[i], (unsigned)i, &rs);
    for (size_t i = 0; i < iters; i++) {
        make_request(&b, nhosts, &rs);
        memset(&res, 0, sizeof(res));
        res.order = order;
        double t0 = now_us();
        int rc = pl_place(cfg, hosts, nhosts, &b.r, next_rand(&rs), &res, 3);
        us[i] = now_us() - t0;
        placed += rc == 0;
    }
    qsort(us, iters, sizeof(*us), cmp_double);
    *p50 = us[iters / 2];
    printf("placement hosts=%zu decisions=%zu placed=%zu p50_us=%.1f p99_us=%.1f", nhosts, iters,
           placed, us[iters / 2], us[iters * 99 / 100]);
    free(hosts);
    free(us);
    return 0;
}

int main(void)
{
    static const struct {
        size_t hosts, iters;
    } sizes[] = {{100, 2000}, {1000, 1000}, {10000, 200}};
    struct pl_config cfg = {.cpu_ratio = 4.0,
                            .ram_ratio = 1.0,
                            .disk_ratio = 1.0,
                            .reserved_ram_mb = 2048,
                            .reserved_disk_mb = 10240,
                            .service_down_ms = 60000,
                            .w_locality = 2.0,
                            .w_ram = 1.0,
                            .w_cpu = 0.5,
                            .w_failures = 1.0,
                            .failure_window_ms = 3600000,
                            .host_subset_size = 2};
    double prev = 0, p50 = 0;

    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        if (bench_size(&cfg, sizes[s].hosts, sizes[s].iters, &p50) < 0)
            return 1;
        if (prev > 0)
            printf(" growth_p50=%.1fx", p50 / prev);
        printf("\n");
        prev = p50;
    }
    return 0;
}
