/* vol_create.c — making a volume: blank, from an image (an RBD clone of
 * imaged's snapshot), from a snapshot or a volume (clone + throttled flatten). */
#include "vol_internal.h"

/* The image as imaged shows it to the caller's project (a short-lived token
 * for that project, so imaged's own visibility rules decide: owned, public,
 * community, shared): 0; -EINVAL (400) when imaged does not know it or it is
 * not active; -EIO (503) when imaged is unreachable or failing. */
static int image_lookup(struct vol_service *s, const char *image_id,
                        const struct st_auth_ctx *who, json_t **image, char *msg)
{
    struct st_auth_ctx as = { .nroles = 1, .roles = { "member" } };
    char *tok = NULL;
    int rc;

    snprintf(as.user_id, sizeof(as.user_id), "%s", who->user_id);
    snprintf(as.project_id, sizeof(as.project_id), "%s", who->project_id);
    rc = st_auth_issue(st_daemon_auth(s->d), &as, st_now_ms() / 1000 + 300, &tok);
    if (rc < 0)
        return rc;
    json_t *img = NULL;
    rc = st_imaged_image(s->imaged, image_id, tok, &img, msg, VOL_MSG_MAX);
    OPENSSL_cleanse(tok, strlen(tok));
    free(tok);
    const char *status = json_string_value(json_object_get(img, "status"));
    if (rc == -ENOENT) {
        snprintf(msg, VOL_MSG_MAX,
                 "Invalid image identifier or unable to access requested image.");
        rc = -EINVAL;
    } else if (rc == 0 && (!status || strcmp(status, "active") != 0)) {
        snprintf(msg, VOL_MSG_MAX, "Image %s is not active.", image_id);
        json_decref(img);
        rc = -EINVAL;
    } else if (rc == 0) {
        *image = img;
    }
    return rc;
}

/* Cinder's volume_image_metadata: string values from the image. */
static json_t *image_metadata(const json_t *image)
{
    static const char *const keys[] = { "checksum", "container_format", "disk_format",
                                         "min_disk", "min_ram", "size", NULL };
    json_t *m = json_object();
    char buf[64];

    json_object_set_new(m, "image_id", json_string(st_rec_str(image, "id")));
    json_object_set_new(m, "image_name",
                        json_string(st_rec_str(image, "name") ? st_rec_str(image, "name") : ""));
    for (int i = 0; keys[i]; i++) {
        json_t *v = json_object_get(image, keys[i]);
        if (json_is_string(v))
            json_object_set(m, keys[i], v);
        else if (json_is_integer(v)) {
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
            json_object_set_new(m, keys[i], json_string(buf));
        }
    }
    return m;
}

static int clone_image(struct vol_service *s, const json_t *rec, const char *rbd_name,
                       uint64_t bytes, char *msg)
{
    const char *image_id =
        json_string_value(json_object_get(json_object_get(rec, "_s"), "image_id"));

    return st_imaged_clone(s->imaged, image_id, s->pool, rbd_name, bytes,
                           st_rec_str(rec, "project_id"), msg, VOL_MSG_MAX);
}

/* Flatten a new volume's image at the pace [blockd] bulk_bytes_sec (daemon)
 * and bulk_volume_bytes_sec (this copy) allow, so copies cannot starve guests;
 * at full speed (librbd's own flatten) when neither is set. */
static int bulk_flatten(struct vol_service *s, const char *name)
{
    struct qos_bulk_copy c;
    int rc = qos_bulk_copy_begin(&s->bulk, &c);

    if (rc < 0)
        return rc;
    bool paced = qos_bulk_copy_limited(&c);
    int64_t t0 = qos_now_ns();
    rc = st_rbd_flatten_paced(s->vols, name, paced ? qos_bulk_copy_pace : NULL, &c);
    st_info("%s: flattened in %.2f s (%s)", name, (double)(qos_now_ns() - t0) / 1e9,
            paced ? "paced by [blockd] bulk_*bytes_sec" : "at full speed");
    qos_bulk_copy_end(&c);
    return rc;
}

