/* image_json_list.c — image list queries parsed as Glance does (filters,
 * both sort syntaxes, markers, limits), then filtered, sorted and paged. */
#include "image_json_internal.h"

enum list_kind { L_EQ, L_BOOL, L_TAG, L_SIZE_MIN, L_SIZE_MAX, L_VISIBILITY, L_SORT, L_IGNORE };

/* The arguments of GET /v2/images (limit and marker apart).  `service`:
 * img_list can apply it as an equality filter. */
static const struct list_param {
    const char *name;
    enum list_kind kind;
    bool service;
} list_params[] = {
    {"name", L_EQ, true},
    {"status", L_EQ, true},
    {"visibility", L_VISIBILITY, true},
    {"owner", L_EQ, true},
    {"disk_format", L_EQ, true},
    {"container_format", L_EQ, true},
    {"id", L_EQ, false},
    {"checksum", L_EQ, false},
    {"os_hash_value", L_EQ, false},
    {"protected", L_BOOL, false},
    {"os_hidden", L_BOOL, false},
    {"tag", L_TAG, true},
    {"size_min", L_SIZE_MIN, false},
    {"size_max", L_SIZE_MAX, false},
    {"member_status", L_IGNORE, false},
    {"sort", L_SORT, false},
    {"sort_key", L_SORT, false},
    {"sort_dir", L_SORT, false},
};
#define NLIST_PARAMS (sizeof(list_params) / sizeof(list_params[0]))

static const char *const sort_keys[] = {"name",        "status",     "container_format",
                                        "disk_format", "size",       "id",
                                        "created_at",  "updated_at", NULL};

static const struct list_param *list_param_find(const char *name)
{
    for (size_t i = 0; i < NLIST_PARAMS; i++) {
        if (strcmp(list_params[i].name, name) == 0)
            return &list_params[i];
    }
    return NULL;
}

static int bool_parse(const char *s, bool *out)
{
    if (strcasecmp(s, "true") == 0)
        *out = true;
    else if (strcasecmp(s, "false") == 0)
        *out = false;
    else
        return -EINVAL;
    return 0;
}

static int u64_parse(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!isdigit((unsigned char)s[0]))
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (*end || errno)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Check one filter value. */
static int arg_check(const struct list_param *lp, const char *v, char *msg)
{
    static const char *const vis_all[] = {"community", "public", "private", "shared", "all", NULL};
    uint64_t n;
    bool b;

    switch (lp->kind) {
    case L_BOOL:
        if (bool_parse(v, &b) < 0)
            return fail(msg, -EINVAL, "Invalid value for option %s: %s", lp->name, v);
        return 0;
    case L_SIZE_MIN:
    case L_SIZE_MAX:
        if (u64_parse(v, &n) < 0 || n > INT64_MAX)
            return fail(msg, -EINVAL, "Invalid value for option %s: %s", lp->name, v);
        return 0;
    case L_VISIBILITY:
        if (!st_in_list(vis_all, v))
            return fail(msg, -EINVAL, "Invalid visibility value: %s", v);
        return 0;
    default:
        return 0;
    }
}

/* Next comma-separated, space-trimmed token of *s; false at the end. */
static bool next_token(const char **s, const char **tok, size_t *len)
{
    const char *p = *s, *end;

    if (!p)
        return false;
    end = p + strcspn(p, ",");
    *s = *end ? end + 1 : NULL;
    while (p < end && isspace((unsigned char)*p))
        p++;
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    *tok = p;
    *len = (size_t)(end - p);
    return true;
}

static bool token_is(const char *tok, size_t len, const char *word)
{
    return strlen(word) == len && strncmp(tok, word, len) == 0;
}

static int sort_key_parse(const char *tok, size_t len, struct imgj_list_query *q, char *msg)
{
    for (size_t i = 0; sort_keys[i]; i++) {
        if (token_is(tok, len, sort_keys[i])) {
            if (q->nsort == IMGJ_SORT_MAX)
                return fail(msg, -EINVAL, "Too many sort keys (at most %d).", IMGJ_SORT_MAX);
            q->sort[q->nsort++] = (struct st_sort_key){sort_keys[i], true};
            return 0;
        }
    }
    return fail(msg, -EINVAL,
                "Invalid sort key: %.*s. It must be one of the following: name, status, "
                "container_format, disk_format, size, id, created_at, updated_at.",
                (int)(len > 64 ? 64 : len), tok);
}

static int sort_dir_parse(const char *tok, size_t len, bool *desc, char *msg)
{
    if (token_is(tok, len, "asc") || token_is(tok, len, "desc")) {
        *desc = token_is(tok, len, "desc");
        return 0;
    }
    return fail(msg, -EINVAL, "Invalid sort direction: %.*s", (int)(len > 64 ? 64 : len), tok);
}

