/* type_json.c — Cinder v3 JSON of volume types and qos-specs, pure: the views
 * (cinder/api/views/types.py, qos_specs.py) and the checks of their request
 * bodies; spec keys and values are judged by vol_qos.c, extra specs like
 * metadata (vol_json.c). */
#include "type_json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strata/strutil.h"
#include "vol_json.h"

#define NAME_MAX_LEN 255

static int bad(char *msg, const char *what)
{
    snprintf(msg, VOLJ_MSG_MAX, "Invalid input received: %s", what);
    return -EINVAL;
}

static json_t *obj_or_empty(const json_t *v)
{
    return json_is_object(v) ? json_deep_copy(v) : json_object();
}

json_t *tj_type_view(const json_t *rec, bool is_admin)
{
    json_t *pub = json_boolean(!json_is_false(json_object_get(rec, "is_public")));
    json_t *v = json_pack("{s:O?, s:O?, s:O?, s:O, s:o, s:O}", "id", json_object_get(rec, "id"),
                          "name", json_object_get(rec, "name"), "description",
                          json_object_get(rec, "description"), "is_public", pub, "extra_specs",
                          obj_or_empty(json_object_get(rec, "extra_specs")),
                          "os-volume-type-access:is_public", pub);

    json_decref(pub);
    if (v && is_admin) {
        const json_t *q = json_object_get(rec, "qos_specs_id");
        json_object_set_new(v, "qos_specs_id", json_is_string(q) ? json_deep_copy(q) : json_null());
    }
    return v;
}

json_t *tj_qos_view(const json_t *rec)
{
    return json_pack("{s:O?, s:O?, s:O?, s:o}", "id", json_object_get(rec, "id"), "name",
                     json_object_get(rec, "name"), "consumer", json_object_get(rec, "consumer"),
                     "specs", obj_or_empty(json_object_get(rec, "specs")));
}

json_t *tj_association_view(const json_t *type_rec)
{
    return json_pack("{s:s, s:O?, s:O?}", "association_type", "volume_type", "name",
                     json_object_get(type_rec, "name"), "id", json_object_get(type_rec, "id"));
}

/* ---- types ---- */

static const json_t *member(const json_t *body, const char *name, char *msg)
{
    const json_t *v = json_object_get(body, name);

    if (!json_is_object(v)) {
        snprintf(msg, VOLJ_MSG_MAX, "Missing required element '%s' in request body.", name);
        return NULL;
    }
    return v;
}

/* An optional string of 1..NAME_MAX_LEN characters (0 allowed when empty_ok). */
static int text(const json_t *obj, const char *name, bool empty_ok, const char **out, char *msg)
{
    const json_t *v = json_object_get(obj, name);
    size_t n;

    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    n = json_is_string(v) ? st_utf8_len(json_string_value(v)) : 0;
    if (!json_is_string(v) || n > NAME_MAX_LEN || (!empty_ok && n == 0)) {
        snprintf(msg, VOLJ_MSG_MAX, "Invalid input for field/attribute %s: must be a string of "
                 "%s255 characters.", name, empty_ok ? "up to " : "1 to ");
        return -EINVAL;
    }
    *out = json_string_value(v);
    return 0;
}

/* is_public as a JSON boolean or a boolean word; -1 when absent. */
static int public_flag(const json_t *obj, int *out, char *msg)
{
    const json_t *v = json_object_get(obj, "os-volume-type-access:is_public");
    bool b;

    if (!v || json_is_null(v))
        v = json_object_get(obj, "is_public");
    *out = -1;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v))
        b = json_is_true(v);
    else if (!json_is_string(v) || volj_bool_parse(json_string_value(v), &b) < 0)
        return bad(msg, "is_public must be a boolean.");
    *out = b;
    return 0;
}

/* name, description and is_public of {"volume_type": {...}} into t. */
static const json_t *type_fields(const json_t *body, struct tj_type_req *t, char *msg)
{
    const json_t *v = member(body, "volume_type", msg);

    *t = (struct tj_type_req){ .is_public = -1 };
    if (!v || text(v, "name", false, &t->name, msg) < 0 ||
        text(v, "description", true, &t->description, msg) < 0 ||
        public_flag(v, &t->is_public, msg) < 0)
        return NULL;
    return v;
}

int tj_type_create(const json_t *body, struct tj_type_req *out, char *msg)
{
    struct tj_type_req t;
    const json_t *v = type_fields(body, &t, msg), *specs;

    if (!v)
        return -EINVAL;
    if (!t.name)
        return bad(msg, "the volume type name is required.");
    specs = json_object_get(v, "extra_specs");
    if (specs && !json_is_null(specs)) {
        if (volj_metadata_check(specs, msg) < 0)
            return -EINVAL;
        t.extra_specs = json_deep_copy(specs);
    }
    *out = t;
    return 0;
}

