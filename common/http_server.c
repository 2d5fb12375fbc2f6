/* http_server.c — the HTTP server of every Strata daemon, on libmicrohttpd.
 * MHD runs an epoll thread pool (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
 * cfg->threads threads).  A request lives on the pool thread that owns its
 * connection: handlers and stream callbacks run there and MAY BLOCK (they do
 * RADOS I/O); a blocked callback stalls only that thread's connections, so
 * the pool is sized for the expected concurrency.
 *
 * Per request: headers → request id, route, auth, Content-Length limit and
 * stream->begin (a refusal here is queued at once so the body is never read);
 * body chunks → buffered up to max_json_body or handed to stream->data;
 * last call → handler / stream->end and the reply; completion (MHD's
 * NOTIFY_COMPLETED) → stream->end(-ECONNRESET) if the client vanished,
 * metrics, one access-log line, free.
 *
 * Dead clients: MHD 0.9.75 with epoll can miss a FIN that arrives together
 * with the last body bytes; such a request is only noticed when the
 * connection timeout fires (then stream->end(-ECONNRESET) runs), so keep
 * conn_timeout_s modest.  Callbacks may block past that timeout: the
 * connection's clock is restarted after each of them.
 *
 * Stream routes: end is called exactly once for every begin that returned 0:
 * with 0 after the body, or with a negative errno when data failed (or
 * replied), when begin replied while returning 0 (-ECANCELED), or when the
 * connection died (-ECONNRESET).  A begin that fails frees what it stored. */
#include "http_internal.h"
#include "http_limits.h"
#include "strata/log.h"
#include "strata/metrics.h"
#include "strata/revoke.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uuid/uuid.h>

#define CONN_MEMORY_LIMIT (256 * 1024) /* MHD read buffer => upload chunk size */
#define DEFAULT_MAX_BODY (1024 * 1024)
#define STOP_POLL_NS (5 * 1000 * 1000)
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define REQ_ID_HEADER "X-Openstack-Request-Id"
#define STATUS_CLIENT_GONE 499 /* no reply was sent (nginx's convention) */

static int handle_healthz(struct st_req *r);
static int handle_metrics(struct st_req *r);

static const struct st_route builtin_routes[] = {
    {"GET", "/healthz", handle_healthz, ST_ROUTE_PUBLIC, NULL, NULL},
    {"GET", "/metrics", handle_metrics, ST_ROUTE_PUBLIC, NULL, NULL},
    ST_ROUTE_END,
};

/* ---- small helpers ---- */

static double elapsed_s(const struct timespec *since)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static bool is_stream_route(const struct st_route *rt)
{
    return rt && (rt->flags & ST_ROUTE_STREAM_BODY);
}

/* ^req-[0-9a-f-]{36}$ */
static bool valid_req_id(const char *s)
{
    if (!s || strncmp(s, "req-", 4) != 0 || strlen(s) != ST_HTTP_REQ_ID_LEN)
        return false;
    for (s += 4; *s; s++) {
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || *s == '-'))
            return false;
    }
    return true;
}

static void req_pick_id(struct st_req *r)
{
    const char *given = st_req_header(r, REQ_ID_HEADER);
    uuid_t u;

    if (valid_req_id(given)) {
        memcpy(r->id, given, ST_HTTP_REQ_ID_LEN + 1);
        return;
    }
    uuid_generate_random(u);
    memcpy(r->id, "req-", 4);
    uuid_unparse_lower(u, r->id + 4);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    size_t n;

    vsnprintf(buf, sizeof(buf), fmt, ap);
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    st_http_limits_mhd_log(((struct st_http_server *)cls)->limits, buf);
}

/* Routing needs the raw path (a %2F inside a parameter is not a separator),
 * so MHD must not decode: parameters and query arguments are decoded here. */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

/* ---- request state ---- */

static struct st_req *req_new(struct st_http_server *s, struct MHD_Connection *conn,
                              const char *url, const char *method)
{
    struct st_req *r = calloc(1, sizeof(*r));
    const char *cl, *te;

    if (!r)
        return NULL;
    r->srv = s;
    r->conn = conn;
    r->method = method;
    r->path = url;
    r->content_length = -1;
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    req_pick_id(r);
    cl = st_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    te = st_req_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (cl)
        r->content_length = strtoll(cl, NULL, 10);
    r->has_body = r->content_length > 0 || (te && strcasestr(te, "chunked"));
    atomic_fetch_add(&s->inflight, 1);
    st_http_limits_head_done(s->limits, conn);
    return r;
}

