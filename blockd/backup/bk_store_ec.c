/* bk_store_ec.c — backup objects erasure-coded (isa-l Cauchy) over k+m bk_dir
 * directories: shard i is "<name>" in directory i, a 40-byte header + 1/k of the
 * data or a coding shard; a get rebuilds data shards from any k good ones. */
#include "bk_store_internal.h"

#include <errno.h>
#include <isa-l/crc.h>
#include <isa-l/erasure_code.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "strata/log.h"
#include "strata/strutil.h"

#define EC_MAX 32 /* k + m */
#define SHARD_MAGIC "SBKE"
#define SHARD_VERSION 1
#define SHARD_HDR 40
#define ISAL_LEN_MAX (1u << 30) /* bytes per isa-l call (they take int lengths) */

enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 4,
    OFF_INDEX = 5,
    OFF_K = 6,
    OFF_M = 7,
    OFF_LEN = 8,
    OFF_PUT_ID = 16,
    OFF_SHARD_LEN = 24,
    OFF_CRC = 32,
    OFF_RESERVED = 36
};

struct ec {
    unsigned k, m;
    struct bk_dir *dirs[EC_MAX];
    unsigned char matrix[EC_MAX * EC_MAX]; /* (k+m) × k, the top k rows identity */
    unsigned char *tbls;                   /* encode tables of the m coding rows */
};

struct shard_hdr {
    uint64_t len, put_id, shard_len;
};

/* One shard of a get: its file and whether it is usable. */
struct shard {
    void *file;
    size_t file_len;
    int rc;
    bool ok;
    struct shard_hdr h;
};

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t crc32c(const unsigned char *buf, size_t len, uint32_t crc)
{
    for (size_t off = 0; off < len; off += ISAL_LEN_MAX) {
        size_t n = len - off < ISAL_LEN_MAX ? len - off : ISAL_LEN_MAX;

        crc = crc32_iscsi((unsigned char *)buf + off, (int)n, crc);
    }
    return crc;
}

/* The crc32c of a shard (header + payload) with its crc field taken as 0. */
static uint32_t shard_crc(const unsigned char *shard, size_t len)
{
    static const unsigned char zero[4];
    uint32_t crc = crc32c(shard, OFF_CRC, 0);

    crc = crc32c(zero, sizeof(zero), crc);
    return crc32c(shard + OFF_CRC + 4, len - OFF_CRC - 4, crc);
}

static uint64_t shard_len_of(const struct ec *e, uint64_t len)
{
    return (len + e->k - 1) / e->k;
}

static void write_shard_header(const struct ec *e, unsigned char *shard, unsigned index,
                               const struct shard_hdr *h)
{
    uint32_t crc;

    memset(shard, 0, SHARD_HDR);
    memcpy(shard + OFF_MAGIC, SHARD_MAGIC, 4);
    shard[OFF_VERSION] = SHARD_VERSION;
    shard[OFF_INDEX] = (unsigned char)index;
    shard[OFF_K] = (unsigned char)e->k;
    shard[OFF_M] = (unsigned char)e->m;
    put_le64(shard + OFF_LEN, h->len);
    put_le64(shard + OFF_PUT_ID, h->put_id);
    put_le64(shard + OFF_SHARD_LEN, h->shard_len);
    crc = shard_crc(shard, SHARD_HDR + h->shard_len);
    for (int i = 0; i < 4; i++)
        shard[OFF_CRC + i] = (unsigned char)(crc >> (8 * i));
}

/* Whether the header (the first SHARD_HDR bytes of a file of file_len bytes)
 * is shard index of this store's layout; *h its fields. */
static bool parse_shard_header(const struct ec *e, const unsigned char *p, uint64_t file_len,
                               unsigned index, struct shard_hdr *h)
{
    if (file_len < SHARD_HDR || memcmp(p + OFF_MAGIC, SHARD_MAGIC, 4) != 0 ||
        p[OFF_VERSION] != SHARD_VERSION || p[OFF_INDEX] != index || p[OFF_K] != e->k ||
        p[OFF_M] != e->m || memcmp(p + OFF_RESERVED, "\0\0\0\0", 4) != 0)
        return false;
    h->len = get_le64(p + OFF_LEN);
    h->put_id = get_le64(p + OFF_PUT_ID);
    h->shard_len = get_le64(p + OFF_SHARD_LEN);
    return h->shard_len == shard_len_of(e, h->len) && file_len == SHARD_HDR + h->shard_len;
}

