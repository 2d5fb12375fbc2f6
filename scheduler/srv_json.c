/* srv_json.c — create-request checks and reply views of the compute API, in
 * Nova v2.1's shapes and names.  Every message names the field that is wrong. */
#include "srv_json.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "strata/strutil.h"

#define GIB_MAX 65536

#define bad(msg, ...) st_msgf((msg), SJ_MSG_MAX, -EINVAL, __VA_ARGS__)

static bool name_ok(const char *s)
{
    return s && st_utf8_len(s) >= 1 && st_utf8_len(s) <= 255 && strspn(s, " ") != strlen(s);
}

/* A uuid or NULL for a member that may be absent; -EINVAL if present and bad. */
static int opt_uuid(const json_t *o, const char *k, const char **out, char *msg)
{
    const json_t *v = json_object_get(o, k);

    *out = NULL;
    if (!v || json_is_null(v) || (json_is_string(v) && !json_string_value(v)[0]))
        return 0;
    if (!st_is_uuid(json_string_value(v)))
        return bad(msg, "Invalid %s: '%s' must be a UUID", k, k);
    *out = json_string_value(v);
    return 0;
}

static int parse_bdm(const json_t *list, struct sj_create *c, char *msg)
{
    const json_t *b, *boot = NULL;
    size_t i;

    if (!json_is_array(list))
        return bad(msg, "Invalid input: '%s' must be a list", "block_device_mapping_v2");
    json_array_foreach(list, i, b) {
        if (!json_is_object(b))
            return bad(msg, "Invalid input: block_device_mapping_v2[%zu] must be an object", i);
        const json_t *bi = json_object_get(b, "boot_index");
        long idx = json_is_integer(bi) ? (long)json_integer_value(bi)
                   : json_is_string(bi) ? strtol(json_string_value(bi), NULL, 10) : -1;
        if (idx == 0) {
            if (boot)
                return bad(msg, "Invalid input: only one block device may have boot_index 0");
            boot = b;
        } else {
            return bad(msg, "Block device mapping %zu is not supported: Strata boots from one "
                            "volume (boot_index 0); attach other volumes after the boot", i);
        }
    }
    if (!boot)
        return bad(msg, "Invalid input: block_device_mapping_v2 needs a boot_index 0 device");
    const char *src = st_json_str(boot, "source_type"), *dst = st_json_str(boot, "destination_type");
    if (!src || (strcmp(src, "volume") != 0 && strcmp(src, "image") != 0))
        return bad(msg, "Invalid source_type '%s': volume or image", src ? src : "");
    if (dst && strcmp(dst, "volume") != 0)
        return bad(msg, "Invalid destination_type '%s': Strata boots from volume destinations "
                        "(or imageRef for a copy-on-write root disk)", dst);
    if (!st_is_uuid(st_json_str(boot, "uuid")))
        return bad(msg, "Invalid input: block_device_mapping_v2 'uuid' must be a UUID");
    c->bdm_source = src;
    c->bdm_uuid = st_json_str(boot, "uuid");
    const json_t *sz = json_object_get(boot, "volume_size");
    if (strcmp(src, "image") == 0) {
        int64_t n = json_is_integer(sz) ? json_integer_value(sz)
                    : json_is_string(sz) ? strtoll(json_string_value(sz), NULL, 10) : 0;
        if (n < 1 || n > GIB_MAX)
            return bad(msg, "Invalid input: volume_size must be 1 to %d GiB for an image "
                            "source", GIB_MAX);
        c->bdm_size_gb = n;
    }
    const json_t *dot = json_object_get(boot, "delete_on_termination");
    if (dot && !json_is_boolean(dot) && !json_is_null(dot))
        return bad(msg, "Invalid input: delete_on_termination must be a boolean");
    c->bdm_delete = json_is_true(dot);
    return 0;
}

