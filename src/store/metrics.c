/* store/metrics.c — the rows the business metrics are computed from
 * (store.h "Metrics"), in SQL both drivers accept; the arithmetic is
 * ledger/metrics.c. */
#include <string.h>

#include "store/sql.h"
#include "base/banned.h"

static void read_booking(struct bk_tx *tx, struct bk_stmt *st,
                         struct bk_arena *a, struct bk_metric_booking *m)
{
    (void)a;
    m->start_utc = db_col_i64(tx, st, 0);
    m->status = db_col_int(tx, st, 1);
    m->client_id = db_col_i64(tx, st, 2);
}

static void read_created(struct bk_tx *tx, struct bk_stmt *st,
                         struct bk_arena *a, int64_t *v)
{
    (void)a;
    *v = db_col_i64(tx, st, 0);
}

static void read_money(struct bk_tx *tx, struct bk_stmt *st, struct bk_arena *a,
                       struct bk_metric_money *m)
{
    const char *kind = db_col_text(tx, st, 0, a);
    m->refund = kind && strcmp(kind, "REFUND_ISSUED") == 0;
    m->credits_sold = kind && strcmp(kind, "PACKAGE_PURCHASED") == 0;
    m->credit_used = kind && strcmp(kind, "CREDIT_USED") == 0;
    m->at_utc = db_col_i64(tx, st, 1);
    m->detail = db_col_text(tx, st, 2, a);
}

static enum bk_err too_many(size_t n, struct bk_errbuf *err)
{
    return n > BK_METRICS_MAX_ROWS
               ? bk_fail(err, BK_E_TOO_LARGE,
                         "more than %d rows in the range: ask for a shorter "
                         "one",
                         BK_METRICS_MAX_ROWS)
               : BK_OK;
}

/* The three metric queries take the same parameters (?1 from, ?2 to, ?3
 * the row cap plus one, to tell "too many" from "exactly the cap"), so
 * each is a row of this table read by METRIC_ROWS. */
enum metric_query { MQ_BOOKINGS, MQ_CLIENTS, MQ_MONEY };

static const struct {
    enum db_stmt id;
    const char *sql;
    const char *what;
} metric_queries[] = {
    [MQ_BOOKINGS] = {Q_METRICS_BOOKINGS,
                     "SELECT start_utc, status, client_id FROM bookings"
                     " WHERE start_utc >= ?1 AND start_utc < ?2"
                     " ORDER BY start_utc, id LIMIT ?3",
                     "reading bookings for metrics"},
    [MQ_CLIENTS] = {Q_METRICS_CLIENTS,
                    "SELECT created_utc FROM clients"
                    " WHERE created_utc >= ?1 AND created_utc < ?2"
                    " ORDER BY created_utc LIMIT ?3",
                    "reading clients for metrics"},
    [MQ_MONEY] = {Q_METRICS_MONEY,
                  "SELECT kind, at_utc, detail FROM activity"
                  " WHERE kind IN ('PAYMENT_COMPLETED', 'REFUND_ISSUED',"
                  " 'PACKAGE_PURCHASED', 'CREDIT_USED')"
                  " AND at_utc >= ?1 AND at_utc < ?2"
                  " ORDER BY at_utc, id LIMIT ?3",
                  "reading payments for metrics"},
};

/* Prepares metric query q with its range bound. */
static enum bk_err metric_prepare(struct bk_tx *tx, enum metric_query q,
                                  int64_t from_utc, int64_t to_utc,
                                  struct bk_stmt **st, struct bk_errbuf *err)
{
    enum bk_err e;

    e = db_prepare(tx, metric_queries[q].id, metric_queries[q].sql, st, err);
    if (e)
        return e;
    db_bind_i64(tx, *st, 1, from_utc);
    db_bind_i64(tx, *st, 2, to_utc);
    db_bind_i64(tx, *st, 3, BK_METRICS_MAX_ROWS + 1);
    return BK_OK;
}

/* Reads the rows of metric query q over [from, to) into *out / *n with
 * read; sets e (a variable of the caller). */
#define METRIC_ROWS(q, read)                                                   \
    do {                                                                       \
        struct bk_stmt *st_ = NULL;                                            \
        size_t count_ = 0;                                                     \
        *out = NULL;                                                           \
        e = metric_prepare(tx, (q), from_utc, to_utc, &st_, err);              \
        DB_READ_ROWS(tx, st_, arena, *out, count_, metric_queries[q].what,     \
                     err, read);                                               \
        if (!e)                                                                \
            e = too_many(count_, err);                                         \
        db_reset(tx, st_);                                                     \
        *n = e ? 0 : count_;                                                   \
    } while (0)

enum bk_err bk_store_metrics_bookings(struct bk_tx *tx, int64_t from_utc,
                                      int64_t to_utc, struct bk_arena *arena,
                                      struct bk_metric_booking **out, size_t *n,
                                      struct bk_errbuf *err)
{
    enum bk_err e;

    METRIC_ROWS(MQ_BOOKINGS, read_booking);
    return e;
}

enum bk_err bk_store_metrics_clients(struct bk_tx *tx, int64_t from_utc,
                                     int64_t to_utc, struct bk_arena *arena,
                                     int64_t **out, size_t *n,
                                     struct bk_errbuf *err)
{
    enum bk_err e;

    METRIC_ROWS(MQ_CLIENTS, read_created);
    return e;
}

enum bk_err bk_store_metrics_money(struct bk_tx *tx, int64_t from_utc,
                                   int64_t to_utc, struct bk_arena *arena,
                                   struct bk_metric_money **out, size_t *n,
                                   struct bk_errbuf *err)
{
    enum bk_err e;

    METRIC_ROWS(MQ_MONEY, read_money);
    return e;
}
