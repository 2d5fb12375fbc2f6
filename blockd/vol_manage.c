/* vol_manage.c — manage (adopt an RBD image of the volumes pool as a blockd
 * volume) and unmanage (forget a volume, keep its image), as leased jobs.
 *
 * Manage writes the record "managing" with its lease in one write, the source
 * image's name in _s.manage_source, then renames the image volume-<id>, grows
 * it to the whole GiB, applies the type's QoS and moves it to available.
 * Unmanage moves available → unmanaging under the volume's lease, marks the
 * image (RBD metadata strata_unmanaged, which the orphan sweep respects) and
 * deletes the record, giving its quota back.  A crash anywhere leaves a
 * record in managing/unmanaging that reconcile resumes: every step can run
 * again (a manage whose volume-<id> exists skips the rename; one whose source
 * and target are both gone ends error_managing, with nothing left to lose). */
#include "vol_internal.h"

#include "strata/strutil.h"

#define UNMANAGED_KEY "strata_unmanaged"

static const char *manage_source(const json_t *rec)
{
    return st_rec_str(json_object_get(rec, "_s"), "manage_source");
}

/* "volume-<uuid>": blockd's name for a volume's image; *id points at the uuid. */
static bool blockd_name(const char *name, const char **id)
{
    if (strncmp(name, "volume-", 7) != 0 || !st_is_uuid(name + 7))
        return false;
    *id = name + 7;
    return true;
}

bool vs_image_unmanaged(struct vol_service *s, const char *name)
{
    rbd_image_t img;
    char v[64];
    size_t len = sizeof(v);
    bool marked;

    if (rbd_open_read_only(s->vols, name, &img, NULL) < 0)
        return false;
    marked = rbd_metadata_get(img, UNMANAGED_KEY, v, &len) >= 0 || len > sizeof(v);
    rbd_close(img);
    return marked;
}

bool vs_image_orphan(struct vol_service *s, const char *name)
{
    int64_t since = 0, created = 0;

    if (vs_image_unmanaged(s, name))
        return false;
    if (st_rbd_pool_since(s->vols, VS_POOL_SINCE_KEY, st_now_ms() / 1000, &since) < 0 ||
        st_rbd_created(s->vols, name, &created) < 0)
        return false;   /* cannot tell: keep it */
    return created >= since;
}

static int set_mark(struct vol_service *s, const char *name, const char *value)
{
    json_t *kv = json_pack("{s:s}", UNMANAGED_KEY, value);
    int rc = kv ? vrbd_metadata_apply(s->vols, name, kv) : -ENOMEM;

    json_decref(kv);
    return rc;
}

/* ---- manage ---- */

void vs_job_manage(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    char name[NAME_MAX_LEN], src[NAME_MAX_LEN];
    uint64_t bytes = 0;
    int rc = st_meta_get(s->meta, &vol_kind, id, &rec);

    if (rc < 0)
        return;
    snprintf(src, sizeof(src), "%s", manage_source(rec.data) ? manage_source(rec.data) : "");
    vol_rbd_name(id, name, sizeof(name));
    rc = st_rbd_size(s->vols, name, NULL, &bytes);
    if (rc == -ENOENT && src[0]) {   /* not renamed yet */
        vs_debug_pause(s, "manage", id);
        rc = st_rbd_rename(s->vols, src, name);
        if (rc == 0)
            st_info("volume %s: RBD image %s/%s renamed %s", id, s->pool, src, name);
        if (rc == 0)
            rc = st_rbd_size(s->vols, name, NULL, &bytes);
    }
    if (rc == -ENOENT) {   /* neither the source nor ours: nothing was adopted */
        st_warn("volume %s: manage failed: RBD image %s/%s is gone", id, s->pool, src);
        st_record_cleanup(&rec);
        vs_step(s, &vol_kind, id, "managing", "error_managing",
                json_pack("{s:{s:s}}", "_s", "error", "the image to manage is gone"));
        return;
    }
    uint64_t want = (uint64_t)json_integer_value(json_object_get(rec.data, "size")) * GIB;
    if (rc == 0 && bytes < want)
        rc = st_rbd_resize(s->vols, name, want);   /* growing keeps every byte */
    if (rc == 0)
        rc = set_mark(s, name, "");   /* a once unmanaged image is ours again */
    if (rc == 0)
        rc = vs_apply_backend_qos(s, st_rec_str(rec.data, "project_id"), id,
                                  st_rec_str(rec.data, "volume_type_id"),
                                  json_integer_value(json_object_get(rec.data, "size")), false);
    if (rc == 0)
        vs_debug_pause(s, "manage-renamed", id);
    st_record_cleanup(&rec);
    if (rc < 0) {   /* Ceph trouble: left managing, the reconciler resumes it */
        st_warn("volume %s: manage interrupted: %s (reconcile resumes it)", id, strerror(-rc));
        return;
    }
    if (vs_step(s, &vol_kind, id, "managing", "available", NULL) == 0)
        st_info("volume %s: managed (was RBD image %s), available", id, src);
}

