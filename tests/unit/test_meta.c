/* test_meta.c — the metadata store, its leases and leased pool jobs against a
 * REAL Ceph cluster (STRATA_TEST_CEPH_CONF; skipped without it).  Each run
 * works in its own random RADOS namespace and removes its objects at the end. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <cmocka.h>

#include "strata/log.h"
#include "strata/meta.h"
#include "strata/rados.h"
#include "strata/workpool.h"

/* Two clients, each with its own connection: like two daemons. */
struct client {
    rados_t cluster;
    rados_ioctx_t io;
    struct st_meta *m;
};

static struct client A, B;
static bool have_cluster;
static char nspace[64];

static const struct st_meta_kind K_BASIC = {"basic", NULL};
/* Kinds of their own for tests that delete: a new record starts above the
 * versions deleted ones of its kind reached, and K_BASIC's start at 1. */
static const struct st_meta_kind K_ROUND = {"roundtrip", NULL};
static const struct st_meta_kind K_UPD = {"conflicts", NULL};

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);

    return v && v[0] ? v : dflt;
}

static int client_open(struct client *c)
{
    struct st_rados_config cfg = {
        .conf = getenv("STRATA_TEST_CEPH_CONF"),
        .keyring = getenv("STRATA_TEST_CEPH_KEYRING"),
        .user = env_or("STRATA_TEST_CEPH_USER", "admin"),
        .op_timeout_s = 20,
        .connect_timeout_s = 20,
    };
    int rc;

    rc = st_rados_connect(&cfg, &c->cluster);
    if (rc == 0)
        rc = st_rados_ioctx(c->cluster, env_or("STRATA_TEST_META_POOL", "strata.meta"), &c->io);
    if (rc == 0) {
        rados_ioctx_set_namespace(c->io, nspace);
        rc = st_meta_open(c->io, &c->m);
    }
    return rc;
}

static void client_close(struct client *c)
{
    st_meta_close(c->m);
    if (c->io)
        rados_ioctx_destroy(c->io);
    st_rados_shutdown(c->cluster);
    memset(c, 0, sizeof(*c));
}

static int group_setup(void **state)
{
    unsigned char rnd[8];

    (void)state;
    st_log_init("test_meta", ST_LOG_WARN);
    if (!getenv("STRATA_TEST_CEPH_CONF") || !getenv("STRATA_TEST_CEPH_CONF")[0]) {
        printf("test_meta: STRATA_TEST_CEPH_CONF is not set: skipping every test "
               "(they need a real Ceph cluster)\n");
        return 0;
    }
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return -1;
    snprintf(nspace, sizeof(nspace), "strata-test-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    if (client_open(&A) < 0 || client_open(&B) < 0) {
        printf("test_meta: cannot reach the cluster in %s\n", getenv("STRATA_TEST_CEPH_CONF"));
        return -1;
    }
    have_cluster = true;
    return 0;
}

/* Remove every object this run made in its namespace. */
static int group_teardown(void **state)
{
    rados_list_ctx_t ctx;
    const char *oid, *loc, *ns;
    char **oids = NULL;
    size_t n = 0;

    (void)state;
    if (!have_cluster)
        return 0;
    if (rados_nobjects_list_open(A.io, &ctx) == 0) {
        while (rados_nobjects_list_next(ctx, &oid, &loc, &ns) == 0) {
            char **grown = realloc(oids, (n + 1) * sizeof(*oids));
            if (!grown)
                break;
            oids = grown;
            oids[n++] = strdup(oid);
        }
        rados_nobjects_list_close(ctx);
    }
    for (size_t i = 0; i < n; i++) {
        if (oids[i])
            rados_remove(A.io, oids[i]);
        free(oids[i]);
    }
    free(oids);
    printf("test_meta: removed %zu objects from namespace %s\n", n, nspace);
    client_close(&A);
    client_close(&B);
    return 0;
}

#define NEED_CLUSTER()                                                                             \
    do {                                                                                           \
        (void)state;                                                                               \
        if (!have_cluster)                                                                         \
            skip();                                                                                \
    } while (0)

static json_t *J(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);

    assert_non_null(j);
    return j;
}

static void assert_record(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                          uint64_t version, const char *json)
{
    struct st_record r = {0};
    json_t *want = J(json);

    assert_int_equal(st_meta_get(m, k, id, &r), 0);
    assert_string_equal(r.id, id);
    assert_int_equal(r.version, version);
    assert_true(json_equal(r.data, want));
    json_decref(want);
    st_record_cleanup(&r);
}

static int create_json(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                       const char *json, uint64_t *version)
{
    json_t *d = J(json);
    int rc = st_meta_create(m, k, id, d, version);

    json_decref(d);
    return rc;
}

static int update_json(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                       uint64_t expected, const char *json, uint64_t *version)
{
    json_t *d = J(json);
    int rc = st_meta_update(m, k, id, expected, d, version);

    json_decref(d);
    return rc;
}

/* ---- what the store relies on in Ceph's omap_cmp ---- */

static int raw_cmp(const char *oid, bool create, const char *key, uint8_t op, const char *val)
{
    rados_write_op_t w = rados_create_write_op();
    int prval = 0, rc;

    if (create)
        rados_write_op_create(w, LIBRADOS_CREATE_IDEMPOTENT, NULL);
    rados_write_op_omap_cmp2(w, key, op, val, strlen(key), strlen(val), &prval);
    rc = rados_write_op_operate2(w, A.io, oid, NULL, 0);
    rados_release_write_op(w);
    return rc;
}

static void test_omap_cmp_semantics(void **state)
{
    const char *keys[] = {"present"}, *vals[] = {"1"};
    size_t kl[] = {7}, vl[] = {1};
    rados_write_op_t w;

    NEED_CLUSTER();
    /* On an object that does not exist: without create the guard fails with
     * -ENOENT; with create first in the same op it runs on the new object. */
    assert_int_equal(raw_cmp("probe.new", false, "missing", LIBRADOS_CMPXATTR_OP_EQ, ""), -ENOENT);
    assert_int_equal(raw_cmp("probe.new", true, "missing", LIBRADOS_CMPXATTR_OP_EQ, ""), 0);

    w = rados_create_write_op();
    rados_write_op_create(w, LIBRADOS_CREATE_IDEMPOTENT, NULL);
    rados_write_op_omap_set2(w, keys, vals, kl, vl, 1);
    assert_int_equal(rados_write_op_operate2(w, A.io, "probe.cmp", NULL, 0), 0);
    rados_release_write_op(w);
    /* A missing key compares equal to "" (the create guard)... */
    assert_int_equal(raw_cmp("probe.cmp", false, "missing", LIBRADOS_CMPXATTR_OP_EQ, ""), 0);
    assert_int_equal(raw_cmp("probe.cmp", false, "missing", LIBRADOS_CMPXATTR_OP_EQ, "1"),
                     -ECANCELED);
    assert_int_equal(raw_cmp("probe.cmp", false, "present", LIBRADOS_CMPXATTR_OP_EQ, ""),
                     -ECANCELED);
    /* ...and GT "" holds exactly for a present, non-empty key (delete, acquire). */
    assert_int_equal(raw_cmp("probe.cmp", false, "present", LIBRADOS_CMPXATTR_OP_GT, ""), 0);
    assert_int_equal(raw_cmp("probe.cmp", false, "missing", LIBRADOS_CMPXATTR_OP_GT, ""),
                     -ECANCELED);
}

