/* api_volumes.c — the Cinder Block Storage API v3 of blockd: every v3 handler
 * first settles the microversion and the URL's project (v3_begin), then checks
 * the request with vol_json.c, calls vol_service.h and answers with Cinder's
 * status codes and views.  No Ceph calls here. */
#include "api_volumes.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api_internal.h"
#include "api_v3.h"

#define MV_EXTEND_IN_USE 42   /* os-extend of in-use volumes */

const char *api_query_get(void *arg, const char *name, size_t nth)
{
    return st_req_query_nth(arg, name, nth);
}

/* Microversion and project (api_v3_begin), then the links' base URL. */
static int v3_begin(struct st_req *r, struct v3 *v)
{
    unsigned mv = 0;
    int rc = api_v3_begin(r, NULL, &mv);

    if (rc < 0)
        return rc;
    snprintf(v->base, sizeof(v->base), "%s", vol_service_public_url(svc(r)));
    v->ctx = (struct volj_ctx){v->base, st_req_param(r, "project_id"), mv, who(r)->is_admin};
    return 0;
}

int api_v3_run(struct st_req *r, v3_fn fn)
{
    struct v3 v;
    int rc = v3_begin(r, &v);

    return rc < 0 ? rc : fn(r, &v);
}

/* ---- documents ---- */

static int h_root(struct st_req *r)
{
    return reply_doc(r, 300, volj_versions(vol_service_public_url(svc(r))));
}

static int h_v3_root(struct st_req *r)
{
    return reply_doc(r, 200, volj_version(vol_service_public_url(svc(r))));
}

/* ---- volumes ---- */

static int volume_create_op(struct st_req *r, const json_t *body, struct api_out *o)
{
    struct volj_create c;
    int rc = volj_volume_create(body, &c, o->msg);

    o->what = NULL;
    if (rc == 0)
        rc = volj_metadata_count_check(c.metadata, vol_service_metadata_max(svc(r)), o->msg);
    if (rc < 0)
        return rc;
    struct vol_create_req req = {
        .name = c.name,
        .description = c.description,
        .size_gb = c.size_gb,
        .snapshot_id = c.snapshot_id,
        .source_volid = c.source_volid,
        .image_id = c.image_id,
        .volume_type = c.volume_type,
        .availability_zone = c.availability_zone,
        .metadata = c.metadata,
    };
    return vol_create(svc(r), who(r), &req, &o->rec, o->msg);
}

static int volume_create(struct st_req *r, const struct v3 *v)
{
    return api_body(r, v, &api_volumes, 202, VOLJ_BASIC, volume_create_op);
}

static int volume_update_op(struct st_req *r, const json_t *body, struct api_out *o)
{
    struct volj_update u;
    int rc = volj_volume_update(body, &u, o->msg);

    return rc < 0 ? rc
                  : vol_update(svc(r), who(r), o->id, u.name, u.description, u.metadata, &o->rec,
                               o->msg);
}

static int volume_update(struct st_req *r, const struct v3 *v)
{
    return api_body(r, v, &api_volumes, 200, VOLJ_BASIC, volume_update_op);
}

static int volume_delete(struct st_req *r, const struct v3 *v)
{
    const char *id = st_req_param(r, "id"), *cascade = st_req_query(r, "cascade");
    char msg[VOL_MSG_MAX] = "";
    bool all = false;
    int rc;

    (void)v;
    if (cascade && volj_bool_parse(cascade, &all) < 0) {
        st_reply_error(r, 400, "Invalid input received: cascade must be a boolean.");
        return -EINVAL;
    }
    rc = vol_delete(svc(r), who(r), id, all, msg);
    return reply_accepted(r, rc, msg, "Volume", id);
}

