/* rbd_writer.c — the upload hot path: data is copied into a fixed pool of
 * block-sized buffers; a full buffer goes out as AIO writes (all-zero granules
 * skipped) and, in order, to one md5 and one sha512 thread.  A buffer returns
 * to the free list when its writes and both hashes are done (refcount).
 * Waits are bounded by librados' op timeouts (rados_osd_op_timeout), which
 * st_rados_connect sets: a stuck OSD completes our AIO with -ETIMEDOUT. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "rbd_io.h"
#include "strata/bufpool.h"
#include "strata/log.h"
#include "strata/rbd.h"

#define DEFAULT_BLOCK (4u << 20)
#define DEFAULT_INFLIGHT 8u
#define DEFAULT_GRANULE (64u << 10)
#define IMAGE_ORDER 22
#define WAIT_WARN_S 60

struct img_writer;

struct wbuf {
    struct img_writer *w;
    char *data;
    size_t len;        /* bytes of data in the buffer */
    uint64_t off;      /* image offset of data[0] */
    atomic_uint refs;  /* AIO writes + hashes + the dispatcher's hold */
    struct wbuf *next; /* free list */
};

/* One hash thread: a FIFO of buffers (at most `inflight` at once). */
struct hasher {
    struct img_writer *w;
    const EVP_MD *md;
    EVP_MD_CTX *ctx;
    pthread_t tid;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct wbuf **ring;
    unsigned head, count;
    bool stop;
};

struct img_writer {
    rados_ioctx_t io;
    rbd_image_t img;
    char *name;
    struct img_writer_config cfg;
    uint64_t limit;        /* bytes accepted at most */
    uint64_t created_size; /* image size as created */
    bool size_known;
    uint64_t pos; /* bytes accepted so far */
    atomic_uint_fast64_t sent;
    atomic_int err;         /* first error, sticky */
    atomic_bool aio_failed; /* err came from an AIO and is not logged yet */
    atomic_uint_fast64_t aio_err_off;
    bool done; /* finish or abort ran: no more writes */
    bool finished, aborted;

    pthread_mutex_t mu; /* free list */
    pthread_cond_t free_cond;
    struct wbuf *bufs;
    struct wbuf *free;
    unsigned nfree;
    struct wbuf *cur; /* being filled by write() */

    struct hasher h[2]; /* md5, sha512 */
    bool mu_init;
};

static bool set_err(struct img_writer *w, int rc)
{
    int zero = 0;

    return atomic_compare_exchange_strong(&w->err, &zero, rc);
}

/* The sticky error, logged once by the writer's thread when it came from an
 * AIO completion (callbacks only record it: they run on librbd's threads). */
static int sticky_err(struct img_writer *w)
{
    int rc = atomic_load(&w->err);

    if (rc && atomic_exchange(&w->aio_failed, false))
        st_error("rbd image %s: write at %" PRIu64 " failed: %s", w->name,
                 (uint64_t)atomic_load(&w->aio_err_off), strerror(-rc));
    return rc;
}

static void buf_put(struct wbuf *b)
{
    struct img_writer *w = b->w;

    if (atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    pthread_mutex_lock(&w->mu);
    b->next = w->free;
    w->free = b;
    w->nfree++;
    pthread_cond_broadcast(&w->free_cond);
    pthread_mutex_unlock(&w->mu);
}

/* Wait (w->mu held) until at least `want` buffers are free.  Never gives up:
 * a buffer may still be referenced by librbd; the op timeout ends every AIO. */
static void wait_free(struct img_writer *w, unsigned want)
{
    time_t start = time(NULL);
    bool warned = false;

    while (w->nfree < want) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        pthread_cond_timedwait(&w->free_cond, &w->mu, &ts);
        if (!warned && w->nfree < want && time(NULL) - start >= WAIT_WARN_S) {
            st_warn("rbd image %s: writes pending for %d s (cluster slow or down)", w->name,
                    WAIT_WARN_S);
            warned = true;
        }
    }
}

/* ---- hash threads ---- */

static void *hasher_main(void *arg)
{
    struct hasher *h = arg;

    for (;;) {
        struct wbuf *b;

        pthread_mutex_lock(&h->mu);
        while (h->count == 0 && !h->stop)
            pthread_cond_wait(&h->cond, &h->mu);
        if (h->count == 0) {
            pthread_mutex_unlock(&h->mu);
            break;
        }
        b = h->ring[h->head];
        h->head = (h->head + 1) % h->w->cfg.inflight;
        h->count--;
        pthread_mutex_unlock(&h->mu);
        if (EVP_DigestUpdate(h->ctx, b->data, b->len) != 1)
            set_err(h->w, -EIO);
        buf_put(b);
    }
    return NULL;
}

