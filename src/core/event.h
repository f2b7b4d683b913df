/* core/event.h — a provider's event, normalized: a tagged union.
 * webhooks/<provider>.c turns a delivery's payload into this (once, at
 * intake; webhooks/event.c stores it with the delivery as JSON);
 * ledger/sync.c applies it, switching on kind. Strings are borrowed (they
 * live in the arena of the delivery being processed); 0 and NULL mean "not
 * in the payload". */
#ifndef BK_CORE_EVENT_H
#define BK_CORE_EVENT_H

#include <stdint.h>

#include "core/booking.h"

/* What happened. Each kind names the member of the union that carries it.
 * Room is left for the kinds the Stripe, Zoom and calendar providers will
 * add, each with its own struct in the union: a payment succeeded, a
 * meeting ended with its attendance, a calendar event moved. Numbers are
 * never reused. */
enum bk_ext_kind {
    BK_EXT_BOOKING_CREATED = 0,     /* booking: made at the provider */
    BK_EXT_BOOKING_RESCHEDULED = 1, /* booking: uid new, previous_uid old */
    BK_EXT_BOOKING_CANCELLED = 2,   /* booking */
    BK_EXT_MEETING_ENDED = 3,       /* booking: its end time passed */
    /* booking: uid was replaced at the provider by next_uid (the cancel
     * half of a reschedule that makes a new uid, such as Calendly's); the
     * event that creates next_uid moves the booking, this one never
     * cancels it. */
    BK_EXT_BOOKING_REPLACED = 4,
    BK_EXT_NO_SHOW_MARKED = 5,  /* booking: the attendee did not come */
    BK_EXT_NO_SHOW_CLEARED = 6, /* booking: that mark was removed */

    /* payment: a Checkout Session completed (payment_status "paid", or
     * "unpaid" while a delayed method is under way) */
    BK_EXT_PAYMENT_COMPLETED = 7,
    BK_EXT_PAYMENT_SUCCEEDED = 8, /* payment: a delayed method paid */
    BK_EXT_PAYMENT_FAILED = 9,    /* payment: a delayed method failed */
    BK_EXT_PAYMENT_EXPIRED = 10,  /* payment: the session expired unpaid */
    BK_EXT_PAYMENT_REFUNDED = 11, /* payment: its charge was refunded */

    /* booking: a participant joined the meeting uid (Zoom's meeting id),
     * attendee is the participant; the ledger records the attendance
     * when it is the booking's attendee (by email, else by name). */
    BK_EXT_ATTENDEE_JOINED = 12,

    /* booking.uid names an object at the provider (a Notion page) that
     * changed there: the ledger changes nothing itself but asks for the
     * provider's pull ("<provider>.pull") soon, deduplicated. */
    BK_EXT_REMOTE_CHANGED = 13,
};
#define BK_EXT_KIND_COUNT 14

/* Whether k is one of the PAYMENT_* kinds (ev->payment). */
#define BK_EXT_IS_PAYMENT(k)                                                   \
    ((k) >= BK_EXT_PAYMENT_COMPLETED && (k) <= BK_EXT_PAYMENT_REFUNDED)

struct bk_ext_person {
    const char *name;
    const char *email;
    const char *timezone; /* IANA, already checked; NULL when unknown */
    const char *username; /* provider's handle (organizers) */
};

/* The BOOKING_* kinds and MEETING_ENDED: a booking as the provider sees
 * it. */
struct bk_ext_booking {
    const char *uid;          /* the provider's booking uid; never NULL */
    const char *previous_uid; /* RESCHEDULED: the uid it replaces */
    const char *booking_id;   /* the provider's other id, as text */
    int64_t start_utc;        /* seconds since the epoch, UTC */
    int64_t end_utc;
    struct bk_ext_person attendee;
    struct bk_ext_person organizer;
    /* The provider's event type: its id as text (an integer at Cal.com, a
     * URI at Calendly), matched against event types' external_ids. */
    const char *event_type_id;
    const char *event_type_slug;
    const char *event_type_title;
    int length_min; /* the event type's duration, minutes */
    const char *title;
    const char *notes;
    const char *location;
    const char *meeting_url;
    const char *cancellation_reason;
    const char *next_uid; /* REPLACED: the uid that replaced uid */
    /* NO_SHOW_*: the provider's id of the no-show mark, when it has one
     * (a mark removed before it arrived is then not set again). */
    const char *mark_id;
    /* MEETING_ENDED: the booking becomes completed only when the attendee
     * joined (an ATTENDEE_JOINED matched), no_show otherwise (Zoom);
     * false: completed (Cal.com). */
    bool by_attendance;
};

/* The PAYMENT_* kinds: a Stripe Checkout Session or Charge as it concerns
 * one booking. */
struct bk_ext_payment {
    const char *booking_uid;    /* ours (metadata[booking_uid] or
                                   client_reference_id); never NULL */
    const char *session_id;     /* "cs_..."; NULL for a charge */
    const char *payment_intent; /* "pi_..."; may be NULL */
    const char *payment_status; /* the session's: "paid", "unpaid",
                                   "no_payment_required"; may be NULL */
    int64_t amount_minor;       /* the session's total or the charge's
                                   amount; 0 when absent */
    int64_t refunded_minor;     /* REFUNDED: the amount refunded so far */
    const char *currency;       /* ISO 4217, upper case; may be NULL */
};

struct bk_ext_event {
    enum bk_ext_kind kind;
    /* The provider's table row (webhooks/<provider>.c) fills these: */
    const char *provider;         /* registry name; links' namespace */
    const char *provider_display; /* "Cal.com", for people */
    enum bk_source source;        /* of the bookings it creates */
    union {
        struct bk_ext_booking booking; /* the BOOKING_* kinds, MEETING_ENDED */
        struct bk_ext_payment payment; /* the PAYMENT_* kinds */
    };
};

/* The ledger booking or provider object ev is about, for ordering and
 * waking deliveries: the booking's uid (booking kinds: the provider's uid;
 * payment kinds: ours). */
const char *bk_ext_event_subject(const struct bk_ext_event *ev);

/* "created", "rescheduled", "cancelled", "ended", "replaced", "no_show",
 * "no_show_cleared", "payment_completed", "payment_succeeded",
 * "payment_failed", "payment_expired", "payment_refunded"; "?" for others. */
const char *bk_ext_kind_name(enum bk_ext_kind k);
/* The kind named s (as bk_ext_kind_name), or -1. */
int bk_ext_kind_parse(const char *s);

#endif
