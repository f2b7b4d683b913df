/* bench/availability.c — how long the availability engine takes to answer
 * a month and two months for one busy host. Prints figures and asserts
 * nothing (bench/README.md).
 *
 *   bench_availability [--runs N] [--write-case FILE]
 *
 * The host: Europe/Berlin, weekdays 09:00-12:00 and 13:00-17:30, Saturday
 * mornings, a few date overrides, and 5,000 busy blocks over the 60 days
 * from now (bookings with buffers, and calendar busy time), drawn from a
 * fixed-seed generator so every run measures the same input. The window
 * spans the spring-forward switch of 2026-03-29. --write-case writes a
 * smaller input of the same kind (14 days, 400 blocks) as a case file for
 * `bookingd slots --input`. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/arena.h"
#include "base/time.h"
#include "core/availability.h"
#include "core/schedule.h"
#include "core/tz.h"

#define ZONE     "Europe/Berlin"
#define DAYS     60
#define N_BLOCKS 5000
#define MIN_S    60

/* xorshift64*: fixed seed, same input on every machine. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dULL) >> 32) % n;
}

static const struct bk_weekly_range weekly[] = {
    {0, 540, 720}, {0, 780, 1050}, {1, 540, 720}, {1, 780, 1050},
    {2, 540, 720}, {2, 780, 1050}, {3, 540, 720}, {3, 780, 1050},
    {4, 540, 720}, {4, 780, 960},  {5, 600, 780},
};

struct event_type {
    const char *name;
    struct bk_slot_rules rules;
};

static const struct event_type event_types[] = {
    {"30 min, clock", {.duration_min = 30, .horizon_days = 60}},
    {"45 min, buffers 10/15, notice 2 h",
     {.duration_min = 45,
      .buffer_before_min = 10,
      .buffer_after_min = 15,
      .notice_min = 120,
      .horizon_days = 60}},
    {"8 min, range_start",
     {.duration_min = 8,
      .horizon_days = 60,
      .alignment = BK_ALIGN_RANGE_START}},
    {"60 min, every 30, max 3/day",
     {.duration_min = 60,
      .interval_min = 30,
      .max_per_day = 3,
      .horizon_days = 60}},
};

#define N_TYPES (sizeof(event_types) / sizeof(event_types[0]))

struct input {
    struct bk_date_override overrides[4];
    struct bk_schedule schedule;
    struct bk_busy_booking *bookings;
    size_t n_bookings;
    struct bk_interval *busy;
    size_t n_busy;
    int64_t now;
};

static int cmp_booking(const void *x, const void *y)
{
    const struct bk_busy_booking *a = x, *b = y;
    return a->start_utc < b->start_utc ? -1 : a->start_utc > b->start_utc;
}

static int cmp_interval(const void *x, const void *y)
{
    const struct bk_interval *a = x, *b = y;
    return a->start_utc < b->start_utc ? -1 : a->start_utc > b->start_utc;
}

/* Builds the host's schedule and busy time for `days` days from now, with
 * n_blocks blocks: 5% bookings inside working hours, on the quarter hour,
 * 30-90 min, buffers 0-15 min, a third of them of the event type being
 * queried; 95% calendar busy time: nine in ten in the evening and night
 * (15 min to 3 h), the rest short daytime entries (5-20 min), and now and
 * then an all-day event. Sorted by start, as a store returns them. */
