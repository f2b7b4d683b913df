/* store/store.c — opening a store by URL, transactions, migrations and the
 * driver-independent parts of store.h. The typed functions are in
 * catalog.c, bookings.c and queue.c; the drivers in sqlite/ and
 * postgres/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fault.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"
#include "store/sql.h"
#include "base/banned.h"

_Static_assert(Q_STMT_COUNT <= BK_STMT_MAX, "raise BK_STMT_MAX");

static const struct bk_driver *const drivers[] = {
    &bk_driver_sqlite,
    &bk_driver_postgres,
};

/* How often a migration step is run again after losing a race. */
#define MIGRATE_TRIES 20

enum bk_err bk_store_open(const char *url, int pool_size, struct bk_store **out,
                          struct bk_errbuf *err)
{
    *out = NULL;
    for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
        for (const char *const *s = drivers[i]->schemes; *s; s++)
            if (url && strncmp(url, *s, strlen(*s)) == 0) {
                enum bk_err e = drivers[i]->open(url, pool_size, out, err);
                if (e == BK_OK) {
                    pthread_mutex_init(&(*out)->health.mu, NULL);
                    pthread_mutex_init(&(*out)->health.probe_mu, NULL);
                }
                return e;
            }
    return bk_fail(err, BK_E_CONFIG,
                   "unknown database URL scheme (expected sqlite:PATH or "
                   "postgres://USER:PASSWORD@HOST:PORT/DB)");
}

void bk_store_free(struct bk_store *store)
{
    if (!store)
        return;
    pthread_mutex_destroy(&store->health.probe_mu);
    pthread_mutex_destroy(&store->health.mu);
    store->drv->free(store);
}

const char *bk_store_backend(const struct bk_store *store)
{
    return store->drv->name;
}

enum bk_err bk_store_ping(struct bk_store *store, struct bk_errbuf *err)
{
    return store->drv->ping(store, err);
}

enum bk_err bk_store_check(struct bk_store *store, enum bk_store_check level,
                           struct bk_errbuf *err)
{
    if (level == BK_STORE_CHECK_OFF || !store->drv->check)
        return BK_OK;
    return store->drv->check(store, level == BK_STORE_CHECK_FULL, err);
}

enum bk_err bk_store_backup(struct bk_store *store, const char *dest_path,
                            struct bk_errbuf *err)
{
    if (!store->drv->backup)
        return bk_fail(err, BK_E_UNAVAILABLE,
                       "bookingd backup copies SQLite databases; back up a "
                       "%s database with its own tools (pg_dump "
                       "--format=custom, restored with pg_restore)",
                       store->drv->name);
    return store->drv->backup(store, dest_path, err);
}

enum bk_err bk_store_restore(struct bk_store *store, const char *src_path,
                             struct bk_errbuf *err)
{
    if (!store->drv->restore)
        return bk_fail(err, BK_E_UNAVAILABLE,
                       "bookingd restore restores SQLite backups; restore a "
                       "%s database with its own tools (pg_restore of a "
                       "pg_dump)",
                       store->drv->name);
    return store->drv->restore(store, src_path, err);
}

/* ---- Error classes (GET /metrics) --------------------------------------- */

const char *bk_store_error_class_name(enum bk_store_error_class c)
{
    static const char *const names[BK_STORE_ERROR_CLASSES] = {
        "busy", "serialization", "storage_full", "unavailable",
        "io",   "constraint",    "other"};
    return (unsigned)c < BK_STORE_ERROR_CLASSES ? names[c] : "other";
}

enum bk_store_error_class bk_store_error_class_of(enum bk_err e)
{
    switch (e) {
    case BK_E_BUSY:
        return BK_STORE_ERROR_BUSY;
    case BK_E_SERIALIZATION:
        return BK_STORE_ERROR_SERIALIZATION;
    case BK_E_STORAGE_FULL:
        return BK_STORE_ERROR_STORAGE_FULL;
    case BK_E_UNAVAILABLE:
        return BK_STORE_ERROR_UNAVAILABLE;
    case BK_E_IO:
        return BK_STORE_ERROR_IO;
    case BK_E_DUPLICATE:
    case BK_E_NOT_FOUND:
    case BK_E_INVALID:
    case BK_E_SLOT_UNAVAILABLE:
        return BK_STORE_ERROR_CONSTRAINT;
    default:
        return BK_STORE_ERROR_OTHER;
    }
}

/* Transient store errors seen by this thread (bk_store_transient_mark). */
static _Thread_local uint64_t transient_seen;

static void note_transient(enum bk_err e)
{
    if (e == BK_E_BUSY || e == BK_E_SERIALIZATION || e == BK_E_STORAGE_FULL ||
        e == BK_E_UNAVAILABLE || e == BK_E_IO)
        transient_seen++;
}

