/* imaged_client.c — blockd's and computed's calls to imaged, and the one place
 * that turns imaged's replies into -errno and a message. */
#include "strata/imaged_client.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct st_imaged {
    struct st_httpc *http;
    char *url;
    char *token;
};

int st_imaged_create(struct st_httpc *http, const char *url, const char *service_token,
                     struct st_imaged **out)
{
    struct st_imaged *c = calloc(1, sizeof(*c));

    if (!c || !(c->url = strdup(url)) || !(c->token = strdup(service_token))) {
        st_imaged_destroy(c);
        return -ENOMEM;
    }
    c->http = http;
    *out = c;
    return 0;
}

void st_imaged_destroy(struct st_imaged *c)
{
    if (!c)
        return;
    if (c->token)
        OPENSSL_cleanse(c->token, strlen(c->token));
    free(c->token);
    free(c->url);
    free(c);
}

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

int st_imaged_image(struct st_imaged *c, const char *id, const char *token, json_t **image,
                    char *msg, size_t msglen)
{
    struct st_httpc_resp r = {0};
    char url[512];
    int rc;

    snprintf(url, sizeof(url), "%s/v2/images/%s", c->url, id);
    rc = st_httpc_request(c->http, "GET", url, token ? token : c->token, NULL, &r);
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

/* POST body to {url}/internal/v1/images/{id}/{op}, which answers 201. */
static int post_internal(struct st_imaged *c, const char *what, const char *id, const char *op,
                         json_t *body, char *msg, size_t msglen)
{
    struct st_httpc_resp r = {0};
    char url[512];
    int rc;

    if (!body)
        return -ENOMEM;
    snprintf(url, sizeof(url), "%s/internal/v1/images/%s/%s", c->url, id, op);
    rc = st_httpc_request(c->http, "POST", url, c->token, body, &r);
    json_decref(body);
    rc = reply_rc(what, id, rc, &r, 201, msg, msglen);
    st_httpc_resp_cleanup(&r);
    return rc;
}

int st_imaged_clone(struct st_imaged *c, const char *id, const char *pool, const char *name,
                    uint64_t bytes, const char *project_id, char *msg, size_t msglen)
{
    return post_internal(c, "clone", id, "clone",
                         json_pack("{s:s, s:s, s:I, s:s}", "pool", pool, "name", name, "size",
                                   (json_int_t)bytes, "project_id", project_id),
                         msg, msglen);
}

int st_imaged_import_rbd(struct st_imaged *c, const char *id, const char *pool, const char *name,
                         const char *snap, const char *project_id, const json_t *image, char *msg,
                         size_t msglen)
{
    return post_internal(c, "import", id, "import-rbd",
                         json_pack("{s:s, s:s, s:s, s:s, s:O}", "pool", pool, "name", name, "snap",
                                   snap, "project_id", project_id, "image", image),
                         msg, msglen);
}
