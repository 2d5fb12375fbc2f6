/* image_json_patch.c — Glance's image PATCH (JSON Patch, the
 * openstack-images-v2.1 media type): parsed, checked against the property table, applied. */
#include "image_json_internal.h"

enum op_kind { OP_ADD, OP_REPLACE, OP_REMOVE };
static const char *const op_names[] = {"add", "replace", "remove", NULL};

struct patch_op {
    enum op_kind op;
    char *name;              /* first path segment, decoded */
    char *sub;               /* second segment (tags only) or NULL */
    bool append;             /* sub is "-" */
    size_t index;            /* sub as a number */
    const struct prop *prop; /* row of name, or NULL */
    json_t *value;           /* own reference; NULL for remove */
};

struct imgj_patch {
    int draft;
    size_t n;
    struct patch_op ops[];
};

int imgj_patch_media_type(const char *content_type, int *draft)
{
    if (imgj_media_type_is(content_type, "application/openstack-images-v2.1-json-patch"))
        *draft = 10;
    else if (imgj_media_type_is(content_type, "application/openstack-images-v2.0-json-patch"))
        *draft = 4;
    else
        return -EINVAL;
    return 0;
}

void imgj_patch_free(struct imgj_patch *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->ops[i].name);
        free(p->ops[i].sub);
        json_decref(p->ops[i].value);
    }
    free(p);
}

