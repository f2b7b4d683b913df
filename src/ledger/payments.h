/* ledger/payments.h — paid bookings: the hold, the Checkout attempts, and
 * what Stripe's events do to a booking (docs/payments.md). Each function is
 * one transaction of the ledger (or runs inside the caller's); the calls
 * to Stripe are the jobs of connectors/stripe.c, which record their
 * outcome here. Thread-safe (the store serializes writes). */
#ifndef BK_LEDGER_PAYMENTS_H
#define BK_LEDGER_PAYMENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "core/event.h"
#include "core/ledger.h"
#include "ledger/sync.h"
#include "store/store.h"

/* The job kinds (their handlers: connectors/stripe.c). Payloads are JSON:
 * checkout {"booking_uid", "attempt"} (dedupe key
 * "stripe.checkout:UID:ATTEMPT"); settle {"booking_uid"}, due at the
 * hold's end ("stripe.settle:UID"); refund {"booking_uid",
 * "payment_intent", "reason"} ("stripe.refund:PI"). */
#define BK_STRIPE_CHECKOUT_KIND "stripe.checkout"
#define BK_STRIPE_SETTLE_KIND   "stripe.settle"
#define BK_STRIPE_REFUND_KIND   "stripe.refund"

/* Stripe's bounds of a Checkout Session's expires_at: at least 30
 * minutes after its creation (PROVIDERS.md §1.4). */
#define BK_STRIPE_MIN_EXPIRY_S 1800
/* How late after an attempt is opened its job may still create the
 * session with the attempt's expires_at (retries while Stripe is down). */
#define BK_STRIPE_EXPIRY_SLACK_S 600

/* An attempt's expires_at, fixed when the attempt opens so that each retry
 * of its request carries the same parameters under the same idempotency
 * key: the hold's end, or Stripe's earliest allowed expiry plus the slack
 * when that is later. The settle job expires a session still open at the
 * hold's end. */
int64_t bk_payment_planned_expiry(int64_t hold_end_utc, int64_t now_utc);

/* Writes, inside tx, the payment of the pending booking b (just inserted,
 * of the priced event type et): its payments row (attempt 1), the
 * checkout job of attempt 1 and the settle job due at b->hold_expires_utc.
 * *checkout_job (may be NULL) receives the checkout job's id.
 * max_attempts: of the jobs (0: the queue's default). */
BK_MUST_CHECK enum bk_err
bk_ledger_payment_open(struct bk_tx *tx, const struct bk_booking *b,
                       const struct bk_event_type *et, int max_attempts,
                       int64_t now_utc, struct bk_arena *arena,
                       int64_t *checkout_job, struct bk_errbuf *err);

/* "Retry payment": a new Checkout attempt for the booking `uid` (the
 * previous one failed or timed out). Returns the current attempt's
 * checkout URL instead (and *checkout_job 0) when it has one that is
 * still open. BK_E_NOT_FOUND; BK_E_ILLEGAL_TRANSITION when the booking is
 * not pending and unpaid, or its hold has ended (less than 60 s left).
 * *out receives the payment (strings in arena). */
BK_MUST_CHECK enum bk_err
bk_ledger_payment_retry(struct bk_store *store, const char *uid,
                        int max_attempts, int64_t now_utc,
                        struct bk_arena *arena, struct bk_payment *out,
                        int64_t *checkout_job, struct bk_errbuf *err);

/* The checkout job's result, inside its finishing transaction: attempt's
 * session (id, hosted URL, expiry) becomes the booking's current one,
 * unless a later attempt exists (then it is only linked). Writes the link
 * (stripe, checkout_session, id) and the CHECKOUT_INITIATED activity. */
BK_MUST_CHECK enum bk_err
bk_ledger_payment_session(struct bk_tx *tx, const char *uid, int attempt,
                          const char *session_id, const char *url,
                          int64_t expires_utc, int64_t now_utc,
                          struct bk_arena *arena, struct bk_errbuf *err);

/* Records why attempt's Checkout Session could not be made (shown on the
 * booking, for the attendee's "retry payment"). */
BK_MUST_CHECK enum bk_err
bk_ledger_payment_error(struct bk_tx *tx, const char *uid, int attempt,
                        const char *error, int64_t now_utc,
                        struct bk_arena *arena, struct bk_errbuf *err);

/* The refund job's result: the payment is refunded (refund id re_...),
 * the booking's payment status becomes refunded, REFUND_ISSUED. A part
 * (0 < amount_minor < the amount paid) leaves it paid and is told as a
 * partial REFUND_ISSUED; amount_minor 0 means all. Told twice, it is
 * recorded once. */
BK_MUST_CHECK enum bk_err
bk_ledger_payment_refunded(struct bk_tx *tx, const char *uid,
                           const char *refund_id, int64_t amount_minor,
                           int64_t now_utc, struct bk_arena *arena,
                           struct bk_errbuf *err);

/* An admin's refund of the paid booking uid: amount_minor of it (0: all)
 * through a stripe.refund job (one refund per payment: idempotency key
 * bookingd-refund-PI). The booking itself is not cancelled. *out receives
 * the booking. BK_E_NOT_FOUND; BK_E_ILLEGAL_TRANSITION when it is not
 * paid, or already refunded or being refunded; BK_E_INVALID (field
 * "amount") for more than was paid. */
