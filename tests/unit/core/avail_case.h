/* tests/unit/core/avail_case.h — a small text form for availability cases,
 * shared by the availability tests. A case names a zone, weekly ranges,
 * overrides, bookings and busy intervals in one-line strings, so that a
 * table row reads like the golden case files:
 *
 *   weekly    "mon 09:00-17:00, tue 00:00-24:00"
 *   overrides "2026-06-15 13:00-15:00, 2026-06-16 off"
 *   bookings  "START END BEFORE AFTER SAME; ..."   (SAME: 1 = same event type)
 *   busy      "START END; ..."
 *
 * START and END are RFC 3339. Parsing failures abort the test: a typo in a
 * table must not pass as an empty schedule. */
#ifndef BK_TESTS_AVAIL_CASE_H
#define BK_TESTS_AVAIL_CASE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/str.h"
#include "base/time.h"
#include "core/availability.h"
#include "core/schedule.h"
#include "core/tz.h"

#define AC_MAX 64

struct avail_setup {
    struct bk_weekly_range weekly[AC_MAX];
    struct bk_date_override overrides[AC_MAX];
    struct bk_busy_booking bookings[AC_MAX];
    struct bk_interval busy[AC_MAX];
    struct bk_schedule schedule;
    struct bk_slot_rules rules;
    struct bk_avail_query q;
};

static void ac_die(const char *what, const char *text)
{
    fprintf(stderr, "avail_case: cannot parse %s: \"%s\"\n", what, text);
    abort();
}

static int64_t ac_instant(const char *s)
{
    int64_t t;

    if (bk_rfc3339_parse(s, &t, NULL) != BK_OK)
        ac_die("instant", s);
    return t;
}

static int64_t ac_date(const char *s)
{
    int64_t d;

    if (bk_date_parse(s, &d) != BK_OK)
        ac_die("date", s);
    return d;
}

/* Splits `text` at `sep` into trimmed items of at most 127 bytes and calls
 * fn for each non-empty one. */
static void ac_each(const char *text, char sep,
                    void (*fn)(const char *, void *), void *arg)
{
    const char *p = text;

    while (p && *p) {
        const char *end = strchr(p, sep);
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[128];

        while (n && *p == ' ') {
            p++;
            n--;
        }
        while (n && p[n - 1] == ' ')
            n--;
        if (n >= sizeof(item))
            ac_die("item (too long)", p);
        memcpy(item, p, n);
        item[n] = '\0';
        if (n)
            fn(item, arg);
        p = end ? end + 1 : NULL;
    }
}

static void ac_range(const char *text, int *start, int *end)
{
    char a[8], b[8];

    if (sscanf(text, "%5[0-9:]-%5[0-9:]", a, b) != 2 ||
        bk_hhmm_parse(a, false, start) != BK_OK ||
        bk_hhmm_parse(b, true, end) != BK_OK)
        ac_die("range", text);
}

static void ac_weekly_one(const char *item, void *arg)
{
    struct avail_setup *s = arg;
    struct bk_weekly_range *r;
    char day[8], range[32];

    if (s->schedule.n_weekly == AC_MAX ||
        sscanf(item, "%7s %31s", day, range) != 2)
        ac_die("weekly", item);
    r = &s->weekly[s->schedule.n_weekly++];
    r->day = bk_weekday_parse(day);
    if (r->day < 0)
        ac_die("weekday", item);
    ac_range(range, &r->start_min, &r->end_min);
}

static void ac_override_one(const char *item, void *arg)
{
    struct avail_setup *s = arg;
    struct bk_date_override *o;
    char date[16], range[32];

    if (s->schedule.n_overrides == AC_MAX ||
        sscanf(item, "%15s %31s", date, range) != 2)
        ac_die("override", item);
    o = &s->overrides[s->schedule.n_overrides++];
    o->date = ac_date(date);
    if (strcmp(range, "off") == 0)
        o->unavailable = true;
    else
        ac_range(range, &o->start_min, &o->end_min);
}

static void ac_booking_one(const char *item, void *arg)
{
    struct avail_setup *s = arg;
    struct bk_busy_booking *b;
    char a[40], e[40];
    int before, after, same;

    if (s->q.n_bookings == AC_MAX ||
        sscanf(item, "%39s %39s %d %d %d", a, e, &before, &after, &same) != 5)
        ac_die("booking", item);
    b = &s->bookings[s->q.n_bookings++];
    b->start_utc = ac_instant(a);
    b->end_utc = ac_instant(e);
    b->buffer_before_min = before;
    b->buffer_after_min = after;
    b->same_event_type = same != 0;
}

static void ac_busy_one(const char *item, void *arg)
{
    struct avail_setup *s = arg;
    char a[40], e[40];

    if (s->q.n_busy == AC_MAX || sscanf(item, "%39s %39s", a, e) != 2)
        ac_die("busy", item);
    s->busy[s->q.n_busy].start_utc = ac_instant(a);
    s->busy[s->q.n_busy].end_utc = ac_instant(e);
    s->q.n_busy++;
}

/* Fills `s` (everything it points to lives inside it). from/to: inclusive
 * dates in out_zone (NULL: the schedule's zone), as the slots endpoint
 * takes them. rules.horizon_days 0 means the API default of 60. */
static void avail_setup(struct avail_setup *s, const char *zone,
                        const char *weekly, const char *overrides,
                        const struct bk_slot_rules *rules, const char *bookings,
                        const char *busy, const char *now, const char *out_zone,
                        const char *from, const char *to)
{
    const struct bk_tz *tz = bk_tz_get(zone);
    const struct bk_tz *out = out_zone ? bk_tz_get(out_zone) : tz;

    memset(s, 0, sizeof(*s));
    if (!tz || !out)
        ac_die("zone", zone);
    s->schedule.timezone = zone;
    s->schedule.weekly = s->weekly;
    s->schedule.overrides = s->overrides;
    ac_each(weekly, ',', ac_weekly_one, s);
    ac_each(overrides, ',', ac_override_one, s);
    if (bk_schedule_check(&s->schedule, NULL) != BK_OK)
        ac_die("schedule", weekly ? weekly : "");
    s->rules = *rules;
    if (s->rules.horizon_days == 0)
        s->rules.horizon_days = 60;
    s->q.schedule = &s->schedule;
    s->q.tz = tz;
    s->q.rules = &s->rules;
    s->q.bookings = s->bookings;
    s->q.busy = s->busy;
    ac_each(bookings, ';', ac_booking_one, s);
    ac_each(busy, ';', ac_busy_one, s);
    s->q.now_utc = ac_instant(now);
    if (from && to) {
        s->q.from_utc =
            bk_tz_local_to_utc(out, ac_date(from) * BK_SECS_PER_DAY);
        s->q.to_utc =
            bk_tz_local_to_utc(out, (ac_date(to) + 1) * BK_SECS_PER_DAY);
    }
}

#endif
