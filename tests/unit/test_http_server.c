/* test_http_server.c — the HTTP server over real sockets (port 0, libcurl as
 * the client): routing, JSON limits, auth, request ids and the access log,
 * streamed uploads/downloads of GiBs in bounded memory, graceful stop,
 * /healthz and /metrics. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "strata/auth.h"
#include "strata/http.h"
#include "strata/log.h"
#include "strata/metrics.h"

#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)
#define MAX_JSON (64 * 1024)
/* Short, so that a client which vanished mid-upload is reaped quickly (MHD
 * may only notice it through the idle timeout) and a stalled stream
 * callback is shown to outlive it. */
#define CONN_TIMEOUT_S 2
#define PAT_LEN 1048583u /* prime-ish period: chunk edges never line up */

/* ---- test data: a pseudo-random block repeated with an odd period ---- */

static unsigned char g_pat[PAT_LEN];

static void pat_init(void)
{
    uint32_t x = 2463534242u;

    for (size_t i = 0; i < PAT_LEN; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        g_pat[i] = (unsigned char)x;
    }
}

static void pat_fill(uint64_t pos, char *buf, size_t n)
{
    while (n > 0) {
        size_t off = pos % PAT_LEN, k = PAT_LEN - off < n ? PAT_LEN - off : n;
        memcpy(buf, g_pat + off, k);
        buf += k;
        pos += k;
        n -= k;
    }
}

struct digest {
    EVP_MD_CTX *md;
    uint64_t n;
};

static void digest_init(struct digest *d)
{
    /* Also runs on server threads: no cmocka assertions here. */
    d->md = EVP_MD_CTX_new();
    d->n = 0;
    if (!d->md || EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) != 1)
        abort();
}

static void digest_update(struct digest *d, const void *buf, size_t len)
{
    EVP_DigestUpdate(d->md, buf, len);
    d->n += len;
}

/* Finish into 64 hex chars + NUL and free the context. */
static void digest_hex(struct digest *d, char hex[65])
{
    unsigned char md[32];
    unsigned int len = 0;

    EVP_DigestFinal_ex(d->md, md, &len);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    EVP_MD_CTX_free(d->md);
    d->md = NULL;
}

