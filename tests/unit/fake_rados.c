/* fake_rados.c — the in-memory RADOS omap of fake_rados.h: objects with sorted
 * omap keys, read ops (by keys, by range) and guarded write ops with librados's
 * semantics (a missing key compares as "", a guard failing cancels the whole op). */
#include "fake_rados.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

struct fkv {
    char *key, *val;
    size_t klen, vlen;
};

struct fobj {
    struct fobj *next;
    rados_ioctx_t io;
    char *oid;
    struct fkv *kv; /* sorted by key (memcmp, then length) */
    size_t n, cap;
};

static struct fobj *objects;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int fail_rc;
static unsigned fail_n, writes;
static char ioctxs[8];

static int kcmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : al < bl ? -1 : al > bl;
}

static struct fobj *obj_find(rados_ioctx_t io, const char *oid)
{
    for (struct fobj *o = objects; o; o = o->next)
        if (o->io == io && strcmp(o->oid, oid) == 0)
            return o;
    return NULL;
}

static struct fobj *obj_make(rados_ioctx_t io, const char *oid)
{
    struct fobj *o = calloc(1, sizeof(*o));

    o->io = io;
    o->oid = strdup(oid);
    o->next = objects;
    objects = o;
    return o;
}

/* Index of key in o, or -(insertion point) - 1. */
static long kv_find(const struct fobj *o, const char *key, size_t klen)
{
    size_t lo = 0, hi = o->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = kcmp(o->kv[mid].key, o->kv[mid].klen, key, klen);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void kv_set(struct fobj *o, const char *key, size_t klen, const char *val, size_t vlen)
{
    long i = kv_find(o, key, klen);

    if (i >= 0) {
        free(o->kv[i].val);
        o->kv[i].val = dupn(val, vlen);
        o->kv[i].vlen = vlen;
        return;
    }
    size_t at = (size_t)(-i - 1);
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->kv = realloc(o->kv, o->cap * sizeof(*o->kv));
    }
    memmove(&o->kv[at + 1], &o->kv[at], (o->n - at) * sizeof(*o->kv));
    o->kv[at] = (struct fkv){dupn(key, klen), dupn(val, vlen), klen, vlen};
    o->n++;
}

static void kv_rm(struct fobj *o, const char *key, size_t klen)
{
    long i = kv_find(o, key, klen);

    if (i < 0)
        return;
    free(o->kv[i].key);
    free(o->kv[i].val);
    memmove(&o->kv[i], &o->kv[i + 1], (o->n - (size_t)i - 1) * sizeof(*o->kv));
    o->n--;
}

void fake_rados_reset(void)
{
    pthread_mutex_lock(&mu);
    while (objects) {
        struct fobj *o = objects;
        objects = o->next;
        for (size_t i = 0; i < o->n; i++) {
            free(o->kv[i].key);
            free(o->kv[i].val);
        }
        free(o->kv);
        free(o->oid);
        free(o);
    }
    fail_rc = 0;
    fail_n = 0;
    writes = 0;
    pthread_mutex_unlock(&mu);
}

void fake_rados_fail(int rc, unsigned n)
{
    pthread_mutex_lock(&mu);
    fail_rc = rc;
    fail_n = n;
    pthread_mutex_unlock(&mu);
}

unsigned fake_rados_writes(void)
{
    return writes;
}

rados_ioctx_t fake_rados_ioctx(unsigned n)
{
    return &ioctxs[n % sizeof(ioctxs)];
}

/* Under mu: whether an injected failure is due. */
static int injected(void)
{
    if (!fail_n)
        return 0;
    fail_n--;
    return fail_rc;
}

/* ---- iterators: a snapshot of key/value pairs ---- */

struct fiter {
    struct fkv *kv;
    size_t n, pos;
};

static struct fiter *iter_new(void)
{
    return calloc(1, sizeof(struct fiter));
}

static void iter_add(struct fiter *it, const struct fkv *kv)
{
    it->kv = realloc(it->kv, (it->n + 1) * sizeof(*it->kv));
    it->kv[it->n++] =
        (struct fkv){dupn(kv->key, kv->klen), dupn(kv->val, kv->vlen), kv->klen, kv->vlen};
}

ST_WRAP(rados_omap_get_next2, int,
        (rados_omap_iter_t iter, char **key, char **val, size_t *key_len, size_t *val_len))
{
    struct fiter *it = iter;

    if (!it || it->pos >= it->n) {
        *key = NULL;
        *val = NULL;
        if (key_len)
            *key_len = 0;
        if (val_len)
            *val_len = 0;
        return 0;
    }
    *key = it->kv[it->pos].key;
    *val = it->kv[it->pos].val;
    if (key_len)
        *key_len = it->kv[it->pos].klen;
    if (val_len)
        *val_len = it->kv[it->pos].vlen;
    it->pos++;
    return 0;
}

