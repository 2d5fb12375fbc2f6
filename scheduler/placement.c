/* placement.c — the filter-and-weigh engine: a const table of filters drops hosts
 * (first failure wins, counted for the explain string), a const table of weighers
 * ranks the rest, each normalised (w−min)/(max−min) and multiplied, ties by name. */
#include "placement.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- capacity (shared by the vcpu/ram/disk filters, the weighers and pl_fits) ---- */

static double usable_vcpus(const struct pl_config *cfg, const struct pl_host *h)
{
    return (double)h->vcpus * cfg->cpu_ratio;
}

static double usable_ram(const struct pl_config *cfg, const struct pl_host *h)
{
    return (double)(h->ram_mb - cfg->reserved_ram_mb) * cfg->ram_ratio;
}

static double usable_disk(const struct pl_config *cfg, const struct pl_host *h)
{
    return ((double)h->disk_gb - (double)cfg->reserved_disk_mb / 1024.0) * cfg->disk_ratio;
}

/* ---- filters ---- */

static bool str_given(const char *s)
{
    return s && *s;
}

/* strcmp's answer without its call for the usual early mismatch. */
static bool streq(const char *a, const char *b)
{
    return a[0] == b[0] && strcmp(a, b) == 0;
}

static bool in_names(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && streq(names[i], name))
            return true;
    return false;
}

static size_t count_names(const char *const *names, size_t n, const char *name)
{
    size_t c = 0;

    for (size_t i = 0; i < n; i++)
        c += names[i] && streq(names[i], name);
    return c;
}

static bool f_alive(const struct pl_config *cfg, const struct pl_host *h,
                    const struct pl_request *req)
{
    return h->up;
}

static bool f_retry(const struct pl_config *cfg, const struct pl_host *h,
                    const struct pl_request *req)
{
    return !in_names(req->exclude, req->nexclude, h->name);
}

static bool f_zone(const struct pl_config *cfg, const struct pl_host *h,
                   const struct pl_request *req)
{
    return !str_given(req->zone) || streq(req->zone, h->zone);
}

static bool f_storage(const struct pl_config *cfg, const struct pl_host *h,
                      const struct pl_request *req)
{
    return h->fsid[0] && streq(h->fsid, req->fsid);
}

/* kvm and qemu are both QEMU (with or without acceleration): a request for either
 * accepts a host of either; any other hypervisor type must match exactly. */
static bool is_qemu(const char *t)
{
    return strcasecmp(t, "kvm") == 0 || strcasecmp(t, "qemu") == 0;
}

static bool f_image(const struct pl_config *cfg, const struct pl_host *h,
                    const struct pl_request *req)
{
    const char *hv = req->hypervisor_type;

    if (str_given(req->arch) && !streq(req->arch, h->arch))
        return false;
    if (!str_given(hv))
        return true;
    return strcasecmp(hv, h->hypervisor) == 0 || (is_qemu(hv) && is_qemu(h->hypervisor));
}

static bool f_vcpu(const struct pl_config *cfg, const struct pl_host *h,
                   const struct pl_request *req)
{
    return (double)(h->vcpus_used + req->vcpus) <= usable_vcpus(cfg, h);
}

static bool f_ram(const struct pl_config *cfg, const struct pl_host *h,
                  const struct pl_request *req)
{
    return (double)(h->ram_mb_used + req->ram_mb) <= usable_ram(cfg, h);
}

static bool f_disk(const struct pl_config *cfg, const struct pl_host *h,
                   const struct pl_request *req)
{
    return req->disk_gb == 0 || (double)(h->disk_gb_used + req->disk_gb) <= usable_disk(cfg, h);
}

/* Hard affinity with no other member yet places anywhere (the first member). */
static bool f_group(const struct pl_config *cfg, const struct pl_host *h,
                    const struct pl_request *req)
{
    bool member = in_names(req->group_hosts, req->ngroup_hosts, h->name);

    if (req->group_policy == PL_GROUP_AFFINITY)
        return req->ngroup_hosts == 0 || member;
    if (req->group_policy == PL_GROUP_ANTI_AFFINITY)
        return !member;
    return true;
}

typedef bool pl_filter_fn(const struct pl_config *, const struct pl_host *,
                          const struct pl_request *);