int tj_type_update(const json_t *body, struct tj_type_req *out, char *msg)
{
    struct tj_type_req t;

    if (!type_fields(body, &t, msg))
        return -EINVAL;
    if (!t.name && !t.description && t.is_public < 0)
        return bad(msg, "Specify volume type name, description, is_public or a combination "
                        "thereof.");
    *out = t;
    return 0;
}

int tj_extra_specs(const json_t *body, json_t **specs, char *msg)
{
    const json_t *v = member(body, "extra_specs", msg);

    if (!v || volj_metadata_check(v, msg) < 0)
        return -EINVAL;
    *specs = json_deep_copy(v);
    return *specs ? 0 : -ENOMEM;
}

int tj_extra_spec_put(const json_t *body, const char *key, json_t **specs, char *msg)
{
    if (!json_is_object(body) || json_object_size(body) != 1 || !json_object_get(body, key))
        return bad(msg, "Request body and URI mismatch");
    if (volj_metadata_check(body, msg) < 0)
        return -EINVAL;
    *specs = json_deep_copy(body);
    return *specs ? 0 : -ENOMEM;
}

int tj_is_public_query(const char *s)
{
    bool b;

    if (!s || strcasecmp(s, "none") == 0 || volj_bool_parse(s, &b) < 0)
        return s ? -1 : 1;   /* absent: public ones (Cinder's default) */
    return b;
}

/* ---- qos-specs ---- */

/* The members of {"qos_specs": {...}} other than name/consumer, checked and
 * normalised into a new object; consumer parsed if given. */
static int qos_body(const json_t *body, struct tj_qos_req *q, bool create, char *msg)
{
    const json_t *v = member(body, "qos_specs", msg), *x;
    const char *k;
    char val[32];
    int rc;

    if (!v)
        return -EINVAL;
    if ((rc = text(v, "name", false, &q->name, msg)) < 0)
        return rc;
    if (create && !q->name)
        return bad(msg, "Please specify a name for QoS specs.");
    if (!create && q->name)
        return bad(msg, "the name of QoS specs cannot be changed.");
    x = json_object_get(v, "consumer");
    if (x) {
        if (qos_consumer_parse(json_string_value(x), &q->consumer) < 0)
            return bad(msg, "consumer must be one of front-end, back-end, both.");
        q->has_consumer = true;
    }
    if (!(q->specs = json_object()))
        return -ENOMEM;
    json_object_foreach((json_t *)v, k, x) {
        if (strcmp(k, "name") == 0 || strcmp(k, "consumer") == 0)
            continue;
        if ((rc = qos_spec_check(k, x, val, sizeof(val), msg, VOLJ_MSG_MAX)) < 0 ||
            json_object_set_new(q->specs, k, json_string(val)) < 0) {
            json_decref(q->specs);
            q->specs = NULL;
            return rc < 0 ? rc : -ENOMEM;
        }
    }
    return 0;
}

int tj_qos_create(const json_t *body, struct tj_qos_req *out, char *msg)
{
    struct tj_qos_req q = { .consumer = QOS_BACK_END };
    struct qos_policy pol;
    int rc = qos_body(body, &q, true, msg);

    if (rc == 0 && (rc = qos_policy_parse(q.specs, false, &pol, msg, VOLJ_MSG_MAX)) < 0)
        json_decref(q.specs);
    if (rc == 0)
        *out = q;
    return rc;
}

int tj_qos_set(const json_t *body, struct tj_qos_req *out, char *msg)
{
    struct tj_qos_req q = { .consumer = QOS_BACK_END };
    int rc = qos_body(body, &q, false, msg);

    if (rc == 0 && json_object_size(q.specs) == 0 && !q.has_consumer) {
        json_decref(q.specs);
        return bad(msg, "no QoS spec to set.");
    }
    if (rc == 0)
        *out = q;
    return rc;
}

int tj_qos_keys(const json_t *body, const json_t **keys, char *msg)
{
    const json_t *k = json_object_get(body, "keys"), *x;
    size_t i;

    if (!json_is_array(k) || json_array_size(k) == 0)
        return bad(msg, "'keys' must be a non-empty list of QoS spec keys.");
    json_array_foreach(k, i, x) {
        if (!json_is_string(x))
            return bad(msg, "'keys' must be a list of strings.");
    }
    *keys = k;
    return 0;
}
