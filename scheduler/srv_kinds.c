/* srv_kinds.c — the record kinds the scheduler reads and writes: its own
 * (servers, flavors, groups, host usage) and the agents' (hosts, guests). */
#include "srv_internal.h"

/* clang-format off */
const struct st_meta_kind server_kind  = { "server", NULL };
const struct st_meta_kind flavor_kind  = { "flavor", NULL };
const struct st_meta_kind group_kind   = { "server_group", NULL };
const struct st_meta_kind usage_kind   = { "host_usage", NULL };
const struct st_meta_kind host_kind_ro = { "host", NULL };    /* written by the agents */
const struct st_meta_kind guest_kind_ro = { "guest", NULL };  /* written by the agents */
/* clang-format on */
