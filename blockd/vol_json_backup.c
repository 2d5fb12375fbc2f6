/* vol_json_backup.c — the request bodies of Cinder's backup API: create,
 * restore, import_record and the admin actions, checked member by member. */
#include "vol_json_internal.h"

int volj_backup_create(const json_t *body, struct volj_backup_create *out, char *msg)
{
    const json_t *v = vj_body_member(body, "backup", msg);
    struct volj_backup_create c = {0};
    int rc;

    if (!v)
        return -EINVAL;
    if ((rc = vj_opt_uuid(v, "volume_id", &c.volume_id, msg)) < 0 ||
        (rc = vj_opt_uuid(v, "snapshot_id", &c.snapshot_id, msg)) < 0 ||
        (rc = vj_opt_string(v, "name", NULL, NAME_MAX_LEN, &c.name, msg)) < 0 ||
        (rc = vj_opt_string(v, "description", NULL, NAME_MAX_LEN, &c.description, msg)) < 0 ||
        (rc = vj_opt_string(v, "container", NULL, NAME_MAX_LEN, &c.container, msg)) < 0 ||
        (rc = vj_opt_bool(v, "incremental", &c.incremental, msg)) < 0 ||
        (rc = vj_opt_bool(v, "force", &c.force, msg)) < 0 ||
        (rc = vj_opt_metadata(v, &c.metadata, msg)) < 0)
        return rc;
    if (!c.volume_id)
        return fail(msg, -EINVAL, "Invalid input for field/attribute backup: 'volume_id' is a "
                    "required property.");
    *out = c;
    return 0;
}

int volj_backup_restore(const json_t *body, const char **volume_id, const char **name, char *msg)
{
    const json_t *v = vj_body_member(body, "restore", msg);
    int rc;

    if (!v)
        return -EINVAL;
    if ((rc = vj_opt_uuid(v, "volume_id", volume_id, msg)) < 0 ||
        (rc = vj_opt_string(v, "name", NULL, NAME_MAX_LEN, name, msg)) < 0)
        return rc;
    return 0;
}

int volj_backup_import(const json_t *body, const char **service, const char **url, char *msg)
{
    const json_t *v = vj_body_member(body, "backup-record", msg);
    int rc;

    if (!v)
        return -EINVAL;
    if ((rc = vj_opt_string(v, "backup_service", NULL, 255, service, msg)) < 0 ||
        (rc = vj_opt_string(v, "backup_url", NULL, 1 << 20, url, msg)) < 0)
        return rc;
    if (!*service || !*url)
        return fail(msg, -EINVAL, "Invalid input received: backup_service and backup_url are "
                    "required.");
    return 0;
}

int volj_backup_action(const json_t *body, const char **reset_status, char *msg)
{
    const json_t *reset = json_object_get(body, "os-reset_status");

    *reset_status = NULL;
    if (json_is_object(reset))
        return vj_opt_string(reset, "status", NULL, 32, reset_status, msg) < 0 || !*reset_status
                   ? fail(msg, -EINVAL, "Invalid input received: os-reset_status needs a status.")
                   : 0;
    if (json_object_get(body, "os-force_delete"))
        return 0;
    return fail(msg, -EINVAL, "Invalid action: the supported backup actions are os-reset_status "
                "and os-force_delete.");
}
