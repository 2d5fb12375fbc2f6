/* cephkey.c — find the agent's cephx key: librados' "key" option, else the
 * [client.<user>] section of the keyring files it lists (parsed with inih),
 * decoded from base64 with OpenSSL.  The key is never logged. */
#include "cephkey.h"

#include <errno.h>
#include <ini.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

int cephkey_decode(const char *b64, unsigned char *key, size_t *len)
{
    unsigned char buf[CEPHKEY_MAX + 4];
    size_t n = strlen(b64);
    int out;

    if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof(buf))
        return -EINVAL;
    out = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)n);
    if (out < 0)
        return -EINVAL;
    /* EVP_DecodeBlock counts the '=' padding as zero bytes */
    for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
        out--;
    if (out <= 0 || (size_t)out > CEPHKEY_MAX)
        return -EINVAL;
    memcpy(key, buf, (size_t)out);
    *len = (size_t)out;
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

struct finder {
    char section[160];
    char key[CEPHKEY_MAX * 2];
    int found;
};

static int on_entry(void *arg, const char *section, const char *name, const char *value)
{
    struct finder *f = arg;

    /* the first "key" only: inih reports an indented line after it (the caps
     * lines ceph-authtool writes) as a continuation of the same name */
    if (!f->found && strcmp(section, f->section) == 0 && strcmp(name, "key") == 0) {
        snprintf(f->key, sizeof(f->key), "%s", value);
        f->found = 1;
    }
    return 1;
}

int cephkey_read(rados_t cluster, const char *user, unsigned char *key, size_t *len)
{
    struct finder f = { .found = 0 };
    char opt[1024] = "";
    int rc = -ENOENT;

    snprintf(f.section, sizeof(f.section), "client.%s", user);
    if (rados_conf_get(cluster, "key", opt, sizeof(opt)) == 0 && opt[0]) {
        rc = cephkey_decode(opt, key, len);
        OPENSSL_cleanse(opt, sizeof(opt));
        return rc;
    }
    if (rados_conf_get(cluster, "keyring", opt, sizeof(opt)) < 0)
        return -ENOENT;
    for (char *save = NULL, *p = strtok_r(opt, ",; ", &save); p && !f.found;
         p = strtok_r(NULL, ",; ", &save))
        ini_parse(p, on_entry, &f);   /* missing files in the default list are normal */
    if (f.found)
        rc = cephkey_decode(f.key, key, len);
    OPENSSL_cleanse(f.key, sizeof(f.key));
    return rc;
}