/* sort=key[:dir],... (dir defaults to desc).  *ndirs: directions in effect. */
static int sort_new_syntax(const char *s, struct imgj_list_query *q, size_t *ndirs, char *msg)
{
    const char *tok, *colon;
    size_t len;
    int rc = 0;

    while (rc == 0 && next_token(&s, &tok, &len)) {
        colon = memchr(tok, ':', len);
        rc = sort_key_parse(tok, colon ? (size_t)(colon - tok) : len, q, msg);
        if (rc == 0 && colon)
            rc = sort_dir_parse(colon + 1, len - (size_t)(colon + 1 - tok),
                                &q->sort[q->nsort - 1].desc, msg);
    }
    *ndirs = q->nsort;
    return rc;
}

/* sort_key=a,b&sort_dir=x[,y]: one dir applies to every key; several must pair up. */
static int sort_classic(imgj_query_fn get, void *arg, struct imgj_list_query *q, size_t *ndirs,
                        char *msg)
{
    bool dirs[IMGJ_SORT_MAX];
    size_t n = 0, len;
    const char *s, *tok;
    int rc = 0;

    for (size_t nth = 0; rc == 0 && (s = get(arg, "sort_key", nth)); nth++) {
        while (rc == 0 && next_token(&s, &tok, &len))
            rc = sort_key_parse(tok, len, q, msg);
    }
    for (size_t nth = 0; rc == 0 && (s = get(arg, "sort_dir", nth)); nth++) {
        while (rc == 0 && next_token(&s, &tok, &len)) {
            if (n == IMGJ_SORT_MAX)
                return fail(msg, -EINVAL, "Too many sort directions.");
            rc = sort_dir_parse(tok, len, &dirs[n++], msg);
        }
    }
    if (rc < 0)
        return rc;
    if (n > 1 && n != q->nsort)
        return fail(msg, -EINVAL, "Number of sort dirs does not match the number of sort keys");
    if (q->nsort == 0 && n == 1)
        q->sort[q->nsort++] = (struct st_sort_key){"created_at", true};
    for (size_t i = 0; i < q->nsort; i++)
        q->sort[i].desc = n == 0 ? true : dirs[n == 1 ? 0 : i];
    *ndirs = n;
    return 0;
}

/* Keys and directions, then Glance's tie-breaks (created_at, id), sorted
 * the way of the only direction when one was in effect, else desc. */
static int sort_parse(imgj_query_fn get, void *arg, struct imgj_list_query *q, char *msg)
{
    static const char *const ties[] = {"created_at", "id"};
    const char *sort = get(arg, "sort", 0);
    size_t ndirs = 0;
    bool tie_desc;
    int rc;

    if (sort && (get(arg, "sort_key", 0) || get(arg, "sort_dir", 0)))
        return fail(msg, -EINVAL, "Old and new sorting syntax cannot be combined");
    rc = sort ? sort_new_syntax(sort, q, &ndirs, msg) : sort_classic(get, arg, q, &ndirs, msg);
    if (rc < 0)
        return rc;
    tie_desc = ndirs == 1 ? q->sort[0].desc : true;
    if (q->nsort == 0)
        q->sort[q->nsort++] = (struct st_sort_key){"created_at", true};
    for (size_t t = 0; t < 2; t++) {
        bool have = false;
        for (size_t i = 0; i < q->nsort; i++)
            have = have || strcmp(q->sort[i].key, ties[t]) == 0;
        if (!have)
            q->sort[q->nsort++] = (struct st_sort_key){ties[t], tie_desc};
    }
    return 0;
}

static int limit_parse(const char *s, struct imgj_list_query *q, char *msg)
{
    uint64_t v;

    q->limit = IMGJ_LIMIT_DEFAULT;
    if (!s)
        return 0;
    if (s[0] == '-' && u64_parse(s + 1, &v) == 0)
        return fail(msg, -EINVAL, "limit param must be positive");
    if (u64_parse(s, &v) < 0)
        return fail(msg, -EINVAL, "limit param must be an integer");
    q->limit = v > IMGJ_LIMIT_MAX ? IMGJ_LIMIT_MAX : (unsigned)v;
    q->limit_given = true;
    return 0;
}

