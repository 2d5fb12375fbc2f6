/* nameidx.c — name claims: record id = hex SHA-256 of "<scope>\n<name>", data
 * {"owner": id, "scope", "name", "claimed_ms"}.  Create-exclusive wins races;
 * take-over of a dead owner's claim and release are compare-and-swap updates. */
#include "strata/nameidx.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

static void claim_id(const char *scope, const char *name, char id[2 * SHA256_DIGEST_LENGTH + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;

    memset(md, 0, sizeof(md));
    if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1) {
        EVP_DigestUpdate(c, scope, strlen(scope));
        EVP_DigestUpdate(c, "\n", 1);
        EVP_DigestUpdate(c, name, strlen(name));
        EVP_DigestFinal_ex(c, md, &n);
    }
    EVP_MD_CTX_free(c);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(id + 2 * i, 3, "%02x", md[i]);
}

static const char *owner_of(const struct st_record *r)
{
    const char *o = json_string_value(json_object_get(r->data, "owner"));
    return o ? o : "";
}

bool st_name_record_alive(const char *owner_id, void *arg)
{
    const struct st_name_records *a = arg;
    struct st_record r = { 0 };
    int rc = st_meta_get(a->meta, a->kind, owner_id, &r);

    st_record_cleanup(&r);
    return rc != -ENOENT;
}

int st_name_claim(struct st_meta *m, const struct st_meta_kind *k, const char *scope,
                  const char *name, const char *owner_id, st_name_alive_fn alive, void *arg,
                  int64_t now_ms)
{
    char id[2 * SHA256_DIGEST_LENGTH + 1];
    struct st_record rec = { 0 };
    json_t *data;
    int rc;

    if (!m || !k || !scope || !name || !owner_id || !*owner_id)
        return -EINVAL;
    claim_id(scope, name, id);
    data = json_pack("{s:s, s:s, s:s, s:I}", "owner", owner_id, "scope", scope, "name", name,
                     "claimed_ms", (json_int_t)now_ms);
    if (!data)
        return -ENOMEM;
    for (int attempt = 0; attempt < 3; attempt++) {
        rc = st_meta_create(m, k, id, data, NULL);
        if (rc != -EEXIST)
            break;
        rc = st_meta_get(m, k, id, &rec);
        if (rc == -ENOENT)
            continue; /* released meanwhile: try again */
        if (rc < 0)
            break;
        json_int_t at = json_integer_value(json_object_get(rec.data, "claimed_ms"));
        if (strcmp(owner_of(&rec), owner_id) == 0) {
            rc = 0;
        } else if (now_ms - at >= ST_NAME_GRACE_MS && alive && !alive(owner_of(&rec), arg)) {
            /* The holder is gone: take the claim over, unless someone else
             * changed it since we read it. */
            rc = st_meta_update(m, k, id, rec.version, data, NULL);
            if (rc == -ECANCELED || rc == -ENOENT) {
                st_record_cleanup(&rec);
                continue;
            }
        } else {
            rc = -EEXIST;
        }
        st_record_cleanup(&rec);
        break;
    }
    json_decref(data);
    return rc;
}

int st_name_lookup(struct st_meta *m, const struct st_meta_kind *k, const char *scope,
                   const char *name, char *owner, size_t len)
{
    char id[2 * SHA256_DIGEST_LENGTH + 1];
    struct st_record rec = { 0 };
    int rc;

    if (!m || !k || !scope || !name || !owner)
        return -EINVAL;
    claim_id(scope, name, id);
    rc = st_meta_get(m, k, id, &rec);
    if (rc == 0) {
        snprintf(owner, len, "%s", owner_of(&rec));
        st_record_cleanup(&rec);
    }
    return rc;
}

int st_name_release(struct st_meta *m, const struct st_meta_kind *k, const char *scope,
                    const char *name, const char *owner_id)
{
    char id[2 * SHA256_DIGEST_LENGTH + 1];
    struct st_record rec = { 0 };
    int rc;

    if (!m || !k || !scope || !name || !owner_id)
        return -EINVAL;
    claim_id(scope, name, id);
    for (int attempt = 0; attempt < 3; attempt++) {
        rc = st_meta_get(m, k, id, &rec);
        if (rc == -ENOENT)
            return 0;
        if (rc < 0)
            return rc;
        bool ours = strcmp(owner_of(&rec), owner_id) == 0;
        uint64_t v = rec.version;
        st_record_cleanup(&rec);
        if (!ours)
            return 0;
        rc = st_meta_delete(m, k, id, v);
        if (rc != -ECANCELED)
            return rc == -ENOENT ? 0 : rc;
    }
    return -ECANCELED;
}
