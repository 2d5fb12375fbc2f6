/* test_rbd.c — the shared RBD operations (strata/rbd.h) added for the block
 * service, against a REAL Ceph cluster (STRATA_TEST_CEPH_CONF; skipped without
 * it): create, resize, snapshot create/protect/remove, rollback, flatten and
 * parent depth.  Images are named t-rbd-<random>-* in strata.volumes and all
 * removed.  The operations imaged also uses are covered by test_imaged_rbd_io. */
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

#include "ceph_test.h"

#define MiB (1024ull * 1024)

static void write_at(const char *name, uint64_t off, const char *data, size_t len)
{
    rbd_image_t img;

    assert_int_equal(rbd_open(io, name, &img, NULL), 0);
    assert_int_equal(rbd_write(img, off, len, data), (ssize_t)len);
    assert_int_equal(rbd_close(img), 0);
}

static void read_at(const char *name, uint64_t off, char *out, size_t len)
{
    rbd_image_t img;

    assert_int_equal(rbd_open_read_only(io, name, &img, NULL), 0);
    assert_int_equal(rbd_read(img, off, len, out), (ssize_t)len);
    assert_int_equal(rbd_close(img), 0);
}

static int snap_protected(const char *name, const char *snap)
{
    rbd_image_t img;
    int prot = -1;

    assert_int_equal(rbd_open_read_only(io, name, &img, NULL), 0);
    assert_int_equal(rbd_snap_is_protected(img, snap, &prot), 0);
    assert_int_equal(rbd_close(img), 0);
    return prot;
}

static unsigned depth_of(const char *name)
{
    unsigned depth = 999;

    assert_int_equal(st_rbd_parent_depth(io, name, &depth), 0);
    return depth;
}

static void test_create(void **state)
{
    char name[96];
    uint64_t size = 0;

    (void)state;
    NEED_CLUSTER();
    img_name(name, sizeof(name), "create");
    assert_int_equal(st_rbd_create(io, name, 8 * MiB), 0);
    assert_int_equal(st_rbd_size(io, name, NULL, &size), 0);
    assert_int_equal(size, 8 * MiB);
    assert_int_equal(st_rbd_create(io, name, 4 * MiB), -EEXIST);
    assert_int_equal(st_rbd_size(io, name, NULL, &size), 0);
    assert_int_equal(size, 8 * MiB);
    assert_int_equal(depth_of(name), 0);
    assert_int_equal(st_rbd_remove(io, name), 0);
}

/* Grow keeps the data and reads zeros beyond; shrinking is refused. */
static void test_resize_grow(void **state)
{
    char name[96], back[4096], zeros[4096] = {0};
    uint64_t size = 0;

    (void)state;
    NEED_CLUSTER();
    img_name(name, sizeof(name), "resize");
    assert_int_equal(st_rbd_create(io, name, 4 * MiB), 0);
    write_at(name, 4 * MiB - 5, "hello", 5);
    assert_int_equal(st_rbd_resize(io, name, 20 * MiB + 4096), 0);
    assert_int_equal(st_rbd_size(io, name, NULL, &size), 0);
    assert_int_equal(size, 20 * MiB + 4096);
    read_at(name, 4 * MiB - 5, back, 5);
    assert_memory_equal(back, "hello", 5);
    read_at(name, 20 * MiB, back, sizeof(back));
    assert_memory_equal(back, zeros, sizeof(back));
    assert_int_equal(st_rbd_resize(io, name, 20 * MiB + 4096), 0); /* same size */
    assert_int_equal(st_rbd_resize(io, name, MiB), -EINVAL);
    assert_int_equal(st_rbd_size(io, name, NULL, &size), 0);
    assert_int_equal(size, 20 * MiB + 4096);
    assert_int_equal(st_rbd_remove(io, name), 0);
    assert_int_equal(st_rbd_resize(io, name, 8 * MiB), -ENOENT);
}

/* Creating and protecting are both idempotent, and can be done in two steps. */
static void test_snap_create_protect(void **state)
{
    char name[96];

    (void)state;
    NEED_CLUSTER();
    img_name(name, sizeof(name), "snaps");
    assert_int_equal(st_rbd_snap_create(io, name, "s1", false), -ENOENT);
    assert_int_equal(st_rbd_create(io, name, 4 * MiB), 0);
    assert_int_equal(st_rbd_snap_create(io, name, "s1", false), 0);
    assert_int_equal(st_rbd_snap_create(io, name, "s1", false), 0);
    assert_int_equal(snap_protected(name, "s1"), 0);
    assert_int_equal(st_rbd_snap_create(io, name, "s1", true), 0);
    assert_int_equal(snap_protected(name, "s1"), 1);
    assert_int_equal(st_rbd_snap_create(io, name, "s1", true), 0);
    assert_int_equal(st_rbd_snap_create(io, name, "s1", false), 0); /* does not unprotect */
    assert_int_equal(snap_protected(name, "s1"), 1);
    assert_int_equal(st_rbd_snap_create(io, name, "s2", true), 0);
    assert_int_equal(st_rbd_snap_create(io, name, "s2", true), 0);
    assert_int_equal(snap_protected(name, "s2"), 1);
    assert_int_equal(st_rbd_remove(io, name), 0);
}

/* A snapshot with a clone is kept (-EBUSY, still protected); once the clone
 * is gone it is unprotected and removed; unprotected ones are removed too. */
