/* inspect.h — a pure look at an upload's header before qemu-img ever opens it
 * (like Glance's format_inspector): refuses the formats and header fields that
 * make qemu-img open other files (backing files, external data files, extent
 * files) or that nothing here supports, so `qemu-img info` only sees safe data. */
#ifndef IMAGED_INSPECT_H
#define IMAGED_INSPECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read up to len bytes at off into buf: the count (short at the end of the
 * data, 0 past it) or -errno. */
typedef ssize_t (*img_read_fn)(void *ctx, uint64_t off, void *buf, size_t len);

/* Inspect the data `read` returns.  0 when nothing is refused (including
 * data of no format it knows: raw), -EINVAL with a message fit for a 400
 * reply, or the reader's -errno. */
int img_inspect(img_read_fn read, void *ctx, char *msg, size_t msglen);

/* The same for a file (never a FIFO's or a device's data: those are left to
 * qemu-img's deadline).  -errno when it cannot be opened or read. */
int img_inspect_file(const char *path, char *msg, size_t msglen);

#endif
