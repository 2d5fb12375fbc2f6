/* test_lease.c — common/lease.c and the metadata store's guarded writes with no
 * cluster (fake_rados.h): leases taken over only once expired (or left by an
 * earlier incarnation), renew/release refused to a former holder, fenced
 * writes refused once another owner took over, and the reconcile scan. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fake_rados.h"
#include "strata/log.h"
#include "strata/meta.h"

static const struct st_meta_kind K = {"thing", NULL};
static struct st_meta *m;

#define T0 1800000000000LL
#define TTL 30000

static int setup(void **state)
{
    (void)state;
    fake_rados_reset();
    st_log_set_level(ST_LOG_ERROR);
    if (st_meta_open(fake_rados_ioctx(0), &m) < 0)
        return -1;
    json_t *d = json_pack("{s:s}", "status", "creating");
    int rc = st_meta_create(m, &K, "r1", d, NULL);
    json_decref(d);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    st_meta_close(m);
    fake_rados_reset();
    return 0;
}

static void test_acquire_needs_record(void **state)
{
    (void)state;
    assert_int_equal(st_lease_acquire(m, &K, "nope", "n1/a", "create", T0, TTL), -ENOENT);
    assert_int_equal(st_lease_acquire(m, &K, "r1", "n1/a", "create", T0, 0), -EINVAL);
    assert_int_equal(st_lease_acquire(m, &K, "r1", "", "create", T0, TTL), -EINVAL);
}

/* Another owner takes a lease over at its expiry, not one millisecond before. */
static void test_takeover_after_expiry_not_before(void **state)
{
    struct st_lease l;

    (void)state;
    assert_int_equal(st_lease_acquire(m, &K, "r1", "n1/a", "create", T0, TTL), 0);
    assert_int_equal(st_lease_acquire(m, &K, "r1", "n2/b", "delete", T0 + TTL - 1, TTL), -EBUSY);
    /* exclusive against its own owner too: one operation at a time */
    assert_int_equal(st_lease_acquire(m, &K, "r1", "n1/a", "extend", T0 + 1, TTL), -EBUSY);
    assert_int_equal(st_lease_get(m, &K, "r1", &l), 0);
    assert_string_equal(l.owner, "n1/a");
    assert_string_equal(l.op, "create");
    assert_true(l.expires_ms == T0 + TTL);

    assert_int_equal(st_lease_acquire(m, &K, "r1", "n2/b", "delete", T0 + TTL, TTL), 0);
    assert_int_equal(st_lease_get(m, &K, "r1", &l), 0);
    assert_string_equal(l.owner, "n2/b");
    assert_string_equal(l.op, "delete");
    assert_true(l.expires_ms == T0 + 2 * TTL);
}

/* A renewed lease is not taken over at its first expiry. */
static void test_renew_extends(void **state)
{
    (void)state;
    assert_int_equal(st_lease_acquire(m, &K, "r1", "n1/a", "create", T0, TTL), 0);
    assert_int_equal(st_lease_renew(m, &K, "r1", "n1/a", T0 + TTL / 2, TTL), 0);
    assert_int_equal(st_lease_acquire(m, &K, "r1", "n2/b", "x", T0 + TTL, TTL), -EBUSY);
    assert_int_equal(st_lease_acquire(m, &K, "r1", "n2/b", "x", T0 + TTL / 2 + TTL, TTL), 0);
}

/* The former holder can neither renew, release nor write once taken over. */
static void test_former_holder_fenced(void **state)
{
    struct st_record r = {0};
    json_t *d;

    (void)state;
    assert_int_equal(st_lease_acquire(m, &K, "r1", "n1/a", "create", T0, TTL), 0);
    assert_int_equal(st_lease_acquire(m, &K, "r1", "n2/b", "delete", T0 + TTL, TTL), 0);
    assert_int_equal(st_lease_renew(m, &K, "r1", "n1/a", T0 + TTL, TTL), -ESTALE);
    assert_int_equal(st_lease_release(m, &K, "r1", "n1/a"), -ESTALE);

    assert_int_equal(st_meta_get(m, &K, "r1", &r), 0);
    d = json_pack("{s:s}", "status", "available");
    assert_int_equal(st_meta_update(m, &K, "r1", r.version, d, NULL), 0); /* unfenced: fine */
    st_record_cleanup(&r);
    assert_int_equal(st_meta_get(m, &K, "r1", &r), 0);
    assert_true(r.version == 2);
    st_record_cleanup(&r);
    json_decref(d);

    /* the new holder releases; releasing again is a no-op */
    assert_int_equal(st_lease_release(m, &K, "r1", "n2/b"), 0);
    assert_int_equal(st_lease_release(m, &K, "r1", "n2/b"), 0);
    assert_int_equal(st_lease_renew(m, &K, "r1", "n2/b", T0, TTL), -ESTALE);
}

