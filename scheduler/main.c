/* main.c — strata-scheduler: placement by storage locality and capacity, and
 * the compute API (Nova v2.1 subset) on port 8774.  The descriptor is all there is. */
#include "api_compute.h"
#include "options.h"
#include "srv_service.h"
#include "strata/daemon.h"

static const struct st_route *const routes[] = { compute_api_routes, NULL };

static int scheduler_init(struct st_daemon *d, void **app)
{
    return srv_create(d, (struct srv_service **)app);
}

static void scheduler_fini(struct st_daemon *d, void *app)
{
    (void)d;
    srv_destroy(app);
}

static const struct st_daemon_desc scheduler_desc = {
    .name = "scheduler",
    .default_port = 8774,
    .options = scheduler_options,
    .routes = routes,
    .needs_rados = true,
    .init = scheduler_init,
    .fini = scheduler_fini,
};

int main(int argc, char **argv)
{
    return st_daemon_main(&scheduler_desc, argc, argv);
}
