/* rbd.c — RBD image operations shared by the daemons: create, size, resize,
 * snapshots, copy-on-write clone, flatten, parent chain, children count, full
 * removal and listing.  Each opens the image for just the call; librados' op
 * timeouts bound every call. */
#include "strata/rbd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata/log.h"

/* A parent chain longer than this is taken as a loop (librbd allows far less). */
#define ST_RBD_MAX_DEPTH 256u

/* librbd calls the progress callback unconditionally: it may not be NULL. */
static int no_progress(uint64_t done, uint64_t total, void *arg)
{
    (void)done;
    (void)total;
    (void)arg;
    return 0;
}

int st_rbd_size(rados_ioctx_t ioctx, const char *name, const char *snap, uint64_t *size)
{
    rbd_image_t img;
    int rc;

    rc = rbd_open_read_only(ioctx, name, &img, snap);
    if (rc < 0) {
        if (rc != -ENOENT)
            st_error("cannot open rbd image %s: %s", name, strerror(-rc));
        return rc;
    }
    rc = rbd_get_size(img, size);
    if (rc < 0)
        st_error("rbd image %s: cannot get its size: %s", name, strerror(-rc));
    rbd_close(img);
    return rc;
}

/* Open name (read-write) for one call: -ENOENT quietly, other errors logged. */
static int open_image(rados_ioctx_t ioctx, const char *name, rbd_image_t *img)
{
    int rc = rbd_open(ioctx, name, img, NULL);

    if (rc < 0 && rc != -ENOENT)
        st_error("cannot open rbd image %s: %s", name, strerror(-rc));
    return rc;
}

int st_rbd_create(rados_ioctx_t ioctx, const char *name, uint64_t size)
{
    rbd_image_options_t opts;
    int rc;

    /* No options: the cluster's rbd default features, striping and order (22). */
    rbd_image_options_create(&opts);
    rc = st_rbd_create_opts(ioctx, name, size, opts);
    rbd_image_options_destroy(opts);
    return rc;
}

int st_rbd_create_opts(rados_ioctx_t ioctx, const char *name, uint64_t size,
                       rbd_image_options_t opts)
{
    int rc = rbd_create4(ioctx, name, size, opts);

    if (rc == -EEXIST)
        st_info("rbd image %s already exists", name);
    else if (rc < 0)
        st_error("cannot create rbd image %s (%" PRIu64 " bytes): %s", name, size, strerror(-rc));
    return rc;
}

int st_rbd_resize(rados_ioctx_t ioctx, const char *name, uint64_t size)
{
    rbd_image_t img;
    int rc;

    rc = open_image(ioctx, name, &img);
    if (rc < 0)
        return rc;
    rc = rbd_resize2(img, size, false, no_progress, NULL);
    if (rc < 0)
        st_error("cannot resize rbd image %s to %" PRIu64 " bytes: %s", name, size, strerror(-rc));
    rbd_close(img);
    return rc;
}

int st_rbd_snap_create(rados_ioctx_t ioctx, const char *name, const char *snap, bool protect)
{
    rbd_image_t img;
    bool exists = false;
    int rc;

    rc = open_image(ioctx, name, &img);
    if (rc < 0)
        return rc;
    rc = rbd_snap_exists(img, snap, &exists);
    if (rc == 0 && !exists) {
        rc = rbd_snap_create(img, snap);
        if (rc == -EEXIST) /* made meanwhile by another daemon */
            rc = 0;
    }
    if (rc < 0) {
        st_error("rbd image %s: cannot create snapshot %s: %s", name, snap, strerror(-rc));
    } else if (protect) {
        rc = rbd_snap_protect(img, snap);
        if (rc == -EBUSY) /* already protected */
            rc = 0;
        if (rc < 0)
            st_error("rbd image %s: cannot protect snapshot %s: %s", name, snap, strerror(-rc));
    }
    rbd_close(img);
    return rc;
}

int st_rbd_snap_protect(rados_ioctx_t ioctx, const char *name, const char *snap)
{
    return st_rbd_snap_create(ioctx, name, snap, true);
}

