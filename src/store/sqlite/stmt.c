/* store/sqlite/stmt.c — the per-connection statement cache, binding and
 * column helpers, and the mapping of SQLite result codes to bk_err.
 * Transactions and the pool live in sqlite.c. */
#include <string.h>

#include "base/arena.h"
#include "store/sqlite/internal.h"
#include "base/banned.h"

enum bk_err sq_prepare(struct sq_tx *tx, enum sq_stmt id, const char *sql,
                       sqlite3_stmt **out, struct bk_errbuf *err)
{
    struct sq_conn *c = tx->conn;
    int rc;

    *out = NULL;
    c->bind_rc = SQLITE_OK;
    if (tx->broken)
        return bk_fail(err, BK_E_IO,
                       "the transaction was rolled back after an earlier "
                       "database error");
    if (c->stmt[id]) {
        /* One name, one text: a second call site reusing a name would get
         * the other site's statement. */
        if (c->sql[id] != sql && strcmp(c->sql[id], sql) != 0)
            return bk_fail(err, BK_E_INTERNAL,
                           "statement %d prepared from two texts", (int)id);
        *out = c->stmt[id];
        return BK_OK;
    }
    rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                            &c->stmt[id], NULL);
    if (rc != SQLITE_OK) {
        enum bk_err e = sq_error(c->db, rc, "preparing a statement", err);
        sqlite3_finalize(c->stmt[id]);
        c->stmt[id] = NULL;
        return e;
    }
    c->sql[id] = sql;
    *out = c->stmt[id];
    return BK_OK;
}

void sq_reset(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

/* A failed statement may have made SQLite roll the whole transaction back
 * (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM ...). Later statements would
 * then run in autocommit mode, outside any transaction; refuse them. */
static void check_broken(struct sq_tx *tx)
{
    if (sqlite3_get_autocommit(tx->conn->db))
        tx->broken = true;
}

enum bk_err sq_step(struct sq_tx *tx, sqlite3_stmt *st, bool *row,
                    const char *what, struct bk_errbuf *err)
{
    struct sq_conn *c = tx->conn;
    int rc;

    *row = false;
    if (c->bind_rc != SQLITE_OK) {
        rc = c->bind_rc;
        c->bind_rc = SQLITE_OK;
        return sq_error(c->db, rc, what, err);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *row = true;
        return BK_OK;
    }
    if (rc == SQLITE_DONE)
        return BK_OK;
    /* sqlite3_step reports the extended code with extended_result_codes
     * on; the message belongs to the statement's connection. */
    {
        enum bk_err e = sq_error(c->db, rc, what, err);
        sqlite3_reset(st);
        check_broken(tx);
        return e;
    }
}

enum bk_err sq_one(struct sq_tx *tx, sqlite3_stmt *st, const char *what,
                   struct bk_errbuf *err)
{
    bool row;
    enum bk_err e = sq_step(tx, st, &row, what, err);

    if (e == BK_OK && !row)
        e = BK_E_NOT_FOUND;
    return e;
}

enum bk_err sq_exec(struct sq_tx *tx, sqlite3_stmt *st, int *changes,
                    const char *what, struct bk_errbuf *err)
{
    enum bk_err e;
    bool row = true;

    while (row) {
        e = sq_step(tx, st, &row, what, err);
        if (e)
            return e;
    }
    if (changes)
        *changes = sqlite3_changes(tx->conn->db);
    return BK_OK;
}

/* Unique keys as SQLite names them in "UNIQUE constraint failed: ...",
 * and what to tell a human. */
static const struct {
    const char *key;
    const char *what;
} unique_keys[] = {
    {"hosts.slug", "a host with this slug"},
    {"event_types.slug", "an event type with this slug"},
    {"event_types.calcom_event_type_id",
     "an event type with this Cal.com event type id"},
    {"clients.public_id", "a client with this public id"},
    {"clients.email_norm", "a client with this email (in any letter case)"},
    {"bookings.uid", "a booking with this uid"},
    {"external_links.provider", "a link with this provider, kind and "
                                "external id"},
    {"inbox.public_id", "a delivery with this public id"},
    {"inbox.provider", "a delivery with this provider and delivery key"},
    {"jobs.dedupe_key", "a job with this dedupe key"},
    {"meta.key", "a setting with this key"},
    {"schedules.host_id", "a schedule for this host"},
};

enum bk_err sq_error(sqlite3 *db, int rc, const char *what,
                     struct bk_errbuf *err)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return bk_fail(err, BK_E_BUSY, "database is busy while %s: %s", what,
                       msg);
    case SQLITE_CONSTRAINT:
        break;
    default:
        return bk_fail(err, BK_E_IO, "database error while %s: %s", what, msg);
    }
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY: {
        const char *cols = strstr(msg, ": ");
        cols = cols ? cols + 2 : msg;
        for (size_t i = 0; i < sizeof(unique_keys) / sizeof(unique_keys[0]);
             i++)
            if (strncmp(cols, unique_keys[i].key, strlen(unique_keys[i].key)) ==
                0)
                return bk_fail(err, BK_E_DUPLICATE, "%s exists already",
                               unique_keys[i].what);
        return bk_fail(err, BK_E_DUPLICATE, "duplicate key while %s: %s", what,
                       msg);
    }
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return bk_fail(err, BK_E_NOT_FOUND,
                       "a row referred to while %s does not exist", what);
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
        return bk_fail(err, BK_E_INVALID, "invalid value while %s: %s", what,
                       msg);
    default:
        return bk_fail(err, BK_E_IO, "constraint failed while %s: %s", what,
                       msg);
    }
}