static const struct {
    const char *name;
    pl_filter_fn *pass;
} filters[PL_F_COUNT] = {
    [PL_F_ALIVE] = {"alive", f_alive},
    [PL_F_RETRY] = {"retry", f_retry},
    [PL_F_ZONE] = {"availability-zone", f_zone},
    [PL_F_STORAGE] = {"storage", f_storage},
    [PL_F_IMAGE] = {"image", f_image},
    [PL_F_VCPU] = {"vcpu", f_vcpu},
    [PL_F_RAM] = {"ram", f_ram},
    [PL_F_DISK] = {"disk", f_disk},
    [PL_F_GROUP] = {"group", f_group},
};

const char *pl_filter_name(enum pl_filter f)
{
    return (unsigned)f < PL_F_COUNT ? filters[f].name : "?";
}

/* The group filter is named after the policy it enforces. */
static const char *filter_label(enum pl_filter f, const struct pl_request *req)
{
    if (f == PL_F_GROUP && req->group_policy == PL_GROUP_AFFINITY)
        return "affinity";
    if (f == PL_F_GROUP && req->group_policy == PL_GROUP_ANTI_AFFINITY)
        return "anti-affinity";
    return pl_filter_name(f);
}

/* The first filter h fails, or PL_F_COUNT when it passes them all. */
static enum pl_filter first_failure(const struct pl_config *cfg, const struct pl_host *h,
                                    const struct pl_request *req)
{
    for (int f = 0; f < PL_F_COUNT; f++)
        if (!filters[f].pass(cfg, h, req))
            return (enum pl_filter)f;
    return PL_F_COUNT;
}

bool pl_fits(const struct pl_config *cfg, const struct pl_host *h, const struct pl_request *req)
{
    return cfg && h && req && f_vcpu(cfg, h, req) && f_ram(cfg, h, req) && f_disk(cfg, h, req);
}

/* ---- weighers ---- */

enum pl_weigher { PL_W_LOCALITY, PL_W_RAM, PL_W_CPU, PL_W_FAILURES, PL_W_GROUP, PL_W_COUNT };

static double w_locality(const struct pl_config *cfg, const struct pl_host *h,
                         const struct pl_request *req)
{
    for (int i = 0; i < req->ntarget; i++)
        for (int j = 0; j < h->nloc; j++)
            if (streq(req->target[i].type, h->loc[j].type) &&
                streq(req->target[i].name, h->loc[j].name))
                return (double)(req->ntarget - i) / req->ntarget;
    return 0;
}

static double w_ram(const struct pl_config *cfg, const struct pl_host *h,
                    const struct pl_request *req)
{
    return usable_ram(cfg, h) - (double)h->ram_mb_used;
}

static double w_cpu(const struct pl_config *cfg, const struct pl_host *h,
                    const struct pl_request *req)
{
    return usable_vcpus(cfg, h) - (double)h->vcpus_used;
}

static double w_failures(const struct pl_config *cfg, const struct pl_host *h,
                         const struct pl_request *req)
{
    return h->failures;
}

/* Soft affinity: members already on the host; soft anti-affinity: minus that. */
static double w_group(const struct pl_config *cfg, const struct pl_host *h,
                      const struct pl_request *req)
{
    double c = (double)count_names(req->group_hosts, req->ngroup_hosts, h->name);

    if (req->group_policy == PL_GROUP_SOFT_AFFINITY)
        return c;
    return req->group_policy == PL_GROUP_SOFT_ANTI_AFFINITY ? -c : 0;
}

static double m_locality(const struct pl_config *cfg)
{
    return cfg->w_locality;
}

static double m_ram(const struct pl_config *cfg)
{
    return cfg->w_ram;
}

static double m_cpu(const struct pl_config *cfg)
{
    return cfg->w_cpu;
}

static double m_failures(const struct pl_config *cfg)
{
    return -cfg->w_failures; /* a positive setting penalises failures */
}

static double m_group(const struct pl_config *cfg)
{
    return cfg->w_group != 0 ? cfg->w_group : 1.0;
}

