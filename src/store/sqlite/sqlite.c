/* store/sqlite/sqlite.c — the SQLite driver (store/driver.h): connection
 * pool, transactions, statements and error classes over sqlite3.
 *
 * Concurrency: a pool of up to pool_size connections, opened lazily, each
 * used by one thread at a time (SQLITE_OPEN_NOMUTEX). Write transactions
 * (WRITE and QUEUE alike) take the store's write lock from begin to commit
 * or rollback, then BEGIN IMMEDIATE, so writes of this process run one at a
 * time and other processes (bookingd apply) wait for the file lock through
 * busy_timeout. Read transactions are deferred BEGINs: in WAL mode they see
 * a snapshot and never wait for a writer. Because writes are serialized,
 * lock and try_lock have nothing to do.
 *
 * The file: only the file opened at start is used. Later connections open
 * it without SQLITE_OPEN_CREATE, and every transaction first checks that
 * the path still names the same file (device and inode recorded at open):
 * a file deleted or replaced while running would otherwise be recreated
 * empty, and what was acknowledged after it would be gone at the next
 * start. Such a store refuses service (BK_E_UNAVAILABLE) until the file is
 * back or bookingd restarts. */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "store/driver.h"
#include "base/banned.h"

#define MAX_POOL        64
#define BUSY_TIMEOUT_MS 5000

extern const struct bk_migration bk_sqlite_migrations[];
extern const int bk_sqlite_migrations_count;

struct sq_conn;

/* A cached statement: one per id per connection. */
struct bk_stmt {
    sqlite3_stmt *st;
    const char *sql; /* the text it was prepared from */
    struct sq_conn *conn;
    int bind_rc; /* first failed bind since the last reset */
};

/* One pooled connection, used by one thread at a time. */
struct sq_conn {
    sqlite3 *db;
    struct bk_stmt *stmt[BK_STMT_MAX];
    bool relaxed; /* synchronous = NORMAL (a BK_TX_LEASE transaction's) */
};

struct sq_store {
    struct bk_store base;
    char *path;
    dev_t dev; /* the file opened at start */
    ino_t ino;
    /* The file opened at start, flock()ed shared for the store's life:
     * `bookingd restore` takes it exclusive to know nobody else has the
     * database open. Closed only after every connection (closing any
     * descriptor of the file drops the process's fcntl locks, SQLite's). */
    int lock_fd;
    int pool_size;
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* a connection came back, or the writer left */
    struct sq_conn **idle; /* pool_size slots, n_idle used */
    int n_idle;
    int n_open;   /* connections open or being opened, idle or in use */
    bool writing; /* a write transaction is open */
    bool lost;    /* the path no longer names the file opened at start */
};

struct sq_tx {
    struct bk_tx base;
    struct sq_store *store;
    struct sq_conn *conn;
};

static const char *const schemes[] = {"sqlite:", NULL};

static struct sq_tx *sq_txof(struct bk_tx *t)
{
    return (struct sq_tx *)t;
}

static bool is_write(enum bk_tx_mode mode)
{
    return mode != BK_TX_READ;
}

/* ---- Errors ------------------------------------------------------------ */

/* Maps SQLite result code rc of db to the classes of store/driver.h. */
static enum bk_err sq_error(sqlite3 *db, int rc, const char *what,
                            struct bk_errbuf *err)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return bk_fail(err, BK_E_BUSY, "database is busy while %s: %s", what,
                       msg);
    case SQLITE_FULL:
        return bk_fail(err, BK_E_STORAGE_FULL,
                       "the database has no room to write while %s: %s", what,
                       msg);
    case SQLITE_IOERR: {
        /* SQLite reports ENOSPC from write() as SQLITE_FULL, but the same
         * from fsync, ftruncate or the shared-memory file as an I/O
         * error. */
        int no = db ? sqlite3_system_errno(db) : 0;
        if (no == ENOSPC || no == EDQUOT)
            return bk_fail(err, BK_E_STORAGE_FULL,
                           "the database has no room to write while %s: %s",
                           what,
                           no == ENOSPC ? "no space left on device"
                                        : "disk quota exceeded");
        return bk_fail(err, BK_E_IO, "database error while %s: %s", what, msg);
    }
    case SQLITE_TOOBIG:
        return bk_fail(err, BK_E_INVALID, "value too large while %s", what);
    case SQLITE_CONSTRAINT:
        break;
    default:
        return bk_fail(err, BK_E_IO, "database error while %s: %s", what, msg);
    }
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY: {
        const char *cols = strstr(msg, ": ");
        const char *human = bk_store_unique_what(cols ? cols + 2 : msg);
        if (human)
            return bk_fail(err, BK_E_DUPLICATE, "%s exists already", human);
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

/* ---- Connections ------------------------------------------------------- */

static void conn_close(struct sq_conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < BK_STMT_MAX; i++) {
        if (c->stmt[i]) {
            sqlite3_finalize(c->stmt[i]->st);
            free(c->stmt[i]);
        }
    }
    sqlite3_close_v2(c->db);
    free(c);
}

