/* cephkey.h — this agent's own cephx key, read the way librados found it
 * (the key option, or the keyring file(s)), for the libvirt ceph secret. */
#ifndef COMPUTE_CEPHKEY_H
#define COMPUTE_CEPHKEY_H

#include <rados/librados.h>
#include <stddef.h>

#define CEPHKEY_MAX 64

/* The raw (base64-decoded) key of client.<user>: 0, -ENOENT when no keyring
 * holds it, -EINVAL when it is not valid base64. */
int cephkey_read(rados_t cluster, const char *user, unsigned char *key, size_t *len);

/* Decode a base64 cephx key (pure; for tests): 0 or -EINVAL. */
int cephkey_decode(const char *b64, unsigned char *key, size_t *len);

#endif
