/* vol_internal.h — what the vol_*.c files of blockd's volume service share:
 * the service's state, the state machine's types and the helpers between them.
 * Not for the API layer: that sees vol_service.h only. */
#ifndef STRATA_BLOCKD_VOL_INTERNAL_H
#define STRATA_BLOCKD_VOL_INTERNAL_H

#include "vol_service.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <rados/librados.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "compute_client.h"
#include "strata/config.h"
#include "strata/daemon.h"
#include "strata/httpc.h"
#include "strata/imaged_client.h"
#include "strata/log.h"
#include "strata/meta.h"
#include "strata/qos.h"
#include "strata/qos_bucket.h"
#include "strata/qos_bulk.h"
#include "strata/rados.h"
#include "strata/rbd.h"
#include "strata/ticker.h"
#include "strata/workpool.h"
#include "vol_conn.h"
#include "vol_quota.h"
#include "vol_rbdmeta.h"
#include "vol_types.h"

struct bk_repo;

#define GIB (1ULL << 30)
#define NAME_MAX_LEN 96

struct vol_service {
    struct st_daemon *d;
    struct st_meta *meta;
    const char *owner;
    rados_ioctx_t vols;
    char pool[128];
    char service_token[4200];
    char az[64];
    char rbd_user[128], secret_uuid[64], cluster_name[64];
    json_t *mon_hosts, *mon_ports;   /* connection_info's hosts/ports */
    int max_depth;
    size_t md_max;                   /* [blockd] max_metadata_items */
    char public_url[VOLJ_BASE_MAX];  /* links' base */
    struct qos_bulk bulk;            /* [blockd] bulk_bytes_sec, bulk_volume_bytes_sec */
    uint64_t project_cap[QOS_NUNIT]; /* [blockd] project_iops_sec, project_bytes_sec (0 = none) */
    char pause_steps[128];           /* [blockd] debug_pause_step (tests only) */
    double over_ratio;               /* [blockd] max_over_subscription_ratio */
    char fsid[40];                   /* the cluster's (get_pools' location_info) */
    int64_t ttl_ms;
    int64_t reconcile_ms;
    struct st_httpc *http;
    struct st_httpc_peer *imaged;  /* [blockd] image_url */
    struct st_httpc_peer *compute; /* [blockd] compute_url */
    struct st_workpool *workers;
    struct vol_quota *quota;
    struct vol_types *types;
    struct st_ticker reconciler;     /* periodic reconcile */
    /* backups (vol_backup*.c): [backup] and [ceph] backups_pool */
    rados_ioctx_t backups_io;
    struct bk_repo *repo;
    int bk_level;                    /* igzip level 0..3 */
    unsigned bk_threads;             /* threads per backup or restore */
    uint32_t bk_chunk;               /* chunk size in bytes */
    struct qos_bulk bk_bulk;         /* bytes_sec, backup_bytes_sec */
    unsigned bk_max;                 /* backups running at once */
    unsigned bk_running, bk_queued;  /* under bk_mu */
    pthread_mutex_t bk_mu;
    pthread_cond_t bk_cv;
};

enum vol_op {
    OP_REVERT, OP_DELETE, OP_EXTEND, OP_SNAPSHOT, OP_SNAPSHOT_FORCE, OP_SOURCE, OP_SNAP_DELETE,
    OP_RESERVE, OP_UNRESERVE, OP_BEGIN_DETACH, OP_ROLL_DETACH, OP_ATTACH, OP_DETACH,
    OP_CONNECT, OP_ATT_CREATE, OP_ATT_UPDATE, OP_ATT_COMPLETE, OP_ATT_DELETE, OP_RETYPE,
    OP_EXTEND_IN_USE, OP_UNMANAGE,
};

/* A status change guarded by the allowed current statuses; fenced when the
 * caller holds the record's lease. */
struct transition {
    const char *const *from;   /* NULL = any */
    const char *to;
    const json_t *extra;       /* members to set ("_s" merged) */
    char cur[32];              /* the status found (for messages) */
    st_meta_modify_fn edit;    /* then this edit (NULL = none), with edit_arg */
    void *edit_arg;
};

