/* image_json.h — the Glance v2 shapes of imaged, as pure functions (no I/O):
 * one property table drives the image schema document, create-body and
 * JSON-patch validation and the image view; plus list filtering, sorting and
 * paging, HTTP Range parsing and the version/discovery documents. */
#ifndef IMAGED_IMAGE_JSON_H
#define IMAGED_IMAGE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/listsort.h"

/* Size of every `msg` buffer below (fits the service's IMG_MSG_MAX). */
#define IMGJ_MSG_MAX 256
#define IMGJ_TAGS_MAX 128  /* tags per image (Glance's image_tag_quota) */
#define IMGJ_PROPS_MAX 128 /* free-form properties per image (image_property_quota) */
#define IMGJ_LIMIT_DEFAULT 25
#define IMGJ_LIMIT_MAX 1000

/* Errors: -EINVAL (400), -EPERM (403), -ECANCELED (409), -EFBIG (413),
 * -ENOMEM; msg (IMGJ_MSG_MAX bytes) says why, in Glance's words where it has
 * some.  Nothing is written to an out-parameter on failure. */

/* ---- documents ---- */
/* GET /v2/schemas/image and /v2/schemas/images. */
json_t *imgj_schema_image(void);
json_t *imgj_schema_images(void);
/* {"versions": [...]} with hrefs "http://<host>/v2/" (host from the Host
 * header; "localhost" when absent or not a plausible host[:port]). */
json_t *imgj_versions(const char *host);
/* GET /v2/info/import. */
json_t *imgj_import_info(void);
/* "http://<host>" into buf (same host rules as imgj_versions). */
int imgj_base_url(const char *host, char *buf, size_t len);

/* ---- the image view ---- */
struct imgj_view_opts {
    bool show_direct_url; /* add direct_url to images that have data */
    bool show_locations;  /* add locations [{url, metadata}] likewise */
    const char *fsid;     /* for rbd://<fsid>/<pool>/<id>/snap */
    const char *pool;
};
/* Glance's JSON for a stored record: every user-visible member (never "_s"
 * or anything else starting with '_'), the base attributes with null/default
 * when unset, and self, file, schema (+ direct_url/locations).  NULL: ENOMEM. */
json_t *imgj_view(const json_t *record, const struct imgj_view_opts *o);
/* GET /v2/images/{id}/tasks: {"tasks": [the image's last import task]}
 * ([] when it was never imported).  NULL: ENOMEM. */
json_t *imgj_tasks_view(const json_t *record);
/* Whether the image has data (active or deactivated). */
bool imgj_has_data(const json_t *record);

/* ---- create ---- */
/* Check a POST /v2/images body against the schema: reserved and read-only
 * attributes (-EPERM; owner is writable by admins), types, enums, lengths,
 * the id's form, tag and property limits.  *fields = a copy with defaults
 * filled (visibility "shared", protected/os_hidden false, min_* 0, tags [],
 * name/disk_format/container_format null) and tags de-duplicated. */
int imgj_create_fields(const json_t *body, bool is_admin, json_t **fields, char *msg);

/* ---- PATCH (RFC 6902 with Glance's rules) ---- */
struct imgj_patch;
/* Media type of the PATCH body: *draft = 10 for
 * application/openstack-images-v2.1-json-patch, 4 for -v2.0-; -EINVAL for
 * anything else (the caller answers 415). */
int imgj_patch_media_type(const char *content_type, int *draft);
/* Parse and check the operations (everything that needs no record: form,
 * paths, read-only/reserved names, value types). */
int imgj_patch_parse(const json_t *ops, int draft, bool is_admin, struct imgj_patch **out,
                     char *msg);
/* Apply to a stored record in place (all or nothing): missing properties
 * (-ECANCELED), format changes of a non-queued image (-EPERM), limits. */
int imgj_patch_apply(json_t *record, const struct imgj_patch *p, char *msg);
void imgj_patch_free(struct imgj_patch *p);

