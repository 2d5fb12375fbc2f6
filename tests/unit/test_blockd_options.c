/* test_blockd_options.c — etc/strata.conf.sample documents every [blockd]
 * option with its default, and the table's defaults load without error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "options.h"
#include "sample_check.h"

static void test_sample_documents_blockd_options(void **state)
{
    (void)state;
    assert_sample_documents(blockd_options);
}

static void test_defaults_load(void **state)
{
    const struct st_opt *tables[] = { st_common_options, blockd_options, NULL };
    struct st_config *cfg = NULL;
    char err[256] = "";

    (void)state;
    assert_int_equal(st_config_load(NULL, tables, &cfg, err, sizeof(err)), 0);
    assert_int_equal(st_config_int(cfg, "blockd", "max_clone_depth"), 5);
    assert_string_equal(st_config_str(cfg, "blockd", "max_over_subscription_ratio"), "20.0");
    assert_string_equal(st_config_str(cfg, "blockd", "image_url"), "http://127.0.0.1:9292");
    st_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_documents_blockd_options),
        cmocka_unit_test(test_defaults_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
