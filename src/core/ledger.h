/* core/ledger.h — the ledger's records as plain structs (DESIGN.md "The
 * ledger"). The store fills and writes them; api/ renders them as JSON.
 * Strings are borrowed: when a store function fills a record, its strings
 * live in the arena passed to that function. Times are seconds since the
 * epoch, UTC, unless the name says _ms (milliseconds). 0 means "none" for
 * optional ids and instants. */
#ifndef BK_CORE_LEDGER_H
#define BK_CORE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "core/availability.h"
#include "core/booking.h"

#define BK_MAX_SLUG         64
#define BK_MAX_NAME         200
#define BK_MAX_EMAIL        254
#define BK_MAX_TITLE        200
#define BK_MAX_TEXT         5000 /* descriptions, notes, reasons */
#define BK_MAX_CLIENT_PHONE 40   /* a client's phone (bk_phone_valid) */
#define BK_MAX_URL          2048
#define BK_MAX_BIO          1000 /* a host's bio */
#define BK_UID_LEN          20   /* booking UIDs: 20 base32 characters */

/* External ids of an event type: at most BK_MAX_EXTERNAL_IDS providers,
 * each id 1..BK_MAX_EXTERNAL_ID bytes of printable text (a number, a slug
 * or a URI such as Calendly's "https://api.calendly.com/event_types/..."),
 * provider names 1..BK_MAX_PROVIDER bytes of [a-z0-9_]. */
#define BK_MAX_EXTERNAL_IDS 8
/* An event type's reminders: at most BK_MAX_REMINDERS, each 1 to
 * BK_MAX_REMINDER_MIN minutes (60 days) before the start. */
#define BK_MAX_REMINDERS    10
#define BK_MAX_REMINDER_MIN (60 * 24 * 60)
#define BK_MAX_EXTERNAL_ID  512
#define BK_MAX_PROVIDER     32

struct bk_host {
    int64_t id;
    const char *slug; /* [a-z0-9-], unique */
    const char *name;
    const char *email;     /* the organizer's address */
    const char *timezone;  /* IANA */
    const char *photo_url; /* https URL of a photo, or NULL */
    const char *bio;       /* a short text shown on the booking page, or NULL */
    int64_t created_utc;
    int64_t updated_utc;
};

/* How one provider names a ledger row: its id there, as text. */
struct bk_external_id {
    const char *provider; /* "calcom", "calendly", ... */
    const char *id;       /* "1234", "https://api.calendly.com/..." */
};

enum bk_location_kind {
    BK_LOCATION_NONE = 0,
    BK_LOCATION_VIDEO = 1,
    BK_LOCATION_IN_PERSON = 2,
    BK_LOCATION_PHONE = 3,
    /* A Zoom meeting made per booking (connectors/zoom.c); its join URL
     * becomes the booking's meeting_url. location_value: unused. */
    BK_LOCATION_ZOOM = 4,
};

struct bk_event_type {
    int64_t id;
    const char *slug; /* unique */
    const char *title;
    const char *description; /* may be NULL */
    int64_t host_id;
    const char *host_slug; /* filled on reads */
    struct bk_slot_rules rules;
    bool has_price;
    int64_t price_minor; /* amount in minor units of currency */
    char currency[4];    /* ISO 4217, upper case */
    enum bk_location_kind location_kind;
    const char *location_value; /* may be NULL */
    bool active;
    /* The providers' ids of this event type, sorted by provider, one per
     * provider (stored as external links of kind "event_type"; filled on
     * reads, written by insert and update). */
    struct bk_external_id external_ids[BK_MAX_EXTERNAL_IDS];
    size_t n_external_ids;
    bool imported; /* created from a provider's payload */
    /* When the attendee is reminded, in minutes before the start, distinct,
     * in the order given. has_reminders false (a zeroed struct): the
     * default, BK_DEFAULT_REMINDERS; reads always set it. */
    bool has_reminders;
    int reminders_min[BK_MAX_REMINDERS];
    int n_reminders;
    /* The refund policy of a paid booking cancelled (ledger/payments.c):
     * all of it back when cancelled at least refund_full_hours before the
     * start, else refund_late_percent of it. A zeroed struct has none;
     * reads always fill it (the default is BK_DEFAULT_REFUND_*). */
    bool has_refund_policy;
    int refund_full_hours;   /* 0..8760 */
    int refund_late_percent; /* 0..100 */
    /* The booking form's custom questions, as JSON text
     * (ledger/questions.h); NULL means none ("[]"). */
    const char *questions;
    int64_t created_utc;
    int64_t updated_utc;
};
#define BK_DEFAULT_REMINDERS           "[1440,60]"
#define BK_DEFAULT_REFUND_FULL_HOURS   24
#define BK_DEFAULT_REFUND_LATE_PERCENT 0

