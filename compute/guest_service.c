/* guest_service.c — guests of this host.  Every operation first records its
 * goal in the guest record under the record's lease (status, desired power
 * state, a pending reboot), then a worker "converges" libvirt and RBD to it.
 * The same converge resumes an operation a killed agent left behind. */
#include "guest_internal.h"

static int validate_guest(const json_t *d)
{
    return st_json_str(d, "host") && st_json_str(d, "status") && st_json_str(d, "project_id")
               ? 0
               : -EINVAL;
}

const struct st_meta_kind guest_kind = { "guest", validate_guest };

struct job {
    struct guest_service *s;
    char id[ST_META_ID_MAX + 1];
};

const char *gs_rstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void console_path(const struct guest_service *s, const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "%s/console/%s.log", s->state_dir, id);
}

void gs_root_rbd_name(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "%s_disk", id);   /* Nova's name for an image-backed root disk */
}

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
int gs_patch_as(struct guest_service *s, const char *id, json_t *patch)
{
    int rc = patch ? st_meta_modify_as(s->meta, &guest_kind, id, s->owner, merge_fields, patch,
                                       NULL)
                   : -ENOMEM;
    json_decref(patch);
    return rc;
}

int gs_get(struct guest_service *s, const char *id, struct st_record *rec)
{
    int rc = st_is_uuid(id) ? st_meta_get(s->meta, &guest_kind, id, rec) : -ENOENT;

    /* a guest of another host is not ours to show or touch */
    if (rc == 0 && strcmp(gs_rstr(rec->data, "host"), s->host) != 0) {
        st_record_cleanup(rec);
        rc = -ENOENT;
    }
    return rc;
}

/* Make sure the secret a disk names exists, when it is for our own user. */
int gs_ensure_secret(struct guest_service *s, const struct dx_disk *d, char *msg)
{
    if (!d->auth_user)
        return 0;
    if (strcmp(d->auth_user, s->ceph_user) != 0) {
        snprintf(msg, GJ_MSG_MAX, "the disk %s needs client.%s's key; this agent holds only "
                 "client.%s's", d->name, d->auth_user, s->ceph_user);
        return -EINVAL;
    }
    int rc = virt_secret_ensure(s->virt, d->secret_uuid, s->ceph_user, s->key, s->keylen);
    if (rc < 0)
        snprintf(msg, GJ_MSG_MAX, "libvirt could not hold the cephx secret %s: %s", d->secret_uuid,
                 virt_last_error());
    return rc;
}

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
    console_path(s, gs_rstr(rec, "id"), def->console, sizeof(def->console));
    *g = (struct dx_guest){
        .id = gs_rstr(rec, "id"),
        .name = gs_rstr(rec, "name"),
        .project_id = gs_rstr(rec, "project_id"),
        .host = s->host,
        .cluster = s->fsid,
        .flavor = gs_rstr(rec, "flavor"),
        .vcpus = (int)json_integer_value(json_object_get(rec, "vcpus")),
        .ram_mb = json_integer_value(json_object_get(rec, "ram_mb")),
        .virt_type = s->virt_type,
        .console_path = def->console,
        .volumes = def->vols,
    };
    if (gs_rstr(rd, "image_id")) {
        char name[128];
        gs_root_rbd_name(g->id, name, sizeof(name));
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
    if ((rc = gs_ensure_secret(s, &g->root, msg)) < 0)
        return rc;
    for (size_t i = 0; i < json_array_size(vols) && i < 25; i++) {
        const json_t *v = json_array_get(vols, i);
        if ((rc = dx_disk_from_connection_info(json_object_get(v, "connection_info"),
                                               &def->vols[i], msg)) < 0 ||
            (rc = gs_ensure_secret(s, &def->vols[i], msg)) < 0)
            return rc;
        def->vols[i].target = gs_rstr(v, "target");
        def->vols[i].serial = gs_rstr(v, "volume_id");
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
        snprintf(msg, GJ_MSG_MAX, "libvirt could not define the domain: %s", virt_last_error());
    free(xml);
    free(def);
    return rc;
}

static int clone_root(struct guest_service *s, const json_t *rec, char *msg)
{
    const json_t *rd = json_object_get(rec, "root_disk");
    const char *id = gs_rstr(rec, "id"), *image = gs_rstr(rd, "image_id");
    uint64_t bytes = (uint64_t)json_integer_value(json_object_get(rd, "size_gb")) * GIB, have;
    char name[128];

    gs_root_rbd_name(id, name, sizeof(name));
    if (st_rbd_size(s->vms, name, NULL, &have) == 0)   /* made by an interrupted attempt */
        return have >= bytes ? 0 : st_rbd_resize(s->vms, name, bytes);
    return st_imaged_clone(s->imaged, image, s->vms_pool, name, bytes, gs_rstr(rec, "project_id"),
                           msg, GJ_MSG_MAX);
}

static int remove_root(struct guest_service *s, const json_t *rec)
{
    char name[128];
    int rc;

    if (!gs_rstr(json_object_get(rec, "root_disk"), "image_id"))
        return 0;   /* a volume: blockd's, kept or deleted by whoever asked */
    gs_root_rbd_name(gs_rstr(rec, "id"), name, sizeof(name));
    rc = st_rbd_remove(s->vms, name);
    return rc == -ENOENT ? 0 : rc;
}

const char *gs_power_state(struct guest_service *s, const char *id)
{
    const char *st = "nostate";

    virt_power_state(s->virt, id, &st);
    return st;
}

void gs_release_secrets(struct guest_service *s, const json_t *rec)
{
    const json_t *vols = json_object_get(rec, "volumes"), *v;
    size_t i;

    virt_secret_release(s->virt, s->secret_uuid);
    json_array_foreach(vols, i, v) {
        const char *u = gs_rstr(json_object_get(json_object_get(v, "connection_info"), "data"),
                                "secret_uuid");
        if (u && strcmp(u, s->secret_uuid) != 0)
            virt_secret_release(s->virt, u);
    }
}

static int converge_delete(struct guest_service *s, const json_t *rec)
{
    const char *id = gs_rstr(rec, "id");
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
        gs_release_secrets(s, rec);
        st_info("server %s deleted", id);
    }
    return rc == -ENOENT ? 0 : rc;
}

