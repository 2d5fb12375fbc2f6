/* vol_service.h — blockd's logic: volume and snapshot records and their state
 * machine (Cinder's), tenancy, and the long operations (create from nothing /
 * an image / a snapshot / a volume, extend, delete) run as leased jobs on RBD.
 * No HTTP or Cinder JSON here (see api_volumes.c).
 *
 * Records are JSON objects in the metadata store (kinds "volume" and
 * "snapshot"); every field a Cinder client sees is a top-level member, and
 * Strata's private state lives under "_s" (never shown).  Errors: -ENOENT
 * (missing or another project's: 404), -EPERM (403), -ECANCELED (409, wrong
 * status: msg names the current one), -EINVAL (400, msg says why), -EDQUOT
 * (413, over quota), -EBUSY (409, dependents exist). */
#ifndef BLOCKD_VOL_SERVICE_H
#define BLOCKD_VOL_SERVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/auth.h"

struct st_daemon;
struct vol_service;
struct vol_types;

#define VOL_MSG_MAX 256

int vol_service_create(struct st_daemon *d, struct vol_service **out);
void vol_service_destroy(struct vol_service *s);
/* Crash recovery (start-up and periodic): interrupted creates end in error
 * with their partial RBD image removed, interrupted deletes and extends are
 * finished, RBD images that no record owns are removed. */
int vol_service_reconcile(struct vol_service *s);
/* Its quotas (vol_quota.h), for the quota API. */
struct vol_quota *vol_service_quota(struct vol_service *s);
/* Its volume types and qos-specs (vol_types.h), for the types API. */
struct vol_types *vol_service_types(struct vol_service *s);
/* [blockd] max_metadata_items: metadata items a volume or snapshot may have. */
size_t vol_service_metadata_max(const struct vol_service *s);
/* The base of its links and version documents ([blockd] public_url, else
 * http://<bind>:<port>); never taken from a request. */
const char *vol_service_public_url(const struct vol_service *s);
/* The qos-specs of these volume types (JSON array of ids) changed: every
 * volume of theirs gets its librbd limits re-applied in the background. */
int vol_service_qos_changed(struct vol_service *s, const json_t *type_ids);

/* What a create asks for (the API layer validated types). */
struct vol_create_req {
    const char *name;            /* may be NULL */
    const char *description;     /* may be NULL */
    int64_t size_gb;             /* 0 = the source's size (snapshot, volume, image) */
    const char *snapshot_id;     /* at most one source */
    const char *source_volid;
    const char *image_id;        /* imageRef */
    const char *backup_id;       /* a backup to restore (3.47+, and backup restore) */
    const char *volume_type;     /* name or id; NULL = default (-ENOENT: 404 if unknown) */
    const char *availability_zone;
    const json_t *metadata;      /* object of strings, or NULL */
};

/* ---- volumes (caller owns *out; records in stored form) ---- */
/* Records the volume as "creating" and returns at once; a worker makes the
 * RBD image and moves it to "available" (or "error"). */
int vol_create(struct vol_service *s, const struct st_auth_ctx *who,
               const struct vol_create_req *req, json_t **out, char *msg);
int vol_get(struct vol_service *s, const struct st_auth_ctx *who, const char *id, json_t **out);
/* Volumes visible to the caller (its project's; admin with all_projects: all)
 * that match the equality filters; unsorted, the API sorts and pages. */
struct vol_filter {
    const char *field;
    const char *value;
};
int vol_list(struct vol_service *s, const struct st_auth_ctx *who, bool all_projects,
             const struct vol_filter *filters, size_t nfilters, json_t **out);
/* name, description, metadata (object of strings, replaces) — NULL = unchanged. */
int vol_update(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               const char *name, const char *description, const json_t *metadata,
               json_t **out, char *msg);
/* Metadata of a volume or a snapshot (the record's "metadata", strings
 * checked by the caller): VMD_MERGE adds md's keys, VMD_REPLACE makes md the
 * whole set, VMD_DELETE removes key (-ENOENT and msg when it has none).
 * The same edit as vol_update/snap_update; *out: the updated record. */
enum vol_res { VOL_RES_VOLUME, VOL_RES_SNAPSHOT };
enum vol_md_op { VMD_MERGE, VMD_REPLACE, VMD_DELETE };
int vol_metadata_edit(struct vol_service *s, const struct st_auth_ctx *who, enum vol_res res,
                      const char *id, enum vol_md_op op, const json_t *md, const char *key,
                      json_t **out, char *msg);
