/* image_service.h — imaged's logic: image records and their state machine
 * (queued → saving → active | killed; active ↔ deactivated; deleted), tenancy,
 * uploads into RBD, downloads, copy-on-write clones for the other daemons, and
 * reconciliation after a crash.  No HTTP or Glance JSON here (see api_images.c).
 *
 * Records are JSON objects in the metadata store (kind "image").  Every field a
 * Glance client sees is a top-level member (the free-form properties too);
 * Strata's private state lives under "_s" and is never shown.  Errors: -ENOENT
 * (missing or not visible to the caller), -EPERM (visible but not allowed:
 * 403), -ECANCELED/-EBUSY (409: wrong state or concurrent change), -EINVAL
 * (400, with a message in the service's per-call `msg` buffer), -EFBIG (413). */
#ifndef IMAGED_IMAGE_SERVICE_H
#define IMAGED_IMAGE_SERVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "strata/auth.h"

struct st_daemon;
struct img_service;

#define IMG_MSG_MAX 256

/* ---- life cycle ---- */
int img_service_create(struct st_daemon *d, struct img_service **out);
void img_service_destroy(struct img_service *s);
/* Reconcile: fail or reset uploads/imports whose lease went stale, finish
 * deferred deletes whose clones are gone, remove RBD images no record owns.
 * Run at start and periodically. */
int img_service_reconcile(struct img_service *s);

/* Values the API layer needs to format responses. */
/* Whether `who` sees an image's direct_url and its locations ([imaged]
 * show_image_direct_url, show_multiple_locations, for location_roles only). */
void img_service_show_location(const struct img_service *s, const struct st_auth_ctx *who,
                               bool *direct_url, bool *locations);
const char *img_service_fsid(const struct img_service *s);
const char *img_service_pool(const struct img_service *s);

/* ---- records (json_t objects in stored form; caller owns *out) ---- */
/* fields: the validated POST /v2/images body (the API layer checked names and
 * types against the schema and rejected read-only ones).  The id is taken
 * from fields["id"] when given, else generated.  Status queued. */
int img_create(struct img_service *s, const struct st_auth_ctx *who, const json_t *fields,
               json_t **out, char *msg);
int img_get(struct img_service *s, const struct st_auth_ctx *who, const char *id, json_t **out);

/* Every image the caller may see that matches the equality filters (top-level
 * field = value; "tag" matches one of the tags; "visibility" as Glance means
 * it: none given = everything the caller sees except community images of
 * others).  *out is a JSON array of records, unsorted; the API sorts and pages. */
struct img_filter {
    const char *field;
    const char *value;
};
int img_list(struct img_service *s, const struct st_auth_ctx *who,
             const struct img_filter *filters, size_t nfilters, json_t **out);

/* Apply edits in a compare-and-swap loop: fn gets a copy of the stored record
 * and edits it (it must only touch user-visible fields; it returns 0, or
 * -EINVAL/-EPERM with msg filled).  Only the owner or admin may edit. */
typedef int (*img_edit_fn)(json_t *record, void *arg, char *msg);
int img_update(struct img_service *s, const struct st_auth_ctx *who, const char *id,
               img_edit_fn fn, void *arg, json_t **out, char *msg);
int img_delete(struct img_service *s, const struct st_auth_ctx *who, const char *id, char *msg);
int img_deactivate(struct img_service *s, const struct st_auth_ctx *who, const char *id, char *msg);
int img_reactivate(struct img_service *s, const struct st_auth_ctx *who, const char *id, char *msg);

/* ---- data ---- */
struct img_upload;
/* PUT /file (and /stage with staging = true): the image must be queued and
 * owned by the caller.  content_length < 0 when unknown. */
int img_upload_begin(struct img_service *s, const struct st_auth_ctx *who, const char *id,
                     int64_t content_length, bool staging, struct img_upload **out, char *msg);
/* The client's declared checksum (Content-MD5 header: hex or base64 of the
 * md5): a mismatch at the end kills the image.  -EINVAL if malformed. */
int img_upload_expect_md5(struct img_upload *u, const char *content_md5);
int img_upload_data(struct img_upload *u, const char *buf, size_t len);
/* err != 0: the body did not arrive (client gone) — undo.  0: finish; on a
 * mismatch with a declared size/checksum the image is killed and -EINVAL
 * returned with msg.  Frees u in every case; *out = the final record. */
int img_upload_end(struct img_upload *u, int err, json_t **out, char *msg);

/* POST /import with glance-direct: convert the staged data in the background. */
int img_import(struct img_service *s, const struct st_auth_ctx *who, const char *id,
               const char *method, char *msg);

struct img_download;
/* Active (or, for admins, deactivated) images; range [offset, offset+len).
 * -ENODATA when the image has no data yet (Glance answers 204). */
int img_download_open(struct img_service *s, const struct st_auth_ctx *who, const char *id,
                      uint64_t offset, int64_t len, struct img_download **out,
                      uint64_t *total_size, json_t **record);
ssize_t img_download_read(struct img_download *dl, char *buf, size_t max);
void img_download_close(struct img_download *dl);

/* ---- clones for blockd and computed ---- */
/* COW clone of <id>@snap into `pool` (one of the configured volumes/vms pools)
 * as `name`, at least `size` bytes (0 = the image's size).  The caller must be
 * able to see the image.  Recorded against the image. */
int img_clone(struct img_service *s, const struct st_auth_ctx *who, const char *id,
              const char *pool, const char *name, uint64_t size, json_t **out, char *msg);

/* An image made from a snapshot of another pool's RBD image (blockd's
 * upload-to-image): id (lowercase uuid) and fields as POST /v2/images takes
 * them; pool must be a configured clone pool (volumes, vms).  The record is
 * made "saving" with its lease and returned at once; a worker clones
 * pool/name@snap into the images pool, flattens it (the image never depends
 * on its source), protects "snap" and makes it active, or kills it.  The
 * source snapshot may be removed once the image is active, killed or gone. */
int img_import_rbd(struct img_service *s, const struct st_auth_ctx *who, const char *id,
                   const json_t *fields, const char *pool, const char *name, const char *snap,
                   json_t **out, char *msg);

#endif
