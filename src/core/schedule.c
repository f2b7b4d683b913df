/* core/schedule.c — schedule invariants. */
#include <stdio.h>
#include <string.h>

#include "core/schedule.h"
#include "base/banned.h"

static const char *const day_names[] = {"mon", "tue", "wed", "thu",
                                        "fri", "sat", "sun"};

const char *bk_weekday_name(int day)
{
    return day >= 0 && day < 7 ? day_names[day] : "?";
}

int bk_weekday_parse(const char *s)
{
    for (int i = 0; i < 7; i++)
        if (s && strcmp(s, day_names[i]) == 0)
            return i;
    return -1;
}

enum bk_err bk_schedule_check(const struct bk_schedule *s,
                              struct bk_errbuf *err)
{
    char field[64];

    if (s->n_weekly > BK_SCHEDULE_MAX_WEEKLY)
        return bk_fail_field(err, BK_E_INVALID, "weekly",
                             "at most %d weekly ranges",
                             BK_SCHEDULE_MAX_WEEKLY);
    if (s->n_overrides > BK_SCHEDULE_MAX_OVERRIDES)
        return bk_fail_field(err, BK_E_INVALID, "overrides",
                             "at most %d overrides",
                             BK_SCHEDULE_MAX_OVERRIDES);
    for (size_t i = 0; i < s->n_weekly; i++) {
        const struct bk_weekly_range *r = &s->weekly[i];
        if (r->day < 0 || r->day > 6) {
            snprintf(field, sizeof(field), "weekly[%zu].day", i);
            return bk_fail_field(err, BK_E_INVALID, field,
                                 "day must be one of mon..sun");
        }
        if (r->start_min < 0 || r->start_min >= 1440 || r->end_min > 1440 ||
            r->end_min <= r->start_min) {
            snprintf(field, sizeof(field), "weekly[%zu].end", i);
            return bk_fail_field(err, BK_E_INVALID, field,
                                 "a range must end after it starts, "
                                 "within 00:00..24:00");
        }
    }
    for (size_t i = 0; i < s->n_overrides; i++) {
        const struct bk_date_override *o = &s->overrides[i];
        if (!o->unavailable &&
            (o->start_min < 0 || o->start_min >= 1440 || o->end_min > 1440 ||
             o->end_min <= o->start_min)) {
            snprintf(field, sizeof(field), "overrides[%zu].end", i);
            return bk_fail_field(err, BK_E_INVALID, field,
                                 "a range must end after it starts, "
                                 "within 00:00..24:00");
        }
        for (size_t j = 0; j < i; j++) {
            const struct bk_date_override *p = &s->overrides[j];
            if (p->date == o->date && (p->unavailable || o->unavailable)) {
                snprintf(field, sizeof(field), "overrides[%zu].date", i);
                return bk_fail_field(err, BK_E_INVALID, field,
                                     "a date is either unavailable or has "
                                     "ranges, not both");
            }
        }
    }
    return BK_OK;
}
