/* api_compute.c — the Nova v2.1 compute API of strata-scheduler: routes,
 * microversion, request bodies and Nova's status codes; the logic is
 * srv_service.h's.  Paths work with and without the project id. */
#include "api_compute.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "srv_service.h"
#include "strata/strutil.h"

#define BASE_MAX 300

static struct srv_service *svc(const struct st_req *r)
{
    return st_req_app(r);
}

static const struct st_auth_ctx *who(const struct st_req *r)
{
    return st_req_auth(r);
}

static void base_of(const struct st_req *r, char *base)
{
    snprintf(base, BASE_MAX, "http://%s", st_host_or_default(st_req_header(r, "Host")));
}

static bool truthy(const char *v)
{
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
                 v[0] == '\0');
}

/* Nova's microversion headers: only 2.1 is served ("latest" means 2.1). */
static int begin(struct st_req *r)
{
    const char *h = st_req_header(r, "OpenStack-API-Version");
    const char *legacy = st_req_header(r, "X-OpenStack-Nova-API-Version");
    const char *v = NULL;

    st_reply_header(r, "Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
    st_reply_header(r, "OpenStack-API-Version", "compute 2.1");
    st_reply_header(r, "X-OpenStack-Nova-API-Version", "2.1");
    if (h && strncasecmp(h, "compute ", 8) == 0)
        v = h + 8;
    else if (legacy)
        v = legacy;
    if (v && strcmp(v, "2.1") != 0 && strcasecmp(v, "latest") != 0) {
        st_reply_error(r, 406, "Version %s is not supported by the API. Minimum is 2.1 and "
                               "maximum is 2.1.", v);
        return -ENOTSUP;
    }
    /* /v2.1/{project_id}/...: the project must be the token's (admins any) */
    const char *p = st_req_param(r, "project_id");
    if (p && !who(r)->is_admin && strcmp(p, who(r)->project_id) != 0) {
        st_reply_error(r, 403, "Project ID in the URL does not match the token's project.");
        return -EPERM;
    }
    return 0;
}

static int reply_one(struct st_req *r, unsigned status, const char *member, json_t *view)
{
    return view ? st_reply_json(r, status, json_pack("{s:o}", member, view)) : -ENOMEM;
}

/* ---- version documents ---- */

static json_t *version_doc(const struct st_req *r)
{
    char href[BASE_MAX + 8];

    snprintf(href, sizeof(href), "http://%s/v2.1/", st_host_or_default(st_req_header(r, "Host")));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}", "id", "v2.1",
                     "status", "CURRENT", "version", "2.1", "min_version", "2.1", "updated",
                     "2013-07-23T11:33:21Z", "links", "rel", "self", "href", href, "media-types",
                     "base", "application/json", "type",
                     "application/vnd.openstack.compute+json;version=2.1");
}

static int h_root(struct st_req *r)
{
    json_t *v = version_doc(r);
    return v ? st_reply_json(r, 200, json_pack("{s:[o]}", "versions", v)) : -ENOMEM;
}

static int h_v21(struct st_req *r)
{
    return reply_one(r, 200, "version", version_doc(r));
}

/* ---- servers ---- */

static int do_server_create(struct st_req *r)
{
    char msg[SJ_MSG_MAX] = "", base[BASE_MAX], loc[BASE_MAX + 100];
    json_t *body = NULL, *out = NULL;
    int rc;

    if ((rc = st_req_json(r, &body)) < 0)
        return rc;
    base_of(r, base);
    rc = srv_server_create(svc(r), who(r), body, base, &out, msg);
    json_decref(body);
    if (rc < 0)
        return st_reply_fail(r, rc, msg, NULL, NULL);
    snprintf(loc, sizeof(loc), "%s/v2.1/servers/%s", base, st_json_str(out, "id"));
    st_reply_header(r, "Location", loc);
    return reply_one(r, 202, "server", out);
}

static int list(struct st_req *r, bool detail)
{
    char base[BASE_MAX];
    json_t *out = NULL;
    int rc;

    base_of(r, base);
    bool all = truthy(st_req_query(r, "all_tenants"));
    if (all && !who(r)->is_admin)
        all = false;   /* Nova ignores it for non-admins */
    if ((rc = srv_server_list(svc(r), who(r), detail, all, st_req_query(r, "name"), base, &out)) < 0)
        return rc;
    return st_reply_json(r, 200, json_pack("{s:o}", "servers", out));
}

