/* test_scheduler_json.c — the compute API's JSON: create requests checked
 * field by field, records shaped into Nova's views (status, fault, admin
 * attributes), flavors and groups; and the [scheduler] options' sample. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "options.h"
#include "sample_check.h"
#include "srv_json.h"

#define IMG "b19a6bfa-e7df-4f84-8759-4736fb2e9085"
#define VOL "7ea37bad-90eb-4cd8-8645-29fa1a456683"

static int parse(const char *text, struct sj_create *c, char *msg, json_t **keep)
{
    *keep = json_loads(text, 0, NULL);
    assert_non_null(*keep);
    return sj_parse_create(*keep, c, msg);
}

static void test_create_from_image(void **state)
{
    struct sj_create c;
    char msg[SJ_MSG_MAX] = "";
    json_t *b;

    (void)state;
    assert_int_equal(parse("{\"server\": {\"name\": \"s1\", \"imageRef\": \"" IMG "\", "
                           "\"flavorRef\": \"1\", \"os:scheduler_hints\": {}}}", &c, msg, &b), 0);
    assert_string_equal(c.name, "s1");
    assert_string_equal(c.image_id, IMG);
    assert_string_equal(c.flavor_ref, "1");
    assert_null(c.bdm_source);
    json_decref(b);
}

static void test_create_boot_volumes(void **state)
{
    struct sj_create c;
    char msg[SJ_MSG_MAX] = "";
    json_t *b;

    (void)state;
    /* openstack server create --volume: imageRef "" and a volume bdm */
    assert_int_equal(parse("{\"server\": {\"name\": \"s\", \"imageRef\": \"\", \"flavorRef\": \"0\", "
                           "\"block_device_mapping_v2\": [{\"uuid\": \"" VOL "\", \"boot_index\": \"0\", "
                           "\"source_type\": \"volume\", \"destination_type\": \"volume\", "
                           "\"delete_on_termination\": false}]}}", &c, msg, &b), 0);
    assert_string_equal(c.bdm_source, "volume");
    assert_string_equal(c.bdm_uuid, VOL);
    assert_null(c.image_id);
    assert_false(c.bdm_delete);
    json_decref(b);
    /* image -> volume with a size and delete_on_termination */
    assert_int_equal(parse("{\"server\": {\"name\": \"s\", \"imageRef\": \"" IMG "\", \"flavorRef\": \"0\", "
                           "\"block_device_mapping_v2\": [{\"uuid\": \"" IMG "\", \"boot_index\": 0, "
                           "\"source_type\": \"image\", \"destination_type\": \"volume\", "
                           "\"volume_size\": 3, \"delete_on_termination\": true}]}}", &c, msg, &b), 0);
    assert_string_equal(c.bdm_source, "image");
    assert_int_equal(c.bdm_size_gb, 3);
    assert_true(c.bdm_delete);
    assert_null(c.image_id);   /* the image is the volume's source */
    json_decref(b);
}

