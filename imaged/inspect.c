/* inspect.c — the header inspector run on a staged upload before qemu-img:
 * qcow/qcow2 (backing file offset, incompatible features, header extensions),
 * QED, VMDK sparse headers and their embedded descriptors, and VMDK text
 * descriptors.  It reads through a callback, so tests feed it crafted bytes. */
#include "inspect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD_LEN 4096
#define QCOW_MAGIC "QFI\xfb"
#define QED_MAGIC "QED\0"
#define VMDK4_MAGIC "KDMV"
#define VMDK3_MAGIC "COWD"
#define QCOW2_V2_HDR_LEN 72
#define QCOW2_V3_HDR_LEN 104
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_KNOWN 0x1full /* dirty, corrupt, data file, compression, extended L2 */
#define QCOW2_EXT_END 0x00000000u
#define QCOW2_EXT_DATA_FILE 0x44415441u
#define QCOW2_CLUSTER_BITS_MIN 9
#define QCOW2_CLUSTER_BITS_MAX 21
#define VMDK_SECTOR 512
#define VMDK_DESC_MAX (1u << 20)

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int refuse(char *msg, size_t msglen, const char *text)
{
    snprintf(msg, msglen, "%s", text);
    return -EINVAL;
}

/* Read exactly len bytes at off, or fewer at the end: the count or -errno. */
static ssize_t read_at(img_read_fn read, void *ctx, uint64_t off, uint8_t *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(ctx, off + got, buf + got, len - got);

        if (n < 0)
            return n;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* qcow2 header extensions from off to the end of the first cluster: an
 * external data file may be named there even without its feature bit. */
static int qcow2_extensions(img_read_fn read, void *ctx, const uint8_t *hdr, uint64_t off,
                            char *msg, size_t msglen)
{
    uint32_t bits = be32(hdr + 20);
    size_t cluster;
    uint8_t *buf;
    ssize_t n;
    int rc = 0;

    if (bits < QCOW2_CLUSTER_BITS_MIN || bits > QCOW2_CLUSTER_BITS_MAX)
        return refuse(msg, msglen, "qcow2 images with an invalid cluster size are refused");
    cluster = (size_t)1 << bits;
    if (off >= cluster)
        return refuse(msg, msglen, "qcow2 images with an invalid header length are refused");
    buf = malloc(cluster);
    if (!buf)
        return -ENOMEM;
    n = read_at(read, ctx, 0, buf, cluster);
    if (n < 0)
        rc = (int)n;
    while (rc == 0 && off + 8 <= (uint64_t)n) {
        uint32_t type = be32(buf + off), len = be32(buf + off + 4);

        if (type == QCOW2_EXT_END)
            break;
        if (type == QCOW2_EXT_DATA_FILE)
            rc = refuse(msg, msglen, "qcow2 images with an external data file are refused");
        off += 8 + (((uint64_t)len + 7) & ~7ull);
    }
    free(buf);
    return rc;
}

static int inspect_qcow(img_read_fn read, void *ctx, const uint8_t *h, size_t n, char *msg,
                        size_t msglen)
{
    uint32_t version, hlen;
    uint64_t incompat;

    if (n < QCOW2_V2_HDR_LEN)
        return refuse(msg, msglen, "qcow2 images with a truncated header are refused");
    version = be32(h + 4);
    if (version != 2 && version != 3)
        return refuse(msg, msglen, "qcow images of a version other than 2 or 3 are refused");
    if (be64(h + 8) != 0)
        return refuse(msg, msglen, "qcow2 images with a backing file are refused");
    if (version == 2)
        return qcow2_extensions(read, ctx, h, QCOW2_V2_HDR_LEN, msg, msglen);
    if (n < QCOW2_V3_HDR_LEN)
        return refuse(msg, msglen, "qcow2 images with a truncated header are refused");
    incompat = be64(h + 72);
    if (incompat & QCOW2_INCOMPAT_DATA_FILE)
        return refuse(msg, msglen, "qcow2 images with an external data file are refused");
    if (incompat & ~QCOW2_INCOMPAT_KNOWN)
        return refuse(msg, msglen, "qcow2 images with unknown incompatible features are refused");
    hlen = be32(h + 100);
    if (hlen < QCOW2_V3_HDR_LEN || hlen % 8)
        return refuse(msg, msglen, "qcow2 images with an invalid header length are refused");
    return qcow2_extensions(read, ctx, h, hlen, msg, msglen);
}

/* The value of `key = "value"` on a descriptor line, unquoted, into out. */
static bool desc_value(const char *line, size_t len, const char *key, char *out, size_t outlen)
{
    size_t k = strlen(key), i = k, j;

    if (len < k || strncmp(line, key, k) != 0)
        return false;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i >= len || line[i] != '=')
        return false;
    for (i++; i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '"'); i++)
        ;
    for (j = i; j < len && line[j] != '"' && line[j] != '\r'; j++)
        ;
    snprintf(out, outlen, "%.*s", (int)(j - i), line + i);
    return true;
}

