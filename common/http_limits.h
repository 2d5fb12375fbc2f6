/* http_limits.h — private to common/http_*.c: connection policing for the
 * HTTP server (a connection limit sized from RLIMIT_NOFILE, a per-address
 * limit, a deadline for a complete request head, rate-limited refusal logs). */
#ifndef STRATA_HTTP_LIMITS_H
#define STRATA_HTTP_LIMITS_H

#include <microhttpd.h>
#include <stdbool.h>

struct st_http_limits;

struct st_http_limits_config {
    unsigned max_connections; /* 0 = sized from RLIMIT_NOFILE */
    unsigned per_ip;          /* 0 = no per-address limit */
    unsigned head_timeout_ms; /* 0 = no head deadline */
};

/* Raises RLIMIT_NOFILE to its hard limit and sizes the connection limit from
 * it (a configured max_connections larger than the descriptors allow is
 * lowered, with a warning).  0, -EINVAL or -ENOMEM. */
int st_http_limits_create(const struct st_http_limits_config *cfg, struct st_http_limits **out);
/* Starts the thread that closes connections past their head deadline and
 * writes the refusal summaries.  0 or -errno. */
int st_http_limits_start(struct st_http_limits *l);
/* Stops that thread (before MHD is stopped); NULL and never-started are fine. */
void st_http_limits_stop(struct st_http_limits *l);
void st_http_limits_destroy(struct st_http_limits *l);

/* The values MHD is started with. */
unsigned st_http_limits_max_connections(const struct st_http_limits *l);
unsigned st_http_limits_per_ip(const struct st_http_limits *l);

/* MHD_OPTION_NOTIFY_CONNECTION callback (cls = the limits): tracks every
 * connection from accept to close. */
void st_http_limits_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                           enum MHD_ConnectionNotificationCode code);
/* The connection's request head is complete (the access handler's first call). */
void st_http_limits_head_done(struct st_http_limits *l, struct MHD_Connection *c);
/* A request on the connection finished: its next head is due within the deadline. */
void st_http_limits_head_wait(struct st_http_limits *l, struct MHD_Connection *c);
/* Log one of MHD's lines (the MHD_OPTION_EXTERNAL_LOGGER's, formatted):
 * refusals at a limit are counted and summarised once per interval, other
 * lines are written up to a few per interval, then counted. */
void st_http_limits_mhd_log(struct st_http_limits *l, const char *msg);

#endif