static void req_free(struct st_req *r)
{
    st_kv_free_all(r->params, r->nparams);
    st_kv_free_all(r->query, r->nquery);
    free(r->query);
    free(r->body);
    st_req_reply_release(r);
    free(r);
}

/* Call stream->end once (if begin succeeded and end has not run yet). */
static int stream_close(struct st_req *r, int err)
{
    if (!r->stream_open)
        return err;
    r->stream_open = false;
    return r->route->stream->end(r, err);
}

/* Queue the built reply on MHD.  MHD_NO (close the connection) when there
 * is none, which only happens when even an error reply could not be made. */
static enum MHD_Result req_queue(struct st_req *r)
{
    enum MHD_Result ret;

    if (!r->resp)
        return MHD_NO;
    ret = MHD_queue_response(r->conn, r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    r->queued = ret == MHD_YES;
    if (ret != MHD_YES)
        st_error("%s %s: cannot queue the %u reply", r->method, r->path, r->status);
    return ret;
}

/* ---- headers stage ---- */

static int req_route(struct st_req *r)
{
    struct st_route_match m;
    int rc = st_route_find((const struct st_route *const *)r->srv->tables, r->method, r->path, &m);

    if (rc == 0) {
        r->route = m.route;
        memcpy(r->params, m.params, sizeof(m.params));
        r->nparams = m.nparams;
    } else if (rc == -ENOENT) {
        st_reply_error(r, 404, "The resource could not be found.");
    } else if (rc == -EOPNOTSUPP) {
        st_reply_header(r, "Allow", m.allow);
        st_reply_error(r, 405, "Method %s is not allowed for this resource.", r->method);
    } else if (rc == -EINVAL) {
        st_reply_error(r, 400, "Invalid percent-encoding in the path.");
    }
    return rc;
}

int st_req_check_token(const struct st_req *r, const char *token, struct st_auth_ctx *ctx)
{
    int rc;

    if (!r->srv->auth)
        return -EACCES;
    rc = st_auth_verify(r->srv->auth, token, (int64_t)time(NULL), ctx);
    if (rc == 0 && st_revoke_check(r->srv->revoke, ctx))
        rc = -EKEYREVOKED;
    return rc;
}

/* The route's policy (see the flags in http.h): 0, or a 401/403 reply. */
static int req_authorize(struct st_req *r)
{
    unsigned flags = r->route->flags;
    enum st_role_level need = ST_LEVEL_MEMBER;

    if (flags & ST_ROUTE_ANY_TOKEN)
        return 0;
    if (!r->auth.project_id[0]) {
        st_reply_error(r, 401, "This API needs a project-scoped token.");
        return -EACCES;
    }
    if (flags & ST_ROUTE_ADMIN)
        need = ST_LEVEL_ADMIN;
    else if ((flags & ST_ROUTE_READER) || strcmp(r->method, MHD_HTTP_METHOD_GET) == 0 ||
             strcmp(r->method, MHD_HTTP_METHOD_HEAD) == 0)
        need = ST_LEVEL_READER;
    if (st_auth_level(&r->auth) >= need)
        return 0;
    if (need == ST_LEVEL_ADMIN)
        st_reply_error(r, 403, "This action requires the admin role.");
    else
        st_reply_error(r, 403, "This action requires the %s role on the project.",
                       st_role_level_name(need));
    return -EPERM;
}

static int req_authenticate(struct st_req *r)
{
    const struct st_auth *auth = r->srv->auth;
    const char *token;
    int rc;

    if (!auth || (r->route->flags & ST_ROUTE_PUBLIC))
        return 0;
    token = st_req_header(r, "X-Auth-Token");
    if (!token || !*token) {
        st_reply_error(r, 401, "Authentication required: send an X-Auth-Token header.");
        return -EACCES;
    }
    rc = st_req_check_token(r, token, &r->auth);
    if (rc < 0) {
        const char *why = rc == -EKEYEXPIRED ? "expired" : rc == -EKEYREVOKED ? "revoked" : "invalid";
        st_info("%s %s: token rejected (%s)", r->method, r->path, why);
        st_reply_error(r, 401, "%s", rc == -EKEYEXPIRED ? "The token has expired." :
                       rc == -EKEYREVOKED ? "The token has been revoked." : "The token is not valid.");
        return -EACCES;
    }
    r->authed = true;
    return req_authorize(r);
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct st_req *r = cls;
    struct st_kv *kv = realloc(r->query, (r->nquery + 1) * sizeof(*kv));

    if (!kv)
        return MHD_NO;
    r->query = kv;
    kv = &kv[r->nquery];
    *kv = (struct st_kv){NULL, NULL};
    r->nquery++;
    if (!value)
        value = "";
    if (st_url_decode(key, strlen(key), true, &kv->name) < 0 ||
        st_url_decode(value, strlen(value), true, &kv->value) < 0)
        return MHD_NO;
    return MHD_YES;
}

/* MHD stops iterating at the pair that failed to decode (counting it), so
 * success is: every pair visited and the last one complete. */
static int req_parse_query(struct st_req *r)
{
    int n = MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL);

