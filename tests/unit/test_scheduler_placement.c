/* test_scheduler_placement.c — scheduler/placement.c and pl_records.c with no cluster:
 * each filter, the explain string, ratios and reserved amounts, weigher ordering,
 * subset picks, usage claims, host records and the Ceph JSON parsers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "placement.h"

#define FSID "5c1f3a2e-0b7d-4e8f-9a6c-1d2e3f4a5b6c"
#define NOW 1795355851000LL

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);

    if (!j)
        fprintf(stderr, "bad fixture: %s (line %d)\n", e.text, e.line);
    assert_non_null(j);
    return j;
}

static struct pl_config cfg0(void)
{
    struct pl_config c = {.cpu_ratio = 4.0,
                          .ram_ratio = 1.0,
                          .disk_ratio = 1.0,
                          .service_down_ms = 60000,
                          .w_locality = 0,
                          .w_ram = 0,
                          .w_cpu = 0,
                          .w_failures = 0,
                          .failure_window_ms = 600000,
                          .host_subset_size = 1};
    return c;
}

static struct pl_host host(const char *name, int64_t vcpus, int64_t ram_mb, int64_t disk_gb)
{
    struct pl_host h = {
        .up = true, .heartbeat_ms = NOW, .vcpus = vcpus, .ram_mb = ram_mb, .disk_gb = disk_gb};

    snprintf(h.name, sizeof(h.name), "%s", name);
    snprintf(h.zone, sizeof(h.zone), "nova");
    snprintf(h.fsid, sizeof(h.fsid), FSID);
    snprintf(h.arch, sizeof(h.arch), "x86_64");
    snprintf(h.hypervisor, sizeof(h.hypervisor), "kvm");
    return h;
}

static void set_loc(struct pl_host *h, const char *row, const char *rack)
{
    h->nloc = 0;
    snprintf(h->loc[h->nloc].type, sizeof(h->loc[0].type), "row");
    snprintf(h->loc[h->nloc++].name, sizeof(h->loc[0].name), "%s", row);
    snprintf(h->loc[h->nloc].type, sizeof(h->loc[0].type), "rack");
    snprintf(h->loc[h->nloc++].name, sizeof(h->loc[0].name), "%s", rack);
    snprintf(h->loc[h->nloc].type, sizeof(h->loc[0].type), "host");
    memcpy(h->loc[h->nloc++].name, h->name, sizeof(h->name));
}

static struct pl_request req0(void)
{
    struct pl_request r = {.vcpus = 1, .ram_mb = 512, .disk_gb = 0, .fsid = FSID};
    return r;
}

static void add_target(struct pl_request *r, const char *type, const char *name)
{
    snprintf(r->target[r->ntarget].type, sizeof(r->target[0].type), "%s", type);
    snprintf(r->target[r->ntarget++].name, sizeof(r->target[0].name), "%s", name);
}

/* pl_place with an order array of 16; returns rc. */
static int place(const struct pl_config *c, const struct pl_host *hosts, size_t n,
                 const struct pl_request *r, uint64_t rnd, struct pl_result *res, size_t *order)
{
    memset(res, 0, sizeof(*res));
    res->order = order;
    return pl_place(c, hosts, n, r, rnd, res, 16);
}

/* Ten hosts, host i failing filter i (h9 passes everything). */
static void ten_hosts(struct pl_host *h)
{
    char name[8];

    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "h%d", i);
        h[i] = host(name, 4, 4096, 100);
    }
    h[0].up = false;
    /* h1: excluded by the request */
    snprintf(h[2].zone, sizeof(h[2].zone), "az2");
    snprintf(h[3].fsid, sizeof(h[3].fsid), "other-cluster");
    snprintf(h[4].arch, sizeof(h[4].arch), "aarch64");
    h[5].vcpus_used = 16;
    h[6].ram_mb_used = 4000;
    h[7].disk_gb_used = 95;
    /* h8: holds a member of the anti-affinity group */
}

static void test_each_filter(void **state)
{
    struct pl_config c = cfg0();
    struct pl_host h[10];
    struct pl_request r = req0();
    struct pl_result res;
    const char *const excl[] = {"h1"};
    const char *const grp[] = {"h8"};
    size_t order[16];

    (void)state;
    ten_hosts(h);
    r.zone = "nova";
    r.arch = "x86_64";
    r.disk_gb = 10;
    r.exclude = excl;
    r.nexclude = 1;
    r.group_policy = PL_GROUP_ANTI_AFFINITY;
    r.group_hosts = grp;
    r.ngroup_hosts = 1;
    assert_int_equal(place(&c, h, 10, &r, 0, &res, order), 0);
    assert_int_equal(res.nhosts, 10);
    for (int f = 0; f < PL_F_COUNT; f++)
        assert_int_equal(res.remaining[f], 9 - f);
    assert_int_equal(res.norder, 1);
    assert_int_equal(order[0], 9);
    assert_string_equal(res.explain, "");

    /* h9 also holds a member: nothing passes */
    const char *const grp2[] = {"h8", "h9"};
    r.group_hosts = grp2;
    r.ngroup_hosts = 2;
    assert_int_equal(place(&c, h, 10, &r, 0, &res, order), -ENOSPC);
    assert_int_equal(res.norder, 0);
    assert_string_equal(res.explain,
                        "no valid host: 10 hosts; alive 10→9, retry 9→8, availability-zone 8→7, "
                        "storage 7→6, image 6→5, vcpu 5→4, ram 4→3, disk 3→2, "
                        "anti-affinity 2→0");
}