int imgj_list_parse(imgj_query_fn get, void *arg, struct imgj_list_query *q, char *msg)
{
    struct imgj_list_query r = {.narg = 0};
    const char *v;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < NLIST_PARAMS; i++) {
        const struct list_param *lp = &list_params[i];
        for (size_t nth = 0; rc == 0 && (v = get(arg, lp->name, nth)); nth++) {
            if (r.narg == IMGJ_QUERY_MAX)
                return fail(msg, -EINVAL, "Too many query arguments.");
            rc = arg_check(lp, v, msg);
            r.arg[r.narg++] =
                (struct imgj_list_arg){lp->name, v, lp->service && strncmp(v, "in:", 3) != 0};
        }
    }
    if (rc == 0)
        rc = sort_parse(get, arg, &r, msg);
    if (rc == 0)
        rc = limit_parse(get(arg, "limit", 0), &r, msg);
    if (rc < 0)
        return rc;
    r.marker = get(arg, "marker", 0);
    *q = r;
    return 0;
}

/* field == want, or one of "in:a,b,c". */
static bool eq_match(const json_t *field, const char *want)
{
    const char *have = json_string_value(field), *s, *tok;
    size_t len;

    if (!have)
        return false;
    if (strncmp(want, "in:", 3) != 0)
        return strcmp(have, want) == 0;
    s = want + 3;
    while (next_token(&s, &tok, &len)) {
        if (token_is(tok, len, have))
            return true;
    }
    return false;
}

static bool arg_match(const json_t *rec, const struct list_param *lp, const char *v)
{
    json_t *size = json_object_get(rec, "size");
    uint64_t n = 0;
    bool b = false;

    switch (lp->kind) {
    case L_EQ:
        return eq_match(json_object_get(rec, lp->name), v);
    case L_VISIBILITY:
        return strcmp(v, "all") == 0 || eq_match(json_object_get(rec, lp->name), v);
    case L_BOOL:
        bool_parse(v, &b);
        return json_is_true(json_object_get(rec, lp->name)) == b;
    case L_TAG:
        return ij_tag_index(json_object_get(rec, "tags"), v) >= 0;
    case L_SIZE_MIN:
    case L_SIZE_MAX:
        u64_parse(v, &n);
        if (!json_is_integer(size))
            return false;
        return lp->kind == L_SIZE_MIN ? json_integer_value(size) >= (json_int_t)n
                                      : json_integer_value(size) <= (json_int_t)n;
    default:
        return true;
    }
}

bool imgj_list_match(const json_t *record, const struct imgj_list_query *q)
{
    bool hidden_given = false;

    for (size_t i = 0; i < q->narg; i++) {
        const struct list_param *lp = list_param_find(q->arg[i].name);
        if (!lp)
            continue;
        hidden_given = hidden_given || strcmp(lp->name, "os_hidden") == 0;
        if (!arg_match(record, lp, q->arg[i].value))
            return false;
    }
    return hidden_given || !json_is_true(json_object_get(record, "os_hidden"));
}

void imgj_list_filter(json_t *images, const struct imgj_list_query *q)
{
    for (size_t i = json_array_size(images); i-- > 0;) {
        if (!imgj_list_match(json_array_get(images, i), q))
            json_array_remove(images, i);
    }
}

/* Missing and null first, then booleans, numbers, strings. */
int imgj_list_page(json_t *images, const struct imgj_list_query *q, const json_t *marker_rec,
                   json_t **page, bool *more)
{
    struct st_sort s = { q->sort, q->nsort, NULL, NULL };
    struct st_page_req r = { q->marker, marker_rec, 0, q->limit };   /* Glance: no offset */

    return st_json_page(images, &s, &r, page, more);
}

/* "/v2/images[?marker=M&limit=N&args...]" (first: no marker, limit if given). */
static char *list_link(const struct imgj_list_query *q, const char *marker)
{
    char *buf = NULL;
    size_t len = 0;
    char sep = '?';
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    fputs("/v2/images", f);
    if (marker) {
        fputs("?marker=", f);
        st_url_encode(f, marker);
        sep = '&';
    }
    if (marker || q->limit_given) {
        fprintf(f, "%climit=%u", sep, q->limit);
        sep = '&';
    }
    for (size_t i = 0; i < q->narg; i++) {
        fputc(sep, f);
        st_url_encode(f, q->arg[i].name);
        fputc('=', f);
        st_url_encode(f, q->arg[i].value);
        sep = '&';
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

json_t *imgj_list_body(json_t *views, const struct imgj_list_query *q, const char *next_marker)
{
    char *first = list_link(q, NULL), *next = next_marker ? list_link(q, next_marker) : NULL;
    json_t *body = NULL;

    if (first && (!next_marker || next))
        body = json_pack("{s:o,s:s,s:s}", "images", views, "first", first, "schema",
                         "/v2/schemas/images");
    else
        json_decref(views);
    if (body && next && json_object_set_new(body, "next", json_string(next)) < 0) {
        json_decref(body);
        body = NULL;
    }
    free(first);
    free(next);
    return body;
}
