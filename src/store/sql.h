/* store/sql.h — what the typed store functions (catalog.c, bookings.c,
 * queue.c) share: statement ids, and prepare/bind/step/column helpers over
 * the driver (store/driver.h). Written once for every database; nothing
 * here names a driver. Visible to store/ only. */
#ifndef BK_STORE_SQL_H
#define BK_STORE_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "store/driver.h"

/* Every statement has one name, prepared at exactly one call site (the
 * driver checks that the text is always the same). */
enum db_stmt {
    Q_META_GET,
    Q_META_PUT,
    Q_META_DELETE,
    Q_HOST_INSERT,
    Q_HOST_UPDATE,
    Q_HOST_DELETE,
    Q_HOST_REFS,
    Q_HOST_GET,
    Q_HOST_BY_SLUG,
    Q_HOST_BY_EMAIL,
    Q_HOST_LIST,
    Q_SCHEDULE_UPSERT,
    Q_SCHEDULE_CLEAR_WEEKLY,
    Q_SCHEDULE_CLEAR_OVERRIDES,
    Q_SCHEDULE_ADD_WEEKLY,
    Q_SCHEDULE_ADD_OVERRIDE,
    Q_SCHEDULE_GET,
    Q_SCHEDULE_WEEKLY,
    Q_SCHEDULE_OVERRIDES,
    Q_EVENT_TYPE_INSERT,
    Q_EVENT_TYPE_UPDATE,
    Q_EVENT_TYPE_DELETE,
    Q_EVENT_TYPE_REFS,
    Q_EVENT_TYPE_GET,
    Q_EVENT_TYPE_BY_SLUG,
    Q_EVENT_TYPE_LINKS,
    Q_EVENT_TYPE_LINK_DELETE,
    Q_EVENT_TYPE_LIST,
    Q_CLIENT_INSERT,
    Q_CLIENT_UPSERT,
    Q_CLIENT_UPDATE,
    Q_CLIENT_GET,
    Q_CLIENT_LOCK,
    Q_CLIENT_BY_PUBLIC_ID,
    Q_CLIENT_BY_EMAIL,
    Q_CLIENT_LIST,
    Q_BOOKING_INSERT,
    Q_BOOKING_UPDATE,
    Q_BOOKING_GET,
    Q_BOOKING_LOCK,
    Q_BOOKING_BY_UID,
    Q_BOOKING_LIST,
    Q_BOOKING_BUSY,
    Q_BOOKING_BUSY_PLAN,
    Q_HISTORY_APPEND,
    Q_HISTORY_LIST,
    Q_LINK_INSERT,
    Q_LINK_UPSERT,
    Q_LINK_UPDATE,
    Q_LINK_FIND,
    Q_LINK_LIST,
    Q_ACTIVITY_APPEND,
    Q_ACTIVITY_LIST,
    Q_ACTIVITY_LIST_KIND,
    Q_ACTIVITY_LIST_BOOKING,
    Q_DELIVERY_INSERT,
    Q_DELIVERY_FIND_KEY,
    Q_DELIVERY_SET_STATUS,
    Q_DELIVERY_GET,
    Q_DELIVERY_BY_PUBLIC_ID,
    Q_DELIVERY_LIST,
    Q_DELIVERY_LIST_PROVIDER,
    Q_DELIVERY_WAKE_DUE,
    Q_DELIVERY_WAKE_DEAD_JOBS,
    Q_DELIVERY_WAKE_DEAD,
    Q_JOB_ENQUEUE,
    Q_JOB_FIND_KEY,
    Q_JOB_DROP,
    Q_JOB_CLAIM,
    Q_JOB_COMPLETE,
    Q_JOB_RENEW,
    Q_JOB_SHIFT,
    Q_JOB_FAIL,
    Q_JOB_REQUEUE,
    Q_JOB_STATUS,
    Q_JOB_GET,
    Q_JOB_NEXT_DUE,
    Q_JOB_COUNTS,
    Q_JOB_RECLAIM,
    Q_JOB_RELEASE,
    Q_JOB_DEFER,
    Q_JOB_PRUNE,
    Q_JOB_LIST,
    Q_JOB_COUNTS_BY_KIND,
    Q_JOB_EARLIER,
    Q_WH_ENDPOINT_INSERT,
    Q_WH_ENDPOINT_GET,
    Q_WH_ENDPOINT_GET_ID,
    Q_WH_ENDPOINT_LIST,
    Q_WH_ENDPOINT_UPDATE,
    Q_WH_ENDPOINT_DELETE,
    Q_WH_MESSAGE_INSERT,
    Q_WH_MESSAGE_FIND,
    Q_WH_MESSAGE_GET,
    Q_WH_MESSAGE_GET_ID,
    Q_WH_MESSAGE_LIST,
    Q_WH_MESSAGE_RECORD,
    Q_WH_ATTEMPT_INSERT,
    Q_WH_ATTEMPT_LIST,
    Q_WH_MESSAGE_EARLIER,
    Q_WH_MESSAGE_FAIL_PENDING,
    Q_WH_MESSAGE_COUNTS,
    Q_MESSAGE_INSERT,
    Q_MESSAGE_UPDATE,
    Q_MESSAGE_GET,
    Q_MESSAGE_LIST,
    Q_PAYMENT_INSERT,
    Q_PAYMENT_UPDATE,
    Q_PAYMENT_GET,
    Q_INVOICE_NEXT,
    Q_INVOICE_INSERT,
    Q_INVOICE_UPDATE,
    Q_INVOICE_GET,
    Q_INVOICE_BY_BOOKING,
    Q_INVOICE_LIST,
    Q_PACKAGE_INSERT,
    Q_PACKAGE_ET_INSERT,
    Q_PACKAGE_LIST,
    Q_PACKAGE_ET_LIST,
    Q_METRICS_BOOKINGS,
    Q_METRICS_CLIENTS,
    Q_METRICS_MONEY,
    Q_CAL_INSERT,
    Q_CAL_GET,
    Q_CAL_GET_ID,
    Q_CAL_LIST_HOST,
    Q_CAL_UPDATE,
    Q_CAL_DELETE,
    Q_CAL_BUSY,
    Q_CAL_BUSY_CLEAR,
    Q_CAL_BUSY_CLEAR_ALL,
    Q_CAL_BUSY_ADD,
    Q_CAL_BUSY_CLEAR_HREF,
    Q_CAL_BUSY_LIST,
    Q_CAL_LINKS_OF_KIND,
    Q_ADMIN_SESSION_INSERT,
    Q_ADMIN_SESSION_GET,
    Q_ADMIN_SESSION_TOUCH,
    Q_ADMIN_SESSION_DELETE,
    Q_ADMIN_SESSION_PRUNE,
    Q_STMT_COUNT
};