/* ---- records ---- */

static void test_round_trip(void **state)
{
    uint64_t v = 0;

    NEED_CLUSTER();
    /* The kind's object does not exist yet: create makes it. */
    assert_int_equal(create_json(A.m, &K_ROUND, "vol-1", "{\"name\":\"a\",\"size\":1}", &v), 0);
    assert_int_equal(v, 1);
    assert_record(A.m, &K_ROUND, "vol-1", 1, "{\"size\":1,\"name\":\"a\"}");
    /* The other client sees it. */
    assert_record(B.m, &K_ROUND, "vol-1", 1, "{\"size\":1,\"name\":\"a\"}");
    assert_int_equal(update_json(A.m, &K_ROUND, "vol-1", 1, "{\"name\":\"b\"}", &v), 0);
    assert_int_equal(v, 2);
    assert_record(B.m, &K_ROUND, "vol-1", 2, "{\"name\":\"b\"}");
    assert_int_equal(update_json(B.m, &K_ROUND, "vol-1", 2, "{\"name\":\"c\"}", NULL), 0);
    assert_record(A.m, &K_ROUND, "vol-1", 3, "{\"name\":\"c\"}");
    assert_int_equal(st_meta_delete(A.m, &K_ROUND, "vol-1", 3), 0);
    assert_int_equal(st_meta_get(A.m, &K_ROUND, "vol-1", &(struct st_record){0}), -ENOENT);
    /* Gone means gone: it can be created afresh, above every old version. */
    assert_int_equal(create_json(A.m, &K_ROUND, "vol-1", "{}", &v), 0);
    assert_int_equal(v, 4);
    assert_int_equal(st_meta_delete(A.m, &K_ROUND, "vol-1", 0), 0);
}

static void test_create_twice(void **state)
{
    NEED_CLUSTER();
    assert_int_equal(create_json(A.m, &K_BASIC, "dup", "{\"who\":\"first\"}", NULL), 0);
    assert_int_equal(create_json(A.m, &K_BASIC, "dup", "{\"who\":\"second\"}", NULL), -EEXIST);
    assert_int_equal(create_json(B.m, &K_BASIC, "dup", "{\"who\":\"third\"}", NULL), -EEXIST);
    assert_record(A.m, &K_BASIC, "dup", 1, "{\"who\":\"first\"}");
}

/* Delete + re-create of an id never hands out a version of the deleted
 * record again, so a client holding one cannot CAS onto the new record (ABA). */
static void test_recreate_no_aba(void **state)
{
    static const struct st_meta_kind k = {"aba", NULL};
    struct st_record held = {0}, r = {0};
    json_t *empty = json_object();
    uint64_t v = 0, last;

    NEED_CLUSTER();
    assert_int_equal(create_json(A.m, &k, "rec", "{\"gen\":1}", &v), 0);
    /* B reads the first incarnation and keeps its version. */
    assert_int_equal(st_meta_get(B.m, &k, "rec", &held), 0);
    assert_int_equal(update_json(A.m, &k, "rec", v, "{\"gen\":1,\"n\":2}", &v), 0);
    assert_int_equal(update_json(A.m, &k, "rec", v, "{\"gen\":1,\"n\":3}", &v), 0);
    assert_int_equal(st_meta_delete(A.m, &k, "rec", v), 0);
    last = v;
    assert_int_equal(create_json(A.m, &k, "rec", "{\"gen\":2}", &v), 0);
    assert_true(v > last);
    /* Every version the first incarnation had is refused on the second. */
    for (uint64_t old = held.version; old <= last; old++)
        assert_int_equal(update_json(B.m, &k, "rec", old, "{\"stale\":true}", NULL), -ECANCELED);
    assert_int_equal(st_meta_delete(B.m, &k, "rec", held.version), -ECANCELED);
    assert_record(A.m, &k, "rec", v, "{\"gen\":2}");
    /* Delete whatever the version (expected 0), then again: still above. */
    last = v;
    assert_int_equal(st_meta_delete(A.m, &k, "rec", 0), 0);
    assert_int_equal(st_meta_create_leased(B.m, &k, "rec", empty, "n/1", "create", 0, 1000, &v), 0);
    assert_true(v > last);
    /* Another id of the kind starts above the mark too, and a delete of a
     * record below the mark leaves the mark where it is. */
    assert_int_equal(create_json(B.m, &k, "other", "{}", &last), 0);
    assert_true(last > held.version);
    assert_int_equal(st_meta_delete(B.m, &k, "other", last), 0);
    assert_int_equal(st_meta_delete(A.m, &k, "rec", v), 0);
    assert_int_equal(create_json(A.m, &k, "rec", "{}", &v), 0);
    assert_true(v > last);
    assert_int_equal(st_meta_get(A.m, &k, "rec", &r), 0);
    assert_int_equal(r.version, v);
    st_record_cleanup(&r);
    st_record_cleanup(&held);
    json_decref(empty);
}

static void test_update_conflicts(void **state)
{
    uint64_t v = 0;

    NEED_CLUSTER();
    assert_int_equal(create_json(A.m, &K_UPD, "upd", "{\"x\":1}", NULL), 0);
    assert_int_equal(update_json(A.m, &K_UPD, "upd", 1, "{\"x\":2}", &v), 0);
    /* Stale version: refused, data unchanged. */
    v = 99;
    assert_int_equal(update_json(B.m, &K_UPD, "upd", 1, "{\"x\":3}", &v), -ECANCELED);
    assert_int_equal(v, 99);
    assert_int_equal(update_json(B.m, &K_UPD, "upd", 3, "{\"x\":3}", NULL), -ECANCELED);
    assert_int_equal(update_json(B.m, &K_UPD, "upd", 0, "{\"x\":3}", NULL), -ECANCELED);
    assert_record(A.m, &K_UPD, "upd", 2, "{\"x\":2}");
    /* Delete with a stale version is refused too. */
    assert_int_equal(st_meta_delete(B.m, &K_UPD, "upd", 1), -ECANCELED);
    assert_record(A.m, &K_UPD, "upd", 2, "{\"x\":2}");
    assert_int_equal(st_meta_delete(B.m, &K_UPD, "upd", 2), 0);
    /* Updating what is gone says so. */
    assert_int_equal(update_json(A.m, &K_UPD, "upd", 2, "{\"x\":4}", NULL), -ENOENT);
    assert_int_equal(st_meta_get(A.m, &K_UPD, "upd", &(struct st_record){0}), -ENOENT);
}

