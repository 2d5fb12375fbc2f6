/* test_imaged_rbd_io.c — imaged's RBD data path against a REAL Ceph cluster
 * (STRATA_TEST_CEPH_CONF; skipped without it): the writer (digests, sparse
 * writes, sizes, limits, abort), the read-ahead reader, snapshot/clone/remove.
 * Images are named t-rbdio-<random>-* in strata.images and all removed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "ceph_test.h"
#include "rbd_io.h"

#define MiB (1024ull * 1024)

static void fill_random(char *p, size_t n)
{
    while (n) {
        ssize_t got = getrandom(p, n > 33554431 ? 33554431 : n, 0);

        assert_true(got > 0);
        p += got;
        n -= (size_t)got;
    }
}

static void hex(const unsigned char *md, unsigned n, char *out)
{
    for (unsigned i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static void digests(const char *p, size_t n, char *md5, char *sha512)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdn = 0;

    assert_int_equal(EVP_Digest(p, n, md, &mdn, EVP_md5(), NULL), 1);
    hex(md, mdn, md5);
    assert_int_equal(EVP_Digest(p, n, md, &mdn, EVP_sha512(), NULL), 1);
    hex(md, mdn, sha512);
}

/* Write data in the given chunk sizes (cycled) through a fresh writer. */
static struct img_writer *write_image(const char *name, int64_t size_hint, uint64_t max,
                                      const char *data, size_t n, const size_t *chunks,
                                      size_t nchunks)
{
    struct img_writer_config cfg = {.hash = true};
    struct img_writer *w = NULL;
    size_t at = 0, k = 0;

    assert_int_equal(img_writer_create(io, name, size_hint, max, &cfg, &w), 0);
    while (at < n) {
        size_t c = chunks[k++ % nchunks];

        if (c > n - at)
            c = n - at;
        assert_int_equal(img_writer_write(w, data + at, c), 0);
        at += c;
    }
    return w;
}

/* Read [off, off+len) through img_reader in reads of `step` bytes. */
static size_t read_range(const char *name, const char *snap, uint64_t off, uint64_t len, char *out,
                         size_t cap, size_t step)
{
    struct img_reader *r = NULL;
    size_t got = 0;
    ssize_t n;

    assert_int_equal(img_reader_open(io, name, snap, off, len, NULL, 0, &r), 0);
    while ((n = img_reader_read(r, out + got, cap - got < step ? cap - got : step)) > 0)
        got += (size_t)n;
    assert_int_equal(n, 0);
    img_reader_close(r);
    return got;
}

static int group_setup(void **state)
{
    (void)state;
    return ceph_test_setup("test_imaged_rbd_io", "rbdio",
                           env_or("STRATA_TEST_IMAGES_POOL", "strata.images"));
}

static int group_teardown(void **state)
{
    (void)state;
    ceph_test_teardown();
    return 0;
}

/* ~40 MiB of random data in odd chunk sizes: size, content and digests. */
static void test_known_size_odd_chunks(void **state)
{
    static const size_t chunks[] = {1, 4095, 65537, MiB + 3, 7 * MiB + 11, 333, 4 * MiB};
    static const size_t steps[] = {1 << 20, 4096 + 7, 9 * MiB};
    size_t n = 40 * MiB + 12345;
    char *data, *back, name[96];
    char md5[33], sha[129], want_md5[33], want_sha[129];
    struct img_writer *w;
    uint64_t written = 0, size = 0;

    (void)state;
    NEED_CLUSTER();
    data = malloc(n);
    back = malloc(n);
    assert_non_null(data);
    assert_non_null(back);
    fill_random(data, n);
    digests(data, n, want_md5, want_sha);
    img_name(name, sizeof(name), "known");
    w = write_image(name, (int64_t)n, 0, data, n, chunks, sizeof(chunks) / sizeof(chunks[0]));
    assert_int_equal(img_writer_finish(w, &written, md5, sha), 0);
    assert_int_equal(written, n);
    assert_int_equal(img_writer_bytes_sent(w), n);
    img_writer_destroy(w);
    assert_string_equal(md5, want_md5);
    assert_string_equal(sha, want_sha);
    assert_int_equal(st_rbd_size(io, name, NULL, &size), 0);
    assert_int_equal(size, n);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        memset(back, 0x5a, n);
        assert_int_equal(read_range(name, NULL, 0, UINT64_MAX, back, n, steps[i]), n);
        assert_memory_equal(back, data, n);
    }
    /* An existing name is refused. */
    assert_int_equal(img_writer_create(io, name, 10, 0, NULL, &w), -EEXIST);
    assert_int_equal(st_rbd_remove(io, name), 0);
    free(data);
    free(back);
}