ST_WRAP(rados_omap_get_end, void, (rados_omap_iter_t iter))
{
    struct fiter *it = iter;

    if (!it)
        return;
    for (size_t i = 0; i < it->n; i++) {
        free(it->kv[i].key);
        free(it->kv[i].val);
    }
    free(it->kv);
    free(it);
}

/* ---- read ops ---- */

#define SUB_MAX 4

struct fread_sub {
    bool by_keys;
    char **keys; /* by_keys */
    size_t *klens, nkeys;
    char *after, *prefix; /* range */
    uint64_t max;
    unsigned char *pmore;
    rados_omap_iter_t *iter;
    int *prval;
};

struct fread_op {
    struct fread_sub sub[SUB_MAX];
    size_t n;
};

ST_WRAP(rados_create_read_op, rados_read_op_t, (void))
{
    return calloc(1, sizeof(struct fread_op));
}

ST_WRAP(rados_release_read_op, void, (rados_read_op_t read_op))
{
    struct fread_op *op = read_op;

    if (!op)
        return;
    for (size_t i = 0; i < op->n; i++) {
        for (size_t k = 0; k < op->sub[i].nkeys; k++)
            free(op->sub[i].keys[k]);
        free(op->sub[i].keys);
        free(op->sub[i].klens);
        free(op->sub[i].after);
        free(op->sub[i].prefix);
    }
    free(op);
}

ST_WRAP(rados_read_op_omap_get_vals2, void,
        (rados_read_op_t read_op, const char *start_after, const char *filter_prefix,
         uint64_t max_return, rados_omap_iter_t *iter, unsigned char *pmore, int *prval))
{
    struct fread_op *op = read_op;
    struct fread_sub *s = &op->sub[op->n++];

    s->after = strdup(start_after ? start_after : "");
    s->prefix = strdup(filter_prefix ? filter_prefix : "");
    s->max = max_return;
    s->iter = iter;
    s->pmore = pmore;
    s->prval = prval;
}

ST_WRAP(rados_read_op_omap_get_vals_by_keys2, void,
        (rados_read_op_t read_op, char const *const *keys, size_t num_keys, const size_t *key_lens,
         rados_omap_iter_t *iter, int *prval))
{
    struct fread_op *op = read_op;
    struct fread_sub *s = &op->sub[op->n++];

    s->by_keys = true;
    s->keys = calloc(num_keys ? num_keys : 1, sizeof(char *));
    s->klens = calloc(num_keys ? num_keys : 1, sizeof(size_t));
    for (size_t i = 0; i < num_keys; i++) {
        s->klens[i] = key_lens ? key_lens[i] : strlen(keys[i]);
        s->keys[i] = dupn(keys[i], s->klens[i]);
    }
    s->nkeys = num_keys;
    s->iter = iter;
    s->prval = prval;
}

static void read_sub(const struct fobj *o, struct fread_sub *s)
{
    struct fiter *it = iter_new();

    if (s->by_keys) {
        for (size_t i = 0; i < o->n; i++)
            for (size_t k = 0; k < s->nkeys; k++)
                if (kcmp(o->kv[i].key, o->kv[i].klen, s->keys[k], s->klens[k]) == 0) {
                    iter_add(it, &o->kv[i]);
                    break;
                }
    } else {
        size_t plen = strlen(s->prefix), alen = strlen(s->after);
        bool more = false;
        for (size_t i = 0; i < o->n; i++) {
            const struct fkv *kv = &o->kv[i];
            if (kcmp(kv->key, kv->klen, s->after, alen) <= 0 || kv->klen < plen ||
                memcmp(kv->key, s->prefix, plen) != 0)
                continue;
            if (it->n == s->max) {
                more = true;
                break;
            }
            iter_add(it, kv);
        }
        if (s->pmore)
            *s->pmore = more;
    }
    if (s->prval)
        *s->prval = 0;
    *s->iter = it;
}

ST_WRAP(rados_read_op_operate, int,
        (rados_read_op_t read_op, rados_ioctx_t io, const char *oid, int flags))
{
    struct fread_op *op = read_op;
    int rc;

    pthread_mutex_lock(&mu);
    const struct fobj *o = obj_find(io, oid);
    rc = injected();
    if (rc == 0 && !o)
        rc = -ENOENT;
    for (size_t i = 0; rc == 0 && i < op->n; i++)
        read_sub(o, &op->sub[i]);
    pthread_mutex_unlock(&mu);
    return rc;
}

/* ---- write ops ---- */

enum fw_kind { FW_CMP, FW_SET, FW_RM };

