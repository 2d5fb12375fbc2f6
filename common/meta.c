/* meta.c — the metadata store and its leases.  Kind K is the RADOS object
 * "meta.K"; record I is the omap keys "r/I" (compact JSON, sorted keys) and
 * "v/I" (version, 20-digit decimal), its lease "l/I".  Every write is ONE write
 * op guarded by omap_cmp (a missing key compares equal to ""), so it is a CAS. */
#include "strata/meta.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "strata/log.h"

#define KIND_NAME_MAX 64
#define OID_MAX (sizeof("meta.") + KIND_NAME_MAX)
#define KEY_MAX (2 + ST_META_ID_MAX + 1)
#define VERSION_LEN 20
#define MODIFY_TRIES 20
#define LEASE_TRIES 8
#define LIST_PAGE_MAX 1000
#define LIST_DEFAULT 1000
#define CAS_CMP_MAX 2
#define CAS_KEYS_MAX 4

struct st_meta {
    rados_ioctx_t io;
};

/* Where one record lives: its object and its three keys. */
struct target {
    const char *id;
    char oid[OID_MAX];
    char rkey[KEY_MAX];
    char vkey[KEY_MAX];
    char lkey[KEY_MAX];
    char okey[KEY_MAX];   /* the lease's owner alone, for fenced writes */
};

/* One omap value read back (NUL-terminated copy). */
struct kv {
    char *val;
    size_t len;
    bool present;
};

/* A compare-and-swap write: optional create, guards, then sets and removals. */
struct cas {
    bool create;
    size_t ncmp, nset, nrm;
    const char *cmp_key[CAS_CMP_MAX];
    const char *cmp_val[CAS_CMP_MAX];
    uint8_t cmp_op[CAS_CMP_MAX];
    const char *set_key[CAS_KEYS_MAX];
    const char *set_val[CAS_KEYS_MAX];
    const char *rm_key[CAS_KEYS_MAX];
};

/* ---- names, keys, versions ---- */

static bool name_valid(const char *s, size_t max)
{
    size_t n;

    if (!s)
        return false;
    for (n = 0; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n >= max)
            return false;
    }
    return n > 0;
}

static int kind_oid(const struct st_meta_kind *k, char *oid)
{
    if (!k || !name_valid(k->name, KIND_NAME_MAX))
        return -EINVAL;
    snprintf(oid, OID_MAX, "meta.%s", k->name);
    return 0;
}

static void make_key(char *key, char prefix, const char *id)
{
    snprintf(key, KEY_MAX, "%c/%s", prefix, id);
}

static int target_init(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                       struct target *t)
{
    int rc;

    if (!m || !name_valid(id, ST_META_ID_MAX))
        return -EINVAL;
    rc = kind_oid(k, t->oid);
    if (rc < 0)
        return rc;
    t->id = id;
    make_key(t->rkey, 'r', id);
    make_key(t->vkey, 'v', id);
    make_key(t->lkey, 'l', id);
    make_key(t->okey, 'o', id);
    return 0;
}

static void format_version(uint64_t v, char buf[VERSION_LEN + 1])
{
    snprintf(buf, VERSION_LEN + 1, "%020" PRIu64, v);
}

static int parse_version(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len != VERSION_LEN)
        return -EIO;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return -EIO;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* ---- RADOS I/O: the only places that talk to the cluster ---- */

static void kv_free(struct kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].val);
        kv[i] = (struct kv){0};
    }
}

static int kv_take(struct kv *dst, const char *val, size_t len)
{
    dst->val = malloc(len + 1);
    if (!dst->val)
        return -ENOMEM;
    memcpy(dst->val, val, len);
    dst->val[len] = '\0';
    dst->len = len;
    dst->present = true;
    return 0;
}

/* Read keys[0..n) of oid in one read op; out[i].present says which exist.
 * -ENOENT if the object does not exist. */
static int read_keys(struct st_meta *m, const char *oid, const char *const *keys, size_t n,
                     struct kv *out)
{
    size_t lens[CAS_KEYS_MAX];
    rados_read_op_t op;
    rados_omap_iter_t it = NULL;
    int prval = 0, rc;

