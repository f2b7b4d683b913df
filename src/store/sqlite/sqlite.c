/* store/sqlite/sqlite.c — the SQLite backend: connection pool,
 * transactions, migrations and the dispatch table (store/backend.h).
 * The SQL of each area lives in catalog.c, bookings.c and queue.c; the
 * schema in schema.c; statement helpers in stmt.c.
 *
 * Concurrency: a pool of up to pool_size connections, opened lazily, each
 * used by one thread at a time (SQLITE_OPEN_NOMUTEX). Write transactions
 * take the store's write lock from begin to commit or rollback, then
 * BEGIN IMMEDIATE, so writes of this process run one at a time and other
 * processes (bookingd apply) wait for the file lock through busy_timeout.
 * Read transactions are deferred BEGINs: in WAL mode they see a snapshot
 * and never wait for a writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fault.h"
#include "base/mem.h"
#include "store/sqlite/internal.h"
#include "base/banned.h"

#define SCHEME          "sqlite:"
#define MAX_POOL        64
#define BUSY_TIMEOUT_MS 5000

/* ---- Connections ------------------------------------------------------- */

static void conn_close(struct sq_conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < SQ_STMT_COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    sqlite3_close_v2(c->db);
    free(c);
}

/* Explains a failed open: a missing directory is the usual cause. */
static enum bk_err open_failed(const char *path, sqlite3 *db, int rc,
                               struct bk_errbuf *err)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    struct stat sb;

    if (slash && (size_t)(slash - path) < sizeof(dir)) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    } else {
        dir[0] = '.';
        dir[1] = '\0';
    }
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return bk_fail(err, BK_E_IO,
                       "cannot open database %s: directory %s does not exist",
                       path, dir);
    return bk_fail(err, BK_E_IO, "cannot open database %s: %s", path,
                   db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

/* Runs a PRAGMA that answers one row and returns its text in out. */
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

static enum bk_err conn_open(const char *path, struct sq_conn **out,
                             struct bk_errbuf *err)
{
    struct sq_conn *c = bk_xcalloc(1, sizeof(*c));
    enum bk_err e = BK_OK;
    char mode[32];
    int rc;

    *out = NULL;
    rc = sqlite3_open_v2(
        path, &c->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        e = open_failed(path, c->db, rc, err);
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    /* The first statement reads the file: a file that is not a database
     * fails here. */
    rc = pragma_text(c->db, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
    if (rc != SQLITE_OK) {
        e = bk_fail(err, rc == SQLITE_BUSY ? BK_E_BUSY : BK_E_IO,
                    "cannot open database %s: %s", path, sqlite3_errmsg(c->db));
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

/* Takes an idle connection, opens a new one while the pool has room, or
 * waits for one to come back. */
static enum bk_err conn_acquire(struct sq_store *s, struct sq_conn **out,
                                struct bk_errbuf *err)
{
    enum bk_err e;

    *out = NULL;
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

    e = conn_open(s->path, out, err);
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

static enum bk_err tx_start(struct sq_store *s, enum bk_tx_mode mode,
                            struct sq_tx **out, struct bk_errbuf *err)
{
    struct sq_conn *c = NULL;
    bool locked = false;
    enum bk_err e;
    int rc;

    *out = NULL;
    if (mode == BK_TX_WRITE) {
        write_lock(s);
        locked = true;
    }
    e = conn_acquire(s, &c, err);
    if (e)
        goto out;
    rc = sqlite3_exec(c->db, mode == BK_TX_WRITE ? "BEGIN IMMEDIATE" : "BEGIN",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        e = sq_error(c->db, rc, "beginning a transaction", err);
        goto out;
    }
    *out = bk_xcalloc(1, sizeof(**out));
    (*out)->base.vt = &bk_store_sqlite;
    (*out)->base.mode = mode;
    (*out)->store = s;
    (*out)->conn = c;
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
static void tx_abort(struct sq_tx *tx)
{
    struct sq_store *s = tx->store;
    sqlite3 *db = tx->conn->db;

    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    conn_release(s, tx->conn, false);
    if (tx->base.mode == BK_TX_WRITE)
        write_unlock(s);
    free(tx);
}

/* Commits and ends tx; on failure rolls back. */
static enum bk_err tx_finish(struct sq_tx *tx, bool faults,
                             struct bk_errbuf *err)
{
    struct sq_store *s = tx->store;
    enum bk_err e = BK_OK;
    int rc;

    if (tx->broken) {
        e = bk_fail(err, BK_E_IO,
                    "the transaction was rolled back after an earlier "
                    "database error");
        goto fail;
    }
    if (faults && tx->base.mode == BK_TX_WRITE && bk_fault("store.commit")) {
        e = bk_fail(err, BK_E_IO, "commit failed (fault point store.commit)");
        goto fail;
    }
    rc = sqlite3_exec(tx->conn->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        e = sq_error(tx->conn->db, rc, "committing", err);
        goto fail;
    }
    conn_release(s, tx->conn, false);
    if (tx->base.mode == BK_TX_WRITE)
        write_unlock(s);
    free(tx);
    return BK_OK;
fail:
    tx_abort(tx);
    return e;
}

static enum bk_err sq_begin(struct bk_store *store, enum bk_tx_mode mode,
                            struct bk_tx **out, struct bk_errbuf *err)
{
    struct sq_tx *tx = NULL;
    enum bk_err e;

    *out = NULL;
    if (bk_fault("store.begin"))
        return bk_fail(err, BK_E_IO,
                       "cannot begin a transaction (fault point "
                       "store.begin)");
    e = tx_start((struct sq_store *)store, mode, &tx, err);
    if (e == BK_OK)
        *out = &tx->base;
    return e;
}

static enum bk_err sq_commit(struct bk_tx *tx, struct bk_errbuf *err)
{
    return tx_finish(sq_txof(tx), true, err);
}

static void sq_rollback(struct bk_tx *tx)
{
    tx_abort(sq_txof(tx));
}

/* SQLite runs one write transaction at a time: a slot claim is serialized
 * by the write lock already. */
static enum bk_err sq_host_lock(struct bk_tx *tx, int64_t host_id,
                                struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL,
                       "bk_store_host_lock needs a write transaction");
    return BK_OK;
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
    free(s->path);
    free(s);
}

static enum bk_err sq_open(const char *url, int pool_size,
                           struct bk_store **out, struct bk_errbuf *err)
{
    struct sq_store *s = NULL;
    struct sq_conn *c = NULL;
    const char *path;
    enum bk_err e = BK_OK;

    *out = NULL;
    if (!url || strncmp(url, SCHEME, strlen(SCHEME)) != 0)
        return bk_fail(err, BK_E_CONFIG, "not a sqlite: URL");
    path = url + strlen(SCHEME);
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
    e = conn_open(path, &c, err);
    if (e)
        goto out;
    s = bk_xcalloc(1, sizeof(*s));
    s->base.vt = &bk_store_sqlite;
    s->path = bk_xstrdup(path);
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
    return e;
}

/* ---- Migrations -------------------------------------------------------- */

static enum bk_err read_version(sqlite3 *db, int *version,
                                struct bk_errbuf *err)
{
    char text[32];
    int rc = pragma_text(db, "PRAGMA user_version", text, sizeof(text));

    if (rc != SQLITE_OK)
        return sq_error(db, rc, "reading the schema version", err);
    *version = (int)strtol(text, NULL, 10);
    return BK_OK;
}

static enum bk_err sq_migrate(struct bk_store *store, int *from, int *to,
                              struct bk_errbuf *err)
{
    struct sq_store *s = (struct sq_store *)store;
    struct sq_tx *tx = NULL;
    enum bk_err e = BK_OK;
    int first = -1, v = 0, rc;
    char *msg = NULL;
    char sql[64];

    for (;;) {
        e = tx_start(s, BK_TX_WRITE, &tx, err);
        if (e)
            goto out;
        /* Read inside BEGIN IMMEDIATE: another process that migrated
         * meanwhile is seen here, and nobody migrates while we do. */
        e = read_version(tx->conn->db, &v, err);
        if (e)
            goto out;
        if (first < 0)
            first = v;
        if (v > sq_migration_count) {
            e = bk_fail(err, BK_E_CONFIG,
                        "database schema version %d is newer than this "
                        "build (%d)",
                        v, sq_migration_count);
            goto out;
        }
        if (v == sq_migration_count)
            break;
        rc = sqlite3_exec(tx->conn->db, sq_migrations[v], NULL, NULL, &msg);
        if (rc == SQLITE_OK) {
            snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
            rc = sqlite3_exec(tx->conn->db, sql, NULL, NULL, &msg);
        }
        if (rc != SQLITE_OK) {
            e = bk_fail(err, (rc & 0xff) == SQLITE_BUSY ? BK_E_BUSY : BK_E_IO,
                        "migration to schema version %d failed: %s", v + 1,
                        msg ? msg : sqlite3_errstr(rc));
            goto out;
        }
        e = tx_finish(tx, false, err);
        tx = NULL;
        if (e)
            goto out;
        v++;
    }
out:
    sqlite3_free(msg);
    if (tx)
        tx_abort(tx);
    if (e == BK_OK) {
        if (from)
            *from = first;
        if (to)
            *to = v;
    }
    return e;
}

static enum bk_err sq_version(struct bk_store *store, int *current, int *newest,
                              struct bk_errbuf *err)
{
    struct sq_store *s = (struct sq_store *)store;
    struct sq_conn *c = NULL;
    enum bk_err e;
    int v = 0;

    e = conn_acquire(s, &c, err);
    if (e)
        goto out;
    e = read_version(c->db, &v, err);
    if (e)
        goto out;
    if (current)
        *current = v;
    if (newest)
        *newest = sq_migration_count;
out:
    if (c)
        conn_release(s, c, false);
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
        goto out;
    /* Reads the schema page, so the file itself must answer. */
    rc = sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_schema", NULL, NULL,
                      NULL);
    if (rc != SQLITE_OK)
        e = sq_error(c->db, rc, "pinging the database", err);
out:
    if (c)
        conn_release(s, c, false);
    return e;
}

/* ---- The table --------------------------------------------------------- */

const struct bk_store_backend bk_store_sqlite = {
    .name = "sqlite",
    .scheme = SCHEME,
    .open = sq_open,
    .free = sq_free,
    .rollback = sq_rollback,
    .migrate = sq_migrate,
    .version = sq_version,
    .ping = sq_ping,
    .begin = sq_begin,
    .commit = sq_commit,
    .host_lock = sq_host_lock,
    .meta_get = sq_meta_get,
    .meta_put = sq_meta_put,
    .host_insert = sq_host_insert,
    .host_update = sq_host_update,
    .host_delete = sq_host_delete,
    .host_get = sq_host_get,
    .host_by_slug = sq_host_by_slug,
    .host_by_email = sq_host_by_email,
    .host_list = sq_host_list,
    .schedule_put = sq_schedule_put,
    .schedule_get = sq_schedule_get,
    .event_type_insert = sq_event_type_insert,
    .event_type_update = sq_event_type_update,
    .event_type_delete = sq_event_type_delete,
    .event_type_get = sq_event_type_get,
    .event_type_by_slug = sq_event_type_by_slug,
    .event_type_by_calcom_id = sq_event_type_by_calcom_id,
    .event_type_list = sq_event_type_list,
    .client_insert = sq_client_insert,
    .client_update = sq_client_update,
    .client_get = sq_client_get,
    .client_by_public_id = sq_client_by_public_id,
    .client_by_email = sq_client_by_email,
    .client_list = sq_client_list,
    .booking_insert = sq_booking_insert,
    .booking_update = sq_booking_update,
    .booking_get = sq_booking_get,
    .booking_by_uid = sq_booking_by_uid,
    .booking_list = sq_booking_list,
    .booking_busy = sq_booking_busy,
    .history_append = sq_history_append,
    .history_list = sq_history_list,
    .link_insert = sq_link_insert,
    .link_update = sq_link_update,
    .link_find = sq_link_find,
    .link_list = sq_link_list,
    .activity_append = sq_activity_append,
    .activity_list = sq_activity_list,
    .delivery_insert = sq_delivery_insert,
    .delivery_set_status = sq_delivery_set_status,
    .delivery_get = sq_delivery_get,
    .delivery_by_public_id = sq_delivery_by_public_id,
    .delivery_list = sq_delivery_list,
    .delivery_wake = sq_delivery_wake,
    .job_enqueue = sq_job_enqueue,
    .job_claim = sq_job_claim,
    .job_complete = sq_job_complete,
    .job_fail = sq_job_fail,
    .job_requeue = sq_job_requeue,
    .job_get = sq_job_get,
    .job_next_due = sq_job_next_due,
    .job_counts = sq_job_counts,
};
