/* api_images.h — imaged's HTTP API: the Glance Image API v2 (images, data,
 * tags, schemas, import, versions) plus the internal clone endpoint used by
 * blockd and computed.  Handlers reach the service with st_req_app(). */
#ifndef IMAGED_API_IMAGES_H
#define IMAGED_API_IMAGES_H

#include "strata/http.h"

/* ST_ROUTE_END-terminated; st_http_set_app() must be given the img_service. */
extern const struct st_route img_api_routes[];

#endif
