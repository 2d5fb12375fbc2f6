/* vol_json.h — the Cinder Block Storage v3 shapes of blockd, as pure
 * functions (no I/O): microversions and version documents, the volume,
 * snapshot and volume-type views of stored records, request-body checks, and
 * list filtering, sorting and paging with Cinder's *_links. */
#ifndef BLOCKD_VOL_JSON_H
#define BLOCKD_VOL_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/listsort.h"

/* Size of every `msg` buffer below (fits the service's VOL_MSG_MAX). */
#define VOLJ_MSG_MAX 256
#define VOLJ_MV_MIN 0       /* 3.0 */
#define VOLJ_MV_MAX 70      /* 3.70: the fields of cinder-volume-show-mv3.70 */
#define VOLJ_LIMIT_MAX 1000 /* Cinder's osapi_max_limit */
#define VOLJ_DEFAULT_TYPE_NAME "__DEFAULT__"
#define VOLJ_DEFAULT_TYPE_ID "5a8e2f2c-0b7e-4c2f-9b1f-5d7a0c3e9d10"

/* Errors: -EINVAL (400), -EPERM (403), -ENOENT (404), -ERANGE (406, a
 * microversion out of range), -ENOMEM; msg (VOLJ_MSG_MAX bytes) says why, in
 * Cinder's words where it has some.  Nothing is written to an out-parameter
 * on failure. */

/* ---- microversions and documents ---- */
/* The minor number of the "volume 3.N" a request asks for: from
 * `OpenStack-API-Version` ("volume 3.44", "volume latest", possibly among
 * other services' entries, comma-separated), else the legacy
 * `X-OpenStack-Volume-API-Version` ("3.44"); neither → 3.0.  A malformed
 * version → -EINVAL; major other than 3 or minor past VOLJ_MV_MAX → -ERANGE. */
int volj_microversion(const char *header, const char *legacy, unsigned *minor, char *msg);
/* Longest base URL of links ("http://host:port", [blockd] public_url). */
#define VOLJ_BASE_MAX 256
/* GET /: {"versions": [v3.0]}; GET /v3/: {"version": v3.0}, links under
 * base (the service's public URL).  NULL: ENOMEM. */
json_t *volj_versions(const char *base);
json_t *volj_version(const char *base);

/* ---- views ---- */
enum volj_view_kind {
    VOLJ_SUMMARY, /* id, name, links (GET /volumes) */
    VOLJ_BASIC,   /* the detail view without the extension attributes (create, update) */
    VOLJ_DETAIL,  /* + os-vol-tenant-attr, and for admins os-vol-host-attr/mig-status (show, detail)
                   */
};
struct volj_ctx {
    const char *base_url;   /* "http://host:port" */
    const char *project_id; /* of the URL: links are under it */
    unsigned mv;            /* microversion minor */
    bool is_admin;
};
/* Cinder's JSON for a stored volume record: only the members Cinder shows
 * (never "_s" or anything unknown), null/defaults where unset, times in
 * Cinder's "YYYY-MM-DDTHH:MM:SS.ffffff" form.  NULL: ENOMEM. */
json_t *volj_volume_view(const json_t *rec, enum volj_view_kind kind, const struct volj_ctx *c);
/* The same for a snapshot (summary = detail without the extended attributes). */
json_t *volj_snapshot_view(const json_t *rec, bool extended, const struct volj_ctx *c);
/* A stored time (unix seconds, or ISO 8601 text) in Cinder's form; JSON null when unset. */
json_t *volj_time(const json_t *v);
/* ---- request bodies (parsed values are borrowed from the body) ---- */
struct volj_create {
    const char *name, *description;
    int64_t size_gb; /* 0: the source's */
    const char *snapshot_id, *source_volid, *image_id;
    const char *volume_type; /* name or id, NULL = default (the service resolves it) */
    const char *availability_zone;
    const json_t *metadata; /* NULL = none */
};
/* POST /volumes: {"volume": {...}}. */
int volj_volume_create(const json_t *body, struct volj_create *out, char *msg);
struct volj_update {
    const char *name, *description; /* NULL = unchanged */
    const json_t *metadata;         /* NULL = unchanged */
};
/* PUT /volumes/{id} ({"volume": ...}) and PUT /snapshots/{id} ({"snapshot":
 * ...}, no metadata): at least one known member, nothing else. */
