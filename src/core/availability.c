/* core/availability.c — the availability engine.
 * Steps: (1) the schedule's wall-clock ranges for the dates around the
 * window, joined where they touch, become UTC ranges (each end with its own
 * offset); (2) bookings (widened by their own buffers) and busy intervals
 * are merged into sorted disjoint blocks; (3) within each range the blocks,
 * the minimum notice and the range's end leave closed intervals of allowed
 * starts; (4) each interval starts a grid at its first aligned time and
 * steps by the slot interval; (5) the horizon, the window and the per-day
 * limit filter the grid. Everything is O((ranges + blocks) log) plus the
 * slots produced. */
#include <stdlib.h>
#include <string.h>

#include "core/availability.h"
#include "base/time.h"
#include "base/banned.h"

#define MIN_S 60
/* How far back a chain of ranges joined across midnight is followed when
 * the grid starts at a range's start (range_start alignment, or a clock
 * interval that no alignment step divides), in days. Past that the grid
 * starts at midnight. */
#define MAX_CHAIN_DAYS 14

struct span {
    int64_t a, b; /* [a, b) */
};

/* A growable array of slots inside an arena. */
struct slot_vec {
    struct bk_slot *v;
    size_t n, cap;
};

static void push_slot(struct bk_arena *arena, struct slot_vec *sv, int64_t s,
                      int64_t e)
{
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 64;
        struct bk_slot *nv = bk_arena_array(arena, cap, sizeof(*nv));
        if (sv->n)
            memcpy(nv, sv->v, sv->n * sizeof(*nv));
        sv->v = nv;
        sv->cap = cap;
    }
    sv->v[sv->n].start_utc = s;
    sv->v[sv->n].end_utc = e;
    sv->n++;
}

int bk_alignment_minutes(int interval_min)
{
    static const int steps[] = {60, 30, 20, 15, 10, 5};

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (interval_min > 0 && interval_min % steps[i] == 0)
            return steps[i];
    return 0;
}

static bool in(int v, int lo, int hi)
{
    return v >= lo && v <= hi;
}

enum bk_err bk_slot_rules_check(const struct bk_slot_rules *r,
                                struct bk_errbuf *err)
{
    if (!in(r->duration_min, 1, 1440))
        return bk_fail_field(err, BK_E_INVALID, "duration_minutes",
                             "must be 1..1440 minutes");
    if (!in(r->interval_min, 0, 1440))
        return bk_fail_field(err, BK_E_INVALID, "slot_interval_minutes",
                             "must be 1..1440 minutes");
    if (!in(r->buffer_before_min, 0, 1440))
        return bk_fail_field(err, BK_E_INVALID, "buffer_before_minutes",
                             "must be 0..1440 minutes");
    if (!in(r->buffer_after_min, 0, 1440))
        return bk_fail_field(err, BK_E_INVALID, "buffer_after_minutes",
                             "must be 0..1440 minutes");
    if (!in(r->notice_min, 0, 525600))
        return bk_fail_field(err, BK_E_INVALID, "minimum_notice_minutes",
                             "must be 0..525600 minutes");
    if (!in(r->horizon_days, 1, 3650))
        return bk_fail_field(err, BK_E_INVALID, "horizon_days",
                             "must be 1..3650 days");
    if (!in(r->max_per_day, 0, 1000))
        return bk_fail_field(err, BK_E_INVALID, "max_per_day",
                             "must be 1..1000, or null for no limit");
    if (r->alignment != BK_ALIGN_CLOCK && r->alignment != BK_ALIGN_RANGE_START)
        return bk_fail_field(err, BK_E_INVALID, "slot_alignment",
                             "must be \"clock\" or \"range_start\"");
    return BK_OK;
}

