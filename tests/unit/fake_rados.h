/* fake_rados.h — an in-memory RADOS omap for unit tests: the metadata store
 * (common/meta.c, meta_list.c, lease.c) runs unchanged on it, with real
 * compare-and-swap, leases and fenced writes, and no cluster.  The librados
 * calls it answers are wrapped at link time (mock.h); objects are keyed by
 * (ioctx, oid), and any non-NULL pointer serves as an ioctx. */
#ifndef STRATA_TEST_FAKE_RADOS_H
#define STRATA_TEST_FAKE_RADOS_H

#include <rados/librados.h>
#include <stddef.h>

/* Forget every object (call from each test's setup). */
void fake_rados_reset(void);
/* The next n read or write operations fail with rc (< 0) and change nothing. */
void fake_rados_fail(int rc, unsigned n);
/* Write operations run so far (a cheap "did it write?" probe). */
unsigned fake_rados_writes(void);
/* A distinct ioctx per small integer, for tests that need several pools. */
rados_ioctx_t fake_rados_ioctx(unsigned n);

#endif
