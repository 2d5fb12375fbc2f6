/* vol_json.c — Cinder v3 JSON for blockd, pure: microversions, and the
 * create/update/action/attachment bodies checked against Cinder's schemas.
 * Views are in vol_json_view.c, list parsing, filtering and paging in
 * vol_json_list.c. */
#include "vol_json_internal.h"

const char *vj_skip_ws(const char *s)
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
        const char *item = vj_skip_ws(p), *comma = strchr(item, ','), *end;
        size_t ilen = comma ? (size_t)(comma - item) : strlen(item);

        p = comma ? comma + 1 : NULL;
        if (ilen > 6 && strncasecmp(item, "volume", 6) == 0 &&
            (item[6] == ' ' || item[6] == '\t')) {
            end = vj_skip_ws(item + 6);
            return version_parse(end, ilen - (size_t)(end - item), minor, msg);
        }
    }
    if (legacy && *vj_skip_ws(legacy))
        return version_parse(vj_skip_ws(legacy), strlen(vj_skip_ws(legacy)), minor, msg);
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
int vj_opt_string(const json_t *obj, const char *name, const char *alias, size_t max,
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

int vj_opt_uuid(const json_t *obj, const char *name, const char **out, char *msg)
{
    int rc = vj_opt_string(obj, name, NULL, 0, out, msg);

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

const json_t *vj_body_member(const json_t *body, const char *name, char *msg)
{
    const json_t *v = json_object_get(body, name);

    if (!json_is_object(v)) {
        fail(msg, -EINVAL, "Missing required element '%s' in request body.", name);
        return NULL;
    }
    return v;
}

int vj_opt_metadata(const json_t *obj, const json_t **out, char *msg)
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
    const json_t *v = vj_body_member(body, "volume", msg), *size;
    struct volj_create c = {0};
    int nsrc, rc;

    if (!v)
        return -EINVAL;
    if ((rc = vj_opt_string(v, "name", "display_name", NAME_MAX_LEN, &c.name, msg)) < 0 ||
        (rc = vj_opt_string(v, "description", "display_description", NAME_MAX_LEN, &c.description,
                         msg)) < 0 ||
        (rc = vj_opt_uuid(v, "snapshot_id", &c.snapshot_id, msg)) < 0 ||
        (rc = vj_opt_uuid(v, "source_volid", &c.source_volid, msg)) < 0 ||
        (rc = vj_opt_string(v, "imageRef", "image_id", NAME_MAX_LEN, &c.image_id, msg)) < 0 ||
        (rc = vj_opt_string(v, "volume_type", NULL, NAME_MAX_LEN, &c.volume_type, msg)) < 0 ||
        (rc = vj_opt_string(v, "availability_zone", NULL, NAME_MAX_LEN, &c.availability_zone, msg)) <
            0 ||
        (rc = vj_opt_metadata(v, &c.metadata, msg)) < 0 || (rc = unsupported_members(v, msg)) < 0)
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
    const json_t *v = vj_body_member(body, what, msg), *x;
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
    if ((rc = vj_opt_string(v, "name", "display_name", NAME_MAX_LEN, &u.name, msg)) < 0 ||
        (rc = vj_opt_string(v, "description", "display_description", NAME_MAX_LEN, &u.description,
                         msg)) < 0 ||
        (st_in_list(allowed, "metadata") && (rc = vj_opt_metadata(v, &u.metadata, msg)) < 0))
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
    const json_t *v = vj_body_member(body, "snapshot", msg), *force;
    struct volj_snap_create c = {0};
    int rc;

    if (!v)
        return -EINVAL;
    if ((rc = vj_opt_uuid(v, "volume_id", &c.volume_id, msg)) < 0 ||
        (rc = vj_opt_string(v, "name", "display_name", NAME_MAX_LEN, &c.name, msg)) < 0 ||
        (rc = vj_opt_string(v, "description", "display_description", NAME_MAX_LEN, &c.description,
                         msg)) < 0 ||
        (rc = vj_opt_metadata(v, &c.metadata, msg)) < 0)
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
    if ((rc = vj_opt_uuid(arg, "instance_uuid", &a->instance_uuid, msg)) < 0 ||
        (rc = vj_opt_string(arg, "mountpoint", NULL, 255, &a->mountpoint, msg)) < 0 ||
        (rc = vj_opt_string(arg, "host_name", NULL, 255, &a->host_name, msg)) < 0 ||
        (rc = vj_opt_string(arg, "mode", NULL, 2, &a->mode, msg)) < 0)
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
    return json_is_object(arg) ? vj_opt_uuid(arg, "attachment_id", &a->attachment_id, msg) : 0;
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
    int rc = json_is_object(arg) ? vj_opt_uuid(arg, "snapshot_id", &a->snapshot_id, msg) : -EINVAL;

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

    if (rc == 0 && (rc = vj_opt_string(arg, "new_type", NULL, NAME_MAX_LEN, &a->new_type, msg)) < 0)
        return rc;
    if (rc < 0 || !a->new_type)
        return fail(msg, -EINVAL,
                    "Invalid input for field/attribute os-retype: 'new_type' is a required "
                    "property.");
    if ((rc = vj_opt_string(arg, "migration_policy", NULL, 16, &a->migration_policy, msg)) < 0)
        return rc;
    if (a->migration_policy && !st_in_list(migration_policies, a->migration_policy))
        return fail(msg, -EINVAL, "Invalid input received: migration_policy must be never or "
                                  "on-demand.");
    return 0;
}

/* A boolean member: JSON true/false or a boolean word ("True"); absent = false. */
int vj_opt_bool(const json_t *obj, const char *name, bool *out, char *msg)
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
    if ((rc = vj_opt_string(arg, "image_name", NULL, NAME_MAX_LEN, &u->image_name, msg)) < 0 ||
        (rc = vj_opt_string(arg, "container_format", NULL, 32, &u->container_format, msg)) < 0 ||
        (rc = vj_opt_string(arg, "disk_format", NULL, 32, &u->disk_format, msg)) < 0 ||
        (rc = vj_opt_string(arg, "visibility", NULL, 16, &u->visibility, msg)) < 0 ||
        (rc = vj_opt_bool(arg, "protected", &u->is_protected, msg)) < 0 ||
        (rc = vj_opt_bool(arg, "force", &u->force, msg)) < 0)
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
    {"os-unmanage", VOLJ_ACT_UNMANAGE, action_plain},
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
    const json_t *v = vj_body_member(body, "attachment", msg);
    struct volj_att_create c = {0};
    int rc;

    if (!v)
        return -EINVAL;
    if ((rc = vj_opt_uuid(v, "volume_uuid", &c.volume_uuid, msg)) < 0 ||
        (rc = vj_opt_uuid(v, "instance_uuid", &c.instance_uuid, msg)) < 0 ||
        (rc = opt_connector(v, &c.connector, msg)) < 0 ||
        (rc = vj_opt_string(v, "mode", NULL, 8, &c.mode, msg)) < 0)
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
    const json_t *v = vj_body_member(body, "attachment", msg), *c = NULL;
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
