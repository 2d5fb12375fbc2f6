/* api_manage.h — blockd's admin APIs for a Cinder volume driver that
 * delegates to it: scheduler-stats/get_pools and manageable_volumes. */
#ifndef BLOCKD_API_MANAGE_H
#define BLOCKD_API_MANAGE_H

#include "strata/http.h"

/* ST_ROUTE_END-terminated. */
extern const struct st_route vol_manage_routes[];

#endif