static bool shard_valid(const struct ec *e, struct shard *s, unsigned index)
{
    const unsigned char *p = s->file;
    uint32_t crc;

    if (s->rc < 0 || !parse_shard_header(e, p, s->file_len, index, &s->h))
        return false;
    crc = (uint32_t)p[OFF_CRC] | (uint32_t)p[OFF_CRC + 1] << 8 | (uint32_t)p[OFF_CRC + 2] << 16 |
          (uint32_t)p[OFF_CRC + 3] << 24;
    return shard_crc(p, s->file_len) == crc;
}

/* ec_encode_data over len bytes, in pieces isa-l's int lengths can take. */
static void ec_encode(size_t len, unsigned k, unsigned rows, unsigned char *tbls,
                      unsigned char **src, unsigned char **dst)
{
    unsigned char *s[EC_MAX], *d[EC_MAX];

    for (size_t off = 0; off < len; off += ISAL_LEN_MAX) {
        size_t n = len - off < ISAL_LEN_MAX ? len - off : ISAL_LEN_MAX;

        for (unsigned i = 0; i < k; i++)
            s[i] = src[i] + off;
        for (unsigned i = 0; i < rows; i++)
            d[i] = dst[i] + off;
        ec_encode_data((int)n, (int)k, (int)rows, tbls, s, d);
    }
}

/* ---- put ---- */

struct shard_job {
    struct bk_dir *dir;
    const char *name;
    const unsigned char *data;
    size_t len;
    int rc;
    pthread_t thread;
    bool threaded;
};

static void *shard_job_run(void *arg)
{
    struct shard_job *j = arg;

    j->rc = bk_dir_put(j->dir, j->name, j->data, j->len);
    return NULL;
}

/* Write the n shards (stride bytes apart in buf) in parallel, one thread
 * each (inline when a thread cannot be had): the first error or 0. */
static int write_shards(struct ec *e, const char *name, const unsigned char *buf, size_t stride)
{
    struct shard_job jobs[EC_MAX];
    unsigned n = e->k + e->m;
    int rc = 0;

    for (unsigned i = 0; i < n; i++) {
        jobs[i] = (struct shard_job){
            .dir = e->dirs[i], .name = name, .data = buf + i * stride, .len = stride};
        jobs[i].threaded = pthread_create(&jobs[i].thread, NULL, shard_job_run, &jobs[i]) == 0;
        if (!jobs[i].threaded)
            shard_job_run(&jobs[i]);
    }
    for (unsigned i = 0; i < n; i++) {
        if (jobs[i].threaded)
            pthread_join(jobs[i].thread, NULL);
        if (jobs[i].rc < 0 && rc == 0)
            rc = jobs[i].rc;
    }
    return rc;
}

static int ec_put(void *impl, const char *name, const void *data, size_t len)
{
    struct ec *e = impl;
    struct shard_hdr h = {.len = len, .shard_len = shard_len_of(e, len)};
    size_t stride = SHARD_HDR + h.shard_len;
    unsigned char *buf, *ptrs[EC_MAX];
    int rc;

    if (getrandom(&h.put_id, sizeof(h.put_id), 0) != (ssize_t)sizeof(h.put_id))
        return -EIO;
    buf = calloc(e->k + e->m, stride); /* zeros: the data shards' padding */
    if (!buf)
        return -ENOMEM;
    for (unsigned i = 0; i < e->k + e->m; i++)
        ptrs[i] = buf + i * stride + SHARD_HDR;
    for (unsigned i = 0; i < e->k && i * h.shard_len < len; i++) {
        size_t left = len - i * h.shard_len;

        memcpy(ptrs[i], (const char *)data + i * h.shard_len,
               left < h.shard_len ? left : h.shard_len);
    }
    ec_encode(h.shard_len, e->k, e->m, e->tbls, ptrs, ptrs + e->k);
    for (unsigned i = 0; i < e->k + e->m; i++)
        write_shard_header(e, buf + i * stride, i, &h);
    rc = write_shards(e, name, buf, stride);
    free(buf);
    return rc;
}

/* ---- get ---- */

/* The put id with the most entries marked in ok[0..n): its count. */
static unsigned pick_put(const struct shard_hdr *h, const bool *ok, unsigned n, uint64_t *put_id)
{
    unsigned best = 0;

    for (unsigned i = 0; i < n; i++) {
        unsigned count = 0;

        for (unsigned j = 0; ok[i] && j < n; j++)
            count += ok[j] && h[j].put_id == h[i].put_id;
        if (count > best) {
            best = count;
            *put_id = h[i].put_id;
        }
    }
    return best;
}

/* Read and check every shard; keep those of the best-represented put: the
 * number usable. */
