/* test_compute_options.c — etc/strata.conf.sample documents every [computed]
 * option with its default, and the table's defaults load without error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "options.h"
#include "sample_check.h"

static void test_sample_documents_compute_options(void **state)
{
    (void)state;
    assert_sample_documents(compute_options);
}

static void test_defaults_load(void **state)
{
    const struct st_opt *tables[] = { st_common_options, compute_options, NULL };
    struct st_config *cfg = NULL;
    char err[256] = "";

    (void)state;
    assert_int_equal(st_config_load(NULL, tables, &cfg, err, sizeof(err)), 0);
    assert_string_equal(st_config_str(cfg, "computed", "hypervisor"), "auto");
    assert_string_equal(st_config_str(cfg, "computed", "running_deleted_instance_action"), "log");
    assert_true(st_config_bool(cfg, "computed", "resume_guests_state_on_host_boot"));
    st_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_documents_compute_options),
        cmocka_unit_test(test_defaults_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