    for (size_t i = 0; i < n; i++) {
        lens[i] = strlen(keys[i]);
        out[i] = (struct kv){0};
    }
    op = rados_create_read_op();
    if (!op)
        return -ENOMEM;
    rados_read_op_omap_get_vals_by_keys2(op, keys, n, lens, &it, &prval);
    rc = rados_read_op_operate(op, m->io, oid, 0);
    if (rc == 0)
        rc = prval;
    while (rc == 0) {
        char *key, *val;
        size_t klen, vlen;

        rc = rados_omap_get_next2(it, &key, &val, &klen, &vlen);
        if (rc < 0 || !key)
            break;
        for (size_t i = 0; i < n && rc == 0; i++)
            if (klen == lens[i] && memcmp(key, keys[i], klen) == 0 && !out[i].present)
                rc = kv_take(&out[i], val, vlen);
    }
    if (it)
        rados_omap_get_end(it);
    rados_release_read_op(op);
    if (rc < 0) {
        kv_free(out, n);
        if (rc != -ENOENT)
            st_error("meta: read %s %s: %s", oid, keys[0], strerror(-rc));
    }
    return rc;
}

/* Run one guarded write.  -ECANCELED: a guard failed; -ENOENT: no object
 * (only possible without create).  Anything else is logged here. */
static int cas_run(struct st_meta *m, const char *oid, const struct cas *c)
{
    size_t klen[CAS_KEYS_MAX], vlen[CAS_KEYS_MAX];
    int cmp_rc[CAS_CMP_MAX] = {0};
    rados_write_op_t op;
    int rc;

    op = rados_create_write_op();
    if (!op)
        return -ENOMEM;
    if (c->create)
        rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
    for (size_t i = 0; i < c->ncmp; i++)
        rados_write_op_omap_cmp2(op, c->cmp_key[i], c->cmp_op[i], c->cmp_val[i],
                                 strlen(c->cmp_key[i]), strlen(c->cmp_val[i]), &cmp_rc[i]);
    for (size_t i = 0; i < c->nset; i++) {
        klen[i] = strlen(c->set_key[i]);
        vlen[i] = strlen(c->set_val[i]);
    }
    if (c->nset)
        rados_write_op_omap_set2(op, c->set_key, c->set_val, klen, vlen, c->nset);
    for (size_t i = 0; i < c->nrm; i++)
        klen[i] = strlen(c->rm_key[i]);
    if (c->nrm)
        rados_write_op_omap_rm_keys2(op, c->rm_key, klen, c->nrm);
    rc = rados_write_op_operate2(op, m->io, oid, NULL, 0);
    rados_release_write_op(op);
    if (rc < 0 && rc != -ECANCELED && rc != -ENOENT)
        st_error("meta: write %s %s: %s", oid, c->ncmp ? c->cmp_key[0] : "", strerror(-rc));
    return rc;
}

static void cas_cmp(struct cas *c, const char *key, uint8_t op, const char *val)
{
    c->cmp_key[c->ncmp] = key;
    c->cmp_op[c->ncmp] = op;
    c->cmp_val[c->ncmp] = val;
    c->ncmp++;
}

static void cas_set(struct cas *c, const char *key, const char *val)
{
    c->set_key[c->nset] = key;
    c->set_val[c->nset] = val;
    c->nset++;
}

static void cas_rm(struct cas *c, const char *key)
{
    c->rm_key[c->nrm++] = key;
}

/* After a failed version guard: -ENOENT if the record is gone, else -ECANCELED. */
static int cancel_reason(struct st_meta *m, const struct target *t)
{
    const char *keys[] = {t->vkey};
    struct kv v[1];
    int rc = read_keys(m, t->oid, keys, 1, v);

    if (rc == 0)
        rc = v[0].present ? -ECANCELED : -ENOENT;
    kv_free(v, 1);
    return rc;
}

/* ---- records ---- */

int st_meta_open(rados_ioctx_t ioctx, struct st_meta **out)
{
    struct st_meta *m;

    if (!ioctx || !out)
        return -EINVAL;
    m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->io = ioctx;
    *out = m;
    return 0;
}

void st_meta_close(struct st_meta *m)
{
    free(m);
}

void st_record_cleanup(struct st_record *r)
{
    if (!r)
        return;
    json_decref(r->data);
    r->data = NULL;
}