static void pattern_digest(uint64_t size, char hex[65])
{
    static char buf[1 << 20];
    struct digest d;

    digest_init(&d);
    for (uint64_t pos = 0; pos < size; pos += sizeof(buf)) {
        size_t n = size - pos < sizeof(buf) ? (size_t)(size - pos) : sizeof(buf);
        pat_fill(pos, buf, n);
        digest_update(&d, buf, n);
    }
    digest_hex(&d, hex);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* ---- handlers ---- */

static atomic_int g_begin_calls, g_data_calls, g_end_err;
static atomic_int g_health_fail;

static int h_named(struct st_req *r, const char *route)
{
    return st_reply_json(r, 200,
                         json_pack("{s:s,s:s,s:s?}", "route", route, "req_id", st_req_id(r),
                                   "log_id", st_log_request_id()));
}

static int h_root(struct st_req *r)
{
    return h_named(r, "root");
}

static int h_v2(struct st_req *r)
{
    return h_named(r, "v2");
}

static int h_v3(struct st_req *r)
{
    return h_named(r, "v3");
}

static int h_thing(struct st_req *r)
{
    return h_named(r, "thing");
}

static int h_detail(struct st_req *r)
{
    return h_named(r, "detail");
}

static int h_admin(struct st_req *r)
{
    return h_named(r, "admin");
}

static int h_fail(struct st_req *r)
{
    return -ENOENT;
}

static int h_silent(struct st_req *r)
{
    return 0;
}

static int h_params(struct st_req *r)
{
    return st_reply_json(r, 200,
                         json_pack("{s:s?,s:s?,s:s?,s:s?}", "id", st_req_param(r, "id"), "part",
                                   st_req_param(r, "part"), "q", st_req_query(r, "q"), "flag",
                                   st_req_query(r, "flag")));
}

static int h_echo(struct st_req *r)
{
    json_t *j = NULL;
    int rc = st_req_json(r, &j);

    if (rc < 0)
        return rc;
    return st_reply_json(r, 200, json_pack("{s:o}", "got", j));
}

static int h_bodylen(struct st_req *r)
{
    size_t len = 99;

    st_req_body(r, &len);
    return st_reply_json(r, 200, json_pack("{s:I}", "len", (json_int_t)len));
}

static int h_whoami(struct st_req *r)
{
    const struct st_auth_ctx *a = st_req_auth(r);
    json_t *roles;

    if (!a)
        return -EPERM; /* asserted by the test through the status */
    roles = json_array();
    for (int i = 0; i < a->nroles; i++)
        json_array_append_new(roles, json_string(a->roles[i]));
    return st_reply_json(r, 200,
                         json_pack("{s:s,s:s,s:o,s:b}", "user", a->user_id, "project",
                                   a->project_id, "roles", roles, "admin", a->is_admin));
}

static int h_slow(struct st_req *r)
{
    const char *ms = st_req_query(r, "ms");

    sleep_ms(ms ? (unsigned)atoi(ms) : 1000);
    return st_reply_json(r, 200, json_pack("{s:s}", "route", "slow"));
}

struct upload {
    struct digest d;
    uint64_t fail_at;
    unsigned stall_ms; /* the first data call blocks this long */
};

static int up_begin(struct st_req *r)
{
    const char *fail_at = st_req_query(r, "fail_at"), *stall = st_req_query(r, "stall_ms");
    struct upload *u;

    atomic_fetch_add(&g_begin_calls, 1);
    if (st_req_query(r, "refuse"))
        return -EEXIST;
    u = calloc(1, sizeof(*u));
    digest_init(&u->d);
    u->fail_at = fail_at ? strtoull(fail_at, NULL, 10) : 0;
    u->stall_ms = stall ? (unsigned)atoi(stall) : 0;
    st_req_set_stream_ctx(r, u);
    return 0;
}

static int up_data(struct st_req *r, const char *buf, size_t len)
{
    struct upload *u = st_req_stream_ctx(r);

    atomic_fetch_add(&g_data_calls, 1);
    if (u->stall_ms) {
        sleep_ms(u->stall_ms);
        u->stall_ms = 0;
    }
    digest_update(&u->d, buf, len);
    return u->fail_at && u->d.n >= u->fail_at ? -EDQUOT : 0;
}

static int up_end(struct st_req *r, int err)
{
    struct upload *u = st_req_stream_ctx(r);
    char hex[65];
    uint64_t n = u->d.n;
    int rc = 0;

    digest_hex(&u->d, hex);
    free(u);
    atomic_store(&g_end_err, err);
    if (err == 0)
        rc = st_reply_json(r, 201, json_pack("{s:I,s:s}", "bytes", (json_int_t)n, "sha256", hex));
    return rc;
}

static const struct st_stream_ops upload_ops = {up_begin, up_data, up_end};

static atomic_int g_dl_frees;

struct dl {
    uint64_t size;
    uint64_t fail_at; /* the reader fails at this offset (0: never) */
};

static ssize_t dl_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    const struct dl *d = ctx;
    size_t n = d->size - pos < max ? (size_t)(d->size - pos) : max;

    if (d->fail_at && pos >= d->fail_at)
        return -EIO;
    if (pos >= d->size)
        return 0;
    pat_fill(pos, buf, n);
    return (ssize_t)n;
}

static void dl_free(void *ctx)
{
    atomic_fetch_add(&g_dl_frees, 1);
    free(ctx);
}

static int h_download(struct st_req *r)
{
    const char *fail_at = st_req_query(r, "fail_at");
    struct dl *d = malloc(sizeof(*d));

    d->size = strtoull(st_req_query(r, "size"), NULL, 10);
    d->fail_at = fail_at ? strtoull(fail_at, NULL, 10) : 0;
    return st_reply_stream(r, 200, "application/octet-stream",
                           st_req_query(r, "known") ? (int64_t)d->size : -1, dl_read, d, dl_free);
}

static int health_probe(void *arg, char *why, size_t whylen)
{
    if (!atomic_load(&g_health_fail))
        return 0;
    snprintf(why, whylen, "rados unreachable");
    return -ENOTCONN;
}

#define PUB ST_ROUTE_PUBLIC
static const struct st_route test_routes[] = {
    {"GET", "/", h_root, PUB, NULL, NULL},
    {"GET", "/v2/", h_v2, PUB, NULL, NULL},
    {"GET", "/v3", h_v3, PUB, NULL, NULL},
    {"GET", "/things/{id}/parts/{part}", h_params, PUB, NULL, "parts"},
    {"GET", "/things/{id}", h_thing, PUB, NULL, NULL},
    {"PUT", "/things/{id}", h_thing, PUB, NULL, NULL},
    {"GET", "/things/detail", h_detail, PUB, NULL, NULL},
    {"POST", "/echo", h_echo, PUB, NULL, NULL},
    {"GET", "/bodylen", h_bodylen, PUB, NULL, NULL},
    {"GET", "/whoami", h_whoami, 0, NULL, NULL},
    {"GET", "/admin", h_admin, ST_ROUTE_ADMIN, NULL, NULL},
    {"GET", "/slow", h_slow, PUB, NULL, NULL},
    {"GET", "/fail", h_fail, PUB, NULL, NULL},
    {"GET", "/silent", h_silent, PUB, NULL, NULL},
    {"PUT", "/upload", NULL, PUB | ST_ROUTE_STREAM_BODY, &upload_ops, NULL},
    {"PUT", "/private-upload", NULL, ST_ROUTE_STREAM_BODY, &upload_ops, NULL},
    {"GET", "/download", h_download, PUB, NULL, NULL},
    ST_ROUTE_END,
};

