/* store/catalog.c — settings, hosts, schedules, event types and
 * clients, in SQL both drivers accept: the business's catalog, which bookings
 * refer to. Bookings are in bookings.c, the inbox and jobs in queue.c. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"
#include "store/sql.h"
#include "base/banned.h"

/* ---- Settings ---------------------------------------------------------- */

enum bk_err bk_store_meta_get(struct bk_tx *tx, const char *key,
                              struct bk_arena *arena, const char **value,
                              struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    *value = NULL;
    e = db_prepare(tx, Q_META_GET, "SELECT value FROM meta WHERE key = ?1", &st,
                   err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, key);
    e = db_one(tx, st, "reading a setting", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "setting %s not found", key);
    if (e)
        goto out;
    *value = db_col_text(tx, st, 0, arena);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_meta_put(struct bk_tx *tx, const char *key,
                              const char *value, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_META_PUT,
                   "INSERT INTO meta (key, value) VALUES (?1, ?2)"
                   " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, key);
    db_bind_text(tx, st, 2, value);
    e = db_exec(tx, st, NULL, "writing a setting", err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_meta_read(struct bk_store *store, const char *key,
                               struct bk_arena *arena, const char **value,
                               struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e = bk_store_begin(store, BK_TX_READ, &tx, err);

    *value = NULL;
    if (!e) {
        e = bk_store_meta_get(tx, key, arena, value, err);
        if (e == BK_E_NOT_FOUND)
            e = BK_OK;
    }
    bk_store_rollback(tx);
    if (e)
        *value = NULL;
    return e;
}

static enum bk_err meta_write_once(struct bk_store *store, const char *key,
                                   const char *value, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e = bk_store_begin(store, BK_TX_WRITE, &tx, err);

    if (!e)
        e = bk_store_meta_put(tx, key, value, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

enum bk_err bk_store_meta_write(struct bk_store *store, const char *key,
                                const char *value, struct bk_errbuf *err)
{
    enum bk_err e;

    BK_STORE_RETRY(e, meta_write_once(store, key, value, err));
    return e;
}

enum bk_err bk_store_meta_delete(struct bk_tx *tx, const char *key,
                                 struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_META_DELETE, "DELETE FROM meta WHERE key = ?1", &st,
                   err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, key);
    e = db_exec(tx, st, NULL, "deleting a setting", err);
out:
    db_reset(tx, st);
    return e;
}

/* ---- Hosts ------------------------------------------------------------- */

#define HOST_COLS                                                              \
    "id, slug, name, email, timezone, created_utc, updated_utc, photo_url, "   \
    "bio"

static void read_host(struct bk_tx *tx, struct bk_stmt *st, struct bk_arena *a,
                      struct bk_host *h)
{
    memset(h, 0, sizeof(*h));
    h->id = db_col_i64(tx, st, 0);
    h->slug = db_col_text(tx, st, 1, a);
    h->name = db_col_text(tx, st, 2, a);
    h->email = db_col_text(tx, st, 3, a);
    h->timezone = db_col_text(tx, st, 4, a);
    h->created_utc = db_col_i64(tx, st, 5);
    h->updated_utc = db_col_i64(tx, st, 6);
    h->photo_url = db_col_text(tx, st, 7, a);
    h->bio = db_col_text(tx, st, 8, a);
}

enum bk_err bk_store_host_insert(struct bk_tx *tx, const struct bk_host *h,
                                 int64_t *id, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_HOST_INSERT,
                   "INSERT INTO hosts (slug, name, email, timezone,"
                   " created_utc, updated_utc, photo_url, bio)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, h->slug);
    db_bind_text(tx, st, 2, h->name);
    db_bind_text(tx, st, 3, h->email);
    db_bind_text(tx, st, 4, h->timezone);
    db_bind_i64(tx, st, 5, h->created_utc);
    db_bind_i64(tx, st, 6, h->updated_utc);
    db_bind_text(tx, st, 7, h->photo_url);
    db_bind_text(tx, st, 8, h->bio);
    e = db_insert_id(tx, st, "inserting a host", id, err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_host_update(struct bk_tx *tx, const struct bk_host *h,
                                 struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_HOST_UPDATE,
                   "UPDATE hosts SET name = ?2, email = ?3, timezone = ?4,"
                   " updated_utc = ?5, photo_url = ?6, bio = ?7 WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, h->id);
    db_bind_text(tx, st, 2, h->name);
    db_bind_text(tx, st, 3, h->email);
    db_bind_text(tx, st, 4, h->timezone);
    db_bind_i64(tx, st, 5, h->updated_utc);
    db_bind_text(tx, st, 6, h->photo_url);
    db_bind_text(tx, st, 7, h->bio);
    e = db_exec(tx, st, &changes, "updating a host", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "host %" PRId64 " not found", h->id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_host_delete(struct bk_tx *tx, int64_t id,
                                 struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int64_t n_types, n_bookings;
    int changes = 0;

    /* Count the references first, for a message that says what is in the
     * way; the foreign keys still guard the delete. */
    e = db_prepare(tx, Q_HOST_REFS,
                   "SELECT (SELECT count(*) FROM event_types"
                   "        WHERE host_id = ?1),"
                   "       (SELECT count(*) FROM bookings WHERE host_id = ?1)",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_one(tx, st, "counting a host's references", err);
    if (e)
        goto out;
    n_types = db_col_i64(tx, st, 0);
    n_bookings = db_col_i64(tx, st, 1);
    db_reset(tx, st);
    st = NULL;
    if (n_types || n_bookings) {
        e = bk_fail(err, BK_E_CONFLICT,
                    "host %" PRId64 " still has %" PRId64
                    " event types and %" PRId64 " bookings",
                    id, n_types, n_bookings);
        goto out;
    }

    e = db_prepare(tx, Q_HOST_DELETE, "DELETE FROM hosts WHERE id = ?1", &st,
                   err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_exec(tx, st, &changes, "deleting a host", err);
    if (e == BK_E_NOT_FOUND) /* a foreign key refused the delete */
        e = bk_fail(err, BK_E_CONFLICT, "host %" PRId64 " is still referred to",
                    id);
    else if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "host %" PRId64 " not found", id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_host_get(struct bk_tx *tx, int64_t id,
                              struct bk_arena *arena, struct bk_host *out,
                              struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_HOST_GET,
                   "SELECT " HOST_COLS " FROM hosts WHERE id = ?1", &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_one(tx, st, "reading a host", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "host %" PRId64 " not found", id);
    if (e == BK_OK)
        read_host(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_host_by_slug(struct bk_tx *tx, const char *slug,
                                  struct bk_arena *arena, struct bk_host *out,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_HOST_BY_SLUG,
                   "SELECT " HOST_COLS " FROM hosts WHERE slug = ?1", &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, slug);
    e = db_one(tx, st, "reading a host", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no host with slug %s", slug ? slug : "(null)");
    if (e == BK_OK)
        read_host(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_host_by_email(struct bk_tx *tx, const char *email,
                                   struct bk_arena *arena, struct bk_host *out,
                                   struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_HOST_BY_EMAIL,
                   "SELECT " HOST_COLS " FROM hosts"
                   " WHERE lower(email) = lower(?1)"
                   " ORDER BY created_utc, id LIMIT 1",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, email);
    e = db_one(tx, st, "reading a host", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no host with email %s", email ? email : "(null)");
    if (e == BK_OK)
        read_host(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_host_list(struct bk_tx *tx, const struct bk_page *page,
                               struct bk_arena *arena, struct bk_host **out,
                               size_t *n, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_host *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_HOST_LIST,
                   "SELECT " HOST_COLS " FROM hosts WHERE id > ?1"
                   " ORDER BY id LIMIT ?2",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, page ? page->after_id : 0);
    db_bind_i64(tx, st, 2, db_limit(page ? page->limit : DB_MAX_LIMIT));
    DB_READ_ROWS(tx, st, arena, arr, count, "listing hosts", err, read_host);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

/* ---- Schedules --------------------------------------------------------- */

/* schedule_put runs several statements; a failure breaks the caller's
 * transaction (store/driver.h), which then rolls back: all or nothing. */
enum bk_err bk_store_schedule_put(struct bk_tx *tx, int64_t host_id,
                                  const struct bk_schedule *s, int64_t now_utc,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    char field[48];

    e = db_prepare(tx, Q_SCHEDULE_UPSERT,
                   "INSERT INTO schedules (host_id, timezone, created_utc,"
                   " updated_utc) VALUES (?1, ?2, ?3, ?3)"
                   " ON CONFLICT (host_id) DO UPDATE SET"
                   " timezone = excluded.timezone,"
                   " updated_utc = excluded.updated_utc",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, host_id);
    db_bind_text(tx, st, 2, s->timezone);
    db_bind_i64(tx, st, 3, now_utc);
    e = db_exec(tx, st, NULL, "writing a schedule", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "host %" PRId64 " not found", host_id);
    if (e)
        goto out;
    db_reset(tx, st);

    e = db_prepare(tx, Q_SCHEDULE_CLEAR_WEEKLY,
                   "DELETE FROM schedule_weekly WHERE host_id = ?1", &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, host_id);
    e = db_exec(tx, st, NULL, "replacing a schedule", err);
    if (e)
        goto out;
    db_reset(tx, st);

    e = db_prepare(tx, Q_SCHEDULE_CLEAR_OVERRIDES,
                   "DELETE FROM schedule_overrides WHERE host_id = ?1", &st,
                   err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, host_id);
    e = db_exec(tx, st, NULL, "replacing a schedule", err);
    if (e)
        goto out;
    db_reset(tx, st);

    e = db_prepare(tx, Q_SCHEDULE_ADD_WEEKLY,
                   "INSERT INTO schedule_weekly (host_id, day, start_min,"
                   " end_min) VALUES (?1, ?2, ?3, ?4)",
                   &st, err);
    if (e)
        goto out;
    for (size_t i = 0; i < s->n_weekly; i++) {
        const struct bk_weekly_range *w = &s->weekly[i];
        db_bind_i64(tx, st, 1, host_id);
        db_bind_i64(tx, st, 2, w->day);
        db_bind_i64(tx, st, 3, w->start_min);
        db_bind_i64(tx, st, 4, w->end_min);
        e = db_exec(tx, st, NULL, "writing a weekly range", err);
        db_reset(tx, st);
        if (e) {
            snprintf(field, sizeof(field), "weekly[%zu]", i);
            if (err)
                bk_strlcpy(err->field, field, sizeof(err->field));
            goto out;
        }
    }

    e = db_prepare(tx, Q_SCHEDULE_ADD_OVERRIDE,
                   "INSERT INTO schedule_overrides (host_id, date, unavailable,"
                   " start_min, end_min) VALUES (?1, ?2, ?3, ?4, ?5)",
                   &st, err);
    if (e)
        goto out;
    for (size_t i = 0; i < s->n_overrides; i++) {
        const struct bk_date_override *o = &s->overrides[i];
        db_bind_i64(tx, st, 1, host_id);
        db_bind_i64(tx, st, 2, o->date);
        db_bind_i64(tx, st, 3, o->unavailable ? 1 : 0);
        db_bind_i64(tx, st, 4, o->unavailable ? 0 : o->start_min);
        db_bind_i64(tx, st, 5, o->unavailable ? 0 : o->end_min);
        e = db_exec(tx, st, NULL, "writing a date override", err);
        db_reset(tx, st);
        if (e) {
            snprintf(field, sizeof(field), "overrides[%zu]", i);
            if (err)
                bk_strlcpy(err->field, field, sizeof(err->field));
            goto out;
        }
    }
out:
    db_reset(tx, st);
    return e;
}

static void read_weekly(struct bk_tx *tx, struct bk_stmt *st,
                        struct bk_arena *a, struct bk_weekly_range *w)
{
    w->day = db_col_int(tx, st, 0);
    w->start_min = db_col_int(tx, st, 1);
    w->end_min = db_col_int(tx, st, 2);
}

static void read_override(struct bk_tx *tx, struct bk_stmt *st,
                          struct bk_arena *a, struct bk_date_override *o)
{
    o->date = db_col_i64(tx, st, 0);
    o->unavailable = db_col_int(tx, st, 1) != 0;
    o->start_min = db_col_int(tx, st, 2);
    o->end_min = db_col_int(tx, st, 3);
}

enum bk_err bk_store_schedule_get(struct bk_tx *tx, int64_t host_id,
                                  struct bk_arena *arena,
                                  struct bk_schedule *out,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_weekly_range *weekly = NULL;
    struct bk_date_override *overrides = NULL;
    size_t n_weekly = 0, n_overrides = 0;
    enum bk_err e;

    memset(out, 0, sizeof(*out));
    e = db_prepare(tx, Q_SCHEDULE_GET,
                   "SELECT timezone FROM schedules WHERE host_id = ?1", &st,
                   err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, host_id);
    e = db_one(tx, st, "reading a schedule", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "host %" PRId64 " has no schedule", host_id);
    if (e)
        goto out;
    out->timezone = db_col_text(tx, st, 0, arena);
    db_reset(tx, st);

    e = db_prepare(tx, Q_SCHEDULE_WEEKLY,
                   "SELECT day, start_min, end_min FROM schedule_weekly"
                   " WHERE host_id = ?1 ORDER BY day, start_min, end_min, id",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, host_id);
    DB_READ_ROWS(tx, st, arena, weekly, n_weekly, "reading a schedule", err,
                 read_weekly);
    if (e)
        goto out;
    db_reset(tx, st);

    e = db_prepare(tx, Q_SCHEDULE_OVERRIDES,
                   "SELECT date, unavailable, start_min, end_min"
                   " FROM schedule_overrides WHERE host_id = ?1"
                   " ORDER BY date, start_min, end_min, id",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, host_id);
    DB_READ_ROWS(tx, st, arena, overrides, n_overrides, "reading a schedule",
                 err, read_override);
    if (e)
        goto out;
    out->weekly = weekly;
    out->n_weekly = n_weekly;
    out->overrides = overrides;
    out->n_overrides = n_overrides;
out:
    db_reset(tx, st);
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
    " et.location_value, et.active, et.imported, et.created_utc,"              \
    " et.updated_utc, et.reminders_minutes, et.refund_full_until_hours,"       \
    " et.refund_late_percent, et.questions"
#define ET_FROM " FROM event_types et JOIN hosts h ON h.id = et.host_id"

static void read_event_type(struct bk_tx *tx, struct bk_stmt *st,
                            struct bk_arena *a, struct bk_event_type *et)
{
    const char *cur;

    memset(et, 0, sizeof(*et));
    et->id = db_col_i64(tx, st, 0);
    et->slug = db_col_text(tx, st, 1, a);
    et->title = db_col_text(tx, st, 2, a);
    et->description = db_col_text(tx, st, 3, a);
    et->host_id = db_col_i64(tx, st, 4);
    et->host_slug = db_col_text(tx, st, 5, a);
    et->rules.duration_min = db_col_int(tx, st, 6);
    et->rules.interval_min = db_col_int(tx, st, 7);
    et->rules.buffer_before_min = db_col_int(tx, st, 8);
    et->rules.buffer_after_min = db_col_int(tx, st, 9);
    et->rules.notice_min = db_col_int(tx, st, 10);
    et->rules.horizon_days = db_col_int(tx, st, 11);
    et->rules.max_per_day = db_col_int(tx, st, 12);
    et->rules.alignment = (enum bk_alignment)db_col_int(tx, st, 13);
    et->has_price = !db_col_null(tx, st, 14);
    et->price_minor = db_col_i64(tx, st, 14);
    cur = db_col_text(tx, st, 15, a);
    bk_strlcpy(et->currency, cur ? cur : "", sizeof(et->currency));
    et->location_kind = (enum bk_location_kind)db_col_int(tx, st, 16);
    et->location_value = db_col_text(tx, st, 17, a);
    et->active = db_col_int(tx, st, 18) != 0;
    et->imported = db_col_int(tx, st, 19) != 0;
    et->created_utc = db_col_i64(tx, st, 20);
    et->updated_utc = db_col_i64(tx, st, 21);
    /* Written by bind_event_type only, so well-formed; a row edited by
     * hand into something else reads as no reminders. */
    if (bk_event_type_reminders_parse(et, db_col_text(tx, st, 22, a))) {
        et->n_reminders = 0;
        et->has_reminders = true;
    }
    et->has_refund_policy = true;
    et->refund_full_hours = db_col_int(tx, st, 23);
    et->refund_late_percent = db_col_int(tx, st, 24);
    et->questions = db_col_text(tx, st, 25, a);
}

/* Binds ?1..?21 and ?23..?25 as insert and update number them (update
 * leaves out ?1 slug and ?19 created_utc; ?22 is its id). rem holds the
 * reminders' text until the statement's last step. */
static void bind_event_type(struct bk_tx *tx, struct bk_stmt *st,
                            const struct bk_event_type *et,
                            char rem[BK_REMINDERS_TEXT_MAX])
{
    size_t cur_len = strnlen(et->currency, sizeof(et->currency) - 1);

    db_bind_text(tx, st, 1, et->slug);
    db_bind_text(tx, st, 2, et->title);
    db_bind_text(tx, st, 3, et->description);
    db_bind_i64(tx, st, 4, et->host_id);
    db_bind_i64(tx, st, 5, et->rules.duration_min);
    db_bind_i64(tx, st, 6, et->rules.interval_min);
    db_bind_i64(tx, st, 7, et->rules.buffer_before_min);
    db_bind_i64(tx, st, 8, et->rules.buffer_after_min);
    db_bind_i64(tx, st, 9, et->rules.notice_min);
    db_bind_i64(tx, st, 10, et->rules.horizon_days);
    db_bind_i64(tx, st, 11, et->rules.max_per_day);
    db_bind_i64(tx, st, 12, et->rules.alignment);
    if (et->has_price)
        db_bind_i64(tx, st, 13, et->price_minor);
    else
        db_bind_null(tx, st, 13, BK_BIND_INT);
    if (cur_len)
        db_bind_textn(tx, st, 14, et->currency, cur_len);
    else
        db_bind_text(tx, st, 14, NULL);
    db_bind_i64(tx, st, 15, et->location_kind);
    db_bind_text(tx, st, 16, et->location_value);
    db_bind_i64(tx, st, 17, et->active ? 1 : 0);
    db_bind_i64(tx, st, 18, et->imported ? 1 : 0);
    db_bind_i64(tx, st, 19, et->created_utc);
    db_bind_i64(tx, st, 20, et->updated_utc);
    bk_event_type_reminders_format(et, rem);
    db_bind_text(tx, st, 21, rem);
    db_bind_i64(tx, st, 23,
                et->has_refund_policy ? et->refund_full_hours
                                      : BK_DEFAULT_REFUND_FULL_HOURS);
    db_bind_i64(tx, st, 24,
                et->has_refund_policy ? et->refund_late_percent
                                      : BK_DEFAULT_REFUND_LATE_PERCENT);
    db_bind_text(tx, st, 25, et->questions ? et->questions : "[]");
}

/* An event type's external ids are external links (entity event type, kind
 * BK_LINK_KIND_EVENT_TYPE, one per provider: a partial unique index). They
 * are read with the event type and written by insert and update. */

static void read_external_id(struct bk_tx *tx, struct bk_stmt *st,
                             struct bk_arena *a, struct bk_event_type *et)
{
    const char *provider = db_col_text(tx, st, 1, a);
    const char *id = db_col_text(tx, st, 2, a);

    /* Rows come sorted by provider, so this appends; an event type with
     * more than BK_MAX_EXTERNAL_IDS links (none can be written) keeps the
     * first ones. */
    if (!provider || !id || bk_event_type_external_set(et, provider, id))
        return;
}

/* Fills the external ids of the n event types in ets (ascending ids) from
 * one range query. */
static enum bk_err load_external_ids(struct bk_tx *tx,
                                     struct bk_event_type *ets, size_t n,
                                     struct bk_arena *arena,
                                     struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    size_t j = 0;
    bool row = true;
    enum bk_err e;

    for (size_t i = 0; i < n; i++)
        ets[i].n_external_ids = 0;
    if (!n)
        return BK_OK;
    e = db_prepare(tx, Q_EVENT_TYPE_LINKS,
                   "SELECT entity_id, provider, external_id FROM external_links"
                   " WHERE entity = ?1 AND kind = ?2"
                   " AND entity_id BETWEEN ?3 AND ?4"
                   " ORDER BY entity_id, provider",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, BK_LINK_EVENT_TYPE);
    db_bind_text(tx, st, 2, BK_LINK_KIND_EVENT_TYPE);
    db_bind_i64(tx, st, 3, ets[0].id);
    db_bind_i64(tx, st, 4, ets[n - 1].id);
    for (;;) {
        int64_t id;
        e = db_step(tx, st, &row, "reading event types' external ids", err);
        if (e || !row)
            break;
        id = db_col_i64(tx, st, 0);
        while (j < n && ets[j].id < id)
            j++;
        if (j < n && ets[j].id == id)
            read_external_id(tx, st, arena, &ets[j]);
    }
out:
    db_reset(tx, st);
    return e;
}

static enum bk_err delete_external_id(struct bk_tx *tx, int64_t et_id,
                                      const char *provider,
                                      struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    /* provider NULL: every one of the event type. */
    e = db_prepare(tx, Q_EVENT_TYPE_LINK_DELETE,
                   "DELETE FROM external_links WHERE entity = ?1 AND kind = ?2"
                   " AND entity_id = ?3 AND (?4 IS NULL OR provider = ?4)",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, BK_LINK_EVENT_TYPE);
    db_bind_text(tx, st, 2, BK_LINK_KIND_EVENT_TYPE);
    db_bind_i64(tx, st, 3, et_id);
    db_bind_text(tx, st, 4, provider);
    e = db_exec(tx, st, NULL, "removing an event type's external id", err);
out:
    db_reset(tx, st);
    return e;
}

/* Makes the stored external ids of et->id those of et: removed and changed
 * ones are deleted, new ones inserted. BK_E_CONFLICT when an id is mapped
 * to another event type already. */
static enum bk_err write_external_ids(struct bk_tx *tx,
                                      const struct bk_event_type *et,
                                      struct bk_errbuf *err)
{
    struct bk_arena arena;
    struct bk_event_type cur;
    enum bk_err e;

    bk_arena_init(&arena);
    memset(&cur, 0, sizeof(cur));
    cur.id = et->id;
    e = load_external_ids(tx, &cur, 1, &arena, err);
    for (size_t i = 0; !e && i < cur.n_external_ids; i++) {
        const struct bk_external_id *x = &cur.external_ids[i];
        const char *want = bk_event_type_external_id(et, x->provider);
        if (!want || strcmp(want, x->id) != 0)
            e = delete_external_id(tx, et->id, x->provider, err);
    }
    for (size_t i = 0; !e && i < et->n_external_ids; i++) {
        const struct bk_external_id *x = &et->external_ids[i];
        const char *had = bk_event_type_external_id(&cur, x->provider);
        struct bk_link l, got;
        struct bk_event_type other;
        bool existed = false;

        if (had && strcmp(had, x->id) == 0)
            continue;
        memset(&l, 0, sizeof(l));
        l.entity = BK_LINK_EVENT_TYPE;
        l.entity_id = et->id;
        l.provider = x->provider;
        l.kind = BK_LINK_KIND_EVENT_TYPE;
        l.external_id = x->id;
        l.created_utc = et->updated_utc;
        e = bk_store_link_put(tx, &l, &arena, &got, &existed, err);
        if (e || !existed)
            continue;
        if (got.entity == BK_LINK_EVENT_TYPE && got.entity_id == et->id)
            continue;
        e = bk_store_event_type_get(tx, got.entity_id, &arena, &other, err);
        if (e == BK_OK || e == BK_E_NOT_FOUND)
            e = bk_fail_field(
                err, BK_E_CONFLICT, "external_ids",
                "%s id '%s' is mapped to event type '%s' already; remove it "
                "there first",
                x->provider, x->id, e == BK_OK ? other.slug : "(deleted)");
    }
    bk_arena_release(&arena);
    return e;
}

enum bk_err bk_store_event_type_insert(struct bk_tx *tx,
                                       const struct bk_event_type *et,
                                       int64_t *id, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    char rem[BK_REMINDERS_TEXT_MAX];
    enum bk_err e;

    e = db_prepare(tx, Q_EVENT_TYPE_INSERT,
                   "INSERT INTO event_types (slug, title, description,"
                   " host_id, duration_min, interval_min, buffer_before_min,"
                   " buffer_after_min, notice_min, horizon_days, max_per_day,"
                   " alignment, price_minor, currency, location_kind,"
                   " location_value, active, imported, created_utc,"
                   " updated_utc, reminders_minutes, refund_full_until_hours,"
                   " refund_late_percent, questions) VALUES (?1, ?2, ?3, ?4,"
                   " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
                   " ?17, ?18, ?19, ?20, ?21, ?23, ?24, ?25)"
                   " RETURNING id",
                   &st, err);
    if (e)
        goto out;
    bind_event_type(tx, st, et, rem);
    db_bind_i64(tx, st, 22, 0); /* update's id: typed, unused here */
    e = db_insert_id(tx, st, "inserting an event type", id, err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "host %" PRId64 " not found", et->host_id);
    db_reset(tx, st);
    st = NULL;
    if (e == BK_OK && et->n_external_ids) {
        struct bk_event_type with_id = *et;
        with_id.id = *id;
        e = write_external_ids(tx, &with_id, err);
    }
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_event_type_update(struct bk_tx *tx,
                                       const struct bk_event_type *et,
                                       struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    char rem[BK_REMINDERS_TEXT_MAX];
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_EVENT_TYPE_UPDATE,
                   "UPDATE event_types SET title = ?2, description = ?3,"
                   " host_id = ?4, duration_min = ?5, interval_min = ?6,"
                   " buffer_before_min = ?7, buffer_after_min = ?8,"
                   " notice_min = ?9, horizon_days = ?10, max_per_day = ?11,"
                   " alignment = ?12, price_minor = ?13, currency = ?14,"
                   " location_kind = ?15, location_value = ?16, active = ?17,"
                   " imported = ?18, updated_utc = ?20,"
                   " reminders_minutes = ?21, refund_full_until_hours = ?23,"
                   " refund_late_percent = ?24, questions = ?25 WHERE id = ?22",
                   &st, err);
    if (e)
        goto out;
    bind_event_type(tx, st, et, rem);
    db_bind_i64(tx, st, 22, et->id);
    e = db_exec(tx, st, &changes, "updating an event type", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "host %" PRId64 " not found", et->host_id);
    else if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "event type %" PRId64 " not found",
                    et->id);
    if (e == BK_OK)
        e = write_external_ids(tx, et, err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_event_type_delete(struct bk_tx *tx, int64_t id,
                                       struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int64_t n_bookings;
    int changes = 0;

    e = db_prepare(tx, Q_EVENT_TYPE_REFS,
                   "SELECT count(*) FROM bookings WHERE event_type_id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_one(tx, st, "counting an event type's bookings", err);
    if (e)
        goto out;
    n_bookings = db_col_i64(tx, st, 0);
    db_reset(tx, st);
    st = NULL;
    if (n_bookings) {
        e = bk_fail(err, BK_E_CONFLICT,
                    "event type %" PRId64 " still has %" PRId64 " bookings", id,
                    n_bookings);
        goto out;
    }

    e = db_prepare(tx, Q_EVENT_TYPE_DELETE,
                   "DELETE FROM event_types WHERE id = ?1", &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_exec(tx, st, &changes, "deleting an event type", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, BK_E_CONFLICT,
                    "event type %" PRId64 " is still referred to", id);
    else if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "event type %" PRId64 " not found",
                    id);
    if (e == BK_OK)
        e = delete_external_id(tx, id, NULL, err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_event_type_get(struct bk_tx *tx, int64_t id,
                                    struct bk_arena *arena,
                                    struct bk_event_type *out,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_EVENT_TYPE_GET,
                   "SELECT " ET_COLS ET_FROM " WHERE et.id = ?1", &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_one(tx, st, "reading an event type", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "event type %" PRId64 " not found", id);
    if (e == BK_OK)
        read_event_type(tx, st, arena, out);
    db_reset(tx, st);
    st = NULL;
    if (e == BK_OK)
        e = load_external_ids(tx, out, 1, arena, err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_event_type_by_slug(struct bk_tx *tx, const char *slug,
                                        struct bk_arena *arena,
                                        struct bk_event_type *out,
                                        struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_EVENT_TYPE_BY_SLUG,
                   "SELECT " ET_COLS ET_FROM " WHERE et.slug = ?1", &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, slug);
    e = db_one(tx, st, "reading an event type", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no event type with slug %s",
                    slug ? slug : "(null)");
    if (e == BK_OK)
        read_event_type(tx, st, arena, out);
    db_reset(tx, st);
    st = NULL;
    if (e == BK_OK)
        e = load_external_ids(tx, out, 1, arena, err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_event_type_by_external(
    struct bk_tx *tx, const char *provider, const char *external_id,
    struct bk_arena *arena, struct bk_event_type *out, struct bk_errbuf *err)
{
    struct bk_link l;
    enum bk_err e;

    e = bk_store_link_find(tx, provider, BK_LINK_KIND_EVENT_TYPE, external_id,
                           arena, &l, err);
    if (e == BK_OK && l.entity != BK_LINK_EVENT_TYPE)
        e = bk_fail(err, BK_E_INTERNAL, "link %s %s is not an event type's",
                    provider, external_id);
    if (e == BK_OK)
        e = bk_store_event_type_get(tx, l.entity_id, arena, out, err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no event type with %s id %s",
                    provider ? provider : "(null)",
                    external_id ? external_id : "(null)");
    return e;
}

enum bk_err bk_store_event_type_list(struct bk_tx *tx, int active,
                                     const struct bk_page *page,
                                     struct bk_arena *arena,
                                     struct bk_event_type **out, size_t *n,
                                     struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_event_type *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_EVENT_TYPE_LIST,
                   "SELECT " ET_COLS ET_FROM " WHERE et.id > ?1"
                   " AND (?2 < 0 OR et.active = ?2) ORDER BY et.id LIMIT ?3",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, page ? page->after_id : 0);
    db_bind_i64(tx, st, 2, active < 0 ? -1 : active ? 1 : 0);
    db_bind_i64(tx, st, 3, db_limit(page ? page->limit : DB_MAX_LIMIT));
    DB_READ_ROWS(tx, st, arena, arr, count, "listing event types", err,
                 read_event_type);
    db_reset(tx, st);
    st = NULL;
    if (e == BK_OK)
        e = load_external_ids(tx, arr, count, arena, err);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

/* ---- Clients ----------------------------------------------------------- */

#define CLIENT_COLS                                                            \
    "id, public_id, email, name, timezone, status, created_utc, updated_utc,"  \
    " phone, notes"

static void read_client(struct bk_tx *tx, struct bk_stmt *st,
                        struct bk_arena *a, struct bk_client *c)
{
    memset(c, 0, sizeof(*c));
    c->id = db_col_i64(tx, st, 0);
    c->public_id = db_col_text(tx, st, 1, a);
    c->email = db_col_text(tx, st, 2, a);
    c->name = db_col_text(tx, st, 3, a);
    c->timezone = db_col_text(tx, st, 4, a);
    c->status = (enum bk_client_status)db_col_int(tx, st, 5);
    c->created_utc = db_col_i64(tx, st, 6);
    c->updated_utc = db_col_i64(tx, st, 7);
    c->phone = db_col_text(tx, st, 8, a);
    c->notes = db_col_text(tx, st, 9, a);
}

enum bk_err bk_store_client_insert(struct bk_tx *tx, const struct bk_client *c,
                                   int64_t *id, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(
        tx, Q_CLIENT_INSERT,
        "INSERT INTO clients (public_id, email, email_norm, name,"
        " timezone, status, created_utc, updated_utc, phone, notes)"
        " VALUES (?1, ?2, lower(?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
        &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, c->public_id);
    db_bind_text(tx, st, 2, c->email);
    db_bind_text(tx, st, 3, c->name);
    db_bind_text(tx, st, 4, c->timezone);
    db_bind_i64(tx, st, 5, c->status);
    db_bind_i64(tx, st, 6, c->created_utc);
    db_bind_i64(tx, st, 7, c->updated_utc);
    db_bind_text(tx, st, 8, c->phone);
    db_bind_text(tx, st, 9, c->notes);
    e = db_insert_id(tx, st, "inserting a client", id, err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_client_update(struct bk_tx *tx, const struct bk_client *c,
                                   struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_CLIENT_UPDATE,
                   "UPDATE clients SET email = ?2, email_norm = lower(?2),"
                   " name = ?3, timezone = ?4, status = ?5, updated_utc = ?6,"
                   " phone = ?7, notes = ?8 WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, c->id);
    db_bind_text(tx, st, 2, c->email);
    db_bind_text(tx, st, 3, c->name);
    db_bind_text(tx, st, 4, c->timezone);
    db_bind_i64(tx, st, 5, c->status);
    db_bind_i64(tx, st, 6, c->updated_utc);
    db_bind_text(tx, st, 7, c->phone);
    db_bind_text(tx, st, 8, c->notes);
    e = db_exec(tx, st, &changes, "updating a client", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "client %" PRId64 " not found", c->id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_client_lock(struct bk_tx *tx, int64_t id,
                                 struct bk_errbuf *err)
{
    return DB_LOCK_ROW(tx, Q_CLIENT_LOCK, "clients", "client", id, err);
}

enum bk_err bk_store_client_get(struct bk_tx *tx, int64_t id,
                                struct bk_arena *arena, struct bk_client *out,
                                struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_CLIENT_GET,
                   "SELECT " CLIENT_COLS " FROM clients WHERE id = ?1", &st,
                   err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_one(tx, st, "reading a client", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "client %" PRId64 " not found", id);
    if (e == BK_OK)
        read_client(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_client_by_public_id(struct bk_tx *tx,
                                         const char *public_id,
                                         struct bk_arena *arena,
                                         struct bk_client *out,
                                         struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_CLIENT_BY_PUBLIC_ID,
                   "SELECT " CLIENT_COLS " FROM clients WHERE public_id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, public_id);
    e = db_one(tx, st, "reading a client", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "client %s not found",
                    public_id ? public_id : "(null)");
    if (e == BK_OK)
        read_client(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_client_by_email(struct bk_tx *tx, const char *email,
                                     struct bk_arena *arena,
                                     struct bk_client *out,
                                     struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_CLIENT_BY_EMAIL,
                   "SELECT " CLIENT_COLS " FROM clients"
                   " WHERE email_norm = lower(?1)",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, email);
    e = db_one(tx, st, "reading a client", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no client with email %s",
                    email ? email : "(null)");
    if (e == BK_OK)
        read_client(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_client_upsert(struct bk_tx *tx, const struct bk_client *c,
                                   struct bk_arena *arena,
                                   struct bk_client *out, bool *created,
                                   struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    bool row = false;
    int64_t id = 0;

    *created = false;
    /* One statement decides: no read-then-insert race on any database. */
    e = db_prepare(tx, Q_CLIENT_UPSERT,
                   "INSERT INTO clients (public_id, email, email_norm, name,"
                   " timezone, status, created_utc, updated_utc, phone, notes)"
                   " VALUES (?1, ?2, lower(?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                   " ON CONFLICT (email_norm) DO NOTHING RETURNING id",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, c->public_id);
    db_bind_text(tx, st, 2, c->email);
    db_bind_text(tx, st, 3, c->name);
    db_bind_text(tx, st, 4, c->timezone);
    db_bind_i64(tx, st, 5, c->status);
    db_bind_i64(tx, st, 6, c->created_utc);
    db_bind_i64(tx, st, 7, c->updated_utc);
    db_bind_text(tx, st, 8, c->phone);
    db_bind_text(tx, st, 9, c->notes);
    e = db_step(tx, st, &row, "inserting a client", err);
    if (e)
        goto out;
    if (row)
        id = db_col_i64(tx, st, 0);
    e = db_exec(tx, st, NULL, "inserting a client", err);
    db_reset(tx, st);
    st = NULL;
    if (e)
        goto out;
    *created = row;
    e = row ? bk_store_client_get(tx, id, arena, out, err)
            : bk_store_client_by_email(tx, c->email, arena, out, err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_client_list(struct bk_tx *tx, const char *email,
                                 int status, const struct bk_page *page,
                                 struct bk_arena *arena, struct bk_client **out,
                                 size_t *n, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_client *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_CLIENT_LIST,
                   "SELECT " CLIENT_COLS " FROM clients WHERE id > ?1"
                   " AND (?2 IS NULL OR email_norm = lower(?2))"
                   " AND (?3 < 0 OR status = ?3) ORDER BY id LIMIT ?4",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, page ? page->after_id : 0);
    db_bind_text(tx, st, 2, email);
    db_bind_i64(tx, st, 3, status < 0 ? -1 : status);
    db_bind_i64(tx, st, 4, db_limit(page ? page->limit : DB_MAX_LIMIT));
    DB_READ_ROWS(tx, st, arena, arr, count, "listing clients", err,
                 read_client);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

enum bk_err bk_store_client_dormant(struct bk_tx *tx, int64_t cutoff_utc,
                                    int64_t after_id, int limit,
                                    struct bk_arena *arena,
                                    struct bk_client **out, size_t *n,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_client *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_CLIENT_DORMANT,
                   "SELECT " CLIENT_COLS " FROM clients WHERE id > ?1"
                   " AND status = ?2 AND created_utc < ?3 AND NOT EXISTS"
                   " (SELECT 1 FROM bookings b WHERE b.client_id = clients.id"
                   " AND (b.created_utc >= ?3 OR b.start_utc >= ?3))"
                   " ORDER BY id LIMIT ?4",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, after_id);
    db_bind_i64(tx, st, 2, BK_CLIENT_ACTIVE);
    db_bind_i64(tx, st, 3, cutoff_utc);
    db_bind_i64(tx, st, 4, db_limit(limit));
    DB_READ_ROWS(tx, st, arena, arr, count, "listing dormant clients", err,
                 read_client);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}
