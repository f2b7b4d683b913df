/* tests/unit/core/test_schedule.c — core/schedule.c: bk_schedule_check and
 * the field names in its errors; weekday names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/time.h"
#include "core/schedule.h"

static const char *check(const struct bk_schedule *s, enum bk_err *e)
{
    static struct bk_errbuf err;

    bk_errbuf_clear(&err);
    *e = bk_schedule_check(s, &err);
    return err.field;
}

static void test_valid(void **state)
{
    static const struct bk_weekly_range weekly[] = {
        {0, 540, 1020}, {0, 600, 720}, /* overlapping: they join */
        {1, 0, 1440},   {6, 1380, 1440}, {2, 0, 1},
    };
    static const struct bk_date_override ov[] = {
        {20520, false, 600, 720},
        {20520, false, 780, 900}, /* two ranges on one date */
        {20521, true, 0, 0},
        {20522, true, 9999, -3}, /* times of an unavailable date unused */
    };
    struct bk_schedule s = {"Europe/Berlin", weekly, 5, ov, 4};
    struct bk_schedule empty = {"UTC", NULL, 0, NULL, 0};
    enum bk_err e;

    (void)state;
    check(&s, &e);
    assert_int_equal(e, BK_OK);
    check(&empty, &e);
    assert_int_equal(e, BK_OK);
    assert_int_equal(bk_schedule_check(&s, NULL), BK_OK);
}

struct bad_weekly {
    struct bk_weekly_range r;
    const char *field;
};

static void test_weekly_errors(void **state)
{
    static const struct bad_weekly bad[] = {
        {{-1, 540, 600}, "weekly[1].day"}, {{7, 540, 600}, "weekly[1].day"},
        {{0, 600, 600}, "weekly[1].end"},  {{0, 600, 540}, "weekly[1].end"},
        {{0, 600, 1441}, "weekly[1].end"}, {{0, 1440, 1440}, "weekly[1].end"},
        {{0, -1, 600}, "weekly[1]."},      {{0, 1440, 1500}, "weekly[1]."},
    };
    struct bk_weekly_range w[2] = {{0, 540, 600}};
    struct bk_schedule s = {"UTC", w, 2, NULL, 0};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum bk_err e;
        const char *field;
        w[1] = bad[i].r;
        field = check(&s, &e);
        if (e != BK_E_INVALID ||
            strncmp(field, bad[i].field, strlen(bad[i].field)) != 0)
            fail_msg("case %zu: error %d field \"%s\", want \"%s\"", i, e,
                     field, bad[i].field);
    }
}

static void test_override_errors(void **state)
{
    struct bk_date_override ov[3] = {
        {20520, false, 600, 720},
        {20521, false, 600, 720},
    };
    struct bk_schedule s = {"UTC", NULL, 0, ov, 3};
    enum bk_err e;
    const char *field;

    (void)state;
    /* Ranges out of bounds or reversed. */
    ov[2] = (struct bk_date_override){20522, false, 720, 600};
    field = check(&s, &e);
    assert_int_equal(e, BK_E_INVALID);
    assert_string_equal(field, "overrides[2].end");
    ov[2] = (struct bk_date_override){20522, false, 600, 1441};
    field = check(&s, &e);
    assert_int_equal(e, BK_E_INVALID);
    assert_string_equal(field, "overrides[2].end");
    ov[2] = (struct bk_date_override){20522, false, 600, 1440};
    check(&s, &e);
    assert_int_equal(e, BK_OK);
    /* A date with ranges that is also unavailable, in either order. */
    ov[2] = (struct bk_date_override){20521, true, 0, 0};
    field = check(&s, &e);
    assert_int_equal(e, BK_E_INVALID);
    assert_string_equal(field, "overrides[2].date");
    ov[0] = (struct bk_date_override){20522, true, 0, 0};
    ov[2] = (struct bk_date_override){20522, false, 60, 120};
    field = check(&s, &e);
    assert_int_equal(e, BK_E_INVALID);
    assert_string_equal(field, "overrides[2].date");
}

static void test_caps(void **state)
{
    static struct bk_weekly_range w[BK_SCHEDULE_MAX_WEEKLY + 1];
    static struct bk_date_override ov[BK_SCHEDULE_MAX_OVERRIDES + 1];
    struct bk_schedule s = {"UTC", w, BK_SCHEDULE_MAX_WEEKLY, ov, 0};
    enum bk_err e;
    const char *field;

    (void)state;
    for (size_t i = 0; i <= BK_SCHEDULE_MAX_WEEKLY; i++)
        w[i] = (struct bk_weekly_range){(int)(i % 7), 0, 60};
    for (size_t i = 0; i <= BK_SCHEDULE_MAX_OVERRIDES; i++)
        ov[i] = (struct bk_date_override){20000 + (int64_t)i, false, 0, 60};
    check(&s, &e);
    assert_int_equal(e, BK_OK);
    s.n_weekly++;
    field = check(&s, &e);
    assert_int_equal(e, BK_E_INVALID);
    assert_string_equal(field, "weekly");
    s.n_weekly = 0;
    s.n_overrides = BK_SCHEDULE_MAX_OVERRIDES;
    check(&s, &e);
    assert_int_equal(e, BK_OK);
    s.n_overrides++;
    field = check(&s, &e);
    assert_int_equal(e, BK_E_INVALID);
    assert_string_equal(field, "overrides");
}

static void test_weekday_names(void **state)
{
    static const char *const names[] = {"mon", "tue", "wed", "thu",
                                        "fri", "sat", "sun"};

    (void)state;
    for (int i = 0; i < 7; i++) {
        assert_string_equal(bk_weekday_name(i), names[i]);
        assert_int_equal(bk_weekday_parse(names[i]), i);
    }
    /* Day numbers agree with base/time.c: 2026-06-15 is a Monday. */
    assert_int_equal(bk_weekday(bk_days_from_civil(2026, 6, 15)),
                     bk_weekday_parse("mon"));
    assert_string_equal(bk_weekday_name(7), "?");
    assert_string_equal(bk_weekday_name(-1), "?");
    assert_int_equal(bk_weekday_parse("Mon"), -1);
    assert_int_equal(bk_weekday_parse("monday"), -1);
    assert_int_equal(bk_weekday_parse(""), -1);
    assert_int_equal(bk_weekday_parse(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_weekly_errors),
        cmocka_unit_test(test_override_errors),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_weekday_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
