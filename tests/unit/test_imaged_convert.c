/* test_imaged_convert.c — the header inspector on crafted bytes, disk format
 * probing, the upload checks and conversion with the real qemu-img
 * (qemu-utils).  Inspector, probe and check tests run anywhere; conversion
 * into RBD needs STRATA_TEST_CEPH_CONF (skipped without). */
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
#include "inspect.h"
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

/* img_probe_file refuses `file` with `want` before qemu-img runs. */
static void probe_refused(const char *file, const char *want)
{
    struct img_probe p;
    char path[256];

    path_of(path, sizeof(path), file);
    assert_int_equal(img_probe_file(path, 30, &p, msg, sizeof(msg)), -EINVAL);
    assert_string_equal(msg, want);
}

static void test_probe_refused_qcow2(void **state)
{
    struct img_probe p;
    char path[256];

    (void)state;
    p = probe_ok("plain.qcow2");
    p.has_backing_file = true;
    check_fails(&p, "qcow2", 0, "qcow2 images with a backing file are refused");
    p.has_backing_file = false;
    p.has_data_file = true;
    check_fails(&p, "qcow2", 0, "qcow2 images with an external data file are refused");
    /* Refused from the header: qemu-img never opens what it names. */
    probe_refused("overlay.qcow2", "qcow2 images with a backing file are refused");
    probe_refused("datafile.qcow2", "qcow2 images with an external data file are refused");
    /* Its data file a FIFO: had qemu-img info opened it, it would hang to
     * the deadline ("could not be inspected in time"). */
    sh("cd %s && qemu-img create -q -f qcow2 -o data_file=ext.fifo fifodata.qcow2 1M && "
       "rm -f ext.fifo && mkfifo ext.fifo",
       dir);
    path_of(path, sizeof(path), "fifodata.qcow2");
    assert_int_equal(img_probe_file(path, 2, &p, msg, sizeof(msg)), -EINVAL);
    assert_string_equal(msg, "qcow2 images with an external data file are refused");
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
    probe_refused("flat.vmdk", "vmdk descriptor files (naming extent files) are refused");
    p = probe_ok("disk.vhd");
    assert_string_equal(p.format, "vpc");
    assert_int_equal(img_probe_check(&p, "vhd", 0, msg, sizeof(msg)), 0);
    check_fails(&p, "raw", 0, "disk_format is raw but the data is vhd");
}

/* ---- the header inspector on crafted bytes (pure) ---- */

struct mem {
    const uint8_t *buf;
    size_t len;
    int fail; /* -errno every read returns, or 0 */
};

static ssize_t mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    const struct mem *m = ctx;

    if (m->fail)
        return m->fail;
    if (off >= m->len)
        return 0;
    if (len > m->len - off)
        len = m->len - off;
    memcpy(buf, m->buf + off, len);
    return (ssize_t)len;
}

static uint8_t img[8192];

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A qcow2 header of `version` with 4 KiB clusters and no extensions. */
static void qcow2_header(uint32_t version)
{
    memset(img, 0, sizeof(img));
    memcpy(img, "QFI\xfb", 4);
    put_be32(img + 4, version);
    put_be32(img + 20, 12);
    put_be64(img + 24, 1 << 20);
    if (version == 3)
        put_be32(img + 100, 104);
}

/* A sparse VMDK header with an embedded descriptor at sector 1. */
static void vmdk_header(const char *descriptor)
{
    memset(img, 0, sizeof(img));
    memcpy(img, "KDMV", 4);
    img[4] = 1;
    put_le64(img + 12, 2048);
    put_le64(img + 20, 128);
    put_le64(img + 28, 1);
    put_le64(img + 36, 10);
    snprintf((char *)img + 512, sizeof(img) - 512, "%s", descriptor);
}

static int inspect(size_t len)
{
    struct mem m = {img, len, 0};

    msg[0] = 'x';
    return img_inspect(mem_read, &m, msg, sizeof(msg));
}

static void inspect_refuses(size_t len, const char *want)
{
    assert_int_equal(inspect(len), -EINVAL);
    assert_string_equal(msg, want);
}

