/* test_imaged_json.c — imaged/image_json.c with no cluster: the image view
 * against recorded Glance responses, the schema document, create and PATCH
 * validation, tags, list filtering/sorting/paging and links, Range parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image_json.h"
#include "json_assert.h"
#include "strata/strutil.h"

#define FIXTURES STRATA_SOURCE_DIR "/../shared/fixtures/openstack"
#define FSID "bd4e77b1-d0ee-4faa-bb3d-5d8ab076bbf1"
#define ID1 "75b82e33-463a-4531-982c-b1c7ce127b8b"

/* ---- helpers ---- */

/* A new JSON value the caller owns. */
static json_t *Jnew(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &err);

    if (!j)
        fail_msg("bad test JSON: %s: %s", err.text, text);
    return j;
}

/* A JSON value borrowed for the rest of the run (freed by pool_free). */
static json_t *pool[1024];
static size_t npool;

static json_t *J(const char *text)
{
    assert_true(npool < sizeof(pool) / sizeof(pool[0]));
    return pool[npool++] = Jnew(text);
}

static int pool_free(void **state)
{
    (void)state;
    while (npool > 0)
        json_decref(pool[--npool]);
    return 0;
}

/* A fixture file (a new reference).  A fixture that is missing or unreadable
 * fails the test: a test that cannot run must not pass. */
static json_t *fixture(const char *name)
{
    char path[1024];
    json_error_t err;
    json_t *doc;

    snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
    if (!(doc = json_load_file(path, 0, &err)))
        fail_msg("fixture %s cannot be read (%s): the OpenStack fixtures are expected in "
                 "../shared/fixtures beside the checkout",
                 path, err.text);
    return doc;
}

static const struct imgj_view_opts view_on = {true, false, FSID, "images"};

/* The stored form of an image as Glance showed it: computed members out,
 * Strata's private state in. */
static json_t *record_from_view(const json_t *view)
{
    static const char *const computed[] = {"self", "file", "schema", "direct_url", "locations"};
    json_t *rec = json_deep_copy(view);

    for (size_t i = 0; i < sizeof(computed) / sizeof(computed[0]); i++)
        json_object_del(rec, computed[i]);
    json_object_set_new(rec, "_s", Jnew("{\"rbd\": \"images/x\", \"lease\": 12, \"version\": 3}"));
    return rec;
}

/* A JSON type name as JSON Schema spells it. */
static const char *schema_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static bool type_allowed(const json_t *type, const json_t *v)
{
    const char *t = schema_type(v);
    size_t i;
    json_t *e;

    if (json_is_string(type))
        return strcmp(json_string_value(type), t) == 0;
    json_array_foreach(type, i, e)
    {
        if (strcmp(json_string_value(e), t) == 0)
            return true;
    }
    return false;
}

/* What glanceclient's warlock model checks: every member's type and enum. */
static void assert_valid_against_schema(const json_t *image, const json_t *schema)
{
    const json_t *props = json_object_get(schema, "properties");
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)image, k, v)
    {
        json_t *p = json_object_get(props, k), *e;
        json_t *type = p ? json_object_get(p, "type")
                         : json_object_get(json_object_get(schema, "additionalProperties"), "type");
        size_t i;
        bool in_enum = false;

        if (!type_allowed(type, v))
            fail_msg("member %s has a type the schema refuses", k);
        if (!p || !json_object_get(p, "enum"))
            continue;
        json_array_foreach(json_object_get(p, "enum"), i, e)
        {
            in_enum = in_enum || json_equal(e, v);
        }
        if (!in_enum)
            fail_msg("member %s is not in its enum", k);
    }
}

/* ---- the image view ---- */

static void test_view_matches_glance_show(void **state)
{
    json_t *want = fixture("glance-image-show.json"), *rec, *got;

    (void)state;
    rec = record_from_view(want);
    got = imgj_view(rec, &view_on);
    assert_non_null(got);
    assert_json_equal(got, want);
    assert_null(json_object_get(got, "_s"));
    json_decref(got);
    json_decref(rec);
    json_decref(want);
}

static void test_view_matches_glance_create(void **state)
{
    json_t *want = fixture("glance-image-create.json"), *fields = NULL, *got;
    char msg[IMGJ_MSG_MAX] = "";

    (void)state;
    /* What the API passes to img_create for the recorded request, plus what
     * the service fills in. */
    assert_int_equal(imgj_create_fields(J("{\"name\": \"bench-img-0\", \"disk_format\": \"raw\","
                                          " \"container_format\": \"bare\"}"),
                                        false, &fields, msg),
                     0);
    json_object_update(fields, J("{\"id\": \"f35177be-3b4a-4ec7-8ed9-99edafce434b\","
                                 " \"status\": \"queued\", \"owner\": null,"
                                 " \"created_at\": \"2026-11-22T10:46:38Z\","
                                 " \"updated_at\": \"2026-11-22T10:46:38Z\", \"_s\": {}}"));
    got = imgj_view(fields, &view_on);
    assert_json_equal(got, want);
    json_decref(got);
    json_decref(fields);
    json_decref(want);
}

static void test_view_list_fixture_keys(void **state)
{
    json_t *list = fixture("glance-image-list.json"), *img;
    size_t i;

    (void)state;
    json_array_foreach(json_object_get(list, "images"), i, img)
    {
        json_t *rec = record_from_view(img), *got = imgj_view(rec, &view_on);
        assert_same_keys(got, img);
        json_decref(got);
        json_decref(rec);
    }
    json_decref(list);
}

static void test_view_direct_url_and_locations(void **state)
{
    json_t *want = fixture("glance-image-show.json"), *rec, *got, *loc;
    struct imgj_view_opts both = {true, true, FSID, "images"}, off = {false, false, FSID, "images"};

    (void)state;
    rec = record_from_view(want);
    got = imgj_view(rec, &both);
    loc = json_object_get(got, "locations");
    assert_int_equal(json_array_size(loc), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(loc, 0), "url")),
                        "rbd://" FSID "/images/" ID1 "/snap");
    assert_true(json_is_object(json_object_get(json_array_get(loc, 0), "metadata")));
    json_object_del(got, "locations");
    assert_json_equal(got, want);
    json_decref(got);

    got = imgj_view(rec, &off);
    assert_null(json_object_get(got, "direct_url"));
    assert_null(json_object_get(got, "locations"));
    json_decref(got);

    /* No data, no location. */
    json_object_set_new(rec, "status", json_string("queued"));
    got = imgj_view(rec, &both);
    assert_null(json_object_get(got, "direct_url"));
    assert_null(json_object_get(got, "locations"));
    json_decref(got);
    json_decref(rec);
    json_decref(want);
}

