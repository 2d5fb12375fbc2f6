/* ticker.h — a thread that calls a function every interval until stopped
 * (the daemons' periodic reconcile).  Stopping wakes it at once. */
#ifndef STRATA_TICKER_H
#define STRATA_TICKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct st_ticker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool started, stopping;
    int64_t first_ms, interval_ms;
    void (*fn)(void *arg);
    void *arg;
};

/* Call fn(arg) every interval_ms (first call after one interval): 0 or -errno. */
int st_ticker_start(struct st_ticker *t, int64_t interval_ms, void (*fn)(void *arg), void *arg);
/* The same with the first call after first_ms (0: at once, on the ticker's
 * thread — a start-up pass that must not hold up serving). */
int st_ticker_start_after(struct st_ticker *t, int64_t first_ms, int64_t interval_ms,
                          void (*fn)(void *arg), void *arg);
/* Stop and join (waits for a call in progress); safe on a ticker never started. */
void st_ticker_stop(struct st_ticker *t);

#endif
