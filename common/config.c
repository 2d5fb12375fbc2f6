/* config.c — loads strata.conf (INI, parsed by inih) against tables of typed
 * options.  Values are kept as one flat array in table order, keyed by
 * (section, key); every value is checked once at load, so getters cannot fail. */
#include "strata/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strata/log.h"

struct cfg_val {
    const struct st_opt *opt;
    char *text;      /* as written in the file (trimmed by inih); NULL = not set */
    int line;        /* line of the last assignment in the file */
    const char *str; /* effective text: text, canonical enum choice or default */
    union {
        int64_t i;
        uint64_t u;
        bool b;
    } v;
};

struct st_config {
    char *path;
    struct cfg_val *vals;
    size_t nvals;
};

/* State shared by the line reader and the inih handler during one load. */
struct load_ctx {
    struct st_config *cfg;
    const char *path;
    FILE *fp;
    int line;           /* number of the line inih is parsing */
    bool indented;      /* that line starts with blanks */
    bool too_long;      /* the reader met a line longer than inih's buffer */
    int continued;      /* line of an (unsupported) continuation line, or 0 */
    int err;            /* -ENOMEM from the handler */
    char last_unknown[128];
    char last_section[128], last_key[128]; /* of the previous handler call */
};

/* ---- value parsers ---- */

/* Leading unsigned decimal: 0, -EINVAL (no digit) or -ERANGE; *end after it. */
static int parse_digits(const char *s, uint64_t *out, const char **end)
{
    char *e;
    unsigned long long n;

    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    n = strtoull(s, &e, 10);
    *end = e;
    if (errno == ERANGE)
        return -ERANGE;
    *out = n;
    return 0;
}

static int parse_int_ex(const char *s, int64_t *out)
{
    const char *p = s;
    char *e;
    long long n;

    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return -EINVAL;
    errno = 0;
    n = strtoll(s, &e, 10);
    if (*e != '\0')
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    *out = n;
    return 0;
}

struct unit {
    const char *suffix;
    uint64_t mult;
};

static const struct unit size_units[] = {
    { "", 1 },
    { "B", 1 },
    { "K", 1ULL << 10 }, { "KiB", 1ULL << 10 },
    { "M", 1ULL << 20 }, { "MiB", 1ULL << 20 },
    { "G", 1ULL << 30 }, { "GiB", 1ULL << 30 },
    { "T", 1ULL << 40 }, { "TiB", 1ULL << 40 },
    { NULL, 0 },
};

static const struct unit duration_units[] = {
    { "", 1000 },
    { "ms", 1 },
    { "s", 1000 },
    { "m", 60ULL * 1000 },
    { "h", 3600ULL * 1000 },
    { "d", 86400ULL * 1000 },
    { NULL, 0 },
};

/* Number with a unit suffix from `units`, result <= limit: 0, -EINVAL, -ERANGE. */
static int parse_scaled(const char *s, const struct unit *units, bool ci, uint64_t limit,
                        uint64_t *out)
{
    const char *end = s;
    uint64_t n = 0;
    int rc = parse_digits(s, &n, &end);

    if (rc == -EINVAL)
        return rc;
    for (const struct unit *u = units; u->suffix; u++) {
        if (ci ? strcasecmp(end, u->suffix) != 0 : strcmp(end, u->suffix) != 0)
            continue;
        if (rc == -ERANGE || n > limit / u->mult)
            return -ERANGE;
        *out = n * u->mult;
        return 0;
    }
    return -EINVAL;
}

static int parse_size_ex(const char *s, uint64_t *out)
{
    return parse_scaled(s, size_units, true, UINT64_MAX, out);
}

static int parse_duration_ex(const char *s, int64_t *out)
{
    uint64_t ms;
    int rc = parse_scaled(s, duration_units, false, INT64_MAX, &ms);

    if (rc == 0)
        *out = (int64_t)ms;
    return rc;
}

int st_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1", NULL };
    static const char *const no[] = { "false", "no", "off", "0", NULL };

    if (!s || !out)
        return -EINVAL;
    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

