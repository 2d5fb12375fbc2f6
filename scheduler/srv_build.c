/* srv_build.c — a server's long operations, each run by a worker on the
 * record's lease: build (boot disk, placement, claim, spawn on the agent,
 * retry on another host) and delete; and the reconcile that resumes them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "srv_internal.h"
#include "strata/log.h"
#include "strata/strutil.h"

#define GIB (1024LL * 1024 * 1024)
#define POLL_MS 500

enum job_kind { JOB_BUILD, JOB_DELETE };

struct job {
    struct srv_service *s;
    enum job_kind kind;
    char id[ST_META_ID_MAX + 1];
};

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static const char *rs(const json_t *o, const char *k)
{
    const char *v = st_json_str(o, k);
    return v ? v : "";
}

/* ---- the record ---- */

static int apply_patch(json_t *data, void *arg)
{
    char now[32];

    st_time_iso(st_now_ms(), now, sizeof(now));
    json_object_update(data, arg);
    json_object_set_new(data, "updated_at", json_string(now));
    return 0;
}

int srv_patch(struct srv_service *s, const char *id, json_t *patch)
{
    int rc = patch ? st_meta_modify_as(s->meta, &server_kind, id, s->owner, apply_patch, patch, NULL)
                   : -ENOMEM;

    json_decref(patch);
    if (rc < 0 && rc != -ENOENT)
        st_warn("server %s: cannot update its record: %s", id, strerror(-rc));
    return rc;
}

/* Whether a delete was asked for meanwhile (the build gives way to it). */
static bool delete_requested(struct srv_service *s, const char *id)
{
    struct st_record r = { 0 };
    bool yes = st_meta_get(s->meta, &server_kind, id, &r) == 0 &&
               json_is_true(json_object_get(r.data, "deleting"));

    st_record_cleanup(&r);
    return yes;
}

static void fail_build(struct srv_service *s, const char *id, const char *message)
{
    char now[32];

    st_time_iso(st_now_ms(), now, sizeof(now));
    st_warn("server %s: ERROR: %s", id, message);
    srv_patch(s, id, json_pack("{s:s, s:n, s:{s:s, s:s}}", "vm_state", SV_ERROR, "task_state",
                               "fault", "message", message, "created", now));
}

/* ---- the boot disk ---- */

/* Wait until blockd says the volume is available: 0, or -EIO and msg. */
static int volume_wait(struct srv_service *s, const json_t *rec, const char *vol, char *msg)
{
    int64_t deadline = st_now_ms() + s->build_timeout_ms;

    for (;;) {
        struct st_httpc_resp r = { 0 };
        int rc = rem_volume_get(s, rs(rec, "project_id"), rs(rec, "user_id"), vol, &r);
        const char *st = rs(json_object_get(r.body, "volume"), "status");
        if (rc == 0 && r.status == 200 && strcmp(st, "available") == 0) {
            st_httpc_resp_cleanup(&r);
            return 0;
        }
        if (rc == 0 && (r.status == 404 || strcmp(st, "error") == 0)) {
            snprintf(msg, SJ_MSG_MAX, "boot volume %s %s", vol,
                     r.status == 404 ? "is gone" : "went to error while it was made");
            st_httpc_resp_cleanup(&r);
            return -EIO;
        }
        st_httpc_resp_cleanup(&r);
        if (st_now_ms() > deadline || delete_requested(s, rs(rec, "id"))) {
            snprintf(msg, SJ_MSG_MAX, "boot volume %s was not available in time (status %s)",
                     vol, st[0] ? st : "unknown");
            return -EIO;
        }
        sleep_ms(1000);
    }
}

/* A volume of ours made for this server by an earlier, interrupted attempt
 * (blockd volumes carry the server id in their metadata). */
static int find_made_volume(struct srv_service *s, const json_t *rec, char out[64])
{
    struct st_httpc_resp r = { 0 };
    char url[600];
    const json_t *v;
    size_t i;
    int rc;

    snprintf(url, sizeof(url), "%s/v3/%s/volumes/detail", s->volume_url, rs(rec, "project_id"));
    rc = rem_as_user(s, rs(rec, "project_id"), rs(rec, "user_id"), "GET", url, NULL, &r);
    out[0] = '\0';
    if (rc == 0 && r.status == 200)
        json_array_foreach(json_object_get(r.body, "volumes"), i, v)
            if (strcmp(rs(json_object_get(v, "metadata"), "strata_server_id"), rs(rec, "id")) == 0)
                snprintf(out, 64, "%s", rs(v, "id"));
    st_httpc_resp_cleanup(&r);
    return rc;
}

