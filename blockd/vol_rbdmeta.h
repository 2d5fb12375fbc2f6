/* vol_rbdmeta.h — librbd image metadata for blockd (I/O only): per-image
 * settings such as the conf_rbd_qos_* limits librbd applies to every opener. */
#ifndef BLOCKD_VOL_RBDMETA_H
#define BLOCKD_VOL_RBDMETA_H

#include <jansson.h>
#include <rados/librados.h>

/* Apply kv (object of strings) to image `name`: "0" or "" removes the key
 * (no limit), anything else sets it.  0, -ENOENT (no image) or -errno. */
int vrbd_metadata_apply(rados_ioctx_t ioctx, const char *name, const json_t *kv);

#endif
