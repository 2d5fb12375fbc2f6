/* srv_service.c — the compute API's logic: server records (made here, built
 * and deleted by srv_build.c's workers), the calls passed to the agents and
 * blockd, flavors, groups, hypervisors and zones.  Another project's server
 * or group is "not found"; no Ceph I/O here except through ceph_facts. */
#include "srv_service.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "srv_internal.h"
#include "strata/log.h"
#include "strata/strutil.h"


static const char *rs(const json_t *o, const char *k)
{
    const char *v = st_json_str(o, k);
    return v ? v : "";
}

/* The last path segment of a reference that may be a URL (".../flavors/1"). */
static const char *ref_id(const char *ref)
{
    const char *slash = ref ? strrchr(ref, '/') : NULL;
    return slash ? slash + 1 : ref;
}

/* ---- servers ---- */

/* The caller's server record: -ENOENT for another project's (admins see all). */
static int server_get(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                      struct st_record *rec)
{
    int rc = st_meta_get(s->meta, &server_kind, id, rec);

    if (rc == 0 && !who->is_admin && strcmp(rs(rec->data, "project_id"), who->project_id) != 0) {
        st_record_cleanup(rec);
        return -ENOENT;
    }
    return rc;
}

static json_t *guest_of(struct srv_service *s, const char *id)
{
    struct st_record g = { 0 };
    json_t *out = NULL;

    if (st_meta_get(s->meta, &guest_kind_ro, id, &g) == 0)
        out = json_incref(g.data);
    st_record_cleanup(&g);
    return out;
}

static json_t *server_view(struct srv_service *s, const struct st_auth_ctx *who,
                           const json_t *rec, const char *base)
{
    json_t *g = guest_of(s, rs(rec, "id"));
    json_t *v = sj_server_view(rec, g, base, who->is_admin);

    json_decref(g);
    return v;
}

/* Blockd/imaged answer about one resource the request names: 0 when it is
 * there (its body in *doc), -EINVAL with Nova's 400 message otherwise. */
static int check_remote(struct srv_service *s, const struct st_auth_ctx *who, const char *url,
                        const char *what, const char *id, json_t **doc, char *msg)
{
    struct st_httpc_resp r = { 0 };
    int rc = rem_as_user(s, who->project_id, who->user_id, "GET", url, NULL, &r);

    if (rc < 0) {
        snprintf(msg, SJ_MSG_MAX, "the %s service is unreachable (%s)", what, strerror(-rc));
        return -EIO;
    }
    if (r.status == 404) {
        snprintf(msg, SJ_MSG_MAX, "%s %s could not be found.",
                 strcmp(what, "image") == 0 ? "Image" : "Volume", id);
        rc = -EINVAL;
    } else if (r.status != 200) {
        rem_reply_message(&r, what[0] == 'i' ? "the image service" : "the volume service", msg,
                          SJ_MSG_MAX);
        rc = -EIO;
    } else if (doc) {
        *doc = json_incref(r.body);
    }
    st_httpc_resp_cleanup(&r);
    return rc;
}

static int check_image(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                       char *msg)
{
    char url[600];
    json_t *doc = NULL;
    int rc;

    snprintf(url, sizeof(url), "%s/v2/images/%s", s->image_url, id);
    if ((rc = check_remote(s, who, url, "image", id, &doc, msg)) < 0)
        return rc;
    if (strcmp(rs(doc, "status"), "active") != 0) {
        snprintf(msg, SJ_MSG_MAX, "Image %s is not active.", id);
        rc = -EINVAL;
    }
    json_decref(doc);
    return rc;
}

static int check_volume(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                        char *msg)
{
    char url[600];
    json_t *doc = NULL;
    int rc;

    snprintf(url, sizeof(url), "%s/v3/%s/volumes/%s", s->volume_url, who->project_id, id);
    if ((rc = check_remote(s, who, url, "volume", id, &doc, msg)) < 0)
        return rc;
    const char *st = rs(json_object_get(doc, "volume"), "status");
    if (strcmp(st, "available") != 0) {
        snprintf(msg, SJ_MSG_MAX, "Invalid volume: volume %s is %s, not available", id, st);
        rc = -EINVAL;
    }
    json_decref(doc);
    return rc;
}

