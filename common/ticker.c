/* ticker.c — a periodic thread: sleeps on a condition variable for the
 * interval (so a stop wakes it at once), calls its function, repeats. */
#include "strata/ticker.h"

#include <errno.h>
#include <time.h>

static void *tick_loop(void *arg)
{
    struct st_ticker *t = arg;

    int64_t wait_ms = t->first_ms;

    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (wait_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (!t->stopping && pthread_cond_timedwait(&t->cond, &t->lock, &until) == 0)
            ;
        if (t->stopping)
            break;
        pthread_mutex_unlock(&t->lock);
        t->fn(t->arg);
        wait_ms = t->interval_ms;
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int st_ticker_start(struct st_ticker *t, int64_t interval_ms, void (*fn)(void *arg), void *arg)
{
    return st_ticker_start_after(t, interval_ms, interval_ms, fn, arg);
}

int st_ticker_start_after(struct st_ticker *t, int64_t first_ms, int64_t interval_ms,
                          void (*fn)(void *arg), void *arg)
{
    int rc;

    if (!fn || interval_ms <= 0 || first_ms < 0)
        return -EINVAL;
    *t = (struct st_ticker){ .first_ms = first_ms, .interval_ms = interval_ms, .fn = fn,
                             .arg = arg };
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    rc = pthread_create(&t->thread, NULL, tick_loop, t);
    if (rc != 0) {
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
        return -rc;
    }
    t->started = true;
    return 0;
}

void st_ticker_stop(struct st_ticker *t)
{
    if (!t->started)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    t->started = false;
}
