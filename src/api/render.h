/* api/render.h — ledger records as the JSON of API.md.
 * Each function returns a new json_t (the caller owns it: json_decref).
 * Instants are rendered in UTC with 'Z' when tz is NULL, else as wall time
 * of tz with its numeric offset. */
#ifndef BK_API_RENDER_H
#define BK_API_RENDER_H

#include <stddef.h>

#include <jansson.h>

#include "core/availability.h"
#include "core/ledger.h"
#include "core/schedule.h"
#include "core/tz.h"

json_t *bk_render_instant(int64_t utc, const struct bk_tz *tz);
json_t *bk_render_host(const struct bk_host *h);
json_t *bk_render_schedule(const struct bk_schedule *s);
/* admin: include fields only an admin sees (external_ids, the deprecated
 * calcom_event_type_id,
 * imported, created_at, updated_at). */
json_t *bk_render_event_type(const struct bk_event_type *et, bool admin);
json_t *bk_render_client(const struct bk_client *c);
/* links: the booking's external links (may be NULL when n_links is 0).
 * "attendee" is the name and email as given when the booking was made.
 * with_client: include the stored client ({id, name, email}); without it
 * "client" is null — the public form, for answers to a visitor or a
 * manage token, which must not disclose what is stored about the owner of
 * an email anyone may type (docs/api.md "Clients and attendees"). */
json_t *bk_render_booking(const struct bk_booking *b,
                          const struct bk_link *links, size_t n_links,
                          const struct bk_tz *tz, bool with_client);
json_t *bk_render_change(const struct bk_booking_change *c,
                         const struct bk_tz *tz);
json_t *bk_render_activity(const struct bk_activity *a);
/* A job's state as the jobs admin names it: "queued" (pending, not yet
 * tried), "retrying" (pending after a failed attempt), "running", "done",
 * "dead". */
const char *bk_render_job_state(enum bk_job_status status, int attempts);
/* with_payload: include the payload (as JSON when it parses, else as a
 * string). */
json_t *bk_render_job(const struct bk_job *j, bool with_payload);
/* with_payload: include the raw payload as a string. */
json_t *bk_render_delivery(const struct bk_delivery *d, bool with_payload);

/* {"event_type": slug or null, "timezone": name, "slots": {"YYYY-MM-DD":
 * [{"start","end"}]}}: slots grouped by their start's date in tz, rendered
 * in tz (API.md "GET /event-types/{slug}/slots"). */
json_t *bk_render_slots(const char *event_type_slug, const struct bk_tz *tz,
                        const struct bk_slot *slots, size_t n);

/* The same answer as compact JSON text, byte for byte what
 * bk_json_dump(bk_render_slots(...)) gives, written directly into one
 * buffer sized up front (no tree, no second pass) with the zone's offset
 * looked up once per change (bk_tz_offset_span), not three times a slot.
 * slots must be sorted by start (as the engine returns them). Returns the
 * text (NUL-terminated, in arena) and its length in *len. */
char *bk_render_slots_text(struct bk_arena *arena, const char *event_type_slug,
                           const struct bk_tz *tz, const struct bk_slot *slots,
                           size_t n, size_t *len);

#endif
