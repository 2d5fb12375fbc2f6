/* strutil.h — small string checks the API layers share (UUIDs, UTF-8 lengths,
 * membership in a NULL-terminated list, string members of JSON objects, times). */
#ifndef STRATA_STRUTIL_H
#define STRATA_STRUTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 8-4-4-4-12 hex digits (either case). */
bool st_is_uuid(const char *s);
/* Code points of a valid UTF-8 string (jansson strings are valid UTF-8). */
size_t st_utf8_len(const char *s);
/* Whether s is one of the NULL-terminated list. */
bool st_in_list(const char *const *list, const char *s);
/* obj[name] if it is a string, else NULL. */
const char *st_json_str(const json_t *obj, const char *name);

/* A request's Host header if it is a plain host[:port] (at most 255
 * characters of letters, digits and ".-_:[]"), else "localhost": what reply
 * links are built from, never an injected string. */
const char *st_host_or_default(const char *host);

/* ms since the epoch as ISO 8601 UTC without fraction: "2026-11-22T10:00:00Z". */
void st_time_iso(int64_t ms, char *buf, size_t len);

/* An API layer's error: msg (len bytes; NULL = none) = the formatted text,
 * and rc returned, so a check reads "return st_msgf(msg, MAX, -EINVAL, ...)". */
int st_msgf(char *msg, size_t len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The one rule for pool, image and snapshot names Strata is asked to use:
 * 1..ST_RBD_NAME_MAX of letters, digits, '.', '-' and '_' (nothing a path,
 * a snapshot spec or a librbd option could be made of). */
#define ST_RBD_NAME_MAX 96
bool st_rbd_name_valid(const char *name);

#endif