static int cmp_span(const void *x, const void *y)
{
    const struct span *a = x, *b = y;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    if (a->b != b->b)
        return a->b < b->b ? -1 : 1;
    return 0;
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

static int cmp_override(const void *x, const void *y)
{
    const struct bk_date_override *a = x, *b = y;
    return a->date < b->date ? -1 : a->date > b->date;
}

static bool spans_sorted(const struct span *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (v[i].a < v[i - 1].a)
            return false;
    return true;
}

/* v[0, k) and v[k, n) arrive as two runs (the bookings' blocks and the busy
 * intervals), each usually sorted already because a store returns rows by
 * start. Sorts a run only when it is not, then merges the two through tmp
 * in linear time, so the common case costs no n log n sort per query. */
static void sort_two_runs(struct span *v, size_t k, size_t n, struct span *tmp)
{
    size_t i = 0, j = k, o = 0;

    if (!spans_sorted(v, k))
        qsort(v, k, sizeof(*v), cmp_span);
    if (!spans_sorted(v + k, n - k))
        qsort(v + k, n - k, sizeof(*v), cmp_span);
    if (k == 0 || k == n || v[k - 1].a <= v[k].a)
        return;
    while (i < k && j < n)
        tmp[o++] = v[j].a < v[i].a ? v[j++] : v[i++];
    while (i < k)
        tmp[o++] = v[i++];
    while (j < n)
        tmp[o++] = v[j++];
    memcpy(v, tmp, n * sizeof(*v));
}

/* Sorts (unless already sorted) and joins overlapping or touching spans in
 * place; returns the new count. */
static size_t merge_spans(struct span *v, size_t n)
{
    size_t out = 0;
    bool sorted = true;

    for (size_t i = 1; i < n && sorted; i++)
        if (v[i].a < v[i - 1].a)
            sorted = false;
    if (!sorted)
        qsort(v, n, sizeof(*v), cmp_span);
    for (size_t i = 0; i < n; i++) {
        if (v[i].b <= v[i].a)
            continue;
        if (out && v[i].a <= v[out - 1].b) {
            if (v[i].b > v[out - 1].b)
                v[out - 1].b = v[i].b;
        } else {
            v[out++] = v[i];
        }
    }
    return out;
}

/* The wall-clock ranges of one local date, appended to *w as local
 * seconds. Overrides (sorted by date) replace the weekly ranges. */
static void day_ranges(const struct bk_schedule *s,
                       const struct bk_date_override *ov, size_t n_ov,
                       int64_t date, struct span *w, size_t *nw)
{
    size_t lo = 0, hi = n_ov;
    bool overridden = false;

    while (lo < hi) { /* first override with .date >= date */
        size_t mid = lo + (hi - lo) / 2;
        if (ov[mid].date < date)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < n_ov && ov[i].date == date; i++) {
        overridden = true;
        if (ov[i].unavailable)
            continue;
        w[*nw].a = date * BK_SECS_PER_DAY + (int64_t)ov[i].start_min * MIN_S;
        w[*nw].b = date * BK_SECS_PER_DAY + (int64_t)ov[i].end_min * MIN_S;
        (*nw)++;
    }
    if (overridden)
        return;
    for (size_t i = 0; i < s->n_weekly; i++) {
        if (s->weekly[i].day != bk_weekday(date))
            continue;
        w[*nw].a =
            date * BK_SECS_PER_DAY + (int64_t)s->weekly[i].start_min * MIN_S;
        w[*nw].b =
            date * BK_SECS_PER_DAY + (int64_t)s->weekly[i].end_min * MIN_S;
        (*nw)++;
    }
}

/* Whether the date has a range starting at 00:00 and the previous date one
 * ending at 24:00, i.e. the two join across midnight. */
static bool joins_previous(const struct bk_schedule *s,
                           const struct bk_date_override *ov, size_t n_ov,
                           int64_t date, struct span *scratch)
{
    size_t n = 0;
    bool starts = false, ends = false;

    day_ranges(s, ov, n_ov, date, scratch, &n);
    for (size_t i = 0; i < n; i++)
        if (scratch[i].a == date * BK_SECS_PER_DAY)
            starts = true;
    n = 0;
    day_ranges(s, ov, n_ov, date - 1, scratch, &n);
    for (size_t i = 0; i < n; i++)
        if (scratch[i].b == date * BK_SECS_PER_DAY)
            ends = true;
    return starts && ends;
}

static int64_t ceil_to(int64_t t, int64_t step)
{
    return bk_floordiv(t + step - 1, step) * step;
}

/* The first grid start at or after t: aligned to `align_s` seconds of
 * the zone's wall clock, or whole minutes when align_s is 0. */
static int64_t align_up(const struct bk_tz *tz, int64_t t, int64_t align_s)
{
    int32_t off, off2;
    int64_t r1, r2;

    if (align_s == 0)
        return ceil_to(t, MIN_S);
    off = bk_tz_offset_at(tz, t);
    r1 = ceil_to(t + off, align_s) - off;
    off2 = bk_tz_offset_at(tz, r1);
    if (off2 == off)
        return r1;
    /* An offset change between t and r1: try the grid of the new offset. */
    r2 = ceil_to(t + off2, align_s) - off2;
    if (r2 >= t && r2 < r1 && bk_tz_offset_at(tz, r2) == off2)
        return r2;
    return r1;
}

struct ctx {
    const struct bk_avail_query *q;
    struct bk_arena *arena;
    struct slot_vec out;
    int64_t dur_s, step_s, align_s;
    int64_t horizon_end;
    int64_t *limit_dates; /* sorted local dates of same-type bookings */
    size_t n_limit_dates;
};

static size_t count_date(const struct ctx *c, int64_t date)
{
    size_t lo = 0, hi = c->n_limit_dates, first;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->limit_dates[mid] < date)
            lo = mid + 1;
        else
            hi = mid;
    }
    first = lo;
    hi = c->n_limit_dates;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->limit_dates[mid] <= date)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - first;
}

