/* store/queue.c — the inbox (webhook deliveries) and the job queue
 * behind the inbox and the outbox, in SQL both drivers accept. Running the jobs
 * (leases, backoff, workers) is jobs/; this file only stores their state. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store/sql.h"
#include "base/banned.h"

/* ---- Inbox ------------------------------------------------------------- */

/* payload and normalized are expressions: "d.payload" and "d.normalized",
 * or "NULL" for lists. attempts and next_attempt_ms come from the
 * delivery's job. */
#define DELIVERY_SELECT(payload, normalized)                                   \
    "SELECT d.id, d.public_id, d.provider, d.delivery_key, d.type,"            \
    " d.received_ms, " payload ", d.payload_len, d.status,"                    \
    " CASE WHEN d.status = 0 THEN coalesce(d.error, j.last_error)"             \
    " ELSE d.error END,"                                                       \
    " d.processed_ms, d.job_id, coalesce(j.attempts, 0),"                      \
    " CASE WHEN j.status = 0 THEN j.run_at_ms ELSE 0 END, "                    \
    "d.subject, " normalized                                                   \
    " FROM inbox d LEFT JOIN jobs j ON j.id = d.job_id"

static void read_delivery(struct bk_tx *tx, struct bk_stmt *st,
                          struct bk_arena *a, struct bk_delivery *d)
{
    memset(d, 0, sizeof(*d));
    d->id = db_col_i64(tx, st, 0);
    d->public_id = db_col_text(tx, st, 1, a);
    d->provider = db_col_text(tx, st, 2, a);
    d->delivery_key = db_col_text(tx, st, 3, a);
    d->type = db_col_text(tx, st, 4, a);
    d->received_ms = db_col_i64(tx, st, 5);
    /* db_col_blob adds the NUL that makes the payload a C string. */
    d->payload = db_col_blob(tx, st, 6, a, NULL);
    d->payload_len = (size_t)db_col_i64(tx, st, 7);
    d->status = (enum bk_delivery_status)db_col_int(tx, st, 8);
    d->error = db_col_text(tx, st, 9, a);
    d->processed_ms = db_col_i64(tx, st, 10);
    d->job_id = db_col_i64(tx, st, 11);
    d->attempts = db_col_int(tx, st, 12);
    d->next_attempt_ms = db_col_i64(tx, st, 13);
    d->subject = db_col_text(tx, st, 14, a);
    d->normalized = db_col_text(tx, st, 15, a);
}

