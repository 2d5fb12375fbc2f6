/* image_service.c — image records and their rules: creation, tenancy (who
 * sees and who edits what), compare-and-swap edits, deactivate/reactivate,
 * deletion that never breaks clones, and copy-on-write clones for blockd and
 * computed.  Data movement is in image_data.c, crash recovery in image_reconcile.c. */
#include "image_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "strata/bufpool.h"
#include "strata/config.h"
#include "strata/daemon.h"
#include "strata/log.h"
#include "strata/metrics.h"
#include "strata/rados.h"
#include "strata/rbd.h"
#include "strata/strutil.h"
#include "strata/workpool.h"

static int validate_image(const json_t *data)
{
    return json_is_string(json_object_get(data, "id")) &&
                   json_is_string(json_object_get(data, "status"))
               ? 0
               : -EINVAL;
}

const struct st_meta_kind img_kind = { "image", validate_image };

/* ---- record helpers ---- */

bool img_rec_visible(const json_t *rec, const struct st_auth_ctx *who)
{
    const char *vis = st_rec_str(rec, "visibility");
    const char *owner = st_rec_str(rec, "owner");

    if (st_rec_hidden(rec))
        return false;
    if (who->is_admin)
        return true;
    if (owner && strcmp(owner, who->project_id) == 0)
        return true;
    /* Shared images are visible to their owner (image members are not
     * implemented); public and community images to everyone. */
    return vis && (strcmp(vis, "public") == 0 || strcmp(vis, "community") == 0);
}

bool img_rec_editable(const json_t *rec, const struct st_auth_ctx *who)
{
    const char *owner = st_rec_str(rec, "owner");
    return who->is_admin || (owner && strcmp(owner, who->project_id) == 0);
}

void img_now_iso(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void img_staging_path(const struct img_service *s, const char *id, const char *suffix,
                      char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s%s", s->staging_dir, id, suffix ? suffix : "");
}

int img_get_visible(struct img_service *s, const struct st_auth_ctx *who, const char *id,
                    struct st_record *rec)
{
    int rc = st_meta_get(s->meta, &img_kind, id, rec);

    if (rc == -EINVAL)   /* not even a valid id: it cannot exist */
        return -ENOENT;
    if (rc < 0)
        return rc;
    if (!img_rec_visible(rec->data, who)) {
        st_record_cleanup(rec);
        return -ENOENT;
    }
    return 0;
}

/* ---- status changes ---- */

struct status_change {
    const char *from, *to;
    const json_t *extra;
};

static int apply_status(json_t *rec, void *arg)
{
    struct status_change *c = arg;
    const char *cur = st_rec_str(rec, "status");
    char now[32];

    if (st_rec_hidden(rec)) /* deleted: nothing may bring it back */
        return -ENOENT;
    if (c->from && (!cur || strcmp(cur, c->from) != 0))
        return -ECANCELED;
    if (c->extra) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)c->extra, k, v) {
            if (strcmp(k, "_s") == 0)
                json_object_update(st_rec_private(rec), v);
            else
                json_object_set(rec, k, v);
        }
    }
    json_object_set_new(rec, "status", json_string(c->to));
    img_now_iso(now, sizeof(now));
    json_object_set_new(rec, "updated_at", json_string(now));
    return 0;
}

int img_set_status(struct img_service *s, const char *id, const char *from, const char *to,
                   const json_t *extra)
{
    struct status_change c = { from, to, extra };
    return st_meta_modify(s->meta, &img_kind, id, apply_status, &c, NULL);
}

int img_set_status_leased(struct img_service *s, const char *id, const char *from,
                          const char *to, const json_t *extra)
{
    struct status_change c = { from, to, extra };
    int rc = st_meta_modify_as(s->meta, &img_kind, id, s->owner, apply_status, &c, NULL);

    if (rc == -ESTALE)
        st_warn("image %s: not set %s: this process no longer holds its lease", id, to);
    return rc;
}

int img_remove_data(struct img_service *s, const char *id)
{
    char path[PATH_MAX];
    int rc = st_rbd_remove(s->images, id);

    if (rc == -ENOENT)
        rc = 0;
    img_staging_path(s, id, NULL, path, sizeof(path));
    unlink(path);
    img_staging_path(s, id, ".raw", path, sizeof(path));
    unlink(path);
    img_staging_path(s, id, ".head", path, sizeof(path));
    unlink(path);
    return rc;
}