/* The grid start after s. Starts step in UTC seconds, which keeps them on
 * the wall-clock grid across an offset change that is a multiple of the
 * alignment (every one-hour DST switch); `realign` is set when an offset
 * change lies in the interval, and then a start that the change pushed off
 * the grid moves on to the next aligned time (Australia/Lord_Howe's
 * 30-minute switch under an hourly grid). */
static int64_t next_start(const struct ctx *c, int64_t s, bool realign)
{
    int64_t next = s + c->step_s;

    if (realign &&
        bk_tz_offset_at(c->q->tz, next) != bk_tz_offset_at(c->q->tz, s))
        next = align_up(c->q->tz, next, c->align_s);
    return next;
}

/* The caller's bound is passed: one slot more than it wants is known. */
static bool full(const struct ctx *c)
{
    return c->q->max_slots && c->out.n > c->q->max_slots;
}

/* Lays the grid over the allowed starts [a, b]. */
static void emit(struct ctx *c, int64_t a, int64_t b)
{
    const struct bk_avail_query *q = c->q;
    int64_t s, last_date = INT64_MIN;
    bool date_full = false, realign = false;

    if (b < q->from_utc || a >= q->to_utc || a >= c->horizon_end || full(c))
        return;
    if (q->rules->alignment == BK_ALIGN_RANGE_START) {
        s = ceil_to(a, MIN_S);
    } else {
        s = align_up(q->tz, a, c->align_s);
        realign = c->align_s > 0 &&
                  bk_tz_offset_at(q->tz, s) != bk_tz_offset_at(q->tz, b);
    }
    if (s < q->from_utc && !realign) /* jump along the grid to the window */
        s += ceil_to(q->from_utc - s, c->step_s);
    for (; s <= b; s = next_start(c, s, realign)) {
        if (s >= q->to_utc || s >= c->horizon_end)
            break;
        if (s < q->from_utc)
            continue;
        if (q->rules->max_per_day > 0) {
            int64_t date = bk_tz_local_date(q->tz, s);
            if (date != last_date) {
                last_date = date;
                date_full =
                    count_date(c, date) >= (size_t)q->rules->max_per_day;
            }
            if (date_full)
                continue;
        }
        push_slot(c->arena, &c->out, s, s + c->dur_s);
        if (full(c))
            return;
    }
}

