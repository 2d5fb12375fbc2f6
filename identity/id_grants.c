/* id_grants.c — role assignments: grant, revoke (ending the tokens that carried
 * the role), check, list, and the effective roles with the ones they imply. */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "id_internal.h"
#include "options.h"
#include "password.h"
#include "strata/log.h"
#include "strata/meta.h"
#include "strata/nameidx.h"
#include "strata/revoke.h"

/* ---- role assignments ---- */

static void grant_id(const char *project, const char *user, const char *role, char *out, size_t n)
{
    snprintf(out, n, "%s.%s.%s", project, user, role);
}

/* The three parts exist: 0, or -ENOENT with Keystone's message. */
static int grant_parts(struct id_service *s, const char *project, const char *user,
                       const char *role, json_t **role_rec, char *msg)
{
    const struct {
        const struct st_meta_kind *k;
        const char *id, *what;
    } parts[] = {{&K_PROJECT, project, "project"}, {&K_USER, user, "user"}, {&K_ROLE, role, "role"}};

    for (size_t i = 0; i < 3; i++) {
        json_t *rec = NULL;
        int rc = idi_get_rec(s, parts[i].k, parts[i].id, &rec);
        if (rc == -ENOENT)
            return msgf(msg, rc, "Could not find %s: %s.", parts[i].what, parts[i].id);
        if (rc < 0)
            return rc;
        if (i == 2 && role_rec)
            *role_rec = rec;
        else
            json_decref(rec);
    }
    return 0;
}

int ids_grant(struct id_service *s, const char *project, const char *user, const char *role,
              char *msg)
{
    char id[3 * ST_ID_MAX + 3];
    json_t *data;
    int rc = grant_parts(s, project, user, role, NULL, msg);

    if (rc < 0)
        return rc;
    grant_id(project, user, role, id, sizeof(id));
    data = json_pack("{s:s, s:s, s:s, s:I}", "project_id", project, "user_id", user, "role_id",
                     role, "created_ms", (json_int_t)idi_now_ms());
    if (!data)
        return -ENOMEM;
    rc = st_meta_create(s->meta, &K_GRANT, id, data, NULL);
    json_decref(data);
    if (rc == 0)
        st_info("role %s granted to user %s on project %s", role, user, project);
    return rc == -EEXIST ? 0 : rc;
}

int ids_ungrant(struct id_service *s, const char *project, const char *user, const char *role,
                char *msg)
{
    char id[3 * ST_ID_MAX + 3];
    json_t *role_rec = NULL;
    int rc = grant_parts(s, project, user, role, &role_rec, msg);

    if (rc < 0)
        return rc;
    grant_id(project, user, role, id, sizeof(id));
    rc = st_meta_delete(s->meta, &K_GRANT, id, 0);
    if (rc == -ENOENT)
        msgf(msg, rc, "Could not find role assignment with role: %s, user or group: %s, project, "
                      "domain, or system: %s.", role, user, project);
    if (rc == 0) {
        char why[128];
        snprintf(why, sizeof(why), "role %s taken from user %s on project %s", role, user, project);
        /* Tokens carry role names: end the user's tokens on that project that
         * hold the role. */
        idi_revoke_event(s, user, project, st_json_str(role_rec, "name"), NULL, why);
    }
    json_decref(role_rec);
    return rc;
}

int ids_grant_check(struct id_service *s, const char *project, const char *user,
                    const char *role, char *msg)
{
    char id[3 * ST_ID_MAX + 3];
    struct st_record r = { 0 };
    int rc = grant_parts(s, project, user, role, NULL, msg);

    if (rc < 0)
        return rc;
    grant_id(project, user, role, id, sizeof(id));
    rc = st_meta_get(s->meta, &K_GRANT, id, &r);
    st_record_cleanup(&r);
    if (rc == -ENOENT)
        msgf(msg, rc, "Could not find role assignment with role: %s, user or group: %s, project, "
                      "domain, or system: %s.", role, user, project);
    return rc;
}

int ids_grants(struct id_service *s, const char *user, const char *project, const char *role,
               json_t **rows)
{
    struct st_meta_filter f[3];
    size_t n = 0;

    if (user)
        f[n++] = (struct st_meta_filter){"user_id", user};
    if (project)
        f[n++] = (struct st_meta_filter){"project_id", project};
    if (role)
        f[n++] = (struct st_meta_filter){"role_id", role};
    return idi_list_all(s, &K_GRANT, f, n, NULL, NULL, rows);
}

int ids_user_roles(struct id_service *s, const char *user, const char *project, json_t **roles)
{
    json_t *rows = NULL, *row, *out = json_array();
    size_t i;
    int rc;

    if (!out)
        return -ENOMEM;
    rc = ids_grants(s, user, project, NULL, &rows);
    if (rc < 0) {
        json_decref(out);
        return rc;
    }
    json_array_foreach(rows, i, row) {
        json_t *role = NULL;
        if (idi_get_rec(s, &K_ROLE, st_json_str(row, "role_id"), &role) == 0)
            json_array_append_new(out, role);
    }
    json_decref(rows);
    *roles = out;
    return 0;
}

/* The user's roles on the project with the roles they imply (admin >
 * member > reader), as records, each once. */
int idi_effective_roles(struct id_service *s, const char *user, const char *project,
                           json_t **out)
{
    static const char *const implied[][3] = {{"admin", "member", "reader"}, {"member", "reader", NULL}};
    json_t *roles = NULL, *r;
    size_t i;
    int rc = ids_user_roles(s, user, project, &roles);

    if (rc < 0)
        return rc;
    json_array_foreach(roles, i, r) {
        const char *n = st_json_str(r, "name");
        for (size_t k = 0; k < 2; k++) {
            if (!n || strcmp(n, implied[k][0]) != 0)
                continue;
            for (size_t m = 1; m < 3 && implied[k][m]; m++) {
                bool have = false;
                json_t *x;
                size_t j;
                json_array_foreach(roles, j, x) {
                    have = have || strcmp(st_json_str(x, "name"), implied[k][m]) == 0;
                }
                char rid[ST_META_ID_MAX + 1];
                json_t *rec = NULL;
                if (!have && idi_lookup_name(s, IDJ_ROLE, "", implied[k][m], rid) == 0 &&
                    idi_get_rec(s, &K_ROLE, rid, &rec) == 0)
                    json_array_append_new(roles, rec);
            }
        }
    }
    *out = roles;
    return 0;
}

int ids_user_projects(struct id_service *s, const char *user, json_t **projects)
{
    json_t *rows = NULL, *row, *out = json_object(), *list = json_array(), *p;
    const char *k;
    size_t i;
    int rc;

    if (!out || !list) {
        json_decref(out);
        json_decref(list);
        return -ENOMEM;
    }
    rc = ids_grants(s, user, NULL, NULL, &rows);
    json_array_foreach(rows, i, row) {
        const char *pid = st_json_str(row, "project_id");
        if (!json_object_get(out, pid) && idi_get_rec(s, &K_PROJECT, pid, &p) == 0) {
            if (idi_rec_enabled(p))
                json_object_set_new(out, pid, p);
            else
                json_decref(p);
        }
    }
    json_object_foreach(out, k, p) {
        json_array_append(list, p);
    }
    json_decref(out);
    json_decref(rows);
    if (rc < 0) {
        json_decref(list);
        return rc;
    }
    *projects = list;
    return 0;
}
