/* base/time.h — civil dates, RFC 3339 and the clock.
 * Pure proleptic-Gregorian arithmetic on UTC; time-zone rules live in
 * core/tz.h (libical), never here. No gmtime/localtime: nothing depends on
 * the process's TZ. */
#ifndef BK_BASE_TIME_H
#define BK_BASE_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define BK_SECS_PER_DAY 86400

/* Days since 1970-01-01 of a proleptic Gregorian date (may be negative). */
int64_t bk_days_from_civil(int y, int m, int d);

/* The inverse of bk_days_from_civil. */
void bk_civil_from_days(int64_t days, int *y, int *m, int *d);

/* ISO weekday of a day number: 0 = Monday ... 6 = Sunday. */
int bk_weekday(int64_t days);

/* True for an existing calendar date with 1 <= y <= 9999. */
bool bk_date_valid(int y, int m, int d);

/* Parses exactly "YYYY-MM-DD" into days since the epoch. BK_E_MALFORMED
 * when the shape is wrong, BK_E_INVALID for an impossible date
 * ("2026-02-30"). */
BK_MUST_CHECK enum bk_err bk_date_parse(const char *s, int64_t *days);

/* Writes "YYYY-MM-DD" (11 bytes with the NUL). */
void bk_date_format(int64_t days, char out[11]);

/* Parses "HH:MM" into minutes after midnight, 00:00..23:59, and "24:00"
 * (1440) when allow_24 is true. BK_E_MALFORMED otherwise. */
BK_MUST_CHECK enum bk_err bk_hhmm_parse(const char *s, bool allow_24,
                                        int *minutes);

/* Writes "HH:MM" for 0..1440 minutes (6 bytes with the NUL). */
void bk_hhmm_format(int minutes, char out[6]);

/* Parses an RFC 3339 date-time ("2026-12-01T09:00:00+01:00", "...Z",
 * fractional seconds allowed and truncated, 't'/'z' accepted) into
 * utc: seconds since the epoch, UTC, and offset_sec: the offset it was
 * written with (0 for Z). Either out pointer may be NULL.
 * BK_E_MALFORMED when it is not RFC 3339, names an impossible time, or
 * names an instant outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z. */
BK_MUST_CHECK enum bk_err bk_rfc3339_parse(const char *s, int64_t *utc,
                                           int32_t *offset_sec);

/* Whether an RFC 3339 text carries a non-zero fraction of a second
 * ("...:00.250Z"), which bk_rfc3339_parse drops. */
bool bk_rfc3339_has_fraction(const char *s);

#define BK_RFC3339_MAX 32

/* Writes utc (seconds since the epoch) as RFC 3339 in UTC with a 'Z'. */
void bk_rfc3339_format_utc(int64_t utc, char out[BK_RFC3339_MAX]);

/* Writes utc as the wall-clock time at offset_sec east of UTC with a
 * numeric offset ("+05:45", "+00:00"). */
void bk_rfc3339_format_offset(int64_t utc, int32_t offset_sec,
                              char out[BK_RFC3339_MAX]);

/* Floor division for negative-safe day/minute arithmetic. */
int64_t bk_floordiv(int64_t a, int64_t b);

/* The wall clock, UTC, in seconds / milliseconds since the epoch.
 * Only the edges call these; core takes `now` as a parameter. */
int64_t bk_now_utc(void);
int64_t bk_now_ms(void);

/* A monotonic clock in milliseconds, for durations and timeouts. */
int64_t bk_mono_ms(void);
/* The same clock in microseconds (request latencies). */
int64_t bk_mono_us(void);

#endif
