/* image_json.c — Glance v2 JSON of imaged, with no I/O.  One table of image
 * properties (type, access, flags, enum, length, default, description) drives
 * the schema document, create validation, read-only and removal rules and the
 * image view.  PATCH is in image_json_patch.c, lists in image_json_list.c. */
#include "image_json_internal.h"

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
 * (ij_is_base false: free-form properties with a declared type). */
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

const struct prop *ij_prop_find(const char *name)
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

bool ij_is_base(const struct prop *p)
{
    return p && (p->flags & (F_BASE | F_VIEW));
}

static json_t *json_parse_const(const char *text)
{
    return json_loads(text, JSON_DECODE_ANY, NULL);
}

/* Index of `tag` in the array, or -1. */
long ij_tag_index(const json_t *tags, const char *tag)
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
        unique += ij_tag_index(v, json_string_value(t)) == (long)i;
    }
    if (unique > IMGJ_TAGS_MAX)
        return fail(msg, -EFBIG, "Maximum number of tags exceeded (%d).", IMGJ_TAGS_MAX);
    return 0;
}

/* A new array with the first occurrence of each tag. */
json_t *ij_tags_unique(const json_t *v)
{
    json_t *out = json_array(), *t;
    size_t i;

    json_array_foreach(v, i, t)
    {
        if (out && ij_tag_index(v, json_string_value(t)) == (long)i &&
            json_array_append(out, t) < 0) {
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
    if (!ij_is_base(p) && json_string_length(v) > PROP_VALUE_MAX)
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
int ij_access_check(const char *name, const struct prop *p, bool creating, bool is_admin,
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
int ij_member_check(const char *name, const json_t *v, bool creating, bool is_admin, char *msg)
{
    const struct prop *p = ij_prop_find(name);
    int rc = ij_access_check(name, p, creating, is_admin, msg);

    if (rc == 0)
        rc = value_check(name, p, v, msg);
    if (rc == 0)
        rc = policy_check(name, v, is_admin, msg);
    return rc;
}

/* Free-form properties (everything but base attributes and private members). */
int ij_props_count_check(const json_t *record, char *msg)
{
    const char *name;
    json_t *v;
    size_t n = 0;

    json_object_foreach((json_t *)record, name, v)
    {
        n += name[0] != '_' && !ij_is_base(ij_prop_find(name));
    }
    if (n > IMGJ_PROPS_MAX)
        return fail(msg, -EFBIG, "The limit of %d image properties has been exceeded.",
                    IMGJ_PROPS_MAX);
    return 0;
}

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
    if (ok && !ij_is_base(p))
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
        const struct prop *p = ij_prop_find(name);
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
        if ((rc = ij_access_check(name, ij_prop_find(name), true, is_admin, msg)) < 0)
            return rc;
    }
    json_object_foreach((json_t *)body, name, v)
    {
        if ((rc = ij_member_check(name, v, true, is_admin, msg)) < 0)
            return rc;
    }
    if ((rc = ij_props_count_check(body, msg)) < 0)
        return rc;
    if (!(out = json_deep_copy(body)))
        return -ENOMEM;
    for (size_t i = 0; rc == 0 && i < NPROPS; i++) {
        if (props[i].access == A_RW && props[i].deflt && !json_object_get(out, props[i].name) &&
            json_object_set_new(out, props[i].name, json_parse_const(props[i].deflt)) < 0)
            rc = -ENOMEM;
    }
    tags = rc == 0 ? ij_tags_unique(json_object_get(out, "tags")) : NULL;
    if (rc == 0 && (!tags || json_object_set_new(out, "tags", tags) < 0))
        rc = -ENOMEM;
    if (rc < 0) {
        json_decref(out);
        return rc;
    }
    *fields = out;
    return 0;
}

/* The record's tags array, created when missing. */
json_t *ij_record_tags(json_t *record)
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
int ij_tag_insert(json_t *tags, size_t idx, const char *tag, char *msg)
{
    if (ij_tag_index(tags, tag) >= 0)
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
    if (!(tags = ij_record_tags(record)))
        return -ENOMEM;
    return ij_tag_insert(tags, json_array_size(tags), tag, msg);
}

int imgj_tag_remove(json_t *record, const char *tag, char *msg)
{
    json_t *tags = json_object_get(record, "tags");
    long i = json_is_array(tags) ? ij_tag_index(tags, tag) : -1;

    if (i < 0)
        return fail(msg, -ENOENT, "Tag %s not found.", tag);
    return json_array_remove(tags, (size_t)i) == 0 ? 0 : -ENOMEM;
}

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

#define RBD_NAME_RULE "letters, digits, '.', '-' and '_', up to 96"

/* An RBD pool, image or snapshot name (st_rbd_name_valid), or NULL. */
static const char *rbd_name(const json_t *body, const char *member)
{
    const char *s = st_json_str(body, member);

    return st_rbd_name_valid(s) ? s : NULL;
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
        return fail(msg, -EINVAL, "A clone needs a 'pool' and a 'name' (" RBD_NAME_RULE ").");
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
        return fail(msg, -EINVAL, "An import needs 'pool', 'name' and 'snap' (" RBD_NAME_RULE ").");
    if (image && !json_is_object(image))
        return fail(msg, -EINVAL, "'image' must be an object of image properties.");
    if (project_of(body, msg) < 0)
        return -EINVAL;
    *out = (struct imgj_import_rbd_req){pool, name, snap, st_json_str(body, "project_id"), image};
    return 0;
}
