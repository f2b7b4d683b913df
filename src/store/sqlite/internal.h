/* store/sqlite/internal.h — what the files of the SQLite backend share:
 * the pool and transaction structs, the statement cache, binding and column
 * helpers, error mapping, and the per-area functions the dispatch table in
 * sqlite.c points at. Nothing here leaves src/store/sqlite/. */
#ifndef BK_STORE_SQLITE_INTERNAL_H
#define BK_STORE_SQLITE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/backend.h"

/* Every cached statement has one name. Each is prepared at exactly one call
 * site (sq_prepare checks that the SQL text is always the same). */
enum sq_stmt {
    SQ_META_GET,
    SQ_META_PUT,
    SQ_HOST_INSERT,
    SQ_HOST_UPDATE,
    SQ_HOST_DELETE,
    SQ_HOST_REFS,
    SQ_HOST_GET,
    SQ_HOST_BY_SLUG,
    SQ_HOST_BY_EMAIL,
    SQ_HOST_LIST,
    SQ_HOST_EXISTS,
    SQ_SCHEDULE_UPSERT,
    SQ_SCHEDULE_CLEAR_WEEKLY,
    SQ_SCHEDULE_CLEAR_OVERRIDES,
    SQ_SCHEDULE_ADD_WEEKLY,
    SQ_SCHEDULE_ADD_OVERRIDE,
    SQ_SCHEDULE_GET,
    SQ_SCHEDULE_WEEKLY,
    SQ_SCHEDULE_OVERRIDES,
    SQ_EVENT_TYPE_INSERT,
    SQ_EVENT_TYPE_UPDATE,
    SQ_EVENT_TYPE_DELETE,
    SQ_EVENT_TYPE_REFS,
    SQ_EVENT_TYPE_GET,
    SQ_EVENT_TYPE_BY_SLUG,
    SQ_EVENT_TYPE_BY_CALCOM,
    SQ_EVENT_TYPE_LIST,
    SQ_CLIENT_INSERT,
    SQ_CLIENT_UPDATE,
    SQ_CLIENT_GET,
    SQ_CLIENT_BY_PUBLIC_ID,
    SQ_CLIENT_BY_EMAIL,
    SQ_CLIENT_LIST,
    SQ_BOOKING_INSERT,
    SQ_BOOKING_UPDATE,
    SQ_BOOKING_GET,
    SQ_BOOKING_BY_UID,
    SQ_BOOKING_LIST,
    SQ_BOOKING_BUSY,
    SQ_HISTORY_APPEND,
    SQ_HISTORY_LIST,
    SQ_LINK_INSERT,
    SQ_LINK_UPDATE,
    SQ_LINK_FIND,
    SQ_LINK_LIST,
    SQ_ACTIVITY_APPEND,
    SQ_ACTIVITY_LIST,
    SQ_ACTIVITY_LIST_KIND,
    SQ_ACTIVITY_LIST_BOOKING,
    SQ_DELIVERY_INSERT,
    SQ_DELIVERY_FIND_KEY,
    SQ_DELIVERY_SET_STATUS,
    SQ_DELIVERY_GET,
    SQ_DELIVERY_BY_PUBLIC_ID,
    SQ_DELIVERY_LIST,
    SQ_DELIVERY_LIST_PROVIDER,
    SQ_DELIVERY_WAKE_DUE,
    SQ_DELIVERY_WAKE_DEAD_JOBS,
    SQ_DELIVERY_WAKE_DEAD,
    SQ_JOB_ENQUEUE,
    SQ_JOB_FIND_KEY,
    SQ_JOB_CLAIM,
    SQ_JOB_COMPLETE,
    SQ_JOB_FAIL,
    SQ_JOB_REQUEUE,
    SQ_JOB_STATUS,
    SQ_JOB_GET,
    SQ_JOB_NEXT_DUE,
    SQ_JOB_COUNTS,
    SQ_STMT_COUNT
};

