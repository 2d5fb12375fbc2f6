/* virt.c — libvirt calls for the agent.  Every call takes a reference on the
 * shared connection (reopened after libvirtd restarts), looks the domain up by
 * uuid (= server id) and maps libvirt errors to -errno. */
#include "virt.h"

#include "strata/qos.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "domain_xml.h"
#include "strata/log.h"

struct virt {
    pthread_mutex_t call; /* one libvirt call at a time: see conn_get */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char uri[256];
    virConnectPtr conn;
    int ka_interval, ka_count; /* keepalive: dead after interval x (count + 1) s */
    bool want;                 /* the connector should (re)open */
    bool stop;
    bool connector_up, events_up;
    bool failed_logged;
    pthread_t connector, events;
    int wake_timer; /* keeps the event loop checking `stop` */
};

/* Why the last call of this thread failed before reaching libvirt. */
static __thread char local_error[320];

static void quiet_errors(void *data, virErrorPtr err)
{
    (void)data;
    (void)err;   /* callers log what matters, with context */
}

const char *virt_last_error(void)
{
    const char *m;

    if (local_error[0])
        return local_error;
    m = virGetLastErrorMessage();
    return m ? m : "";
}

static int last_errno(void)
{
    virErrorPtr e = virGetLastError();

    if (!e)
        return -EIO;
    switch (e->code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_SECRET:
        return -ENOENT;
    case VIR_ERR_OPERATION_INVALID:
        return -EINVAL;
    case VIR_ERR_OPERATION_TIMEOUT:
        return -ETIMEDOUT;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
    case VIR_ERR_INVALID_CONN:
        return -ECONNREFUSED;
    default:
        /* a call cut off by keepalive fails on a connection now closed */
        return e->domain == VIR_FROM_RPC ? -ECONNREFUSED : -EIO;
    }
}

/* -errno of the call that just failed, its message kept for virt_last_error
 * (the cleanup calls that follow reset libvirt's own). */
static int call_failed(void)
{
    int rc = last_errno();
    const char *m = virGetLastErrorMessage();

    snprintf(local_error, sizeof(local_error), "%s", m ? m : "unknown libvirt error");
    return rc;
}

/* libvirt's own event loop, so keepalive runs and answers. */
static void wake(int timer, void *opaque)
{
    (void)timer;
    (void)opaque;
}

static void *event_loop(void *arg)
{
    struct virt *v = arg;

    while (!__atomic_load_n(&v->stop, __ATOMIC_ACQUIRE))
        if (virEventRunDefaultImpl() < 0)
            st_warn("libvirt event loop: %s", virt_last_error());
    return NULL;
}

static pthread_once_t events_once = PTHREAD_ONCE_INIT;
static int events_rc;

static void register_events(void)
{
    events_rc = virEventRegisterDefaultImpl() < 0 ? -EIO : 0;
}

/* One open, outside the lock: a stopped libvirtd holds it until it resumes,
 * which is why no caller ever waits for it. */
static virConnectPtr open_conn(struct virt *v)
{
    virConnectPtr c = virConnectOpen(v->uri);

    if (c && virConnectSetKeepAlive(c, v->ka_interval, v->ka_count) < 0)
        st_warn("libvirt %s: keepalive not set: %s", v->uri, virt_last_error());
    return c;
}

/* The connector: opens the connection whenever it is missing, retrying
 * each second while libvirtd is down. */
static void *connector(void *arg)
{
    struct virt *v = arg;

    pthread_mutex_lock(&v->lock);
    while (!v->stop) {
        if (!v->want) {
            pthread_cond_wait(&v->cond, &v->lock);
            continue;
        }
        pthread_mutex_unlock(&v->lock);
        virConnectPtr c = open_conn(v);
        pthread_mutex_lock(&v->lock);
        if (c) {
            if (v->conn)
                virConnectClose(v->conn);
            v->conn = c;
            v->want = false;
            v->failed_logged = false;
            st_info("libvirt %s connected (keepalive %d s x %d)", v->uri, v->ka_interval,
                    v->ka_count);
            pthread_cond_broadcast(&v->cond);
            continue;
        }
        if (!v->failed_logged)
            st_warn("libvirt %s: %s (retrying each second)", v->uri, virt_last_error());
        v->failed_logged = true;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&v->cond, &v->lock, &until);
    }
    pthread_mutex_unlock(&v->lock);
    return NULL;
}