static int add_member(json_t *g, void *arg)
{
    return json_array_append_new(json_object_get(g, "members"), json_string(arg)) == 0 ? 0
                                                                                       : -ENOMEM;
}

int srv_server_create(struct srv_service *s, const struct st_auth_ctx *who, const json_t *body,
                      const char *base, json_t **out, char *msg)
{
    struct sj_create c;
    struct st_record fl = { 0 }, g = { 0 };
    char id[37];
    json_t *rec = NULL;
    int rc;

    if ((rc = sj_parse_create(body, &c, msg)) < 0)
        return rc;
    if (st_meta_get(s->meta, &flavor_kind, ref_id(c.flavor_ref), &fl) < 0 ||
        strcmp(fl.id, SEEDED) == 0) {
        snprintf(msg, SJ_MSG_MAX, "Flavor %s could not be found.", c.flavor_ref);
        rc = -EINVAL;
        goto out;
    }
    if (c.image_id && (rc = check_image(s, who, c.image_id, msg)) < 0)
        goto out;
    if (c.bdm_source && strcmp(c.bdm_source, "image") == 0 &&
        (rc = check_image(s, who, c.bdm_uuid, msg)) < 0)
        goto out;
    if (c.bdm_source && strcmp(c.bdm_source, "volume") == 0 &&
        (rc = check_volume(s, who, c.bdm_uuid, msg)) < 0)
        goto out;
    if (c.group_id && (st_meta_get(s->meta, &group_kind, c.group_id, &g) < 0 ||
                       strcmp(rs(g.data, "project_id"), who->project_id) != 0)) {
        snprintf(msg, SJ_MSG_MAX, "Invalid server group %s: not found", c.group_id);
        rc = -EINVAL;
        goto out;
    }
    srv_new_uuid(id);
    json_object_set_new(fl.data, "id", json_string(fl.id));
    if (!(rec = sj_new_record(&c, id, fl.data, who->project_id, who->user_id, st_now_ms()))) {
        rc = -ENOMEM;
        goto out;
    }
    if (c.group_id &&
        (rc = st_meta_modify(s->meta, &group_kind, c.group_id, add_member, id, NULL)) < 0)
        goto out;
    rc = st_meta_create_leased(s->meta, &server_kind, id, rec, s->owner, "build", st_now_ms(),
                               s->ttl_ms, NULL);
    if (rc == 0 && (rc = build_submit(s, id)) < 0) {
        st_meta_delete(s->meta, &server_kind, id, 0);
        snprintf(msg, SJ_MSG_MAX, "the scheduler is too busy to take the build: retry later");
    }
    if (rc < 0) {
        if (c.group_id)   /* undo the membership of a server that will not exist */
            st_meta_modify(s->meta, &group_kind, c.group_id, srv_group_drop_member, id, NULL);
        goto out;
    }
    st_info("server %s (%s) of project %s: accepted", id, c.name, who->project_id);
    json_t *brief = sj_server_brief(rec, base);
    *out = json_pack("{s:s, s:O, s:s, s:[{s:s}]}", "id", id, "links",
                     json_object_get(brief, "links"), "OS-DCF:diskConfig", "MANUAL",
                     "security_groups", "name", "default");
    json_decref(brief);
    if (!*out)
        rc = -ENOMEM;
out:
    json_decref(rec);
    st_record_cleanup(&fl);
    st_record_cleanup(&g);
    return rc;
}

struct name_match {
    const char *project, *name;
};

static bool server_pred(const json_t *data, void *arg)
{
    struct name_match *m = arg;

    if (m->project && strcmp(rs(data, "project_id"), m->project) != 0)
        return false;
    return !m->name || strstr(rs(data, "name"), m->name) != NULL;
}

