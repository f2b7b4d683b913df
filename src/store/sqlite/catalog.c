/* store/sqlite/catalog.c — settings, hosts, schedules, event types and
 * clients in SQLite: the business's catalog, which bookings refer to.
 * Bookings are in bookings.c, the inbox and jobs in queue.c. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"
#include "store/sqlite/internal.h"
#include "base/banned.h"

/* ---- Settings ---------------------------------------------------------- */

enum bk_err sq_meta_get(struct bk_tx *t, const char *key,
                        struct bk_arena *arena, const char **value,
                        struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    *value = NULL;
    e = sq_prepare(tx, SQ_META_GET, "SELECT value FROM meta WHERE key = ?1",
                   &st, err);
    if (e)
        goto out;
    sq_bind_text(tx, st, 1, key);
    e = sq_one(tx, st, "reading a setting", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "setting %s not found", key);
    if (e)
        goto out;
    *value = sq_col_text(st, 0, arena);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_meta_put(struct bk_tx *t, const char *key, const char *value,
                        struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_META_PUT,
                   "INSERT INTO meta (key, value) VALUES (?1, ?2)"
                   " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                   &st, err);
    if (e)
        goto out;
    sq_bind_text(tx, st, 1, key);
    sq_bind_text(tx, st, 2, value);
    e = sq_exec(tx, st, NULL, "writing a setting", err);
out:
    sq_reset(st);
    return e;
}

/* ---- Hosts ------------------------------------------------------------- */

#define HOST_COLS "id, slug, name, email, timezone, created_utc, updated_utc"

static void read_host(sqlite3_stmt *st, struct bk_arena *a, struct bk_host *h)
{
    memset(h, 0, sizeof(*h));
    h->id = sq_col_i64(st, 0);
    h->slug = sq_col_text(st, 1, a);
    h->name = sq_col_text(st, 2, a);
    h->email = sq_col_text(st, 3, a);
    h->timezone = sq_col_text(st, 4, a);
    h->created_utc = sq_col_i64(st, 5);
    h->updated_utc = sq_col_i64(st, 6);
}

enum bk_err sq_host_insert(struct bk_tx *t, const struct bk_host *h,
                           int64_t *id, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_HOST_INSERT,
                   "INSERT INTO hosts (slug, name, email, timezone,"
                   " created_utc, updated_utc)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                   &st, err);
    if (e)
        goto out;
    sq_bind_text(tx, st, 1, h->slug);
    sq_bind_text(tx, st, 2, h->name);
    sq_bind_text(tx, st, 3, h->email);
    sq_bind_text(tx, st, 4, h->timezone);
    sq_bind_i64(tx, st, 5, h->created_utc);
    sq_bind_i64(tx, st, 6, h->updated_utc);
    e = sq_exec(tx, st, NULL, "inserting a host", err);
    if (e == BK_OK)
        *id = sqlite3_last_insert_rowid(tx->conn->db);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_host_update(struct bk_tx *t, const struct bk_host *h,
                           struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = sq_prepare(tx, SQ_HOST_UPDATE,
                   "UPDATE hosts SET name = ?2, email = ?3, timezone = ?4,"
                   " updated_utc = ?5 WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, h->id);
    sq_bind_text(tx, st, 2, h->name);
    sq_bind_text(tx, st, 3, h->email);
    sq_bind_text(tx, st, 4, h->timezone);
    sq_bind_i64(tx, st, 5, h->updated_utc);
    e = sq_exec(tx, st, &changes, "updating a host", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "host %" PRId64 " not found", h->id);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_host_delete(struct bk_tx *t, int64_t id, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;
    int64_t n_types, n_bookings;
    int changes = 0;

    /* Count the references first, for a message that says what is in the
     * way; the foreign keys still guard the delete. */
    e = sq_prepare(tx, SQ_HOST_REFS,
                   "SELECT (SELECT count(*) FROM event_types"
                   "        WHERE host_id = ?1),"
                   "       (SELECT count(*) FROM bookings WHERE host_id = ?1)",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, id);
    e = sq_one(tx, st, "counting a host's references", err);
    if (e)
        goto out;
    n_types = sq_col_i64(st, 0);
    n_bookings = sq_col_i64(st, 1);
    sq_reset(st);
    st = NULL;
    if (n_types || n_bookings) {
        e = bk_fail(err, BK_E_CONFLICT,
                    "host %" PRId64 " still has %" PRId64
                    " event types and %" PRId64 " bookings",
                    id, n_types, n_bookings);
        goto out;
    }

    e = sq_prepare(tx, SQ_HOST_DELETE, "DELETE FROM hosts WHERE id = ?1", &st,
                   err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, id);
    e = sq_exec(tx, st, &changes, "deleting a host", err);
    if (e == BK_E_NOT_FOUND) /* a foreign key refused the delete */
        e = bk_fail(err, BK_E_CONFLICT, "host %" PRId64 " is still referred to",
                    id);
    else if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "host %" PRId64 " not found", id);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_host_get(struct bk_tx *t, int64_t id, struct bk_arena *arena,
                        struct bk_host *out, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_HOST_GET,
                   "SELECT " HOST_COLS " FROM hosts WHERE id = ?1", &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, id);
    e = sq_one(tx, st, "reading a host", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "host %" PRId64 " not found", id);
    if (e == BK_OK)
        read_host(st, arena, out);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_host_by_slug(struct bk_tx *t, const char *slug,
                            struct bk_arena *arena, struct bk_host *out,
                            struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_HOST_BY_SLUG,
                   "SELECT " HOST_COLS " FROM hosts WHERE slug = ?1", &st, err);
    if (e)
        goto out;
    sq_bind_text(tx, st, 1, slug);
    e = sq_one(tx, st, "reading a host", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no host with slug %s", slug ? slug : "(null)");
    if (e == BK_OK)
        read_host(st, arena, out);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_host_by_email(struct bk_tx *t, const char *email,
                             struct bk_arena *arena, struct bk_host *out,
                             struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_HOST_BY_EMAIL,
                   "SELECT " HOST_COLS " FROM hosts"
                   " WHERE lower(email) = lower(?1)"
                   " ORDER BY created_utc, id LIMIT 1",
                   &st, err);
    if (e)
        goto out;
    sq_bind_text(tx, st, 1, email);
    e = sq_one(tx, st, "reading a host", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no host with email %s", email ? email : "(null)");
    if (e == BK_OK)
        read_host(st, arena, out);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_host_list(struct bk_tx *t, const struct bk_page *page,
                         struct bk_arena *arena, struct bk_host **out,
                         size_t *n, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    struct bk_host *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = sq_prepare(tx, SQ_HOST_LIST,
                   "SELECT " HOST_COLS " FROM hosts WHERE id > ?1"
                   " ORDER BY id LIMIT ?2",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, page ? page->after_id : 0);
    sq_bind_i64(tx, st, 2, sq_limit(page ? page->limit : SQ_MAX_LIMIT));
    SQ_READ_ROWS(tx, st, arena, arr, count, "listing hosts", err, read_host);
out:
    sq_reset(st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

/* ---- Schedules --------------------------------------------------------- */

/* schedule_put runs several statements: a savepoint makes it all or
 * nothing inside the caller's transaction. */
static enum bk_err savepoint(struct sq_tx *tx, struct bk_errbuf *err)
{
    int rc;

    /* Outside a transaction SAVEPOINT would begin a new one. */
    if (tx->broken || sqlite3_get_autocommit(tx->conn->db))
        return bk_fail(err, BK_E_IO,
                       "the transaction was rolled back after an earlier "
                       "database error");
    rc = sqlite3_exec(tx->conn->db, "SAVEPOINT bk_put", NULL, NULL, NULL);

    return rc == SQLITE_OK
               ? BK_OK
               : sq_error(tx->conn->db, rc, "starting a savepoint", err);
}

static void savepoint_end(struct sq_tx *tx, bool keep)
{
    sqlite3 *db = tx->conn->db;

    if (sqlite3_get_autocommit(db)) { /* SQLite rolled everything back */
        tx->broken = true;
        return;
    }
    if (!keep)
        sqlite3_exec(db, "ROLLBACK TO bk_put", NULL, NULL, NULL);
    if (sqlite3_exec(db, "RELEASE bk_put", NULL, NULL, NULL) != SQLITE_OK)
        tx->broken = true;
}

enum bk_err sq_schedule_put(struct bk_tx *t, int64_t host_id,
                            const struct bk_schedule *s, int64_t now_utc,
                            struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;
    bool in_savepoint = false;
    char field[48];

    e = savepoint(tx, err);
    if (e)
        goto out;
    in_savepoint = true;

    e = sq_prepare(tx, SQ_SCHEDULE_UPSERT,
                   "INSERT INTO schedules (host_id, timezone, created_utc,"
                   " updated_utc) VALUES (?1, ?2, ?3, ?3)"
                   " ON CONFLICT (host_id) DO UPDATE SET"
                   " timezone = excluded.timezone,"
                   " updated_utc = excluded.updated_utc",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, host_id);
    sq_bind_text(tx, st, 2, s->timezone);
    sq_bind_i64(tx, st, 3, now_utc);
    e = sq_exec(tx, st, NULL, "writing a schedule", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "host %" PRId64 " not found", host_id);
    if (e)
        goto out;
    sq_reset(st);

    e = sq_prepare(tx, SQ_SCHEDULE_CLEAR_WEEKLY,
                   "DELETE FROM schedule_weekly WHERE host_id = ?1", &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, host_id);
    e = sq_exec(tx, st, NULL, "replacing a schedule", err);
    if (e)
        goto out;
    sq_reset(st);

    e = sq_prepare(tx, SQ_SCHEDULE_CLEAR_OVERRIDES,
                   "DELETE FROM schedule_overrides WHERE host_id = ?1", &st,
                   err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, host_id);
    e = sq_exec(tx, st, NULL, "replacing a schedule", err);
    if (e)
        goto out;
    sq_reset(st);

    e = sq_prepare(tx, SQ_SCHEDULE_ADD_WEEKLY,
                   "INSERT INTO schedule_weekly (host_id, day, start_min,"
                   " end_min) VALUES (?1, ?2, ?3, ?4)",
                   &st, err);
    if (e)
        goto out;
    for (size_t i = 0; i < s->n_weekly; i++) {
        const struct bk_weekly_range *w = &s->weekly[i];
        sq_bind_i64(tx, st, 1, host_id);
        sq_bind_i64(tx, st, 2, w->day);
        sq_bind_i64(tx, st, 3, w->start_min);
        sq_bind_i64(tx, st, 4, w->end_min);
        e = sq_exec(tx, st, NULL, "writing a weekly range", err);
        sq_reset(st);
        if (e) {
            snprintf(field, sizeof(field), "weekly[%zu]", i);
            if (err)
                bk_strlcpy(err->field, field, sizeof(err->field));
            goto out;
        }
    }

    e = sq_prepare(tx, SQ_SCHEDULE_ADD_OVERRIDE,
                   "INSERT INTO schedule_overrides (host_id, date, unavailable,"
                   " start_min, end_min) VALUES (?1, ?2, ?3, ?4, ?5)",
                   &st, err);
    if (e)
        goto out;
    for (size_t i = 0; i < s->n_overrides; i++) {
        const struct bk_date_override *o = &s->overrides[i];
        sq_bind_i64(tx, st, 1, host_id);
        sq_bind_i64(tx, st, 2, o->date);
        sq_bind_i64(tx, st, 3, o->unavailable ? 1 : 0);
        sq_bind_i64(tx, st, 4, o->unavailable ? 0 : o->start_min);
        sq_bind_i64(tx, st, 5, o->unavailable ? 0 : o->end_min);
        e = sq_exec(tx, st, NULL, "writing a date override", err);
        sq_reset(st);
        if (e) {
            snprintf(field, sizeof(field), "overrides[%zu]", i);
            if (err)
                bk_strlcpy(err->field, field, sizeof(err->field));
            goto out;
        }
    }
out:
    sq_reset(st);
    if (in_savepoint)
        savepoint_end(tx, e == BK_OK);
    return e;
}

static void read_weekly(sqlite3_stmt *st, struct bk_arena *a,
                        struct bk_weekly_range *w)
{
    w->day = sq_col_int(st, 0);
    w->start_min = sq_col_int(st, 1);
    w->end_min = sq_col_int(st, 2);
}

static void read_override(sqlite3_stmt *st, struct bk_arena *a,
                          struct bk_date_override *o)
{
    o->date = sq_col_i64(st, 0);
    o->unavailable = sq_col_int(st, 1) != 0;
    o->start_min = sq_col_int(st, 2);
    o->end_min = sq_col_int(st, 3);
}

enum bk_err sq_schedule_get(struct bk_tx *t, int64_t host_id,
                            struct bk_arena *arena, struct bk_schedule *out,
                            struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    struct bk_weekly_range *weekly = NULL;
    struct bk_date_override *overrides = NULL;
    size_t n_weekly = 0, n_overrides = 0;
    enum bk_err e;

    memset(out, 0, sizeof(*out));
    e = sq_prepare(tx, SQ_SCHEDULE_GET,
                   "SELECT timezone FROM schedules WHERE host_id = ?1", &st,
                   err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, host_id);
    e = sq_one(tx, st, "reading a schedule", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "host %" PRId64 " has no schedule", host_id);
    if (e)
        goto out;
    out->timezone = sq_col_text(st, 0, arena);
    sq_reset(st);

    e = sq_prepare(tx, SQ_SCHEDULE_WEEKLY,
                   "SELECT day, start_min, end_min FROM schedule_weekly"
                   " WHERE host_id = ?1 ORDER BY day, start_min, end_min, id",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, host_id);
    SQ_READ_ROWS(tx, st, arena, weekly, n_weekly, "reading a schedule", err,
                 read_weekly);
    if (e)
        goto out;
    sq_reset(st);

    e = sq_prepare(tx, SQ_SCHEDULE_OVERRIDES,
                   "SELECT date, unavailable, start_min, end_min"
                   " FROM schedule_overrides WHERE host_id = ?1"
                   " ORDER BY date, start_min, end_min, id",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, host_id);
    SQ_READ_ROWS(tx, st, arena, overrides, n_overrides, "reading a schedule",
                 err, read_override);
    if (e)
        goto out;
    out->weekly = weekly;
    out->n_weekly = n_weekly;
    out->overrides = overrides;
    out->n_overrides = n_overrides;
out:
    sq_reset(st);
    if (e)
        memset(out, 0, sizeof(*out));
    return e;
}

/* ---- Event types ------------------------------------------------------- */

#define ET_COLS                                                                \
    "et.id, et.slug, et.title, et.description, et.host_id, h.slug,"            \
    " et.duration_min, et.interval_min, et.buffer_before_min,"                 \
    " et.buffer_after_min, et.notice_min, et.horizon_days, et.max_per_day,"    \
    " et.alignment, et.price_minor, et.currency, et.location_kind,"            \
    " et.location_value, et.active, et.calcom_event_type_id, et.imported,"     \
    " et.created_utc, et.updated_utc"
#define ET_FROM " FROM event_types et JOIN hosts h ON h.id = et.host_id"

static void read_event_type(sqlite3_stmt *st, struct bk_arena *a,
                            struct bk_event_type *et)
{
    const unsigned char *cur;

    memset(et, 0, sizeof(*et));
    et->id = sq_col_i64(st, 0);
    et->slug = sq_col_text(st, 1, a);
    et->title = sq_col_text(st, 2, a);
    et->description = sq_col_text(st, 3, a);
    et->host_id = sq_col_i64(st, 4);
    et->host_slug = sq_col_text(st, 5, a);
    et->rules.duration_min = sq_col_int(st, 6);
    et->rules.interval_min = sq_col_int(st, 7);
    et->rules.buffer_before_min = sq_col_int(st, 8);
    et->rules.buffer_after_min = sq_col_int(st, 9);
    et->rules.notice_min = sq_col_int(st, 10);
    et->rules.horizon_days = sq_col_int(st, 11);
    et->rules.max_per_day = sq_col_int(st, 12);
    et->rules.alignment = (enum bk_alignment)sq_col_int(st, 13);
    et->has_price = sqlite3_column_type(st, 14) != SQLITE_NULL;
    et->price_minor = sq_col_i64(st, 14);
    cur = sqlite3_column_text(st, 15);
    bk_strlcpy(et->currency, cur ? (const char *)cur : "",
               sizeof(et->currency));
    et->location_kind = (enum bk_location_kind)sq_col_int(st, 16);
    et->location_value = sq_col_text(st, 17, a);
    et->active = sq_col_int(st, 18) != 0;
    et->calcom_event_type_id = sq_col_i64(st, 19);
    et->imported = sq_col_int(st, 20) != 0;
    et->created_utc = sq_col_i64(st, 21);
    et->updated_utc = sq_col_i64(st, 22);
}

/* Binds ?1..?21 as insert and update number them (update leaves out ?1
 * slug and ?20 created_utc). */
static void bind_event_type(struct sq_tx *tx, sqlite3_stmt *st,
                            const struct bk_event_type *et)
{
    size_t cur_len = strnlen(et->currency, sizeof(et->currency) - 1);

    sq_bind_text(tx, st, 1, et->slug);
    sq_bind_text(tx, st, 2, et->title);
    sq_bind_text(tx, st, 3, et->description);
    sq_bind_i64(tx, st, 4, et->host_id);
    sq_bind_i64(tx, st, 5, et->rules.duration_min);
    sq_bind_i64(tx, st, 6, et->rules.interval_min);
    sq_bind_i64(tx, st, 7, et->rules.buffer_before_min);
    sq_bind_i64(tx, st, 8, et->rules.buffer_after_min);
    sq_bind_i64(tx, st, 9, et->rules.notice_min);
    sq_bind_i64(tx, st, 10, et->rules.horizon_days);
    sq_bind_i64(tx, st, 11, et->rules.max_per_day);
    sq_bind_i64(tx, st, 12, et->rules.alignment);
    if (et->has_price)
        sq_bind_i64(tx, st, 13, et->price_minor);
    else
        sq_bind_text(tx, st, 13, NULL);
    if (cur_len)
        sq_bind_textn(tx, st, 14, et->currency, cur_len);
    else
        sq_bind_text(tx, st, 14, NULL);
    sq_bind_i64(tx, st, 15, et->location_kind);
    sq_bind_text(tx, st, 16, et->location_value);
    sq_bind_i64(tx, st, 17, et->active ? 1 : 0);
    sq_bind_opt(tx, st, 18, et->calcom_event_type_id);
    sq_bind_i64(tx, st, 19, et->imported ? 1 : 0);
    sq_bind_i64(tx, st, 20, et->created_utc);
    sq_bind_i64(tx, st, 21, et->updated_utc);
}

enum bk_err sq_event_type_insert(struct bk_tx *t,
                                 const struct bk_event_type *et, int64_t *id,
                                 struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_EVENT_TYPE_INSERT,
                   "INSERT INTO event_types (slug, title, description,"
                   " host_id, duration_min, interval_min, buffer_before_min,"
                   " buffer_after_min, notice_min, horizon_days, max_per_day,"
                   " alignment, price_minor, currency, location_kind,"
                   " location_value, active, calcom_event_type_id, imported,"
                   " created_utc, updated_utc) VALUES (?1, ?2, ?3, ?4, ?5,"
                   " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
                   " ?18, ?19, ?20, ?21)",
                   &st, err);
    if (e)
        goto out;
    bind_event_type(tx, st, et);
    e = sq_exec(tx, st, NULL, "inserting an event type", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "host %" PRId64 " not found", et->host_id);
    if (e == BK_OK)
        *id = sqlite3_last_insert_rowid(tx->conn->db);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_event_type_update(struct bk_tx *t,
                                 const struct bk_event_type *et,
                                 struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = sq_prepare(tx, SQ_EVENT_TYPE_UPDATE,
                   "UPDATE event_types SET title = ?2, description = ?3,"
                   " host_id = ?4, duration_min = ?5, interval_min = ?6,"
                   " buffer_before_min = ?7, buffer_after_min = ?8,"
                   " notice_min = ?9, horizon_days = ?10, max_per_day = ?11,"
                   " alignment = ?12, price_minor = ?13, currency = ?14,"
                   " location_kind = ?15, location_value = ?16, active = ?17,"
                   " calcom_event_type_id = ?18, imported = ?19,"
                   " updated_utc = ?21 WHERE id = ?22",
                   &st, err);
    if (e)
        goto out;
    bind_event_type(tx, st, et);
    sq_bind_i64(tx, st, 22, et->id);
    e = sq_exec(tx, st, &changes, "updating an event type", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "host %" PRId64 " not found", et->host_id);
    else if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "event type %" PRId64 " not found",
                    et->id);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_event_type_delete(struct bk_tx *t, int64_t id,
                                 struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;
    int64_t n_bookings;
    int changes = 0;

    e = sq_prepare(tx, SQ_EVENT_TYPE_REFS,
                   "SELECT count(*) FROM bookings WHERE event_type_id = ?1",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, id);
    e = sq_one(tx, st, "counting an event type's bookings", err);
    if (e)
        goto out;
    n_bookings = sq_col_i64(st, 0);
    sq_reset(st);
    st = NULL;
    if (n_bookings) {
        e = bk_fail(err, BK_E_CONFLICT,
                    "event type %" PRId64 " still has %" PRId64 " bookings", id,
                    n_bookings);
        goto out;
    }

    e = sq_prepare(tx, SQ_EVENT_TYPE_DELETE,
                   "DELETE FROM event_types WHERE id = ?1", &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, id);
    e = sq_exec(tx, st, &changes, "deleting an event type", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, BK_E_CONFLICT,
                    "event type %" PRId64 " is still referred to", id);
    else if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "event type %" PRId64 " not found",
                    id);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_event_type_get(struct bk_tx *t, int64_t id,
                              struct bk_arena *arena, struct bk_event_type *out,
                              struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_EVENT_TYPE_GET,
                   "SELECT " ET_COLS ET_FROM " WHERE et.id = ?1", &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, id);
    e = sq_one(tx, st, "reading an event type", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "event type %" PRId64 " not found", id);
    if (e == BK_OK)
        read_event_type(st, arena, out);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_event_type_by_slug(struct bk_tx *t, const char *slug,
                                  struct bk_arena *arena,
                                  struct bk_event_type *out,
                                  struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_EVENT_TYPE_BY_SLUG,
                   "SELECT " ET_COLS ET_FROM " WHERE et.slug = ?1", &st, err);
    if (e)
        goto out;
    sq_bind_text(tx, st, 1, slug);
    e = sq_one(tx, st, "reading an event type", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no event type with slug %s",
                    slug ? slug : "(null)");
    if (e == BK_OK)
        read_event_type(st, arena, out);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_event_type_by_calcom_id(struct bk_tx *t, int64_t calcom_id,
                                       struct bk_arena *arena,
                                       struct bk_event_type *out,
                                       struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_EVENT_TYPE_BY_CALCOM,
                   "SELECT " ET_COLS ET_FROM
                   " WHERE et.calcom_event_type_id = ?1",
                   &st, err);
    if (e)
        goto out;
    /* 0 is "none" and binds NULL, which matches no row. */
    sq_bind_opt(tx, st, 1, calcom_id);
    e = sq_one(tx, st, "reading an event type", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no event type with Cal.com id %" PRId64,
                    calcom_id);
    if (e == BK_OK)
        read_event_type(st, arena, out);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_event_type_list(struct bk_tx *t, int active,
                               const struct bk_page *page,
                               struct bk_arena *arena,
                               struct bk_event_type **out, size_t *n,
                               struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    struct bk_event_type *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = sq_prepare(tx, SQ_EVENT_TYPE_LIST,
                   "SELECT " ET_COLS ET_FROM " WHERE et.id > ?1"
                   " AND (?2 < 0 OR et.active = ?2) ORDER BY et.id LIMIT ?3",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, page ? page->after_id : 0);
    sq_bind_i64(tx, st, 2, active < 0 ? -1 : active ? 1 : 0);
    sq_bind_i64(tx, st, 3, sq_limit(page ? page->limit : SQ_MAX_LIMIT));
    SQ_READ_ROWS(tx, st, arena, arr, count, "listing event types", err,
                 read_event_type);
out:
    sq_reset(st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

/* ---- Clients ----------------------------------------------------------- */

#define CLIENT_COLS                                                            \
    "id, public_id, email, name, timezone, status, created_utc, updated_utc"

static void read_client(sqlite3_stmt *st, struct bk_arena *a,
                        struct bk_client *c)
{
    memset(c, 0, sizeof(*c));
    c->id = sq_col_i64(st, 0);
    c->public_id = sq_col_text(st, 1, a);
    c->email = sq_col_text(st, 2, a);
    c->name = sq_col_text(st, 3, a);
    c->timezone = sq_col_text(st, 4, a);
    c->status = (enum bk_client_status)sq_col_int(st, 5);
    c->created_utc = sq_col_i64(st, 6);
    c->updated_utc = sq_col_i64(st, 7);
}

enum bk_err sq_client_insert(struct bk_tx *t, const struct bk_client *c,
                             int64_t *id, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_CLIENT_INSERT,
                   "INSERT INTO clients (public_id, email, email_norm, name,"
                   " timezone, status, created_utc, updated_utc)"
                   " VALUES (?1, ?2, lower(?2), ?3, ?4, ?5, ?6, ?7)",
                   &st, err);
    if (e)
        goto out;
    sq_bind_text(tx, st, 1, c->public_id);
    sq_bind_text(tx, st, 2, c->email);
    sq_bind_text(tx, st, 3, c->name);
    sq_bind_text(tx, st, 4, c->timezone);
    sq_bind_i64(tx, st, 5, c->status);
    sq_bind_i64(tx, st, 6, c->created_utc);
    sq_bind_i64(tx, st, 7, c->updated_utc);
    e = sq_exec(tx, st, NULL, "inserting a client", err);
    if (e == BK_OK)
        *id = sqlite3_last_insert_rowid(tx->conn->db);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_client_update(struct bk_tx *t, const struct bk_client *c,
                             struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = sq_prepare(tx, SQ_CLIENT_UPDATE,
                   "UPDATE clients SET email = ?2, email_norm = lower(?2),"
                   " name = ?3, timezone = ?4, status = ?5, updated_utc = ?6"
                   " WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, c->id);
    sq_bind_text(tx, st, 2, c->email);
    sq_bind_text(tx, st, 3, c->name);
    sq_bind_text(tx, st, 4, c->timezone);
    sq_bind_i64(tx, st, 5, c->status);
    sq_bind_i64(tx, st, 6, c->updated_utc);
    e = sq_exec(tx, st, &changes, "updating a client", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "client %" PRId64 " not found", c->id);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_client_get(struct bk_tx *t, int64_t id, struct bk_arena *arena,
                          struct bk_client *out, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_CLIENT_GET,
                   "SELECT " CLIENT_COLS " FROM clients WHERE id = ?1", &st,
                   err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, id);
    e = sq_one(tx, st, "reading a client", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "client %" PRId64 " not found", id);
    if (e == BK_OK)
        read_client(st, arena, out);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_client_by_public_id(struct bk_tx *t, const char *public_id,
                                   struct bk_arena *arena,
                                   struct bk_client *out, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_CLIENT_BY_PUBLIC_ID,
                   "SELECT " CLIENT_COLS " FROM clients WHERE public_id = ?1",
                   &st, err);
    if (e)
        goto out;
    sq_bind_text(tx, st, 1, public_id);
    e = sq_one(tx, st, "reading a client", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "client %s not found",
                    public_id ? public_id : "(null)");
    if (e == BK_OK)
        read_client(st, arena, out);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_client_by_email(struct bk_tx *t, const char *email,
                               struct bk_arena *arena, struct bk_client *out,
                               struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_CLIENT_BY_EMAIL,
                   "SELECT " CLIENT_COLS " FROM clients"
                   " WHERE email_norm = lower(?1)",
                   &st, err);
    if (e)
        goto out;
    sq_bind_text(tx, st, 1, email);
    e = sq_one(tx, st, "reading a client", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no client with email %s",
                    email ? email : "(null)");
    if (e == BK_OK)
        read_client(st, arena, out);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_client_list(struct bk_tx *t, const char *email, int status,
                           const struct bk_page *page, struct bk_arena *arena,
                           struct bk_client **out, size_t *n,
                           struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    struct bk_client *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = sq_prepare(tx, SQ_CLIENT_LIST,
                   "SELECT " CLIENT_COLS " FROM clients WHERE id > ?1"
                   " AND (?2 IS NULL OR email_norm = lower(?2))"
                   " AND (?3 < 0 OR status = ?3) ORDER BY id LIMIT ?4",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, page ? page->after_id : 0);
    sq_bind_text(tx, st, 2, email);
    sq_bind_i64(tx, st, 3, status < 0 ? -1 : status);
    sq_bind_i64(tx, st, 4, sq_limit(page ? page->limit : SQ_MAX_LIMIT));
    SQ_READ_ROWS(tx, st, arena, arr, count, "listing clients", err,
                 read_client);
out:
    sq_reset(st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}
