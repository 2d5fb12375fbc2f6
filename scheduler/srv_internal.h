/* srv_internal.h — the scheduler service's state and the helpers its files
 * share (records, remote calls, build and delete jobs).  Not an API. */
#ifndef SCHEDULER_SRV_INTERNAL_H
#define SCHEDULER_SRV_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "ceph_facts.h"
#include "placement.h"
#include "srv_json.h"
#include "strata/auth.h"
#include "strata/daemon.h"
#include "strata/httpc.h"
#include "strata/meta.h"
#include "strata/ticker.h"
#include "strata/workpool.h"

extern const struct st_meta_kind server_kind, flavor_kind, group_kind, usage_kind,
    host_kind_ro, guest_kind_ro;

struct srv_service {
    struct st_daemon *d;
    struct st_meta *meta;
    struct st_httpc *http;
    struct ceph_facts *facts;
    struct st_workpool *workers;
    struct st_ticker ticker;
    struct pl_config pl;
    char owner[128];
    int64_t ttl_ms, build_timeout_ms;
    unsigned max_attempts;
    char volume_url[256], image_url[256];
    char agent_token[256];
    char images_pool[128], volumes_pool[128], vms_pool[128];
    char default_zone[64];
};

/* ---- srv_resources.c ---- */
#define SEEDED ".seeded"   /* flavor-kind marker: the default flavors were made once */
/* Make Nova's classic flavors once per cloud (an admin may delete them later). */
void srv_flavors_seed(struct srv_service *s);
/* A random lower-case UUID. */
void srv_new_uuid(char out[37]);

/* ---- srv_remote.c: calls to blockd, imaged and the agents ---- */
/* method url as the record's user (member of its project): blockd and imaged. */
int rem_as_user(struct srv_service *s, const char *project, const char *user, const char *method,
                const char *url, const json_t *body, struct st_httpc_resp *r);
/* blockd: GET a volume ({"volume": ...} in r->body). */
int rem_volume_get(struct srv_service *s, const char *project, const char *user,
                   const char *volume_id, struct st_httpc_resp *r);
/* blockd: an attachment of volume to server with host's connector:
 * *attachment_id and *ci (new reference) on success; -ENOENT, -EBUSY, -EIO + msg. */
int rem_attach_create(struct srv_service *s, const char *project, const char *user,
                      const char *volume_id, const char *server_id, const char *host,
                      char attachment_id[64], json_t **ci, char *msg);
int rem_attach_complete(struct srv_service *s, const char *project, const char *user,
                        const char *attachment_id);
int rem_attach_delete(struct srv_service *s, const char *project, const char *user,
                      const char *attachment_id);
/* The agent of host: method /v1/servers<path>; retried while it answers 409
 * (busy) for up to ~20 s.  -ENOENT when the host has no agent record. */
int rem_agent(struct srv_service *s, const char *host, const char *method, const char *path,
              const json_t *body, struct st_httpc_resp *r);
/* "the agent answered 400: <message>" into msg from a reply. */
void rem_reply_message(const struct st_httpc_resp *r, const char *who, char *msg, size_t len);

/* ---- srv_build.c: the long operations, run by workers on the record's lease ---- */
int build_submit(struct srv_service *s, const char *id);
int delete_submit(struct srv_service *s, const char *id);
/* The reconcile pass: stale leases of dead schedulers are taken over. */
void srv_reconcile(struct srv_service *s);
/* After a short operation released the lease: start the delete asked meanwhile. */
void srv_after_lease(struct srv_service *s, const char *id);
/* st_meta_modify function: remove server id `arg` from a group record's members. */
int srv_group_drop_member(json_t *g, void *arg);
/* Patch a server record's top-level members (patch stolen), fenced by our lease. */
int srv_patch(struct srv_service *s, const char *id, json_t *patch);

/* ---- srv_hosts.c: host state for placement and the hypervisor views ---- */
/* All hosts (records + usage) as placement hosts; *out malloc'd. */
int hosts_load(struct srv_service *s, struct pl_host **out, size_t *n, json_t **records);
/* Claim room for server on one of order[] (best first): the chosen host's
 * name into host; -ENOSPC when every candidate filled up meanwhile. */
int hosts_claim(struct srv_service *s, const struct pl_host *hosts, const size_t *order,
                size_t norder, const char *server_id, const struct pl_request *req,
                char host[PL_NAME_MAX + 1]);
int hosts_release(struct srv_service *s, const char *host, const char *server_id);
void hosts_failure(struct srv_service *s, const char *host);

#endif
