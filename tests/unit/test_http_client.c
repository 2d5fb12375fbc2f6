/* test_http_client.c — the libcurl client against an in-process server: JSON
 * round trip with the token and request id forwarded, HTTP errors returned as
 * replies and never retried, retries until a late server appears, and the
 * refused / timed-out errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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
#include "strata/httpc.h"
#include "strata/log.h"

static atomic_int g_calls;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- server side ---- */

static int h_echo(struct st_req *r)
{
    const struct st_auth_ctx *a = st_req_auth(r);
    json_t *body = NULL;
    int rc = st_req_json(r, &body);

    if (rc < 0)
        return rc;
    return st_reply_json(r, 200,
                         json_pack("{s:o,s:s,s:s,s:s}", "got", body, "project",
                                   a ? a->project_id : "", "req_id", st_req_id(r), "method",
                                   st_req_method(r)));
}

static int h_status(struct st_req *r)
{
    atomic_fetch_add(&g_calls, 1);
    return st_reply_error(r, (unsigned)atoi(st_req_param(r, "code")), "as asked");
}

static int h_slow(struct st_req *r)
{
    atomic_fetch_add(&g_calls, 1);
    sleep_ms(1000);
    return st_reply_json(r, 200, json_pack("{s:b}", "slow", 1));
}

static int h_ping(struct st_req *r)
{
    return st_reply_json(r, 200, json_pack("{s:s}", "pong", st_req_method(r)));
}

static const struct st_route routes[] = {
    {"POST", "/echo", h_echo, 0, NULL, NULL},
    {"PUT", "/echo", h_echo, 0, NULL, NULL},
    {"GET", "/status/{code}", h_status, ST_ROUTE_PUBLIC, NULL, NULL},
    {"GET", "/slow", h_slow, ST_ROUTE_PUBLIC, NULL, NULL},
    {"DELETE", "/ping", h_ping, ST_ROUTE_PUBLIC, NULL, NULL},
    ST_ROUTE_END,
};

struct fixture {
    struct st_auth *auth;
    struct st_http_server *srv;
    uint16_t port;
    char url[128];
};

static int server_start(struct st_auth *auth, uint16_t port, struct st_http_server **out)
{
    const struct st_route *const tables[] = {routes, NULL};
    const struct st_http_config cfg = {"127.0.0.1", port, 2, 64 * 1024, 10, 3000, "clientd", false, 0, 0, 0};
    int rc = st_http_create(&cfg, tables, auth, NULL, out);

    if (rc == 0)
        rc = st_http_start(*out);
    return rc;
}

static int setup(void **state)
{
    static const unsigned char key[] = "an-hmac-key-of-at-least-32-bytes-for-tests";
    struct fixture *f = calloc(1, sizeof(*f));

    assert_int_equal(st_auth_create(key, sizeof(key) - 1, NULL, NULL, &f->auth), 0);
    assert_int_equal(server_start(f->auth, 0, &f->srv), 0);
    f->port = st_http_port(f->srv);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", f->port);
    atomic_store(&g_calls, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    st_http_destroy(f->srv);
    st_auth_destroy(f->auth);
    free(f);
    return 0;
}

static struct st_httpc *client(unsigned timeout_ms, unsigned retries, unsigned backoff_ms)
{
    const struct st_httpc_config cfg = {timeout_ms, 500, retries, backoff_ms};
    struct st_httpc *c = NULL;

    assert_int_equal(st_httpc_create(&cfg, &c), 0);
    return c;
}

/* A port nothing listens on (bound once by us, then released). */
static uint16_t free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* ---- tests ---- */

static void test_roundtrip(void **state)
{
    struct fixture *f = *state;
    struct st_auth_ctx who = {
        .user_id = "u1", .project_id = "p-42", .nroles = 1, .roles = {"member"}};
    const char *rid = "req-11111111-2222-3333-4444-555555555555";
    struct st_httpc *c = client(5000, 0, 10);
    struct st_httpc_resp resp;
    json_t *body = json_pack("{s:i,s:s}", "x", 1, "name", "vol");
    char url[256], *token = NULL;

    assert_int_equal(st_auth_issue(f->auth, &who, time(NULL) + 600, &token), 0);
    snprintf(url, sizeof(url), "%s/echo", f->url);

    st_log_set_request_id(rid);
    assert_int_equal(st_httpc_request(c, "POST", url, token, body, &resp), 0);
    st_log_set_request_id(NULL);
    assert_int_equal(resp.status, 200);
    assert_non_null(resp.body);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(resp.body, "got"), "x")),
                     1);
    assert_string_equal(json_string_value(json_object_get(resp.body, "project")), "p-42");
    assert_string_equal(json_string_value(json_object_get(resp.body, "req_id")), rid);
    assert_non_null(strstr(resp.raw, "\"vol\""));
    assert_int_equal(resp.raw_len, strlen(resp.raw));
    st_httpc_resp_cleanup(&resp);

    /* Other methods carry the body too. */
    assert_int_equal(st_httpc_request(c, "PUT", url, token, body, &resp), 0);
    assert_int_equal(resp.status, 200);
    assert_string_equal(json_string_value(json_object_get(resp.body, "method")), "PUT");
    st_httpc_resp_cleanup(&resp);

    /* No token: the 401 is a reply, parsed like any other. */
    assert_int_equal(st_httpc_request(c, "POST", url, NULL, body, &resp), 0);
    assert_int_equal(resp.status, 401);
    assert_non_null(json_object_get(resp.body, "unauthorized"));
    st_httpc_resp_cleanup(&resp);

    snprintf(url, sizeof(url), "%s/ping", f->url);
    assert_int_equal(st_httpc_request(c, "DELETE", url, NULL, NULL, &resp), 0);
    assert_int_equal(resp.status, 200);
    assert_string_equal(json_string_value(json_object_get(resp.body, "pong")), "DELETE");
    st_httpc_resp_cleanup(&resp);

    json_decref(body);
    free(token);
    st_httpc_destroy(c);
}

