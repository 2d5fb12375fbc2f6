/* vol_records.c — reading and editing volume records: get, list (filtered,
 * sorted, paged), update, metadata edits and an admin's reset-status. */
#include "vol_internal.h"

static bool list_match(const json_t *rec, void *arg)
{
    const struct list_ctx *c = arg;
    const char *p = st_rec_str(rec, "project_id");

    if (st_rec_hidden(rec) ||
        !(c->who->is_admin && c->all ? true : p && strcmp(p, c->who->project_id) == 0))
        return false;
    for (size_t i = 0; i < c->n; i++) {
        const char *v = st_rec_str(rec, c->f[i].field);
        if (!v || strcmp(v, c->f[i].value) != 0)
            return false;
    }
    return true;
}

int vs_list_kind(struct vol_service *s, const struct st_meta_kind *k, struct list_ctx *c,
                 json_t **out)
{
    return st_meta_list_all(s->meta, k, list_match, c, out);
}

int vol_get(struct vol_service *s, const struct st_auth_ctx *who, const char *id, json_t **out)
{
    return vs_get_data(s, &vol_kind, who, id, out);
}

int vol_list(struct vol_service *s, const struct st_auth_ctx *who, bool all_projects,
             const struct vol_filter *filters, size_t nfilters, json_t **out)
{
    struct list_ctx c = { who, all_projects, filters, nfilters };
    return vs_list_kind(s, &vol_kind, &c, out);
}

static int apply_edit(json_t *rec, void *arg)
{
    struct edit *e = arg;
    json_t *md = json_object_get(rec, "metadata");
    char now[40];

    if (st_rec_hidden(rec))
        return -ENOENT;
    if (e->name)
        json_object_set_new(rec, "name", json_string(e->name));
    if (e->description)
        json_object_set_new(rec, "description", json_string(e->description));
    if (!json_is_object(md) && (e->metadata || e->unset)) {
        md = json_object();
        json_object_set_new(rec, "metadata", md);
    }
    if (e->unset && json_object_del(md, e->unset) < 0) {
        snprintf(e->msg, VOL_MSG_MAX, "%s %s has no metadata with key %.64s.", e->label,
                 st_rec_str(rec, "id"), e->unset);
        return -ENOENT;
    }
    if (e->metadata && e->md_op == VMD_MERGE)
        json_object_update(md, (json_t *)e->metadata);
    else if (e->metadata)
        json_object_set_new(rec, "metadata", json_deep_copy(e->metadata));
    if (volj_metadata_count_check(json_object_get(rec, "metadata"), e->md_max, e->msg) < 0)
        return -EFBIG;
    vs_now_ts(now, sizeof(now));
    json_object_set_new(rec, "updated_at", json_string(now));
    return 0;
}

int vs_update_kind(struct vol_service *s, const struct st_meta_kind *k,
                   const struct st_auth_ctx *who, const char *id, struct edit *e, json_t **out)
{
    struct st_record rec = { 0 };
    int rc = vs_get_visible(s, k, who, id, &rec);

    st_record_cleanup(&rec);
    e->md_max = s->md_max;
    if (rc == 0)
        rc = st_meta_modify(s->meta, k, id, apply_edit, e, &rec);
    if (rc == 0)
        *out = json_incref(rec.data);
    st_record_cleanup(&rec);
    return rc;
}

int vol_update(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               const char *name, const char *description, const json_t *metadata,
               json_t **out, char *msg)
{
    struct edit e = { name, description, metadata, VMD_REPLACE, NULL, "Volume", msg, 0 };
    return vs_update_kind(s, &vol_kind, who, id, &e, out);
}

int vol_metadata_edit(struct vol_service *s, const struct st_auth_ctx *who, enum vol_res res,
                      const char *id, enum vol_md_op op, const json_t *md, const char *key,
                      json_t **out, char *msg)
{
    bool snap = res == VOL_RES_SNAPSHOT;
    struct edit e = { NULL, NULL, op == VMD_DELETE ? NULL : md, op, op == VMD_DELETE ? key : NULL,
                      snap ? "Snapshot" : "Volume", msg, 0 };

    if (op == VMD_DELETE && !key)
        return -EINVAL;
    return vs_update_kind(s, snap ? &snap_kind : &vol_kind, who, id, &e, out);
}

/* os-reset_status's attach_status: "detached" forgets every attachment. */
static int reset_attach(json_t *rec, void *arg)
{
    const char *attach = arg;

    json_object_set_new(rec, "attach_status", json_string(attach));
    if (strcmp(attach, "detached") == 0) {
        json_object_set_new(rec, "attachments", json_array());
        json_object_del(st_rec_private(rec), "pending_attachment");
        json_object_del(st_rec_private(rec), "pending_since");
    }
    return 0;
}

int vol_reset_status(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                     const char *status, const char *attach_status, char *msg)
{
    static const char *const allowed[] = { "available", "error", "creating", "deleting",
                                           "error_deleting", "extending", "error_extending",
                                           "in-use", "reserved", "attaching", "detaching", NULL };
    static const struct st_auth_ctx admin = { .is_admin = true };
    struct st_record rec = { 0 };
    struct transition t = { NULL, status, NULL, "", attach_status ? reset_attach : NULL,
                            (void *)attach_status };
    json_t *atts = NULL, *att;
    size_t i;
    int rc;

    if (!who->is_admin)
        return -EPERM;
    if (status && !vs_status_in(status, allowed)) {
        snprintf(msg, VOL_MSG_MAX, "Invalid status: %s", status);
        return -EINVAL;
    }
    rc = vs_get_visible(s, &vol_kind, who, id, &rec);
    st_record_cleanup(&rec);
    if (rc == 0)
        rc = vs_transition(s, &vol_kind, id, false, &t);
    if (rc == 0 && attach_status && strcmp(attach_status, "detached") == 0) {
        struct vol_filter f = { "volume_id", id };
        if (att_list(s, &admin, true, &f, 1, &atts) == 0) {
            json_array_foreach(atts, i, att) {
                st_meta_delete(s->meta, &att_kind, st_rec_str(att, "id"), 0);
            }
        }
        json_decref(atts);
    }
    return rc;
}
