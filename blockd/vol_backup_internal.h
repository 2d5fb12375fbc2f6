/* vol_backup_internal.h — what vol_backup.c (records, create/delete jobs),
 * vol_backup_restore.c (restore, export/import) and vol_backup_reconcile.c
 * (audit, crash recovery) share: a backup record's private fields. */
#ifndef BLOCKD_VOL_BACKUP_INTERNAL_H
#define BLOCKD_VOL_BACKUP_INTERNAL_H

#include "vol_internal.h"

#define EXPORT_SERVICE "strata.backup"

/* Who the backup code acts as when it reads records for itself. */
extern const struct st_auth_ctx bk_admin_ctx;
/* Drop what a failed or abandoned backup made: its snapshot, references, manifest. */
void bk_backup_undo(struct vol_service *s, const json_t *rec);

static inline const char *bk_priv_str(const json_t *rec, const char *key)
{
    return st_rec_str(json_object_get(rec, "_s"), key);
}

/* The id its references and manifest go by (an imported backup's own). */
static inline const char *bk_ref_id(const json_t *rec)
{
    const char *r = bk_priv_str(rec, "ref_id");
    return r ? r : st_rec_str(rec, "id");
}

/* The project whose chunk namespace holds its data. */
static inline const char *bk_chunk_ns(const json_t *rec)
{
    const char *ns = bk_priv_str(rec, "chunk_project");
    return ns ? ns : st_rec_str(rec, "project_id");
}

#endif
