/* blockd_fixture.h — unit-test helper: a blockd volume service on the fakes
 * (fake_rados.h for its records and leases, fake_rbd.h for its pool,
 * fake_work.h for its jobs and clock, fake_httpc.h for imaged and compute),
 * built field by field as vol_service_create would, with no daemon or
 * cluster.  Include after cmocka.h and the fakes' headers. */
#ifndef STRATA_TEST_BLOCKD_FIXTURE_H
#define STRATA_TEST_BLOCKD_FIXTURE_H

#include "meta_assert.h"
#include "options.h"
#include "strata/config.h"
#include "vol_internal.h"

#define FX_OWNER "node1/0000000000000001"
#define FX_OTHER "node2/0000000000000002"
#define FX_TTL 30000

static struct vol_service *fx;
static struct st_config *fx_cfg;
static const struct st_auth_ctx fx_user = {.user_id = "u1", .project_id = "p1"};

static inline int fx_setup(void **state)
{
    const struct st_opt *tables[] = {st_common_options, blockd_options, NULL};
    char err[256];

    (void)state;
    fake_rados_reset();
    fake_rbd_reset();
    fake_work_reset();
    fake_httpc_reset();
    st_log_set_level(ST_LOG_ERROR);
    if (st_config_load(NULL, tables, &fx_cfg, err, sizeof(err)) < 0)
        return -1;
    fx = calloc(1, sizeof(*fx));
    if (!fx || st_meta_open(fake_rados_ioctx(0), &fx->meta) < 0)
        return -1;
    fx->owner = FX_OWNER;
    fx->vols = fake_rados_ioctx(1);
    snprintf(fx->pool, sizeof(fx->pool), "volumes");
    if (st_httpc_peer_create(fx->http, "http://compute.test:8774", fx->service_token,
                             &fx->compute) < 0 ||
        st_httpc_peer_create(fx->http, "http://imaged.test:9292", fx->service_token,
                             &fx->imaged) < 0)
        return -1;
    fx->ttl_ms = FX_TTL;
    fx->md_max = 128;
    fx->max_depth = 5;
    fx->mon_hosts = json_array();
    fx->mon_ports = json_array();
    if (qos_bulk_init(&fx->bulk, 0, 0) < 0)
        return -1;
    pthread_mutex_init(&fx->bk_mu, NULL);
    pthread_cond_init(&fx->bk_cv, NULL);
    /* the pool's mark as vol_service_create leaves it: blockd used it from now */
    int64_t since;
    if (st_rbd_pool_since(fx->vols, VS_POOL_SINCE_KEY, st_now_ms() / 1000, &since) < 0 ||
        vol_quota_create(fx->meta, fx_cfg, fx->ttl_ms, &fx->quota) < 0 ||
        vt_create(fx->meta, &fx->types) < 0)
        return -1;
    return 0;
}

static inline int fx_teardown(void **state)
{
    (void)state;
    fake_work_run();
    vol_quota_destroy(fx->quota);
    vt_destroy(fx->types);
    st_httpc_peer_destroy(fx->compute);
    st_httpc_peer_destroy(fx->imaged);
    json_decref(fx->mon_hosts);
    json_decref(fx->mon_ports);
    qos_bulk_cleanup(&fx->bulk);
    pthread_mutex_destroy(&fx->bk_mu);
    pthread_cond_destroy(&fx->bk_cv);
    st_meta_close(fx->meta);
    free(fx);
    fx = NULL;
    st_config_destroy(fx_cfg);
    fake_httpc_reset();
    fake_rbd_reset();
    fake_rados_reset();
    return 0;
}

/* A volume record as blockd writes it, in `status`, of size_gb, with its
 * RBD image when `image`; its id in id (37 bytes). */
static inline void fx_volume(const char *status, int64_t size_gb, bool image, char *id)
{
    char name[NAME_MAX_LEN];
    json_t *rec;

    vs_new_id(id);
    rec = json_pack("{s:s, s:s, s:I, s:s, s:s, s:[], s:o}", "id", id, "status", status, "size",
                    (json_int_t)size_gb, "project_id", fx_user.project_id, "user_id",
                    fx_user.user_id, "attachments", "metadata", json_object());
    assert_int_equal(st_meta_create(fx->meta, &vol_kind, id, rec, NULL), 0);
    json_decref(rec);
    if (image) {
        vol_rbd_name(id, name, sizeof(name));
        assert_int_equal(fake_rbd_add(fx->vols, name, (uint64_t)size_gb * GIB, st_now_ms() / 1000),
                         0);
    }
}

/* The stored record's status ("(gone)" when there is no record), its lease's owner. */
#define fx_status(k, id) ut_field(fx->meta, k, id, "status")
#define fx_lease_owner(k, id) ut_lease_owner(fx->meta, k, id)

/* A field of the stored record as an integer (-1 when missing). */
static inline int64_t fx_int(const struct st_meta_kind *k, const char *id, const char *field)
{
    struct st_record r = {0};
    int64_t v = -1;

    if (st_meta_get(fx->meta, k, id, &r) == 0 && json_is_integer(json_object_get(r.data, field)))
        v = json_integer_value(json_object_get(r.data, field));
    st_record_cleanup(&r);
    return v;
}

static inline bool fx_image(const char *id)
{
    char name[NAME_MAX_LEN];

    vol_rbd_name(id, name, sizeof(name));
    return fake_rbd_exists(fx->vols, name);
}

#endif