static void test_missing(void **state)
{
    static const struct st_meta_kind nokind = {"never-written", NULL};
    struct st_record r = {0};
    struct st_record_list l;
    struct st_lease lease;

    NEED_CLUSTER();
    /* Object of the kind does not exist at all. */
    assert_int_equal(st_meta_get(A.m, &nokind, "x", &r), -ENOENT);
    assert_int_equal(st_meta_delete(A.m, &nokind, "x", 0), -ENOENT);
    assert_int_equal(st_meta_delete(A.m, &nokind, "x", 1), -ENOENT);
    assert_int_equal(update_json(A.m, &nokind, "x", 1, "{}", NULL), -ENOENT);
    assert_int_equal(st_lease_get(A.m, &nokind, "x", &lease), -ENOENT);
    assert_int_equal(st_meta_list(A.m, &nokind, NULL, 10, NULL, 0, NULL, NULL, &l), 0);
    assert_int_equal(l.count, 0);
    assert_false(l.truncated);
    st_record_list_cleanup(&l);
    assert_int_equal(st_lease_reconcile(A.m, &nokind, "n/1", st_now_ms(), NULL, NULL), 0);
    /* Object exists, key does not. */
    assert_int_equal(create_json(A.m, &K_BASIC, "present", "{}", NULL), 0);
    assert_int_equal(st_meta_get(A.m, &K_BASIC, "absent", &r), -ENOENT);
    assert_int_equal(st_meta_delete(A.m, &K_BASIC, "absent", 0), -ENOENT);
    assert_int_equal(st_meta_delete(A.m, &K_BASIC, "absent", 7), -ENOENT);
    assert_int_equal(update_json(A.m, &K_BASIC, "absent", 1, "{}", NULL), -ENOENT);
    assert_null(r.data);
}

static void test_invalid(void **state)
{
    static const struct st_meta_kind badkind = {"bad/kind", NULL};
    static const struct st_meta_kind nokind = {NULL, NULL};
    const char *bad[] = {"", "a/b", "with space", "tab\t", "ünï", "semi;colon", NULL};
    char longid[ST_META_ID_MAX + 2];
    struct st_record r = {0};
    json_t *arr, *obj;
    char owner[128];

    NEED_CLUSTER();
    arr = J("[1,2]");
    obj = J("{}");
    assert_int_equal(st_lease_owner_new("node", owner, sizeof(owner)), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(st_meta_create(A.m, &K_BASIC, bad[i], obj, NULL), -EINVAL);
        assert_int_equal(st_meta_get(A.m, &K_BASIC, bad[i], &r), -EINVAL);
        assert_int_equal(st_meta_update(A.m, &K_BASIC, bad[i], 1, obj, NULL), -EINVAL);
        assert_int_equal(st_meta_delete(A.m, &K_BASIC, bad[i], 0), -EINVAL);
        assert_int_equal(st_lease_acquire(A.m, &K_BASIC, bad[i], owner, "op", 0, 1000), -EINVAL);
    }
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_int_equal(st_meta_create(A.m, &K_BASIC, longid, obj, NULL), -EINVAL);
    longid[ST_META_ID_MAX] = '\0'; /* exactly the maximum is fine */
    assert_int_equal(st_meta_create(A.m, &K_BASIC, longid, obj, NULL), 0);
    assert_int_equal(st_meta_get(A.m, &K_BASIC, longid, &r), 0);
    st_record_cleanup(&r);
    assert_int_equal(st_meta_create(A.m, &K_BASIC, "A-Z.a_z-0.9", obj, NULL), 0);
    /* Bodies are JSON objects; kinds need a clean name. */
    assert_int_equal(st_meta_create(A.m, &K_BASIC, "arr", arr, NULL), -EINVAL);
    assert_int_equal(st_meta_create(A.m, &K_BASIC, "nul", NULL, NULL), -EINVAL);
    assert_int_equal(st_meta_create(A.m, &badkind, "x", obj, NULL), -EINVAL);
    assert_int_equal(st_meta_create(A.m, &nokind, "x", obj, NULL), -EINVAL);
    assert_int_equal(st_meta_create(A.m, NULL, "x", obj, NULL), -EINVAL);
    assert_int_equal(
        st_meta_list(A.m, &K_BASIC, "a/b", 1, NULL, 0, NULL, NULL, &(struct st_record_list){0}),
        -EINVAL);
    json_decref(arr);
    json_decref(obj);
}

static int require_name(const json_t *data)
{
    return json_is_string(json_object_get(data, "name")) ? 0 : -EINVAL;
}

static int drop_name(json_t *data, void *arg)
{
    (void)arg;
    return json_object_del(data, "name") == 0 ? 0 : -EIO;
}

static void test_validate(void **state)
{
    static const struct st_meta_kind named = {"named", require_name};

    NEED_CLUSTER();
    assert_int_equal(create_json(A.m, &named, "v1", "{\"size\":1}", NULL), -EINVAL);
    assert_int_equal(st_meta_get(A.m, &named, "v1", &(struct st_record){0}), -ENOENT);
    assert_int_equal(create_json(A.m, &named, "v1", "{\"name\":\"ok\"}", NULL), 0);
    assert_int_equal(update_json(A.m, &named, "v1", 1, "{\"name\":5}", NULL), -EINVAL);
    assert_int_equal(st_meta_modify(A.m, &named, "v1", drop_name, NULL, NULL), -EINVAL);
    assert_record(A.m, &named, "v1", 1, "{\"name\":\"ok\"}");
}

/* ---- modify ---- */

static int bump(json_t *data, void *arg)
{
    json_int_t n = json_integer_value(json_object_get(data, "counter"));

    (void)arg;
    return json_object_set_new(data, "counter", json_integer(n + 1)) == 0 ? 0 : -ENOMEM;
}

static int leave_alone(json_t *data, void *arg)
{
    (void)data;
    (void)arg;
    return 1;
}

static int refuse(json_t *data, void *arg)
{
    (void)arg;
    json_object_set_new(data, "junk", json_true());
    return -EPERM;
}

static void test_modify(void **state)
{
    struct st_record r = {0};

    NEED_CLUSTER();
    assert_int_equal(create_json(A.m, &K_BASIC, "mod", "{\"counter\":0}", NULL), 0);
    assert_int_equal(st_meta_modify(A.m, &K_BASIC, "mod", bump, NULL, &r), 0);
    assert_int_equal(r.version, 2);
    assert_int_equal(json_integer_value(json_object_get(r.data, "counter")), 1);
    st_record_cleanup(&r);
    assert_int_equal(st_meta_modify(A.m, &K_BASIC, "mod", leave_alone, NULL, &r), 0);
    assert_int_equal(r.version, 2);
    assert_int_equal(json_integer_value(json_object_get(r.data, "counter")), 1);
    st_record_cleanup(&r);
    assert_int_equal(st_meta_modify(A.m, &K_BASIC, "mod", refuse, NULL, &r), -EPERM);
    assert_null(r.data);
    assert_record(A.m, &K_BASIC, "mod", 2, "{\"counter\":1}");
    assert_int_equal(st_meta_modify(A.m, &K_BASIC, "nomod", bump, NULL, NULL), -ENOENT);
}

/* ---- races between two clients (two daemons) ---- */

struct racer {
    struct client *c;
    const struct st_meta_kind *k;
    const char *id;
    pthread_barrier_t *bar;
    const char *mine; /* the body this racer writes */
    uint64_t seen;    /* version read before the race */
    int rc;
    int modify_fails;
};

static void *race_update(void *arg)
{
    struct racer *r = arg;
    struct st_record rec = {0};
    json_t *d = json_pack("{s:s}", "winner", r->mine);

    r->rc = st_meta_get(r->c->m, r->k, r->id, &rec);
    r->seen = rec.version;
    st_record_cleanup(&rec);
    pthread_barrier_wait(r->bar); /* both have read version v */
    if (r->rc == 0)
        r->rc = st_meta_update(r->c->m, r->k, r->id, r->seen, d, NULL);
    json_decref(d);
    return NULL;
}

