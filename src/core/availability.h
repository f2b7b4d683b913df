/* core/availability.h — the availability engine: which slots of an event
 * type are free. Implements DESIGN.md "Availability rules" as a pure
 * function of (schedule, event-type rules, busy time, window, now): no I/O,
 * no clock, no globals. docs/availability.md explains every rule with an
 * example; tests/golden/availability holds the table of cases. */
#ifndef BK_CORE_AVAILABILITY_H
#define BK_CORE_AVAILABILITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "core/schedule.h"
#include "core/tz.h"

enum bk_alignment {
    BK_ALIGN_CLOCK = 0,       /* grid aligned to the clock of the zone */
    BK_ALIGN_RANGE_START = 1, /* grid starts at each free range's start */
};

/* The slot-relevant fields of an event type. All durations in minutes. */
struct bk_slot_rules {
    int duration_min;      /* 1..1440 */
    int interval_min;      /* 0 = the duration; else 1..1440 */
    int buffer_before_min; /* 0..1440: time kept free before a slot */
    int buffer_after_min;  /* 0..1440: time kept free after a slot */
    int notice_min;        /* 0..525600: minimum notice before a start */
    int horizon_days;      /* 1..3650: starts must be < now + horizon */
    int max_per_day;       /* 0 = no limit; else 1..1000 per local date */
    enum bk_alignment alignment;
};

/* A booking that blocks time: [start_utc, end_utc) widened by its own
 * event type's buffers. same_event_type: it counts towards max_per_day of
 * the event type being queried. Times: seconds since the epoch, UTC. */
struct bk_busy_booking {
    int64_t start_utc;
    int64_t end_utc;
    int buffer_before_min;
    int buffer_after_min;
    bool same_event_type;
};

/* Busy time from elsewhere (a calendar), [start_utc, end_utc), UTC. */
struct bk_interval {
    int64_t start_utc;
    int64_t end_utc;
};

/* A free slot [start_utc, end_utc), UTC seconds. */
struct bk_slot {
    int64_t start_utc;
    int64_t end_utc;
};

/* The engine's input. Everything is borrowed. Only non-cancelled bookings
 * (and pending ones whose hold has not expired) belong in `bookings`: the
 * caller filters by status. The window is [from_utc, to_utc): a slot is
 * returned when its start lies in it (it may end after to_utc). */
struct bk_avail_query {
    const struct bk_schedule *schedule;
    const struct bk_tz *tz; /* the schedule's zone, resolved */
    const struct bk_slot_rules *rules;
    const struct bk_busy_booking *bookings;
    size_t n_bookings;
    const struct bk_interval *busy;
    size_t n_busy;
    int64_t from_utc;
    int64_t to_utc;
    int64_t now_utc;
    /* 0: every slot of the window. Else the engine stops after
     * max_slots + 1 slots (the first max_slots + 1 by start), so that a
     * caller bounding its answer learns that the window holds more
     * without computing them all. */
    size_t max_slots;
};

/* The largest window the engine accepts, in days (the API allows 62). */
#define BK_AVAIL_MAX_WINDOW_DAYS 400

/* The alignment step in minutes for an interval under clock alignment:
 * the largest of 60, 30, 20, 15, 10, 5 that divides interval_min, or 0
 * when none does (then starts are only whole minutes). */
int bk_alignment_minutes(int interval_min);

/* Checks the rules' ranges above; BK_E_INVALID with err->field naming the
 * field as the API spells it ("duration_minutes"). */
BK_MUST_CHECK enum bk_err bk_slot_rules_check(const struct bk_slot_rules *r,
                                              struct bk_errbuf *err);

/* Computes the free slots of the query, sorted by start, into *out
 * (allocated in `arena`, *n of them; *out is NULL when *n is 0).
 * Returns BK_E_INVALID for a window that is empty, reversed or longer than
 * BK_AVAIL_MAX_WINDOW_DAYS, or rules that fail bk_slot_rules_check. */
BK_MUST_CHECK enum bk_err bk_availability(const struct bk_avail_query *q,
                                          struct bk_arena *arena,
                                          struct bk_slot **out, size_t *n,
                                          struct bk_errbuf *err);

/* Why a given start is or is not bookable. */
enum bk_slot_verdict {
    BK_SLOT_FREE = 0,     /* a free slot starts exactly there */
    BK_SLOT_PAST = 1,     /* start < now */
    BK_SLOT_OFF_GRID = 2, /* not a slot start of this schedule and event
                             type on any day, busy or not */
    BK_SLOT_TOO_SOON = 3, /* on the grid but inside the minimum notice */
    BK_SLOT_TOO_FAR = 4,  /* on the grid but beyond the horizon */
    BK_SLOT_TAKEN = 5,    /* on the grid, blocked by busy time or the
                             per-day limit, or a start of the usual grid
                             that the notice bound restarted the grid
                             away from (as a busy block would) */
};

/* Classifies start_utc against the query's schedule, rules, busy time and
 * now (q's window is ignored). Used to answer a booking request with the
 * right error. */
enum bk_slot_verdict bk_availability_check(const struct bk_avail_query *q,
                                           int64_t start_utc,
                                           struct bk_arena *arena);

#endif
