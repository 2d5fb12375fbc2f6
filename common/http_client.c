/* http_client.c — HTTP client for daemon-to-daemon calls, on libcurl.
 * One easy handle per attempt (no shared state: thread-safe); the caller's
 * token and the thread's request id are forwarded, JSON goes in and out.
 * Only failures that prove the server saw no request are retried, with
 * exponential backoff; once an HTTP status arrived, nothing is retried. */
#include "strata/httpc.h"
#include "strata/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESP_MAX (64u * 1024 * 1024) /* larger replies fail with -EFBIG */
#define HEADER_MAX 8192 /* "name: value" of one request header (tokens run to ~4 KiB) */

struct st_httpc {
    struct st_httpc_config cfg;
};

struct resp_buf {
    char *data;
    size_t len;
    size_t cap;
    bool too_big;
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc;

static void curl_init_once(void)
{
    g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int st_httpc_create(const struct st_httpc_config *cfg, struct st_httpc **out)
{
    struct st_httpc *c;

    if (!cfg || !out || cfg->timeout_ms == 0)   /* 0 would mean no timeout at all */
        return -EINVAL;
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_init_rc != CURLE_OK) {
        st_error("curl_global_init failed: %s", curl_easy_strerror(g_curl_init_rc));
        return -EIO;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->cfg = *cfg;
    *out = c;
    return 0;
}

void st_httpc_destroy(struct st_httpc *c)
{
    free(c);
}

void st_httpc_resp_cleanup(struct st_httpc_resp *resp)
{
    if (!resp)
        return;
    json_decref(resp->body);
    free(resp->raw);
    memset(resp, 0, sizeof(*resp));
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct resp_buf *b = ud;
    size_t n = size * nmemb, need = b->len + n + 1;
    char *nd;

    if (need > RESP_MAX) {
        b->too_big = true;
        return 0;
    }
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < need)
            cap *= 2;
        nd = realloc(b->data, cap);
        if (!nd)
            return 0;
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static int slist_add(struct curl_slist **list, const char *name, const char *value)
{
    char line[HEADER_MAX];
    struct curl_slist *nl;

    if ((size_t)snprintf(line, sizeof(line), "%s: %s", name, value) >= sizeof(line))
        return -EINVAL;
    nl = curl_slist_append(*list, line);
    if (!nl)
        return -ENOMEM;
    *list = nl;
    return 0;
}

static int build_headers(const char *token, const char *const *extra, bool has_body,
                         struct curl_slist **out)
{
    const char *req_id = st_log_request_id();
    struct curl_slist *list = NULL;
    int rc = slist_add(&list, "Accept", "application/json");

    if (rc == 0)
        rc = slist_add(&list, "Expect", ""); /* empty: curl sends no Expect */
    if (rc == 0 && token)
        rc = strpbrk(token, "\r\n") ? -EINVAL : slist_add(&list, "X-Auth-Token", token);
    if (rc == 0 && req_id)
        rc = slist_add(&list, "X-Openstack-Request-Id", req_id);
    if (rc == 0 && has_body)
        rc = slist_add(&list, "Content-Type", "application/json");
    for (size_t i = 0; rc == 0 && extra && extra[i] && extra[i + 1]; i += 2)
        rc = strpbrk(extra[i + 1], "\r\n") ? -EINVAL : slist_add(&list, extra[i], extra[i + 1]);
    if (rc < 0)
        curl_slist_free_all(list);
    else
        *out = list;
    return rc;
}

static int curl_errno(CURL *h, CURLcode cc, const struct resp_buf *b)
{
    long os_err = 0;

    switch (cc) {
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_err);
        return os_err == EHOSTUNREACH || os_err == ENETUNREACH ? -EHOSTUNREACH : -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
        return -EHOSTUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return -EINVAL;
    case CURLE_WRITE_ERROR:
        return b->too_big ? -EFBIG : -EIO;
    default:
        return -EIO;
    }
}

/* May another attempt be made?  Only when the server cannot have acted on
 * the request: no connection, a timeout before any request byte was sent,
 * or a send failure — and never once a status line arrived. */
static bool retryable(CURL *h, CURLcode cc)
{
    long status = 0, sent = 0;

    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
    if (status != 0)
        return false;
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_SEND_ERROR ||
           (cc == CURLE_OPERATION_TIMEDOUT && sent == 0);
}

static void set_method(CURL *h, const char *method, const char *body)
{
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

static void resp_take(struct st_httpc_resp *resp, CURL *h, struct resp_buf *b)
{
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->raw = b->data ? b->data : strdup("");
    resp->raw_len = b->len;
    resp->body = b->len ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    b->data = NULL;
}

/* One attempt on a fresh handle.  0 with resp filled when a reply arrived. */
static int perform_once(const struct st_httpc *c, const char *method, const char *url,
                        struct curl_slist *headers, const char *body, struct st_httpc_resp *resp,
                        bool *retry)
{
    struct resp_buf b = {0};
    CURL *h = curl_easy_init();
    CURLcode cc;
    int rc = 0;

    *retry = false;
    if (!h)
        return -ENOMEM;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->cfg.timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->cfg.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    set_method(h, method, body);
    cc = curl_easy_perform(h);
    if (cc == CURLE_OK) {
        resp_take(resp, h, &b);
        rc = resp->raw ? 0 : -ENOMEM;
    } else {
        rc = curl_errno(h, cc, &b);
        *retry = retryable(h, cc);
        st_debug("%s %.*s: %s", method, (int)strcspn(url, "?"), url, curl_easy_strerror(cc));
    }
    free(b.data);
    curl_easy_cleanup(h);
    return rc;
}

static void backoff_sleep(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int st_httpc_request(struct st_httpc *c, const char *method, const char *url, const char *token,
                     const json_t *body, struct st_httpc_resp *resp)
{
    return st_httpc_request_h(c, method, url, token, NULL, body, resp);
}

int st_httpc_request_h(struct st_httpc *c, const char *method, const char *url,
                       const char *token, const char *const *headers_extra, const json_t *body,
                       struct st_httpc_resp *resp)
{
    struct curl_slist *headers = NULL;
    char *text = NULL;
    unsigned backoff, attempt;
    bool retry = false;
    int rc = 0;

    if (!c || !method || !url || !resp)
        return -EINVAL;
    memset(resp, 0, sizeof(*resp));
    backoff = c->cfg.retry_backoff_ms;
    if (body && !(text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY)))
        rc = -ENOMEM;
    if (rc == 0)
        rc = build_headers(token, headers_extra, body != NULL, &headers);
    if (rc == 0) {
        for (attempt = 0;; attempt++) {
            rc = perform_once(c, method, url, headers, text, resp, &retry);
            if (rc == 0 || !retry || attempt >= c->cfg.retries)
                break;
            backoff_sleep(backoff);
            backoff *= 2;
        }
        if (rc < 0)
            st_warn("%s %.*s failed after %u attempt(s): %s", method, (int)strcspn(url, "?"), url,
                    attempt + 1, strerror(-rc));
    }
    curl_slist_free_all(headers);
    free(text);
    return rc;
}