/* Validate a body and serialise it (compact, sorted keys). */
static int encode_data(const struct st_meta_kind *k, const json_t *data, char **text)
{
    int rc = 0;

    if (!json_is_object(data))
        return -EINVAL;
    if (k->validate)
        rc = k->validate(data);
    if (rc != 0)
        return rc < 0 ? rc : -EINVAL;
    *text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
    return *text ? 0 : -ENOMEM;
}

static int record_fill(struct st_record *out, const char *oid, const char *id, const char *text,
                       size_t tlen, const char *ver, size_t vlen)
{
    json_error_t jerr;
    json_t *data;
    uint64_t version;

    data = json_loadb(text, tlen, 0, &jerr);
    if (!data || !json_is_object(data) || parse_version(ver, vlen, &version) < 0) {
        st_error("meta: corrupt record %s in %s: %s", id, oid,
                 data ? "bad version or body" : jerr.text);
        json_decref(data);
        return -EIO;
    }
    snprintf(out->id, sizeof(out->id), "%s", id);
    out->version = version;
    out->data = data;
    return 0;
}

/* A lease to write with a new record, or NULL. */
struct lease_spec {
    const char *owner;
    const char *op;
    int64_t expires_ms;
};

static int lease_encode(const char *owner, const char *op, int64_t expires_ms, char **text);

static int create_record(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                         const json_t *data, const struct lease_spec *ls, uint64_t *version)
{
    char ver[VERSION_LEN + 1];
    char *text = NULL, *ltext = NULL;
    struct target t;
    struct cas c = {.create = true};
    int rc;

    rc = target_init(m, k, id, &t);
    if (rc == 0)
        rc = encode_data(k, data, &text);
    if (rc == 0 && ls)
        rc = lease_encode(ls->owner, ls->op, ls->expires_ms, &ltext);
    if (rc < 0)
        goto out;
    format_version(1, ver);
    cas_cmp(&c, t.vkey, LIBRADOS_CMPXATTR_OP_EQ, "");
    cas_set(&c, t.rkey, text);
    cas_set(&c, t.vkey, ver);
    if (ltext) {
        cas_set(&c, t.lkey, ltext);
        cas_set(&c, t.okey, ls->owner);
    }
    rc = cas_run(m, t.oid, &c);
    if (rc == -ECANCELED)
        rc = -EEXIST;
    if (rc == 0 && version)
        *version = 1;
out:
    free(text);
    free(ltext);
    return rc;
}

int st_meta_create(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                   const json_t *data, uint64_t *version)
{
    return create_record(m, k, id, data, NULL, version);
}

int st_meta_create_leased(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                          const json_t *data, const char *owner, const char *op, int64_t now_ms,
                          int64_t ttl_ms, uint64_t *version)
{
    struct lease_spec ls = {.owner = owner, .op = op, .expires_ms = now_ms + ttl_ms};

    if (ttl_ms <= 0)
        return -EINVAL;
    return create_record(m, k, id, data, &ls, version);
}

int st_meta_get(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                struct st_record *out)
{
    struct target t;
    struct kv kv[2];
    const char *keys[2];
    int rc;

    if (!out)
        return -EINVAL;
    rc = target_init(m, k, id, &t);
    if (rc < 0)
        return rc;
    keys[0] = t.rkey;
    keys[1] = t.vkey;
    rc = read_keys(m, t.oid, keys, 2, kv);
    if (rc < 0)
        return rc;
    if (!kv[0].present || !kv[1].present)
        rc = -ENOENT;
    else
        rc = record_fill(out, t.oid, id, kv[0].val, kv[0].len, kv[1].val, kv[1].len);
    kv_free(kv, 2);
    return rc;
}

/* The version guard, plus (owner != NULL) the guard that `owner` still holds
 * the record's lease: -ESTALE when another took it over. */
