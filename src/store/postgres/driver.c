/* store/postgres/driver.c — the PostgreSQL driver (libpq): connection pool,
 * transactions, advisory locks, schema version and migration scripts, and
 * the driver table. Statements, bindings, columns and error classes are in
 * stmt.c; the schema in schema/NNN_name.sql (embedded at build time by
 * store/embed_sql.cmake as bk_postgres_migrations).
 *
 * Concurrency: a pool of up to pool_size connections, opened lazily after
 * the first, each used by one thread at a time. Isolation per transaction
 * mode (driver.h): WRITE runs SERIALIZABLE, so the loser of a race fails
 * with BK_E_SERIALIZATION and the caller runs it again; READ runs
 * REPEATABLE READ, READ ONLY (a snapshot that never fails to serialize
 * and never waits); QUEUE runs READ COMMITTED for FOR UPDATE SKIP LOCKED.
 * Several bookingd processes may share the database: locks are advisory
 * locks of the transaction, seen by every process. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "store/postgres/internal.h"
#include "base/banned.h"

#define MAX_POOL 64
/* libpq waits forever for an unreachable host unless told otherwise. */
#define CONNECT_TIMEOUT_S "10"

extern const struct bk_migration bk_postgres_migrations[];
extern const int bk_postgres_migrations_count;

static const char *const schemes[] = {"postgres://", "postgresql://", NULL};

static const char *const broken_msg =
    "the transaction was rolled back after an earlier database error";

/* ---- Messages ---------------------------------------------------------- */

/* Copies libpq's (multi-line) message into out on one line, with every
 * occurrence of the password replaced, so no message carries it. */
static void clean_message(const char *msg, const char *password, char *out,
                          size_t size)
{
    size_t pw = password ? strlen(password) : 0, o = 0;

    for (const char *p = msg ? msg : ""; *p && o + 1 < size;) {
        if (pw && strncmp(p, password, pw) == 0) {
            for (const char *r = "***"; *r && o + 1 < size; r++)
                out[o++] = *r;
            p += pw;
        } else if (*p == '\n' || *p == '\t' || *p == '\r') {
            if (o > 0 && out[o - 1] != ' ' && p[1])
                out[o++] = ' ';
            p++;
        } else {
            out[o++] = *p++;
        }
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

/* Whether a URL libpq could not parse seems to hold a password (in its
 * user info or as a parameter): then its message may quote it. */
static bool url_may_hold_password(const char *url)
{
    const char *rest = strstr(url, "://");
    size_t auth;

    if (strstr(url, "password"))
        return true;
    if (!rest)
        return false;
    rest += 3;
    auth = strcspn(rest, "/?");
    for (size_t i = 0; i < auth; i++)
        if (rest[i] == '@')
            return memchr(rest, ':', i) != NULL;
    return false;
}

/* libpq prints notices (CREATE ... IF NOT EXISTS skipping) on stderr by
 * default; the daemon has nothing to do with them. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* ---- Connections ------------------------------------------------------- */

static void conn_close(struct pg_conn *c)
{
    if (!c)
        return;
    bk_pg_stmts_release(c, true);
    PQfinish(c->pg);
    free(c);
}

static enum bk_err conn_open(struct pg_store *s, struct pg_conn **out,
                             struct bk_errbuf *err)
{
    const char *keys[5] = {"dbname", NULL, NULL, NULL, NULL};
    const char *vals[5] = {s->url, NULL, NULL, NULL, NULL};
    struct pg_conn *c = bk_xcalloc(1, sizeof(*c));
    char msg[200];
    int k = 1;

    *out = NULL;
    if (s->add_timeout) {
        keys[k] = "connect_timeout";
        vals[k++] = CONNECT_TIMEOUT_S;
    }
    keys[k] = "fallback_application_name";
    vals[k++] = "bookingd";
    /* Text is UTF-8 throughout (driver.h), whatever the URL says. */
    keys[k] = "client_encoding";
    vals[k++] = "UTF8";
    /* expand_dbname: the URL is read as a connection URI; the keys after
     * it override it. */
    c->pg = PQconnectdbParams(keys, vals, 1);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        clean_message(c->pg ? PQerrorMessage(c->pg) : "out of memory",
                      s->password, msg, sizeof(msg));
        conn_close(c);
        return bk_fail(err, BK_E_IO, "cannot connect to the database: %s", msg);
    }
    PQsetNoticeProcessor(c->pg, quiet, NULL);
    *out = c;
    return BK_OK;
}

/* Takes an idle connection, opens a new one while the pool has room, or
 * waits for one to come back. *reused tells whether it came from the idle
 * list (it may have died there: the server restarted, a proxy closed it). */
static enum bk_err conn_acquire(struct pg_store *s, struct pg_conn **out,
                                bool *reused, struct bk_errbuf *err)
{
    enum bk_err e;

    *out = NULL;
    *reused = false;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->n_idle == 0 && s->n_open >= s->pool_size)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->n_idle == 0)
            break;
        *out = s->idle[--s->n_idle];
        if (PQstatus((*out)->pg) == CONNECTION_OK) {
            pthread_mutex_unlock(&s->mu);
            *reused = true;
            return BK_OK;
        }
        /* Known dead: close it and look again. */
        s->n_open--;
        pthread_mutex_unlock(&s->mu);
        conn_close(*out);
        *out = NULL;
        pthread_mutex_lock(&s->mu);
    }
    s->n_open++;
    pthread_mutex_unlock(&s->mu);

    e = conn_open(s, out, err);
    if (e) {
        pthread_mutex_lock(&s->mu);
        s->n_open--;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    return e;
}

