/* qos.h — one QoS policy (total/read/write × IOPS/bytes per second, bursts,
 * per-GB scaling, an I/O size counted as one op), parsed from Cinder qos-spec
 * keys and mapped, each by one table, to connection_info.qos_specs (Nova →
 * libvirt <iotune>), libvirt <iotune> / virDomainSetBlockIoTune parameters and
 * librbd's per-image conf_rbd_qos_* metadata.  Pure: no Ceph, no libvirt. */
#ifndef STRATA_QOS_H
#define STRATA_QOS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QOS_VALUE_MAX 1000000000000000ULL /* 10^15: larger values are refused */
#define QOS_MSG_MAX 256

/* Where a spec is enforced (Cinder's qos-specs "consumer"). */
enum qos_consumer { QOS_FRONT_END, QOS_BACK_END, QOS_BOTH };

enum qos_dir { QOS_TOTAL, QOS_READ, QOS_WRITE, QOS_NDIR };
enum qos_unit { QOS_IOPS, QOS_BPS, QOS_NUNIT };

/* One limit: avg per second (0 = none), a burst rate max (0 = none) that may
 * last max_length seconds (0 = the default, one second), and the per-GB form
 * (avg = max(per_gb × size, per_gb_min)) still unresolved while per_gb > 0. */
struct qos_limit {
    uint64_t avg, max, max_length;
    uint64_t per_gb, per_gb_min;
};

struct qos_policy {
    struct qos_limit lim[QOS_NDIR][QOS_NUNIT];
    uint64_t size_iops;   /* size_iops_sec: an I/O of this many bytes counts as one op (0 = any) */
};

/* "front-end" / "back-end" / "both": 0 or -EINVAL (out untouched). */
int qos_consumer_parse(const char *s, enum qos_consumer *out);
const char *qos_consumer_name(enum qos_consumer c);
/* Whether specs of consumer c reach the guest (front) or the image (back). */
bool qos_consumer_front(enum qos_consumer c);
bool qos_consumer_back(enum qos_consumer c);

/* One key as a client sends it: a known Cinder key and a non-negative integer
 * (JSON integer or a string of digits, at most QOS_VALUE_MAX).  Its stored form
 * (decimal text) goes to out (len bytes).  0, or -EINVAL with msg naming the key. */
int qos_spec_check(const char *key, const json_t *value, char *out, size_t len, char *msg,
                   size_t msglen);

/* A whole spec set (an object; "consumer" is not a spec key) into *p: every
 * key and value as above, a total limit never beside its read/write pair
 * (libvirt refuses both), a burst not below its limit (librbd refuses it).
 * lenient: unknown keys are skipped instead of refused (what a guest's agent
 * does with a connection_info from elsewhere).  0, or -EINVAL with msg. */
int qos_policy_parse(const json_t *specs, bool lenient, struct qos_policy *p, char *msg,
                     size_t msglen);

/* p with every per-GB limit resolved for a volume of size_gb (Cinder's
 * max(X_per_gb × size, X_per_gb_min)). */
void qos_policy_resolve(struct qos_policy *p, int64_t size_gb);

/* Whether p limits anything at all. */
bool qos_policy_any(const struct qos_policy *p);

/* connection_info.data.qos_specs of a resolved policy (new object of Cinder /
 * Nova keys, integer values, only the limits set).  NULL: ENOMEM. */
json_t *qos_frontend_specs(const struct qos_policy *p);

/* librbd's per-image metadata of a resolved policy (new object): every
 * conf_rbd_qos_* key Strata manages, as decimal text, "0" where p sets none
 * (the key is to be removed, so librbd's default applies and earlier limits
 * go).  NULL: ENOMEM. */
json_t *qos_rbd_metadata(const struct qos_policy *p);

/* A project's cap split over its volumes (max-min fair, "water-filling"):
 * own[i] is volume i's own limit (0 = none), out[i] its share.  A volume whose
 * own limit is below the fair share keeps it and the rest is split among the
 * others, so the shares never add up to more than cap, and none is 0 (which
 * librbd would read as "unlimited").  cap 0: no cap, out = own.  0 or -ENOMEM. */
int qos_share(uint64_t cap, const uint64_t *own, size_t n, uint64_t *out);

/* The resolved policy p of one volume held to its share of a project's cap:
 * the total IOPS and bytes limits become min(own, share) — shares from
 * qos_share over each volume's qos_total_limit — and a burst above the share
 * is dropped (it would let the project past its cap).  0 shares: unchanged. */
uint64_t qos_total_limit(const struct qos_policy *p, enum qos_unit u);
void qos_policy_cap(struct qos_policy *p, uint64_t iops_share, uint64_t bps_share);

/* libvirt's <iotune> children / virDomainSetBlockIoTune parameters of a
 * resolved policy, in the schema's order: fn(name, value, arg) for each one
 * set (values > 0); the first non-zero return stops and is returned.
 * all: every parameter, 0 where unset (a live change clears old limits). */
int qos_iotune_foreach(const struct qos_policy *p, bool all,
                       int (*fn)(const char *name, uint64_t value, void *arg), void *arg);

#endif