static void test_view_members(void **state)
{
    json_t *rec =
        Jnew("{\"id\": \"" ID1 "\", \"status\": \"active\", \"created_at\": 0,"
             " \"updated_at\": \"2026-01-02T03:04:05Z\", \"_s\": {\"x\": 1}, \"_other\": 1,"
             " \"hw_disk_bus\": \"scsi\", \"bogus\": 5, \"self\": \"/stale\","
             " \"stores\": \"rbd\", \"kernel_id\": null}");
    json_t *got = imgj_view(rec, NULL);

    (void)state;
    assert_null(json_object_get(got, "_s"));
    assert_null(json_object_get(got, "_other"));
    assert_null(json_object_get(got, "bogus")); /* not a string: the schema would refuse it */
    assert_null(json_object_get(got, "stores"));
    assert_null(json_object_get(got, "direct_url"));
    assert_true(json_is_null(json_object_get(got, "kernel_id")));
    assert_string_equal(json_string_value(json_object_get(got, "hw_disk_bus")), "scsi");
    assert_string_equal(json_string_value(json_object_get(got, "created_at")),
                        "1970-01-01T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(got, "self")), "/v2/images/" ID1);
    assert_string_equal(json_string_value(json_object_get(got, "file")), "/v2/images/" ID1 "/file");
    assert_string_equal(json_string_value(json_object_get(got, "visibility")), "shared");
    assert_true(json_is_null(json_object_get(got, "size")));
    assert_true(json_is_array(json_object_get(got, "tags")));
    json_decref(got);
    json_decref(rec);
}

/* Glance's import properties are shown; the task comes from the private part. */
static void test_view_import_outcome(void **state)
{
    json_t *rec = J("{\"id\": \"" ID1 "\", \"status\": \"queued\","
                    " \"os_glance_failed_import\": \"rbd\", \"os_glance_importing_to_stores\": \"\","
                    " \"_s\": {\"import_task\": {\"id\": \"t1\", \"status\": \"failure\","
                    " \"message\": \"has a backing file\", \"input\": {\"method\": {\"name\":"
                    " \"glance-direct\"}}}}}");
    json_t *got = imgj_view(rec, NULL), *tasks = imgj_tasks_view(rec), *none;

    (void)state;
    assert_string_equal(json_string_value(json_object_get(got, "os_glance_failed_import")), "rbd");
    assert_string_equal(json_string_value(json_object_get(got, "os_glance_importing_to_stores")), "");
    assert_json_equal(tasks, J("{\"tasks\": [{\"id\": \"t1\", \"type\": \"api_image_import\","
                               " \"status\": \"failure\", \"message\": \"has a backing file\","
                               " \"image_id\": \"" ID1 "\", \"result\": null, \"expires_at\": null,"
                               " \"input\": {\"method\": {\"name\": \"glance-direct\"}}}]}"));
    none = imgj_tasks_view(J("{\"id\": \"" ID1 "\", \"_s\": {}}"));
    assert_json_equal(none, J("{\"tasks\": []}"));
    json_decref(got);
    json_decref(tasks);
    json_decref(none);
}

/* ---- documents ---- */

static void test_schema_document(void **state)
{
    json_t *s = imgj_schema_image(), *props = json_object_get(s, "properties");
    json_t *show = fixture("glance-image-show.json"), *p, *rec, *view;
    struct imgj_view_opts both = {true, true, FSID, "images"};
    const char *k;

    (void)state;
    assert_string_equal(json_string_value(json_object_get(s, "name")), "image");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(s, "additionalProperties"), "type")),
        "string");
    assert_int_equal(json_array_size(json_object_get(s, "links")), 3);
    json_object_foreach(props, k, p)
    {
        assert_non_null(json_object_get(p, "type"));
        assert_non_null(json_object_get(p, "description"));
    }
    assert_json_equal(json_object_get(json_object_get(props, "status"), "readOnly"), json_true());
    assert_null(json_object_get(json_object_get(props, "name"), "readOnly"));
    assert_json_equal(json_object_get(json_object_get(props, "name"), "type"),
                      J("[\"null\", \"string\"]"));
    assert_json_equal(json_object_get(json_object_get(props, "container_format"), "enum"),
                      J("[null, \"ami\", \"ari\", \"aki\", \"bare\", \"ovf\", \"ova\","
                        " \"docker\", \"compressed\"]"));
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(props, "disk_format"), "enum")), 12);
    assert_non_null(json_object_get(json_object_get(props, "id"), "pattern"));
    assert_json_equal(json_object_get(json_object_get(props, "os_distro"), "is_base"),
                      json_false());
    assert_null(json_object_get(json_object_get(props, "min_disk"), "is_base"));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(props, "tags"), "items"), "type")),
                        "string");

    /* What we show validates against what we publish. */
    if (show) {
        rec = record_from_view(show);
        json_object_set_new(rec, "architecture", json_string("x86_64"));
        view = imgj_view(rec, &both);
        assert_valid_against_schema(view, s);
        json_decref(view);
        json_decref(rec);
        json_decref(show);
    }
    json_decref(s);

    s = imgj_schema_images();
    assert_string_equal(json_string_value(json_object_get(s, "name")), "images");
    p = json_object_get(json_object_get(s, "properties"), "images");
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "items"), "name")),
                        "image");
    assert_non_null(json_object_get(json_object_get(s, "properties"), "next"));
    json_decref(s);
}

static void test_versions_and_info(void **state)
{
    json_t *v = imgj_versions("10.0.0.5:9292"), *list = json_object_get(v, "versions"), *e;
    char url[64];
    size_t i;

    (void)state;
    assert_true(json_array_size(list) >= 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")), "v2.9");
    json_array_foreach(list, i, e)
    {
        assert_string_equal(json_string_value(json_object_get(e, "status")),
                            i == 0 ? "CURRENT" : "SUPPORTED");
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_object_get(e, "links"), 0), "href")),
                            "http://10.0.0.5:9292/v2/");
    }
    json_decref(v);
    v = imgj_versions("evil\"/host");
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(
                json_object_get(json_array_get(json_object_get(v, "versions"), 0), "links"), 0),
            "href")),
        "http://localhost/v2/");
    json_decref(v);
    assert_int_equal(imgj_base_url(NULL, url, sizeof(url)), 0);
    assert_string_equal(url, "http://localhost");
    assert_int_equal(imgj_base_url("[::1]:9292", url, sizeof(url)), 0);
    assert_string_equal(url, "http://[::1]:9292");
    assert_int_equal(imgj_base_url("h", url, 4), -ENOSPC);
    v = imgj_import_info();
    assert_json_equal(v, J("{\"import-methods\": {\"description\": \"Import methods available.\","
                           " \"type\": \"array\", \"value\": [\"glance-direct\"]}}"));
    json_decref(v);
}

/* ---- create ---- */

static int create(const char *body, bool admin, json_t **fields, char *msg)
{
    json_t *b = Jnew(body);
    int rc = imgj_create_fields(b, admin, fields, msg);

    json_decref(b);
    return rc;
}

