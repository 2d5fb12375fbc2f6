/* policy.c — the QoS key table (Cinder key → limit field, libvirt name, librbd
 * setting) and everything derived from it: parsing, checks, per-GB resolution
 * and the three mappings.  A new key is a row here, nowhere else. */
#include "strata/qos.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum field { F_AVG, F_MAX, F_MAX_LENGTH, F_PER_GB, F_PER_GB_MIN, F_SIZE_IOPS };

static const struct qkey {
    const char *key;       /* Cinder qos-spec key (also the Nova/libvirt name when libvirt is set) */
    enum qos_dir dir;
    enum qos_unit unit;
    enum field field;
    bool libvirt;          /* an <iotune> child / SetBlockIoTune parameter of the same name */
    const char *rbd;       /* librbd setting (image metadata key without "conf_"), or NULL */
} qkeys[] = {
#define LIMIT(d, u, k, r)                                                           \
    { k "_sec", d, u, F_AVG, true, "rbd_qos_" r "_limit" },                    \
    { k "_sec_max", d, u, F_MAX, true, "rbd_qos_" r "_burst" },                \
    { k "_sec_max_length", d, u, F_MAX_LENGTH, true, "rbd_qos_" r "_burst_seconds" }, \
    { k "_sec_per_gb", d, u, F_PER_GB, false, NULL },                          \
    { k "_sec_per_gb_min", d, u, F_PER_GB_MIN, false, NULL }
    /* libvirt's schema order: bytes before iops, total/read/write */
    LIMIT(QOS_TOTAL, QOS_BPS, "total_bytes", "bps"),
    LIMIT(QOS_READ, QOS_BPS, "read_bytes", "read_bps"),
    LIMIT(QOS_WRITE, QOS_BPS, "write_bytes", "write_bps"),
    LIMIT(QOS_TOTAL, QOS_IOPS, "total_iops", "iops"),
    LIMIT(QOS_READ, QOS_IOPS, "read_iops", "read_iops"),
    LIMIT(QOS_WRITE, QOS_IOPS, "write_iops", "write_iops"),
#undef LIMIT
    { "size_iops_sec", QOS_TOTAL, QOS_IOPS, F_SIZE_IOPS, true, NULL },
};
#define NQKEYS (sizeof(qkeys) / sizeof(qkeys[0]))

/* libvirt's <iotune> order: every avg, every max, size_iops_sec, every max_length. */
static const enum field iotune_order[] = { F_AVG, F_MAX, F_SIZE_IOPS, F_MAX_LENGTH };

static const char *const consumers[] = { "front-end", "back-end", "both" };

int qos_consumer_parse(const char *s, enum qos_consumer *out)
{
    for (int i = 0; s && i < 3; i++) {
        if (strcmp(s, consumers[i]) == 0) {
            *out = (enum qos_consumer)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *qos_consumer_name(enum qos_consumer c)
{
    return (unsigned)c < 3 ? consumers[c] : "back-end";
}

bool qos_consumer_front(enum qos_consumer c)
{
    return c == QOS_FRONT_END || c == QOS_BOTH;
}

bool qos_consumer_back(enum qos_consumer c)
{
    return c == QOS_BACK_END || c == QOS_BOTH;
}

static const struct qkey *lookup(const char *key)
{
    for (size_t i = 0; i < NQKEYS; i++)
        if (strcmp(key, qkeys[i].key) == 0)
            return &qkeys[i];
    return NULL;
}

/* The field a row names in p. */
static uint64_t *slot(struct qos_policy *p, const struct qkey *q)
{
    struct qos_limit *l = &p->lim[q->dir][q->unit];

    switch (q->field) {
    case F_AVG: return &l->avg;
    case F_MAX: return &l->max;
    case F_MAX_LENGTH: return &l->max_length;
    case F_PER_GB: return &l->per_gb;
    case F_PER_GB_MIN: return &l->per_gb_min;
    default: return &p->size_iops;
    }
}

static uint64_t get(const struct qos_policy *p, const struct qkey *q)
{
    return *slot((struct qos_policy *)p, q);
}

/* A non-negative integer up to QOS_VALUE_MAX: JSON integer or string of digits. */
static bool num(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < 0 || (uint64_t)n > QOS_VALUE_MAX)
            return false;
        *out = (uint64_t)n;
        return true;
    }
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 16 || strspn(s, "0123456789") != n)
        return false;
    *out = strtoull(s, NULL, 10);
    return *out <= QOS_VALUE_MAX;
}

/* One key's value, or -EINVAL with msg; *q NULL for an unknown key. */
static int check_one(const char *key, const json_t *value, const struct qkey **q, uint64_t *n,
                     char *msg, size_t msglen)
{
    if (!(*q = lookup(key))) {
        snprintf(msg, msglen, "Invalid input received: unknown QoS key '%.64s'.", key);
        return -EINVAL;
    }
    if (!num(value, n)) {
        snprintf(msg, msglen, "Invalid input received: QoS key %s must be a non-negative "
                 "integer (at most 10^15).", key);
        return -EINVAL;
    }
    return 0;
}

int qos_spec_check(const char *key, const json_t *value, char *out, size_t len, char *msg,
                   size_t msglen)
{
    const struct qkey *q;
    uint64_t n;
    int rc = check_one(key, value, &q, &n, msg, msglen);

    if (rc == 0)
        snprintf(out, len, "%llu", (unsigned long long)n);
    return rc;
}

