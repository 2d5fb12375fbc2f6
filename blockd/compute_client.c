/* compute_client.c — blockd's client of the compute API (the scheduler's Nova
 * v2.1): server external events, and what their answers mean. */
#include "compute_client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Nova's 404: none of the servers exists; each event is answered 404. */
static json_t *all_not_found(const json_t *events)
{
    json_t *out = json_deep_copy(events), *e;
    size_t i;

    json_array_foreach(out, i, e) json_object_set_new(e, "code", json_integer(404));
    return out;
}

int compute_client_events(struct st_httpc_peer *compute, const json_t *events, json_t **results,
                          char *msg, size_t msglen)
{
    struct st_httpc_resp r = {0};
    json_t *body = json_pack("{s:O}", "events", events), *out = NULL;
    int rc;

    if (!body)
        return -ENOMEM;
    rc = st_httpc_peer_request(compute, "POST", "/os-server-external-events", NULL, body, &r);
    json_decref(body);
    if (rc < 0 || (r.status != 200 && r.status != 207 && r.status != 404)) {
        snprintf(msg, msglen, "%s", rc < 0 ? strerror(-rc) : "it answered an error");
        rc = -EIO;
    } else {
        out = r.status == 404 ? all_not_found(events)
                              : json_incref(json_object_get(r.body, "events"));
        if (!out)
            out = json_array();
        rc = out ? 0 : -ENOMEM;
    }
    st_httpc_resp_cleanup(&r);
    if (rc == 0)
        *results = out;
    return rc;
}