int st_parse_int(const char *s, int64_t *out)
{
    if (!s || !out)
        return -EINVAL;
    return parse_int_ex(s, out) < 0 ? -EINVAL : 0;
}

int st_parse_size(const char *s, uint64_t *out)
{
    if (!s || !out)
        return -EINVAL;
    return parse_size_ex(s, out) < 0 ? -EINVAL : 0;
}

int st_parse_duration_ms(const char *s, int64_t *out)
{
    if (!s || !out)
        return -EINVAL;
    return parse_duration_ex(s, out) < 0 ? -EINVAL : 0;
}

/* ---- formatting bounds for messages ---- */

static void fmt_scaled(char *buf, size_t len, int64_t v, const char *const *names,
                       const int64_t *mults)
{
    for (int i = 0; names[i]; i++) {
        if (v != 0 && v % mults[i] == 0) {
            snprintf(buf, len, "%" PRId64 "%s", v / mults[i], names[i]);
            return;
        }
    }
    snprintf(buf, len, "%" PRId64, v);
}

static void fmt_bound(char *buf, size_t len, enum st_opt_type type, int64_t v)
{
    static const char *const size_names[] = { "T", "G", "M", "K", NULL };
    static const int64_t size_mults[] = { 1LL << 40, 1LL << 30, 1LL << 20, 1LL << 10 };
    static const char *const dur_names[] = { "d", "h", "m", "s", "ms", NULL };
    static const int64_t dur_mults[] = { 86400000, 3600000, 60000, 1000, 1 };

    if (type == ST_OPT_SIZE)
        fmt_scaled(buf, len, v, size_names, size_mults);
    else if (type == ST_OPT_DURATION)
        fmt_scaled(buf, len, v, dur_names, dur_mults);
    else
        snprintf(buf, len, "%" PRId64, v);
    if (type == ST_OPT_DURATION && v == 0)
        snprintf(buf, len, "0s");
}

/* ---- checking one value against its option row ---- */

static bool bounded(const struct st_opt *o)
{
    return o->min != 0 || o->max != 0;
}

static int check_range(const struct st_opt *o, int64_t v, bool too_big, char *why, size_t len)
{
    char lo[32], hi[32];

    if (!bounded(o) || (!too_big && v >= o->min && v <= o->max))
        return 0;
    fmt_bound(lo, sizeof(lo), o->type, o->min);
    fmt_bound(hi, sizeof(hi), o->type, o->max);
    snprintf(why, len, "must be between %s and %s", lo, hi);
    return -EINVAL;
}

/* Parse `text` for option `o` into `val`: 0, or -EINVAL with the reason in why. */
/* An integer-valued option (a count or a duration): parsed by parse, then
 * checked against the option's bounds; why says what is wrong. */
static int parse_signed(const struct st_opt *o, const char *text,
                        int (*parse)(const char *s, int64_t *out), const char *not_what, int64_t *v,
                        char *why, size_t len)
{
    int rc = parse(text, v);

    if (rc == -EINVAL) {
        snprintf(why, len, "%s", not_what);
        return rc;
    }
    if (rc == -ERANGE && !bounded(o)) {
        snprintf(why, len, "out of range");
        return -EINVAL;
    }
    return check_range(o, *v, rc == -ERANGE, why, len) < 0 ? -EINVAL : 0;
}