static int do_server_list(struct st_req *r)
{
    return list(r, false);
}

static int do_server_detail(struct st_req *r)
{
    return list(r, true);
}

static int do_server_show(struct st_req *r)
{
    char base[BASE_MAX];
    json_t *out = NULL;
    const char *id = st_req_param(r, "id");
    int rc;

    base_of(r, base);
    if ((rc = srv_server_show(svc(r), who(r), id, base, &out)) < 0)
        return st_reply_fail(r, rc, NULL, "Instance", id);
    return reply_one(r, 200, "server", out);
}

static int do_server_delete(struct st_req *r)
{
    char msg[SJ_MSG_MAX] = "";
    const char *id = st_req_param(r, "id");
    int rc;

    if ((rc = srv_server_delete(svc(r), who(r), id, msg)) < 0)
        return st_reply_fail(r, rc, msg, "Instance", id);
    return st_reply_json(r, 204, NULL);
}

static int do_server_action(struct st_req *r)
{
    char msg[SJ_MSG_MAX] = "";
    const char *id = st_req_param(r, "id");
    json_t *body = NULL, *out = NULL;
    unsigned status = 202;
    int rc;

    if ((rc = st_req_json(r, &body)) < 0)
        return rc;
    rc = srv_server_action(svc(r), who(r), id, body, &out, &status, msg);
    json_decref(body);
    if (rc < 0)
        return st_reply_fail(r, rc == -ECANCELED ? -EBUSY : rc, msg, "Instance", id);
    return st_reply_json(r, status, out);
}

/* ---- volume attachments ---- */

static int do_att_list(struct st_req *r)
{
    json_t *out = NULL;
    const char *id = st_req_param(r, "id");
    int rc;

    if ((rc = srv_attach_list(svc(r), who(r), id, &out)) < 0)
        return st_reply_fail(r, rc, NULL, "Instance", id);
    return st_reply_json(r, 200, json_pack("{s:o}", "volumeAttachments", out));
}

static int do_att_create(struct st_req *r)
{
    char msg[SJ_MSG_MAX] = "";
    const char *id = st_req_param(r, "id");
    json_t *body = NULL, *out = NULL;
    int rc;

    if ((rc = st_req_json(r, &body)) < 0)
        return rc;
    rc = srv_attach(svc(r), who(r), id, body, &out, msg);
    json_decref(body);
    if (rc < 0)
        return st_reply_fail(r, rc == -ECANCELED ? -EBUSY : rc, msg, "Instance", id);
    return reply_one(r, 200, "volumeAttachment", out);
}

static int do_att_show(struct st_req *r)
{
    json_t *out = NULL;
    const char *id = st_req_param(r, "id"), *vol = st_req_param(r, "volume_id");
    int rc;

    if ((rc = srv_attach_show(svc(r), who(r), id, vol, &out)) < 0)
        return st_reply_fail(r, rc, NULL, "Volume attachment of", vol);
    return reply_one(r, 200, "volumeAttachment", out);
}

static int do_att_delete(struct st_req *r)
{
    char msg[SJ_MSG_MAX] = "";
    const char *id = st_req_param(r, "id"), *vol = st_req_param(r, "volume_id");
    int rc;

    if ((rc = srv_detach(svc(r), who(r), id, vol, msg)) < 0)
        return st_reply_fail(r, rc == -ECANCELED ? -EBUSY : rc, msg, "Instance", id);
    return st_reply_json(r, 202, NULL);
}

/* ---- flavors ---- */

static int flavor_list(struct st_req *r, bool detail)
{
    char base[BASE_MAX];
    json_t *out = NULL;
    int rc;

    base_of(r, base);
    if ((rc = srv_flavor_list(svc(r), detail, base, &out)) < 0)
        return rc;
    return st_reply_json(r, 200, json_pack("{s:o}", "flavors", out));
}

static int do_flavor_list(struct st_req *r)
{
    return flavor_list(r, false);
}

static int do_flavor_detail(struct st_req *r)
{
    return flavor_list(r, true);
}

static int do_flavor_show(struct st_req *r)
{
    char base[BASE_MAX];
    json_t *out = NULL;
    const char *id = st_req_param(r, "id");
    int rc;

    base_of(r, base);
    if ((rc = srv_flavor_show(svc(r), id, base, &out)) < 0)
        return st_reply_fail(r, rc, NULL, "Flavor", id);
    return reply_one(r, 200, "flavor", out);
}

