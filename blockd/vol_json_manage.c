/* vol_json_manage.c — pure Cinder JSON of manage/unmanage and capacity: the
 * manage body, the manageable-volumes list (sorted, paged) and get_pools. */
#include "vol_json_internal.h"

#include <math.h>

#define GIB_F 1073741824.0

static int manage_ref(const json_t *v, struct volj_manage *m, char *msg)
{
    const json_t *ref = json_object_get(v, "ref");
    int rc;

    if (!ref || json_is_null(ref))
        return fail(msg, -EINVAL, "Invalid input for field/attribute volume: 'ref' is a required "
                                  "property.");
    if (!json_is_object(ref))
        return fail(msg, -EINVAL, "Invalid input for field/attribute ref: must be an object "
                                  "naming the image ({\"source-name\": ...}).");
    if ((rc = vj_opt_string(ref, "source-name", NULL, NAME_MAX_LEN, &m->source_name, msg)) < 0 ||
        (rc = vj_opt_string(ref, "source-id", NULL, NAME_MAX_LEN, &m->source_id, msg)) < 0)
        return rc;
    if ((m->source_name && !*m->source_name) || (m->source_id && !*m->source_id))
        return fail(msg, -EINVAL, "Manage existing volume failed due to invalid backend "
                                  "reference: the image name or id is empty.");
    if (!m->source_name == !m->source_id)
        return fail(msg, -EINVAL,
                    "Manage existing volume failed due to invalid backend reference: ref needs "
                    "exactly one of source-name and source-id.");
    return 0;
}

int volj_manage_body(const json_t *body, struct volj_manage *out, char *msg)
{
    const json_t *v = vj_body_member(body, "volume", msg);
    struct volj_manage m = { 0 };
    int rc;

    if (!v)
        return -EINVAL;
    if ((rc = vj_opt_string(v, "host", NULL, NAME_MAX_LEN, &m.host, msg)) < 0 ||
        (rc = manage_ref(v, &m, msg)) < 0 ||
        (rc = vj_opt_string(v, "name", "display_name", NAME_MAX_LEN, &m.name, msg)) < 0 ||
        (rc = vj_opt_string(v, "description", "display_description", NAME_MAX_LEN,
                            &m.description, msg)) < 0 ||
        (rc = vj_opt_string(v, "volume_type", NULL, NAME_MAX_LEN, &m.volume_type, msg)) < 0 ||
        (rc = vj_opt_string(v, "availability_zone", NULL, NAME_MAX_LEN, &m.availability_zone,
                            msg)) < 0 ||
        (rc = vj_opt_bool(v, "bootable", &m.bootable, msg)) < 0 ||
        (rc = vj_opt_metadata(v, &m.metadata, msg)) < 0)
        return rc;
    *out = m;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));

    return strcmp(x ? x : "", y ? y : "");
}

static json_t *manageable_view(const json_t *it, bool detail)
{
    const json_t *reason = json_object_get(it, "reason"), *cid = json_object_get(it, "cinder_id");
    json_int_t bytes = json_integer_value(json_object_get(it, "bytes"));
    json_t *v = json_pack("{s:{s:s}, s:I, s:b}", "reference", "source-name",
                          json_string_value(json_object_get(it, "name")), "size",
                          (json_int_t)(((uint64_t)(bytes > 0 ? bytes : 0) + (1ULL << 30) - 1) >> 30),
                          "safe_to_manage", !json_is_string(reason));

    if (v && detail) {
        json_object_set_new(v, "reason_not_safe", json_is_string(reason) ? json_copy((json_t *)reason)
                                                                         : json_null());
        json_object_set_new(v, "cinder_id", json_is_string(cid) ? json_copy((json_t *)cid)
                                                                : json_null());
        json_object_set_new(v, "extra_info", json_null());
    }
    return v;
}

int volj_manageable_body(const json_t *items, bool detail, const char *marker, unsigned offset,
                         unsigned limit, json_t **out, char *msg)
{
    size_t n = json_array_size(items), start = 0, i;
    json_t **v = calloc(n ? n : 1, sizeof(*v)), *list = json_array();
    int rc = v && list ? 0 : -ENOMEM;

    for (i = 0; rc == 0 && i < n; i++)
        v[i] = json_array_get(items, i);
    if (rc == 0)
        qsort(v, n, sizeof(*v), by_name);
    if (rc == 0 && marker) {
        for (start = 0; start < n; start++)
            if (strcmp(json_string_value(json_object_get(v[start], "name")), marker) == 0)
                break;
        if (start == n)
            rc = fail(msg, -EINVAL, "Invalid marker: no manageable volume %.128s.", marker);
        start++;
    }
    start += offset;
    for (i = start; rc == 0 && i < n && (!limit || i - start < limit); i++) {
        json_t *e = manageable_view(v[i], detail);
        rc = e ? json_array_append_new(list, e) : -ENOMEM;
    }
    free(v);
    if (rc == 0 && !(*out = json_pack("{s:o}", "manageable-volumes", list)))
        return -ENOMEM;
    if (rc < 0)
        json_decref(list);
    return rc;
}

double volj_gib2(int64_t bytes)
{
    return round((double)(bytes > 0 ? bytes : 0) / GIB_F * 100.0) / 100.0;
}

json_t *volj_pools_view(const struct volj_pool_stats *p, bool detail)
{
    json_t *pool = json_pack("{s:s}", "name", p->name);

    if (pool && detail) {
        json_t *caps = json_pack(
            "{s:s, s:f, s:f, s:I, s:I, s:f, s:i, s:b, s:b, s:b, s:b, s:s, s:s, s:s, s:s, s:s, "
            "s:s}",
            "pool_name", p->pool, "total_capacity_gb", volj_gib2(p->stored + p->max_avail),
            "free_capacity_gb", volj_gib2(p->max_avail), "provisioned_capacity_gb",
            (json_int_t)p->provisioned_gb, "allocated_capacity_gb", (json_int_t)p->allocated_gb,
            "max_over_subscription_ratio", p->max_over_subscription_ratio, "reserved_percentage",
            0, "thin_provisioning_support", 1, "thick_provisioning_support", 0, "multiattach", 0,
            "QoS_support", 1, "storage_protocol", "ceph", "vendor_name", "Strata",
            "driver_version", STRATA_VERSION, "volume_backend_name", "strata", "location_info",
            p->location_info, "timestamp", p->timestamp);
        if (!caps || json_object_set_new(pool, "capabilities", caps) < 0) {
            json_decref(pool);
            return NULL;
        }
    }
    return pool ? json_pack("{s:[o]}", "pools", pool) : NULL;
}