int sj_parse_create(const json_t *body, struct sj_create *c, char *msg)
{
    const json_t *s = json_object_get(body, "server");
    const json_t *hints = json_object_get(body, "os:scheduler_hints");
    int rc;

    memset(c, 0, sizeof(*c));
    if (!json_is_object(s))
        return bad(msg, "Invalid input: the body must be {\"server\": {...}}");
    c->name = st_json_str(s, "name");
    if (!name_ok(c->name))
        return bad(msg, "Invalid input: 'name' must be a string of 1 to 255 characters");
    const json_t *fr = json_object_get(s, "flavorRef");
    if (json_is_integer(fr))
        return bad(msg, "Invalid input: 'flavorRef' must be a string (the flavor id)");
    c->flavor_ref = st_json_str(s, "flavorRef");
    if (!c->flavor_ref || !c->flavor_ref[0] || strlen(c->flavor_ref) > 255)
        return bad(msg, "Invalid input: 'flavorRef' is required");
    if ((rc = opt_uuid(s, "imageRef", &c->image_id, msg)) < 0)
        return rc;
    const json_t *az = json_object_get(s, "availability_zone");
    if (az && !json_is_null(az) && (!json_is_string(az) || strlen(json_string_value(az)) > 255))
        return bad(msg, "Invalid input: 'availability_zone' must be a string");
    c->zone = json_is_string(az) && json_string_value(az)[0] ? json_string_value(az) : NULL;
    const json_t *md = json_object_get(s, "metadata");
    if (md && !json_is_object(md))
        return bad(msg, "Invalid input: 'metadata' must be an object of strings");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)md, k, v)
        if (!json_is_string(v) || strlen(k) > 255 || strlen(json_string_value(v)) > 255)
            return bad(msg, "Invalid input: metadata '%s' must be a string of at most 255", k);
    c->metadata = md;
    const json_t *bdm = json_object_get(s, "block_device_mapping_v2");
    if (bdm && (rc = parse_bdm(bdm, c, msg)) < 0)
        return rc;
    if (!bdm && json_object_get(s, "block_device_mapping"))
        return bad(msg, "block_device_mapping (v1) is not supported: use "
                        "block_device_mapping_v2");
    if (c->bdm_source && c->image_id && strcmp(c->bdm_source, "volume") == 0)
        return bad(msg, "Invalid input: give imageRef or a boot volume, not both");
    if (!c->image_id && !c->bdm_source)
        return bad(msg, "Invalid input: imageRef or block_device_mapping_v2 is required");
    if (c->bdm_source && strcmp(c->bdm_source, "image") == 0)
        c->image_id = NULL;   /* the image is the volume's source, not the root's */
    const json_t *n = json_object_get(s, "min_count"), *x = json_object_get(s, "max_count");
    if ((n && json_integer_value(n) != 1 && !(json_is_string(n) && !strcmp(json_string_value(n), "1"))) ||
        (x && json_integer_value(x) != 1 && !(json_is_string(x) && !strcmp(json_string_value(x), "1"))))
        return bad(msg, "Invalid input: min_count and max_count must be 1 (one server per "
                        "request)");
    if (hints && !json_is_object(hints))
        return bad(msg, "Invalid input: os:scheduler_hints must be an object");
    if (hints && (rc = opt_uuid(hints, "group", &c->group_id, msg)) < 0)
        return rc;
    return 0;
}

json_t *sj_new_record(const struct sj_create *c, const char *id, const json_t *flavor,
                      const char *project_id, const char *user_id, int64_t now_ms)
{
    char now[32];
    json_t *bv = json_null();

    st_time_iso(now_ms, now, sizeof(now));
    if (c->bdm_source)
        bv = json_pack("{s:s, s:s*, s:s*, s:I, s:b, s:n}", "source", c->bdm_source, "volume_id",
                       strcmp(c->bdm_source, "volume") == 0 ? c->bdm_uuid : NULL, "image_id",
                       strcmp(c->bdm_source, "image") == 0 ? c->bdm_uuid : NULL, "size_gb",
                       (json_int_t)c->bdm_size_gb, "delete_on_termination", c->bdm_delete,
                       "attachment_id");
    return json_pack("{s:s, s:s, s:s, s:s, s:O, s:s*, s:o, s:s*, s:s*, s:o, s:s, s:s, s:n, "
                     "s:[], s:n, s:[], s:s, s:s, s:n, s:b}",
                     "id", id, "name", c->name, "project_id", project_id, "user_id", user_id,
                     "flavor", flavor, "image_id", c->image_id, "boot_volume", bv, "zone",
                     c->zone, "group_id", c->group_id, "metadata",
                     c->metadata ? json_deep_copy(c->metadata) : json_object(), "vm_state",
                     SV_BUILDING,
                     "task_state", "scheduling", "host", "attempts", "fault", "volumes",
                     "created_at", now, "updated_at", now, "launched_at", "deleting", 0);
}

static const char *rs(const json_t *o, const char *k)
{
    const char *v = st_json_str(o, k);
    return v ? v : "";
}

