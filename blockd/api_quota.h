/* api_quota.h — blockd's quota API: Cinder's os-quota-sets and limits.
 * Handlers reach the service with st_req_app(). */
#ifndef BLOCKD_API_QUOTA_H
#define BLOCKD_API_QUOTA_H

#include "strata/http.h"

/* ST_ROUTE_END-terminated. */
extern const struct st_route vol_quota_routes[];

#endif
