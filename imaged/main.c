/* main.c — strata-imaged: the image service (Glance v2-compatible) on RBD.
 * The descriptor below is all there is: options, routes, service life cycle. */
#include "api_images.h"
#include "image_service.h"
#include "strata/daemon.h"

#define SEC 1000LL
#define MIB (1024LL * 1024)
#define GIB (1024 * MIB)

static const struct st_opt imaged_options[] = {
    { "imaged", "show_direct_url", ST_OPT_BOOL, "true", false, 0, 0, NULL,
      "Show direct_url/locations (rbd://fsid/pool/image/snap) so Cinder and Nova can clone" },
    { "imaged", "staging_dir", ST_OPT_STR, "/var/lib/strata/staging", false, 0, 0, NULL,
      "Local directory for data that must be converted or is staged for import" },
    { "imaged", "max_image_size", ST_OPT_SIZE, "1T", false, 1 * MIB, 1LL << 50, NULL,
      "Largest image upload accepted (bytes, K/M/G/T)" },
    { "imaged", "max_virtual_size", ST_OPT_SIZE, "1T", false, 1 * MIB, 1LL << 50, NULL,
      "Largest virtual size of an uploaded disk image" },
    { "imaged", "upload_block_size", ST_OPT_SIZE, "4M", false, 64 * 1024, 64 * MIB, NULL,
      "Bytes per RBD write of an upload" },
    { "imaged", "upload_inflight", ST_OPT_INT, "8", false, 1, 64, NULL,
      "RBD writes in flight per upload" },
    { "imaged", "workers", ST_OPT_INT, "4", false, 1, 64, NULL,
      "Background workers (imports)" },
    { "imaged", "convert_timeout", ST_OPT_DURATION, "1h", false, 10 * SEC, 24 * 3600 * SEC, NULL,
      "Longest qemu-img conversion" },
    { "imaged", "reconcile_interval", ST_OPT_DURATION, "60s", false, 1 * SEC, 3600 * SEC, NULL,
      "How often interrupted uploads, deferred deletes and orphans are reconciled" },
    ST_OPT_END,
};

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
