/* rbd_reader.c — the download path: a ring of `depth` block-sized AIO reads
 * kept in flight ahead of the consumer, served in order to sequential
 * img_reader_read() calls.  Blocks are aligned to the block size (the object
 * size), so each read touches one object.  Waits end by librados' op timeout. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "rbd_io.h"
#include "strata/bufpool.h"
#include "strata/log.h"

#define READ_BLOCK (4u << 20)
#define READ_DEPTH 6u

struct rslot {
    char *data;
    uint64_t off;       /* image offset of data[0] */
    size_t len;         /* bytes asked */
    size_t have;        /* bytes the read returned */
    size_t pos;         /* bytes already given to the consumer */
    rbd_completion_t c; /* NULL when idle */
    bool ready;         /* completed and checked */
};

struct img_reader {
    rbd_image_t img;
    char *name;
    uint64_t next; /* next offset to issue */
    uint64_t end;
    struct rslot slots[READ_DEPTH];
    size_t block;              /* read unit: READ_BLOCK or the pool's buffer size */
    struct st_bufpool *pool;   /* where the slots' buffers came from (NULL: malloc) */
    unsigned head; /* slot served next */
    int err;       /* sticky */
};

static void read_done(rbd_completion_t c, void *arg)
{
    (void)c;
    (void)arg; /* completion is waited for with rbd_aio_wait_for_complete */
}

/* Queue the next block into slot s (if anything is left). */
static int issue(struct img_reader *r, struct rslot *s)
{
    uint64_t stop = (r->next / r->block + 1) * r->block;
    int rc;

    if (r->next >= r->end)
        return 0;
    if (stop > r->end)
        stop = r->end;
    s->off = r->next;
    s->len = (size_t)(stop - r->next);
    s->have = s->pos = 0;
    s->ready = false;
    rc = rbd_aio_create_completion(s, read_done, &s->c);
    if (rc == 0) {
        rc = rbd_aio_read2(r->img, s->off, s->len, s->data, s->c,
                           LIBRADOS_OP_FLAG_FADVISE_SEQUENTIAL);
        if (rc < 0)
            rbd_aio_release(s->c);
    }
    if (rc < 0) {
        s->c = NULL;
        st_error("rbd image %s: cannot queue read at %" PRIu64 ": %s", r->name, s->off,
                 strerror(-rc));
        return rc;
    }
    r->next = stop;
    return 0;
}

/* Wait for slot s's read; 0 or -errno. */
static int reap(struct img_reader *r, struct rslot *s)
{
    ssize_t got;

    rbd_aio_wait_for_complete(s->c);
    got = rbd_aio_get_return_value(s->c);
    rbd_aio_release(s->c);
    s->c = NULL;
    if (got < 0) {
        st_error("rbd image %s: read at %" PRIu64 " failed: %s", r->name, s->off,
                 strerror((int)-got));
        return (int)got;
    }
    if ((size_t)got != s->len) {
        st_error("rbd image %s: short read at %" PRIu64 " (%zd of %zu bytes)", r->name, s->off, got,
                 s->len);
        return -EIO;
    }
    s->have = (size_t)got;
    s->ready = true;
    return 0;
}

void img_reader_close(struct img_reader *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < READ_DEPTH; i++) {
        struct rslot *s = &r->slots[i];

        if (s->c) {
            rbd_aio_wait_for_complete(s->c);
            rbd_aio_release(s->c);
        }
        if (r->pool)
            st_bufpool_put(r->pool, 1, (void **)&s->data);
        else
            free(s->data);
    }
    if (r->img)
        rbd_close(r->img);
    free(r->name);
    free(r);
}

int img_reader_open(rados_ioctx_t ioctx, const char *name, const char *snap, uint64_t offset,
                    uint64_t length, struct st_bufpool *pool, int pool_wait_ms,
                    struct img_reader **out)
{
    struct img_reader *r;
    uint64_t size = 0;
    int rc;

    if (!ioctx || !name || !out)
        return -EINVAL;
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->name = strdup(name);
    r->block = pool ? st_bufpool_buf_size(pool) : READ_BLOCK;
    rc = r->name ? 0 : -ENOMEM;
    if (rc == 0) {
        rc = rbd_open_read_only(ioctx, name, &r->img, snap);
        if (rc < 0) {
            r->img = NULL;
            if (rc == -ENOENT)
                st_info("rbd image %s%s%s not found", name, snap ? "@" : "", snap ? snap : "");
            else
                st_error("cannot open rbd image %s%s%s: %s", name, snap ? "@" : "",
                         snap ? snap : "", strerror(-rc));
        }
    }
    if (rc == 0) {
        rc = rbd_get_size(r->img, &size);
        if (rc < 0)
            st_error("rbd image %s: cannot get its size: %s", name, strerror(-rc));
    }
    if (rc == 0 && offset > size) {
        st_info("rbd image %s: offset %" PRIu64 " is past its size %" PRIu64, name, offset, size);
        rc = -EINVAL;
    }
    if (rc == 0) {
        r->next = offset;
        r->end = length > size - offset ? size : offset + length;
    }
    if (rc == 0 && pool) {
        void *v[READ_DEPTH];
        rc = st_bufpool_get(pool, READ_DEPTH, pool_wait_ms, v);
        if (rc == -ETIMEDOUT) {
            st_warn("rbd image %s: no I/O buffers free after %d ms (all in use by other "
                    "transfers)", name, pool_wait_ms);
            rc = -EAGAIN;
        }
        for (unsigned i = 0; rc == 0 && i < READ_DEPTH; i++)
            r->slots[i].data = v[i];
        if (rc == 0)
            r->pool = pool;
    }
    for (unsigned i = 0; rc == 0 && i < READ_DEPTH; i++) {
        if (!r->pool)
            r->slots[i].data = malloc(r->block);
        rc = r->slots[i].data ? 0 : -ENOMEM;
        if (rc == 0)
            rc = issue(r, &r->slots[i]);
    }
    if (rc < 0) {
        img_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

ssize_t img_reader_read(struct img_reader *r, char *buf, size_t max)
{
    size_t done = 0;

    if (r->err)
        return r->err;
    while (done < max) {
        struct rslot *s = &r->slots[r->head];
        size_t n;
        int rc;

        if (!s->c && !s->ready)
            break; /* nothing left */
        if (!s->ready) {
            /* Hand back what we have rather than wait for more. */
            if (done && rbd_aio_is_complete(s->c) == 0)
                break;
            rc = reap(r, s);
            if (rc < 0) {
                r->err = rc;
                return done ? (ssize_t)done : rc;
            }
        }
        n = s->have - s->pos;
        if (n > max - done)
            n = max - done;
        memcpy(buf + done, s->data + s->pos, n);
        s->pos += n;
        done += n;
        if (s->pos == s->have) {
            s->ready = false;
            rc = issue(r, s);
            if (rc < 0) {
                r->err = rc;
                return done ? (ssize_t)done : rc;
            }
            r->head = (r->head + 1) % READ_DEPTH;
        }
    }
    return (ssize_t)done;
}
