/* guest_service.c — guests of this host.  Every operation first records its
 * goal in the guest record under the record's lease (status, desired power
 * state, a pending reboot), then a worker "converges" libvirt and RBD to it.
 * The same converge resumes an operation a killed agent left behind. */
#include "guest_service.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cephkey.h"
#include "domain_xml.h"
#include "host.h"
#include "hvprobe.h"
#include "strata/httpc.h"
#include "strata/log.h"
#include "strata/monaddr.h"
#include "strata/rados.h"
#include "strata/rbd.h"
#include "strata/strutil.h"
#include "strata/ticker.h"
#include "strata/workpool.h"
#include "virt.h"

#define GIB (1024ULL * 1024 * 1024)
#define DETACH_TIMEOUT_MS 30000
#define CONSOLE_MAX (1024 * 1024)

static int validate_guest(const json_t *d)
{
    return st_json_str(d, "host") && st_json_str(d, "status") && st_json_str(d, "project_id")
               ? 0
               : -EINVAL;
}

static const struct st_meta_kind guest_kind = { "guest", validate_guest };

struct guest_service {
    struct st_daemon *d;
    struct st_meta *meta;
    const char *owner;
    char host[65];
    char virt_type[8];
    char state_dir[PATH_MAX];
    char image_url[256];
    char service_token[256];
    char vms_pool[128];
    char ceph_user[128];
    char secret_uuid[40];
    char fsid[64];            /* our cluster: domains of another are not ours */
    unsigned char key[CEPHKEY_MAX];
    size_t keylen;
    json_t *mon_hosts, *mon_ports;
    int64_t ttl_ms, shutdown_ms;
    bool resume, reap;
    rados_ioctx_t vms;
    struct virt *virt;
    struct st_httpc *http;
    struct st_workpool *workers;
    struct st_ticker heartbeat, reconciler;
};

struct job {
    struct guest_service *s;
    char id[ST_META_ID_MAX + 1];
};

static const char *rstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void console_path(const struct guest_service *s, const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "%s/console/%s.log", s->state_dir, id);
}

static void root_rbd_name(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "%s_disk", id);   /* Nova's name for an image-backed root disk */
}

/* ---- record edits ---- */

/* Merge `patch` (borrowed) into the record and stamp updated_at. */
static int merge_fields(json_t *data, void *arg)
{
    char now[32];

    json_object_update(data, (json_t *)arg);
    st_time_iso(st_now_ms(), now, sizeof(now));
    json_object_set_new(data, "updated_at", json_string(now));
    return 0;
}

/* Fenced merge (we must still hold the lease); steals patch. */
static int patch_as(struct guest_service *s, const char *id, json_t *patch)
{
    int rc = patch ? st_meta_modify_as(s->meta, &guest_kind, id, s->owner, merge_fields, patch,
                                       NULL)
                   : -ENOMEM;
    json_decref(patch);
    return rc;
}

static int get(struct guest_service *s, const char *id, struct st_record *rec)
{
    int rc = st_is_uuid(id) ? st_meta_get(s->meta, &guest_kind, id, rec) : -ENOENT;

    /* a guest of another host is not ours to show or touch */
    if (rc == 0 && strcmp(rstr(rec->data, "host"), s->host) != 0) {
        st_record_cleanup(rec);
        rc = -ENOENT;
    }
    return rc;
}

/* ---- the ceph secret ---- */

/* Make sure the secret a disk names exists, when it is for our own user. */
static int ensure_secret(struct guest_service *s, const struct dx_disk *d, char *msg)
{
    if (!d->auth_user)
        return 0;
    if (strcmp(d->auth_user, s->ceph_user) != 0) {
        snprintf(msg, GJ_MSG_MAX, "the disk %s needs client.%s's key; this agent holds only "
                 "client.%s's", d->name, d->auth_user, s->ceph_user);
        return -EINVAL;
    }
    return virt_secret_ensure(s->virt, d->secret_uuid, s->ceph_user, s->key, s->keylen);
}

/* ---- the domain from the record ---- */

struct guest_def {
    struct dx_guest g;
    struct dx_disk vols[25];
    char root_name[300];
    char console[PATH_MAX];
};

static int build_def(struct guest_service *s, const json_t *rec, struct guest_def *def, char *msg)
{
    const json_t *rd = json_object_get(rec, "root_disk");
    const json_t *vols = json_object_get(rec, "volumes");
    struct dx_guest *g = &def->g;
    int rc;

    memset(def, 0, sizeof(*def));
    console_path(s, rstr(rec, "id"), def->console, sizeof(def->console));
    *g = (struct dx_guest){
        .id = rstr(rec, "id"),
        .name = rstr(rec, "name"),
        .project_id = rstr(rec, "project_id"),
        .host = s->host,
        .cluster = s->fsid,
        .flavor = rstr(rec, "flavor"),
        .vcpus = (int)json_integer_value(json_object_get(rec, "vcpus")),
        .ram_mb = json_integer_value(json_object_get(rec, "ram_mb")),
        .virt_type = s->virt_type,
        .console_path = def->console,
        .volumes = def->vols,
    };
    if (rstr(rd, "image_id")) {
        char name[128];
        root_rbd_name(g->id, name, sizeof(name));
        snprintf(def->root_name, sizeof(def->root_name), "%s/%s", s->vms_pool, name);
        g->root = (struct dx_disk){ .name = def->root_name, .hosts = s->mon_hosts,
                                    .ports = s->mon_ports, .auth_user = s->ceph_user,
                                    .secret_uuid = s->secret_uuid,
                                    .qos = json_object_get(rd, "qos_specs") };
    } else if ((rc = dx_disk_from_connection_info(json_object_get(rd, "connection_info"),
                                                  &g->root, msg)) < 0) {
        return rc;
    }
    g->root.target = "vda";
    if ((rc = ensure_secret(s, &g->root, msg)) < 0)
        return rc;
    for (size_t i = 0; i < json_array_size(vols) && i < 25; i++) {
        const json_t *v = json_array_get(vols, i);
        if ((rc = dx_disk_from_connection_info(json_object_get(v, "connection_info"),
                                               &def->vols[i], msg)) < 0 ||
            (rc = ensure_secret(s, &def->vols[i], msg)) < 0)
            return rc;
        def->vols[i].target = rstr(v, "target");
        def->vols[i].serial = rstr(v, "volume_id");
        g->nvolumes++;
    }
    return 0;
}

