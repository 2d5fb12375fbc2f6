/* api_types.c — Cinder's volume types (with extra specs) and qos-specs APIs
 * on blockd: routes, body checks (type_json.c), calls into vol_types.h and
 * Cinder's status codes.  Changes are for admins (route flag: 403 otherwise);
 * everyone lists and shows the public types.  No Ceph calls here. */
#include "api_types.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api_v3.h"
#include "strata/auth.h"
#include "type_json.h"
#include "vol_json.h"
#include "vol_service.h"
#include "strata/log.h"
#include "vol_types.h"

static struct vol_types *types(const struct st_req *r)
{
    return vol_service_types(st_req_app(r));
}

static bool is_admin(const struct st_req *r)
{
    const struct st_auth_ctx *a = st_req_auth(r);
    return a && a->is_admin;
}

static int reply(struct st_req *r, unsigned status, json_t *doc)
{
    return doc ? st_reply_json(r, status, doc) : -ENOMEM;
}

/* {"<member>": [view(rec) for each record]} (takes recs). */
static int reply_list(struct st_req *r, const char *member, json_t *recs,
                      json_t *(*view)(const json_t *rec, bool admin))
{
    json_t *views = json_array(), *rec;
    size_t i;

    json_array_foreach(recs, i, rec) {
        json_array_append_new(views, view(rec, is_admin(r)));
    }
    json_decref(recs);
    return reply(r, 200, views ? json_pack("{s:o}", member, views) : NULL);
}

static json_t *qos_view(const json_t *rec, bool admin)
{
    (void)admin;
    return tj_qos_view(rec);
}

static json_t *association_view(const json_t *rec, bool admin)
{
    (void)admin;
    return tj_association_view(rec);
}

/* ---- types ---- */

static int reply_type_as(struct st_req *r, unsigned status, json_t *rec, bool admin)
{
    json_t *v = tj_type_view(rec, admin);

    json_decref(rec);
    return reply(r, status, v ? json_pack("{s:o}", "volume_type", v) : NULL);
}

static int reply_type(struct st_req *r, unsigned status, json_t *rec)
{
    return reply_type_as(r, status, rec, is_admin(r));
}

static int do_type_list(struct st_req *r)
{
    json_t *recs = NULL;
    int rc;

    if ((rc = vt_type_list(types(r), st_req_auth(r),
                           tj_is_public_query(st_req_query(r, "is_public")), &recs)) < 0)
        return rc;
    return reply_list(r, "volume_types", recs, tj_type_view);
}

static int do_type_show(struct st_req *r)
{
    const char *id = st_req_param(r, "id");
    json_t *rec = NULL;
    int rc = vt_type_get(types(r), st_req_auth(r), id, &rec);
    return rc < 0 ? st_reply_fail(r, rc, NULL, "Volume type", id) : reply_type(r, 200, rec);
}

static int do_type_create(struct st_req *r)
{
    char msg[VOLJ_MSG_MAX] = "";
    struct tj_type_req t = { 0 };
    json_t *body = NULL, *rec = NULL;
    int rc;

    if ((rc = st_req_json(r, &body)) < 0)
        return rc;
    rc = tj_type_create(body, &t, msg);
    if (rc == 0)
        rc = vt_type_create(types(r), t.name, t.description, t.is_public != 0, t.extra_specs,
                            &rec, msg);
    json_decref(t.extra_specs);
    json_decref(body);
    /* Cinder's create reply has no qos_specs_id (Tempest's schema refuses it). */
    return rc < 0 ? st_reply_fail(r, rc, msg, NULL, NULL) : reply_type_as(r, 200, rec, false);
}

static int do_type_update(struct st_req *r)
{
    const char *id = st_req_param(r, "id");
    char msg[VOLJ_MSG_MAX] = "";
    struct tj_type_req t = { 0 };
    json_t *body = NULL, *rec = NULL;
    int rc;

    if ((rc = st_req_json(r, &body)) < 0)
        return rc;
    rc = tj_type_update(body, &t, msg);
    if (rc == 0)
        rc = vt_type_update(types(r), id, t.name, t.description, t.is_public, &rec, msg);
    json_decref(body);
    return rc < 0 ? st_reply_fail(r, rc, msg, "Volume type", id) : reply_type(r, 200, rec);
}

