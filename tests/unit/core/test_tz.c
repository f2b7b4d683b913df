/* tests/unit/core/test_tz.c — core/tz.c: offsets, local-to-UTC around the
 * 2026 DST switches (RFC 5545 §3.3.5 gap and fold rules), half- and
 * quarter-hour zones, and hostile zone names. Expected instants are written
 * out from the published tz rules, not computed by the code under test. */
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/time.h"
#include "core/tz.h"

#define H 3600
#define M 60

/* UTC seconds of a civil date and time (base/time.c, tested on its own). */
static int64_t at(int y, int mo, int d, int h, int mi)
{
    return bk_days_from_civil(y, mo, d) * BK_SECS_PER_DAY + h * H + mi * M;
}

/* Local seconds of a wall-clock time (same arithmetic, no zone). */
static int64_t wall(int y, int mo, int d, int h, int mi)
{
    return at(y, mo, d, h, mi);
}

static const struct bk_tz *zone(const char *name)
{
    const struct bk_tz *tz = bk_tz_get(name);
    assert_non_null(tz);
    return tz;
}

static void test_utc(void **state)
{
    const struct bk_tz *tz = zone("UTC");

    (void)state;
    assert_ptr_equal(tz, bk_tz_utc());
    assert_string_equal(bk_tz_name(tz), "UTC");
    assert_int_equal(bk_tz_offset_at(tz, at(2026, 7, 1, 12, 0)), 0);
    assert_int_equal(bk_tz_local_to_utc(tz, wall(2026, 7, 1, 12, 0)),
                     at(2026, 7, 1, 12, 0));
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(bk_tz_name(zone("Europe/Berlin")), "Europe/Berlin");
    assert_string_equal(bk_tz_name(zone("America/New_York")),
                        "America/New_York");
    assert_string_equal(bk_tz_name(zone("Asia/Kathmandu")), "Asia/Kathmandu");
    /* The same handle every time. */
    assert_ptr_equal(zone("Europe/Berlin"), zone("Europe/Berlin"));
}

struct offset_case {
    const char *zone;
    int64_t utc;
    int32_t offset;
};

static void test_offsets(void **state)
{
    const struct offset_case cases[] = {
        /* New York: EST -5 until 2026-03-08 07:00Z, EDT -4 until
         * 2026-11-01 06:00Z, EST after. */
        {"America/New_York", at(2026, 1, 15, 12, 0), -5 * H},
        {"America/New_York", at(2026, 3, 8, 6, 59), -5 * H},
        {"America/New_York", at(2026, 3, 8, 7, 0), -4 * H},
        {"America/New_York", at(2026, 7, 1, 0, 0), -4 * H},
        {"America/New_York", at(2026, 11, 1, 5, 59), -4 * H},
        {"America/New_York", at(2026, 11, 1, 6, 0), -5 * H},
        /* Berlin: CET +1, CEST +2 from 2026-03-29 01:00Z to 2026-10-25
         * 01:00Z. */
        {"Europe/Berlin", at(2026, 1, 15, 12, 0), 1 * H},
        {"Europe/Berlin", at(2026, 3, 29, 0, 59), 1 * H},
        {"Europe/Berlin", at(2026, 3, 29, 1, 0), 2 * H},
        {"Europe/Berlin", at(2026, 10, 25, 0, 59), 2 * H},
        {"Europe/Berlin", at(2026, 10, 25, 1, 0), 1 * H},
        {"Europe/Berlin", at(2026, 12, 31, 23, 0), 1 * H},
        /* No DST; odd offsets. */
        {"Asia/Kolkata", at(2026, 1, 1, 0, 0), 5 * H + 30 * M},
        {"Asia/Kolkata", at(2026, 7, 1, 0, 0), 5 * H + 30 * M},
        {"Asia/Kathmandu", at(2026, 1, 1, 0, 0), 5 * H + 45 * M},
        {"Asia/Kathmandu", at(2026, 7, 1, 0, 0), 5 * H + 45 * M},
        /* Far from today: still right (coverage is expanded at load). */
        {"Europe/Berlin", at(2040, 1, 15, 0, 0), 1 * H},
        {"Europe/Berlin", at(2040, 7, 1, 0, 0), 2 * H},
        {"Europe/Berlin", at(2090, 7, 1, 0, 0), 2 * H},
        {"Europe/Berlin", at(2099, 12, 1, 0, 0), 1 * H},
        {"America/New_York", at(2038, 1, 20, 0, 0), -5 * H},
        {"America/New_York", at(2038, 7, 1, 0, 0), -4 * H},
        {"America/New_York", at(2000, 1, 1, 0, 0), -5 * H},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int32_t got = bk_tz_offset_at(zone(cases[i].zone), cases[i].utc);
        if (got != cases[i].offset)
            fail_msg("case %zu (%s at %lld): offset %d, want %d", i,
                     cases[i].zone, (long long)cases[i].utc, (int)got,
                     (int)cases[i].offset);
    }
}

