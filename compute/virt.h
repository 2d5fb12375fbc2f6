/* virt.h — the agent's libvirt I/O: one connection (reopened if it dies),
 * Strata domains addressed by server id, disks, <iotune>, the ceph secret. */
#ifndef COMPUTE_VIRT_H
#define COMPUTE_VIRT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct virt;

/* Connect to `uri` within timeout_ms.  libvirt's event loop runs in a thread
 * of its own, with keepalive: a libvirtd that answers nothing for timeout_ms
 * fails the calls in flight, and later calls fail at once (-ECONNREFUSED)
 * while a background thread reconnects. */
int virt_open(const char *uri, int64_t timeout_ms, struct virt **out);
void virt_close(struct virt *v);

/* Define (or redefine) a persistent domain from XML. */
int virt_define(struct virt *v, const char *xml);
/* Boot a defined domain; 0 if it already runs, -ENOENT if not defined. */
int virt_start(struct virt *v, const char *id);
/* Power off at once; 0 if it is not running or not defined. */
int virt_destroy(struct virt *v, const char *id);
/* ACPI shutdown, waiting up to timeout_ms, then power off. */
int virt_shutdown(struct virt *v, const char *id, int64_t timeout_ms);
/* Remove the definition (the domain must be off); 0 if not defined. */
int virt_undefine(struct virt *v, const char *id);
/* "running", "paused", "shutdown", "shutoff", "crashed", "pmsuspended",
 * "nostate"; -ENOENT when no such domain. */
int virt_power_state(struct virt *v, const char *id, const char **state);
/* The domain's XML (live, or the persistent definition when inactive). */
int virt_xml(struct virt *v, const char *id, bool inactive, char **out);

/* Hot-plug a disk (live when the guest runs) and keep it in the definition. */
int virt_attach_disk(struct virt *v, const char *id, const char *disk_xml);
/* Unplug the disk whose target is `target`; waits up to timeout_ms for the
 * guest to release it (-ETIMEDOUT), and drops it from the definition.
 * 0 if no such disk. */
int virt_detach_disk(struct virt *v, const char *id, const char *target, int64_t timeout_ms);
/* Live <iotune> (qos_specs keys; missing keys = unlimited) and size. */
int virt_set_iotune(struct virt *v, const char *id, const char *target, const json_t *qos);
int virt_resize_disk(struct virt *v, const char *id, const char *target, uint64_t bytes);

/* Every domain carrying the agent's metadata: array of
 * {"id", "host", "project_id", "cluster", "power_state"}. */
int virt_list(struct virt *v, json_t **out);

/* The ceph secret: define it with `key` (raw bytes) if missing or different. */
int virt_secret_ensure(struct virt *v, const char *uuid, const char *user,
                       const unsigned char *key, size_t keylen);
/* Remove it unless some domain of this libvirtd still refers to it. */
int virt_secret_release(struct virt *v, const char *uuid);
bool virt_secret_exists(struct virt *v, const char *uuid);

/* Hypervisor facts: CPU model and arch of the host (from capabilities). */
int virt_host_cpu(struct virt *v, char *model, size_t mlen, char *arch, size_t alen);

/* Run a transient domain from XML; destroy it. For the KVM probe. */
int virt_create_transient(struct virt *v, const char *xml);
int virt_destroy_by_name(struct virt *v, const char *name);

/* The message of libvirt's last error on this thread ("" if none). */
const char *virt_last_error(void);

#endif
