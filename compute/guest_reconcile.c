/* guest_reconcile.c — the agent's crash recovery and heartbeat: dead leases,
 * guests whose domain differs from the record, domains no record owns. */
#include "guest_internal.h"

/* A stale lease of one of our guests: gs_take it over and converge. */
static int on_stale(struct st_meta *m, const char *id, const struct st_lease *l, void *arg)
{
    struct guest_service *s = arg;
    struct st_record rec = { 0 };
    int rc = gs_get(s, id, &rec);

    if (rc < 0)
        return 0;   /* gone, or another host's guest */
    st_record_cleanup(&rec);
    if (st_lease_acquire(m, &guest_kind, id, s->owner, l->op, st_now_ms(), s->ttl_ms) < 0)
        return 0;
    st_warn("server %s: %s interrupted (held by %s): resuming", id, l->op, l->owner);
    return gs_submit(s, id);
}

static bool lease_live(struct guest_service *s, const char *id)
{
    struct st_lease l;

    return st_lease_get(s->meta, &guest_kind, id, &l) == 0 &&
           !st_lease_is_stale(&l, s->owner, st_now_ms());
}

/* Compare one settled guest with its domain: at start, boot what should run;
 * otherwise record changes made outside Strata. */
static void sync_guest(struct guest_service *s, const json_t *rec, const json_t *domains,
                       int at_start)
{
    const char *id = gs_rstr(rec, "id"), *status = gs_rstr(rec, "status");
    const char *recorded = gs_rstr(rec, "power_state"), *actual = "nostate";
    const json_t *dom;
    size_t i;

    if (strcmp(status, GS_BUILDING) == 0 && !lease_live(s, id)) {
        /* a build that failed on an unreachable peer or libvirtd */
        if (gs_take(s, id, "spawn", (char[GJ_MSG_MAX]){0}) == 0) {
            st_info("server %s: building again", id);
            gs_submit(s, id);
        }
        return;
    }
    if (strcmp(status, GS_ACTIVE) != 0 && strcmp(status, GS_STOPPED) != 0)
        return;
    json_array_foreach(domains, i, dom)
        if (strcmp(gs_rstr(dom, "id"), id) == 0)
            actual = gs_rstr(dom, "power_state");
    if (at_start && s->resume && strcmp(gs_rstr(rec, "desired"), "running") == 0 &&
        strcmp(actual, "running") != 0) {
        if (gs_take(s, id, "resume", (char[GJ_MSG_MAX]){ 0 }) == 0) {
            st_info("server %s should run but is %s: starting it", id, actual);
            gs_submit(s, id);
        }
        return;
    }
    if (strcmp(actual, recorded) == 0 || lease_live(s, id))
        return;
    if (gs_take(s, id, "sync", (char[GJ_MSG_MAX]){ 0 }) < 0)
        return;
    /* The listing may be older than the record: look again under the lease,
     * so an action that just finished is not mistaken for an outside change. */
    struct st_record now = { 0 };
    if (gs_get(s, id, &now) == 0) {
        status = gs_rstr(now.data, "status");
        recorded = gs_rstr(now.data, "power_state");
        actual = gs_power_state(s, id);
        if ((strcmp(status, GS_ACTIVE) == 0 || strcmp(status, GS_STOPPED) == 0) &&
            strcmp(actual, recorded) != 0) {
            bool on = strcmp(actual, "running") == 0;
            st_warn("server %s: power state changed outside Strata: %s -> %s", id, recorded,
                    actual);
            /* Like Nova's power-state sync: a guest stopped behind our back
             * stays stopped (desired follows); a vanished domain is recorded. */
            gs_patch_as(s, id, json_pack("{s:s, s:s, s:s}", "power_state", actual, "status",
                                         on ? GS_ACTIVE : GS_STOPPED, "desired",
                                         on ? "running" : "shutoff"));
        }
    }
    st_record_cleanup(&now);
    st_lease_release(s->meta, &guest_kind, id, s->owner);
}

/* A domain this agent answers for: its host, and its cluster (an agent of
 * another Ceph cluster may share the libvirtd and the host name). */
static bool ours(const struct guest_service *s, const json_t *dom)
{
    const char *c = gs_rstr(dom, "cluster");

    return strcmp(gs_rstr(dom, "host"), s->host) == 0 && (!c || !*c || strcmp(c, s->fsid) == 0);
}

/* Domains of this host that no record owns. */
static void sweep_domains(struct guest_service *s, const json_t *domains)
{
    const json_t *dom;
    size_t i;

    json_array_foreach(domains, i, dom) {
        const char *id = gs_rstr(dom, "id");
        struct st_record rec = { 0 };
        if (!ours(s, dom))
            continue;
        int rc = st_meta_get(s->meta, &guest_kind, id, &rec);
        st_record_cleanup(&rec);
        if (rc != -ENOENT)
            continue;
        if (!s->reap) {
            st_warn("domain of server %s (%s) has no record "
                    "(running_deleted_instance_action = log)", id, gs_rstr(dom, "power_state"));
            continue;
        }
        st_warn("domain of server %s has no record: reaping it", id);
        char name[128];
        gs_root_rbd_name(id, name, sizeof(name));
        if (virt_destroy(s->virt, id) == 0 && virt_undefine(s->virt, id) == 0)
            st_rbd_remove(s->vms, name);
    }
}

void gsvc_reconcile(struct guest_service *s, int at_start)
{
    json_t *domains = NULL, *guests = NULL;
    size_t i;
    const json_t *g;

    st_lease_reconcile(s->meta, &guest_kind, s->owner, st_now_ms(), on_stale, s);
    if (virt_list(s->virt, &domains) < 0) {
        st_warn("reconcile: libvirt unreachable: %s", virt_last_error());
        return;
    }
    if (gs_list_records(s, NULL, &guests) == 0)
        json_array_foreach(guests, i, g)
            sync_guest(s, g, domains, at_start);
    sweep_domains(s, domains);
    int running = 0;
    json_array_foreach(domains, i, g)
        running += ours(s, g) && strcmp(gs_rstr(g, "power_state"), "running") == 0;
    host_heartbeat(s->meta, s->host, running);
    if (json_array_size(guests) == 0)
        virt_secret_release(s->virt, s->secret_uuid);
    json_decref(domains);
    json_decref(guests);
}

void gs_reconcile_tick(void *arg)
{
    gsvc_reconcile(arg, 0);
}

void gs_heartbeat_tick(void *arg)
{
    struct guest_service *s = arg;
    int rc = host_heartbeat(s->meta, s->host, -1);

    if (rc < 0)
        st_warn("heartbeat of host %s not written: %s", s->host, strerror(-rc));
}