static int do_type_delete(struct st_req *r)
{
    const char *id = st_req_param(r, "id");
    char msg[VOLJ_MSG_MAX] = "";
    int rc = vt_type_delete(types(r), id, msg);
    return rc < 0 ? st_reply_fail(r, rc, msg, "Volume type", id) : st_reply_json(r, 202, NULL);
}

/* The type's extra specs (a visible type), or its one key when key is given. */
static int do_specs_show(struct st_req *r)
{
    const char *id = st_req_param(r, "id"), *key = st_req_param(r, "key");
    json_t *rec = NULL, *specs, *v;
    int rc;

    if ((rc = vt_type_get(types(r), st_req_auth(r), id, &rec)) < 0)
        return st_reply_fail(r, rc, NULL, "Volume type", id);
    specs = json_object_get(rec, "extra_specs");
    if (!key) {
        rc = reply(r, 200, json_pack("{s:O}", "extra_specs", json_is_object(specs) ? specs
                                                                                  : json_object()));
    } else if ((v = json_object_get(specs, key))) {
        rc = reply(r, 200, json_pack("{s:O}", key, v));
    } else {
        rc = st_reply_error(r, 404, "Volume Type %s has no extra specs with key %s.", id, key);
    }
    json_decref(rec);
    return rc;
}

/* POST /extra_specs (many) or PUT /extra_specs/{key} (one): answers what was set. */
static int do_specs_set(struct st_req *r)
{
    const char *id = st_req_param(r, "id"), *key = st_req_param(r, "key");
    char msg[VOLJ_MSG_MAX] = "";
    json_t *body = NULL, *specs = NULL;
    int rc;

    if ((rc = st_req_json(r, &body)) < 0)
        return rc;
    rc = key ? tj_extra_spec_put(body, key, &specs, msg) : tj_extra_specs(body, &specs, msg);
    if (rc == 0)
        rc = vt_extra_specs_set(types(r), id, specs, msg);
    json_decref(body);
    if (rc < 0) {
        json_decref(specs);
        return st_reply_fail(r, rc, msg, "Volume type", id);
    }
    return reply(r, 200, key ? specs : json_pack("{s:o}", "extra_specs", specs));
}

static int do_spec_delete(struct st_req *r)
{
    const char *id = st_req_param(r, "id"), *key = st_req_param(r, "key");
    int rc = vt_extra_spec_unset(types(r), id, key);
    if (rc == -ENOENT)
        return st_reply_error(r, 404, "Volume Type %s has no extra specs with key %s.", id, key);
    return rc < 0 ? rc : st_reply_json(r, 202, NULL);
}

/* ---- qos-specs ---- */

static json_t *qos_links(const struct st_req *r, const char *id)
{
    char href[VOLJ_BASE_MAX + 200];

    snprintf(href, sizeof(href), "%s/v3/%s/qos-specs/%.64s",
             vol_service_public_url(st_req_app(r)), st_req_param(r, "project_id"), id ? id : "");
    return json_pack("[{s:s, s:s}]", "href", href, "rel", "self");
}

/* {"qos_specs": view, "links": [...]} (takes rec). */
static int reply_qos(struct st_req *r, json_t *rec)
{
    json_t *v = tj_qos_view(rec);
    json_t *doc = v ? json_pack("{s:o, s:o}", "qos_specs", v, "links",
                                qos_links(r, json_string_value(json_object_get(rec, "id"))))
                    : NULL;

    json_decref(rec);
    return reply(r, 200, doc);
}

static int do_qos_list(struct st_req *r)
{
    json_t *recs = NULL;
    int rc;

    if ((rc = vt_qos_list(types(r), &recs)) < 0)
        return rc;
    return reply_list(r, "qos_specs", recs, qos_view);
}

static int do_qos_show(struct st_req *r)
{
    const char *id = st_req_param(r, "id");
    json_t *rec = NULL;
    int rc = vt_qos_get(types(r), id, &rec);
    return rc < 0 ? st_reply_fail(r, rc, NULL, "QoS Specs", id) : reply_qos(r, rec);
}

static int do_qos_create(struct st_req *r)
{
    char msg[VOLJ_MSG_MAX] = "";
    struct tj_qos_req q = { 0 };
    json_t *body = NULL, *rec = NULL;
    int rc;

    if ((rc = st_req_json(r, &body)) < 0)
        return rc;
    rc = tj_qos_create(body, &q, msg);
    if (rc == 0)
        rc = vt_qos_create(types(r), q.name, q.consumer, q.specs, &rec, msg);
    json_decref(q.specs);
    json_decref(body);
    return rc < 0 ? st_reply_fail(r, rc, msg, NULL, NULL) : reply_qos(r, rec);
}

