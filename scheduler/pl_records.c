/* pl_records.c — placement's JSON inputs, pure: host and usage records into a
 * struct pl_host, the usage record's claim arithmetic, and the Ceph facts
 * (pool rule, CRUSH locality target, pool max_avail) from mon command output. */
#include "placement.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strata/ceph_cmd.h"

/* CRUSH hierarchy, widest first: the order of a host's location levels. */
static const char *const crush_types[] = {"region", "zone", "datacenter", "room",    "row",
                                          "pod",    "pdu",  "rack",       "chassis", "host"};
#define NCRUSH_TYPES (sizeof(crush_types) / sizeof(crush_types[0]))

/* Copy s into dst[size]: -EINVAL when it does not fit. */
static int copy_str(char *dst, size_t size, const char *s)
{
    size_t n = strlen(s);

    if (n >= size)
        return -EINVAL;
    memcpy(dst, s, n + 1);
    return 0;
}

/* obj[key] as a string, "" when absent; -EINVAL when present but not a string or too long. */
static int copy_member(char *dst, size_t size, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    if (!v) {
        dst[0] = '\0';
        return 0;
    }
    return json_is_string(v) ? copy_str(dst, size, json_string_value(v)) : -EINVAL;
}

/* obj[key] as a non-negative integer. */
static int get_count(const json_t *obj, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -EINVAL;
    *out = json_integer_value(v);
    return 0;
}

/* obj[key] as a non-negative integer, 0 when absent. */
static int get_count_opt(const json_t *obj, const char *key, int64_t *out)
{
    if (!json_object_get(obj, key)) {
        *out = 0;
        return 0;
    }
    return get_count(obj, key, out);
}

/* ---- usage record ---- */

/* Sums of the allocations of a usage record (NULL = none). */
static int usage_sums(const json_t *usage, int64_t *vcpus, int64_t *ram, int64_t *disk)
{
    const json_t *allocs = usage ? json_object_get(usage, "allocations") : NULL;
    const char *id;
    json_t *a;

    *vcpus = *ram = *disk = 0;
    if (!allocs)
        return 0;
    if (!json_is_object(allocs))
        return -EINVAL;
    json_object_foreach((json_t *)allocs, id, a)
    {
        int64_t v, r, d;
        if (!json_is_object(a) || get_count_opt(a, "vcpus", &v) < 0 ||
            get_count_opt(a, "ram_mb", &r) < 0 || get_count_opt(a, "disk_gb", &d) < 0)
            return -EINVAL;
        *vcpus += v;
        *ram += r;
        *disk += d;
    }
    return 0;
}

/* Failure times within window_ms of now. */
static int usage_failures(const json_t *usage, int64_t now_ms, int64_t window_ms, unsigned *count)
{
    const json_t *fails = usage ? json_object_get(usage, "failures") : NULL;
    size_t i;
    json_t *t;

    *count = 0;
    if (!fails)
        return 0;
    if (!json_is_array(fails))
        return -EINVAL;
    json_array_foreach(fails, i, t)
    {
        if (!json_is_integer(t))
            return -EINVAL;
        *count += now_ms - json_integer_value(t) <= window_ms;
    }
    return 0;
}

/* Member `key` of usage, created with `make` when absent; NULL when of another type. */
static json_t *member(json_t *usage, const char *key, json_t *(*make)(void),
                      int (*is)(const json_t *))
{
    json_t *v = json_object_get(usage, key);

    if (!v && json_object_set_new(usage, key, make()) == 0)
        v = json_object_get(usage, key);
    return v && is(v) ? v : NULL;
}

static int is_object(const json_t *v)
{
    return json_is_object(v);
}

static int is_array(const json_t *v)
{
    return json_is_array(v);
}

int pl_usage_claim(json_t *usage, const char *server_id, const struct pl_config *cfg,
                   const struct pl_host *h, const struct pl_request *req)
{
    struct pl_host now;
    json_t *allocs, *a;
    int rc;

    if (!json_is_object(usage) || !server_id || !*server_id || !cfg || !h || !req ||
        req->vcpus < 0 || req->ram_mb < 0 || req->disk_gb < 0)
        return -EINVAL;
    if (!(allocs = member(usage, "allocations", json_object, is_object)) ||
        !member(usage, "failures", json_array, is_array))
        return -EINVAL;
    if (json_object_get(allocs, server_id))
        return 1;
    now = *h;
    if ((rc = usage_sums(usage, &now.vcpus_used, &now.ram_mb_used, &now.disk_gb_used)) < 0)
        return rc;
    if (!pl_fits(cfg, &now, req))
        return -ENOSPC;
    a = json_pack("{s:I, s:I, s:I}", "vcpus", (json_int_t)req->vcpus, "ram_mb",
                  (json_int_t)req->ram_mb, "disk_gb", (json_int_t)req->disk_gb);
    return a && json_object_set_new(allocs, server_id, a) == 0 ? 0 : -ENOMEM;
}