/* An extent line: ACCESS SECTORS TYPE ["file" [offset]]. */
static bool is_extent(const char *line, size_t len)
{
    static const char *const access[] = {"RW ", "RDONLY ", "NOACCESS "};

    for (size_t i = 0; i < sizeof(access) / sizeof(access[0]); i++)
        if (len >= strlen(access[i]) && strncmp(line, access[i], strlen(access[i])) == 0)
            return true;
    return false;
}

/* An embedded descriptor of a sparse VMDK: only the self-contained types, no
 * parent, no extent naming a path. */
static int vmdk_descriptor(const char *d, size_t n, char *msg, size_t msglen)
{
    char type[64] = "";
    char val[256];
    bool typed = false;

    for (size_t i = 0; i < n;) {
        const char *line = d + i;
        size_t len = strcspn(line, "\n");

        if (len > n - i)
            len = n - i;
        i += len + 1;
        if (desc_value(line, len, "createType", type, sizeof(type)))
            typed = true;
        if (desc_value(line, len, "parentFileNameHint", val, sizeof(val)))
            return refuse(msg, msglen, "vmdk images with a backing file are refused");
        if (is_extent(line, len)) {
            const char *q = memchr(line, '"', len);

            if (q && memchr(q, '/', len - (size_t)(q - line)))
                return refuse(msg, msglen,
                              "vmdk images with extents naming other files are refused");
        }
    }
    if (typed && strcmp(type, "monolithicSparse") != 0 && strcmp(type, "streamOptimized") != 0) {
        snprintf(msg, msglen,
                 "vmdk images of type %.40s are refused (only monolithicSparse and "
                 "streamOptimized)",
                 type);
        return -EINVAL;
    }
    return 0;
}

static int inspect_vmdk4(img_read_fn read, void *ctx, const uint8_t *h, size_t n, char *msg,
                         size_t msglen)
{
    uint64_t off, size;
    char *d;
    ssize_t got;
    int rc;

    if (n < 44)
        return refuse(msg, msglen, "vmdk images with a truncated header are refused");
    off = le64(h + 28);
    size = le64(h + 36);
    if (!off || !size)
        return 0; /* no embedded descriptor: a plain sparse extent */
    if (size > VMDK_DESC_MAX / VMDK_SECTOR || off > UINT64_MAX / VMDK_SECTOR)
        return refuse(msg, msglen, "vmdk images with an oversized descriptor are refused");
    d = malloc(size * VMDK_SECTOR + 1);
    if (!d)
        return -ENOMEM;
    got = read_at(read, ctx, off * VMDK_SECTOR, (uint8_t *)d, size * VMDK_SECTOR);
    rc = got < 0 ? (int)got : 0;
    if (rc == 0) {
        d[got] = '\0';
        rc = vmdk_descriptor(d, strlen(d), msg, msglen);
    }
    free(d);
    return rc;
}

/* A text VMDK descriptor (what qemu probes: after comments and blanks, a
 * "version=" line): it names its extent files, so it is never opened. */
static bool vmdk_text(const uint8_t *h, size_t n)
{
    const char *p = (const char *)h, *end = p + n;

    while (p < end) {
        if (*p == '#') {
            const char *nl = memchr(p, '\n', (size_t)(end - p));

            if (!nl)
                return false;
            p = nl + 1;
        } else if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            p++;
        } else {
            return (size_t)(end - p) >= 8 && strncmp(p, "version=", 8) == 0;
        }
    }
    return false;
}

int img_inspect(img_read_fn read, void *ctx, char *msg, size_t msglen)
{
    uint8_t h[HEAD_LEN];
    ssize_t n;

    if (msg && msglen)
        msg[0] = '\0';
    if (!read)
        return -EINVAL;
    n = read_at(read, ctx, 0, h, sizeof(h));
    if (n < 0)
        return (int)n;
    if (n < 4)
        return 0;
    if (memcmp(h, QCOW_MAGIC, 4) == 0)
        return inspect_qcow(read, ctx, h, (size_t)n, msg, msglen);
    if (memcmp(h, QED_MAGIC, 4) == 0)
        return refuse(msg, msglen, "qed images are refused");
    if (memcmp(h, VMDK4_MAGIC, 4) == 0)
        return inspect_vmdk4(read, ctx, h, (size_t)n, msg, msglen);
    if (memcmp(h, VMDK3_MAGIC, 4) == 0)
        return refuse(msg, msglen, "vmdk version 3 (COWD) images are refused");
    if (vmdk_text(h, (size_t)n))
        return refuse(msg, msglen, "vmdk descriptor files (naming extent files) are refused");
    return 0;
}

static ssize_t fd_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    ssize_t n;

    do
        n = pread(*(int *)ctx, buf, len, (off_t)off);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

int img_inspect_file(const char *path, char *msg, size_t msglen)
{
    struct stat st;
    int fd, rc;

    if (msg && msglen)
        msg[0] = '\0';
    if (!path)
        return -EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0)
        rc = -errno;
    else if (!S_ISREG(st.st_mode))
        rc = 0;
    else
        rc = img_inspect(fd_read, &fd, msg, msglen);
    close(fd);
    return rc;
}
