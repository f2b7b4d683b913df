/* store/sqlite/queue.c — the inbox (webhook deliveries) and the job queue
 * behind the inbox and the outbox, in SQLite. Running the jobs (leases,
 * backoff, workers) is jobs/; this file only stores their state. */
#include <inttypes.h>
#include <string.h>

#include "store/sqlite/internal.h"
#include "base/banned.h"

/* ---- Inbox ------------------------------------------------------------- */

/* payload is an expression: "d.payload", or "NULL" for lists. attempts and
 * next_attempt_ms come from the delivery's job. */
#define DELIVERY_SELECT(payload)                                               \
    "SELECT d.id, d.public_id, d.provider, d.delivery_key, d.type,"            \
    " d.received_ms, " payload ", d.payload_len, d.status,"                    \
    " CASE WHEN d.status = 0 THEN coalesce(d.error, j.last_error)"             \
    " ELSE d.error END,"                                                       \
    " d.processed_ms, d.job_id, coalesce(j.attempts, 0),"                      \
    " CASE WHEN j.status = 0 THEN j.run_at_ms ELSE 0 END, d.subject"           \
    " FROM inbox d LEFT JOIN jobs j ON j.id = d.job_id"

static void read_delivery(sqlite3_stmt *st, struct bk_arena *a,
                          struct bk_delivery *d)
{
    memset(d, 0, sizeof(*d));
    d->id = sq_col_i64(st, 0);
    d->public_id = sq_col_text(st, 1, a);
    d->provider = sq_col_text(st, 2, a);
    d->delivery_key = sq_col_text(st, 3, a);
    d->type = sq_col_text(st, 4, a);
    d->received_ms = sq_col_i64(st, 5);
    if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
        const void *p = sqlite3_column_blob(st, 6);
        size_t n = (size_t)sqlite3_column_bytes(st, 6);
        /* memdup adds the NUL that makes the payload a C string. */
        d->payload = bk_arena_memdup(a, p ? p : "", n);
    }
    d->payload_len = (size_t)sq_col_i64(st, 7);
    d->status = (enum bk_delivery_status)sq_col_int(st, 8);
    d->error = sq_col_text(st, 9, a);
    d->processed_ms = sq_col_i64(st, 10);
    d->job_id = sq_col_i64(st, 11);
    d->attempts = sq_col_int(st, 12);
    d->next_attempt_ms = sq_col_i64(st, 13);
    d->subject = sq_col_text(st, 14, a);
}

