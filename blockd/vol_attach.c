/* vol_attach.c — attach/detach (the old actions and the 3.27+ attachments
 * API), connection_info, and telling the compute API of changes to a guest's disk. */
#include "vol_internal.h"

struct ci_qos {
    const json_t *qos;   /* the volume's front-end qos_specs now (NULL = none) */
    bool changed;        /* an attachment's copy was rewritten */
};

static int set_ci_qos(json_t *att, void *arg)
{
    struct ci_qos *c = arg;
    json_t *data = json_object_get(json_object_get(att, "connection_info"), "data");
    const json_t *cur = json_object_get(data, "qos_specs");

    if (!json_is_object(data))   /* reserved, no connector yet: nothing to refresh */
        return 1;
    if (c->qos ? cur && json_equal(cur, c->qos) : !cur || json_is_null(cur))
        return 1;
    c->changed = true;
    return json_object_set_new(data, "qos_specs", c->qos ? json_deep_copy(c->qos) : json_null())
               ? -ENOMEM : 0;
}

/* Each attachment's stored connection_info takes the volume's front-end QoS
 * of now (its type, its size); true when one of them changed, so the guests
 * behind them need telling. */
static bool refresh_attachment_qos(struct vol_service *s, const char *id, const json_t *vol)
{
    struct ci_qos c = { vs_frontend_qos(s, id), false };
    const json_t *a;
    size_t i;

    json_array_foreach(json_object_get(vol, "attachments"), i, a)
    {
        int rc = st_rec_str(a, "attachment_id")
                     ? st_meta_modify(s->meta, &att_kind, st_rec_str(a, "attachment_id"),
                                      set_ci_qos, &c, NULL)
                     : 0;
        if (rc < 0 && rc != -ENOENT)
            st_warn("volume %s: attachment %s keeps its old qos_specs: %s", id,
                    st_rec_str(a, "attachment_id"), strerror(-rc));
    }
    json_decref((json_t *)c.qos);
    return c.changed;
}

/* Every server an in-use volume is attached to should see what changed.  As
 * Cinder does for a size, blockd sends the compute API (POST
 * {compute_url}/os-server-external-events, one event per server) Nova's
 * "volume-extended" when the volume grew, and Strata's "volume-qos-changed"
 * when its front-end QoS did (retype, qos-spec edit, per-GB limits after an
 * extend); the compute API has the server's agent resize the guest's disk or
 * change its <iotune> live.  Best effort: a failure is logged, once per
 * server, and changes nothing else. */
void vs_tell_guests(struct vol_service *s, const char *id, bool grew)
{
    static const char *const names[] = { "volume-extended", "volume-qos-changed" };
    struct st_record rec = {0};
    const json_t *a, *e;
    json_t *events = json_array(), *results = NULL;
    char what[64], why[VOL_MSG_MAX];
    size_t i;
    int rc;

    if (!events || st_meta_get(s->meta, &vol_kind, id, &rec) < 0)
        goto out;
    json_int_t size = json_integer_value(json_object_get(rec.data, "size"));
    bool tell[2] = { grew, refresh_attachment_qos(s, id, rec.data) };
    if (grew)
        snprintf(what, sizeof(what), "extended to %lld GiB%s", (long long)size,
                 tell[1] ? " (and its QoS changed)" : "");
    else
        snprintf(what, sizeof(what), "QoS changed");
    json_array_foreach(json_object_get(rec.data, "attachments"), i, a)
    {
        if (!st_rec_str(a, "server_id")) {
            if (tell[0] || tell[1])
                st_warn("volume %s %s: attachment %s names no server, nobody was told", id, what,
                        st_rec_str(a, "attachment_id"));
            continue;
        }
        for (int n = 0; n < 2; n++)
            if (tell[n])
                json_array_append_new(events,
                                      json_pack("{s:s, s:s, s:s}", "name", names[n], "server_uuid",
                                                st_rec_str(a, "server_id"), "tag", id));
    }
    if (json_array_size(events) == 0)
        goto out;
    if ((rc = compute_client_events(s->compute, events, &results, why, sizeof(why))) < 0) {
        st_warn("volume %s %s, but the compute API was not told (%s): its guests see it at "
                "their next attach or reboot",
                id, what, rc == -ENOMEM ? strerror(-rc) : why);
        goto out;
    }
    json_array_foreach(results, i, e)
    {
        json_int_t code = json_integer_value(json_object_get(e, "code"));
        if (code != 200)
            st_warn("volume %s %s, but server %s was not told of %s (compute API: %s): its "
                    "guest sees it at its next attach or reboot",
                    id, what, st_rec_str(e, "server_uuid"), st_rec_str(e, "name"),
                    code == 404 ? "no such server" : "the event failed");
        else
            st_info("volume %s: server %s told of %s", id, st_rec_str(e, "server_uuid"),
                    st_rec_str(e, "name"));
    }
out:
    json_decref(results);
    json_decref(events);
    st_record_cleanup(&rec);
}

