/* meta.c — the metadata store's records.  Kind K is the RADOS object
 * "meta.K"; record I is the omap keys "r/I" (compact JSON, sorted keys) and
 * "v/I" (version, 20-digit decimal), its lease "l/I"; "hwm" is the highest version
 * any deleted record of K reached, and a new record starts above it (no ABA).
 * Every write is ONE write op guarded by omap_cmp (a missing key compares equal
 * to ""), so it is a CAS.
 * Listing is in meta_list.c, leases in lease.c. */
#include "meta_internal.h"

bool meta_name_valid(const char *s, size_t max)
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

int meta_kind_oid(const struct st_meta_kind *k, char *oid)
{
    if (!k || !meta_name_valid(k->name, KIND_NAME_MAX))
        return -EINVAL;
    snprintf(oid, OID_MAX, "meta.%s", k->name);
    return 0;
}

void meta_make_key(char *key, char prefix, const char *id)
{
    snprintf(key, KEY_MAX, "%c/%s", prefix, id);
}

int meta_target_init(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                     struct target *t)
{
    int rc;

    if (!m || !meta_name_valid(id, ST_META_ID_MAX))
        return -EINVAL;
    rc = meta_kind_oid(k, t->oid);
    if (rc < 0)
        return rc;
    t->id = id;
    meta_make_key(t->rkey, 'r', id);
    meta_make_key(t->vkey, 'v', id);
    meta_make_key(t->lkey, 'l', id);
    meta_make_key(t->okey, 'o', id);
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

void meta_kv_free(struct kv *kv, size_t n)
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
int meta_read_keys(struct st_meta *m, const char *oid, const char *const *keys, size_t n,
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
        meta_kv_free(out, n);
        if (rc != -ENOENT)
            st_error("meta: read %s %s: %s", oid, keys[0], strerror(-rc));
    }
    return rc;
}

/* Run one guarded write.  -ECANCELED: a guard failed; -ENOENT: no object
 * (only possible without create).  Anything else is logged here. */
int meta_cas_run(struct st_meta *m, const char *oid, const struct cas *c)
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

void meta_cas_cmp(struct cas *c, const char *key, uint8_t op, const char *val)
{
    c->cmp_key[c->ncmp] = key;
    c->cmp_op[c->ncmp] = op;
    c->cmp_val[c->ncmp] = val;
    c->ncmp++;
}

void meta_cas_set(struct cas *c, const char *key, const char *val)
{
    c->set_key[c->nset] = key;
    c->set_val[c->nset] = val;
    c->nset++;
}

void meta_cas_rm(struct cas *c, const char *key)
{
    c->rm_key[c->nrm++] = key;
}

/* After a failed version guard: -ENOENT if the record is gone, else -ECANCELED. */
static int cancel_reason(struct st_meta *m, const struct target *t)
{
    const char *keys[] = {t->vkey};
    struct kv v[1];
    int rc = meta_read_keys(m, t->oid, keys, 1, v);

    if (rc == 0)
        rc = v[0].present ? -ECANCELED : -ENOENT;
    meta_kv_free(v, 1);
    return rc;
}

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

const char *st_rec_str(const json_t *data, const char *key)
{
    return json_string_value(json_object_get(data, key));
}

json_t *st_rec_private(json_t *data)
{
    json_t *p = json_object_get(data, "_s");

    if (!json_is_object(p)) {
        p = json_object();
        json_object_set_new(data, "_s", p);
    }
    return p;
}

