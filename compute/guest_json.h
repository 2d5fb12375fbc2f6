/* guest_json.h — the agent API's JSON: requests checked into records (spawn,
 * actions, volume attach/update) and records shaped into replies.  Pure. */
#ifndef COMPUTE_GUEST_JSON_H
#define COMPUTE_GUEST_JSON_H

#include <jansson.h>
#include <stdint.h>

#define GJ_MSG_MAX 256

/* Guest record fields (kind "guest", id = server id). */
#define GS_BUILDING "building"
#define GS_ACTIVE   "active"
#define GS_STOPPED  "stopped"
#define GS_ERROR    "error"
#define GS_DELETING "deleting"

/* A spawn request into a new record (status building, desired running) for
 * `host`, at now_ms.  -EINVAL and msg when a field is missing or wrong. */
int gj_spawn_record(const json_t *req, const char *host, int64_t now_ms, json_t **rec,
                    char *msg);

/* Whether an existing record answers the same spawn request (idempotent retry):
 * same project, flavor and root disk. */
int gj_spawn_matches(const json_t *rec, const json_t *req);

enum gj_action { GJ_START, GJ_STOP, GJ_REBOOT_SOFT, GJ_REBOOT_HARD };
/* {"start": {}} / {"stop": null} / {"reboot": {"type": "SOFT"|"HARD"}} or
 * {"action": "reboot", "type": "hard"}: -EINVAL and msg otherwise. */
int gj_action(const json_t *req, enum gj_action *out, char *msg);
const char *gj_action_name(enum gj_action a);

/* {"volume_id": uuid, "connection_info": {...}}: -EINVAL and msg. */
int gj_attach(const json_t *req, const char **volume_id, const json_t **ci, char *msg);
/* {"qos_specs": {...}|null, "size_gb": N} (either or both): *qos NULL =
 * unchanged, a JSON null = no limits; *size_gb 0 = unchanged.  -EINVAL and msg. */
int gj_volume_update(const json_t *req, const json_t **qos, int64_t *size_gb, char *msg);

/* The reply view of a record (new reference): no internal fields. */
json_t *gj_view(const json_t *rec);

/* Last `lines` lines of a console log text (0 = all): pointer into text. */
const char *gj_console_tail(const char *text, size_t len, long lines);

#endif