/* The largest page any list returns (store.h: limit + 1 of 500). */
#define DB_MAX_LIMIT 501
/* The most rows history_list and link_list return. */
#define DB_MAX_ROWS 10000

/* Picks a statement's text by dialect where the two must differ. */
#define BK_SQL2(tx, sqlite_text, postgres_text)                                \
    ((tx)->dialect == BK_DIALECT_POSTGRES ? (postgres_text) : (sqlite_text))

/* Returns tx's cached statement `id`, made from `sql` the first time.
 * A statement that does not begin with SELECT needs a WRITE or QUEUE
 * transaction (BK_E_INTERNAL otherwise). Pass the statement to db_reset on
 * every exit path. */
BK_MUST_CHECK enum bk_err db_prepare(struct bk_tx *tx, enum db_stmt id,
                                     const char *sql, struct bk_stmt **out,
                                     struct bk_errbuf *err);

/* Resets and clears the bindings of st; NULL is a no-op. */
void db_reset(struct bk_tx *tx, struct bk_stmt *st);

/* Steps st once: BK_OK with *row telling whether a row came back, or the
 * driver's error (store/driver.h). `what` names the operation. */
BK_MUST_CHECK enum bk_err db_step(struct bk_tx *tx, struct bk_stmt *st,
                                  bool *row, const char *what,
                                  struct bk_errbuf *err);

/* Steps st for the one row a lookup expects: BK_E_NOT_FOUND (err
 * untouched: the caller names the key) when there is none. */
BK_MUST_CHECK enum bk_err db_one(struct bk_tx *tx, struct bk_stmt *st,
                                 const char *what, struct bk_errbuf *err);

/* Steps st to its end; *changes (may be NULL) receives the rows changed. */
BK_MUST_CHECK enum bk_err db_exec(struct bk_tx *tx, struct bk_stmt *st,
                                  int *changes, const char *what,
                                  struct bk_errbuf *err);

/* Steps an `INSERT ... RETURNING id` (of one row, without ON CONFLICT DO
 * NOTHING) to its end; *id (may be NULL) receives the new row's id. The
 * driver's error as it is (a foreign key's BK_E_NOT_FOUND for the caller
 * to name); BK_E_INTERNAL when no id came back. */
BK_MUST_CHECK enum bk_err db_insert_id(struct bk_tx *tx, struct bk_stmt *st,
                                       const char *what, int64_t *id,
                                       struct bk_errbuf *err);

