/* vol_json_list.c — list queries (filters, sort keys, markers, limits) parsed
 * as Cinder does, then filtered, sorted and paged after the service's scan. */
#include "vol_json_internal.h"

struct list_param {
    const char *name;  /* in the query */
    const char *field; /* record member */
    bool service;      /* an equality the service applies itself */
};

static const struct list_param volume_params[] = {
    {"name", "name", true},
    {"status", "status", true},
    {"bootable", "bootable", false},
    {"availability_zone", "availability_zone", false},
    {"size", "size", false},
    {"volume_type", "volume_type", false},
    {NULL, NULL, false},
};
static const struct list_param snapshot_params[] = {
    {"name", "name", true},
    {"status", "status", true},
    {"volume_id", "volume_id", true},
    {NULL, NULL, false},
};
static const char *const backup_sort_keys[] = {
    "id",         "name",       "status",  "size",       "volume_id", "container",
    "created_at", "updated_at", "user_id", "project_id", NULL};
static const char *const volume_sort_keys[] = {
    "id",         "name",     "status",      "size",    "availability_zone", "created_at",
    "updated_at", "bootable", "volume_type", "user_id", "project_id",        NULL};
static const char *const snapshot_sort_keys[] = {
    "id",         "name",       "status",  "size",       "volume_id",
    "created_at", "updated_at", "user_id", "project_id", NULL};

/* What differs between the lists: filters, sort keys, collection name. */
static const struct {
    const struct list_param *params;
    const char *const *sort_keys;
    const char *coll;
} kinds[] = {
    [VOLJ_LIST_VOLUMES] = {volume_params, volume_sort_keys, "volumes"},
    [VOLJ_LIST_SNAPSHOTS] = {snapshot_params, snapshot_sort_keys, "snapshots"},
    [VOLJ_LIST_BACKUPS] = {snapshot_params, backup_sort_keys, "backups"},   /* same filters */
};

static int arg_add(struct volj_list_query *q, const char *name, const char *value, char *msg)
{
    if (q->narg >= sizeof(q->arg) / sizeof(q->arg[0]))
        return fail(msg, -EINVAL, "Too many query arguments.");
    q->arg[q->narg++] = (struct volj_list_arg){name, value};
    return 0;
}

static int sort_key_add(struct volj_list_query *q, const char *key, size_t klen, bool desc,
                        char *msg)
{
    const char *const *keys = kinds[q->kind].sort_keys;

    if (klen == 12 && strncmp(key, "display_name", 12) == 0) {
        key = "name";
        klen = 4;
    }
    for (size_t i = 0; keys[i]; i++) {
        if (strlen(keys[i]) == klen && strncmp(keys[i], key, klen) == 0) {
            if (q->nsort >= VOLJ_SORT_MAX)
                return fail(msg, -EINVAL, "Too many sort keys.");
            q->sort[q->nsort++] = (struct st_sort_key){keys[i], desc};
            return 0;
        }
    }
    return fail(msg, -EINVAL, "Invalid input received: Invalid sort key %.*s.",
                (int)(klen > 64 ? 64 : klen), key);
}

static int dir_parse(const char *d, size_t len, bool *desc, char *msg)
{
    if (len == 4 && strncasecmp(d, "desc", 4) == 0)
        *desc = true;
    else if (len == 3 && strncasecmp(d, "asc", 3) == 0)
        *desc = false;
    else
        return fail(msg, -EINVAL,
                    "Invalid input received: Unknown sort direction, must be "
                    "'desc' or 'asc'.");
    return 0;
}

/* The next comma-separated item of *s, spaces trimmed. */
static bool next_item(const char **s, const char **item, size_t *len)
{
    const char *p = *s, *end;

    if (!p)
        return false;
    end = strchr(p, ',');
    *s = end ? end + 1 : NULL;
    if (!end)
        end = p + strlen(p);
    while (p < end && *p == ' ')
        p++;
    while (end > p && end[-1] == ' ')
        end--;
    *item = p;
    *len = (size_t)(end - p);
    return true;
}