static void test_explain_exact(void **state)
{
    struct pl_config c = cfg0();
    struct pl_host h[12];
    struct pl_request r = req0();
    struct pl_result res;
    const char *const grp[] = {"h9", "h10", "h11"};
    size_t order[16];
    char name[8];

    (void)state;
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "h%d", i);
        h[i] = host(name, 8, 8192, 100);
        if (i >= 1 && i <= 8)
            h[i].ram_mb_used = 8000;
    }
    h[0].up = false;
    r.group_policy = PL_GROUP_ANTI_AFFINITY;
    r.group_hosts = grp;
    r.ngroup_hosts = 3;
    assert_int_equal(place(&c, h, 12, &r, 0, &res, order), -ENOSPC);
    assert_string_equal(res.explain,
                        "no valid host: 12 hosts; alive 12→11, ram 11→3, anti-affinity 3→0");

    r.group_policy = PL_GROUP_AFFINITY;
    const char *const gone[] = {"elsewhere"};
    r.group_hosts = gone;
    r.ngroup_hosts = 1;
    assert_int_equal(place(&c, h, 12, &r, 0, &res, order), -ENOSPC);
    assert_string_equal(res.explain,
                        "no valid host: 12 hosts; alive 12→11, ram 11→3, affinity 3→0");

    assert_int_equal(place(&c, NULL, 0, &r, 0, &res, order), -ENOSPC);
    assert_string_equal(res.explain, "no valid host: 0 hosts");
}

static void test_ratios_reserved(void **state)
{
    struct pl_config c = cfg0();
    struct pl_host h = host("h", 4, 2048, 100);
    struct pl_request r = req0();

    (void)state;
    /* vCPUs: 4 × 4.0 = 16 */
    h.vcpus_used = 15;
    r.ram_mb = 0;
    assert_true(pl_fits(&c, &h, &r));
    r.vcpus = 2;
    assert_false(pl_fits(&c, &h, &r));
    c.cpu_ratio = 1.0;
    h.vcpus_used = 3;
    r.vcpus = 1;
    assert_true(pl_fits(&c, &h, &r));
    h.vcpus_used = 4;
    assert_false(pl_fits(&c, &h, &r));
    h.vcpus_used = 0;

    /* RAM: (2048 − 512) × 1.5 = 2304 */
    c.reserved_ram_mb = 512;
    c.ram_ratio = 1.5;
    r.ram_mb = 2304;
    assert_true(pl_fits(&c, &h, &r));
    r.ram_mb = 2305;
    assert_false(pl_fits(&c, &h, &r));
    h.ram_mb_used = 2000;
    r.ram_mb = 304;
    assert_true(pl_fits(&c, &h, &r));
    r.ram_mb = 305;
    assert_false(pl_fits(&c, &h, &r));
    r.ram_mb = 0;

    /* disk: (100 − 10240/1024) × 1.0 = 90 GB; 0 GB always fits */
    c.reserved_disk_mb = 10240;
    r.disk_gb = 90;
    assert_true(pl_fits(&c, &h, &r));
    r.disk_gb = 91;
    assert_false(pl_fits(&c, &h, &r));
    h.disk_gb_used = 200;
    r.disk_gb = 0;
    assert_true(pl_fits(&c, &h, &r));
    c.disk_ratio = 2.0;
    h.disk_gb_used = 170;
    r.disk_gb = 10;
    assert_true(pl_fits(&c, &h, &r));
    r.disk_gb = 11;
    assert_false(pl_fits(&c, &h, &r));
    assert_false(pl_fits(NULL, &h, &r));
}