int st_rbd_clone(rados_ioctx_t parent_ioctx, const char *parent, const char *snap,
                 rados_ioctx_t dst_ioctx, const char *dst_name, uint64_t size)
{
    rbd_image_options_t opts;
    rbd_image_t img = NULL;
    uint64_t csize = 0;
    int rc;

    /* No options: librbd's defaults (the cluster's rbd default features).  The
     * parent is not opened here, so the cost does not depend on it. */
    rbd_image_options_create(&opts);
    rc = rbd_clone3(parent_ioctx, parent, snap, dst_ioctx, dst_name, opts);
    rbd_image_options_destroy(opts);
    if (rc == -EEXIST)
        st_info("clone %s already exists", dst_name);
    else if (rc < 0)
        st_error("cannot clone %s@%s to %s: %s", parent, snap, dst_name, strerror(-rc));
    if (rc < 0 || size == 0)
        return rc;
    rc = rbd_open(dst_ioctx, dst_name, &img, NULL);
    if (rc == 0)
        rc = rbd_get_size(img, &csize);
    if (rc == 0 && size > csize)
        rc = rbd_resize2(img, size, false, no_progress, NULL);
    if (img)
        rbd_close(img);
    if (rc < 0) {
        st_error("cannot grow clone %s to %" PRIu64 " bytes: %s", dst_name, size, strerror(-rc));
        if (rbd_remove(dst_ioctx, dst_name) < 0)
            st_warn("cannot remove clone %s after a failed resize", dst_name);
    }
    return rc;
}

