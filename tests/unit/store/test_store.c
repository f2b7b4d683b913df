/* tests/unit/store/test_store.c — the store contract: every function of
 * store.h, written once over store/driver.h, against a real database:
 * round trips, lookups that miss, unique keys, guarded deletes, paging and
 * filters, busy time, the inbox and the job queue, migrations, the
 * store.begin / store.commit fault points, the transaction contract (a
 * database error breaks the transaction), singletons, serialization
 * failures and writers under threads.
 *
 * The database: BOOKINGD_TEST_DATABASE_URL when set (a PostgreSQL database
 * the suite may wipe: tests/pg-env.sh makes a fresh one), otherwise fresh
 * SQLite files in a temporary directory. Every test starts from an empty
 * database: a new file, or on PostgreSQL every schema dropped through
 * libpq. Tests of what only one backend has (SQLite files, WAL, the
 * in-process write lock; PostgreSQL's serialization failures and advisory
 * locks) are skipped on the other. SQLite and libpq are used directly only
 * to reset a database or fake one from a newer build. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/err.h"
#include "store/store.h"

#define T0   1790000000 /* an instant in 2026, UTC seconds */
#define HOUR 3600
#define MIN  60

static char base_dir[256];
static int n_fixtures;
/* The PostgreSQL database under test; NULL: SQLite files in base_dir. */
static const char *pg_url;

struct fx {
    char dir[300];
    char path[320];
    char url[1024];
    struct bk_store *store;
    struct bk_arena arena;
    struct bk_errbuf err;
};

/* ---- Fixture and helpers ----------------------------------------------- */

/* Skips the running test on PostgreSQL (it tests what only SQLite has). */
#define SQLITE_ONLY()                                                          \
    do {                                                                       \
        if (pg_url)                                                            \
            skip();                                                            \
    } while (0)
/* Skips the running test on SQLite (it tests what only PostgreSQL has). */
#define POSTGRES_ONLY()                                                        \
    do {                                                                       \
        if (!pg_url)                                                           \
            skip();                                                            \
    } while (0)

static void pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Runs sql on the PostgreSQL database under test, through libpq directly,
 * and fails the test when it fails. */
static void pg_exec(const char *sql)
{
    PGconn *c = PQconnectdb(pg_url);
    PGresult *r;

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("libpq: cannot connect to BOOKINGD_TEST_DATABASE_URL: %s",
                 PQerrorMessage(c));
    PQsetNoticeProcessor(c, pg_quiet, NULL);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        fail_msg("libpq: %s: %s", sql, msg);
    }
    PQclear(r);
    PQfinish(c);
}

/* Empties the PostgreSQL database: ends every other session on it (a
 * failed test may have left a transaction open, holding locks) and drops
 * every schema, then makes an empty public one. */
static void pg_reset(void)
{
    pg_exec("SET lock_timeout = '20s';"
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid();"
            "DO $$ DECLARE s text; BEGIN"
            " FOR s IN SELECT nspname FROM pg_namespace"
            "  WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> "
            "'information_schema'"
            " LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP;"
            " END $$;"
            "CREATE SCHEMA public;");
}

static void remove_db(const char *path)
{
    char p[400];

    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

/* A fixture on an empty database (not opened yet). Its directory is made
 * on both backends, for files a test writes. */
static struct fx *fx_new(void)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "%s/t%d", base_dir, ++n_fixtures);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    snprintf(f->path, sizeof(f->path), "%s/bk.db", f->dir);
    if (pg_url) {
        pg_reset();
        assert_true(strlen(pg_url) < sizeof(f->url));
        snprintf(f->url, sizeof(f->url), "%s", pg_url);
    } else {
        snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
    }
    bk_arena_init(&f->arena);
    return f;
}

static void fx_open(struct fx *f, int pool)
{
    enum bk_err e = bk_store_open(f->url, pool, &f->store, &f->err);
    if (e)
        fail_msg("open %s: %s", pg_url ? "BOOKINGD_TEST_DATABASE_URL" : f->url,
                 f->err.msg);
}

/* An empty database, opened but not migrated. */
static int setup_empty(void **state)
{
    struct fx *f = fx_new();

    fx_open(f, 4);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    struct fx *f;
    enum bk_err e;

    setup_empty(state);
    f = *state;
    e = bk_store_migrate(f->store, NULL, NULL, &f->err);
    if (e)
        fail_msg("migrate: %s", f->err.msg);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    bk_store_free(f->store);
    bk_arena_release(&f->arena);
    remove_db(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static struct bk_tx *begin(struct fx *f, enum bk_tx_mode mode)
{
    struct bk_tx *tx = NULL;
    enum bk_err e = bk_store_begin(f->store, mode, &tx, &f->err);
    if (e)
        fail_msg("begin: %s", f->err.msg);
    return tx;
}

static void commit(struct fx *f, struct bk_tx *tx)
{
    enum bk_err e = bk_store_commit(tx, &f->err);
    if (e)
        fail_msg("commit: %s", f->err.msg);
}

/* Asserts e == want and prints the store's message when not. */
#define CHECK(f, call, want)                                                   \
    do {                                                                       \
        bk_errbuf_clear(&(f)->err);                                            \
        enum bk_err e_ = (call);                                               \
        if (e_ != (want))                                                      \
            fail_msg("%s: got %s, want %s (%s)", #call, bk_err_name(e_),       \
                     bk_err_name(want), (f)->err.msg);                         \
    } while (0)
#define OK(f, call) CHECK(f, call, BK_OK)

/* Checks that call fails with want in a write transaction of its own,
 * named `solo` for call to use, then rolls it back: after a database error
 * only a rollback is left (store/driver.h). Data the call needs must be
 * committed before. */
#define CHECK_SOLO(f, call, want)                                              \
    do {                                                                       \
        struct bk_tx *solo = begin(f, BK_TX_WRITE);                            \
        CHECK(f, call, want);                                                  \
        bk_store_rollback(solo);                                               \
    } while (0)

static int64_t add_host(struct fx *f, struct bk_tx *tx, const char *slug,
                        const char *email, int64_t created)
{
    struct bk_host h = {.slug = slug,
                        .name = "Host",
                        .email = email,
                        .timezone = "Europe/Berlin",
                        .created_utc = created,
                        .updated_utc = created};
    int64_t id = 0;

    OK(f, bk_store_host_insert(tx, &h, &id, &f->err));
    assert_true(id > 0);
    return id;
}

static struct bk_event_type event_type(int64_t host_id, const char *slug)
{
    struct bk_event_type et = {
        .slug = slug,
        .title = "Session",
        .host_id = host_id,
        .rules = {.duration_min = 60, .horizon_days = 60},
        .active = true,
        .created_utc = T0,
        .updated_utc = T0,
    };
    return et;
}

static int64_t add_event_type(struct fx *f, struct bk_tx *tx, int64_t host_id,
                              const char *slug, int before, int after)
{
    struct bk_event_type et = event_type(host_id, slug);
    int64_t id = 0;

    et.rules.buffer_before_min = before;
    et.rules.buffer_after_min = after;
    OK(f, bk_store_event_type_insert(tx, &et, &id, &f->err));
    assert_true(id > 0);
    return id;
}

static int64_t add_client(struct fx *f, struct bk_tx *tx, const char *public_id,
                          const char *email)
{
    struct bk_client c = {.public_id = public_id,
                          .email = email,
                          .name = "Client",
                          .status = BK_CLIENT_PROSPECT,
                          .created_utc = T0,
                          .updated_utc = T0};
    int64_t id = 0;

    OK(f, bk_store_client_insert(tx, &c, &id, &f->err));
    assert_true(id > 0);
    return id;
}

static struct bk_booking booking(const char *uid, int64_t et, int64_t host,
                                 int64_t client, int64_t start, int64_t end)
{
    struct bk_booking b = {.uid = uid,
                           .event_type_id = et,
                           .host_id = host,
                           .client_id = client,
                           .start_utc = start,
                           .end_utc = end,
                           .status = BK_BOOKING_CONFIRMED,
                           .payment_status = BK_PAYMENT_NONE,
                           .source = BK_SOURCE_WEB,
                           .created_utc = T0,
                           .updated_utc = T0};
    return b;
}

static int64_t add_booking(struct fx *f, struct bk_tx *tx,
                           const struct bk_booking *b)
{
    int64_t id = 0;

    OK(f, bk_store_booking_insert(tx, b, &id, &f->err));
    assert_true(id > 0);
    return id;
}

/* A host, an event type and a client to hang bookings on. */
struct world {
    int64_t host, et, client;
};

static struct world add_world(struct fx *f, struct bk_tx *tx)
{
    struct world w;

    w.host = add_host(f, tx, "anna", "anna@example.com", T0);
    w.et = add_event_type(f, tx, w.host, "intro", 0, 0);
    w.client = add_client(f, tx, "cli_1", "c1@example.com");
    return w;
}

/* ---- Fault points (first: they fire on the first hits) ----------------- */

static void test_fault_points(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = NULL;
    const char *v = NULL;

    /* BOOKINGD_FAULTS="store.begin=1,store.commit=1" (set in main). */
    CHECK(f, bk_store_begin(f->store, BK_TX_WRITE, &tx, &f->err), BK_E_IO);
    assert_null(tx);
    assert_non_null(strstr(f->err.msg, "store.begin"));

    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_meta_put(tx, "k", "lost", &f->err));
    CHECK(f, bk_store_commit(tx, &f->err), BK_E_IO);
    assert_non_null(strstr(f->err.msg, "store.commit"));

    /* Nothing of the failed commit is kept, and the write lock and the
     * connection came back: the next write goes through. */
    tx = begin(f, BK_TX_READ);
    CHECK(f, bk_store_meta_get(tx, "k", &f->arena, &v, &f->err),
          BK_E_NOT_FOUND);
    bk_store_rollback(tx);
    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_meta_put(tx, "k", "kept", &f->err));
    commit(f, tx);
    tx = begin(f, BK_TX_READ);
    OK(f, bk_store_meta_get(tx, "k", &f->arena, &v, &f->err));
    assert_string_equal(v, "kept");
    commit(f, tx);
}

/* ---- Opening and migrations -------------------------------------------- */

static void test_open_errors(void **state)
{
    struct fx *f = *state;
    struct bk_store *s = (struct bk_store *)1;

    CHECK(f, bk_store_open("mysql://x", 2, &s, &f->err), BK_E_CONFIG);
    assert_null(s);
    CHECK(f, bk_store_open(NULL, 2, &s, &f->err), BK_E_CONFIG);
    CHECK(f, bk_store_open(f->url, 0, &s, &f->err), BK_E_CONFIG);
    assert_null(s);
    assert_string_equal(bk_store_backend(f->store),
                        pg_url ? "postgres" : "sqlite");
    OK(f, bk_store_ping(f->store, &f->err));
}

/* PostgreSQL: a server that does not answer is BK_E_IO, and no message
 * ever shows the URL's password. */
static void test_postgres_open_errors(void **state)
{
    struct fx *f = *state;
    struct bk_store *s = (struct bk_store *)1;

    POSTGRES_ONLY();
    /* Port 1 on loopback: nobody listens there. */
    CHECK(f,
          bk_store_open("postgres://bk:s3cr3t-pw@127.0.0.1:1/nodb", 2, &s,
                        &f->err),
          BK_E_IO);
    assert_null(s);
    assert_null(strstr(f->err.msg, "s3cr3t-pw"));
    s = (struct bk_store *)1;
    CHECK(f,
          bk_store_open("postgres://bk:s3cr3t-pw@127.0.0.1:1/nodb?bogus=1", 2,
                        &s, &f->err),
          BK_E_CONFIG);
    assert_null(s);
    assert_null(strstr(f->err.msg, "s3cr3t-pw"));
}

/* The sqlite: URL forms and files that are not databases. */
static void test_sqlite_open_errors(void **state)
{
    struct fx *f = *state;
    struct bk_store *s = (struct bk_store *)1;
    char url[400];
    FILE *fp;

    SQLITE_ONLY();
    CHECK(f, bk_store_open("sqlite:", 2, &s, &f->err), BK_E_CONFIG);
    assert_null(s);
    assert_non_null(strstr(f->err.msg, "sqlite:PATH"));
    CHECK(f, bk_store_open("sqlite::memory:", 2, &s, &f->err), BK_E_CONFIG);
    assert_non_null(strstr(f->err.msg, "memory"));
    CHECK(f, bk_store_open("sqlite:file::memory:?cache=shared", 2, &s, &f->err),
          BK_E_CONFIG);
    assert_null(s);

    /* A missing directory is named in the message. */
    snprintf(url, sizeof(url), "sqlite:%s/no-such-dir/x.db", f->dir);
    CHECK(f, bk_store_open(url, 2, &s, &f->err), BK_E_IO);
    assert_null(s);
    assert_non_null(strstr(f->err.msg, "no-such-dir"));
    assert_non_null(strstr(f->err.msg, "does not exist"));

    /* A file that is not a database. */
    snprintf(url, sizeof(url), "%s/junk.db", f->dir);
    fp = fopen(url, "w");
    assert_non_null(fp);
    fputs("this is not an SQLite database, not even close to one.......\n"
          "padding padding padding padding padding padding padding pad\n",
          fp);
    fclose(fp);
    snprintf(url, sizeof(url), "sqlite:%s/junk.db", f->dir);
    CHECK(f, bk_store_open(url, 2, &s, &f->err), BK_E_IO);
    assert_null(s);
    snprintf(url, sizeof(url), "%s/junk.db", f->dir);
    unlink(url);
}

/* On an empty database: version 0, then every migration, then nothing to
 * do. */
static void test_migrate_fresh_and_idempotent(void **state)
{
    struct fx *f = *state;
    int from = -1, to = -1, cur = -1, newest = -1;
    struct bk_tx *tx;

    OK(f, bk_store_version(f->store, &cur, &newest, &f->err));
    assert_int_equal(cur, 0);
    assert_true(newest >= 1);
    OK(f, bk_store_migrate(f->store, &from, &to, &f->err));
    assert_int_equal(from, 0);
    assert_int_equal(to, newest);
    OK(f, bk_store_version(f->store, &cur, NULL, &f->err));
    assert_int_equal(cur, newest);
    /* Again: nothing to do. */
    OK(f, bk_store_migrate(f->store, &from, &to, &f->err));
    assert_int_equal(from, newest);
    assert_int_equal(to, newest);
    OK(f, bk_store_ping(f->store, &f->err));
    /* The schema is there. */
    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_meta_put(tx, "k", "v", &f->err));
    commit(f, tx);
}

/* Fakes a database migrated by a newer build: records schema version v
 * the way the driver does (SQLite's user_version; the PostgreSQL driver's
 * table schema_version). */
