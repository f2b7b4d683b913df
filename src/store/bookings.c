/* store/bookings.c — bookings, the busy time they occupy, their
 * history, external links and the activity log, in SQL both drivers accept.
 * Hosts, event types and clients are in catalog.c. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "store/sql.h"
#include "base/buf.h"
#include "base/banned.h"

/* The store's widest buffer, in seconds: event_types CHECKs buffers to at
 * most 1440 minutes, so a booking that ends more than this before a window
 * cannot reach into it. */
#define MAX_BUFFER_SEC (1440 * 60)

/* ---- Bookings ---------------------------------------------------------- */

#define BOOKING_COLS                                                           \
    "b.id, b.uid, b.event_type_id, et.slug, b.host_id, h.slug, b.client_id,"   \
    " c.public_id, c.name, c.email, b.start_utc, b.end_utc,"                   \
    " b.attendee_timezone, b.status, b.payment_status, b.source, b.location,"  \
    " b.meeting_url, b.notes, b.cancellation_reason, b.rescheduled_from_utc,"  \
    " b.hold_expires_utc, b.created_utc, b.updated_utc, et.title,"             \
    " b.attendee_name, b.attendee_email, b.answers, b.flag"
#define BOOKING_FROM                                                           \
    " FROM bookings b JOIN event_types et ON et.id = b.event_type_id"          \
    " JOIN hosts h ON h.id = b.host_id JOIN clients c ON c.id = b.client_id"

static void read_booking(struct bk_tx *tx, struct bk_stmt *st,
                         struct bk_arena *a, struct bk_booking *b)
{
    memset(b, 0, sizeof(*b));
    b->id = db_col_i64(tx, st, 0);
    b->uid = db_col_text(tx, st, 1, a);
    b->event_type_id = db_col_i64(tx, st, 2);
    b->event_type_slug = db_col_text(tx, st, 3, a);
    b->host_id = db_col_i64(tx, st, 4);
    b->host_slug = db_col_text(tx, st, 5, a);
    b->client_id = db_col_i64(tx, st, 6);
    b->client_public_id = db_col_text(tx, st, 7, a);
    b->client_name = db_col_text(tx, st, 8, a);
    b->client_email = db_col_text(tx, st, 9, a);
    b->start_utc = db_col_i64(tx, st, 10);
    b->end_utc = db_col_i64(tx, st, 11);
    b->attendee_timezone = db_col_text(tx, st, 12, a);
    b->status = (enum bk_booking_status)db_col_int(tx, st, 13);
    b->payment_status = (enum bk_payment_status)db_col_int(tx, st, 14);
    b->source = (enum bk_source)db_col_int(tx, st, 15);
    b->location = db_col_text(tx, st, 16, a);
    b->meeting_url = db_col_text(tx, st, 17, a);
    b->notes = db_col_text(tx, st, 18, a);
    b->cancellation_reason = db_col_text(tx, st, 19, a);
    b->rescheduled_from_utc = db_col_i64(tx, st, 20);
    b->hold_expires_utc = db_col_i64(tx, st, 21);
    b->created_utc = db_col_i64(tx, st, 22);
    b->updated_utc = db_col_i64(tx, st, 23);
    b->event_type_title = db_col_text(tx, st, 24, a);
    b->attendee_name = db_col_text(tx, st, 25, a);
    b->attendee_email = db_col_text(tx, st, 26, a);
    b->answers = db_col_text(tx, st, 27, a);
    b->flag = db_col_text(tx, st, 28, a);
}

/* Binds ?1..?18 as insert and update number them (update leaves out ?1
 * uid, ?10 source and ?17 created_utc). The attendee as given is written
 * once, by insert (?19, ?20), and never changed. */
