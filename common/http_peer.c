/* http_peer.c — a peer service seen by a daemon: where it is and the service
 * token it is called with, so each client module builds paths, not URLs. */
#include "strata/httpc.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct st_httpc_peer {
    struct st_httpc *http;
    char *url;
    char *token;
};

int st_httpc_peer_create(struct st_httpc *http, const char *url, const char *service_token,
                         struct st_httpc_peer **out)
{
    struct st_httpc_peer *p = calloc(1, sizeof(*p));

    if (!p || !(p->url = strdup(url)) || !(p->token = strdup(service_token))) {
        st_httpc_peer_destroy(p);
        return -ENOMEM;
    }
    p->http = http;
    *out = p;
    return 0;
}

void st_httpc_peer_destroy(struct st_httpc_peer *p)
{
    if (!p)
        return;
    if (p->token)
        OPENSSL_cleanse(p->token, strlen(p->token));
    free(p->token);
    free(p->url);
    free(p);
}

int st_httpc_peer_request(struct st_httpc_peer *p, const char *method, const char *path,
                          const char *token, const json_t *body, struct st_httpc_resp *resp)
{
    char url[1024];

    if ((size_t)snprintf(url, sizeof(url), "%s%s", p->url, path) >= sizeof(url))
        return -ENAMETOOLONG;
    return st_httpc_request(p->http, method, url, token ? token : p->token, body, resp);
}
