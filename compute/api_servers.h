/* api_servers.h — the agent's internal HTTP API (admin tokens only): the host
 * record, servers (spawn, power actions, console, delete) and their volumes. */
#ifndef COMPUTE_API_SERVERS_H
#define COMPUTE_API_SERVERS_H

#include "strata/http.h"

extern const struct st_route compute_api_routes[];

#endif