    if (MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_query, r) == n &&
        (r->nquery == 0 || r->query[r->nquery - 1].value))
        return 0;
    st_reply_error(r, 400, "Invalid query string.");
    return -EINVAL;
}

static int req_check_length(struct st_req *r)
{
    size_t max = r->srv->cfg.max_json_body;

    if (is_stream_route(r->route) || r->content_length <= (int64_t)max)
        return 0;
    st_reply_error(r, 413, "The request body (%lld bytes) exceeds the limit of %zu bytes.",
                   (long long)r->content_length, max);
    return -EFBIG;
}

static int req_stream_begin(struct st_req *r)
{
    int rc;

    if (!is_stream_route(r->route))
        return 0;
    rc = r->route->stream->begin(r);
    if (rc == 0) {
        r->stream_open = true;
        if (r->status) /* begin refused by replying */
            stream_close(r, -ECANCELED);
    }
    return rc;
}

static void req_headers(struct st_req *r)
{
    int rc = req_route(r);

    if (rc == 0)
        rc = req_authenticate(r);
    if (rc == 0)
        rc = req_parse_query(r);
    if (rc == 0)
        rc = req_check_length(r);
    if (rc == 0)
        rc = req_stream_begin(r);
    if (rc == 0 && !r->status)
        r->ready = true;
    else
        st_req_ensure_reply(r, rc < 0 ? rc : -ECANCELED);
}

/* ---- body stage ---- */

static bool body_ignored(const struct st_req *r)
{
    return strcmp(r->method, MHD_HTTP_METHOD_GET) == 0 ||
           strcmp(r->method, MHD_HTTP_METHOD_HEAD) == 0;
}

static int body_append(struct st_req *r, const char *data, size_t size)
{
    size_t need = r->body_len + size + 1, cap = r->body_cap;
    char *nb;

    if (need > cap) {
        cap = cap * 2 > need ? cap * 2 : need;
        if (cap < 4096)
            cap = 4096;
        if (cap > r->srv->cfg.max_json_body + 1)
            cap = r->srv->cfg.max_json_body + 1;
        nb = realloc(r->body, cap);
        if (!nb)
            return -ENOMEM;
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, size);
    r->body_len += size;
    r->body[r->body_len] = '\0';
    return 0;
}

static void req_body_buffered(struct st_req *r, const char *data, size_t size)
{
    size_t max = r->srv->cfg.max_json_body;

    if (body_ignored(r))
        return;
    if (r->body_len + size > max) {
        r->discard = true;
        st_reply_error(r, 413, "The request body exceeds the limit of %zu bytes.", max);
        return;
    }
    if (body_append(r, data, size) < 0) {
        r->discard = true;
        st_req_ensure_reply(r, -ENOMEM);
    }
}

static void req_body_stream(struct st_req *r, const char *data, size_t size)
{
    int rc = r->route->stream->data(r, data, size);

    if (rc == 0 && !r->status)
        return;
    /* data failed or replied: end may still pick the reply, the rest of the
     * body is read and dropped. */
    r->discard = true;
    rc = rc < 0 ? rc : -ECANCELED;
    stream_close(r, rc);
    st_req_ensure_reply(r, rc);
}

