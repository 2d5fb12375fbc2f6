/* test_blockd_ops.c — more of blockd's state machine with no cluster: the
 * attach actions and the 3.27 attachment records (reserved → attaching →
 * in-use → available), revert to the latest snapshot only, snapshot delete
 * (kept hidden while a clone needs it), upload-to-image with imaged answered
 * by the HTTP double (and its snapshot swept once imaged is done), the
 * admin's reset, records listed and edited per project. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fake_httpc.h"
#include "fake_rados.h"
#include "fake_rbd.h"
#include "fake_work.h"
#include "mock.h"

#include "blockd_fixture.h"

/* blockd asks imaged about an image as the caller's project: the token it
 * mints names that project (the HTTP double sees it). */
ST_STUB(st_daemon_auth, const struct st_auth *, (const struct st_daemon *d), NULL)

ST_WRAP(st_auth_issue, int,
        (const struct st_auth *a, const struct st_auth_ctx *ctx, int64_t expires_at, char **out))
{
    char tok[128];

    snprintf(tok, sizeof(tok), "token-of-%s", ctx->project_id);
    *out = strdup(tok);
    return *out ? 0 : -ENOMEM;
}

static const struct st_auth_ctx admin = {.user_id = "a", .project_id = "admin", .is_admin = true};

static size_t attachments_of(const char *id)
{
    struct st_record r = {0};
    size_t n = 0;

    if (st_meta_get(fx->meta, &vol_kind, id, &r) == 0)
        n = json_array_size(json_object_get(r.data, "attachments"));
    st_record_cleanup(&r);
    return n;
}

/* os-reserve, os-attach, os-begin_detaching/roll_detaching, os-detach,
 * os-initialize_connection: each move from its rule's statuses only. */
static void test_attach_actions(void **state)
{
    char id[37], msg[VOL_MSG_MAX] = "";
    json_t *out = NULL;
    struct vol_attach_req req = {.op = VA_INIT_CONN};

    (void)state;
    fx_volume("available", 1, true, id);
    assert_int_equal(vol_attach_action(fx, &fx_user, id, &req, &out, msg), -ECANCELED);
    char want[VOL_MSG_MAX];
    snprintf(want, sizeof(want),
             "Invalid volume: volume %s is available; this needs one of: "
             "reserved, attaching, in-use, detaching",
             id);
    assert_string_equal(msg, want);

    req = (struct vol_attach_req){.op = VA_RESERVE};
    assert_int_equal(vol_attach_action(fx, &fx_user, id, &req, &out, msg), 0);
    req = (struct vol_attach_req){.op = VA_ATTACH,
                                  .instance_uuid = "srv-1",
                                  .mountpoint = "/dev/vdb",
                                  .host_name = "h1",
                                  .mode = "rw"};
    assert_int_equal(vol_attach_action(fx, &fx_user, id, &req, &out, msg), 0);
    assert_string_equal(fx_status(&vol_kind, id), "in-use");
    assert_int_equal(attachments_of(id), 1);

    req = (struct vol_attach_req){.op = VA_INIT_CONN};
    assert_int_equal(vol_attach_action(fx, &fx_user, id, &req, &out, msg), 0);
    const json_t *ci = json_object_get(out, "connection_info");
    assert_string_equal(st_rec_str(ci, "driver_volume_type"), "rbd");
    char name[NAME_MAX_LEN + 16];
    snprintf(name, sizeof(name), "volumes/volume-%s", id);
    assert_string_equal(st_rec_str(json_object_get(ci, "data"), "name"), name);
    json_decref(out);
    out = NULL;

    req = (struct vol_attach_req){.op = VA_BEGIN_DETACH};
    assert_int_equal(vol_attach_action(fx, &fx_user, id, &req, &out, msg), 0);
    assert_string_equal(fx_status(&vol_kind, id), "detaching");
    req = (struct vol_attach_req){.op = VA_ROLL_DETACH};
    assert_int_equal(vol_attach_action(fx, &fx_user, id, &req, &out, msg), 0);
    assert_string_equal(fx_status(&vol_kind, id), "in-use");
    req = (struct vol_attach_req){.op = VA_DETACH};
    assert_int_equal(vol_attach_action(fx, &fx_user, id, &req, &out, msg), 0);
    assert_string_equal(fx_status(&vol_kind, id), "available");
    assert_int_equal(attachments_of(id), 0);
    assert_int_equal(vol_attach_action(fx, &fx_user, id, &req, &out, msg), -ECANCELED);
}

/* The attachment API: create (reserved), update with a connector
 * (attaching, connection_info), complete (in-use), delete (available). */
