/* image_rbdimport.c — images made from a snapshot of another pool's RBD image
 * (blockd's upload-to-image): the record is created "saving" with its lease,
 * then a worker clones the snapshot into the images pool, flattens the clone
 * (cost proportional to the data, in the background, not through any API),
 * protects "snap" and makes the image active.  Every step is idempotent, so
 * reconcile resumes an interrupted import from what the record says. */
#include "image_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/log.h"
#include "strata/rbd.h"
#include "strata/strutil.h"
#include "strata/workpool.h"

struct rbdimport_job {
    struct img_service *s;
    char id[ST_META_ID_MAX + 1];
};

/* The flatten copies the whole volume: at the pace [imaged] bulk_bytes_sec
 * (daemon) and bulk_image_bytes_sec (this copy) allow, so an upload-to-image
 * cannot starve the guests on the cluster; librbd's own flatten when unset. */
static int paced_flatten(struct img_service *s, const char *id)
{
    struct qos_bulk_copy c;
    int rc = qos_bulk_copy_begin(&s->bulk, &c);

    if (rc < 0)
        return rc;
    bool paced = qos_bulk_copy_limited(&c);
    int64_t t0 = qos_now_ns();
    rc = st_rbd_flatten_paced(s->images, id, paced ? qos_bulk_copy_pace : NULL, &c);
    if (rc == 0)
        st_info("image %s: flattened in %.2f s (%s)", id, (double)(qos_now_ns() - t0) / 1e9,
                paced ? "paced by [imaged] bulk_*bytes_sec" : "at full speed");
    qos_bulk_copy_end(&c);
    return rc;
}

/* Clone (unless done), flatten (unless done), protect snap, active. */
static int import_steps(struct img_service *s, const char *id, char *msg)
{
    struct st_record rec = { 0 };
    char pool[IMG_POOL_MAX], name[128], snap[128];
    uint64_t size = 0;
    int rc = st_meta_get(s->meta, &img_kind, id, &rec);

    if (rc < 0)
        return rc;
    const json_t *src = json_object_get(json_object_get(rec.data, "_s"), "import_rbd");
    snprintf(pool, sizeof(pool), "%s", st_rec_str(src, "pool") ? st_rec_str(src, "pool") : "");
    snprintf(name, sizeof(name), "%s", st_rec_str(src, "name") ? st_rec_str(src, "name") : "");
    snprintf(snap, sizeof(snap), "%s", st_rec_str(src, "snap") ? st_rec_str(src, "snap") : "");
    st_record_cleanup(&rec);
    int idx = img_clone_pool_index(s, pool);
    if (idx < 0) {
        snprintf(msg, IMG_MSG_MAX, "import source pool '%s' is not a clone pool", pool);
        return -EINVAL;
    }
    rc = st_rbd_size(s->images, id, NULL, &size);
    if (rc == -ENOENT)
        rc = st_rbd_clone(s->clone_ioctx[idx], name, snap, s->images, id, 0);
    if (rc == 0) {
        rc = paced_flatten(s, id);
        rc = rc == -EINVAL ? 0 : rc;   /* no parent any more: flattened before a crash */
    }
    if (rc == 0)
        rc = st_rbd_snap_protect(s->images, id, IMG_SNAP_NAME);
    if (rc == 0)
        rc = st_rbd_size(s->images, id, NULL, &size);
    if (rc == 0) {
        json_t *extra = json_pack("{s:I, s:I, s:{s:b, s:n}}", "size", (json_int_t)size,
                                  "virtual_size", (json_int_t)size, "_s", "rbd", 1, "import_rbd");
        rc = extra ? img_set_status_leased(s, id, IMG_SAVING, IMG_ACTIVE, extra) : -ENOMEM;
        json_decref(extra);
    }
    if (rc < 0 && !msg[0])
        snprintf(msg, IMG_MSG_MAX, "import from %s/%s@%s failed: %s", pool, name, snap,
                 strerror(-rc));
    return rc;
}

static void import_job(void *arg)
{
    struct rbdimport_job *j = arg;
    char msg[IMG_MSG_MAX] = "";
    int rc = import_steps(j->s, j->id, msg);

    if (rc == 0) {
        st_info("image %s: active, flattened from its source", j->id);
    } else if (rc != -ESTALE) {   /* -ESTALE: another owner took over; it decides */
        json_t *extra = json_pack("{s:{s:b, s:s, s:n}}", "_s", "rbd", 0, "last_error", msg,
                                  "import_rbd");
        st_warn("image %s: %s", j->id, msg);
        st_rbd_remove(j->s->images, j->id);
        img_set_status_leased(j->s, j->id, IMG_SAVING, IMG_KILLED, extra);
        json_decref(extra);
    }
    free(j);
}

int img_import_rbd_resume(struct img_service *s, const char *id)
{
    struct rbdimport_job *j = calloc(1, sizeof(*j));
    int rc;

    if (!j)
        return -ENOMEM;
    j->s = s;
    snprintf(j->id, sizeof(j->id), "%s", id);
    rc = st_workpool_submit_leased(s->workers, s->meta, &img_kind, id, s->owner, s->lease_ttl_ms,
                                   import_job, free, j);
    if (rc < 0)
        free(j);
    return rc;
}

int img_import_rbd(struct img_service *s, const struct st_auth_ctx *who, const char *id,
                   const json_t *fields, const char *pool, const char *name, const char *snap,
                   json_t **out, char *msg)
{
    const char *fmt = st_rec_str(fields, "disk_format");
    json_t *f, *priv, *rec = NULL;
    int rc;

    if (img_clone_pool_index(s, pool) < 0 || !st_rbd_name_valid(name) || !st_rbd_name_valid(snap)) {
        snprintf(msg, IMG_MSG_MAX, "An import source is an RBD snapshot in %s or %s",
                 s->clone_pool[0], s->clone_pool[1]);
        return -EINVAL;
    }
    if (!st_is_uuid(id)) {
        snprintf(msg, IMG_MSG_MAX, "Image ID %.64s is not a UUID", id);
        return -EINVAL;
    }
    if (fmt && strcmp(fmt, "raw") != 0) {
        snprintf(msg, IMG_MSG_MAX, "An RBD import is raw data, not %s", fmt);
        return -EINVAL;
    }
    f = json_deep_copy(fields);
    priv = json_pack("{s:b, s:{s:s, s:s, s:s}}", "rbd", 0, "import_rbd", "pool", pool, "name",
                     name, "snap", snap);
    if (!f || !priv) {
        json_decref(f);
        json_decref(priv);
        return -ENOMEM;
    }
    json_object_set_new(f, "id", json_string(id));
    if (!fmt)
        json_object_set_new(f, "disk_format", json_string("raw"));
    rc = img_create_as(s, who, f, IMG_SAVING, priv, IMG_OP_IMPORT_RBD, &rec, msg);
    json_decref(f);
    json_decref(priv);
    if (rc == 0 && (rc = img_import_rbd_resume(s, st_rec_str(rec, "id"))) < 0) {
        img_set_status_leased(s, st_rec_str(rec, "id"), IMG_SAVING, IMG_KILLED, NULL);
        st_lease_release(s->meta, &img_kind, st_rec_str(rec, "id"), s->owner);
        snprintf(msg, IMG_MSG_MAX, "The image service is too busy; try again later");
    }
    if (rc < 0) {
        json_decref(rec);
        return rc;
    }
    st_info("image %s: importing %s/%s@%s", st_rec_str(rec, "id"), pool, name, snap);
    *out = rec;
    return 0;
}
