/* options.c — the [blockd] options: one row per directive (type, default,
 * bounds, help); validated at start and documented in etc/strata.conf.sample. */
#include "options.h"

#define SEC 1000LL

const struct st_opt blockd_options[] = {
    { "blockd", "image_url", ST_OPT_STR, "http://127.0.0.1:9292", false, 0, 0, NULL,
      "strata-imaged endpoint, for volumes made from images (copy-on-write clones)" },
    { "blockd", "max_clone_depth", ST_OPT_INT, "5", false, 1, 64, NULL,
      "Clone chains deeper than this are flattened in the background" },
    { "blockd", "workers", ST_OPT_INT, "4", false, 1, 64, NULL,
      "Background workers (create, extend, delete, flatten)" },
    { "blockd", "reconcile_interval", ST_OPT_DURATION, "60s", false, 1 * SEC, 3600 * SEC, NULL,
      "How often interrupted operations, deferred deletes and orphans are reconciled" },
    { "blockd", "availability_zone", ST_OPT_STR, "nova", false, 0, 0, NULL,
      "Availability zone reported for volumes" },
    ST_OPT_END,
};
