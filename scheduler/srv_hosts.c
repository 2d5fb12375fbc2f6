/* srv_hosts.c — host state for placement: the agents' host records joined
 * with the scheduler's usage records, and claims that are compare-and-swap
 * writes of a host's usage record (two schedulers never overcommit a host). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "srv_internal.h"
#include "strata/log.h"

/* Every record of kind k (all pages). */
static int list_all(struct srv_service *s, const struct st_meta_kind *k, struct st_record_list *all)
{
    char marker[ST_META_ID_MAX + 1] = "";
    int rc;

    memset(all, 0, sizeof(*all));
    for (;;) {
        struct st_record_list page = { 0 };
        if ((rc = st_meta_list(s->meta, k, marker[0] ? marker : NULL, 0, NULL, 0, NULL, NULL,
                               &page)) < 0) {
            st_record_list_cleanup(all);
            return rc;
        }
        struct st_record *grown = realloc(all->items, (all->count + page.count + 1) *
                                                          sizeof(*grown));
        if (!grown) {
            st_record_list_cleanup(&page);
            st_record_list_cleanup(all);
            return -ENOMEM;
        }
        all->items = grown;
        if (page.count)
            memcpy(all->items + all->count, page.items, page.count * sizeof(*page.items));
        all->count += page.count;
        bool more = page.truncated;
        snprintf(marker, sizeof(marker), "%s", page.next_marker);
        free(page.items);   /* the records moved into `all` */
        if (!more)
            return 0;
    }
}

static const json_t *usage_of(const struct st_record_list *usage, const char *host)
{
    for (size_t i = 0; i < usage->count; i++)
        if (strcmp(usage->items[i].id, host) == 0)
            return usage->items[i].data;
    return NULL;
}

int hosts_load(struct srv_service *s, struct pl_host **out, size_t *n, json_t **records)
{
    struct st_record_list hosts, usage;
    int64_t now = st_now_ms();
    int rc;

    *out = NULL;
    *n = 0;
    if (records)
        *records = NULL;
    if ((rc = list_all(s, &host_kind_ro, &hosts)) < 0)
        return rc;
    if ((rc = list_all(s, &usage_kind, &usage)) < 0) {
        st_record_list_cleanup(&hosts);
        return rc;
    }
    struct pl_host *h = calloc(hosts.count + 1, sizeof(*h));
    json_t *recs = records ? json_object() : NULL;
    if (!h || (records && !recs)) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < hosts.count; i++) {
        const json_t *u = usage_of(&usage, hosts.items[i].id);
        if (pl_host_from_records(hosts.items[i].data, u, now, &s->pl, &h[*n]) < 0) {
            st_warn("host %s: its record lacks what placement needs: skipped", hosts.items[i].id);
            continue;
        }
        if (!h[*n].zone[0])
            snprintf(h[*n].zone, sizeof(h[*n].zone), "%s", s->default_zone);
        if (recs)
            json_object_set_new(recs, h[*n].name,
                                json_pack("{s:O, s:O*}", "host", hosts.items[i].data, "usage", u));
        (*n)++;
    }
    *out = h;
    h = NULL;
    if (records) {
        *records = recs;
        recs = NULL;
    }
out:
    free(h);
    json_decref(recs);
    st_record_list_cleanup(&hosts);
    st_record_list_cleanup(&usage);
    return rc;
}

static json_t *empty_usage(void)
{
    return json_pack("{s:{}, s:[]}", "allocations", "failures");
}

/* Make the host's usage record if it has none yet (a race is harmless). */
static int usage_ensure(struct srv_service *s, const char *host)
{
    json_t *u = empty_usage();
    int rc = u ? st_meta_create(s->meta, &usage_kind, host, u, NULL) : -ENOMEM;

    json_decref(u);
    return rc == -EEXIST ? 0 : rc;
}

struct claim {
    struct srv_service *s;
    const struct pl_host *h;
    const struct pl_request *req;
    const char *server_id;
};

static int do_claim(json_t *usage, void *arg)
{
    struct claim *c = arg;

    return pl_usage_claim(usage, c->server_id, &c->s->pl, c->h, c->req);
}

int hosts_claim(struct srv_service *s, const struct pl_host *hosts, const size_t *order,
                size_t norder, const char *server_id, const struct pl_request *req,
                char host[PL_NAME_MAX + 1])
{
    for (size_t i = 0; i < norder; i++) {
        const struct pl_host *h = &hosts[order[i]];
        struct claim c = { s, h, req, server_id };
        int rc = usage_ensure(s, h->name);
        if (rc == 0)
            rc = st_meta_modify(s->meta, &usage_kind, h->name, do_claim, &c, NULL);
        if (rc >= 0) {   /* 1: this server's claim was already there (a retried step) */
            snprintf(host, PL_NAME_MAX + 1, "%s", h->name);
            return 0;
        }
        if (rc == -ENOSPC) {
            st_info("server %s: host %s filled up meanwhile (another scheduler): next candidate",
                    server_id, h->name);
            continue;
        }
        return rc;
    }
    return -ENOSPC;
}

static int do_release(json_t *usage, void *arg)
{
    int rc = pl_usage_release(usage, arg);

    return rc == 0 ? 0 : rc == 1 ? 1 : rc;
}

int hosts_release(struct srv_service *s, const char *host, const char *server_id)
{
    if (!host || !*host)
        return 0;
    int rc = st_meta_modify(s->meta, &usage_kind, host, do_release, (void *)server_id, NULL);

    return rc == -ENOENT ? 0 : rc < 0 ? rc : 0;
}

static int do_failure(json_t *usage, void *arg)
{
    struct srv_service *s = arg;

    return pl_usage_failure(usage, st_now_ms(), s->pl.failure_window_ms);
}

void hosts_failure(struct srv_service *s, const char *host)
{
    int rc = usage_ensure(s, host);

    if (rc == 0)
        rc = st_meta_modify(s->meta, &usage_kind, host, do_failure, s, NULL);
    if (rc < 0)
        st_warn("host %s: cannot count the build failure: %s", host, strerror(-rc));
}
