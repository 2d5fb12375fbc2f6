/* guest_json.h — the agent API's JSON: requests (spawn, actions, volume attach
 * and update) decoded into structs, spawn records, and reply views.  Pure. */
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

/* A spawn request, decoded and checked: the strings point into the body (which
 * must outlive it); root_disk is owned (the record's, normalised). */
struct gj_spawn_req {
    const char *id, *name, *project_id;
    const char *flavor; /* NULL: none */
    int64_t vcpus, ram_mb;
    json_t *root_disk;
};

/* Decode a spawn body ({...} or Nova's {"server": {...}}) into *q: 0, or
 * -EINVAL and msg when a field is missing or wrong (q cleaned up either way
 * by gj_spawn_req_cleanup). */
int gj_spawn_req(const json_t *body, struct gj_spawn_req *q, char *msg);
void gj_spawn_req_cleanup(struct gj_spawn_req *q);

/* The new record of a spawn (status building, desired running) for `host`,
 * at now_ms: 0 or -ENOMEM. */
int gj_spawn_record(const struct gj_spawn_req *q, const char *host, int64_t now_ms, json_t **rec);

/* Whether an existing record answers the same spawn request (idempotent retry):
 * same project, flavor and root disk. */
int gj_spawn_matches(const json_t *rec, const struct gj_spawn_req *q);

enum gj_action { GJ_START, GJ_STOP, GJ_REBOOT_SOFT, GJ_REBOOT_HARD };
/* {"start": {}} / {"stop": null} / {"reboot": {"type": "SOFT"|"HARD"}} or
 * {"action": "reboot", "type": "hard"}: -EINVAL and msg otherwise. */
int gj_action(const json_t *req, enum gj_action *out, char *msg);
const char *gj_action_name(enum gj_action a);

/* A volume attach: {"volume_id": uuid, "connection_info": {...}} (borrowed
 * from the body): -EINVAL and msg. */
struct gj_attach_req {
    const char *volume_id;
    const json_t *connection_info;
};
int gj_attach(const json_t *req, struct gj_attach_req *q, char *msg);

/* A volume update: {"qos_specs": {...}|null, "size_gb": N} (either or both):
 * qos NULL = unchanged, a JSON null = no limits (borrowed from the body);
 * size_gb 0 = unchanged.  -EINVAL and msg. */
struct gj_volume_update_req {
    const json_t *qos;
    int64_t size_gb;
};
int gj_volume_update(const json_t *req, struct gj_volume_update_req *q, char *msg);

/* The reply view of a record (new reference): no internal fields. */
json_t *gj_view(const json_t *rec);
/* The views of an array of records (new array), NULL on -ENOMEM. */
json_t *gj_list_view(const json_t *recs);
/* The reply view of one of a record's volumes: volume_id, target, device. */
json_t *gj_attachment_view(const json_t *vol);

/* Last `lines` lines of a console log text (0 = all): pointer into text. */
const char *gj_console_tail(const char *text, size_t len, long lines);

#endif