static void note_bind(struct sq_tx *tx, int rc)
{
    if (rc != SQLITE_OK && tx->conn->bind_rc == SQLITE_OK)
        tx->conn->bind_rc = rc;
}

void sq_bind_text(struct sq_tx *tx, sqlite3_stmt *st, int i, const char *s)
{
    note_bind(tx, s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC)
                    : sqlite3_bind_null(st, i));
}

void sq_bind_textn(struct sq_tx *tx, sqlite3_stmt *st, int i, const char *s,
                   size_t n)
{
    if (n > (size_t)0x7fffffff) {
        note_bind(tx, SQLITE_TOOBIG);
        return;
    }
    note_bind(tx, sqlite3_bind_text(st, i, s, (int)n, SQLITE_TRANSIENT));
}

void sq_bind_i64(struct sq_tx *tx, sqlite3_stmt *st, int i, int64_t v)
{
    note_bind(tx, sqlite3_bind_int64(st, i, v));
}

void sq_bind_opt(struct sq_tx *tx, sqlite3_stmt *st, int i, int64_t v)
{
    note_bind(tx, v ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i));
}

void sq_bind_blob(struct sq_tx *tx, sqlite3_stmt *st, int i, const void *p,
                  size_t n)
{
    if (n > (size_t)0x7fffffff) {
        note_bind(tx, SQLITE_TOOBIG);
        return;
    }
    /* A NULL pointer would bind SQL NULL; an empty payload is an empty
     * blob. */
    note_bind(tx, sqlite3_bind_blob(st, i, p ? p : "", (int)n, SQLITE_STATIC));
}

const char *sq_col_text(sqlite3_stmt *st, int i, struct bk_arena *arena)
{
    const unsigned char *s;
    int n;

    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return NULL;
    s = sqlite3_column_text(st, i);
    n = sqlite3_column_bytes(st, i);
    return bk_arena_memdup(arena, s ? (const void *)s : "", (size_t)n);
}

int64_t sq_col_i64(sqlite3_stmt *st, int i)
{
    return sqlite3_column_int64(st, i);
}

int sq_col_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_int(st, i);
}

int sq_col_status(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return -1;
    return sqlite3_column_int(st, i);
}

int sq_limit(int limit)
{
    if (limit < 1)
        return 1;
    return limit > SQ_MAX_LIMIT ? SQ_MAX_LIMIT : limit;
}

void *sq_grow(struct bk_arena *arena, void *arr, size_t n, size_t *cap,
              size_t size)
{
    void *bigger;

    if (n < *cap)
        return arr;
    *cap = *cap ? *cap * 2 : 16;
    bigger = bk_arena_array(arena, *cap, size);
    if (n)
        memcpy(bigger, arr, n * size);
    return bigger;
}
