/* vol_backup_restore.c — a backup back into a volume (a new one or an existing
 * one, leased, verified) and a backup's record out and in (export/import). */
#include "vol_backup_internal.h"

#include <openssl/evp.h>
#include <rbd/librbd.h>
#include <unistd.h>

#include "bk_repo.h"

/* ---- restore ---- */

int vs_backup_claim(struct vol_service *s, const struct st_auth_ctx *who, const char *backup_id,
                    const char *volume_id, int64_t *size_gb, char *msg)
{
    static const char *const from[] = { "available", NULL };
    json_t *rec = NULL;
    int rc = vs_get_data(s, &backup_kind, who, backup_id, &rec);

    if (rc == -ENOENT)
        snprintf(msg, VOL_MSG_MAX, "Backup %s could not be found.", backup_id);
    if (rc < 0)
        return rc;
    *size_gb = json_integer_value(json_object_get(rec, "size"));
    json_decref(rec);
    struct transition t = { from, "restoring", NULL, "", NULL, NULL };
    json_t *extra = json_pack("{s:{s:s}, s:n}", "_s", "restoring_volume", volume_id,
                              "fail_reason");
    if (!extra)
        return -ENOMEM;
    t.extra = extra;
    rc = vs_transition(s, &backup_kind, backup_id, false, &t);
    json_decref(extra);
    if (rc == -ECANCELED) {
        snprintf(msg, VOL_MSG_MAX, "Invalid backup: Backup status must be available, but is %s.",
                 t.cur);
        rc = -EINVAL;
    }
    return rc;
}

/* Unfenced: a restore holds the volume's lease, not the backup's. */
void vs_backup_unclaim(struct vol_service *s, const char *backup_id, const char *fail)
{
    static const char *const from[] = { "restoring", NULL };
    json_t *extra = json_pack("{s:{s:n}, s:s?}", "_s", "restoring_volume", "fail_reason", fail);
    struct transition t = { from, "available", extra, "", NULL, NULL };
    int rc = extra ? vs_transition(s, &backup_kind, backup_id, false, &t) : -ENOMEM;

    if (rc < 0)
        st_warn("backup %s: not moved back to available: %s", backup_id, strerror(-rc));
    json_decref(extra);
}

static int restore_into(struct vol_service *s, const char *volume_id, const char *backup_id,
                        bool fresh, char *msg)
{
    json_t *rec = NULL, *m = NULL;
    int rc = vs_get_data(s, &backup_kind, &bk_admin_ctx, backup_id, &rec);

    if (rc == 0 && (rc = bk_repo_get_manifest(s->repo, bk_ref_id(rec), &m)) < 0)
        snprintf(msg, VOL_MSG_MAX, "backup %s: its manifest cannot be read: %s", backup_id,
                 strerror(-rc));
    if (rc == 0)
        rc = vs_restore_data(s, m, backup_id, volume_id, fresh, msg);
    if (rc == 0)
        vs_debug_pause(s, "restore", volume_id);
    if (rc < 0)
        st_warn("backup %s: restore onto volume %s failed: %s", backup_id, volume_id,
                msg[0] ? msg : strerror(-rc));
    vs_backup_unclaim(s, backup_id, rc < 0 ? (msg[0] ? msg : strerror(-rc)) : NULL);
    json_decref(m);
    json_decref(rec);
    return rc;
}

int vs_restore_new_volume(struct vol_service *s, const char *volume_id, const char *backup_id,
                          char *msg)
{
    int rc = vs_step(s, &vol_kind, volume_id, "creating", "restoring-backup", NULL);

    if (rc == 0)
        rc = restore_into(s, volume_id, backup_id, true, msg);
    else
        vs_backup_unclaim(s, backup_id, "the new volume vanished");
    return rc;
}

