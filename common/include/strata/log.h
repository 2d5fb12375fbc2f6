/* log.h — leveled logging for every Strata daemon.
 * One line per event: time, daemon, level, request id, file:line, message.
 * The level is checked before anything is formatted; never log a secret. */
#ifndef STRATA_LOG_H
#define STRATA_LOG_H

#include <stdarg.h>
#include <stdio.h>

enum st_log_level { ST_LOG_DEBUG = 0, ST_LOG_INFO, ST_LOG_WARN, ST_LOG_ERROR };

/* Set the daemon name printed on every line (copied, truncated to 63 chars). */
void st_log_init(const char *daemon_name, enum st_log_level level);
void st_log_set_level(enum st_log_level level);
enum st_log_level st_log_get_level(void);
/* Redirect output (default stderr).  The caller owns the FILE. */
void st_log_set_stream(FILE *stream);
/* Parse "debug|info|warn|warning|error" (case-insensitive): 0 or -EINVAL. */
int st_log_parse_level(const char *name, enum st_log_level *out);

/* Per-thread request id, printed on every line logged by this thread while
 * set (copied, truncated to 127 chars).  NULL clears it.  The HTTP server sets
 * it around each request.  st_log_request_id returns NULL when none is set. */
void st_log_set_request_id(const char *req_id);
const char *st_log_request_id(void);

void st_log_write(enum st_log_level level, const char *file, int line,
                  const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define ST_LOG(lvl, ...)                                                    \
    do {                                                                    \
        if ((lvl) >= st_log_get_level())                                    \
            st_log_write((lvl), __FILE__, __LINE__, __func__, __VA_ARGS__); \
    } while (0)
#define st_debug(...) ST_LOG(ST_LOG_DEBUG, __VA_ARGS__)
#define st_info(...)  ST_LOG(ST_LOG_INFO, __VA_ARGS__)
#define st_warn(...)  ST_LOG(ST_LOG_WARN, __VA_ARGS__)
#define st_error(...) ST_LOG(ST_LOG_ERROR, __VA_ARGS__)

#endif
