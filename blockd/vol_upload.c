/* vol_upload.c — upload to image: imaged imports a protected snapshot of the
 * volume; the snapshot is dropped once the image is active. */
#include "vol_internal.h"

const char *const vs_uploading_only[] = { "uploading", NULL };

/* Back from uploading (to in-use while attached, else available), naming the
 * upload whose snapshot "upload-<image id>" stays until imaged has flattened
 * the image (arg: that image id, or NULL when there is no snapshot). */
int vs_end_upload(json_t *rec, void *arg)
{
    json_t *priv = st_rec_private(rec), *list = json_object_get(priv, "uploads");
    bool attached = json_array_size(json_object_get(rec, "attachments")) > 0;

    if (arg) {
        if (!json_is_array(list)) {
            list = json_array();
            json_object_set_new(priv, "uploads", list);
        }
        json_array_append_new(list, json_string(arg));
    }
    json_object_del(priv, "upload_pending");
    json_object_set_new(rec, "status", json_string(attached ? "in-use" : "available"));
    return 0;
}

/* Ask imaged for an image made from volume id's snapshot, for the caller's
 * project: 0, -EINVAL (refused: msg), -EIO (unreachable or failing: 503). */
static int imaged_import(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                         const char *image_id, const struct vol_upload_req *u, char *msg)
{
    char name[NAME_MAX_LEN], snap[NAME_MAX_LEN];
    json_t *image;
    int rc;

    vol_rbd_name(id, name, sizeof(name));
    snprintf(snap, sizeof(snap), "upload-%s", image_id);
    image = json_pack("{s:s, s:s, s:s, s:b, s:s}", "name", u->image_name, "disk_format", "raw",
                      "container_format", "bare", "protected", u->is_protected, "visibility",
                      u->visibility ? u->visibility : "private");
    if (!image)
        return -ENOMEM;
    rc = st_imaged_import_rbd(s->imaged, image_id, s->pool, name, snap, who->project_id, image, msg,
                              VOL_MSG_MAX);
    json_decref(image);
    /* any refusal (the image's fields, its id) is the caller's request: a 400 */
    return rc == -ENOENT || rc == -EEXIST ? -EINVAL : rc;
}

int vol_upload_image(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                     const struct vol_upload_req *u, json_t **out, char *image_id, char *msg)
{
    static const char *const plain[] = { "available", NULL };
    static const char *const forced[] = { "available", "in-use", NULL };
    struct st_record rec = { 0 };
    char name[NAME_MAX_LEN], snap[NAME_MAX_LEN], iid[37];
    int rc = vs_get_visible(s, &vol_kind, who, id, &rec);

    st_record_cleanup(&rec);
    if (rc == 0)
        rc = vs_lease_for(s, &vol_kind, id, "upload", msg);
    if (rc < 0)
        return rc;
    vs_new_id(iid);
    json_t *extra = json_pack("{s:{s:s}}", "_s", "upload_pending", iid);
    struct transition t = { u->force ? forced : plain, "uploading", extra, "", NULL, NULL };
    rc = extra ? vs_transition(s, &vol_kind, id, true, &t) : -ENOMEM;
    json_decref(extra);
    if (rc == -ECANCELED)
        snprintf(msg, VOL_MSG_MAX, "Invalid volume: Volume %s status must be available%s to "
                 "upload, but current status is: %s.", id, u->force ? " or in-use" : "", t.cur);
    if (rc < 0) {
        st_lease_release(s->meta, &vol_kind, id, s->owner);
        return rc;
    }
    /* the data imaged clones and flattens: a protected snapshot of the volume */
    vol_rbd_name(id, name, sizeof(name));
    snprintf(snap, sizeof(snap), "upload-%s", iid);
    bool keep = false;
    rc = st_rbd_snap_create(s->vols, name, snap, true);
    if (rc == 0 && (rc = imaged_import(s, who, id, iid, u, msg)) == 0)
        keep = true;
    else if (rc < 0)   /* still cloned by an import that did start: the sweep removes it later */
        keep = st_rbd_snap_remove(s->vols, name, snap) == -EBUSY;
    struct transition back = { vs_uploading_only, NULL, NULL, "",
                               vs_end_upload, keep ? iid : NULL };
    int brc = vs_transition(s, &vol_kind, id, true, &back);
    if (brc < 0)
        st_warn("volume %s: not back from uploading: %s", id, strerror(-brc));
    struct st_record now = { 0 };
    if (rc == 0 && (rc = st_meta_get(s->meta, &vol_kind, id, &now)) == 0) {
        json_object_set_new(now.data, "status", json_string("uploading"));   /* Cinder's answer */
        *out = json_incref(now.data);
        snprintf(image_id, 37, "%s", iid);
        st_info("volume %s: uploading to image %s", id, iid);
    }
    st_record_cleanup(&now);
    st_lease_release(s->meta, &vol_kind, id, s->owner);
    return rc;
}

/* Whether imaged is done with an image made from an upload snapshot (active,
 * killed, deleted or gone): 1 yes, 0 not yet, -EIO when it cannot tell. */
static int upload_done(struct vol_service *s, const char *image_id)
{
    static const char *const done[] = { "active", "killed", "deleted", "deactivated", NULL };
    char msg[VOL_MSG_MAX];
    json_t *image = NULL;
    int rc = st_imaged_image(s->imaged, image_id, NULL, &image, msg, sizeof(msg));

    if (rc == 0)
        rc = vs_status_in(st_rec_str(image, "status"), done);
    json_decref(image);
    return rc == -ENOENT ? 1 : rc < 0 ? -EIO : rc;
}

static int drop_upload(json_t *rec, void *arg)
{
    json_t *list = json_object_get(st_rec_private(rec), "uploads");

    for (size_t i = 0; i < json_array_size(list); i++) {
        if (strcmp(json_string_value(json_array_get(list, i)), arg) == 0) {
            json_array_remove(list, i);
            return 0;
        }
    }
    return 1;
}

static bool has_uploads(const json_t *rec, void *arg)
{
    (void)arg;
    return json_array_size(json_object_get(json_object_get(rec, "_s"), "uploads")) > 0;
}

/* Upload snapshots imaged no longer needs (its image is flattened, or gone). */
void vs_sweep_uploads(struct vol_service *s)
{
    struct st_record_list l = { 0 };
    char name[NAME_MAX_LEN], snap[NAME_MAX_LEN];
    json_t *iid;
    size_t i;

    if (st_meta_list(s->meta, &vol_kind, NULL, 1000, NULL, 0, has_uploads, NULL, &l) < 0)
        return;
    for (size_t n = 0; n < l.count; n++) {
        /* no lease: a user's request must never meet a busy volume because of
         * this sweep; a delete racing it is safe (vs_remove_volume_image) */
        vol_rbd_name(l.items[n].id, name, sizeof(name));
        json_array_foreach(json_object_get(json_object_get(l.items[n].data, "_s"), "uploads"), i,
                           iid) {
            const char *image_id = json_string_value(iid);
            if (!image_id || upload_done(s, image_id) != 1)
                continue;
            snprintf(snap, sizeof(snap), "upload-%s", image_id);
            int rc = st_rbd_snap_remove(s->vols, name, snap);
            if (rc == 0 || rc == -ENOENT) {
                st_meta_modify(s->meta, &vol_kind, l.items[n].id, drop_upload, (void *)image_id,
                               NULL);
                st_info("volume %s: upload snapshot %s removed (image %s done)", l.items[n].id,
                        snap, image_id);
            }
        }
    }
    st_record_list_cleanup(&l);
}
