/* store/store.h — the ledger's storage interface.
 * Callers open a store from a URL ("sqlite:./var/bookingd.db"), then work in
 * transactions: every read and write takes a struct bk_tx. The store is a
 * pool of connections and is thread-safe; a transaction belongs to the
 * thread that began it. No SQL, dialect or driver type appears here: the
 * functions are written once over a narrow SQL driver (store/driver.h),
 * implemented for SQLite and PostgreSQL.
 *
 * Conventions for every function below:
 * - returns BK_OK or an error; err (may be NULL) gets a message;
 * - BK_E_NOT_FOUND when a looked-up row does not exist;
 * - BK_E_DUPLICATE when a unique key (slug, email, uid, link) exists;
 * - BK_E_BUSY when the database stayed locked past its timeout;
 * - BK_E_SERIALIZATION when the database aborted the transaction to keep
 *   it serializable (PostgreSQL): roll back and run it again;
 * - BK_E_IO for any other database failure;
 * - records read are filled into caller-owned structs whose strings live
 *   in `arena` (valid until the arena is released);
 * - records written are borrowed for the call only;
 * - lists return arrays allocated in `arena`. */
#ifndef BK_STORE_STORE_H
#define BK_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "core/ledger.h"
#include "core/schedule.h"

struct bk_store; /* a database: a pool of connections */
struct bk_tx;    /* one transaction on one pooled connection */

enum bk_tx_mode {
    BK_TX_READ = 0,  /* a consistent snapshot; writes are refused */
    BK_TX_WRITE = 1, /* serialized against every other write transaction */
    /* A write whose consistency comes from the locks it takes (the host
     * lock, row locks, unique keys) rather than from serializability:
     * claiming jobs, claiming slots. Each statement sees what committed
     * before it began (READ COMMITTED on PostgreSQL), so a read made after
     * taking a lock sees the work of the lock's previous holder. The same
     * as WRITE on SQLite. */
    BK_TX_LOCKED = 2,
    BK_TX_QUEUE = BK_TX_LOCKED, /* the name the job queue uses */
    /* A LOCKED write that a crash of the machine may lose at no cost but
     * a retry: claiming jobs, renewing and giving back leases (a claim
     * lost with its machine returns when its lease runs out). On SQLite it
     * commits without waiting for the disk (synchronous=NORMAL in WAL
     * mode: it is on disk with the next durable commit of any connection,
     * and lost only with the operating system or the power, which end
     * every worker too); on PostgreSQL it is LOCKED. Never for what is
     * acknowledged to anyone. */
    BK_TX_LEASE = 3,
};

/* ---- Lifetime ---------------------------------------------------------- */

/* Opens the database named by url ("sqlite:PATH", or a libpq URI
 * "postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=...") with up to pool_size
 * connections. Does not migrate.
 * BK_E_CONFIG for an unknown or malformed URL, BK_E_IO when the database
 * cannot be opened. Returns an owned store; free with bk_store_free. */
BK_MUST_CHECK enum bk_err bk_store_open(const char *url, int pool_size,
                                        struct bk_store **out,
                                        struct bk_errbuf *err);

/* Closes every connection. NULL is a no-op. No transaction may be open. */
void bk_store_free(struct bk_store *store);

/* The driver's name ("sqlite", "postgres"). */
const char *bk_store_backend(const struct bk_store *store);

/* Database errors by class, counted since the store was opened (GET
 * /metrics): what the driver returned to a prepare, step, begin or commit
 * (driver.h "Errors"). */
enum bk_store_error_class {
    BK_STORE_ERROR_BUSY = 0,          /* locked past its time-out */
    BK_STORE_ERROR_SERIALIZATION = 1, /* aborted: serialization, deadlock */
    BK_STORE_ERROR_STORAGE_FULL = 2,  /* no room to write */
    BK_STORE_ERROR_UNAVAILABLE = 3,   /* the database file is gone */
    BK_STORE_ERROR_IO = 4,            /* I/O, a lost connection, the rest */
    BK_STORE_ERROR_CONSTRAINT = 5,    /* unique, foreign key, check,
                                         exclusion (a taken slot) */
    BK_STORE_ERROR_OTHER = 6,         /* anything else (a misuse: a bug) */
};
#define BK_STORE_ERROR_CLASSES 7

/* The class's name for a metric label ("busy", "serialization",
 * "storage_full", "unavailable", "io", "constraint", "other"). */
const char *bk_store_error_class_name(enum bk_store_error_class c);

/* The class of a driver's error e (BK_OK has none: BK_STORE_ERROR_OTHER). */
enum bk_store_error_class bk_store_error_class_of(enum bk_err e);

/* A count of the transient store errors (busy, serialization, storage
 * full, unavailable, I/O: the classes a retry may cure) the calling thread
 * has seen from the store. Compared before and after a piece of work, it
 * tells a BK_E_IO of the store from one of the network (jobs.c: a job that
 * failed because the store did is not charged an attempt). */
uint64_t bk_store_transient_mark(void);

/* The counts since open, indexed by class. Lock-free; thread-safe. */
void bk_store_error_counts(struct bk_store *store,
                           uint64_t out[BK_STORE_ERROR_CLASSES]);

/* Brings the schema to the newest version, each migration in its own
 * transaction; *from and *to (may be NULL) receive the versions before and
 * after. Safe to run concurrently from several processes. */
BK_MUST_CHECK enum bk_err bk_store_migrate(struct bk_store *store, int *from,
                                           int *to, struct bk_errbuf *err);

/* The schema version the database is at, and the newest this build
 * knows. */
BK_MUST_CHECK enum bk_err bk_store_version(struct bk_store *store, int *current,
                                           int *newest, struct bk_errbuf *err);

/* Checks that the database answers (a read). */
BK_MUST_CHECK enum bk_err bk_store_ping(struct bk_store *store,
                                        struct bk_errbuf *err);

/* Checks that the database answers and takes writes (GET /readyz): a
 * ping, then a small durable write transaction (a row of `meta` written
 * and deleted again, so nothing visible changes), run at most once per
 * BK_STORE_PROBE_MS and at once after a write failed for want of space or
 * because the database was replaced; between probes the last result is
 * given. BK_E_STORAGE_FULL while writes fail for want of room,
 * BK_E_UNAVAILABLE when the database is gone, or the ping's or probe's
 * error. Thread-safe. */
#define BK_STORE_PROBE_MS 1000
BK_MUST_CHECK enum bk_err bk_store_ready(struct bk_store *store,
                                         struct bk_errbuf *err);

/* How thoroughly bk_store_check looks. */
enum bk_store_check {
    BK_STORE_CHECK_OFF = 0,
    BK_STORE_CHECK_QUICK = 1, /* SQLite: PRAGMA quick_check */
    BK_STORE_CHECK_FULL = 2,  /* SQLite: PRAGMA integrity_check */
};

/* Checks the database's own structure before it is used (serve, migrate):
 * BK_E_IO naming the first problem when it is damaged. Reads the whole
 * database (seconds per GiB); nothing on PostgreSQL, which checks its own
 * pages. */
BK_MUST_CHECK enum bk_err bk_store_check(struct bk_store *store,
                                         enum bk_store_check level,
                                         struct bk_errbuf *err);

/* `bookingd backup`: copies the database to a new file at dest_path
 * (borrowed; it must not exist yet) with SQLite's online backup API, in one
 * read transaction, so the copy is the database as of one commit while the
 * daemon keeps serving; the copy is fsynced and passes PRAGMA quick_check
 * before this returns, and is removed on failure. BK_E_DUPLICATE when
 * dest_path exists, BK_E_IO when it cannot be written, BK_E_UNAVAILABLE on
 * PostgreSQL (the message says to use pg_dump). */
BK_MUST_CHECK enum bk_err bk_store_backup(struct bk_store *store,
                                          const char *dest_path,
                                          struct bk_errbuf *err);

/* `bookingd restore`: replaces the whole database with the backup at
 * src_path (borrowed), in one write transaction. Refuses, changing nothing:
 * BK_E_BUSY while another process has the database open (a serving
 * daemon, `bookingd apply`; every store open holds a shared lock on the
 * file for its life); BK_E_INVALID when src_path is not a SQLite file, not
 * a bookingd database (no schema version or no meta table), fails
 * PRAGMA quick_check, or has a schema newer than this build knows;
 * BK_E_UNAVAILABLE on PostgreSQL (use pg_restore). The schema of an older
 * backup is brought up to date by the next start. */
BK_MUST_CHECK enum bk_err bk_store_restore(struct bk_store *store,
                                           const char *src_path,
                                           struct bk_errbuf *err);

/* ---- Transactions ------------------------------------------------------ */

