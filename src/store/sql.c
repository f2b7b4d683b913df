/* store/sql.c — the statement helpers of store/sql.h over the driver. */
#include <string.h>

#include "store/sql.h"
#include "base/banned.h"

/* Whether sql may change the database: anything but a SELECT. */
static bool writes(const char *sql)
{
    while (*sql == ' ' || *sql == '\n')
        sql++;
    return strncmp(sql, "SELECT", 6) != 0;
}

enum bk_err db_prepare(struct bk_tx *tx, enum db_stmt id, const char *sql,
                       struct bk_stmt **out, struct bk_errbuf *err)
{
    *out = NULL;
    if (tx->mode == BK_TX_READ && writes(sql))
        return bk_fail(err, BK_E_INTERNAL,
                       "statement %d writes and needs a write transaction",
                       (int)id);
    if (tx->broken)
        return bk_fail(err, BK_E_IO,
                       "the transaction was rolled back after an earlier "
                       "database error");
    {
        enum bk_err e = tx->drv->prepare(tx, (int)id, sql, out, err);
        bk_store_note_error(tx->store, e);
        return e;
    }
}

void db_reset(struct bk_tx *tx, struct bk_stmt *st)
{
    if (st)
        tx->drv->reset(st);
}

enum bk_err db_step(struct bk_tx *tx, struct bk_stmt *st, bool *row,
                    const char *what, struct bk_errbuf *err)
{
    enum bk_err e = tx->drv->step(tx, st, row, what, err);

    bk_store_note_error(tx->store, e);
    if (e == BK_E_STORAGE_FULL || e == BK_E_UNAVAILABLE)
        bk_store_note_write(tx->store, e, err);
    return e;
}

enum bk_err db_one(struct bk_tx *tx, struct bk_stmt *st, const char *what,
                   struct bk_errbuf *err)
{
    bool row;
    enum bk_err e = db_step(tx, st, &row, what, err);

    if (e == BK_OK && !row)
        e = BK_E_NOT_FOUND;
    return e;
}

enum bk_err db_exec(struct bk_tx *tx, struct bk_stmt *st, int *changes,
                    const char *what, struct bk_errbuf *err)
{
    enum bk_err e;
    bool row = true;

    while (row) {
        e = db_step(tx, st, &row, what, err);
        if (e)
            return e;
    }
    if (changes)
        *changes = (int)tx->drv->changes(st);
    return BK_OK;
}

void db_bind_text(struct bk_tx *tx, struct bk_stmt *st, int i, const char *s)
{
    if (s)
        tx->drv->bind_text(st, i, s, strlen(s));
    else
        tx->drv->bind_null(st, i, BK_BIND_TEXT);
}

void db_bind_textn(struct bk_tx *tx, struct bk_stmt *st, int i, const char *s,
                   size_t n)
{
    tx->drv->bind_text(st, i, s, n);
}

void db_bind_i64(struct bk_tx *tx, struct bk_stmt *st, int i, int64_t v)
{
    tx->drv->bind_i64(st, i, v);
}

void db_bind_null(struct bk_tx *tx, struct bk_stmt *st, int i, int type)
{
    tx->drv->bind_null(st, i, type);
}

void db_bind_opt(struct bk_tx *tx, struct bk_stmt *st, int i, int64_t v)
{
    if (v)
        tx->drv->bind_i64(st, i, v);
    else
        tx->drv->bind_null(st, i, BK_BIND_INT);
}

void db_bind_blob(struct bk_tx *tx, struct bk_stmt *st, int i, const void *p,
                  size_t n)
{
    /* An empty payload is an empty blob, not NULL. */
    tx->drv->bind_blob(st, i, p ? p : "", n);
}

const char *db_col_text(struct bk_tx *tx, struct bk_stmt *st, int i,
                        struct bk_arena *arena)
{
    const char *s;
    size_t n = 0;

    if (tx->drv->col_null(st, i))
        return NULL;
    s = tx->drv->col_text(st, i, &n);
    return bk_arena_memdup(arena, s ? s : "", n);
}

const void *db_col_blob(struct bk_tx *tx, struct bk_stmt *st, int i,
                        struct bk_arena *arena, size_t *n)
{
    const void *p;
    size_t len = 0;

    if (n)
        *n = 0;
    if (tx->drv->col_null(st, i))
        return NULL;
    p = tx->drv->col_blob(st, i, &len);
    if (n)
        *n = len;
    return bk_arena_memdup(arena, p ? p : "", len);
}

bool db_col_null(struct bk_tx *tx, struct bk_stmt *st, int i)
{
    return tx->drv->col_null(st, i);
}

int64_t db_col_i64(struct bk_tx *tx, struct bk_stmt *st, int i)
{
    return tx->drv->col_i64(st, i);
}

int db_col_int(struct bk_tx *tx, struct bk_stmt *st, int i)
{
    return (int)tx->drv->col_i64(st, i);
}

int db_col_status(struct bk_tx *tx, struct bk_stmt *st, int i)
{
    if (tx->drv->col_null(st, i))
        return -1;
    return (int)tx->drv->col_i64(st, i);
}

int db_limit(int limit)
{
    if (limit < 1)
        return 1;
    return limit > DB_MAX_LIMIT ? DB_MAX_LIMIT : limit;
}

void *db_grow(struct bk_arena *arena, void *arr, size_t n, size_t *cap,
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