enum bk_err sq_delivery_insert(struct bk_tx *t, const struct bk_delivery *d,
                               int64_t *id, bool *existed,
                               struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;
    bool row = false;

    *existed = false;
    e = sq_prepare(tx, SQ_DELIVERY_INSERT,
                   "INSERT INTO inbox (public_id, provider, delivery_key,"
                   " type, received_ms, payload, payload_len, status, error,"
                   " processed_ms, job_id, subject) VALUES (?1, ?2, ?3, ?4,"
                   " ?5, ?6, length(?6), ?7, ?8, ?9, ?10, ?11)"
                   " ON CONFLICT (provider, delivery_key) DO NOTHING"
                   " RETURNING id",
                   &st, err);
    if (e)
        goto out;
    sq_bind_text(tx, st, 1, d->public_id);
    sq_bind_text(tx, st, 2, d->provider);
    sq_bind_text(tx, st, 3, d->delivery_key);
    sq_bind_text(tx, st, 4, d->type);
    sq_bind_i64(tx, st, 5, d->received_ms);
    sq_bind_blob(tx, st, 6, d->payload, d->payload_len);
    sq_bind_i64(tx, st, 7, d->status);
    sq_bind_text(tx, st, 8, d->error);
    sq_bind_opt(tx, st, 9, d->processed_ms);
    sq_bind_opt(tx, st, 10, d->job_id);
    sq_bind_text(tx, st, 11, d->subject);
    e = sq_step(tx, st, &row, "storing a delivery", err);
    if (e == BK_E_NOT_FOUND) /* the foreign key of job_id */
        e = bk_fail(err, e, "job %" PRId64 " not found", d->job_id);
    if (e)
        goto out;
    if (row) {
        *id = sq_col_i64(st, 0);
        /* Run the statement to its end. */
        e = sq_exec(tx, st, NULL, "storing a delivery", err);
        goto out;
    }
    /* Nothing inserted: the delivery is there already. */
    sq_reset(st);
    e = sq_prepare(tx, SQ_DELIVERY_FIND_KEY,
                   "SELECT id FROM inbox WHERE provider = ?1"
                   " AND delivery_key = ?2",
                   &st, err);
    if (e)
        goto out;
    sq_bind_text(tx, st, 1, d->provider);
    sq_bind_text(tx, st, 2, d->delivery_key);
    e = sq_one(tx, st, "finding a delivery", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, BK_E_INTERNAL,
                    "delivery %s/%s neither inserted nor found",
                    d->provider ? d->provider : "(null)",
                    d->delivery_key ? d->delivery_key : "(null)");
    if (e)
        goto out;
    *id = sq_col_i64(st, 0);
    *existed = true;
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_delivery_set_status(struct bk_tx *t, int64_t id,
                                   enum bk_delivery_status status,
                                   const char *error, int64_t processed_ms,
                                   int64_t job_id, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = sq_prepare(tx, SQ_DELIVERY_SET_STATUS,
                   "UPDATE inbox SET status = ?2, error = ?3,"
                   " processed_ms = ?4, job_id = ?5 WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, id);
    sq_bind_i64(tx, st, 2, status);
    sq_bind_text(tx, st, 3, error);
    sq_bind_opt(tx, st, 4, processed_ms);
    sq_bind_opt(tx, st, 5, job_id);
    e = sq_exec(tx, st, &changes, "updating a delivery", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "job %" PRId64 " not found", job_id);
    else if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "delivery %" PRId64 " not found", id);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_delivery_get(struct bk_tx *t, int64_t id, struct bk_arena *arena,
                            struct bk_delivery *out, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_DELIVERY_GET,
                   DELIVERY_SELECT("d.payload") " WHERE d.id = ?1", &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, id);
    e = sq_one(tx, st, "reading a delivery", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "delivery %" PRId64 " not found", id);
    if (e == BK_OK)
        read_delivery(st, arena, out);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_delivery_by_public_id(struct bk_tx *t, const char *public_id,
                                     struct bk_arena *arena,
                                     struct bk_delivery *out,
                                     struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_DELIVERY_BY_PUBLIC_ID,
                   DELIVERY_SELECT("d.payload") " WHERE d.public_id = ?1", &st,
                   err);
    if (e)
        goto out;
    sq_bind_text(tx, st, 1, public_id);
    e = sq_one(tx, st, "reading a delivery", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "delivery %s not found",
                    public_id ? public_id : "(null)");
    if (e == BK_OK)
        read_delivery(st, arena, out);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_delivery_list(struct bk_tx *t, const char *provider, int status,
                             int64_t before_id, int limit,
                             struct bk_arena *arena, struct bk_delivery **out,
                             size_t *n, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    struct bk_delivery *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    if (provider)
        e = sq_prepare(tx, SQ_DELIVERY_LIST_PROVIDER,
                       DELIVERY_SELECT("NULL") " WHERE d.provider = ?2"
                                               " AND d.id < ?1"
                                               " AND (?3 < 0 OR d.status = ?3)"
                                               " ORDER BY d.id DESC LIMIT ?4",
                       &st, err);
    else
        e = sq_prepare(tx, SQ_DELIVERY_LIST,
                       DELIVERY_SELECT("NULL") " WHERE d.id < ?1"
                                               " AND (?3 < 0 OR d.status = ?3)"
                                               " ORDER BY d.id DESC LIMIT ?4",
                       &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, before_id > 0 ? before_id : INT64_MAX);
    sq_bind_text(tx, st, 2, provider);
    sq_bind_i64(tx, st, 3, status < 0 ? -1 : status);
    sq_bind_i64(tx, st, 4, sq_limit(limit));
    SQ_READ_ROWS(tx, st, arena, arr, count, "listing deliveries", err,
                 read_delivery);
out:
    sq_reset(st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

/* ---- Jobs -------------------------------------------------------------- */

#define JOB_COLS                                                               \
    "id, kind, dedupe_key, payload, run_at_ms, attempts, max_attempts,"        \
    " status, last_error, lease_until_ms, lease_token, created_ms,"            \
    " updated_ms"

static void read_job(sqlite3_stmt *st, struct bk_arena *a, struct bk_job *j)
{
    memset(j, 0, sizeof(*j));
    j->id = sq_col_i64(st, 0);
    j->kind = sq_col_text(st, 1, a);
    j->dedupe_key = sq_col_text(st, 2, a);
    j->payload = sq_col_text(st, 3, a);
    j->run_at_ms = sq_col_i64(st, 4);
    j->attempts = sq_col_int(st, 5);
    j->max_attempts = sq_col_int(st, 6);
    j->status = (enum bk_job_status)sq_col_int(st, 7);
    j->last_error = sq_col_text(st, 8, a);
    j->lease_until_ms = sq_col_i64(st, 9);
    j->lease_token = sq_col_i64(st, 10);
    j->created_ms = sq_col_i64(st, 11);
    j->updated_ms = sq_col_i64(st, 12);
}

/* Three statements, in this order: retrying jobs become due; dead jobs of
 * failed deliveries come back; those deliveries become received. */
enum bk_err sq_delivery_wake(struct bk_tx *t, const char *provider,
                             const char *subject, int64_t except_id,
                             int64_t now_ms, int *n, struct bk_errbuf *err)
{
    static const struct {
        enum sq_stmt id;
        const char *sql;
    } steps[] = {
        {SQ_DELIVERY_WAKE_DUE,
         "UPDATE jobs SET run_at_ms = ?4, updated_ms = ?4"
         " WHERE status = 0 AND run_at_ms > ?4 AND id IN (SELECT job_id FROM"
         " inbox WHERE provider = ?1 AND subject = ?2 AND id <> ?3"
         " AND status = 0 AND job_id IS NOT NULL)"},
        {SQ_DELIVERY_WAKE_DEAD_JOBS,
         "UPDATE jobs SET status = 0, attempts = 0, run_at_ms = ?4,"
         " last_error = NULL, lease_until_ms = NULL, lease_token = NULL,"
         " updated_ms = ?4 WHERE status = 3 AND id IN (SELECT job_id FROM"
         " inbox WHERE provider = ?1 AND subject = ?2 AND id <> ?3"
         " AND status = 3 AND job_id IS NOT NULL)"},
        {SQ_DELIVERY_WAKE_DEAD,
         "UPDATE inbox SET status = 0, error = NULL, processed_ms = NULL"
         " WHERE provider = ?1 AND subject = ?2 AND id <> ?3 AND status = 3"
         " AND job_id IS NOT NULL"},
    };
    struct sq_tx *tx = sq_txof(t);
    int total = 0;
    enum bk_err e = BK_OK;

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && !e; i++) {
        sqlite3_stmt *st = NULL;
        int changes = 0;
        e = sq_prepare(tx, steps[i].id, steps[i].sql, &st, err);
        if (e)
            break;
        sq_bind_text(tx, st, 1, provider);
        sq_bind_text(tx, st, 2, subject);
        sq_bind_i64(tx, st, 3, except_id);
        if (sqlite3_bind_parameter_count(st) >= 4)
            sq_bind_i64(tx, st, 4, now_ms);
        e = sq_exec(tx, st, &changes, "waking deliveries", err);
        sq_reset(st);
        if (i != 1) /* jobs and deliveries of the dead are counted once */
            total += changes;
    }
    if (n)
        *n = e ? 0 : total;
    return e;
}

enum bk_err sq_job_enqueue(struct bk_tx *t, const char *kind,
                           const char *dedupe_key, const char *payload,
                           int64_t run_at_ms, int max_attempts, int64_t now_ms,
                           int64_t *id, bool *existed, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;
    bool row = false;

    *existed = false;
    e = sq_prepare(tx, SQ_JOB_ENQUEUE,
                   "INSERT INTO jobs (kind, dedupe_key, payload, run_at_ms,"
                   " attempts, max_attempts, status, created_ms, updated_ms)"
                   " VALUES (?1, ?2, ?3, ?4, 0, ?5, 0, ?6, ?6)"
                   " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
                   &st, err);
    if (e)
        goto out;
    sq_bind_text(tx, st, 1, kind);
    sq_bind_text(tx, st, 2, dedupe_key);
    sq_bind_text(tx, st, 3, payload);
    sq_bind_i64(tx, st, 4, run_at_ms);
    sq_bind_i64(tx, st, 5, max_attempts);
    sq_bind_i64(tx, st, 6, now_ms);
    e = sq_step(tx, st, &row, "enqueuing a job", err);
    if (e)
        goto out;
    if (row) {
        *id = sq_col_i64(st, 0);
        e = sq_exec(tx, st, NULL, "enqueuing a job", err);
        goto out;
    }
    sq_reset(st);
    e = sq_prepare(tx, SQ_JOB_FIND_KEY,
                   "SELECT id FROM jobs WHERE dedupe_key = ?1", &st, err);
    if (e)
        goto out;
    sq_bind_text(tx, st, 1, dedupe_key);
    e = sq_one(tx, st, "finding a job", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, BK_E_INTERNAL, "job %s neither inserted nor found",
                    dedupe_key ? dedupe_key : "(null)");
    if (e)
        goto out;
    *id = sq_col_i64(st, 0);
    *existed = true;
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_job_claim(struct bk_tx *t, int64_t now_ms, int64_t lease_ms,
                         int64_t token, struct bk_arena *arena,
                         struct bk_job *out, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    /* The earliest due pending job and the earliest expired lease, each
     * found by its own index seek, then the earlier of the two. */
    e = sq_prepare(tx, SQ_JOB_CLAIM,
                   "UPDATE jobs SET status = 1, attempts = attempts + 1,"
                   " lease_until_ms = ?1 + ?2, lease_token = ?3,"
                   " updated_ms = ?1"
                   " WHERE id = (SELECT id FROM ("
                   "   SELECT * FROM (SELECT id, run_at_ms FROM jobs"
                   "     WHERE status = 0 AND run_at_ms <= ?1"
                   "     ORDER BY run_at_ms, id LIMIT 1)"
                   "   UNION ALL"
                   "   SELECT * FROM (SELECT id, run_at_ms FROM jobs"
                   "     WHERE status = 1 AND lease_until_ms <= ?1"
                   "     ORDER BY run_at_ms, id LIMIT 1))"
                   " ORDER BY run_at_ms, id LIMIT 1)"
                   " RETURNING " JOB_COLS,
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, now_ms);
    sq_bind_i64(tx, st, 2, lease_ms);
    sq_bind_i64(tx, st, 3, token);
    e = sq_one(tx, st, "claiming a job", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no job is due");
    if (e)
        goto out;
    read_job(st, arena, out);
    e = sq_exec(tx, st, NULL, "claiming a job", err);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_job_complete(struct bk_tx *t, int64_t id, int64_t token,
                            int64_t now_ms, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = sq_prepare(tx, SQ_JOB_COMPLETE,
                   "UPDATE jobs SET status = 2, lease_until_ms = NULL,"
                   " lease_token = NULL, updated_ms = ?3"
                   " WHERE id = ?1 AND status = 1 AND lease_token = ?2",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, id);
    sq_bind_i64(tx, st, 2, token);
    sq_bind_i64(tx, st, 3, now_ms);
    e = sq_exec(tx, st, &changes, "completing a job", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_STALE,
                    "job %" PRId64 " is not running under this lease", id);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_job_fail(struct bk_tx *t, int64_t id, int64_t token, bool dead,
                        int64_t run_at_ms, const char *error, int64_t now_ms,
                        struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = sq_prepare(tx, SQ_JOB_FAIL,
                   "UPDATE jobs SET status = CASE WHEN ?3 THEN 3 ELSE 0 END,"
                   " run_at_ms = CASE WHEN ?3 THEN run_at_ms ELSE ?4 END,"
                   " last_error = ?5, lease_until_ms = NULL,"
                   " lease_token = NULL, updated_ms = ?6"
                   " WHERE id = ?1 AND status = 1 AND lease_token = ?2",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, id);
    sq_bind_i64(tx, st, 2, token);
    sq_bind_i64(tx, st, 3, dead ? 1 : 0);
    sq_bind_i64(tx, st, 4, run_at_ms);
    sq_bind_text(tx, st, 5, error);
    sq_bind_i64(tx, st, 6, now_ms);
    e = sq_exec(tx, st, &changes, "recording a failed job", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_STALE,
                    "job %" PRId64 " is not running under this lease", id);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_job_requeue(struct bk_tx *t, int64_t id, int64_t now_ms,
                           struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = sq_prepare(tx, SQ_JOB_REQUEUE,
                   "UPDATE jobs SET status = 0, attempts = 0, run_at_ms = ?2,"
                   " lease_until_ms = NULL, lease_token = NULL,"
                   " last_error = NULL,"
                   " updated_ms = ?2 WHERE id = ?1 AND status <> 1",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, id);
    sq_bind_i64(tx, st, 2, now_ms);
    e = sq_exec(tx, st, &changes, "requeuing a job", err);
    if (e || changes)
        goto out;
    /* Nothing changed: either no such job, or it is running. */
    sq_reset(st);
    e = sq_prepare(tx, SQ_JOB_STATUS, "SELECT status FROM jobs WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, id);
    e = sq_one(tx, st, "requeuing a job", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "job %" PRId64 " not found", id);
    else if (e == BK_OK)
        e = bk_fail(err, BK_E_CONFLICT,
                    "job %" PRId64 " is running; it can be requeued once its "
                    "attempt ends",
                    id);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_job_get(struct bk_tx *t, int64_t id, struct bk_arena *arena,
                       struct bk_job *out, struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_JOB_GET,
                   "SELECT " JOB_COLS " FROM jobs WHERE id = ?1", &st, err);
    if (e)
        goto out;
    sq_bind_i64(tx, st, 1, id);
    e = sq_one(tx, st, "reading a job", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "job %" PRId64 " not found", id);
    if (e == BK_OK)
        read_job(st, arena, out);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_job_next_due(struct bk_tx *t, int64_t *due_ms,
                            struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;

    e = sq_prepare(tx, SQ_JOB_NEXT_DUE,
                   "SELECT min(due) FROM ("
                   " SELECT min(run_at_ms) AS due FROM jobs WHERE status = 0"
                   " UNION ALL"
                   " SELECT min(lease_until_ms) FROM jobs WHERE status = 1)",
                   &st, err);
    if (e)
        goto out;
    e = sq_one(tx, st, "finding the next due job", err);
    if (e == BK_OK && sqlite3_column_type(st, 0) == SQLITE_NULL)
        e = BK_E_NOT_FOUND;
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no job is pending or running");
    if (e == BK_OK)
        *due_ms = sq_col_i64(st, 0);
out:
    sq_reset(st);
    return e;
}

enum bk_err sq_job_counts(struct bk_tx *t, int64_t counts[4],
                          struct bk_errbuf *err)
{
    struct sq_tx *tx = sq_txof(t);
    sqlite3_stmt *st = NULL;
    enum bk_err e;
    bool row = true;

    for (int i = 0; i < 4; i++)
        counts[i] = 0;
    e = sq_prepare(tx, SQ_JOB_COUNTS,
                   "SELECT status, count(*) FROM jobs GROUP BY status", &st,
                   err);
    while (e == BK_OK) {
        int status;
        e = sq_step(tx, st, &row, "counting jobs", err);
        if (e || !row)
            break;
        status = sq_col_int(st, 0);
        if (status >= 0 && status < 4)
            counts[status] = sq_col_i64(st, 1);
    }
    sq_reset(st);
    return e;
}
