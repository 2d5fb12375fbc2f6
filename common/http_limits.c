/* http_limits.c — connection policing for the HTTP server.  MHD enforces the
 * connection limit (sized here from RLIMIT_NOFILE, raised to its hard limit)
 * and the per-address limit; MHD's own timeout is an idle timeout that each
 * header byte restarts, so this module tracks every connection from accept
 * (MHD's connection notifications) and a ticker shuts down the socket of any
 * connection whose request head is not complete within head_timeout_ms of its
 * accept or of the end of its previous request.  MHD then sees end-of-file
 * and closes the connection itself: the descriptor is ours to touch only
 * while its entry is listed, and MHD unlists it before it closes it.
 * Refusals and reaped connections are summarised, one line per interval, and
 * MHD's other lines are capped per interval, so no client can flood the log. */
#include "http_limits.h"
#include "strata/log.h"
#include "strata/ticker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#define NOFILE_CAP (1u << 20)        /* never ask for more descriptors than this */
#define FD_RESERVE_MIN 256u          /* kept for RADOS, libvirt, files, clients */
#define AUTO_MAX_CONNECTIONS 65536u  /* max_connections = 0 stops here */
#define SUMMARY_INTERVAL_MS 10000    /* one refusal / reap line per this */
#define TICK_MAX_MS 1000
#define TICK_MIN_MS 100
#define MHD_LINES_MAX 10             /* other MHD lines written per interval */
#define MHD_REFUSAL_MSG "Server reached connection limit" /* MHD 0.9.x, both limits */

struct conn_entry {
    struct conn_entry *prev, *next;
    int fd;
    int64_t since_ms; /* accept, or the end of the previous request */
    bool head_open;   /* no complete request head since then */
    bool reaped;      /* shut down by the ticker */
    char addr[INET6_ADDRSTRLEN];
};

struct st_http_limits {
    struct st_http_limits_config cfg;
    unsigned nofile;
    struct st_ticker ticker;
    pthread_mutex_t lock; /* everything below */
    struct conn_entry *conns;
    unsigned nconns;
    unsigned long long refused, reaped; /* since their last summary */
    int64_t refused_logged_ms, reaped_logged_ms, full_logged_ms;
    unsigned mhd_lines;              /* MHD lines written in this window */
    unsigned long long mhd_dropped;  /* and left out */
    int64_t mhd_window_ms;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The soft descriptor limit, raised to the hard one (up to NOFILE_CAP). */
static unsigned raise_nofile(void)
{
    struct rlimit rl;
    rlim_t want;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > NOFILE_CAP ? NOFILE_CAP : rl.rlim_max;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return rl.rlim_cur == RLIM_INFINITY ? NOFILE_CAP : (unsigned)rl.rlim_cur;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        st_warn("cannot raise the file-descriptor limit to %llu: %s", (unsigned long long)want,
                strerror(errno));
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (unsigned)rl.rlim_cur;
}

static unsigned connection_budget(unsigned nofile)
{
    unsigned reserve = nofile / 4 > FD_RESERVE_MIN ? nofile / 4 : FD_RESERVE_MIN;

    return nofile > 2 * reserve ? nofile - reserve : nofile / 2;
}

int st_http_limits_create(const struct st_http_limits_config *cfg, struct st_http_limits **out)
{
    struct st_http_limits *l;
    unsigned budget;

    if (!cfg || !out)
        return -EINVAL;
    l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->cfg = *cfg;
    l->nofile = raise_nofile();
    budget = connection_budget(l->nofile);
    if (l->cfg.max_connections == 0) {
        l->cfg.max_connections = budget < AUTO_MAX_CONNECTIONS ? budget : AUTO_MAX_CONNECTIONS;
    } else if (l->cfg.max_connections > budget) {
        st_warn("[http] max_connections = %u needs more file descriptors than the limit of %u "
                "allows: using %u", l->cfg.max_connections, l->nofile, budget);
        l->cfg.max_connections = budget;
    }
    l->refused_logged_ms = l->reaped_logged_ms = l->full_logged_ms = INT64_MIN / 2;
    l->mhd_window_ms = INT64_MIN / 2;
    pthread_mutex_init(&l->lock, NULL);
    *out = l;
    return 0;
}

unsigned st_http_limits_max_connections(const struct st_http_limits *l)
{
    return l->cfg.max_connections;
}

unsigned st_http_limits_per_ip(const struct st_http_limits *l)
{
    return l->cfg.per_ip;
}

/* ---- connections ---- */

static void entry_addr(struct MHD_Connection *c, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    snprintf(buf, len, "?");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)len);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)len);
}