const char *sj_status(const json_t *rec, const json_t *guest)
{
    const char *vm = rs(rec, "vm_state"), *g = rs(guest, "status"), *t = rs(guest, "task_state");

    if (strcmp(vm, SV_BUILDING) == 0)
        return "BUILD";
    if (strcmp(vm, SV_ERROR) == 0)
        return "ERROR";
    if (!guest)
        return json_is_true(json_object_get(rec, "deleting")) ? "ACTIVE" : "UNKNOWN";
    if (strcmp(g, "error") == 0)
        return "ERROR";
    if (strcmp(t, "rebooting") == 0)
        return json_is_string(json_object_get(json_object_get(guest, "_s"), "reboot")) &&
                       strcmp(rs(json_object_get(guest, "_s"), "reboot"), "hard") == 0
                   ? "HARD_REBOOT"
                   : "REBOOT";
    if (strcmp(g, "stopped") == 0)
        return "SHUTOFF";
    if (strcmp(g, "building") == 0)
        return "BUILD";
    return "ACTIVE";
}

static int power_code(const char *ps)
{
    static const struct { const char *name; int code; } map[] = {
        { "running", 1 }, { "paused", 3 }, { "shutdown", 4 }, { "shutoff", 4 },
        { "crashed", 6 }, { "pmsuspended", 7 },
    };
    for (size_t i = 0; ps && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(ps, map[i].name) == 0)
            return map[i].code;
    return 0;
}

/* Nova's hostId: sha224(project_id + host), hex; "" before a host. */
static void host_id(const char *project, const char *host, char out[57])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char buf[256];

    out[0] = '\0';
    if (!host || !*host)
        return;
    snprintf(buf, sizeof(buf), "%s%s", project, host);
    if (!EVP_Digest(buf, strlen(buf), md, &n, EVP_sha224(), NULL))
        return;
    for (unsigned i = 0; i < n && i < 28; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static json_t *links(const char *base, const char *coll, const char *id)
{
    char self[512], bm[512];

    snprintf(self, sizeof(self), "%s/v2.1/%s/%s", base, coll, id);
    snprintf(bm, sizeof(bm), "%s/%s/%s", base, coll, id);
    return json_pack("[{s:s, s:s}, {s:s, s:s}]", "rel", "self", "href", self, "rel", "bookmark",
                     "href", bm);
}

json_t *sj_server_brief(const json_t *rec, const char *base)
{
    return json_pack("{s:s, s:s, s:o}", "id", rs(rec, "id"), "name", rs(rec, "name"), "links",
                     links(base, "servers", rs(rec, "id")));
}

static const char *task_state(const json_t *rec, const json_t *guest)
{
    if (json_is_true(json_object_get(rec, "deleting")))
        return "deleting";
    if (strcmp(rs(rec, "vm_state"), SV_ACTIVE) == 0)
        return st_json_str(guest, "task_state");
    return st_json_str(rec, "task_state");
}

static const char *vm_state(const json_t *rec, const json_t *guest)
{
    const char *st = sj_status(rec, guest);

    return strcmp(st, "SHUTOFF") == 0 ? "stopped"
           : strcmp(st, "ERROR") == 0 ? "error"
           : strcmp(st, "BUILD") == 0 ? "building"
                                      : "active";
}

json_t *sj_server_view(const json_t *rec, const json_t *guest, const char *base, bool admin)
{
    const char *id = rs(rec, "id"), *host = st_json_str(rec, "host");
    const json_t *flavor = json_object_get(rec, "flavor"), *fault;
    const char *image = st_json_str(rec, "image_id");
    char hid[57], name[64];
    json_t *v, *vols = json_array(), *vol;
    size_t i;

    host_id(rs(rec, "project_id"), host, hid);
    json_array_foreach(json_object_get(rec, "volumes"), i, vol)
        json_array_append_new(vols, json_pack("{s:s, s:b}", "id", rs(vol, "volume_id"),
                                              "delete_on_termination", 0));
    const json_t *bv = json_object_get(rec, "boot_volume");
    if (st_json_str(bv, "volume_id"))
        json_array_insert_new(vols, 0, json_pack("{s:s, s:b}", "id", rs(bv, "volume_id"),
                                                 "delete_on_termination",
                                                 json_is_true(json_object_get(
                                                     bv, "delete_on_termination"))));
    v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:o, s:{s:s, s:o}, s:s, s:s, s:{}, "
                  "s:s, s:s, s:o, s:s, s:i, s:s*, s:s, s:n, s:s*, s:n, s:s*, s:i, s:s, s:o, "
                  "s:[{s:s}]}",
                  "id", id, "name", rs(rec, "name"), "status", sj_status(rec, guest),
                  "tenant_id", rs(rec, "project_id"), "user_id", rs(rec, "user_id"), "metadata",
                  json_object_get(rec, "metadata"), "hostId", hid, "image",
                  image ? json_pack("{s:s, s:o}", "id", image, "links",
                                    links(base, "images", image))
                        : json_string(""),
                  "flavor", "id", rs(flavor, "id"), "links", links(base, "flavors", rs(flavor, "id")),
                  "created", rs(rec, "created_at"), "updated", rs(rec, "updated_at"),
                  "addresses", "accessIPv4", "", "accessIPv6", "", "links",
                  links(base, "servers", id), "OS-DCF:diskConfig", "MANUAL", "progress", 0,
                  "OS-EXT-AZ:availability_zone", st_json_str(rec, "zone_placed"),
                  "config_drive", "", "key_name", "OS-SRV-USG:launched_at",
                  st_json_str(rec, "launched_at"), "OS-SRV-USG:terminated_at",
                  "OS-EXT-STS:task_state", task_state(rec, guest), "OS-EXT-STS:power_state",
                  power_code(st_json_str(guest, "power_state")), "OS-EXT-STS:vm_state",
                  vm_state(rec, guest), "os-extended-volumes:volumes_attached", vols,
                  "security_groups", "name", "default");
    if (!v)
        return NULL;
    if (strcmp(sj_status(rec, guest), "ERROR") == 0) {
        fault = json_object_get(rec, "fault");
        if (!json_is_object(fault))
            fault = json_object_get(guest, "fault");
        json_object_set_new(v, "fault",
                            json_pack("{s:i, s:s, s:s}", "code", 500, "message",
                                      json_is_object(fault) ? rs(fault, "message")
                                                            : "the server failed",
                                      "created", json_is_object(fault) && st_json_str(fault, "created")
                                                     ? rs(fault, "created")
                                                     : rs(rec, "updated_at")));
    }
    if (admin) {
        snprintf(name, sizeof(name), "strata-%s", id);
        json_object_set_new(v, "OS-EXT-SRV-ATTR:host", host ? json_string(host) : json_null());
        json_object_set_new(v, "OS-EXT-SRV-ATTR:hypervisor_hostname",
                            host ? json_string(host) : json_null());
        json_object_set_new(v, "OS-EXT-SRV-ATTR:instance_name", json_string(name));
    }
    return v;
}

