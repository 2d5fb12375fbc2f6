/* daemon.c — the life cycle every Strata daemon shares, so each main.c is a
 * descriptor and one call: options → config → log → auth → metrics → RADOS and
 * the metadata store → service init → HTTP → wait for SIGTERM/SIGINT → graceful stop. */
#include "strata/daemon.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "strata/auth.h"
#include "strata/bufpool.h"
#include "strata/ceph_cmd.h"
#include "strata/log.h"
#include "strata/meta.h"
#include "strata/metrics.h"
#include "strata/rados.h"
#include "strata/revoke.h"

#define HEALTH_CACHE_S 5

struct st_daemon {
    const struct st_daemon_desc *desc;
    char port_def[8];                  /* default of [<name>] port, as text */
    struct st_opt section_opts[5];     /* [<name>] bind, port, ceph_user, ceph_keyring */
    struct st_config *cfg;
    FILE *log_file;
    struct st_auth *auth;
    struct st_revoke *revoke;
    struct st_metrics *metrics;
    rados_t rados;
    rados_ioctx_t meta_ioctx;
    struct st_meta *meta;
    struct st_http_server *http;
    void *app;
    bool app_ready;
    char owner[160];
    char ceph_user[128];
    pthread_mutex_t health_lock;
    time_t health_checked;
    int health_result;
    bool health_mon; /* the failure was the monitors' */
};

const struct st_config *st_daemon_config(const struct st_daemon *d) { return d->cfg; }
rados_t st_daemon_rados(const struct st_daemon *d) { return d->rados; }
struct st_meta *st_daemon_meta(const struct st_daemon *d) { return d->meta; }
struct st_metrics *st_daemon_metrics(const struct st_daemon *d) { return d->metrics; }
const struct st_auth *st_daemon_auth(const struct st_daemon *d) { return d->auth; }
struct st_revoke *st_daemon_revoke(const struct st_daemon *d) { return d->revoke; }
rados_ioctx_t st_daemon_meta_ioctx(const struct st_daemon *d) { return d->meta_ioctx; }
const char *st_daemon_owner(const struct st_daemon *d) { return d->owner; }
const char *st_daemon_name(const struct st_daemon *d) { return d->desc->name; }
const char *st_daemon_ceph_user(const struct st_daemon *d) { return d->ceph_user; }

int st_daemon_public_url(const struct st_daemon *d, const char *configured, char *buf,
                         size_t len)
{
    const char *name = d->desc->name, *bind = st_config_str(d->cfg, name, "bind");
    char host[256];
    int n;

    if (configured && configured[0]) {
        size_t l = strlen(configured);
        while (l > 1 && configured[l - 1] == '/')
            l--;
        if (strncmp(configured, "http://", 7) != 0 && strncmp(configured, "https://", 8) != 0)
            return -EINVAL;
        n = snprintf(buf, len, "%.*s", (int)l, configured);
        return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
    }
    if (!bind || !bind[0])
        bind = st_config_str(d->cfg, "http", "bind");
    if (!bind || !bind[0] || strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "::") == 0) {
        if (gethostname(host, sizeof(host)) < 0)
            return -errno;
        host[sizeof(host) - 1] = '\0';
        bind = host;
    }
    n = snprintf(buf, len, strchr(bind, ':') ? "http://[%s]:%lld" : "http://%s:%lld", bind,
                 (long long)st_config_int(d->cfg, name, "port"));
    return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

static void usage(FILE *out, const char *name)
{
    fprintf(out,
            "usage: strata-%s [--config FILE] [--version] [--help]\n"
            "  --config FILE  configuration (default /etc/strata/strata.conf)\n",
            name);
}

/* The rows of the daemon's own section that every daemon has. */
static void section_table_init(struct st_daemon *d)
{
    const char *s = d->desc->name;
    char *pd = d->port_def;

    snprintf(pd, sizeof(d->port_def), "%u", (unsigned)d->desc->default_port);
    struct st_opt rows[] = {
        { s, "bind", ST_OPT_STR, "", false, 0, 0, NULL,
          "address to listen on (default [http] bind)" },
        { s, "port", ST_OPT_INT, pd, false, 1, 65535, NULL, "TCP port to listen on" },
        { s, "ceph_user", ST_OPT_STR, "", false, 0, 0, NULL,
          "cephx id of this daemon (default [ceph] user, then strata-<daemon>)" },
        { s, "ceph_keyring", ST_OPT_STR, "", false, 0, 0, NULL,
          "keyring of that user (default [ceph] keyring, then ceph.conf's)" },
        ST_OPT_END,
    };
    memcpy(d->section_opts, rows, sizeof(rows));
}