static void test_create_good(void **state)
{
    char msg[IMGJ_MSG_MAX] = "";
    json_t *f = NULL;

    (void)state;
    assert_int_equal(create("{\"name\": \"cirros\", \"disk_format\": \"qcow2\","
                            " \"container_format\": \"bare\", \"tags\": [\"a\", \"b\", \"a\"],"
                            " \"min_disk\": 1, \"protected\": true, \"hw_disk_bus\": \"scsi\","
                            " \"owner_specified.openstack.md5\": \"\","
                            " \"id\": \"" ID1 "\", \"kernel_id\": null}",
                            false, &f, msg),
                     0);
    assert_json_equal(f, J("{\"name\": \"cirros\", \"disk_format\": \"qcow2\","
                           " \"container_format\": \"bare\", \"tags\": [\"a\", \"b\"],"
                           " \"min_disk\": 1, \"min_ram\": 0, \"protected\": true,"
                           " \"os_hidden\": false, \"visibility\": \"shared\","
                           " \"hw_disk_bus\": \"scsi\", \"owner_specified.openstack.md5\": \"\","
                           " \"id\": \"" ID1 "\", \"kernel_id\": null}"));
    json_decref(f);
    /* Admins may set owner and publish. */
    assert_int_equal(create("{\"owner\": \"p2\", \"visibility\": \"public\"}", true, &f, msg), 0);
    json_decref(f);
    assert_int_equal(create("{\"name\": null}", false, &f, msg), 0);
    json_decref(f);
}

static void test_create_refused(void **state)
{
    static const struct {
        const char *body;
        int rc;
        const char *msg; /* substring */
    } cases[] = {
        {"{\"status\": \"active\"}", -EPERM, "Attribute 'status' is read-only."},
        {"{\"size\": 5}", -EPERM, "Attribute 'size' is read-only."},
        {"{\"checksum\": \"x\"}", -EPERM, "read-only"},
        {"{\"self\": \"x\"}", -EPERM, "Attribute 'self' is read-only."},
        {"{\"file\": \"x\"}", -EPERM, "read-only"},
        {"{\"direct_url\": \"x\"}", -EPERM, "read-only"},
        {"{\"locations\": []}", -EPERM, "read-only"},
        {"{\"created_at\": \"x\"}", -EPERM, "read-only"},
        {"{\"virtual_size\": 1}", -EPERM, "read-only"},
        {"{\"os_hash_value\": \"x\"}", -EPERM, "read-only"},
        {"{\"owner\": \"p2\"}", -EPERM, "Attribute 'owner' is read-only."},
        {"{\"_s\": {}}", -EPERM, "reserved"},
        {"{\"os_glance_importing\": \"x\"}", -EPERM, "reserved"},
        {"{\"deleted\": \"x\"}", -EPERM, "reserved"},
        {"{\"visibility\": \"public\"}", -EPERM, "publicize_image"},
        {"{\"min_disk\": \"x\", \"status\": \"active\"}", -EPERM, "status"},
        {"{\"id\": \"not-a-uuid\"}", -EINVAL, "does not match"},
        {"{\"disk_format\": \"qcow3\"}", -EINVAL, "disk_format"},
        {"{\"container_format\": \"zip\"}", -EINVAL, "container_format"},
        {"{\"visibility\": \"everyone\"}", -EINVAL, "visibility"},
        {"{\"visibility\": null}", -EINVAL, "must be a string."},
        {"{\"min_disk\": -1}", -EINVAL, "min_disk"},
        {"{\"min_ram\": \"512\"}", -EINVAL, "min_ram"},
        {"{\"min_ram\": 1.5}", -EINVAL, "min_ram"},
        {"{\"min_ram\": 3000000000}", -EINVAL, "min_ram"},
        {"{\"protected\": \"true\"}", -EINVAL, "boolean"},
        {"{\"os_hidden\": 1}", -EINVAL, "boolean"},
        {"{\"name\": 5}", -EINVAL, "string"},
        {"{\"tags\": \"a\"}", -EINVAL, "array"},
        {"{\"tags\": [1]}", -EINVAL, "string"},
        {"{\"tags\": null}", -EINVAL, "null"},
        {"{\"hw_disk_bus\": 1}", -EINVAL, "hw_disk_bus"},
        {"{\"hw_disk_bus\": null}", -EINVAL, "hw_disk_bus"},
        {"{\"\": \"x\"}", -EINVAL, "names"},
        {"{\"kernel_id\": \"k\"}", -EINVAL, "does not match"},
        {"{\"cinder_encryption_key_deletion_policy\": \"never\"}", -EINVAL, "not a valid"},
        {"[]", -EINVAL, "object"},
    };
    char msg[IMGJ_MSG_MAX];
    json_t *f = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        msg[0] = '\0';
        if (create(cases[i].body, false, &f, msg) != cases[i].rc || !strstr(msg, cases[i].msg))
            fail_msg("%s: got \"%s\"", cases[i].body, msg);
        assert_null(f);
    }
}

static void test_create_lengths(void **state)
{
    char body[2048], name[1024], msg[IMGJ_MSG_MAX];
    json_t *f = NULL, *tags = json_array(), *b;

    (void)state;
    memset(name, 'n', 256);
    name[256] = '\0';
    snprintf(body, sizeof(body), "{\"name\": \"%s\"}", name);
    assert_int_equal(create(body, false, &f, msg), -EINVAL);
    name[255] = '\0';
    snprintf(body, sizeof(body), "{\"name\": \"%s\"}", name);
    assert_int_equal(create(body, false, &f, msg), 0);
    json_decref(f);
    /* 255 characters of two bytes each are 255 characters. */
    name[0] = '\0';
    for (int i = 0; i < 255; i++)
        strcat(name, "\xc3\xa9");
    snprintf(body, sizeof(body), "{\"name\": \"%s\", \"tags\": [\"%s\"]}", name, name);
    assert_int_equal(create(body, false, &f, msg), 0);
    json_decref(f);
    memset(name, 'k', 256);
    name[256] = '\0';
    snprintf(body, sizeof(body), "{\"%s\": \"v\"}", name);
    assert_int_equal(create(body, false, &f, msg), -EINVAL);
    snprintf(body, sizeof(body), "{\"tags\": [\"%s\"]}", name);
    assert_int_equal(create(body, false, &f, msg), -EINVAL);

    /* Tag and property quotas. */
    for (int i = 0; i <= IMGJ_TAGS_MAX; i++)
        json_array_append_new(tags, json_sprintf("t%d", i));
    b = json_pack("{s:o}", "tags", tags);
    assert_int_equal(imgj_create_fields(b, false, &f, msg), -EFBIG);
    json_array_remove(tags, 0);
    json_array_append_new(tags, json_string("t1")); /* a duplicate does not count */
    assert_int_equal(imgj_create_fields(b, false, &f, msg), 0);
    assert_int_equal(json_array_size(json_object_get(f, "tags")), IMGJ_TAGS_MAX);
    json_decref(f);
    json_decref(b);
    b = json_object();
    for (int i = 0; i <= IMGJ_PROPS_MAX; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        json_object_set_new(b, name, json_string("v"));
    }
    assert_int_equal(imgj_create_fields(b, false, &f, msg), -EFBIG);
    json_decref(b);
}

/* ---- PATCH ---- */

static const char *const RECORD =
    "{\"id\": \"" ID1 "\", \"name\": \"n\", \"status\": \"queued\", \"visibility\": \"shared\","
    " \"disk_format\": \"raw\", \"container_format\": \"bare\", \"tags\": [\"a\", \"b\"],"
    " \"min_disk\": 0, \"min_ram\": 0, \"protected\": false, \"os_hidden\": false,"
    " \"owner\": \"p1\", \"size\": null, \"prop\": \"v\", \"_s\": {\"lease\": 1}}";

