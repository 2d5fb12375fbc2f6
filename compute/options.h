/* options.h — strata-computed's configuration options (the [computed] section),
 * one table that validates strata.conf and is documented in etc/strata.conf.sample. */
#ifndef COMPUTE_OPTIONS_H
#define COMPUTE_OPTIONS_H

#include "strata/config.h"

extern const struct st_opt compute_options[];

#endif