/* One pooled connection, used by one thread at a time. */
struct sq_conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[SQ_STMT_COUNT];
    const char *sql[SQ_STMT_COUNT]; /* the text each was prepared from */
    int bind_rc;                    /* first failed bind since the last step */
};

/* The store: a pool of connections and the in-process write lock. */
struct sq_store {
    struct bk_store base;
    char *path;
    int pool_size;
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* a connection came back, or the writer left */
    struct sq_conn **idle; /* pool_size slots, n_idle used */
    int n_idle;
    int n_open;   /* connections open or being opened, idle or in use */
    bool writing; /* a write transaction or a migration step is open */
};

/* A transaction: one connection, and the write lock when mode is WRITE. */
struct sq_tx {
    struct bk_tx base;
    struct sq_store *store;
    struct sq_conn *conn;
    bool broken; /* SQLite rolled the transaction back after an error */
};

/* The largest page any list returns (store.h: limit + 1 of 500). */
#define SQ_MAX_LIMIT 501
/* The most rows history_list and link_list return. */
#define SQ_MAX_ROWS 10000

/* ---- schema.c ---------------------------------------------------------- */

/* The migration scripts: sq_migrations[v] brings version v to v + 1. */
extern const char *const sq_migrations[];
extern const int sq_migration_count;

/* ---- stmt.c ------------------------------------------------------------ */

static inline struct sq_tx *sq_txof(struct bk_tx *t)
{
    return (struct sq_tx *)t;
}

/* Returns the connection's cached statement `id`, preparing `sql` the first
 * time. The statement stays owned by the connection; pass it to sq_reset
 * when done with it (every exit path). */
BK_MUST_CHECK enum bk_err sq_prepare(struct sq_tx *tx, enum sq_stmt id,
                                     const char *sql, sqlite3_stmt **out,
                                     struct bk_errbuf *err);

/* Resets and clears the bindings of st; NULL is a no-op. */
void sq_reset(sqlite3_stmt *st);

/* Steps st once: BK_OK with *row telling whether a row came back, or the
 * mapped error (see sq_error). `what` names the operation for messages
 * ("inserting a host"). */
BK_MUST_CHECK enum bk_err sq_step(struct sq_tx *tx, sqlite3_stmt *st, bool *row,
                                  const char *what, struct bk_errbuf *err);

/* Steps st for the one row a lookup expects: BK_E_NOT_FOUND (err untouched:
 * the caller names the key) when there is none. */
BK_MUST_CHECK enum bk_err sq_one(struct sq_tx *tx, sqlite3_stmt *st,
                                 const char *what, struct bk_errbuf *err);

/* Steps st to its end, expecting no rows; *changes (may be NULL) receives
 * the rows changed. */
BK_MUST_CHECK enum bk_err sq_exec(struct sq_tx *tx, sqlite3_stmt *st,
                                  int *changes, const char *what,
                                  struct bk_errbuf *err);

/* Maps SQLite result code rc of db to a bk_err with a message:
 * BK_E_BUSY for a locked database, BK_E_DUPLICATE for a unique key (the
 * message names it), BK_E_NOT_FOUND for a foreign key whose row does not
 * exist, BK_E_INVALID for a CHECK or NOT NULL violation, BK_E_IO for the
 * rest. */
enum bk_err sq_error(sqlite3 *db, int rc, const char *what,
                     struct bk_errbuf *err);

/* Binders: record the first failure in the connection, which the next
 * sq_step reports. Text NULL binds SQL NULL; sq_bind_opt binds NULL for 0
 * ("none" in ledger.h). */
void sq_bind_text(struct sq_tx *tx, sqlite3_stmt *st, int i, const char *s);
/* Binds the first n bytes of s as text, copied (s need not outlive the
 * call). */
void sq_bind_textn(struct sq_tx *tx, sqlite3_stmt *st, int i, const char *s,
                   size_t n);