static int do_flavor_specs(struct st_req *r)
{
    char base[BASE_MAX];
    json_t *out = NULL;
    const char *id = st_req_param(r, "id");
    int rc;

    base_of(r, base);
    if ((rc = srv_flavor_show(svc(r), id, base, &out)) < 0)
        return st_reply_fail(r, rc, NULL, "Flavor", id);
    json_decref(out);
    return st_reply_json(r, 200, json_pack("{s:{}}", "extra_specs"));
}

static int do_flavor_create(struct st_req *r)
{
    char msg[SJ_MSG_MAX] = "", base[BASE_MAX];
    json_t *body = NULL, *out = NULL;
    int rc;

    if ((rc = st_req_json(r, &body)) < 0)
        return rc;
    base_of(r, base);
    rc = srv_flavor_create(svc(r), body, base, &out, msg);
    json_decref(body);
    if (rc < 0)
        return st_reply_fail(r, rc, msg, NULL, NULL);
    return reply_one(r, 200, "flavor", out);
}

static int do_flavor_delete(struct st_req *r)
{
    const char *id = st_req_param(r, "id");
    int rc;

    if ((rc = srv_flavor_delete(svc(r), id)) < 0)
        return st_reply_fail(r, rc, NULL, "Flavor", id);
    return st_reply_json(r, 202, NULL);
}

/* ---- server groups ---- */

static int do_group_list(struct st_req *r)
{
    json_t *out = NULL;
    int rc;

    if ((rc = srv_group_list(svc(r), who(r), truthy(st_req_query(r, "all_projects")), &out)) < 0)
        return rc;
    return st_reply_json(r, 200, json_pack("{s:o}", "server_groups", out));
}

static int do_group_show(struct st_req *r)
{
    json_t *out = NULL;
    const char *id = st_req_param(r, "id");
    int rc;

    if ((rc = srv_group_show(svc(r), who(r), id, &out)) < 0)
        return st_reply_fail(r, rc, NULL, "Instance group", id);
    return reply_one(r, 200, "server_group", out);
}

static int do_group_create(struct st_req *r)
{
    char msg[SJ_MSG_MAX] = "";
    json_t *body = NULL, *out = NULL;
    int rc;

    if ((rc = st_req_json(r, &body)) < 0)
        return rc;
    rc = srv_group_create(svc(r), who(r), body, &out, msg);
    json_decref(body);
    if (rc < 0)
        return st_reply_fail(r, rc, msg, NULL, NULL);
    return reply_one(r, 200, "server_group", out);
}

static int do_group_delete(struct st_req *r)
{
    const char *id = st_req_param(r, "id");
    int rc;

    if ((rc = srv_group_delete(svc(r), who(r), id)) < 0)
        return st_reply_fail(r, rc, NULL, "Instance group", id);
    return st_reply_json(r, 204, NULL);
}

/* ---- hypervisors, zones, events ---- */

static int hv_list(struct st_req *r, bool detail)
{
    json_t *out = NULL;
    int rc;

    if ((rc = srv_hypervisor_list(svc(r), detail, &out)) < 0)
        return rc;
    return st_reply_json(r, 200, json_pack("{s:o}", "hypervisors", out));
}

static int do_hv_list(struct st_req *r)
{
    return hv_list(r, false);
}

static int do_hv_detail(struct st_req *r)
{
    return hv_list(r, true);
}

static int do_hv_show(struct st_req *r)
{
    json_t *out = NULL;
    const char *id = st_req_param(r, "id");
    int rc;

    if ((rc = srv_hypervisor_show(svc(r), id, &out)) < 0)
        return st_reply_fail(r, rc, NULL, "Hypervisor", id);
    return reply_one(r, 200, "hypervisor", out);
}

static int zones(struct st_req *r, bool detail)
{
    json_t *out = NULL;
    int rc;

    if ((rc = srv_zone_list(svc(r), detail, &out)) < 0)
        return rc;
    return st_reply_json(r, 200, json_pack("{s:o}", "availabilityZoneInfo", out));
}

static int do_zones(struct st_req *r)
{
    return zones(r, false);
}

static int do_zones_detail(struct st_req *r)
{
    return zones(r, true);
}

static int do_events(struct st_req *r)
{
    char msg[SJ_MSG_MAX] = "";
    json_t *body = NULL, *out = NULL;
    int rc;

    if ((rc = st_req_json(r, &body)) < 0)
        return rc;
    rc = srv_external_events(svc(r), body, &out, msg);
    json_decref(body);
    if (rc < 0)
        return st_reply_fail(r, rc, msg, NULL, NULL);
    return st_reply_json(r, 200, json_pack("{s:o}", "events", out));
}