/* Test only ([blockd] debug_pause_step): hold a job at a named step for 60 s,
 * logging where, so a test can kill -9 the daemon in exactly that window. */
void vs_debug_pause(struct vol_service *s, const char *step, const char *id)
{
    char list[sizeof(s->pause_steps) + 2], want[72];

    if (!s->pause_steps[0])
        return;
    snprintf(list, sizeof(list), ",%s,", s->pause_steps);
    snprintf(want, sizeof(want), ",%s,", step);
    if (!strstr(list, want))
        return;
    st_warn("debug_pause_step: volume %s paused at %s", id, step);
    struct timespec ts = { 60, 0 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int make_volume(struct vol_service *s, const json_t *rec, char *msg)
{
    char name[NAME_MAX_LEN], parent[NAME_MAX_LEN], snap[NAME_MAX_LEN];
    const char *id = st_rec_str(rec, "id");
    uint64_t bytes = (uint64_t)json_integer_value(json_object_get(rec, "size")) * GIB;
    const char *snapshot_id = st_rec_str(rec, "snapshot_id");
    const char *source = st_rec_str(rec, "source_volid");
    const json_t *priv = json_object_get(rec, "_s");
    int rc;

    vol_rbd_name(id, name, sizeof(name));
    if (json_is_string(json_object_get(priv, "image_id")))
        return clone_image(s, rec, name, bytes, msg);
    if (snapshot_id) {
        snap_rbd_name(snapshot_id, snap, sizeof(snap));
        vol_rbd_name(json_string_value(json_object_get(priv, "parent_volume")), parent,
                     sizeof(parent));
        rc = st_rbd_clone(s->vols, parent, snap, s->vols, name, bytes);
        unsigned depth = 0;
        if (rc == 0 && st_rbd_parent_depth(s->vols, name, &depth) == 0 &&
            depth > (unsigned)s->max_depth) {
            st_info("volume %s: clone depth %u > %d: flattening", id, depth, s->max_depth);
            rc = bulk_flatten(s, name);
        }
        return rc;
    }
    if (source) {
        /* snapshot + clone, then flatten and drop the snapshot: the new volume
         * is independent of its source from then on */
        vol_rbd_name(source, parent, sizeof(parent));
        snprintf(snap, sizeof(snap), "clone-%s", id);
        rc = st_rbd_snap_create(s->vols, parent, snap, true);
        if (rc == 0)
            rc = st_rbd_clone(s->vols, parent, snap, s->vols, name, bytes);
        if (rc == 0)
            rc = bulk_flatten(s, name);
        if (rc == 0)
            st_rbd_snap_remove(s->vols, parent, snap);
        return rc;   /* on failure vs_job_create removes the clone, then the snapshot */
    }
    return st_rbd_create(s->vols, name, bytes);
}

/* The from-volume path's temporary snapshot "clone-<id>" on the source, once
 * the clone is gone (a failed or interrupted create). */
void vs_drop_clone_snap(struct vol_service *s, const json_t *rec)
{
    char parent[NAME_MAX_LEN], snap[NAME_MAX_LEN];
    const char *source = st_rec_str(rec, "source_volid");

    if (!source)
        return;
    vol_rbd_name(source, parent, sizeof(parent));
    snprintf(snap, sizeof(snap), "clone-%s", st_rec_str(rec, "id"));
    st_rbd_snap_remove(s->vols, parent, snap);
}

void vs_job_create(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    char msg[VOL_MSG_MAX] = "", name[NAME_MAX_LEN];
    int rc = st_meta_get(s->meta, &vol_kind, id, &rec);

    if (rc < 0)
        return;
    rc = make_volume(s, rec.data, msg);
    if (rc == 0)
        rc = vs_apply_backend_qos(s, st_rec_str(rec.data, "project_id"), id,
                                  st_rec_str(rec.data, "volume_type_id"),
                                  json_integer_value(json_object_get(rec.data, "size")), true);
    if (rc == 0)
        vs_debug_pause(s, "create", id);
    bool bootable = json_is_string(json_object_get(json_object_get(rec.data, "_s"), "image_id"));
    const char *backup = st_rec_str(json_object_get(rec.data, "_s"), "backup_id");
    if (rc == 0 && backup) {
        rc = vs_restore_new_volume(s, id, backup, msg);
        vs_step(s, &vol_kind, id, "restoring-backup", rc == 0 ? "available" : "error_restoring",
                NULL);
        st_record_cleanup(&rec);
        return;
    }
    if (rc < 0 && backup)
        vs_backup_unclaim(s, backup, msg[0] ? msg : strerror(-rc));
    if (rc == 0) {
        st_record_cleanup(&rec);
        vs_step(s, &vol_kind, id, "creating", "available",
                json_pack("{s:s}", "bootable", bootable ? "true" : "false"));
        st_info("volume %s: available", id);
        return;
    }
    st_warn("volume %s: create failed: %s", id, msg[0] ? msg : strerror(-rc));
    vol_rbd_name(id, name, sizeof(name));
    if (rc != -EEXIST)
        st_rbd_remove(s->vols, name);
    vs_drop_clone_snap(s, rec.data);
    st_record_cleanup(&rec);
    vs_step(s, &vol_kind, id, "creating", "error",
            json_pack("{s:{s:s}}", "_s", "error", msg[0] ? msg : strerror(-rc)));
}

/* Check the create's source and fill what the record needs from it. */
static int resolve_source(struct vol_service *s, const struct st_auth_ctx *who,
                          const struct vol_create_req *req, json_t *rec, int64_t *min_gb,
                          char *msg)
{
    struct st_record src = { 0 };
    int rc = 0;

    *min_gb = 1;
    if (req->snapshot_id) {
        rc = vs_get_visible(s, &snap_kind, who, req->snapshot_id, &src);
        if (rc == -ENOENT)
            snprintf(msg, VOL_MSG_MAX, "Snapshot %s could not be found.", req->snapshot_id);
        if (rc < 0)
            return rc;
        static const char *const usable[] = { "available", NULL };
        if (!vs_status_in(st_rec_str(src.data, "status"), usable)) {
            snprintf(msg, VOL_MSG_MAX, "Invalid snapshot: snapshot %s is %s, not available",
                     req->snapshot_id, st_rec_str(src.data, "status"));
            rc = -EINVAL;
        } else {
            *min_gb = json_integer_value(json_object_get(src.data, "size"));
            json_object_set_new(st_rec_private(rec), "parent_volume",
                                json_string(st_rec_str(src.data, "volume_id")));
        }
    } else if (req->source_volid) {
        rc = vs_get_visible(s, &vol_kind, who, req->source_volid, &src);
        if (rc == -ENOENT)
            snprintf(msg, VOL_MSG_MAX, "Volume %s could not be found.", req->source_volid);
        if (rc < 0)
            return rc;
        if (!vs_status_in(st_rec_str(src.data, "status"), vs_rule_from(OP_SOURCE))) {
            snprintf(msg, VOL_MSG_MAX, "Invalid volume: source volume %s is %s", req->source_volid,
                     st_rec_str(src.data, "status"));
            rc = -EINVAL;
        } else {
            *min_gb = json_integer_value(json_object_get(src.data, "size"));
        }
    } else if (req->image_id) {
        json_t *image = NULL;
        rc = image_lookup(s, req->image_id, who, &image, msg);
        if (rc < 0)
            return rc;
        json_int_t vsize = json_integer_value(json_object_get(image, "virtual_size"));
        if (vsize <= 0)
            vsize = json_integer_value(json_object_get(image, "size"));
        *min_gb = (int64_t)(((uint64_t)vsize + GIB - 1) / GIB);
        if (*min_gb < 1)
            *min_gb = 1;
        json_object_set_new(st_rec_private(rec), "image_id", json_string(req->image_id));
        json_object_set_new(rec, "volume_image_metadata", image_metadata(image));
        json_decref(image);
    }
    st_record_cleanup(&src);
    return rc;
}

int vol_create(struct vol_service *s, const struct st_auth_ctx *who,
               const struct vol_create_req *req, json_t **out, char *msg)
{
    char id[37], now[40];
    json_t *rec = json_object();
    int64_t min_gb = 1;
    bool claimed = false;
    int rc;

    vs_new_id(id);
    vs_now_ts(now, sizeof(now));
    json_t *type = NULL;
    rc = vt_type_get(s->types, who, req->volume_type ? req->volume_type : "default", &type);
    if (rc == -ENOENT)
        snprintf(msg, VOL_MSG_MAX, "Volume type with name %.128s could not be found.",
                 req->volume_type ? req->volume_type : "default");
    if (rc < 0)
        goto out;
    json_object_set_new(rec, "volume_type_id", json_string(st_rec_str(type, "id")));
    json_object_set_new(rec, "volume_type", json_string(st_rec_str(type, "name")));
    json_decref(type);
    rc = resolve_source(s, who, req, rec, &min_gb, msg);
    if (rc < 0)
        goto out;
    if (req->backup_id) {   /* the backup is ours (restoring) until the volume is filled */
        if ((rc = vs_backup_claim(s, who, req->backup_id, id, &min_gb, msg)) < 0)
            goto out;
        claimed = true;
        json_object_set_new(st_rec_private(rec), "backup_id", json_string(req->backup_id));
    }
    int64_t size = req->size_gb ? req->size_gb : min_gb;
    if (size < min_gb) {
        snprintf(msg, VOL_MSG_MAX, "Invalid input received: volume size %lld GiB is smaller "
                 "than its source (%lld GiB)", (long long)size, (long long)min_gb);
        rc = -EINVAL;
        goto unclaim;
    }
    json_t *fields = json_pack("{s:s, s:s?, s:s?, s:s, s:I, s:s, s:s?, s:s?, "
                               "s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:b}",
        "id", id, "name", req->name, "description", req->description, "status", "creating",
        "size", (json_int_t)size,
        "availability_zone", req->availability_zone ? req->availability_zone : s->az,
        "snapshot_id", req->snapshot_id, "source_volid", req->source_volid,
        "project_id", who->project_id, "user_id", who->user_id, "created_at", now,
        "updated_at", now,
        "metadata", req->metadata ? json_deep_copy(req->metadata) : json_object(),
        "attachments", json_array(), "multiattach", 0, "encrypted", 0);
    if (!fields || json_object_update(rec, fields) < 0) {
        json_decref(fields);
        rc = -ENOMEM;
        goto unclaim;
    }
    json_decref(fields);
    json_object_set_new(rec, "bootable", json_string("false"));
    /* quota first (vol_quota.h: released when the record is finally deleted) */
    struct vq_counts need = { { 1, 0, size } };
    if ((rc = vol_quota_reserve(s->quota, who->project_id, &need, msg)) < 0)
        goto unclaim;
    /* the record and its lease in one write: nothing can see a creating
     * volume that no operation owns */
    rc = st_meta_create_leased(s->meta, &vol_kind, id, rec, s->owner, "create", st_now_ms(),
                               s->ttl_ms, NULL);
    if (rc == 0 && (rc = vs_submit(s, JOB_CREATE, id)) < 0) {
        st_meta_delete(s->meta, &vol_kind, id, 0);
        snprintf(msg, VOL_MSG_MAX, "The block service is too busy; try again later");
    }
    if (rc < 0)
        vol_quota_release(s->quota, who->project_id, &need);
unclaim:
    if (rc < 0 && claimed)
        vs_backup_unclaim(s, req->backup_id, NULL);
out:
    if (rc < 0) {
        json_decref(rec);
        return rc;
    }
    *out = rec;
    return 0;
}