void sq_bind_i64(struct sq_tx *tx, sqlite3_stmt *st, int i, int64_t v);
void sq_bind_opt(struct sq_tx *tx, sqlite3_stmt *st, int i, int64_t v);
void sq_bind_blob(struct sq_tx *tx, sqlite3_stmt *st, int i, const void *p,
                  size_t n);

/* Column readers. Text and blobs are copied into arena; SQL NULL becomes
 * NULL (text) or 0 (integers). sq_col_status returns -1 for NULL. */
const char *sq_col_text(sqlite3_stmt *st, int i, struct bk_arena *arena);
int64_t sq_col_i64(sqlite3_stmt *st, int i);
int sq_col_int(sqlite3_stmt *st, int i);
int sq_col_status(sqlite3_stmt *st, int i);

/* Clamps a list limit to 1..SQ_MAX_LIMIT. */
int sq_limit(int limit);

/* Grows an arena array of elements of `size` bytes so that index *n fits;
 * returns the (possibly moved) array. */
void *sq_grow(struct bk_arena *arena, void *arr, size_t n, size_t *cap,
              size_t size);

/* Reads the rows of st into arr, a growing arena array of n elements,
 * calling read(st, arena, &arr[n]) for each; stops at the first error,
 * which it leaves in `e` (a variable of the caller). */
#define SQ_READ_ROWS(tx, st, arena, arr, n, what, err, read)                   \
    do {                                                                       \
        size_t cap_ = 0;                                                       \
        bool row_ = true;                                                      \
        while (e == BK_OK) {                                                   \
            e = sq_step((tx), (st), &row_, (what), (err));                     \
            if (e || !row_)                                                    \
                break;                                                         \
            (arr) = sq_grow((arena), (arr), (n), &cap_, sizeof(*(arr)));       \
            read((st), (arena), &(arr)[(n)]);                                  \
            (n)++;                                                             \
        }                                                                      \
    } while (0)

/* ---- catalog.c: meta, hosts, schedules, event types, clients ---------- */

enum bk_err sq_meta_get(struct bk_tx *tx, const char *key,
                        struct bk_arena *arena, const char **value,
                        struct bk_errbuf *err);
enum bk_err sq_meta_put(struct bk_tx *tx, const char *key, const char *value,
                        struct bk_errbuf *err);
enum bk_err sq_host_insert(struct bk_tx *tx, const struct bk_host *h,
                           int64_t *id, struct bk_errbuf *err);
enum bk_err sq_host_update(struct bk_tx *tx, const struct bk_host *h,
                           struct bk_errbuf *err);
enum bk_err sq_host_delete(struct bk_tx *tx, int64_t id, struct bk_errbuf *err);
enum bk_err sq_host_get(struct bk_tx *tx, int64_t id, struct bk_arena *arena,
                        struct bk_host *out, struct bk_errbuf *err);
enum bk_err sq_host_by_slug(struct bk_tx *tx, const char *slug,
                            struct bk_arena *arena, struct bk_host *out,
                            struct bk_errbuf *err);
enum bk_err sq_host_by_email(struct bk_tx *tx, const char *email,
                             struct bk_arena *arena, struct bk_host *out,
                             struct bk_errbuf *err);
enum bk_err sq_host_list(struct bk_tx *tx, const struct bk_page *page,
                         struct bk_arena *arena, struct bk_host **out,
                         size_t *n, struct bk_errbuf *err);
enum bk_err sq_schedule_put(struct bk_tx *tx, int64_t host_id,
                            const struct bk_schedule *s, int64_t now_utc,
                            struct bk_errbuf *err);
enum bk_err sq_schedule_get(struct bk_tx *tx, int64_t host_id,
                            struct bk_arena *arena, struct bk_schedule *out,
                            struct bk_errbuf *err);