static void test_image_filter(void **state)
{
    struct pl_config c = cfg0();
    struct pl_host h[3] = {host("kvm1", 4, 4096, 10), host("qemu1", 4, 4096, 10),
                           host("xen1", 4, 4096, 10)};
    struct pl_request r = req0();
    struct pl_result res;
    size_t order[16];

    (void)state;
    snprintf(h[1].hypervisor, sizeof(h[1].hypervisor), "qemu");
    snprintf(h[2].hypervisor, sizeof(h[2].hypervisor), "xen");
    r.hypervisor_type = "qemu";
    assert_int_equal(place(&c, h, 3, &r, 0, &res, order), 0);
    assert_int_equal(res.remaining[PL_F_IMAGE], 2);
    assert_int_equal(res.norder, 2);
    r.hypervisor_type = "kvm";
    assert_int_equal(place(&c, h, 3, &r, 0, &res, order), 0);
    assert_int_equal(res.remaining[PL_F_IMAGE], 2);
    r.hypervisor_type = "xen";
    assert_int_equal(place(&c, h, 3, &r, 0, &res, order), 0);
    assert_int_equal(res.norder, 1);
    assert_int_equal(order[0], 2);
    r.hypervisor_type = "";
    r.arch = "aarch64";
    assert_int_equal(place(&c, h, 3, &r, 0, &res, order), -ENOSPC);
    assert_string_equal(res.explain, "no valid host: 3 hosts; image 3→0");
}

static void test_affinity(void **state)
{
    struct pl_config c = cfg0();
    struct pl_host h[4] = {host("a", 4, 4096, 10), host("b", 4, 4096, 10), host("c", 4, 4096, 10),
                           host("d", 4, 4096, 10)};
    struct pl_request r = req0();
    struct pl_result res;
    const char *const grp[] = {"c", "b", "c", "a", "a", "a"};
    size_t order[16];

    (void)state;
    /* hard affinity, first member: anywhere */
    r.group_policy = PL_GROUP_AFFINITY;
    assert_int_equal(place(&c, h, 4, &r, 0, &res, order), 0);
    assert_int_equal(res.norder, 4);
    r.group_hosts = grp;
    r.ngroup_hosts = 2; /* c, b */
    assert_int_equal(place(&c, h, 4, &r, 0, &res, order), 0);
    assert_int_equal(res.norder, 2);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 2);
    r.group_policy = PL_GROUP_ANTI_AFFINITY;
    assert_int_equal(place(&c, h, 4, &r, 0, &res, order), 0);
    assert_int_equal(res.norder, 2);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 3);

    /* soft: all pass; a has 3 members, c 2, b 1, d 0 */
    r.ngroup_hosts = 6;
    r.group_policy = PL_GROUP_SOFT_AFFINITY;
    assert_int_equal(place(&c, h, 4, &r, 0, &res, order), 0);
    assert_int_equal(res.norder, 4);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 1);
    assert_int_equal(order[3], 3);
    r.group_policy = PL_GROUP_SOFT_ANTI_AFFINITY;
    assert_int_equal(place(&c, h, 4, &r, 0, &res, order), 0);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 2);
    assert_int_equal(order[3], 0);
}

static void test_spread_pack(void **state)
{
    struct pl_config c = cfg0();
    struct pl_host h[3] = {host("a", 8, 8192, 10), host("b", 8, 8192, 10), host("c", 8, 8192, 10)};
    struct pl_request r = req0();
    struct pl_result res;
    size_t order[16];

    (void)state;
    h[0].ram_mb_used = 4096;
    h[1].ram_mb_used = 1024;
    h[2].ram_mb_used = 6144;
    c.w_ram = 1.0; /* spread: most free first */
    assert_int_equal(place(&c, h, 3, &r, 0, &res, order), 0);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 0);
    assert_int_equal(order[2], 2);
    c.w_ram = -1.0; /* pack: least free first */
    assert_int_equal(place(&c, h, 3, &r, 0, &res, order), 0);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 0);
    assert_int_equal(order[2], 1);

    c.w_ram = 0;
    c.w_cpu = 1.0; /* free vCPUs: 32 − used */
    h[0].vcpus_used = 30;
    h[1].vcpus_used = 20;
    h[2].vcpus_used = 2;
    assert_int_equal(place(&c, h, 3, &r, 0, &res, order), 0);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[2], 0);
    c.w_cpu = -1.0;
    assert_int_equal(place(&c, h, 3, &r, 0, &res, order), 0);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[2], 2);
}

