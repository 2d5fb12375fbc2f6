/* http_route.c — route matching for the HTTP server.
 * The raw (still percent-encoded) path is split on '/' and matched segment by
 * segment against "/a/{name}/c" patterns; literal segments beat parameters,
 * and captured parameters are percent-decoded only after the split. */
#include "http_internal.h"
#include "strata/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct seg {
    const char *s;
    size_t len;
};

struct capture {
    struct seg name;  /* inside the pattern, without the braces */
    struct seg value; /* inside the path, still encoded */
};

/* Length of p without one insignificant trailing slash (the root keeps it). */
static size_t trimmed_len(const char *p)
{
    size_t n = strlen(p);

    if (n > 1 && p[n - 1] == '/')
        n--;
    return n;
}

/* The segment starting at s[*pos] (just after a '/') and ending before the
 * next '/' or at end; *pos moves past it (to end + 1 after the last one). */
static void next_seg(const char *s, size_t end, size_t *pos, struct seg *out)
{
    const char *slash = memchr(s + *pos, '/', end - *pos);
    size_t stop = slash ? (size_t)(slash - s) : end;

    out->s = s + *pos;
    out->len = stop - *pos;
    *pos = stop + 1;
}

static bool is_param(const struct seg *g)
{
    return g->len >= 3 && g->s[0] == '{' && g->s[g->len - 1] == '}';
}

/* Match one pattern against the path.  *score gets one bit per segment, set
 * for literal segments, so that among routes matching the same path the one
 * whose first differing segment is literal compares higher. */
static bool match_pattern(const char *pattern, const char *path, struct capture *caps,
                          size_t *ncaps, uint64_t *score)
{
    size_t pend = trimmed_len(pattern), uend = trimmed_len(path);
    size_t ppos = 1, upos = 1, n = 0;
    uint64_t sc = 0;
    struct seg ps, us;

    while (ppos <= pend && upos <= uend) {
        next_seg(pattern, pend, &ppos, &ps);
        next_seg(path, uend, &upos, &us);
        if (is_param(&ps)) {
            if (us.len == 0 || n == ST_HTTP_MAX_PARAMS)
                return false;
            caps[n].name = (struct seg){ps.s + 1, ps.len - 2};
            caps[n].value = us;
            n++;
            sc <<= 1;
        } else if (ps.len == us.len && memcmp(ps.s, us.s, ps.len) == 0) {
            sc = (sc << 1) | 1u;
        } else {
            return false;
        }
    }
    if (ppos <= pend || upos <= uend)
        return false;
    *ncaps = n;
    *score = sc;
    return true;
}

/* Append method to the comma-separated Allow list unless already there. */
static void allow_add(char *allow, const char *method)
{
    size_t mlen = strlen(method), used = strlen(allow);
    const char *p = allow;

    while ((p = strstr(p, method)) != NULL) {
        if ((p == allow || p[-1] == ' ') && (p[mlen] == ',' || p[mlen] == '\0'))
            return;
        p += mlen;
    }
    if (used + mlen + 3 > ST_HTTP_ALLOW_MAX)
        return;
    snprintf(allow + used, ST_HTTP_ALLOW_MAX - used, "%s%s", used ? ", " : "", method);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    return tolower((unsigned char)c) - 'a' + 10;
}

int st_url_decode(const char *s, size_t len, bool plus_space, char **out)
{
    char *buf = malloc(len + 1);
    size_t o = 0;
    int rc = 0;

    if (!buf)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            if (c == '\0') {
                rc = -EINVAL;
                break;
            }
            i += 2;
        } else if (plus_space && c == '+') {
            c = ' ';
        }
        buf[o++] = c;
    }
    buf[o] = '\0';
    if (rc < 0)
        free(buf);
    else
        *out = buf;
    return rc;
}

void st_kv_free_all(struct st_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
        kv[i].name = kv[i].value = NULL;
    }
}

int st_route_validate(const struct st_route *r)
{
    size_t end, pos = 1, nparams = 0;
    struct seg g;

    if (!r->method || !r->pattern || r->pattern[0] != '/')
        return -EINVAL;
    if ((r->flags & ST_ROUTE_STREAM_BODY)
            ? (!r->stream || !r->stream->begin || !r->stream->data || !r->stream->end)
            : !r->handler)
        return -EINVAL;
    end = trimmed_len(r->pattern);
    while (pos <= end) {
        next_seg(r->pattern, end, &pos, &g);
        bool braces = memchr(g.s, '{', g.len) || memchr(g.s, '}', g.len);
        if (!braces)
            continue;
        if (!is_param(&g) || memchr(g.s + 1, '{', g.len - 2) || memchr(g.s + 1, '}', g.len - 2))
            return -EINVAL;
        if (++nparams > ST_HTTP_MAX_PARAMS)
            return -EINVAL;
    }
    return 0;
}

int st_route_find(const struct st_route *const *tables, const char *method, const char *path,
                  struct st_route_match *m)
{
    struct capture caps[ST_HTTP_MAX_PARAMS], best_caps[ST_HTTP_MAX_PARAMS];
    size_t ncaps = 0, nbest = 0, i;
    uint64_t score, best_score = 0;
    int rc = 0;

    memset(m, 0, sizeof(*m));
    if (path[0] != '/')
        return -ENOENT;
    for (size_t t = 0; tables[t]; t++) {
        for (const struct st_route *r = tables[t]; r->method; r++) {
            if (!match_pattern(r->pattern, path, caps, &ncaps, &score))
                continue;
            if (strcmp(r->method, method) != 0) {
                allow_add(m->allow, r->method);
                continue;
            }
            if (m->route && score <= best_score)
                continue;
            m->route = r;
            best_score = score;
            nbest = ncaps;
            memcpy(best_caps, caps, sizeof(caps[0]) * ncaps);
        }
    }
    if (!m->route)
        return m->allow[0] ? -EOPNOTSUPP : -ENOENT;
    for (i = 0; i < nbest && rc == 0; i++) {
        m->params[i].name = strndup(best_caps[i].name.s, best_caps[i].name.len);
        rc = m->params[i].name ? st_url_decode(best_caps[i].value.s, best_caps[i].value.len, false,
                                               &m->params[i].value)
                               : -ENOMEM;
        m->nparams = i + 1;
    }
    if (rc < 0) {
        st_kv_free_all(m->params, m->nparams);
        m->nparams = 0;
        m->route = NULL;
    }
    return rc;
}
