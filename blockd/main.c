/* main.c — strata-blockd: the block service (Cinder v3-compatible) on RBD.
 * The descriptor below is all there is: options, routes, service life cycle. */
#include "api_manage.h"
#include "api_quota.h"
#include "api_types.h"
#include "api_volumes.h"
#include "options.h"
#include "strata/daemon.h"
#include "vol_service.h"

static const struct st_route *const routes[] = { vol_api_routes,    vol_attachment_routes,
                                                 vol_backup_routes, vol_quota_routes,
                                                 vol_types_routes,  vol_manage_routes,
                                                 NULL };

static int blockd_init(struct st_daemon *d, void **app)
{
    return vol_service_create(d, (struct vol_service **)app);
}

static void blockd_fini(struct st_daemon *d, void *app)
{
    (void)d;
    vol_service_destroy(app);
}

static const struct st_daemon_desc blockd_desc = {
    .name = "blockd",
    .default_port = 8776,
    .options = blockd_options,
    .routes = routes,
    .needs_rados = true,
    .init = blockd_init,
    .fini = blockd_fini,
};

int main(int argc, char **argv)
{
    return st_daemon_main(&blockd_desc, argc, argv);
}