uint64_t bk_store_transient_mark(void)
{
    return transient_seen;
}

void bk_store_note_error(struct bk_store *store, enum bk_err e)
{
    if (store && e)
        atomic_fetch_add_explicit(&store->errors[bk_store_error_class_of(e)], 1,
                                  memory_order_relaxed);
    note_transient(e);
}

void bk_store_error_counts(struct bk_store *store,
                           uint64_t out[BK_STORE_ERROR_CLASSES])
{
    for (int i = 0; i < BK_STORE_ERROR_CLASSES; i++)
        out[i] = atomic_load_explicit(&store->errors[i], memory_order_relaxed);
}

/* ---- Health (GET /readyz) ---------------------------------------------- */

void bk_store_note_write(struct bk_store *store, enum bk_err e,
                         const struct bk_errbuf *err)
{
    struct bk_store_health *h;
    bool was;

    if (!store || (e && e != BK_E_STORAGE_FULL && e != BK_E_UNAVAILABLE))
        return;
    h = &store->health;
    pthread_mutex_lock(&h->mu);
    was = h->failing;
    h->failing = e != BK_OK;
    if (e)
        h->probed_ms = 0; /* the next look probes */
    pthread_mutex_unlock(&h->mu);
    /* The SQLite driver logs a replaced file itself. */
    if (e == BK_E_STORAGE_FULL && !was)
        bk_log_error("store: writes fail: %s; answering 503 until there is "
                     "room",
                     err && err->msg[0] ? err->msg : bk_err_name(e));
    else if (!e && was)
        bk_log_info("store: writes work again");
}

/* The probe: a row written and deleted in one durable transaction. The
 * value spans a few pages, as a booking's writes do, so that a nearly full
 * disk fails it too. */
#define PROBE_VALUE_BYTES (12 * 1024)