static int set_status(json_t *d, void *arg)
{
    json_object_set_new(d, "status", json_string(arg));
    return 0;
}

static int keep(json_t *d, void *arg)
{
    (void)d;
    (void)arg;
    return 1;
}

static int refuse(json_t *d, void *arg)
{
    (void)d;
    (void)arg;
    return -EPERM;
}

/* st_meta_modify_as: the holder writes; a lost lease (taken over) is -ESTALE
 * and nothing is written; a merely expired one still writes. */
static void test_fenced_modify(void **state)
{
    struct st_record r = {0};

    (void)state;
    assert_int_equal(st_lease_acquire(m, &K, "r1", "n1/a", "create", T0, TTL), 0);
    assert_int_equal(st_meta_modify_as(m, &K, "r1", "n1/a", set_status, "s2", &r), 0);
    assert_string_equal(st_rec_str(r.data, "status"), "s2");
    assert_true(r.version == 2);
    st_record_cleanup(&r);
    /* expired, nobody took it: still ours */
    assert_int_equal(st_meta_modify_as(m, &K, "r1", "n1/a", set_status, "s3", NULL), 0);
    assert_int_equal(st_meta_modify_as(m, &K, "r1", "n9/z", set_status, "x", NULL), -ESTALE);

    assert_int_equal(st_lease_acquire(m, &K, "r1", "n2/b", "delete", T0 + TTL, TTL), 0);
    assert_int_equal(st_meta_modify_as(m, &K, "r1", "n1/a", set_status, "lost", NULL), -ESTALE);
    assert_int_equal(st_meta_get(m, &K, "r1", &r), 0);
    assert_string_equal(st_rec_str(r.data, "status"), "s3");
    assert_true(r.version == 3);
    st_record_cleanup(&r);

    /* an edit that changes nothing writes nothing; an edit's error aborts */
    unsigned w = fake_rados_writes();
    assert_int_equal(st_meta_modify_as(m, &K, "r1", "n2/b", keep, NULL, NULL), 0);
    assert_int_equal(st_meta_modify(m, &K, "r1", refuse, NULL, NULL), -EPERM);
    assert_int_equal(fake_rados_writes(), w);
    assert_int_equal(st_meta_modify(m, &K, "gone", set_status, "x", NULL), -ENOENT);
}

/* Compare-and-swap on versions; delete takes the lease with it. */
static void test_cas_and_delete(void **state)
{
    json_t *d = json_pack("{s:s}", "status", "x");
    uint64_t v = 0;

    (void)state;
    assert_int_equal(st_meta_create(m, &K, "r1", d, NULL), -EEXIST);
    assert_int_equal(st_meta_update(m, &K, "r1", 7, d, NULL), -ECANCELED);
    assert_int_equal(st_meta_update(m, &K, "r1", 1, d, &v), 0);
    assert_true(v == 2);
    assert_int_equal(st_meta_update(m, &K, "r1", 1, d, NULL), -ECANCELED);
    assert_int_equal(st_meta_update(m, &K, "nope", 1, d, NULL), -ENOENT);
    assert_int_equal(st_meta_delete(m, &K, "r1", 1), -ECANCELED);

    assert_int_equal(st_meta_create_leased(m, &K, "r2", d, "n1/a", "create", T0, TTL, &v), 0);
    struct st_lease l;
    assert_int_equal(st_lease_get(m, &K, "r2", &l), 0);
    assert_string_equal(l.op, "create");
    assert_int_equal(st_meta_delete(m, &K, "r2", 0), 0);
    assert_int_equal(st_lease_get(m, &K, "r2", &l), -ENOENT);
    assert_int_equal(st_meta_delete(m, &K, "r2", 0), -ENOENT);
    json_decref(d);
}

/* A lease of an earlier incarnation of this node is stale at once; another
 * node's live lease is not. */
