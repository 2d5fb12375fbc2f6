/* test_blockd_reconcile.c — blockd's crash recovery (vol_reconcile.c) with no
 * cluster: operations whose holder died (its lease expired, or an earlier
 * incarnation of this node held it) are undone or resumed, never while the
 * lease is live; transient statuses no lease covers are treated alike; RBD
 * images no record owns are removed only when they are blockd's own; deleted
 * records are purged; reservations never recorded are freed. */
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

#include "blockd_fixture.h"

/* The record's lease taken by a daemon of another node that then died. */
#define lease_by(k, id, owner, op) ut_lease_take(fx->meta, k, id, owner, op, FX_TTL)

static void set_fields(const struct st_meta_kind *k, const char *id, json_t *extra)
{
    struct transition t = {NULL, NULL, extra, "", NULL, NULL};

    assert_int_equal(vs_transition(fx, k, id, false, &t), 0);
    json_decref(extra);
}

/* An interrupted create is undone: its partial image removed, the volume in
 * error — once the dead holder's lease has expired, not before. */
static void test_interrupted_create(void **state)
{
    char id[37];
    struct st_record r = {0};

    (void)state;
    fx_volume("creating", 1, true, id);
    lease_by(&vol_kind, id, FX_OTHER, "create");
    fake_clock_advance(FX_TTL - 1);
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&vol_kind, id), "creating");
    assert_true(fx_image(id));
    assert_string_equal(fx_lease_owner(&vol_kind, id), FX_OTHER);

    fake_clock_advance(1);
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_int_equal(st_meta_get(fx->meta, &vol_kind, id, &r), 0);
    assert_string_equal(st_rec_str(r.data, "status"), "error");
    assert_string_equal(st_rec_str(json_object_get(r.data, "_s"), "error"), "interrupted");
    st_record_cleanup(&r);
    assert_false(fx_image(id));
    assert_null(fx_lease_owner(&vol_kind, id));
    assert_int_equal(fake_work_pending(), 0);
}

/* A live lease of an earlier incarnation of this node: that process is
 * gone, its work is taken over at once. */
static void test_earlier_incarnation_taken_over(void **state)
{
    char id[37];

    (void)state;
    fx_volume("creating", 1, false, id);
    lease_by(&vol_kind, id, "node1/00000000000000aa", "create");
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&vol_kind, id), "error");
}

/* An interrupted delete is finished: resumed as a job under our lease. */
static void test_interrupted_delete_resumed(void **state)
{
    char id[37];

    (void)state;
    fx_volume("deleting", 1, true, id);
    lease_by(&vol_kind, id, FX_OTHER, "delete");
    fake_clock_advance(FX_TTL);
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_lease_owner(&vol_kind, id), FX_OWNER);
    assert_int_equal(fake_work_pending(), 1);
    assert_string_equal(fake_work_last_id(), id);
    fake_work_run();
    assert_string_equal(fx_status(&vol_kind, id), "(gone)");
    assert_false(fx_image(id));
    assert_null(fx_lease_owner(&vol_kind, id));
}

/* An interrupted extend is finished to the size it was going to. */
static void test_interrupted_extend_resumed(void **state)
{
    char id[37];

    (void)state;
    fx_volume("extending", 1, true, id);
    set_fields(&vol_kind, id, json_pack("{s:{s:i}}", "_s", "extend_to", 4));
    lease_by(&vol_kind, id, FX_OTHER, "extend");
    fake_clock_advance(FX_TTL);
    assert_int_equal(vol_service_reconcile(fx), 0);
    fake_work_run();
    assert_string_equal(fx_status(&vol_kind, id), "available");
    assert_int_equal(fx_int(&vol_kind, id, "size"), 4);
}

/* A restore interrupted half-way leaves the volume untrusted. */
static void test_interrupted_restore(void **state)
{
    char id[37];

    (void)state;
    fx_volume("restoring-backup", 1, true, id);
    lease_by(&vol_kind, id, FX_OTHER, "restore");
    fake_clock_advance(FX_TTL);
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&vol_kind, id), "error_restoring");
    assert_true(fx_image(id));
}

/* A transient status that no lease covers (a last step that failed) is
 * reconciled like an interrupted operation: nothing stays creating forever. */
static void test_transient_without_lease(void **state)
{
    char c[37], d[37], ok[37];

    (void)state;
    fx_volume("creating", 1, true, c);
    fx_volume("deleting", 1, true, d);
    fx_volume("available", 1, true, ok);
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&vol_kind, c), "error");
    assert_false(fx_image(c));
    fake_work_run();
    assert_string_equal(fx_status(&vol_kind, d), "(gone)");
    assert_string_equal(fx_status(&vol_kind, ok), "available");
    assert_true(fx_image(ok));
}