/* The sparse image's byte at off: a few non-zero islands in zeros. */
static unsigned char sparse_byte(uint64_t off)
{
    if ((off >= 10 * MiB && off < 10 * MiB + 100 * 1024) || off == 200 * MiB + 5 ||
        off >= 256 * MiB - 65536 || (off >= 64 * MiB - 10 && off < 64 * MiB + 10))
        return (unsigned char)(off * 31 + 7) | 1;
    return 0;
}

/* A 256 MiB mostly-zero image: only the non-zero 64 KiB granules are sent. */
static void test_sparse(void **state)
{
    const uint64_t total = 256 * MiB, g = 64 * 1024;
    const size_t chunk = 3 * MiB + 17;
    char *buf, *back, name[96], md5[33], sha[129];
    char want_md5[33], want_sha[129];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdn;
    EVP_MD_CTX *m5, *s5;
    struct img_writer_config cfg = {.hash = true};
    struct img_writer *w = NULL;
    struct img_reader *r = NULL;
    uint64_t expect_sent = 0, written = 0, at;
    ssize_t got;

    (void)state;
    NEED_CLUSTER();
    buf = malloc(chunk);
    back = malloc(chunk);
    m5 = EVP_MD_CTX_new();
    s5 = EVP_MD_CTX_new();
    assert_non_null(buf);
    EVP_DigestInit_ex(m5, EVP_md5(), NULL);
    EVP_DigestInit_ex(s5, EVP_sha512(), NULL);
    for (uint64_t gs = 0; gs < total; gs += g) {
        for (uint64_t o = gs; o < gs + g; o++) {
            if (sparse_byte(o)) {
                expect_sent += g;
                break;
            }
        }
    }
    img_name(name, sizeof(name), "sparse");
    assert_int_equal(img_writer_create(io, name, (int64_t)total, 0, &cfg, &w), 0);
    for (at = 0; at < total;) {
        size_t n = total - at < chunk ? (size_t)(total - at) : chunk;

        for (size_t i = 0; i < n; i++)
            buf[i] = (char)sparse_byte(at + i);
        EVP_DigestUpdate(m5, buf, n);
        EVP_DigestUpdate(s5, buf, n);
        assert_int_equal(img_writer_write(w, buf, n), 0);
        at += n;
    }
    EVP_DigestFinal_ex(m5, md, &mdn);
    hex(md, mdn, want_md5);
    EVP_DigestFinal_ex(s5, md, &mdn);
    hex(md, mdn, want_sha);
    assert_int_equal(img_writer_finish(w, &written, md5, sha), 0);
    assert_int_equal(written, total);
    assert_int_equal(img_writer_bytes_sent(w), expect_sent);
    assert_true(expect_sent <= 8 * g);
    img_writer_destroy(w);
    assert_string_equal(md5, want_md5);
    assert_string_equal(sha, want_sha);

    assert_int_equal(img_reader_open(io, name, NULL, 0, total, NULL, 0, &r), 0);
    for (at = 0; (got = img_reader_read(r, back, chunk)) > 0; at += (uint64_t)got)
        for (ssize_t i = 0; i < got; i++)
            if ((unsigned char)back[i] != sparse_byte(at + (uint64_t)i))
                fail_msg("byte %llu differs", (unsigned long long)(at + (uint64_t)i));
    assert_int_equal(got, 0);
    assert_int_equal(at, total);
    img_reader_close(r);
    assert_int_equal(st_rbd_remove(io, name), 0);
    EVP_MD_CTX_free(m5);
    EVP_MD_CTX_free(s5);
    free(buf);
    free(back);
}

/* Small blocks, two in flight, 4 KiB granules, no hashing: zero granules
 * inside blocks and at block edges are skipped exactly. */