static void test_attachment_records(void **state)
{
    char id[37], msg[VOL_MSG_MAX] = "";
    json_t *att = NULL, *again = NULL, *upd = NULL;
    json_t *connector = json_pack("{s:s, s:s}", "host", "h1", "initiator", "iqn.x");

    (void)state;
    fx_volume("available", 1, true, id);
    assert_int_equal(att_create(fx, &fx_user, id, "srv-1", NULL, NULL, &att, msg), 0);
    const char *aid = st_rec_str(att, "id");
    assert_string_equal(fx_status(&vol_kind, id), "reserved");
    assert_string_equal(fx_status(&att_kind, aid), "reserved");
    assert_int_equal(att_create(fx, &fx_user, id, "srv-2", NULL, NULL, &again, msg), -ECANCELED);

    assert_int_equal(att_update(fx, &fx_user, aid, connector, &upd, msg), 0);
    assert_string_equal(fx_status(&vol_kind, id), "attaching");
    assert_string_equal(st_rec_str(json_object_get(upd, "connection_info"), "driver_volume_type"),
                        "rbd");
    assert_int_equal(att_complete(fx, &fx_user, aid, msg), 0);
    assert_string_equal(fx_status(&vol_kind, id), "in-use");
    assert_string_equal(fx_status(&att_kind, aid), "attached");
    assert_int_equal(attachments_of(id), 1);
    /* an in-use volume can be neither deleted nor attached anew */
    assert_int_equal(vol_delete(fx, &fx_user, id, false, msg), -ECANCELED);

    assert_int_equal(att_delete(fx, &fx_user, aid, msg), 0);
    assert_string_equal(fx_status(&vol_kind, id), "available");
    assert_string_equal(fx_status(&att_kind, aid), "(gone)");
    assert_int_equal(att_delete(fx, &fx_user, aid, msg), -ENOENT);
    json_decref(att);
    json_decref(upd);
    json_decref(connector);
}

static const char *snapshot(const char *vol)
{
    static char id[37];
    char msg[VOL_MSG_MAX] = "";
    json_t *out = NULL;

    assert_int_equal(snap_create(fx, &fx_user, vol, "s", NULL, false, NULL, &out, msg), 0);
    snprintf(id, sizeof(id), "%s", st_rec_str(out, "id"));
    json_decref(out);
    fake_work_run();
    assert_string_equal(fx_status(&snap_kind, id), "available");
    return id;
}

/* Revert: to the volume's latest snapshot only, through reverting. */
static void test_revert(void **state)
{
    char id[37], other[37], s1[37], s2[37], msg[VOL_MSG_MAX] = "";

    (void)state;
    fx_volume("available", 1, true, id);
    fx_volume("available", 1, true, other);
    snprintf(s1, sizeof(s1), "%s", snapshot(id));
    snprintf(s2, sizeof(s2), "%s", snapshot(id));
    assert_int_equal(vol_revert(fx, &fx_user, id, s1, msg), -EINVAL);
    assert_int_equal(vol_revert(fx, &fx_user, other, s2, msg), -EINVAL);
    char want[VOL_MSG_MAX];
    snprintf(want, sizeof(want), "Invalid snapshot: snapshot %s is not of volume %s", s2, other);
    assert_string_equal(msg, want);
    assert_int_equal(vol_revert(fx, &fx_user, id, "nope", msg), -ENOENT);

    assert_int_equal(vol_revert(fx, &fx_user, id, s2, msg), 0);
    assert_string_equal(fx_status(&vol_kind, id), "reverting");
    fake_work_run();
    assert_string_equal(fx_status(&vol_kind, id), "available");
    assert_null(fx_lease_owner(&vol_kind, id));
}

/* Snapshot delete: gone with its RBD snapshot; while a volume cloned from it
 * lives it is only hidden, and reconcile purges it once that volume is gone. */
static void test_snapshot_delete(void **state)
{
    char id[37], s1[37], s2[37], vname[NAME_MAX_LEN], sname[NAME_MAX_LEN];
    char msg[VOL_MSG_MAX] = "";
    json_t *clone = NULL;

    (void)state;
    fx_volume("available", 1, true, id);
    vol_rbd_name(id, vname, sizeof(vname));
    snprintf(s1, sizeof(s1), "%s", snapshot(id));
    assert_int_equal(snap_delete(fx, &fx_user, s1, msg), 0);
    assert_string_equal(fx_status(&snap_kind, s1), "deleting");
    fake_work_run();
    assert_string_equal(fx_status(&snap_kind, s1), "(gone)");
    snap_rbd_name(s1, sname, sizeof(sname));
    assert_false(fake_rbd_snap_exists(fx->vols, vname, sname));

    snprintf(s2, sizeof(s2), "%s", snapshot(id));
    struct vol_create_req req = {.snapshot_id = s2};
    assert_int_equal(vol_create(fx, &fx_user, &req, &clone, msg), 0);
    const char *cid = st_rec_str(clone, "id");
    fake_work_run();
    assert_string_equal(fx_status(&vol_kind, cid), "available");
    assert_int_equal(fx_int(&vol_kind, cid, "size"), 1);

    assert_int_equal(snap_delete(fx, &fx_user, s2, msg), 0);
    fake_work_run();
    assert_string_equal(fx_status(&snap_kind, s2), "deleted");
    snap_rbd_name(s2, sname, sizeof(sname));
    assert_true(fake_rbd_snap_exists(fx->vols, vname, sname));

    assert_int_equal(vol_delete(fx, &fx_user, cid, false, msg), 0);
    fake_work_run();
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&snap_kind, s2), "(gone)");
    assert_false(fake_rbd_snap_exists(fx->vols, vname, sname));
    json_decref(clone);
}

