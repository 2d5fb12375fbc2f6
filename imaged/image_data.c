/* image_data.c — moving image data: uploads streamed straight into RBD (raw),
 * or into a staging file when the format must be converted or for Glance's
 * interoperable import (stage + glance-direct); ingestion of staged files; and
 * downloads.  Every upload holds a lease on its image so a crash mid-way is
 * undone by reconcile, and the image is never active with partial data. */
#include "image_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "convert.h"
#include "strata/log.h"
#include "strata/rbd.h"
#include "strata/workpool.h"

#define PROBE_BYTES (1024 * 1024)   /* head of a raw upload checked by qemu-img */
#define COPY_BLOCK (4 * 1024 * 1024)

struct img_upload {
    struct img_service *s;
    char id[ST_META_ID_MAX + 1];
    const char *op;             /* lease op: upload or stage */
    const char *status;         /* saving or uploading */
    char disk_format[32];
    bool to_file;               /* staged (conversion or import), else straight to RBD */
    int fd;
    struct img_writer *w;
    char *head;                 /* first PROBE_BYTES of a raw upload, until probed */
    size_t head_len;
    bool probed;
    uint64_t bytes;
    int64_t declared_len;
    char expected_md5[33];
    int64_t renewed_ms;
    bool lost;                  /* our lease was taken over: touch nothing any more */
    EVP_MD_CTX *md5;            /* staged data with a declared checksum */
    char msg[IMG_MSG_MAX];      /* why data() failed, for the reply */
};

static int renew_if_due(struct img_upload *u)
{
    int64_t now = st_now_ms();
    int rc;

    if (now - u->renewed_ms < u->s->lease_ttl_ms / 3)
        return 0;
    rc = st_lease_renew(u->s->meta, &img_kind, u->id, u->s->owner, now, u->s->lease_ttl_ms);
    if (rc < 0) {
        u->lost = true;
        st_error("image %s: lost the %s lease (%s): abandoning the upload", u->id, u->op,
                 strerror(-rc));
        snprintf(u->msg, sizeof(u->msg), "The upload of image %s was taken over", u->id);
        return -ECANCELED;
    }
    u->renewed_ms = now;
    return 0;
}

/* Put the image back to queued and drop the lease (after a failed upload).
 * After a lost lease the new owner decides: only our own handles are closed. */
static void upload_undo(struct img_upload *u)
{
    json_t *extra;
    int rc;

    if (u->lost) {
        if (u->w)
            img_writer_destroy(u->w);   /* the image is the new owner's to remove */
        u->w = NULL;
        if (u->fd >= 0)
            close(u->fd);
        u->fd = -1;
        return;
    }
    extra = json_pack("{s:{s:b}}", "_s", "staged", 0);
    if (u->w) {
        img_writer_abort(u->w);
        img_writer_destroy(u->w);
        u->w = NULL;
    }
    if (u->fd >= 0) {
        close(u->fd);
        u->fd = -1;
    }
    img_remove_data(u->s, u->id);
    rc = img_set_status_leased(u->s, u->id, u->status, IMG_QUEUED, extra);
    json_decref(extra);
    if (rc < 0 && rc != -ENOENT)
        st_warn("image %s: cannot reset to queued (%s): reconcile will", u->id, strerror(-rc));
    st_lease_release(u->s->meta, &img_kind, u->id, u->s->owner);
}

static void upload_free(struct img_upload *u)
{
    EVP_MD_CTX_free(u->md5);
    free(u->head);
    free(u);
}

/* Still ours?  Checked right before a step that others must not see twice. */
static int still_owner(struct img_upload *u)
{
    u->renewed_ms = 0;   /* force a renewal now */
    return renew_if_due(u);
}