static int load_config(struct st_daemon *d, const char *path)
{
    const struct st_opt *tables[4] = { st_common_options, d->section_opts, NULL, NULL };
    char err[512] = "";

    if (d->desc->options)
        tables[2] = d->desc->options;
    int rc = st_config_load(path, tables, &d->cfg, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "strata-%s: %s\n", d->desc->name, err[0] ? err : strerror(-rc));
        return rc;
    }
    return 0;
}

static int setup_log(struct st_daemon *d)
{
    char name[64];
    enum st_log_level level = ST_LOG_INFO;
    const char *file = st_config_str(d->cfg, "log", "file");

    snprintf(name, sizeof(name), "strata-%s", d->desc->name);
    st_log_parse_level(st_config_str(d->cfg, "log", "level"), &level);
    st_log_init(name, level);
    if (file && file[0]) {
        d->log_file = fopen(file, "ae");
        if (!d->log_file) {
            int err = errno;
            fprintf(stderr, "%s: %s: [log] file = \"%s\": %s\n", name,
                    st_config_path(d->cfg), file, strerror(err));
            return -err;
        }
        setvbuf(d->log_file, NULL, _IOLBF, 0);
        st_log_set_stream(d->log_file);
    }
    return 0;
}

static int setup_auth(struct st_daemon *d)
{
    const char *key = st_config_str(d->cfg, "auth", "token_key");
    const char *admin = st_config_str(d->cfg, "auth", "admin_token");
    const char *path = st_config_path(d->cfg) ? st_config_path(d->cfg) : "(no config file)";

    if (!key || strlen(key) < 32) {
        st_error("%s: [auth] token_key: %s (it must be at least 32 characters, "
                 "the same secret on every daemon)", path, key && key[0] ? "too short" : "required but not set");
        return -EINVAL;
    }
    int rc = st_auth_create((const unsigned char *)key, strlen(key),
                            admin && admin[0] ? admin : NULL,
                            st_config_str(d->cfg, "auth", "admin_project_id"), &d->auth);
    if (rc < 0) {
        st_error("cannot set up token verification: %s", strerror(-rc));
        return rc;
    }
    const char *prev = st_config_str(d->cfg, "auth", "token_key_previous");
    if (prev && prev[0]) {
        rc = strlen(prev) < 32 ? -EINVAL : st_auth_add_key(d->auth, (const unsigned char *)prev,
                                                            strlen(prev));
        if (rc < 0)
            st_error("%s: [auth] token_key_previous: %s (at least 32 characters)", path,
                     strerror(-rc));
    }
    return rc;
}

static int setup_rados(struct st_daemon *d)
{
    const struct st_config *c = d->cfg;
    const char *user = st_config_str(c, d->desc->name, "ceph_user");
    const char *keyring = st_config_str(c, d->desc->name, "ceph_keyring");

    if (!user || !user[0])
        user = st_config_str(c, "ceph", "user");
    if (!user || !user[0])
        snprintf(d->ceph_user, sizeof(d->ceph_user), "strata-%s", d->desc->name);
    else
        snprintf(d->ceph_user, sizeof(d->ceph_user), "%s", user);
    if (!keyring || !keyring[0])
        keyring = st_config_str(c, "ceph", "keyring");

    struct st_rados_config rc_cfg = {
        .conf = st_config_str(c, "ceph", "conf"),
        .keyring = keyring,
        .user = d->ceph_user,
        .cluster = st_config_str(c, "ceph", "cluster"),
        .op_timeout_s = (unsigned)(st_config_duration_ms(c, "ceph", "op_timeout") / 1000),
        .connect_timeout_s = (unsigned)(st_config_duration_ms(c, "ceph", "connect_timeout") / 1000),
    };
    int rc = st_rados_connect(&rc_cfg, &d->rados);
    if (rc < 0)
        return rc;
    const char *pool = st_config_str(c, "ceph", "meta_pool");
    rc = st_rados_ioctx(d->rados, pool, &d->meta_ioctx);
    if (rc < 0) {
        st_error("metadata pool %s: %s ([ceph] meta_pool)", pool, strerror(-rc));
        return rc;
    }
    rc = st_meta_open(d->meta_ioctx, &d->meta);
    if (rc < 0) {
        st_error("metadata store: %s", strerror(-rc));
        return rc;
    }
    return st_revoke_create(d->meta_ioctx, st_config_duration_ms(c, "auth", "revocation_refresh"),
                            &d->revoke);
}