/* ---- create / get / list ---- */

/* Members Glance always shows, null until known. */
static const char *const null_fields[] = {
    "name", "disk_format", "container_format", "size", "virtual_size", "checksum",
    "os_hash_algo", "os_hash_value", NULL,
};

int img_create(struct img_service *s, const struct st_auth_ctx *who, const json_t *fields,
               json_t **out, char *msg)
{
    return img_create_as(s, who, fields, IMG_QUEUED, NULL, NULL, out, msg);
}

int img_create_as(struct img_service *s, const struct st_auth_ctx *who, const json_t *fields,
                  const char *status, const json_t *priv, const char *lease_op, json_t **out,
                  char *msg)
{
    json_t *rec = json_deep_copy(fields);
    char id[37], now[32];
    const char *vis;
    int rc;

    if (!rec)
        return -ENOMEM;
    if (json_is_string(json_object_get(rec, "id"))) {
        /* one spelling per image: RBD names and reconcile expect lowercase */
        snprintf(id, sizeof(id), "%s", st_rec_str(rec, "id"));
        for (char *p = id; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'F' ? *p + ('a' - 'A') : *p);
    } else {
        uuid_t u;
        uuid_generate_random(u);
        uuid_unparse_lower(u, id);
    }
    json_object_set_new(rec, "id", json_string(id));
    for (int i = 0; null_fields[i]; i++)
        if (!json_object_get(rec, null_fields[i]))
            json_object_set_new(rec, null_fields[i], json_null());
    if (!json_object_get(rec, "visibility"))
        json_object_set_new(rec, "visibility", json_string("shared"));
    vis = st_rec_str(rec, "visibility");
    if (vis && strcmp(vis, "public") == 0 && !who->is_admin) {
        snprintf(msg, IMG_MSG_MAX, "Only administrators may create public images");
        json_decref(rec);
        return -EPERM;
    }
    if (!json_object_get(rec, "protected"))
        json_object_set_new(rec, "protected", json_false());
    if (!json_object_get(rec, "os_hidden"))
        json_object_set_new(rec, "os_hidden", json_false());
    if (!json_object_get(rec, "tags"))
        json_object_set_new(rec, "tags", json_array());
    if (!json_object_get(rec, "min_disk"))
        json_object_set_new(rec, "min_disk", json_integer(0));
    if (!json_object_get(rec, "min_ram"))
        json_object_set_new(rec, "min_ram", json_integer(0));
    if (!who->is_admin || !json_is_string(json_object_get(rec, "owner")))
        json_object_set_new(rec, "owner", json_string(who->project_id));
    img_now_iso(now, sizeof(now));
    json_object_set_new(rec, "created_at", json_string(now));
    json_object_set_new(rec, "updated_at", json_string(now));
    json_object_set_new(rec, "status", json_string(status));
    json_object_set_new(rec, "_s", priv ? json_deep_copy(priv) : json_object());

    rc = lease_op ? st_meta_create_leased(s->meta, &img_kind, st_rec_str(rec, "id"), rec, s->owner,
                                          lease_op, st_now_ms(), s->lease_ttl_ms, NULL)
                  : st_meta_create(s->meta, &img_kind, st_rec_str(rec, "id"), rec, NULL);
    if (rc == -EEXIST)
        snprintf(msg, IMG_MSG_MAX, "An image with ID %s already exists", st_rec_str(rec, "id"));
    if (rc < 0) {
        json_decref(rec);
        return rc;
    }
    *out = rec;
    return 0;
}

int img_get(struct img_service *s, const struct st_auth_ctx *who, const char *id, json_t **out)
{
    struct st_record rec = { 0 };
    int rc = img_get_visible(s, who, id, &rec);

    if (rc < 0)
        return rc;
    *out = json_incref(rec.data);
    st_record_cleanup(&rec);
    return 0;
}

struct list_ctx {
    const struct st_auth_ctx *who;
    const struct img_filter *filters;
    size_t nfilters;
    bool visibility_given;
};

static bool has_tag(const json_t *rec, const char *tag)
{
    size_t i;
    json_t *t;

    json_array_foreach(json_object_get(rec, "tags"), i, t) {
        if (json_is_string(t) && strcmp(json_string_value(t), tag) == 0)
            return true;
    }
    return false;
}