static int update_guarded(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                          uint64_t expected, const json_t *data, const char *owner,
                          uint64_t *new_version)
{
    char old_ver[VERSION_LEN + 1], new_ver[VERSION_LEN + 1];
    char *text = NULL;
    struct target t;
    struct cas c = {0};
    int rc;

    rc = target_init(m, k, id, &t);
    if (rc == 0)
        rc = encode_data(k, data, &text);
    if (rc < 0)
        goto out;
    format_version(expected, old_ver);
    format_version(expected + 1, new_ver);
    cas_cmp(&c, t.vkey, LIBRADOS_CMPXATTR_OP_EQ, old_ver);
    if (owner)
        cas_cmp(&c, t.okey, LIBRADOS_CMPXATTR_OP_EQ, owner);
    cas_set(&c, t.rkey, text);
    cas_set(&c, t.vkey, new_ver);
    rc = cas_run(m, t.oid, &c);
    if (rc == -ECANCELED && owner) {
        const char *keys[] = {t.okey};
        struct kv o[1];
        if (read_keys(m, t.oid, keys, 1, o) == 0 &&
            (!o[0].present || strcmp(o[0].val, owner) != 0))
            rc = -ESTALE;
        kv_free(o, 1);
    }
    if (rc == -ECANCELED)
        rc = cancel_reason(m, &t);
    if (rc == 0 && new_version)
        *new_version = expected + 1;
out:
    free(text);
    return rc;
}

int st_meta_update(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                   uint64_t expected, const json_t *data, uint64_t *new_version)
{
    return update_guarded(m, k, id, expected, data, NULL, new_version);
}

int st_meta_delete(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                   uint64_t expected)
{
    char ver[VERSION_LEN + 1];
    struct target t;
    struct cas c = {0};
    int rc;

    rc = target_init(m, k, id, &t);
    if (rc < 0)
        return rc;
    /* expected 0: any stored version; a present key is greater than "". */
    format_version(expected, ver);
    if (expected)
        cas_cmp(&c, t.vkey, LIBRADOS_CMPXATTR_OP_EQ, ver);
    else
        cas_cmp(&c, t.vkey, LIBRADOS_CMPXATTR_OP_GT, "");
    cas_rm(&c, t.rkey);
    cas_rm(&c, t.vkey);
    cas_rm(&c, t.lkey);
    cas_rm(&c, t.okey);
    rc = cas_run(m, t.oid, &c);
    if (rc == -ECANCELED)
        rc = expected ? cancel_reason(m, &t) : -ENOENT;
    return rc;
}

/* One try: read, copy, edit, CAS.  -ECANCELED means try again. */
static int modify_once(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                       const char *owner, st_meta_modify_fn fn, void *arg,
                       struct st_record *out)
{
    struct st_record cur = {0};
    json_t *copy = NULL;
    uint64_t nv = 0;
    int rc;

    rc = st_meta_get(m, k, id, &cur);
    if (rc < 0)
        goto out;
    copy = json_deep_copy(cur.data);
    if (!copy) {
        rc = -ENOMEM;
        goto out;
    }
    rc = fn(copy, arg);
    if (rc > 0) {
        rc = 0; /* unchanged: hand back what is stored */
    } else if (rc == 0) {
        rc = update_guarded(m, k, id, cur.version, copy, owner, &nv);
        if (rc == 0) {
            json_t *old = cur.data;

            cur.data = copy;
            cur.version = nv;
            copy = old;
        }
    }
    if (rc == 0 && out) {
        *out = cur;
        cur.data = NULL;
    }
out:
    json_decref(copy);
    st_record_cleanup(&cur);
    return rc;
}

/* A few ms of jitter, growing with the attempt, so racing writers spread out. */
static void backoff(unsigned attempt)
{
    static _Thread_local unsigned seed;
    struct timespec ts;
    unsigned ms;

    if (!seed)
        seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&ts;
    ms = 1 + (unsigned)rand_r(&seed) % (1u << (attempt < 5 ? attempt + 1 : 6));
    ts.tv_sec = 0;
    ts.tv_nsec = (long)ms * 1000000L;
    nanosleep(&ts, NULL);
}

static int modify_retry(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                        const char *owner, st_meta_modify_fn fn, void *arg,
                        struct st_record *out)
{
    int rc = -ECANCELED;

    if (!fn)
        return -EINVAL;
    for (unsigned attempt = 0; attempt < MODIFY_TRIES; attempt++) {
        if (attempt)
            backoff(attempt);
        rc = modify_once(m, k, id, owner, fn, arg, out);
        if (rc != -ECANCELED)
            break;
    }
    if (rc == -ECANCELED)
        st_warn("meta: %s/%s still contended after %d tries", k->name, id, MODIFY_TRIES);
    return rc;
}

int st_meta_modify(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                   st_meta_modify_fn fn, void *arg, struct st_record *out)
{
    return modify_retry(m, k, id, NULL, fn, arg, out);
}

