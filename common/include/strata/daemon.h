/* daemon.h — the shared life cycle of every Strata daemon, so each main.c is short:
 * parse --config, load and validate config, set up logging, auth, metrics,
 * RADOS + metadata store, serve HTTP, stop gracefully on SIGTERM/SIGINT. */
#ifndef STRATA_DAEMON_H
#define STRATA_DAEMON_H

#include <rados/librados.h>
#include <stdbool.h>
#include <stdint.h>

#include "strata/config.h"
#include "strata/http.h"

struct st_daemon;
struct st_meta;
struct st_metrics;
struct st_auth;

struct st_daemon_desc {
    const char *name;                    /* "imaged": section name, log name "strata-imaged" */
    uint16_t default_port;
    const struct st_opt *options;        /* the daemon's own table (may be NULL) */
    const struct st_route *const *routes;/* NULL-terminated list of route tables */
    bool needs_rados;                    /* connect to Ceph and open the metadata store
                                          * (and mirror the token revocation list) */
    bool keystone_faults;                /* error bodies in Keystone's shape */
    /* Called after config, logging, RADOS and the store are ready and before
     * the server listens: build the service state, return it in *app.
     * A negative errno stops the daemon with exit code 1. */
    int (*init)(struct st_daemon *d, void **app);
    /* Called after the server stopped (no request in flight). */
    void (*fini)(struct st_daemon *d, void *app);
};

/* Run the daemon; returns the process exit code (0 after a graceful stop,
 * 1 on a start-up error, 2 on bad usage). */
int st_daemon_main(const struct st_daemon_desc *desc, int argc, char **argv);

const struct st_config *st_daemon_config(const struct st_daemon *d);
rados_t st_daemon_rados(const struct st_daemon *d);
struct st_meta *st_daemon_meta(const struct st_daemon *d);
/* The metadata pool's I/O context (NULL without RADOS). */
rados_ioctx_t st_daemon_meta_ioctx(const struct st_daemon *d);
struct st_metrics *st_daemon_metrics(const struct st_daemon *d);
const struct st_auth *st_daemon_auth(const struct st_daemon *d);
/* The revocation list mirror (NULL without RADOS). */
struct st_revoke *st_daemon_revoke(const struct st_daemon *d);
/* This process's lease owner id ("<node>/<incarnation>"). */
const char *st_daemon_owner(const struct st_daemon *d);
const char *st_daemon_name(const struct st_daemon *d);
/* The cephx id this daemon connected as (without "client."). */
const char *st_daemon_ceph_user(const struct st_daemon *d);
/* The URL clients reach this daemon at, for links and version documents
 * (never the request's Host header): `configured` (e.g. [blockd] public_url)
 * without a trailing '/', or when empty "http://<bind>:<port>" of its own
 * section (this host's name when it binds every address).  -ENOSPC, -EINVAL. */
int st_daemon_public_url(const struct st_daemon *d, const char *configured, char *buf,
                         size_t len);

#endif