static int define_domain(struct guest_service *s, const json_t *rec, char *msg)
{
    struct guest_def *def = malloc(sizeof(*def));
    char *xml = NULL;
    int rc;

    if (!def)
        return -ENOMEM;
    rc = build_def(s, rec, def, msg);
    if (rc == 0 && (rc = dx_domain_xml(&def->g, &xml)) == 0 &&
        (rc = virt_define(s->virt, xml)) < 0)
        snprintf(msg, GJ_MSG_MAX, "libvirt refused the domain: %s", virt_last_error());
    free(xml);
    free(def);
    return rc;
}

/* ---- the root disk ---- */

static int clone_root(struct guest_service *s, const json_t *rec, char *msg)
{
    const json_t *rd = json_object_get(rec, "root_disk");
    const char *id = rstr(rec, "id"), *image = rstr(rd, "image_id");
    uint64_t bytes = (uint64_t)json_integer_value(json_object_get(rd, "size_gb")) * GIB, have;
    char name[128], url[512];
    struct st_httpc_resp r = { 0 };
    int rc;

    root_rbd_name(id, name, sizeof(name));
    if (st_rbd_size(s->vms, name, NULL, &have) == 0)   /* made by an interrupted attempt */
        return have >= bytes ? 0 : st_rbd_resize(s->vms, name, bytes);
    json_t *body = json_pack("{s:s, s:s, s:I, s:s}", "pool", s->vms_pool, "name", name, "size",
                             (json_int_t)bytes, "project_id", rstr(rec, "project_id"));
    snprintf(url, sizeof(url), "%s/internal/v1/images/%s/clone", s->image_url, image);
    rc = st_httpc_request(s->http, "POST", url, s->service_token, body, &r);
    json_decref(body);
    if (rc < 0) {
        snprintf(msg, GJ_MSG_MAX, "the image service (%s) is unreachable: %s", s->image_url,
                 strerror(-rc));
    } else if (r.status != 201) {
        snprintf(msg, GJ_MSG_MAX, "the image service refused to clone image %s (%ld): %.120s",
                 image, r.status, r.raw ? r.raw : "");
        rc = r.status == 404 ? -ENOENT : r.status == 400 ? -EINVAL : -EIO;
    }
    st_httpc_resp_cleanup(&r);
    return rc;
}

static int remove_root(struct guest_service *s, const json_t *rec)
{
    char name[128];
    int rc;

    if (!rstr(json_object_get(rec, "root_disk"), "image_id"))
        return 0;   /* a volume: blockd's, kept or deleted by whoever asked */
    root_rbd_name(rstr(rec, "id"), name, sizeof(name));
    rc = st_rbd_remove(s->vms, name);
    return rc == -ENOENT ? 0 : rc;
}

/* ---- converge: make libvirt match the record ---- */

static const char *power_state(struct guest_service *s, const char *id)
{
    const char *st = "nostate";

    virt_power_state(s->virt, id, &st);
    return st;
}

static void release_secrets(struct guest_service *s, const json_t *rec)
{
    const json_t *vols = json_object_get(rec, "volumes"), *v;
    size_t i;

    virt_secret_release(s->virt, s->secret_uuid);
    json_array_foreach(vols, i, v) {
        const char *u = rstr(json_object_get(json_object_get(v, "connection_info"), "data"),
                             "secret_uuid");
        if (u && strcmp(u, s->secret_uuid) != 0)
            virt_secret_release(s->virt, u);
    }
}

static int converge_delete(struct guest_service *s, const json_t *rec)
{
    const char *id = rstr(rec, "id");
    char path[PATH_MAX];
    int rc;

    if ((rc = virt_destroy(s->virt, id)) < 0 || (rc = virt_undefine(s->virt, id)) < 0 ||
        (rc = remove_root(s, rec)) < 0) {
        st_error("server %s: delete incomplete (%s): reconcile retries", id, strerror(-rc));
        return rc;
    }
    console_path(s, id, path, sizeof(path));
    unlink(path);
    rc = st_meta_delete(s->meta, &guest_kind, id, 0);
    if (rc == 0 || rc == -ENOENT) {
        release_secrets(s, rec);
        st_info("server %s deleted", id);
    }
    return rc == -ENOENT ? 0 : rc;
}