static unsigned load_shards(struct ec *e, const char *name, struct shard *sh)
{
    struct shard_hdr hdrs[EC_MAX] = {0};
    bool ok[EC_MAX] = {false};
    unsigned n = e->k + e->m, good;
    uint64_t put_id = 0;

    for (unsigned i = 0; i < n; i++) {
        sh[i].rc = bk_dir_get(e->dirs[i], name, &sh[i].file, &sh[i].file_len);
        ok[i] = shard_valid(e, &sh[i], i);
        hdrs[i] = sh[i].h;
        if (sh[i].rc == 0 && !ok[i])
            st_warn("backup object %s: shard %u is corrupt, reading around it", name, i);
    }
    good = pick_put(hdrs, ok, n, &put_id);
    for (unsigned i = 0; i < n; i++)
        sh[i].ok = ok[i] && hdrs[i].put_id == put_id;
    return good;
}

/* Rebuild the missing data shards into out[0..nerr) (shard_len bytes each)
 * from the first k usable shards. */
static int rebuild(struct ec *e, struct shard *sh, size_t shard_len, const unsigned *err,
                   unsigned nerr, unsigned char **out)
{
    unsigned char b[EC_MAX * EC_MAX], inv[EC_MAX * EC_MAX], c[EC_MAX * EC_MAX];
    unsigned char *src[EC_MAX], *tbls;
    unsigned k = e->k, r = 0;

    for (unsigned i = 0; r < k; i++) {
        if (!sh[i].ok)
            continue;
        memcpy(b + r * k, e->matrix + i * k, k);
        src[r++] = (unsigned char *)sh[i].file + SHARD_HDR;
    }
    if (gf_invert_matrix(b, inv, (int)k) < 0)
        return -EIO;
    for (unsigned j = 0; j < nerr; j++)
        memcpy(c + j * k, inv + err[j] * k, k);
    tbls = malloc(32u * k * nerr);
    if (!tbls)
        return -ENOMEM;
    ec_init_tables((int)k, (int)nerr, c, tbls);
    ec_encode(shard_len, k, nerr, tbls, src, out);
    free(tbls);
    return 0;
}

/* The object from its usable shards (rebuilding data shards as needed). */
static int assemble(struct ec *e, struct shard *sh, const struct shard_hdr *h, void **data)
{
    unsigned char *obj, *rebuilt = NULL, *out[EC_MAX], *part[EC_MAX];
    unsigned err[EC_MAX], nerr = 0;
    int rc = 0;

    for (unsigned i = 0; i < e->k; i++) {
        part[i] = sh[i].ok ? (unsigned char *)sh[i].file + SHARD_HDR : NULL;
        if (!sh[i].ok)
            err[nerr++] = i;
    }
    if (nerr && !(rebuilt = malloc(nerr * h->shard_len)))
        return -ENOMEM;
    for (unsigned j = 0; j < nerr; j++)
        part[err[j]] = out[j] = rebuilt + j * h->shard_len;
    if (nerr)
        rc = rebuild(e, sh, h->shard_len, err, nerr, out);
    obj = rc == 0 ? malloc(h->len ? h->len : 1) : NULL;
    if (rc == 0 && !obj)
        rc = -ENOMEM;
    for (unsigned i = 0; rc == 0 && i < e->k && i * h->shard_len < h->len; i++) {
        size_t left = h->len - i * h->shard_len;

        memcpy(obj + i * h->shard_len, part[i], left < h->shard_len ? left : h->shard_len);
    }
    free(rebuilt);
    if (rc == 0)
        *data = obj;
    return rc;
}

static int ec_get(void *impl, const char *name, void **data, size_t *len)
{
    struct ec *e = impl;
    struct shard sh[EC_MAX] = {0};
    unsigned n = e->k + e->m, absent = 0, good = load_shards(e, name, sh);
    const struct shard_hdr *h = NULL;
    int rc;

    for (unsigned i = 0; i < n; i++) {
        absent += sh[i].rc == -ENOENT;
        if (sh[i].ok && !h)
            h = &sh[i].h;
    }
    if (absent == n)
        rc = -ENOENT;
    else if (good < e->k)
        rc = -EIO;
    else
        rc = assemble(e, sh, h, data);
    if (rc == -EIO)
        st_warn("backup object %s: %u good shards of %u, %u needed", name, good, n, e->k);
    if (rc == 0)
        *len = h->len;
    for (unsigned i = 0; i < n; i++)
        free(sh[i].file);
    return rc;
}

/* ---- stat, remove, list ---- */