enum bk_err bk_availability(const struct bk_avail_query *q,
                            struct bk_arena *arena, struct bk_slot **out,
                            size_t *n, struct bk_errbuf *err)
{
    const struct bk_slot_rules *r = q->rules;
    const struct bk_schedule *s = q->schedule;
    struct ctx c;
    struct bk_date_override *ov = NULL;
    struct span *wall, *ranges, *blocks, *scratch;
    size_t n_wall = 0, n_ranges, n_blocks = 0, bi = 0;
    int64_t d_first, d_last, notice_bound;
    enum bk_err e;

    *out = NULL;
    *n = 0;
    e = bk_slot_rules_check(r, err);
    if (e)
        return e;
    if (q->to_utc <= q->from_utc ||
        q->to_utc - q->from_utc >
            (int64_t)BK_AVAIL_MAX_WINDOW_DAYS * BK_SECS_PER_DAY)
        return bk_fail(err, BK_E_INVALID,
                       "the window must be 1 second to %d "
                       "days long",
                       BK_AVAIL_MAX_WINDOW_DAYS);

    memset(&c, 0, sizeof(c));
    c.q = q;
    c.arena = arena;
    c.dur_s = (int64_t)r->duration_min * MIN_S;
    c.step_s =
        (int64_t)(r->interval_min ? r->interval_min : r->duration_min) * MIN_S;
    c.align_s = (int64_t)bk_alignment_minutes((int)(c.step_s / MIN_S)) * MIN_S;
    c.horizon_end = q->now_utc + (int64_t)r->horizon_days * BK_SECS_PER_DAY;

    /* (1) Wall-clock ranges of the dates around the window. */
    if (s->n_overrides) {
        ov = bk_arena_array(arena, s->n_overrides, sizeof(*ov));
        memcpy(ov, s->overrides, s->n_overrides * sizeof(*ov));
        qsort(ov, s->n_overrides, sizeof(*ov), cmp_override);
    }
    d_first = bk_tz_local_date(q->tz, q->from_utc) - 1;
    d_last = bk_tz_local_date(q->tz, q->to_utc - 1) + 2;
    scratch = bk_arena_array(arena, s->n_weekly + s->n_overrides + 1,
                             sizeof(*scratch));
    /* A grid anchored at the range's start must see where a range joined
     * across midnight really starts, or a day's slots would depend on the
     * window they were asked with. */
    if (r->alignment == BK_ALIGN_RANGE_START || c.align_s == 0) {
        for (int i = 0;
             i < MAX_CHAIN_DAYS && s->n_weekly + s->n_overrides > 0 &&
             joins_previous(s, ov, s->n_overrides, d_first, scratch);
             i++)
            d_first--;
    }
    /* Per date at most every weekly range; overrides at most once each. */
    wall = bk_arena_array(arena,
                          (size_t)(d_last - d_first + 1) * (s->n_weekly + 1) +
                              s->n_overrides,
                          sizeof(*wall));
    for (int64_t d = d_first; d <= d_last; d++)
        day_ranges(s, ov, s->n_overrides, d, wall, &n_wall);
    n_wall = merge_spans(wall, n_wall);

    /* Each end with its own offset; the gap rule can make two wall ranges
     * overlap in UTC, so they are joined again. */
    ranges = wall;
    for (size_t i = 0; i < n_wall; i++) {
        int64_t a = bk_tz_local_to_utc(q->tz, wall[i].a);
        int64_t b = bk_tz_local_to_utc(q->tz, wall[i].b);
        ranges[i].a = a;
        ranges[i].b = b;
    }
    n_ranges = merge_spans(ranges, n_wall);

    /* (2) Busy blocks. */
    blocks =
        bk_arena_array(arena, q->n_bookings + q->n_busy + 1, sizeof(*blocks));
    for (size_t i = 0; i < q->n_bookings; i++) {
        const struct bk_busy_booking *b = &q->bookings[i];
        blocks[n_blocks].a =
            b->start_utc - (int64_t)b->buffer_before_min * MIN_S;
        blocks[n_blocks].b = b->end_utc + (int64_t)b->buffer_after_min * MIN_S;
        n_blocks++;
    }
    for (size_t i = 0; i < q->n_busy; i++) {
        blocks[n_blocks].a = q->busy[i].start_utc;
        blocks[n_blocks].b = q->busy[i].end_utc;
        n_blocks++;
    }
    sort_two_runs(blocks, q->n_bookings, n_blocks,
                  bk_arena_array(arena, n_blocks + 1, sizeof(*blocks)));
    n_blocks = merge_spans(blocks, n_blocks);

    if (r->max_per_day > 0) {
        c.limit_dates =
            bk_arena_array(arena, q->n_bookings + 1, sizeof(*c.limit_dates));
        for (size_t i = 0; i < q->n_bookings; i++)
            if (q->bookings[i].same_event_type)
                c.limit_dates[c.n_limit_dates++] =
                    bk_tz_local_date(q->tz, q->bookings[i].start_utc);
        qsort(c.limit_dates, c.n_limit_dates, sizeof(*c.limit_dates), cmp_i64);
    }

    /* Minimum notice is a busy block ending at now + notice, so with this
     * event type's before-buffer a start must be at or after: */
    notice_bound = q->now_utc + (int64_t)r->notice_min * MIN_S +
                   (int64_t)r->buffer_before_min * MIN_S;

    /* (3) Allowed starts in each range, then (4) and (5) in emit(). */
    for (size_t i = 0; i < n_ranges; i++) {
        int64_t last = ranges[i].b - c.dur_s; /* a slot ends in its range */
        int64_t cur = ranges[i].a > notice_bound ? ranges[i].a : notice_bound;
        int64_t before = (int64_t)r->buffer_before_min * MIN_S;
        int64_t after = (int64_t)r->buffer_after_min * MIN_S;

        if (ranges[i].a >= q->to_utc || ranges[i].a >= c.horizon_end ||
            full(&c))
            break;
        if (last < cur || last < q->from_utc)
            continue;
        /* A block forbids the open interval of starts (zl, zr). */
        while (bi < n_blocks && blocks[bi].b + before <= cur)
            bi++;
        for (size_t j = bi; j < n_blocks && cur <= last; j++) {
            int64_t zl = blocks[j].a - after - c.dur_s;
            int64_t zr = blocks[j].b + before;
            if (zl >= last)
                break;
            if (zr <= cur)
                continue;
            if (cur <= zl)
                emit(&c, cur, zl);
            if (full(&c))
                break;
            if (zr > cur)
                cur = zr;
        }
        if (cur <= last)
            emit(&c, cur, last);
    }

    *out = c.out.v;
    *n = c.out.n;
    return BK_OK;
}

