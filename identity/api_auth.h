/* api_auth.h — the identity service's version, token, catalog and
 * own-projects routes (api_auth.c). */
#ifndef IDENTITY_API_AUTH_H
#define IDENTITY_API_AUTH_H

#include "strata/http.h"

extern const struct st_route id_auth_routes[];
/* GET /v3/users/{user_id}/projects (routed by api_admin.c). */
int idapi_user_projects(struct st_req *r);

#endif
