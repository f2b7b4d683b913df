/* store/postgres/stmt.c — statements of the PostgreSQL driver: placeholder
 * rewriting, the per-connection statement cache, binders, step, columns,
 * and the mapping of SQLSTATEs to the error classes of store/driver.h.
 * The pool, transactions, locks and migrations are in driver.c.
 *
 * Statements are prepared on the server (PQprepare, named "bk<id>") the
 * first time they run on a connection, with the parameter types of that
 * first run, and run with PQexecPrepared after: most store statements are
 * short point queries, for which parsing and planning are a large part of
 * the cost. A later run whose non-NULL parameters have other types (a
 * caller binding text where the first run bound an integer) falls back to
 * PQexecParams, so a prepared type never reinterprets a value. Parameters
 * go in text format except blobs (binary: no escaping); results come in
 * text format. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "store/postgres/internal.h"
#include "base/banned.h"

/* ---- Placeholders ------------------------------------------------------ */

static bool is_ident_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || (unsigned char)ch >= 0x80;
}

char *bk_pg_rewrite_sql(const char *sql, int *max_param)
{
    /* ?N and $N have the same length: the rewrite works in place. */
    char *out = bk_xstrdup(sql);
    char *p = out;
    int max = 0;

    while (*p) {
        if (*p == '\'') {
            /* E'...' strings take backslash escapes; '' is a quote in
             * both kinds. */
            bool esc = p > out && (p[-1] == 'E' || p[-1] == 'e') &&
                       (p - 1 == out || !is_ident_char(p[-2]));
            p++;
            while (*p) {
                if (esc && *p == '\\' && p[1]) {
                    p += 2;
                } else if (*p == '\'') {
                    if (p[1] != '\'')
                        break;
                    p += 2;
                } else {
                    p++;
                }
            }
            if (*p)
                p++;
        } else if (*p == '"') {
            p++;
            while (*p && !(*p == '"' && p[1] != '"'))
                p += *p == '"' ? 2 : 1;
            if (*p)
                p++;
        } else if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            /* PostgreSQL nests block comments. */
            int depth = 1;
            p += 2;
            while (*p && depth > 0) {
                if (p[0] == '/' && p[1] == '*') {
                    depth++;
                    p += 2;
                } else if (p[0] == '*' && p[1] == '/') {
                    depth--;
                    p += 2;
                } else {
                    p++;
                }
            }
        } else if (*p == '?' && p[1] >= '0' && p[1] <= '9') {
            long n = 0;
            *p++ = '$';
            while (*p >= '0' && *p <= '9') {
                if (n < 100000)
                    n = n * 10 + (*p - '0');
                p++;
            }
            if (n > max)
                max = (int)n;
        } else {
            p++;
        }
    }
    *max_param = max;
    return out;
}

/* ---- Errors ------------------------------------------------------------ */

/* The first line of a libpq message, without its newline. */
static void first_line(const char *msg, char *out, size_t size)
{
    size_t n = msg ? strcspn(msg, "\n") : 0;

    if (n >= size)
        n = size - 1;
    if (n)
        memcpy(out, msg, n);
    out[n] = '\0';
}

enum bk_err bk_pg_error(struct pg_conn *c, const PGresult *res,
                        const char *what, struct bk_errbuf *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char msg[200];

    if (primary)
        first_line(primary, msg, sizeof(msg));
    else
        first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg), msg,
                   sizeof(msg));
    if (!msg[0])
        first_line(PQerrorMessage(c->pg), msg, sizeof(msg));
    if (!msg[0])
        snprintf(msg, sizeof(msg), "%s", "no answer from the server");

    /* Lost connections: no SQLSTATE (libpq saw the socket close), class 08,
     * or the server shutting the session down. */
    if (!state || strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
        strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0 ||
        PQstatus(c->pg) != CONNECTION_OK) {
        c->bad = true;
        return bk_fail(err, BK_E_IO, "database error while %s: %s", what, msg);
    }

    if (strcmp(state, "23505") == 0) {
        const char *human = bk_store_unique_what(
            PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME));
        const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);

        if (human)
            return bk_fail(err, BK_E_DUPLICATE, "%s exists already", human);
        return bk_fail(err, BK_E_DUPLICATE, "duplicate key while %s: %s", what,
                       detail ? detail : msg);
    }
    if (strcmp(state, "23503") == 0)
        return bk_fail(err, BK_E_NOT_FOUND,
                       "a row referred to while %s does not exist", what);
    if (strcmp(state, "23514") == 0 || strcmp(state, "23502") == 0 ||
        strncmp(state, "22", 2) == 0)
        return bk_fail(err, BK_E_INVALID, "invalid value while %s: %s", what,
                       msg);
    if (strcmp(state, "23P01") == 0)
        return bk_fail(err, BK_E_SLOT_UNAVAILABLE,
                       "the time overlaps another booking of the host "
                       "(while %s)",
                       what);
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return bk_fail(err, BK_E_SERIALIZATION,
                       "a concurrent transaction conflicted while %s: %s", what,
                       msg);
    /* Class 53, insufficient resources: 53100 disk_full, 53200
     * out_of_memory, 53300 too_many_connections, 53400
     * configuration_limit_exceeded. */
    if (strncmp(state, "53", 2) == 0)
        return bk_fail(err, BK_E_STORAGE_FULL,
                       "the database lacks room or resources while %s: %s",
                       what, msg);
    if (strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0)
        return bk_fail(err, BK_E_BUSY, "the database stayed busy while %s: %s",
                       what, msg);
    return bk_fail(err, BK_E_IO, "database error while %s: %s", what, msg);
}