int st_meta_modify_as(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                      const char *owner, st_meta_modify_fn fn, void *arg, struct st_record *out)
{
    if (!owner || !owner[0])
        return -EINVAL;
    return modify_retry(m, k, id, owner, fn, arg, out);
}

/* ---- listing ---- */

static bool filter_match(const json_t *data, const struct st_meta_filter *f)
{
    json_t *v = json_object_get(data, f->field);
    char *text;
    bool eq;

    if (!f->value)
        return !v || json_is_null(v);
    if (json_is_string(v))
        return strcmp(json_string_value(v), f->value) == 0;
    if (!json_is_number(v) && !json_is_boolean(v))
        return false;
    text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    eq = text && strcmp(text, f->value) == 0;
    free(text);
    return eq;
}

struct list_state {
    size_t limit;
    const struct st_meta_filter *filters;
    size_t nfilters;
    st_meta_pred_fn pred;
    void *pred_arg;
    char after_r[KEY_MAX];
    char after_v[KEY_MAX];
    size_t cap;
    bool done;
    struct st_record_list *out;
};

static bool list_wants(const struct list_state *s, const json_t *data)
{
    for (size_t i = 0; i < s->nfilters; i++)
        if (!filter_match(data, &s->filters[i]))
            return false;
    return !s->pred || s->pred(data, s->pred_arg);
}

static int list_append(struct list_state *s, struct st_record *r)
{
    struct st_record_list *l = s->out;

    if (l->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct st_record *items = realloc(l->items, cap * sizeof(*items));
        if (!items)
            return -ENOMEM;
        l->items = items;
        s->cap = cap;
    }
    l->items[l->count++] = *r;
    return 0;
}

/* Take one key pair of a page; sets s->done once limit is reached. */
static int list_take(struct list_state *s, const char *oid, const char *rk, const char *rv,
                     size_t rvlen, const char *vk, const char *vv, size_t vvlen)
{
    struct st_record r = {0};
    int rc;

    if (strcmp(rk + 2, vk + 2) != 0) {
        st_error("meta: %s: record %s has no matching version key", oid, rk + 2);
        return -EIO;
    }
    if (s->out->count == s->limit) {
        s->out->truncated = true;
        s->done = true;
        return 0;
    }
    snprintf(s->after_r, KEY_MAX, "%s", rk);
    snprintf(s->after_v, KEY_MAX, "%s", vk);
    /* A corrupt record is logged and skipped: one bad entry fails no listing. */
    if (record_fill(&r, oid, rk + 2, rv, rvlen, vv, vvlen) < 0)
        return 0;
    if (!list_wants(s, r.data)) {
        st_record_cleanup(&r);
        return 0;
    }
    rc = list_append(s, &r);
    if (rc < 0)
        st_record_cleanup(&r);
    return rc;
}

/* One read op returns the r/ and v/ ranges after the cursor together, so each
 * record's body and version come from the same atomic snapshot. */
static int list_page(struct st_meta *m, const char *oid, struct list_state *s)
{
    uint64_t page = s->limit < LIST_PAGE_MAX / 2 ? s->limit * 2 : LIST_PAGE_MAX;
    rados_omap_iter_t ri = NULL, vi = NULL;
    unsigned char rmore = 0, vmore = 0;
    int rpr = 0, vpr = 0, rc;
    rados_read_op_t op = rados_create_read_op();

    if (!op)
        return -ENOMEM;
    rados_read_op_omap_get_vals2(op, s->after_r, "r/", page, &ri, &rmore, &rpr);
    rados_read_op_omap_get_vals2(op, s->after_v, "v/", page, &vi, &vmore, &vpr);
    rc = rados_read_op_operate(op, m->io, oid, 0);
    if (rc == 0)
        rc = rpr ? rpr : vpr;
    if (rc == -ENOENT) {
        s->done = true;
        rc = 0;
    }
    while (rc == 0 && !s->done) {
        char *rk, *rv, *vk, *vv;
        size_t rkl, rvl, vkl, vvl;

        rc = rados_omap_get_next2(ri, &rk, &rv, &rkl, &rvl);
        if (rc == 0)
            rc = rados_omap_get_next2(vi, &vk, &vv, &vkl, &vvl);
        if (rc < 0)
            break;
        if (!rk || !vk) {
            if (rk || vk) {
                st_error("meta: %s: record and version keys out of step", oid);
                rc = -EIO;
            }
            s->done = !rmore;
            break;
        }
        rc = list_take(s, oid, rk, rv, rvl, vk, vv, vvl);
    }
    if (ri)
        rados_omap_get_end(ri);
    if (vi)
        rados_omap_get_end(vi);
    rados_release_read_op(op);
    if (rc < 0 && rc != -EIO)
        st_error("meta: list %s: %s", oid, strerror(-rc));
    return rc;
}