/* Domain defined and booted (if the record wants it running). */
static int converge_power(struct guest_service *s, const json_t *rec, char *msg)
{
    const char *id = rstr(rec, "id"), *desired = rstr(rec, "desired");
    const char *reboot = rstr(json_object_get(rec, "_s"), "reboot");
    const char *st = NULL;
    int rc;

    if (strcmp(desired, "running") == 0) {
        /* (re)define from the record: a domain undefined behind our back, or
         * a definition from an older agent, is rebuilt */
        if (virt_power_state(s->virt, id, &st) == -ENOENT || !st || strcmp(st, "running") != 0)
            if ((rc = define_domain(s, rec, msg)) < 0)
                return rc;
        if (reboot && strcmp(reboot, "soft") == 0)
            rc = virt_shutdown(s->virt, id, s->shutdown_ms);
        else if (reboot)
            rc = virt_destroy(s->virt, id);
        else
            rc = 0;
        if (rc == 0 && (rc = virt_start(s->virt, id)) < 0)
            snprintf(msg, GJ_MSG_MAX, "libvirt could not start the guest: %s", virt_last_error());
        return rc;
    }
    rc = virt_shutdown(s->virt, id, s->shutdown_ms);
    if (rc < 0)
        snprintf(msg, GJ_MSG_MAX, "libvirt could not stop the guest: %s", virt_last_error());
    return rc;
}

static int converge(struct guest_service *s, const char *id)
{
    struct st_record rec = { 0 };
    char msg[GJ_MSG_MAX] = "";
    int rc = st_meta_get(s->meta, &guest_kind, id, &rec);

    if (rc < 0)
        return rc == -ENOENT ? 0 : rc;
    const char *status = rstr(rec.data, "status");
    if (strcmp(status, GS_DELETING) == 0) {
        rc = converge_delete(s, rec.data);
        st_record_cleanup(&rec);
        return rc;
    }
    bool building = strcmp(status, GS_BUILDING) == 0;
    if (building && rstr(json_object_get(rec.data, "root_disk"), "image_id"))
        rc = clone_root(s, rec.data, msg);
    if (rc == 0)
        rc = converge_power(s, rec.data, msg);
    const char *ps = power_state(s, id);
    json_t *patch;
    if (rc == 0) {
        patch = json_pack("{s:s, s:n, s:s, s:n, s:{}}", "status",
                          strcmp(ps, "running") == 0 ? GS_ACTIVE : GS_STOPPED, "task_state",
                          "power_state", ps, "fault", "_s");
        st_info("server %s: %s, %s", id, rstr(rec.data, "desired"), ps);
    } else {
        if (!msg[0])
            snprintf(msg, GJ_MSG_MAX, "%s", strerror(-rc));
        char now[32];
        st_time_iso(st_now_ms(), now, sizeof(now));
        /* a failed build is an error; a failed power action leaves the
         * guest as it is, with the fault recorded */
        patch = json_pack("{s:s, s:n, s:s, s:{s:s, s:s}, s:{}}", "status",
                          building ? GS_ERROR : (strcmp(ps, "running") == 0 ? GS_ACTIVE
                                                                            : GS_STOPPED),
                          "task_state", "power_state", ps, "fault", "message", msg, "created",
                          now, "_s");
        st_error("server %s: %s", id, msg);
    }
    int prc = patch_as(s, id, patch);
    st_record_cleanup(&rec);
    return rc < 0 ? rc : prc;
}

static void job_converge(void *arg)
{
    struct job *j = arg;

    st_log_set_request_id(NULL);
    converge(j->s, j->id);
    free(j);
}

/* Queue converge for a server whose lease we hold; releases it on failure. */
static int submit(struct guest_service *s, const char *id)
{
    struct job *j = calloc(1, sizeof(*j));
    int rc;

    if (!j) {
        rc = -ENOMEM;
    } else {
        j->s = s;
        snprintf(j->id, sizeof(j->id), "%s", id);
        rc = st_workpool_submit_leased(s->workers, s->meta, &guest_kind, id, s->owner, s->ttl_ms,
                                       job_converge, j);
    }
    if (rc < 0) {
        free(j);
        st_lease_release(s->meta, &guest_kind, id, s->owner);
    }
    return rc;
}

/* Take the server's lease for `op`: -ECANCELED and msg while another runs. */
static int take(struct guest_service *s, const char *id, const char *op, char *msg)
{
    int rc = st_lease_acquire(s->meta, &guest_kind, id, s->owner, op, st_now_ms(), s->ttl_ms);

    if (rc == -EBUSY) {
        struct st_lease l = { .op = "an operation" };
        st_lease_get(s->meta, &guest_kind, id, &l);
        snprintf(msg, GJ_MSG_MAX, "Server %s is busy (%s in progress)", id, l.op);
        rc = -ECANCELED;
    }
    return rc;
}

/* ---- API operations ---- */

int gsvc_host(struct guest_service *s, json_t **out)
{
    struct st_record rec = { 0 };
    int rc = st_meta_get(s->meta, &host_kind, s->host, &rec);

    if (rc == 0) {
        *out = rec.data;
        rec.data = NULL;
    }
    st_record_cleanup(&rec);
    return rc;
}

