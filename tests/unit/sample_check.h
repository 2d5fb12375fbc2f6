/* sample_check.h — unit-test helper: etc/strata.conf.sample must document every
 * option of a table with its default, so the sample never goes stale.
 * Include after cmocka.h and strata/config.h. */
#ifndef STRATA_TEST_SAMPLE_CHECK_H
#define STRATA_TEST_SAMPLE_CHECK_H

#include <stdio.h>
#include <string.h>

struct sample_entry {
    char section[512];
    char key[512];
    char value[512];
};

/* Read every `key = value` or `# key = value` line of the sample. */
static size_t read_sample(const char *path, struct sample_entry *out, size_t max)
{
    char line[512], section[512] = "";
    size_t n = 0;
    FILE *fp = fopen(path, "r");

    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp)) {
        char *p = line, *eq, *k, *v, *end;

        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '[') {
            end = strchr(line, ']');
            assert_non_null(end);
            *end = '\0';
            snprintf(section, sizeof(section), "%s", line + 1);
            continue;
        }
        if (*p == '#')
            p += (p[1] == ' ') ? 2 : 1;
        k = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
            p++;
        if (p == k || strncmp(p, " =", 2) != 0)
            continue;
        eq = p + 2;
        *p = '\0';
        v = eq + strspn(eq, " ");
        assert_true(n < max);
        snprintf(out[n].section, sizeof(out[n].section), "%s", section);
        snprintf(out[n].key, sizeof(out[n].key), "%s", k);
        snprintf(out[n].value, sizeof(out[n].value), "%s", v);
        n++;
    }
    fclose(fp);
    return n;
}

/* Fail unless the sample shows every option of `table` under its section,
 * with its built-in default as the value. */
static void assert_sample_documents(const struct st_opt *table)
{
    static struct sample_entry entries[256];
    size_t n = read_sample(STRATA_SOURCE_DIR "/etc/strata.conf.sample", entries, 256);

    for (const struct st_opt *o = table; o->section; o++) {
        const struct sample_entry *e = NULL;

        for (size_t i = 0; i < n && !e; i++)
            if (strcmp(entries[i].section, o->section) == 0 && strcmp(entries[i].key, o->key) == 0)
                e = &entries[i];
        if (!e)
            fail_msg("etc/strata.conf.sample does not document [%s] %s", o->section, o->key);
        /* The value shown is the built-in default (or nothing, when there is none). */
        if (strcmp(e->value, o->def ? o->def : "") != 0)
            fail_msg("etc/strata.conf.sample shows [%s] %s = \"%s\", the default is \"%s\"",
                     o->section, o->key, e->value, o->def ? o->def : "");
    }
}

#endif