static void test_http_errors_not_retried(void **state)
{
    struct fixture *f = *state;
    struct st_httpc *c = client(5000, 3, 10);
    struct st_httpc_resp resp;
    char url[256];

    snprintf(url, sizeof(url), "%s/status/503", f->url);
    assert_int_equal(st_httpc_request(c, "GET", url, NULL, NULL, &resp), 0);
    assert_int_equal(resp.status, 503);
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(resp.body, "serviceUnavailable"), "code")),
                     503);
    assert_int_equal(atomic_load(&g_calls), 1);
    st_httpc_resp_cleanup(&resp);

    snprintf(url, sizeof(url), "%s/no/such/thing", f->url);
    assert_int_equal(st_httpc_request(c, "GET", url, NULL, NULL, &resp), 0);
    assert_int_equal(resp.status, 404);
    st_httpc_resp_cleanup(&resp);
    st_httpc_destroy(c);
}

struct late_server {
    uint16_t port;
    struct st_http_server *srv;
    int rc;
};

static void *late_start(void *arg)
{
    struct late_server *ls = arg;

    sleep_ms(300);
    ls->rc = server_start(NULL, ls->port, &ls->srv);
    return NULL;
}

static void test_retry_until_server_listens(void **state)
{
    struct late_server ls = {.port = free_port()};
    struct st_httpc *c = client(2000, 8, 25);
    struct st_httpc_resp resp;
    char url[256];
    pthread_t t;
    double t0 = now_s();

    snprintf(url, sizeof(url), "http://127.0.0.1:%u/status/202", ls.port);
    pthread_create(&t, NULL, late_start, &ls);
    assert_int_equal(st_httpc_request(c, "GET", url, NULL, NULL, &resp), 0);
    t0 = now_s() - t0;
    pthread_join(t, NULL);
    assert_int_equal(ls.rc, 0);
    assert_int_equal(resp.status, 202);
    assert_true(t0 >= 0.25);
    st_httpc_resp_cleanup(&resp);
    st_http_destroy(ls.srv);
    st_httpc_destroy(c);
}

static void test_refused(void **state)
{
    struct st_httpc *c = client(2000, 3, 20);
    struct st_httpc_resp resp;
    char url[256];
    double t0 = now_s();

    snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", free_port());
    assert_int_equal(st_httpc_request(c, "GET", url, NULL, NULL, &resp), -ECONNREFUSED);
    t0 = now_s() - t0;
    assert_true(t0 >= 0.14); /* backoff 20 + 40 + 80 ms: it retried */
    assert_int_equal(resp.status, 0);
    assert_null(resp.body);
    assert_null(resp.raw);
    st_httpc_resp_cleanup(&resp);
    st_httpc_destroy(c);
}

static void test_timeout(void **state)
{
    struct fixture *f = *state;
    struct st_httpc *c = client(300, 3, 10);
    struct st_httpc_resp resp;
    char url[256];
    double t0 = now_s();

    snprintf(url, sizeof(url), "%s/slow", f->url);
    assert_int_equal(st_httpc_request(c, "GET", url, NULL, NULL, &resp), -ETIMEDOUT);
    t0 = now_s() - t0;
    /* The request reached the server: not retried. */
    assert_true(t0 >= 0.25 && t0 < 0.9);
    assert_int_equal(atomic_load(&g_calls), 1);
    st_httpc_resp_cleanup(&resp);
    st_httpc_destroy(c);
}

static void test_bad_arguments(void **state)
{
    struct fixture *f = *state;
    struct st_httpc *c = client(1000, 0, 10);
    struct st_httpc_resp resp;
    char url[256];

    snprintf(url, sizeof(url), "%s/echo", f->url);
    assert_int_equal(st_httpc_request(c, "POST", url, "tok\r\nX-Evil: 1", NULL, &resp), -EINVAL);
    assert_int_equal(st_httpc_request(c, "GET", "nope://x", NULL, NULL, &resp), -EINVAL);
    assert_int_equal(st_httpc_create(NULL, &c), -EINVAL);
    st_httpc_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_errors_not_retried, setup, teardown),
        cmocka_unit_test(test_retry_until_server_listens),
        cmocka_unit_test(test_refused),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
    };

    st_log_init("test", ST_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
