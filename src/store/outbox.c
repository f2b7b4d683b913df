/* store/outbox.c — outbound webhooks: endpoints and their messages, in SQL
 * both drivers accept. Sending them (signing, HTTP, retries) is
 * connectors/outwebhooks.c; the jobs behind them are queue.c. */
#include <inttypes.h>
#include <string.h>

#include "store/sql.h"
#include "base/banned.h"

/* ---- Endpoints --------------------------------------------------------- */

#define ENDPOINT_COLS                                                          \
    "id, public_id, url, events, description, secret, status,"                 \
    " disabled_reason, failing_since_ms, created_ms, updated_ms"

static void read_endpoint(struct bk_tx *tx, struct bk_stmt *st,
                          struct bk_arena *a, struct bk_wh_endpoint *ep)
{
    memset(ep, 0, sizeof(*ep));
    ep->id = db_col_i64(tx, st, 0);
    ep->public_id = db_col_text(tx, st, 1, a);
    ep->url = db_col_text(tx, st, 2, a);
    ep->events = db_col_text(tx, st, 3, a);
    ep->description = db_col_text(tx, st, 4, a);
    ep->secret = db_col_text(tx, st, 5, a);
    ep->status = (enum bk_wh_endpoint_status)db_col_int(tx, st, 6);
    ep->disabled_reason = db_col_text(tx, st, 7, a);
    ep->failing_since_ms = db_col_i64(tx, st, 8);
    ep->created_ms = db_col_i64(tx, st, 9);
    ep->updated_ms = db_col_i64(tx, st, 10);
}

