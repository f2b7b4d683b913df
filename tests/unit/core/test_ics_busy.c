/* tests/unit/core/test_ics_busy.c — busy time of calendar objects: single
 * events in UTC and in a zone, transparent and cancelled ones, all-day
 * events, a weekly recurrence with an EXDATE and a moved instance, the
 * window, and hostile objects (not iCalendar, too many instances). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/time.h"
#include "core/ics_busy.h"

#define T(y, mo, d, h, mi)                                                     \
    (bk_days_from_civil(y, mo, d) * 86400 + (h)*3600 + (mi)*60)

static size_t busy(const char *text, int64_t from, int64_t to,
                   struct bk_ics_busy **out, enum bk_err want)
{
    static struct bk_arena a;
    static int init;
    size_t n = 0;

    if (!init) {
        bk_arena_init(&a);
        init = 1;
    }
    *out = NULL;
    assert_int_equal(bk_ics_busy(text, from, to, bk_tz_get("Europe/Berlin"), &a,
                                 out, &n, NULL),
                     want);
    return n;
}

#define CAL(body)                                                              \
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n" body            \
    "END:VCALENDAR\r\n"

static void test_single(void **state)
{
    struct bk_ics_busy *b;
    int64_t from = T(2026, 3, 1, 0, 0), to = T(2026, 4, 1, 0, 0);
    (void)state;

    assert_int_equal(
        busy(CAL("BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20260101T000000Z\r\n"
                 "DTSTART:20260310T090000Z\r\nDTEND:20260310T100000Z\r\n"
                 "END:VEVENT\r\n"),
             from, to, &b, BK_OK),
        1);
    assert_int_equal(b[0].start_utc, T(2026, 3, 10, 9, 0));
    assert_int_equal(b[0].end_utc, T(2026, 3, 10, 10, 0));
    assert_string_equal(b[0].uid, "a");
    /* A zone; DURATION instead of DTEND. */
    assert_int_equal(
        busy(CAL("BEGIN:VEVENT\r\nUID:b\r\nDTSTAMP:20260101T000000Z\r\n"
                 "DTSTART;TZID=Europe/"
                 "Berlin:20260310T090000\r\nDURATION:PT90M\r\n"
                 "END:VEVENT\r\n"),
             from, to, &b, BK_OK),
        1);
    assert_int_equal(b[0].start_utc, T(2026, 3, 10, 8, 0));
    assert_int_equal(b[0].end_utc, T(2026, 3, 10, 9, 30));
    /* Transparent, cancelled, outside the window: free. */
    assert_int_equal(
        busy(
            CAL("BEGIN:VEVENT\r\nUID:c\r\nDTSTART:20260310T090000Z\r\n"
                "DTEND:20260310T100000Z\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n"
                "BEGIN:VEVENT\r\nUID:d\r\nDTSTART:20260310T090000Z\r\n"
                "DTEND:20260310T100000Z\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n"
                "BEGIN:VEVENT\r\nUID:e\r\nDTSTART:20260510T090000Z\r\n"
                "DTEND:20260510T100000Z\r\nEND:VEVENT\r\n"),
            from, to, &b, BK_OK),
        0);
    /* All day: the host's midnight to midnight (Berlin, CET). */
    assert_int_equal(
        busy(CAL("BEGIN:VEVENT\r\nUID:f\r\nDTSTART;VALUE=DATE:20260312\r\n"
                 "DTEND;VALUE=DATE:20260313\r\nEND:VEVENT\r\n"),
             from, to, &b, BK_OK),
        1);
    assert_int_equal(b[0].start_utc, T(2026, 3, 11, 23, 0));
    assert_int_equal(b[0].end_utc, T(2026, 3, 12, 23, 0));
}

static void test_weekly_with_exception(void **state)
{
    struct bk_ics_busy *b;
    size_t n;
    (void)state;

    /* Mondays 10:00-11:00 Berlin from 2 March 2026, 6 times; 16 March
     * excluded; 23 March moved to 14:00. The window spans the DST change
     * (29 March): wall times stay 10:00. */
    n = busy(CAL("BEGIN:VEVENT\r\nUID:w\r\n"
                 "DTSTART;TZID=Europe/Berlin:20260302T100000\r\n"
                 "DTEND;TZID=Europe/Berlin:20260302T110000\r\n"
                 "RRULE:FREQ=WEEKLY;COUNT=6\r\n"
                 "EXDATE;TZID=Europe/Berlin:20260316T100000\r\n"
                 "END:VEVENT\r\n"
                 "BEGIN:VEVENT\r\nUID:w\r\n"
                 "RECURRENCE-ID;TZID=Europe/Berlin:20260323T100000\r\n"
                 "DTSTART;TZID=Europe/Berlin:20260323T140000\r\n"
                 "DTEND;TZID=Europe/Berlin:20260323T150000\r\n"
                 "END:VEVENT\r\n"),
             T(2026, 3, 1, 0, 0), T(2026, 5, 1, 0, 0), &b, BK_OK);
    assert_int_equal(n, 5);
    assert_int_equal(b[0].start_utc, T(2026, 3, 2, 9, 0));
    assert_int_equal(b[1].start_utc, T(2026, 3, 9, 9, 0));
    assert_int_equal(b[2].start_utc, T(2026, 3, 30, 8, 0)); /* CEST */
    assert_int_equal(b[3].start_utc, T(2026, 4, 6, 8, 0));
    assert_int_equal(b[4].start_utc, T(2026, 3, 23, 13, 0)); /* moved */
}

static void test_hostile(void **state)
{
    struct bk_ics_busy *b;
    (void)state;

    busy("not a calendar", 0, T(2030, 1, 1, 0, 0), &b, BK_E_MALFORMED);
    busy("", 0, T(2030, 1, 1, 0, 0), &b, BK_E_MALFORMED);
    /* 10,000 daily instances inside the window. */
    busy(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20260101T090000Z\r\n"
             "DTEND:20260101T100000Z\r\nRRULE:FREQ=DAILY;COUNT=10000\r\n"
             "END:VEVENT\r\n"),
         T(2026, 1, 1, 0, 0), T(2060, 1, 1, 0, 0), &b, BK_E_TOO_LARGE);
    /* Minutely forever from long ago: bounded by steps. */
    busy(CAL("BEGIN:VEVENT\r\nUID:y\r\nDTSTART:19700101T000000Z\r\n"
             "DTEND:19700101T000100Z\r\nRRULE:FREQ=MINUTELY\r\n"
             "END:VEVENT\r\n"),
         T(2026, 1, 1, 0, 0), T(2026, 2, 1, 0, 0), &b, BK_E_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single),
        cmocka_unit_test(test_weekly_with_exception),
        cmocka_unit_test(test_hostile),
    };
    bk_tz_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
