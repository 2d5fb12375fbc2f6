/* type_json.h — the Cinder v3 shapes of volume types (with extra specs) and
 * qos-specs, as pure functions (no I/O): views of stored records and the
 * checks of request bodies.  Messages (VOLJ_MSG_MAX bytes) in Cinder's words. */
#ifndef BLOCKD_TYPE_JSON_H
#define BLOCKD_TYPE_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "strata/qos.h"

/* Stored records: type {id, name, description, is_public, extra_specs{},
 * qos_specs_id}; qos {id, name, consumer, specs{}}. */

/* {id, name, description, is_public, extra_specs, os-volume-type-access:is_public}
 * and, for admins, qos_specs_id.  NULL: ENOMEM. */
json_t *tj_type_view(const json_t *rec, bool is_admin);
/* {id, name, consumer, specs}.  NULL: ENOMEM. */
json_t *tj_qos_view(const json_t *rec);
/* {"association_type": "volume_type", "name", "id"} of a type record. */
json_t *tj_association_view(const json_t *type_rec);

/* Parsed values are borrowed from the body, except the owned objects named. */
struct tj_type_req {
    const char *name;        /* required on create */
    const char *description;
    int is_public;           /* -1 = not given */
    json_t *extra_specs;     /* create: normalised strings (owned), NULL = none */
};
/* POST /types: {"volume_type": {name, description,
 * os-volume-type-access:is_public | is_public, extra_specs}}. */
int tj_type_create(const json_t *body, struct tj_type_req *out, char *msg);
/* PUT /types/{id}: at least one of name, description, is_public. */
int tj_type_update(const json_t *body, struct tj_type_req *out, char *msg);
/* POST /types/{id}/extra_specs {"extra_specs": {k: v}} → *specs (owned,
 * values as strings); PUT /types/{id}/extra_specs/{key} {key: v} (key must
 * match) → *specs = {key: v}. */
int tj_extra_specs(const json_t *body, json_t **specs, char *msg);
int tj_extra_spec_put(const json_t *body, const char *key, json_t **specs, char *msg);
/* A boolean query word for ?is_public= (true/false/none): 1, 0 or -1 (all). */
int tj_is_public_query(const char *s);

struct tj_qos_req {
    const char *name;         /* create: required */
    bool has_consumer;
    enum qos_consumer consumer;
    json_t *specs;            /* owned: checked, values normalised to strings */
};
/* POST /qos-specs {"qos_specs": {name, consumer?, <spec>: value, ...}};
 * PUT /qos-specs/{id} {"qos_specs": {consumer?, <spec>: value, ...}}. */
int tj_qos_create(const json_t *body, struct tj_qos_req *out, char *msg);
int tj_qos_set(const json_t *body, struct tj_qos_req *out, char *msg);
/* PUT /qos-specs/{id}/delete_keys {"keys": [...]}: *keys borrowed. */
int tj_qos_keys(const json_t *body, const json_t **keys, char *msg);

#endif
