/* bufpool.c — fixed-size I/O buffers mapped once and reused (see bufpool.h),
 * and the malloc settings that keep a daemon's other large buffers returnable. */
#include "strata/bufpool.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

struct st_bufpool {
    size_t size;
    unsigned max, mapped, nfree;
    void **all;   /* every mapped buffer (for destroy) */
    void **free;  /* stack of free ones */
    pthread_mutex_t mu;
    pthread_cond_t cond;
};

int st_bufpool_create(size_t buf_size, unsigned max_bufs, struct st_bufpool **out)
{
    struct st_bufpool *p;
    pthread_condattr_t ca;

    if (!buf_size || !max_bufs || !out)
        return -EINVAL;
    if (!(p = calloc(1, sizeof(*p))))
        return -ENOMEM;
    p->size = buf_size;
    p->max = max_bufs;
    p->all = calloc(max_bufs, sizeof(*p->all));
    p->free = calloc(max_bufs, sizeof(*p->free));
    if (!p->all || !p->free) {
        free(p->all);
        free(p->free);
        free(p);
        return -ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    *out = p;
    return 0;
}

void st_bufpool_destroy(struct st_bufpool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->mapped; i++)
        munmap(p->all[i], p->size);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p->all);
    free(p->free);
    free(p);
}

/* With p->mu held: map buffers until n are free or the pool is full. */
static int map_more(struct st_bufpool *p, unsigned n)
{
    while (p->nfree < n && p->mapped < p->max) {
        void *b = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (b == MAP_FAILED)
            return -ENOMEM;
        p->all[p->mapped++] = b;
        p->free[p->nfree++] = b;
    }
    return 0;
}

int st_bufpool_get(struct st_bufpool *p, unsigned n, int timeout_ms, void **bufs)
{
    struct timespec until;
    int rc = 0;

    if (!p || !bufs || n == 0 || n > p->max)
        return -EINVAL;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while ((rc = map_more(p, n)) == 0 && p->nfree < n)
        if (pthread_cond_timedwait(&p->cond, &p->mu, &until) == ETIMEDOUT) {
            rc = p->nfree >= n ? 0 : -ETIMEDOUT;
            break;
        }
    if (rc == 0)
        for (unsigned i = 0; i < n; i++)
            bufs[i] = p->free[--p->nfree];
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void st_bufpool_put(struct st_bufpool *p, unsigned n, void **bufs)
{
    if (!p || !bufs)
        return;
    pthread_mutex_lock(&p->mu);
    for (unsigned i = 0; i < n; i++)
        if (bufs[i])
            p->free[p->nfree++] = bufs[i];
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

size_t st_bufpool_buf_size(const struct st_bufpool *p)
{
    return p ? p->size : 0;
}

void st_bufpool_stats(struct st_bufpool *p, unsigned *mapped, unsigned *free_now)
{
    pthread_mutex_lock(&p->mu);
    if (mapped)
        *mapped = p->mapped;
    if (free_now)
        *free_now = p->nfree;
    pthread_mutex_unlock(&p->mu);
}

void st_malloc_tune(void)
{
    /* Only the arena count: a few per daemon instead of 8 per core, each of
     * which keeps what its threads freed.  The mmap threshold stays dynamic —
     * fixing it (or the trim threshold, which also fixes it) makes librados'
     * 4 MiB buffers an mmap + munmap + page faults each: downloads fell from
     * ~670 to ~175 MB/s when it was tried. */
    mallopt(M_ARENA_MAX, 4);
}