/* available/error → deleting (async).  With snapshots: -EINVAL (400, as
 * Cinder answers) unless cascade.  Counted under the volume's lease, which
 * snap_create also takes, so no snapshot can slip in between. */
int vol_delete(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               bool cascade, char *msg);
/* available → extending → available (async); new_size_gb > size.  With
 * in_use_ok (microversion 3.42+) also in-use → extending → in-use, and once
 * the RBD image is resized the compute agent of each attached server is asked
 * to show the guest the new size (best effort: logged when it fails). */
int vol_extend(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               int64_t new_size_gb, bool in_use_ok, char *msg);
/* available → reverting → available (async): roll the volume back to
 * snapshot_id, which must be its latest snapshot (3.40). */
int vol_revert(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               const char *snapshot_id, char *msg);
/* available|in-use → retyping → back (async): the volume takes type
 * new_type (name or id; -ENOENT when unknown) and its back-end QoS is applied
 * to the RBD image (every type maps to the same pool: no data moves). */
int vol_retype(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               const char *new_type, char *msg);
/* os-volume_upload_image: a new image in imaged from the volume's data
 * without copying it through any API.  Under the volume's lease, the volume
 * goes uploading, a protected RBD snapshot "upload-<image id>" is taken and
 * imaged is asked (import-rbd) to clone it into the images pool and flatten
 * it in the background; once imaged has accepted, the volume is back to
 * available/in-use and the snapshot is removed by reconcile when the image is
 * active (or gone).  In-use volumes need force.  *out: the volume record (as
 * "uploading"), image_id (37 bytes): the new image's id.  -EIO (503) when
 * imaged is unreachable, -EINVAL when it refuses (msg). */
struct vol_upload_req {
    const char *image_name, *visibility;
    bool is_protected, force;
};
int vol_upload_image(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                     const struct vol_upload_req *u, json_t **out, char *image_id, char *msg);
/* Admin: set status and/or attach_status (NULL = unchanged) whatever they
 * are; "detached" also forgets the volume's attachments (their records go). */
int vol_reset_status(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                     const char *status, const char *attach_status, char *msg);

/* ---- capacity (vol_capacity.c) ---- */
struct volj_pool_stats;
/* The volumes pool as Cinder's get_pools shows it: ceph df's stored and
 * max_avail for the pool, the sums of blockd's volume sizes, the configured
 * over-subscription ratio, "<fsid>:<pool>".  -EIO (503, msg) when Ceph or the
 * metadata store does not answer. */
int vol_capacity(struct vol_service *s, struct volj_pool_stats *out, char *msg);

/* ---- manage / unmanage (vol_manage.c; admins only: -EPERM) ---- */
/* Adopt RBD image source_name (or the image whose RBD id is source_id) of
 * the volumes pool as a new volume of project_id, sized ceil(bytes / GiB):
 * the record is written "managing" with its lease and returned at once; a job
 * renames the image volume-<id>, grows it to the whole GiB, applies the
 * type's QoS and makes it available (reconcile finishes an interrupted one).
 * -EINVAL (msg) for an unknown image or one blockd already owns, -EDQUOT. */
struct vol_manage_req {
    const char *project_id;
    const char *source_name, *source_id;
    const char *name, *description, *volume_type, *availability_zone;
    bool bootable;
    const json_t *metadata;
};
int vol_manage(struct vol_service *s, const struct st_auth_ctx *who,
               const struct vol_manage_req *req, json_t **out, char *msg);
/* Every image of the volumes pool: *items = [{"name", "bytes", "reason"
 * (null when safe to manage), "cinder_id" (the volume owning it, or null)}]. */
int vol_manageable(struct vol_service *s, const struct st_auth_ctx *who, json_t **items);
/* Forget an available volume without snapshots, attachments, uploads,
 * backups or clones in progress, keeping its RBD image volume-<id> (marked so
 * the orphan sweep leaves it): available → unmanaging, then the record and its
 * quota usage go (async).  -EINVAL (400, msg) when refused. */
int vol_unmanage(struct vol_service *s, const struct st_auth_ctx *who, const char *id, char *msg);

/* ---- attach/detach (Cinder's volume actions; quick CAS transitions) ---- */
enum vol_attach_op {
    VA_RESERVE,        /* available → reserved */
    VA_UNRESERVE,      /* reserved → available */
    VA_BEGIN_DETACH,   /* in-use → detaching */
    VA_ROLL_DETACH,    /* detaching → in-use */
    VA_ATTACH,         /* reserved|attaching → in-use, + an attachment */
    VA_DETACH,         /* in-use|detaching → available (in-use while others remain) */
    VA_INIT_CONN,      /* *out = {"connection_info": {...}} */
    VA_TERM_CONN,      /* nothing to undo on RBD */
};
struct vol_attach_req {
    enum vol_attach_op op;
    const char *instance_uuid, *mountpoint, *host_name, *mode; /* VA_ATTACH */
    const char *attachment_id;                                 /* VA_DETACH (NULL = the one) */
    const json_t *connector;                                   /* VA_*_CONN */
};
int vol_attach_action(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                      const struct vol_attach_req *req, json_t **out, char *msg);

