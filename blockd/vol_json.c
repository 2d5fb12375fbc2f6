/* vol_json.c — Cinder v3 JSON for blockd, pure: field tables drive the volume
 * and snapshot views (per microversion, admin and extension attribute), the
 * create/update/action bodies are checked against Cinder's schemas, and lists
 * are filtered, sorted and paged here after the service's unsorted scan. */
#include "vol_json.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata/strutil.h"

#define NAME_MAX_LEN 255
#define SIZE_MAX_GB INT32_MAX

static int fail(char *msg, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *msg, int rc, const char *fmt, ...)
{
    va_list ap;

    if (msg) {
        va_start(ap, fmt);
        vsnprintf(msg, VOLJ_MSG_MAX, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- microversions and documents ---- */

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* "3.44" / "latest" (len bytes) → minor. */
static int version_parse(const char *v, size_t len, unsigned *minor, char *msg)
{
    unsigned long major = 0, min = 0;
    char buf[32];
    char *end;

    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof(buf))
        return fail(msg, -EINVAL,
                    "Version string is of invalid format. Must be of format "
                    "MajorNum.MinorNum.");
    memcpy(buf, v, len);
    buf[len] = '\0';
    if (strcasecmp(buf, "latest") == 0) {
        *minor = VOLJ_MV_MAX;
        return 0;
    }
    if (!isdigit((unsigned char)buf[0]) || (buf[0] == '0' && isdigit((unsigned char)buf[1])))
        goto bad;
    major = strtoul(buf, &end, 10);
    if (*end != '.' || !isdigit((unsigned char)end[1]) ||
        (end[1] == '0' && isdigit((unsigned char)end[2])))
        goto bad;
    min = strtoul(end + 1, &end, 10);
    if (*end)
        goto bad;
    if (major != 3 || min > VOLJ_MV_MAX)
        return fail(msg, -ERANGE,
                    "Version %s is not supported by the API. Minimum is 3.%d and maximum is "
                    "3.%d.",
                    buf, VOLJ_MV_MIN, VOLJ_MV_MAX);
    *minor = (unsigned)min;
    return 0;
bad:
    return fail(msg, -EINVAL,
                "Version string '%s' is of invalid format. Must be of format MajorNum.MinorNum.",
                buf);
}

int volj_microversion(const char *header, const char *legacy, unsigned *minor, char *msg)
{
    const char *p = header;

    while (p && *p) {
        const char *item = skip_ws(p), *comma = strchr(item, ','), *end;
        size_t ilen = comma ? (size_t)(comma - item) : strlen(item);

        p = comma ? comma + 1 : NULL;
        if (ilen > 6 && strncasecmp(item, "volume", 6) == 0 &&
            (item[6] == ' ' || item[6] == '\t')) {
            end = skip_ws(item + 6);
            return version_parse(end, ilen - (size_t)(end - item), minor, msg);
        }
    }
    if (legacy && *skip_ws(legacy))
        return version_parse(skip_ws(legacy), strlen(skip_ws(legacy)), minor, msg);
    *minor = 0;
    return 0;
}

static json_t *version_doc(const char *base)
{
    char href[VOLJ_BASE_MAX + 8], max[16];

    snprintf(href, sizeof(href), "%s/v3/", base);
    snprintf(max, sizeof(max), "3.%d", VOLJ_MV_MAX);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:s},{s:s,s:s}],s:[{s:s,s:s}]}", "id",
                     "v3.0", "status", "CURRENT", "version", max, "min_version", "3.0", "updated",
                     "2022-08-31T00:00:00Z", "links", "rel", "describedby", "type", "text/html",
                     "href", "https://docs.openstack.org/", "rel", "self", "href", href,
                     "media-types", "base", "application/json", "type",
                     "application/vnd.openstack.volume+json;version=3");
}

json_t *volj_versions(const char *base)
{
    json_t *v = version_doc(base);

    return v ? json_pack("{s:[o]}", "versions", v) : NULL;
}

json_t *volj_version(const char *base)
{
    json_t *v = version_doc(base);

    return v ? json_pack("{s:o}", "version", v) : NULL;
}

/* ---- views ---- */

