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

/* ---- Purchases and credits ---------------------------------------------- */

#define PURCHASE_COLS                                                          \
    "p.id, p.uid, p.package_id, k.slug, k.name, p.client_id, c.public_id,"     \
    " p.attendee_name, p.attendee_email, p.sessions, p.valid_days,"            \
    " p.amount_minor, p.currency, p.status, p.session_id, p.checkout_url,"     \
    " p.session_expires_utc, p.payment_intent, p.last_error, "                 \
    "p.invoice_number,"                                                        \
    " p.paid_utc, p.credits_expire_utc, p.created_utc, p.updated_utc"
#define PURCHASE_FROM                                                          \
    " FROM package_purchases p JOIN packages k ON k.id = p.package_id"         \
    " JOIN clients c ON c.id = p.client_id"
#define PURCHASE_NCOLS 24

static void read_purchase(struct bk_tx *tx, struct bk_stmt *st,
                          struct bk_arena *a, struct bk_package_purchase *p)
{
    const char *cur;

    memset(p, 0, sizeof(*p));
    p->id = db_col_i64(tx, st, 0);
    p->uid = db_col_text(tx, st, 1, a);
    p->package_id = db_col_i64(tx, st, 2);
    p->package_slug = db_col_text(tx, st, 3, a);
    p->package_name = db_col_text(tx, st, 4, a);
    p->client_id = db_col_i64(tx, st, 5);
    p->client_public_id = db_col_text(tx, st, 6, a);
    p->attendee_name = db_col_text(tx, st, 7, a);
    p->attendee_email = db_col_text(tx, st, 8, a);
    p->sessions = db_col_int(tx, st, 9);
    p->valid_days = db_col_int(tx, st, 10);
    p->amount_minor = db_col_i64(tx, st, 11);
    cur = db_col_text(tx, st, 12, a);
    bk_strlcpy(p->currency, cur ? cur : "", sizeof(p->currency));
    p->status = (enum bk_purchase_status)db_col_int(tx, st, 13);
    p->session_id = db_col_text(tx, st, 14, a);
    p->checkout_url = db_col_text(tx, st, 15, a);
    p->session_expires_utc = db_col_i64(tx, st, 16);
    p->payment_intent = db_col_text(tx, st, 17, a);
    p->last_error = db_col_text(tx, st, 18, a);
    p->invoice_number = db_col_text(tx, st, 19, a);
    p->paid_utc = db_col_i64(tx, st, 20);
    p->credits_expire_utc = db_col_i64(tx, st, 21);
    p->created_utc = db_col_i64(tx, st, 22);
    p->updated_utc = db_col_i64(tx, st, 23);
}