static void test_race_two_clients(void **state)
{
    pthread_barrier_t bar;
    pthread_t ta, tb;

    NEED_CLUSTER();
    assert_int_equal(create_json(A.m, &K_BASIC, "race", "{\"winner\":\"none\"}", NULL), 0);
    pthread_barrier_init(&bar, NULL, 2);
    for (uint64_t round = 1; round <= 25; round++) {
        struct racer ra = {&A, &K_BASIC, "race", &bar, "A", 0, -1, 0};
        struct racer rb = {&B, &K_BASIC, "race", &bar, "B", 0, -1, 0};
        struct racer *win;
        char want[32];

        pthread_create(&ta, NULL, race_update, &ra);
        pthread_create(&tb, NULL, race_update, &rb);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        assert_int_equal(ra.seen, round);
        assert_int_equal(rb.seen, round);
        /* Exactly one wins; the other is told, not silently overwritten. */
        assert_true((ra.rc == 0 && rb.rc == -ECANCELED) || (rb.rc == 0 && ra.rc == -ECANCELED));
        win = ra.rc == 0 ? &ra : &rb;
        snprintf(want, sizeof(want), "{\"winner\":\"%s\"}", win->mine);
        assert_record(A.m, &K_BASIC, "race", round + 1, want);
    }
    pthread_barrier_destroy(&bar);
}

#define STRESS_ROUNDS 200

static void *stress_modify(void *arg)
{
    struct racer *r = arg;

    pthread_barrier_wait(r->bar);
    for (int i = 0; i < STRESS_ROUNDS; i++)
        if (st_meta_modify(r->c->m, r->k, r->id, bump, NULL, NULL) != 0)
            r->modify_fails++;
    return NULL;
}

static void test_modify_stress(void **state)
{
    pthread_barrier_t bar;
    pthread_t ta, tb;
    struct racer ra = {&A, &K_BASIC, "stress", &bar, "A", 0, 0, 0};
    struct racer rb = {&B, &K_BASIC, "stress", &bar, "B", 0, 0, 0};

    NEED_CLUSTER();
    assert_int_equal(create_json(A.m, &K_BASIC, "stress", "{\"counter\":0}", NULL), 0);
    pthread_barrier_init(&bar, NULL, 2);
    pthread_create(&ta, NULL, stress_modify, &ra);
    pthread_create(&tb, NULL, stress_modify, &rb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&bar);
    assert_int_equal(ra.modify_fails, 0);
    assert_int_equal(rb.modify_fails, 0);
    /* No lost update: every increment landed, one version per increment. */
    assert_record(A.m, &K_BASIC, "stress", 2 * STRESS_ROUNDS + 1, "{\"counter\":400}");
}

/* ---- listing ---- */

#define NLIST 250
static const struct st_meta_kind K_LIST = {"listed", NULL};

static void list_fill(void)
{
    static bool done;
    char id[16], body[160];

    if (done)
        return;
    for (int i = 0; i < NLIST; i++) {
        snprintf(id, sizeof(id), "r%03d", i);
        snprintf(body, sizeof(body), "{\"i\":%d,\"parity\":\"%s\",\"flag\":%s%s}", i,
                 i % 2 ? "odd" : "even", i % 3 ? "false" : "true",
                 i % 5 == 0   ? ",\"opt\":null"
                 : i % 5 == 1 ? ",\"opt\":\"set\""
                              : "");
        assert_int_equal(create_json(A.m, &K_LIST, id, body, NULL), 0);
    }
    /* Some records at later versions, to check versions come with their bodies. */
    for (int i = 0; i < NLIST; i += 7) {
        snprintf(id, sizeof(id), "r%03d", i);
        assert_int_equal(st_meta_modify(A.m, &K_LIST, id, leave_alone, NULL, NULL), 0);
        snprintf(body, sizeof(body), "{\"i\":%d,\"parity\":\"%s\",\"flag\":%s%s}", i,
                 i % 2 ? "odd" : "even", i % 3 ? "false" : "true",
                 i % 5 == 0   ? ",\"opt\":null"
                 : i % 5 == 1 ? ",\"opt\":\"set\""
                              : "");
        assert_int_equal(update_json(A.m, &K_LIST, id, 1, body, NULL), 0);
    }
    done = true;
}

/* Page through with `limit`, checking order, truncation and versions; returns
 * how many records matched and fills seen[i] counts. */
static size_t list_all(struct st_meta *m, size_t limit, const struct st_meta_filter *f, size_t nf,
                       st_meta_pred_fn pred, void *arg, int *seen)
{
    char marker[ST_META_ID_MAX + 1] = "";
    struct st_record_list l;
    size_t total = 0;
    int pages = 0;
    int last = -1;

    do {
        assert_int_equal(
            st_meta_list(m, &K_LIST, marker[0] ? marker : NULL, limit, f, nf, pred, arg, &l), 0);
        assert_true(l.count <= limit);
        for (size_t j = 0; j < l.count; j++) {
            int i = atoi(l.items[j].id + 1);

            assert_true(i > last); /* id order, nothing twice */
            last = i;
            seen[i]++;
            assert_int_equal(json_integer_value(json_object_get(l.items[j].data, "i")), i);
            assert_int_equal(l.items[j].version, i % 7 == 0 ? 2 : 1);
        }
        total += l.count;
        if (l.truncated) {
            assert_int_equal(l.count, limit);
            assert_string_equal(l.next_marker, l.items[l.count - 1].id);
        }
        snprintf(marker, sizeof(marker), "%s", l.next_marker);
        st_record_list_cleanup(&l);
        assert_true(++pages < 1000);
    } while (marker[0]);
    return total;
}

static void test_list_pages(void **state)
{
    struct st_record_list l;
    int seen[NLIST] = {0};

    NEED_CLUSTER();
    list_fill();
    /* 250 with limit 100: 100 (more), 100 (more), 50 (end). */
    assert_int_equal(st_meta_list(A.m, &K_LIST, NULL, 100, NULL, 0, NULL, NULL, &l), 0);
    assert_int_equal(l.count, 100);
    assert_true(l.truncated);
    assert_string_equal(l.next_marker, "r099");
    st_record_list_cleanup(&l);
    assert_int_equal(st_meta_list(B.m, &K_LIST, "r099", 100, NULL, 0, NULL, NULL, &l), 0);
    assert_int_equal(l.count, 100);
    assert_string_equal(l.items[0].id, "r100");
    assert_true(l.truncated);
    st_record_list_cleanup(&l);
    assert_int_equal(st_meta_list(A.m, &K_LIST, "r199", 100, NULL, 0, NULL, NULL, &l), 0);
    assert_int_equal(l.count, 50);
    assert_false(l.truncated);
    assert_string_equal(l.next_marker, "");
    st_record_list_cleanup(&l);

    assert_int_equal(list_all(A.m, 100, NULL, 0, NULL, NULL, seen), NLIST);
    for (int i = 0; i < NLIST; i++)
        assert_int_equal(seen[i], 1);
    /* Exactly a full last page: not truncated when nothing follows. */
    memset(seen, 0, sizeof(seen));
    assert_int_equal(list_all(A.m, 125, NULL, 0, NULL, NULL, seen), NLIST);
    memset(seen, 0, sizeof(seen));
    assert_int_equal(list_all(A.m, 1, NULL, 0, NULL, NULL, seen), NLIST);
    /* limit 0 = default (1000): everything in one page. */
    assert_int_equal(st_meta_list(A.m, &K_LIST, NULL, 0, NULL, 0, NULL, NULL, &l), 0);
    assert_int_equal(l.count, NLIST);
    assert_false(l.truncated);
    st_record_list_cleanup(&l);
    /* A marker past the end, or between ids. */
    assert_int_equal(st_meta_list(A.m, &K_LIST, "r249", 10, NULL, 0, NULL, NULL, &l), 0);
    assert_int_equal(l.count, 0);
    assert_false(l.truncated);
    st_record_list_cleanup(&l);
    assert_int_equal(st_meta_list(A.m, &K_LIST, "r0995", 2, NULL, 0, NULL, NULL, &l), 0);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.items[0].id, "r100");
    st_record_list_cleanup(&l);
}