/* The ids of the types qos_id is associated with now (a new array). */
static json_t *associated_ids(struct st_req *r, const char *qos_id)
{
    json_t *recs = NULL, *ids = json_array(), *t;
    size_t i;

    if (vt_qos_associations(types(r), qos_id, &recs) == 0)
        json_array_foreach(recs, i, t)
            json_array_append(ids, json_object_get(t, "id"));
    json_decref(recs);
    return ids;
}

/* After a qos-specs change: the volumes of the types qos_id is associated
 * with (and of the types in `before`, which just lost it) get their image
 * limits re-applied. */
static void qos_changed(struct st_req *r, const char *qos_id, const json_t *before)
{
    json_t *ids = qos_id ? associated_ids(r, qos_id) : json_array();

    if (before)
        json_array_extend(ids, (json_t *)before);
    if (vol_service_qos_changed(st_req_app(r), ids) < 0)
        st_warn("qos-specs %s changed, but not every volume of its types was re-limited",
                qos_id ? qos_id : "-");
    json_decref(ids);
}

static int do_qos_set(struct st_req *r)
{
    const char *id = st_req_param(r, "id");
    char msg[VOLJ_MSG_MAX] = "";
    struct tj_qos_req q = { 0 };
    json_t *body = NULL;
    int rc;

    if ((rc = st_req_json(r, &body)) < 0)
        return rc;
    rc = tj_qos_set(body, &q, msg);
    if (rc == 0)
        rc = vt_qos_set(types(r), id, q.specs, q.has_consumer, q.consumer, NULL, msg);
    json_decref(body);
    if (rc < 0) {
        json_decref(q.specs);
        return st_reply_fail(r, rc, msg, "QoS Specs", id);
    }
    qos_changed(r, id, NULL);
    if (q.has_consumer)
        json_object_set_new(q.specs, "consumer", json_string(qos_consumer_name(q.consumer)));
    return reply(r, 200, json_pack("{s:o}", "qos_specs", q.specs));
}

static int do_qos_unset(struct st_req *r)
{
    const char *id = st_req_param(r, "id");
    char msg[VOLJ_MSG_MAX] = "";
    const json_t *keys = NULL;
    json_t *body = NULL;
    int rc;

    if ((rc = st_req_json(r, &body)) < 0)
        return rc;
    rc = tj_qos_keys(body, &keys, msg);
    if (rc == 0)
        rc = vt_qos_unset(types(r), id, keys, msg);
    json_decref(body);
    if (rc == 0)
        qos_changed(r, id, NULL);
    return rc < 0 ? st_reply_fail(r, rc, msg, "QoS Specs", id) : st_reply_json(r, 202, NULL);
}

static int do_qos_delete(struct st_req *r)
{
    const char *id = st_req_param(r, "id"), *f = st_req_query(r, "force");
    char msg[VOLJ_MSG_MAX] = "";
    bool force = false;
    int rc;

    if (f && volj_bool_parse(f, &force) < 0)
        return st_reply_error(r, 400, "Invalid input received: force must be a boolean."),
               -EINVAL;
    rc = vt_qos_delete(types(r), id, force, msg);
    return rc < 0 ? st_reply_fail(r, rc, msg, "QoS Specs", id) : st_reply_json(r, 202, NULL);
}

static int do_qos_associations(struct st_req *r)
{
    const char *id = st_req_param(r, "id");
    json_t *recs = NULL;
    int rc;

    if ((rc = vt_qos_associations(types(r), id, &recs)) < 0)
        return st_reply_fail(r, rc, NULL, "QoS Specs", id);
    return reply_list(r, "qos_associations", recs, association_view);
}

/* GET .../associate|disassociate?vol_type_id=, .../disassociate_all */
static int qos_assoc(struct st_req *r, bool associate, bool all)
{
    const char *id = st_req_param(r, "id"), *type = st_req_query(r, "vol_type_id");
    char msg[VOLJ_MSG_MAX] = "";
    int rc = api_v3_begin(r, NULL, NULL);

    if (rc < 0)
        return rc;
    if (!all && !type)
        return st_reply_error(r, 400, "Volume Type id must not be None."), -EINVAL;
    /* the types that lose these specs, known before they do */
    json_t *before = associate ? NULL : all ? associated_ids(r, id) : json_pack("[s]", type);
    rc = associate ? vt_qos_associate(types(r), id, type, msg)
                   : vt_qos_disassociate(types(r), id, all ? NULL : type, msg);
    if (rc == 0)
        qos_changed(r, associate ? id : NULL, before);
    json_decref(before);
    return rc < 0 ? st_reply_fail(r, rc, msg, "QoS Specs", id) : st_reply_json(r, 202, NULL);
}