static void test_locality(void **state)
{
    struct pl_config c = cfg0();
    struct pl_host h[4] = {host("far", 8, 8192, 10), host("samerow", 8, 8192, 10),
                           host("samerack", 8, 8192, 10), host("unknown", 8, 8192, 10)};
    struct pl_request r = req0();
    struct pl_result res;
    size_t order[16];

    (void)state;
    set_loc(&h[0], "w2", "r9");
    set_loc(&h[1], "w1", "r2");
    set_loc(&h[2], "w1", "r1");
    add_target(&r, "rack", "r1");
    add_target(&r, "row", "w1");
    add_target(&r, "root", "default");
    c.w_locality = 1.0;
    assert_int_equal(place(&c, h, 4, &r, 0, &res, order), 0);
    assert_int_equal(order[0], 2); /* 3/3 */
    assert_int_equal(order[1], 1); /* 2/3 */
    assert_int_equal(order[2], 0); /* 0, ties by name: far < unknown */
    assert_int_equal(order[3], 3);

    /* the rack host has the least free RAM: locality wins when its multiplier is larger */
    h[2].ram_mb_used = 6000;
    h[1].ram_mb_used = 3000;
    c.w_ram = 0.5;
    assert_int_equal(place(&c, h, 4, &r, 0, &res, order), 0);
    assert_int_equal(order[0], 2);
    c.w_locality = 0.4;
    c.w_ram = 1.0;
    assert_int_equal(place(&c, h, 4, &r, 0, &res, order), 0);
    assert_int_not_equal(order[0], 2);
    assert_int_equal(order[3], 2);
}

static void test_failures_ties(void **state)
{
    struct pl_config c = cfg0();
    struct pl_host h[4] = {host("d", 8, 8192, 10), host("b", 8, 8192, 10), host("c", 8, 8192, 10),
                           host("a", 8, 8192, 10)};
    struct pl_request r = req0();
    struct pl_result res;
    size_t order[16];

    (void)state;
    assert_int_equal(place(&c, h, 4, &r, 0, &res, order), 0);
    assert_int_equal(order[0], 3); /* all equal: by name a, b, c, d */
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 2);
    assert_int_equal(order[3], 0);
    c.w_failures = 1.0;
    h[3].failures = 3;
    h[1].failures = 1;
    assert_int_equal(place(&c, h, 4, &r, 0, &res, order), 0);
    assert_int_equal(order[0], 2); /* c, d with none */
    assert_int_equal(order[1], 0);
    assert_int_equal(order[2], 1);
    assert_int_equal(order[3], 3);
}

static void test_subset(void **state)
{
    struct pl_config c = cfg0();
    struct pl_host h[6];
    struct pl_request r = req0();
    struct pl_result res;
    size_t order[16];
    int seen[6] = {0};
    char name[8];

    (void)state;
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof(name), "h%d", i);
        h[i] = host(name, 8, 8192, 10);
        h[i].ram_mb_used = 1000 * i; /* h0 best .. h5 worst */
    }
    c.w_ram = 1.0;
    c.host_subset_size = 3;
    for (uint64_t rnd = 0; rnd < 200; rnd++) {
        assert_int_equal(place(&c, h, 6, &r, rnd * 7919u, &res, order), 0);
        assert_int_equal(res.norder, 6);
        assert_true(order[0] < 3);
        seen[order[0]]++;
        /* the others follow in score order */
        for (size_t i = 2; i < res.norder; i++)
            assert_true(order[i - 1] < order[i]);
    }
    assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
    c.host_subset_size = 10; /* larger than the passing set */
    assert_int_equal(place(&c, h, 6, &r, 5, &res, order), 0);
    assert_int_equal(order[0], 5);
    c.host_subset_size = 0; /* treated as 1 */
    assert_int_equal(place(&c, h, 6, &r, 5, &res, order), 0);
    assert_int_equal(order[0], 0);

    /* max_order caps the candidates written */
    memset(&res, 0, sizeof(res));
    res.order = order;
    assert_int_equal(pl_place(&c, h, 6, &r, 0, &res, 2), 0);
    assert_int_equal(res.norder, 2);
}

/* Many candidates, few wanted: the best three in order, whatever the input order. */
static void test_best_of_many(void **state)
{
    struct pl_config c = cfg0();
    struct pl_host h[50];
    struct pl_request r = req0();
    struct pl_result res = {0};
    size_t order[3];
    char name[8];

    (void)state;
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "h%02d", i);
        h[i] = host(name, 8, 65536, 10);
        h[i].ram_mb_used = ((i * 37) % 50) * 1000; /* a permutation of 0..49 */
    }
    c.w_ram = 1.0;
    res.order = order;
    assert_int_equal(pl_place(&c, h, 50, &r, 0, &res, 3), 0);
    assert_int_equal(res.norder, 3);
    for (int k = 0; k < 3; k++)
        assert_int_equal((order[k] * 37) % 50, (size_t)k);
    c.host_subset_size = 2;
    assert_int_equal(pl_place(&c, h, 50, &r, 1, &res, 3), 0);
    assert_int_equal((order[0] * 37) % 50, 1);
    assert_int_equal((order[1] * 37) % 50, 0);
    assert_int_equal((order[2] * 37) % 50, 2);
}

