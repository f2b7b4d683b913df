/* store/calendars.c — calendar connections (store.h), in SQL both drivers
 * accept. Discovery, pushes and syncs are dav/ and connectors/calendars.c;
 * a booking's event is an external link (bookings.c). */
#include <inttypes.h>
#include <string.h>

#include "core/availability.h"
#include "store/sql.h"
#include "base/banned.h"

#define CAL_COLS                                                               \
    "id, public_id, host_id, kind, url, username, credential, calendars,"      \
    " status, on_cancel, last_sync_ms, last_error, created_ms, updated_ms,"    \
    " on_calendar_delete, last_sync_summary, last_reconcile_ms,"               \
    " last_reconcile_summary"

static void read_cal(struct bk_tx *tx, struct bk_stmt *st, struct bk_arena *a,
                     struct bk_cal_connection *c)
{
    memset(c, 0, sizeof(*c));
    c->id = db_col_i64(tx, st, 0);
    c->public_id = db_col_text(tx, st, 1, a);
    c->host_id = db_col_i64(tx, st, 2);
    c->kind = db_col_text(tx, st, 3, a);
    c->url = db_col_text(tx, st, 4, a);
    c->username = db_col_text(tx, st, 5, a);
    c->credential = db_col_text(tx, st, 6, a);
    c->calendars = db_col_text(tx, st, 7, a);
    c->status = (enum bk_cal_status)db_col_int(tx, st, 8);
    c->on_cancel = db_col_int(tx, st, 9);
    c->last_sync_ms = db_col_i64(tx, st, 10);
    c->last_error = db_col_text(tx, st, 11, a);
    c->created_ms = db_col_i64(tx, st, 12);
    c->updated_ms = db_col_i64(tx, st, 13);
    c->on_calendar_delete = db_col_int(tx, st, 14);
    c->last_sync_summary = db_col_text(tx, st, 15, a);
    c->last_reconcile_ms = db_col_i64(tx, st, 16);
    c->last_reconcile_summary = db_col_text(tx, st, 17, a);
}

