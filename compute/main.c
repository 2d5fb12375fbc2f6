/* main.c — strata-computed: the per-host compute agent (libvirt guests booted
 * from RBD).  The descriptor below is all there is: options, routes, life cycle. */
#include "api_servers.h"
#include "guest_service.h"
#include "options.h"
#include "strata/daemon.h"

static const struct st_route *const routes[] = { compute_api_routes, NULL };

static int computed_init(struct st_daemon *d, void **app)
{
    return gsvc_create(d, (struct guest_service **)app);
}

static void computed_fini(struct st_daemon *d, void *app)
{
    (void)d;
    gsvc_destroy(app);
}

static const struct st_daemon_desc computed_desc = {
    .name = "computed",
    .default_port = 8780,
    .options = compute_options,
    .routes = routes,
    .needs_rados = true,
    .init = computed_init,
    .fini = computed_fini,
};

int main(int argc, char **argv)
{
    return st_daemon_main(&computed_desc, argc, argv);
}
