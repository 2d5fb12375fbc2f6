/* bk_store_internal.h — what bk_store.c dispatches to: one const table of
 * operations per kind, and the directory store's own API the EC store reuses. */
#ifndef STRATA_BK_STORE_INTERNAL_H
#define STRATA_BK_STORE_INTERNAL_H

#include "bk_store.h"

#include <stdbool.h>

#define BK_NAME_MAX 1024   /* a whole name */
#define BK_SEGMENT_MAX 200 /* one segment: room left for ".tmp.<random>" */

typedef int (*bk_list_fn)(void *arg, const char *name);

/* One kind's operations on its own state (impl); names are already valid. */
struct bk_store_ops {
    int (*open)(const struct bk_store_conf *c, void **impl, char *desc, size_t desclen, char *msg,
                size_t msglen);
    void (*close)(void *impl);
    int (*put)(void *impl, const char *name, const void *data, size_t len);
    int (*get)(void *impl, const char *name, void **data, size_t *len);
    int (*stat)(void *impl, const char *name, uint64_t *len);
    int (*remove)(void *impl, const char *name);
    int (*list)(void *impl, const char *prefix, bk_list_fn fn, void *arg);
};

extern const struct bk_store_ops bk_store_rados_ops;
extern const struct bk_store_ops bk_store_dir_ops;
extern const struct bk_store_ops bk_store_ec_ops;

/* Whether name is a valid object name (see bk_store.h); also refuses
 * segments containing ".tmp." (the directory store's temporary files). */
bool bk_store_name_ok(const char *name);
/* Whether name starts with prefix (NULL or "" matches everything). */
bool bk_store_has_prefix(const char *name, const char *prefix);

/* The directory store, used whole by the EC store for each of its shards. */
struct bk_dir;
/* path must be an existing writable directory: -ENOENT/-EACCES/-ENOTDIR with msg. */
int bk_dir_open(const char *path, unsigned aio_depth, struct bk_dir **out, char *msg,
                size_t msglen);
void bk_dir_close(struct bk_dir *d);
int bk_dir_put(struct bk_dir *d, const char *name, const void *data, size_t len);
int bk_dir_get(struct bk_dir *d, const char *name, void **data, size_t *len);
int bk_dir_stat(struct bk_dir *d, const char *name, uint64_t *len);
/* The first len bytes (fewer at the end): the count read or -errno. */
ssize_t bk_dir_read_head(struct bk_dir *d, const char *name, void *buf, size_t len);
int bk_dir_remove(struct bk_dir *d, const char *name);
int bk_dir_list(struct bk_dir *d, const char *prefix, bk_list_fn fn, void *arg);

#endif