/* Upload to image: a protected snapshot imaged clones; the volume is back
 * to available at once; the snapshot goes once imaged says the image is done. */
static void test_upload_to_image(void **state)
{
    char id[37], iid[37], snap[64], vname[NAME_MAX_LEN], msg[VOL_MSG_MAX] = "";
    struct vol_upload_req u = {.image_name = "img"};
    json_t *out = NULL;

    (void)state;
    fx_volume("available", 1, true, id);
    vol_rbd_name(id, vname, sizeof(vname));
    /* imaged down: 503's -EIO, no snapshot left, the volume available */
    assert_int_equal(vol_upload_image(fx, &fx_user, id, &u, &out, iid, msg), -EIO);
    assert_string_equal(msg, "The image service is unavailable (Connection refused); try again "
                             "later");
    assert_string_equal(fx_status(&vol_kind, id), "available");
    assert_null(fx_lease_owner(&vol_kind, id));

    fake_httpc_rule("POST", "/import-rbd", 201, "{}");
    assert_int_equal(vol_upload_image(fx, &fx_user, id, &u, &out, iid, msg), 0);
    assert_string_equal(st_rec_str(out, "status"), "uploading");
    assert_string_equal(fx_status(&vol_kind, id), "available");
    snprintf(snap, sizeof(snap), "upload-%s", iid);
    assert_true(fake_rbd_snap_exists(fx->vols, vname, snap));
    const json_t *body = fake_httpc_last_body("/import-rbd");
    assert_string_equal(st_rec_str(body, "snap"), snap);
    assert_string_equal(st_rec_str(body, "name"), vname);
    json_decref(out);

    /* not an uploadable status */
    struct transition t = {NULL, "in-use", NULL, "", NULL, NULL};
    assert_int_equal(vs_transition(fx, &vol_kind, id, false, &t), 0);
    assert_int_equal(vol_upload_image(fx, &fx_user, id, &u, &out, iid, msg), -ECANCELED);
    char want[VOL_MSG_MAX];
    snprintf(want, sizeof(want),
             "Invalid volume: Volume %s status must be available to upload, "
             "but current status is: in-use.",
             id);
    assert_string_equal(msg, want);

    /* the sweep: kept while imaged still saves it, removed once active */
    fake_httpc_rule("GET", "/v2/images/", 200, "{\"status\": \"saving\"}");
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_true(fake_rbd_snap_exists(fx->vols, vname, snap));
    fake_httpc_reset();
    fake_httpc_rule("GET", "/v2/images/", 200, "{\"status\": \"active\"}");
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_false(fake_rbd_snap_exists(fx->vols, vname, snap));
}

/* From a volume: a clone of a temporary snapshot, flattened, the snapshot
 * dropped; only from a usable source, at least the source's size. */
static void test_create_from_volume(void **state)
{
    char src[37], busy[37], name[NAME_MAX_LEN], snap[64], msg[VOL_MSG_MAX] = "";
    json_t *out = NULL;
    unsigned depth = 9;
    uint64_t size = 0;

    (void)state;
    fx_volume("in-use", 1, true, src);
    fx_volume("extending", 1, true, busy);
    struct vol_create_req req = {.source_volid = busy};
    assert_int_equal(vol_create(fx, &fx_user, &req, &out, msg), -EINVAL);
    char want[VOL_MSG_MAX];
    snprintf(want, sizeof(want), "Invalid volume: source volume %s is extending", busy);
    assert_string_equal(msg, want);
    req = (struct vol_create_req){.source_volid = src, .size_gb = 2};
    assert_int_equal(vol_create(fx, &fx_user, &req, &out, msg), 0);
    const char *id = st_rec_str(out, "id");
    fake_work_run();
    assert_string_equal(fx_status(&vol_kind, id), "available");
    vol_rbd_name(id, name, sizeof(name));
    assert_int_equal(st_rbd_parent_depth(fx->vols, name, &depth), 0);
    assert_int_equal(depth, 0);
    assert_int_equal(st_rbd_size(fx->vols, name, NULL, &size), 0);
    assert_true(size == 2 * GIB);
    vol_rbd_name(src, name, sizeof(name));
    snprintf(snap, sizeof(snap), "clone-%s", id);
    assert_false(fake_rbd_snap_exists(fx->vols, name, snap));
    json_decref(out);
}

