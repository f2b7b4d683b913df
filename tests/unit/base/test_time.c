/* tests/unit/base/test_time.c — base/time.c: civil dates, weekdays, date
 * and HH:MM parsing, RFC 3339. Constants were computed independently
 * (Python's datetime) and the day-by-day walk uses its own leap-year rule. */
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/time.h"

static void test_floordiv(void **state)
{
    (void)state;
    assert_int_equal(bk_floordiv(0, 60), 0);
    assert_int_equal(bk_floordiv(59, 60), 0);
    assert_int_equal(bk_floordiv(60, 60), 1);
    assert_int_equal(bk_floordiv(-1, 60), -1);
    assert_int_equal(bk_floordiv(-60, 60), -1);
    assert_int_equal(bk_floordiv(-61, 60), -2);
    assert_int_equal(bk_floordiv(1, -60), -1);
    assert_int_equal(bk_floordiv(-1, -60), 0);
}

static void test_known_days(void **state)
{
    static const struct {
        int y, m, d;
        int64_t days;
        int weekday; /* 0 = Monday */
    } known[] = {
        {1970, 1, 1, 0, 3},       {1969, 12, 31, -1, 2},
        {2000, 3, 1, 11017, 2},   {2026, 3, 8, 20520, 6},
        {1, 1, 1, -719162, 0},    {9999, 12, 31, 2932896, 4},
        {1600, 1, 1, -135140, 5}, {2400, 12, 31, 157419, 6},
        {1900, 3, 1, -25508, 3},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        int y, m, d;
        assert_int_equal(bk_days_from_civil(known[i].y, known[i].m, known[i].d),
                         known[i].days);
        bk_civil_from_days(known[i].days, &y, &m, &d);
        assert_int_equal(y, known[i].y);
        assert_int_equal(m, known[i].m);
        assert_int_equal(d, known[i].d);
        assert_int_equal(bk_weekday(known[i].days), known[i].weekday);
    }
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Walks every day from 0001-01-01 to 9999-12-31: each day number maps to
 * the next calendar date, and back; weekdays cycle. */
static void test_civil_walk(void **state)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = 1, m = 1, d = 1, wd = 0;

    (void)state;
    for (int64_t days = -719162; days <= 2932896; days++) {
        int yy, mm, dd;
        bk_civil_from_days(days, &yy, &mm, &dd);
        if (yy != y || mm != m || dd != d)
            fail_msg("day %lld: %d-%d-%d, want %d-%d-%d", (long long)days, yy,
                     mm, dd, y, m, d);
        if (bk_days_from_civil(y, m, d) != days)
            fail_msg("%d-%d-%d: not day %lld", y, m, d, (long long)days);
        if (bk_weekday(days) != wd)
            fail_msg("day %lld: weekday %d, want %d", (long long)days,
                     bk_weekday(days), wd);
        if (!bk_date_valid(y, m, d))
            fail_msg("%d-%d-%d not valid", y, m, d);
        wd = (wd + 1) % 7;
        if (++d > (m == 2 && leap(y) ? 29 : dim[m - 1])) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    /* Far outside the valid range the arithmetic still round-trips. */
    for (int64_t days = -100000000; days <= 100000000; days += 9999991) {
        int yy, mm, dd;
        bk_civil_from_days(days, &yy, &mm, &dd);
        assert_int_equal(bk_days_from_civil(yy, mm, dd), days);
    }
}

static void test_date_valid(void **state)
{
    (void)state;
    assert_true(bk_date_valid(2024, 2, 29));
    assert_true(bk_date_valid(2000, 2, 29));
    assert_false(bk_date_valid(2026, 2, 29));
    assert_false(bk_date_valid(1900, 2, 29));
    assert_false(bk_date_valid(2026, 4, 31));
    assert_true(bk_date_valid(2026, 12, 31));
    assert_false(bk_date_valid(2026, 13, 1));
    assert_false(bk_date_valid(2026, 0, 1));
    assert_false(bk_date_valid(2026, 1, 0));
    assert_false(bk_date_valid(0, 1, 1));
    assert_true(bk_date_valid(1, 1, 1));
    assert_true(bk_date_valid(9999, 12, 31));
    assert_false(bk_date_valid(10000, 1, 1));
    assert_false(bk_date_valid(-1, 1, 1));
}

static void test_date_parse(void **state)
{
    static const char *const malformed[] = {
        "",
        "2026-2-03",
        "2026/02/03",
        "20260203",
        " 2026-02-03",
        "2026-02-03 ",
        "2026-02-03T",
        "2026-0a-01",
        "+2026-01-01",
        "2026-02-3x",
        "26-02-03",
        "2026--02-03",
        "2026-02-03\n",
        "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x96"
        "-02-03",
        "-026-02-03",
    };
    static const char *const invalid[] = {
        "2026-02-30", "2026-02-29", "1900-02-29", "2026-13-01",
        "2026-00-10", "2026-04-31", "0000-01-01", "2026-01-00",
    };
    int64_t days = 77;
    char out[11];

    (void)state;
    assert_int_equal(bk_date_parse("2026-03-08", &days), BK_OK);
    assert_int_equal(days, 20520);
    assert_int_equal(bk_date_parse("2024-02-29", &days), BK_OK);
    assert_int_equal(bk_date_parse("0001-01-01", &days), BK_OK);
    assert_int_equal(days, -719162);
    assert_int_equal(bk_date_parse(NULL, &days), BK_E_MALFORMED);
    days = 77;
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
        if (bk_date_parse(malformed[i], &days) != BK_E_MALFORMED)
            fail_msg("\"%s\" should be malformed", malformed[i]);
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        if (bk_date_parse(invalid[i], &days) != BK_E_INVALID)
            fail_msg("\"%s\" should be invalid", invalid[i]);
    assert_int_equal(days, 77); /* untouched by failures */

    bk_date_format(0, out);
    assert_string_equal(out, "1970-01-01");
    bk_date_format(20520, out);
    assert_string_equal(out, "2026-03-08");
    bk_date_format(-719162, out);
    assert_string_equal(out, "0001-01-01");
    bk_date_format(2932896, out);
    assert_string_equal(out, "9999-12-31");
}

static void test_hhmm(void **state)
{
    static const char *const bad[] = {
        "",     "24:01",  "25:00",  "12:60", "9:00",  "09:0",  "09-00",
        "0900", "09:00 ", " 09:00", "ab:cd", "-1:00", "99:99", "09:00:00",
    };
    int min = -7;
    char out[6];

    (void)state;
    assert_int_equal(bk_hhmm_parse("00:00", false, &min), BK_OK);
    assert_int_equal(min, 0);
    assert_int_equal(bk_hhmm_parse("23:59", false, &min), BK_OK);
    assert_int_equal(min, 1439);
    assert_int_equal(bk_hhmm_parse("09:30", true, &min), BK_OK);
    assert_int_equal(min, 570);
    assert_int_equal(bk_hhmm_parse("24:00", true, &min), BK_OK);
    assert_int_equal(min, 1440);
    min = -7;
    assert_int_equal(bk_hhmm_parse("24:00", false, &min), BK_E_MALFORMED);
    assert_int_equal(min, -7);
    assert_int_equal(bk_hhmm_parse(NULL, true, &min), BK_E_MALFORMED);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (bk_hhmm_parse(bad[i], true, &min) != BK_E_MALFORMED)
            fail_msg("\"%s\" should be malformed (24:00 allowed)", bad[i]);
        if (bk_hhmm_parse(bad[i], false, &min) != BK_E_MALFORMED)
            fail_msg("\"%s\" should be malformed", bad[i]);
    }

    bk_hhmm_format(0, out);
    assert_string_equal(out, "00:00");
    bk_hhmm_format(615, out);
    assert_string_equal(out, "10:15");
    bk_hhmm_format(1439, out);
    assert_string_equal(out, "23:59");
    bk_hhmm_format(1440, out);
    assert_string_equal(out, "24:00");
    bk_hhmm_format(-1, out);
    assert_string_equal(out, "00:00");
    bk_hhmm_format(1441, out);
    assert_string_equal(out, "00:00");
}