static int ec_stat(void *impl, const char *name, uint64_t *len)
{
    struct ec *e = impl;
    struct shard_hdr h[EC_MAX] = {0};
    bool ok[EC_MAX] = {false};
    unsigned char head[SHARD_HDR];
    uint64_t put_id = 0;

    for (unsigned i = 0; i < e->k + e->m; i++) {
        uint64_t size = 0;

        ok[i] = bk_dir_stat(e->dirs[i], name, &size) == 0 &&
                bk_dir_read_head(e->dirs[i], name, head, sizeof(head)) == SHARD_HDR &&
                parse_shard_header(e, head, size, i, &h[i]);
    }
    if (pick_put(h, ok, e->k + e->m, &put_id) < e->k)
        return -ENOENT;
    for (unsigned i = 0;; i++)
        if (ok[i] && h[i].put_id == put_id) {
            *len = h[i].len;
            return 0;
        }
}

static int ec_remove(void *impl, const char *name)
{
    struct ec *e = impl;
    int rc = 0;

    for (unsigned i = 0; i < e->k + e->m; i++) {
        int r = bk_dir_remove(e->dirs[i], name);

        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

struct name_set {
    char **names;
    size_t n, cap;
};

static int collect(void *arg, const char *name)
{
    struct name_set *set = arg;

    if (set->n == set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 64;
        char **names = realloc(set->names, cap * sizeof(*names));

        if (!names)
            return -ENOMEM;
        set->names = names;
        set->cap = cap;
    }
    if (!(set->names[set->n] = strdup(name)))
        return -ENOMEM;
    set->n++;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ec_list(void *impl, const char *prefix, bk_list_fn fn, void *arg)
{
    struct ec *e = impl;
    struct name_set set = {0};
    int rc = 0;

    for (unsigned i = 0; rc == 0 && i < e->k + e->m; i++)
        rc = bk_dir_list(e->dirs[i], prefix, collect, &set);
    if (rc == 0 && set.n)
        qsort(set.names, set.n, sizeof(*set.names), cmp_names);
    for (size_t i = 0; rc == 0 && i < set.n; i++)
        if (i == 0 || strcmp(set.names[i], set.names[i - 1]) != 0)
            rc = fn(arg, set.names[i]);
    for (size_t i = 0; i < set.n; i++)
        free(set.names[i]);
    free(set.names);
    return rc;
}

/* ---- open, close ---- */

static void ec_close(void *impl)
{
    struct ec *e = impl;

    if (!e)
        return;
    for (unsigned i = 0; i < e->k + e->m; i++)
        bk_dir_close(e->dirs[i]);
    free(e->tbls);
    free(e);
}

static void describe(const struct bk_store_conf *c, char *desc, size_t desclen)
{
    size_t used = (size_t)snprintf(desc, desclen, "ec%u+%u:", c->k, c->m);

    for (unsigned i = 0; i < c->ndirs && used < desclen; i++)
        used += (size_t)snprintf(desc + used, desclen - used, "%s%s", i ? "," : "", c->dirs[i]);
}

static int ec_open(const struct bk_store_conf *c, void **impl, char *desc, size_t desclen,
                   char *msg, size_t msglen)
{
    struct ec *e;
    int rc = 0;

    if (c->k < 1 || c->m < 1 || c->k + c->m != c->ndirs || c->ndirs > EC_MAX)
        return st_msgf(msg, msglen, -EINVAL,
                       "erasure coding needs k >= 1, m >= 1, k+m = %u directories (at most %d)",
                       c->ndirs, EC_MAX);
    e = calloc(1, sizeof(*e));
    if (!e || !(e->tbls = malloc(32u * c->k * c->m))) {
        free(e);
        return -ENOMEM;
    }
    e->k = c->k;
    e->m = c->m;
    gf_gen_cauchy1_matrix(e->matrix, (int)(e->k + e->m), (int)e->k);
    ec_init_tables((int)e->k, (int)e->m, e->matrix + e->k * e->k, e->tbls);
    for (unsigned i = 0; rc == 0 && i < c->ndirs; i++)
        rc = bk_dir_open(c->dirs[i], c->aio_depth, &e->dirs[i], msg, msglen);
    if (rc < 0) {
        ec_close(e);
        return rc;
    }
    describe(c, desc, desclen);
    *impl = e;
    return 0;
}

const struct bk_store_ops bk_store_ec_ops = {
    .open = ec_open,
    .close = ec_close,
    .put = ec_put,
    .get = ec_get,
    .stat = ec_stat,
    .remove = ec_remove,
    .list = ec_list,
};
