/* api_util.h — what the identity API handlers share: the service behind the
 * request, who calls, and the one reply-or-fail step that turns a service
 * error (and its message) into Keystone's error body. */
#ifndef IDENTITY_API_UTIL_H
#define IDENTITY_API_UTIL_H

#include <jansson.h>
#include <stdbool.h>

#include "id_service.h"
#include "strata/http.h"

struct id_service *idapi_svc(const struct st_req *r);
const struct st_auth_ctx *idapi_who(const struct st_req *r);
bool idapi_is_admin(const struct st_req *r);
/* Whether the caller is `user` (or an admin). */
bool idapi_self_or_admin(const struct st_req *r, const char *user);
/* Reply an error for rc: msg if any, else "Could not find <what>: <id>." for
 * -ENOENT; returns rc.  -EOPNOTSUPP from the auth decoder is a 401. */
int idapi_fail(struct st_req *r, int rc, const char *msg, const char *what, const char *id);
/* Reply doc (NULL = out of memory). */
int idapi_reply(struct st_req *r, unsigned status, json_t *doc);
/* A JSON body, or the 400 already replied. */
int idapi_body(struct st_req *r, json_t **body);

#endif