static void test_create_rejects(void **state)
{
    static const struct { const char *body, *word; } bad[] = {
        { "[]", "server" },
        { "{\"server\": {\"imageRef\": \"" IMG "\", \"flavorRef\": \"1\"}}", "name" },
        { "{\"server\": {\"name\": \"   \", \"imageRef\": \"" IMG "\", \"flavorRef\": \"1\"}}", "name" },
        { "{\"server\": {\"name\": \"s\", \"imageRef\": \"" IMG "\"}}", "flavorRef" },
        { "{\"server\": {\"name\": \"s\", \"imageRef\": \"" IMG "\", \"flavorRef\": 1}}", "flavorRef" },
        { "{\"server\": {\"name\": \"s\", \"imageRef\": \"zzz\", \"flavorRef\": \"1\"}}", "imageRef" },
        { "{\"server\": {\"name\": \"s\", \"flavorRef\": \"1\"}}", "imageRef" },
        { "{\"server\": {\"name\": \"s\", \"imageRef\": \"" IMG "\", \"flavorRef\": \"1\", \"min_count\": 2}}", "min_count" },
        { "{\"server\": {\"name\": \"s\", \"imageRef\": \"" IMG "\", \"flavorRef\": \"1\", \"metadata\": {\"a\": 1}}}", "metadata" },
        { "{\"server\": {\"name\": \"s\", \"flavorRef\": \"1\", \"block_device_mapping_v2\": "
          "[{\"uuid\": \"" IMG "\", \"boot_index\": 0, \"source_type\": \"image\", \"destination_type\": \"volume\"}]}}", "volume_size" },
        { "{\"server\": {\"name\": \"s\", \"flavorRef\": \"1\", \"block_device_mapping_v2\": "
          "[{\"uuid\": \"" VOL "\", \"boot_index\": 0, \"source_type\": \"blank\"}]}}", "source_type" },
        { "{\"server\": {\"name\": \"s\", \"imageRef\": \"" IMG "\", \"flavorRef\": \"1\"}, "
          "\"os:scheduler_hints\": {\"group\": \"g\"}}", "group" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sj_create c;
        char msg[SJ_MSG_MAX] = "";
        json_t *b;
        assert_int_equal(parse(bad[i].body, &c, msg, &b), -EINVAL);
        if (!strstr(msg, bad[i].word))
            fail_msg("case %zu: '%s' does not name %s", i, msg, bad[i].word);
        json_decref(b);
    }
}

static json_t *record(void)
{
    struct sj_create c = { .name = "s1", .image_id = IMG, .flavor_ref = "1" };
    json_t *fl = json_pack("{s:s, s:s, s:i, s:i, s:i}", "id", "1", "name", "m1.tiny", "ram", 512,
                           "vcpus", 1, "disk", 1);
    json_t *rec = sj_new_record(&c, "11111111-2222-3333-4444-555555555555", fl, "p1", "u1",
                                1700000000000LL);
    json_decref(fl);
    assert_non_null(rec);
    return rec;
}

static void test_status_and_views(void **state)
{
    json_t *rec = record(), *v;

    (void)state;
    assert_string_equal(sj_status(rec, NULL), "BUILD");
    json_object_set_new(rec, "vm_state", json_string(SV_ERROR));
    json_object_set_new(rec, "fault", json_pack("{s:s, s:s}", "message",
                                                "no valid host: 1 hosts; ram 1\u21920", "created",
                                                "2026-12-03T10:00:00Z"));
    v = sj_server_view(rec, NULL, "http://h:8774", false);
    assert_string_equal(json_string_value(json_object_get(v, "status")), "ERROR");
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "fault"), "message")),
                        "no valid host: 1 hosts; ram 1\u21920");
    assert_null(json_object_get(v, "OS-EXT-SRV-ATTR:host"));   /* not for members */
    json_decref(v);
    json_object_set_new(rec, "vm_state", json_string(SV_ACTIVE));
    json_object_set_new(rec, "host", json_string("hv1"));
    json_t *guest = json_pack("{s:s, s:s, s:n}", "status", "stopped", "power_state", "shutoff",
                              "task_state");
    v = sj_server_view(rec, guest, "http://h:8774", true);
    assert_string_equal(json_string_value(json_object_get(v, "status")), "SHUTOFF");
    assert_int_equal(json_integer_value(json_object_get(v, "OS-EXT-STS:power_state")), 4);
    assert_string_equal(json_string_value(json_object_get(v, "OS-EXT-SRV-ATTR:host")), "hv1");
    assert_int_equal(strlen(json_string_value(json_object_get(v, "hostId"))), 56);
    assert_null(json_object_get(v, "fault"));
    json_decref(v);
    json_object_set_new(guest, "status", json_string("active"));
    assert_string_equal(sj_status(rec, guest), "ACTIVE");
    json_decref(guest);
    json_decref(rec);
}

static void test_flavor_and_group(void **state)
{
    char msg[SJ_MSG_MAX] = "";
    json_t *rec = NULL;
    json_t *b = json_pack("{s:{s:s, s:i, s:i, s:i}}", "flavor", "name", "f", "ram", 128, "vcpus",
                          2, "disk", 0);

    (void)state;
    assert_int_equal(sj_parse_flavor(b, &rec, msg), 0);
    json_object_set_new(rec, "id", json_string("x1"));
    json_t *v = sj_flavor_view(rec, "http://h", true);
    assert_int_equal(json_integer_value(json_object_get(v, "vcpus")), 2);
    json_decref(v);
    json_decref(rec);
    json_decref(b);
    b = json_pack("{s:{s:s, s:i, s:i}}", "flavor", "name", "f", "ram", 0, "vcpus", 1);
    assert_int_equal(sj_parse_flavor(b, &rec, msg), -EINVAL);
    json_decref(b);
    b = json_pack("{s:{s:s, s:[s]}}", "server_group", "name", "g", "policies", "anti-affinity");
    assert_int_equal(sj_parse_group(b, "p1", "u1", &rec, msg), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "policy")), "anti-affinity");
    json_decref(rec);
    json_decref(b);
    b = json_pack("{s:{s:s, s:s}}", "server_group", "name", "g", "policy", "spread");
    assert_int_equal(sj_parse_group(b, "p1", "u1", &rec, msg), -EINVAL);
    json_decref(b);
}

static void test_sample_documents_scheduler_options(void **state)
{
    (void)state;
    assert_sample_documents(scheduler_options);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_from_image),
        cmocka_unit_test(test_create_boot_volumes),
        cmocka_unit_test(test_create_rejects),
        cmocka_unit_test(test_status_and_views),
        cmocka_unit_test(test_flavor_and_group),
        cmocka_unit_test(test_sample_documents_scheduler_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