/* The attach/detach/connection actions: volj's kind → the service's op. */
static const struct {
    enum volj_action_kind kind;
    enum vol_attach_op op;
} attach_ops[] = {
    {VOLJ_ACT_RESERVE, VA_RESERVE},
    {VOLJ_ACT_UNRESERVE, VA_UNRESERVE},
    {VOLJ_ACT_BEGIN_DETACHING, VA_BEGIN_DETACH},
    {VOLJ_ACT_ROLL_DETACHING, VA_ROLL_DETACH},
    {VOLJ_ACT_ATTACH, VA_ATTACH},
    {VOLJ_ACT_DETACH, VA_DETACH},
    {VOLJ_ACT_INIT_CONNECTION, VA_INIT_CONN},
    {VOLJ_ACT_TERM_CONNECTION, VA_TERM_CONN},
};

static int attach_action(struct st_req *r, const char *id, const struct volj_action *a, char *msg)
{
    struct vol_attach_req q = {.instance_uuid = a->instance_uuid,
                               .mountpoint = a->mountpoint,
                               .host_name = a->host_name,
                               .mode = a->mode,
                               .attachment_id = a->attachment_id,
                               .connector = a->connector};
    json_t *out = NULL;
    int rc;

    for (size_t i = 0; i < sizeof(attach_ops) / sizeof(attach_ops[0]); i++)
        if (attach_ops[i].kind == a->kind)
            q.op = attach_ops[i].op;
    rc = vol_attach_action(svc(r), who(r), id, &q, &out, msg);
    if (rc < 0)
        return st_reply_fail(r, rc, msg, "Volume", id);
    return out ? reply_doc(r, 200, out) : st_reply_json(r, 202, NULL);
}

static int upload_image(struct st_req *r, const char *id, const struct volj_upload *u, char *msg)
{
    struct vol_upload_req q = {u->image_name, u->visibility, u->is_protected, u->force};
    char image_id[37] = "";
    json_t *vol = NULL;
    int rc = vol_upload_image(svc(r), who(r), id, &q, &vol, image_id, msg);

    if (rc == 0)
        rc = reply_doc(r, 202, volj_upload_view(vol, image_id, u));
    else
        rc = st_reply_fail(r, rc, msg, "Volume", id);
    json_decref(vol);
    return rc;
}

static int volume_action(struct st_req *r, const struct v3 *v)
{
    const char *id = st_req_param(r, "id");
    char msg[VOL_MSG_MAX] = "";
    struct volj_action a;
    json_t *body = NULL;
    int rc = st_req_json(r, &body);

    if (rc < 0)
        return rc;
    rc = volj_volume_action(body, &a, msg);
    if (rc == 0 && a.kind == VOLJ_ACT_REVERT) {   /* 3.40+ */
        rc = v->ctx.mv < 40 ? -EINVAL : vol_revert(svc(r), who(r), id, a.snapshot_id, msg);
        if (rc == -EINVAL && v->ctx.mv < 40)
            snprintf(msg, sizeof(msg), "revert needs microversion 3.40 or later");
        rc = reply_accepted(r, rc, msg, "Volume", id);
        json_decref(body);
        return rc;
    }
    if (rc == 0 && a.kind == VOLJ_ACT_UPLOAD_IMAGE) {
        rc = upload_image(r, id, &a.upload, msg);
        json_decref(body);
        return rc;
    }
    if (rc == 0 && a.kind == VOLJ_ACT_RETYPE) {
        rc = vol_retype(svc(r), who(r), id, a.new_type, msg);
        rc = reply_accepted(r, rc, msg, "Volume", id);
        json_decref(body);
        return rc;
    }
    if (rc == 0 && a.kind == VOLJ_ACT_UNMANAGE) {   /* admins (vol_manage.c) */
        rc = vol_unmanage(svc(r), who(r), id, msg);
        rc = reply_accepted(r, rc, msg, "Volume", id);
        json_decref(body);
        return rc;
    }
    if (rc == 0 && a.kind != VOLJ_ACT_EXTEND && a.kind != VOLJ_ACT_RESET_STATUS) {
        rc = attach_action(r, id, &a, msg);
        json_decref(body);
        return rc;
    }
    if (rc == 0 && a.kind == VOLJ_ACT_EXTEND) {
        rc = vol_extend(svc(r), who(r), id, a.new_size, v->ctx.mv >= MV_EXTEND_IN_USE, msg);
    } else if (rc == 0 && !is_admin(r)) {
        rc = -EPERM;
        snprintf(msg, sizeof(msg),
                 "Policy doesn't allow "
                 "volume_extension:volume_admin_actions:reset_status to be "
                 "performed.");
    } else if (rc == 0) {
        rc = vol_reset_status(svc(r), who(r), id, a.status, a.attach_status, msg);
    }
    rc = reply_accepted(r, rc, msg, "Volume", id);
    json_decref(body);
    return rc;
}

