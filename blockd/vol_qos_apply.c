/* vol_qos_apply.c — a volume's QoS from its type (and the project cap) onto
 * its RBD image and its attachments; retype; re-applying after a spec edit. */
#include "vol_internal.h"

/* The resolved policy of a volume of type_id and size_gb, and where it is
 * enforced (front-end and an empty policy when the type has no qos-specs). */
static int volume_policy(struct vol_service *s, const char *type_id, int64_t size_gb,
                         struct qos_policy *p, enum qos_consumer *c)
{
    char msg[QOS_MSG_MAX];
    json_t *qos = NULL;
    int rc = vt_type_qos(s->types, type_id, &qos);

    memset(p, 0, sizeof(*p));
    *c = QOS_FRONT_END;
    if (rc == 0 && qos) {
        if (qos_consumer_parse(st_rec_str(qos, "consumer"), c) < 0)
            *c = QOS_BACK_END;
        /* stored specs were checked when written: a failure here is a damaged record */
        if ((rc = qos_policy_parse(json_object_get(qos, "specs"), true, p, msg, sizeof(msg))) < 0)
            st_warn("type %s: qos-specs %s unreadable (%s): no limit applied", type_id,
                    st_rec_str(qos, "id"), msg);
        qos_policy_resolve(p, size_gb);
    }
    json_decref(qos);
    return rc;
}

/* The back-end policy of a volume of type_id and size_gb (none when the
 * type's consumer is front-end only). */
static int backend_policy(struct vol_service *s, const char *type_id, int64_t size_gb,
                          struct qos_policy *p)
{
    enum qos_consumer c;
    int rc = volume_policy(s, type_id, size_gb, p, &c);

    if (rc == 0 && !qos_consumer_back(c))
        memset(p, 0, sizeof(*p));
    return rc;
}

/* Write policy p to the volume's image as librbd metadata, clearing what it
 * does not set.  A fresh image has none to clear: nothing is written unless p
 * sets something. */
static int write_backend_qos(struct vol_service *s, const char *id, const struct qos_policy *p,
                             bool fresh)
{
    char name[NAME_MAX_LEN];
    int rc;

    if (fresh && !qos_policy_any(p))
        return 0;
    json_t *kv = qos_rbd_metadata(p);
    vol_rbd_name(id, name, sizeof(name));
    rc = kv ? vrbd_metadata_apply(s->vols, name, kv) : -ENOMEM;
    if (rc < 0 && rc != -ENOENT)
        st_warn("volume %s: back-end QoS not applied: %s", id, strerror(-rc));
    json_decref(kv);
    return rc;
}

struct pvol {
    char id[ST_META_ID_MAX + 1];
    struct qos_policy p;
};

struct pvols {
    struct pvol *v;
    size_t n, cap;
};

static int pvols_add(struct pvols *l, const char *id, const struct qos_policy *p)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct pvol *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    snprintf(l->v[l->n].id, sizeof(l->v[l->n].id), "%s", id);
    l->v[l->n++].p = *p;
    return 0;
}

/* Every volume of the project that holds data (not hidden, not being
 * deleted) with its back-end policy; volume `id` with type_id and size_gb,
 * which its record may not say yet (a retype, an extend in progress). */
static int project_volumes(struct vol_service *s, const char *project, const char *id,
                           const char *type_id, int64_t size_gb, struct pvols *out)
{
    const struct st_meta_filter f = { "project_id", project };
    char marker[ST_META_ID_MAX + 1] = "";
    struct qos_policy p;
    bool more, seen = false;
    int rc;

    do {
        struct st_record_list l = { 0 };
        rc = st_meta_list(s->meta, &vol_kind, marker[0] ? marker : NULL, 1000, &f, 1, NULL,
                          NULL, &l);
        for (size_t i = 0; rc == 0 && i < l.count; i++) {
            const json_t *v = l.items[i].data;
            const char *vid = l.items[i].id, *st = st_rec_str(v, "status");
            bool me = id && strcmp(vid, id) == 0;
            if (!me && (st_rec_hidden(v) || (st && strcmp(st, "deleting") == 0)))
                continue;
            rc = me ? backend_policy(s, type_id, size_gb, &p)
                    : backend_policy(s, st_rec_str(v, "volume_type_id"),
                                     json_integer_value(json_object_get(v, "size")), &p);
            if (rc == -ENOENT && !me) {   /* its type is gone: no limits of its own */
                memset(&p, 0, sizeof(p));
                rc = 0;
            }
            if (rc == 0)
                rc = pvols_add(out, vid, &p);
            seen = seen || me;
        }
        snprintf(marker, sizeof(marker), "%s", l.next_marker);
        more = rc == 0 && l.truncated;
        st_record_list_cleanup(&l);
    } while (more);
    if (rc == 0 && id && !seen && (rc = backend_policy(s, type_id, size_gb, &p)) == 0)
        rc = pvols_add(out, id, &p);
    return rc;
}

