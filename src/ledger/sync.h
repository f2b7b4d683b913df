/* ledger/sync.h — applying a provider's event (core/event.h) to the
 * ledger; today the booking kinds.
 * The provider's view is a fact: a booking made there is recorded even when
 * it overlaps another (the overlap is written to the activity log). Events
 * may arrive in any order and more than once; each kind is applied so that
 * the ledger ends in the state the provider means:
 * - created:     known uid -> nothing; else a confirmed booking.
 * - rescheduled: new uid known -> nothing (already applied, or later
 *                state), except that a booking recorded separately from
 *                the old uid is now known to be a stale copy and is
 *                cancelled as superseded; a reschedule that keeps its uid
 *                moves the booking;
 *                old uid known -> moved there (unless cancelled/completed);
 *                neither -> created at the new time, both uids linked.
 * - cancelled:   known -> cancelled (cancelled stays cancelled);
 *                unknown -> recorded as a cancelled booking when the payload
 *                says enough, else BK_E_RETRY until its creation arrives.
 * - ended:       known -> completed and its client active; unknown -> as
 *                for cancelled, recorded as completed.
 * - replaced:    (a reschedule's cancel half, old uid -> next_uid) never
 *                cancels: next_uid known -> the old uid linked to it as
 *                superseded (a stale copy recorded from the old uid is
 *                cancelled as superseded); else nothing, the creation of
 *                next_uid moves the booking.
 * - no_show / no_show_cleared: known -> no_show, or no_show -> completed
 *                (its client active); a mark removed before it arrived
 *                is never set, and the removal completes the booking all
 *                the same (both orders end alike); unknown -> BK_E_RETRY.
 * Every change writes history and activity rows. */
#ifndef BK_LEDGER_SYNC_H
#define BK_LEDGER_SYNC_H

#include <stdbool.h>

#include "base/arena.h"
#include "base/err.h"
#include "core/event.h"
#include "store/store.h"

/* What applying an event did, for logs and tests. */
struct bk_sync_outcome {
    const char *action;      /* "created", "rescheduled", "cancelled",
                                "completed", "superseded", "unchanged" */
    const char *booking_uid; /* the ledger booking, or NULL */
    const char *note;        /* why unchanged, etc.; may be NULL */
    bool made;               /* a new ledger booking was recorded (also
                                when recorded straight as cancelled or
                                completed) */
};

/* Applies ev inside tx (a write transaction the caller commits), switching
 * on ev->kind. Hosts and event types it imports are named after the event's
 * provider (ev->provider as slug prefix, ev->provider_display in titles); an
 * event type is found by the provider's event type id through event types'
 * external_ids. Errors: BK_E_RETRY when the event refers to a booking not
 * yet known and lacks the data to record it; BK_E_INVALID (permanent) for an
 * event that cannot be applied (see err->field) or of a kind this build does
 * not apply; store errors otherwise. */
BK_MUST_CHECK enum bk_err
bk_ledger_sync_apply(struct bk_tx *tx, const struct bk_ext_event *ev,
                     int64_t now_utc, struct bk_arena *arena,
                     struct bk_sync_outcome *out, struct bk_errbuf *err);

/* A provider's event type (sync: Calendly's GET /event_types) recorded as
 * a link: ev is a booking-kind event whose booking names only the event
 * type (event_type_id, event_type_slug, event_type_title, length_min) and
 * its host (organizer). An event type already mapped to that id is left
 * as it is (*made false); otherwise one is imported exactly as for a
 * booking of it (inactive, "<provider>-<slug>", mapped to the id; its
 * host found by the organizer's email or imported) and *made is true.
 * BK_E_INVALID without event_type_id. */
BK_MUST_CHECK enum bk_err
bk_ledger_sync_event_type(struct bk_tx *tx, const struct bk_ext_event *ev,
                          int64_t now_utc, struct bk_arena *arena,
                          struct bk_event_type *out, bool *made,
                          struct bk_errbuf *err);

#endif
