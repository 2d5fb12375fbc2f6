/* bk_repo.c — the backup repository: chunks and manifests in the store, the
 * reference index and per-backup lists in RADOS omap, guarded by one RADOS
 * lock so a chunk is never freed while a backup is taking a reference to it. */
#include "bk_repo.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "strata/log.h"

#define INDEX_PREFIX "backup_index."    /* + the store's digest: "<project>/<sha>/<backup>" */
#define LIST_PREFIX "backup_refs."      /* + backup id: that backup's shas */
#define LOCK_NAME "refs"
#define LOCK_SECONDS 30                 /* a holder killed mid-batch frees it after this */
#define PAGE 512

struct bk_repo {
    rados_ioctx_t io;
    struct bk_store *store;
    char cookie_base[96];
    char index_oid[64];                 /* one index per store (a pool may serve several) */
    pthread_mutex_t mu;                 /* one holder per process (the lock is per cookie) */
    unsigned long seq;
};

int bk_repo_create(rados_ioctx_t io, struct bk_store *store, const char *owner,
                   struct bk_repo **out)
{
    struct bk_repo *r = calloc(1, sizeof(*r));

    if (!r)
        return -ENOMEM;
    r->io = io;
    r->store = store;
    snprintf(r->cookie_base, sizeof(r->cookie_base), "%s", owner);
    char digest[BK_SHA_HEX];
    const char *where = bk_store_describe(store);
    bk_sha256_hex(where, strlen(where), digest);
    snprintf(r->index_oid, sizeof(r->index_oid), INDEX_PREFIX "%.16s", digest);
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return 0;
}

