/* bk_chunk.c — a chunk's stored form: a 52-byte little-endian header (magic
 * "SBKC", version, codec, raw and stored lengths, crc32c, SHA-256) + payload
 * (raw deflate by isa-l igzip, or the data itself when deflate does not pay). */
#include "bk_chunk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <openssl/evp.h>

#include "strata/strutil.h"

#define FRAME_MAGIC "SBKC"
#define FRAME_VERSION 1
#define FRAME_HDR 52
#define FRAME_RAW_MAX (1u << 30)
#define SHA_LEN 32

enum frame_codec { CODEC_RAW = 0, CODEC_DEFLATE = 1 };

/* Header layout (offsets). */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 4,
    OFF_CODEC = 5,
    OFF_RESERVED = 6, /* u16, must be 0 */
    OFF_RAW_LEN = 8,
    OFF_STORED_LEN = 12,
    OFF_CRC = 16,
    OFF_SHA = 20,
};

struct frame_hdr {
    unsigned version, codec, reserved;
    uint32_t raw_len, stored_len, crc;
    unsigned char sha[SHA_LEN];
};

struct bk_codec {
    int level;
    uint8_t *level_buf;
    uint32_t level_buf_size;
    struct isal_zstream zs;
    struct inflate_state inflate;
};

static const uint32_t level_buf_sizes[BK_LEVEL_MAX + 1] = {
    ISAL_DEF_LVL0_DEFAULT,
    ISAL_DEF_LVL1_DEFAULT,
    ISAL_DEF_LVL2_DEFAULT,
    ISAL_DEF_LVL3_DEFAULT,
};

int bk_codec_create(int level, struct bk_codec **out)
{
    struct bk_codec *c;

    if (level < 0 || level > BK_LEVEL_MAX)
        return -EINVAL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->level = level;
    c->level_buf_size = level_buf_sizes[level];
    if (c->level_buf_size) {
        c->level_buf = malloc(c->level_buf_size);
        if (!c->level_buf) {
            bk_codec_destroy(c);
            return -ENOMEM;
        }
    }
    *out = c;
    return 0;
}

void bk_codec_destroy(struct bk_codec *c)
{
    if (!c)
        return;
    free(c->level_buf);
    free(c);
}

static void put_le16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void sha256(const void *data, size_t len, unsigned char md[SHA_LEN])
{
    unsigned int mdlen = SHA_LEN;

    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
}