/* Boot from image to volume: have blockd make the volume from the image. */
static int make_boot_volume(struct srv_service *s, json_t *rec, char *msg)
{
    json_t *bv = json_object_get(rec, "boot_volume");
    char vol[64] = "";
    int rc;

    if (st_json_str(bv, "volume_id"))
        return volume_wait(s, rec, rs(bv, "volume_id"), msg);
    find_made_volume(s, rec, vol);
    if (!vol[0]) {
        struct st_httpc_resp r = { 0 };
        char url[600], name[300];
        snprintf(url, sizeof(url), "%s/v3/%s/volumes", s->volume_url, rs(rec, "project_id"));
        snprintf(name, sizeof(name), "%s-boot", rs(rec, "name"));
        json_t *body = json_pack("{s:{s:I, s:s, s:s, s:{s:s}}}", "volume", "size",
                                 (json_int_t)json_integer_value(json_object_get(bv, "size_gb")),
                                 "imageRef", rs(bv, "image_id"), "name", name, "metadata",
                                 "strata_server_id", rs(rec, "id"));
        rc = body ? rem_as_user(s, rs(rec, "project_id"), rs(rec, "user_id"), "POST", url, body, &r)
                  : -ENOMEM;
        json_decref(body);
        if (rc < 0 || r.status != 202 || !st_json_str(json_object_get(r.body, "volume"), "id")) {
            if (rc < 0)
                snprintf(msg, SJ_MSG_MAX, "the volume service is unreachable (%s)", strerror(-rc));
            else
                rem_reply_message(&r, "making the boot volume: the volume service", msg,
                                  SJ_MSG_MAX);
            st_httpc_resp_cleanup(&r);
            return -EIO;
        }
        snprintf(vol, sizeof(vol), "%s", rs(json_object_get(r.body, "volume"), "id"));
        st_httpc_resp_cleanup(&r);
    }
    json_object_set_new(bv, "volume_id", json_string(vol));
    if ((rc = srv_patch(s, rs(rec, "id"), json_pack("{s:O}", "boot_volume", bv))) < 0)
        return rc;
    return volume_wait(s, rec, vol, msg);
}

/* What placement needs of the disk: its pool's room and the image's properties. */
struct disk_facts {
    const char *pool;      /* where the disk's data lives (locality) */
    const char *room_pool; /* where new space is taken (capacity) */
    int64_t need_gb;       /* new space the boot takes in room_pool */
    int64_t size_gb;       /* boot-from-image root disk size */
    char arch[32], hv[16];
};

static int image_facts(struct srv_service *s, const json_t *rec, const char *image,
                       struct disk_facts *df, char *msg)
{
    struct st_httpc_resp r = { 0 };
    char url[600];
    int rc;

    snprintf(url, sizeof(url), "%s/v2/images/%s", s->image_url, image);
    rc = rem_as_user(s, rs(rec, "project_id"), rs(rec, "user_id"), "GET", url, NULL, &r);
    if (rc < 0 || r.status != 200) {
        if (rc < 0)
            snprintf(msg, SJ_MSG_MAX, "the image service is unreachable (%s)", strerror(-rc));
        else if (r.status == 404)
            snprintf(msg, SJ_MSG_MAX, "Image %s could not be found.", image);
        else
            rem_reply_message(&r, "the image service", msg, SJ_MSG_MAX);
        st_httpc_resp_cleanup(&r);
        return -EIO;
    }
    if (strcmp(rs(r.body, "status"), "active") != 0) {
        snprintf(msg, SJ_MSG_MAX, "Image %s is not active (status %s).", image,
                 rs(r.body, "status"));
        st_httpc_resp_cleanup(&r);
        return -EIO;
    }
    int64_t bytes = json_integer_value(json_object_get(r.body, "virtual_size"));
    if (bytes <= 0)
        bytes = json_integer_value(json_object_get(r.body, "size"));
    int64_t gb = (bytes + GIB - 1) / GIB, min = json_integer_value(json_object_get(r.body, "min_disk"));
    int64_t flavor_gb = json_integer_value(json_object_get(json_object_get(rec, "flavor"), "disk"));
    df->size_gb = gb > flavor_gb ? gb : flavor_gb;
    if (min > df->size_gb)
        df->size_gb = min;
    if (df->size_gb < 1)
        df->size_gb = 1;
    snprintf(df->arch, sizeof(df->arch), "%s", rs(r.body, "architecture"));
    snprintf(df->hv, sizeof(df->hv), "%s", rs(r.body, "hypervisor_type"));
    st_httpc_resp_cleanup(&r);
    return 0;
}

