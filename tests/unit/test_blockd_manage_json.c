/* test_blockd_manage_json.c — blockd/vol_json_manage.c and the df reader of
 * common/ceph_cmd.c with no cluster: the manage body, the os-unmanage action,
 * the manageable-volumes list (sort, marker, offset, limit, summary/detail),
 * get_pools' view and its GiB rounding. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "strata/ceph_cmd.h"
#include "vol_json.h"

#define GIB (1LL << 30)

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);

    assert_non_null(j);
    return j;
}

static int manage(const char *text, struct volj_manage *m, char *msg)
{
    json_t *b = J(text);
    int rc = volj_manage_body(b, m, msg);

    json_decref(b);   /* m borrows from b: only rc and msg are looked at after */
    return rc;
}

static void test_manage_body(void **state)
{
    struct volj_manage m;
    char msg[VOLJ_MSG_MAX] = "";
    json_t *b = J("{\"volume\": {\"host\": \"h@strata#p\", \"ref\": {\"source-name\": \"img\"}, "
                  "\"name\": \"n\", \"description\": \"d\", \"volume_type\": \"gold\", "
                  "\"availability_zone\": \"nova\", \"bootable\": true, "
                  "\"metadata\": {\"k\": \"v\"}}}");

    (void)state;
    assert_int_equal(volj_manage_body(b, &m, msg), 0);
    assert_string_equal(m.source_name, "img");
    assert_null(m.source_id);
    assert_string_equal(m.host, "h@strata#p");
    assert_string_equal(m.name, "n");
    assert_string_equal(m.volume_type, "gold");
    assert_true(m.bootable);
    assert_string_equal(json_string_value(json_object_get(m.metadata, "k")), "v");
    json_decref(b);

    b = J("{\"volume\": {\"ref\": {\"source-id\": \"abc123\"}, \"bootable\": \"False\"}}");
    assert_int_equal(volj_manage_body(b, &m, msg), 0);
    assert_string_equal(m.source_id, "abc123");
    assert_null(m.source_name);
    assert_false(m.bootable);
    assert_null(m.host);
    json_decref(b);
}

static void test_manage_body_refusals(void **state)
{
    static const struct {
        const char *body, *says;
    } bad[] = {
        { "{}", "volume" },
        { "{\"volume\": {\"host\": \"h\"}}", "'ref' is a required property" },
        { "{\"volume\": {\"ref\": null}}", "'ref' is a required property" },
        { "{\"volume\": {\"ref\": \"img\"}}", "must be an object" },
        { "{\"volume\": {\"ref\": {}}}", "exactly one of source-name and source-id" },
        { "{\"volume\": {\"ref\": {\"source-name\": \"a\", \"source-id\": \"b\"}}}",
          "exactly one" },
        { "{\"volume\": {\"ref\": {\"source-name\": \"\"}}}", "empty" },
        { "{\"volume\": {\"ref\": {\"source-name\": 5}}}", "source-name" },
        { "{\"volume\": {\"host\": 7, \"ref\": {\"source-name\": \"a\"}}}", "host" },
        { "{\"volume\": {\"ref\": {\"source-name\": \"a\"}, \"bootable\": \"maybe\"}}",
          "bootable" },
        { "{\"volume\": {\"ref\": {\"source-name\": \"a\"}, \"metadata\": {\"k\": 1}}}",
          "metadata" },
    };
    struct volj_manage m;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char msg[VOLJ_MSG_MAX] = "";
        assert_int_equal(manage(bad[i].body, &m, msg), -EINVAL);
        if (!strstr(msg, bad[i].says))
            fail_msg("%s: message \"%s\" lacks \"%s\"", bad[i].body, msg, bad[i].says);
    }
}

static void test_unmanage_action(void **state)
{
    struct volj_action a;
    char msg[VOLJ_MSG_MAX] = "";
    json_t *b = J("{\"os-unmanage\": null}");

    (void)state;
    assert_int_equal(volj_volume_action(b, &a, msg), 0);
    assert_int_equal(a.kind, VOLJ_ACT_UNMANAGE);
    json_decref(b);
    b = J("{\"os-unmanage\": {}}");
    assert_int_equal(volj_volume_action(b, &a, msg), 0);
    assert_int_equal(a.kind, VOLJ_ACT_UNMANAGE);
    json_decref(b);
}

