/* api_v3.c — the common start of blockd's v3 handlers outside api_volumes.c:
 * microversion negotiation (vol_json.c) and the project check. */
#include "api_v3.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strata/auth.h"
#include "vol_json.h"

int api_v3_begin(struct st_req *r, const char *target, unsigned *mv_out)
{
    const struct st_auth_ctx *a = st_req_auth(r);
    const char *project = st_req_param(r, "project_id");
    const char *t = target ? target : project;
    char msg[VOLJ_MSG_MAX] = "", hdr[32];
    unsigned mv = 0;
    int rc = volj_microversion(st_req_header(r, "OpenStack-API-Version"),
                               st_req_header(r, "X-OpenStack-Volume-API-Version"), &mv, msg);

    st_reply_header(r, "Vary", "OpenStack-API-Version");
    if (rc < 0)
        return st_reply_error(r, rc == -ERANGE ? 406 : 400, "%s", msg), rc;
    snprintf(hdr, sizeof(hdr), "volume 3.%u", mv);
    st_reply_header(r, "OpenStack-API-Version", hdr);
    if (!a || !project || !t ||
        (!a->is_admin && (strcmp(project, a->project_id) != 0 || strcmp(t, a->project_id) != 0)))
        return st_reply_error(r, 403, "Policy doesn't allow this operation on project %s.",
                              t ? t : "?"), -EPERM;
    if (mv_out)
        *mv_out = mv;
    return 0;
}