int gsvc_spawn(struct guest_service *s, const json_t *req, json_t **out, int *created, char *msg)
{
    json_t *rec = NULL;
    struct st_record old = { 0 };
    int rc = gj_spawn_record(req, s->host, st_now_ms(), &rec, msg);

    if (rc < 0)
        return rc;
    const char *id = rstr(rec, "id");
    rc = st_meta_create_leased(s->meta, &guest_kind, id, rec, s->owner, "spawn", st_now_ms(),
                               s->ttl_ms, NULL);
    if (rc == -EEXIST) {   /* a retry of the same spawn is answered with the record */
        rc = st_meta_get(s->meta, &guest_kind, id, &old);
        if (rc == 0 && (strcmp(rstr(old.data, "host"), s->host) != 0 ||
                        !gj_spawn_matches(old.data, req))) {
            snprintf(msg, GJ_MSG_MAX, "Server %s exists with another definition or host", id);
            rc = -EEXIST;
        }
        if (rc == 0) {
            *created = 0;
            *out = gj_view(old.data);
        }
        st_record_cleanup(&old);
        json_decref(rec);
        return rc;
    }
    if (rc == 0 && (rc = submit(s, id)) == 0) {
        *created = 1;
        *out = gj_view(rec);
        st_info("server %s (%s, project %s): spawning", id, rstr(rec, "name"),
                rstr(rec, "project_id"));
    }
    json_decref(rec);
    return rc;
}

/* Every record of this host (and project, if given), each shaped by `shape`
 * (NULL = the record itself) into a new array. */
static int list_records(struct guest_service *s, const char *project_id,
                        json_t *(*shape)(const json_t *rec), json_t **out)
{
    struct st_meta_filter f[2] = { { "host", s->host }, { "project_id", project_id } };
    char marker[ST_META_ID_MAX + 1] = "";
    json_t *list = json_array();
    int rc = 0;

    do {
        struct st_record_list l = { 0 };
        rc = st_meta_list(s->meta, &guest_kind, marker[0] ? marker : NULL, 0, f,
                          project_id ? 2 : 1, NULL, NULL, &l);
        for (size_t i = 0; rc == 0 && i < l.count; i++)
            json_array_append_new(list, shape ? shape(l.items[i].data)
                                              : json_incref(l.items[i].data));
        snprintf(marker, sizeof(marker), "%s", l.truncated ? l.next_marker : "");
        st_record_list_cleanup(&l);
    } while (rc == 0 && marker[0]);
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}

int gsvc_list(struct guest_service *s, const char *project_id, json_t **out)
{
    return list_records(s, project_id, gj_view, out);
}

int gsvc_show(struct guest_service *s, const char *id, json_t **out)
{
    struct st_record rec = { 0 };
    int rc = get(s, id, &rec);

    if (rc < 0)
        return rc;
    *out = gj_view(rec.data);
    /* the live power state, not just the last one recorded */
    json_object_set_new(*out, "power_state", json_string(power_state(s, id)));
    st_record_cleanup(&rec);
    return 0;
}

int gsvc_action(struct guest_service *s, const char *id, enum gj_action a, char *msg)
{
    struct st_record rec = { 0 };
    int rc = get(s, id, &rec);

    if (rc < 0)
        return rc;
    const char *status = rstr(rec.data, "status");
    if (strcmp(status, GS_ACTIVE) != 0 && strcmp(status, GS_STOPPED) != 0 &&
        strcmp(status, GS_ERROR) != 0) {
        snprintf(msg, GJ_MSG_MAX, "Cannot %s server %s while it is %s", gj_action_name(a), id,
                 status);
        st_record_cleanup(&rec);
        return -ECANCELED;
    }
    st_record_cleanup(&rec);
    if ((rc = take(s, id, gj_action_name(a), msg)) < 0)
        return rc;
    json_t *patch = json_pack("{s:s, s:s, s:{s:s*}}", "desired",
                              a == GJ_STOP ? "shutoff" : "running", "task_state",
                              a == GJ_STOP ? "powering-off"
                                           : a == GJ_START ? "powering-on" : "rebooting",
                              "_s", "reboot",
                              a == GJ_REBOOT_SOFT ? "soft" : a == GJ_REBOOT_HARD ? "hard" : NULL);
    if ((rc = patch_as(s, id, patch)) < 0) {
        st_lease_release(s->meta, &guest_kind, id, s->owner);
        return rc;
    }
    return submit(s, id);
}

int gsvc_delete(struct guest_service *s, const char *id, char *msg)
{
    struct st_record rec = { 0 };
    int rc = get(s, id, &rec);

    if (rc < 0)
        return rc;
    st_record_cleanup(&rec);
    /* a delete may take the server from any state, but not in the middle of
     * another operation: that one finishes first */
    if ((rc = take(s, id, "delete", msg)) < 0)
        return rc;
    if ((rc = patch_as(s, id, json_pack("{s:s, s:s}", "status", GS_DELETING, "task_state",
                                        "deleting"))) < 0) {
        st_lease_release(s->meta, &guest_kind, id, s->owner);
        return rc;
    }
    st_info("server %s: deleting", id);
    return submit(s, id);
}