enum bk_err bk_pg_exec(struct pg_tx *tx, const char *sql, const char *what,
                       struct bk_errbuf *err)
{
    PGresult *res = PQexec(tx->conn->pg, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    enum bk_err e = BK_OK;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
        st != PGRES_EMPTY_QUERY) {
        e = bk_pg_error(tx->conn, res, what, err);
        tx->base.broken = true;
    }
    PQclear(res);
    return e;
}

/* ---- The statement cache ----------------------------------------------- */

static void stmt_clear_result(struct bk_stmt *st)
{
    PQclear(st->res);
    st->res = NULL;
    st->ran = false;
    st->row = -1;
    for (int i = 0; i < st->n_blobs; i++)
        st->blobs[i].done = false;
}

static void stmt_clear_bindings(struct bk_stmt *st)
{
    for (int i = 0; i < st->n_params; i++) {
        struct pg_param *p = &st->params[i];
        p->type = 0;
        p->val = NULL;
        p->len = 0;
        p->fmt = 0;
        p->has_nul = false;
    }
    st->bind_err = BK_OK;
    st->bind_msg[0] = '\0';
}

static void stmt_free(struct bk_stmt *st)
{
    if (!st)
        return;
    stmt_clear_result(st);
    for (int i = 0; i < st->n_params; i++)
        free(st->params[i].own);
    for (int i = 0; i < st->n_blobs; i++)
        free(st->blobs[i].p);
    free(st->blobs);
    free(st->params);
    free(st->vals);
    free(st->lens);
    free(st->fmts);
    free(st->types);
    free(st->prep_types);
    free(st->sql);
    free(st);
}

void bk_pg_stmts_release(struct pg_conn *c, bool destroy)
{
    for (int i = 0; i < BK_STMT_MAX; i++) {
        if (!c->stmt[i])
            continue;
        if (destroy) {
            stmt_free(c->stmt[i]);
            c->stmt[i] = NULL;
        } else {
            stmt_clear_result(c->stmt[i]);
        }
    }
}

static struct bk_stmt *stmt_new(struct pg_conn *c, int id, const char *sql)
{
    struct bk_stmt *st = bk_xcalloc(1, sizeof(*st));
    size_t n;

    st->conn = c;
    st->id = id;
    st->sql = bk_pg_rewrite_sql(sql, &st->n_params);
    st->row = -1;
    n = st->n_params > 0 ? (size_t)st->n_params : 1;
    st->params = bk_xcalloc(n, sizeof(*st->params));
    st->vals = bk_xcalloc(n, sizeof(*st->vals));
    st->lens = bk_xcalloc(n, sizeof(*st->lens));
    st->fmts = bk_xcalloc(n, sizeof(*st->fmts));
    st->types = bk_xcalloc(n, sizeof(*st->types));
    st->prep_types = bk_xcalloc(n, sizeof(*st->prep_types));
    return st;
}

enum bk_err bk_pg_prepare(struct bk_tx *btx, int id, const char *sql,
                          struct bk_stmt **out, struct bk_errbuf *err)
{
    struct pg_tx *tx = pg_txof(btx);
    struct bk_stmt *st;

    *out = NULL;
    if (btx->broken)
        return bk_fail(err, BK_E_IO,
                       "the transaction was rolled back after an earlier "
                       "database error");
    if (id < 0 || id >= BK_STMT_MAX) {
        btx->broken = true;
        return bk_fail(err, BK_E_INTERNAL, "statement id %d out of range", id);
    }
    st = tx->conn->stmt[id];
    if (!st)
        st = tx->conn->stmt[id] = stmt_new(tx->conn, id, sql);
    stmt_clear_result(st);
    stmt_clear_bindings(st);
    *out = st;
    return BK_OK;
}