struct bk_client {
    int64_t id;
    const char *public_id; /* "cli_..." shown to the outside */
    const char *email;     /* as first given; unique case-insensitively */
    const char *name;      /* may be NULL (a provider sent none) */
    const char *timezone;  /* may be NULL */
    const char *phone;     /* may be NULL; bk_phone_valid */
    const char *notes;     /* may be NULL; <= BK_MAX_TEXT, multiline */
    enum bk_client_status status;
    int64_t created_utc;
    int64_t updated_utc;
};

/* bk_booking.flag: its event was deleted in a calendar whose connection
 * asks the admin instead of cancelling (docs/calendars.md "Ask"). */
#define BK_FLAG_DELETED_IN_CALENDAR "deleted_in_calendar"

struct bk_booking {
    int64_t id;
    const char *uid; /* opaque, unique; BK_UID_LEN characters */
    int64_t event_type_id;
    const char *event_type_slug;  /* filled on reads */
    const char *event_type_title; /* filled on reads */
    int64_t host_id;
    const char *host_slug; /* filled on reads */
    int64_t client_id;
    const char *client_public_id; /* filled on reads */
    const char *client_name;      /* filled on reads */
    const char *client_email;     /* filled on reads */
    int64_t start_utc;
    int64_t end_utc;
    /* The attendee as given when the booking was made (may differ from
     * the client's stored name; the email matches the client's
     * case-insensitively). Written once; NULL only for a provider's
     * booking that named nobody. */
    const char *attendee_name;
    const char *attendee_email;
    const char *attendee_timezone; /* IANA; may be NULL */
    enum bk_booking_status status;
    enum bk_payment_status payment_status;
    enum bk_source source;
    const char *location;
    const char *meeting_url;
    const char *notes;
    /* The answers to the event type's questions, as JSON text
     * (ledger/questions.h); NULL: none. Written once, by insert. */
    const char *answers;
    const char *cancellation_reason;
    int64_t rescheduled_from_utc; /* start before the latest reschedule */
    int64_t hold_expires_utc;     /* pending bookings: hold end; 0 = none */
    int64_t created_utc;
    int64_t updated_utc;
    /* Why the booking waits for the admin ("deleted_in_calendar"); NULL:
     * it does not. Filled on reads; set by bk_store_booking_set_flag. */
    const char *flag;
};

/* Booking time as the availability engine needs it: the booking and its own
 * event type's buffers. */
struct bk_booking_span {
    int64_t booking_id;
    int64_t event_type_id;
    int64_t start_utc;
    int64_t end_utc;
    int buffer_before_min;
    int buffer_after_min;
};

/* One entry of a booking's history: every change, oldest first. */
struct bk_booking_change {
    int64_t id;
    int64_t booking_id;
    int64_t at_utc;
    const char *action; /* "created", "cancelled", "rescheduled", ... */
    const char *actor;  /* "admin", "attendee", "api", "calcom", "system" */
    int from_status;    /* enum bk_booking_status, -1 = none */
    int to_status;      /* enum bk_booking_status, -1 = none */
    int64_t old_start_utc, old_end_utc; /* 0 = unchanged */
    int64_t new_start_utc, new_end_utc; /* 0 = unchanged */
    const char *note;                   /* reason or detail; may be NULL */
};

