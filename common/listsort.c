/* listsort.c — the order and paging of API lists: values ranked by type then
 * compared exactly, records by several keys, a page after a marker. */
#include "strata/listsort.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strata/strutil.h"

static int value_rank(const json_t *v)
{
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v))
        return 1;
    if (json_is_number(v))
        return 2;
    return json_is_string(v) ? 3 : 4;
}

int st_json_value_cmp(const json_t *a, const json_t *b)
{
    int ra = value_rank(a), rb = value_rank(b);

    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case 1:
        return (int)json_is_true(a) - (int)json_is_true(b);
    case 2:
        if (json_is_integer(a) && json_is_integer(b))
            return (json_integer_value(a) > json_integer_value(b)) -
                   (json_integer_value(a) < json_integer_value(b));
        return (json_number_value(a) > json_number_value(b)) -
               (json_number_value(a) < json_number_value(b));
    case 3: {
        int c = strcmp(json_string_value(a), json_string_value(b));
        return (c > 0) - (c < 0);
    }
    default:
        return 0;
    }
}

static const json_t *value_of(const json_t *rec, const char *key, const struct st_sort *s)
{
    return s->get ? s->get(rec, key, s->arg) : json_object_get(rec, key);
}

int st_json_rec_cmp(const json_t *a, const json_t *b, const struct st_sort *s)
{
    for (size_t i = 0; i < s->nkeys; i++) {
        const char *k = s->keys[i].key;
        int c = st_json_value_cmp(value_of(a, k, s), value_of(b, k, s));
        if (c)
            return s->keys[i].desc ? -c : c;
    }
    return 0;
}

static int qsort_cmp(const void *a, const void *b, void *s)
{
    return st_json_rec_cmp(*(json_t *const *)a, *(json_t *const *)b, s);
}

int st_json_sort(json_t *recs, const struct st_sort *s)
{
    size_t n = json_array_size(recs);
    json_t **v;

    if (n < 2)
        return 0;
    if (!(v = calloc(n, sizeof(*v))))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(recs, i));
    qsort_r(v, n, sizeof(*v), qsort_cmp, (void *)s);
    for (size_t i = 0; i < n; i++)
        json_array_set_new(recs, i, v[i]);   /* same size: cannot fail */
    free(v);
    return 0;
}

/* Index of the first record after the marker, or -ENOENT. */
static long after_marker(const json_t *recs, const struct st_sort *s, const struct st_page_req *r)
{
    size_t n = json_array_size(recs), i;

    if (!r->marker)
        return 0;
    for (i = 0; i < n; i++) {
        const char *id = st_json_str(json_array_get(recs, i), "id");
        if (id && strcmp(id, r->marker) == 0)
            return (long)i + 1;
    }
    if (!r->marker_rec)
        return -ENOENT;
    for (i = 0; i < n && st_json_rec_cmp(json_array_get(recs, i), r->marker_rec, s) <= 0; i++)
        ;
    return (long)i;
}

int st_json_page(json_t *recs, const struct st_sort *s, const struct st_page_req *r,
                 json_t **page, bool *more)
{
    size_t n = json_array_size(recs), start, end;
    long first;
    json_t *out;

    if (st_json_sort(recs, s) < 0)
        return -ENOMEM;
    if ((first = after_marker(recs, s, r)) < 0)
        return (int)first;
    start = (size_t)first;
    start = r->offset > n - start ? n : start + r->offset;
    end = n - start > r->limit ? start + r->limit : n;
    if (!(out = json_array()))
        return -ENOMEM;
    for (size_t i = start; i < end; i++) {
        if (json_array_append(out, json_array_get(recs, i)) < 0) {
            json_decref(out);
            return -ENOMEM;
        }
    }
    *page = out;
    *more = end < n;
    return 0;
}

void st_url_encode(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~", c))
            fputc(c, f);
        else
            fprintf(f, "%%%02X", c);
    }
}
