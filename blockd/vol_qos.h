/* vol_qos.h — a QoS spec as Cinder keeps it, checked and mapped two ways (pure,
 * no I/O): front-end (connection_info.data.qos_specs, which Nova turns into
 * libvirt <iotune>) and back-end (librbd's per-image conf_rbd_qos_* metadata),
 * with the *_per_gb keys expanded by the volume's size as Cinder does. */
#ifndef BLOCKD_VOL_QOS_H
#define BLOCKD_VOL_QOS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Where a spec is enforced (Cinder's qos-specs "consumer"). */
enum vqos_consumer { VQOS_FRONT_END, VQOS_BACK_END, VQOS_BOTH };

/* "front-end" / "back-end" / "both": 0 or -EINVAL. */
int vqos_consumer_parse(const char *s, enum vqos_consumer *out);
const char *vqos_consumer_name(enum vqos_consumer c);

/* One spec as a client sends it: a known key (total|read|write _ iops|bytes
 * _sec, their _max and _max_length, size_iops_sec, and *_per_gb[_min] of the
 * six limits) and a non-negative integer (JSON integer or string of digits,
 * at most 10^15).  Its value as stored (decimal text) goes to out (len
 * bytes).  0, or -EINVAL with msg (msglen bytes) naming the key. */
int vqos_check_spec(const char *key, const json_t *value, char *out, size_t len, char *msg,
                    size_t msglen);
/* A whole stored set (object of decimal strings): every spec as above, a
 * total limit never beside its read/write pair (libvirt refuses both), and a
 * burst (_max) not below its limit.  0 or -EINVAL with msg. */
int vqos_check_specs(const json_t *specs, char *msg, size_t msglen);

/* Front-end specs for a volume of size_gb (new object): the specs when the
 * consumer is front-end or both — X_per_gb replaced by X = max(X_per_gb *
 * size, X_per_gb_min) — else JSON null.  NULL: ENOMEM. */
json_t *vqos_frontend(const json_t *specs, enum vqos_consumer c, int64_t size_gb);
/* Back-end metadata for a volume of size_gb (new object): every librbd key
 * ("conf_rbd_qos_iops_limit", ..._bps_limit, read/write variants and their
 * _burst) as decimal text, "0" (no limit) where the specs set none or the
 * consumer is front-end, so applying it also clears earlier limits.
 * NULL: ENOMEM. */
json_t *vqos_backend(const json_t *specs, enum vqos_consumer c, int64_t size_gb);

#endif