/* ---- flavors ---- */

static int flavor_int(const json_t *f, const char *k, int64_t lo, int64_t hi, bool need,
                      int64_t *out, char *msg)
{
    const json_t *v = json_object_get(f, k);

    if (!v && !need) {
        *out = 0;
        return 0;
    }
    if (json_is_string(v)) {
        char *end = NULL;
        long long n = strtoll(json_string_value(v), &end, 10);
        if (end && !*end && end != json_string_value(v)) {
            *out = n;
            goto range;
        }
    }
    if (!json_is_integer(v))
        return bad(msg, "Invalid input: flavor '%s' must be an integer", k);
    *out = json_integer_value(v);
range:
    if (*out < lo || *out > hi)
        return bad(msg, "Invalid input: flavor '%s' must be between %lld and %lld", k,
                   (long long)lo, (long long)hi);
    return 0;
}

int sj_parse_flavor(const json_t *body, json_t **rec, char *msg)
{
    const json_t *f = json_object_get(body, "flavor");
    int64_t ram, vcpus, disk, eph, swap;
    int rc;

    if (!json_is_object(f))
        return bad(msg, "Invalid input: the body must be {\"flavor\": {...}}");
    const char *name = st_json_str(f, "name"), *id = st_json_str(f, "id");
    if (!name_ok(name))
        return bad(msg, "Invalid input: flavor 'name' must be a string of 1 to 255 characters");
    if (json_object_get(f, "id") && !json_is_null(json_object_get(f, "id")) &&
        (!id || !*id || strlen(id) > 255 || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != strlen(id)))
        return bad(msg, "Invalid input: flavor 'id' must be letters, digits, '-', '_' or '.'");
    if ((rc = flavor_int(f, "ram", 1, 1LL << 32, true, &ram, msg)) < 0 ||
        (rc = flavor_int(f, "vcpus", 1, 4096, true, &vcpus, msg)) < 0 ||
        (rc = flavor_int(f, "disk", 0, GIB_MAX, true, &disk, msg)) < 0 ||
        (rc = flavor_int(f, "OS-FLV-EXT-DATA:ephemeral", 0, 0, false, &eph, msg)) < 0)
        return rc;
    const json_t *sw = json_object_get(f, "swap");
    if (sw && !(json_is_string(sw) && !json_string_value(sw)[0]) &&
        (rc = flavor_int(f, "swap", 0, 0, false, &swap, msg)) < 0)
        return bad(msg, "Invalid input: flavor 'swap' must be 0: Strata has no swap disks");
    const json_t *pub = json_object_get(f, "os-flavor-access:is_public");
    if (pub && !json_is_boolean(pub))
        return bad(msg, "Invalid input: 'os-flavor-access:is_public' must be a boolean");
    const json_t *desc = json_object_get(f, "description");
    if (desc && !json_is_null(desc) && !json_is_string(desc))
        return bad(msg, "Invalid input: flavor 'description' must be a string");
    *rec = json_pack("{s:s*, s:s, s:I, s:I, s:I, s:b, s:O*}", "id", id, "name", name, "ram",
                     (json_int_t)ram, "vcpus", (json_int_t)vcpus, "disk", (json_int_t)disk,
                     "is_public", pub ? json_is_true(pub) : 1, "description",
                     json_is_string(desc) ? desc : NULL);
    return *rec ? 0 : -ENOMEM;
}

