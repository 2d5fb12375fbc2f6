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

/* The service takes decoded requests (guest_json.h) and answers records (new
 * references); the API shapes the replies (gj_view, gj_attachment_view). */

/* Spawn (idempotent by id): *rec, and *created tells a new record (202) from a
 * retry of the same request (200).  -EEXIST when the id is used differently. */
int gsvc_spawn(struct guest_service *s, const struct gj_spawn_req *q, json_t **rec, int *created,
               char *msg);
/* The records of this host (and project, if given): a new array. */
int gsvc_list(struct guest_service *s, const char *project_id, json_t **recs);
/* A server's record, with its live power state. */
int gsvc_show(struct guest_service *s, const char *id, json_t **rec);
/* Power actions and delete run in the background (202): -ECANCELED and msg
 * when another operation holds the server or the state forbids it. */
int gsvc_action(struct guest_service *s, const char *id, enum gj_action a, char *msg);
int gsvc_delete(struct guest_service *s, const char *id, char *msg);
/* Console log text (malloc'd), the last `lines` lines (0 = all). */
int gsvc_console(struct guest_service *s, const char *id, long lines, char **text, size_t *len);

/* Volumes: attach (idempotent by volume id; *vol the record's entry for it),
 * detach, live QoS/size update. */
int gsvc_attach(struct guest_service *s, const char *id, const struct gj_attach_req *q,
                json_t **vol, char *msg);
int gsvc_detach(struct guest_service *s, const char *id, const char *volume_id, char *msg);
int gsvc_volume_update(struct guest_service *s, const char *id, const char *volume_id,
                       const struct gj_volume_update_req *q, char *msg);

/* One reconcile pass (exposed for the periodic ticker and tests). */
void gsvc_reconcile(struct guest_service *s, int at_start);

#endif
