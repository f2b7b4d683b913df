/* ledger/ledger.h — the ledger's operations. Each function runs one store
 * transaction applying core rules, so a booking, its client, its history
 * and its activity rows are written together or not at all. Thread-safe
 * (the store serializes writes). */
#ifndef BK_LEDGER_LEDGER_H
#define BK_LEDGER_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "core/availability.h"
#include "core/ledger.h"
#include "core/tz.h"
#include "store/store.h"

/* The UTC window [*from_utc, *to_utc) of the inclusive local dates
 * from_date..to_date (days since the epoch) in tz: from local midnight of
 * from_date to local midnight after to_date. */
void bk_dates_window(const struct bk_tz *tz, int64_t from_date, int64_t to_date,
                     int64_t *from_utc, int64_t *to_utc);

/* Free slots of the event type `slug` starting in [from_utc, to_utc) at
 * now_utc. BK_E_NOT_FOUND for an unknown slug, or an inactive one unless
 * include_inactive. exclude_id (0 = none) is a booking that does not count
 * as busy: the one its attendee is moving. *et receives the event type
 * (strings in arena). A host without a schedule has no slots. max_slots:
 * 0 for all, else at most max_slots + 1 are computed (*n > max_slots: the
 * window holds more; bk_avail_query.max_slots). */
BK_MUST_CHECK enum bk_err
bk_ledger_slots(struct bk_store *store, const char *slug, bool include_inactive,
                int64_t exclude_id, int64_t from_utc, int64_t to_utc,
                int64_t now_utc, size_t max_slots, struct bk_arena *arena,
                struct bk_event_type *et, struct bk_slot **slots, size_t *n,
                struct bk_errbuf *err);

/* As bk_ledger_slots, inside the caller's transaction tx (a read one is
 * enough) with the event type and its host's schedule the caller has read
 * (sched NULL: the host has none, no slots): the slots answer reads each
 * once. Both are borrowed. */
BK_MUST_CHECK enum bk_err
bk_ledger_slots_in(struct bk_tx *tx, const struct bk_event_type *et,
                   const struct bk_schedule *sched, int64_t exclude_id,
                   int64_t from_utc, int64_t to_utc, int64_t now_utc,
                   size_t max_slots, struct bk_arena *arena,
                   struct bk_slot **slots, size_t *n, struct bk_errbuf *err);

/* A booking request from the booking page or the API. */
struct bk_booking_request {
    const char *event_type_slug;
    int64_t start_utc; /* must be a free slot start */
    const char *attendee_name;
    const char *attendee_email;
    const char *attendee_timezone; /* IANA or NULL */
    const char *notes;             /* or NULL */
    /* The answers to the event type's questions: a JSON object by
     * question id, or NULL (ledger/questions.h bk_answers_check). */
    const struct json_t *answers;
    enum bk_source source;
    const char *actor; /* for history: "attendee", "admin", "api" */
    /* Payments (ledger/payments.h). charge: a priced event type must be
     * paid (a public booking; an admin's bookings are not charged). With
     * hold_min > 0 (Stripe configured) such a booking is created pending,
     * payment unpaid, holding its slot for hold_min minutes, with its
     * payment's jobs (job_max_attempts, 0: the default); *checkout_job
     * (when not NULL) receives its checkout job's id, 0 for a free
     * booking. With hold_min 0 it is refused: BK_E_UNAVAILABLE, code
     * "payments_not_configured". */
    bool charge;
    int hold_min;
    int job_max_attempts;
    int64_t *checkout_job;
    /* A package credit pays for it instead (ledger/packages.h): the uid
     * of the purchase whose credit code the attendee gave (checked by
     * the caller), or NULL. The booking is confirmed, payment paid, and
     * a credit is taken in its transaction (bk_ledger_credit_use). */
    const char *credit_purchase_uid;
};

/* Books a slot atomically: the availability check and the insert happen in
 * one write transaction, so of concurrent requests for one slot exactly one
 * succeeds. Finds or creates the client by email (case-insensitive; new
 * clients are prospects). The booking is confirmed with payment status
 * none, or pending when it must be paid (see charge above). Errors:
 * BK_E_INVALID (field "event_type" unknown or not bookable, field "start" in
 * the past, beyond the horizon or not on the grid); BK_E_SLOT_UNAVAILABLE when
 * the slot is taken or inside the minimum notice. *out receives the booking as
 * stored (strings in arena). */
