/* lease.c — leases beside records (DESIGN.md §2.3): acquire, renew, release
 * as compare-and-swap writes, stale-lease rules and the reconcile scan. */
#include "meta_internal.h"

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
        return meta_lease_encode(q->owner, q->op, q->now_ms + q->ttl_ms, next);
    case LEASE_RENEW:
        if (!ours)
            return -ESTALE;
        return meta_lease_encode(q->owner, l.op, q->now_ms + q->ttl_ms, next);
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

    rc = meta_read_keys(m, t->oid, keys, 2, kv);
    if (rc == -ENOENT || (rc == 0 && !kv[1].present && q->mode == LEASE_ACQUIRE))
        rc = q->mode == LEASE_ACQUIRE ? -ENOENT : q->mode == LEASE_RENEW ? -ESTALE : 1;
    if (rc == 0)
        rc = lease_decide(q, &kv[0], &next);
    if (rc != 0)
        goto out;
    meta_cas_cmp(&c, t->lkey, LIBRADOS_CMPXATTR_OP_EQ, kv[0].present ? kv[0].val : "");
    if (q->mode == LEASE_ACQUIRE)
        meta_cas_cmp(&c, t->vkey, LIBRADOS_CMPXATTR_OP_GT, ""); /* the record still exists */
    if (next) {
        meta_cas_set(&c, t->lkey, next);
        meta_cas_set(&c, t->okey, q->owner);
    } else {
        meta_cas_rm(&c, t->lkey);
        meta_cas_rm(&c, t->okey);
    }
    rc = meta_cas_run(m, t->oid, &c);
    if (rc == -ENOENT && q->mode != LEASE_ACQUIRE)
        rc = q->mode == LEASE_RENEW ? -ESTALE : 0;
out:
    free(next);
    meta_kv_free(kv, 2);
    return rc == 1 ? 0 : rc;
}

static int lease_change(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                        const struct lease_req *q)
{
    struct target t;
    int rc;

    if (!q->owner || !q->owner[0] || (q->mode != LEASE_RELEASE && q->ttl_ms <= 0))
        return -EINVAL;
    rc = meta_target_init(m, k, id, &t);
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
    rc = meta_target_init(m, k, id, &t);
    if (rc < 0)
        return rc;
    keys[0] = t.lkey;
    rc = meta_read_keys(m, t.oid, keys, 1, kv);
    if (rc < 0)
        return rc;
    rc = kv[0].present ? lease_decode(kv[0].val, kv[0].len, out) : -ENOENT;
    if (rc == -EIO)
        st_error("meta: corrupt lease %s in %s", id, t.oid);
    meta_kv_free(kv, 1);
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
    rc = meta_kind_oid(k, oid);
    while (rc == 0 && more)
        rc = reconcile_page(m, k, oid, after, self_owner, now_ms, fn, arg, &count, &more);
    return rc < 0 ? rc : count;
}