/* Domain defined and booted (if the record wants it running). */
static int converge_power(struct guest_service *s, const json_t *rec, char *msg)
{
    const char *id = gs_rstr(rec, "id"), *desired = gs_rstr(rec, "desired");
    const char *reboot = gs_rstr(json_object_get(rec, "_s"), "reboot");
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

bool gs_transient(int rc)
{
    return rc == -ECONNREFUSED || rc == -ETIMEDOUT || rc == -EAGAIN;
}

static int converge(struct guest_service *s, const char *id)
{
    struct st_record rec = { 0 };
    char msg[GJ_MSG_MAX] = "";
    int rc = st_meta_get(s->meta, &guest_kind, id, &rec);

    if (rc < 0)
        return rc == -ENOENT ? 0 : rc;
    const char *status = gs_rstr(rec.data, "status");
    if (strcmp(status, GS_DELETING) == 0) {
        rc = converge_delete(s, rec.data);
        st_record_cleanup(&rec);
        return rc;
    }
    bool building = strcmp(status, GS_BUILDING) == 0;
    if (building && gs_rstr(json_object_get(rec.data, "root_disk"), "image_id"))
        rc = clone_root(s, rec.data, msg);
    if (rc == 0)
        rc = converge_power(s, rec.data, msg);
    const char *ps = gs_power_state(s, id);
    json_t *patch;
    if (rc == 0) {
        patch = json_pack("{s:s, s:n, s:s, s:n, s:{}}", "status",
                          strcmp(ps, "running") == 0 ? GS_ACTIVE : GS_STOPPED, "task_state",
                          "power_state", ps, "fault", "_s");
        st_info("server %s: %s, %s", id, gs_rstr(rec.data, "desired"), ps);
    } else {
        if (!msg[0])
            snprintf(msg, GJ_MSG_MAX, "%s", strerror(-rc));
        char now[32];
        st_time_iso(st_now_ms(), now, sizeof(now));
        /* a failed build is an error, unless what failed was reaching
         * libvirt or a peer (the reconcile loop builds it again); a failed
         * power action leaves the guest as it is, with the fault recorded */
        bool retry = building && gs_transient(rc);
        patch = json_pack("{s:s, s:n, s:s, s:{s:s, s:s}, s:{}}", "status",
                          retry      ? GS_BUILDING
                          : building ? GS_ERROR
                                     : (strcmp(ps, "running") == 0 ? GS_ACTIVE : GS_STOPPED),
                          "task_state", "power_state", ps, "fault", "message", msg, "created", now,
                          "_s");
        st_error("server %s: %s%s", id, msg, retry ? " (the build is retried)" : "");
    }
    int prc = gs_patch_as(s, id, patch);
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
int gs_submit(struct guest_service *s, const char *id)
{
    struct job *j = calloc(1, sizeof(*j));
    int rc;

    if (!j) {
        rc = -ENOMEM;
    } else {
        j->s = s;
        snprintf(j->id, sizeof(j->id), "%s", id);
        /* dropped at shutdown before it runs: free j, the lease goes to reconcile */
        rc = st_workpool_submit_leased(s->workers, s->meta, &guest_kind, id, s->owner, s->ttl_ms,
                                       job_converge, free, j);
    }
    if (rc < 0) {
        free(j);
        st_lease_release(s->meta, &guest_kind, id, s->owner);
    }
    return rc;
}

/* Take the server's lease for `op`: -ECANCELED and msg while another runs. */
int gs_take(struct guest_service *s, const char *id, const char *op, char *msg)
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

int gsvc_spawn(struct guest_service *s, const struct gj_spawn_req *q, json_t **out, int *created,
               char *msg)
{
    json_t *rec = NULL;
    struct st_record old = { 0 };
    int rc = gj_spawn_record(q, s->host, st_now_ms(), &rec);

    if (rc < 0)
        return rc;
    rc = st_meta_create_leased(s->meta, &guest_kind, q->id, rec, s->owner, "spawn", st_now_ms(),
                               s->ttl_ms, NULL);
    if (rc == -EEXIST) {   /* a retry of the same spawn is answered with the record */
        rc = st_meta_get(s->meta, &guest_kind, q->id, &old);
        if (rc == 0 &&
            (strcmp(gs_rstr(old.data, "host"), s->host) != 0 || !gj_spawn_matches(old.data, q))) {
            snprintf(msg, GJ_MSG_MAX, "Server %s exists with another definition or host", q->id);
            rc = -EEXIST;
        }
        if (rc == 0) {
            *created = 0;
            *out = old.data;
            old.data = NULL;
        }
        st_record_cleanup(&old);
        json_decref(rec);
        return rc;
    }
    if (rc == 0 && (rc = gs_submit(s, q->id)) == 0) {
        *created = 1;
        *out = json_incref(rec);
        st_info("server %s (%s, project %s): spawning", q->id, q->name, q->project_id);
    }
    json_decref(rec);
    return rc;
}

/* Every record of this host (and project, if given), into a new array. */
int gs_list_records(struct guest_service *s, const char *project_id, json_t **out)
{
    struct st_meta_filter f[2] = { { "host", s->host }, { "project_id", project_id } };
    char marker[ST_META_ID_MAX + 1] = "";
    json_t *list = json_array();
    int rc = 0;

    if (!list)
        return -ENOMEM;
    do {
        struct st_record_list l = { 0 };
        rc = st_meta_list(s->meta, &guest_kind, marker[0] ? marker : NULL, 0, f,
                          project_id ? 2 : 1, NULL, NULL, &l);
        for (size_t i = 0; rc == 0 && i < l.count; i++)
            json_array_append(list, l.items[i].data);
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
    return gs_list_records(s, project_id, out);
}

int gsvc_show(struct guest_service *s, const char *id, json_t **out)
{
    struct st_record rec = { 0 };
    int rc = gs_get(s, id, &rec);

    if (rc < 0)
        return rc;
    /* the live power state, not just the last one recorded (which stays
     * while libvirtd cannot be asked) */
    const char *ps = "nostate";
    rc = virt_power_state(s->virt, id, &ps);
    if (rc == 0 || rc == -ENOENT)
        json_object_set_new(rec.data, "power_state", json_string(ps));
    *out = rec.data;
    rec.data = NULL;
    st_record_cleanup(&rec);
    return 0;
}

int gsvc_action(struct guest_service *s, const char *id, enum gj_action a, char *msg)
{
    struct st_record rec = { 0 };
    int rc = gs_get(s, id, &rec);

    if (rc < 0)
        return rc;
    const char *status = gs_rstr(rec.data, "status");
    if (strcmp(status, GS_ACTIVE) != 0 && strcmp(status, GS_STOPPED) != 0 &&
        strcmp(status, GS_ERROR) != 0) {
        snprintf(msg, GJ_MSG_MAX, "Cannot %s server %s while it is %s", gj_action_name(a), id,
                 status);
        st_record_cleanup(&rec);
        return -ECANCELED;
    }
    st_record_cleanup(&rec);
    if ((rc = gs_take(s, id, gj_action_name(a), msg)) < 0)
        return rc;
    json_t *patch = json_pack("{s:s, s:s, s:{s:s*}}", "desired",
                              a == GJ_STOP ? "shutoff" : "running", "task_state",
                              a == GJ_STOP ? "powering-off"
                                           : a == GJ_START ? "powering-on" : "rebooting",
                              "_s", "reboot",
                              a == GJ_REBOOT_SOFT ? "soft" : a == GJ_REBOOT_HARD ? "hard" : NULL);
    if ((rc = gs_patch_as(s, id, patch)) < 0) {
        st_lease_release(s->meta, &guest_kind, id, s->owner);
        return rc;
    }
    return gs_submit(s, id);
}

int gsvc_delete(struct guest_service *s, const char *id, char *msg)
{
    struct st_record rec = { 0 };
    int rc = gs_get(s, id, &rec);

    if (rc < 0)
        return rc;
    st_record_cleanup(&rec);
    /* a delete may gs_take the server from any state, but not in the middle of
     * another operation: that one finishes first */
    if ((rc = gs_take(s, id, "delete", msg)) < 0)
        return rc;
    if ((rc = gs_patch_as(s, id, json_pack("{s:s, s:s}", "status", GS_DELETING, "task_state",
                                           "deleting"))) < 0) {
        st_lease_release(s->meta, &guest_kind, id, s->owner);
        return rc;
    }
    st_info("server %s: deleting", id);
    return gs_submit(s, id);
}

int gsvc_console(struct guest_service *s, const char *id, long lines, char **text, size_t *len)
{
    struct st_record rec = { 0 };
    char path[PATH_MAX];
    int rc = gs_get(s, id, &rec);
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
    if ((rc = virt_open(st_config_str(c, "computed", "libvirt_uri"),
                        st_config_duration_ms(c, "computed", "libvirt_timeout"), &s->virt)) < 0)
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
    s->registered = true; /* from here on, every failure marks the host down */
    if ((rc = st_httpc_create(&hc, &s->http)) < 0 ||
        (rc = st_httpc_peer_create(s->http, st_config_str(c, "computed", "image_url"),
                                   s->service_token, &s->imaged)) < 0 ||
        (rc = st_workpool_create((unsigned)st_config_int(c, "computed", "workers"), 1024,
                                 &s->workers)) < 0)
        return rc;
    gsvc_reconcile(s, 1);
    if ((rc = st_ticker_start(&s->heartbeat, st_config_duration_ms(c, "computed",
                                                                   "heartbeat_interval"),
                              gs_heartbeat_tick, s)) < 0 ||
        (rc = st_ticker_start(&s->reconciler, st_config_duration_ms(c, "computed",
                                                                    "reconcile_interval"),
                              gs_reconcile_tick, s)) < 0)
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
    if (s->registered) /* tell the scheduler at once */
        host_mark_down(s->meta, s->host);
    st_httpc_peer_destroy(s->imaged);
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
