/* store/packages.c — packages of sessions and their event types (store.h
 * "Packages of sessions"), in SQL both drivers accept. */
#include <inttypes.h>
#include <string.h>

#include "store/sql.h"
#include "base/str.h"
#include "base/banned.h"

enum bk_err bk_store_package_insert(struct bk_tx *tx,
                                    const struct bk_package *p, int64_t *id,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_PACKAGE_INSERT,
                   "INSERT INTO packages (slug, name, sessions, price_minor,"
                   " currency, valid_days, active, created_utc, updated_utc)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, p->slug);
    db_bind_text(tx, st, 2, p->name);
    db_bind_i64(tx, st, 3, p->sessions);
    db_bind_i64(tx, st, 4, p->price_minor);
    db_bind_text(tx, st, 5, p->currency);
    db_bind_i64(tx, st, 6, p->valid_days);
    db_bind_i64(tx, st, 7, p->active ? 1 : 0);
    db_bind_i64(tx, st, 8, p->created_utc);
    db_bind_i64(tx, st, 9, p->updated_utc);
    e = db_one(tx, st, "inserting a package", err);
    if (e == BK_E_DUPLICATE)
        e = bk_fail_field(err, e, "slug", "a package '%s' exists", p->slug);
    else if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, BK_E_INTERNAL, "a package insert returned no id");
    if (!e)
        *id = db_col_i64(tx, st, 0);
    db_reset(tx, st);
    st = NULL;
    for (int i = 0; !e && i < p->n_event_types; i++) {
        e = db_prepare(tx, Q_PACKAGE_ET_INSERT,
                       "INSERT INTO package_event_types (package_id,"
                       " event_type_id) VALUES (?1, ?2)",
                       &st, err);
        if (e)
            break;
        db_bind_i64(tx, st, 1, *id);
        db_bind_i64(tx, st, 2, p->event_type_ids[i]);
        e = db_exec(tx, st, NULL, "linking a package's event type", err);
        db_reset(tx, st);
        st = NULL;
    }
out:
    db_reset(tx, st);
    return e;
}

static void read_package(struct bk_tx *tx, struct bk_stmt *st,
                         struct bk_arena *a, struct bk_package *p)
{
    const char *cur;

    memset(p, 0, sizeof(*p));
    p->id = db_col_i64(tx, st, 0);
    p->slug = db_col_text(tx, st, 1, a);
    p->name = db_col_text(tx, st, 2, a);
    p->sessions = db_col_int(tx, st, 3);
    p->price_minor = db_col_i64(tx, st, 4);
    cur = db_col_text(tx, st, 5, a);
    bk_strlcpy(p->currency, cur ? cur : "", sizeof(p->currency));
    p->valid_days = db_col_int(tx, st, 6);
    p->active = db_col_int(tx, st, 7) != 0;
    p->created_utc = db_col_i64(tx, st, 8);
    p->updated_utc = db_col_i64(tx, st, 9);
}

static enum bk_err read_event_types(struct bk_tx *tx, struct bk_package *p,
                                    struct bk_arena *arena,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    bool row = true;
    enum bk_err e;

    e = db_prepare(tx, Q_PACKAGE_ET_LIST,
                   "SELECT et.id, et.slug FROM package_event_types pe"
                   " JOIN event_types et ON et.id = pe.event_type_id"
                   " WHERE pe.package_id = ?1 ORDER BY et.slug",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, p->id);
    while (!e) {
        e = db_step(tx, st, &row, "reading a package's event types", err);
        if (e || !row || p->n_event_types >= BK_MAX_PACKAGE_EVENT_TYPES)
            break;
        p->event_type_ids[p->n_event_types] = db_col_i64(tx, st, 0);
        p->event_type_slugs[p->n_event_types] = db_col_text(tx, st, 1, arena);
        p->n_event_types++;
    }
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_package_list(struct bk_tx *tx, bool active_only,
                                  const char *slug, int64_t after_id, int limit,
                                  struct bk_arena *arena,
                                  struct bk_package **out, size_t *n,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_package *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_PACKAGE_LIST,
                   "SELECT id, slug, name, sessions, price_minor, currency,"
                   " valid_days, active, created_utc, updated_utc"
                   " FROM packages WHERE (?1 = 0 OR active = 1)"
                   " AND (?2 IS NULL OR slug = ?2) AND id > ?4"
                   " ORDER BY id LIMIT ?3",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, active_only ? 1 : 0);
    if (slug)
        db_bind_text(tx, st, 2, slug);
    else
        db_bind_null(tx, st, 2, BK_BIND_TEXT);
    db_bind_i64(tx, st, 3, db_limit(limit));
    db_bind_i64(tx, st, 4, after_id);
    DB_READ_ROWS(tx, st, arena, arr, count, "listing packages", err,
                 read_package);
    db_reset(tx, st);
    st = NULL;
    for (size_t i = 0; !e && i < count; i++)
        e = read_event_types(tx, &arr[i], arena, err);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}