enum bk_slot_verdict bk_availability_check(const struct bk_avail_query *q,
                                           int64_t start_utc,
                                           struct bk_arena *arena)
{
    struct bk_avail_query probe = *q;
    struct bk_slot_rules rules = *q->rules;
    struct bk_slot *slots;
    size_t n;

    if (start_utc < q->now_utc)
        return BK_SLOT_PAST;
    probe.from_utc = start_utc;
    probe.to_utc = start_utc + 1;
    if (bk_availability(&probe, arena, &slots, &n, NULL) == BK_OK && n)
        return BK_SLOT_FREE;

    /* Without busy time and the per-day limit, but with notice and
     * horizon: a start found now was taken by bookings or busy time. */
    rules.max_per_day = 0;
    probe.rules = &rules;
    probe.bookings = NULL;
    probe.n_bookings = 0;
    probe.busy = NULL;
    probe.n_busy = 0;
    if (bk_availability(&probe, arena, &slots, &n, NULL) == BK_OK && n)
        return BK_SLOT_TAKEN;

    /* Without notice and horizon either: on the grid at all? `now` moves
     * back past every range the probe looks at (the day before the start
     * and a chain joined across midnight before it), so that the notice
     * bound restarts no grid. */
    rules.notice_min = 0;
    rules.horizon_days = 3650;
    probe.now_utc = start_utc - (int64_t)(MAX_CHAIN_DAYS + 4) * BK_SECS_PER_DAY;
    if (bk_availability(&probe, arena, &slots, &n, NULL) == BK_OK && n) {
        if (start_utc < q->now_utc + (int64_t)q->rules->notice_min * MIN_S +
                            (int64_t)q->rules->buffer_before_min * MIN_S)
            return BK_SLOT_TOO_SOON;
        if (start_utc >=
            q->now_utc + (int64_t)q->rules->horizon_days * BK_SECS_PER_DAY)
            return BK_SLOT_TOO_FAR;
        /* Neither: the notice bound restarted the grid, and this start of
         * the usual grid is no longer on it, as after a busy block. */
        return BK_SLOT_TAKEN;
    }
    return BK_SLOT_OFF_GRID;
}
