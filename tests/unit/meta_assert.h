/* meta_assert.h — unit-test helpers over the metadata store (the fake's, or
 * a cluster's): a record's string field as it is stored, who holds its lease,
 * and a lease taken as another daemon would.  Include after cmocka.h. */
#ifndef STRATA_TEST_META_ASSERT_H
#define STRATA_TEST_META_ASSERT_H

#include <stdio.h>

#include "strata/meta.h"
#include "strata/workpool.h"

/* The stored record's string field: "(gone)" without a record, "(null)"
 * when the field is not a string.  Valid until the next call. */
static inline const char *ut_field(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                                   const char *field)
{
    static char buf[128];
    struct st_record r = {0};

    if (st_meta_get(m, k, id, &r) < 0)
        return "(gone)";
    snprintf(buf, sizeof(buf), "%s",
             st_rec_str(r.data, field) ? st_rec_str(r.data, field) : "(null)");
    st_record_cleanup(&r);
    return buf;
}

/* Who holds the record's lease (NULL: nobody).  Valid until the next call. */
static inline const char *ut_lease_owner(struct st_meta *m, const struct st_meta_kind *k,
                                         const char *id)
{
    static struct st_lease l;

    return st_lease_get(m, k, id, &l) == 0 ? l.owner : NULL;
}

/* Take the record's lease for owner at st_now_ms(), asserting it is free. */
static inline void ut_lease_take(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                                 const char *owner, const char *op, int64_t ttl_ms)
{
    assert_int_equal(st_lease_acquire(m, k, id, owner, op, st_now_ms(), ttl_ms), 0);
}

#endif
