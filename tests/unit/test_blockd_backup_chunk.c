/* test_blockd_backup_chunk.c — backup chunk frames (blockd/backup/bk_chunk.h):
 * SHA-256 known answer, zero detection, round trips at every igzip level, the
 * raw fallback, and every kind of damage (bit flips, truncation, wrong sha). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <cmocka.h>

#include "bk_chunk.h"

#define HDR 52 /* the frame header's size (bk_chunk.c) */
#define KiB 1024u

enum kind { RANDOM, ZERO, TEXT, EMPTY, ONE_BYTE };

static void fill_random(unsigned char *p, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = getrandom(p + done, len - done, 0);

        assert_true(n > 0);
        done += (size_t)n;
    }
}

/* len bytes of the kind (*len set for EMPTY/ONE_BYTE); caller frees. */
static unsigned char *make_data(enum kind kind, size_t *len)
{
    unsigned char *p;
    static const char words[] = "volume snapshot backup chunk manifest restore ";

    if (kind == EMPTY)
        *len = 0;
    if (kind == ONE_BYTE)
        *len = 1;
    p = calloc(1, *len ? *len : 1);
    assert_non_null(p);
    if (kind == RANDOM || kind == ONE_BYTE)
        fill_random(p, *len);
    for (size_t i = 0; kind == TEXT && i < *len; i++)
        p[i] = (unsigned char)words[(i * 7 + i / 13) % (sizeof(words) - 1)];
    return p;
}

static struct bk_codec *codec(int level)
{
    struct bk_codec *c = NULL;

    assert_int_equal(bk_codec_create(level, &c), 0);
    return c;
}

static void *encode(struct bk_codec *c, const void *data, size_t len, size_t *flen, int *comp)
{
    char sha[BK_SHA_HEX];
    void *frame = NULL;

    bk_sha256_hex(data, len, sha);
    assert_int_equal(bk_chunk_encode(c, data, len, sha, &frame, flen, comp), 0);
    return frame;
}

/* decode must fail with -EBADMSG and say why. */
static void expect_bad(struct bk_codec *c, const void *frame, size_t len, const char *sha)
{
    char msg[256] = "";
    void *out = NULL;
    size_t out_len = 0;

    assert_int_equal(bk_chunk_decode(c, frame, len, sha, &out, &out_len, msg, sizeof(msg)),
                     -EBADMSG);
    assert_null(out);
    assert_true(msg[0] != '\0');
}

static void test_sha256_abc(void **state)
{
    char hex[BK_SHA_HEX];

    (void)state;
    bk_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    bk_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_is_zero(void **state)
{
    size_t lens[] = {0, 1, 63, 64, 65, 4096, 1024 * KiB + 3};
    unsigned char *p = calloc(1, 1024 * KiB + 3);

    (void)state;
    assert_non_null(p);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t len = lens[i];

        assert_true(bk_is_zero(p, len));
        for (size_t pos = 0; pos < len; pos += pos < 256 ? 1 : 4093) {
            p[pos] = 0x10;
            assert_false(bk_is_zero(p, len));
            p[pos] = 0;
        }
        if (len) {
            p[len - 1] = 1;
            assert_false(bk_is_zero(p, len));
            p[len - 1] = 0;
        }
    }
    free(p);
}

/* Every kind at every level comes back identical; random data is kept raw,
 * zeros and text are compressed. */
static void test_round_trip(void **state)
{
    const enum kind kinds[] = {RANDOM, ZERO, TEXT, EMPTY, ONE_BYTE};
    const size_t sizes[] = {4 * KiB, 1024 * KiB + 3};

    (void)state;
    for (int level = 0; level <= BK_LEVEL_MAX; level++) {
        struct bk_codec *c = codec(level);

        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
            for (size_t z = 0; z < 2; z++) {
                size_t len = sizes[z], flen, out_len;
                unsigned char *data = make_data(kinds[k], &len);
                char sha[BK_SHA_HEX], msg[128] = "";
                void *frame, *out = NULL;
                int comp = -1;

                frame = encode(c, data, len, &flen, &comp);
                assert_int_equal(comp, kinds[k] == ZERO || kinds[k] == TEXT);
                if (comp)
                    assert_true(flen < HDR + len);
                else
                    assert_int_equal(flen, HDR + len);
                bk_sha256_hex(data, len, sha);
                assert_int_equal(
                    bk_chunk_decode(c, frame, flen, sha, &out, &out_len, msg, sizeof(msg)), 0);
                assert_int_equal(out_len, len);
                if (len)
                    assert_memory_equal(out, data, len);
                free(out);
                free(frame);
                free(data);
            }
        bk_codec_destroy(c);
    }
}

