/* vol_json_view.c — the volume, snapshot, upload and attachment views:
 * field tables per microversion, admin and extension attribute. */
#include "vol_json_internal.h"

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

static const struct vfield backup_fields[] = {
    {"id", NULL, V_COPY, 0, 0},
    {"name", NULL, V_COPY, 0, 0},
    {"description", NULL, V_COPY, 0, 0},
    {"status", NULL, V_COPY, 0, 0},
    {"fail_reason", NULL, V_COPY, 0, 0},
    {"volume_id", NULL, V_COPY, 0, 0},
    {"snapshot_id", NULL, V_COPY, 0, 0},
    {"size", NULL, V_COPY, 0, 0},
    {"object_count", NULL, V_COPY, 0, 0},
    {"container", NULL, V_COPY, 0, 0},
    {"availability_zone", NULL, V_COPY, 0, 0},
    {"created_at", NULL, V_TIME, 0, 0},
    {"updated_at", NULL, V_TIME, 0, 0},
    {"data_timestamp", NULL, V_TIME, 0, 0},
    {"is_incremental", NULL, V_FALSE, 0, 0},
    {"has_dependent_backups", NULL, V_FALSE, 0, 0},
    {"progress", NULL, V_PROGRESS, 0, 0},   /* Strata's: percent done, or queued */
    {"links", NULL, V_LINKS, 0, 0},
    {"os-backup-project-attr:project_id", NULL, V_PROJECT, 18, 0},
    {"metadata", NULL, V_OBJECT, 43, 0},
    {"user_id", NULL, V_COPY, 56, 0},
    {"encryption_key_id", NULL, V_COPY, 64, 0},
};

const json_t *vj_record_project_json(const json_t *rec)
{
    static const char *const names[] = {"project_id", "os-vol-tenant-attr:tenant_id", "tenant_id",
                                        "owner", NULL};

    for (size_t i = 0; names[i]; i++) {
        const json_t *p = json_object_get(rec, names[i]);
        if (json_is_string(p))
            return p;
    }
    return NULL;
}

const char *vj_record_project(const json_t *rec)
{
    return json_string_value(vj_record_project_json(rec));
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
        type = vj_record_project(rec);
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

json_t *volj_backup_view(const json_t *rec, bool detail, const struct volj_ctx *c)
{
    if (!detail)
        return json_pack("{s:O?,s:O?,s:o}", "id", json_object_get(rec, "id"), "name",
                         json_object_get(rec, "name"), "links", links_view(rec, "backups", c));
    return view(rec, backup_fields, sizeof(backup_fields) / sizeof(backup_fields[0]), "backups",
                true, c);
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
