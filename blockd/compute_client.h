/* compute_client.h — blockd's one call to the compute API: Nova's
 * os-server-external-events (volume-extended, volume-qos-changed). */
#ifndef BLOCKD_COMPUTE_CLIENT_H
#define BLOCKD_COMPUTE_CLIENT_H

#include <jansson.h>

#include "strata/httpc.h"

struct compute_client;

/* A client of the compute API at `url` (…/v2.1) through `http` (borrowed),
 * calling with `service_token` (copied, wiped on destroy).  0 or -ENOMEM. */
int compute_client_create(struct st_httpc *http, const char *url, const char *service_token,
                          struct compute_client **out);
void compute_client_destroy(struct compute_client *c);

/* Send `events` ([{name, server_uuid, tag}], not stolen).  0 and *results (new
 * reference): one {name, server_uuid, code, ...} per event, code 404 for each
 * when the API knew none of the servers; -EIO (and msg, msglen bytes) when it
 * was not reached or answered an error; -ENOMEM. */
int compute_client_events(struct compute_client *c, const json_t *events, json_t **results,
                          char *msg, size_t msglen);

#endif
