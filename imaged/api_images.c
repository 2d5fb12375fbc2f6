/* api_images.c — the Glance Image API v2 of imaged (and its internal clone
 * endpoint): each handler checks the request with image_json.c, calls
 * image_service.h and answers with Glance's status codes.  No Ceph calls here;
 * image data streams through the service in both directions. */
#include "api_images.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "image_json.h"
#include "image_service.h"

_Static_assert(IMGJ_MSG_MAX <= IMG_MSG_MAX, "image_json messages must fit IMG_MSG_MAX");

#define OCTET_STREAM "application/octet-stream"
#define URL_MAX 512

/* ---- helpers ---- */

static struct img_service *svc(const struct st_req *r)
{
    return st_req_app(r);
}

static const struct st_auth_ctx *who(const struct st_req *r)
{
    return st_req_auth(r);
}

static bool is_admin(const struct st_req *r)
{
    const struct st_auth_ctx *a = st_req_auth(r);

    return a && a->is_admin;
}

/* Answer a failure with the service's (or image_json's) message when there
 * is one, Glance's text for an unknown image, else the status's generic
 * text (from the common layer).  Returns rc for the handler to return. */
static int fail(struct st_req *r, int rc, const char *msg, const char *id)
{
    if (rc == -ENOENT && !(msg && msg[0]) && id)
        return st_reply_error(r, 404, "No image found with ID %s", id), rc;
    return st_reply_fail(r, rc, msg, NULL, NULL);
}

static int unsupported_type(struct st_req *r, const char *expected)
{
    st_reply_error(r, 415, "Unsupported Content-Type: expected %s.", expected);
    return -EINVAL;
}

static int reply_doc(struct st_req *r, unsigned status, json_t *doc)
{
    return doc ? st_reply_json(r, status, doc) : -ENOMEM;
}

static int reply_no_content(struct st_req *r)
{
    return st_reply_json(r, 204, NULL);
}

static struct imgj_view_opts view_opts(const struct st_req *r)
{
    const struct img_service *s = svc(r);
    bool direct, locations;

    img_service_show_location(s, st_req_auth(r), &direct, &locations);
    return (struct imgj_view_opts){
        .show_direct_url = direct,
        .show_locations = locations,
        .fsid = img_service_fsid(s),
        .pool = img_service_pool(s),
    };
}

static int reply_image(struct st_req *r, unsigned status, const json_t *record)
{
    struct imgj_view_opts o = view_opts(r);

    return reply_doc(r, status, imgj_view(record, &o));
}

/* The body as any JSON value (a PATCH body is an array; st_req_json wants objects). */
static int body_json(struct st_req *r, json_t **out)
{
    size_t len = 0;
    const char *text = st_req_body(r, &len);
    json_error_t err;
    json_t *j = len ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &err) : NULL;

    if (!j) {
        st_reply_error(r, 400, "Malformed JSON body: %s.", len ? err.text : "a body is required");
        return -EINVAL;
    }
    *out = j;
    return 0;
}

/* ---- documents ---- */

static int h_root(struct st_req *r)
{
    return reply_doc(r, 300, imgj_versions(st_req_header(r, "Host")));
}

static int h_versions(struct st_req *r)
{
    return reply_doc(r, 200, imgj_versions(st_req_header(r, "Host")));
}

static int h_schema_image(struct st_req *r)
{
    return reply_doc(r, 200, imgj_schema_image());
}

static int h_schema_images(struct st_req *r)
{
    return reply_doc(r, 200, imgj_schema_images());
}

static int h_info_import(struct st_req *r)
{
    return reply_doc(r, 200, imgj_import_info());
}

/* ---- images ---- */

static int reply_created(struct st_req *r, const json_t *record)
{
    const char *id = json_string_value(json_object_get(record, "id"));
    char base[URL_MAX], loc[URL_MAX];
    int n;

    if (id && imgj_base_url(st_req_header(r, "Host"), base, sizeof(base)) == 0) {
        n = snprintf(loc, sizeof(loc), "%s/v2/images/%s", base, id);
        if (n > 0 && (size_t)n < sizeof(loc))
            st_reply_header(r, "Location", loc);
    }
    return reply_image(r, 201, record);
}

