/* test_blockd_backup_store.c — the backup object store (bk_store.h): a
 * directory and EC 4+2 stores in mkdtemp directories (losing any 1 or 2 shard
 * directories, a corrupt shard, 3 lost = -EIO), and the RADOS store against a
 * REAL cluster (STRATA_TEST_CEPH_CONF; objects t-bks-<random>-* in strata.backups). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bk_store.h"
#include "ceph_test.h"

#define MiB (1024u * 1024)
#define NDIRS 6 /* EC 4+2 */

static char tmp_root[64];

/* ---- helpers ---- */

static void fill_random(unsigned char *p, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = getrandom(p + done, len - done, 0);

        assert_true(n > 0);
        done += (size_t)n;
    }
}

static unsigned char *random_data(size_t len)
{
    unsigned char *p = malloc(len ? len : 1);

    assert_non_null(p);
    fill_random(p, len);
    return p;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    return ftw->level == 0 ? 0 : remove(path);
}

/* rm -rf of everything inside dir (dir itself stays). */
static void empty_dir(const char *dir)
{
    assert_int_equal(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void make_dir(char *out, size_t len, const char *what)
{
    snprintf(out, len, "%s/%s", tmp_root, what);
    assert_int_equal(mkdir(out, 0755), 0);
}

static void expect_get(struct bk_store *s, const char *name, const void *data, size_t len)
{
    void *back = NULL;
    size_t back_len = 99;

    assert_int_equal(bk_store_get(s, name, &back, &back_len), 0);
    assert_int_equal(back_len, len);
    if (len)
        assert_memory_equal(back, data, len);
    free(back);
}

static void put_get(struct bk_store *s, const char *name, const void *data, size_t len)
{
    uint64_t st_len = 0;

    assert_int_equal(bk_store_put(s, name, data, len), 0);
    expect_get(s, name, data, len);
    assert_int_equal(bk_store_stat(s, name, &st_len), 0);
    assert_int_equal(st_len, len);
}

struct seen {
    char names[32][128];
    unsigned n;
    unsigned stop_after; /* 0 = never */
};

static int note(void *arg, const char *name)
{
    struct seen *seen = arg;

    assert_true(seen->n < 32);
    snprintf(seen->names[seen->n++], sizeof(seen->names[0]), "%s", name);
    return seen->stop_after && seen->n == seen->stop_after ? 42 : 0;
}

static bool seen_has(const struct seen *seen, const char *name)
{
    for (unsigned i = 0; i < seen->n; i++)
        if (strcmp(seen->names[i], name) == 0)
            return true;
    return false;
}

/* ---- the behaviour every kind shares; names under base ---- */

static void exercise_sizes(struct bk_store *s, const char *base)
{
    const size_t sizes[] = {0, 1, 4095, 4096, 4097, 4 * MiB + 3};
    char name[128];

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *data = random_data(sizes[i]);

        snprintf(name, sizeof(name), "%ssizes/obj-%zu", base, sizes[i]);
        put_get(s, name, data, sizes[i]);
        assert_int_equal(bk_store_remove(s, name), 0);
        free(data);
    }
}

static void exercise_overwrite_remove(struct bk_store *s, const char *base)
{
    unsigned char *a = random_data(10000), *b = random_data(333);
    char name[128];
    uint64_t len;
    void *data = NULL;
    size_t dlen;

    snprintf(name, sizeof(name), "%sover/write", base);
    put_get(s, name, a, 10000);
    put_get(s, name, b, 333);
    assert_int_equal(bk_store_remove(s, name), 0);
    assert_int_equal(bk_store_remove(s, name), 0);
    assert_int_equal(bk_store_get(s, name, &data, &dlen), -ENOENT);
    assert_null(data);
    assert_int_equal(bk_store_stat(s, name, &len), -ENOENT);
    snprintf(name, sizeof(name), "%snever/there", base);
    assert_int_equal(bk_store_get(s, name, &data, &dlen), -ENOENT);
    assert_int_equal(bk_store_remove(s, name), 0);
    free(a);
    free(b);
}

static void exercise_list(struct bk_store *s, const char *base)
{
    const char *leaves[] = {"chunks/ab/abcdef", "chunks/ab/ab0123", "chunks/cd/cd4567",
                            "manifests/vol-1.json", "top"};
    struct seen seen = {0};
    char name[128];

    for (size_t i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "%s%s", base, leaves[i]);
        put_get(s, name, leaves[i], strlen(leaves[i]));
    }
    snprintf(name, sizeof(name), "%schunks/", base);
    assert_int_equal(bk_store_list(s, name, note, &seen), 0);
    assert_int_equal(seen.n, 3);
    for (size_t i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "%s%s", base, leaves[i]);
        assert_true(seen_has(&seen, name));
    }
    seen.n = 0;
    snprintf(name, sizeof(name), "%schunks/ab/abc", base);
    assert_int_equal(bk_store_list(s, name, note, &seen), 0);
    assert_int_equal(seen.n, 1);
    seen.n = 0;
    assert_int_equal(bk_store_list(s, base, note, &seen), 0);
    assert_int_equal(seen.n, 5);
    seen = (struct seen){.stop_after = 2};
    assert_int_equal(bk_store_list(s, base, note, &seen), 42);
    assert_int_equal(seen.n, 2);
    for (size_t i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "%s%s", base, leaves[i]);
        assert_int_equal(bk_store_remove(s, name), 0);
    }
    seen = (struct seen){0};
    assert_int_equal(bk_store_list(s, base, note, &seen), 0);
    assert_int_equal(seen.n, 0);
}

