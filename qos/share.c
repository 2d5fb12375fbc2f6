/* share.c — a project's cap over its volumes: max-min fair shares, and one
 * volume's policy held to its share (back-end limits of blockd's project cap). */
#include <errno.h>
#include <stdlib.h>

#include "strata/qos.h"

struct ent {
    uint64_t own;   /* 0 = none: sorts last */
    size_t at;
};

static int by_own(const void *a, const void *b)
{
    uint64_t x = ((const struct ent *)a)->own, y = ((const struct ent *)b)->own;

    if (x == y)
        return 0;
    if (x == 0 || (y != 0 && x > y))
        return 1;
    return -1;
}

int qos_share(uint64_t cap, const uint64_t *own, size_t n, uint64_t *out)
{
    struct ent *e;
    uint64_t left = cap;

    if (cap == 0 || n == 0) {
        for (size_t i = 0; i < n; i++)
            out[i] = own[i];
        return 0;
    }
    if (!(e = calloc(n, sizeof(*e))))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        e[i] = (struct ent){ own[i], i };
    qsort(e, n, sizeof(*e), by_own);
    for (size_t i = 0; i < n; i++) {
        uint64_t fair = left / (n - i);
        uint64_t v = e[i].own && e[i].own <= fair ? e[i].own : fair;
        out[e[i].at] = v ? v : 1;
        left -= v;
    }
    free(e);
    return 0;
}

uint64_t qos_total_limit(const struct qos_policy *p, enum qos_unit u)
{
    return p->lim[QOS_TOTAL][u].avg;
}

void qos_policy_cap(struct qos_policy *p, uint64_t iops_share, uint64_t bps_share)
{
    const uint64_t share[QOS_NUNIT] = { iops_share, bps_share };

    for (int u = 0; u < QOS_NUNIT; u++) {
        struct qos_limit *l = &p->lim[QOS_TOTAL][u];
        if (!share[u])
            continue;
        if (!l->avg || l->avg > share[u])
            l->avg = share[u];
        if (l->max && l->max > share[u])
            l->max = l->max_length = 0;
        for (int d = QOS_READ; d <= QOS_WRITE; d++) {   /* a direction cannot exceed the total */
            struct qos_limit *r = &p->lim[d][u];
            if (r->avg > l->avg)
                r->avg = l->avg;
            if (r->max > l->avg)
                r->max = r->max_length = 0;
        }
    }
}
