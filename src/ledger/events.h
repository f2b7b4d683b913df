/* ledger/events.h — ledger events: the one seam through which every change
 * of the ledger passes. bk_ledger_emit writes, in the caller's transaction,
 * the booking's history entry (for booking changes), the activity row, and
 * one job for each subscriber registered for the event's kind — so an
 * outbox consumer (email, calendars, outbound webhooks, a Notion mirror)
 * hears of a change exactly when, and only if, the change commits.
 *
 * Subscribers are registered once at start, before any ledger operation
 * runs (bk_ledger_subscribe); the registry is read-only afterwards and
 * shared by every thread. */
#ifndef BK_LEDGER_EVENTS_H
#define BK_LEDGER_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "store/store.h"

/* What happened. The activity log names each kind as
 * bk_ledger_event_name spells it ("BOOKING_CREATED"); numbers are never
 * reused. */
enum bk_ledger_event_kind {
    BK_LEV_BOOKING_CREATED = 0,
    BK_LEV_BOOKING_RESCHEDULED = 1,
    BK_LEV_BOOKING_CANCELLED = 2,
    BK_LEV_BOOKING_COMPLETED = 3,
    BK_LEV_BOOKING_NO_SHOW = 4,
    BK_LEV_BOOKING_SUPERSEDED = 5, /* cancelled: a provider replaced it */
    BK_LEV_BOOKING_OVERLAP = 6,    /* a provider's booking overlaps another */
    BK_LEV_CLIENT_CREATED = 7,
    BK_LEV_CLIENT_UPDATED = 8,
    BK_LEV_CLIENT_ACTIVATED = 9,
    BK_LEV_HOST_CREATED = 10,
    BK_LEV_HOST_UPDATED = 11,
    BK_LEV_HOST_DELETED = 12,
    BK_LEV_HOST_IMPORTED = 13,
    BK_LEV_SCHEDULE_UPDATED = 14,
    BK_LEV_EVENT_TYPE_CREATED = 15,
    BK_LEV_EVENT_TYPE_UPDATED = 16,
    BK_LEV_EVENT_TYPE_DELETED = 17,
    BK_LEV_EVENT_TYPE_IMPORTED = 18,
    BK_LEV_SYNC_EVENT_SKIPPED = 19, /* a provider's event changed nothing */
    BK_LEV_BOOKING_CONFIRMED = 20,  /* pending -> confirmed (payment) */
    BK_LEV_CHECKOUT_INITIATED = 21, /* a Checkout Session was created */
    BK_LEV_PAYMENT_COMPLETED = 22,  /* a booking was paid */
    BK_LEV_CHECKOUT_EXPIRED = 23,   /* its hold ended unpaid */
    BK_LEV_REFUND_ISSUED = 24,      /* a payment was refunded */
    BK_LEV_INVOICE_PAID = 25,       /* an invoice was issued, paid */
    BK_LEV_PACKAGE_PURCHASED = 26,  /* a package was paid: credits granted */
    BK_LEV_CREDIT_USED = 27,        /* a booking took a package credit */
};
#define BK_LEV_COUNT 28

/* The bit of a kind in a subscriber's mask. */
#define BK_LEV_BIT(k) (UINT64_C(1) << (k))

/* One change. Ids are 0 when the change is not about such a row. */
struct bk_ledger_event {
    enum bk_ledger_event_kind kind;
    int64_t at_utc;     /* seconds since the epoch, UTC */
    const char *actor;  /* who, in the history: "attendee", "admin",
                           "api", "calcom" ... */
    const char *source; /* where from, in the activity log: "web", "api",
                           "calcom" ...; NULL: the actor */
    int64_t booking_id; /* booking events: required */
    int64_t client_id;  /* the client concerned, if any */
    int64_t host_id;    /* catalog events */
    int64_t event_type_id;
    /* Booking history (booking events that change a booking): statuses are
     * enum bk_booking_status or -1 when unchanged; times 0 when
     * unchanged. */
    int from_status;
    int to_status;
    int64_t old_start_utc, old_end_utc;
    int64_t new_start_utc, new_end_utc;
    const char *note;   /* history note (a reason), or NULL */
    const char *detail; /* the activity's detail: a JSON object text, or
                           NULL */
};

/* Initializes ev for `kind` at at_utc by actor, with no ids and statuses
 * unchanged (-1). */
void bk_ledger_event_init(struct bk_ledger_event *ev,
                          enum bk_ledger_event_kind kind, int64_t at_utc,
                          const char *actor);

/* Records ev inside tx: the booking history entry when the kind changes a
 * booking (created, rescheduled, cancelled, completed, no-show,
 * superseded, confirmed), the activity row, and a job for every
 * subscriber of the kind (dedupe key "SUBSCRIBER:ACTIVITY_ID", payload
 * {"event": NAME, "activity_id", "booking_id", "client_id", "host_id",
 * "event_type_id", "at"} and "status", the booking's status after the
 * change, when the change sets one), all in the caller's transaction. Errors
 * are the store's; BK_E_INVALID for a booking kind without booking_id. */
BK_MUST_CHECK enum bk_err bk_ledger_emit(struct bk_tx *tx,
                                         const struct bk_ledger_event *ev,
                                         struct bk_errbuf *err);

/* The name outbound webhooks give kind ("booking.created"), or NULL for a
 * kind they do not publish. */
const char *bk_ledger_event_public_name(enum bk_ledger_event_kind kind);
/* The kind of a public name, or -1. */
int bk_ledger_event_public_parse(const char *name);

/* "BOOKING_CREATED"; "UNKNOWN" out of range. */
const char *bk_ledger_event_name(enum bk_ledger_event_kind kind);

/* A subscriber: the job kind it wants enqueued for the event kinds in
 * `kinds` (a mask of BK_LEV_BIT). The strings are static. */
struct bk_ledger_subscriber {
    const char *name;     /* unique, [a-z0-9_-]: part of the dedupe key */
    const char *job_kind; /* the job to enqueue (its handler is in jobs/) */
    uint64_t kinds;
    int max_attempts; /* 0: the job queue's default of 10 */
    /* Optional: called by bk_ledger_emit for the kinds in `kinds`, in the
     * emitting transaction, after the subscriber's job is enqueued, with
     * the change's activity id: for what must commit with the change
     * itself (the mail subscriber's delayed reminder jobs). It runs on
     * the request's thread inside its transaction: store writes only, no
     * I/O. An error rolls the change back. */
    enum bk_err (*in_tx)(struct bk_tx *tx, const struct bk_ledger_event *ev,
                         int64_t activity_id, struct bk_errbuf *err);
};

/* Registers s (borrowed for the process's life). BK_E_DUPLICATE for a name
 * taken, BK_E_TOO_LARGE past BK_LEDGER_MAX_SUBSCRIBERS, BK_E_INVALID for a
 * bad name or an empty mask. Call before any ledger operation. */
#define BK_LEDGER_MAX_SUBSCRIBERS 32
BK_MUST_CHECK enum bk_err
bk_ledger_subscribe(const struct bk_ledger_subscriber *s,
                    struct bk_errbuf *err);

/* Forgets every subscriber (tests). */
void bk_ledger_subscribers_clear(void);

#endif
