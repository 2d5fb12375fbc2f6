/* test_blockd_json.c — blockd/vol_json.c with no cluster: volume and snapshot
 * views against recorded Cinder responses (3.0 and 3.70, admin and not),
 * microversions, request bodies, list filters/sorting/paging/links, the
 * metadata query and the version documents. */
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

#include "vol_conn.h"
#include "vol_json.h"
#include "json_assert.h"

#define FIXTURES STRATA_SOURCE_DIR "/../shared/fixtures/openstack"
#define PROJECT "e6b5bbf1a1b54a9ba0c1d2e3f4a5b6c7"
#define BASE "http://127.0.0.1:18776"

static const struct volj_ctx admin30 = {BASE, PROJECT, 0, true};
static const struct volj_ctx admin370 = {BASE, PROJECT, 70, true};
static const struct volj_ctx member30 = {BASE, PROJECT, 0, false};

/* ---- helpers ---- */

static json_t *pool[1024];
static size_t npool;

/* A JSON value borrowed for the rest of the run. */
static json_t *J(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &err);

    if (!j)
        fail_msg("bad test JSON: %s: %s", err.text, text);
    assert_true(npool < sizeof(pool) / sizeof(pool[0]));
    return pool[npool++] = j;
}

static int pool_free(void **state)
{
    (void)state;
    while (npool > 0)
        json_decref(pool[--npool]);
    return 0;
}

/* A fixture's single member ("volume", "snapshot"...), borrowed for the run.
 * A fixture that is missing or unreadable fails the test: a test that cannot
 * run must not pass. */
static json_t *fixture(const char *name, const char *member)
{
    char path[1024];
    json_error_t err;
    json_t *doc, *m;

    snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
    if (!(doc = json_load_file(path, 0, &err)))
        fail_msg("fixture %s cannot be read (%s): the OpenStack fixtures are expected in "
                 "../shared/fixtures beside the checkout",
                 path, err.text);
    pool[npool++] = doc;
    if (!(m = json_object_get(doc, member)))
        fail_msg("fixture %s has no member \"%s\"", path, member);
    return m;
}

/* Members only admins see. */
static const char *const admin_keys[] = {"migration_status",
                                         "os-vol-host-attr:host",
                                         "os-vol-mig-status-attr:migstat",
                                         "os-vol-mig-status-attr:name_id",
                                         "provider_id",
                                         "cluster_name",
                                         NULL};

/* The stored form of a volume as Cinder showed it: computed and extension
 * members out (under their record names), Strata's private state in. */
static json_t *volume_record(const json_t *view)
{
    json_t *rec = json_deep_copy(view), *v;

    json_object_del(rec, "links");
    if ((v = json_object_get(rec, "os-vol-tenant-attr:tenant_id")))
        json_object_set(rec, "project_id", v);
    else
        json_object_set_new(rec, "project_id", json_string(PROJECT));
    if ((v = json_object_get(rec, "os-vol-host-attr:host")))
        json_object_set(rec, "host", v);
    json_object_del(rec, "os-vol-tenant-attr:tenant_id");
    json_object_del(rec, "os-vol-host-attr:host");
    json_object_del(rec, "os-vol-mig-status-attr:migstat");
    json_object_del(rec, "os-vol-mig-status-attr:name_id");
    json_object_set_new(
        rec, "bootable",
        json_boolean(strcmp(json_string_value(json_object_get(view, "bootable")), "true") == 0));
    json_object_set_new(rec, "_s", json_pack("{s:s,s:i}", "rbd", "volumes/volume-x", "lease", 7));
    json_object_set_new(rec, "pool_private", json_string("not shown"));
    pool[npool++] = rec;
    return rec;
}

static json_t *view_of(const json_t *rec, enum volj_view_kind kind, const struct volj_ctx *c)
{
    json_t *v = volj_volume_view(rec, kind, c);

    assert_non_null(v);
    assert_null(json_object_get(v, "_s"));
    assert_null(json_object_get(v, "pool_private"));
    pool[npool++] = v;
    return v;
}

/* ---- views ---- */

static void test_volume_show_fixture_30(void **state)
{
    json_t *want = fixture("cinder-volume-show.json", "volume");

    (void)state;
    assert_json_equal(view_of(volume_record(want), VOLJ_DETAIL, &admin30), want);
}

static void test_volume_show_fixture_370(void **state)
{
    json_t *want = fixture("cinder-volume-show-mv3.70.json", "volume"), *got, *w;

    (void)state;
    got = view_of(volume_record(want), VOLJ_DETAIL, &admin370);
    assert_same_keys(got, want);
    assert_json_equal(got, want);   /* the record's volume_type_id, as Cinder shows it */
    /* a record without one (made before types existed) shows the default type's */
    w = volume_record(want);
    json_object_del(w, "volume_type_id");
    got = view_of(w, VOLJ_DETAIL, &admin370);
    assert_string_equal(json_string_value(json_object_get(got, "volume_type_id")),
                        VOLJ_DEFAULT_TYPE_ID);
    /* Between: group_id from 3.13, shared_targets/service_uuid from 3.48. */
    struct volj_ctx c = admin30;
    c.mv = 13;
    got = view_of(volume_record(want), VOLJ_DETAIL, &c);
    assert_non_null(json_object_get(got, "group_id"));
    assert_null(json_object_get(got, "service_uuid"));
    c.mv = 48;
    got = view_of(volume_record(want), VOLJ_DETAIL, &c);
    assert_non_null(json_object_get(got, "service_uuid"));
    assert_null(json_object_get(got, "volume_type_id"));
}