int gsvc_console(struct guest_service *s, const char *id, long lines, char **text, size_t *len)
{
    struct st_record rec = { 0 };
    char path[PATH_MAX];
    int rc = get(s, id, &rec);
    FILE *f;

    if (rc < 0)
        return rc;
    st_record_cleanup(&rec);
    console_path(s, id, path, sizeof(path));
    *text = NULL;
    *len = 0;
    f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : -errno;   /* not booted yet: empty */
    /* the tail: consoles can grow; the last MiB is plenty */
    if (fseeko(f, 0, SEEK_END) == 0 && ftello(f) > CONSOLE_MAX)
        fseeko(f, -CONSOLE_MAX, SEEK_END);
    else
        fseeko(f, 0, SEEK_SET);
    char *buf = malloc(CONSOLE_MAX + 1);
    size_t n = buf ? fread(buf, 1, CONSOLE_MAX, f) : 0;
    fclose(f);
    if (!buf)
        return -ENOMEM;
    buf[n] = '\0';
    const char *tail = gj_console_tail(buf, n, lines);
    *len = n - (size_t)(tail - buf);
    memmove(buf, tail, *len + 1);
    *text = buf;
    return 0;
}

/* ---- volumes ---- */

static json_t *find_volume(const json_t *rec, const char *volume_id, size_t *idx)
{
    const json_t *vols = json_object_get(rec, "volumes");
    json_t *v;
    size_t i;

    json_array_foreach(vols, i, v) {
        if (strcmp(rstr(v, "volume_id"), volume_id) == 0) {
            if (idx)
                *idx = i;
            return v;
        }
    }
    return NULL;
}

static const char *root_volume_id(const json_t *rec)
{
    const char *v = rstr(json_object_get(rec, "root_disk"), "volume_id");
    return v ? v : "";
}

/* Read the record and check it can take a volume operation. */
static int volume_begin(struct guest_service *s, const char *id, const char *op,
                        struct st_record *rec, char *msg)
{
    int rc = get(s, id, rec);

    if (rc < 0)
        return rc;
    const char *status = rstr(rec->data, "status");
    if (strcmp(status, GS_ACTIVE) != 0 && strcmp(status, GS_STOPPED) != 0) {
        snprintf(msg, GJ_MSG_MAX, "Cannot %s a volume while server %s is %s", op, id, status);
        st_record_cleanup(rec);
        return -ECANCELED;
    }
    if ((rc = take(s, id, op, msg)) < 0)
        st_record_cleanup(rec);
    return rc;
}

/* volume_begin, for a volume the server has: *v and *idx locate it in
 * rec's volumes; -ENOENT (lease released) when it is not attached. */
static int attached_begin(struct guest_service *s, const char *id, const char *op,
                          const char *volume_id, struct st_record *rec, json_t **v, size_t *idx,
                          char *msg)
{
    int rc = volume_begin(s, id, op, rec, msg);

    if (rc < 0)
        return rc;
    if (!(*v = find_volume(rec->data, volume_id, idx))) {
        st_lease_release(s->meta, &guest_kind, id, s->owner);
        st_record_cleanup(rec);
        return -ENOENT;
    }
    return 0;
}

static json_t *attachment_view(const json_t *v)
{
    char dev[40];

    snprintf(dev, sizeof(dev), "/dev/%s", rstr(v, "target"));
    return json_pack("{s:s, s:s, s:s}", "volume_id", rstr(v, "volume_id"), "target",
                     rstr(v, "target"), "device", dev);
}

int gsvc_attach(struct guest_service *s, const char *id, const char *volume_id,
                const json_t *ci, json_t **out, char *msg)
{
    struct st_record rec = { 0 };
    struct dx_disk d;
    char target[8], *xml = NULL;
    json_t *used = json_array(), *v;
    size_t i;
    int rc = volume_begin(s, id, "attach", &rec, msg);

    if (rc < 0) {
        json_decref(used);
        return rc;
    }
    if ((v = find_volume(rec.data, volume_id, NULL))) {   /* already attached: same answer */
        *out = attachment_view(v);
        goto out;
    }
    if (strcmp(volume_id, root_volume_id(rec.data)) == 0) {
        snprintf(msg, GJ_MSG_MAX, "Volume %s is the server's root disk", volume_id);
        rc = -ECANCELED;
        goto out;
    }
    json_array_append_new(used, json_string("vda"));
    json_array_foreach(json_object_get(rec.data, "volumes"), i, v)
        json_array_append_new(used, json_string(rstr(v, "target")));
    if ((rc = dx_next_target(used, target, sizeof(target))) < 0) {
        snprintf(msg, GJ_MSG_MAX, "Server %s has no free disk slot", id);
        goto out;
    }
    if ((rc = dx_disk_from_connection_info(ci, &d, msg)) < 0 ||
        (rc = ensure_secret(s, &d, msg)) < 0)
        goto out;
    d.target = target;
    d.serial = volume_id;
    if ((rc = dx_disk_xml(&d, &xml)) < 0)
        goto out;
    if ((rc = virt_attach_disk(s->virt, id, xml)) < 0) {
        snprintf(msg, GJ_MSG_MAX, "libvirt could not attach the volume: %s", virt_last_error());
        goto out;
    }
    json_t *vols = json_deep_copy(json_object_get(rec.data, "volumes"));
    v = json_pack("{s:s, s:s, s:O}", "volume_id", volume_id, "target", target,
                  "connection_info", ci);
    json_array_append(vols, v);
    rc = patch_as(s, id, json_pack("{s:o}", "volumes", vols));
    if (rc == 0) {
        *out = attachment_view(v);
        st_info("server %s: volume %s attached as %s", id, volume_id, target);
    }
    json_decref(v);
out:
    st_lease_release(s->meta, &guest_kind, id, s->owner);
    st_record_cleanup(&rec);
    json_decref(used);
    free(xml);
    return rc;
}