/* /healthz: the OSDs (the metadata pool's object) and the monitors (a
 * `version` command) answer, each within [ceph] op_timeout.  One probe at a
 * time, cached for a few seconds, so a probe storm cannot load the cluster and
 * no probe waits for a slow one: the others answer from the last result. */
static int health_probe(struct st_daemon *d, bool *mon)
{
    uint64_t size;
    time_t mtime;
    json_t *v = NULL;
    int rc = rados_stat(d->meta_ioctx, "strata.healthz", &size, &mtime);

    *mon = false;
    if (rc < 0 && rc != -ENOENT)
        return rc;
    rc = st_ceph_command_json(d->rados, false, "version", &v);
    json_decref(v);
    *mon = rc < 0;
    return rc;
}

static int health_check(void *arg, char *why, size_t whylen)
{
    struct st_daemon *d = arg;
    time_t now = time(NULL);
    bool mon;
    int rc;

    if (!d->meta_ioctx)
        return 0;
    if (pthread_mutex_trylock(&d->health_lock) == 0) {
        if (now - d->health_checked >= HEALTH_CACHE_S) {
            rc = health_probe(d, &mon);
            __atomic_store_n(&d->health_mon, mon, __ATOMIC_RELAXED);
            __atomic_store_n(&d->health_result, rc, __ATOMIC_RELAXED);
            d->health_checked = time(NULL);
        }
        pthread_mutex_unlock(&d->health_lock);
    }
    rc = __atomic_load_n(&d->health_result, __ATOMIC_RELAXED);
    mon = __atomic_load_n(&d->health_mon, __ATOMIC_RELAXED);
    if (rc < 0)
        snprintf(why, whylen, "%s: %s",
                 mon ? "Ceph monitors unreachable" : "Ceph OSDs unreachable (metadata pool)",
                 strerror(-rc));
    return rc;
}

static int setup_http(struct st_daemon *d)
{
    const struct st_config *c = d->cfg;
    const char *name = d->desc->name;
    const char *bind = st_config_str(c, name, "bind");
    struct st_http_config hc = {
        .bind_addr = bind && bind[0] ? bind : st_config_str(c, "http", "bind"),
        .port = (uint16_t)st_config_int(c, name, "port"),
        .threads = (unsigned)st_config_int(c, "http", "threads"),
        .max_json_body = (size_t)st_config_size(c, "http", "max_json_body"),
        .conn_timeout_s = (unsigned)(st_config_duration_ms(c, "http", "conn_timeout") / 1000),
        .stop_timeout_ms = (unsigned)st_config_duration_ms(c, "http", "stop_timeout"),
        .daemon_name = name,
        .keystone_faults = d->desc->keystone_faults,
        .max_connections = (unsigned)st_config_int(c, "http", "max_connections"),
        .max_conns_per_ip = (unsigned)st_config_int(c, "http", "max_connections_per_ip"),
        .header_timeout_ms = (unsigned)st_config_duration_ms(c, "http", "header_timeout"),
    };
    int rc = st_http_create(&hc, d->desc->routes, d->auth, d->metrics, &d->http);
    if (rc < 0) {
        st_error("cannot create the HTTP server: %s", strerror(-rc));
        return rc;
    }
    st_http_set_health(d->http, health_check, d);
    st_http_set_revoke(d->http, d->revoke);
    st_http_set_app(d->http, d->app);
    rc = st_http_start(d->http);
    if (rc == -EADDRINUSE)
        st_error("port %s:%u ([%s] port) is already in use", hc.bind_addr,
                 (unsigned)hc.port, name);
    else if (rc < 0)
        st_error("cannot listen on %s:%u: %s", hc.bind_addr, (unsigned)hc.port, strerror(-rc));
    return rc;
}

