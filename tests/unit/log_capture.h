/* log_capture.h — unit-test helper: capture what st_log writes into a string.
 * Include after cmocka.h and strata/log.h. */
#ifndef STRATA_TEST_LOG_CAPTURE_H
#define STRATA_TEST_LOG_CAPTURE_H

#include <stdio.h>

static char *cap_buf;
static size_t cap_len;
static FILE *cap_fp;

static void capture_start(void)
{
    cap_buf = NULL;
    cap_fp = open_memstream(&cap_buf, &cap_len);
    assert_non_null(cap_fp);
    st_log_set_stream(cap_fp);
}

/* Stop capturing; returns the captured log (the caller frees it). */
static char *capture_end(void)
{
    st_log_set_stream(NULL);
    fclose(cap_fp);
    cap_fp = NULL;
    return cap_buf;
}

#endif