static void test_volume_admin_only_keys(void **state)
{
    json_t *want = fixture("cinder-volume-show-mv3.70.json", "volume"), *got, *w;
    struct volj_ctx c = admin370;

    (void)state;
    c.is_admin = false;
    got = view_of(volume_record(want), VOLJ_DETAIL, &c);
    w = json_deep_copy(want);
    pool[npool++] = w;
    for (size_t i = 0; admin_keys[i]; i++)
        json_object_del(w, admin_keys[i]);
    assert_same_keys(got, w);
    assert_string_equal(json_string_value(json_object_get(got, "os-vol-tenant-attr:tenant_id")),
                        PROJECT);
    got = view_of(volume_record(want), VOLJ_DETAIL, &member30);
    for (size_t i = 0; admin_keys[i]; i++)
        assert_null(json_object_get(got, admin_keys[i]));
}

static void test_volume_create_fixture(void **state)
{
    json_t *want = fixture("cinder-volume-create.json", "volume");

    (void)state;
    assert_json_equal(view_of(volume_record(want), VOLJ_BASIC, &admin30), want);
}

static void test_volume_from_image_fixture(void **state)
{
    json_t *want = fixture("cinder-volume-show-from-image.json", "volume"), *rec;

    (void)state;
    rec = volume_record(want);
    /* Stored with native types; Cinder shows every value as a string. */
    json_object_set_new(json_object_get(rec, "volume_image_metadata"), "size",
                        json_integer(1073741824));
    json_object_set_new(json_object_get(rec, "volume_image_metadata"), "min_disk", json_integer(0));
    assert_json_equal(view_of(rec, VOLJ_DETAIL, &admin30), want);
    /* Not an extension attribute of create/update replies. */
    assert_null(json_object_get(view_of(rec, VOLJ_BASIC, &admin30), "volume_image_metadata"));
}

static void test_volume_list_detail_fixture(void **state)
{
    json_t *want = fixture("cinder-volume-list-detail.json", "volumes"), *v;
    size_t i;

    (void)state;
    assert_true(json_array_size(want) > 0);
    json_array_foreach(want, i, v)
    {
        assert_json_equal(view_of(volume_record(v), VOLJ_DETAIL, &admin30), v);
    }
}

static void test_volume_summary_and_defaults(void **state)
{
    json_t *rec = J("{\"id\": \"v1\", \"name\": \"n\", \"status\": \"available\", \"size\": 2,"
                    " \"created_at\": 1700000000, \"updated_at\": \"2026-11-22T10:47:02Z\","
                    " \"_s\": {\"secret\": 1}}");
    json_t *v = view_of(rec, VOLJ_SUMMARY, &member30);

    (void)state;
    assert_json_equal(v, J("{\"id\": \"v1\", \"name\": \"n\", \"links\": ["
                           "{\"href\": \"" BASE "/v3/" PROJECT "/volumes/v1\", \"rel\": \"self\"},"
                           "{\"href\": \"" BASE "/" PROJECT "/volumes/v1\", \"rel\": \"bookmark\"}"
                           "]}"));
    v = view_of(rec, VOLJ_DETAIL, &member30);
    assert_string_equal(json_string_value(json_object_get(v, "created_at")),
                        "2023-11-14T22:13:20.000000");
    assert_string_equal(json_string_value(json_object_get(v, "updated_at")),
                        "2026-11-22T10:47:02.000000");
    assert_string_equal(json_string_value(json_object_get(v, "bootable")), "false");
    assert_string_equal(json_string_value(json_object_get(v, "volume_type")), "__DEFAULT__");
    assert_true(json_is_false(json_object_get(v, "encrypted")));
    assert_true(json_is_array(json_object_get(v, "attachments")));
    assert_true(json_is_object(json_object_get(v, "metadata")));
    assert_true(json_is_null(json_object_get(v, "os-vol-tenant-attr:tenant_id")));
    assert_null(json_object_get(v, "volume_image_metadata"));
}

static void test_time_forms(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\"2026-11-22T10:48:41.949833\"", "2026-11-22T10:48:41.949833"},
        {"\"2026-11-22T10:48:41Z\"", "2026-11-22T10:48:41.000000"},
        {"\"2026-11-22 10:48:41.5+00:00\"", "2026-11-22T10:48:41.500000"},
        {"0", "1970-01-01T00:00:00.000000"},
        {"\"not a time\"", "not a time"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *t = volj_time(J(cases[i].in));
        assert_string_equal(json_string_value(t), cases[i].out);
        json_decref(t);
    }
    json_t *t = volj_time(NULL);
    assert_true(json_is_null(t));
    json_decref(t);
}

static json_t *snapshot_record(const json_t *view)
{
    json_t *rec = json_deep_copy(view), *v;

    if ((v = json_object_get(rec, "os-extended-snapshot-attributes:project_id")))
        json_object_set(rec, "project_id", v);
    json_object_del(rec, "os-extended-snapshot-attributes:project_id");
    json_object_del(rec, "os-extended-snapshot-attributes:progress");
    json_object_set_new(rec, "_s", json_pack("{s:s}", "rbd", "snap"));
    pool[npool++] = rec;
    return rec;
}

