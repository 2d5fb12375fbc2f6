/* main.c — strata-imaged: the image service (Glance v2-compatible) on RBD.
 * The descriptor below is all there is: options, routes, service life cycle. */
#include "api_images.h"
#include "image_service.h"
#include "options.h"
#include "strata/daemon.h"

static const struct st_route *const routes[] = { img_api_routes, NULL };

static int imaged_init(struct st_daemon *d, void **app)
{
    return img_service_create(d, (struct img_service **)app);
}

static void imaged_fini(struct st_daemon *d, void *app)
{
    (void)d;
    img_service_destroy(app);
}

static const struct st_daemon_desc imaged_desc = {
    .name = "imaged",
    .default_port = 9292,
    .options = imaged_options,
    .routes = routes,
    .needs_rados = true,
    .init = imaged_init,
    .fini = imaged_fini,
};

int main(int argc, char **argv)
{
    return st_daemon_main(&imaged_desc, argc, argv);
}