static bool list_match(const json_t *rec, void *arg)
{
    const struct list_ctx *c = arg;
    const char *vis = st_rec_str(rec, "visibility");
    const char *owner = st_rec_str(rec, "owner");

    if (!img_rec_visible(rec, c->who))
        return false;
    /* Glance: without a visibility filter, community images of other projects
     * are not listed to members (they are usable by id); admins list every image. */
    if (!c->visibility_given && !c->who->is_admin && vis && strcmp(vis, "community") == 0 &&
        !(owner && strcmp(owner, c->who->project_id) == 0))
        return false;
    for (size_t i = 0; i < c->nfilters; i++) {
        const struct img_filter *f = &c->filters[i];
        if (strcmp(f->field, "tag") == 0) {
            if (!has_tag(rec, f->value))
                return false;
            continue;
        }
        if (strcmp(f->field, "visibility") == 0 && strcmp(f->value, "all") == 0)
            continue;
        json_t *v = json_object_get(rec, f->field);
        char num[32];
        const char *sv = json_string_value(v);
        if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            sv = num;
        } else if (json_is_boolean(v)) {
            sv = json_is_true(v) ? "true" : "false";
        }
        if (!sv || strcmp(sv, f->value) != 0)
            return false;
    }
    return true;
}

int img_list(struct img_service *s, const struct st_auth_ctx *who,
             const struct img_filter *filters, size_t nfilters, json_t **out)
{
    struct list_ctx c = { who, filters, nfilters, false };

    for (size_t i = 0; i < nfilters; i++)
        if (strcmp(filters[i].field, "visibility") == 0)
            c.visibility_given = true;
    return st_meta_list_all(s->meta, &img_kind, list_match, &c, out);
}

/* ---- edits ---- */

/* Fields only the service sets: whatever an edit does to them is undone. */
static const char *const service_fields[] = {
    "id", "status", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value",
    "created_at", "_s", NULL,
};

struct edit_ctx {
    const struct st_auth_ctx *who;
    img_edit_fn fn;
    void *arg;
    char *msg;
};

static int apply_edit(json_t *rec, void *arg)
{
    struct edit_ctx *c = arg;
    json_t *before = json_deep_copy(rec);
    const char *vis_before = st_rec_str(before, "visibility");
    const char *vis;
    char now[32];
    int rc = c->fn(rec, c->arg, c->msg);

    if (rc < 0)
        goto out;
    for (int i = 0; service_fields[i]; i++) {
        json_t *v = json_object_get(before, service_fields[i]);
        if (v)
            json_object_set(rec, service_fields[i], v);
        else
            json_object_del(rec, service_fields[i]);
    }
    if (!c->who->is_admin)
        json_object_set(rec, "owner", json_object_get(before, "owner"));
    vis = st_rec_str(rec, "visibility");
    if (!c->who->is_admin && vis && strcmp(vis, "public") == 0 &&
        !(vis_before && strcmp(vis_before, "public") == 0)) {
        snprintf(c->msg, IMG_MSG_MAX, "Only administrators may publicize images");
        rc = -EPERM;
        goto out;
    }
    if (json_equal(rec, before)) {
        rc = 1;   /* nothing changed: no write */
        goto out;
    }
    img_now_iso(now, sizeof(now));
    json_object_set_new(rec, "updated_at", json_string(now));
out:
    json_decref(before);
    return rc;
}

int img_update(struct img_service *s, const struct st_auth_ctx *who, const char *id,
               img_edit_fn fn, void *arg, json_t **out, char *msg)
{
    struct st_record rec = { 0 };
    struct edit_ctx c = { who, fn, arg, msg };
    int rc = img_get_visible(s, who, id, &rec);

    if (rc < 0)
        return rc;
    bool editable = img_rec_editable(rec.data, who);
    st_record_cleanup(&rec);
    if (!editable) {
        snprintf(msg, IMG_MSG_MAX, "You are not permitted to modify image %s", id);
        return -EPERM;
    }
    rc = st_meta_modify(s->meta, &img_kind, id, apply_edit, &c, &rec);
    if (rc < 0)
        return rc;
    if (st_rec_hidden(rec.data)) { /* deleted meanwhile */
        st_record_cleanup(&rec);
        return -ENOENT;
    }
    *out = json_incref(rec.data);
    st_record_cleanup(&rec);
    return 0;
}

