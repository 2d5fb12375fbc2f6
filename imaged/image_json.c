/* image_json.c — Glance v2 JSON of imaged, with no I/O.  One table of image
 * properties (type, access, flags, enum, length, default, description) drives
 * the schema document, create/PATCH validation, read-only and removal rules and
 * the image view; list filtering, sorting and paging follow Glance's rules. */
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

/* ---- the property table ---- */

enum ptype { T_STRING, T_INTEGER, T_BOOLEAN, T_TAGS, T_LOCATIONS };

enum paccess {
    A_RW,     /* at create and by PATCH */
    A_CREATE, /* at create only (id) */
    A_ADMIN,  /* by admins only (owner) */
    A_RO,     /* never: the service or the view sets it */
};

#define F_NULL 0x01u   /* type ["null", <type>] */
#define F_BASE 0x02u   /* attribute of every image: shown when unset, never removed */
#define F_QUEUED 0x04u /* may change only while the image is queued */
#define F_UUID 0x08u   /* UUID_PATTERN */
#define F_VIEW 0x10u   /* made by the view (self, file, ...), never stored */
#define F_TIME 0x20u   /* "YYYY-MM-DDTHH:MM:SSZ" */

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

static const char *const statuses[] = {"queued",      "saving",    "active",    "killed",
                                       "deleted",     "uploading", "importing", "pending_delete",
                                       "deactivated", NULL};
static const char *const visibilities[] = {"community", "public", "private", "shared", NULL};
static const char *const disk_formats[] = {"ami", "ari",   "aki", "vhd", "vhdx",  "vmdk",
                                           "raw", "qcow2", "vdi", "iso", "ploop", NULL};
static const char *const container_formats[] = {"ami", "ari",    "aki",        "bare", "ovf",
                                                "ova", "docker", "compressed", NULL};
static const char *const key_policies[] = {"on_image_deletion", "do_not_delete", NULL};

/* Glance's base properties in its order, then the schema-image.json ones
 * (is_base false: free-form properties with a declared type). */
static const struct prop props[] = {
    {"id", T_STRING, A_CREATE, F_BASE | F_UUID, NULL, 0, NULL, "An identifier for the image"},
    {"name", T_STRING, A_RW, F_BASE | F_NULL, NULL, 255, "null", "Descriptive name for the image"},
    {"status", T_STRING, A_RO, F_BASE, statuses, 0, NULL, "Status of the image"},
    {"visibility", T_STRING, A_RW, F_BASE, visibilities, 0, "\"shared\"",
     "Scope of image accessibility"},
    {"protected", T_BOOLEAN, A_RW, F_BASE, NULL, 0, "false",
     "If true, image will not be deletable."},
    {"os_hidden", T_BOOLEAN, A_RW, F_BASE, NULL, 0, "false",
     "If true, image will not appear in default image list response."},
    {"checksum", T_STRING, A_RO, F_BASE | F_NULL, NULL, 32, "null", "md5 hash of image contents."},
    {"os_hash_algo", T_STRING, A_RO, F_BASE | F_NULL, NULL, 64, "null",
     "Algorithm to calculate the os_hash_value"},
    {"os_hash_value", T_STRING, A_RO, F_BASE | F_NULL, NULL, 128, "null",
     "Hexdigest of the image contents using the algorithm specified by the os_hash_algo"},
    {"owner", T_STRING, A_ADMIN, F_BASE | F_NULL, NULL, 255, "null", "Owner of the image"},
    {"size", T_INTEGER, A_RO, F_BASE | F_NULL, NULL, 0, "null", "Size of image file in bytes"},
    {"virtual_size", T_INTEGER, A_RO, F_BASE | F_NULL, NULL, 0, "null",
     "Virtual size of image in bytes"},
    {"container_format", T_STRING, A_RW, F_BASE | F_NULL | F_QUEUED, container_formats, 0, "null",
     "Format of the container"},
    {"disk_format", T_STRING, A_RW, F_BASE | F_NULL | F_QUEUED, disk_formats, 0, "null",
     "Format of the disk"},
    {"created_at", T_STRING, A_RO, F_BASE | F_TIME, NULL, 0, NULL,
     "Date and time of image registration"},
    {"updated_at", T_STRING, A_RO, F_BASE | F_TIME, NULL, 0, NULL,
     "Date and time of the last image modification"},
    {"tags", T_TAGS, A_RW, F_BASE, NULL, 255, "[]", "List of strings related to the image"},
    {"direct_url", T_STRING, A_RO, F_VIEW, NULL, 0, NULL,
     "URL to access the image file kept in external store"},
    {"min_ram", T_INTEGER, A_RW, F_BASE, NULL, 0, "0",
     "Amount of ram (in MB) required to boot image."},
    {"min_disk", T_INTEGER, A_RW, F_BASE, NULL, 0, "0",
     "Amount of disk space (in GB) required to boot image."},
    {"self", T_STRING, A_RO, F_VIEW, NULL, 0, NULL, "An image self url"},
    {"file", T_STRING, A_RO, F_VIEW, NULL, 0, NULL, "An image file url"},
    {"schema", T_STRING, A_RO, F_VIEW, NULL, 0, NULL, "An image schema url"},
    {"locations", T_LOCATIONS, A_RO, F_VIEW, NULL, 0, NULL,
     "A set of URLs to access the image file kept in external store"},
    {"kernel_id", T_STRING, A_RW, F_NULL | F_UUID, NULL, 0, NULL,
     "ID of image stored in Glance that should be used as the kernel when booting an "
     "AMI-style image."},
    {"ramdisk_id", T_STRING, A_RW, F_NULL | F_UUID, NULL, 0, NULL,
     "ID of image stored in Glance that should be used as the ramdisk when booting an "
     "AMI-style image."},
    {"instance_uuid", T_STRING, A_RW, 0, NULL, 0, NULL,
     "Metadata which can be used to record which instance this image is associated with. "
     "(Informational only, does not create an instance snapshot.)"},
    {"architecture", T_STRING, A_RW, 0, NULL, 0, NULL,
     "Operating system architecture as specified in " PROPS_DOC},
    {"os_distro", T_STRING, A_RW, 0, NULL, 0, NULL,
     "Common name of operating system distribution as specified in " PROPS_DOC},
    {"os_version", T_STRING, A_RW, 0, NULL, 0, NULL,
     "Operating system version as specified by the distributor."},
    {"description", T_STRING, A_RW, 0, NULL, 0, NULL,
     "A human-readable string describing this image."},
    {"cinder_encryption_key_id", T_STRING, A_RW, F_UUID, NULL, 0, NULL,
     "Identifier in the OpenStack Key Management Service for the encryption key for the Block "
     "Storage Service to use when mounting a volume created from this image"},
    {"cinder_encryption_key_deletion_policy", T_STRING, A_RW, 0, key_policies, 0, NULL,
     "States the condition under which the Image Service will delete the object associated with "
     "the 'cinder_encryption_key_id' image property.  If this property is missing, the Image "
     "Service will take no action"},
};
#define NPROPS (sizeof(props) / sizeof(props[0]))

/* Names no client may write: Strata's private members and Glance's reserved
 * ones ("stores" is not in the schema: glanceclient has its own --stores).
 * `shown`: imaged sets them and the view shows them (os_glance_failed_import, ...). */