/* Returns c to the pool, or closes it when it cannot be reused: lost, or
 * still inside a transaction that could not be ended. */
static void conn_release(struct pg_store *s, struct pg_conn *c)
{
    bool discard = c->bad || PQstatus(c->pg) != CONNECTION_OK ||
                   PQtransactionStatus(c->pg) != PQTRANS_IDLE;

    bk_pg_stmts_release(c, false);
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

/* Runs a one-shot command on c outside any pg_tx (BEGIN, ping). */
static enum bk_err conn_exec(struct pg_conn *c, const char *sql,
                             const char *what, struct bk_errbuf *err)
{
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    enum bk_err e = BK_OK;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        e = bk_pg_error(c, res, what, err);
    PQclear(res);
    return e;
}

/* Acquires a connection and runs `sql` on it. A pooled connection that
 * turns out dead is closed and the next one tried, up to a fresh one: a
 * restarted server costs one failed round trip per idle connection, never
 * an error to the caller. */
static enum bk_err conn_start(struct pg_store *s, const char *sql,
                              const char *what, struct pg_conn **out,
                              struct bk_errbuf *err)
{
    struct pg_conn *c = NULL;
    enum bk_err e = BK_OK;
    bool reused = true;

    *out = NULL;
    for (int tries = 0; reused && tries <= MAX_POOL; tries++) {
        e = conn_acquire(s, &c, &reused, err);
        if (e)
            return e;
        e = conn_exec(c, sql, what, err);
        if (!e) {
            *out = c;
            return BK_OK;
        }
        if (!c->bad)
            break;
        conn_release(s, c);
        c = NULL;
    }
    if (c)
        conn_release(s, c);
    return e;
}

/* ---- Transactions ------------------------------------------------------ */

static const char *begin_sql(enum bk_tx_mode mode)
{
    switch (mode) {
    case BK_TX_WRITE:
        return "BEGIN ISOLATION LEVEL SERIALIZABLE";
    case BK_TX_QUEUE:
    case BK_TX_LEASE:
        return "BEGIN ISOLATION LEVEL READ COMMITTED";
    case BK_TX_READ:
    default:
        return "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
    }
}

static enum bk_err pg_begin(struct bk_store *store, enum bk_tx_mode mode,
                            struct bk_tx **out, struct bk_errbuf *err)
{
    struct pg_store *s = (struct pg_store *)store;
    struct pg_conn *c = NULL;
    struct pg_tx *tx;
    enum bk_err e;

    *out = NULL;
    if (mode != BK_TX_READ && mode != BK_TX_WRITE && mode != BK_TX_QUEUE &&
        mode != BK_TX_LEASE)
        return bk_fail(err, BK_E_INTERNAL, "unknown transaction mode %d",
                       (int)mode);
    e = conn_start(s, begin_sql(mode), "beginning a transaction", &c, err);
    if (e)
        return e;
    tx = bk_xcalloc(1, sizeof(*tx));
    tx->base.drv = &bk_driver_postgres;
    tx->base.mode = mode;
    tx->base.dialect = BK_DIALECT_POSTGRES;
    tx->base.broken = false;
    tx->store = s;
    tx->conn = c;
    *out = &tx->base;
    return BK_OK;
}

/* Rolls back (unless nothing is open) and ends tx. */
static void tx_end(struct pg_tx *tx)
{
    struct pg_conn *c = tx->conn;

    if (!c->bad && PQstatus(c->pg) == CONNECTION_OK &&
        PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        PGresult *res = PQexec(c->pg, "ROLLBACK");
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
            c->bad = true;
        PQclear(res);
    }
    conn_release(tx->store, c);
    free(tx);
}

static void pg_rollback(struct bk_tx *btx)
{
    if (btx)
        tx_end(pg_txof(btx));
}

static enum bk_err pg_commit(struct bk_tx *btx, struct bk_errbuf *err)
{
    struct pg_tx *tx = pg_txof(btx);
    PGresult *res = NULL;
    enum bk_err e = BK_OK;

    if (btx->broken || PQtransactionStatus(tx->conn->pg) == PQTRANS_INERROR) {
        e = bk_fail(err, BK_E_IO, "%s", broken_msg);
        goto out;
    }
    if (tx->n_notify) {
        /* The notifications and the COMMIT in one round trip; PostgreSQL
         * delivers them when (if) the transaction commits. A failure
         * stops the string there, and the transaction is rolled back. */
        char sql[64 + PG_TX_CHANNELS * (BK_CHANNEL_MAX + 24)];
        size_t len = 0;
        for (int i = 0; i < tx->n_notify; i++)
            len += (size_t)snprintf(sql + len, sizeof(sql) - len,
                                    "%s pg_notify('%s', '')",
                                    i ? "," : "SELECT", tx->notify[i]);
        snprintf(sql + len, sizeof(sql) - len, "; COMMIT");
        res = PQexec(tx->conn->pg, sql);
    } else {
        res = PQexec(tx->conn->pg, "COMMIT");
    }
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        e = bk_pg_error(tx->conn, res, "committing", err);
        goto out;
    }
    /* COMMIT of a transaction the server had aborted answers ROLLBACK. */
    if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
        e = bk_fail(err, BK_E_IO, "%s", broken_msg);
out:
    PQclear(res);
    tx_end(tx);
    return e;
}