enum bk_err bk_store_wh_endpoint_insert(struct bk_tx *tx,
                                        const struct bk_wh_endpoint *ep,
                                        int64_t *id, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_WH_ENDPOINT_INSERT,
                   "INSERT INTO webhook_endpoints (public_id, url, events,"
                   " description, secret, status, disabled_reason,"
                   " failing_since_ms, created_ms, updated_ms) VALUES (?1,"
                   " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, ep->public_id);
    db_bind_text(tx, st, 2, ep->url);
    db_bind_text(tx, st, 3, ep->events);
    db_bind_text(tx, st, 4, ep->description);
    db_bind_text(tx, st, 5, ep->secret);
    db_bind_i64(tx, st, 6, ep->status);
    db_bind_text(tx, st, 7, ep->disabled_reason);
    db_bind_opt(tx, st, 8, ep->failing_since_ms);
    db_bind_i64(tx, st, 9, ep->created_ms);
    db_bind_i64(tx, st, 10, ep->updated_ms);
    e = db_insert_id(tx, st, "storing a webhook endpoint", id, err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_wh_endpoint_get(struct bk_tx *tx, const char *public_id,
                                     int64_t id, struct bk_arena *arena,
                                     struct bk_wh_endpoint *out,
                                     struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e = db_get_by_key(
        tx, public_id, id, "webhook endpoint", Q_WH_ENDPOINT_GET,
        "SELECT " ENDPOINT_COLS " FROM webhook_endpoints WHERE public_id = ?1",
        Q_WH_ENDPOINT_GET_ID,
        "SELECT " ENDPOINT_COLS " FROM webhook_endpoints WHERE id = ?1", &st,
        err);

    if (e == BK_OK)
        read_endpoint(tx, st, arena, out);
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_wh_endpoint_list(struct bk_tx *tx,
                                      const struct bk_page *page,
                                      bool enabled_only, struct bk_arena *arena,
                                      struct bk_wh_endpoint **out, size_t *n,
                                      struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_wh_endpoint *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_WH_ENDPOINT_LIST,
                   "SELECT " ENDPOINT_COLS " FROM webhook_endpoints"
                   " WHERE id > ?1 AND (?3 = 0 OR status = 0)"
                   " ORDER BY id LIMIT ?2",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, page ? page->after_id : 0);
    db_bind_i64(tx, st, 2, db_limit(page ? page->limit : DB_MAX_LIMIT));
    db_bind_i64(tx, st, 3, enabled_only ? 1 : 0);
    DB_READ_ROWS(tx, st, arena, arr, count, "listing webhook endpoints", err,
                 read_endpoint);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

enum bk_err bk_store_wh_endpoint_update(struct bk_tx *tx,
                                        const struct bk_wh_endpoint *ep,
                                        struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_WH_ENDPOINT_UPDATE,
                   "UPDATE webhook_endpoints SET url = ?2, events = ?3,"
                   " description = ?4, status = ?5, disabled_reason = ?6,"
                   " failing_since_ms = ?7, updated_ms = ?8 WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, ep->id);
    db_bind_text(tx, st, 2, ep->url);
    db_bind_text(tx, st, 3, ep->events);
    db_bind_text(tx, st, 4, ep->description);
    db_bind_i64(tx, st, 5, ep->status);
    db_bind_text(tx, st, 6, ep->disabled_reason);
    db_bind_opt(tx, st, 7, ep->failing_since_ms);
    db_bind_i64(tx, st, 8, ep->updated_ms);
    e = db_exec(tx, st, &changes, "updating a webhook endpoint", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "no webhook endpoint %" PRId64,
                    ep->id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_wh_endpoint_delete(struct bk_tx *tx, int64_t id,
                                        struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_WH_ENDPOINT_DELETE,
                   "DELETE FROM webhook_endpoints WHERE id = ?1", &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_exec(tx, st, &changes, "deleting a webhook endpoint", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "no webhook endpoint %" PRId64, id);
out:
    db_reset(tx, st);
    return e;
}

/* ---- Messages ---------------------------------------------------------- */

/* body is an expression: "m.body", or "NULL" for lists. */
#define MESSAGE_SELECT(body)                                                   \
    "SELECT m.id, m.public_id, m.endpoint_id, m.event_type, m.subject,"        \
    " m.activity_id, " body ", m.timestamp_s, m.status, m.attempts,"           \
    " m.last_status_code, m.last_duration_ms, m.last_error, m.job_id,"         \
    " m.created_ms, m.updated_ms, m.delivered_ms,"                             \
    " CASE WHEN j.status = 0 THEN j.run_at_ms ELSE 0 END"                      \
    " FROM webhook_messages m LEFT JOIN jobs j ON j.id = m.job_id"

static void read_message(struct bk_tx *tx, struct bk_stmt *st,
                         struct bk_arena *a, struct bk_wh_message *m)
{
    memset(m, 0, sizeof(*m));
    m->id = db_col_i64(tx, st, 0);
    m->public_id = db_col_text(tx, st, 1, a);
    m->endpoint_id = db_col_i64(tx, st, 2);
    m->event_type = db_col_text(tx, st, 3, a);
    m->subject = db_col_text(tx, st, 4, a);
    m->activity_id = db_col_i64(tx, st, 5);
    m->body = db_col_text(tx, st, 6, a);
    m->timestamp_s = db_col_i64(tx, st, 7);
    m->status = (enum bk_wh_message_status)db_col_int(tx, st, 8);
    m->attempts = db_col_int(tx, st, 9);
    m->last_status_code = db_col_int(tx, st, 10);
    m->last_duration_ms = db_col_i64(tx, st, 11);
    m->last_error = db_col_text(tx, st, 12, a);
    m->job_id = db_col_i64(tx, st, 13);
    m->created_ms = db_col_i64(tx, st, 14);
    m->updated_ms = db_col_i64(tx, st, 15);
    m->delivered_ms = db_col_i64(tx, st, 16);
    m->next_attempt_ms = db_col_i64(tx, st, 17);
}

enum bk_err bk_store_wh_message_insert(struct bk_tx *tx,
                                       const struct bk_wh_message *m,
                                       int64_t *id, bool *existed,
                                       struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    bool row = false;

    *existed = false;
    e = db_prepare(tx, Q_WH_MESSAGE_INSERT,
                   "INSERT INTO webhook_messages (public_id, endpoint_id,"
                   " event_type, subject, activity_id, body, timestamp_s,"
                   " status, attempts, created_ms, updated_ms) VALUES (?1,"
                   " ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, ?8, ?8)"
                   " ON CONFLICT (endpoint_id, activity_id) DO NOTHING"
                   " RETURNING id",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, m->public_id);
    db_bind_i64(tx, st, 2, m->endpoint_id);
    db_bind_text(tx, st, 3, m->event_type);
    db_bind_text(tx, st, 4, m->subject);
    db_bind_i64(tx, st, 5, m->activity_id);
    db_bind_text(tx, st, 6, m->body);
    db_bind_i64(tx, st, 7, m->timestamp_s);
    db_bind_i64(tx, st, 8, m->created_ms);
    e = db_step(tx, st, &row, "storing a webhook message", err);
    if (e)
        goto out;
    if (row) {
        *id = db_col_i64(tx, st, 0);
        e = db_exec(tx, st, NULL, "storing a webhook message", err);
        goto out;
    }
    db_reset(tx, st);
    e = db_prepare(tx, Q_WH_MESSAGE_FIND,
                   "SELECT id FROM webhook_messages WHERE endpoint_id = ?1"
                   " AND activity_id = ?2",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, m->endpoint_id);
    db_bind_i64(tx, st, 2, m->activity_id);
    e = db_one(tx, st, "finding a webhook message", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, BK_E_INTERNAL, "a message neither inserted nor found");
    if (e)
        goto out;
    *id = db_col_i64(tx, st, 0);
    *existed = true;
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_wh_message_get(struct bk_tx *tx, const char *public_id,
                                    int64_t id, struct bk_arena *arena,
                                    struct bk_wh_message *out,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e = db_get_by_key(
        tx, public_id, id, "message", Q_WH_MESSAGE_GET,
        MESSAGE_SELECT("m.body") " WHERE m.public_id = ?1", Q_WH_MESSAGE_GET_ID,
        MESSAGE_SELECT("m.body") " WHERE m.id = ?1", &st, err);

    if (e == BK_OK)
        read_message(tx, st, arena, out);
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_wh_message_list(struct bk_tx *tx, int64_t endpoint_id,
                                     int64_t before_id, int limit,
                                     struct bk_arena *arena,
                                     struct bk_wh_message **out, size_t *n,
                                     struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_wh_message *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_WH_MESSAGE_LIST,
                   MESSAGE_SELECT("NULL") " WHERE m.endpoint_id = ?1"
                                          " AND m.id < ?2"
                                          " ORDER BY m.id DESC LIMIT ?3",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, endpoint_id);
    db_bind_i64(tx, st, 2, before_id > 0 ? before_id : INT64_MAX);
    db_bind_i64(tx, st, 3, db_limit(limit));
    DB_READ_ROWS(tx, st, arena, arr, count, "listing webhook messages", err,
                 read_message);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

enum bk_err bk_store_wh_message_record(struct bk_tx *tx,
                                       const struct bk_wh_message *m,
                                       struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_WH_MESSAGE_RECORD,
                   "UPDATE webhook_messages SET status = ?2, attempts = ?3,"
                   " last_status_code = ?4, last_duration_ms = ?5,"
                   " last_error = ?6, job_id = ?7, updated_ms = ?8,"
                   " delivered_ms = ?9 WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, m->id);
    db_bind_i64(tx, st, 2, m->status);
    db_bind_i64(tx, st, 3, m->attempts);
    db_bind_opt(tx, st, 4, m->last_status_code);
    db_bind_opt(tx, st, 5, m->last_duration_ms);
    db_bind_text(tx, st, 6, m->last_error);
    db_bind_opt(tx, st, 7, m->job_id);
    db_bind_i64(tx, st, 8, m->updated_ms);
    db_bind_opt(tx, st, 9, m->delivered_ms);
    e = db_exec(tx, st, &changes, "recording a webhook attempt", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "no message %" PRId64, m->id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_wh_attempt_insert(struct bk_tx *tx,
                                       const struct bk_wh_attempt *a,
                                       struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    /* INSERT ... SELECT: a message deleted meanwhile inserts nothing
     * instead of failing the transaction on its foreign key. */
    e = db_prepare(tx, Q_WH_ATTEMPT_INSERT,
                   "INSERT INTO webhook_attempts (message_id, attempt, at_ms,"
                   " status_code, duration_ms, error)"
                   " SELECT id, ?2, ?3, ?4, ?5, ?6 FROM webhook_messages"
                   " WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, a->message_id);
    db_bind_i64(tx, st, 2, a->attempt);
    db_bind_i64(tx, st, 3, a->at_ms);
    db_bind_opt(tx, st, 4, a->status_code);
    db_bind_i64(tx, st, 5, a->duration_ms < 0 ? 0 : a->duration_ms);
    db_bind_text(tx, st, 6, a->error);
    e = db_exec(tx, st, &changes, "recording a webhook attempt", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "no message %" PRId64, a->message_id);
out:
    db_reset(tx, st);
    return e;
}

static void read_attempt(struct bk_tx *tx, struct bk_stmt *st,
                         struct bk_arena *arena, struct bk_wh_attempt *a)
{
    a->id = db_col_i64(tx, st, 0);
    a->message_id = db_col_i64(tx, st, 1);
    a->attempt = db_col_int(tx, st, 2);
    a->at_ms = db_col_i64(tx, st, 3);
    a->status_code = db_col_int(tx, st, 4);
    a->duration_ms = db_col_i64(tx, st, 5);
    a->error = db_col_text(tx, st, 6, arena);
}

enum bk_err bk_store_wh_attempt_list(struct bk_tx *tx, int64_t endpoint_id,
                                     int64_t min_message_id,
                                     int64_t max_message_id,
                                     struct bk_arena *arena,
                                     struct bk_wh_attempt **out, size_t *n,
                                     struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_wh_attempt *rows = NULL;
    size_t len = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_WH_ATTEMPT_LIST,
                   "SELECT a.id, a.message_id, a.attempt, a.at_ms,"
                   " a.status_code, a.duration_ms, a.error"
                   " FROM webhook_attempts a"
                   " JOIN webhook_messages m ON m.id = a.message_id"
                   " WHERE m.endpoint_id = ?1 AND a.message_id >= ?2"
                   " AND a.message_id <= ?3"
                   " ORDER BY a.message_id, a.id LIMIT ?4",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, endpoint_id);
    db_bind_i64(tx, st, 2, min_message_id);
    db_bind_i64(tx, st, 3, max_message_id);
    db_bind_i64(tx, st, 4, BK_WH_ATTEMPTS_LIST_MAX);
    DB_READ_ROWS(tx, st, arena, rows, len, "listing webhook attempts", err,
                 read_attempt);
out:
    db_reset(tx, st);
    *out = rows;
    *n = len;
    return e;
}

enum bk_err bk_store_wh_message_earlier(struct bk_tx *tx, int64_t endpoint_id,
                                        const char *subject,
                                        int64_t before_activity,
                                        struct bk_arena *arena, bool *found,
                                        const char **public_id,
                                        struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    *found = false;
    *public_id = NULL;
    if (!subject)
        return BK_OK;
    e = db_prepare(tx, Q_WH_MESSAGE_EARLIER,
                   "SELECT public_id FROM webhook_messages"
                   " WHERE endpoint_id = ?1 AND subject = ?2 AND status = 0"
                   " AND activity_id < ?3 ORDER BY activity_id LIMIT 1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, endpoint_id);
    db_bind_text(tx, st, 2, subject);
    db_bind_i64(tx, st, 3, before_activity);
    e = db_one(tx, st, "ordering webhook messages", err);
    if (e == BK_E_NOT_FOUND) {
        e = BK_OK;
        goto out;
    }
    if (e)
        goto out;
    *found = true;
    *public_id = db_col_text(tx, st, 0, arena);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_wh_message_fail_pending(struct bk_tx *tx,
                                             int64_t endpoint_id,
                                             const char *error, int64_t now_ms,
                                             struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_WH_MESSAGE_FAIL_PENDING,
                   "UPDATE webhook_messages SET status = 2, last_error = ?2,"
                   " updated_ms = ?3 WHERE endpoint_id = ?1 AND status = 0",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, endpoint_id);
    db_bind_text(tx, st, 2, error);
    db_bind_i64(tx, st, 3, now_ms);
    e = db_exec(tx, st, NULL, "failing pending webhook messages", err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_wh_message_counts(struct bk_tx *tx, int64_t counts[3],
                                       struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    bool row = true;

    for (int i = 0; i < 3; i++)
        counts[i] = 0;
    e = db_prepare(tx, Q_WH_MESSAGE_COUNTS,
                   "SELECT status, count(*) FROM webhook_messages"
                   " GROUP BY status",
                   &st, err);
    while (e == BK_OK) {
        int status;
        e = db_step(tx, st, &row, "counting webhook messages", err);
        if (e || !row)
            break;
        status = db_col_int(tx, st, 0);
        if (status >= 0 && status < 3)
            counts[status] = db_col_i64(tx, st, 1);
    }
    db_reset(tx, st);
    return e;
}
