/* image_json_internal.h — what the parts of imaged's Glance JSON share: the
 * property table's types, the error helper; the API layer sees image_json.h. */
#ifndef STRATA_IMAGED_IMAGE_JSON_INTERNAL_H
#define STRATA_IMAGED_IMAGE_JSON_INTERNAL_H

#include "image_json.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "strata/strutil.h"

#include "strata/auth.h"

#define PROP_NAME_MAX 255
#define PROP_VALUE_MAX 65535
#define INT_PROP_MAX 2147483647
#define TAGS_ARRAY_MAX 1024 /* refuse before de-duplicating anything longer */
#define HOST_MAX 255
#define SCHEMA_ERR "Provided object does not match schema 'image': "
#define UUID_PATTERN                                                                               \
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
#define PROPS_DOC "https://docs.openstack.org/glance/latest/admin/useful-image-properties.html"

#define F_NULL 0x01u   /* type ["null", <type>] */
#define F_BASE 0x02u   /* attribute of every image: shown when unset, never removed */
#define F_QUEUED 0x04u /* may change only while the image is queued */
#define F_UUID 0x08u   /* UUID_PATTERN */
#define F_VIEW 0x10u   /* made by the view (self, file, ...), never stored */
#define F_TIME 0x20u   /* "YYYY-MM-DDTHH:MM:SSZ" */

enum ptype { T_STRING, T_INTEGER, T_BOOLEAN, T_TAGS, T_LOCATIONS };
enum paccess {
    A_RW,     /* at create and by PATCH */
    A_CREATE, /* at create only (id) */
    A_ADMIN,  /* by admins only (owner) */
    A_RO,     /* never: the service or the view sets it */
};
struct prop {
    const char *name;
    enum ptype type;
    enum paccess access;
    unsigned flags;
    const char *const *choices; /* enum (NULL-terminated) or NULL */
    size_t max_len;             /* characters; 0 = none */
    const char *deflt;          /* JSON: filled at create (A_RW) / shown when unset (F_BASE) */
    const char *desc;
};

/* msg = the formatted text (msg may be NULL); evaluates to rc. */
#define fail(msg, rc, ...) st_msgf((msg), IMGJ_MSG_MAX, (rc), __VA_ARGS__)

/* image_json.c */
const struct prop *ij_prop_find(const char *name);
bool ij_is_base(const struct prop *p);
long ij_tag_index(const json_t *tags, const char *tag);
json_t *ij_tags_unique(const json_t *v);
int ij_access_check(const char *name, const struct prop *p, bool creating, bool is_admin,
                    char *msg);
int ij_member_check(const char *name, const json_t *v, bool creating, bool is_admin, char *msg);
int ij_props_count_check(const json_t *record, char *msg);
json_t *ij_record_tags(json_t *record);
int ij_tag_insert(json_t *tags, size_t idx, const char *tag, char *msg);

#endif