/* ---- Notifications ----------------------------------------------------- */

/* Whether a channel name can go into SQL as it is. */
static bool channel_ok(const char *channel)
{
    size_t n = 0;

    for (const char *p = channel; p && *p; p++, n++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return n > 0 && n <= BK_CHANNEL_MAX;
}

static void pg_notify(struct bk_tx *btx, const char *channel)
{
    struct pg_tx *tx = pg_txof(btx);

    for (int i = 0; i < tx->n_notify; i++)
        if (strcmp(tx->notify[i], channel) == 0)
            return;
    if (!channel_ok(channel) || tx->n_notify == PG_TX_CHANNELS ||
        btx->mode == BK_TX_READ) {
        btx->broken = true; /* a bug of ours: refuse the commit */
        return;
    }
    tx->notify[tx->n_notify++] = channel;
}

struct pg_listener {
    struct bk_listener base;
    struct pg_conn *conn;
};

static void pg_listen_free(struct bk_listener *bl)
{
    struct pg_listener *l = (struct pg_listener *)bl;

    if (!l)
        return;
    conn_close(l->conn);
    free(l);
}

static enum bk_err pg_listen_open(struct bk_store *store, const char *channel,
                                  struct bk_listener **out,
                                  struct bk_errbuf *err)
{
    struct pg_store *s = (struct pg_store *)store;
    struct pg_listener *l = NULL;
    char sql[BK_CHANNEL_MAX + 16];
    enum bk_err e;

    *out = NULL;
    if (!channel_ok(channel))
        return bk_fail(err, BK_E_INTERNAL, "bad channel name");
    l = bk_xcalloc(1, sizeof(*l));
    l->base.drv = &bk_driver_postgres;
    e = conn_open(s, &l->conn, err);
    if (!e) {
        snprintf(sql, sizeof(sql), "LISTEN %s", channel);
        e = conn_exec(l->conn, sql, "listening for notifications", err);
    }
    if (!e && PQsetnonblocking(l->conn->pg, 1) != 0)
        e = bk_fail(err, BK_E_IO,
                    "cannot make the listening connection "
                    "non-blocking");
    if (e) {
        pg_listen_free(&l->base);
        return e;
    }
    *out = &l->base;
    return BK_OK;
}

/* Counts and frees the notifications libpq has read. */
static int drain_notifies(PGconn *pg)
{
    PGnotify *nf;
    int n = 0;

    while ((nf = PQnotifies(pg)) != NULL) {
        n++;
        PQfreemem(nf);
    }
    return n;
}

static enum bk_err pg_listen_wait(struct bk_listener *bl, int wake_fd,
                                  int timeout_ms, int *n, struct bk_errbuf *err)
{
    struct pg_listener *l = (struct pg_listener *)bl;
    PGconn *pg = l->conn->pg;
    struct pollfd fds[2];
    int sock = PQsocket(pg), rc;

    *n = 0;
    if (sock < 0 || PQstatus(pg) != CONNECTION_OK)
        return bk_fail(err, BK_E_IO, "the listening connection is lost");
    /* What arrived with an earlier read first. */
    *n = drain_notifies(pg);
    if (*n)
        return BK_OK;
    fds[0] = (struct pollfd){.fd = sock, .events = POLLIN};
    fds[1] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
    rc = poll(fds, wake_fd >= 0 ? 2 : 1, timeout_ms);
    if (rc < 0 && errno != EINTR)
        return bk_fail(err, BK_E_IO, "waiting for notifications: %s",
                       strerror(errno));
    if (rc > 0 && fds[0].revents) {
        if (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK)
            return bk_fail(err, BK_E_IO, "the listening connection is lost");
        *n = drain_notifies(pg);
    }
    return BK_OK;
}

/* ---- Locks ------------------------------------------------------------- */

/* One int8 advisory key per (space, key): the space in the top byte. The
 * xor keeps keys of different spaces apart for every key below 2^56. */
static int64_t lock_key(enum bk_lock_space space, int64_t key)
{
    return (int64_t)(((uint64_t)space << 56) ^ (uint64_t)key);
}

/* Runs `SELECT fn(key)` in tx; *result gets its first column. */
static enum bk_err lock_call(struct pg_tx *tx, const char *sql, int64_t key,
                             bool *result, struct bk_errbuf *err)
{
    const char *what = "taking a lock";
    unsigned int types[1] = {PG_INT8};
    char num[24];
    const char *vals[1] = {num};
    PGresult *res;
    enum bk_err e = BK_OK;

    if (tx->base.broken)
        return bk_fail(err, BK_E_IO, "%s", broken_msg);
    if (tx->base.mode == BK_TX_READ) {
        tx->base.broken = true;
        return bk_fail(err, BK_E_INTERNAL,
                       "a lock needs a write or queue transaction");
    }
    snprintf(num, sizeof(num), "%lld", (long long)key);
    res = PQexecParams(tx->conn->pg, sql, 1, types, vals, NULL, NULL, 0);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        e = bk_pg_error(tx->conn, res, what, err);
        tx->base.broken = true;
    } else if (result) {
        *result = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    }
    PQclear(res);
    return e;
}