/* The directory of path into dir (size bytes): "." for a bare name. */
static void dir_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');

    if (slash && (size_t)(slash - path) < size) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    } else {
        snprintf(dir, size, ".");
    }
}

/* Explains a failed open, or a database that cannot be written: a missing
 * or read-only directory is the usual cause (SQLite creates PATH-wal and
 * PATH-shm beside the file). `what` is SQLite's own message. Returns
 * BK_E_IO. */
static enum bk_err open_failed(const char *path, const char *what,
                               struct bk_errbuf *err)
{
    char dir[4096];
    struct stat sb;

    dir_of(path, dir, sizeof(dir));
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return bk_fail(err, BK_E_IO,
                       "cannot open database %s: directory %s does not exist",
                       path, dir);
    /* access() honours a read-only mount even for root. */
    if (access(dir, W_OK) != 0)
        return bk_fail(err, BK_E_IO,
                       "directory %s is not writable (%s): bookingd writes "
                       "the database and its -wal and -shm files there",
                       dir,
                       errno == EROFS ? "read-only file system"
                                      : "permission denied");
    return bk_fail(err, BK_E_IO, "cannot open database %s: %s", path, what);
}

/* Runs a statement that answers one row and returns its text in out. */
static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    out[0] = '\0';
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(st, 0);
            snprintf(out, size, "%s", t ? (const char *)t : "");
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* Opens a connection to path; `create` only for the first one, at
 * start (store/sqlite/sqlite.c's header). */
static enum bk_err conn_open(const char *path, bool create,
                             struct sq_conn **out, struct bk_errbuf *err)
{
    struct sq_conn *c = bk_xcalloc(1, sizeof(*c));
    enum bk_err e = BK_OK;
    char mode[32];
    int rc;

    *out = NULL;
    rc = sqlite3_open_v2(path, &c->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                             (create ? SQLITE_OPEN_CREATE : 0),
                         NULL);
    if (rc != SQLITE_OK) {
        e = open_failed(
            path, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc), err);
        goto out;
    }
    /* SQLite falls back to read-only when the file cannot be opened for
     * writing (a read-only mount): refuse here rather than at the first
     * write. */
    if (sqlite3_db_readonly(c->db, "main") == 1) {
        e = open_failed(path, "the file is read-only", err);
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    /* The first statement reads the file: a file that is not a database
     * fails here. */
    rc = pragma_text(c->db, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
    if ((rc & 0xff) == SQLITE_BUSY) {
        e = bk_fail(err, BK_E_BUSY, "cannot open database %s: %s", path,
                    sqlite3_errmsg(c->db));
        goto out;
    }
    if (rc != SQLITE_OK) {
        e = open_failed(path, sqlite3_errmsg(c->db), err);
        goto out;
    }
    if (strcmp(mode, "wal") != 0) {
        e = bk_fail(err, BK_E_IO,
                    "cannot open database %s: WAL journal mode refused "
                    "(got %s)",
                    path, mode);
        goto out;
    }
    /* synchronous=FULL: a commit is on disk when COMMIT returns, which
     * "durable first, then acknowledge" needs (WAL's default NORMAL may lose
     * the last commits on power loss). */
    rc = sqlite3_exec(c->db,
                      "PRAGMA foreign_keys = ON;"
                      "PRAGMA synchronous = FULL;"
                      "PRAGMA trusted_schema = OFF;",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        e = bk_fail(err, BK_E_IO, "cannot configure database %s: %s", path,
                    sqlite3_errmsg(c->db));
        goto out;
    }
    *out = c;
    c = NULL;
out:
    conn_close(c);
    return e;
}

/* Checks that s->path still names the file opened at start. On a change
 * logs once, loudly, and returns BK_E_UNAVAILABLE (the message names no
 * path: it may reach a client); logs again when the file is back. */
static enum bk_err file_check(struct sq_store *s, struct bk_errbuf *err)
{
    struct stat sb;
    bool same, was_lost;
    int no = 0;

    if (stat(s->path, &sb) != 0)
        no = errno;
    same = !no && sb.st_dev == s->dev && sb.st_ino == s->ino;
    pthread_mutex_lock(&s->mu);
    was_lost = s->lost;
    s->lost = !same;
    pthread_mutex_unlock(&s->mu);
    if (!same && !was_lost)
        bk_log_error("store: the database file %s was %s while bookingd ran; "
                     "refusing service (503) until the file opened at start "
                     "is back at that path, or bookingd restarts",
                     s->path, no == ENOENT ? "deleted" : "replaced");
    else if (same && was_lost)
        bk_log_info("store: the database file %s is back; serving again",
                    s->path);
    if (same)
        return BK_OK;
    return bk_fail(err, BK_E_UNAVAILABLE,
                   "the database file was %s while bookingd ran",
                   no == ENOENT ? "deleted" : "replaced");
}

/* Takes an idle connection, opens a new one while the pool has room, or
 * waits for one to come back. The file is checked first, and a new
 * connection is checked again after it opened (the file may have been
 * replaced between the two). */
static enum bk_err conn_acquire(struct sq_store *s, struct sq_conn **out,
                                struct bk_errbuf *err)
{
    enum bk_err e;

    *out = NULL;
    e = file_check(s, err);
    if (e)
        return e;
    pthread_mutex_lock(&s->mu);
    while (s->n_idle == 0 && s->n_open >= s->pool_size)
        pthread_cond_wait(&s->cv, &s->mu);
    if (s->n_idle > 0) {
        *out = s->idle[--s->n_idle];
        pthread_mutex_unlock(&s->mu);
        return BK_OK;
    }
    s->n_open++;
    pthread_mutex_unlock(&s->mu);

    e = conn_open(s->path, false, out, err);
    if (e == BK_OK) {
        e = file_check(s, err);
        if (e) {
            conn_close(*out);
            *out = NULL;
        }
    } else if (file_check(s, NULL) != BK_OK) {
        e = bk_fail(err, BK_E_UNAVAILABLE,
                    "the database file was deleted or replaced while "
                    "bookingd ran");
    }
    if (e) {
        pthread_mutex_lock(&s->mu);
        s->n_open--;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    return e;
}

/* Returns c to the pool, or closes it when it cannot be reused (its
 * transaction could not be ended). */
static void conn_release(struct sq_store *s, struct sq_conn *c, bool discard)
{
    sqlite3_stmt *st = NULL;

    /* Statements left mid-step would hold the snapshot open. */
    while ((st = sqlite3_next_stmt(c->db, st)))
        if (sqlite3_stmt_busy(st))
            sqlite3_reset(st);
    if (!discard && !sqlite3_get_autocommit(c->db))
        discard = true;
    if (discard)
        conn_close(c);
    pthread_mutex_lock(&s->mu);
    if (discard)
        s->n_open--;
    else
        s->idle[s->n_idle++] = c;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void write_lock(struct sq_store *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->writing)
        pthread_cond_wait(&s->cv, &s->mu);
    s->writing = true;
    pthread_mutex_unlock(&s->mu);
}

static void write_unlock(struct sq_store *s)
{
    pthread_mutex_lock(&s->mu);
    s->writing = false;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- Transactions ------------------------------------------------------ */

static enum bk_err sq_begin(struct bk_store *store, enum bk_tx_mode mode,
                            struct bk_tx **out, struct bk_errbuf *err)
{
    struct sq_store *s = (struct sq_store *)store;
    struct sq_conn *c = NULL;
    struct sq_tx *tx;
    bool locked = false;
    enum bk_err e;
    int rc;

    *out = NULL;
    if (is_write(mode)) {
        write_lock(s);
        locked = true;
    }
    e = conn_acquire(s, &c, err);
    if (e)
        goto out;
    /* A lease's write need not wait for the disk; every other commit
     * does (a pragma outside a transaction, per connection). */
    if (is_write(mode) && c->relaxed != (mode == BK_TX_LEASE)) {
        rc = sqlite3_exec(c->db,
                          mode == BK_TX_LEASE ? "PRAGMA synchronous = NORMAL"
                                              : "PRAGMA synchronous = FULL",
                          NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            e = sq_error(c->db, rc, "setting the commit's durability", err);
            goto out;
        }
        c->relaxed = mode == BK_TX_LEASE;
    }
    rc = sqlite3_exec(c->db, is_write(mode) ? "BEGIN IMMEDIATE" : "BEGIN", NULL,
                      NULL, NULL);
    if (rc != SQLITE_OK) {
        e = sq_error(c->db, rc, "beginning a transaction", err);
        goto out;
    }
    tx = bk_xcalloc(1, sizeof(*tx));
    tx->base.drv = &bk_driver_sqlite;
    tx->base.mode = mode;
    tx->base.dialect = BK_DIALECT_SQLITE;
    tx->store = s;
    tx->conn = c;
    *out = &tx->base;
    c = NULL;
    locked = false;
out:
    if (c)
        conn_release(s, c, false);
    if (locked)
        write_unlock(s);
    return e;
}

/* Rolls back (unless SQLite already did) and ends tx. */
static void sq_rollback(struct bk_tx *t)
{
    struct sq_tx *tx = sq_txof(t);
    struct sq_store *s;
    sqlite3 *db;

    if (!tx)
        return;
    s = tx->store;
    db = tx->conn->db;
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    conn_release(s, tx->conn, false);
    if (is_write(tx->base.mode))
        write_unlock(s);
    free(tx);
}

static enum bk_err sq_commit(struct bk_tx *t, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    struct sq_store *s = tx->store;
    enum bk_err e = BK_OK;
    int rc;

    if (t->broken) {
        e = bk_fail(err, BK_E_IO,
                    "the transaction was rolled back after an earlier "
                    "database error");
        goto fail;
    }
    rc = sqlite3_exec(tx->conn->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        e = sq_error(tx->conn->db, rc, "committing", err);
        goto fail;
    }
    conn_release(s, tx->conn, false);
    if (is_write(t->mode))
        write_unlock(s);
    free(tx);
    return BK_OK;
fail:
    sq_rollback(t);
    return e;
}

/* Write transactions are serialized already: every lock is held. */
static enum bk_err sq_lock(struct bk_tx *tx, enum bk_lock_space space,
                           int64_t key, struct bk_errbuf *err)
{
    if (!is_write(tx->mode))
        return bk_fail(err, BK_E_INTERNAL, "a lock needs a write transaction");
    return BK_OK;
}

static enum bk_err sq_try_lock(struct bk_tx *tx, enum bk_lock_space space,
                               int64_t key, bool *got, struct bk_errbuf *err)
{
    *got = false;
    if (!is_write(tx->mode))
        return bk_fail(err, BK_E_INTERNAL, "a lock needs a write transaction");
    *got = true;
    return BK_OK;
}

/* ---- Migrations -------------------------------------------------------- */

static enum bk_err sq_version_get(struct bk_tx *t, int *version,
                                  struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    char text[32];
    int rc =
        pragma_text(tx->conn->db, "PRAGMA user_version", text, sizeof(text));

    if (rc != SQLITE_OK)
        return sq_error(tx->conn->db, rc, "reading the schema version", err);
    *version = (int)strtol(text, NULL, 10);
    return BK_OK;
}

static enum bk_err sq_exec_script(struct bk_tx *t, const char *sql,
                                  struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    char *msg = NULL;
    int rc = sqlite3_exec(tx->conn->db, sql, NULL, NULL, &msg);
    enum bk_err e = BK_OK;

    if (rc != SQLITE_OK) {
        t->broken = true;
        e = bk_fail(err, (rc & 0xff) == SQLITE_BUSY ? BK_E_BUSY : BK_E_IO, "%s",
                    msg ? msg : sqlite3_errstr(rc));
    }
    sqlite3_free(msg);
    return e;
}

static enum bk_err sq_version_set(struct bk_tx *t, int version,
                                  struct bk_errbuf *err)
{
    char sql[64];

    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
    return sq_exec_script(t, sql, err);
}

/* ---- Statements -------------------------------------------------------- */

static enum bk_err sq_prepare(struct bk_tx *t, int id, const char *sql,
                              struct bk_stmt **out, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    struct sq_conn *c = tx->conn;
    struct bk_stmt *s;
    int rc;

    *out = NULL;
    if (id < 0 || id >= BK_STMT_MAX)
        return bk_fail(err, BK_E_INTERNAL, "statement id %d out of range", id);
    s = c->stmt[id];
    if (s) {
        /* One name, one text: a second call site reusing a name would get
         * the other site's statement. */
        if (s->sql != sql && strcmp(s->sql, sql) != 0)
            return bk_fail(err, BK_E_INTERNAL,
                           "statement %d prepared from two texts", id);
        s->bind_rc = SQLITE_OK;
        *out = s;
        return BK_OK;
    }
    s = bk_xcalloc(1, sizeof(*s));
    rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st,
                            NULL);
    if (rc != SQLITE_OK) {
        enum bk_err e = sq_error(c->db, rc, "preparing a statement", err);
        sqlite3_finalize(s->st);
        free(s);
        return e;
    }
    s->sql = sql;
    s->conn = c;
    c->stmt[id] = s;
    *out = s;
    return BK_OK;
}

static void sq_reset(struct bk_stmt *s)
{
    sqlite3_reset(s->st);
    sqlite3_clear_bindings(s->st);
    s->bind_rc = SQLITE_OK;
}

static void note_bind(struct bk_stmt *s, int rc)
{
    if (rc != SQLITE_OK && s->bind_rc == SQLITE_OK)
        s->bind_rc = rc;
}

static void sq_bind_null(struct bk_stmt *s, int i, int type)
{
    note_bind(s, sqlite3_bind_null(s->st, i));
}

static void sq_bind_i64(struct bk_stmt *s, int i, int64_t v)
{
    note_bind(s, sqlite3_bind_int64(s->st, i, v));
}

static void sq_bind_text(struct bk_stmt *s, int i, const char *p, size_t n)
{
    if (n > (size_t)0x7fffffff) {
        note_bind(s, SQLITE_TOOBIG);
        return;
    }
    note_bind(s, sqlite3_bind_text(s->st, i, p, (int)n, SQLITE_STATIC));
}

static void sq_bind_blob(struct bk_stmt *s, int i, const void *p, size_t n)
{
    if (n > (size_t)0x7fffffff) {
        note_bind(s, SQLITE_TOOBIG);
        return;
    }
    note_bind(s, sqlite3_bind_blob(s->st, i, p, (int)n, SQLITE_STATIC));
}

static enum bk_err sq_step(struct bk_tx *t, struct bk_stmt *s, bool *row,
                           const char *what, struct bk_errbuf *err)
{
    sqlite3 *db = s->conn->db;
    enum bk_err e;
    int rc;

    *row = false;
    if (s->bind_rc != SQLITE_OK) {
        rc = s->bind_rc;
        s->bind_rc = SQLITE_OK;
        t->broken = true;
        return sq_error(db, rc, what, err);
    }
    rc = sqlite3_step(s->st);
    if (rc == SQLITE_ROW) {
        *row = true;
        return BK_OK;
    }
    if (rc == SQLITE_DONE)
        return BK_OK;
    /* sqlite3_step reports the extended code with extended_result_codes
     * on; the message belongs to the statement's connection. Any error
     * ends the transaction's useful life (store/driver.h), as it does on
     * PostgreSQL. */
    e = sq_error(db, rc, what, err);
    sqlite3_reset(s->st);
    t->broken = true;
    return e;
}

static bool sq_col_null(struct bk_stmt *s, int i)
{
    return sqlite3_column_type(s->st, i) == SQLITE_NULL;
}

static int64_t sq_col_i64(struct bk_stmt *s, int i)
{
    return sqlite3_column_int64(s->st, i);
}

static const char *sq_col_text(struct bk_stmt *s, int i, size_t *n)
{
    const unsigned char *p = sqlite3_column_text(s->st, i);

    *n = (size_t)sqlite3_column_bytes(s->st, i);
    return (const char *)p;
}

static const void *sq_col_blob(struct bk_stmt *s, int i, size_t *n)
{
    const void *p = sqlite3_column_blob(s->st, i);

    *n = (size_t)sqlite3_column_bytes(s->st, i);
    return p;
}

static int64_t sq_changes(struct bk_stmt *s)
{
    return sqlite3_changes64(s->conn->db);
}

/* ---- Lifetime ---------------------------------------------------------- */

static void sq_free(struct bk_store *store)
{
    struct sq_store *s = (struct sq_store *)store;

    if (!s)
        return;
    for (int i = 0; i < s->n_idle; i++)
        conn_close(s->idle[i]);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->idle);
    if (s->lock_fd >= 0)
        (void)close(s->lock_fd);
    free(s->path);
    free(s);
}

static enum bk_err sq_open(const char *url, int pool_size,
                           struct bk_store **out, struct bk_errbuf *err)
{
    struct sq_store *s = NULL;
    struct sq_conn *c = NULL;
    const char *path;
    struct stat sb;
    enum bk_err e = BK_OK;
    int lock_fd = -1;

    *out = NULL;
    if (!url || strncmp(url, schemes[0], strlen(schemes[0])) != 0)
        return bk_fail(err, BK_E_CONFIG, "not a sqlite: URL");
    path = url + strlen(schemes[0]);
    if (!*path)
        return bk_fail(err, BK_E_CONFIG,
                       "the database URL sqlite: names no file "
                       "(expected sqlite:PATH)");
    if (strcmp(path, ":memory:") == 0)
        return bk_fail(err, BK_E_CONFIG,
                       "sqlite::memory: cannot be used: the connections of "
                       "a pool cannot share an in-memory database; use "
                       "sqlite:PATH");
    /* Debian's SQLite reads "file:" names as URIs, where mode=memory and
     * other options would slip past the checks above. */
    if (strncmp(path, "file:", 5) == 0)
        return bk_fail(err, BK_E_CONFIG,
                       "SQLite URI file names (sqlite:file:...) are not "
                       "supported; use sqlite:PATH");
    if (pool_size < 1 || pool_size > MAX_POOL)
        return bk_fail(err, BK_E_CONFIG,
                       "database pool size %d is out of range (1..%d)",
                       pool_size, MAX_POOL);

    /* Open one connection now, so that a bad path fails here and not at
     * the first request. */
    e = conn_open(path, true, &c, err);
    if (e)
        goto out;
    /* The file it opened (created, maybe): the one every later connection
     * must find at this path. */
    lock_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (lock_fd < 0 || fstat(lock_fd, &sb) != 0) {
        e = bk_fail(err, BK_E_IO,
                    "cannot open database %s: the file "
                    "vanished as it was opened",
                    path);
        goto out;
    }
    if (flock(lock_fd, LOCK_SH | LOCK_NB) != 0) {
        e = bk_fail(err, BK_E_BUSY,
                    "cannot open database %s: bookingd restore is "
                    "replacing it",
                    path);
        goto out;
    }
    s = bk_xcalloc(1, sizeof(*s));
    s->base.drv = &bk_driver_sqlite;
    s->path = bk_xstrdup(path);
    s->dev = sb.st_dev;
    s->ino = sb.st_ino;
    s->lock_fd = lock_fd;
    lock_fd = -1;
    s->pool_size = pool_size;
    s->idle = bk_xcalloc((size_t)pool_size, sizeof(*s->idle));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->idle[s->n_idle++] = c;
    s->n_open = 1;
    c = NULL;
    *out = &s->base;
out:
    conn_close(c);
    if (lock_fd >= 0) /* after the connection: see lock_fd */
        (void)close(lock_fd);
    return e;
}

static enum bk_err sq_ping(struct bk_store *store, struct bk_errbuf *err)
{
    struct sq_store *s = (struct sq_store *)store;
    struct sq_conn *c = NULL;
    enum bk_err e;
    int rc;

    e = conn_acquire(s, &c, err);
    if (e)
        return e;
    /* Reads the schema page, so the file itself must answer. */
    rc = sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL,
                      NULL);
    if (rc != SQLITE_OK)
        e = sq_error(c->db, rc, "pinging the database", err);
    conn_release(s, c, false);
    return e;
}

/* Copies a check's report into out as one line: without the "*** in
 * database main ***" heading, line breaks as "; ". */
static void one_line(const char *t, char *out, size_t size)
{
    static const char heading[] = "*** in database main ***";
    size_t n = 0;

    if (strncmp(t, heading, sizeof(heading) - 1) == 0)
        t += sizeof(heading) - 1;
    while (*t == '\n' || *t == ' ')
        t++;
    for (; *t && n + 3 < size; t++) {
        if (*t == '\n') {
            out[n++] = ';';
            out[n++] = ' ';
        } else if ((unsigned char)*t >= 0x20) {
            out[n++] = *t;
        }
    }
    out[n] = '\0';
}

/* PRAGMA quick_check or integrity_check: "ok", or one row per problem.
 * The first problem goes into the message. */
static enum bk_err sq_check(struct bk_store *store, bool full,
                            struct bk_errbuf *err)
{
    struct sq_store *s = (struct sq_store *)store;
    const char *pragma = full ? "integrity_check" : "quick_check";
    struct sq_conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum bk_err e;
    char sql[64];
    int rc, problems = 0;
    char first[160] = "";

    e = conn_acquire(s, &c, err);
    if (e)
        return e;
    snprintf(sql, sizeof(sql), "PRAGMA %s", pragma);
    rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(st, 0);
            if (t && strcmp((const char *)t, "ok") != 0 && !problems++)
                one_line((const char *)t, first, sizeof(first));
        }
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    /* Damage bad enough stops the check itself: that is damage too. */
    if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
        if (!problems++)
            snprintf(first, sizeof(first), "%s", sqlite3_errmsg(c->db));
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        e = sq_error(c->db, rc, "checking the database", err);
    else if (problems)
        e = bk_fail(err, BK_E_IO,
                    "the database is damaged: PRAGMA %s found %d problem%s, "
                    "the first: %s",
                    pragma, problems, problems == 1 ? "" : "s", first);
    sqlite3_finalize(st);
    conn_release(s, c, false);
    return e;
}