enum bk_err sq_event_type_insert(struct bk_tx *tx,
                                 const struct bk_event_type *et, int64_t *id,
                                 struct bk_errbuf *err);
enum bk_err sq_event_type_update(struct bk_tx *tx,
                                 const struct bk_event_type *et,
                                 struct bk_errbuf *err);
enum bk_err sq_event_type_delete(struct bk_tx *tx, int64_t id,
                                 struct bk_errbuf *err);
enum bk_err sq_event_type_get(struct bk_tx *tx, int64_t id,
                              struct bk_arena *arena, struct bk_event_type *out,
                              struct bk_errbuf *err);
enum bk_err sq_event_type_by_slug(struct bk_tx *tx, const char *slug,
                                  struct bk_arena *arena,
                                  struct bk_event_type *out,
                                  struct bk_errbuf *err);
enum bk_err sq_event_type_by_calcom_id(struct bk_tx *tx, int64_t calcom_id,
                                       struct bk_arena *arena,
                                       struct bk_event_type *out,
                                       struct bk_errbuf *err);
enum bk_err sq_event_type_list(struct bk_tx *tx, int active,
                               const struct bk_page *page,
                               struct bk_arena *arena,
                               struct bk_event_type **out, size_t *n,
                               struct bk_errbuf *err);
enum bk_err sq_client_insert(struct bk_tx *tx, const struct bk_client *c,
                             int64_t *id, struct bk_errbuf *err);
enum bk_err sq_client_update(struct bk_tx *tx, const struct bk_client *c,
                             struct bk_errbuf *err);
enum bk_err sq_client_get(struct bk_tx *tx, int64_t id, struct bk_arena *arena,
                          struct bk_client *out, struct bk_errbuf *err);
enum bk_err sq_client_by_public_id(struct bk_tx *tx, const char *public_id,
                                   struct bk_arena *arena,
                                   struct bk_client *out,
                                   struct bk_errbuf *err);
enum bk_err sq_client_by_email(struct bk_tx *tx, const char *email,
                               struct bk_arena *arena, struct bk_client *out,
                               struct bk_errbuf *err);
enum bk_err sq_client_list(struct bk_tx *tx, const char *email, int status,
                           const struct bk_page *page, struct bk_arena *arena,
                           struct bk_client **out, size_t *n,
                           struct bk_errbuf *err);

/* ---- bookings.c: bookings, busy time, history, links, activity -------- */

enum bk_err sq_booking_insert(struct bk_tx *tx, const struct bk_booking *b,
                              int64_t *id, struct bk_errbuf *err);
enum bk_err sq_booking_update(struct bk_tx *tx, const struct bk_booking *b,
                              struct bk_errbuf *err);
enum bk_err sq_booking_get(struct bk_tx *tx, int64_t id, struct bk_arena *arena,
                           struct bk_booking *out, struct bk_errbuf *err);
enum bk_err sq_booking_by_uid(struct bk_tx *tx, const char *uid,
                              struct bk_arena *arena, struct bk_booking *out,
                              struct bk_errbuf *err);
enum bk_err sq_booking_list(struct bk_tx *tx, const struct bk_booking_filter *f,
                            struct bk_arena *arena, struct bk_booking **out,
                            size_t *n, struct bk_errbuf *err);
enum bk_err sq_booking_busy(struct bk_tx *tx, int64_t host_id, int64_t from_utc,
                            int64_t to_utc, int64_t now_utc, int64_t exclude_id,
                            struct bk_arena *arena,
                            struct bk_booking_span **out, size_t *n,
                            struct bk_errbuf *err);
enum bk_err sq_history_append(struct bk_tx *tx,
                              const struct bk_booking_change *c,
                              struct bk_errbuf *err);
enum bk_err sq_history_list(struct bk_tx *tx, int64_t booking_id,
                            struct bk_arena *arena,
                            struct bk_booking_change **out, size_t *n,
                            struct bk_errbuf *err);