/* Get a record the caller may see AND edit: -ENOENT / -EPERM. */
static int get_editable(struct img_service *s, const struct st_auth_ctx *who, const char *id,
                        struct st_record *rec, char *msg)
{
    int rc = img_get_visible(s, who, id, rec);

    if (rc < 0)
        return rc;
    if (!img_rec_editable(rec->data, who)) {
        snprintf(msg, IMG_MSG_MAX, "You are not permitted to modify image %s", id);
        st_record_cleanup(rec);
        return -EPERM;
    }
    return 0;
}

static int change_activation(struct img_service *s, const struct st_auth_ctx *who,
                             const char *id, const char *from, const char *to, char *msg)
{
    struct st_record rec = { 0 };
    int rc = get_editable(s, who, id, &rec, msg);

    if (rc < 0)
        return rc;
    const char *status = st_rec_str(rec.data, "status");
    char cur[32];   /* a copy: the record goes before the message is written */
    bool already = status && strcmp(status, to) == 0;
    snprintf(cur, sizeof(cur), "%s", status ? status : "?");
    st_record_cleanup(&rec);
    if (already)
        return 0;
    rc = img_set_status(s, id, from, to, NULL);
    if (rc == -ECANCELED)
        snprintf(msg, IMG_MSG_MAX, "Image %s is %s: only %s images can become %s", id, cur,
                 from, to);
    return rc;
}

int img_deactivate(struct img_service *s, const struct st_auth_ctx *who, const char *id, char *msg)
{
    return change_activation(s, who, id, IMG_ACTIVE, IMG_DEACTIVATED, msg);
}

int img_reactivate(struct img_service *s, const struct st_auth_ctx *who, const char *id, char *msg)
{
    return change_activation(s, who, id, IMG_DEACTIVATED, IMG_ACTIVE, msg);
}

/* ---- delete ---- */

static int mark_deleted(json_t *rec, void *arg)
{
    char now[32];
    json_t *p = st_rec_private(rec);

    (void)arg;
    if (json_is_true(json_object_get(p, "deleted")))
        return 1;
    img_now_iso(now, sizeof(now));
    json_object_set_new(p, "deleted", json_true());
    json_object_set_new(p, "deleted_at", json_string(now));
    json_object_set_new(rec, "status", json_string(IMG_DELETED));
    json_object_set_new(rec, "updated_at", json_string(now));
    return 0;
}

int img_purge_deleted(struct img_service *s, const char *id)
{
    size_t children = 0;
    int rc = st_rbd_children(s->images, id, IMG_SNAP_NAME, &children);

    if (rc == -ENOENT)
        children = 0;
    else if (rc < 0)
        return rc;
    if (children > 0)
        return -EBUSY;
    rc = img_remove_data(s, id);
    if (rc < 0)
        return rc;   /* -EBUSY if a clone appeared meanwhile: try again later */
    rc = st_meta_delete(s->meta, &img_kind, id, 0);
    if (rc == 0)
        st_info("image %s: data and record removed", id);
    return rc == -ENOENT ? 0 : rc;
}

int img_delete(struct img_service *s, const struct st_auth_ctx *who, const char *id, char *msg)
{
    struct st_record rec = { 0 };
    struct st_lease lease;
    int rc = get_editable(s, who, id, &rec, msg);

    if (rc < 0)
        return rc;
    bool protected = json_is_true(json_object_get(rec.data, "protected"));
    st_record_cleanup(&rec);
    if (protected) {
        snprintf(msg, IMG_MSG_MAX, "Image %s is protected and cannot be deleted", id);
        return -EPERM;
    }
    /* Take the image's lease: an upload or import in progress finishes or
     * fails first, and none can start while it is being hidden. */
    rc = st_lease_acquire(s->meta, &img_kind, id, s->owner, "delete", st_now_ms(),
                          s->lease_ttl_ms);
    if (rc == -EBUSY && st_lease_get(s->meta, &img_kind, id, &lease) == 0)
        snprintf(msg, IMG_MSG_MAX, "Image %s is busy (%s in progress); try again later", id,
                 lease.op);
    if (rc < 0)
        return rc == -EBUSY ? -ECANCELED : rc;
    /* Hide it first: from now on the API never shows it, whatever happens next. */
    rc = st_meta_modify(s->meta, &img_kind, id, mark_deleted, NULL, NULL);
    st_lease_release(s->meta, &img_kind, id, s->owner);
    if (rc < 0)
        return rc;
    rc = img_purge_deleted(s, id);
    if (rc == -EBUSY) {
        st_info("image %s deleted; its RBD image stays hidden until its clones are gone", id);
        return 0;
    }
    if (rc < 0)
        st_warn("image %s deleted; removing its data failed (%s): reconcile will retry", id,
                strerror(-rc));
    return 0;
}