bool st_rec_hidden(const json_t *data)
{
    return json_is_true(json_object_get(json_object_get(data, "_s"), "deleted"));
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

int meta_record_fill(struct st_record *out, const char *oid, const char *id, const char *text,
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

/* A lease to write with a new record, or NULL. */
struct lease_spec {
    const char *owner;
    const char *op;
    int64_t expires_ms;
};

/* The kind's high-water mark (HWM_KEY, absent = 0) and the record's version
 * key, read together: *h the mark, hstr its stored text ("" when absent),
 * *cur the record's version (0 when it does not exist). */
static int read_hwm(struct st_meta *m, const struct target *t, uint64_t *h,
                    char hstr[VERSION_LEN + 1], uint64_t *cur)
{
    const char *keys[] = {t->vkey, HWM_KEY};
    struct kv kv[2];
    int rc;

    *h = 0;
    *cur = 0;
    hstr[0] = '\0';
    rc = meta_read_keys(m, t->oid, keys, 2, kv);
    if (rc == -ENOENT)
        return 0; /* no object: no record, no mark */
    if (rc < 0)
        return rc; /* logged there */
    if (kv[0].present)
        rc = parse_version(kv[0].val, kv[0].len, cur);
    if (rc == 0 && kv[1].present) {
        rc = parse_version(kv[1].val, kv[1].len, h);
        if (rc == 0)
            memcpy(hstr, kv[1].val, VERSION_LEN + 1);
    }
    if (rc < 0)
        st_error("meta: corrupt version of %s or %s in %s", t->id, HWM_KEY, t->oid);
    meta_kv_free(kv, 2);
    return rc;
}

static int create_record(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                         const json_t *data, const struct lease_spec *ls, uint64_t *version)
{
    char ver[VERSION_LEN + 1], hstr[VERSION_LEN + 1];
    char *text = NULL, *ltext = NULL;
    struct target t;
    uint64_t h = 0, cur = 0;
    int rc;

    rc = meta_target_init(m, k, id, &t);
    if (rc == 0)
        rc = encode_data(k, data, &text);
    if (rc == 0 && ls)
        rc = meta_lease_encode(ls->owner, ls->op, ls->expires_ms, &ltext);
    /* A new record starts above the mark, so no version of an earlier record
     * of the same id (deleted: the mark is at least its last version) comes
     * back; the guard on the mark closes the race with such a delete. */
    for (unsigned attempt = 0; rc == 0 && attempt < MODIFY_TRIES; attempt++) {
        struct cas c = {.create = true};

        if (attempt)
            backoff(attempt);
        rc = read_hwm(m, &t, &h, hstr, &cur);
        if (rc == 0 && cur)
            rc = -EEXIST;
        if (rc < 0)
            break;
        format_version(h + 1, ver);
        meta_cas_cmp(&c, t.vkey, LIBRADOS_CMPXATTR_OP_EQ, "");
        meta_cas_cmp(&c, HWM_KEY, LIBRADOS_CMPXATTR_OP_EQ, hstr);
        meta_cas_set(&c, t.rkey, text);
        meta_cas_set(&c, t.vkey, ver);
        if (ltext) {
            meta_cas_set(&c, t.lkey, ltext);
            meta_cas_set(&c, t.okey, ls->owner);
        }
        rc = meta_cas_run(m, t.oid, &c);
        if (rc != -ECANCELED)
            break;
        rc = 0; /* created meanwhile, or the mark moved: look again */
        if (attempt + 1 == MODIFY_TRIES)
            rc = -ECANCELED;
    }
    if (rc == 0 && version)
        *version = h + 1;
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
    rc = meta_target_init(m, k, id, &t);
    if (rc < 0)
        return rc;
    keys[0] = t.rkey;
    keys[1] = t.vkey;
    rc = meta_read_keys(m, t.oid, keys, 2, kv);
    if (rc < 0)
        return rc;
    if (!kv[0].present || !kv[1].present)
        rc = -ENOENT;
    else
        rc = meta_record_fill(out, t.oid, id, kv[0].val, kv[0].len, kv[1].val, kv[1].len);
    meta_kv_free(kv, 2);
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

    rc = meta_target_init(m, k, id, &t);
    if (rc == 0)
        rc = encode_data(k, data, &text);
    if (rc < 0)
        goto out;
    format_version(expected, old_ver);
    format_version(expected + 1, new_ver);
    meta_cas_cmp(&c, t.vkey, LIBRADOS_CMPXATTR_OP_EQ, old_ver);
    if (owner)
        meta_cas_cmp(&c, t.okey, LIBRADOS_CMPXATTR_OP_EQ, owner);
    meta_cas_set(&c, t.rkey, text);
    meta_cas_set(&c, t.vkey, new_ver);
    rc = meta_cas_run(m, t.oid, &c);
    if (rc == -ECANCELED && owner) {
        const char *keys[] = {t.okey};
        struct kv o[1];
        if (meta_read_keys(m, t.oid, keys, 1, o) == 0 &&
            (!o[0].present || strcmp(o[0].val, owner) != 0))
            rc = -ESTALE;
        meta_kv_free(o, 1);
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
    char ver[VERSION_LEN + 1], hstr[VERSION_LEN + 1];
    struct target t;
    uint64_t h, cur;
    int rc;

    rc = meta_target_init(m, k, id, &t);
    /* One write removes the record and raises the kind's mark to its version
     * (the mark never goes down, so a mark already above needs no guard). */
    for (unsigned attempt = 0; rc == 0 && attempt < MODIFY_TRIES; attempt++) {
        struct cas c = {0};

        if (attempt)
            backoff(attempt);
        rc = read_hwm(m, &t, &h, hstr, &cur);
        if (rc == 0 && !cur)
            rc = -ENOENT;
        if (rc == 0 && expected && cur != expected)
            rc = -ECANCELED;
        if (rc < 0)
            break;
        format_version(cur, ver);
        meta_cas_cmp(&c, t.vkey, LIBRADOS_CMPXATTR_OP_EQ, ver);
        if (cur > h) {
            meta_cas_cmp(&c, HWM_KEY, LIBRADOS_CMPXATTR_OP_EQ, hstr);
            meta_cas_set(&c, HWM_KEY, ver);
        }
        meta_cas_rm(&c, t.rkey);
        meta_cas_rm(&c, t.vkey);
        meta_cas_rm(&c, t.lkey);
        meta_cas_rm(&c, t.okey);
        rc = meta_cas_run(m, t.oid, &c);
        if (rc != -ECANCELED)
            break;
        rc = 0; /* written or deleted meanwhile, or the mark moved: look again */
        if (attempt + 1 == MODIFY_TRIES)
            rc = -ECANCELED;
    }
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

int meta_lease_encode(const char *owner, const char *op, int64_t expires_ms, char **text)
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
