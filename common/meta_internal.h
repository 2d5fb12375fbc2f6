/* meta_internal.h — what the metadata store's parts share: the store's
 * state, omap key targets and the compare-and-swap batch. */
#ifndef STRATA_COMMON_META_INTERNAL_H
#define STRATA_COMMON_META_INTERNAL_H

#include "strata/meta.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "strata/log.h"

#define KIND_NAME_MAX 64
#define OID_MAX (sizeof("meta.") + KIND_NAME_MAX)
#define KEY_MAX (2 + ST_META_ID_MAX + 1)
#define VERSION_LEN 20
#define HWM_KEY "hwm" /* the kind's high-water mark of deleted versions */
#define MODIFY_TRIES 20
#define LEASE_TRIES 8
#define LIST_PAGE_MAX 1000
#define LIST_DEFAULT 1000
#define CAS_CMP_MAX 2
#define CAS_KEYS_MAX 4

struct st_meta {
    rados_ioctx_t io;
};

/* Where one record lives: its object and its three keys. */
struct target {
    const char *id;
    char oid[OID_MAX];
    char rkey[KEY_MAX];
    char vkey[KEY_MAX];
    char lkey[KEY_MAX];
    char okey[KEY_MAX];   /* the lease's owner alone, for fenced writes */
};

/* One omap value read back (NUL-terminated copy). */
struct kv {
    char *val;
    size_t len;
    bool present;
};

/* A compare-and-swap write: optional create, guards, then sets and removals. */
struct cas {
    bool create;
    size_t ncmp, nset, nrm;
    const char *cmp_key[CAS_CMP_MAX];
    const char *cmp_val[CAS_CMP_MAX];
    uint8_t cmp_op[CAS_CMP_MAX];
    const char *set_key[CAS_KEYS_MAX];
    const char *set_val[CAS_KEYS_MAX];
    const char *rm_key[CAS_KEYS_MAX];
};

/* meta.c */
bool meta_name_valid(const char *s, size_t max);
int meta_kind_oid(const struct st_meta_kind *k, char *oid);
void meta_make_key(char *key, char prefix, const char *id);
int meta_target_init(struct st_meta *m, const struct st_meta_kind *k, const char *id,
                     struct target *t);
void meta_kv_free(struct kv *kv, size_t n);
int meta_read_keys(struct st_meta *m, const char *oid, const char *const *keys, size_t n,
                   struct kv *out);
int meta_cas_run(struct st_meta *m, const char *oid, const struct cas *c);
void meta_cas_cmp(struct cas *c, const char *key, uint8_t op, const char *val);
void meta_cas_set(struct cas *c, const char *key, const char *val);
void meta_cas_rm(struct cas *c, const char *key);
int meta_record_fill(struct st_record *out, const char *oid, const char *id, const char *text,
                     size_t tlen, const char *ver, size_t vlen);
int meta_lease_encode(const char *owner, const char *op, int64_t expires_ms, char **text);

#endif

