/* hvprobe.h — which hypervisor really works here: boot a 512-byte guest under
 * KVM through libvirt, bounded, and compare with TCG; a KVM that fails or lags is not used. */
#ifndef COMPUTE_HVPROBE_H
#define COMPUTE_HVPROBE_H

#include <stddef.h>
#include <stdint.h>

struct virt;

/* Decide the domain type for `mode` ("auto", "kvm" or "qemu") into type
 * ("kvm"/"qemu"), with the reason in why.  auto runs the probe (its verdict
 * is cached in dir per boot id and libvirt version).  0 or -errno. */
int hv_choose(struct virt *v, const char *mode, const char *dir, int64_t timeout_ms,
              char *type, size_t tlen, char *why, size_t wlen);

/* The probe's boot sector (a real-mode program printing the marker on COM1
 * and halting) — exposed for tests. */
extern const unsigned char hv_probe_sector[512];
#define HV_PROBE_MARKER "STRATA-KVM-OK"

#endif