/* sort=k1:d1,k2 (dir defaults to desc), or sort_key=k1,k2 & sort_dir=d1,d2. */
static int sort_parse(const char *sort, const char *keys, const char *dirs,
                      struct volj_list_query *q, char *msg)
{
    const char *item, *colon;
    size_t len;
    bool desc;
    int rc;

    if (sort && (keys || dirs))
        return fail(msg, -EINVAL,
                    "Invalid input received: The 'sort_key' and 'sort_dir' "
                    "parameters are deprecated and cannot be used with the 'sort' "
                    "parameter.");
    while (sort && next_item(&sort, &item, &len)) {
        colon = memchr(item, ':', len);
        desc = true;
        if (colon && (rc = dir_parse(colon + 1, len - (size_t)(colon + 1 - item), &desc, msg)) < 0)
            return rc;
        if ((rc = sort_key_add(q, item, colon ? (size_t)(colon - item) : len, desc, msg)) < 0)
            return rc;
    }
    while (keys && next_item(&keys, &item, &len)) {
        const char *d;
        size_t dlen;
        desc = true;
        if (next_item(&dirs, &d, &dlen) && (rc = dir_parse(d, dlen, &desc, msg)) < 0)
            return rc;
        if ((rc = sort_key_add(q, item, len, desc, msg)) < 0)
            return rc;
    }
    if (!keys && dirs && next_item(&dirs, &item, &len)) {
        /* A direction alone applies to the default keys. */
        if ((rc = dir_parse(item, len, &desc, msg)) < 0)
            return rc;
        q->sort[q->nsort++] = (struct st_sort_key){"created_at", desc};
    }
    return 0;
}

/* Tie-breaks: created_at then id, in the first key's direction. */
static void sort_finish(struct volj_list_query *q)
{
    static const char *const ties[] = {"created_at", "id"};
    bool desc = q->nsort ? q->sort[0].desc : true;

    for (size_t t = 0; t < 2; t++) {
        bool have = false;
        for (size_t i = 0; i < q->nsort; i++)
            have = have || strcmp(q->sort[i].key, ties[t]) == 0;
        if (!have)
            q->sort[q->nsort++] = (struct st_sort_key){ties[t], desc};
    }
}

static int uint_parse(const char *s, const char *name, unsigned *out, char *msg)
{
    unsigned long v;
    char *end;

    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
        return fail(msg, -EINVAL, "Invalid input received: %s param must be an integer.", name);
    v = strtoul(s, &end, 10);
    *out = (unsigned)v;
    return 0;
}

int volj_list_parse(enum volj_list_kind kind, volj_query_fn get, void *arg, unsigned mv,
                    struct volj_list_query *q, char *msg)
{
    const struct list_param *params = kinds[kind].params;
    struct volj_list_query x = {.kind = kind, .limit = VOLJ_LIMIT_MAX};
    const char *v, *sort, *keys, *dirs;
    bool b;
    int rc = 0;

