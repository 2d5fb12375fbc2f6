/* http_internal.h — private to http_server.c, http_route.c, http_reply.c and http_request.c:
 * the server and request structures and the helpers those three files share.
 * Nothing outside common/http_*.c includes this. */
#ifndef STRATA_HTTP_INTERNAL_H
#define STRATA_HTTP_INTERNAL_H

#include "strata/http.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define ST_HTTP_MAX_PARAMS 8  /* {params} per route pattern */
#define ST_HTTP_REQ_ID_LEN 40 /* "req-" + 36-char uuid */
#define ST_HTTP_ALLOW_MAX 128 /* "GET, PUT, ..." for 405 replies */

struct st_counter;
struct st_http_limits;
struct st_histogram;

/* A decoded name/value pair (path parameter, query argument, reply header). */
struct st_kv {
    char *name;
    char *value;
};

struct st_http_server {
    struct st_http_config cfg; /* bind_addr and daemon_name point at our copies */
    char *bind_addr;
    char *daemon_name;
    const struct st_route **tables; /* caller's tables + the built-in one, NULL-terminated */
    const struct st_auth *auth;
    struct st_revoke *revoke;
    struct st_metrics *metrics;
    struct st_counter *m_requests;
    struct st_histogram *m_duration;
    st_health_fn health;
    void *health_arg;
    void *app;
    struct st_http_limits *limits;
    struct MHD_Daemon *mhd;
    int listen_fd;
    uint16_t port;
    atomic_uint inflight;
};

struct st_req {
    struct st_http_server *srv;
    struct MHD_Connection *conn;
    const struct st_route *route; /* NULL when routing failed */
    const char *method;           /* MHD's strings, valid for the request */
    const char *path;             /* as sent (percent-encoded), no query */
    char id[ST_HTTP_REQ_ID_LEN + 1];
    struct timespec start;

    struct st_kv params[ST_HTTP_MAX_PARAMS];
    size_t nparams;
    struct st_kv *query;
    size_t nquery;

    bool authed;
    struct st_auth_ctx auth;
    int64_t content_length; /* -1: none declared */
    bool has_body;          /* Content-Length > 0 or chunked */
    bool ready;             /* passed the headers stage: run the handler */

    char *body; /* buffered routes; NUL-terminated */
    size_t body_len;
    size_t body_cap;
    bool discard; /* drop the rest of the body */

    void *stream_ctx;
    bool stream_open; /* begin returned 0, end not called yet */

    struct st_kv *reply_hdrs; /* st_reply_header, applied by the reply */
    size_t nreply_hdrs;
    struct MHD_Response *resp; /* built, not yet queued */
    unsigned status;           /* 0 until a reply exists */
    bool queued;

    uint64_t bytes_in;
    uint64_t bytes_out;
};

/* ---- http_route.c ---- */
struct st_route_match {
    const struct st_route *route;
    struct st_kv params[ST_HTTP_MAX_PARAMS]; /* decoded, malloc'd */
    size_t nparams;
    char allow[ST_HTTP_ALLOW_MAX]; /* for -EOPNOTSUPP (405) */
};

/* 0 if the pattern is well formed ("/a/{b}/c", params whole segments). */
int st_route_validate(const struct st_route *r);
/* Find the route for method + raw path.  0: m->route and params set (the
 * caller frees params with st_kv_free_all); -ENOENT: no route has this path;
 * -EOPNOTSUPP: the path exists for other methods (m->allow lists them);
 * -EINVAL: bad percent-encoding in a parameter; -ENOMEM. */
int st_route_find(const struct st_route *const *tables, const char *method, const char *path,
                  struct st_route_match *m);
/* Percent-decode s[0..len) into a new string (plus_space: '+' is ' ').
 * -EINVAL for "%00" (would truncate), -ENOMEM. */
int st_url_decode(const char *s, size_t len, bool plus_space, char **out);
void st_kv_free_all(struct st_kv *kv, size_t n);

/* ---- http_reply.c ---- */
/* Make sure the request has a reply after a handler/stream callback returned
 * rc: an error reply for rc < 0, a logged 500 for a silent success. */
void st_req_ensure_reply(struct st_req *r, int rc);
/* Release the reply (headers and built response) if it was never queued. */
void st_req_reply_release(struct st_req *r);

#endif