/* A row by its public id (public_id not NULL: statement q_public, text
 * sql_public, whose ?1 is the public id) or by its id (q_id, sql_id):
 * prepares, binds the key and steps to the row, which *st then holds for
 * the caller's column reads. BK_E_NOT_FOUND says "no <noun> '<public_id>'"
 * or "no <noun> <id>". Pass *st to db_reset on every path. */
BK_MUST_CHECK enum bk_err
db_get_by_key(struct bk_tx *tx, const char *public_id, int64_t id,
              const char *noun, enum db_stmt q_public, const char *sql_public,
              enum db_stmt q_id, const char *sql_id, struct bk_stmt **st,
              struct bk_errbuf *err);

/* Locks the row `id` of `table` (a string literal) for the rest of the
 * transaction (SELECT ... FOR UPDATE on PostgreSQL; SQLite has no row
 * locks and needs none: its writes are serialized) with statement q.
 * BK_E_NOT_FOUND says "<noun> <id> not found". A macro: a statement's text
 * must outlive the transaction's statement cache, so it is a literal. */
#define DB_LOCK_ROW(tx, q, table, noun, id, err)                               \
    db_lock_row((tx), (q),                                                     \
                BK_SQL2((tx), "SELECT id FROM " table " WHERE id = ?1",        \
                        "SELECT id FROM " table " WHERE id = ?1 FOR UPDATE"),  \
                (noun), (id), (err))
BK_MUST_CHECK enum bk_err db_lock_row(struct bk_tx *tx, enum db_stmt q,
                                      const char *sql, const char *noun,
                                      int64_t id, struct bk_errbuf *err);

/* Binders. Text NULL binds SQL NULL; db_bind_opt binds NULL for 0 ("none"
 * in core/ledger.h). Text is borrowed until the statement's last step. */
void db_bind_text(struct bk_tx *tx, struct bk_stmt *st, int i, const char *s);
void db_bind_textn(struct bk_tx *tx, struct bk_stmt *st, int i, const char *s,
                   size_t n);
void db_bind_i64(struct bk_tx *tx, struct bk_stmt *st, int i, int64_t v);
/* A NULL of a type (BK_BIND_INT, BK_BIND_TEXT, BK_BIND_BLOB): PostgreSQL
 * types every parameter. */
void db_bind_null(struct bk_tx *tx, struct bk_stmt *st, int i, int type);
void db_bind_opt(struct bk_tx *tx, struct bk_stmt *st, int i, int64_t v);
void db_bind_blob(struct bk_tx *tx, struct bk_stmt *st, int i, const void *p,
                  size_t n);

/* Column readers. Text and blobs are copied into arena (NUL-terminated);
 * SQL NULL becomes NULL (text) or 0 (integers); db_col_status returns -1
 * for NULL. */
const char *db_col_text(struct bk_tx *tx, struct bk_stmt *st, int i,
                        struct bk_arena *arena);
const void *db_col_blob(struct bk_tx *tx, struct bk_stmt *st, int i,
                        struct bk_arena *arena, size_t *n);
bool db_col_null(struct bk_tx *tx, struct bk_stmt *st, int i);
int64_t db_col_i64(struct bk_tx *tx, struct bk_stmt *st, int i);
int db_col_int(struct bk_tx *tx, struct bk_stmt *st, int i);
int db_col_status(struct bk_tx *tx, struct bk_stmt *st, int i);

/* Clamps a list limit to 1..DB_MAX_LIMIT. */
int db_limit(int limit);

/* Grows an arena array of elements of `size` bytes so that index n fits;
 * returns the (possibly moved) array. */
void *db_grow(struct bk_arena *arena, void *arr, size_t n, size_t *cap,
              size_t size);

/* Reads the rows of st into arr, a growing arena array of n elements,
 * calling read(tx, st, arena, &arr[n]) for each; stops at the first error,
 * which it leaves in `e` (a variable of the caller). */
#define DB_READ_ROWS(tx, st, arena, arr, n, what, err, read)                   \
    do {                                                                       \
        size_t cap_ = 0;                                                       \
        bool row_ = true;                                                      \
        while (e == BK_OK) {                                                   \
            e = db_step((tx), (st), &row_, (what), (err));                     \
            if (e || !row_)                                                    \
                break;                                                         \
            (arr) = db_grow((arena), (arr), (n), &cap_, sizeof(*(arr)));       \
            read((tx), (st), (arena), &(arr)[(n)]);                            \
            (n)++;                                                             \
        }                                                                      \
    } while (0)

#endif