int srv_server_list(struct srv_service *s, const struct st_auth_ctx *who, bool detail, bool all,
                    const char *name, const char *base, json_t **out)
{
    struct name_match m = { all && who->is_admin ? NULL : who->project_id, name };
    char marker[ST_META_ID_MAX + 1] = "";
    json_t *list = json_array();
    int rc = 0;

    for (;;) {
        struct st_record_list l = { 0 };
        if ((rc = st_meta_list(s->meta, &server_kind, marker[0] ? marker : NULL, 0, NULL, 0,
                               server_pred, &m, &l)) < 0)
            break;
        for (size_t i = 0; i < l.count; i++)
            json_array_append_new(list, detail ? server_view(s, who, l.items[i].data, base)
                                               : sj_server_brief(l.items[i].data, base));
        bool more = l.truncated;
        snprintf(marker, sizeof(marker), "%s", l.next_marker);
        st_record_list_cleanup(&l);
        if (!more)
            break;
    }
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}

int srv_server_show(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                    const char *base, json_t **out)
{
    struct st_record rec = { 0 };
    int rc = server_get(s, who, id, &rec);

    if (rc == 0)
        *out = server_view(s, who, rec.data, base);
    st_record_cleanup(&rec);
    return rc;
}

static int mark_deleting(json_t *data, void *arg)
{
    (void)arg;
    if (json_is_true(json_object_get(data, "deleting")))
        return 1;
    json_object_set_new(data, "deleting", json_true());
    return 0;
}

int srv_server_delete(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                      char *msg)
{
    struct st_record rec = { 0 };
    int rc = server_get(s, who, id, &rec);

    st_record_cleanup(&rec);
    if (rc < 0)
        return rc;
    if ((rc = st_meta_modify(s->meta, &server_kind, id, mark_deleting, NULL, NULL)) < 0)
        return rc;
    rc = st_lease_acquire(s->meta, &server_kind, id, s->owner, "delete", st_now_ms(), s->ttl_ms);
    if (rc == -EBUSY)   /* a build or an attachment holds it: that job deletes when it sees the flag */
        return 0;
    if (rc == 0 && (rc = delete_submit(s, id)) < 0)
        snprintf(msg, SJ_MSG_MAX, "the scheduler is too busy to take the delete: retry later");
    return rc == -ENOENT ? 0 : rc;
}

/* The server must be built and on a host for actions and attachments. */
static int active_host(const json_t *rec, char host[PL_NAME_MAX + 1], char *msg)
{
    if (strcmp(rs(rec, "vm_state"), SV_ACTIVE) != 0 || !st_json_str(rec, "host") ||
        json_is_true(json_object_get(rec, "deleting"))) {
        snprintf(msg, SJ_MSG_MAX, "Cannot do that while the server is %s",
                 json_is_true(json_object_get(rec, "deleting")) ? "being deleted"
                 : strcmp(rs(rec, "vm_state"), SV_ERROR) == 0 ? "in ERROR"
                                                              : "building");
        return -ECANCELED;
    }
    snprintf(host, PL_NAME_MAX + 1, "%s", rs(rec, "host"));
    return 0;
}

/* The agent's reply status as ours: 2xx fine, 409 conflict, 404 gone. */
static int agent_status(const struct st_httpc_resp *r, int rc, char *msg)
{
    if (rc < 0) {
        snprintf(msg, SJ_MSG_MAX, "the compute agent is unreachable (%s)", strerror(-rc));
        return -EIO;
    }
    if (r->status / 100 == 2)
        return 0;
    rem_reply_message(r, "the compute agent", msg, SJ_MSG_MAX);
    return r->status == 409   ? -ECANCELED
           : r->status == 400 ? -EINVAL
           : r->status == 404 ? -ENOENT
                              : -EIO;
}