/* ---- clones ---- */

int img_clone_pool_index(const struct img_service *s, const char *pool)
{
    for (int i = 0; i < 2; i++)
        if (s->clone_ioctx[i] && strcmp(s->clone_pool[i], pool) == 0)
            return i;
    return -1;
}

struct clone_note {
    const char *pool, *name;
};

static int add_clone(json_t *rec, void *arg)
{
    struct clone_note *n = arg;
    json_t *p = st_rec_private(rec);
    json_t *clones = json_object_get(p, "clones");
    char now[32];

    if (!json_is_array(clones)) {
        clones = json_array();
        json_object_set_new(p, "clones", clones);
    }
    img_now_iso(now, sizeof(now));
    json_array_append_new(clones, json_pack("{s:s, s:s, s:s}", "pool", n->pool, "name", n->name,
                                            "created_at", now));
    return 0;
}

/* Drop the entries of "_s".clones whose child RBD image is gone (checked
 * again on every try, so a clone made meanwhile is never dropped): 1 when
 * none is, for st_meta_modify. */
static int prune_clones(json_t *rec, void *arg)
{
    struct img_service *s = arg;
    json_t *clones = json_object_get(json_object_get(rec, "_s"), "clones");
    size_t i = 0, dropped = 0;

    while (i < json_array_size(clones)) {
        json_t *c = json_array_get(clones, i);
        const char *pool = st_rec_str(c, "pool"), *name = st_rec_str(c, "name");
        int idx = pool ? img_clone_pool_index(s, pool) : -1;
        uint64_t size;

        if (idx >= 0 && name && st_rbd_name_valid(name) &&
            st_rbd_size(s->clone_ioctx[idx], name, NULL, &size) == -ENOENT) {
            json_array_remove(clones, i);
            dropped++;
        } else {
            i++;
        }
    }
    return dropped ? 0 : 1;
}

int img_prune_clones(struct img_service *s, const char *id)
{
    struct st_record rec = {0};
    size_t before, after;
    int rc = st_meta_get(s->meta, &img_kind, id, &rec);

    if (rc < 0)
        return rc;
    before = json_array_size(json_object_get(json_object_get(rec.data, "_s"), "clones"));
    st_record_cleanup(&rec);
    if (!before)
        return 0;
    rc = st_meta_modify(s->meta, &img_kind, id, prune_clones, s, &rec);
    if (rc < 0)
        return rc;
    after = json_array_size(json_object_get(json_object_get(rec.data, "_s"), "clones"));
    st_record_cleanup(&rec);
    if (after < before)
        st_info("image %s: %zu gone clone(s) dropped from its clone list", id, before - after);
    return 0;
}

