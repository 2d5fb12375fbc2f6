/* test_imaged_reconcile.c — imaged's crash recovery (image_reconcile.c) with no
 * cluster: interrupted uploads and imports undone (data removed, back to
 * queued) once their lease expired and never before, import-rbd resumed to
 * active (or killed when its source is gone), deleted images purged once no
 * clone needs them, and RBD images no record owns removed. */
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

static void staged_file(const char *id, const char *suffix)
{
    char path[PATH_MAX];

    img_staging_path(s, id, suffix, path, sizeof(path));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("partial", f);
    fclose(f);
}

static bool staged(const char *id, const char *suffix)
{
    char path[PATH_MAX];

    img_staging_path(s, id, suffix, path, sizeof(path));
    return access(path, F_OK) == 0;
}

/* An upload whose daemon died: nothing while its lease lives; then its partial
 * data and staging files removed and the image back to queued, with why. */
static void test_interrupted_upload(void **state)
{
    struct st_record r = {0};

    (void)state;
    image(IMG1, IMG_SAVING, NULL);
    assert_int_equal(fake_rbd_add(s->images, IMG1, 1 << 20, 0), 0);
    staged_file(IMG1, ".raw");
    lease_by(IMG1, OTHER, IMG_OP_UPLOAD);
    fake_clock_advance(TTL - 1);
    assert_int_equal(img_service_reconcile(s), 0);
    assert_string_equal(status_of(IMG1), IMG_SAVING);
    assert_true(fake_rbd_exists(s->images, IMG1));
    assert_string_equal(lease_owner(IMG1), OTHER);

    fake_clock_advance(1);
    assert_int_equal(img_service_reconcile(s), 0);
    assert_int_equal(st_meta_get(s->meta, &img_kind, IMG1, &r), 0);
    assert_string_equal(st_rec_str(r.data, "status"), IMG_QUEUED);
    const json_t *priv = json_object_get(r.data, "_s");
    assert_true(json_is_false(json_object_get(priv, "staged")));
    assert_string_equal(st_rec_str(priv, "last_error"),
                        "interrupted: the daemon holding it stopped");
    st_record_cleanup(&r);
    assert_false(fake_rbd_exists(s->images, IMG1));
    assert_false(staged(IMG1, ".raw"));
    assert_null(lease_owner(IMG1));
}

/* An interrupted import without its staged file cannot resume: undone. */
static void test_interrupted_import_without_file(void **state)
{
    (void)state;
    image(IMG1, IMG_IMPORTING, NULL);
    lease_by(IMG1, OTHER, IMG_OP_IMPORT);
    fake_clock_advance(TTL);
    assert_int_equal(img_service_reconcile(s), 0);
    assert_string_equal(status_of(IMG1), IMG_QUEUED);
    assert_int_equal(fake_work_pending(), 0);
}

/* The data of an interrupted upload cannot be removed: the record keeps its
 * status and the lease is left to go stale, so a later pass retries. */
static void test_undo_retried_when_data_stays(void **state)
{
    (void)state;
    image(IMG1, IMG_UPLOADING, NULL);
    assert_int_equal(fake_rbd_add(s->images, IMG1, 1 << 20, 0), 0);
    lease_by(IMG1, OTHER, IMG_OP_UPLOAD);
    fake_clock_advance(TTL);
    fake_rbd_fail("st_rbd_remove", -EIO);
    assert_int_equal(img_service_reconcile(s), 0);
    assert_string_equal(status_of(IMG1), IMG_UPLOADING);
    assert_string_equal(lease_owner(IMG1), OWNER);
    fake_clock_advance(TTL);
    assert_int_equal(img_service_reconcile(s), 0);
    assert_string_equal(status_of(IMG1), IMG_QUEUED);
    assert_false(fake_rbd_exists(s->images, IMG1));
}

/* An interrupted import-rbd is resumed from what the record says: cloned
 * (unless done), flattened, protected, active. */
static void test_import_rbd_resumed(void **state)
{
    struct st_record r = {0};
    unsigned depth = 9;

    (void)state;
    assert_int_equal(fake_rbd_add(s->clone_ioctx[0], "volume-x", 3 << 20, 0), 0);
    assert_int_equal(st_rbd_snap_create(s->clone_ioctx[0], "volume-x", "upload-1", true), 0);
    image(IMG1, IMG_SAVING,
          json_pack("{s:{s:s, s:s, s:s}}", "import_rbd", "pool", "volumes", "name", "volume-x",
                    "snap", "upload-1"));
    lease_by(IMG1, OTHER, IMG_OP_IMPORT_RBD);
    fake_clock_advance(TTL);
    assert_int_equal(img_service_reconcile(s), 0);
    assert_string_equal(lease_owner(IMG1), OWNER);
    assert_int_equal(fake_work_pending(), 1);
    fake_work_run();
    assert_int_equal(st_meta_get(s->meta, &img_kind, IMG1, &r), 0);
    assert_string_equal(st_rec_str(r.data, "status"), IMG_ACTIVE);
    assert_int_equal(json_integer_value(json_object_get(r.data, "size")), 3 << 20);
    assert_true(json_is_true(json_object_get(json_object_get(r.data, "_s"), "rbd")));
    st_record_cleanup(&r);
    assert_int_equal(st_rbd_parent_depth(s->images, IMG1, &depth), 0);
    assert_int_equal(depth, 0);
    assert_true(fake_rbd_snap_exists(s->images, IMG1, IMG_SNAP_NAME));
    assert_null(lease_owner(IMG1));
    /* the source snapshot is free again (no clone pins it) */
    assert_int_equal(st_rbd_snap_remove(s->clone_ioctx[0], "volume-x", "upload-1"), 0);
}

