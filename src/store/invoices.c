/* store/invoices.c — the invoices table and its yearly counters (store.h
 * "Invoices"), in SQL both drivers accept. When an invoice is issued and
 * how its status follows the payment is ledger/invoices.c. */
#include <inttypes.h>
#include <string.h>

#include "store/sql.h"
#include "base/str.h"
#include "base/banned.h"

#define INVOICE_COLS                                                           \
    "i.id, i.number, i.year, i.seq, i.booking_id, b.uid, i.client_id,"         \
    " c.public_id, i.issuer_name, i.issuer_address, i.client_name,"            \
    " i.client_email, i.line, i.amount_minor, i.refunded_minor, i.currency,"   \
    " i.status, i.stripe_session, i.stripe_payment_intent, i.issued_utc,"      \
    " i.paid_utc, i.updated_utc"
#define INVOICE_FROM                                                           \
    " FROM invoices i LEFT JOIN bookings b ON b.id = i.booking_id"             \
    " LEFT JOIN clients c ON c.id = i.client_id"

static void read_invoice(struct bk_tx *tx, struct bk_stmt *st,
                         struct bk_arena *a, struct bk_invoice *v)
{
    const char *cur;

    memset(v, 0, sizeof(*v));
    v->id = db_col_i64(tx, st, 0);
    v->number = db_col_text(tx, st, 1, a);
    v->year = db_col_int(tx, st, 2);
    v->seq = db_col_i64(tx, st, 3);
    v->booking_id = db_col_i64(tx, st, 4);
    v->booking_uid = db_col_text(tx, st, 5, a);
    v->client_id = db_col_i64(tx, st, 6);
    v->client_public_id = db_col_text(tx, st, 7, a);
    v->issuer_name = db_col_text(tx, st, 8, a);
    v->issuer_address = db_col_text(tx, st, 9, a);
    v->client_name = db_col_text(tx, st, 10, a);
    v->client_email = db_col_text(tx, st, 11, a);
    v->line = db_col_text(tx, st, 12, a);
    v->amount_minor = db_col_i64(tx, st, 13);
    v->refunded_minor = db_col_i64(tx, st, 14);
    cur = db_col_text(tx, st, 15, a);
    bk_strlcpy(v->currency, cur ? cur : "", sizeof(v->currency));
    v->status = (enum bk_invoice_status)db_col_int(tx, st, 16);
    v->stripe_session = db_col_text(tx, st, 17, a);
    v->stripe_payment_intent = db_col_text(tx, st, 18, a);
    v->issued_utc = db_col_i64(tx, st, 19);
    v->paid_utc = db_col_i64(tx, st, 20);
    v->updated_utc = db_col_i64(tx, st, 21);
}