static int disk_facts(struct srv_service *s, const json_t *rec, struct disk_facts *df, char *msg)
{
    const json_t *bv = json_object_get(rec, "boot_volume");
    const char *image = st_json_str(rec, "image_id");

    memset(df, 0, sizeof(*df));
    if (image) {   /* a copy-on-write clone of the image in the vms pool */
        df->pool = s->images_pool;
        df->room_pool = s->vms_pool;
        int rc = image_facts(s, rec, image, df, msg);
        df->need_gb = df->size_gb;
        return rc;
    }
    df->pool = df->room_pool = s->volumes_pool;
    if (strcmp(rs(bv, "source"), "image") == 0) {
        df->need_gb = st_json_str(bv, "volume_id")
                          ? 0 : json_integer_value(json_object_get(bv, "size_gb"));
        return image_facts(s, rec, rs(bv, "image_id"), df, msg);
    }
    return 0;   /* an existing volume: its space is already taken */
}

/* The pool cannot hold the boot disk: say so before any host is chosen. */
static int room_check(struct srv_service *s, const struct disk_facts *df, struct pl_loc *target,
                      int *ntarget, char *msg)
{
    int64_t avail = 0;
    int rc = cf_pool(s->facts, df->pool, &avail, target, ntarget);

    if (rc < 0) {
        st_warn("pool %s: no CRUSH facts (%s): placing without locality", df->pool,
                strerror(-rc));
        *ntarget = 0;
    }
    if (df->need_gb <= 0)
        return 0;
    struct pl_loc t2[PL_LOC_MAX];
    int n2 = 0;
    if (df->room_pool != df->pool && cf_pool(s->facts, df->room_pool, &avail, t2, &n2) < 0)
        return 0;   /* unknown room: the agent's clone will tell */
    if (rc < 0 && df->room_pool == df->pool)
        return 0;
    double offered = (double)avail * s->pl.disk_ratio;
    if ((double)df->need_gb * GIB > offered) {
        snprintf(msg, SJ_MSG_MAX, "no valid host: pool %s cannot hold the %lld GiB boot disk "
                                  "(%.1f GiB free, replication counted)",
                 df->room_pool, (long long)df->need_gb, offered / GIB);
        return -ENOSPC;
    }
    return 0;
}

/* The hosts of the group's other members (for (anti-)affinity). */
static int group_hosts(struct srv_service *s, const json_t *rec, enum pl_group_policy *policy,
                       json_t **hosts)
{
    struct st_record g = { 0 };
    const json_t *m;
    size_t i;
    const char *gid = st_json_str(rec, "group_id");

    *policy = PL_GROUP_NONE;
    *hosts = json_array();
    if (!gid || st_meta_get(s->meta, &group_kind, gid, &g) < 0)
        return 0;
    const char *p = rs(g.data, "policy");
    *policy = strcmp(p, "affinity") == 0        ? PL_GROUP_AFFINITY
              : strcmp(p, "anti-affinity") == 0 ? PL_GROUP_ANTI_AFFINITY
              : strcmp(p, "soft-affinity") == 0 ? PL_GROUP_SOFT_AFFINITY
                                                : PL_GROUP_SOFT_ANTI_AFFINITY;
    json_array_foreach(json_object_get(g.data, "members"), i, m) {
        struct st_record o = { 0 };
        if (!json_is_string(m) || strcmp(json_string_value(m), rs(rec, "id")) == 0)
            continue;
        if (st_meta_get(s->meta, &server_kind, json_string_value(m), &o) == 0 &&
            st_json_str(o.data, "host"))
            json_array_append_new(*hosts, json_string(rs(o.data, "host")));
        st_record_cleanup(&o);
    }
    st_record_cleanup(&g);
    return 0;
}

