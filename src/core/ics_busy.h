/* core/ics_busy.h — the busy time of calendar events (RFC 5545), for the
 * availability engine: which VEVENTs block time and when, recurrences
 * expanded over a window. Pure: no I/O, no clock (the window and the
 * default zone are parameters). Fetching the events is connectors/. */
#ifndef BK_CORE_ICS_BUSY_H
#define BK_CORE_ICS_BUSY_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "core/tz.h"

/* The most instances one calendar object may expand to in a window; an
 * object with more is refused (BK_E_TOO_LARGE), not truncated silently. */
#define BK_ICS_BUSY_MAX_INSTANCES 5000

/* One busy interval [start_utc, end_utc) of the event uid. */
struct bk_ics_busy {
    int64_t start_utc;
    int64_t end_utc;
    const char *uid;     /* in arena */
    const char *summary; /* the event's SUMMARY, in arena; NULL: none */
};

/* Appends to *out (an arena array of *n, grown here) the busy intervals
 * of every VEVENT of the calendar object `text` that overlap [from_utc,
 * to_utc):
 * - TRANSP:TRANSPARENT and STATUS:CANCELLED events are free;
 * - all-day events (DATE values) are busy from midnight to midnight in
 *   zone (the host's); floating times are read in zone too;
 * - DTSTART;TZID= is read in that IANA zone (a VTIMEZONE's TZID that is
 *   not one falls back to zone);
 * - RRULE, RDATE and EXDATE are expanded with libical; an instance
 *   replaced by a RECURRENCE-ID override is taken from the override;
 * - DTEND, or DURATION, or none (a timed event of no length: free; a
 *   day's event: one day).
 * BK_E_MALFORMED for text that is not an iCalendar object; BK_E_TOO_LARGE
 * past BK_ICS_BUSY_MAX_INSTANCES instances. */
BK_MUST_CHECK enum bk_err bk_ics_busy(const char *text, int64_t from_utc,
                                      int64_t to_utc, const struct bk_tz *zone,
                                      struct bk_arena *arena,
                                      struct bk_ics_busy **out, size_t *n,
                                      struct bk_errbuf *err);

#endif
