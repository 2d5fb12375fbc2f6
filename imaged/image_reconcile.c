/* image_reconcile.c — imaged's crash recovery, at start-up and periodically:
 * uploads/imports whose lease went stale are undone (image back to queued, its
 * data removed) or resumed; deleted images are purged once their last clone is
 * gone; RBD images in the images pool that no record owns are removed; clone
 * records ("_s".clones) whose child RBD image is gone are dropped. */
#include "image_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "strata/log.h"
#include "strata/ticker.h"
#include "strata/rbd.h"
#include "strata/workpool.h"

static bool looks_like_image_id(const char *name)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

    if (strlen(name) != sizeof(shape) - 1)
        return false;
    for (size_t i = 0; shape[i]; i++) {
        bool hex = (name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f');
        if (shape[i] == '-' ? name[i] != '-' : !hex)
            return false;
    }
    return true;
}

/* A lease whose holder died: undo or resume what it was doing. */
static int reconcile_lease(struct st_meta *m, const char *id, const struct st_lease *l, void *arg)
{
    struct img_service *s = arg;
    struct st_record rec = { 0 };
    char path[PATH_MAX];
    struct stat st;
    int rc = st_lease_acquire(m, &img_kind, id, s->owner, l->op, st_now_ms(), s->lease_ttl_ms);

    if (rc == -EBUSY || rc == -ENOENT)   /* someone else took it, or the image is gone */
        return 0;
    if (rc < 0)
        return rc;
    rc = st_meta_get(m, &img_kind, id, &rec);
    if (rc < 0)
        goto release;
    const char *status = st_rec_str(rec.data, "status");
    img_staging_path(s, id, NULL, path, sizeof(path));
    if (status && strcmp(status, IMG_IMPORTING) == 0 && stat(path, &st) == 0) {
        st_warn("image %s: resuming the import interrupted on %s", id, l->owner);
        if (img_import_submit(s, id) == 0) {
            st_record_cleanup(&rec);
            return 0;   /* the job owns the lease now */
        }
    }
    if (status && strcmp(status, IMG_SAVING) == 0 &&
        json_is_object(json_object_get(json_object_get(rec.data, "_s"), "import_rbd"))) {
        st_warn("image %s: resuming the RBD import interrupted on %s", id, l->owner);
        if (img_import_rbd_resume(s, id) == 0) {
            st_record_cleanup(&rec);
            return 0;   /* the job owns the lease now */
        }
    }
    if (status && (strcmp(status, IMG_SAVING) == 0 || strcmp(status, IMG_UPLOADING) == 0 ||
                   strcmp(status, IMG_IMPORTING) == 0)) {
        static const char why[] = "interrupted: the daemon holding it stopped";
        json_t *extra = json_pack("{s:{s:b, s:s}}", "_s", "staged", 0, "last_error", why);
        rc = extra ? img_import_outcome(rec.data, -EINTR, why, extra) : -ENOMEM;
        if (rc == 0)
            rc = img_remove_data(s, id);
        if (rc < 0) {
            /* keep the lease unrenewed: it goes stale and a later pass retries */
            st_warn("image %s: cannot remove the data of an interrupted %s: %s", id, l->op,
                    strerror(-rc));
            json_decref(extra);
            st_record_cleanup(&rec);
            return rc;
        }
        st_warn("image %s: %s interrupted (held by %s): data removed, back to queued", id,
                l->op, l->owner);
        rc = img_set_status_leased(s, id, status, IMG_QUEUED, extra);
        json_decref(extra);
    }
    st_record_cleanup(&rec);
release:
    st_lease_release(m, &img_kind, id, s->owner);
    return rc;
}

/* Deleted images whose clones are gone. */
static int sweep_deleted(struct img_service *s)
{
    static const struct st_meta_filter deleted = { "status", IMG_DELETED };
    char marker[ST_META_ID_MAX + 1] = "";
    int rc;

    for (;;) {
        struct st_record_list l = { 0 };
        rc = st_meta_list(s->meta, &img_kind, marker[0] ? marker : NULL, 500, &deleted, 1,
                          NULL, NULL, &l);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < l.count; i++) {
            int prc = img_purge_deleted(s, l.items[i].id);
            if (prc < 0 && prc != -EBUSY)
                st_warn("image %s: purge failed: %s", l.items[i].id, strerror(-prc));
        }
        bool more = l.truncated;
        snprintf(marker, sizeof(marker), "%s", l.next_marker);
        st_record_list_cleanup(&l);
        if (!more)
            return 0;
    }
}

