/* fake_rbd.c — fake_rbd.h: images in a list, snapshots and metadata per image,
 * clones linked to parent@snap (removal -EBUSY while they live), and one-shot
 * failure injection by function name.  Single-threaded (jobs run on the
 * test's thread, fake_work.h). */
#include "fake_rbd.h"

#include <errno.h>
#include <jansson.h>
#include <rbd/librbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"
#include "strata/rbd.h"
#include "strata/workpool.h"

#define FNAME_MAX 96

struct fsnap {
    char name[FNAME_MAX];
    bool protect;
};

struct fimg {
    struct fimg *next;
    rados_ioctx_t io;
    char name[FNAME_MAX], id[32];
    uint64_t size;
    int64_t created;
    struct fsnap snaps[16];
    size_t nsnaps;
    rados_ioctx_t pio; /* parent (pio NULL: none) */
    char parent[FNAME_MAX], psnap[FNAME_MAX];
    json_t *meta;
};

struct fpool {
    struct fpool *next;
    rados_ioctx_t io;
    char key[64];
    int64_t since;
};

static struct fimg *images;
static struct fpool *pools;
static char fail_fn[64];
static int fail_rc;
static unsigned calls, next_id;

void fake_rbd_reset(void)
{
    while (images) {
        struct fimg *i = images;
        images = i->next;
        json_decref(i->meta);
        free(i);
    }
    while (pools) {
        struct fpool *p = pools;
        pools = p->next;
        free(p);
    }
    fail_fn[0] = '\0';
    calls = 0;
}

void fake_rbd_fail(const char *fn, int rc)
{
    snprintf(fail_fn, sizeof(fail_fn), "%s", fn);
    fail_rc = rc;
}

unsigned fake_rbd_calls(void)
{
    return calls;
}

/* Entry of every double: counts the call, answers an injected failure. */
#define ENTER()                                                                                    \
    do {                                                                                           \
        calls++;                                                                                   \
        if (fail_fn[0] && strcmp(fail_fn, __func__ + 7) == 0) {                                    \
            fail_fn[0] = '\0';                                                                     \
            return fail_rc;                                                                        \
        }                                                                                          \
    } while (0)

static struct fimg *find(rados_ioctx_t io, const char *name)
{
    for (struct fimg *i = images; i; i = i->next)
        if (i->io == io && strcmp(i->name, name) == 0)
            return i;
    return NULL;
}

static struct fsnap *snap_find(struct fimg *i, const char *snap)
{
    for (size_t n = 0; i && n < i->nsnaps; n++)
        if (strcmp(i->snaps[n].name, snap) == 0)
            return &i->snaps[n];
    return NULL;
}

static size_t children(const struct fimg *p, const char *snap)
{
    size_t n = 0;

    for (struct fimg *i = images; i; i = i->next)
        n += i->pio == p->io && strcmp(i->parent, p->name) == 0 &&
             (!snap || strcmp(i->psnap, snap) == 0);
    return n;
}

static struct fimg *add(rados_ioctx_t io, const char *name, uint64_t size, int64_t created)
{
    struct fimg *i = calloc(1, sizeof(*i));

    i->io = io;
    snprintf(i->name, sizeof(i->name), "%s", name);
    snprintf(i->id, sizeof(i->id), "fake%u", ++next_id);
    i->size = size;
    i->created = created;
    i->meta = json_object();
    i->next = images;
    images = i;
    return i;
}

int fake_rbd_add(rados_ioctx_t io, const char *name, uint64_t size, int64_t created_secs)
{
    if (find(io, name))
        return -EEXIST;
    add(io, name, size, created_secs);
    return 0;
}

bool fake_rbd_exists(rados_ioctx_t io, const char *name)
{
    return find(io, name) != NULL;
}

bool fake_rbd_snap_exists(rados_ioctx_t io, const char *name, const char *snap)
{
    return snap_find(find(io, name), snap) != NULL;
}

const char *fake_rbd_meta(rados_ioctx_t io, const char *name, const char *key)
{
    struct fimg *i = find(io, name);

    return i ? json_string_value(json_object_get(i->meta, key)) : NULL;
}

ST_WRAP(st_rbd_create, int, (rados_ioctx_t io, const char *name, uint64_t size))
{
    ENTER();
    if (find(io, name))
        return -EEXIST;
    add(io, name, size, st_now_ms() / 1000);
    return 0;
}

