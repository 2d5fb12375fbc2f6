/* options.h — strata-identity's configuration options (the [identity] section),
 * one table that validates strata.conf and is documented in etc/strata.conf.sample. */
#ifndef IDENTITY_OPTIONS_H
#define IDENTITY_OPTIONS_H

#include "strata/config.h"

extern const struct st_opt identity_options[];

#endif