/* ---- fixture: a server on a free port, with auth and metrics ---- */

struct fixture {
    struct st_auth *auth;
    struct st_metrics *metrics;
    struct st_http_server *srv;
    uint16_t port;
};

static int setup(void **state)
{
    static const unsigned char key[] = "0123456789abcdef0123456789abcdef-test-key";
    const struct st_route *const tables[] = {test_routes, NULL};
    const struct st_http_config cfg = {"127.0.0.1", 0, 4, MAX_JSON, CONN_TIMEOUT_S, 5000, "testd", false, 0, 0, 0};
    struct fixture *f = calloc(1, sizeof(*f));

    assert_int_equal(st_auth_create(key, sizeof(key) - 1, NULL, NULL, &f->auth), 0);
    assert_int_equal(st_metrics_create(&f->metrics), 0);
    assert_int_equal(st_http_create(&cfg, tables, f->auth, f->metrics, &f->srv), 0);
    st_http_set_health(f->srv, health_probe, NULL);
    assert_int_equal(st_http_start(f->srv), 0);
    f->port = st_http_port(f->srv);
    assert_int_not_equal(f->port, 0);
    atomic_store(&g_health_fail, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    st_http_destroy(f->srv);
    st_metrics_destroy(f->metrics);
    st_auth_destroy(f->auth);
    free(f);
    return 0;
}

static char *issue(const struct fixture *f, const char *role, int64_t expires_at)
{
    struct st_auth_ctx ctx = {.user_id = "u1", .project_id = "p1", .nroles = 1};
    char *tok = NULL;

    snprintf(ctx.roles[0], sizeof(ctx.roles[0]), "%s", role);
    assert_int_equal(st_auth_issue(f->auth, &ctx, expires_at, &tok), 0);
    return tok;
}

/* ---- the client side: one libcurl transfer ---- */

struct xfer {
    /* request */
    const char *method;
    const char *path;
    const char *headers[6];
    const char *body;  /* small body, or NULL */
    uint64_t upload;   /* bytes of pattern to upload (with upload_known) */
    bool upload_known; /* Content-Length, else chunked */
    uint64_t abort_at; /* fail the upload after this many bytes */
    bool hash_reply;   /* hash the reply body instead of keeping it */
    /* reply */
    CURLcode cc;
    long status;
    char *out;
    size_t out_len;
    struct digest sent, got;
    curl_off_t content_length;
    char req_id[64], allow[64], ctype[64];
};

static size_t x_write(char *p, size_t sz, size_t n, void *ud)
{
    struct xfer *x = ud;

    if (x->hash_reply) {
        digest_update(&x->got, p, sz * n);
        return sz * n;
    }
    x->out = realloc(x->out, x->out_len + sz * n + 1);
    memcpy(x->out + x->out_len, p, sz * n);
    x->out_len += sz * n;
    x->out[x->out_len] = '\0';
    return sz * n;
}

static size_t x_read(char *buf, size_t sz, size_t n, void *ud)
{
    struct xfer *x = ud;
    uint64_t left = x->upload - x->sent.n;
    size_t k = left < sz * n ? (size_t)left : sz * n;

    if (x->abort_at && x->sent.n >= x->abort_at)
        return CURL_READFUNC_ABORT;
    pat_fill(x->sent.n, buf, k);
    digest_update(&x->sent, buf, k);
    return k;
}

static void copy_header(CURL *h, const char *name, char *dst, size_t len)
{
    struct curl_header *hdr = NULL;

    dst[0] = '\0';
    if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK)
        snprintf(dst, len, "%s", hdr->value);
}

static void xfer_run(uint16_t port, struct xfer *x)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hl = NULL;
    char url[512];

    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, x->path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method ? x->method : "GET");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, x_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    for (size_t i = 0; i < 6 && x->headers[i]; i++)
        hl = curl_slist_append(hl, x->headers[i]);
    if (x->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->body));
    } else if (x->upload) {
        digest_init(&x->sent);
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, x_read);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        if (x->upload_known)
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->upload);
    }
    if (x->hash_reply)
        digest_init(&x->got);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    x->cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &x->content_length);
    copy_header(h, "X-Openstack-Request-Id", x->req_id, sizeof(x->req_id));
    copy_header(h, "Allow", x->allow, sizeof(x->allow));
    copy_header(h, "Content-Type", x->ctype, sizeof(x->ctype));
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
}