/* ---- snapshots ---- */

static int snapshot_create_op(struct st_req *r, const json_t *body, struct api_out *o)
{
    struct volj_snap_create c = {0};
    int rc = volj_snapshot_create(body, &c, o->msg);

    if (rc < 0)
        return rc;
    o->what = "Volume";
    o->id = c.volume_id;
    rc = volj_metadata_count_check(c.metadata, vol_service_metadata_max(svc(r)), o->msg);
    return rc < 0 ? rc
                  : snap_create(svc(r), who(r), c.volume_id, c.name, c.description, c.force,
                                c.metadata, &o->rec, o->msg);
}

static int snapshot_create(struct st_req *r, const struct v3 *v)
{
    return api_body(r, v, &api_snapshots, 202, VOLJ_SUMMARY, snapshot_create_op);
}

static int snapshot_update_op(struct st_req *r, const json_t *body, struct api_out *o)
{
    struct volj_update u;
    int rc = volj_snapshot_update(body, &u, o->msg);

    return rc < 0
               ? rc
               : snap_update(svc(r), who(r), o->id, u.name, u.description, NULL, &o->rec, o->msg);
}

static int snapshot_update(struct st_req *r, const struct v3 *v)
{
    return api_body(r, v, &api_snapshots, 200, VOLJ_SUMMARY, snapshot_update_op);
}

/* POST /snapshots/{id}/action: os-reset_status (admin; route flag). */
static int snapshot_action(struct st_req *r, const struct v3 *v)
{
    const char *id = st_req_param(r, "id");
    char msg[VOL_MSG_MAX] = "";
    json_t *body = NULL;
    int rc = st_req_json(r, &body);

    (void)v;
    if (rc < 0)
        return rc;
    const json_t *arg = json_object_get(body, "os-reset_status");
    if (!json_is_object(arg) || json_object_size(body) != 1) {
        snprintf(msg, sizeof(msg), "Invalid action: the supported snapshot action is "
                 "os-reset_status {\"status\": ...}.");
        rc = -EINVAL;
    } else {
        rc = snap_reset_status(svc(r), who(r), id,
                               json_string_value(json_object_get(arg, "status")), msg);
    }
    json_decref(body);
    return reply_accepted(r, rc, msg, "Snapshot", id);
}

/* ---- metadata of volumes and snapshots (one set of handlers for both) ---- */

struct md_res {
    enum vol_res res;
    const struct api_res *api; /* its label ("Volume") and get */
};

static const struct md_res vol_res = {VOL_RES_VOLUME, &api_volumes};
static const struct md_res snap_res = {VOL_RES_SNAPSHOT, &api_snapshots};

static const json_t *rec_metadata(const json_t *rec)
{
    const json_t *md = json_object_get(rec, "metadata");

    return json_is_object(md) ? md : NULL;
}

/* {"metadata": {...}} of the record, or {"meta": {key: value}} when key is given. */
static int reply_metadata(struct st_req *r, const struct md_res *m, const char *id,
                          const char *key, const json_t *rec)
{
    const json_t *md = rec_metadata(rec), *v = key ? json_object_get(md, key) : NULL;

    if (!key)
        return reply_doc(r, 200, md ? json_pack("{s:O}", "metadata", md)
                                    : json_pack("{s:{}}", "metadata"));
    if (!v)
        return st_reply_error(r, 404, "%s %s has no metadata with key %.64s.", m->api->label, id,
                              key),
               -ENOENT;
    return reply_doc(r, 200, json_pack("{s:{s:O}}", "meta", key, v));
}

