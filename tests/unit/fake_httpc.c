/* fake_httpc.c — fake_httpc.h: a rule table answering requests and a log of
 * the requests made (method, URL, body). */
#include "fake_httpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"
#include "strata/httpc.h"

#define RULES_MAX 16
#define LOG_MAX 64

struct rule {
    char method[16], url[256];
    long status;
    char *body;
    int rc;
};

struct call {
    char method[16], url[512], token[256];
    json_t *body;
};

static struct rule rules[RULES_MAX];
static size_t nrules;
static struct call calls[LOG_MAX];
static unsigned ncalls;

void fake_httpc_reset(void)
{
    for (size_t i = 0; i < nrules; i++)
        free(rules[i].body);
    nrules = 0;
    for (unsigned i = 0; i < ncalls && i < LOG_MAX; i++)
        json_decref(calls[i].body);
    ncalls = 0;
}

static void add(const char *method, const char *url_part, long status, const char *body, int rc)
{
    struct rule *r = &rules[nrules++];

    snprintf(r->method, sizeof(r->method), "%s", method ? method : "");
    snprintf(r->url, sizeof(r->url), "%s", url_part);
    r->status = status;
    r->body = body ? strdup(body) : NULL;
    r->rc = rc;
}

void fake_httpc_rule(const char *method, const char *url_part, long status, const char *body)
{
    add(method, url_part, status, body, 0);
}

void fake_httpc_rule_err(const char *method, const char *url_part, int rc)
{
    add(method, url_part, 0, NULL, rc);
}

unsigned fake_httpc_calls(void)
{
    return ncalls;
}

unsigned fake_httpc_calls_to(const char *method, const char *url_part)
{
    unsigned n = 0;

    for (unsigned i = 0; i < ncalls && i < LOG_MAX; i++)
        n += (!method || strcmp(calls[i].method, method) == 0) &&
             strstr(calls[i].url, url_part) != NULL;
    return n;
}

static const struct call *last_to(const char *url_part)
{
    for (unsigned i = ncalls < LOG_MAX ? ncalls : LOG_MAX; i-- > 0;)
        if (strstr(calls[i].url, url_part))
            return &calls[i];
    return NULL;
}

const json_t *fake_httpc_last_body(const char *url_part)
{
    const struct call *k = last_to(url_part);

    return k ? k->body : NULL;
}

const char *fake_httpc_last_token(const char *url_part)
{
    const struct call *k = last_to(url_part);

    return k ? k->token : NULL;
}

ST_WRAP(st_httpc_request_h, int,
        (struct st_httpc * c, const char *method, const char *url, const char *token,
         const char *const *headers_extra, const json_t *body, struct st_httpc_resp *resp))
{
    memset(resp, 0, sizeof(*resp));
    if (ncalls < LOG_MAX) {
        struct call *k = &calls[ncalls];
        snprintf(k->method, sizeof(k->method), "%s", method);
        snprintf(k->url, sizeof(k->url), "%s", url);
        snprintf(k->token, sizeof(k->token), "%s", token ? token : "");
        k->body = body ? json_deep_copy(body) : NULL;
    }
    ncalls++;
    for (size_t i = 0; i < nrules; i++) {
        const struct rule *r = &rules[i];
        if ((r->method[0] && strcmp(r->method, method) != 0) || !strstr(url, r->url))
            continue;
        if (r->rc < 0)
            return r->rc;
        resp->status = r->status;
        resp->raw = strdup(r->body ? r->body : "");
        resp->raw_len = strlen(resp->raw);
        resp->body = r->body ? json_loads(r->body, 0, NULL) : NULL;
        return 0;
    }
    return -ECONNREFUSED;
}

ST_WRAP(st_httpc_request, int,
        (struct st_httpc * c, const char *method, const char *url, const char *token,
         const json_t *body, struct st_httpc_resp *resp))
{
    return __wrap_st_httpc_request_h(c, method, url, token, NULL, body, resp);
}