static int h_qos_associate(struct st_req *r)
{
    return qos_assoc(r, true, false);
}

static int h_qos_disassociate(struct st_req *r)
{
    return qos_assoc(r, false, false);
}

static int h_qos_disassociate_all(struct st_req *r)
{
    return qos_assoc(r, false, true);
}

#define A ST_ROUTE_ADMIN
/* Every handler here first settles the microversion and the project. */
#define TYPES_HANDLER(name)                                                                        \
    static int h_##name(struct st_req *r)                                                          \
    {                                                                                              \
        int rc = api_v3_begin(r, NULL, NULL);                                                      \
        return rc < 0 ? rc : do_##name(r);                                                         \
    }

TYPES_HANDLER(type_list)
TYPES_HANDLER(type_show)
TYPES_HANDLER(type_create)
TYPES_HANDLER(type_update)
TYPES_HANDLER(type_delete)
TYPES_HANDLER(specs_show)
TYPES_HANDLER(specs_set)
TYPES_HANDLER(spec_delete)
TYPES_HANDLER(qos_list)
TYPES_HANDLER(qos_show)
TYPES_HANDLER(qos_create)
TYPES_HANDLER(qos_set)
TYPES_HANDLER(qos_unset)
TYPES_HANDLER(qos_delete)
TYPES_HANDLER(qos_associations)

/* clang-format off */
const struct st_route vol_types_routes[] = {
    {"GET",    "/v3/{project_id}/types",                             h_type_list,   0, NULL, NULL},
    {"POST",   "/v3/{project_id}/types",                             h_type_create, A, NULL, NULL},
    {"GET",    "/v3/{project_id}/types/{id}",                        h_type_show,   0, NULL, NULL},
    {"PUT",    "/v3/{project_id}/types/{id}",                        h_type_update, A, NULL, NULL},
    {"DELETE", "/v3/{project_id}/types/{id}",                        h_type_delete, A, NULL, NULL},
    {"GET",    "/v3/{project_id}/types/{id}/extra_specs",            h_specs_show,  0, NULL, NULL},
    {"POST",   "/v3/{project_id}/types/{id}/extra_specs",            h_specs_set,   A, NULL, NULL},
    {"GET",    "/v3/{project_id}/types/{id}/extra_specs/{key}",      h_specs_show,  0, NULL, NULL},
    {"PUT",    "/v3/{project_id}/types/{id}/extra_specs/{key}",      h_specs_set,   A, NULL, NULL},
    {"DELETE", "/v3/{project_id}/types/{id}/extra_specs/{key}",      h_spec_delete, A, NULL, NULL},
    {"GET",    "/v3/{project_id}/qos-specs",                         h_qos_list,    A, NULL, NULL},
    {"POST",   "/v3/{project_id}/qos-specs",                         h_qos_create,  A, NULL, NULL},
    {"GET",    "/v3/{project_id}/qos-specs/{id}",                    h_qos_show,    A, NULL, NULL},
    {"PUT",    "/v3/{project_id}/qos-specs/{id}",                    h_qos_set,     A, NULL, NULL},
    {"DELETE", "/v3/{project_id}/qos-specs/{id}",                    h_qos_delete,  A, NULL, NULL},
    {"PUT",    "/v3/{project_id}/qos-specs/{id}/delete_keys",        h_qos_unset,   A, NULL, NULL},
    {"GET",    "/v3/{project_id}/qos-specs/{id}/associations",       h_qos_associations, A, NULL, NULL},
    {"GET",    "/v3/{project_id}/qos-specs/{id}/associate",          h_qos_associate, A, NULL, NULL},
    {"GET",    "/v3/{project_id}/qos-specs/{id}/disassociate",       h_qos_disassociate, A, NULL, NULL},
    {"GET",    "/v3/{project_id}/qos-specs/{id}/disassociate_all",   h_qos_disassociate_all, A, NULL, NULL},
    ST_ROUTE_END,
};
/* clang-format on */