int srv_server_action(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                      const json_t *body, json_t **out, unsigned *status, char *msg)
{
    struct st_record rec = { 0 };
    struct st_httpc_resp r = { 0 };
    char host[PL_NAME_MAX + 1], path[200];
    int rc = server_get(s, who, id, &rec);

    *out = NULL;
    *status = 202;
    if (rc < 0)
        return rc;
    if (!json_is_object(body) || json_object_size(body) != 1) {
        snprintf(msg, SJ_MSG_MAX, "Invalid input: the body must name one action");
        rc = -EINVAL;
        goto out;
    }
    if ((rc = active_host(rec.data, host, msg)) < 0)
        goto out;
    const json_t *arg = json_object_get(body, "os-getConsoleOutput");
    if (arg) {
        const json_t *len = json_object_get(arg, "length");
        long lines = json_is_integer(len) ? (long)json_integer_value(len)
                     : json_is_string(len) ? strtol(json_string_value(len), NULL, 10) : 0;
        if (lines < 0) {
            snprintf(msg, SJ_MSG_MAX, "Invalid input: length must be a positive number");
            rc = -EINVAL;
            goto out;
        }
        snprintf(path, sizeof(path), "/%s/console?length=%ld", id, lines);
        rc = agent_status(&r, rem_agent(s, host, "GET", path, NULL, &r), msg);
        if (rc == 0) {
            *out = json_pack("{s:s}", "output", r.raw ? r.raw : "");
            *status = 200;
        }
        goto out;
    }
    const char *name = json_object_iter_key(json_object_iter((json_t *)body));
    if (strcmp(name, "os-start") && strcmp(name, "os-stop") && strcmp(name, "reboot")) {
        snprintf(msg, SJ_MSG_MAX, "Action '%s' is not supported: os-start, os-stop, reboot, "
                                  "os-getConsoleOutput", name);
        rc = -EINVAL;
        goto out;
    }
    snprintf(path, sizeof(path), "/%s/action", id);
    rc = agent_status(&r, rem_agent(s, host, "POST", path, body, &r), msg);
out:
    st_httpc_resp_cleanup(&r);
    st_record_cleanup(&rec);
    return rc;
}

/* ---- volume attachments ---- */

int srv_attach_list(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                    json_t **out)
{
    struct st_record rec = { 0 };
    const json_t *v;
    size_t i;
    int rc = server_get(s, who, id, &rec);

    if (rc < 0)
        return rc;
    *out = json_array();
    json_array_foreach(json_object_get(rec.data, "volumes"), i, v)
        json_array_append_new(*out, sj_attachment_view(id, v));
    st_record_cleanup(&rec);
    return 0;
}

int srv_attach_show(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
                    const char *volume_id, json_t **out)
{
    struct st_record rec = { 0 };
    const json_t *v;
    size_t i;
    int rc = server_get(s, who, id, &rec);

    if (rc < 0)
        return rc;
    rc = -ENOENT;
    json_array_foreach(json_object_get(rec.data, "volumes"), i, v)
        if (strcmp(rs(v, "volume_id"), volume_id) == 0) {
            *out = sj_attachment_view(id, v);
            rc = 0;
        }
    st_record_cleanup(&rec);
    return rc;
}

/* A short operation on a built server under its lease (one at a time). */
static int lease_short(struct srv_service *s, const char *id, const char *op, char *msg)
{
    int rc = st_lease_acquire(s->meta, &server_kind, id, s->owner, op, st_now_ms(), s->ttl_ms);

    if (rc == -EBUSY) {
        snprintf(msg, SJ_MSG_MAX, "Cannot %s: another operation on server %s is in progress",
                 op, id);
        return -ECANCELED;
    }
    return rc;
}

/* The server's entry for volume `vol` (its boot volume or an attached one),
 * NULL when it has none. */
static const json_t *volume_entry(const json_t *rec, const char *vol)
{
    const json_t *bv = json_object_get(rec, "boot_volume"), *v;
    size_t i;

    if (strcmp(rs(bv, "volume_id"), vol) == 0)
        return bv;
    json_array_foreach(json_object_get(rec, "volumes"), i, v)
        if (strcmp(rs(v, "volume_id"), vol) == 0)
            return v;
    return NULL;
}