int gsvc_detach(struct guest_service *s, const char *id, const char *volume_id, char *msg)
{
    struct st_record rec = { 0 };
    json_t *v;
    size_t idx;
    int rc = attached_begin(s, id, "detach", volume_id, &rec, &v, &idx, msg);

    if (rc < 0)
        return rc;
    rc = virt_detach_disk(s->virt, id, rstr(v, "target"), DETACH_TIMEOUT_MS);
    if (rc == -ETIMEDOUT)
        snprintf(msg, GJ_MSG_MAX, "The guest did not release %s within %d s; try again",
                 rstr(v, "target"), DETACH_TIMEOUT_MS / 1000);
    else if (rc < 0)
        snprintf(msg, GJ_MSG_MAX, "libvirt could not detach the volume: %s", virt_last_error());
    if (rc == 0) {
        json_t *vols = json_deep_copy(json_object_get(rec.data, "volumes"));
        json_array_remove(vols, idx);
        rc = patch_as(s, id, json_pack("{s:o}", "volumes", vols));
    }
    if (rc == 0)
        st_info("server %s: volume %s detached", id, volume_id);
    st_lease_release(s->meta, &guest_kind, id, s->owner);
    if (rc == 0)
        release_secrets(s, rec.data);
    st_record_cleanup(&rec);
    return rc;
}

int gsvc_volume_update(struct guest_service *s, const char *id, const char *volume_id,
                       const json_t *qos, int64_t size_gb, char *msg)
{
    struct st_record rec = { 0 };
    json_t *v;
    size_t idx;
    int rc = attached_begin(s, id, "update volume", volume_id, &rec, &v, &idx, msg);

    if (rc < 0)
        return rc;
    const char *target = rstr(v, "target");
    if (qos && (rc = virt_set_iotune(s->virt, id, target, json_is_null(qos) ? NULL : qos)) < 0)
        snprintf(msg, GJ_MSG_MAX, "libvirt could not change the disk's limits: %s",
                 virt_last_error());
    if (rc == 0 && size_gb > 0 &&
        (rc = virt_resize_disk(s->virt, id, target, (uint64_t)size_gb * GIB)) < 0)
        snprintf(msg, GJ_MSG_MAX, "libvirt could not grow the disk: %s", virt_last_error());
    if (rc == 0 && qos) {   /* remembered, so a redefined domain keeps the limits */
        json_t *vols = json_deep_copy(json_object_get(rec.data, "volumes"));
        json_t *data = json_object_get(json_object_get(json_array_get(vols, idx),
                                                       "connection_info"), "data");
        json_object_set(data, "qos_specs", (json_t *)qos);
        rc = patch_as(s, id, json_pack("{s:o}", "volumes", vols));
    }
    st_lease_release(s->meta, &guest_kind, id, s->owner);
    st_record_cleanup(&rec);
    return rc;
}

/* ---- reconcile ---- */