int img_clone(struct img_service *s, const struct st_auth_ctx *who, const char *id,
              const char *pool, const char *name, uint64_t size, json_t **out, char *msg)
{
    struct st_record rec = { 0 };
    int idx = img_clone_pool_index(s, pool);
    int rc;

    if (idx < 0) {
        snprintf(msg, IMG_MSG_MAX, "Clones can only be made into %s or %s", s->clone_pool[0],
                 s->clone_pool[1]);
        return -EINVAL;
    }
    if (!st_rbd_name_valid(name)) {
        snprintf(msg, IMG_MSG_MAX, "Invalid clone name '%s'", name);
        return -EINVAL;
    }
    rc = img_get_visible(s, who, id, &rec);
    if (rc < 0)
        return rc;
    const char *status = st_rec_str(rec.data, "status");
    json_int_t img_size = json_integer_value(json_object_get(rec.data, "size"));
    json_int_t vsize = json_integer_value(json_object_get(rec.data, "virtual_size"));
    bool active = status && strcmp(status, IMG_ACTIVE) == 0;
    /* status is borrowed from rec.data: the message is written before the record goes. */
    if (!active)
        snprintf(msg, IMG_MSG_MAX, "Image %s is %s; only active images can be cloned", id,
                 status ? status : "?");
    st_record_cleanup(&rec);
    if (!active)
        return -ECANCELED;
    uint64_t parent_size = (uint64_t)(vsize > 0 ? vsize : img_size);
    if (size == 0)
        size = parent_size;
    if (size < parent_size) {
        snprintf(msg, IMG_MSG_MAX, "Clone size %llu is smaller than the image (%llu bytes)",
                 (unsigned long long)size, (unsigned long long)parent_size);
        return -EINVAL;
    }
    rc = st_rbd_clone(s->images, id, IMG_SNAP_NAME, s->clone_ioctx[idx], name,
                      size > parent_size ? size : 0);
    if (rc == -EEXIST)
        snprintf(msg, IMG_MSG_MAX, "%s/%s already exists", pool, name);
    if (rc < 0)
        return rc;
    struct clone_note note = { pool, name };
    rc = st_meta_modify(s->meta, &img_kind, id, add_clone, &note, NULL);
    if (rc < 0)   /* the clone is real and safe; only the bookkeeping missed */
        st_warn("image %s: clone %s/%s made but not recorded: %s", id, pool, name, strerror(-rc));
    *out = json_pack("{s:s, s:s, s:I, s:{s:s, s:s, s:s}}", "pool", pool, "name", name,
                     "size", (json_int_t)size, "parent", "pool", s->images_pool, "image", id,
                     "snap", IMG_SNAP_NAME);
    st_info("image %s: cloned into %s/%s (%llu bytes)", id, pool, name, (unsigned long long)size);
    return *out ? 0 : -ENOMEM;
}

/* ---- life cycle ---- */

void img_service_show_location(const struct img_service *s, const struct st_auth_ctx *who,
                               bool *direct_url, bool *locations)
{
    bool may = st_auth_has_any_role(who, s->location_roles);

    *direct_url = may && s->show_direct_url;
    *locations = may && s->show_locations;
}

const char *img_service_fsid(const struct img_service *s)
{
    return s->fsid;
}

const char *img_service_pool(const struct img_service *s)
{
    return s->images_pool;
}

static int open_pools(struct img_service *s, const struct st_config *c)
{
    rados_t r = st_daemon_rados(s->d);
    const char *clone_keys[2] = { "volumes_pool", "vms_pool" };
    int rc;

    snprintf(s->images_pool, sizeof(s->images_pool), "%s", st_config_str(c, "ceph", "images_pool"));
    rc = st_rados_ioctx(r, s->images_pool, &s->images);
    if (rc < 0) {
        st_error("images pool %s: %s", s->images_pool, strerror(-rc));
        return rc;
    }
    for (int i = 0; i < 2; i++) {
        snprintf(s->clone_pool[i], sizeof(s->clone_pool[i]), "%s",
                 st_config_str(c, "ceph", clone_keys[i]));
        rc = st_rados_ioctx(r, s->clone_pool[i], &s->clone_ioctx[i]);
        if (rc < 0)   /* clones into it will be refused; the rest works */
            st_warn("pool %s ([ceph] %s): %s: clones into it are unavailable",
                    s->clone_pool[i], clone_keys[i], strerror(-rc));
    }
    return st_rados_fsid(r, s->fsid, sizeof(s->fsid));
}

/* /metrics: the I/O buffer pool (mapped stays at most io_buffers, and free
 * returns to mapped when no transfer runs). */
static double iobufs_mapped(void *arg)
{
    unsigned mapped = 0;
    st_bufpool_stats(arg, &mapped, NULL);
    return mapped;
}

static double iobufs_free(void *arg)
{
    unsigned nfree = 0;
    st_bufpool_stats(arg, NULL, &nfree);
    return nfree;
}