/* Its source gone meanwhile: the resumed import ends killed, no data left. */
static void test_import_rbd_source_gone(void **state)
{
    (void)state;
    image(IMG1, IMG_SAVING,
          json_pack("{s:{s:s, s:s, s:s}}", "import_rbd", "pool", "volumes", "name", "gone", "snap",
                    "upload-1"));
    lease_by(IMG1, OTHER, IMG_OP_IMPORT_RBD);
    fake_clock_advance(TTL);
    assert_int_equal(img_service_reconcile(s), 0);
    fake_work_run();
    assert_string_equal(status_of(IMG1), IMG_KILLED);
    assert_false(fake_rbd_exists(s->images, IMG1));
}

/* Deleted images: purged (data and record) once no clone needs their snapshot. */
static void test_deleted_purged_after_clones(void **state)
{
    (void)state;
    image(IMG1, IMG_DELETED, NULL);
    image(IMG2, IMG_DELETED, NULL);
    assert_int_equal(fake_rbd_add(s->images, IMG1, 1 << 20, 0), 0);
    assert_int_equal(st_rbd_snap_create(s->images, IMG1, IMG_SNAP_NAME, true), 0);
    assert_int_equal(fake_rbd_add(s->images, IMG2, 1 << 20, 0), 0);
    assert_int_equal(st_rbd_snap_create(s->images, IMG2, IMG_SNAP_NAME, true), 0);
    assert_int_equal(st_rbd_clone(s->images, IMG2, IMG_SNAP_NAME, s->clone_ioctx[0], "volume-y", 0),
                     0);

    assert_int_equal(img_service_reconcile(s), 0);
    assert_string_equal(status_of(IMG1), "(gone)");
    assert_false(fake_rbd_exists(s->images, IMG1));
    assert_string_equal(status_of(IMG2), IMG_DELETED);
    assert_true(fake_rbd_exists(s->images, IMG2));

    assert_int_equal(st_rbd_remove(s->clone_ioctx[0], "volume-y"), 0);
    assert_int_equal(img_service_reconcile(s), 0);
    assert_string_equal(status_of(IMG2), "(gone)");
    assert_false(fake_rbd_exists(s->images, IMG2));
}

/* Orphans: an image id with no record, or whose record has no data (queued)
 * is removed — but not while an upload holds the record's lease; images
 * with data and names that are not image ids stay. */
static void test_orphans(void **state)
{
    (void)state;
    assert_int_equal(fake_rbd_add(s->images, IMG1, 1, 0), 0); /* no record */
    image(IMG2, IMG_QUEUED, NULL);                            /* no data recorded */
    assert_int_equal(fake_rbd_add(s->images, IMG2, 1, 0), 0);
    image(IMG3, IMG_ACTIVE, json_pack("{s:b}", "rbd", 1));
    assert_int_equal(fake_rbd_add(s->images, IMG3, 1, 0), 0);
    assert_int_equal(fake_rbd_add(s->images, "not-an-image-id", 1, 0), 0);
    lease_by(IMG2, OTHER, IMG_OP_UPLOAD); /* an upload is starting */

    assert_int_equal(img_service_reconcile(s), 0);
    assert_false(fake_rbd_exists(s->images, IMG1));
    assert_true(fake_rbd_exists(s->images, IMG2));
    assert_true(fake_rbd_exists(s->images, IMG3));
    assert_true(fake_rbd_exists(s->images, "not-an-image-id"));

    assert_int_equal(st_lease_release(s->meta, &img_kind, IMG2, OTHER), 0);
    assert_int_equal(img_service_reconcile(s), 0);
    assert_false(fake_rbd_exists(s->images, IMG2));
    assert_null(lease_owner(IMG2)); /* the sweep's own lease is given back */
    assert_string_equal(status_of(IMG2), IMG_QUEUED);
}

/* Ceph or the store not answering: the pass says so. */
static void test_errors_reported(void **state)
{
    (void)state;
    fake_rbd_fail("st_rbd_list", -ETIMEDOUT);
    assert_int_equal(img_service_reconcile(s), -ETIMEDOUT);
    fake_rados_fail(-ETIMEDOUT, 1);
    assert_int_equal(img_service_reconcile(s), -ETIMEDOUT);
    assert_int_equal(img_service_reconcile(s), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_interrupted_upload),
        T(test_interrupted_import_without_file),
        T(test_undo_retried_when_data_stays),
        T(test_import_rbd_resumed),
        T(test_import_rbd_source_gone),
        T(test_deleted_purged_after_clones),
        T(test_orphans),
        T(test_errors_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
