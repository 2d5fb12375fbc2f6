/* revoke.c — the token revocation list.  Events are omap entries of one
 * object (key "<issued_before ms>-<random>", value the event's JSON); each
 * daemon keeps a copy in memory, swapped whole under a lock, reloaded by its
 * own thread when the identity service notifies the object's watchers and at
 * least every refresh interval (so a lost watch costs seconds, not safety). */
#include "strata/revoke.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata/log.h"

#define PAGE 512
#define PENDING_MAX 32
#define KEY_LEN 40

struct pending_notify {
    uint64_t notify_id, handle;
};

struct st_revoke {
    rados_ioctx_t io;
    int64_t refresh_ms;

    pthread_mutex_t lock;   /* events, watch state, pending acks */
    pthread_cond_t cond;
    struct st_revoke_event *events;
    size_t nevents;
    bool stopping, started, reload_now, rewatch;
    uint64_t watch_handle;
    bool watching;
    struct pending_notify pending[PENDING_MAX];
    size_t npending;
    bool warned;            /* one warning per outage of the refresh */
    pthread_t thread;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- pure parts ---- */

static bool field_matches(const char *want, const char *have)
{
    return !want[0] || strcmp(want, have) == 0;
}

bool st_revoke_event_matches(const struct st_revoke_event *ev, const struct st_auth_ctx *ctx)
{
    if (!ev || !ctx || ctx->bootstrap)
        return false;
    if (!ev->audit_id[0] && !ev->user_id[0] && !ev->project_id[0] && !ev->role[0] &&
        !ev->app_cred_id[0])
        return false; /* an event naming nothing revokes nothing */
    if (ctx->issued_at_ms > ev->issued_before_ms)
        return false;
    if (!field_matches(ev->audit_id, ctx->audit_id) || !field_matches(ev->user_id, ctx->user_id) ||
        !field_matches(ev->project_id, ctx->project_id) ||
        !field_matches(ev->app_cred_id, ctx->app_cred_id))
        return false;
    return !ev->role[0] || st_auth_has_role(ctx, ev->role);
}

json_t *st_revoke_event_to_json(const struct st_revoke_event *ev)
{
    json_t *o = json_pack("{s:I, s:I}", "issued_before", (json_int_t)ev->issued_before_ms,
                          "expires", (json_int_t)ev->expires_ms);
    const struct {
        const char *name, *value;
    } f[] = {
        {"audit_id", ev->audit_id}, {"user_id", ev->user_id}, {"project_id", ev->project_id},
        {"role", ev->role},         {"app_cred_id", ev->app_cred_id},
    };

    for (size_t i = 0; o && i < sizeof(f) / sizeof(f[0]); i++) {
        if (f[i].value[0] && json_object_set_new(o, f[i].name, json_string(f[i].value)) < 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

static int copy_field(const json_t *v, const char *name, char *dst, size_t cap)
{
    const json_t *s = json_object_get(v, name);

    if (!s) {
        dst[0] = '\0';
        return 0;
    }
    if (!json_is_string(s) || json_string_length(s) >= cap)
        return -EINVAL;
    memcpy(dst, json_string_value(s), json_string_length(s) + 1);
    return 0;
}

int st_revoke_event_from_json(const json_t *v, struct st_revoke_event *out)
{
    struct st_revoke_event ev;
    const json_t *ib = json_object_get(v, "issued_before"), *ex = json_object_get(v, "expires");

    memset(&ev, 0, sizeof(ev));
    if (!json_is_object(v) || !json_is_integer(ib) || !json_is_integer(ex) ||
        copy_field(v, "audit_id", ev.audit_id, sizeof(ev.audit_id)) < 0 ||
        copy_field(v, "user_id", ev.user_id, sizeof(ev.user_id)) < 0 ||
        copy_field(v, "project_id", ev.project_id, sizeof(ev.project_id)) < 0 ||
        copy_field(v, "role", ev.role, sizeof(ev.role)) < 0 ||
        copy_field(v, "app_cred_id", ev.app_cred_id, sizeof(ev.app_cred_id)) < 0)
        return -EINVAL;
    ev.issued_before_ms = json_integer_value(ib);
    ev.expires_ms = json_integer_value(ex);
    *out = ev;
    return 0;
}

/* ---- reading the object ---- */

/* Visit every omap entry: fn(key, value, len, arg).  0 or -errno. */
typedef void (*entry_fn)(const char *key, const char *val, size_t len, void *arg);

static int read_all(rados_ioctx_t io, entry_fn fn, void *arg)
{
    char after[KEY_LEN + 1] = "";
    unsigned char more = 1;
    int rc = 0;

    while (more && rc == 0) {
        rados_read_op_t op = rados_create_read_op();
        rados_omap_iter_t it = NULL;
        int prval = 0;

        if (!op)
            return -ENOMEM;
        rados_read_op_omap_get_vals2(op, after, "", PAGE, &it, &more, &prval);
        rc = rados_read_op_operate(op, io, ST_REVOKE_OID, 0);
        if (rc == 0 && prval < 0)
            rc = prval;
        if (rc == 0) {
            char *key, *val;
            size_t len;
            more = more && rados_omap_iter_size(it) > 0;
            while (rados_omap_get_next(it, &key, &val, &len) == 0 && key) {
                fn(key, val, len, arg);
                snprintf(after, sizeof(after), "%s", key);
            }
        }
        if (it)
            rados_omap_get_end(it);
        rados_release_read_op(op);
    }
    return rc;
}

struct collect {
    struct st_revoke_event *ev;
    size_t n, cap;
    int err;
    int64_t now;
    /* for pruning */
    char (*expired)[KEY_LEN + 1];
    size_t nexpired, capexpired;
};

static void collect_entry(const char *key, const char *val, size_t len, void *arg)
{
    struct collect *c = arg;
    struct st_revoke_event ev;
    json_t *v = json_loadb(val, len, 0, NULL);
    int rc = st_revoke_event_from_json(v, &ev);

    json_decref(v);
    if (rc < 0) {
        st_warn("revocation list: entry %s is not an event: ignored", key);
        return;
    }
    if (c->expired && ev.expires_ms < c->now && strlen(key) <= KEY_LEN) {
        if (c->nexpired == c->capexpired) {
            size_t cap = c->capexpired ? c->capexpired * 2 : 16;
            void *p = realloc(c->expired, cap * sizeof(*c->expired));
            if (!p) {
                c->err = -ENOMEM;
                return;
            }
            c->expired = p;
            c->capexpired = cap;
        }
        snprintf(c->expired[c->nexpired++], KEY_LEN + 1, "%s", key);
        return;
    }
    if (ev.expires_ms < c->now)
        return; /* nothing it names is still valid */
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        void *p = realloc(c->ev, cap * sizeof(*c->ev));
        if (!p) {
            c->err = -ENOMEM;
            return;
        }
        c->ev = p;
        c->cap = cap;
    }
    c->ev[c->n++] = ev;
}

int st_revoke_refresh(struct st_revoke *rv)
{
    struct collect c = { .now = now_ms() };
    struct st_revoke_event *old;
    int rc = read_all(rv->io, collect_entry, &c);

    if (rc == 0)
        rc = c.err;
    if (rc < 0) {
        free(c.ev);
        return rc;
    }
    pthread_mutex_lock(&rv->lock);
    old = rv->events;
    rv->events = c.ev;
    rv->nevents = c.n;
    pthread_mutex_unlock(&rv->lock);
    free(old);
    return 0;
}

bool st_revoke_check(struct st_revoke *rv, const struct st_auth_ctx *ctx)
{
    bool hit = false;

    if (!rv || !ctx || ctx->bootstrap)
        return false;
    pthread_mutex_lock(&rv->lock);
    for (size_t i = 0; i < rv->nevents && !hit; i++)
        hit = st_revoke_event_matches(&rv->events[i], ctx);
    pthread_mutex_unlock(&rv->lock);
    return hit;
}

size_t st_revoke_count(struct st_revoke *rv)
{
    size_t n;

    pthread_mutex_lock(&rv->lock);
    n = rv->nevents;
    pthread_mutex_unlock(&rv->lock);
    return n;
}

/* ---- the watch and the refresh thread ---- */

static void on_notify(void *arg, uint64_t notify_id, uint64_t handle, uint64_t notifier_id,
                      void *data, size_t data_len)
{
    struct st_revoke *rv = arg;

    (void)notifier_id;
    (void)data;
    (void)data_len;
    /* No librados call from here: the refresh thread reloads, then acks, so
     * the notifier returns once this daemon has the new list. */
    pthread_mutex_lock(&rv->lock);
    if (rv->npending < PENDING_MAX)
        rv->pending[rv->npending++] = (struct pending_notify){notify_id, handle};
    rv->reload_now = true;
    pthread_cond_signal(&rv->cond);
    pthread_mutex_unlock(&rv->lock);
}

static void on_watch_error(void *arg, uint64_t cookie, int err)
{
    struct st_revoke *rv = arg;

    (void)cookie;
    pthread_mutex_lock(&rv->lock);
    rv->rewatch = true;
    rv->reload_now = true;
    pthread_cond_signal(&rv->cond);
    pthread_mutex_unlock(&rv->lock);
    st_warn("revocation list: watch lost (%s): re-watching", strerror(-err));
}

static int watch_start(struct st_revoke *rv)
{
    uint64_t handle = 0;
    int rc = rados_watch3(rv->io, ST_REVOKE_OID, &handle, on_notify, on_watch_error, 30, rv);

    if (rc < 0)
        return rc;
    pthread_mutex_lock(&rv->lock);
    rv->watch_handle = handle;
    rv->watching = true;
    rv->rewatch = false;
    pthread_mutex_unlock(&rv->lock);
    return 0;
}

static void watch_stop(struct st_revoke *rv)
{
    uint64_t handle;
    bool had;

    pthread_mutex_lock(&rv->lock);
    had = rv->watching;
    handle = rv->watch_handle;
    rv->watching = false;
    pthread_mutex_unlock(&rv->lock);
    if (had)
        rados_unwatch2(rv->io, handle);
}

static void *refresher(void *arg)
{
    struct st_revoke *rv = arg;

    pthread_mutex_lock(&rv->lock);
    while (!rv->stopping) {
        struct pending_notify acks[PENDING_MAX];
        size_t nacks;
        bool rewatch;
        int rc;

        if (!rv->reload_now) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += rv->refresh_ms / 1000;
            until.tv_nsec += (rv->refresh_ms % 1000) * 1000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&rv->cond, &rv->lock, &until);
            if (rv->stopping)
                break;
        }
        rv->reload_now = false;
        nacks = rv->npending;
        memcpy(acks, rv->pending, nacks * sizeof(acks[0]));
        rv->npending = 0;
        rewatch = rv->rewatch;
        pthread_mutex_unlock(&rv->lock);

        if (rewatch) {
            watch_stop(rv);
            if ((rc = watch_start(rv)) < 0)
                st_debug("revocation list: watch: %s (retrying)", strerror(-rc));
        }
        rc = st_revoke_refresh(rv);
        if (rc < 0 && !rv->warned) {
            st_warn("revocation list: cannot reload (%s): the last list stays in force",
                    strerror(-rc));
            rv->warned = true;
        } else if (rc == 0 && rv->warned) {
            st_info("revocation list: reloaded again");
            rv->warned = false;
        }
        for (size_t i = 0; i < nacks; i++)
            rados_notify_ack(rv->io, ST_REVOKE_OID, acks[i].notify_id, acks[i].handle, NULL, 0);
        pthread_mutex_lock(&rv->lock);
    }
    pthread_mutex_unlock(&rv->lock);
    return NULL;
}

static int object_ensure(rados_ioctx_t io)
{
    rados_write_op_t op = rados_create_write_op();
    int rc;

    if (!op)
        return -ENOMEM;
    rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
    rc = rados_write_op_operate(op, io, ST_REVOKE_OID, NULL, 0);
    rados_release_write_op(op);
    return rc;
}

int st_revoke_create(rados_ioctx_t ioctx, int64_t refresh_ms, struct st_revoke **out)
{
    struct st_revoke *rv;
    int rc;

    if (!ioctx || refresh_ms <= 0 || !out)
        return -EINVAL;
    rv = calloc(1, sizeof(*rv));
    if (!rv)
        return -ENOMEM;
    rv->io = ioctx;
    rv->refresh_ms = refresh_ms;
    pthread_mutex_init(&rv->lock, NULL);
    pthread_cond_init(&rv->cond, NULL);
    if ((rc = object_ensure(ioctx)) < 0 || (rc = st_revoke_refresh(rv)) < 0) {
        st_error("revocation list %s: %s", ST_REVOKE_OID, strerror(-rc));
        goto fail;
    }
    if ((rc = watch_start(rv)) < 0)
        st_warn("revocation list: no watch (%s): refreshing every %" PRId64 " ms only",
                strerror(-rc), refresh_ms);
    rc = pthread_create(&rv->thread, NULL, refresher, rv);
    if (rc != 0) {
        rc = -rc;
        goto fail;
    }
    rv->started = true;
    *out = rv;
    return 0;
fail:
    st_revoke_destroy(rv);
    return rc;
}

void st_revoke_destroy(struct st_revoke *rv)
{
    if (!rv)
        return;
    if (rv->started) {
        pthread_mutex_lock(&rv->lock);
        rv->stopping = true;
        pthread_cond_signal(&rv->cond);
        pthread_mutex_unlock(&rv->lock);
        pthread_join(rv->thread, NULL);
    }
    watch_stop(rv);
    rados_watch_flush(rados_ioctx_get_cluster(rv->io));
    pthread_cond_destroy(&rv->cond);
    pthread_mutex_destroy(&rv->lock);
    free(rv->events);
    free(rv);
}

/* ---- writing ---- */

int st_revoke_add(rados_ioctx_t io, const struct st_revoke_event *ev, int64_t now, int64_t notify_timeout_ms)
{
    struct collect c = { .now = now };
    struct st_revoke_event scratch;
    unsigned char rnd[4];
    char key[KEY_LEN + 1], *text = NULL;
    json_t *v = NULL;
    rados_write_op_t op = NULL;
    int rc;

    c.expired = NULL;
    if (!io || !ev)
        return -EINVAL;
    v = st_revoke_event_to_json(ev);
    if (!v || st_revoke_event_from_json(v, &scratch) < 0 || !(text = json_dumps(v, JSON_COMPACT))) {
        rc = v ? -EINVAL : -ENOMEM;
        goto out;
    }
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        rc = -EIO;
        goto out;
    }
    snprintf(key, sizeof(key), "%013" PRId64 "-%02x%02x%02x%02x", ev->issued_before_ms, rnd[0],
             rnd[1], rnd[2], rnd[3]);
    /* Which entries can go: read first (a failure only skips the pruning). */
    c.expired = malloc(16 * sizeof(*c.expired));
    c.capexpired = c.expired ? 16 : 0;
    if (!c.expired || read_all(io, collect_entry, &c) < 0 || c.err < 0)
        c.nexpired = 0;
    free(c.ev);

