/* hvprobe.c — the KVM probe.  /dev/kvm existing proves nothing (nested
 * virtualisation can hang a guest or abort QEMU): a transient libvirt domain of
 * type kvm boots a one-sector program that writes a marker to COM1; KVM is
 * used only if the marker shows up within the timeout and no slower than the
 * same probe under TCG. */
#include "hvprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "strata/log.h"
#include "virt.h"

/* org 0x7c00: cli; cld; xor ax,ax; mov ds,ax; mov si,msg; mov dx,0x3f8;
 * next: lodsb; test al,al; jz done; out dx,al; jmp next; done: hlt; jmp done;
 * msg: "STRATA-KVM-OK\r\n\0" — then the 0x55aa boot signature. */
#define CODE 0xfa, 0xfc, 0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x17, 0x7c, 0xba, 0xf8, 0x03, \
             0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xf4, 0xeb, 0xfd
#define MSG 'S', 'T', 'R', 'A', 'T', 'A', '-', 'K', 'V', 'M', '-', 'O', 'K', '\r', '\n', 0
const unsigned char hv_probe_sector[512] = { CODE, MSG, [510] = 0x55, [511] = 0xaa };

static int write_file(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ssize_t n;

    if (fd < 0)
        return -errno;
    n = write(fd, buf, len);
    int rc = n == (ssize_t)len ? 0 : (n < 0 ? -errno : -EIO);
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

static bool file_has(const char *path, const char *needle)
{
    char buf[4096];
    FILE *f = fopen(path, "re");
    size_t n = 0;

    if (!f)
        return false;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Boot the probe sector as a transient domain of `type` ("kvm" or "qemu"):
 * *ms = time to the marker, or -1 when it did not start or print within
 * timeout_ms (why says what happened).  0 or -errno. */
static int run_probe(struct virt *v, const char *dir, const char *type, int64_t timeout_ms,
                     int64_t *ms, char *why, size_t wlen)
{
    char disk[512], log[512], name[64], *xml = NULL;
    int rc;

    *ms = -1;
    snprintf(disk, sizeof(disk), "%s/%s-probe.img", dir, type);
    snprintf(log, sizeof(log), "%s/%s-probe.log", dir, type);
    snprintf(name, sizeof(name), "strata-%s-probe-%d", type, (int)getpid());
    unlink(log);
    if ((rc = write_file(disk, hv_probe_sector, sizeof(hv_probe_sector))) < 0)
        return rc;
    if (asprintf(&xml,
                 "<domain type='%s'><name>%s</name><memory unit='MiB'>16</memory><vcpu>1</vcpu>"
                 "<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>%s"
                 "<devices><disk type='file' device='disk'><driver name='qemu' type='raw'/>"
                 "<source file='%s'/><target dev='hda' bus='ide'/></disk>"
                 "<serial type='file'><source path='%s'/><target port='0'/></serial>"
                 "<memballoon model='none'/></devices></domain>",
                 type, name, strcmp(type, "kvm") == 0 ? "<cpu mode='host-model'/>" : "", disk,
                 log) < 0)
        return -ENOMEM;
    int64_t start = mono_ms(), end = start + timeout_ms;
    rc = virt_create_transient(v, xml);
    free(xml);
    if (rc < 0) {
        snprintf(why, wlen, "libvirt could not start a %s guest: %s", type, virt_last_error());
        return 0;
    }
    for (;;) {   /* the marker counts only if seen before the deadline */
        int64_t now = mono_ms();
        if (file_has(log, HV_PROBE_MARKER)) {
            *ms = now - start;
            break;
        }
        if (now >= end)
            break;
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
    }
    virt_destroy_by_name(v, name);
    if (*ms < 0)
        snprintf(why, wlen, "a %s probe guest printed nothing in %lld ms", type,
                 (long long)timeout_ms);
    return 0;
}

/* 1 if KVM really runs guests, 0 if not (why says what happened), -errno.
 * Booting at all is not enough: nested virtualisation can run a boot sector
 * slowly (every exit emulated) and then stop a real kernel with a KVM
 * emulation failure.  KVM must print the marker, and no slower than TCG
 * does on the same machine (it is normally many times faster). */
static int probe_kvm(struct virt *v, const char *dir, int64_t timeout_ms, char *why, size_t wlen)
{
    int64_t kvm_ms, tcg_ms;
    char tcg_why[200] = "";
    int rc = run_probe(v, dir, "kvm", timeout_ms, &kvm_ms, why, wlen);

    if (rc < 0 || kvm_ms < 0)
        return rc < 0 ? rc : 0;
    if ((rc = run_probe(v, dir, "qemu", timeout_ms, &tcg_ms, tcg_why, sizeof(tcg_why))) < 0)
        return rc;
    if (tcg_ms >= 0 && kvm_ms > 2 * tcg_ms + 500) {
        snprintf(why, wlen, "a KVM probe guest needed %lld ms where TCG needed %lld ms "
                 "(nested virtualisation emulating every exit?)", (long long)kvm_ms,
                 (long long)tcg_ms);
        return 0;
    }
    snprintf(why, wlen, "a KVM probe guest printed its marker in %lld ms (TCG: %lld ms)",
             (long long)kvm_ms, (long long)tcg_ms);
    return 1;
}

/* The cache key: this boot of the machine (boot_id). */
static void boot_id(char *buf, size_t len)
{
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

    buf[0] = '\0';
    if (f) {
        if (!fgets(buf, (int)len, f))
            buf[0] = '\0';
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
}

int hv_choose(struct virt *v, const char *mode, const char *dir, int64_t timeout_ms,
              char *type, size_t tlen, char *why, size_t wlen)
{
    char cache[512], key[128], line[600];
    FILE *f;
    int ok;

    if (strcmp(mode, "auto") != 0) {
        snprintf(type, tlen, "%s", mode);
        snprintf(why, wlen, "configured ([computed] hypervisor = %s)", mode);
        return 0;
    }
    boot_id(key, sizeof(key));
    snprintf(cache, sizeof(cache), "%s/kvm-probe.verdict", dir);
    if (key[0] && (f = fopen(cache, "re"))) {   /* "<boot id> <kvm|qemu> <why>" */
        char k[128] = "", t[16] = "";
        int n = 0;
        if (fgets(line, sizeof(line), f) && sscanf(line, "%127s %15s %n", k, t, &n) == 2 &&
            strcmp(k, key) == 0 && (strcmp(t, "kvm") == 0 || strcmp(t, "qemu") == 0)) {
            fclose(f);
            line[strcspn(line, "\n")] = '\0';
            snprintf(type, tlen, "%s", t);
            snprintf(why, wlen, "%s (probed earlier in this boot)", line + n);
            return 0;
        }
        fclose(f);
    }
    ok = probe_kvm(v, dir, timeout_ms, why, wlen);
    if (ok < 0)
        return ok;
    snprintf(type, tlen, "%s", ok ? "kvm" : "qemu");
    if (key[0] && (f = fopen(cache, "we"))) {
        fprintf(f, "%s %s %s\n", key, type, why);
        fclose(f);
    }
    return 0;
}