static void test_bad_args(void **state)
{
    struct pl_config c = cfg0();
    struct pl_host h = host("a", 8, 8192, 10);
    struct pl_request r = req0();
    struct pl_result res = {0};
    size_t order[4];

    (void)state;
    res.order = order;
    assert_int_equal(pl_place(NULL, &h, 1, &r, 0, &res, 4), -EINVAL);
    assert_int_equal(pl_place(&c, NULL, 1, &r, 0, &res, 4), -EINVAL);
    assert_int_equal(pl_place(&c, &h, 1, NULL, 0, &res, 4), -EINVAL);
    assert_int_equal(pl_place(&c, &h, 1, &r, 0, NULL, 4), -EINVAL);
    assert_int_equal(pl_place(&c, &h, 1, &r, 0, &res, 0), -EINVAL);
    r.fsid = NULL;
    assert_int_equal(pl_place(&c, &h, 1, &r, 0, &res, 4), -EINVAL);
    r.fsid = "";
    assert_int_equal(pl_place(&c, &h, 1, &r, 0, &res, 4), -EINVAL);
    r = req0();
    r.vcpus = -1;
    assert_int_equal(pl_place(&c, &h, 1, &r, 0, &res, 4), -EINVAL);
    r = req0();
    r.ntarget = PL_LOC_MAX + 1;
    assert_int_equal(pl_place(&c, &h, 1, &r, 0, &res, 4), -EINVAL);
    r = req0();
    r.ngroup_hosts = 2;
    assert_int_equal(pl_place(&c, &h, 1, &r, 0, &res, 4), -EINVAL);
    res.order = NULL;
    assert_int_equal(pl_place(&c, &h, 1, &r, 0, &res, 4), -EINVAL);
    assert_null(pl_explain_table(&c, &h, 1, &r));
    assert_string_equal(pl_filter_name(PL_F_ZONE), "availability-zone");
    assert_string_equal(pl_filter_name(PL_F_GROUP), "group");
    assert_string_equal(pl_filter_name(PL_F_COUNT), "?");
}

static void test_explain_table(void **state)
{
    struct pl_config c = cfg0();
    struct pl_host h[3] = {host("full", 8, 1024, 10), host("good", 8, 8192, 10),
                           host("dead", 8, 8192, 10)};
    struct pl_request r = req0();
    char *t;

    (void)state;
    h[0].ram_mb_used = 1000;
    h[2].up = false;
    c.w_ram = 1.0;
    t = pl_explain_table(&c, h, 3, &r);
    assert_non_null(t);
    assert_non_null(strstr(t, "host"));
    assert_non_null(strstr(t, "locality"));
    assert_non_null(strstr(t, "score"));
    assert_non_null(strstr(t, "fail:ram"));
    assert_non_null(strstr(t, "fail:alive"));
    assert_non_null(strstr(t, "good                     pass"));
    assert_non_null(strstr(t, "8192.000"));
    /* header + one line per host */
    size_t lines = 0;
    for (const char *p = t; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 4);
    free(t);
}

static const char *host_json =
    "{\"name\": \"h1\", \"state\": \"up\", \"heartbeat_at\": 1795355841000,"
    " \"vcpus\": 8, \"ram_mb\": 16384, \"disk_gb\": 200, \"availability_zone\": \"az1\","
    " \"location\": {\"host\": \"h1\", \"rack\": \"r1\", \"row\": \"w1\"},"
    " \"ceph\": [{\"fsid\": \"" FSID "\", \"vms_pool\": \"vms\"}],"
    " \"arch\": \"x86_64\", \"hypervisor_type\": \"kvm\", \"agent_url\": \"http://h1:8780\"}";

