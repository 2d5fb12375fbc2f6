/* password.c — PBKDF2-HMAC-SHA512 (OpenSSL's PKCS5_PBKDF2_HMAC) with a random
 * salt; base64 by OpenSSL; the derived key compared with CRYPTO_memcmp.  The
 * work is in the rounds (configurable: [identity] password_hash_rounds). */
#include "password.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "$pbkdf2-sha512$"
#define SALT_LEN 16
#define KEY_LEN 64

static int derive(const char *password, const unsigned char *salt, size_t saltlen,
                  unsigned rounds, unsigned char *key)
{
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)saltlen, (int)rounds,
                          EVP_sha512(), KEY_LEN, key) != 1)
        return -EIO;
    return 0;
}

int pw_hash(const char *password, unsigned rounds, char *out)
{
    unsigned char salt[SALT_LEN], key[KEY_LEN];
    char salt64[4 * ((SALT_LEN + 2) / 3) + 1], key64[4 * ((KEY_LEN + 2) / 3) + 1];
    int rc;

    if (!password || !out || rounds < PW_ROUNDS_MIN || rounds > PW_ROUNDS_MAX ||
        strnlen(password, PW_LEN_MAX + 1) > PW_LEN_MAX)
        return -EINVAL;
    if (RAND_bytes(salt, sizeof(salt)) != 1)
        return -EIO;
    rc = derive(password, salt, sizeof(salt), rounds, key);
    if (rc == 0) {
        EVP_EncodeBlock((unsigned char *)salt64, salt, sizeof(salt));
        EVP_EncodeBlock((unsigned char *)key64, key, sizeof(key));
        snprintf(out, PW_HASH_MAX, PREFIX "%u$%s$%s", rounds, salt64, key64);
    }
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

/* Decode base64 of exactly `want` bytes (with its '=' padding). */
static bool decode(const char *s, size_t len, unsigned char *out, size_t want)
{
    unsigned char buf[128];
    int n;

    if (len == 0 || len % 4 || len / 4 * 3 > sizeof(buf))
        return false;
    n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len);
    if (n < 0)
        return false;
    while (len && s[len - 1] == '=') { /* DecodeBlock counts padding as bytes */
        len--;
        n--;
    }
    if ((size_t)n != want)
        return false;
    memcpy(out, buf, want);
    return true;
}

bool pw_verify(const char *password, const char *stored)
{
    unsigned char salt[SALT_LEN], want[KEY_LEN], got[KEY_LEN];
    const char *p, *salt_end;
    char *end;
    unsigned long rounds;
    bool ok;

    if (!password || !stored || strncmp(stored, PREFIX, strlen(PREFIX)) != 0 ||
        strnlen(password, PW_LEN_MAX + 1) > PW_LEN_MAX)
        return false;
    p = stored + strlen(PREFIX);
    rounds = strtoul(p, &end, 10);
    if (end == p || *end != '$' || rounds < PW_ROUNDS_MIN || rounds > PW_ROUNDS_MAX)
        return false;
    p = end + 1;
    salt_end = strchr(p, '$');
    if (!salt_end || !decode(p, (size_t)(salt_end - p), salt, sizeof(salt)) ||
        !decode(salt_end + 1, strlen(salt_end + 1), want, sizeof(want)))
        return false;
    if (derive(password, salt, sizeof(salt), (unsigned)rounds, got) < 0)
        return false;
    ok = CRYPTO_memcmp(got, want, sizeof(got)) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}
