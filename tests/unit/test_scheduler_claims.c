/* test_scheduler_claims.c — two schedulers (two RADOS connections, one thread
 * each) place 50 servers at once on hosts with room for exactly 50: every
 * server gets a host, no host goes over its limits, the 51st finds no room and
 * says why.  Needs a REAL Ceph cluster (STRATA_TEST_CEPH_CONF; skipped
 * without); works in its own RADOS namespace and removes its objects. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <cmocka.h>

#include "srv_internal.h"
#include "strata/log.h"
#include "strata/rados.h"

#define HOSTS 5
#define PER_HOST 10     /* 512 MiB servers; RAM offered 5120 + 512 reserved */
#define SERVERS (HOSTS * PER_HOST)
#define FSID "9c5f2b35-54a4-4d2f-a0a6-1b1f2a3c4d5e"

struct sched {
    rados_t cluster;
    rados_ioctx_t io;
    struct srv_service s;
    int first, count, placed, lost_races;
};

static struct sched A, B;
static bool have_cluster;
static char nspace[64];

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && v[0] ? v : dflt;
}

static int sched_open(struct sched *c)
{
    struct st_rados_config cfg = {
        .conf = getenv("STRATA_TEST_CEPH_CONF"),
        .keyring = getenv("STRATA_TEST_CEPH_KEYRING"),
        .user = env_or("STRATA_TEST_CEPH_USER", "admin"),
        .op_timeout_s = 20,
        .connect_timeout_s = 20,
    };
    int rc = st_rados_connect(&cfg, &c->cluster);

    if (rc == 0)
        rc = st_rados_ioctx(c->cluster, env_or("STRATA_TEST_META_POOL", "strata.meta"), &c->io);
    if (rc == 0) {
        rados_ioctx_set_namespace(c->io, nspace);
        rc = st_meta_open(c->io, &c->s.meta);
    }
    c->s.pl = (struct pl_config){ .cpu_ratio = 4.0, .ram_ratio = 1.0, .disk_ratio = 1.0,
                                  .reserved_ram_mb = 512, .service_down_ms = 3600000,
                                  .w_ram = 1.0, .w_cpu = 1.0, .host_subset_size = 1 };
    snprintf(c->s.default_zone, sizeof(c->s.default_zone), "nova");
    return rc;
}

static void sched_close(struct sched *c)
{
    st_meta_close(c->s.meta);
    if (c->io)
        rados_ioctx_destroy(c->io);
    if (c->cluster)
        st_rados_shutdown(c->cluster);
}

