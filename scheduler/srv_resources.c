/* srv_resources.c — the compute API's catalog resources: flavors (the
 * default ones made once; names unique through name claims, strata/nameidx.h),
 * server groups, hypervisors and availability zones. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "srv_internal.h"
#include "srv_service.h"
#include "strata/log.h"
#include "strata/nameidx.h"
#include "strata/strutil.h"
#include "strata/workpool.h"

static const char *rs(const json_t *o, const char *k)
{
    const char *v = st_json_str(o, k);
    return v ? v : "";
}

void srv_new_uuid(char out[37])
{
    uuid_t u;

    uuid_generate_random(u);
    uuid_unparse_lower(u, out);
}

/* ---- flavors ---- */

static const struct st_meta_kind flavor_names = { "flavor_name", NULL };

/* Claim a flavor's name for its id: 0, -EEXIST (another flavor has it). */
static int flavor_claim(struct srv_service *s, const char *name, const char *id)
{
    struct st_name_records recs = { s->meta, &flavor_kind };

    return st_name_claim(s->meta, &flavor_names, "", name, id, st_name_record_alive, &recs,
                         st_now_ms());
}

static bool not_marker(const json_t *data, void *arg)
{
    (void)arg;
    return st_json_str(data, "name") != NULL;
}

int srv_flavor_list(struct srv_service *s, bool detail, const char *base, json_t **out)
{
    struct st_record_list l = { 0 };
    int rc = st_meta_list(s->meta, &flavor_kind, NULL, 0, NULL, 0, not_marker, NULL, &l);

    if (rc < 0)
        return rc;
    *out = json_array();
    for (size_t i = 0; i < l.count; i++) {
        json_object_set_new(l.items[i].data, "id", json_string(l.items[i].id));
        json_array_append_new(*out, sj_flavor_view(l.items[i].data, base, detail));
    }
    st_record_list_cleanup(&l);
    return 0;
}

int srv_flavor_show(struct srv_service *s, const char *id, const char *base, json_t **out)
{
    struct st_record f = { 0 };
    int rc = strcmp(id, SEEDED) == 0 ? -ENOENT : st_meta_get(s->meta, &flavor_kind, id, &f);

    if (rc == 0) {
        json_object_set_new(f.data, "id", json_string(f.id));
        *out = sj_flavor_view(f.data, base, true);
    }
    st_record_cleanup(&f);
    return rc;
}

int srv_flavor_create(struct srv_service *s, const json_t *body, const char *base, json_t **out,
                      char *msg)
{
    json_t *rec = NULL;
    char id[37];
    int rc = sj_parse_flavor(body, &rec, msg);

    if (rc < 0)
        return rc;
    if (st_json_str(rec, "id"))
        snprintf(id, sizeof(id), "%.36s", rs(rec, "id"));
    else
        srv_new_uuid(id);
    json_object_del(rec, "id");
    if (strcmp(id, SEEDED) == 0) {
        json_decref(rec);
        snprintf(msg, SJ_MSG_MAX, "Invalid input: flavor id '%s' is reserved", id);
        return -EINVAL;
    }
    const char *name = rs(rec, "name");
    rc = flavor_claim(s, name, id);
    if (rc == -EEXIST)
        snprintf(msg, SJ_MSG_MAX, "Flavor with name %.128s already exists.", name);
    if (rc == 0 && (rc = st_meta_create(s->meta, &flavor_kind, id, rec, NULL)) < 0)
        st_name_release(s->meta, &flavor_names, "", name, id);
    if (rc == -EEXIST && !msg[0])
        snprintf(msg, SJ_MSG_MAX, "Flavor with ID %s already exists.", id);
    if (rc == 0) {
        json_object_set_new(rec, "id", json_string(id));
        *out = sj_flavor_view(rec, base, true);
    }
    json_decref(rec);
    return rc == -EEXIST ? -EEXIST : rc;
}

int srv_flavor_delete(struct srv_service *s, const char *id)
{
    struct st_record f = { 0 };
    int rc = strcmp(id, SEEDED) == 0 ? -ENOENT : st_meta_get(s->meta, &flavor_kind, id, &f);

    if (rc == 0)
        rc = st_meta_delete(s->meta, &flavor_kind, id, f.version);
    if (rc == 0)
        st_name_release(s->meta, &flavor_names, "", rs(f.data, "name"), id);
    st_record_cleanup(&f);
    return rc;
}