static void xfer_free(struct xfer *x)
{
    free(x->out);
    x->out = NULL;
    EVP_MD_CTX_free(x->sent.md);
    EVP_MD_CTX_free(x->got.md);
    x->sent.md = x->got.md = NULL;
}

/* GET/... path and return the parsed JSON reply; status checked. */
static json_t *call_json(const struct fixture *f, const char *method, const char *path,
                         const char *header, long want_status)
{
    struct xfer x = {.method = method, .path = path, .headers = {header}};
    json_t *j;

    xfer_run(f->port, &x);
    assert_int_equal(x.cc, CURLE_OK);
    assert_int_equal(x.status, want_status);
    assert_true(strncmp(x.req_id, "req-", 4) == 0);
    j = x.out ? json_loads(x.out, 0, NULL) : NULL;
    assert_non_null(j);
    xfer_free(&x);
    return j;
}

static void assert_jstr(const json_t *j, const char *key, const char *want)
{
    const char *got = json_string_value(json_object_get(j, key));

    assert_non_null(got);
    assert_string_equal(got, want);
}

static void assert_route(const struct fixture *f, const char *path, const char *want)
{
    json_t *j = call_json(f, "GET", path, NULL, 200);

    assert_jstr(j, "route", want);
    json_decref(j);
}

/* The fault body {"<name>": {"code": N, "message": "..."}}; returns message. */
static void assert_fault(const json_t *j, const char *name, int code, const char *msg_part)
{
    const json_t *fault = json_object_get(j, name);

    assert_non_null(fault);
    assert_int_equal(json_integer_value(json_object_get(fault, "code")), code);
    if (msg_part)
        assert_non_null(strstr(json_string_value(json_object_get(fault, "message")), msg_part));
}

/* Run x, expect an OpenStack fault reply; returns the bytes x uploaded. */
static uint64_t expect_fault(const struct fixture *f, struct xfer x, int code, const char *name,
                             const char *msg_part)
{
    uint64_t sent;
    json_t *j;

    xfer_run(f->port, &x);
    assert_int_equal(x.cc, CURLE_OK);
    assert_int_equal(x.status, code);
    assert_string_equal(x.ctype, "application/json");
    assert_true(strncmp(x.req_id, "req-", 4) == 0); /* on errors too */
    j = x.out ? json_loads(x.out, 0, NULL) : NULL;
    assert_non_null(j);
    assert_fault(j, name, code, msg_part);
    json_decref(j);
    sent = x.sent.n;
    xfer_free(&x);
    return sent;
}

static void assert_fault_reply(const struct fixture *f, const char *method, const char *path,
                               const char *header, int code, const char *name)
{
    expect_fault(f, (struct xfer){.method = method, .path = path, .headers = {header}}, code, name,
                 NULL);
}

/* ---- tests ---- */

static void test_routing(void **state)
{
    struct fixture *f = *state;
    struct xfer x = {.method = "DELETE", .path = "/things/x"};
    json_t *j;

    j = call_json(f, "GET", "/things/a%2Fb/parts/p%20q?q=hello+world%21&flag", NULL, 200);
    assert_jstr(j, "id", "a/b");
    assert_jstr(j, "part", "p q");
    assert_jstr(j, "q", "hello world!");
    assert_jstr(j, "flag", "");
    json_decref(j);
    j = call_json(f, "GET", "/things/100%2525/parts/a+b?q=100%2525%2B1", NULL, 200);
    assert_jstr(j, "id", "100%25"); /* decoded exactly once */
    assert_jstr(j, "part", "a+b");  /* '+' is literal in a path */
    assert_jstr(j, "q", "100%25+1");
    assert_null(json_object_get(j, "flag") ? json_string_value(json_object_get(j, "flag")) : NULL);
    json_decref(j);

    assert_route(f, "/things/detail", "detail"); /* literal beats {id} */
    assert_route(f, "/things/x", "thing");
    assert_route(f, "/things/x/", "thing");
    assert_route(f, "/v3", "v3");
    assert_route(f, "/v3/", "v3");
    assert_route(f, "/v2", "v2");
    assert_route(f, "/v2/", "v2");
    assert_route(f, "/", "root");

    xfer_run(f->port, &x);
    assert_int_equal(x.status, 405);
    assert_non_null(strstr(x.allow, "GET"));
    assert_non_null(strstr(x.allow, "PUT"));
    assert_non_null(strstr(x.out, "\"badMethod\""));
    assert_true(strncmp(x.req_id, "req-", 4) == 0);
    xfer_free(&x);

    assert_fault_reply(f, "GET", "/nope", NULL, 404, "itemNotFound");
    assert_fault_reply(f, "GET", "/things", NULL, 404, "itemNotFound");
    assert_fault_reply(f, "GET", "/things/a/parts", NULL, 404, "itemNotFound");
    assert_fault_reply(f, "GET", "/things/%00", NULL, 400, "badRequest");
    assert_fault_reply(f, "GET", "/fail", NULL, 404, "itemNotFound"); /* -ENOENT */
    assert_fault_reply(f, "GET", "/silent", NULL, 500, "internalServerError");
}

