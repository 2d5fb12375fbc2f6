/* test_blockd_state.c — blockd's volume state machine with no cluster: the
 * status table (vs_rule_from), guarded and fenced transitions, the leased
 * operations (create, extend, delete, snapshots) run to the end on the fakes,
 * illegal moves refused with -ECANCELED and Cinder's message, and the quick
 * attach moves (vs_cas_move). */
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

__attribute__((format(printf, 2, 3))) static void expect_msg(const char *msg, const char *fmt, ...)
{
    va_list ap;

    char want[VOL_MSG_MAX];

    va_start(ap, fmt);
    vsnprintf(want, sizeof(want), fmt, ap);
    va_end(ap);
    assert_string_equal(msg, want);
}

/* Every operation has a rule; each rule says where it may start from. */
static void test_rule_table(void **state)
{
    (void)state;
    for (int op = OP_REVERT; op <= OP_UNMANAGE; op++)
        assert_non_null(vs_rule_from((enum vol_op)op));
    assert_null(vs_rule_from((enum vol_op)999));
    assert_true(vs_status_in("error_extending", vs_rule_from(OP_DELETE)));
    assert_false(vs_status_in("in-use", vs_rule_from(OP_DELETE)));
    assert_false(vs_status_in("deleting", vs_rule_from(OP_DELETE)));
    assert_true(vs_status_in("available", vs_rule_from(OP_EXTEND)));
    assert_false(vs_status_in("in-use", vs_rule_from(OP_EXTEND)));
    assert_true(vs_status_in("in-use", vs_rule_from(OP_EXTEND_IN_USE)));
    assert_true(vs_status_in("attaching", vs_rule_from(OP_ATTACH)));
    assert_false(vs_status_in("available", vs_rule_from(OP_ATTACH)));
    assert_false(vs_status_in(NULL, vs_rule_from(OP_RESERVE)));
    assert_false(vs_status_in("available", NULL));
}

/* A guarded move writes status, extra members and "_s" together; from a
 * status outside the rule it is -ECANCELED with the status found, and nothing
 * is written. */
static void test_transition_guarded(void **state)
{
    char id[37];
    struct st_record r = {0};

    (void)state;
    fx_volume("available", 1, true, id);
    json_t *extra = json_pack("{s:s, s:{s:i}}", "bootable", "true", "_s", "extend_to", 5);
    struct transition t = {vs_rule_from(OP_EXTEND), "extending", extra, "", NULL, NULL};
    assert_int_equal(vs_transition(fx, &vol_kind, id, false, &t), 0);
    assert_string_equal(t.cur, "available");
    assert_int_equal(st_meta_get(fx->meta, &vol_kind, id, &r), 0);
    assert_string_equal(st_rec_str(r.data, "status"), "extending");
    assert_string_equal(st_rec_str(r.data, "bootable"), "true");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r.data, "_s"), "extend_to")), 5);
    assert_non_null(st_rec_str(r.data, "updated_at"));
    uint64_t v = r.version;
    st_record_cleanup(&r);

    assert_int_equal(vs_transition(fx, &vol_kind, id, false, &t), -ECANCELED);
    assert_string_equal(t.cur, "extending");
    assert_int_equal(st_meta_get(fx->meta, &vol_kind, id, &r), 0);
    assert_true(r.version == v);
    st_record_cleanup(&r);
    json_decref(extra);

    /* missing and hidden records are not found */
    struct transition any = {NULL, "error", NULL, "", NULL, NULL};
    assert_int_equal(vs_transition(fx, &vol_kind, "no-such-volume", false, &any), -ENOENT);
    json_t *hide = json_pack("{s:{s:b}}", "_s", "deleted", 1);
    struct transition h = {NULL, "deleted", hide, "", NULL, NULL};
    assert_int_equal(vs_transition(fx, &vol_kind, id, false, &h), 0);
    assert_int_equal(vs_transition(fx, &vol_kind, id, false, &any), -ENOENT);
    json_decref(hide);
}

/* A job's fenced step needs the lease: refused (-ESTALE) without it or once
 * another owner took it over, and the record keeps its status. */