int virt_open(const char *uri, int64_t timeout_ms, struct virt **out)
{
    struct virt *v = calloc(1, sizeof(*v));
    struct timespec until;
    int rc = 0;

    if (!v)
        return -ENOMEM;
    virSetErrorFunc(NULL, quiet_errors);
    pthread_once(&events_once, register_events);
    pthread_mutex_init(&v->call, NULL);
    pthread_mutex_init(&v->lock, NULL);
    pthread_cond_init(&v->cond, NULL);
    snprintf(v->uri, sizeof(v->uri), "%s", uri);
    v->ka_count = 3;
    v->ka_interval = (int)(timeout_ms / 1000 / (v->ka_count + 1));
    if (v->ka_interval < 1)
        v->ka_interval = 1;
    v->want = true;
    v->wake_timer = events_rc == 0 ? virEventAddTimeout(500, wake, NULL, NULL) : -1;
    if (events_rc < 0 || v->wake_timer < 0) {
        st_error("libvirt: cannot register the event loop: %s", virt_last_error());
        rc = -EIO;
    } else if (pthread_create(&v->events, NULL, event_loop, v) != 0) {
        rc = -EAGAIN;
    } else {
        v->events_up = true;
        if (pthread_create(&v->connector, NULL, connector, v) != 0)
            rc = -EAGAIN;
        else
            v->connector_up = true;
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    pthread_mutex_lock(&v->lock);
    while (rc == 0 && !v->conn)
        if (pthread_cond_timedwait(&v->cond, &v->lock, &until) == ETIMEDOUT)
            rc = -ETIMEDOUT;
    pthread_mutex_unlock(&v->lock);
    if (rc < 0) {
        st_error("libvirt %s: no connection within %lld ms: %s", uri, (long long)timeout_ms,
                 virt_last_error());
        virt_close(v);
        return rc == -ETIMEDOUT ? -ECONNREFUSED : rc;
    }
    *out = v;
    return 0;
}

void virt_close(struct virt *v)
{
    struct timespec until;

    if (!v)
        return;
    pthread_mutex_lock(&v->lock);
    __atomic_store_n(&v->stop, true, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&v->cond);
    pthread_mutex_unlock(&v->lock);
    if (v->connector_up) {
        /* it may be inside an open that a stopped libvirtd never answers */
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += v->ka_interval * (v->ka_count + 1) + 1;
        if (pthread_timedjoin_np(v->connector, NULL, &until) != 0) {
            st_warn("libvirt %s: an open is still waiting for libvirtd; left behind", v->uri);
            return; /* the thread still uses v: it is not freed */
        }
    }
    if (v->events_up)
        pthread_join(v->events, NULL);
    if (v->wake_timer >= 0)
        virEventRemoveTimeout(v->wake_timer);
    if (v->conn)
        virConnectClose(v->conn);
    pthread_cond_destroy(&v->cond);
    pthread_mutex_destroy(&v->lock);
    pthread_mutex_destroy(&v->call);
    free(v);
}

/* The connection, referenced and with the call slot held (conn_put both), or
 * NULL at once while there is none: the connector reopens it meanwhile.
 *
 * Calls are made one at a time.  libvirt's keepalive fails the call of the
 * thread driving the connection's I/O when libvirtd stops answering, but in
 * libvirt 9 the calls queued behind it stay blocked until libvirtd resumes.
 * With one call at a time, every call is the one keepalive ends, and a call
 * that waits for the slot longer than the deadline fails. */
static virConnectPtr conn_get(struct virt *v)
{
    virConnectPtr c = NULL;
    int deadline = v->ka_interval * (v->ka_count + 1);
    struct timespec until;

    local_error[0] = '\0';
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += deadline;
    if (pthread_mutex_timedlock(&v->call, &until) != 0) {
        snprintf(local_error, sizeof(local_error),
                 "libvirt at %s did not finish the previous call within %d s", v->uri, deadline);
        return NULL;
    }
    pthread_mutex_lock(&v->lock);
    if (v->conn && virConnectIsAlive(v->conn) != 1) {
        st_warn("libvirt connection to %s lost (closed, or no keepalive answer within %d s): "
                "reconnecting",
                v->uri, deadline);
        virConnectClose(v->conn);
        v->conn = NULL;
    }
    if (!v->conn && !v->want) {
        v->want = true;
        pthread_cond_broadcast(&v->cond);
    }
    if (v->conn && virConnectRef(v->conn) == 0)
        c = v->conn;
    pthread_mutex_unlock(&v->lock);
    if (!c) {
        pthread_mutex_unlock(&v->call);
        snprintf(local_error, sizeof(local_error),
                 "libvirt at %s is unreachable (no answer within %d s, or down): reconnecting",
                 v->uri, deadline);
    }
    return c;
}

static void conn_put(struct virt *v, virConnectPtr c)
{
    virConnectClose(c);
    pthread_mutex_unlock(&v->call);
}

/* Look a domain up: 0 and *d (virDomainFree it), -ENOENT, or another -errno. */
static int dom_get(struct virt *v, const char *id, virConnectPtr *c, virDomainPtr *d)
{
    *d = NULL;
    *c = conn_get(v);
    if (!*c)
        return -ECONNREFUSED;
    *d = virDomainLookupByUUIDString(*c, id);
    if (!*d) {
        int rc = call_failed();
        conn_put(v, *c);
        *c = NULL;
        return rc;
    }
    return 0;
}

static void dom_put(struct virt *v, virConnectPtr c, virDomainPtr d)
{
    if (d)
        virDomainFree(d);
    if (c)
        conn_put(v, c);
}

/* Run fn on the connection and return its -errno; -ECONNREFUSED at once
 * while there is none. */
static int with_conn(struct virt *v, int (*fn)(virConnectPtr c, const void *arg), const void *arg)
{
    virConnectPtr c = conn_get(v);
    int rc;

    if (!c)
        return -ECONNREFUSED;
    rc = fn(c, arg);
    conn_put(v, c);
    return rc;
}

/* Free a domain a call returned: 0, or the call's -errno when it returned none. */
static int dom_done(virDomainPtr d)
{
    if (!d)
        return call_failed();
    virDomainFree(d);
    return 0;
}

static int do_define(virConnectPtr c, const void *xml)
{
    int rc = dom_done(virDomainDefineXML(c, xml));

    if (rc < 0)
        st_error("libvirt define: %s", virt_last_error());
    return rc;
}

int virt_define(struct virt *v, const char *xml)
{
    return with_conn(v, do_define, xml);
}

static bool is_active(virDomainPtr d)
{
    return virDomainIsActive(d) == 1;
}

/* Run fn on the domain of server `id`: fn returns -1 when a libvirt call
 * failed (logged here with `what`), 0 otherwise.  A missing domain is
 * -ENOENT, or success when missing_ok. */
typedef int (*dom_fn)(virDomainPtr d, const void *arg);

static int with_domain(struct virt *v, const char *id, bool missing_ok, const char *what,
                       dom_fn fn, const void *arg)
{
    virConnectPtr c;
    virDomainPtr d;
    int rc = dom_get(v, id, &c, &d);

    if (rc == -ENOENT && missing_ok)
        return 0;
    if (rc < 0)
        return rc;
    if (fn(d, arg) < 0) {
        rc = call_failed();
        st_error("server %s: libvirt %s: %s", id, what, virt_last_error());
    }
    dom_put(v, c, d);
    return rc;
}

static int do_start(virDomainPtr d, const void *arg)
{
    (void)arg;
    return !is_active(d) && virDomainCreate(d) < 0 && !is_active(d) ? -1 : 0;
}

static int do_destroy(virDomainPtr d, const void *arg)
{
    (void)arg;
    return is_active(d) && virDomainDestroy(d) < 0 && is_active(d) ? -1 : 0;
}

static int do_undefine(virDomainPtr d, const void *arg)
{
    (void)arg;
    return virDomainIsPersistent(d) == 1 && virDomainUndefineFlags(d, 0) < 0 ? -1 : 0;
}

int virt_start(struct virt *v, const char *id)
{
    return with_domain(v, id, false, "start", do_start, NULL);
}

int virt_destroy(struct virt *v, const char *id)
{
    return with_domain(v, id, true, "destroy", do_destroy, NULL);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Wait between two calls of one operation without holding the call slot. */
static void pause_ms(struct virt *v, int64_t ms)
{
    pthread_mutex_unlock(&v->call);
    sleep_ms(ms);
    pthread_mutex_lock(&v->call);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int virt_shutdown(struct virt *v, const char *id, int64_t timeout_ms)
{
    virConnectPtr c;
    virDomainPtr d;
    int rc = dom_get(v, id, &c, &d);

    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    if (is_active(d) && timeout_ms > 0 && virDomainShutdown(d) == 0) {
        int64_t end = mono_ms() + timeout_ms;
        while (is_active(d) && mono_ms() < end)
            pause_ms(v, 200);
    }
    if (is_active(d)) {
        if (timeout_ms > 0)
            st_info("server %s: no ACPI shutdown within %lld ms: powering off", id,
                    (long long)timeout_ms);
        if (virDomainDestroy(d) < 0 && is_active(d))
            rc = call_failed();
    }
    dom_put(v, c, d);
    return rc;
}

int virt_undefine(struct virt *v, const char *id)
{
    return with_domain(v, id, true, "undefine", do_undefine, NULL);
}

static const char *state_name(int st)
{
    switch (st) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
        return "running";
    case VIR_DOMAIN_PAUSED:
        return "paused";
    case VIR_DOMAIN_SHUTDOWN:
        return "shutdown";
    case VIR_DOMAIN_SHUTOFF:
        return "shutoff";
    case VIR_DOMAIN_CRASHED:
        return "crashed";
    case VIR_DOMAIN_PMSUSPENDED:
        return "pmsuspended";
    default:
        return "nostate";
    }
}

static const char *dom_state(virDomainPtr d)
{
    int st = 0, reason = 0;

    return virDomainGetState(d, &st, &reason, 0) < 0 ? "nostate" : state_name(st);
}

int virt_power_state(struct virt *v, const char *id, const char **state)
{
    virConnectPtr c;
    virDomainPtr d;
    int rc = dom_get(v, id, &c, &d);

    if (rc < 0)
        return rc;
    *state = dom_state(d);
    dom_put(v, c, d);
    return 0;
}

int virt_xml(struct virt *v, const char *id, bool inactive, char **out)
{
    virConnectPtr c;
    virDomainPtr d;
    int rc = dom_get(v, id, &c, &d);

    if (rc < 0)
        return rc;
    *out = virDomainGetXMLDesc(d, inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
    if (!*out)
        rc = call_failed();
    dom_put(v, c, d);
    return rc;
}

static unsigned live_flags(virDomainPtr d)
{
    return VIR_DOMAIN_AFFECT_CONFIG | (is_active(d) ? VIR_DOMAIN_AFFECT_LIVE : 0);
}

static int do_attach(virDomainPtr d, const void *xml)
{
    return virDomainAttachDeviceFlags(d, xml, live_flags(d));
}

int virt_attach_disk(struct virt *v, const char *id, const char *disk_xml)
{
    return with_domain(v, id, false, "attach", do_attach, disk_xml);
}

/* The <disk> element of `target` in the domain's XML, as its own document. */
static int disk_element(virDomainPtr d, unsigned flags, const char *target, char **out)
{
    char *xml = virDomainGetXMLDesc(d, flags);
    json_t *disks = NULL;
    int rc;

    *out = NULL;
    if (!xml)
        return call_failed();
    rc = dx_disks_parse(xml, &disks);
    free(xml);
    if (rc < 0)
        return rc;
    size_t i;
    json_t *disk;
    rc = 0;
    json_array_foreach(disks, i, disk) {
        if (strcmp(json_string_value(json_object_get(disk, "target")), target) == 0) {
            /* libvirt finds the device to remove by its target */
            if (asprintf(out, "<disk type='network' device='disk'><target dev='%s' bus='virtio'/>"
                              "</disk>", target) < 0)
                rc = -ENOMEM;
            break;
        }
    }
    json_decref(disks);
    return rc;
}

int virt_detach_disk(struct virt *v, const char *id, const char *target, int64_t timeout_ms)
{
    virConnectPtr c;
    virDomainPtr d;
    char *el = NULL;
    int rc = dom_get(v, id, &c, &d);

    if (rc < 0)
        return rc;
    if (is_active(d) && (rc = disk_element(d, 0, target, &el)) == 0 && el) {
        if (virDomainDetachDeviceFlags(d, el, VIR_DOMAIN_AFFECT_LIVE) < 0) {
            rc = call_failed();
            st_error("server %s: libvirt detach %s: %s", id, target, virt_last_error());
        }
        int64_t end = mono_ms() + timeout_ms;
        while (rc == 0) {   /* the guest acknowledges the unplug asynchronously */
            free(el);
            el = NULL;
            if ((rc = disk_element(d, 0, target, &el)) < 0 || !el || !is_active(d))
                break;
            if (mono_ms() >= end) {
                rc = -ETIMEDOUT;
                break;
            }
            pause_ms(v, 200);
        }
    }
    free(el);
    el = NULL;
    if (rc == 0 && (rc = disk_element(d, VIR_DOMAIN_XML_INACTIVE, target, &el)) == 0 && el &&
        virDomainDetachDeviceFlags(d, el, VIR_DOMAIN_AFFECT_CONFIG) < 0) {
        rc = call_failed();
        st_error("server %s: libvirt detach %s (config): %s", id, target, virt_last_error());
    }
    free(el);
    dom_put(v, c, d);
    return rc;
}

struct iotune_params {
    virTypedParameterPtr params;
    int n, max;
};

static int iotune_param(const char *name, uint64_t value, void *arg)
{
    struct iotune_params *t = arg;

    return virTypedParamsAddULLong(&t->params, &t->n, &t->max, name, value) < 0 ? -ENOMEM : 0;
}

int virt_set_iotune(struct virt *v, const char *id, const char *target, const json_t *qos)
{
    virConnectPtr c;
    virDomainPtr d;
    struct iotune_params t = { NULL, 0, 0 };
    struct qos_policy p;
    char msg[QOS_MSG_MAX];
    int rc = qos_policy_parse(qos, true, &p, msg, sizeof(msg));

    if (rc < 0) {
        st_error("server %s: iotune %s: %s", id, target, msg);
        return rc;
    }
    if ((rc = dom_get(v, id, &c, &d)) < 0)
        return rc;
    /* every parameter: the ones the policy no longer sets go back to 0 */
    rc = qos_iotune_foreach(&p, true, iotune_param, &t);
    if (rc == 0 && virDomainSetBlockIoTune(d, target, t.params, t.n, live_flags(d)) < 0) {
        rc = call_failed();
        st_error("server %s: libvirt iotune %s: %s", id, target, virt_last_error());
    }
    virTypedParamsFree(t.params, t.n);
    dom_put(v, c, d);
    return rc;
}

struct resize {
    const char *target;
    uint64_t bytes;
};

static int do_resize(virDomainPtr d, const void *arg)
{
    const struct resize *r = arg;

    return is_active(d) ? virDomainBlockResize(d, r->target, r->bytes,
                                               VIR_DOMAIN_BLOCK_RESIZE_BYTES)
                        : 0;
}

int virt_resize_disk(struct virt *v, const char *id, const char *target, uint64_t bytes)
{
    struct resize r = { target, bytes };

    return with_domain(v, id, false, "block resize", do_resize, &r);
}

int virt_list(struct virt *v, json_t **out)
{
    virConnectPtr c = conn_get(v);
    virDomainPtr *doms = NULL;
    json_t *list;
    int n;

    if (!c)
        return -ECONNREFUSED;
    n = virConnectListAllDomains(c, &doms, 0);
    if (n < 0) {
        int rc = call_failed();
        conn_put(v, c);
        return rc;
    }
    list = json_array();
    for (int i = 0; i < n; i++) {
        char *meta = virDomainGetMetadata(doms[i], VIR_DOMAIN_METADATA_ELEMENT, DX_NS_URI, 0);
        struct dx_meta m;
        if (meta && dx_meta_parse(meta, &m) == 0)
            json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", m.id,
                                                  "host", m.host, "project_id", m.project_id,
                                                  "cluster", m.cluster, "power_state",
                                                  dom_state(doms[i])));
        free(meta);
        virDomainFree(doms[i]);
    }
    free(doms);
    conn_put(v, c);
    *out = list;
    return list ? 0 : -ENOMEM;
}

bool virt_secret_exists(struct virt *v, const char *uuid)
{
    virConnectPtr c = conn_get(v);
    virSecretPtr s = c ? virSecretLookupByUUIDString(c, uuid) : NULL;

    if (s)
        virSecretFree(s);
    if (c)
        conn_put(v, c);
    return s != NULL;
}

int virt_secret_ensure(struct virt *v, const char *uuid, const char *user,
                       const unsigned char *key, size_t keylen)
{
    virConnectPtr c = conn_get(v);
    virSecretPtr s;
    char *xml = NULL;
    int rc;

    if (!c)
        return -ECONNREFUSED;
    s = virSecretLookupByUUIDString(c, uuid);
    if (!s) {
        if ((rc = dx_secret_xml(uuid, user, &xml)) < 0)
            goto out;
        s = virSecretDefineXML(c, xml, 0);
        if (!s) {
            rc = call_failed();
            st_error("libvirt secret %s: %s", uuid, virt_last_error());
            goto out;
        }
        st_info("libvirt secret %s defined for client.%s", uuid, user);
    }
    rc = virSecretSetValue(s, key, keylen, 0) < 0 ? call_failed() : 0;
    if (rc < 0)
        st_error("libvirt secret %s: cannot set its value: %s", uuid, virt_last_error());
out:
    if (s)
        virSecretFree(s);
    free(xml);
    conn_put(v, c);
    return rc;
}

/* Does any domain (running or defined) of this libvirtd name the secret? */
static bool secret_used(virConnectPtr c, const char *uuid)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(c, &doms, 0);
    bool used = n < 0;   /* cannot tell: keep it */

    for (int i = 0; i < n; i++) {
        for (unsigned f = 0; f < 2 && !used; f++) {
            char *xml = virDomainGetXMLDesc(doms[i], f ? VIR_DOMAIN_XML_INACTIVE : 0);
            used = xml && strstr(xml, uuid);
            free(xml);
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    return used;
}

static int do_secret_release(virConnectPtr c, const void *uuid)
{
    virSecretPtr s = virSecretLookupByUUIDString(c, uuid);
    int rc = 0;

    if (s && !secret_used(c, uuid)) {
        if (virSecretUndefine(s) < 0)
            rc = call_failed();
        else
            st_info("libvirt secret %s removed: no domain uses it", (const char *)uuid);
    }
    if (s)
        virSecretFree(s);
    return rc;
}

int virt_secret_release(struct virt *v, const char *uuid)
{
    return with_conn(v, do_secret_release, uuid);
}

struct host_cpu {
    char *model, *arch;
    size_t mlen, alen;
};

static int do_host_cpu(virConnectPtr c, const void *arg)
{
    const struct host_cpu *h = arg;
    char *caps = virConnectGetCapabilities(c);
    int rc = caps ? dx_caps_cpu(caps, h->model, h->mlen, h->arch, h->alen) : call_failed();

    free(caps);
    return rc;
}

int virt_host_cpu(struct virt *v, char *model, size_t mlen, char *arch, size_t alen)
{
    struct host_cpu h = {model, arch, mlen, alen};

    return with_conn(v, do_host_cpu, &h);
}

static int do_create_transient(virConnectPtr c, const void *xml)
{
    return dom_done(virDomainCreateXML(c, xml, 0));
}

int virt_create_transient(struct virt *v, const char *xml)
{
    return with_conn(v, do_create_transient, xml);
}

static int do_destroy_by_name(virConnectPtr c, const void *name)
{
    virDomainPtr d = virDomainLookupByName(c, name);

    if (d) {
        virDomainDestroy(d);
        virDomainFree(d);
    }
    return 0;
}

int virt_destroy_by_name(struct virt *v, const char *name)
{
    return with_conn(v, do_destroy_by_name, name);
}