void bk_repo_destroy(struct bk_repo *r)
{
    if (!r)
        return;
    bk_store_close(r->store);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

struct bk_store *bk_repo_store(struct bk_repo *r)
{
    return r->store;
}

void bk_chunk_name(const char *project, const char *sha, char *buf, size_t len)
{
    snprintf(buf, len, "chunks/%s/%.2s/%s", project, sha, sha);
}

/* ---- the index lock ---- */

static int lock_index(struct bk_repo *r, char *cookie, size_t len)
{
    struct timeval dur = { LOCK_SECONDS, 0 };
    struct timespec nap = { 0, 5 * 1000 * 1000 };

    pthread_mutex_lock(&r->mu);
    snprintf(cookie, len, "%s#%lu", r->cookie_base, ++r->seq);
    for (int tries = 0; tries < 20000; tries++) {   /* ≥ LOCK_SECONDS of 5 ms naps */
        int rc = rados_lock_exclusive(r->io, r->index_oid, LOCK_NAME, cookie, "backup refs", &dur, 0);
        if (rc == 0)
            return 0;
        if (rc != -EBUSY && rc != -EEXIST) {
            pthread_mutex_unlock(&r->mu);
            st_error("backup index: cannot lock %s: %s", r->index_oid, strerror(-rc));
            return rc;
        }
        nanosleep(&nap, NULL);
    }
    pthread_mutex_unlock(&r->mu);
    return -ETIMEDOUT;
}

static void unlock_index(struct bk_repo *r, const char *cookie)
{
    rados_unlock(r->io, r->index_oid, LOCK_NAME, cookie);
    pthread_mutex_unlock(&r->mu);
}

/* ---- omap helpers ---- */

static int omap_set(rados_ioctx_t io, const char *oid, const char *const *keys, size_t n)
{
    const char **vals = calloc(n ? n : 1, sizeof(*vals));
    size_t *lens = calloc(n ? n : 1, sizeof(*lens));
    int rc = -ENOMEM;

    if (vals && lens) {
        for (size_t i = 0; i < n; i++)
            vals[i] = "";
        rados_write_op_t op = rados_create_write_op();
        rados_write_op_omap_set(op, keys, vals, lens, n);
        rc = rados_write_op_operate(op, io, oid, NULL, 0);
        rados_release_write_op(op);
    }
    free(vals);
    free(lens);
    return rc;
}

static int omap_rm(rados_ioctx_t io, const char *oid, const char *const *keys, size_t n)
{
    rados_write_op_t op = rados_create_write_op();
    rados_write_op_omap_rm_keys(op, keys, n);
    int rc = rados_write_op_operate(op, io, oid, NULL, 0);
    rados_release_write_op(op);
    return rc == -ENOENT ? 0 : rc;
}

/* Keys of oid after `after` with `prefix` (at most max): fn(arg, key) each. */
typedef int (*key_fn)(void *arg, const char *key);
static int omap_keys(rados_ioctx_t io, const char *oid, const char *after, const char *prefix,
                     size_t max, key_fn fn, void *arg, unsigned char *more, char *last,
                     size_t lastlen)
{
    rados_read_op_t op = rados_create_read_op();
    rados_omap_iter_t it = NULL;
    int prval = 0, rc;

    *more = 0;
    rados_read_op_omap_get_vals2(op, after, prefix ? prefix : "", max, &it, more, &prval);
    rc = rados_read_op_operate(op, io, oid, 0);
    if (rc == 0 && prval < 0)
        rc = prval;
    if (rc == 0) {
        char *k, *v;
        size_t vl;
        while (rados_omap_get_next(it, &k, &v, &vl) == 0 && k) {
            if (last)
                snprintf(last, lastlen, "%s", k);
            if ((rc = fn(arg, k)) != 0)
                break;
        }
    }
    if (it)
        rados_omap_get_end(it);
    rados_release_read_op(op);
    return rc;
}

static int count_key(void *arg, const char *key)
{
    (void)key;
    (*(size_t *)arg)++;
    return 0;
}

/* Does any backup reference project's sha? */
static int referenced(struct bk_repo *r, const char *project, const char *sha, bool *yes)
{
    char prefix[256];
    size_t n = 0;
    unsigned char more;

    snprintf(prefix, sizeof(prefix), "%s/%s/", project, sha);
    int rc = omap_keys(r->io, r->index_oid, prefix, prefix, 1, count_key, &n, &more, NULL, 0);
    *yes = n > 0;
    return rc == -ENOENT ? 0 : rc;
}

/* ---- references ---- */

static void list_oid(const char *backup_id, char *buf, size_t len)
{
    snprintf(buf, len, LIST_PREFIX "%s", backup_id);
}

static void index_key(const char *project, const char *sha, const char *backup_id, char *buf,
                      size_t len)
{
    snprintf(buf, len, "%s/%s/%s", project, sha, backup_id);
}

int bk_repo_ref(struct bk_repo *r, const char *project, const char *backup_id,
                struct bk_ref *refs, size_t n)
{
    char lst[160], cookie[160];
    const char **shas = calloc(n ? n : 1, sizeof(*shas));
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    char (*kbuf)[256] = calloc(n ? n : 1, sizeof(*kbuf));
    int rc = -ENOMEM;

    if (!shas || !keys || !kbuf)
        goto out;
    for (size_t i = 0; i < n; i++) {
        shas[i] = refs[i].sha;
        index_key(project, refs[i].sha, backup_id, kbuf[i], sizeof(kbuf[i]));
        keys[i] = kbuf[i];
    }
    /* the backup's own list first: a crash after it leaves nothing unlisted */
    list_oid(backup_id, lst, sizeof(lst));
    if ((rc = omap_set(r->io, lst, shas, n)) < 0)
        goto out;
    if ((rc = lock_index(r, cookie, sizeof(cookie))) < 0)
        goto out;
    rc = omap_set(r->io, r->index_oid, keys, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char name[256];
        uint64_t len;
        bk_chunk_name(project, refs[i].sha, name, sizeof(name));
        int s = bk_store_stat(r->store, name, &len);
        refs[i].absent = s == -ENOENT;
        if (s < 0 && s != -ENOENT)
            rc = s;
    }
    unlock_index(r, cookie);
out:
    free(shas);
    free(keys);
    free(kbuf);
    return rc;
}

/* Under the lock: drop backup_id's references to these shas; free the
 * chunks nobody references any more. */
static int unref_batch(struct bk_repo *r, const char *project, const char *backup_id,
                       char (*shas)[BK_SHA_HEX], size_t n, size_t *freed)
{
    char cookie[160];
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    char (*kbuf)[256] = calloc(n ? n : 1, sizeof(*kbuf));
    int rc = -ENOMEM;

    if (!keys || !kbuf)
        goto out;
    for (size_t i = 0; i < n; i++) {
        index_key(project, shas[i], backup_id, kbuf[i], sizeof(kbuf[i]));
        keys[i] = kbuf[i];
    }
    if ((rc = lock_index(r, cookie, sizeof(cookie))) < 0)
        goto out;
    rc = omap_rm(r->io, r->index_oid, keys, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool used = true;
        char name[256];
        if ((rc = referenced(r, project, shas[i], &used)) < 0 || used)
            continue;
        bk_chunk_name(project, shas[i], name, sizeof(name));
        if ((rc = bk_store_remove(r->store, name)) == 0 && freed)
            (*freed)++;
    }
    unlock_index(r, cookie);
out:
    free(keys);
    free(kbuf);
    return rc;
}

struct sha_page {
    char (*shas)[BK_SHA_HEX];
    size_t n, cap;
};

static int collect_sha(void *arg, const char *key)
{
    struct sha_page *p = arg;

    if (p->n < p->cap && strlen(key) == BK_SHA_HEX - 1)
        snprintf(p->shas[p->n++], BK_SHA_HEX, "%s", key);
    return 0;
}

int bk_repo_unref_all(struct bk_repo *r, const char *project, const char *backup_id,
                      size_t *freed)
{
    char lst[160];
    struct sha_page p = { calloc(PAGE, BK_SHA_HEX), 0, PAGE };
    int rc = 0;

    if (!p.shas)
        return -ENOMEM;
    if (freed)
        *freed = 0;
    list_oid(backup_id, lst, sizeof(lst));
    for (;;) {
        unsigned char more = 0;
        p.n = 0;
        /* always from the start: each page is removed from the list once done */
        rc = omap_keys(r->io, lst, "", NULL, PAGE, collect_sha, &p, &more, NULL, 0);
        if (rc == -ENOENT) {
            rc = 0;
            break;
        }
        if (rc < 0 || p.n == 0)
            break;
        if ((rc = unref_batch(r, project, backup_id, p.shas, p.n, freed)) < 0)
            break;
        const char **keys = calloc(p.n, sizeof(*keys));
        if (!keys) {
            rc = -ENOMEM;
            break;
        }
        for (size_t i = 0; i < p.n; i++)
            keys[i] = p.shas[i];
        rc = omap_rm(r->io, lst, keys, p.n);
        free(keys);
        if (rc < 0)
            break;
    }
    if (rc == 0) {
        rc = rados_remove(r->io, lst);
        rc = rc == -ENOENT ? 0 : rc;
    }
    free(p.shas);
    return rc;
}

/* ---- chunks and manifests ---- */

int bk_repo_put_chunk(struct bk_repo *r, struct bk_codec *c, const char *project,
                      const char *sha, const void *data, size_t len, uint64_t *stored)
{
    char name[256];
    void *frame = NULL;
    size_t flen = 0;
    int compressed = 0;
    int rc = bk_chunk_encode(c, data, len, sha, &frame, &flen, &compressed);

    if (rc < 0)
        return rc;
    bk_chunk_name(project, sha, name, sizeof(name));
    rc = bk_store_put(r->store, name, frame, flen);
    if (rc == 0 && stored)
        *stored = flen;
    free(frame);
    return rc;
}

int bk_repo_get_chunk(struct bk_repo *r, struct bk_codec *c, const char *project,
                      const char *sha, void **data, size_t *len, char *msg)
{
    char name[256];
    void *frame = NULL;
    size_t flen = 0;
    int rc;

    bk_chunk_name(project, sha, name, sizeof(name));
    if ((rc = bk_store_get(r->store, name, &frame, &flen)) < 0) {
        snprintf(msg, BK_MSG_MAX, "chunk %.16s… %s: %s", sha,
                 rc == -ENOENT ? "is missing" : "cannot be read", strerror(-rc));
        return rc;
    }
    rc = bk_chunk_decode(c, frame, flen, sha, data, len, msg, BK_MSG_MAX);
    free(frame);
    return rc;
}

static void manifest_name(const char *backup_id, char *buf, size_t len)
{
    snprintf(buf, len, "manifests/%s", backup_id);
}

int bk_repo_put_manifest(struct bk_repo *r, const char *backup_id, const json_t *m)
{
    char name[160], sha[BK_SHA_HEX];
    char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    struct bk_codec *c = NULL;
    void *frame = NULL;
    size_t flen = 0;
    int compressed, rc;

    if (!text)
        return -ENOMEM;
    bk_sha256_hex(text, strlen(text), sha);
    rc = bk_codec_create(1, &c);
    if (rc == 0)
        rc = bk_chunk_encode(c, text, strlen(text), sha, &frame, &flen, &compressed);
    bk_codec_destroy(c);
    free(text);
    if (rc < 0)
        return rc;
    manifest_name(backup_id, name, sizeof(name));
    rc = bk_store_put(r->store, name, frame, flen);
    free(frame);
    return rc;
}

int bk_repo_get_manifest(struct bk_repo *r, const char *backup_id, json_t **m)
{
    char name[160], msg[BK_MSG_MAX] = "";
    struct bk_codec *c = NULL;
    void *frame = NULL, *text = NULL;
    size_t flen = 0, tlen = 0;
    int rc;

    manifest_name(backup_id, name, sizeof(name));
    if ((rc = bk_store_get(r->store, name, &frame, &flen)) < 0)
        return rc;
    rc = bk_codec_create(0, &c);
    if (rc == 0)
        rc = bk_chunk_decode(c, frame, flen, NULL, &text, &tlen, msg, sizeof(msg));
    bk_codec_destroy(c);
    free(frame);
    if (rc < 0) {
        st_error("backup %s: manifest is corrupt: %s", backup_id, msg);
        return rc;
    }
    json_error_t e;
    *m = json_loadb(text, tlen, 0, &e);
    free(text);
    return *m && json_is_object(*m) ? 0 : -EBADMSG;
}

int bk_repo_remove_manifest(struct bk_repo *r, const char *backup_id)
{
    char name[160];

    manifest_name(backup_id, name, sizeof(name));
    return bk_store_remove(r->store, name);
}

/* ---- audit ---- */

struct audit {
    struct bk_repo *r;
    json_t *chunks;      /* "project/sha" → true, from the store */
    json_t *indexed;     /* "project/sha" → true, from the index */
    json_t *dangling;    /* index keys of backups neither live nor with a manifest */
    json_t *missing;
    json_t *manifests;   /* backup id → true */
    bool (*live)(void *arg, const char *backup_id);
    void *live_arg;
    size_t nkeys;
};

static int audit_chunk(void *arg, const char *name)
{
    struct audit *a = arg;
    const char *p = name + strlen("chunks/");
    const char *slash = strchr(p, '/');
    const char *sha = strrchr(name, '/');
    char key[256];

    if (!slash || !sha)
        return 0;
    snprintf(key, sizeof(key), "%.*s/%s", (int)(slash - p), p, sha + 1);
    json_object_set_new(a->chunks, key, json_true());
    return 0;
}

static int audit_manifest(void *arg, const char *name)
{
    struct audit *a = arg;

    json_object_set_new(a->manifests, name + strlen("manifests/"), json_true());
    return 0;
}

static int audit_key(void *arg, const char *key)
{
    struct audit *a = arg;
    const char *bid = strrchr(key, '/');
    char ps[256];

    a->nkeys++;
    if (!bid)
        return 0;
    snprintf(ps, sizeof(ps), "%.*s", (int)(bid - key), key);
    bid++;
    bool known = (a->live && a->live(a->live_arg, bid)) || json_object_get(a->manifests, bid);
    if (!known) {
        json_array_append_new(a->dangling, json_string(key));
        return 0;
    }
    json_object_set_new(a->indexed, ps, json_true());
    if (!json_object_get(a->chunks, ps))
        json_array_append_new(a->missing, json_string(ps));
    return 0;
}

static int audit_index(struct audit *a)
{
    char after[256] = "";
    unsigned char more = 1;
    int rc = 0;

    while (more && rc == 0)
        rc = omap_keys(a->r->io, a->r->index_oid, after, NULL, PAGE, audit_key, a, &more, after,
                       sizeof(after));
    return rc == -ENOENT ? 0 : rc;
}

/* Remove a dangling index key, and its backup's list once it is empty. */
static void repair_dangling(struct audit *a, const char *key)
{
    const char *bid = strrchr(key, '/');
    char lst[160], cookie[160];

    if (!bid || lock_index(a->r, cookie, sizeof(cookie)) < 0)
        return;
    omap_rm(a->r->io, a->r->index_oid, &key, 1);
    unlock_index(a->r, cookie);
    list_oid(bid + 1, lst, sizeof(lst));
    rados_remove(a->r->io, lst);
}

/* An orphan chunk goes only if, under the lock, nobody references it. */
static bool repair_orphan(struct audit *a, const char *ps)
{
    const char *slash = strchr(ps, '/');
    char project[128], name[256], cookie[160];
    bool used = true;

    if (!slash || lock_index(a->r, cookie, sizeof(cookie)) < 0)
        return false;
    snprintf(project, sizeof(project), "%.*s", (int)(slash - ps), ps);
    if (referenced(a->r, project, slash + 1, &used) == 0 && !used) {
        bk_chunk_name(project, slash + 1, name, sizeof(name));
        bk_store_remove(a->r->store, name);
    }
    unlock_index(a->r, cookie);
    return !used;
}

int bk_repo_audit(struct bk_repo *r, bool (*live)(void *arg, const char *backup_id), void *arg,
                  bool repair, json_t **report)
{
    struct audit a = { r, json_object(), json_object(), json_array(), json_array(), json_object(),
                       live, arg, 0 };
    json_t *orphans = json_array();
    int rc;

    if ((rc = bk_store_list(r->store, "manifests/", audit_manifest, &a)) < 0 ||
        (rc = bk_store_list(r->store, "chunks/", audit_chunk, &a)) < 0 ||
        (rc = audit_index(&a)) < 0)
        goto out;
    const char *ps;
    json_t *v;
    json_object_foreach(a.chunks, ps, v) {
        if (!json_object_get(a.indexed, ps))
            json_array_append_new(orphans, json_string(ps));
    }
    size_t i;
    if (repair) {
        json_array_foreach(a.dangling, i, v)
            repair_dangling(&a, json_string_value(v));
        json_array_foreach(orphans, i, v)
            repair_orphan(&a, json_string_value(v));
    }
    *report = json_pack("{s:I, s:I, s:I, s:O, s:O, s:O, s:b}", "chunks",
                        (json_int_t)json_object_size(a.chunks), "references",
                        (json_int_t)a.nkeys, "manifests",
                        (json_int_t)json_object_size(a.manifests), "orphan_chunks", orphans,
                        "missing_chunks", a.missing, "dangling_refs", a.dangling, "repaired",
                        repair);
    rc = *report ? 0 : -ENOMEM;
out:
    json_decref(orphans);
    json_decref(a.chunks);
    json_decref(a.indexed);
    json_decref(a.dangling);
    json_decref(a.missing);
    json_decref(a.manifests);
    return rc;
}
