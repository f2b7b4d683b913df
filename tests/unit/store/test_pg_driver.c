/* tests/unit/store/test_pg_driver.c — store/postgres at the driver level
 * (store/driver.h), against a real PostgreSQL server: placeholder
 * rewriting, typed NULLs, blobs, booleans, the error classes (unique,
 * foreign key, CHECK, exclusion, serialization, NUL bytes, insufficient
 * resources such as a full disk), broken
 * transactions, advisory locks across connections, a dead pooled
 * connection, URL errors without passwords, and two migrators racing on an
 * empty schema. The typed store functions are tested in
 * test_sqlite_store.c (run on PostgreSQL too).
 *
 * The server's URL is BOOKINGD_TEST_PG_URL or BOOKINGD_TEST_DATABASE_URL;
 * without either the tests that need a server are skipped. Each test works
 * in its own schema (search_path set through the URL's options), dropped at
 * its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <unistd.h>

#include "base/err.h"
#include "store/driver.h"

/* store/postgres/internal.h, without the libpq headers it needs. */
char *bk_pg_rewrite_sql(const char *sql, int *max_param);

static const struct bk_driver *D = &bk_driver_postgres;
static int n_schemas;

struct fx {
    char schema[64];
    char url[1024];
    struct bk_store *store;
    struct bk_errbuf err;
};

/* ---- Helpers ----------------------------------------------------------- */

static const char *server_url(void)
{
    const char *u = getenv("BOOKINGD_TEST_PG_URL");

    if (!u || !*u)
        u = getenv("BOOKINGD_TEST_DATABASE_URL");
    return u && *u ? u : NULL;
}

/* Runs one or more statements that must succeed, in a WRITE transaction. */
static void run(struct bk_store *s, const char *sql)
{
    struct bk_errbuf err = {0};
    struct bk_tx *tx = NULL;

    assert_int_equal(D->begin(s, BK_TX_WRITE, &tx, &err), BK_OK);
    if (D->exec_script(tx, sql, &err) != BK_OK)
        fail_msg("%s: %s", sql, err.msg);
    assert_int_equal(D->commit(tx, &err), BK_OK);
}

/* A store whose connections use a fresh schema of their own. */
static struct fx *fx_new(int pool)
{
    const char *base = server_url();
    struct fx *f;
    struct bk_store *admin = NULL;
    char sql[256];

    if (!base)
        skip();
    f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->schema, sizeof(f->schema), "pgdrv_%ld_%d", (long)getpid(),
             ++n_schemas);
    snprintf(f->url, sizeof(f->url), "%s%soptions=-csearch_path%%3D%s", base,
             strchr(base, '?') ? "&" : "?", f->schema);
    assert_int_equal(D->open(base, 1, &admin, &f->err), BK_OK);
    snprintf(sql, sizeof(sql),
             "DROP SCHEMA IF EXISTS %s CASCADE;"
             "CREATE SCHEMA %s",
             f->schema, f->schema);
    run(admin, sql);
    D->free(admin);
    if (D->open(f->url, pool, &f->store, &f->err) != BK_OK)
        fail_msg("open %s: %s", f->url, f->err.msg);
    return f;
}

static void fx_free(struct fx *f)
{
    struct bk_store *admin = NULL;
    struct bk_errbuf err = {0};
    char sql[256];

    D->free(f->store);
    assert_int_equal(D->open(server_url(), 1, &admin, &err), BK_OK);
    snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", f->schema);
    run(admin, sql);
    D->free(admin);
    free(f);
}

static struct bk_tx *begin(struct fx *f, enum bk_tx_mode mode)
{
    struct bk_tx *tx = NULL;

    if (D->begin(f->store, mode, &tx, &f->err) != BK_OK)
        fail_msg("begin: %s", f->err.msg);
    assert_int_equal(tx->dialect, BK_DIALECT_POSTGRES);
    assert_false(tx->broken);
    return tx;
}