struct fwrite_sub {
    enum fw_kind kind;
    char *key, *val;
    size_t klen, vlen;
    uint8_t cmp;
    int *prval;
};

struct fwrite_op {
    bool create;
    struct fwrite_sub *sub;
    size_t n;
};

static void wadd(struct fwrite_op *op, enum fw_kind kind, const char *key, size_t klen,
                 const char *val, size_t vlen)
{
    op->sub = realloc(op->sub, (op->n + 1) * sizeof(*op->sub));
    op->sub[op->n++] = (struct fwrite_sub){
        kind, dupn(key, klen), val ? dupn(val, vlen) : NULL, klen, vlen, 0, NULL};
}

ST_WRAP(rados_create_write_op, rados_write_op_t, (void))
{
    return calloc(1, sizeof(struct fwrite_op));
}

ST_WRAP(rados_release_write_op, void, (rados_write_op_t write_op))
{
    struct fwrite_op *op = write_op;

    if (!op)
        return;
    for (size_t i = 0; i < op->n; i++) {
        free(op->sub[i].key);
        free(op->sub[i].val);
    }
    free(op->sub);
    free(op);
}

ST_WRAP(rados_write_op_create, void, (rados_write_op_t write_op, int exclusive, const char *cat))
{
    ((struct fwrite_op *)write_op)->create = true;
}

ST_WRAP(rados_write_op_omap_cmp2, void,
        (rados_write_op_t write_op, const char *key, uint8_t comparison_operator, const char *val,
         size_t key_len, size_t val_len, int *prval))
{
    struct fwrite_op *op = write_op;

    wadd(op, FW_CMP, key, key_len, val, val_len);
    op->sub[op->n - 1].cmp = comparison_operator;
    op->sub[op->n - 1].prval = prval;
}

ST_WRAP(rados_write_op_omap_set2, void,
        (rados_write_op_t write_op, char const *const *keys, char const *const *vals,
         const size_t *key_lens, const size_t *val_lens, size_t num))
{
    for (size_t i = 0; i < num; i++)
        wadd(write_op, FW_SET, keys[i], key_lens[i], vals[i], val_lens[i]);
}

ST_WRAP(rados_write_op_omap_rm_keys2, void,
        (rados_write_op_t write_op, char const *const *keys, const size_t *key_lens,
         size_t keys_len))
{
    for (size_t i = 0; i < keys_len; i++)
        wadd(write_op, FW_RM, keys[i], key_lens[i], NULL, 0);
}

/* librados: the stored value (missing = empty) compared with the given one. */
static bool cmp_ok(const struct fobj *o, const struct fwrite_sub *s)
{
    long i = o ? kv_find(o, s->key, s->klen) : -1;
    const char *cur = i >= 0 ? o->kv[i].val : "";
    size_t clen = i >= 0 ? o->kv[i].vlen : 0;
    int c = kcmp(cur, clen, s->val, s->vlen);

    switch (s->cmp) {
    case LIBRADOS_CMPXATTR_OP_EQ:
        return c == 0;
    case LIBRADOS_CMPXATTR_OP_NE:
        return c != 0;
    case LIBRADOS_CMPXATTR_OP_GT:
        return c > 0;
    case LIBRADOS_CMPXATTR_OP_GTE:
        return c >= 0;
    case LIBRADOS_CMPXATTR_OP_LT:
        return c < 0;
    case LIBRADOS_CMPXATTR_OP_LTE:
        return c <= 0;
    }
    return false;
}

ST_WRAP(rados_write_op_operate2, int,
        (rados_write_op_t write_op, rados_ioctx_t io, const char *oid, struct timespec *mtime,
         int flags))
{
    struct fwrite_op *op = write_op;
    int rc;

    pthread_mutex_lock(&mu);
    struct fobj *o = obj_find(io, oid);
    rc = injected();
    /* guards and removals need the object (unless this op creates it) */
    for (size_t i = 0; rc == 0 && i < op->n; i++) {
        if (op->sub[i].kind != FW_SET && !o && !op->create)
            rc = -ENOENT;
        else if (op->sub[i].kind == FW_CMP && !cmp_ok(o, &op->sub[i])) {
            if (op->sub[i].prval)
                *op->sub[i].prval = -ECANCELED;
            rc = -ECANCELED;
        }
    }
    if (rc == 0) {
        if (!o)
            o = obj_make(io, oid);
        for (size_t i = 0; i < op->n; i++) {
            if (op->sub[i].kind == FW_SET)
                kv_set(o, op->sub[i].key, op->sub[i].klen, op->sub[i].val, op->sub[i].vlen);
            else if (op->sub[i].kind == FW_RM)
                kv_rm(o, op->sub[i].key, op->sub[i].klen);
        }
        writes++;
    }
    pthread_mutex_unlock(&mu);
    return rc;
}
