/* store/driver.h — the narrow interface a SQL driver implements: a pool of
 * connections, transactions, cached statements (prepare, bind, step,
 * columns), error classes, and the few hooks where dialects differ
 * (locks, the schema version, running a migration script).
 *
 * The typed store functions of store.h are written once, over this
 * interface, in store/{catalog,bookings,queue}.c; a driver knows nothing of
 * hosts or bookings. Two drivers: store/sqlite/ (sqlite3) and
 * store/postgres/ (libpq). Visible to store/ only.
 *
 * SQL text. Statements are written once, in SQL both databases accept, with
 * numbered placeholders ?1, ?2 ... (SQLite's own form); the PostgreSQL
 * driver rewrites them to $1, $2 ... when it prepares (outside string
 * literals and quoted identifiers). Where the dialects must differ, the
 * caller picks the text by tx->dialect (store/sql.h: BK_SQL2).
 *
 * Types. Integers are int64 (BIGINT on PostgreSQL), text is UTF-8, blobs
 * are bytes (BYTEA). A boolean a query computes reads as 0 or 1 through
 * col_i64 on both. "None" is SQL NULL.
 *
 * Errors. step, prepare, begin and commit return:
 * - BK_E_DUPLICATE for a unique violation; the message names the key in
 *   human words when bk_store_unique_what knows it;
 * - BK_E_NOT_FOUND for a foreign key whose row does not exist;
 * - BK_E_INVALID for a CHECK or NOT NULL violation, or text the database
 *   refuses (invalid UTF-8, a NUL byte);
 * - BK_E_SLOT_UNAVAILABLE for the bookings' exclusion constraint
 *   (PostgreSQL: two blocking bookings of one host overlap);
 * - BK_E_SERIALIZATION for a serialization failure or a deadlock: the
 *   database aborted the transaction, and running it again may succeed;
 * - BK_E_BUSY when the database stayed locked past its time-out;
 * - BK_E_STORAGE_FULL when the database has no room to write (SQLite:
 *   SQLITE_FULL, ENOSPC or EDQUOT; PostgreSQL: class 53, insufficient
 *   resources, 53100 disk_full among it);
 * - BK_E_UNAVAILABLE when the database the store opened is gone (SQLite:
 *   the file was deleted or replaced while running);
 * - BK_E_IO for everything else, the connection lost among it.
 * After any error inside a transaction the transaction is broken: every
 * later prepare and the commit fail with BK_E_IO (PostgreSQL aborts the
 * transaction; SQLite may have rolled it back). Nothing catches an error
 * and continues: the caller rolls back, and retries the whole transaction
 * on BK_E_SERIALIZATION. */
#ifndef BK_STORE_DRIVER_H
#define BK_STORE_DRIVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum bk_dialect {
    BK_DIALECT_SQLITE = 0,
    BK_DIALECT_POSTGRES = 1,
};

/* Statement ids are small integers below this bound (store/sql.h names
 * them); a driver caches one prepared statement per id per connection. */
#define BK_STMT_MAX 320

struct bk_driver;
struct bk_stmt; /* a driver's prepared statement, owned by its connection */

/* Whether the database takes writes, as store.c last saw it (GET
 * /readyz): the outcome of the last write probe, and the storage faults
 * (BK_E_STORAGE_FULL, BK_E_UNAVAILABLE) of real writes since. */
struct bk_store_health {
    pthread_mutex_t mu;
    pthread_mutex_t probe_mu; /* one probe at a time */
    int64_t probed_ms;        /* monotonic; 0: probe at the next look */
    enum bk_err probe_e;      /* the last probe's result */
    char probe_msg[256];
    bool failing; /* the last write outcome was a storage fault */
};

/* Drivers embed these as the first member of their own structs; `health`
 * is store.c's (set up by bk_store_open after the driver's open). */
struct bk_store {
    const struct bk_driver *drv;
    struct bk_store_health health;
    /* Errors the driver returned, by class (bk_store_note_error). */
    _Atomic uint64_t errors[BK_STORE_ERROR_CLASSES];
};

struct bk_tx {
    const struct bk_driver *drv;
    struct bk_store *store; /* set by bk_store_begin */
    enum bk_tx_mode mode;
    enum bk_dialect dialect;
    bool broken; /* an error aborted the transaction: only rollback is left */
};

/* A connection of its own that receives notifications (listen_open). */
struct bk_listener {
    const struct bk_driver *drv;
};

/* Notification channels are letters, digits and _, at most this long. */
#define BK_CHANNEL_MAX 63

/* One migration script: the SQL (several statements) that brings schema
 * version `version - 1` to `version`. */
