/* core/tz.h — IANA time zones: UTC offsets and wall-clock to UTC.
 * Implemented over libical, which reads the system tz database
 * (/usr/share/zoneinfo); nothing depends on the process's TZ. Zones are
 * loaded once and never freed; every function is thread-safe. */
#ifndef BK_CORE_TZ_H
#define BK_CORE_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Configures libical for a daemon (its errors never abort the process).
 * Call once at start-up, before any thread uses time zones. */
void bk_tz_init(void);

/* An immutable zone handle, valid for the life of the process. */
struct bk_tz;

/* Returns the zone named by an IANA name ("Europe/Berlin", "UTC"), or NULL
 * when the name is malformed (over 64 bytes, "..", characters outside
 * [A-Za-z0-9/_+-]) or not a zone of the tz database. Accepted: the zones
 * and links its index (tzdata.zi) lists, and old names the zoneinfo
 * directory keeps as symbolic links to a zone ("Asia/Calcutta"); refused:
 * the directory's other files ("posix/...", "right/...", "localtime",
 * "Factory"). An alias gives its zone ("US/Eastern" the zone of
 * "America/New_York"), so at most one copy of each zone is ever loaded. */
const struct bk_tz *bk_tz_get(const char *name);

/* A name the index does not list is looked for as a symbolic link in the
 * zoneinfo directory (lstat, readlink, realpath); the answer is kept in a
 * fixed table of this many names (the newest replacing an older one that
 * hashes alike), so repeating a name costs no system calls and any number
 * of names no memory past the table. */
#define BK_TZ_PROBE_CACHE_SLOTS 256

/* For tests and metrics: *entries, the names the table holds (at most
 * BK_TZ_PROBE_CACHE_SLOTS); *probes, how many times the zoneinfo
 * directory was probed since the start. */
void bk_tz_probe_stats(size_t *entries, uint64_t *probes);

/* The UTC zone; never NULL. */
const struct bk_tz *bk_tz_utc(void);

/* The zone's canonical IANA name ("America/New_York" for "US/Eastern"). */
const char *bk_tz_name(const struct bk_tz *tz);

/* Offset east of UTC, in seconds, in force at utc (seconds since the
 * epoch, UTC). */
int32_t bk_tz_offset_at(const struct bk_tz *tz, int64_t utc);

/* The offset in force at utc (as bk_tz_offset_at), and in *until_utc an
 * instant after utc before which the same offset stays in force: the
 * zone's next change of offset when it comes within a day, else at least
 * utc + 1 day. A caller rendering many sorted instants asks again only
 * for the first one at or after *until_utc: one look-up per day of
 * instants plus a bisection (at most 17 look-ups) per change, instead of
 * one per instant. Relies, as bk_tz_local_to_utc does, on no zone
 * changing its offset twice within a day. */
int32_t bk_tz_offset_span(const struct bk_tz *tz, int64_t utc,
                          int64_t *until_utc);

/* Converts a wall-clock time, given as seconds since 1970-01-01T00:00 of
 * the local calendar ("local seconds": days * 86400 + seconds of day), to
 * UTC seconds. Implements RFC 5545 §3.3.5: a time inside a DST gap is read
 * with the offset in force before the gap (02:30 on a spring-forward day in
 * New York is 07:30Z = 03:30 EDT); a time inside a repeated hour means its
 * first occurrence. */
int64_t bk_tz_local_to_utc(const struct bk_tz *tz, int64_t local_seconds);

/* Local seconds (see above) of the instant utc. */
int64_t bk_tz_utc_to_local(const struct bk_tz *tz, int64_t utc);

/* Local calendar date (days since the epoch) of the instant utc. */
int64_t bk_tz_local_date(const struct bk_tz *tz, int64_t utc);

#endif
