/* convert.h — disk format inspection and conversion with qemu-img (qemu-utils):
 * `qemu-img info --output=json` tells what a file really is, and
 * `qemu-img convert` turns any format it reads into a sparse raw file. */
#ifndef IMAGED_CONVERT_H
#define IMAGED_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct img_probe {
    char format[32];        /* "raw", "qcow2", "vmdk", ... as qemu-img names it */
    uint64_t virtual_size;
    uint64_t actual_size;
    bool has_backing_file;  /* backing-filename present */
    bool has_data_file;     /* qcow2 external data file */
    bool encrypted;
};

/* Inspect `path` (format probed by qemu-img, never trusted from the client).
 * Its header is checked first (img_inspect_file) and qemu-img does not run on
 * what that refuses.  -EINVAL with msg when refused or when qemu-img cannot
 * read it; timeout_s bounds the run. */
int img_probe_file(const char *path, unsigned timeout_s, struct img_probe *out,
                   char *msg, size_t msglen);

/* Check a probe against what the client declared and the limits:
 * declared disk_format must match (Glance names: raw, qcow2, vmdk, vdi, vhd(=vpc),
 * vhdx, iso(=raw data), ploop...), no backing file, no external data file, not
 * encrypted, virtual size <= max_virtual_size.  0 or -EINVAL with a message
 * fit for a 400 reply. */
int img_probe_check(const struct img_probe *p, const char *declared_disk_format,
                    uint64_t max_virtual_size, char *msg, size_t msglen);

/* Whether a Glance disk_format is stored as is (raw bytes) or converted to raw. */
bool img_format_needs_conversion(const char *disk_format);

/* Convert `src` (qemu-img format `src_format`) to a sparse raw file `dst`
 * (created or truncated).  timeout_s bounds the run. */
int img_convert_to_raw_file(const char *src, const char *src_format, const char *dst,
                            unsigned timeout_s, char *msg, size_t msglen);

#endif
