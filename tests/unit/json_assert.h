/* json_assert.h — unit-test helpers: compare JSON documents and their key sets
 * (for checking views against recorded OpenStack fixtures).
 * Include after cmocka.h and jansson.h. */
#ifndef STRATA_TEST_JSON_ASSERT_H
#define STRATA_TEST_JSON_ASSERT_H

#include <stdlib.h>
#include <string.h>

/* The sorted member names of an object, comma-joined, for readable asserts. */
static char *keys_of(const json_t *obj)
{
    const char *names[128];
    size_t n = 0, len = 1;
    const char *k;
    json_t *v;
    char *out;

    json_object_foreach((json_t *)obj, k, v)
    {
        assert_true(n < 128);
        names[n++] = k;
        len += strlen(k) + 1;
    }
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    }
    out = calloc(1, len);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        strcat(out, names[i]);
        if (i + 1 < n)
            strcat(out, ",");
    }
    return out;
}

static void assert_same_keys(const json_t *a, const json_t *b)
{
    char *ka = keys_of(a), *kb = keys_of(b);

    assert_string_equal(ka, kb);
    free(ka);
    free(kb);
}

static void assert_json_equal(const json_t *got, const json_t *want)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);
        print_error("got:  %s\nwant: %s\n", g, w);
        free(g);
        free(w);
        fail();
    }
}

#endif