static void test_snapshot_fixtures(void **state)
{
    json_t *show = fixture("cinder-snapshot-show.json", "snapshot");
    json_t *create = fixture("cinder-snapshot-create.json", "snapshot"), *got;

    (void)state;
    got = volj_snapshot_view(snapshot_record(show), true, &admin30);
    pool[npool++] = got;
    assert_json_equal(got, show);
    got = volj_snapshot_view(snapshot_record(create), false, &member30);
    pool[npool++] = got;
    assert_json_equal(got, create);
    got = volj_snapshot_view(snapshot_record(create), true, &admin370);
    pool[npool++] = got;
    assert_null(json_object_get(got, "_s"));
    assert_string_equal(
        json_string_value(json_object_get(got, "os-extended-snapshot-attributes:progress")), "0%");
    assert_non_null(json_object_get(got, "group_snapshot_id"));
    assert_non_null(json_object_get(got, "user_id"));
    assert_true(json_is_true(json_object_get(got, "consumes_quota")));
}

static void test_versions(void **state)
{
    json_t *v = volj_versions("http://h:1"), *one = volj_version("http://localhost:8776"), *d;

    (void)state;
    pool[npool++] = v;
    pool[npool++] = one;
    d = json_array_get(json_object_get(v, "versions"), 0);
    assert_string_equal(json_string_value(json_object_get(d, "version")), "3.70");
    assert_string_equal(json_string_value(json_object_get(d, "min_version")), "3.0");
    assert_string_equal(json_string_value(json_object_get(d, "status")), "CURRENT");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(d, "links"), 1), "href")),
        "http://h:1/v3/");
    d = json_object_get(one, "version");
    assert_string_equal(json_string_value(json_object_get(d, "id")), "v3.0");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(d, "links"), 1), "href")),
        "http://localhost:8776/v3/");
}

/* ---- microversions ---- */

static void test_microversion(void **state)
{
    static const struct {
        const char *header, *legacy;
        int rc;
        unsigned mv;
    } cases[] = {
        {NULL, NULL, 0, 0},
        {"volume 3.44", NULL, 0, 44},
        {"Volume   3.0", NULL, 0, 0},
        {"volume latest", NULL, 0, VOLJ_MV_MAX},
        {"compute 2.1, volume 3.27", NULL, 0, 27},
        {"compute 2.1", NULL, 0, 0},
        {NULL, "3.5", 0, 5},
        {"volume 3.7", "3.5", 0, 7},
        {"volume 3.70", NULL, 0, 70},
        {"volume 3.71", NULL, -ERANGE, 0},
        {"volume 2.0", NULL, -ERANGE, 0},
        {"volume 4.0", NULL, -ERANGE, 0},
        {"volume 3", NULL, -EINVAL, 0},
        {"volume 3.x", NULL, -EINVAL, 0},
        {"volume 3.05", NULL, -EINVAL, 0},
        {"volume .5", NULL, -EINVAL, 0},
        {NULL, "abc", -EINVAL, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char msg[VOLJ_MSG_MAX] = "";
        unsigned mv = 999;
        int rc = volj_microversion(cases[i].header, cases[i].legacy, &mv, msg);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): rc %d, want %d", i, cases[i].header, rc, cases[i].rc);
        if (rc == 0)
            assert_int_equal(mv, cases[i].mv);
        else
            assert_true(msg[0]);
    }
}

/* ---- request bodies ---- */

static void test_create_body_ok(void **state)
{
    struct volj_create c;
    char msg[VOLJ_MSG_MAX];

    (void)state;
    assert_int_equal(volj_volume_create(J("{\"volume\": {\"size\": 1, \"name\": \"a\"}}"), &c, msg),
                     0);
    assert_int_equal(c.size_gb, 1);
    assert_string_equal(c.name, "a");
    assert_null(c.volume_type);
    assert_int_equal(volj_volume_create(J("{\"volume\": {\"size\": \"10\", \"display_name\": \"b\","
                                          " \"volume_type\": \"__DEFAULT__\", \"metadata\":"
                                          " {\"k\": \"v\"}, \"imageRef\": \"img\","
                                          " \"availability_zone\": \"nova\"}}"),
                                        &c, msg),
                     0);
    assert_int_equal(c.size_gb, 10);
    assert_string_equal(c.name, "b");
    assert_string_equal(c.volume_type, "__DEFAULT__");   /* resolved by the service */
    assert_string_equal(c.image_id, "img");
    assert_non_null(c.metadata);
    assert_int_equal(volj_volume_create(J("{\"volume\": {\"snapshot_id\":"
                                          " \"75d263b3-0b91-4e3e-a3b1-137a20126c24\"}}"),
                                        &c, msg),
                     0);
    assert_int_equal(c.size_gb, 0);
}