ST_WRAP(st_rbd_size, int, (rados_ioctx_t io, const char *name, const char *snap, uint64_t *size))
{
    ENTER();
    struct fimg *i = find(io, name);
    if (!i || (snap && !snap_find(i, snap)))
        return -ENOENT;
    *size = i->size;
    return 0;
}

ST_WRAP(st_rbd_resize, int, (rados_ioctx_t io, const char *name, uint64_t size))
{
    ENTER();
    struct fimg *i = find(io, name);
    if (!i)
        return -ENOENT;
    if (size < i->size)
        return -EINVAL;
    i->size = size;
    return 0;
}

ST_WRAP(st_rbd_snap_create, int, (rados_ioctx_t io, const char *name, const char *snap, bool prot))
{
    ENTER();
    struct fimg *i = find(io, name);
    if (!i)
        return -ENOENT;
    struct fsnap *s = snap_find(i, snap);
    if (!s) {
        if (i->nsnaps == sizeof(i->snaps) / sizeof(i->snaps[0]))
            return -ENOSPC;
        s = &i->snaps[i->nsnaps++];
        snprintf(s->name, sizeof(s->name), "%s", snap);
    }
    s->protect |= prot;
    return 0;
}

ST_WRAP(st_rbd_snap_protect, int, (rados_ioctx_t io, const char *name, const char *snap))
{
    return __wrap_st_rbd_snap_create(io, name, snap, true);
}

ST_WRAP(st_rbd_snap_remove, int, (rados_ioctx_t io, const char *name, const char *snap))
{
    ENTER();
    struct fimg *i = find(io, name);
    struct fsnap *s = snap_find(i, snap);
    if (!s)
        return -ENOENT;
    if (children(i, snap))
        return -EBUSY;
    *s = i->snaps[--i->nsnaps];
    return 0;
}

ST_WRAP(st_rbd_rollback, int, (rados_ioctx_t io, const char *name, const char *snap))
{
    ENTER();
    return snap_find(find(io, name), snap) ? 0 : -ENOENT;
}

ST_WRAP(st_rbd_clone, int,
        (rados_ioctx_t parent_ioctx, const char *parent, const char *snap, rados_ioctx_t dst_ioctx,
         const char *dst_name, uint64_t size))
{
    ENTER();
    struct fimg *p = find(parent_ioctx, parent);
    if (!snap_find(p, snap))
        return -ENOENT;
    if (find(dst_ioctx, dst_name))
        return -EEXIST;
    struct fimg *c = add(dst_ioctx, dst_name, size > p->size ? size : p->size, st_now_ms() / 1000);
    c->pio = parent_ioctx;
    snprintf(c->parent, sizeof(c->parent), "%s", parent);
    snprintf(c->psnap, sizeof(c->psnap), "%s", snap);
    return 0;
}

ST_WRAP(st_rbd_flatten, int, (rados_ioctx_t io, const char *name))
{
    ENTER();
    struct fimg *i = find(io, name);
    if (!i)
        return -ENOENT;
    if (!i->pio)
        return -EINVAL;
    i->pio = NULL;
    i->parent[0] = i->psnap[0] = '\0';
    return 0;
}

ST_WRAP(st_rbd_flatten_paced, int,
        (rados_ioctx_t io, const char *name, st_rbd_pace_fn pace, void *arg))
{
    struct fimg *i = find(io, name);
    int rc = pace && i ? pace(arg, i->size) : 0;

    return rc < 0 ? rc : __wrap_st_rbd_flatten(io, name);
}

ST_WRAP(st_rbd_parent_depth, int, (rados_ioctx_t io, const char *name, unsigned *depth))
{
    ENTER();
    struct fimg *i = find(io, name);
    if (!i)
        return -ENOENT;
    for (*depth = 0; i && i->pio; (*depth)++)
        i = find(i->pio, i->parent);
    return 0;
}

ST_WRAP(st_rbd_children, int, (rados_ioctx_t io, const char *name, const char *snap, size_t *count))
{
    ENTER();
    struct fimg *i = find(io, name);
    if (!i)
        return -ENOENT;
    *count = children(i, snap);
    return 0;
}