static void req_body(struct st_req *r, const char *data, size_t size)
{
    r->bytes_in += size;
    if (!r->ready || r->discard)
        return;
    if (is_stream_route(r->route))
        req_body_stream(r, data, size);
    else
        req_body_buffered(r, data, size);
}

/* MHD checks its idle timeout right after our callback returns, so a
 * callback that blocked longer than conn_timeout_s (a stalled RADOS write)
 * would get its connection closed.  Setting the timeout to 0 and back is
 * the public way to restart the connection's activity clock. */
static void conn_touch(const struct st_req *r)
{
    unsigned timeout = r->srv->cfg.conn_timeout_s;

    if (timeout == 0 || r->queued)
        return;
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, timeout);
}

/* ---- last call: run the handler ---- */

static enum MHD_Result req_finish(struct st_req *r)
{
    int rc = -EIO;

    if (r->queued)
        return MHD_YES;
    if (!r->status && r->ready) {
        if (is_stream_route(r->route))
            rc = stream_close(r, 0);
        else
            rc = r->route->handler(r);
    }
    st_req_ensure_reply(r, rc);
    return req_queue(r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct st_req *r = *con_cls;
    enum MHD_Result ret = MHD_YES;

    if (!r) {
        r = req_new(cls, conn, url, method);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        st_log_set_request_id(r->id);
        req_headers(r);
        /* A refusal goes out now, before any of the body is read. */
        if (r->status && r->has_body)
            ret = req_queue(r);
    } else {
        st_log_set_request_id(r->id);
        if (*upload_data_size > 0) {
            req_body(r, upload_data, *upload_data_size);
            *upload_data_size = 0;
        } else {
            ret = req_finish(r);
        }
    }
    conn_touch(r);
    st_log_set_request_id(NULL);
    return ret;
}

/* ---- completion: metrics, access log, free ---- */

static const char *method_label(const char *m)
{
    static const char *const known[] = {"GET",    "HEAD",  "POST",    "PUT",
                                        "DELETE", "PATCH", "OPTIONS", NULL};

    for (size_t i = 0; known[i]; i++) {
        if (strcmp(m, known[i]) == 0)
            return known[i];
    }
    return "OTHER";
}

static void req_account(struct st_req *r, enum MHD_RequestTerminationCode toe)
{
    struct st_http_server *s = r->srv;
    unsigned status = r->queued ? r->status : STATUS_CLIENT_GONE;
    double secs = elapsed_s(&r->start);
    const char *route =
        r->route ? (r->route->name ? r->route->name : r->route->pattern) : "unmatched";
    const char *method = method_label(r->method);
    char status_s[8];

    if (s->m_requests) {
        snprintf(status_s, sizeof(status_s), "%u", status);
        st_counter_add(s->m_requests, (const char *const[]){route, method, status_s}, 1);
        st_histogram_observe(s->m_duration, (const char *const[]){route, method}, secs);
    }
    st_info("%s %s %u in=%llu out=%llu %.1fms%s", r->method, r->path, status,
            (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out, secs * 1e3,
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection lost)");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct st_http_server *s = cls;
    struct st_req *r = *con_cls;

    st_http_limits_head_wait(s->limits, conn); /* the next request's head is due */
    if (!r)
        return;
    *con_cls = NULL;
    st_log_set_request_id(r->id);
    stream_close(r, -ECONNRESET);
    req_account(r, toe);
    req_free(r);
    st_log_set_request_id(NULL);
    atomic_fetch_sub(&s->inflight, 1);
}

/* ---- built-in routes ---- */

static int handle_healthz(struct st_req *r)
{
    const struct st_http_server *s = r->srv;
    char why[256] = "", buf[128];
    int rc = s->health ? s->health(s->health_arg, why, sizeof(why)) : 0;

    if (rc == 0)
        return st_reply_json(r, 200,
                             json_pack("{s:s,s:s}", "status", "ok", "daemon", s->daemon_name));
    return st_reply_json(r, 503,
                         json_pack("{s:s,s:s,s:s}", "status", "unhealthy", "daemon", s->daemon_name,
                                   "reason", why[0] ? why : strerror_r(-rc, buf, sizeof(buf))));
}

static int handle_metrics(struct st_req *r)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (!r->srv->metrics)
        return st_reply_error(r, 404, "Metrics are not enabled.");
    rc = st_metrics_render(r->srv->metrics, &text, &len);
    if (rc == 0)
        rc = st_reply_text(r, 200, PROM_CONTENT_TYPE, text, len);
    free(text);
    return rc;
}

/* ---- the server ---- */

static double inflight_gauge(void *arg)
{
    return (double)st_http_inflight(arg);
}

/* The registry must not outlive the server: the gauge reads it. */
static int server_metrics_init(struct st_http_server *s)
{
    static const char *const rms[] = {"route", "method", "status", NULL};
    static const char *const rm[] = {"route", "method", NULL};
    int rc;

    if (!s->metrics)
        return 0;
    rc = st_counter_register(s->metrics, "strata_http_requests_total",
                             "HTTP requests by route, method and status.", rms, &s->m_requests);
    if (rc == 0)
        rc = st_histogram_register(s->metrics, "strata_http_request_duration_seconds",
                                   "HTTP request duration by route and method.", rm, NULL, 0,
                                   &s->m_duration);
    if (rc == 0)
        rc = st_gauge_register(s->metrics, "strata_http_inflight_requests",
                               "HTTP requests being handled or replied to.", inflight_gauge, s);
    if (rc < 0) {
        st_error("cannot register the HTTP metrics: %s", strerror(-rc));
        s->m_requests = NULL;
    }
    return rc;
}

static int server_set_routes(struct st_http_server *s, const struct st_route *const *routes)
{
    size_t n = 0;

    while (routes && routes[n])
        n++;
    s->tables = calloc(n + 2, sizeof(*s->tables));
    if (!s->tables)
        return -ENOMEM;
    for (size_t t = 0; t < n; t++)
        s->tables[t] = routes[t];
    s->tables[n] = builtin_routes;
    for (size_t t = 0; t < n; t++) {
        for (const struct st_route *r = routes[t]; r->method; r++) {
            if (st_route_validate(r) < 0) {
                st_error("invalid route %s %s", r->method ? r->method : "?",
                         r->pattern ? r->pattern : "(null)");
                return -EINVAL;
            }
        }
    }
    return 0;
}

int st_http_create(const struct st_http_config *cfg, const struct st_route *const *routes,
                   const struct st_auth *auth, struct st_metrics *metrics,
                   struct st_http_server **out)
{
    struct st_http_server *s;
    int rc;

