/* options.h — strata-imaged's configuration options (the [imaged] section),
 * one table that validates strata.conf and is documented in etc/strata.conf.sample. */
#ifndef IMAGED_OPTIONS_H
#define IMAGED_OPTIONS_H

#include "strata/config.h"

extern const struct st_opt imaged_options[];

#endif
