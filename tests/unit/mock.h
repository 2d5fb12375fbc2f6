/* mock.h — link-time test doubles, after SPDK's include/spdk_internal/mock.h.
 * A test (or a fake_*.c it uses) replaces a function of the code under test
 * by defining __wrap_<fn>; tests/CMakeLists.txt finds every ST_WRAP/ST_STUB/
 * ST_MOCK(fn, ...) in those files and links the test with -Wl,--wrap=<fn>, so
 * every call to fn from another object file (the service's, the metadata
 * store's) lands in the double.  Four kinds:
 *   ST_WRAP(fn, ret, args) { body }  a hand-written double (a fake with state);
 *   ST_STUB(fn, ret, args, val)      returns ut_<fn> (starts as val; set it
 *                                    with ST_SET(fn, v), back with ST_RESET);
 *   ST_STUB_V(fn, args)              does nothing (void functions);
 *   ST_MOCK(fn, ret, args)           returns cmocka's mock() of the test:
 *                                    will_return(__wrap_<fn>, v) scripts it.
 * Include after cmocka.h when ST_MOCK is used. */
#ifndef STRATA_TEST_MOCK_H
#define STRATA_TEST_MOCK_H

/* Declared then defined, so -Wmissing-prototypes stays on for doubles too. */
#define ST_WRAP(fn, ret, args)                                                                     \
    ret __wrap_##fn args;                                                                          \
    ret __wrap_##fn args

#define ST_STUB(fn, ret, args, val)                                                                \
    static ret ut_##fn = (val);                                                                    \
    static const ret ut_##fn##_default = (val);                                                    \
    ST_WRAP(fn, ret, args)                                                                         \
    {                                                                                              \
        return ut_##fn;                                                                            \
    }

#define ST_STUB_V(fn, args)                                                                        \
    ST_WRAP(fn, void, args) {}

#define ST_MOCK(fn, ret, args)                                                                     \
    ST_WRAP(fn, ret, args)                                                                         \
    {                                                                                              \
        return (ret)mock();                                                                        \
    }

#define ST_SET(fn, v) (ut_##fn = (v))
#define ST_RESET(fn) (ut_##fn = ut_##fn##_default)

#endif
