/* workpool.h — a fixed pool of worker threads for long operations (imports,
 * clones, flattens, deletes) so request handlers can answer 202 at once.
 * Jobs may hold a lease that the pool's keeper renews until the job ends. */
#ifndef STRATA_WORKPOOL_H
#define STRATA_WORKPOOL_H

#include <stddef.h>
#include <stdint.h>

struct st_workpool;
struct st_meta;
struct st_meta_kind;

typedef void (*st_job_fn)(void *arg);

/* nthreads workers, at most queue_max queued jobs (0 = unbounded). */
int st_workpool_create(unsigned nthreads, size_t queue_max, struct st_workpool **out);
/* Queue a job: -EAGAIN if the queue is full, -ESHUTDOWN once stopping. */
int st_workpool_submit(struct st_workpool *p, st_job_fn fn, void *arg);
/* Queue a job whose lease on (k, id) — already acquired by owner — is renewed
 * every ttl_ms/3 while it runs and released when it returns.  If the pool is
 * destroyed before the job starts, the job is dropped: fn never runs, the
 * lease is left to expire (or to the next incarnation of owner's node) so a
 * reconcile resumes the operation, and drop (optional) is called with arg so
 * it can free it.  -EINVAL, -EAGAIN, -ESHUTDOWN, -ENOMEM as for submit. */
int st_workpool_submit_leased(struct st_workpool *p, struct st_meta *m,
                              const struct st_meta_kind *k, const char *id, const char *owner,
                              int64_t ttl_ms, st_job_fn fn, st_job_fn drop, void *arg);
/* Jobs queued or running. */
size_t st_workpool_pending(struct st_workpool *p);
/* Stop taking jobs; drop the queued leased jobs; finish the running ones and
 * the other queued ones; join the threads. */
void st_workpool_destroy(struct st_workpool *p);

/* Milliseconds since the epoch (CLOCK_REALTIME) — for leases across hosts. */
int64_t st_now_ms(void);

#endif
