/* test_blockd_types.c — blockd/type_json.c with no cluster: the volume type and
 * qos-specs views, and the checks of their request bodies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "type_json.h"
#include "vol_json.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);

    assert_non_null(j);
    return j;
}

static void test_type_view(void **state)
{
    json_t *rec = J("{\"id\": \"t1\", \"name\": \"gold\", \"description\": null, \"is_public\": "
                    "false, \"extra_specs\": {\"a\": \"b\"}, \"qos_specs_id\": \"q1\", \"_x\": 1}");
    json_t *v = tj_type_view(rec, false), *a = tj_type_view(rec, true);

    (void)state;
    assert_string_equal(json_string_value(json_object_get(v, "name")), "gold");
    assert_true(json_is_false(json_object_get(v, "is_public")));
    assert_true(json_is_false(json_object_get(v, "os-volume-type-access:is_public")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "extra_specs"), "a")),
                        "b");
    assert_null(json_object_get(v, "qos_specs_id"));   /* admins only */
    assert_null(json_object_get(v, "_x"));
    assert_string_equal(json_string_value(json_object_get(a, "qos_specs_id")), "q1");
    json_decref(v);
    json_decref(a);
    json_decref(rec);
}

static void test_type_bodies(void **state)
{
    char msg[VOLJ_MSG_MAX];
    struct tj_type_req t;
    json_t *b, *specs = NULL;

    (void)state;
    b = J("{\"volume_type\": {\"name\": \"gold\", \"os-volume-type-access:is_public\": false, "
          "\"extra_specs\": {\"k\": \"v\"}}}");
    assert_int_equal(tj_type_create(b, &t, msg), 0);
    assert_string_equal(t.name, "gold");
    assert_int_equal(t.is_public, 0);
    assert_non_null(t.extra_specs);
    json_decref(t.extra_specs);
    json_decref(b);
    const char *bad[] = { "{}", "{\"volume_type\": {}}", "{\"volume_type\": {\"name\": \"\"}}",
                          "{\"volume_type\": {\"name\": \"x\", \"is_public\": \"maybe\"}}",
                          "{\"volume_type\": {\"name\": \"x\", \"extra_specs\": {\"k\": 1}}}",
                          NULL };
    for (int i = 0; bad[i]; i++) {
        b = J(bad[i]);
        assert_int_equal(tj_type_create(b, &t, msg), -EINVAL);
        json_decref(b);
    }
    b = J("{\"volume_type\": {\"is_public\": \"true\"}}");
    assert_int_equal(tj_type_update(b, &t, msg), 0);
    assert_int_equal(t.is_public, 1);
    json_decref(b);
    b = J("{\"volume_type\": {}}");
    assert_int_equal(tj_type_update(b, &t, msg), -EINVAL);
    json_decref(b);
    b = J("{\"k\": \"v\"}");
    assert_int_equal(tj_extra_spec_put(b, "k", &specs, msg), 0);
    json_decref(specs);
    assert_int_equal(tj_extra_spec_put(b, "other", &specs, msg), -EINVAL);
    json_decref(b);
    assert_int_equal(tj_is_public_query(NULL), 1);
    assert_int_equal(tj_is_public_query("None"), -1);
    assert_int_equal(tj_is_public_query("false"), 0);
}

static void test_qos_bodies(void **state)
{
    char msg[VOLJ_MSG_MAX];
    struct tj_qos_req q;
    const json_t *keys;
    json_t *b;

    (void)state;
    b = J("{\"qos_specs\": {\"name\": \"q\", \"total_iops_sec\": 500}}");
    assert_int_equal(tj_qos_create(b, &q, msg), 0);
    assert_int_equal(q.consumer, QOS_BACK_END);   /* Cinder's default */
    assert_string_equal(json_string_value(json_object_get(q.specs, "total_iops_sec")), "500");
    assert_int_equal(json_object_size(q.specs), 1);
    json_decref(q.specs);
    json_decref(b);
    const char *bad[] = { "{\"qos_specs\": {\"total_iops_sec\": 5}}",
                          "{\"qos_specs\": {\"name\": \"q\", \"consumer\": \"x\"}}",
                          "{\"qos_specs\": {\"name\": \"q\", \"iops\": 5}}",
                          "{\"qos_specs\": {\"name\": \"q\", \"read_iops_sec\": \"-5\"}}",
                          NULL };
    for (int i = 0; bad[i]; i++) {
        b = J(bad[i]);
        assert_int_equal(tj_qos_create(b, &q, msg), -EINVAL);
        json_decref(b);
    }
    b = J("{\"qos_specs\": {\"consumer\": \"both\"}}");
    assert_int_equal(tj_qos_set(b, &q, msg), 0);
    assert_true(q.has_consumer);
    assert_int_equal(q.consumer, QOS_BOTH);
    json_decref(q.specs);
    json_decref(b);
    b = J("{\"qos_specs\": {\"name\": \"renamed\"}}");
    assert_int_equal(tj_qos_set(b, &q, msg), -EINVAL);
    json_decref(b);
    b = J("{\"keys\": [\"a\", \"b\"]}");
    assert_int_equal(tj_qos_keys(b, &keys, msg), 0);
    assert_int_equal(json_array_size(keys), 2);
    json_decref(b);
    b = J("{\"keys\": []}");
    assert_int_equal(tj_qos_keys(b, &keys, msg), -EINVAL);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_view),
        cmocka_unit_test(test_type_bodies),
        cmocka_unit_test(test_qos_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