void vs_job_restore(struct vol_service *s, const char *id)
{
    struct st_record rec = { 0 };
    char msg[VOL_MSG_MAX] = "", bid[40];

    if (st_meta_get(s->meta, &vol_kind, id, &rec) < 0)
        return;
    snprintf(bid, sizeof(bid), "%s", bk_priv_str(rec.data, "restore_backup"));
    st_record_cleanup(&rec);
    int rc = restore_into(s, id, bid, false, msg);
    vs_step(s, &vol_kind, id, "restoring-backup", rc == 0 ? "available" : "error_restoring",
            json_pack("{s:{s:n}}", "_s", "restore_backup"));
}

static int restore_existing(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                            const char *volume_id, char *msg)
{
    static const char *const from[] = { "available", NULL };
    json_t *vol = NULL;
    int64_t need = 0;
    int rc = vs_get_data(s, &vol_kind, who, volume_id, &vol);

    if (rc == -ENOENT)
        snprintf(msg, VOL_MSG_MAX, "Volume %s could not be found.", volume_id);
    if (rc < 0)
        return rc;
    int64_t have = json_integer_value(json_object_get(vol, "size"));
    json_decref(vol);
    if ((rc = vs_lease_for(s, &vol_kind, volume_id, "restore", msg)) < 0)
        return rc;
    json_t *extra = json_pack("{s:{s:s}}", "_s", "restore_backup", id);
    struct transition t = { from, "restoring-backup", extra, "", NULL, NULL };
    rc = extra ? vs_transition(s, &vol_kind, volume_id, true, &t) : -ENOMEM;
    json_decref(extra);
    if (rc == -ECANCELED) {
        snprintf(msg, VOL_MSG_MAX, "Invalid volume: Volume to be restored to must be available, "
                 "but the current status is \"%s\".", t.cur);
        rc = -EINVAL;
    }
    if (rc == 0 && (rc = vs_backup_claim(s, who, id, volume_id, &need, msg)) == 0 &&
        need > have) {
        snprintf(msg, VOL_MSG_MAX, "Invalid volume: volume size %lld GB is smaller than the "
                 "backup's %lld GB.", (long long)have, (long long)need);
        vs_backup_unclaim(s, id, NULL);
        rc = -EINVAL;
    }
    if (rc == 0 && (rc = vs_submit(s, JOB_RESTORE, volume_id)) < 0)
        vs_backup_unclaim(s, id, NULL);
    if (rc < 0) {
        if (t.cur[0] && strcmp(t.cur, "available") == 0)
            vs_step(s, &vol_kind, volume_id, "restoring-backup", "available", NULL);
        st_lease_release(s->meta, &vol_kind, volume_id, s->owner);
    }
    return rc;
}

/* The backup's record if it is available (what restore and export need):
 * 0; -EINVAL with Cinder's message otherwise; -ENOENT. */
static int get_available(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                         json_t **rec, char *msg)
{
    int rc = vs_get_data(s, &backup_kind, who, id, rec);

    if (rc == 0 && strcmp(st_rec_str(*rec, "status"), "available") != 0) {
        snprintf(msg, VOL_MSG_MAX, "Invalid backup: Backup status must be available, but is %s.",
                 st_rec_str(*rec, "status"));
        json_decref(*rec);
        *rec = NULL;
        rc = -EINVAL;
    }
    return rc;
}

int bk_restore(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               const char *volume_id, const char *name, json_t **out, char *msg)
{
    json_t *rec = NULL, *vol = NULL;
    char vname[128];
    int rc = get_available(s, who, id, &rec, msg);

    if (rc < 0)
        return rc;
    json_decref(rec);
    if (volume_id) {
        if ((rc = restore_existing(s, who, id, volume_id, msg)) < 0)
            return rc;
        rc = vs_get_data(s, &vol_kind, who, volume_id, &vol);
    } else {
        snprintf(vname, sizeof(vname), "%s", name ? name : "");
        if (!name)
            snprintf(vname, sizeof(vname), "restore_backup_%s", id);
        struct vol_create_req req = { .name = vname, .backup_id = id };
        rc = vol_create(s, who, &req, &vol, msg);
    }
    if (rc < 0)
        return rc;
    *out = json_pack("{s:s, s:s, s:s?}", "backup_id", id, "volume_id", st_rec_str(vol, "id"),
                     "volume_name", st_rec_str(vol, "name"));
    json_decref(vol);
    return *out ? 0 : -ENOMEM;
}