static void test_create_body_bad(void **state)
{
    static const struct {
        const char *body;
        int rc;
    } cases[] = {
        {"{}", -EINVAL},
        {"{\"volume\": 1}", -EINVAL},
        {"{\"volume\": {}}", -EINVAL},
        {"{\"volume\": {\"size\": 0}}", -EINVAL},
        {"{\"volume\": {\"size\": -1}}", -EINVAL},
        {"{\"volume\": {\"size\": 1.5}}", -EINVAL},
        {"{\"volume\": {\"size\": \"1x\"}}", -EINVAL},
        {"{\"volume\": {\"size\": true}}", -EINVAL},
        {"{\"volume\": {\"size\": 1, \"name\": 5}}", -EINVAL},
        {"{\"volume\": {\"size\": 1, \"metadata\": []}}", -EINVAL},
        {"{\"volume\": {\"size\": 1, \"metadata\": {\"k\": 1}}}", -EINVAL},
        {"{\"volume\": {\"size\": 1, \"metadata\": {\"\": \"v\"}}}", -EINVAL},
        {"{\"volume\": {\"size\": 1, \"metadata\": {\"a*b\": \"v\"}}}", -EINVAL},
        {"{\"volume\": {\"size\": 1, \"snapshot_id\": \"nope\"}}", -EINVAL},
        {"{\"volume\": {\"size\": 1, \"source_volid\": 3}}", -EINVAL},
        {"{\"volume\": {\"snapshot_id\": \"75d263b3-0b91-4e3e-a3b1-137a20126c24\","
         " \"source_volid\": \"5765c863-b6f3-46a8-95b6-dccfa8ddf890\"}}",
         -EINVAL},
        {"{\"volume\": {\"imageRef\": \"x\", \"source_volid\":"
         " \"5765c863-b6f3-46a8-95b6-dccfa8ddf890\"}}",
         -EINVAL},
        {"{\"volume\": {\"size\": 1, \"volume_type\": 5}}", -EINVAL},
        {"{\"volume\": {\"size\": 1, \"backup_id\": \"b\"}}", -EINVAL},
        {"{\"volume\": {\"size\": 1, \"multiattach\": true}}", -EINVAL},
    };
    char longname[300], body[400];
    struct volj_create c;
    char msg[VOLJ_MSG_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        msg[0] = '\0';
        int rc = volj_volume_create(J(cases[i].body), &c, msg);
        if (rc != cases[i].rc)
            fail_msg("case %s: rc %d, want %d", cases[i].body, rc, cases[i].rc);
        assert_true(msg[0]);
    }
    memset(longname, 'n', 256);
    longname[256] = '\0';
    snprintf(body, sizeof(body), "{\"volume\": {\"size\": 1, \"name\": \"%s\"}}", longname);
    assert_int_equal(volj_volume_create(J(body), &c, msg), -EINVAL);
    snprintf(body, sizeof(body), "{\"volume\": {\"size\": 1, \"metadata\": {\"k\": \"%s\"}}}",
             longname);
    assert_int_equal(volj_volume_create(J(body), &c, msg), -EINVAL);
    longname[255] = '\0';
    snprintf(body, sizeof(body), "{\"volume\": {\"size\": 1, \"metadata\": {\"k\": \"%s\"}}}",
             longname);
    assert_int_equal(volj_volume_create(J(body), &c, msg), 0);
}

static void test_update_snapshot_action_bodies(void **state)
{
    struct volj_update u;
    struct volj_snap_create s;
    struct volj_action a;
    char msg[VOLJ_MSG_MAX];

    (void)state;
    assert_int_equal(
        volj_volume_update(J("{\"volume\": {\"name\": \"x\", \"metadata\": {}}}"), &u, msg), 0);
    assert_string_equal(u.name, "x");
    assert_null(u.description);
    assert_non_null(u.metadata);
    assert_int_equal(volj_volume_update(J("{\"volume\": {}}"), &u, msg), -EINVAL);
    assert_int_equal(volj_volume_update(J("{\"volume\": {\"size\": 3}}"), &u, msg), -EINVAL);
    assert_int_equal(volj_snapshot_update(J("{\"snapshot\": {\"metadata\": {}}}"), &u, msg),
                     -EINVAL);
    assert_int_equal(volj_snapshot_update(J("{\"snapshot\": {\"description\": \"d\"}}"), &u, msg),
                     0);

    assert_int_equal(volj_snapshot_create(J("{\"snapshot\": {\"volume_id\":"
                                            " \"5765c863-b6f3-46a8-95b6-dccfa8ddf890\","
                                            " \"name\": \"s\", \"force\": \"True\"}}"),
                                          &s, msg),
                     0);
    assert_true(s.force);
    assert_string_equal(s.name, "s");
    assert_int_equal(volj_snapshot_create(J("{\"snapshot\": {\"name\": \"s\"}}"), &s, msg),
                     -EINVAL);
    assert_int_equal(volj_snapshot_create(J("{\"snapshot\": {\"volume_id\": \"x\"}}"), &s, msg),
                     -EINVAL);
    assert_int_equal(volj_snapshot_create(J("{\"snapshot\": {\"volume_id\":"
                                            " \"5765c863-b6f3-46a8-95b6-dccfa8ddf890\","
                                            " \"force\": \"maybe\"}}"),
                                          &s, msg),
                     -EINVAL);

    assert_int_equal(volj_volume_action(J("{\"os-extend\": {\"new_size\": 3}}"), &a, msg), 0);
    assert_int_equal(a.kind, VOLJ_ACT_EXTEND);
    assert_int_equal(a.new_size, 3);
    assert_int_equal(volj_volume_action(J("{\"os-extend\": {\"new_size\": \"4\"}}"), &a, msg), 0);
    assert_int_equal(a.new_size, 4);
    assert_int_equal(volj_volume_action(J("{\"os-extend\": {}}"), &a, msg), -EINVAL);
    assert_int_equal(volj_volume_action(J("{\"os-extend\": {\"new_size\": 0}}"), &a, msg), -EINVAL);
    assert_non_null(strstr(msg, "greater than 0"));
    /* past the largest size: the message names that size, not "greater than 0" */
    assert_int_equal(volj_volume_action(J("{\"os-extend\": {\"new_size\": 2147483648}}"), &a, msg),
                     -EINVAL);
    assert_non_null(strstr(msg, "at most 2147483647 GiB"));
    assert_int_equal(
        volj_volume_action(J("{\"os-extend\": {\"new_size\": \"99999999999999\"}}"), &a, msg),
        -EINVAL);
    assert_non_null(strstr(msg, "at most 2147483647 GiB"));
    assert_int_equal(volj_volume_action(J("{\"os-extend\": {\"new_size\": 2147483647}}"), &a, msg),
                     0);
    assert_int_equal(
        volj_volume_action(J("{\"os-reset_status\": {\"status\": \"error\"}}"), &a, msg), 0);
    assert_int_equal(a.kind, VOLJ_ACT_RESET_STATUS);
    assert_string_equal(a.status, "error");
    assert_int_equal(
        volj_volume_action(J("{\"os-reset_status\": {\"status\": \"bogus\"}}"), &a, msg), -EINVAL);
    assert_int_equal(volj_volume_action(J("{\"os-reset_status\": {\"status\": \"available\", "
                                          "\"attach_status\": \"detached\"}}"),
                                        &a, msg),
                     0);
    assert_string_equal(a.attach_status, "detached");
    assert_int_equal(
        volj_volume_action(J("{\"os-reset_status\": {\"attach_status\": \"attached\"}}"), &a, msg),
        0);
    assert_null(a.status);
    assert_int_equal(
        volj_volume_action(J("{\"os-reset_status\": {\"attach_status\": \"half\"}}"), &a, msg),
        -EINVAL);
    assert_int_equal(volj_volume_action(J("{\"os-frobnicate\": {}}"), &a, msg), -EINVAL);
    assert_non_null(strstr(msg, "os-extend"));
    assert_non_null(strstr(msg, "os-reset_status"));
    assert_int_equal(volj_volume_action(J("{}"), &a, msg), -EINVAL);
    assert_int_equal(volj_volume_action(J("{\"os-extend\": {\"new_size\": 2}, \"x\": 1}"), &a, msg),
                     -EINVAL);
}