static struct bk_stmt *prep(struct fx *f, struct bk_tx *tx, int id,
                            const char *sql)
{
    struct bk_stmt *st = NULL;

    if (D->prepare(tx, id, sql, &st, &f->err) != BK_OK)
        fail_msg("prepare %s: %s", sql, f->err.msg);
    return st;
}

/* Runs st; the error it returns (the first row, if any, is current). */
static enum bk_err step(struct fx *f, struct bk_tx *tx, struct bk_stmt *st,
                        bool *row)
{
    bool dummy;

    return D->step(tx, st, row ? row : &dummy, "testing", &f->err);
}

static void step_ok(struct fx *f, struct bk_tx *tx, struct bk_stmt *st,
                    bool want_row)
{
    bool row = !want_row;

    if (step(f, tx, st, &row) != BK_OK)
        fail_msg("step: %s", f->err.msg);
    assert_true(row == want_row);
}

/* ---- Placeholders (no server) ------------------------------------------ */

static void test_rewrite(void **state)
{
    static const struct {
        const char *in, *out;
        int max;
    } cases[] = {
        {"SELECT ?1, ?2", "SELECT $1, $2", 2},
        {"SELECT ?10 + ?2", "SELECT $10 + $2", 10},
        {"SELECT '?1', ?3", "SELECT '?1', $3", 3},
        {"SELECT 'it''s ?1', ?1", "SELECT 'it''s ?1', $1", 1},
        {"SELECT \"?1\" FROM t WHERE a = ?2",
         "SELECT \"?1\" FROM t WHERE a = $2", 2},
        {"SELECT \"a\"\"?1\", ?4", "SELECT \"a\"\"?1\", $4", 4},
        {"SELECT ?1 -- ?2\n, ?3", "SELECT $1 -- ?2\n, $3", 3},
        {"SELECT /* ?1 /* ?2 */ ?3 */ ?4", "SELECT /* ?1 /* ?2 */ ?3 */ $4", 4},
        {"SELECT E'\\'?1', ?2", "SELECT E'\\'?1', $2", 2},
        {"SELECT 'a\\', ?2", "SELECT 'a\\', $2", 2},
        {"SELECT ? , ?x", "SELECT ? , ?x", 0},
        {"SELECT 1", "SELECT 1", 0},
        {"SELECT 'open ?1", "SELECT 'open ?1", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int max = -1;
        char *out = bk_pg_rewrite_sql(cases[i].in, &max);
        assert_string_equal(out, cases[i].out);
        assert_int_equal(max, cases[i].max);
        free(out);
    }
}

/* ---- Open -------------------------------------------------------------- */

static void test_open_errors(void **state)
{
    struct bk_store *s = NULL;
    struct bk_errbuf err = {0};

    (void)state;
    assert_int_equal(D->open("mysql://u@h/db", 1, &s, &err), BK_E_CONFIG);
    assert_int_equal(D->open("postgres://u@h/db", 0, &s, &err), BK_E_CONFIG);
    assert_int_equal(D->open("postgres://u@h/db", 65, &s, &err), BK_E_CONFIG);
    /* Malformed: libpq's message would quote the bad token. */
    assert_int_equal(
        D->open("postgres://bob:s3cr%zzet@127.0.0.1/db", 1, &s, &err),
        BK_E_CONFIG);
    assert_null(strstr(err.msg, "s3cr"));
    assert_int_equal(D->open("postgresql://h/db?nosuchparam=1", 1, &s, &err),
                     BK_E_CONFIG);
    assert_non_null(strstr(err.msg, "nosuchparam"));
    /* Unreachable, in bounded time, without the password. */
    assert_int_equal(D->open("postgresql://bob:hunter2@127.0.0.1:1/db?"
                             "connect_timeout=2",
                             1, &s, &err),
                     BK_E_IO);
    assert_null(strstr(err.msg, "hunter2"));
    assert_null(s);
}

/* ---- Types ------------------------------------------------------------- */

static void test_types(void **state)
{
    static const unsigned char blob[] = {0x00, 0xff, 'a', 0x00, 0x80, '\\'};
    struct fx *f = fx_new(2);
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct bk_stmt *st;
    const unsigned char *b;
    const char *t;
    size_t n;

    (void)state;
    /* Typed NULLs: each takes the type the binder names. */
    st = prep(f, tx, 1,
              "SELECT ?1 IS NULL, pg_typeof(?1)::text, pg_typeof(?2)::text,"
              " pg_typeof(?3)::text, ?2, ?3");
    D->bind_null(st, 1, BK_BIND_INT);
    D->bind_null(st, 2, BK_BIND_TEXT);
    D->bind_null(st, 3, BK_BIND_BLOB);
    step_ok(f, tx, st, true);
    assert_int_equal(D->col_i64(st, 0), 1);
    assert_string_equal(D->col_text(st, 1, NULL), "bigint");
    assert_string_equal(D->col_text(st, 2, NULL), "text");
    assert_string_equal(D->col_text(st, 3, NULL), "bytea");
    assert_true(D->col_null(st, 4));
    assert_null(D->col_text(st, 4, &n));
    assert_int_equal(n, 0);
    assert_null(D->col_blob(st, 5, &n));
    assert_int_equal(D->col_i64(st, 5), 0);
    step_ok(f, tx, st, false);

    /* Blobs with NUL and 0xff bytes, both ways; an empty blob is no NULL;
     * booleans read as 1 and 0; text keeps its length. */
    st = prep(f, tx, 2,
              "SELECT ?1, length(?1), ?2 IS NULL, length(?2), 1 = 1, 1 = 2,"
              " ?3, ?4, '\\x00ff'::bytea, ?5");
    D->bind_blob(st, 1, blob, sizeof(blob));
    D->bind_blob(st, 2, NULL, 0);
    D->bind_text(st, 3, "h\xc3\xa9llo world", 6); /* "héllo" */
    D->bind_i64(st, 4, INT64_MIN);
    D->bind_text(st, 5, "", 0);
    step_ok(f, tx, st, true);
    b = D->col_blob(st, 0, &n);
    assert_int_equal(n, sizeof(blob));
    assert_memory_equal(b, blob, sizeof(blob));
    assert_int_equal(D->col_i64(st, 1), sizeof(blob));
    assert_int_equal(D->col_i64(st, 2), 0);
    assert_int_equal(D->col_i64(st, 3), 0);
    assert_int_equal(D->col_i64(st, 4), 1);
    assert_int_equal(D->col_i64(st, 5), 0);
    t = D->col_text(st, 6, &n);
    assert_int_equal(n, 6);
    assert_memory_equal(t, "h\xc3\xa9llo", 6);
    assert_int_equal(D->col_i64(st, 7), INT64_MIN);
    /* Two blob columns of one row stay valid together. */
    b = D->col_blob(st, 8, &n);
    assert_int_equal(n, 2);
    assert_memory_equal(b, "\x00\xff", 2);
    assert_memory_equal(D->col_blob(st, 0, &n), blob, sizeof(blob));
    assert_memory_equal(b, "\x00\xff", 2);
    assert_false(D->col_null(st, 9));
    assert_string_equal(D->col_text(st, 9, &n), "");

    /* The same statement id with other types than its first run (the
     * server-side statement was prepared with bigint): still right. */
    st = prep(f, tx, 3, "SELECT ?1::text");
    D->bind_i64(st, 1, 42);
    step_ok(f, tx, st, true);
    assert_string_equal(D->col_text(st, 0, NULL), "42");
    st = prep(f, tx, 3, "SELECT ?1::text");
    D->bind_text(st, 1, "forty-two", 9);
    step_ok(f, tx, st, true);
    assert_string_equal(D->col_text(st, 0, NULL), "forty-two");

    /* Rows one by one, and changes(). */
    assert_int_equal(D->exec_script(tx,
                                    "CREATE TABLE t (k BIGINT, v TEXT);"
                                    "INSERT INTO t SELECT g, 'v' || g"
                                    " FROM generate_series(1, 5) g",
                                    &f->err),
                     BK_OK);
    st = prep(f, tx, 4, "UPDATE t SET v = ?2 WHERE k <= ?1");
    D->bind_i64(st, 1, 3);
    D->bind_text(st, 2, "x", 1);
    step_ok(f, tx, st, false);
    assert_int_equal(D->changes(st), 3);
    st = prep(f, tx, 5, "SELECT k, v FROM t WHERE v <> 'x' ORDER BY k");
    step_ok(f, tx, st, true);
    assert_int_equal(D->col_i64(st, 0), 4);
    step_ok(f, tx, st, true);
    assert_int_equal(D->col_i64(st, 0), 5);
    step_ok(f, tx, st, false);
    step_ok(f, tx, st, false);
    assert_int_equal(D->commit(tx, &f->err), BK_OK);

    /* A READ transaction refuses writes. */
    tx = begin(f, BK_TX_READ);
    st = prep(f, tx, 6, "DELETE FROM t");
    assert_int_equal(step(f, tx, st, NULL), BK_E_IO);
    assert_true(tx->broken);
    D->rollback(tx);
    fx_free(f);
}

/* ---- Errors ------------------------------------------------------------ */

/* Runs sql (each call a new statement id: an id has one text) and checks
 * that it fails with `want`, leaving the transaction broken. */
static void expect_fail(struct fx *f, const char *sql, enum bk_err want,
                        const char *msg_part)
{
    static int next_id = 40;
    struct bk_tx *tx = begin(f, BK_TX_WRITE);
    struct bk_stmt *st = prep(f, tx, next_id++ % BK_STMT_MAX, sql);

    assert_int_equal(step(f, tx, st, NULL), want);
    if (msg_part && !strstr(f->err.msg, msg_part))
        fail_msg("%s: message \"%s\" lacks \"%s\"", sql, f->err.msg, msg_part);
    assert_true(tx->broken);
    /* Broken: no more statements, and commit fails and ends it. */
    assert_int_equal(D->prepare(tx, 8, "SELECT 1", &st, &f->err), BK_E_IO);
    assert_int_equal(D->commit(tx, &f->err), BK_E_IO);
    assert_non_null(strstr(f->err.msg, "rolled back"));
}

static void test_errors(void **state)
{
    struct fx *f = fx_new(1);
    struct bk_tx *tx;
    struct bk_stmt *st;

    (void)state;
    run(f->store, "CREATE TABLE hosts (id BIGINT PRIMARY KEY,"
                  " slug TEXT NOT NULL UNIQUE, n BIGINT CHECK (n > 0));"
                  "CREATE TABLE other (u TEXT UNIQUE,"
                  " h BIGINT REFERENCES hosts (id));"
                  "INSERT INTO hosts VALUES (1, 'a', 1);"
                  "INSERT INTO other VALUES ('u', 1)");
    expect_fail(f, "INSERT INTO hosts VALUES (2, 'a', 1)", BK_E_DUPLICATE,
                "exists already");
    expect_fail(f, "INSERT INTO other VALUES ('u', NULL)", BK_E_DUPLICATE,
                "duplicate key while testing");
    expect_fail(f, "INSERT INTO other VALUES ('v', 99)", BK_E_NOT_FOUND,
                "a row referred to while testing does not exist");
    expect_fail(f, "INSERT INTO hosts VALUES (3, 'c', 0)", BK_E_INVALID, NULL);
    expect_fail(f, "INSERT INTO hosts VALUES (3, NULL, 1)", BK_E_INVALID, NULL);
    expect_fail(f, "SELECT 1 / 0", BK_E_INVALID, NULL);
    /* Class 53, insufficient resources (53100 disk_full among it): the
     * server raises them where it cannot extend a file, so a function
     * raises them here. */
    run(f->store, "CREATE FUNCTION raise_state(s TEXT) RETURNS BIGINT"
                  " LANGUAGE plpgsql AS $$ BEGIN"
                  " RAISE EXCEPTION 'raised %', s USING ERRCODE = s; END $$");
    expect_fail(f, "SELECT raise_state('53100')", BK_E_STORAGE_FULL,
                "lacks room or resources while testing");
    expect_fail(f, "SELECT raise_state('53300')", BK_E_STORAGE_FULL, NULL);
    expect_fail(f, "SELECT * FROM no_such_table", BK_E_IO,
                "database error while testing");
    expect_fail(f, "SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)",
                BK_E_IO, NULL); /* two statements cannot be prepared */

    /* Text with a NUL byte: refused before it reaches the server. */
    tx = begin(f, BK_TX_WRITE);
    st = prep(f, tx, 9, "SELECT ?1");
    D->bind_text(st, 1, "a\0b", 3);
    assert_int_equal(step(f, tx, st, NULL), BK_E_INVALID);
    assert_true(tx->broken);
    assert_int_equal(D->prepare(tx, 9, "SELECT ?1", &st, &f->err), BK_E_IO);
    D->rollback(tx);

    /* Invalid UTF-8 is the database's refusal. */
    tx = begin(f, BK_TX_WRITE);
    st = prep(f, tx, 9, "SELECT ?1");
    D->bind_text(st, 1, "\xff\xfe", 2);
    assert_int_equal(step(f, tx, st, NULL), BK_E_INVALID);
    D->rollback(tx);

    /* A binder out of range is reported by step. */
    tx = begin(f, BK_TX_WRITE);
    st = prep(f, tx, 9, "SELECT ?1");
    D->bind_i64(st, 2, 1);
    assert_int_equal(step(f, tx, st, NULL), BK_E_INTERNAL);
    D->rollback(tx);

    /* A cancelled statement is BK_E_BUSY. */
    tx = begin(f, BK_TX_QUEUE);
    st = prep(f, tx, 10, "SELECT set_config('statement_timeout', '50', true)");
    step_ok(f, tx, st, true);
    st = prep(f, tx, 11, "SELECT pg_sleep(2)");
    assert_int_equal(step(f, tx, st, NULL), BK_E_BUSY);
    D->rollback(tx);

    /* After all this the connection still works. */
    tx = begin(f, BK_TX_READ);
    st = prep(f, tx, 9, "SELECT ?1");
    D->bind_i64(st, 1, 5);
    step_ok(f, tx, st, true);
    assert_int_equal(D->col_i64(st, 0), 5);
    assert_int_equal(D->commit(tx, &f->err), BK_OK);
    fx_free(f);
}

/* Write skew between two SERIALIZABLE transactions: one of them loses. */
static void test_serialization(void **state)
{
    struct fx *f = fx_new(2);
    struct bk_tx *a, *b;
    struct bk_stmt *st;
    enum bk_err ea, eb;

    (void)state;
    run(f->store, "CREATE TABLE oncall (name TEXT, k BIGINT)");
    a = begin(f, BK_TX_WRITE);
    b = begin(f, BK_TX_WRITE);
    st = prep(f, a, 1, "SELECT count(*) FROM oncall WHERE k = 1");
    step_ok(f, a, st, true);
    assert_int_equal(D->col_i64(st, 0), 0);
    st = prep(f, b, 1, "SELECT count(*) FROM oncall WHERE k = 1");
    step_ok(f, b, st, true);
    assert_int_equal(D->col_i64(st, 0), 0);
    st = prep(f, a, 2, "INSERT INTO oncall VALUES ('a', 1)");
    step_ok(f, a, st, false);
    st = prep(f, b, 2, "INSERT INTO oncall VALUES ('b', 1)");
    eb = step(f, b, st, NULL);
    ea = D->commit(a, &f->err);
    assert_int_equal(ea, BK_OK);
    if (eb == BK_OK)
        eb = D->commit(b, &f->err);
    else
        D->rollback(b);
    assert_int_equal(eb, BK_E_SERIALIZATION);
    fx_free(f);
}

/* ---- Locks ------------------------------------------------------------- */

static void test_locks(void **state)
{
    struct fx *f = fx_new(3);
    struct bk_tx *a, *b, *r;
    bool got = false;

    (void)state;
    a = begin(f, BK_TX_WRITE);
    b = begin(f, BK_TX_QUEUE);
    assert_int_equal(D->lock(a, BK_LOCK_HOST, 7, &f->err), BK_OK);
    assert_int_equal(D->try_lock(b, BK_LOCK_HOST, 7, &got, &f->err), BK_OK);
    assert_false(got);
    assert_int_equal(D->try_lock(b, BK_LOCK_HOST, 8, &got, &f->err), BK_OK);
    assert_true(got);
    assert_int_equal(D->try_lock(b, BK_LOCK_SINGLETON, 7, &got, &f->err),
                     BK_OK);
    assert_true(got);
    /* Re-entrant within one transaction. */
    assert_int_equal(D->try_lock(a, BK_LOCK_HOST, 7, &got, &f->err), BK_OK);
    assert_true(got);
    /* Held until the transaction ends, not longer. */
    assert_int_equal(D->commit(a, &f->err), BK_OK);
    assert_int_equal(D->try_lock(b, BK_LOCK_HOST, 7, &got, &f->err), BK_OK);
    assert_true(got);
    D->rollback(b);
    a = begin(f, BK_TX_WRITE);
    assert_int_equal(D->try_lock(a, BK_LOCK_HOST, 7, &got, &f->err), BK_OK);
    assert_true(got);
    D->rollback(a);

    r = begin(f, BK_TX_READ);
    assert_int_equal(D->lock(r, BK_LOCK_HOST, 1, &f->err), BK_E_INTERNAL);
    D->rollback(r);
    fx_free(f);
}

/* ---- The pool ---------------------------------------------------------- */

/* A pooled connection the server killed: the next begin opens another. */
static void test_dead_connection(void **state)
{
    struct fx *f = fx_new(1);
    struct bk_tx *tx;
    struct bk_stmt *st;
    int64_t pid;

    (void)state;
    tx = begin(f, BK_TX_READ);
    st = prep(f, tx, 1, "SELECT pg_backend_pid()");
    step_ok(f, tx, st, true);
    pid = D->col_i64(st, 0);
    assert_int_equal(D->commit(tx, &f->err), BK_OK);
    {
        struct bk_store *other = NULL;
        assert_int_equal(D->open(f->url, 1, &other, &f->err), BK_OK);
        tx = NULL;
        assert_int_equal(D->begin(other, BK_TX_WRITE, &tx, &f->err), BK_OK);
        st = prep(f, tx, 1, "SELECT pg_terminate_backend(?1::integer)");
        D->bind_i64(st, 1, pid);
        step_ok(f, tx, st, true);
        assert_int_equal(D->col_i64(st, 0), 1);
        assert_int_equal(D->commit(tx, &f->err), BK_OK);
        D->free(other);
    }
    usleep(100 * 1000);
    tx = begin(f, BK_TX_READ);
    st = prep(f, tx, 1, "SELECT pg_backend_pid()");
    step_ok(f, tx, st, true);
    assert_true(D->col_i64(st, 0) != pid);
    assert_int_equal(D->commit(tx, &f->err), BK_OK);
    assert_int_equal(D->ping(f->store, &f->err), BK_OK);
    fx_free(f);
}

/* ---- Migrations -------------------------------------------------------- */

/* store.c's migration loop, over the driver alone. */
static enum bk_err migrate(struct bk_store *s, int *serial_failures,
                           struct bk_errbuf *err)
{
    for (int tries = 0; tries < 20; tries++) {
        struct bk_tx *tx = NULL;
        int v = 0;
        enum bk_err e = D->begin(s, BK_TX_WRITE, &tx, err);

        if (e)
            return e;
        e = D->lock(tx, BK_LOCK_MIGRATE, 0, err);
        if (!e)
            e = D->version_get(tx, &v, err);
        if (!e && v == *D->n_migrations) {
            D->rollback(tx);
            return BK_OK;
        }
        if (!e)
            e = D->exec_script(tx, D->migrations[v].sql, err);
        if (!e)
            e = D->version_set(tx, v + 1, err);
        if (!e)
            e = D->commit(tx, err);
        else
            D->rollback(tx);
        if (e == BK_E_SERIALIZATION) {
            (*serial_failures)++;
            continue;
        }
        if (e)
            return e;
    }
    return bk_fail(err, BK_E_IO, "no progress");
}

struct migrator {
    const char *url;
    pthread_barrier_t *go;
    enum bk_err e;
    int serial_failures;
    struct bk_errbuf err;
};

static void *migrator_main(void *arg)
{
    struct migrator *m = arg;
    struct bk_store *s = NULL;

    m->e = D->open(m->url, 1, &s, &m->err);
    pthread_barrier_wait(m->go);
    if (m->e == BK_OK)
        m->e = migrate(s, &m->serial_failures, &m->err);
    D->free(s);
    return NULL;
}

static void test_concurrent_migration(void **state)
{
    int failures = 0;

    (void)state;
    /* Numbered from 001 without gaps (embed_sql.cmake refuses gaps; this
     * checks what reached the driver). */
    assert_true(*D->n_migrations >= 9);
    assert_string_equal(D->migrations[0].name, "001_initial.sql");
    for (int i = 0; i < *D->n_migrations; i++) {
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "%03d_", i + 1);
        assert_memory_equal(D->migrations[i].name, prefix, 4);
    }
    for (int round = 0; round < 8; round++) {
        struct fx *f = fx_new(1);
        struct migrator m[2];
        pthread_t th[2];
        pthread_barrier_t go;
        struct bk_tx *tx;
        struct bk_stmt *st;
        int v = -1;

        pthread_barrier_init(&go, NULL, 2);
        for (int i = 0; i < 2; i++) {
            memset(&m[i], 0, sizeof(m[i]));
            m[i].url = f->url;
            m[i].go = &go;
            assert_int_equal(pthread_create(&th[i], NULL, migrator_main, &m[i]),
                             0);
        }
        for (int i = 0; i < 2; i++) {
            pthread_join(th[i], NULL);
            if (m[i].e != BK_OK)
                fail_msg("migrator %d: %s", i, m[i].err.msg);
            failures += m[i].serial_failures;
        }
        pthread_barrier_destroy(&go);

        tx = begin(f, BK_TX_READ);
        assert_int_equal(D->version_get(tx, &v, &f->err), BK_OK);
        assert_int_equal(v, *D->n_migrations);
        st = prep(f, tx, 1, "SELECT count(*) FROM schema_version");
        step_ok(f, tx, st, true);
        assert_int_equal(D->col_i64(st, 0), 1);
        D->rollback(tx);
        fx_free(f);
    }
    print_message("concurrent migrations: %d serialization retries\n",
                  failures);
}