static void exercise_bad_names(struct bk_store *s)
{
    const char *bad[] = {"",        "/abs",        "trail/",     "a//b",   "..",
                         "a/../b",  ".",           "a/./b",      "sp ace", "back\\slash",
                         "x.tmp.1", "a/b.tmp.c/d", "uni\xc3\xa9"};
    char big[1100];
    void *data = NULL;
    size_t len;
    uint64_t slen;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(bk_store_put(s, bad[i], "x", 1), -EINVAL);
        assert_int_equal(bk_store_get(s, bad[i], &data, &len), -EINVAL);
        assert_int_equal(bk_store_stat(s, bad[i], &slen), -EINVAL);
        assert_int_equal(bk_store_remove(s, bad[i]), -EINVAL);
    }
    assert_int_equal(bk_store_put(s, NULL, "x", 1), -EINVAL);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(bk_store_put(s, big, "x", 1), -EINVAL);
    big[201] = '\0'; /* one segment of 201 */
    assert_int_equal(bk_store_put(s, big, "x", 1), -EINVAL);
}

static void exercise(struct bk_store *s, const char *base)
{
    exercise_sizes(s, base);
    exercise_overwrite_remove(s, base);
    exercise_list(s, base);
    exercise_bad_names(s);
}

/* ---- directory store ---- */

static struct bk_store *open_dir(const char *dir)
{
    const char *dirs[] = {dir};
    struct bk_store_conf conf = {.kind = BK_STORE_DIR, .dirs = dirs, .ndirs = 1, .aio_depth = 3};
    struct bk_store *s = NULL;
    char msg[256];

    assert_int_equal(bk_store_open(&conf, &s, msg, sizeof(msg)), 0);
    return s;
}

static void test_dir_store(void **state)
{
    char dir[128], desc[160];
    struct bk_store *s;

    (void)state;
    make_dir(dir, sizeof(dir), "dir");
    s = open_dir(dir);
    snprintf(desc, sizeof(desc), "dir:%s", dir);
    assert_string_equal(bk_store_describe(s), desc);
    exercise(s, "");
    bk_store_close(s);
}

/* A stale temporary file (a crashed put) is invisible; no put leaves one. */
static void test_dir_tmp_files(void **state)
{
    char dir[128], path[256];
    struct seen seen = {0};
    struct bk_store *s;
    uint64_t len;
    int fd;

    (void)state;
    make_dir(dir, sizeof(dir), "dirtmp");
    s = open_dir(dir);
    assert_int_equal(bk_store_put(s, "a/obj", "data", 4), 0);
    snprintf(path, sizeof(path), "%s/a/obj.tmp.0123456789abcdef", dir);
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "stale", 5), 5);
    close(fd);
    assert_int_equal(bk_store_list(s, NULL, note, &seen), 0);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.names[0], "a/obj");
    assert_int_equal(bk_store_stat(s, "a/obj", &len), 0);
    assert_int_equal(len, 4);
    expect_get(s, "a/obj", "data", 4);
    /* A name that is a directory of other names is no object. */
    assert_int_equal(bk_store_stat(s, "a", &len), -ENOENT);
    assert_int_equal(bk_store_remove(s, "a"), 0);
    assert_int_equal(bk_store_stat(s, "a/obj/x", &len), -ENOENT);
    unlink(path);
    bk_store_close(s);
}