/* ---- export / import ---- */

static const char *const exported[] = { "id", "name", "description", "volume_id", "size",
                                        "object_count", "is_incremental", "parent_id",
                                        "container", "created_at", "data_timestamp",
                                        "snapshot_id", NULL };

int bk_export(struct vol_service *s, const struct st_auth_ctx *who, const char *id, json_t **out,
              char *msg)
{
    json_t *rec = NULL;
    int rc = get_available(s, who, id, &rec, msg);

    if (rc < 0)
        return rc;
    json_t *doc = json_object();
    for (const char *const *k = exported; *k; k++)
        if (json_object_get(rec, *k))
            json_object_set(doc, *k, json_object_get(rec, *k));
    json_object_set_new(doc, "ref_id", json_string(bk_ref_id(rec)));
    json_object_set_new(doc, "chunk_project", json_string(bk_chunk_ns(rec)));
    json_object_set_new(doc, "repository", json_string(bk_store_describe(bk_repo_store(s->repo))));
    json_decref(rec);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (!text)
        return -ENOMEM;
    size_t n = strlen(text);
    unsigned char *b64 = malloc(4 * ((n + 2) / 3) + 1);
    if (b64)
        EVP_EncodeBlock(b64, (const unsigned char *)text, (int)n);
    free(text);
    if (!b64)
        return -ENOMEM;
    *out = json_pack("{s:s, s:s}", "backup_service", EXPORT_SERVICE, "backup_url", (char *)b64);
    free(b64);
    return *out ? 0 : -ENOMEM;
}

static json_t *decode_record(const char *url)
{
    size_t n = strlen(url);
    unsigned char *raw = malloc(3 * (n / 4) + 4);
    json_t *doc = NULL;

    if (!raw || n % 4 != 0 || n > (1 << 20)) {
        free(raw);
        return NULL;
    }
    int len = EVP_DecodeBlock(raw, (const unsigned char *)url, (int)n);
    while (len > 0 && n > 0 && url[n - 1] == '=') {   /* DecodeBlock counts padding */
        len--;
        n--;
    }
    if (len > 0)
        doc = json_loadb((const char *)raw, (size_t)len, 0, NULL);
    free(raw);
    if (doc && !json_is_object(doc)) {
        json_decref(doc);
        doc = NULL;
    }
    return doc;
}

/* Reference every chunk of manifest m for the imported backup ref. */
static int ref_manifest(struct vol_service *s, const json_t *m, const char *ns, const char *ref,
                        char *msg)
{
    const json_t *chunks = json_object_get(m, "chunks"), *e;
    struct bk_ref refs[64];
    size_t n = 0, i;
    int rc = 0;

    json_array_foreach(chunks, i, e) {
        const char *sha = json_string_value(json_array_get(e, 1));
        if (!sha || strlen(sha) != BK_SHA_HEX - 1)
            return -EBADMSG;
        memcpy(refs[n++].sha, sha, BK_SHA_HEX);
        if (n == 64 || i + 1 == json_array_size(chunks)) {
            if ((rc = bk_repo_ref(s->repo, ns, ref, refs, n)) < 0)
                return rc;
            for (size_t k = 0; k < n; k++)
                if (refs[k].absent) {
                    snprintf(msg, VOL_MSG_MAX, "Invalid backup: chunk %s of the backup is "
                             "missing from the repository.", refs[k].sha);
                    return -EINVAL;
                }
            n = 0;
        }
    }
    return 0;
}