static void test_step_fenced(void **state)
{
    char id[37];

    (void)state;
    fx_volume("extending", 1, true, id);
    assert_int_equal(vs_step(fx, &vol_kind, id, "extending", "available", NULL), -ESTALE);
    assert_int_equal(
        st_lease_acquire(fx->meta, &vol_kind, id, FX_OWNER, "extend", st_now_ms(), FX_TTL), 0);
    fake_clock_advance(FX_TTL);
    assert_int_equal(
        st_lease_acquire(fx->meta, &vol_kind, id, FX_OTHER, "delete", st_now_ms(), FX_TTL), 0);
    assert_int_equal(vs_step(fx, &vol_kind, id, "extending", "available", NULL), -ESTALE);
    assert_string_equal(fx_status(&vol_kind, id), "extending");
    assert_int_equal(st_lease_release(fx->meta, &vol_kind, id, FX_OTHER), 0);
    assert_int_equal(
        st_lease_acquire(fx->meta, &vol_kind, id, FX_OWNER, "extend", st_now_ms(), FX_TTL), 0);
    assert_int_equal(vs_step(fx, &vol_kind, id, "available", "error", NULL), -ECANCELED);
    assert_int_equal(vs_step(fx, &vol_kind, id, "extending", "available", NULL), 0);
    assert_string_equal(fx_status(&vol_kind, id), "available");
}

/* Create: "creating" with its lease at once, the job makes the image and
 * moves it to available; the lease goes with the job. */
static void test_create_runs_to_available(void **state)
{
    struct vol_create_req req = {.name = "v", .size_gb = 2};
    char msg[VOL_MSG_MAX] = "";
    json_t *out = NULL;

    (void)state;
    assert_int_equal(vol_create(fx, &fx_user, &req, &out, msg), 0);
    const char *id = st_rec_str(out, "id");
    assert_string_equal(st_rec_str(out, "status"), "creating");
    assert_string_equal(fx_status(&vol_kind, id), "creating");
    assert_string_equal(fx_lease_owner(&vol_kind, id), FX_OWNER);
    assert_int_equal(fake_work_pending(), 1);
    assert_string_equal(fake_work_last_id(), id);

    assert_int_equal(fake_work_run(), 1);
    assert_string_equal(fx_status(&vol_kind, id), "available");
    assert_true(fx_image(id));
    assert_null(fx_lease_owner(&vol_kind, id));
    struct vq_counts lim, use;
    assert_int_equal(vol_quota_get(fx->quota, "p1", &lim, &use), 0);
    assert_int_equal(use.n[VQ_VOLUMES], 1);
    assert_int_equal(use.n[VQ_GIGABYTES], 2);
    json_decref(out);
}

/* A create whose image cannot be made ends in error, with the reason. */
static void test_create_failure_ends_in_error(void **state)
{
    struct vol_create_req req = {.size_gb = 1};
    char msg[VOL_MSG_MAX] = "";
    json_t *out = NULL;
    struct st_record r = {0};

    (void)state;
    fake_rbd_fail("st_rbd_create", -ENOSPC);
    assert_int_equal(vol_create(fx, &fx_user, &req, &out, msg), 0);
    const char *id = st_rec_str(out, "id");
    fake_work_run();
    assert_int_equal(st_meta_get(fx->meta, &vol_kind, id, &r), 0);
    assert_string_equal(st_rec_str(r.data, "status"), "error");
    assert_non_null(st_rec_str(json_object_get(r.data, "_s"), "error"));
    st_record_cleanup(&r);
    assert_false(fx_image(id));
    json_decref(out);
}

/* Extend: available → extending → available, image and record grown. */
static void test_extend_runs(void **state)
{
    char id[37], msg[VOL_MSG_MAX] = "";
    uint64_t size = 0;
    char name[NAME_MAX_LEN];

    (void)state;
    fx_volume("available", 1, true, id);
    assert_int_equal(vol_extend(fx, &fx_user, id, 3, false, msg), 0);
    assert_string_equal(fx_status(&vol_kind, id), "extending");
    assert_string_equal(fx_lease_owner(&vol_kind, id), FX_OWNER);
    fake_work_run();
    assert_string_equal(fx_status(&vol_kind, id), "available");
    assert_int_equal(fx_int(&vol_kind, id, "size"), 3);
    vol_rbd_name(id, name, sizeof(name));
    assert_int_equal(st_rbd_size(fx->vols, name, NULL, &size), 0);
    assert_true(size == 3 * GIB);
    assert_null(fx_lease_owner(&vol_kind, id));

    assert_int_equal(vol_extend(fx, &fx_user, id, 3, false, msg), -EINVAL);
    assert_string_equal(msg, "Invalid input received: New size for extend must be greater than "
                             "current size. (current: 3, extended: 3).");
    assert_null(fx_lease_owner(&vol_kind, id));
    assert_int_equal(vol_extend(fx, &(struct st_auth_ctx){.project_id = "p2"}, id, 9, false, msg),
                     -ENOENT);
}

/* An in-use volume: refused before 3.42 (-ECANCELED, Cinder's message, the
 * lease given back), extended with it, back to in-use and the guest told. */
