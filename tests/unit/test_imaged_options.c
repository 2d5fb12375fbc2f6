/* test_imaged_options.c — etc/strata.conf.sample documents every [imaged]
 * option with its default, and the table's defaults load without error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "options.h"
#include "sample_check.h"

static void test_sample_documents_imaged_options(void **state)
{
    (void)state;
    assert_sample_documents(imaged_options);
}

static void test_defaults_load(void **state)
{
    const struct st_opt *tables[] = { st_common_options, imaged_options, NULL };
    struct st_config *cfg = NULL;
    char err[256] = "";

    (void)state;
    assert_int_equal(st_config_load(NULL, tables, &cfg, err, sizeof(err)), 0);
    assert_true(st_config_bool(cfg, "imaged", "show_image_direct_url"));
    assert_true(st_config_bool(cfg, "imaged", "show_multiple_locations"));
    assert_string_equal(st_config_str(cfg, "imaged", "location_roles"), "admin,service");
    assert_int_equal(st_config_size(cfg, "imaged", "upload_block_size"), 4 << 20);
    assert_int_equal(st_config_int(cfg, "imaged", "upload_inflight"), 8);
    st_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_documents_imaged_options),
        cmocka_unit_test(test_defaults_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
