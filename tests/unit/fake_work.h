/* fake_work.h — the work pool and the clock for unit tests: st_now_ms reads a
 * clock the test sets, and jobs submitted to a st_workpool are queued here
 * until the test runs them (on its own thread, in order, each leased job's
 * lease released when it returns, as the real pool does).  Wrapped at link
 * time (mock.h). */
#ifndef STRATA_TEST_FAKE_WORK_H
#define STRATA_TEST_FAKE_WORK_H

#include <stddef.h>
#include <stdint.h>

/* The clock st_now_ms answers (starts at FAKE_EPOCH_MS). */
#define FAKE_EPOCH_MS 1800000000000LL
void fake_clock_set(int64_t ms);
void fake_clock_advance(int64_t ms);

/* Drop nothing, forget the counters and reset the clock (each test's setup);
 * jobs still queued are run first, so none leaks. */
void fake_work_reset(void);
/* The next submit fails with rc. */
void fake_work_fail_next(int rc);
/* Jobs queued and not yet run. */
size_t fake_work_pending(void);
/* Run every queued job (and those they queue) to the end: how many ran. */
size_t fake_work_run(void);
/* The record id of the last leased job submitted ("" if none), and its kind's name. */
const char *fake_work_last_id(void);
const char *fake_work_last_kind(void);

#endif
