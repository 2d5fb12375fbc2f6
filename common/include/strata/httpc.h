/* httpc.h — HTTP client (libcurl) for daemon-to-daemon calls.
 * JSON in, JSON out, with a per-call timeout, the caller's token and request id
 * forwarded, and retries with backoff on connection errors (never on replies). */
#ifndef STRATA_HTTPC_H
#define STRATA_HTTPC_H

#include <jansson.h>
#include <stddef.h>

struct st_httpc;

struct st_httpc_config {
    unsigned timeout_ms;         /* whole request */
    unsigned connect_timeout_ms;
    unsigned retries;            /* extra attempts on connect/transport errors */
    unsigned retry_backoff_ms;   /* first backoff, doubled per attempt */
};

int st_httpc_create(const struct st_httpc_config *cfg, struct st_httpc **out);
void st_httpc_destroy(struct st_httpc *c);

struct st_httpc_resp {
    long status;
    json_t *body;         /* parsed JSON body or NULL (not JSON / empty) */
    char *raw;            /* raw body, NUL-terminated (owned) */
    size_t raw_len;
};
void st_httpc_resp_cleanup(struct st_httpc_resp *resp);

/* Send `method url` with optional JSON body (not stolen) and token.  Returns 0
 * when any HTTP reply arrived (check resp->status), -ECONNREFUSED/-ETIMEDOUT/
 * -EHOSTUNREACH/-EIO when none did after the retries.  Thread-safe. */
int st_httpc_request(struct st_httpc *c, const char *method, const char *url,
                     const char *token, const json_t *body, struct st_httpc_resp *resp);
/* The same with extra headers: name, value, name, value, ..., NULL. */
int st_httpc_request_h(struct st_httpc *c, const char *method, const char *url,
                       const char *token, const char *const *headers_extra, const json_t *body,
                       struct st_httpc_resp *resp);

/* A peer service: its base URL (e.g. http://127.0.0.1:9292) and the service
 * token to call it with, through a client `http` (borrowed: it must outlive the
 * peer).  Both strings are copied; the token is wiped on destroy. */
struct st_httpc_peer;
int st_httpc_peer_create(struct st_httpc *http, const char *url, const char *service_token,
                         struct st_httpc_peer **out);
void st_httpc_peer_destroy(struct st_httpc_peer *p);
/* st_httpc_request of `method {url}{path}` with `token` (NULL: the service
 * token). */
int st_httpc_peer_request(struct st_httpc_peer *p, const char *method, const char *path,
                          const char *token, const json_t *body, struct st_httpc_resp *resp);

#endif