static bool has_volume(const json_t *rec, const char *vol)
{
    return volume_entry(rec, vol) != NULL;
}

int srv_attach(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
               const json_t *body, json_t **out, char *msg)
{
    const json_t *va = json_object_get(body, "volumeAttachment");
    const char *vol = st_json_str(va, "volumeId");
    struct st_record rec = { 0 };
    struct st_httpc_resp r = { 0 };
    char host[PL_NAME_MAX + 1], att[64] = "", path[200];
    json_t *ci = NULL, *req = NULL;
    int rc;

    if (!json_is_object(va) || !st_is_uuid(vol)) {
        snprintf(msg, SJ_MSG_MAX, "Invalid input: volumeAttachment.volumeId must be a UUID");
        return -EINVAL;
    }
    if ((rc = server_get(s, who, id, &rec)) < 0)
        return rc;
    if ((rc = active_host(rec.data, host, msg)) < 0)
        goto out;
    if (has_volume(rec.data, vol)) {
        snprintf(msg, SJ_MSG_MAX, "Invalid volume: volume %s is already attached to server %s",
                 vol, id);
        rc = -ECANCELED;
        goto out;
    }
    if ((rc = lease_short(s, id, "attach", msg)) < 0)
        goto out;
    const char *project = rs(rec.data, "project_id"), *user = rs(rec.data, "user_id");
    if ((rc = rem_attach_create(s, project, user, vol, id, host, att, &ci, msg)) < 0) {
        rc = rc == -ENOENT ? -EINVAL : rc == -EBUSY ? -ECANCELED : rc;
        goto release;
    }
    snprintf(path, sizeof(path), "/%s/volumes", id);
    req = json_pack("{s:s, s:O}", "volume_id", vol, "connection_info", ci);
    rc = req ? agent_status(&r, rem_agent(s, host, "POST", path, req, &r), msg) : -ENOMEM;
    if (rc < 0) {
        rem_attach_delete(s, project, user, att);
        goto release;
    }
    rem_attach_complete(s, project, user, att);
    char device[64];
    const json_t *va_out = json_object_get(r.body, "volume_attachment");
    snprintf(device, sizeof(device), "/dev/%s", rs(va_out, "target")[0] ? rs(va_out, "target")
                                                                        : "vdb");
    json_t *entry = json_pack("{s:s, s:s, s:s}", "volume_id", vol, "attachment_id", att,
                              "device", device);
    json_t *vols = json_deep_copy(json_object_get(rec.data, "volumes"));
    if (!entry || json_array_append(vols, entry) < 0) {
        json_decref(vols);
        vols = NULL; /* srv_patch answers -ENOMEM */
    }
    if ((rc = srv_patch(s, id, vols ? json_pack("{s:o}", "volumes", vols) : NULL)) == 0)
        *out = sj_attachment_view(id, entry);
    json_decref(entry);
release:
    st_lease_release(s->meta, &server_kind, id, s->owner);
    srv_after_lease(s, id);
out:
    json_decref(ci);
    json_decref(req);
    st_httpc_resp_cleanup(&r);
    st_record_cleanup(&rec);
    return rc;
}

