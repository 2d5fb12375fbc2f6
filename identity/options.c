/* options.c — the [identity] options: one row per directive (type, default,
 * bounds, help); validated at start and documented in etc/strata.conf.sample.
 * The catalog's endpoints are options too: the catalog is configuration. */
#include "options.h"

#define SEC 1000LL

const struct st_opt identity_options[] = {
    { "identity", "public_url", ST_OPT_STR, "http://127.0.0.1:5000", false, 0, 0, NULL,
      "URL clients reach this service at (version documents, links, the catalog's identity entry)" },
    { "identity", "region", ST_OPT_STR, "RegionOne", false, 0, 0, NULL,
      "Region of every catalog endpoint" },
    { "identity", "compute_url", ST_OPT_STR, "http://127.0.0.1:8774/v2.1", false, 0, 0, NULL,
      "Catalog: compute endpoint (empty = not in the catalog)" },
    { "identity", "volume_url", ST_OPT_STR, "http://127.0.0.1:8776/v3/$(project_id)s", false, 0,
      0, NULL, "Catalog: block-storage/volumev3 endpoint; $(project_id)s becomes the token's project" },
    { "identity", "image_url", ST_OPT_STR, "http://127.0.0.1:9292", false, 0, 0, NULL,
      "Catalog: image endpoint (empty = not in the catalog)" },
    { "identity", "password_hash_rounds", ST_OPT_INT, "100000", false, 1000, 10000000, NULL,
      "PBKDF2-HMAC-SHA512 iterations for new password and secret hashes (1000..10000000)" },
    { "identity", "bootstrap_user", ST_OPT_STR, "admin", false, 0, 0, NULL,
      "Name of the admin user created at first start (in domain default)" },
    { "identity", "bootstrap_password", ST_OPT_STR, "", false, 0, 0, NULL,
      "Password of that user when it is created (empty = create no user); never changes an existing one" },
    { "identity", "bootstrap_project", ST_OPT_STR, "admin", false, 0, 0, NULL,
      "Name of the admin project ([auth] admin_project_id is its id)" },
    { "identity", "notify_timeout", ST_OPT_DURATION, "2s", false, 100, 30 * SEC, NULL,
      "How long a revocation waits for the other daemons to reload their lists" },
    ST_OPT_END,
};
