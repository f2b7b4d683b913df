/* jobs/jobs.h — the worker pool behind the inbox and the outbox.
 * A job is a row written in the same transaction as the change that implies
 * it (store.h "Jobs"). Workers claim due jobs under a lease — several in one
 * transaction, into a queue local to the pool from which every idle worker
 * takes; a claimed job that has not started within half its lease is given
 * back rather than held (so it never waits here past its lease) — run the
 * kind's handler, and record the outcome: done, retried later with exponential
 * backoff and jitter (core/backoff.h), or dead (out of attempts or a
 * permanent error) for an admin to inspect and replay. A job whose worker
 * died is claimed again when its lease expires (a running job's lease is
 * renewed by the pool, on the monotonic clock, before half of it has
 * passed, and at once after a forward step of the wall clock; a backward
 * step moves the due times written before it); handlers are therefore
 * idempotent, and ledger-only handlers commit their change together with
 * the job's completion (bk_jobs_finish) so it happens exactly once. */
#ifndef BK_JOBS_JOBS_H
#define BK_JOBS_JOBS_H

#include <stdbool.h>
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
 * - BK_E_RATE_LIMITED when a provider's rate limit or open circuit breaker
 *   refused the request before it was sent (net/limits.h): retried later
 *   (after the backoff of its last counted attempt) without counting the
 *   attempt, so an outage of one provider does not use up its jobs;
 * - anything else (BK_E_RETRY, BK_E_BUSY, BK_E_IO, ...) to retry later,
 *   until max_attempts. A failure that was the store's (BK_E_BUSY,
 *   BK_E_SERIALIZATION, BK_E_STORAGE_FULL, or BK_E_IO / BK_E_UNAVAILABLE
 *   while the run saw the store fail: bk_store_transient_mark) is retried
 *   without counting against max_attempts, after a back-off that grows
 *   while the store keeps failing: a database down for a while turns no
 *   job into a dead letter.
 * on_dead (may be NULL) runs inside the transaction that marks the job
 * dead, to record the failure elsewhere (a delivery's status). */
struct bk_job_kind {
    const char *name; /* "inbox.apply" */
    enum bk_err (*run)(void *ctx, struct bk_store *store,
                       const struct bk_job *job, struct bk_arena *arena,
                       struct bk_errbuf *err);
    /* Runs several claimed jobs of this kind at once (may be NULL: run()
     * one at a time). The pool gathers up to BK_JOBS_RUN_BATCH jobs of the
     * kind from its local queue, in claim (due) order; results[i] gets what
     * run() would have returned for jobs[i] (BK_OK: its completion is
     * committed) and errs[i] the message of a failure, which the pool
     * records as it records run()'s. A failure of one job must not undo
     * another's committed effect: a kind that batches several jobs into
     * one transaction gives each its own outcome (docs/architecture.md
     * "Applying deliveries in batches"). */
    void (*run_batch)(void *ctx, struct bk_store *store,
                      const struct bk_job *const *jobs,
                      struct bk_arena *const *arenas, size_t n,
                      enum bk_err *results, struct bk_errbuf *errs);
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

/* The usual kind: fills out with name, run, on_dead (may be NULL) and ctx
 * (borrowed), everything else empty. */
void bk_jobs_kind_init(struct bk_job_kind *out, const char *name,
                       enum bk_err (*run)(void *ctx, struct bk_store *store,
                                          const struct bk_job *job,
                                          struct bk_arena *arena,
                                          struct bk_errbuf *err),
                       enum bk_err (*on_dead)(void *ctx, struct bk_tx *tx,
                                              const struct bk_job *job,
                                              const char *error,
                                              struct bk_errbuf *err),
                       void *ctx);

/* The period of a periodic run, from its dedupe key "<kind>:<period>"
 * (a whole number, 0 or more); -1 when the key is not of that form (a run
 * asked for otherwise). */
int64_t bk_jobs_period_of(const struct bk_job *job, const char *kind);

/* Enqueues the run of a periodic kind for one period, unless a job of
 * that period was enqueued before: periods are UTC-aligned windows of
 * interval_ms (> 0) milliseconds since the epoch, numbered from 0, and the
 * run's dedupe key "<kind>:<period>" (bk_jobs_period_of) makes the call
 * idempotent across runs, restarts and instances sharing the database.
 * now_ms: the wall clock, milliseconds since the epoch. current: the
 * period now_ms is in, due at its start (at once), as a kind's schedule()
 * asks; otherwise the period that follows, due at its start. after (-1:
 * none) is the period of the run that enqueues it: the next one is never
 * that period or an earlier one, whose key a run already used when the
 * wall clock stepped back (the chain of runs would stop on it), and the
 * run of a following period is due one interval_ms from now_ms at the
 * latest. max_attempts: of the new job. Returns BK_OK whether it enqueued
 * or found the job there; BK_E_INTERNAL for interval_ms <= 0 or a kind
 * longer than 100 bytes; otherwise bk_store_job_enqueue's error. Runs
 * inside tx (borrowed; a BK_TX_QUEUE transaction in the run that finishes
 * the job, so the next run is queued exactly when this one is done). */
BK_MUST_CHECK enum bk_err
bk_jobs_enqueue_period(struct bk_tx *tx, const char *kind, int64_t interval_ms,
                       int max_attempts, int64_t now_ms, bool current,
                       int64_t after, struct bk_errbuf *err);

/* Jobs a worker claims in one transaction when none is waiting locally. */
#define BK_JOBS_CLAIM_BATCH 64
/* The most jobs one run_batch call gets. */
#define BK_JOBS_RUN_BATCH 64

struct bk_jobs_config {
    int workers;           /* threads, 0..64 (0: this process runs no
                              jobs; others sharing the database do) */
    int claim_batch;       /* jobs per claim, 1..BK_STORE_CLAIM_MAX; 0:
                              BK_JOBS_CLAIM_BATCH */
    int64_t lease_ms;      /* how long a claim lasts before it is retaken */
    int64_t retry_base_ms; /* first retry delay (before jitter) */
    int64_t retry_max_ms;  /* cap of the retry delay */
    int64_t idle_poll_ms;  /* longest sleep when nothing is due */
    /* The clocks (NULL: bk_now_ms and bk_mono_ms), for tests that step
     * the wall clock. The wall clock gives the database's shared times
     * (due times, lease deadlines); everything the pool waits for or
     * believes about its own leases runs on the monotonic one. */
    int64_t (*wall_ms)(void);
    int64_t (*mono_ms)(void);
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

/* Liveness of the workers (GET /readyz). Each worker beats at every turn
 * of its loop (a claim, or one job) on the monotonic clock, and rests
 * while it waits idle for work. */
struct bk_jobs_health {
    int workers;             /* threads started */
    int stalled;             /* in one turn for longer than stall_ms */
    int dead;                /* threads that ended while the pool runs */
    int64_t longest_busy_ms; /* the longest turn in progress, ms */
};

/* Fills out for the pool (all zero for NULL). Thread-safe and lock-free:
 * a stuck worker, or one holding the pool's lock, does not stall the
 * caller. stall_ms: how long one turn may take (a job's own time-outs
 * bound it: SMTP, outbound webhooks). */
void bk_jobs_health(struct bk_jobs *jobs, int64_t stall_ms,
                    struct bk_jobs_health *out);

/* Stops the workers after their current job and frees the pool. NULL is a
 * no-op. */
void bk_jobs_free(struct bk_jobs *jobs);

/* The fence before a job's external side effect (an email, a charge):
 * renews the job's lease in a short transaction of its own, guarded by its
 * lease token. BK_OK: this worker holds the job for another full lease
 * from now, so perform the effect at once. BK_E_STALE: the lease was lost
 * (it ran out, or the clock stepped) and another worker may run the job:
 * do not perform the effect; return BK_E_STALE. Call on the worker thread
 * that runs the job (the pool's lease length is known there). The window
 * left: an effect that takes longer than a lease after a successful fence,
 * or a worker paused (stopped, swapped) for a lease between the fence and
 * the effect, can still overlap the next owner's; effects therefore also
 * carry the job's dedupe key as an idempotency key where the provider
 * takes one (docs/architecture.md "Clocks and leases"). */
BK_MUST_CHECK enum bk_err bk_jobs_fence(struct bk_store *store,
                                        const struct bk_job *job,
                                        struct bk_errbuf *err);

/* Marks job done inside tx, the transaction that applies its effect.
 * BK_E_STALE when the lease was lost to another worker: roll back. */
BK_MUST_CHECK enum bk_err bk_jobs_finish(struct bk_tx *tx,
                                         const struct bk_job *job,
                                         struct bk_errbuf *err);

/* Marks job done in a transaction of its own (mode: BK_TX_WRITE, or
 * BK_TX_QUEUE where the job's completion is all it writes and needs no
 * serializable snapshot), for a handler whose effect happened outside the
 * ledger (a call to a provider) or that has nothing left to do. apply (may
 * be NULL) runs first in the same transaction, with ctx and arena
 * (borrowed; arena may be NULL when apply does not allocate), so that a
 * ledger change recording the effect commits exactly once with the job's
 * completion. The whole transaction is run again while it fails with
 * BK_E_SERIALIZATION, at most BK_STORE_TX_TRIES times (BK_STORE_RETRY):
 * apply must therefore read what it changes inside tx. Returns BK_OK once
 * committed; otherwise what begin, apply, bk_jobs_finish (BK_E_STALE: the
 * lease was lost) or the commit returned, with err set, and nothing of the
 * transaction is kept. Call on the worker thread that runs the job. */
BK_MUST_CHECK enum bk_err bk_jobs_finish_alone(
    struct bk_store *store, enum bk_tx_mode mode, const struct bk_job *job,
    enum bk_err (*apply)(struct bk_tx *tx, void *ctx, struct bk_arena *arena,
                         struct bk_errbuf *err),
    void *ctx, struct bk_arena *arena, struct bk_errbuf *err);

/* Finishes the run of a periodic kind (bk_jobs_finish_alone in a
 * BK_TX_QUEUE transaction) and, when next, enqueues in the same
 * transaction the run of the period after the wall clock's
 * (bk_jobs_enqueue_period of job->kind with current false, interval_ms,
 * max_attempts and after: this run's period, bk_jobs_period_of, or -1),
 * so that the next run exists exactly when this one is done. Errors as
 * bk_jobs_finish_alone's. */
BK_MUST_CHECK enum bk_err bk_jobs_finish_period(struct bk_store *store,
                                                const struct bk_job *job,
                                                bool next, int64_t interval_ms,
                                                int max_attempts, int64_t after,
                                                struct bk_errbuf *err);

#endif