static enum bk_err probe_write(struct bk_store *store, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    char key[64];
    char *value = bk_xmalloc(PROBE_VALUE_BYTES + 1);
    enum bk_err e;

    /* One key per process: instances sharing a PostgreSQL database do not
     * contend for one row. */
    snprintf(key, sizeof(key), "readyz_probe_%ld", (long)getpid());
    /* Varied bytes (a linear congruential sequence): PostgreSQL would
     * compress a constant value to almost nothing. */
    uint32_t x = (uint32_t)bk_mono_ms();
    for (size_t i = 0; i < PROBE_VALUE_BYTES; i++) {
        x = x * 1664525u + 1013904223u;
        value[i] = "0123456789abcdef"[x >> 28];
    }
    value[PROBE_VALUE_BYTES] = '\0';
    e = bk_store_begin(store, BK_TX_WRITE, &tx, err);
    if (!e)
        e = bk_store_meta_put(tx, key, value, err);
    if (!e)
        e = bk_store_meta_delete(tx, key, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    free(value);
    /* Losing a race to another writer shows the database takes writes. */
    return e == BK_E_SERIALIZATION ? BK_OK : e;
}

enum bk_err bk_store_ready(struct bk_store *store, struct bk_errbuf *err)
{
    struct bk_store_health *h = &store->health;
    struct bk_errbuf perr;
    int64_t now;
    enum bk_err e;

    e = store->drv->ping(store, err);
    if (e)
        return e;
    pthread_mutex_lock(&h->probe_mu);
    now = bk_mono_ms();
    pthread_mutex_lock(&h->mu);
    if (h->probed_ms && now - h->probed_ms < BK_STORE_PROBE_MS) {
        e = h->probe_e;
        if (e)
            bk_fail(err, e, "%s", h->probe_msg);
        pthread_mutex_unlock(&h->mu);
        pthread_mutex_unlock(&h->probe_mu);
        return e;
    }
    pthread_mutex_unlock(&h->mu);

    bk_errbuf_clear(&perr);
    e = probe_write(store, &perr);
    pthread_mutex_lock(&h->mu);
    h->probe_e = e;
    snprintf(h->probe_msg, sizeof(h->probe_msg), "%s", perr.msg);
    h->probed_ms = now ? now : 1;
    pthread_mutex_unlock(&h->mu);
    pthread_mutex_unlock(&h->probe_mu);
    if (e)
        bk_fail(err, e, "%s", perr.msg);
    return e;
}

enum bk_err bk_store_begin(struct bk_store *store, enum bk_tx_mode mode,
                           struct bk_tx **out, struct bk_errbuf *err)
{
    enum bk_err e;

    *out = NULL;
    if (mode != BK_TX_READ && mode != BK_TX_WRITE && mode != BK_TX_QUEUE &&
        mode != BK_TX_LEASE)
        return bk_fail(err, BK_E_INTERNAL, "unknown transaction mode %d",
                       (int)mode);
    /* Fault points (test builds) are here, not in the drivers, so that
     * both drivers fail alike and migrations, which call the driver
     * directly, are not affected. */
    if (bk_fault("store.begin")) {
        note_transient(BK_E_IO);
        return bk_fail(err, BK_E_IO,
                       "cannot begin a transaction (fault point "
                       "store.begin)");
    }
    e = store->drv->begin(store, mode, out, err);
    bk_store_note_error(store, e);
    if (e == BK_OK)
        (*out)->store = store;
    else if (mode != BK_TX_READ)
        bk_store_note_write(store, e, err);
    return e;
}

enum bk_err bk_store_commit(struct bk_tx *tx, struct bk_errbuf *err)
{
    struct bk_store *store;
    enum bk_tx_mode mode;
    enum bk_err e;

    if (tx->mode != BK_TX_READ && !tx->broken && bk_fault("store.commit")) {
        tx->drv->rollback(tx);
        note_transient(BK_E_IO);
        return bk_fail(err, BK_E_IO,
                       "commit failed (fault point store.commit)");
    }
    store = tx->store; /* commit frees tx */
    mode = tx->mode;
    e = tx->drv->commit(tx, err);
    bk_store_note_error(store, e);
    if (mode == BK_TX_READ)
        return e;
    bk_store_note_write(store, e, err);
    /* Committed, then failed before the caller could answer (a lost
     * acknowledgement): the caller must treat the outcome as unknown. */
    if (!e && bk_fault("store.committed"))
        return bk_fail(err, BK_E_IO,
                       "committed, but failed before answering (fault "
                       "point store.committed)");
    return e;
}

void bk_store_rollback(struct bk_tx *tx)
{
    if (tx)
        tx->drv->rollback(tx);
}

enum bk_err bk_store_host_lock(struct bk_tx *tx, int64_t host_id,
                               struct bk_errbuf *err)
{
    if (tx->mode == BK_TX_READ)
        return bk_fail(err, BK_E_INTERNAL,
                       "bk_store_host_lock needs a write transaction");
    return tx->drv->lock(tx, BK_LOCK_HOST, host_id, err);
}

enum bk_err bk_store_try_singleton(struct bk_tx *tx, int64_t key, bool *got,
                                   struct bk_errbuf *err)
{
    *got = false;
    if (tx->mode == BK_TX_READ)
        return bk_fail(err, BK_E_INTERNAL,
                       "bk_store_try_singleton needs a write transaction");
    return tx->drv->try_lock(tx, BK_LOCK_SINGLETON, key, got, err);
}

/* ---- Job notifications ------------------------------------------------- */

/* The one channel jobs are announced on: one per database, whatever the
 * number of instances. */
#define JOBS_CHANNEL "bookingd_jobs"

/* The driver's listener, under store.h's name. */
struct bk_store_listener {
    struct bk_listener base;
};

void bk_store_job_notify(struct bk_tx *tx)
{
    if (tx->drv->notify)
        tx->drv->notify(tx, JOBS_CHANNEL);
}

enum bk_err bk_store_job_listen(struct bk_store *store,
                                struct bk_store_listener **out,
                                struct bk_errbuf *err)
{
    struct bk_listener *l = NULL;
    enum bk_err e;

    *out = NULL;
    if (!store->drv->listen_open)
        return bk_fail(err, BK_E_UNAVAILABLE,
                       "the %s driver has no notifications (one process owns "
                       "the database)",
                       store->drv->name);
    e = store->drv->listen_open(store, JOBS_CHANNEL, &l, err);
    if (!e)
        *out = (struct bk_store_listener *)l;
    return e;
}

enum bk_err bk_store_listener_wait(struct bk_store_listener *l, int wake_fd,
                                   int timeout_ms, int *n,
                                   struct bk_errbuf *err)
{
    return l->base.drv->listen_wait(&l->base, wake_fd, timeout_ms, n, err);
}

void bk_store_listener_free(struct bk_store_listener *l)
{
    if (l)
        l->base.drv->listen_free(&l->base);
}

void bk_store_retry_pause(int attempt)
{
    /* Jitter only: a per-thread generator seeded from the clock is enough,
     * and keeps store/ off crypto/. */
    static _Thread_local unsigned seed;
    struct timespec ts;
    long ms;

    if (!seed) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (unsigned)ts.tv_nsec ^ (unsigned)(uintptr_t)&ts;
    }
    ms = 1 + (long)(rand_r(&seed) % (4 * (attempt < 1 ? 1 : attempt)));

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* ---- Migrations -------------------------------------------------------- */

/* One step: under the migration lock, reads the version and, unless the
 * schema is current, runs the next script and records its version. *v
 * receives the version the database is at when the step ends. */
static enum bk_err migrate_step(struct bk_store *store, int *v, bool *done,
                                struct bk_errbuf *err)
{
    const struct bk_driver *d = store->drv;
    struct bk_tx *tx = NULL;
    enum bk_err e;

    *done = false;
    e = d->begin(store, BK_TX_WRITE, &tx, err);
    if (e)
        return e;
    e = d->lock(tx, BK_LOCK_MIGRATE, 0, err);
    if (e == BK_OK)
        e = d->version_get(tx, v, err);
    if (e)
        goto fail;
    if (*v > *d->n_migrations) {
        e = bk_fail(err, BK_E_CONFIG,
                    "database schema version %d is newer than this build "
                    "(%d)",
                    *v, *d->n_migrations);
        goto fail;
    }
    if (*v == *d->n_migrations) {
        *done = true;
        d->rollback(tx);
        return BK_OK;
    }
    e = d->exec_script(tx, d->migrations[*v].sql, err);
    if (e) {
        struct bk_errbuf inner = {0};
        if (err)
            inner = *err;
        e = bk_fail(err, e, "migration %s failed: %s", d->migrations[*v].name,
                    inner.msg);
        goto fail;
    }
    e = d->version_set(tx, *v + 1, err);
    if (e)
        goto fail;
    e = d->commit(tx, err);
    if (e == BK_OK)
        (*v)++;
    return e;
fail:
    d->rollback(tx);
    return e;
}

enum bk_err bk_store_migrate(struct bk_store *store, int *from, int *to,
                             struct bk_errbuf *err)
{
    int first = -1, v = 0, lost = 0;
    bool done = false;
    enum bk_err e = BK_OK;

    while (!done) {
        e = migrate_step(store, &v, &done, err);
        if (e == BK_E_SERIALIZATION && ++lost < MIGRATE_TRIES)
            continue; /* another process migrated meanwhile: look again */
        if (e)
            return e;
        if (first < 0)
            first = done ? v : v - 1;
    }
    if (from)
        *from = first;
    if (to)
        *to = v;
    return BK_OK;
}

enum bk_err bk_store_version(struct bk_store *store, int *current, int *newest,
                             struct bk_errbuf *err)
{
    const struct bk_driver *d = store->drv;
    struct bk_tx *tx = NULL;
    enum bk_err e;
    int v = 0;

    e = d->begin(store, BK_TX_READ, &tx, err);
    if (e)
        return e;
    e = d->version_get(tx, &v, err);
    d->rollback(tx);
    if (e)
        return e;
    if (current)
        *current = v;
    if (newest)
        *newest = *d->n_migrations;
    return BK_OK;
}

/* ---- Unique keys in human words ----------------------------------------- */

/* Each key in SQLite's "table.column" form and PostgreSQL's default
 * constraint name. */
static const struct {
    const char *sqlite_key;
    const char *pg_key;
    const char *what;
} unique_keys[] = {
    {"hosts.slug", "hosts_slug_key", "a host with this slug"},
    {"event_types.slug", "event_types_slug_key",
     "an event type with this slug"},
    {"external_links.entity_id", "external_links_event_type_provider",
     "an id at this provider for this event type"},
    {"clients.public_id", "clients_public_id_key",
     "a client with this public id"},
    {"clients.email_norm", "clients_email_norm_key",
     "a client with this email (in any letter case)"},
    {"bookings.uid", "bookings_uid_key", "a booking with this uid"},
    {"external_links.provider", "external_links_provider_kind_external_id_key",
     "a link with this provider, kind and external id"},
    {"inbox.public_id", "inbox_public_id_key",
     "a delivery with this public id"},
    {"inbox.provider", "inbox_provider_delivery_key_key",
     "a delivery with this provider and delivery key"},
    {"jobs.dedupe_key", "jobs_dedupe_key_key", "a job with this dedupe key"},
    {"meta.key", "meta_pkey", "a setting with this key"},
    {"schedules.host_id", "schedules_pkey", "a schedule for this host"},
};

const char *bk_store_unique_what(const char *key)
{
    if (!key)
        return NULL;
    for (size_t i = 0; i < sizeof(unique_keys) / sizeof(unique_keys[0]); i++)
        if (strncmp(key, unique_keys[i].sqlite_key,
                    strlen(unique_keys[i].sqlite_key)) == 0 ||
            strcmp(key, unique_keys[i].pg_key) == 0)
            return unique_keys[i].what;
    return NULL;
}
