/* srv_json.h — the compute API's JSON (Nova v2.1 shapes): create requests
 * checked into server records, records shaped into replies.  Pure. */
#ifndef SCHEDULER_SRV_JSON_H
#define SCHEDULER_SRV_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define SJ_MSG_MAX 512

/* Scheduler-side states of a server record (vm_state). */
#define SV_BUILDING "building"
#define SV_ACTIVE   "active"
#define SV_ERROR    "error"
#define SV_DELETING "deleting"

/* The parts of a create request that need lookups before the record is made. */
struct sj_create {
    const char *name;
    const char *image_id;          /* imageRef (boot from image), or NULL */
    const char *flavor_ref;
    const char *zone;              /* availability_zone or NULL */
    const char *group_id;          /* os:scheduler_hints.group or NULL */
    /* boot from volume (block_device_mapping_v2, boot_index 0) */
    const char *bdm_source;        /* "volume", "image" or NULL */
    const char *bdm_uuid;
    int64_t bdm_size_gb;           /* volume_size (source image) */
    bool bdm_delete;               /* delete_on_termination */
    const json_t *metadata;        /* object or NULL */
};

/* {"server": {...}, "os:scheduler_hints": {...}} into c (borrowing body).
 * -EINVAL and msg naming the field. */
int sj_parse_create(const json_t *body, struct sj_create *c, char *msg);

/* The new record (vm_state building) for c, the flavor record's data and the
 * caller; id is the new server's uuid. */
json_t *sj_new_record(const struct sj_create *c, const char *id, const json_t *flavor,
                      const char *project_id, const char *user_id, int64_t now_ms);

/* The reply view of a server record merged with its guest record (NULL if
 * none), as Nova's server show; admin adds the OS-EXT-SRV-ATTR fields. */
json_t *sj_server_view(const json_t *rec, const json_t *guest, const char *base, bool admin);
/* The short list entry {id, name, links}. */
json_t *sj_server_brief(const json_t *rec, const char *base);
/* Nova's status for a record and its guest record ("BUILD", "ACTIVE", ...). */
const char *sj_status(const json_t *rec, const json_t *guest);

/* Flavors: {"flavor": {...}} (admin create) into a record; views. */
int sj_parse_flavor(const json_t *body, json_t **rec, char *msg);
json_t *sj_flavor_view(const json_t *rec, const char *base, bool detail);

/* Server groups: {"server_group": {"name", "policies": [p] | "policy": p}}. */
int sj_parse_group(const json_t *body, const char *project_id, const char *user_id,
                   json_t **rec, char *msg);
json_t *sj_group_view(const json_t *rec);

/* The volume attachment view {id, serverId, volumeId, device}. */
json_t *sj_attachment_view(const char *server_id, const json_t *vol);

#endif