static enum bk_err pg_lock(struct bk_tx *btx, enum bk_lock_space space,
                           int64_t key, struct bk_errbuf *err)
{
    return lock_call(pg_txof(btx), "SELECT pg_advisory_xact_lock($1)",
                     lock_key(space, key), NULL, err);
}

static enum bk_err pg_try_lock(struct bk_tx *btx, enum bk_lock_space space,
                               int64_t key, bool *got, struct bk_errbuf *err)
{
    *got = false;
    return lock_call(pg_txof(btx), "SELECT pg_try_advisory_xact_lock($1)",
                     lock_key(space, key), got, err);
}

/* ---- Migrations -------------------------------------------------------- */

/* Runs a parameterless query in tx; *res gets its result (owned: free
 * with PQclear) and *rows its number of rows. */
static enum bk_err query_one(struct pg_tx *tx, const char *sql,
                             const char *what, PGresult **res, int *rows,
                             struct bk_errbuf *err)
{
    *res = PQexec(tx->conn->pg, sql);
    *rows = 0;
    if (!*res || PQresultStatus(*res) != PGRES_TUPLES_OK) {
        enum bk_err e = bk_pg_error(tx->conn, *res, what, err);
        tx->base.broken = true;
        PQclear(*res);
        *res = NULL;
        return e;
    }
    *rows = PQntuples(*res);
    return BK_OK;
}