int srv_detach(struct srv_service *s, const struct st_auth_ctx *who, const char *id,
               const char *volume_id, char *msg)
{
    struct st_record rec = { 0 };
    struct st_httpc_resp r = { 0 };
    char host[PL_NAME_MAX + 1], path[200];
    const json_t *v;
    size_t i, at = (size_t)-1;
    int rc;

    if ((rc = server_get(s, who, id, &rec)) < 0)
        return rc;
    json_array_foreach(json_object_get(rec.data, "volumes"), i, v)
        if (strcmp(rs(v, "volume_id"), volume_id) == 0)
            at = i;
    if (at == (size_t)-1) {
        rc = strcmp(rs(json_object_get(rec.data, "boot_volume"), "volume_id"), volume_id) == 0
                 ? -ECANCELED : -ENOENT;
        if (rc == -ECANCELED)
            snprintf(msg, SJ_MSG_MAX, "Cannot detach the root volume of server %s", id);
        else
            snprintf(msg, SJ_MSG_MAX, "volume_id not found: %s", volume_id);
        goto out;
    }
    if ((rc = active_host(rec.data, host, msg)) < 0 || (rc = lease_short(s, id, "detach", msg)) < 0)
        goto out;
    snprintf(path, sizeof(path), "/%s/volumes/%s", id, volume_id);
    rc = agent_status(&r, rem_agent(s, host, "DELETE", path, NULL, &r), msg);
    if (rc == -ENOENT)   /* the guest no longer has it: finish the detach */
        rc = 0;
    if (rc == 0) {
        const json_t *entry = json_array_get(json_object_get(rec.data, "volumes"), at);
        rem_attach_delete(s, rs(rec.data, "project_id"), rs(rec.data, "user_id"),
                          rs(entry, "attachment_id"));
        json_t *vols = json_deep_copy(json_object_get(rec.data, "volumes"));
        json_array_remove(vols, at);
        rc = srv_patch(s, id, json_pack("{s:o}", "volumes", vols));
    }
    st_lease_release(s->meta, &server_kind, id, s->owner);
    srv_after_lease(s, id);
out:
    st_httpc_resp_cleanup(&r);
    st_record_cleanup(&rec);
    return rc;
}

/* ---- external events ---- */

/* What the agent is told of an event on `vol` of `server` (rec): the new
 * size (volume-extended), or the front-end QoS of the volume's attachment as
 * blockd stores it now (volume-qos-changed; null = no limits). */
static int event_body(struct srv_service *s, const json_t *rec, const char *vol, bool qos,
                      json_t **body)
{
    struct st_httpc_resp v = { 0 };
    const char *project = rs(rec, "project_id"), *user = rs(rec, "user_id");
    const char *att = st_json_str(volume_entry(rec, vol), "attachment_id");
    char url[600];
    int rc;

    if (qos && !att)
        return -ENOENT;
    if (qos) {
        snprintf(url, sizeof(url), "%s/v3/%s/attachments/%s", s->volume_url, project, att);
        rc = rem_as_user(s, project, user, "GET", url, NULL, &v);
    } else {
        rc = rem_volume_get(s, project, user, vol, &v);
    }
    const json_t *doc = json_object_get(v.body, qos ? "attachment" : "volume");
    const json_t *spec = json_object_get(json_object_get(json_object_get(doc, "connection_info"),
                                                         "data"), "qos_specs");
    json_int_t size = json_integer_value(json_object_get(doc, "size"));
    if (rc == 0 && v.status != 200)
        rc = v.status == 404 ? -ENOENT : -EIO;
    else if (rc == 0 && (qos ? spec && !json_is_object(spec) && !json_is_null(spec) : size <= 0))
        rc = -EIO;
    if (rc == 0)
        *body = qos ? json_pack("{s:O}", "qos_specs", spec ? spec : json_null())
                    : json_pack("{s:I}", "size_gb", size);
    if (rc == 0 && !*body)
        rc = -ENOMEM;
    st_httpc_resp_cleanup(&v);
    return rc;
}

/* volume-extended: the guest of `server` sees its volume's new size;
 * volume-qos-changed (Strata's): its <iotune> takes the volume's new limits. */
