/* vol_rbdmeta.c — writes librbd image metadata: the image is opened for just
 * the call, each key set or removed, and the first failure reported. */
#include "vol_rbdmeta.h"

#include <errno.h>
#include <rbd/librbd.h>
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
        int r = val && *val && strcmp(val, "0") != 0 ? rbd_metadata_set(img, k, val)
                                                     : rbd_metadata_remove(img, k);
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
