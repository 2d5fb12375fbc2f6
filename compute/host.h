/* host.h — this hypervisor host in the metadata store: its registration record
 * (capacity, hypervisor, CPU, zone, Ceph location and fsid) and heartbeat. */
#ifndef COMPUTE_HOST_H
#define COMPUTE_HOST_H

#include <jansson.h>
#include <stdbool.h>

#include "strata/meta.h"

extern const struct st_meta_kind host_kind;

/* "zone=z1 rack=r1 host=h1" (spaces or commas) into an object; -EINVAL and
 * msg on a malformed pair or an unknown key. */
int host_parse_location(const char *text, json_t **out, char *msg, size_t msglen);

/* A host name usable as a record id: letters, digits, '.', '-', '_'. */
bool host_name_valid(const char *name);

/* Write the registration (create or replace this host's record) with the
 * facts in `facts` (not stolen); the heartbeat fields are added. */
int host_register(struct st_meta *m, const char *name, const json_t *facts);
/* Refresh heartbeat_at (ms) and the running-guest count. */
int host_heartbeat(struct st_meta *m, const char *name, int running);
/* Mark the host down (graceful stop). */
int host_mark_down(struct st_meta *m, const char *name);

#endif