static int h_create(struct st_req *r)
{
    char msg[IMG_MSG_MAX] = "";
    json_t *body = NULL, *fields = NULL, *rec = NULL;
    int rc = st_req_json(r, &body);

    if (rc < 0)
        return rc;
    rc = imgj_create_fields(body, is_admin(r), &fields, msg);
    if (rc == 0)
        rc = img_create(svc(r), who(r), fields, &rec, msg);
    rc = rc == 0 ? reply_created(r, rec) : fail(r, rc, msg, NULL);
    json_decref(body);
    json_decref(fields);
    json_decref(rec);
    return rc;
}

static int h_show(struct st_req *r)
{
    const char *id = st_req_param(r, "id");
    json_t *rec = NULL;
    int rc = img_get(svc(r), who(r), id, &rec);

    rc = rc == 0 ? reply_image(r, 200, rec) : fail(r, rc, NULL, id);
    json_decref(rec);
    return rc;
}

static int h_tasks(struct st_req *r)
{
    const char *id = st_req_param(r, "id");
    json_t *rec = NULL;
    int rc = img_get(svc(r), who(r), id, &rec);

    rc = rc == 0 ? reply_doc(r, 200, imgj_tasks_view(rec)) : fail(r, rc, NULL, id);
    json_decref(rec);
    return rc;
}

static const char *query_get(void *arg, const char *name, size_t nth)
{
    return st_req_query_nth(arg, name, nth);
}

/* The page after the marker; a marker filtered out of the set is placed by
 * its record (400 when the caller cannot see such an image). */
static int list_page(struct st_req *r, json_t *all, const struct imgj_list_query *q, json_t **page,
                     bool *more)
{
    json_t *mrec = NULL;
    int rc = imgj_list_page(all, q, NULL, page, more);

    if (rc != -ENOENT)
        return rc;
    if (img_get(svc(r), who(r), q->marker, &mrec) < 0) {
        st_reply_error(r, 400, "marker not found: %s", q->marker);
        return -EINVAL;
    }
    rc = imgj_list_page(all, q, mrec, page, more);
    json_decref(mrec);
    return rc;
}

static int reply_list(struct st_req *r, const json_t *page, const struct imgj_list_query *q,
                      bool more)
{
    struct imgj_view_opts o = view_opts(r);
    json_t *views = json_array(), *img;
    const char *next = NULL;
    size_t i;

    json_array_foreach(page, i, img)
    {
        if (!views || json_array_append_new(views, imgj_view(img, &o)) < 0) {
            json_decref(views);
            return -ENOMEM;
        }
        next = json_string_value(json_object_get(img, "id"));
    }
    return reply_doc(r, 200, imgj_list_body(views, q, more ? next : NULL));
}

static int h_list(struct st_req *r)
{
    struct img_filter filters[IMGJ_QUERY_MAX];
    struct imgj_list_query q;
    char msg[IMG_MSG_MAX] = "";
    json_t *all = NULL, *page = NULL;
    size_t nfilters = 0;
    bool more = false;
    int rc = imgj_list_parse(query_get, r, &q, msg);

    if (rc < 0)
        return fail(r, rc, msg, NULL);
    /* Plain equality filters narrow the service's scan; "in:a,b" ones are
     * applied here only (imgj_list_filter re-applies every filter anyway). */
    for (size_t i = 0; i < q.narg; i++) {
        if (q.arg[i].service && strncmp(q.arg[i].value, "in:", 3) != 0)
            filters[nfilters++] = (struct img_filter){q.arg[i].name, q.arg[i].value};
    }
    rc = img_list(svc(r), who(r), filters, nfilters, &all);
    if (rc == 0) {
        imgj_list_filter(all, &q);
        rc = list_page(r, all, &q, &page, &more);
    }
    if (rc == 0)
        rc = reply_list(r, page, &q, more);
    json_decref(all);
    json_decref(page);
    return rc;
}

static int patch_edit(json_t *record, void *arg, char *msg)
{
    return imgj_patch_apply(record, arg, msg);
}

static int h_update(struct st_req *r)
{
    const char *id = st_req_param(r, "id");
    char msg[IMG_MSG_MAX] = "";
    struct imgj_patch *p = NULL;
    json_t *ops = NULL, *rec = NULL;
    int draft, rc;

    if (imgj_patch_media_type(st_req_header(r, "Content-Type"), &draft) < 0)
        return unsupported_type(r, "application/openstack-images-v2.1-json-patch");
    if ((rc = body_json(r, &ops)) < 0)
        return rc;
    rc = imgj_patch_parse(ops, draft, is_admin(r), &p, msg);
    if (rc == 0)
        rc = img_update(svc(r), who(r), id, patch_edit, p, &rec, msg);
    rc = rc == 0 ? reply_image(r, 200, rec) : fail(r, rc, msg, id);
    imgj_patch_free(p);
    json_decref(ops);
    json_decref(rec);
    return rc;
}