static void test_json_bodies(void **state)
{
    struct fixture *f = *state;
    static char big[MAX_JSON * 2];
    struct xfer x = {.method = "POST", .path = "/echo", .body = "{\"a\": 1}"};
    json_t *j;

    xfer_run(f->port, &x);
    assert_int_equal(x.status, 200);
    assert_string_equal(x.ctype, "application/json");
    j = json_loads(x.out, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "got"), "a")), 1);
    json_decref(j);
    xfer_free(&x);

    expect_fault(f, (struct xfer){.method = "POST", .path = "/echo", .body = "{\"a\": tru"}, 400,
                 "badRequest", "line 1, column");
    expect_fault(f, (struct xfer){.method = "POST", .path = "/echo", .body = "[1, 2]"}, 400,
                 "badRequest", "must be an object");

    /* Over the limit by Content-Length: refused before the body is sent. */
    memset(big, ' ', sizeof(big) - 1);
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    expect_fault(
        f,
        (struct xfer){
            .method = "POST", .path = "/echo", .body = big, .headers = {"Expect: 100-continue"}},
        413, "overLimit", "exceeds");

    /* Over the limit while chunked: the rest is read and dropped. */
    assert_int_equal(expect_fault(f,
                                  (struct xfer){.method = "POST",
                                                .path = "/echo",
                                                .upload = 4 * MIB,
                                                .headers = {"Transfer-Encoding: chunked"}},
                                  413, "overLimit", "exceeds"),
                     4 * MIB);

    /* Still serving; a body on GET is ignored. */
    x = (struct xfer){.method = "GET", .path = "/bodylen", .body = "{\"x\": 1}"};
    xfer_run(f->port, &x);
    assert_int_equal(x.status, 200);
    assert_non_null(strstr(x.out, "\"len\":0"));
    xfer_free(&x);
}

static void test_auth(void **state)
{
    struct fixture *f = *state;
    char *member = issue(f, "member", time(NULL) + 600);
    char *admin = issue(f, "admin", time(NULL) + 600);
    char *expired = issue(f, "member", time(NULL) - 10);
    char *forged = strdup(member);
    char hdr[1024];
    json_t *j;

    forged[strlen(forged) / 2] ^= 0x01;
    assert_fault_reply(f, "GET", "/whoami", NULL, 401, "unauthorized");
    snprintf(hdr, sizeof(hdr), "X-Auth-Token: %s", forged);
    assert_fault_reply(f, "GET", "/whoami", hdr, 401, "unauthorized");
    assert_fault_reply(f, "GET", "/whoami", "X-Auth-Token: garbage", 401, "unauthorized");
    snprintf(hdr, sizeof(hdr), "X-Auth-Token: %s", expired);
    j = call_json(f, "GET", "/whoami", hdr, 401);
    assert_fault(j, "unauthorized", 401, "expired");
    json_decref(j);

    snprintf(hdr, sizeof(hdr), "X-Auth-Token: %s", member);
    j = call_json(f, "GET", "/whoami", hdr, 200);
    assert_jstr(j, "user", "u1");
    assert_jstr(j, "project", "p1");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "roles"), 0)),
                        "member");
    assert_false(json_is_true(json_object_get(j, "admin")));
    json_decref(j);
    assert_fault_reply(f, "GET", "/admin", hdr, 403, "forbidden");

    snprintf(hdr, sizeof(hdr), "X-Auth-Token: %s", admin);
    assert_route(f, "/things/x", "thing"); /* public: no token needed */
    j = call_json(f, "GET", "/admin", hdr, 200);
    assert_jstr(j, "route", "admin");
    json_decref(j);

    free(member);
    free(admin);
    free(expired);
    free(forged);
}

