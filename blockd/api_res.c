/* api_res.c — what volumes, snapshots and backups share in blockd's v3 API:
 * one descriptor each, and show, delete and the list machinery built on it. */
#include <errno.h>

#include "api_internal.h"

static json_t *volume_view(const json_t *rec, enum volj_view_kind kind, const struct volj_ctx *c)
{
    return volj_volume_view(rec, kind, c);
}

static json_t *snapshot_view(const json_t *rec, enum volj_view_kind kind, const struct volj_ctx *c)
{
    return volj_snapshot_view(rec, kind == VOLJ_DETAIL, c);
}

static json_t *backup_view(const json_t *rec, enum volj_view_kind kind, const struct volj_ctx *c)
{
    return volj_backup_view(rec, kind == VOLJ_DETAIL, c);
}

const struct api_res api_volumes = {
    .label = "Volume",
    .member = "volume",
    .list_kind = VOLJ_LIST_VOLUMES,
    .list = vol_list,
    .get = vol_get,
    .view = volume_view,
};

const struct api_res api_snapshots = {
    .label = "Snapshot",
    .member = "snapshot",
    .list_kind = VOLJ_LIST_SNAPSHOTS,
    .list = snap_list,
    .get = snap_get,
    .del = snap_delete,
    .view = snapshot_view,
};

const struct api_res api_backups = {
    .label = "Backup",
    .member = "backup",
    .list_kind = VOLJ_LIST_BACKUPS,
    .list = bk_list,
    .get = bk_get,
    .del = bk_delete,
    .view = backup_view,
};

int api_reply(struct st_req *r, const struct v3 *v, const struct api_res *res, unsigned status,
              const json_t *rec, enum volj_view_kind kind)
{
    return reply_one(r, status, res->member, res->view(rec, kind, &v->ctx));
}

int api_show(struct st_req *r, const struct v3 *v, const struct api_res *res)
{
    const char *id = st_req_param(r, "id");
    json_t *rec = NULL;
    int rc = res->get(svc(r), who(r), id, &rec);

    rc = rc == 0 ? api_reply(r, v, res, 200, rec, VOLJ_DETAIL)
                 : st_reply_fail(r, rc, NULL, res->label, id);
    json_decref(rec);
    return rc;
}

int api_delete(struct st_req *r, const struct v3 *v, const struct api_res *res)
{
    const char *id = st_req_param(r, "id");
    char msg[VOL_MSG_MAX] = "";

    (void)v;
    return reply_accepted(r, res->del(svc(r), who(r), id, msg), msg, res->label, id);
}

int api_body(struct st_req *r, const struct v3 *v, const struct api_res *res, unsigned status,
             enum volj_view_kind kind, api_op_fn op)
{
    struct api_out o = {.what = res->label, .id = st_req_param(r, "id")};
    json_t *body = NULL;
    int rc = st_req_json(r, &body);

    if (rc < 0)
        return rc;
    rc = op(r, body, &o);
    rc = rc == 0 ? api_reply(r, v, res, status, o.rec, kind)
                 : st_reply_fail(r, rc, o.msg, o.what, o.id);
    json_decref(body);
    json_decref(o.rec);
    return rc;
}

/* The visible, filtered, sorted page of a list and its total. */
static int list_page(struct st_req *r, const struct volj_list_query *q, const struct api_res *res,
                     json_t **page, bool *more, size_t *count)
{
    struct vol_filter filters[VOLJ_FILTERS_MAX];
    json_t *all = NULL, *mrec = NULL;
    size_t n = 0;
    int rc;

    for (size_t i = 0; i < q->nfilter; i++) {
        if (q->filter[i].service)
            filters[n++] = (struct vol_filter){q->filter[i].name, q->filter[i].value};
    }
    rc = res->list(svc(r), who(r), q->all_tenants && is_admin(r), filters, n, &all);
    if (rc < 0)
        return st_reply_fail(r, rc, NULL, NULL, NULL);
    volj_list_filter(all, q);
    *count = json_array_size(all);
    rc = volj_list_page(all, q, NULL, page, more);
    if (rc == -ENOENT) {
        /* A marker filtered out of the set is placed by its own record. */
        if (res->get(svc(r), who(r), q->marker, &mrec) == 0)
            rc = volj_list_page(all, q, mrec, page, more);
        else
            st_reply_error(r, 404, "Marker %s could not be found.", q->marker);
    }
    json_decref(mrec);
    json_decref(all);
    return rc;
}

static int reply_list(struct st_req *r, const struct v3 *v, const struct volj_list_query *q,
                      const json_t *page, bool more, size_t count, bool detail,
                      const struct api_res *res)
{
    json_t *views = json_array(), *rec;
    const char *next = NULL;
    size_t i;

    json_array_foreach(page, i, rec)
    {
        if (!views ||
            json_array_append_new(
                views, res->view(rec, detail ? VOLJ_DETAIL : VOLJ_SUMMARY, &v->ctx)) < 0) {
            json_decref(views);
            return -ENOMEM;
        }
        next = json_string_value(json_object_get(rec, "id"));
    }
    return reply_doc(r, 200, volj_list_body(views, q, &v->ctx, detail, more ? next : NULL, count));
}

int api_list(struct st_req *r, const struct v3 *v, const struct api_res *res, bool detail)
{
    struct volj_list_query q;
    char msg[VOL_MSG_MAX] = "";
    json_t *page = NULL;
    bool more = false;
    size_t count = 0;
    int rc = volj_list_parse(res->list_kind, api_query_get, r, v->ctx.mv, &q, msg);

    if (rc < 0)
        return st_reply_fail(r, rc, msg, NULL, NULL);
    rc = list_page(r, &q, res, &page, &more, &count);
    if (rc == 0)
        rc = reply_list(r, v, &q, page, more, count, detail, res);
    json_decref(page);
    volj_list_query_clear(&q);
    return rc;
}
