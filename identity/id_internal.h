/* id_internal.h — what id_service.c (records, resources, bootstrap),
 * id_grants.c (role assignments) and id_auth.c (authentication, tokens,
 * application credentials) share: the service's state, record kinds, helpers. */
#ifndef IDENTITY_ID_INTERNAL_H
#define IDENTITY_ID_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "id_service.h"
#include "strata/meta.h"
#include "strata/strutil.h"

struct id_service {
    struct st_meta *meta;
    rados_ioctx_t io;
    const struct st_auth *auth;
    struct st_auth *signer;  /* signs with [auth] token_key */
    int64_t ttl_ms;
    int64_t notify_ms;
    unsigned rounds;
    char admin_project[ST_ID_MAX + 1];
    char *base;
    struct id_catalog cat;
    char *region, *compute_url, *volume_url, *image_url;
};

extern const struct st_meta_kind K_DOMAIN, K_PROJECT, K_USER, K_ROLE, K_GRANT, K_APPCRED,
    N_APPCRED;
extern const char *const builtin_roles[];   /* admin, member, reader; NULL-terminated */

#define msgf(msg, rc, ...) st_msgf((msg), IDJ_MSG_MAX, (rc), __VA_ARGS__)

int64_t idi_now_ms(void);
void idi_new_id(char out[33]);
/* A revocation event every daemon mirrors (ends matching tokens). */
void idi_revoke_event(struct id_service *s, const char *user, const char *project,
                      const char *role, const char *app_cred, const char *why);
/* A record with its id as "id": 0, -ENOENT. */
int idi_get_rec(struct id_service *s, const struct st_meta_kind *k, const char *id, json_t **out);
/* Every record of a kind matching filters/pred, as an array of records with ids. */
int idi_list_all(struct id_service *s, const struct st_meta_kind *k,
                 const struct st_meta_filter *f, size_t nf, st_meta_pred_fn pred, void *arg,
                 json_t **out);
int idi_lookup_name(struct id_service *s, enum idj_res res, const char *scope, const char *name,
                    char id[ST_META_ID_MAX + 1]);
bool idi_rec_enabled(const json_t *rec);
/* The user's roles on the project with the roles they imply, each once (id_grants.c). */
int idi_effective_roles(struct id_service *s, const char *user, const char *project,
                        json_t **out);

#endif