/* What manage_verdict needs of the volume records, read once: the ids, and
 * the sources of the manages in progress. */
struct verdict_ctx {
    json_t *ids;       /* id → true */
    json_t *sources;   /* source name → volume id */
};

static int verdict_load(struct vol_service *s, struct verdict_ctx *c)
{
    json_t *recs = NULL, *r;
    size_t i;
    int rc = st_meta_list_all(s->meta, &vol_kind, NULL, NULL, &recs);

    c->ids = json_object();
    c->sources = json_object();
    json_array_foreach(recs, i, r) {
        const char *id = st_rec_str(r, "id"), *st = st_rec_str(r, "status");
        if (!id)
            continue;
        json_object_set_new(c->ids, id, json_true());
        if (st && strcmp(st, "managing") == 0 && manage_source(r))
            json_object_set_new(c->sources, manage_source(r), json_string(id));
    }
    json_decref(recs);
    return rc;
}

static void verdict_clear(struct verdict_ctx *c)
{
    json_decref(c->ids);
    json_decref(c->sources);
}

/* Why image `name` cannot be managed (reason, VOL_MSG_MAX bytes; "" = it can),
 * and the volume owning it (cinder_id, 37 bytes, "" = none). */
static void manage_verdict(struct vol_service *s, const struct verdict_ctx *c, const char *name,
                           char *reason, char *cinder_id)
{
    const char *id = NULL, *by = json_string_value(json_object_get(c->sources, name));

    reason[0] = cinder_id[0] = '\0';
    if (by) {
        snprintf(reason, VOL_MSG_MAX, "being managed by volume %s", by);
    } else if (blockd_name(name, &id)) {
        if (json_object_get(c->ids, id)) {
            snprintf(reason, VOL_MSG_MAX, "already managed");
            snprintf(cinder_id, 37, "%s", id);
        } else if (vs_image_orphan(s, name)) {
            snprintf(reason, VOL_MSG_MAX, "an orphan of blockd (no volume record owns it; the "
                                          "reconciler removes it)");
        }
    }
}

/* What the image itself forbids: a client has it open (a running guest of
 * whoever made it), or it has snapshots blockd would not know (a delete of the
 * volume would then fail on them). */
static void image_verdict(struct vol_service *s, const char *name, char *reason)
{
    size_t watchers = 0, snaps = 0;

    if (st_rbd_watchers(s->vols, name, &watchers) == 0 && watchers)
        snprintf(reason, VOL_MSG_MAX, "volume in use");
    else if (st_rbd_snap_count(s->vols, name, &snaps) == 0 && snaps)
        snprintf(reason, VOL_MSG_MAX, "it has %zu snapshot(s): delete or flatten them first",
                 snaps);
}

#define BAD_REF "Manage existing volume failed due to invalid backend reference "

