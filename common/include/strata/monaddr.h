/* monaddr.h — Ceph monitor addresses as clients are told them: the mon_host
 * string ("v1:IP:PORT", "[v2:..,v1:..]", "IP", "[v6]:PORT", lists) into hosts/ports. */
#ifndef STRATA_MONADDR_H
#define STRATA_MONADDR_H

#include <jansson.h>
#include <rados/librados.h>

/* Parse mon_host into two equal-length JSON arrays of strings (v1 addresses
 * preferred, port 6789 when none is given): 0, or -EINVAL when none parses. */
int st_mon_hosts(const char *mon_host, json_t **hosts, json_t **ports);
/* The same for a connected cluster's mon_host setting. */
int st_rados_mon_hosts(rados_t cluster, json_t **hosts, json_t **ports);

#endif
