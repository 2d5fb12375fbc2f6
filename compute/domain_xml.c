/* domain_xml.c — libvirt XML for guests, RBD disks and the ceph secret, written
 * with libxml2's text writer (escaping is its job) and read back with XPath. */
#include "domain_xml.h"

#include "strata/qos.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlwriter.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#define X(s) ((const xmlChar *)(s))

void dx_domain_name(const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "strata-%s", id);
}

int dx_qos_check(const json_t *qos, char *msg)
{
    struct qos_policy p;

    if (!qos || json_is_null(qos))
        return 0;
    /* lenient: a connection_info from elsewhere may carry keys libvirt lacks */
    return qos_policy_parse(qos, true, &p, msg, DX_MSG_MAX);
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool string_array(const json_t *a)
{
    size_t i;
    const json_t *v;

    if (!json_is_array(a))
        return false;
    json_array_foreach(a, i, v)
        if (!json_is_string(v))
            return false;
    return true;
}

int dx_disk_from_connection_info(const json_t *ci, struct dx_disk *d, char *msg)
{
    const json_t *data = json_object_get(ci, "data");
    const char *type = jstr(ci, "driver_volume_type");

    memset(d, 0, sizeof(*d));
    if (!json_is_object(ci) || !json_is_object(data)) {
        snprintf(msg, DX_MSG_MAX, "connection_info must be an object with a data object");
        return -EINVAL;
    }
    if (!type || strcmp(type, "rbd") != 0) {
        snprintf(msg, DX_MSG_MAX, "connection_info driver_volume_type must be \"rbd\"");
        return -EINVAL;
    }
    d->name = jstr(data, "name");
    if (!d->name || !strchr(d->name, '/') || strchr(d->name, '@')) {
        snprintf(msg, DX_MSG_MAX, "connection_info data.name must be \"pool/image\"");
        return -EINVAL;
    }
    d->hosts = json_object_get(data, "hosts");
    d->ports = json_object_get(data, "ports");
    if (!string_array(d->hosts) || !string_array(d->ports) || json_array_size(d->hosts) == 0 ||
        json_array_size(d->hosts) != json_array_size(d->ports)) {
        snprintf(msg, DX_MSG_MAX,
                 "connection_info data.hosts and data.ports must be equal-length string arrays");
        return -EINVAL;
    }
    if (json_is_true(json_object_get(data, "auth_enabled"))) {
        d->auth_user = jstr(data, "auth_username");
        d->secret_uuid = jstr(data, "secret_uuid");
        if (!d->auth_user || !d->secret_uuid) {
            snprintf(msg, DX_MSG_MAX,
                     "connection_info with auth_enabled needs auth_username and secret_uuid");
            return -EINVAL;
        }
    }
    d->serial = jstr(data, "volume_id");
    d->qos = json_object_get(data, "qos_specs");
    if (d->qos && json_is_null(d->qos))
        d->qos = NULL;
    const char *mode = jstr(data, "access_mode");
    d->readonly = mode && strcmp(mode, "ro") == 0;
    return dx_qos_check(d->qos, msg);
}

/* ---- writing ---- */

struct xw {
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    int rc;
};

static int xw_open(struct xw *x)
{
    x->rc = 0;
    x->buf = xmlBufferCreate();
    x->w = x->buf ? xmlNewTextWriterMemory(x->buf, 0) : NULL;
    if (!x->w) {
        if (x->buf)
            xmlBufferFree(x->buf);
        return -ENOMEM;
    }
    xmlTextWriterSetIndent(x->w, 1);
    xmlTextWriterSetIndentString(x->w, X("  "));
    return 0;
}

static int xw_close(struct xw *x, char **out)
{
    int rc = x->rc;

    if (rc == 0 && xmlTextWriterEndDocument(x->w) < 0)
        rc = -EIO;
    xmlFreeTextWriter(x->w);
    if (rc == 0) {
        *out = strdup((const char *)xmlBufferContent(x->buf));
        if (!*out)
            rc = -ENOMEM;
    }
    xmlBufferFree(x->buf);
    return rc;
}

static void xw_check(struct xw *x, int r)
{
    if (r < 0 && x->rc == 0)
        x->rc = -EIO;
}

static void open_el(struct xw *x, const char *name)
{
    xw_check(x, xmlTextWriterStartElement(x->w, X(name)));
}

static void close_el(struct xw *x)
{
    xw_check(x, xmlTextWriterEndElement(x->w));
}

static void attr(struct xw *x, const char *name, const char *value)
{
    xw_check(x, xmlTextWriterWriteAttribute(x->w, X(name), X(value ? value : "")));
}

static void text_el(struct xw *x, const char *name, const char *text)
{
    xw_check(x, xmlTextWriterWriteElement(x->w, X(name), X(text ? text : "")));
}

struct iotune_writer {
    struct xw *x;
    bool any;
};

static int iotune_child(const char *name, uint64_t value, void *arg)
{
    struct iotune_writer *w = arg;
    char num[24];

    if (!w->any)
        open_el(w->x, "iotune");
    w->any = true;
    snprintf(num, sizeof(num), "%" PRIu64, value);
    text_el(w->x, name, num);
    return 0;
}

/* <iotune> from qos_specs (checked by dx_disk_parse), the limits set only. */
static void write_iotune(struct xw *x, const json_t *qos)
{
    struct iotune_writer w = { x, false };
    struct qos_policy p;
    char msg[DX_MSG_MAX];

    if (!qos || qos_policy_parse(qos, true, &p, msg, sizeof(msg)) < 0)
        return;
    qos_iotune_foreach(&p, false, iotune_child, &w);
    if (w.any)
        close_el(x);
}

static void write_disk(struct xw *x, const struct dx_disk *d)
{
    size_t n = json_array_size(d->hosts);

    open_el(x, "disk");
    attr(x, "type", "network");
    attr(x, "device", "disk");
    open_el(x, "driver");
    attr(x, "name", "qemu");
    attr(x, "type", "raw");
    attr(x, "cache", "none");
    attr(x, "discard", "unmap");
    close_el(x);
    if (d->auth_user) {
        open_el(x, "auth");
        attr(x, "username", d->auth_user);
        open_el(x, "secret");
        attr(x, "type", "ceph");
        attr(x, "uuid", d->secret_uuid);
        close_el(x);
        close_el(x);
    }
    open_el(x, "source");
    attr(x, "protocol", "rbd");
    attr(x, "name", d->name);
    for (size_t i = 0; i < n; i++) {
        open_el(x, "host");
        attr(x, "name", json_string_value(json_array_get(d->hosts, i)));
        attr(x, "port", json_string_value(json_array_get(d->ports, i)));
        close_el(x);
    }
    close_el(x);
    open_el(x, "target");
    attr(x, "dev", d->target);
    attr(x, "bus", "virtio");
    close_el(x);
    if (d->serial)
        text_el(x, "serial", d->serial);
    if (d->readonly) {
        open_el(x, "readonly");
        close_el(x);
    }
    write_iotune(x, d->qos);
    close_el(x);
}

int dx_disk_xml(const struct dx_disk *d, char **out)
{
    struct xw x;
    int rc = xw_open(&x);

    if (rc < 0)
        return rc;
    write_disk(&x, d);
    return xw_close(&x, out);
}

static void write_metadata(struct xw *x, const struct dx_guest *g)
{
    char num[24];

    open_el(x, "metadata");
    xw_check(x, xmlTextWriterStartElementNS(x->w, X(DX_NS_PREFIX), X("instance"), X(DX_NS_URI)));
    xw_check(x, xmlTextWriterWriteElementNS(x->w, X(DX_NS_PREFIX), X("id"), NULL, X(g->id)));
    xw_check(x, xmlTextWriterWriteElementNS(x->w, X(DX_NS_PREFIX), X("name"), NULL,
                                            X(g->name ? g->name : "")));
    xw_check(x, xmlTextWriterWriteElementNS(x->w, X(DX_NS_PREFIX), X("project"), NULL,
                                            X(g->project_id)));
    xw_check(x, xmlTextWriterWriteElementNS(x->w, X(DX_NS_PREFIX), X("host"), NULL, X(g->host)));
    if (g->cluster)
        xw_check(x, xmlTextWriterWriteElementNS(x->w, X(DX_NS_PREFIX), X("cluster"), NULL,
                                                X(g->cluster)));
    xw_check(x, xmlTextWriterStartElementNS(x->w, X(DX_NS_PREFIX), X("flavor"), NULL));
    attr(x, "name", g->flavor ? g->flavor : "");
    snprintf(num, sizeof(num), "%d", g->vcpus);
    attr(x, "vcpus", num);
    snprintf(num, sizeof(num), "%" PRId64, g->ram_mb);
    attr(x, "ram_mb", num);
    close_el(x);
    close_el(x);
    close_el(x);
}

static void write_sysinfo(struct xw *x, const struct dx_guest *g)
{
    static const char *const names[] = { "manufacturer", "product", "serial", "uuid" };
    const char *values[] = { "Strata", "Strata Compute", g->id, g->id };

    open_el(x, "sysinfo");
    attr(x, "type", "smbios");
    open_el(x, "system");
    for (size_t i = 0; i < 4; i++) {
        open_el(x, "entry");
        attr(x, "name", names[i]);
        xw_check(x, xmlTextWriterWriteString(x->w, X(values[i])));
        close_el(x);
    }
    close_el(x);
    close_el(x);
}

int dx_domain_xml(const struct dx_guest *g, char **out)
{
    struct xw x;
    char name[128], num[24];
    int rc;

    if (!g->id || !g->project_id || !g->host || !g->virt_type || !g->console_path ||
        g->vcpus < 1 || g->ram_mb < 1)
        return -EINVAL;
    if ((rc = xw_open(&x)) < 0)
        return rc;
    dx_domain_name(g->id, name, sizeof(name));
    open_el(&x, "domain");
    attr(&x, "type", g->virt_type);
    text_el(&x, "name", name);
    text_el(&x, "uuid", g->id);
    if (g->name)
        text_el(&x, "title", g->name);
    write_metadata(&x, g);
    open_el(&x, "memory");
    attr(&x, "unit", "MiB");
    snprintf(num, sizeof(num), "%" PRId64, g->ram_mb);
    xw_check(&x, xmlTextWriterWriteString(x.w, X(num)));
    close_el(&x);
    snprintf(num, sizeof(num), "%d", g->vcpus);
    text_el(&x, "vcpu", num);
    write_sysinfo(&x, g);
    open_el(&x, "os");
    open_el(&x, "type");
    attr(&x, "arch", "x86_64");
    attr(&x, "machine", "pc");
    xw_check(&x, xmlTextWriterWriteString(x.w, X("hvm")));
    close_el(&x);
    open_el(&x, "boot");
    attr(&x, "dev", "hd");
    close_el(&x);
    open_el(&x, "smbios");
    attr(&x, "mode", "sysinfo");
    close_el(&x);
    close_el(&x);
    open_el(&x, "features");
    open_el(&x, "acpi");
    close_el(&x);
    open_el(&x, "apic");
    close_el(&x);
    close_el(&x);
    if (strcmp(g->virt_type, "kvm") == 0) {
        open_el(&x, "cpu");
        attr(&x, "mode", "host-model");
        close_el(&x);
    }
    open_el(&x, "clock");
    attr(&x, "offset", "utc");
    close_el(&x);
    text_el(&x, "on_poweroff", "destroy");
    text_el(&x, "on_reboot", "restart");
    text_el(&x, "on_crash", "destroy");
    open_el(&x, "devices");
    write_disk(&x, &g->root);
    for (size_t i = 0; i < g->nvolumes; i++)
        write_disk(&x, &g->volumes[i]);
    open_el(&x, "serial");
    attr(&x, "type", "file");
    open_el(&x, "source");
    attr(&x, "path", g->console_path);
    attr(&x, "append", "on");
    close_el(&x);
    open_el(&x, "target");
    attr(&x, "port", "0");
    close_el(&x);
    close_el(&x);
    open_el(&x, "memballoon");
    attr(&x, "model", "none");
    close_el(&x);
    close_el(&x);   /* devices */
    close_el(&x);   /* domain */
    return xw_close(&x, out);
}

int dx_secret_xml(const char *uuid, const char *user, char **out)
{
    struct xw x;
    char usage[160];
    int rc = xw_open(&x);

    if (rc < 0)
        return rc;
    snprintf(usage, sizeof(usage), "client.%s secret (strata)", user);
    open_el(&x, "secret");
    attr(&x, "ephemeral", "no");
    attr(&x, "private", "yes");
    text_el(&x, "uuid", uuid);
    text_el(&x, "description", "cephx key of the Strata compute agent");
    open_el(&x, "usage");
    attr(&x, "type", "ceph");
    text_el(&x, "name", usage);
    close_el(&x);
    close_el(&x);
    return xw_close(&x, out);
}

/* ---- reading ---- */

struct xr {
    xmlDocPtr doc;
    xmlXPathContextPtr ctx;
};

static int xr_open(struct xr *r, const char *xml)
{
    r->doc = xml ? xmlReadMemory(xml, (int)strlen(xml), "libvirt.xml", NULL,
                                 XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
                 : NULL;
    r->ctx = r->doc ? xmlXPathNewContext(r->doc) : NULL;
    if (!r->ctx) {
        if (r->doc)
            xmlFreeDoc(r->doc);
        return -EINVAL;
    }
    xmlXPathRegisterNs(r->ctx, X("s"), X(DX_NS_URI));
    return 0;
}

static void xr_close(struct xr *r)
{
    xmlXPathFreeContext(r->ctx);
    xmlFreeDoc(r->doc);
}

/* The string value of an XPath expression into buf ("" when absent). */
static void xr_str(struct xr *r, xmlNodePtr node, const char *expr, char *buf, size_t len)
{
    xmlXPathObjectPtr o;

    buf[0] = '\0';
    r->ctx->node = node ? node : xmlDocGetRootElement(r->doc);
    o = xmlXPathEvalExpression(X(expr), r->ctx);
    if (o && o->type == XPATH_STRING && o->stringval)
        snprintf(buf, len, "%s", (const char *)o->stringval);
    xmlXPathFreeObject(o);
}

int dx_meta_parse(const char *xml, struct dx_meta *out)
{
    struct xr r;

    if (xr_open(&r, xml) < 0)
        return -EINVAL;
    /* virDomainGetMetadata returns the element without its namespace; a
     * whole domain XML has it namespaced: match local names either way */
#define META(f) "string((//*[local-name()='instance'])[1]/*[local-name()='" f "'])"
    xr_str(&r, NULL, META("id"), out->id, sizeof(out->id));
    xr_str(&r, NULL, META("host"), out->host, sizeof(out->host));
    xr_str(&r, NULL, META("project"), out->project_id, sizeof(out->project_id));
    xr_str(&r, NULL, META("cluster"), out->cluster, sizeof(out->cluster));
#undef META
    xr_close(&r);
    return out->id[0] && out->host[0] ? 0 : -EINVAL;
}

int dx_disks_parse(const char *xml, json_t **out)
{
    struct xr r;
    xmlXPathObjectPtr o;
    json_t *disks = json_array();
    char target[32], name[512], serial[128];

    if (!disks)
        return -ENOMEM;
    if (xr_open(&r, xml) < 0) {
        json_decref(disks);
        return -EINVAL;
    }
    r.ctx->node = xmlDocGetRootElement(r.doc);
    o = xmlXPathEvalExpression(X("/domain/devices/disk"), r.ctx);
    for (int i = 0; o && o->nodesetval && i < o->nodesetval->nodeNr; i++) {
        xmlNodePtr n = o->nodesetval->nodeTab[i];
        xr_str(&r, n, "string(target/@dev)", target, sizeof(target));
        xr_str(&r, n, "string(source/@name)", name, sizeof(name));
        xr_str(&r, n, "string(serial)", serial, sizeof(serial));
        json_t *d = json_pack("{s:s, s:s}", "target", target, "name", name);
        if (d && serial[0])
            json_object_set_new(d, "serial", json_string(serial));
        json_array_append_new(disks, d);
    }
    xmlXPathFreeObject(o);
    xr_close(&r);
    *out = disks;
    return 0;
}

int dx_next_target(const json_t *used, char *buf, size_t len)
{
    for (char c = 'b'; c <= 'z'; c++) {
        char t[8];
        bool taken = false;
        size_t i;
        const json_t *v;

        snprintf(t, sizeof(t), "vd%c", c);
        json_array_foreach(used, i, v)
            if (json_is_string(v) && strcmp(json_string_value(v), t) == 0)
                taken = true;
        if (!taken) {
            snprintf(buf, len, "%s", t);
            return 0;
        }
    }
    return -ENOSPC;
}

int dx_caps_cpu(const char *caps, char *model, size_t mlen, char *arch, size_t alen)
{
    struct xr r;

    if (xr_open(&r, caps) < 0)
        return -EINVAL;
    xr_str(&r, NULL, "string(/capabilities/host/cpu/model)", model, mlen);
    xr_str(&r, NULL, "string(/capabilities/host/cpu/arch)", arch, alen);
    xr_close(&r);
    return arch[0] ? 0 : -EINVAL;
}
