/* guest_json.c — request checks and reply views of the agent's servers API.
 * Every message names the field that is wrong. */
#include "guest_json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "domain_xml.h"
#include "strata/strutil.h"

#define GIB_MAX 65536   /* 64 TiB root disks at most */

#define bad(msg, ...) st_msgf((msg), GJ_MSG_MAX, -EINVAL, __VA_ARGS__)

static int int_field(const json_t *o, const char *k, int64_t lo, int64_t hi, int64_t *out,
                     char *msg)
{
    const json_t *v = json_object_get(o, k);

    if (!json_is_integer(v))
        return bad(msg, "'%s' must be an integer", k);
    if (json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(msg, GJ_MSG_MAX, "'%s' must be between %lld and %lld", k, (long long)lo,
                 (long long)hi);
        return -EINVAL;
    }
    *out = json_integer_value(v);
    return 0;
}

static int root_disk(const json_t *rd, json_t **out, char *msg)
{
    const char *image = st_json_str(rd, "image_id"), *vol = st_json_str(rd, "volume_id");
    int64_t size = 0;
    struct dx_disk d;
    int rc;

    if (!json_is_object(rd))
        return bad(msg, "'%s' must be an object", "root_disk");
    if (!!image == !!vol)
        return bad(msg, "'%s' needs exactly one of image_id or volume_id", "root_disk");
    if (image) {
        if (!st_is_uuid(image))
            return bad(msg, "'%s' is not a valid image id", "root_disk.image_id");
        if ((rc = int_field(rd, "size_gb", 1, GIB_MAX, &size, msg)) < 0)
            return rc;
        const json_t *qos = json_object_get(rd, "qos_specs");
        if ((rc = dx_qos_check(qos, msg)) < 0)
            return rc;
        *out = json_pack("{s:s, s:I, s:O*}", "image_id", image, "size_gb", (json_int_t)size,
                         "qos_specs", json_is_object(qos) ? qos : NULL);
        return *out ? 0 : -ENOMEM;
    }
    if (!st_is_uuid(vol))
        return bad(msg, "'%s' is not a valid volume id", "root_disk.volume_id");
    const json_t *ci = json_object_get(rd, "connection_info");
    if ((rc = dx_disk_from_connection_info(ci, &d, msg)) < 0)
        return rc;
    const json_t *dot = json_object_get(rd, "delete_on_termination");
    if (dot && !json_is_boolean(dot))
        return bad(msg, "'%s' must be a boolean", "root_disk.delete_on_termination");
    *out = json_pack("{s:s, s:O, s:b}", "volume_id", vol, "connection_info", ci,
                     "delete_on_termination", json_is_true(dot));
    return *out ? 0 : -ENOMEM;
}

int gj_spawn_req(const json_t *body, struct gj_spawn_req *q, char *msg)
{
    /* {"server": {...}} is accepted too, as Nova clients wrap bodies */
    const json_t *req = json_object_get(body, "server") ? json_object_get(body, "server") : body;
    const json_t *flavor = json_object_get(req, "flavor");
    int rc;

    memset(q, 0, sizeof(*q));
    if (!json_is_object(req))
        return bad(msg, "the body must be a JSON %s", "object");
    q->id = st_json_str(req, "id");
    q->name = st_json_str(req, "name");
    q->project_id = st_json_str(req, "project_id");
    if (!st_is_uuid(q->id))
        return bad(msg, "'%s' must be a UUID", "id");
    if (!q->name || st_utf8_len(q->name) < 1 || st_utf8_len(q->name) > 255)
        return bad(msg, "'%s' must be a string of 1 to 255 characters", "name");
    if (!q->project_id || !*q->project_id || strlen(q->project_id) > 64)
        return bad(msg, "'%s' must be a non-empty string of at most 64 characters", "project_id");
    if (flavor && !json_is_null(flavor) &&
        (!json_is_string(flavor) || strlen(json_string_value(flavor)) > 255))
        return bad(msg, "'%s' must be a string", "flavor");
    q->flavor = json_string_value(flavor);
    if ((rc = int_field(req, "vcpus", 1, 256, &q->vcpus, msg)) < 0 ||
        (rc = int_field(req, "ram_mb", 16, 4 * 1024 * 1024, &q->ram_mb, msg)) < 0 ||
        (rc = root_disk(json_object_get(req, "root_disk"), &q->root_disk, msg)) < 0)
        return rc;
    return 0;
}

void gj_spawn_req_cleanup(struct gj_spawn_req *q)
{
    json_decref(q->root_disk);
    q->root_disk = NULL;
}

int gj_spawn_record(const struct gj_spawn_req *q, const char *host, int64_t now_ms, json_t **rec)
{
    char now[32];

    st_time_iso(now_ms, now, sizeof(now));
    *rec = json_pack("{s:s, s:s, s:s, s:s, s:s*, s:I, s:I, s:s, s:s, s:s, s:s, s:O, s:[], s:n, "
                     "s:s, s:s, s:{}}",
                     "id", q->id, "name", q->name, "project_id", q->project_id, "host", host,
                     "flavor", q->flavor, "vcpus", (json_int_t)q->vcpus, "ram_mb",
                     (json_int_t)q->ram_mb, "status", GS_BUILDING, "task_state", "spawning",
                     "power_state", "nostate", "desired", "running", "root_disk", q->root_disk,
                     "volumes", "fault", "created_at", now, "updated_at", now, "_s");
    return *rec ? 0 : -ENOMEM;
}