/* A JSON array of strings as a C array (pointers into the array). */
static const char **strv(const json_t *a, size_t *n)
{
    const char **v = calloc(json_array_size(a) + 1, sizeof(*v));
    const json_t *x;
    size_t i;

    *n = 0;
    json_array_foreach(a, i, x)
        if (v && json_is_string(x))
            v[(*n)++] = json_string_value(x);
    return v;
}

/* Filter, weigh, claim: the host into `host`, or -ENOSPC and msg = explain. */
static int place(struct srv_service *s, const json_t *rec, const struct disk_facts *df,
                 const struct pl_loc *target, int ntarget, char host[PL_NAME_MAX + 1],
                 char zone[PL_NAME_MAX + 1], char *msg)
{
    const json_t *flavor = json_object_get(rec, "flavor");
    struct pl_request req = {
        .vcpus = json_integer_value(json_object_get(flavor, "vcpus")),
        .ram_mb = json_integer_value(json_object_get(flavor, "ram")),
        .disk_gb = 0,   /* every disk is RBD: room is the pool's, checked once */
        .zone = st_json_str(rec, "zone"),
        .arch = df->arch,
        .hypervisor_type = df->hv,
        .fsid = cf_fsid(s->facts),
        .ntarget = ntarget,
    };
    json_t *ghosts = NULL;
    struct pl_host *hosts = NULL;
    size_t n = 0, order[16];
    int rc = -ENOSPC;

    memcpy(req.target, target, sizeof(struct pl_loc) * (size_t)ntarget);
    group_hosts(s, rec, &req.group_policy, &ghosts);
    req.group_hosts = strv(ghosts, &req.ngroup_hosts);
    req.exclude = strv(json_object_get(rec, "attempts"), &req.nexclude);
    for (int round = 0; round < 5 && rc == -ENOSPC; round++) {
        struct pl_result res = { .order = order };
        free(hosts);
        hosts = NULL;
        if ((rc = hosts_load(s, &hosts, &n, NULL)) < 0)
            break;
        rc = pl_place(&s->pl, hosts, n, &req, ((uint64_t)rand() << 31) ^ (uint64_t)rand(), &res,
                      sizeof(order) / sizeof(order[0]));
        if (rc == -ENOSPC) {
            snprintf(msg, SJ_MSG_MAX, "%s", res.explain);
            if (st_log_get_level() == ST_LOG_DEBUG) {
                char *t = pl_explain_table(&s->pl, hosts, n, &req);
                st_debug("server %s: %s\n%s", rs(rec, "id"), res.explain, t ? t : "");
                free(t);
            }
            break;
        }
        if (rc < 0)
            break;
        /* lost races re-place: the next round sees the other scheduler's claims */
        rc = hosts_claim(s, hosts, res.order, res.norder, rs(rec, "id"), &req, host);
        if (rc == 0)
            for (size_t i = 0; i < n; i++)
                if (strcmp(hosts[i].name, host) == 0)
                    snprintf(zone, PL_NAME_MAX + 1, "%s", hosts[i].zone);
        if (rc == -ENOSPC)
            snprintf(msg, SJ_MSG_MAX, "no valid host: every candidate filled up meanwhile");
    }
    free(hosts);
    free((void *)req.group_hosts);
    free((void *)req.exclude);
    json_decref(ghosts);
    return rc;
}

/* ---- the agent ---- */

static json_t *spawn_body(const json_t *rec, const struct disk_facts *df, const json_t *ci)
{
    const json_t *flavor = json_object_get(rec, "flavor"), *bv = json_object_get(rec, "boot_volume");
    json_t *root = ci ? json_pack("{s:s, s:O, s:b}", "volume_id", rs(bv, "volume_id"),
                                  "connection_info", ci, "delete_on_termination", 0)
                      : json_pack("{s:s, s:I}", "image_id", rs(rec, "image_id"), "size_gb",
                                  (json_int_t)df->size_gb);
    return json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:o}", "id", rs(rec, "id"), "name",
                     rs(rec, "name"), "project_id", rs(rec, "project_id"), "flavor",
                     rs(flavor, "name"), "vcpus", json_object_get(flavor, "vcpus"), "ram_mb",
                     json_object_get(flavor, "ram"), "root_disk", root);
}