/* GET .../metadata and GET .../metadata/{key}. */
static int md_show(struct st_req *r, const struct md_res *m)
{
    const char *id = st_req_param(r, "id"), *key = st_req_param(r, "key");
    json_t *rec = NULL;
    int rc = m->api->get(svc(r), who(r), id, &rec);

    rc = rc == 0 ? reply_metadata(r, m, id, key, rec)
                 : st_reply_fail(r, rc, NULL, m->api->label, id);
    json_decref(rec);
    return rc;
}

/* POST .../metadata (merge), PUT .../metadata (replace), PUT .../metadata/{key};
 * DELETE .../metadata/{key} (op VMD_DELETE, no body). */
static int md_edit(struct st_req *r, const struct md_res *m, enum vol_md_op op)
{
    const char *id = st_req_param(r, "id"), *key = st_req_param(r, "key");
    char msg[VOL_MSG_MAX] = "";
    const json_t *md = NULL;
    json_t *body = NULL, *rec = NULL;
    int rc = 0;

    if (op != VMD_DELETE && (rc = st_req_json(r, &body)) < 0)
        return rc;
    if (op != VMD_DELETE)
        rc = volj_metadata_body(body, key, &md, msg);
    if (rc == 0)
        rc = vol_metadata_edit(svc(r), who(r), m->res, id, op, md, key, &rec, msg);
    if (rc < 0)
        rc = st_reply_fail(r, rc, msg, m->api->label, id);
    else if (op == VMD_DELETE)
        rc = st_reply_json(r, 200, NULL);
    else
        rc = reply_metadata(r, m, id, key, rec);
    json_decref(body);
    json_decref(rec);
    return rc;
}