static void hasher_push(struct hasher *h, struct wbuf *b)
{
    pthread_mutex_lock(&h->mu);
    h->ring[(h->head + h->count) % h->w->cfg.inflight] = b;
    h->count++;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->mu);
}

static int hasher_start(struct img_writer *w, struct hasher *h, const EVP_MD *md)
{
    int rc;

    h->w = w;
    h->md = md;
    h->ring = calloc(w->cfg.inflight, sizeof(*h->ring));
    h->ctx = EVP_MD_CTX_new();
    if (!h->ring || !h->ctx)
        return -ENOMEM;
    if (EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
        st_error("cannot initialise digest %s", EVP_MD_get0_name(md));
        return -EIO;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cond, NULL);
    rc = pthread_create(&h->tid, NULL, hasher_main, h);
    if (rc != 0) {
        st_error("cannot start hash thread: %s", strerror(rc));
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cond);
        return -rc;
    }
    h->started = true;
    return 0;
}

static void hasher_stop(struct hasher *h)
{
    if (!h->started)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->tid, NULL);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cond);
    h->started = false;
}

static void hasher_free(struct hasher *h)
{
    hasher_stop(h);
    EVP_MD_CTX_free(h->ctx);
    free(h->ring);
    h->ctx = NULL;
    h->ring = NULL;
}

static int hasher_hex(struct hasher *h, char *hex, size_t hexlen)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || (size_t)n * 2 + 1 > hexlen) {
        st_error("digest %s failed", EVP_MD_get0_name(h->md));
        return -EIO;
    }
    for (unsigned int i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * n] = '\0';
    return 0;
}

/* ---- AIO dispatch ---- */

/* True when n bytes at p are all zero: 64 bytes at a time, early exit. */
static bool all_zero(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;

    for (; i + 64 <= n; i += 64) {
        uint64_t w[8], acc = 0;

        memcpy(w, u + i, sizeof(w));
        for (int k = 0; k < 8; k++)
            acc |= w[k];
        if (acc)
            return false;
    }
    for (; i < n; i++)
        if (u[i])
            return false;
    return true;
}

static void aio_done(rbd_completion_t c, void *arg)
{
    struct wbuf *b = arg;
    ssize_t r = rbd_aio_get_return_value(c);

    rbd_aio_release(c);
    if (r < 0 && set_err(b->w, (int)r)) {
        atomic_store(&b->w->aio_err_off, b->off);
        atomic_store(&b->w->aio_failed, true);
    }
    buf_put(b);
}

static int aio_write_run(struct img_writer *w, struct wbuf *b, size_t from, size_t to)
{
    rbd_completion_t c;
    int rc;

    atomic_fetch_add(&b->refs, 1);
    rc = rbd_aio_create_completion(b, aio_done, &c);
    if (rc == 0) {
        rc = rbd_aio_write2(w->img, b->off + from, to - from, b->data + from, c,
                            LIBRADOS_OP_FLAG_FADVISE_SEQUENTIAL | LIBRADOS_OP_FLAG_FADVISE_NOCACHE);
        if (rc < 0)
            rbd_aio_release(c);
    }
    if (rc < 0) {
        st_error("rbd image %s: cannot queue write at %" PRIu64 ": %s", w->name, b->off + from,
                 strerror(-rc));
        atomic_fetch_sub(&b->refs, 1);
        return rc;
    }
    atomic_fetch_add(&w->sent, to - from);
    return 0;
}

/* Send a filled buffer: writes for each run of non-zero granules, then the
 * hashes.  Takes the caller's ownership of b. */
static void dispatch(struct img_writer *w, struct wbuf *b)
{
    size_t g = w->cfg.zero_granule, run = SIZE_MAX;
    int rc = 0;

    atomic_store(&b->refs, 1); /* our hold until everything is queued */
    if (w->cfg.hash && atomic_load(&w->err) == 0) {
        atomic_fetch_add(&b->refs, 2);
        hasher_push(&w->h[0], b);
        hasher_push(&w->h[1], b);
    }
    for (size_t at = 0; at < b->len && rc == 0 && atomic_load(&w->err) == 0; at += g) {
        size_t end = at + g < b->len ? at + g : b->len;

        if (all_zero(b->data + at, end - at)) {
            if (run != SIZE_MAX)
                rc = aio_write_run(w, b, run, at);
            run = SIZE_MAX;
        } else if (run == SIZE_MAX) {
            run = at;
        }
    }
    if (rc == 0 && run != SIZE_MAX && atomic_load(&w->err) == 0)
        rc = aio_write_run(w, b, run, b->len);
    if (rc < 0)
        set_err(w, rc);
    buf_put(b);
}

/* ---- public ---- */

/* librbd calls the progress callback unconditionally: it may not be NULL. */
static int no_progress(uint64_t done, uint64_t total, void *arg)
{
    (void)done;
    (void)total;
    (void)arg;
    return 0;
}