static bool multiple_of_10(const json_t *data, void *arg)
{
    (void)arg;
    return json_integer_value(json_object_get(data, "i")) % 10 == 0;
}

static void test_list_filters(void **state)
{
    const struct st_meta_filter even[] = {{"parity", "even"}};
    const struct st_meta_filter num[] = {{"i", "42"}};
    const struct st_meta_filter flag_odd[] = {{"flag", "true"}, {"parity", "odd"}};
    const struct st_meta_filter opt_null[] = {{"opt", NULL}};
    const struct st_meta_filter opt_set[] = {{"opt", "set"}};
    const struct st_meta_filter nomatch[] = {{"parity", "neither"}};
    int seen[NLIST];
    size_t n;

    NEED_CLUSTER();
    list_fill();
    memset(seen, 0, sizeof(seen));
    assert_int_equal(list_all(A.m, 30, even, 1, NULL, NULL, seen), NLIST / 2);
    for (int i = 0; i < NLIST; i++)
        assert_int_equal(seen[i], i % 2 == 0);
    memset(seen, 0, sizeof(seen));
    assert_int_equal(list_all(A.m, 10, num, 1, NULL, NULL, seen), 1);
    assert_int_equal(seen[42], 1);
    memset(seen, 0, sizeof(seen));
    n = list_all(A.m, 7, flag_odd, 2, NULL, NULL, seen);
    for (int i = 0; i < NLIST; i++)
        assert_int_equal(seen[i], i % 3 == 0 && i % 2 == 1);
    assert_int_equal(n, 42); /* odd multiples of 3 below 250 */
    memset(seen, 0, sizeof(seen));
    /* NULL matches a JSON null or an absent field, never a set one. */
    assert_int_equal(list_all(A.m, 1000, opt_null, 1, NULL, NULL, seen), NLIST - NLIST / 5);
    for (int i = 0; i < NLIST; i++)
        assert_int_equal(seen[i], i % 5 != 1);
    memset(seen, 0, sizeof(seen));
    assert_int_equal(list_all(A.m, 1000, opt_set, 1, NULL, NULL, seen), NLIST / 5);
    memset(seen, 0, sizeof(seen));
    assert_int_equal(list_all(A.m, 3, even, 1, multiple_of_10, NULL, seen), 25);
    for (int i = 0; i < NLIST; i++)
        assert_int_equal(seen[i], i % 10 == 0);
    memset(seen, 0, sizeof(seen));
    assert_int_equal(list_all(A.m, 5, nomatch, 1, NULL, NULL, seen), 0);
}

/* ---- leases ---- */

static const struct st_meta_kind K_LEASE = {"leased", NULL};
static const struct st_meta_kind K_LEASE_DEL = {"leased-del", NULL}; /* tests that delete */

static void test_list_all(void **state)
{
    json_t *all = NULL;

    NEED_CLUSTER();
    list_fill();
    assert_int_equal(st_meta_list_all(A.m, &K_LIST, NULL, NULL, &all), 0);
    assert_int_equal(json_array_size(all), NLIST);
    json_decref(all);
    assert_int_equal(st_meta_list_all(A.m, &K_LIST, multiple_of_10, NULL, &all), 0);
    assert_int_equal(json_array_size(all), NLIST / 10);
    for (size_t i = 0; i < json_array_size(all); i++)   /* in id order, each once */
        assert_int_equal(json_integer_value(json_object_get(json_array_get(all, i), "i")),
                         (json_int_t)i * 10);
    json_decref(all);
}

static void test_lease_basic(void **state)
{
    char oa[128], ob[128];
    struct st_lease l;
    int64_t now = st_now_ms();

    NEED_CLUSTER();
    assert_int_equal(st_lease_owner_new("nodeA", oa, sizeof(oa)), 0);
    assert_int_equal(st_lease_owner_new("nodeB", ob, sizeof(ob)), 0);
    assert_int_equal(st_lease_acquire(A.m, &K_LEASE_DEL, "rec", oa, "create", now, 10000),
                     -ENOENT); /* no record, no lease */
    assert_int_equal(create_json(A.m, &K_LEASE_DEL, "rec", "{}", NULL), 0);
    assert_int_equal(st_lease_get(A.m, &K_LEASE_DEL, "rec", &l), -ENOENT);

    assert_int_equal(st_lease_acquire(A.m, &K_LEASE_DEL, "rec", oa, "create", now, 10000), 0);
    assert_int_equal(st_lease_get(B.m, &K_LEASE_DEL, "rec", &l), 0);
    assert_string_equal(l.owner, oa);
    assert_string_equal(l.op, "create");
    assert_int_equal(l.expires_ms, now + 10000);
    /* Held: nobody else may take, renew or release it. */
    assert_int_equal(st_lease_acquire(B.m, &K_LEASE_DEL, "rec", ob, "delete", now, 10000), -EBUSY);
    assert_int_equal(st_lease_acquire(B.m, &K_LEASE_DEL, "rec", ob, "delete", now + 9999, 10000),
                     -EBUSY);
    assert_int_equal(st_lease_renew(B.m, &K_LEASE_DEL, "rec", ob, now, 10000), -ESTALE);
    assert_int_equal(st_lease_release(B.m, &K_LEASE_DEL, "rec", ob), -ESTALE);
    /* The owner renews: expiry moves, op stays, record version does not move. */
    assert_int_equal(st_lease_renew(A.m, &K_LEASE_DEL, "rec", oa, now + 5000, 10000), 0);
    assert_int_equal(st_lease_get(A.m, &K_LEASE_DEL, "rec", &l), 0);
    assert_int_equal(l.expires_ms, now + 15000);
    assert_string_equal(l.op, "create");
    assert_record(A.m, &K_LEASE_DEL, "rec", 1, "{}");
    /* A live lease is exclusive against its own owner too (one operation at
     * a time); renewing is how the owner extends it. */
    assert_int_equal(st_lease_acquire(A.m, &K_LEASE_DEL, "rec", oa, "extend", now, 20000), -EBUSY);
    assert_int_equal(st_lease_renew(A.m, &K_LEASE_DEL, "rec", oa, now, 20000), 0);
    assert_int_equal(st_lease_get(A.m, &K_LEASE_DEL, "rec", &l), 0);
    assert_string_equal(l.op, "create");
    assert_int_equal(l.expires_ms, now + 20000);
    /* Once expired, another owner takes it; the old owner has lost it. */
    assert_int_equal(st_lease_acquire(B.m, &K_LEASE_DEL, "rec", ob, "delete", now + 20000, 10000),
                     0);
    assert_int_equal(st_lease_renew(A.m, &K_LEASE_DEL, "rec", oa, now + 20001, 10000), -ESTALE);
    assert_int_equal(st_lease_release(A.m, &K_LEASE_DEL, "rec", oa), -ESTALE);
    assert_int_equal(st_lease_get(A.m, &K_LEASE_DEL, "rec", &l), 0);
    assert_string_equal(l.owner, ob);
    assert_string_equal(l.op, "delete");
    /* Release, then release again (no-op), then renew is stale. */
    assert_int_equal(st_lease_release(B.m, &K_LEASE_DEL, "rec", ob), 0);
    assert_int_equal(st_lease_get(A.m, &K_LEASE_DEL, "rec", &l), -ENOENT);
    assert_int_equal(st_lease_release(B.m, &K_LEASE_DEL, "rec", ob), 0);
    assert_int_equal(st_lease_renew(B.m, &K_LEASE_DEL, "rec", ob, now, 10000), -ESTALE);
    assert_record(A.m, &K_LEASE_DEL, "rec", 1, "{}");
    /* A lease goes with its record. */
    assert_int_equal(st_lease_acquire(A.m, &K_LEASE_DEL, "rec", oa, "delete", now, 10000), 0);
    assert_int_equal(st_meta_delete(B.m, &K_LEASE_DEL, "rec", 0), 0);
    assert_int_equal(st_lease_get(A.m, &K_LEASE_DEL, "rec", &l), -ENOENT);
    assert_int_equal(st_lease_renew(A.m, &K_LEASE_DEL, "rec", oa, now, 10000), -ESTALE);
    assert_int_equal(st_lease_release(A.m, &K_LEASE_DEL, "rec", oa), 0);
    /* Bad arguments. */
    assert_int_equal(st_lease_acquire(A.m, &K_LEASE_DEL, "rec", "", "op", now, 10), -EINVAL);
    assert_int_equal(st_lease_acquire(A.m, &K_LEASE_DEL, "rec", oa, "op", now, 0), -EINVAL);
}