static void test_open_errors(void **state)
{
    const char *missing[] = {"/nonexistent/strata-backup"};
    struct bk_store_conf conf = {.kind = BK_STORE_DIR, .dirs = missing, .ndirs = 1};
    struct bk_store *s = NULL;
    char msg[256] = "";

    (void)state;
    assert_int_equal(bk_store_open(&conf, &s, msg, sizeof(msg)), -ENOENT);
    assert_non_null(strstr(msg, missing[0]));
    conf.ndirs = 0;
    assert_int_equal(bk_store_open(&conf, &s, msg, sizeof(msg)), -EINVAL);
    conf = (struct bk_store_conf){.kind = BK_STORE_EC, .dirs = missing, .ndirs = 1, .k = 1, .m = 1};
    assert_int_equal(bk_store_open(&conf, &s, msg, sizeof(msg)), -EINVAL);
    conf = (struct bk_store_conf){.kind = BK_STORE_RADOS};
    assert_int_equal(bk_store_open(&conf, &s, msg, sizeof(msg)), -EINVAL);
    assert_null(s);
    bk_store_close(NULL);
}

/* ---- EC 4+2 ---- */

struct ec_fixture {
    char dirs[NDIRS][128];
    const char *ptrs[NDIRS];
    struct bk_store *s;
};

static void ec_setup(struct ec_fixture *f, const char *what)
{
    struct bk_store_conf conf = {
        .kind = BK_STORE_EC, .dirs = f->ptrs, .ndirs = NDIRS, .k = 4, .m = 2};
    char msg[256], sub[64];

    for (int i = 0; i < NDIRS; i++) {
        snprintf(sub, sizeof(sub), "%s%d", what, i);
        make_dir(f->dirs[i], sizeof(f->dirs[i]), sub);
        f->ptrs[i] = f->dirs[i];
    }
    assert_int_equal(bk_store_open(&conf, &f->s, msg, sizeof(msg)), 0);
    assert_int_equal(strncmp(bk_store_describe(f->s), "ec4+2:", 6), 0);
}

static void test_ec_store(void **state)
{
    struct ec_fixture f;

    (void)state;
    ec_setup(&f, "ec");
    exercise(f.s, "");
    bk_store_close(f.s);
}

/* The objects the loss tests put back after every loss. */
static const size_t loss_sizes[] = {0, 1, 4097, 4 * MiB + 3};
#define NLOSS (sizeof(loss_sizes) / sizeof(loss_sizes[0]))

static void put_all(struct bk_store *s, unsigned char **data)
{
    char name[64];

    for (size_t i = 0; i < NLOSS; i++) {
        snprintf(name, sizeof(name), "loss/obj-%zu", i);
        assert_int_equal(bk_store_put(s, name, data[i], loss_sizes[i]), 0);
    }
}

/* Every object reads back (want 0) or fails with want. */
static void check_all(struct bk_store *s, unsigned char **data, int want)
{
    char name[64];
    void *back = NULL;
    size_t len;
    uint64_t slen;

    for (size_t i = 0; i < NLOSS; i++) {
        snprintf(name, sizeof(name), "loss/obj-%zu", i);
        if (want == 0) {
            expect_get(s, name, data[i], loss_sizes[i]);
            assert_int_equal(bk_store_stat(s, name, &slen), 0);
            assert_int_equal(slen, loss_sizes[i]);
        } else {
            assert_int_equal(bk_store_get(s, name, &back, &len), want);
            assert_int_equal(bk_store_stat(s, name, &slen), -ENOENT);
        }
    }
}

static void test_ec_losses(void **state)
{
    unsigned char *data[NLOSS];
    struct ec_fixture f;

    (void)state;
    ec_setup(&f, "ecloss");
    for (size_t i = 0; i < NLOSS; i++)
        data[i] = random_data(loss_sizes[i]);
    for (int a = 0; a < NDIRS; a++) {
        put_all(f.s, data);
        empty_dir(f.dirs[a]);
        check_all(f.s, data, 0);
        for (int b = a + 1; b < NDIRS; b++) {
            put_all(f.s, data);
            empty_dir(f.dirs[a]);
            empty_dir(f.dirs[b]);
            check_all(f.s, data, 0);
            for (int c = b + 1; c < NDIRS; c++) {
                put_all(f.s, data);
                empty_dir(f.dirs[a]);
                empty_dir(f.dirs[b]);
                empty_dir(f.dirs[c]);
                check_all(f.s, data, -EIO);
            }
        }
    }
    for (int i = 0; i < NDIRS; i++)
        empty_dir(f.dirs[i]);
    check_all(f.s, data, -ENOENT);
    for (size_t i = 0; i < NLOSS; i++)
        free(data[i]);
    bk_store_close(f.s);
}

