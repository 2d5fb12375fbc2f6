/* metrics.h — counters and latency histograms, rendered in Prometheus text format.
 * Metrics are registered once (name + help + label names) and updated lock-free
 * on hot paths; the registry renders them for GET /metrics. */
#ifndef STRATA_METRICS_H
#define STRATA_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct st_metrics;       /* a registry */
struct st_counter;       /* a counter family: one value per label set */
struct st_histogram;     /* a histogram family: buckets per label set */

int st_metrics_create(struct st_metrics **out);
void st_metrics_destroy(struct st_metrics *m);

/* Register a counter family with up to 4 label names (NULL-terminated list or
 * NULL).  Names must match [a-zA-Z_:][a-zA-Z0-9_:]*: -EINVAL otherwise,
 * -EEXIST if already registered.  The family is owned by the registry. */
int st_counter_register(struct st_metrics *m, const char *name, const char *help,
                        const char *const *label_names, struct st_counter **out);
/* Add `v` to the series with the given label values (as many as label names). */
void st_counter_add(struct st_counter *c, const char *const *label_values, uint64_t v);
uint64_t st_counter_get(struct st_counter *c, const char *const *label_values);

/* Histogram of seconds with the given ascending upper bounds (+Inf is implicit).
 * bounds == NULL selects the default latency buckets (1 ms .. 60 s). */
int st_histogram_register(struct st_metrics *m, const char *name, const char *help,
                          const char *const *label_names, const double *bounds,
                          size_t nbounds, struct st_histogram **out);
void st_histogram_observe(struct st_histogram *h, const char *const *label_values,
                          double value);

/* A gauge whose value is read at render time from a callback. */
typedef double (*st_gauge_fn)(void *arg);
int st_gauge_register(struct st_metrics *m, const char *name, const char *help,
                      st_gauge_fn fn, void *arg);

/* Render every family in Prometheus text exposition format 0.0.4.  *out is a
 * malloc'd NUL-terminated string the caller frees. */
int st_metrics_render(struct st_metrics *m, char **out, size_t *len);

#endif
