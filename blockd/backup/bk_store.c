/* bk_store.c — the backup object store's front: checks names and the conf,
 * then dispatches to the kind's table (bk_store_rados.c, _dir.c, _ec.c). */
#include "bk_store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strata/strutil.h"

#define DESC_MAX 4096

struct bk_store {
    const struct bk_store_ops *ops;
    void *impl;
    char desc[DESC_MAX];
};

static const struct bk_store_ops *const kinds[] = {
    [BK_STORE_RADOS] = &bk_store_rados_ops,
    [BK_STORE_DIR] = &bk_store_dir_ops,
    [BK_STORE_EC] = &bk_store_ec_ops,
};

static bool segment_char_ok(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

/* One segment of len bytes at s (not NUL-terminated). */
static bool segment_ok(const char *s, size_t len)
{
    if (len == 0 || len > BK_SEGMENT_MAX)
        return false;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!segment_char_ok(s[i]))
            return false;
    for (size_t i = 0; i + 5 <= len; i++)
        if (memcmp(s + i, ".tmp.", 5) == 0)
            return false;
    return true;
}

bool bk_store_name_ok(const char *name)
{
    const char *seg;

    if (!name || !name[0] || strlen(name) > BK_NAME_MAX)
        return false;
    for (seg = name;;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);

        if (!segment_ok(seg, len))
            return false;
        if (!slash)
            return true;
        seg = slash + 1;
    }
}

bool bk_store_has_prefix(const char *name, const char *prefix)
{
    return !prefix || strncmp(name, prefix, strlen(prefix)) == 0;
}

static int conf_check(const struct bk_store_conf *c, char *msg, size_t msglen)
{
    if (!c || (unsigned)c->kind >= sizeof(kinds) / sizeof(kinds[0]))
        return st_msgf(msg, msglen, -EINVAL, "unknown backup store kind");
    if (c->kind == BK_STORE_RADOS && (!c->cluster || !c->pool || !c->pool[0]))
        return st_msgf(msg, msglen, -EINVAL, "a RADOS backup store needs a cluster and a pool");
    if (c->kind != BK_STORE_RADOS && (!c->dirs || c->ndirs == 0))
        return st_msgf(msg, msglen, -EINVAL, "a directory backup store needs directories");
    for (unsigned i = 0; c->kind != BK_STORE_RADOS && i < c->ndirs; i++)
        if (!c->dirs[i] || !c->dirs[i][0])
            return st_msgf(msg, msglen, -EINVAL, "backup store directory %u is empty", i);
    return 0;
}

int bk_store_open(const struct bk_store_conf *c, struct bk_store **out, char *msg, size_t msglen)
{
    struct bk_store *s;
    int rc = conf_check(c, msg, msglen);

    if (rc < 0)
        return rc;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->ops = kinds[c->kind];
    rc = s->ops->open(c, &s->impl, s->desc, sizeof(s->desc), msg, msglen);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void bk_store_close(struct bk_store *s)
{
    if (!s)
        return;
    s->ops->close(s->impl);
    free(s);
}

int bk_store_put(struct bk_store *s, const char *name, const void *data, size_t len)
{
    if (!bk_store_name_ok(name) || (!data && len))
        return -EINVAL;
    return s->ops->put(s->impl, name, data, len);
}

int bk_store_get(struct bk_store *s, const char *name, void **data, size_t *len)
{
    if (!bk_store_name_ok(name))
        return -EINVAL;
    return s->ops->get(s->impl, name, data, len);
}

int bk_store_stat(struct bk_store *s, const char *name, uint64_t *len)
{
    if (!bk_store_name_ok(name))
        return -EINVAL;
    return s->ops->stat(s->impl, name, len);
}

int bk_store_remove(struct bk_store *s, const char *name)
{
    if (!bk_store_name_ok(name))
        return -EINVAL;
    return s->ops->remove(s->impl, name);
}

int bk_store_list(struct bk_store *s, const char *prefix, int (*fn)(void *arg, const char *name),
                  void *arg)
{
    if (!fn)
        return -EINVAL;
    return s->ops->list(s->impl, prefix, fn, arg);
}

const char *bk_store_describe(const struct bk_store *s)
{
    return s->desc;
}