/* Decode one pointer segment [s, s+len): ~1 is '/', ~0 is '~'. */
static char *segment_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1), *o = out;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '~') {
            *o++ = s[i + 1] == '1' ? '/' : '~';
            i++;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* Split a JSON pointer into its first segment and an optional second one,
 * with Glance's restrictions (no empty segment, only ~0/~1, depth ≤ 2). */
static int pointer_parse(const char *ptr, struct patch_op *op, char *msg)
{
    const char *seg[2] = {NULL, NULL}, *s;
    size_t len[2] = {0, 0}, n = 0;

    if (ptr[0] != '/')
        return fail(msg, -EINVAL, "Pointer `%s` does not start with \"/\".", ptr);
    for (s = ptr + 1;; s++) {
        const char *end = s + strcspn(s, "/");
        if (end == s)
            return fail(msg, -EINVAL, "Pointer `%s` contains an empty segment.", ptr);
        if (n == 2)
            return fail(msg, -EINVAL, "Invalid JSON pointer for this resource: '%s'", ptr);
        for (const char *t = s; t < end; t++) {
            if (*t == '~' && (t + 1 == end || (t[1] != '0' && t[1] != '1')))
                return fail(msg, -EINVAL,
                            "Pointer `%s` contains \"~\" not part of a recognized escape "
                            "sequence.",
                            ptr);
        }
        seg[n] = s;
        len[n++] = (size_t)(end - s);
        if (!*end)
            break;
        s = end;
    }
    op->name = segment_decode(seg[0], len[0]);
    op->sub = seg[1] ? segment_decode(seg[1], len[1]) : NULL;
    return op->name && (!seg[1] || op->sub) ? 0 : -ENOMEM;
}

/* The second segment of /tags/N: "-" (append, add only) or an index. */
static int index_parse(struct patch_op *op, const char *ptr, char *msg)
{
    const char *s = op->sub;
    char *end;
    unsigned long v;

    if (strcmp(op->name, "tags") != 0)
        return fail(msg, -EINVAL, "Invalid JSON pointer for this resource: '%s'", ptr);
    if (strcmp(s, "-") == 0 && op->op == OP_ADD) {
        op->append = true;
        return 0;
    }
    errno = 0;
    v = isdigit((unsigned char)s[0]) ? strtoul(s, &end, 10) : 0;
    if (!isdigit((unsigned char)s[0]) || *end || errno || (s[0] == '0' && s[1]) ||
        v >= TAGS_ARRAY_MAX)
        return fail(msg, -EINVAL, "Invalid JSON pointer for this resource: '%s'", ptr);
    op->index = v;
    return 0;
}

/* The operation name and path of one change, in draft 10 or draft 4 form. */
static int change_op_path(const json_t *c, int draft, enum op_kind *op, const char **path,
                          char *msg)
{
    const char *name = NULL;
    size_t found = 0;

    if (draft == 10) {
        name = st_json_str(c, "op");
        *path = st_json_str(c, "path");
        if (!name)
            return fail(msg, -EINVAL, "Unable to find 'op' in JSON Schema change");
        if (!*path)
            return fail(msg, -EINVAL, "Unable to find 'path' in JSON Schema change");
    } else {
        for (size_t i = 0; op_names[i]; i++) {
            if (json_object_get(c, op_names[i])) {
                name = op_names[i];
                found++;
            }
        }
        if (found != 1)
            return fail(msg, -EINVAL,
                        "Operation objects must contain exactly one member named \"add\", "
                        "\"remove\", or \"replace\".");
        *path = st_json_str(c, name);
        if (!*path)
            return fail(msg, -EINVAL, "The path of \"%s\" must be a string.", name);
    }
    for (size_t i = 0; op_names[i]; i++) {
        if (strcmp(op_names[i], name) == 0) {
            *op = (enum op_kind)i;
            return 0;
        }
    }
    return fail(msg, -EINVAL, "Invalid operation: `%s`.", name);
}

/* Everything about one change that does not need the record. */
static int change_parse(const json_t *c, int draft, bool is_admin, struct patch_op *op, char *msg)
{
    const char *path = NULL;
    json_t *value;
    int rc;

    if (!json_is_object(c))
        return fail(msg, -EINVAL, "Operations must be JSON objects.");
    if ((rc = change_op_path(c, draft, &op->op, &path, msg)) < 0 ||
        (rc = pointer_parse(path, op, msg)) < 0)
        return rc;
    op->prop = ij_prop_find(op->name);
    if ((rc = ij_access_check(op->name, op->prop, false, is_admin, msg)) < 0)
        return rc;
    if (op->sub && (rc = index_parse(op, path, msg)) < 0)
        return rc;
    if (op->op == OP_REMOVE) {
        if (!op->sub && ij_is_base(op->prop))
            return fail(msg, -EPERM, "Property %s may not be removed.", op->name);
        return 0;
    }
    value = json_object_get(c, "value");
    if (!value)
        return fail(msg, -EINVAL, "Operation \"%s\" requires a member named \"value\".",
                    op_names[op->op]);
    rc = op->sub ? imgj_tag_check(json_string_value(value), msg)
                 : ij_member_check(op->name, value, false, is_admin, msg);
    if (rc == 0)
        op->value = json_incref(value);
    return rc;
}

int imgj_patch_parse(const json_t *ops, int draft, bool is_admin, struct imgj_patch **out,
                     char *msg)
{
    struct imgj_patch *p;
    size_t n = json_array_size(ops);
    int rc = 0;

    if (!json_is_array(ops))
        return fail(msg, -EINVAL, "The request body must be a JSON array of operations.");
    if (draft != 4 && draft != 10)
        return -EINVAL;
    p = calloc(1, sizeof(*p) + n * sizeof(p->ops[0]));
    if (!p)
        return -ENOMEM;
    p->draft = draft;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        p->n = i + 1;
        rc = change_parse(json_array_get(ops, i), draft, is_admin, &p->ops[i], msg);
    }
    if (rc < 0) {
        imgj_patch_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* add/replace/remove on /tags/N. */
static int tag_op_apply(json_t *rec, const struct patch_op *op, char *msg)
{
    json_t *tags = ij_record_tags(rec);
    size_t n = json_array_size(tags), idx = op->append ? n : op->index;
    const char *tag = json_string_value(op->value);
    long at;

    if (!tags)
        return -ENOMEM;
    if (op->op == OP_ADD ? idx > n : idx >= n)
        return fail(msg, -EINVAL, "Invalid JSON pointer for this resource: '/tags/%s'", op->sub);
    if (op->op == OP_ADD)
        return ij_tag_insert(tags, idx, tag, msg);
    if (op->op == OP_REMOVE)
        return json_array_remove(tags, idx) == 0 ? 0 : -ENOMEM;
    at = ij_tag_index(tags, tag);
    if (at >= 0 && (size_t)at != idx) /* already elsewhere: the set just loses this one */
        return json_array_remove(tags, idx) == 0 ? 0 : -ENOMEM;
    return json_array_set_new(tags, idx, json_string(tag)) == 0 ? 0 : -ENOMEM;
}

static int op_apply(json_t *rec, const struct patch_op *op, int draft, char *msg)
{
    json_t *cur = json_object_get(rec, op->name), *value;
    const char *status = st_json_str(rec, "status");
    bool present = cur || ij_is_base(op->prop);

    if (op->sub)
        return tag_op_apply(rec, op, msg);
    if (op->op == OP_ADD && present && draft == 4)
        return fail(msg, -ECANCELED, "Property %s already present.", op->name);
    if (op->op != OP_ADD && !present)
        return fail(msg, -ECANCELED, "Property %s does not exist.", op->name);
    if (op->op == OP_REMOVE)
        return json_object_del(rec, op->name) == 0 ? 0 : -ENOMEM;
    if (op->prop && (op->prop->flags & F_QUEUED) && !json_equal(cur, op->value) &&
        (!status || strcmp(status, "queued") != 0))
        return fail(msg, -EPERM, "Attribute %s can be only replaced for a queued image.", op->name);
    value = op->prop && op->prop->type == T_TAGS ? ij_tags_unique(op->value)
                                                 : json_incref(op->value);
    if (!value || json_object_set_new(rec, op->name, value) < 0)
        return -ENOMEM;
    return 0;
}

int imgj_patch_apply(json_t *record, const struct imgj_patch *p, char *msg)
{
    json_t *work = json_deep_copy(record);
    int rc = work ? 0 : -ENOMEM;

    for (size_t i = 0; rc == 0 && i < p->n; i++)
        rc = op_apply(work, &p->ops[i], p->draft, msg);
    if (rc == 0)
        rc = ij_props_count_check(work, msg);
    if (rc == 0 && (json_object_clear(record) < 0 || json_object_update(record, work) < 0))
        rc = -ENOMEM;
    json_decref(work);
    return rc;
}
