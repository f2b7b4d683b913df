/* api/decode.h — JSON bodies of API.md into ledger records.
 * Shared by the API handlers, `bookingd apply` and `bookingd slots --input`.
 * Every decoder refuses unknown fields and names the offending field in
 * err->field (BK_E_INVALID). Strings are borrowed from the json_t; arrays
 * are allocated in the arena. */
#ifndef BK_API_DECODE_H
#define BK_API_DECODE_H

#include <stdbool.h>

#include <jansson.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/str.h"
#include "core/ledger.h"
#include "core/schedule.h"

/* {"timezone","weekly":[{"day","start","end"}],"overrides":[{"date",
 * "start","end"} | {"date","unavailable":true}]} (API.md "PUT
 * /hosts/{slug}/schedule"); the zone must be known to the tz database. */
BK_MUST_CHECK enum bk_err
bk_decode_schedule(const json_t *obj, const char *path, struct bk_arena *arena,
                   struct bk_schedule *out, struct bk_errbuf *err);

/* The slot fields of an event type (duration_minutes,
 * slot_interval_minutes, buffer_before_minutes, buffer_after_minutes,
 * minimum_notice_minutes, horizon_days, max_per_day, slot_alignment) onto
 * *rules: fields present overwrite, absent ones keep the value the caller
 * put there (defaults or the stored values). Does not check unknown keys or
 * the combined rules (the caller does, after merging). */
BK_MUST_CHECK enum bk_err bk_decode_slot_rules(const json_t *obj,
                                               const char *path,
                                               struct bk_arena *arena,
                                               struct bk_slot_rules *rules,
                                               struct bk_errbuf *err);

/* The API defaults of an event type's rules for a duration (interval =
 * duration, no buffers, no notice, horizon 60 days, no limit, clock). */
void bk_slot_rules_defaults(struct bk_slot_rules *rules, int duration_min);

/* POST (create = true) or PATCH (create = false) body of an event type onto
 * *et (PATCH: only present fields change; slug may not change).
 * external_ids, when present, replaces the whole map (null: none); the
 * deprecated calcom_event_type_id (an integer, or null) sets or removes
 * external_ids.calcom alone, and must agree with external_ids when both are
 * given. The host is
 * returned as its slug in *host_slug (NULL when absent) for the caller to
 * resolve. */
BK_MUST_CHECK enum bk_err bk_decode_event_type(const json_t *obj, bool create,
                                               struct bk_arena *arena,
                                               struct bk_event_type *et,
                                               const char **host_slug,
                                               struct bk_errbuf *err);

/* POST (create) or PATCH body of a host onto *h. */
BK_MUST_CHECK enum bk_err bk_decode_host(const json_t *obj, bool create,
                                         struct bk_arena *arena,
                                         struct bk_host *h,
                                         struct bk_errbuf *err);

/* A field holding an IANA zone name known to the tz database. */
BK_MUST_CHECK enum bk_err
bk_decode_timezone(const json_t *obj, const char *path, const char *key,
                   bool required, struct bk_arena *arena, const char **out,
                   struct bk_errbuf *err);

/* A field holding an RFC 3339 date-time, into UTC seconds. */
BK_MUST_CHECK enum bk_err bk_decode_instant(const json_t *obj, const char *path,
                                            const char *key, bool required,
                                            struct bk_arena *arena,
                                            int64_t *utc, bool *present,
                                            struct bk_errbuf *err);

#endif
