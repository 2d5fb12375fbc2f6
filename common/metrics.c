/* metrics.c — a registry of counters, histograms and callback gauges rendered
 * in the Prometheus text format.  A family keeps its series in a sorted list
 * that only grows: lookups walk it without a lock, inserts take the family
 * mutex, and values are updated with atomics. */
#include "strata/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/log.h"

#define MAX_LABELS 4
#define KEY_STACK 256

enum fam_type { FAM_COUNTER, FAM_HISTOGRAM, FAM_GAUGE };

struct series {
    _Atomic(struct series *) next;
    char *labels;                 /* rendered `a="x",b="y"`: also the lookup key */
    _Atomic uint64_t value;       /* counter */
    _Atomic uint64_t sum_bits;    /* histogram sum, as the bits of a double */
    _Atomic uint64_t buckets[];   /* histogram: nbounds + 1 (the last is +Inf) */
};

struct family {
    struct family *next;          /* registry list, sorted by name */
    enum fam_type type;
    char *name;
    char *help;
    size_t nlabels;
    char *label_names[MAX_LABELS];
    double *bounds;
    size_t nbounds;
    st_gauge_fn fn;
    void *arg;
    pthread_mutex_t lock;         /* serialises inserts into `series` */
    _Atomic(struct series *) series;
};

/* The public handles are families; the structs are only named differently. */
struct st_counter {
    struct family f;
};
struct st_histogram {
    struct family f;
};

struct st_metrics {
    pthread_mutex_t lock;
    struct family *families;
};

static const double default_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10,   30, 60 };

int st_metrics_create(struct st_metrics **out)
{
    struct st_metrics *m;

    if (!out)
        return -EINVAL;
    m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return -ENOMEM;
    }
    *out = m;
    return 0;
}

static void family_free(struct family *f)
{
    struct series *s, *next;

    if (!f)
        return;
    for (s = atomic_load(&f->series); s; s = next) {
        next = atomic_load(&s->next);
        free(s->labels);
        free(s);
    }
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->label_names[i]);
    pthread_mutex_destroy(&f->lock);
    free(f->bounds);
    free(f->name);
    free(f->help);
    free(f);
}

