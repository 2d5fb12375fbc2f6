/* srv_service.h — the compute API's logic: servers (create, views, delete,
 * power actions, volume attachments), flavors, server groups, hypervisors and
 * zones.  Calls return 0 or -errno with msg; views are new references. */
#ifndef SCHEDULER_SRV_SERVICE_H
#define SCHEDULER_SRV_SERVICE_H

#include <jansson.h>
#include <stdbool.h>

#include "srv_json.h"
#include "strata/auth.h"
#include "strata/daemon.h"

struct srv_service;

int srv_create(struct st_daemon *d, struct srv_service **out);
void srv_destroy(struct srv_service *s);

/* Servers.  base: the links' base URL ("http://host:8774"). */
int srv_server_create(struct srv_service *s, const struct st_auth_ctx *who, const json_t *body,
                      const char *base, json_t **out, char *msg);
/* detail false: {id, name, links}.  all: every project's (admins only).
 * name: Nova's name filter (substring), NULL = any. */
int srv_server_list(struct srv_service *s, const struct st_auth_ctx *who, bool detail, bool all,
                    const char *name, const char *base, json_t **out);
int srv_server_show(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                    const char *base, json_t **out);
int srv_server_delete(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                      char *msg);
/* POST /servers/{id}/action: *out is the reply body (or NULL for 202 without one). */
int srv_server_action(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                      const json_t *body, json_t **out, unsigned *status, char *msg);

/* os-volume_attachments */
int srv_attach_list(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                    json_t **out);
int srv_attach(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
               const json_t *body, json_t **out, char *msg);
int srv_attach_show(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                    const char *volume_id, json_t **out);
int srv_detach(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
               const char *volume_id, char *msg);

/* Flavors (create/delete are admin routes). */
int srv_flavor_list(struct srv_service *s, bool detail, const char *base, json_t **out);
int srv_flavor_show(struct srv_service *s, const char *id, const char *base, json_t **out);
int srv_flavor_create(struct srv_service *s, const json_t *body, const char *base, json_t **out,
                      char *msg);
int srv_flavor_delete(struct srv_service *s, const char *id);

/* Server groups (a project's own). */
int srv_group_list(struct srv_service *s, const struct st_auth_ctx *who, bool all, json_t **out);
int srv_group_show(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                   json_t **out);
int srv_group_create(struct srv_service *s, const struct st_auth_ctx *who, const json_t *body,
                     json_t **out, char *msg);
int srv_group_delete(struct srv_service *s, const struct st_auth_ctx *who, const char *id);

/* Hypervisors (admin) and availability zones. */
int srv_hypervisor_list(struct srv_service *s, bool detail, json_t **out);
int srv_hypervisor_show(struct srv_service *s, const char *id, json_t **out);
int srv_zone_list(struct srv_service *s, bool detail, json_t **out);

/* os-server-external-events (admin): volume-extended (new size) and Strata's
 * volume-qos-changed (new front-end limits) are passed to the agent. */
int srv_external_events(struct srv_service *s, const json_t *body, json_t **out, char *msg);

#endif