/* ---- lists ---- */

struct qarg {
    const char *name, *value;
};

static const char *qget(void *arg, const char *name, size_t nth)
{
    for (const struct qarg *q = arg; q->name; q++) {
        if (strcmp(q->name, name) == 0 && nth-- == 0)
            return q->value;
    }
    return NULL;
}

static json_t *five_volumes(void)
{
    return J("["
             "{\"id\": \"a\", \"name\": \"v1\", \"status\": \"available\", \"size\": 3,"
             " \"created_at\": \"2026-01-01T00:00:01.000000\", \"metadata\": {\"k\": \"v\"},"
             " \"bootable\": true},"
             "{\"id\": \"b\", \"name\": \"v2\", \"status\": \"error\", \"size\": 1,"
             " \"created_at\": \"2026-01-01T00:00:02.000000\", \"metadata\": {}},"
             "{\"id\": \"c\", \"name\": \"v3\", \"status\": \"available\", \"size\": 2,"
             " \"created_at\": \"2026-01-01T00:00:03.000000\", \"metadata\": {\"k\": \"w\"}},"
             "{\"id\": \"d\", \"name\": \"v1\", \"status\": \"available\", \"size\": 5,"
             " \"created_at\": \"2026-01-01T00:00:04.000000\", \"metadata\": {\"k\": \"v\","
             " \"x\": \"y\"}},"
             "{\"id\": \"e\", \"name\": \"v5\", \"status\": \"creating\", \"size\": 4,"
             " \"created_at\": \"2026-01-01T00:00:05.000000\"}"
             "]");
}

static char *ids_of(const json_t *arr)
{
    static char buf[64];
    size_t i, n = 0;
    json_t *v;

    json_array_foreach(arr, i, v)
    {
        buf[n++] = json_string_value(json_object_get(v, "id"))[0];
    }
    buf[n] = '\0';
    return buf;
}

/* Parse, filter, page: the ids of the page and whether there are more. */
static const char *run_list(const struct qarg *args, bool *more)
{
    struct volj_list_query q;
    char msg[VOLJ_MSG_MAX];
    json_t *recs = json_deep_copy(five_volumes()), *page = NULL;
    const char *ids;

    assert_int_equal(volj_list_parse(VOLJ_LIST_VOLUMES, qget, (void *)args, 0, &q, msg), 0);
    volj_list_filter(recs, &q);
    assert_int_equal(volj_list_page(recs, &q, NULL, &page, more), 0);
    ids = ids_of(page);
    json_decref(page);
    json_decref(recs);
    volj_list_query_clear(&q);
    return ids;
}