struct bk_migration {
    int version;
    const char *name; /* "001_initial.sql" */
    const char *sql;
};

/* Locks a transaction can take (lock). Keys are int64 within a space. */
enum bk_lock_space {
    BK_LOCK_HOST = 1,      /* slot claims of one host */
    BK_LOCK_MIGRATE = 2,   /* schema migrations (key 0) */
    BK_LOCK_SINGLETON = 3, /* a job kind that runs in one instance at a time */
};

struct bk_driver {
    const char *name;           /* "sqlite", "postgres" */
    const char *const *schemes; /* URL prefixes it opens, NULL-terminated */
    enum bk_dialect dialect;
    /* Versions 1..*n_migrations, generated from the driver's schema/
     * directory by embed_sql.cmake (a pointer: the count is defined in
     * another translation unit). */
    const struct bk_migration *migrations;
    const int *n_migrations;

    /* Opens the pool (connecting once, so that a bad URL fails here).
     * BK_E_CONFIG for a malformed URL, BK_E_IO when the database cannot be
     * reached. Messages never contain a password. */
    enum bk_err (*open)(const char *url, int pool_size, struct bk_store **out,
                        struct bk_errbuf *err);
    void (*free)(struct bk_store *store);
    /* A round trip to the database (GET /readyz). */
    enum bk_err (*ping)(struct bk_store *store, struct bk_errbuf *err);
    /* Checks the database's own structure (SQLite: PRAGMA quick_check, or
     * integrity_check when `full`): BK_E_IO with the first problem named
     * when it is damaged. NULL when the database checks itself
     * (PostgreSQL). Run at start, before anything is written. */
    enum bk_err (*check)(struct bk_store *store, bool full,
                         struct bk_errbuf *err);

    /* Copies the whole database to a new file at dest_path (which must not
     * exist), consistent as of one moment while others keep writing, on
     * disk when it returns; the copy is checked. NULL when the database has
     * tools of its own (PostgreSQL: pg_dump). See bk_store_backup. */
    enum bk_err (*backup)(struct bk_store *store, const char *dest_path,
                          struct bk_errbuf *err);
    /* Replaces the database's whole content with the file at src_path, in
     * one transaction, after checking it. NULL like backup. See
     * bk_store_restore. */
    enum bk_err (*restore)(struct bk_store *store, const char *src_path,
                           struct bk_errbuf *err);

    /* Transactions. READ: a consistent snapshot, writes refused by the
     * database where it can. WRITE: the reads it makes stay true until it
     * commits — SQLite serializes write transactions; PostgreSQL runs them
     * SERIALIZABLE (the loser of a race gets BK_E_SERIALIZATION). QUEUE: a
     * write transaction that needs only row locks (claiming jobs with SKIP
     * LOCKED): READ COMMITTED on PostgreSQL, WRITE on SQLite. The tx is
     * owned by the caller until commit (which ends it, whatever the
     * result) or rollback. The fault points store.begin and store.commit
     * are store.c's, not the driver's. */
    enum bk_err (*begin)(struct bk_store *store, enum bk_tx_mode mode,
                         struct bk_tx **out, struct bk_errbuf *err);
    enum bk_err (*commit)(struct bk_tx *tx, struct bk_errbuf *err);
    void (*rollback)(struct bk_tx *tx);

    /* Takes a lock held until tx ends: a transaction-scoped advisory lock on
     * PostgreSQL; a no-op on SQLite, whose write transactions are
     * serialized already. Needs a WRITE or QUEUE transaction. */
    enum bk_err (*lock)(struct bk_tx *tx, enum bk_lock_space space, int64_t key,
                        struct bk_errbuf *err);
    /* Like lock, but answers at once: *got is false when another
     * transaction (of any instance) holds it. */
    enum bk_err (*try_lock)(struct bk_tx *tx, enum bk_lock_space space,
                            int64_t key, bool *got, struct bk_errbuf *err);

    /* Migrations: the schema version recorded in the database (0 for an
     * empty one), recording a new one, and running one script (several
     * statements, no parameters). Used inside a WRITE transaction that holds
     * BK_LOCK_MIGRATE. */
    enum bk_err (*version_get)(struct bk_tx *tx, int *version,
                               struct bk_errbuf *err);
    enum bk_err (*version_set)(struct bk_tx *tx, int version,
                               struct bk_errbuf *err);
    enum bk_err (*exec_script)(struct bk_tx *tx, const char *sql,
                               struct bk_errbuf *err);