static void conn_started(struct st_http_limits *l, struct MHD_Connection *c, void **ctx)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct conn_entry *e = calloc(1, sizeof(*e));

    if (!e || !ci) { /* untracked: MHD's idle timeout still applies */
        free(e);
        *ctx = NULL;
        return;
    }
    *ctx = e;
    e->fd = ci->connect_fd;
    e->since_ms = now_ms();
    e->head_open = true;
    entry_addr(c, e->addr, sizeof(e->addr));
    pthread_mutex_lock(&l->lock);
    e->next = l->conns;
    if (l->conns)
        l->conns->prev = e;
    l->conns = e;
    l->nconns++;
    pthread_mutex_unlock(&l->lock);
}

static void conn_closed(struct st_http_limits *l, void **ctx)
{
    struct conn_entry *e = *ctx;

    *ctx = NULL;
    if (!e)
        return;
    pthread_mutex_lock(&l->lock);
    if (e->prev)
        e->prev->next = e->next;
    else if (l->conns == e)
        l->conns = e->next;
    if (e->next)
        e->next->prev = e->prev;
    l->nconns--;
    pthread_mutex_unlock(&l->lock);
    free(e);
}

void st_http_limits_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                           enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        conn_started(cls, c, socket_context);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        conn_closed(cls, socket_context);
}

static void set_head_open(struct st_http_limits *l, struct MHD_Connection *c, bool open)
{
    const union MHD_ConnectionInfo *ci;
    struct conn_entry *e;

    if (!l)
        return;
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    e = ci ? ci->socket_context : NULL;
    if (!e)
        return;
    pthread_mutex_lock(&l->lock);
    e->head_open = open;
    if (open)
        e->since_ms = now_ms();
    pthread_mutex_unlock(&l->lock);
}

void st_http_limits_head_done(struct st_http_limits *l, struct MHD_Connection *c)
{
    set_head_open(l, c, false);
}

void st_http_limits_head_wait(struct st_http_limits *l, struct MHD_Connection *c)
{
    set_head_open(l, c, true);
}

/* ---- summaries (under the lock) ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The address holding the most connections, and how many. */
static unsigned busiest_address(const struct st_http_limits *l, char *out, size_t len)
{
    const char **addrs = l->nconns ? malloc(l->nconns * sizeof(*addrs)) : NULL;
    unsigned n = 0, best = 0, run = 0;

    snprintf(out, len, "?");
    if (!addrs)
        return 0;
    for (const struct conn_entry *e = l->conns; e && n < l->nconns; e = e->next)
        addrs[n++] = e->addr;
    qsort(addrs, n, sizeof(*addrs), cmp_str);
    for (unsigned i = 0; i < n; i++) {
        run = i > 0 && strcmp(addrs[i], addrs[i - 1]) == 0 ? run + 1 : 1;
        if (run > best) {
            best = run;
            snprintf(out, len, "%s", addrs[i]);
        }
    }
    free(addrs);
    return best;
}

/* Close the window of MHD lines: say how many were left out. */
static void log_mhd_window(struct st_http_limits *l, int64_t now)
{
    if (l->mhd_dropped)
        st_warn("microhttpd: %llu more message(s) like the above left out in %d s",
                l->mhd_dropped, SUMMARY_INTERVAL_MS / 1000);
    l->mhd_dropped = 0;
    l->mhd_lines = 0;
    l->mhd_window_ms = now;
}