static const char *ITEMS =
    "[{\"name\": \"zeta\", \"bytes\": 1, \"reason\": null, \"cinder_id\": null},"
    " {\"name\": \"volume-11111111-1111-1111-1111-111111111111\", \"bytes\": 2147483648,"
    "  \"reason\": \"already managed\", \"cinder_id\": \"11111111-1111-1111-1111-111111111111\"},"
    " {\"name\": \"alpha\", \"bytes\": 1073741825, \"reason\": null, \"cinder_id\": null},"
    " {\"name\": \"mid\", \"bytes\": 0, \"reason\": \"volume in use\", \"cinder_id\": null}]";

static const char *ref(const json_t *doc, size_t i)
{
    const json_t *e = json_array_get(json_object_get(doc, "manageable-volumes"), i);
    return json_string_value(json_object_get(json_object_get(e, "reference"), "source-name"));
}

static void test_manageable_list(void **state)
{
    json_t *items = J(ITEMS), *doc = NULL, *e;
    char msg[VOLJ_MSG_MAX] = "";

    (void)state;
    assert_int_equal(volj_manageable_body(items, true, NULL, 0, 0, &doc, msg), 0);
    assert_int_equal(json_array_size(json_object_get(doc, "manageable-volumes")), 4);
    assert_string_equal(ref(doc, 0), "alpha");
    assert_string_equal(ref(doc, 1), "mid");
    assert_string_equal(ref(doc, 3), "zeta");
    e = json_array_get(json_object_get(doc, "manageable-volumes"), 0);
    assert_int_equal(json_integer_value(json_object_get(e, "size")), 2);   /* ceil GiB */
    assert_true(json_is_true(json_object_get(e, "safe_to_manage")));
    assert_true(json_is_null(json_object_get(e, "reason_not_safe")));
    assert_true(json_is_null(json_object_get(e, "cinder_id")));
    assert_true(json_is_null(json_object_get(e, "extra_info")));
    e = json_array_get(json_object_get(doc, "manageable-volumes"), 2);
    assert_true(json_is_false(json_object_get(e, "safe_to_manage")));
    assert_string_equal(json_string_value(json_object_get(e, "reason_not_safe")),
                        "already managed");
    assert_string_equal(json_string_value(json_object_get(e, "cinder_id")),
                        "11111111-1111-1111-1111-111111111111");
    assert_int_equal(json_integer_value(json_object_get(e, "size")), 2);
    json_decref(doc);

    /* summary: reference, size, safe_to_manage only */
    assert_int_equal(volj_manageable_body(items, false, NULL, 0, 0, &doc, msg), 0);
    e = json_array_get(json_object_get(doc, "manageable-volumes"), 1);
    assert_int_equal(json_object_size(e), 3);
    assert_int_equal(json_integer_value(json_object_get(e, "size")), 0);
    json_decref(doc);

    /* paging: marker, then offset and limit */
    assert_int_equal(volj_manageable_body(items, true, "alpha", 1, 1, &doc, msg), 0);
    assert_int_equal(json_array_size(json_object_get(doc, "manageable-volumes")), 1);
    assert_string_equal(ref(doc, 0), "volume-11111111-1111-1111-1111-111111111111");
    json_decref(doc);
    assert_int_equal(volj_manageable_body(items, true, "zeta", 0, 0, &doc, msg), 0);
    assert_int_equal(json_array_size(json_object_get(doc, "manageable-volumes")), 0);
    json_decref(doc);
    doc = NULL;
    assert_int_equal(volj_manageable_body(items, true, "nope", 0, 0, &doc, msg), -EINVAL);
    assert_null(doc);
    assert_non_null(strstr(msg, "marker"));
    json_decref(items);
}