static int setup(void **state)
{
    unsigned char r[8];

    (void)state;
    st_log_init("test_scheduler_claims", ST_LOG_WARN);
    if (!getenv("STRATA_TEST_CEPH_CONF") || !getenv("STRATA_TEST_CEPH_CONF")[0]) {
        printf("test_scheduler_claims: STRATA_TEST_CEPH_CONF is not set: skipping (needs Ceph)\n");
        return 0;
    }
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return -1;
    snprintf(nspace, sizeof(nspace), "strata-test-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7]);
    if (sched_open(&A) < 0 || sched_open(&B) < 0)
        return -1;
    have_cluster = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (have_cluster) {
        rados_list_ctx_t ctx;
        const char *oid;
        if (rados_nobjects_list_open(A.io, &ctx) == 0) {
            char names[16][64];
            int n = 0;
            while (n < 16 && rados_nobjects_list_next(ctx, &oid, NULL, NULL) == 0)
                snprintf(names[n++], sizeof(names[0]), "%s", oid);
            rados_nobjects_list_close(ctx);
            for (int i = 0; i < n; i++)
                rados_remove(A.io, names[i]);
        }
    }
    sched_close(&A);
    sched_close(&B);
    return 0;
}

/* Place one server the way the build job does: load, filter/weigh, claim;
 * a candidate filled meanwhile (the other scheduler won) re-places. */
static int place_one(struct sched *c, const char *sid, char *explain)
{
    struct pl_request req = { .vcpus = 1, .ram_mb = 512, .fsid = FSID };
    size_t order[16];

    for (int round = 0; round < 20; round++) {
        struct pl_host *hosts = NULL;
        size_t n = 0;
        char host[PL_NAME_MAX + 1];
        struct pl_result res = { .order = order };
        int rc = hosts_load(&c->s, &hosts, &n, NULL);
        if (rc == 0)
            rc = pl_place(&c->s.pl, hosts, n, &req, (uint64_t)random(), &res, 16);
        if (rc == 0)
            rc = hosts_claim(&c->s, hosts, res.order, res.norder, sid, &req, host);
        if (rc == -ENOSPC && res.explain[0] && explain)
            snprintf(explain, PL_EXPLAIN_MAX, "%s", res.explain);
        free(hosts);
        if (rc != -ENOSPC || res.explain[0])
            return rc;
        c->lost_races++;
    }
    return -ENOSPC;
}

static void *run(void *arg)
{
    struct sched *c = arg;

    for (int i = 0; i < c->count; i++) {
        char sid[40];
        snprintf(sid, sizeof(sid), "00000000-0000-4000-8000-%012d", c->first + i);
        if (place_one(c, sid, NULL) == 0)
            c->placed++;
    }
    return NULL;
}

static void test_two_schedulers_fill_exactly(void **state)
{
    pthread_t ta, tb;

    (void)state;
    if (!have_cluster)
        skip();
    for (int i = 0; i < HOSTS; i++) {
        char name[16], rec[600];
        snprintf(name, sizeof(name), "h%d", i);
        snprintf(rec, sizeof(rec),
                 "{\"name\": \"%s\", \"state\": \"up\", \"heartbeat_at\": %lld, \"vcpus\": 64, "
                 "\"ram_mb\": %d, \"disk_gb\": 100, \"ceph\": [{\"fsid\": \"" FSID "\"}], "
                 "\"arch\": \"x86_64\", \"hypervisor_type\": \"qemu\", \"location\": {}}",
                 name, (long long)st_now_ms(), PER_HOST * 512 + 512);
        json_t *j = json_loads(rec, 0, NULL);
        assert_int_equal(st_meta_create(A.s.meta, &host_kind_ro, name, j, NULL), 0);
        json_decref(j);
    }
    A.first = 0;
    A.count = SERVERS / 2;
    B.first = SERVERS / 2;
    B.count = SERVERS / 2;
    pthread_create(&ta, NULL, run, &A);
    pthread_create(&tb, NULL, run, &B);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    printf("placed %d + %d, re-placed after a lost race %d + %d times\n", A.placed, B.placed,
           A.lost_races, B.lost_races);
    assert_int_equal(A.placed + B.placed, SERVERS);

    struct pl_host *hosts = NULL;
    size_t n = 0, total = 0;
    assert_int_equal(hosts_load(&A.s, &hosts, &n, NULL), 0);
    assert_int_equal(n, HOSTS);
    for (size_t i = 0; i < n; i++) {
        if (hosts[i].ram_mb_used > PER_HOST * 512)
            fail_msg("host %s over its RAM: %lld MiB used", hosts[i].name,
                     (long long)hosts[i].ram_mb_used);
        total += (size_t)hosts[i].vcpus_used;
    }
    free(hosts);
    assert_int_equal(total, SERVERS);

    char explain[PL_EXPLAIN_MAX] = "";
    assert_int_equal(place_one(&A, "00000000-0000-4000-8000-999999999999", explain), -ENOSPC);
    assert_string_equal(explain, "no valid host: 5 hosts; ram 5\u21920");
    /* a release (of wherever server 0 is; elsewhere it is a no-op) makes room again */
    for (int i = 0; i < HOSTS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "h%d", i);
        assert_int_equal(hosts_release(&B.s, name, "00000000-0000-4000-8000-000000000000"), 0);
    }
    assert_int_equal(place_one(&B, "00000000-0000-4000-8000-999999999999", NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_schedulers_fill_exactly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
