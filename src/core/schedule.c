/* core/schedule.c — schedule invariants. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/schedule.h"
#include "base/mem.h"
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
                             "at most %d overrides", BK_SCHEDULE_MAX_OVERRIDES);
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

static int cmp_weekly(const void *x, const void *y)
{
    const struct bk_weekly_range *a = x, *b = y;
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    if (a->start_min != b->start_min)
        return a->start_min < b->start_min ? -1 : 1;
    return (a->end_min > b->end_min) - (a->end_min < b->end_min);
}

static int cmp_override(const void *x, const void *y)
{
    const struct bk_date_override *a = x, *b = y;
    if (a->date != b->date)
        return a->date < b->date ? -1 : 1;
    if (a->unavailable != b->unavailable)
        return a->unavailable ? -1 : 1;
    if (a->start_min != b->start_min)
        return a->start_min < b->start_min ? -1 : 1;
    return (a->end_min > b->end_min) - (a->end_min < b->end_min);
}

/* Sorted copies compared element by element; arrays are capped (at most
 * BK_SCHEDULE_MAX_* elements), so the copies are bounded. */
bool bk_schedule_equal(const struct bk_schedule *a, const struct bk_schedule *b)
{
    struct bk_weekly_range wa[BK_SCHEDULE_MAX_WEEKLY],
        wb[BK_SCHEDULE_MAX_WEEKLY];
    struct bk_date_override *oa = NULL, *ob = NULL;
    bool same = false;

    if (strcmp(a->timezone, b->timezone) != 0 || a->n_weekly != b->n_weekly ||
        a->n_overrides != b->n_overrides ||
        a->n_weekly > BK_SCHEDULE_MAX_WEEKLY ||
        a->n_overrides > BK_SCHEDULE_MAX_OVERRIDES)
        return false;
    if (a->n_weekly) {
        memcpy(wa, a->weekly, a->n_weekly * sizeof(*wa));
        memcpy(wb, b->weekly, b->n_weekly * sizeof(*wb));
        qsort(wa, a->n_weekly, sizeof(*wa), cmp_weekly);
        qsort(wb, b->n_weekly, sizeof(*wb), cmp_weekly);
        for (size_t i = 0; i < a->n_weekly; i++)
            if (cmp_weekly(&wa[i], &wb[i]) != 0)
                return false;
    }
    if (!a->n_overrides)
        return true;
    oa = bk_xmalloc(a->n_overrides * sizeof(*oa));
    ob = bk_xmalloc(b->n_overrides * sizeof(*ob));
    memcpy(oa, a->overrides, a->n_overrides * sizeof(*oa));
    memcpy(ob, b->overrides, b->n_overrides * sizeof(*ob));
    qsort(oa, a->n_overrides, sizeof(*oa), cmp_override);
    qsort(ob, b->n_overrides, sizeof(*ob), cmp_override);
    same = true;
    for (size_t i = 0; i < a->n_overrides && same; i++)
        if (oa[i].date != ob[i].date ||
            oa[i].unavailable != ob[i].unavailable ||
            (!oa[i].unavailable && (oa[i].start_min != ob[i].start_min ||
                                    oa[i].end_min != ob[i].end_min)))
            same = false;
    free(oa);
    free(ob);
    return same;
}