static void test_small_config(void **state)
{
    struct img_writer_config cfg = {.block_size = MiB, .inflight = 2, .zero_granule = 4096};
    size_t n = 5 * MiB + 100, sent = 0;
    char *data, *back, name[96], md5[33] = "x", sha[129] = "x";
    struct img_writer *w;
    uint64_t written = 0;

    (void)state;
    NEED_CLUSTER();
    data = calloc(1, n);
    back = malloc(n);
    /* Every third granule has data; the last partial granule too. */
    for (size_t g = 0; g < n; g += 4096 * 3) {
        size_t len = n - g < 4096 ? n - g : 4096;

        fill_random(data + g, len);
        data[g] |= 1;
        sent += len;
    }
    fill_random(data + n - 100, 100);
    data[n - 1] |= 1;
    sent += (n - 100) % (4096 * 3) < 4096 ? 0 : 100;
    img_name(name, sizeof(name), "small");
    assert_int_equal(img_writer_create(io, name, (int64_t)n, 0, &cfg, &w), 0);
    for (size_t at = 0; at < n; at += 70001)
        assert_int_equal(img_writer_write(w, data + at, n - at < 70001 ? n - at : 70001), 0);
    assert_int_equal(img_writer_finish(w, &written, md5, sha), 0);
    assert_int_equal(written, n);
    assert_int_equal(img_writer_bytes_sent(w), sent);
    assert_string_equal(md5, "");
    assert_string_equal(sha, "");
    img_writer_destroy(w);
    assert_int_equal(read_range(name, NULL, 0, UINT64_MAX, back, n, 65536), n);
    assert_memory_equal(back, data, n);
    assert_int_equal(st_rbd_remove(io, name), 0);
    free(data);
    free(back);
}

/* Unknown size: created at max_size, shrunk once to exactly what was written. */
static void test_unknown_size_shrinks(void **state)
{
    static const size_t chunks[] = {777777, 4 * MiB, 12345};
    size_t n = 9 * MiB + 777;
    char *data, *back, name[96];
    struct img_writer *w;
    uint64_t written = 0, size = 0;

    (void)state;
    NEED_CLUSTER();
    data = malloc(n);
    back = malloc(n + 10);
    fill_random(data, n);
    img_name(name, sizeof(name), "unknown");
    w = write_image(name, -1, 1024 * 1024 * MiB, data, n, chunks, 3);
    assert_int_equal(st_rbd_size(io, name, NULL, &size), 0);
    assert_int_equal(size, 1024 * 1024 * MiB);
    assert_int_equal(img_writer_finish(w, &written, NULL, NULL), 0);
    assert_int_equal(written, n);
    img_writer_destroy(w);
    assert_int_equal(st_rbd_size(io, name, NULL, &size), 0);
    assert_int_equal(size, n);
    assert_int_equal(read_range(name, NULL, 0, UINT64_MAX, back, n + 10, 1000003), n);
    assert_memory_equal(back, data, n);
    assert_int_equal(st_rbd_remove(io, name), 0);
    /* Unknown size needs a ceiling. */
    assert_int_equal(img_writer_create(io, name, -1, 0, NULL, &w), -EINVAL);
    free(data);
    free(back);
}

/* Past the declared size (or max_size) -> -EFBIG, sticky; abort removes. */
static void test_overflow(void **state)
{
    char buf[4096] = {1}, name[96];
    struct img_writer *w;
    uint64_t written = 0, size;

    (void)state;
    NEED_CLUSTER();
    img_name(name, sizeof(name), "overflow");
    assert_int_equal(img_writer_create(io, name, 8192, 0, NULL, &w), 0);
    assert_int_equal(img_writer_write(w, buf, sizeof(buf)), 0);
    assert_int_equal(img_writer_write(w, buf, sizeof(buf)), 0);
    assert_int_equal(img_writer_write(w, buf, 1), -EFBIG);
    assert_int_equal(img_writer_write(w, buf, 0), -EFBIG);
    assert_int_equal(img_writer_finish(w, &written, NULL, NULL), -EFBIG);
    assert_int_equal(written, 8192);
    img_writer_abort(w); /* after a failed finish: removes */
    img_writer_destroy(w);
    assert_int_equal(st_rbd_size(io, name, NULL, &size), -ENOENT);

    /* Unknown size: max_size is the ceiling. */
    assert_int_equal(img_writer_create(io, name, -1, 4096, NULL, &w), 0);
    assert_int_equal(img_writer_write(w, buf, 4000), 0);
    assert_int_equal(img_writer_write(w, buf, 97), -EFBIG);
    img_writer_destroy(w); /* neither finished nor aborted: removes */
    assert_int_equal(st_rbd_size(io, name, NULL, &size), -ENOENT);
    /* A declared size above max_size is refused up front. */
    assert_int_equal(img_writer_create(io, name, 8192, 4096, NULL, &w), -EFBIG);
}

