/* catalog.c — services and endpoints from the [identity] URLs.  Ids are
 * derived from the service type (and interface), so every instance of the
 * identity service shows the same catalog with the same ids. */
#include "catalog.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum url_field { U_IDENTITY, U_COMPUTE, U_VOLUME, U_IMAGE };

static const struct {
    const char *type, *name, *description;
    enum url_field url;
} services[] = {
    {"identity", "keystone", "Strata identity (Keystone v3)", U_IDENTITY},
    {"compute", "nova", "Strata compute (Nova v2.1)", U_COMPUTE},
    {"volumev3", "cinderv3", "Strata block storage (Cinder v3)", U_VOLUME},
    {"block-storage", "cinder", "Strata block storage (Cinder v3)", U_VOLUME},
    {"image", "glance", "Strata images (Glance v2)", U_IMAGE},
};
#define NSERVICES (sizeof(services) / sizeof(services[0]))

static const char *const interfaces[] = {"public", "internal", "admin"};

static const char *url_of(const struct id_catalog *c, enum url_field f)
{
    const char *u = f == U_IDENTITY ? c->identity_url : f == U_COMPUTE ? c->compute_url
                  : f == U_VOLUME ? c->volume_url : c->image_url;
    return u && *u ? u : NULL;
}

/* 32 hex chars of SHA-256(a "/" b): stable ids. */
static void derive_id(const char *a, const char *b, char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char in[256];

    snprintf(in, sizeof(in), "%s/%s", a, b ? b : "");
    memset(md, 0, sizeof(md));
    EVP_Digest(in, strlen(in), md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

char *id_catalog_expand(const char *url, const char *project_id)
{
    static const char *const vars[] = {"$(project_id)s", "$(tenant_id)s", "%(project_id)s",
                                       "%(tenant_id)s"};
    size_t cap = strlen(url) + 1;
    const char *p = url;
    char *out, *o;

    for (size_t i = 0; i < 4; i++) {
        for (const char *q = strstr(url, vars[i]); q; q = strstr(q + 1, vars[i]))
            cap += strlen(project_id);
    }
    out = o = malloc(cap);
    if (!out)
        return NULL;
    while (*p) {
        size_t i;
        for (i = 0; i < 4 && strncmp(p, vars[i], strlen(vars[i])) != 0; i++)
            ;
        if (i < 4) {
            if (!*project_id) {
                free(out);
                return NULL;
            }
            o = stpcpy(o, project_id);
            p += strlen(vars[i]);
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static json_t *endpoint(const struct id_catalog *c, size_t s, const char *iface, const char *url,
                        bool listing)
{
    char id[33], sid[33];
    json_t *e;

    derive_id(services[s].type, iface, id);
    e = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "interface", iface, "region", c->region,
                  "region_id", c->region, "url", url);
    if (e && listing) {
        char self[512];
        derive_id(services[s].type, NULL, sid);
        snprintf(self, sizeof(self), "%s/v3/endpoints/%s", c->base, id);
        json_object_set_new(e, "service_id", json_string(sid));
        json_object_set_new(e, "enabled", json_true());
        json_object_set_new(e, "links", json_pack("{s:s}", "self", self));
    }
    return e;
}

json_t *id_catalog_token(const struct id_catalog *c, const char *project_id)
{
    json_t *cat = json_array();

    for (size_t s = 0; cat && s < NSERVICES; s++) {
        const char *tmpl = url_of(c, services[s].url);
        char *url, id[33];
        json_t *eps, *svc;

        if (!tmpl || !(url = id_catalog_expand(tmpl, project_id ? project_id : "")))
            continue;
        derive_id(services[s].type, NULL, id);
        eps = json_array();
        for (size_t i = 0; eps && i < 3; i++)
            json_array_append_new(eps, endpoint(c, s, interfaces[i], url, false));
        free(url);
        svc = json_pack("{s:o, s:s, s:s, s:s}", "endpoints", eps, "id", id, "type",
                        services[s].type, "name", services[s].name);
        if (!svc || json_array_append_new(cat, svc) < 0) {
            json_decref(cat);
            return NULL;
        }
    }
    return cat;
}

json_t *id_catalog_services(const struct id_catalog *c, const char *type)
{
    json_t *list = json_array();

    for (size_t s = 0; list && s < NSERVICES; s++) {
        char id[33], self[512];
        if (!url_of(c, services[s].url) || (type && strcmp(type, services[s].type) != 0))
            continue;
        derive_id(services[s].type, NULL, id);
        snprintf(self, sizeof(self), "%s/v3/services/%s", c->base, id);
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:b, s:{s:s}}", "id", id,
                                              "type", services[s].type, "name", services[s].name,
                                              "description", services[s].description,
                                              "enabled", 1, "links", "self", self));
    }
    return list;
}

json_t *id_catalog_endpoints(const struct id_catalog *c, const char *interface,
                             const char *service_id)
{
    json_t *list = json_array();

    for (size_t s = 0; list && s < NSERVICES; s++) {
        const char *url = url_of(c, services[s].url);
        char sid[33];
        if (!url)
            continue;
        derive_id(services[s].type, NULL, sid);
        if (service_id && strcmp(service_id, sid) != 0)
            continue;
        for (size_t i = 0; i < 3; i++) {
            if (!interface || strcmp(interface, interfaces[i]) == 0)
                json_array_append_new(list, endpoint(c, s, interfaces[i], url, true));
        }
    }
    return list;
}

json_t *id_catalog_regions(const struct id_catalog *c)
{
    char self[512];

    snprintf(self, sizeof(self), "%s/v3/regions/%s", c->base, c->region);
    return json_pack("[{s:s, s:s, s:n, s:{s:s}}]", "id", c->region, "description", "",
                     "parent_region_id", "links", "self", self);
}
