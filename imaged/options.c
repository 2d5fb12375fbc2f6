/* options.c — the [imaged] options: one row per directive (type, default,
 * bounds, help); validated at start and documented in etc/strata.conf.sample. */
#include "options.h"

#define SEC 1000LL
#define MIB (1024LL * 1024)

const struct st_opt imaged_options[] = {
    { "imaged", "show_image_direct_url", ST_OPT_BOOL, "true", false, 0, 0, NULL,
      "Show direct_url (rbd://fsid/pool/image/snap) to location_roles, so Cinder and Nova clone" },
    { "imaged", "show_multiple_locations", ST_OPT_BOOL, "true", false, 0, 0, NULL,
      "Show locations [{url, metadata}] to location_roles" },
    { "imaged", "location_roles", ST_OPT_STR, "admin,service", false, 0, 0, NULL,
      "Roles that see direct_url/locations (they name the Ceph fsid, pool and image)" },
    { "imaged", "staging_dir", ST_OPT_STR, "/var/lib/strata/staging", false, 0, 0, NULL,
      "Local directory for data that must be converted or is staged for import" },
    { "imaged", "max_image_size", ST_OPT_SIZE, "1T", false, 1 * MIB, 1LL << 50, NULL,
      "Largest image upload accepted (bytes, K/M/G/T)" },
    { "imaged", "max_virtual_size", ST_OPT_SIZE, "1T", false, 1 * MIB, 1LL << 50, NULL,
      "Largest virtual size of an uploaded disk image" },
    { "imaged", "upload_block_size", ST_OPT_SIZE, "4M", false, 64 * 1024, 64 * MIB, NULL,
      "Bytes per RBD write of an upload" },
    { "imaged", "upload_inflight", ST_OPT_INT, "8", false, 1, 64, NULL,
      "RBD writes in flight per upload" },
    { "imaged", "io_buffers", ST_OPT_INT, "48", false, 8, 4096, NULL,
      "Upload/download buffers of upload_block_size each, mapped on first use and reused: "
      "imaged's data-path memory is at most io_buffers x upload_block_size (an upload takes "
      "upload_inflight of them, a download 6; more transfers at once wait for them)" },
    { "imaged", "io_buffer_wait", ST_OPT_DURATION, "30s", false, 0, 600000, NULL,
      "How long a transfer waits for free I/O buffers before answering 503" },
    { "imaged", "bulk_bytes_sec", ST_OPT_INT, "0", false, 0, 1000000000000LL, NULL,
      "Cap on the bytes per second all of imaged's own copies (flattens of images made from "
      "volumes) move together (0 = none)" },
    { "imaged", "bulk_image_bytes_sec", ST_OPT_INT, "0", false, 0, 1000000000000LL, NULL,
      "Cap on the bytes per second each of imaged's own copies moves (0 = none)" },
    { "imaged", "workers", ST_OPT_INT, "4", false, 1, 64, NULL,
      "Background workers (imports)" },
    { "imaged", "convert_timeout", ST_OPT_DURATION, "1h", false, 10 * SEC, 24 * 3600 * SEC, NULL,
      "Longest qemu-img conversion" },
    { "imaged", "reconcile_interval", ST_OPT_DURATION, "60s", false, 1 * SEC, 3600 * SEC, NULL,
      "How often interrupted uploads, deferred deletes and orphans are reconciled" },
    ST_OPT_END,
};