    if (!cfg || !out || !cfg->bind_addr || cfg->threads == 0)
        return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->cfg = *cfg;
    s->listen_fd = -1;
    s->auth = auth;
    s->metrics = metrics;
    atomic_init(&s->inflight, 0);
    if (s->cfg.max_json_body == 0)
        s->cfg.max_json_body = DEFAULT_MAX_BODY;
    s->bind_addr = strdup(cfg->bind_addr);
    s->daemon_name = strdup(cfg->daemon_name ? cfg->daemon_name : "strata");
    s->cfg.bind_addr = s->bind_addr;
    s->cfg.daemon_name = s->daemon_name;
    rc = s->bind_addr && s->daemon_name ? server_set_routes(s, routes) : -ENOMEM;
    if (rc == 0)
        rc = server_metrics_init(s);
    if (rc == 0)
        rc = st_http_limits_create(&(struct st_http_limits_config){cfg->max_connections,
                                                                   cfg->max_conns_per_ip,
                                                                   cfg->header_timeout_ms},
                                   &s->limits);
    if (rc < 0)
        st_http_destroy(s);
    else
        *out = s;
    return rc;
}

void st_http_set_health(struct st_http_server *s, st_health_fn fn, void *arg)
{
    s->health = fn;
    s->health_arg = arg;
}

void st_http_set_revoke(struct st_http_server *s, struct st_revoke *rv)
{
    s->revoke = rv;
}

void st_http_set_app(struct st_http_server *s, void *app)
{
    s->app = app;
}

/* Bind and listen ourselves, so that a taken port is reported as such. */
static int listen_socket(const struct st_http_server *s, int *out)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char port[8];
    int fd = -1, one = 1, rc = 0, gai;