static void log_refusals(struct st_http_limits *l, int64_t now)
{
    char addr[INET6_ADDRSTRLEN];
    unsigned held = busiest_address(l, addr, sizeof(addr));

    st_warn("refused %llu new connection(s) at a connection limit: %u open, the most (%u) from "
            "%s; limits: %u per address ([http] max_connections_per_ip), %u in all ([http] "
            "max_connections)", l->refused, l->nconns, held, addr, l->cfg.per_ip,
            l->cfg.max_connections);
    l->refused = 0;
    l->refused_logged_ms = now;
}

/* One of MHD's lines: refusals are counted and summarised; the others (one
 * per client that hangs up mid-request, or per connection reaped) are written
 * up to MHD_LINES_MAX per interval, then counted. */
void st_http_limits_mhd_log(struct st_http_limits *l, const char *msg)
{
    int64_t now = now_ms();
    bool write = false;

    if (!l) {
        st_warn("microhttpd: %s", msg);
        return;
    }
    pthread_mutex_lock(&l->lock);
    if (strncmp(msg, MHD_REFUSAL_MSG, strlen(MHD_REFUSAL_MSG)) == 0) {
        l->refused++;
        if (now - l->refused_logged_ms >= SUMMARY_INTERVAL_MS)
            log_refusals(l, now);
    } else {
        if (now - l->mhd_window_ms >= SUMMARY_INTERVAL_MS)
            log_mhd_window(l, now);
        write = l->mhd_lines++ < MHD_LINES_MAX;
        l->mhd_dropped += !write;
    }
    pthread_mutex_unlock(&l->lock);
    if (write)
        st_warn("microhttpd: %s", msg);
}

static void reap(struct st_http_limits *l, int64_t now)
{
    for (struct conn_entry *e = l->conns; e; e = e->next) {
        if (!e->head_open || e->reaped || now - e->since_ms < (int64_t)l->cfg.head_timeout_ms)
            continue;
        shutdown(e->fd, SHUT_RDWR); /* MHD reads end-of-file and closes it */
        e->reaped = true;
        l->reaped++;
    }
}

static void tick(void *arg)
{
    struct st_http_limits *l = arg;
    int64_t now = now_ms();

    pthread_mutex_lock(&l->lock);
    if (l->cfg.head_timeout_ms)
        reap(l, now);
    if (l->reaped && now - l->reaped_logged_ms >= SUMMARY_INTERVAL_MS) {
        st_warn("closed %llu connection(s) that sent no complete request head within %u ms "
                "([http] header_timeout)", l->reaped, l->cfg.head_timeout_ms);
        l->reaped = 0;
        l->reaped_logged_ms = now;
    }
    if (l->refused && now - l->refused_logged_ms >= SUMMARY_INTERVAL_MS)
        log_refusals(l, now);
    if (l->mhd_dropped && now - l->mhd_window_ms >= SUMMARY_INTERVAL_MS)
        log_mhd_window(l, now);
    if (l->nconns >= l->cfg.max_connections && now - l->full_logged_ms >= SUMMARY_INTERVAL_MS) {
        st_warn("%u connections open, the limit ([http] max_connections): new clients wait",
                l->nconns);
        l->full_logged_ms = now;
    }
    pthread_mutex_unlock(&l->lock);
}

int st_http_limits_start(struct st_http_limits *l)
{
    int64_t every = l->cfg.head_timeout_ms ? l->cfg.head_timeout_ms / 4 : TICK_MAX_MS;

    every = every > TICK_MAX_MS ? TICK_MAX_MS : every < TICK_MIN_MS ? TICK_MIN_MS : every;
    return st_ticker_start(&l->ticker, every, tick, l);
}

void st_http_limits_stop(struct st_http_limits *l)
{
    if (l)
        st_ticker_stop(&l->ticker);
}

void st_http_limits_destroy(struct st_http_limits *l)
{
    if (!l)
        return;
    st_http_limits_stop(l);
    pthread_mutex_destroy(&l->lock);
    free(l);
}