static int parse_value(const struct st_opt *o, const char *text, struct cfg_val *val,
                       char *why, size_t len)
{
    int rc;

    switch (o->type) {
    case ST_OPT_STR:
        val->str = text;
        return 0;
    case ST_OPT_BOOL:
        if (st_parse_bool(text, &val->v.b) < 0) {
            snprintf(why, len, "not a boolean (true/false, yes/no, on/off, 1/0)");
            return -EINVAL;
        }
        break;
    case ST_OPT_INT:
        if ((rc = parse_signed(o, text, parse_int_ex, "not an integer", &val->v.i, why, len)) < 0)
            return rc;
        break;
    case ST_OPT_SIZE:
        if (text[0] == '-') {
            snprintf(why, len, "must not be negative");
            return -EINVAL;
        }
        rc = parse_size_ex(text, &val->v.u);
        if (rc == -EINVAL) {
            snprintf(why, len, "not a size (a number with an optional K, M, G or T suffix)");
            return rc;
        }
        if ((rc == -ERANGE || val->v.u > INT64_MAX) && !bounded(o)) {
            snprintf(why, len, "out of range");
            return -EINVAL;
        }
        if (check_range(o, (int64_t)val->v.u, rc == -ERANGE || val->v.u > INT64_MAX, why,
                        len) < 0)
            return -EINVAL;
        break;
    case ST_OPT_DURATION:
        if (text[0] == '-') {
            snprintf(why, len, "must not be negative");
            return -EINVAL;
        }
        rc = parse_signed(o, text, parse_duration_ex,
                          "not a duration (a number with an optional ms, s, m, h or d suffix)",
                          &val->v.i, why, len);
        if (rc < 0)
            return rc;
        break;
    case ST_OPT_ENUM:
        for (int i = 0; o->choices && o->choices[i]; i++) {
            if (strcasecmp(text, o->choices[i]) == 0) {
                val->str = o->choices[i];
                val->v.i = i;
                return 0;
            }
        }
        {
            size_t n = (size_t)snprintf(why, len, "must be one of");
            for (int i = 0; o->choices && o->choices[i] && n < len; i++)
                n += (size_t)snprintf(why + n, len - n, "%s %s", i ? "," : "",
                                      o->choices[i]);
        }
        return -EINVAL;
    }
    val->str = text;
    return 0;
}

/* ---- loading ---- */

static struct cfg_val *find_val(const struct st_config *cfg, const char *section,
                                const char *key)
{
    for (size_t i = 0; i < cfg->nvals; i++) {
        const struct st_opt *o = cfg->vals[i].opt;
        if (strcmp(o->section, section) == 0 && strcmp(o->key, key) == 0)
            return &cfg->vals[i];
    }
    return NULL;
}

static bool section_declared(const struct st_config *cfg, const char *section)
{
    for (size_t i = 0; i < cfg->nvals; i++)
        if (strcmp(cfg->vals[i].opt->section, section) == 0)
            return true;
    return false;
}

static bool section_of_other_daemon(const char *section)
{
    for (int i = 0; st_config_known_sections[i]; i++)
        if (strcmp(st_config_known_sections[i], section) == 0)
            return true;
    return false;
}

/* fgets for inih that counts lines and refuses lines longer than its buffer
 * (inih would otherwise parse the rest of such a line as a line of its own). */
static char *read_line(char *str, int num, void *stream)
{
    struct load_ctx *lc = stream;
    size_t n;

    if (!fgets(str, num, lc->fp))
        return NULL;
    lc->line++;
    lc->indented = str[0] == ' ' || str[0] == '\t';
    n = strlen(str);
    if (n > 0 && str[n - 1] != '\n' && n == (size_t)num - 1) {
        int c = getc(lc->fp);
        if (c != EOF && c != '\n') {
            lc->too_long = true;
            return NULL;
        }
    }
    return str;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
    struct load_ctx *lc = user;
    struct cfg_val *v;
    char *copy;
    bool same = strcmp(lc->last_section, section) == 0 && strcmp(lc->last_key, key) == 0;

    /* inih reads an indented line after `key = value` as more of that value;
     * strata.conf has no multi-line values, so it is surely a mistake. */
    if (lc->indented && same) {
        if (!lc->continued)
            lc->continued = lc->line;
        return 1;
    }
    snprintf(lc->last_section, sizeof(lc->last_section), "%s", section);
    snprintf(lc->last_key, sizeof(lc->last_key), "%s", key);
    if (!section[0]) {
        st_warn("%s:%d: '%s' is outside any [section], ignored", lc->path, lc->line, key);
        return 1;
    }
    v = find_val(lc->cfg, section, key);
    if (!v) {
        if (section_declared(lc->cfg, section)) {
            st_warn("%s:%d: unknown option [%s] %s, ignored", lc->path, lc->line, section,
                    key);
        } else if (!section_of_other_daemon(section) &&
                   strcmp(lc->last_unknown, section) != 0) {
            st_warn("%s:%d: unknown section [%s], ignored", lc->path, lc->line, section);
            snprintf(lc->last_unknown, sizeof(lc->last_unknown), "%s", section);
        }
        return 1;
    }
    copy = strdup(value);
    if (!copy) {
        lc->err = -ENOMEM;
        return 0;
    }
    if (v->text)
        st_warn("%s:%d: [%s] %s is set again (first at line %d); the last value wins",
                lc->path, lc->line, section, key, v->line);
    free(v->text);
    v->text = copy;
    v->line = lc->line;
    return 1;
}