static void flip_byte(const char *path, off_t off)
{
    unsigned char b;
    int fd = open(path, O_RDWR);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

/* A byte flipped anywhere in one shard (header or payload) is rebuilt; with
 * two corrupt and one missing there are too few. */
static void test_ec_corrupt_shard(void **state)
{
    const off_t offs[] = {0, 5, 9, 20, 35, 40, 41, 1000, 262000};
    size_t len = 1 * MiB + 17;
    unsigned char *data = random_data(len);
    char path[256];
    struct ec_fixture f;
    void *back;
    size_t blen;

    (void)state;
    ec_setup(&f, "eccrc");
    for (int i = 0; i < NDIRS; i++)
        for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++) {
            assert_int_equal(bk_store_put(f.s, "c/obj", data, len), 0);
            snprintf(path, sizeof(path), "%s/c/obj", f.dirs[i]);
            flip_byte(path, offs[o]);
            expect_get(f.s, "c/obj", data, len);
        }
    assert_int_equal(bk_store_put(f.s, "c/obj", data, len), 0);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/c/obj", f.dirs[i]);
        flip_byte(path, 1000);
    }
    snprintf(path, sizeof(path), "%s/c/obj", f.dirs[5]);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(bk_store_get(f.s, "c/obj", &back, &blen), -EIO);
    free(data);
    bk_store_close(f.s);
}

/* Shards left from an older put of the same length (an overwrite that lost
 * two directories' new shards) are not mixed with the newer put's. */
static void test_ec_stale_shards(void **state)
{
    size_t len = 64 * 1024;
    unsigned char *old = random_data(len), *cur = random_data(len);
    char path[256], saved[256];
    struct ec_fixture f;

    (void)state;
    ec_setup(&f, "ecgen");
    assert_int_equal(bk_store_put(f.s, "g/obj", old, len), 0);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/g/obj", f.dirs[i]);
        snprintf(saved, sizeof(saved), "%s/saved%d", tmp_root, i);
        assert_int_equal(link(path, saved), 0);
    }
    assert_int_equal(bk_store_put(f.s, "g/obj", cur, len), 0);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/g/obj", f.dirs[i]);
        snprintf(saved, sizeof(saved), "%s/saved%d", tmp_root, i);
        assert_int_equal(rename(saved, path), 0);
    }
    expect_get(f.s, "g/obj", cur, len);
    free(old);
    free(cur);
    bk_store_close(f.s);
}

/* ---- RADOS ---- */

static void test_rados_store(void **state)
{
    struct bk_store_conf conf = {
        .kind = BK_STORE_RADOS, .cluster = cluster, .pool = "strata.backups"};
    struct bk_store *s = NULL;
    char msg[256];

    (void)state;
    NEED_CLUSTER();
    assert_int_equal(bk_store_open(&conf, &s, msg, sizeof(msg)), 0);
    assert_string_equal(bk_store_describe(s), "rados:strata.backups");
    exercise(s, prefix);
    bk_store_close(s);
    conf.pool = "strata.no-such-pool";
    assert_int_equal(bk_store_open(&conf, &s, msg, sizeof(msg)), -ENOENT);
    assert_non_null(strstr(msg, conf.pool));
}

/* ---- groups ---- */

static int local_setup(void **state)
{
    const char *base = getenv("TMPDIR");

    (void)state;
    snprintf(tmp_root, sizeof(tmp_root), "%s/bkstore-XXXXXX", base && base[0] ? base : "/tmp");
    return mkdtemp(tmp_root) ? 0 : -1;
}

static int rm_all(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int local_teardown(void **state)
{
    (void)state;
    return nftw(tmp_root, rm_all, 16, FTW_DEPTH | FTW_PHYS);
}

static int cluster_setup(void **state)
{
    (void)state;
    return ceph_test_setup("test_blockd_backup_store", "bks", "strata.backups");
}

/* Remove every object of this run's prefix, then disconnect. */
static int cluster_teardown(void **state)
{
    rados_list_ctx_t ctx;
    const char *entry;

    (void)state;
    if (have_cluster && rados_nobjects_list_open(io, &ctx) == 0) {
        while (rados_nobjects_list_next(ctx, &entry, NULL, NULL) == 0)
            if (strncmp(entry, prefix, strlen(prefix)) == 0)
                rados_remove(io, entry);
        rados_nobjects_list_close(ctx);
    }
    ceph_test_teardown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest local[] = {
        cmocka_unit_test(test_dir_store),       cmocka_unit_test(test_dir_tmp_files),
        cmocka_unit_test(test_open_errors),     cmocka_unit_test(test_ec_store),
        cmocka_unit_test(test_ec_losses),       cmocka_unit_test(test_ec_corrupt_shard),
        cmocka_unit_test(test_ec_stale_shards),
    };
    const struct CMUnitTest ceph[] = {
        cmocka_unit_test(test_rados_store),
    };
    int failed =
        cmocka_run_group_tests_name("backup_store_local", local, local_setup, local_teardown);

    return failed +
           cmocka_run_group_tests_name("backup_store_rados", ceph, cluster_setup, cluster_teardown);
}
