/* http_reply.c — replies of the HTTP server (JSON, text, OpenStack faults,
 * streamed bodies) and the one place where an errno becomes an HTTP status.
 * A reply is built into the request; http_server.c queues it on MHD as soon
 * as MHD allows (at the headers stage, or after the body has been read). */
#include "http_internal.h"
#include "strata/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_BLOCK_SIZE (256 * 1024)
#define FAULT_MSG_MAX 1024

static const struct {
    unsigned status;
    const char *name;
} fault_names[] = {
    {400, "badRequest"},     {401, "unauthorized"},       {403, "forbidden"},
    {404, "itemNotFound"},   {405, "badMethod"},          {409, "conflictingRequest"},
    {413, "overLimit"},      {415, "badMediaType"},       {500, "internalServerError"},
    {501, "notImplemented"}, {503, "serviceUnavailable"},
};

const char *st_http_fault_name(unsigned status)
{
    for (size_t i = 0; i < sizeof(fault_names) / sizeof(fault_names[0]); i++) {
        if (fault_names[i].status == status)
            return fault_names[i].name;
    }
    return status >= 400 && status < 500 ? "badRequest" : "internalServerError";
}

const char *st_http_status_title(unsigned status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return status < 500 ? "Bad Request" : "Internal Server Error";
    }
}

unsigned st_errno_to_http(int err)
{
    switch (err < 0 ? -err : err) {
    case EINVAL:
    case EBADMSG:
        return 400;
    case EACCES:
    case EKEYEXPIRED:
    case EKEYREVOKED:
        return 401;
    case EPERM:
        return 403;
    case ENOENT:
        return 404;
    case EEXIST:
    case ECANCELED:
    case EBUSY:
    case ENOTEMPTY:
        return 409;
    case E2BIG:
    case EFBIG:
    case EDQUOT:
        return 413;
    case ENOSYS:
    case EOPNOTSUPP:
        return 501;
    case ETIMEDOUT:
    case ECONNREFUSED:
    case EIO:
    case ENOTCONN:
    case ESHUTDOWN:
    case EAGAIN:
        return 503;
    default:
        return 500;
    }
}

/* Attach the request id, content type and st_reply_header headers to resp
 * and make it the request's reply.  Takes resp (destroyed on failure). */
static int reply_set(struct st_req *r, unsigned status, const char *content_type,
                     struct MHD_Response *resp)
{
    int rc = 0;

    if (!resp)
        return -ENOMEM;
    if (MHD_add_response_header(resp, "X-Openstack-Request-Id", r->id) != MHD_YES ||
        (content_type &&
         MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES))
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < r->nreply_hdrs; i++) {
        if (MHD_add_response_header(resp, r->reply_hdrs[i].name, r->reply_hdrs[i].value) != MHD_YES)
            rc = -EINVAL;
    }
    if (rc < 0) {
        MHD_destroy_response(resp);
        return rc;
    }
    r->resp = resp;
    r->status = status;
    return 0;
}

/* A reply from a memory buffer; with MHD_RESPMEM_MUST_FREE buf is taken. */
static int reply_buffer(struct st_req *r, unsigned status, const char *content_type, char *buf,
                        size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, buf, mode);

    if (!resp && mode == MHD_RESPMEM_MUST_FREE)
        free(buf);
    r->bytes_out = len;
    return reply_set(r, status, content_type, resp);
}

/* RFC 7230 token characters, for header names. */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s <= ' ' || *s >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *s))
            return false;
    }
    return true;
}

int st_reply_header(struct st_req *r, const char *name, const char *value)
{
    struct st_kv *kv, h;

    if (r->status)
        return -EALREADY;
    if (!name || !value || !is_token(name) || strpbrk(value, "\r\n"))
        return -EINVAL;
    kv = realloc(r->reply_hdrs, (r->nreply_hdrs + 1) * sizeof(*kv));
    if (!kv)
        return -ENOMEM;
    r->reply_hdrs = kv;
    h = (struct st_kv){strdup(name), strdup(value)};
    if (!h.name || !h.value) {
        st_kv_free_all(&h, 1);
        return -ENOMEM;
    }
    kv[r->nreply_hdrs++] = h;
    return 0;
}