/* Collect every row of every table; a row declared twice is a programming error. */
static int collect_options(struct st_config *cfg, const struct st_opt *const *tables,
                           char *err, size_t errlen)
{
    size_t n = 0;

    for (size_t t = 0; tables && tables[t]; t++)
        for (const struct st_opt *o = tables[t]; o->section; o++)
            n++;
    cfg->vals = calloc(n ? n : 1, sizeof(*cfg->vals));
    if (!cfg->vals)
        return -ENOMEM;
    for (size_t t = 0; tables && tables[t]; t++) {
        for (const struct st_opt *o = tables[t]; o->section; o++) {
            if (!o->key || (o->type == ST_OPT_ENUM && !o->choices)) {
                snprintf(err, errlen, "option table: bad row in [%s]", o->section);
                return -EINVAL;
            }
            if (find_val(cfg, o->section, o->key)) {
                snprintf(err, errlen, "option table: [%s] %s is declared twice", o->section,
                         o->key);
                return -EINVAL;
            }
            cfg->vals[cfg->nvals++].opt = o;
        }
    }
    return 0;
}

/* Check every value, apply defaults; the first problem is the error. */
static int finish_values(struct st_config *cfg, const char *shown, char *err, size_t errlen)
{
    char why[192];

    for (size_t i = 0; i < cfg->nvals; i++) {
        struct cfg_val *v = &cfg->vals[i];
        const struct st_opt *o = v->opt;

        if (v->text) {
            if (parse_value(o, v->text, v, why, sizeof(why)) < 0) {
                snprintf(err, errlen, "%s: [%s] %s = \"%s\": %s", shown, o->section, o->key,
                         v->text, why);
                return -EINVAL;
            }
        } else if (o->required) {
            snprintf(err, errlen, "%s: [%s] %s: required but not set", shown, o->section,
                     o->key);
            return -EINVAL;
        } else if (o->def) {
            if (parse_value(o, o->def, v, why, sizeof(why)) < 0) {
                snprintf(err, errlen, "option table: default [%s] %s = \"%s\": %s",
                         o->section, o->key, o->def, why);
                return -EINVAL;
            }
        }
    }
    return 0;
}

static int parse_file(struct st_config *cfg, char *err, size_t errlen)
{
    struct load_ctx lc = { .cfg = cfg, .path = cfg->path };
    int rc;

    lc.fp = fopen(cfg->path, "r");
    if (!lc.fp) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot open: %s", cfg->path, strerror(-rc));
        return rc;
    }
    rc = ini_parse_stream(read_line, &lc, on_entry, &lc);
    if (lc.err < 0) {
        snprintf(err, errlen, "%s: out of memory", cfg->path);
        rc = lc.err;
    } else if (ferror(lc.fp)) {
        snprintf(err, errlen, "%s: read error", cfg->path);
        rc = -EIO;
    } else if (lc.too_long) {
        snprintf(err, errlen, "%s:%d: line too long", cfg->path, lc.line);
        rc = -EINVAL;
    } else if (lc.continued) {
        snprintf(err, errlen, "%s:%d: indented line continues the value above "
                 "(values cannot span lines)", cfg->path, lc.continued);
        rc = -EINVAL;
    } else if (rc > 0) {
        snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)",
                 cfg->path, rc);
        rc = -EINVAL;
    } else if (rc < 0) {
        snprintf(err, errlen, "%s: cannot parse", cfg->path);
        rc = rc == -2 ? -ENOMEM : -EIO;
    }
    fclose(lc.fp);
    return rc;
}

