/* vol_conn.h — pure helpers of the attachment flow (no I/O): the monitors'
 * addresses from librados' mon_host, Cinder's RBD connection_info, and the
 * crash-recovery test for a volume left reserved/attaching by an attachment
 * create that never wrote its attachment record. */
#ifndef BLOCKD_VOL_CONN_H
#define BLOCKD_VOL_CONN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Parse a mon_host value ("v1:IP:PORT", "[v2:IP:PORT,v1:IP:PORT]", "IP:PORT",
 * "IP" = port 6789, "[IPv6]:PORT"; entries separated by commas, spaces or
 * semicolons) into two new arrays of strings, one entry per monitor (its v1
 * address when it has one).  0, -EINVAL (nothing usable), -ENOMEM. */
int volc_mon_hosts(const char *mon_host, json_t **hosts, json_t **ports);

struct volc_params {
    const char *pool;        /* RBD pool of volumes */
    const char *volume_id;
    const json_t *hosts, *ports;
    const char *cluster_name;
    const char *rbd_user;    /* cephx id the hypervisor uses ([blockd] rbd_user) */
    const char *secret_uuid; /* libvirt secret holding that user's key */
    const char *access_mode; /* "rw" (NULL) or "ro" */
    const json_t *qos_specs; /* front-end QoS (NULL or JSON null: none) */
};
/* {"driver_volume_type": "rbd", "data": {...}} as Cinder's RBD driver and
 * volume manager return it; never any key.  NULL: ENOMEM. */
json_t *volc_connection_info(const struct volc_params *p);

/* The attachment id a volume record waits for when it is reserved/attaching
 * because of an attachment create that started at least grace_ms before
 * now_ms (so its record should exist by now), else NULL. */
const char *volc_pending_attachment(const json_t *vol, int64_t now_ms, int64_t grace_ms);

#endif