enum job_kind {
    JOB_REVERT, JOB_CREATE, JOB_DELETE, JOB_EXTEND, JOB_SNAP_CREATE, JOB_SNAP_DELETE, JOB_RETYPE,
    JOB_TELL,   /* tell the compute API a volume grew: no lease (best effort) */
    JOB_TELL_QOS,   /* tell it the volume's front-end QoS may have changed: no lease */
    JOB_QOS,    /* its type's qos-specs changed: re-apply the image's limits (no lease) */
    JOB_BACKUP, JOB_BACKUP_DELETE,   /* on the backup record */
    JOB_RESTORE,                     /* on the volume being restored onto */
    JOB_MANAGE, JOB_UNMANAGE,        /* vol_manage.c */
};

struct list_ctx {
    const struct st_auth_ctx *who;
    bool all;
    const struct vol_filter *f;
    size_t n;
};

/* One edit of a record's user-visible fields: name, description (NULL =
 * unchanged) and metadata (replaced by, or with md_op merged with, metadata;
 * or its key unset removed: -ENOENT and msg naming label when absent). */
struct edit {
    const char *name, *description;
    const json_t *metadata;
    enum vol_md_op md_op;
    const char *unset, *label;
    char *msg;
    size_t md_max;    /* set by vs_update_kind */
};

/* How a volume's attachments change with a move. */
struct att_edit {
    enum { AE_NONE, AE_ADD, AE_REMOVE } what;
    const char *attachment_id; /* added/removed (AE_REMOVE: NULL = all) */
    json_t *entry;             /* AE_ADD: the volume's view of it */
    const char *set_pending;   /* record it as the attachment being made */
    bool clear_pending;        /* forget the pending attachment_id (if it is that one) */
    bool require_pending;      /* -ESTALE unless attachment_id is the pending one */
    bool settle;               /* status from what remains: in-use or available */
};

extern const struct st_meta_kind vol_kind;
extern const struct st_meta_kind snap_kind;
extern const struct st_meta_kind att_kind;
extern const struct st_meta_kind backup_kind;
extern const char *const vs_uploading_only[];

/* vol_service.c */
const char *const *vs_rule_from(enum vol_op op);
bool vs_status_in(const char *status, const char *const *set);
void vs_now_ts(char *buf, size_t len);
void vs_new_id(char *buf);
void vol_rbd_name(const char *id, char *buf, size_t len);
void snap_rbd_name(const char *id, char *buf, size_t len);
int vs_get_visible(struct vol_service *s, const struct st_meta_kind *k,
                   const struct st_auth_ctx *who, const char *id, struct st_record *rec);
int vs_get_data(struct vol_service *s, const struct st_meta_kind *k, const struct st_auth_ctx *who,
                const char *id, json_t **out);
int vs_transition(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                  bool fenced, struct transition *t);
int vs_step(struct vol_service *s, const struct st_meta_kind *k, const char *id,
            const char *from, const char *to, json_t *extra);
int vs_submit(struct vol_service *s, enum job_kind kind, const char *id);
int vs_lease_for(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                 const char *lease_op, char *msg);
int vs_begin_leased(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                    enum vol_op rule, const char *to, json_t *extra, enum job_kind job,
                    char *msg);
int vs_begin_op(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                const char *lease_op, enum vol_op rule, const char *to, json_t *extra,
                enum job_kind job, char *msg);

/* vol_records.c */
int vs_list_kind(struct vol_service *s, const struct st_meta_kind *k, struct list_ctx *c,
                 json_t **out);
int vs_update_kind(struct vol_service *s, const struct st_meta_kind *k,
                   const struct st_auth_ctx *who, const char *id, struct edit *e, json_t **out);

/* vol_create.c */
void vs_debug_pause(struct vol_service *s, const char *step, const char *id);
void vs_drop_clone_snap(struct vol_service *s, const json_t *rec);
void vs_job_create(struct vol_service *s, const char *id);