static const struct {
    const char *name;
    double (*raw)(const struct pl_config *, const struct pl_host *, const struct pl_request *);
    double (*multiplier)(const struct pl_config *);
} weighers[PL_W_COUNT] = {
    [PL_W_LOCALITY] = {"locality", w_locality, m_locality},
    [PL_W_RAM] = {"ram", w_ram, m_ram},
    [PL_W_CPU] = {"cpu", w_cpu, m_cpu},
    [PL_W_FAILURES] = {"failures", w_failures, m_failures},
    [PL_W_GROUP] = {"group", w_group, m_group},
};

/* A host that passed the filters, with its raw weights and total score. */
struct cand {
    size_t idx;
    const char *name;
    double raw[PL_W_COUNT];
    double score;
};

/* Fill raw weights, then score = Σ multiplier × (raw − min) / (max − min). */
static void weigh(const struct pl_config *cfg, const struct pl_host *hosts,
                  const struct pl_request *req, struct cand *c, size_t m)
{
    for (size_t i = 0; i < m; i++) {
        c[i].score = 0;
        for (int w = 0; w < PL_W_COUNT; w++)
            c[i].raw[w] = weighers[w].raw(cfg, &hosts[c[i].idx], req);
    }
    for (int w = 0; w < PL_W_COUNT && m > 0; w++) {
        double lo = c[0].raw[w], hi = c[0].raw[w], mult = weighers[w].multiplier(cfg);
        for (size_t i = 1; i < m; i++) {
            lo = c[i].raw[w] < lo ? c[i].raw[w] : lo;
            hi = c[i].raw[w] > hi ? c[i].raw[w] : hi;
        }
        if (hi <= lo || mult == 0)
            continue;
        for (size_t i = 0; i < m; i++)
            c[i].score += mult * (c[i].raw[w] - lo) / (hi - lo);
    }
}

