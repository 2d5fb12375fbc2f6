/* workpool.c — fixed worker threads fed by one FIFO queue (mutex + condvars),
 * plus a keeper thread that renews the lease of every leased job from submit
 * until the job returns (every ttl/3), then the worker releases the lease.
 * At destroy, leased jobs not yet started are
 * dropped with their leases left in place, for the reconcile of the next start
 * (or of another instance). */
#include "strata/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata/log.h"
#include "strata/meta.h"

/* A lease the keeper keeps alive for one job. */
struct held_lease {
    struct st_meta *m;
    const struct st_meta_kind *k;
    char id[ST_META_ID_MAX + 1];
    char owner[sizeof(((struct st_lease *)0)->owner)];
    int64_t ttl_ms;
    int64_t due_ms; /* next renewal, monotonic ms */
    bool renewing;  /* keeper is renewing it right now (unlocked) */
    bool lost;      /* renewal said -ESTALE: someone else holds it */
    struct held_lease *next;
};

struct job {
    st_job_fn fn;
    st_job_fn drop; /* instead of fn when dropped at destroy (optional) */
    void *arg;
    struct held_lease *lease;
    struct job *next;
};

struct st_workpool {
    pthread_mutex_t mu;
    pthread_cond_t work;      /* workers: a job was queued, or stopping */
    pthread_cond_t keeper_cv; /* keeper: leases changed, or stop (monotonic) */
    pthread_cond_t renewed;   /* a worker waits for an in-flight renewal */
    struct job *head, *tail;
    size_t queued, running, queue_max;
    bool stopping, keeper_stop;
    struct held_lease *leases;
    pthread_t *threads;
    unsigned nthreads, started;
    pthread_t keeper;
    bool keeper_started;
};

int64_t st_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t renew_period(const struct held_lease *l)
{
    return l->ttl_ms / 3 > 0 ? l->ttl_ms / 3 : 1;
}

/* Renew one due lease with the pool unlocked; called and returns locked. */
static void keeper_renew(struct st_workpool *p, struct held_lease *l)
{
    int64_t period = renew_period(l);
    int rc;

    l->renewing = true;
    pthread_mutex_unlock(&p->mu);
    rc = st_lease_renew(l->m, l->k, l->id, l->owner, st_now_ms(), l->ttl_ms);
    pthread_mutex_lock(&p->mu);
    l->renewing = false;
    /* Cluster trouble: retry sooner, the lease still has 2/3 of its ttl. */
    l->due_ms = mono_ms() + (rc < 0 && rc != -ESTALE ? (period + 1) / 2 : period);
    if (rc == -ESTALE) {
        l->lost = true;
        st_error("workpool: LEASE LOST on %s/%s by %s: another owner took it; "
                 "the running job no longer owns its record",
                 l->k->name, l->id, l->owner);
    } else if (rc < 0) {
        st_warn("workpool: renewing lease %s/%s failed: %s; retrying", l->k->name, l->id,
                strerror(-rc));
    }
    pthread_cond_broadcast(&p->renewed);
}