/* "Invalid volume: volume X is S; this needs one of: a, b" */
static void wrong_status(char *msg, const struct st_meta_kind *k, const char *id,
                         const struct transition *t)
{
    int n = snprintf(msg, VOL_MSG_MAX, "Invalid %s: %s %s is %s; this needs one of:", k->name,
                     k->name, id, t->cur);

    for (size_t i = 0; t->from && t->from[i] && n > 0 && n < VOL_MSG_MAX; i++)
        n += snprintf(msg + n, VOL_MSG_MAX - (size_t)n, "%s %s", i ? "," : "", t->from[i]);
}

/* A quick (unleased, compare-and-swap) move of a record under rule `op`. */
int vs_cas_move(struct vol_service *s, const struct st_meta_kind *k, const char *id,
                enum vol_op op, const char *to, const json_t *extra, st_meta_modify_fn edit,
                void *edit_arg, char *msg)
{
    struct transition t = { vs_rule_from(op), to, extra, "", edit, edit_arg };
    int rc = vs_transition(s, k, id, false, &t);

    if (rc == -ECANCELED && msg)
        wrong_status(msg, k, id, &t);
    return rc;
}

int vs_edit_attachments(json_t *rec, void *arg)
{
    struct att_edit *e = arg;
    json_t *list = json_object_get(rec, "attachments"), *priv = st_rec_private(rec);
    const char *pending = st_rec_str(priv, "pending_attachment");
    bool is_pending = pending && e->attachment_id && strcmp(pending, e->attachment_id) == 0;

    if (e->require_pending && !is_pending)
        return -ESTALE;
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(rec, "attachments", list);
    }
    size_t removed = 0;
    if (e->what != AE_NONE) {
        for (size_t i = json_array_size(list); i-- > 0;) {
            const char *a = st_rec_str(json_array_get(list, i), "attachment_id");
            if (!e->attachment_id || (a && strcmp(a, e->attachment_id) == 0)) {
                json_array_remove(list, i);
                removed++;
            }
        }
    }
    /* A named attachment the volume neither lists nor waits for is stale
     * (its volume was freed and taken by another since): it changes nothing. */
    if (e->what == AE_REMOVE && e->attachment_id && !removed && !is_pending)
        return 1;
    if (e->what == AE_ADD && (!e->entry || json_array_append(list, e->entry) < 0))
        return -ENOMEM;
    if (e->set_pending) {
        json_object_set_new(priv, "pending_attachment", json_string(e->set_pending));
        json_object_set_new(priv, "pending_since", json_integer(st_now_ms()));
    } else if (e->clear_pending && (is_pending || !e->attachment_id)) {
        json_object_del(priv, "pending_attachment");
        json_object_del(priv, "pending_since");
    }
    if (e->settle || e->what != AE_NONE) {
        bool attached = json_array_size(list) > 0;
        if (e->settle)
            json_object_set_new(rec, "status", json_string(attached ? "in-use" : "available"));
        json_object_set_new(rec, "attach_status", json_string(attached ? "attached" : "detached"));
    }
    return 0;
}

static json_t *conn_info(struct vol_service *s, const char *volume_id, const char *mode)
{
    json_t *qos = vs_frontend_qos(s, volume_id);
    struct volc_params p = { s->pool, volume_id, s->mon_hosts, s->mon_ports, s->cluster_name,
                             s->rbd_user, s->secret_uuid, mode, qos };
    json_t *ci = volc_connection_info(&p);

    json_decref(qos);
    return ci;
}

/* The volume's view of an attachment (Cinder's volume "attachments" entry). */
static json_t *attachment_entry(const char *volume_id, const char *attachment_id,
                                const char *server, const char *host, const char *device)
{
    char now[40];

    vs_now_ts(now, sizeof(now));
    return json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s}", "id", volume_id, "attachment_id",
                     attachment_id, "volume_id", volume_id, "server_id", server, "host_name", host,
                     "device", device, "attached_at", now);
}