static void daemon_cleanup(struct st_daemon *d)
{
    if (d->http)
        st_http_stop(d->http);
    if (d->app_ready && d->desc->fini)
        d->desc->fini(d, d->app);
    st_http_destroy(d->http);
    st_revoke_destroy(d->revoke);
    st_meta_close(d->meta);
    if (d->meta_ioctx)
        rados_ioctx_destroy(d->meta_ioctx);
    if (d->rados)
        st_rados_shutdown(d->rados);
    st_metrics_destroy(d->metrics);
    st_auth_destroy(d->auth);
    st_config_destroy(d->cfg);
    pthread_mutex_destroy(&d->health_lock);
    if (d->log_file) {
        st_log_set_stream(stderr);
        fclose(d->log_file);
    }
}

/* A lease must outlive the slowest renewal (a read and a write, each bounded
 * by the op timeout), or a live owner could lose it to another. */
static int check_lease_ttl(const struct st_daemon *d)
{
    int64_t ttl = st_config_duration_ms(d->cfg, "lease", "ttl");
    int64_t op = st_config_duration_ms(d->cfg, "ceph", "op_timeout");

    if (ttl >= 3 * op)
        return 0;
    st_error("%s: [lease] ttl (%lld ms) must be at least 3 x [ceph] op_timeout (%lld ms)",
             st_config_path(d->cfg) ? st_config_path(d->cfg) : "(defaults)", (long long)ttl,
             (long long)op);
    return -EINVAL;
}

static int parse_args(const char *name, int argc, char **argv, const char **config)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;

    *config = "/etc/strata/strata.conf";
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:Vh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            *config = optarg;
            break;
        case 'V':
            printf("strata-%s %s\n", name, STRATA_VERSION);
            return 1;
        case 'h':
            usage(stdout, name);
            return 1;
        default:
            usage(stderr, name);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "strata-%s: unexpected argument '%s'\n", name, argv[optind]);
        usage(stderr, name);
        return -EINVAL;
    }
    return 0;
}

int st_daemon_main(const struct st_daemon_desc *desc, int argc, char **argv)
{
    struct st_daemon d = { .desc = desc };
    const char *config_path;
    sigset_t sigs;
    int sig = 0, rc;

    rc = parse_args(desc->name, argc, argv, &config_path);
    if (rc != 0)
        return rc > 0 ? 0 : 2;

    /* Signals are taken by sigwait below: block them before any thread starts
     * so every thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    st_malloc_tune();   /* before any thread: a few malloc arenas, not 8 per core */
    pthread_mutex_init(&d.health_lock, NULL);
    section_table_init(&d);
    st_log_init(desc->name, ST_LOG_INFO);   /* so config warnings carry the name */

    if ((rc = load_config(&d, config_path)) < 0 || (rc = setup_log(&d)) < 0)
        goto out;
    st_info("starting strata-%s %s with %s", desc->name, STRATA_VERSION, config_path);
    const char *node = st_config_str(d.cfg, "node", "name");
    char host[64] = "localhost";
    if (!node || !node[0]) {
        gethostname(host, sizeof(host) - 1);
        node = host;
    }
    /* Lease owners are "<node>:<daemon>:<port>/<incarnation>": unique per
     * instance on a host and stable across its restarts, so a restarted
     * instance takes over its own dead leases at once and never another's. */
    char instance[128];
    snprintf(instance, sizeof(instance), "%s:%s:%lld", node, desc->name,
             (long long)st_config_int(d.cfg, desc->name, "port"));
    if ((rc = check_lease_ttl(&d)) < 0 ||
        (rc = st_lease_owner_new(instance, d.owner, sizeof(d.owner))) < 0 ||
        (rc = setup_auth(&d)) < 0 || (rc = st_metrics_create(&d.metrics)) < 0)
        goto out;
    if (desc->needs_rados && (rc = setup_rados(&d)) < 0)
        goto out;
    if (desc->init) {
        rc = desc->init(&d, &d.app);
        if (rc < 0) {
            st_error("strata-%s: service initialisation failed: %s", desc->name, strerror(-rc));
            goto out;
        }
        d.app_ready = true;
    }
    if ((rc = setup_http(&d)) < 0)
        goto out;

    while (sigwait(&sigs, &sig) != 0)
        ;
    st_info("received %s: finishing in-flight requests, then stopping",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
out:
    daemon_cleanup(&d);
    if (rc == 0)
        st_info("strata-%s stopped", desc->name);
    return rc < 0 ? 1 : 0;
}