static void writer_free(struct img_writer *w)
{
    if (!w)
        return;
    hasher_free(&w->h[0]);
    hasher_free(&w->h[1]);
    if (w->bufs) {
        for (unsigned i = 0; i < w->cfg.inflight; i++) {
            if (w->cfg.pool)
                st_bufpool_put(w->cfg.pool, 1, (void **)&w->bufs[i].data);
            else
                free(w->bufs[i].data);
        }
        free(w->bufs);
    }
    if (w->mu_init) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->free_cond);
    }
    free(w->name);
    free(w);
}

/* The writer's `inflight` buffers from the daemon's pool, all at once:
 * -EAGAIN (503) when other transfers hold them past the wait. */
static int take_pool_bufs(struct img_writer *w)
{
    void **v = calloc(w->cfg.inflight, sizeof(*v));
    int rc = v ? st_bufpool_get(w->cfg.pool, w->cfg.inflight, w->cfg.pool_wait_ms, v) : -ENOMEM;

    if (rc == -ETIMEDOUT) {
        st_warn("rbd image %s: no I/O buffers free after %d ms (all in use by other "
                "transfers)", w->name, w->cfg.pool_wait_ms);
        rc = -EAGAIN;
    }
    for (unsigned i = 0; rc == 0 && i < w->cfg.inflight; i++)
        w->bufs[i].data = v[i];
    free(v);
    return rc;
}

static int image_create(rados_ioctx_t io, const char *name, uint64_t size, bool thin_max)
{
    rbd_image_options_t opts;
    int rc;

    rbd_image_options_create(&opts);
    rc = rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_ORDER, IMAGE_ORDER);
    /* Created at max_size and shrunk at the end: the object map makes the
     * shrink (and reads of the untouched tail) cost nothing. */
    if (rc == 0 && thin_max)
        rc = rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FEATURES_SET,
                                          RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP |
                                              RBD_FEATURE_FAST_DIFF);
    if (rc == 0)
        rc = st_rbd_create_opts(io, name, size, opts);
    rbd_image_options_destroy(opts);
    return rc;
}