typedef int (*img_action_fn)(struct img_service *s, const struct st_auth_ctx *who, const char *id,
                             char *msg);

/* DELETE and the deactivate/reactivate actions: 204 when done. */
static int image_action(struct st_req *r, img_action_fn fn)
{
    const char *id = st_req_param(r, "id");
    char msg[IMG_MSG_MAX] = "";
    int rc = fn(svc(r), who(r), id, msg);

    return rc == 0 ? reply_no_content(r) : fail(r, rc, msg, id);
}

static int h_delete(struct st_req *r)
{
    return image_action(r, img_delete);
}

static int h_deactivate(struct st_req *r)
{
    return image_action(r, img_deactivate);
}

static int h_reactivate(struct st_req *r)
{
    return image_action(r, img_reactivate);
}

/* ---- tags ---- */

static int tag_add_edit(json_t *record, void *arg, char *msg)
{
    return imgj_tag_add(record, arg, msg);
}

static int tag_remove_edit(json_t *record, void *arg, char *msg)
{
    return imgj_tag_remove(record, arg, msg);
}

static int tag_change(struct st_req *r, img_edit_fn fn)
{
    const char *id = st_req_param(r, "id"), *tag = st_req_param(r, "tag");
    char msg[IMG_MSG_MAX] = "";
    json_t *rec = NULL;
    int rc = imgj_tag_check(tag, msg);

    if (rc == 0)
        rc = img_update(svc(r), who(r), id, fn, (void *)tag, &rec, msg);
    json_decref(rec);
    return rc == 0 ? reply_no_content(r) : fail(r, rc, msg, id);
}

static int h_tag_add(struct st_req *r)
{
    return tag_change(r, tag_add_edit);
}

static int h_tag_remove(struct st_req *r)
{
    return tag_change(r, tag_remove_edit);
}

/* ---- data in: PUT /file and /stage ---- */

static int upload_begin(struct st_req *r, bool staging)
{
    const char *id = st_req_param(r, "id");
    char msg[IMG_MSG_MAX] = "";
    struct img_upload *u = NULL;
    int rc;

    if (!imgj_media_type_is(st_req_header(r, "Content-Type"), OCTET_STREAM))
        return unsupported_type(r, OCTET_STREAM);
    rc = img_upload_begin(svc(r), who(r), id, st_req_content_length(r), staging, &u, msg);
    if (rc < 0)
        return fail(r, rc, msg, id);
    /* A declared checksum: the image is killed if the data does not match. */
    const char *md5 = st_req_header(r, "Content-MD5");
    if (md5 && img_upload_expect_md5(u, md5) < 0) {
        img_upload_end(u, -EINVAL, NULL, msg);
        st_reply_error(r, 400, "Content-MD5 must be the md5 of the data, in hex or base64");
        return -EINVAL;
    }
    st_req_set_stream_ctx(r, u);
    return 0;
}

static int file_begin(struct st_req *r)
{
    return upload_begin(r, false);
}

static int stage_begin(struct st_req *r)
{
    return upload_begin(r, true);
}

static int upload_data(struct st_req *r, const char *buf, size_t len)
{
    return img_upload_data(st_req_stream_ctx(r), buf, len);
}

/* err: the body did not arrive whole (client gone, or upload_data failed:
 * then the connection is alive and the error is answered). */
static int upload_end(struct st_req *r, int err)
{
    const char *id = st_req_param(r, "id");
    char msg[IMG_MSG_MAX] = "";
    json_t *rec = NULL;
    int rc = img_upload_end(st_req_stream_ctx(r), err, &rec, msg);

    st_req_set_stream_ctx(r, NULL);
    json_decref(rec);
    if (err)
        return err == -ECONNRESET ? err : fail(r, err, msg, id);
    return rc == 0 ? reply_no_content(r) : fail(r, rc, msg, id);
}

static const struct st_stream_ops file_ops = {file_begin, upload_data, upload_end};
static const struct st_stream_ops stage_ops = {stage_begin, upload_data, upload_end};

