/* vol_conn.c — pure helpers of the attachment flow: the monitors as Cinder's
 * hosts/ports lists (common/monaddr.c), the RBD connection_info document, and the test
 * reconcile uses for volumes stuck by an interrupted attachment create. */
#include "vol_conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strata/monaddr.h"

int volc_mon_hosts(const char *mon_host, json_t **hosts, json_t **ports)
{
    return st_mon_hosts(mon_host, hosts, ports);
}

json_t *volc_connection_info(const struct volc_params *p)
{
    char name[256];

    snprintf(name, sizeof(name), "%s/volume-%s", p->pool, p->volume_id);
    return json_pack("{s:s, s:{s:s, s:O, s:O, s:s, s:b, s:s, s:s, s:s, s:s, s:b, s:O?, s:s, "
                     "s:b}}",
                     "driver_volume_type", "rbd", "data", "name", name, "hosts", p->hosts,
                     "ports", p->ports, "cluster_name", p->cluster_name, "auth_enabled", 1,
                     "auth_username", p->rbd_user, "secret_type", "ceph", "secret_uuid",
                     p->secret_uuid, "volume_id", p->volume_id, "discard", 1, "qos_specs", p->qos_specs,
                     "access_mode", p->access_mode ? p->access_mode : "rw", "encrypted", 0);
}

const char *volc_pending_attachment(const json_t *vol, int64_t now_ms, int64_t grace_ms)
{
    const json_t *priv = json_object_get(vol, "_s");
    const char *status = json_string_value(json_object_get(vol, "status"));
    const char *att = json_string_value(json_object_get(priv, "pending_attachment"));
    json_int_t since = json_integer_value(json_object_get(priv, "pending_since"));

    if (!att || !status || (strcmp(status, "reserved") != 0 && strcmp(status, "attaching") != 0))
        return NULL;
    return now_ms - since >= grace_ms ? att : NULL;
}