    /* Statements. prepare returns the connection's cached statement `id`,
     * made from `sql` the first time (the text must be the same at every
     * call with this id). The statement is reset and its bindings cleared;
     * it belongs to tx until reset or the next prepare of the same id. */
    enum bk_err (*prepare)(struct bk_tx *tx, int id, const char *sql,
                           struct bk_stmt **out, struct bk_errbuf *err);
    void (*reset)(struct bk_stmt *st);

    /* Binders, 1-based. Text and blobs are borrowed until the statement's
     * last step (callers keep them alive). A binder that fails (too large)
     * records it; the next step reports it. bind_null takes the type the
     * parameter would have (BK_BIND_INT, BK_BIND_TEXT, BK_BIND_BLOB), which
     * PostgreSQL needs to type a NULL. */
    void (*bind_null)(struct bk_stmt *st, int i, int type);
    void (*bind_i64)(struct bk_stmt *st, int i, int64_t v);
    void (*bind_text)(struct bk_stmt *st, int i, const char *s, size_t n);
    void (*bind_blob)(struct bk_stmt *st, int i, const void *p, size_t n);

    /* Runs the statement (first call) or moves to its next row. *row tells
     * whether a row is there to read. `what` names the operation for
     * messages ("inserting a host"). Errors as in the header comment; the
     * tx is then broken. */
    enum bk_err (*step)(struct bk_tx *tx, struct bk_stmt *st, bool *row,
                        const char *what, struct bk_errbuf *err);

    /* Columns of the current row, 0-based. col_text and col_blob point into
     * the driver's row, valid until the next step or reset; *n receives the
     * length in bytes. NULL reads as 0 / NULL. */
    bool (*col_null)(struct bk_stmt *st, int i);
    int64_t (*col_i64)(struct bk_stmt *st, int i);
    const char *(*col_text)(struct bk_stmt *st, int i, size_t *n);
    const void *(*col_blob)(struct bk_stmt *st, int i, size_t *n);

    /* Rows changed by the statement's last run (INSERT, UPDATE, DELETE). */
    int64_t (*changes)(struct bk_stmt *st);

    /* Notifications between the processes sharing a database (PostgreSQL
     * LISTEN/NOTIFY). All four are NULL in a driver whose database belongs
     * to one process (SQLite): there is nobody else to tell.
     *
     * notify: every listener on `channel` (borrowed: a constant; see
     * BK_CHANNEL_MAX) hears once from tx when, and only if, it commits —
     * the notification goes with the COMMIT, so it costs no round trip and
     * nobody hears of what was rolled back. Calling it again is free. A
     * WRITE or QUEUE transaction; a channel the driver cannot take (or a
     * READ transaction) breaks tx: its commit fails. */
    void (*notify)(struct bk_tx *tx, const char *channel);
    /* Opens a connection of its own (outside the pool) listening on
     * channel. BK_E_IO when the database cannot be reached. Returns an
     * owned listener; free with listen_free. One thread at a time. */
    enum bk_err (*listen_open)(struct bk_store *store, const char *channel,
                               struct bk_listener **out, struct bk_errbuf *err);
    /* Waits up to timeout_ms for notifications, returning early when
     * wake_fd (-1: none) becomes readable (the caller drains it). *n gets
     * how many arrived since the last call (0 after a time-out or a wake).
     * BK_E_IO when the connection was lost: free the listener and open
     * another (what was notified meanwhile is not heard). */
    enum bk_err (*listen_wait)(struct bk_listener *l, int wake_fd,
                               int timeout_ms, int *n, struct bk_errbuf *err);
    void (*listen_free)(struct bk_listener *l);
};

enum { BK_BIND_INT = 1, BK_BIND_TEXT = 2, BK_BIND_BLOB = 3 };

extern const struct bk_driver bk_driver_sqlite;
extern const struct bk_driver bk_driver_postgres;

/* Records the outcome of a write for bk_store_ready (store.c): BK_OK for
 * a committed write transaction, or a storage fault (BK_E_STORAGE_FULL,
 * BK_E_UNAVAILABLE) with its message; other errors are not noted. Logs
 * when writes start failing for want of room and when they work again.
 * store may be NULL (a transaction not begun through bk_store_begin). */
void bk_store_note_write(struct bk_store *store, enum bk_err e,
                         const struct bk_errbuf *err);

/* Counts an error the driver returned (prepare, step, begin, commit) in
 * its class (store.h, bk_store_error_counts); BK_OK is not counted. store
 * may be NULL. Lock-free. */
void bk_store_note_error(struct bk_store *store, enum bk_err e);

/* Human words for a unique key, from SQLite's "table.column" form or a
 * PostgreSQL constraint name ("hosts_slug_key"); NULL when unknown. For the
 * drivers' BK_E_DUPLICATE messages. */
const char *bk_store_unique_what(const char *key);

#endif
