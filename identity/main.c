/* main.c — strata-identity: the identity service (Keystone v3-compatible
 * subset) on port 5000.  The descriptor below is all there is. */
#include "api_admin.h"
#include "api_auth.h"
#include "id_service.h"
#include "options.h"
#include "strata/daemon.h"

static const struct st_route *const routes[] = { id_auth_routes, id_admin_routes, NULL };

static int identity_init(struct st_daemon *d, void **app)
{
    return ids_create(d, (struct id_service **)app);
}

static void identity_fini(struct st_daemon *d, void *app)
{
    (void)d;
    ids_destroy(app);
}

static const struct st_daemon_desc identity_desc = {
    .name = "identity",
    .default_port = 5000,
    .options = identity_options,
    .routes = routes,
    .needs_rados = true,
    .keystone_faults = true,
    .init = identity_init,
    .fini = identity_fini,
};

int main(int argc, char **argv)
{
    return st_daemon_main(&identity_desc, argc, argv);
}
