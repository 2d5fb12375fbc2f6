/* test_compute_reconcile.c — the compute agent's reconcile (guest_reconcile.c)
 * with no libvirt or cluster (fake_virt.h, fake_rados.h, fake_rbd.h): dead
 * leases of our guests taken over after expiry and converged, power changes
 * made outside Strata recorded, guests that should run booted at start,
 * domains no record owns reaped (or only logged), the host's heartbeat. */
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
#include "fake_virt.h"
#include "fake_work.h"
#include "guest_internal.h"
#include "guest_json.h"
#include "meta_assert.h"

#define OWNER "h1/0000000000000001"
#define OTHER "h1x/0000000000000002"
#define TTL 30000
#define G1 "aaaaaaaa-1111-4111-8111-111111111111"
#define G2 "bbbbbbbb-2222-4222-8222-222222222222"
#define G3 "cccccccc-3333-4333-8333-333333333333"

static struct guest_service svc, *s = &svc;
static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    fake_rados_reset();
    fake_rbd_reset();
    fake_virt_reset();
    fake_work_reset();
    st_log_set_level(ST_LOG_ERROR);
    memset(&svc, 0, sizeof(svc));
    if (st_meta_open(fake_rados_ioctx(0), &s->meta) < 0)
        return -1;
    s->owner = OWNER;
    snprintf(s->host, sizeof(s->host), "h1");
    snprintf(s->fsid, sizeof(s->fsid), "fsid-1");
    snprintf(s->virt_type, sizeof(s->virt_type), "qemu");
    snprintf(s->vms_pool, sizeof(s->vms_pool), "vms");
    snprintf(s->ceph_user, sizeof(s->ceph_user), "strata");
    snprintf(s->secret_uuid, sizeof(s->secret_uuid), "5ec2e700-0000-4000-8000-000000000001");
    s->vms = fake_rados_ioctx(3);
    s->mon_hosts = json_pack("[s]", "10.0.0.1");
    s->mon_ports = json_pack("[s]", "6789");
    s->ttl_ms = TTL;
    s->shutdown_ms = 1000;
    s->resume = true;
    s->reap = true;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/strata-gsrec-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(s->state_dir, sizeof(s->state_dir), "%s", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_work_run();
    json_decref(s->mon_hosts);
    json_decref(s->mon_ports);
    st_meta_close(s->meta);
    rmdir(tmpdir);
    fake_virt_reset();
    fake_rbd_reset();
    fake_rados_reset();
    return 0;
}

/* A guest record of host `host` booted from an image (its root in vms). */
static void guest(const char *id, const char *host, const char *status, const char *desired,
                  const char *power)
{
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:{s:s, s:i}, "
                            "s:[], s:{}}",
                            "id", id, "name", "vm", "host", host, "project_id", "p1", "status",
                            status, "desired", desired, "power_state", power, "flavor", "m1",
                            "vcpus", 1, "ram_mb", 256, "root_disk", "image_id",
                            "99999999-9999-4999-8999-999999999999", "size_gb", 1, "volumes", "_s");

    assert_int_equal(st_meta_create(s->meta, &guest_kind, id, rec, NULL), 0);
    json_decref(rec);
}

#define field(id, name) ut_field(s->meta, &guest_kind, id, name)
#define lease_owner(id) ut_lease_owner(s->meta, &guest_kind, id)
#define lease_by(id, owner, op) ut_lease_take(s->meta, &guest_kind, id, owner, op, TTL)

/* A stale lease of our guest: taken over and converged — not while it lives. */
static void test_stale_lease_resumed(void **state)
{
    (void)state;
    guest(G1, "h1", GS_BUILDING, "running", "nostate");
    /* its root was cloned before the agent died: the build goes on from there */
    char root[128];
    gs_root_rbd_name(G1, root, sizeof(root));
    assert_int_equal(fake_rbd_add(s->vms, root, 1ULL << 30, 0), 0);
    lease_by(G1, OTHER, "create");
    fake_clock_advance(TTL - 1);
    gsvc_reconcile(s, 0);
    assert_string_equal(lease_owner(G1), OTHER);
    assert_int_equal(fake_work_pending(), 0);

    fake_clock_advance(1);
    gsvc_reconcile(s, 0);
    assert_string_equal(lease_owner(G1), OWNER);
    assert_int_equal(fake_work_pending(), 1);
    fake_work_run();
    assert_string_equal(fake_virt_state(G1), "running");
    assert_string_equal(field(G1, "status"), GS_ACTIVE);
    assert_string_equal(field(G1, "power_state"), "running");
    assert_null(lease_owner(G1));
    assert_non_null(strstr(fake_virt_xml(G1), root));
    assert_int_equal(fake_virt_secrets(), 1);
}

/* Another host's guest is not ours, even with a stale lease. */
static void test_other_hosts_guest_left(void **state)
{
    (void)state;
    guest(G1, "h2", GS_BUILDING, "running", "nostate");
    lease_by(G1, "h2/0000000000000009", "create");
    fake_clock_advance(TTL);
    gsvc_reconcile(s, 0);
    assert_string_equal(lease_owner(G1), "h2/0000000000000009");
    assert_int_equal(fake_work_pending(), 0);
}

/* A guest stopped (or its domain gone) behind our back: recorded, desired
 * follows; nothing while an operation holds its lease. */