/* A stale lease of one of our guests: take it over and converge. */
static int on_stale(struct st_meta *m, const char *id, const struct st_lease *l, void *arg)
{
    struct guest_service *s = arg;
    struct st_record rec = { 0 };
    int rc = get(s, id, &rec);

    if (rc < 0)
        return 0;   /* gone, or another host's guest */
    st_record_cleanup(&rec);
    if (st_lease_acquire(m, &guest_kind, id, s->owner, l->op, st_now_ms(), s->ttl_ms) < 0)
        return 0;
    st_warn("server %s: %s interrupted (held by %s): resuming", id, l->op, l->owner);
    return submit(s, id);
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
    const char *id = rstr(rec, "id"), *status = rstr(rec, "status");
    const char *recorded = rstr(rec, "power_state"), *actual = "nostate";
    const json_t *dom;
    size_t i;

    if (strcmp(status, GS_ACTIVE) != 0 && strcmp(status, GS_STOPPED) != 0)
        return;
    json_array_foreach(domains, i, dom)
        if (strcmp(rstr(dom, "id"), id) == 0)
            actual = rstr(dom, "power_state");
    if (at_start && s->resume && strcmp(rstr(rec, "desired"), "running") == 0 &&
        strcmp(actual, "running") != 0) {
        if (take(s, id, "resume", (char[GJ_MSG_MAX]){ 0 }) == 0) {
            st_info("server %s should run but is %s: starting it", id, actual);
            submit(s, id);
        }
        return;
    }
    if (strcmp(actual, recorded) == 0 || lease_live(s, id))
        return;
    if (take(s, id, "sync", (char[GJ_MSG_MAX]){ 0 }) < 0)
        return;
    /* The listing may be older than the record: look again under the lease,
     * so an action that just finished is not mistaken for an outside change. */
    struct st_record now = { 0 };
    if (get(s, id, &now) == 0) {
        status = rstr(now.data, "status");
        recorded = rstr(now.data, "power_state");
        actual = power_state(s, id);
        if ((strcmp(status, GS_ACTIVE) == 0 || strcmp(status, GS_STOPPED) == 0) &&
            strcmp(actual, recorded) != 0) {
            bool on = strcmp(actual, "running") == 0;
            st_warn("server %s: power state changed outside Strata: %s -> %s", id, recorded,
                    actual);
            /* Like Nova's power-state sync: a guest stopped behind our back
             * stays stopped (desired follows); a vanished domain is recorded. */
            patch_as(s, id, json_pack("{s:s, s:s, s:s}", "power_state", actual, "status",
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
    const char *c = rstr(dom, "cluster");

    return strcmp(rstr(dom, "host"), s->host) == 0 && (!c || !*c || strcmp(c, s->fsid) == 0);
}

/* Domains of this host that no record owns. */
static void sweep_domains(struct guest_service *s, const json_t *domains)
{
    const json_t *dom;
    size_t i;

    json_array_foreach(domains, i, dom) {
        const char *id = rstr(dom, "id");
        struct st_record rec = { 0 };
        if (!ours(s, dom))
            continue;
        int rc = st_meta_get(s->meta, &guest_kind, id, &rec);
        st_record_cleanup(&rec);
        if (rc != -ENOENT)
            continue;
        if (!s->reap) {
            st_warn("domain of server %s (%s) has no record "
                    "(running_deleted_instance_action = log)", id, rstr(dom, "power_state"));
            continue;
        }
        st_warn("domain of server %s has no record: reaping it", id);
        char name[128];
        root_rbd_name(id, name, sizeof(name));
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
    if (list_records(s, NULL, NULL, &guests) == 0)
        json_array_foreach(guests, i, g)
            sync_guest(s, g, domains, at_start);
    sweep_domains(s, domains);
    int running = 0;
    json_array_foreach(domains, i, g)
        running += ours(s, g) && strcmp(rstr(g, "power_state"), "running") == 0;
    host_heartbeat(s->meta, s->host, running);
    if (json_array_size(guests) == 0)
        virt_secret_release(s->virt, s->secret_uuid);
    json_decref(domains);
    json_decref(guests);
}

static void reconcile_tick(void *arg)
{
    gsvc_reconcile(arg, 0);
}

static void heartbeat_tick(void *arg)
{
    struct guest_service *s = arg;
    int rc = host_heartbeat(s->meta, s->host, -1);

    if (rc < 0)
        st_warn("heartbeat of host %s not written: %s", s->host, strerror(-rc));
}

/* ---- life cycle ---- */

static int64_t meminfo_mb(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    long long kb = 0;
    char line[128];

    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "MemTotal: %lld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb / 1024;
}

static int64_t disk_gb(const char *dir)
{
    struct statvfs v;

    return statvfs(dir, &v) == 0 ? (int64_t)((uint64_t)v.f_bavail * v.f_frsize / GIB) : 0;
}

/* What the host record says about this host. */
static int host_facts(struct guest_service *s, const struct st_config *c, const char *why,
                      json_t **out)
{
    char model[128] = "", arch[32] = "", fsid[64] = "", url[300], msg[GJ_MSG_MAX];
    const char *zone = st_config_str(c, "computed", "availability_zone");
    const char *loctext = st_config_str(c, "computed", "location");
    const char *bind = st_config_str(c, "computed", "bind");
    json_t *loc = NULL;
    int rc;

    if (!loctext || !*loctext) {
        char def[128];
        snprintf(def, sizeof(def), "host=%s", s->host);
        rc = host_parse_location(def, &loc, msg, sizeof(msg));
    } else {
        rc = host_parse_location(loctext, &loc, msg, sizeof(msg));
    }
    if (rc < 0) {
        st_error("[computed] %s", msg);
        return rc;
    }
    virt_host_cpu(s->virt, model, sizeof(model), arch, sizeof(arch));
    snprintf(fsid, sizeof(fsid), "%s", s->fsid);
    snprintf(url, sizeof(url), "http://%s:%lld",
             bind && *bind ? bind : st_config_str(c, "http", "bind"),
             (long long)st_config_int(c, "computed", "port"));
    int64_t vcpus = st_config_int(c, "computed", "vcpus");
    int64_t ram = st_config_int(c, "computed", "ram_mb");
    int64_t disk = st_config_int(c, "computed", "disk_gb");
    *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:o, s:[{s:s, s:s}], s:s}",
                     "agent_url", url, "hypervisor_type", s->virt_type, "hypervisor_why", why,
                     "cpu_model", model, "arch", arch[0] ? arch : "x86_64", "vcpus",
                     (json_int_t)(vcpus > 0 ? vcpus : sysconf(_SC_NPROCESSORS_ONLN)), "ram_mb",
                     (json_int_t)(ram > 0 ? ram : meminfo_mb()), "disk_gb",
                     (json_int_t)(disk > 0 ? disk : disk_gb(s->state_dir)),
                     "availability_zone", zone && *zone ? zone : st_config_str(c, "node", "zone"),
                     "location", loc, "ceph", "fsid", fsid, "vms_pool", s->vms_pool, "version",
                     STRATA_VERSION);
    return *out ? 0 : -ENOMEM;
}

static int make_dirs(const char *dir)
{
    char sub[PATH_MAX];

    snprintf(sub, sizeof(sub), "%s/console", dir);
    if ((mkdir(dir, 0750) < 0 && errno != EEXIST) || (mkdir(sub, 0750) < 0 && errno != EEXIST)) {
        st_error("[computed] state_dir %s: %s", dir, strerror(errno));
        return -errno;
    }
    return 0;
}

static int setup(struct guest_service *s)
{
    const struct st_config *c = st_daemon_config(s->d);
    const char *host = st_config_str(c, "computed", "host");
    char why[300];
    json_t *facts = NULL;
    struct st_httpc_config hc = { 60000, 5000, 3, 200 };
    int rc;

    if (!host || !*host)
        host = st_config_str(c, "node", "name");
    if (!host || !*host) {
        static char hn[65];
        gethostname(hn, sizeof(hn) - 1);
        host = hn;
    }
    if (!host_name_valid(host)) {
        st_error("[computed] host \"%s\": letters, digits, '.', '-' and '_' only", host);
        return -EINVAL;
    }
    snprintf(s->host, sizeof(s->host), "%s", host);
    snprintf(s->state_dir, sizeof(s->state_dir), "%s", st_config_str(c, "computed", "state_dir"));
    snprintf(s->image_url, sizeof(s->image_url), "%s", st_config_str(c, "computed", "image_url"));
    snprintf(s->service_token, sizeof(s->service_token), "%s",
             st_config_str(c, "auth", "admin_token"));
    snprintf(s->vms_pool, sizeof(s->vms_pool), "%s", st_config_str(c, "ceph", "vms_pool"));
    snprintf(s->ceph_user, sizeof(s->ceph_user), "%s", st_daemon_ceph_user(s->d));
    snprintf(s->secret_uuid, sizeof(s->secret_uuid), "%s",
             st_config_str(c, "computed", "rbd_secret_uuid"));
    if (!st_is_uuid(s->secret_uuid)) {
        st_error("[computed] rbd_secret_uuid \"%s\" is not a UUID", s->secret_uuid);
        return -EINVAL;
    }
    s->ttl_ms = st_config_duration_ms(c, "lease", "ttl");
    s->shutdown_ms = st_config_duration_ms(c, "computed", "shutdown_timeout");
    s->resume = st_config_bool(c, "computed", "resume_guests_state_on_host_boot");
    s->reap = strcmp(st_config_str(c, "computed", "running_deleted_instance_action"), "reap") == 0;
    if ((rc = make_dirs(s->state_dir)) < 0 ||
        (rc = st_rados_fsid(st_daemon_rados(s->d), s->fsid, sizeof(s->fsid))) < 0)
        return rc;
    if ((rc = cephkey_read(st_daemon_rados(s->d), s->ceph_user, s->key, &s->keylen)) < 0) {
        st_error("no cephx key for client.%s in the keyring librados uses (%s): guests could "
                 "not open their disks", s->ceph_user, strerror(-rc));
        return rc;
    }
    if ((rc = st_rados_mon_hosts(st_daemon_rados(s->d), &s->mon_hosts, &s->mon_ports)) < 0) {
        st_error("cannot tell the monitors' addresses from mon_host");
        return rc;
    }
    if ((rc = st_rados_ioctx(st_daemon_rados(s->d), s->vms_pool, &s->vms)) < 0) {
        st_error("vms pool %s ([ceph] vms_pool): %s", s->vms_pool, strerror(-rc));
        return rc;
    }
    if ((rc = virt_open(st_config_str(c, "computed", "libvirt_uri"), &s->virt)) < 0)
        return rc;
    rc = hv_choose(s->virt, st_config_str(c, "computed", "hypervisor"), s->state_dir,
                   st_config_duration_ms(c, "computed", "kvm_probe_timeout"), s->virt_type,
                   sizeof(s->virt_type), why, sizeof(why));
    if (rc < 0)
        return rc;
    st_info("hypervisor: %s — %s", s->virt_type, why);
    if ((rc = host_facts(s, c, why, &facts)) < 0)
        return rc;
    rc = host_register(s->meta, s->host, facts);
    json_decref(facts);
    if (rc < 0) {
        st_error("cannot register host %s: %s", s->host, strerror(-rc));
        return rc;
    }
    if ((rc = st_httpc_create(&hc, &s->http)) < 0 ||
        (rc = st_workpool_create((unsigned)st_config_int(c, "computed", "workers"), 1024,
                                 &s->workers)) < 0)
        return rc;
    gsvc_reconcile(s, 1);
    if ((rc = st_ticker_start(&s->heartbeat, st_config_duration_ms(c, "computed",
                                                                   "heartbeat_interval"),
                              heartbeat_tick, s)) < 0 ||
        (rc = st_ticker_start(&s->reconciler, st_config_duration_ms(c, "computed",
                                                                    "reconcile_interval"),
                              reconcile_tick, s)) < 0)
        return rc;
    st_info("host %s registered (%s, %s)", s->host, s->virt_type, s->vms_pool);
    return 0;
}

int gsvc_create(struct st_daemon *d, struct guest_service **out)
{
    struct guest_service *s = calloc(1, sizeof(*s));
    int rc;

    if (!s)
        return -ENOMEM;
    s->d = d;
    s->meta = st_daemon_meta(d);
    s->owner = st_daemon_owner(d);
    rc = setup(s);
    if (rc < 0) {
        gsvc_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

void gsvc_destroy(struct guest_service *s)
{
    if (!s)
        return;
    st_ticker_stop(&s->reconciler);
    st_ticker_stop(&s->heartbeat);
    st_workpool_destroy(s->workers);
    if (s->host[0] && s->http)   /* registered: tell the scheduler at once */
        host_mark_down(s->meta, s->host);
    st_httpc_destroy(s->http);
    virt_close(s->virt);
    if (s->vms)
        rados_ioctx_destroy(s->vms);
    json_decref(s->mon_hosts);
    json_decref(s->mon_ports);
    OPENSSL_cleanse(s->key, sizeof(s->key));
    OPENSSL_cleanse(s->service_token, sizeof(s->service_token));
    free(s);
}