BK_MUST_CHECK enum bk_err
bk_ledger_booking_create(struct bk_store *store,
                         const struct bk_booking_request *req, int64_t now_utc,
                         struct bk_arena *arena, struct bk_booking *out,
                         struct bk_errbuf *err);

/* Cancels the booking `uid` with an optional reason (<= BK_MAX_TEXT).
 * BK_E_NOT_FOUND; BK_E_ILLEGAL_TRANSITION when it is not pending or
 * confirmed. Its slot is free from the commit on. */
BK_MUST_CHECK enum bk_err
bk_ledger_booking_cancel(struct bk_store *store, const char *uid,
                         const char *reason, const char *actor, int64_t now_utc,
                         struct bk_arena *arena, struct bk_booking *out,
                         struct bk_errbuf *err);

/* Marks the booking `uid` completed (which BK_EV_COMPLETE) or a no-show
 * (BK_EV_NO_SHOW) with an optional note (<= BK_MAX_TEXT), writing
 * BOOKING_COMPLETED / BOOKING_NO_SHOW activity (outbound webhooks
 * booking.completed / booking.no_show) and, when completed, activating a
 * prospect client. BK_E_NOT_FOUND; BK_E_ILLEGAL_TRANSITION when the
 * lifecycle forbids it (core/booking.h: confirmed|no_show -> completed,
 * confirmed|completed -> no_show) or the booking has not started yet. */
BK_MUST_CHECK enum bk_err bk_ledger_booking_mark(
    struct bk_store *store, const char *uid, enum bk_booking_event which,
    const char *note, const char *actor, int64_t now_utc,
    struct bk_arena *arena, struct bk_booking *out, struct bk_errbuf *err);

/* Moves the booking `uid` to new_start_utc (same duration) after the same
 * checks as bk_ledger_booking_create, the booking itself not counting as
 * busy. The previous start is kept in rescheduled_from_utc and history.
 * Moving to the current start changes nothing. Errors as for create, plus
 * BK_E_NOT_FOUND and BK_E_ILLEGAL_TRANSITION. */
BK_MUST_CHECK enum bk_err
bk_ledger_booking_reschedule(struct bk_store *store, const char *uid,
                             int64_t new_start_utc, const char *actor,
                             int64_t now_utc, struct bk_arena *arena,
                             struct bk_booking *out, struct bk_errbuf *err);

/* Finds the client with this email (case-insensitive) or creates a
 * prospect with the given name and zone (either may be NULL), inside tx.
 * *created tells which (may be NULL). Writes CLIENT_CREATED activity for a
 * new one. An existing client is changed only by a source that vouches
 * for its sender (the admin API, a verified provider's webhook): such a
 * source gives a client stored without a name the name it sends. An
 * anonymous one (BK_SOURCE_WEB) never changes a stored client: anyone may
 * type anyone's email (docs/api.md "Clients and attendees"). */
BK_MUST_CHECK enum bk_err bk_ledger_client_find_or_create(
    struct bk_tx *tx, const char *email, const char *name, const char *timezone,
    enum bk_source source, int64_t now_utc, struct bk_arena *arena,
    struct bk_client *out, bool *created, struct bk_errbuf *err);

/* The SEQUENCE (RFC 5545 §3.8.7.4) of the booking's calendar object at
 * activity before_id (0 = now): how many of its changes that send an
 * invite (BOOKING_CREATED of a booking not left pending, BOOKING_CONFIRMED,
 * BOOKING_RESCHEDULED, BOOKING_CANCELLED) have ids below before_id, less
 * one when before_id is 0 (the latest change's own number, 0 at least).
 * Counted from the activity log, so the invites, the .ics download, the
 * feed and the calendar push agree whatever order jobs run in. */
BK_MUST_CHECK enum bk_err bk_ledger_invite_sequence(struct bk_tx *tx,
                                                    int64_t booking_id,
                                                    int64_t before_id, int *seq,
                                                    struct bk_errbuf *err);

/* bk_ledger_invite_sequence(tx, ids[i], 0, &seqs[i]) for n bookings
 * (at most BK_STORE_ACTIVITY_BATCH) in one query (the calendar feed). */