BK_MUST_CHECK enum bk_err
bk_ledger_payment_refund(struct bk_store *store, const char *uid,
                         int64_t amount_minor, const char *reason,
                         int64_t now_utc, struct bk_arena *arena,
                         struct bk_booking *out, struct bk_errbuf *err);

/* The settle job's case of a hold that ended without a Checkout Session
 * (every attempt failed): the booking is cancelled as expired. Nothing
 * when it is no longer pending. */
BK_MUST_CHECK enum bk_err
bk_ledger_payment_expire(struct bk_tx *tx, const char *uid, int64_t now_utc,
                         struct bk_arena *arena, struct bk_errbuf *err);

/* Inside the transaction that cancels the pending, unpaid booking b (an
 * attendee or admin cancelled it before paying): enqueues the settle job
 * to run now, which expires the booking's open Checkout Session at Stripe
 * ("stripe.settle:UID:cancelled"). */
BK_MUST_CHECK enum bk_err
bk_ledger_payment_cancelled(struct bk_tx *tx, const struct bk_booking *b,
                            struct bk_arena *arena, struct bk_errbuf *err);

/* What cancelling a paid booking of et at now_utc gives back under the
 * event type's refund policy (docs/payments.md "Refund policy"): all of
 * paid_minor when start_utc is at least full_refund_until_hours away,
 * else late_refund_percent of it, rounded down (0: nothing). *full
 * (may be NULL) tells whether it is all of it. */
int64_t bk_payment_refund_due(const struct bk_event_type *et,
                              int64_t paid_minor, int64_t start_utc,
                              int64_t now_utc, bool *full);

/* An amount in minor units as text: "45.00 EUR", "5000 JPY" (Stripe's
 * zero-decimal currencies have no fraction). */
const char *bk_payment_money(struct bk_arena *arena, int64_t amount_minor,
                             const char *currency);

/* Inside the transaction that cancels the paid booking b (by the
 * attendee, an admin or a provider; b already cancelled): applies the
 * event type's refund policy. A refund due is recorded on the payment
 * (its reason the sentence the attendee is told) and a stripe.refund job
 * gives it back (all, or the part). Nothing when the payment is refunded
 * already or its refund is under way. *refund_minor receives the amount
 * (0: none). */
BK_MUST_CHECK enum bk_err
bk_ledger_payment_cancel_refund(struct bk_tx *tx, const struct bk_booking *b,
                                int64_t now_utc, struct bk_arena *arena,
                                int64_t *refund_minor, struct bk_errbuf *err);

/* ---- Invoices (ledger/invoices.c, docs/payments.md "Invoices") ---- */

/* The issuer printed on invoices issued from now on (BOOKINGD_BUSINESS_NAME
 * and _ADDRESS): set once at start-up, before the workers run; copied.
 * Unset: "bookingd", no address. */
void bk_ledger_invoice_issuer(const char *name, const char *address);

/* Inside the transaction that records the payment of booking b (payment
 * p): issues its invoice, paid, numbered INV-YEAR-NNNN (the year of
 * now_utc; gapless: the counter is taken in tx), activity INVOICE_PAID
 * (invoice.paid). Nothing when it has one. */
BK_MUST_CHECK enum bk_err
bk_ledger_invoice_paid(struct bk_tx *tx, const struct bk_booking *b,
                       const struct bk_payment *p, int64_t now_utc,
                       struct bk_arena *arena, struct bk_errbuf *err);

/* Inside the transaction that records a refund of amount_minor (0: all)
 * of booking b: its invoice becomes refunded or partially_refunded.
 * Nothing when it has none. */
BK_MUST_CHECK enum bk_err
bk_ledger_invoice_refunded(struct bk_tx *tx, const struct bk_booking *b,
                           int64_t amount_minor, int64_t now_utc,
                           struct bk_arena *arena, struct bk_errbuf *err);

/* Applies a payment event (the PAYMENT_* kinds of core/event.h), from a
 * Stripe webhook or from the settle job's retrieval, inside tx. Events
 * may come in any order and more than once:
 * - completed with payment_status "paid", or succeeded: a pending booking
 *   whose hold lasts is confirmed and paid (BOOKING_CONFIRMED,
 *   PAYMENT_COMPLETED); after its hold ended it is confirmed when its slot
 *   is still bookable, and otherwise cancelled and refunded (a refund
 *   job); a cancelled booking's payment is refunded; a second payment of a
 *   paid booking is refunded; a repeat changes nothing;
 * - completed "unpaid": the payment intent is recorded, nothing else (a
 *   delayed method; succeeded or failed follows);
 * - failed: a pending booking is cancelled, payment failed;
 * - expired: a pending, unpaid booking whose current session this is is
 *   cancelled (CHECKOUT_EXPIRED); an earlier attempt's session is ignored;
 * - refunded: a paid booking's payment becomes refunded (in full) —
 *   BK_E_RETRY while its payment is not yet recorded.
 * A booking bookingd does not know (another product's session) changes
 * nothing. */
BK_MUST_CHECK enum bk_err
bk_ledger_payment_apply(struct bk_tx *tx, const struct bk_ext_event *ev,
                        int max_attempts, int64_t now_utc,
                        struct bk_arena *arena, struct bk_sync_outcome *out,
                        struct bk_errbuf *err);

#endif
