/* vol_backup_run.c — the data paths of backups and restores: which chunks
 * to read (rbd_diff_iterate2, whole objects), a pool of threads that read,
 * hash, reference, compress and store them (or fetch, verify and write them
 * back with AIO writes in flight), all paced by the [backup] limits. */
#include "vol_internal.h"

#include <rbd/librbd.h>
#include <unistd.h>

#include "bk_repo.h"

#define REF_BATCH 4        /* chunks referenced under one hold of the index lock */
#define AIO_DEPTH 4        /* restore writes in flight per thread */

/* What the threads of one run share. */
struct run {
    struct vol_service *s;
    const char *id;                 /* the backup */
    const char *ns;                 /* its chunks' project */
    rbd_image_t img;
    uint64_t bytes;                 /* data size (backup: the source's; restore: the backup's) */
    uint32_t chunk;
    uint64_t nchunks;
    char (*shas)[BK_SHA_HEX];       /* per chunk index; "" = zero (not stored) */
    uint64_t *todo;                 /* chunk indexes to process */
    uint64_t ntodo;
    struct qos_bulk_copy pace;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t next, done;            /* under mu */
    unsigned running;               /* threads still working, under mu */
    uint64_t read_bytes, stored_bytes, new_chunks;
    int err;                        /* the first failure, under mu */
    char msg[VOL_MSG_MAX];
};

static void run_fail(struct run *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void run_fail(struct run *r, int rc, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&r->mu);
    if (!r->err) {
        r->err = rc;
        va_start(ap, fmt);
        vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&r->mu);
}

/* Take up to n chunk indexes; 0 when none remain or the run failed. */
static size_t take(struct run *r, uint64_t *out, size_t n)
{
    size_t got = 0;

    pthread_mutex_lock(&r->mu);
    while (!r->err && got < n && r->next < r->ntodo)
        out[got++] = r->todo[r->next++];
    pthread_mutex_unlock(&r->mu);
    return got;
}

static void account(struct run *r, uint64_t done, uint64_t read, uint64_t stored, uint64_t fresh)
{
    pthread_mutex_lock(&r->mu);
    r->done += done;
    r->read_bytes += read;
    r->stored_bytes += stored;
    r->new_chunks += fresh;
    pthread_mutex_unlock(&r->mu);
}

static uint64_t chunk_len(const struct run *r, uint64_t idx)
{
    uint64_t off = idx * r->chunk;

    return r->bytes - off < r->chunk ? r->bytes - off : r->chunk;
}

/* ---- the threads ---- */

static int backup_batch(struct run *r, struct bk_codec *c, uint8_t **bufs, const uint64_t *idx,
                        size_t n)
{
    struct bk_ref refs[REF_BATCH];
    size_t nref = 0, slot[REF_BATCH];
    uint64_t read = 0, stored = 0, fresh = 0;

    for (size_t i = 0; i < n; i++) {
        uint64_t len = chunk_len(r, idx[i]);
        qos_bulk_copy_pace(&r->pace, len);
        ssize_t got = rbd_read(r->img, idx[i] * r->chunk, len, (char *)bufs[i]);
        if (got != (ssize_t)len) {
            run_fail(r, got < 0 ? (int)got : -EIO, "reading the volume at offset %llu: %s",
                     (unsigned long long)(idx[i] * r->chunk),
                     strerror(got < 0 ? (int)-got : EIO));
            return -EIO;
        }
        read += len;
        if (bk_is_zero(bufs[i], len)) {
            r->shas[idx[i]][0] = '\0';
            continue;
        }
        bk_sha256_hex(bufs[i], len, refs[nref].sha);
        slot[nref++] = i;
    }
    int rc = bk_repo_ref(r->s->repo, r->ns, r->id, refs, nref);
    if (rc < 0) {
        run_fail(r, rc, "referencing chunks: %s", strerror(-rc));
        return rc;
    }
    for (size_t k = 0; k < nref; k++) {
        uint64_t i = slot[k], len = chunk_len(r, idx[i]), put = 0;
        if (refs[k].absent &&
            (rc = bk_repo_put_chunk(r->s->repo, c, r->ns, refs[k].sha, bufs[i], len, &put)) < 0) {
            run_fail(r, rc, "storing a chunk in %s: %s", bk_store_describe(bk_repo_store(r->s->repo)),
                     strerror(-rc));
            return rc;
        }
        stored += put;
        fresh += refs[k].absent;
        memcpy(r->shas[idx[i]], refs[k].sha, BK_SHA_HEX);
    }
    account(r, n, read, stored, fresh);
    return 0;
}