static void hex_of(const unsigned char *bin, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bin[i] >> 4];
        out[2 * i + 1] = digits[bin[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* 64 lowercase hex digits → 32 bytes: 0 or -EINVAL. */
static int sha_of_hex(const char *hex, unsigned char bin[SHA_LEN])
{
    if (!hex || strlen(hex) != 2 * SHA_LEN)
        return -EINVAL;
    for (size_t i = 0; i < SHA_LEN; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -EINVAL;
        bin[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

void bk_sha256_hex(const void *data, size_t len, char out[BK_SHA_HEX])
{
    unsigned char md[SHA_LEN];

    sha256(data, len, md);
    hex_of(md, SHA_LEN, out);
}

bool bk_is_zero(const void *data, size_t len)
{
    static const unsigned char zero[64];
    const unsigned char *p = data;

    /* The head against a zero block, then the rest against itself shifted by
     * the head: every byte equals the one 64 before it, and those are 0. */
    if (len <= sizeof(zero))
        return memcmp(p, zero, len) == 0;
    return memcmp(p, zero, sizeof(zero)) == 0 &&
           memcmp(p, p + sizeof(zero), len - sizeof(zero)) == 0;
}

/* Deflate data into dst (room bytes): the stored length, or 0 when it does not
 * fit (then the data is kept raw). */
static uint32_t deflate_into(struct bk_codec *c, const void *data, size_t len, unsigned char *dst,
                             size_t room)
{
    struct isal_zstream *zs = &c->zs;

    if (len == 0 || room == 0)
        return 0;
    isal_deflate_stateless_init(zs);
    zs->next_in = (uint8_t *)data;
    zs->avail_in = (uint32_t)len;
    zs->next_out = dst;
    zs->avail_out = (uint32_t)room;
    zs->level = (uint32_t)c->level;
    zs->level_buf = c->level_buf;
    zs->level_buf_size = c->level_buf_size;
    zs->gzip_flag = IGZIP_DEFLATE;
    zs->end_of_stream = 1;
    zs->flush = NO_FLUSH;
    if (isal_deflate_stateless(zs) != COMP_OK || zs->avail_in != 0)
        return 0;
    return zs->total_out;
}

/* Header fields and crc32c into frame[0..FRAME_HDR). */
static void write_header(unsigned char *frame, const struct frame_hdr *h)
{
    memcpy(frame + OFF_MAGIC, FRAME_MAGIC, 4);
    frame[OFF_VERSION] = FRAME_VERSION;
    frame[OFF_CODEC] = (unsigned char)h->codec;
    put_le16(frame + OFF_RESERVED, 0);
    put_le32(frame + OFF_RAW_LEN, h->raw_len);
    put_le32(frame + OFF_STORED_LEN, h->stored_len);
    put_le32(frame + OFF_CRC, 0);
    memcpy(frame + OFF_SHA, h->sha, SHA_LEN);
    put_le32(frame + OFF_CRC, crc32_iscsi(frame, FRAME_HDR + (int)h->stored_len, 0));
}

int bk_chunk_encode(struct bk_codec *c, const void *data, size_t len, const char *sha_hex,
                    void **out, size_t *out_len, int *compressed)
{
    struct frame_hdr h = {.raw_len = (uint32_t)len};
    unsigned char *frame, *shrunk;

    if (!c || (!data && len) || len > FRAME_RAW_MAX || sha_of_hex(sha_hex, h.sha) < 0)
        return -EINVAL;
    frame = malloc(FRAME_HDR + len);
    if (!frame)
        return -ENOMEM;
    /* Room for one byte less than the input: deflate must pay to be kept. */
    h.stored_len = deflate_into(c, data, len, frame + FRAME_HDR, len ? len - 1 : 0);
    h.codec = h.stored_len ? CODEC_DEFLATE : CODEC_RAW;
    if (h.codec == CODEC_RAW) {
        h.stored_len = (uint32_t)len;
        if (len)
            memcpy(frame + FRAME_HDR, data, len);
    }
    write_header(frame, &h);
    shrunk = realloc(frame, FRAME_HDR + h.stored_len);
    *out = shrunk ? shrunk : frame;
    *out_len = FRAME_HDR + h.stored_len;
    *compressed = h.codec == CODEC_DEFLATE;
    return 0;
}

static void read_header(const unsigned char *frame, struct frame_hdr *h)
{
    h->version = frame[OFF_VERSION];
    h->codec = frame[OFF_CODEC];
    h->reserved = frame[OFF_RESERVED] | (unsigned)frame[OFF_RESERVED + 1] << 8;
    h->raw_len = get_le32(frame + OFF_RAW_LEN);
    h->stored_len = get_le32(frame + OFF_STORED_LEN);
    h->crc = get_le32(frame + OFF_CRC);
    memcpy(h->sha, frame + OFF_SHA, SHA_LEN);
}

/* The crc32c of frame (len bytes) with its crc field taken as 0. */
static uint32_t frame_crc(const unsigned char *frame, size_t len)
{
    static const unsigned char zero[4];
    uint32_t crc = crc32_iscsi((unsigned char *)frame, OFF_CRC, 0);

    crc = crc32_iscsi((unsigned char *)zero, 4, crc);
    return crc32_iscsi((unsigned char *)frame + OFF_CRC + 4, (int)(len - OFF_CRC - 4), crc);
}

/* The header's checks, in order; -EBADMSG with msg naming the first failed. */
static int check_header(const unsigned char *frame, size_t len, struct frame_hdr *h, char *msg,
                        size_t msglen)
{
    if (len < FRAME_HDR)
        return st_msgf(msg, msglen, -EBADMSG, "frame truncated: %zu bytes, header is %d", len,
                       FRAME_HDR);
    if (memcmp(frame + OFF_MAGIC, FRAME_MAGIC, 4) != 0)
        return st_msgf(msg, msglen, -EBADMSG, "bad frame magic");
    read_header(frame, h);
    if (h->version != FRAME_VERSION)
        return st_msgf(msg, msglen, -EBADMSG, "unknown frame version %u", h->version);
    if (h->codec > CODEC_DEFLATE || h->reserved != 0)
        return st_msgf(msg, msglen, -EBADMSG, "unknown codec %u/flags %u", h->codec, h->reserved);
    if (h->stored_len != len - FRAME_HDR)
        return st_msgf(msg, msglen, -EBADMSG, "stored length %u but payload is %zu bytes",
                       h->stored_len, len - FRAME_HDR);
    if (h->raw_len > FRAME_RAW_MAX ||
        (h->codec == CODEC_RAW ? h->raw_len != h->stored_len : h->raw_len <= h->stored_len))
        return st_msgf(msg, msglen, -EBADMSG, "raw length %u inconsistent with stored length %u",
                       h->raw_len, h->stored_len);
    if (frame_crc(frame, len) != h->crc)
        return st_msgf(msg, msglen, -EBADMSG, "crc32c mismatch");
    return 0;
}

/* Inflate the payload into dst (exactly h->raw_len bytes). */
static int inflate_into(struct bk_codec *c, const unsigned char *payload, const struct frame_hdr *h,
                        unsigned char *dst, char *msg, size_t msglen)
{
    struct inflate_state *st = &c->inflate;
    int rc;

    isal_inflate_init(st);
    st->next_in = (uint8_t *)payload;
    st->avail_in = h->stored_len;
    st->next_out = dst;
    st->avail_out = h->raw_len;
    st->crc_flag = IGZIP_DEFLATE;
    rc = isal_inflate_stateless(st);
    if (rc != ISAL_DECOMP_OK)
        return st_msgf(msg, msglen, -EBADMSG, "inflate failed (isa-l %d)", rc);
    if (st->total_out != h->raw_len)
        return st_msgf(msg, msglen, -EBADMSG, "inflated to %u bytes, header says %u", st->total_out,
                       h->raw_len);
    return 0;
}

/* The SHA-256 of the data against the header's and the caller's. */
static int check_sha(const unsigned char *data, const struct frame_hdr *h, const char *expect_sha,
                     char *msg, size_t msglen)
{
    unsigned char md[SHA_LEN], want[SHA_LEN];

    if (sha_of_hex(expect_sha, want) < 0)
        return st_msgf(msg, msglen, -EBADMSG, "expected sha is not 64 lowercase hex digits");
    if (memcmp(h->sha, want, SHA_LEN) != 0)
        return st_msgf(msg, msglen, -EBADMSG, "frame names another chunk than expected");
    sha256(data, h->raw_len, md);
    if (memcmp(md, want, SHA_LEN) != 0)
        return st_msgf(msg, msglen, -EBADMSG, "sha256 of the data mismatch");
    return 0;
}

int bk_chunk_decode(struct bk_codec *c, const void *frame, size_t len, const char *expect_sha,
                    void **out, size_t *out_len, char *msg, size_t msglen)
{
    const unsigned char *f = frame;
    struct frame_hdr h;
    unsigned char *data;
    int rc;

    if (!c || (!frame && len))
        return -EINVAL;
    rc = check_header(f, len, &h, msg, msglen);
    if (rc < 0)
        return rc;
    data = malloc(h.raw_len ? h.raw_len : 1);
    if (!data)
        return -ENOMEM;
    if (h.codec == CODEC_DEFLATE)
        rc = inflate_into(c, f + FRAME_HDR, &h, data, msg, msglen);
    else if (h.raw_len)
        memcpy(data, f + FRAME_HDR, h.raw_len);
    if (rc == 0 && expect_sha)
        rc = check_sha(data, &h, expect_sha, msg, msglen);
    if (rc < 0) {
        free(data);
        return rc;
    }
    *out = data;
    *out_len = h.raw_len;
    return 0;
}
