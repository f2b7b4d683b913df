/* ledger/packages.h — buying packages of sessions and using their credits
 * (issue 9 §3, docs/payments.md "Packages of sessions"). A purchase is a
 * Checkout Session of its own (the stripe.package job of
 * connectors/stripe.c); its payment grants one credit per session, valid
 * valid_days; a booking of an event type the package covers takes a
 * credit in its own transaction instead of being paid; a cancellation
 * within the event type's refund policy gives it back. Thread-safe (the
 * store serializes writes). */
#ifndef BK_LEDGER_PACKAGES_H
#define BK_LEDGER_PACKAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "core/event.h"
#include "core/ledger.h"
#include "ledger/sync.h"
#include "store/store.h"

/* The job kinds: "stripe.package" makes a purchase's Checkout Session
 * (payload {"purchase_uid"}, dedupe key "stripe.package:UID"; handler in
 * connectors/stripe.c); "packages.expire" is the daily job that marks
 * expired credits (connectors/packages.c). */
#define BK_PACKAGE_CHECKOUT_KIND "stripe.package"
#define BK_PACKAGES_EXPIRE_KIND  "packages.expire"
/* The buyer's email of a paid purchase (payload {"purchase_uid"}, dedupe
 * key "mail.package:UID"; handler in mail/package.c). */
#define BK_PACKAGE_MAIL_KIND "mail.package"
/* A purchase's Checkout Session expires this long after the purchase was
 * opened (Stripe allows 30 minutes to 24 hours); its job gives up when it
 * cannot reach Stripe before expires_at - 30 minutes. */
#define BK_PACKAGE_SESSION_S 7200
/* The bk_store_try_singleton key of the expiry job. */
#define BK_PACKAGES_EXPIRE_SINGLETON 16

/* Opens a purchase of the active package `slug` for the buyer (found or
 * created as a client by email, as a public booking does): the purchase
 * row (awaiting payment) and its stripe.package job, in one transaction.
 * *job receives the job's id. BK_E_NOT_FOUND when no active package has
 * that slug; BK_E_CONFLICT (code "package_free") for a package whose
 * price is 0. *out receives the purchase (strings in arena). */
BK_MUST_CHECK enum bk_err bk_ledger_package_checkout(
    struct bk_store *store, const char *slug, const char *name,
    const char *email, int max_attempts, int64_t now_utc,
    struct bk_arena *arena, struct bk_package_purchase *out, int64_t *job,
    struct bk_errbuf *err);

/* The stripe.package job's result inside its finishing transaction: the
 * session (id, hosted URL) of purchase uid. */
BK_MUST_CHECK enum bk_err bk_ledger_package_session(
    struct bk_tx *tx, const char *uid, const char *session_id, const char *url,
    int64_t now_utc, struct bk_arena *arena, struct bk_errbuf *err);

/* Records why purchase uid's session could not be made. */
BK_MUST_CHECK enum bk_err
bk_ledger_package_error(struct bk_tx *tx, const char *uid, const char *error,
                        int64_t now_utc, struct bk_arena *arena,
                        struct bk_errbuf *err);

/* Applies a payment event about purchase ev->payment.booking_uid inside
 * tx, in any order and any number of times: paid (completed "paid",
 * succeeded) grants the credits once — one package_credits row per
 * session, expiring valid_days after the payment — with the invoice
 * (INVOICE_PAID), PAYMENT_COMPLETED, PACKAGE_PURCHASED and the buyer's
 * email; failed or expired ends an awaiting purchase; refunded marks a
 * paid one refunded, its unused credits expired and its invoice refunded
 * (BK_E_RETRY while its payment is not recorded yet). BK_E_NOT_FOUND
 * (err untouched) when no purchase has that uid. */
BK_MUST_CHECK enum bk_err
bk_ledger_package_apply(struct bk_tx *tx, const struct bk_ext_event *ev,
                        int64_t now_utc, struct bk_arena *arena,
                        struct bk_sync_outcome *out, struct bk_errbuf *err);

/* Inside the booking's transaction, after booking b (confirmed, payment
 * paid) of event type et was inserted: takes a credit of purchase
 * purchase_uid. The purchase must be paid, bought with b's email and
 * cover et. Writes CREDIT_USED. Errors: BK_E_FORBIDDEN (the code is not
 * this attendee's), BK_E_INVALID (field "use_credit": the package does
 * not cover the event type; the purchase is not paid), BK_E_CONFLICT with
 * code "no_credit_left" (every credit used or expired). */
BK_MUST_CHECK enum bk_err
bk_ledger_credit_use(struct bk_tx *tx, const struct bk_booking *b,
                     const struct bk_event_type *et, const char *purchase_uid,
                     int64_t now_utc, struct bk_arena *arena,
                     struct bk_errbuf *err);

/* Inside the transaction that cancels booking b (already cancelled): when
 * it used a credit, the credit is given back if the cancellation is
 * within the event type's refund policy (at least full_refund_until_hours
 * before the start), and b's payment status becomes refunded; otherwise
 * the credit stays spent. *returned: -1 when b used no credit, else
 * whether it was given back. */
BK_MUST_CHECK enum bk_err
bk_ledger_credit_cancelled(struct bk_tx *tx, struct bk_booking *b,
                           int64_t now_utc, struct bk_arena *arena,
                           int *returned, struct bk_errbuf *err);

/* The credit code of purchase uid (the proof of identity of "use_credit",
 * emailed to the buyer): "<uid>-<token>", token the HMAC-SHA-256 of
 * "credit:<uid>" under the manage secret, base64url (crypto.h
 * bk_manage_token). out holds at least BK_CREDIT_CODE_MAX bytes. */
#define BK_CREDIT_CODE_MAX 80
void bk_credit_code(const unsigned char secret[32], const char *uid,
                    char out[BK_CREDIT_CODE_MAX]);
/* The purchase uid a credit code names when its token is right (constant
 * time), copied to uid; false otherwise. */
bool bk_credit_code_check(const unsigned char secret[32], const char *code,
                          char uid[BK_UID_LEN + 1]);

/* ---- Invoices of purchases (ledger/invoices.c) ---- */

/* Inside the paying transaction: purchase p's invoice, paid, numbered as
 * a booking's (gapless per year), INVOICE_PAID. *number receives its
 * number (in arena). */
BK_MUST_CHECK enum bk_err bk_ledger_invoice_purchase(
    struct bk_tx *tx, const struct bk_package_purchase *p, int64_t now_utc,
    struct bk_arena *arena, const char **number, struct bk_errbuf *err);
/* The purchase's invoice becomes refunded. */
BK_MUST_CHECK enum bk_err
bk_ledger_invoice_purchase_refunded(struct bk_tx *tx, const char *number,
                                    int64_t now_utc, struct bk_arena *arena,
                                    struct bk_errbuf *err);

#endif
