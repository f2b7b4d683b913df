/* bench/busy.c — how long the busy-time query of a public slot query takes
 * for a host with a long history. Prints figures and asserts nothing
 * (bench/README.md).
 *
 *   bench_busy [--runs N]
 *
 * The host: 100,000 past bookings (three in four cancelled) and 5,000
 * future ones (three in four cancelled, the rest confirmed or pending),
 * one every 2 hours around now, in a fresh SQLite file in a temporary
 * directory. It times bk_store_booking_busy for a 30-day window from now,
 * in a read transaction as the slot handler does, first with the schema
 * as migrated (the index of the bookings that can block, migration 3) and
 * then with that index replaced by the one it replaced, on (host_id,
 * end_utc) over every booking: the plan before migration 3. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/arena.h"
#include "base/err.h"
#include "store/store.h"

#define NOW      1790000000 /* an instant in 2026, UTC seconds */
#define HOUR     3600
#define N_PAST   100000
#define N_FUTURE 5000

static void die(const char *what, const struct bk_errbuf *err)
{
    fprintf(stderr, "bench_busy: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Fills the database: one host, one event type, one client, the
 * bookings. */
static int64_t fill(struct bk_store *store)
{
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_host h = {.slug = "busy",
                        .name = "Host",
                        .email = "host@example.com",
                        .timezone = "Europe/Berlin",
                        .created_utc = NOW,
                        .updated_utc = NOW};
    struct bk_event_type et = {
        .slug = "session",
        .title = "Session",
        .rules = {.duration_min = 60, .horizon_days = 60},
        .active = true,
        .created_utc = NOW,
        .updated_utc = NOW};
    struct bk_client c = {.public_id = "cli_busy",
                          .email = "client@example.com",
                          .name = "Client",
                          .status = BK_CLIENT_ACTIVE,
                          .created_utc = NOW,
                          .updated_utc = NOW};
    int64_t host = 0, et_id = 0, client = 0, id;
    char uid[32];

    bk_errbuf_clear(&err);
    if (bk_store_begin(store, BK_TX_WRITE, &tx, &err) ||
        bk_store_host_insert(tx, &h, &host, &err))
        die("host", &err);
    et.host_id = host;
    if (bk_store_event_type_insert(tx, &et, &et_id, &err) ||
        bk_store_client_insert(tx, &c, &client, &err))
        die("event type", &err);
    for (int i = -N_PAST; i < N_FUTURE; i++) {
        struct bk_booking b = {.uid = uid,
                               .event_type_id = et_id,
                               .host_id = host,
                               .client_id = client,
                               .start_utc = NOW + (int64_t)i * 2 * HOUR,
                               .end_utc = NOW + (int64_t)i * 2 * HOUR + HOUR,
                               .payment_status = BK_PAYMENT_NONE,
                               .source = BK_SOURCE_WEB,
                               .created_utc = NOW,
                               .updated_utc = NOW};
        unsigned k = (unsigned)(i + N_PAST) % 4;

        snprintf(uid, sizeof(uid), "busy-%d", i + N_PAST);
        b.status = k ? BK_BOOKING_CANCELLED
                     : (i % 8 ? BK_BOOKING_CONFIRMED : BK_BOOKING_COMPLETED);
        if (i >= 0 && k == 0 && i % 3 == 0) {
            b.status = BK_BOOKING_PENDING;
            b.hold_expires_utc = NOW + HOUR;
        }
        if (bk_store_booking_insert(tx, &b, &id, &err))
            die("booking", &err);
    }
    if (bk_store_commit(tx, &err))
        die("commit", &err);
    return host;
}

/* Times `runs` busy-time queries for 30 days from now; prints median and
 * p90 in microseconds. */
static void measure(struct bk_store *store, int64_t host, int runs,
                    const char *label)
{
    struct bk_errbuf err;
    struct bk_arena a;
    double *t = calloc((size_t)runs, sizeof(double));
    size_t n = 0;

    if (!t)
        die("out of memory", NULL);
    bk_errbuf_clear(&err);
    bk_arena_init(&a);
    for (int r = -5; r < runs; r++) {
        struct bk_tx *tx = NULL;
        struct bk_booking_span *spans;
        double t0 = now_us();

        if (bk_store_begin(store, BK_TX_READ, &tx, &err) ||
            bk_store_booking_busy(tx, host, NOW, NOW + 30 * 24 * HOUR, NOW, 0,
                                  &a, &spans, &n, &err))
            die("busy", &err);
        bk_store_rollback(tx);
        if (r >= 0)
            t[r] = now_us() - t0;
        bk_arena_release(&a);
        bk_arena_init(&a);
    }
    qsort(t, (size_t)runs, sizeof(double), cmp_double);
    printf("  %-44s median %8.1f us  p90 %8.1f us  %zu spans\n", label,
           t[runs / 2], t[runs * 9 / 10], n);
    bk_arena_release(&a);
    free(t);
}

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;

    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "bench_busy: %s: %s\n", sql,
                msg ? msg : sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_close(db);
}

int main(int argc, char **argv)
{
    struct bk_errbuf err;
    struct bk_store *store = NULL;
    char dir[] = "/tmp/bench-busy-XXXXXX", path[64], url[80];
    int runs = 201;
    int64_t host;
    double t0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = (int)strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_busy [--runs N]\n");
            return 2;
        }
    }
    if (runs < 1)
        runs = 1;
    if (!mkdtemp(dir))
        die("mkdtemp", NULL);
    snprintf(path, sizeof(path), "%s/busy.db", dir);
    snprintf(url, sizeof(url), "sqlite:%s", path);
    bk_errbuf_clear(&err);
    if (bk_store_open(url, 2, &store, &err) ||
        bk_store_migrate(store, NULL, NULL, &err))
        die("open", &err);
    t0 = now_us();
    host = fill(store);
    printf("bench_busy: the busy-time query of 30 days, one host with %d past "
           "and %d future bookings (3 in 4 cancelled), SQLite, %d runs "
           "(filled in %.1f s)\n",
           N_PAST, N_FUTURE, runs, (now_us() - t0) / 1e6);
    measure(store, host, runs, "index of blocking bookings (migration 3)");
    bk_store_free(store);
    exec_sql(path, "DROP INDEX bookings_host_end_blocking;"
                   " CREATE INDEX bookings_host_end"
                   " ON bookings (host_id, end_utc)");
    if (bk_store_open(url, 2, &store, &err))
        die("open", &err);
    measure(store, host, runs, "index of every booking (before)");
    bk_store_free(store);
    unlink(path);
    for (const char *s = "-wal"; s; s = strcmp(s, "-wal") ? NULL : "-shm") {
        char side[80];
        snprintf(side, sizeof(side), "%s%s", path, s);
        unlink(side);
    }
    rmdir(dir);
    return 0;
}