/* ---- Backup and restore ------------------------------------------------- */

/* Runs the check of sq_check on any connection: BK_OK, or BK_E_INVALID
 * naming the first problem. */
static enum bk_err quick_check(sqlite3 *db, const char *what,
                               struct bk_errbuf *err)
{
    sqlite3_stmt *st = NULL;
    char first[160] = "";
    int rc, problems = 0;

    rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(st, 0);
            if (t && strcmp((const char *)t, "ok") != 0 && !problems++)
                one_line((const char *)t, first, sizeof(first));
        }
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK && !problems++)
        one_line(sqlite3_errmsg(db), first, sizeof(first));
    sqlite3_finalize(st);
    if (problems)
        return bk_fail(err, BK_E_INVALID, "%s is damaged: %s", what, first);
    return BK_OK;
}

static enum bk_err sq_backup(struct bk_store *store, const char *dest_path,
                             struct bk_errbuf *err)
{
    struct sq_store *s = (struct sq_store *)store;
    struct sq_conn *c = NULL;
    sqlite3 *dest = NULL;
    sqlite3_backup *b = NULL;
    struct stat sb;
    bool created = false;
    enum bk_err e;
    int rc, fd;

    if (lstat(dest_path, &sb) == 0)
        return bk_fail(err, BK_E_DUPLICATE,
                       "%s exists; bookingd backup writes a new file",
                       dest_path);
    e = conn_acquire(s, &c, err);
    if (e)
        return e;
    rc = sqlite3_open_v2(
        dest_path, &dest,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        created = true;
    /* A file of its own: no -wal beside it; FULL sync of its commit. */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(dest,
                          "PRAGMA journal_mode = DELETE;"
                          "PRAGMA synchronous = FULL;",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        e = bk_fail(err, BK_E_IO, "cannot create %s: %s", dest_path,
                    dest ? sqlite3_errmsg(dest) : sqlite3_errstr(rc));
        goto out;
    }
    /* One step of all pages: one read transaction of the source, so the
     * copy is one commit's state; writers go on meanwhile (WAL). */
    b = sqlite3_backup_init(dest, "main", c->db, "main");
    if (!b) {
        e = bk_fail(err, BK_E_IO, "cannot back up to %s: %s", dest_path,
                    sqlite3_errmsg(dest));
        goto out;
    }
    while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY ||
           rc == SQLITE_LOCKED)
        sqlite3_sleep(20);
    rc = sqlite3_backup_finish(b);
    b = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(dest, "PRAGMA journal_mode = DELETE", NULL, NULL,
                          NULL);
    if (rc != SQLITE_OK) {
        e = bk_fail(err, BK_E_IO, "cannot back up to %s: %s", dest_path,
                    sqlite3_errmsg(dest));
        goto out;
    }
    e = quick_check(dest, "the copy", err);
    if (e)
        goto out;
    sqlite3_close_v2(dest);
    dest = NULL;
    /* SQLite synced the file; the directory entry of a new file too. */
    fd = open(dest_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        e = bk_fail(err, BK_E_IO, "cannot sync %s: %s", dest_path,
                    strerror(errno));
        if (fd >= 0)
            (void)close(fd);
        goto out;
    }
    (void)close(fd);
    {
        char dir[4096];
        dir_of(dest_path, dir, sizeof(dir));
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd);
            (void)close(fd);
        }
    }
