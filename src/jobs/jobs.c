/* jobs/jobs.c — worker threads: claim, run, record. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobs/jobs.h"
#include "base/fault.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "core/backoff.h"
#include "crypto/crypto.h"
#include "base/banned.h"

/* A job claimed in a batch and not started yet, in the pool's local
 * queue. It owns its arena (the job's strings, then the run's
 * allocations). */
struct claimed {
    struct claimed *next;
    struct bk_job job;
    struct bk_arena arena;
    int64_t start_by_mono; /* not started by then (monotonic ms): given
                              back, not run */
};

/* A job a worker is running: what the pool needs to renew its lease. */
struct running {
    bool active;
    int64_t id, token;
    int64_t renew_at_mono; /* renew from then on (a quarter of the lease
                              after the last renewal) */
};

/* A worker's heartbeat (GET /readyz), read without the pool's lock. */
struct beat {
    /* Monotonic ms at which the worker began its current turn (a claim or
     * one job); 0 while it waits idle for work. */
    _Atomic int64_t busy_since;
    _Atomic bool exited; /* the thread ended */
};

struct bk_jobs {
    struct bk_store *store;
    struct bk_jobs_config cfg;
    const struct bk_job_kind *kinds;
    size_t n_kinds;
    pthread_t *threads;
    int n_threads;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t wakeups; /* bumped by bk_jobs_wake, under lock */
    bool stopping;
    struct claimed *head, *tail; /* the local queue, under lock */
    /* The listener thread (a database with several processes). */
    pthread_t listener;
    bool has_listener;
    int stop_pipe[2]; /* written once at stop: wakes the listener */
    /* Leases and clocks, under lock. */
    struct running *running; /* BK_JOBS_RUN_BATCH per worker: the jobs
                                its run_batch call holds */
    int n_running;           /* n_threads * BK_JOBS_RUN_BATCH */
    struct beat beats[64];   /* one per worker */
    pthread_t keeper;        /* renews the running jobs' leases */
    bool has_keeper;
    int64_t clock_offset; /* wall - monotonic at the last look */
    int64_t step_ms;      /* a wall-clock step not handled yet */
    bool stepping;        /* a thread is handling one */
    int store_streak;     /* jobs failed by the store in a row, under lock */
};

/* The pool whose worker runs on this thread (for bk_jobs_fence). */
static _Thread_local struct bk_jobs *this_pool;

/* A change of the wall clock against the monotonic one this large is a
 * step; smaller ones (slewing) are not. */
#define STEP_MIN_MS 1000

static int64_t wall_ms(const struct bk_jobs *jobs)
{
    return jobs->cfg.wall_ms ? jobs->cfg.wall_ms() : bk_now_ms();
}

static int64_t mono_ms(const struct bk_jobs *jobs)
{
    return jobs->cfg.mono_ms ? jobs->cfg.mono_ms() : bk_mono_ms();
}

/* Pauses between attempts to listen again, doubling. */
#define LISTEN_RETRY_MIN_MS 100
#define LISTEN_RETRY_MAX_MS 5000

enum bk_err bk_jobs_finish(struct bk_tx *tx, const struct bk_job *job,
                           struct bk_errbuf *err)
{
    struct bk_jobs *jobs = this_pool;

    return bk_store_job_complete(tx, job->id, job->lease_token,
                                 jobs ? wall_ms(jobs) : bk_now_ms(), err);
}

/* The running slot of job, or NULL. Under lock. */
static struct running *running_of(struct bk_jobs *jobs,
                                  const struct bk_job *job)
{
    for (int i = 0; i < jobs->n_running; i++)
        if (jobs->running[i].active && jobs->running[i].id == job->id &&
            jobs->running[i].token == job->lease_token)
            return &jobs->running[i];
    return NULL;
}

enum bk_err bk_jobs_fence(struct bk_store *store, const struct bk_job *job,
                          struct bk_errbuf *err)
{
    struct bk_jobs *jobs = this_pool;
    struct bk_tx *tx = NULL;
    struct running *r;
    int64_t mono;
    enum bk_err e;