/* Quick volume actions: table of rule and target status. */
static const struct {
    enum vol_attach_op op;
    enum vol_op rule;
    const char *to; /* NULL: settled from what remains attached */
} attach_moves[] = {
    { VA_RESERVE, OP_RESERVE, "reserved" },
    { VA_UNRESERVE, OP_UNRESERVE, "available" },
    { VA_BEGIN_DETACH, OP_BEGIN_DETACH, "detaching" },
    { VA_ROLL_DETACH, OP_ROLL_DETACH, "in-use" },
    { VA_ATTACH, OP_ATTACH, "in-use" },
    { VA_DETACH, OP_DETACH, NULL },
};

int vol_attach_action(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
                      const struct vol_attach_req *req, json_t **out, char *msg)
{
    struct st_record rec = { 0 };
    char att_id[37];
    struct att_edit e = { AE_NONE, NULL, NULL, NULL, false, false, false };
    int rc = vs_get_visible(s, &vol_kind, who, id, &rec);

    if (rc < 0)
        return rc;
    if (req->op == VA_INIT_CONN || req->op == VA_TERM_CONN) {
        const char *status = st_rec_str(rec.data, "status");
        if (req->op == VA_INIT_CONN && !vs_status_in(status, vs_rule_from(OP_CONNECT))) {
            struct transition t = { vs_rule_from(OP_CONNECT), NULL, NULL, "", NULL, NULL };
            snprintf(t.cur, sizeof(t.cur), "%s", status ? status : "");
            wrong_status(msg, &vol_kind, id, &t);
            rc = -ECANCELED;
        } else if (req->op == VA_INIT_CONN) {
            json_t *ci = conn_info(s, id, NULL);
            *out = ci ? json_pack("{s:o}", "connection_info", ci) : NULL;
            rc = *out ? 0 : -ENOMEM;
        }
        st_record_cleanup(&rec);
        return rc;
    }
    st_record_cleanup(&rec);
    if (req->op == VA_ATTACH) {
        vs_new_id(att_id);
        e = (struct att_edit){ AE_ADD, att_id,
                               attachment_entry(id, att_id, req->instance_uuid, req->host_name,
                                                req->mountpoint),
                               NULL, false, false, false };
    } else if (req->op == VA_DETACH) {
        e = (struct att_edit){ AE_REMOVE, req->attachment_id, NULL, NULL, true, false, true };
    } else if (req->op == VA_RESERVE || req->op == VA_UNRESERVE) {
        /* the legacy flow owns the volume now: forget any attachment create
         * it was waiting for, so reconcile cannot free it under this one */
        e.clear_pending = true;
    }
    rc = -EINVAL;
    for (size_t i = 0; i < sizeof(attach_moves) / sizeof(attach_moves[0]); i++) {
        if (attach_moves[i].op == req->op)
            rc = vs_cas_move(s, &vol_kind, id, attach_moves[i].rule, attach_moves[i].to, NULL,
                             vs_edit_attachments, &e, msg);
    }
    json_decref(e.entry);
    /* an attachment made through the attachments API goes with its detach */
    if (rc == 0 && req->op == VA_DETACH && req->attachment_id) {
        struct st_record att = { 0 };
        if (st_meta_get(s->meta, &att_kind, req->attachment_id, &att) == 0 &&
            st_rec_str(att.data, "volume_id") && strcmp(st_rec_str(att.data, "volume_id"), id) == 0)
            st_meta_delete(s->meta, &att_kind, req->attachment_id, 0);
        st_record_cleanup(&att);
    }
    return rc;
}

int att_create(struct vol_service *s, const struct st_auth_ctx *who, const char *volume_id,
               const char *instance, const json_t *connector, const char *mode, json_t **out,
               char *msg)
{
    struct st_record vol = { 0 };
    char id[37], now[40];
    int rc = vs_get_visible(s, &vol_kind, who, volume_id, &vol);

    if (rc == -ENOENT)
        snprintf(msg, VOL_MSG_MAX, "Volume %s could not be found.", volume_id);
    if (rc < 0)
        return rc;
    st_record_cleanup(&vol);
    vs_new_id(id);
    /* the volume first, naming the attachment: reconcile frees it if the
     * attachment record below is never written */
    struct att_edit e = { AE_NONE, id, NULL, id, false, false, false };
    rc = vs_cas_move(s, &vol_kind, volume_id, OP_ATT_CREATE, connector ? "attaching" : "reserved",
                     NULL, vs_edit_attachments, &e, msg);
    if (rc < 0)
        return rc;
    vs_now_ts(now, sizeof(now));
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:s, s:s}", "id", id,
                            "volume_id", volume_id, "status", connector ? "attaching" : "reserved",
                            "attach_mode", mode ? mode : "rw", "project_id", who->project_id,
                            "attached_at", "detached_at", "created_at", now, "updated_at", now);
    if (!rec) {
        rc = -ENOMEM;
    } else {
        json_object_set_new(rec, "instance", instance ? json_string(instance) : json_null());
        json_object_set(rec, "connector", connector ? (json_t *)connector : json_null());
        json_object_set_new(rec, "connection_info",
                            connector ? conn_info(s, volume_id, mode) : json_null());
        rc = st_meta_create(s->meta, &att_kind, id, rec, NULL);
    }
    if (rc < 0) {
        struct att_edit undo = { AE_NONE, id, NULL, NULL, true, true, false };
        vs_cas_move(s, &vol_kind, volume_id, OP_ATT_UPDATE, "available", NULL, vs_edit_attachments,
                    &undo, NULL);
        json_decref(rec);
        return rc;
    }
    *out = rec;
    return 0;
}

