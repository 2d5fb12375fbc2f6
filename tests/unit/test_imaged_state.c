/* test_imaged_state.c — imaged's image state machine with no cluster
 * (imaged_fixture.h): created queued, guarded and fenced status moves,
 * (de)activation from the right status only, delete refused while protected
 * or while another operation holds the lease and hidden while clones need its
 * data, clones into the configured pools only, import-rbd through saving. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_rados.h"
#include "fake_rbd.h"
#include "fake_work.h"

#include "imaged_fixture.h"

static const struct st_auth_ctx p1 = {.user_id = "u1", .project_id = "p1"};
static const struct st_auth_ctx p2 = {.user_id = "u2", .project_id = "p2"};

/* An active image with data: its RBD image and protected snapshot. */
static void active_image(const char *id)
{
    image(id, IMG_ACTIVE, json_pack("{s:b}", "rbd", 1));
    assert_int_equal(fake_rbd_add(s->images, id, 1 << 20, 0), 0);
    assert_int_equal(st_rbd_snap_protect(s->images, id, IMG_SNAP_NAME), 0);
}

static void test_create_queued_and_private(void **state)
{
    json_t *fields = json_pack("{s:s, s:s}", "id", IMG1, "name", "cirros"), *out = NULL;
    char msg[IMG_MSG_MAX] = "";

    (void)state;
    assert_int_equal(img_create(s, &p1, fields, &out, msg), 0);
    assert_string_equal(st_rec_str(out, "status"), IMG_QUEUED);
    assert_string_equal(st_rec_str(out, "owner"), "p1");
    json_decref(out);
    assert_int_equal(img_create(s, &p1, fields, &out, msg), -EEXIST);
    assert_int_equal(img_get(s, &p1, IMG1, &out), 0);
    json_decref(out);
    assert_int_equal(img_get(s, &p2, IMG1, &out), -ENOENT);
    json_decref(fields);
}

/* img_set_status moves only from the named status; the leased form only
 * while this process holds the image's lease. */
static void test_guarded_and_fenced_moves(void **state)
{
    (void)state;
    image(IMG1, IMG_QUEUED, NULL);
    assert_int_equal(img_set_status(s, IMG1, IMG_ACTIVE, IMG_DEACTIVATED, NULL), -ECANCELED);
    assert_string_equal(status_of(IMG1), IMG_QUEUED);
    assert_int_equal(img_set_status_leased(s, IMG1, IMG_QUEUED, IMG_SAVING, NULL), -ESTALE);
    lease_by(IMG1, OWNER, IMG_OP_UPLOAD);
    json_t *extra = json_pack("{s:i, s:{s:b}}", "size", 5, "_s", "staged", 1);
    assert_int_equal(img_set_status_leased(s, IMG1, IMG_QUEUED, IMG_SAVING, extra), 0);
    json_decref(extra);
    assert_string_equal(status_of(IMG1), IMG_SAVING);
    fake_clock_advance(TTL);
    lease_by(IMG1, OTHER, IMG_OP_UPLOAD); /* we paused, another took over */
    assert_int_equal(img_set_status_leased(s, IMG1, IMG_SAVING, IMG_ACTIVE, NULL), -ESTALE);
    assert_string_equal(status_of(IMG1), IMG_SAVING);
}

static void test_deactivate_reactivate(void **state)
{
    char msg[IMG_MSG_MAX] = "";

    (void)state;
    active_image(IMG1);
    image(IMG2, IMG_QUEUED, NULL);
    assert_int_equal(img_deactivate(s, &p2, IMG1, msg), -ENOENT); /* not theirs to see */
    assert_int_equal(img_deactivate(s, &p1, IMG1, msg), 0);
    assert_string_equal(status_of(IMG1), IMG_DEACTIVATED);
    assert_int_equal(img_deactivate(s, &p1, IMG1, msg), 0); /* already: fine */
    assert_int_equal(img_reactivate(s, &p1, IMG1, msg), 0);
    assert_string_equal(status_of(IMG1), IMG_ACTIVE);
    assert_int_equal(img_deactivate(s, &p1, IMG2, msg), -ECANCELED);
    char want[IMG_MSG_MAX];
    snprintf(want, sizeof(want), "Image %s is queued: only active images can become deactivated",
             IMG2);
    assert_string_equal(msg, want);
}

/* Delete: refused while protected or busy; hidden at once, its data removed
 * now or, while a clone needs it, once that clone is gone. */