static void test_abort_removes(void **state)
{
    static const size_t chunks[] = {1000000};
    size_t n = 5 * MiB + 1;
    char *data, name[96];
    struct img_writer *w;
    uint64_t size;

    (void)state;
    NEED_CLUSTER();
    data = malloc(n);
    fill_random(data, n);
    img_name(name, sizeof(name), "abort");
    w = write_image(name, (int64_t)n, 0, data, n, chunks, 1);
    img_writer_abort(w);
    img_writer_abort(w); /* twice is harmless */
    img_writer_destroy(w);
    img_writer_destroy(NULL);
    assert_int_equal(st_rbd_size(io, name, NULL, &size), -ENOENT);
    free(data);
}

/* Ranges, aligned or not, clamped at the end; reads at a snapshot. */
static void test_reader_ranges(void **state)
{
    static const size_t chunks[] = {4 * MiB};
    static const struct {
        uint64_t off, len;
    } ranges[] = {
        {0, UINT64_MAX},    {1, 100},     {4 * MiB - 5, 10},
        {4 * MiB, 4 * MiB}, {3, 9 * MiB}, {10 * MiB - 7, 100},
        {10 * MiB + 3, 10}, {12345, 0},   {5 * MiB + 1, 5 * MiB - 1},
    };
    size_t n = 10 * MiB + 3;
    char *data, *back, name[96];
    struct img_writer *w;
    struct img_reader *r;
    uint64_t written;

    (void)state;
    NEED_CLUSTER();
    data = malloc(n);
    back = malloc(n + 64);
    fill_random(data, n);
    img_name(name, sizeof(name), "ranges");
    w = write_image(name, (int64_t)n, 0, data, n, chunks, 1);
    assert_int_equal(img_writer_finish(w, &written, NULL, NULL), 0);
    img_writer_destroy(w);
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        uint64_t want = ranges[i].off >= n ? 0 : n - ranges[i].off;

        if (ranges[i].len < want)
            want = ranges[i].len;
        for (size_t step = 1000; step <= 8 * MiB; step *= 91) {
            size_t got = read_range(name, NULL, ranges[i].off, ranges[i].len, back, n + 64, step);

            assert_int_equal(got, want);
            assert_memory_equal(back, data + ranges[i].off, got);
        }
    }
    assert_int_equal(img_reader_open(io, name, NULL, n + 1, 1, NULL, 0, &r), -EINVAL);
    assert_int_equal(img_reader_open(io, name, "nosuchsnap", 0, 1, NULL, 0, &r), -ENOENT);

    /* At the snapshot: later writes to the head don't show. */
    assert_int_equal(st_rbd_snap_protect(io, name, IMG_SNAP_NAME), 0);
    {
        rbd_image_t img;

        assert_int_equal(rbd_open(io, name, &img, NULL), 0);
        assert_int_equal(rbd_write(img, 0, 4, "XXXX"), 4);
        assert_int_equal(rbd_close(img), 0);
    }
    assert_int_equal(read_range(name, IMG_SNAP_NAME, 0, 64, back, 64, 64), 64);
    assert_memory_equal(back, data, 64);
    assert_int_equal(read_range(name, NULL, 0, 4, back, 64, 64), 4);
    assert_memory_equal(back, "XXXX", 4);
    assert_int_equal(st_rbd_remove(io, name), 0);
    free(data);
    free(back);
}

