/* jobs/jobs.h — the worker pool behind the inbox and the outbox.
 * A job is a row written in the same transaction as the change that implies
 * it (store.h "Jobs"). Workers claim due jobs under a lease — several in one
 * transaction, into a queue local to the pool from which every idle worker
 * takes; a claimed job that has not started within half its lease is given
 * back rather than held (so it never waits here past its lease) — run the
 * kind's handler, and record the outcome: done, retried later with exponential
 * backoff and jitter (core/backoff.h), or dead (out of attempts or a
 * permanent error) for an admin to inspect and replay. A job whose worker
 * died is claimed again when its lease expires; handlers are therefore
 * idempotent, and ledger-only handlers commit their change together with
 * the job's completion (bk_jobs_finish) so it happens exactly once. */
#ifndef BK_JOBS_JOBS_H
#define BK_JOBS_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "core/ledger.h"
#include "store/store.h"

struct bk_jobs;

/* What a kind of job does. run() is called on a worker thread with the
 * claimed job and a job-scoped arena. It returns:
 * - BK_OK after committing a transaction that called bk_jobs_finish (the
 *   job is then done);
 * - BK_E_INVALID, BK_E_MALFORMED or BK_E_NOT_FOUND for a permanent error:
 *   the job goes dead at once;
 * - anything else (BK_E_RETRY, BK_E_BUSY, BK_E_IO, ...) to retry later,
 *   until max_attempts.
 * on_dead (may be NULL) runs inside the transaction that marks the job
 * dead, to record the failure elsewhere (a delivery's status). */
struct bk_job_kind {
    const char *name; /* "inbox.apply" */
    enum bk_err (*run)(void *ctx, struct bk_store *store,
                       const struct bk_job *job, struct bk_arena *arena,
                       struct bk_errbuf *err);
    enum bk_err (*on_dead)(void *ctx, struct bk_tx *tx,
                           const struct bk_job *job, const char *error,
                           struct bk_errbuf *err);
    /* A periodic kind's first run (may be NULL): enqueues it, under a
     * dedupe key per period so that restarts and instances do not multiply
     * it. Called once by bk_jobs_start, inside one queue transaction for
     * every kind; each run then enqueues the next. */
    enum bk_err (*schedule)(void *ctx, struct bk_tx *tx, int64_t now_ms,
                            struct bk_errbuf *err);
    void *ctx; /* borrowed; passed to run, on_dead and schedule */
};

/* Jobs a worker claims in one transaction when none is waiting locally. */
#define BK_JOBS_CLAIM_BATCH 4

struct bk_jobs_config {
    int workers;           /* threads, 0..64 (0: this process runs no
                              jobs; others sharing the database do) */
    int claim_batch;       /* jobs per claim, 1..BK_STORE_CLAIM_MAX; 0:
                              BK_JOBS_CLAIM_BATCH */
    int64_t lease_ms;      /* how long a claim lasts before it is retaken */
    int64_t retry_base_ms; /* first retry delay (before jitter) */
    int64_t retry_max_ms;  /* cap of the retry delay */
    int64_t idle_poll_ms;  /* longest sleep when nothing is due */
};

/* Schedules the periodic kinds (their schedule()), then starts the
 * workers. kinds (borrowed, must outlive the pool) maps job kinds to
 * handlers: the daemon's one table is cli/kinds.c. A claimed job of an
 * unknown kind goes dead. BK_E_CONFIG for a kind without a name or run(),
 * or a name registered twice. Returns an owned pool; stop it with
 * bk_jobs_free. */
BK_MUST_CHECK enum bk_err bk_jobs_start(struct bk_store *store,
                                        const struct bk_jobs_config *cfg,
                                        const struct bk_job_kind *kinds,
                                        size_t n_kinds, struct bk_jobs **out,
                                        struct bk_errbuf *err);

/* Wakes idle workers: call after committing new jobs. Thread-safe; NULL is
 * a no-op. On a database shared by several processes (PostgreSQL) the pool
 * also listens, on a thread and connection of its own, for the jobs every
 * process commits (bk_store_job_notify) and wakes itself; a lost
 * connection is opened again. */
void bk_jobs_wake(struct bk_jobs *jobs);

/* Stops the workers after their current job and frees the pool. NULL is a
 * no-op. */
void bk_jobs_free(struct bk_jobs *jobs);

/* Marks job done inside tx, the transaction that applies its effect.
 * BK_E_STALE when the lease was lost to another worker: roll back. */
BK_MUST_CHECK enum bk_err bk_jobs_finish(struct bk_tx *tx,
                                         const struct bk_job *job,
                                         struct bk_errbuf *err);

#endif
