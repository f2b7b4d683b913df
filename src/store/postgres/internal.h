/* store/postgres/internal.h — what driver.c (pool, transactions, locks,
 * migrations) and stmt.c (statements, bindings, columns, error classes) of
 * the PostgreSQL driver share. Nothing outside store/postgres/ includes
 * this, except its own unit test. */
#ifndef BK_STORE_POSTGRES_INTERNAL_H
#define BK_STORE_POSTGRES_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/driver.h"

/* One parameter's binding. `val` is what libpq sends: a pointer into `num`
 * (integers, as decimal text), into `own` (a NUL-terminated copy of bound
 * text), the caller's bytes (blobs, binary format, borrowed), or NULL for
 * SQL NULL. */
struct pg_param {
    unsigned int type; /* Oid: PG_INT8, PG_TEXT, PG_BYTEA; 0 when unbound */
    const char *val;
    int len;
    int fmt;      /* 0 text, 1 binary */
    bool has_nul; /* bound text held a NUL byte: step refuses it */
    char num[24]; /* an int64 in decimal */
    char *own;    /* text copy, reused across bindings */
    size_t own_cap;
};

/* A decoded bytea column of the current row. */
struct pg_blobbuf {
    unsigned char *p;
    size_t n, cap;
    bool done; /* decoded for the current row */
};

/* A cached statement: one per id per connection. */
struct bk_stmt {
    struct pg_conn *conn;
    int id;
    char *sql;    /* the text with $n placeholders */
    int n_params; /* the highest placeholder number */
    struct pg_param *params;
    const char **vals; /* per-execution arrays handed to libpq */
    int *lens;
    int *fmts;
    unsigned int *types;
    bool prepared;            /* the server knows it as "bk<id>" */
    unsigned int *prep_types; /* the types it was prepared with */
    enum bk_err bind_err;     /* a binder's failure, reported by step */
    char bind_msg[96];
    PGresult *res; /* the last run's result, NULL before the first step */
    bool ran;
    int row; /* current row of res, -1 before the first */
    int n_blobs;
    struct pg_blobbuf *blobs; /* per column, for col_blob */
};

struct pg_conn {
    PGconn *pg;
    bool bad; /* lost or unusable: closed on release, never reused */
    struct bk_stmt *stmt[BK_STMT_MAX];
};

struct pg_store {
    struct bk_store base;
    char *url;        /* the libpq connection URI, as configured */
    char *password;   /* to scrub from libpq's messages; NULL when none */
    bool add_timeout; /* the URL sets no connect_timeout: add ours */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pool_size;
    int n_open; /* connections open or being opened */
    int n_idle;
    struct pg_conn **idle;
};

/* Channels one transaction notifies at most (distinct ones). */
#define PG_TX_CHANNELS 4

struct pg_tx {
    struct bk_tx base;
    struct pg_store *store;
    struct pg_conn *conn;
    const char *notify[PG_TX_CHANNELS]; /* sent with the COMMIT */
    int n_notify;
};

static inline struct pg_tx *pg_txof(struct bk_tx *tx)
{
    return (struct pg_tx *)tx;
}

/* Type Oids of the parameters we send (catalog/pg_type.h). */
enum { PG_BOOL = 16, PG_BYTEA = 17, PG_INT8 = 20, PG_TEXT = 25 };

/* Rewrites SQLite's numbered placeholders ?N to $N outside '...' and E'...'
 * strings, "..." identifiers and -- and C-style comments. Returns an owned
 * copy (free with free()); *max_param gets the highest N (0 when none). */
char *bk_pg_rewrite_sql(const char *sql, int *max_param);

/* Maps a failed result (res may be NULL: the connection failed) to the
 * driver's error classes (driver.h), fills err with a message naming
 * `what`, and marks the connection bad when it was lost. */
enum bk_err bk_pg_error(struct pg_conn *c, const PGresult *res,
                        const char *what, struct bk_errbuf *err);

/* Runs one parameterless command (or several: the simple protocol) in tx
 * and checks that it succeeded; on failure marks tx broken. */
enum bk_err bk_pg_exec(struct pg_tx *tx, const char *sql, const char *what,
                       struct bk_errbuf *err);

/* Frees every cached statement's last result (when a connection goes back
 * to the pool) and, with `destroy`, the statements themselves. */
void bk_pg_stmts_release(struct pg_conn *c, bool destroy);

/* The statement entries of the driver table (stmt.c). */
enum bk_err bk_pg_prepare(struct bk_tx *tx, int id, const char *sql,
                          struct bk_stmt **out, struct bk_errbuf *err);
void bk_pg_reset(struct bk_stmt *st);
void bk_pg_bind_null(struct bk_stmt *st, int i, int type);
void bk_pg_bind_i64(struct bk_stmt *st, int i, int64_t v);
void bk_pg_bind_text(struct bk_stmt *st, int i, const char *s, size_t n);
void bk_pg_bind_blob(struct bk_stmt *st, int i, const void *p, size_t n);
enum bk_err bk_pg_step(struct bk_tx *tx, struct bk_stmt *st, bool *row,
                       const char *what, struct bk_errbuf *err);
bool bk_pg_col_null(struct bk_stmt *st, int i);
int64_t bk_pg_col_i64(struct bk_stmt *st, int i);
const char *bk_pg_col_text(struct bk_stmt *st, int i, size_t *n);
const void *bk_pg_col_blob(struct bk_stmt *st, int i, size_t *n);
int64_t bk_pg_changes(struct bk_stmt *st);

#endif
