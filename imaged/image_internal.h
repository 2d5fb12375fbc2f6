/* image_internal.h — state shared by imaged's service files (image_service.c:
 * records, tenancy, delete, clone; image_data.c: uploads, imports, downloads;
 * image_reconcile.c: crash recovery).  Not for the API layer. */
#ifndef IMAGED_IMAGE_INTERNAL_H
#define IMAGED_IMAGE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <rados/librados.h>
#include <stdbool.h>

#include "image_service.h"
#include "rbd_io.h"
#include "strata/meta.h"
#include "strata/qos_bulk.h"
#include "strata/ticker.h"

#define IMG_POOL_MAX 128

struct img_service {
    struct st_daemon *d;
    struct st_meta *meta;
    const char *owner;               /* lease owner id of this process */
    rados_ioctx_t images;            /* the images pool */
    char images_pool[IMG_POOL_MAX];
    /* pools clones may be made into (volumes, vms) */
    rados_ioctx_t clone_ioctx[2];
    char clone_pool[2][IMG_POOL_MAX];
    char fsid[40];
    bool show_direct_url;
    bool show_locations;
    char location_roles[256];
    char staging_dir[PATH_MAX];
    uint64_t max_image_size;
    uint64_t max_virtual_size;
    unsigned convert_timeout_s;
    int64_t lease_ttl_ms;
    int64_t reconcile_interval_ms;
    struct img_writer_config wcfg;   /* .pool = iobufs */
    struct st_bufpool *iobufs;       /* [imaged] io_buffers: every upload's and download's buffers */
    struct qos_bulk bulk;            /* [imaged] bulk_bytes_sec, bulk_image_bytes_sec */
    struct st_workpool *workers;
    struct st_ticker reconciler;     /* periodic reconcile */
};

extern const struct st_meta_kind img_kind;

/* Status names. */
#define IMG_QUEUED "queued"
#define IMG_SAVING "saving"
#define IMG_UPLOADING "uploading"
#define IMG_IMPORTING "importing"
#define IMG_ACTIVE "active"
#define IMG_KILLED "killed"
#define IMG_DEACTIVATED "deactivated"
#define IMG_DELETED "deleted"

/* Lease operations. */
#define IMG_OP_IMPORT_RBD "import-rbd"
#define IMG_OP_UPLOAD "upload"
#define IMG_OP_STAGE "stage"
#define IMG_OP_IMPORT "import"

/* Record helpers (image_service.c). */
bool img_rec_visible(const json_t *rec, const struct st_auth_ctx *who);
bool img_rec_editable(const json_t *rec, const struct st_auth_ctx *who);
void img_now_iso(char *buf, size_t len);
/* Get a record the caller may see: -ENOENT otherwise.  rec->data owned by rec. */
int img_get_visible(struct img_service *s, const struct st_auth_ctx *who, const char *id,
                    struct st_record *rec);
/* Set status (and updated_at) with compare-and-swap, only if the current
 * status is `from` (NULL = any): -ECANCELED if it is not.  extra (optional)
 * is merged into the record (members set; "_s" members merged into "_s"). */
int img_set_status(struct img_service *s, const char *id, const char *from, const char *to,
                   const json_t *extra);
/* The same, fenced: only while this process holds the image's lease
 * (-ESTALE once another owner took it).  Every step of an upload, import or
 * reconcile uses it, so a paused process cannot undo its successor's work. */
int img_set_status_leased(struct img_service *s, const char *id, const char *from,
                          const char *to, const json_t *extra);
/* img_create with the initial status, "_s" members and, when lease_op is
 * given, the record's lease taken in the same write (a long operation's start). */
int img_create_as(struct img_service *s, const struct st_auth_ctx *who, const json_t *fields,
                  const char *status, const json_t *priv, const char *lease_op, json_t **out,
                  char *msg);
/* Which configured clone pool (volumes, vms) `pool` is: 0/1, or -1. */
int img_clone_pool_index(const struct img_service *s, const char *pool);
/* A plain RBD name ([A-Za-z0-9._-], 1..96). */
/* Staging file path of an image. */
void img_staging_path(const struct img_service *s, const char *id, const char *suffix,
                      char *buf, size_t len);
/* Remove the RBD image of a record and its staging files (missing is fine). */
int img_remove_data(struct img_service *s, const char *id);
/* Remove a hidden (deleted) image's data and record once no clone needs it:
 * -EBUSY while clones remain (the record stays hidden). */
int img_purge_deleted(struct img_service *s, const char *id);
/* Drop the image's clone records ("_s".clones) whose child RBD image no
 * longer exists: 0 or -errno (-ENOENT: no such record). */
int img_prune_clones(struct img_service *s, const char *id);

/* The store Glance's import properties name (os_glance_importing_to_stores,
 * os_glance_failed_import). */
#define IMG_STORE_ID "rbd"
/* Into extra (a status change's members): the outcome of the glance-direct
 * import recorded on rec (its _s.import_task, if one is in progress) — failed
 * (rc < 0, reason msg) or done.  No import in progress: extra is unchanged. */
int img_import_outcome(const json_t *rec, int rc, const char *msg, json_t *extra);

/* image_data.c: ingest a staged file (any format qemu-img reads) into RBD as
 * raw and make the image active; on failure the image returns to queued. */
int img_ingest_staged(struct img_service *s, const char *id, char *msg);
/* Run img_ingest_staged in the worker pool; the caller holds the image's
 * lease, which the pool renews and releases when the job ends. */
int img_import_submit(struct img_service *s, const char *id);
/* The same, waiting for the outcome (PUT /file of a format to convert). */
int img_ingest_wait(struct img_service *s, const char *id, char *msg);

/* image_rbdimport.c: resume an interrupted import-rbd (the caller holds the
 * image's lease, which the job then owns).  -EINVAL if the record is not one. */
int img_import_rbd_resume(struct img_service *s, const char *id);

/* image_reconcile.c */
int img_reconcile_start(struct img_service *s);
void img_reconcile_stop(struct img_service *s);

#endif