    if (!jobs || jobs->store != store)
        return bk_fail(err, BK_E_INTERNAL,
                       "bk_jobs_fence outside a worker of this store's pool");
    mono = mono_ms(jobs);
    e = bk_store_begin(store, BK_TX_QUEUE, &tx, err);
    if (!e)
        e = bk_store_job_renew(tx, job->id, job->lease_token, wall_ms(jobs),
                               jobs->cfg.lease_ms, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    pthread_mutex_lock(&jobs->lock);
    r = running_of(jobs, job);
    if (r && !e)
        r->renew_at_mono = mono + jobs->cfg.lease_ms / 4;
    pthread_mutex_unlock(&jobs->lock);
    return e;
}

/* Looks for a step of the wall clock since the last look, into step_ms.
 * Under lock. */
static void clock_look(struct bk_jobs *jobs)
{
    int64_t off = wall_ms(jobs) - mono_ms(jobs);
    int64_t d = off - jobs->clock_offset;

    if (d > -STEP_MIN_MS && d < STEP_MIN_MS)
        return;
    jobs->clock_offset = off;
    jobs->step_ms += d;
}

/* Inside tx: after a step of the wall clock (step_ms, 0: none), moves the
 * times written before a backward one, and renews the leases of the
 * running jobs whose time has come — all of them after a step, for a
 * forward one makes them look expired to every claimer. */
static enum bk_err maintain(struct bk_jobs *jobs, struct bk_tx *tx,
                            int64_t step_ms, struct bk_errbuf *err)
{
    struct running *now_running;
    int64_t now = wall_ms(jobs), mono = mono_ms(jobs);
    int n = 0, changed = 0;
    enum bk_err e = BK_OK;

    if (step_ms < 0) {
        e = bk_store_job_shift(tx, now, step_ms, &changed, err);
        if (!e)
            bk_log_warn("jobs: the wall clock stepped back %lldms; moved %d "
                        "job(s) written before the step",
                        (long long)-step_ms, changed);
    } else if (step_ms > 0)
        bk_log_warn("jobs: the wall clock stepped forward %lldms; renewing "
                    "the leases of running jobs",
                    (long long)step_ms);
    if (e)
        return e;
    now_running = bk_xcalloc((size_t)(jobs->n_running ? jobs->n_running : 1),
                             sizeof(*now_running));
    pthread_mutex_lock(&jobs->lock);
    for (int i = 0; i < jobs->n_running; i++)
        if (jobs->running[i].active &&
            (step_ms || jobs->running[i].renew_at_mono <= mono))
            now_running[n++] = jobs->running[i];
    pthread_mutex_unlock(&jobs->lock);
    for (int i = 0; i < n && !e; i++) {
        e = bk_store_job_renew(tx, now_running[i].id, now_running[i].token, now,
                               jobs->cfg.lease_ms, err);
        if (e == BK_E_STALE) {
            bk_log_warn("jobs: job %lld lost its lease while running",
                        (long long)now_running[i].id);
            e = BK_OK;
        }
    }
    if (!e && n) {
        pthread_mutex_lock(&jobs->lock);
        for (int i = 0; i < n; i++) {
            struct bk_job j = {.id = now_running[i].id,
                               .lease_token = now_running[i].token};
            struct running *r = running_of(jobs, &j);
            if (r)
                r->renew_at_mono = mono + jobs->cfg.lease_ms / 4;
        }
        pthread_mutex_unlock(&jobs->lock);
    }
    free(now_running);
    return e;
}

/* Takes the step to handle, if any: *step_ms (0: none). false when
 * another thread is handling one (claim nothing until it is done). */
static bool step_take(struct bk_jobs *jobs, int64_t *step_ms)
{
    bool ok = true;

    *step_ms = 0;
    pthread_mutex_lock(&jobs->lock);
    clock_look(jobs);
    if (jobs->stepping)
        ok = false;
    else if (jobs->step_ms) {
        *step_ms = jobs->step_ms;
        jobs->step_ms = 0;
        jobs->stepping = true;
    }
    pthread_mutex_unlock(&jobs->lock);
    return ok;
}

/* Ends the handling of a step; one that failed is handled again. */
static void step_done(struct bk_jobs *jobs, int64_t step_ms, bool failed)
{
    if (!step_ms)
        return;
    pthread_mutex_lock(&jobs->lock);
    jobs->stepping = false;
    if (failed)
        jobs->step_ms += step_ms;
    pthread_mutex_unlock(&jobs->lock);
}

static const struct bk_job_kind *find_kind(const struct bk_jobs *jobs,
                                           const char *name)
{
    for (size_t i = 0; i < jobs->n_kinds; i++)
        if (strcmp(jobs->kinds[i].name, name) == 0)
            return &jobs->kinds[i];
    return NULL;
}

static bool permanent(enum bk_err e)
{
    return e == BK_E_INVALID || e == BK_E_MALFORMED || e == BK_E_NOT_FOUND;
}

/* Whether a run that failed with e failed because the store did: the
 * codes only the store returns, or an I/O or availability error while the
 * thread saw the store fail since mark (a network I/O error counts). */
static bool store_failure(enum bk_err e, uint64_t mark)
{
    if (e == BK_E_BUSY || e == BK_E_SERIALIZATION || e == BK_E_STORAGE_FULL)
        return true;
    return (e == BK_E_IO || e == BK_E_UNAVAILABLE) &&
           bk_store_transient_mark() != mark;
}

/* Notes a run that ended (ok: not by a store failure); returns the streak
 * of store failures including this one. */
static int note_streak(struct bk_jobs *jobs, bool store_failed)
{
    int n;

    pthread_mutex_lock(&jobs->lock);
    if (!store_failed)
        jobs->store_streak = 0;
    else if (jobs->store_streak < 30)
        jobs->store_streak++;
    n = jobs->store_streak;
    pthread_mutex_unlock(&jobs->lock);
    return n;
}

/* Records a failed attempt: retry later, or dead. A failure of the store
 * (by_store) is not the job's: it is retried without counting, after a
 * back-off that grows with the streak of such failures. */
static void record_failure(struct bk_jobs *jobs, const struct bk_job_kind *k,
                           const struct bk_job *job, enum bk_err e,
                           const char *msg, bool by_store)
{
    struct bk_tx *tx = NULL;
    struct bk_errbuf err;
    char text[400];
    /* Refused by a provider's rate limit or circuit breaker before it was
     * sent: not an attempt (jobs.h). */
    bool deferred = !by_store && e == BK_E_RATE_LIMITED && k;
    bool dead = !by_store && !deferred &&
                (permanent(e) || !k || job->attempts >= job->max_attempts);
    uint32_t r;
    int64_t now = wall_ms(jobs), delay = 0;
    enum bk_err fe;

    bk_errbuf_clear(&err);
    snprintf(text, sizeof(text), "%s: %s", bk_err_name(e),
             msg && *msg ? msg : "(no detail)");
    if (!dead) {
        bk_random_bytes(&r, sizeof(r));
        /* A store failure waits by the pool's streak of them; a deferred
         * job as long as its last counted attempt did. */
        delay =
            bk_backoff_ms(by_store ? note_streak(jobs, true)
                          : deferred && job->attempts > 1 ? job->attempts - 1
                                                          : job->attempts,
                          jobs->cfg.retry_base_ms, jobs->cfg.retry_max_ms, r);
    }
    fe = bk_store_begin(jobs->store, BK_TX_QUEUE, &tx, &err);
    if (!fe && (by_store || deferred)) /* either way, not an attempt */
        fe = bk_store_job_postpone(tx, job->id, job->lease_token, now + delay,
                                   text, now, &err);
    else if (!fe)
        fe = bk_store_job_fail(tx, job->id, job->lease_token, dead, now + delay,
                               text, now, &err);
    if (!fe && dead && k && k->on_dead)
        fe = k->on_dead(k->ctx, tx, job, text, &err);
    if (!fe) {
        fe = bk_store_commit(tx, &err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    if (fe == BK_E_STALE)
        bk_log_warn("jobs: job %lld lost its lease before its failure was "
                    "recorded",
                    (long long)job->id);
    else if (fe)
        bk_log_error("jobs: cannot record the failure of job %lld: %s",
                     (long long)job->id, err.msg);
    else if (by_store)
        bk_log_info("jobs: job %lld (%s) failed with the store, retry in "
                    "%lldms (not counted as an attempt): %s",
                    (long long)job->id, job->kind, (long long)delay, text);
    else if (dead)
        bk_log_warn("jobs: job %lld (%s) is dead after %d attempt(s): %s",
                    (long long)job->id, job->kind, job->attempts, text);
    else if (deferred)
        bk_log_info("jobs: job %lld (%s) deferred (not counted as an "
                    "attempt), again in %lldms: %s",
                    (long long)job->id, job->kind, (long long)delay, text);
    else
        bk_log_info("jobs: job %lld (%s) attempt %d failed, retry in %lldms: "
                    "%s",
                    (long long)job->id, job->kind, job->attempts,
                    (long long)delay, text);
}

/* Gives claimed jobs that will not run here back to the queue, in one
 * transaction, so that any worker of any instance takes them at once
 * rather than after their lease. */
static void give_back(struct bk_jobs *jobs, struct claimed *list)
{
    struct bk_tx *tx = NULL;
    struct bk_errbuf err;
    int64_t now = wall_ms(jobs);
    enum bk_err e;
    int n = 0;

    if (!list)
        return;
    bk_errbuf_clear(&err);
    /* LEASE: a give-back lost in a crash returns with the lease. */
    e = bk_store_begin(jobs->store, BK_TX_LEASE, &tx, &err);
    for (struct claimed *c = list; c && !e; c = c->next) {
        e = bk_store_job_release(tx, c->job.id, c->job.lease_token, now, &err);
        if (e == BK_E_STALE) /* its lease ran out and another has it */
            e = BK_OK;
        else if (!e)
            n++;
    }
    if (!e) {
        e = bk_store_commit(tx, &err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    if (e)
        bk_log_warn("jobs: cannot give back claimed jobs (they are taken "
                    "again when their lease runs out): %s",
                    err.msg);
    else
        bk_log_debug("jobs: gave back %d claimed job(s)", n);
}

static void claimed_free(struct claimed *c)
{
    while (c) {
        struct claimed *next = c->next;
        bk_arena_release(&c->arena);
        free(c);
        c = next;
    }
}

/* A copy of job with its strings in a's memory. */
static void job_copy(struct bk_arena *a, const struct bk_job *src,
                     struct bk_job *dst)
{
    *dst = *src;
    dst->kind = bk_arena_strdup(a, src->kind);
    dst->dedupe_key = bk_arena_strdup(a, src->dedupe_key);
    dst->payload = bk_arena_strdup(a, src->payload);
    dst->last_error = bk_arena_strdup(a, src->last_error);
}

/* Claims up to cfg.claim_batch due jobs in one transaction and appends them
 * to the local queue. Returns how many (0: none was due; *due_ms is then how
 * long until the next due time, or 0 when the queue is idle, or negative
 * for a short wait of -*due_ms). Each must start within half
 * its lease, or it is given back: a job waiting in the local queue never
 * outlives its lease. */
static int claim(struct bk_jobs *jobs, int64_t *due_ms)
{
    struct bk_tx *tx = NULL;
    struct bk_errbuf err;
    struct bk_arena tmp;
    struct bk_job *batch = NULL;
    struct claimed *first = NULL, **link = &first;
    size_t n = 0;
    int64_t token, now, mono, step;
    enum bk_err e;

    bk_errbuf_clear(&err);
    *due_ms = 0;
    /* A step of the wall clock is handled (leases renewed, due times
     * moved) in the claim transaction, before the claim reads the stepped
     * clock; while one thread does, the others claim nothing. */
    if (!step_take(jobs, &step)) {
        *due_ms = -10; /* look again in 10ms */
        return 0;
    }
    bk_arena_init(&tmp);
    bk_random_bytes(&token, sizeof(token));
    now = wall_ms(jobs);
    mono = mono_ms(jobs);
    /* QUEUE: row locks suffice (PostgreSQL claims with SKIP LOCKED). A
     * claim need not wait for the disk (LEASE): one lost in a crash of the
     * machine returns when its lease runs out, and what a job then commits
     * is durable (and fenced by its token) on its own. The handling of a
     * clock step, which moves due times, stays durable. */
    e = bk_store_begin(jobs->store, step ? BK_TX_QUEUE : BK_TX_LEASE, &tx,
                       &err);
    if (!e)
        e = maintain(jobs, tx, step, &err);
    if (!e)
        e = bk_store_job_claim_batch(tx, now, jobs->cfg.lease_ms, token,
                                     jobs->cfg.claim_batch, &tmp, &batch, &n,
                                     &err);
    if (e == BK_E_NOT_FOUND) {
        int64_t due = 0;
        e = bk_store_job_next_due(tx, &due, &err);
        if (e == BK_OK || e == BK_E_NOT_FOUND)
            e = bk_store_commit(tx, &err); /* maintain()'s writes */
        else
            bk_store_rollback(tx);
        step_done(jobs, step, e != BK_OK);
        if (e)
            bk_log_warn("jobs: %s", err.msg);
        /* A duration: the wait runs on the monotonic clock. */
        *due_ms = due ? (due - now > 0 ? due - now : 1) : 0;
        bk_arena_release(&tmp);
        return 0;
    }
    if (!e) {
        e = bk_store_commit(tx, &err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    step_done(jobs, step, e != BK_OK);
    if (e) {
        bk_log_warn("jobs: cannot claim jobs: %s", err.msg);
        *due_ms = 1000; /* back off from a sick database */
        bk_arena_release(&tmp);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct claimed *c = bk_xcalloc(1, sizeof(*c));
        bk_arena_init(&c->arena);
        job_copy(&c->arena, &batch[i], &c->job);
        c->start_by_mono = mono + jobs->cfg.lease_ms / 2;
        *link = c;
        link = &c->next;
    }
    bk_arena_release(&tmp);

    pthread_mutex_lock(&jobs->lock);
    if (jobs->stopping) {
        pthread_mutex_unlock(&jobs->lock);
        give_back(jobs, first);
        claimed_free(first);
        return 0;
    }
    if (jobs->tail)
        jobs->tail->next = first;
    else
        jobs->head = first;
    for (jobs->tail = first; jobs->tail->next;)
        jobs->tail = jobs->tail->next;
    /* The others may take some. */
    if (n > 1)
        pthread_cond_broadcast(&jobs->cond);
    pthread_mutex_unlock(&jobs->lock);
    return (int)n;
}

/* Runs one claimed job and records its outcome. */
static void run_claimed(struct bk_jobs *jobs, int slot, struct claimed *c)
{
    struct bk_errbuf err;
    const struct bk_job *job = &c->job;
    const struct bk_job_kind *k = find_kind(jobs, job->kind);
    uint64_t mark;
    enum bk_err e;

    if (!k) {
        record_failure(jobs, NULL, job, BK_E_INVALID, "no handler for kind",
                       false);
        return;
    }
    bk_errbuf_clear(&err);
    pthread_mutex_lock(&jobs->lock);
    jobs->running[slot * BK_JOBS_RUN_BATCH] = (struct running){
        .active = true,
        .id = job->id,
        .token = job->lease_token,
        /* A quarter of the lease from the claim: the keeper, which looks
         * every quarter, renews it before half has passed. */
        .renew_at_mono = c->start_by_mono - jobs->cfg.lease_ms / 4,
    };
    pthread_mutex_unlock(&jobs->lock);
    mark = bk_store_transient_mark();
    e = k->run(k->ctx, jobs->store, job, &c->arena, &err);
    pthread_mutex_lock(&jobs->lock);
    jobs->running[slot * BK_JOBS_RUN_BATCH].active = false;
    pthread_mutex_unlock(&jobs->lock);
    if (e == BK_OK)
        bk_log_debug("jobs: job %lld (%s) done", (long long)job->id, job->kind);
    else if (e == BK_E_STALE)
        bk_log_warn("jobs: job %lld lost its lease; another worker has it",
                    (long long)job->id);
    if (e == BK_OK || (e != BK_E_STALE && !store_failure(e, mark)))
        note_streak(jobs, false);
    if (e != BK_OK && e != BK_E_STALE)
        record_failure(jobs, k, job, e, err.msg, store_failure(e, mark));
}

/* Runs claimed jobs of one kind that has run_batch (list, in claim
 * order, at most BK_JOBS_RUN_BATCH) and records each one's outcome. */
static void run_claimed_batch(struct bk_jobs *jobs, int slot,
                              const struct bk_job_kind *k, struct claimed *list)
{
    const struct bk_job *batch[BK_JOBS_RUN_BATCH];
    struct bk_arena *arenas[BK_JOBS_RUN_BATCH];
    enum bk_err results[BK_JOBS_RUN_BATCH];
    struct bk_errbuf *errs;
    struct running *r = &jobs->running[slot * BK_JOBS_RUN_BATCH];
    size_t n = 0;
    uint64_t mark;

    errs = bk_xcalloc(BK_JOBS_RUN_BATCH, sizeof(*errs));
    pthread_mutex_lock(&jobs->lock);
    for (struct claimed *c = list; c && n < BK_JOBS_RUN_BATCH; c = c->next) {
        batch[n] = &c->job;
        arenas[n] = &c->arena;
        results[n] = BK_E_INTERNAL;
        bk_errbuf_clear(&errs[n]);
        r[n] = (struct running){
            .active = true,
            .id = c->job.id,
            .token = c->job.lease_token,
            .renew_at_mono = c->start_by_mono - jobs->cfg.lease_ms / 4,
        };
        n++;
    }
    pthread_mutex_unlock(&jobs->lock);
    mark = bk_store_transient_mark();
    k->run_batch(k->ctx, jobs->store, batch, arenas, n, results, errs);
    pthread_mutex_lock(&jobs->lock);
    for (size_t i = 0; i < n; i++)
        r[i].active = false;
    pthread_mutex_unlock(&jobs->lock);
    for (size_t i = 0; i < n; i++) {
        bool by_store = store_failure(results[i], mark);
        if (results[i] == BK_OK || (results[i] != BK_E_STALE && !by_store))
            note_streak(jobs, false);
        if (results[i] == BK_OK)
            continue;
        if (results[i] == BK_E_STALE)
            bk_log_warn("jobs: job %lld lost its lease; another worker has it",
                        (long long)batch[i]->id);
        else
            record_failure(jobs, k, batch[i], results[i], errs[i].msg,
                           by_store);
    }
    bk_log_debug("jobs: ran %zu job(s) of %s together", n, k->name);
    free(errs);
}

/* Takes from the local queue (under lock) the claimed jobs of kind after
 * first, up to BK_JOBS_RUN_BATCH in all, onto first's list in order. */
static void gather(struct bk_jobs *jobs, struct claimed *first)
{
    struct claimed **link = &jobs->head, *last = first;
    int n = 1;

    while (*link && n < BK_JOBS_RUN_BATCH) {
        struct claimed *c = *link;
        if (strcmp(c->job.kind, first->job.kind) != 0) {
            link = &c->next;
            continue;
        }
        *link = c->next;
        c->next = NULL;
        last->next = c;
        last = c;
        n++;
    }
    jobs->tail = NULL;
    for (struct claimed *c = jobs->head; c; c = c->next)
        jobs->tail = c;
}

/* Runs what a worker took from the local queue: jobs whose start is past
 * due are given back, the rest run (together when their kind can). */
static void run_taken(struct bk_jobs *jobs, int slot, struct claimed *list)
{
    const struct bk_job_kind *k = find_kind(jobs, list->job.kind);
    struct claimed *late = NULL, *keep = NULL, **lt = &late, **kp = &keep;
    int64_t mono = mono_ms(jobs);

    for (struct claimed *c = list, *next; c; c = next) {
        next = c->next;
        c->next = NULL;
        /* Waited too long behind the jobs claimed with it. */
        if (mono > c->start_by_mono) {
            *lt = c;
            lt = &c->next;
        } else {
            *kp = c;
            kp = &c->next;
        }
    }
    give_back(jobs, late);
    claimed_free(late);
    if (!keep)
        return;
    if (k && k->run_batch && keep->next)
        run_claimed_batch(jobs, slot, k, keep);
    else
        for (struct claimed *c = keep; c; c = c->next)
            run_claimed(jobs, slot, c);
    claimed_free(keep);
}

/* A worker: its pool and its running slot. */
struct worker_arg {
    struct bk_jobs *jobs;
    int slot;
};

static void *worker(void *arg)
{
    struct worker_arg wa = *(struct worker_arg *)arg;
    struct bk_jobs *jobs = wa.jobs;

    free(arg);
    this_pool = jobs;
    for (;;) {
        struct claimed *c;
        const struct bk_job_kind *k;
        int64_t due = 0, wait_ms, now = mono_ms(jobs);
        uint64_t seen;

        /* Each turn is a beat; a turn that never ends is a stall. */
        atomic_store(&jobs->beats[wa.slot].busy_since, now ? now : 1);
        /* Test builds: a worker that stops dead, or hangs until the test
         * lets it go (GET /readyz must tell). */
        if (bk_fault_kill("jobs.worker.exit"))
            break;
        bk_fault_hold("jobs.worker.hold");
        pthread_mutex_lock(&jobs->lock);
        if (jobs->stopping) {
            pthread_mutex_unlock(&jobs->lock);
            break;
        }
        seen = jobs->wakeups;
        c = jobs->head;
        if (c) {
            jobs->head = c->next;
            if (!jobs->head)
                jobs->tail = NULL;
            c->next = NULL;
            k = find_kind(jobs, c->job.kind);
            if (k && k->run_batch)
                gather(jobs, c);
        }
        pthread_mutex_unlock(&jobs->lock);

        if (c) {
            run_taken(jobs, wa.slot, c);
            continue;
        }
        if (claim(jobs, &due) > 0)
            continue;

        wait_ms = jobs->cfg.idle_poll_ms;
        if (due < 0)
            wait_ms = -due;
        else if (due && due < wait_ms)
            wait_ms = due;
        atomic_store(&jobs->beats[wa.slot].busy_since, 0);
        pthread_mutex_lock(&jobs->lock);
        if (!jobs->stopping && jobs->wakeups == seen && !jobs->head) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (wait_ms % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&jobs->cond, &jobs->lock, &ts);
        }
        pthread_mutex_unlock(&jobs->lock);
    }
    atomic_store(&jobs->beats[wa.slot].exited, true);
    return NULL;
}

void bk_jobs_health(struct bk_jobs *jobs, int64_t stall_ms,
                    struct bk_jobs_health *out)
{
    int64_t now;

    memset(out, 0, sizeof(*out));
    if (!jobs)
        return;
    now = mono_ms(jobs);
    out->workers = jobs->n_threads;
    for (int i = 0; i < jobs->n_threads; i++) {
        int64_t since = atomic_load(&jobs->beats[i].busy_since);
        if (atomic_load(&jobs->beats[i].exited)) {
            out->dead++;
            continue;
        }
        if (since && now - since > out->longest_busy_ms)
            out->longest_busy_ms = now - since;
        if (since && now - since > stall_ms)
            out->stalled++;
    }
}

/* Renews the leases of running jobs before half of each has passed, on the
 * monotonic clock, and handles steps of the wall clock while no worker
 * claims: a job that runs longer than its lease keeps it. */
static void *keeper(void *arg)
{
    struct bk_jobs *jobs = arg;
    int64_t every = jobs->cfg.lease_ms / 4;

    for (;;) {
        struct bk_tx *tx = NULL;
        struct bk_errbuf err;
        struct timespec ts;
        int64_t step, until;
        enum bk_err e;

        pthread_mutex_lock(&jobs->lock);
        until = mono_ms(jobs) + every;
        while (!jobs->stopping && mono_ms(jobs) < until) {
            int64_t left = until - mono_ms(jobs);
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += left / 1000;
            ts.tv_nsec += (left % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&jobs->cond, &jobs->lock, &ts);
        }
        if (jobs->stopping) {
            pthread_mutex_unlock(&jobs->lock);
            break;
        }
        pthread_mutex_unlock(&jobs->lock);
        if (!step_take(jobs, &step))
            continue;
        bk_errbuf_clear(&err);
        e = bk_store_begin(jobs->store, BK_TX_QUEUE, &tx, &err);
        if (!e)
            e = maintain(jobs, tx, step, &err);
        if (!e) {
            e = bk_store_commit(tx, &err);
            tx = NULL;
        }
        bk_store_rollback(tx);
        step_done(jobs, step, e != BK_OK);
        if (e)
            bk_log_warn("jobs: cannot renew leases: %s", err.msg);
        else if (step)
            bk_jobs_wake(jobs); /* moved jobs may be due */
    }
    return NULL;
}

/* Waits up to ms for the stop pipe; true when stopping. */
static bool stop_wait(struct bk_jobs *jobs, int ms)
{
    struct pollfd p = {.fd = jobs->stop_pipe[0], .events = POLLIN};

    return poll(&p, 1, ms) > 0;
}

/* Hears jobs committed by any instance (bk_store_job_notify) and wakes this
 * pool's workers, on a connection of its own; connects again after a lost
 * connection, with growing pauses, and wakes the workers once connected:
 * what was committed meanwhile was not heard. */
static void *listener(void *arg)
{
    struct bk_jobs *jobs = arg;
    struct bk_store_listener *l = NULL;
    struct bk_errbuf err;
    int pause_ms = LISTEN_RETRY_MIN_MS;
    bool warned = false;

    for (;;) {
        int n = 0;
        enum bk_err e;

        bk_errbuf_clear(&err);
        if (!l) {
            e = bk_store_job_listen(jobs->store, &l, &err);
            if (e == BK_E_UNAVAILABLE)
                break; /* SQLite: no other process to hear from */
            if (e) {
                if (!warned)
                    bk_log_warn("jobs: cannot listen for jobs of other "
                                "instances (retrying; until then they are "
                                "seen within %lldms): %s",
                                (long long)jobs->cfg.idle_poll_ms, err.msg);
                warned = true;
                if (stop_wait(jobs, pause_ms))
                    break;
                pause_ms = pause_ms * 2 > LISTEN_RETRY_MAX_MS
                               ? LISTEN_RETRY_MAX_MS
                               : pause_ms * 2;
                continue;
            }
            if (warned)
                bk_log_info("jobs: listening for jobs of other instances "
                            "again");
            warned = false;
            pause_ms = LISTEN_RETRY_MIN_MS;
            bk_jobs_wake(jobs);
        }
        e = bk_store_listener_wait(l, jobs->stop_pipe[0], 60000, &n, &err);
        if (e) {
            bk_log_warn("jobs: %s; listening again", err.msg);
            warned = true;
            bk_store_listener_free(l);
            l = NULL;
            continue;
        }
        if (stop_wait(jobs, 0))
            break;
        if (n)
            bk_jobs_wake(jobs);
    }
    bk_store_listener_free(l);
    return NULL;
}

/* Runs every periodic kind's schedule() in one transaction. */
static enum bk_err schedule_kinds(struct bk_store *store,
                                  const struct bk_job_kind *kinds,
                                  size_t n_kinds, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    int64_t now = bk_now_ms();
    enum bk_err e;

    e = bk_store_begin(store, BK_TX_QUEUE, &tx, err);
    for (size_t i = 0; i < n_kinds && !e; i++)
        if (kinds[i].schedule)
            e = kinds[i].schedule(kinds[i].ctx, tx, now, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

/* Starts the listener thread (which ends at once on a database of one
 * process). */
static enum bk_err start_listener(struct bk_jobs *jobs, struct bk_errbuf *err)
{
    if (jobs->n_threads == 0)
        return BK_OK; /* nobody to wake */
    if (pipe(jobs->stop_pipe) != 0)
        return bk_fail(err, BK_E_INTERNAL, "pipe: %s", strerror(errno));
    fcntl(jobs->stop_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(jobs->stop_pipe[1], F_SETFD, FD_CLOEXEC);
    if (pthread_create(&jobs->listener, NULL, listener, jobs) != 0)
        return bk_fail(err, BK_E_INTERNAL, "cannot start the listener thread");
    jobs->has_listener = true;
    return BK_OK;
}

enum bk_err bk_jobs_start(struct bk_store *store,
                          const struct bk_jobs_config *cfg,
                          const struct bk_job_kind *kinds, size_t n_kinds,
                          struct bk_jobs **out, struct bk_errbuf *err)
{
    struct bk_jobs *jobs;
    pthread_condattr_t ca;
    enum bk_err e;

    *out = NULL;
    if (cfg->workers < 0 || cfg->workers > 64 || cfg->lease_ms < 100 ||
        cfg->retry_base_ms < 1 || cfg->retry_max_ms < cfg->retry_base_ms ||
        cfg->idle_poll_ms < 1 || cfg->claim_batch < 0 ||
        cfg->claim_batch > BK_STORE_CLAIM_MAX)
        return bk_fail(err, BK_E_CONFIG, "invalid job pool configuration");
    for (size_t i = 0; i < n_kinds; i++) {
        if (!kinds[i].name || !kinds[i].run)
            return bk_fail(err, BK_E_CONFIG, "job kind %zu has no %s", i,
                           kinds[i].name ? "handler" : "name");
        for (size_t j = 0; j < i; j++)
            if (strcmp(kinds[i].name, kinds[j].name) == 0)
                return bk_fail(err, BK_E_CONFIG,
                               "job kind '%s' is registered twice",
                               kinds[i].name);
    }
    e = schedule_kinds(store, kinds, n_kinds, err);
    if (e)
        return e;
    jobs = bk_xcalloc(1, sizeof(*jobs));
    jobs->stop_pipe[0] = jobs->stop_pipe[1] = -1;
    jobs->store = store;
    jobs->cfg = *cfg;
    if (!jobs->cfg.claim_batch)
        jobs->cfg.claim_batch = BK_JOBS_CLAIM_BATCH;
    jobs->kinds = kinds;
    jobs->n_kinds = n_kinds;
    pthread_mutex_init(&jobs->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&jobs->cond, &ca);
    pthread_condattr_destroy(&ca);
    jobs->threads = bk_xcalloc((size_t)cfg->workers, sizeof(pthread_t));
    jobs->n_running = cfg->workers * BK_JOBS_RUN_BATCH;
    jobs->running = bk_xcalloc((size_t)(jobs->n_running ? jobs->n_running : 1),
                               sizeof(*jobs->running));
    jobs->clock_offset = wall_ms(jobs) - mono_ms(jobs);
    for (int i = 0; i < cfg->workers; i++) {
        struct worker_arg *wa = bk_xcalloc(1, sizeof(*wa));
        wa->jobs = jobs;
        wa->slot = i;
        if (pthread_create(&jobs->threads[i], NULL, worker, wa) != 0) {
            free(wa);
            bk_jobs_free(jobs);
            return bk_fail(err, BK_E_INTERNAL, "cannot start worker threads");
        }
        jobs->n_threads++;
    }
    if (jobs->n_threads > 0) {
        if (pthread_create(&jobs->keeper, NULL, keeper, jobs) != 0) {
            bk_jobs_free(jobs);
            return bk_fail(err, BK_E_INTERNAL, "cannot start the lease keeper");
        }
        jobs->has_keeper = true;
    }
    e = start_listener(jobs, err);
    if (e) {
        bk_jobs_free(jobs);
        return e;
    }
    *out = jobs;
    return BK_OK;
}

void bk_jobs_wake(struct bk_jobs *jobs)
{
    if (!jobs)
        return;
    pthread_mutex_lock(&jobs->lock);
    jobs->wakeups++;
    pthread_cond_broadcast(&jobs->cond);
    pthread_mutex_unlock(&jobs->lock);
}

void bk_jobs_free(struct bk_jobs *jobs)
{
    if (!jobs)
        return;
    pthread_mutex_lock(&jobs->lock);
    jobs->stopping = true;
    pthread_cond_broadcast(&jobs->cond);
    pthread_mutex_unlock(&jobs->lock);
    if (jobs->has_listener) {
        if (write(jobs->stop_pipe[1], "x", 1) != 1)
            bk_log_error("jobs: cannot stop the listener: %s", strerror(errno));
        pthread_join(jobs->listener, NULL);
    }
    for (int i = 0; i < 2; i++)
        if (jobs->stop_pipe[i] >= 0)
            close(jobs->stop_pipe[i]);
    for (int i = 0; i < jobs->n_threads; i++)
        pthread_join(jobs->threads[i], NULL);
    if (jobs->has_keeper)
        pthread_join(jobs->keeper, NULL);
    /* Claimed and not started: for the next worker, here or elsewhere. */
    give_back(jobs, jobs->head);
    claimed_free(jobs->head);
    pthread_cond_destroy(&jobs->cond);
    pthread_mutex_destroy(&jobs->lock);
    free(jobs->threads);
    free(jobs->running);
    free(jobs);
}

void bk_jobs_kind_init(struct bk_job_kind *out, const char *name,
                       enum bk_err (*run)(void *ctx, struct bk_store *store,
                                          const struct bk_job *job,
                                          struct bk_arena *arena,
                                          struct bk_errbuf *err),
                       enum bk_err (*on_dead)(void *ctx, struct bk_tx *tx,
                                              const struct bk_job *job,
                                              const char *error,
                                              struct bk_errbuf *err),
                       void *ctx)
{
    memset(out, 0, sizeof(*out));
    out->name = name;
    out->run = run;
    out->on_dead = on_dead;
    out->ctx = ctx;
}

int64_t bk_jobs_period_of(const struct bk_job *job, const char *kind)
{
    const char *p = job && job->dedupe_key ? job->dedupe_key : "";
    size_t n = strlen(kind);
    int64_t v = -1;

    if (strncmp(p, kind, n) != 0 || p[n] != ':' ||
        bk_parse_i64(p + n + 1, 0, INT64_MAX, &v) != BK_OK)
        return -1;
    return v;
}

static enum bk_err finish_alone_once(
    struct bk_store *store, enum bk_tx_mode mode, const struct bk_job *job,
    enum bk_err (*apply)(struct bk_tx *tx, void *ctx, struct bk_arena *arena,
                         struct bk_errbuf *err),
    void *ctx, struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e = bk_store_begin(store, mode, &tx, err);

    if (!e && apply)
        e = apply(tx, ctx, arena, err);
    if (!e)
        e = bk_jobs_finish(tx, job, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

enum bk_err bk_jobs_finish_alone(
    struct bk_store *store, enum bk_tx_mode mode, const struct bk_job *job,
    enum bk_err (*apply)(struct bk_tx *tx, void *ctx, struct bk_arena *arena,
                         struct bk_errbuf *err),
    void *ctx, struct bk_arena *arena, struct bk_errbuf *err)
{
    enum bk_err e;

    BK_STORE_RETRY(e,
                   finish_alone_once(store, mode, job, apply, ctx, arena, err));
    return e;
}

enum bk_err bk_jobs_enqueue_period(struct bk_tx *tx, const char *kind,
                                   int64_t interval_ms, int max_attempts,
                                   int64_t now_ms, bool current, int64_t after,
                                   struct bk_errbuf *err)
{
    int64_t period, run_at, id;
    char key[128];
    bool existed;
    int n;

    if (interval_ms <= 0)
        return bk_fail(err, BK_E_INTERNAL, "%s: period of %" PRId64 " ms", kind,
                       interval_ms);
    period = now_ms / interval_ms + (current ? 0 : 1);
    if (after >= 0 && period <= after)
        period = after + 1;
    run_at = period * interval_ms;
    if (!current && run_at > now_ms + interval_ms)
        run_at = now_ms + interval_ms;
    n = snprintf(key, sizeof(key), "%s:%" PRId64, kind, period);
    if (n < 0 || (size_t)n >= sizeof(key))
        return bk_fail(err, BK_E_INTERNAL, "job kind too long: %s", kind);
    return bk_store_job_enqueue(tx, kind, key, NULL, run_at, max_attempts,
                                now_ms, &id, &existed, err);
}

/* The next period's run, enqueued by bk_jobs_finish_period. */
struct next_run {
    const char *kind;
    int64_t interval_ms, after;
    int max_attempts;
};

static enum bk_err enqueue_next(struct bk_tx *tx, void *ctx,
                                struct bk_arena *arena, struct bk_errbuf *err)
{
    const struct next_run *n = ctx;

    (void)arena;
    return bk_jobs_enqueue_period(tx, n->kind, n->interval_ms, n->max_attempts,
                                  bk_now_ms(), false, n->after, err);
}

enum bk_err bk_jobs_finish_period(struct bk_store *store,
                                  const struct bk_job *job, bool next,
                                  int64_t interval_ms, int max_attempts,
                                  int64_t after, struct bk_errbuf *err)
{
    struct next_run n = {job->kind, interval_ms, after, max_attempts};

    return bk_jobs_finish_alone(store, BK_TX_QUEUE, job,
                                next ? enqueue_next : NULL, &n, NULL, err);
}
