/* vol_types.c — volume types and qos-specs as metadata records: create, find
 * by id or name, list, edit with compare-and-swap (st_meta_modify), delete
 * with the in-use checks Cinder makes, and the type ↔ qos-specs association
 * (kept on the type as qos_specs_id).  Names are unique through name claims
 * (strata/nameidx.h): claimed before the record is written, released after
 * it is deleted or when its write fails; a lookup by name reads the claim. */
#include "vol_types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "strata/log.h"
#include "strata/meta.h"
#include "strata/nameidx.h"
#include "strata/strutil.h"

#define VT_MSG_MAX 256

struct vol_types {
    struct st_meta *meta;
};

static int validate_type(const json_t *d)
{
    return json_is_string(json_object_get(d, "id")) && json_is_string(json_object_get(d, "name"))
               ? 0
               : -EINVAL;
}

static const struct st_meta_kind type_kind = { "voltype", validate_type };
static const struct st_meta_kind qos_kind = { "qos", validate_type };
static const struct st_meta_kind type_names = { "voltype_name", NULL };
static const struct st_meta_kind qos_names = { "qos_name", NULL };
/* read-only view of vol_service.c's volumes, for the in-use check */
static const struct st_meta_kind vol_kind = { "volume", NULL };

static void stamp(json_t *rec, const char *member)
{
    char buf[40], base[24];
    struct tm tm;
    time_t t = time(NULL);

    gmtime_r(&t, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, sizeof(buf), "%s.000000", base);
    json_object_set_new(rec, member, json_string(buf));
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const struct st_meta_kind *names_of(const struct st_meta_kind *k)
{
    return k == &type_kind ? &type_names : &qos_names;
}

/* Claim name for record id of kind k: 0, or -EEXIST with msg. */
static int name_claim(struct vol_types *t, const struct st_meta_kind *k, const char *name,
                      const char *id, char *msg)
{
    struct st_name_records recs = { t->meta, k };
    int rc = st_name_claim(t->meta, names_of(k), "", name, id, st_name_record_alive, &recs,
                           now_ms());

    if (rc == -EEXIST && msg)
        snprintf(msg, VT_MSG_MAX, "%s with name %s already exists.",
                 k == &type_kind ? "Volume Type" : "QoS Specs", name);
    return rc;
}

static void name_release(struct vol_types *t, const struct st_meta_kind *k, const char *name,
                         const char *id)
{
    int rc = name ? st_name_release(t->meta, names_of(k), "", name, id) : 0;

    if (rc < 0) /* left for a later claim to take over (the owner is gone) */
        st_warn("name %s of %s %s not released: %d", name, k->name, id, rc);
}

static void new_id(char *buf)
{
    uuid_t u;

    uuid_generate_random(u);
    uuid_unparse_lower(u, buf);
}

static void claim_existing(struct vol_types *t, const struct st_meta_kind *k);

int vt_create(struct st_meta *m, struct vol_types **out)
{
    struct vol_types *t = calloc(1, sizeof(*t));
    json_t *dflt;
    int rc;

    if (!t)
        return -ENOMEM;
    t->meta = m;
    dflt = json_pack("{s:s, s:s, s:s, s:b, s:{}, s:n}", "id", VT_DEFAULT_ID, "name",
                     VT_DEFAULT_NAME, "description", "Default Volume Type", "is_public", 1,
                     "extra_specs", "qos_specs_id");
    if (dflt)
        stamp(dflt, "created_at");
    rc = dflt ? st_meta_create(m, &type_kind, VT_DEFAULT_ID, dflt, NULL) : -ENOMEM;
    json_decref(dflt);
    if (rc < 0 && rc != -EEXIST) {
        free(t);
        return rc;
    }
    claim_existing(t, &type_kind);
    claim_existing(t, &qos_kind);
    *out = t;
    return 0;
}

void vt_destroy(struct vol_types *t)
{
    free(t);
}

/* ---- scans ---- */

/* Every record of kind k matching pred (NULL = all) into a new array. */
static int scan(struct vol_types *t, const struct st_meta_kind *k, st_meta_pred_fn pred,
                void *arg, json_t **out)
{
    return st_meta_list_all(t->meta, k, pred, arg, out);
}

/* Records written before names were claimed (and the default type) get their
 * claims; of two old records with one name the first listed keeps it. */
static void claim_existing(struct vol_types *t, const struct st_meta_kind *k)
{
    json_t *all = NULL, *rec;
    size_t i;

    if (scan(t, k, NULL, NULL, &all) < 0)
        return; /* Ceph trouble: the claims are made on the next start */
    json_array_foreach(all, i, rec) {
        const char *id = st_json_str(rec, "id"), *name = st_json_str(rec, "name");
        if (id && name && name_claim(t, k, name, id, NULL) == -EEXIST)
            st_warn("%s %s: name %s is another's; rename it", k->name, id, name);
    }
    json_decref(all);
}

/* The record of kind k that holds name: 0, -ENOENT (also when the claim's
 * record is gone), -errno. */
static int by_name(struct vol_types *t, const struct st_meta_kind *k, const char *name,
                   struct st_record *rec)
{
    char id[ST_META_ID_MAX + 1];
    int rc = st_name_lookup(t->meta, names_of(k), "", name, id, sizeof(id));

    return rc < 0 ? rc : st_meta_get(t->meta, k, id, rec);
}

/* A record by id (or, for types, by name or "default"). */
static int find(struct vol_types *t, const struct st_meta_kind *k, const char *ref,
                json_t **out)
{
    struct st_record rec = { 0 };
    int rc;

    if (!ref)
        return -ENOENT;
    if (k == &type_kind && strcmp(ref, "default") == 0)
        ref = VT_DEFAULT_ID;
    rc = st_is_uuid(ref) ? st_meta_get(t->meta, k, ref, &rec) : -ENOENT;
    if ((rc == -ENOENT || rc == -EINVAL) && k == &type_kind)
        rc = by_name(t, k, ref, &rec);
    if (rc == -EINVAL)
        rc = -ENOENT;
    if (rc == 0)
        *out = json_incref(rec.data);
    st_record_cleanup(&rec);
    return rc;
}

/* Write the new record rec (its "id" and "name" set) under its name's claim. */
static int create_named(struct vol_types *t, const struct st_meta_kind *k, json_t *rec,
                        char *msg)
{
    const char *id = st_json_str(rec, "id"), *name = st_json_str(rec, "name");
    int rc = name_claim(t, k, name, id, msg);

    if (rc < 0)
        return rc;
    rc = st_meta_create(t->meta, k, id, rec, NULL);
    if (rc < 0)
        name_release(t, k, name, id);
    return rc;
}

/* ---- types ---- */

int vt_type_create(struct vol_types *t, const char *name, const char *description,
                   bool is_public, const json_t *extra_specs, json_t **out, char *msg)
{
    char id[37];
    json_t *rec;
    int rc;

    new_id(id);
    rec = json_pack("{s:s, s:s, s:s?, s:b, s:o, s:n}", "id", id, "name", name, "description",
                    description, "is_public", is_public, "extra_specs",
                    extra_specs ? json_deep_copy(extra_specs) : json_object(), "qos_specs_id");
    if (!rec)
        return -ENOMEM;
    stamp(rec, "created_at");
    rc = create_named(t, &type_kind, rec, msg);
    if (rc < 0) {
        json_decref(rec);
        return rc;
    }
    *out = rec;
    return 0;
}

static bool may_see(const json_t *rec, const struct st_auth_ctx *who)
{
    return who->is_admin || !json_is_false(json_object_get(rec, "is_public"));
}

int vt_type_get(struct vol_types *t, const struct st_auth_ctx *who, const char *ref,
                json_t **out)
{
    json_t *rec = NULL;
    int rc = find(t, &type_kind, ref, &rec);

    if (rc == 0 && !may_see(rec, who)) {
        json_decref(rec);
        rc = -ENOENT;
    }
    if (rc == 0)
        *out = rec;
    return rc;
}

struct list_arg {
    const struct st_auth_ctx *who;
    int is_public;
};

static bool type_listed(const json_t *rec, void *arg)
{
    const struct list_arg *a = arg;
    bool pub = !json_is_false(json_object_get(rec, "is_public"));

    if (!a->who->is_admin)
        return pub;
    return a->is_public < 0 || pub == (a->is_public == 1);
}

int vt_type_list(struct vol_types *t, const struct st_auth_ctx *who, int is_public,
                 json_t **out)
{
    struct list_arg a = { who, is_public };
    return scan(t, &type_kind, type_listed, &a, out);
}

struct type_edit {
    const char *name, *description;
    int is_public;
    const json_t *specs;       /* merged into extra_specs */
    const char *unset_key;     /* removed from extra_specs (-ENOENT if absent) */
};

static int apply_type_edit(json_t *rec, void *arg)
{
    const struct type_edit *e = arg;
    json_t *specs = json_object_get(rec, "extra_specs");

    if (!json_is_object(specs)) {
        specs = json_object();
        json_object_set_new(rec, "extra_specs", specs);
    }
    if (e->name)
        json_object_set_new(rec, "name", json_string(e->name));
    if (e->description)
        json_object_set_new(rec, "description", json_string(e->description));
    if (e->is_public >= 0)
        json_object_set_new(rec, "is_public", json_boolean(e->is_public));
    if (e->specs)
        json_object_update(specs, (json_t *)e->specs);
    if (e->unset_key && json_object_del(specs, e->unset_key) < 0)
        return -ENOENT;
    stamp(rec, "updated_at");
    return 0;
}

static int edit_type(struct vol_types *t, const char *id, struct type_edit *e, json_t **out)
{
    struct st_record rec = { 0 };
    int rc = st_meta_modify(t->meta, &type_kind, id, apply_type_edit, e, &rec);

    if (rc == -EINVAL)
        rc = -ENOENT;
    if (rc == 0 && out)
        *out = json_incref(rec.data);
    st_record_cleanup(&rec);
    return rc;
}

int vt_type_update(struct vol_types *t, const char *id, const char *name,
                   const char *description, int is_public, json_t **out, char *msg)
{
    struct type_edit e = { name, description, is_public, NULL, NULL };
    json_t *cur = NULL;
    int rc = find(t, &type_kind, id, &cur);
    bool renamed;

    if (rc == 0 && name && strcmp(st_json_str(cur, "id"), VT_DEFAULT_ID) == 0) {
        snprintf(msg, VT_MSG_MAX, "Invalid input received: the default volume type cannot be "
                 "renamed.");
        rc = -EINVAL;
    }
    if (rc < 0)
        goto out;
    id = st_json_str(cur, "id");
    renamed = name && strcmp(name, st_json_str(cur, "name")) != 0;
    if (renamed && (rc = name_claim(t, &type_kind, name, id, msg)) < 0)
        goto out;
    rc = edit_type(t, id, &e, out);
    if (renamed)
        name_release(t, &type_kind, rc == 0 ? st_json_str(cur, "name") : name, id);
out:
    json_decref(cur);
    return rc;
}

int vt_type_delete(struct vol_types *t, const char *id, char *msg)
{
    struct st_meta_filter used = { "volume_type_id", NULL };
    struct st_record_list l = { 0 };
    json_t *cur = NULL;
    int rc = find(t, &type_kind, id, &cur);

    if (rc < 0)
        return rc;
    id = st_json_str(cur, "id");
    used.value = id;
    if (strcmp(id, VT_DEFAULT_ID) == 0) {
        snprintf(msg, VT_MSG_MAX, "Invalid volume type: Default volume type can not be deleted.");
        rc = -EINVAL;
    } else if ((rc = st_meta_list(t->meta, &vol_kind, NULL, 1, &used, 1, NULL, NULL, &l)) == 0 &&
               l.count > 0) {
        snprintf(msg, VT_MSG_MAX, "Target volume type is still in use.");
        rc = -EINVAL;
    }
    st_record_list_cleanup(&l);
    if (rc == 0)
        rc = st_meta_delete(t->meta, &type_kind, id, 0);
    if (rc == 0)
        name_release(t, &type_kind, st_json_str(cur, "name"), id);
    json_decref(cur);
    return rc;
}

int vt_extra_specs_set(struct vol_types *t, const char *id, const json_t *specs, char *msg)
{
    struct type_edit e = { NULL, NULL, -1, specs, NULL };
    json_t *cur = NULL;
    int rc = find(t, &type_kind, id, &cur);

    (void)msg;
    if (rc == 0)
        rc = edit_type(t, st_json_str(cur, "id"), &e, NULL);
    json_decref(cur);
    return rc;
}

int vt_extra_spec_unset(struct vol_types *t, const char *id, const char *key)
{
    struct type_edit e = { NULL, NULL, -1, NULL, key };
    json_t *cur = NULL;
    int rc = find(t, &type_kind, id, &cur);

    if (rc == 0)
        rc = edit_type(t, st_json_str(cur, "id"), &e, NULL);
    json_decref(cur);
    return rc;
}

/* ---- qos-specs ---- */

int vt_qos_create(struct vol_types *t, const char *name, enum qos_consumer consumer,
                  const json_t *specs, json_t **out, char *msg)
{
    char id[37];
    json_t *rec;
    int rc;

    new_id(id);
    rec = json_pack("{s:s, s:s, s:s, s:O}", "id", id, "name", name, "consumer",
                    qos_consumer_name(consumer), "specs", specs);
    if (!rec)
        return -ENOMEM;
    stamp(rec, "created_at");
    rc = create_named(t, &qos_kind, rec, msg);
    if (rc < 0) {
        json_decref(rec);
        return rc;
    }
    *out = rec;
    return 0;
}

int vt_qos_get(struct vol_types *t, const char *id, json_t **out)
{
    return find(t, &qos_kind, id, out);
}

int vt_qos_list(struct vol_types *t, json_t **out)
{
    return scan(t, &qos_kind, NULL, NULL, out);
}

struct qos_edit {
    const json_t *set;          /* merged */
    const char *consumer;       /* or NULL */
    const json_t *unset;        /* keys removed */
    char *msg;
};

static int apply_qos_edit(json_t *rec, void *arg)
{
    struct qos_edit *e = arg;
    json_t *specs = json_object_get(rec, "specs"), *k;
    size_t i;

    if (!json_is_object(specs)) {
        specs = json_object();
        json_object_set_new(rec, "specs", specs);
    }
    if (e->set)
        json_object_update(specs, (json_t *)e->set);
    if (e->consumer)
        json_object_set_new(rec, "consumer", json_string(e->consumer));
    json_array_foreach(e->unset, i, k) {
        if (json_object_del(specs, json_string_value(k)) < 0) {
            snprintf(e->msg, VT_MSG_MAX, "QoS spec %.64s could not be found.",
                     json_string_value(k));
            return -ENOENT;
        }
    }
    /* the merged set must still make sense (total beside read/write, bursts) */
    struct qos_policy pol;

    return qos_policy_parse(specs, false, &pol, e->msg, VT_MSG_MAX);
}

static int edit_qos(struct vol_types *t, const char *id, struct qos_edit *e, json_t **out)
{
    struct st_record rec = { 0 };
    int rc = st_is_uuid(id) ? st_meta_modify(t->meta, &qos_kind, id, apply_qos_edit, e, &rec)
                            : -ENOENT;

    if (rc == 0 && out)
        *out = json_incref(rec.data);
    st_record_cleanup(&rec);
    return rc;
}

int vt_qos_set(struct vol_types *t, const char *id, const json_t *specs, bool has_consumer,
               enum qos_consumer consumer, json_t **out, char *msg)
{
    struct qos_edit e = { specs, has_consumer ? qos_consumer_name(consumer) : NULL, NULL, msg };
    return edit_qos(t, id, &e, out);
}

int vt_qos_unset(struct vol_types *t, const char *id, const json_t *keys, char *msg)
{
    struct qos_edit e = { NULL, NULL, keys, msg };
    return edit_qos(t, id, &e, NULL);
}

static bool uses_qos(const json_t *rec, void *arg)
{
    const char *q = st_json_str(rec, "qos_specs_id");
    return q && strcmp(q, arg) == 0;
}

int vt_qos_associations(struct vol_types *t, const char *id, json_t **out)
{
    json_t *q = NULL;
    int rc = vt_qos_get(t, id, &q);

    json_decref(q);
    return rc < 0 ? rc : scan(t, &type_kind, uses_qos, (void *)id, out);
}

struct assoc {
    const char *qos_id;      /* set it (NULL: clear) */
    const char *only_if;     /* clear only if it is this one */
    char *msg;
};

static int apply_assoc(json_t *rec, void *arg)
{
    struct assoc *a = arg;
    const char *cur = st_json_str(rec, "qos_specs_id");

    if (!a->qos_id) {
        if (!cur || (a->only_if && strcmp(cur, a->only_if) != 0))
            return 1;   /* not associated with it: nothing to do */
        json_object_set_new(rec, "qos_specs_id", json_null());
    } else if (cur && strcmp(cur, a->qos_id) == 0) {
        return 1;
    } else if (cur) {
        snprintf(a->msg, VT_MSG_MAX, "Invalid volume type: Type %s is already associated with "
                 "another qos specs: %s", st_json_str(rec, "id"), cur);
        return -EINVAL;
    } else {
        json_object_set_new(rec, "qos_specs_id", json_string(a->qos_id));
    }
    stamp(rec, "updated_at");
    return 0;
}

static int set_assoc(struct vol_types *t, const char *type_ref, struct assoc *a)
{
    json_t *type = NULL;
    int rc = find(t, &type_kind, type_ref, &type);

    if (rc == -ENOENT)
        snprintf(a->msg, VT_MSG_MAX, "Volume type %.64s could not be found.",
                 type_ref ? type_ref : "(none)");
    if (rc == 0)
        rc = st_meta_modify(t->meta, &type_kind, st_json_str(type, "id"), apply_assoc, a, NULL);
    json_decref(type);
    return rc;
}

int vt_qos_associate(struct vol_types *t, const char *id, const char *type_id, char *msg)
{
    struct assoc a = { id, NULL, msg };
    json_t *q = NULL;
    int rc = vt_qos_get(t, id, &q);

    json_decref(q);
    return rc < 0 ? rc : set_assoc(t, type_id, &a);
}

int vt_qos_disassociate(struct vol_types *t, const char *id, const char *type_id, char *msg)
{
    struct assoc a = { NULL, id, msg };
    json_t *types = NULL, *type;
    size_t i;
    int rc;

    if (type_id) {
        json_t *q = NULL;
        rc = vt_qos_get(t, id, &q);
        json_decref(q);
        return rc < 0 ? rc : set_assoc(t, type_id, &a);
    }
    rc = vt_qos_associations(t, id, &types);
    json_array_foreach(types, i, type) {
        if (rc == 0)
            rc = set_assoc(t, st_json_str(type, "id"), &a);
    }
    json_decref(types);
    return rc;
}

int vt_qos_delete(struct vol_types *t, const char *id, bool force, char *msg)
{
    json_t *types = NULL, *q = NULL;
    int rc = vt_qos_associations(t, id, &types);

    if (rc == 0 && json_array_size(types) > 0) {
        if (force) {
            rc = vt_qos_disassociate(t, id, NULL, msg);
        } else {
            snprintf(msg, VT_MSG_MAX, "QoS Specs %s is still associated with entities.", id);
            rc = -EINVAL;
        }
    }
    json_decref(types);
    if (rc == 0)
        rc = vt_qos_get(t, id, &q);
    if (rc == 0)
        rc = st_meta_delete(t->meta, &qos_kind, id, 0);
    if (rc == 0)
        name_release(t, &qos_kind, st_json_str(q, "name"), id);
    json_decref(q);
    return rc;
}

/* ---- for volumes ---- */

int vt_type_qos(struct vol_types *t, const char *type_id, json_t **qos)
{
    json_t *type = NULL;
    int rc = find(t, &type_kind, type_id ? type_id : VT_DEFAULT_ID, &type);

    *qos = NULL;
    if (rc == -ENOENT)
        return 0;   /* a type deleted since: no QoS */
    if (rc == 0 && st_json_str(type, "qos_specs_id")) {
        rc = vt_qos_get(t, st_json_str(type, "qos_specs_id"), qos);
        if (rc == -ENOENT)
            rc = 0;
    }
    json_decref(type);
    return rc;
}