static void test_host_from_records(void **state)
{
    struct pl_config c = cfg0();
    json_t *rec = J(host_json);
    json_t *usage = J("{\"allocations\": {\"s1\": {\"vcpus\": 2, \"ram_mb\": 1024, "
                      "\"disk_gb\": 0}, \"s2\": {\"vcpus\": 1, \"ram_mb\": 512, "
                      "\"disk_gb\": 20}}, \"failures\": [1795355791000, 1795000000000]}");
    struct pl_host h;

    (void)state;
    assert_int_equal(pl_host_from_records(rec, usage, NOW, &c, &h), 0);
    assert_string_equal(h.name, "h1");
    assert_string_equal(h.zone, "az1");
    assert_string_equal(h.fsid, FSID);
    assert_string_equal(h.arch, "x86_64");
    assert_string_equal(h.hypervisor, "kvm");
    assert_true(h.up);
    assert_int_equal(h.heartbeat_ms, 1795355841000LL);
    assert_int_equal(h.vcpus, 8);
    assert_int_equal(h.ram_mb, 16384);
    assert_int_equal(h.disk_gb, 200);
    assert_int_equal(h.vcpus_used, 3);
    assert_int_equal(h.ram_mb_used, 1536);
    assert_int_equal(h.disk_gb_used, 20);
    assert_int_equal(h.failures, 1);
    assert_int_equal(h.nloc, 3);
    assert_string_equal(h.loc[0].type, "row");
    assert_string_equal(h.loc[0].name, "w1");
    assert_string_equal(h.loc[1].type, "rack");
    assert_string_equal(h.loc[2].type, "host");
    assert_string_equal(h.loc[2].name, "h1");

    /* no usage record: nothing used; heartbeat too old: down */
    assert_int_equal(pl_host_from_records(rec, NULL, NOW + 60000, &c, &h), 0);
    assert_false(h.up);
    assert_int_equal(h.vcpus_used, 0);
    assert_int_equal(h.failures, 0);
    json_object_set_new(rec, "state", json_string("down"));
    assert_int_equal(pl_host_from_records(rec, NULL, NOW, &c, &h), 0);
    assert_false(h.up);

    /* cpu{arch} and ceph{fsid} shapes */
    json_object_del(rec, "arch");
    json_object_set_new(rec, "cpu", json_pack("{s:s}", "arch", "aarch64"));
    json_object_set_new(rec, "ceph", json_pack("{s:s}", "fsid", "f2"));
    assert_int_equal(pl_host_from_records(rec, NULL, NOW, &c, &h), 0);
    assert_string_equal(h.arch, "aarch64");
    assert_string_equal(h.fsid, "f2");

    /* bad inputs leave out untouched */
    snprintf(h.name, sizeof(h.name), "keep");
    json_object_set_new(rec, "vcpus", json_string("8"));
    assert_int_equal(pl_host_from_records(rec, NULL, NOW, &c, &h), -EINVAL);
    json_object_set_new(rec, "vcpus", json_integer(8));
    json_object_set_new(rec, "location", json_pack("{s:i}", "rack", 1));
    assert_int_equal(pl_host_from_records(rec, NULL, NOW, &c, &h), -EINVAL);
    json_object_del(rec, "location");
    json_object_set_new(json_object_get(usage, "allocations"), "s3", json_string("x"));
    assert_int_equal(pl_host_from_records(rec, usage, NOW, &c, &h), -EINVAL);
    json_object_del(rec, "name");
    assert_int_equal(pl_host_from_records(rec, NULL, NOW, &c, &h), -EINVAL);
    assert_string_equal(h.name, "keep");
    assert_int_equal(pl_host_from_records(NULL, NULL, NOW, &c, &h), -EINVAL);
    json_decref(rec);
    json_decref(usage);
}

static void test_usage_claim(void **state)
{
    struct pl_config c = cfg0();
    struct pl_host h = host("h1", 4, 2048, 10);
    struct pl_request r = req0();
    json_t *usage = json_object();
    char id[16];

    (void)state;
    c.cpu_ratio = 1.0;
    h.vcpus_used = 1000; /* stale figures are ignored: the usage record counts */
    assert_int_equal(pl_usage_claim(usage, "s0", &c, &h, &r), 0);
    assert_non_null(json_object_get(usage, "allocations"));
    assert_true(json_is_array(json_object_get(usage, "failures")));
    assert_int_equal(pl_usage_claim(usage, "s0", &c, &h, &r), 1);
    assert_int_equal(json_object_size(json_object_get(usage, "allocations")), 1);
    for (int i = 1; i < 4; i++) {
        snprintf(id, sizeof(id), "s%d", i);
        assert_int_equal(pl_usage_claim(usage, id, &c, &h, &r), 0);
    }
    /* 4 × 512 MB of 2048: full */
    assert_int_equal(pl_usage_claim(usage, "s4", &c, &h, &r), -ENOSPC);
    assert_null(json_object_get(json_object_get(usage, "allocations"), "s4"));
    assert_int_equal(pl_usage_claim(usage, "s2", &c, &h, &r), 1);
    assert_int_equal(pl_usage_release(usage, "s2"), 0);
    assert_int_equal(pl_usage_release(usage, "s2"), 1);
    assert_int_equal(pl_usage_claim(usage, "s4", &c, &h, &r), 0);
    json_t *a = json_object_get(json_object_get(usage, "allocations"), "s4");
    assert_int_equal(json_integer_value(json_object_get(a, "vcpus")), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "ram_mb")), 512);
    assert_int_equal(json_integer_value(json_object_get(a, "disk_gb")), 0);

    assert_int_equal(pl_usage_claim(NULL, "s5", &c, &h, &r), -EINVAL);
    assert_int_equal(pl_usage_claim(usage, "", &c, &h, &r), -EINVAL);
    assert_int_equal(pl_usage_release(NULL, "s5"), -EINVAL);
    json_t *empty = json_object();
    assert_int_equal(pl_usage_release(empty, "s5"), 1);
    json_object_set_new(empty, "allocations", json_array());
    assert_int_equal(pl_usage_claim(empty, "s5", &c, &h, &r), -EINVAL);
    json_decref(empty);
    json_decref(usage);
}