/* The project's cap split over its volumes (qos_share) and each volume's
 * image given min(its type's limits, its share); volume `id` as above (NULL:
 * only re-split, after a delete).  Returns the result for `id`. */
static int apply_project_qos(struct vol_service *s, const char *project, const char *id,
                             const char *type_id, int64_t size_gb, bool fresh)
{
    struct pvols l = { 0 };
    uint64_t *own = NULL, *share = NULL;
    int rc = project_volumes(s, project, id, type_id, size_gb, &l), mine = 0;

    if (rc == 0 && l.n && (!(own = calloc(2 * l.n, sizeof(*own))) ||
                           !(share = calloc(2 * l.n, sizeof(*share)))))
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        own[i] = qos_total_limit(&l.v[i].p, QOS_IOPS);
        own[l.n + i] = qos_total_limit(&l.v[i].p, QOS_BPS);
    }
    if (rc == 0 && l.n && ((rc = qos_share(s->project_cap[QOS_IOPS], own, l.n, share)) == 0))
        rc = qos_share(s->project_cap[QOS_BPS], own + l.n, l.n, share + l.n);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        bool me = id && strcmp(l.v[i].id, id) == 0;
        qos_policy_cap(&l.v[i].p, s->project_cap[QOS_IOPS] ? share[i] : 0,
                       s->project_cap[QOS_BPS] ? share[l.n + i] : 0);
        int r = write_backend_qos(s, l.v[i].id, &l.v[i].p, me && fresh);
        if (me)
            mine = r;
    }
    if (rc < 0)
        st_warn("project %s: its QoS cap was not re-split: %s", project, strerror(-rc));
    free(own);
    free(share);
    free(l.v);
    return rc < 0 ? rc : mine;
}

/* Set the librbd limits of the volume's image from its type's back-end specs
 * (per-GB ones scaled by size_gb), clearing any the type no longer sets, and
 * held to its share of the project's cap when there is one (every volume of
 * the project is re-split then).  fresh: a new image, nothing to clear. */
int vs_apply_backend_qos(struct vol_service *s, const char *project, const char *id,
                         const char *type_id, int64_t size_gb, bool fresh)
{
    struct qos_policy p;
    int rc;

    if ((s->project_cap[QOS_IOPS] || s->project_cap[QOS_BPS]) && project)
        return apply_project_qos(s, project, id, type_id, size_gb, fresh);
    if ((rc = backend_policy(s, type_id, size_gb, &p)) < 0)
        return rc;
    return write_backend_qos(s, id, &p, fresh);
}

/* After a volume of `project` went: the others share its cap among fewer. */
void vs_resplit_project(struct vol_service *s, const char *project)
{
    if ((s->project_cap[QOS_IOPS] || s->project_cap[QOS_BPS]) && project[0])
        apply_project_qos(s, project, NULL, NULL, 0, false);
}

/* connection_info's qos_specs: the front-end specs of the volume's type for
 * its size (NULL = none). */
json_t *vs_frontend_qos(struct vol_service *s, const char *volume_id)
{
    struct st_record rec = { 0 };
    enum qos_consumer c;
    struct qos_policy p;
    json_t *out = NULL;

    if (st_meta_get(s->meta, &vol_kind, volume_id, &rec) == 0 &&
        volume_policy(s, st_rec_str(rec.data, "volume_type_id"),
                      json_integer_value(json_object_get(rec.data, "size")), &p, &c) == 0 &&
        qos_consumer_front(c) && qos_policy_any(&p))
        out = qos_frontend_specs(&p);
    st_record_cleanup(&rec);
    return out;
}

/* A volume's type got other qos-specs (edited, associated, disassociated):
 * its image's librbd limits follow.  No lease, so no user request meets a busy
 * volume; a retype or extend racing it applies its own limits after its step. */
void vs_job_qos(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };

    if (st_meta_get(s->meta, &vol_kind, id, &rec) < 0)
        return;
    const char *st = st_rec_str(rec.data, "status");
    if (st && strcmp(st, "creating") != 0 && strcmp(st, "deleting") != 0 &&
        vs_apply_backend_qos(s, st_rec_str(rec.data, "project_id"), id,
                             st_rec_str(rec.data, "volume_type_id"),
                             json_integer_value(json_object_get(rec.data, "size")), false) == 0)
        st_info("volume %s: QoS of type %s re-applied", id, st_rec_str(rec.data, "volume_type_id"));
    bool attached = json_array_size(json_object_get(rec.data, "attachments")) > 0;
    st_record_cleanup(&rec);
    if (attached)   /* this job holds no lease: tell the guests from here */
        vs_tell_guests(s, id, false);
}