enum bk_err sq_link_insert(struct bk_tx *tx, const struct bk_link *l,
                           struct bk_errbuf *err);
enum bk_err sq_link_update(struct bk_tx *tx, const struct bk_link *l,
                           struct bk_errbuf *err);
enum bk_err sq_link_find(struct bk_tx *tx, const char *provider,
                         const char *kind, const char *external_id,
                         struct bk_arena *arena, struct bk_link *out,
                         struct bk_errbuf *err);
enum bk_err sq_link_list(struct bk_tx *tx, enum bk_link_entity entity,
                         int64_t entity_id, struct bk_arena *arena,
                         struct bk_link **out, size_t *n,
                         struct bk_errbuf *err);
enum bk_err sq_activity_append(struct bk_tx *tx, const struct bk_activity *a,
                               struct bk_errbuf *err);
enum bk_err sq_activity_list(struct bk_tx *tx, const char *kind,
                             int64_t booking_id, int64_t before_id, int limit,
                             struct bk_arena *arena, struct bk_activity **out,
                             size_t *n, struct bk_errbuf *err);

/* ---- queue.c: the inbox and the job queue ------------------------------ */

enum bk_err sq_delivery_insert(struct bk_tx *tx, const struct bk_delivery *d,
                               int64_t *id, bool *existed,
                               struct bk_errbuf *err);
enum bk_err sq_delivery_set_status(struct bk_tx *tx, int64_t id,
                                   enum bk_delivery_status status,
                                   const char *error, int64_t processed_ms,
                                   int64_t job_id, struct bk_errbuf *err);
enum bk_err sq_delivery_get(struct bk_tx *tx, int64_t id,
                            struct bk_arena *arena, struct bk_delivery *out,
                            struct bk_errbuf *err);
enum bk_err sq_delivery_by_public_id(struct bk_tx *tx, const char *public_id,
                                     struct bk_arena *arena,
                                     struct bk_delivery *out,
                                     struct bk_errbuf *err);
enum bk_err sq_delivery_list(struct bk_tx *tx, const char *provider, int status,
                             int64_t before_id, int limit,
                             struct bk_arena *arena, struct bk_delivery **out,
                             size_t *n, struct bk_errbuf *err);
enum bk_err sq_delivery_wake(struct bk_tx *tx, const char *provider,
                             const char *subject, int64_t except_id,
                             int64_t now_ms, int *n, struct bk_errbuf *err);
enum bk_err sq_job_enqueue(struct bk_tx *tx, const char *kind,
                           const char *dedupe_key, const char *payload,
                           int64_t run_at_ms, int max_attempts, int64_t now_ms,
                           int64_t *id, bool *existed, struct bk_errbuf *err);
enum bk_err sq_job_claim(struct bk_tx *tx, int64_t now_ms, int64_t lease_ms,
                         int64_t token, struct bk_arena *arena,
                         struct bk_job *out, struct bk_errbuf *err);
enum bk_err sq_job_complete(struct bk_tx *tx, int64_t id, int64_t token,
                            int64_t now_ms, struct bk_errbuf *err);
enum bk_err sq_job_fail(struct bk_tx *tx, int64_t id, int64_t token, bool dead,
                        int64_t run_at_ms, const char *error, int64_t now_ms,
                        struct bk_errbuf *err);
enum bk_err sq_job_requeue(struct bk_tx *tx, int64_t id, int64_t now_ms,
                           struct bk_errbuf *err);
enum bk_err sq_job_get(struct bk_tx *tx, int64_t id, struct bk_arena *arena,
                       struct bk_job *out, struct bk_errbuf *err);
enum bk_err sq_job_next_due(struct bk_tx *tx, int64_t *due_ms,
                            struct bk_errbuf *err);
enum bk_err sq_job_counts(struct bk_tx *tx, int64_t counts[4],
                          struct bk_errbuf *err);

#endif