/* The schema's own rules: names, the exclusion constraint. */
static void test_schema(void **state)
{
    static const char ins[] =
        "INSERT INTO bookings (uid, event_type_id, host_id, client_id,"
        " start_utc, end_utc, status, payment_status, source,"
        " hold_expires_utc, created_utc, updated_utc)"
        " VALUES (?1, 1, 1, 1, ?2, ?3, ?4, 0, ?5, ?6, 0, 0)";
    struct fx *f = fx_new(1);
    int retries = 0, v = -1;
    struct bk_tx *tx;
    struct bk_stmt *st;
    enum bk_err e;

    (void)state;
    tx = begin(f, BK_TX_READ);
    assert_int_equal(D->version_get(tx, &v, &f->err), BK_OK);
    assert_int_equal(v, 0);
    D->rollback(tx);
    assert_int_equal(migrate(f->store, &retries, &f->err), BK_OK);
    run(f->store,
        "INSERT INTO hosts (slug, name, email, timezone, created_utc,"
        " updated_utc) VALUES ('h', 'H', 'h@example.com', 'UTC', 0, 0);"
        "INSERT INTO event_types (slug, title, host_id, duration_min,"
        " interval_min, buffer_before_min, buffer_after_min, notice_min,"
        " horizon_days, max_per_day, alignment, location_kind, active,"
        " imported, created_utc, updated_utc) VALUES ('e', 'E', 1, 30, 0,"
        " 0, 0, 0, 30, 0, 0, 0, 1, 0, 0, 0);"
        "INSERT INTO clients (public_id, email, email_norm, status,"
        " created_utc, updated_utc) VALUES ('c', 'C@x', 'c@x', 0, 0, 0);"
        "INSERT INTO bookings (uid, event_type_id, host_id, client_id,"
        " start_utc, end_utc, status, payment_status, source, created_utc,"
        " updated_utc) VALUES ('b1', 1, 1, 1, 1000, 2800, 1, 0, 0, 0, 0)");

    tx = begin(f, BK_TX_WRITE);
    st = prep(f, tx, 1, ins);
    /* A timed hold and an imported booking may overlap; a back-to-back
     * one does not overlap. */
    D->bind_text(st, 1, "b2", 2);
    D->bind_i64(st, 2, 1800);
    D->bind_i64(st, 3, 3600);
    D->bind_i64(st, 4, 0);
    D->bind_i64(st, 5, 1);
    D->bind_i64(st, 6, 99999);
    step_ok(f, tx, st, false);
    st = prep(f, tx, 1, ins);
    D->bind_text(st, 1, "b3", 2);
    D->bind_i64(st, 2, 1800);
    D->bind_i64(st, 3, 3600);
    D->bind_i64(st, 4, 1);
    D->bind_i64(st, 5, 2);
    D->bind_null(st, 6, BK_BIND_INT);
    step_ok(f, tx, st, false);
    st = prep(f, tx, 1, ins);
    D->bind_text(st, 1, "b4", 2);
    D->bind_i64(st, 2, 2800);
    D->bind_i64(st, 3, 3600);
    D->bind_i64(st, 4, 1);
    D->bind_i64(st, 5, 1);
    D->bind_null(st, 6, BK_BIND_INT);
    step_ok(f, tx, st, false);
    /* An untimed pending booking from the API overlapping b1 does not. */
    st = prep(f, tx, 1, ins);
    D->bind_text(st, 1, "b5", 2);
    D->bind_i64(st, 2, 2000);
    D->bind_i64(st, 3, 2500);
    D->bind_i64(st, 4, 0);
    D->bind_i64(st, 5, 1);
    D->bind_null(st, 6, BK_BIND_INT);
    e = step(f, tx, st, NULL);
    assert_int_equal(e, BK_E_SLOT_UNAVAILABLE);
    D->rollback(tx);

    /* Unique keys by their constraint names. */
    expect_fail(f,
                "INSERT INTO bookings (uid, event_type_id, host_id,"
                " client_id, start_utc, end_utc, status, payment_status,"
                " source, created_utc, updated_utc) VALUES ('b1', 1, 1, 1,"
                " 5000, 6000, 2, 0, 0, 0, 0)",
                BK_E_DUPLICATE, "exists already");
    expect_fail(f, "UPDATE clients SET email_norm = 'other' WHERE id = 1",
                BK_E_INVALID, NULL);
    expect_fail(f, "INSERT INTO meta VALUES ('k', 'v'), ('k', 'w')",
                BK_E_DUPLICATE, "exists already");

    /* Migrating again is a no-op. */
    assert_int_equal(migrate(f->store, &retries, &f->err), BK_OK);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rewrite),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_serialization),
        cmocka_unit_test(test_locks),
        cmocka_unit_test(test_dead_connection),
        cmocka_unit_test(test_concurrent_migration),
        cmocka_unit_test(test_schema),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
