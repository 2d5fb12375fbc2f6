/* api_v3.h — what every Cinder v3 handler of blockd's smaller APIs (quotas,
 * types, qos-specs) does first: settle the microversion and check the URL's
 * project against the caller. */
#ifndef BLOCKD_API_V3_H
#define BLOCKD_API_V3_H

#include "strata/http.h"

/* Microversion (406/400 when unusable) and its reply headers; the URL's
 * {project_id} and target (NULL = that project) must be the caller's own
 * unless admin (403).  Replies on failure and returns the negative errno;
 * *mv (optional) receives the microversion's minor number. */
int api_v3_begin(struct st_req *r, const char *target, unsigned *mv);

#endif