/* The children of the image's open snapshot (growing the array as asked). */
static int list_children(rbd_image_t img, rbd_linked_image_spec_t **out, size_t *n)
{
    rbd_linked_image_spec_t *v = NULL;
    size_t cap = 8;
    int rc;

    for (;;) {
        v = calloc(cap, sizeof(*v));
        if (!v)
            return -ENOMEM;
        *n = cap;
        rc = rbd_list_children3(img, v, n);
        if (rc != -ERANGE)
            break;
        free(v);
        cap = *n > cap ? *n : cap * 2;
    }
    if (rc < 0) {
        free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int st_rbd_children(rados_ioctx_t ioctx, const char *name, const char *snap, size_t *count)
{
    rbd_linked_image_spec_t *v = NULL;
    rbd_image_t img;
    size_t n = 0, live = 0;
    int rc;

    rc = rbd_open_read_only(ioctx, name, &img, snap);
    if (rc < 0) {
        if (rc != -ENOENT)
            st_error("cannot open rbd image %s@%s: %s", name, snap, strerror(-rc));
        return rc;
    }
    rc = list_children(img, &v, &n);
    if (rc < 0) {
        st_error("rbd image %s@%s: cannot list children: %s", name, snap, strerror(-rc));
    } else {
        for (size_t i = 0; i < n; i++)
            if (!v[i].trash)
                live++;
        rbd_linked_image_spec_list_cleanup(v, n);
        free(v);
        *count = live;
    }
    rbd_close(img);
    return rc;
}

int st_rbd_snap_remove(rados_ioctx_t ioctx, const char *name, const char *snap)
{
    rbd_linked_image_spec_t *v = NULL;
    rbd_image_t img;
    bool exists = false;
    size_t nc = 0;
    int prot = 0, rc;

    rc = open_image(ioctx, name, &img);
    if (rc < 0)
        return rc;
    rc = rbd_snap_exists(img, snap, &exists);
    if (rc == 0 && !exists) {
        rbd_close(img);
        return -ENOENT;
    }
    /* Clones (live or in the trash) pin the snapshot whether protected or not:
     * with clone v2 librbd would otherwise move it to the trash namespace. */
    if (rc == 0)
        rc = rbd_snap_set(img, snap);
    if (rc == 0) {
        rc = list_children(img, &v, &nc);
        rbd_snap_set(img, NULL);
    }
    if (rc == 0) {
        rbd_linked_image_spec_list_cleanup(v, nc);
        free(v);
        if (nc) {
            st_info("rbd image %s@%s has %zu clone(s): not removed", name, snap, nc);
            rbd_close(img);
            return -EBUSY;
        }
        rc = rbd_snap_is_protected(img, snap, &prot);
    }
    if (rc == 0 && prot)
        rc = rbd_snap_unprotect(img, snap);
    if (rc == 0)
        rc = rbd_snap_remove(img, snap);
    if (rc == -EBUSY)
        st_info("rbd image %s@%s gained a clone: not removed", name, snap);
    else if (rc == -ENOENT)
        st_info("rbd image %s@%s was removed meanwhile", name, snap);
    else if (rc < 0)
        st_error("rbd image %s: cannot remove snapshot %s: %s", name, snap, strerror(-rc));
    rbd_close(img);
    return rc;
}

int st_rbd_rollback(rados_ioctx_t ioctx, const char *name, const char *snap)
{
    rbd_image_t img;
    int rc;

    rc = open_image(ioctx, name, &img);
    if (rc < 0)
        return rc;
    rc = rbd_snap_rollback_with_progress(img, snap, no_progress, NULL);
    if (rc < 0 && rc != -ENOENT)
        st_error("cannot roll rbd image %s back to %s: %s", name, snap, strerror(-rc));
    rbd_close(img);
    return rc;
}

int st_rbd_flatten(rados_ioctx_t ioctx, const char *name)
{
    rbd_image_t img;
    int rc;

    rc = open_image(ioctx, name, &img);
    if (rc < 0)
        return rc;
    rc = rbd_flatten_with_progress(img, no_progress, NULL);
    if (rc < 0)
        st_error("cannot flatten rbd image %s: %s", name, strerror(-rc));
    rbd_close(img);
    return rc;
}

/* Objects an extent report touches, marked in a byte per object. */
struct objmarks {
    uint8_t *bit;
    uint64_t objsz, n;
};

static int mark_objects(uint64_t off, size_t len, int exists, void *arg)
{
    struct objmarks *m = arg;

    for (uint64_t o = off / m->objsz; exists && len && o <= (off + len - 1) / m->objsz &&
                                      o < m->n; o++)
        m->bit[o] = 1;
    return 0;
}

static bool all_zero(const char *buf, size_t len)
{
    return len == 0 || (buf[0] == 0 && memcmp(buf, buf + 1, len - 1) == 0);
}

/* Copy up, object by object, what the clone still reads from its parent
 * (read through the clone, written back to it), each object paced first. */
static int copy_up_paced(rbd_image_t img, const char *name, st_rbd_pace_fn pace, void *arg)
{
    rbd_image_info_t info;
    uint64_t overlap = 0;
    struct objmarks own = { 0 }, any = { 0 };
    char *buf = NULL;
    int rc = rbd_stat(img, &info, sizeof(info));

    if (rc == 0)
        rc = rbd_get_overlap(img, &overlap);
    if (rc < 0 || overlap == 0)
        return rc;
    own.objsz = any.objsz = info.obj_size;
    own.n = any.n = (overlap + info.obj_size - 1) / info.obj_size;
    own.bit = calloc(own.n, 1);
    any.bit = calloc(any.n, 1);
    buf = malloc(info.obj_size);
    if (!own.bit || !any.bit || !buf) {
        rc = -ENOMEM;
        goto out;
    }
    /* whole objects, with fast-diff: the clone's own, then its own or its parents' */
    rc = rbd_diff_iterate2(img, NULL, 0, overlap, 0, 1, mark_objects, &own);
    if (rc == 0)
        rc = rbd_diff_iterate2(img, NULL, 0, overlap, 1, 1, mark_objects, &any);
    for (uint64_t o = 0; rc == 0 && o < own.n; o++) {
        uint64_t off = o * info.obj_size;
        size_t len = (size_t)(overlap - off < info.obj_size ? overlap - off : info.obj_size);
        if (!any.bit[o] || own.bit[o])
            continue;
        if ((rc = pace(arg, len)) < 0)
            break;
        ssize_t got = rbd_read2(img, off, len, buf, 0);
        if (got < 0)
            rc = (int)got;
        else if (!all_zero(buf, (size_t)got)) {
            ssize_t put = rbd_write2(img, off, (size_t)got, buf, 0);
            rc = put < 0 ? (int)put : 0;
        }
    }
    if (rc < 0)
        st_error("cannot copy up rbd image %s: %s", name, strerror(-rc));
out:
    free(buf);
    free(own.bit);
    free(any.bit);
    return rc;
}

int st_rbd_flatten_paced(rados_ioctx_t ioctx, const char *name, st_rbd_pace_fn pace, void *arg)
{
    rbd_image_t img;
    int rc;

    if (!pace)
        return st_rbd_flatten(ioctx, name);
    if ((rc = open_image(ioctx, name, &img)) < 0)
        return rc;
    rc = copy_up_paced(img, name, pace, arg);
    /* what is left is bookkeeping: every object the parent lends is now the clone's */
    if (rc == 0 && (rc = rbd_flatten_with_progress(img, no_progress, NULL)) < 0)
        st_error("cannot flatten rbd image %s: %s", name, strerror(-rc));
    rbd_close(img);
    return rc;
}

/* Open the parent described by spec@snap read-only, in its own pool (and
 * namespace); *pio is the I/O context the caller destroys after closing. */
static int open_parent(rados_ioctx_t ioctx, const rbd_linked_image_spec_t *spec,
                       const rbd_snap_spec_t *snap, rados_ioctx_t *pio, rbd_image_t *img)
{
    int rc;

    rc = rados_ioctx_create(rados_ioctx_get_cluster(ioctx), spec->pool_name, pio);
    if (rc < 0)
        return rc;
    rados_ioctx_set_namespace(*pio, spec->pool_namespace);
    /* By id: a parent in the trash keeps its id but has no name. */
    rc = rbd_open_by_id_read_only(*pio, spec->image_id, img, NULL);
    if (rc == 0) {
        rc = rbd_snap_set_by_id(*img, snap->id);
        if (rc < 0)
            rbd_close(*img);
    }
    if (rc < 0)
        rados_ioctx_destroy(*pio);
    return rc;
}

int st_rbd_parent_depth(rados_ioctx_t ioctx, const char *name, unsigned *depth)
{
    rados_ioctx_t cur_io = NULL;
    rbd_image_t img;
    unsigned n = 0;
    int rc;

    rc = rbd_open_read_only(ioctx, name, &img, NULL);
    if (rc < 0) {
        if (rc != -ENOENT)
            st_error("cannot open rbd image %s: %s", name, strerror(-rc));
        return rc;
    }
    for (;;) {
        rbd_linked_image_spec_t spec;
        rbd_snap_spec_t snap;
        rados_ioctx_t pio;
        rbd_image_t parent;

        rc = rbd_get_parent(img, &spec, &snap);
        if (rc == -ENOENT) { /* no parent: the top of the chain */
            rc = 0;
            break;
        }
        if (rc < 0) {
            st_error("rbd image %s: cannot read its parent at depth %u: %s", name, n,
                     strerror(-rc));
            break;
        }
        if (++n > ST_RBD_MAX_DEPTH) {
            st_error("rbd image %s: parent chain longer than %u", name, ST_RBD_MAX_DEPTH);
            rc = -ELOOP;
        } else {
            rc = open_parent(ioctx, &spec, &snap, &pio, &parent);
            if (rc < 0)
                st_error("rbd image %s: cannot open its ancestor %s/%s@%s: %s", name,
                         spec.pool_name, spec.image_name, snap.name, strerror(-rc));
        }
        rbd_linked_image_spec_cleanup(&spec);
        rbd_snap_spec_cleanup(&snap);
        if (rc < 0)
            break;
        rbd_close(img);
        if (cur_io)
            rados_ioctx_destroy(cur_io);
        img = parent;
        cur_io = pio;
    }
    rbd_close(img);
    if (cur_io)
        rados_ioctx_destroy(cur_io);
    if (rc == 0)
        *depth = n;
    return rc;
}

/* Snapshots of an open image (growing the array as asked). */
static int list_snaps(rbd_image_t img, rbd_snap_info_t **out, int *n)
{
    rbd_snap_info_t *v = NULL;
    int max = 8, rc;

    for (;;) {
        v = calloc((size_t)max + 1, sizeof(*v));
        if (!v)
            return -ENOMEM;
        rc = rbd_snap_list(img, v, &max);
        if (rc != -ERANGE)
            break;
        free(v);
    }
    if (rc < 0) {
        free(v);
        return rc;
    }
    *out = v;
    *n = rc;
    return 0;
}

/* -EBUSY if any protected snapshot still has children (live or in trash). */
static int check_no_children(rbd_image_t img, const char *name, const rbd_snap_info_t *snaps, int n)
{
    for (int i = 0; i < n; i++) {
        rbd_linked_image_spec_t *v = NULL;
        size_t nc = 0;
        int prot = 0, rc;

        rc = rbd_snap_is_protected(img, snaps[i].name, &prot);
        if (rc == 0 && prot) {
            rc = rbd_snap_set(img, snaps[i].name);
            if (rc == 0)
                rc = list_children(img, &v, &nc);
            rbd_snap_set(img, NULL);
            if (rc == 0) {
                rbd_linked_image_spec_list_cleanup(v, nc);
                free(v);
            }
        }
        if (rc < 0) {
            st_error("rbd image %s@%s: cannot check its clones: %s", name, snaps[i].name,
                     strerror(-rc));
            return rc;
        }
        if (nc) {
            st_info("rbd image %s@%s has %zu clone(s): not removed", name, snaps[i].name, nc);
            return -EBUSY;
        }
    }
    return 0;
}

int st_rbd_remove(rados_ioctx_t ioctx, const char *name)
{
    rbd_snap_info_t *snaps = NULL;
    rbd_image_t img = NULL;
    int n = 0, rc;

    rc = rbd_open(ioctx, name, &img, NULL);
    if (rc == -ENOENT) {
        /* a removal interrupted by a crash can leave the pool's directory
         * entry without a header: rbd_remove finishes it (-ENOENT if none) */
        img = NULL;
        rc = rbd_remove(ioctx, name);
        if (rc == 0)
            st_warn("rbd image %s: finished an interrupted removal", name);
        goto out;
    }
    if (rc < 0) {
        img = NULL;
        st_error("cannot open rbd image %s: %s", name, strerror(-rc));
        goto out;
    }
    rc = list_snaps(img, &snaps, &n);
    if (rc < 0) {
        st_error("rbd image %s: cannot list snapshots: %s", name, strerror(-rc));
        goto out;
    }
    rc = check_no_children(img, name, snaps, n);
    for (int i = 0; rc == 0 && i < n; i++) {
        int prot = 0;

        rc = rbd_snap_is_protected(img, snaps[i].name, &prot);
        if (rc == 0 && prot)
            rc = rbd_snap_unprotect(img, snaps[i].name);
        if (rc == 0)
            rc = rbd_snap_remove(img, snaps[i].name);
        if (rc == -EBUSY)
            st_info("rbd image %s@%s gained a clone: not removed", name, snaps[i].name);
        else if (rc < 0)
            st_error("rbd image %s: cannot remove snapshot %s: %s", name, snaps[i].name,
                     strerror(-rc));
    }
    rbd_close(img);
    img = NULL;
    if (rc == 0) {
        rc = rbd_remove(ioctx, name);
        if (rc == -EBUSY)
            st_info("rbd image %s is still open elsewhere: not removed", name);
        else if (rc < 0 && rc != -ENOENT)
            st_error("cannot remove rbd image %s: %s", name, strerror(-rc));
    }
out:
    if (snaps) {
        rbd_snap_list_end(snaps);
        free(snaps);
    }
    if (img)
        rbd_close(img);
    return rc;
}

int st_rbd_list(rados_ioctx_t ioctx, char ***names, size_t *count)
{
    rbd_image_spec_t *v = NULL;
    char **out = NULL;
    size_t n = 16;
    int rc;

    for (;;) {
        size_t cap = n;

        v = calloc(cap, sizeof(*v));
        if (!v)
            return -ENOMEM;
        rc = rbd_list2(ioctx, v, &n);
        if (rc != -ERANGE)
            break;
        free(v);
        if (n <= cap)
            n = cap * 2;
    }
    if (rc < 0) {
        st_error("cannot list rbd images: %s", strerror(-rc));
        free(v);
        return rc;
    }
    out = calloc(n ? n : 1, sizeof(*out));
    rc = out ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        out[i] = strdup(v[i].name);
        if (!out[i])
            rc = -ENOMEM;
    }
    rbd_image_spec_list_cleanup(v, n);
    free(v);
    if (rc < 0) {
        st_rbd_list_free(out, n);
        return rc;
    }
    *names = out;
    *count = n;
    return 0;
}

void st_rbd_list_free(char **names, size_t count)
{
    if (!names)
        return;
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

int st_rbd_rename(rados_ioctx_t ioctx, const char *from, const char *to)
{
    int rc = rbd_rename(ioctx, from, to);

    if (rc < 0 && rc != -ENOENT && rc != -EEXIST)
        st_error("cannot rename rbd image %s to %s: %s", from, to, strerror(-rc));
    return rc;
}

int st_rbd_name_by_id(rados_ioctx_t ioctx, const char *id, char *buf, size_t len)
{
    rbd_image_t img;
    size_t n = len;
    int rc = rbd_open_by_id_read_only(ioctx, id, &img, NULL);

    if (rc < 0)
        return rc == -ENOENT || rc == -EINVAL ? -ENOENT : rc;
    rc = rbd_get_name(img, buf, &n);
    rbd_close(img);
    return rc < 0 ? rc : 0;
}

int st_rbd_snap_count(rados_ioctx_t ioctx, const char *name, size_t *count)
{
    rbd_image_t img;
    rbd_snap_info_t *v = NULL;
    int n = 0, rc = rbd_open_read_only(ioctx, name, &img, NULL);

    if (rc < 0)
        return rc;
    rc = list_snaps(img, &v, &n);
    rbd_close(img);
    if (rc < 0)
        return rc;
    rbd_snap_list_end(v);
    free(v);
    *count = (size_t)n;
    return 0;
}

int st_rbd_created(rados_ioctx_t ioctx, const char *name, int64_t *secs)
{
    rbd_image_t img;
    struct timespec ts;
    int rc = rbd_open_read_only(ioctx, name, &img, NULL);

    if (rc < 0)
        return rc;
    rc = rbd_get_create_timestamp(img, &ts);
    rbd_close(img);
    if (rc == 0)
        *secs = (int64_t)ts.tv_sec;
    return rc;
}

int st_rbd_pool_since(rados_ioctx_t ioctx, const char *key, int64_t now, int64_t *since)
{
    char v[32], *end = NULL;
    size_t len = sizeof(v);
    int rc = rbd_pool_metadata_get(ioctx, key, v, &len);

    if (rc == -ENOENT) {
        snprintf(v, sizeof(v), "%lld", (long long)now);
        if ((rc = rbd_pool_metadata_set(ioctx, key, v)) < 0)
            return rc;
        len = sizeof(v);
        rc = rbd_pool_metadata_get(ioctx, key, v, &len);   /* a racing first start wrote first */
    }
    if (rc < 0)
        return rc;
    long long n = strtoll(v, &end, 10);
    if (end == v || n <= 0)
        return -EINVAL;
    *since = n;
    return 0;
}

int st_rbd_watchers(rados_ioctx_t ioctx, const char *name, size_t *count)
{
    rbd_image_t img;
    rbd_image_watcher_t w[16];
    size_t n = sizeof(w) / sizeof(w[0]);
    int rc = rbd_open_read_only(ioctx, name, &img, NULL);

    if (rc < 0)
        return rc;
    rc = rbd_watchers_list(img, w, &n);
    if (rc == 0)
        rbd_watchers_list_cleanup(w, n);
    else if (rc == -ERANGE)
        rc = 0;   /* more than fit: n says how many */
    rbd_close(img);
    if (rc == 0)
        *count = n;
    return rc;
}
