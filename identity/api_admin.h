/* api_admin.h — the identity service's resource routes (api_admin.c):
 * domains, projects, users, roles, role assignments, application credentials. */
#ifndef IDENTITY_API_ADMIN_H
#define IDENTITY_API_ADMIN_H

#include "strata/http.h"

extern const struct st_route id_admin_routes[];

#endif