struct local_case {
    const char *zone;
    int64_t local;
    int64_t utc;
    const char *why;
};

static void test_local_to_utc(void **state)
{
    const struct local_case cases[] = {
        /* New York spring forward 2026-03-08: 02:00 EST -> 03:00 EDT. */
        {"America/New_York", wall(2026, 3, 8, 1, 59), at(2026, 3, 8, 6, 59),
         "before the gap, EST"},
        {"America/New_York", wall(2026, 3, 8, 2, 0), at(2026, 3, 8, 7, 0),
         "gap start, read with EST"},
        {"America/New_York", wall(2026, 3, 8, 2, 30), at(2026, 3, 8, 7, 30),
         "inside the gap, read with EST (= 03:30 EDT)"},
        {"America/New_York", wall(2026, 3, 8, 2, 59), at(2026, 3, 8, 7, 59),
         "gap end, read with EST"},
        {"America/New_York", wall(2026, 3, 8, 3, 0), at(2026, 3, 8, 7, 0),
         "after the gap, EDT"},
        {"America/New_York", wall(2026, 3, 8, 12, 0), at(2026, 3, 8, 16, 0),
         "same day, EDT"},
        {"America/New_York", wall(2026, 3, 7, 23, 0), at(2026, 3, 8, 4, 0),
         "day before, EST"},
        /* New York fall back 2026-11-01: 02:00 EDT -> 01:00 EST. */
        {"America/New_York", wall(2026, 11, 1, 0, 59), at(2026, 11, 1, 4, 59),
         "before the fold, EDT"},
        {"America/New_York", wall(2026, 11, 1, 1, 0), at(2026, 11, 1, 5, 0),
         "repeated 01:00, first occurrence (EDT)"},
        {"America/New_York", wall(2026, 11, 1, 1, 30), at(2026, 11, 1, 5, 30),
         "repeated 01:30, first occurrence (EDT)"},
        {"America/New_York", wall(2026, 11, 1, 1, 59), at(2026, 11, 1, 5, 59),
         "repeated 01:59, first occurrence (EDT)"},
        {"America/New_York", wall(2026, 11, 1, 2, 0), at(2026, 11, 1, 7, 0),
         "02:00 happens once, EST"},
        {"America/New_York", wall(2026, 11, 2, 9, 0), at(2026, 11, 2, 14, 0),
         "day after, EST"},
        /* Berlin spring forward 2026-03-29: 02:00 CET -> 03:00 CEST. */
        {"Europe/Berlin", wall(2026, 3, 29, 1, 59), at(2026, 3, 29, 0, 59),
         "before the gap, CET"},
        {"Europe/Berlin", wall(2026, 3, 29, 2, 0), at(2026, 3, 29, 1, 0),
         "gap start, read with CET"},
        {"Europe/Berlin", wall(2026, 3, 29, 2, 30), at(2026, 3, 29, 1, 30),
         "inside the gap, read with CET (= 03:30 CEST)"},
        {"Europe/Berlin", wall(2026, 3, 29, 3, 0), at(2026, 3, 29, 1, 0),
         "after the gap, CEST"},
        {"Europe/Berlin", wall(2026, 3, 29, 9, 0), at(2026, 3, 29, 7, 0),
         "same day, CEST"},
        /* Berlin fall back 2026-10-25: 03:00 CEST -> 02:00 CET. */
        {"Europe/Berlin", wall(2026, 10, 25, 1, 59), at(2026, 10, 24, 23, 59),
         "before the fold, CEST"},
        {"Europe/Berlin", wall(2026, 10, 25, 2, 0), at(2026, 10, 25, 0, 0),
         "repeated 02:00, first occurrence (CEST)"},
        {"Europe/Berlin", wall(2026, 10, 25, 2, 30), at(2026, 10, 25, 0, 30),
         "repeated 02:30, first occurrence (CEST)"},
        {"Europe/Berlin", wall(2026, 10, 25, 3, 0), at(2026, 10, 25, 2, 0),
         "03:00 happens once, CET"},
        {"Europe/Berlin", wall(2026, 10, 25, 9, 0), at(2026, 10, 25, 8, 0),
         "same day, CET"},
        /* Half- and quarter-hour zones. */
        {"Asia/Kolkata", wall(2026, 3, 8, 9, 0), at(2026, 3, 8, 3, 30),
         "+05:30"},
        {"Asia/Kolkata", wall(2026, 3, 8, 0, 0), at(2026, 3, 7, 18, 30),
         "+05:30 local midnight is the previous UTC day"},
        {"Asia/Kathmandu", wall(2026, 3, 8, 9, 0), at(2026, 3, 8, 3, 15),
         "+05:45"},
        {"Asia/Kathmandu", wall(2026, 3, 8, 5, 44), at(2026, 3, 7, 23, 59),
         "+05:45 crosses the UTC date"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t got = bk_tz_local_to_utc(zone(cases[i].zone), cases[i].local);
        if (got != cases[i].utc)
            fail_msg("case %zu (%s, %s): got %lld, want %lld (off by %lld s)",
                     i, cases[i].zone, cases[i].why, (long long)got,
                     (long long)cases[i].utc, (long long)(got - cases[i].utc));
    }
}

static void test_utc_to_local(void **state)
{
    const struct bk_tz *ny = zone("America/New_York");
    const struct bk_tz *ber = zone("Europe/Berlin");
    const struct bk_tz *ktm = zone("Asia/Kathmandu");

    (void)state;
    /* Both instants of the repeated 01:30 read back as 01:30. */
    assert_int_equal(bk_tz_utc_to_local(ny, at(2026, 11, 1, 5, 30)),
                     wall(2026, 11, 1, 1, 30));
    assert_int_equal(bk_tz_utc_to_local(ny, at(2026, 11, 1, 6, 30)),
                     wall(2026, 11, 1, 1, 30));
    /* The instant of the gap reads as 03:00 EDT. */
    assert_int_equal(bk_tz_utc_to_local(ny, at(2026, 3, 8, 7, 0)),
                     wall(2026, 3, 8, 3, 0));
    assert_int_equal(bk_tz_utc_to_local(ber, at(2026, 3, 29, 1, 0)),
                     wall(2026, 3, 29, 3, 0));
    /* Local dates. */
    assert_int_equal(bk_tz_local_date(ny, at(2026, 3, 8, 4, 59)),
                     bk_days_from_civil(2026, 3, 7));
    assert_int_equal(bk_tz_local_date(ny, at(2026, 3, 8, 5, 0)),
                     bk_days_from_civil(2026, 3, 8));
    assert_int_equal(bk_tz_local_date(ktm, at(2026, 3, 7, 18, 14)),
                     bk_days_from_civil(2026, 3, 7));
    assert_int_equal(bk_tz_local_date(ktm, at(2026, 3, 7, 18, 15)),
                     bk_days_from_civil(2026, 3, 8));
}

/* Every local minute of the four switch days maps to an instant that reads
 * back as the same wall clock, except the gap's minutes, which read back an
 * hour later (RFC 5545: read with the offset before the gap). */
static void test_round_trip_switch_days(void **state)
{
    static const struct {
        const char *zone;
        int y, m, d;
        int gap_from_min; /* local minute the gap starts, -1 if none */
    } days[] = {
        {"America/New_York", 2026, 3, 8, 120},
        {"America/New_York", 2026, 11, 1, -1},
        {"Europe/Berlin", 2026, 3, 29, 120},
        {"Europe/Berlin", 2026, 10, 25, -1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
        const struct bk_tz *tz = zone(days[i].zone);
        int64_t base = wall(days[i].y, days[i].m, days[i].d, 0, 0);
        for (int min = 0; min < 1440; min++) {
            int64_t local = base + min * M;
            int64_t back =
                bk_tz_utc_to_local(tz, bk_tz_local_to_utc(tz, local));
            bool in_gap = days[i].gap_from_min >= 0 &&
                          min >= days[i].gap_from_min &&
                          min < days[i].gap_from_min + 60;
            int64_t want = in_gap ? local + H : local;
            if (back != want)
                fail_msg("%s %d-%02d-%02d minute %d: back %lld, want %lld",
                         days[i].zone, days[i].y, days[i].m, days[i].d, min,
                         (long long)back, (long long)want);
        }
    }
}

static void test_hostile_names(void **state)
{
    char long_name[80];

    (void)state;
    assert_null(bk_tz_get(NULL));
    assert_null(bk_tz_get(""));
    assert_null(bk_tz_get("../etc/passwd"));
    assert_null(bk_tz_get("/etc/passwd"));
    assert_null(bk_tz_get("Europe/../../etc/passwd"));
    assert_null(bk_tz_get("Europe/./Berlin"));
    assert_null(bk_tz_get("Europe//Berlin"));
    assert_null(bk_tz_get("Europe/Berlin/"));
    assert_null(bk_tz_get("Nope/Zone"));
    assert_null(bk_tz_get("Europe"));
    assert_null(bk_tz_get("Europe/Berlin\n"));
    assert_null(bk_tz_get("Europe/Berlin "));
    assert_null(bk_tz_get("Europe\\Berlin"));
    assert_null(bk_tz_get("zone.tab"));
    assert_null(bk_tz_get("Europe/Berlin%00"));
    assert_null(bk_tz_get("Ευρώπη/Βερολίνο"));
    /* 65 bytes and more: refused before any lookup. */
    memset(long_name, 'A', sizeof(long_name));
    memcpy(long_name, "Europe/", 7);
    long_name[65] = '\0';
    assert_null(bk_tz_get(long_name));
    long_name[79] = '\0';
    assert_null(bk_tz_get(long_name));
    /* Case matters, as in the tz database. */
    assert_null(bk_tz_get("europe/berlin"));
    /* Files of the zoneinfo directory that are not zones: each would be
     * loaded and kept for ever (issue 12). */
    assert_null(bk_tz_get("posix/Europe/Berlin"));
    assert_null(bk_tz_get("right/Europe/Berlin"));
    assert_null(bk_tz_get("localtime"));
    assert_null(bk_tz_get("Factory"));
    assert_null(bk_tz_get("posixrules"));
    assert_null(bk_tz_get("tzdata.zi"));
    assert_null(bk_tz_get("iso3166.tab"));
}

/* Aliases are accepted and give their zone: one handle per zone, however
 * many names reach it. */
static void test_aliases(void **state)
{
    (void)state;
    assert_ptr_equal(zone("US/Eastern"), zone("America/New_York"));
    assert_string_equal(bk_tz_name(zone("US/Eastern")), "America/New_York");
    /* A link in tzdata.zi and an old name kept only as a symbolic link. */
    assert_ptr_equal(zone("Europe/Kiev"), zone("Europe/Kyiv"));
    assert_ptr_equal(zone("Asia/Calcutta"), zone("Asia/Kolkata"));
    assert_non_null(zone("Etc/GMT+5"));
    assert_int_equal(bk_tz_offset_at(zone("Etc/GMT+5"), 0), -5 * 3600);
}

/* bk_tz_offset_span: the offset and the next change within a day, else
 * a day on; UTC never changes. */
static void test_offset_span(void **state)
{
    const struct bk_tz *ny = bk_tz_get("America/New_York");
    const struct bk_tz *lh = bk_tz_get("Australia/Lord_Howe");
    int64_t until = 0, t;

    (void)state;
    t = at(2026, 3, 8, 6, 59);
    assert_int_equal(bk_tz_offset_span(ny, t, &until), -5 * H);
    assert_true(until == at(2026, 3, 8, 7, 0));
    t = at(2026, 3, 7, 7, 0); /* exactly a day before: the change */
    assert_int_equal(bk_tz_offset_span(ny, t, &until), -5 * H);
    assert_true(until == at(2026, 3, 8, 7, 0));
    t = at(2026, 3, 8, 7, 0); /* at the change: the new offset */
    assert_int_equal(bk_tz_offset_span(ny, t, &until), -4 * H);
    assert_true(until == t + BK_SECS_PER_DAY);
    t = at(2026, 7, 1, 0, 0);
    assert_int_equal(bk_tz_offset_span(ny, t, &until), -4 * H);
    assert_true(until == t + BK_SECS_PER_DAY);
    /* Lord Howe moves 30 minutes: +10:30 to +11:00 on 2026-10-03 15:30Z */
    t = at(2026, 10, 3, 12, 0);
    assert_int_equal(bk_tz_offset_span(lh, t, &until), 10 * H + 30 * 60);
    assert_true(until == at(2026, 10, 3, 15, 30));
    assert_int_equal(bk_tz_offset_span(lh, until, &until), 11 * H);
    assert_int_equal(bk_tz_offset_span(bk_tz_utc(), t, &until), 0);
    assert_true(until == INT64_MAX);
}

/* Names the index does not list: each is probed in the zoneinfo
 * directory once while the table remembers it, and the table never holds
 * more than BK_TZ_PROBE_CACHE_SLOTS names, whatever is asked. */
struct prober {
    int id;
};

static void *probe_many(void *arg)
{
    const struct prober *p = arg;
    char name[65];

    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "Hostile/T%d_%d", p->id, i);
        if (bk_tz_get(name))
            return (void *)1;
    }
    return NULL;
}