int volj_volume_update(const json_t *body, struct volj_update *out, char *msg);
int volj_snapshot_update(const json_t *body, struct volj_update *out, char *msg);
struct volj_snap_create {
    const char *volume_id, *name, *description;
    bool force;
    const json_t *metadata;
};
/* POST /snapshots: {"snapshot": {...}}. */
int volj_snapshot_create(const json_t *body, struct volj_snap_create *out, char *msg);
/* POST /backups: {"backup": {volume_id (required), name, description,
 * container, incremental, force, snapshot_id, metadata}} (borrowed). */
struct volj_backup_create {
    const char *volume_id, *name, *description, *container, *snapshot_id;
    bool incremental, force;
    const json_t *metadata;
};
int volj_backup_create(const json_t *body, struct volj_backup_create *out, char *msg);
/* POST /backups/{id}/restore: {"restore": {volume_id, name}} (both optional). */
int volj_backup_restore(const json_t *body, const char **volume_id, const char **name, char *msg);
/* POST /backups/import_record: {"backup-record": {backup_service, backup_url}}. */
int volj_backup_import(const json_t *body, const char **service, const char **url, char *msg);
/* POST /backups/{id}/action: os-reset_status {status} or os-force_delete. */
int volj_backup_action(const json_t *body, const char **reset_status, char *msg);
/* A backup: summary {id, name, links} or Cinder's detail (microversioned). */
json_t *volj_backup_view(const json_t *rec, bool detail, const struct volj_ctx *c);
/* POST /volumes/{id}/action. */
enum volj_action_kind {
    VOLJ_ACT_EXTEND,
    VOLJ_ACT_RESET_STATUS,
    VOLJ_ACT_RESERVE,
    VOLJ_ACT_UNRESERVE,
    VOLJ_ACT_BEGIN_DETACHING,
    VOLJ_ACT_ROLL_DETACHING,
    VOLJ_ACT_ATTACH,
    VOLJ_ACT_DETACH,
    VOLJ_ACT_INIT_CONNECTION,
    VOLJ_ACT_TERM_CONNECTION,
    VOLJ_ACT_REVERT,
    VOLJ_ACT_RETYPE,
    VOLJ_ACT_UPLOAD_IMAGE,
    VOLJ_ACT_UNMANAGE,
};
/* os-volume_upload_image's arguments. */
struct volj_upload {
    const char *image_name;        /* required */
    const char *container_format;  /* "bare" unless given */
    const char *disk_format;       /* "raw" (the only one: 400 otherwise) */
    const char *visibility;        /* NULL = imaged's default ("private" from 3.1 clients) */
    bool is_protected, force;
};
struct volj_action {
    enum volj_action_kind kind;
    int64_t new_size;           /* os-extend */
    const char *status;         /* os-reset_status (NULL: unchanged) */
    const char *attach_status;  /* os-reset_status: "attached"/"detached" or NULL */
    const char *instance_uuid;  /* os-attach (required) */
    const char *mountpoint;     /* os-attach (required) */
    const char *host_name;      /* os-attach */
    const char *mode;           /* os-attach: "rw"/"ro" */
    const char *attachment_id;  /* os-detach */
    const json_t *connector;    /* os-initialize/terminate_connection (required object) */
    const char *snapshot_id;    /* revert (required) */
    const char *new_type;       /* os-retype (required: name or id) */
    const char *migration_policy; /* os-retype: "never"/"on-demand" or NULL */
    struct volj_upload upload;  /* os-volume_upload_image */
};
int volj_volume_action(const json_t *body, struct volj_action *out, char *msg);
/* The answer to os-volume_upload_image: {"os-volume_upload_image": {id,
 * updated_at, status "uploading", display_description, size, volume_type
 * {name, id}, image_id, container_format, disk_format, image_name,
 * protected, visibility}}.  NULL: ENOMEM. */