/* Parse + apply ops to a copy of `record`; *out gets the result when applied. */
static int patch(const char *record, const char *ops, int draft, bool admin, json_t **out,
                 char *msg)
{
    struct imgj_patch *p = NULL;
    json_t *o = Jnew(ops), *rec = Jnew(record);
    int rc = imgj_patch_parse(o, draft, admin, &p, msg);

    if (rc == 0)
        rc = imgj_patch_apply(rec, p, msg);
    imgj_patch_free(p);
    json_decref(o);
    if (rc == 0 && out)
        *out = rec;
    else
        json_decref(rec);
    return rc;
}

static void test_patch_media_type(void **state)
{
    int draft = 0;

    (void)state;
    assert_int_equal(imgj_patch_media_type("application/openstack-images-v2.1-json-patch", &draft),
                     0);
    assert_int_equal(draft, 10);
    assert_int_equal(
        imgj_patch_media_type("application/openstack-images-v2.0-json-patch; x=y", &draft), 0);
    assert_int_equal(draft, 4);
    assert_int_equal(imgj_patch_media_type("application/json", &draft), -EINVAL);
    assert_int_equal(imgj_patch_media_type(NULL, &draft), -EINVAL);
}

static void test_patch_properties(void **state)
{
    char msg[IMGJ_MSG_MAX];
    json_t *r = NULL;

    (void)state;
    assert_int_equal(
        patch(RECORD,
              "[{\"op\": \"replace\", \"path\": \"/name\", \"value\": \"m\"},"
              " {\"op\": \"add\", \"path\": \"/os_distro\", \"value\": \"debian\"},"
              " {\"op\": \"add\", \"path\": \"/prop\", \"value\": \"w\"},"
              " {\"op\": \"replace\", \"path\": \"/min_ram\", \"value\": 512},"
              " {\"op\": \"add\", \"path\": \"/a~1b~0c\", \"value\": \"x\"},"
              " {\"op\": \"replace\", \"path\": \"/visibility\", \"value\": \"private\"},"
              " {\"op\": \"replace\", \"path\": \"/disk_format\", \"value\": \"qcow2\"}]",
              10, false, &r, msg),
        0);
    assert_string_equal(json_string_value(json_object_get(r, "name")), "m");
    assert_string_equal(json_string_value(json_object_get(r, "os_distro")), "debian");
    assert_string_equal(json_string_value(json_object_get(r, "prop")), "w");
    assert_string_equal(json_string_value(json_object_get(r, "a/b~c")), "x");
    assert_string_equal(json_string_value(json_object_get(r, "visibility")), "private");
    assert_string_equal(json_string_value(json_object_get(r, "disk_format")), "qcow2");
    assert_int_equal(json_integer_value(json_object_get(r, "min_ram")), 512);
    assert_json_equal(json_object_get(r, "_s"), J("{\"lease\": 1}"));
    json_decref(r);

    assert_int_equal(
        patch(RECORD, "[{\"op\": \"remove\", \"path\": \"/prop\"}]", 10, false, &r, msg), 0);
    assert_null(json_object_get(r, "prop"));
    json_decref(r);

    /* Base attributes exist even when unset: replace works, add too. */
    assert_int_equal(patch("{\"status\": \"queued\"}",
                           "[{\"op\": \"replace\", \"path\": \"/name\", \"value\": \"x\"},"
                           " {\"op\": \"add\", \"path\": \"/min_disk\", \"value\": 2}]",
                           10, false, &r, msg),
                     0);
    assert_string_equal(json_string_value(json_object_get(r, "name")), "x");
    json_decref(r);

    /* Draft 4 form. */
    assert_int_equal(
        patch(RECORD, "[{\"replace\": \"/name\", \"value\": \"d4\"}]", 4, false, &r, msg), 0);
    assert_string_equal(json_string_value(json_object_get(r, "name")), "d4");
    json_decref(r);
    assert_int_equal(patch(RECORD, "[]", 10, false, &r, msg), 0);
    assert_json_equal(r, J(RECORD));
    json_decref(r);
}

static void test_patch_tags(void **state)
{
    char msg[IMGJ_MSG_MAX];
    json_t *r = NULL;

    (void)state;
    assert_int_equal(patch(RECORD,
                           "[{\"op\": \"add\", \"path\": \"/tags/-\", \"value\": \"c\"},"
                           " {\"op\": \"add\", \"path\": \"/tags/0\", \"value\": \"z\"},"
                           " {\"op\": \"add\", \"path\": \"/tags/-\", \"value\": \"a\"},"
                           " {\"op\": \"remove\", \"path\": \"/tags/1\"},"
                           " {\"op\": \"replace\", \"path\": \"/tags/0\", \"value\": \"y\"}]",
                           10, false, &r, msg),
                     0);
    assert_json_equal(json_object_get(r, "tags"), J("[\"y\", \"b\", \"c\"]"));
    json_decref(r);
    /* Replacing with a tag that is already there drops the duplicate. */
    assert_int_equal(patch(RECORD,
                           "[{\"op\": \"replace\", \"path\": \"/tags/0\", \"value\": \"b\"}]", 10,
                           false, &r, msg),
                     0);
    assert_json_equal(json_object_get(r, "tags"), J("[\"b\"]"));
    json_decref(r);
    /* glanceclient replaces the whole list. */
    assert_int_equal(
        patch(RECORD,
              "[{\"op\": \"replace\", \"path\": \"/tags\", \"value\": [\"x\", \"x\", \"w\"]}]", 10,
              false, &r, msg),
        0);
    assert_json_equal(json_object_get(r, "tags"), J("[\"x\", \"w\"]"));
    json_decref(r);
    assert_int_equal(
        patch(RECORD, "[{\"op\": \"remove\", \"path\": \"/tags/2\"}]", 10, false, NULL, msg),
        -EINVAL);
    assert_int_equal(patch(RECORD, "[{\"op\": \"add\", \"path\": \"/tags/3\", \"value\": \"q\"}]",
                           10, false, NULL, msg),
                     -EINVAL);
    assert_int_equal(
        patch(RECORD, "[{\"op\": \"remove\", \"path\": \"/tags/-\"}]", 10, false, NULL, msg),
        -EINVAL);
    assert_int_equal(
        patch(RECORD, "[{\"op\": \"remove\", \"path\": \"/tags/01\"}]", 10, false, NULL, msg),
        -EINVAL);
    assert_int_equal(patch(RECORD, "[{\"op\": \"add\", \"path\": \"/tags/-\", \"value\": 5}]", 10,
                           false, NULL, msg),
                     -EINVAL);
    assert_int_equal(patch(RECORD, "[{\"op\": \"add\", \"path\": \"/prop/0\", \"value\": \"x\"}]",
                           10, false, NULL, msg),
                     -EINVAL);
}