out:
    if (b)
        sqlite3_backup_finish(b);
    sqlite3_close_v2(dest);
    if (e && created)
        (void)unlink(dest_path);
    conn_release(s, c, false);
    return e;
}

/* Checks that the file at path is a bookingd database this build can run:
 * a SQLite file, with a schema version 1..the latest known and the meta
 * table, that passes quick_check. */
static enum bk_err check_backup(const char *path, struct bk_errbuf *err)
{
    sqlite3 *db = NULL;
    char text[32];
    struct stat sb;
    int64_t version = 0;
    enum bk_err e = BK_OK;
    int rc;

    if (stat(path, &sb) != 0)
        return bk_fail(err, BK_E_INVALID, "cannot read %s: %s", path,
                       strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return bk_fail(err, BK_E_INVALID, "%s is not a regular file", path);
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc == SQLITE_OK)
        rc = pragma_text(db, "PRAGMA user_version", text, sizeof(text));
    if (rc != SQLITE_OK) {
        e = bk_fail(err, BK_E_INVALID, "%s is not a SQLite database (%s)", path,
                    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto out;
    }
    version = strtoll(text, NULL, 10);
    rc = pragma_text(db,
                     "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
                     "AND name = 'meta'",
                     text, sizeof(text));
    if (version <= 0 || rc != SQLITE_OK || strcmp(text, "1") != 0) {
        e = bk_fail(err, BK_E_INVALID,
                    "%s is not a bookingd database (no schema version or "
                    "no meta table)",
                    path);
        goto out;
    }
    if (version > bk_sqlite_migrations_count) {
        e = bk_fail(err, BK_E_INVALID,
                    "%s has schema version %lld, newer than this bookingd "
                    "knows (%d): restore it with the bookingd that made it",
                    path, (long long)version, bk_sqlite_migrations_count);
        goto out;
    }
    e = quick_check(db, path, err);
out:
    sqlite3_close_v2(db);
    return e;
}

static enum bk_err sq_restore(struct bk_store *store, const char *src_path,
                              struct bk_errbuf *err)
{
    struct sq_store *s = (struct sq_store *)store;
    struct sq_conn *c = NULL;
    sqlite3 *src = NULL;
    sqlite3_backup *b = NULL;
    enum bk_err e;
    int rc;

