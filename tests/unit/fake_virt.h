/* fake_virt.h — the compute agent's libvirt seam (compute/virt.h) for unit
 * tests: domains kept here (id, host, cluster, power state, the XML it was
 * defined with) and ceph secrets, with virt.c's rules (destroy, shutdown and
 * undefine of a missing domain succeed; start and power_state are -ENOENT).
 * Wrapped at link time (mock.h). */
#ifndef STRATA_TEST_FAKE_VIRT_H
#define STRATA_TEST_FAKE_VIRT_H

#include <stdbool.h>

void fake_virt_reset(void);
/* A domain defined outside the test's code (state "running" or "shutoff"). */
void fake_virt_add(const char *id, const char *host, const char *cluster, const char *state);
/* The domain's power state, or NULL when there is no such domain. */
const char *fake_virt_state(const char *id);
/* The XML the domain was last defined with (NULL if none). */
const char *fake_virt_xml(const char *id);
/* The next call of function fn (e.g. "virt_list") fails with rc. */
void fake_virt_fail(const char *fn, int rc);
/* Ceph secrets defined now. */
unsigned fake_virt_secrets(void);

#endif