static void test_extend_in_use(void **state)
{
    char id[37], msg[VOL_MSG_MAX] = "";

    (void)state;
    fx_volume("in-use", 1, true, id);
    json_t *att =
        json_pack("{s:[{s:s, s:s}]}", "attachments", "attachment_id", "a1", "server_id", "srv1");
    struct transition t = {NULL, NULL, att, "", NULL, NULL};
    assert_int_equal(vs_transition(fx, &vol_kind, id, false, &t), 0);
    json_decref(att);

    assert_int_equal(vol_extend(fx, &fx_user, id, 2, false, msg), -ECANCELED);
    expect_msg(msg, "Invalid volume: volume %s is in-use; this needs one of: available", id);
    assert_string_equal(fx_status(&vol_kind, id), "in-use");
    assert_null(fx_lease_owner(&vol_kind, id));
    assert_int_equal(fake_work_pending(), 0);

    fake_httpc_rule("POST", "os-server-external-events", 200, "{\"events\": []}");
    assert_int_equal(vol_extend(fx, &fx_user, id, 2, true, msg), 0);
    fake_work_run(); /* the extend, then the tell */
    assert_string_equal(fx_status(&vol_kind, id), "in-use");
    assert_int_equal(fx_int(&vol_kind, id, "size"), 2);
    assert_int_equal(fake_httpc_calls_to("POST", "http://compute.test:8774"), 1);
}

/* A resize that fails ends error_extending and gives the quota back. */
static void test_extend_failure(void **state)
{
    char id[37], msg[VOL_MSG_MAX] = "";
    struct vq_counts lim, use;

    (void)state;
    fx_volume("available", 1, true, id);
    fake_rbd_fail("st_rbd_resize", -EIO);
    assert_int_equal(vol_extend(fx, &fx_user, id, 4, false, msg), 0);
    assert_int_equal(vol_quota_get(fx->quota, "p1", &lim, &use), 0);
    assert_int_equal(use.n[VQ_GIGABYTES], 1 + 3); /* counted from the records, + the growth */
    fake_work_run();
    assert_string_equal(fx_status(&vol_kind, id), "error_extending");
    assert_int_equal(fx_int(&vol_kind, id, "size"), 1);
    assert_int_equal(vol_quota_get(fx->quota, "p1", &lim, &use), 0);
    assert_int_equal(use.n[VQ_GIGABYTES], 1);
    /* error_extending may be deleted, not extended */
    assert_int_equal(vol_extend(fx, &fx_user, id, 5, false, msg), -ECANCELED);
    assert_true(vs_status_in("error_extending", vs_rule_from(OP_DELETE)));
}

/* Another operation's live lease: -ECANCELED naming it; once that lease has
 * expired (its holder died) the next operation takes it over. */
static void test_busy_until_lease_expires(void **state)
{
    char id[37], msg[VOL_MSG_MAX] = "";

    (void)state;
    fx_volume("available", 1, true, id);
    assert_int_equal(
        st_lease_acquire(fx->meta, &vol_kind, id, FX_OTHER, "retype", st_now_ms(), FX_TTL), 0);
    fake_clock_advance(FX_TTL - 1);
    assert_int_equal(vol_extend(fx, &fx_user, id, 2, false, msg), -ECANCELED);
    expect_msg(msg, "Invalid volume: volume %s is available (retype in progress)", id);
    assert_string_equal(fx_lease_owner(&vol_kind, id), FX_OTHER);
    fake_clock_advance(1);
    assert_int_equal(vol_extend(fx, &fx_user, id, 2, false, msg), 0);
    assert_string_equal(fx_lease_owner(&vol_kind, id), FX_OWNER);
    fake_work_run();
    assert_int_equal(fx_int(&vol_kind, id, "size"), 2);
}

/* A job the pool cannot take: the status is put back, the lease released. */
static void test_submit_failure_rolls_back(void **state)
{
    char id[37], msg[VOL_MSG_MAX] = "";

    (void)state;
    fx_volume("available", 1, true, id);
    fake_work_fail_next(-EAGAIN);
    assert_int_equal(vol_extend(fx, &fx_user, id, 2, false, msg), -EAGAIN);
    assert_string_equal(fx_status(&vol_kind, id), "available");
    assert_null(fx_lease_owner(&vol_kind, id));
    assert_int_equal(fake_work_pending(), 0);
}

/* Delete: refused from in-use and, without cascade, with snapshots; with
 * cascade the snapshots, the image and the records all go. */
