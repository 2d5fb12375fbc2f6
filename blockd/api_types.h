/* api_types.h — blockd's volume types (extra specs) and qos-specs APIs.
 * Handlers reach the service with st_req_app(). */
#ifndef BLOCKD_API_TYPES_H
#define BLOCKD_API_TYPES_H

#include "strata/http.h"

/* ST_ROUTE_END-terminated. */
extern const struct st_route vol_types_routes[];

#endif
