/* domain_xml.h — the libvirt XML the agent writes (domains, RBD disks with
 * <iotune>, the ceph secret) and reads back (its <metadata>); pure, no libvirt calls. */
#ifndef COMPUTE_DOMAIN_XML_H
#define COMPUTE_DOMAIN_XML_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define DX_NS_URI "http://strata.dev/xmlns/compute/1"
#define DX_NS_PREFIX "strata"
#define DX_MSG_MAX 256

/* An RBD network disk.  Strings and JSON are borrowed. */
struct dx_disk {
    const char *name;         /* "pool/image" */
    const json_t *hosts;      /* array of monitor host strings */
    const json_t *ports;      /* array of port strings (same length) */
    const char *auth_user;    /* cephx id, NULL = no cephx */
    const char *secret_uuid;  /* libvirt secret of auth_user's key */
    const char *target;       /* "vda", "vdb", ... */
    const char *serial;       /* volume id, or NULL */
    const json_t *qos;        /* qos_specs (front-end) or NULL */
    int readonly;
};

/* A guest: what the domain definition is made from.  Borrowed. */
struct dx_guest {
    const char *id;           /* server id = domain uuid = SMBIOS uuid */
    const char *name;
    const char *project_id;
    const char *host;         /* the agent's host name (who owns the domain) */
    const char *cluster;      /* fsid of the Ceph cluster whose records own it */
    const char *flavor;       /* flavor name, may be NULL */
    int vcpus;
    int64_t ram_mb;
    const char *virt_type;    /* "kvm" or "qemu" */
    const char *console_path; /* serial console log file */
    struct dx_disk root;
    const struct dx_disk *volumes;
    size_t nvolumes;
};

/* The domain's name for a server id: "strata-<id>". */
void dx_domain_name(const char *id, char *buf, size_t len);

/* Check the <iotune> keys of a qos_specs object: known keys (libvirt's
 * total/read/write_bytes/iops_sec, *_max, *_max_length, size_iops_sec) with
 * non-negative integer values (numbers or decimal strings).  Unknown keys are
 * skipped like Nova does.  -EINVAL and msg on a bad value. */
int dx_qos_check(const json_t *qos, char *msg);

/* Fill d from a Cinder-style connection_info ({"driver_volume_type": "rbd",
 * "data": {...}}); d points into ci.  -EINVAL and msg when it is not usable. */
int dx_disk_from_connection_info(const json_t *ci, struct dx_disk *d, char *msg);

/* XML documents (malloc'd, NUL-terminated): 0 or -errno. */
int dx_domain_xml(const struct dx_guest *g, char **out);
int dx_disk_xml(const struct dx_disk *d, char **out);
int dx_secret_xml(const char *uuid, const char *user, char **out);

/* What the agent's <metadata> element says. */
struct dx_meta {
    char id[64];
    char host[256];
    char project_id[128];
    char cluster[64];         /* "" in domains written before it was recorded */
};
/* Parse the <strata:instance> element as returned by virDomainGetMetadata
 * (namespace stripped) or inside a whole domain XML: -EINVAL if incomplete. */
int dx_meta_parse(const char *xml, struct dx_meta *out);

/* Targets of the disks in a domain XML, in order ("vda", "vdb"): *out is a
 * JSON array of {"target", "name" (pool/image), "serial"}. */
int dx_disks_parse(const char *xml, json_t **out);

/* CPU model and arch of the host from libvirt's capabilities XML. */
int dx_caps_cpu(const char *caps, char *model, size_t mlen, char *arch, size_t alen);

/* The first virtio target not in `used` (array of strings): "vdb".. "vdz". */
int dx_next_target(const json_t *used, char *buf, size_t len);

#endif
