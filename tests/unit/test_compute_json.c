/* test_compute_json.c — the agent API's request checks (spawn, actions, volume
 * attach/update), the reply view, console tails and host locations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "guest_json.h"
#include "host.h"

#define ID "0f2e5b8a-6c1d-4e7f-9a3b-2d4c6e8f0a1b"
#define IMG "6a1d1c3e-5b2f-4c8d-9e0f-1a2b3c4d5e6f"

static json_t *spawn_req(void)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:{s:s, s:i}}", "id", ID, "name", "web",
                     "project_id", "p-1", "vcpus", 2, "ram_mb", 512, "flavor", "m1.small",
                     "root_disk", "image_id", IMG, "size_gb", 10);
}

static void test_spawn_record(void **state)
{
    json_t *req = spawn_req(), *rec = NULL;
    struct gj_spawn_req q;
    char msg[GJ_MSG_MAX] = "";

    (void)state;
    assert_int_equal(gj_spawn_req(req, &q, msg), 0);
    assert_int_equal(gj_spawn_record(&q, "h1", 1795355851000LL, &rec), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "status")), GS_BUILDING);
    assert_string_equal(json_string_value(json_object_get(rec, "desired")), "running");
    assert_string_equal(json_string_value(json_object_get(rec, "host")), "h1");
    assert_string_equal(json_string_value(json_object_get(rec, "task_state")), "spawning");
    assert_string_equal(json_string_value(json_object_get(rec, "created_at")), "2026-11-22T13:57:31Z");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(rec, "root_disk"), "size_gb")), 10);
    assert_true(gj_spawn_matches(rec, &q));
    gj_spawn_req_cleanup(&q);
    /* Nova's wrapping is the same request */
    json_t *wrapped = json_pack("{s:O}", "server", req);
    assert_int_equal(gj_spawn_req(wrapped, &q, msg), 0);
    assert_true(gj_spawn_matches(rec, &q));
    gj_spawn_req_cleanup(&q);
    json_decref(wrapped);
    json_object_set_new(req, "vcpus", json_integer(4));
    assert_int_equal(gj_spawn_req(req, &q, msg), 0);
    assert_false(gj_spawn_matches(rec, &q));
    gj_spawn_req_cleanup(&q);

    json_t *view = gj_view(rec);
    assert_null(json_object_get(view, "_s"));
    assert_null(json_object_get(view, "desired"));
    json_decref(view);
    json_decref(rec);
    json_decref(req);
}

static void test_spawn_refused(void **state)
{
    static const struct {
        const char *key, *json, *why;
    } cases[] = {
        { "id", "\"nope\"", "'id' must be a UUID" },
        { "name", "\"\"", "'name'" },
        { "project_id", "7", "'project_id'" },
        { "vcpus", "0", "'vcpus' must be between" },
        { "vcpus", "\"2\"", "'vcpus' must be an integer" },
        { "ram_mb", "8", "'ram_mb' must be between" },
        { "flavor", "[]", "'flavor'" },
        { "root_disk", "{}", "exactly one" },
        { "root_disk", "{\"image_id\": \"" IMG "\"}", "'size_gb'" },
        { "root_disk", "{\"image_id\": \"x\", \"size_gb\": 1}", "image id" },
        { "root_disk", "{\"volume_id\": \"" IMG "\"}", "connection_info" },
        { "root_disk", "{\"volume_id\": \"" IMG "\", \"delete_on_termination\": 1, "
                       "\"connection_info\": {\"driver_volume_type\": \"rbd\", \"data\": "
                       "{\"name\": \"p/i\", \"hosts\": [\"h\"], \"ports\": [\"1\"]}}}",
          "delete_on_termination" },
    };
    char msg[GJ_MSG_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *req = spawn_req();
        struct gj_spawn_req q;
        json_object_set_new(req, cases[i].key, json_loads(cases[i].json, JSON_DECODE_ANY, NULL));
        msg[0] = '\0';
        assert_int_equal(gj_spawn_req(req, &q, msg), -EINVAL);
        assert_null(q.root_disk);
        gj_spawn_req_cleanup(&q);
        if (!strstr(msg, cases[i].why))
            fail_msg("case %zu: \"%s\" does not mention %s", i, msg, cases[i].why);
        json_decref(req);
    }
}