int pl_usage_release(json_t *usage, const char *server_id)
{
    json_t *allocs;

    if (!json_is_object(usage) || !server_id)
        return -EINVAL;
    allocs = json_object_get(usage, "allocations");
    if (allocs && !json_is_object(allocs))
        return -EINVAL;
    return allocs && json_object_del(allocs, server_id) == 0 ? 0 : 1;
}

int pl_usage_failure(json_t *usage, int64_t now_ms, int64_t window_ms)
{
    json_t *fails;
    size_t i = 0;

    if (!json_is_object(usage) || window_ms < 0 ||
        !(fails = member(usage, "failures", json_array, is_array)))
        return -EINVAL;
    while (i < json_array_size(fails)) {
        json_t *t = json_array_get(fails, i);
        if (!json_is_integer(t) || now_ms - json_integer_value(t) > window_ms)
            json_array_remove(fails, i);
        else
            i++;
    }
    return json_array_append_new(fails, json_integer(now_ms)) == 0 ? 0 : -ENOMEM;
}

/* ---- host record ---- */

/* location {type: name} into h->loc in CRUSH order (unknown types ignored). */
static int host_location(const json_t *loc, struct pl_host *h)
{
    h->nloc = 0;
    if (!loc)
        return 0;
    if (!json_is_object(loc))
        return -EINVAL;
    for (size_t t = 0; t < NCRUSH_TYPES; t++) {
        const json_t *v = json_object_get(loc, crush_types[t]);
        if (!v)
            continue;
        if (!json_is_string(v) ||
            copy_str(h->loc[h->nloc].name, sizeof(h->loc[0].name), json_string_value(v)) < 0)
            return -EINVAL;
        snprintf(h->loc[h->nloc++].type, sizeof(h->loc[0].type), "%s", crush_types[t]);
    }
    return 0;
}

/* ceph: [{"fsid", "vms_pool"}] as the agent writes it (first cluster), or {"fsid"}. */
static int host_fsid(const json_t *ceph, struct pl_host *h)
{
    if (json_is_array(ceph))
        ceph = json_array_get(ceph, 0);
    if (!ceph) {
        h->fsid[0] = '\0';
        return 0;
    }
    return json_is_object(ceph) ? copy_member(h->fsid, sizeof(h->fsid), ceph, "fsid") : -EINVAL;
}

/* arch at the top level (agent facts) or under cpu{arch}. */
static int host_arch(const json_t *rec, struct pl_host *h)
{
    const json_t *cpu = json_object_get(rec, "cpu");

    if (!json_object_get(rec, "arch") && json_is_object(cpu))
        return copy_member(h->arch, sizeof(h->arch), cpu, "arch");
    return copy_member(h->arch, sizeof(h->arch), rec, "arch");
}

static int host_liveness(const json_t *rec, int64_t now_ms, const struct pl_config *cfg,
                         struct pl_host *h)
{
    const char *state = json_string_value(json_object_get(rec, "state"));
    const json_t *hb = json_object_get(rec, "heartbeat_at");

    if (hb && !json_is_integer(hb))
        return -EINVAL;
    h->heartbeat_ms = hb ? json_integer_value(hb) : 0;
    h->up =
        hb && state && strcmp(state, "up") == 0 && now_ms - h->heartbeat_ms <= cfg->service_down_ms;
    return 0;
}

int pl_host_from_records(const json_t *host_rec, const json_t *usage, int64_t now_ms,
                         const struct pl_config *cfg, struct pl_host *out)
{
    struct pl_host h = {0};
    const char *name = json_string_value(json_object_get(host_rec, "name"));
    int rc;

    if (!json_is_object(host_rec) || !cfg || !out || !name || !*name ||
        (usage && !json_is_object(usage)))
        return -EINVAL;
    if ((rc = copy_str(h.name, sizeof(h.name), name)) < 0 ||
        (rc = get_count(host_rec, "vcpus", &h.vcpus)) < 0 ||
        (rc = get_count(host_rec, "ram_mb", &h.ram_mb)) < 0 ||
        (rc = get_count(host_rec, "disk_gb", &h.disk_gb)) < 0 ||
        (rc = copy_member(h.zone, sizeof(h.zone), host_rec, "availability_zone")) < 0 ||
        (rc = copy_member(h.hypervisor, sizeof(h.hypervisor), host_rec, "hypervisor_type")) < 0 ||
        (rc = host_arch(host_rec, &h)) < 0 ||
        (rc = host_fsid(json_object_get(host_rec, "ceph"), &h)) < 0 ||
        (rc = host_location(json_object_get(host_rec, "location"), &h)) < 0 ||
        (rc = host_liveness(host_rec, now_ms, cfg, &h)) < 0 ||
        (rc = usage_sums(usage, &h.vcpus_used, &h.ram_mb_used, &h.disk_gb_used)) < 0 ||
        (rc = usage_failures(usage, now_ms, cfg->failure_window_ms, &h.failures)) < 0)
        return rc;
    *out = h;
    return 0;
}

