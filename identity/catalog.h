/* catalog.h — the service catalog, which is configuration: one row per service
 * (type, name, the [identity] option holding its URL) turned into the token's
 * catalog and into the /v3/services and /v3/endpoints listings.  Pure. */
#ifndef IDENTITY_CATALOG_H
#define IDENTITY_CATALOG_H

#include <jansson.h>

struct id_catalog {
    const char *region;
    const char *identity_url, *compute_url, *volume_url, *image_url;
    const char *base; /* this service's public URL, for links */
};

/* The token's catalog for project_id ("" = unscoped: endpoints whose URL needs
 * a project are left out); NULL when out of memory. */
json_t *id_catalog_token(const struct id_catalog *c, const char *project_id);
/* {"services": [...]} rows (type filter optional) and {"endpoints": [...]} rows
 * (URLs as templates, interface/service_id filters optional). */
json_t *id_catalog_services(const struct id_catalog *c, const char *type);
json_t *id_catalog_endpoints(const struct id_catalog *c, const char *interface,
                             const char *service_id);
/* {"regions": [...]} with the one region. */
json_t *id_catalog_regions(const struct id_catalog *c);
/* Expand $(project_id)s / $(tenant_id)s / %(project_id)s / %(tenant_id)s in
 * url into a new string; NULL if url needs a project and project_id is "". */
char *id_catalog_expand(const char *url, const char *project_id);

#endif