static int volume_event(struct srv_service *s, const char *server, const char *vol, bool qos)
{
    struct st_record rec = { 0 };
    struct st_httpc_resp r = { 0 };
    json_t *body = NULL;
    char path[200], msg[SJ_MSG_MAX];
    int rc = st_meta_get(s->meta, &server_kind, server, &rec);

    if (rc < 0)
        return rc;
    if (!st_json_str(rec.data, "host") || !has_volume(rec.data, vol)) {
        rc = -ENOENT;
        goto out;
    }
    if ((rc = event_body(s, rec.data, vol, qos, &body)) < 0)
        goto out;
    snprintf(path, sizeof(path), "/%s/volumes/%s", server, vol);
    rc = agent_status(&r, rem_agent(s, rs(rec.data, "host"), "PUT", path, body, &r), msg);
    if (rc < 0)
        st_warn("server %s: %s %s: %s", server, qos ? "volume-qos-changed" : "volume-extended",
                vol, msg);
    else
        st_info("server %s: volume %s %s", server, vol, qos ? "limits changed" : "grew");
out:
    json_decref(body);
    st_httpc_resp_cleanup(&r);
    st_record_cleanup(&rec);
    return rc;
}

int srv_external_events(struct srv_service *s, const json_t *body, json_t **out, char *msg)
{
    const json_t *events = json_object_get(body, "events"), *e;
    size_t i;
    bool any = false;

    if (!json_is_array(events) || json_array_size(events) == 0) {
        snprintf(msg, SJ_MSG_MAX, "Invalid input: 'events' must be a non-empty list");
        return -EINVAL;
    }
    *out = json_array();
    json_array_foreach(events, i, e) {
        const char *name = rs(e, "name"), *server = rs(e, "server_uuid"), *tag = rs(e, "tag");
        int rc = -EINVAL;
        bool qos = strcmp(name, "volume-qos-changed") == 0;
        if ((qos || strcmp(name, "volume-extended") == 0) && st_is_uuid(server) &&
            st_is_uuid(tag))
            rc = volume_event(s, server, tag, qos);
        json_t *r = json_deep_copy(e);
        json_object_set_new(r, "code", json_integer(rc == 0 ? 200 : rc == -ENOENT ? 404
                                                               : rc == -EINVAL ? 400 : 500));
        json_object_set_new(r, "status", json_string(rc == 0 ? "completed" : "failed"));
        json_array_append_new(*out, r);
        any = any || rc == 0 || rc != -ENOENT;
    }
    if (!any) {
        json_decref(*out);
        *out = NULL;
        snprintf(msg, SJ_MSG_MAX, "No instances found for any event");
        return -ENOENT;
    }
    return 0;
}

/* ---- life cycle ---- */

static void reconcile_tick(void *arg)
{
    srv_reconcile(arg);
}

static int ratio(const struct st_config *c, const char *key, double lo, double hi, double *out)
{
    const char *v = st_config_str(c, "scheduler", key);
    char *end = NULL;

    *out = v ? strtod(v, &end) : 0;
    if (!v || end == v || *end || *out < lo || *out > hi) {
        st_error("[scheduler] %s = %s: must be a number from %g to %g", key, v ? v : "", lo, hi);
        return -EINVAL;
    }
    return 0;
}