/* Wait for the guest on host: 0 when running, -EIO and msg when it failed or
 * timed out, -ECANCELED when a delete was asked for. */
static int guest_wait(struct srv_service *s, const char *id, const char *host, char *msg)
{
    int64_t started = st_now_ms(), deadline = started + s->build_timeout_ms;
    char path[128];

    snprintf(path, sizeof(path), "/%s", id);
    for (;;) {
        struct st_httpc_resp r = { 0 };
        int rc = rem_agent(s, host, "GET", path, NULL, &r);
        const json_t *g = json_object_get(r.body, "server");
        const char *st = rc == 0 && r.status == 200 ? rs(g, "status") : "";
        if (strcmp(st, "active") == 0) {
            st_httpc_resp_cleanup(&r);
            return 0;
        }
        if (strcmp(st, "error") == 0 || (rc == 0 && r.status == 404)) {
            snprintf(msg, SJ_MSG_MAX, "host %s: %s", host,
                     r.status == 404 ? "the agent lost the server"
                     : st_json_str(json_object_get(g, "fault"), "message")
                         ? rs(json_object_get(g, "fault"), "message")
                         : "the boot failed");
            st_httpc_resp_cleanup(&r);
            return -EIO;
        }
        st_httpc_resp_cleanup(&r);
        if (delete_requested(s, id))
            return -ECANCELED;
        if (st_now_ms() > deadline) {
            snprintf(msg, SJ_MSG_MAX, "host %s: the server was not running after %lld s", host,
                     (long long)(s->build_timeout_ms / 1000));
            return -EIO;
        }
        /* most spawns finish within seconds: poll briskly first */
        sleep_ms(st_now_ms() - started < 5000 ? 100 : POLL_MS);
    }
}

/* Remove the guest from host and wait until the agent has forgotten it. */
static int guest_remove(struct srv_service *s, const char *id, const char *host)
{
    int64_t deadline = st_now_ms() + s->build_timeout_ms;
    char path[128];
    struct st_httpc_resp r = { 0 };
    int rc;

    snprintf(path, sizeof(path), "/%s", id);
    rc = rem_agent(s, host, "DELETE", path, NULL, &r);
    long status = r.status;
    st_httpc_resp_cleanup(&r);
    if (rc == -ENOENT)   /* the host is gone from the records: nothing to remove there */
        return 0;
    if (rc < 0 || (status != 202 && status != 204 && status != 404))
        return rc < 0 ? rc : -EIO;
    while (status != 404) {
        if (st_now_ms() > deadline)
            return -ETIMEDOUT;
        sleep_ms(POLL_MS);
        rc = rem_agent(s, host, "GET", path, NULL, &r);
        status = rc == 0 ? r.status : 0;
        st_httpc_resp_cleanup(&r);
    }
    return 0;
}

/* Undo a failed attempt on host: guest, attachment, claim; count the failure. */
static void attempt_undo(struct srv_service *s, json_t *rec, const char *host)
{
    json_t *bv = json_object_get(rec, "boot_volume");
    int rc = guest_remove(s, rs(rec, "id"), host);

    if (rc < 0)
        st_warn("server %s: cannot remove the failed guest from %s: %s (the agent's reconcile "
                "will)", rs(rec, "id"), host, strerror(-rc));
    if (st_json_str(bv, "attachment_id") &&
        rem_attach_delete(s, rs(rec, "project_id"), rs(rec, "user_id"),
                          rs(bv, "attachment_id")) == 0) {
        json_object_set_new(bv, "attachment_id", json_null());
        srv_patch(s, rs(rec, "id"), json_pack("{s:O}", "boot_volume", bv));
    }
    hosts_release(s, host, rs(rec, "id"));
    hosts_failure(s, host);
}