static void make_input(struct input *in, const struct bk_tz *tz, int days,
                       size_t n_blocks)
{
    int64_t today;

    memset(in, 0, sizeof(*in));
    rng_state = 0x9e3779b97f4a7c15ULL;
    /* Monday 2026-03-02 08:00 CET. */
    in->now = bk_days_from_civil(2026, 3, 2) * BK_SECS_PER_DAY + 7 * 3600;
    today = bk_tz_local_date(tz, in->now);
    /* A holiday, a short day, a Sunday with hours, a long Friday. */
    in->overrides[0] = (struct bk_date_override){today + 10, true, 0, 0};
    in->overrides[1] = (struct bk_date_override){today + 16, false, 540, 660};
    in->overrides[2] = (struct bk_date_override){today + 20, false, 600, 840};
    in->overrides[3] = (struct bk_date_override){today + 32, false, 480, 1200};
    in->schedule.timezone = ZONE;
    in->schedule.weekly = weekly;
    in->schedule.n_weekly = sizeof(weekly) / sizeof(weekly[0]);
    in->schedule.overrides = in->overrides;
    in->schedule.n_overrides = 4;
    in->bookings = calloc(n_blocks, sizeof(*in->bookings));
    in->busy = calloc(n_blocks, sizeof(*in->busy));
    if (!in->bookings || !in->busy)
        abort();
    for (size_t i = 0; i < n_blocks; i++) {
        int64_t day = today + rnd((uint32_t)days);
        if (rnd(20) == 0) {
            struct bk_busy_booking *b = &in->bookings[in->n_bookings++];
            int64_t local =
                day * BK_SECS_PER_DAY + (int64_t)(540 + 15 * rnd(32)) * MIN_S;
            b->start_utc = bk_tz_local_to_utc(tz, local);
            b->end_utc = b->start_utc + (int64_t)(30 + 15 * rnd(5)) * MIN_S;
            b->buffer_before_min = (int)(5 * rnd(4));
            b->buffer_after_min = (int)(5 * rnd(4));
            b->same_event_type = rnd(3) == 0;
        } else {
            struct bk_interval *v = &in->busy[in->n_busy++];
            uint32_t kind = rnd(1000);
            if (kind == 0) {
                v->start_utc = bk_tz_local_to_utc(tz, day * BK_SECS_PER_DAY);
                v->end_utc =
                    bk_tz_local_to_utc(tz, (day + 1) * BK_SECS_PER_DAY);
            } else if (kind < 900) {
                /* 18:00 .. 08:00 the next morning */
                int64_t local = day * BK_SECS_PER_DAY +
                                (int64_t)(1080 + 5 * rnd(168)) * MIN_S;
                v->start_utc = bk_tz_local_to_utc(tz, local);
                v->end_utc =
                    v->start_utc + (int64_t)(15 + 15 * rnd(12)) * MIN_S;
            } else {
                int64_t local = day * BK_SECS_PER_DAY +
                                (int64_t)(480 + 5 * rnd(120)) * MIN_S;
                v->start_utc = bk_tz_local_to_utc(tz, local);
                v->end_utc = v->start_utc + (int64_t)(5 + 5 * rnd(4)) * MIN_S;
            }
        }
    }
    qsort(in->bookings, in->n_bookings, sizeof(*in->bookings), cmp_booking);
    qsort(in->busy, in->n_busy, sizeof(*in->busy), cmp_interval);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* Times `runs` queries of [from, from + days) and prints median and p90. */
static void measure(const struct input *in, const struct bk_tz *tz,
                    const struct event_type *et, int days, int runs)
{
    struct bk_avail_query q = {0};
    int64_t *ns = calloc((size_t)runs, sizeof(*ns));
    size_t n_slots = 0;
    struct bk_errbuf err;

    if (!ns)
        abort();
    q.schedule = &in->schedule;
    q.tz = tz;
    q.rules = &et->rules;
    q.bookings = in->bookings;
    q.n_bookings = in->n_bookings;
    q.busy = in->busy;
    q.n_busy = in->n_busy;
    q.now_utc = in->now;
    /* From local midnight of today, as the slots endpoint asks. */
    q.from_utc =
        bk_tz_local_to_utc(tz, bk_tz_local_date(tz, in->now) * BK_SECS_PER_DAY);
    q.to_utc = bk_tz_local_to_utc(tz, (bk_tz_local_date(tz, in->now) + days) *
                                          BK_SECS_PER_DAY);
    for (int i = -5; i < runs; i++) {
        struct bk_arena arena;
        struct bk_slot *slots;
        size_t n;
        int64_t t0, t1;

        bk_arena_init(&arena);
        t0 = now_ns();
        if (bk_availability(&q, &arena, &slots, &n, &err) != BK_OK) {
            fprintf(stderr, "bench: %s\n", err.msg);
            exit(1);
        }
        t1 = now_ns();
        bk_arena_release(&arena);
        if (i >= 0)
            ns[i] = t1 - t0;
        n_slots = n;
    }
    qsort(ns, (size_t)runs, sizeof(*ns), cmp_i64);
    printf("  %-36s %2d days  median %8.1f us  p90 %8.1f us  %5zu slots\n",
           et->name, days, (double)ns[runs / 2] / 1000.0,
           (double)ns[(runs * 9) / 10] / 1000.0, n_slots);
    free(ns);
}

static void put_instant(FILE *f, int64_t t)
{
    char s[BK_RFC3339_MAX];
    bk_rfc3339_format_utc(t, s);
    fprintf(f, "\"%s\"", s);
}

/* The smaller input as a case file for `bookingd slots --input`. */
static int write_case(const char *path, const struct bk_tz *tz)
{
    struct input in;
    FILE *f = fopen(path, "w");
    char d[11], a[6], b[6];
    int64_t today;

    if (!f) {
        perror(path);
        return 1;
    }
    make_input(&in, tz, 14, 400);
    today = bk_tz_local_date(tz, in.now);
    fprintf(f, "{\n  \"description\": \"bench/availability.c --write-case: "
               "one Berlin host, 14 days, 400 busy blocks (bookings with "
               "buffers and calendar busy time), 45-min slots with buffers "
               "10/15 and 2 h notice. A benchmark input, not a golden "
               "case: there is no expected output.\",\n");
    fprintf(f, "  \"now\": ");
    put_instant(f, in.now);
    bk_date_format(today, d);
    fprintf(f, ",\n  \"from\": \"%s\",\n", d);
    bk_date_format(today + 13, d);
    fprintf(f, "  \"to\": \"%s\",\n", d);
    fprintf(f,
            "  \"schedule\": {\n    \"timezone\": \"%s\",\n"
            "    \"weekly\": [\n",
            ZONE);
    for (size_t i = 0; i < in.schedule.n_weekly; i++) {
        bk_hhmm_format(weekly[i].start_min, a);
        bk_hhmm_format(weekly[i].end_min, b);
        fprintf(f,
                "      {\"day\": \"%s\", \"start\": \"%s\", \"end\": "
                "\"%s\"}%s\n",
                bk_weekday_name(weekly[i].day), a, b,
                i + 1 < in.schedule.n_weekly ? "," : "");
    }
    fprintf(f, "    ],\n    \"overrides\": [\n");
    for (size_t i = 0; i < in.schedule.n_overrides; i++) {
        const struct bk_date_override *o = &in.overrides[i];
        bk_date_format(o->date, d);
        if (o->unavailable) {
            fprintf(f, "      {\"date\": \"%s\", \"unavailable\": true}", d);
        } else {
            bk_hhmm_format(o->start_min, a);
            bk_hhmm_format(o->end_min, b);
            fprintf(f,
                    "      {\"date\": \"%s\", \"start\": \"%s\", \"end\": "
                    "\"%s\"}",
                    d, a, b);
        }
        fprintf(f, "%s\n", i + 1 < in.schedule.n_overrides ? "," : "");
    }
    fprintf(f, "    ]\n  },\n");
    fprintf(f, "  \"event_type\": {\"duration_minutes\": 45, "
               "\"buffer_before_minutes\": 10, \"buffer_after_minutes\": 15, "
               "\"minimum_notice_minutes\": 120},\n");
    fprintf(f, "  \"bookings\": [\n");
    for (size_t i = 0; i < in.n_bookings; i++) {
        const struct bk_busy_booking *bk = &in.bookings[i];
        fprintf(f, "    {\"start\": ");
        put_instant(f, bk->start_utc);
        fprintf(f, ", \"end\": ");
        put_instant(f, bk->end_utc);
        fprintf(f,
                ", \"buffer_before_minutes\": %d, \"buffer_after_minutes\": "
                "%d, \"same_event_type\": %s}%s\n",
                bk->buffer_before_min, bk->buffer_after_min,
                bk->same_event_type ? "true" : "false",
                i + 1 < in.n_bookings ? "," : "");
    }
    fprintf(f, "  ],\n  \"busy\": [\n");
    for (size_t i = 0; i < in.n_busy; i++) {
        fprintf(f, "    {\"start\": ");
        put_instant(f, in.busy[i].start_utc);
        fprintf(f, ", \"end\": ");
        put_instant(f, in.busy[i].end_utc);
        fprintf(f, "}%s\n", i + 1 < in.n_busy ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    free(in.bookings);
    free(in.busy);
    return fclose(f) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const struct bk_tz *tz;
    struct input in;
    int runs = 301;

    bk_tz_init();
    tz = bk_tz_get(ZONE);
    if (!tz) {
        fprintf(stderr, "bench: no time zone %s\n", ZONE);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = (int)strtol(argv[++i], NULL, 10);
            if (runs < 1 || runs > 100000) {
                fprintf(stderr, "bench: --runs 1..100000\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--write-case") == 0 && i + 1 < argc) {
            return write_case(argv[++i], tz);
        } else {
            fprintf(stderr, "usage: %s [--runs N] [--write-case FILE]\n",
                    argv[0]);
            return 2;
        }
    }
    make_input(&in, tz, DAYS, N_BLOCKS);
    printf("bench_availability: one host (%s), %d days, %zu bookings + "
           "%zu busy intervals, %d runs per figure\n",
           ZONE, DAYS, in.n_bookings, in.n_busy, runs);
    for (size_t t = 0; t < N_TYPES; t++) {
        measure(&in, tz, &event_types[t], 30, runs);
        measure(&in, tz, &event_types[t], 60, runs);
    }
    free(in.bookings);
    free(in.busy);
    return 0;
}