static void test_patch_refused(void **state)
{
    static const struct {
        const char *record; /* NULL: RECORD */
        const char *ops;
        int draft;
        int rc;
        const char *msg;
    } cases[] = {
        {NULL, "[{\"op\": \"replace\", \"path\": \"/status\", \"value\": \"active\"}]", 10, -EPERM,
         "Attribute 'status' is read-only."},
        {NULL, "[{\"op\": \"replace\", \"path\": \"/id\", \"value\": \"" ID1 "\"}]", 10, -EPERM,
         "Attribute 'id' is read-only."},
        {NULL, "[{\"op\": \"replace\", \"path\": \"/size\", \"value\": 1}]", 10, -EPERM, "size"},
        {NULL, "[{\"op\": \"add\", \"path\": \"/checksum\", \"value\": \"x\"}]", 10, -EPERM,
         "checksum"},
        {NULL, "[{\"op\": \"add\", \"path\": \"/locations/-\", \"value\": {}}]", 10, -EPERM,
         "locations"},
        {NULL, "[{\"op\": \"replace\", \"path\": \"/updated_at\", \"value\": \"x\"}]", 10, -EPERM,
         "updated_at"},
        {NULL, "[{\"op\": \"replace\", \"path\": \"/owner\", \"value\": \"p2\"}]", 10, -EPERM,
         "Attribute 'owner' is read-only."},
        {NULL, "[{\"op\": \"add\", \"path\": \"/_s\", \"value\": \"x\"}]", 10, -EPERM, "reserved"},
        {NULL, "[{\"op\": \"remove\", \"path\": \"/_s\"}]", 10, -EPERM, "reserved"},
        {NULL, "[{\"op\": \"remove\", \"path\": \"/name\"}]", 10, -EPERM,
         "Property name may not be removed."},
        {NULL, "[{\"op\": \"remove\", \"path\": \"/tags\"}]", 10, -EPERM, "may not be removed"},
        {NULL, "[{\"op\": \"replace\", \"path\": \"/visibility\", \"value\": \"public\"}]", 10,
         -EPERM, "publicize_image"},
        {NULL, "[{\"op\": \"remove\", \"path\": \"/nope\"}]", 10, -ECANCELED,
         "Property nope does not exist."},
        {NULL, "[{\"op\": \"replace\", \"path\": \"/nope\", \"value\": \"x\"}]", 10, -ECANCELED,
         "Property nope does not exist."},
        {NULL, "[{\"add\": \"/prop\", \"value\": \"x\"}]", 4, -ECANCELED,
         "Property prop already present."},
        {"{\"status\": \"active\", \"disk_format\": \"raw\"}",
         "[{\"op\": \"replace\", \"path\": \"/disk_format\", \"value\": \"qcow2\"}]", 10, -EPERM,
         "Attribute disk_format can be only replaced for a queued image."},
        {"{\"status\": \"active\"}",
         "[{\"op\": \"add\", \"path\": \"/container_format\", \"value\": \"bare\"}]", 10, -EPERM,
         "queued"},
        {NULL, "[{\"op\": \"replace\", \"path\": \"/min_disk\", \"value\": \"1\"}]", 10, -EINVAL,
         "min_disk"},
        {NULL, "[{\"op\": \"replace\", \"path\": \"/protected\", \"value\": \"true\"}]", 10,
         -EINVAL, "boolean"},
        {NULL, "[{\"op\": \"replace\", \"path\": \"/visibility\", \"value\": \"x\"}]", 10, -EINVAL,
         "visibility"},
        {NULL, "[{\"op\": \"add\", \"path\": \"/prop\", \"value\": 1}]", 10, -EINVAL, "prop"},
        {NULL, "[{\"op\": \"replace\", \"path\": \"/name\"}]", 10, -EINVAL,
         "requires a member named \"value\""},
        {NULL, "[{\"op\": \"move\", \"path\": \"/name\", \"from\": \"/x\"}]", 10, -EINVAL,
         "Invalid operation"},
        {NULL, "[{\"path\": \"/name\", \"value\": \"x\"}]", 10, -EINVAL, "'op'"},
        {NULL, "[{\"op\": \"add\", \"value\": \"x\"}]", 10, -EINVAL, "'path'"},
        {NULL, "[{\"op\": \"add\", \"path\": \"name\", \"value\": \"x\"}]", 10, -EINVAL,
         "does not start"},
        {NULL, "[{\"op\": \"add\", \"path\": \"/a//b\", \"value\": \"x\"}]", 10, -EINVAL, "empty"},
        {NULL, "[{\"op\": \"add\", \"path\": \"/a/\", \"value\": \"x\"}]", 10, -EINVAL, "empty"},
        {NULL, "[{\"op\": \"add\", \"path\": \"/a~2\", \"value\": \"x\"}]", 10, -EINVAL, "~"},
        {NULL, "[{\"op\": \"add\", \"path\": \"/tags/0/x\", \"value\": \"x\"}]", 10, -EINVAL,
         "Invalid JSON pointer"},
        {NULL, "[{\"add\": \"/x\", \"remove\": \"/y\"}]", 4, -EINVAL, "exactly one"},
        {NULL, "[\"x\"]", 10, -EINVAL, "objects"},
        {NULL, "{}", 10, -EINVAL, "array"},
    };
    char msg[IMGJ_MSG_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        msg[0] = '\0';
        if (patch(cases[i].record ? cases[i].record : RECORD, cases[i].ops, cases[i].draft, false,
                  NULL, msg) != cases[i].rc ||
            !strstr(msg, cases[i].msg))
            fail_msg("%s: got \"%s\"", cases[i].ops, msg);
    }
}

static void test_patch_admin_and_atomic(void **state)
{
    char msg[IMGJ_MSG_MAX];
    struct imgj_patch *p = NULL;
    json_t *r = NULL, *rec, *ops;

    (void)state;
    assert_int_equal(
        patch(RECORD,
              "[{\"op\": \"replace\", \"path\": \"/owner\", \"value\": \"p2\"},"
              " {\"op\": \"replace\", \"path\": \"/visibility\", \"value\": \"public\"}]",
              10, true, &r, msg),
        0);
    assert_string_equal(json_string_value(json_object_get(r, "owner")), "p2");
    json_decref(r);
    /* The same format on an active image is not a change. */
    assert_int_equal(
        patch("{\"status\": \"active\", \"disk_format\": \"raw\"}",
              "[{\"op\": \"replace\", \"path\": \"/disk_format\", \"value\": \"raw\"}]", 10, false,
              NULL, msg),
        0);

    /* All or nothing: a failing second op leaves the record as it was. */
    rec = Jnew(RECORD);
    ops = Jnew("[{\"op\": \"replace\", \"path\": \"/name\", \"value\": \"changed\"},"
               " {\"op\": \"remove\", \"path\": \"/missing\"}]");
    assert_int_equal(imgj_patch_parse(ops, 10, false, &p, msg), 0);
    assert_int_equal(imgj_patch_apply(rec, p, msg), -ECANCELED);
    assert_json_equal(rec, J(RECORD));
    imgj_patch_free(p);
    json_decref(ops);

    /* Property quota counts the result. */
    for (int i = 0; i < IMGJ_PROPS_MAX - 1; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        json_object_set_new(rec, name, json_string("v"));
    }
    ops = Jnew("[{\"op\": \"add\", \"path\": \"/one_more\", \"value\": \"v\"}]");
    assert_int_equal(imgj_patch_parse(ops, 10, false, &p, msg), 0);
    assert_int_equal(imgj_patch_apply(rec, p, msg), -EFBIG);
    imgj_patch_free(p);
    json_decref(ops);
    json_decref(rec);
}

/* ---- tags ---- */