int st_meta_list(struct st_meta *m, const struct st_meta_kind *k, const char *marker, size_t limit,
                 const struct st_meta_filter *filters, size_t nfilters, st_meta_pred_fn pred,
                 void *pred_arg, struct st_record_list *out)
{
    struct list_state s = {.limit = limit ? limit : LIST_DEFAULT,
                           .filters = filters,
                           .nfilters = nfilters,
                           .pred = pred,
                           .pred_arg = pred_arg,
                           .out = out};
    char oid[OID_MAX];
    int rc;

    if (!m || !out || (nfilters && !filters))
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    rc = kind_oid(k, oid);
    for (size_t i = 0; rc == 0 && i < nfilters; i++)
        if (!filters[i].field)
            rc = -EINVAL;
    if (rc == 0 && marker && marker[0]) {
        if (name_valid(marker, ST_META_ID_MAX)) {
            make_key(s.after_r, 'r', marker);
            make_key(s.after_v, 'v', marker);
        } else {
            rc = -EINVAL;
        }
    }
    while (rc == 0 && !s.done)
        rc = list_page(m, oid, &s);
    if (rc < 0)
        st_record_list_cleanup(out);
    else if (out->truncated && out->count)
        snprintf(out->next_marker, sizeof(out->next_marker), "%s", out->items[out->count - 1].id);
    return rc;
}

int st_meta_list_all(struct st_meta *m, const struct st_meta_kind *k, st_meta_pred_fn pred,
                     void *pred_arg, json_t **out)
{
    char marker[ST_META_ID_MAX + 1] = "";
    json_t *all = json_array();
    int rc = all ? 0 : -ENOMEM;

    while (rc == 0) {
        struct st_record_list l = { 0 };
        rc = st_meta_list(m, k, marker[0] ? marker : NULL, 1000, NULL, 0, pred, pred_arg, &l);
        for (size_t i = 0; rc == 0 && i < l.count; i++)
            if (json_array_append(all, l.items[i].data) < 0)
                rc = -ENOMEM;
        bool more = rc == 0 && l.truncated;
        snprintf(marker, sizeof(marker), "%s", l.next_marker);
        st_record_list_cleanup(&l);
        if (!more)
            break;
    }
    if (rc < 0) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return 0;
}

