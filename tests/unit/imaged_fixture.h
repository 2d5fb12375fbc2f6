/* imaged_fixture.h — unit-test helper: an imaged service on the fakes
 * (fake_rados.h for its records and leases, fake_rbd.h for its pools,
 * fake_work.h for its jobs and clock), built field by field as
 * img_service_create would, with a staging directory of its own.  Include
 * after cmocka.h and the fakes' headers. */
#ifndef STRATA_TEST_IMAGED_FIXTURE_H
#define STRATA_TEST_IMAGED_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image_internal.h"
#include "meta_assert.h"
#include "strata/log.h"
#include "strata/qos_bulk.h"
#include "strata/rbd.h"
#include "strata/workpool.h"

#define OWNER "img1/0000000000000001"
#define OTHER "img2/0000000000000002"
#define TTL 30000
#define IMG1 "11111111-1111-4111-8111-111111111111"
#define IMG2 "22222222-2222-4222-8222-222222222222"
#define IMG3 "33333333-3333-4333-8333-333333333333"

static struct img_service svc, *s = &svc;
static char tmpdir[64];

static inline int setup(void **state)
{
    (void)state;
    fake_rados_reset();
    fake_rbd_reset();
    fake_work_reset();
    st_log_set_level(ST_LOG_ERROR);
    memset(&svc, 0, sizeof(svc));
    if (st_meta_open(fake_rados_ioctx(0), &s->meta) < 0)
        return -1;
    s->owner = OWNER;
    s->images = fake_rados_ioctx(1);
    snprintf(s->images_pool, sizeof(s->images_pool), "images");
    s->clone_ioctx[0] = fake_rados_ioctx(2);
    snprintf(s->clone_pool[0], sizeof(s->clone_pool[0]), "volumes");
    s->lease_ttl_ms = TTL;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/strata-imgrec-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(s->staging_dir, sizeof(s->staging_dir), "%s", tmpdir);
    return qos_bulk_init(&s->bulk, 0, 0);
}

static inline int teardown(void **state)
{
    (void)state;
    fake_work_run();
    qos_bulk_cleanup(&s->bulk);
    st_meta_close(s->meta);
    rmdir(tmpdir);
    fake_rbd_reset();
    fake_rados_reset();
    return 0;
}

/* An image record as imaged writes it, with _s members priv (stolen, may be NULL). */
static inline void image(const char *id, const char *status, json_t *priv)
{
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", id, "status", status, "owner", "p1",
                            "visibility", "private", "_s", priv ? priv : json_object());

    assert_int_equal(st_meta_create(s->meta, &img_kind, id, rec, NULL), 0);
    json_decref(rec);
}

#define lease_by(id, owner, op) ut_lease_take(s->meta, &img_kind, id, owner, op, TTL)
#define status_of(id) ut_field(s->meta, &img_kind, id, "status")
#define lease_owner(id) ut_lease_owner(s->meta, &img_kind, id)

#endif
