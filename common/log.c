/* log.c — leveled, thread-safe logging for every Strata daemon.
 * Each event is formatted into one buffer and written with a single fwrite
 * under flockfile, so lines from different threads never interleave. */
#include "strata/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_NAME_MAX 63
#define LOG_REQ_ID_MAX 127
#define LOG_LINE_STACK 2048
#define LOG_HEAD_MAX 512

static _Atomic int g_level = ST_LOG_INFO;
static _Atomic(FILE *) g_stream; /* NULL = stderr */
static char g_name[LOG_NAME_MAX + 1] = "strata";
static _Thread_local char t_req_id[LOG_REQ_ID_MAX + 1];

static const char *const level_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

void st_log_init(const char *daemon_name, enum st_log_level level)
{
    const char *prefix = "strata-";

    if (!daemon_name || !*daemon_name)
        snprintf(g_name, sizeof(g_name), "strata");
    else if (strncmp(daemon_name, prefix, strlen(prefix)) == 0)
        snprintf(g_name, sizeof(g_name), "%s", daemon_name);
    else
        snprintf(g_name, sizeof(g_name), "%s%s", prefix, daemon_name);
    st_log_set_level(level);
}

void st_log_set_level(enum st_log_level level)
{
    if (level < ST_LOG_DEBUG)
        level = ST_LOG_DEBUG;
    if (level > ST_LOG_ERROR)
        level = ST_LOG_ERROR;
    atomic_store(&g_level, (int)level);
}

enum st_log_level st_log_get_level(void)
{
    return (enum st_log_level)atomic_load_explicit(&g_level, memory_order_relaxed);
}

void st_log_set_stream(FILE *stream)
{
    atomic_store(&g_stream, stream);
}

int st_log_parse_level(const char *name, enum st_log_level *out)
{
    static const struct { const char *name; enum st_log_level level; } names[] = {
        { "debug", ST_LOG_DEBUG }, { "info", ST_LOG_INFO }, { "warn", ST_LOG_WARN },
        { "warning", ST_LOG_WARN }, { "error", ST_LOG_ERROR },
    };

    if (!name)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            if (out)
                *out = names[i].level;
            return 0;
        }
    }
    return -EINVAL;
}

void st_log_set_request_id(const char *req_id)
{
    if (!req_id) {
        t_req_id[0] = '\0';
        return;
    }
    snprintf(t_req_id, sizeof(t_req_id), "%s", req_id);
}

const char *st_log_request_id(void)
{
    return t_req_id[0] ? t_req_id : NULL;
}

/* Replace line breaks and other control characters so that one event stays
 * one line, whatever a caller (or a client-supplied name) puts in it. */
static void flatten(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' || c == '\r' || c == '\t')
            s[i] = ' ';
        else if (c < 0x20 || c == 0x7f)
            s[i] = '?';
    }
}

void st_log_write(enum st_log_level level, const char *file, int line,
                  const char *func, const char *fmt, ...)
{
    char stackbuf[LOG_LINE_STACK];
    char *buf = stackbuf;
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    const char *base, *rid;
    FILE *out;
    va_list ap;
    int saved_errno = errno;
    int hlen, mlen;
    size_t len, cap = sizeof(stackbuf);

    if ((int)level < atomic_load_explicit(&g_level, memory_order_relaxed))
        return;
    if ((int)level < ST_LOG_DEBUG || (int)level > ST_LOG_ERROR)
        level = ST_LOG_ERROR;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    base = file ? strrchr(file, '/') : NULL;
    base = base ? base + 1 : (file ? file : "?");
    rid = t_req_id[0] ? t_req_id : "-";
    hlen = snprintf(stackbuf, LOG_HEAD_MAX, "%s.%03ldZ %s[%ld] %s [%s] %s:%d %s: ", stamp,
                    ts.tv_nsec / 1000000L, g_name, (long)getpid(), level_names[level], rid,
                    base, line, func ? func : "?");
    if (hlen < 0)
        goto out;
    if (hlen >= LOG_HEAD_MAX)
        hlen = LOG_HEAD_MAX - 1;

    /* Header and message go into one buffer so the line is one write. */
    va_start(ap, fmt);
    mlen = vsnprintf(stackbuf + hlen, cap - (size_t)hlen, fmt, ap);
    va_end(ap);
    if (mlen < 0)
        goto out;
    if ((size_t)mlen >= cap - (size_t)hlen - 1) {
        char *big = malloc((size_t)hlen + (size_t)mlen + 2);
        if (big) {
            memcpy(big, stackbuf, (size_t)hlen);
            va_start(ap, fmt);
            vsnprintf(big + hlen, (size_t)mlen + 1, fmt, ap);
            va_end(ap);
            buf = big;
        } else {
            mlen = (int)(cap - (size_t)hlen - 2); /* truncated beats nothing */
        }
    }
    while (mlen > 0 && (buf[hlen + mlen - 1] == '\n' || buf[hlen + mlen - 1] == '\r'))
        mlen--;
    flatten(buf + hlen, (size_t)mlen);
    len = (size_t)hlen + (size_t)mlen;
    buf[len++] = '\n';

    out = atomic_load(&g_stream);
    if (!out)
        out = stderr;
    flockfile(out);
    fwrite(buf, 1, len, out);
    fflush(out);
    funlockfile(out);

    if (buf != stackbuf)
        free(buf);
out:
    errno = saved_errno;
}