BK_MUST_CHECK enum bk_err bk_ledger_invite_sequences(struct bk_tx *tx,
                                                     const int64_t *ids,
                                                     size_t n, int *seqs,
                                                     struct bk_errbuf *err);

/* Random opaque ids: a booking UID (BK_UID_LEN base32 characters) and a
 * prefixed public id ("cli_" + 16 characters). out must hold the result
 * and its NUL. */
void bk_ledger_new_uid(char out[BK_UID_LEN + 1]);
void bk_ledger_new_public_id(const char *prefix, char out[32]);

/* ---- The catalog --------------------------------------------------------
 * Each is the store write of the same name (store/store.h, same errors)
 * and its ledger event (ledger/events.h: HOST_CREATED, ...), inside the
 * caller's write transaction. actor names who changed it ("admin",
 * "apply"); detail strings go to arena. The API and `bookingd apply` write
 * the catalog only through these. */
BK_MUST_CHECK enum bk_err
bk_ledger_host_create(struct bk_tx *tx, const struct bk_host *h,
                      const char *actor, int64_t now_utc,
                      struct bk_arena *arena, int64_t *id,
                      struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err
bk_ledger_host_update(struct bk_tx *tx, const struct bk_host *h,
                      const char *actor, int64_t now_utc,
                      struct bk_arena *arena, struct bk_errbuf *err);
/* slug (may be NULL) is for the activity's detail. */
BK_MUST_CHECK enum bk_err
bk_ledger_host_delete(struct bk_tx *tx, int64_t id, const char *slug,
                      const char *actor, int64_t now_utc,
                      struct bk_arena *arena, struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err
bk_ledger_schedule_put(struct bk_tx *tx, int64_t host_id,
                       const struct bk_schedule *s, const char *actor,
                       int64_t now_utc, struct bk_arena *arena,
                       struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err
bk_ledger_event_type_create(struct bk_tx *tx, const struct bk_event_type *et,
                            const char *actor, int64_t now_utc,
                            struct bk_arena *arena, int64_t *id,
                            struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err
bk_ledger_event_type_update(struct bk_tx *tx, const struct bk_event_type *et,
                            const char *actor, int64_t now_utc,
                            struct bk_arena *arena, struct bk_errbuf *err);
/* Deletes et->id; et's slug and host are for the event. */
BK_MUST_CHECK enum bk_err
bk_ledger_event_type_delete(struct bk_tx *tx, const struct bk_event_type *et,
                            const char *actor, int64_t now_utc,
                            struct bk_arena *arena, struct bk_errbuf *err);
/* The client lifecycle (ledger/lifecycle.c, docs/payments.md "Client
 * lifecycle"). In tx: up to limit active clients with id > after_id that
 * have had no booking made or starting in the last inactive_days days
 * (and are older than that) become inactive, each with CLIENT_UPDATED
 * (client.updated; detail status, from, reason). *n_changed receives how
 * many; *last_id the id to continue after, or 0 when none is left. */
BK_MUST_CHECK enum bk_err
bk_ledger_clients_inactivate(struct bk_tx *tx, int inactive_days,
                             int64_t after_id, int limit, int64_t now_utc,
                             struct bk_arena *arena, int64_t *last_id,
                             int *n_changed, struct bk_errbuf *err);
/* In the transaction of a booking made by client c: an inactive client
 * is active again (CLIENT_UPDATED, reason "booked again"); c is updated.
 * Nothing for a prospect (active on a paid or completed booking) or an
 * active client. */
BK_MUST_CHECK enum bk_err
bk_ledger_client_booked(struct bk_tx *tx, struct bk_client *c,
                        const char *actor, int64_t now_utc,
                        struct bk_arena *arena, struct bk_errbuf *err);
/* Stores c (read by its id) and emits CLIENT_UPDATED (client.updated)
 * with detail {"client", "changed": the names of the fields that differ
 * from the stored row: email, name, timezone, status, phone, notes}. */
BK_MUST_CHECK enum bk_err
bk_ledger_client_update(struct bk_tx *tx, const struct bk_client *c,
                        const char *actor, int64_t now_utc,
                        struct bk_arena *arena, struct bk_errbuf *err);

#endif