static const struct {
    const char *name;
    bool prefix, shown;
} reserved[] = {
    {"_", true, false},        {"os_glance", true, true},   {"location", false, false},
    {"deleted", false, false}, {"deleted_at", false, false}, {"stores", false, false},
};

static const struct prop *prop_find(const char *name)
{
    for (size_t i = 0; i < NPROPS; i++) {
        if (strcmp(props[i].name, name) == 0)
            return &props[i];
    }
    return NULL;
}

/* The row of reserved[] name falls under, or -1. */
static int reserved_row(const char *name)
{
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        size_t n = strlen(reserved[i].name);
        if (reserved[i].prefix ? strncmp(name, reserved[i].name, n) == 0
                               : strcmp(name, reserved[i].name) == 0)
            return (int)i;
    }
    return -1;
}

static bool is_reserved(const char *name)
{
    return reserved_row(name) >= 0;
}

static bool is_hidden(const char *name)
{
    int row = reserved_row(name);
    return name[0] == '_' || (row >= 0 && !reserved[row].shown);
}

static bool is_base(const struct prop *p)
{
    return p && (p->flags & (F_BASE | F_VIEW));
}

/* ---- small helpers ---- */

/* Fill msg (may be NULL) and return rc. */
static int fail(char *msg, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *msg, int rc, const char *fmt, ...)
{
    va_list ap;

    if (msg) {
        va_start(ap, fmt);
        vsnprintf(msg, IMGJ_MSG_MAX, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static json_t *json_parse_const(const char *text)
{
    return json_loads(text, JSON_DECODE_ANY, NULL);
}

/* Index of `tag` in the array, or -1. */
static long tag_index(const json_t *tags, const char *tag)
{
    size_t i;
    json_t *t;

    json_array_foreach(tags, i, t)
    {
        const char *s = json_string_value(t);
        if (s && strcmp(s, tag) == 0)
            return (long)i;
    }
    return -1;
}

/* ---- value checks ---- */

int imgj_tag_check(const char *tag, char *msg)
{
    if (!tag)
        return fail(msg, -EINVAL, SCHEMA_ERR "tags must be strings.");
    if (st_utf8_len(tag) > 255)
        return fail(msg, -EINVAL, SCHEMA_ERR "a tag is longer than 255 characters.");
    return 0;
}

/* Array of strings, within the tag limit once duplicates are dropped. */
static int tags_check(const json_t *v, char *msg)
{
    size_t i, unique = 0;
    json_t *t;
    int rc;

    if (!json_is_array(v))
        return fail(msg, -EINVAL, SCHEMA_ERR "tags must be an array of strings.");
    if (json_array_size(v) > TAGS_ARRAY_MAX)
        return fail(msg, -EFBIG, "Maximum number of tags exceeded (%d).", IMGJ_TAGS_MAX);
    json_array_foreach(v, i, t)
    {
        if ((rc = imgj_tag_check(json_string_value(t), msg)) < 0)
            return rc;
        unique += tag_index(v, json_string_value(t)) == (long)i;
    }
    if (unique > IMGJ_TAGS_MAX)
        return fail(msg, -EFBIG, "Maximum number of tags exceeded (%d).", IMGJ_TAGS_MAX);
    return 0;
}

/* A new array with the first occurrence of each tag. */
static json_t *tags_unique(const json_t *v)
{
    json_t *out = json_array(), *t;
    size_t i;

    json_array_foreach(v, i, t)
    {
        if (out && tag_index(v, json_string_value(t)) == (long)i && json_array_append(out, t) < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

static int string_check(const char *name, const struct prop *p, const json_t *v, char *msg)
{
    const char *s = json_string_value(v);

    if (!s)
        return fail(msg, -EINVAL, SCHEMA_ERR "'%s' must be a string%s.", name,
                    p && (p->flags & F_NULL) ? " or null" : "");
    if (p && p->max_len && st_utf8_len(s) > p->max_len)
        return fail(msg, -EINVAL, SCHEMA_ERR "'%s' is longer than %zu characters.", name,
                    p->max_len);
    if (!is_base(p) && json_string_length(v) > PROP_VALUE_MAX)
        return fail(msg, -EINVAL, "The value of property '%s' is longer than %d bytes.", name,
                    PROP_VALUE_MAX);
    if (p && (p->flags & F_UUID) && !st_is_uuid(s))
        return fail(msg, -EINVAL, SCHEMA_ERR "'%s' does not match '%s'.", s, UUID_PATTERN);
    if (p && p->choices && !st_in_list(p->choices, s))
        return fail(msg, -EINVAL, SCHEMA_ERR "'%s' is not a valid value for '%s'.", s, name);
    return 0;
}

/* Check a value of `name` (p = its row, NULL for a free-form property). */
static int value_check(const char *name, const struct prop *p, const json_t *v, char *msg)
{
    json_int_t n;

    if (!p || p->type == T_STRING) {
        if (json_is_null(v) && p && (p->flags & F_NULL))
            return 0;
        return string_check(name, p, v, msg);
    }
    if (json_is_null(v))
        return (p->flags & F_NULL) ? 0
                                   : fail(msg, -EINVAL, SCHEMA_ERR "'%s' may not be null.", name);
    switch (p->type) {
    case T_INTEGER:
        n = json_is_integer(v) ? json_integer_value(v) : -1;
        if (n < 0 || (p->access != A_RO && n > INT_PROP_MAX))
            return fail(msg, -EINVAL, SCHEMA_ERR "'%s' must be an integer from 0 to %d.", name,
                        INT_PROP_MAX);
        return 0;
    case T_BOOLEAN:
        return json_is_boolean(v) ? 0
                                  : fail(msg, -EINVAL, SCHEMA_ERR "'%s' must be a boolean.", name);
    case T_TAGS:
        return tags_check(v, msg);
    default:
        return json_is_array(v) ? 0 : fail(msg, -EINVAL, SCHEMA_ERR "'%s' must be an array.", name);
    }
}

/* Whether this caller may write `name` (creating: at image creation). */
static int access_check(const char *name, const struct prop *p, bool creating, bool is_admin,
                        char *msg)
{
    if (is_reserved(name))
        return fail(msg, -EPERM, "Attribute '%s' is reserved.", name);
    if (!p) {
        if (!name[0] || strlen(name) > PROP_NAME_MAX)
            return fail(msg, -EINVAL, "Property names must have 1 to %d characters.",
                        PROP_NAME_MAX);
        return 0;
    }
    if (p->access == A_RW || (p->access == A_CREATE && creating) ||
        (p->access == A_ADMIN && is_admin))
        return 0;
    return fail(msg, -EPERM, "Attribute '%s' is read-only.", name);
}

/* Glance's default policy: only admins publicize images. */
static int policy_check(const char *name, const json_t *v, bool is_admin, char *msg)
{
    const char *s = json_string_value(v);

    if (!is_admin && strcmp(name, "visibility") == 0 && s && strcmp(s, "public") == 0)
        return fail(msg, -EPERM, "You are not authorized to complete publicize_image action.");
    return 0;
}

/* Full check of one member written by a client. */
static int member_check(const char *name, const json_t *v, bool creating, bool is_admin, char *msg)
{
    const struct prop *p = prop_find(name);
    int rc = access_check(name, p, creating, is_admin, msg);

    if (rc == 0)
        rc = value_check(name, p, v, msg);
    if (rc == 0)
        rc = policy_check(name, v, is_admin, msg);
    return rc;
}

/* Free-form properties (everything but base attributes and private members). */
static int props_count_check(const json_t *record, char *msg)
{
    const char *name;
    json_t *v;
    size_t n = 0;

    json_object_foreach((json_t *)record, name, v)
    {
        n += name[0] != '_' && !is_base(prop_find(name));
    }
    if (n > IMGJ_PROPS_MAX)
        return fail(msg, -EFBIG, "The limit of %d image properties has been exceeded.",
                    IMGJ_PROPS_MAX);
    return 0;
}

/* ---- documents ---- */

static json_t *prop_schema(const struct prop *p)
{
    static const char *const tnames[] = {"string", "integer", "boolean", "array", "array"};
    json_t *s = json_pack("{s:s}", "description", p->desc);
    json_t *choices;
    bool ok = s != NULL;

    if (ok && (p->flags & F_NULL))
        ok = json_object_set_new(s, "type", json_pack("[s,s]", "null", tnames[p->type])) == 0;
    else if (ok)
        ok = json_object_set_new(s, "type", json_string(tnames[p->type])) == 0;
    if (ok && p->access == A_RO)
        ok = json_object_set_new(s, "readOnly", json_true()) == 0;
    if (ok && !is_base(p))
        ok = json_object_set_new(s, "is_base", json_false()) == 0;
    if (ok && p->max_len && p->type == T_STRING)
        ok = json_object_set_new(s, "maxLength", json_integer((json_int_t)p->max_len)) == 0;
    if (ok && (p->flags & F_UUID))
        ok = json_object_set_new(s, "pattern", json_string(UUID_PATTERN)) == 0;
    if (ok && p->type == T_INTEGER && p->access != A_RO)
        ok = json_object_set_new(s, "minimum", json_integer(0)) == 0 &&
             json_object_set_new(s, "maximum", json_integer(INT_PROP_MAX)) == 0;
    if (ok && p->type == T_TAGS)
        ok = json_object_set_new(s, "items",
                                 json_pack("{s:s,s:I}", "type", "string", "maxLength",
                                           (json_int_t)p->max_len)) == 0;
    if (ok && p->type == T_LOCATIONS)
        ok = json_object_set_new(s, "items",
                                 json_pack("{s:s,s:{s:{s:s,s:i},s:{s:s}},s:[s,s]}", "type",
                                           "object", "properties", "url", "type", "string",
                                           "maxLength", 255, "metadata", "type", "object",
                                           "required", "url", "metadata")) == 0;
    if (ok && p->choices) {
        choices = json_array();
        ok = choices && (!(p->flags & F_NULL) || json_array_append_new(choices, json_null()) == 0);
        for (const char *const *c = p->choices; ok && *c; c++)
            ok = json_array_append_new(choices, json_string(*c)) == 0;
        ok = json_object_set_new(s, "enum", choices) == 0 && ok;
    }
    if (!ok) {
        json_decref(s);
        return NULL;
    }
    return s;
}

json_t *imgj_schema_image(void)
{
    json_t *properties = json_object();
    bool ok = properties != NULL;

    for (size_t i = 0; ok && i < NPROPS; i++)
        ok = json_object_set_new(properties, props[i].name, prop_schema(&props[i])) == 0;
    if (!ok) {
        json_decref(properties);
        return NULL;
    }
    return json_pack("{s:s,s:o,s:{s:s},s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}", "name", "image",
                     "properties", properties, "additionalProperties", "type", "string", "links",
                     "rel", "self", "href", "{self}", "rel", "enclosure", "href", "{file}", "rel",
                     "describedby", "href", "{schema}");
}

json_t *imgj_schema_images(void)
{
    json_t *image = imgj_schema_image();

    if (!image)
        return NULL;
    return json_pack("{s:s,s:{s:{s:s,s:o},s:{s:s},s:{s:s},s:{s:s}},s:[{s:s,s:s},{s:s,s:s},"
                     "{s:s,s:s}]}",
                     "name", "images", "properties", "images", "type", "array", "items", image,
                     "schema", "type", "string", "first", "type", "string", "next", "type",
                     "string", "links", "rel", "first", "href", "{first}", "rel", "next", "href",
                     "{next}", "rel", "describedby", "href", "{schema}");
}

/* host[:port] made of host characters only. */
int imgj_base_url(const char *host, char *buf, size_t len)
{
    int n = snprintf(buf, len, "http://%s", st_host_or_default(host));

    return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

json_t *imgj_versions(const char *host)
{
    /* Glance lists v2.8 only with multiple stores. */
    static const char *const ids[] = {"v2.9", "v2.7", "v2.6", "v2.5", "v2.4",
                                      "v2.3", "v2.2", "v2.1", "v2.0"};
    json_t *list = json_array();
    char href[HOST_MAX + 16];
    bool ok = list != NULL;

    snprintf(href, sizeof(href), "http://%s/v2/", st_host_or_default(host));
    for (size_t i = 0; ok && i < sizeof(ids) / sizeof(ids[0]); i++)
        ok = json_array_append_new(list, json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "id", ids[i],
                                                   "status", i == 0 ? "CURRENT" : "SUPPORTED",
                                                   "links", "rel", "self", "href", href)) == 0;
    if (!ok) {
        json_decref(list);
        return NULL;
    }
    return json_pack("{s:o}", "versions", list);
}

json_t *imgj_import_info(void)
{
    return json_pack("{s:{s:s,s:s,s:[s]}}", "import-methods", "description",
                     "Import methods available.", "type", "array", "value", "glance-direct");
}

/* ---- the image view ---- */

bool imgj_has_data(const json_t *record)
{
    const char *status = st_json_str(record, "status");

    return status && (strcmp(status, "active") == 0 || strcmp(status, "deactivated") == 0);
}

/* Times given as unix seconds become Glance's text form. */
static json_t *time_view(json_t *v)
{
    char buf[32];
    struct tm tm;
    time_t t;

    if (!json_is_integer(v))
        return json_incref(v);
    t = (time_t)json_integer_value(v);
    if (!gmtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return json_null();
    return json_string(buf);
}

static int view_links(json_t *out, const char *id, const json_t *record,
                      const struct imgj_view_opts *o)
{
    char buf[512];
    bool ok;

    snprintf(buf, sizeof(buf), "/v2/images/%s", id);
    ok = json_object_set_new(out, "self", json_string(buf)) == 0;
    snprintf(buf, sizeof(buf), "/v2/images/%s/file", id);
    ok = ok && json_object_set_new(out, "file", json_string(buf)) == 0;
    ok = ok && json_object_set_new(out, "schema", json_string("/v2/schemas/image")) == 0;
    if (!o || !o->fsid || !o->pool || !imgj_has_data(record))
        return ok ? 0 : -ENOMEM;
    snprintf(buf, sizeof(buf), "rbd://%s/%s/%s/snap", o->fsid, o->pool, id);
    if (ok && o->show_direct_url)
        ok = json_object_set_new(out, "direct_url", json_string(buf)) == 0;
    if (ok && o->show_locations)
        ok = json_object_set_new(out, "locations",
                                 json_pack("[{s:s,s:{}}]", "url", buf, "metadata")) == 0;
    return ok ? 0 : -ENOMEM;
}

json_t *imgj_view(const json_t *record, const struct imgj_view_opts *o)
{
    json_t *out = json_object(), *v;
    const char *name, *id = st_json_str(record, "id");
    bool ok = out != NULL;

    json_object_foreach((json_t *)record, name, v)
    {
        const struct prop *p = prop_find(name);
        if (!ok || is_hidden(name) || (p && (p->flags & F_VIEW)))
            continue;
        /* What the schema would refuse must not reach clients that validate. */
        if (!(p && (p->flags & F_BASE)) && value_check(name, p, v, NULL) < 0)
            continue;
        ok = json_object_set_new(out, name,
                                 p && (p->flags & F_TIME) ? time_view(v) : json_incref(v)) == 0;
    }
    for (size_t i = 0; ok && i < NPROPS; i++) {
        if ((props[i].flags & F_BASE) && props[i].deflt && !json_object_get(out, props[i].name))
            ok = json_object_set_new(out, props[i].name, json_parse_const(props[i].deflt)) == 0;
    }
    if (!ok || view_links(out, id ? id : "", record, o) < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *imgj_tasks_view(const json_t *record)
{
    json_t *task = json_object_get(json_object_get(record, "_s"), "import_task");
    json_t *list = json_array(), *t = json_is_object(task) ? json_deep_copy(task) : NULL;

    if (!list || (json_is_object(task) && !t)) {
        json_decref(list);
        json_decref(t);
        return NULL;
    }
    if (t) {
        json_object_set_new(t, "type", json_string("api_image_import"));
        json_object_set_new(t, "image_id", json_string(st_json_str(record, "id")));
        json_object_set_new(t, "result", json_null());
        json_object_set_new(t, "expires_at", json_null());
        json_array_append_new(list, t);
    }
    return json_pack("{s:o}", "tasks", list);
}

/* ---- create ---- */

int imgj_create_fields(const json_t *body, bool is_admin, json_t **fields, char *msg)
{
    const char *name;
    json_t *v, *out, *tags;
    int rc = 0;

    if (!json_is_object(body))
        return fail(msg, -EINVAL, "The image must be a JSON object.");
    /* Like Glance: forbidden attributes (403) before schema errors (400). */
    json_object_foreach((json_t *)body, name, v)
    {
        if ((rc = access_check(name, prop_find(name), true, is_admin, msg)) < 0)
            return rc;
    }
    json_object_foreach((json_t *)body, name, v)
    {
        if ((rc = member_check(name, v, true, is_admin, msg)) < 0)
            return rc;
    }
    if ((rc = props_count_check(body, msg)) < 0)
        return rc;
    if (!(out = json_deep_copy(body)))
        return -ENOMEM;
    for (size_t i = 0; rc == 0 && i < NPROPS; i++) {
        if (props[i].access == A_RW && props[i].deflt && !json_object_get(out, props[i].name) &&
            json_object_set_new(out, props[i].name, json_parse_const(props[i].deflt)) < 0)
            rc = -ENOMEM;
    }
    tags = rc == 0 ? tags_unique(json_object_get(out, "tags")) : NULL;
    if (rc == 0 && (!tags || json_object_set_new(out, "tags", tags) < 0))
        rc = -ENOMEM;
    if (rc < 0) {
        json_decref(out);
        return rc;
    }
    *fields = out;
    return 0;
}

/* ---- tags ---- */

/* The record's tags array, created when missing. */
static json_t *record_tags(json_t *record)
{
    json_t *tags = json_object_get(record, "tags");

    if (json_is_array(tags))
        return tags;
    tags = json_array();
    if (tags && json_object_set_new(record, "tags", tags) < 0)
        return NULL;
    return tags;
}

/* Insert a tag at idx unless present (tags are a set). */
static int tag_insert(json_t *tags, size_t idx, const char *tag, char *msg)
{
    if (tag_index(tags, tag) >= 0)
        return 0;
    if (json_array_size(tags) >= IMGJ_TAGS_MAX)
        return fail(msg, -EFBIG, "Maximum number of tags exceeded (%d).", IMGJ_TAGS_MAX);
    return json_array_insert_new(tags, idx, json_string(tag)) == 0 ? 0 : -ENOMEM;
}

int imgj_tag_add(json_t *record, const char *tag, char *msg)
{
    json_t *tags;
    int rc = imgj_tag_check(tag, msg);

    if (rc < 0)
        return rc;
    if (!(tags = record_tags(record)))
        return -ENOMEM;
    return tag_insert(tags, json_array_size(tags), tag, msg);
}

int imgj_tag_remove(json_t *record, const char *tag, char *msg)
{
    json_t *tags = json_object_get(record, "tags");
    long i = json_is_array(tags) ? tag_index(tags, tag) : -1;

    if (i < 0)
        return fail(msg, -ENOENT, "Tag %s not found.", tag);
    return json_array_remove(tags, (size_t)i) == 0 ? 0 : -ENOMEM;
}

/* ---- PATCH ---- */

enum op_kind { OP_ADD, OP_REPLACE, OP_REMOVE };
static const char *const op_names[] = {"add", "replace", "remove", NULL};

struct patch_op {
    enum op_kind op;
    char *name;              /* first path segment, decoded */
    char *sub;               /* second segment (tags only) or NULL */
    bool append;             /* sub is "-" */
    size_t index;            /* sub as a number */
    const struct prop *prop; /* row of name, or NULL */
    json_t *value;           /* own reference; NULL for remove */
};

struct imgj_patch {
    int draft;
    size_t n;
    struct patch_op ops[];
};

int imgj_patch_media_type(const char *content_type, int *draft)
{
    if (imgj_media_type_is(content_type, "application/openstack-images-v2.1-json-patch"))
        *draft = 10;
    else if (imgj_media_type_is(content_type, "application/openstack-images-v2.0-json-patch"))
        *draft = 4;
    else
        return -EINVAL;
    return 0;
}

void imgj_patch_free(struct imgj_patch *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->ops[i].name);
        free(p->ops[i].sub);
        json_decref(p->ops[i].value);
    }
    free(p);
}

/* Decode one pointer segment [s, s+len): ~1 is '/', ~0 is '~'. */
static char *segment_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1), *o = out;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '~') {
            *o++ = s[i + 1] == '1' ? '/' : '~';
            i++;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* Split a JSON pointer into its first segment and an optional second one,
 * with Glance's restrictions (no empty segment, only ~0/~1, depth ≤ 2). */
static int pointer_parse(const char *ptr, struct patch_op *op, char *msg)
{
    const char *seg[2] = {NULL, NULL}, *s;
    size_t len[2] = {0, 0}, n = 0;

    if (ptr[0] != '/')
        return fail(msg, -EINVAL, "Pointer `%s` does not start with \"/\".", ptr);
    for (s = ptr + 1;; s++) {
        const char *end = s + strcspn(s, "/");
        if (end == s)
            return fail(msg, -EINVAL, "Pointer `%s` contains an empty segment.", ptr);
        if (n == 2)
            return fail(msg, -EINVAL, "Invalid JSON pointer for this resource: '%s'", ptr);
        for (const char *t = s; t < end; t++) {
            if (*t == '~' && (t + 1 == end || (t[1] != '0' && t[1] != '1')))
                return fail(msg, -EINVAL,
                            "Pointer `%s` contains \"~\" not part of a recognized escape "
                            "sequence.",
                            ptr);
        }
        seg[n] = s;
        len[n++] = (size_t)(end - s);
        if (!*end)
            break;
        s = end;
    }
    op->name = segment_decode(seg[0], len[0]);
    op->sub = seg[1] ? segment_decode(seg[1], len[1]) : NULL;
    return op->name && (!seg[1] || op->sub) ? 0 : -ENOMEM;
}

/* The second segment of /tags/N: "-" (append, add only) or an index. */
static int index_parse(struct patch_op *op, const char *ptr, char *msg)
{
    const char *s = op->sub;
    char *end;
    unsigned long v;

    if (strcmp(op->name, "tags") != 0)
        return fail(msg, -EINVAL, "Invalid JSON pointer for this resource: '%s'", ptr);
    if (strcmp(s, "-") == 0 && op->op == OP_ADD) {
        op->append = true;
        return 0;
    }
    errno = 0;
    v = isdigit((unsigned char)s[0]) ? strtoul(s, &end, 10) : 0;
    if (!isdigit((unsigned char)s[0]) || *end || errno || (s[0] == '0' && s[1]) ||
        v >= TAGS_ARRAY_MAX)
        return fail(msg, -EINVAL, "Invalid JSON pointer for this resource: '%s'", ptr);
    op->index = v;
    return 0;
}

/* The operation name and path of one change, in draft 10 or draft 4 form. */
static int change_op_path(const json_t *c, int draft, enum op_kind *op, const char **path,
                          char *msg)
{
    const char *name = NULL;
    size_t found = 0;

    if (draft == 10) {
        name = st_json_str(c, "op");
        *path = st_json_str(c, "path");
        if (!name)
            return fail(msg, -EINVAL, "Unable to find 'op' in JSON Schema change");
        if (!*path)
            return fail(msg, -EINVAL, "Unable to find 'path' in JSON Schema change");
    } else {
        for (size_t i = 0; op_names[i]; i++) {
            if (json_object_get(c, op_names[i])) {
                name = op_names[i];
                found++;
            }
        }
        if (found != 1)
            return fail(msg, -EINVAL,
                        "Operation objects must contain exactly one member named \"add\", "
                        "\"remove\", or \"replace\".");
        *path = st_json_str(c, name);
        if (!*path)
            return fail(msg, -EINVAL, "The path of \"%s\" must be a string.", name);
    }
    for (size_t i = 0; op_names[i]; i++) {
        if (strcmp(op_names[i], name) == 0) {
            *op = (enum op_kind)i;
            return 0;
        }
    }
    return fail(msg, -EINVAL, "Invalid operation: `%s`.", name);
}

/* Everything about one change that does not need the record. */
static int change_parse(const json_t *c, int draft, bool is_admin, struct patch_op *op, char *msg)
{
    const char *path = NULL;
    json_t *value;
    int rc;

    if (!json_is_object(c))
        return fail(msg, -EINVAL, "Operations must be JSON objects.");
    if ((rc = change_op_path(c, draft, &op->op, &path, msg)) < 0 ||
        (rc = pointer_parse(path, op, msg)) < 0)
        return rc;
    op->prop = prop_find(op->name);
    if ((rc = access_check(op->name, op->prop, false, is_admin, msg)) < 0)
        return rc;
    if (op->sub && (rc = index_parse(op, path, msg)) < 0)
        return rc;
    if (op->op == OP_REMOVE) {
        if (!op->sub && is_base(op->prop))
            return fail(msg, -EPERM, "Property %s may not be removed.", op->name);
        return 0;
    }
    value = json_object_get(c, "value");
    if (!value)
        return fail(msg, -EINVAL, "Operation \"%s\" requires a member named \"value\".",
                    op_names[op->op]);
    rc = op->sub ? imgj_tag_check(json_string_value(value), msg)
                 : member_check(op->name, value, false, is_admin, msg);
    if (rc == 0)
        op->value = json_incref(value);
    return rc;
}

int imgj_patch_parse(const json_t *ops, int draft, bool is_admin, struct imgj_patch **out,
                     char *msg)
{
    struct imgj_patch *p;
    size_t n = json_array_size(ops);
    int rc = 0;

    if (!json_is_array(ops))
        return fail(msg, -EINVAL, "The request body must be a JSON array of operations.");
    if (draft != 4 && draft != 10)
        return -EINVAL;
    p = calloc(1, sizeof(*p) + n * sizeof(p->ops[0]));
    if (!p)
        return -ENOMEM;
    p->draft = draft;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        p->n = i + 1;
        rc = change_parse(json_array_get(ops, i), draft, is_admin, &p->ops[i], msg);
    }
    if (rc < 0) {
        imgj_patch_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* add/replace/remove on /tags/N. */
static int tag_op_apply(json_t *rec, const struct patch_op *op, char *msg)
{
    json_t *tags = record_tags(rec);
    size_t n = json_array_size(tags), idx = op->append ? n : op->index;
    const char *tag = json_string_value(op->value);
    long at;

    if (!tags)
        return -ENOMEM;
    if (op->op == OP_ADD ? idx > n : idx >= n)
        return fail(msg, -EINVAL, "Invalid JSON pointer for this resource: '/tags/%s'", op->sub);
    if (op->op == OP_ADD)
        return tag_insert(tags, idx, tag, msg);
    if (op->op == OP_REMOVE)
        return json_array_remove(tags, idx) == 0 ? 0 : -ENOMEM;
    at = tag_index(tags, tag);
    if (at >= 0 && (size_t)at != idx) /* already elsewhere: the set just loses this one */
        return json_array_remove(tags, idx) == 0 ? 0 : -ENOMEM;
    return json_array_set_new(tags, idx, json_string(tag)) == 0 ? 0 : -ENOMEM;
}

static int op_apply(json_t *rec, const struct patch_op *op, int draft, char *msg)
{
    json_t *cur = json_object_get(rec, op->name), *value;
    const char *status = st_json_str(rec, "status");
    bool present = cur || is_base(op->prop);

    if (op->sub)
        return tag_op_apply(rec, op, msg);
    if (op->op == OP_ADD && present && draft == 4)
        return fail(msg, -ECANCELED, "Property %s already present.", op->name);
    if (op->op != OP_ADD && !present)
        return fail(msg, -ECANCELED, "Property %s does not exist.", op->name);
    if (op->op == OP_REMOVE)
        return json_object_del(rec, op->name) == 0 ? 0 : -ENOMEM;
    if (op->prop && (op->prop->flags & F_QUEUED) && !json_equal(cur, op->value) &&
        (!status || strcmp(status, "queued") != 0))
        return fail(msg, -EPERM, "Attribute %s can be only replaced for a queued image.", op->name);
    value = op->prop && op->prop->type == T_TAGS ? tags_unique(op->value) : json_incref(op->value);
    if (!value || json_object_set_new(rec, op->name, value) < 0)
        return -ENOMEM;
    return 0;
}

int imgj_patch_apply(json_t *record, const struct imgj_patch *p, char *msg)
{
    json_t *work = json_deep_copy(record);
    int rc = work ? 0 : -ENOMEM;

    for (size_t i = 0; rc == 0 && i < p->n; i++)
        rc = op_apply(work, &p->ops[i], p->draft, msg);
    if (rc == 0)
        rc = props_count_check(work, msg);
    if (rc == 0 && (json_object_clear(record) < 0 || json_object_update(record, work) < 0))
        rc = -ENOMEM;
    json_decref(work);
    return rc;
}

/* ---- list ---- */

enum list_kind { L_EQ, L_BOOL, L_TAG, L_SIZE_MIN, L_SIZE_MAX, L_VISIBILITY, L_SORT, L_IGNORE };

/* The arguments of GET /v2/images (limit and marker apart).  `service`:
 * img_list can apply it as an equality filter. */
static const struct list_param {
    const char *name;
    enum list_kind kind;
    bool service;
} list_params[] = {
    {"name", L_EQ, true},
    {"status", L_EQ, true},
    {"visibility", L_VISIBILITY, true},
    {"owner", L_EQ, true},
    {"disk_format", L_EQ, true},
    {"container_format", L_EQ, true},
    {"id", L_EQ, false},
    {"checksum", L_EQ, false},
    {"os_hash_value", L_EQ, false},
    {"protected", L_BOOL, false},
    {"os_hidden", L_BOOL, false},
    {"tag", L_TAG, true},
    {"size_min", L_SIZE_MIN, false},
    {"size_max", L_SIZE_MAX, false},
    {"member_status", L_IGNORE, false},
    {"sort", L_SORT, false},
    {"sort_key", L_SORT, false},
    {"sort_dir", L_SORT, false},
};
#define NLIST_PARAMS (sizeof(list_params) / sizeof(list_params[0]))

static const char *const sort_keys[] = {"name",        "status",     "container_format",
                                        "disk_format", "size",       "id",
                                        "created_at",  "updated_at", NULL};

static const struct list_param *list_param_find(const char *name)
{
    for (size_t i = 0; i < NLIST_PARAMS; i++) {
        if (strcmp(list_params[i].name, name) == 0)
            return &list_params[i];
    }
    return NULL;
}

static int bool_parse(const char *s, bool *out)
{
    if (strcasecmp(s, "true") == 0)
        *out = true;
    else if (strcasecmp(s, "false") == 0)
        *out = false;
    else
        return -EINVAL;
    return 0;
}

static int u64_parse(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!isdigit((unsigned char)s[0]))
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end || errno)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Check one filter value. */
static int arg_check(const struct list_param *lp, const char *v, char *msg)
{
    static const char *const vis_all[] = {"community", "public", "private", "shared", "all", NULL};
    uint64_t n;
    bool b;

    switch (lp->kind) {
    case L_BOOL:
        if (bool_parse(v, &b) < 0)
            return fail(msg, -EINVAL, "Invalid value for option %s: %s", lp->name, v);
        return 0;
    case L_SIZE_MIN:
    case L_SIZE_MAX:
        if (u64_parse(v, &n) < 0 || n > INT64_MAX)
            return fail(msg, -EINVAL, "Invalid value for option %s: %s", lp->name, v);
        return 0;
    case L_VISIBILITY:
        if (!st_in_list(vis_all, v))
            return fail(msg, -EINVAL, "Invalid visibility value: %s", v);
        return 0;
    default:
        return 0;
    }
}

/* Next comma-separated, space-trimmed token of *s; false at the end. */
static bool next_token(const char **s, const char **tok, size_t *len)
{
    const char *p = *s, *end;

    if (!p)
        return false;
    end = p + strcspn(p, ",");
    *s = *end ? end + 1 : NULL;
    while (p < end && isspace((unsigned char)*p))
        p++;
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    *tok = p;
    *len = (size_t)(end - p);
    return true;
}

static bool token_is(const char *tok, size_t len, const char *word)
{
    return strlen(word) == len && strncmp(tok, word, len) == 0;
}

static int sort_key_parse(const char *tok, size_t len, struct imgj_list_query *q, char *msg)
{
    for (size_t i = 0; sort_keys[i]; i++) {
        if (token_is(tok, len, sort_keys[i])) {
            if (q->nsort == IMGJ_SORT_MAX)
                return fail(msg, -EINVAL, "Too many sort keys (at most %d).", IMGJ_SORT_MAX);
            q->sort[q->nsort++] = (struct imgj_list_sort){sort_keys[i], true};
            return 0;
        }
    }
    return fail(msg, -EINVAL,
                "Invalid sort key: %.*s. It must be one of the following: name, status, "
                "container_format, disk_format, size, id, created_at, updated_at.",
                (int)(len > 64 ? 64 : len), tok);
}

static int sort_dir_parse(const char *tok, size_t len, bool *desc, char *msg)
{
    if (token_is(tok, len, "asc") || token_is(tok, len, "desc")) {
        *desc = token_is(tok, len, "desc");
        return 0;
    }
    return fail(msg, -EINVAL, "Invalid sort direction: %.*s", (int)(len > 64 ? 64 : len), tok);
}

/* sort=key[:dir],... (dir defaults to desc).  *ndirs: directions in effect. */
static int sort_new_syntax(const char *s, struct imgj_list_query *q, size_t *ndirs, char *msg)
{
    const char *tok, *colon;
    size_t len;
    int rc = 0;

    while (rc == 0 && next_token(&s, &tok, &len)) {
        colon = memchr(tok, ':', len);
        rc = sort_key_parse(tok, colon ? (size_t)(colon - tok) : len, q, msg);
        if (rc == 0 && colon)
            rc = sort_dir_parse(colon + 1, len - (size_t)(colon + 1 - tok),
                                &q->sort[q->nsort - 1].desc, msg);
    }
    *ndirs = q->nsort;
    return rc;
}

/* sort_key=a,b&sort_dir=x[,y]: one dir applies to every key; several must pair up. */
static int sort_classic(imgj_query_fn get, void *arg, struct imgj_list_query *q, size_t *ndirs,
                        char *msg)
{
    bool dirs[IMGJ_SORT_MAX];
    size_t n = 0, len;
    const char *s, *tok;
    int rc = 0;

    for (size_t nth = 0; rc == 0 && (s = get(arg, "sort_key", nth)); nth++) {
        while (rc == 0 && next_token(&s, &tok, &len))
            rc = sort_key_parse(tok, len, q, msg);
    }
    for (size_t nth = 0; rc == 0 && (s = get(arg, "sort_dir", nth)); nth++) {
        while (rc == 0 && next_token(&s, &tok, &len)) {
            if (n == IMGJ_SORT_MAX)
                return fail(msg, -EINVAL, "Too many sort directions.");
            rc = sort_dir_parse(tok, len, &dirs[n++], msg);
        }
    }
    if (rc < 0)
        return rc;
    if (n > 1 && n != q->nsort)
        return fail(msg, -EINVAL, "Number of sort dirs does not match the number of sort keys");
    if (q->nsort == 0 && n == 1)
        q->sort[q->nsort++] = (struct imgj_list_sort){"created_at", true};
    for (size_t i = 0; i < q->nsort; i++)
        q->sort[i].desc = n == 0 ? true : dirs[n == 1 ? 0 : i];
    *ndirs = n;
    return 0;
}

/* Keys and directions, then Glance's tie-breaks (created_at, id), sorted
 * the way of the only direction when one was in effect, else desc. */
static int sort_parse(imgj_query_fn get, void *arg, struct imgj_list_query *q, char *msg)
{
    static const char *const ties[] = {"created_at", "id"};
    const char *sort = get(arg, "sort", 0);
    size_t ndirs = 0;
    bool tie_desc;
    int rc;

    if (sort && (get(arg, "sort_key", 0) || get(arg, "sort_dir", 0)))
        return fail(msg, -EINVAL, "Old and new sorting syntax cannot be combined");
    rc = sort ? sort_new_syntax(sort, q, &ndirs, msg) : sort_classic(get, arg, q, &ndirs, msg);
    if (rc < 0)
        return rc;
    tie_desc = ndirs == 1 ? q->sort[0].desc : true;
    if (q->nsort == 0)
        q->sort[q->nsort++] = (struct imgj_list_sort){"created_at", true};
    for (size_t t = 0; t < 2; t++) {
        bool have = false;
        for (size_t i = 0; i < q->nsort; i++)
            have = have || strcmp(q->sort[i].key, ties[t]) == 0;
        if (!have)
            q->sort[q->nsort++] = (struct imgj_list_sort){ties[t], tie_desc};
    }
    return 0;
}

static int limit_parse(const char *s, struct imgj_list_query *q, char *msg)
{
    uint64_t v;

    q->limit = IMGJ_LIMIT_DEFAULT;
    if (!s)
        return 0;
    if (s[0] == '-' && u64_parse(s + 1, &v) == 0)
        return fail(msg, -EINVAL, "limit param must be positive");
    if (u64_parse(s, &v) < 0)
        return fail(msg, -EINVAL, "limit param must be an integer");
    q->limit = v > IMGJ_LIMIT_MAX ? IMGJ_LIMIT_MAX : (unsigned)v;
    q->limit_given = true;
    return 0;
}

int imgj_list_parse(imgj_query_fn get, void *arg, struct imgj_list_query *q, char *msg)
{
    struct imgj_list_query r = {.narg = 0};
    const char *v;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < NLIST_PARAMS; i++) {
        const struct list_param *lp = &list_params[i];
        for (size_t nth = 0; rc == 0 && (v = get(arg, lp->name, nth)); nth++) {
            if (r.narg == IMGJ_QUERY_MAX)
                return fail(msg, -EINVAL, "Too many query arguments.");
            rc = arg_check(lp, v, msg);
            r.arg[r.narg++] =
                (struct imgj_list_arg){lp->name, v, lp->service && strncmp(v, "in:", 3) != 0};
        }
    }
    if (rc == 0)
        rc = sort_parse(get, arg, &r, msg);
    if (rc == 0)
        rc = limit_parse(get(arg, "limit", 0), &r, msg);
    if (rc < 0)
        return rc;
    r.marker = get(arg, "marker", 0);
    *q = r;
    return 0;
}

/* field == want, or one of "in:a,b,c". */
static bool eq_match(const json_t *field, const char *want)
{
    const char *have = json_string_value(field), *s, *tok;
    size_t len;

    if (!have)
        return false;
    if (strncmp(want, "in:", 3) != 0)
        return strcmp(have, want) == 0;
    s = want + 3;
    while (next_token(&s, &tok, &len)) {
        if (token_is(tok, len, have))
            return true;
    }
    return false;
}

static bool arg_match(const json_t *rec, const struct list_param *lp, const char *v)
{
    json_t *size = json_object_get(rec, "size");
    uint64_t n = 0;
    bool b = false;

    switch (lp->kind) {
    case L_EQ:
        return eq_match(json_object_get(rec, lp->name), v);
    case L_VISIBILITY:
        return strcmp(v, "all") == 0 || eq_match(json_object_get(rec, lp->name), v);
    case L_BOOL:
        bool_parse(v, &b);
        return json_is_true(json_object_get(rec, lp->name)) == b;
    case L_TAG:
        return tag_index(json_object_get(rec, "tags"), v) >= 0;
    case L_SIZE_MIN:
    case L_SIZE_MAX:
        u64_parse(v, &n);
        if (!json_is_integer(size))
            return false;
        return lp->kind == L_SIZE_MIN ? json_integer_value(size) >= (json_int_t)n
                                      : json_integer_value(size) <= (json_int_t)n;
    default:
        return true;
    }
}

bool imgj_list_match(const json_t *record, const struct imgj_list_query *q)
{
    bool hidden_given = false;

    for (size_t i = 0; i < q->narg; i++) {
        const struct list_param *lp = list_param_find(q->arg[i].name);
        if (!lp)
            continue;
        hidden_given = hidden_given || strcmp(lp->name, "os_hidden") == 0;
        if (!arg_match(record, lp, q->arg[i].value))
            return false;
    }
    return hidden_given || !json_is_true(json_object_get(record, "os_hidden"));
}

void imgj_list_filter(json_t *images, const struct imgj_list_query *q)
{
    for (size_t i = json_array_size(images); i-- > 0;) {
        if (!imgj_list_match(json_array_get(images, i), q))
            json_array_remove(images, i);
    }
}

/* Missing and null first, then booleans, numbers, strings. */
static int value_rank(const json_t *v)
{
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v))
        return 1;
    if (json_is_number(v))
        return 2;
    return json_is_string(v) ? 3 : 4;
}

static int value_cmp(const json_t *a, const json_t *b)
{
    int ra = value_rank(a), rb = value_rank(b);
    double da, db;

    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case 1:
        return (int)json_is_true(a) - (int)json_is_true(b);
    case 2:
        da = json_number_value(a);
        db = json_number_value(b);
        if (json_is_integer(a) && json_is_integer(b))
            return (json_integer_value(a) > json_integer_value(b)) -
                   (json_integer_value(a) < json_integer_value(b));
        return (da > db) - (da < db);
    case 3:
        return strcmp(json_string_value(a), json_string_value(b));
    default:
        return 0;
    }
}

static int image_cmp(const json_t *a, const json_t *b, const struct imgj_list_query *q)
{
    for (size_t i = 0; i < q->nsort; i++) {
        int c = value_cmp(json_object_get(a, q->sort[i].key), json_object_get(b, q->sort[i].key));
        if (c)
            return q->sort[i].desc ? -c : c;
    }
    return 0;
}

static int image_qsort_cmp(const void *a, const void *b, void *q)
{
    return image_cmp(*(json_t *const *)a, *(json_t *const *)b, q);
}

/* Sort the array in place (it keeps its references). */
static int images_sort(json_t *images, const struct imgj_list_query *q)
{
    size_t n = json_array_size(images);
    json_t **v = malloc((n ? n : 1) * sizeof(*v));
    int rc = 0;

    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(images, i));
    qsort_r(v, n, sizeof(*v), image_qsort_cmp, (void *)q);
    json_array_clear(images);
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(images, v[i]) < 0)
            rc = -ENOMEM;
    }
    free(v);
    return rc;
}