static bool has_clones(const json_t *data, void *arg)
{
    (void)arg;
    return json_array_size(json_object_get(json_object_get(data, "_s"), "clones")) > 0;
}

/* Clone records whose child is gone (a volume deleted, a guest's disk
 * removed): without this "_s".clones would only ever grow. */
static int sweep_clone_lists(struct img_service *s)
{
    json_t *all = NULL;
    int rc = st_meta_list_all(s->meta, &img_kind, has_clones, NULL, &all);

    if (rc < 0)
        return rc;
    for (size_t i = 0; i < json_array_size(all); i++) {
        const char *id = st_rec_str(json_array_get(all, i), "id");
        int prc = id ? img_prune_clones(s, id) : 0;

        if (prc < 0 && prc != -ENOENT)
            st_warn("image %s: pruning its clone list failed: %s", id, strerror(-prc));
    }
    json_decref(all);
    return 0;
}

/* RBD images that no record owns (or whose record says there is no data). */
/* Whether the record of `id` says it has no RBD data (queued or killed):
 * 1 yes, 0 no, -ENOENT no record at all. */
static int record_wants_no_data(struct img_service *s, const char *id)
{
    struct st_record rec = { 0 };
    int rc = st_meta_get(s->meta, &img_kind, id, &rec);

    if (rc < 0)
        return rc;
    const char *status = st_rec_str(rec.data, "status");
    bool has_data = json_is_true(json_object_get(json_object_get(rec.data, "_s"), "rbd"));
    rc = !has_data && status &&
         (strcmp(status, IMG_QUEUED) == 0 || strcmp(status, IMG_KILLED) == 0);
    st_record_cleanup(&rec);
    return rc;
}

/* RBD images that no record owns (or whose record says there is no data). */
static int sweep_orphans(struct img_service *s)
{
    char **names = NULL;
    size_t n = 0;
    int rc = st_rbd_list(s->images, &names, &n);

    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const char *id = names[i];
        bool leased = false;

        if (!looks_like_image_id(id))
            continue;   /* not ours to judge */
        rc = record_wants_no_data(s, id);
        if (rc == 1) {
            /* A candidate: judge again under the image's lease, so that no
             * upload can be starting on it meanwhile. */
            if (st_lease_acquire(s->meta, &img_kind, id, s->owner, "sweep", st_now_ms(),
                                 s->lease_ttl_ms) < 0)
                continue;
            leased = true;
            rc = record_wants_no_data(s, id);
        }
        /* -ENOENT: no record at all (an upload always creates it first). */
        if (rc == 1 || rc == -ENOENT) {
            int rrc = st_rbd_remove(s->images, id);
            if (rrc == 0)
                st_warn("removed RBD image %s/%s: no image record owns it", s->images_pool, id);
            else if (rrc != -ENOENT)
                st_warn("orphan RBD image %s/%s: cannot remove: %s", s->images_pool, id,
                        strerror(-rrc));
        }
        if (leased)
            st_lease_release(s->meta, &img_kind, id, s->owner);
    }
    st_rbd_list_free(names, n);
    return 0;
}

int img_service_reconcile(struct img_service *s)
{
    int rc = st_lease_reconcile(s->meta, &img_kind, s->owner, st_now_ms(), reconcile_lease, s);
    int rc2 = sweep_deleted(s);
    int rc3 = sweep_orphans(s);
    int rc4 = sweep_clone_lists(s);

    if (rc > 0)
        st_info("reconcile: %d interrupted operation(s) handled", rc);
    return rc < 0 ? rc : rc2 < 0 ? rc2 : rc3 < 0 ? rc3 : rc4;
}

static void reconcile_tick(void *arg)
{
    int rc = img_service_reconcile(arg);

    if (rc < 0)
        st_warn("periodic reconcile: %s", strerror(-rc));
}

int img_reconcile_start(struct img_service *s)
{
    return st_ticker_start_after(&s->reconciler, 0, s->reconcile_interval_ms, reconcile_tick, s);
}

void img_reconcile_stop(struct img_service *s)
{
    st_ticker_stop(&s->reconciler);
}