/* One attempt on host: 0 running, -EIO (msg) failed, -ECANCELED deleted meanwhile. */
static int attempt(struct srv_service *s, json_t *rec, const struct disk_facts *df,
                   const char *host, char *msg)
{
    json_t *bv = json_object_get(rec, "boot_volume"), *ci = NULL, *body;
    struct st_httpc_resp r = { 0 };
    int rc;

    if (json_is_object(bv)) {   /* the boot volume is attached to the host first */
        char att[64];
        if (st_json_str(bv, "attachment_id"))   /* a resumed attempt: start afresh */
            rem_attach_delete(s, rs(rec, "project_id"), rs(rec, "user_id"),
                              rs(bv, "attachment_id"));
        if ((rc = rem_attach_create(s, rs(rec, "project_id"), rs(rec, "user_id"),
                                    rs(bv, "volume_id"), rs(rec, "id"), host, att, &ci, msg)) < 0)
            return -EIO;
        json_object_set_new(bv, "attachment_id", json_string(att));
        if ((rc = srv_patch(s, rs(rec, "id"), json_pack("{s:O}", "boot_volume", bv))) < 0) {
            json_decref(ci);
            return rc;
        }
    }
    body = spawn_body(rec, df, ci);
    json_decref(ci);
    rc = body ? rem_agent(s, host, "POST", "", body, &r) : -ENOMEM;
    json_decref(body);
    if (rc < 0 || (r.status != 202 && r.status != 200)) {
        if (rc < 0)
            snprintf(msg, SJ_MSG_MAX, "host %s: the agent is unreachable (%s)", host,
                     strerror(-rc));
        else
            rem_reply_message(&r, "the agent", msg, SJ_MSG_MAX);
        st_httpc_resp_cleanup(&r);
        return -EIO;
    }
    st_httpc_resp_cleanup(&r);
    if ((rc = guest_wait(s, rs(rec, "id"), host, msg)) < 0)
        return rc;
    if (json_is_object(bv))
        rem_attach_complete(s, rs(rec, "project_id"), rs(rec, "user_id"),
                            rs(bv, "attachment_id"));
    return 0;
}

static void do_delete(struct srv_service *s, const char *id);

static void do_build(struct srv_service *s, const char *id)
{
    struct st_record rec = { 0 };
    struct disk_facts df;
    struct pl_loc target[PL_LOC_MAX];
    int ntarget = 0, rc;
    char msg[SJ_MSG_MAX] = "", host[PL_NAME_MAX + 1] = "", zone[PL_NAME_MAX + 1] = "";

    if (st_meta_get(s->meta, &server_kind, id, &rec) < 0)
        return;
    if (json_is_true(json_object_get(rec.data, "deleting")))
        goto deleted;
    if ((rc = disk_facts(s, rec.data, &df, msg)) < 0 ||
        (rc = room_check(s, &df, target, &ntarget, msg)) < 0)
        goto failed;
    if (strcmp(rs(json_object_get(rec.data, "boot_volume"), "source"), "image") == 0 &&
        (rc = make_boot_volume(s, rec.data, msg)) < 0)
        goto failed;
    for (;;) {
        if (delete_requested(s, id))
            goto deleted;
        snprintf(host, sizeof(host), "%s", rs(rec.data, "host"));
        if (!host[0] || strcmp(rs(rec.data, "task_state"), "spawning") != 0) {
            if ((rc = place(s, rec.data, &df, target, ntarget, host, zone, msg)) < 0)
                goto failed;
            json_array_append_new(json_object_get(rec.data, "attempts"), json_string(host));
            if (srv_patch(s, id, json_pack("{s:s, s:s, s:s, s:O}", "host", host, "zone_placed",
                                           zone, "task_state", "spawning", "attempts",
                                           json_object_get(rec.data, "attempts"))) < 0) {
                hosts_release(s, host, id);
                goto out;
            }
            json_object_set_new(rec.data, "task_state", json_string("spawning"));
        }
        st_info("server %s: spawning on %s (attempt %zu of %u)", id, host,
                json_array_size(json_object_get(rec.data, "attempts")), s->max_attempts);
        rc = attempt(s, rec.data, &df, host, msg);
        if (rc == 0) {
            char now[32];
            st_time_iso(st_now_ms(), now, sizeof(now));
            srv_patch(s, id, json_pack("{s:s, s:n, s:s}", "vm_state", SV_ACTIVE, "task_state",
                                       "launched_at", now));
            st_info("server %s: ACTIVE on %s", id, host);
            goto out;
        }
        if (rc == -ECANCELED)
            goto deleted;
        if (rc == -ESTALE)
            goto out;
        st_warn("server %s: attempt on %s failed: %s", id, host, msg);
        attempt_undo(s, rec.data, host);
        json_object_set_new(rec.data, "task_state", json_string("scheduling"));
        if (json_array_size(json_object_get(rec.data, "attempts")) >= s->max_attempts) {
            char why[SJ_MSG_MAX];
            snprintf(why, sizeof(why), "the boot failed on %zu host(s); last: %s",
                     json_array_size(json_object_get(rec.data, "attempts")), msg);
            snprintf(msg, sizeof(msg), "%s", why);
            srv_patch(s, id, json_pack("{s:n}", "host"));
            rc = -EIO;
            goto failed;
        }
        srv_patch(s, id, json_pack("{s:n, s:s}", "host", "task_state", "scheduling"));
    }
failed:
    if (delete_requested(s, id))
        goto deleted;
    fail_build(s, id, msg[0] ? msg : strerror(-rc));
    goto out;
deleted:
    st_record_cleanup(&rec);
    do_delete(s, id);
    return;
out:
    st_record_cleanup(&rec);
}