static void test_pools_view(void **state)
{
    struct volj_pool_stats p = { .name = "host@strata#strata.volumes",
                                 .pool = "strata.volumes",
                                 .location_info = "fsid:strata.volumes",
                                 .timestamp = "2026-01-02T03:04:05.000006",
                                 .stored = 3 * GIB / 2,
                                 .max_avail = 10 * GIB + GIB / 3,
                                 .provisioned_gb = 40,
                                 .allocated_gb = 30,
                                 .max_over_subscription_ratio = 20.0 };
    json_t *v = volj_pools_view(&p, false), *pool, *c;

    (void)state;
    pool = json_array_get(json_object_get(v, "pools"), 0);
    assert_string_equal(json_string_value(json_object_get(pool, "name")), p.name);
    assert_int_equal(json_object_size(pool), 1);
    json_decref(v);
    v = volj_pools_view(&p, true);
    c = json_object_get(json_array_get(json_object_get(v, "pools"), 0), "capabilities");
    assert_string_equal(json_string_value(json_object_get(c, "pool_name")), "strata.volumes");
    assert_true(fabs(json_real_value(json_object_get(c, "free_capacity_gb")) - 10.33) < 1e-9);
    assert_true(fabs(json_real_value(json_object_get(c, "total_capacity_gb")) - 11.83) < 1e-9);
    assert_int_equal(json_integer_value(json_object_get(c, "provisioned_capacity_gb")), 40);
    assert_int_equal(json_integer_value(json_object_get(c, "allocated_capacity_gb")), 30);
    assert_true(json_real_value(json_object_get(c, "max_over_subscription_ratio")) == 20.0);
    assert_int_equal(json_integer_value(json_object_get(c, "reserved_percentage")), 0);
    assert_true(json_is_true(json_object_get(c, "thin_provisioning_support")));
    assert_true(json_is_false(json_object_get(c, "thick_provisioning_support")));
    assert_true(json_is_false(json_object_get(c, "multiattach")));
    assert_true(json_is_true(json_object_get(c, "QoS_support")));
    assert_string_equal(json_string_value(json_object_get(c, "storage_protocol")), "ceph");
    assert_string_equal(json_string_value(json_object_get(c, "vendor_name")), "Strata");
    assert_string_equal(json_string_value(json_object_get(c, "driver_version")), STRATA_VERSION);
    assert_string_equal(json_string_value(json_object_get(c, "volume_backend_name")), "strata");
    assert_string_equal(json_string_value(json_object_get(c, "location_info")),
                        "fsid:strata.volumes");
    assert_string_equal(json_string_value(json_object_get(c, "timestamp")), p.timestamp);
    json_decref(v);
    assert_true(volj_gib2(0) == 0.0 && volj_gib2(-5) == 0.0);
    assert_true(fabs(volj_gib2(GIB + GIB / 200) - 1.0) < 1e-9);   /* just under 1.005 GiB: 1.0 */
}

static void test_df_pool(void **state)
{
    json_t *df = J("{\"pools\": [{\"name\": \"a\", \"stats\": {\"stored\": 5, \"bytes_used\": 15,"
                   " \"max_avail\": 100}}, {\"name\": \"old\", \"stats\": {\"bytes_used\": 7,"
                   " \"max_avail\": 9}}, {\"name\": \"bad\", \"stats\": {}}]}");
    struct st_ceph_pool_df p;

    (void)state;
    assert_int_equal(st_ceph_df_pool(df, "a", &p), 0);
    assert_int_equal(p.stored, 5);
    assert_int_equal(p.max_avail, 100);
    assert_int_equal(st_ceph_df_pool(df, "old", &p), 0);   /* releases before "stored" */
    assert_int_equal(p.stored, 7);
    assert_int_equal(st_ceph_df_pool(df, "bad", &p), -EINVAL);
    assert_int_equal(st_ceph_df_pool(df, "none", &p), -ENOENT);
    json_decref(df);
    df = J("{\"stats\": {}}");
    assert_int_equal(st_ceph_df_pool(df, "a", &p), -EINVAL);
    json_decref(df);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manage_body),
        cmocka_unit_test(test_manage_body_refusals),
        cmocka_unit_test(test_unmanage_action),
        cmocka_unit_test(test_manageable_list),
        cmocka_unit_test(test_pools_view),
        cmocka_unit_test(test_df_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