static void test_probe_cache_is_bounded(void **state)
{
    pthread_t th[4];
    struct prober pr[4];
    size_t entries;
    uint64_t before, after;

    (void)state;
    /* A repeated missing name: one probe, then none. */
    bk_tz_probe_stats(&entries, &before);
    for (int i = 0; i < 1000; i++)
        assert_null(bk_tz_get("Nowhere/Repeated_Name"));
    bk_tz_probe_stats(&entries, &after);
    assert_true(after - before == 1);
    /* An old name kept only as a link is remembered as its zone. */
    if (bk_tz_get("Asia/Calcutta")) {
        bk_tz_probe_stats(&entries, &before);
        for (int i = 0; i < 100; i++)
            assert_string_equal(bk_tz_name(bk_tz_get("Asia/Calcutta")),
                                "Asia/Kolkata");
        bk_tz_probe_stats(&entries, &after);
        assert_true(after == before);
    }
    /* 20,000 distinct names from four threads: the table stays bounded. */
    for (int i = 0; i < 4; i++) {
        pr[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, probe_many, &pr[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *res;
        assert_int_equal(pthread_join(th[i], &res), 0);
        assert_null(res);
    }
    bk_tz_probe_stats(&entries, &after);
    assert_true(entries > 0 && entries <= BK_TZ_PROBE_CACHE_SLOTS);
    /* Zones of the index never reach the directory. */
    bk_tz_probe_stats(&entries, &before);
    for (int i = 0; i < 100; i++)
        assert_non_null(bk_tz_get("Europe/Berlin"));
    bk_tz_probe_stats(&entries, &after);
    assert_true(after == before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utc),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_offset_span),
        cmocka_unit_test(test_local_to_utc),
        cmocka_unit_test(test_utc_to_local),
        cmocka_unit_test(test_round_trip_switch_days),
        cmocka_unit_test(test_hostile_names),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_probe_cache_is_bounded),
    };

    bk_tz_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