enum bk_err bk_store_cal_insert(struct bk_tx *tx,
                                const struct bk_cal_connection *c, int64_t *id,
                                struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_CAL_INSERT,
                   "INSERT INTO calendar_connections (public_id, host_id,"
                   " kind, url, username, credential, calendars, status,"
                   " on_cancel, last_sync_ms, last_error, created_ms,"
                   " updated_ms, on_calendar_delete) VALUES (?1, ?2, ?3, ?4,"
                   " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING id",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, c->public_id);
    db_bind_i64(tx, st, 2, c->host_id);
    db_bind_text(tx, st, 3, c->kind);
    db_bind_text(tx, st, 4, c->url);
    db_bind_text(tx, st, 5, c->username);
    db_bind_text(tx, st, 6, c->credential);
    db_bind_text(tx, st, 7, c->calendars);
    db_bind_i64(tx, st, 8, c->status);
    db_bind_i64(tx, st, 9, c->on_cancel);
    db_bind_opt(tx, st, 10, c->last_sync_ms);
    db_bind_text(tx, st, 11, c->last_error);
    db_bind_i64(tx, st, 12, c->created_ms);
    db_bind_i64(tx, st, 13, c->updated_ms);
    db_bind_i64(tx, st, 14, c->on_calendar_delete);
    e = db_insert_id(tx, st, "storing a calendar connection", id, err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_cal_get(struct bk_tx *tx, const char *public_id,
                             int64_t id, struct bk_arena *arena,
                             struct bk_cal_connection *out,
                             struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e = db_get_by_key(
        tx, public_id, id, "calendar connection", Q_CAL_GET,
        "SELECT " CAL_COLS " FROM calendar_connections WHERE public_id = ?1",
        Q_CAL_GET_ID,
        "SELECT " CAL_COLS " FROM calendar_connections WHERE id = ?1", &st,
        err);

    if (e == BK_OK)
        read_cal(tx, st, arena, out);
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_cal_list_host(struct bk_tx *tx, int64_t host_id,
                                   const struct bk_page *page,
                                   struct bk_arena *arena,
                                   struct bk_cal_connection **out, size_t *n,
                                   struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_cal_connection *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_CAL_LIST_HOST,
                   "SELECT " CAL_COLS " FROM calendar_connections"
                   " WHERE (?1 = 0 OR host_id = ?1) AND id > ?3"
                   " ORDER BY id LIMIT ?2",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, host_id);
    db_bind_i64(tx, st, 2, page ? db_limit(page->limit) : DB_MAX_ROWS);
    db_bind_i64(tx, st, 3, page ? page->after_id : 0);
    DB_READ_ROWS(tx, st, arena, arr, count, "listing calendar connections", err,
                 read_cal);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

enum bk_err bk_store_cal_update(struct bk_tx *tx,
                                const struct bk_cal_connection *c,
                                struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_CAL_UPDATE,
                   "UPDATE calendar_connections SET calendars = ?2,"
                   " credential = ?3, status = ?4, on_cancel = ?5,"
                   " last_sync_ms = ?6, last_error = ?7, updated_ms = ?8,"
                   " on_calendar_delete = ?9"
                   " WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, c->id);
    db_bind_text(tx, st, 2, c->calendars);
    db_bind_text(tx, st, 3, c->credential);
    db_bind_i64(tx, st, 4, c->status);
    db_bind_i64(tx, st, 5, c->on_cancel);
    db_bind_opt(tx, st, 6, c->last_sync_ms);
    db_bind_text(tx, st, 7, c->last_error);
    db_bind_i64(tx, st, 8, c->updated_ms);
    db_bind_i64(tx, st, 9, c->on_calendar_delete);
    e = db_exec(tx, st, &changes, "updating a calendar connection", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "no calendar connection %" PRId64,
                    c->id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_cal_set_summary(struct bk_tx *tx, int64_t id,
                                     bool reconcile, const char *summary,
                                     int64_t at_ms, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    /* One statement for both: ?3 picks the columns written. */
    e = db_prepare(tx, Q_CAL_SET_SUMMARY,
                   "UPDATE calendar_connections SET"
                   " last_sync_summary = CASE WHEN ?3 = 0 THEN ?2"
                   " ELSE last_sync_summary END,"
                   " last_reconcile_summary = CASE WHEN ?3 = 1 THEN ?2"
                   " ELSE last_reconcile_summary END,"
                   " last_reconcile_ms = CASE WHEN ?3 = 1 THEN ?4"
                   " ELSE last_reconcile_ms END"
                   " WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    db_bind_text(tx, st, 2, summary);
    db_bind_i64(tx, st, 3, reconcile ? 1 : 0);
    db_bind_i64(tx, st, 4, at_ms);
    e = db_exec(tx, st, &changes, "recording a calendar summary", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "no calendar connection %" PRId64, id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_cal_delete(struct bk_tx *tx, int64_t id,
                                struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    /* Its watch channels outlive it until they are stopped (gwatch.c):
     * they keep the credential that can stop them. */
    e = db_prepare(tx, Q_GCHANNEL_ORPHAN,
                   "UPDATE google_channels SET stop_credential ="
                   " (SELECT credential FROM calendar_connections"
                   "  WHERE id = ?1), connection_id = NULL"
                   " WHERE connection_id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_exec(tx, st, NULL, "keeping a connection's channels", err);
    db_reset(tx, st);
    st = NULL;
    if (e)
        goto out;
    e = db_prepare(tx, Q_CAL_DELETE,
                   "DELETE FROM calendar_connections WHERE id = ?1", &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_exec(tx, st, &changes, "deleting a calendar connection", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "no calendar connection %" PRId64, id);
out:
    db_reset(tx, st);
    return e;
}

/* ---- Busy time --------------------------------------------------------- */

/* Rows read by one busy query; a host with more busy instances in one
 * window than this has a calendar bookingd cannot serve anyway. */
#define BUSY_MAX_ROWS 200000

static void read_interval(struct bk_tx *tx, struct bk_stmt *st,
                          struct bk_arena *a, struct bk_interval *iv)
{
    (void)a;
    iv->start_utc = db_col_i64(tx, st, 0);
    iv->end_utc = db_col_i64(tx, st, 1);
}

enum bk_err bk_store_cal_busy(struct bk_tx *tx, int64_t host_id,
                              int64_t from_utc, int64_t to_utc,
                              struct bk_arena *arena, struct bk_interval **out,
                              size_t *n, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_interval *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_CAL_BUSY,
                   "SELECT start_utc, end_utc FROM calendar_busy"
                   " WHERE host_id = ?1 AND end_utc > ?2 AND start_utc < ?3"
                   " ORDER BY start_utc, end_utc LIMIT ?4",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, host_id);
    db_bind_i64(tx, st, 2, from_utc);
    db_bind_i64(tx, st, 3, to_utc);
    db_bind_i64(tx, st, 4, BUSY_MAX_ROWS);
    DB_READ_ROWS(tx, st, arena, arr, count, "reading calendar busy time", err,
                 read_interval);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

enum bk_err bk_store_cal_busy_clear(struct bk_tx *tx, int64_t connection_id,
                                    const char *calendar, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    if (calendar)
        e = db_prepare(tx, Q_CAL_BUSY_CLEAR,
                       "DELETE FROM calendar_busy WHERE connection_id = ?1"
                       " AND calendar = ?2",
                       &st, err);
    else
        e = db_prepare(tx, Q_CAL_BUSY_CLEAR_ALL,
                       "DELETE FROM calendar_busy WHERE connection_id = ?1",
                       &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, connection_id);
    if (calendar)
        db_bind_text(tx, st, 2, calendar);
    e = db_exec(tx, st, NULL, "clearing calendar busy time", err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_cal_busy_clear_href(struct bk_tx *tx,
                                         int64_t connection_id,
                                         const char *calendar, const char *href,
                                         int *n, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    *n = 0;
    e = db_prepare(tx, Q_CAL_BUSY_CLEAR_HREF,
                   "DELETE FROM calendar_busy WHERE connection_id = ?1"
                   " AND calendar = ?2 AND href = ?3",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, connection_id);
    db_bind_text(tx, st, 2, calendar);
    db_bind_text(tx, st, 3, href);
    e = db_exec(tx, st, n, "clearing an event's busy time", err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_cal_busy_add(struct bk_tx *tx, const struct bk_cal_busy *b,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_CAL_BUSY_ADD,
                   "INSERT INTO calendar_busy (connection_id, host_id,"
                   " calendar, href, uid, start_utc, end_utc) VALUES (?1, ?2,"
                   " ?3, ?4, ?5, ?6, ?7)",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, b->connection_id);
    db_bind_i64(tx, st, 2, b->host_id);
    db_bind_text(tx, st, 3, b->calendar);
    db_bind_text(tx, st, 4, b->href);
    db_bind_text(tx, st, 5, b->uid);
    db_bind_i64(tx, st, 6, b->start_utc);
    db_bind_i64(tx, st, 7, b->end_utc);
    e = db_exec(tx, st, NULL, "storing calendar busy time", err);
out:
    db_reset(tx, st);
    return e;
}

static void read_busy_row(struct bk_tx *tx, struct bk_stmt *st,
                          struct bk_arena *a, struct bk_cal_busy *b)
{
    memset(b, 0, sizeof(*b));
    b->connection_id = db_col_i64(tx, st, 0);
    b->host_id = db_col_i64(tx, st, 1);
    b->calendar = db_col_text(tx, st, 2, a);
    b->href = db_col_text(tx, st, 3, a);
    b->uid = db_col_text(tx, st, 4, a);
    b->start_utc = db_col_i64(tx, st, 5);
    b->end_utc = db_col_i64(tx, st, 6);
}

enum bk_err bk_store_cal_busy_list(struct bk_tx *tx, int64_t connection_id,
                                   const char *calendar, struct bk_arena *arena,
                                   struct bk_cal_busy **out, size_t *n,
                                   struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_cal_busy *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_CAL_BUSY_LIST,
                   "SELECT connection_id, host_id, calendar, href, uid,"
                   " start_utc, end_utc FROM calendar_busy"
                   " WHERE connection_id = ?1 AND calendar = ?2"
                   " ORDER BY href, start_utc, end_utc LIMIT ?3",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, connection_id);
    db_bind_text(tx, st, 2, calendar);
    db_bind_i64(tx, st, 3, BUSY_MAX_ROWS);
    DB_READ_ROWS(tx, st, arena, arr, count, "listing calendar busy time", err,
                 read_busy_row);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

/* ---- Sealed values (bookingd rekey) ------------------------------------ */

static const struct {
    enum db_stmt list, set;
    const char *list_sql, *set_sql;
} sealed_tables[] = {
    [BK_SEALED_CALENDAR_CREDENTIAL] =
        {Q_SEALED_LIST_CAL, Q_SEALED_SET_CAL,
         "SELECT id, public_id, credential FROM calendar_connections"
         " WHERE credential IS NOT NULL ORDER BY id",
         "UPDATE calendar_connections SET credential = ?3"
         " WHERE id = ?1 AND credential = ?2"},
    [BK_SEALED_WEBHOOK_SECRET] =
        {Q_SEALED_LIST_WH, Q_SEALED_SET_WH,
         "SELECT id, public_id, secret FROM webhook_endpoints ORDER BY id",
         "UPDATE webhook_endpoints SET secret = ?3"
         " WHERE id = ?1 AND secret = ?2"},
};

const char *bk_store_sealed_aad(enum bk_sealed_kind kind, const char *public_id,
                                struct bk_arena *arena)
{
    return kind == BK_SEALED_WEBHOOK_SECRET
               ? bk_arena_printf(arena, BK_WH_SECRET_AAD, public_id)
               : bk_arena_printf(arena, "calendar_connection:%s:credential",
                                 public_id);
}

static void read_sealed(struct bk_tx *tx, struct bk_stmt *st,
                        struct bk_arena *a, struct bk_sealed *v)
{
    v->id = db_col_i64(tx, st, 0);
    v->public_id = db_col_text(tx, st, 1, a);
    v->value = db_col_text(tx, st, 2, a);
}

enum bk_err bk_store_sealed_list(struct bk_tx *tx, enum bk_sealed_kind kind,
                                 struct bk_arena *arena, struct bk_sealed **out,
                                 size_t *n, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_sealed *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, sealed_tables[kind].list, sealed_tables[kind].list_sql,
                   &st, err);
    DB_READ_ROWS(tx, st, arena, arr, count, "listing sealed values", err,
                 read_sealed);
    for (size_t i = 0; i < count; i++)
        arr[i].kind = kind;
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

enum bk_err bk_store_sealed_set(struct bk_tx *tx, const struct bk_sealed *v,
                                const char *value, bool *changed,
                                struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    *changed = false;
    e = db_prepare(tx, sealed_tables[v->kind].set,
                   sealed_tables[v->kind].set_sql, &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, v->id);
    db_bind_text(tx, st, 2, v->value);
    db_bind_text(tx, st, 3, value);
    e = db_exec(tx, st, &changes, "sealing a value again", err);
    *changed = e == BK_OK && changes > 0;
out:
    db_reset(tx, st);
    return e;
}

/* ---- Google watch channels (connectors/gwatch.c) ------------------------ */

#define GCH_COLS                                                               \
    "id, channel_id, connection_id, connection_public_id, calendar_id,"        \
    " resource_id, expiration_ms, stop_credential, created_ms"

static void read_gchannel(struct bk_tx *tx, struct bk_stmt *st,
                          struct bk_arena *a, struct bk_gchannel *c)
{
    memset(c, 0, sizeof(*c));
    c->id = db_col_i64(tx, st, 0);
    c->channel_id = db_col_text(tx, st, 1, a);
    c->connection_id = db_col_null(tx, st, 2) ? 0 : db_col_i64(tx, st, 2);
    c->connection_public_id = db_col_text(tx, st, 3, a);
    c->calendar_id = db_col_text(tx, st, 4, a);
    c->resource_id = db_col_text(tx, st, 5, a);
    c->expiration_ms = db_col_i64(tx, st, 6);
    c->stop_credential = db_col_text(tx, st, 7, a);
    c->created_ms = db_col_i64(tx, st, 8);
}

enum bk_err bk_store_gchannel_insert(struct bk_tx *tx,
                                     const struct bk_gchannel *c,
                                     struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_GCHANNEL_INSERT,
                   "INSERT INTO google_channels (channel_id, connection_id,"
                   " connection_public_id, calendar_id, resource_id,"
                   " expiration_ms, stop_credential, created_ms)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7)",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, c->channel_id);
    db_bind_i64(tx, st, 2, c->connection_id);
    db_bind_text(tx, st, 3, c->connection_public_id);
    db_bind_text(tx, st, 4, c->calendar_id);
    db_bind_text(tx, st, 5, c->resource_id);
    db_bind_i64(tx, st, 6, c->expiration_ms);
    db_bind_i64(tx, st, 7, c->created_ms);
    e = db_exec(tx, st, NULL, "storing a watch channel", err);
    if (e == BK_E_NOT_FOUND) /* the connection went meanwhile */
        e = bk_fail(err, BK_E_NOT_FOUND, "the connection is gone");
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_gchannel_find(struct bk_tx *tx, const char *channel_id,
                                   struct bk_arena *arena,
                                   struct bk_gchannel *out,
                                   struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_GCHANNEL_FIND,
                   "SELECT " GCH_COLS " FROM google_channels"
                   " WHERE channel_id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, channel_id);
    e = db_one(tx, st, "finding a watch channel", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no such channel");
    if (e == BK_OK)
        read_gchannel(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_gchannel_list(struct bk_tx *tx, struct bk_arena *arena,
                                   struct bk_gchannel **out, size_t *n,
                                   struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_gchannel *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_GCHANNEL_LIST,
                   "SELECT " GCH_COLS " FROM google_channels"
                   " ORDER BY id LIMIT 10000",
                   &st, err);
    DB_READ_ROWS(tx, st, arena, arr, count, "listing watch channels", err,
                 read_gchannel);
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

enum bk_err bk_store_gchannel_delete(struct bk_tx *tx, int64_t id,
                                     struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_GCHANNEL_DELETE,
                   "DELETE FROM google_channels WHERE id = ?1", &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_exec(tx, st, NULL, "deleting a watch channel", err);
out:
    db_reset(tx, st);
    return e;
}
