/* vol_rbdmeta.c — writes librbd image metadata: the image is opened for just
 * the call, each key that differs set or removed (an unchanged key is not
 * rewritten, so open clients are not told to refresh for nothing), and the
 * first failure reported. */
#include "vol_rbdmeta.h"

#include <errno.h>
#include <rbd/librbd.h>
#include <stdbool.h>
#include <string.h>

#include "strata/log.h"

int vrbd_metadata_apply(rados_ioctx_t ioctx, const char *name, const json_t *kv)
{
    rbd_image_t img;
    const char *k;
    json_t *v;
    int rc = rbd_open(ioctx, name, &img, NULL);

    if (rc < 0)
        return rc;
    json_object_foreach((json_t *)kv, k, v) {
        const char *val = json_string_value(v);
        char cur[64];
        size_t len = sizeof(cur);
        bool set = val && *val && strcmp(val, "0") != 0;
        int g = rbd_metadata_get(img, k, cur, &len);
        if (set ? g >= 0 && strcmp(cur, val) == 0 : g == -ENOENT)
            continue;   /* already so */
        int r = set ? rbd_metadata_set(img, k, val) : rbd_metadata_remove(img, k);
        if (r == -ENOENT && !(val && *val && strcmp(val, "0") != 0))
            r = 0;   /* nothing to remove */
        if (r < 0 && rc == 0) {
            st_error("RBD image %s: metadata %s: %s", name, k, strerror(-r));
            rc = r;
        }
    }
    rbd_close(img);
    return rc;
}