/* From an image: imaged looked up as the caller's project, then asked to
 * clone into the volumes pool; refusals with Cinder's messages. */
static void test_create_from_image(void **state)
{
    static const char img[] = "12345678-1234-4234-8234-123456789abc";
    struct vol_create_req req = {.image_id = img};
    char msg[VOL_MSG_MAX] = "", name[NAME_MAX_LEN];
    json_t *out = NULL;

    (void)state;
    assert_int_equal(vol_create(fx, &fx_user, &req, &out, msg), -EIO); /* imaged down */
    assert_string_equal(msg, "The image service is unavailable (Connection refused); try again "
                             "later");
    fake_httpc_rule("GET", "/v2/images/", 404, "{}");
    assert_int_equal(vol_create(fx, &fx_user, &req, &out, msg), -EINVAL);
    assert_string_equal(msg, "Invalid image identifier or unable to access requested image.");
    fake_httpc_reset();
    fake_httpc_rule("GET", "/v2/images/", 200, "{\"status\": \"queued\"}");
    assert_int_equal(vol_create(fx, &fx_user, &req, &out, msg), -EINVAL);
    fake_httpc_reset();
    fake_httpc_rule("GET", "/v2/images/", 200,
                    "{\"status\": \"active\", \"id\": \"12345678-1234-4234-8234-123456789abc\", "
                    "\"name\": \"cirros\", \"virtual_size\": 2147483648, \"min_disk\": 1}");
    fake_httpc_rule("POST", "/clone", 201, "{}");
    assert_int_equal(vol_create(fx, &fx_user, &req, &out, msg), 0);
    const char *id = st_rec_str(out, "id");
    assert_int_equal(json_integer_value(json_object_get(out, "size")), 2); /* the image's size */
    assert_string_equal(st_rec_str(json_object_get(out, "volume_image_metadata"), "min_disk"), "1");
    fake_work_run();
    assert_string_equal(fx_status(&vol_kind, id), "available");
    assert_string_equal(ut_field(fx->meta, &vol_kind, id, "bootable"), "true");
    vol_rbd_name(id, name, sizeof(name));
    const json_t *body = fake_httpc_last_body("/clone");
    assert_string_equal(st_rec_str(body, "name"), name);
    assert_string_equal(st_rec_str(body, "pool"), "volumes");
    assert_string_equal(st_rec_str(body, "project_id"), "p1");
    assert_string_equal(fake_httpc_last_token("/v2/images/"), "token-of-p1");
    json_decref(out);
}

/* os-reset_status: admins only, whatever the status. */
static void test_reset_status(void **state)
{
    char id[37], msg[VOL_MSG_MAX] = "";

    (void)state;
    fx_volume("error_deleting", 1, true, id);
    assert_int_equal(vol_reset_status(fx, &fx_user, id, "available", NULL, msg), -EPERM);
    assert_int_equal(vol_reset_status(fx, &admin, id, "available", NULL, msg), 0);
    assert_string_equal(fx_status(&vol_kind, id), "available");
}

/* Lists and edits see the caller's project only (admins: all). */
static void test_list_and_update(void **state)
{
    char a[37], b[37], msg[VOL_MSG_MAX] = "";
    json_t *list = NULL, *out = NULL;
    const struct st_auth_ctx p2 = {.user_id = "u2", .project_id = "p2"};

    (void)state;
    fx_volume("available", 1, false, a);
    fx_volume("error", 1, false, b);
    assert_int_equal(vol_list(fx, &fx_user, false, NULL, 0, &list), 0);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);
    struct vol_filter f = {"status", "error"};
    assert_int_equal(vol_list(fx, &fx_user, false, &f, 1, &list), 0);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    assert_int_equal(vol_list(fx, &p2, false, NULL, 0, &list), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    assert_int_equal(vol_list(fx, &admin, true, NULL, 0, &list), 0);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);

    assert_int_equal(vol_update(fx, &fx_user, a, "renamed", NULL, NULL, &out, msg), 0);
    assert_string_equal(st_rec_str(out, "name"), "renamed");
    json_decref(out);
    assert_int_equal(vol_update(fx, &p2, a, "x", NULL, NULL, &out, msg), -ENOENT);
    assert_string_equal(ut_field(fx->meta, &vol_kind, a, "name"), "renamed");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_attach_actions),    T(test_attachment_records), T(test_revert),
        T(test_snapshot_delete),   T(test_upload_to_image),    T(test_create_from_volume),
        T(test_create_from_image), T(test_reset_status),       T(test_list_and_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
