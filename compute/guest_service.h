/* guest_service.h — the agent's logic: guest records (kind "guest"), their
 * state machine and long operations on leases, volumes, and reconcile. */
#ifndef COMPUTE_GUEST_SERVICE_H
#define COMPUTE_GUEST_SERVICE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_json.h"
#include "strata/daemon.h"

struct guest_service;

int gsvc_create(struct st_daemon *d, struct guest_service **out);
void gsvc_destroy(struct guest_service *s);

/* The host registration record. */
int gsvc_host(struct guest_service *s, json_t **out);

/* Spawn (idempotent by id): *created tells a new record (202) from a retry
 * of the same request (200).  -EEXIST when the id is used differently. */
int gsvc_spawn(struct guest_service *s, const json_t *req, json_t **out, int *created, char *msg);
int gsvc_list(struct guest_service *s, const char *project_id, json_t **out);
int gsvc_show(struct guest_service *s, const char *id, json_t **out);
/* Power actions and delete run in the background (202): -ECANCELED and msg
 * when another operation holds the server or the state forbids it. */
int gsvc_action(struct guest_service *s, const char *id, enum gj_action a, char *msg);
int gsvc_delete(struct guest_service *s, const char *id, char *msg);
/* Console log text (malloc'd), the last `lines` lines (0 = all). */
int gsvc_console(struct guest_service *s, const char *id, long lines, char **text, size_t *len);

/* Volumes: attach (idempotent by volume id), detach, live QoS/size update. */
int gsvc_attach(struct guest_service *s, const char *id, const char *volume_id,
                const json_t *ci, json_t **out, char *msg);
int gsvc_detach(struct guest_service *s, const char *id, const char *volume_id, char *msg);
int gsvc_volume_update(struct guest_service *s, const char *id, const char *volume_id,
                       const json_t *qos, int64_t size_gb, char *msg);

/* One reconcile pass (exposed for the periodic ticker and tests). */
void gsvc_reconcile(struct guest_service *s, int at_start);

#endif
