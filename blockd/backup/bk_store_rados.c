/* bk_store_rados.c — backup objects as RADOS objects of one pool: a put is one
 * write_full (atomic in RADOS), a get a stat and reads, a list the pool's
 * object listing filtered by prefix.  The connection is the daemon's. */
#include "bk_store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata/log.h"
#include "strata/strutil.h"

#define READ_PIECE (16u << 20) /* bytes per rados_read */

static int rados_open(const struct bk_store_conf *c, void **impl, char *desc, size_t desclen,
                      char *msg, size_t msglen)
{
    rados_ioctx_t io;
    int rc = rados_ioctx_create(c->cluster, c->pool, &io);

    if (rc < 0)
        return st_msgf(msg, msglen, rc, "cannot open backup pool %s: %s", c->pool, strerror(-rc));
    snprintf(desc, desclen, "rados:%s", c->pool);
    *impl = io;
    return 0;
}

static void rados_close(void *impl)
{
    rados_ioctx_destroy(impl);
}

static int rados_put(void *impl, const char *name, const void *data, size_t len)
{
    int rc = rados_write_full(impl, name, data, len);

    if (rc < 0)
        st_warn("rados write_full %s (%zu bytes): %s", name, len, strerror(-rc));
    return rc;
}

/* Read len bytes of name into buf: 0, -EIO when it shrank meanwhile, -errno. */
static int read_all(rados_ioctx_t io, const char *name, char *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        size_t want = len - done < READ_PIECE ? len - done : READ_PIECE;
        int n = rados_read(io, name, buf + done, want, done);

        if (n < 0)
            return n;
        if (n == 0)
            return -EIO;
        done += (size_t)n;
    }
    return 0;
}

static int rados_get(void *impl, const char *name, void **data, size_t *len)
{
    uint64_t size;
    time_t mtime;
    char *buf;
    int rc = rados_stat(impl, name, &size, &mtime);

    if (rc < 0)
        return rc;
    if (size > SIZE_MAX - 1)
        return -EFBIG;
    buf = malloc(size ? size : 1);
    if (!buf)
        return -ENOMEM;
    rc = read_all(impl, name, buf, size);
    if (rc < 0) {
        if (rc != -ENOENT)
            st_warn("rados read %s: %s", name, strerror(-rc));
        free(buf);
        return rc;
    }
    *data = buf;
    *len = size;
    return 0;
}

static int rados_stat_obj(void *impl, const char *name, uint64_t *len)
{
    time_t mtime;

    return rados_stat(impl, name, len, &mtime);
}

static int rados_remove_obj(void *impl, const char *name)
{
    int rc = rados_remove(impl, name);

    return rc == -ENOENT ? 0 : rc;
}

static int rados_list(void *impl, const char *prefix, bk_list_fn fn, void *arg)
{
    rados_list_ctx_t ctx;
    const char *entry;
    int rc = rados_nobjects_list_open(impl, &ctx);
    int stop = 0;

    if (rc < 0)
        return rc;
    while (!stop && (rc = rados_nobjects_list_next(ctx, &entry, NULL, NULL)) == 0)
        if (bk_store_has_prefix(entry, prefix))
            stop = fn(arg, entry);
    rados_nobjects_list_close(ctx);
    return stop ? stop : rc == -ENOENT ? 0 : rc;
}

const struct bk_store_ops bk_store_rados_ops = {
    .open = rados_open,
    .close = rados_close,
    .put = rados_put,
    .get = rados_get,
    .stat = rados_stat_obj,
    .remove = rados_remove_obj,
    .list = rados_list,
};
