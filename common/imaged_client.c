/* imaged_client.c — blockd's and computed's calls to imaged, and the one place
 * that turns imaged's replies into -errno and a message. */
#include "strata/imaged_client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* What imaged's answer to `what` (rc, r) means, when it is not `want`. */
static int reply_rc(const char *what, const char *id, int rc, const struct st_httpc_resp *r,
                    long want, char *msg, size_t msglen)
{
    char why[64];

    if (rc == 0 && r->status == want)
        return 0;
    if (rc == 0 && (r->status == 400 || r->status == 404 || r->status == 409)) {
        snprintf(msg, msglen, "The image service refused the %s of image %s (%ld): %.120s", what,
                 id, r->status, r->raw ? r->raw : "");
        return r->status == 404 ? -ENOENT : r->status == 409 ? -EEXIST : -EINVAL;
    }
    if (rc < 0)
        snprintf(why, sizeof(why), "%s", strerror(-rc));
    else
        snprintf(why, sizeof(why), "it answered %ld to the %s", r->status, what);
    snprintf(msg, msglen, "The image service is unavailable (%s); try again later", why);
    return -EIO;
}

int st_imaged_image(struct st_httpc_peer *imaged, const char *id, const char *token, json_t **image,
                    char *msg, size_t msglen)
{
    struct st_httpc_resp r = {0};
    char path[300];
    int rc;

    snprintf(path, sizeof(path), "/v2/images/%s", id);
    rc = st_httpc_peer_request(imaged, "GET", path, token, NULL, &r);
    rc = reply_rc("lookup", id, rc, &r, 200, msg, msglen);
    if (rc == 0 && !json_is_object(r.body)) {
        snprintf(msg, msglen, "The image service is unavailable (%s); try again later",
                 "it answered the lookup without an image");
        rc = -EIO;
    }
    if (rc == 0)
        *image = json_incref(r.body);
    st_httpc_resp_cleanup(&r);
    return rc;
}

/* POST body to imaged's /internal/v1/images/{id}/{op}, which answers 201. */
static int post_internal(struct st_httpc_peer *imaged, const char *what, const char *id,
                         const char *op, json_t *body, char *msg, size_t msglen)
{
    struct st_httpc_resp r = {0};
    char path[300];
    int rc;

    if (!body)
        return -ENOMEM;
    snprintf(path, sizeof(path), "/internal/v1/images/%s/%s", id, op);
    rc = st_httpc_peer_request(imaged, "POST", path, NULL, body, &r);
    json_decref(body);
    rc = reply_rc(what, id, rc, &r, 201, msg, msglen);
    st_httpc_resp_cleanup(&r);
    return rc;
}

int st_imaged_clone(struct st_httpc_peer *imaged, const char *id, const char *pool,
                    const char *name, uint64_t bytes, const char *project_id, char *msg,
                    size_t msglen)
{
    return post_internal(imaged, "clone", id, "clone",
                         json_pack("{s:s, s:s, s:I, s:s}", "pool", pool, "name", name, "size",
                                   (json_int_t)bytes, "project_id", project_id),
                         msg, msglen);
}

int st_imaged_import_rbd(struct st_httpc_peer *imaged, const char *id, const char *pool,
                         const char *name, const char *snap, const char *project_id,
                         const json_t *image, char *msg, size_t msglen)
{
    return post_internal(imaged, "import", id, "import-rbd",
                         json_pack("{s:s, s:s, s:s, s:s, s:O}", "pool", pool, "name", name, "snap",
                                   snap, "project_id", project_id, "image", image),
                         msg, msglen);
}
