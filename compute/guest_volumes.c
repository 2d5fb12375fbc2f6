/* guest_volumes.c — a guest's volumes: attach and detach through blockd's
 * attachments API, hot-plugged into the domain, and live changes (size, QoS). */
#include "guest_internal.h"

static json_t *find_volume(const json_t *rec, const char *volume_id, size_t *idx)
{
    const json_t *vols = json_object_get(rec, "volumes");
    json_t *v;
    size_t i;

    json_array_foreach(vols, i, v) {
        if (strcmp(gs_rstr(v, "volume_id"), volume_id) == 0) {
            if (idx)
                *idx = i;
            return v;
        }
    }
    return NULL;
}

static const char *root_volume_id(const json_t *rec)
{
    const char *v = gs_rstr(json_object_get(rec, "root_disk"), "volume_id");
    return v ? v : "";
}

/* Read the record and check it can gs_take a volume operation. */
static int volume_begin(struct guest_service *s, const char *id, const char *op,
                        struct st_record *rec, char *msg)
{
    int rc = gs_get(s, id, rec);

    if (rc < 0)
        return rc;
    const char *status = gs_rstr(rec->data, "status");
    if (strcmp(status, GS_ACTIVE) != 0 && strcmp(status, GS_STOPPED) != 0) {
        snprintf(msg, GJ_MSG_MAX, "Cannot %s a volume while server %s is %s", op, id, status);
        st_record_cleanup(rec);
        return -ECANCELED;
    }
    if ((rc = gs_take(s, id, op, msg)) < 0)
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

int gsvc_attach(struct guest_service *s, const char *id, const struct gj_attach_req *q,
                json_t **out, char *msg)
{
    const char *volume_id = q->volume_id;
    const json_t *ci = q->connection_info;
    struct st_record rec = { 0 };
    struct dx_disk d;
    char target[8], *xml = NULL;
    json_t *used = json_array(), *v, *entry = NULL;
    size_t i;
    int rc = volume_begin(s, id, "attach", &rec, msg);

    if (rc < 0) {
        json_decref(used);
        return rc;
    }
    if ((v = find_volume(rec.data, volume_id, NULL))) {   /* already attached: same answer */
        *out = json_incref(v);
        goto out;
    }
    if (strcmp(volume_id, root_volume_id(rec.data)) == 0) {
        snprintf(msg, GJ_MSG_MAX, "Volume %s is the server's root disk", volume_id);
        rc = -ECANCELED;
        goto out;
    }
    json_array_append_new(used, json_string("vda"));
    json_array_foreach(json_object_get(rec.data, "volumes"), i, v)
        json_array_append_new(used, json_string(gs_rstr(v, "target")));
    if ((rc = dx_next_target(used, target, sizeof(target))) < 0) {
        snprintf(msg, GJ_MSG_MAX, "Server %s has no free disk slot", id);
        goto out;
    }
    if ((rc = dx_disk_from_connection_info(ci, &d, msg)) < 0 ||
        (rc = gs_ensure_secret(s, &d, msg)) < 0)
        goto out;
    d.target = target;
    d.serial = volume_id;
    /* the record's entry first: a disk attached must not go unrecorded */
    entry = json_pack("{s:s, s:s, s:O}", "volume_id", volume_id, "target", target,
                      "connection_info", ci);
    if (!entry) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = dx_disk_xml(&d, &xml)) < 0)
        goto out;
    if ((rc = virt_attach_disk(s->virt, id, xml)) < 0) {
        snprintf(msg, GJ_MSG_MAX, "libvirt could not attach the volume: %s", virt_last_error());
        goto out;
    }
    json_t *vols = json_deep_copy(json_object_get(rec.data, "volumes"));
    if (json_array_append(vols, entry) < 0) {
        json_decref(vols);
        vols = NULL; /* gs_patch_as answers -ENOMEM */
    }
    rc = gs_patch_as(s, id, vols ? json_pack("{s:o}", "volumes", vols) : NULL);
    if (rc == 0) {
        *out = json_incref(entry);
        st_info("server %s: volume %s attached as %s", id, volume_id, target);
    }
out:
    json_decref(entry);
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
    rc = virt_detach_disk(s->virt, id, gs_rstr(v, "target"), DETACH_TIMEOUT_MS);
    if (rc == -ETIMEDOUT)
        snprintf(msg, GJ_MSG_MAX, "The guest did not release %s within %d s; try again",
                 gs_rstr(v, "target"), DETACH_TIMEOUT_MS / 1000);
    else if (rc < 0)
        snprintf(msg, GJ_MSG_MAX, "libvirt could not detach the volume: %s", virt_last_error());
    if (rc == 0) {
        json_t *vols = json_deep_copy(json_object_get(rec.data, "volumes"));
        json_array_remove(vols, idx);
        rc = gs_patch_as(s, id, json_pack("{s:o}", "volumes", vols));
    }
    if (rc == 0)
        st_info("server %s: volume %s detached", id, volume_id);
    st_lease_release(s->meta, &guest_kind, id, s->owner);
    if (rc == 0)
        gs_release_secrets(s, rec.data);
    st_record_cleanup(&rec);
    return rc;
}

int gsvc_volume_update(struct guest_service *s, const char *id, const char *volume_id,
                       const struct gj_volume_update_req *q, char *msg)
{
    const json_t *qos = q->qos;
    int64_t size_gb = q->size_gb;
    struct st_record rec = { 0 };
    json_t *v;
    size_t idx;
    int rc = attached_begin(s, id, "update volume", volume_id, &rec, &v, &idx, msg);

    if (rc < 0)
        return rc;
    const char *target = gs_rstr(v, "target");
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
        rc = gs_patch_as(s, id, json_pack("{s:o}", "volumes", vols));
    }
    st_lease_release(s->meta, &guest_kind, id, s->owner);
    st_record_cleanup(&rec);
    return rc;
}
