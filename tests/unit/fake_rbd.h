/* fake_rbd.h — in-memory RBD pools for unit tests: the st_rbd_* calls of
 * common/rbd.h and librbd's open/close/metadata calls answer from images
 * kept here (size, snapshots with protection, parent links so clones pin
 * their parent's snapshot, metadata, creation time), with the errnos the real
 * ones return.  Wrapped at link time (mock.h); any non-NULL pointer (e.g.
 * fake_rados_ioctx) names a pool. */
#ifndef STRATA_TEST_FAKE_RBD_H
#define STRATA_TEST_FAKE_RBD_H

#include <rados/librados.h>
#include <stdbool.h>
#include <stdint.h>

/* Forget every image and pool mark. */
void fake_rbd_reset(void);
/* Add image name of size bytes, created at created_secs (an existing one: -EEXIST). */
int fake_rbd_add(rados_ioctx_t io, const char *name, uint64_t size, int64_t created_secs);
bool fake_rbd_exists(rados_ioctx_t io, const char *name);
bool fake_rbd_snap_exists(rados_ioctx_t io, const char *name, const char *snap);
/* The image's librbd metadata value of key (NULL if none). */
const char *fake_rbd_meta(rados_ioctx_t io, const char *name, const char *key);
/* The next call of function fn (e.g. "st_rbd_remove") fails with rc. */
void fake_rbd_fail(const char *fn, int rc);
/* Calls of st_rbd_* functions so far. */
unsigned fake_rbd_calls(void);

#endif