static void test_usage_failure(void **state)
{
    struct pl_config c = cfg0();
    json_t *usage = json_object(), *host_rec = J(host_json);
    struct pl_host h;

    (void)state;
    assert_int_equal(pl_usage_failure(usage, NOW - 500000, 600000), 0);
    assert_int_equal(pl_usage_failure(usage, NOW - 1000, 600000), 0);
    assert_int_equal(json_array_size(json_object_get(usage, "failures")), 2);
    assert_int_equal(pl_host_from_records(host_rec, usage, NOW, &c, &h), 0);
    assert_int_equal(h.failures, 2);
    assert_int_equal(pl_host_from_records(host_rec, usage, NOW + 200000, &c, &h), 0);
    assert_int_equal(h.failures, 1);
    /* the one older than the window is dropped as a new one is added */
    assert_int_equal(pl_usage_failure(usage, NOW + 200000, 600000), 0);
    assert_int_equal(json_array_size(json_object_get(usage, "failures")), 2);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(usage, "failures"), 0)),
                     NOW - 1000);
    assert_int_equal(pl_host_from_records(host_rec, usage, NOW + 200000, &c, &h), 0);
    assert_int_equal(h.failures, 2);
    assert_int_equal(pl_usage_failure(usage, NOW, -1), -EINVAL);
    assert_int_equal(pl_usage_failure(NULL, NOW, 1), -EINVAL);
    json_decref(host_rec);
    json_decref(usage);
}

static const char *osd_dump_json =
    "{\"epoch\": 42, \"fsid\": \"" FSID "\", \"pools\": ["
    "{\"pool\": 1, \"pool_name\": \".mgr\", \"size\": 3, \"crush_rule\": 0},"
    "{\"pool\": 2, \"pool_name\": \"vms\", \"size\": 3, \"crush_rule\": 1},"
    "{\"pool\": 3, \"pool_name\": \"images\", \"size\": 3, \"crush_rule\": 2}]}";

/* root default > row w1 > rack r1 > host h1 (osd.0); shadow tree default~hdd. */
static const char *crush_json =
    "{\"devices\": [{\"id\": 0, \"name\": \"osd.0\", \"class\": \"hdd\"}],"
    " \"buckets\": ["
    "{\"id\": -1, \"name\": \"default\", \"type_id\": 11, \"type_name\": \"root\","
    "  \"items\": [{\"id\": -5, \"weight\": 65536, \"pos\": 0}]},"
    "{\"id\": -5, \"name\": \"w1\", \"type_id\": 4, \"type_name\": \"row\","
    "  \"items\": [{\"id\": -4, \"weight\": 65536, \"pos\": 0}]},"
    "{\"id\": -4, \"name\": \"r1\", \"type_id\": 3, \"type_name\": \"rack\","
    "  \"items\": [{\"id\": -3, \"weight\": 65536, \"pos\": 0}]},"
    "{\"id\": -3, \"name\": \"h1\", \"type_id\": 1, \"type_name\": \"host\","
    "  \"items\": [{\"id\": 0, \"weight\": 65536, \"pos\": 0}]},"
    "{\"id\": -2, \"name\": \"default~hdd\", \"type_id\": 11, \"type_name\": \"root\","
    "  \"items\": []}],"
    " \"rules\": ["
    "{\"rule_id\": 0, \"rule_name\": \"replicated_rule\", \"steps\": ["
    "  {\"op\": \"take\", \"item\": -1, \"item_name\": \"default\"},"
    "  {\"op\": \"chooseleaf_firstn\", \"num\": 0, \"type\": \"host\"}, {\"op\": \"emit\"}]},"
    "{\"rule_id\": 1, \"rule_name\": \"rack_r1\", \"steps\": ["
    "  {\"op\": \"set_chooseleaf_tries\", \"num\": 5},"
    "  {\"op\": \"take\", \"item\": -4, \"item_name\": \"r1\"},"
    "  {\"op\": \"chooseleaf_firstn\", \"num\": 0, \"type\": \"host\"}, {\"op\": \"emit\"}]},"
    "{\"rule_id\": 2, \"rule_name\": \"hdd\", \"steps\": ["
    "  {\"op\": \"take\", \"item\": -2, \"item_name\": \"default~hdd\"}, {\"op\": \"emit\"}]},"
    "{\"rule_id\": 3, \"rule_name\": \"broken\", \"steps\": [{\"op\": \"emit\"}]}]}";

