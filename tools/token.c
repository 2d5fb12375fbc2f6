/* token.c — strata-token: mint a Strata token for a user, project and roles
 * with the [auth] token_key of a strata.conf (the operator's tool until the
 * identity service issues them).  Prints the token on stdout. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata/auth.h"
#include "strata/config.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: strata-token --config FILE --project ID [--user ID] "
               "[--roles member,admin] [--ttl SECONDS]\n");
}

#define TTL_MAX_S (30LL * 24 * 3600) /* as [auth] token_ttl's own limit */

/* A whole decimal number of seconds in 1..TTL_MAX_S, or -EINVAL. */
static int parse_ttl(const char *s, long long *out)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > TTL_MAX_S)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_roles(const char *list, struct st_auth_ctx *ctx)
{
    char buf[512];
    char *save = NULL;

    snprintf(buf, sizeof(buf), "%s", list);
    for (char *r = strtok_r(buf, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
        if (ctx->nroles >= ST_ROLES_MAX || strlen(r) >= sizeof(ctx->roles[0]))
            return -EINVAL;
        snprintf(ctx->roles[ctx->nroles++], sizeof(ctx->roles[0]), "%s", r);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "project", required_argument, NULL, 'p' },
        { "user", required_argument, NULL, 'u' },   { "roles", required_argument, NULL, 'r' },
        { "ttl", required_argument, NULL, 't' },    { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const struct st_opt *tables[] = { st_common_options, NULL };
    const char *config = "/etc/strata/strata.conf", *project = NULL, *user = NULL;
    const char *roles = "member";
    long long ttl = -1;
    struct st_auth_ctx ctx = { 0 };
    struct st_config *cfg = NULL;
    struct st_auth *auth = NULL;
    char err[512] = "", *token = NULL;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "c:p:u:r:t:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'p': project = optarg; break;
        case 'u': user = optarg; break;
        case 'r': roles = optarg; break;
        case 't':
            if (parse_ttl(optarg, &ttl) < 0) {
                fprintf(stderr, "strata-token: --ttl %s: must be a whole number of seconds "
                                "from 1 to %lld (30 days)\n", optarg, TTL_MAX_S);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!project || strlen(project) > ST_ID_MAX || (user && strlen(user) > ST_ID_MAX) ||
        parse_roles(roles, &ctx) < 0) {
        usage(stderr);
        return 2;
    }
    snprintf(ctx.project_id, sizeof(ctx.project_id), "%s", project);
    snprintf(ctx.user_id, sizeof(ctx.user_id), "%s", user ? user : project);
    rc = st_config_load(config, tables, &cfg, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "strata-token: %s\n", err[0] ? err : strerror(-rc));
        return 1;
    }
    const char *key = st_config_str(cfg, "auth", "token_key");
    if (ttl < 0)
        ttl = st_config_duration_ms(cfg, "auth", "token_ttl") / 1000;
    rc = key ? st_auth_create((const unsigned char *)key, strlen(key), NULL, NULL, &auth) : -EINVAL;
    if (rc == 0)
        rc = st_auth_issue(auth, &ctx, (int64_t)time(NULL) + ttl, &token);
    if (rc < 0)
        fprintf(stderr, "strata-token: %s: [auth] token_key: %s\n", config, strerror(-rc));
    else
        printf("%s\n", token);
    free(token);
    st_auth_destroy(auth);
    st_config_destroy(cfg);
    return rc < 0 ? 1 : 0;
}