/* The routes' handlers: resource × operation. */
#define MD_HANDLERS(res)                                                                           \
    static int res##_metadata_show(struct st_req *r, const struct v3 *v)                           \
    {                                                                                              \
        (void)v;                                                                                   \
        return md_show(r, &res##_res);                                                             \
    }                                                                                              \
    static int res##_metadata_merge(struct st_req *r, const struct v3 *v)                          \
    {                                                                                              \
        (void)v;                                                                                   \
        return md_edit(r, &res##_res, VMD_MERGE);                                                  \
    }                                                                                              \
    static int res##_metadata_replace(struct st_req *r, const struct v3 *v)                        \
    {                                                                                              \
        (void)v;                                                                                   \
        return md_edit(r, &res##_res, st_req_param(r, "key") ? VMD_MERGE : VMD_REPLACE);           \
    }                                                                                              \
    static int res##_metadata_delete(struct st_req *r, const struct v3 *v)                         \
    {                                                                                              \
        (void)v;                                                                                   \
        return md_edit(r, &res##_res, VMD_DELETE);                                                 \
    }

MD_HANDLERS(vol)
MD_HANDLERS(snap)
V3_RES_HANDLERS(volume, api_volumes)
V3_RES_HANDLERS(snapshot, api_snapshots)
V3_DELETE_HANDLER(snapshot, api_snapshots)

V3_HANDLER(volume_create)
V3_HANDLER(volume_update)
V3_HANDLER(volume_delete)
V3_HANDLER(volume_action)
V3_HANDLER(snapshot_create)
V3_HANDLER(snapshot_update)
V3_HANDLER(snapshot_action)
V3_HANDLER(vol_metadata_show)
V3_HANDLER(vol_metadata_merge)
V3_HANDLER(vol_metadata_replace)
V3_HANDLER(vol_metadata_delete)
V3_HANDLER(snap_metadata_show)
V3_HANDLER(snap_metadata_merge)
V3_HANDLER(snap_metadata_replace)
V3_HANDLER(snap_metadata_delete)


/* clang-format off */
const struct st_route vol_api_routes[] = {
    {"GET",    "/",                                     h_root,                 ST_ROUTE_PUBLIC, NULL, NULL},
    {"GET",    "/v3",                                   h_v3_root,              ST_ROUTE_PUBLIC, NULL, NULL},
    {"POST",   "/v3/{project_id}/volumes",              h_volume_create,        0, NULL, NULL},
    {"GET",    "/v3/{project_id}/volumes",              h_volume_list,          0, NULL, NULL},
    {"GET",    "/v3/{project_id}/volumes/detail",       h_volume_list_detail,   0, NULL, NULL},
    {"GET",    "/v3/{project_id}/volumes/{id}",         h_volume_show,          0, NULL, NULL},
    {"PUT",    "/v3/{project_id}/volumes/{id}",         h_volume_update,        0, NULL, NULL},
    {"DELETE", "/v3/{project_id}/volumes/{id}",         h_volume_delete,        0, NULL, NULL},
    {"POST",   "/v3/{project_id}/volumes/{id}/action",  h_volume_action,        0, NULL, NULL},
    {"POST",   "/v3/{project_id}/snapshots",            h_snapshot_create,      0, NULL, NULL},
    {"GET",    "/v3/{project_id}/snapshots",            h_snapshot_list,        0, NULL, NULL},
    {"GET",    "/v3/{project_id}/snapshots/detail",     h_snapshot_list_detail, 0, NULL, NULL},
    {"GET",    "/v3/{project_id}/snapshots/{id}",       h_snapshot_show,        0, NULL, NULL},
    {"PUT",    "/v3/{project_id}/snapshots/{id}",       h_snapshot_update,      0, NULL, NULL},
    {"DELETE", "/v3/{project_id}/snapshots/{id}",       h_snapshot_delete,      0, NULL, NULL},
    {"POST",   "/v3/{project_id}/snapshots/{id}/action", h_snapshot_action,     ST_ROUTE_ADMIN, NULL, NULL},
    {"GET",    "/v3/{project_id}/volumes/{id}/metadata",         h_vol_metadata_show,    0, NULL, NULL},
    {"POST",   "/v3/{project_id}/volumes/{id}/metadata",         h_vol_metadata_merge,   0, NULL, NULL},
    {"PUT",    "/v3/{project_id}/volumes/{id}/metadata",         h_vol_metadata_replace, 0, NULL, NULL},
    {"GET",    "/v3/{project_id}/volumes/{id}/metadata/{key}",   h_vol_metadata_show,    0, NULL, NULL},
    {"PUT",    "/v3/{project_id}/volumes/{id}/metadata/{key}",   h_vol_metadata_replace, 0, NULL, NULL},
    {"DELETE", "/v3/{project_id}/volumes/{id}/metadata/{key}",   h_vol_metadata_delete,  0, NULL, NULL},
    {"GET",    "/v3/{project_id}/snapshots/{id}/metadata",       h_snap_metadata_show,   0, NULL, NULL},
    {"POST",   "/v3/{project_id}/snapshots/{id}/metadata",       h_snap_metadata_merge,  0, NULL, NULL},
    {"PUT",    "/v3/{project_id}/snapshots/{id}/metadata",       h_snap_metadata_replace, 0, NULL, NULL},
    {"GET",    "/v3/{project_id}/snapshots/{id}/metadata/{key}", h_snap_metadata_show,   0, NULL, NULL},
    {"PUT",    "/v3/{project_id}/snapshots/{id}/metadata/{key}", h_snap_metadata_replace, 0, NULL, NULL},
    {"DELETE", "/v3/{project_id}/snapshots/{id}/metadata/{key}", h_snap_metadata_delete, 0, NULL, NULL},
    ST_ROUTE_END,
};
/* clang-format on */