enum bk_err bk_store_purchase_insert(struct bk_tx *tx,
                                     const struct bk_package_purchase *p,
                                     int64_t *id, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_PURCHASE_INSERT,
                   "INSERT INTO package_purchases (uid, package_id, client_id,"
                   " attendee_name, attendee_email, sessions, valid_days,"
                   " amount_minor, currency, status, session_expires_utc,"
                   " created_utc, updated_utc)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                   " ?12, ?13) RETURNING id",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, p->uid);
    db_bind_i64(tx, st, 2, p->package_id);
    db_bind_i64(tx, st, 3, p->client_id);
    db_bind_text(tx, st, 4, p->attendee_name);
    db_bind_text(tx, st, 5, p->attendee_email);
    db_bind_i64(tx, st, 6, p->sessions);
    db_bind_i64(tx, st, 7, p->valid_days);
    db_bind_i64(tx, st, 8, p->amount_minor);
    db_bind_text(tx, st, 9, p->currency);
    db_bind_i64(tx, st, 10, (int64_t)p->status);
    db_bind_i64(tx, st, 11, p->session_expires_utc);
    db_bind_i64(tx, st, 12, p->created_utc);
    db_bind_i64(tx, st, 13, p->updated_utc);
    e = db_insert_id(tx, st, "inserting a package purchase", id, err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_purchase_update(struct bk_tx *tx,
                                     const struct bk_package_purchase *p,
                                     struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    int changes = 0;
    enum bk_err e;

    e = db_prepare(
        tx, Q_PURCHASE_UPDATE,
        "UPDATE package_purchases SET status = ?2, session_id = ?3,"
        " checkout_url = ?4, payment_intent = ?5, last_error = ?6,"
        " invoice_number = ?7, paid_utc = ?8, credits_expire_utc = ?9,"
        " updated_utc = ?10 WHERE id = ?1",
        &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, p->id);
    db_bind_i64(tx, st, 2, (int64_t)p->status);
    db_bind_text(tx, st, 3, p->session_id);
    db_bind_text(tx, st, 4, p->checkout_url);
    db_bind_text(tx, st, 5, p->payment_intent);
    db_bind_text(tx, st, 6, p->last_error);
    db_bind_text(tx, st, 7, p->invoice_number);
    db_bind_opt(tx, st, 8, p->paid_utc);
    db_bind_opt(tx, st, 9, p->credits_expire_utc);
    db_bind_i64(tx, st, 10, p->updated_utc);
    e = db_exec(tx, st, &changes, "updating a package purchase", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "no package purchase %" PRId64, p->id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_purchase_get(struct bk_tx *tx, const char *uid, int64_t id,
                                  struct bk_arena *arena,
                                  struct bk_package_purchase *out,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e = db_get_by_key(
        tx, uid, id, "package purchase", Q_PURCHASE_BY_UID,
        "SELECT " PURCHASE_COLS PURCHASE_FROM " WHERE p.uid = ?1",
        Q_PURCHASE_BY_ID,
        "SELECT " PURCHASE_COLS PURCHASE_FROM " WHERE p.id = ?1", &st, err);

    if (!e)
        read_purchase(tx, st, arena, out);
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_purchase_lock(struct bk_tx *tx, int64_t id,
                                   struct bk_errbuf *err)
{
    return DB_LOCK_ROW(tx, Q_PURCHASE_LOCK, "package_purchases",
                       "package purchase", id, err);
}

enum bk_err bk_store_credit_grant(struct bk_tx *tx, int64_t purchase_id,
                                  int64_t client_id, int n, int64_t expires_utc,
                                  int64_t now_utc, struct bk_errbuf *err)
{
    enum bk_err e = BK_OK;

    for (int i = 0; !e && i < n; i++) {
        struct bk_stmt *st = NULL;

        e = db_prepare(tx, Q_CREDIT_GRANT,
                       "INSERT INTO package_credits (purchase_id, client_id,"
                       " status, expires_utc, updated_utc)"
                       " VALUES (?1, ?2, 0, ?3, ?4)",
                       &st, err);
        if (!e) {
            db_bind_i64(tx, st, 1, purchase_id);
            db_bind_i64(tx, st, 2, client_id);
            db_bind_i64(tx, st, 3, expires_utc);
            db_bind_i64(tx, st, 4, now_utc);
            e = db_exec(tx, st, NULL, "granting a package credit", err);
        }
        db_reset(tx, st);
    }
    return e;
}

enum bk_err bk_store_credit_take(struct bk_tx *tx, int64_t purchase_id,
                                 int64_t booking_id, int64_t now_utc,
                                 int64_t *credit_id, struct bk_errbuf *err)
{
    enum bk_err e = BK_E_NOT_FOUND;

    /* On PostgreSQL (READ COMMITTED) a concurrent taker of the same row
     * waits for its lock, then finds status = 1 and changes nothing; the
     * next try is a new statement that sees that commit and picks the
     * next credit, if any is left. SQLite's writers are serialized. */
    for (int i = 0; i < 4 && e == BK_E_NOT_FOUND; i++) {
        struct bk_stmt *st = NULL;

        e = db_prepare(tx, Q_CREDIT_TAKE,
                       "UPDATE package_credits SET status = 1, booking_id = ?2,"
                       " used_utc = ?3, updated_utc = ?3"
                       " WHERE id = (SELECT id FROM package_credits WHERE"
                       " purchase_id = ?1 AND status = 0 AND expires_utc > ?3"
                       " ORDER BY expires_utc, id LIMIT 1) AND status = 0"
                       " RETURNING id",
                       &st, err);
        if (!e) {
            db_bind_i64(tx, st, 1, purchase_id);
            db_bind_i64(tx, st, 2, booking_id);
            db_bind_i64(tx, st, 3, now_utc);
            e = db_one(tx, st, "taking a package credit", err);
            if (!e)
                *credit_id = db_col_i64(tx, st, 0);
        }
        db_reset(tx, st);
    }
    return e;
}

enum bk_err bk_store_credit_of_booking(struct bk_tx *tx, int64_t booking_id,
                                       int64_t *credit_id, int64_t *purchase_id,
                                       int64_t *expires_utc,
                                       struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e = db_prepare(tx, Q_CREDIT_OF_BOOKING,
                               "SELECT id, purchase_id, expires_utc FROM"
                               " package_credits WHERE booking_id = ?1",
                               &st, err);

    if (!e) {
        db_bind_i64(tx, st, 1, booking_id);
        e = db_one(tx, st, "reading a booking's credit", err);
    }
    if (!e) {
        *credit_id = db_col_i64(tx, st, 0);
        *purchase_id = db_col_i64(tx, st, 1);
        *expires_utc = db_col_i64(tx, st, 2);
    }
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_credit_return(struct bk_tx *tx, int64_t credit_id,
                                   int64_t now_utc, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e = db_prepare(
        tx, Q_CREDIT_RETURN,
        "UPDATE package_credits SET booking_id = NULL, used_utc = NULL,"
        " status = CASE WHEN expires_utc > ?2 THEN 0 ELSE 2 END,"
        " updated_utc = ?2 WHERE id = ?1",
        &st, err);

    if (!e) {
        db_bind_i64(tx, st, 1, credit_id);
        db_bind_i64(tx, st, 2, now_utc);
        e = db_exec(tx, st, NULL, "returning a package credit", err);
    }
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_credit_expire(struct bk_tx *tx, int64_t now_utc, int *n,
                                   int *left, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e = db_prepare(tx, Q_CREDIT_EXPIRE,
                               "UPDATE package_credits SET status = 2,"
                               " updated_utc = ?1 WHERE status = 0"
                               " AND expires_utc <= ?1",
                               &st, err);

    *n = 0;
    if (!e) {
        db_bind_i64(tx, st, 1, now_utc);
        e = db_exec(tx, st, n, "expiring package credits", err);
    }
    db_reset(tx, st);
    st = NULL;
    if (!e && left) {
        e = db_prepare(tx, Q_CREDIT_LEFT,
                       "SELECT count(*) FROM package_credits WHERE status = 0",
                       &st, err);
        if (!e)
            e = db_one(tx, st, "counting available credits", err);
        *left = e ? 0 : db_col_int(tx, st, 0);
        db_reset(tx, st);
    }
    return e;
}

enum bk_err bk_store_credit_expire_purchase(struct bk_tx *tx,
                                            int64_t purchase_id,
                                            int64_t now_utc,
                                            struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e = db_prepare(tx, Q_CREDIT_EXPIRE_PURCHASE,
                               "UPDATE package_credits SET status = 2,"
                               " updated_utc = ?2 WHERE purchase_id = ?1"
                               " AND status = 0",
                               &st, err);

    if (!e) {
        db_bind_i64(tx, st, 1, purchase_id);
        db_bind_i64(tx, st, 2, now_utc);
        e = db_exec(tx, st, NULL, "expiring a purchase's credits", err);
    }
    db_reset(tx, st);
    return e;
}

static void read_summary(struct bk_tx *tx, struct bk_stmt *st,
                         struct bk_arena *a, struct bk_credit_summary *s)
{
    read_purchase(tx, st, a, &s->purchase);
    s->remaining = db_col_int(tx, st, PURCHASE_NCOLS);
    s->used = db_col_int(tx, st, PURCHASE_NCOLS + 1);
    s->expired = db_col_int(tx, st, PURCHASE_NCOLS + 2);
}

enum bk_err bk_store_credit_summary(struct bk_tx *tx, int64_t client_id,
                                    int64_t now_utc, struct bk_arena *arena,
                                    struct bk_credit_summary **out, size_t *n,
                                    struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_credit_summary *arr = NULL;
    size_t count = 0;
    enum bk_err e = db_prepare(
        tx, Q_CREDIT_SUMMARY,
        "SELECT " PURCHASE_COLS ","
        " (SELECT count(*) FROM package_credits x WHERE x.purchase_id = p.id"
        " AND x.status = 0 AND x.expires_utc > ?2),"
        " (SELECT count(*) FROM package_credits x WHERE x.purchase_id = p.id"
        " AND x.status = 1),"
        " (SELECT count(*) FROM package_credits x WHERE x.purchase_id = p.id"
        " AND (x.status = 2 OR (x.status = 0 AND x.expires_utc <= "
        "?2)))" PURCHASE_FROM " WHERE p.client_id = ?1 AND p.status IN (1, 3)"
        " ORDER BY p.id DESC LIMIT 10000",
        &st, err);

    if (!e) {
        db_bind_i64(tx, st, 1, client_id);
        db_bind_i64(tx, st, 2, now_utc);
        DB_READ_ROWS(tx, st, arena, arr, count, "listing a client's credits",
                     err, read_summary);
    }
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}
