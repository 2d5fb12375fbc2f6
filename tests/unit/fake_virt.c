/* fake_virt.c — fake_virt.h: a table of domains and secrets answering the
 * virt_* calls, the domain's id, host and cluster read back from the XML it is
 * defined with (as virt_list reads the agent's metadata). */
#include "fake_virt.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain_xml.h"
#include "mock.h"
#include "virt.h"

#define DOMS_MAX 16
#define SECRETS_MAX 8

struct fdom {
    char id[40], host[65], cluster[64], state[16];
    char *xml;
};

static struct fdom doms[DOMS_MAX];
static size_t ndoms;
static char secrets[SECRETS_MAX][40];
static char fail_fn[32];
static int fail_rc;

void fake_virt_reset(void)
{
    for (size_t i = 0; i < ndoms; i++)
        free(doms[i].xml);
    ndoms = 0;
    memset(secrets, 0, sizeof(secrets));
    fail_fn[0] = '\0';
}

void fake_virt_fail(const char *fn, int rc)
{
    snprintf(fail_fn, sizeof(fail_fn), "%s", fn);
    fail_rc = rc;
}

#define ENTER()                                                                                    \
    do {                                                                                           \
        if (fail_fn[0] && strcmp(fail_fn, __func__ + 7) == 0) {                                    \
            fail_fn[0] = '\0';                                                                     \
            return fail_rc;                                                                        \
        }                                                                                          \
    } while (0)

static struct fdom *find(const char *id)
{
    for (size_t i = 0; i < ndoms; i++)
        if (strcmp(doms[i].id, id) == 0)
            return &doms[i];
    return NULL;
}

static struct fdom *add(const char *id, const char *host, const char *cluster, const char *state)
{
    struct fdom *d = &doms[ndoms++];

    memset(d, 0, sizeof(*d));
    snprintf(d->id, sizeof(d->id), "%s", id);
    snprintf(d->host, sizeof(d->host), "%s", host);
    snprintf(d->cluster, sizeof(d->cluster), "%s", cluster ? cluster : "");
    snprintf(d->state, sizeof(d->state), "%s", state);
    return d;
}

void fake_virt_add(const char *id, const char *host, const char *cluster, const char *state)
{
    add(id, host, cluster, state);
}

const char *fake_virt_state(const char *id)
{
    struct fdom *d = find(id);

    return d ? d->state : NULL;
}

const char *fake_virt_xml(const char *id)
{
    struct fdom *d = find(id);

    return d ? d->xml : NULL;
}

unsigned fake_virt_secrets(void)
{
    unsigned n = 0;

    for (size_t i = 0; i < SECRETS_MAX; i++)
        n += secrets[i][0] != '\0';
    return n;
}

/* The text of the first element <tag> in xml, into buf ("" if none). */
static void element(const char *xml, const char *tag, char *buf, size_t len)
{
    char open[64];
    const char *a, *b;

    snprintf(open, sizeof(open), "<%s>", tag);
    buf[0] = '\0';
    if ((a = strstr(xml, open)) && (b = strchr(a + strlen(open), '<')))
        snprintf(buf, len, "%.*s", (int)(b - a - strlen(open)), a + strlen(open));
}

ST_WRAP(virt_define, int, (struct virt * v, const char *xml))
{
    char id[40], host[65], cluster[64];

    ENTER();
    element(xml, "uuid", id, sizeof(id));
    element(xml, DX_NS_PREFIX ":host", host, sizeof(host));
    element(xml, DX_NS_PREFIX ":cluster", cluster, sizeof(cluster));
    if (!id[0])
        return -EINVAL;
    struct fdom *d = find(id);
    if (!d)
        d = add(id, host, cluster, "shutoff");
    free(d->xml);
    d->xml = strdup(xml);
    return 0;
}

ST_WRAP(virt_start, int, (struct virt * v, const char *id))
{
    ENTER();
    struct fdom *d = find(id);
    if (!d)
        return -ENOENT;
    snprintf(d->state, sizeof(d->state), "running");
    return 0;
}

ST_WRAP(virt_destroy, int, (struct virt * v, const char *id))
{
    ENTER();
    struct fdom *d = find(id);
    if (d)
        snprintf(d->state, sizeof(d->state), "shutoff");
    return 0;
}

ST_WRAP(virt_shutdown, int, (struct virt * v, const char *id, int64_t timeout_ms))
{
    return __wrap_virt_destroy(v, id);
}

ST_WRAP(virt_undefine, int, (struct virt * v, const char *id))
{
    ENTER();
    struct fdom *d = find(id);
    if (d) {
        free(d->xml);
        *d = doms[--ndoms];
    }
    return 0;
}

ST_WRAP(virt_power_state, int, (struct virt * v, const char *id, const char **state))
{
    ENTER();
    struct fdom *d = find(id);
    if (!d)
        return -ENOENT;
    *state = d->state;
    return 0;
}

ST_WRAP(virt_list, int, (struct virt * v, json_t **out))
{
    ENTER();
    json_t *a = json_array();
    for (size_t i = 0; i < ndoms; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", doms[i].id, "host",
                                           doms[i].host, "project_id", "p1", "cluster",
                                           doms[i].cluster, "power_state", doms[i].state));
    *out = a;
    return 0;
}

ST_WRAP(virt_secret_ensure, int,
        (struct virt * v, const char *uuid, const char *user, const unsigned char *key,
         size_t keylen))
{
    ENTER();
    int free_slot = -1;
    for (int i = 0; i < SECRETS_MAX; i++) {
        if (strcmp(secrets[i], uuid) == 0)
            return 0;
        if (!secrets[i][0] && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0)
        return -ENOSPC;
    snprintf(secrets[free_slot], sizeof(secrets[0]), "%s", uuid);
    return 0;
}

ST_WRAP(virt_secret_release, int, (struct virt * v, const char *uuid))
{
    ENTER();
    for (int i = 0; i < SECRETS_MAX; i++)
        if (strcmp(secrets[i], uuid) == 0)
            secrets[i][0] = '\0';
    return 0;
}

ST_WRAP(virt_secret_exists, bool, (struct virt * v, const char *uuid))
{
    for (int i = 0; i < SECRETS_MAX; i++)
        if (strcmp(secrets[i], uuid) == 0)
            return true;
    return false;
}

ST_WRAP(virt_last_error, const char *, (void))
{
    return "fake libvirt error";
}