static void set_schema_version(struct fx *f, int v)
{
    sqlite3 *db = NULL;
    char sql[96];

    if (pg_url) {
        snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d", v);
        pg_exec(sql);
        return;
    }
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_migrate_newer_refused(void **state)
{
    struct fx *f = *state;
    int cur = -1, newest = -1, from = -7;
    char want[128];

    OK(f, bk_store_version(f->store, &cur, &newest, &f->err));
    set_schema_version(f, newest + 1);
    OK(f, bk_store_version(f->store, &cur, &newest, &f->err));
    assert_int_equal(cur, newest + 1);
    CHECK(f, bk_store_migrate(f->store, &from, NULL, &f->err), BK_E_CONFIG);
    snprintf(want, sizeof(want),
             "database schema version %d is newer than this build (%d)",
             newest + 1, newest);
    assert_string_equal(f->err.msg, want);
    assert_int_equal(from, -7); /* untouched on failure */
}

struct migrate_arg {
    struct fx *f;
    int from, to;
    enum bk_err e;
};

static void *migrate_thread(void *p)
{
    struct migrate_arg *a = p;
    a->e = bk_store_migrate(a->f->store, &a->from, &a->to, &a->f->err);
    return NULL;
}

/* Two stores on one database stand for two processes migrating at once:
 * every migration is applied once, by one of them, and both end at the
 * newest version. */
static void test_migrate_concurrent(void **state)
{
    struct fx *a = fx_new(), b = {0};
    struct migrate_arg ma = {.f = a}, mb = {.f = &b};
    pthread_t ta, tb;
    int newest = 0;
    struct bk_tx *tx;

    (void)state;
    fx_open(a, 2);
    memcpy(b.url, a->url, sizeof(b.url));
    fx_open(&b, 2);
    assert_int_equal(pthread_create(&ta, NULL, migrate_thread, &ma), 0);
    assert_int_equal(pthread_create(&tb, NULL, migrate_thread, &mb), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    if (ma.e || mb.e)
        fail_msg("migrate: %s / %s", a->err.msg, b.err.msg);
    OK(a, bk_store_version(a->store, NULL, &newest, &a->err));
    assert_int_equal(ma.to, newest);
    assert_int_equal(mb.to, newest);
    /* Each migration is its own transaction, so with several the two may
     * take turns: one starts from 0, the other from wherever the first had
     * got to (newest when it was done already). */
    assert_true(ma.from == 0 || mb.from == 0);
    assert_true(ma.from >= 0 && ma.from <= newest);
    assert_true(mb.from >= 0 && mb.from <= newest);
    tx = begin(a, BK_TX_WRITE);
    OK(a, bk_store_meta_put(tx, "k", "v", &a->err));
    commit(a, tx);
    bk_store_free(b.store);
    teardown((void **)&a);
}

/* ---- Transactions ------------------------------------------------------ */

/* The file's journal mode, as another process sees it. */
static const char *journal_mode(const char *path)
{
    static char mode[16];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(mode, sizeof(mode), "%s",
             (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return mode;
}

/* What was committed is there after the store is closed and opened again
 * (on SQLite: the file, in WAL mode); what was rolled back is not. */
static void test_durability(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx;
    const char *v = NULL;
    int64_t id = 0;
    struct bk_host h;

    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_meta_put(tx, "committed", "yes", &f->err));
    id = add_host(f, tx, "kept", "k@example.com", T0);
    commit(f, tx);

    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_meta_put(tx, "rolled-back", "yes", &f->err));
    add_host(f, tx, "gone", "g@example.com", T0);
    bk_store_rollback(tx);

    /* Close everything and open the database again. */
    bk_store_free(f->store);
    f->store = NULL;
    fx_open(f, 2);
    tx = begin(f, BK_TX_READ);
    OK(f, bk_store_meta_get(tx, "committed", &f->arena, &v, &f->err));
    assert_string_equal(v, "yes");
    OK(f, bk_store_host_get(tx, id, &f->arena, &h, &f->err));
    assert_string_equal(h.slug, "kept");
    CHECK(f, bk_store_meta_get(tx, "rolled-back", &f->arena, &v, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f, bk_store_host_by_slug(tx, "gone", &f->arena, &h, &f->err),
          BK_E_NOT_FOUND);
    bk_store_rollback(tx);
    bk_store_rollback(NULL);
    if (!pg_url)
        assert_string_equal(journal_mode(f->path), "wal");
}

/* The failures break_tx provokes, each a different constraint. */
enum breaker {
    BREAK_DUPLICATE,
    BREAK_FOREIGN_KEY,
    BREAK_CHECK,
    BREAK_NOT_NULL
};

/* Writes in a transaction, makes one statement fail with a database error,
 * and checks store/driver.h's contract: the transaction is broken — the
 * next statement (a read as well as a write) and the commit fail with
 * BK_E_IO — and nothing of it is kept. */
static void break_tx(struct fx *f, enum breaker how, enum bk_tx_mode mode)
{
    struct bk_tx *tx;
    struct bk_host h = {.slug = "one",
                        .name = "X",
                        .email = "x@example.com",
                        .timezone = "UTC"};
    struct bk_event_type et;
    struct bk_host got;
    const char *v = NULL;
    int64_t id = 0, host;

    tx = begin(f, BK_TX_READ);
    OK(f, bk_store_host_by_slug(tx, "one", &f->arena, &got, &f->err));
    host = got.id;
    commit(f, tx);

    tx = begin(f, mode);
    OK(f, bk_store_meta_put(tx, "written-before", "yes", &f->err));
    add_host(f, tx, "before", "b@example.com", T0);
    switch (how) {
    case BREAK_DUPLICATE:
        CHECK(f, bk_store_host_insert(tx, &h, &id, &f->err), BK_E_DUPLICATE);
        break;
    case BREAK_FOREIGN_KEY:
        et = event_type(host + 1000, "orphan");
        CHECK(f, bk_store_event_type_insert(tx, &et, &id, &f->err),
              BK_E_NOT_FOUND);
        break;
    case BREAK_CHECK:
        et = event_type(host, "too-long-buffer");
        et.rules.buffer_before_min = 2000;
        CHECK(f, bk_store_event_type_insert(tx, &et, &id, &f->err),
              BK_E_INVALID);
        break;
    case BREAK_NOT_NULL:
        h.slug = "nameless";
        h.name = NULL;
        CHECK(f, bk_store_host_insert(tx, &h, &id, &f->err), BK_E_INVALID);
        break;
    }
    /* Broken: whatever comes next fails, reads included, and a failed
     * statement does not repair it. */
    CHECK(f, bk_store_meta_put(tx, "written-after", "yes", &f->err), BK_E_IO);
    CHECK(f, bk_store_host_get(tx, host, &f->arena, &got, &f->err), BK_E_IO);
    CHECK(f, bk_store_meta_get(tx, "written-before", &f->arena, &v, &f->err),
          BK_E_IO);
    CHECK(f, bk_store_commit(tx, &f->err), BK_E_IO);

    /* Nothing of it was kept, and the connection (and on SQLite the write
     * lock) came back: the next write goes through. */
    tx = begin(f, BK_TX_WRITE);
    CHECK(f, bk_store_meta_get(tx, "written-before", &f->arena, &v, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f, bk_store_meta_get(tx, "written-after", &f->arena, &v, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f, bk_store_host_by_slug(tx, "before", &f->arena, &got, &f->err),
          BK_E_NOT_FOUND);
    OK(f, bk_store_meta_put(tx, "next", "ok", &f->err));
    commit(f, tx);
}

static void test_error_breaks_transaction(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx;
    struct bk_host h;
    const char *v = NULL;

    tx = begin(f, BK_TX_WRITE);
    add_host(f, tx, "one", "one@example.com", T0);
    commit(f, tx);

    break_tx(f, BREAK_DUPLICATE, BK_TX_WRITE);
    break_tx(f, BREAK_FOREIGN_KEY, BK_TX_WRITE);
    break_tx(f, BREAK_CHECK, BK_TX_WRITE);
    break_tx(f, BREAK_NOT_NULL, BK_TX_WRITE);
    break_tx(f, BREAK_DUPLICATE, BK_TX_QUEUE);
    break_tx(f, BREAK_CHECK, BK_TX_QUEUE);

    /* The caller may roll back instead of trying to commit. */
    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_meta_put(tx, "rolled", "back", &f->err));
    add_host(f, tx, "two", "two@example.com", T0);
    OK(f, bk_store_host_by_slug(tx, "one", &f->arena, &h, &f->err));
    bk_store_rollback(tx);
    tx = begin(f, BK_TX_READ);
    CHECK(f, bk_store_meta_get(tx, "rolled", &f->arena, &v, &f->err),
          BK_E_NOT_FOUND);
    OK(f, bk_store_meta_get(tx, "next", &f->arena, &v, &f->err));
    assert_string_equal(v, "ok");
    commit(f, tx);
}

/* A lookup that finds nothing, an update or delete of a missing row, a
 * guarded delete that is refused and a lost job lease are answers, not
 * database errors: the transaction goes on and commits. */
static void test_miss_keeps_transaction(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx;
    struct bk_host h;
    struct bk_client c;
    struct bk_job j;
    struct world w;
    const char *v = NULL;
    int64_t job;
    bool existed;

    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_meta_put(tx, "a", "1", &f->err));
    w = add_world(f, tx);
    CHECK(f, bk_store_meta_get(tx, "missing", &f->arena, &v, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f, bk_store_host_get(tx, 9999, &f->arena, &h, &f->err),
          BK_E_NOT_FOUND);
    CHECK(
        f,
        bk_store_client_by_email(tx, "no@example.com", &f->arena, &c, &f->err),
        BK_E_NOT_FOUND);
    CHECK(f, bk_store_job_claim(tx, 0, 1000, 1, &f->arena, &j, &f->err),
          BK_E_NOT_FOUND);
    h = (struct bk_host){
        .id = 9999, .name = "X", .email = "x@example.com", .timezone = "UTC"};
    CHECK(f, bk_store_host_update(tx, &h, &f->err), BK_E_NOT_FOUND);
    CHECK(f, bk_store_event_type_delete(tx, 9999, &f->err), BK_E_NOT_FOUND);
    CHECK(f, bk_store_host_delete(tx, w.host, &f->err), BK_E_CONFLICT);
    OK(f, bk_store_job_enqueue(tx, "k", "d", "p", 0, 3, 0, &job, &existed,
                               &f->err));
    CHECK(f, bk_store_job_complete(tx, job, 1, 0, &f->err), BK_E_STALE);
    OK(f, bk_store_meta_put(tx, "b", "2", &f->err));
    commit(f, tx);

    tx = begin(f, BK_TX_READ);
    OK(f, bk_store_meta_get(tx, "a", &f->arena, &v, &f->err));
    assert_string_equal(v, "1");
    OK(f, bk_store_meta_get(tx, "b", &f->arena, &v, &f->err));
    assert_string_equal(v, "2");
    OK(f, bk_store_host_get(tx, w.host, &f->arena, &h, &f->err));
    OK(f, bk_store_job_get(tx, job, &f->arena, &j, &f->err));
    commit(f, tx);
}

/* A setting read and written each in a transaction of its own: absent is
 * NULL and no error, a write replaces. */
static void test_meta_read_write(void **state)
{
    struct fx *f = *state;
    const char *v = "unset";

    OK(f, bk_store_meta_read(f->store, "cursor", &f->arena, &v, &f->err));
    assert_null(v);
    OK(f, bk_store_meta_write(f->store, "cursor", "1", &f->err));
    OK(f, bk_store_meta_write(f->store, "cursor", "2", &f->err));
    OK(f, bk_store_meta_read(f->store, "cursor", &f->arena, &v, &f->err));
    assert_string_equal(v, "2");
}

/* The shared lookups of store/sql.c: a row lock of two tables, a row by
 * its public id or its id, and an insert's returned id. */
static void test_locks_and_keys(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct world w = add_world(f, tx);
    struct bk_booking b =
        booking("lockme", w.et, w.host, w.client, T0, T0 + 1800);
    struct bk_wh_endpoint ep = {.public_id = "ep_keys",
                                .url = "https://example.com/hook",
                                .events = "[\"*\"]",
                                .secret = "whsec_x",
                                .created_ms = 1,
                                .updated_ms = 1},
                          got;
    int64_t bid = add_booking(f, tx, &b), eid = 0, eid2 = 0;

    OK(f, bk_store_booking_lock(tx, bid, &f->err));
    OK(f, bk_store_client_lock(tx, w.client, &f->err));
    CHECK(f, bk_store_booking_lock(tx, bid + 1000, &f->err), BK_E_NOT_FOUND);
    assert_non_null(strstr(f->err.msg, "booking"));
    CHECK(f, bk_store_client_lock(tx, w.client + 1000, &f->err),
          BK_E_NOT_FOUND);
    assert_non_null(strstr(f->err.msg, "client"));

    OK(f, bk_store_wh_endpoint_insert(tx, &ep, &eid, &f->err));
    ep.public_id = "ep_keys2";
    OK(f, bk_store_wh_endpoint_insert(tx, &ep, &eid2, &f->err));
    assert_true(eid > 0 && eid2 > eid);
    OK(f, bk_store_wh_endpoint_get(tx, "ep_keys", 0, &f->arena, &got, &f->err));
    assert_int_equal(got.id, eid);
    OK(f, bk_store_wh_endpoint_get(tx, NULL, eid2, &f->arena, &got, &f->err));
    assert_string_equal(got.public_id, "ep_keys2");
    CHECK(f,
          bk_store_wh_endpoint_get(tx, "ep_none", 0, &f->arena, &got, &f->err),
          BK_E_NOT_FOUND);
    assert_non_null(strstr(f->err.msg, "'ep_none'"));
    CHECK(f,
          bk_store_wh_endpoint_get(tx, NULL, eid2 + 1000, &f->arena, &got,
                                   &f->err),
          BK_E_NOT_FOUND);
    assert_non_null(strstr(f->err.msg, "webhook endpoint"));
    commit(f, tx);
}

static void test_read_tx_refuses_writes(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx;
    struct bk_job j;
    bool got = true;

    tx = begin(f, BK_TX_READ);
    CHECK(f, bk_store_meta_put(tx, "k", "v", &f->err), BK_E_INTERNAL);
    CHECK(f, bk_store_job_claim(tx, 0, 1000, 1, &f->arena, &j, &f->err),
          BK_E_INTERNAL);
    CHECK(f, bk_store_host_lock(tx, 1, &f->err), BK_E_INTERNAL);
    CHECK(f, bk_store_try_singleton(tx, 1, &got, &f->err), BK_E_INTERNAL);
    assert_false(got);
    commit(f, tx);
    CHECK(f, bk_store_begin(f->store, (enum bk_tx_mode)7, &tx, &f->err),
          BK_E_INTERNAL);
    assert_null(tx);
    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_host_lock(tx, 1, &f->err));
    bk_store_rollback(tx);
    tx = begin(f, BK_TX_QUEUE);
    OK(f, bk_store_host_lock(tx, 1, &f->err));
    bk_store_rollback(tx);
}

/* BK_TX_QUEUE is a write mode: it enqueues, claims and completes jobs and
 * commits them. On PostgreSQL two queue transactions claim at once and
 * get different jobs (the first one's row is skipped, not waited for). */
static void test_queue_mode(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx, *tx2;
    struct bk_job j, j2;
    int64_t a, b, counts[4];
    bool existed;

    tx = begin(f, BK_TX_QUEUE);
    OK(f, bk_store_job_enqueue(tx, "k", "a", "pa", 100, 3, 10, &a, &existed,
                               &f->err));
    OK(f, bk_store_job_enqueue(tx, "k", "b", "pb", 100, 3, 10, &b, &existed,
                               &f->err));
    commit(f, tx);

    tx = begin(f, BK_TX_QUEUE);
    OK(f, bk_store_job_claim(tx, 200, 1000, 1, &f->arena, &j, &f->err));
    assert_int_equal(j.id, a);
    if (pg_url) {
        /* Another worker, while the first holds its claim. */
        tx2 = begin(f, BK_TX_QUEUE);
        OK(f, bk_store_job_claim(tx2, 200, 1000, 2, &f->arena, &j2, &f->err));
        assert_int_equal(j2.id, b);
        CHECK(f, bk_store_job_claim(tx2, 200, 1000, 2, &f->arena, &j2, &f->err),
              BK_E_NOT_FOUND);
        OK(f, bk_store_job_complete(tx2, b, 2, 300, &f->err));
        commit(f, tx2);
    }
    OK(f, bk_store_job_complete(tx, a, 1, 300, &f->err));
    commit(f, tx);

    tx = begin(f, BK_TX_READ);
    OK(f, bk_store_job_counts(tx, counts, &f->err));
    assert_int_equal(counts[BK_JOB_DONE], pg_url ? 2 : 1);
    assert_int_equal(counts[BK_JOB_PENDING], pg_url ? 0 : 1);
    commit(f, tx);
}

/* Several due jobs in one claim: the earliest first (pending by run_at,
 * then id, and expired leases among them), all under one token; a job
 * given back is pending again with its attempt uncounted. On PostgreSQL a
 * second claim meanwhile takes the rest, skipping the first's rows. */
static void test_job_claim_batch(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx, *tx2;
    struct bk_job *b = NULL, j;
    size_t n = 0;
    int64_t id[6];
    bool existed;

    tx = begin(f, BK_TX_QUEUE);
    /* run_at: 300, 100, 200, 100, 5000 (not due), 150 (claimed below with
     * a short lease, which then expires). */
    static const int64_t run_at[6] = {300, 100, 200, 100, 5000, 150};
    for (int i = 0; i < 6; i++) {
        char key[8];
        snprintf(key, sizeof(key), "b%d", i);
        OK(f, bk_store_job_enqueue(tx, "k", key, key, run_at[i], 3, 10, &id[i],
                                   &existed, &f->err));
    }
    commit(f, tx);
    tx = begin(f, BK_TX_QUEUE);
    OK(f, bk_store_job_claim(tx, 150, 50, 7, &f->arena, &j, &f->err));
    assert_int_equal(j.id, id[1]);
    commit(f, tx);

    /* At 400: id[1]'s lease (until 200) has expired. Due order: 1 (100,
     * lease expired), 3 (100), 5 (150), 2 (200), 0 (300); four of them. */
    tx = begin(f, BK_TX_QUEUE);
    CHECK(f,
          bk_store_job_claim_batch(tx, 400, 1000, 9, 0, &f->arena, &b, &n,
                                   &f->err),
          BK_E_INTERNAL);
    OK(f, bk_store_job_claim_batch(tx, 400, 1000, 9, 4, &f->arena, &b, &n,
                                   &f->err));
    assert_int_equal(n, 4);
    assert_int_equal(b[0].id, id[1]);
    assert_int_equal(b[1].id, id[3]);
    assert_int_equal(b[2].id, id[5]);
    assert_int_equal(b[3].id, id[2]);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(b[i].status, BK_JOB_RUNNING);
        assert_int_equal(b[i].lease_token, 9);
        assert_int_equal(b[i].lease_until_ms, 1400);
        assert_int_equal(b[i].attempts, i == 0 ? 2 : 1);
    }
    assert_string_equal(b[2].payload, "b5");
    if (pg_url) {
        tx2 = begin(f, BK_TX_QUEUE);
        OK(f, bk_store_job_claim_batch(tx2, 400, 1000, 10, 4, &f->arena, &b, &n,
                                       &f->err));
        assert_int_equal(n, 1);
        assert_int_equal(b[0].id, id[0]);
        bk_store_rollback(tx2);
    }
    commit(f, tx);

    /* Give two back: pending, due as before, the attempt uncounted. */
    tx = begin(f, BK_TX_QUEUE);
    CHECK(f, bk_store_job_release(tx, id[3], 8, 500, &f->err), BK_E_STALE);
    OK(f, bk_store_job_release(tx, id[3], 9, 500, &f->err));
    CHECK(f, bk_store_job_release(tx, id[3], 9, 500, &f->err), BK_E_STALE);
    OK(f, bk_store_job_release(tx, id[1], 9, 500, &f->err));
    OK(f, bk_store_job_get(tx, id[3], &f->arena, &j, &f->err));
    assert_int_equal(j.status, BK_JOB_PENDING);
    assert_int_equal(j.attempts, 0);
    assert_int_equal(j.run_at_ms, 100);
    assert_int_equal(j.lease_until_ms, 0);
    assert_int_equal(j.updated_ms, 500);
    OK(f, bk_store_job_get(tx, id[1], &f->arena, &j, &f->err));
    assert_int_equal(j.attempts, 1); /* its expired first attempt counts */
    /* The next claim takes them again, then job 0; not job 4. */
    OK(f, bk_store_job_claim_batch(tx, 600, 1000, 11, 10, &f->arena, &b, &n,
                                   &f->err));
    assert_int_equal(n, 3);
    assert_int_equal(b[0].id, id[1]);
    assert_int_equal(b[1].id, id[3]);
    assert_int_equal(b[2].id, id[0]);
    CHECK(f,
          bk_store_job_claim_batch(tx, 600, 1000, 12, 10, &f->arena, &b, &n,
                                   &f->err),
          BK_E_NOT_FOUND);
    assert_int_equal(n, 0);
    commit(f, tx);
}

/* Job notifications: on SQLite there is nobody to listen to; on
 * PostgreSQL a listener hears a committed enqueue (once per transaction),
 * nothing of a rolled-back one or of an enqueue that found its job there
 * already, a retry and a requeue; a byte on wake_fd ends a wait early; a
 * lost connection is BK_E_IO. */
static int listen_for(struct bk_store_listener *l, int ms)
{
    struct bk_errbuf err;
    int n = 0, total = 0;
    struct timespec t0, t;

    bk_errbuf_clear(&err);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        long left;
        clock_gettime(CLOCK_MONOTONIC, &t);
        left = ms - ((t.tv_sec - t0.tv_sec) * 1000 +
                     (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            return total;
        if (bk_store_listener_wait(l, -1, (int)left, &n, &err))
            fail_msg("listener_wait: %s", err.msg);
        total += n;
        if (total)
            return total; /* the first arrival; one more would be late */
    }
}

static void test_job_notifications(void **state)
{
    struct fx *f = *state;
    struct bk_store_listener *l = NULL;
    struct bk_tx *tx;
    struct bk_job j;
    int64_t id, id2;
    bool existed;
    int fds[2], n = -1;
    struct timespec t0, t1;

    if (!pg_url) {
        CHECK(f, bk_store_job_listen(f->store, &l, &f->err), BK_E_UNAVAILABLE);
        assert_null(l);
        /* Notifying is a no-op: the transaction commits. */
        tx = begin(f, BK_TX_QUEUE);
        bk_store_job_notify(tx);
        OK(f, bk_store_job_enqueue(tx, "k", "n1", "p", 0, 3, 0, &id, &existed,
                                   &f->err));
        commit(f, tx);
        return;
    }
    OK(f, bk_store_job_listen(f->store, &l, &f->err));
    assert_int_equal(listen_for(l, 100), 0);

    tx = begin(f, BK_TX_QUEUE);
    OK(f, bk_store_job_enqueue(tx, "k", "n1", "p", 0, 3, 0, &id, &existed,
                               &f->err));
    bk_store_rollback(tx);
    assert_int_equal(listen_for(l, 300), 0);

    /* Two enqueues in one transaction: heard once, after the commit. */
    tx = begin(f, BK_TX_QUEUE);
    OK(f, bk_store_job_enqueue(tx, "k", "n1", "p", 0, 3, 0, &id, &existed,
                               &f->err));
    OK(f, bk_store_job_enqueue(tx, "k", "n2", "p", 0, 3, 0, &id2, &existed,
                               &f->err));
    assert_int_equal(listen_for(l, 200), 0);
    commit(f, tx);
    assert_int_equal(listen_for(l, 5000), 1);
    assert_int_equal(listen_for(l, 200), 0);

    /* An enqueue that finds its job changes nothing: nothing to hear. */
    tx = begin(f, BK_TX_QUEUE);
    OK(f, bk_store_job_enqueue(tx, "k", "n1", "p", 0, 3, 0, &id, &existed,
                               &f->err));
    assert_true(existed);
    commit(f, tx);
    assert_int_equal(listen_for(l, 300), 0);

    /* A retry is heard (due later), a completion not. */
    tx = begin(f, BK_TX_QUEUE);
    OK(f, bk_store_job_claim(tx, 0, 1000, 5, &f->arena, &j, &f->err));
    commit(f, tx);
    assert_int_equal(listen_for(l, 200), 0);
    tx = begin(f, BK_TX_QUEUE);
    OK(f, bk_store_job_fail(tx, j.id, 5, false, 100, "x", 0, &f->err));
    commit(f, tx);
    assert_int_equal(listen_for(l, 5000), 1);
    tx = begin(f, BK_TX_QUEUE);
    OK(f, bk_store_job_claim(tx, 200, 1000, 6, &f->arena, &j, &f->err));
    OK(f, bk_store_job_complete(tx, j.id, 6, 200, &f->err));
    commit(f, tx);
    assert_int_equal(listen_for(l, 300), 0);
    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_job_requeue(tx, j.id, 300, &f->err));
    commit(f, tx);
    assert_int_equal(listen_for(l, 5000), 1);

    /* wake_fd ends a long wait at once. */
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    OK(f, bk_store_listener_wait(l, fds[0], 60000, &n, &f->err));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(n, 0);
    assert_true(t1.tv_sec - t0.tv_sec < 5);
    close(fds[0]);
    close(fds[1]);

    /* The listening session is ended by the server: BK_E_IO. */
    pg_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN %'");
    for (int i = 0; i < 50; i++) {
        bk_errbuf_clear(&f->err);
        if (bk_store_listener_wait(l, -1, 100, &n, &f->err) != BK_OK)
            break;
        assert_true(i < 49);
    }
    assert_non_null(strstr(f->err.msg, "lost"));
    bk_store_listener_free(l);
    bk_store_listener_free(NULL);
}

/* Pruning deletes done jobs completed before the cutoff, oldest ids first,
 * at most limit at a time; never pending, running or dead ones. A
 * delivery of a deleted job keeps its row, without the job. */
static void test_job_prune(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx;
    struct bk_job j;
    struct bk_delivery d;
    int64_t id[6], dlv;
    bool existed;
    int n = -1;

    tx = begin(f, BK_TX_QUEUE);
    for (int i = 0; i < 6; i++) {
        char key[8];
        snprintf(key, sizeof(key), "p%d", i);
        OK(f, bk_store_job_enqueue(tx, "k", key, NULL, 100 + i, 3, 10, &id[i],
                                   &existed, &f->err));
    }
    /* 0..3 done at 1000 + i, 4 dead at 500, 5 running. */
    for (int i = 0; i < 6; i++) {
        OK(f, bk_store_job_claim(tx, 200, 100000, 3, &f->arena, &j, &f->err));
        assert_int_equal(j.id, id[i]);
        if (i < 4)
            OK(f, bk_store_job_complete(tx, id[i], 3, 1000 + i, &f->err));
        else if (i == 4)
            OK(f, bk_store_job_fail(tx, id[i], 3, true, 0, "x", 500, &f->err));
    }
    d = (struct bk_delivery){.public_id = "dlv_prune",
                             .provider = "calcom",
                             .delivery_key = "k1",
                             .received_ms = 10,
                             .payload = "{}",
                             .payload_len = 2,
                             .status = BK_DELIVERY_PROCESSED,
                             .processed_ms = 1000,
                             .job_id = id[0]};
    OK(f, bk_store_delivery_insert(tx, &d, &dlv, &existed, &f->err));
    CHECK(f, bk_store_job_prune(tx, 2000, 0, &n, &f->err), BK_E_INTERNAL);
    /* Before 1003: 0, 1, 2; two at a time. */
    OK(f, bk_store_job_prune(tx, 1003, 2, &n, &f->err));
    assert_int_equal(n, 2);
    OK(f, bk_store_job_prune(tx, 1003, 2, &n, &f->err));
    assert_int_equal(n, 1);
    OK(f, bk_store_job_prune(tx, 1003, 2, &n, &f->err));
    assert_int_equal(n, 0);
    for (int i = 0; i < 6; i++)
        CHECK(f, bk_store_job_get(tx, id[i], &f->arena, &j, &f->err),
              i < 3 ? BK_E_NOT_FOUND : BK_OK);
    OK(f, bk_store_delivery_get(tx, dlv, &f->arena, &d, &f->err));
    assert_int_equal(d.job_id, 0);
    assert_int_equal(d.status, BK_DELIVERY_PROCESSED);
    assert_int_equal(d.attempts, 0);
    /* Much later: only the last done one goes; dead and running stay. */
    OK(f, bk_store_job_prune(tx, INT64_MAX, 100, &n, &f->err));
    assert_int_equal(n, 1);
    OK(f, bk_store_job_get(tx, id[4], &f->arena, &j, &f->err));
    OK(f, bk_store_job_get(tx, id[5], &f->arena, &j, &f->err));
    commit(f, tx);
}

struct singleton_arg {
    struct bk_store *store;
    int64_t key;
    enum bk_err e;
    bool got;
};

/* Asks for singleton key in a transaction of its own, in another thread
 * (the transactions of one thread would take turns on SQLite). */
static void *singleton_thread(void *p)
{
    struct singleton_arg *a = p;
    struct bk_tx *tx = NULL;
    struct bk_errbuf err;

    a->got = false;
    a->e = bk_store_begin(a->store, BK_TX_WRITE, &tx, &err);
    if (a->e == BK_OK) {
        a->e = bk_store_try_singleton(tx, a->key, &a->got, &err);
        bk_store_rollback(tx);
    }
    return NULL;
}

static bool other_gets_singleton(struct bk_store *store, int64_t key)
{
    struct singleton_arg a = {.store = store, .key = key};
    pthread_t th;

    assert_int_equal(pthread_create(&th, NULL, singleton_thread, &a), 0);
    pthread_join(th, NULL);
    assert_int_equal(a.e, BK_OK);
    return a.got;
}

/* A singleton is held until the transaction ends. On PostgreSQL another
 * transaction — of this store or of another instance — is refused it
 * meanwhile, without waiting; on SQLite, where one process owns the file
 * and writes take turns, it is always granted. */
static void test_try_singleton(void **state)
{
    struct fx *f = *state;
    struct fx g = {0};
    struct bk_tx *tx;
    bool got = false;

    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_try_singleton(tx, 7, &got, &f->err));
    assert_true(got);
    /* Asking again in the same transaction: still ours. */
    OK(f, bk_store_try_singleton(tx, 7, &got, &f->err));
    assert_true(got);
    if (pg_url) {
        memcpy(g.url, f->url, sizeof(g.url));
        fx_open(&g, 1);
        assert_false(other_gets_singleton(f->store, 7));
        assert_false(other_gets_singleton(g.store, 7));
        assert_true(other_gets_singleton(g.store, 8));
        /* Keys of host locks are apart from singletons'. */
        OK(f, bk_store_host_lock(tx, 9, &f->err));
        assert_true(other_gets_singleton(g.store, 9));
    }
    commit(f, tx);
    /* Ended with its transaction (commit or rollback alike). */
    tx = begin(f, BK_TX_QUEUE);
    OK(f, bk_store_try_singleton(tx, 7, &got, &f->err));
    assert_true(got);
    if (pg_url)
        assert_false(other_gets_singleton(g.store, 7));
    bk_store_rollback(tx);
    if (pg_url) {
        assert_true(other_gets_singleton(g.store, 7));
        bk_store_free(g.store);
    } else {
        assert_true(other_gets_singleton(f->store, 7));
    }
}

/* PostgreSQL's WRITE transactions are SERIALIZABLE: of two that read and
 * write the same row, the one that writes second, after the first
 * committed, gets BK_E_SERIALIZATION, is broken from then on, and running
 * it again succeeds. (SQLite runs write transactions one at a time: it
 * never has to abort one.) */
static void test_serialization_failure(void **state)
{
    struct fx *f = *state;
    struct bk_tx *t1, *t2;
    const char *v = NULL;

    POSTGRES_ONLY();
    t1 = begin(f, BK_TX_WRITE);
    OK(f, bk_store_meta_put(t1, "counter", "0", &f->err));
    commit(f, t1);

    /* A lost update: both read 0, both write 1. */
    t1 = begin(f, BK_TX_WRITE);
    t2 = begin(f, BK_TX_WRITE);
    OK(f, bk_store_meta_get(t1, "counter", &f->arena, &v, &f->err));
    assert_string_equal(v, "0");
    OK(f, bk_store_meta_get(t2, "counter", &f->arena, &v, &f->err));
    assert_string_equal(v, "0");
    OK(f, bk_store_meta_put(t1, "counter", "1", &f->err));
    commit(f, t1);
    CHECK(f, bk_store_meta_put(t2, "counter", "1", &f->err),
          BK_E_SERIALIZATION);
    CHECK(f, bk_store_meta_get(t2, "counter", &f->arena, &v, &f->err), BK_E_IO);
    CHECK(f, bk_store_commit(t2, &f->err), BK_E_IO);
    /* Again, from the start. */
    t2 = begin(f, BK_TX_WRITE);
    OK(f, bk_store_meta_get(t2, "counter", &f->arena, &v, &f->err));
    assert_string_equal(v, "1");
    OK(f, bk_store_meta_put(t2, "counter", "2", &f->err));
    commit(f, t2);
}

/* Write skew, on two rows: each transaction reads the row the other
 * writes. No row is written twice, so nothing waits; SERIALIZABLE still
 * lets at most one of them commit. */
static void test_serialization_write_skew(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx[2];
    const char *v = NULL, *keys[2] = {"a", "b"};
    enum bk_err e[2] = {BK_OK, BK_OK};
    int failed = 0;

    POSTGRES_ONLY();
    tx[0] = begin(f, BK_TX_WRITE);
    OK(f, bk_store_meta_put(tx[0], "a", "0", &f->err));
    OK(f, bk_store_meta_put(tx[0], "b", "0", &f->err));
    commit(f, tx[0]);

    tx[0] = begin(f, BK_TX_WRITE);
    tx[1] = begin(f, BK_TX_WRITE);
    for (int i = 0; i < 2; i++)
        OK(f, bk_store_meta_get(tx[i], keys[i], &f->arena, &v, &f->err));
    /* Each writes the key the other read; the first failure breaks its
     * transaction and is the one that counts. */
    for (int i = 0; i < 2; i++)
        e[i] = bk_store_meta_put(tx[i], keys[1 - i], "1", &f->err);
    for (int i = 0; i < 2; i++) {
        if (e[i] == BK_OK) {
            e[i] = bk_store_commit(tx[i], &f->err);
        } else {
            assert_int_equal(e[i], BK_E_SERIALIZATION);
            CHECK(f, bk_store_commit(tx[i], &f->err), BK_E_IO);
        }
        if (e[i]) {
            assert_int_equal(e[i], BK_E_SERIALIZATION);
            failed++;
        }
    }
    assert_int_equal(failed, 1);

    /* Exactly the survivor's write is there. */
    tx[0] = begin(f, BK_TX_READ);
    for (int i = 0; i < 2; i++) {
        OK(f, bk_store_meta_get(tx[0], keys[1 - i], &f->arena, &v, &f->err));
        assert_string_equal(v, e[i] ? "0" : "1");
    }
    commit(f, tx[0]);
}

struct counter_arg {
    struct fx *f;
    int n;
    int failures;
    int retries; /* transactions run again after BK_E_SERIALIZATION */
    char msg[320];
};

/* One increment: read, add one, write, commit. */
static enum bk_err increment(struct bk_store *store, int i,
                             struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    const char *v = NULL;
    char next[32];
    enum bk_err e;

    e = bk_store_begin(store, BK_TX_WRITE, &tx, err);
    if (e)
        return e;
    e = bk_store_meta_get(tx, "counter", arena, &v, err);
    if (e)
        goto fail;
    /* Widen the window between read and write. */
    if (i % 16 == 0)
        sched_yield();
    snprintf(next, sizeof(next), "%ld", strtol(v, NULL, 10) + 1);
    e = bk_store_meta_put(tx, "counter", next, err);
    if (e)
        goto fail;
    return bk_store_commit(tx, err);
fail:
    bk_store_rollback(tx);
    return e;
}

/* Adds 1 to the counter n times, each a write transaction run again on
 * BK_E_SERIALIZATION (as every caller must). */
static void *counter_thread(void *p)
{
    struct counter_arg *a = p;
    struct bk_errbuf err;
    struct bk_arena arena;

    bk_arena_init(&arena);
    for (int i = 0; i < a->n; i++) {
        enum bk_err e;
        int tries = 0;

        while ((e = increment(a->f->store, i, &arena, &err)) ==
                   BK_E_SERIALIZATION &&
               ++tries < 1000)
            a->retries++;
        if (e) {
            if (!a->failures++)
                snprintf(a->msg, sizeof(a->msg), "%s: %s", bk_err_name(e),
                         err.msg);
        }
        bk_arena_release(&arena);
    }
    bk_arena_release(&arena);
    return NULL;
}

/* Runs n_threads counter threads, on f's store or alternately on f's and
 * g's, and checks that every increment survived. */
static void run_counters(struct fx *f, struct fx *g, int n_threads, int n)
{
    struct counter_arg args[8];
    pthread_t th[8];
    struct bk_tx *tx;
    const char *v = NULL;
    char want[32];
    int retries = 0;

    assert_true(n_threads <= 8);
    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_meta_put(tx, "counter", "0", &f->err));
    commit(f, tx);
    for (int i = 0; i < n_threads; i++) {
        args[i] = (struct counter_arg){.f = g && i % 2 ? g : f, .n = n};
        assert_int_equal(pthread_create(&th[i], NULL, counter_thread, &args[i]),
                         0);
    }
    for (int i = 0; i < n_threads; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < n_threads; i++) {
        if (args[i].failures)
            fail_msg("thread %d: %d increments failed, first %s", i,
                     args[i].failures, args[i].msg);
        retries += args[i].retries;
    }
    /* SQLite's write transactions never interleave: nothing to retry. */
    if (!pg_url)
        assert_int_equal(retries, 0);
    tx = begin(f, BK_TX_READ);
    OK(f, bk_store_meta_get(tx, "counter", &f->arena, &v, &f->err));
    snprintf(want, sizeof(want), "%d", n_threads * n);
    assert_string_equal(v, want);
    commit(f, tx);
}

