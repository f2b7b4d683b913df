/* store/messages.c — the messages table: outbound email about bookings
 * (store.h "Messages"), in SQL both drivers accept. What is sent and when
 * is mail/. */
#include <inttypes.h>
#include <string.h>

#include "store/sql.h"
#include "base/banned.h"

#define MESSAGE_COLS                                                           \
    "id, booking_id, kind, recipient, subject, status, message_id,"            \
    " sequence, attempts, last_error, sent_utc, created_utc"

enum bk_err bk_store_message_insert(struct bk_tx *tx,
                                    const struct bk_message *m, int64_t *id,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_MESSAGE_INSERT,
                   "INSERT INTO messages (booking_id, kind, recipient,"
                   " subject, status, message_id, sequence, attempts,"
                   " last_error, sent_utc, created_utc)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                   " RETURNING id",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, m->booking_id);
    db_bind_text(tx, st, 2, m->kind);
    db_bind_text(tx, st, 3, m->recipient);
    db_bind_text(tx, st, 4, m->subject);
    db_bind_i64(tx, st, 5, m->status);
    db_bind_text(tx, st, 6, m->message_id);
    db_bind_i64(tx, st, 7, m->sequence);
    db_bind_i64(tx, st, 8, m->attempts);
    db_bind_text(tx, st, 9, m->last_error);
    db_bind_opt(tx, st, 10, m->sent_utc);
    db_bind_i64(tx, st, 11, m->created_utc);
    e = db_insert_id(tx, st, "inserting a message", id, err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "booking %" PRId64 " not found", m->booking_id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_message_update(struct bk_tx *tx,
                                    const struct bk_message *m,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    int changes = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_MESSAGE_UPDATE,
                   "UPDATE messages SET status = ?2, attempts = ?3,"
                   " last_error = ?4, sent_utc = ?5 WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, m->id);
    db_bind_i64(tx, st, 2, m->status);
    db_bind_i64(tx, st, 3, m->attempts);
    db_bind_text(tx, st, 4, m->last_error);
    db_bind_opt(tx, st, 5, m->sent_utc);
    e = db_exec(tx, st, &changes, "updating a message", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "message %" PRId64 " not found",
                    m->id);
out:
    db_reset(tx, st);
    return e;
}

static void read_message(struct bk_tx *tx, struct bk_stmt *st,
                         struct bk_arena *a, struct bk_message *m)
{
    memset(m, 0, sizeof(*m));
    m->id = db_col_i64(tx, st, 0);
    m->booking_id = db_col_i64(tx, st, 1);
    m->kind = db_col_text(tx, st, 2, a);
    m->recipient = db_col_text(tx, st, 3, a);
    m->subject = db_col_text(tx, st, 4, a);
    m->status = (enum bk_message_status)db_col_int(tx, st, 5);
    m->message_id = db_col_text(tx, st, 6, a);
    m->sequence = db_col_int(tx, st, 7);
    m->attempts = db_col_int(tx, st, 8);
    m->last_error = db_col_text(tx, st, 9, a);
    m->sent_utc = db_col_i64(tx, st, 10);
    m->created_utc = db_col_i64(tx, st, 11);
}

enum bk_err bk_store_message_get(struct bk_tx *tx, int64_t id,
                                 struct bk_arena *arena, struct bk_message *out,
                                 struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_MESSAGE_GET,
                   "SELECT " MESSAGE_COLS " FROM messages WHERE id = ?1", &st,
                   err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_one(tx, st, "reading a message", err);
    if (e == BK_OK)
        read_message(tx, st, arena, out);
    else if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "message %" PRId64 " not found", id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_message_list(struct bk_tx *tx, int64_t booking_id,
                                  struct bk_arena *arena,
                                  struct bk_message **out, size_t *n,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_message *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_MESSAGE_LIST,
                   "SELECT " MESSAGE_COLS " FROM messages"
                   " WHERE booking_id = ?1 ORDER BY id LIMIT ?2",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, booking_id);
    db_bind_i64(tx, st, 2, DB_MAX_ROWS);
    DB_READ_ROWS(tx, st, arena, arr, count, "reading a booking's messages", err,
                 read_message);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}