static void test_auth_before_body(void **state)
{
    struct fixture *f = *state;
    const struct xfer huge = {.method = "PUT",
                              .upload = 8 * GIB,
                              .upload_known = true,
                              .headers = {"Expect: 100-continue"}};
    struct xfer x = huge;
    double t0 = now_s();

    /* No token: 401 at once, the 8 GiB are never sent, begin never runs. */
    atomic_store(&g_begin_calls, 0);
    x.path = "/private-upload";
    assert_true(expect_fault(f, x, 401, "unauthorized", NULL) < 64 * MIB);
    assert_true(now_s() - t0 < 5.0);
    assert_int_equal(atomic_load(&g_begin_calls), 0);

    /* A begin that refuses: 409 at once, data never called, end not called. */
    atomic_store(&g_data_calls, 0);
    atomic_store(&g_end_err, 1);
    x = huge;
    x.path = "/upload?refuse=1";
    assert_true(expect_fault(f, x, 409, "conflictingRequest", NULL) < 64 * MIB);
    assert_int_equal(atomic_load(&g_begin_calls), 1);
    assert_int_equal(atomic_load(&g_data_calls), 0);
    assert_int_equal(atomic_load(&g_end_err), 1);
}

static bool valid_id(const char *s)
{
    if (strlen(s) != 40 || strncmp(s, "req-", 4) != 0)
        return false;
    return strspn(s + 4, "0123456789abcdef-") == 36;
}

static void wait_idle(const struct fixture *f)
{
    for (int i = 0; i < 1000 && st_http_inflight(f->srv) > 0; i++)
        sleep_ms(5);
    assert_int_equal(st_http_inflight(f->srv), 0);
}

static void test_request_id(void **state)
{
    struct fixture *f = *state;
    const char *given = "req-0123abcd-4567-89ab-cdef-0123456789ab";
    struct xfer x = {.path = "/things/x"};
    char hdr[128], first[64], line[1024];
    FILE *log = tmpfile();
    json_t *j;
    bool found = false;

    xfer_run(f->port, &x);
    assert_true(valid_id(x.req_id));
    j = json_loads(x.out, 0, NULL);
    assert_jstr(j, "req_id", x.req_id);
    assert_jstr(j, "log_id", x.req_id); /* st_log sees it in the handler */
    json_decref(j);
    snprintf(first, sizeof(first), "%s", x.req_id);
    xfer_free(&x);

    /* A new one per request. */
    x = (struct xfer){.path = "/things/x"};
    xfer_run(f->port, &x);
    assert_true(valid_id(x.req_id));
    assert_string_not_equal(x.req_id, first);
    xfer_free(&x);

    /* A well-formed id from the caller is reused, and logged; secrets in the
     * query string are not. */
    st_log_set_stream(log);
    st_log_set_level(ST_LOG_INFO);
    snprintf(hdr, sizeof(hdr), "X-Openstack-Request-Id: %s", given);
    x = (struct xfer){.path = "/things/x?password=hunter2", .headers = {hdr}};
    xfer_run(f->port, &x);
    assert_string_equal(x.req_id, given);
    xfer_free(&x);
    wait_idle(f);
    st_log_set_level(ST_LOG_WARN);
    st_log_set_stream(NULL);
    rewind(log);
    while (fgets(line, sizeof(line), log)) {
        assert_null(strstr(line, "hunter2"));
        if (strstr(line, given) && strstr(line, "GET /things/x 200"))
            found = true;
    }
    fclose(log);
    assert_true(found);

    /* A malformed one is replaced, also on error replies. */
    x = (struct xfer){.path = "/nope", .headers = {"X-Openstack-Request-Id: req-evil"}};
    xfer_run(f->port, &x);
    assert_int_equal(x.status, 404);
    assert_true(valid_id(x.req_id));
    xfer_free(&x);
    x = (struct xfer){
        .path = "/nope",
        .headers = {"X-Openstack-Request-Id: req-0123ABCD-4567-89ab-cdef-0123456789ab"}};
    xfer_run(f->port, &x);
    assert_true(valid_id(x.req_id));
    assert_string_not_equal(x.req_id, "req-0123ABCD-4567-89ab-cdef-0123456789ab");
    xfer_free(&x);
}

static long vm_hwm_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *fp = fopen("/proc/self/status", "r");

    while (fp && fgets(line, sizeof(line), fp)) {
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    }
    if (fp)
        fclose(fp);
    return kib;
}

/* Reset the peak RSS to the current RSS (Linux >= 4.0); harmless if denied. */
static void reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY);

    if (fd >= 0) {
        if (write(fd, "5", 1) < 0)
            perror("clear_refs");
        close(fd);
    }
}