static void test_delete(void **state)
{
    char msg[IMG_MSG_MAX] = "", want[IMG_MSG_MAX];
    json_t *out = NULL;

    (void)state;
    image(IMG1, IMG_QUEUED, NULL);
    struct st_record r = {0};
    assert_int_equal(st_meta_get(s->meta, &img_kind, IMG1, &r), 0);
    json_object_set_new(r.data, "protected", json_true());
    assert_int_equal(st_meta_update(s->meta, &img_kind, IMG1, r.version, r.data, NULL), 0);
    st_record_cleanup(&r);
    assert_int_equal(img_delete(s, &p1, IMG1, msg), -EPERM);
    snprintf(want, sizeof(want), "Image %s is protected and cannot be deleted", IMG1);
    assert_string_equal(msg, want);

    image(IMG2, IMG_SAVING, NULL);
    lease_by(IMG2, OTHER, IMG_OP_UPLOAD);
    assert_int_equal(img_delete(s, &p1, IMG2, msg), -ECANCELED);
    snprintf(want, sizeof(want), "Image %s is busy (upload in progress); try again later", IMG2);
    assert_string_equal(msg, want);
    assert_int_equal(img_delete(s, &p2, IMG2, msg), -ENOENT);

    active_image(IMG3);
    assert_int_equal(img_clone(s, &p1, IMG3, "volumes", "volume-z", 0, &out, msg), 0);
    json_decref(out);
    assert_true(fake_rbd_exists(s->clone_ioctx[0], "volume-z"));
    assert_int_equal(img_delete(s, &p1, IMG3, msg), 0);
    assert_string_equal(status_of(IMG3), IMG_DELETED);
    assert_int_equal(img_get(s, &p1, IMG3, &out), -ENOENT);
    assert_true(fake_rbd_exists(s->images, IMG3));
    assert_int_equal(st_rbd_remove(s->clone_ioctx[0], "volume-z"), 0);
    assert_int_equal(img_service_reconcile(s), 0);
    assert_string_equal(status_of(IMG3), "(gone)");
    assert_false(fake_rbd_exists(s->images, IMG3));
}

/* Clones: into a configured pool, under a plain name, of an active image. */
static void test_clone_rules(void **state)
{
    char msg[IMG_MSG_MAX] = "";
    json_t *out = NULL;
    uint64_t size = 0;

    (void)state;
    active_image(IMG1);
    image(IMG2, IMG_QUEUED, NULL);
    assert_int_equal(img_clone(s, &p1, IMG1, "images", "x", 0, &out, msg), -EINVAL);
    assert_int_equal(img_clone(s, &p1, IMG1, "volumes", "bad/name", 0, &out, msg), -EINVAL);
    assert_string_equal(msg, "Invalid clone name 'bad/name'");
    assert_int_equal(img_clone(s, &p1, IMG2, "volumes", "volume-q", 0, &out, msg) < 0, 1);
    assert_false(fake_rbd_exists(s->clone_ioctx[0], "volume-q"));
    assert_int_equal(img_clone(s, &p1, IMG1, "volumes", "volume-big", 4 << 20, &out, msg), 0);
    json_decref(out);
    assert_int_equal(st_rbd_size(s->clone_ioctx[0], "volume-big", NULL, &size), 0);
    assert_true(size == 4 << 20);
}

/* import-rbd: saving with its lease at once, active once the job ran. */
static void test_import_rbd(void **state)
{
    char msg[IMG_MSG_MAX] = "";
    json_t *fields = json_pack("{s:s, s:s, s:s}", "name", "from-vol", "disk_format", "raw",
                               "container_format", "bare"),
           *out = NULL;

    (void)state;
    assert_int_equal(fake_rbd_add(s->clone_ioctx[0], "volume-src", 2 << 20, 0), 0);
    assert_int_equal(st_rbd_snap_create(s->clone_ioctx[0], "volume-src", "up", true), 0);
    assert_int_equal(img_import_rbd(s, &p1, IMG1, fields, "vms", "volume-src", "up", &out, msg),
                     -EINVAL);
    assert_int_equal(img_import_rbd(s, &p1, IMG1, fields, "volumes", "volume-src", "up", &out, msg),
                     0);
    assert_string_equal(st_rec_str(out, "status"), IMG_SAVING);
    json_decref(out);
    assert_string_equal(lease_owner(IMG1), OWNER);
    fake_work_run();
    assert_string_equal(status_of(IMG1), IMG_ACTIVE);
    assert_null(lease_owner(IMG1));
    json_decref(fields);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_create_queued_and_private),
        T(test_guarded_and_fenced_moves),
        T(test_deactivate_reactivate),
        T(test_delete),
        T(test_clone_rules),
        T(test_import_rbd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