/* ---- Ceph facts ---- */

/* The element of array `arr` whose member key is the string s. */
static const json_t *find_by_str(const json_t *arr, const char *key, const char *s)
{
    size_t i;
    json_t *e;

    json_array_foreach(arr, i, e)
    {
        const char *v = json_string_value(json_object_get(e, key));
        if (v && strcmp(v, s) == 0)
            return e;
    }
    return NULL;
}

/* The element of array `arr` whose member key is the integer id. */
static const json_t *find_by_int(const json_t *arr, const char *key, json_int_t id)
{
    size_t i;
    json_t *e;

    json_array_foreach(arr, i, e)
    {
        const json_t *v = json_object_get(e, key);
        if (json_is_integer(v) && json_integer_value(v) == id)
            return e;
    }
    return NULL;
}

int pl_pool_rule(const json_t *osd_dump, const char *pool, int *rule)
{
    const json_t *pools = json_object_get(osd_dump, "pools"), *p, *r;

    if (!json_is_array(pools) || !pool || !rule)
        return -EINVAL;
    if (!(p = find_by_str(pools, "pool_name", pool)))
        return -ENOENT;
    if (!json_is_integer(r = json_object_get(p, "crush_rule")))
        return -EINVAL;
    *rule = (int)json_integer_value(r);
    return 0;
}

int pl_pool_max_avail(const json_t *df, const char *pool, int64_t *bytes)
{
    struct st_ceph_pool_df st;
    int rc = bytes ? st_ceph_df_pool(df, pool, &st) : -EINVAL;

    if (rc == 0)
        *bytes = st.max_avail;
    return rc;
}

/* The bucket id a rule's first "take" step names; -ENOENT without one. */
static int rule_take(const json_t *rules, int rule, json_int_t *id)
{
    const json_t *r = find_by_int(rules, "rule_id", rule), *steps, *item;
    size_t i;
    json_t *s;

    if (!r)
        return -ENOENT;
    if (!json_is_array(steps = json_object_get(r, "steps")))
        return -EINVAL;
    json_array_foreach(steps, i, s)
    {
        const char *op = json_string_value(json_object_get(s, "op"));
        if (!op || strcmp(op, "take") != 0)
            continue;
        if (!json_is_integer(item = json_object_get(s, "item")))
            return -EINVAL;
        *id = json_integer_value(item);
        return 0;
    }
    return -ENOENT;
}

/* The bucket whose items include child, or NULL at the root. */
static const json_t *bucket_parent(const json_t *buckets, json_int_t child)
{
    size_t i;
    json_t *b;

    json_array_foreach(buckets, i, b)
    {
        if (find_by_int(json_object_get(b, "items"), "id", child))
            return b;
    }
    return NULL;
}

/* A bucket as a level; a device-class shadow ("default~ssd") is named as its tree. */
static int bucket_loc(const json_t *b, struct pl_loc *out)
{
    const char *type = json_string_value(json_object_get(b, "type_name"));
    const char *name = json_string_value(json_object_get(b, "name"));
    size_t len;

    if (!type || !name || copy_str(out->type, sizeof(out->type), type) < 0)
        return -EINVAL;
    len = strcspn(name, "~");
    if (len == 0 || len >= sizeof(out->name))
        return -EINVAL;
    memcpy(out->name, name, len);
    out->name[len] = '\0';
    return 0;
}

int pl_crush_target(const json_t *crush_dump, int rule, struct pl_loc *out, int max, int *n)
{
    const json_t *buckets = json_object_get(crush_dump, "buckets");
    const json_t *rules = json_object_get(crush_dump, "rules"), *b;
    struct pl_loc levels[PL_LOC_MAX];
    int rc, k = 0, limit = max < PL_LOC_MAX ? max : PL_LOC_MAX;
    json_int_t id;

    if (!json_is_array(buckets) || !json_is_array(rules) || !out || max <= 0 || !n)
        return -EINVAL;
    if ((rc = rule_take(rules, rule, &id)) < 0)
        return rc;
    if (!(b = find_by_int(buckets, "id", id)))
        return -ENOENT;
    /* At most `limit` levels: the widest are dropped, and a cycle cannot loop. */
    for (; b && k < limit; b = bucket_parent(buckets, id)) {
        if ((rc = bucket_loc(b, &levels[k++])) < 0)
            return rc;
        id = json_integer_value(json_object_get(b, "id"));
    }
    memcpy(out, levels, (size_t)k * sizeof(*out));
    *n = k;
    return 0;
}