int st_config_load(const char *path, const struct st_opt *const *tables,
                   struct st_config **out, char *err, size_t errlen)
{
    char scratch[8];
    struct st_config *cfg;
    int rc;

    if (!err || errlen == 0) {
        err = scratch;
        errlen = sizeof(scratch);
    }
    err[0] = '\0';
    if (!out) {
        snprintf(err, errlen, "st_config_load: no output");
        return -EINVAL;
    }
    cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    rc = collect_options(cfg, tables, err, errlen);
    if (rc < 0)
        goto fail;
    if (path) {
        cfg->path = strdup(path);
        if (!cfg->path) {
            rc = -ENOMEM;
            goto fail;
        }
        rc = parse_file(cfg, err, errlen);
        if (rc < 0)
            goto fail;
    }
    rc = finish_values(cfg, path ? path : "(no config file)", err, errlen);
    if (rc < 0)
        goto fail;
    *out = cfg;
    return 0;
fail:
    if (rc == -ENOMEM && !err[0])
        snprintf(err, errlen, "out of memory");
    st_config_destroy(cfg);
    return rc;
}

void st_config_destroy(struct st_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; cfg->vals && i < cfg->nvals; i++)
        free(cfg->vals[i].text);
    free(cfg->vals);
    free(cfg->path);
    free(cfg);
}

/* ---- getters ---- */

static const char *const type_names[] = { "string", "integer", "boolean",
                                          "size", "duration", "enum" };

static const struct cfg_val *lookup(const struct st_config *cfg, const char *section,
                                    const char *key, int want, const char *caller)
{
    const struct cfg_val *v;

    if (!cfg || !section || !key) {
        st_error("%s: no config or option name", caller);
        return NULL;
    }
    v = find_val(cfg, section, key);
    if (!v) {
        st_error("%s: [%s] %s is not declared in any option table", caller, section, key);
        return NULL;
    }
    if (want >= 0 && v->opt->type != (enum st_opt_type)want) {
        st_error("%s: [%s] %s is a %s option", caller, section, key,
                 type_names[v->opt->type]);
        return NULL;
    }
    return v;
}

const char *st_config_str(const struct st_config *cfg, const char *section, const char *key)
{
    const struct cfg_val *v = lookup(cfg, section, key, -1, __func__);

    return v ? v->str : NULL;
}

int64_t st_config_int(const struct st_config *cfg, const char *section, const char *key)
{
    const struct cfg_val *v = lookup(cfg, section, key, ST_OPT_INT, __func__);

    return v ? v->v.i : 0;
}

bool st_config_bool(const struct st_config *cfg, const char *section, const char *key)
{
    const struct cfg_val *v = lookup(cfg, section, key, ST_OPT_BOOL, __func__);

    return v ? v->v.b : false;
}

uint64_t st_config_size(const struct st_config *cfg, const char *section, const char *key)
{
    const struct cfg_val *v = lookup(cfg, section, key, ST_OPT_SIZE, __func__);

    return v ? v->v.u : 0;
}

int64_t st_config_duration_ms(const struct st_config *cfg, const char *section,
                              const char *key)
{
    const struct cfg_val *v = lookup(cfg, section, key, ST_OPT_DURATION, __func__);

    return v ? v->v.i : 0;
}

bool st_config_is_set(const struct st_config *cfg, const char *section, const char *key)
{
    const struct cfg_val *v = lookup(cfg, section, key, -1, __func__);

    return v && v->text;
}

const char *st_config_path(const struct st_config *cfg)
{
    return cfg ? cfg->path : NULL;
}