json_t *volj_upload_view(const json_t *vol, const char *image_id, const struct volj_upload *u);
/* ---- manage / unmanage and capacity (vol_json_manage.c) ---- */
/* POST /manageable_volumes (3.8+) and the legacy POST /os-volume-manage:
 * {"volume": {"host", "ref": {"source-name": n} | {"source-id": id}, "name",
 * "description", "volume_type", "availability_zone", "bootable", "metadata"}}
 * (borrowed from body).  host is checked to be a string and ignored. */
struct volj_manage {
    const char *host;
    const char *source_name, *source_id; /* exactly one */
    const char *name, *description, *volume_type, *availability_zone;
    bool bootable;
    const json_t *metadata; /* NULL = none */
};
int volj_manage_body(const json_t *body, struct volj_manage *out, char *msg);
/* GET /manageable_volumes[/detail]: items is the service's array of
 * {"name", "bytes", "reason" (null = safe), "cinder_id" (null = not
 * blockd's)}; *out = {"manageable-volumes": [...]} in Cinder's shape (summary:
 * reference, size, safe_to_manage; detail adds reason_not_safe, cinder_id,
 * extra_info), sorted by name, after marker (a source-name: -EINVAL when it
 * is not listed), skipping offset, at most limit (0 = all). */
int volj_manageable_body(const json_t *items, bool detail, const char *marker, unsigned offset,
                         unsigned limit, json_t **out, char *msg);
/* One pool of GET /scheduler-stats/get_pools, as the service measured it. */
struct volj_pool_stats {
    char name[384];            /* "<host>@strata#<pool>" */
    char pool[128];
    char location_info[192];   /* "<fsid>:<pool>" */
    char timestamp[40];
    int64_t stored, max_avail; /* bytes, from ceph df */
    int64_t provisioned_gb, allocated_gb;
    double max_over_subscription_ratio;
};
/* {"pools": [{"name"}]} or, with detail, {"pools": [{"name", "capabilities":
 * {...}}]} (Cinder's RBD driver's capability names).  NULL: ENOMEM. */
json_t *volj_pools_view(const struct volj_pool_stats *p, bool detail);
/* GiB as Cinder reports capacities: bytes / 2^30 rounded to 2 decimals. */
double volj_gib2(int64_t bytes);
/* ---- attachments (3.27+) ---- */
/* Cinder's attachment view of a stored attachment record: id, status,
 * instance, volume_id; detail adds attached_at, detached_at, attach_mode and
 * connection_info.  NULL: ENOMEM. */
json_t *volj_attachment_view(const json_t *rec, bool detail);
struct volj_att_create {
    const char *volume_uuid;   /* required */
    const char *instance_uuid; /* may be NULL */
    const json_t *connector;   /* NULL = reserve only */
    const char *mode;          /* "rw" (NULL) or "ro" */
};
/* POST /attachments: {"attachment": {...}}. */
int volj_attachment_create(const json_t *body, struct volj_att_create *out, char *msg);
/* PUT /attachments/{id}: {"attachment": {"connector": {...}}}. */
int volj_attachment_update(const json_t *body, const json_t **connector, char *msg);
/* POST /attachments/{id}/action: {"os-complete": ...} is the only one. */
int volj_attachment_action(const json_t *body, char *msg);

/* Metadata as Cinder takes it: an object of ≤255-char strings under keys of
 * [A-Za-z0-9-_:. /]{1,255}. */