static void test_rfc3339_parse(void **state)
{
    static const struct {
        const char *s;
        int64_t utc;
        int32_t offset;
    } good[] = {
        {"2026-03-08T07:30:00Z", 1772955000, 0},
        {"2026-03-08t07:30:00z", 1772955000, 0},
        {"2026-03-08T02:30:00-05:00", 1772955000, -5 * 3600},
        {"2026-03-08T13:15:00+05:45", 1772955000, 5 * 3600 + 45 * 60},
        {"2026-03-08T00:15:00+05:45", 1772908200, 5 * 3600 + 45 * 60},
        {"2026-03-08T00:00:00+05:30", 1772908200, 5 * 3600 + 30 * 60},
        {"2026-03-08T07:30:00+00:00", 1772955000, 0},
        {"2026-03-08T07:30:00-00:00", 1772955000, 0},
        {"2026-03-08T07:30:00.5Z", 1772955000, 0},
        {"2026-03-08T07:30:00.999999999Z", 1772955000, 0},
        {"2026-03-08T07:30:00.000+00:00", 1772955000, 0},
        {"2026-11-01T01:30:00-04:00", 1793511000, -4 * 3600},
        {"9999-12-31T23:59:59Z", 253402300799LL, 0},
        {"0001-01-01T00:00:00Z", -62135596800LL, 0},
        {"1970-01-01T00:00:00Z", 0, 0},
        {"1970-01-01T00:00:00+23:59", -(23 * 3600 + 59 * 60),
         23 * 3600 + 59 * 60},
    };
    static const char *const bad[] = {
        "",
        "2026-03-08",
        "2026-03-08T07:30:00",
        "2026-03-08T07:30Z",
        "2026-03-08 07:30:00Z",
        "2026-03-08X07:30:00Z",
        "2026-03-08T07:30:00.Z",
        "2026-03-08T07:30:00,5Z",
        "2026-03-08T07:30:00+0545",
        "2026-03-08T07:30:00+05",
        "2026-03-08T07:30:00+05:",
        "2026-03-08T07:30:00+05:4",
        "2026-03-08T07:30:00+",
        "2026-03-08T07:30:00+24:00",
        "2026-03-08T07:30:00+05:60",
        "2026-03-08T07:30:00+05:45:00",
        "2026-03-08T07:30:00ZZ",
        "2026-03-08T07:30:00Z ",
        " 2026-03-08T07:30:00Z",
        "2026-03-08T07:30:00UTC",
        "2026-02-30T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2026-03-08T24:00:00Z",
        "2026-03-08T23:60:00Z",
        "2026-03-08T23:59:60Z",
        "2026-3-08T07:30:00Z",
        "+2026-03-08T07:30:00Z",
        "2026-03-08T07:30:00.1234567890123456789012Z",
        "2026-03-08T07:30:00\nZ",
        "2026-03-08T07:30:00Z\n",
        "2026-03-08T07:30:00-\xe2\x80\x8b"
        "5:00",
        "2026-03-08T07:30:00%00",
        "\xef\xbb\xbf"
        "2026-03-08T07:30:00Z",
        /* Instants outside 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z,
         * which RFC 3339 cannot write in UTC. */
        "9999-12-31T23:59:59-00:01",
        "9999-12-31T23:00:00-05:00",
        "0001-01-01T00:00:00+00:01",
        "0001-01-01T05:00:00+05:30",
    };
    int64_t utc = 42;
    int32_t off = 42;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (bk_rfc3339_parse(good[i].s, &utc, &off) != BK_OK)
            fail_msg("\"%s\" should parse", good[i].s);
        if (utc != good[i].utc || off != good[i].offset)
            fail_msg("\"%s\": %lld %d, want %lld %d", good[i].s, (long long)utc,
                     (int)off, (long long)good[i].utc, (int)good[i].offset);
    }
    assert_int_equal(bk_rfc3339_parse("2026-03-08T07:30:00Z", NULL, NULL),
                     BK_OK);
    assert_int_equal(bk_rfc3339_parse(NULL, &utc, &off), BK_E_MALFORMED);
    utc = 42;
    off = 42;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (bk_rfc3339_parse(bad[i], &utc, &off) != BK_E_MALFORMED)
            fail_msg("\"%s\" should be malformed", bad[i]);
    assert_int_equal(utc, 42);
    assert_int_equal(off, 42);
}