int img_writer_create(rados_ioctx_t ioctx, const char *name, int64_t size_hint, uint64_t max_size,
                      const struct img_writer_config *cfg, struct img_writer **out)
{
    struct img_writer *w;
    bool created = false;
    int rc;

    if (!ioctx || !name || !name[0] || !out || (size_hint < 0 && max_size == 0))
        return -EINVAL;
    if (size_hint >= 0 && max_size && (uint64_t)size_hint > max_size)
        return -EFBIG;
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->io = ioctx;
    w->name = strdup(name);
    if (cfg)
        w->cfg = *cfg;
    else
        w->cfg.hash = true;
    if (w->cfg.pool)
        w->cfg.block_size = st_bufpool_buf_size(w->cfg.pool);
    if (!w->cfg.block_size)
        w->cfg.block_size = DEFAULT_BLOCK;
    if (!w->cfg.inflight)
        w->cfg.inflight = DEFAULT_INFLIGHT;
    if (!w->cfg.zero_granule)
        w->cfg.zero_granule = DEFAULT_GRANULE;
    if (w->cfg.zero_granule > w->cfg.block_size)
        w->cfg.zero_granule = w->cfg.block_size;
    w->size_known = size_hint >= 0;
    w->limit = w->size_known ? (uint64_t)size_hint : max_size;
    w->created_size = w->limit;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->free_cond, NULL);
    w->mu_init = true;
    rc = w->name ? 0 : -ENOMEM;
    if (rc == 0) {
        w->bufs = calloc(w->cfg.inflight, sizeof(*w->bufs));
        rc = w->bufs ? 0 : -ENOMEM;
    }
    if (rc == 0 && w->cfg.pool)
        rc = take_pool_bufs(w);
    for (unsigned i = 0; rc == 0 && i < w->cfg.inflight; i++) {
        struct wbuf *b = &w->bufs[i];

        b->w = w;
        if (w->cfg.pool) {
            /* taken above */
        } else if (posix_memalign((void **)&b->data, 4096, w->cfg.block_size) != 0) {
            b->data = NULL;
            rc = -ENOMEM;
            break;
        }
        b->next = w->free;
        w->free = b;
        w->nfree++;
    }
    if (rc == 0 && w->cfg.hash) {
        rc = hasher_start(w, &w->h[0], EVP_md5());
        if (rc == 0)
            rc = hasher_start(w, &w->h[1], EVP_sha512());
    }
    if (rc == 0) {
        rc = image_create(ioctx, name, w->created_size, !w->size_known);
        created = rc == 0;
    }
    if (rc == 0) {
        rc = rbd_open(ioctx, name, &w->img, NULL);
        if (rc < 0)
            st_error("cannot open new rbd image %s: %s", name, strerror(-rc));
    }
    if (rc < 0) {
        if (created && rbd_remove(ioctx, name) < 0)
            st_warn("cannot remove rbd image %s after a failed open", name);
        w->img = NULL;
        writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int img_writer_write(struct img_writer *w, const char *buf, size_t len)
{
    int rc = sticky_err(w);

    if (rc)
        return rc;
    if (w->done)
        return -EINVAL;
    if (len > w->limit - w->pos) {
        st_info("rbd image %s: data past %" PRIu64 " bytes refused", w->name, w->limit);
        set_err(w, -EFBIG);
        return -EFBIG;
    }
    while (len) {
        size_t n;

        if (!w->cur) {
            pthread_mutex_lock(&w->mu);
            wait_free(w, 1);
            w->cur = w->free;
            w->free = w->cur->next;
            w->nfree--;
            pthread_mutex_unlock(&w->mu);
            w->cur->len = 0;
            w->cur->off = w->pos;
            rc = sticky_err(w);
            if (rc)
                return rc;
        }
        n = w->cfg.block_size - w->cur->len;
        if (n > len)
            n = len;
        memcpy(w->cur->data + w->cur->len, buf, n);
        w->cur->len += n;
        w->pos += n;
        buf += n;
        len -= n;
        if (w->cur->len == w->cfg.block_size) {
            struct wbuf *b = w->cur;

            w->cur = NULL;
            dispatch(w, b);
        }
    }
    return sticky_err(w);
}

/* Send the tail (unless discarding it), wait for every buffer, stop the
 * hash threads. */
static void drain(struct img_writer *w, bool send_tail)
{
    if (w->cur) {
        struct wbuf *b = w->cur;

        w->cur = NULL;
        if (b->len && send_tail) {
            dispatch(w, b);
        } else {
            atomic_store(&b->refs, 1);
            buf_put(b);
        }
    }
    pthread_mutex_lock(&w->mu);
    wait_free(w, w->cfg.inflight);
    pthread_mutex_unlock(&w->mu);
    hasher_stop(&w->h[0]);
    hasher_stop(&w->h[1]);
}

int img_writer_finish(struct img_writer *w, uint64_t *bytes_written, char *md5_hex,
                      char *sha512_hex)
{
    int rc;

    if (bytes_written)
        *bytes_written = w->pos;
    if (md5_hex)
        md5_hex[0] = '\0';
    if (sha512_hex)
        sha512_hex[0] = '\0';
    if (w->done)
        return -EINVAL;
    w->done = w->finished = true;
    drain(w, true);
    rc = sticky_err(w);
    if (rc == 0) {
        rc = rbd_flush(w->img);
        if (rc < 0)
            st_error("rbd image %s: flush failed: %s", w->name, strerror(-rc));
    }
    if (rc == 0 && w->pos != w->created_size) {
        rc = rbd_resize2(w->img, w->pos, true, no_progress, NULL);
        if (rc < 0)
            st_error("rbd image %s: resize to %" PRIu64 " failed: %s", w->name, w->pos,
                     strerror(-rc));
    }
    if (rc == 0 && w->cfg.hash) {
        rc = hasher_hex(&w->h[0], md5_hex ? md5_hex : (char[33]){0}, 33);
        if (rc == 0)
            rc = hasher_hex(&w->h[1], sha512_hex ? sha512_hex : (char[129]){0}, 129);
    }
    {
        int crc = rbd_close(w->img);

        w->img = NULL;
        if (crc < 0) {
            st_error("rbd image %s: close failed: %s", w->name, strerror(-crc));
            if (rc == 0)
                rc = crc;
        }
    }
    if (rc < 0)
        set_err(w, rc);
    return sticky_err(w);
}

void img_writer_abort(struct img_writer *w)
{
    int rc;

    if (!w || w->aborted)
        return;
    if (!w->done)
        drain(w, false);
    w->done = w->aborted = true;
    if (w->img) {
        rc = rbd_close(w->img);
        if (rc < 0)
            st_warn("rbd image %s: close failed: %s", w->name, strerror(-rc));
        w->img = NULL;
    }
    rc = rbd_remove(w->io, w->name);
    if (rc < 0 && rc != -ENOENT)
        st_error("cannot remove aborted rbd image %s: %s", w->name, strerror(-rc));
}

void img_writer_destroy(struct img_writer *w)
{
    if (!w)
        return;
    if (!w->finished)
        img_writer_abort(w); /* no-op after abort */
    writer_free(w);
}

uint64_t img_writer_bytes_sent(const struct img_writer *w)
{
    return w ? atomic_load(&((struct img_writer *)w)->sent) : 0;
}