/* 8 threads each add 1 to a counter, reading and writing it in one write
 * transaction: every increment survives only if write transactions never
 * interleave (SQLite) or the losers of a race are aborted and run again
 * (PostgreSQL). */
static void test_concurrent_writers(void **state)
{
    struct fx *f = *state;

    run_counters(f, NULL, 8, pg_url ? 50 : 200);
}

/* Two stores on one database stand for two processes (bookingd serve and
 * bookingd apply): their pools and, on SQLite, their write locks are
 * separate, so only the database keeps their read-modify-writes apart
 * (SQLite: BEGIN IMMEDIATE and the busy timeout). */
static void test_two_stores_serialize(void **state)
{
    struct fx *f = *state;
    struct fx g = {0};

    memcpy(g.url, f->url, sizeof(g.url));
    fx_open(&g, 2);
    run_counters(f, &g, 4, pg_url ? 50 : 100);
    bk_store_free(g.store);
}

struct begin_arg {
    struct fx *f;
    enum bk_tx_mode mode;
    volatile int started; /* set once begin returned */
    enum bk_err e;
};

static void *begin_thread(void *p)
{
    struct begin_arg *a = p;
    struct bk_tx *tx = NULL;
    struct bk_errbuf err;

    a->e = bk_store_begin(a->f->store, a->mode, &tx, &err);
    __atomic_store_n(&a->started, 1, __ATOMIC_SEQ_CST);
    if (a->e == BK_OK)
        a->e = bk_store_commit(tx, &err);
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* While a write transaction is open, reads proceed and see the committed
 * state; a read transaction keeps its snapshot after the write commits. */
static void test_reads_during_write(void **state)
{
    struct fx *f = *state;
    struct bk_tx *w, *r, *r2;
    const char *v = NULL;
    struct begin_arg ra = {.f = f, .mode = BK_TX_READ};
    pthread_t rt;

    w = begin(f, BK_TX_WRITE);
    OK(f, bk_store_meta_put(w, "k", "new", &f->err));

    /* A reader in another thread gets through at once. */
    assert_int_equal(pthread_create(&rt, NULL, begin_thread, &ra), 0);
    pthread_join(rt, NULL);
    assert_int_equal(ra.e, BK_OK);

    r = begin(f, BK_TX_READ);
    CHECK(f, bk_store_meta_get(r, "k", &f->arena, &v, &f->err), BK_E_NOT_FOUND);
    commit(f, w);

    /* r keeps its snapshot; a new read sees the commit. */
    CHECK(f, bk_store_meta_get(r, "k", &f->arena, &v, &f->err), BK_E_NOT_FOUND);
    r2 = begin(f, BK_TX_READ);
    OK(f, bk_store_meta_get(r2, "k", &f->arena, &v, &f->err));
    assert_string_equal(v, "new");
    commit(f, r2);
    commit(f, r);
}

/* SQLite: a write (WRITE or QUEUE) transaction waits at begin until the
 * open one ends — the in-process write lock. */
static void test_sqlite_writers_wait(void **state)
{
    struct fx *f = *state;
    static const enum bk_tx_mode modes[2] = {BK_TX_WRITE, BK_TX_QUEUE};

    SQLITE_ONLY();
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 2; k++) {
            struct begin_arg wa = {.f = f, .mode = modes[k]};
            struct bk_tx *w = begin(f, modes[i]);
            pthread_t wt;

            OK(f, bk_store_meta_put(w, "k", "v", &f->err));
            assert_int_equal(pthread_create(&wt, NULL, begin_thread, &wa), 0);
            sleep_ms(150);
            assert_int_equal(__atomic_load_n(&wa.started, __ATOMIC_SEQ_CST), 0);
            commit(f, w);
            pthread_join(wt, NULL);
            assert_int_equal(wa.started, 1);
            assert_int_equal(wa.e, BK_OK);
        }
    }
}