static void test_list_sort_filter_page(void **state)
{
    bool more;

    (void)state;
    assert_string_equal(run_list((struct qarg[]){{NULL, NULL}}, &more), "edcba");
    assert_false(more);
    assert_string_equal(run_list((struct qarg[]){{"sort", "size:asc"}, {NULL, NULL}}, &more),
                        "bcaed");
    assert_string_equal(
        run_list((struct qarg[]){{"sort", "name:asc,size:desc"}, {NULL, NULL}}, &more), "dabce");
    assert_string_equal(
        run_list((struct qarg[]){{"sort_key", "name,size"}, {"sort_dir", "asc,asc"}, {NULL, NULL}},
                 &more),
        "adbce");
    assert_string_equal(run_list((struct qarg[]){{"sort_dir", "asc"}, {NULL, NULL}}, &more),
                        "abcde");
    assert_string_equal(run_list((struct qarg[]){{"status", "available"}, {NULL, NULL}}, &more),
                        "dca");
    assert_string_equal(run_list((struct qarg[]){{"name", "v1"}, {NULL, NULL}}, &more), "da");
    assert_string_equal(run_list((struct qarg[]){{"bootable", "true"}, {NULL, NULL}}, &more), "a");
    assert_string_equal(run_list((struct qarg[]){{"size", "2"}, {NULL, NULL}}, &more), "c");
    assert_string_equal(run_list((struct qarg[]){{"metadata", "{'k': 'v'}"}, {NULL, NULL}}, &more),
                        "da");
    assert_string_equal(
        run_list((struct qarg[]){{"metadata", "{\"k\":\"v\",\"x\":\"y\"}"}, {NULL, NULL}}, &more),
        "d");
    assert_string_equal(run_list((struct qarg[]){{"limit", "2"}, {NULL, NULL}}, &more), "ed");
    assert_true(more);
    assert_string_equal(
        run_list((struct qarg[]){{"limit", "2"}, {"marker", "d"}, {NULL, NULL}}, &more), "cb");
    assert_true(more);
    assert_string_equal(
        run_list((struct qarg[]){{"limit", "2"}, {"marker", "b"}, {NULL, NULL}}, &more), "a");
    assert_false(more);
    assert_string_equal(run_list((struct qarg[]){{"offset", "3"}, {NULL, NULL}}, &more), "ba");
}

static void test_list_parse_errors(void **state)
{
    const struct qarg *const bad[] = {
        (struct qarg[]){{"sort", "nope:asc"}, {NULL, NULL}},
        (struct qarg[]){{"sort", "name:up"}, {NULL, NULL}},
        (struct qarg[]){{"sort", "name"}, {"sort_key", "size"}, {NULL, NULL}},
        (struct qarg[]){{"limit", "-1"}, {NULL, NULL}},
        (struct qarg[]){{"limit", "x"}, {NULL, NULL}},
        (struct qarg[]){{"metadata", "k=v"}, {NULL, NULL}},
        (struct qarg[]){{"bootable", "perhaps"}, {NULL, NULL}},
    };
    struct volj_list_query q;
    char msg[VOLJ_MSG_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        msg[0] = '\0';
        assert_int_equal(volj_list_parse(VOLJ_LIST_VOLUMES, qget, (void *)bad[i], 0, &q, msg),
                         -EINVAL);
        assert_true(msg[0]);
    }
    /* Snapshots sort by their own keys. */
    assert_int_equal(volj_list_parse(VOLJ_LIST_SNAPSHOTS, qget,
                                     (struct qarg[]){{"sort", "bootable"}, {NULL, NULL}}, 0, &q,
                                     msg),
                     -EINVAL);
}

static void test_list_marker_and_links(void **state)
{
    struct qarg args[] = {{"status", "available"}, {"limit", "1"}, {"marker", "zz"}, {NULL, NULL}};
    struct volj_list_query q;
    char msg[VOLJ_MSG_MAX];
    json_t *recs = json_deep_copy(five_volumes()), *page = NULL, *body, *links;
    bool more;

    (void)state;
    assert_int_equal(volj_list_parse(VOLJ_LIST_VOLUMES, qget, args, 45, &q, msg), 0);
    volj_list_filter(recs, &q);
    assert_int_equal(volj_list_page(recs, &q, NULL, &page, &more), -ENOENT);
    /* A marker outside the filtered set is placed by its record. */
    assert_int_equal(volj_list_page(recs, &q,
                                    J("{\"id\": \"zz\", \"created_at\":"
                                      " \"2026-01-01T00:00:03.500000\"}"),
                                    &page, &more),
                     0);
    assert_string_equal(ids_of(page), "c");
    assert_true(more);
    body = volj_list_body(json_array(), &q, &admin30, true, "c", 3);
    pool[npool++] = body;
    links = json_object_get(body, "volumes_links");
    assert_int_equal(json_array_size(links), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(links, 0), "rel")),
                        "next");
    assert_string_equal(json_string_value(json_object_get(json_array_get(links, 0), "href")),
                        BASE "/v3/" PROJECT "/volumes/detail?status=available&limit=1&marker=c");
    assert_null(json_object_get(body, "count"));
    json_decref(page);
    json_decref(recs);
    volj_list_query_clear(&q);

    /* No next link on the last page; count at 3.45; snapshots. */
    struct qarg sargs[] = {{"with_count", "true"}, {"volume_id", "v"}, {NULL, NULL}};
    assert_int_equal(volj_list_parse(VOLJ_LIST_SNAPSHOTS, qget, sargs, 45, &q, msg), 0);
    body = volj_list_body(json_array(), &q, &member30, false, NULL, 7);
    pool[npool++] = body;
    assert_null(json_object_get(body, "snapshots_links"));
    assert_true(json_is_array(json_object_get(body, "snapshots")));
    assert_int_equal(json_integer_value(json_object_get(body, "count")), 7);
    body = volj_list_body(json_array(), &q, &member30, false, "s1", 7);
    pool[npool++] = body;
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(body, "snapshots_links"), 0), "href")),
                        BASE "/v3/" PROJECT "/snapshots?volume_id=v&with_count=true&marker=s1");
    volj_list_query_clear(&q);
}

