/* api_volumes.h — blockd's HTTP API: the Cinder Block Storage API v3
 * (version documents, volumes, volume actions, snapshots, metadata;
 * attachments; backups).  Handlers reach the service with st_req_app(). */
#ifndef BLOCKD_API_VOLUMES_H
#define BLOCKD_API_VOLUMES_H

#include "strata/http.h"

/* ST_ROUTE_END-terminated; st_http_set_app() must be given the vol_service. */
extern const struct st_route vol_api_routes[];
extern const struct st_route vol_attachment_routes[];   /* api_attachments.c */
extern const struct st_route vol_backup_routes[];       /* api_backups.c */

#endif
