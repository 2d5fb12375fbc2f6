/* test_blockd_backup_reconcile.c — blockd's crash recovery of backups
 * (vol_backup_reconcile.c) with no cluster, the repository a double that
 * counts what is given back: an interrupted backup undone (its snapshot and
 * chunk references dropped, error with the reason) once its lease expired and
 * not before, an interrupted delete resumed to the end, a restore whose
 * volume went away released and one still running left alone. */
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
#include "vol_backup_internal.h"

#include "blockd_fixture.h"

/* The repository: which backups' references and manifests were dropped. */
static char unref[4][64], unmanifest[4][64];
static unsigned nunref, nunmanifest;

ST_WRAP(bk_repo_unref_all, int,
        (struct bk_repo * r, const char *project, const char *backup_id, size_t *freed))
{
    snprintf(unref[nunref++ % 4], sizeof(unref[0]), "%s", backup_id);
    if (freed)
        *freed = 3;
    return 0;
}

ST_WRAP(bk_repo_remove_manifest, int, (struct bk_repo * r, const char *backup_id))
{
    snprintf(unmanifest[nunmanifest++ % 4], sizeof(unmanifest[0]), "%s", backup_id);
    return 0;
}

static int setup(void **state)
{
    nunref = nunmanifest = 0;
    return fx_setup(state);
}

/* A backup record of volume vid in status, its snapshot kept on the volume. */
static void backup(const char *status, const char *vid, char *id)
{
    char vname[NAME_MAX_LEN], snap[NAME_MAX_LEN];

    vs_new_id(id);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:{s:b}}", "id", id, "status", status,
                            "volume_id", vid, "project_id", "p1", "_s", "snap_kept", 1);
    assert_int_equal(st_meta_create(fx->meta, &backup_kind, id, rec, NULL), 0);
    json_decref(rec);
    vol_rbd_name(vid, vname, sizeof(vname));
    snprintf(snap, sizeof(snap), "backup-%s", id);
    assert_int_equal(st_rbd_snap_create(fx->vols, vname, snap, false), 0);
}

static bool backup_snap(const char *vid, const char *id)
{
    char vname[NAME_MAX_LEN], snap[NAME_MAX_LEN];

    vol_rbd_name(vid, vname, sizeof(vname));
    snprintf(snap, sizeof(snap), "backup-%s", id);
    return fake_rbd_snap_exists(fx->vols, vname, snap);
}

static void test_interrupted_backup_undone(void **state)
{
    char vid[37], id[37];

    (void)state;
    fx_volume("available", 1, true, vid);
    backup("creating", vid, id);
    ut_lease_take(fx->meta, &backup_kind, id, FX_OTHER, "backup", FX_TTL);
    fake_clock_advance(FX_TTL - 1);
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&backup_kind, id), "creating");
    assert_true(backup_snap(vid, id));
    assert_int_equal(nunref, 0);

    fake_clock_advance(1);
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&backup_kind, id), "error");
    assert_string_equal(ut_field(fx->meta, &backup_kind, id, "fail_reason"),
                        "interrupted (the block service restarted)");
    assert_false(backup_snap(vid, id));
    assert_int_equal(nunref, 1);
    assert_string_equal(unref[0], id);
    assert_int_equal(nunmanifest, 1);
    assert_null(fx_lease_owner(&backup_kind, id));
    /* the volume itself was never blocked */
    assert_string_equal(fx_status(&vol_kind, vid), "available");
}

/* The same without any lease (a last step that failed). */
static void test_creating_without_lease(void **state)
{
    char vid[37], id[37];

    (void)state;
    fx_volume("available", 1, true, vid);
    backup("creating", vid, id);
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&backup_kind, id), "error");
}

static void test_interrupted_delete_finished(void **state)
{
    char vid[37], id[37];

    (void)state;
    fx_volume("available", 1, true, vid);
    backup("deleting", vid, id);
    ut_lease_take(fx->meta, &backup_kind, id, FX_OTHER, "delete", FX_TTL);
    fake_clock_advance(FX_TTL);
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_lease_owner(&backup_kind, id), FX_OWNER);
    assert_int_equal(fake_work_pending(), 1);
    fake_work_run();
    assert_string_equal(fx_status(&backup_kind, id), "(gone)");
    assert_false(backup_snap(vid, id));
    assert_int_equal(nunref, 1);
    assert_int_equal(nunmanifest, 1);
}

/* A restore: released when its volume is gone, or no longer being restored
 * by a live job; left while that job's lease lives. */
static void test_orphaned_restore_released(void **state)
{
    char vid[37], busy[37], gone[37], live[37];

    (void)state;
    fx_volume("restoring-backup", 1, true, vid);
    ut_lease_take(fx->meta, &vol_kind, vid, FX_OTHER, "restore", FX_TTL);
    backup("restoring", vid, live);
    struct transition t = {NULL, NULL, json_pack("{s:{s:s}}", "_s", "restoring_volume", vid),
                           "",   NULL, NULL};
    assert_int_equal(vs_transition(fx, &backup_kind, live, false, &t), 0);
    json_decref((json_t *)t.extra);
    vs_new_id(gone);
    backup("restoring", vid, busy);
    t.extra = json_pack("{s:{s:s}}", "_s", "restoring_volume", gone);
    assert_int_equal(vs_transition(fx, &backup_kind, busy, false, &t), 0);
    json_decref((json_t *)t.extra);

    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&backup_kind, live), "restoring");
    assert_string_equal(fx_status(&backup_kind, busy), "available");
    assert_string_equal(ut_field(fx->meta, &backup_kind, busy, "fail_reason"),
                        "the restore was interrupted");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_interrupted_backup_undone),
        T(test_creating_without_lease),
        T(test_interrupted_delete_finished),
        T(test_orphaned_restore_released),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