/* More items than the limit: 413 naming the limit; the limit itself is fine. */
static void test_metadata_count(void **state)
{
    char msg[VOLJ_MSG_MAX] = "";
    json_t *md = json_object();

    (void)state;
    assert_int_equal(volj_metadata_count_check(NULL, 0, msg), 0);
    for (int i = 0; i < 3; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i);
        json_object_set_new(md, k, json_string("v"));
    }
    assert_int_equal(volj_metadata_count_check(md, 3, msg), 0);
    assert_int_equal(volj_metadata_count_check(md, 2, msg), -EFBIG);
    assert_non_null(strstr(msg, "3 items, the limit is 2"));
    assert_non_null(strstr(msg, "max_metadata_items"));
    json_decref(md);
}

static void test_metadata_query(void **state)
{
    static const char *const bad[] = {"",          "{",   "{'k'}",        "{'k': 1}",
                                      "{'k': 'v'", "k=v", "{'k': 'v'} x", "['k']"};
    char msg[VOLJ_MSG_MAX];
    json_t *md;

    (void)state;
    assert_int_equal(volj_metadata_query("{'k': 'v', u'a b': \"c\\\"d\"}", &md, msg), 0);
    assert_json_equal(md, J("{\"k\": \"v\", \"a b\": \"c\\\"d\"}"));
    json_decref(md);
    assert_int_equal(volj_metadata_query(" { } ", &md, msg), 0);
    assert_int_equal(json_object_size(md), 0);
    json_decref(md);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        md = NULL;
        if (volj_metadata_query(bad[i], &md, msg) != -EINVAL)
            fail_msg("metadata query %s accepted", bad[i]);
        assert_null(md);
    }
}

/* ---- attachments: mon_host, connection_info, views, pending ---- */

static void check_mons(const char *mon_host, const char *hosts, const char *ports)
{
    json_t *h = NULL, *p = NULL;

    assert_int_equal(volc_mon_hosts(mon_host, &h, &p), 0);
    assert_true(json_equal(h, J(hosts)));
    assert_true(json_equal(p, J(ports)));
    json_decref(h);
    json_decref(p);
}

static void test_mon_host_parse(void **state)
{
    json_t *h = NULL, *p = NULL;

    (void)state;
    check_mons("v1:127.0.0.1:6789", "[\"127.0.0.1\"]", "[\"6789\"]");
    check_mons("[v2:10.0.0.1:3300,v1:10.0.0.1:6789],[v2:10.0.0.2:3300/0,v1:10.0.0.2:6790/0]",
               "[\"10.0.0.1\", \"10.0.0.2\"]", "[\"6789\", \"6790\"]");
    check_mons("10.0.0.1:6789, 10.0.0.2 10.0.0.3", "[\"10.0.0.1\", \"10.0.0.2\", \"10.0.0.3\"]",
               "[\"6789\", \"6789\", \"6789\"]");
    check_mons("[v2:10.0.0.9:3300]", "[\"10.0.0.9\"]", "[\"3300\"]");
    check_mons("[::1]:6789", "[\"::1\"]", "[\"6789\"]");
    assert_int_equal(volc_mon_hosts("", &h, &p), -EINVAL);
    assert_int_equal(volc_mon_hosts(" , ", &h, &p), -EINVAL);
    assert_int_equal(volc_mon_hosts("10.0.0.1:abc", &h, &p), -EINVAL);
    assert_null(h);
}

static void test_connection_info_fixture(void **state)
{
    json_t *want = fixture("cinder-os-initialize_connection.json", "connection_info");
    (void)state;
    const json_t *d = json_object_get(want, "data");
    struct volc_params p = {"volumes", json_string_value(json_object_get(d, "volume_id")),
                            json_object_get(d, "hosts"), json_object_get(d, "ports"), "ceph",
                            "admin", json_string_value(json_object_get(d, "secret_uuid")), NULL,
                            json_object_get(d, "qos_specs")};
    json_t *got = volc_connection_info(&p);

    assert_non_null(got);
    /* every member but "cacheable" (added by newer Cinder managers) */
    json_object_del(json_object_get(want, "data"), "cacheable");
    assert_true(json_equal(got, want));
    json_decref(got);
}

