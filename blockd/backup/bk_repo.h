/* bk_repo.h — the backup repository: content-addressed chunks in a bk_store,
 * their reference index and one manifest per backup.  Chunks are named
 * "chunks/<project>/<sha[0..1]>/<sha>" and shared by every backup of a
 * project that contains the same data; references live in RADOS omap (the
 * backups pool): a global index "<project>/<sha>/<backup>" and a list per
 * backup, so adding, dropping and auditing references is idempotent and
 * survives a kill -9 at any point.  Thread-safe. */
#ifndef STRATA_BK_REPO_H
#define STRATA_BK_REPO_H

#include <jansson.h>
#include <rados/librados.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_chunk.h"
#include "bk_store.h"

#define BK_MSG_MAX 256

struct bk_repo;

/* io: the backups pool (the index lives there whatever the store; borrowed,
 * must outlive the repo).  store is owned by the repo from then on. */
int bk_repo_create(rados_ioctx_t io, struct bk_store *store, const char *owner,
                   struct bk_repo **out);
void bk_repo_destroy(struct bk_repo *r);
struct bk_store *bk_repo_store(struct bk_repo *r);

/* One chunk of a backup. */
struct bk_ref {
    char sha[BK_SHA_HEX];
    bool absent;     /* out of bk_repo_ref: no such chunk stored yet: put it */
};

/* Reference n chunks of project from backup_id (in its list first, then in
 * the index, under the index's lock) and tell which are not stored yet.  A
 * chunk referenced here cannot be freed by any bk_repo_unref until this
 * backup drops it, so putting the absent ones afterwards is safe. */
int bk_repo_ref(struct bk_repo *r, const char *project, const char *backup_id,
                struct bk_ref *refs, size_t n);
/* Drop every reference of backup_id (from its list), freeing the chunks no
 * other backup references; *freed (optional): how many.  Resumable: run
 * again after a crash it finishes the job.  0 when the backup had none. */
int bk_repo_unref_all(struct bk_repo *r, const char *project, const char *backup_id,
                      size_t *freed);

/* Encode (codec of the calling thread) and store a chunk; *stored: bytes
 * written (its frame). */
int bk_repo_put_chunk(struct bk_repo *r, struct bk_codec *c, const char *project,
                      const char *sha, const void *data, size_t len, uint64_t *stored);
/* Read and verify a chunk: *data malloc'd.  -EBADMSG (msg says which check)
 * when it is corrupt, -ENOENT when missing, -EIO when unreadable. */
int bk_repo_get_chunk(struct bk_repo *r, struct bk_codec *c, const char *project,
                      const char *sha, void **data, size_t *len, char *msg);
void bk_chunk_name(const char *project, const char *sha, char *buf, size_t len);

/* Manifests ("manifests/<backup>"): a JSON document, framed like a chunk
 * (compressed, crc32c).  get: -ENOENT when absent, -EBADMSG when corrupt. */
int bk_repo_put_manifest(struct bk_repo *r, const char *backup_id, const json_t *m);
int bk_repo_get_manifest(struct bk_repo *r, const char *backup_id, json_t **m);
int bk_repo_remove_manifest(struct bk_repo *r, const char *backup_id);

/* Audit (tools/strata backup-audit): compare chunks, the index, the
 * per-backup lists and the manifests; *report: {"chunks": n, "orphan_chunks":
 * [...], "missing_chunks": [...], "dangling_refs": [...], "lists": n,
 * "manifests": n, "repaired": bool}.  live(arg, backup_id) says whether a
 * backup is known and not being made (its references are kept).  With
 * repair, orphan chunks and dangling references are removed. */
int bk_repo_audit(struct bk_repo *r, bool (*live)(void *arg, const char *backup_id), void *arg,
                  bool repair, json_t **report);

#endif
