/* bk_store_dir.c — backup objects as files under one directory ('/' = subdirectory):
 * a put writes "<leaf>.tmp.<random>" with O_DIRECT and several libaio writes in
 * flight, fdatasyncs, renames it into place and fsyncs the directory. */
#include "bk_store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/log.h"
#include "strata/strutil.h"

#define PIECE (1u << 20) /* bytes per AIO write */
#define AIO_DEFAULT 8
#define AIO_MAX 64
#define DIO_ALIGN_DEFAULT 4096u
#define PATH_BUF (BK_NAME_MAX + 64)

struct bk_dir {
    char *path;
    int fd;
    unsigned depth;
};

/* One put's AIO state: nslots buffers of piece bytes, each free or in flight. */
struct aio_writer {
    io_context_t ctx;
    int fd;
    size_t align, piece;
    unsigned nslots, nfree, npending, inflight;
    char *buf;
    struct iocb iocbs[AIO_MAX];
    struct iocb *pending[AIO_MAX];
    unsigned free[AIO_MAX];
    struct io_event events[AIO_MAX];
};

int bk_dir_open(const char *path, unsigned aio_depth, struct bk_dir **out, char *msg, size_t msglen)
{
    struct bk_dir *d;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return st_msgf(msg, msglen, -errno, "backup directory %s: %s", path, strerror(errno));
    if (faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
        int rc = st_msgf(msg, msglen, -errno, "backup directory %s is not writable: %s", path,
                         strerror(errno));

        close(fd);
        return rc;
    }
    d = calloc(1, sizeof(*d));
    if (!d || !(d->path = strdup(path))) {
        free(d);
        close(fd);
        return -ENOMEM;
    }
    d->fd = fd;
    d->depth = aio_depth == 0 ? AIO_DEFAULT : aio_depth > AIO_MAX ? AIO_MAX : aio_depth;
    *out = d;
    return 0;
}

void bk_dir_close(struct bk_dir *d)
{
    if (!d)
        return;
    close(d->fd);
    free(d->path);
    free(d);
}

static size_t round_up(size_t v, size_t align)
{
    return (v + align - 1) / align * align;
}

/* The file's O_DIRECT alignment for buffers, offsets and lengths. */
static size_t dio_align(int fd)
{
    size_t align = DIO_ALIGN_DEFAULT;
#ifdef STATX_DIOALIGN
    struct statx stx;

    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
        (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_mem_align && stx.stx_dio_offset_align)
        align = stx.stx_dio_mem_align > stx.stx_dio_offset_align ? stx.stx_dio_mem_align
                                                                 : stx.stx_dio_offset_align;
#endif
    return align < 512 ? 512 : align;
}

static void close_parent(struct bk_dir *d, int pfd)
{
    if (pfd != d->fd)
        close(pfd);
}

/* Split name into its parent directory's fd (*pfd, d->fd when at the top;
 * created when create) and its last segment (leaf, NAME_MAX+1 bytes). */