/* An interrupted snapshot create: its RBD snapshot removed, the record in error. */
static void test_interrupted_snapshot(void **state)
{
    char vid[37], sid[37], vname[NAME_MAX_LEN], sname[NAME_MAX_LEN];

    (void)state;
    fx_volume("available", 1, true, vid);
    vs_new_id(sid);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:i}", "id", sid, "status", "creating",
                            "volume_id", vid, "project_id", "p1", "size", 1);
    assert_int_equal(st_meta_create(fx->meta, &snap_kind, sid, rec, NULL), 0);
    json_decref(rec);
    vol_rbd_name(vid, vname, sizeof(vname));
    snap_rbd_name(sid, sname, sizeof(sname));
    assert_int_equal(st_rbd_snap_create(fx->vols, vname, sname, true), 0);
    lease_by(&snap_kind, sid, FX_OTHER, "create");
    fake_clock_advance(FX_TTL);
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&snap_kind, sid), "error");
    assert_false(fake_rbd_snap_exists(fx->vols, vname, sname));
    assert_string_equal(fx_status(&vol_kind, vid), "available");
}

/* Images no record owns: blockd's own (made since its mark on the pool) are
 * removed; older ones, unmanaged ones, owned ones and other names are kept. */
static void test_orphan_images(void **state)
{
    char owned[37], orphan[37], old[37], kept[37], name[NAME_MAX_LEN];

    (void)state;
    fx_volume("available", 1, true, owned);
    vs_new_id(orphan);
    vs_new_id(old);
    vs_new_id(kept);
    vol_rbd_name(orphan, name, sizeof(name));
    assert_int_equal(fake_rbd_add(fx->vols, name, GIB, st_now_ms() / 1000), 0);
    vol_rbd_name(old, name, sizeof(name));
    assert_int_equal(fake_rbd_add(fx->vols, name, GIB, st_now_ms() / 1000 - 86400), 0);
    vol_rbd_name(kept, name, sizeof(name));
    assert_int_equal(fake_rbd_add(fx->vols, name, GIB, st_now_ms() / 1000), 0);
    json_t *mark = json_pack("{s:s}", "strata_unmanaged", "x");
    assert_int_equal(vrbd_metadata_apply(fx->vols, name, mark), 0);
    json_decref(mark);
    assert_int_equal(fake_rbd_add(fx->vols, "volume-not-a-uuid", GIB, st_now_ms() / 1000), 0);
    assert_int_equal(fake_rbd_add(fx->vols, "someone-elses", GIB, st_now_ms() / 1000), 0);

    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_true(fx_image(owned));
    assert_false(fx_image(orphan));
    assert_true(fx_image(old));
    assert_true(fx_image(kept));
    assert_true(fake_rbd_exists(fx->vols, "volume-not-a-uuid"));
    assert_true(fake_rbd_exists(fx->vols, "someone-elses"));
}

/* A deleted (hidden) volume is purged once its image can go; while a clone
 * still needs its snapshot, record and image stay. */
static void test_hidden_purged(void **state)
{
    char id[37], pinned[37], name[NAME_MAX_LEN];

    (void)state;
    fx_volume("deleted", 1, true, id);
    set_fields(&vol_kind, id, json_pack("{s:{s:b}}", "_s", "deleted", 1));
    fx_volume("deleted", 1, true, pinned);
    set_fields(&vol_kind, pinned, json_pack("{s:{s:b}}", "_s", "deleted", 1));
    vol_rbd_name(pinned, name, sizeof(name));
    assert_int_equal(st_rbd_snap_create(fx->vols, name, "s", true), 0);
    assert_int_equal(st_rbd_clone(fx->vols, name, "s", fake_rados_ioctx(2), "a-clone", 0), 0);

    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&vol_kind, id), "(gone)");
    assert_false(fx_image(id));
    assert_string_equal(fx_status(&vol_kind, pinned), "deleted");
    assert_true(fx_image(pinned));

    assert_int_equal(st_rbd_remove(fake_rados_ioctx(2), "a-clone"), 0);
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&vol_kind, pinned), "(gone)");
    assert_false(fx_image(pinned));
}

/* A reservation whose attachment record was never written is freed after
 * the grace period, not before. */
static void test_pending_attachment_freed(void **state)
{
    char id[37];

    (void)state;
    fx_volume("reserved", 1, true, id);
    set_fields(&vol_kind, id,
               json_pack("{s:{s:s, s:I}}", "_s", "pending_attachment", "att-never-written",
                         "pending_since", (json_int_t)st_now_ms()));
    fake_clock_advance(FX_TTL - 1);
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&vol_kind, id), "reserved");
    fake_clock_advance(1);
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&vol_kind, id), "available");
}

/* The metadata store not answering: the pass reports it, changes nothing. */
static void test_store_down(void **state)
{
    char id[37];

    (void)state;
    fx_volume("creating", 1, true, id);
    lease_by(&vol_kind, id, FX_OTHER, "create");
    fake_clock_advance(FX_TTL);
    fake_rados_fail(-ETIMEDOUT, 2);
    assert_int_equal(vol_service_reconcile(fx), -ETIMEDOUT);
    fake_rados_fail(0, 0);
    assert_int_equal(vol_service_reconcile(fx), 0);
    assert_string_equal(fx_status(&vol_kind, id), "error");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_interrupted_create),
        T(test_earlier_incarnation_taken_over),
        T(test_interrupted_delete_resumed),
        T(test_interrupted_extend_resumed),
        T(test_interrupted_restore),
        T(test_transient_without_lease),
        T(test_interrupted_snapshot),
        T(test_orphan_images),
        T(test_hidden_purged),
        T(test_pending_attachment_freed),
        T(test_store_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
