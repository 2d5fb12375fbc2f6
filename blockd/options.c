/* options.c — the [blockd] options: one row per directive (type, default,
 * bounds, help); validated at start and documented in etc/strata.conf.sample. */
#include "options.h"

#define SEC 1000LL

const struct st_opt blockd_options[] = {
    { "blockd", "image_url", ST_OPT_STR, "http://127.0.0.1:9292", false, 0, 0, NULL,
      "strata-imaged endpoint, for volumes made from images (copy-on-write clones)" },
    { "blockd", "compute_url", ST_OPT_STR, "http://127.0.0.1:8774/v2.1", false, 0, 0, NULL,
      "Compute API (strata-scheduler) told when an in-use volume grows (os-server-external-events)" },
    { "blockd", "public_url", ST_OPT_STR, "", false, 0, 0, NULL,
      "URL clients reach this service at (links, version documents); empty = http://<bind>:<port>" },
    { "blockd", "max_clone_depth", ST_OPT_INT, "5", false, 1, 64, NULL,
      "Clone chains deeper than this are flattened in the background" },
    { "blockd", "bulk_bytes_sec", ST_OPT_INT, "0", false, 0, 1000000000000LL, NULL,
      "Cap on the bytes per second all of blockd's own copies (flattens) move together (0 = none)" },
    { "blockd", "bulk_volume_bytes_sec", ST_OPT_INT, "0", false, 0, 1000000000000LL, NULL,
      "Cap on the bytes per second each of blockd's own copies moves (0 = none)" },
    { "blockd", "max_metadata_items", ST_OPT_INT, "128", false, 1, 100000, NULL,
      "Metadata items per volume and per snapshot (more: 413)" },
    { "blockd", "workers", ST_OPT_INT, "4", false, 1, 64, NULL,
      "Background workers (create, extend, delete, flatten)" },
    { "blockd", "reconcile_interval", ST_OPT_DURATION, "60s", false, 1 * SEC, 3600 * SEC, NULL,
      "How often interrupted operations, deferred deletes and orphans are reconciled" },
    { "blockd", "availability_zone", ST_OPT_STR, "nova", false, 0, 0, NULL,
      "Availability zone reported for volumes" },
    { "blockd", "rbd_user", ST_OPT_STR, "strata-computed", false, 0, 0, NULL,
      "cephx id hypervisors use to open volumes (auth_username of connection_info)" },
    { "blockd", "rbd_secret_uuid", ST_OPT_STR, "5b1e6c2a-3f0d-4d8e-9a77-2c4f8e1d0b51", false, 0, 0,
      NULL, "libvirt secret uuid holding rbd_user's key on hypervisors (secret_uuid)" },
    { "blockd", "quota_volumes", ST_OPT_INT, "10", false, -1, 2147483647LL, NULL,
      "Default per-project limit on volumes (-1 = unlimited)" },
    { "blockd", "quota_snapshots", ST_OPT_INT, "10", false, -1, 2147483647LL, NULL,
      "Default per-project limit on snapshots (-1 = unlimited)" },
    { "blockd", "quota_gigabytes", ST_OPT_INT, "1000", false, -1, 2147483647LL, NULL,
      "Default per-project limit on GiB of volumes and snapshots (-1 = unlimited)" },
    { "blockd", "debug_pause_step", ST_OPT_STR, "", false, 0, 0, NULL,
      "Test only: comma-separated job steps (create, extend, delete) at which a job waits 60 s "
      "so a test can kill the daemon there; never set it in production" },
    ST_OPT_END,
};