ST_WRAP(st_rbd_remove, int, (rados_ioctx_t io, const char *name))
{
    ENTER();
    struct fimg *i = find(io, name);
    if (!i)
        return -ENOENT;
    if (children(i, NULL))
        return -EBUSY;
    for (struct fimg **pp = &images; *pp; pp = &(*pp)->next)
        if (*pp == i) {
            *pp = i->next;
            break;
        }
    json_decref(i->meta);
    free(i);
    return 0;
}

ST_WRAP(st_rbd_rename, int, (rados_ioctx_t io, const char *from, const char *to))
{
    ENTER();
    struct fimg *i = find(io, from);
    if (!i)
        return -ENOENT;
    if (find(io, to))
        return -EEXIST;
    snprintf(i->name, sizeof(i->name), "%s", to);
    return 0;
}

ST_WRAP(st_rbd_name_by_id, int, (rados_ioctx_t io, const char *id, char *buf, size_t len))
{
    ENTER();
    for (struct fimg *i = images; i; i = i->next)
        if (i->io == io && strcmp(i->id, id) == 0) {
            snprintf(buf, len, "%s", i->name);
            return 0;
        }
    return -ENOENT;
}

ST_WRAP(st_rbd_created, int, (rados_ioctx_t io, const char *name, int64_t *secs))
{
    ENTER();
    struct fimg *i = find(io, name);
    if (!i)
        return -ENOENT;
    *secs = i->created;
    return 0;
}

ST_WRAP(st_rbd_pool_since, int, (rados_ioctx_t io, const char *key, int64_t now, int64_t *since))
{
    ENTER();
    struct fpool *p;
    for (p = pools; p; p = p->next)
        if (p->io == io && strcmp(p->key, key) == 0)
            break;
    if (!p) {
        p = calloc(1, sizeof(*p));
        p->io = io;
        snprintf(p->key, sizeof(p->key), "%s", key);
        p->since = now;
        p->next = pools;
        pools = p;
    }
    *since = p->since;
    return 0;
}

ST_WRAP(st_rbd_snap_count, int, (rados_ioctx_t io, const char *name, size_t *count))
{
    ENTER();
    struct fimg *i = find(io, name);
    if (!i)
        return -ENOENT;
    *count = i->nsnaps;
    return 0;
}

ST_WRAP(st_rbd_watchers, int, (rados_ioctx_t io, const char *name, size_t *count))
{
    ENTER();
    if (!find(io, name))
        return -ENOENT;
    *count = 0;
    return 0;
}

ST_WRAP(st_rbd_list, int, (rados_ioctx_t io, char ***names, size_t *count))
{
    ENTER();
    size_t n = 0, k = 0;
    for (struct fimg *i = images; i; i = i->next)
        n += i->io == io;
    *names = calloc(n ? n : 1, sizeof(char *));
    for (struct fimg *i = images; i; i = i->next)
        if (i->io == io)
            (*names)[k++] = strdup(i->name);
    *count = n;
    return 0;
}

ST_WRAP(st_rbd_list_free, void, (char **names, size_t count))
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

/* ---- librbd handles: the image itself ---- */

ST_WRAP(rbd_open, int, (rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap))
{
    ENTER();
    struct fimg *i = find(io, name);
    if (!i)
        return -ENOENT;
    *image = i;
    return 0;
}

ST_WRAP(rbd_open_read_only, int,
        (rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap))
{
    return __wrap_rbd_open(io, name, image, snap);
}

ST_WRAP(rbd_close, int, (rbd_image_t image))
{
    return 0;
}

ST_WRAP(rbd_metadata_get, int, (rbd_image_t image, const char *key, char *value, size_t *val_len))
{
    ENTER();
    const char *v = json_string_value(json_object_get(((struct fimg *)image)->meta, key));
    if (!v)
        return -ENOENT;
    size_t need = strlen(v) + 1;
    if (*val_len < need) {
        *val_len = need;
        return -ERANGE;
    }
    memcpy(value, v, need);
    *val_len = need;
    return 0;
}

ST_WRAP(rbd_metadata_set, int, (rbd_image_t image, const char *key, const char *value))
{
    ENTER();
    json_object_set_new(((struct fimg *)image)->meta, key, json_string(value));
    return 0;
}

ST_WRAP(rbd_metadata_remove, int, (rbd_image_t image, const char *key))
{
    ENTER();
    return json_object_del(((struct fimg *)image)->meta, key) == 0 ? 0 : -ENOENT;
}
