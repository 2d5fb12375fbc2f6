/* config.h — INI configuration (inih) driven by tables of typed options.
 * Each option row gives section, key, type, default, bounds and help; the same
 * tables validate the file, supply defaults and document etc/strata.conf.sample. */
#ifndef STRATA_CONFIG_H
#define STRATA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum st_opt_type {
    ST_OPT_STR,      /* any string */
    ST_OPT_INT,      /* signed 64-bit integer within [min, max] */
    ST_OPT_BOOL,     /* true/false/yes/no/on/off/1/0 */
    ST_OPT_SIZE,     /* bytes, with optional K/M/G/T suffix (powers of 1024), within [min, max] */
    ST_OPT_DURATION, /* milliseconds; suffix ms/s/m/h, bare number = seconds; within [min, max] ms */
    ST_OPT_ENUM,     /* one of choices[] */
};

struct st_opt {
    const char *section;
    const char *key;
    enum st_opt_type type;
    const char *def;            /* default as text; NULL = no default */
    bool required;              /* must appear in the file (def ignored) */
    int64_t min, max;           /* for INT/SIZE/DURATION; min == max == 0 means unbounded */
    const char *const *choices; /* NULL-terminated, for ENUM */
    const char *help;           /* one line, used in the sample config */
};

/* A table ends with a row whose section is NULL. */
#define ST_OPT_END { NULL, NULL, ST_OPT_STR, NULL, false, 0, 0, NULL, NULL }

/* The options every daemon understands ([ceph], [log], [http], [auth], ...). */
extern const struct st_opt st_common_options[];
/* Sections of all Strata daemons (NULL-terminated).  One strata.conf serves
 * every daemon, so these are not warned about when no loaded table declares them. */
extern const char *const st_config_known_sections[];

struct st_config;

/* Load `path` (NULL = no file: defaults only) against the NULL-terminated list
 * of option tables.  On a bad value, a missing required key or an unreadable
 * file returns -EINVAL/-ENOENT and writes one line naming file, section, key
 * and value into err (if non-NULL).  Unknown keys are logged as warnings that
 * name them.  *out is written only on success. */
int st_config_load(const char *path, const struct st_opt *const *tables,
                   struct st_config **out, char *err, size_t errlen);
void st_config_destroy(struct st_config *cfg);

/* Typed getters.  The option must be declared in one of the tables given to
 * st_config_load (asking for an undeclared option, or with the getter of
 * another type, is a programming error: it logs and returns the zero value).
 * Strings are owned by cfg.  st_config_str works for every type and returns
 * the text as written (ENUM: the choice as spelled in choices[]), the default,
 * or NULL for an unset option without default. */
const char *st_config_str(const struct st_config *cfg, const char *section, const char *key);
int64_t st_config_int(const struct st_config *cfg, const char *section, const char *key);
bool st_config_bool(const struct st_config *cfg, const char *section, const char *key);
uint64_t st_config_size(const struct st_config *cfg, const char *section, const char *key);
int64_t st_config_duration_ms(const struct st_config *cfg, const char *section, const char *key);
/* True if the key was present in the file (not just defaulted). */
bool st_config_is_set(const struct st_config *cfg, const char *section, const char *key);
const char *st_config_path(const struct st_config *cfg);

/* Parsers used by the loader, exposed for tests: 0 or -EINVAL. */
int st_parse_bool(const char *s, bool *out);
int st_parse_int(const char *s, int64_t *out);
int st_parse_size(const char *s, uint64_t *out);
int st_parse_duration_ms(const char *s, int64_t *out);

#endif
