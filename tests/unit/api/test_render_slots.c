/* tests/unit/api/test_render_slots.c — the slots answer written directly
 * (bk_render_slots_text) is byte for byte the tree's (bk_json_dump of
 * bk_render_slots), over zones with every kind of change: one-hour and
 * half-hour switches, +05:45 and +12:45 zones, negative DST, a skipped
 * day, switches at midnight (a fall-back across midnight takes the tree's
 * way), double changes in a month, and hostile slugs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/json.h"
#include "api/render.h"
#include "base/arena.h"
#include "base/time.h"
#include "core/tz.h"

static const char *const zones[] = {
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe", /* 30-minute switch */
    "Pacific/Chatham",     /* +12:45 / +13:45 */
    "Asia/Kathmandu",      /* +05:45 */
    "Pacific/Apia",        /* skipped 2011-12-30 */
    "Africa/Casablanca",   /* DST paused for Ramadan: two changes a month */
    "Europe/Dublin",       /* negative DST in the tz database */
    "America/Havana",      /* switches at midnight */
    "America/Sao_Paulo",   /* fell back at midnight until 2019 */
    "America/St_Johns",    /* -03:30 */
    "Antarctica/Troll",    /* +00 / +02 */
    "Asia/Tehran",
    "Asia/Gaza",
};

/* The answer both ways; fails with the first difference. */
static void same(const char *slug, const struct bk_tz *tz,
                 const struct bk_slot *slots, size_t n, const char *what)
{
    struct bk_arena arena;
    json_t *tree = bk_render_slots(slug, tz, slots, n);
    size_t old_len = 0, new_len = 0, i = 0;
    char *old_text, *new_text;

    bk_arena_init(&arena);
    old_text = bk_json_dump(&arena, tree, &old_len);
    json_decref(tree);
    new_text = bk_render_slots_text(&arena, slug, tz, slots, n, &new_len);
    assert_non_null(old_text);
    assert_non_null(new_text);
    while (i < old_len && i < new_len && old_text[i] == new_text[i])
        i++;
    if (old_len != new_len || i < old_len)
        fail_msg("%s (%s, %zu slots): differ at byte %zu of %zu/%zu:\n"
                 "tree:   %.80s\ndirect: %.80s",
                 what, bk_tz_name(tz), n, i, old_len, new_len,
                 old_text + (i > 20 ? i - 20 : 0),
                 new_text + (i > 20 ? i - 20 : 0));
    assert_int_equal(strlen(new_text), new_len);
    bk_arena_release(&arena);
}

/* Answers of up to 3,000 slots, start every step_min, each dur_min long,
 * from year y0 to y1 (UTC years, roughly), in every zone. */
static void sweep(int y0, int y1, int step_min, int dur_min)
{
    enum { CHUNK = 3000 };
    static struct bk_slot slots[CHUNK];
    int64_t from = ((int64_t)(y0 - 1970) * 36524 / 100) * BK_SECS_PER_DAY;
    int64_t to = ((int64_t)(y1 + 1 - 1970) * 36524 / 100) * BK_SECS_PER_DAY;
    char what[64];

    snprintf(what, sizeof(what), "%d-%d every %d min, %d min", y0, y1, step_min,
             dur_min);
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        const struct bk_tz *tz = bk_tz_get(zones[z]);
        int64_t t = from;

        assert_non_null(tz);
        while (t < to) {
            size_t n = 0;
            for (; n < CHUNK && t < to; n++, t += (int64_t)step_min * 60) {
                slots[n].start_utc = t;
                slots[n].end_utc = t + (int64_t)dur_min * 60;
            }
            same("intro", tz, slots, n, what);
        }
    }
}

static void test_years_at_every_time_of_day(void **state)
{
    (void)state;
    sweep(2008, 2028, 241, 30);  /* 4 h 01: drifts through the day */
    sweep(2011, 2011, 23, 1);    /* 1-minute slots */
    sweep(2016, 2019, 133, 150); /* longer than the step */
    sweep(2024, 2026, 1440, 90); /* one a day */
}

/* Every change of offset of every zone from 2010 to 2027, found here
 * without bk_tz_offset_span: an answer of 1-minute slots from three hours
 * before it to three hours after, and one of 50-minute slots every 10
 * minutes whose ends cross it before their starts do. */
static void test_every_change_minute_by_minute(void **state)
{
    enum { SPAN = 3 * 60 };
    static struct bk_slot a[2 * SPAN], b[2 * SPAN];
    int64_t from = 1262304000, to = 1830297600; /* 2010 to 2028 */
    size_t changes = 0;

    (void)state;
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        const struct bk_tz *tz = bk_tz_get(zones[z]);
        for (int64_t t = from; t < to; t += BK_SECS_PER_DAY) {
            int64_t lo = t, hi = t + BK_SECS_PER_DAY, at;
            size_t nb = 0;
            if (bk_tz_offset_at(tz, lo) == bk_tz_offset_at(tz, hi))
                continue;
            while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;
                if (bk_tz_offset_at(tz, mid) == bk_tz_offset_at(tz, lo))
                    lo = mid;
                else
                    hi = mid;
            }
            at = hi;
            for (int i = 0; i < 2 * SPAN; i++) {
                int64_t s = at - SPAN * 60 + (int64_t)i * 60;
                a[i].start_utc = s;
                a[i].end_utc = s + 60;
                if (i % 10 == 0) {
                    b[nb].start_utc = s - 50 * 60;
                    b[nb].end_utc = s;
                    nb++;
                }
            }
            same("intro", tz, a, 2 * SPAN, "around a change");
            same("intro", tz, b, nb, "ends crossing a change");
            changes++;
        }
    }
    assert_true(changes > 300);
}

static void test_empty_and_hostile_strings(void **state)
{
    static const char *const slugs[] = {"intro",
                                        "a\"b\\c",
                                        "tab\there\nnl\rcr\bbs\fff",
                                        "\x01\x02\x1f\x7f",
                                        "Zoë ☃ \xf0\x9f\x98\x80",
                                        "/slash/",
                                        ""};
    struct bk_slot one = {1774746000, 1774747800}; /* 2026-03-29 */
    const struct bk_tz *berlin = bk_tz_get("Europe/Berlin");

    (void)state;
    for (size_t i = 0; i < sizeof(slugs) / sizeof(slugs[0]); i++) {
        same(slugs[i], berlin, &one, 1, "a hostile slug");
        same(slugs[i], bk_tz_utc(), NULL, 0, "no slots");
    }
    same(NULL, berlin, &one, 1, "no slug (null)");
    same(NULL, berlin, NULL, 0, "no slug, no slots");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_hostile_strings),
        cmocka_unit_test(test_years_at_every_time_of_day),
        cmocka_unit_test(test_every_change_minute_by_minute),
    };

    bk_tz_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
