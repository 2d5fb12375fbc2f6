/* vol_types.h — volume types (extra specs, one qos-specs association each) and
 * qos-specs: records in the metadata store (kinds "voltype" and "qos"),
 * every change a compare-and-swap.  The default type __DEFAULT__ always
 * exists.  No HTTP here (api_types.c); admin checks are the routes'.
 * Errors: -ENOENT (404), -EINVAL (400, msg says why), -EEXIST (409, name
 * taken), -ENOMEM. */
#ifndef BLOCKD_VOL_TYPES_H
#define BLOCKD_VOL_TYPES_H

#include <jansson.h>
#include <stdbool.h>

#include "strata/auth.h"
#include "vol_json.h"
#include "strata/qos.h"

struct st_meta;
struct vol_types;

#define VT_DEFAULT_NAME VOLJ_DEFAULT_TYPE_NAME
#define VT_DEFAULT_ID VOLJ_DEFAULT_TYPE_ID

/* m is borrowed.  Makes the default type's record when it is missing. */
int vt_create(struct st_meta *m, struct vol_types **out);
void vt_destroy(struct vol_types *t);

/* ---- types (records in stored form; caller owns *out) ---- */
int vt_type_create(struct vol_types *t, const char *name, const char *description,
                   bool is_public, const json_t *extra_specs, json_t **out, char *msg);
/* By id, by name, or "default": -ENOENT when missing or private and the
 * caller is not admin. */
int vt_type_get(struct vol_types *t, const struct st_auth_ctx *who, const char *ref,
                json_t **out);
/* is_public: 1 public only, 0 private only, -1 all (admins; others always
 * see the public ones only). */
int vt_type_list(struct vol_types *t, const struct st_auth_ctx *who, int is_public,
                 json_t **out);
/* NULL / -1 = unchanged. */
int vt_type_update(struct vol_types *t, const char *id, const char *name,
                   const char *description, int is_public, json_t **out, char *msg);
/* -EINVAL while a volume has the type, or for the default type. */
int vt_type_delete(struct vol_types *t, const char *id, char *msg);
/* Merge specs (object of strings) into the type's extra specs. */
int vt_extra_specs_set(struct vol_types *t, const char *id, const json_t *specs, char *msg);
/* -ENOENT when the type or the key is missing. */
int vt_extra_spec_unset(struct vol_types *t, const char *id, const char *key);

/* ---- qos-specs ---- */
int vt_qos_create(struct vol_types *t, const char *name, enum qos_consumer consumer,
                  const json_t *specs, json_t **out, char *msg);
int vt_qos_get(struct vol_types *t, const char *id, json_t **out);
int vt_qos_list(struct vol_types *t, json_t **out);
/* Merge specs (checked) and set the consumer if has_consumer; *out (optional)
 * the stored record. */
int vt_qos_set(struct vol_types *t, const char *id, const json_t *specs, bool has_consumer,
               enum qos_consumer consumer, json_t **out, char *msg);
/* Remove keys (array of strings); -ENOENT naming a key that is not set. */
int vt_qos_unset(struct vol_types *t, const char *id, const json_t *keys, char *msg);
/* -EINVAL while associated with a type, unless force (then disassociated). */
int vt_qos_delete(struct vol_types *t, const char *id, bool force, char *msg);
/* The type records associated with it (array). */
int vt_qos_associations(struct vol_types *t, const char *id, json_t **out);
/* -EINVAL when the type already has other qos-specs. */
int vt_qos_associate(struct vol_types *t, const char *id, const char *type_id, char *msg);
/* type_id NULL = every type associated with it. */
int vt_qos_disassociate(struct vol_types *t, const char *id, const char *type_id, char *msg);

/* ---- for volumes ---- */
/* The qos-specs record of a type (by id), or *qos = NULL when it has none. */
int vt_type_qos(struct vol_types *t, const char *type_id, json_t **qos);

#endif