/* ---- delete ---- */

int srv_group_drop_member(json_t *g, void *arg)
{
    json_t *members = json_object_get(g, "members"), *m;
    size_t i;

    json_array_foreach(members, i, m)
        if (json_is_string(m) && strcmp(json_string_value(m), arg) == 0) {
            json_array_remove(members, i);
            return 0;
        }
    return 1;
}

static int volume_delete(struct srv_service *s, const json_t *rec, const char *vol)
{
    struct st_httpc_resp r = { 0 };
    char url[600], msg[SJ_MSG_MAX];
    int64_t deadline = st_now_ms() + 60000;
    int rc;

    snprintf(url, sizeof(url), "%s/v3/%s/volumes/%s", s->volume_url, rs(rec, "project_id"), vol);
    for (;;) {   /* the volume turns available once its attachment is gone */
        rc = rem_as_user(s, rs(rec, "project_id"), rs(rec, "user_id"), "DELETE", url, NULL, &r);
        if (rc < 0 || r.status == 202 || r.status == 404 || st_now_ms() > deadline)
            break;
        st_httpc_resp_cleanup(&r);
        sleep_ms(1000);
    }
    if (rc == 0 && r.status != 202 && r.status != 404) {
        rem_reply_message(&r, "the volume service", msg, sizeof(msg));
        st_warn("server %s: boot volume %s not deleted: %s", rs(rec, "id"), vol, msg);
        rc = -EIO;
    }
    st_httpc_resp_cleanup(&r);
    return rc;
}

static void do_delete(struct srv_service *s, const char *id)
{
    struct st_record rec = { 0 };
    const json_t *v, *bv;
    size_t i;
    int rc;

    if (st_meta_get(s->meta, &server_kind, id, &rec) < 0)
        return;
    const char *project = rs(rec.data, "project_id"), *user = rs(rec.data, "user_id");
    const char *host = st_json_str(rec.data, "host");
    if (host && (rc = guest_remove(s, id, host)) < 0) {
        st_warn("server %s: the agent on %s did not remove it (%s): the delete is retried by "
                "the reconcile", id, host, strerror(-rc));
        goto out;   /* the lease lapses; reconcile resumes the delete */
    }
    json_array_foreach(json_object_get(rec.data, "volumes"), i, v)
        if (st_json_str(v, "attachment_id"))
            rem_attach_delete(s, project, user, rs(v, "attachment_id"));
    bv = json_object_get(rec.data, "boot_volume");
    if (st_json_str(bv, "attachment_id") &&
        (rc = rem_attach_delete(s, project, user, rs(bv, "attachment_id"))) < 0)
        goto out;
    if (st_json_str(bv, "volume_id") && json_is_true(json_object_get(bv, "delete_on_termination")) &&
        (rc = volume_delete(s, rec.data, rs(bv, "volume_id"))) < 0)
        goto out;
    if (st_json_str(rec.data, "group_id"))
        st_meta_modify(s->meta, &group_kind, rs(rec.data, "group_id"), srv_group_drop_member, (void *)id,
                       NULL);
    if (host)
        hosts_release(s, host, id);
    /* attempts that failed released their claims; a crash between claim and
     * record may have left one on the last host tried */
    json_array_foreach(json_object_get(rec.data, "attempts"), i, v)
        hosts_release(s, json_string_value(v), id);
    if ((rc = st_meta_delete(s->meta, &server_kind, id, 0)) < 0 && rc != -ENOENT)
        st_warn("server %s: record not deleted: %s", id, strerror(-rc));
    else
        st_info("server %s: deleted", id);
out:
    st_record_cleanup(&rec);
}