static void test_attachment_view_and_bodies(void **state)
{
    struct volj_att_create c;
    const json_t *conn = NULL;
    char msg[VOLJ_MSG_MAX];
    json_t *rec = J("{\"id\": \"a1\", \"volume_id\": \"v1\", \"instance\": null, "
                    "\"status\": \"attached\", \"attach_mode\": \"rw\", \"project_id\": \"p\", "
                    "\"connector\": {\"host\": \"h\"}, \"connection_info\": {\"x\": 1}, "
                    "\"attached_at\": \"2024-01-02T03:04:05.000006\", \"detached_at\": null, "
                    "\"_s\": {\"k\": 1}}");
    json_t *v = volj_attachment_view(rec, false);

    (void)state;
    assert_true(json_equal(v, J("{\"id\": \"a1\", \"status\": \"attached\", \"instance\": null, "
                                "\"volume_id\": \"v1\"}")));
    json_decref(v);
    v = volj_attachment_view(rec, true);
    assert_true(json_equal(v, J("{\"id\": \"a1\", \"status\": \"attached\", \"instance\": null, "
                                "\"volume_id\": \"v1\", \"attach_mode\": \"rw\", "
                                "\"connection_info\": {\"x\": 1}, \"detached_at\": null, "
                                "\"attached_at\": \"2024-01-02T03:04:05.000006\"}")));
    json_decref(v);
    assert_int_equal(volj_attachment_create(J("{\"attachment\": {\"volume_uuid\": "
        "\"5765c863-b6f3-46a8-95b6-dccfa8ddf890\", \"connector\": {\"ip\": \"1\"}, "
        "\"mode\": \"null\"}}"), &c, msg), 0);
    assert_string_equal(c.volume_uuid, "5765c863-b6f3-46a8-95b6-dccfa8ddf890");
    assert_non_null(c.connector);
    assert_null(c.mode);
    assert_null(c.instance_uuid);
    assert_int_equal(volj_attachment_create(J("{\"attachment\": {}}"), &c, msg), -EINVAL);
    assert_int_equal(volj_attachment_create(J("{\"attachment\": {\"volume_uuid\": \"x\"}}"), &c, msg),
                     -EINVAL);
    assert_int_equal(volj_attachment_update(J("{\"attachment\": {\"connector\": {}}}"), &conn, msg), 0);
    assert_int_equal(volj_attachment_update(J("{\"attachment\": {}}"), &conn, msg), -EINVAL);
    assert_int_equal(volj_attachment_action(J("{\"os-complete\": {}}"), msg), 0);
    assert_int_equal(volj_attachment_action(J("{\"os-bogus\": {}}"), msg), -EINVAL);
}

static void test_attach_action_bodies(void **state)
{
    struct volj_action a;
    char msg[VOLJ_MSG_MAX];

    (void)state;
    assert_int_equal(volj_volume_action(J("{\"os-reserve\": {}}"), &a, msg), 0);
    assert_int_equal(a.kind, VOLJ_ACT_RESERVE);
    assert_int_equal(volj_volume_action(J("{\"os-attach\": {\"instance_uuid\": "
        "\"5765c863-b6f3-46a8-95b6-dccfa8ddf890\", \"mountpoint\": \"/dev/vdb\"}}"), &a, msg), 0);
    assert_int_equal(a.kind, VOLJ_ACT_ATTACH);
    assert_string_equal(a.mountpoint, "/dev/vdb");
    assert_int_equal(volj_volume_action(J("{\"os-attach\": {\"mountpoint\": \"/dev/vdb\"}}"), &a, msg),
                     -EINVAL);
    assert_int_equal(volj_volume_action(J("{\"os-detach\": {}}"), &a, msg), 0);
    assert_int_equal(a.kind, VOLJ_ACT_DETACH);
    assert_null(a.attachment_id);
    assert_int_equal(volj_volume_action(J("{\"os-initialize_connection\": {\"connector\": {}}}"), &a,
                                        msg), 0);
    assert_int_equal(a.kind, VOLJ_ACT_INIT_CONNECTION);
    assert_int_equal(volj_volume_action(J("{\"os-initialize_connection\": {}}"), &a, msg), -EINVAL);
}

static void test_pending_attachment(void **state)
{
    json_t *v = J("{\"status\": \"reserved\", \"_s\": {\"pending_attachment\": \"a1\", "
                  "\"pending_since\": 1000}}");

    (void)state;
    assert_string_equal(volc_pending_attachment(v, 5000, 1000), "a1");
    assert_null(volc_pending_attachment(v, 1500, 1000)); /* may still be being written */
    assert_null(volc_pending_attachment(J("{\"status\": \"in-use\", \"_s\": "
                                          "{\"pending_attachment\": \"a1\"}}"), 5000, 0));
    assert_null(volc_pending_attachment(J("{\"status\": \"attaching\"}"), 5000, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_volume_show_fixture_30),
        cmocka_unit_test(test_volume_show_fixture_370),
        cmocka_unit_test(test_volume_admin_only_keys),
        cmocka_unit_test(test_volume_create_fixture),
        cmocka_unit_test(test_volume_from_image_fixture),
        cmocka_unit_test(test_volume_list_detail_fixture),
        cmocka_unit_test(test_volume_summary_and_defaults),
        cmocka_unit_test(test_time_forms),
        cmocka_unit_test(test_snapshot_fixtures),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_microversion),
        cmocka_unit_test(test_create_body_ok),
        cmocka_unit_test(test_create_body_bad),
        cmocka_unit_test(test_update_snapshot_action_bodies),
        cmocka_unit_test(test_list_sort_filter_page),
        cmocka_unit_test(test_list_parse_errors),
        cmocka_unit_test(test_list_marker_and_links),
        cmocka_unit_test(test_metadata_count),
        cmocka_unit_test(test_metadata_query),
        cmocka_unit_test(test_mon_host_parse),
        cmocka_unit_test(test_connection_info_fixture),
        cmocka_unit_test(test_attachment_view_and_bodies),
        cmocka_unit_test(test_attach_action_bodies),
        cmocka_unit_test(test_pending_attachment),
    };

    return cmocka_run_group_tests(tests, NULL, pool_free);
}
