/* api_attachments.c — Cinder's attachments API (3.27+, os-complete 3.44+) of
 * blockd, the flow Nova uses: decode, call vol_service.h, answer the view. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api_internal.h"
#include "api_volumes.h"

/* ---- attachments (3.27+; os-complete 3.44+) ---- */

#define MV_ATTACHMENTS 27
#define MV_ATTACH_COMPLETE 44

static int attachments_check(struct st_req *r, const struct v3 *v, unsigned min)
{
    if (v->ctx.mv >= min)
        return 0;
    st_reply_error(r, 404, "The resource could not be found (needs microversion 3.%u).", min);
    return -ENOENT;
}

static json_t *attachment_view(const json_t *rec, enum volj_view_kind kind,
                               const struct volj_ctx *c)
{
    (void)kind;
    (void)c;
    return volj_attachment_view(rec, true);
}

/* Show and the body handlers; lists are unpaged (their own handler), and a
 * delete answers a body of its own. */
static const struct api_res api_attachments = {
    .label = "VolumeAttachment",
    .member = "attachment",
    .get = att_get,
    .view = attachment_view,
};

static int attachment_create_op(struct st_req *r, const json_t *body, struct api_out *o)
{
    struct volj_att_create c = {0};
    int rc = volj_attachment_create(body, &c, o->msg);

    if (rc < 0)
        return rc;
    o->what = "Volume";
    o->id = c.volume_uuid;
    return att_create(svc(r), who(r), c.volume_uuid, c.instance_uuid, c.connector, c.mode, &o->rec,
                      o->msg);
}

static int attachment_create(struct st_req *r, const struct v3 *v)
{
    int rc = attachments_check(r, v, MV_ATTACHMENTS);

    return rc < 0 ? rc : api_body(r, v, &api_attachments, 200, VOLJ_DETAIL, attachment_create_op);
}

static int attachment_show(struct st_req *r, const struct v3 *v)
{
    int rc = attachments_check(r, v, MV_ATTACHMENTS);

    return rc < 0 ? rc : api_show(r, v, &api_attachments);
}

static int attachment_list_common(struct st_req *r, const struct v3 *v, bool detail)
{
    const char *all = st_req_query(r, "all_tenants"), *vol = st_req_query(r, "volume_id");
    struct vol_filter f = {"volume_id", vol};
    json_t *recs = NULL, *views, *rec;
    bool all_projects = false;
    size_t i;
    int rc = attachments_check(r, v, MV_ATTACHMENTS);

    if (rc < 0)
        return rc;
    if (all)
        volj_bool_parse(all, &all_projects);
    rc = att_list(svc(r), who(r), all_projects && is_admin(r), &f, vol ? 1 : 0, &recs);
    if (rc < 0)
        return st_reply_fail(r, rc, NULL, NULL, NULL);
    views = json_array();
    json_array_foreach(recs, i, rec)
    {
        json_array_append_new(views, volj_attachment_view(rec, detail));
    }
    json_decref(recs);
    return reply_one(r, 200, "attachments", views);
}

static int attachment_list(struct st_req *r, const struct v3 *v)
{
    return attachment_list_common(r, v, false);
}

static int attachment_list_detail(struct st_req *r, const struct v3 *v)
{
    return attachment_list_common(r, v, true);
}

static int attachment_update_op(struct st_req *r, const json_t *body, struct api_out *o)
{
    const json_t *connector = NULL;
    int rc = volj_attachment_update(body, &connector, o->msg);

    return rc < 0 ? rc : att_update(svc(r), who(r), o->id, connector, &o->rec, o->msg);
}

static int attachment_update(struct st_req *r, const struct v3 *v)
{
    int rc = attachments_check(r, v, MV_ATTACHMENTS);

    return rc < 0 ? rc : api_body(r, v, &api_attachments, 200, VOLJ_DETAIL, attachment_update_op);
}

static int attachment_action(struct st_req *r, const struct v3 *v)
{
    const char *id = st_req_param(r, "id");
    char msg[VOL_MSG_MAX] = "";
    json_t *body = NULL;
    int rc = attachments_check(r, v, MV_ATTACH_COMPLETE);

    if (rc < 0 || (rc = st_req_json(r, &body)) < 0)
        return rc;
    rc = volj_attachment_action(body, msg);
    if (rc == 0)
        rc = att_complete(svc(r), who(r), id, msg);
    rc = rc == 0 ? st_reply_json(r, 204, NULL) : st_reply_fail(r, rc, msg, "VolumeAttachment", id);
    json_decref(body);
    return rc;
}

static int attachment_delete(struct st_req *r, const struct v3 *v)
{
    const char *id = st_req_param(r, "id");
    char msg[VOL_MSG_MAX] = "";
    int rc = attachments_check(r, v, MV_ATTACHMENTS);

    if (rc < 0)
        return rc;
    rc = att_delete(svc(r), who(r), id, msg);
    return rc == 0 ? reply_doc(r, 200, json_pack("{s:[]}", "attachments"))
                   : st_reply_fail(r, rc, msg, "VolumeAttachment", id);
}

V3_HANDLER(attachment_create)
V3_HANDLER(attachment_show)
V3_HANDLER(attachment_list)
V3_HANDLER(attachment_list_detail)
V3_HANDLER(attachment_update)
V3_HANDLER(attachment_action)
V3_HANDLER(attachment_delete)

/* clang-format off */
const struct st_route vol_attachment_routes[] = {
    {"POST",   "/v3/{project_id}/attachments",          h_attachment_create,    0, NULL, NULL},
    {"GET",    "/v3/{project_id}/attachments",          h_attachment_list,      0, NULL, NULL},
    {"GET",    "/v3/{project_id}/attachments/detail",   h_attachment_list_detail, 0, NULL, NULL},
    {"GET",    "/v3/{project_id}/attachments/{id}",     h_attachment_show,      0, NULL, NULL},
    {"PUT",    "/v3/{project_id}/attachments/{id}",     h_attachment_update,    0, NULL, NULL},
    {"DELETE", "/v3/{project_id}/attachments/{id}",     h_attachment_delete,    0, NULL, NULL},
    {"POST",   "/v3/{project_id}/attachments/{id}/action", h_attachment_action, 0, NULL, NULL},
    ST_ROUTE_END,
};
/* clang-format on */