static int h_import(struct st_req *r)
{
    const char *id = st_req_param(r, "id"), *method = NULL;
    char msg[IMG_MSG_MAX] = "";
    json_t *body = NULL;
    int rc = st_req_json(r, &body);

    if (rc < 0)
        return rc;
    rc = imgj_import_method(body, &method, msg);
    if (rc == 0)
        rc = img_import(svc(r), who(r), id, method, msg);
    rc = rc == 0 ? st_reply_json(r, 202, NULL) : fail(r, rc, msg, id);
    json_decref(body);
    return rc;
}

/* ---- data out: GET /file ---- */

static ssize_t download_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    (void)pos; /* the service reads sequentially from the range's start */
    return img_download_read(ctx, buf, max);
}

static void download_close(void *ctx)
{
    img_download_close(ctx);
}

/* Whether the image exists for the caller but has no data: Glance answers 204. */
static bool image_without_data(struct st_req *r, const char *id)
{
    json_t *rec = NULL;
    bool empty = img_get(svc(r), who(r), id, &rec) == 0 && !imgj_has_data(rec);

    json_decref(rec);
    return empty;
}

/* A Range needs the data size first (from the record).  *replied when the
 * answer is already given: 204 without data, 416 unsatisfiable. */
static int range_resolve(struct st_req *r, const char *id, const char *header,
                         struct imgj_range *rg, bool *replied)
{
    json_t *rec = NULL;
    json_int_t size;
    char cr[64];
    int rc = img_get(svc(r), who(r), id, &rec);

    if (rc < 0)
        return fail(r, rc, NULL, id);
    size = json_integer_value(json_object_get(rec, "size"));
    *replied = !imgj_has_data(rec);
    json_decref(rec);
    if (*replied)
        return reply_no_content(r);
    if (imgj_parse_range(header, (uint64_t)size, rg) == 0)
        return 0;
    *replied = true;
    snprintf(cr, sizeof(cr), "bytes */%" PRIu64, (uint64_t)size);
    st_reply_header(r, "Content-Range", cr);
    return st_reply_error(r, 416, "Requested range not satisfiable.");
}

static int reply_data(struct st_req *r, struct img_download *dl, uint64_t total,
                      const struct imgj_range *rg, const json_t *rec)
{
    const char *md5 = json_string_value(json_object_get(rec, "checksum"));
    char cr[96];

    if (rg->partial) {
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, rg->offset,
                 rg->offset + rg->length - 1, total);
        st_reply_header(r, "Content-Range", cr);
    } else if (md5) {
        /* The whole image only: clients check it against the body. */
        st_reply_header(r, "Content-MD5", md5);
    }
    st_reply_header(r, "Accept-Ranges", "bytes");
    return st_reply_stream(r, rg->partial ? 206 : 200, OCTET_STREAM,
                           (int64_t)(rg->partial ? rg->length : total), download_read, dl,
                           download_close);
}

static int h_download(struct st_req *r)
{
    const char *id = st_req_param(r, "id"), *range = st_req_header(r, "Range");
    struct imgj_range rg = {false, 0, 0};
    struct img_download *dl = NULL;
    json_t *rec = NULL;
    uint64_t total = 0;
    bool replied = false;
    int rc = range ? range_resolve(r, id, range, &rg, &replied) : 0;

    if (rc < 0 || replied)
        return rc;
    rc = img_download_open(svc(r), who(r), id, rg.offset, rg.partial ? (int64_t)rg.length : -1, &dl,
                           &total, &rec);
    if (rc == -ENODATA || (rc < 0 && rc != -ENOENT && rc != -EPERM && image_without_data(r, id)))
        return reply_no_content(r);
    if (rc < 0)
        return fail(r, rc, NULL, id);
    rc = reply_data(r, dl, total, &rg, rec);
    json_decref(rec);
    return rc;
}

/* ---- internal: copy-on-write clones for blockd and computed ---- */

/* The caller, or (a service naming one) a member of `project` it acts for. */
static const struct st_auth_ctx *acting_for(struct st_req *r, const char *project,
                                            struct st_auth_ctx *buf)
{
    const struct st_auth_ctx *as = who(r);

    if (!project)
        return as;
    *buf = (struct st_auth_ctx){ .nroles = 1, .roles = { "member" } };
    snprintf(buf->project_id, sizeof(buf->project_id), "%s", project);
    snprintf(buf->user_id, sizeof(buf->user_id), "%s", as ? as->user_id : "");
    return buf;
}

