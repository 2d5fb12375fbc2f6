/* vol_qos.c — QoS specs: one table of the keys Strata understands (each with
 * its librbd setting, if any), the checks of keys and values, and the two
 * mappings (front-end qos_specs, back-end conf_rbd_qos_* metadata). */
#include "vol_qos.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_MAX 1000000000000000ULL /* 10^15 */

/* The keys a spec may set directly; *_per_gb[_min] exist for the scalable ones. */
static const struct qkey {
    const char *key;
    const char *rbd;  /* librbd setting (image metadata key without "conf_"), or NULL */
    bool scalable;    /* has *_per_gb and *_per_gb_min */
} qkeys[] = {
    { "total_iops_sec", "rbd_qos_iops_limit", true },
    { "read_iops_sec", "rbd_qos_read_iops_limit", true },
    { "write_iops_sec", "rbd_qos_write_iops_limit", true },
    { "total_bytes_sec", "rbd_qos_bps_limit", true },
    { "read_bytes_sec", "rbd_qos_read_bps_limit", true },
    { "write_bytes_sec", "rbd_qos_write_bps_limit", true },
    { "total_iops_sec_max", "rbd_qos_iops_burst", false },
    { "read_iops_sec_max", "rbd_qos_read_iops_burst", false },
    { "write_iops_sec_max", "rbd_qos_write_iops_burst", false },
    { "total_bytes_sec_max", "rbd_qos_bps_burst", false },
    { "read_bytes_sec_max", "rbd_qos_read_bps_burst", false },
    { "write_bytes_sec_max", "rbd_qos_write_bps_burst", false },
    { "total_iops_sec_max_length", NULL, false },
    { "read_iops_sec_max_length", NULL, false },
    { "write_iops_sec_max_length", NULL, false },
    { "total_bytes_sec_max_length", NULL, false },
    { "read_bytes_sec_max_length", NULL, false },
    { "write_bytes_sec_max_length", NULL, false },
    { "size_iops_sec", NULL, false },
};
#define NQKEYS (sizeof(qkeys) / sizeof(qkeys[0]))

static const char *const consumers[] = { "front-end", "back-end", "both" };

int vqos_consumer_parse(const char *s, enum vqos_consumer *out)
{
    for (int i = 0; s && i < 3; i++) {
        if (strcmp(s, consumers[i]) == 0) {
            *out = (enum vqos_consumer)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *vqos_consumer_name(enum vqos_consumer c)
{
    return (unsigned)c < 3 ? consumers[c] : "back-end";
}

/* "<key><suffix>" into buf. */
static const char *keyed(char *buf, size_t len, const char *key, const char *suffix)
{
    snprintf(buf, len, "%s%s", key, suffix);
    return buf;
}

/* Whether key is known: a plain key, or *_per_gb / *_per_gb_min of a scalable one. */
static bool key_known(const char *key)
{
    char buf[64];

    for (size_t i = 0; i < NQKEYS; i++) {
        if (strcmp(key, qkeys[i].key) == 0)
            return true;
        if (qkeys[i].scalable &&
            (strcmp(key, keyed(buf, sizeof(buf), qkeys[i].key, "_per_gb")) == 0 ||
             strcmp(key, keyed(buf, sizeof(buf), qkeys[i].key, "_per_gb_min")) == 0))
            return true;
    }
    return false;
}

/* A non-negative integer up to VALUE_MAX: JSON integer or string of digits. */
static bool num(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < 0 || (uint64_t)n > VALUE_MAX)
            return false;
        *out = (uint64_t)n;
        return true;
    }
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 16 || strspn(s, "0123456789") != n)
        return false;
    *out = strtoull(s, NULL, 10);
    return *out <= VALUE_MAX;
}

int vqos_check_spec(const char *key, const json_t *value, char *out, size_t len, char *msg,
                    size_t msglen)
{
    uint64_t n;

    if (!key_known(key)) {
        snprintf(msg, msglen, "Invalid input received: unknown QoS key '%.64s'.", key);
        return -EINVAL;
    }
    if (!num(value, &n)) {
        snprintf(msg, msglen, "Invalid input received: QoS key %s must be a non-negative "
                 "integer (at most 10^15).", key);
        return -EINVAL;
    }
    snprintf(out, len, "%llu", (unsigned long long)n);
    return 0;
}

/* The value of a key in specs (0 and false when absent or unreadable). */
static bool spec(const json_t *specs, const char *key, uint64_t *out)
{
    *out = 0;
    return num(json_object_get(specs, key), out);
}