/* ---- attachments (the 3.27+ API; records of kind "attachment") ---- */
/* Volume available → reserved (no connector) or attaching (connection_info
 * filled), then the attachment record. */
int att_create(struct vol_service *s, const struct st_auth_ctx *who, const char *volume_id,
               const char *instance, const json_t *connector, const char *mode, json_t **out,
               char *msg);
int att_get(struct vol_service *s, const struct st_auth_ctx *who, const char *id, json_t **out);
int att_list(struct vol_service *s, const struct st_auth_ctx *who, bool all_projects,
             const struct vol_filter *filters, size_t nfilters, json_t **out);
/* Connector given: attachment and volume attaching, connection_info filled. */
int att_update(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               const json_t *connector, json_t **out, char *msg);
/* os-complete: volume in-use (the attachment listed on it), attachment attached. */
int att_complete(struct vol_service *s, const struct st_auth_ctx *who, const char *id, char *msg);
/* Remove it; the volume goes back to available when nothing else attaches it. */
int att_delete(struct vol_service *s, const struct st_auth_ctx *who, const char *id, char *msg);

/* ---- snapshots ---- */
int snap_create(struct vol_service *s, const struct st_auth_ctx *who, const char *volume_id,
                const char *name, const char *description, bool force, const json_t *metadata,
                json_t **out, char *msg);
int snap_get(struct vol_service *s, const struct st_auth_ctx *who, const char *id, json_t **out);
int snap_list(struct vol_service *s, const struct st_auth_ctx *who, bool all_projects,
              const struct vol_filter *filters, size_t nfilters, json_t **out);
int snap_update(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                const char *name, const char *description, const json_t *metadata,
                json_t **out, char *msg);
int snap_delete(struct vol_service *s, const struct st_auth_ctx *who, const char *id, char *msg);
/* Admin: os-reset_status of a snapshot (available, error, creating,
 * deleting, error_deleting) whatever it is. */
int snap_reset_status(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                      const char *status, char *msg);

/* ---- backups (vol_backup.c; chunks, manifests and references: backup/) ----
 * A backup has its own status (creating → available, deleting; error) and
 * never blocks its volume.  Full backups read the allocated extents of an
 * RBD snapshot "backup-<id>" of the volume (or of snapshot_id), incremental
 * ones only what changed since the parent's snapshot; only the newest
 * backup's snapshot is kept.  Errors as for volumes. */
struct bk_create_req {
    const char *volume_id, *name, *description, *snapshot_id, *container;
    bool incremental, force;
    const json_t *metadata;
};
int bk_create(struct vol_service *s, const struct st_auth_ctx *who, const struct bk_create_req *req,
              json_t **out, char *msg);
/* Records come with has_dependent_backups set. */
int bk_get(struct vol_service *s, const struct st_auth_ctx *who, const char *id, json_t **out);
int bk_list(struct vol_service *s, const struct st_auth_ctx *who, bool all_projects,
            const struct vol_filter *filters, size_t nfilters, json_t **out);
/* available|error → deleting (async); -EBUSY (409... Cinder: 400) while an
 * incremental depends on it. */
int bk_delete(struct vol_service *s, const struct st_auth_ctx *who, const char *id, char *msg);
/* Onto volume_id (available, at least the backup's size) or, when NULL, a
 * new volume named name; *out {"backup_id", "volume_id", "volume_name"}. */
int bk_restore(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               const char *volume_id, const char *name, json_t **out, char *msg);
/* Admin: the backup as a record another Strata sharing the repository can
 * import: *out {"backup_service", "backup_url"}. */
int bk_export(struct vol_service *s, const struct st_auth_ctx *who, const char *id, json_t **out,
              char *msg);
int bk_import(struct vol_service *s, const struct st_auth_ctx *who, const char *service,
              const char *url, json_t **out, char *msg);
/* Admin: status available or error whatever it is. */
int bk_reset_status(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                    const char *status, char *msg);
/* Admin: the repository audit (bk_repo_audit's report), repairing on demand. */
int bk_audit(struct vol_service *s, bool repair, json_t **report);

#endif