static void *backup_thread(void *arg)
{
    struct run *r = arg;
    struct bk_codec *c = NULL;
    uint8_t *bufs[REF_BATCH] = { 0 };
    uint64_t idx[REF_BATCH];
    size_t n;
    int rc = bk_codec_create(r->s->bk_level, &c);

    for (size_t i = 0; rc == 0 && i < REF_BATCH; i++)
        if (!(bufs[i] = malloc(r->chunk)))
            rc = -ENOMEM;
    if (rc < 0)
        run_fail(r, rc, "no memory for the chunk buffers");
    while (rc == 0 && (n = take(r, idx, REF_BATCH)) > 0)
        rc = backup_batch(r, c, bufs, idx, n);
    for (size_t i = 0; i < REF_BATCH; i++)
        free(bufs[i]);
    bk_codec_destroy(c);
    pthread_mutex_lock(&r->mu);
    r->running--;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* One AIO write in flight. */
struct inflight {
    rbd_completion_t comp;
    void *buf;
    uint64_t off;
};

static int reap(struct run *r, struct inflight *w)
{
    int rc = 0;

    if (!w->comp)
        return 0;
    rbd_aio_wait_for_complete(w->comp);
    ssize_t res = rbd_aio_get_return_value(w->comp);
    rbd_aio_release(w->comp);
    w->comp = NULL;
    free(w->buf);
    w->buf = NULL;
    if (res < 0) {
        rc = (int)res;
        run_fail(r, rc, "writing the volume at offset %llu: %s", (unsigned long long)w->off,
                 strerror((int)-res));
    }
    return rc;
}

static int restore_one(struct run *r, struct bk_codec *c, uint64_t idx, struct inflight *w)
{
    char msg[BK_MSG_MAX] = "";
    void *data = NULL;
    size_t len = 0;
    uint64_t off = idx * r->chunk;
    int rc = bk_repo_get_chunk(r->s->repo, c, r->ns, r->shas[idx], &data, &len, msg);

    if (rc == 0 && len != chunk_len(r, idx)) {
        snprintf(msg, sizeof(msg), "chunk %.16s… holds %zu bytes, the manifest needs %llu",
                 r->shas[idx], len, (unsigned long long)chunk_len(r, idx));
        rc = -EBADMSG;
    }
    if (rc < 0) {
        free(data);
        run_fail(r, rc, "backup %s: the chunk at offset %llu is unusable: %s", r->id,
                 (unsigned long long)off, msg);
        return rc;
    }
    qos_bulk_copy_pace(&r->pace, len);
    if ((rc = rbd_aio_create_completion(NULL, NULL, &w->comp)) < 0) {
        free(data);
        w->comp = NULL;
        return rc;
    }
    w->buf = data;
    w->off = off;
    if ((rc = rbd_aio_write(r->img, off, len, data, w->comp)) < 0) {
        rbd_aio_release(w->comp);
        w->comp = NULL;
        free(data);
        w->buf = NULL;
        run_fail(r, rc, "writing the volume at offset %llu: %s", (unsigned long long)off,
                 strerror(-rc));
        return rc;
    }
    account(r, 1, 0, len, 0);
    return 0;
}

static void *restore_thread(void *arg)
{
    struct run *r = arg;
    struct bk_codec *c = NULL;
    struct inflight w[AIO_DEPTH] = { 0 };
    unsigned slot = 0;
    uint64_t idx;
    int rc = bk_codec_create(0, &c);

    if (rc < 0)
        run_fail(r, rc, "no memory for decompression");
    while (rc == 0 && take(r, &idx, 1) == 1) {
        if ((rc = reap(r, &w[slot])) == 0)
            rc = restore_one(r, c, idx, &w[slot]);
        slot = (slot + 1) % AIO_DEPTH;
    }
    for (unsigned i = 0; i < AIO_DEPTH; i++)
        reap(r, &w[i]);
    bk_codec_destroy(c);
    pthread_mutex_lock(&r->mu);
    r->running--;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Run fn on the configured number of threads; every second (and at the
 * end) tick(r, arg) reports progress.  0 or the first failure. */
static int run_threads(struct run *r, void *(*fn)(void *), void (*tick)(struct run *, void *),
                       void *arg)
{
    unsigned n = r->s->bk_threads;
    pthread_t th[64];
    unsigned started = 0;

    if (n > 64)
        n = 64;
    r->running = 0;
    for (; started < n; started++) {
        pthread_mutex_lock(&r->mu);
        r->running++;
        pthread_mutex_unlock(&r->mu);
        if (pthread_create(&th[started], NULL, fn, r) != 0) {
            pthread_mutex_lock(&r->mu);
            r->running--;
            pthread_mutex_unlock(&r->mu);
            break;
        }
    }
    if (started == 0)
        run_fail(r, -EAGAIN, "cannot start threads");
    pthread_mutex_lock(&r->mu);
    while (r->running > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) == ETIMEDOUT && tick) {
            pthread_mutex_unlock(&r->mu);
            tick(r, arg);
            pthread_mutex_lock(&r->mu);
        }
    }
    pthread_mutex_unlock(&r->mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    return r->err;
}

static int run_init(struct run *r, struct vol_service *s, const char *id, const char *ns,
                    uint64_t bytes, uint32_t chunk)
{
    memset(r, 0, sizeof(*r));
    r->s = s;
    r->id = id;
    r->ns = ns;
    r->bytes = bytes;
    r->chunk = chunk;
    r->nchunks = (bytes + chunk - 1) / chunk;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->shas = calloc(r->nchunks ? r->nchunks : 1, BK_SHA_HEX);
    r->todo = calloc(r->nchunks ? r->nchunks : 1, sizeof(*r->todo));
    if (!r->shas || !r->todo)
        return -ENOMEM;
    return qos_bulk_copy_begin(&s->bk_bulk, &r->pace);
}

static void run_cleanup(struct run *r)
{
    qos_bulk_copy_end(&r->pace);
    free(r->shas);
    free(r->todo);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

/* ---- manifests ---- */

/* The manifest's chunks into r->shas: 0, or -EBADMSG when it does not fit. */
static int load_chunks(struct run *r, const json_t *m)
{
    const json_t *chunks = json_object_get(m, "chunks"), *e;
    size_t i;

    json_array_foreach(chunks, i, e) {
        json_int_t idx = json_integer_value(json_array_get(e, 0));
        const char *sha = json_string_value(json_array_get(e, 1));
        if (idx < 0 || (uint64_t)idx >= r->nchunks || !sha || strlen(sha) != BK_SHA_HEX - 1)
            return -EBADMSG;
        memcpy(r->shas[idx], sha, BK_SHA_HEX);
    }
    return 0;
}

static json_t *manifest_of(const struct run *r, const json_t *base)
{
    json_t *m = json_deep_copy(base), *chunks = json_array();
    bool ok = m && chunks;

    for (uint64_t i = 0; ok && i < r->nchunks; i++)
        if (r->shas[i][0])
            ok = json_array_append_new(chunks, json_pack("[I, s]", (json_int_t)i, r->shas[i])) == 0;
    if (ok && json_object_set_new(m, "chunks", chunks) == 0)
        return m; /* a manifest missing a chunk would be a corrupt backup: none, then */
    if (!ok)
        json_decref(chunks);
    json_decref(m);
    return NULL;
}

/* ---- backup ---- */

static int mark_changed(uint64_t off, size_t len, int exists, void *arg)
{
    struct run *r = arg;
    uint64_t first = off / r->chunk, last = (off + len - 1) / r->chunk;

    (void)exists;   /* a discarded extent is re-read too: it reads as zeros */
    if (len == 0)
        return 0;
    for (uint64_t i = first; i <= last && i < r->nchunks; i++)
        r->shas[i][0] = '?';   /* marker until the chunk list is built */
    return 0;
}

static void backup_tick(struct run *r, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&r->mu);
    unsigned pct = r->ntodo ? (unsigned)(r->done * 100 / r->ntodo) : 100;
    pthread_mutex_unlock(&r->mu);
    char p[16];
    snprintf(p, sizeof(p), "%u%%", pct > 99 ? 99 : pct);
    vs_step(r->s, &backup_kind, r->id, "creating", NULL, json_pack("{s:s}", "progress", p));
}

/* Read what changed (everything allocated for a full backup) from the
 * volume's snapshot and store the chunks; *manifest: the new manifest. */
int vs_backup_data(struct vol_service *s, const struct vs_backup_plan *p, json_t **manifest,
                   struct vs_backup_stats *st, char *msg)
{
    char vol[NAME_MAX_LEN];
    struct run r;
    uint64_t bytes = 0;
    int rc;

    vol_rbd_name(p->volume_id, vol, sizeof(vol));
    if ((rc = st_rbd_size(s->vols, vol, p->snap, &bytes)) < 0) {
        snprintf(msg, VOL_MSG_MAX, "the volume's snapshot %s cannot be read: %s", p->snap,
                 strerror(-rc));
        return rc;
    }
    if ((rc = run_init(&r, s, p->backup_id, p->ns, bytes, s->bk_chunk)) < 0) {
        snprintf(msg, VOL_MSG_MAX, "no memory for a backup of %llu bytes",
                 (unsigned long long)bytes);
        goto out;
    }
    if (p->parent && (rc = load_chunks(&r, p->parent)) < 0) {
        snprintf(msg, VOL_MSG_MAX, "the parent backup's manifest does not fit this volume");
        goto out;
    }
    if ((rc = rbd_open_read_only(s->vols, vol, &r.img, p->snap)) < 0) {
        snprintf(msg, VOL_MSG_MAX, "opening %s@%s: %s", vol, p->snap, strerror(-rc));
        goto out;
    }
    /* a chunk changed since the parent's snapshot (or, for a full backup,
     * holding any data) is marked, then listed */
    char (*keep)[BK_SHA_HEX] = calloc(r.nchunks ? r.nchunks : 1, BK_SHA_HEX);
    if (!keep) {
        rc = -ENOMEM;
        goto out;
    }
    memcpy(keep, r.shas, r.nchunks * BK_SHA_HEX);
    memset(r.shas, 0, r.nchunks * BK_SHA_HEX);
    rc = rbd_diff_iterate2(r.img, p->parent ? p->parent_snap : NULL, 0, bytes, 1, 1, mark_changed,
                           &r);
    for (uint64_t i = 0; i < r.nchunks; i++) {
        if (r.shas[i][0] == '?')
            r.todo[r.ntodo++] = i;
        else
            memcpy(r.shas[i], keep[i], BK_SHA_HEX);   /* unchanged: the parent's chunk */
    }
    free(keep);
    if (rc < 0) {
        snprintf(msg, VOL_MSG_MAX, "listing the volume's changed extents: %s", strerror(-rc));
        goto out;
    }
    st_info("backup %s: %s of volume %s: %llu of %llu chunks to read", p->backup_id,
            p->parent ? "incremental" : "full", p->volume_id, (unsigned long long)r.ntodo,
            (unsigned long long)r.nchunks);
    if ((rc = run_threads(&r, backup_thread, backup_tick, NULL)) < 0) {
        snprintf(msg, VOL_MSG_MAX, "%s", r.msg);
        goto out;
    }
    json_t *base = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:s?}", "version", 1, "backup_id",
                             p->backup_id, "volume_id", p->volume_id, "chunk_project", p->ns,
                             "bytes", (json_int_t)bytes, "chunk_size", (json_int_t)r.chunk,
                             "parent_id", p->parent ? p->parent_id : NULL);
    if (!base || !(*manifest = manifest_of(&r, base))) {
        json_decref(base);
        rc = -ENOMEM;
        goto out;
    }
    json_decref(base);
    st->bytes = bytes;
    st->read_bytes = r.read_bytes;
    st->stored_bytes = r.stored_bytes;
    st->new_chunks = r.new_chunks;
    st->chunks = json_array_size(json_object_get(*manifest, "chunks"));
    st->chunks_read = r.ntodo;