int st_reply_json(struct st_req *r, unsigned status, json_t *body)
{
    char *text = NULL;
    int rc;

    if (r->status)
        rc = -EALREADY;
    else if (body && !(text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY)))
        rc = -ENOMEM;
    else
        rc = reply_buffer(r, status, body ? "application/json" : NULL, text,
                          text ? strlen(text) : 0, MHD_RESPMEM_MUST_FREE);
    json_decref(body);
    return rc;
}

int st_reply_text(struct st_req *r, unsigned status, const char *content_type, const char *text,
                  size_t len)
{
    if (r->status)
        return -EALREADY;
    return reply_buffer(r, status, content_type, (void *)text, text ? len : 0,
                        MHD_RESPMEM_MUST_COPY);
}

int st_reply_error(struct st_req *r, unsigned status, const char *fmt, ...)
{
    char msg[FAULT_MSG_MAX];
    json_t *jmsg;
    va_list ap;

    if (r->status)
        return -EALREADY;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    jmsg = json_string(msg);
    if (!jmsg) {
        /* Not UTF-8 (a client-supplied name, say): keep the ASCII. */
        for (char *p = msg; *p; p++) {
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        }
        jmsg = json_string(msg);
    }
    if (r->srv->cfg.keystone_faults)
        return st_reply_json(r, status,
                             json_pack("{s:{s:I,s:o,s:s}}", "error", "code", (json_int_t)status,
                                       "message", jmsg, "title", st_http_status_title(status)));
    return st_reply_json(r, status,
                         json_pack("{s:{s:I,s:o}}", st_http_fault_name(status), "code",
                                   (json_int_t)status, "message", jmsg));
}

int st_reply_fail(struct st_req *r, int rc, const char *msg, const char *what, const char *id)
{
    if (msg && msg[0])
        st_reply_error(r, st_errno_to_http(rc), "%s", msg);
    else if (rc == -ENOENT && what)
        st_reply_error(r, 404, "%s %s could not be found.", what, id ? id : "");
    return rc;
}

struct stream_reply {
    struct st_req *req; /* alive whenever MHD calls the reader */
    st_reader_fn reader;
    void *ctx;
    void (*free_fn)(void *);
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream_reply *s = cls;
    ssize_t n;

    st_log_set_request_id(s->req->id);
    n = s->reader(s->ctx, pos, buf, max);
    st_log_set_request_id(NULL);
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    s->req->bytes_out += (uint64_t)n;
    return n;
}

static void stream_free(void *cls)
{
    struct stream_reply *s = cls;

    if (s->free_fn)
        s->free_fn(s->ctx);
    free(s);
}

/* Takes ctx in every case: free_fn(ctx) runs when the response is done, or
 * before returning when no response could be made. */
int st_reply_stream(struct st_req *r, unsigned status, const char *content_type, int64_t size,
                    st_reader_fn reader, void *ctx, void (*free_fn)(void *))
{
    struct stream_reply *s = NULL;
    struct MHD_Response *resp = NULL;
    int rc = 0;

    if (r->status)
        rc = -EALREADY;
    else if (!reader)
        rc = -EINVAL;
    else if (!(s = malloc(sizeof(*s))))
        rc = -ENOMEM;
    if (rc < 0) {
        if (free_fn)
            free_fn(ctx);
        return rc;
    }
    *s = (struct stream_reply){r, reader, ctx, free_fn};
    resp = MHD_create_response_from_callback(size < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)size,
                                             STREAM_BLOCK_SIZE, stream_read, s, stream_free);
    if (!resp)
        stream_free(s);
    return reply_set(r, status, content_type, resp);
}

static void reply_headers_release(struct st_req *r)
{
    st_kv_free_all(r->reply_hdrs, r->nreply_hdrs);
    free(r->reply_hdrs);
    r->reply_hdrs = NULL;
    r->nreply_hdrs = 0;
}

void st_req_ensure_reply(struct st_req *r, int rc)
{
    char buf[128];

    if (r->status)
        return;
    /* Headers meant for a success reply do not belong on the error. */
    reply_headers_release(r);
    if (rc < 0) {
        st_reply_error(r, st_errno_to_http(rc), "%s", strerror_r(-rc, buf, sizeof(buf)));
        return;
    }
    st_error("%s %s: handler returned without replying", r->method, r->path);
    st_reply_error(r, 500, "The server failed to produce a reply.");
}

void st_req_reply_release(struct st_req *r)
{
    reply_headers_release(r);
    if (r->resp)
        MHD_destroy_response(r->resp);
    r->resp = NULL;
}