/* ---- tags (PUT/DELETE /v2/images/{id}/tags/{tag}) ---- */
int imgj_tag_check(const char *tag, char *msg);
/* Add (no-op when present; -EFBIG past IMGJ_TAGS_MAX) / remove (-ENOENT when absent). */
int imgj_tag_add(json_t *record, const char *tag, char *msg);
int imgj_tag_remove(json_t *record, const char *tag, char *msg);

/* ---- list ---- */
#define IMGJ_SORT_MAX 8
#define IMGJ_QUERY_MAX 32

/* Query-string lookup: the nth value (0-based) of a repeated argument, or NULL. */
typedef const char *(*imgj_query_fn)(void *arg, const char *name, size_t nth);

struct imgj_list_arg {
    const char *name;  /* as in the query string */
    const char *value; /* borrowed from the query */
    bool service;      /* a plain equality filter img_list can apply itself */
};
struct imgj_list_query {
    struct imgj_list_arg arg[IMGJ_QUERY_MAX]; /* filters and sorting, kept for links */
    size_t narg;
    struct st_sort_key sort[IMGJ_SORT_MAX + 2]; /* + created_at, id tie-breaks */
    size_t nsort;
    unsigned limit;
    bool limit_given;
    const char *marker; /* image id or NULL */
};
/* Parse GET /v2/images arguments (unknown ones are ignored, like
 * member_status): bad limit, sort key/dir, booleans, sizes, visibility → -EINVAL. */
int imgj_list_parse(imgj_query_fn get, void *arg, struct imgj_list_query *q, char *msg);
/* Whether a record passes every filter of q (os_hidden defaults to false). */
bool imgj_list_match(const json_t *record, const struct imgj_list_query *q);
/* Remove the records of `images` (array) that do not match. */
void imgj_list_filter(json_t *images, const struct imgj_list_query *q);
/* Sort `images` in place by q's keys, then return in *page (new array, new
 * references) the `limit` records after the marker, and *more whether any
 * remain after them.  The marker is looked up in `images` by id unless
 * marker_rec is given (a marker filtered out of the set); -ENOENT when absent. */
int imgj_list_page(json_t *images, const struct imgj_list_query *q, const json_t *marker_rec,
                   json_t **page, bool *more);
/* {"images": views, "first", "schema"[, "next" with marker=next_marker]};
 * takes `views`.  NULL: ENOMEM. */
json_t *imgj_list_body(json_t *views, const struct imgj_list_query *q, const char *next_marker);

/* ---- downloads ---- */
struct imgj_range {
    bool partial; /* false: send everything (no Range, or one to ignore) */
    uint64_t offset;
    uint64_t length;
};
/* Parse a Range header against the data size: a single "bytes=a-b", "a-" or
 * "-n" range → partial; absent, malformed or multi-range → whole (ignored as
 * RFC 7233 allows); -ERANGE when unsatisfiable (416). */
int imgj_parse_range(const char *header, uint64_t size, struct imgj_range *out);
/* Whether a Content-Type header names `type` (parameters and case ignored). */
bool imgj_media_type_is(const char *header, const char *type);

/* ---- small bodies ---- */
/* POST /v2/images/{id}/import: {"method": {"name": "glance-direct"}}. */
int imgj_import_method(const json_t *body, const char **method, char *msg);
struct imgj_clone_req {
    const char *pool; /* borrowed from the body */
    const char *name;
    uint64_t size; /* 0 = the image's size */
    const char *project_id; /* on whose behalf (visibility is checked for it); NULL = caller */
};
/* POST /internal/v1/images/{id}/clone: {"pool", "name", "size"?, "project_id"?}. */
int imgj_clone_req(const json_t *body, struct imgj_clone_req *out, char *msg);

struct imgj_import_rbd_req {
    const char *pool, *name, *snap; /* the source: pool/name@snap (borrowed) */
    const char *project_id;         /* on whose behalf; NULL = caller */
    const json_t *image;            /* POST /v2/images-like properties, or NULL */
};
/* POST /internal/v1/images/{id}/import-rbd: {"pool", "name", "snap",
 * "project_id"?, "image"?: {name, disk_format, container_format, visibility, ...}}. */
int imgj_import_rbd_req(const json_t *body, struct imgj_import_rbd_req *out, char *msg);

#endif