enum bk_err bk_store_delivery_insert(struct bk_tx *tx,
                                     const struct bk_delivery *d, int64_t *id,
                                     bool *existed, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    bool row = false;

    *existed = false;
    e = db_prepare(tx, Q_DELIVERY_INSERT,
                   "INSERT INTO inbox (public_id, provider, delivery_key,"
                   " type, received_ms, payload, payload_len, status, error,"
                   " processed_ms, job_id, subject, normalized) VALUES (?1,"
                   " ?2, ?3, ?4, ?5, ?6, length(?6), ?7, ?8, ?9, ?10, ?11,"
                   " ?12)"
                   " ON CONFLICT (provider, delivery_key) DO NOTHING"
                   " RETURNING id",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, d->public_id);
    db_bind_text(tx, st, 2, d->provider);
    db_bind_text(tx, st, 3, d->delivery_key);
    db_bind_text(tx, st, 4, d->type);
    db_bind_i64(tx, st, 5, d->received_ms);
    db_bind_blob(tx, st, 6, d->payload, d->payload_len);
    db_bind_i64(tx, st, 7, d->status);
    db_bind_text(tx, st, 8, d->error);
    db_bind_opt(tx, st, 9, d->processed_ms);
    db_bind_opt(tx, st, 10, d->job_id);
    db_bind_text(tx, st, 11, d->subject);
    db_bind_text(tx, st, 12, d->normalized);
    e = db_step(tx, st, &row, "storing a delivery", err);
    if (e == BK_E_NOT_FOUND) /* the foreign key of job_id */
        e = bk_fail(err, e, "job %" PRId64 " not found", d->job_id);
    if (e)
        goto out;
    if (row) {
        *id = db_col_i64(tx, st, 0);
        /* Run the statement to its end. */
        e = db_exec(tx, st, NULL, "storing a delivery", err);
        goto out;
    }
    /* Nothing inserted: the delivery is there already. */
    db_reset(tx, st);
    e = db_prepare(tx, Q_DELIVERY_FIND_KEY,
                   "SELECT id FROM inbox WHERE provider = ?1"
                   " AND delivery_key = ?2",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, d->provider);
    db_bind_text(tx, st, 2, d->delivery_key);
    e = db_one(tx, st, "finding a delivery", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, BK_E_INTERNAL,
                    "delivery %s/%s neither inserted nor found",
                    d->provider ? d->provider : "(null)",
                    d->delivery_key ? d->delivery_key : "(null)");
    if (e)
        goto out;
    *id = db_col_i64(tx, st, 0);
    *existed = true;
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_delivery_set_status(struct bk_tx *tx, int64_t id,
                                         enum bk_delivery_status status,
                                         const char *error,
                                         int64_t processed_ms, int64_t job_id,
                                         struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_DELIVERY_SET_STATUS,
                   "UPDATE inbox SET status = ?2, error = ?3,"
                   " processed_ms = ?4, job_id = ?5 WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    db_bind_i64(tx, st, 2, status);
    db_bind_text(tx, st, 3, error);
    db_bind_opt(tx, st, 4, processed_ms);
    db_bind_opt(tx, st, 5, job_id);
    e = db_exec(tx, st, &changes, "updating a delivery", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "job %" PRId64 " not found", job_id);
    else if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "delivery %" PRId64 " not found", id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_delivery_get(struct bk_tx *tx, int64_t id,
                                  struct bk_arena *arena,
                                  struct bk_delivery *out,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(
        tx, Q_DELIVERY_GET,
        DELIVERY_SELECT("d.payload", "d.normalized") " WHERE d.id = ?1", &st,
        err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_one(tx, st, "reading a delivery", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "delivery %" PRId64 " not found", id);
    if (e == BK_OK)
        read_delivery(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_delivery_by_public_id(struct bk_tx *tx,
                                           const char *public_id,
                                           struct bk_arena *arena,
                                           struct bk_delivery *out,
                                           struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(
        tx, Q_DELIVERY_BY_PUBLIC_ID,
        DELIVERY_SELECT("d.payload", "d.normalized") " WHERE d.public_id = ?1",
        &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, public_id);
    e = db_one(tx, st, "reading a delivery", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "delivery %s not found",
                    public_id ? public_id : "(null)");
    if (e == BK_OK)
        read_delivery(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_delivery_list(struct bk_tx *tx, const char *provider,
                                   int status, int64_t before_id, int limit,
                                   struct bk_arena *arena,
                                   struct bk_delivery **out, size_t *n,
                                   struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_delivery *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    if (provider)
        e = db_prepare(
            tx, Q_DELIVERY_LIST_PROVIDER,
            DELIVERY_SELECT("NULL", "NULL") " WHERE d.provider = ?2"
                                            " AND d.id < ?1"
                                            " AND (?3 < 0 OR d.status = ?3)"
                                            " ORDER BY d.id DESC LIMIT ?4",
            &st, err);
    else
        e = db_prepare(
            tx, Q_DELIVERY_LIST,
            DELIVERY_SELECT("NULL", "NULL") " WHERE d.id < ?1"
                                            " AND (?3 < 0 OR d.status = ?3)"
                                            " ORDER BY d.id DESC LIMIT ?4",
            &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, before_id > 0 ? before_id : INT64_MAX);
    db_bind_text(tx, st, 2, provider);
    db_bind_i64(tx, st, 3, status < 0 ? -1 : status);
    db_bind_i64(tx, st, 4, db_limit(limit));
    DB_READ_ROWS(tx, st, arena, arr, count, "listing deliveries", err,
                 read_delivery);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

/* ---- Jobs -------------------------------------------------------------- */

#define JOB_COLS                                                               \
    "id, kind, dedupe_key, payload, run_at_ms, attempts, max_attempts,"        \
    " status, last_error, lease_until_ms, lease_token, created_ms,"            \
    " updated_ms"

static void read_job(struct bk_tx *tx, struct bk_stmt *st, struct bk_arena *a,
                     struct bk_job *j)
{
    memset(j, 0, sizeof(*j));
    j->id = db_col_i64(tx, st, 0);
    j->kind = db_col_text(tx, st, 1, a);
    j->dedupe_key = db_col_text(tx, st, 2, a);
    j->payload = db_col_text(tx, st, 3, a);
    j->run_at_ms = db_col_i64(tx, st, 4);
    j->attempts = db_col_int(tx, st, 5);
    j->max_attempts = db_col_int(tx, st, 6);
    j->status = (enum bk_job_status)db_col_int(tx, st, 7);
    j->last_error = db_col_text(tx, st, 8, a);
    j->lease_until_ms = db_col_i64(tx, st, 9);
    j->lease_token = db_col_i64(tx, st, 10);
    j->created_ms = db_col_i64(tx, st, 11);
    j->updated_ms = db_col_i64(tx, st, 12);
}

/* Three statements, in this order: retrying jobs become due; dead jobs of
 * failed deliveries come back; those deliveries become received. */
enum bk_err bk_store_delivery_wake(struct bk_tx *tx, const char *provider,
                                   const char *subject, int64_t except_id,
                                   int64_t now_ms, int *n,
                                   struct bk_errbuf *err)
{
    static const struct {
        enum db_stmt id;
        const char *sql;
        bool uses_now;
    } steps[] = {
        {Q_DELIVERY_WAKE_DUE,
         "UPDATE jobs SET run_at_ms = ?4, updated_ms = ?4"
         " WHERE status = 0 AND run_at_ms > ?4 AND id IN (SELECT job_id FROM"
         " inbox WHERE provider = ?1 AND subject = ?2 AND id <> ?3"
         " AND status = 0 AND job_id IS NOT NULL)",
         true},
        {Q_DELIVERY_WAKE_DEAD_JOBS,
         "UPDATE jobs SET status = 0, attempts = 0, run_at_ms = ?4,"
         " last_error = NULL, lease_until_ms = NULL, lease_token = NULL,"
         " updated_ms = ?4 WHERE status = 3 AND id IN (SELECT job_id FROM"
         " inbox WHERE provider = ?1 AND subject = ?2 AND id <> ?3"
         " AND status = 3 AND job_id IS NOT NULL)",
         true},
        {Q_DELIVERY_WAKE_DEAD,
         "UPDATE inbox SET status = 0, error = NULL, processed_ms = NULL"
         " WHERE provider = ?1 AND subject = ?2 AND id <> ?3 AND status = 3"
         " AND job_id IS NOT NULL",
         false},
    };
    int total = 0;
    enum bk_err e = BK_OK;

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && !e; i++) {
        struct bk_stmt *st = NULL;
        int changes = 0;
        e = db_prepare(tx, steps[i].id, steps[i].sql, &st, err);
        if (e)
            break;
        db_bind_text(tx, st, 1, provider);
        db_bind_text(tx, st, 2, subject);
        db_bind_i64(tx, st, 3, except_id);
        if (steps[i].uses_now)
            db_bind_i64(tx, st, 4, now_ms);
        e = db_exec(tx, st, &changes, "waking deliveries", err);
        db_reset(tx, st);
        if (i != 1) /* jobs and deliveries of the dead are counted once */
            total += changes;
    }
    if (!e && total)
        bk_store_job_notify(tx);
    if (n)
        *n = e ? 0 : total;
    return e;
}

enum bk_err bk_store_job_enqueue(struct bk_tx *tx, const char *kind,
                                 const char *dedupe_key, const char *payload,
                                 int64_t run_at_ms, int max_attempts,
                                 int64_t now_ms, int64_t *id, bool *existed,
                                 struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    bool row = false;

    *existed = false;
    e = db_prepare(tx, Q_JOB_ENQUEUE,
                   "INSERT INTO jobs (kind, dedupe_key, payload, run_at_ms,"
                   " attempts, max_attempts, status, created_ms, updated_ms)"
                   " VALUES (?1, ?2, ?3, ?4, 0, ?5, 0, ?6, ?6)"
                   " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, kind);
    db_bind_text(tx, st, 2, dedupe_key);
    db_bind_text(tx, st, 3, payload);
    db_bind_i64(tx, st, 4, run_at_ms);
    db_bind_i64(tx, st, 5, max_attempts);
    db_bind_i64(tx, st, 6, now_ms);
    e = db_step(tx, st, &row, "enqueuing a job", err);
    if (e)
        goto out;
    if (row) {
        *id = db_col_i64(tx, st, 0);
        e = db_exec(tx, st, NULL, "enqueuing a job", err);
        if (!e)
            bk_store_job_notify(tx);
        goto out;
    }
    db_reset(tx, st);
    e = db_prepare(tx, Q_JOB_FIND_KEY,
                   "SELECT id FROM jobs WHERE dedupe_key = ?1", &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, dedupe_key);
    e = db_one(tx, st, "finding a job", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, BK_E_INTERNAL, "job %s neither inserted nor found",
                    dedupe_key ? dedupe_key : "(null)");
    if (e)
        goto out;
    *id = db_col_i64(tx, st, 0);
    *existed = true;
out:
    db_reset(tx, st);
    return e;
}

/* Claimed jobs in due order: by run_at_ms, then id (RETURNING gives no
 * order). */
static int job_due_cmp(const void *pa, const void *pb)
{
    const struct bk_job *a = pa, *b = pb;

    if (a->run_at_ms != b->run_at_ms)
        return a->run_at_ms < b->run_at_ms ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

enum bk_err bk_store_job_claim_batch(struct bk_tx *tx, int64_t now_ms,
                                     int64_t lease_ms, int64_t token, int max,
                                     struct bk_arena *arena,
                                     struct bk_job **out, size_t *n,
                                     struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_job *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    *out = NULL;
    *n = 0;
    if (max < 1 || max > BK_STORE_CLAIM_MAX)
        return bk_fail(err, BK_E_INTERNAL, "claim batch %d out of 1..%d", max,
                       BK_STORE_CLAIM_MAX);
    /* SQLite: the earliest due pending jobs and the earliest expired
     * leases, each found by its own index seek, then the earliest of
     * them. */
    e = db_prepare(
        tx, Q_JOB_CLAIM,
        BK_SQL2(tx,
                "UPDATE jobs SET status = 1, attempts = attempts + 1,"
                " lease_until_ms = ?1 + ?2, lease_token = ?3,"
                " updated_ms = ?1"
                " WHERE id IN (SELECT id FROM ("
                "   SELECT * FROM (SELECT id, run_at_ms FROM jobs"
                "     WHERE status = 0 AND run_at_ms <= ?1"
                "     ORDER BY run_at_ms, id LIMIT ?4)"
                "   UNION ALL"
                "   SELECT * FROM (SELECT id, run_at_ms FROM jobs"
                "     WHERE status = 1 AND lease_until_ms <= ?1"
                "     ORDER BY run_at_ms, id LIMIT ?4))"
                " ORDER BY run_at_ms, id LIMIT ?4)"
                " RETURNING " JOB_COLS,
                /* PostgreSQL: several workers of several instances claim
                 * at once; each skips the rows another has locked. The
                 * ids are picked once (ARRAY(...) is an init plan), so
                 * the lock and the update are of the same rows. */
                "UPDATE jobs SET status = 1, attempts = attempts + 1,"
                " lease_until_ms = ?1 + ?2, lease_token = ?3,"
                " updated_ms = ?1"
                " WHERE id = ANY (ARRAY(SELECT id FROM jobs"
                "   WHERE (status = 0 AND run_at_ms <= ?1)"
                "      OR (status = 1 AND lease_until_ms <= ?1)"
                "   ORDER BY run_at_ms, id LIMIT ?4"
                "   FOR UPDATE SKIP LOCKED))"
                " RETURNING " JOB_COLS),
        &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, now_ms);
    db_bind_i64(tx, st, 2, lease_ms);
    db_bind_i64(tx, st, 3, token);
    db_bind_i64(tx, st, 4, max);
    DB_READ_ROWS(tx, st, arena, arr, count, "claiming jobs", err, read_job);
    if (e == BK_OK && count == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "no job is due");
    if (e == BK_OK)
        qsort(arr, count, sizeof(*arr), job_due_cmp);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

enum bk_err bk_store_job_claim(struct bk_tx *tx, int64_t now_ms,
                               int64_t lease_ms, int64_t token,
                               struct bk_arena *arena, struct bk_job *out,
                               struct bk_errbuf *err)
{
    struct bk_job *arr = NULL;
    size_t n = 0;
    enum bk_err e;

    e = bk_store_job_claim_batch(tx, now_ms, lease_ms, token, 1, arena, &arr,
                                 &n, err);
    if (e == BK_OK)
        *out = arr[0];
    return e;
}

enum bk_err bk_store_job_release(struct bk_tx *tx, int64_t id, int64_t token,
                                 int64_t now_ms, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_JOB_RELEASE,
                   "UPDATE jobs SET status = 0,"
                   " attempts = CASE WHEN attempts > 0 THEN attempts - 1"
                   " ELSE 0 END,"
                   " lease_until_ms = NULL, lease_token = NULL,"
                   " updated_ms = ?3"
                   " WHERE id = ?1 AND status = 1 AND lease_token = ?2",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    db_bind_i64(tx, st, 2, token);
    db_bind_i64(tx, st, 3, now_ms);
    e = db_exec(tx, st, &changes, "releasing a job", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_STALE,
                    "job %" PRId64 " is not running under this lease", id);
    if (e == BK_OK)
        bk_store_job_notify(tx);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_job_complete(struct bk_tx *tx, int64_t id, int64_t token,
                                  int64_t now_ms, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_JOB_COMPLETE,
                   "UPDATE jobs SET status = 2, lease_until_ms = NULL,"
                   " lease_token = NULL, updated_ms = ?3"
                   " WHERE id = ?1 AND status = 1 AND lease_token = ?2",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    db_bind_i64(tx, st, 2, token);
    db_bind_i64(tx, st, 3, now_ms);
    e = db_exec(tx, st, &changes, "completing a job", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_STALE,
                    "job %" PRId64 " is not running under this lease", id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_job_renew(struct bk_tx *tx, int64_t id, int64_t token,
                               int64_t now_ms, int64_t lease_ms,
                               struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_JOB_RENEW,
                   "UPDATE jobs SET lease_until_ms = ?3 + ?4, updated_ms = ?3"
                   " WHERE id = ?1 AND status = 1 AND lease_token = ?2",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    db_bind_i64(tx, st, 2, token);
    db_bind_i64(tx, st, 3, now_ms);
    db_bind_i64(tx, st, 4, lease_ms);
    e = db_exec(tx, st, &changes, "renewing a job's lease", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_STALE,
                    "job %" PRId64 " is not running under this lease", id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_job_shift(struct bk_tx *tx, int64_t now_ms,
                               int64_t delta_ms, int *changed,
                               struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    *changed = 0;
    e = db_prepare(tx, Q_JOB_SHIFT,
                   "UPDATE jobs SET"
                   " run_at_ms = CASE WHEN status = 0 THEN run_at_ms + ?2"
                   " ELSE run_at_ms END,"
                   " lease_until_ms = CASE WHEN status = 1"
                   " THEN lease_until_ms + ?2 ELSE lease_until_ms END,"
                   " updated_ms = updated_ms + ?2"
                   " WHERE status IN (0, 1) AND updated_ms > ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, now_ms);
    db_bind_i64(tx, st, 2, delta_ms);
    e = db_exec(tx, st, changed, "moving jobs to a stepped clock", err);
    if (e == BK_OK && *changed > 0)
        bk_store_job_notify(tx);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_job_fail(struct bk_tx *tx, int64_t id, int64_t token,
                              bool dead, int64_t run_at_ms, const char *error,
                              int64_t now_ms, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(
        tx, Q_JOB_FAIL,
        "UPDATE jobs SET status = CASE WHEN ?3 = 1 THEN 3 ELSE 0 END,"
        " run_at_ms = CASE WHEN ?3 = 1 THEN run_at_ms ELSE ?4 END,"
        " last_error = ?5, lease_until_ms = NULL,"
        " lease_token = NULL, updated_ms = ?6"
        " WHERE id = ?1 AND status = 1 AND lease_token = ?2",
        &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    db_bind_i64(tx, st, 2, token);
    db_bind_i64(tx, st, 3, dead ? 1 : 0);
    db_bind_i64(tx, st, 4, run_at_ms);
    db_bind_text(tx, st, 5, error);
    db_bind_i64(tx, st, 6, now_ms);
    e = db_exec(tx, st, &changes, "recording a failed job", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_STALE,
                    "job %" PRId64 " is not running under this lease", id);
    if (e == BK_OK && !dead) /* due again later: every instance knows */
        bk_store_job_notify(tx);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_job_defer(struct bk_tx *tx, int64_t id, int64_t token,
                               int64_t run_at_ms, const char *error,
                               int64_t now_ms, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_JOB_DEFER,
                   "UPDATE jobs SET status = 0, run_at_ms = ?3,"
                   " attempts = CASE WHEN attempts > 0 THEN attempts - 1"
                   " ELSE 0 END,"
                   " last_error = ?4, lease_until_ms = NULL,"
                   " lease_token = NULL, updated_ms = ?5"
                   " WHERE id = ?1 AND status = 1 AND lease_token = ?2",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    db_bind_i64(tx, st, 2, token);
    db_bind_i64(tx, st, 3, run_at_ms);
    db_bind_text(tx, st, 4, error);
    db_bind_i64(tx, st, 5, now_ms);
    e = db_exec(tx, st, &changes, "deferring a job", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_STALE,
                    "job %" PRId64 " is not running under this lease", id);
    if (e == BK_OK)
        bk_store_job_notify(tx);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_job_requeue(struct bk_tx *tx, int64_t id, int64_t now_ms,
                                 struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_JOB_REQUEUE,
                   "UPDATE jobs SET status = 0, attempts = 0, run_at_ms = ?2,"
                   " lease_until_ms = NULL, lease_token = NULL,"
                   " last_error = NULL,"
                   " updated_ms = ?2 WHERE id = ?1 AND status <> 1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    db_bind_i64(tx, st, 2, now_ms);
    e = db_exec(tx, st, &changes, "requeuing a job", err);
    if (!e && changes)
        bk_store_job_notify(tx);
    if (e || changes)
        goto out;
    /* Nothing changed: either no such job, or it is running. */
    db_reset(tx, st);
    e = db_prepare(tx, Q_JOB_STATUS, "SELECT status FROM jobs WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_one(tx, st, "requeuing a job", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "job %" PRId64 " not found", id);
    else if (e == BK_OK)
        e = bk_fail(err, BK_E_CONFLICT,
                    "job %" PRId64 " is running; it can be requeued once its "
                    "attempt ends",
                    id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_job_get(struct bk_tx *tx, int64_t id,
                             struct bk_arena *arena, struct bk_job *out,
                             struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_JOB_GET, "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    e = db_one(tx, st, "reading a job", err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "job %" PRId64 " not found", id);
    if (e == BK_OK)
        read_job(tx, st, arena, out);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_job_next_due(struct bk_tx *tx, int64_t *due_ms,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(
        tx, Q_JOB_NEXT_DUE,
        "SELECT min(due) FROM ("
        " SELECT min(run_at_ms) AS due FROM jobs WHERE status = 0"
        " UNION ALL"
        " SELECT min(lease_until_ms) FROM jobs WHERE status = 1) AS due_times",
        &st, err);
    if (e)
        goto out;
    e = db_one(tx, st, "finding the next due job", err);
    if (e == BK_OK && db_col_null(tx, st, 0))
        e = BK_E_NOT_FOUND;
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, e, "no job is pending or running");
    if (e == BK_OK)
        *due_ms = db_col_i64(tx, st, 0);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_job_counts(struct bk_tx *tx, int64_t counts[4],
                                struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    bool row = true;

    for (int i = 0; i < 4; i++)
        counts[i] = 0;
    e = db_prepare(tx, Q_JOB_COUNTS,
                   "SELECT status, count(*) FROM jobs GROUP BY status", &st,
                   err);
    while (e == BK_OK) {
        int status;
        e = db_step(tx, st, &row, "counting jobs", err);
        if (e || !row)
            break;
        status = db_col_int(tx, st, 0);
        if (status >= 0 && status < 4)
            counts[status] = db_col_i64(tx, st, 1);
    }
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_job_reclaim(struct bk_tx *tx, int64_t now_ms, int *n,
                                 struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    e = db_prepare(tx, Q_JOB_RECLAIM,
                   "UPDATE jobs SET status = 0, run_at_ms = ?1,"
                   " lease_until_ms = NULL, lease_token = NULL,"
                   " updated_ms = ?1 WHERE status = 1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, now_ms);
    e = db_exec(tx, st, &changes, "reclaiming running jobs", err);
    if (!e && changes)
        bk_store_job_notify(tx);
out:
    db_reset(tx, st);
    if (n)
        *n = e ? 0 : changes;
    return e;
}

enum bk_err bk_store_job_prune(struct bk_tx *tx, int64_t done_before_ms,
                               int limit, int *n, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;
    int changes = 0;

    *n = 0;
    if (limit < 1 || limit > 10000)
        return bk_fail(err, BK_E_INTERNAL, "prune limit %d out of 1..10000",
                       limit);
    /* The outer conditions again: on PostgreSQL (READ COMMITTED) a row an
     * admin requeued meanwhile is checked again as it is now, and kept. */
    e = db_prepare(tx, Q_JOB_PRUNE,
                   "DELETE FROM jobs WHERE status = 2 AND updated_ms < ?1"
                   " AND id IN (SELECT id FROM jobs WHERE status = 2"
                   " AND updated_ms < ?1 ORDER BY id LIMIT ?2)",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, done_before_ms);
    db_bind_i64(tx, st, 2, limit);
    e = db_exec(tx, st, &changes, "pruning done jobs", err);
    if (!e)
        *n = changes;
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_job_list(struct bk_tx *tx, const char *kind, int status,
                              int retried, int64_t before_id, int limit,
                              struct bk_arena *arena, struct bk_job **out,
                              size_t *n, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_job *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_JOB_LIST,
                   "SELECT " JOB_COLS " FROM jobs WHERE id < ?1"
                   " AND (?2 IS NULL OR kind = ?2)"
                   " AND (?3 < 0 OR status = ?3)"
                   " AND (?4 < 0 OR (?4 = 0 AND attempts = 0)"
                   " OR (?4 = 1 AND attempts > 0))"
                   " ORDER BY id DESC LIMIT ?5",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, before_id > 0 ? before_id : INT64_MAX);
    db_bind_text(tx, st, 2, kind);
    db_bind_i64(tx, st, 3, status < 0 ? -1 : status);
    db_bind_i64(tx, st, 4, retried < 0 ? -1 : retried);
    db_bind_i64(tx, st, 5, db_limit(limit));
    DB_READ_ROWS(tx, st, arena, arr, count, "listing jobs", err, read_job);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

static void read_job_count(struct bk_tx *tx, struct bk_stmt *st,
                           struct bk_arena *a, struct bk_job_count *c)
{
    c->kind = db_col_text(tx, st, 0, a);
    c->status = (enum bk_job_status)db_col_int(tx, st, 1);
    c->retrying = db_col_int(tx, st, 2) != 0;
    c->n = db_col_i64(tx, st, 3);
}

enum bk_err bk_store_job_counts_by_kind(struct bk_tx *tx,
                                        struct bk_arena *arena,
                                        struct bk_job_count **out, size_t *n,
                                        struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    struct bk_job_count *arr = NULL;
    size_t count = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_JOB_COUNTS_BY_KIND,
                   "SELECT kind, status, retrying, count(*) FROM (SELECT kind,"
                   " status, CASE WHEN status = 0 AND attempts > 0 THEN 1"
                   " ELSE 0 END AS retrying FROM jobs) AS j"
                   " GROUP BY kind, status, retrying"
                   " ORDER BY kind, status, retrying",
                   &st, err);
    if (e)
        goto out;
    DB_READ_ROWS(tx, st, arena, arr, count, "counting jobs", err,
                 read_job_count);
out:
    db_reset(tx, st);
    *out = e ? NULL : arr;
    *n = e ? 0 : count;
    return e;
}

enum bk_err bk_store_job_earlier(struct bk_tx *tx, const char *kind, int64_t id,
                                 bool *found, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    *found = false;
    e = db_prepare(tx, Q_JOB_EARLIER,
                   "SELECT id FROM jobs WHERE kind = ?1 AND id < ?2"
                   " AND status IN (0, 1) ORDER BY id LIMIT 1",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, kind);
    db_bind_i64(tx, st, 2, id);
    e = db_one(tx, st, "finding an earlier job", err);
    if (e == BK_E_NOT_FOUND)
        e = BK_OK;
    else if (e == BK_OK)
        *found = true;
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_job_find_key(struct bk_tx *tx, const char *dedupe_key,
                                  int64_t *id, bool *found,
                                  struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    *found = false;
    e = db_prepare(tx, Q_JOB_FIND_KEY,
                   "SELECT id FROM jobs WHERE dedupe_key = ?1", &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, dedupe_key);
    e = db_one(tx, st, "finding a job", err);
    if (e == BK_E_NOT_FOUND) {
        e = BK_OK;
    } else if (e == BK_OK) {
        *id = db_col_i64(tx, st, 0);
        *found = true;
    }
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_job_drop(struct bk_tx *tx, const char *kind,
                              const char *key_prefix, const char *reason,
                              int64_t now_ms, int *n, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    int changes = 0;
    enum bk_err e;

    /* substr, not LIKE: a key may hold '_' and '%'. */
    e = db_prepare(tx, Q_JOB_DROP,
                   "UPDATE jobs SET status = 2, last_error = ?3,"
                   " updated_ms = ?4 WHERE status = 0 AND kind = ?1"
                   " AND substr(dedupe_key, 1, length(?2)) = ?2",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, kind);
    db_bind_text(tx, st, 2, key_prefix);
    db_bind_text(tx, st, 3, reason);
    db_bind_i64(tx, st, 4, now_ms);
    e = db_exec(tx, st, &changes, "dropping jobs", err);
out:
    db_reset(tx, st);
    if (n)
        *n = changes;
    return e;
}
