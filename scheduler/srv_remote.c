/* srv_remote.c — the scheduler's calls to the other daemons: blockd (volumes,
 * attachments at microversion 3.44) and imaged as the server's user, with a
 * short-lived token minted for it, and the compute agents with the service token. */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "srv_internal.h"
#include "strata/log.h"
#include "strata/strutil.h"

static const char *const MV[] = { "OpenStack-API-Version", "volume 3.44", NULL };

int rem_as_user(struct srv_service *s, const char *project, const char *user, const char *method,
                const char *url, const json_t *body, struct st_httpc_resp *r)
{
    struct st_auth_ctx as = { .nroles = 1, .roles = { "member" } };
    char *tok = NULL;
    int rc;

    snprintf(as.user_id, sizeof(as.user_id), "%s", user);
    snprintf(as.project_id, sizeof(as.project_id), "%s", project);
    if ((rc = st_auth_issue(st_daemon_auth(s->d), &as, st_now_ms() / 1000 + 300, &tok)) < 0)
        return rc;
    rc = st_httpc_request_h(s->http, method, url, tok, MV, body, r);
    OPENSSL_cleanse(tok, strlen(tok));
    free(tok);
    return rc;
}

int rem_volume_get(struct srv_service *s, const char *project, const char *user,
                   const char *volume_id, struct st_httpc_resp *r)
{
    char url[600];

    snprintf(url, sizeof(url), "%s/v3/%s/volumes/%s", s->volume_url, project, volume_id);
    return rem_as_user(s, project, user, "GET", url, NULL, r);
}

void rem_reply_message(const struct st_httpc_resp *r, const char *who, char *msg, size_t len)
{
    const char *m = NULL, *k;
    json_t *v;

    json_object_foreach(r->body, k, v)   /* {"badRequest": {"message": ...}} */
        if (json_is_object(v) && (m = st_json_str(v, "message")))
            break;
    snprintf(msg, len, "%s answered %ld%s%s", who, r->status, m ? ": " : "", m ? m : "");
}

int rem_attach_create(struct srv_service *s, const char *project, const char *user,
                      const char *volume_id, const char *server_id, const char *host,
                      char attachment_id[64], json_t **ci, char *msg)
{
    struct st_httpc_resp r = { 0 };
    char url[600];
    json_t *body = json_pack("{s:{s:s, s:s, s:{s:s, s:s, s:s, s:b}, s:s}}", "attachment",
                             "volume_uuid", volume_id, "instance_uuid", server_id, "connector",
                             "host", host, "platform", "x86_64", "os_type", "linux", "multipath",
                             0, "mode", "rw");
    int rc;

    snprintf(url, sizeof(url), "%s/v3/%s/attachments", s->volume_url, project);
    rc = body ? rem_as_user(s, project, user, "POST", url, body, &r) : -ENOMEM;
    json_decref(body);
    if (rc < 0) {
        snprintf(msg, SJ_MSG_MAX, "the volume service is unreachable (%s)", strerror(-rc));
        return -EIO;
    }
    const json_t *a = json_object_get(r.body, "attachment");
    if (r.status == 200 && st_json_str(a, "id") && json_is_object(json_object_get(a, "connection_info"))) {
        snprintf(attachment_id, 64, "%s", st_json_str(a, "id"));
        *ci = json_incref(json_object_get(a, "connection_info"));
        rc = 0;
    } else {
        rem_reply_message(&r, "the volume service", msg, SJ_MSG_MAX);
        rc = r.status == 404 ? -ENOENT : r.status == 400 || r.status == 409 ? -EBUSY : -EIO;
    }
    st_httpc_resp_cleanup(&r);
    return rc;
}

static int attachment_call(struct srv_service *s, const char *project, const char *user,
                           const char *method, const char *attachment_id, const char *suffix,
                           const json_t *body)
{
    struct st_httpc_resp r = { 0 };
    char url[600];
    int rc;

    snprintf(url, sizeof(url), "%s/v3/%s/attachments/%s%s", s->volume_url, project,
             attachment_id, suffix);
    rc = rem_as_user(s, project, user, method, url, body, &r);
    if (rc == 0 && r.status / 100 != 2)
        rc = r.status == 404 ? -ENOENT : -EIO;
    if (rc < 0 && rc != -ENOENT)
        st_warn("attachment %s: %s%s: %s (HTTP %ld)", attachment_id, method, suffix,
                strerror(-rc), r.status);
    st_httpc_resp_cleanup(&r);
    return rc;
}

int rem_attach_complete(struct srv_service *s, const char *project, const char *user,
                        const char *attachment_id)
{
    json_t *body = json_pack("{s:{}}", "os-complete");
    int rc = attachment_call(s, project, user, "POST", attachment_id, "/action", body);

    json_decref(body);
    return rc;
}

int rem_attach_delete(struct srv_service *s, const char *project, const char *user,
                      const char *attachment_id)
{
    int rc = attachment_call(s, project, user, "DELETE", attachment_id, "", NULL);

    return rc == -ENOENT ? 0 : rc;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

int rem_agent(struct srv_service *s, const char *host, const char *method, const char *path,
              const json_t *body, struct st_httpc_resp *r)
{
    struct st_record h = { 0 };
    char url[700];
    int rc = st_meta_get(s->meta, &host_kind_ro, host, &h);
    const char *agent = rc == 0 ? st_json_str(h.data, "agent_url") : NULL;

    if (rc == 0 && !agent)
        rc = -ENOENT;
    if (rc < 0) {
        st_record_cleanup(&h);
        return rc;
    }
    snprintf(url, sizeof(url), "%s/v1/servers%s", agent, path);
    st_record_cleanup(&h);
    for (int i = 0; i < 40; i++) {   /* 409: the server is busy with another operation */
        rc = st_httpc_request(s->http, method, url, s->agent_token, body, r);
        if (rc < 0 || r->status != 409 || i == 39)
            break;
        st_httpc_resp_cleanup(r);
        sleep_ms(500);
    }
    return rc;
}