static void test_rfc3339_format(void **state)
{
    char out[BK_RFC3339_MAX];

    (void)state;
    bk_rfc3339_format_utc(1772955000, out);
    assert_string_equal(out, "2026-03-08T07:30:00Z");
    bk_rfc3339_format_utc(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    bk_rfc3339_format_utc(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59Z");
    bk_rfc3339_format_utc(253402300799LL, out);
    assert_string_equal(out, "9999-12-31T23:59:59Z");
    bk_rfc3339_format_offset(1772955000, 5 * 3600 + 45 * 60, out);
    assert_string_equal(out, "2026-03-08T13:15:00+05:45");
    bk_rfc3339_format_offset(1772955000, -4 * 3600, out);
    assert_string_equal(out, "2026-03-08T03:30:00-04:00");
    bk_rfc3339_format_offset(1772955000, -(3 * 3600 + 30 * 60), out);
    assert_string_equal(out, "2026-03-08T04:00:00-03:30");
    bk_rfc3339_format_offset(1772908200, 0, out);
    assert_string_equal(out, "2026-03-07T18:30:00+00:00");
    bk_rfc3339_format_offset(1772908200, 5 * 3600 + 30 * 60, out);
    assert_string_equal(out, "2026-03-08T00:00:00+05:30");

    /* Parse and format round-trip over years and offsets. */
    for (int64_t t = -62135596800LL + 14 * 3600; t < 253402300799LL - 14 * 3600;
         t += 7777777) {
        static const int32_t offs[] = {0,     3600,   -18000, 20700,
                                       19800, -12600, 50400,  -43200};
        for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
            int64_t back;
            int32_t off;
            bk_rfc3339_format_offset(t, offs[i], out);
            if (bk_rfc3339_parse(out, &back, &off) != BK_OK || back != t ||
                off != offs[i])
                fail_msg("%lld at %d: \"%s\" does not round-trip", (long long)t,
                         (int)offs[i], out);
        }
        bk_rfc3339_format_utc(t, out);
        {
            int64_t back;
            assert_int_equal(bk_rfc3339_parse(out, &back, NULL), BK_OK);
            assert_int_equal(back, t);
        }
    }
}

static void test_clocks(void **state)
{
    int64_t a, b;

    (void)state;
    /* After 2020-01-01 and before 2100: the machine's clock is sane. */
    assert_true(bk_now_utc() > 1577836800);
    assert_true(bk_now_utc() < 4102444800LL);
    assert_true(bk_now_ms() / 1000 >= bk_now_utc() - 1);
    a = bk_mono_ms();
    b = bk_mono_ms();
    assert_true(b >= a);
}

/* The hand-written formatting is printf's, byte for byte, from year -20
 * to 12000 and over every offset a zone has had and then some. */
static void test_rfc3339_format_is_printfs(void **state)
{
    char out[BK_RFC3339_MAX], ref[64];

    (void)state;
    for (int64_t t = -62798400000LL; t < 316539475200LL;
         t += 86400LL * 977 + 3671) {
        for (int32_t off = -26 * 3600; off <= 26 * 3600; off += 15 * 60 + 7) {
            int64_t wall = t + off, days, sod;
            int32_t a = off < 0 ? -off : off;
            int y, m, d;

            days = bk_floordiv(wall, BK_SECS_PER_DAY);
            sod = wall - days * BK_SECS_PER_DAY;
            bk_civil_from_days(days, &y, &m, &d);
            snprintf(ref, sizeof(ref),
                     "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", y % 10000, m,
                     d, (int)(sod / 3600), (int)(sod / 60 % 60),
                     (int)(sod % 60), off < 0 ? '-' : '+', (int)(a / 3600),
                     (int)(a / 60 % 60));
            bk_rfc3339_format_offset(t, off, out);
            assert_string_equal(out, ref);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_floordiv),
        cmocka_unit_test(test_known_days),
        cmocka_unit_test(test_civil_walk),
        cmocka_unit_test(test_date_valid),
        cmocka_unit_test(test_date_parse),
        cmocka_unit_test(test_hhmm),
        cmocka_unit_test(test_rfc3339_parse),
        cmocka_unit_test(test_rfc3339_format),
        cmocka_unit_test(test_rfc3339_format_is_printfs),
        cmocka_unit_test(test_clocks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
