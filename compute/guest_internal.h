/* guest_internal.h — what the compute agent's guest service parts share:
 * the service's state, the guest record kind and the converge/lease helpers. */
#ifndef STRATA_COMPUTE_GUEST_INTERNAL_H
#define STRATA_COMPUTE_GUEST_INTERNAL_H

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
#include "strata/imaged_client.h"
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

struct guest_service {
    struct st_daemon *d;
    struct st_meta *meta;
    const char *owner;
    char host[65];
    char virt_type[8];
    char state_dir[PATH_MAX];
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
    bool registered; /* host_register succeeded: destroy marks the host down */
    rados_ioctx_t vms;
    struct virt *virt;
    struct st_httpc *http;
    struct st_httpc_peer *imaged; /* [computed] image_url */
    struct st_workpool *workers;
    struct st_ticker heartbeat, reconciler;
};

extern const struct st_meta_kind guest_kind;

/* guest_service.c */
const char *gs_rstr(const json_t *o, const char *k);
void gs_root_rbd_name(const char *id, char *buf, size_t len);
int gs_patch_as(struct guest_service *s, const char *id, json_t *patch);
int gs_get(struct guest_service *s, const char *id, struct st_record *rec);
int gs_ensure_secret(struct guest_service *s, const struct dx_disk *d, char *msg);
const char *gs_power_state(struct guest_service *s, const char *id);
void gs_release_secrets(struct guest_service *s, const json_t *rec);
int gs_submit(struct guest_service *s, const char *id);
/* Whether a failed build may succeed later unchanged (a peer or libvirtd
 * unreachable or not answering in time): the guest stays building. */
bool gs_transient(int rc);
int gs_take(struct guest_service *s, const char *id, const char *op, char *msg);
int gs_list_records(struct guest_service *s, const char *project_id, json_t **out);

/* guest_reconcile.c */
void gs_reconcile_tick(void *arg);
void gs_heartbeat_tick(void *arg);

#endif