/* Begins a transaction on a pooled connection, waiting for a free one.
 * A write transaction waits for every other write to finish first, so the
 * reads it makes stay true until it commits (the atomic slot claim relies on
 * this). Returns an owned tx that bk_store_commit or bk_store_rollback
 * ends. */
BK_MUST_CHECK enum bk_err bk_store_begin(struct bk_store *store,
                                         enum bk_tx_mode mode,
                                         struct bk_tx **out,
                                         struct bk_errbuf *err);

/* Commits and ends tx (tx is freed whatever the result). A write commit is
 * durable when this returns BK_OK (fsync'd). On failure nothing of tx is
 * kept. */
BK_MUST_CHECK enum bk_err bk_store_commit(struct bk_tx *tx,
                                          struct bk_errbuf *err);

/* Rolls back and ends tx; NULL is a no-op. */
void bk_store_rollback(struct bk_tx *tx);

/* Serializes slot claims for one host until tx ends. The SQLite driver
 * serializes all writes already; PostgreSQL takes a transaction-scoped
 * advisory lock. Needs a WRITE or QUEUE transaction. */
BK_MUST_CHECK enum bk_err bk_store_host_lock(struct bk_tx *tx, int64_t host_id,
                                             struct bk_errbuf *err);

/* Tries to become, until tx ends, the one holder of singleton `key` among
 * every instance on the database (periodic work that must run once:
 * pruning, reconciling). *got is false when another transaction holds it;
 * nobody waits. Always granted on SQLite, where one process owns the
 * file. */
BK_MUST_CHECK enum bk_err bk_store_try_singleton(struct bk_tx *tx, int64_t key,
                                                 bool *got,
                                                 struct bk_errbuf *err);

/* ---- Retrying a transaction ------------------------------------------- */

/* How often a whole transaction is run when it keeps losing serialization
 * races (BK_E_SERIALIZATION), and the pause between runs: a random
 * 1..(4 * attempt) ms, so that the racers spread out. */
#define BK_STORE_TX_TRIES 25
void bk_store_retry_pause(int attempt);

/* Sets e to `call` — an expression that begins, runs and commits (or rolls
 * back) one whole transaction — and runs it again while it returns
 * BK_E_SERIALIZATION, at most BK_STORE_TX_TRIES times. */
#define BK_STORE_RETRY(e, call)                                                \
    do {                                                                       \
        for (int bk_try_ = 1;; bk_try_++) {                                    \
            (e) = (call);                                                      \
            if ((e) != BK_E_SERIALIZATION || bk_try_ >= BK_STORE_TX_TRIES)     \
                break;                                                         \
            bk_store_retry_pause(bk_try_);                                     \
        }                                                                      \
    } while (0)

/* ---- Settings (key/value) --------------------------------------------- */

BK_MUST_CHECK enum bk_err bk_store_meta_get(struct bk_tx *tx, const char *key,
                                            struct bk_arena *arena,
                                            const char **value,
                                            struct bk_errbuf *err);
/* Inserts or replaces. */
BK_MUST_CHECK enum bk_err bk_store_meta_put(struct bk_tx *tx, const char *key,
                                            const char *value,
                                            struct bk_errbuf *err);
/* Deletes; no error when the key is not there. */
BK_MUST_CHECK enum bk_err
bk_store_meta_delete(struct bk_tx *tx, const char *key, struct bk_errbuf *err);
/* The same reads and writes of one setting, each in a transaction of its
 * own on store (for a caller outside any transaction: a connector's sync
 * cursor, the pages it made). meta_read: *value is owned by arena, NULL
 * when the key is not there (BK_OK) or on an error. meta_write inserts or
 * replaces in a write transaction, run again while it fails with
 * BK_E_SERIALIZATION (BK_STORE_RETRY). Errors: beginning, the statement
 * or the commit's (BK_E_BUSY, BK_E_IO, ...), with err set; nothing is
 * written then. */