static void test_tags(void **state)
{
    char msg[IMGJ_MSG_MAX], tag[300];
    json_t *rec = Jnew("{\"id\": \"x\"}");

    (void)state;
    assert_int_equal(imgj_tag_add(rec, "a", msg), 0);
    assert_int_equal(imgj_tag_add(rec, "b", msg), 0);
    assert_int_equal(imgj_tag_add(rec, "a", msg), 0);
    assert_json_equal(json_object_get(rec, "tags"), J("[\"a\", \"b\"]"));
    assert_int_equal(imgj_tag_remove(rec, "a", msg), 0);
    assert_int_equal(imgj_tag_remove(rec, "a", msg), -ENOENT);
    assert_non_null(strstr(msg, "not found"));
    memset(tag, 't', 256);
    tag[256] = '\0';
    assert_int_equal(imgj_tag_check(tag, msg), -EINVAL);
    assert_int_equal(imgj_tag_add(rec, tag, msg), -EINVAL);
    for (int i = 0; i < IMGJ_TAGS_MAX - 1; i++) {
        snprintf(tag, sizeof(tag), "t%d", i);
        assert_int_equal(imgj_tag_add(rec, tag, msg), 0);
    }
    assert_int_equal(imgj_tag_add(rec, "b", msg), 0);
    assert_int_equal(imgj_tag_add(rec, "overflow", msg), -EFBIG);
    json_decref(rec);
}

/* ---- list ---- */

struct kv {
    const char *name;
    const char *value;
};

static const char *kv_get(void *arg, const char *name, size_t nth)
{
    for (const struct kv *kv = arg; kv->name; kv++) {
        if (strcmp(kv->name, name) == 0 && nth-- == 0)
            return kv->value;
    }
    return NULL;
}

static int parse(const struct kv *args, struct imgj_list_query *q, char *msg)
{
    return imgj_list_parse(kv_get, (void *)args, q, msg);
}

/* Six images: ids i1..i6 created in that order. */
static json_t *images(void)
{
    return Jnew(
        "["
        "{\"id\": \"i3\", \"name\": \"b\", \"size\": 30, \"created_at\": \"2026-01-03T00:00:00Z\","
        " \"status\": \"active\", \"tags\": [\"x\"], \"os_hidden\": false, \"protected\": false,"
        " \"visibility\": \"public\"},"
        "{\"id\": \"i1\", \"name\": \"a\", \"size\": 10, \"created_at\": \"2026-01-01T00:00:00Z\","
        " \"status\": \"active\", \"tags\": [\"x\", \"y\"], \"visibility\": \"shared\"},"
        "{\"id\": \"i2\", \"name\": \"c\", \"size\": null, \"created_at\": "
        "\"2026-01-02T00:00:00Z\","
        " \"status\": \"queued\", \"tags\": [], \"visibility\": \"private\"},"
        "{\"id\": \"i4\", \"name\": \"b\", \"size\": 20, \"created_at\": \"2026-01-04T00:00:00Z\","
        " \"status\": \"active\", \"tags\": [\"y\"], \"protected\": true, \"visibility\": "
        "\"shared\"},"
        "{\"id\": \"i6\", \"name\": \"h\", \"size\": 5, \"created_at\": \"2026-01-06T00:00:00Z\","
        " \"status\": \"active\", \"tags\": [], \"os_hidden\": true, \"visibility\": \"shared\"},"
        "{\"id\": \"i5\", \"name\": \"a\", \"size\": 50, \"created_at\": \"2026-01-05T00:00:00Z\","
        " \"status\": \"active\", \"tags\": [], \"visibility\": \"community\"}"
        "]");
}

/* Comma-joined ids of a filtered, sorted, paged listing. */
static char *ids_of(const struct kv *args, const json_t *marker_rec, bool *more)
{
    struct imgj_list_query q;
    char msg[IMGJ_MSG_MAX], *out = calloc(1, 256);
    json_t *all = images(), *page = NULL, *img;
    size_t i;

    assert_int_equal(parse(args, &q, msg), 0);
    imgj_list_filter(all, &q);
    assert_int_equal(imgj_list_page(all, &q, marker_rec, &page, more), 0);
    json_array_foreach(page, i, img)
    {
        if (i)
            strcat(out, ",");
        strcat(out, json_string_value(json_object_get(img, "id")));
    }
    json_decref(page);
    json_decref(all);
    return out;
}

static void assert_ids(const struct kv *args, const char *want, bool want_more)
{
    bool more = !want_more;
    char *got = ids_of(args, NULL, &more);

    assert_string_equal(got, want);
    assert_int_equal(more, want_more);
    free(got);
}

static void test_list_parse(void **state)
{
    struct imgj_list_query q;
    char msg[IMGJ_MSG_MAX];

    (void)state;
    assert_int_equal(parse((struct kv[]){{NULL, NULL}}, &q, msg), 0);
    assert_int_equal(q.limit, IMGJ_LIMIT_DEFAULT);
    assert_false(q.limit_given);
    assert_null(q.marker);
    assert_int_equal(q.nsort, 2);
    assert_string_equal(q.sort[0].key, "created_at");
    assert_true(q.sort[0].desc);
    assert_string_equal(q.sort[1].key, "id");
    assert_true(q.sort[1].desc);

    assert_int_equal(parse((struct kv[]){{"sort", "name:asc,size"}, {NULL, NULL}}, &q, msg), 0);
    assert_int_equal(q.nsort, 4);
    assert_string_equal(q.sort[0].key, "name");
    assert_false(q.sort[0].desc);
    assert_string_equal(q.sort[1].key, "size");
    assert_true(q.sort[1].desc);
    assert_true(q.sort[3].desc);

    assert_int_equal(
        parse((struct kv[]){{"sort_key", "name"}, {"sort_dir", "asc"}, {NULL, NULL}}, &q, msg), 0);
    assert_int_equal(q.nsort, 3);
    assert_false(q.sort[1].desc); /* the tie-breaks follow the only direction */
    assert_false(q.sort[2].desc);

    assert_int_equal(parse((struct kv[]){{"sort_key", "name"},
                                         {"sort_key", "id"},
                                         {"sort_dir", "asc,desc"},
                                         {NULL, NULL}},
                           &q, msg),
                     0);
    assert_int_equal(q.nsort, 3);
    assert_false(q.sort[0].desc);
    assert_true(q.sort[1].desc);
    assert_string_equal(q.sort[2].key, "created_at");

    assert_int_equal(
        parse((struct kv[]){{"limit", "5000"}, {"marker", "i1"}, {NULL, NULL}}, &q, msg), 0);
    assert_int_equal(q.limit, IMGJ_LIMIT_MAX);
    assert_true(q.limit_given);
    assert_string_equal(q.marker, "i1");

    assert_int_equal(parse((struct kv[]){{"name", "a"},
                                         {"name", "in:a,b"},
                                         {"id", "i1"},
                                         {"tag", "x"},
                                         {"visibility", "all"},
                                         {NULL, NULL}},
                           &q, msg),
                     0);
    assert_int_equal(q.narg, 5);
    assert_true(q.arg[0].service);
    assert_false(q.arg[1].service); /* in: is ours */
    for (size_t i = 2; i < q.narg; i++)
        assert_int_equal(q.arg[i].service, strcmp(q.arg[i].name, "id") != 0);
}

