/* bufpool.h — a pool of fixed-size, page-aligned I/O buffers, mapped on first
 * use and reused for the daemon's life, so data-path memory is bounded by
 * config instead of growing with each request (malloc arenas keep large frees). */
#ifndef STRATA_BUFPOOL_H
#define STRATA_BUFPOOL_H

#include <stddef.h>

struct st_bufpool;

/* A pool of at most max_bufs buffers of buf_size bytes each (none mapped yet). */
int st_bufpool_create(size_t buf_size, unsigned max_bufs, struct st_bufpool **out);
/* Unmaps every buffer: all must have been put back. */
void st_bufpool_destroy(struct st_bufpool *p);
/* Take n buffers at once (all or none, so takers cannot deadlock each other),
 * waiting up to timeout_ms for others to put theirs back: 0, -EINVAL (n is 0
 * or more than the pool holds), -ETIMEDOUT, -ENOMEM (mmap failed). */
int st_bufpool_get(struct st_bufpool *p, unsigned n, int timeout_ms, void **bufs);
void st_bufpool_put(struct st_bufpool *p, unsigned n, void **bufs);
size_t st_bufpool_buf_size(const struct st_bufpool *p);
/* Buffers mapped so far and how many of them are free now. */
void st_bufpool_stats(struct st_bufpool *p, unsigned *mapped, unsigned *free_now);

/* Cap glibc's per-thread malloc arenas (each keeps its threads' frees); every
 * daemon calls it once, before its threads start. */
void st_malloc_tune(void);

#endif