void bk_pg_reset(struct bk_stmt *st)
{
    if (st)
        stmt_clear_result(st);
}

/* ---- Binders ----------------------------------------------------------- */

/* The parameter i (1-based), or NULL after recording the misuse. */
static struct pg_param *param_at(struct bk_stmt *st, int i)
{
    if (i < 1 || i > st->n_params) {
        if (!st->bind_err) {
            st->bind_err = BK_E_INTERNAL;
            snprintf(st->bind_msg, sizeof(st->bind_msg),
                     "parameter %d is not in the statement (it has %d)", i,
                     st->n_params);
        }
        return NULL;
    }
    return &st->params[i - 1];
}

static bool too_large(struct bk_stmt *st, int i, size_t n)
{
    if (n < INT_MAX)
        return false;
    if (!st->bind_err) {
        st->bind_err = BK_E_TOO_LARGE;
        snprintf(st->bind_msg, sizeof(st->bind_msg),
                 "parameter %d is too large (%zu bytes)", i, n);
    }
    return true;
}

void bk_pg_bind_null(struct bk_stmt *st, int i, int type)
{
    struct pg_param *p = param_at(st, i);

    if (!p)
        return;
    p->type = type == BK_BIND_INT    ? PG_INT8
              : type == BK_BIND_BLOB ? PG_BYTEA
                                     : PG_TEXT;
    p->val = NULL;
    p->len = 0;
    p->fmt = 0;
    p->has_nul = false;
}

void bk_pg_bind_i64(struct bk_stmt *st, int i, int64_t v)
{
    struct pg_param *p = param_at(st, i);

    if (!p)
        return;
    p->type = PG_INT8;
    snprintf(p->num, sizeof(p->num), "%lld", (long long)v);
    p->val = p->num;
    p->len = 0;
    p->fmt = 0;
    p->has_nul = false;
}

void bk_pg_bind_text(struct bk_stmt *st, int i, const char *s, size_t n)
{
    struct pg_param *p = param_at(st, i);

    if (!p || too_large(st, i, n))
        return;
    /* libpq reads text parameters up to their NUL: copy and terminate. */
    if (p->own_cap < n + 1) {
        p->own = bk_xrealloc(p->own, n + 1);
        p->own_cap = n + 1;
    }
    if (n)
        memcpy(p->own, s, n);
    p->own[n] = '\0';
    p->type = PG_TEXT;
    p->val = p->own;
    p->len = (int)n;
    p->fmt = 0;
    p->has_nul = n && memchr(s, '\0', n) != NULL;
}

void bk_pg_bind_blob(struct bk_stmt *st, int i, const void *data, size_t n)
{
    struct pg_param *p = param_at(st, i);

    if (!p || too_large(st, i, n))
        return;
    p->type = PG_BYTEA;
    /* A NULL value pointer would send SQL NULL, not an empty blob. */
    p->val = n ? (const char *)data : "";
    p->len = (int)n;
    p->fmt = 1;
    p->has_nul = false;
}

/* ---- Step -------------------------------------------------------------- */

/* Runs st with its bindings and keeps the result. */
static PGresult *stmt_run(struct bk_stmt *st)
{
    PGconn *pg = st->conn->pg;
    char name[16];
    bool same = st->prepared;
    int n = st->n_params;

    for (int i = 0; i < n; i++) {
        const struct pg_param *p = &st->params[i];
        st->vals[i] = p->val;
        st->lens[i] = p->len;
        st->fmts[i] = p->fmt;
        st->types[i] = p->type;
        /* A NULL reads the same under any type. */
        if (same && p->val && p->type != st->prep_types[i])
            same = false;
    }
    snprintf(name, sizeof(name), "bk%d", st->id);
    if (!st->prepared) {
        PGresult *res = PQprepare(pg, name, st->sql, n, st->types);
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
            return res;
        PQclear(res);
        st->prepared = true;
        memcpy(st->prep_types, st->types, (size_t)n * sizeof(*st->types));
        same = true;
    }
    if (same)
        return PQexecPrepared(pg, name, n, st->vals, st->lens, st->fmts, 0);
    return PQexecParams(pg, st->sql, n, st->types, st->vals, st->lens, st->fmts,
                        0);
}