static void test_list_parse_refused(void **state)
{
    static const struct {
        struct kv args[3];
        const char *msg;
    } cases[] = {
        {{{"limit", "abc"}}, "limit param must be an integer"},
        {{{"limit", "-1"}}, "limit param must be positive"},
        {{{"limit", "1.5"}}, "integer"},
        {{{"sort_key", "owner"}}, "Invalid sort key: owner"},
        {{{"sort_dir", "up"}}, "Invalid sort direction: up"},
        {{{"sort", "name:sideways"}}, "Invalid sort direction"},
        {{{"sort", "name"}, {"sort_key", "id"}}, "cannot be combined"},
        {{{"sort_key", "name,id,size"}, {"sort_dir", "asc,desc"}}, "does not match"},
        {{{"visibility", "everyone"}}, "Invalid visibility value"},
        {{{"os_hidden", "maybe"}}, "os_hidden"},
        {{{"protected", "1x"}}, "protected"},
        {{{"size_min", "-3"}}, "size_min"},
        {{{"size_max", "big"}}, "size_max"},
    };
    struct imgj_list_query q;
    char msg[IMGJ_MSG_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        msg[0] = '\0';
        if (parse(cases[i].args, &q, msg) != -EINVAL || !strstr(msg, cases[i].msg))
            fail_msg("case %zu: got \"%s\"", i, msg);
    }
}

static void test_list_filter_sort(void **state)
{
    (void)state;
    /* Default: created_at desc, hidden images left out. */
    assert_ids((struct kv[]){{NULL, NULL}}, "i5,i4,i3,i2,i1", false);
    assert_ids((struct kv[]){{"os_hidden", "true"}, {NULL, NULL}}, "i6", false);
    assert_ids((struct kv[]){{"name", "b"}, {NULL, NULL}}, "i4,i3", false);
    assert_ids((struct kv[]){{"name", "in:a, c"}, {NULL, NULL}}, "i5,i2,i1", false);
    assert_ids((struct kv[]){{"status", "queued"}, {NULL, NULL}}, "i2", false);
    assert_ids((struct kv[]){{"tag", "x"}, {NULL, NULL}}, "i3,i1", false);
    assert_ids((struct kv[]){{"tag", "x"}, {"tag", "y"}, {NULL, NULL}}, "i1", false);
    assert_ids((struct kv[]){{"size_min", "20"}, {"size_max", "30"}, {NULL, NULL}}, "i4,i3", false);
    assert_ids((struct kv[]){{"protected", "true"}, {NULL, NULL}}, "i4", false);
    assert_ids((struct kv[]){{"protected", "false"}, {NULL, NULL}}, "i5,i3,i2,i1", false);
    assert_ids((struct kv[]){{"visibility", "shared"}, {NULL, NULL}}, "i4,i1", false);
    assert_ids((struct kv[]){{"visibility", "all"}, {NULL, NULL}}, "i5,i4,i3,i2,i1", false);
    assert_ids((struct kv[]){{"member_status", "all"}, {NULL, NULL}}, "i5,i4,i3,i2,i1", false);

    /* Multi-key sorts; null sizes sort first ascending. */
    assert_ids((struct kv[]){{"sort", "name:asc,size:desc"}, {NULL, NULL}}, "i5,i1,i3,i4,i2",
               false);
    assert_ids((struct kv[]){{"sort_key", "size"}, {"sort_dir", "asc"}, {NULL, NULL}},
               "i2,i1,i4,i3,i5", false);
    assert_ids((struct kv[]){{"sort_key", "name"}, {"sort_dir", "asc"}, {NULL, NULL}},
               "i1,i5,i3,i4,i2", false);
    assert_ids((struct kv[]){{"sort_key", "name"}, {NULL, NULL}}, "i2,i4,i3,i5,i1", false);
    assert_ids(
        (struct kv[]){{"sort_key", "name"}, {"sort_dir", "asc"}, {"limit", "0"}, {NULL, NULL}}, "",
        true);
}

static void test_list_paging(void **state)
{
    struct imgj_list_query q;
    char msg[IMGJ_MSG_MAX], *got;
    json_t *all, *page = NULL, *marker;
    bool more = false;

    (void)state;
    assert_ids((struct kv[]){{"limit", "2"}, {NULL, NULL}}, "i5,i4", true);
    assert_ids((struct kv[]){{"limit", "2"}, {"marker", "i4"}, {NULL, NULL}}, "i3,i2", true);
    assert_ids((struct kv[]){{"limit", "2"}, {"marker", "i2"}, {NULL, NULL}}, "i1", false);
    assert_ids((struct kv[]){{"limit", "3"}, {"marker", "i3"}, {NULL, NULL}}, "i2,i1", false);
    assert_ids((struct kv[]){{"marker", "i1"}, {NULL, NULL}}, "", false);
    assert_ids((struct kv[]){{"sort", "name:asc"}, {"limit", "2"}, {"marker", "i5"}, {NULL, NULL}},
               "i3,i4", true);

    /* A marker the filter removed is placed by its record. */
    marker = Jnew("{\"id\": \"i6\", \"created_at\": \"2026-01-03T12:00:00Z\"}");
    got = ids_of((struct kv[]){{"limit", "2"}, {"marker", "i6"}, {NULL, NULL}}, marker, &more);
    assert_string_equal(got, "i3,i2");
    assert_true(more);
    free(got);
    json_decref(marker);

    /* An unknown marker. */
    all = images();
    assert_int_equal(parse((struct kv[]){{"marker", "nope"}, {NULL, NULL}}, &q, msg), 0);
    assert_int_equal(imgj_list_page(all, &q, NULL, &page, &more), -ENOENT);
    json_decref(all);
}

static void test_list_links(void **state)
{
    struct imgj_list_query q;
    char msg[IMGJ_MSG_MAX];
    json_t *body;

    (void)state;
    assert_int_equal(parse((struct kv[]){{"limit", "2"},
                                         {"name", "a b&c"},
                                         {"sort", "name:asc"},
                                         {"marker", "i1"},
                                         {NULL, NULL}},
                           &q, msg),
                     0);
    body = imgj_list_body(json_array(), &q, "i4");
    assert_string_equal(json_string_value(json_object_get(body, "first")),
                        "/v2/images?limit=2&name=a%20b%26c&sort=name%3Aasc");
    assert_string_equal(json_string_value(json_object_get(body, "next")),
                        "/v2/images?marker=i4&limit=2&name=a%20b%26c&sort=name%3Aasc");
    assert_string_equal(json_string_value(json_object_get(body, "schema")), "/v2/schemas/images");
    assert_true(json_is_array(json_object_get(body, "images")));
    json_decref(body);

    assert_int_equal(parse((struct kv[]){{NULL, NULL}}, &q, msg), 0);
    body = imgj_list_body(json_array(), &q, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "first")), "/v2/images");
    assert_null(json_object_get(body, "next"));
    json_decref(body);
    body = imgj_list_body(json_array(), &q, "i9");
    assert_string_equal(json_string_value(json_object_get(body, "next")),
                        "/v2/images?marker=i9&limit=25");
    json_decref(body);
}