    snprintf(port, sizeof(port), "%u", s->cfg.port);
    gai = getaddrinfo(s->bind_addr, port, &hints, &ai);
    if (gai != 0) {
        st_error("cannot resolve bind address %s: %s", s->bind_addr, gai_strerror(gai));
        return -EINVAL;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0)
        rc = -errno;
    if (rc == -EADDRINUSE)
        st_error("cannot listen on %s:%u: address already in use", s->bind_addr, s->cfg.port);
    else if (rc < 0)
        st_error("cannot listen on %s:%u: %s", s->bind_addr, s->cfg.port, strerror(-rc));
    if (rc < 0 && fd >= 0)
        close(fd);
    else if (rc == 0)
        *out = fd;
    freeaddrinfo(ai);
    return rc;
}

static uint16_t bound_port(struct MHD_Daemon *mhd, int fd)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (info && info->port)
        return info->port;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

static struct MHD_Daemon *mhd_start(struct st_http_server *s, int fd)
{
    /* MHD warns about a pool of one thread: leave the option out then. */
    struct MHD_OptionItem pool[] = {
        {s->cfg.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
         (intptr_t)s->cfg.threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };

    /* clang-format off */
    return MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_access, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,        /* first, or MHD logs on its own */
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_ARRAY, pool,
        MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.conn_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY_LIMIT,
        MHD_OPTION_CONNECTION_LIMIT, st_http_limits_max_connections(s->limits),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, st_http_limits_per_ip(s->limits),
        MHD_OPTION_NOTIFY_CONNECTION, st_http_limits_notify, s->limits,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, s,
        MHD_OPTION_END);
    /* clang-format on */
}

int st_http_start(struct st_http_server *s)
{
    int fd = -1, rc;

    if (s->mhd)
        return -EALREADY;
    rc = listen_socket(s, &fd);
    if (rc == 0 && !(s->mhd = mhd_start(s, fd))) {
        st_error("cannot start the HTTP daemon on %s:%u", s->bind_addr, s->cfg.port);
        rc = -EIO;
    }
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    s->listen_fd = fd;
    s->port = bound_port(s->mhd, fd);
    rc = st_http_limits_start(s->limits);
    if (rc < 0) {
        st_error("cannot start the HTTP connection reaper: %s", strerror(-rc));
        st_http_stop(s);
        return rc;
    }
    st_info("listening on %s:%u (%u threads; up to %u connections, %u per address; request "
            "heads within %u ms)", s->bind_addr, s->port, s->cfg.threads,
            st_http_limits_max_connections(s->limits), st_http_limits_per_ip(s->limits),
            s->cfg.header_timeout_ms);
    return 0;
}

uint16_t st_http_port(const struct st_http_server *s)
{
    return s->port;
}

unsigned st_http_inflight(const struct st_http_server *s)
{
    return atomic_load(&((struct st_http_server *)s)->inflight);
}

static void wait_inflight(const struct st_http_server *s)
{
    const struct timespec tick = {0, STOP_POLL_NS};
    struct timespec start;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (st_http_inflight(s) > 0 && elapsed_s(&start) * 1e3 < s->cfg.stop_timeout_ms)
        nanosleep(&tick, NULL);
}

void st_http_stop(struct st_http_server *s)
{
    MHD_socket fd;
    unsigned left;

    if (!s || !s->mhd)
        return;
    st_http_limits_stop(s->limits);
    fd = MHD_quiesce_daemon(s->mhd);
    if (fd == MHD_INVALID_SOCKET)
        s->listen_fd = -1; /* MHD still owns it and closes it on stop */
    else
        shutdown(fd, SHUT_RDWR); /* refuse new connections from now on */
    wait_inflight(s);
    left = st_http_inflight(s);
    if (left > 0)
        st_warn("closing %u requests still in flight after %u ms", left, s->cfg.stop_timeout_ms);
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    s->listen_fd = -1;
    st_info("HTTP server on %s:%u stopped", s->bind_addr, s->port);
}

void st_http_destroy(struct st_http_server *s)
{
    if (!s)
        return;
    st_http_stop(s);
    st_http_limits_destroy(s->limits);
    free(s->tables);
    free(s->bind_addr);
    free(s->daemon_name);
    free(s);
}
