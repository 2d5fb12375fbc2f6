/* bk_store.h — the backup repository's object store: immutable named blobs
 * (chunks, manifests) in a RADOS pool, in a directory (libaio, O_DIRECT), or
 * across k+m directories erasure-coded with isa-l (Cauchy).  Thread-safe. */
#ifndef STRATA_BK_STORE_H
#define STRATA_BK_STORE_H

#include <rados/librados.h>
#include <stddef.h>
#include <stdint.h>

enum bk_store_kind { BK_STORE_RADOS, BK_STORE_DIR, BK_STORE_EC };

struct bk_store_conf {
    enum bk_store_kind kind;
    rados_t cluster;            /* RADOS: the daemon's connection (not owned) */
    const char *pool;           /* RADOS: e.g. "strata.backups" */
    const char *const *dirs;    /* DIR: dirs[0]; EC: k+m directories */
    unsigned ndirs;
    unsigned k, m;              /* EC: data and coding shards (k ≥ 1, m ≥ 1, k+m = ndirs) */
    unsigned aio_depth;         /* DIR/EC: AIO writes in flight per object (0 = 8) */
};

struct bk_store;

/* Opens (directories must exist and be writable; the pool must exist).
 * -EINVAL with msg for a bad conf, -ENOENT/-EACCES with msg naming the path
 * or pool. */
int bk_store_open(const struct bk_store_conf *c, struct bk_store **out, char *msg, size_t msglen);
void bk_store_close(struct bk_store *s);

/* Names: [A-Za-z0-9._-] segments joined by '/' (no "..", no leading '/');
 * -EINVAL otherwise.  In directories a '/' is a subdirectory. */

/* Write the whole object, replacing any of that name atomically; durable on
 * return (directories: written with O_DIRECT and several AIO writes in
 * flight, fsync'd, renamed into place, directory fsync'd). */
int bk_store_put(struct bk_store *s, const char *name, const void *data, size_t len);
/* Read it whole (*data malloc'd, caller frees).  -ENOENT when absent.  EC:
 * shards missing or failing their crc are rebuilt from any k others; -EIO
 * when fewer than k remain. */
int bk_store_get(struct bk_store *s, const char *name, void **data, size_t *len);
/* 0 and *len when it exists (EC: when at least k shards exist), -ENOENT. */
int bk_store_stat(struct bk_store *s, const char *name, uint64_t *len);
/* 0, also when it was absent. */
int bk_store_remove(struct bk_store *s, const char *name);
/* fn(arg, name) for every object whose name starts with prefix (order
 * unspecified; EC: names with any shard); fn's non-zero return stops the walk
 * and is returned. */
int bk_store_list(struct bk_store *s, const char *prefix,
                  int (*fn)(void *arg, const char *name), void *arg);
/* A one-line description for records and logs: "rados:strata.backups",
 * "dir:/srv/bk", "ec4+2:/a,/b,...". */
const char *bk_store_describe(const struct bk_store *s);

#endif