static int by_score(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    int r;

    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if ((r = strcmp(x->name, y->name)) != 0)
        return r;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Put the best k of c[0..m) first, in order: insertion into a window of k for a
 * short list (linear in m), a full sort otherwise. */
static void best_first(struct cand *c, size_t m, size_t k)
{
    if (k >= m || k > 32) {
        qsort(c, m, sizeof(*c), by_score);
        return;
    }
    qsort(c, k, sizeof(*c), by_score);
    for (size_t i = k; i < m; i++) {
        struct cand t;
        size_t j = k - 1;
        if (by_score(&c[i], &c[j]) >= 0)
            continue;
        t = c[j];
        c[j] = c[i];
        c[i] = t;
        for (; j > 0 && by_score(&c[j], &c[j - 1]) < 0; j--) {
            t = c[j];
            c[j] = c[j - 1];
            c[j - 1] = t;
        }
    }
}

/* ---- pl_place ---- */

static bool loc_valid(const struct pl_request *req)
{
    return req->ntarget >= 0 && req->ntarget <= PL_LOC_MAX;
}

static bool request_valid(const struct pl_request *req)
{
    return str_given(req->fsid) && req->vcpus >= 0 && req->ram_mb >= 0 && req->disk_gb >= 0 &&
           loc_valid(req) && (req->ngroup_hosts == 0 || req->group_hosts) &&
           (req->nexclude == 0 || req->exclude);
}

static void explain_nohost(const struct pl_request *req, struct pl_result *res)
{
    size_t before = res->nhosts, len;
    const char *sep = "; ";

    len = (size_t)snprintf(res->explain, sizeof(res->explain), "no valid host: %zu hosts",
                           res->nhosts);
    for (int f = 0; f < PL_F_COUNT && len < sizeof(res->explain); f++) {
        if (res->remaining[f] == before)
            continue;
        len += (size_t)snprintf(res->explain + len, sizeof(res->explain) - len, "%s%s %zu→%zu", sep,
                                filter_label((enum pl_filter)f, req), before, res->remaining[f]);
        before = res->remaining[f];
        sep = ", ";
    }
}

/* Run the filters: candidates into c (returns how many) and res->remaining. */
static size_t filter_all(const struct pl_config *cfg, const struct pl_host *hosts, size_t n,
                         const struct pl_request *req, struct cand *c, struct pl_result *res)
{
    size_t failed[PL_F_COUNT + 1] = {0}, m = 0, left = n;

    for (size_t i = 0; i < n; i++) {
        enum pl_filter f = first_failure(cfg, &hosts[i], req);
        failed[f]++;
        if (f == PL_F_COUNT) {
            c[m].idx = i;
            c[m++].name = hosts[i].name;
        }
    }
    for (int f = 0; f < PL_F_COUNT; f++)
        res->remaining[f] = left -= failed[f];
    return m;
}

static size_t subset_size(const struct pl_config *cfg, size_t m)
{
    size_t k = cfg->host_subset_size > 1 ? cfg->host_subset_size : 1;

    return k < m ? k : m;
}

/* The pick (rnd among the best k) first, then the others in score order;
 * c is ordered at least up to max(k, max_order). */
static void write_order(const struct pl_config *cfg, const struct cand *c, size_t m, uint64_t rnd,
                        struct pl_result *res, size_t max_order)
{
    size_t pick = (size_t)(rnd % subset_size(cfg, m));

    res->order[res->norder++] = c[pick].idx;
    for (size_t i = 0; i < m && res->norder < max_order; i++)
        if (i != pick)
            res->order[res->norder++] = c[i].idx;
}

int pl_place(const struct pl_config *cfg, const struct pl_host *hosts, size_t n,
             const struct pl_request *req, uint64_t rnd, struct pl_result *res, size_t max_order)
{
    struct cand *c;
    size_t m;

    if (!cfg || !req || !res || (n > 0 && !hosts) || !res->order || max_order == 0 ||
        !request_valid(req))
        return -EINVAL;
    res->nhosts = n;
    res->norder = 0;
    res->explain[0] = '\0';
    if (!(c = malloc((n ? n : 1) * sizeof(*c))))
        return -ENOMEM;
    m = filter_all(cfg, hosts, n, req, c, res);
    if (m == 0) {
        free(c);
        explain_nohost(req, res);
        return -ENOSPC;
    }
    weigh(cfg, hosts, req, c, m);
    best_first(c, m, subset_size(cfg, m) > max_order ? subset_size(cfg, m) : max_order);
    write_order(cfg, c, m, rnd, res, max_order);
    free(c);
    return 0;
}

/* ---- the debug table ---- */

static void table_row(FILE *fp, const struct pl_host *h, const char *verdict, const struct cand *c)
{
    fprintf(fp, "%-24s %-18s", h->name, verdict);
    for (int w = 0; w < PL_W_COUNT; w++)
        if (c)
            fprintf(fp, " %10.3f", c->raw[w]);
        else
            fprintf(fp, " %10s", "-");
    if (c)
        fprintf(fp, " %8.3f\n", c->score);
    else
        fprintf(fp, " %8s\n", "-");
}

static void table_write(FILE *fp, const struct pl_config *cfg, const struct pl_host *hosts,
                        size_t n, const struct pl_request *req, const struct cand *c, size_t m)
{
    size_t j = 0;

    fprintf(fp, "%-24s %-18s", "host", "filters");
    for (int w = 0; w < PL_W_COUNT; w++)
        fprintf(fp, " %10s", weighers[w].name);
    fprintf(fp, " %8s\n", "score");
    for (size_t i = 0; i < n; i++) {
        if (j < m && c[j].idx == i) {
            table_row(fp, &hosts[i], "pass", &c[j++]);
        } else {
            char why[40];
            snprintf(why, sizeof(why), "fail:%s",
                     filter_label(first_failure(cfg, &hosts[i], req), req));
            table_row(fp, &hosts[i], why, NULL);
        }
    }
}

char *pl_explain_table(const struct pl_config *cfg, const struct pl_host *hosts, size_t n,
                       const struct pl_request *req)
{
    struct pl_result res = {0};
    struct cand *c = NULL;
    char *text = NULL;
    size_t len = 0, m;
    FILE *fp;

    if (!cfg || !req || (n > 0 && !hosts) || !request_valid(req))
        return NULL;
    if (!(c = malloc((n ? n : 1) * sizeof(*c))))
        return NULL;
    m = filter_all(cfg, hosts, n, req, c, &res);
    weigh(cfg, hosts, req, c, m);
    if ((fp = open_memstream(&text, &len))) {
        table_write(fp, cfg, hosts, n, req, c, m);
        if (fclose(fp) != 0) {
            free(text);
            text = NULL;
        }
    }
    free(c);
    return text;
}
