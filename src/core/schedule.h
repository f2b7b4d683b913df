/* core/schedule.h — a host's weekly availability and date overrides, in
 * wall-clock time of the schedule's IANA zone (DESIGN.md "Availability
 * rules"). Plain data; storage is store/, JSON is api/decode.c. */
#ifndef BK_CORE_SCHEDULE_H
#define BK_CORE_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define BK_SCHEDULE_MAX_WEEKLY    100
#define BK_SCHEDULE_MAX_OVERRIDES 1000

/* One weekly range: day 0 = Monday ... 6 = Sunday; start_min and end_min
 * are minutes after local midnight, 0 <= start_min < end_min <= 1440
 * (1440 is "24:00"). Ranges of one day may overlap or touch: they join. */
struct bk_weekly_range {
    int day;
    int start_min;
    int end_min;
};

/* A date override: on `date` (days since the epoch, in the schedule's zone)
 * either the date is unavailable, or [start_min, end_min) is one of its
 * ranges. All overrides of a date together replace its weekly ranges. */
struct bk_date_override {
    int64_t date;
    bool unavailable;
    int start_min;
    int end_min;
};

/* A schedule. timezone is an IANA name; arrays are borrowed. */
struct bk_schedule {
    const char *timezone;
    const struct bk_weekly_range *weekly;
    size_t n_weekly;
    const struct bk_date_override *overrides;
    size_t n_overrides;
};

/* Checks the invariants above (ranges in bounds and non-empty, days 0..6,
 * counts within the caps, a date either unavailable or with ranges, not
 * both). Does not resolve the zone name. Returns BK_E_INVALID with
 * err->field naming the offending element ("weekly[2].end"). */
BK_MUST_CHECK enum bk_err bk_schedule_check(const struct bk_schedule *s,
                                            struct bk_errbuf *err);

/* Whether two schedules say the same: the same zone name and the same
 * weekly ranges and overrides, in any order. */
bool bk_schedule_equal(const struct bk_schedule *a,
                       const struct bk_schedule *b);

/* Three-letter lowercase day names ("mon".."sun") and back; parse returns
 * -1 for anything else. */
const char *bk_weekday_name(int day);
int bk_weekday_parse(const char *s);

#endif
