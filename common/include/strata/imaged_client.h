/* imaged_client.h — what the other services (blockd, computed) ask imaged: an
 * image's record, a copy-on-write clone, an import from an RBD snapshot.  One
 * mapping of imaged's replies to -errno and messages, for every caller. */
#ifndef STRATA_IMAGED_CLIENT_H
#define STRATA_IMAGED_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/httpc.h"

/* `imaged` is the peer made with imaged's URL ([blockd]/[computed] image_url).
 * Every call below returns 0, or -errno with a one-line message in msg
 * (msglen bytes):
 *   -ENOENT   imaged does not know the image (404);
 *   -EINVAL   it refused the request (400);
 *   -EEXIST   it refused it as a conflict (409: e.g. the target exists);
 *   -EIO      no reply, a 5xx or any other answer: imaged is unavailable;
 *   -ENOMEM (no message). */

/* The image record (GET /v2/images/{id}) as `token`'s project sees it (NULL:
 * the peer's service token): *image (new reference) on success. */
int st_imaged_image(struct st_httpc_peer *imaged, const char *id, const char *token, json_t **image,
                    char *msg, size_t msglen);

/* Clone image `id` into pool/name, `bytes` large, for `project_id` (the image
 * must be visible to it). */
int st_imaged_clone(struct st_httpc_peer *imaged, const char *id, const char *pool,
                    const char *name, uint64_t bytes, const char *project_id, char *msg,
                    size_t msglen);

/* Make image `id` of project_id from pool/name@snap, with the record fields
 * `image` (name, disk_format, visibility...; not stolen). */
int st_imaged_import_rbd(struct st_httpc_peer *imaged, const char *id, const char *pool,
                         const char *name, const char *snap, const char *project_id,
                         const json_t *image, char *msg, size_t msglen);

#endif