void st_record_list_cleanup(struct st_record_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        st_record_cleanup(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* ---- leases ---- */

static int lease_encode(const char *owner, const char *op, int64_t expires_ms, char **text)
{
    json_t *o;

    if (!owner || !owner[0] || strlen(owner) >= sizeof(((struct st_lease *)0)->owner) || !op ||
        strlen(op) >= sizeof(((struct st_lease *)0)->op))
        return -EINVAL;
    o = json_pack("{s:s, s:I, s:s}", "owner", owner, "expires_ms", (json_int_t)expires_ms, "op",
                  op);
    *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return *text ? 0 : -ENOMEM;
}

static int lease_decode(const char *text, size_t len, struct st_lease *out)
{
    const char *owner, *op;
    json_int_t exp;
    json_t *o = json_loadb(text, len, 0, NULL);
    int rc = -EIO;

    if (o &&
        json_unpack(o, "{s:s, s:I, s:s}", "owner", &owner, "expires_ms", &exp, "op", &op) == 0 &&
        strlen(owner) < sizeof(out->owner) && strlen(op) < sizeof(out->op)) {
        snprintf(out->owner, sizeof(out->owner), "%s", owner);
        snprintf(out->op, sizeof(out->op), "%s", op);
        out->expires_ms = (int64_t)exp;
        rc = 0;
    }
    json_decref(o);
    return rc;
}

int st_lease_owner_new(const char *node, char *buf, size_t len)
{
    unsigned char rnd[8];
    int n;

    if (!node || !node[0] || !buf)
        return -EINVAL;
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return -EIO;
    n = snprintf(buf, len, "%s/%02x%02x%02x%02x%02x%02x%02x%02x", node, rnd[0], rnd[1], rnd[2],
                 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    if (n < 0 || (size_t)n >= len)
        return -ERANGE;
    if ((size_t)n >= sizeof(((struct st_lease *)0)->owner))
        return -ENAMETOOLONG;
    return 0;
}

bool st_lease_is_stale(const struct st_lease *l, const char *self_owner, int64_t now_ms)
{
    const char *a, *b;

    if (l->expires_ms <= now_ms)
        return true;
    if (!self_owner)
        return false;
    a = strrchr(l->owner, '/');
    b = strrchr(self_owner, '/');
    if (!a || !b || a - l->owner != b - self_owner)
        return false;
    /* Same node, other incarnation: an earlier life of this node's daemon. */
    return memcmp(l->owner, self_owner, (size_t)(a - l->owner)) == 0 && strcmp(a, b) != 0;
}

enum lease_mode { LEASE_ACQUIRE, LEASE_RENEW, LEASE_RELEASE };

struct lease_req {
    enum lease_mode mode;
    const char *owner;
    const char *op;
    int64_t now_ms;
    int64_t ttl_ms;
};

/* Decide from the current lease (or none) what to write; 1 = nothing to do. */
static int lease_decide(const struct lease_req *q, const struct kv *cur, char **next)
{
    struct st_lease l = {0};
    bool ours, parsed;

    *next = NULL;
    parsed = cur->present && lease_decode(cur->val, cur->len, &l) == 0;
    ours = parsed && strcmp(l.owner, q->owner) == 0;
    switch (q->mode) {
    case LEASE_ACQUIRE:
        /* A live lease is exclusive, also against its own owner: two
         * operations of one process on a record must not share it (the second
         * would release the first's).  An unreadable lease protects nothing. */
        if (parsed && !st_lease_is_stale(&l, q->owner, q->now_ms))
            return -EBUSY;
        return lease_encode(q->owner, q->op, q->now_ms + q->ttl_ms, next);
    case LEASE_RENEW:
        if (!ours)
            return -ESTALE;
        return lease_encode(q->owner, l.op, q->now_ms + q->ttl_ms, next);
    case LEASE_RELEASE:
        if (!cur->present)
            return 1;
        return ours ? 0 : -ESTALE;
    }
    return -EINVAL;
}

/* One read-decide-CAS round; -ECANCELED means the lease changed under us. */
static int lease_step(struct st_meta *m, const struct target *t, const struct lease_req *q)
{
    const char *keys[2] = {t->lkey, t->vkey};
    struct kv kv[2] = {{0}};
    struct cas c = {0};
    char *next = NULL;
    int rc;

    rc = read_keys(m, t->oid, keys, 2, kv);
    if (rc == -ENOENT || (rc == 0 && !kv[1].present && q->mode == LEASE_ACQUIRE))
        rc = q->mode == LEASE_ACQUIRE ? -ENOENT : q->mode == LEASE_RENEW ? -ESTALE : 1;
    if (rc == 0)
        rc = lease_decide(q, &kv[0], &next);
    if (rc != 0)
        goto out;
    cas_cmp(&c, t->lkey, LIBRADOS_CMPXATTR_OP_EQ, kv[0].present ? kv[0].val : "");
    if (q->mode == LEASE_ACQUIRE)
        cas_cmp(&c, t->vkey, LIBRADOS_CMPXATTR_OP_GT, ""); /* the record still exists */
    if (next) {
        cas_set(&c, t->lkey, next);
        cas_set(&c, t->okey, q->owner);
    } else {
        cas_rm(&c, t->lkey);
        cas_rm(&c, t->okey);
    }
    rc = cas_run(m, t->oid, &c);
    if (rc == -ENOENT && q->mode != LEASE_ACQUIRE)
        rc = q->mode == LEASE_RENEW ? -ESTALE : 0;
out:
    free(next);
    kv_free(kv, 2);
    return rc == 1 ? 0 : rc;
}

static int lease_change(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                        const struct lease_req *q)
{
    struct target t;
    int rc;

    if (!q->owner || !q->owner[0] || (q->mode != LEASE_RELEASE && q->ttl_ms <= 0))
        return -EINVAL;
    rc = target_init(m, k, id, &t);
    if (rc < 0)
        return rc;
    /* Lost races re-read and decide again; persistent churn counts as held. */
    for (int i = 0; i < LEASE_TRIES; i++) {
        rc = lease_step(m, &t, q);
        if (rc != -ECANCELED)
            return rc;
    }
    return q->mode == LEASE_ACQUIRE ? -EBUSY : -ESTALE;
}

int st_lease_acquire(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                     const char *owner, const char *op, int64_t now_ms, int64_t ttl_ms)
{
    struct lease_req q = {LEASE_ACQUIRE, owner, op ? op : "", now_ms, ttl_ms};

    return lease_change(m, k, id, &q);
}

int st_lease_renew(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                   const char *owner, int64_t now_ms, int64_t ttl_ms)
{
    struct lease_req q = {LEASE_RENEW, owner, NULL, now_ms, ttl_ms};

    return lease_change(m, k, id, &q);
}

int st_lease_release(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                     const char *owner)
{
    struct lease_req q = {LEASE_RELEASE, owner, NULL, 0, 0};

    return lease_change(m, k, id, &q);
}

int st_lease_get(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                 struct st_lease *out)
{
    struct target t;
    struct kv kv[1];
    const char *keys[1];
    int rc;

    if (!out)
        return -EINVAL;
    rc = target_init(m, k, id, &t);
    if (rc < 0)
        return rc;
    keys[0] = t.lkey;
    rc = read_keys(m, t.oid, keys, 1, kv);
    if (rc < 0)
        return rc;
    rc = kv[0].present ? lease_decode(kv[0].val, kv[0].len, out) : -ENOENT;
    if (rc == -EIO)
        st_error("meta: corrupt lease %s in %s", id, t.oid);
    kv_free(kv, 1);
    return rc;
}

/* One page of leases after *after; calls fn for the stale ones. */
static int reconcile_page(struct st_meta *m, const struct st_meta_kind *k, const char *oid,
                          char *after, const char *self_owner, int64_t now_ms,
                          st_lease_reconcile_fn fn, void *arg, int *count, bool *more)
{
    rados_omap_iter_t it = NULL;
    unsigned char pmore = 0;
    int prval = 0, rc;
    rados_read_op_t op = rados_create_read_op();

    if (!op)
        return -ENOMEM;
    rados_read_op_omap_get_vals2(op, after, "l/", LIST_PAGE_MAX, &it, &pmore, &prval);
    rc = rados_read_op_operate(op, m->io, oid, 0);
    if (rc == 0)
        rc = prval;
    *more = false;
    while (rc == 0) {
        struct st_lease l;
        char *key, *val;
        size_t klen, vlen;
        int frc;

        rc = rados_omap_get_next2(it, &key, &val, &klen, &vlen);
        if (rc < 0 || !key) {
            *more = rc == 0 && pmore;
            break;
        }
        snprintf(after, KEY_MAX, "%s", key);
        if (lease_decode(val, vlen, &l) < 0) {
            st_error("meta: corrupt lease %s in %s", key + 2, oid);
            continue;
        }
        if (!st_lease_is_stale(&l, self_owner, now_ms))
            continue;
        (*count)++;
        frc = fn ? fn(m, key + 2, &l, arg) : 0;
        if (frc < 0)
            st_error("meta: reconcile %s/%s (lease %s, op %s) failed: %s", k->name, key + 2,
                     l.owner, l.op, strerror(-frc));
    }
    if (it)
        rados_omap_get_end(it);
    rados_release_read_op(op);
    if (rc < 0 && rc != -ENOENT)
        st_error("meta: reconcile %s: %s", oid, strerror(-rc));
    return rc == -ENOENT ? 0 : rc;
}

int st_lease_reconcile(struct st_meta *m, const struct st_meta_kind *k, const char *self_owner,
                       int64_t now_ms, st_lease_reconcile_fn fn, void *arg)
{
    char oid[OID_MAX], after[KEY_MAX] = "";
    bool more = true;
    int count = 0, rc;

    if (!m)
        return -EINVAL;
    rc = kind_oid(k, oid);
    while (rc == 0 && more)
        rc = reconcile_page(m, k, oid, after, self_owner, now_ms, fn, arg, &count, &more);
    return rc < 0 ? rc : count;
}