int att_get(struct vol_service *s, const struct st_auth_ctx *who, const char *id, json_t **out)
{
    return vs_get_data(s, &att_kind, who, id, out);
}

int att_list(struct vol_service *s, const struct st_auth_ctx *who, bool all_projects,
             const struct vol_filter *filters, size_t nfilters, json_t **out)
{
    struct list_ctx c = { who, all_projects, filters, nfilters };
    return vs_list_kind(s, &att_kind, &c, out);
}

int att_update(struct vol_service *s, const struct st_auth_ctx *who, const char *id,
               const json_t *connector, json_t **out, char *msg)
{
    json_t *rec = NULL, *extra;
    int rc = att_get(s, who, id, &rec);

    if (rc < 0)
        return rc;
    const char *vol = st_rec_str(rec, "volume_id");
    rc = vs_cas_move(s, &vol_kind, vol, OP_ATT_UPDATE, "attaching", NULL, NULL, NULL, msg);
    extra = json_pack("{s:O, s:o}", "connector", connector, "connection_info",
                      conn_info(s, vol, st_rec_str(rec, "attach_mode")));
    if (rc == 0)
        rc = extra
                 ? vs_cas_move(s, &att_kind, id, OP_ATT_UPDATE, "attaching", extra, NULL, NULL, msg)
                 : -ENOMEM;
    json_decref(extra);
    json_decref(rec);
    return rc < 0 ? rc : att_get(s, who, id, out);
}

int att_complete(struct vol_service *s, const struct st_auth_ctx *who, const char *id, char *msg)
{
    json_t *rec = NULL, *extra;
    char now[40];
    int rc = att_get(s, who, id, &rec);

    if (rc < 0)
        return rc;
    const char *vol = st_rec_str(rec, "volume_id");
    const json_t *conn = json_object_get(rec, "connector");
    struct att_edit e = {AE_ADD,
                         id,
                         attachment_entry(vol, id, st_rec_str(rec, "instance"),
                                          st_rec_str(conn, "host"), st_rec_str(conn, "mountpoint")),
                         NULL,
                         true,
                         false,
                         false};
    rc = vs_cas_move(s, &vol_kind, vol, OP_ATT_COMPLETE, "in-use", NULL, vs_edit_attachments, &e,
                     msg);
    json_decref(e.entry);
    vs_now_ts(now, sizeof(now));
    extra = json_pack("{s:s}", "attached_at", now);
    if (rc == 0)
        rc = vs_cas_move(s, &att_kind, id, OP_ATT_COMPLETE, "attached", extra, NULL, NULL, msg);
    json_decref(extra);
    json_decref(rec);
    return rc;
}

int att_delete(struct vol_service *s, const struct st_auth_ctx *who, const char *id, char *msg)
{
    json_t *rec = NULL;
    int rc = att_get(s, who, id, &rec);

    if (rc < 0)
        return rc;
    struct att_edit e = { AE_REMOVE, id, NULL, NULL, true, false, true };
    rc = vs_cas_move(s, &vol_kind, st_rec_str(rec, "volume_id"), OP_ATT_DELETE, NULL, NULL,
                     vs_edit_attachments, &e, msg);
    json_decref(rec);
    if (rc == -ENOENT || rc == -ECANCELED) /* the volume no longer counts it */
        rc = 0;
    if (rc == 0) {
        rc = st_meta_delete(s->meta, &att_kind, id, 0);
        rc = rc == -ENOENT ? 0 : rc;
    }
    return rc;
}