BK_MUST_CHECK enum bk_err bk_store_meta_read(struct bk_store *store,
                                             const char *key,
                                             struct bk_arena *arena,
                                             const char **value,
                                             struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_meta_write(struct bk_store *store,
                                              const char *key,
                                              const char *value,
                                              struct bk_errbuf *err);

/* ---- Paging ------------------------------------------------------------ */

/* Keyset paging by id: rows with id > after_id (0 = from the start),
 * ascending, at most limit (1..500). The caller asks for limit + 1 rows to
 * learn whether a next page exists. */
struct bk_page {
    int64_t after_id;
    int limit;
};

/* ---- Hosts ------------------------------------------------------------- */

/* Inserts h (h->id is ignored) and sets *id. Timestamps are taken from
 * h->created_utc / h->updated_utc. */
BK_MUST_CHECK enum bk_err bk_store_host_insert(struct bk_tx *tx,
                                               const struct bk_host *h,
                                               int64_t *id,
                                               struct bk_errbuf *err);
/* Updates name, email, timezone and updated_utc of the host with h->id. */
BK_MUST_CHECK enum bk_err bk_store_host_update(struct bk_tx *tx,
                                               const struct bk_host *h,
                                               struct bk_errbuf *err);
/* Deletes the host and its schedule. BK_E_CONFLICT while event types or
 * bookings refer to it. */
BK_MUST_CHECK enum bk_err bk_store_host_delete(struct bk_tx *tx, int64_t id,
                                               struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_host_get(struct bk_tx *tx, int64_t id,
                                            struct bk_arena *arena,
                                            struct bk_host *out,
                                            struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_host_by_slug(struct bk_tx *tx,
                                                const char *slug,
                                                struct bk_arena *arena,
                                                struct bk_host *out,
                                                struct bk_errbuf *err);
/* Case-insensitive on the email; the oldest host when several match. */
BK_MUST_CHECK enum bk_err bk_store_host_by_email(struct bk_tx *tx,
                                                 const char *email,
                                                 struct bk_arena *arena,
                                                 struct bk_host *out,
                                                 struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_host_list(struct bk_tx *tx,
                                             const struct bk_page *page,
                                             struct bk_arena *arena,
                                             struct bk_host **out, size_t *n,
                                             struct bk_errbuf *err);

/* ---- Schedules (one per host) ----------------------------------------- */

/* Replaces the host's schedule (zone, weekly ranges, overrides). */
BK_MUST_CHECK enum bk_err bk_store_schedule_put(struct bk_tx *tx,
                                                int64_t host_id,
                                                const struct bk_schedule *s,
                                                int64_t now_utc,
                                                struct bk_errbuf *err);
/* BK_E_NOT_FOUND when the host has none. Overrides come sorted by date
 * and start; weekly ranges by day and start. */
BK_MUST_CHECK enum bk_err
bk_store_schedule_get(struct bk_tx *tx, int64_t host_id, struct bk_arena *arena,
                      struct bk_schedule *out, struct bk_errbuf *err);

/* ---- Event types ------------------------------------------------------- */

/* Inserts et and sets *id; et->external_ids become the event type's
 * external links. BK_E_CONFLICT (err->field "external_ids") when one of
 * them is mapped to another event type already. */
BK_MUST_CHECK enum bk_err
bk_store_event_type_insert(struct bk_tx *tx, const struct bk_event_type *et,
                           int64_t *id, struct bk_errbuf *err);
/* Updates every field but id, slug and created_utc; the stored external
 * ids become et->external_ids (removed ones are unlinked). BK_E_CONFLICT as
 * for insert. */
BK_MUST_CHECK enum bk_err
bk_store_event_type_update(struct bk_tx *tx, const struct bk_event_type *et,
                           struct bk_errbuf *err);
/* Deletes it and its external links. BK_E_CONFLICT while bookings refer to
 * it. */
BK_MUST_CHECK enum bk_err
bk_store_event_type_delete(struct bk_tx *tx, int64_t id, struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_event_type_get(struct bk_tx *tx, int64_t id,
                                                  struct bk_arena *arena,
                                                  struct bk_event_type *out,
                                                  struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_event_type_by_slug(struct bk_tx *tx,
                                                      const char *slug,
                                                      struct bk_arena *arena,
                                                      struct bk_event_type *out,
                                                      struct bk_errbuf *err);
/* The event type provider knows as external_id (its external link of kind
 * BK_LINK_KIND_EVENT_TYPE). BK_E_NOT_FOUND when none is mapped. */
BK_MUST_CHECK enum bk_err bk_store_event_type_by_external(
    struct bk_tx *tx, const char *provider, const char *external_id,
    struct bk_arena *arena, struct bk_event_type *out, struct bk_errbuf *err);
/* active: -1 all, 0 inactive only, 1 active only. Ascending id. */
BK_MUST_CHECK enum bk_err bk_store_event_type_list(struct bk_tx *tx, int active,
                                                   const struct bk_page *page,
                                                   struct bk_arena *arena,
                                                   struct bk_event_type **out,
                                                   size_t *n,
                                                   struct bk_errbuf *err);

/* ---- Clients ----------------------------------------------------------- */

/* Inserts c and sets *id. BK_E_DUPLICATE when the email exists in any
 * letter case. */
BK_MUST_CHECK enum bk_err bk_store_client_insert(struct bk_tx *tx,
                                                 const struct bk_client *c,
                                                 int64_t *id,
                                                 struct bk_errbuf *err);
/* Inserts c unless a client with its email (in any letter case) exists,
 * in one statement (no read-then-insert race on any database); *out gets
 * the stored client either way, its strings in arena, and *created tells
 * which. The existing client is returned unchanged. */
BK_MUST_CHECK enum bk_err
bk_store_client_upsert(struct bk_tx *tx, const struct bk_client *c,
                       struct bk_arena *arena, struct bk_client *out,
                       bool *created, struct bk_errbuf *err);
/* Updates email, name, timezone, status and updated_utc. */
BK_MUST_CHECK enum bk_err bk_store_client_update(struct bk_tx *tx,
                                                 const struct bk_client *c,
                                                 struct bk_errbuf *err);
/* As bk_store_booking_lock, for a client's row. */
BK_MUST_CHECK enum bk_err bk_store_client_lock(struct bk_tx *tx, int64_t id,
                                               struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_client_get(struct bk_tx *tx, int64_t id,
                                              struct bk_arena *arena,
                                              struct bk_client *out,
                                              struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_client_by_public_id(struct bk_tx *tx,
                                                       const char *public_id,
                                                       struct bk_arena *arena,
                                                       struct bk_client *out,
                                                       struct bk_errbuf *err);
/* Case-insensitive (ASCII) match on the whole address. */
BK_MUST_CHECK enum bk_err bk_store_client_by_email(struct bk_tx *tx,
                                                   const char *email,
                                                   struct bk_arena *arena,
                                                   struct bk_client *out,
                                                   struct bk_errbuf *err);
/* email: NULL or a case-insensitive exact match; status: -1 any. */
BK_MUST_CHECK enum bk_err
bk_store_client_list(struct bk_tx *tx, const char *email, int status,
                     const struct bk_page *page, struct bk_arena *arena,
                     struct bk_client **out, size_t *n, struct bk_errbuf *err);
/* Active clients (BK_CLIENT_ACTIVE) with id > after_id, created before
 * cutoff_utc, none of whose bookings was made or starts at or after
 * cutoff_utc (the client lifecycle's "without bookings", ledger.h
 * bk_ledger_clients_inactivate); by id, at most limit. */
BK_MUST_CHECK enum bk_err
bk_store_client_dormant(struct bk_tx *tx, int64_t cutoff_utc, int64_t after_id,
                        int limit, struct bk_arena *arena,
                        struct bk_client **out, size_t *n,
                        struct bk_errbuf *err);

/* ---- Bookings ---------------------------------------------------------- */

BK_MUST_CHECK enum bk_err bk_store_booking_insert(struct bk_tx *tx,
                                                  const struct bk_booking *b,
                                                  int64_t *id,
                                                  struct bk_errbuf *err);
/* Updates every mutable field (times, status, payment status, texts,
 * client, event type, host, hold, updated_utc) of the booking with b->id. */
BK_MUST_CHECK enum bk_err bk_store_booking_update(struct bk_tx *tx,
                                                  const struct bk_booking *b,
                                                  struct bk_errbuf *err);
/* Locks the booking's row until tx ends, so that a read-modify-write of it
 * in a LOCKED transaction loses no concurrent change: other writers of the
 * row wait (PostgreSQL; SQLite serializes every write already). Read the
 * row again after locking it. BK_E_NOT_FOUND when it does not exist. */
BK_MUST_CHECK enum bk_err bk_store_booking_lock(struct bk_tx *tx, int64_t id,
                                                struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_booking_get(struct bk_tx *tx, int64_t id,
                                               struct bk_arena *arena,
                                               struct bk_booking *out,
                                               struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_booking_by_uid(struct bk_tx *tx,
                                                  const char *uid,
                                                  struct bk_arena *arena,
                                                  struct bk_booking *out,
                                                  struct bk_errbuf *err);

/* Filters of bk_store_booking_list; a zero field means "any". Results are
 * ordered by (start_utc, id); the cursor continues after
 * (after_start_utc, after_id) when has_after is set. */
struct bk_booking_filter {
    int status;            /* enum bk_booking_status, -1 any */
    int source;            /* enum bk_source, -1 any */
    int64_t from_utc;      /* start >= from_utc; 0 any */
    int64_t to_utc;        /* start < to_utc; 0 any */
    int64_t client_id;     /* 0 any */
    int64_t event_type_id; /* 0 any */
    int64_t host_id;       /* 0 any */
    bool flagged;          /* only bookings with a flag */
    bool has_after;
    int64_t after_start_utc;
    int64_t after_id;
    int limit; /* 1..501 */
};

BK_MUST_CHECK enum bk_err
bk_store_booking_list(struct bk_tx *tx, const struct bk_booking_filter *f,
                      struct bk_arena *arena, struct bk_booking **out,
                      size_t *n, struct bk_errbuf *err);

/* The host's bookings that occupy time overlapping [from_utc, to_utc)
 * once widened by their event type's buffers: confirmed, completed and
 * no-show ones, and pending ones whose hold_expires_utc is 0 or after
 * now_utc. exclude_id (0 = none) leaves one booking out (the one being
 * rescheduled). Ordered by start. */
BK_MUST_CHECK enum bk_err
bk_store_booking_busy(struct bk_tx *tx, int64_t host_id, int64_t from_utc,
                      int64_t to_utc, int64_t now_utc, int64_t exclude_id,
                      struct bk_arena *arena, struct bk_booking_span **out,
                      size_t *n, struct bk_errbuf *err);

/* The database's plan of the busy-time query (bk_store_booking_busy), as
 * text of one or more lines, copied into arena: for the store contract
 * test, which checks that it reads the index of the bookings that can
 * block (bookings_host_end_blocking) rather than every booking. */
BK_MUST_CHECK enum bk_err bk_store_booking_busy_plan(struct bk_tx *tx,
                                                     struct bk_arena *arena,
                                                     char **plan,
                                                     struct bk_errbuf *err);

/* Sets (flag NULL: clears) the booking's flag, the reason it waits for
 * the admin ("deleted_in_calendar"), and its updated_utc. BK_E_NOT_FOUND
 * for no such booking. */
BK_MUST_CHECK enum bk_err
bk_store_booking_set_flag(struct bk_tx *tx, int64_t id, const char *flag,
                          int64_t now_utc, struct bk_errbuf *err);

/* Appends to a booking's history (c->id is ignored). */
BK_MUST_CHECK enum bk_err
bk_store_history_append(struct bk_tx *tx, const struct bk_booking_change *c,
                        struct bk_errbuf *err);
/* The booking's whole history, oldest first (at most 10000 entries). */
BK_MUST_CHECK enum bk_err
bk_store_history_list(struct bk_tx *tx, int64_t booking_id,
                      struct bk_arena *arena, struct bk_booking_change **out,
                      size_t *n, struct bk_errbuf *err);

/* ---- External links ---------------------------------------------------- */

/* Inserts the link. BK_E_DUPLICATE when (provider, kind, external_id)
 * exists already (whatever it points at). */
BK_MUST_CHECK enum bk_err bk_store_link_insert(struct bk_tx *tx,
                                               const struct bk_link *l,
                                               struct bk_errbuf *err);
/* Inserts the link unless (provider, kind, external_id) exists, in one
 * statement; *out gets the stored link either way (the existing one, which
 * may point elsewhere, when *existed). */
BK_MUST_CHECK enum bk_err bk_store_link_put(struct bk_tx *tx,
                                            const struct bk_link *l,
                                            struct bk_arena *arena,
                                            struct bk_link *out, bool *existed,
                                            struct bk_errbuf *err);
/* Sets etag and superseded of the link (provider, kind, external_id). */
BK_MUST_CHECK enum bk_err bk_store_link_update(struct bk_tx *tx,
                                               const struct bk_link *l,
                                               struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err
bk_store_link_find(struct bk_tx *tx, const char *provider, const char *kind,
                   const char *external_id, struct bk_arena *arena,
                   struct bk_link *out, struct bk_errbuf *err);
/* Every link of (provider, kind), oldest first (at most DB_MAX_ROWS):
 * the events of one calendar connection. */
BK_MUST_CHECK enum bk_err
bk_store_link_list_kind(struct bk_tx *tx, const char *provider,
                        const char *kind, struct bk_arena *arena,
                        struct bk_link **out, size_t *n, struct bk_errbuf *err);
/* Every link of one ledger row, oldest first. */
BK_MUST_CHECK enum bk_err
bk_store_link_list(struct bk_tx *tx, enum bk_link_entity entity,
                   int64_t entity_id, struct bk_arena *arena,
                   struct bk_link **out, size_t *n, struct bk_errbuf *err);

/* ---- Activity ---------------------------------------------------------- */

/* Appends a; *id (may be NULL) receives the new row's id. */
BK_MUST_CHECK enum bk_err bk_store_activity_append(struct bk_tx *tx,
                                                   const struct bk_activity *a,
                                                   int64_t *id,
                                                   struct bk_errbuf *err);
/* Newest first: rows with id < before_id (0 = from the newest). kind and
 * booking_id (0) filter when set. */
BK_MUST_CHECK enum bk_err
bk_store_activity_list(struct bk_tx *tx, const char *kind, int64_t booking_id,
                       int64_t before_id, int limit, struct bk_arena *arena,
                       struct bk_activity **out, size_t *n,
                       struct bk_errbuf *err);

/* The activity of bookings booking_ids[0..n) (n at most
 * BK_STORE_ACTIVITY_BATCH) whose kind is one of kinds[0..n_kinds) (at most
 * 16), in one query: ordered by booking, then oldest first (the feed's
 * SEQUENCEs, bk_ledger_invite_sequences). */
#define BK_STORE_ACTIVITY_BATCH 500
BK_MUST_CHECK enum bk_err bk_store_activity_of_bookings(
    struct bk_tx *tx, const int64_t *booking_ids, size_t n,
    const char *const *kinds, size_t n_kinds, struct bk_arena *arena,
    struct bk_activity **out, size_t *n_out, struct bk_errbuf *err);

/* ---- Google watch channels (connectors/gwatch.c) ---------------------- */

struct bk_gchannel {
    int64_t id;
    const char *channel_id;           /* the UUID sent to Google */
    int64_t connection_id;            /* 0: the connection was deleted */
    const char *connection_public_id; /* "cal_..." */
    const char *calendar_id;          /* the Google calendar watched */
    const char *resource_id;          /* Google's, for channels.stop */
    int64_t expiration_ms;
    const char *stop_credential; /* the deleted connection's sealed tokens */
    int64_t created_ms;
};

/* Inserts c (id, stop_credential ignored). */
BK_MUST_CHECK enum bk_err bk_store_gchannel_insert(struct bk_tx *tx,
                                                   const struct bk_gchannel *c,
                                                   struct bk_errbuf *err);
/* By channel id; BK_E_NOT_FOUND. */
BK_MUST_CHECK enum bk_err bk_store_gchannel_find(struct bk_tx *tx,
                                                 const char *channel_id,
                                                 struct bk_arena *arena,
                                                 struct bk_gchannel *out,
                                                 struct bk_errbuf *err);
/* Every channel (at most 10,000), oldest first. */
BK_MUST_CHECK enum bk_err bk_store_gchannel_list(struct bk_tx *tx,
                                                 struct bk_arena *arena,
                                                 struct bk_gchannel **out,
                                                 size_t *n,
                                                 struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_gchannel_delete(struct bk_tx *tx, int64_t id,
                                                   struct bk_errbuf *err);

/* ---- Sealed values (crypto.h bk_secret_seal; `bookingd rekey`) -------- */

/* Every column that holds a sealed value. */
enum bk_sealed_kind {
    BK_SEALED_CALENDAR_CREDENTIAL, /* calendar_connections.credential */
    BK_SEALED_WEBHOOK_SECRET,      /* webhook_endpoints.secret (plain
                                      "whsec_..." where no key was set) */
};
#define BK_SEALED_KINDS 2

struct bk_sealed {
    enum bk_sealed_kind kind;
    int64_t id;
    const char *public_id;
    const char *value;
};

/* The associated data the value of kind in row public_id is sealed with. */
const char *bk_store_sealed_aad(enum bk_sealed_kind kind, const char *public_id,
                                struct bk_arena *arena);
/* Every row's value of kind (NULLs left out), by id. */
BK_MUST_CHECK enum bk_err
bk_store_sealed_list(struct bk_tx *tx, enum bk_sealed_kind kind,
                     struct bk_arena *arena, struct bk_sealed **out, size_t *n,
                     struct bk_errbuf *err);
/* Replaces v's value by value where it is still v->value (*changed false
 * when the row changed or went meanwhile: the daemon wrote it again). */
BK_MUST_CHECK enum bk_err bk_store_sealed_set(struct bk_tx *tx,
                                              const struct bk_sealed *v,
                                              const char *value, bool *changed,
                                              struct bk_errbuf *err);

/* ---- Messages (outbound email, mail/mail.h) ---------------------------- */

/* Inserts m (m->id ignored); *id receives the new row's id. BK_E_DUPLICATE
 * when (booking_id, kind, sequence) exists. */
BK_MUST_CHECK enum bk_err bk_store_message_insert(struct bk_tx *tx,
                                                  const struct bk_message *m,
                                                  int64_t *id,
                                                  struct bk_errbuf *err);
/* Sets status, attempts, last_error (NULL clears) and sent_utc (0: none)
 * of the message with m->id. */
BK_MUST_CHECK enum bk_err bk_store_message_update(struct bk_tx *tx,
                                                  const struct bk_message *m,
                                                  struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_message_get(struct bk_tx *tx, int64_t id,
                                               struct bk_arena *arena,
                                               struct bk_message *out,
                                               struct bk_errbuf *err);
/* The booking's messages, oldest first (at most 10000). */
BK_MUST_CHECK enum bk_err
bk_store_message_list(struct bk_tx *tx, int64_t booking_id,
                      struct bk_arena *arena, struct bk_message **out,
                      size_t *n, struct bk_errbuf *err);

/* ---- Payments (ledger/payments.c) --------------------------------------- */

/* Inserts p (p->id ignored). BK_E_DUPLICATE when the booking has one. */
BK_MUST_CHECK enum bk_err bk_store_payment_insert(struct bk_tx *tx,
                                                  const struct bk_payment *p,
                                                  struct bk_errbuf *err);
/* Writes every field of the payment of p->booking_id but its id, booking
 * and created_utc. BK_E_NOT_FOUND when there is none. */
BK_MUST_CHECK enum bk_err bk_store_payment_update(struct bk_tx *tx,
                                                  const struct bk_payment *p,
                                                  struct bk_errbuf *err);
/* The payment of a booking; BK_E_NOT_FOUND when it has none (a free
 * booking). Strings in arena. */
BK_MUST_CHECK enum bk_err bk_store_payment_get(struct bk_tx *tx,
                                               int64_t booking_id,
                                               struct bk_arena *arena,
                                               struct bk_payment *out,
                                               struct bk_errbuf *err);
/* ---- Invoices (invoices.c, ledger/invoices.c) -------------------------- */

/* The next number of `year` (1, 2, ...), taken in tx: gapless, since a
 * rolled-back transaction gives its number back. */
BK_MUST_CHECK enum bk_err bk_store_invoice_next_seq(struct bk_tx *tx, int year,
                                                    int64_t *seq,
                                                    struct bk_errbuf *err);
/* Inserts inv (inv->id ignored; *id may be NULL). BK_E_DUPLICATE when the
 * booking or the number has one. */
BK_MUST_CHECK enum bk_err bk_store_invoice_insert(struct bk_tx *tx,
                                                  const struct bk_invoice *inv,
                                                  int64_t *id,
                                                  struct bk_errbuf *err);
/* Writes status, refunded_minor, paid_utc, the Stripe ids and updated_utc
 * of invoice inv->id. */
BK_MUST_CHECK enum bk_err bk_store_invoice_update(struct bk_tx *tx,
                                                  const struct bk_invoice *inv,
                                                  struct bk_errbuf *err);
/* By number, or by booking; BK_E_NOT_FOUND. Strings in arena. */
BK_MUST_CHECK enum bk_err bk_store_invoice_get(struct bk_tx *tx,
                                               const char *number,
                                               struct bk_arena *arena,
                                               struct bk_invoice *out,
                                               struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_invoice_by_booking(struct bk_tx *tx,
                                                      int64_t booking_id,
                                                      struct bk_arena *arena,
                                                      struct bk_invoice *out,
                                                      struct bk_errbuf *err);

struct bk_invoice_filter {
    const char *client_public_id; /* NULL: any */
    int status;                   /* -1: any */
    int64_t from_utc, to_utc;     /* issued in [from, to) */
    int64_t before_id;            /* 0: from the newest; else id < before */
    int limit;
};
/* Newest first. */
BK_MUST_CHECK enum bk_err
bk_store_invoice_list(struct bk_tx *tx, const struct bk_invoice_filter *f,
                      struct bk_arena *arena, struct bk_invoice **out,
                      size_t *n, struct bk_errbuf *err);

/* A client's figures for the admin (api/clients.c): currency NULL is the
 * count of its completed bookings (sessions); otherwise value is what its
 * paid invoices in that currency brought, net of refunds (minor units). */
struct bk_client_stat {
    int64_t client_id;
    const char *currency;
    int64_t value;
};
/* The figures of the clients whose ids are in [min_id, max_id], by client
 * id (at most DB_MAX_ROWS rows). Strings in arena. */
BK_MUST_CHECK enum bk_err
bk_store_client_stats(struct bk_tx *tx, int64_t min_id, int64_t max_id,
                      struct bk_arena *arena, struct bk_client_stat **out,
                      size_t *n, struct bk_errbuf *err);

/* ---- Packages of sessions (packages.c, api/packages.c) ----------------- */

/* Inserts p with its event types (ids). BK_E_DUPLICATE for a taken slug. */
BK_MUST_CHECK enum bk_err bk_store_package_insert(struct bk_tx *tx,
                                                  const struct bk_package *p,
                                                  int64_t *id,
                                                  struct bk_errbuf *err);
/* Packages (only the active ones when active_only; slug: only that one,
 * NULL: all) with ids above after_id, oldest first, at most limit, with
 * their event types' slugs. */
BK_MUST_CHECK enum bk_err
bk_store_package_list(struct bk_tx *tx, bool active_only, const char *slug,
                      int64_t after_id, int limit, struct bk_arena *arena,
                      struct bk_package **out, size_t *n,
                      struct bk_errbuf *err);

/* ---- Package purchases and credits (packages.c, ledger/packages.c) ---- */

/* Inserts p (p->id ignored); *id receives the new row's id. */
BK_MUST_CHECK enum bk_err
bk_store_purchase_insert(struct bk_tx *tx, const struct bk_package_purchase *p,
                         int64_t *id, struct bk_errbuf *err);
/* Writes every mutable field of purchase p->id (status, session, payment
 * intent, error, invoice, paid and expiry times, updated_utc). */
BK_MUST_CHECK enum bk_err
bk_store_purchase_update(struct bk_tx *tx, const struct bk_package_purchase *p,
                         struct bk_errbuf *err);
/* The purchase uid, or by id when uid is NULL (BK_E_NOT_FOUND). */
BK_MUST_CHECK enum bk_err bk_store_purchase_get(struct bk_tx *tx,
                                                const char *uid, int64_t id,
                                                struct bk_arena *arena,
                                                struct bk_package_purchase *out,
                                                struct bk_errbuf *err);
/* Locks purchase id's row until the end of tx (as bk_store_booking_lock). */
BK_MUST_CHECK enum bk_err bk_store_purchase_lock(struct bk_tx *tx, int64_t id,
                                                 struct bk_errbuf *err);
/* Inserts n available credits of purchase_id for client_id, valid until
 * expires_utc (exclusive). */
BK_MUST_CHECK enum bk_err
bk_store_credit_grant(struct bk_tx *tx, int64_t purchase_id, int64_t client_id,
                      int n, int64_t expires_utc, int64_t now_utc,
                      struct bk_errbuf *err);
/* Takes one available credit of purchase_id not expired at now_utc for
 * booking_id (the one that expires first): a conditional UPDATE, so of
 * concurrent takers of the last credit exactly one gets it. *credit_id
 * receives it; BK_E_NOT_FOUND (err untouched) when none is left. */
BK_MUST_CHECK enum bk_err
bk_store_credit_take(struct bk_tx *tx, int64_t purchase_id, int64_t booking_id,
                     int64_t now_utc, int64_t *credit_id,
                     struct bk_errbuf *err);
/* The credit used by booking_id: its id, purchase and expiry
 * (BK_E_NOT_FOUND, err untouched, when it used none). */
BK_MUST_CHECK enum bk_err
bk_store_credit_of_booking(struct bk_tx *tx, int64_t booking_id,
                           int64_t *credit_id, int64_t *purchase_id,
                           int64_t *expires_utc, struct bk_errbuf *err);
/* Gives credit_id back (available, no booking), or marks it expired when
 * its expiry has passed at now_utc. */
BK_MUST_CHECK enum bk_err bk_store_credit_return(struct bk_tx *tx,
                                                 int64_t credit_id,
                                                 int64_t now_utc,
                                                 struct bk_errbuf *err);
/* Marks every available credit whose expiry is at or before now_utc
 * expired; *n receives how many, *left (may be NULL) how many available
 * credits remain (all of them later). */
BK_MUST_CHECK enum bk_err bk_store_credit_expire(struct bk_tx *tx,
                                                 int64_t now_utc, int *n,
                                                 int *left,
                                                 struct bk_errbuf *err);
/* Marks the available credits of purchase_id expired (a refunded
 * purchase). */
BK_MUST_CHECK enum bk_err
bk_store_credit_expire_purchase(struct bk_tx *tx, int64_t purchase_id,
                                int64_t now_utc, struct bk_errbuf *err);
/* The paid purchases of client_id with their credits counted at now_utc,
 * newest first (at most DB_MAX_ROWS). */
BK_MUST_CHECK enum bk_err
bk_store_credit_summary(struct bk_tx *tx, int64_t client_id, int64_t now_utc,
                        struct bk_arena *arena, struct bk_credit_summary **out,
                        size_t *n, struct bk_errbuf *err);

/* ---- Admin sessions (sessions.c, api/session.c) ----------------------- */

/* A signed-in browser. token_sha256 is the lowercase hex SHA-256 of the
 * cookie's token (64 characters); the token itself is never stored. */
struct bk_admin_session {
    int64_t id;
    const char *token_sha256;
    const char *user_name; /* "admin" for the admin key */
    int64_t created_utc;   /* UTC seconds */
    int64_t last_seen_utc;
    int64_t expires_utc; /* not valid from this second on */
};

/* Inserts s (s->id ignored); *id (may be NULL) receives the new row's id.
 * BK_E_DUPLICATE when the token hash exists. */
BK_MUST_CHECK enum bk_err
bk_store_admin_session_insert(struct bk_tx *tx,
                              const struct bk_admin_session *s, int64_t *id,
                              struct bk_errbuf *err);
/* The session whose token hash is token_sha256, expired or not (the caller
 * compares expires_utc with its clock); BK_E_NOT_FOUND when none. */
BK_MUST_CHECK enum bk_err
bk_store_admin_session_get(struct bk_tx *tx, const char *token_sha256,
                           struct bk_arena *arena, struct bk_admin_session *out,
                           struct bk_errbuf *err);
/* Sets last_seen_utc and expires_utc of session id (sliding expiry);
 * BK_E_NOT_FOUND when it was deleted meanwhile. */
BK_MUST_CHECK enum bk_err bk_store_admin_session_touch(struct bk_tx *tx,
                                                       int64_t id,
                                                       int64_t last_seen_utc,
                                                       int64_t expires_utc,
                                                       struct bk_errbuf *err);
/* Deletes the session whose token hash is token_sha256; *n (may be NULL)
 * gets 1, or 0 when there was none. */
BK_MUST_CHECK enum bk_err
bk_store_admin_session_delete(struct bk_tx *tx, const char *token_sha256,
                              int *n, struct bk_errbuf *err);
/* Deletes the sessions that expired at or before now_utc; *n (may be NULL)
 * gets how many. */
BK_MUST_CHECK enum bk_err bk_store_admin_session_prune(struct bk_tx *tx,
                                                       int64_t now_utc, int *n,
                                                       struct bk_errbuf *err);

/* ---- Metrics (ledger/metrics.c) ----------------------------------------- */

/* The most rows one metrics read returns: BK_E_TOO_LARGE beyond. */
#define BK_METRICS_MAX_ROWS 500000

struct bk_metric_booking {
    int64_t start_utc;
    int status; /* enum bk_booking_status */
    int64_t client_id;
};

struct bk_metric_money {
    bool refund; /* REFUND_ISSUED; else PAYMENT_COMPLETED */
    /* PACKAGE_PURCHASED (credits sold: detail's sessions) or CREDIT_USED
     * (one credit used): counted, not money. */
    bool credits_sold, credit_used;
    int64_t at_utc;
    const char *detail; /* the activity's JSON detail; may be NULL */
};

/* Bookings starting in [from_utc, to_utc), clients created in it (their
 * created_utc), and the payment and refund activity in it. Arrays in
 * arena. */
BK_MUST_CHECK enum bk_err bk_store_metrics_bookings(
    struct bk_tx *tx, int64_t from_utc, int64_t to_utc, struct bk_arena *arena,
    struct bk_metric_booking **out, size_t *n, struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err
bk_store_metrics_clients(struct bk_tx *tx, int64_t from_utc, int64_t to_utc,
                         struct bk_arena *arena, int64_t **created_utc,
                         size_t *n, struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err
bk_store_metrics_money(struct bk_tx *tx, int64_t from_utc, int64_t to_utc,
                       struct bk_arena *arena, struct bk_metric_money **out,
                       size_t *n, struct bk_errbuf *err);

/* ---- Inbox (webhook deliveries) ---------------------------------------- */

/* Inserts d unless (provider, delivery_key) exists; either way *id is the
 * row's id and *existed tells which. d->id, attempts and next_attempt_ms
 * are ignored. */
BK_MUST_CHECK enum bk_err bk_store_delivery_insert(struct bk_tx *tx,
                                                   const struct bk_delivery *d,
                                                   int64_t *id, bool *existed,
                                                   struct bk_errbuf *err);
/* Sets status, error (may be NULL), processed_ms and job_id. */
BK_MUST_CHECK enum bk_err
bk_store_delivery_set_status(struct bk_tx *tx, int64_t id,
                             enum bk_delivery_status status, const char *error,
                             int64_t processed_ms, int64_t job_id,
                             struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_delivery_get(struct bk_tx *tx, int64_t id,
                                                struct bk_arena *arena,
                                                struct bk_delivery *out,
                                                struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err
bk_store_delivery_by_public_id(struct bk_tx *tx, const char *public_id,
                               struct bk_arena *arena, struct bk_delivery *out,
                               struct bk_errbuf *err);
/* Newest first: id < before_id (0 = from the newest); provider NULL = any,
 * status -1 = any. Payloads and normalized events are not loaded (payload
 * and normalized NULL, payload_len set). */
BK_MUST_CHECK enum bk_err
bk_store_delivery_list(struct bk_tx *tx, const char *provider, int status,
                       int64_t before_id, int limit, struct bk_arena *arena,
                       struct bk_delivery **out, size_t *n,
                       struct bk_errbuf *err);

/* Makes the other deliveries about the same subject run again now: those
 * waiting for a retry are due at once, dead ones (failed after their job ran
 * out of attempts) get their job back with attempts reset and become
 * received. except_id (0 = none) is left alone; deliveries that failed on
 * arrival (no job) and running ones are not touched. *n (may be NULL) is
 * the number of deliveries woken. */
BK_MUST_CHECK enum bk_err
bk_store_delivery_wake(struct bk_tx *tx, const char *provider,
                       const char *subject, int64_t except_id, int64_t now_ms,
                       int *n, struct bk_errbuf *err);

/* ---- Jobs (the queue behind the inbox and the outbox) ------------------ */

/* Enqueues a pending job unless one with the same dedupe_key exists; *id is
 * the row's id either way and *existed tells which. */
BK_MUST_CHECK enum bk_err
bk_store_job_enqueue(struct bk_tx *tx, const char *kind, const char *dedupe_key,
                     const char *payload, int64_t run_at_ms, int max_attempts,
                     int64_t now_ms, int64_t *id, bool *existed,
                     struct bk_errbuf *err);
/* Claims the job that is due first: pending with run_at_ms <= now_ms, or
 * running with an expired lease (its worker died). The job becomes running,
 * attempts + 1, lease_until_ms = now_ms + lease_ms, lease_token = token.
 * BK_E_NOT_FOUND when nothing is due. Needs a write transaction. */
BK_MUST_CHECK enum bk_err bk_store_job_claim(struct bk_tx *tx, int64_t now_ms,
                                             int64_t lease_ms, int64_t token,
                                             struct bk_arena *arena,
                                             struct bk_job *out,
                                             struct bk_errbuf *err);
/* The most jobs one claim takes (bk_store_job_claim_batch). */
#define BK_STORE_CLAIM_MAX 64
/* Claims up to max (1..BK_STORE_CLAIM_MAX) due jobs in one statement, as
 * bk_store_job_claim claims one, all under the same token and lease;
 * *out (in arena) gets them in due order, *n how many. On PostgreSQL
 * concurrent claims (any instance) skip each other's rows. BK_E_NOT_FOUND
 * when nothing is due. Needs a write or queue transaction. */
BK_MUST_CHECK enum bk_err
bk_store_job_claim_batch(struct bk_tx *tx, int64_t now_ms, int64_t lease_ms,
                         int64_t token, int max, struct bk_arena *arena,
                         struct bk_job **out, size_t *n, struct bk_errbuf *err);
/* Gives back a claimed job that was not started: pending again, due as
 * it was, its attempt uncounted. BK_E_STALE when the job is not running
 * under token. */
BK_MUST_CHECK enum bk_err bk_store_job_release(struct bk_tx *tx, int64_t id,
                                               int64_t token, int64_t now_ms,
                                               struct bk_errbuf *err);
/* Extends a running job's lease to now_ms + lease_ms (wall-clock ms, the
 * database's shared timeline). BK_E_STALE when the job is not running
 * under token: the lease was lost and another worker may hold it. Needs a
 * write or queue transaction. */
BK_MUST_CHECK enum bk_err bk_store_job_renew(struct bk_tx *tx, int64_t id,
                                             int64_t token, int64_t now_ms,
                                             int64_t lease_ms,
                                             struct bk_errbuf *err);
/* Moves the times of pending and running jobs last written after now_ms
 * (in the future: written before the caller's wall clock stepped back by
 * -delta_ms) by delta_ms: due times, leases and the written time, so that
 * a backward step does not delay them. *changed receives the rows moved.
 * Needs a write or queue transaction. */
BK_MUST_CHECK enum bk_err bk_store_job_shift(struct bk_tx *tx, int64_t now_ms,
                                             int64_t delta_ms, int *changed,
                                             struct bk_errbuf *err);
/* Marks the job done. BK_E_STALE when the job is not running under token
 * (its lease was lost): the caller must roll back. */
BK_MUST_CHECK enum bk_err bk_store_job_complete(struct bk_tx *tx, int64_t id,
                                                int64_t token, int64_t now_ms,
                                                struct bk_errbuf *err);
/* Records a failed attempt: pending again at run_at_ms, or dead when
 * dead is true. BK_E_STALE as above. */
BK_MUST_CHECK enum bk_err bk_store_job_fail(struct bk_tx *tx, int64_t id,
                                            int64_t token, bool dead,
                                            int64_t run_at_ms,
                                            const char *error, int64_t now_ms,
                                            struct bk_errbuf *err);
/* Makes the job pending again at run_at_ms without counting the attempt
 * it was on (attempts - 1), recording error: a failure that was the
 * store's, not the job's, or an attempt a provider's rate limit or open
 * circuit breaker refused before anything was sent (jobs.c). BK_E_STALE as
 * above. */
BK_MUST_CHECK enum bk_err
bk_store_job_postpone(struct bk_tx *tx, int64_t id, int64_t token,
                      int64_t run_at_ms, const char *error, int64_t now_ms,
                      struct bk_errbuf *err);
/* Makes the job pending now with attempts reset to 0 (an admin's replay).
 * BK_E_CONFLICT while it is running. */
BK_MUST_CHECK enum bk_err bk_store_job_requeue(struct bk_tx *tx, int64_t id,
                                               int64_t now_ms,
                                               struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_job_get(struct bk_tx *tx, int64_t id,
                                           struct bk_arena *arena,
                                           struct bk_job *out,
                                           struct bk_errbuf *err);
/* The earliest run_at_ms of a pending job or lease_until_ms of a running
 * one; BK_E_NOT_FOUND when the queue is idle. */
BK_MUST_CHECK enum bk_err
bk_store_job_next_due(struct bk_tx *tx, int64_t *due_ms, struct bk_errbuf *err);
/* Makes every running job pending again, due at now_ms (the attempt it was
 * on still counts); *n (may be NULL) gets how many. Only for a process that
 * owns the database alone (SQLite), at start: the jobs its previous run
 * held when it died are taken back at once instead of after their lease. */
BK_MUST_CHECK enum bk_err bk_store_job_reclaim(struct bk_tx *tx, int64_t now_ms,
                                               int *n, struct bk_errbuf *err);
/* ---- Outbound webhooks (outbox.c) -------------------------------------- */

/* A receiver of outbound webhooks (Standard Webhooks). events: a JSON
 * array of event names or ["*"]. secret: "whsec_" + base64, stored as
 * is. */
enum bk_wh_endpoint_status {
    BK_WH_ENDPOINT_ENABLED = 0,
    BK_WH_ENDPOINT_DISABLED = 1,
};
/* The associated data binding an endpoint's sealed secret to its row
 * (crypto.h, bk_secret_seal): "webhook_endpoint:<public_id>:secret". */
#define BK_WH_SECRET_AAD "webhook_endpoint:%s:secret"
struct bk_wh_endpoint {
    int64_t id;
    const char *public_id; /* "ep_..." */
    const char *url;
    const char *events;
    const char *description; /* may be NULL */
    const char *secret;      /* "whsec_..." (plaintext, written without
                                BOOKINGD_SECRET_KEY) or sealed ("bk1:...") */
    enum bk_wh_endpoint_status status;
    const char *disabled_reason; /* NULL while enabled */
    int64_t failing_since_ms;    /* 0: not failing */
    int64_t created_ms, updated_ms;
};

/* One message: an event for one endpoint. */
enum bk_wh_message_status {
    BK_WH_MESSAGE_PENDING = 0,
    BK_WH_MESSAGE_DELIVERED = 1,
    BK_WH_MESSAGE_FAILED = 2,
};
struct bk_wh_message {
    int64_t id;
    const char *public_id; /* "msg_...": the webhook-id header */
    int64_t endpoint_id;
    const char *event_type; /* "booking.created" */
    const char *subject;    /* "booking:12": orders one resource's messages */
    int64_t activity_id;    /* the ledger event; unique per endpoint */
    const char *body;       /* the JSON sent, signed as is */
    int64_t timestamp_s;    /* webhook-timestamp */
    enum bk_wh_message_status status;
    int attempts;
    int last_status_code; /* 0: no HTTP answer */
    int64_t last_duration_ms;
    const char *last_error;
    int64_t job_id; /* 0: none */
    int64_t created_ms, updated_ms, delivered_ms;
    /* From the job, filled on reads: */
    int64_t next_attempt_ms; /* 0: none */
};

/* Inserts ep (id ignored) and sets *id. */
BK_MUST_CHECK enum bk_err
bk_store_wh_endpoint_insert(struct bk_tx *tx, const struct bk_wh_endpoint *ep,
                            int64_t *id, struct bk_errbuf *err);
/* By public id (public_id != NULL) or by id. BK_E_NOT_FOUND. */
BK_MUST_CHECK enum bk_err
bk_store_wh_endpoint_get(struct bk_tx *tx, const char *public_id, int64_t id,
                         struct bk_arena *arena, struct bk_wh_endpoint *out,
                         struct bk_errbuf *err);
/* Ascending id after page->after_id (page NULL: all, up to 501);
 * enabled_only: only enabled endpoints. */
BK_MUST_CHECK enum bk_err
bk_store_wh_endpoint_list(struct bk_tx *tx, const struct bk_page *page,
                          bool enabled_only, struct bk_arena *arena,
                          struct bk_wh_endpoint **out, size_t *n,
                          struct bk_errbuf *err);
/* Writes url, events, description, status, disabled_reason,
 * failing_since_ms and updated_ms of ep->id. BK_E_NOT_FOUND. */
BK_MUST_CHECK enum bk_err
bk_store_wh_endpoint_update(struct bk_tx *tx, const struct bk_wh_endpoint *ep,
                            struct bk_errbuf *err);
/* Deletes the endpoint and its messages. BK_E_NOT_FOUND. */
BK_MUST_CHECK enum bk_err bk_store_wh_endpoint_delete(struct bk_tx *tx,
                                                      int64_t id,
                                                      struct bk_errbuf *err);

/* Inserts m unless the endpoint has a message of the same activity
 * (*existed then, and *id is that one's). */
BK_MUST_CHECK enum bk_err
bk_store_wh_message_insert(struct bk_tx *tx, const struct bk_wh_message *m,
                           int64_t *id, bool *existed, struct bk_errbuf *err);
/* By public id (public_id != NULL) or by id. BK_E_NOT_FOUND. */
BK_MUST_CHECK enum bk_err
bk_store_wh_message_get(struct bk_tx *tx, const char *public_id, int64_t id,
                        struct bk_arena *arena, struct bk_wh_message *out,
                        struct bk_errbuf *err);
/* The endpoint's messages newest first, id below before_id (0: from the
 * newest), at most limit (ask one more for a next page); without bodies. */
BK_MUST_CHECK enum bk_err
bk_store_wh_message_list(struct bk_tx *tx, int64_t endpoint_id,
                         int64_t before_id, int limit, struct bk_arena *arena,
                         struct bk_wh_message **out, size_t *n,
                         struct bk_errbuf *err);
/* Records an attempt's outcome: status, attempts, last_* and job_id of
 * m->id, updated_ms and delivered_ms. */
BK_MUST_CHECK enum bk_err
bk_store_wh_message_record(struct bk_tx *tx, const struct bk_wh_message *m,
                           struct bk_errbuf *err);
/* One delivery attempt of a message (webhook_attempts). */
struct bk_wh_attempt {
    int64_t id;
    int64_t message_id;
    int attempt;         /* 1, 2, ...: the job's attempt number */
    int64_t at_ms;       /* when the answer (or the failure) came */
    int status_code;     /* 0: no HTTP answer */
    int64_t duration_ms; /* the request, connect to answer */
    const char *error;   /* NULL for a 2xx */
};

/* Appends a (id ignored) to its message's attempts. BK_E_NOT_FOUND when
 * the message is gone (its endpoint deleted). */
BK_MUST_CHECK enum bk_err
bk_store_wh_attempt_insert(struct bk_tx *tx, const struct bk_wh_attempt *a,
                           struct bk_errbuf *err);
/* The attempts of the endpoint's messages whose ids are in
 * [min_message_id, max_message_id], by message then in order, at most
 * BK_WH_ATTEMPTS_LIST_MAX (the oldest first; a message with more attempts
 * than that is cut). Rows in arena. */
#define BK_WH_ATTEMPTS_LIST_MAX 5000
BK_MUST_CHECK enum bk_err
bk_store_wh_attempt_list(struct bk_tx *tx, int64_t endpoint_id,
                         int64_t min_message_id, int64_t max_message_id,
                         struct bk_arena *arena, struct bk_wh_attempt **out,
                         size_t *n, struct bk_errbuf *err);
/* The oldest pending message of the endpoint and subject older than
 * before_id: *found and its public id (in arena). Keeps one resource's
 * messages in order. */
BK_MUST_CHECK enum bk_err
bk_store_wh_message_earlier(struct bk_tx *tx, int64_t endpoint_id,
                            const char *subject, int64_t before_id,
                            struct bk_arena *arena, bool *found,
                            const char **public_id, struct bk_errbuf *err);
/* Counts messages by status (pending, delivered, failed), for metrics. */
BK_MUST_CHECK enum bk_err bk_store_wh_message_counts(struct bk_tx *tx,
                                                     int64_t counts[3],
                                                     struct bk_errbuf *err);
/* Marks every pending message of the endpoint failed with error (the
 * endpoint was disabled); their jobs finish on their next run. */
BK_MUST_CHECK enum bk_err
bk_store_wh_message_fail_pending(struct bk_tx *tx, int64_t endpoint_id,
                                 const char *error, int64_t now_ms,
                                 struct bk_errbuf *err);

/* ---- Job notifications (several instances on one database) ---------- */

/* Tells the workers of every instance on the database, when tx commits,
 * that jobs may have become due (or due sooner): bk_store_job_enqueue (of
 * a new job), _requeue, _release, _fail with a retry and
 * bk_store_delivery_wake call it themselves. Nothing is sent before the
 * commit, nor after a rollback, and one transaction sends at most one
 * notification however often it is called. A no-op on SQLite, where one
 * process owns the database and wakes its own workers (bk_jobs_wake). */
void bk_store_job_notify(struct bk_tx *tx);

/* Hears the notifications of bk_store_job_notify, from every instance
 * (this one included), on a connection of its own, outside the pool.
 * BK_E_UNAVAILABLE when the database has no other process to hear from
 * (SQLite): then nobody needs to listen. BK_E_IO when the database cannot
 * be reached. Returns an owned listener; free with
 * bk_store_listener_free. A listener belongs to one thread. */
struct bk_store_listener;
BK_MUST_CHECK enum bk_err bk_store_job_listen(struct bk_store *store,
                                              struct bk_store_listener **out,
                                              struct bk_errbuf *err);
/* Waits up to timeout_ms for notifications, or until wake_fd (-1: none)
 * becomes readable (the caller drains it); *n gets how many arrived (0
 * after a time-out or a wake). BK_E_IO when the connection was lost: free
 * the listener and open another, and wake the workers, since what was
 * committed meanwhile was not heard. */
BK_MUST_CHECK enum bk_err bk_store_listener_wait(struct bk_store_listener *l,
                                                 int wake_fd, int timeout_ms,
                                                 int *n, struct bk_errbuf *err);
/* Closes the listener's connection. NULL is a no-op. */
void bk_store_listener_free(struct bk_store_listener *l);

/* Deletes up to limit (1..10000) done jobs last updated (completed)
 * before done_before_ms, oldest ids first; *n gets how many. Pending,
 * running and dead jobs are never deleted. A delivery whose job is deleted
 * keeps its status and loses its job (job_id NULL: no attempts to show);
 * a replay gives it a new job. Needs a write or queue transaction. */
BK_MUST_CHECK enum bk_err bk_store_job_prune(struct bk_tx *tx,
                                             int64_t done_before_ms, int limit,
                                             int *n, struct bk_errbuf *err);
/* Lists jobs newest first (id below before_id; 0: from the newest), at most
 * limit (1..501; ask for one more to learn whether a next page exists).
 * kind: only that kind (NULL: all). status: -1 all, else a bk_job_status.
 * retried: -1 either, 0 only jobs with no attempt yet, 1 only jobs with at
 * least one (a pending job with attempts is one being retried). Rows and
 * their strings are in arena. */
BK_MUST_CHECK enum bk_err
bk_store_job_list(struct bk_tx *tx, const char *kind, int status, int retried,
                  int64_t before_id, int limit, struct bk_arena *arena,
                  struct bk_job **out, size_t *n, struct bk_errbuf *err);

/* Whether a job of kind with an id below id is pending or running (a
 * kind whose jobs must run one after another in the order enqueued). */
BK_MUST_CHECK enum bk_err bk_store_job_earlier(struct bk_tx *tx,
                                               const char *kind, int64_t id,
                                               bool *found,
                                               struct bk_errbuf *err);

/* The job with dedupe_key: *found and *id. */
BK_MUST_CHECK enum bk_err bk_store_job_find_key(struct bk_tx *tx,
                                                const char *dedupe_key,
                                                int64_t *id, bool *found,
                                                struct bk_errbuf *err);

/* Ends, as done with `reason` as its last error, every pending job of
 * kind whose dedupe key starts with key_prefix (jobs a change made
 * pointless: a cancelled booking's reminders). Running ones are left to
 * finish. *n (may be NULL) gets how many. */
BK_MUST_CHECK enum bk_err bk_store_job_drop(struct bk_tx *tx, const char *kind,
                                            const char *key_prefix,
                                            const char *reason, int64_t now_ms,
                                            int *n, struct bk_errbuf *err);

/* One row of bk_store_job_counts_by_kind. */
struct bk_job_count {
    const char *kind;
    enum bk_job_status status;
    bool retrying; /* pending with at least one attempt */
    int64_t n;
};
/* Counts jobs by kind and status (pending split into queued and
 * retrying), ordered by kind; *out in arena. For metrics. */
BK_MUST_CHECK enum bk_err bk_store_job_counts_by_kind(struct bk_tx *tx,
                                                      struct bk_arena *arena,
                                                      struct bk_job_count **out,
                                                      size_t *n,
                                                      struct bk_errbuf *err);
/* Counts jobs by status (pending, running, done, dead), for metrics. */
BK_MUST_CHECK enum bk_err
bk_store_job_counts(struct bk_tx *tx, int64_t counts[4], struct bk_errbuf *err);

/* ---- Calendar connections (docs/calendars.md) ------------------------- */

enum bk_cal_status {
    BK_CAL_ACTIVE = 0,
    BK_CAL_ERROR = 1,      /* the last push or sync failed: last_error */
    BK_CAL_NEEDS_AUTH = 2, /* the server refused the credentials */
};

/* One host's account at a calendar server. */
struct bk_cal_connection {
    int64_t id;
    const char *public_id; /* "cal_..." */
    int64_t host_id;
    const char *kind;       /* "caldav" */
    const char *url;        /* as given at creation */
    const char *username;   /* may be NULL */
    const char *credential; /* sealed (crypto/crypto.h); never shown */
    const char *calendars;  /* JSON array text: [{href, name, busy, write}] */
    enum bk_cal_status status;
    int on_cancel;        /* 0 delete the event, 1 keep it STATUS:CANCELLED */
    int64_t last_sync_ms; /* 0: never */
    const char *last_error;
    int64_t created_ms, updated_ms;
    int on_calendar_delete;        /* 0 cancel the booking, 1 flag it (ask) */
    const char *last_sync_summary; /* JSON text; NULL: never */
    int64_t last_reconcile_ms;     /* 0: never */
    const char *last_reconcile_summary; /* JSON text; NULL: never */
};

/* Inserts c; *id gets its row id. BK_E_NOT_FOUND for a missing host. */
BK_MUST_CHECK enum bk_err bk_store_cal_insert(struct bk_tx *tx,
                                              const struct bk_cal_connection *c,
                                              int64_t *id,
                                              struct bk_errbuf *err);
/* By public id, or by row id when public_id is NULL. */
BK_MUST_CHECK enum bk_err bk_store_cal_get(struct bk_tx *tx,
                                           const char *public_id, int64_t id,
                                           struct bk_arena *arena,
                                           struct bk_cal_connection *out,
                                           struct bk_errbuf *err);
/* A host's connections (host_id 0: every host's), oldest first: one page,
 * or (page NULL) at most DB_MAX_ROWS. */
BK_MUST_CHECK enum bk_err
bk_store_cal_list_host(struct bk_tx *tx, int64_t host_id,
                       const struct bk_page *page, struct bk_arena *arena,
                       struct bk_cal_connection **out, size_t *n,
                       struct bk_errbuf *err);
/* Writes calendars, credential, status, on_cancel, last_sync_ms,
 * last_error and updated_ms of c->id. */
BK_MUST_CHECK enum bk_err bk_store_cal_update(struct bk_tx *tx,
                                              const struct bk_cal_connection *c,
                                              struct bk_errbuf *err);
/* Records the JSON summary of the connection's last sync (reconcile
 * false) or its last reconcile and its time at_ms (reconcile true). */
BK_MUST_CHECK enum bk_err bk_store_cal_set_summary(struct bk_tx *tx, int64_t id,
                                                   bool reconcile,
                                                   const char *summary,
                                                   int64_t at_ms,
                                                   struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_cal_delete(struct bk_tx *tx, int64_t id,
                                              struct bk_errbuf *err);

/* One stored instance of a calendar's busy event. */
struct bk_cal_busy {
    int64_t connection_id;
    int64_t host_id;
    const char *calendar; /* the collection's URL */
    const char *href;     /* the event resource's URL */
    const char *uid;      /* may be NULL */
    int64_t start_utc, end_utc;
};

/* The host's calendar busy time overlapping [from_utc, to_utc), ordered by
 * start (at most DB_MAX_ROWS intervals), as the availability engine reads
 * it (struct bk_interval, core/availability.h). */
struct bk_interval;
BK_MUST_CHECK enum bk_err bk_store_cal_busy(struct bk_tx *tx, int64_t host_id,
                                            int64_t from_utc, int64_t to_utc,
                                            struct bk_arena *arena,
                                            struct bk_interval **out, size_t *n,
                                            struct bk_errbuf *err);
/* Deletes the rows of one calendar of a connection (calendar NULL: of all
 * its calendars). */
BK_MUST_CHECK enum bk_err bk_store_cal_busy_clear(struct bk_tx *tx,
                                                  int64_t connection_id,
                                                  const char *calendar,
                                                  struct bk_errbuf *err);
/* Deletes the rows of one event (href) of a calendar; *n the rows
 * deleted. */
BK_MUST_CHECK enum bk_err bk_store_cal_busy_clear_href(struct bk_tx *tx,
                                                       int64_t connection_id,
                                                       const char *calendar,
                                                       const char *href, int *n,
                                                       struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_store_cal_busy_add(struct bk_tx *tx,
                                                const struct bk_cal_busy *b,
                                                struct bk_errbuf *err);
/* The rows of one calendar of a connection, by href then start. */
BK_MUST_CHECK enum bk_err
bk_store_cal_busy_list(struct bk_tx *tx, int64_t connection_id,
                       const char *calendar, struct bk_arena *arena,
                       struct bk_cal_busy **out, size_t *n,
                       struct bk_errbuf *err);

#endif