/* Upload `size` bytes of pattern to /upload and check what the server saw. */
static void upload_and_check(const struct fixture *f, const char *path, uint64_t size, bool known)
{
    struct xfer x = {.method = "PUT", .path = path, .upload = size, .upload_known = known};
    char hex[65];
    json_t *j;

    xfer_run(f->port, &x);
    digest_hex(&x.sent, hex);
    assert_int_equal(x.cc, CURLE_OK);
    assert_int_equal(x.status, 201);
    assert_int_equal(x.sent.n, size);
    j = json_loads(x.out, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes")), size);
    assert_jstr(j, "sha256", hex);
    json_decref(j);
    xfer_free(&x);
    wait_idle(f);
    assert_int_equal(atomic_load(&g_end_err), 0);
}

static void test_stream_upload_1gib(void **state)
{
    struct fixture *f = *state;
    long before, after;
    double t0 = now_s();

    reset_hwm();
    before = vm_hwm_kib();
    upload_and_check(f, "/upload", 1 * GIB, true);
    after = vm_hwm_kib();
    printf("# 1 GiB upload: %.1f s, peak RSS growth %ld KiB\n", now_s() - t0, after - before);
    assert_true(before > 0);
    assert_true(after - before < 64 * 1024);
}

static void test_stream_upload_chunked(void **state)
{
    upload_and_check(*state, "/upload", 64 * MIB, false);
}

static void test_stream_upload_failures(void **state)
{
    struct fixture *f = *state;
    struct xfer x;

    /* data fails: mapped error (EDQUOT -> 413), end told, rest dropped. */
    atomic_store(&g_end_err, 1);
    expect_fault(f,
                 (struct xfer){.method = "PUT",
                               .path = "/upload?fail_at=1048576",
                               .upload = 16 * MIB,
                               .upload_known = true},
                 413, "overLimit", NULL);
    assert_int_equal(atomic_load(&g_end_err), -EDQUOT);

    /* The client vanishes mid-body: end(-ECONNRESET) from completion (at
     * the latest when the idle timeout reaps the connection). */
    atomic_store(&g_end_err, 1);
    x = (struct xfer){.method = "PUT",
                      .path = "/upload",
                      .upload = 64 * MIB,
                      .upload_known = true,
                      .abort_at = 4 * MIB};
    xfer_run(f->port, &x);
    assert_int_equal(x.cc, CURLE_ABORTED_BY_CALLBACK);
    xfer_free(&x);
    wait_idle(f);
    assert_int_equal(atomic_load(&g_end_err), -ECONNRESET);

    /* A data call blocking past the idle timeout does not lose the upload. */
    upload_and_check(f, "/upload?stall_ms=3100", 3 * MIB + 7, true);
}

static void download_and_check(const struct fixture *f, uint64_t size, bool known)
{
    struct xfer x = {.hash_reply = true};
    char path[128], want[65], got[65];

    snprintf(path, sizeof(path), "/download?size=%llu%s", (unsigned long long)size,
             known ? "&known=1" : "");
    x.path = path;
    xfer_run(f->port, &x);
    digest_hex(&x.got, got);
    pattern_digest(size, want);
    assert_int_equal(x.cc, CURLE_OK);
    assert_int_equal(x.status, 200);
    assert_int_equal(x.got.n, size);
    assert_int_equal(x.content_length, known ? (curl_off_t)size : -1);
    assert_string_equal(got, want);
    assert_string_equal(x.ctype, "application/octet-stream");
    xfer_free(&x);
}

static void test_stream_download(void **state)
{
    struct fixture *f = *state;
    const char *failing[] = {"/download?size=8388608&known=1&fail_at=1048576",
                             "/download?size=8388608&fail_at=1048576"};

    atomic_store(&g_dl_frees, 0);
    download_and_check(f, 256 * MIB, true);
    download_and_check(f, 256 * MIB, false);
    download_and_check(f, 0, true);
    wait_idle(f);
    assert_int_equal(atomic_load(&g_dl_frees), 3);

    /* A reader error cuts the body short: the client must notice. */
    for (size_t i = 0; i < 2; i++) {
        struct xfer x = {.path = failing[i], .hash_reply = true};

        xfer_run(f->port, &x);
        assert_int_not_equal(x.cc, CURLE_OK);
        assert_int_equal(x.status, 200);
        assert_true(x.got.n >= 1048576 && x.got.n < 8388608);
        xfer_free(&x);
    }
    wait_idle(f);
    assert_int_equal(atomic_load(&g_dl_frees), 5);
}

struct bg_call {
    uint16_t port;
    struct xfer x;
    int connect_errno;
    unsigned delay_ms;
};

static void *bg_slow(void *arg)
{
    struct bg_call *c = arg;

    c->x = (struct xfer){.path = "/slow?ms=1000"};
    xfer_run(c->port, &c->x);
    return NULL;
}

static int try_connect(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

static void *bg_connect(void *arg)
{
    struct bg_call *c = arg;

    sleep_ms(c->delay_ms);
    c->connect_errno = try_connect(c->port);
    return NULL;
}

static void test_graceful_stop(void **state)
{
    struct fixture *f = *state;
    struct bg_call slow = {.port = f->port}, probe = {.port = f->port, .delay_ms = 200};
    pthread_t t1, t2;
    double t0;

    assert_int_equal(try_connect(f->port), 0);
    pthread_create(&t1, NULL, bg_slow, &slow);
    for (int i = 0; i < 400 && st_http_inflight(f->srv) == 0; i++)
        sleep_ms(5);
    assert_int_equal(st_http_inflight(f->srv), 1);
    pthread_create(&t2, NULL, bg_connect, &probe);
    t0 = now_s();
    st_http_stop(f->srv);
    t0 = now_s() - t0;
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(slow.x.cc, CURLE_OK);
    assert_int_equal(slow.x.status, 200);
    assert_non_null(strstr(slow.x.out, "slow"));
    xfer_free(&slow.x);
    assert_true(t0 > 0.5 && t0 < 4.0);                   /* waited for the handler */
    assert_int_equal(probe.connect_errno, ECONNREFUSED); /* while draining */
    assert_int_equal(try_connect(f->port), ECONNREFUSED);
    assert_int_equal(st_http_inflight(f->srv), 0);
}

static void test_health_and_metrics(void **state)
{
    struct fixture *f = *state;
    struct xfer x = {.path = "/metrics"};
    json_t *j;

    j = call_json(f, "GET", "/healthz", NULL, 200);
    assert_jstr(j, "status", "ok");
    assert_jstr(j, "daemon", "testd");
    json_decref(j);
    atomic_store(&g_health_fail, 1);
    j = call_json(f, "GET", "/healthz", NULL, 503);
    assert_jstr(j, "status", "unhealthy");
    assert_jstr(j, "reason", "rados unreachable");
    json_decref(j);

    for (int i = 0; i < 3; i++)
        assert_route(f, "/things/x", "thing");
    json_decref(call_json(f, "GET", "/things/1/parts/2", NULL, 200));
    assert_fault_reply(f, "GET", "/nope", NULL, 404, "itemNotFound");
    wait_idle(f);
    xfer_run(f->port, &x);
    assert_int_equal(x.status, 200);
    assert_string_equal(x.ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(x.out, "strata_http_requests_total{route=\"/things/{id}\","
                                  "method=\"GET\",status=\"200\"} 3\n"));
    assert_non_null(strstr(x.out, "strata_http_requests_total{route=\"parts\","
                                  "method=\"GET\",status=\"200\"} 1\n"));
    assert_non_null(strstr(x.out, "strata_http_requests_total{route=\"unmatched\","
                                  "method=\"GET\",status=\"404\"} 1\n"));
    assert_non_null(strstr(x.out, "strata_http_requests_total{route=\"/healthz\","
                                  "method=\"GET\",status=\"503\"} 1\n"));
    assert_non_null(strstr(x.out, "strata_http_request_duration_seconds_count{"
                                  "route=\"/things/{id}\",method=\"GET\"} 3\n"));
    assert_non_null(strstr(x.out, "strata_http_inflight_requests 1\n"));
    xfer_free(&x);
}

static void test_bind_conflict(void **state)
{
    struct fixture *f = *state;
    const struct st_route *const tables[] = {test_routes, NULL};
    struct st_http_config cfg = {"127.0.0.1", f->port, 1, MAX_JSON, 30, 100, "other", false, 0, 0, 0};
    static const struct st_route bad[] = {
        {"GET", "/x/{unclosed", h_root, 0, NULL, NULL},
        ST_ROUTE_END,
    };
    const struct st_route *const bad_tables[] = {bad, NULL};
    struct st_http_server *s = NULL;

    assert_int_equal(st_http_create(&cfg, tables, NULL, NULL, &s), 0);
    assert_int_equal(st_http_start(s), -EADDRINUSE);
    st_http_destroy(s);
    s = NULL;
    assert_int_equal(st_http_create(&cfg, bad_tables, NULL, NULL, &s), -EINVAL);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_before_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_upload_1gib, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_upload_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_upload_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_download, setup, teardown),
        cmocka_unit_test_setup_teardown(test_graceful_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_and_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_conflict, setup, teardown),
    };

    st_log_init("test", ST_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pat_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