/* Every route's handler first settles the microversion and the project. */
#define NOVA_HANDLER(name)                                                                         \
    static int h_##name(struct st_req *r)                                                          \
    {                                                                                              \
        int rc = begin(r);                                                                         \
        return rc < 0 ? rc : do_##name(r);                                                         \
    }

NOVA_HANDLER(server_list)
NOVA_HANDLER(server_create)
NOVA_HANDLER(server_detail)
NOVA_HANDLER(server_show)
NOVA_HANDLER(server_delete)
NOVA_HANDLER(server_action)
NOVA_HANDLER(att_list)
NOVA_HANDLER(att_create)
NOVA_HANDLER(att_show)
NOVA_HANDLER(att_delete)
NOVA_HANDLER(flavor_list)
NOVA_HANDLER(flavor_create)
NOVA_HANDLER(flavor_detail)
NOVA_HANDLER(flavor_show)
NOVA_HANDLER(flavor_delete)
NOVA_HANDLER(flavor_specs)
NOVA_HANDLER(group_list)
NOVA_HANDLER(group_create)
NOVA_HANDLER(group_show)
NOVA_HANDLER(group_delete)
NOVA_HANDLER(hv_list)
NOVA_HANDLER(hv_detail)
NOVA_HANDLER(hv_show)
NOVA_HANDLER(zones)
NOVA_HANDLER(zones_detail)
NOVA_HANDLER(events)

/* Every route twice: /v2.1/... and /v2.1/{project_id}/... */
#define R(m, p, h, f) {m, "/v2.1" p, h, f, NULL, "/v2.1" p}, \
                      {m, "/v2.1/{project_id}" p, h, f, NULL, "/v2.1" p}
#define A ST_ROUTE_ADMIN
/* clang-format off */
const struct st_route compute_api_routes[] = {
    {"GET", "/",      h_root, ST_ROUTE_PUBLIC, NULL, NULL},
    {"GET", "/v2.1",  h_v21,  ST_ROUTE_PUBLIC, NULL, NULL},
    {"GET", "/v2.1/", h_v21,  ST_ROUTE_PUBLIC, NULL, NULL},
    R("GET",    "/servers",                                     h_server_list,   0),
    R("POST",   "/servers",                                     h_server_create, 0),
    R("GET",    "/servers/detail",                              h_server_detail, 0),
    R("GET",    "/servers/{id}",                                h_server_show,   0),
    R("DELETE", "/servers/{id}",                                h_server_delete, 0),
    R("POST",   "/servers/{id}/action",                         h_server_action, 0),
    R("GET",    "/servers/{id}/os-volume_attachments",          h_att_list,      0),
    R("POST",   "/servers/{id}/os-volume_attachments",          h_att_create,    0),
    R("GET",    "/servers/{id}/os-volume_attachments/{volume_id}", h_att_show,   0),
    R("DELETE", "/servers/{id}/os-volume_attachments/{volume_id}", h_att_delete, 0),
    R("GET",    "/flavors",                                     h_flavor_list,   0),
    R("POST",   "/flavors",                                     h_flavor_create, A),
    R("GET",    "/flavors/detail",                              h_flavor_detail, 0),
    R("GET",    "/flavors/{id}",                                h_flavor_show,   0),
    R("DELETE", "/flavors/{id}",                                h_flavor_delete, A),
    R("GET",    "/flavors/{id}/os-extra_specs",                 h_flavor_specs,  0),
    R("GET",    "/os-server-groups",                            h_group_list,    0),
    R("POST",   "/os-server-groups",                            h_group_create,  0),
    R("GET",    "/os-server-groups/{id}",                       h_group_show,    0),
    R("DELETE", "/os-server-groups/{id}",                       h_group_delete,  0),
    R("GET",    "/os-hypervisors",                              h_hv_list,       A),
    R("GET",    "/os-hypervisors/detail",                       h_hv_detail,     A),
    R("GET",    "/os-hypervisors/{id}",                         h_hv_show,       A),
    R("GET",    "/os-availability-zone",                        h_zones,         0),
    R("GET",    "/os-availability-zone/detail",                 h_zones_detail,  A),
    R("POST",   "/os-server-external-events",                   h_events,        A),
    ST_ROUTE_END,
};
/* clang-format on */