static int set_step(json_t *data, void *arg)
{
    json_object_set_new(data, "step", json_string(arg));
    return 0;
}

/* Fencing: once another owner took the lease, the old one's writes fail. */
static void test_lease_fences_writes(void **state)
{
    char oa[128], ob[128];
    struct st_record r = {0};
    int64_t now = st_now_ms();

    NEED_CLUSTER();
    assert_int_equal(st_lease_owner_new("nodeA", oa, sizeof(oa)), 0);
    assert_int_equal(st_lease_owner_new("nodeB", ob, sizeof(ob)), 0);
    assert_int_equal(create_json(A.m, &K_LEASE_DEL, "fenced", "{}", NULL), 0);
    /* No lease at all: a fenced write is refused. */
    assert_int_equal(st_meta_modify_as(A.m, &K_LEASE_DEL, "fenced", oa, set_step, "x", NULL),
                     -ESTALE);
    assert_int_equal(st_lease_acquire(A.m, &K_LEASE_DEL, "fenced", oa, "op", now, 1000), 0);
    assert_int_equal(st_meta_modify_as(A.m, &K_LEASE_DEL, "fenced", oa, set_step, "a1", NULL), 0);
    assert_int_equal(st_meta_modify_as(B.m, &K_LEASE_DEL, "fenced", ob, set_step, "b0", NULL),
                     -ESTALE);
    /* A's lease expires (A paused): still A's until someone takes it... */
    assert_int_equal(st_meta_modify_as(A.m, &K_LEASE_DEL, "fenced", oa, set_step, "a2", NULL), 0);
    /* ...then B takes it and A can no longer write, whatever A believes. */
    assert_int_equal(st_lease_acquire(B.m, &K_LEASE_DEL, "fenced", ob, "op", now + 2000, 1000), 0);
    assert_int_equal(st_meta_modify_as(A.m, &K_LEASE_DEL, "fenced", oa, set_step, "a3", NULL),
                     -ESTALE);
    assert_int_equal(st_meta_modify_as(B.m, &K_LEASE_DEL, "fenced", ob, set_step, "b1", &r), 0);
    assert_string_equal(json_string_value(json_object_get(r.data, "step")), "b1");
    st_record_cleanup(&r);
    /* Unfenced writes are unaffected; release ends B's fence too. */
    assert_int_equal(st_meta_modify(A.m, &K_LEASE_DEL, "fenced", set_step, "plain", NULL), 0);
    assert_int_equal(st_lease_release(B.m, &K_LEASE_DEL, "fenced", ob), 0);
    assert_int_equal(st_meta_modify_as(B.m, &K_LEASE_DEL, "fenced", ob, set_step, "b2", NULL),
                     -ESTALE);
    assert_int_equal(st_meta_delete(A.m, &K_LEASE_DEL, "fenced", 0), 0);
}

