/* api_compute.h — the compute API's route table (Nova v2.1 subset) served by
 * strata-scheduler on port 8774; handlers reach srv_service.h. */
#ifndef SCHEDULER_API_COMPUTE_H
#define SCHEDULER_API_COMPUTE_H

#include "strata/http.h"

extern const struct st_route compute_api_routes[];

#endif
