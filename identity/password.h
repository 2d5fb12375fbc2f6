/* password.h — slow salted hashes of passwords and secrets (PBKDF2-HMAC-SHA512
 * from OpenSSL), self-describing so the cost can change without a migration:
 *   "$pbkdf2-sha512$<rounds>$<salt, b64>$<key, b64>"  — the clear text is never kept. */
#ifndef STRATA_ID_PASSWORD_H
#define STRATA_ID_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PW_ROUNDS_MIN 1000
#define PW_ROUNDS_MAX 10000000
#define PW_HASH_MAX 160    /* longest string pw_hash writes, with NUL */
#define PW_LEN_MAX 4096    /* longer passwords are refused before any work */

/* Hash `password` with `rounds` iterations and a fresh 16-byte salt into
 * out[PW_HASH_MAX]: 0, -EINVAL (rounds out of range, password too long) or -EIO. */
int pw_hash(const char *password, unsigned rounds, char *out);
/* Whether `password` matches `stored` (constant-time compare; a malformed
 * stored hash matches nothing). */
bool pw_verify(const char *password, const char *stored);

#endif
