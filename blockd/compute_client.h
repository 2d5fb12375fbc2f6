/* compute_client.h — blockd's one call to the compute API: Nova's
 * os-server-external-events (volume-extended, volume-qos-changed). */
#ifndef BLOCKD_COMPUTE_CLIENT_H
#define BLOCKD_COMPUTE_CLIENT_H

#include <jansson.h>

#include "strata/httpc.h"

/* Send `events` ([{name, server_uuid, tag}], not stolen) to the compute API
 * (`compute`: the peer at [blockd] compute_url, …/v2.1).  0 and *results (new
 * reference): one {name, server_uuid, code, ...} per event, code 404 for each
 * when the API knew none of the servers; -EIO (and msg, msglen bytes) when it
 * was not reached or answered an error; -ENOMEM. */
int compute_client_events(struct st_httpc_peer *compute, const json_t *events, json_t **results,
                          char *msg, size_t msglen);

#endif
