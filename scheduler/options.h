/* options.h — strata-scheduler's configuration options (the [scheduler] section),
 * one table that validates strata.conf and is documented in etc/strata.conf.sample. */
#ifndef SCHEDULER_OPTIONS_H
#define SCHEDULER_OPTIONS_H

#include "strata/config.h"

extern const struct st_opt scheduler_options[];

#endif