enum bk_err bk_store_invoice_next_seq(struct bk_tx *tx, int year, int64_t *seq,
                                      struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_INVOICE_NEXT,
                   "INSERT INTO invoice_counters (year, last_seq)"
                   " VALUES (?1, 1) ON CONFLICT (year) DO UPDATE"
                   " SET last_seq = invoice_counters.last_seq + 1"
                   " RETURNING last_seq",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, year);
    e = db_one(tx, st, "numbering an invoice", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, BK_E_INTERNAL, "no invoice number for %d", year);
    if (!e)
        *seq = db_col_i64(tx, st, 0);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_invoice_insert(struct bk_tx *tx,
                                    const struct bk_invoice *v, int64_t *id,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(
        tx, Q_INVOICE_INSERT,
        "INSERT INTO invoices (number, year, seq, booking_id, client_id,"
        " issuer_name, issuer_address, client_name, client_email, line,"
        " amount_minor, refunded_minor, currency, status, stripe_session,"
        " stripe_payment_intent, issued_utc, paid_utc, updated_utc)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
        " ?14, ?15, ?16, ?17, ?18, ?19) RETURNING id",
        &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, v->number);
    db_bind_i64(tx, st, 2, v->year);
    db_bind_i64(tx, st, 3, v->seq);
    db_bind_opt(tx, st, 4, v->booking_id);
    db_bind_opt(tx, st, 5, v->client_id);
    db_bind_text(tx, st, 6, v->issuer_name);
    db_bind_text(tx, st, 7, v->issuer_address);
    db_bind_text(tx, st, 8, v->client_name);
    db_bind_text(tx, st, 9, v->client_email);
    db_bind_text(tx, st, 10, v->line);
    db_bind_i64(tx, st, 11, v->amount_minor);
    db_bind_i64(tx, st, 12, v->refunded_minor);
    db_bind_text(tx, st, 13, v->currency);
    db_bind_i64(tx, st, 14, v->status);
    db_bind_text(tx, st, 15, v->stripe_session);
    db_bind_text(tx, st, 16, v->stripe_payment_intent);
    db_bind_i64(tx, st, 17, v->issued_utc);
    db_bind_opt(tx, st, 18, v->paid_utc);
    db_bind_i64(tx, st, 19, v->updated_utc);
    e = db_one(tx, st, "inserting an invoice", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, BK_E_INTERNAL, "an invoice insert returned no id");
    if (!e && id)
        *id = db_col_i64(tx, st, 0);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_invoice_update(struct bk_tx *tx,
                                    const struct bk_invoice *v,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    int changes = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_INVOICE_UPDATE,
                   "UPDATE invoices SET status = ?2, refunded_minor = ?3,"
                   " paid_utc = ?4, stripe_session = ?5,"
                   " stripe_payment_intent = ?6, updated_utc = ?7"
                   " WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, v->id);
    db_bind_i64(tx, st, 2, v->status);
    db_bind_i64(tx, st, 3, v->refunded_minor);
    db_bind_opt(tx, st, 4, v->paid_utc);
    db_bind_text(tx, st, 5, v->stripe_session);
    db_bind_text(tx, st, 6, v->stripe_payment_intent);
    db_bind_i64(tx, st, 7, v->updated_utc);
    e = db_exec(tx, st, &changes, "updating an invoice", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "invoice %" PRId64 " not found",
                    v->id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_invoice_get(struct bk_tx *tx, const char *number,
                                 struct bk_arena *arena, struct bk_invoice *out,
                                 struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_INVOICE_GET,
                   "SELECT " INVOICE_COLS INVOICE_FROM " WHERE i.number = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, number);
    e = db_one(tx, st, "reading an invoice", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no invoice '%s'", number);
    if (!e)
        read_invoice(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_invoice_by_booking(struct bk_tx *tx, int64_t booking_id,
                                        struct bk_arena *arena,
                                        struct bk_invoice *out,
                                        struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_INVOICE_BY_BOOKING,
                   "SELECT " INVOICE_COLS INVOICE_FROM
                   " WHERE i.booking_id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, booking_id);
    e = db_one(tx, st, "reading an invoice", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "booking %" PRId64 " has no invoice", booking_id);
    if (!e)
        read_invoice(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_invoice_list(struct bk_tx *tx,
                                  const struct bk_invoice_filter *f,
                                  struct bk_arena *arena,
                                  struct bk_invoice **out, size_t *n,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_invoice *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_INVOICE_LIST,
                   "SELECT " INVOICE_COLS INVOICE_FROM
                   " WHERE (?1 IS NULL OR c.public_id = ?1)"
                   " AND (?2 < 0 OR i.status = ?2)"
                   " AND i.issued_utc >= ?3 AND i.issued_utc < ?4"
                   " AND (?5 = 0 OR i.id < ?5)"
                   " ORDER BY i.id DESC LIMIT ?6",
                   &st, err);
    if (e)
        goto out;
    if (f->client_public_id)
        db_bind_text(tx, st, 1, f->client_public_id);
    else
        db_bind_null(tx, st, 1, BK_BIND_TEXT);
    db_bind_i64(tx, st, 2, f->status);
    db_bind_i64(tx, st, 3, f->from_utc);
    db_bind_i64(tx, st, 4, f->to_utc);
    db_bind_i64(tx, st, 5, f->before_id);
    db_bind_i64(tx, st, 6, db_limit(f->limit));
    DB_READ_ROWS(tx, st, arena, arr, count, "listing invoices", err,
                 read_invoice);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

static void read_stat(struct bk_tx *tx, struct bk_stmt *st,
                      struct bk_arena *arena, struct bk_client_stat *s)
{
    const char *cur = db_col_text(tx, st, 1, arena);

    s->client_id = db_col_i64(tx, st, 0);
    s->currency = cur && *cur ? cur : NULL;
    s->value = db_col_i64(tx, st, 2);
}

enum bk_err bk_store_client_stats(struct bk_tx *tx, int64_t min_id,
                                  int64_t max_id, struct bk_arena *arena,
                                  struct bk_client_stat **out, size_t *n,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_client_stat *arr = NULL;
    size_t count = 0;
    /* Invoices paid (1), refunded (3) or partly refunded (4); bookings
     * completed (3). */
    enum bk_err e = db_prepare(
        tx, Q_CLIENT_STATS,
        "SELECT client_id, '', count(*) FROM bookings"
        " WHERE client_id BETWEEN ?1 AND ?2 AND status = 3 GROUP BY client_id"
        " UNION ALL SELECT client_id, currency,"
        " CAST(sum(amount_minor - refunded_minor) AS BIGINT) FROM invoices"
        " WHERE client_id BETWEEN ?1 AND ?2 AND status IN (1, 3, 4)"
        " GROUP BY client_id, currency ORDER BY 1, 2 LIMIT 10000",
        &st, err);

    if (!e) {
        db_bind_i64(tx, st, 1, min_id);
        db_bind_i64(tx, st, 2, max_id);
        DB_READ_ROWS(tx, st, arena, arr, count, "counting clients' figures",
                     err, read_stat);
    }
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}