enum bk_err bk_pg_step(struct bk_tx *btx, struct bk_stmt *st, bool *row,
                       const char *what, struct bk_errbuf *err)
{
    ExecStatusType status;
    enum bk_err e;

    *row = false;
    if (btx->broken)
        return bk_fail(err, BK_E_IO,
                       "the transaction was rolled back after an earlier "
                       "database error");
    if (st->ran) {
        if (st->res && st->row < PQntuples(st->res))
            st->row++;
        for (int i = 0; i < st->n_blobs; i++)
            st->blobs[i].done = false;
        *row = st->res && st->row < PQntuples(st->res);
        return BK_OK;
    }
    if (st->bind_err) {
        btx->broken = true;
        return bk_fail(err, st->bind_err, "%s while %s", st->bind_msg, what);
    }
    for (int i = 0; i < st->n_params; i++) {
        if (st->params[i].has_nul) {
            btx->broken = true;
            return bk_fail(err, BK_E_INVALID,
                           "text with a NUL byte while %s (parameter %d)", what,
                           i + 1);
        }
    }
    st->res = stmt_run(st);
    st->ran = true;
    status = st->res ? PQresultStatus(st->res) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK &&
        status != PGRES_EMPTY_QUERY) {
        e = bk_pg_error(st->conn, st->res, what, err);
        btx->broken = true;
        stmt_clear_result(st);
        return e;
    }
    st->row = 0;
    *row = status == PGRES_TUPLES_OK && PQntuples(st->res) > 0;
    return BK_OK;
}

/* ---- Columns ----------------------------------------------------------- */

static bool has_col(const struct bk_stmt *st, int i)
{
    return st->res && st->row >= 0 && st->row < PQntuples(st->res) && i >= 0 &&
           i < PQnfields(st->res);
}

bool bk_pg_col_null(struct bk_stmt *st, int i)
{
    return !has_col(st, i) || PQgetisnull(st->res, st->row, i);
}

int64_t bk_pg_col_i64(struct bk_stmt *st, int i)
{
    const char *v;

    if (bk_pg_col_null(st, i))
        return 0;
    v = PQgetvalue(st->res, st->row, i);
    if (v[0] == 't' && v[1] == '\0')
        return 1;
    if (v[0] == 'f' && v[1] == '\0')
        return 0;
    return (int64_t)strtoll(v, NULL, 10);
}

const char *bk_pg_col_text(struct bk_stmt *st, int i, size_t *n)
{
    if (bk_pg_col_null(st, i)) {
        if (n)
            *n = 0;
        return NULL;
    }
    if (n)
        *n = (size_t)PQgetlength(st->res, st->row, i);
    return PQgetvalue(st->res, st->row, i);
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes bytea's hex output ("\x0aff...") into b; false when v is not
 * in that form. */
static bool decode_hex(struct pg_blobbuf *b, const char *v, size_t len)
{
    size_t n;

    if (len < 2 || v[0] != '\\' || v[1] != 'x' || (len - 2) % 2 != 0)
        return false;
    n = (len - 2) / 2;
    if (b->cap < n + 1) {
        b->p = bk_xrealloc(b->p, n + 1);
        b->cap = n + 1;
    }
    for (size_t k = 0; k < n; k++) {
        int hi = hexval(v[2 + 2 * k]), lo = hexval(v[3 + 2 * k]);
        if (hi < 0 || lo < 0)
            return false;
        b->p[k] = (unsigned char)(hi << 4 | lo);
    }
    b->n = n;
    return true;
}

const void *bk_pg_col_blob(struct bk_stmt *st, int i, size_t *n)
{
    struct pg_blobbuf *b;
    const char *v;
    size_t len;

    if (n)
        *n = 0;
    if (bk_pg_col_null(st, i))
        return NULL;
    v = PQgetvalue(st->res, st->row, i);
    len = (size_t)PQgetlength(st->res, st->row, i);
    if (PQftype(st->res, i) != PG_BYTEA) {
        if (n)
            *n = len;
        return v;
    }
    if (st->n_blobs < PQnfields(st->res)) {
        int k = PQnfields(st->res);
        st->blobs = bk_xrealloc(st->blobs, (size_t)k * sizeof(*st->blobs));
        memset(st->blobs + st->n_blobs, 0,
               (size_t)(k - st->n_blobs) * sizeof(*st->blobs));
        st->n_blobs = k;
    }
    b = &st->blobs[i];
    if (!b->done) {
        if (!decode_hex(b, v, len)) {
            /* The old escape format (bytea_output = escape). */
            size_t un = 0;
            unsigned char *u = PQunescapeBytea((const unsigned char *)v, &un);
            if (!u)
                return NULL;
            if (b->cap < un + 1) {
                b->p = bk_xrealloc(b->p, un + 1);
                b->cap = un + 1;
            }
            if (un)
                memcpy(b->p, u, un);
            b->n = un;
            PQfreemem(u);
        }
        b->done = true;
    }
    if (n)
        *n = b->n;
    return b->p;
}

int64_t bk_pg_changes(struct bk_stmt *st)
{
    const char *t = st->res ? PQcmdTuples(st->res) : "";

    return *t ? (int64_t)strtoll(t, NULL, 10) : 0;
}