/* The record names the new type under "_s"; apply its back-end QoS, then
 * switch the type and settle back to in-use or available.  In use, the new
 * front-end QoS reaches the running guests (vs_tell_guests, after the lease). */
void vs_job_retype(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    int rc = st_meta_get(s->meta, &vol_kind, id, &rec);

    if (rc < 0)
        return;
    const json_t *priv = json_object_get(rec.data, "_s");
    const char *to = st_rec_str(priv, "retype_to"), *to_name = st_rec_str(priv, "retype_name");
    const char *back = json_array_size(json_object_get(rec.data, "attachments")) ? "in-use"
                                                                                 : "available";
    json_int_t size = json_integer_value(json_object_get(rec.data, "size"));
    const char *project = st_rec_str(rec.data, "project_id");
    rc = to ? vs_apply_backend_qos(s, project, id, to, size, false) : -EINVAL;
    if (rc == 0) {
        if (vs_step(s, &vol_kind, id, "retyping", back,
                    json_pack("{s:s, s:s?, s:{s:n, s:n}}", "volume_type_id", to, "volume_type",
                              to_name, "_s", "retype_to", "retype_name")) == 0 &&
            strcmp(back, "in-use") == 0)
            vs_submit(s, JOB_TELL_QOS, id);
        st_info("volume %s: retyped to %s", id, to);
    } else {   /* the old type's limits back on the image */
        vs_apply_backend_qos(s, project, id, st_rec_str(rec.data, "volume_type_id"), size, false);
        vs_step(s, &vol_kind, id, "retyping", back,
                json_pack("{s:{s:n, s:n}}", "_s", "retype_to", "retype_name"));
    }
    st_record_cleanup(&rec);
}

int vol_retype(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               const char *new_type, char *msg)
{
    struct st_record rec = { 0 };
    json_t *type = NULL;
    int rc = vs_get_visible(s, &vol_kind, who, id, &rec);

    if (rc < 0)
        return rc;
    rc = vt_type_get(s->types, who, new_type, &type);
    if (rc == -ENOENT)
        snprintf(msg, VOL_MSG_MAX, "Volume type %.128s could not be found.", new_type);
    const char *cur = st_rec_str(rec.data, "volume_type_id");
    if (rc == 0 && strcmp(cur ? cur : VT_DEFAULT_ID, st_rec_str(type, "id")) == 0) {
        snprintf(msg, VOL_MSG_MAX, "Invalid input received: Retype needs volume type %s to be "
                 "different from the volume's.", new_type);
        rc = -EINVAL;
    }
    st_record_cleanup(&rec);
    if (rc == 0)
        rc = vs_begin_op(s, &vol_kind, id, "retype", OP_RETYPE, "retyping",
                         json_pack("{s:{s:s, s:s}}", "_s", "retype_to", st_rec_str(type, "id"),
                                   "retype_name", st_rec_str(type, "name")),
                         JOB_RETYPE, msg);
    json_decref(type);
    return rc;
}

static bool of_types(const json_t *d, void *arg)
{
    const char *t = st_rec_str(d, "volume_type_id");
    const json_t *v;
    size_t i;

    json_array_foreach((const json_t *)arg, i, v)
        if (t && json_is_string(v) && strcmp(json_string_value(v), t) == 0)
            return true;
    return false;
}

int vol_service_qos_changed(struct vol_service *s, const json_t *type_ids)
{
    struct st_record_list l = { 0 };
    char marker[ST_META_ID_MAX + 1] = "";
    int rc = 0;

    if (json_array_size(type_ids) == 0)
        return 0;
    do {
        rc = st_meta_list(s->meta, &vol_kind, marker[0] ? marker : NULL, 1000, NULL, 0, of_types,
                          (void *)type_ids, &l);
        for (size_t n = 0; rc == 0 && n < l.count; n++)
            vs_submit(s, JOB_QOS, l.items[n].id);
        snprintf(marker, sizeof(marker), "%s", l.next_marker);
        bool more = rc == 0 && l.truncated;
        st_record_list_cleanup(&l);
        memset(&l, 0, sizeof(l));
        if (!more)
            break;
    } while (1);
    return rc;
}