static void test_outside_power_change_recorded(void **state)
{
    (void)state;
    guest(G1, "h1", GS_ACTIVE, "running", "running");
    fake_virt_add(G1, "h1", "fsid-1", "shutoff");
    guest(G2, "h1", GS_ACTIVE, "running", "running"); /* its domain vanished */
    guest(G3, "h1", GS_ACTIVE, "running", "running");
    fake_virt_add(G3, "h1", "fsid-1", "shutoff");
    lease_by(G3, OTHER, "reboot"); /* an operation in progress: it decides */

    gsvc_reconcile(s, 0);
    assert_string_equal(field(G1, "status"), GS_STOPPED);
    assert_string_equal(field(G1, "power_state"), "shutoff");
    assert_string_equal(field(G1, "desired"), "shutoff");
    assert_null(lease_owner(G1));
    assert_string_equal(field(G2, "status"), GS_STOPPED);
    assert_string_equal(field(G2, "power_state"), "nostate");
    assert_string_equal(field(G3, "status"), GS_ACTIVE);
    assert_string_equal(field(G3, "power_state"), "running");
    assert_string_equal(fake_virt_state(G1), "shutoff"); /* not restarted */
}

/* At start, a guest that should run and does not is booted (resume_guests). */
static void test_start_resumes_guests(void **state)
{
    char root[128];

    (void)state;
    guest(G1, "h1", GS_ACTIVE, "running", "running");
    gs_root_rbd_name(G1, root, sizeof(root));
    assert_int_equal(fake_rbd_add(s->vms, root, 1ULL << 30, 0), 0);
    fake_virt_add(G1, "h1", "fsid-1", "shutoff");
    guest(G2, "h1", GS_STOPPED, "shutoff", "shutoff");
    fake_virt_add(G2, "h1", "fsid-1", "shutoff");

    gsvc_reconcile(s, 1);
    assert_string_equal(lease_owner(G1), OWNER);
    fake_work_run();
    assert_string_equal(fake_virt_state(G1), "running");
    assert_string_equal(field(G1, "status"), GS_ACTIVE);
    assert_string_equal(fake_virt_state(G2), "shutoff");
    assert_string_equal(field(G2, "status"), GS_STOPPED);

    /* without resume_guests the start pass records what it finds instead */
    s->resume = false;
    assert_int_equal(virt_destroy(NULL, G1), 0);
    gsvc_reconcile(s, 1);
    assert_string_equal(field(G1, "status"), GS_STOPPED);
}

/* Domains of this host and cluster with no record are reaped, root image
 * too; another host's or another cluster's are not ours; with
 * running_deleted_instance_action = log they are only logged. */
static void test_unowned_domains(void **state)
{
    char root[128];

    (void)state;
    fake_virt_add(G1, "h1", "fsid-1", "running");
    gs_root_rbd_name(G1, root, sizeof(root));
    assert_int_equal(fake_rbd_add(s->vms, root, 1ULL << 30, 0), 0);
    fake_virt_add(G2, "h2", "fsid-1", "running");
    fake_virt_add(G3, "h1", "fsid-other", "running");

    s->reap = false;
    gsvc_reconcile(s, 0);
    assert_string_equal(fake_virt_state(G1), "running");

    s->reap = true;
    gsvc_reconcile(s, 0);
    assert_null(fake_virt_state(G1));
    assert_false(fake_rbd_exists(s->vms, root));
    assert_string_equal(fake_virt_state(G2), "running");
    assert_string_equal(fake_virt_state(G3), "running");
}

/* The heartbeat counts this host's running domains; with no guest left the
 * ceph secret goes. */
static void test_heartbeat_and_secret(void **state)
{
    struct st_record r = {0};

    (void)state;
    guest(G1, "h1", GS_ACTIVE, "running", "running");
    fake_virt_add(G1, "h1", "fsid-1", "running");
    fake_virt_add(G2, "h2", "fsid-1", "running"); /* not ours: not counted */
    assert_int_equal(virt_secret_ensure(NULL, s->secret_uuid, "strata", NULL, 0), 0);
    json_t *h = json_pack("{s:s, s:s, s:i, s:i}", "name", "h1", "status", "up", "running_guests", 0,
                          "heartbeat_at", 0);
    assert_int_equal(st_meta_create(s->meta, &host_kind, "h1", h, NULL), 0);
    json_decref(h);

    gsvc_reconcile(s, 0);
    assert_int_equal(st_meta_get(s->meta, &host_kind, "h1", &r), 0);
    assert_int_equal(json_integer_value(json_object_get(r.data, "running_guests")), 1);
    st_record_cleanup(&r);
    assert_int_equal(fake_virt_secrets(), 1);

    assert_int_equal(st_meta_delete(s->meta, &guest_kind, G1, 0), 0);
    assert_int_equal(virt_undefine(NULL, G1), 0);
    gsvc_reconcile(s, 0);
    assert_int_equal(fake_virt_secrets(), 0);
}

/* libvirt unreachable: the pass stops before judging any guest. */
static void test_libvirt_down(void **state)
{
    (void)state;
    guest(G1, "h1", GS_ACTIVE, "running", "running");
    fake_virt_fail("virt_list", -ECONNREFUSED);
    gsvc_reconcile(s, 0);
    assert_string_equal(field(G1, "status"), GS_ACTIVE);
    assert_string_equal(field(G1, "power_state"), "running");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_stale_lease_resumed),
        T(test_other_hosts_guest_left),
        T(test_outside_power_change_recorded),
        T(test_start_resumes_guests),
        T(test_unowned_domains),
        T(test_heartbeat_and_secret),
        T(test_libvirt_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