static void test_snap_remove(void **state)
{
    char name[96], clone[96];
    uint64_t size;

    (void)state;
    NEED_CLUSTER();
    img_name(name, sizeof(name), "sr");
    img_name(clone, sizeof(clone), "sr-clone");
    assert_int_equal(st_rbd_snap_remove(io, name, "s"), -ENOENT);
    assert_int_equal(st_rbd_create(io, name, 4 * MiB), 0);
    assert_int_equal(st_rbd_snap_remove(io, name, "nosuch"), -ENOENT);

    assert_int_equal(st_rbd_snap_create(io, name, "plain", false), 0);
    assert_int_equal(st_rbd_snap_remove(io, name, "plain"), 0);
    assert_int_equal(st_rbd_snap_remove(io, name, "plain"), -ENOENT);

    assert_int_equal(st_rbd_snap_create(io, name, "prot", true), 0);
    assert_int_equal(st_rbd_clone(io, name, "prot", io, clone, 0), 0);
    assert_int_equal(st_rbd_snap_remove(io, name, "prot"), -EBUSY);
    assert_int_equal(st_rbd_size(io, name, "prot", &size), 0);
    assert_int_equal(snap_protected(name, "prot"), 1);
    assert_int_equal(st_rbd_remove(io, clone), 0);
    assert_int_equal(st_rbd_snap_remove(io, name, "prot"), 0);
    assert_int_equal(st_rbd_size(io, name, "prot", &size), -ENOENT);
    assert_int_equal(st_rbd_remove(io, name), 0);
}

/* Rollback brings back the snapshot's data and size. */
static void test_rollback(void **state)
{
    char name[96], back[8];
    uint64_t size = 0;

    (void)state;
    NEED_CLUSTER();
    img_name(name, sizeof(name), "rollback");
    assert_int_equal(st_rbd_create(io, name, 4 * MiB), 0);
    write_at(name, 0, "before", 6);
    write_at(name, 3 * MiB, "B2", 2);
    assert_int_equal(st_rbd_snap_create(io, name, "s", false), 0);
    write_at(name, 0, "AFTER!", 6);
    write_at(name, 3 * MiB, "A2", 2);
    assert_int_equal(st_rbd_resize(io, name, 8 * MiB), 0);
    assert_int_equal(st_rbd_rollback(io, name, "s"), 0);
    read_at(name, 0, back, 6);
    assert_memory_equal(back, "before", 6);
    read_at(name, 3 * MiB, back, 2);
    assert_memory_equal(back, "B2", 2);
    assert_int_equal(st_rbd_size(io, name, NULL, &size), 0);
    assert_int_equal(size, 4 * MiB);
    assert_int_equal(st_rbd_rollback(io, name, "nosuch"), -ENOENT);
    assert_int_equal(st_rbd_remove(io, name), 0);
    assert_int_equal(st_rbd_rollback(io, name, "s"), -ENOENT);
}

/* base <- c1 <- c2: depths 0, 1, 2; flattening c2 makes it independent (depth
 * 0, its ancestors can go, its data stays). */
static void test_flatten_and_depth(void **state)
{
    char base[96], c1[96], c2[96], back[16];
    unsigned depth;

    (void)state;
    NEED_CLUSTER();
    img_name(base, sizeof(base), "base");
    img_name(c1, sizeof(c1), "c1");
    img_name(c2, sizeof(c2), "c2");
    assert_int_equal(st_rbd_parent_depth(io, base, &depth), -ENOENT);
    assert_int_equal(st_rbd_create(io, base, 8 * MiB), 0);
    write_at(base, 0, "base-data", 9);
    assert_int_equal(st_rbd_flatten(io, base), -EINVAL); /* no parent */
    assert_int_equal(st_rbd_snap_create(io, base, "s", true), 0);
    assert_int_equal(st_rbd_clone(io, base, "s", io, c1, 0), 0);
    write_at(c1, 5 * MiB, "c1-data", 7);
    assert_int_equal(st_rbd_snap_create(io, c1, "s", true), 0);
    assert_int_equal(st_rbd_clone(io, c1, "s", io, c2, 16 * MiB), 0);
    assert_int_equal(depth_of(base), 0);
    assert_int_equal(depth_of(c1), 1);
    assert_int_equal(depth_of(c2), 2);

    assert_int_equal(st_rbd_flatten(io, c2), 0);
    assert_int_equal(depth_of(c2), 0);
    assert_int_equal(depth_of(c1), 1);
    /* Nothing pins the ancestors any more: remove them, c2 keeps its data. */
    assert_int_equal(st_rbd_remove(io, c1), 0);
    assert_int_equal(st_rbd_remove(io, base), 0);
    read_at(c2, 0, back, 9);
    assert_memory_equal(back, "base-data", 9);
    read_at(c2, 5 * MiB, back, 7);
    assert_memory_equal(back, "c1-data", 7);
    assert_int_equal(st_rbd_remove(io, c2), 0);
}

static int group_setup(void **state)
{
    (void)state;
    return ceph_test_setup("test_rbd", "rbd", env_or("STRATA_TEST_VOLUMES_POOL", "strata.volumes"));
}

static int group_teardown(void **state)
{
    (void)state;
    ceph_test_teardown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_resize_grow),
        cmocka_unit_test(test_snap_create_protect),
        cmocka_unit_test(test_snap_remove),
        cmocka_unit_test(test_rollback),
        cmocka_unit_test(test_flatten_and_depth),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
