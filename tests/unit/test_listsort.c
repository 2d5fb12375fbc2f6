/* test_listsort.c — the one order of API lists: value ranks, exact integers,
 * several keys with directions, a getter, marker/offset/limit paging. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strata/listsort.h"

static json_t *J(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    return v;
}

static int cmp_text(const char *a, const char *b)
{
    json_t *x = J(a), *y = J(b);
    int c = st_json_value_cmp(x, y);
    json_decref(x);
    json_decref(y);
    return c;
}

static void test_value_order(void **state)
{
    (void)state;
    /* null < booleans < numbers < strings < containers */
    assert_int_equal(cmp_text("null", "false"), -1);
    assert_int_equal(cmp_text("false", "true"), -1);
    assert_int_equal(cmp_text("true", "0"), -1);
    assert_int_equal(cmp_text("99", "\"a\""), -1);
    assert_int_equal(cmp_text("\"zz\"", "[]"), -1);
    assert_int_equal(cmp_text("{}", "[1]"), 0);
    assert_int_equal(st_json_value_cmp(NULL, json_null()), 0);
    /* integers exactly, even where doubles cannot tell them apart */
    assert_int_equal(cmp_text("9007199254740993", "9007199254740992"), 1);
    assert_int_equal(cmp_text("1.5", "2"), -1);
    assert_int_equal(cmp_text("\"b\"", "\"abc\""), 1);
    assert_int_equal(cmp_text("\"abc\"", "\"abc\""), 0);
}

/* "project" from either member, as blockd reads records of two shapes */
static const json_t *project_of(const json_t *rec, const char *key, void *arg)
{
    const json_t *v = json_object_get(rec, "project_id");
    (void)arg;
    if (strcmp(key, "project") != 0)
        return json_object_get(rec, key);
    return v ? v : json_object_get(rec, "tenant");
}

static const char *ids(const json_t *recs, char *buf, size_t len)
{
    size_t i;
    json_t *r;

    buf[0] = 0;
    json_array_foreach(recs, i, r)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? "," : "",
                 json_string_value(json_object_get(r, "id")));
    return buf;
}

static void test_sort_keys(void **state)
{
    char buf[64];
    json_t *recs = J("[{\"id\":\"a\",\"size\":2,\"name\":\"xx\"},{\"id\":\"b\",\"size\":1,\"name\":\"y\"},"
                     "{\"id\":\"c\",\"size\":2,\"name\":\"zzz\"},{\"id\":\"d\",\"name\":\"w\"}]");
    const struct st_sort_key k1[] = { { "size", true }, { "id", false } };
    struct st_sort s1 = { k1, 2, NULL, NULL };
    (void)state;

    assert_int_equal(st_json_sort(recs, &s1), 0);
    assert_string_equal(ids(recs, buf, sizeof(buf)), "a,c,b,d");   /* absent sorts lowest */
    json_decref(recs);
    recs = J("[{\"id\":\"a\",\"tenant\":\"p2\"},{\"id\":\"b\",\"project_id\":\"p3\"},"
             "{\"id\":\"c\",\"project_id\":\"p1\"}]");
    const struct st_sort_key k2[] = { { "project", false } };
    struct st_sort s2 = { k2, 1, project_of, NULL };
    assert_int_equal(st_json_sort(recs, &s2), 0);
    assert_string_equal(ids(recs, buf, sizeof(buf)), "c,a,b");
    json_decref(recs);
}

static void test_pages(void **state)
{
    char buf[64];
    json_t *recs = J("[{\"id\":\"e\"},{\"id\":\"b\"},{\"id\":\"d\"},{\"id\":\"a\"},{\"id\":\"c\"}]");
    const struct st_sort_key k[] = { { "id", false } };
    struct st_sort s = { k, 1, NULL, NULL };
    json_t *page;
    bool more;
    (void)state;

    struct st_page_req r = { NULL, NULL, 0, 2 };
    assert_int_equal(st_json_page(recs, &s, &r, &page, &more), 0);
    assert_string_equal(ids(page, buf, sizeof(buf)), "a,b");
    assert_true(more);
    json_decref(page);
    r = (struct st_page_req){ "b", NULL, 0, 2 };
    assert_int_equal(st_json_page(recs, &s, &r, &page, &more), 0);
    assert_string_equal(ids(page, buf, sizeof(buf)), "c,d");
    assert_true(more);
    json_decref(page);
    r = (struct st_page_req){ "b", NULL, 1, 10 };   /* offset after the marker */
    assert_int_equal(st_json_page(recs, &s, &r, &page, &more), 0);
    assert_string_equal(ids(page, buf, sizeof(buf)), "d,e");
    assert_false(more);
    json_decref(page);
    /* a marker no longer listed: -ENOENT, or where its record sorts */
    r = (struct st_page_req){ "bb", NULL, 0, 10 };
    assert_int_equal(st_json_page(recs, &s, &r, &page, &more), -ENOENT);
    json_t *gone = J("{\"id\":\"bb\"}");
    r = (struct st_page_req){ "bb", gone, 0, 1 };
    assert_int_equal(st_json_page(recs, &s, &r, &page, &more), 0);
    assert_string_equal(ids(page, buf, sizeof(buf)), "c");
    assert_true(more);
    json_decref(page);
    json_decref(gone);
    r = (struct st_page_req){ "e", NULL, 5, 10 };
    assert_int_equal(st_json_page(recs, &s, &r, &page, &more), 0);
    assert_int_equal(json_array_size(page), 0);
    assert_false(more);
    json_decref(page);
    json_decref(recs);
}

static void test_url_encode(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    (void)state;

    st_url_encode(f, "a b&c=d/é~._-");
    fclose(f);
    assert_string_equal(buf, "a%20b%26c%3Dd%2F%C3%A9~._-");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_order),
        cmocka_unit_test(test_sort_keys),
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_url_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