static void bind_booking(struct bk_tx *tx, struct bk_stmt *st,
                         const struct bk_booking *b)
{
    db_bind_text(tx, st, 1, b->uid);
    db_bind_i64(tx, st, 2, b->event_type_id);
    db_bind_i64(tx, st, 3, b->host_id);
    db_bind_i64(tx, st, 4, b->client_id);
    db_bind_i64(tx, st, 5, b->start_utc);
    db_bind_i64(tx, st, 6, b->end_utc);
    db_bind_text(tx, st, 7, b->attendee_timezone);
    db_bind_i64(tx, st, 8, b->status);
    db_bind_i64(tx, st, 9, b->payment_status);
    db_bind_i64(tx, st, 10, b->source);
    db_bind_text(tx, st, 11, b->location);
    db_bind_text(tx, st, 12, b->meeting_url);
    db_bind_text(tx, st, 13, b->notes);
    db_bind_text(tx, st, 14, b->cancellation_reason);
    db_bind_opt(tx, st, 15, b->rescheduled_from_utc);
    db_bind_opt(tx, st, 16, b->hold_expires_utc);
    db_bind_i64(tx, st, 17, b->created_utc);
    db_bind_i64(tx, st, 18, b->updated_utc);
}

enum bk_err bk_store_booking_insert(struct bk_tx *tx,
                                    const struct bk_booking *b, int64_t *id,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_BOOKING_INSERT,
                   "INSERT INTO bookings (uid, event_type_id, host_id,"
                   " client_id, start_utc, end_utc, attendee_timezone, status,"
                   " payment_status, source, location, meeting_url, notes,"
                   " cancellation_reason, rescheduled_from_utc,"
                   " hold_expires_utc, created_utc, updated_utc,"
                   " attendee_name, attendee_email, answers) VALUES (?1,"
                   " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                   " ?15, ?16, ?17, ?18, ?19, ?20, ?21) RETURNING id",
                   &st, err);
    if (e)
        goto out;
    bind_booking(tx, st, b);
    db_bind_text(tx, st, 19, b->attendee_name);
    db_bind_text(tx, st, 20, b->attendee_email);
    db_bind_text(tx, st, 21, b->answers);
    e = db_insert_id(tx, st, "inserting a booking", id, err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e,
                    "the booking's event type %" PRId64 ", host %" PRId64
                    " or client %" PRId64 " does not exist",
                    b->event_type_id, b->host_id, b->client_id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_booking_update(struct bk_tx *tx,
                                    const struct bk_booking *b,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_BOOKING_UPDATE,
                   "UPDATE bookings SET event_type_id = ?2, host_id = ?3,"
                   " client_id = ?4, start_utc = ?5, end_utc = ?6,"
                   " attendee_timezone = ?7, status = ?8, payment_status = ?9,"
                   " location = ?11, meeting_url = ?12, notes = ?13,"
                   " cancellation_reason = ?14, rescheduled_from_utc = ?15,"
                   " hold_expires_utc = ?16, updated_utc = ?18 WHERE id = ?19",
                   &st, err);
    if (e)
        goto out;
    bind_booking(tx, st, b);
    db_bind_i64(tx, st, 19, b->id);
    e = db_exec(tx, st, &changes, "updating a booking", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e,
                    "the booking's event type %" PRId64 ", host %" PRId64
                    " or client %" PRId64 " does not exist",
                    b->event_type_id, b->host_id, b->client_id);
    else if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "booking %" PRId64 " not found",
                    b->id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_booking_lock(struct bk_tx *tx, int64_t id,
                                  struct bk_errbuf *err)
{
    return DB_LOCK_ROW(tx, Q_BOOKING_LOCK, "bookings", "booking", id, err);
}

enum bk_err bk_store_booking_get(struct bk_tx *tx, int64_t id,
                                 struct bk_arena *arena, struct bk_booking *out,
                                 struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_BOOKING_GET,
                   "SELECT " BOOKING_COLS BOOKING_FROM " WHERE b.id = ?1", &st,
                   err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_one(tx, st, "reading a booking", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "booking %" PRId64 " not found", id);
    if (e == BK_OK)
        read_booking(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_booking_by_uid(struct bk_tx *tx, const char *uid,
                                    struct bk_arena *arena,
                                    struct bk_booking *out,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_BOOKING_BY_UID,
                   "SELECT " BOOKING_COLS BOOKING_FROM " WHERE b.uid = ?1", &st,
                   err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, uid);
    e = db_one(tx, st, "reading a booking", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no booking with uid %s", uid ? uid : "(null)");
    if (e == BK_OK)
        read_booking(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_booking_list(struct bk_tx *tx,
                                  const struct bk_booking_filter *f,
                                  struct bk_arena *arena,
                                  struct bk_booking **out, size_t *n,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_booking *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    *out = NULL;
    *n = 0;
    if (!f)
        return bk_fail(err, BK_E_INTERNAL, "booking list without a filter");
    /* The time bounds and the cursor are ranges on (start_utc, id), the
     * index the rows come out of in order; "any" binds the widest range.
     * The other filters test each row. */
    e = db_prepare(tx, Q_BOOKING_LIST,
                   "SELECT " BOOKING_COLS BOOKING_FROM
                   " WHERE b.start_utc >= ?1 AND b.start_utc < ?2"
                   " AND (b.start_utc, b.id) > (?3, ?4)"
                   " AND (?5 < 0 OR b.status = ?5)"
                   " AND (?6 < 0 OR b.source = ?6)"
                   " AND (?7 = 0 OR b.client_id = ?7)"
                   " AND (?8 = 0 OR b.event_type_id = ?8)"
                   " AND (?10 = 0 OR b.host_id = ?10)"
                   " AND (?11 = 0 OR b.flag IS NOT NULL)"
                   " ORDER BY b.start_utc, b.id LIMIT ?9",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, f->from_utc ? f->from_utc : INT64_MIN);
    db_bind_i64(tx, st, 2, f->to_utc ? f->to_utc : INT64_MAX);
    db_bind_i64(tx, st, 3, f->has_after ? f->after_start_utc : INT64_MIN);
    db_bind_i64(tx, st, 4, f->has_after ? f->after_id : INT64_MIN);
    db_bind_i64(tx, st, 5, f->status < 0 ? -1 : f->status);
    db_bind_i64(tx, st, 6, f->source < 0 ? -1 : f->source);
    db_bind_i64(tx, st, 7, f->client_id);
    db_bind_i64(tx, st, 8, f->event_type_id);
    db_bind_i64(tx, st, 9, db_limit(f->limit));
    db_bind_i64(tx, st, 10, f->host_id);
    db_bind_i64(tx, st, 11, f->flagged ? 1 : 0);
    DB_READ_ROWS(tx, st, arena, arr, count, "listing bookings", err,
                 read_booking);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

enum bk_err bk_store_booking_set_flag(struct bk_tx *tx, int64_t id,
                                      const char *flag, int64_t now_utc,
                                      struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_BOOKING_SET_FLAG,
                   "UPDATE bookings SET flag = ?2, updated_utc = ?3"
                   " WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    db_bind_text(tx, st, 2, flag);
    db_bind_i64(tx, st, 3, now_utc);
    e = db_exec(tx, st, &changes, "flagging a booking", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "no booking %" PRId64, id);
out:
    db_reset(tx, st);
    return e;
}

static void read_span(struct bk_tx *tx, struct bk_stmt *st, struct bk_arena *a,
                      struct bk_booking_span *s)
{
    s->booking_id = db_col_i64(tx, st, 0);
    s->event_type_id = db_col_i64(tx, st, 1);
    s->start_utc = db_col_i64(tx, st, 2);
    s->end_utc = db_col_i64(tx, st, 3);
    s->buffer_before_min = db_col_int(tx, st, 4);
    s->buffer_after_min = db_col_int(tx, st, 5);
}

/* The statuses that can occupy time, as SQL literals ("0, 1, 3, 4"): core's
 * blocking statuses and the held one. The busy query spells them as a
 * constant list, not as a bound mask, because only a constant lets the
 * planner use the partial index bookings_host_end_blocking (migration 3),
 * whose predicate is the same list. Built once from core's rule; a rule
 * that no longer matches the index is slower, never wrong (the test of
 * the plan in the store contract says so). */
static char busy_statuses[64];
static char busy_sql[900];
static pthread_once_t busy_once = PTHREAD_ONCE_INIT;

static void busy_build(void)
{
    unsigned mask = bk_booking_blocking_mask() | 1u << BK_BOOKING_HELD;
    size_t len = 0;

    for (int s = 0; s < BK_BOOKING_STATUS_COUNT; s++)
        if (mask & 1u << s)
            len += (size_t)snprintf(busy_statuses + len,
                                    sizeof(busy_statuses) - len, "%s%d",
                                    len ? ", " : "", s);
    /* "b.end_utc > ?6" bounds the scan of (host_id, end_utc): windows are
     * mostly in the future, so only the bookings from the window on are
     * read. The exact overlap test, with each booking's own buffers,
     * follows. A listed status that does not block is the held one,
     * which blocks while its hold lasts. */
    snprintf(busy_sql, sizeof(busy_sql),
             "SELECT b.id, b.event_type_id, b.start_utc, b.end_utc,"
             " et.buffer_before_min, et.buffer_after_min"
             " FROM bookings b JOIN event_types et"
             " ON et.id = b.event_type_id"
             " WHERE b.host_id = ?1 AND b.end_utc > ?6"
             " AND b.status IN (%s)"
             " AND b.end_utc + et.buffer_after_min * 60 > ?2"
             " AND b.start_utc - et.buffer_before_min * 60 < ?3"
             " AND b.id <> ?5"
             " AND (((?7 >> CAST(b.status AS INTEGER)) & 1) = 1"
             " OR b.hold_expires_utc IS NULL OR b.hold_expires_utc > ?4)"
             " ORDER BY b.start_utc, b.id",
             busy_statuses);
}

static const char *busy_query(void)
{
    pthread_once(&busy_once, busy_build);
    return busy_sql;
}

/* Binds the busy query's parameters. */
static void busy_bind(struct bk_tx *tx, struct bk_stmt *st, int64_t host_id,
                      int64_t from_utc, int64_t to_utc, int64_t now_utc,
                      int64_t exclude_id)
{
    db_bind_i64(tx, st, 1, host_id);
    db_bind_i64(tx, st, 2, from_utc);
    db_bind_i64(tx, st, 3, to_utc);
    db_bind_i64(tx, st, 4, now_utc);
    db_bind_i64(tx, st, 5, exclude_id);
    db_bind_i64(tx, st, 6,
                from_utc > INT64_MIN + MAX_BUFFER_SEC
                    ? from_utc - MAX_BUFFER_SEC
                    : INT64_MIN);
    /* Which statuses block is core's rule (core/booking.h), not ours. */
    db_bind_i64(tx, st, 7, bk_booking_blocking_mask());
}

enum bk_err bk_store_booking_busy(struct bk_tx *tx, int64_t host_id,
                                  int64_t from_utc, int64_t to_utc,
                                  int64_t now_utc, int64_t exclude_id,
                                  struct bk_arena *arena,
                                  struct bk_booking_span **out, size_t *n,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_booking_span *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_BOOKING_BUSY, busy_query(), &st, err);
    if (e)
        goto out;
    busy_bind(tx, st, host_id, from_utc, to_utc, now_utc, exclude_id);
    DB_READ_ROWS(tx, st, arena, arr, count, "reading busy time", err,
                 read_span);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

enum bk_err bk_store_booking_busy_plan(struct bk_tx *tx, struct bk_arena *arena,
                                       char **plan, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_buf b;
    char sql[1000];
    bool row = false;
    enum bk_err e;

    *plan = NULL;
    bk_buf_init(&b, 64 * 1024);
    /* SQLite: one row per step, its text in the fourth column;
     * PostgreSQL: one line of text per row. */
    snprintf(sql, sizeof(sql), "%s%s",
             BK_SQL2(tx, "EXPLAIN QUERY PLAN ", "EXPLAIN "), busy_query());
    e = db_prepare(tx, Q_BOOKING_BUSY_PLAN, sql, &st, err);
    if (e)
        goto out;
    busy_bind(tx, st, 1, 0, 1, 0, 0);
    for (;;) {
        const char *line;

        e = db_step(tx, st, &row, "explaining the busy-time query", err);
        if (e || !row)
            break;
        line = db_col_text(tx, st, BK_SQL2(tx, 3, 0), arena);
        if (bk_buf_appendf(&b, "%s\n", line ? line : "") != BK_OK) {
            e = bk_fail(err, BK_E_TOO_LARGE, "the busy-time plan is too long");
            break;
        }
    }
    if (!e)
        *plan = bk_arena_strdup(arena, b.data ? b.data : "");
out:
    bk_buf_release(&b);
    db_reset(tx, st);
    return e;
}

/* ---- History ----------------------------------------------------------- */

/* -1 ("none") is stored as NULL. */
static void bind_status(struct bk_tx *tx, struct bk_stmt *st, int i, int v)
{
    if (v < 0)
        db_bind_null(tx, st, i, BK_BIND_INT);
    else
        db_bind_i64(tx, st, i, v);
}

enum bk_err bk_store_history_append(struct bk_tx *tx,
                                    const struct bk_booking_change *c,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_HISTORY_APPEND,
                   "INSERT INTO booking_history (booking_id, at_utc, action,"
                   " actor, from_status, to_status, old_start_utc,"
                   " old_end_utc, new_start_utc, new_end_utc, note)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, c->booking_id);
    db_bind_i64(tx, st, 2, c->at_utc);
    db_bind_text(tx, st, 3, c->action);
    db_bind_text(tx, st, 4, c->actor);
    bind_status(tx, st, 5, c->from_status);
    bind_status(tx, st, 6, c->to_status);
    db_bind_opt(tx, st, 7, c->old_start_utc);
    db_bind_opt(tx, st, 8, c->old_end_utc);
    db_bind_opt(tx, st, 9, c->new_start_utc);
    db_bind_opt(tx, st, 10, c->new_end_utc);
    db_bind_text(tx, st, 11, c->note);
    e = db_exec(tx, st, NULL, "appending to a booking's history", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "booking %" PRId64 " not found", c->booking_id);
out:
    db_reset(tx, st);
    return e;
}

static void read_change(struct bk_tx *tx, struct bk_stmt *st,
                        struct bk_arena *a, struct bk_booking_change *c)
{
    memset(c, 0, sizeof(*c));
    c->id = db_col_i64(tx, st, 0);
    c->booking_id = db_col_i64(tx, st, 1);
    c->at_utc = db_col_i64(tx, st, 2);
    c->action = db_col_text(tx, st, 3, a);
    c->actor = db_col_text(tx, st, 4, a);
    c->from_status = db_col_status(tx, st, 5);
    c->to_status = db_col_status(tx, st, 6);
    c->old_start_utc = db_col_i64(tx, st, 7);
    c->old_end_utc = db_col_i64(tx, st, 8);
    c->new_start_utc = db_col_i64(tx, st, 9);
    c->new_end_utc = db_col_i64(tx, st, 10);
    c->note = db_col_text(tx, st, 11, a);
}

enum bk_err bk_store_history_list(struct bk_tx *tx, int64_t booking_id,
                                  struct bk_arena *arena,
                                  struct bk_booking_change **out, size_t *n,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_booking_change *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_HISTORY_LIST,
                   "SELECT id, booking_id, at_utc, action, actor, from_status,"
                   " to_status, old_start_utc, old_end_utc, new_start_utc,"
                   " new_end_utc, note FROM booking_history"
                   " WHERE booking_id = ?1 ORDER BY at_utc, id LIMIT ?2",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, booking_id);
    db_bind_i64(tx, st, 2, DB_MAX_ROWS);
    DB_READ_ROWS(tx, st, arena, arr, count, "reading a booking's history", err,
                 read_change);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

/* ---- External links ---------------------------------------------------- */

#define LINK_COLS                                                              \
    "id, entity, entity_id, provider, kind, external_id, etag, superseded,"    \
    " created_utc"

static void read_link(struct bk_tx *tx, struct bk_stmt *st, struct bk_arena *a,
                      struct bk_link *l)
{
    memset(l, 0, sizeof(*l));
    l->id = db_col_i64(tx, st, 0);
    l->entity = (enum bk_link_entity)db_col_int(tx, st, 1);
    l->entity_id = db_col_i64(tx, st, 2);
    l->provider = db_col_text(tx, st, 3, a);
    l->kind = db_col_text(tx, st, 4, a);
    l->external_id = db_col_text(tx, st, 5, a);
    l->etag = db_col_text(tx, st, 6, a);
    l->superseded = db_col_int(tx, st, 7) != 0;
    l->created_utc = db_col_i64(tx, st, 8);
}

enum bk_err bk_store_link_insert(struct bk_tx *tx, const struct bk_link *l,
                                 struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_LINK_INSERT,
                   "INSERT INTO external_links (entity, entity_id, provider,"
                   " kind, external_id, etag, superseded, created_utc)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, l->entity);
    db_bind_i64(tx, st, 2, l->entity_id);
    db_bind_text(tx, st, 3, l->provider);
    db_bind_text(tx, st, 4, l->kind);
    db_bind_text(tx, st, 5, l->external_id);
    db_bind_text(tx, st, 6, l->etag);
    db_bind_i64(tx, st, 7, l->superseded ? 1 : 0);
    db_bind_i64(tx, st, 8, l->created_utc);
    e = db_exec(tx, st, NULL, "inserting an external link", err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_link_put(struct bk_tx *tx, const struct bk_link *l,
                              struct bk_arena *arena, struct bk_link *out,
                              bool *existed, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    bool row = false;

    *existed = false;
    e = db_prepare(tx, Q_LINK_UPSERT,
                   "INSERT INTO external_links (entity, entity_id, provider,"
                   " kind, external_id, etag, superseded, created_utc)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                   " ON CONFLICT (provider, kind, external_id) DO NOTHING"
                   " RETURNING id",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, l->entity);
    db_bind_i64(tx, st, 2, l->entity_id);
    db_bind_text(tx, st, 3, l->provider);
    db_bind_text(tx, st, 4, l->kind);
    db_bind_text(tx, st, 5, l->external_id);
    db_bind_text(tx, st, 6, l->etag);
    db_bind_i64(tx, st, 7, l->superseded ? 1 : 0);
    db_bind_i64(tx, st, 8, l->created_utc);
    e = db_step(tx, st, &row, "inserting an external link", err);
    if (e == BK_OK)
        e = db_exec(tx, st, NULL, "inserting an external link", err);
    db_reset(tx, st);
    st = NULL;
    if (e)
        goto out;
    *existed = !row;
    e = bk_store_link_find(tx, l->provider, l->kind, l->external_id, arena, out,
                           err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_link_update(struct bk_tx *tx, const struct bk_link *l,
                                 struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_LINK_UPDATE,
                   "UPDATE external_links SET etag = ?4, superseded = ?5"
                   " WHERE provider = ?1 AND kind = ?2 AND external_id = ?3",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, l->provider);
    db_bind_text(tx, st, 2, l->kind);
    db_bind_text(tx, st, 3, l->external_id);
    db_bind_text(tx, st, 4, l->etag);
    db_bind_i64(tx, st, 5, l->superseded ? 1 : 0);
    e = db_exec(tx, st, &changes, "updating an external link", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "no %s link %s %s",
                    l->provider ? l->provider : "(null)",
                    l->kind ? l->kind : "(null)",
                    l->external_id ? l->external_id : "(null)");
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_link_find(struct bk_tx *tx, const char *provider,
                               const char *kind, const char *external_id,
                               struct bk_arena *arena, struct bk_link *out,
                               struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_LINK_FIND,
                   "SELECT " LINK_COLS " FROM external_links"
                   " WHERE provider = ?1 AND kind = ?2 AND external_id = ?3",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, provider);
    db_bind_text(tx, st, 2, kind);
    db_bind_text(tx, st, 3, external_id);
    e = db_one(tx, st, "reading an external link", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no %s link %s %s", provider ? provider : "(null)",
                    kind ? kind : "(null)",
                    external_id ? external_id : "(null)");
    if (e == BK_OK)
        read_link(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_link_list(struct bk_tx *tx, enum bk_link_entity entity,
                               int64_t entity_id, struct bk_arena *arena,
                               struct bk_link **out, size_t *n,
                               struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_link *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_LINK_LIST,
                   "SELECT " LINK_COLS " FROM external_links"
                   " WHERE entity = ?1 AND entity_id = ?2"
                   " ORDER BY created_utc, id LIMIT ?3",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, entity);
    db_bind_i64(tx, st, 2, entity_id);
    db_bind_i64(tx, st, 3, DB_MAX_ROWS);
    DB_READ_ROWS(tx, st, arena, arr, count, "listing external links", err,
                 read_link);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

enum bk_err bk_store_link_list_kind(struct bk_tx *tx, const char *provider,
                                    const char *kind, struct bk_arena *arena,
                                    struct bk_link **out, size_t *n,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_link *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    /* The unique key (provider, kind, external_id) serves it. */
    e = db_prepare(tx, Q_CAL_LINKS_OF_KIND,
                   "SELECT " LINK_COLS " FROM external_links"
                   " WHERE provider = ?1 AND kind = ?2"
                   " ORDER BY created_utc, id LIMIT ?3",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, provider);
    db_bind_text(tx, st, 2, kind);
    db_bind_i64(tx, st, 3, DB_MAX_ROWS);
    DB_READ_ROWS(tx, st, arena, arr, count, "listing external links", err,
                 read_link);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

/* ---- Activity ---------------------------------------------------------- */

enum bk_err bk_store_activity_append(struct bk_tx *tx,
                                     const struct bk_activity *a, int64_t *id,
                                     struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_ACTIVITY_APPEND,
                   "INSERT INTO activity (at_utc, kind, booking_id, client_id,"
                   " source, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                   " RETURNING id",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, a->at_utc);
    db_bind_text(tx, st, 2, a->kind);
    db_bind_opt(tx, st, 3, a->booking_id);
    db_bind_opt(tx, st, 4, a->client_id);
    db_bind_text(tx, st, 5, a->source);
    db_bind_text(tx, st, 6, a->detail);
    e = db_one(tx, st, "appending activity", err);
    if (e == BK_OK && id)
        *id = db_col_i64(tx, st, 0);
    if (e == BK_OK)
        e = db_exec(tx, st, NULL, "appending activity", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e,
                    "the activity's booking %" PRId64 " or client %" PRId64
                    " does not exist",
                    a->booking_id, a->client_id);
out:
    db_reset(tx, st);
    return e;
}

static void read_activity(struct bk_tx *tx, struct bk_stmt *st,
                          struct bk_arena *a, struct bk_activity *act)
{
    memset(act, 0, sizeof(*act));
    act->id = db_col_i64(tx, st, 0);
    act->at_utc = db_col_i64(tx, st, 1);
    act->kind = db_col_text(tx, st, 2, a);
    act->booking_id = db_col_i64(tx, st, 3);
    act->client_id = db_col_i64(tx, st, 4);
    act->source = db_col_text(tx, st, 5, a);
    act->detail = db_col_text(tx, st, 6, a);
    act->booking_uid = db_col_text(tx, st, 7, a);
    act->client_public_id = db_col_text(tx, st, 8, a);
}

#define ACTIVITY_SELECT                                                        \
    "SELECT a.id, a.at_utc, a.kind, a.booking_id, a.client_id, a.source,"      \
    " a.detail, b.uid, c.public_id FROM activity a"                            \
    " LEFT JOIN bookings b ON b.id = a.booking_id"                             \
    " LEFT JOIN clients c ON c.id = a.client_id"

enum bk_err bk_store_activity_list(struct bk_tx *tx, const char *kind,
                                   int64_t booking_id, int64_t before_id,
                                   int limit, struct bk_arena *arena,
                                   struct bk_activity **out, size_t *n,
                                   struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_activity *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    /* One statement per filter, each walking its own index newest first
     * (activity_booking, activity_kind, the primary key). */
    if (booking_id)
        e = db_prepare(tx, Q_ACTIVITY_LIST_BOOKING,
                       ACTIVITY_SELECT " WHERE a.booking_id = ?3"
                                       " AND a.id < ?1"
                                       " AND (?2 IS NULL OR a.kind = ?2)"
                                       " ORDER BY a.id DESC LIMIT ?4",
                       &st, err);
    else if (kind)
        e = db_prepare(tx, Q_ACTIVITY_LIST_KIND,
                       ACTIVITY_SELECT " WHERE a.kind = ?2 AND a.id < ?1"
                                       " ORDER BY a.id DESC LIMIT ?4",
                       &st, err);
    else
        e = db_prepare(tx, Q_ACTIVITY_LIST,
                       ACTIVITY_SELECT " WHERE a.id < ?1"
                                       " ORDER BY a.id DESC LIMIT ?4",
                       &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, before_id > 0 ? before_id : INT64_MAX);
    db_bind_text(tx, st, 2, kind);
    /* Bound whether used or not: PostgreSQL types every numbered
     * parameter up to the highest. */
    db_bind_i64(tx, st, 3, booking_id);
    db_bind_i64(tx, st, 4, db_limit(limit));
    DB_READ_ROWS(tx, st, arena, arr, count, "listing activity", err,
                 read_activity);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

enum bk_err bk_store_activity_of_bookings(
    struct bk_tx *tx, const int64_t *booking_ids, size_t n,
    const char *const *kinds, size_t n_kinds, struct bk_arena *arena,
    struct bk_activity **out, size_t *n_out, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_activity *arr = NULL;
    size_t count = 0;
    struct bk_buf ids, ks;
    enum bk_err e;

    *out = NULL;
    *n_out = 0;
    if (n > BK_STORE_ACTIVITY_BATCH || n_kinds > 16)
        return bk_fail(err, BK_E_INTERNAL,
                       "%zu bookings or %zu kinds is too many", n, n_kinds);
    if (n == 0)
        return BK_OK;
    /* The lists go as JSON arrays, one statement whatever their length. */
    bk_buf_init(&ids, 32 * BK_STORE_ACTIVITY_BATCH);
    bk_buf_init(&ks, 1024);
    e = bk_buf_appends(&ids, "[");
    for (size_t i = 0; i < n && !e; i++)
        e = bk_buf_appendf(&ids, "%s%" PRId64, i ? "," : "", booking_ids[i]);
    if (!e)
        e = bk_buf_appends(&ids, "]");
    if (!e)
        e = bk_buf_appends(&ks, "[");
    for (size_t i = 0; i < n_kinds && !e; i++) /* kinds are A-Z and _ */
        e = bk_buf_appendf(&ks, "%s\"%s\"", i ? "," : "", kinds[i]);
    if (!e)
        e = bk_buf_appends(&ks, "]");
    if (e) {
        e = bk_fail(err, BK_E_INTERNAL, "the id list does not fit");
        goto out;
    }
    e = db_prepare(
        tx, Q_ACTIVITY_OF_BOOKINGS,
        BK_SQL2(tx,
                ACTIVITY_SELECT
                " WHERE a.booking_id IN (SELECT value FROM json_each(?1))"
                " AND a.kind IN (SELECT value FROM json_each(?2))"
                " ORDER BY a.booking_id, a.id LIMIT ?3",
                ACTIVITY_SELECT
                " WHERE a.booking_id IN (SELECT CAST(v AS bigint) FROM"
                " json_array_elements_text(CAST(?1 AS json)) AS t(v))"
                " AND a.kind IN (SELECT v FROM"
                " json_array_elements_text(CAST(?2 AS json)) AS k(v))"
                " ORDER BY a.booking_id, a.id LIMIT ?3"),
        &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, ids.data);
    db_bind_text(tx, st, 2, ks.data);
    db_bind_i64(tx, st, 3, (int64_t)n * 500);
    DB_READ_ROWS(tx, st, arena, arr, count, "listing bookings' activity", err,
                 read_activity);
out:
    db_reset(tx, st);
    bk_buf_release(&ids);
    bk_buf_release(&ks);
    *out = e ? NULL : arr;
    *n_out = e ? 0 : count;
    return e;
}