/* Snapshot + protect (twice), clone, children, remove rules. */
static void test_snap_clone_remove(void **state)
{
    static const size_t chunks[] = {3 * MiB};
    size_t n = 6 * MiB + 100;
    char *data, *back, parent[96], clone[96];
    struct img_writer *w;
    uint64_t written, size = 0;
    size_t kids = 99, count = 0;
    char **names = NULL;
    bool seen_parent = false, seen_clone = false;

    (void)state;
    NEED_CLUSTER();
    data = malloc(n);
    back = malloc(16 * MiB);
    fill_random(data, n);
    img_name(parent, sizeof(parent), "parent");
    img_name(clone, sizeof(clone), "clone");
    w = write_image(parent, (int64_t)n, 0, data, n, chunks, 1);
    assert_int_equal(img_writer_finish(w, &written, NULL, NULL), 0);
    img_writer_destroy(w);

    assert_int_equal(st_rbd_snap_protect(io, parent, IMG_SNAP_NAME), 0);
    assert_int_equal(st_rbd_snap_protect(io, parent, IMG_SNAP_NAME), 0);
    assert_int_equal(st_rbd_children(io, parent, IMG_SNAP_NAME, &kids), 0);
    assert_int_equal(kids, 0);
    assert_int_equal(st_rbd_clone(io, parent, IMG_SNAP_NAME, io, clone, 16 * MiB), 0);
    assert_int_equal(st_rbd_clone(io, parent, IMG_SNAP_NAME, io, clone, 16 * MiB), -EEXIST);
    assert_int_equal(st_rbd_size(io, clone, NULL, &size), 0);
    assert_int_equal(size, 16 * MiB);
    assert_int_equal(read_range(clone, NULL, 0, UINT64_MAX, back, 16 * MiB, 3 * MiB), 16 * MiB);
    assert_memory_equal(back, data, n);
    for (size_t i = n; i < 16 * MiB; i++)
        if (back[i])
            fail_msg("clone byte %zu is not zero", i);
    assert_int_equal(st_rbd_children(io, parent, IMG_SNAP_NAME, &kids), 0);
    assert_int_equal(kids, 1);

    assert_int_equal(st_rbd_list(io, &names, &count), 0);
    for (size_t i = 0; i < count; i++) {
        seen_parent |= strcmp(names[i], parent) == 0;
        seen_clone |= strcmp(names[i], clone) == 0;
    }
    st_rbd_list_free(names, count);
    assert_true(seen_parent && seen_clone);

    /* The parent is pinned by its clone, and left intact. */
    assert_int_equal(st_rbd_remove(io, parent), -EBUSY);
    assert_int_equal(st_rbd_size(io, parent, IMG_SNAP_NAME, &size), 0);
    assert_int_equal(read_range(clone, NULL, 0, 4096, back, 4096, 4096), 4096);
    assert_memory_equal(back, data, 4096);

    assert_int_equal(st_rbd_remove(io, clone), 0);
    assert_int_equal(st_rbd_children(io, parent, IMG_SNAP_NAME, &kids), 0);
    assert_int_equal(kids, 0);
    assert_int_equal(st_rbd_remove(io, parent), 0);
    assert_int_equal(st_rbd_remove(io, parent), -ENOENT);
    assert_int_equal(st_rbd_size(io, parent, NULL, &size), -ENOENT);
    assert_int_equal(st_rbd_children(io, parent, IMG_SNAP_NAME, &kids), -ENOENT);
    assert_int_equal(st_rbd_snap_protect(io, parent, IMG_SNAP_NAME), -ENOENT);
    assert_int_equal(st_rbd_clone(io, parent, IMG_SNAP_NAME, io, clone, 0), -ENOENT);
    free(data);
    free(back);
}

/* A clone no bigger than its parent keeps the parent's size. */
static void test_clone_keeps_parent_size(void **state)
{
    static const size_t chunks[] = {MiB};
    size_t n = 2 * MiB;
    char *data, parent[96], clone[96];
    struct img_writer *w;
    uint64_t written, size = 0;

    (void)state;
    NEED_CLUSTER();
    data = malloc(n);
    fill_random(data, n);
    img_name(parent, sizeof(parent), "p2");
    img_name(clone, sizeof(clone), "c2");
    w = write_image(parent, (int64_t)n, 0, data, n, chunks, 1);
    assert_int_equal(img_writer_finish(w, &written, NULL, NULL), 0);
    img_writer_destroy(w);
    assert_int_equal(st_rbd_snap_protect(io, parent, IMG_SNAP_NAME), 0);
    assert_int_equal(st_rbd_clone(io, parent, IMG_SNAP_NAME, io, clone, MiB), 0);
    assert_int_equal(st_rbd_size(io, clone, NULL, &size), 0);
    assert_int_equal(size, n);
    assert_int_equal(st_rbd_remove(io, clone), 0);
    assert_int_equal(st_rbd_remove(io, parent), 0);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_size_odd_chunks),
        cmocka_unit_test(test_sparse),
        cmocka_unit_test(test_small_config),
        cmocka_unit_test(test_unknown_size_shrinks),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_abort_removes),
        cmocka_unit_test(test_reader_ranges),
        cmocka_unit_test(test_snap_clone_remove),
        cmocka_unit_test(test_clone_keeps_parent_size),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
