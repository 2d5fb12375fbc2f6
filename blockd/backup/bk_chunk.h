/* bk_chunk.h — a backup chunk's stored form: the data compressed with isa-l
 * igzip (kept raw when compression does not pay), framed with its lengths, a
 * crc32c (isa-l) and the SHA-256 (OpenSSL) that names it.  Pure: no I/O. */
#ifndef STRATA_BK_CHUNK_H
#define STRATA_BK_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_SHA_HEX 65          /* 64 hex digits + NUL */
#define BK_LEVEL_MAX 3         /* igzip levels 0..3 */

/* One thread's compression state (igzip's level buffer); not shared between
 * threads — make one per worker. */
struct bk_codec;
/* level 0..3 (-EINVAL otherwise), -ENOMEM. */
int bk_codec_create(int level, struct bk_codec **out);
void bk_codec_destroy(struct bk_codec *c);

/* SHA-256 of data as lowercase hex (what names a chunk). */
void bk_sha256_hex(const void *data, size_t len, char out[BK_SHA_HEX]);
/* true when every byte is 0 (zero chunks are not stored). */
bool bk_is_zero(const void *data, size_t len);

/* The frame of data (len ≤ 1 GiB) whose SHA-256 is sha_hex: *out malloc'd
 * (caller frees), *stored: 1 when compressed, 0 when kept raw.  0, -EINVAL,
 * -ENOMEM. */
int bk_chunk_encode(struct bk_codec *c, const void *data, size_t len, const char *sha_hex,
                    void **out, size_t *out_len, int *compressed);
/* The data of a frame, verified: header, crc32c, inflated length and, when
 * expect_sha is not NULL, the SHA-256.  *out malloc'd.  -EBADMSG on any
 * mismatch with msg saying which check failed, -ENOMEM. */
int bk_chunk_decode(struct bk_codec *c, const void *frame, size_t len, const char *expect_sha,
                    void **out, size_t *out_len, char *msg, size_t msglen);

#endif
