/* options.h — strata-blockd's configuration options (the [blockd] section),
 * one table that validates strata.conf and is documented in etc/strata.conf.sample. */
#ifndef BLOCKD_OPTIONS_H
#define BLOCKD_OPTIONS_H

#include "strata/config.h"

extern const struct st_opt blockd_options[];

#endif
