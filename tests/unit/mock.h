/* mock.h — link-time test doubles, after SPDK's include/spdk_internal/mock.h.
 * A test (or a fake_*.c it uses) replaces a function of the code under test
 * by defining __wrap_<fn>; tests/CMakeLists.txt finds every ST_WRAP/ST_STUB
 * (fn, ...) in those files and links the test with -Wl,--wrap=<fn>, so every
 * call to fn from another object file (the service's, the metadata store's,
 * the test's own) lands in the double.  Two kinds:
 *   ST_WRAP(fn, ret, args) { body }  a hand-written double: a fake with state
 *                                    (fake_*.c), or a script of the test's
 *                                    (cmocka's mock()/check_expected() in the
 *                                    body, will_return/expect_value in the test:
 *                                    test_blockd_capacity.c);
 *   ST_STUB(fn, ret, args, val)      returns ut_<fn>, val until ST_SET(fn, v). */
#ifndef STRATA_TEST_MOCK_H
#define STRATA_TEST_MOCK_H

/* Declared then defined, so -Wmissing-prototypes stays on for doubles too. */
#define ST_WRAP(fn, ret, args)                                                                     \
    ret __wrap_##fn args;                                                                          \
    ret __wrap_##fn args

#define ST_STUB(fn, ret, args, val)                                                                \
    static ret ut_##fn = (val);                                                                    \
    ST_WRAP(fn, ret, args)                                                                         \
    {                                                                                              \
        return ut_##fn;                                                                            \
    }

#define ST_SET(fn, v) (ut_##fn = (v))

#endif