static void *keeper_main(void *arg)
{
    struct st_workpool *p = arg;

    pthread_mutex_lock(&p->mu);
    while (!p->keeper_stop) {
        int64_t now = mono_ms(), wake = INT64_MAX;
        struct held_lease *due = NULL;

        for (struct held_lease *l = p->leases; l && !due; l = l->next) {
            if (l->lost)
                continue;
            if (l->due_ms <= now)
                due = l;
            else if (l->due_ms < wake)
                wake = l->due_ms;
        }
        if (due) {
            keeper_renew(p, due);
        } else if (wake == INT64_MAX) {
            pthread_cond_wait(&p->keeper_cv, &p->mu);
        } else {
            struct timespec ts = {.tv_sec = wake / 1000, .tv_nsec = (wake % 1000) * 1000000};
            pthread_cond_timedwait(&p->keeper_cv, &p->mu, &ts);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* After a leased job: stop renewing (waiting out a renewal in flight), release. */
static void lease_finish(struct st_workpool *p, struct held_lease *l)
{
    int rc = 0;

    pthread_mutex_lock(&p->mu);
    for (struct held_lease **pp = &p->leases; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    while (l->renewing)
        pthread_cond_wait(&p->renewed, &p->mu);
    pthread_mutex_unlock(&p->mu);
    if (!l->lost)
        rc = st_lease_release(l->m, l->k, l->id, l->owner);
    if (rc < 0)
        st_warn("workpool: releasing lease %s/%s: %s", l->k->name, l->id, strerror(-rc));
    free(l);
}

static void *worker_main(void *arg)
{
    struct st_workpool *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct job *j;

        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->work, &p->mu);
        j = p->head;
        if (!j)
            break; /* stopping and drained */
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        j->fn(j->arg);
        if (j->lease)
            lease_finish(p, j->lease);
        free(j);
        pthread_mutex_lock(&p->mu);
        p->running--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int st_workpool_create(unsigned nthreads, size_t queue_max, struct st_workpool **out)
{
    struct st_workpool *p;
    pthread_condattr_t ca;
    int rc;

    if (!nthreads || !out)
        return -EINVAL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->threads = calloc(nthreads, sizeof(*p->threads));
    if (!p->threads) {
        free(p);
        return -ENOMEM;
    }
    p->nthreads = nthreads;
    p->queue_max = queue_max;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->renewed, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->keeper_cv, &ca);
    pthread_condattr_destroy(&ca);

    rc = -pthread_create(&p->keeper, NULL, keeper_main, p);
    p->keeper_started = rc == 0;
    while (rc == 0 && p->started < nthreads) {
        rc = -pthread_create(&p->threads[p->started], NULL, worker_main, p);
        if (rc == 0)
            p->started++;
    }
    if (rc < 0) {
        st_error("workpool: cannot start threads: %s", strerror(-rc));
        st_workpool_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* Queue j (and register its lease) unless full or stopping. */
static int enqueue(struct st_workpool *p, struct job *j)
{
    int rc = 0;

    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        rc = -ESHUTDOWN;
    } else if (p->queue_max && p->queued >= p->queue_max) {
        rc = -EAGAIN;
    } else {
        if (p->tail)
            p->tail->next = j;
        else
            p->head = j;
        p->tail = j;
        p->queued++;
        pthread_cond_signal(&p->work);
        if (j->lease) {
            j->lease->next = p->leases;
            p->leases = j->lease;
            pthread_cond_signal(&p->keeper_cv);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int st_workpool_submit(struct st_workpool *p, st_job_fn fn, void *arg)
{
    struct job *j;
    int rc;

    if (!p || !fn)
        return -EINVAL;
    j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->fn = fn;
    j->arg = arg;
    rc = enqueue(p, j);
    if (rc < 0)
        free(j);
    return rc;
}

int st_workpool_submit_leased(struct st_workpool *p, struct st_meta *m,
                              const struct st_meta_kind *k, const char *id, const char *owner,
                              int64_t ttl_ms, st_job_fn fn, st_job_fn drop, void *arg)
{
    struct held_lease *l = NULL;
    struct job *j = NULL;
    int rc = -ENOMEM;

    if (!p || !m || !k || !k->name || !id || !owner || !fn || ttl_ms <= 0 ||
        strlen(id) > ST_META_ID_MAX || strlen(owner) >= sizeof(l->owner))
        return -EINVAL;
    l = calloc(1, sizeof(*l));
    j = calloc(1, sizeof(*j));
    if (l && j) {
        l->m = m;
        l->k = k;
        snprintf(l->id, sizeof(l->id), "%s", id);
        snprintf(l->owner, sizeof(l->owner), "%s", owner);
        l->ttl_ms = ttl_ms;
        l->due_ms = mono_ms() + renew_period(l);
        j->fn = fn;
        j->drop = drop;
        j->arg = arg;
        j->lease = l;
        rc = enqueue(p, j);
    }
    if (rc < 0) {
        free(l);
        free(j);
    }
    return rc;
}

size_t st_workpool_pending(struct st_workpool *p)
{
    size_t n;

    if (!p)
        return 0;
    pthread_mutex_lock(&p->mu);
    n = p->queued + p->running;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* Take the leased jobs out of the queue and their leases off the
 * keeper's list (locked); returns them as a list. */
static struct job *unqueue_leased(struct st_workpool *p)
{
    struct job *dropped = NULL, **pp = &p->head;

    p->tail = NULL;
    while (*pp) {
        struct job *j = *pp;

        if (!j->lease) {
            p->tail = j;
            pp = &j->next;
            continue;
        }
        *pp = j->next;
        p->queued--;
        for (struct held_lease **lp = &p->leases; *lp; lp = &(*lp)->next) {
            if (*lp == j->lease) {
                *lp = j->lease->next;
                break;
            }
        }
        j->next = dropped;
        dropped = j;
    }
    return dropped;
}

void st_workpool_destroy(struct st_workpool *p)
{
    struct job *dropped;

    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    dropped = unqueue_leased(p);
    pthread_cond_broadcast(&p->work);
    /* The keeper may be renewing one of them unlocked right now. */
    for (struct job *j = dropped; j; j = j->next)
        while (j->lease->renewing)
            pthread_cond_wait(&p->renewed, &p->mu);
    pthread_mutex_unlock(&p->mu);
    while (dropped) {
        struct job *j = dropped;

        dropped = j->next;
        st_info("workpool: stopping: %s/%s left queued to the reconcile, its lease kept",
                j->lease->k->name, j->lease->id);
        if (j->drop)
            j->drop(j->arg);
        free(j->lease);
        free(j);
    }
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);

    pthread_mutex_lock(&p->mu);
    p->keeper_stop = true;
    pthread_cond_signal(&p->keeper_cv);
    pthread_mutex_unlock(&p->mu);
    if (p->keeper_started)
        pthread_join(p->keeper, NULL);

    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->keeper_cv);
    pthread_cond_destroy(&p->renewed);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}