    for (const struct list_param *p = params; rc == 0 && p->name; p++) {
        if (!(v = get(arg, p->name, 0)))
            continue;
        if (strcmp(p->name, "bootable") == 0 && volj_bool_parse(v, &b) < 0)
            rc = fail(msg, -EINVAL, "Invalid input received: bootable must be a boolean.");
        else if (x.nfilter >= VOLJ_FILTERS_MAX)
            rc = fail(msg, -EINVAL, "Too many filters.");
        else
            x.filter[x.nfilter++] = (struct volj_list_filter){p->field, v, p->service};
        if (rc == 0)
            rc = arg_add(&x, p->name, v, msg);
    }
    if (rc == 0 && (v = get(arg, "metadata", 0)) &&
        (rc = volj_metadata_query(v, &x.metadata, msg)) == 0)
        rc = arg_add(&x, "metadata", v, msg);
    if (rc == 0 && (v = get(arg, "all_tenants", 0))) {
        /* Cinder takes any value but a false word as asking for all. */
        x.all_tenants = volj_bool_parse(v, &b) < 0 || b;
        rc = arg_add(&x, "all_tenants", v, msg);
    }
    if (rc == 0 && mv >= 45 && (v = get(arg, "with_count", 0))) {
        if (volj_bool_parse(v, &x.with_count) < 0)
            rc = fail(msg, -EINVAL, "Invalid input received: with_count must be a boolean.");
        else
            rc = arg_add(&x, "with_count", v, msg);
    }
    if (rc == 0 && (v = get(arg, "limit", 0))) {
        rc = uint_parse(v, "limit", &x.limit, msg);
        x.limit_given = true;
        if (x.limit == 0 || x.limit > VOLJ_LIMIT_MAX)
            x.limit = VOLJ_LIMIT_MAX;
    }
    if (rc == 0 && (v = get(arg, "offset", 0)))
        rc = uint_parse(v, "offset", &x.offset, msg);
    x.marker = get(arg, "marker", 0);
    sort = get(arg, "sort", 0);
    keys = get(arg, "sort_key", 0);
    dirs = get(arg, "sort_dir", 0);
    if (rc == 0)
        rc = sort_parse(sort, keys, dirs, &x, msg);
    for (size_t i = 0; rc == 0 && i < 3; i++) {
        static const char *const names[] = {"sort", "sort_key", "sort_dir"};
        const char *val = i == 0 ? sort : i == 1 ? keys : dirs;
        if (val)
            rc = arg_add(&x, names[i], val, msg);
    }
    if (rc < 0) {
        json_decref(x.metadata);
        return rc;
    }
    sort_finish(&x);
    *q = x;
    return 0;
}

void volj_list_query_clear(struct volj_list_query *q)
{
    if (q) {
        json_decref(q->metadata);
        q->metadata = NULL;
    }
}

/* A quoted string ('...' or "...", an optional u prefix) of a metadata query. */
static int quoted(const char **s, char **out)
{
    const char *p = vj_skip_ws(*s);
    char q, *buf;
    size_t n = 0;

    if (*p == 'u')
        p++;
    if (*p != '\'' && *p != '"')
        return -EINVAL;
    q = *p++;
    if (!(buf = malloc(strlen(p) + 1)))
        return -ENOMEM;
    for (; *p && *p != q; p++) {
        if (*p == '\\' && p[1])
            p++;
        buf[n++] = *p;
    }
    if (*p != q) {
        free(buf);
        return -EINVAL;
    }
    buf[n] = '\0';
    *s = p + 1;
    *out = buf;
    return 0;
}

int volj_metadata_query(const char *text, json_t **out, char *msg)
{
    json_t *md = json_object();
    const char *p = vj_skip_ws(text);
    char *k = NULL, *v = NULL;
    int rc = md ? 0 : -ENOMEM;

    if (rc == 0 && *p != '{')
        rc = -EINVAL;
    else
        p = vj_skip_ws(p + 1);
    while (rc == 0 && *p != '}') {
        if ((rc = quoted(&p, &k)) < 0)
            break;
        p = vj_skip_ws(p);
        if (*p != ':') {
            rc = -EINVAL;
            break;
        }
        p++;
        if ((rc = quoted(&p, &v)) < 0)
            break;
        if (json_object_set_new(md, k, json_string(v)) < 0)
            rc = -EINVAL;
        free(k);
        free(v);
        k = v = NULL;
        p = vj_skip_ws(p);
        if (*p == ',')
            p = vj_skip_ws(p + 1);
        else if (*p != '}')
            rc = -EINVAL;
    }
    if (rc == 0 && *vj_skip_ws(p + 1))
        rc = -EINVAL;
    free(k);
    free(v);
    if (rc < 0) {
        json_decref(md);
        return rc == -ENOMEM ? rc
                             : fail(msg, -EINVAL,
                                    "Invalid input received: metadata must be a dictionary of "
                                    "strings, as metadata={\"key\": \"value\"}.");
    }
    *out = md;
    return 0;
}

static bool eq_match(const json_t *field, const char *want)
{
    bool b;

    if (json_is_string(field))
        return strcmp(json_string_value(field), want) == 0;
    if (json_is_integer(field)) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(field));
        return strcmp(buf, want) == 0;
    }
    if (json_is_boolean(field))
        return volj_bool_parse(want, &b) == 0 && b == json_is_true(field);
    return false;
}

