/* rbd.h — RBD image operations shared by the daemons: create, size, resize,
 * snapshots, copy-on-write clones, flatten, parent chain, children, removal,
 * rename and listing.  Each call opens the image for just the call; 0 or -errno. */
#ifndef STRATA_RBD_H
#define STRATA_RBD_H

#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Create image `name` of `size` bytes with librbd's defaults (the cluster's
 * rbd default features, default order 22 = 4 MiB objects).  -EEXIST if an
 * image of that name exists. */
int st_rbd_create(rados_ioctx_t ioctx, const char *name, uint64_t size);
/* The same with the caller's image options (order, features...). */
int st_rbd_create_opts(rados_ioctx_t ioctx, const char *name, uint64_t size,
                       rbd_image_options_t opts);
/* Size of an image (at snap if non-NULL): -ENOENT if missing. */
int st_rbd_size(rados_ioctx_t ioctx, const char *name, const char *snap, uint64_t *size);
/* Set the image's size to `size` (grow, or no change; shrinking is refused
 * with -EINVAL so no data is ever cut off).  -ENOENT if missing. */
int st_rbd_resize(rados_ioctx_t ioctx, const char *name, uint64_t size);

/* Create snapshot `snap` of `name` (an existing snapshot is fine) and, when
 * `protect`, protect it (an already protected one is fine).  -ENOENT if the
 * image is missing. */
int st_rbd_snap_create(rados_ioctx_t ioctx, const char *name, const char *snap, bool protect);
/* Create snapshot `snap` and protect it (idempotent: an existing protected
 * snapshot is fine). */
int st_rbd_snap_protect(rados_ioctx_t ioctx, const char *name, const char *snap);
/* Remove snapshot `snap`, unprotecting it first if protected.  -EBUSY (and
 * nothing removed) while it has clones, live or in the trash; -ENOENT if the
 * image or the snapshot is missing. */
int st_rbd_snap_remove(rados_ioctx_t ioctx, const char *name, const char *snap);
/* Roll the image's head back to snapshot `snap` (its data since is lost).
 * -ENOENT if the image or the snapshot is missing. */
int st_rbd_rollback(rados_ioctx_t ioctx, const char *name, const char *snap);

/* COW clone of parent@snap into dst_ioctx/dst_name (the cluster's default
 * features), then grow it to `size` if that is larger (0 = the parent's size,
 * no resize).  Cost independent of the parent's size. */
int st_rbd_clone(rados_ioctx_t parent_ioctx, const char *parent, const char *snap,
                 rados_ioctx_t dst_ioctx, const char *dst_name, uint64_t size);
/* Copy every block the clone still shares with its parent, so it no longer
 * depends on it (cost proportional to the data).  -EINVAL if it has no parent. */
int st_rbd_flatten(rados_ioctx_t ioctx, const char *name);
/* Called before each object-sized piece a paced flatten copies (bytes of it):
 * returns once the piece may go (0), or -errno to stop the flatten. */
typedef int (*st_rbd_pace_fn)(void *arg, uint64_t bytes);
/* st_rbd_flatten at a pace: the clone's borrowed objects are read through it
 * and written back one at a time, each after pace() (all-zero ones are not
 * written), then the parent link is dropped.  Only for an image nobody else
 * writes meanwhile (a volume still being created).  pace NULL: st_rbd_flatten. */
int st_rbd_flatten_paced(rados_ioctx_t ioctx, const char *name, st_rbd_pace_fn pace, void *arg);
/* How many ancestors the image has: 0 = no parent, 1 = a clone, 2 = a clone
 * of a clone, ...  Parents in other pools are followed. */
int st_rbd_parent_depth(rados_ioctx_t ioctx, const char *name, unsigned *depth);
/* Number of live clones (children) of name@snap across pools (trash excluded). */
int st_rbd_children(rados_ioctx_t ioctx, const char *name, const char *snap, size_t *count);

/* Remove an image completely: unprotect + remove snapshots, then remove.
 * -ENOENT if missing (callers treat as done), -EBUSY if it still has clones. */
int st_rbd_remove(rados_ioctx_t ioctx, const char *name);
/* Rename image from → to in its pool: -ENOENT (no `from`), -EEXIST (`to` taken). */
int st_rbd_rename(rados_ioctx_t ioctx, const char *from, const char *to);
/* The name of the image whose RBD id is `id` (buf of len bytes): -ENOENT if none. */
int st_rbd_name_by_id(rados_ioctx_t ioctx, const char *id, char *buf, size_t len);
/* When the image was created (seconds since the epoch). */
int st_rbd_created(rados_ioctx_t ioctx, const char *name, int64_t *secs);
/* The pool's "in use by us since" mark, rbd pool metadata `key`: written as
 * `now` (seconds) on the first call, read back ever after.  Images created
 * before it were made by someone else. */
int st_rbd_pool_since(rados_ioctx_t ioctx, const char *key, int64_t now, int64_t *since);
/* How many snapshots the image has. */
int st_rbd_snap_count(rados_ioctx_t ioctx, const char *name, size_t *count);
/* How many clients watch the image (have it open read-write). */
int st_rbd_watchers(rados_ioctx_t ioctx, const char *name, size_t *count);

/* Names of every image in the pool (malloc'd array of malloc'd strings). */
int st_rbd_list(rados_ioctx_t ioctx, char ***names, size_t *count);
void st_rbd_list_free(char **names, size_t count);

#endif
