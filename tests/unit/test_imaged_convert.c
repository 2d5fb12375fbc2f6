/* test_imaged_convert.c — disk format probing, the upload checks and
 * conversion with the real qemu-img (qemu-utils).  Probe and check tests run
 * anywhere; conversion into RBD needs STRATA_TEST_CEPH_CONF (skipped without). */
#include <errno.h>
#include <fcntl.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "convert.h"
#include "strata/log.h"

#define MiB (1024ull * 1024)

static char dir[64];
static char msg[256];

static void path_of(char *buf, size_t len, const char *file)
{
    snprintf(buf, len, "%s/%s", dir, file);
}

/* Test set-up commands only (fixed arguments, our own temp dir).  Tried up
 * to three times: qemu-img's LUKS key setup times PBKDF2 on the CPU clock and
 * gives up ("Unable to get accurate CPU usage") on a loaded machine. */
static void sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    for (int tries = 0; system(cmd) != 0;)
        if (++tries == 3)
            fail_msg("set-up command failed: %s", cmd);
}

static struct img_probe probe_ok(const char *file)
{
    struct img_probe p;
    char path[256];

    path_of(path, sizeof(path), file);
    msg[0] = 'x';
    assert_int_equal(img_probe_file(path, 30, &p, msg, sizeof(msg)), 0);
    return p;
}

static void check_fails(const struct img_probe *p, const char *declared, uint64_t max,
                        const char *want)
{
    assert_int_equal(img_probe_check(p, declared, max, msg, sizeof(msg)), -EINVAL);
    assert_string_equal(msg, want);
}