    op = rados_create_write_op();
    if (!op) {
        rc = -ENOMEM;
        goto out;
    }
    {
        const char *keys[] = { key };
        const char *vals[] = { text };
        size_t lens[] = { strlen(text) };
        rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
        rados_write_op_omap_set(op, keys, vals, lens, 1);
    }
    if (c.nexpired) {
        const char **old = malloc(c.nexpired * sizeof(*old));
        if (old) {
            for (size_t i = 0; i < c.nexpired; i++)
                old[i] = c.expired[i];
            rados_write_op_omap_rm_keys(op, old, c.nexpired);
            free(old);
        }
    }
    rc = rados_write_op_operate(op, io, ST_REVOKE_OID, NULL, 0);
    if (rc < 0)
        goto out;
    /* Every watcher reloads before it acks: when this returns, the daemons
     * that answered already refuse the token.  A missing ack is a daemon that
     * will catch up on its next refresh. */
    int nrc = rados_notify2(io, ST_REVOKE_OID, "", 0, (uint64_t)notify_timeout_ms, NULL, NULL);
    if (nrc < 0)
        st_debug("revocation list: notify: %s", strerror(-nrc));
out:
    if (op)
        rados_release_write_op(op);
    free(c.expired);
    free(text);
    json_decref(v);
    return rc;
}