int img_upload_begin(struct img_service *s, const struct st_auth_ctx *who, const char *id,
                     int64_t content_length, bool staging, struct img_upload **out, char *msg)
{
    struct st_record rec = { 0 };
    struct img_upload *u;
    int rc = img_get_visible(s, who, id, &rec);

    if (rc < 0)
        return rc;
    if (!img_rec_editable(rec.data, who)) {
        snprintf(msg, IMG_MSG_MAX, "You are not permitted to upload data to image %s", id);
        rc = -EPERM;
        goto out;
    }
    const char *status = st_rec_str(rec.data, "status");
    const char *fmt = st_rec_str(rec.data, "disk_format");
    if (!status || strcmp(status, IMG_QUEUED) != 0) {
        snprintf(msg, IMG_MSG_MAX, "Image %s is %s: data can only be uploaded to a queued image",
                 id, status ? status : "?");
        rc = -ECANCELED;
        goto out;
    }
    if (!fmt || !st_rec_str(rec.data, "container_format")) {
        snprintf(msg, IMG_MSG_MAX,
                 "Properties disk_format, container_format must be set prior to saving data");
        rc = -EINVAL;
        goto out;
    }
    if (content_length > (int64_t)s->max_image_size) {
        snprintf(msg, IMG_MSG_MAX, "Image of %lld bytes exceeds the limit of %llu bytes",
                 (long long)content_length, (unsigned long long)s->max_image_size);
        rc = -EFBIG;
        goto out;
    }
    if (!(u = calloc(1, sizeof(*u)))) {
        rc = -ENOMEM;
        goto out;
    }
    u->s = s;
    u->fd = -1;
    snprintf(u->id, sizeof(u->id), "%s", id);
    snprintf(u->disk_format, sizeof(u->disk_format), "%s", fmt);
    u->declared_len = content_length;
    u->to_file = staging || img_format_needs_conversion(fmt);
    u->op = staging ? IMG_OP_STAGE : IMG_OP_UPLOAD;
    u->status = staging ? IMG_UPLOADING : IMG_SAVING;
    u->renewed_ms = st_now_ms();

    /* Lease first, then the status: a crash in between leaves a queued image
     * with a stale lease, which reconcile simply drops. */
    rc = st_lease_acquire(s->meta, &img_kind, id, s->owner, u->op, u->renewed_ms, s->lease_ttl_ms);
    if (rc == -EBUSY)
        snprintf(msg, IMG_MSG_MAX, "Image %s is already being uploaded", id);
    if (rc < 0)
        goto fail;
    rc = img_set_status_leased(s, id, IMG_QUEUED, u->status, NULL);
    if (rc < 0) {
        if (rc == -ECANCELED)
            snprintf(msg, IMG_MSG_MAX, "Image %s changed state; upload refused", id);
        st_lease_release(s->meta, &img_kind, id, s->owner);
        goto fail;
    }
    /* The format checked below must be the one stored: a PATCH may have
     * changed it between our read and the status change. */
    st_record_cleanup(&rec);
    rc = st_meta_get(s->meta, &img_kind, id, &rec);
    const char *stored = rc == 0 ? st_rec_str(rec.data, "disk_format") : NULL;
    if (rc == 0 && (!stored || strcmp(stored, u->disk_format) != 0)) {
        snprintf(msg, IMG_MSG_MAX, "Image %s changed during the request; upload refused", id);
        rc = -ECANCELED;
    }
    if (rc < 0) {
        upload_undo(u);
        goto fail;
    }
    if (u->to_file) {
        char path[PATH_MAX];
        img_staging_path(s, id, NULL, path, sizeof(path));
        u->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (u->fd < 0) {
            rc = -errno;
            st_error("image %s: staging file %s: %s", id, path, strerror(errno));
        }
    } else {
        u->head = malloc(PROBE_BYTES);
        rc = u->head ? img_writer_create(s->images, id, content_length, s->max_image_size,
                                         &s->wcfg, &u->w)
                     : -ENOMEM;
    }
    if (rc == -EAGAIN)
        snprintf(msg, IMG_MSG_MAX, "Cannot store image %s now: every I/O buffer of imaged is "
                                   "held by other transfers ([imaged] io_buffers); try again "
                                   "later", id);
    else if (rc < 0)
        snprintf(msg, IMG_MSG_MAX, "Cannot store image %s: %s", id, strerror(-rc));
    if (rc < 0) {
        upload_undo(u);
        goto fail;
    }
    st_info("image %s: %s started (%s, %lld bytes declared)", id, u->op, u->disk_format,
            (long long)content_length);
    *out = u;
    u = NULL;
fail:
    if (u)
        upload_free(u);
out:
    st_record_cleanup(&rec);
    return rc;
}