static int read_config(struct srv_service *s, const struct st_config *c)
{
    int rc;

    if ((rc = ratio(c, "cpu_allocation_ratio", 0.1, 64, &s->pl.cpu_ratio)) < 0 ||
        (rc = ratio(c, "ram_allocation_ratio", 0.1, 64, &s->pl.ram_ratio)) < 0 ||
        (rc = ratio(c, "disk_allocation_ratio", 0.1, 64, &s->pl.disk_ratio)) < 0 ||
        (rc = ratio(c, "locality_weight_multiplier", -1000, 1000, &s->pl.w_locality)) < 0 ||
        (rc = ratio(c, "ram_weight_multiplier", -1000, 1000, &s->pl.w_ram)) < 0 ||
        (rc = ratio(c, "cpu_weight_multiplier", -1000, 1000, &s->pl.w_cpu)) < 0 ||
        (rc = ratio(c, "build_failure_weight_multiplier", -1000, 1000, &s->pl.w_failures)) < 0)
        return rc;
    s->pl.reserved_ram_mb = st_config_int(c, "scheduler", "reserved_host_memory_mb");
    s->pl.reserved_disk_mb = st_config_int(c, "scheduler", "reserved_host_disk_mb");
    s->pl.service_down_ms = st_config_duration_ms(c, "scheduler", "service_down_time");
    s->pl.failure_window_ms = st_config_duration_ms(c, "scheduler", "build_failure_window");
    s->pl.host_subset_size = (unsigned)st_config_int(c, "scheduler", "host_subset_size");
    s->build_timeout_ms = st_config_duration_ms(c, "scheduler", "build_timeout");
    s->max_attempts = (unsigned)st_config_int(c, "scheduler", "max_attempts");
    s->ttl_ms = st_config_duration_ms(c, "lease", "ttl");
    snprintf(s->volume_url, sizeof(s->volume_url), "%s", st_config_str(c, "scheduler", "volume_url"));
    snprintf(s->image_url, sizeof(s->image_url), "%s", st_config_str(c, "scheduler", "image_url"));
    snprintf(s->default_zone, sizeof(s->default_zone), "%s",
             st_config_str(c, "scheduler", "default_availability_zone"));
    snprintf(s->images_pool, sizeof(s->images_pool), "%s", st_config_str(c, "ceph", "images_pool"));
    snprintf(s->volumes_pool, sizeof(s->volumes_pool), "%s",
             st_config_str(c, "ceph", "volumes_pool"));
    snprintf(s->vms_pool, sizeof(s->vms_pool), "%s", st_config_str(c, "ceph", "vms_pool"));
    /* the agents' API is admin-only: the scheduler calls them as the service */
    snprintf(s->agent_token, sizeof(s->agent_token), "%s", st_config_str(c, "auth", "admin_token"));
    return 0;
}

int srv_create(struct st_daemon *d, struct srv_service **out)
{
    const struct st_config *c = st_daemon_config(d);
    struct srv_service *s = calloc(1, sizeof(*s));
    struct st_httpc_config hc = { 30000, 5000, 3, 200 };
    int rc;

    if (!s)
        return -ENOMEM;
    s->d = d;
    s->meta = st_daemon_meta(d);
    snprintf(s->owner, sizeof(s->owner), "%s", st_daemon_owner(d));
    if ((rc = read_config(s, c)) < 0)
        goto fail;
    if (!s->agent_token[0]) {
        st_error("[auth] admin_token is empty: the scheduler cannot call the compute agents");
        rc = -EINVAL;
        goto fail;
    }
    if ((rc = st_httpc_create(&hc, &s->http)) < 0 ||
        (rc = cf_create(st_daemon_rados(d), st_config_duration_ms(c, "scheduler", "ceph_facts_ttl"),
                        &s->facts)) < 0 ||
        (rc = st_workpool_create((unsigned)st_config_int(c, "scheduler", "workers"), 4096,
                                 &s->workers)) < 0)
        goto fail;
    srv_flavors_seed(s);
    srv_reconcile(s);
    if ((rc = st_ticker_start(&s->ticker, st_config_duration_ms(c, "scheduler",
                                                                "reconcile_interval"),
                              reconcile_tick, s)) < 0)
        goto fail;
    st_info("scheduler: cluster %s, pools %s/%s/%s, ratios cpu %.1f ram %.1f disk %.1f",
            cf_fsid(s->facts), s->images_pool, s->volumes_pool, s->vms_pool, s->pl.cpu_ratio,
            s->pl.ram_ratio, s->pl.disk_ratio);
    *out = s;
    return 0;
fail:
    srv_destroy(s);
    return rc;
}

void srv_destroy(struct srv_service *s)
{
    if (!s)
        return;
    st_ticker_stop(&s->ticker);
    st_workpool_destroy(s->workers);
    cf_destroy(s->facts);
    st_httpc_destroy(s->http);
    OPENSSL_cleanse(s->agent_token, sizeof(s->agent_token));
    free(s);
}