static int register_iobuf_gauges(struct img_service *s)
{
    struct st_metrics *m = st_daemon_metrics(s->d);
    int rc = st_gauge_register(m, "strata_imaged_io_buffers_mapped",
                               "I/O buffers mapped so far (at most [imaged] io_buffers)",
                               iobufs_mapped, s->iobufs);
    return rc < 0 ? rc : st_gauge_register(m, "strata_imaged_io_buffers_free",
                                           "I/O buffers not held by a transfer now",
                                           iobufs_free, s->iobufs);
}

int img_service_create(struct st_daemon *d, struct img_service **out)
{
    const struct st_config *c = st_daemon_config(d);
    struct img_service *s = calloc(1, sizeof(*s));
    int rc;

    if (!s)
        return -ENOMEM;
    s->d = d;
    s->meta = st_daemon_meta(d);
    s->owner = st_daemon_owner(d);
    s->show_direct_url = st_config_bool(c, "imaged", "show_image_direct_url");
    s->show_locations = st_config_bool(c, "imaged", "show_multiple_locations");
    snprintf(s->location_roles, sizeof(s->location_roles), "%s",
             st_config_str(c, "imaged", "location_roles"));
    snprintf(s->staging_dir, sizeof(s->staging_dir), "%s", st_config_str(c, "imaged", "staging_dir"));
    s->max_image_size = st_config_size(c, "imaged", "max_image_size");
    s->max_virtual_size = st_config_size(c, "imaged", "max_virtual_size");
    s->convert_timeout_s = (unsigned)(st_config_duration_ms(c, "imaged", "convert_timeout") / 1000);
    s->lease_ttl_ms = st_config_duration_ms(c, "lease", "ttl");
    s->reconcile_interval_ms = st_config_duration_ms(c, "imaged", "reconcile_interval");
    s->wcfg.block_size = st_config_size(c, "imaged", "upload_block_size");
    s->wcfg.inflight = (unsigned)st_config_int(c, "imaged", "upload_inflight");
    s->wcfg.zero_granule = 64 * 1024;
    s->wcfg.hash = true;
    s->wcfg.pool_wait_ms = (int)st_config_duration_ms(c, "imaged", "io_buffer_wait");
    if ((unsigned)st_config_int(c, "imaged", "io_buffers") < s->wcfg.inflight) {
        st_error("%s: [imaged] io_buffers = %lld is fewer than upload_inflight = %u",
                 st_config_path(c), (long long)st_config_int(c, "imaged", "io_buffers"),
                 s->wcfg.inflight);
        rc = -EINVAL;
        goto fail;
    }
    if ((rc = st_bufpool_create(s->wcfg.block_size, (unsigned)st_config_int(c, "imaged",
                                                                             "io_buffers"),
                                &s->iobufs)) < 0)
        goto fail;
    s->wcfg.pool = s->iobufs;
    if ((rc = register_iobuf_gauges(s)) < 0)
        goto fail;

    if (mkdir(s->staging_dir, 0700) < 0 && errno != EEXIST) {
        rc = -errno;
        st_error("%s: [imaged] staging_dir = \"%s\": %s", st_config_path(c), s->staging_dir,
                 strerror(errno));
        goto fail;
    }
    if ((rc = open_pools(s, c)) < 0)
        goto fail;
    if ((rc = qos_bulk_init(&s->bulk, (uint64_t)st_config_int(c, "imaged", "bulk_bytes_sec"),
                            (uint64_t)st_config_int(c, "imaged", "bulk_image_bytes_sec"))) < 0)
        goto fail;
    rc = st_workpool_create((unsigned)st_config_int(c, "imaged", "workers"), 1024, &s->workers);
    if (rc < 0)
        goto fail;
    /* Crash recovery at once on the reconciler's thread (not before serving:
     * an RBD call can wait on a dead client's lock), then every interval. */
    if ((rc = img_reconcile_start(s)) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    img_service_destroy(s);
    return rc;
}

void img_service_destroy(struct img_service *s)
{
    if (!s)
        return;
    img_reconcile_stop(s);
    st_workpool_destroy(s->workers);
    qos_bulk_cleanup(&s->bulk);
    for (int i = 0; i < 2; i++)
        if (s->clone_ioctx[i])
            rados_ioctx_destroy(s->clone_ioctx[i]);
    if (s->images)
        rados_ioctx_destroy(s->images);
    st_bufpool_destroy(s->iobufs);   /* after the HTTP server: no transfer holds one */
    free(s);
}