void st_metrics_destroy(struct st_metrics *m)
{
    struct family *f, *next;

    if (!m)
        return;
    for (f = m->families; f; f = next) {
        next = f->next;
        family_free(f);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* ---- names and label values ---- */

static bool valid_name(const char *s, bool colon_ok)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                     (colon_ok && c == ':');
        if (!alpha && !(p != s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/* HELP text escapes only \\ and \n. */
static void escape_help(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

/* Append len bytes of s at dst + *n (when dst is non-NULL); advance *n. */
static void put(char *dst, size_t *n, const char *s, size_t len)
{
    if (dst)
        memcpy(dst + *n, s, len);
    *n += len;
}

/* Write the series key `a="x",b="y"` (values escaped: \\, \" and \n) into
 * dst, or only measure it when dst is NULL; returns its length. */
static size_t key_to(const struct family *f, const char *const *values, char *dst)
{
    size_t n = 0;

    for (size_t i = 0; i < f->nlabels; i++) {
        if (i)
            put(dst, &n, ",", 1);
        put(dst, &n, f->label_names[i], strlen(f->label_names[i]));
        put(dst, &n, "=\"", 2);
        for (const char *v = values[i] ? values[i] : ""; *v; v++) {
            if (*v == '\\')
                put(dst, &n, "\\\\", 2);
            else if (*v == '"')
                put(dst, &n, "\\\"", 2);
            else if (*v == '\n')
                put(dst, &n, "\\n", 2);
            else
                put(dst, &n, v, 1);
        }
        put(dst, &n, "\"", 1);
    }
    if (dst)
        dst[n] = '\0';
    return n;
}

/* The series key for these label values, in buf if it fits (else malloc'd). */
static char *series_key(const struct family *f, const char *const *values, char *buf,
                        size_t buflen)
{
    size_t len = key_to(f, values, NULL);
    char *key = len < buflen ? buf : malloc(len + 1);

    if (key)
        key_to(f, values, key);
    return key;
}

static struct series *find_series(struct family *f, const char *key)
{
    for (struct series *s = atomic_load_explicit(&f->series, memory_order_acquire); s;
         s = atomic_load_explicit(&s->next, memory_order_acquire)) {
        if (strcmp(s->labels, key) == 0)
            return s;
    }
    return NULL;
}

/* Find or create the series for key; NULL only when out of memory. */
static struct series *get_series(struct family *f, const char *key)
{
    struct series *s = find_series(f, key);
    _Atomic(struct series *) *link;
    struct series *cur;
    size_t nb = f->type == FAM_HISTOGRAM ? f->nbounds + 1 : 0;

    if (s)
        return s;
    pthread_mutex_lock(&f->lock);
    s = find_series(f, key);
    if (s)
        goto out;
    s = calloc(1, sizeof(*s) + nb * sizeof(s->buckets[0]));
    if (!s)
        goto out;
    s->labels = strdup(key);
    if (!s->labels) {
        free(s);
        s = NULL;
        goto out;
    }
    /* Keep the list sorted so rendering is stable; publish with release so a
     * lock-free reader sees a fully built node. */
    link = &f->series;
    while ((cur = atomic_load_explicit(link, memory_order_relaxed)) &&
           strcmp(cur->labels, key) < 0)
        link = &cur->next;
    atomic_store_explicit(&s->next, cur, memory_order_relaxed);
    atomic_store_explicit(link, s, memory_order_release);
out:
    pthread_mutex_unlock(&f->lock);
    return s;
}

/* Look up (creating if asked) the series for label values; logs misuse. */
static struct series *series_for(struct family *f, const char *const *values, bool create)
{
    char stackbuf[KEY_STACK];
    char *key;
    struct series *s;

    if (f->nlabels > 0 && !values) {
        st_error("metric %s: %zu label values needed", f->name, f->nlabels);
        return NULL;
    }
    key = series_key(f, values, stackbuf, sizeof(stackbuf));
    if (!key)
        return NULL;
    s = create ? get_series(f, key) : find_series(f, key);
    if (key != stackbuf)
        free(key);
    return s;
}

/* ---- registration ---- */

/* Build a family, not yet in the registry (see commit_family). */
static int family_new(struct st_metrics *m, enum fam_type type, const char *name,
                      const char *help, const char *const *label_names,
                      struct family **out)
{
    struct family *f;
    size_t n = 0;

    if (!m || !valid_name(name, true))
        return -EINVAL;
    while (label_names && label_names[n]) {
        if (n == MAX_LABELS || !valid_name(label_names[n], false) ||
            strncmp(label_names[n], "__", 2) == 0 ||
            (type == FAM_HISTOGRAM && strcmp(label_names[n], "le") == 0))
            return -EINVAL;
        for (size_t i = 0; i < n; i++)
            if (strcmp(label_names[i], label_names[n]) == 0)
                return -EINVAL;
        n++;
    }
    f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    if (pthread_mutex_init(&f->lock, NULL) != 0) {
        free(f);
        return -ENOMEM;
    }
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    for (f->nlabels = 0; f->nlabels < n; f->nlabels++) {
        f->label_names[f->nlabels] = strdup(label_names[f->nlabels]);
        if (!f->label_names[f->nlabels])
            break;
    }
    if (!f->name || !f->help || f->nlabels < n) {
        family_free(f);
        return -ENOMEM;
    }

    *out = f;
    return 0;
}

/* Insert a fully set up family; -EEXIST if one with its name appeared meanwhile. */
static int commit_family(struct st_metrics *m, struct family *f)
{
    struct family **link;

    pthread_mutex_lock(&m->lock);
    for (link = &m->families; *link && strcmp((*link)->name, f->name) < 0;
         link = &(*link)->next)
        ;
    if (*link && strcmp((*link)->name, f->name) == 0) {
        pthread_mutex_unlock(&m->lock);
        family_free(f);
        return -EEXIST;
    }
    f->next = *link;
    *link = f;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* commit_family, after giving an unlabelled family its one series (shown as
 * 0 before the first observation). */
static int commit_unlabelled(struct st_metrics *m, struct family *f)
{
    if (f->nlabels == 0 && !get_series(f, "")) {
        family_free(f);
        return -ENOMEM;
    }
    return commit_family(m, f);
}

int st_counter_register(struct st_metrics *m, const char *name, const char *help,
                        const char *const *label_names, struct st_counter **out)
{
    struct family *f;
    int rc = family_new(m, FAM_COUNTER, name, help, label_names, &f);

    if (rc < 0)
        return rc;
    rc = commit_unlabelled(m, f);
    if (rc == 0 && out)
        *out = (struct st_counter *)f;
    return rc;
}

void st_counter_add(struct st_counter *c, const char *const *label_values, uint64_t v)
{
    struct series *s;

    if (!c)
        return;
    s = series_for(&c->f, label_values, true);
    if (s)
        atomic_fetch_add_explicit(&s->value, v, memory_order_relaxed);
}

uint64_t st_counter_get(struct st_counter *c, const char *const *label_values)
{
    struct series *s;

    if (!c)
        return 0;
    s = series_for(&c->f, label_values, false);
    return s ? atomic_load_explicit(&s->value, memory_order_relaxed) : 0;
}

int st_histogram_register(struct st_metrics *m, const char *name, const char *help,
                          const char *const *label_names, const double *bounds,
                          size_t nbounds, struct st_histogram **out)
{
    struct family *f;
    int rc;

    if (!bounds) {
        bounds = default_bounds;
        nbounds = sizeof(default_bounds) / sizeof(default_bounds[0]);
    }
    if (nbounds == 0)
        return -EINVAL;
    for (size_t i = 0; i < nbounds; i++)
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            return -EINVAL;
    rc = family_new(m, FAM_HISTOGRAM, name, help, label_names, &f);
    if (rc < 0)
        return rc;
    f->bounds = malloc(nbounds * sizeof(*bounds));
    if (!f->bounds) {
        family_free(f);
        return -ENOMEM;
    }
    memcpy(f->bounds, bounds, nbounds * sizeof(*bounds));
    f->nbounds = nbounds;
    rc = commit_unlabelled(m, f);
    if (rc == 0 && out)
        *out = (struct st_histogram *)f;
    return rc;
}

void st_histogram_observe(struct st_histogram *h, const char *const *label_values,
                          double value)
{
    struct series *s;
    size_t i;
    uint64_t old, upd;
    double sum;

    if (!h || isnan(value))
        return;
    s = series_for(&h->f, label_values, true);
    if (!s)
        return;
    for (i = 0; i < h->f.nbounds && value > h->f.bounds[i]; i++)
        ;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    old = atomic_load_explicit(&s->sum_bits, memory_order_relaxed);
    do {
        memcpy(&sum, &old, sizeof(sum));
        sum += value;
        memcpy(&upd, &sum, sizeof(upd));
    } while (!atomic_compare_exchange_weak_explicit(&s->sum_bits, &old, upd,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed));
}

int st_gauge_register(struct st_metrics *m, const char *name, const char *help,
                      st_gauge_fn fn, void *arg)
{
    struct family *f;
    int rc;

    if (!fn)
        return -EINVAL;
    rc = family_new(m, FAM_GAUGE, name, help, NULL, &f);
    if (rc < 0)
        return rc;
    f->fn = fn;
    f->arg = arg;
    return commit_family(m, f);
}

/* ---- rendering ---- */

/* Text that reads back as the same double (%.15g unless more digits are
 * needed); Prometheus spellings for infinities and NaN. */
static void fmt_double(char *buf, size_t len, double v)
{
    if (isnan(v)) {
        snprintf(buf, len, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void render_family(FILE *fp, struct family *f)
{
    static const char *const types[] = { "counter", "histogram", "gauge" };
    char num[40];

    fprintf(fp, "# HELP %s ", f->name);
    escape_help(fp, f->help);
    fprintf(fp, "\n# TYPE %s %s\n", f->name, types[f->type]);

    if (f->type == FAM_GAUGE) {
        fmt_double(num, sizeof(num), f->fn(f->arg));
        fprintf(fp, "%s %s\n", f->name, num);
        return;
    }
    for (struct series *s = atomic_load_explicit(&f->series, memory_order_acquire); s;
         s = atomic_load_explicit(&s->next, memory_order_acquire)) {
        const char *sep = s->labels[0] ? "," : "";
        uint64_t cum = 0, bits;
        double sum;

        if (f->type == FAM_COUNTER) {
            if (s->labels[0])
                fprintf(fp, "%s{%s} %" PRIu64 "\n", f->name, s->labels,
                        atomic_load_explicit(&s->value, memory_order_relaxed));
            else
                fprintf(fp, "%s %" PRIu64 "\n", f->name,
                        atomic_load_explicit(&s->value, memory_order_relaxed));
            continue;
        }
        for (size_t i = 0; i <= f->nbounds; i++) {
            cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
            if (i < f->nbounds)
                fmt_double(num, sizeof(num), f->bounds[i]);
            else
                snprintf(num, sizeof(num), "+Inf");
            fprintf(fp, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", f->name, s->labels, sep,
                    num, cum);
        }
        bits = atomic_load_explicit(&s->sum_bits, memory_order_relaxed);
        memcpy(&sum, &bits, sizeof(sum));
        fmt_double(num, sizeof(num), sum);
        if (s->labels[0]) {
            fprintf(fp, "%s_sum{%s} %s\n", f->name, s->labels, num);
            fprintf(fp, "%s_count{%s} %" PRIu64 "\n", f->name, s->labels, cum);
        } else {
            fprintf(fp, "%s_sum %s\n", f->name, num);
            fprintf(fp, "%s_count %" PRIu64 "\n", f->name, cum);
        }
    }
}

int st_metrics_render(struct st_metrics *m, char **out, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *fp;

    if (!m || !out)
        return -EINVAL;
    fp = open_memstream(&buf, &n);
    if (!fp)
        return -ENOMEM;
    pthread_mutex_lock(&m->lock);
    for (struct family *f = m->families; f; f = f->next)
        render_family(fp, f);
    pthread_mutex_unlock(&m->lock);
    if (fclose(fp) != 0) {
        free(buf);
        return -ENOMEM;
    }
    *out = buf;
    if (len)
        *len = n;
    return 0;
}
