/* api_backups.c — Cinder's backup API of blockd (create, list, show, delete,
 * restore, export/import, admin actions) and the repository audit. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api_internal.h"
#include "api_volumes.h"

/* ---- backups ---- */

static int backup_create_op(struct st_req *r, const json_t *body, struct api_out *o)
{
    struct volj_backup_create c = {0};
    int rc = volj_backup_create(body, &c, o->msg);

    if (rc < 0)
        return rc;
    o->what = "Volume";
    o->id = c.volume_id;
    struct bk_create_req req = {c.volume_id, c.name,        c.description, c.snapshot_id,
                                c.container, c.incremental, c.force,       c.metadata};
    return bk_create(svc(r), who(r), &req, &o->rec, o->msg);
}

static int backup_create(struct st_req *r, const struct v3 *v)
{
    return api_body(r, v, &api_backups, 202, VOLJ_SUMMARY, backup_create_op);
}

static int backup_restore(struct st_req *r, const struct v3 *v)
{
    const char *id = st_req_param(r, "id"), *volume_id = NULL, *name = NULL;
    char msg[VOL_MSG_MAX] = "";
    json_t *body = NULL, *out = NULL;
    int rc = st_req_json(r, &body);

    (void)v;
    if (rc < 0)
        return rc;
    rc = volj_backup_restore(body, &volume_id, &name, msg);
    if (rc == 0)
        rc = bk_restore(svc(r), who(r), id, volume_id, name, &out, msg);
    rc = rc == 0 ? reply_one(r, 202, "restore", out) : st_reply_fail(r, rc, msg, "Backup", id);
    json_decref(body);
    return rc;
}

static int backup_export(struct st_req *r, const struct v3 *v)
{
    const char *id = st_req_param(r, "id");
    char msg[VOL_MSG_MAX] = "";
    json_t *out = NULL;
    int rc = bk_export(svc(r), who(r), id, &out, msg);

    (void)v;
    return rc == 0 ? reply_one(r, 200, "backup-record", out)
                   : st_reply_fail(r, rc, msg, "Backup", id);
}

static int backup_import_op(struct st_req *r, const json_t *body, struct api_out *o)
{
    const char *service = NULL, *url = NULL;
    int rc = volj_backup_import(body, &service, &url, o->msg);

    o->what = NULL;
    return rc < 0 ? rc : bk_import(svc(r), who(r), service, url, &o->rec, o->msg);
}

static int backup_import(struct st_req *r, const struct v3 *v)
{
    return api_body(r, v, &api_backups, 201, VOLJ_SUMMARY, backup_import_op);
}

/* POST /backups/{id}/action (admin; route flag): os-reset_status, os-force_delete. */
static int backup_action(struct st_req *r, const struct v3 *v)
{
    const char *id = st_req_param(r, "id"), *status = NULL;
    char msg[VOL_MSG_MAX] = "";
    json_t *body = NULL;
    int rc = st_req_json(r, &body);

    (void)v;
    if (rc < 0)
        return rc;
    rc = volj_backup_action(body, &status, msg);
    if (rc == 0)
        rc = status ? bk_reset_status(svc(r), who(r), id, status, msg)
                    : bk_delete(svc(r), who(r), id, msg);
    json_decref(body);
    return reply_accepted(r, rc, msg, "Backup", id);
}

/* GET /internal/v1/backup-audit[?repair=true] (admin): the repository audit. */
static int h_backup_audit(struct st_req *r)
{
    const char *rep = st_req_query(r, "repair");
    bool repair = false;
    json_t *report = NULL;

    if (rep && volj_bool_parse(rep, &repair) < 0)
        return st_reply_error(r, 400, "repair must be a boolean");
    int rc = bk_audit(svc(r), repair, &report);
    if (rc < 0)
        return st_reply_error(r, 503, "the backup audit failed: %s", strerror(-rc));
    return st_reply_json(r, 200, report);
}

V3_HANDLER(backup_create)
V3_RES_HANDLERS(backup, api_backups)
V3_DELETE_HANDLER(backup, api_backups)
V3_HANDLER(backup_restore)
V3_HANDLER(backup_export)
V3_HANDLER(backup_import)
V3_HANDLER(backup_action)

/* clang-format off */
const struct st_route vol_backup_routes[] = {
    {"POST",   "/v3/{project_id}/backups",              h_backup_create,        0, NULL, NULL},
    {"GET",    "/v3/{project_id}/backups",              h_backup_list,          0, NULL, NULL},
    {"GET",    "/v3/{project_id}/backups/detail",       h_backup_list_detail,   0, NULL, NULL},
    {"POST",   "/v3/{project_id}/backups/import_record", h_backup_import,       ST_ROUTE_ADMIN, NULL, NULL},
    {"GET",    "/v3/{project_id}/backups/{id}",         h_backup_show,          0, NULL, NULL},
    {"DELETE", "/v3/{project_id}/backups/{id}",         h_backup_delete,        0, NULL, NULL},
    {"POST",   "/v3/{project_id}/backups/{id}/restore", h_backup_restore,       0, NULL, NULL},
    {"GET",    "/v3/{project_id}/backups/{id}/export_record", h_backup_export,  ST_ROUTE_ADMIN, NULL, NULL},
    {"POST",   "/v3/{project_id}/backups/{id}/action",  h_backup_action,        ST_ROUTE_ADMIN, NULL, NULL},
    {"GET",    "/internal/v1/backup-audit",             h_backup_audit,         ST_ROUTE_ADMIN, NULL, NULL},
    ST_ROUTE_END,
};
/* clang-format on */