/* ---- jobs ---- */

static void run_job(void *arg)
{
    struct job *j = arg;

    if (j->kind == JOB_BUILD) {
        do_build(j->s, j->id);
        if (delete_requested(j->s, j->id))   /* asked while the build ran */
            do_delete(j->s, j->id);
    } else
        do_delete(j->s, j->id);
    free(j);
}

static int submit(struct srv_service *s, enum job_kind kind, const char *id)
{
    struct job *j = calloc(1, sizeof(*j));
    int rc;

    if (!j)
        return -ENOMEM;
    j->s = s;
    j->kind = kind;
    snprintf(j->id, sizeof(j->id), "%s", id);
    rc = st_workpool_submit_leased(s->workers, s->meta, &server_kind, id, s->owner, s->ttl_ms,
                                   run_job, free, j);
    if (rc < 0) {
        st_error("server %s: cannot queue the %s: %s", id,
                 kind == JOB_BUILD ? "build" : "delete", strerror(-rc));
        free(j);
    }
    return rc;
}

void srv_after_lease(struct srv_service *s, const char *id)
{
    if (delete_requested(s, id) &&
        st_lease_acquire(s->meta, &server_kind, id, s->owner, "delete", st_now_ms(), s->ttl_ms) == 0)
        delete_submit(s, id);
}

int build_submit(struct srv_service *s, const char *id)
{
    return submit(s, JOB_BUILD, id);
}

int delete_submit(struct srv_service *s, const char *id)
{
    return submit(s, JOB_DELETE, id);
}

/* A lease whose holder died: resume its build or delete. */
static int reconcile_one(struct st_meta *m, const char *id, const struct st_lease *l, void *arg)
{
    struct srv_service *s = arg;
    struct st_record rec = { 0 };
    int rc = st_lease_acquire(m, &server_kind, id, s->owner, l->op, st_now_ms(), s->ttl_ms);

    if (rc == -EBUSY || rc == -ENOENT)
        return 0;
    if (rc < 0 || (rc = st_meta_get(m, &server_kind, id, &rec)) < 0)
        goto release;
    bool deleting = json_is_true(json_object_get(rec.data, "deleting"));
    bool building = strcmp(rs(rec.data, "vm_state"), SV_BUILDING) == 0;
    st_record_cleanup(&rec);
    st_warn("server %s: %s interrupted (held by %s): resumed", id, l->op, l->owner);
    if ((deleting || building) && submit(s, deleting ? JOB_DELETE : JOB_BUILD, id) == 0)
        return 0;   /* the job owns the lease now */
release:
    st_lease_release(m, &server_kind, id, s->owner);
    return rc;
}

/* Servers being deleted with no lease at all (a delete asked while the
 * build ran, whose job died before it saw the request). */
static bool orphan_delete(const json_t *data, void *arg)
{
    (void)arg;
    return json_is_true(json_object_get(data, "deleting"));
}

void srv_reconcile(struct srv_service *s)
{
    struct st_record_list l = { 0 };
    int rc = st_lease_reconcile(s->meta, &server_kind, s->owner, st_now_ms(), reconcile_one, s);

    if (rc < 0)
        st_warn("reconcile of servers: %s", strerror(-rc));
    if (st_meta_list(s->meta, &server_kind, NULL, 0, NULL, 0, orphan_delete, NULL, &l) < 0)
        return;
    for (size_t i = 0; i < l.count; i++)
        if (st_lease_acquire(s->meta, &server_kind, l.items[i].id, s->owner, "delete",
                             st_now_ms(), s->ttl_ms) == 0)
            delete_submit(s, l.items[i].id);
    st_record_list_cleanup(&l);
}