static int expect_md5_hex(struct img_upload *u)
{
    /* Raw uploads: the writer hashes.  Staged data: hash it on the way to the file. */
    if (!u->to_file)
        return 0;
    u->md5 = EVP_MD_CTX_new();
    return u->md5 && EVP_DigestInit_ex(u->md5, EVP_md5(), NULL) ? 0 : -ENOMEM;
}

int img_upload_expect_md5(struct img_upload *u, const char *content_md5)
{
    size_t n = strlen(content_md5);

    if (n == 32 && strspn(content_md5, "0123456789abcdefABCDEF") == 32) {
        for (size_t i = 0; i <= n; i++)
            u->expected_md5[i] = (char)(content_md5[i] | (content_md5[i] >= 'A' ? 0x20 : 0));
        return expect_md5_hex(u);
    }
    unsigned char raw[32];
    if (n == 24 && EVP_DecodeBlock(raw, (const unsigned char *)content_md5, 24) == 18) {
        for (int i = 0; i < 16; i++)
            snprintf(u->expected_md5 + 2 * i, 3, "%02x", raw[i]);
        return expect_md5_hex(u);
    }
    return -EINVAL;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Raw uploads: the head is checked by qemu-img before anything is trusted —
 * a qcow2 (or any non-raw format) declared as raw is refused. */
static int probe_head(struct img_upload *u)
{
    char path[PATH_MAX];
    struct img_probe p;
    int fd, rc = 0;

    img_staging_path(u->s, u->id, ".head", path, sizeof(path));
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        rc = -errno;
    else if ((rc = write_all(fd, u->head, u->head_len)) == 0 && close(fd) < 0)
        rc = -errno;
    else if (rc < 0)
        close(fd);
    if (rc == 0)
        rc = img_probe_file(path, 30, &p, u->msg, sizeof(u->msg));
    unlink(path);
    if (rc == 0)
        rc = img_probe_check(&p, u->disk_format, UINT64_MAX, u->msg, sizeof(u->msg));
    if (rc == 0)
        rc = img_writer_write(u->w, u->head, u->head_len);
    u->probed = true;
    free(u->head);
    u->head = NULL;
    return rc;
}

int img_upload_data(struct img_upload *u, const char *buf, size_t len)
{
    int rc = renew_if_due(u);

    if (rc < 0)
        return rc;
    u->bytes += len;
    if (u->bytes > u->s->max_image_size ||
        (u->declared_len >= 0 && u->bytes > (uint64_t)u->declared_len)) {
        snprintf(u->msg, sizeof(u->msg), "Image data exceeds %s",
                 u->bytes > u->s->max_image_size ? "the size limit" : "the declared size");
        return -EFBIG;
    }
    if (u->to_file) {
        if (u->md5 && !EVP_DigestUpdate(u->md5, buf, len))
            return -EIO;
        return write_all(u->fd, buf, len);
    }
    if (!u->probed) {
        size_t take = PROBE_BYTES - u->head_len < len ? PROBE_BYTES - u->head_len : len;
        memcpy(u->head + u->head_len, buf, take);
        u->head_len += take;
        buf += take;
        len -= take;
        if (u->head_len < PROBE_BYTES)
            return 0;
        if ((rc = probe_head(u)) < 0)
            return rc;
    }
    return len ? img_writer_write(u->w, buf, len) : 0;
}

static int kill_image(struct img_upload *u, const char *why)
{
    json_t *extra;

    if (still_owner(u) < 0)
        return -EINVAL;
    extra = json_pack("{s:{s:s}}", "_s", "killed_reason", why);
    st_warn("image %s killed: %s", u->id, why);
    img_remove_data(u->s, u->id);
    img_set_status_leased(u->s, u->id, u->status, IMG_KILLED, extra);
    json_decref(extra);
    st_lease_release(u->s->meta, &img_kind, u->id, u->s->owner);
    return -EINVAL;
}

/* Raw upload finished: check what the client declared, protect the snapshot,
 * go active. */
static int finish_raw(struct img_upload *u, char *msg)
{
    char md5[33] = "", sha512[129] = "";
    uint64_t written = 0;
    int rc = 0;

    if (!u->probed)
        rc = probe_head(u);
    if (rc == 0)
        rc = img_writer_finish(u->w, &written, md5, sha512);
    else
        img_writer_abort(u->w);
    img_writer_destroy(u->w);
    u->w = NULL;
    if (rc < 0) {
        snprintf(msg, IMG_MSG_MAX, "%s", u->msg[0] ? u->msg : strerror(-rc));
        upload_undo(u);
        return rc;
    }
    if (u->declared_len >= 0 && written != (uint64_t)u->declared_len) {
        snprintf(msg, IMG_MSG_MAX, "Image size %llu does not match the declared %lld bytes",
                 (unsigned long long)written, (long long)u->declared_len);
        return kill_image(u, msg);
    }
    if (u->expected_md5[0] && strcmp(u->expected_md5, md5) != 0) {
        snprintf(msg, IMG_MSG_MAX, "Image checksum %s does not match the declared %s", md5,
                 u->expected_md5);
        return kill_image(u, msg);
    }
    rc = st_rbd_snap_protect(u->s->images, u->id, IMG_SNAP_NAME);
    if (rc == 0)
        rc = still_owner(u);   /* never go active on data another owner may undo */
    if (rc < 0) {
        snprintf(msg, IMG_MSG_MAX, "Cannot finish image %s: %s", u->id, strerror(-rc));
        upload_undo(u);
        return rc;
    }
    json_t *extra = json_pack("{s:I, s:I, s:s, s:s, s:s, s:{s:b}}", "size", (json_int_t)written,
                              "virtual_size", (json_int_t)written, "checksum", md5,
                              "os_hash_algo", "sha512", "os_hash_value", sha512, "_s", "rbd", 1);
    rc = extra ? img_set_status_leased(u->s, u->id, u->status, IMG_ACTIVE, extra) : -ENOMEM;
    json_decref(extra);
    if (rc < 0) {   /* deleted or reset behind our back: leave nothing behind */
        snprintf(msg, IMG_MSG_MAX, "Image %s changed during the upload", u->id);
        img_remove_data(u->s, u->id);
        st_lease_release(u->s->meta, &img_kind, u->id, u->s->owner);
        return rc;
    }
    st_lease_release(u->s->meta, &img_kind, u->id, u->s->owner);
    st_info("image %s: active, %llu bytes, md5 %s", u->id, (unsigned long long)written, md5);
    return 0;
}

/* The instance part of a lease owner ("<node>:<daemon>:<port>/<incarnation>"). */
static void instance_of(const char *owner, char *buf, size_t len)
{
    snprintf(buf, len, "%.*s", (int)strcspn(owner, "/"), owner);
}

/* Staged data complete: check the declared checksum, then either wait for
 * POST /import (stage) or convert and store it now (PUT /file of qcow2 etc.). */
static int finish_staged(struct img_upload *u, char *msg)
{
    struct img_service *s = u->s;
    int rc;

    close(u->fd);
    u->fd = -1;
    if (u->md5) {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        char hex[33];
        EVP_DigestFinal_ex(u->md5, d, &n);
        for (unsigned i = 0; i < n && i < 16; i++)
            snprintf(hex + 2 * i, 3, "%02x", d[i]);
        if (strcmp(hex, u->expected_md5) != 0) {
            snprintf(msg, IMG_MSG_MAX, "Image checksum %s does not match the declared %s", hex,
                     u->expected_md5);
            return kill_image(u, msg);
        }
    }
    if (strcmp(u->op, IMG_OP_STAGE) == 0) {
        /* Staged data is a local file: only this instance can import it. */
        char here[128];
        instance_of(s->owner, here, sizeof(here));
        json_t *extra = json_pack("{s:{s:b, s:I, s:s}}", "_s", "staged", 1, "staged_bytes",
                                  (json_int_t)u->bytes, "staged_on", here);
        rc = extra ? still_owner(u) : -ENOMEM;
        /* stays "uploading" until POST /import */
        if (rc == 0)
            rc = img_set_status_leased(s, u->id, IMG_UPLOADING, IMG_UPLOADING, extra);
        json_decref(extra);
        if (rc < 0)
            upload_undo(u);
        else
            st_lease_release(s->meta, &img_kind, u->id, s->owner);
        return rc;
    }
    /* Conversion can take long: a worker runs it while the pool renews our
     * lease, and this request waits for the outcome. */
    rc = img_ingest_wait(s, u->id, msg);
    if (rc == -EAGAIN || rc == -ESHUTDOWN) {
        snprintf(msg, IMG_MSG_MAX, "Image %s cannot be converted now; try again later", u->id);
        upload_undo(u);
    }
    return rc;
}

int img_upload_end(struct img_upload *u, int err, json_t **out, char *msg)
{
    struct img_service *s = u->s;
    char id[ST_META_ID_MAX + 1];
    int rc = err;

    snprintf(id, sizeof(id), "%s", u->id);
    if (err < 0) {
        if (u->msg[0])
            snprintf(msg, IMG_MSG_MAX, "%s", u->msg);
        st_info("image %s: %s abandoned (%s)", id, u->op, strerror(-err));
        upload_undo(u);
    } else if (!u->to_file) {
        rc = finish_raw(u, msg);
    } else {
        rc = finish_staged(u, msg);
    }
    upload_free(u);
    if (rc == 0 && out) {
        struct st_record rec = { 0 };
        rc = st_meta_get(s->meta, &img_kind, id, &rec);
        if (rc == 0)
            *out = json_incref(rec.data);
        st_record_cleanup(&rec);
    }
    return rc;
}

/* ---- staged files → RBD ---- */

static int copy_file_to_rbd(struct img_service *s, const char *id, const char *path,
                            uint64_t *size, char *md5, char *sha512, char *msg)
{
    struct img_writer *w = NULL;
    struct stat st;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc;

    if (fd < 0 || fstat(fd, &st) < 0) {
        rc = -errno;
        snprintf(msg, IMG_MSG_MAX, "Cannot read the staged data of image %s", id);
        goto out;
    }
    if (!(buf = malloc(COPY_BLOCK))) {
        rc = -ENOMEM;
        goto out;
    }
    rc = img_writer_create(s->images, id, st.st_size, s->max_image_size, &s->wcfg, &w);
    while (rc == 0) {
        ssize_t n = read(fd, buf, COPY_BLOCK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : 0;
            break;
        }
        rc = img_writer_write(w, buf, (size_t)n);
    }
    if (rc == 0)
        rc = img_writer_finish(w, size, md5, sha512);
    else if (w)
        img_writer_abort(w);
    if (rc < 0)
        snprintf(msg, IMG_MSG_MAX, "Cannot store image %s: %s", id, strerror(-rc));
out:
    img_writer_destroy(w);
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

int img_ingest_staged(struct img_service *s, const char *id, char *msg)
{
    struct st_record rec = { 0 };
    char path[PATH_MAX], raw[PATH_MAX], md5[33], sha512[129];
    struct img_probe p;
    uint64_t size = 0;
    int rc = st_meta_get(s->meta, &img_kind, id, &rec);

    if (rc < 0)
        return rc;
    const char *status = st_rec_str(rec.data, "status");
    char fmt[32];
    const char *declared = st_rec_str(rec.data, "disk_format");
    snprintf(fmt, sizeof(fmt), "%s", declared ? declared : "");
    char from[32];
    snprintf(from, sizeof(from), "%s", status ? status : "");
    json_t *task_of = json_incref(rec.data); /* whose import task the outcome goes to */
    st_record_cleanup(&rec);

    img_staging_path(s, id, NULL, path, sizeof(path));
    img_staging_path(s, id, ".raw", raw, sizeof(raw));
    rc = img_probe_file(path, 60, &p, msg, IMG_MSG_MAX);
    if (rc == 0)
        rc = img_probe_check(&p, fmt, s->max_virtual_size, msg, IMG_MSG_MAX);
    const char *src = path;
    if (rc == 0 && strcmp(p.format, "raw") != 0) {
        rc = img_convert_to_raw_file(path, p.format, raw, s->convert_timeout_s, msg, IMG_MSG_MAX);
        src = raw;
    }
    if (rc == 0) {   /* a resumed import may find its earlier, partial RBD image */
        rc = st_rbd_remove(s->images, id);
        rc = rc == -ENOENT ? 0 : rc;
    }
    if (rc == 0)
        rc = copy_file_to_rbd(s, id, src, &size, md5, sha512, msg);
    if (rc == 0)
        rc = st_rbd_snap_protect(s->images, id, IMG_SNAP_NAME);
    if (rc == 0) {
        bool converted = strcmp(p.format, "raw") != 0;
        /* Stored data is raw: size and hashes describe what a download returns. */
        json_t *extra = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:{s:b, s:b, s:s}}",
                                  "size", (json_int_t)size, "virtual_size", (json_int_t)size,
                                  "checksum", md5, "os_hash_algo", "sha512",
                                  "os_hash_value", sha512,
                                  "disk_format", converted ? "raw" : fmt,
                                  "_s", "rbd", 1, "staged", 0, "source_format", p.format);
        rc = extra ? img_import_outcome(task_of, 0, NULL, extra) : -ENOMEM;
        if (rc == 0)
            rc = img_set_status_leased(s, id, from, IMG_ACTIVE, extra);
        json_decref(extra);
    }
    unlink(path);
    unlink(raw);
    if (rc < 0) {
        const char *why = msg[0] ? msg : strerror(-rc);
        json_t *extra = json_pack("{s:{s:b, s:s}}", "_s", "staged", 0, "last_error", why);
        st_warn("image %s: import failed: %s", id, why);
        st_rbd_remove(s->images, id);
        if (img_import_outcome(task_of, rc, why, extra) == 0)
            img_set_status_leased(s, id, from, IMG_QUEUED, extra);
        json_decref(extra);
        json_decref(task_of);
        return rc;
    }
    json_decref(task_of);
    st_info("image %s: active from %s data, %llu bytes raw", id, p.format,
            (unsigned long long)size);
    return 0;
}