json_t *sj_flavor_view(const json_t *rec, const char *base, bool detail)
{
    const char *id = rs(rec, "id");
    json_t *v = json_pack("{s:s, s:s, s:o}", "id", id, "name", rs(rec, "name"), "links",
                          links(base, "flavors", id));

    if (v && detail) {
        json_object_set(v, "ram", json_object_get(rec, "ram"));
        json_object_set(v, "vcpus", json_object_get(rec, "vcpus"));
        json_object_set(v, "disk", json_object_get(rec, "disk"));
        json_object_set_new(v, "OS-FLV-EXT-DATA:ephemeral", json_integer(0));
        json_object_set_new(v, "swap", json_string(""));
        json_object_set_new(v, "rxtx_factor", json_real(1.0));
        json_object_set_new(v, "os-flavor-access:is_public",
                            json_boolean(!json_is_false(json_object_get(rec, "is_public"))));
        json_object_set_new(v, "OS-FLV-DISABLED:disabled", json_false());
    }
    return v;
}

/* ---- server groups ---- */

int sj_parse_group(const json_t *body, const char *project_id, const char *user_id,
                   json_t **rec, char *msg)
{
    static const char *const policies[] = { "affinity", "anti-affinity", "soft-affinity",
                                            "soft-anti-affinity", NULL };
    const json_t *g = json_object_get(body, "server_group"), *ps;
    const char *policy = NULL;

    if (!json_is_object(g))
        return bad(msg, "Invalid input: the body must be {\"server_group\": {...}}");
    if (!name_ok(st_json_str(g, "name")))
        return bad(msg, "Invalid input: server group 'name' must be 1 to 255 characters");
    ps = json_object_get(g, "policies");
    if (ps) {
        if (!json_is_array(ps) || json_array_size(ps) != 1)
            return bad(msg, "Invalid input: 'policies' must be a list of one policy");
        policy = json_string_value(json_array_get(ps, 0));
    } else {
        policy = st_json_str(g, "policy");
    }
    if (!policy || !st_in_list(policies, policy))
        return bad(msg, "Invalid input: policy must be affinity, anti-affinity, soft-affinity "
                        "or soft-anti-affinity");
    *rec = json_pack("{s:s, s:s, s:s, s:s, s:[]}", "name", st_json_str(g, "name"), "policy",
                     policy, "project_id", project_id, "user_id", user_id, "members");
    return *rec ? 0 : -ENOMEM;
}

json_t *sj_group_view(const json_t *rec)
{
    return json_pack("{s:s, s:s, s:[s], s:s, s:O, s:{}, s:s, s:s}", "id", rs(rec, "id"), "name",
                     rs(rec, "name"), "policies", rs(rec, "policy"), "policy", rs(rec, "policy"),
                     "members", json_object_get(rec, "members"), "metadata", "project_id",
                     rs(rec, "project_id"), "user_id", rs(rec, "user_id"));
}

json_t *sj_attachment_view(const char *server_id, const json_t *vol)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "id", rs(vol, "volume_id"), "serverId", server_id,
                     "volumeId", rs(vol, "volume_id"), "device", rs(vol, "device"));
}