/* The migrator's snapshot. A WRITE transaction is SERIALIZABLE, and its
 * snapshot is taken by its first statement — the lock(BK_LOCK_MIGRATE)
 * that may then wait for another migrator. When it waited, the snapshot
 * predates the other's commit: the rows of schema_version are stale, while
 * the catalog (read with a fresh catalog snapshot) is not. So:
 * - the existence test reads the catalog through to_regclass. Reading
 *   pg_namespace in the same query locks a catalog relation, which makes
 *   the backend take in the invalidations of the other's commit first (its
 *   relation cache could otherwise still say "no such table");
 * - the table exists but our snapshot shows no row: it was created after
 *   the snapshot, by a migrator that has committed — BK_E_SERIALIZATION,
 *   and the caller runs the whole migration step again;
 * - the row was changed after the snapshot: SELECT ... FOR UPDATE fails
 *   with 40001 (BK_E_SERIALIZATION) under REPEATABLE READ and above.
 * READ transactions (a status query) may not lock and just read. */
static enum bk_err pg_version_get(struct bk_tx *btx, int *version,
                                  struct bk_errbuf *err)
{
    struct pg_tx *tx = pg_txof(btx);
    const char *what = "reading the schema version";
    PGresult *res = NULL;
    enum bk_err e;
    int rows;

    *version = 0;
    if (btx->broken)
        return bk_fail(err, BK_E_IO, "%s", broken_msg);
    e = query_one(tx,
                  "SELECT to_regclass('schema_version') IS NOT NULL "
                  "FROM pg_catalog.pg_namespace WHERE nspname = 'pg_catalog'",
                  what, &res, &rows, err);
    if (e)
        return e;
    if (rows != 1 || PQgetvalue(res, 0, 0)[0] != 't')
        goto out;
    PQclear(res);
    e = query_one(tx,
                  btx->mode == BK_TX_READ
                      ? "SELECT version FROM schema_version"
                      : "SELECT version FROM schema_version FOR UPDATE",
                  what, &res, &rows, err);
    if (e)
        return e;
    if (rows == 0 && btx->mode != BK_TX_READ) {
        btx->broken = true;
        e = bk_fail(err, BK_E_SERIALIZATION,
                    "another process migrated the schema meanwhile");
    } else if (rows > 1) {
        btx->broken = true;
        e = bk_fail(err, BK_E_IO, "the table schema_version has %d rows", rows);
    } else if (rows == 1) {
        *version = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    }
out:
    PQclear(res);
    return e;
}

static enum bk_err pg_version_set(struct bk_tx *btx, int version,
                                  struct bk_errbuf *err)
{
    char sql[256];

    if (btx->broken)
        return bk_fail(err, BK_E_IO, "%s", broken_msg);
    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS schema_version ("
             "version integer NOT NULL);"
             "DELETE FROM schema_version;"
             "INSERT INTO schema_version (version) VALUES (%d)",
             version);
    return bk_pg_exec(pg_txof(btx), sql, "recording the schema version", err);
}

static enum bk_err pg_exec_script(struct bk_tx *btx, const char *sql,
                                  struct bk_errbuf *err)
{
    if (btx->broken)
        return bk_fail(err, BK_E_IO, "%s", broken_msg);
    return bk_pg_exec(pg_txof(btx), sql, "running a migration script", err);
}

/* ---- Lifetime ---------------------------------------------------------- */

static void pg_free(struct bk_store *store)
{
    struct pg_store *s = (struct pg_store *)store;

    if (!s)
        return;
    for (int i = 0; i < s->n_idle; i++)
        conn_close(s->idle[i]);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->idle);
    free(s->url);
    free(s->password);
    free(s);
}

