/* options.c — the configuration options every Strata daemon understands.
 * One row per directive: the same table validates strata.conf, supplies the
 * defaults and is what etc/strata.conf.sample documents (a unit test checks). */
#include "strata/config.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define KIB 1024LL
#define MIB (1024 * KIB)

static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };

/* Sections of Strata daemons: one strata.conf serves all of them, so a daemon
 * stays silent about the sections of the others. */
const char *const st_config_known_sections[] = {
    "imaged", "blockd", "scheduler", "computed", "identity", "qos", "backup", "testd", NULL,
};

const struct st_opt st_common_options[] = {
    /* section, key, type, default, required, min, max, choices, help */
    { "ceph", "conf", ST_OPT_STR, "/etc/ceph/ceph.conf", false, 0, 0, NULL,
      "Path of the Ceph configuration file" },
    { "ceph", "keyring", ST_OPT_STR, "", false, 0, 0, NULL,
      "Keyring of the daemon's cephx user (empty = the keyring named in ceph.conf)" },
    { "ceph", "user", ST_OPT_STR, "", false, 0, 0, NULL,
      "cephx id without \"client.\" (empty = strata-<daemon>)" },
    { "ceph", "cluster", ST_OPT_STR, "ceph", false, 0, 0, NULL, "Ceph cluster name" },
    { "ceph", "op_timeout", ST_OPT_DURATION, "30s", false, 1 * SEC, 600 * SEC, NULL,
      "Timeout of every RADOS/RBD operation (1s..600s)" },
    { "ceph", "connect_timeout", ST_OPT_DURATION, "30s", false, 1 * SEC, 600 * SEC, NULL,
      "Timeout to connect to the monitors (1s..600s)" },
    { "ceph", "meta_pool", ST_OPT_STR, "strata.meta", false, 0, 0, NULL,
      "Pool holding Strata's metadata objects" },
    { "ceph", "images_pool", ST_OPT_STR, "strata.images", false, 0, 0, NULL,
      "RBD pool of Glance images" },
    { "ceph", "volumes_pool", ST_OPT_STR, "strata.volumes", false, 0, 0, NULL,
      "RBD pool of Cinder volumes" },
    { "ceph", "vms_pool", ST_OPT_STR, "strata.vms", false, 0, 0, NULL,
      "RBD pool of ephemeral instance disks" },
    { "ceph", "backups_pool", ST_OPT_STR, "strata.backups", false, 0, 0, NULL,
      "RBD pool of volume backups" },

    { "log", "level", ST_OPT_ENUM, "info", false, 0, 0, log_levels,
      "Lowest level logged: debug, info, warn or error" },
    { "log", "file", ST_OPT_STR, "", false, 0, 0, NULL, "Log file (empty = stderr)" },

    { "auth", "token_key", ST_OPT_STR, NULL, false, 0, 0, NULL,
      "HMAC key shared by all daemons to sign and check tokens (at least 32 characters)" },
    { "auth", "admin_token", ST_OPT_STR, "", false, 0, 0, NULL,
      "Bootstrap admin token (empty = disabled)" },
    { "auth", "admin_project_id", ST_OPT_STR, "admin", false, 0, 0, NULL,
      "Project of the bootstrap admin token" },
    { "auth", "token_ttl", ST_OPT_DURATION, "24h", false, 1 * MIN, 30 * DAY, NULL,
      "Lifetime of issued tokens (1m..30d)" },
    { "auth", "token_key_previous", ST_OPT_STR, "", false, 0, 0, NULL,
      "Key rotation: the previous token_key, still accepted (never used to sign) until the "
      "tokens it signed expire; remove it one token_ttl after the rotation" },
    { "auth", "revocation_refresh", ST_OPT_DURATION, "5s", false, 1 * SEC, 5 * MIN, NULL,
      "Longest time between reloads of the token revocation list (1s..5m); a revocation "
      "also reaches every daemon at once through a RADOS watch" },

    { "http", "bind", ST_OPT_STR, "127.0.0.1", false, 0, 0, NULL,
      "Address the HTTP servers listen on" },
    { "http", "threads", ST_OPT_INT, "16", false, 1, 1024, NULL,
      "Request threads per daemon (1..1024)" },
    { "http", "max_json_body", ST_OPT_SIZE, "1M", false, 1 * KIB, 64 * MIB, NULL,
      "Largest JSON request body accepted (1K..64M)" },
    { "http", "conn_timeout", ST_OPT_DURATION, "60s", false, 1 * SEC, 1 * HOUR, NULL,
      "Idle connection timeout (1s..1h)" },
    { "http", "stop_timeout", ST_OPT_DURATION, "30s", false, 0, 10 * MIN, NULL,
      "How long a stopping daemon waits for requests in flight (0..10m)" },
    { "http", "max_connections", ST_OPT_INT, "0", false, 0, 1 << 20, NULL,
      "Connections a daemon keeps open at once; more wait for a free slot (0 = sized from "
      "the file-descriptor limit, which start raises to its hard limit: all of it but a "
      "quarter, at least 256, kept for Ceph and files; at most 65536; a larger value is lowered to what the descriptors allow)" },
    { "http", "max_connections_per_ip", ST_OPT_INT, "256", false, 0, 1 << 20, NULL,
      "Connections one client address may hold open at once; more are closed at once "
      "(0 = no limit, e.g. behind a proxy that is the only client)" },
    { "http", "header_timeout", ST_OPT_DURATION, "30s", false, 1 * SEC, 1 * HOUR, NULL,
      "Time a client has to send a complete request head, counted from its connect or the "
      "end of its previous request, in total (sending slowly does not extend it, unlike "
      "conn_timeout); then the connection is closed (1s..1h)" },

    { "node", "name", ST_OPT_STR, "", false, 0, 0, NULL, "Name of this node (empty = hostname)" },
    { "node", "zone", ST_OPT_STR, "nova", false, 0, 0, NULL, "Availability zone of this node" },

    { "lease", "ttl", ST_OPT_DURATION, "90s", false, 3 * SEC, 1 * HOUR, NULL,
      "Lifetime of an operation lease unless renewed (3s..1h; at least 3 x [ceph] op_timeout)" },

    ST_OPT_END,
};