static int group_setup(void **state)
{
    (void)state;
    st_log_init("test_imaged_convert", ST_LOG_ERROR);
    snprintf(dir, sizeof(dir), "/tmp/strata-convert-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    /* The images every probe test uses. */
    sh("cd %s && head -c 1048576 /dev/urandom > plain.raw", dir);
    sh("cd %s && qemu-img create -q -f qcow2 plain.qcow2 64M", dir);
    sh("cd %s && qemu-img create -q -f qcow2 big.qcow2 20G", dir);
    sh("cd %s && qemu-img create -q -f raw base.raw 1M && "
       "qemu-img create -q -f qcow2 -b base.raw -F raw overlay.qcow2",
       dir);
    sh("cd %s && qemu-img create -q -f qcow2 -o data_file=ext.raw datafile.qcow2 1M", dir);
    sh("cd %s && qemu-img create -q -f vmdk sparse.vmdk 2M", dir);
    sh("cd %s && qemu-img create -q -f vmdk -o subformat=monolithicFlat flat.vmdk 1M", dir);
    sh("cd %s && qemu-img create -q -f vpc disk.vhd 8M", dir);
    sh("cd %s && qemu-img create -q --object secret,id=s0,data=pw -f qcow2 "
       "-o encrypt.format=luks,encrypt.key-secret=s0 crypt.qcow2 1M",
       dir);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (dir[0] && strncmp(dir, "/tmp/strata-convert-", 20) == 0)
        sh("rm -rf -- '%s'", dir);
    return 0;
}

static void test_probe_raw(void **state)
{
    struct img_probe p = probe_ok("plain.raw");

    (void)state;
    assert_string_equal(p.format, "raw");
    assert_int_equal(p.virtual_size, MiB);
    assert_false(p.has_backing_file || p.has_data_file || p.encrypted);
    assert_int_equal(img_probe_check(&p, "raw", 0, msg, sizeof(msg)), 0);
    assert_int_equal(img_probe_check(&p, "iso", MiB, msg, sizeof(msg)), 0);
    assert_int_equal(img_probe_check(&p, "ami", 0, msg, sizeof(msg)), 0);
    check_fails(&p, "qcow2", 0, "disk_format is qcow2 but the data is raw");
    check_fails(&p, "raw", MiB - 1, "virtual size 1 MiB exceeds the limit of 1048575 bytes");
    check_fails(&p, "bogus", 0, "disk_format bogus is not supported");
    check_fails(&p, NULL, 0, "disk_format (none) is not supported");
}

static void test_probe_qcow2(void **state)
{
    struct img_probe p = probe_ok("plain.qcow2"), big = probe_ok("big.qcow2");

    (void)state;
    assert_string_equal(p.format, "qcow2");
    assert_int_equal(p.virtual_size, 64 * MiB);
    assert_true(p.actual_size > 0 && p.actual_size < 64 * MiB);
    assert_false(p.has_backing_file || p.has_data_file || p.encrypted);
    assert_int_equal(img_probe_check(&p, "qcow2", 64 * MiB, msg, sizeof(msg)), 0);
    check_fails(&p, "raw", 0, "disk_format is raw but the data is qcow2");
    check_fails(&p, "vmdk", 0, "disk_format is vmdk but the data is qcow2");
    check_fails(&p, "qcow2", 32 * MiB, "virtual size 64 MiB exceeds the limit of 32 MiB");
    check_fails(&big, "qcow2", 10 * 1024 * MiB, "virtual size 20 GiB exceeds the limit of 10 GiB");
}

static void test_probe_refused_qcow2(void **state)
{
    struct img_probe p;

    (void)state;
    p = probe_ok("overlay.qcow2");
    assert_true(p.has_backing_file);
    check_fails(&p, "qcow2", 0, "qcow2 images with a backing file are refused");
    p = probe_ok("datafile.qcow2");
    assert_true(p.has_data_file);
    check_fails(&p, "qcow2", 0, "qcow2 images with an external data file are refused");
    p = probe_ok("crypt.qcow2");
    assert_true(p.encrypted);
    check_fails(&p, "qcow2", 0, "encrypted qcow2 images are refused");
}

static void test_probe_vmdk_vhd(void **state)
{
    struct img_probe p;

    (void)state;
    p = probe_ok("sparse.vmdk");
    assert_string_equal(p.format, "vmdk");
    assert_int_equal(p.virtual_size, 2 * MiB);
    assert_false(p.has_data_file);
    assert_int_equal(img_probe_check(&p, "vmdk", 0, msg, sizeof(msg)), 0);
    /* A descriptor naming extent files: could point at any host file. */
    p = probe_ok("flat.vmdk");
    assert_true(p.has_data_file);
    check_fails(&p, "vmdk", 0, "vmdk images with an external data file are refused");
    p = probe_ok("disk.vhd");
    assert_string_equal(p.format, "vpc");
    assert_int_equal(img_probe_check(&p, "vhd", 0, msg, sizeof(msg)), 0);
    check_fails(&p, "raw", 0, "disk_format is raw but the data is vhd");
}

/* Paths are always files: "nbd:..." or "json:..." names never select a protocol. */
static void test_probe_protocol_names(void **state)
{
    char cwd[512], name[] = "nbd:localhost:1", jname[] = "json:{\"driver\":\"null-co\"}";
    struct img_probe p;

    (void)state;
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    sh("cd %s && cp plain.raw '%s' && cp plain.qcow2 '%s'", dir, name, jname);
    assert_int_equal(img_probe_file(name, 30, &p, msg, sizeof(msg)), 0);
    assert_string_equal(p.format, "raw");
    assert_int_equal(img_probe_file(jname, 30, &p, msg, sizeof(msg)), 0);
    assert_string_equal(p.format, "qcow2");
    assert_int_equal(chdir(cwd), 0);
}

static void test_probe_errors(void **state)
{
    struct img_probe p;
    char path[256];
    time_t t0;

    (void)state;
    path_of(path, sizeof(path), "missing.img");
    assert_int_equal(img_probe_file(path, 30, &p, msg, sizeof(msg)), -EINVAL);
    assert_non_null(strstr(msg, "No such file"));
    assert_null(strstr(msg, dir)); /* no server paths in client messages */
    /* A FIFO never delivers data: the run is killed at the deadline. */
    path_of(path, sizeof(path), "fifo");
    assert_int_equal(mkfifo(path, 0600), 0);
    t0 = time(NULL);
    assert_int_equal(img_probe_file(path, 1, &p, msg, sizeof(msg)), -EINVAL);
    assert_true(time(NULL) - t0 <= 5);
    assert_string_equal(msg, "the image could not be inspected in time");
}

static void test_needs_conversion(void **state)
{
    static const char *yes[] = {"qcow2", "vmdk", "vdi", "vhd", "vhdx", "ploop"};
    static const char *no[] = {"raw", "iso", "ami", "ari", "aki", "bogus", NULL};

    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(img_format_needs_conversion(yes[i]));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(img_format_needs_conversion(no[i]));
}

static void test_convert_to_raw_file(void **state)
{
    char src[256], dst[256];
    struct img_probe p;

    (void)state;
    sh("cd %s && qemu-img create -q -f qcow2 data.qcow2 24M && "
       "qemu-io -c 'write -P 0xab 1M 3M' -c 'write -P 0x11 20M 64k' data.qcow2 >/dev/null",
       dir);
    path_of(src, sizeof(src), "data.qcow2");
    path_of(dst, sizeof(dst), "data.out.raw");
    assert_int_equal(img_convert_to_raw_file(src, "qcow2", dst, 60, msg, sizeof(msg)), 0);
    p = probe_ok("data.out.raw");
    assert_string_equal(p.format, "raw");
    assert_int_equal(p.virtual_size, 24 * MiB);
    assert_true(p.actual_size < 8 * MiB); /* sparse */
    sh("cd %s && qemu-img compare -q -f qcow2 -F raw data.qcow2 data.out.raw", dir);
    /* Wrong source format: a clear error, not a crash. */
    assert_int_equal(img_convert_to_raw_file(src, "vmdk", dst, 60, msg, sizeof(msg)), -EIO);
    assert_non_null(strstr(msg, "conversion failed: "));
}

/* qcow2 with data -> RBD (escaping a ':' in the conf path), read back equal. */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_raw),
        cmocka_unit_test(test_probe_qcow2),
        cmocka_unit_test(test_probe_refused_qcow2),
        cmocka_unit_test(test_probe_vmdk_vhd),
        cmocka_unit_test(test_probe_protocol_names),
        cmocka_unit_test(test_probe_errors),
        cmocka_unit_test(test_needs_conversion),
        cmocka_unit_test(test_convert_to_raw_file),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
