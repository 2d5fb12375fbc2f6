/* rbd_io.h — imaged's data path on librbd: a streaming writer (several AIO
 * writes in flight, all-zero blocks skipped, md5 + sha512 computed on their own
 * threads off the I/O path) and a read-ahead reader for downloads.  The
 * image-level operations (snapshot, clone, remove...) are in strata/rbd.h.
 * No JSON, no HTTP here. */
#ifndef IMAGED_RBD_IO_H
#define IMAGED_RBD_IO_H

#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IMG_SNAP_NAME "snap"

struct img_writer;
struct st_bufpool;

struct img_writer_config {
    size_t block_size;     /* bytes per AIO write unit, default 4 MiB (object size) */
    unsigned inflight;     /* AIO writes in flight, default 8 */
    size_t zero_granule;   /* zero detection granularity, default 64 KiB */
    bool hash;             /* compute md5 + sha512 */
    struct st_bufpool *pool; /* buffers from here (block_size = the pool's); NULL: malloc */
    int pool_wait_ms;      /* how long to wait for the pool's buffers */
};

/* Create RBD image `name` in ioctx and open a writer on it.  size_hint: the
 * final size when known (the image is created at that size), or -1 when
 * unknown (created at max_size, thin, and shrunk once at finish — never grown
 * repeatedly).  -EEXIST if the image exists. */
int img_writer_create(rados_ioctx_t ioctx, const char *name, int64_t size_hint,
                      uint64_t max_size, const struct img_writer_config *cfg,
                      struct img_writer **out);
/* Append data (any length).  Blocks when `inflight` writes are pending
 * (back-pressure).  -EFBIG past max_size / the declared size; -EIO etc. from
 * librbd (the first error sticks: later calls return it). */
int img_writer_write(struct img_writer *w, const char *buf, size_t len);
/* Flush the tail, wait for every write, resize to the bytes written, close.
 * md5_hex (33 bytes) / sha512_hex (129 bytes) filled when hashing.  Returns 0
 * or the first error.  bytes_written is set in both cases. */
int img_writer_finish(struct img_writer *w, uint64_t *bytes_written,
                      char *md5_hex, char *sha512_hex);
/* Abandon: wait for in-flight writes, close and REMOVE the RBD image. */
void img_writer_abort(struct img_writer *w);
void img_writer_destroy(struct img_writer *w);  /* after finish or abort */
/* Bytes the writer actually sent to the OSDs (zero blocks skipped), for tests/bench. */
uint64_t img_writer_bytes_sent(const struct img_writer *w);

/* Streaming reader with read-ahead (AIO, `depth` blocks of block_size ahead),
 * for downloads of [offset, offset+length). */
struct img_reader;
struct st_bufpool;
/* Read-ahead buffers come from pool (its buffer size is the read unit; the
 * wait as for the writer), or from malloc when pool is NULL. */
int img_reader_open(rados_ioctx_t ioctx, const char *name, const char *snap,
                    uint64_t offset, uint64_t length, struct st_bufpool *pool, int pool_wait_ms,
                    struct img_reader **out);
/* Copy up to max bytes of the next data into buf: count, 0 at end, -errno. */
ssize_t img_reader_read(struct img_reader *r, char *buf, size_t max);
void img_reader_close(struct img_reader *r);

#endif