enum bk_link_entity {
    BK_LINK_BOOKING = 0,
    BK_LINK_CLIENT = 1,
    BK_LINK_EVENT_TYPE = 2,
    BK_LINK_HOST = 3,
};

/* How a ledger row maps to a provider's object. (provider, kind,
 * external_id) is unique. superseded: an id the object had before (a
 * Cal.com uid replaced by a reschedule); it still finds the row. */
struct bk_link {
    int64_t id;
    enum bk_link_entity entity;
    int64_t entity_id;
    const char *provider; /* "calcom", "stripe", ... */
    const char *kind;     /* "booking_uid", "booking_id", ... */
    const char *external_id;
    const char *etag; /* version at the provider; may be NULL */
    bool superseded;
    int64_t created_utc;
};

/* An append-only business event (DESIGN.md "activity"). */
struct bk_activity {
    int64_t id;
    int64_t at_utc;
    const char *kind;             /* "BOOKING_CREATED", ... */
    int64_t booking_id;           /* 0 = none */
    int64_t client_id;            /* 0 = none */
    const char *source;           /* bk_source_name() or "admin" */
    const char *detail;           /* a JSON object as text; may be NULL */
    const char *booking_uid;      /* filled on reads */
    const char *client_public_id; /* filled on reads */
};

enum bk_delivery_status {
    BK_DELIVERY_RECEIVED = 0,  /* stored; its apply job is queued */
    BK_DELIVERY_PROCESSED = 1, /* applied to the ledger */
    BK_DELIVERY_IGNORED = 2,   /* stored, nothing to apply (unknown type) */
    BK_DELIVERY_FAILED = 3,    /* permanently failed; see error */
};

/* A webhook delivery in the inbox. (provider, delivery_key) is unique. */
struct bk_delivery {
    int64_t id;
    const char *public_id;    /* "dlv_..." */
    const char *provider;     /* "calcom" */
    const char *delivery_key; /* the provider's delivery id or our hash */
    const char *type;         /* "BOOKING_CREATED"; may be NULL */
    const char *subject;      /* the provider object it is about (a
                                 booking uid); may be NULL */
    int64_t received_ms;
    const char *payload; /* the raw body, NUL-terminated */
    size_t payload_len;
    /* The normalized event its provider made of the payload at intake
     * (JSON text, webhooks/event.c); NULL when none was stored (deliveries
     * from before schema version 2, ignored and failed ones). Not loaded
     * by lists. */
    const char *normalized;
    enum bk_delivery_status status;
    const char *error;    /* last error; may be NULL */
    int64_t processed_ms; /* 0 = not yet */
    int64_t job_id;       /* its apply job; 0 = none */
    /* From the job, filled on reads: */
    int attempts;
    int64_t next_attempt_ms; /* 0 = none */
};

enum bk_job_status {
    BK_JOB_PENDING = 0,
    BK_JOB_RUNNING = 1,
    BK_JOB_DONE = 2,
    BK_JOB_DEAD = 3, /* dead letter: out of attempts or a permanent error */
};

/* An outbox (or inbox-apply) job. dedupe_key is unique. A running job is
 * owned by whoever holds lease_token until lease_until_ms. */
struct bk_job {
    int64_t id;
    const char *kind;       /* "inbox.apply", later "calendar.push", ... */
    const char *dedupe_key; /* idempotency key of the job */
    const char *payload;    /* kind-specific text (JSON or an id) */
    int64_t run_at_ms;
    int attempts;
    int max_attempts;
    enum bk_job_status status;
    const char *last_error;
    int64_t lease_until_ms;
    int64_t lease_token;
    int64_t created_ms;
    int64_t updated_ms;
};

/* What became of an outbound email (mail/mail.h). */
enum bk_message_status {
    BK_MESSAGE_QUEUED = 0,  /* its send job is pending */
    BK_MESSAGE_SENT = 1,    /* the server answered 250 */
    BK_MESSAGE_SKIPPED = 2, /* no BOOKINGD_SMTP_URL: recorded, not sent */
    BK_MESSAGE_FAILED = 3,  /* its send job is dead (5xx, out of attempts) */
};