static void test_stale_rules(void **state)
{
    struct st_lease l = {"node1/aaaa", T0 + TTL, "create"};

    (void)state;
    assert_false(st_lease_is_stale(&l, "node1/aaaa", T0));
    assert_true(st_lease_is_stale(&l, "node1/bbbb", T0));
    assert_false(st_lease_is_stale(&l, "node2/bbbb", T0));
    assert_false(st_lease_is_stale(&l, "node/aaaa", T0)); /* a prefix is another node */
    assert_false(st_lease_is_stale(&l, NULL, T0));
    assert_true(st_lease_is_stale(&l, NULL, T0 + TTL));

    assert_int_equal(st_lease_acquire(m, &K, "r1", "node1/aaaa", "create", T0, TTL), 0);
    assert_int_equal(st_lease_acquire(m, &K, "r1", "node2/cccc", "x", T0, TTL), -EBUSY);
    assert_int_equal(st_lease_acquire(m, &K, "r1", "node1/bbbb", "x", T0, TTL), 0);
}

static void test_owner_new(void **state)
{
    char a[128], b[128], tiny[8];

    (void)state;
    assert_int_equal(st_lease_owner_new("host1", a, sizeof(a)), 0);
    assert_int_equal(st_lease_owner_new("host1", b, sizeof(b)), 0);
    assert_int_equal(strncmp(a, "host1/", 6), 0);
    assert_int_equal(strlen(a), 6 + 16);
    assert_string_not_equal(a, b);
    assert_int_equal(st_lease_owner_new("", a, sizeof(a)), -EINVAL);
    assert_int_equal(st_lease_owner_new("host1", tiny, sizeof(tiny)), -ERANGE);
}

struct seen {
    char ids[8][16];
    int n;
};

static int on_stale(struct st_meta *mm, const char *id, const struct st_lease *l, void *arg)
{
    struct seen *s = arg;

    (void)mm;
    (void)l;
    snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", id);
    return strcmp(id, "r3") == 0 ? -EIO : 0; /* an error is logged, the pass goes on */
}

/* The scan calls fn for stale leases only, in id order, and counts them. */
static void test_reconcile_scan(void **state)
{
    json_t *d = json_pack("{s:s}", "status", "x");
    struct seen s = {0};

    (void)state;
    for (int i = 2; i <= 4; i++) {
        char id[8];
        snprintf(id, sizeof(id), "r%d", i);
        assert_int_equal(st_meta_create(m, &K, id, d, NULL), 0);
    }
    assert_int_equal(st_lease_acquire(m, &K, "r1", "n2/b", "create", T0, TTL), 0);       /* live */
    assert_int_equal(st_lease_acquire(m, &K, "r2", "n2/b", "create", T0 - TTL, TTL), 0); /* exp. */
    assert_int_equal(st_lease_acquire(m, &K, "r3", "n1/old", "delete", T0, TTL), 0);     /* mine */
    assert_int_equal(st_lease_acquire(m, &K, "r4", "n1/me", "delete", T0, TTL), 0);      /* live */
    assert_int_equal(st_lease_reconcile(m, &K, "n1/me", T0, on_stale, &s), 2);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], "r2");
    assert_string_equal(s.ids[1], "r3");
    /* no store, no scan; an empty kind has nothing stale */
    static const struct st_meta_kind empty = {"empty", NULL};
    assert_int_equal(st_lease_reconcile(NULL, &K, "n1/me", T0, on_stale, &s), -EINVAL);
    assert_int_equal(st_lease_reconcile(m, &empty, "n1/me", T0, on_stale, &s), 0);
    json_decref(d);
}

/* A store that does not answer: errors come back, nothing half-written. */
static void test_store_errors(void **state)
{
    struct st_record r = {0};

    (void)state;
    fake_rados_fail(-ETIMEDOUT, 1);
    assert_int_equal(st_lease_acquire(m, &K, "r1", "n1/a", "create", T0, TTL), -ETIMEDOUT);
    fake_rados_fail(-ETIMEDOUT, 1);
    assert_int_equal(st_meta_get(m, &K, "r1", &r), -ETIMEDOUT);
    assert_int_equal(st_lease_acquire(m, &K, "r1", "n1/a", "create", T0, TTL), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_acquire_needs_record), T(test_takeover_after_expiry_not_before),
        T(test_renew_extends),        T(test_former_holder_fenced),
        T(test_fenced_modify),        T(test_cas_and_delete),
        T(test_stale_rules),          T(test_owner_new),
        T(test_reconcile_scan),       T(test_store_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