/* "YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|+00:00]" → Cinder's form, or false. */
static bool time_text(const char *s, char *out, size_t len)
{
    int y, mo, d, h, mi, sec, n = 0;
    char frac[7] = "000000";
    const char *p;

    if (sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
        n != 19)
        return false;
    p = s + 19;
    if (*p == '.') {
        size_t i = 0;
        for (p++; isdigit((unsigned char)*p); p++) {
            if (i < 6)
                frac[i++] = *p;
        }
    }
    if (*p && strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
        return false;
    snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%s", y, mo, d, h, mi, sec, frac);
    return true;
}

json_t *volj_time(const json_t *v)
{
    char buf[48];
    struct tm tm;
    time_t t;
    long usec = 0;

    if (json_is_string(v))
        return time_text(json_string_value(v), buf, sizeof(buf)) ? json_string(buf)
                                                                 : json_incref((json_t *)v);
    if (json_is_integer(v)) {
        t = (time_t)json_integer_value(v);
    } else if (json_is_real(v)) {
        double x = json_real_value(v);
        t = (time_t)x;
        usec = (long)((x - (double)t) * 1e6);
    } else {
        return json_null();
    }
    if (!gmtime_r(&t, &tm) || strftime(buf, 24, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return json_null();
    snprintf(buf + 19, sizeof(buf) - 19, ".%06ld", usec);
    return json_string(buf);
}

enum vsrc {
    V_COPY,     /* the record's member, null when absent */
    V_TIME,     /* a time, in Cinder's form */
    V_BOOLSTR,  /* "true"/"false" */
    V_FALSE,    /* a boolean, false when absent */
    V_TRUE,     /* a boolean, true when absent */
    V_ARRAY,    /* an array, [] when absent */
    V_OBJECT,   /* an object, {} when absent */
    V_TYPE,     /* the volume type's name */
    V_TYPE_ID,  /* the volume type's id */
    V_LINKS,    /* self and bookmark */
    V_PROJECT,  /* the owning project */
    V_IMGMETA,  /* an object of strings, only when the record has one */
    V_PROGRESS, /* a snapshot's progress */
};

#define F_ADMIN 0x1u /* admins only */
#define F_EXT 0x2u   /* an extension attribute: show and detail lists only */

struct vfield {
    const char *name;
    const char *src; /* record member (NULL = name) */
    enum vsrc how;
    unsigned min_mv;
    unsigned flags;
};

/* cinder/api/v2/views/volumes.py, v3/views/volumes.py and the volume
 * extensions (tenant, host, migration status, image metadata). */
static const struct vfield volume_fields[] = {
    {"id", NULL, V_COPY, 0, 0},
    {"name", NULL, V_COPY, 0, 0},
    {"status", NULL, V_COPY, 0, 0},
    {"size", NULL, V_COPY, 0, 0},
    {"availability_zone", NULL, V_COPY, 0, 0},
    {"created_at", NULL, V_TIME, 0, 0},
    {"updated_at", NULL, V_TIME, 0, 0},
    {"attachments", NULL, V_ARRAY, 0, 0},
    {"description", NULL, V_COPY, 0, 0},
    {"volume_type", NULL, V_TYPE, 0, 0},
    {"snapshot_id", NULL, V_COPY, 0, 0},
    {"source_volid", NULL, V_COPY, 0, 0},
    {"metadata", NULL, V_OBJECT, 0, 0},
    {"links", NULL, V_LINKS, 0, 0},
    {"user_id", NULL, V_COPY, 0, 0},
    {"bootable", NULL, V_BOOLSTR, 0, 0},
    {"encrypted", NULL, V_FALSE, 0, 0},
    {"replication_status", NULL, V_COPY, 0, 0},
    {"consistencygroup_id", NULL, V_COPY, 0, 0},
    {"multiattach", NULL, V_FALSE, 0, 0},
    {"migration_status", NULL, V_COPY, 0, F_ADMIN},
    {"group_id", NULL, V_COPY, 13, 0},
    {"provider_id", NULL, V_COPY, 21, F_ADMIN},
    {"shared_targets", NULL, V_FALSE, 48, 0},
    {"service_uuid", NULL, V_COPY, 48, 0},
    {"cluster_name", NULL, V_COPY, 61, F_ADMIN},
    {"volume_type_id", NULL, V_TYPE_ID, 63, 0},
    {"consumes_quota", NULL, V_TRUE, 65, 0},
    {"os-vol-tenant-attr:tenant_id", NULL, V_PROJECT, 0, F_EXT},
    {"os-vol-host-attr:host", "host", V_COPY, 0, F_EXT | F_ADMIN},
    {"os-vol-mig-status-attr:migstat", "migration_status", V_COPY, 0, F_EXT | F_ADMIN},
    {"os-vol-mig-status-attr:name_id", "name_id", V_COPY, 0, F_EXT | F_ADMIN},
    {"volume_image_metadata", NULL, V_IMGMETA, 0, F_EXT},
};

/* cinder/api/views/snapshots.py, v3/views/snapshots.py and the extended
 * snapshot attributes extension. */
static const struct vfield snapshot_fields[] = {
    {"id", NULL, V_COPY, 0, 0},
    {"created_at", NULL, V_TIME, 0, 0},
    {"updated_at", NULL, V_TIME, 0, 0},
    {"name", NULL, V_COPY, 0, 0},
    {"description", NULL, V_COPY, 0, 0},
    {"volume_id", NULL, V_COPY, 0, 0},
    {"status", NULL, V_COPY, 0, 0},
    {"size", NULL, V_COPY, 0, 0},
    {"metadata", NULL, V_OBJECT, 0, 0},
    {"group_snapshot_id", NULL, V_COPY, 14, 0},
    {"user_id", NULL, V_COPY, 41, 0},
    {"consumes_quota", NULL, V_TRUE, 65, 0},
    {"os-extended-snapshot-attributes:progress", NULL, V_PROGRESS, 0, F_EXT},
    {"os-extended-snapshot-attributes:project_id", NULL, V_PROJECT, 0, F_EXT},
};

static const char *record_project(const json_t *rec)
{
    static const char *const names[] = {"project_id", "os-vol-tenant-attr:tenant_id", "tenant_id",
                                        "owner", NULL};

    for (size_t i = 0; names[i]; i++) {
        const char *p = st_json_str(rec, names[i]);
        if (p)
            return p;
    }
    return NULL;
}

static json_t *links_view(const json_t *rec, const char *collection, const struct volj_ctx *c)
{
    const char *id = st_json_str(rec, "id");
    char self[1024], bookmark[1024];

    if (!id)
        return json_array();
    snprintf(self, sizeof(self), "%s/v3/%s/%s/%s", c->base_url, c->project_id, collection, id);
    snprintf(bookmark, sizeof(bookmark), "%s/%s/%s/%s", c->base_url, c->project_id, collection, id);
    return json_pack("[{s:s,s:s},{s:s,s:s}]", "href", self, "rel", "self", "href", bookmark, "rel",
                     "bookmark");
}

/* Image metadata as Cinder keeps it: every value a string. */
static json_t *imgmeta_view(const json_t *md)
{
    json_t *out = json_object(), *v;
    const char *k;

    json_object_foreach((json_t *)md, k, v)
    {
        json_t *s;
        if (json_is_string(v) || json_is_null(v)) {
            s = json_incref(v);
        } else {
            char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            s = text ? json_string(text) : NULL;
            free(text);
        }
        if (!out || !s || json_object_set_new(out, k, s) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *bool_default(const json_t *v, bool dflt)
{
    return json_is_boolean(v) ? json_incref((json_t *)v) : json_boolean(dflt);
}

static json_t *bool_text(const json_t *v)
{
    bool b = false;

    if (json_is_boolean(v))
        b = json_is_true(v);
    else if (json_is_string(v))
        volj_bool_parse(json_string_value(v), &b);
    return json_string(b ? "true" : "false");
}

static json_t *progress_view(const json_t *rec)
{
    const json_t *p = json_object_get(rec, "progress");
    const char *status = st_json_str(rec, "status");

    if (json_is_string(p))
        return json_incref((json_t *)p);
    return json_string(status && strcmp(status, "available") == 0 ? "100%" : "0%");
}

/* One member's value; *skip when the member is not shown for this record. */
static json_t *field_value(const struct vfield *f, const json_t *rec, const char *collection,
                           const struct volj_ctx *c, bool *skip)
{
    const json_t *v = json_object_get(rec, f->src ? f->src : f->name);
    const char *type;

    *skip = false;
    switch (f->how) {
    case V_COPY:
        return v ? json_deep_copy(v) : json_null();
    case V_TIME:
        return volj_time(v);
    case V_BOOLSTR:
        return bool_text(v);
    case V_FALSE:
        return bool_default(v, false);
    case V_TRUE:
        return bool_default(v, true);
    case V_ARRAY:
        return json_is_array(v) ? json_deep_copy(v) : json_array();
    case V_OBJECT:
        return json_is_object(v) ? json_deep_copy(v) : json_object();
    case V_TYPE:
        type = json_string_value(v);
        return json_string(type && *type ? type : VOLJ_DEFAULT_TYPE_NAME);
    case V_TYPE_ID:
        type = json_string_value(v);
        return json_string(type && *type ? type : VOLJ_DEFAULT_TYPE_ID);
    case V_LINKS:
        return links_view(rec, collection, c);
    case V_PROJECT:
        type = record_project(rec);
        return type ? json_string(type) : json_null();
    case V_IMGMETA:
        *skip = !json_is_object(v);
        return *skip ? NULL : imgmeta_view(v);
    case V_PROGRESS:
        return progress_view(rec);
    }
    return NULL;
}

static json_t *view(const json_t *rec, const struct vfield *fields, size_t n,
                    const char *collection, bool extended, const struct volj_ctx *c)
{
    json_t *out = json_object();
    bool skip;

    for (size_t i = 0; out && i < n; i++) {
        const struct vfield *f = &fields[i];
        if (c->mv < f->min_mv || ((f->flags & F_ADMIN) && !c->is_admin) ||
            ((f->flags & F_EXT) && !extended))
            continue;
        json_t *v = field_value(f, rec, collection, c, &skip);
        if (skip)
            continue;
        if (!v || json_object_set_new(out, f->name, v) < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

json_t *volj_volume_view(const json_t *rec, enum volj_view_kind kind, const struct volj_ctx *c)
{
    if (kind == VOLJ_SUMMARY)
        return json_pack("{s:O?,s:O?,s:o}", "id", json_object_get(rec, "id"), "name",
                         json_object_get(rec, "name"), "links", links_view(rec, "volumes", c));
    return view(rec, volume_fields, sizeof(volume_fields) / sizeof(volume_fields[0]), "volumes",
                kind == VOLJ_DETAIL, c);
}

json_t *volj_snapshot_view(const json_t *rec, bool extended, const struct volj_ctx *c)
{
    return view(rec, snapshot_fields, sizeof(snapshot_fields) / sizeof(snapshot_fields[0]),
                "snapshots", extended, c);
}

/* ---- request bodies ---- */

int volj_bool_parse(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on", "t", "y", NULL};
    static const char *const no[] = {"false", "0", "no", "off", "f", "n", NULL};

    for (size_t i = 0; s && yes[i]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

static bool meta_key_ok(const char *k)
{
    size_t n = strlen(k);

    if (n < 1 || n > NAME_MAX_LEN)
        return false;
    for (; *k; k++) {
        if (!isalnum((unsigned char)*k) && !strchr("-_:. /", *k))
            return false;
    }
    return true;
}

int volj_metadata_check(const json_t *md, char *msg)
{
    const char *k;
    json_t *v;

    if (!json_is_object(md))
        return fail(msg, -EINVAL, "Invalid input for field/attribute metadata: must be an object.");
    json_object_foreach((json_t *)md, k, v)
    {
        if (!meta_key_ok(k))
            return fail(msg, -EINVAL,
                        "Invalid input for field/attribute metadata: the key '%.64s' must be "
                        "1-255 characters of [a-zA-Z0-9-_:. /].",
                        k);
        if (!json_is_string(v))
            return fail(msg, -EINVAL,
                        "Invalid input for field/attribute metadata: the value of '%.64s' must "
                        "be a string.",
                        k);
        if (st_utf8_len(json_string_value(v)) > NAME_MAX_LEN)
            return fail(msg, -EINVAL,
                        "Invalid input for field/attribute metadata: the value of '%.64s' is "
                        "longer than 255 characters.",
                        k);
    }
    return 0;
}

int volj_metadata_count_check(const json_t *md, size_t max, char *msg)
{
    if (json_object_size(md) <= max)
        return 0;
    return fail(msg, -EFBIG,
                "Maximum number of metadata items exceeded: %zu items, the limit is %zu "
                "([blockd] max_metadata_items).",
                json_object_size(md), max);
}

int volj_metadata_body(const json_t *body, const char *key, const json_t **md, char *msg)
{
    const json_t *v = json_object_get(body, key ? "meta" : "metadata");

    *md = NULL;
    if (!json_is_object(v))
        return fail(msg, -EINVAL, "Malformed request body: it needs {\"%s\": {...}}.",
                    key ? "meta" : "metadata");
    if (key && json_object_size(v) > 1)
        return fail(msg, -EINVAL, "Request body contains too many items.");
    if (key && !json_object_get(v, key))
        return fail(msg, -EINVAL, "Request body and URI mismatch.");
    if (volj_metadata_check(v, msg) < 0)
        return -EINVAL;
    *md = v;
    return 0;
}

/* An optional string member (null = absent) of at most max characters,
 * under `name` or its legacy alias. */
static int opt_string(const json_t *obj, const char *name, const char *alias, size_t max,
                      const char **out, char *msg)
{
    const json_t *v = json_object_get(obj, name);

    if ((!v || json_is_null(v)) && alias)
        v = json_object_get(obj, alias);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail(msg, -EINVAL, "Invalid input for field/attribute %s: must be a string.", name);
    if (max && st_utf8_len(json_string_value(v)) > max)
        return fail(msg, -EINVAL,
                    "Invalid input for field/attribute %s: longer than %zu characters.", name, max);
    *out = json_string_value(v);
    return 0;
}

static int opt_uuid(const json_t *obj, const char *name, const char **out, char *msg)
{
    int rc = opt_string(obj, name, NULL, 0, out, msg);

    if (rc == 0 && *out && !st_is_uuid(*out))
        return fail(msg, -EINVAL, "Invalid input for field/attribute %s: '%.64s' is not a UUID.",
                    name, *out);
    return rc;
}

/* A size in GiB: a positive integer, or a string of digits, at most SIZE_MAX_GB. */
static int size_value(const json_t *v, const char *name, int64_t *out, char *msg)
{
    json_int_t n = -1;
    bool huge = false;

    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        if (*s && strspn(s, "0123456789") == strlen(s)) {
            huge = strlen(s) >= 12;
            n = huge ? -1 : strtoll(s, &end, 10);
        }
    }
    if (huge || n > SIZE_MAX_GB)
        return fail(msg, -EINVAL, "Invalid input received: %s must be at most %lld GiB.", name,
                    (long long)SIZE_MAX_GB);
    if (n < 1)
        return fail(msg, -EINVAL,
                    "Invalid input received: %s must be an integer and greater than 0.", name);
    *out = n;
    return 0;
}

static const json_t *body_member(const json_t *body, const char *name, char *msg)
{
    const json_t *v = json_object_get(body, name);

    if (!json_is_object(v)) {
        fail(msg, -EINVAL, "Missing required element '%s' in request body.", name);
        return NULL;
    }
    return v;
}

static int opt_metadata(const json_t *obj, const json_t **out, char *msg)
{
    const json_t *md = json_object_get(obj, "metadata");

    *out = NULL;
    if (!md || json_is_null(md))
        return 0;
    if (volj_metadata_check(md, msg) < 0)
        return -EINVAL;
    *out = md;
    return 0;
}

/* Members Cinder accepts that Strata cannot honour yet. */
static int unsupported_members(const json_t *v, char *msg)
{
    static const char *const absent[] = {"backup_id", "consistencygroup_id", "group_id", NULL};
    const json_t *m = json_object_get(v, "multiattach");

    for (size_t i = 0; absent[i]; i++) {
        const json_t *x = json_object_get(v, absent[i]);
        if (x && !json_is_null(x))
            return fail(msg, -EINVAL, "Invalid input received: %s is not supported.", absent[i]);
    }
    if (json_is_true(m))
        return fail(msg, -EINVAL, "Invalid input received: multiattach volumes are not supported.");
    return 0;
}

int volj_volume_create(const json_t *body, struct volj_create *out, char *msg)
{
    const json_t *v = body_member(body, "volume", msg), *size;
    struct volj_create c = {0};
    int nsrc, rc;

    if (!v)
        return -EINVAL;
    if ((rc = opt_string(v, "name", "display_name", NAME_MAX_LEN, &c.name, msg)) < 0 ||
        (rc = opt_string(v, "description", "display_description", NAME_MAX_LEN, &c.description,
                         msg)) < 0 ||
        (rc = opt_uuid(v, "snapshot_id", &c.snapshot_id, msg)) < 0 ||
        (rc = opt_uuid(v, "source_volid", &c.source_volid, msg)) < 0 ||
        (rc = opt_string(v, "imageRef", "image_id", NAME_MAX_LEN, &c.image_id, msg)) < 0 ||
        (rc = opt_string(v, "volume_type", NULL, NAME_MAX_LEN, &c.volume_type, msg)) < 0 ||
        (rc = opt_string(v, "availability_zone", NULL, NAME_MAX_LEN, &c.availability_zone, msg)) <
            0 ||
        (rc = opt_metadata(v, &c.metadata, msg)) < 0 || (rc = unsupported_members(v, msg)) < 0)
        return rc;
    nsrc = !!c.snapshot_id + !!c.source_volid + !!c.image_id;
    if (nsrc > 1)
        return fail(msg, -EINVAL,
                    "Invalid input received: only one of snapshot_id, "
                    "source_volid and imageRef may be given.");
    size = json_object_get(v, "size");
    if (size && !json_is_null(size)) {
        if ((rc = size_value(size, "Volume size", &c.size_gb, msg)) < 0)
            return rc;
    } else if (nsrc == 0) {
        return fail(msg, -EINVAL,
                    "Invalid input received: Volume size must be an integer and "
                    "greater than 0 when no source is given.");
    }
    *out = c;
    return 0;
}

static int update_body(const json_t *body, const char *what, const char *const *allowed,
                       struct volj_update *out, char *msg)
{
    const json_t *v = body_member(body, what, msg), *x;
    struct volj_update u = {0};
    const char *k;
    int rc;

    if (!v)
        return -EINVAL;
    json_object_foreach((json_t *)v, k, x)
    {
        if (!st_in_list(allowed, k))
            return fail(msg, -EINVAL,
                        "Invalid input for field/attribute %s. Additional properties are not "
                        "allowed ('%.64s' was unexpected).",
                        what, k);
    }
    if ((rc = opt_string(v, "name", "display_name", NAME_MAX_LEN, &u.name, msg)) < 0 ||
        (rc = opt_string(v, "description", "display_description", NAME_MAX_LEN, &u.description,
                         msg)) < 0 ||
        (st_in_list(allowed, "metadata") && (rc = opt_metadata(v, &u.metadata, msg)) < 0))
        return rc;
    if (json_object_size(v) == 0)
        return fail(msg, -EINVAL, "Invalid input for field/attribute %s: nothing to update.", what);
    *out = u;
    return 0;
}

int volj_volume_update(const json_t *body, struct volj_update *out, char *msg)
{
    static const char *const allowed[] = {
        "name", "description", "display_name", "display_description", "metadata", NULL};

    return update_body(body, "volume", allowed, out, msg);
}

int volj_snapshot_update(const json_t *body, struct volj_update *out, char *msg)
{
    static const char *const allowed[] = {"name", "description", "display_name",
                                          "display_description", NULL};

    return update_body(body, "snapshot", allowed, out, msg);
}

int volj_snapshot_create(const json_t *body, struct volj_snap_create *out, char *msg)
{
    const json_t *v = body_member(body, "snapshot", msg), *force;
    struct volj_snap_create c = {0};
    int rc;

    if (!v)
        return -EINVAL;
    if ((rc = opt_uuid(v, "volume_id", &c.volume_id, msg)) < 0 ||
        (rc = opt_string(v, "name", "display_name", NAME_MAX_LEN, &c.name, msg)) < 0 ||
        (rc = opt_string(v, "description", "display_description", NAME_MAX_LEN, &c.description,
                         msg)) < 0 ||
        (rc = opt_metadata(v, &c.metadata, msg)) < 0)
        return rc;
    if (!c.volume_id)
        return fail(msg, -EINVAL,
                    "Invalid input for field/attribute snapshot: 'volume_id' is a "
                    "required property.");
    force = json_object_get(v, "force");
    if (json_is_boolean(force))
        c.force = json_is_true(force);
    else if (force && !json_is_null(force) &&
             (!json_is_string(force) || volj_bool_parse(json_string_value(force), &c.force) < 0))
        return fail(msg, -EINVAL, "Invalid input for field/attribute force: must be a boolean.");
    *out = c;
    return 0;
}

/* Statuses os-reset_status may set (Cinder's volume status enum). */
static const char *const reset_statuses[] = {
    "available", "error",          "creating",    "deleting", "in-use",    "attaching",
    "detaching", "error_deleting", "maintenance", "reserved", "extending", "error_extending",
    NULL};

static int action_extend(const json_t *arg, struct volj_action *a, char *msg)
{
    const json_t *n = json_object_get(arg, "new_size");

    a->kind = VOLJ_ACT_EXTEND;
    if (!json_is_object(arg) || !n)
        return fail(msg, -EINVAL,
                    "Invalid input for field/attribute os-extend: 'new_size' is a "
                    "required property.");
    return size_value(n, "New size for extend", &a->new_size, msg);
}

static const char *const attach_statuses[] = {"attached", "detached", NULL};

static int action_reset_status(const json_t *arg, struct volj_action *a, char *msg)
{
    const char *status = st_json_str(arg, "status");
    const char *attach = st_json_str(arg, "attach_status");

    a->kind = VOLJ_ACT_RESET_STATUS;
    if (!status && !attach)
        return fail(msg, -EINVAL,
                    "Invalid input for field/attribute os-reset_status: 'status' "
                    "is a required string.");
    if (status && !st_in_list(reset_statuses, status))
        return fail(msg, -EINVAL,
                    "Invalid input received: status '%.64s' is not a volume "
                    "status.",
                    status);
    if (attach && !st_in_list(attach_statuses, attach))
        return fail(msg, -EINVAL,
                    "Invalid input received: attach_status '%.64s' must be attached or "
                    "detached.",
                    attach);
    a->status = status;
    a->attach_status = attach;
    return 0;
}

/* Actions whose argument is ignored (os-reserve: {} or null). */
static int action_plain(const json_t *arg, struct volj_action *a, char *msg)
{
    (void)arg;
    (void)a;
    (void)msg;
    return 0;
}

static const char *const attach_modes[] = {"rw", "ro", NULL};

static int action_attach(const json_t *arg, struct volj_action *a, char *msg)
{
    int rc;

    if (!json_is_object(arg))
        return fail(msg, -EINVAL, "Invalid input for field/attribute os-attach: must be an object.");
    if ((rc = opt_uuid(arg, "instance_uuid", &a->instance_uuid, msg)) < 0 ||
        (rc = opt_string(arg, "mountpoint", NULL, 255, &a->mountpoint, msg)) < 0 ||
        (rc = opt_string(arg, "host_name", NULL, 255, &a->host_name, msg)) < 0 ||
        (rc = opt_string(arg, "mode", NULL, 2, &a->mode, msg)) < 0)
        return rc;
    if (!a->instance_uuid && !a->host_name)
        return fail(msg, -EINVAL,
                    "Invalid request to attach volume to an invalid target: instance_uuid or "
                    "host_name is required.");
    if (!a->mountpoint)
        return fail(msg, -EINVAL,
                    "Invalid input for field/attribute os-attach: 'mountpoint' is a required "
                    "property.");
    if (a->mode && !st_in_list(attach_modes, a->mode))
        return fail(msg, -EINVAL, "Invalid attaching mode '%.8s' for volume.", a->mode);
    return 0;
}

static int action_detach(const json_t *arg, struct volj_action *a, char *msg)
{
    return json_is_object(arg) ? opt_uuid(arg, "attachment_id", &a->attachment_id, msg) : 0;
}

static int action_connection(const json_t *arg, struct volj_action *a, char *msg)
{
    a->connector = json_object_get(arg, "connector");
    if (!json_is_object(a->connector))
        return fail(msg, -EINVAL,
                    "Invalid input for field/attribute connector: 'connector' is a required "
                    "object.");
    return 0;
}

static int action_revert(const json_t *arg, struct volj_action *a, char *msg)
{
    int rc = json_is_object(arg) ? opt_uuid(arg, "snapshot_id", &a->snapshot_id, msg) : -EINVAL;

    if (rc == 0 && !a->snapshot_id)
        rc = -EINVAL;
    return rc < 0 ? fail(msg, rc, "Invalid input for field/attribute revert: 'snapshot_id' "
                                  "is a required property.")
                  : 0;
}

static const char *const migration_policies[] = {"never", "on-demand", NULL};

static int action_retype(const json_t *arg, struct volj_action *a, char *msg)
{
    int rc = json_is_object(arg) ? 0 : -EINVAL;

    if (rc == 0 && (rc = opt_string(arg, "new_type", NULL, NAME_MAX_LEN, &a->new_type, msg)) < 0)
        return rc;
    if (rc < 0 || !a->new_type)
        return fail(msg, -EINVAL,
                    "Invalid input for field/attribute os-retype: 'new_type' is a required "
                    "property.");
    if ((rc = opt_string(arg, "migration_policy", NULL, 16, &a->migration_policy, msg)) < 0)
        return rc;
    if (a->migration_policy && !st_in_list(migration_policies, a->migration_policy))
        return fail(msg, -EINVAL, "Invalid input received: migration_policy must be never or "
                                  "on-demand.");
    return 0;
}

/* A boolean member: JSON true/false or a boolean word ("True"); absent = false. */
static int opt_bool(const json_t *obj, const char *name, bool *out, char *msg)
{
    const json_t *v = json_object_get(obj, name);

    *out = false;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v) && volj_bool_parse(json_string_value(v), out) == 0)
        return 0;
    return fail(msg, -EINVAL, "Invalid input received: %s must be a boolean.", name);
}

static const char *const visibilities[] = {"public", "private", "shared", "community", NULL};

static int action_upload(const json_t *arg, struct volj_action *a, char *msg)
{
    struct volj_upload *u = &a->upload;
    int rc;

    if (!json_is_object(arg))
        return fail(msg, -EINVAL,
                    "Invalid input for field/attribute os-volume_upload_image: must be an "
                    "object.");
    if ((rc = opt_string(arg, "image_name", NULL, NAME_MAX_LEN, &u->image_name, msg)) < 0 ||
        (rc = opt_string(arg, "container_format", NULL, 32, &u->container_format, msg)) < 0 ||
        (rc = opt_string(arg, "disk_format", NULL, 32, &u->disk_format, msg)) < 0 ||
        (rc = opt_string(arg, "visibility", NULL, 16, &u->visibility, msg)) < 0 ||
        (rc = opt_bool(arg, "protected", &u->is_protected, msg)) < 0 ||
        (rc = opt_bool(arg, "force", &u->force, msg)) < 0)
        return rc;
    if (!u->image_name)
        return fail(msg, -EINVAL, "Invalid input for field/attribute os-volume_upload_image: "
                                  "'image_name' is a required property.");
    if (!u->disk_format)
        u->disk_format = "raw";
    if (!u->container_format)
        u->container_format = "bare";
    if (strcmp(u->disk_format, "raw") != 0)
        return fail(msg, -EINVAL, "Invalid input received: disk_format %.32s is not supported: "
                                  "volumes are uploaded as raw images (no conversion).",
                    u->disk_format);
    if (strcmp(u->container_format, "bare") != 0)
        return fail(msg, -EINVAL, "Invalid input received: container_format must be bare.");
    if (u->visibility && !st_in_list(visibilities, u->visibility))
        return fail(msg, -EINVAL, "Invalid input received: visibility %.16s is not one of "
                                  "public, private, shared, community.", u->visibility);
    return 0;
}

static const struct {
    const char *name;
    enum volj_action_kind kind;
    int (*parse)(const json_t *arg, struct volj_action *a, char *msg);
} actions[] = {
    {"revert", VOLJ_ACT_REVERT, action_revert},
    {"os-extend", VOLJ_ACT_EXTEND, action_extend},
    {"os-reset_status", VOLJ_ACT_RESET_STATUS, action_reset_status},
    {"os-reserve", VOLJ_ACT_RESERVE, action_plain},
    {"os-unreserve", VOLJ_ACT_UNRESERVE, action_plain},
    {"os-begin_detaching", VOLJ_ACT_BEGIN_DETACHING, action_plain},
    {"os-roll_detaching", VOLJ_ACT_ROLL_DETACHING, action_plain},
    {"os-attach", VOLJ_ACT_ATTACH, action_attach},
    {"os-detach", VOLJ_ACT_DETACH, action_detach},
    {"os-initialize_connection", VOLJ_ACT_INIT_CONNECTION, action_connection},
    {"os-terminate_connection", VOLJ_ACT_TERM_CONNECTION, action_connection},
    {"os-retype", VOLJ_ACT_RETYPE, action_retype},
    {"os-volume_upload_image", VOLJ_ACT_UPLOAD_IMAGE, action_upload},
};

int volj_volume_action(const json_t *body, struct volj_action *out, char *msg)
{
    struct volj_action a = {0};
    const char *name;
    json_t *arg;
    int rc;

    if (!json_is_object(body) || json_object_size(body) != 1)
        return fail(msg, -EINVAL,
                    "Invalid action: the body must name exactly one action "
                    "(os-extend, os-reset_status).");
    json_object_foreach((json_t *)body, name, arg)
    {
        for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
            if (strcmp(actions[i].name, name) != 0)
                continue;
            a.kind = actions[i].kind;
            if ((rc = actions[i].parse(arg, &a, msg)) < 0)
                return rc;
            *out = a;
            return 0;
        }
        return fail(msg, -EINVAL,
                    "Invalid action %.64s: the supported actions are os-extend, "
                    "os-reset_status and the attach/detach/connection actions.",
                    name);
    }
    return -EINVAL;
}

json_t *volj_upload_view(const json_t *vol, const char *image_id, const struct volj_upload *u)
{
    const char *type = st_json_str(vol, "volume_type"), *tid = st_json_str(vol, "volume_type_id");

    return json_pack("{s:{s:O?, s:o, s:s, s:O?, s:O?, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:b, "
                     "s:s}}",
                     "os-volume_upload_image", "id", json_object_get(vol, "id"), "updated_at",
                     volj_time(json_object_get(vol, "updated_at")), "status", "uploading",
                     "display_description", json_object_get(vol, "description"), "size",
                     json_object_get(vol, "size"), "volume_type", "name",
                     type ? type : VOLJ_DEFAULT_TYPE_NAME, "id", tid ? tid : VOLJ_DEFAULT_TYPE_ID,
                     "image_id", image_id, "container_format", u->container_format,
                     "disk_format", u->disk_format, "image_name", u->image_name, "protected",
                     u->is_protected, "visibility", u->visibility ? u->visibility : "private");
}

/* ---- attachments ---- */

json_t *volj_attachment_view(const json_t *rec, bool detail)
{
    static const char *const copied[] = {"attach_mode", "connection_info", NULL};
    json_t *v = json_pack("{s:O?, s:O?, s:O?, s:O?}", "id", json_object_get(rec, "id"), "status",
                          json_object_get(rec, "status"), "instance",
                          json_object_get(rec, "instance"), "volume_id",
                          json_object_get(rec, "volume_id"));

    if (!v || !detail)
        return v;
    json_object_set_new(v, "attached_at", volj_time(json_object_get(rec, "attached_at")));
    json_object_set_new(v, "detached_at", volj_time(json_object_get(rec, "detached_at")));
    for (size_t i = 0; copied[i]; i++) {
        const json_t *x = json_object_get(rec, copied[i]);
        json_object_set_new(v, copied[i], x ? json_deep_copy(x) : json_null());
    }
    return v;
}

static int opt_connector(const json_t *obj, const json_t **out, char *msg)
{
    const json_t *c = json_object_get(obj, "connector");

    *out = NULL;
    if (!c || json_is_null(c))
        return 0;
    if (!json_is_object(c))
        return fail(msg, -EINVAL, "Invalid input for field/attribute connector: must be an object.");
    *out = c;
    return 0;
}

int volj_attachment_create(const json_t *body, struct volj_att_create *out, char *msg)
{
    const json_t *v = body_member(body, "attachment", msg);
    struct volj_att_create c = {0};
    int rc;

    if (!v)
        return -EINVAL;
    if ((rc = opt_uuid(v, "volume_uuid", &c.volume_uuid, msg)) < 0 ||
        (rc = opt_uuid(v, "instance_uuid", &c.instance_uuid, msg)) < 0 ||
        (rc = opt_connector(v, &c.connector, msg)) < 0 ||
        (rc = opt_string(v, "mode", NULL, 8, &c.mode, msg)) < 0)
        return rc;
    if (!c.volume_uuid)
        return fail(msg, -EINVAL,
                    "Invalid input for field/attribute attachment: 'volume_uuid' is a required "
                    "property.");
    if (c.mode && !st_in_list(attach_modes, c.mode) && strcmp(c.mode, "null") != 0)
        return fail(msg, -EINVAL, "Invalid attaching mode '%.8s' for volume.", c.mode);
    if (c.mode && strcmp(c.mode, "null") == 0)
        c.mode = NULL;
    *out = c;
    return 0;
}

int volj_attachment_update(const json_t *body, const json_t **connector, char *msg)
{
    const json_t *v = body_member(body, "attachment", msg), *c = NULL;
    int rc;

    if (!v)
        return -EINVAL;
    if ((rc = opt_connector(v, &c, msg)) < 0)
        return rc;
    if (!c)
        return fail(msg, -EINVAL,
                    "Invalid input for field/attribute attachment: 'connector' is a required "
                    "property.");
    *connector = c;
    return 0;
}

int volj_attachment_action(const json_t *body, char *msg)
{
    if (!json_is_object(body) || json_object_size(body) != 1 ||
        !json_object_get(body, "os-complete"))
        return fail(msg, -EINVAL,
                    "Invalid action: the only attachment action is os-complete.");
    return 0;
}

/* ---- lists: parsing ---- */

struct list_param {
    const char *name;  /* in the query */
    const char *field; /* record member */
    bool service;      /* an equality the service applies itself */
};

static const struct list_param volume_params[] = {
    {"name", "name", true},
    {"status", "status", true},
    {"bootable", "bootable", false},
    {"availability_zone", "availability_zone", false},
    {"size", "size", false},
    {"volume_type", "volume_type", false},
    {NULL, NULL, false},
};
static const struct list_param snapshot_params[] = {
    {"name", "name", true},
    {"status", "status", true},
    {"volume_id", "volume_id", true},
    {NULL, NULL, false},
};
static const char *const volume_sort_keys[] = {
    "id",         "name",     "status",      "size",    "availability_zone", "created_at",
    "updated_at", "bootable", "volume_type", "user_id", "project_id",        NULL};
static const char *const snapshot_sort_keys[] = {
    "id",         "name",       "status",  "size",       "volume_id",
    "created_at", "updated_at", "user_id", "project_id", NULL};

static int arg_add(struct volj_list_query *q, const char *name, const char *value, char *msg)
{
    if (q->narg >= sizeof(q->arg) / sizeof(q->arg[0]))
        return fail(msg, -EINVAL, "Too many query arguments.");
    q->arg[q->narg++] = (struct volj_list_arg){name, value};
    return 0;
}

static int sort_key_add(struct volj_list_query *q, const char *key, size_t klen, bool desc,
                        char *msg)
{
    const char *const *keys = q->kind == VOLJ_LIST_VOLUMES ? volume_sort_keys : snapshot_sort_keys;

    if (klen == 12 && strncmp(key, "display_name", 12) == 0) {
        key = "name";
        klen = 4;
    }
    for (size_t i = 0; keys[i]; i++) {
        if (strlen(keys[i]) == klen && strncmp(keys[i], key, klen) == 0) {
            if (q->nsort >= VOLJ_SORT_MAX)
                return fail(msg, -EINVAL, "Too many sort keys.");
            q->sort[q->nsort++] = (struct volj_list_sort){keys[i], desc};
            return 0;
        }
    }
    return fail(msg, -EINVAL, "Invalid input received: Invalid sort key %.*s.",
                (int)(klen > 64 ? 64 : klen), key);
}

static int dir_parse(const char *d, size_t len, bool *desc, char *msg)
{
    if (len == 4 && strncasecmp(d, "desc", 4) == 0)
        *desc = true;
    else if (len == 3 && strncasecmp(d, "asc", 3) == 0)
        *desc = false;
    else
        return fail(msg, -EINVAL,
                    "Invalid input received: Unknown sort direction, must be "
                    "'desc' or 'asc'.");
    return 0;
}

/* The next comma-separated item of *s, spaces trimmed. */
static bool next_item(const char **s, const char **item, size_t *len)
{
    const char *p = *s, *end;

    if (!p)
        return false;
    end = strchr(p, ',');
    *s = end ? end + 1 : NULL;
    if (!end)
        end = p + strlen(p);
    while (p < end && *p == ' ')
        p++;
    while (end > p && end[-1] == ' ')
        end--;
    *item = p;
    *len = (size_t)(end - p);
    return true;
}

/* sort=k1:d1,k2 (dir defaults to desc), or sort_key=k1,k2 & sort_dir=d1,d2. */
static int sort_parse(const char *sort, const char *keys, const char *dirs,
                      struct volj_list_query *q, char *msg)
{
    const char *item, *colon;
    size_t len;
    bool desc;
    int rc;

    if (sort && (keys || dirs))
        return fail(msg, -EINVAL,
                    "Invalid input received: The 'sort_key' and 'sort_dir' "
                    "parameters are deprecated and cannot be used with the 'sort' "
                    "parameter.");
    while (sort && next_item(&sort, &item, &len)) {
        colon = memchr(item, ':', len);
        desc = true;
        if (colon && (rc = dir_parse(colon + 1, len - (size_t)(colon + 1 - item), &desc, msg)) < 0)
            return rc;
        if ((rc = sort_key_add(q, item, colon ? (size_t)(colon - item) : len, desc, msg)) < 0)
            return rc;
    }
    while (keys && next_item(&keys, &item, &len)) {
        const char *d;
        size_t dlen;
        desc = true;
        if (next_item(&dirs, &d, &dlen) && (rc = dir_parse(d, dlen, &desc, msg)) < 0)
            return rc;
        if ((rc = sort_key_add(q, item, len, desc, msg)) < 0)
            return rc;
    }
    if (!keys && dirs && next_item(&dirs, &item, &len)) {
        /* A direction alone applies to the default keys. */
        if ((rc = dir_parse(item, len, &desc, msg)) < 0)
            return rc;
        q->sort[q->nsort++] = (struct volj_list_sort){"created_at", desc};
    }
    return 0;
}

/* Tie-breaks: created_at then id, in the first key's direction. */
static void sort_finish(struct volj_list_query *q)
{
    static const char *const ties[] = {"created_at", "id"};
    bool desc = q->nsort ? q->sort[0].desc : true;

    for (size_t t = 0; t < 2; t++) {
        bool have = false;
        for (size_t i = 0; i < q->nsort; i++)
            have = have || strcmp(q->sort[i].key, ties[t]) == 0;
        if (!have)
            q->sort[q->nsort++] = (struct volj_list_sort){ties[t], desc};
    }
}

static int uint_parse(const char *s, const char *name, unsigned *out, char *msg)
{
    unsigned long v;
    char *end;

    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
        return fail(msg, -EINVAL, "Invalid input received: %s param must be an integer.", name);
    v = strtoul(s, &end, 10);
    *out = (unsigned)v;
    return 0;
}

int volj_list_parse(enum volj_list_kind kind, volj_query_fn get, void *arg, unsigned mv,
                    struct volj_list_query *q, char *msg)
{
    const struct list_param *params = kind == VOLJ_LIST_VOLUMES ? volume_params : snapshot_params;
    struct volj_list_query x = {.kind = kind, .limit = VOLJ_LIMIT_MAX};
    const char *v, *sort, *keys, *dirs;
    bool b;
    int rc = 0;

    for (const struct list_param *p = params; rc == 0 && p->name; p++) {
        if (!(v = get(arg, p->name, 0)))
            continue;
        if (strcmp(p->name, "bootable") == 0 && volj_bool_parse(v, &b) < 0)
            rc = fail(msg, -EINVAL, "Invalid input received: bootable must be a boolean.");
        else if (x.nfilter >= VOLJ_FILTERS_MAX)
            rc = fail(msg, -EINVAL, "Too many filters.");
        else
            x.filter[x.nfilter++] = (struct volj_list_filter){p->field, v, p->service};
        if (rc == 0)
            rc = arg_add(&x, p->name, v, msg);
    }
    if (rc == 0 && (v = get(arg, "metadata", 0)) &&
        (rc = volj_metadata_query(v, &x.metadata, msg)) == 0)
        rc = arg_add(&x, "metadata", v, msg);
    if (rc == 0 && (v = get(arg, "all_tenants", 0))) {
        /* Cinder takes any value but a false word as asking for all. */
        x.all_tenants = volj_bool_parse(v, &b) < 0 || b;
        rc = arg_add(&x, "all_tenants", v, msg);
    }
    if (rc == 0 && mv >= 45 && (v = get(arg, "with_count", 0))) {
        if (volj_bool_parse(v, &x.with_count) < 0)
            rc = fail(msg, -EINVAL, "Invalid input received: with_count must be a boolean.");
        else
            rc = arg_add(&x, "with_count", v, msg);
    }
    if (rc == 0 && (v = get(arg, "limit", 0))) {
        rc = uint_parse(v, "limit", &x.limit, msg);
        x.limit_given = true;
        if (x.limit == 0 || x.limit > VOLJ_LIMIT_MAX)
            x.limit = VOLJ_LIMIT_MAX;
    }
    if (rc == 0 && (v = get(arg, "offset", 0)))
        rc = uint_parse(v, "offset", &x.offset, msg);
    x.marker = get(arg, "marker", 0);
    sort = get(arg, "sort", 0);
    keys = get(arg, "sort_key", 0);
    dirs = get(arg, "sort_dir", 0);
    if (rc == 0)
        rc = sort_parse(sort, keys, dirs, &x, msg);
    for (size_t i = 0; rc == 0 && i < 3; i++) {
        static const char *const names[] = {"sort", "sort_key", "sort_dir"};
        const char *val = i == 0 ? sort : i == 1 ? keys : dirs;
        if (val)
            rc = arg_add(&x, names[i], val, msg);
    }
    if (rc < 0) {
        json_decref(x.metadata);
        return rc;
    }
    sort_finish(&x);
    *q = x;
    return 0;
}

void volj_list_query_clear(struct volj_list_query *q)
{
    if (q) {
        json_decref(q->metadata);
        q->metadata = NULL;
    }
}

/* A quoted string ('...' or "...", an optional u prefix) of a metadata query. */
static int quoted(const char **s, char **out)
{
    const char *p = skip_ws(*s);
    char q, *buf;
    size_t n = 0;

    if (*p == 'u')
        p++;
    if (*p != '\'' && *p != '"')
        return -EINVAL;
    q = *p++;
    if (!(buf = malloc(strlen(p) + 1)))
        return -ENOMEM;
    for (; *p && *p != q; p++) {
        if (*p == '\\' && p[1])
            p++;
        buf[n++] = *p;
    }
    if (*p != q) {
        free(buf);
        return -EINVAL;
    }
    buf[n] = '\0';
    *s = p + 1;
    *out = buf;
    return 0;
}

int volj_metadata_query(const char *text, json_t **out, char *msg)
{
    json_t *md = json_object();
    const char *p = skip_ws(text);
    char *k = NULL, *v = NULL;
    int rc = md ? 0 : -ENOMEM;

    if (rc == 0 && *p != '{')
        rc = -EINVAL;
    else
        p = skip_ws(p + 1);
    while (rc == 0 && *p != '}') {
        if ((rc = quoted(&p, &k)) < 0)
            break;
        p = skip_ws(p);
        if (*p != ':') {
            rc = -EINVAL;
            break;
        }
        p++;
        if ((rc = quoted(&p, &v)) < 0)
            break;
        if (json_object_set_new(md, k, json_string(v)) < 0)
            rc = -EINVAL;
        free(k);
        free(v);
        k = v = NULL;
        p = skip_ws(p);
        if (*p == ',')
            p = skip_ws(p + 1);
        else if (*p != '}')
            rc = -EINVAL;
    }
    if (rc == 0 && *skip_ws(p + 1))
        rc = -EINVAL;
    free(k);
    free(v);
    if (rc < 0) {
        json_decref(md);
        return rc == -ENOMEM ? rc
                             : fail(msg, -EINVAL,
                                    "Invalid input received: metadata must be a dictionary of "
                                    "strings, as metadata={\"key\": \"value\"}.");
    }
    *out = md;
    return 0;
}

/* ---- lists: filtering, sorting, paging ---- */

static bool eq_match(const json_t *field, const char *want)
{
    bool b;

    if (json_is_string(field))
        return strcmp(json_string_value(field), want) == 0;
    if (json_is_integer(field)) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(field));
        return strcmp(buf, want) == 0;
    }
    if (json_is_boolean(field))
        return volj_bool_parse(want, &b) == 0 && b == json_is_true(field);
    return false;
}

bool volj_list_match(const json_t *rec, const struct volj_list_query *q)
{
    const json_t *md = json_object_get(rec, "metadata"), *v;
    const char *k;

    for (size_t i = 0; i < q->nfilter; i++) {
        const struct volj_list_filter *f = &q->filter[i];
        const json_t *field = json_object_get(rec, f->name);
        if (strcmp(f->name, "volume_type") == 0) {
            /* by the type's name or id ("default": the default type) */
            const char *t = json_string_value(field);
            const char *tid = st_json_str(rec, "volume_type_id");
            if (!t || !*t)
                t = VOLJ_DEFAULT_TYPE_NAME;
            if (!tid)
                tid = VOLJ_DEFAULT_TYPE_ID;
            if (strcmp(t, f->value) != 0 && strcasecmp(tid, f->value) != 0 &&
                !(strcmp(f->value, "default") == 0 && strcmp(tid, VOLJ_DEFAULT_TYPE_ID) == 0))
                return false;
        } else if (strcmp(f->name, "bootable") == 0) {
            bool want = false;
            volj_bool_parse(f->value, &want);
            if (json_is_true(field) != want)
                return false;
        } else if (!eq_match(field, f->value)) {
            return false;
        }
    }
    json_object_foreach(q->metadata, k, v)
    {
        if (!json_equal(json_object_get(md, k), v))
            return false;
    }
    return true;
}

void volj_list_filter(json_t *recs, const struct volj_list_query *q)
{
    for (size_t i = json_array_size(recs); i > 0; i--) {
        if (!volj_list_match(json_array_get(recs, i - 1), q))
            json_array_remove(recs, i - 1);
    }
}

/* null < booleans < numbers < strings. */
static int value_rank(const json_t *v)
{
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v))
        return 1;
    if (json_is_number(v))
        return 2;
    return 3;
}

static int value_cmp(const json_t *a, const json_t *b)
{
    int ra = value_rank(a), rb = value_rank(b);

    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case 1:
        return json_is_true(a) - json_is_true(b);
    case 2: {
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y;
    }
    case 3:
        if (json_is_string(a) && json_is_string(b))
            return strcmp(json_string_value(a), json_string_value(b));
        return 0;
    default:
        return 0;
    }
}

static int rec_cmp(const json_t *a, const json_t *b, const struct volj_list_query *q)
{
    for (size_t i = 0; i < q->nsort; i++) {
        const char *k = q->sort[i].key;
        int c;
        if (strcmp(k, "project_id") == 0) {
            const char *pa = record_project(a), *pb = record_project(b);
            c = strcmp(pa ? pa : "", pb ? pb : "");
        } else {
            c = value_cmp(json_object_get(a, k), json_object_get(b, k));
        }
        if (c)
            return q->sort[i].desc ? -c : c;
    }
    return 0;
}

static int rec_qsort_cmp(const void *a, const void *b, void *q)
{
    return rec_cmp(*(json_t *const *)a, *(json_t *const *)b, q);
}

static int recs_sort(json_t *recs, const struct volj_list_query *q)
{
    size_t n = json_array_size(recs);
    json_t **v = n ? calloc(n, sizeof(*v)) : NULL;

    if (n == 0)
        return 0;
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(recs, i));
    qsort_r(v, n, sizeof(*v), rec_qsort_cmp, (void *)q);
    for (size_t i = 0; i < n; i++)
        json_array_set_new(recs, i, v[i]);
    free(v);
    return 0;
}

int volj_list_page(json_t *recs, const struct volj_list_query *q, const json_t *marker_rec,
                   json_t **page, bool *more)
{
    size_t n = json_array_size(recs), start = 0, end, i;
    json_t *out;

    if (recs_sort(recs, q) < 0)
        return -ENOMEM;
    if (q->marker) {
        for (i = 0; i < n; i++) {
            const char *id = st_json_str(json_array_get(recs, i), "id");
            if (id && strcmp(id, q->marker) == 0)
                break;
        }
        if (i < n) {
            start = i + 1;
        } else if (marker_rec) {
            for (start = 0; start < n && rec_cmp(json_array_get(recs, start), marker_rec, q) <= 0;
                 start++)
                ;
        } else {
            return -ENOENT;
        }
    }
    start = q->offset > n - start ? n : start + q->offset;
    end = n - start > q->limit ? start + q->limit : n;
    if (!(out = json_array()))
        return -ENOMEM;
    for (i = start; i < end; i++) {
        if (json_array_append(out, json_array_get(recs, i)) < 0) {
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

static char *next_link(const struct volj_list_query *q, const struct volj_ctx *c, bool detail,
                       const char *marker)
{
    const char *coll = q->kind == VOLJ_LIST_VOLUMES ? "volumes" : "snapshots";
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    fprintf(f, "%s/v3/%s/%s%s?", c->base_url, c->project_id, coll, detail ? "/detail" : "");
    for (size_t i = 0; i < q->narg; i++) {
        url_encode(f, q->arg[i].name);
        fputc('=', f);
        url_encode(f, q->arg[i].value);
        fputc('&', f);
    }
    if (q->limit_given)
        fprintf(f, "limit=%u&", q->limit);
    fputs("marker=", f);
    url_encode(f, marker);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

json_t *volj_list_body(json_t *views, const struct volj_list_query *q, const struct volj_ctx *c,
                       bool detail, const char *next_marker, size_t count)
{
    const char *coll = q->kind == VOLJ_LIST_VOLUMES ? "volumes" : "snapshots";
    char links[32], *next = next_marker ? next_link(q, c, detail, next_marker) : NULL;
    json_t *body = json_object();
    bool ok = body && views && (!next_marker || next);

    snprintf(links, sizeof(links), "%s_links", coll);
    ok = ok && json_object_set(body, coll, views) == 0;
    if (ok && q->with_count)
        ok = json_object_set_new(body, "count", json_integer((json_int_t)count)) == 0;
    if (ok && next)
        ok = json_object_set_new(body, links,
                                 json_pack("[{s:s,s:s}]", "href", next, "rel", "next")) == 0;
    json_decref(views);
    free(next);
    if (!ok) {
        json_decref(body);
        return NULL;
    }
    return body;
}