static void test_inspect_qcow2(void **state)
{
    (void)state;
    qcow2_header(3);
    assert_int_equal(inspect(sizeof(img)), 0);
    assert_string_equal(msg, "");
    qcow2_header(2);
    assert_int_equal(inspect(sizeof(img)), 0);
    /* The incompatible feature bit of an external data file. */
    qcow2_header(3);
    put_be64(img + 72, 1 << 2);
    inspect_refuses(sizeof(img), "qcow2 images with an external data file are refused");
    /* The data-file header extension without the bit, behind another one. */
    qcow2_header(3);
    put_be32(img + 104, 0xe2792aca); /* backing format "raw" */
    put_be32(img + 108, 3);
    memcpy(img + 112, "raw", 3);
    put_be32(img + 120, 0x44415441);
    put_be32(img + 124, 7);
    memcpy(img + 128, "ext.raw", 7);
    inspect_refuses(sizeof(img), "qcow2 images with an external data file are refused");
    /* ...and in a v2 header, whose extensions start at 72. */
    qcow2_header(2);
    put_be32(img + 72, 0x44415441);
    put_be32(img + 76, 1);
    inspect_refuses(sizeof(img), "qcow2 images with an external data file are refused");
    qcow2_header(2);
    put_be64(img + 8, 512);
    put_be32(img + 16, 8);
    inspect_refuses(sizeof(img), "qcow2 images with a backing file are refused");
    qcow2_header(3);
    put_be64(img + 72, 1ull << 9);
    inspect_refuses(sizeof(img), "qcow2 images with unknown incompatible features are refused");
    qcow2_header(1);
    inspect_refuses(sizeof(img), "qcow images of a version other than 2 or 3 are refused");
    qcow2_header(3);
    put_be32(img + 20, 30);
    inspect_refuses(sizeof(img), "qcow2 images with an invalid cluster size are refused");
    qcow2_header(3);
    inspect_refuses(80, "qcow2 images with a truncated header are refused");
}

static void test_inspect_vmdk(void **state)
{
    (void)state;
    vmdk_header("# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicSparse\"\n"
                "RW 2048 SPARSE \"disk.vmdk\"\n");
    assert_int_equal(inspect(sizeof(img)), 0);
    vmdk_header("version=1\ncreateType=\"streamOptimized\"\nRW 2048 SPARSE \"disk.vmdk\"\n");
    assert_int_equal(inspect(sizeof(img)), 0);
    vmdk_header("version=1\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"disk-flat.vmdk\" 0\n");
    inspect_refuses(sizeof(img), "vmdk images of type monolithicFlat are refused (only "
                                 "monolithicSparse and streamOptimized)");
    vmdk_header("version=1\ncreateType=\"monolithicSparse\"\nRW 2048 SPARSE \"/etc/shadow\"\n");
    inspect_refuses(sizeof(img), "vmdk images with extents naming other files are refused");
    vmdk_header("version=1\ncreateType=\"monolithicSparse\"\n"
                "parentFileNameHint=\"base.vmdk\"\nRW 2048 SPARSE \"disk.vmdk\"\n");
    inspect_refuses(sizeof(img), "vmdk images with a backing file are refused");
    /* A descriptor bigger than 1 MiB is not read at all. */
    vmdk_header("");
    put_le64(img + 36, 4096);
    inspect_refuses(sizeof(img), "vmdk images with an oversized descriptor are refused");
    /* A text descriptor names its extent files: never handed to qemu-img. */
    memset(img, 0, sizeof(img));
    snprintf((char *)img, sizeof(img),
             "# Disk DescriptorFile\n\nversion=1\n"
             "createType=\"monolithicFlat\"\n"
             "RW 2048 FLAT \"/dev/sda\" 0\n");
    inspect_refuses(strlen((char *)img), "vmdk descriptor files (naming extent files) are refused");
    memcpy(img, "COWD", 4);
    inspect_refuses(sizeof(img), "vmdk version 3 (COWD) images are refused");
}

static void test_inspect_other(void **state)
{
    struct mem m = {img, sizeof(img), -EIO};

    (void)state;
    memset(img, 0, sizeof(img));
    memcpy(img, "QED", 4);
    inspect_refuses(sizeof(img), "qed images are refused");
    /* Anything else (raw, an MBR, a few bytes, nothing) passes to qemu-img. */
    memset(img, 0, sizeof(img));
    img[510] = 0x55;
    img[511] = 0xaa;
    assert_int_equal(inspect(sizeof(img)), 0);
    snprintf((char *)img, sizeof(img), "versions of text that are not descriptors");
    assert_int_equal(inspect(sizeof(img)), 0);
    assert_int_equal(inspect(3), 0);
    assert_int_equal(inspect(0), 0);
    assert_int_equal(img_inspect(mem_read, &m, msg, sizeof(msg)), -EIO);
    assert_int_equal(img_inspect(NULL, &m, msg, sizeof(msg)), -EINVAL);
    assert_int_equal(img_inspect_file("/nonexistent/x.qcow2", msg, sizeof(msg)), -ENOENT);
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
        cmocka_unit_test(test_probe_raw),           cmocka_unit_test(test_probe_qcow2),
        cmocka_unit_test(test_probe_refused_qcow2), cmocka_unit_test(test_probe_vmdk_vhd),
        cmocka_unit_test(test_inspect_qcow2),       cmocka_unit_test(test_inspect_vmdk),
        cmocka_unit_test(test_inspect_other),       cmocka_unit_test(test_probe_protocol_names),
        cmocka_unit_test(test_probe_errors),        cmocka_unit_test(test_needs_conversion),
        cmocka_unit_test(test_convert_to_raw_file),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