int vol_manage(struct vol_service *s, const struct st_auth_ctx *who,
               const struct vol_manage_req *req, json_t **out, char *msg)
{
    char src[NAME_MAX_LEN], reason[VOL_MSG_MAX], owner[37], id[37], now[40];
    const char *project = req->project_id ? req->project_id : who->project_id;
    json_t *rec = NULL, *type = NULL;
    uint64_t bytes = 0;
    int rc;

    if (!who->is_admin)
        return -EPERM;
    if (req->source_id) {
        rc = st_rbd_name_by_id(s->vols, req->source_id, src, sizeof(src));
        if (rc == -ENOENT)
            return st_msgf(msg, VOL_MSG_MAX, -EINVAL,
                           BAD_REF "{'source-id': '%.64s'}: no RBD image of pool %s has that id.",
                           req->source_id, s->pool);
        if (rc < 0)
            goto ceph;
    } else {
        snprintf(src, sizeof(src), "%s", req->source_name);
    }
    rc = st_rbd_size(s->vols, src, NULL, &bytes);
    if (rc == -ENOENT || rc == -EINVAL)
        return st_msgf(msg, VOL_MSG_MAX, -EINVAL,
                       BAD_REF "{'source-name': '%.96s'}: no such RBD image in pool %s.", src,
                       s->pool);
    struct verdict_ctx vc = { NULL, NULL };
    if (rc == 0 && (rc = verdict_load(s, &vc)) == 0) {
        manage_verdict(s, &vc, src, reason, owner);
        if (!reason[0])
            image_verdict(s, src, reason);
    }
    verdict_clear(&vc);
    if (rc < 0)
        goto ceph;
    if (reason[0])
        return st_msgf(msg, VOL_MSG_MAX, -EINVAL, BAD_REF "{'source-name': '%.96s'}: %s.", src,
                       reason);
    rc = vt_type_get(s->types, who, req->volume_type ? req->volume_type : "default", &type);
    if (rc == -ENOENT)
        snprintf(msg, VOL_MSG_MAX, "Volume type with name %.128s could not be found.",
                 req->volume_type ? req->volume_type : "default");
    if (rc < 0)
        return rc;
    int64_t size = (int64_t)((bytes + GIB - 1) / GIB);
    if (size < 1)
        size = 1;
    vs_new_id(id);
    vs_now_ts(now, sizeof(now));
    rec = json_pack("{s:s, s:s?, s:s?, s:s, s:I, s:s, s:n, s:n, s:s, s:s, s:s, s:s, s:o, s:o, "
                    "s:b, s:b, s:s, s:s, s:s, s:{s:s}}",
                    "id", id, "name", req->name, "description", req->description, "status",
                    "managing", "size", (json_int_t)size, "availability_zone",
                    req->availability_zone ? req->availability_zone : s->az, "snapshot_id",
                    "source_volid", "project_id", project, "user_id", who->user_id, "created_at",
                    now, "updated_at", now, "metadata",
                    req->metadata ? json_deep_copy(req->metadata) : json_object(), "attachments",
                    json_array(), "multiattach", 0, "encrypted", 0, "bootable",
                    req->bootable ? "true" : "false", "volume_type_id", st_rec_str(type, "id"),
                    "volume_type", st_rec_str(type, "name"), "_s", "manage_source", src);
    json_decref(type);
    if (!rec)
        return -ENOMEM;
    struct vq_counts need = { { 1, 0, size } };
    if ((rc = vol_quota_reserve(s->quota, project, &need, msg)) < 0)
        goto out;
    /* record + lease in one write: a managing volume is always some job's */
    rc = st_meta_create_leased(s->meta, &vol_kind, id, rec, s->owner, "manage", st_now_ms(),
                               s->ttl_ms, NULL);
    if (rc == 0 && (rc = vs_submit(s, JOB_MANAGE, id)) < 0) {
        st_meta_delete(s->meta, &vol_kind, id, 0);
        snprintf(msg, VOL_MSG_MAX, "The block service is too busy; try again later");
    }
    if (rc < 0)
        vol_quota_release(s->quota, project, &need);
    else
        st_info("volume %s: managing RBD image %s/%s (%llu bytes, %lld GiB)", id, s->pool, src,
                (unsigned long long)bytes, (long long)size);
out:
    if (rc < 0) {
        json_decref(rec);
        return rc;
    }
    *out = rec;
    return 0;
ceph:
    snprintf(msg, VOL_MSG_MAX, "Ceph did not answer (%s); try again later", strerror(-rc));
    return -EIO;
}

int vol_manageable(struct vol_service *s, const struct st_auth_ctx *who, json_t **items)
{
    char **names = NULL, reason[VOL_MSG_MAX], owner[37];
    size_t n = 0;
    json_t *list;
    int rc;

    if (!who->is_admin)
        return -EPERM;
    struct verdict_ctx vc = { NULL, NULL };
    if ((rc = verdict_load(s, &vc)) < 0 || (rc = st_rbd_list(s->vols, &names, &n)) < 0) {
        verdict_clear(&vc);
        return -EIO;
    }
    list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        uint64_t bytes = 0;
        if (st_rbd_size(s->vols, names[i], NULL, &bytes) < 0)
            continue;   /* gone meanwhile, or unreadable: one image does not fail the list */
        manage_verdict(s, &vc, names[i], reason, owner);
        if (!reason[0])
            image_verdict(s, names[i], reason);
        json_array_append_new(list, json_pack("{s:s, s:I, s:s?, s:s?}", "name", names[i],
                                              "bytes", (json_int_t)bytes, "reason",
                                              reason[0] ? reason : NULL, "cinder_id",
                                              owner[0] ? owner : NULL));
    }
    st_rbd_list_free(names, n);
    verdict_clear(&vc);
    if (!list)
        return -ENOMEM;
    *items = list;
    return 0;
}

/* ---- unmanage ---- */

