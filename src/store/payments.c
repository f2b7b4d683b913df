/* store/payments.c — the payments table: what Stripe knows of a priced
 * booking (store.h "Payments"), in SQL both drivers accept. What the
 * fields mean and when they change is ledger/payments.c. */
#include <inttypes.h>
#include <string.h>

#include "store/sql.h"
#include "base/str.h"
#include "base/banned.h"

#define PAYMENT_COLS                                                           \
    "id, booking_id, amount_minor, currency, attempt, session_id,"             \
    " checkout_url, session_expires_utc, payment_intent, refund_id,"           \
    " refund_reason, last_error, created_utc, updated_utc"

enum bk_err bk_store_payment_insert(struct bk_tx *tx,
                                    const struct bk_payment *p,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_PAYMENT_INSERT,
                   "INSERT INTO payments (booking_id, amount_minor, currency,"
                   " attempt, session_id, checkout_url, session_expires_utc,"
                   " payment_intent, refund_id, refund_reason, last_error,"
                   " created_utc, updated_utc)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                   " ?12, ?13)",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, p->booking_id);
    db_bind_i64(tx, st, 2, p->amount_minor);
    db_bind_text(tx, st, 3, p->currency);
    db_bind_i64(tx, st, 4, p->attempt);
    db_bind_text(tx, st, 5, p->session_id);
    db_bind_text(tx, st, 6, p->checkout_url);
    db_bind_opt(tx, st, 7, p->session_expires_utc);
    db_bind_text(tx, st, 8, p->payment_intent);
    db_bind_text(tx, st, 9, p->refund_id);
    db_bind_text(tx, st, 10, p->refund_reason);
    db_bind_text(tx, st, 11, p->last_error);
    db_bind_i64(tx, st, 12, p->created_utc);
    db_bind_i64(tx, st, 13, p->updated_utc);
    e = db_exec(tx, st, NULL, "inserting a payment", err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_payment_update(struct bk_tx *tx,
                                    const struct bk_payment *p,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    int changes = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_PAYMENT_UPDATE,
                   "UPDATE payments SET amount_minor = ?2, currency = ?3,"
                   " attempt = ?4, session_id = ?5, checkout_url = ?6,"
                   " session_expires_utc = ?7, payment_intent = ?8,"
                   " refund_id = ?9, refund_reason = ?10, last_error = ?11,"
                   " updated_utc = ?12 WHERE booking_id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, p->booking_id);
    db_bind_i64(tx, st, 2, p->amount_minor);
    db_bind_text(tx, st, 3, p->currency);
    db_bind_i64(tx, st, 4, p->attempt);
    db_bind_text(tx, st, 5, p->session_id);
    db_bind_text(tx, st, 6, p->checkout_url);
    db_bind_opt(tx, st, 7, p->session_expires_utc);
    db_bind_text(tx, st, 8, p->payment_intent);
    db_bind_text(tx, st, 9, p->refund_id);
    db_bind_text(tx, st, 10, p->refund_reason);
    db_bind_text(tx, st, 11, p->last_error);
    db_bind_i64(tx, st, 12, p->updated_utc);
    e = db_exec(tx, st, &changes, "updating a payment", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "booking %" PRId64 " has no payment",
                    p->booking_id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_payment_get(struct bk_tx *tx, int64_t booking_id,
                                 struct bk_arena *arena, struct bk_payment *out,
                                 struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    const char *cur;
    enum bk_err e;

    e = db_prepare(tx, Q_PAYMENT_GET,
                   "SELECT " PAYMENT_COLS
                   " FROM payments WHERE booking_id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, booking_id);
    e = db_one(tx, st, "reading a payment", err);
    if (e == BK_E_NOT_FOUND) {
        e = bk_fail(err, e, "booking %" PRId64 " has no payment", booking_id);
        goto out;
    }
    if (e)
        goto out;
    memset(out, 0, sizeof(*out));
    out->id = db_col_i64(tx, st, 0);
    out->booking_id = db_col_i64(tx, st, 1);
    out->amount_minor = db_col_i64(tx, st, 2);
    cur = db_col_text(tx, st, 3, arena);
    bk_strlcpy(out->currency, cur ? cur : "", sizeof(out->currency));
    out->attempt = db_col_int(tx, st, 4);
    out->session_id = db_col_text(tx, st, 5, arena);
    out->checkout_url = db_col_text(tx, st, 6, arena);
    out->session_expires_utc = db_col_i64(tx, st, 7);
    out->payment_intent = db_col_text(tx, st, 8, arena);
    out->refund_id = db_col_text(tx, st, 9, arena);
    out->refund_reason = db_col_text(tx, st, 10, arena);
    out->last_error = db_col_text(tx, st, 11, arena);
    out->created_utc = db_col_i64(tx, st, 12);
    out->updated_utc = db_col_i64(tx, st, 13);
out:
    db_reset(tx, st);
    return e;
}