    /* Every other process that has the file open holds it shared. */
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return bk_fail(err, BK_E_BUSY,
                       "%s is in use by another bookingd process (a running "
                       "daemon, or apply or migrate): stop it first",
                       s->path);
    e = check_backup(src_path, err);
    if (e)
        goto out;
    e = conn_acquire(s, &c, err);
    if (e)
        goto out;
    rc = sqlite3_open_v2(src_path, &src,
                         SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    /* One write transaction on the database: all or nothing. */
    b = rc == SQLITE_OK ? sqlite3_backup_init(c->db, "main", src, "main")
                        : NULL;
    if (b) {
        while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY ||
               rc == SQLITE_LOCKED)
            sqlite3_sleep(20);
        rc = sqlite3_backup_finish(b);
    } else if (rc == SQLITE_OK) {
        rc = sqlite3_errcode(c->db);
    }
    if (rc != SQLITE_OK)
        e = bk_fail(err, BK_E_IO, "cannot restore %s into %s: %s", src_path,
                    s->path,
                    sqlite3_errmsg(b     ? c->db
                                   : src ? src
                                         : c->db));
    if (!e)
        e = quick_check(c->db, "the restored database", err);
    conn_release(s, c, e != BK_OK);
out:
    sqlite3_close_v2(src);
    (void)flock(s->lock_fd, LOCK_SH);
    return e;
}

/* ---- The table --------------------------------------------------------- */

const struct bk_driver bk_driver_sqlite = {
    .name = "sqlite",
    .schemes = schemes,
    .dialect = BK_DIALECT_SQLITE,
    .migrations = bk_sqlite_migrations,
    .n_migrations = &bk_sqlite_migrations_count,
    .open = sq_open,
    .free = sq_free,
    .ping = sq_ping,
    .check = sq_check,
    .backup = sq_backup,
    .restore = sq_restore,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .lock = sq_lock,
    .try_lock = sq_try_lock,
    .version_get = sq_version_get,
    .version_set = sq_version_set,
    .exec_script = sq_exec_script,
    .prepare = sq_prepare,
    .reset = sq_reset,
    .bind_null = sq_bind_null,
    .bind_i64 = sq_bind_i64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .step = sq_step,
    .col_null = sq_col_null,
    .col_i64 = sq_col_i64,
    .col_text = sq_col_text,
    .col_blob = sq_col_blob,
    .changes = sq_changes,
};
