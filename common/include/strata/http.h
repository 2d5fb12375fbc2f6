/* http.h — the HTTP server every daemon uses, on libmicrohttpd.
 * A const route table (method + path pattern with {params}) maps requests to
 * handlers; the server authenticates, limits and parses JSON bodies, streams
 * large bodies in and out, counts requests, and stops gracefully. */
#ifndef STRATA_HTTP_H
#define STRATA_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "strata/auth.h"

struct st_http_server;
struct st_req;
struct st_metrics;

/* Route flags.  They are each API's policy table: a route without a level
 * flag needs the reader role (admin and member imply it) for GET and HEAD and
 * the member role for every other method, from a project-scoped token; a
 * caller short of the level gets 403.  Which project's resources a caller may
 * touch is the service's business (another project's are 404). */
#define ST_ROUTE_PUBLIC      0x1u  /* no token needed (/healthz, /metrics, version documents) */
#define ST_ROUTE_ADMIN       0x2u  /* token must carry role admin: 403 otherwise */
#define ST_ROUTE_STREAM_BODY 0x4u  /* body is delivered to route->stream, not buffered */
#define ST_ROUTE_READER      0x8u  /* a non-GET that only reads: the reader role suffices */
#define ST_ROUTE_ANY_TOKEN   0x10u /* any valid token, scoped or not, any role: the
                                    * handler decides (identity's own APIs) */

/* A handler answers a complete request: it must call exactly one st_reply_*
 * function (or return a negative errno, which becomes an error reply mapped by
 * st_errno_to_http()).  It runs on a server pool thread and may block on I/O. */
typedef int (*st_handler_fn)(struct st_req *req);

/* Streaming request bodies (uploads of many GiB): begin is called once after
 * the headers (auth already checked) and may reply early to refuse (then
 * returns a negative errno or replies itself); data is called for each chunk
 * as it arrives (blocking in it applies back-pressure to the client); end is
 * called once with err = 0 after the last chunk, or with a negative errno when
 * the client went away / data failed, and must reply (when err == 0).
 * Whatever begin stored with st_req_set_stream_ctx is the caller's to free in end. */
struct st_stream_ops {
    int (*begin)(struct st_req *req);
    int (*data)(struct st_req *req, const char *buf, size_t len);
    int (*end)(struct st_req *req, int err);
};

struct st_route {
    const char *method;    /* "GET", "POST", ... */
    const char *pattern;   /* "/v2/images/{id}/file": {name} matches one segment */
    st_handler_fn handler; /* used unless ST_ROUTE_STREAM_BODY */
    unsigned flags;
    const struct st_stream_ops *stream;
    const char *name;      /* metrics label; defaults to pattern */
};
#define ST_ROUTE_END { NULL, NULL, NULL, 0, NULL, NULL }

struct st_http_config {
    const char *bind_addr;      /* "127.0.0.1" */
    uint16_t port;              /* 0 = any free port (see st_http_port) */
    unsigned threads;           /* pool size */
    size_t max_json_body;       /* buffered bodies past this get 413 */
    unsigned conn_timeout_s;    /* idle connection timeout */
    unsigned stop_timeout_ms;   /* graceful stop waits this long for in-flight requests */
    const char *daemon_name;    /* for metrics/healthz */
    bool keystone_faults;       /* errors as {"error": {code, message, title}} */
    unsigned max_connections;   /* open at once; 0 = sized from RLIMIT_NOFILE */
    unsigned max_conns_per_ip;  /* per client address; 0 = no limit */
    unsigned header_timeout_ms; /* a complete request head within this; 0 = none */
};

/* Optional health probe for /healthz: return 0 when healthy, or a negative
 * errno and a short reason in `why` (503 is answered). */
typedef int (*st_health_fn)(void *arg, char *why, size_t whylen);

/* routes: NULL-terminated tables (each ending with ST_ROUTE_END); the server
 * adds GET /healthz and GET /metrics itself.  auth may be NULL only in tests
 * (then every route is public).  metrics may be NULL.  Nothing is listened on
 * until st_http_start.  -EADDRINUSE from start names a taken port. */
int st_http_create(const struct st_http_config *cfg, const struct st_route *const *routes,
                   const struct st_auth *auth, struct st_metrics *metrics,
                   struct st_http_server **out);
void st_http_set_health(struct st_http_server *s, st_health_fn fn, void *arg);
struct st_revoke;
/* Refuse tokens that this revocation list names (401).  rv is borrowed. */
void st_http_set_revoke(struct st_http_server *s, struct st_revoke *rv);
/* Opaque pointer handlers reach with st_req_app(). */
void st_http_set_app(struct st_http_server *s, void *app);
int st_http_start(struct st_http_server *s);
uint16_t st_http_port(const struct st_http_server *s);
/* Stop accepting, wait up to stop_timeout_ms for in-flight requests, close. */
void st_http_stop(struct st_http_server *s);
void st_http_destroy(struct st_http_server *s);
/* In-flight request count (for tests and graceful stop). */
unsigned st_http_inflight(const struct st_http_server *s);

/* ---- the request, inside a handler ---- */
const char *st_req_method(const struct st_req *r);
const char *st_req_path(const struct st_req *r);
/* Named path parameter ({id}), URL-decoded; NULL if absent. */
const char *st_req_param(const struct st_req *r, const char *name);
/* Query-string argument, decoded; NULL if absent (the first if repeated). */
const char *st_req_query(const struct st_req *r, const char *name);
/* The nth (from 0) occurrence of a repeated argument (?tag=a&tag=b); NULL past the last. */
const char *st_req_query_nth(const struct st_req *r, const char *name, size_t nth);
/* Request header (case-insensitive); NULL if absent. */
const char *st_req_header(const struct st_req *r, const char *name);
const char *st_req_id(const struct st_req *r);
/* The caller (always set on non-public routes). */
const struct st_auth_ctx *st_req_auth(const struct st_req *r);
/* Check a token the way the server checks X-Auth-Token (signature, expiry,
 * revocation): 0 and *ctx, -EACCES, -EKEYEXPIRED or -EKEYREVOKED. */
int st_req_check_token(const struct st_req *r, const char *token, struct st_auth_ctx *ctx);
void *st_req_app(const struct st_req *r);
/* Declared Content-Length, or -1 if none (chunked). */
int64_t st_req_content_length(const struct st_req *r);

/* Buffered body (non-streaming routes), NUL-terminated; len 0 if none. */
const char *st_req_body(const struct st_req *r, size_t *len);
/* Parse the body as a JSON object.  On failure replies 400 with a message
 * naming the JSON error and returns -EINVAL (the handler just returns it). */
int st_req_json(struct st_req *r, json_t **out);

void st_req_set_stream_ctx(struct st_req *r, void *ctx);
void *st_req_stream_ctx(const struct st_req *r);

/* ---- replies (exactly one per request) ---- */
/* Add a header to the reply about to be sent (copied). */
int st_reply_header(struct st_req *r, const char *name, const char *value);
/* Steals `body` (json_decref'd).  body NULL = no content. */
int st_reply_json(struct st_req *r, unsigned status, json_t *body);
int st_reply_text(struct st_req *r, unsigned status, const char *content_type,
                  const char *text, size_t len);
/* OpenStack-style fault body: {"<faultName>": {"code": N, "message": "..."}}. */
int st_reply_error(struct st_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A failed call's answer, once for every API: the service's message when it
 * wrote one (status from rc), else for -ENOENT "<what> <id> could not be
 * found." (Cinder's, Nova's and Keystone's text) when what is given, else
 * nothing: the common layer answers rc's generic text.  Returns rc. */
int st_reply_fail(struct st_req *r, int rc, const char *msg, const char *what, const char *id);
/* Streaming response: reader fills buf with up to max bytes at `pos` and
 * returns the count, 0 at end of stream, or a negative errno to abort.
 * size < 0 = unknown (chunked).  free_fn(ctx) runs when the response is done. */
typedef ssize_t (*st_reader_fn)(void *ctx, uint64_t pos, char *buf, size_t max);
int st_reply_stream(struct st_req *r, unsigned status, const char *content_type,
                    int64_t size, st_reader_fn reader, void *ctx, void (*free_fn)(void *));

/* ---- errors: the one place errno becomes an HTTP status ---- */
unsigned st_errno_to_http(int err);
/* "badRequest", "itemNotFound", "overLimit", ... for a status. */
const char *st_http_fault_name(unsigned status);
/* "Bad Request", "Not Found", ... (Keystone's error titles). */
const char *st_http_status_title(unsigned status);

#endif