bool volj_list_match(const json_t *rec, const struct volj_list_query *q)
{
    const json_t *md = json_object_get(rec, "metadata"), *v;
    const char *k;

    for (size_t i = 0; i < q->nfilter; i++) {
        const struct volj_list_filter *f = &q->filter[i];
        const json_t *field = json_object_get(rec, f->name);
        if (strcmp(f->name, "volume_type") == 0) {
            /* by the type's name or id ("default": the default type) */
            const char *t = json_string_value(field);
            const char *tid = st_json_str(rec, "volume_type_id");
            if (!t || !*t)
                t = VOLJ_DEFAULT_TYPE_NAME;
            if (!tid)
                tid = VOLJ_DEFAULT_TYPE_ID;
            if (strcmp(t, f->value) != 0 && strcasecmp(tid, f->value) != 0 &&
                !(strcmp(f->value, "default") == 0 && strcmp(tid, VOLJ_DEFAULT_TYPE_ID) == 0))
                return false;
        } else if (strcmp(f->name, "bootable") == 0) {
            bool want = false;
            volj_bool_parse(f->value, &want);
            if (json_is_true(field) != want)
                return false;
        } else if (!eq_match(field, f->value)) {
            return false;
        }
    }
    json_object_foreach(q->metadata, k, v)
    {
        if (!json_equal(json_object_get(md, k), v))
            return false;
    }
    return true;
}

void volj_list_filter(json_t *recs, const struct volj_list_query *q)
{
    for (size_t i = json_array_size(recs); i > 0; i--) {
        if (!volj_list_match(json_array_get(recs, i - 1), q))
            json_array_remove(recs, i - 1);
    }
}

/* null < booleans < numbers < strings. */
static const json_t *sort_value(const json_t *rec, const char *key, void *arg)
{
    return strcmp(key, "project_id") == 0 ? vj_record_project_json(rec)
                                          : json_object_get(rec, key);
}

int volj_list_page(json_t *recs, const struct volj_list_query *q, const json_t *marker_rec,
                   json_t **page, bool *more)
{
    struct st_sort s = { q->sort, q->nsort, sort_value, NULL };
    struct st_page_req r = { q->marker, marker_rec, q->offset, q->limit };

    return st_json_page(recs, &s, &r, page, more);
}

static char *next_link(const struct volj_list_query *q, const struct volj_ctx *c, bool detail,
                       const char *marker)
{
    const char *coll = kinds[q->kind].coll;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    fprintf(f, "%s/v3/%s/%s%s?", c->base_url, c->project_id, coll, detail ? "/detail" : "");
    for (size_t i = 0; i < q->narg; i++) {
        st_url_encode(f, q->arg[i].name);
        fputc('=', f);
        st_url_encode(f, q->arg[i].value);
        fputc('&', f);
    }
    if (q->limit_given)
        fprintf(f, "limit=%u&", q->limit);
    fputs("marker=", f);
    st_url_encode(f, marker);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

json_t *volj_list_body(json_t *views, const struct volj_list_query *q, const struct volj_ctx *c,
                       bool detail, const char *next_marker, size_t count)
{
    const char *coll = kinds[q->kind].coll;
    char links[32], *next = next_marker ? next_link(q, c, detail, next_marker) : NULL;
    json_t *body = json_object();
    bool ok = body && views && (!next_marker || next);

    snprintf(links, sizeof(links), "%s_links", coll);
    ok = ok && json_object_set(body, coll, views) == 0;
    if (ok && q->with_count)
        ok = json_object_set_new(body, "count", json_integer((json_int_t)count)) == 0;
    if (ok && next)
        ok = json_object_set_new(body, links,
                                 json_pack("[{s:s,s:s}]", "href", next, "rel", "next")) == 0;
    json_decref(views);
    free(next);
    if (!ok) {
        json_decref(body);
        return NULL;
    }
    return body;
}