/* The limit a key sets for a volume of size_gb: X_per_gb (if given) scaled,
 * at least X_per_gb_min, else X itself.  false when the specs set neither. */
static bool effective(const json_t *specs, const struct qkey *q, int64_t size_gb, uint64_t *out)
{
    char buf[64];
    uint64_t per, min, v;

    if (q->scalable && spec(specs, keyed(buf, sizeof(buf), q->key, "_per_gb"), &per)) {
        spec(specs, keyed(buf, sizeof(buf), q->key, "_per_gb_min"), &min);
        if (__builtin_mul_overflow(per, (uint64_t)(size_gb > 0 ? size_gb : 0), &v))
            v = UINT64_MAX;
        *out = v > min ? v : min;
        return true;
    }
    return spec(specs, q->key, out);
}

/* Whether the specs set a limit of `key` in any form (plain or per-GB). */
static bool sets(const json_t *specs, const char *key)
{
    char buf[64];

    return json_object_get(specs, key) ||
           json_object_get(specs, keyed(buf, sizeof(buf), key, "_per_gb"));
}

int vqos_check_specs(const json_t *specs, char *msg, size_t msglen)
{
    static const char *const kinds[] = { "iops_sec", "bytes_sec", "iops_sec_max",
                                         "bytes_sec_max", "iops_sec_max_length",
                                         "bytes_sec_max_length" };
    char tmp[32], t[64], r[64], w[64];
    const char *k;
    json_t *v;
    uint64_t lim, burst;

    json_object_foreach((json_t *)specs, k, v) {
        if (vqos_check_spec(k, v, tmp, sizeof(tmp), msg, msglen) < 0)
            return -EINVAL;
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        keyed(t, sizeof(t), "total_", kinds[i]);
        keyed(r, sizeof(r), "read_", kinds[i]);
        keyed(w, sizeof(w), "write_", kinds[i]);
        if (sets(specs, t) && (sets(specs, r) || sets(specs, w))) {
            snprintf(msg, msglen, "Invalid input received: %s cannot be set together with %s "
                     "or %s.", t, r, w);
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < NQKEYS; i++) {
        if (!qkeys[i].scalable)
            continue;
        keyed(t, sizeof(t), qkeys[i].key, "_max");
        if (spec(specs, qkeys[i].key, &lim) && spec(specs, t, &burst) && burst > 0 &&
            burst < lim) {
            snprintf(msg, msglen, "Invalid input received: %s (%llu) must not be below %s "
                     "(%llu).", t, (unsigned long long)burst, qkeys[i].key,
                     (unsigned long long)lim);
            return -EINVAL;
        }
    }
    return 0;
}

static bool is_per_gb(const char *key)
{
    return strstr(key, "_per_gb") != NULL;
}

json_t *vqos_frontend(const json_t *specs, enum vqos_consumer c, int64_t size_gb)
{
    json_t *out, *v;
    const char *k;
    uint64_t n;
    char buf[64];

    if (c == VQOS_BACK_END)
        return json_null();
    if (!(out = json_object()))
        return NULL;
    json_object_foreach((json_t *)specs, k, v) {
        if (!is_per_gb(k) && json_object_set(out, k, v) < 0)
            goto fail;
    }
    for (size_t i = 0; i < NQKEYS; i++) {
        if (qkeys[i].scalable &&
            json_object_get(specs, keyed(buf, sizeof(buf), qkeys[i].key, "_per_gb")) &&
            effective(specs, &qkeys[i], size_gb, &n) &&
            json_object_set_new(out, qkeys[i].key, json_integer((json_int_t)(n > INT64_MAX
                                                                            ? INT64_MAX
                                                                            : n))) < 0)
            goto fail;
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

json_t *vqos_backend(const json_t *specs, enum vqos_consumer c, int64_t size_gb)
{
    json_t *out = json_object();
    char key[64], val[32];
    uint64_t n;

    for (size_t i = 0; out && i < NQKEYS; i++) {
        if (!qkeys[i].rbd)
            continue;
        if (c == VQOS_FRONT_END || !effective(specs, &qkeys[i], size_gb, &n))
            n = 0;
        snprintf(key, sizeof(key), "conf_%s", qkeys[i].rbd);
        snprintf(val, sizeof(val), "%llu", (unsigned long long)n);
        if (json_object_set_new(out, key, json_string(val)) < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}