/* One outbound email about a booking. (booking_id, kind, sequence) is
 * unique; message_id is derived from it ("<UID.KIND.SEQ@bookingd>"). */
struct bk_message {
    int64_t id;
    int64_t booking_id;
    const char *kind;      /* "attendee_confirmed", "host_cancelled", ... */
    const char *recipient; /* the address only */
    const char *subject;   /* as sent, before header encoding */
    enum bk_message_status status;
    const char *message_id; /* with its angle brackets */
    int sequence;           /* the invite's SEQUENCE */
    int attempts;
    const char *last_error; /* may be NULL */
    int64_t sent_utc;       /* 0 = not sent */
    int64_t created_utc;
};

/* What Stripe knows of a priced booking (ledger/payments.c). One per
 * booking; attempt counts its Checkout Sessions (each created under the
 * idempotency key "UID:ATTEMPT"). */
struct bk_payment {
    int64_t id;
    int64_t booking_id;
    int64_t amount_minor;        /* asked, in minor units of currency */
    char currency[4];            /* ISO 4217, upper case */
    int attempt;                 /* 1, 2, ...: the current Checkout attempt */
    const char *session_id;      /* "cs_..." of the current attempt; NULL */
    const char *checkout_url;    /* its hosted page; NULL */
    int64_t session_expires_utc; /* 0 = none */
    const char *payment_intent;  /* "pi_..." once paid; NULL */
    const char *refund_id;       /* "re_..." once refunded; NULL */
    const char *refund_reason;   /* why bookingd refunded; NULL */
    const char *last_error;      /* the last Stripe failure; NULL */
    int64_t created_utc;
    int64_t updated_utc;
};

/* An invoice (ledger/invoices.c, issue 9 §2): one per paid booking,
 * numbered INV-YEAR-NNNN gaplessly per year in the paying transaction;
 * what it says is copied at issue. */
enum bk_invoice_status {
    BK_INVOICE_OPEN = 0,
    BK_INVOICE_PAID = 1,
    BK_INVOICE_VOID = 2,
    BK_INVOICE_REFUNDED = 3,
    BK_INVOICE_PARTIALLY_REFUNDED = 4,
};
#define BK_INVOICE_STATUS_COUNT 5

struct bk_invoice {
    int64_t id;
    const char *number; /* "INV-2026-0001" */
    int year;
    int64_t seq;
    int64_t booking_id;           /* 0: erased */
    const char *booking_uid;      /* filled on reads; may be NULL */
    int64_t client_id;            /* 0: erased */
    const char *client_public_id; /* filled on reads; may be NULL */
    const char *issuer_name;
    const char *issuer_address; /* may be NULL */
    const char *client_name;    /* may be NULL */
    const char *client_email;
    const char *line; /* what was sold */
    int64_t amount_minor;
    int64_t refunded_minor;
    char currency[4];
    enum bk_invoice_status status;
    const char *stripe_session;        /* may be NULL */
    const char *stripe_payment_intent; /* may be NULL */
    int64_t issued_utc;
    int64_t paid_utc; /* 0: not paid */
    int64_t updated_utc;
};

/* A package of sessions (issue 9 §3, api/packages.c): `sessions` credits
 * for any of its event types, at a price, valid `valid_days` after the
 * purchase. */
#define BK_MAX_PACKAGE_EVENT_TYPES 32
struct bk_package {
    int64_t id;
    const char *slug;
    const char *name;
    int sessions;
    int64_t price_minor;
    char currency[4];
    int valid_days;
    bool active;
    int64_t event_type_ids[BK_MAX_PACKAGE_EVENT_TYPES];
    const char *event_type_slugs[BK_MAX_PACKAGE_EVENT_TYPES]; /* on reads */
    int n_event_types;
    int64_t created_utc;
    int64_t updated_utc;
};

/* A purchase of a package (ledger/packages.c): one attempt to buy it,
 * its terms copied from the package. */
enum bk_purchase_status {
    BK_PURCHASE_AWAITING = 0, /* its Checkout Session is open */
    BK_PURCHASE_PAID = 1,     /* credits granted */
    BK_PURCHASE_EXPIRED = 2,  /* the session ended unpaid */
    BK_PURCHASE_REFUNDED = 3,
};