static int h_clone(struct st_req *r)
{
    const char *id = st_req_param(r, "id");
    char msg[IMG_MSG_MAX] = "";
    struct imgj_clone_req c;
    json_t *body = NULL, *out = NULL;
    int rc = st_req_json(r, &body);

    if (rc < 0)
        return rc;
    rc = imgj_clone_req(body, &c, msg);
    /* Only services (admin role) make clones; the image must be visible to
     * the project they act for, so a user cannot clone another's image. */
    struct st_auth_ctx behalf;
    const struct st_auth_ctx *as = acting_for(r, rc == 0 ? c.project_id : NULL, &behalf);
    if (rc == 0)
        rc = img_clone(svc(r), as, id, c.pool, c.name, c.size, &out, msg);
    rc = rc == 0 ? reply_doc(r, 201, out) : fail(r, rc, msg, id);
    json_decref(body);
    return rc;
}

/* An image from another service's RBD snapshot (blockd's upload-to-image),
 * made for the project the service acts for. */
static int h_import_rbd(struct st_req *r)
{
    const char *id = st_req_param(r, "id");
    char msg[IMG_MSG_MAX] = "";
    struct imgj_import_rbd_req q;
    json_t *body = NULL, *fields = NULL, *out = NULL, *empty = json_object();
    int rc = st_req_json(r, &body);

    if (rc < 0) {
        json_decref(empty);
        return rc;
    }
    rc = imgj_import_rbd_req(body, &q, msg);
    if (rc == 0)
        rc = imgj_create_fields(q.image ? q.image : empty, false, &fields, msg);
    struct st_auth_ctx behalf;
    const struct st_auth_ctx *as = acting_for(r, rc == 0 ? q.project_id : NULL, &behalf);
    if (rc == 0)
        rc = img_import_rbd(svc(r), as, id, fields, q.pool, q.name, q.snap, &out, msg);
    rc = rc == 0 ? reply_created(r, out) : fail(r, rc, msg, id);
    json_decref(body);
    json_decref(fields);
    json_decref(out);
    json_decref(empty);
    return rc;
}

/* clang-format off */
const struct st_route img_api_routes[] = {
    {"GET",    "/",                                   h_root,          ST_ROUTE_PUBLIC, NULL, NULL},
    {"GET",    "/versions",                           h_versions,      ST_ROUTE_PUBLIC, NULL, NULL},
    {"GET",    "/v2/schemas/image",                   h_schema_image,  0, NULL, NULL},
    {"GET",    "/v2/schemas/images",                  h_schema_images, 0, NULL, NULL},
    {"GET",    "/v2/info/import",                     h_info_import,   0, NULL, NULL},
    {"GET",    "/v2/images",                          h_list,          0, NULL, NULL},
    {"POST",   "/v2/images",                          h_create,        0, NULL, NULL},
    {"GET",    "/v2/images/{id}",                     h_show,          0, NULL, NULL},
    {"PATCH",  "/v2/images/{id}",                     h_update,        0, NULL, NULL},
    {"DELETE", "/v2/images/{id}",                     h_delete,        0, NULL, NULL},
    {"POST",   "/v2/images/{id}/actions/deactivate",  h_deactivate,    0, NULL, NULL},
    {"POST",   "/v2/images/{id}/actions/reactivate",  h_reactivate,    0, NULL, NULL},
    {"PUT",    "/v2/images/{id}/tags/{tag}",          h_tag_add,       0, NULL, NULL},
    {"DELETE", "/v2/images/{id}/tags/{tag}",          h_tag_remove,    0, NULL, NULL},
    {"PUT",    "/v2/images/{id}/file",                NULL, ST_ROUTE_STREAM_BODY, &file_ops, NULL},
    {"GET",    "/v2/images/{id}/file",                h_download,      0, NULL, NULL},
    {"PUT",    "/v2/images/{id}/stage",               NULL, ST_ROUTE_STREAM_BODY, &stage_ops, NULL},
    {"POST",   "/v2/images/{id}/import",              h_import,        0, NULL, NULL},
    {"GET",    "/v2/images/{id}/tasks",               h_tasks,         0, NULL, NULL},
    {"POST",   "/internal/v1/images/{id}/clone",      h_clone,         ST_ROUTE_ADMIN, NULL, NULL},
    {"POST",   "/internal/v1/images/{id}/import-rbd", h_import_rbd,    ST_ROUTE_ADMIN, NULL, NULL},
    ST_ROUTE_END,
};
/* clang-format on */
