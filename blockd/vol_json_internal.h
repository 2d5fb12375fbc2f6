/* vol_json_internal.h — what the parts of blockd's Cinder JSON share (the
 * error helper, the list parameter types); the API layer sees vol_json.h. */
#ifndef STRATA_BLOCKD_VOL_JSON_INTERNAL_H
#define STRATA_BLOCKD_VOL_JSON_INTERNAL_H

#include "vol_json.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata/listsort.h"
#include "strata/strutil.h"

#define NAME_MAX_LEN 255
#define SIZE_MAX_GB INT32_MAX

#define F_ADMIN 0x1u /* admins only */
#define F_EXT 0x2u   /* an extension attribute: show and detail lists only */

/* msg = the formatted text (msg may be NULL); evaluates to rc. */
#define fail(msg, rc, ...) st_msgf((msg), VOLJ_MSG_MAX, (rc), __VA_ARGS__)

/* vol_json.c */
const char *vj_skip_ws(const char *s);
/* Members of request bodies: 0, or -EINVAL with msg naming the member. */
int vj_opt_string(const json_t *obj, const char *name, const char *alias, size_t max,
                  const char **out, char *msg);
int vj_opt_uuid(const json_t *obj, const char *name, const char **out, char *msg);
int vj_opt_metadata(const json_t *obj, const json_t **out, char *msg);
int vj_opt_bool(const json_t *obj, const char *name, bool *out, char *msg);
/* body's object member name, or NULL with msg. */
const json_t *vj_body_member(const json_t *body, const char *name, char *msg);

/* vol_json_view.c */
/* The owning project of a record of any shape (project_id, tenant, owner). */
const json_t *vj_record_project_json(const json_t *rec);
const char *vj_record_project(const json_t *rec);

#endif