int volj_metadata_check(const json_t *md, char *msg);
/* -EFBIG (413) when md (NULL: none) has more than max items, msg naming the limit. */
int volj_metadata_count_check(const json_t *md, size_t max, char *msg);
/* The body of POST/PUT .../metadata ({"metadata": {...}}, key NULL) or of
 * PUT .../metadata/{key} ({"meta": {key: value}}, that one key): *md
 * (borrowed from body) checked as volj_metadata_check does. */
int volj_metadata_body(const json_t *body, const char *key, const json_t **md, char *msg);
/* A boolean query/body word: true/false/1/0/yes/no/on/off/t/f/y/n. */
int volj_bool_parse(const char *s, bool *out);

/* ---- lists ---- */
#define VOLJ_FILTERS_MAX 16
#define VOLJ_SORT_MAX 8

enum volj_list_kind { VOLJ_LIST_VOLUMES, VOLJ_LIST_SNAPSHOTS, VOLJ_LIST_BACKUPS };
typedef const char *(*volj_query_fn)(void *arg, const char *name, size_t nth);

struct volj_list_filter {
    const char *name;  /* record member ("name", "status", "volume_id"...) */
    const char *value; /* borrowed from the query */
    bool service;      /* a plain equality the service's list can apply */
};
struct volj_list_arg {
    const char *name, *value; /* borrowed from the query, repeated in next links */
};
struct volj_list_query {
    enum volj_list_kind kind;
    struct volj_list_arg arg[VOLJ_FILTERS_MAX + 8];
    size_t narg;
    struct volj_list_filter filter[VOLJ_FILTERS_MAX];
    size_t nfilter;
    json_t *metadata; /* metadata={"k":"v"} (owned: volj_list_query_clear) */
    struct st_sort_key sort[VOLJ_SORT_MAX + 2]; /* + created_at, id tie-breaks */
    size_t nsort;
    unsigned limit; /* VOLJ_LIMIT_MAX unless given */
    bool limit_given;
    unsigned offset;
    const char *marker;
    bool all_tenants; /* asked for (honoured for admins only) */
    bool with_count;  /* 3.45 */
};
/* Parse the query of GET /volumes[/detail] or /snapshots[/detail]: filters
 * (volumes: name, status, metadata, bootable, availability_zone, size,
 * volume_type; snapshots: name, status, volume_id, metadata), all_tenants,
 * limit, marker, offset (refused), sort=k[:dir],... or sort_key/sort_dir,
 * with_count.  Unknown arguments are ignored (Cinder before 3.34). */
int volj_list_parse(enum volj_list_kind kind, volj_query_fn get, void *arg, unsigned mv,
                    struct volj_list_query *q, char *msg);
void volj_list_query_clear(struct volj_list_query *q);
/* Parse `metadata={"k": "v"}` (JSON or cinderclient's Python-literal quotes)
 * into a new object of strings. */
int volj_metadata_query(const char *text, json_t **out, char *msg);
bool volj_list_match(const json_t *rec, const struct volj_list_query *q);
/* Remove the records of `recs` (array) that do not match. */
void volj_list_filter(json_t *recs, const struct volj_list_query *q);
/* Sort `recs` in place, then return in *page (new array, new references) the
 * `limit` records after the marker and *more whether any remain.  The marker
 * is looked up in `recs` unless marker_rec is given (a marker filtered out of
 * the set: placed by its sort keys); -ENOENT when absent. */
int volj_list_page(json_t *recs, const struct volj_list_query *q, const json_t *marker_rec,
                   json_t **page, bool *more);
/* {"volumes"|"snapshots": views[, "count": total][, "*_links": [{"href", "rel":
 * "next"}]]}: the next link is <base>/v3/<project>/<collection>[/detail]?
 * with the query's own arguments and marker=next_marker.  Takes `views`. */
json_t *volj_list_body(json_t *views, const struct volj_list_query *q, const struct volj_ctx *c,
                       bool detail, const char *next_marker, size_t count);

#endif