int bk_import(struct vol_service *s, const struct st_auth_ctx *who, const char *service,
              const char *url, json_t **out, char *msg)
{
    json_t *doc = NULL, *m = NULL, *rec = NULL;
    char ref[37], now[40];
    int rc = -EINVAL;

    if (strcmp(service, EXPORT_SERVICE) != 0) {
        snprintf(msg, VOL_MSG_MAX, "Invalid backup: backup_service %.64s is not supported "
                 "(this is %s).", service, EXPORT_SERVICE);
        return -EINVAL;
    }
    doc = decode_record(url);
    const char *id = doc ? st_rec_str(doc, "id") : NULL;
    const char *src = doc ? st_rec_str(doc, "ref_id") : NULL,
               *ns = doc ? st_rec_str(doc, "chunk_project") : NULL;
    if (!id || !src || !ns || strlen(id) > 36) {
        snprintf(msg, VOL_MSG_MAX, "Invalid backup: backup_url is not a backup record.");
        goto out;
    }
    struct st_record existing = { 0 };
    rc = st_meta_get(s->meta, &backup_kind, id, &existing);
    st_record_cleanup(&existing);
    if (rc != -ENOENT) {
        snprintf(msg, VOL_MSG_MAX, "Invalid backup: Backup %s already exists.", id);
        rc = rc == 0 ? -EINVAL : rc;
        goto out;
    }
    if ((rc = bk_repo_get_manifest(s->repo, src, &m)) < 0) {
        snprintf(msg, VOL_MSG_MAX, "Invalid backup: its manifest is not in this repository (%s).",
                 strerror(-rc));
        rc = -EINVAL;
        goto out;
    }
    /* its own references and manifest copy, so either side may delete its
     * record without taking the other's chunks */
    vs_new_id(ref);
    vs_now_ts(now, sizeof(now));
    rec = json_deep_copy(doc);
    json_object_del(rec, "ref_id");
    json_object_del(rec, "chunk_project");
    json_object_del(rec, "repository");
    json_t *mine = json_pack("{s:s, s:s, s:s, s:s, s:s, s:n, s:o, s:s}", "status", "creating",
                             "project_id", who->project_id, "user_id", who->user_id,
                             "availability_zone", s->az, "updated_at", now, "fail_reason",
                             "metadata", json_object(), "progress", "100%");
    json_t *priv = json_pack("{s:s, s:s, s:b}", "ref_id", ref, "chunk_project", ns, "snap_kept", 0);
    rc = rec && mine && priv && json_object_update(rec, mine) == 0 &&
                 json_object_set(rec, "_s", priv) == 0
             ? 0
             : -ENOMEM;
    json_decref(mine);
    json_decref(priv);
    if (rc < 0)
        goto out;
    /* leased: an import cut short by a crash is undone by reconcile */
    if ((rc = st_meta_create_leased(s->meta, &backup_kind, id, rec, s->owner, "create",
                                    st_now_ms(), s->ttl_ms, NULL)) < 0)
        goto out;
    rc = ref_manifest(s, m, ns, ref, msg);
    if (rc == 0 && (rc = bk_repo_put_manifest(s->repo, ref, m)) == 0)
        rc = vs_step(s, &backup_kind, id, "creating", "available", NULL);
    if (rc < 0) {
        bk_repo_unref_all(s->repo, ns, ref, NULL);
        st_meta_delete(s->meta, &backup_kind, id, 0);
        goto out;
    }
    st_lease_release(s->meta, &backup_kind, id, s->owner);
    *out = json_pack("{s:s, s:s?}", "id", id, "name", st_rec_str(rec, "name"));
    rc = *out ? 0 : -ENOMEM;
    st_info("backup %s imported (references %s)", id, ref);
out:
    json_decref(rec);
    json_decref(m);
    json_decref(doc);
    return rc;
}
