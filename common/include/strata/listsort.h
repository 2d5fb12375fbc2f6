/* listsort.h — one order for JSON records in API lists (imaged, blockd):
 * multi-key sorts, marker/offset/limit paging and query-string encoding. */
#ifndef STRATA_LISTSORT_H
#define STRATA_LISTSORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct st_sort_key {
    const char *key;
    bool desc;
};

/* A record's value for a sort key; NULL = the member of that name. */
typedef const json_t *(*st_sort_get_fn)(const json_t *rec, const char *key, void *arg);

struct st_sort {
    const struct st_sort_key *keys;
    size_t nkeys;
    st_sort_get_fn get; /* NULL: json_object_get */
    void *arg;
};

/* Absent or null < booleans (false < true) < numbers (integers compared
 * exactly, else as doubles) < strings (bytewise) < arrays and objects (equal). */
int st_json_value_cmp(const json_t *a, const json_t *b);
/* a against b under the keys in order (each one's direction applied). */
int st_json_rec_cmp(const json_t *a, const json_t *b, const struct st_sort *s);
/* Sorts the array of records in place: 0 or -ENOMEM. */
int st_json_sort(json_t *recs, const struct st_sort *s);

struct st_page_req {
    const char *marker;       /* id of the last record seen, or NULL */
    const json_t *marker_rec; /* that record when it is no longer listed (NULL: unknown) */
    size_t offset, limit;
};

/* Sorts recs and takes one page: the records after the marker (by id when
 * it is listed, else after where marker_rec sorts), skipping offset, at most
 * limit.  -ENOENT when a marker is given, not listed and marker_rec is NULL. */
int st_json_page(json_t *recs, const struct st_sort *s, const struct st_page_req *r,
                 json_t **page, bool *more);

/* Writes s percent-encoded for a query string (RFC 3986 unreserved kept). */
void st_url_encode(FILE *f, const char *s);

#endif
