/* fake_work.c — fake_work.h: a FIFO of submitted jobs run on demand, with the
 * pool's lease release after each leased job, and a settable clock. */
#include "fake_work.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "mock.h"
#include "strata/meta.h"
#include "strata/workpool.h"

struct fjob {
    struct fjob *next;
    st_job_fn fn;
    void *arg;
    struct st_meta *m; /* leased jobs */
    const struct st_meta_kind *k;
    char id[ST_META_ID_MAX + 1];
    char owner[128];
};

static struct fjob *head, **tail = &head;
static size_t pending;
static int64_t now_ms = FAKE_EPOCH_MS;
static int fail_rc;
static char last_id[ST_META_ID_MAX + 1], last_kind[64];

void fake_clock_set(int64_t ms)
{
    now_ms = ms;
}

void fake_clock_advance(int64_t ms)
{
    now_ms += ms;
}

ST_WRAP(st_now_ms, int64_t, (void))
{
    return now_ms;
}

void fake_work_reset(void)
{
    fake_work_run();
    now_ms = FAKE_EPOCH_MS;
    fail_rc = 0;
    last_id[0] = last_kind[0] = '\0';
}

void fake_work_fail_next(int rc)
{
    fail_rc = rc;
}

size_t fake_work_pending(void)
{
    return pending;
}

const char *fake_work_last_id(void)
{
    return last_id;
}

const char *fake_work_last_kind(void)
{
    return last_kind;
}

static int queue(struct fjob *j)
{
    if (fail_rc) {
        int rc = fail_rc;
        fail_rc = 0;
        free(j);
        return rc;
    }
    *tail = j;
    tail = &j->next;
    pending++;
    return 0;
}

ST_WRAP(st_workpool_submit, int, (struct st_workpool * p, st_job_fn fn, void *arg))
{
    struct fjob *j = calloc(1, sizeof(*j));

    if (!j)
        return -ENOMEM;
    j->fn = fn;
    j->arg = arg;
    return queue(j);
}

ST_WRAP(st_workpool_submit_leased, int,
        (struct st_workpool * p, struct st_meta *m, const struct st_meta_kind *k, const char *id,
         const char *owner, int64_t ttl_ms, st_job_fn fn, st_job_fn drop, void *arg))
{
    struct fjob *j = calloc(1, sizeof(*j));

    if (!j)
        return -ENOMEM;
    j->fn = fn;
    j->arg = arg;
    j->m = m;
    j->k = k;
    snprintf(j->id, sizeof(j->id), "%s", id);
    snprintf(j->owner, sizeof(j->owner), "%s", owner);
    int rc = queue(j);
    if (rc == 0) {
        snprintf(last_id, sizeof(last_id), "%s", id);
        snprintf(last_kind, sizeof(last_kind), "%s", k->name);
    }
    return rc;
}

size_t fake_work_run(void)
{
    size_t n = 0;

    while (head) {
        struct fjob *j = head;
        head = j->next;
        if (!head)
            tail = &head;
        pending--;
        j->fn(j->arg);
        if (j->m)
            st_lease_release(j->m, j->k, j->id, j->owner);
        free(j);
        n++;
    }
    return n;
}