static const char *df_json =
    "{\"stats\": {\"total_bytes\": 32212254720},"
    " \"pools\": [{\"name\": \"vms\", \"id\": 2, \"stats\": {\"stored\": 0,"
    " \"max_avail\": 10201367552, \"percent_used\": 0}},"
    " {\"name\": \"images\", \"id\": 3, \"stats\": {\"stored\": 5}}]}";

static void test_ceph_parsers(void **state)
{
    json_t *osd = J(osd_dump_json), *crush = J(crush_json), *df = J(df_json);
    struct pl_loc t[PL_LOC_MAX];
    int rule = -1, n = 0;
    int64_t bytes = 0;

    (void)state;
    assert_int_equal(pl_pool_rule(osd, "vms", &rule), 0);
    assert_int_equal(rule, 1);
    assert_int_equal(pl_pool_rule(osd, "nope", &rule), -ENOENT);
    assert_int_equal(pl_pool_rule(crush, "vms", &rule), -EINVAL);
    assert_int_equal(pl_pool_rule(NULL, "vms", &rule), -EINVAL);

    assert_int_equal(pl_crush_target(crush, 1, t, PL_LOC_MAX, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(t[0].type, "rack");
    assert_string_equal(t[0].name, "r1");
    assert_string_equal(t[1].type, "row");
    assert_string_equal(t[1].name, "w1");
    assert_string_equal(t[2].type, "root");
    assert_string_equal(t[2].name, "default");
    assert_int_equal(pl_crush_target(crush, 1, t, 2, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(pl_crush_target(crush, 0, t, PL_LOC_MAX, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(t[0].name, "default");
    assert_int_equal(pl_crush_target(crush, 2, t, PL_LOC_MAX, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(t[0].name, "default"); /* device-class shadow named as its tree */
    assert_int_equal(pl_crush_target(crush, 3, t, PL_LOC_MAX, &n), -ENOENT);
    assert_int_equal(pl_crush_target(crush, 9, t, PL_LOC_MAX, &n), -ENOENT);
    assert_int_equal(pl_crush_target(osd, 1, t, PL_LOC_MAX, &n), -EINVAL);
    assert_int_equal(pl_crush_target(crush, 1, t, 0, &n), -EINVAL);

    assert_int_equal(pl_pool_max_avail(df, "vms", &bytes), 0);
    assert_int_equal(bytes, 10201367552LL);
    assert_int_equal(pl_pool_max_avail(df, "images", &bytes), -EINVAL);
    assert_int_equal(pl_pool_max_avail(df, "nope", &bytes), -ENOENT);
    assert_int_equal(pl_pool_max_avail(osd, "vms", &bytes), -ENOENT); /* pool_name, not name */
    assert_int_equal(pl_pool_max_avail(crush, "vms", &bytes), -EINVAL);
    json_decref(osd);
    json_decref(crush);
    json_decref(df);
}

/* Records and CRUSH facts through to a decision: the host in the pool's rack wins. */
static void test_end_to_end(void **state)
{
    struct pl_config c = cfg0();
    json_t *crush = J(crush_json), *rec = J(host_json);
    struct pl_host h[2];
    struct pl_request r = req0();
    struct pl_result res;
    size_t order[16];

    (void)state;
    c.w_locality = 2.0;
    c.w_ram = 1.0;
    assert_int_equal(pl_host_from_records(rec, NULL, NOW, &c, &h[0]), 0);
    json_object_set_new(rec, "name", json_string("h2"));
    json_object_set_new(rec, "ram_mb", json_integer(65536));
    json_object_set_new(rec, "location", json_pack("{s:s, s:s}", "rack", "r7", "host", "h2"));
    assert_int_equal(pl_host_from_records(rec, NULL, NOW, &c, &h[1]), 0);
    assert_int_equal(pl_crush_target(crush, 1, r.target, PL_LOC_MAX, &r.ntarget), 0);
    r.zone = "az1";
    assert_int_equal(place(&c, h, 2, &r, 0, &res, order), 0);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    json_decref(crush);
    json_decref(rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_filter),
        cmocka_unit_test(test_explain_exact),
        cmocka_unit_test(test_ratios_reserved),
        cmocka_unit_test(test_image_filter),
        cmocka_unit_test(test_affinity),
        cmocka_unit_test(test_spread_pack),
        cmocka_unit_test(test_locality),
        cmocka_unit_test(test_failures_ties),
        cmocka_unit_test(test_subset),
        cmocka_unit_test(test_best_of_many),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_explain_table),
        cmocka_unit_test(test_host_from_records),
        cmocka_unit_test(test_usage_claim),
        cmocka_unit_test(test_usage_failure),
        cmocka_unit_test(test_ceph_parsers),
        cmocka_unit_test(test_end_to_end),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