/* With a pool of one connection, a second transaction waits for the
 * first to end. */
static void test_pool_waits(void **state)
{
    struct fx *f = *state;
    struct bk_tx *r;
    struct begin_arg ra = {.f = f, .mode = BK_TX_READ};
    pthread_t rt;

    bk_store_free(f->store);
    f->store = NULL;
    fx_open(f, 1);
    r = begin(f, BK_TX_READ);
    assert_int_equal(pthread_create(&rt, NULL, begin_thread, &ra), 0);
    sleep_ms(200);
    assert_int_equal(__atomic_load_n(&ra.started, __ATOMIC_SEQ_CST), 0);
    commit(f, r);
    pthread_join(rt, NULL);
    assert_int_equal(ra.started, 1);
    assert_int_equal(ra.e, BK_OK);
}

/* ---- Settings ---------------------------------------------------------- */

static void test_meta(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    const char *v = (const char *)1;

    CHECK(f, bk_store_meta_get(tx, "missing", &f->arena, &v, &f->err),
          BK_E_NOT_FOUND);
    assert_null(v);
    OK(f, bk_store_meta_put(tx, "a", "1", &f->err));
    OK(f, bk_store_meta_put(tx, "b", "", &f->err));
    OK(f, bk_store_meta_put(tx, "a", "2", &f->err));
    OK(f, bk_store_meta_get(tx, "a", &f->arena, &v, &f->err));
    assert_string_equal(v, "2");
    OK(f, bk_store_meta_get(tx, "b", &f->arena, &v, &f->err));
    assert_string_equal(v, "");
    commit(f, tx);
}

/* ---- Hosts ------------------------------------------------------------- */