out:
    if (r.img)
        rbd_close(r.img);
    run_cleanup(&r);
    return rc;
}

/* ---- restore ---- */

/* Zeros over the chunks the manifest does not list (an existing volume's
 * old data must not show through). */
static int zero_gaps(struct run *r)
{
    for (uint64_t i = 0; i < r->nchunks; i++) {
        if (r->shas[i][0])
            continue;
        int rc = rbd_write_zeroes(r->img, i * r->chunk, chunk_len(r, i), 0, 0);
        if (rc < 0) {
            run_fail(r, rc, "zeroing the volume at offset %llu: %s",
                     (unsigned long long)(i * r->chunk), strerror(-rc));
            return rc;
        }
    }
    return 0;
}

int vs_restore_data(struct vol_service *s, const json_t *manifest, const char *backup_id,
                    const char *volume_id, bool fresh, char *msg)
{
    char vol[NAME_MAX_LEN];
    struct run r;
    int64_t bytes = json_integer_value(json_object_get(manifest, "bytes"));
    int64_t chunk = json_integer_value(json_object_get(manifest, "chunk_size"));
    const char *ns = st_rec_str(manifest, "chunk_project");
    uint64_t have = 0;
    int rc;

    vol_rbd_name(volume_id, vol, sizeof(vol));
    if (bytes < 0 || chunk <= 0 || chunk > (1 << 30) || !ns) {
        snprintf(msg, VOL_MSG_MAX, "backup %s: its manifest is malformed", backup_id);
        return -EBADMSG;
    }
    if ((rc = run_init(&r, s, backup_id, ns, (uint64_t)bytes, (uint32_t)chunk)) < 0 ||
        (rc = load_chunks(&r, manifest)) < 0) {
        snprintf(msg, VOL_MSG_MAX, "backup %s: its manifest is malformed", backup_id);
        goto out;
    }
    if ((rc = st_rbd_size(s->vols, vol, NULL, &have)) == 0 && have < (uint64_t)bytes)
        rc = -ENOSPC;
    if (rc == 0)
        rc = rbd_open(s->vols, vol, &r.img, NULL);
    if (rc < 0) {
        snprintf(msg, VOL_MSG_MAX, "volume %s cannot take the backup: %s", volume_id,
                 rc == -ENOSPC ? "it is smaller" : strerror(-rc));
        goto out;
    }
    for (uint64_t i = 0; i < r.nchunks; i++)
        if (r.shas[i][0])
            r.todo[r.ntodo++] = i;
    if (!fresh && (rc = zero_gaps(&r)) < 0) {
        snprintf(msg, VOL_MSG_MAX, "%s", r.msg);
        goto out;
    }
    if ((rc = run_threads(&r, restore_thread, NULL, NULL)) == 0)
        rc = rbd_flush(r.img);
    if (rc < 0)
        snprintf(msg, VOL_MSG_MAX, "%s", r.msg[0] ? r.msg : strerror(-rc));
    else
        st_info("backup %s: restored onto volume %s (%llu chunks, %llu bytes written)", backup_id,
                volume_id, (unsigned long long)r.ntodo, (unsigned long long)r.stored_bytes);
out:
    if (r.img)
        rbd_close(r.img);
    run_cleanup(&r);
    return rc;
}