static int open_parent(struct bk_dir *d, const char *name, bool create, int *pfd, char *leaf)
{
    char buf[PATH_BUF], *seg, *save = NULL, *slash;
    int cur = d->fd;

    snprintf(buf, sizeof(buf), "%s", name);
    slash = strrchr(buf, '/');
    snprintf(leaf, NAME_MAX + 1, "%s", slash ? slash + 1 : buf);
    if (!slash) {
        *pfd = d->fd;
        return 0;
    }
    *slash = '\0';
    for (seg = strtok_r(buf, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        int next = -1, rc = 0;

        if (create && mkdirat(cur, seg, 0755) == 0)
            fsync(cur); /* the new directory's entry is durable */
        else if (create && errno != EEXIST)
            rc = -errno;
        if (rc == 0 && (next = openat(cur, seg, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            rc = -errno;
        close_parent(d, cur);
        if (rc < 0)
            return rc;
        cur = next;
    }
    *pfd = cur;
    return 0;
}

static int aio_writer_init(struct aio_writer *w, int fd, size_t len, unsigned depth)
{
    size_t padded;
    int rc;

    memset(w, 0, sizeof(*w));
    w->fd = fd;
    w->align = dio_align(fd);
    padded = round_up(len, w->align);
    w->piece = round_up(PIECE, w->align);
    if (w->piece > padded)
        w->piece = padded;
    w->nslots = (unsigned)((padded + w->piece - 1) / w->piece);
    if (w->nslots > depth)
        w->nslots = depth;
    rc = io_setup((int)w->nslots, &w->ctx);
    if (rc < 0)
        return rc;
    if (posix_memalign((void **)&w->buf, w->align, w->nslots * w->piece) != 0) {
        io_destroy(w->ctx);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < w->nslots; i++)
        w->free[w->nfree++] = i;
    return 0;
}

static void aio_writer_fini(struct aio_writer *w)
{
    io_destroy(w->ctx);
    free(w->buf);
}

/* Copy the piece at off into a free slot (zero-padded to the alignment) and
 * queue its write. */
static void queue_piece(struct aio_writer *w, const char *data, size_t len, size_t off)
{
    unsigned slot = w->free[--w->nfree];
    char *buf = w->buf + (size_t)slot * w->piece;
    size_t n = len - off < w->piece ? len - off : w->piece;
    size_t padded = round_up(n, w->align);

    memcpy(buf, data + off, n);
    memset(buf + n, 0, padded - n);
    io_prep_pwrite(&w->iocbs[slot], w->fd, buf, padded, (long long)off);
    w->pending[w->npending++] = &w->iocbs[slot];
}

/* Submit what is queued; io_submit may take fewer than asked. */
static int submit_pending(struct aio_writer *w)
{
    int n = io_submit(w->ctx, (long)w->npending, w->pending);

    if (n < 0)
        return n == -EAGAIN && w->inflight ? 0 : n;
    if (n == 0 && w->inflight == 0)
        return -EAGAIN;
    memmove(w->pending, w->pending + n, (w->npending - (unsigned)n) * sizeof(w->pending[0]));
    w->npending -= (unsigned)n;
    w->inflight += (unsigned)n;
    return 0;
}

/* Wait for at least one write; a failed or short one is an error. */
static int reap(struct aio_writer *w)
{
    int rc = 0, n = io_getevents(w->ctx, 1, (long)w->inflight, w->events, NULL);

    if (n < 0)
        return n == -EINTR ? 0 : n;
    for (int i = 0; i < n; i++) {
        struct iocb *cb = w->events[i].obj;
        long res = (long)w->events[i].res;

        w->inflight--;
        w->free[w->nfree++] = (unsigned)(cb - w->iocbs);
        if (res < 0 && rc == 0)
            rc = (int)res;
        else if (res >= 0 && (unsigned long)res != cb->u.c.nbytes && rc == 0)
            rc = -EIO;
    }
    return rc;
}

/* Write data (len bytes) from offset 0 with up to nslots writes in flight;
 * the last piece is padded with zeros to the alignment. */
static int aio_write_all(struct aio_writer *w, const char *data, size_t len)
{
    size_t off = 0;
    int rc = 0;

    while (rc == 0 && (off < len || w->npending || w->inflight)) {
        while (w->nfree && off < len) {
            queue_piece(w, data, len, off);
            off += w->piece;
        }
        if (w->npending)
            rc = submit_pending(w);
        if (rc == 0 && w->inflight)
            rc = reap(w);
    }
    while (w->inflight) { /* never free buffers the kernel still writes from */
        unsigned before = w->inflight;

        if (reap(w) < 0 && w->inflight == before)
            break; /* io_getevents itself failed: io_destroy waits for them */
    }
    return rc;
}

/* Write, size and sync the temporary file fd. */
static int write_file(struct bk_dir *d, int fd, const void *data, size_t len)
{
    struct aio_writer w;
    int rc = 0;

    if (len) {
        rc = aio_writer_init(&w, fd, len, d->depth);
        if (rc < 0)
            return rc;
        rc = fallocate(fd, 0, 0, (off_t)round_up(len, w.align));
        if (rc < 0 && errno != EOPNOTSUPP)
            rc = -errno;
        else
            rc = aio_write_all(&w, data, len);
        aio_writer_fini(&w);
    }
    if (rc == 0 && ftruncate(fd, (off_t)len) < 0)
        rc = -errno;
    if (rc == 0 && fdatasync(fd) < 0)
        rc = -errno;
    return rc;
}

static int tmp_name(const char *leaf, char *out, size_t outlen)
{
    unsigned char rnd[8];

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return -EIO;
    snprintf(out, outlen, "%s.tmp.%02x%02x%02x%02x%02x%02x%02x%02x", leaf, rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    return 0;
}

/* Create tmp in pfd with O_DIRECT where the file system allows it. */
static int create_tmp(int pfd, const char *tmp)
{
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
    int fd = openat(pfd, tmp, flags | O_DIRECT, 0644);

    if (fd < 0 && errno == EINVAL)
        fd = openat(pfd, tmp, flags, 0644);
    return fd < 0 ? -errno : fd;
}

/* Write tmp in pfd and rename it to leaf. */
static int put_in(struct bk_dir *d, int pfd, const char *leaf, const void *data, size_t len)
{
    char tmp[NAME_MAX + 1];
    int fd, rc = tmp_name(leaf, tmp, sizeof(tmp));

    if (rc < 0)
        return rc;
    fd = create_tmp(pfd, tmp);
    if (fd < 0)
        return fd;
    rc = write_file(d, fd, data, len);
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && renameat(pfd, tmp, pfd, leaf) < 0)
        rc = -errno;
    if (rc < 0)
        unlinkat(pfd, tmp, 0);
    else if (fsync(pfd) < 0)
        rc = -errno;
    return rc;
}

int bk_dir_put(struct bk_dir *d, const char *name, const void *data, size_t len)
{
    char leaf[NAME_MAX + 1];
    int pfd, rc = open_parent(d, name, true, &pfd, leaf);

    if (rc == 0) {
        rc = put_in(d, pfd, leaf, data, len);
        close_parent(d, pfd);
    }
    if (rc < 0)
        st_warn("backup put %s/%s (%zu bytes): %s", d->path, name, len, strerror(-rc));
    return rc;
}

/* name opened for reading, a regular file: the fd or -ENOENT/-errno. */
static int open_object(struct bk_dir *d, const char *name, struct stat *st)
{
    int fd = openat(d->fd, name, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return errno == ENOTDIR ? -ENOENT : -errno;
    if (fstat(fd, st) < 0) {
        int rc = -errno;

        close(fd);
        return rc;
    }
    if (!S_ISREG(st->st_mode)) { /* a directory of longer names */
        close(fd);
        return -ENOENT;
    }
    return fd;
}

/* Read up to len bytes from offset 0: the count read or -errno. */
static ssize_t read_full(int fd, char *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

int bk_dir_get(struct bk_dir *d, const char *name, void **data, size_t *len)
{
    struct stat st;
    char *buf;
    ssize_t n;
    int fd = open_object(d, name, &st);

    if (fd < 0)
        return fd;
    buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    n = read_full(fd, buf, (size_t)st.st_size);
    close(fd);
    if (n != (ssize_t)st.st_size) {
        free(buf);
        st_warn("backup get %s/%s: %s", d->path, name, n < 0 ? strerror((int)-n) : "short read");
        return n < 0 ? (int)n : -EIO;
    }
    *data = buf;
    *len = (size_t)st.st_size;
    return 0;
}

ssize_t bk_dir_read_head(struct bk_dir *d, const char *name, void *buf, size_t len)
{
    struct stat st;
    ssize_t n;
    int fd = open_object(d, name, &st);

    if (fd < 0)
        return fd;
    n = read_full(fd, buf, len);
    close(fd);
    return n;
}

int bk_dir_stat(struct bk_dir *d, const char *name, uint64_t *len)
{
    struct stat st;

    if (fstatat(d->fd, name, &st, 0) < 0)
        return errno == ENOTDIR ? -ENOENT : -errno;
    if (!S_ISREG(st.st_mode))
        return -ENOENT;
    *len = (uint64_t)st.st_size;
    return 0;
}

int bk_dir_remove(struct bk_dir *d, const char *name)
{
    char leaf[NAME_MAX + 1];
    int pfd, rc = open_parent(d, name, false, &pfd, leaf);

    if (rc < 0)
        return rc == -ENOENT || rc == -ENOTDIR ? 0 : rc;
    if (unlinkat(pfd, leaf, 0) < 0)
        rc = errno == ENOENT || errno == EISDIR ? 0 : -errno;
    else if (fsync(pfd) < 0)
        rc = -errno;
    close_parent(d, pfd);
    return rc;
}

/* Whether the subdirectory rel ("a/b/") can hold names starting with prefix. */
static bool may_hold(const char *rel, const char *prefix)
{
    size_t n = strlen(rel), p = prefix ? strlen(prefix) : 0;

    return strncmp(rel, prefix ? prefix : "", n < p ? n : p) == 0;
}

struct walk {
    const char *prefix;
    bk_list_fn fn;
    void *arg;
    char rel[PATH_BUF]; /* the directory being walked, "" or "a/b/" */
};

static int walk_dir(struct walk *w, int dfd);

/* One entry of the directory at w->rel. */
static int walk_entry(struct walk *w, int dfd, const struct dirent *e)
{
    size_t base = strlen(w->rel);
    unsigned char type = e->d_type;
    struct stat st;
    int rc = 0;

    if (strstr(e->d_name, ".tmp.") || base + strlen(e->d_name) + 2 > sizeof(w->rel))
        return 0;
    if (type == DT_UNKNOWN && fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    strcat(w->rel, e->d_name);
    if (type == DT_REG && bk_store_name_ok(w->rel) && bk_store_has_prefix(w->rel, w->prefix)) {
        rc = w->fn(w->arg, w->rel);
    } else if (type == DT_DIR) {
        strcat(w->rel, "/");
        if (may_hold(w->rel, w->prefix)) {
            int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

            rc = sub < 0 ? 0 : walk_dir(w, sub);
        }
    }
    w->rel[base] = '\0';
    return rc;
}

/* Walk dfd (closed here) recursively. */
static int walk_dir(struct walk *w, int dfd)
{
    DIR *dir = fdopendir(dfd);
    struct dirent *e;
    int rc = 0;

    if (!dir) {
        close(dfd);
        return -errno;
    }
    while (rc == 0 && (e = readdir(dir)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            rc = walk_entry(w, dirfd(dir), e);
    closedir(dir);
    return rc;
}

int bk_dir_list(struct bk_dir *d, const char *prefix, bk_list_fn fn, void *arg)
{
    struct walk w = {.prefix = prefix, .fn = fn, .arg = arg};
    int top = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (top < 0)
        return -errno;
    return walk_dir(&w, top);
}

/* The DIR kind: one bk_dir. */
static int dir_open(const struct bk_store_conf *c, void **impl, char *desc, size_t desclen,
                    char *msg, size_t msglen)
{
    if (c->ndirs != 1)
        return st_msgf(msg, msglen, -EINVAL, "a directory backup store takes one directory, not %u",
                       c->ndirs);
    snprintf(desc, desclen, "dir:%s", c->dirs[0]);
    return bk_dir_open(c->dirs[0], c->aio_depth, (struct bk_dir **)impl, msg, msglen);
}

static void dir_close(void *impl)
{
    bk_dir_close(impl);
}

static int dir_put(void *impl, const char *name, const void *data, size_t len)
{
    return bk_dir_put(impl, name, data, len);
}

static int dir_get(void *impl, const char *name, void **data, size_t *len)
{
    return bk_dir_get(impl, name, data, len);
}

static int dir_stat(void *impl, const char *name, uint64_t *len)
{
    return bk_dir_stat(impl, name, len);
}

static int dir_remove(void *impl, const char *name)
{
    return bk_dir_remove(impl, name);
}

static int dir_list(void *impl, const char *prefix, bk_list_fn fn, void *arg)
{
    return bk_dir_list(impl, prefix, fn, arg);
}

const struct bk_store_ops bk_store_dir_ops = {
    .open = dir_open,
    .close = dir_close,
    .put = dir_put,
    .get = dir_get,
    .stat = dir_stat,
    .remove = dir_remove,
    .list = dir_list,
};
