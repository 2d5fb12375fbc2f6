/* options.c — the [computed] options: one row per directive (type, default,
 * bounds, help); validated at start and documented in etc/strata.conf.sample. */
#include "options.h"

#define SEC 1000LL

static const char *const hypervisors[] = { "auto", "kvm", "qemu", NULL };
static const char *const deleted_actions[] = { "log", "reap", NULL };

const struct st_opt compute_options[] = {
    { "computed", "host", ST_OPT_STR, "", false, 0, 0, NULL,
      "Name this agent registers its host under (empty = [node] name, then the hostname)" },
    { "computed", "hypervisor", ST_OPT_ENUM, "auto", false, 0, 0, hypervisors,
      "auto probes whether KVM really runs a guest and falls back to qemu (TCG)" },
    { "computed", "kvm_probe_timeout", ST_OPT_DURATION, "10s", false, 1 * SEC, 120 * SEC, NULL,
      "How long the KVM probe guest may take to print its marker" },
    { "computed", "libvirt_uri", ST_OPT_STR, "qemu:///system", false, 0, 0, NULL,
      "libvirt connection URI" },
    { "computed", "libvirt_timeout", ST_OPT_DURATION, "20s", false, 4 * SEC, 600 * SEC, NULL,
      "libvirtd silent this long (keepalive too) fails its calls; the agent reconnects" },
    { "computed", "state_dir", ST_OPT_STR, "/var/lib/strata/compute", false, 0, 0, NULL,
      "Directory of console logs and the KVM probe's files" },
    { "computed", "vcpus", ST_OPT_INT, "0", false, 0, 4096, NULL,
      "vCPUs offered (0 = the host's CPU count)" },
    { "computed", "ram_mb", ST_OPT_INT, "0", false, 0, 1LL << 32, NULL,
      "RAM offered in MiB (0 = the host's memory)" },
    { "computed", "disk_gb", ST_OPT_INT, "0", false, 0, 1LL << 32, NULL,
      "Local disk offered in GiB (0 = free space of state_dir's file system)" },
    { "computed", "availability_zone", ST_OPT_STR, "", false, 0, 0, NULL,
      "Availability zone of this host (empty = [node] zone)" },
    { "computed", "location", ST_OPT_STR, "", false, 0, 0, NULL,
      "Ceph failure-domain location, e.g. \"zone=z1 rack=r1 host=h1\" (empty = host=<host>)" },
    { "computed", "heartbeat_interval", ST_OPT_DURATION, "5s", false, 1 * SEC, 300 * SEC, NULL,
      "How often the host record's heartbeat is written" },
    { "computed", "reconcile_interval", ST_OPT_DURATION, "20s", false, 1 * SEC, 3600 * SEC, NULL,
      "How often guests and libvirt domains are compared and power states recorded" },
    { "computed", "shutdown_timeout", ST_OPT_DURATION, "15s", false, 0, 600 * SEC, NULL,
      "How long a soft stop/reboot waits for the guest before powering it off" },
    { "computed", "resume_guests_state_on_host_boot", ST_OPT_BOOL, "true", false, 0, 0, NULL,
      "At start, boot guests whose record says running but whose domain is not" },
    { "computed", "running_deleted_instance_action", ST_OPT_ENUM, "log", false, 0, 0,
      deleted_actions, "What to do with Strata domains of this host that no record owns" },
    { "computed", "image_url", ST_OPT_STR, "http://127.0.0.1:9292", false, 0, 0, NULL,
      "strata-imaged endpoint (clones of images into the vms pool)" },
    { "computed", "rbd_secret_uuid", ST_OPT_STR, "5b1e6c2a-3f0d-4d8e-9a77-2c4f8e1d0b51", false, 0,
      0, NULL, "uuid of the libvirt secret holding this agent's cephx key (same as blockd's)" },
    { "computed", "workers", ST_OPT_INT, "4", false, 1, 64, NULL,
      "Background workers (spawn, power actions, delete)" },
    ST_OPT_END,
};
