/* meta_list.c — listing a kind's records: omap pages read in key order,
 * filters and a predicate applied, markers and truncation as the APIs page. */
#include "meta_internal.h"

static bool filter_match(const json_t *data, const struct st_meta_filter *f)
{
    json_t *v = json_object_get(data, f->field);
    char *text;
    bool eq;

    if (!f->value)
        return !v || json_is_null(v);
    if (json_is_string(v))
        return strcmp(json_string_value(v), f->value) == 0;
    if (!json_is_number(v) && !json_is_boolean(v))
        return false;
    text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    eq = text && strcmp(text, f->value) == 0;
    free(text);
    return eq;
}

struct list_state {
    size_t limit;
    const struct st_meta_filter *filters;
    size_t nfilters;
    st_meta_pred_fn pred;
    void *pred_arg;
    char after_r[KEY_MAX];
    char after_v[KEY_MAX];
    size_t cap;
    bool done;
    struct st_record_list *out;
};

static bool list_wants(const struct list_state *s, const json_t *data)
{
    for (size_t i = 0; i < s->nfilters; i++)
        if (!filter_match(data, &s->filters[i]))
            return false;
    return !s->pred || s->pred(data, s->pred_arg);
}

static int list_append(struct list_state *s, struct st_record *r)
{
    struct st_record_list *l = s->out;

    if (l->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct st_record *items = realloc(l->items, cap * sizeof(*items));
        if (!items)
            return -ENOMEM;
        l->items = items;
        s->cap = cap;
    }
    l->items[l->count++] = *r;
    return 0;
}

/* Take one key pair of a page; sets s->done once limit is reached. */
static int list_take(struct list_state *s, const char *oid, const char *rk, const char *rv,
                     size_t rvlen, const char *vk, const char *vv, size_t vvlen)
{
    struct st_record r = {0};
    int rc;

    if (strcmp(rk + 2, vk + 2) != 0) {
        st_error("meta: %s: record %s has no matching version key", oid, rk + 2);
        return -EIO;
    }
    if (s->out->count == s->limit) {
        s->out->truncated = true;
        s->done = true;
        return 0;
    }
    snprintf(s->after_r, KEY_MAX, "%s", rk);
    snprintf(s->after_v, KEY_MAX, "%s", vk);
    /* A corrupt record is logged and skipped: one bad entry fails no listing. */
    if (meta_record_fill(&r, oid, rk + 2, rv, rvlen, vv, vvlen) < 0)
        return 0;
    if (!list_wants(s, r.data)) {
        st_record_cleanup(&r);
        return 0;
    }
    rc = list_append(s, &r);
    if (rc < 0)
        st_record_cleanup(&r);
    return rc;
}

/* One read op returns the r/ and v/ ranges after the cursor together, so each
 * record's body and version come from the same atomic snapshot. */
static int list_page(struct st_meta *m, const char *oid, struct list_state *s)
{
    uint64_t page = s->limit < LIST_PAGE_MAX / 2 ? s->limit * 2 : LIST_PAGE_MAX;
    rados_omap_iter_t ri = NULL, vi = NULL;
    unsigned char rmore = 0, vmore = 0;
    int rpr = 0, vpr = 0, rc;
    rados_read_op_t op = rados_create_read_op();

    if (!op)
        return -ENOMEM;
    rados_read_op_omap_get_vals2(op, s->after_r, "r/", page, &ri, &rmore, &rpr);
    rados_read_op_omap_get_vals2(op, s->after_v, "v/", page, &vi, &vmore, &vpr);
    rc = rados_read_op_operate(op, m->io, oid, 0);
    if (rc == 0)
        rc = rpr ? rpr : vpr;
    if (rc == -ENOENT) {
        s->done = true;
        rc = 0;
    }
    while (rc == 0 && !s->done) {
        char *rk, *rv, *vk, *vv;
        size_t rkl, rvl, vkl, vvl;

        rc = rados_omap_get_next2(ri, &rk, &rv, &rkl, &rvl);
        if (rc == 0)
            rc = rados_omap_get_next2(vi, &vk, &vv, &vkl, &vvl);
        if (rc < 0)
            break;
        if (!rk || !vk) {
            if (rk || vk) {
                st_error("meta: %s: record and version keys out of step", oid);
                rc = -EIO;
            }
            s->done = !rmore;
            break;
        }
        rc = list_take(s, oid, rk, rv, rvl, vk, vv, vvl);
    }
    if (ri)
        rados_omap_get_end(ri);
    if (vi)
        rados_omap_get_end(vi);
    rados_release_read_op(op);
    if (rc < 0 && rc != -EIO)
        st_error("meta: list %s: %s", oid, strerror(-rc));
    return rc;
}

int st_meta_list(struct st_meta *m, const struct st_meta_kind *k, const char *marker, size_t limit,
                 const struct st_meta_filter *filters, size_t nfilters, st_meta_pred_fn pred,
                 void *pred_arg, struct st_record_list *out)
{
    struct list_state s = {.limit = limit ? limit : LIST_DEFAULT,
                           .filters = filters,
                           .nfilters = nfilters,
                           .pred = pred,
                           .pred_arg = pred_arg,
                           .out = out};
    char oid[OID_MAX];
    int rc;

    if (!m || !out || (nfilters && !filters))
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    rc = meta_kind_oid(k, oid);
    for (size_t i = 0; rc == 0 && i < nfilters; i++)
        if (!filters[i].field)
            rc = -EINVAL;
    if (rc == 0 && marker && marker[0]) {
        if (meta_name_valid(marker, ST_META_ID_MAX)) {
            meta_make_key(s.after_r, 'r', marker);
            meta_make_key(s.after_v, 'v', marker);
        } else {
            rc = -EINVAL;
        }
    }
    while (rc == 0 && !s.done)
        rc = list_page(m, oid, &s);
    if (rc < 0)
        st_record_list_cleanup(out);
    else if (out->truncated && out->count)
        snprintf(out->next_marker, sizeof(out->next_marker), "%s", out->items[out->count - 1].id);
    return rc;
}

int st_meta_list_all(struct st_meta *m, const struct st_meta_kind *k, st_meta_pred_fn pred,
                     void *pred_arg, json_t **out)
{
    char marker[ST_META_ID_MAX + 1] = "";
    json_t *all = json_array();
    int rc = all ? 0 : -ENOMEM;

    while (rc == 0) {
        struct st_record_list l = { 0 };
        rc = st_meta_list(m, k, marker[0] ? marker : NULL, 1000, NULL, 0, pred, pred_arg, &l);
        for (size_t i = 0; rc == 0 && i < l.count; i++)
            if (json_array_append(all, l.items[i].data) < 0)
                rc = -ENOMEM;
        bool more = rc == 0 && l.truncated;
        snprintf(marker, sizeof(marker), "%s", l.next_marker);
        st_record_list_cleanup(&l);
        if (!more)
            break;
    }
    if (rc < 0) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return 0;
}

void st_record_list_cleanup(struct st_record_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        st_record_cleanup(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}