struct bk_package_purchase {
    int64_t id;
    const char *uid; /* public: "pp" + a booking-style uid */
    int64_t package_id;
    const char *package_slug; /* filled on reads */
    const char *package_name; /* filled on reads */
    int64_t client_id;
    const char *client_public_id; /* filled on reads */
    const char *attendee_name;
    const char *attendee_email;
    int sessions;
    int valid_days;
    int64_t amount_minor;
    char currency[4];
    enum bk_purchase_status status;
    const char *session_id;   /* may be NULL */
    const char *checkout_url; /* may be NULL */
    int64_t session_expires_utc;
    const char *payment_intent; /* may be NULL */
    const char *last_error;     /* may be NULL */
    const char *invoice_number; /* may be NULL */
    int64_t paid_utc;           /* 0: not paid */
    int64_t credits_expire_utc; /* 0: not paid */
    int64_t created_utc;
    int64_t updated_utc;
};

/* A credit's state (package_credits.status). */
enum bk_credit_status {
    BK_CREDIT_AVAILABLE = 0,
    BK_CREDIT_USED = 1,
    BK_CREDIT_EXPIRED = 2,
};

/* The credits of one purchase, counted (GET /api/v1/clients/{id}/credits). */
struct bk_credit_summary {
    struct bk_package_purchase purchase;
    int remaining; /* available and not past expiry */
    int used;
    int expired; /* marked expired, or available past expiry */
};

const char *bk_invoice_status_name(enum bk_invoice_status s);
int bk_invoice_status_parse(const char *s);

const char *bk_location_kind_name(enum bk_location_kind k);
int bk_location_kind_parse(const char *s);
const char *bk_delivery_status_name(enum bk_delivery_status s);
int bk_delivery_status_parse(const char *s);
const char *bk_job_status_name(enum bk_job_status s);
const char *bk_message_status_name(enum bk_message_status s);
const char *bk_link_entity_name(enum bk_link_entity e);

/* The link kind under which event types' external ids are stored. */
#define BK_LINK_KIND_EVENT_TYPE "event_type"

/* The id provider gives et, or NULL. */
const char *bk_event_type_external_id(const struct bk_event_type *et,
                                      const char *provider);
/* Sets (id non-NULL) or removes (id NULL) provider's id of et, keeping the
 * list sorted by provider. Strings are borrowed. BK_E_INVALID when the list
 * is full. */
BK_MUST_CHECK enum bk_err bk_event_type_external_set(struct bk_event_type *et,
                                                     const char *provider,
                                                     const char *id);
/* Whether a and b have the same external ids. */
bool bk_event_type_external_equal(const struct bk_event_type *a,
                                  const struct bk_event_type *b);
/* Parses a reminders list as the store keeps it (BK_DEFAULT_REMINDERS:
 * a JSON array of integers, no other spaces than after commas) into et.
 * BK_E_INVALID when it is not one, when an entry is out of
 * 1..BK_MAX_REMINDER_MIN, repeated, or there are more than
 * BK_MAX_REMINDERS. */
BK_MUST_CHECK enum bk_err
bk_event_type_reminders_parse(struct bk_event_type *et, const char *s);
/* Formats et's reminders (the default when !has_reminders) as
 * bk_event_type_reminders_parse reads them, into out. */
#define BK_REMINDERS_TEXT_MAX (BK_MAX_REMINDERS * 8 + 3)
void bk_event_type_reminders_format(const struct bk_event_type *et,
                                    char out[BK_REMINDERS_TEXT_MAX]);
/* Whether s is a well-formed provider name ([a-z0-9_], 1..BK_MAX_PROVIDER
 * bytes, starting with a letter). */
bool bk_provider_name_valid(const char *s);
/* Whether s is a well-formed external id: 1..BK_MAX_EXTERNAL_ID bytes, no
 * control characters, no leading or trailing space. */
bool bk_external_id_valid(const char *s);

#endif
