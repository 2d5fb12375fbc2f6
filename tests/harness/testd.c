/* testd.c — strata-testd, a test harness daemon (never installed or started by
 * `up`): it runs the common core exactly as real daemons do (st_daemon_main:
 * config, auth, HTTP, metrics, RADOS metadata store, graceful stop) behind a few
 * routes that the e2e tests drive over real HTTP. */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "strata/auth.h"
#include "strata/daemon.h"
#include "strata/meta.h"

static const struct st_meta_kind testrec_kind = { "testrec", NULL };

struct testd {
    struct st_daemon *d;
};

static struct st_daemon *daemon_of(struct st_req *r)
{
    return ((struct testd *)st_req_app(r))->d;
}

/* GET /v1/echo/{a}/items/{b}: what the server parsed and who is calling. */
static int h_echo(struct st_req *r)
{
    const struct st_auth_ctx *who = st_req_auth(r);
    json_t *roles = json_array();

    for (int i = 0; who && i < who->nroles; i++)
        json_array_append_new(roles, json_string(who->roles[i]));
    return st_reply_json(r, 200, json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:o, s:b}",
        "a", st_req_param(r, "a"), "b", st_req_param(r, "b"),
        "q", st_req_query(r, "q"), "user", who ? who->user_id : NULL,
        "project", who ? who->project_id : NULL, "roles", roles,
        "admin", who && who->is_admin));
}

/* POST /v1/json: parse the JSON body and send it back. */
static int h_json(struct st_req *r)
{
    json_t *body;
    int rc = st_req_json(r, &body);
    if (rc < 0)
        return rc;
    return st_reply_json(r, 200, json_pack("{s:o}", "received", body));
}

/* POST /v1/tokens (admin): mint a token for {"user","project","roles","ttl"}. */
static int h_tokens(struct st_req *r)
{
    struct st_auth_ctx ctx = { 0 };
    json_t *body, *roles = NULL, *v;
    const char *user, *project;
    json_int_t ttl = 3600;
    char *token = NULL;
    size_t i;
    int rc = st_req_json(r, &body);

    if (rc < 0)
        return rc;
    if (json_unpack(body, "{s:s, s:s, s?o, s?I}", "user", &user, "project", &project,
                    "roles", &roles, "ttl", &ttl) < 0 ||
        strlen(user) > ST_ID_MAX || strlen(project) > ST_ID_MAX ||
        (roles && (!json_is_array(roles) || json_array_size(roles) > ST_ROLES_MAX))) {
        json_decref(body);
        return st_reply_error(r, 400, "expected {\"user\": str, \"project\": str, \"roles\": [str], \"ttl\": int}");
    }
    snprintf(ctx.user_id, sizeof(ctx.user_id), "%s", user);
    snprintf(ctx.project_id, sizeof(ctx.project_id), "%s", project);
    json_array_foreach(roles, i, v) {
        if (json_is_string(v))
            snprintf(ctx.roles[ctx.nroles++], sizeof(ctx.roles[0]), "%s", json_string_value(v));
    }
    rc = st_auth_issue(st_daemon_auth(daemon_of(r)), &ctx, (int64_t)time(NULL) + ttl, &token);
    json_decref(body);
    if (rc < 0)
        return rc;
    rc = st_reply_json(r, 201, json_pack("{s:s}", "token", token));
    free(token);
    return rc;
}

/* GET /v1/slow?ms=N: a request that takes a while (graceful stop tests). */
static int h_slow(struct st_req *r)
{
    const char *ms = st_req_query(r, "ms");
    long n = ms ? strtol(ms, NULL, 10) : 1000;

    if (n < 0 || n > 60000)
        return st_reply_error(r, 400, "ms must be 0..60000");
    usleep((useconds_t)n * 1000);
    return st_reply_json(r, 200, json_pack("{s:i}", "slept_ms", (int)n));
}

/* PUT /v1/blob/{id}: stream the body through SHA-256 without keeping it. */
struct blob_in {
    EVP_MD_CTX *md;
    uint64_t bytes;
};