static void test_bad_args(void **state)
{
    struct bk_codec *c = NULL;
    void *frame = NULL;
    size_t flen;
    int comp;

    (void)state;
    assert_int_equal(bk_codec_create(-1, &c), -EINVAL);
    assert_int_equal(bk_codec_create(BK_LEVEL_MAX + 1, &c), -EINVAL);
    assert_null(c);
    bk_codec_destroy(NULL);
    c = codec(1);
    assert_int_equal(bk_chunk_encode(c, "x", 1, "nothex", &frame, &flen, &comp), -EINVAL);
    assert_int_equal(bk_chunk_encode(c, "x", 1, NULL, &frame, &flen, &comp), -EINVAL);
    assert_null(frame);
    bk_codec_destroy(c);
}

/* Every single-bit flip in the header, and in a sample over the payload, is
 * refused (with and without an expected sha). */
static void flips_caught(struct bk_codec *c, const unsigned char *frame, size_t flen,
                         const char *sha)
{
    unsigned char *copy = malloc(flen);

    assert_non_null(copy);
    memcpy(copy, frame, flen);
    for (size_t pos = 0; pos < flen; pos += pos < HDR ? 1 : 61) {
        for (int bit = 0; bit < 8; bit += pos < HDR ? 1 : 3) {
            copy[pos] ^= (unsigned char)(1u << bit);
            expect_bad(c, copy, flen, NULL);
            expect_bad(c, copy, flen, sha);
            copy[pos] ^= (unsigned char)(1u << bit);
        }
    }
    copy[flen - 1] ^= 0x80; /* the very last bit */
    expect_bad(c, copy, flen, NULL);
    free(copy);
}

static void test_bit_flips(void **state)
{
    const enum kind kinds[] = {TEXT, RANDOM, ZERO};
    struct bk_codec *c = codec(1);

    (void)state;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        size_t len = 16 * KiB, flen;
        unsigned char *data = make_data(kinds[k], &len);
        char sha[BK_SHA_HEX];
        int comp;
        void *frame = encode(c, data, len, &flen, &comp);

        bk_sha256_hex(data, len, sha);
        flips_caught(c, frame, flen, sha);
        free(frame);
        free(data);
    }
    bk_codec_destroy(c);
}

static void test_wrong_sha_and_truncation(void **state)
{
    struct bk_codec *c = codec(2);
    size_t len = 64 * KiB, flen;
    unsigned char *data = make_data(TEXT, &len), *longer;
    char other[BK_SHA_HEX];
    int comp;
    unsigned char *frame = encode(c, data, len, &flen, &comp);

    (void)state;
    bk_sha256_hex("abc", 3, other);
    expect_bad(c, frame, flen, other);
    expect_bad(c, frame, flen, "not-a-sha");
    expect_bad(c, frame, flen - 1, NULL);
    expect_bad(c, frame, flen / 2, NULL);
    expect_bad(c, frame, HDR, NULL);
    expect_bad(c, frame, HDR - 1, NULL);
    expect_bad(c, frame, 0, NULL);
    longer = calloc(1, flen + 1);
    assert_non_null(longer);
    memcpy(longer, frame, flen);
    expect_bad(c, longer, flen + 1, NULL);
    free(longer);
    free(frame);
    free(data);
    bk_codec_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_abc), cmocka_unit_test(test_is_zero),
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_bit_flips),  cmocka_unit_test(test_wrong_sha_and_truncation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