static const char *const dir_names[] = { "total", "read", "write" };
static const char *const unit_names[] = { "iops", "bytes" };

/* Whether a limit is set in any form (plain or per-GB). */
static bool limit_set(const struct qos_limit *l)
{
    return l->avg || l->per_gb || l->max || l->max_length || l->per_gb_min;
}

/* The cross-key rules: total never beside read/write; a burst not below its limit. */
static int check_policy(const struct qos_policy *p, char *msg, size_t msglen)
{
    for (int u = 0; u < QOS_NUNIT; u++) {
        if (limit_set(&p->lim[QOS_TOTAL][u]) &&
            (limit_set(&p->lim[QOS_READ][u]) || limit_set(&p->lim[QOS_WRITE][u]))) {
            snprintf(msg, msglen, "Invalid input received: total_%s_sec cannot be set together "
                     "with read_%s_sec or write_%s_sec.", unit_names[u], unit_names[u],
                     unit_names[u]);
            return -EINVAL;
        }
        for (int d = 0; d < QOS_NDIR; d++) {
            const struct qos_limit *l = &p->lim[d][u];
            if (l->max > 0 && l->avg > 0 && l->max < l->avg) {
                snprintf(msg, msglen, "Invalid input received: %s_%s_sec_max (%llu) must not "
                         "be below %s_%s_sec (%llu).", dir_names[d], unit_names[u],
                         (unsigned long long)l->max, dir_names[d], unit_names[u],
                         (unsigned long long)l->avg);
                return -EINVAL;
            }
        }
    }
    return 0;
}

int qos_policy_parse(const json_t *specs, bool lenient, struct qos_policy *p, char *msg,
                     size_t msglen)
{
    const char *k;
    json_t *v;

    memset(p, 0, sizeof(*p));
    if (!specs || json_is_null(specs))
        return 0;
    if (!json_is_object(specs)) {
        snprintf(msg, msglen, "Invalid input received: QoS specs must be an object.");
        return -EINVAL;
    }
    json_object_foreach((json_t *)specs, k, v) {
        const struct qkey *q;
        uint64_t n;
        if (strcmp(k, "consumer") == 0)
            continue;
        if (check_one(k, v, &q, &n, msg, msglen) < 0) {
            if (lenient && !q)
                continue;
            return -EINVAL;
        }
        *slot(p, q) = n;
    }
    return check_policy(p, msg, msglen);
}

void qos_policy_resolve(struct qos_policy *p, int64_t size_gb)
{
    uint64_t gb = size_gb > 0 ? (uint64_t)size_gb : 0, v;

    for (int d = 0; d < QOS_NDIR; d++) {
        for (int u = 0; u < QOS_NUNIT; u++) {
            struct qos_limit *l = &p->lim[d][u];
            if (l->per_gb == 0)
                continue;
            if (__builtin_mul_overflow(l->per_gb, gb, &v) || v > QOS_VALUE_MAX)
                v = QOS_VALUE_MAX;
            l->avg = v > l->per_gb_min ? v : l->per_gb_min;
            l->per_gb = l->per_gb_min = 0;
            if (l->max > 0 && l->max < l->avg)   /* a burst below the scaled limit is none */
                l->max = 0;
        }
    }
}

bool qos_policy_any(const struct qos_policy *p)
{
    for (int d = 0; d < QOS_NDIR; d++)
        for (int u = 0; u < QOS_NUNIT; u++)
            if (p->lim[d][u].avg || p->lim[d][u].per_gb || p->lim[d][u].max)
                return true;
    return false;
}

json_t *qos_frontend_specs(const struct qos_policy *p)
{
    json_t *out = json_object();

    for (size_t i = 0; out && i < NQKEYS; i++) {
        uint64_t v = get(p, &qkeys[i]);
        if (qkeys[i].libvirt && v > 0 &&
            json_object_set_new(out, qkeys[i].key, json_integer((json_int_t)v)) < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

json_t *qos_rbd_metadata(const struct qos_policy *p)
{
    json_t *out = json_object();
    char key[64], val[32];

    for (size_t i = 0; out && i < NQKEYS; i++) {
        const struct qkey *q = &qkeys[i];
        uint64_t v = get(p, q);
        if (!q->rbd)
            continue;
        /* a burst length only with its burst (librbd's minimum is 1 s) */
        if (q->field == F_MAX_LENGTH && p->lim[q->dir][q->unit].max == 0)
            v = 0;
        snprintf(key, sizeof(key), "conf_%s", q->rbd);
        snprintf(val, sizeof(val), "%llu", (unsigned long long)v);
        if (json_object_set_new(out, key, json_string(val)) < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

int qos_iotune_foreach(const struct qos_policy *p, bool all,
                       int (*fn)(const char *name, uint64_t value, void *arg), void *arg)
{
    for (size_t f = 0; f < sizeof(iotune_order) / sizeof(iotune_order[0]); f++) {
        for (size_t i = 0; i < NQKEYS; i++) {
            const struct qkey *q = &qkeys[i];
            if (!q->libvirt || q->field != iotune_order[f])
                continue;
            uint64_t v = get(p, q);
            if (q->field == F_MAX_LENGTH) {   /* libvirt takes a length only beside its burst */
                if (p->lim[q->dir][q->unit].max == 0)
                    continue;
                if (v == 0 && all)
                    v = 1;
            }
            if (v == 0 && !all)
                continue;
            int rc = fn(q->key, v, arg);
            if (rc)
                return rc;
        }
    }
    return 0;
}