struct import_job {
    struct img_service *s;
    char id[ST_META_ID_MAX + 1];
    /* a waiting request (img_ingest_wait), or none (POST /import) */
    bool waited;
    bool done;
    int rc;
    char msg[IMG_MSG_MAX];
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static void import_job(void *arg)
{
    struct import_job *j = arg;
    int rc = img_ingest_staged(j->s, j->id, j->msg);

    if (!j->waited) {
        free(j);
        return;
    }
    pthread_mutex_lock(&j->lock);
    j->rc = rc;
    j->done = true;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
}

/* Dropped at shutdown before it ran (the lease stays for the next start's
 * reconcile): a waiting request is told so, and frees the job itself. */
static void import_drop(void *arg)
{
    struct import_job *j = arg;

    if (!j->waited) {
        free(j);
        return;
    }
    pthread_mutex_lock(&j->lock);
    j->rc = -ESHUTDOWN;
    snprintf(j->msg, sizeof(j->msg),
             "the image service is stopping; the import resumes "
             "when it starts again");
    j->done = true;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
}

static int import_submit(struct img_service *s, const char *id, struct import_job **waiter)
{
    struct import_job *j = calloc(1, sizeof(*j));
    int rc;

    if (!j)
        return -ENOMEM;
    j->s = s;
    snprintf(j->id, sizeof(j->id), "%s", id);
    if (waiter) {
        j->waited = true;
        pthread_mutex_init(&j->lock, NULL);
        pthread_cond_init(&j->cond, NULL);
        *waiter = j;
    }
    rc = st_workpool_submit_leased(s->workers, s->meta, &img_kind, id, s->owner, s->lease_ttl_ms,
                                   import_job, import_drop, j);
    if (rc < 0)
        free(j);
    return rc;
}

int img_import_submit(struct img_service *s, const char *id)
{
    return import_submit(s, id, NULL);
}

int img_ingest_wait(struct img_service *s, const char *id, char *msg)
{
    struct import_job *j = NULL;
    int rc = import_submit(s, id, &j);

    if (rc < 0)
        return rc;
    pthread_mutex_lock(&j->lock);
    while (!j->done)
        pthread_cond_wait(&j->cond, &j->lock);
    pthread_mutex_unlock(&j->lock);
    rc = j->rc;
    snprintf(msg, IMG_MSG_MAX, "%s", j->msg);
    pthread_cond_destroy(&j->cond);
    pthread_mutex_destroy(&j->lock);
    free(j);
    return rc;
}

/* The members an import starts with: Glance's properties and the task that
 * GET /v2/images/{id}/tasks shows (kept in the record's private part). */
static json_t *import_task_new(const struct st_auth_ctx *who, const char *method)
{
    char tid[37], now[32];
    uuid_t u;

    uuid_generate_random(u);
    uuid_unparse_lower(u, tid);
    img_now_iso(now, sizeof(now));
    return json_pack("{s:s, s:s, s:{s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:{s:s}}}}}",
                     "os_glance_importing_to_stores", IMG_STORE_ID, "os_glance_failed_import", "",
                     "_s", "import_task", "id", tid, "status", "processing", "message", "",
                     "owner", who->project_id, "user_id", who->user_id, "created_at", now,
                     "updated_at", now, "input", "method", "name", method);
}

int img_import_outcome(const json_t *rec, int rc, const char *msg, json_t *extra)
{
    json_t *task = json_object_get(json_object_get(rec, "_s"), "import_task");
    const char *st = st_rec_str(task, "status");
    char now[32];

    if (!st || strcmp(st, "processing") != 0)
        return 0;
    task = json_deep_copy(task);
    if (!task)
        return -ENOMEM;
    img_now_iso(now, sizeof(now));
    json_object_set_new(task, "status", json_string(rc < 0 ? "failure" : "success"));
    json_object_set_new(task, "message", json_string(rc < 0 && msg ? msg : ""));
    json_object_set_new(task, "updated_at", json_string(now));
    if (json_object_set_new(json_object_get(extra, "_s"), "import_task", task) < 0 ||
        json_object_set_new(extra, "os_glance_importing_to_stores", json_string("")) < 0 ||
        json_object_set_new(extra, "os_glance_failed_import",
                            json_string(rc < 0 ? IMG_STORE_ID : "")) < 0)
        return -ENOMEM;
    return 0;
}

int img_import(struct img_service *s, const struct st_auth_ctx *who, const char *id,
               const char *method, char *msg)
{
    struct st_record rec = { 0 };
    int rc;

    if (!method || strcmp(method, "glance-direct") != 0) {
        snprintf(msg, IMG_MSG_MAX, "Import method '%s' is not supported (glance-direct is)",
                 method ? method : "");
        return -EINVAL;
    }
    rc = img_get_visible(s, who, id, &rec);
    if (rc < 0)
        return rc;
    bool editable = img_rec_editable(rec.data, who);
    const char *status = st_rec_str(rec.data, "status");
    json_t *priv = json_object_get(rec.data, "_s");
    bool staged = status && strcmp(status, IMG_UPLOADING) == 0 &&
                  json_is_true(json_object_get(priv, "staged"));
    char here[128], there[128];
    instance_of(s->owner, here, sizeof(here));
    const char *on = json_string_value(json_object_get(priv, "staged_on"));
    snprintf(there, sizeof(there), "%s", on ? on : "");
    st_record_cleanup(&rec);
    if (!editable) {
        snprintf(msg, IMG_MSG_MAX, "You are not permitted to import image %s", id);
        return -EPERM;
    }
    if (staged && there[0] && strcmp(there, here) != 0) {
        snprintf(msg, IMG_MSG_MAX, "Image %s was staged on %s; import it through that instance",
                 id, there);
        return -ECANCELED;
    }
    if (!staged) {
        snprintf(msg, IMG_MSG_MAX, "Image %s has no staged data to import", id);
        return -ECANCELED;
    }
    json_t *task = import_task_new(who, method);
    if (!task)
        return -ENOMEM;
    rc = st_lease_acquire(s->meta, &img_kind, id, s->owner, IMG_OP_IMPORT, st_now_ms(),
                          s->lease_ttl_ms);
    if (rc == 0) {
        rc = img_set_status_leased(s, id, IMG_UPLOADING, IMG_IMPORTING, task);
        if (rc == 0 && (rc = img_import_submit(s, id)) < 0)
            img_set_status_leased(s, id, IMG_IMPORTING, IMG_UPLOADING, NULL);
        if (rc < 0)
            st_lease_release(s->meta, &img_kind, id, s->owner);
    }
    json_decref(task);
    if (rc == -EBUSY || rc == -ECANCELED)
        snprintf(msg, IMG_MSG_MAX, "Image %s is already being imported", id);
    return rc;
}

/* ---- downloads ---- */

struct img_download {
    struct img_reader *r;
};

int img_download_open(struct img_service *s, const struct st_auth_ctx *who, const char *id,
                      uint64_t offset, int64_t len, struct img_download **out,
                      uint64_t *total_size, json_t **record)
{
    struct st_record rec = { 0 };
    struct img_download *dl = NULL;
    int rc = img_get_visible(s, who, id, &rec);

    if (rc < 0)
        return rc;
    const char *status = st_rec_str(rec.data, "status");
    uint64_t size = (uint64_t)json_integer_value(json_object_get(rec.data, "size"));
    if (status && strcmp(status, IMG_DEACTIVATED) == 0 && !who->is_admin) {
        rc = -EPERM;
        goto out;
    }
    if (!status || (strcmp(status, IMG_ACTIVE) != 0 && strcmp(status, IMG_DEACTIVATED) != 0)) {
        rc = -ENODATA;
        goto out;
    }
    if (offset > size) {
        rc = -ERANGE;
        goto out;
    }
    if (len < 0 || (uint64_t)len > size - offset)
        len = (int64_t)(size - offset);
    if (!(dl = calloc(1, sizeof(*dl)))) {
        rc = -ENOMEM;
        goto out;
    }
    rc = img_reader_open(s->images, id, IMG_SNAP_NAME, offset, (uint64_t)len, s->iobufs,
                         s->wcfg.pool_wait_ms, &dl->r);
    if (rc < 0) {
        st_error("image %s: cannot read its RBD data: %s", id, strerror(-rc));
        free(dl);
        goto out;
    }
    *out = dl;
    *total_size = size;
    if (record)
        *record = json_incref(rec.data);
out:
    st_record_cleanup(&rec);
    return rc;
}

ssize_t img_download_read(struct img_download *dl, char *buf, size_t max)
{
    return img_reader_read(dl->r, buf, max);
}

void img_download_close(struct img_download *dl)
{
    if (!dl)
        return;
    img_reader_close(dl->r);
    free(dl);
}