/* vol_qos_apply.c */
int vs_apply_backend_qos(struct vol_service *s, const char *project, const char *id,
                         const char *type_id, int64_t size_gb, bool fresh);
void vs_resplit_project(struct vol_service *s, const char *project);
json_t *vs_frontend_qos(struct vol_service *s, const char *volume_id);
void vs_job_qos(struct vol_service *s, const char *id);
void vs_job_retype(struct vol_service *s, const char *id);

/* vol_delete.c */
int vs_delete_counted(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                      const json_t *rec);
int vs_purge_snapshot(struct vol_service *s, const json_t *rec, bool fenced);
int vs_remove_volume_image(struct vol_service *s, const char *name);
void vs_job_delete(struct vol_service *s, const char *id);

/* vol_extend.c */
void vs_job_extend(struct vol_service *s, const char *id);
void vs_job_revert(struct vol_service *s, const char *id);

/* vol_snapshots.c */
void vs_job_snap_create(struct vol_service *s, const char *id);
void vs_job_snap_delete(struct vol_service *s, const char *id);
int vs_snapshots_of(struct vol_service *s, const char *volume_id, json_t **out);

/* vol_attach.c */
void vs_tell_guests(struct vol_service *s, const char *id, bool grew);
int vs_cas_move(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                enum vol_op op, const char *to, const json_t *extra, st_meta_modify_fn edit,
                void *edit_arg, char *msg);
int vs_edit_attachments(json_t *rec, void *arg);

/* vol_upload.c */
int vs_end_upload(json_t *rec, void *arg);
void vs_sweep_uploads(struct vol_service *s);

/* vol_manage.c */
void vs_job_manage(struct vol_service *s, const char *id);
void vs_job_unmanage(struct vol_service *s, const char *id);
/* Whether image `name` was left by an unmanage (the orphan sweep keeps it). */
bool vs_image_unmanaged(struct vol_service *s, const char *name);
/* rbd pool metadata: when blockd first used the volumes pool (seconds). */
#define VS_POOL_SINCE_KEY "strata_blockd_since"
/* Whether a volume-<uuid> image no record owns is blockd's own leftover (the
 * reconciler removes it): not unmanaged, and created after the pool's mark —
 * an older one (another service's, e.g. Cinder's RBD driver's, in a pool blockd
 * was pointed at) is left alone and can be managed. */
bool vs_image_orphan(struct vol_service *s, const char *name);

/* vol_backup.c */
int vs_backup_open(struct vol_service *s, const struct st_config *c);
void vs_backup_close(struct vol_service *s);
void vs_job_backup(struct vol_service *s, const char *id);
void vs_job_backup_delete(struct vol_service *s, const char *id);
void vs_job_restore(struct vol_service *s, const char *id);
/* A new volume's create job, once its image exists: fill it from its backup. */
int vs_restore_new_volume(struct vol_service *s, const char *volume_id, const char *backup_id,
                          char *msg);
/* Claim backup_id (available → restoring) for a restore onto volume_id. */
int vs_backup_claim(struct vol_service *s, const struct st_auth_ctx *who, const char *backup_id,
                    const char *volume_id, int64_t *size_gb, char *msg);
void vs_backup_unclaim(struct vol_service *s, const char *backup_id, const char *fail);
void vs_reconcile_backups(struct vol_service *s);

/* vol_backup_run.c */
struct vs_backup_plan {
    const char *backup_id, *ns, *volume_id;
    const char *snap;             /* read from volume@snap */
    const json_t *parent;         /* incremental: the parent's manifest, else NULL */
    const char *parent_id, *parent_snap;
};
struct vs_backup_stats {
    uint64_t bytes, read_bytes, stored_bytes, new_chunks, chunks, chunks_read;
};
int vs_backup_data(struct vol_service *s, const struct vs_backup_plan *p, json_t **manifest,
                   struct vs_backup_stats *st, char *msg);
int vs_restore_data(struct vol_service *s, const json_t *manifest, const char *backup_id,
                    const char *volume_id, bool fresh, char *msg);

#endif