static void test_actions(void **state)
{
    static const struct {
        const char *json;
        int rc;
        enum gj_action a;
    } cases[] = {
        { "{\"start\": null}", 0, GJ_START },
        { "{\"os-stop\": {}}", 0, GJ_STOP },
        { "{\"reboot\": {\"type\": \"HARD\"}}", 0, GJ_REBOOT_HARD },
        { "{\"reboot\": {}}", 0, GJ_REBOOT_SOFT },
        { "{\"action\": \"reboot\", \"type\": \"soft\"}", 0, GJ_REBOOT_SOFT },
        { "{\"reboot\": {\"type\": \"warm\"}}", -EINVAL, 0 },
        { "{\"dance\": {}}", -EINVAL, 0 },
        { "{\"start\": {}, \"stop\": {}}", -EINVAL, 0 },
        { "[]", -EINVAL, 0 },
    };
    char msg[GJ_MSG_MAX];
    enum gj_action a;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *req = json_loads(cases[i].json, 0, NULL);
        assert_int_equal(gj_action(req, &a, msg), cases[i].rc);
        if (cases[i].rc == 0)
            assert_int_equal(a, cases[i].a);
        json_decref(req);
    }
    assert_string_equal(gj_action_name(GJ_REBOOT_HARD), "reboot");
}

static void test_volume_update(void **state)
{
    struct gj_volume_update_req q;
    char msg[GJ_MSG_MAX];
    json_t *req;

    (void)state;
    req = json_pack("{s:{s:s}, s:i}", "qos_specs", "total_iops_sec", "100", "size_gb", 3);
    assert_int_equal(gj_volume_update(req, &q, msg), 0);
    assert_true(json_is_object(q.qos));
    assert_int_equal(q.size_gb, 3);
    json_decref(req);
    req = json_pack("{s:n}", "qos_specs");
    assert_int_equal(gj_volume_update(req, &q, msg), 0);
    assert_true(json_is_null(q.qos));
    assert_int_equal(q.size_gb, 0);
    json_decref(req);
    req = json_pack("{}");
    assert_int_equal(gj_volume_update(req, &q, msg), -EINVAL);
    json_decref(req);
    req = json_pack("{s:{s:i}}", "qos_specs", "write_iops_sec", -1);
    assert_int_equal(gj_volume_update(req, &q, msg), -EINVAL);
    assert_non_null(strstr(msg, "write_iops_sec"));
    json_decref(req);
}

static void test_console_tail(void **state)
{
    const char *t = "one\ntwo\nthree\n";

    (void)state;
    assert_string_equal(gj_console_tail(t, strlen(t), 0), t);
    assert_string_equal(gj_console_tail(t, strlen(t), 1), "three\n");
    assert_string_equal(gj_console_tail(t, strlen(t), 2), "two\nthree\n");
    assert_string_equal(gj_console_tail(t, strlen(t), 10), t);
    assert_string_equal(gj_console_tail("no newline", 10, 1), "no newline");
    assert_string_equal(gj_console_tail("", 0, 3), "");
}

static void test_location(void **state)
{
    json_t *loc = NULL;
    char msg[256];

    (void)state;
    assert_int_equal(host_parse_location("zone=z1 rack=r1,host=h1", &loc, msg, sizeof(msg)), 0);
    assert_string_equal(json_string_value(json_object_get(loc, "rack")), "r1");
    assert_int_equal(json_object_size(loc), 3);
    json_decref(loc);
    assert_int_equal(host_parse_location("", &loc, msg, sizeof(msg)), 0);
    assert_int_equal(json_object_size(loc), 0);
    json_decref(loc);
    assert_int_equal(host_parse_location("shelf=s1", &loc, msg, sizeof(msg)), -EINVAL);
    assert_int_equal(host_parse_location("rack", &loc, msg, sizeof(msg)), -EINVAL);
    assert_int_equal(host_parse_location("rack=", &loc, msg, sizeof(msg)), -EINVAL);
    assert_int_equal(host_parse_location("rack=a/b", &loc, msg, sizeof(msg)), -EINVAL);
    assert_true(host_name_valid("compute-1.example"));
    assert_false(host_name_valid("a b"));
    assert_false(host_name_valid(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_record),
        cmocka_unit_test(test_spawn_refused),
        cmocka_unit_test(test_actions),
        cmocka_unit_test(test_volume_update),
        cmocka_unit_test(test_console_tail),
        cmocka_unit_test(test_location),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
