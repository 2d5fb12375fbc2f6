/* fake_httpc.h — the daemon-to-daemon HTTP client for unit tests: each
 * st_httpc_request is answered by the first rule whose method and URL
 * substring match (status and JSON body), or fails -ECONNREFUSED as if the
 * peer were down; every request is recorded.  Wrapped at link time (mock.h). */
#ifndef STRATA_TEST_FAKE_HTTPC_H
#define STRATA_TEST_FAKE_HTTPC_H

#include <jansson.h>

/* Forget rules and the record of requests. */
void fake_httpc_reset(void);
/* Answer method (NULL = any) on URLs containing url_part with status and
 * body (JSON text, NULL = none); rc < 0 instead: fail with it, no reply. */
void fake_httpc_rule(const char *method, const char *url_part, long status, const char *body);
void fake_httpc_rule_err(const char *method, const char *url_part, int rc);
/* Requests made so far, and how many of them went to URLs containing url_part. */
unsigned fake_httpc_calls(void);
unsigned fake_httpc_calls_to(const char *method, const char *url_part);
/* The body and the token sent with the last request to a matching URL
 * (borrowed; NULL if none). */
const json_t *fake_httpc_last_body(const char *url_part);
const char *fake_httpc_last_token(const char *url_part);

#endif