static int blob_begin(struct st_req *r)
{
    struct blob_in *b = calloc(1, sizeof(*b));
    if (!b || !(b->md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(b->md, EVP_sha256(), NULL)) {
        if (b)
            EVP_MD_CTX_free(b->md);
        free(b);
        return -ENOMEM;
    }
    st_req_set_stream_ctx(r, b);
    return 0;
}

static int blob_data(struct st_req *r, const char *buf, size_t len)
{
    struct blob_in *b = st_req_stream_ctx(r);
    b->bytes += len;
    return EVP_DigestUpdate(b->md, buf, len) ? 0 : -EIO;
}

static int blob_end(struct st_req *r, int err)
{
    struct blob_in *b = st_req_stream_ctx(r);
    unsigned char md[EVP_MAX_MD_SIZE];
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    unsigned mdlen = 0;
    int rc = err;

    if (!b)
        return err;
    if (err == 0) {
        EVP_DigestFinal_ex(b->md, md, &mdlen);
        for (unsigned i = 0; i < mdlen; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        rc = st_reply_json(r, 200, json_pack("{s:s, s:I, s:s}", "id", st_req_param(r, "id"),
                                             "bytes", (json_int_t)b->bytes, "sha256", hex));
    }
    EVP_MD_CTX_free(b->md);
    free(b);
    st_req_set_stream_ctx(r, NULL);
    return rc;
}

static const struct st_stream_ops blob_ops = { blob_begin, blob_data, blob_end };

/* GET /v1/blob?size=N: stream N bytes of a known pattern (byte i = i*7 mod 251). */
static ssize_t pattern_reader(void *ctx, uint64_t pos, char *buf, size_t max)
{
    uint64_t size = *(uint64_t *)ctx;
    size_t n = pos >= size ? 0 : (size - pos < max ? (size_t)(size - pos) : max);

    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(((pos + i) * 7) % 251);
    return (ssize_t)n;
}

static int h_blob_get(struct st_req *r)
{
    const char *s = st_req_query(r, "size");
    char *end = NULL;
    unsigned long long size = s ? strtoull(s, &end, 10) : 0;
    uint64_t *ctx;

    if (!s || !*s || *end)
        return st_reply_error(r, 400, "size=N is required");
    if (!(ctx = malloc(sizeof(*ctx))))
        return -ENOMEM;
    *ctx = size;
    bool chunked = st_req_query(r, "chunked") != NULL;
    return st_reply_stream(r, 200, "application/octet-stream", chunked ? -1 : (int64_t)size,
                           pattern_reader, ctx, free);
}

/* Records in the metadata store: POST /v1/records {"id", ...}, GET, PUT with
 * If-Match: <version> (compare-and-swap), DELETE, GET list. */
static json_t *record_json(const struct st_record *rec)
{
    return json_pack("{s:s, s:I, s:O}", "id", rec->id, "version", (json_int_t)rec->version,
                     "data", rec->data);
}

static int h_rec_create(struct st_req *r)
{
    json_t *body;
    struct st_record rec = { 0 };
    int rc = st_req_json(r, &body);

    if (rc < 0)
        return rc;
    const char *id = json_string_value(json_object_get(body, "id"));
    struct st_meta *m = st_daemon_meta(daemon_of(r));
    rc = id ? st_meta_create(m, &testrec_kind, id, body, NULL) : -EINVAL;
    if (rc == 0)
        rc = st_meta_get(m, &testrec_kind, id, &rec);
    json_decref(body);
    if (rc < 0)
        return rc;
    rc = st_reply_json(r, 201, record_json(&rec));
    st_record_cleanup(&rec);
    return rc;
}

static int h_rec_get(struct st_req *r)
{
    struct st_record rec = { 0 };
    int rc = st_meta_get(st_daemon_meta(daemon_of(r)), &testrec_kind, st_req_param(r, "id"), &rec);

    if (rc < 0)
        return rc;
    rc = st_reply_json(r, 200, record_json(&rec));
    st_record_cleanup(&rec);
    return rc;
}

static int h_rec_update(struct st_req *r)
{
    const char *ifm = st_req_header(r, "If-Match");
    struct st_meta *m = st_daemon_meta(daemon_of(r));
    struct st_record rec = { 0 };
    char *end = NULL;
    json_t *body;
    uint64_t ver;
    int rc;

    if (!ifm || !*ifm || (ver = strtoull(ifm, &end, 10), *end))
        return st_reply_error(r, 428, "If-Match: <version> is required");
    if ((rc = st_req_json(r, &body)) < 0)
        return rc;
    rc = st_meta_update(m, &testrec_kind, st_req_param(r, "id"), ver, body, NULL);
    json_decref(body);
    if (rc == -ECANCELED)
        return st_reply_error(r, 409, "record %s changed since version %" PRIu64,
                              st_req_param(r, "id"), ver);
    if (rc == 0)
        rc = st_meta_get(m, &testrec_kind, st_req_param(r, "id"), &rec);
    if (rc < 0)
        return rc;
    rc = st_reply_json(r, 200, record_json(&rec));
    st_record_cleanup(&rec);
    return rc;
}

static int h_rec_delete(struct st_req *r)
{
    int rc = st_meta_delete(st_daemon_meta(daemon_of(r)), &testrec_kind, st_req_param(r, "id"), 0);
    return rc < 0 ? rc : st_reply_json(r, 204, NULL);
}

static int h_rec_list(struct st_req *r)
{
    const char *limit = st_req_query(r, "limit");
    struct st_record_list l = { 0 };
    int rc = st_meta_list(st_daemon_meta(daemon_of(r)), &testrec_kind, st_req_query(r, "marker"),
                          limit ? strtoul(limit, NULL, 10) : 0, NULL, 0, NULL, NULL, &l);
    if (rc < 0)
        return rc;
    json_t *items = json_array();
    for (size_t i = 0; i < l.count; i++)
        json_array_append_new(items, record_json(&l.items[i]));
    json_t *out = json_pack("{s:o}", "records", items);
    if (l.truncated)
        json_object_set_new(out, "next_marker", json_string(l.next_marker));
    st_record_list_cleanup(&l);
    return st_reply_json(r, 200, out);
}

static int h_admin(struct st_req *r)
{
    return st_reply_json(r, 200, json_pack("{s:b}", "admin", 1));
}

static const struct st_route testd_routes[] = {
    { "GET", "/v1/echo/{a}/items/{b}", h_echo, 0, NULL, "echo" },
    { "POST", "/v1/json", h_json, 0, NULL, "json" },
    { "POST", "/v1/tokens", h_tokens, ST_ROUTE_ADMIN, NULL, "tokens" },
    { "GET", "/v1/admin", h_admin, ST_ROUTE_ADMIN, NULL, "admin" },
    { "GET", "/v1/slow", h_slow, 0, NULL, "slow" },
    { "PUT", "/v1/blob/{id}", NULL, ST_ROUTE_STREAM_BODY, &blob_ops, "blob_put" },
    { "GET", "/v1/blob", h_blob_get, 0, NULL, "blob_get" },
    { "POST", "/v1/records", h_rec_create, 0, NULL, "records" },
    { "GET", "/v1/records", h_rec_list, 0, NULL, "records" },
    { "GET", "/v1/records/{id}", h_rec_get, 0, NULL, "record" },
    { "PUT", "/v1/records/{id}", h_rec_update, 0, NULL, "record" },
    { "DELETE", "/v1/records/{id}", h_rec_delete, 0, NULL, "record" },
    ST_ROUTE_END,
};
static const struct st_route *const routes[] = { testd_routes, NULL };

static int testd_init(struct st_daemon *d, void **app)
{
    struct testd *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->d = d;
    *app = t;
    return 0;
}

static void testd_fini(struct st_daemon *d, void *app)
{
    (void)d;
    free(app);
}

static const struct st_daemon_desc testd_desc = {
    .name = "testd",
    .default_port = 8799,
    .routes = routes,
    .needs_rados = true,
    .init = testd_init,
    .fini = testd_fini,
};

int main(int argc, char **argv)
{
    return st_daemon_main(&testd_desc, argc, argv);
}
