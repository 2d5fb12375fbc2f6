/* monaddr.c — mon_host parsing into the hosts/ports lists of RBD connection
 * info and libvirt <host> elements (one monitor = one entry, v1 preferred). */
#include "strata/monaddr.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_MON_PORT "6789"
/* One address ("v1:IP:PORT", "IP:PORT", "IP", "[v6]:PORT") into host/port;
 * *v2 tells a msgr2 address.  -EINVAL when empty or malformed. */
static int parse_addr(const char *a, size_t n, char *host, size_t hlen, char *port, size_t plen,
                      bool *v2)
{
    const char *colon;
    size_t hn;

    *v2 = false;
    if (n >= 3 && (strncmp(a, "v1:", 3) == 0 || strncmp(a, "v2:", 3) == 0)) {
        *v2 = a[1] == '2';
        a += 3;
        n -= 3;
    }
    if (n > 0 && a[n - 1] == '/') /* "IP:PORT/0" nonce suffix */
        n--;
    const char *slash = memchr(a, '/', n);
    if (slash)
        n = (size_t)(slash - a);
    if (n == 0)
        return -EINVAL;
    if (a[0] == '[') { /* [IPv6]:PORT */
        const char *end = memchr(a, ']', n);
        if (!end)
            return -EINVAL;
        hn = (size_t)(end - a - 1);
        if (hn == 0 || hn >= hlen)
            return -EINVAL;
        memcpy(host, a + 1, hn);
        host[hn] = '\0';
        colon = end + 1 < a + n && end[1] == ':' ? end + 1 : NULL;
    } else {
        colon = memchr(a, ':', n);
        if (colon && memchr(colon + 1, ':', n - (size_t)(colon + 1 - a)))
            colon = NULL, hn = n; /* bare IPv6 */
        hn = colon ? (size_t)(colon - a) : n;
        if (hn == 0 || hn >= hlen)
            return -EINVAL;
        memcpy(host, a, hn);
        host[hn] = '\0';
    }
    if (colon) {
        size_t pn = n - (size_t)(colon + 1 - a);
        if (pn == 0 || pn >= plen || strspn(colon + 1, "0123456789") < pn)
            return -EINVAL;
        memcpy(port, colon + 1, pn);
        port[pn] = '\0';
    } else {
        snprintf(port, plen, "%s", DEFAULT_MON_PORT);
    }
    return 0;
}

/* One monitor: a single address or a bracketed vector "[v2:..,v1:..]". */
static int add_monitor(const char *m, size_t n, json_t *hosts, json_t *ports)
{
    char host[128] = "", port[16] = "", h[128], p[16];
    bool found = false, v2;

    if (n >= 2 && m[0] == '[' && m[n - 1] == ']' && (n > 3 && m[1] == 'v')) {
        m++, n -= 2; /* an address vector: prefer its v1 entry */
        while (n > 0) {
            const char *comma = memchr(m, ',', n);
            size_t len = comma ? (size_t)(comma - m) : n;
            if (parse_addr(m, len, h, sizeof(h), p, sizeof(p), &v2) == 0 && (!found || !v2)) {
                snprintf(host, sizeof(host), "%s", h);
                snprintf(port, sizeof(port), "%s", p);
                found = true;
            }
            m += len + (comma ? 1 : 0);
            n -= len + (comma ? 1 : 0);
        }
    } else if (parse_addr(m, n, host, sizeof(host), port, sizeof(port), &v2) == 0) {
        found = true;
    }
    if (!found)
        return -EINVAL;
    if (json_array_append_new(hosts, json_string(host)) < 0 ||
        json_array_append_new(ports, json_string(port)) < 0)
        return -ENOMEM;
    return 0;
}

int st_mon_hosts(const char *mon_host, json_t **hosts_out, json_t **ports_out)
{
    json_t *hosts = json_array(), *ports = json_array();
    const char *s = mon_host ? mon_host : "";
    int rc = 0;

    while (hosts && ports && *s && rc == 0) {
        s += strspn(s, ", ;\t\n");
        if (!*s)
            break;
        size_t n;
        if (*s == '[' && s[1] == 'v') { /* a vector: up to its closing bracket */
            const char *end = strchr(s, ']');
            n = end ? (size_t)(end - s + 1) : strlen(s);
        } else if (*s == '[') {         /* [IPv6]:PORT */
            const char *end = strchr(s, ']');
            n = end ? (size_t)(end - s) + strcspn(end, ", ;\t\n") : strlen(s);
        } else {
            n = strcspn(s, ", ;\t\n");
        }
        rc = add_monitor(s, n, hosts, ports);
        s += n;
    }
    if (!hosts || !ports)
        rc = -ENOMEM;
    else if (rc == 0 && json_array_size(hosts) == 0)
        rc = -EINVAL;
    if (rc < 0) {
        json_decref(hosts);
        json_decref(ports);
        return rc;
    }
    *hosts_out = hosts;
    *ports_out = ports;
    return 0;
}

int st_rados_mon_hosts(rados_t cluster, json_t **hosts, json_t **ports)
{
    char mon[1024] = "";

    if (rados_conf_get(cluster, "mon_host", mon, sizeof(mon)) < 0)
        return -EINVAL;
    return st_mon_hosts(mon, hosts, ports);
}