int imgj_list_page(json_t *images, const struct imgj_list_query *q, const json_t *marker_rec,
                   json_t **page, bool *more)
{
    size_t n = json_array_size(images), start = 0, end, i;
    json_t *out, *img;
    int rc = images_sort(images, q);

    if (rc < 0)
        return rc;
    if (q->marker && !marker_rec) {
        json_array_foreach(images, i, img)
        {
            const char *id = st_json_str(img, "id");
            if (id && strcmp(id, q->marker) == 0) {
                marker_rec = img;
                break;
            }
        }
        if (!marker_rec)
            return -ENOENT;
    }
    while (marker_rec && start < n && image_cmp(json_array_get(images, start), marker_rec, q) <= 0)
        start++;
    end = n - start > q->limit ? start + q->limit : n;
    if (!(out = json_array()))
        return -ENOMEM;
    for (i = start; i < end; i++) {
        if (json_array_append(out, json_array_get(images, i)) < 0) {
            json_decref(out);
            return -ENOMEM;
        }
    }
    *page = out;
    *more = end < n;
    return 0;
}

static void url_encode(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~", c))
            fputc(c, f);
        else
            fprintf(f, "%%%02X", c);
    }
}

/* "/v2/images[?marker=M&limit=N&args...]" (first: no marker, limit if given). */
static char *list_link(const struct imgj_list_query *q, const char *marker)
{
    char *buf = NULL;
    size_t len = 0;
    char sep = '?';
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    fputs("/v2/images", f);
    if (marker) {
        fputs("?marker=", f);
        url_encode(f, marker);
        sep = '&';
    }
    if (marker || q->limit_given) {
        fprintf(f, "%climit=%u", sep, q->limit);
        sep = '&';
    }
    for (size_t i = 0; i < q->narg; i++) {
        fputc(sep, f);
        url_encode(f, q->arg[i].name);
        fputc('=', f);
        url_encode(f, q->arg[i].value);
        sep = '&';
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

json_t *imgj_list_body(json_t *views, const struct imgj_list_query *q, const char *next_marker)
{
    char *first = list_link(q, NULL), *next = next_marker ? list_link(q, next_marker) : NULL;
    json_t *body = NULL;

    if (first && (!next_marker || next))
        body = json_pack("{s:o,s:s,s:s}", "images", views, "first", first, "schema",
                         "/v2/schemas/images");
    else
        json_decref(views);
    if (body && next && json_object_set_new(body, "next", json_string(next)) < 0) {
        json_decref(body);
        body = NULL;
    }
    free(first);
    free(next);
    return body;
}

/* ---- downloads ---- */

static const char *skip_spaces(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Digits at *s into *v; false when none or on overflow. */
static bool digits(const char **s, uint64_t *v)
{
    const char *p = *s;
    uint64_t n = 0;

    if (!isdigit((unsigned char)*p))
        return false;
    for (; isdigit((unsigned char)*p); p++) {
        if (n > (UINT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    *s = p;
    *v = n;
    return true;
}

int imgj_parse_range(const char *header, uint64_t size, struct imgj_range *out)
{
    struct imgj_range whole = {false, 0, size};
    const char *s = header ? skip_spaces(header) : NULL;
    uint64_t first = 0, last = 0;
    bool suffix, has_last = false;

    *out = whole;
    if (!s || strncasecmp(s, "bytes", 5) != 0)
        return 0;
    s = skip_spaces(s + 5);
    if (*s++ != '=' || strchr(s, ','))
        return 0; /* malformed or several ranges: ignored */
    s = skip_spaces(s);
    suffix = *s == '-';
    if (suffix) {
        s++;
        if (!digits(&s, &last))
            return 0;
    } else {
        if (!digits(&s, &first) || *s++ != '-')
            return 0;
        s = skip_spaces(s);
        has_last = digits(&s, &last);
    }
    if (*skip_spaces(s) || (has_last && last < first))
        return 0;
    if (suffix) {
        if (last == 0 || size == 0)
            return -ERANGE;
        first = last >= size ? 0 : size - last;
        last = size - 1;
    } else {
        if (first >= size)
            return -ERANGE;
        if (!has_last || last >= size)
            last = size - 1;
    }
    *out = (struct imgj_range){true, first, last - first + 1};
    return 0;
}

bool imgj_media_type_is(const char *header, const char *type)
{
    size_t n = strlen(type);

    if (!header)
        return false;
    header = skip_spaces(header);
    if (strncasecmp(header, type, n) != 0)
        return false;
    header = skip_spaces(header + n);
    return *header == '\0' || *header == ';';
}

/* ---- small bodies ---- */

int imgj_import_method(const json_t *body, const char **method, char *msg)
{
    const char *name = st_json_str(json_object_get(body, "method"), "name");

    if (!name)
        return fail(msg, -EINVAL, "Import request requires a 'method' object with a 'name'.");
    if (strcmp(name, "glance-direct") != 0)
        return fail(msg, -EINVAL, "Import method %s is not supported; use glance-direct.", name);
    *method = name;
    return 0;
}

/* An RBD image or pool name: non-empty, no '/' or '@'. */
static const char *rbd_name(const json_t *body, const char *member)
{
    const char *s = st_json_str(body, member);

    return s && s[0] && !strpbrk(s, "/@") && strlen(s) <= 255 ? s : NULL;
}

/* The optional "project_id" a service acts for. */
static int project_of(const json_t *body, char *msg)
{
    json_t *project = json_object_get(body, "project_id");

    if (project && (!json_is_string(project) || json_string_length(project) == 0 ||
                    json_string_length(project) > ST_ID_MAX))
        return fail(msg, -EINVAL, "'project_id' must be a project id.");
    return 0;
}

int imgj_clone_req(const json_t *body, struct imgj_clone_req *out, char *msg)
{
    const char *pool = rbd_name(body, "pool"), *name = rbd_name(body, "name");
    json_t *size = json_object_get(body, "size");

    if (!pool || !name)
        return fail(msg, -EINVAL, "A clone needs a 'pool' and a 'name' (no '/' or '@').");
    json_t *project = json_object_get(body, "project_id");

    if (size && !json_is_null(size) && (!json_is_integer(size) || json_integer_value(size) < 0))
        return fail(msg, -EINVAL, "'size' must be a number of bytes.");
    if (project_of(body, msg) < 0)
        return -EINVAL;
    *out = (struct imgj_clone_req){pool, name,
                                   json_is_integer(size) ? (uint64_t)json_integer_value(size) : 0,
                                   json_string_value(project)};
    return 0;
}

int imgj_import_rbd_req(const json_t *body, struct imgj_import_rbd_req *out, char *msg)
{
    const char *pool = rbd_name(body, "pool"), *name = rbd_name(body, "name");
    const char *snap = rbd_name(body, "snap");
    const json_t *image = json_object_get(body, "image");

    if (!pool || !name || !snap)
        return fail(msg, -EINVAL, "An import needs 'pool', 'name' and 'snap' (no '/' or '@').");
    if (image && !json_is_object(image))
        return fail(msg, -EINVAL, "'image' must be an object of image properties.");
    if (project_of(body, msg) < 0)
        return -EINVAL;
    *out = (struct imgj_import_rbd_req){pool, name, snap, st_json_str(body, "project_id"), image};
    return 0;
}