/* Whether a record member is the string s (both absent counts as equal). */
static bool same_str(const json_t *o, const char *k, const char *s)
{
    const json_t *v = json_object_get(o, k);

    return s ? json_is_string(v) && strcmp(json_string_value(v), s) == 0 : !v;
}

static bool same_int(const json_t *o, const char *k, int64_t n)
{
    const json_t *v = json_object_get(o, k);

    return json_is_integer(v) && json_integer_value(v) == n;
}

int gj_spawn_matches(const json_t *rec, const struct gj_spawn_req *q)
{
    const json_t *rd = json_object_get(rec, "root_disk");

    return same_str(rec, "project_id", q->project_id) && same_int(rec, "vcpus", q->vcpus) &&
           same_int(rec, "ram_mb", q->ram_mb) &&
           same_str(rd, "image_id", st_json_str(q->root_disk, "image_id")) &&
           same_str(rd, "volume_id", st_json_str(q->root_disk, "volume_id"));
}

static const char *const action_names[] = { "start", "stop", "reboot", "reboot" };

const char *gj_action_name(enum gj_action a)
{
    return action_names[a];
}

int gj_action(const json_t *req, enum gj_action *out, char *msg)
{
    const char *name = st_json_str(req, "action");
    const json_t *arg = NULL;
    const char *type;

    if (!json_is_object(req))
        return bad(msg, "the body must be a JSON %s", "object");
    if (!name) {   /* Nova style: one member named after the action */
        if (json_object_size(req) != 1)
            return bad(msg, "the body must name one action (%s)", "start, stop or reboot");
        void *it = json_object_iter((json_t *)req);
        name = json_object_iter_key(it);
        arg = json_object_iter_value(it);
    } else {
        arg = req;
    }
    if (strcmp(name, "start") == 0 || strcmp(name, "os-start") == 0) {
        *out = GJ_START;
        return 0;
    }
    if (strcmp(name, "stop") == 0 || strcmp(name, "os-stop") == 0) {
        *out = GJ_STOP;
        return 0;
    }
    if (strcmp(name, "reboot") != 0)
        return bad(msg, "unknown action '%s' (start, stop or reboot)", name);
    type = json_is_object(arg) ? st_json_str(arg, "type") : NULL;
    if (!type || strcasecmp(type, "soft") == 0)
        *out = GJ_REBOOT_SOFT;
    else if (strcasecmp(type, "hard") == 0)
        *out = GJ_REBOOT_HARD;
    else
        return bad(msg, "reboot type '%s' must be SOFT or HARD", type);
    return 0;
}

int gj_attach(const json_t *req, struct gj_attach_req *q, char *msg)
{
    struct dx_disk d;

    memset(q, 0, sizeof(*q));
    if (!json_is_object(req))
        return bad(msg, "the body must be a JSON %s", "object");
    q->volume_id = st_json_str(req, "volume_id");
    if (!st_is_uuid(q->volume_id))
        return bad(msg, "'%s' must be a UUID", "volume_id");
    q->connection_info = json_object_get(req, "connection_info");
    return dx_disk_from_connection_info(q->connection_info, &d, msg);
}

int gj_volume_update(const json_t *req, struct gj_volume_update_req *q, char *msg)
{
    int rc;

    memset(q, 0, sizeof(*q));
    if (!json_is_object(req))
        return bad(msg, "the body must be a JSON %s", "object");
    const json_t *qos = json_object_get(req, "qos_specs");
    if (!qos && !json_object_get(req, "size_gb"))
        return bad(msg, "nothing to change: give %s", "qos_specs and/or size_gb");
    if (qos && (rc = dx_qos_check(qos, msg)) < 0)
        return rc;
    q->qos = qos;
    if (json_object_get(req, "size_gb") &&
        (rc = int_field(req, "size_gb", 1, GIB_MAX, &q->size_gb, msg)) < 0)
        return rc;
    return 0;
}

json_t *gj_view(const json_t *rec)
{
    json_t *v = json_deep_copy(rec), *vols;
    size_t i;
    json_t *vol;

    if (!v)
        return NULL;
    json_object_del(v, "_s");
    json_object_del(v, "desired");
    vols = json_object_get(v, "volumes");
    json_array_foreach(vols, i, vol) {
        const char *t = st_json_str(vol, "target");
        char dev[40];
        snprintf(dev, sizeof(dev), "/dev/%s", t ? t : "?");
        json_object_set_new(vol, "device", json_string(dev));
    }
    return v;
}

json_t *gj_list_view(const json_t *recs)
{
    json_t *list = json_array(), *rec;
    size_t i;

    json_array_foreach(recs, i, rec)
    {
        if (json_array_append_new(list, gj_view(rec)) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

json_t *gj_attachment_view(const json_t *vol)
{
    const char *t = st_json_str(vol, "target");
    char dev[40];

    snprintf(dev, sizeof(dev), "/dev/%s", t);
    return json_pack("{s:s, s:s, s:s}", "volume_id", st_json_str(vol, "volume_id"), "target", t,
                     "device", dev);
}

const char *gj_console_tail(const char *text, size_t len, long lines)
{
    const char *p = text + len;

    if (lines <= 0)
        return text;
    if (len > 0 && p[-1] == '\n')   /* the last line's own newline */
        p--;
    while (p > text) {
        if (p[-1] == '\n' && --lines == 0)
            break;
        p--;
    }
    return p;
}