/* Checks the URL with libpq's own parser and notes what conn_open needs:
 * the password (to scrub from messages) and whether a connect_timeout
 * must be added. */
static enum bk_err parse_url(struct pg_store *s, const char *url,
                             struct bk_errbuf *err)
{
    char *msg = NULL;
    char clean[160];
    PQconninfoOption *opts = PQconninfoParse(url, &msg);

    if (!opts) {
        if (msg && !url_may_hold_password(url)) {
            clean_message(msg, NULL, clean, sizeof(clean));
            PQfreemem(msg);
            return bk_fail(err, BK_E_CONFIG,
                           "invalid PostgreSQL database URL: %s", clean);
        }
        PQfreemem(msg);
        return bk_fail(err, BK_E_CONFIG,
                       "invalid PostgreSQL database URL (expected "
                       "postgres://USER:PASSWORD@HOST:PORT/DATABASE)");
    }
    s->add_timeout = true;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !o->val[0])
            continue;
        if (strcmp(o->keyword, "password") == 0)
            s->password = bk_xstrdup(o->val);
        else if (strcmp(o->keyword, "connect_timeout") == 0)
            s->add_timeout = false;
    }
    PQconninfoFree(opts);
    return BK_OK;
}

static enum bk_err pg_open(const char *url, int pool_size,
                           struct bk_store **out, struct bk_errbuf *err)
{
    struct pg_store *s = NULL;
    struct pg_conn *c = NULL;
    enum bk_err e = BK_OK;
    bool known = false;

    *out = NULL;
    for (int i = 0; url && schemes[i]; i++)
        if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
            known = true;
    if (!known)
        return bk_fail(err, BK_E_CONFIG,
                       "not a postgres:// or postgresql:// URL");
    if (pool_size < 1 || pool_size > MAX_POOL)
        return bk_fail(err, BK_E_CONFIG,
                       "database pool size %d is out of range (1..%d)",
                       pool_size, MAX_POOL);
    s = bk_xcalloc(1, sizeof(*s));
    s->base.drv = &bk_driver_postgres;
    s->url = bk_xstrdup(url);
    s->pool_size = pool_size;
    s->idle = bk_xcalloc((size_t)pool_size, sizeof(*s->idle));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    e = parse_url(s, url, err);
    if (e)
        goto out;
    /* Connect now, so that a bad URL fails here and not at the first
     * request. */
    e = conn_open(s, &c, err);
    if (e)
        goto out;
    s->idle[s->n_idle++] = c;
    s->n_open = 1;
    *out = &s->base;
    s = NULL;
out:
    pg_free(s ? &s->base : NULL);
    return e;
}

static enum bk_err pg_ping(struct bk_store *store, struct bk_errbuf *err)
{
    struct pg_store *s = (struct pg_store *)store;
    struct pg_conn *c = NULL;
    enum bk_err e;

    e = conn_start(s, "SELECT 1", "pinging the database", &c, err);
    if (c)
        conn_release(s, c);
    return e;
}

/* ---- The table --------------------------------------------------------- */

const struct bk_driver bk_driver_postgres = {
    .name = "postgres",
    .schemes = schemes,
    .dialect = BK_DIALECT_POSTGRES,
    .migrations = bk_postgres_migrations,
    .n_migrations = &bk_postgres_migrations_count,
    .open = pg_open,
    .free = pg_free,
    .ping = pg_ping,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .lock = pg_lock,
    .try_lock = pg_try_lock,
    .version_get = pg_version_get,
    .version_set = pg_version_set,
    .exec_script = pg_exec_script,
    .prepare = bk_pg_prepare,
    .reset = bk_pg_reset,
    .bind_null = bk_pg_bind_null,
    .bind_i64 = bk_pg_bind_i64,
    .bind_text = bk_pg_bind_text,
    .bind_blob = bk_pg_bind_blob,
    .step = bk_pg_step,
    .col_null = bk_pg_col_null,
    .col_i64 = bk_pg_col_i64,
    .col_text = bk_pg_col_text,
    .col_blob = bk_pg_col_blob,
    .changes = bk_pg_changes,
    .notify = pg_notify,
    .listen_open = pg_listen_open,
    .listen_wait = pg_listen_wait,
    .listen_free = pg_listen_free,
};