static void test_delete(void **state)
{
    char id[37], busy[37], msg[VOL_MSG_MAX] = "";
    json_t *snap = NULL;

    (void)state;
    fx_volume("in-use", 1, true, busy);
    assert_int_equal(vol_delete(fx, &fx_user, busy, false, msg), -ECANCELED);
    expect_msg(msg, "Invalid volume: volume %s is in-use; this needs one of: available, error",
               busy);
    assert_null(fx_lease_owner(&vol_kind, busy));

    fx_volume("available", 1, true, id);
    assert_int_equal(snap_create(fx, &fx_user, id, "s1", NULL, false, NULL, &snap, msg), 0);
    const char *sid = st_rec_str(snap, "id");
    assert_string_equal(fx_status(&snap_kind, sid), "creating");
    fake_work_run();
    assert_string_equal(fx_status(&snap_kind, sid), "available");
    char vname[NAME_MAX_LEN], sname[NAME_MAX_LEN];
    vol_rbd_name(id, vname, sizeof(vname));
    snap_rbd_name(sid, sname, sizeof(sname));
    assert_true(fake_rbd_snap_exists(fx->vols, vname, sname));

    assert_int_equal(vol_delete(fx, &fx_user, id, false, msg), -EINVAL);
    expect_msg(msg,
               "Invalid volume: Volume %s still has 1 dependent snapshot(s); delete them "
               "first or use cascade",
               id);
    assert_string_equal(fx_status(&vol_kind, id), "available");
    assert_null(fx_lease_owner(&vol_kind, id));

    assert_int_equal(vol_delete(fx, &fx_user, id, true, msg), 0);
    assert_string_equal(fx_status(&vol_kind, id), "deleting");
    /* deleting: nothing else may start */
    assert_int_equal(vol_extend(fx, &fx_user, id, 5, false, msg), -ECANCELED);
    fake_work_run();
    assert_string_equal(fx_status(&vol_kind, id), "(gone)");
    assert_string_equal(fx_status(&snap_kind, sid), "(gone)");
    assert_false(fx_image(id));
    json_decref(snap);
}

/* A delete whose image cannot be removed ends error_deleting. */
static void test_delete_failure(void **state)
{
    char id[37], msg[VOL_MSG_MAX] = "";

    (void)state;
    fx_volume("error", 1, true, id);
    fake_rbd_fail("st_rbd_remove", -EIO);
    assert_int_equal(vol_delete(fx, &fx_user, id, false, msg), 0);
    fake_work_run();
    assert_string_equal(fx_status(&vol_kind, id), "error_deleting");
    assert_true(fx_image(id));
}

/* The quick attach moves: compare-and-swap under the rules, no lease. */
static void test_cas_moves(void **state)
{
    char id[37], msg[VOL_MSG_MAX] = "";
    struct vol_attach_req reserve = {.op = VA_RESERVE}, unreserve = {.op = VA_UNRESERVE};
    struct vol_attach_req begin = {.op = VA_BEGIN_DETACH};
    json_t *out = NULL;

    (void)state;
    fx_volume("available", 1, true, id);
    assert_int_equal(vol_attach_action(fx, &fx_user, id, &reserve, &out, msg), 0);
    assert_string_equal(fx_status(&vol_kind, id), "reserved");
    assert_int_equal(vol_attach_action(fx, &fx_user, id, &reserve, &out, msg), -ECANCELED);
    expect_msg(msg, "Invalid volume: volume %s is reserved; this needs one of: available", id);
    assert_int_equal(vol_attach_action(fx, &fx_user, id, &begin, &out, msg), -ECANCELED);
    expect_msg(msg, "Invalid volume: volume %s is reserved; this needs one of: in-use", id);
    assert_int_equal(vol_attach_action(fx, &fx_user, id, &unreserve, &out, msg), 0);
    assert_string_equal(fx_status(&vol_kind, id), "available");
    assert_null(fx_lease_owner(&vol_kind, id));

    /* vs_cas_move itself: the rule of the op, and its message */
    assert_int_equal(
        vs_cas_move(fx, &vol_kind, id, OP_ROLL_DETACH, "in-use", NULL, NULL, NULL, msg),
        -ECANCELED);
    expect_msg(msg, "Invalid volume: volume %s is available; this needs one of: detaching", id);
    assert_int_equal(vs_cas_move(fx, &vol_kind, id, OP_RETYPE, "retyping", NULL, NULL, NULL, msg),
                     0);
    assert_string_equal(fx_status(&vol_kind, id), "retyping");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_rule_table),
        T(test_transition_guarded),
        T(test_step_fenced),
        T(test_create_runs_to_available),
        T(test_create_failure_ends_in_error),
        T(test_extend_runs),
        T(test_extend_in_use),
        T(test_extend_failure),
        T(test_busy_until_lease_expires),
        T(test_submit_failure_rolls_back),
        T(test_delete),
        T(test_delete_failure),
        T(test_cas_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