/* ---- downloads ---- */

static void test_range(void **state)
{
    static const struct {
        const char *header;
        uint64_t size;
        int rc;
        bool partial;
        uint64_t offset, length;
    } cases[] = {
        {NULL, 1000, 0, false, 0, 1000},
        {"bytes=0-99", 1000, 0, true, 0, 100},
        {"bytes=100-", 1000, 0, true, 100, 900},
        {"bytes=-100", 1000, 0, true, 900, 100},
        {"bytes=-2000", 1000, 0, true, 0, 1000},
        {"bytes=0-5000", 1000, 0, true, 0, 1000},
        {"bytes=999-999", 1000, 0, true, 999, 1},
        {"bytes=0-0", 1, 0, true, 0, 1},
        {"BYTES = 1-2 ", 1000, 0, true, 1, 2},
        {"bytes=1000-", 1000, -ERANGE, false, 0, 0},
        {"bytes=1000-2000", 1000, -ERANGE, false, 0, 0},
        {"bytes=-0", 1000, -ERANGE, false, 0, 0},
        {"bytes=0-", 0, -ERANGE, false, 0, 0},
        {"bytes=-5", 0, -ERANGE, false, 0, 0},
        {"bytes=5-2", 1000, 0, false, 0, 1000},
        {"bytes=0-1,5-6", 1000, 0, false, 0, 1000},
        {"items=0-1", 1000, 0, false, 0, 1000},
        {"bytes=abc", 1000, 0, false, 0, 1000},
        {"bytes=-", 1000, 0, false, 0, 1000},
        {"bytes=1-2x", 1000, 0, false, 0, 1000},
        {"bytes 0-1", 1000, 0, false, 0, 1000},
        {"bytes=99999999999999999999999-", 1000, 0, false, 0, 1000},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct imgj_range r;
        int rc = imgj_parse_range(cases[i].header, cases[i].size, &r);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d", cases[i].header ? cases[i].header : "(none)", rc);
        if (rc == 0 && (r.partial != cases[i].partial || r.offset != cases[i].offset ||
                        r.length != cases[i].length))
            fail_msg("%s: got %d %llu+%llu", cases[i].header ? cases[i].header : "(none)",
                     r.partial, (unsigned long long)r.offset, (unsigned long long)r.length);
    }
}

static void test_media_type(void **state)
{
    (void)state;
    assert_true(imgj_media_type_is("application/octet-stream", "application/octet-stream"));
    assert_true(imgj_media_type_is(" Application/Octet-Stream ; x=1", "application/octet-stream"));
    assert_false(imgj_media_type_is("application/octet-streamx", "application/octet-stream"));
    assert_false(imgj_media_type_is("application/json", "application/octet-stream"));
    assert_false(imgj_media_type_is(NULL, "application/octet-stream"));
}

/* ---- small bodies ---- */

static void test_import_and_clone_bodies(void **state)
{
    struct imgj_clone_req c;
    const char *method = NULL;
    char msg[IMGJ_MSG_MAX];

    (void)state;
    assert_int_equal(
        imgj_import_method(J("{\"method\": {\"name\": \"glance-direct\"}}"), &method, msg), 0);
    assert_string_equal(method, "glance-direct");
    assert_int_equal(imgj_import_method(J("{\"method\": {\"name\": \"web-download\","
                                          " \"uri\": \"http://x\"}}"),
                                        &method, msg),
                     -EINVAL);
    assert_int_equal(imgj_import_method(J("{}"), &method, msg), -EINVAL);
    assert_int_equal(imgj_import_method(J("{\"method\": \"glance-direct\"}"), &method, msg),
                     -EINVAL);

    assert_int_equal(imgj_clone_req(J("{\"pool\": \"strata.volumes\", \"name\": \"volume-1\","
                                      " \"size\": 1073741824}"),
                                    &c, msg),
                     0);
    assert_string_equal(c.pool, "strata.volumes");
    assert_string_equal(c.name, "volume-1");
    assert_int_equal(c.size, 1073741824);
    assert_int_equal(imgj_clone_req(J("{\"pool\": \"p\", \"name\": \"n\"}"), &c, msg), 0);
    assert_int_equal(c.size, 0);
    assert_int_equal(imgj_clone_req(J("{\"pool\": \"p\"}"), &c, msg), -EINVAL);
    assert_int_equal(imgj_clone_req(J("{\"pool\": \"p\", \"name\": \"a/b\"}"), &c, msg), -EINVAL);
    /* one name rule with the service (st_rbd_name_valid): no snapshot specs,
     * option strings, spaces or over-long names reach librbd */
    assert_int_equal(imgj_clone_req(J("{\"pool\": \"p\", \"name\": \"n@s\"}"), &c, msg), -EINVAL);
    assert_int_equal(imgj_clone_req(J("{\"pool\": \"p\", \"name\": \"a:b=c\"}"), &c, msg), -EINVAL);
    assert_int_equal(imgj_clone_req(J("{\"pool\": \"p\", \"name\": \"a b\"}"), &c, msg), -EINVAL);
    assert_non_null(strstr(msg, "letters, digits"));
    char long_name[ST_RBD_NAME_MAX + 2];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_false(st_rbd_name_valid(long_name));
    long_name[ST_RBD_NAME_MAX] = '\0';
    assert_true(st_rbd_name_valid(long_name));
    assert_true(st_rbd_name_valid("volume-0b5e_1.x"));
    assert_false(st_rbd_name_valid(""));
    assert_false(st_rbd_name_valid(NULL));
    assert_int_equal(imgj_clone_req(J("{\"pool\": \"\", \"name\": \"n\"}"), &c, msg), -EINVAL);
    assert_int_equal(imgj_clone_req(J("{\"pool\": \"p\", \"name\": \"n\", \"size\": -1}"), &c, msg),
                     -EINVAL);
    assert_int_equal(
        imgj_clone_req(J("{\"pool\": \"p\", \"name\": \"n\", \"size\": \"1\"}"), &c, msg), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_view_matches_glance_show),
        cmocka_unit_test(test_view_matches_glance_create),
        cmocka_unit_test(test_view_list_fixture_keys),
        cmocka_unit_test(test_view_direct_url_and_locations),
        cmocka_unit_test(test_view_members),
        cmocka_unit_test(test_view_import_outcome),
        cmocka_unit_test(test_schema_document),
        cmocka_unit_test(test_versions_and_info),
        cmocka_unit_test(test_create_good),
        cmocka_unit_test(test_create_refused),
        cmocka_unit_test(test_create_lengths),
        cmocka_unit_test(test_patch_media_type),
        cmocka_unit_test(test_patch_properties),
        cmocka_unit_test(test_patch_tags),
        cmocka_unit_test(test_patch_refused),
        cmocka_unit_test(test_patch_admin_and_atomic),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_list_parse),
        cmocka_unit_test(test_list_parse_refused),
        cmocka_unit_test(test_list_filter_sort),
        cmocka_unit_test(test_list_paging),
        cmocka_unit_test(test_list_links),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_media_type),
        cmocka_unit_test(test_import_and_clone_bodies),
    };

    return cmocka_run_group_tests(tests, NULL, pool_free);
}