/* Flavors made before names were claimed get their claims (the first of
 * two with one name keeps it). */
static void flavors_claim_names(struct srv_service *s)
{
    struct st_record_list l = { 0 };

    if (st_meta_list(s->meta, &flavor_kind, NULL, 0, NULL, 0, not_marker, NULL, &l) < 0)
        return; /* Ceph trouble: done on the next start */
    for (size_t i = 0; i < l.count; i++) {
        if (flavor_claim(s, rs(l.items[i].data, "name"), l.items[i].id) == -EEXIST)
            st_warn("flavor %s: name %s is another flavor's; rename it", l.items[i].id,
                    rs(l.items[i].data, "name"));
    }
    st_record_list_cleanup(&l);
}

/* Nova's classic flavors, made once per cloud (an admin may delete them). */
void srv_flavors_seed(struct srv_service *s)
{
    static const struct { const char *id, *name; int vcpus, ram, disk; } defaults[] = {
        { "0", "m1.nano", 1, 256, 1 },    { "1", "m1.tiny", 1, 512, 1 },
        { "2", "m1.small", 1, 2048, 20 }, { "3", "m1.medium", 2, 4096, 40 },
        { "4", "m1.large", 4, 8192, 80 },
    };
    json_t *marker = json_object();
    int rc = st_meta_create(s->meta, &flavor_kind, SEEDED, marker, NULL);

    json_decref(marker);
    if (rc < 0) {
        flavors_claim_names(s);
        return;   /* -EEXIST: seeded before */
    }
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        json_t *f = json_pack("{s:s, s:i, s:i, s:i, s:b}", "name", defaults[i].name, "vcpus",
                              defaults[i].vcpus, "ram", defaults[i].ram, "disk", defaults[i].disk,
                              "is_public", 1);
        if (f && flavor_claim(s, defaults[i].name, defaults[i].id) == 0)
            st_meta_create(s->meta, &flavor_kind, defaults[i].id, f, NULL);
        json_decref(f);
    }
    st_info("default flavors m1.nano .. m1.large created");
}

/* ---- server groups ---- */

static int group_get(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                     struct st_record *g)
{
    int rc = st_meta_get(s->meta, &group_kind, id, g);

    if (rc == 0 && !who->is_admin && strcmp(rs(g->data, "project_id"), who->project_id) != 0) {
        st_record_cleanup(g);
        return -ENOENT;
    }
    if (rc == 0)
        json_object_set_new(g->data, "id", json_string(g->id));
    return rc;
}

static bool project_pred(const json_t *data, void *arg)
{
    return !arg || strcmp(rs(data, "project_id"), arg) == 0;
}

int srv_group_list(struct srv_service *s, const struct st_auth_ctx *who, bool all, json_t **out)
{
    struct st_record_list l = { 0 };
    int rc = st_meta_list(s->meta, &group_kind, NULL, 0, NULL, 0, project_pred,
                          all && who->is_admin ? NULL : (void *)who->project_id, &l);

    if (rc < 0)
        return rc;
    *out = json_array();
    for (size_t i = 0; i < l.count; i++) {
        json_object_set_new(l.items[i].data, "id", json_string(l.items[i].id));
        json_array_append_new(*out, sj_group_view(l.items[i].data));
    }
    st_record_list_cleanup(&l);
    return 0;
}

int srv_group_show(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                   json_t **out)
{
    struct st_record g = { 0 };
    int rc = group_get(s, who, id, &g);

    if (rc == 0)
        *out = sj_group_view(g.data);
    st_record_cleanup(&g);
    return rc;
}

int srv_group_create(struct srv_service *s, const struct st_auth_ctx *who, const json_t *body,
                     json_t **out, char *msg)
{
    json_t *rec = NULL;
    char id[37];
    int rc = sj_parse_group(body, who->project_id, who->user_id, &rec, msg);

    if (rc < 0)
        return rc;
    srv_new_uuid(id);
    if ((rc = st_meta_create(s->meta, &group_kind, id, rec, NULL)) == 0) {
        json_object_set_new(rec, "id", json_string(id));
        *out = sj_group_view(rec);
    }
    json_decref(rec);
    return rc;
}

int srv_group_delete(struct srv_service *s, const struct st_auth_ctx *who, const char *id)
{
    struct st_record g = { 0 };
    int rc = group_get(s, who, id, &g);

    if (rc == 0)
        rc = st_meta_delete(s->meta, &group_kind, id, g.version);
    st_record_cleanup(&g);
    return rc;
}