void vs_job_unmanage(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    char name[NAME_MAX_LEN], now[40], project[ST_META_ID_MAX + 1] = "";
    int rc = st_meta_get(s->meta, &vol_kind, id, &rec);

    if (rc < 0)
        return;
    snprintf(project, sizeof(project), "%s",
             st_rec_str(rec.data, "project_id") ? st_rec_str(rec.data, "project_id") : "");
    vs_debug_pause(s, "unmanage", id);
    vol_rbd_name(id, name, sizeof(name));
    vs_now_ts(now, sizeof(now));
    rc = set_mark(s, name, now);   /* first: the image must outlive its record */
    if (rc == -ENOENT)
        rc = 0;   /* no image to keep */
    if (rc == 0)
        rc = vs_delete_counted(s, &vol_kind, id, rec.data);
    st_record_cleanup(&rec);
    if (rc < 0) {
        st_warn("volume %s: unmanage interrupted: %s (reconcile resumes it)", id, strerror(-rc));
        return;
    }
    st_info("volume %s: unmanaged; RBD image %s/%s kept", id, s->pool, name);
    if (project[0])
        vs_resplit_project(s, project);
}

static bool backup_busy(const json_t *rec, void *arg)
{
    static const char *const busy[] = { "creating", "deleting", NULL };
    const char *v = st_rec_str(rec, "volume_id");
    return v && strcmp(v, arg) == 0 && vs_status_in(st_rec_str(rec, "status"), busy);
}

static bool snapshot_of(const json_t *rec, void *arg)
{
    const char *v = st_rec_str(rec, "volume_id");
    return v && strcmp(v, arg) == 0;   /* hidden ones too: their data is on the image */
}

static bool clone_of(const json_t *rec, void *arg)
{
    const char *v = st_rec_str(rec, "source_volid"), *st = st_rec_str(rec, "status");
    return v && st && strcmp(v, arg) == 0 && strcmp(st, "creating") == 0;
}

/* What keeps volume `id` (rec) from being unmanaged: -EINVAL and msg, 0, or
 * -EIO when the records cannot be read. */
static int unmanage_check(struct vol_service *s, const char *id, const json_t *rec, char *msg)
{
    static const struct {
        const struct st_meta_kind *k;
        st_meta_pred_fn pred;
        const char *what;
    } deps[] = {
        { &snap_kind, snapshot_of, "it has snapshots" },
        { &vol_kind, clone_of, "a volume is being created from it" },
        { &backup_kind, backup_busy, "a backup of it is in progress" },
    };
    const char *st = st_rec_str(rec, "status");

    if (!st || strcmp(st, "available") != 0)
        return st_msgf(msg, VOL_MSG_MAX, -EINVAL,
                       "Invalid volume: Volume status must be available to unmanage; volume %s "
                       "is %s.", id, st ? st : "?");
    if (json_array_size(json_object_get(rec, "attachments")) > 0)
        return st_msgf(msg, VOL_MSG_MAX, -EINVAL,
                       "Invalid volume: Volume %s is attached; detach it first.", id);
    if (json_array_size(json_object_get(json_object_get(rec, "_s"), "uploads")) > 0)
        return st_msgf(msg, VOL_MSG_MAX, -EINVAL,
                       "Invalid volume: an upload to image from volume %s is still in progress.",
                       id);
    for (size_t i = 0; i < sizeof(deps) / sizeof(deps[0]); i++) {
        json_t *found = NULL;
        int rc = st_meta_list_all(s->meta, deps[i].k, deps[i].pred, (void *)id, &found);
        size_t n = json_array_size(found);
        json_decref(found);
        if (rc < 0)
            return st_msgf(msg, VOL_MSG_MAX, -EIO, "The metadata store did not answer (%s).",
                           strerror(-rc));
        if (n)
            return st_msgf(msg, VOL_MSG_MAX, -EINVAL, "Invalid volume: Volume %s cannot be "
                           "unmanaged: %s.", id, deps[i].what);
    }
    return 0;
}

int vol_unmanage(struct vol_service *s, const struct st_auth_ctx *who, const char *id, char *msg)
{
    struct st_record rec = { 0 };
    int rc;

    if (!who->is_admin)
        return st_msgf(msg, VOL_MSG_MAX, -EPERM,
                       "Policy doesn't allow volume_extension:volume_unmanage to be performed.");
    if ((rc = vs_get_visible(s, &vol_kind, who, id, &rec)) < 0)
        return rc;
    st_record_cleanup(&rec);
    /* under the volume's lease (snapshot creates, extends, deletes take it
     * too), so nothing new can start while the checks run */
    if ((rc = vs_lease_for(s, &vol_kind, id, "unmanage", msg)) < 0)
        return rc;
    rc = st_meta_get(s->meta, &vol_kind, id, &rec);
    if (rc == 0)
        rc = unmanage_check(s, id, rec.data, msg);
    st_record_cleanup(&rec);
    if (rc < 0) {
        st_lease_release(s->meta, &vol_kind, id, s->owner);
        return rc;
    }
    return vs_begin_leased(s, &vol_kind, id, OP_UNMANAGE, "unmanaging", NULL, JOB_UNMANAGE, msg);
}
