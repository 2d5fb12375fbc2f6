/* host.c — the host record: created or replaced at start with what the agent
 * found (capacity, hypervisor, location), then a heartbeat every few seconds
 * that the scheduler reads to tell live hosts from dead ones. */
#include "host.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strata/workpool.h"

static int validate_host(const json_t *d)
{
    return json_is_string(json_object_get(d, "name")) &&
                   json_is_integer(json_object_get(d, "heartbeat_at"))
               ? 0
               : -EINVAL;
}

const struct st_meta_kind host_kind = { "host", validate_host };

bool host_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    return n > 0 && n <= 64 &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

int host_parse_location(const char *text, json_t **out, char *msg, size_t msglen)
{
    static const char *const keys[] = { "region", "zone", "datacenter", "room", "row", "pod",
                                        "pdu", "rack", "chassis", "host", NULL };
    char buf[512], *save = NULL;
    json_t *loc = json_object();

    if (!loc)
        return -ENOMEM;
    snprintf(buf, sizeof(buf), "%s", text ? text : "");
    for (char *p = strtok_r(buf, " ,\t", &save); p; p = strtok_r(NULL, " ,\t", &save)) {
        char *eq = strchr(p, '=');
        bool known = false;
        if (eq) {
            *eq = '\0';
            for (size_t i = 0; keys[i]; i++)
                known = known || strcmp(p, keys[i]) == 0;
        }
        if (!eq || !known || !eq[1] || !host_name_valid(eq + 1)) {
            snprintf(msg, msglen,
                     "location \"%s\": each item must be <crush type>=<name> with a CRUSH type "
                     "(region, zone, datacenter, room, row, pod, pdu, rack, chassis, host)",
                     text);
            json_decref(loc);
            return -EINVAL;
        }
        json_object_set_new(loc, p, json_string(eq + 1));
    }
    *out = loc;
    return 0;
}

static int set_registration(json_t *data, void *arg)
{
    json_object_clear(data);
    json_object_update(data, (json_t *)arg);
    return 0;
}

int host_register(struct st_meta *m, const char *name, const json_t *facts)
{
    json_t *rec = json_deep_copy(facts);
    int64_t now = st_now_ms();
    int rc;

    if (!rec)
        return -ENOMEM;
    json_object_set_new(rec, "name", json_string(name));
    json_object_set_new(rec, "state", json_string("up"));
    json_object_set_new(rec, "started_at", json_integer(now));
    json_object_set_new(rec, "heartbeat_at", json_integer(now));
    json_object_set_new(rec, "running_guests", json_integer(0));
    rc = st_meta_create(m, &host_kind, name, rec, NULL);
    if (rc == -EEXIST)
        rc = st_meta_modify(m, &host_kind, name, set_registration, rec, NULL);
    json_decref(rec);
    return rc;
}

struct beat {
    int64_t now;
    int running;
    const char *state;
};

static int set_beat(json_t *data, void *arg)
{
    const struct beat *b = arg;

    json_object_set_new(data, "heartbeat_at", json_integer(b->now));
    json_object_set_new(data, "state", json_string(b->state));
    if (b->running >= 0)
        json_object_set_new(data, "running_guests", json_integer(b->running));
    return 0;
}

int host_heartbeat(struct st_meta *m, const char *name, int running)
{
    struct beat b = { st_now_ms(), running, "up" };

    return st_meta_modify(m, &host_kind, name, set_beat, &b, NULL);
}

int host_mark_down(struct st_meta *m, const char *name)
{
    struct beat b = { st_now_ms(), -1, "down" };

    return st_meta_modify(m, &host_kind, name, set_beat, &b, NULL);
}