/* ---- hypervisors and zones ---- */

static json_t *hypervisor_view(const struct pl_host *h, const json_t *recs, bool detail)
{
    const json_t *host = json_object_get(json_object_get(recs, h->name), "host");
    const json_t *usage = json_object_get(json_object_get(recs, h->name), "usage");
    json_t *v = json_pack("{s:s, s:s, s:s, s:s}", "id", h->name, "hypervisor_hostname", h->name,
                          "state", h->up ? "up" : "down", "status", "enabled");

    if (v && detail) {
        json_t *d = json_pack(
            "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:i, s:s, s:{s:s, s:s, s:n}, "
            "s:I, s:I, s:s, s:s, s:O*}",
            "vcpus", (json_int_t)h->vcpus, "memory_mb", (json_int_t)h->ram_mb, "local_gb",
            (json_int_t)h->disk_gb, "vcpus_used", (json_int_t)h->vcpus_used, "memory_mb_used",
            (json_int_t)h->ram_mb_used, "local_gb_used", (json_int_t)h->disk_gb_used,
            "free_ram_mb", (json_int_t)(h->ram_mb - h->ram_mb_used), "free_disk_gb",
            (json_int_t)(h->disk_gb - h->disk_gb_used), "running_vms",
            (json_int_t)json_object_size(json_object_get(usage, "allocations")),
            "hypervisor_type", h->hypervisor[0] ? h->hypervisor : "QEMU", "hypervisor_version", 0,
            "host_ip", rs(host, "agent_url"), "service", "host", h->name, "id", h->name,
            "disabled_reason", "current_workload", (json_int_t)0, "disk_available_least",
            (json_int_t)(h->disk_gb - h->disk_gb_used), "cpu_info", rs(host, "cpu_model"),
            "availability_zone", h->zone, "location", json_object_get(host, "location"));
        if (d) {
            json_object_set_new(d, "recent_build_failures", json_integer(h->failures));
            json_object_update(v, d);
        }
        json_decref(d);
    }
    return v;
}

int srv_hypervisor_list(struct srv_service *s, bool detail, json_t **out)
{
    struct pl_host *h = NULL;
    json_t *recs = NULL;
    size_t n = 0;
    int rc = hosts_load(s, &h, &n, &recs);

    if (rc < 0)
        return rc;
    *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(*out, hypervisor_view(&h[i], recs, detail));
    free(h);
    json_decref(recs);
    return 0;
}

int srv_hypervisor_show(struct srv_service *s, const char *id, json_t **out)
{
    struct pl_host *h = NULL;
    json_t *recs = NULL;
    size_t n = 0;
    int rc = hosts_load(s, &h, &n, &recs);

    if (rc < 0)
        return rc;
    rc = -ENOENT;
    for (size_t i = 0; i < n && rc; i++)
        if (strcmp(h[i].name, id) == 0) {
            *out = hypervisor_view(&h[i], recs, true);
            rc = 0;
        }
    free(h);
    json_decref(recs);
    return rc;
}

int srv_zone_list(struct srv_service *s, bool detail, json_t **out)
{
    struct pl_host *h = NULL;
    size_t n = 0;
    json_t *zones = json_object();
    int rc = hosts_load(s, &h, &n, NULL);

    if (rc < 0) {
        json_decref(zones);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *z = json_object_get(zones, h[i].zone);
        if (!z) {
            z = json_pack("{s:s, s:{s:b}, s:o}", "zoneName", h[i].zone, "zoneState", "available",
                          0, "hosts", detail ? json_object() : json_null());
            json_object_set_new(zones, h[i].zone, z);
        }
        if (h[i].up)
            json_object_set_new(json_object_get(z, "zoneState"), "available", json_true());
        if (detail) {
            char at[32];
            st_time_iso(h[i].heartbeat_ms, at, sizeof(at));
            json_object_set_new(json_object_get(z, "hosts"), h[i].name,
                                json_pack("{s:{s:b, s:b, s:s}}", "nova-compute", "available",
                                          h[i].up, "active", 1, "updated_at", at));
        }
    }
    *out = json_array();
    const char *k;
    json_t *z;
    json_object_foreach(zones, k, z)
        json_array_append(*out, z);
    json_decref(zones);
    free(h);
    return 0;
}