static void test_hosts(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct bk_host h, *list = NULL;
    struct bk_page page = {0, 2};
    size_t n = 0;
    int64_t a, b, c, id;

    a = add_host(f, tx, "anna", "Anna@Example.com", T0 + 10);
    b = add_host(f, tx, "ben", "ben@example.com", T0);
    /* Same address as anna's, but older: by_email finds this one. */
    c = add_host(f, tx, "anna-old", "anna@example.COM", T0 - 10);

    OK(f, bk_store_host_get(tx, a, &f->arena, &h, &f->err));
    assert_int_equal(h.id, a);
    assert_string_equal(h.slug, "anna");
    assert_string_equal(h.name, "Host");
    assert_string_equal(h.email, "Anna@Example.com");
    assert_string_equal(h.timezone, "Europe/Berlin");
    assert_int_equal(h.created_utc, T0 + 10);
    assert_int_equal(h.updated_utc, T0 + 10);
    OK(f, bk_store_host_by_slug(tx, "ben", &f->arena, &h, &f->err));
    assert_int_equal(h.id, b);
    OK(f,
       bk_store_host_by_email(tx, "ANNA@example.com", &f->arena, &h, &f->err));
    assert_int_equal(h.id, c);
    OK(f,
       bk_store_host_by_email(tx, "BEN@EXAMPLE.COM", &f->arena, &h, &f->err));
    assert_int_equal(h.id, b);

    /* Misses. */
    CHECK(f, bk_store_host_get(tx, 9999, &f->arena, &h, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f, bk_store_host_by_slug(tx, "nobody", &f->arena, &h, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f,
          bk_store_host_by_email(tx, "no@example.com", &f->arena, &h, &f->err),
          BK_E_NOT_FOUND);

    commit(f, tx);

    /* Duplicate slug. */
    h = (struct bk_host){.slug = "ben",
                         .name = "Other",
                         .email = "o@example.com",
                         .timezone = "UTC"};
    CHECK_SOLO(f, bk_store_host_insert(solo, &h, &id, &f->err), BK_E_DUPLICATE);
    assert_non_null(strstr(f->err.msg, "slug"));
    /* Missing required field. */
    h.slug = "nameless";
    h.name = NULL;
    CHECK_SOLO(f, bk_store_host_insert(solo, &h, &id, &f->err), BK_E_INVALID);

    tx = begin(f, BK_TX_WRITE);

    /* Update: name, email, timezone, updated_utc; slug and created stay. */
    h = (struct bk_host){.id = b,
                         .slug = "ignored",
                         .name = "Ben B",
                         .email = "bb@example.com",
                         .timezone = "America/New_York",
                         .created_utc = 1,
                         .updated_utc = T0 + 99};
    OK(f, bk_store_host_update(tx, &h, &f->err));
    OK(f, bk_store_host_get(tx, b, &f->arena, &h, &f->err));
    assert_string_equal(h.slug, "ben");
    assert_string_equal(h.name, "Ben B");
    assert_string_equal(h.email, "bb@example.com");
    assert_string_equal(h.timezone, "America/New_York");
    assert_int_equal(h.created_utc, T0);
    assert_int_equal(h.updated_utc, T0 + 99);
    h = (struct bk_host){
        .id = 9999, .name = "X", .email = "x@example.com", .timezone = "UTC"};
    CHECK(f, bk_store_host_update(tx, &h, &f->err), BK_E_NOT_FOUND);

    /* Paging by id. */
    OK(f, bk_store_host_list(tx, &page, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, a);
    assert_int_equal(list[1].id, b);
    page.after_id = list[1].id;
    OK(f, bk_store_host_list(tx, &page, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, c);
    assert_string_equal(list[0].slug, "anna-old");
    page.after_id = c;
    OK(f, bk_store_host_list(tx, &page, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 0);
    commit(f, tx);
}

static void test_list_limits(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct bk_host *list = NULL;
    struct bk_activity *acts = NULL;
    struct bk_page page = {0, 0};
    size_t n = 0;
    char slug[32];

    for (int i = 0; i < 505; i++) {
        struct bk_activity a = {.at_utc = T0 + i, .kind = "K", .source = "api"};
        snprintf(slug, sizeof(slug), "h%d", i);
        add_host(f, tx, slug, "h@example.com", T0);
        OK(f, bk_store_activity_append(tx, &a, NULL, &f->err));
    }
    OK(f, bk_store_host_list(tx, &page, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 1);
    page.limit = 100000;
    OK(f, bk_store_host_list(tx, &page, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 501);
    for (size_t i = 1; i < n; i++)
        assert_true(list[i].id > list[i - 1].id);
    OK(f, bk_store_host_list(tx, NULL, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 501);
    OK(f, bk_store_activity_list(tx, NULL, 0, 0, -5, &f->arena, &acts, &n,
                                 &f->err));
    assert_int_equal(n, 1);
    OK(f, bk_store_activity_list(tx, NULL, 0, 0, 600, &f->arena, &acts, &n,
                                 &f->err));
    assert_int_equal(n, 501);
    commit(f, tx);
}

static void test_host_delete(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct bk_weekly_range wk[] = {{0, 540, 1020}};
    struct bk_date_override ov[] = {{20500, true, 0, 0}};
    struct bk_schedule s = {"Europe/Berlin", wk, 1, ov, 1}, got;
    struct world w = add_world(f, tx);
    struct bk_booking b;
    struct bk_host h;
    int64_t lone, other, et2, bid;

    /* A host with event types is kept. */
    CHECK(f, bk_store_host_delete(tx, w.host, &f->err), BK_E_CONFLICT);
    assert_non_null(strstr(f->err.msg, "event type"));

    /* A host with only bookings (of another host's event type) too. */
    other = add_host(f, tx, "other", "o@example.com", T0);
    b = booking("uid-x", w.et, other, w.client, T0, T0 + HOUR);
    bid = add_booking(f, tx, &b);
    CHECK(f, bk_store_host_delete(tx, other, &f->err), BK_E_CONFLICT);
    assert_non_null(strstr(f->err.msg, "booking"));
    (void)bid;

    /* An event type with bookings is kept; one without goes. */
    CHECK(f, bk_store_event_type_delete(tx, w.et, &f->err), BK_E_CONFLICT);
    assert_non_null(strstr(f->err.msg, "booking"));
    et2 = add_event_type(f, tx, w.host, "spare", 0, 0);
    OK(f, bk_store_event_type_delete(tx, et2, &f->err));
    CHECK(f, bk_store_event_type_delete(tx, et2, &f->err), BK_E_NOT_FOUND);

    /* A host with a schedule only: it and its schedule go. */
    lone = add_host(f, tx, "lone", "l@example.com", T0);
    OK(f, bk_store_schedule_put(tx, lone, &s, T0, &f->err));
    OK(f, bk_store_host_delete(tx, lone, &f->err));
    CHECK(f, bk_store_host_get(tx, lone, &f->arena, &h, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f, bk_store_schedule_get(tx, lone, &f->arena, &got, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f, bk_store_host_delete(tx, lone, &f->err), BK_E_NOT_FOUND);
    commit(f, tx);
}

/* ---- Schedules --------------------------------------------------------- */

static void test_schedules(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    int64_t host = add_host(f, tx, "anna", "a@example.com", T0);
    /* Given out of order; read back sorted. */
    struct bk_weekly_range wk[] = {
        {2, 780, 1020}, {0, 780, 1020}, {0, 540, 720}, {6, 0, 1440}};
    struct bk_date_override ov[] = {
        {20501, false, 840, 900},
        {20500, true, 0, 0},
        {20501, false, 600, 660},
    };
    struct bk_schedule s = {"Europe/Berlin", wk, 4, ov, 3}, got;
    struct bk_weekly_range bad_wk[] = {{1, 600, 600}};
    struct bk_schedule bad = {"UTC", bad_wk, 1, NULL, 0};

    CHECK(f, bk_store_schedule_get(tx, host, &f->arena, &got, &f->err),
          BK_E_NOT_FOUND);
    commit(f, tx);
    CHECK_SOLO(f, bk_store_schedule_put(solo, 9999, &s, T0, &f->err),
               BK_E_NOT_FOUND);
    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_schedule_put(tx, host, &s, T0, &f->err));
    OK(f, bk_store_schedule_get(tx, host, &f->arena, &got, &f->err));
    assert_string_equal(got.timezone, "Europe/Berlin");
    assert_int_equal(got.n_weekly, 4);
    assert_int_equal(got.weekly[0].day, 0);
    assert_int_equal(got.weekly[0].start_min, 540);
    assert_int_equal(got.weekly[0].end_min, 720);
    assert_int_equal(got.weekly[1].day, 0);
    assert_int_equal(got.weekly[1].start_min, 780);
    assert_int_equal(got.weekly[2].day, 2);
    assert_int_equal(got.weekly[3].day, 6);
    assert_int_equal(got.weekly[3].end_min, 1440);
    assert_int_equal(got.n_overrides, 3);
    assert_int_equal(got.overrides[0].date, 20500);
    assert_true(got.overrides[0].unavailable);
    assert_int_equal(got.overrides[1].date, 20501);
    assert_false(got.overrides[1].unavailable);
    assert_int_equal(got.overrides[1].start_min, 600);
    assert_int_equal(got.overrides[1].end_min, 660);
    assert_int_equal(got.overrides[2].start_min, 840);

    commit(f, tx);

    /* An invalid range is refused, after the old ranges were deleted: the
     * rollback keeps the old schedule whole. */
    CHECK_SOLO(f, bk_store_schedule_put(solo, host, &bad, T0, &f->err),
               BK_E_INVALID);
    assert_string_equal(f->err.field, "weekly[0]");
    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_schedule_get(tx, host, &f->arena, &got, &f->err));
    assert_string_equal(got.timezone, "Europe/Berlin");
    assert_int_equal(got.n_weekly, 4);
    assert_int_equal(got.n_overrides, 3);

    /* Replacing: fewer ranges, no overrides, another zone. */
    s = (struct bk_schedule){"America/New_York", wk, 1, NULL, 0};
    OK(f, bk_store_schedule_put(tx, host, &s, T0 + 5, &f->err));
    commit(f, tx);
    tx = begin(f, BK_TX_READ);
    OK(f, bk_store_schedule_get(tx, host, &f->arena, &got, &f->err));
    assert_string_equal(got.timezone, "America/New_York");
    assert_int_equal(got.n_weekly, 1);
    assert_int_equal(got.weekly[0].day, 2);
    assert_int_equal(got.n_overrides, 0);
    commit(f, tx);
}

/* ---- Event types ------------------------------------------------------- */

static void test_event_types(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    int64_t host = add_host(f, tx, "anna", "a@example.com", T0);
    int64_t host2 = add_host(f, tx, "ben", "b@example.com", T0);
    struct bk_event_type et = event_type(host, "deep-dive"), got, *list;
    struct bk_page page = {0, 10};
    int64_t id, id2, id3, id_x;
    size_t n;

    et.description = "Ninety minutes";
    et.rules = (struct bk_slot_rules){.duration_min = 90,
                                      .interval_min = 30,
                                      .buffer_before_min = 10,
                                      .buffer_after_min = 15,
                                      .notice_min = 240,
                                      .horizon_days = 45,
                                      .max_per_day = 3,
                                      .alignment = BK_ALIGN_RANGE_START};
    et.has_price = true;
    et.price_minor = 12000;
    memcpy(et.currency, "EUR", 4);
    et.location_kind = BK_LOCATION_VIDEO;
    et.location_value = "https://meet.example.com/x";
    OK(f, bk_event_type_external_set(&et, "calcom", "4242"));
    OK(f, bk_event_type_external_set(
              &et, "calendly", "https://api.calendly.com/event_types/ABC"));
    et.imported = true;
    OK(f, bk_store_event_type_insert(tx, &et, &id, &f->err));

    OK(f, bk_store_event_type_get(tx, id, &f->arena, &got, &f->err));
    assert_int_equal(got.id, id);
    assert_string_equal(got.slug, "deep-dive");
    assert_string_equal(got.title, "Session");
    assert_string_equal(got.description, "Ninety minutes");
    assert_int_equal(got.host_id, host);
    assert_string_equal(got.host_slug, "anna");
    assert_memory_equal(&got.rules, &et.rules, sizeof(et.rules));
    assert_true(got.has_price);
    assert_int_equal(got.price_minor, 12000);
    assert_string_equal(got.currency, "EUR");
    assert_int_equal(got.location_kind, BK_LOCATION_VIDEO);
    assert_string_equal(got.location_value, "https://meet.example.com/x");
    assert_true(got.active);
    assert_int_equal(got.n_external_ids, 2);
    assert_string_equal(got.external_ids[0].provider, "calcom");
    assert_string_equal(got.external_ids[0].id, "4242");
    assert_string_equal(got.external_ids[1].provider, "calendly");
    assert_string_equal(got.external_ids[1].id,
                        "https://api.calendly.com/event_types/ABC");
    assert_true(got.imported);
    assert_int_equal(got.created_utc, T0);

    /* Defaults read back as none. */
    id2 = add_event_type(f, tx, host2, "intro", 0, 0);
    OK(f, bk_store_event_type_by_slug(tx, "intro", &f->arena, &got, &f->err));
    assert_int_equal(got.id, id2);
    assert_string_equal(got.host_slug, "ben");
    assert_null(got.description);
    assert_false(got.has_price);
    assert_string_equal(got.currency, "");
    assert_null(got.location_value);
    assert_int_equal(got.n_external_ids, 0);
    assert_false(got.imported);
    /* Several without external ids are fine. */
    id3 = add_event_type(f, tx, host2, "third", 0, 0);

    OK(f, bk_store_event_type_by_external(tx, "calcom", "4242", &f->arena, &got,
                                          &f->err));
    assert_int_equal(got.id, id);
    assert_int_equal(got.n_external_ids, 2);
    OK(f, bk_store_event_type_by_external(
              tx, "calendly", "https://api.calendly.com/event_types/ABC",
              &f->arena, &got, &f->err));
    assert_int_equal(got.id, id);
    CHECK(f,
          bk_store_event_type_by_external(tx, "calendly", "4242", &f->arena,
                                          &got, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f,
          bk_store_event_type_by_external(tx, "calcom", "7", &f->arena, &got,
                                          &f->err),
          BK_E_NOT_FOUND);
    /* Lists carry them too. */
    OK(f,
       bk_store_event_type_list(tx, -1, &page, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 3);
    assert_int_equal(list[0].n_external_ids, 2);
    assert_string_equal(list[0].external_ids[1].provider, "calendly");
    assert_int_equal(list[1].n_external_ids, 0);
    CHECK(f, bk_store_event_type_get(tx, 9999, &f->arena, &got, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f, bk_store_event_type_by_slug(tx, "nope", &f->arena, &got, &f->err),
          BK_E_NOT_FOUND);

    commit(f, tx);

    /* Unique slug; an external id maps one event type; the host must
     * exist. */
    et.n_external_ids = 0;
    OK(f, bk_event_type_external_set(&et, "calcom", "1"));
    CHECK_SOLO(f, bk_store_event_type_insert(solo, &et, &id_x, &f->err),
               BK_E_DUPLICATE);
    assert_non_null(strstr(f->err.msg, "slug"));
    et.slug = "fresh";
    OK(f, bk_event_type_external_set(&et, "calcom", "4242"));
    CHECK_SOLO(f, bk_store_event_type_insert(solo, &et, &id_x, &f->err),
               BK_E_CONFLICT);
    assert_non_null(strstr(f->err.msg, "deep-dive"));
    assert_string_equal(f->err.field, "external_ids");
    et.n_external_ids = 0;
    et.host_id = 9999;
    CHECK_SOLO(f, bk_store_event_type_insert(solo, &et, &id_x, &f->err),
               BK_E_NOT_FOUND);

    tx = begin(f, BK_TX_WRITE);

    /* Update: everything but id, slug and created_utc. */
    et = event_type(host, "renamed");
    et.id = id2;
    et.title = "Intro call";
    et.host_id = host;
    et.rules.duration_min = 30;
    et.rules.buffer_after_min = 5;
    et.active = false;
    OK(f, bk_event_type_external_set(&et, "calcom", "77"));
    et.created_utc = 1;
    et.updated_utc = T0 + 50;
    OK(f, bk_store_event_type_update(tx, &et, &f->err));
    OK(f, bk_store_event_type_get(tx, id2, &f->arena, &got, &f->err));
    assert_string_equal(got.slug, "intro");
    assert_string_equal(got.title, "Intro call");
    assert_int_equal(got.host_id, host);
    assert_string_equal(got.host_slug, "anna");
    assert_int_equal(got.rules.duration_min, 30);
    assert_int_equal(got.rules.buffer_after_min, 5);
    assert_false(got.active);
    assert_int_equal(got.n_external_ids, 1);
    assert_string_equal(got.external_ids[0].id, "77");
    assert_int_equal(got.created_utc, T0);
    assert_int_equal(got.updated_utc, T0 + 50);
    /* Changing one id and removing another replaces the stored links. */
    OK(f, bk_event_type_external_set(&et, "calcom", "78"));
    OK(f, bk_event_type_external_set(&et, "zoom", "z-1"));
    OK(f, bk_store_event_type_update(tx, &et, &f->err));
    OK(f, bk_store_event_type_get(tx, id2, &f->arena, &got, &f->err));
    assert_int_equal(got.n_external_ids, 2);
    assert_string_equal(got.external_ids[0].id, "78");
    assert_string_equal(got.external_ids[1].provider, "zoom");
    CHECK(f,
          bk_store_event_type_by_external(tx, "calcom", "77", &f->arena, &got,
                                          &f->err),
          BK_E_NOT_FOUND);
    OK(f, bk_event_type_external_set(&et, "zoom", NULL));
    OK(f, bk_store_event_type_update(tx, &et, &f->err));
    OK(f, bk_store_event_type_get(tx, id2, &f->arena, &got, &f->err));
    assert_int_equal(got.n_external_ids, 1);
    et.id = 9999;
    CHECK(f, bk_store_event_type_update(tx, &et, &f->err), BK_E_NOT_FOUND);
    commit(f, tx);
    /* Another event type's id is a conflict. */
    et.id = id2;
    OK(f, bk_event_type_external_set(&et, "calcom", "4242"));
    CHECK_SOLO(f, bk_store_event_type_update(solo, &et, &f->err),
               BK_E_CONFLICT);
    assert_non_null(strstr(f->err.msg, "deep-dive"));
    OK(f, bk_event_type_external_set(&et, "calcom", "78"));
    /* A CHECK: buffers are at most a day. */
    et.rules.buffer_before_min = 2000;
    CHECK_SOLO(f, bk_store_event_type_update(solo, &et, &f->err), BK_E_INVALID);

    tx = begin(f, BK_TX_READ);

    /* Lists: all, active only, inactive only, paging. */
    OK(f,
       bk_store_event_type_list(tx, -1, &page, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 3);
    assert_int_equal(list[0].id, id);
    assert_int_equal(list[1].id, id2);
    assert_int_equal(list[2].id, id3);
    OK(f,
       bk_store_event_type_list(tx, 1, &page, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, id);
    assert_int_equal(list[1].id, id3);
    OK(f,
       bk_store_event_type_list(tx, 0, &page, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, id2);
    page = (struct bk_page){id, 1};
    OK(f,
       bk_store_event_type_list(tx, -1, &page, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, id2);
    commit(f, tx);
}

/* ---- Clients ----------------------------------------------------------- */

static void test_clients(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct bk_client c, got, *list;
    struct bk_page page = {0, 10};
    int64_t a, b, id;
    size_t n;

    a = add_client(f, tx, "cli_a", "Alice@Example.com");
    b = add_client(f, tx, "cli_b", "bob@example.com");
    OK(f, bk_store_client_get(tx, a, &f->arena, &got, &f->err));
    assert_int_equal(got.id, a);
    assert_string_equal(got.public_id, "cli_a");
    assert_string_equal(got.email, "Alice@Example.com"); /* as given */
    assert_string_equal(got.name, "Client");
    assert_null(got.timezone);
    assert_int_equal(got.status, BK_CLIENT_PROSPECT);
    OK(f, bk_store_client_by_public_id(tx, "cli_b", &f->arena, &got, &f->err));
    assert_int_equal(got.id, b);
    OK(f, bk_store_client_by_email(tx, "ALICE@example.COM", &f->arena, &got,
                                   &f->err));
    assert_int_equal(got.id, a);
    CHECK(f, bk_store_client_get(tx, 9999, &f->arena, &got, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f,
          bk_store_client_by_public_id(tx, "cli_x", &f->arena, &got, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f,
          bk_store_client_by_email(tx, "alice@example.org", &f->arena, &got,
                                   &f->err),
          BK_E_NOT_FOUND);

    commit(f, tx);

    /* The email is unique in any letter case; so is the public id. */
    c = (struct bk_client){
        .public_id = "cli_c", .email = "alice@EXAMPLE.com", .name = "Other"};
    CHECK_SOLO(f, bk_store_client_insert(solo, &c, &id, &f->err),
               BK_E_DUPLICATE);
    assert_non_null(strstr(f->err.msg, "email"));
    c.email = "carol@example.com";
    c.public_id = "cli_a";
    CHECK_SOLO(f, bk_store_client_insert(solo, &c, &id, &f->err),
               BK_E_DUPLICATE);
    assert_non_null(strstr(f->err.msg, "public id"));

    tx = begin(f, BK_TX_WRITE);

    /* Update: a change of case of its own address is fine, another
     * client's address is not. */
    c = (struct bk_client){.id = a,
                           .public_id = "ignored",
                           .email = "ALICE@example.com",
                           .name = "Alice",
                           .timezone = "Europe/Paris",
                           .status = BK_CLIENT_ACTIVE,
                           .created_utc = 1,
                           .updated_utc = T0 + 7};
    OK(f, bk_store_client_update(tx, &c, &f->err));
    OK(f, bk_store_client_get(tx, a, &f->arena, &got, &f->err));
    assert_string_equal(got.public_id, "cli_a");
    assert_string_equal(got.email, "ALICE@example.com");
    assert_string_equal(got.name, "Alice");
    assert_string_equal(got.timezone, "Europe/Paris");
    assert_int_equal(got.status, BK_CLIENT_ACTIVE);
    assert_int_equal(got.created_utc, T0);
    assert_int_equal(got.updated_utc, T0 + 7);
    c.id = 9999;
    c.email = "z@example.com";
    CHECK(f, bk_store_client_update(tx, &c, &f->err), BK_E_NOT_FOUND);
    commit(f, tx);
    c.id = a;
    c.email = "Bob@Example.com";
    CHECK_SOLO(f, bk_store_client_update(solo, &c, &f->err), BK_E_DUPLICATE);

    tx = begin(f, BK_TX_READ);

    /* Lists: by email in any case, by status, paging. */
    OK(f, bk_store_client_list(tx, NULL, -1, &page, &f->arena, &list, &n,
                               &f->err));
    assert_int_equal(n, 2);
    OK(f, bk_store_client_list(tx, "bob@EXAMPLE.com", -1, &page, &f->arena,
                               &list, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, b);
    OK(f, bk_store_client_list(tx, NULL, BK_CLIENT_ACTIVE, &page, &f->arena,
                               &list, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, a);
    OK(f, bk_store_client_list(tx, "bob@example.com", BK_CLIENT_ACTIVE, &page,
                               &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 0);
    page = (struct bk_page){a, 10};
    OK(f, bk_store_client_list(tx, NULL, -1, &page, &f->arena, &list, &n,
                               &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, b);
    commit(f, tx);
}

/* Insert-or-get by email, in any letter case, in one statement: the
 * existing client comes back unchanged. */
static void test_client_upsert(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct bk_client c = {.public_id = "cli_d",
                          .email = "Dana@Example.com",
                          .name = "Dana",
                          .timezone = "Europe/Rome",
                          .status = BK_CLIENT_ACTIVE,
                          .created_utc = T0,
                          .updated_utc = T0 + 1},
                     got, again, *list;
    struct bk_page page = {0, 10};
    bool created = false;
    int64_t other;
    size_t n;

    other = add_client(f, tx, "cli_o", "other@example.com");
    OK(f, bk_store_client_upsert(tx, &c, &f->arena, &got, &created, &f->err));
    assert_true(created);
    assert_true(got.id > 0);
    assert_int_not_equal(got.id, other);
    assert_string_equal(got.public_id, "cli_d");
    assert_string_equal(got.email, "Dana@Example.com");
    assert_string_equal(got.name, "Dana");
    assert_string_equal(got.timezone, "Europe/Rome");
    assert_int_equal(got.status, BK_CLIENT_ACTIVE);
    assert_int_equal(got.created_utc, T0);
    assert_int_equal(got.updated_utc, T0 + 1);

    /* In the same transaction, the address in another case: the stored
     * client, untouched. */
    c = (struct bk_client){.public_id = "cli_e",
                           .email = "dana@EXAMPLE.com",
                           .name = "Someone else",
                           .status = BK_CLIENT_PROSPECT,
                           .created_utc = T0 + 50,
                           .updated_utc = T0 + 50};
    OK(f, bk_store_client_upsert(tx, &c, &f->arena, &again, &created, &f->err));
    assert_false(created);
    assert_int_equal(again.id, got.id);
    assert_string_equal(again.public_id, "cli_d");
    assert_string_equal(again.email, "Dana@Example.com");
    assert_string_equal(again.name, "Dana");
    assert_string_equal(again.timezone, "Europe/Rome");
    assert_int_equal(again.status, BK_CLIENT_ACTIVE);
    assert_int_equal(again.updated_utc, T0 + 1);
    commit(f, tx);

    /* In a later transaction; then a new address is a new client. */
    tx = begin(f, BK_TX_WRITE);
    c.email = "DANA@example.com";
    OK(f, bk_store_client_upsert(tx, &c, &f->arena, &again, &created, &f->err));
    assert_false(created);
    assert_int_equal(again.id, got.id);
    assert_string_equal(again.name, "Dana");
    c.email = "eve@example.com";
    OK(f, bk_store_client_upsert(tx, &c, &f->arena, &again, &created, &f->err));
    assert_true(created);
    assert_string_equal(again.public_id, "cli_e");
    assert_string_equal(again.name, "Someone else");
    assert_null(again.timezone);
    commit(f, tx);

    /* Only the email is absorbed: another unique key still fails. */
    c.public_id = "cli_o";
    c.email = "frank@example.com";
    CHECK_SOLO(
        f,
        bk_store_client_upsert(solo, &c, &f->arena, &again, &created, &f->err),
        BK_E_DUPLICATE);
    assert_non_null(strstr(f->err.msg, "public id"));

    tx = begin(f, BK_TX_READ);
    OK(f, bk_store_client_list(tx, NULL, -1, &page, &f->arena, &list, &n,
                               &f->err));
    assert_int_equal(n, 3);
    OK(f, bk_store_client_get(tx, got.id, &f->arena, &again, &f->err));
    assert_string_equal(again.name, "Dana");
    assert_int_equal(again.updated_utc, T0 + 1);
    commit(f, tx);
}

/* ---- Bookings ---------------------------------------------------------- */

static void test_bookings(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct world w = add_world(f, tx);
    int64_t et2 = add_event_type(f, tx, w.host, "long", 0, 0);
    int64_t c2 = add_client(f, tx, "cli_2", "two@example.com");
    struct bk_booking b = booking("UID00000000000000001", w.et, w.host,
                                  w.client, T0, T0 + HOUR),
                      got;
    int64_t id, id2;

    b.attendee_timezone = "Asia/Tokyo";
    b.status = BK_BOOKING_PENDING;
    b.payment_status = BK_PAYMENT_UNPAID;
    b.source = BK_SOURCE_CALCOM;
    b.location = "Room 1";
    b.meeting_url = "https://zoom.example.com/1";
    b.notes = "first time";
    b.hold_expires_utc = T0 - 600;
    id = add_booking(f, tx, &b);

    OK(f, bk_store_booking_get(tx, id, &f->arena, &got, &f->err));
    assert_int_equal(got.id, id);
    assert_string_equal(got.uid, "UID00000000000000001");
    assert_int_equal(got.event_type_id, w.et);
    assert_string_equal(got.event_type_slug, "intro");
    assert_int_equal(got.host_id, w.host);
    assert_string_equal(got.host_slug, "anna");
    assert_int_equal(got.client_id, w.client);
    assert_string_equal(got.client_public_id, "cli_1");
    assert_string_equal(got.client_name, "Client");
    assert_string_equal(got.client_email, "c1@example.com");
    assert_int_equal(got.start_utc, T0);
    assert_int_equal(got.end_utc, T0 + HOUR);
    assert_string_equal(got.attendee_timezone, "Asia/Tokyo");
    assert_int_equal(got.status, BK_BOOKING_PENDING);
    assert_int_equal(got.payment_status, BK_PAYMENT_UNPAID);
    assert_int_equal(got.source, BK_SOURCE_CALCOM);
    assert_string_equal(got.location, "Room 1");
    assert_string_equal(got.meeting_url, "https://zoom.example.com/1");
    assert_string_equal(got.notes, "first time");
    assert_null(got.cancellation_reason);
    assert_int_equal(got.rescheduled_from_utc, 0);
    assert_int_equal(got.hold_expires_utc, T0 - 600);
    assert_int_equal(got.created_utc, T0);

    OK(f, bk_store_booking_by_uid(tx, "UID00000000000000001", &f->arena, &got,
                                  &f->err));
    assert_int_equal(got.id, id);
    CHECK(f, bk_store_booking_by_uid(tx, "nope", &f->arena, &got, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f, bk_store_booking_get(tx, 9999, &f->arena, &got, &f->err),
          BK_E_NOT_FOUND);

    commit(f, tx);

    /* Unique uid, existing references, end after start. */
    CHECK_SOLO(f, bk_store_booking_insert(solo, &b, &id2, &f->err),
               BK_E_DUPLICATE);
    assert_non_null(strstr(f->err.msg, "uid"));
    b.uid = "UID2";
    b.client_id = 9999;
    CHECK_SOLO(f, bk_store_booking_insert(solo, &b, &id2, &f->err),
               BK_E_NOT_FOUND);
    b.client_id = w.client;
    b.end_utc = b.start_utc;
    CHECK_SOLO(f, bk_store_booking_insert(solo, &b, &id2, &f->err),
               BK_E_INVALID);

    tx = begin(f, BK_TX_WRITE);

    /* Update every mutable field; uid, source and created_utc stay. */
    b = booking("ignored", et2, w.host, c2, T0 + 2 * HOUR, T0 + 4 * HOUR);
    b.id = id;
    b.attendee_timezone = NULL;
    b.status = BK_BOOKING_CANCELLED;
    b.payment_status = BK_PAYMENT_REFUNDED;
    b.source = BK_SOURCE_API;
    b.meeting_url = "https://zoom.example.com/2";
    b.cancellation_reason = "sick";
    b.rescheduled_from_utc = T0;
    b.hold_expires_utc = 0;
    b.created_utc = 1;
    b.updated_utc = T0 + 77;
    OK(f, bk_store_booking_update(tx, &b, &f->err));
    OK(f, bk_store_booking_get(tx, id, &f->arena, &got, &f->err));
    assert_string_equal(got.uid, "UID00000000000000001");
    assert_int_equal(got.event_type_id, et2);
    assert_string_equal(got.event_type_slug, "long");
    assert_int_equal(got.client_id, c2);
    assert_string_equal(got.client_public_id, "cli_2");
    assert_string_equal(got.client_email, "two@example.com");
    assert_int_equal(got.start_utc, T0 + 2 * HOUR);
    assert_int_equal(got.end_utc, T0 + 4 * HOUR);
    assert_null(got.attendee_timezone);
    assert_int_equal(got.status, BK_BOOKING_CANCELLED);
    assert_int_equal(got.payment_status, BK_PAYMENT_REFUNDED);
    assert_int_equal(got.source, BK_SOURCE_CALCOM);
    assert_null(got.location);
    assert_null(got.notes);
    assert_string_equal(got.meeting_url, "https://zoom.example.com/2");
    assert_string_equal(got.cancellation_reason, "sick");
    assert_int_equal(got.rescheduled_from_utc, T0);
    assert_int_equal(got.hold_expires_utc, 0);
    assert_int_equal(got.created_utc, T0);
    assert_int_equal(got.updated_utc, T0 + 77);
    b.id = 9999;
    CHECK(f, bk_store_booking_update(tx, &b, &f->err), BK_E_NOT_FOUND);
    commit(f, tx);
    b.id = id;
    b.event_type_id = 9999;
    CHECK_SOLO(f, bk_store_booking_update(solo, &b, &f->err), BK_E_NOT_FOUND);
}

static void test_booking_list(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct world w = add_world(f, tx);
    int64_t et2 = add_event_type(f, tx, w.host, "other", 0, 0);
    int64_t c2 = add_client(f, tx, "cli_2", "two@example.com");
    int64_t host2 = add_host(f, tx, "ben", "ben@example.com", T0);
    struct bk_booking *list;
    struct bk_booking_filter all = {.status = -1, .source = -1, .limit = 100};
    struct bk_booking_filter q;
    int64_t ids[8];
    /* rows[] indexes by (start, id) */
    static const int order[8] = {7, 6, 5, 4, 2, 3, 1, 0};
    size_t n;
    char uid[16];

    /* Eight bookings; 2 and 3 share a start, inserted in reverse start
     * order so that ids and starts disagree. 3 is another host's: one
     * host's blocking bookings may not overlap (PostgreSQL refuses it). */
    static const struct {
        int64_t start_h;
        int status, source, client2, et2;
    } rows[8] = {
        {7, BK_BOOKING_CONFIRMED, BK_SOURCE_WEB, 0, 0},
        {6, BK_BOOKING_CANCELLED, BK_SOURCE_API, 1, 0},
        {5, BK_BOOKING_CONFIRMED, BK_SOURCE_CALCOM, 0, 1},
        {5, BK_BOOKING_PENDING, BK_SOURCE_WEB, 1, 1},
        {3, BK_BOOKING_CONFIRMED, BK_SOURCE_WEB, 1, 0},
        {2, BK_BOOKING_COMPLETED, BK_SOURCE_API, 0, 0},
        {1, BK_BOOKING_CONFIRMED, BK_SOURCE_WEB, 0, 1},
        {0, BK_BOOKING_NO_SHOW, BK_SOURCE_WEB, 1, 0},
    };
    for (int i = 0; i < 8; i++) {
        struct bk_booking b;
        snprintf(uid, sizeof(uid), "U%d", i);
        b = booking(uid, rows[i].et2 ? et2 : w.et, i == 3 ? host2 : w.host,
                    rows[i].client2 ? c2 : w.client,
                    T0 + rows[i].start_h * HOUR,
                    T0 + rows[i].start_h * HOUR + 1800);
        b.status = rows[i].status;
        b.source = rows[i].source;
        ids[i] = add_booking(f, tx, &b);
    }

    /* All, by (start, id): 2 and 3 share a start, the lower id first. */
    OK(f, bk_store_booking_list(tx, &all, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(list[i].id, ids[order[i]]);
    assert_string_equal(list[0].client_public_id, "cli_2");
    assert_string_equal(list[0].event_type_slug, "intro");
    assert_string_equal(list[0].host_slug, "anna");

    /* Paging with the cursor, two at a time, across the equal starts. */
    {
        struct bk_booking_filter p = all;
        size_t total = 0;
        p.limit = 2;
        for (int page = 0; page < 10; page++) {
            OK(f, bk_store_booking_list(tx, &p, &f->arena, &list, &n, &f->err));
            for (size_t i = 0; i < n; i++) {
                assert_true(total < 8);
                assert_int_equal(list[i].id, ids[order[total]]);
                total++;
            }
            if (n < 2)
                break;
            p.has_after = true;
            p.after_start_utc = list[n - 1].start_utc;
            p.after_id = list[n - 1].id;
        }
        assert_int_equal(total, 8);
    }

    /* Each filter, then all together. */
    q = all;
    q.status = BK_BOOKING_CONFIRMED;
    OK(f, bk_store_booking_list(tx, &q, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 4);
    q = all;
    q.status = BK_BOOKING_PENDING;
    OK(f, bk_store_booking_list(tx, &q, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, ids[3]);
    q = all;
    q.source = BK_SOURCE_API;
    OK(f, bk_store_booking_list(tx, &q, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, ids[5]);
    assert_int_equal(list[1].id, ids[1]);
    q = all;
    q.source = BK_SOURCE_WEB; /* 0 is a value here, not "any" */
    OK(f, bk_store_booking_list(tx, &q, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 5);
    q = all;
    q.from_utc = T0 + 2 * HOUR;
    q.to_utc = T0 + 5 * HOUR; /* 5 is excluded */
    OK(f, bk_store_booking_list(tx, &q, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, ids[5]);
    assert_int_equal(list[1].id, ids[4]);
    q = all;
    q.client_id = c2;
    OK(f, bk_store_booking_list(tx, &q, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 4);
    q = all;
    q.event_type_id = et2;
    OK(f, bk_store_booking_list(tx, &q, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 3);
    q = all;
    q.client_id = c2;
    q.event_type_id = et2;
    q.status = BK_BOOKING_PENDING;
    q.source = BK_SOURCE_WEB;
    q.from_utc = T0 + 5 * HOUR;
    q.to_utc = T0 + 6 * HOUR;
    OK(f, bk_store_booking_list(tx, &q, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, ids[3]);
    q.status = BK_BOOKING_CONFIRMED;
    OK(f, bk_store_booking_list(tx, &q, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 0);
    q = all;
    q.limit = 3;
    OK(f, bk_store_booking_list(tx, &q, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 3);
    commit(f, tx);
}

static void test_booking_busy(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct world w = add_world(f, tx);
    int64_t host2 = add_host(f, tx, "ben", "b@example.com", T0);
    int64_t et_buf = add_event_type(f, tx, w.host, "buffered", 30, 45);
    int64_t et_other = add_event_type(f, tx, host2, "ben-intro", 0, 0);
    int64_t now = T0;
    /* The window: [T0 + 10h, T0 + 16h). One host's blocking bookings never
     * overlap each other (PostgreSQL refuses that), so each has its own
     * time. */
    int64_t from = T0 + 10 * HOUR, to = T0 + 16 * HOUR;
    struct bk_booking_span *spans;
    size_t n;
    int64_t in_conf, in_done, in_no_show, in_pend_open, in_pend_none;
    int64_t buf_after, buf_before, x;

    struct bk_booking b;
#define ADD(uid_, et_, host_, s_, e_, status_, hold_)                          \
    (b = booking(uid_, et_, host_, w.client, s_, e_), b.status = status_,      \
     b.hold_expires_utc = hold_, add_booking(f, tx, &b))

    /* Count: completed, no-show, pending with an open hold and without
     * one, confirmed. */
    in_done = ADD("b", w.et, w.host, from + 30 * MIN, from + HOUR,
                  BK_BOOKING_COMPLETED, 0);
    in_no_show = ADD("c", w.et, w.host, from + HOUR, from + 90 * MIN,
                     BK_BOOKING_NO_SHOW, 0);
    in_pend_open = ADD("d", w.et, w.host, from + 2 * HOUR, from + 150 * MIN,
                       BK_BOOKING_PENDING, now + 1);
    in_pend_none = ADD("e", w.et, w.host, from + 3 * HOUR, from + 210 * MIN,
                       BK_BOOKING_PENDING, 0);
    in_conf = ADD("a", w.et, w.host, from + 4 * HOUR, from + 5 * HOUR,
                  BK_BOOKING_CONFIRMED, 0);
    /* Ends 30 min before the window, but its 45 min after-buffer reaches
     * in; starts 20 min after it, but its 30 min before-buffer reaches
     * back in. */
    buf_after = ADD("f", et_buf, w.host, from - 2 * HOUR, from - 30 * MIN,
                    BK_BOOKING_CONFIRMED, 0);
    buf_before = ADD("g", et_buf, w.host, to + 20 * MIN, to + HOUR,
                     BK_BOOKING_CONFIRMED, 0);
    /* Do not count: cancelled, expired holds (at now exactly too),
     * touching the window without buffers, another host. */
    ADD("h", w.et, w.host, from, to, BK_BOOKING_CANCELLED, 0);
    ADD("i", w.et, w.host, from + 100 * MIN, from + 110 * MIN,
        BK_BOOKING_PENDING, now - 1);
    ADD("j", w.et, w.host, from + 160 * MIN, from + 170 * MIN,
        BK_BOOKING_PENDING, now);
    ADD("k", w.et, w.host, from - 30 * MIN, from, BK_BOOKING_CONFIRMED, 0);
    ADD("l", w.et, w.host, to, to + 20 * MIN, BK_BOOKING_CONFIRMED, 0);
    ADD("o", et_other, host2, from, to, BK_BOOKING_CONFIRMED, 0);
    /* Counts, but is the one left out. */
    x = ADD("p", w.et, w.host, from + 5 * HOUR + 15 * MIN,
            from + 5 * HOUR + 30 * MIN, BK_BOOKING_CONFIRMED, 0);
#undef ADD

    OK(f, bk_store_booking_busy(tx, w.host, from, to, now, x, &f->arena, &spans,
                                &n, &f->err));
    assert_int_equal(n, 7);
    assert_int_equal(spans[0].booking_id, buf_after);
    assert_int_equal(spans[0].event_type_id, et_buf);
    assert_int_equal(spans[0].buffer_before_min, 30);
    assert_int_equal(spans[0].buffer_after_min, 45);
    assert_int_equal(spans[0].start_utc, from - 2 * HOUR);
    assert_int_equal(spans[0].end_utc, from - 30 * MIN);
    assert_int_equal(spans[1].booking_id, in_done);
    assert_int_equal(spans[2].booking_id, in_no_show);
    assert_int_equal(spans[3].booking_id, in_pend_open);
    assert_int_equal(spans[4].booking_id, in_pend_none);
    assert_int_equal(spans[5].booking_id, in_conf);
    assert_int_equal(spans[5].buffer_after_min, 0);
    assert_int_equal(spans[6].booking_id, buf_before);

    /* Without the exclusion, x is there too. */
    OK(f, bk_store_booking_busy(tx, w.host, from, to, now, 0, &f->arena, &spans,
                                &n, &f->err));
    assert_int_equal(n, 8);
    assert_int_equal(spans[6].booking_id, x);
    /* Later, the open hold has expired too. */
    OK(f, bk_store_booking_busy(tx, w.host, from, to, now + 1, 0, &f->arena,
                                &spans, &n, &f->err));
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(spans[i].booking_id, in_pend_open);
    /* The buffers' edges: f's after-buffer ends at from + 15 min, g's
     * before-buffer starts at to - 10 min (half-open: touching is not
     * overlapping). */
    OK(f, bk_store_booking_busy(tx, w.host, from + 15 * MIN, from + 20 * MIN,
                                now, 0, &f->arena, &spans, &n, &f->err));
    assert_int_equal(n, 0);
    OK(f, bk_store_booking_busy(tx, w.host, from + 14 * MIN, from + 20 * MIN,
                                now, 0, &f->arena, &spans, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(spans[0].booking_id, buf_after);
    OK(f, bk_store_booking_busy(tx, w.host, to - 20 * MIN, to - 10 * MIN, now,
                                0, &f->arena, &spans, &n, &f->err));
    assert_int_equal(n, 0);
    OK(f, bk_store_booking_busy(tx, w.host, to - 20 * MIN, to - 9 * MIN, now, 0,
                                &f->arena, &spans, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(spans[0].booking_id, buf_before);
    /* An empty window elsewhere. */
    OK(f, bk_store_booking_busy(tx, w.host, T0 + 100 * HOUR, T0 + 101 * HOUR,
                                now, 0, &f->arena, &spans, &n, &f->err));
    assert_int_equal(n, 0);
    OK(f, bk_store_booking_busy(tx, host2, from, to, now, 0, &f->arena, &spans,
                                &n, &f->err));
    assert_int_equal(n, 1);
    commit(f, tx);
}

/* The busy-time query reads the index of the bookings that can block
 * (migration 3), not every booking of the host: cancelled ones pile up as
 * history grows (issue 12). The plan is asked after enough rows, and on
 * PostgreSQL fresh statistics, that the planner chooses by cost. */
static void test_booking_busy_plan(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct world w = add_world(f, tx);
    struct bk_booking b;
    char uid[32], *plan = NULL;

    for (int i = 0; i < 2000; i++) {
        snprintf(uid, sizeof(uid), "busy-plan-%d", i);
        b = booking(uid, w.et, w.host, w.client, T0 + i * HOUR,
                    T0 + i * HOUR + 30 * MIN);
        b.status = i % 20 ? BK_BOOKING_CANCELLED : BK_BOOKING_CONFIRMED;
        add_booking(f, tx, &b);
    }
    commit(f, tx);
    if (pg_url)
        pg_exec("ANALYZE bookings");
    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_booking_busy_plan(tx, &f->arena, &plan, &f->err));
    print_message("busy-time plan:\n%s", plan);
    assert_non_null(strstr(plan, "bookings_host_end_blocking"));
    commit(f, tx);
}

/* ---- History ----------------------------------------------------------- */

static void test_history(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct world w = add_world(f, tx);
    struct bk_booking b = booking("U1", w.et, w.host, w.client, T0, T0 + HOUR);
    int64_t id = add_booking(f, tx, &b);
    struct bk_booking_change c1 = {.booking_id = id,
                                   .at_utc = T0 + 100,
                                   .action = "rescheduled",
                                   .actor = "attendee",
                                   .from_status = BK_BOOKING_CONFIRMED,
                                   .to_status = BK_BOOKING_CONFIRMED,
                                   .old_start_utc = T0,
                                   .old_end_utc = T0 + HOUR,
                                   .new_start_utc = T0 + HOUR,
                                   .new_end_utc = T0 + 2 * HOUR,
                                   .note = "moved"};
    struct bk_booking_change c0 = {.booking_id = id,
                                   .at_utc = T0,
                                   .action = "created",
                                   .actor = "api",
                                   .from_status = -1,
                                   .to_status = BK_BOOKING_PENDING};
    struct bk_booking_change c2 = {.booking_id = id,
                                   .at_utc = T0 + 100,
                                   .action = "confirmed",
                                   .actor = "system",
                                   .from_status = BK_BOOKING_PENDING,
                                   .to_status = -1};
    struct bk_booking_change *list;
    size_t n;

    OK(f, bk_store_history_list(tx, id, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 0);
    /* Appended out of time order; read back oldest first, ties by id. */
    OK(f, bk_store_history_append(tx, &c1, &f->err));
    OK(f, bk_store_history_append(tx, &c0, &f->err));
    OK(f, bk_store_history_append(tx, &c2, &f->err));
    commit(f, tx);
    c0.booking_id = 9999;
    CHECK_SOLO(f, bk_store_history_append(solo, &c0, &f->err), BK_E_NOT_FOUND);
    tx = begin(f, BK_TX_READ);
    OK(f, bk_store_history_list(tx, id, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 3);
    assert_string_equal(list[0].action, "created");
    assert_string_equal(list[0].actor, "api");
    assert_int_equal(list[0].from_status, -1);
    assert_int_equal(list[0].to_status, BK_BOOKING_PENDING);
    assert_int_equal(list[0].old_start_utc, 0);
    assert_null(list[0].note);
    assert_string_equal(list[1].action, "rescheduled");
    assert_int_equal(list[1].booking_id, id);
    assert_int_equal(list[1].at_utc, T0 + 100);
    assert_int_equal(list[1].old_start_utc, T0);
    assert_int_equal(list[1].old_end_utc, T0 + HOUR);
    assert_int_equal(list[1].new_start_utc, T0 + HOUR);
    assert_int_equal(list[1].new_end_utc, T0 + 2 * HOUR);
    assert_string_equal(list[1].note, "moved");
    assert_string_equal(list[2].action, "confirmed");
    assert_int_equal(list[2].to_status, -1);
    assert_true(list[1].id < list[2].id);
    commit(f, tx);
}

/* ---- Messages ---------------------------------------------------------- */

static void test_messages(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct world w = add_world(f, tx);
    struct bk_booking b = booking("U1", w.et, w.host, w.client, T0, T0 + HOUR);
    int64_t id = add_booking(f, tx, &b), m1 = 0, m2 = 0;
    struct bk_message m = {.booking_id = id,
                           .kind = "attendee_confirmed",
                           .recipient = "ada@example.com",
                           .subject = "Confirmed: Zo\xc3\xab",
                           .status = BK_MESSAGE_QUEUED,
                           .message_id = "<U1.attendee_confirmed.0@bookingd>",
                           .created_utc = T0};
    struct bk_message *list, got;
    size_t n;

    OK(f, bk_store_message_list(tx, id, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 0);
    OK(f, bk_store_message_insert(tx, &m, &m1, &f->err));
    m.kind = "host_new";
    m.recipient = "host@example.com";
    m.status = BK_MESSAGE_SKIPPED;
    OK(f, bk_store_message_insert(tx, &m, &m2, &f->err));
    assert_true(m1 < m2);
    commit(f, tx);
    /* (booking, kind, sequence) is unique; the booking must exist. */
    CHECK_SOLO(f, bk_store_message_insert(solo, &m, NULL, &f->err),
               BK_E_DUPLICATE);
    m.booking_id = 9999;
    m.sequence = 1;
    CHECK_SOLO(f, bk_store_message_insert(solo, &m, NULL, &f->err),
               BK_E_NOT_FOUND);
    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_message_get(tx, m1, &f->arena, &got, &f->err));
    assert_string_equal(got.subject, "Confirmed: Zo\xc3\xab");
    assert_int_equal(got.status, BK_MESSAGE_QUEUED);
    assert_null(got.last_error);
    assert_int_equal(got.sent_utc, 0);
    got.status = BK_MESSAGE_SENT;
    got.attempts = 2;
    got.last_error = "421 try later";
    got.sent_utc = T0 + 5;
    OK(f, bk_store_message_update(tx, &got, &f->err));
    got.id = 9999;
    assert_int_equal(bk_store_message_update(tx, &got, &f->err),
                     BK_E_NOT_FOUND);
    commit(f, tx);
    tx = begin(f, BK_TX_READ);
    OK(f, bk_store_message_list(tx, id, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, m1);
    assert_string_equal(list[0].kind, "attendee_confirmed");
    assert_string_equal(list[0].message_id,
                        "<U1.attendee_confirmed.0@bookingd>");
    assert_int_equal(list[0].status, BK_MESSAGE_SENT);
    assert_int_equal(list[0].attempts, 2);
    assert_string_equal(list[0].last_error, "421 try later");
    assert_int_equal(list[0].sent_utc, T0 + 5);
    assert_string_equal(list[1].recipient, "host@example.com");
    assert_int_equal(list[1].status, BK_MESSAGE_SKIPPED);
    assert_int_equal(bk_store_message_get(tx, 9999, &f->arena, &got, &f->err),
                     BK_E_NOT_FOUND);
    commit(f, tx);
}

/* ---- External links ---------------------------------------------------- */

static void test_links(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct bk_link l1 = {.entity = BK_LINK_BOOKING,
                         .entity_id = 5,
                         .provider = "calcom",
                         .kind = "booking_uid",
                         .external_id = "cal-1",
                         .created_utc = T0 + 10};
    struct bk_link l2 = {.entity = BK_LINK_BOOKING,
                         .entity_id = 5,
                         .provider = "stripe",
                         .kind = "checkout_session",
                         .external_id = "cs_1",
                         .etag = "v1",
                         .created_utc = T0};
    struct bk_link l3 = {.entity = BK_LINK_CLIENT,
                         .entity_id = 5,
                         .provider = "calcom",
                         .kind = "booking_uid",
                         .external_id = "cal-2",
                         .created_utc = T0};
    struct bk_link got, *list;
    size_t n;

    OK(f, bk_store_link_insert(tx, &l1, &f->err));
    OK(f, bk_store_link_insert(tx, &l2, &f->err));
    OK(f, bk_store_link_insert(tx, &l3, &f->err));
    commit(f, tx);
    /* The same external id, even for another row, is a duplicate; the
     * same id under another kind is not. */
    l3.entity_id = 6;
    l3.external_id = "cal-1";
    CHECK_SOLO(f, bk_store_link_insert(solo, &l3, &f->err), BK_E_DUPLICATE);
    assert_non_null(strstr(f->err.msg, "external id"));
    tx = begin(f, BK_TX_WRITE);
    l3.kind = "booking_id";
    OK(f, bk_store_link_insert(tx, &l3, &f->err));

    OK(f, bk_store_link_find(tx, "calcom", "booking_uid", "cal-1", &f->arena,
                             &got, &f->err));
    assert_true(got.id > 0);
    assert_int_equal(got.entity, BK_LINK_BOOKING);
    assert_int_equal(got.entity_id, 5);
    assert_string_equal(got.provider, "calcom");
    assert_string_equal(got.kind, "booking_uid");
    assert_string_equal(got.external_id, "cal-1");
    assert_null(got.etag);
    assert_false(got.superseded);
    assert_int_equal(got.created_utc, T0 + 10);
    CHECK(f,
          bk_store_link_find(tx, "calcom", "booking_uid", "cal-9", &f->arena,
                             &got, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f,
          bk_store_link_find(tx, "stripe", "booking_uid", "cal-1", &f->arena,
                             &got, &f->err),
          BK_E_NOT_FOUND);

    /* A superseded id still finds its row. */
    l1.etag = "e2";
    l1.superseded = true;
    l1.entity_id = 77; /* not changed by update */
    OK(f, bk_store_link_update(tx, &l1, &f->err));
    OK(f, bk_store_link_find(tx, "calcom", "booking_uid", "cal-1", &f->arena,
                             &got, &f->err));
    assert_true(got.superseded);
    assert_string_equal(got.etag, "e2");
    assert_int_equal(got.entity_id, 5);
    l1.external_id = "cal-9";
    CHECK(f, bk_store_link_update(tx, &l1, &f->err), BK_E_NOT_FOUND);

    /* A row's links, oldest first; the client with the same id apart. */
    OK(f, bk_store_link_list(tx, BK_LINK_BOOKING, 5, &f->arena, &list, &n,
                             &f->err));
    assert_int_equal(n, 2);
    assert_string_equal(list[0].provider, "stripe");
    assert_string_equal(list[0].etag, "v1");
    assert_string_equal(list[1].provider, "calcom");
    OK(f, bk_store_link_list(tx, BK_LINK_CLIENT, 5, &f->arena, &list, &n,
                             &f->err));
    assert_int_equal(n, 1);
    assert_string_equal(list[0].external_id, "cal-2");
    OK(f,
       bk_store_link_list(tx, BK_LINK_HOST, 5, &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 0);
    commit(f, tx);
}

/* Insert-or-get of a link: the existing one comes back, whatever row it
 * points at. */
static void test_link_put(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct bk_link l = {.entity = BK_LINK_BOOKING,
                        .entity_id = 5,
                        .provider = "calcom",
                        .kind = "booking_uid",
                        .external_id = "cal-1",
                        .etag = "v1",
                        .created_utc = T0};
    struct bk_link got, again, *list;
    bool existed = true;
    size_t n;

    OK(f, bk_store_link_put(tx, &l, &f->arena, &got, &existed, &f->err));
    assert_false(existed);
    assert_true(got.id > 0);
    assert_int_equal(got.entity, BK_LINK_BOOKING);
    assert_int_equal(got.entity_id, 5);
    assert_string_equal(got.provider, "calcom");
    assert_string_equal(got.kind, "booking_uid");
    assert_string_equal(got.external_id, "cal-1");
    assert_string_equal(got.etag, "v1");
    assert_false(got.superseded);
    assert_int_equal(got.created_utc, T0);

    /* The same key for another row: the stored link, as it was. */
    l.entity = BK_LINK_CLIENT;
    l.entity_id = 6;
    l.etag = "v2";
    l.superseded = true;
    l.created_utc = T0 + 9;
    OK(f, bk_store_link_put(tx, &l, &f->arena, &again, &existed, &f->err));
    assert_true(existed);
    assert_int_equal(again.id, got.id);
    assert_int_equal(again.entity, BK_LINK_BOOKING);
    assert_int_equal(again.entity_id, 5);
    assert_string_equal(again.etag, "v1");
    assert_false(again.superseded);
    assert_int_equal(again.created_utc, T0);
    commit(f, tx);

    /* Another kind is another key; link_insert of an existing key is
     * still a duplicate. */
    tx = begin(f, BK_TX_WRITE);
    l.kind = "booking_id";
    OK(f, bk_store_link_put(tx, &l, &f->arena, &again, &existed, &f->err));
    assert_false(existed);
    assert_int_not_equal(again.id, got.id);
    assert_int_equal(again.entity, BK_LINK_CLIENT);
    assert_string_equal(again.etag, "v2");
    assert_true(again.superseded);
    commit(f, tx);
    CHECK_SOLO(f, bk_store_link_insert(solo, &l, &f->err), BK_E_DUPLICATE);

    tx = begin(f, BK_TX_READ);
    OK(f, bk_store_link_list(tx, BK_LINK_BOOKING, 5, &f->arena, &list, &n,
                             &f->err));
    assert_int_equal(n, 1);
    OK(f, bk_store_link_list(tx, BK_LINK_CLIENT, 6, &f->arena, &list, &n,
                             &f->err));
    assert_int_equal(n, 1);
    assert_string_equal(list[0].kind, "booking_id");
    commit(f, tx);
}

/* ---- Activity ---------------------------------------------------------- */

static void test_activity(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct world w = add_world(f, tx);
    struct bk_booking b = booking("UIDB", w.et, w.host, w.client, T0, T0 + 60);
    int64_t bid = add_booking(f, tx, &b);
    struct bk_activity *list;
    size_t n;
    static const char *kinds[6] = {"BOOKING_CREATED",   "CHECKOUT_INITIATED",
                                   "PAYMENT_COMPLETED", "BOOKING_CREATED",
                                   "CLIENT_NOTE",       "BOOKING_CREATED"};

    for (int i = 0; i < 6; i++) {
        struct bk_activity a = {.at_utc = T0 + i,
                                .kind = kinds[i],
                                .booking_id = i % 2 == 0 ? bid : 0,
                                .client_id = i < 4 ? w.client : 0,
                                .source = "web",
                                .detail = i == 2 ? "{\"amount\":100}" : NULL};
        OK(f, bk_store_activity_append(tx, &a, NULL, &f->err));
    }
    commit(f, tx);
    {
        struct bk_activity a = {
            .at_utc = T0, .kind = "X", .booking_id = 9999, .source = "api"};
        CHECK_SOLO(f, bk_store_activity_append(solo, &a, NULL, &f->err),
                   BK_E_NOT_FOUND);
    }
    tx = begin(f, BK_TX_READ);

    OK(f, bk_store_activity_list(tx, NULL, 0, 0, 10, &f->arena, &list, &n,
                                 &f->err));
    assert_int_equal(n, 6);
    for (size_t i = 1; i < n; i++)
        assert_true(list[i].id < list[i - 1].id);
    assert_int_equal(list[0].at_utc, T0 + 5); /* i = 5: neither */
    assert_null(list[0].booking_uid);
    assert_null(list[0].client_public_id);
    assert_int_equal(list[0].booking_id, 0);
    assert_int_equal(list[0].client_id, 0);
    assert_string_equal(list[1].booking_uid, "UIDB"); /* i = 4 */
    assert_int_equal(list[1].booking_id, bid);
    assert_null(list[1].client_public_id);
    assert_null(list[2].booking_uid); /* i = 3: client only */
    assert_int_equal(list[2].booking_id, 0);
    assert_string_equal(list[2].client_public_id, "cli_1");
    assert_int_equal(list[2].client_id, w.client);
    assert_string_equal(list[3].detail, "{\"amount\":100}");
    assert_string_equal(list[3].source, "web");
    assert_string_equal(list[3].kind, "PAYMENT_COMPLETED");

    /* Paging newest first. */
    {
        int64_t before = 0;
        size_t total = 0;
        for (int page = 0; page < 4; page++) {
            OK(f, bk_store_activity_list(tx, NULL, 0, before, 4, &f->arena,
                                         &list, &n, &f->err));
            total += n;
            if (n == 0)
                break;
            before = list[n - 1].id;
        }
        assert_int_equal(total, 6);
    }
    /* Filters. */
    OK(f, bk_store_activity_list(tx, "BOOKING_CREATED", 0, 0, 10, &f->arena,
                                 &list, &n, &f->err));
    assert_int_equal(n, 3);
    assert_int_equal(list[0].at_utc, T0 + 5);
    assert_int_equal(list[2].at_utc, T0);
    OK(f, bk_store_activity_list(tx, "BOOKING_CREATED", 0, list[0].id, 10,
                                 &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 2);
    OK(f, bk_store_activity_list(tx, NULL, bid, 0, 10, &f->arena, &list, &n,
                                 &f->err));
    assert_int_equal(n, 3); /* i = 0, 2, 4 */
    assert_int_equal(list[0].at_utc, T0 + 4);
    OK(f, bk_store_activity_list(tx, "BOOKING_CREATED", bid, 0, 10, &f->arena,
                                 &list, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].at_utc, T0);
    OK(f, bk_store_activity_list(tx, "NOTHING", 0, 0, 10, &f->arena, &list, &n,
                                 &f->err));
    assert_int_equal(n, 0);
    commit(f, tx);
}

/* ---- Inbox ------------------------------------------------------------- */

static void test_deliveries(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    static const char body[] = "{\"a\":1}\0tail"; /* an inner NUL */
    struct bk_delivery d = {.public_id = "dlv_1",
                            .provider = "calcom",
                            .delivery_key = "key-1",
                            .type = "BOOKING_CREATED",
                            .received_ms = 1000,
                            .payload = body,
                            .payload_len = sizeof(body) - 1,
                            .attempts = 9,
                            .next_attempt_ms = 9};
    struct bk_delivery got, *list;
    struct bk_job job;
    int64_t id, id2, id3, job_id;
    bool existed = true;
    size_t n;

    OK(f, bk_store_delivery_insert(tx, &d, &id, &existed, &f->err));
    assert_false(existed);
    /* Again: the provider retried with the same key (a new public id). */
    d.public_id = "dlv_2";
    d.payload = "other";
    d.payload_len = 5;
    OK(f, bk_store_delivery_insert(tx, &d, &id2, &existed, &f->err));
    assert_true(existed);
    assert_int_equal(id2, id);
    /* And with the same public id too. */
    d.public_id = "dlv_1";
    OK(f, bk_store_delivery_insert(tx, &d, &id2, &existed, &f->err));
    assert_true(existed);
    assert_int_equal(id2, id);
    /* Same key, other provider: another delivery. A reused public id for
     * another key is a duplicate. */
    d.provider = "stripe";
    d.public_id = "dlv_3";
    d.type = NULL;
    d.payload = NULL;
    d.payload_len = 0;
    OK(f, bk_store_delivery_insert(tx, &d, &id3, &existed, &f->err));
    assert_false(existed);
    assert_true(id3 > id);
    commit(f, tx);
    d.delivery_key = "key-2";
    CHECK_SOLO(f, bk_store_delivery_insert(solo, &d, &id2, &existed, &f->err),
               BK_E_DUPLICATE);
    assert_non_null(strstr(f->err.msg, "public id"));
    tx = begin(f, BK_TX_WRITE);

    OK(f, bk_store_delivery_get(tx, id, &f->arena, &got, &f->err));
    assert_int_equal(got.id, id);
    assert_string_equal(got.public_id, "dlv_1");
    assert_string_equal(got.provider, "calcom");
    assert_string_equal(got.delivery_key, "key-1");
    assert_string_equal(got.type, "BOOKING_CREATED");
    assert_int_equal(got.received_ms, 1000);
    assert_int_equal(got.payload_len, sizeof(body) - 1);
    assert_memory_equal(got.payload, body, sizeof(body));
    assert_int_equal(got.status, BK_DELIVERY_RECEIVED);
    assert_null(got.error);
    assert_int_equal(got.processed_ms, 0);
    assert_int_equal(got.job_id, 0);
    assert_int_equal(got.attempts, 0);
    assert_int_equal(got.next_attempt_ms, 0);
    OK(f,
       bk_store_delivery_by_public_id(tx, "dlv_3", &f->arena, &got, &f->err));
    assert_int_equal(got.id, id3);
    assert_null(got.type);
    assert_string_equal(got.payload, "");
    assert_int_equal(got.payload_len, 0);
    CHECK(f, bk_store_delivery_get(tx, 9999, &f->arena, &got, &f->err),
          BK_E_NOT_FOUND);
    CHECK(f,
          bk_store_delivery_by_public_id(tx, "dlv_9", &f->arena, &got, &f->err),
          BK_E_NOT_FOUND);

    /* Its job: attempts and the next attempt come from it. */
    OK(f, bk_store_job_enqueue(tx, "inbox.apply", "inbox:1", "1", 5000, 5, 1000,
                               &job_id, &existed, &f->err));
    OK(f, bk_store_delivery_set_status(tx, id, BK_DELIVERY_RECEIVED, NULL, 0,
                                       job_id, &f->err));
    OK(f, bk_store_delivery_get(tx, id, &f->arena, &got, &f->err));
    assert_int_equal(got.job_id, job_id);
    assert_int_equal(got.attempts, 0);
    assert_int_equal(got.next_attempt_ms, 5000);
    OK(f, bk_store_job_claim(tx, 5000, 30000, 42, &f->arena, &job, &f->err));
    OK(f, bk_store_delivery_get(tx, id, &f->arena, &got, &f->err));
    assert_int_equal(got.attempts, 1);
    assert_int_equal(got.next_attempt_ms, 0); /* running: none */
    OK(f, bk_store_job_fail(tx, job_id, 42, false, 9000, "timeout", 6000,
                            &f->err));
    OK(f, bk_store_delivery_get(tx, id, &f->arena, &got, &f->err));
    assert_int_equal(got.attempts, 1);
    assert_int_equal(got.next_attempt_ms, 9000);

    OK(f, bk_store_delivery_set_status(tx, id, BK_DELIVERY_FAILED, "bad", 7000,
                                       job_id, &f->err));
    OK(f, bk_store_delivery_get(tx, id, &f->arena, &got, &f->err));
    assert_int_equal(got.status, BK_DELIVERY_FAILED);
    assert_string_equal(got.error, "bad");
    assert_int_equal(got.processed_ms, 7000);
    CHECK(f,
          bk_store_delivery_set_status(tx, 9999, BK_DELIVERY_PROCESSED, NULL, 1,
                                       0, &f->err),
          BK_E_NOT_FOUND);
    commit(f, tx);
    CHECK_SOLO(f,
               bk_store_delivery_set_status(solo, id, BK_DELIVERY_PROCESSED,
                                            NULL, 1, 9999, &f->err),
               BK_E_NOT_FOUND);
    tx = begin(f, BK_TX_READ);

    /* Lists: newest first, no payloads, filters, paging. */
    OK(f, bk_store_delivery_list(tx, NULL, -1, 0, 10, &f->arena, &list, &n,
                                 &f->err));
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, id3);
    assert_int_equal(list[1].id, id);
    assert_null(list[1].payload);
    assert_int_equal(list[1].payload_len, sizeof(body) - 1);
    assert_int_equal(list[1].attempts, 1);
    OK(f, bk_store_delivery_list(tx, "calcom", -1, 0, 10, &f->arena, &list, &n,
                                 &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, id);
    OK(f, bk_store_delivery_list(tx, NULL, BK_DELIVERY_RECEIVED, 0, 10,
                                 &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, id3);
    OK(f, bk_store_delivery_list(tx, "calcom", BK_DELIVERY_RECEIVED, 0, 10,
                                 &f->arena, &list, &n, &f->err));
    assert_int_equal(n, 0);
    OK(f, bk_store_delivery_list(tx, NULL, -1, id3, 10, &f->arena, &list, &n,
                                 &f->err));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, id);
    OK(f, bk_store_delivery_list(tx, NULL, -1, 0, 1, &f->arena, &list, &n,
                                 &f->err));
    assert_int_equal(n, 1);
    commit(f, tx);
}

/* ---- Jobs -------------------------------------------------------------- */

/* Adds a delivery about subject with an apply job; returns its id. */
static int64_t add_waiting(struct fx *f, struct bk_tx *tx, const char *pid,
                           const char *subject, int64_t *job_id)
{
    struct bk_delivery d = {.public_id = pid,
                            .provider = "calcom",
                            .delivery_key = pid,
                            .subject = subject,
                            .received_ms = 1000,
                            .payload = "{}",
                            .payload_len = 2};
    int64_t id;
    bool existed;

    OK(f, bk_store_delivery_insert(tx, &d, &id, &existed, &f->err));
    OK(f, bk_store_job_enqueue(tx, "inbox.apply", pid, "x", 5000000, 3, 1000,
                               job_id, &existed, &f->err));
    OK(f, bk_store_delivery_set_status(tx, id, BK_DELIVERY_RECEIVED, NULL, 0,
                                       *job_id, &f->err));
    return id;
}

static void test_delivery_wake(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct bk_delivery got;
    struct bk_job job;
    int64_t j_wait, j_dead, j_other, j_self, j_run;
    int64_t waiting, dead, other, self, running;
    int n = -1;

    waiting = add_waiting(f, tx, "dlv_w", "uid-1", &j_wait);
    dead = add_waiting(f, tx, "dlv_d", "uid-1", &j_dead);
    other = add_waiting(f, tx, "dlv_o", "uid-2", &j_other);
    self = add_waiting(f, tx, "dlv_s", "uid-1", &j_self);
    running = add_waiting(f, tx, "dlv_r", "uid-1", &j_run);
    /* The dead one: its job ran out of attempts, the delivery failed. */
    OK(f, bk_store_job_claim(tx, 6000000, 1000, 7, &f->arena, &job, &f->err));
    assert_int_equal(job.id, j_wait); /* due first: claim order by id */
    OK(f, bk_store_job_fail(tx, j_wait, 7, false, 9000000, "waiting", 6000000,
                            &f->err));
    OK(f, bk_store_job_claim(tx, 6000000, 1000, 8, &f->arena, &job, &f->err));
    assert_int_equal(job.id, j_dead);
    OK(f,
       bk_store_job_fail(tx, j_dead, 8, true, 0, "gave up", 6000000, &f->err));
    OK(f, bk_store_delivery_set_status(tx, dead, BK_DELIVERY_FAILED, "gave up",
                                       6000000, j_dead, &f->err));
    /* A running one is left to its worker. */
    OK(f, bk_store_job_claim(tx, 6000000, 60000, 9, &f->arena, &job, &f->err));
    while (job.id != j_run) {
        OK(f, bk_store_job_complete(tx, job.id, 9, 6000000, &f->err));
        OK(f,
           bk_store_job_claim(tx, 6000000, 60000, 9, &f->arena, &job, &f->err));
    }

    /* A retrying delivery shows its job's last error. */
    OK(f, bk_store_delivery_get(tx, waiting, &f->arena, &got, &f->err));
    assert_string_equal(got.error, "waiting");
    assert_string_equal(got.subject, "uid-1");

    OK(f, bk_store_delivery_wake(tx, "calcom", "uid-1", self, 7000000, &n,
                                 &f->err));
    assert_int_equal(n, 2); /* the retrying one and the dead one */
    OK(f, bk_store_job_get(tx, j_wait, &f->arena, &job, &f->err));
    assert_int_equal(job.status, BK_JOB_PENDING);
    assert_int_equal(job.run_at_ms, 7000000);
    assert_int_equal(job.attempts, 1); /* a retry keeps its count */
    OK(f, bk_store_job_get(tx, j_dead, &f->arena, &job, &f->err));
    assert_int_equal(job.status, BK_JOB_PENDING);
    assert_int_equal(job.attempts, 0);
    assert_null(job.last_error);
    OK(f, bk_store_delivery_get(tx, dead, &f->arena, &got, &f->err));
    assert_int_equal(got.status, BK_DELIVERY_RECEIVED);
    assert_null(got.error);
    /* Another subject, the excepted delivery and a running job: as they
     * were. */
    OK(f, bk_store_job_get(tx, j_other, &f->arena, &job, &f->err));
    assert_int_equal(job.run_at_ms, 5000000);
    OK(f, bk_store_job_get(tx, j_run, &f->arena, &job, &f->err));
    assert_int_equal(job.status, BK_JOB_RUNNING);
    (void)other;
    (void)running;
    /* Nothing more to wake. */
    OK(f,
       bk_store_delivery_wake(tx, "calcom", "uid-9", 0, 7000000, &n, &f->err));
    assert_int_equal(n, 0);
    commit(f, tx);
}

static void test_jobs(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    int64_t a, b, c, d, id, due = 0;
    int64_t counts[4];
    bool existed = true;
    struct bk_job j;

    CHECK(f, bk_store_job_next_due(tx, &due, &f->err), BK_E_NOT_FOUND);
    CHECK(f, bk_store_job_claim(tx, 0, 1000, 1, &f->arena, &j, &f->err),
          BK_E_NOT_FOUND);
    OK(f, bk_store_job_counts(tx, counts, &f->err));
    assert_int_equal(counts[0] + counts[1] + counts[2] + counts[3], 0);

    /* b and c are due at 100 (c inserted later), a at 200, d at 5000. */
    OK(f, bk_store_job_enqueue(tx, "k", "a", "pa", 200, 3, 10, &a, &existed,
                               &f->err));
    assert_false(existed);
    OK(f, bk_store_job_enqueue(tx, "k", "b", "pb", 100, 3, 10, &b, &existed,
                               &f->err));
    OK(f, bk_store_job_enqueue(tx, "k", "c", NULL, 100, 1, 10, &c, &existed,
                               &f->err));
    OK(f, bk_store_job_enqueue(tx, "k", "d", "pd", 5000, 3, 10, &d, &existed,
                               &f->err));
    OK(f, bk_store_job_enqueue(tx, "other", "a", "x", 1, 9, 11, &id, &existed,
                               &f->err));
    assert_true(existed);
    assert_int_equal(id, a);
    OK(f, bk_store_job_get(tx, a, &f->arena, &j, &f->err));
    assert_string_equal(j.kind, "k"); /* the first enqueue stays */
    assert_string_equal(j.dedupe_key, "a");
    assert_string_equal(j.payload, "pa");
    assert_int_equal(j.run_at_ms, 200);
    assert_int_equal(j.attempts, 0);
    assert_int_equal(j.max_attempts, 3);
    assert_int_equal(j.status, BK_JOB_PENDING);
    assert_null(j.last_error);
    assert_int_equal(j.lease_until_ms, 0);
    assert_int_equal(j.created_ms, 10);
    assert_int_equal(j.updated_ms, 10);
    CHECK(f, bk_store_job_get(tx, 9999, &f->arena, &j, &f->err),
          BK_E_NOT_FOUND);
    OK(f, bk_store_job_next_due(tx, &due, &f->err));
    assert_int_equal(due, 100);

    /* Nothing is due before 100; then b, c (same run_at, by id), a. */
    CHECK(f, bk_store_job_claim(tx, 99, 1000, 1, &f->arena, &j, &f->err),
          BK_E_NOT_FOUND);
    OK(f, bk_store_job_claim(tx, 150, 1000, 11, &f->arena, &j, &f->err));
    assert_int_equal(j.id, b);
    assert_int_equal(j.status, BK_JOB_RUNNING);
    assert_int_equal(j.attempts, 1);
    assert_int_equal(j.lease_until_ms, 1150);
    assert_int_equal(j.lease_token, 11);
    assert_int_equal(j.updated_ms, 150);
    assert_string_equal(j.payload, "pb");
    OK(f, bk_store_job_claim(tx, 150, 1000, 12, &f->arena, &j, &f->err));
    assert_int_equal(j.id, c);
    assert_null(j.payload);
    CHECK(f, bk_store_job_claim(tx, 150, 1000, 13, &f->arena, &j, &f->err),
          BK_E_NOT_FOUND);
    OK(f, bk_store_job_claim(tx, 250, 500, 13, &f->arena, &j, &f->err));
    assert_int_equal(j.id, a);
    /* Running: b until 1150, c until 1150, a until 750; d pending at 5000. */
    OK(f, bk_store_job_next_due(tx, &due, &f->err));
    assert_int_equal(due, 750);
    OK(f, bk_store_job_counts(tx, counts, &f->err));
    assert_int_equal(counts[BK_JOB_PENDING], 1);
    assert_int_equal(counts[BK_JOB_RUNNING], 3);

    /* Complete b: a wrong token is stale, then done, then stale again. */
    CHECK(f, bk_store_job_complete(tx, b, 12, 300, &f->err), BK_E_STALE);
    OK(f, bk_store_job_complete(tx, b, 11, 300, &f->err));
    CHECK(f, bk_store_job_complete(tx, b, 11, 300, &f->err), BK_E_STALE);
    CHECK(f, bk_store_job_complete(tx, 9999, 11, 300, &f->err), BK_E_STALE);
    OK(f, bk_store_job_get(tx, b, &f->arena, &j, &f->err));
    assert_int_equal(j.status, BK_JOB_DONE);
    assert_int_equal(j.updated_ms, 300);

    /* c fails for good: dead. A requeue while running is a conflict. */
    CHECK(f, bk_store_job_requeue(tx, c, 300, &f->err), BK_E_CONFLICT);
    CHECK(f, bk_store_job_fail(tx, c, 99, true, 0, "x", 300, &f->err),
          BK_E_STALE);
    OK(f, bk_store_job_fail(tx, c, 12, true, 0, "permanent", 300, &f->err));
    OK(f, bk_store_job_get(tx, c, &f->arena, &j, &f->err));
    assert_int_equal(j.status, BK_JOB_DEAD);
    assert_string_equal(j.last_error, "permanent");
    assert_int_equal(j.attempts, 1);

    /* a's worker dies: its lease expires at 750 and it is claimed again
     * under a new token; the old token is then stale. */
    CHECK(f, bk_store_job_claim(tx, 749, 500, 14, &f->arena, &j, &f->err),
          BK_E_NOT_FOUND);
    OK(f, bk_store_job_claim(tx, 750, 500, 14, &f->arena, &j, &f->err));
    assert_int_equal(j.id, a);
    assert_int_equal(j.attempts, 2);
    assert_int_equal(j.lease_token, 14);
    assert_int_equal(j.lease_until_ms, 1250);
    CHECK(f, bk_store_job_complete(tx, a, 13, 800, &f->err), BK_E_STALE);
    CHECK(f, bk_store_job_fail(tx, a, 13, false, 900, "late", 800, &f->err),
          BK_E_STALE);
    /* The new holder fails it: pending again at 2000, not claimable
     * before. */
    OK(f, bk_store_job_fail(tx, a, 14, false, 2000, "503", 800, &f->err));
    OK(f, bk_store_job_get(tx, a, &f->arena, &j, &f->err));
    assert_int_equal(j.status, BK_JOB_PENDING);
    assert_int_equal(j.run_at_ms, 2000);
    assert_string_equal(j.last_error, "503");
    assert_int_equal(j.lease_until_ms, 0);
    assert_int_equal(j.attempts, 2);
    CHECK(f, bk_store_job_claim(tx, 1999, 500, 15, &f->arena, &j, &f->err),
          BK_E_NOT_FOUND);
    OK(f, bk_store_job_next_due(tx, &due, &f->err));
    assert_int_equal(due, 2000);
    OK(f, bk_store_job_claim(tx, 2000, 500, 15, &f->arena, &j, &f->err));
    assert_int_equal(j.id, a);
    assert_int_equal(j.attempts, 3);
    OK(f, bk_store_job_complete(tx, a, 15, 2100, &f->err));

    /* Requeue the dead one: pending now, attempts 0. */
    OK(f, bk_store_job_requeue(tx, c, 3000, &f->err));
    OK(f, bk_store_job_get(tx, c, &f->arena, &j, &f->err));
    assert_int_equal(j.status, BK_JOB_PENDING);
    assert_int_equal(j.attempts, 0);
    assert_int_equal(j.run_at_ms, 3000);
    CHECK(f, bk_store_job_requeue(tx, 9999, 3000, &f->err), BK_E_NOT_FOUND);

    OK(f, bk_store_job_counts(tx, counts, &f->err));
    assert_int_equal(counts[BK_JOB_PENDING], 2); /* c, d */
    assert_int_equal(counts[BK_JOB_RUNNING], 0);
    assert_int_equal(counts[BK_JOB_DONE], 2); /* a, b */
    assert_int_equal(counts[BK_JOB_DEAD], 0);
    OK(f, bk_store_job_next_due(tx, &due, &f->err));
    assert_int_equal(due, 3000);
    OK(f, bk_store_job_claim(tx, 6000, 500, 16, &f->arena, &j, &f->err));
    assert_int_equal(j.id, c);
    OK(f, bk_store_job_claim(tx, 6000, 500, 17, &f->arena, &j, &f->err));
    assert_int_equal(j.id, d);
    OK(f, bk_store_job_fail(tx, d, 17, true, 0, "gave up", 6000, &f->err));
    OK(f, bk_store_job_counts(tx, counts, &f->err));
    assert_int_equal(counts[BK_JOB_RUNNING], 1);
    assert_int_equal(counts[BK_JOB_DEAD], 1);
    commit(f, tx);

    /* A job without a dedupe key is never deduplicated. */
    tx = begin(f, BK_TX_WRITE);
    OK(f, bk_store_job_enqueue(tx, "k", NULL, "1", 0, 1, 0, &id, &existed,
                               &f->err));
    assert_false(existed);
    OK(f, bk_store_job_enqueue(tx, "k", NULL, "1", 0, 1, 0, &a, &existed,
                               &f->err));
    assert_false(existed);
    assert_int_not_equal(id, a);
    commit(f, tx);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        /* First: the fault points fire on the first begin and commit. */
        T(test_fault_points),
        T(test_open_errors),
        T(test_postgres_open_errors),
        T(test_sqlite_open_errors),
        cmocka_unit_test_setup_teardown(test_migrate_fresh_and_idempotent,
                                        setup_empty, teardown),
        T(test_migrate_newer_refused),
        cmocka_unit_test(test_migrate_concurrent),
        T(test_durability),
        T(test_error_breaks_transaction),
        T(test_miss_keeps_transaction),
        T(test_meta_read_write),
        T(test_read_tx_refuses_writes),
        T(test_locks_and_keys),
        T(test_queue_mode),
        T(test_job_claim_batch),
        T(test_job_notifications),
        T(test_job_prune),
        T(test_try_singleton),
        T(test_serialization_failure),
        T(test_serialization_write_skew),
        T(test_concurrent_writers),
        T(test_two_stores_serialize),
        T(test_reads_during_write),
        T(test_sqlite_writers_wait),
        T(test_pool_waits),
        T(test_meta),
        T(test_hosts),
        T(test_list_limits),
        T(test_host_delete),
        T(test_schedules),
        T(test_event_types),
        T(test_clients),
        T(test_client_upsert),
        T(test_bookings),
        T(test_booking_list),
        T(test_booking_busy),
        T(test_booking_busy_plan),
        T(test_history),
        T(test_messages),
        T(test_links),
        T(test_link_put),
        T(test_activity),
        T(test_deliveries),
        T(test_delivery_wake),
        T(test_jobs),
    };
#undef T
    const char *tmp = getenv("TMPDIR");
    const char *url = getenv("BOOKINGD_TEST_DATABASE_URL");
    int rc;

    if (url && *url)
        pg_url = url;
    /* Before anything can call bk_fault: it reads the variable once. */
    setenv("BOOKINGD_FAULTS", "store.begin=1,store.commit=1", 1);
    snprintf(base_dir, sizeof(base_dir), "%s/bk-store-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(base_dir)) {
        perror("mkdtemp");
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(base_dir);
    return rc;
}