static void test_lease_create_leased(void **state)
{
    char oa[128], ob[128];
    struct st_lease l;
    uint64_t v = 0;
    json_t *d;
    int64_t now = st_now_ms();

    NEED_CLUSTER();
    d = J("{\"status\":\"creating\"}");
    assert_int_equal(st_lease_owner_new("nodeA", oa, sizeof(oa)), 0);
    assert_int_equal(st_lease_owner_new("nodeB", ob, sizeof(ob)), 0);
    assert_int_equal(st_meta_create_leased(A.m, &K_LEASE, "cl", d, oa, "create", now, 5000, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(st_lease_get(B.m, &K_LEASE, "cl", &l), 0);
    assert_string_equal(l.owner, oa);
    assert_int_equal(l.expires_ms, now + 5000);
    assert_int_equal(st_meta_create_leased(B.m, &K_LEASE, "cl", d, ob, "create", now, 5000, NULL),
                     -EEXIST);
    assert_int_equal(st_lease_get(B.m, &K_LEASE, "cl", &l), 0);
    assert_string_equal(l.owner, oa);
    json_decref(d);
}

static void test_lease_stale_rules(void **state)
{
    struct st_lease l = {.owner = "node1/00000000000000aa", .expires_ms = 1000, .op = "x"};

    (void)state;
    assert_false(st_lease_is_stale(&l, "node2/0000000000000001", 999));
    assert_true(st_lease_is_stale(&l, "node2/0000000000000001", 1000));
    assert_true(st_lease_is_stale(&l, NULL, 1001));
    assert_false(st_lease_is_stale(&l, NULL, 10));
    /* Our own live lease is not stale; an earlier incarnation of our node is. */
    assert_false(st_lease_is_stale(&l, "node1/00000000000000aa", 10));
    assert_true(st_lease_is_stale(&l, "node1/00000000000000bb", 10));
    /* Only the whole node name counts. */
    assert_false(st_lease_is_stale(&l, "node11/00000000000000bb", 10));
    assert_false(st_lease_is_stale(&l, "node/00000000000000bb", 10));
    assert_false(st_lease_is_stale(&l, "garbage", 10));
}

static void test_lease_owner_new(void **state)
{
    char a[128], b[128], small[8];

    (void)state;
    assert_int_equal(st_lease_owner_new("host-1", a, sizeof(a)), 0);
    assert_int_equal(st_lease_owner_new("host-1", b, sizeof(b)), 0);
    assert_int_equal(strlen(a), strlen("host-1/") + 16);
    assert_memory_equal(a, "host-1/", 7);
    assert_string_not_equal(a, b);
    assert_int_equal(st_lease_owner_new("host-1", small, sizeof(small)), -ERANGE);
    assert_int_equal(st_lease_owner_new("", a, sizeof(a)), -EINVAL);
}

static void test_lease_incarnation(void **state)
{
    char old_life[128], new_life[128], other[128];
    struct st_lease l;
    int64_t now = st_now_ms();

    NEED_CLUSTER();
    assert_int_equal(st_lease_owner_new("node1", old_life, sizeof(old_life)), 0);
    assert_int_equal(st_lease_owner_new("node1", new_life, sizeof(new_life)), 0);
    assert_int_equal(st_lease_owner_new("node2", other, sizeof(other)), 0);
    assert_int_equal(create_json(A.m, &K_LEASE, "inc", "{}", NULL), 0);
    assert_int_equal(st_lease_acquire(A.m, &K_LEASE, "inc", old_life, "clone", now, 600000), 0);
    assert_int_equal(st_lease_acquire(B.m, &K_LEASE, "inc", other, "clone", now, 600000), -EBUSY);
    /* The restarted daemon on node1 takes over its previous life's work at once. */
    assert_int_equal(st_lease_acquire(B.m, &K_LEASE, "inc", new_life, "resume", now, 600000), 0);
    assert_int_equal(st_lease_get(A.m, &K_LEASE, "inc", &l), 0);
    assert_string_equal(l.owner, new_life);
    assert_int_equal(st_lease_renew(A.m, &K_LEASE, "inc", old_life, now, 1000), -ESTALE);
    assert_int_equal(st_lease_release(B.m, &K_LEASE, "inc", new_life), 0);
}

struct reconcile_seen {
    char ids[16][ST_META_ID_MAX + 1];
    int n;
    struct client *c;
    const struct st_meta_kind *k;
    const char *self;
    int64_t now;
};

/* Takes the stale lease over, as a daemon's reconciler would. */
static int reconcile_cb(struct st_meta *m, const char *id, const struct st_lease *l, void *arg)
{
    struct reconcile_seen *s = arg;

    assert_ptr_equal(m, s->c->m);
    assert_true(s->n < 16);
    assert_true(l->owner[0] != '\0');
    snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", id);
    if (strcmp(id, "q1") == 0)
        return -EIO; /* logged, the pass goes on */
    return st_lease_acquire(m, s->k, id, s->self, "reconcile", s->now, 60000);
}

static void test_lease_reconcile(void **state)
{
    static const struct st_meta_kind K_REC = {"reconciled", NULL};
    char self_old[128], self[128], other[128], id[8];
    int64_t now = st_now_ms();
    struct reconcile_seen seen = {.c = &B, .k = &K_REC, .self = self, .now = now};
    struct st_lease l;

    NEED_CLUSTER();
    assert_int_equal(st_lease_owner_new("me", self_old, sizeof(self_old)), 0);
    assert_int_equal(st_lease_owner_new("me", self, sizeof(self)), 0);
    assert_int_equal(st_lease_owner_new("them", other, sizeof(other)), 0);
    for (int i = 0; i < 7; i++) {
        snprintf(id, sizeof(id), "q%d", i);
        assert_int_equal(create_json(A.m, &K_REC, id, "{}", NULL), 0);
    }
    /* q0: my previous life (stale); q1: other node, expired (stale, fn fails);
     * q2: other node, live; q3: me, live; q4: no lease; q5: other, expired;
     * q6: my previous life, expired as well. */
    assert_int_equal(st_lease_acquire(A.m, &K_REC, "q0", self_old, "a", now, 60000), 0);
    assert_int_equal(st_lease_acquire(A.m, &K_REC, "q1", other, "b", now - 5000, 1000), 0);
    assert_int_equal(st_lease_acquire(A.m, &K_REC, "q2", other, "c", now, 60000), 0);
    assert_int_equal(st_lease_acquire(A.m, &K_REC, "q3", self, "d", now, 60000), 0);
    assert_int_equal(st_lease_acquire(A.m, &K_REC, "q5", other, "e", now - 5000, 1000), 0);
    assert_int_equal(st_lease_acquire(A.m, &K_REC, "q6", self_old, "f", now - 5000, 1000), 0);

    /* Counting only (no callback). */
    assert_int_equal(st_lease_reconcile(B.m, &K_REC, self, now, NULL, NULL), 4);
    /* Another node sees only the expired ones (q0 is my node's business). */
    assert_int_equal(st_lease_reconcile(B.m, &K_REC, other, now, NULL, NULL), 3);
    /* The pass: fn is called for exactly the stale ones, in id order. */
    assert_int_equal(st_lease_reconcile(B.m, &K_REC, self, now, reconcile_cb, &seen), 4);
    assert_int_equal(seen.n, 4);
    assert_string_equal(seen.ids[0], "q0");
    assert_string_equal(seen.ids[1], "q1");
    assert_string_equal(seen.ids[2], "q5");
    assert_string_equal(seen.ids[3], "q6");
    assert_int_equal(st_lease_get(A.m, &K_REC, "q0", &l), 0);
    assert_string_equal(l.owner, self);
    assert_string_equal(l.op, "reconcile");
    /* Taken over: only q1 (whose fn failed) is still stale. */
    seen.n = 0;
    assert_int_equal(st_lease_reconcile(B.m, &K_REC, self, now, reconcile_cb, &seen), 1);
    assert_string_equal(seen.ids[0], "q1");
}

/* ---- leased pool jobs ---- */

struct leased_job {
    atomic_int started;
    atomic_int done;
    long run_ms;
};

static void leased_job_fn(void *arg)
{
    struct leased_job *j = arg;

    atomic_store(&j->started, 1);
    sleep_ms(j->run_ms);
    atomic_store(&j->done, 1);
}

static void test_leased_job_keeps_lease(void **state)
{
    struct leased_job job = {.run_ms = 2000};
    struct st_workpool *p;
    char oa[128], ob[128];
    struct st_lease l;
    int64_t t0, first_exp = 0, last_exp = 0;
    int tries = 0;

    NEED_CLUSTER();
    assert_int_equal(st_lease_owner_new("poolnode", oa, sizeof(oa)), 0);
    assert_int_equal(st_lease_owner_new("thief", ob, sizeof(ob)), 0);
    assert_int_equal(create_json(A.m, &K_LEASE, "job", "{}", NULL), 0);
    t0 = st_now_ms();
    assert_int_equal(st_lease_acquire(A.m, &K_LEASE, "job", oa, "import", t0, 600), 0);
    assert_int_equal(st_workpool_create(1, 0, &p), 0);
    assert_int_equal(
        st_workpool_submit_leased(p, A.m, &K_LEASE, "job", oa, 600, leased_job_fn, NULL, &job), 0);
    /* For the whole 2 s run (more than 3 ttls), nobody else can take it. */
    while (!atomic_load(&job.done)) {
        int rc = st_lease_acquire(B.m, &K_LEASE, "job", ob, "steal", st_now_ms(), 600);

        assert_int_equal(rc, -EBUSY);
        tries++;
        if (st_lease_get(B.m, &K_LEASE, "job", &l) == 0 && !atomic_load(&job.done)) {
            assert_string_equal(l.owner, oa);
            if (!first_exp)
                first_exp = l.expires_ms;
            last_exp = l.expires_ms;
        }
        sleep_ms(100);
    }
    st_workpool_destroy(p);
    assert_true(tries >= 10);
    assert_true(st_now_ms() - t0 >= 2000);
    assert_true(last_exp - first_exp >= 1000); /* it really was renewed */
    /* Released when the job returned: free for the next owner. */
    assert_int_equal(st_lease_get(A.m, &K_LEASE, "job", &l), -ENOENT);
    assert_int_equal(st_lease_acquire(B.m, &K_LEASE, "job", ob, "next", st_now_ms(), 600), 0);
    assert_int_equal(st_lease_release(B.m, &K_LEASE, "job", ob), 0);
    assert_record(A.m, &K_LEASE, "job", 1, "{}"); /* renewals never touch the record */
}

static void test_leased_job_loses_lease(void **state)
{
    struct leased_job job = {.run_ms = 1200};
    struct st_workpool *p;
    char oa[128], ob[128];
    struct st_lease l;

    NEED_CLUSTER();
    assert_int_equal(st_lease_owner_new("poolnode", oa, sizeof(oa)), 0);
    assert_int_equal(st_lease_owner_new("thief", ob, sizeof(ob)), 0);
    assert_int_equal(create_json(A.m, &K_LEASE, "lost", "{}", NULL), 0);
    assert_int_equal(st_lease_acquire(A.m, &K_LEASE, "lost", oa, "import", st_now_ms(), 600), 0);
    assert_int_equal(st_workpool_create(1, 0, &p), 0);
    assert_int_equal(
        st_workpool_submit_leased(p, A.m, &K_LEASE, "lost", oa, 600, leased_job_fn, NULL, &job), 0);
    while (!atomic_load(&job.started))
        sleep_ms(10);
    /* Someone whose clock says the lease expired takes it: the keeper's next
     * renewal finds it gone (-ESTALE, logged loudly) and the pool must not
     * release the thief's lease when the job ends. */
    printf("test_meta: expect one LEASE LOST error line below\n");
    assert_int_equal(
        st_lease_acquire(B.m, &K_LEASE, "lost", ob, "steal", st_now_ms() + 60000, 60000), 0);
    st_workpool_destroy(p);
    assert_int_equal(st_lease_get(A.m, &K_LEASE, "lost", &l), 0);
    assert_string_equal(l.owner, ob);
    assert_int_equal(
        st_workpool_submit_leased(NULL, A.m, &K_LEASE, "x", oa, 600, leased_job_fn, NULL, &job),
        -EINVAL);
}

static atomic_int dropped_jobs, unleased_runs;

static void drop_job_fn(void *arg)
{
    struct leased_job *j = arg;

    assert_false(atomic_load(&j->started));
    atomic_fetch_add(&dropped_jobs, 1);
}

static void unleased_job_fn(void *arg)
{
    (void)arg;
    atomic_fetch_add(&unleased_runs, 1);
}

/* At destroy (SIGTERM), queued leased jobs are not run: they are dropped with
 * their leases kept, so the next incarnation's reconcile resumes them; the
 * running job finishes and releases its lease; unleased queued jobs still run. */
static void test_leased_jobs_dropped_at_stop(void **state)
{
    static const char *const ids[] = {"run", "q1", "q2"};
    struct leased_job jobs[3] = {{.run_ms = 800}, {.run_ms = 0}, {.run_ms = 0}};
    struct st_workpool *p;
    char oa[128], next[128];
    struct st_lease l;

    NEED_CLUSTER();
    assert_int_equal(st_lease_owner_new("stopnode", oa, sizeof(oa)), 0);
    assert_int_equal(st_workpool_create(1, 0, &p), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(create_json(A.m, &K_LEASE, ids[i], "{}", NULL), 0);
        assert_int_equal(st_lease_acquire(A.m, &K_LEASE, ids[i], oa, "import", st_now_ms(), 60000),
                         0);
        assert_int_equal(st_workpool_submit_leased(p, A.m, &K_LEASE, ids[i], oa, 60000,
                                                   leased_job_fn, drop_job_fn, &jobs[i]),
                         0);
        while (i == 0 && !atomic_load(&jobs[0].started))
            sleep_ms(10);
    }
    assert_int_equal(st_workpool_submit(p, unleased_job_fn, NULL), 0);
    st_workpool_destroy(p);
    assert_true(atomic_load(&jobs[0].done));
    assert_false(atomic_load(&jobs[1].started));
    assert_false(atomic_load(&jobs[2].started));
    assert_int_equal(atomic_load(&dropped_jobs), 2);
    assert_int_equal(atomic_load(&unleased_runs), 1);
    assert_int_equal(st_lease_get(A.m, &K_LEASE, "run", &l), -ENOENT);
    /* The dropped ones keep their leases, stale for the node's next start. */
    assert_int_equal(st_lease_owner_new("stopnode", next, sizeof(next)), 0);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(st_lease_get(B.m, &K_LEASE, ids[i], &l), 0);
        assert_string_equal(l.owner, oa);
        assert_string_equal(l.op, "import");
        assert_true(st_lease_is_stale(&l, next, st_now_ms()));
        assert_int_equal(st_lease_acquire(B.m, &K_LEASE, ids[i], next, "resume", st_now_ms(), 600),
                         0);
        assert_int_equal(st_lease_release(B.m, &K_LEASE, ids[i], next), 0);
    }
}

static void test_rados_misc(void **state)
{
    char fsid[37], buf[32];
    rados_ioctx_t io;
    struct st_rados_config bad = {.conf = "/nonexistent/ceph.conf", .user = "admin"};
    rados_t c;

    NEED_CLUSTER();
    assert_int_equal(st_rados_fsid(A.cluster, fsid, sizeof(fsid)), 0);
    assert_int_equal(strlen(fsid), 36);
    assert_int_equal(st_rados_fsid(A.cluster, fsid, 10), -ERANGE);
    /* The timeouts from the config are in force on the connection. */
    assert_int_equal(rados_conf_get(A.cluster, "rados_osd_op_timeout", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "20");
    assert_int_equal(rados_conf_get(A.cluster, "rados_mon_op_timeout", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "20");
    assert_int_equal(rados_conf_get(A.cluster, "client_mount_timeout", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "20");
    assert_int_equal(st_rados_ioctx(A.cluster, "strata.no-such-pool", &io), -ENOENT);
    assert_true(st_rados_connect(&bad, &c) < 0);
    st_rados_shutdown(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_omap_cmp_semantics),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_create_twice),
        cmocka_unit_test(test_recreate_no_aba),
        cmocka_unit_test(test_update_conflicts),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_modify),
        cmocka_unit_test(test_race_two_clients),
        cmocka_unit_test(test_modify_stress),
        cmocka_unit_test(test_list_pages),
        cmocka_unit_test(test_list_filters),
        cmocka_unit_test(test_list_all),
        cmocka_unit_test(test_lease_stale_rules),
        cmocka_unit_test(test_lease_owner_new),
        cmocka_unit_test(test_lease_basic),
        cmocka_unit_test(test_lease_fences_writes),
        cmocka_unit_test(test_lease_create_leased),
        cmocka_unit_test(test_lease_incarnation),
        cmocka_unit_test(test_lease_reconcile),
        cmocka_unit_test(test_leased_job_keeps_lease),
        cmocka_unit_test(test_leased_job_loses_lease),
        cmocka_unit_test(test_leased_jobs_dropped_at_stop),
        cmocka_unit_test(test_rados_misc),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
