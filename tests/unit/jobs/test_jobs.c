/* tests/unit/jobs/test_jobs.c — the worker pool of jobs/jobs.c on a real
 * store: the kinds table it is started with, every job run exactly once by
 * several workers, and retries. The database: BOOKINGD_TEST_DATABASE_URL
 * when set (a fresh PostgreSQL database, tests/pg-env.sh), otherwise SQLite
 * files in a temporary directory: a new file per test, or on PostgreSQL
 * one database for the suite, each test with kinds of its own and counting
 * what changed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "base/time.h"
#include "jobs/jobs.h"
#include "jobs/prune.h"
#include "store/store.h"

static char dir[64];
static int db_seq;
static const char *pg_url;

#define OK(call)                                                               \
    do {                                                                       \
        struct bk_errbuf err_;                                                 \
        bk_errbuf_clear(&err_);                                                \
        enum bk_err e_ = (call);                                               \
        if (e_ != BK_OK)                                                       \
            fail_msg("%s: %s: %s", #call, bk_err_name(e_), err_.msg);          \
    } while (0)

/* A store on an empty, migrated database. */
static struct bk_store *fresh_store(void)
{
    char url[1024];
    struct bk_store *s = NULL;
    struct bk_errbuf err;

    bk_errbuf_clear(&err);
    if (pg_url)
        snprintf(url, sizeof(url), "%s", pg_url);
    else
        snprintf(url, sizeof(url), "sqlite:%s/db%d", dir, db_seq++);
    if (bk_store_open(url, 8, &s, &err) ||
        bk_store_migrate(s, NULL, NULL, &err))
        fail_msg("store: %s", err.msg);
    return s;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- A kind that counts its runs -------------------------------------- */

#define MAX_JOBS 256

struct counter {
    pthread_mutex_t mu;
    int runs[MAX_JOBS]; /* by the number in the payload */
    int total;
    int fail_first;        /* the first run of every job fails (retry) */
    int sleep_ms;          /* each run takes this long */
    int entered;           /* runs begun, finished or not */
    int refuse_first;      /* the first n runs of every job fail with */
    enum bk_err refuse_as; /* this error */
    int tries[MAX_JOBS];   /* runs begun, by job */
};

static enum bk_err count_run(void *ctx, struct bk_store *store,
                             const struct bk_job *job, struct bk_arena *arena,
                             struct bk_errbuf *err)
{
    struct counter *c = ctx;
    struct bk_tx *tx = NULL;
    int i = atoi(job->payload);
    enum bk_err e;

    (void)arena;
    pthread_mutex_lock(&c->mu);
    c->entered++;
    if (i >= 0 && i < MAX_JOBS && c->refuse_first &&
        c->tries[i]++ < c->refuse_first) {
        pthread_mutex_unlock(&c->mu);
        return bk_fail(err, c->refuse_as, "refused before anything was sent");
    }
    pthread_mutex_unlock(&c->mu);
    if (c->sleep_ms)
        sleep_ms(c->sleep_ms);
    if (c->fail_first && job->attempts == 1)
        return bk_fail(err, BK_E_RETRY, "first attempt fails");
    e = bk_store_begin(store, BK_TX_QUEUE, &tx, err);
    if (!e)
        e = bk_jobs_finish(tx, job, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    if (!e) {
        pthread_mutex_lock(&c->mu);
        if (i >= 0 && i < MAX_JOBS)
            c->runs[i]++;
        c->total++;
        pthread_mutex_unlock(&c->mu);
    }
    return e;
}

/* Enqueues n jobs of kind, due now, payloads "0".."n-1"; ids (may be NULL)
 * gets their ids. */
static void enqueue_n(struct bk_store *s, const char *kind, int n, int64_t *ids)
{
    struct bk_tx *tx = NULL;
    struct bk_errbuf err;
    int64_t id, now = bk_now_ms();
    bool existed;

    bk_errbuf_clear(&err);
    if (bk_store_begin(s, BK_TX_QUEUE, &tx, &err))
        fail_msg("begin: %s", err.msg);
    for (int i = 0; i < n; i++) {
        char key[32], payload[16];
        snprintf(key, sizeof(key), "%s:%d", kind, i);
        snprintf(payload, sizeof(payload), "%d", i);
        if (bk_store_job_enqueue(tx, kind, key, payload, now, 5, now, &id,
                                 &existed, &err))
            fail_msg("enqueue: %s", err.msg);
        if (ids)
            ids[i] = id;
    }
    if (bk_store_commit(tx, &err))
        fail_msg("commit: %s", err.msg);
}

static void job_counts(struct bk_store *s, int64_t counts[4])
{
    struct bk_tx *tx = NULL;
    struct bk_errbuf err;

    bk_errbuf_clear(&err);
    if (bk_store_begin(s, BK_TX_READ, &tx, &err) ||
        bk_store_job_counts(tx, counts, &err))
        fail_msg("counts: %s", err.msg);
    bk_store_rollback(tx);
}

/* Waits (bounded) until no job is pending or running. */
static void wait_idle(struct bk_store *s, int timeout_ms)
{
    int64_t counts[4], until = bk_now_ms() + timeout_ms;

    for (;;) {
        job_counts(s, counts);
        if (counts[BK_JOB_PENDING] == 0 && counts[BK_JOB_RUNNING] == 0)
            return;
        if (bk_now_ms() > until)
            fail_msg("jobs not idle after %d ms: %lld pending, %lld running",
                     timeout_ms, (long long)counts[BK_JOB_PENDING],
                     (long long)counts[BK_JOB_RUNNING]);
        sleep_ms(10);
    }
}

static struct bk_jobs_config pool_config(int workers)
{
    struct bk_jobs_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.workers = workers;
    cfg.lease_ms = 30000;
    cfg.retry_base_ms = 1;
    cfg.retry_max_ms = 5;
    cfg.idle_poll_ms = 50;
    return cfg;
}

/* ---- Tests ------------------------------------------------------------- */

/* The pool refuses a kinds table with a nameless or handler-less kind, or a
 * name twice. */
static void test_kinds_table_checked(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_jobs_config cfg = pool_config(1);
    struct bk_job_kind kinds[2];
    struct bk_jobs *jobs = NULL;
    struct bk_errbuf err;
    struct counter c;

    (void)state;
    memset(&c, 0, sizeof(c));
    memset(kinds, 0, sizeof(kinds));
    kinds[0] = (struct bk_job_kind){.name = "a", .run = count_run, .ctx = &c};
    kinds[1] = kinds[0];
    assert_int_equal(bk_jobs_start(s, &cfg, kinds, 2, &jobs, &err),
                     BK_E_CONFIG);
    assert_non_null(strstr(err.msg, "'a' is registered twice"));
    assert_null(jobs);
    kinds[1].name = NULL;
    assert_int_equal(bk_jobs_start(s, &cfg, kinds, 2, &jobs, &err),
                     BK_E_CONFIG);
    kinds[1].name = "b";
    kinds[1].run = NULL;
    assert_int_equal(bk_jobs_start(s, &cfg, kinds, 2, &jobs, &err),
                     BK_E_CONFIG);
    kinds[1].run = count_run;
    OK(bk_jobs_start(s, &cfg, kinds, 2, &jobs, &err_));
    bk_jobs_free(jobs);
    bk_store_free(s);
}

/* Several workers: every job runs exactly once; a job whose first attempt
 * fails runs again and is done. */
static void test_every_job_once(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_jobs_config cfg = pool_config(4);
    struct bk_job_kind kinds[2];
    struct bk_jobs *jobs = NULL;
    struct counter c, f;
    int64_t before[4], counts[4];

    (void)state;
    memset(&c, 0, sizeof(c));
    memset(&f, 0, sizeof(f));
    pthread_mutex_init(&c.mu, NULL);
    pthread_mutex_init(&f.mu, NULL);
    f.fail_first = 1;
    kinds[0] = (struct bk_job_kind){.name = "c", .run = count_run, .ctx = &c};
    kinds[1] = (struct bk_job_kind){.name = "f", .run = count_run, .ctx = &f};
    job_counts(s, before);
    enqueue_n(s, "c", 100, NULL);
    enqueue_n(s, "f", 20, NULL);
    OK(bk_jobs_start(s, &cfg, kinds, 2, &jobs, &err_));
    wait_idle(s, 20000);
    bk_jobs_free(jobs);
    for (int i = 0; i < 100; i++)
        assert_int_equal(c.runs[i], 1);
    for (int i = 0; i < 20; i++)
        assert_int_equal(f.runs[i], 1);
    job_counts(s, counts);
    assert_int_equal(counts[BK_JOB_DONE] - before[BK_JOB_DONE], 120);
    assert_int_equal(counts[BK_JOB_DEAD], before[BK_JOB_DEAD]);
    pthread_mutex_destroy(&c.mu);
    pthread_mutex_destroy(&f.mu);
    bk_store_free(s);
}

/* A job refused by a provider's rate limit or circuit breaker
 * (BK_E_RATE_LIMITED) is retried without its attempts counting: refused
 * more times than its max_attempts (5), it is still done once, and its
 * done row counts one attempt; the same refusals as BK_E_IO kill it. */
static void test_rate_limited_jobs_are_deferred_not_dead(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_jobs_config cfg = pool_config(2);
    struct bk_job_kind kinds[2];
    struct bk_jobs *jobs = NULL;
    struct counter c, f;
    int64_t before[4], counts[4], ids[4];
    struct bk_tx *tx = NULL;
    struct bk_errbuf err;
    struct bk_arena arena;

    (void)state;
    memset(&c, 0, sizeof(c));
    memset(&f, 0, sizeof(f));
    pthread_mutex_init(&c.mu, NULL);
    pthread_mutex_init(&f.mu, NULL);
    c.refuse_first = f.refuse_first = 8;
    c.refuse_as = BK_E_RATE_LIMITED;
    f.refuse_as = BK_E_IO;
    kinds[0] =
        (struct bk_job_kind){.name = "limited", .run = count_run, .ctx = &c};
    kinds[1] =
        (struct bk_job_kind){.name = "failing", .run = count_run, .ctx = &f};
    job_counts(s, before);
    enqueue_n(s, "limited", 4, ids);
    enqueue_n(s, "failing", 3, NULL);
    OK(bk_jobs_start(s, &cfg, kinds, 2, &jobs, &err_));
    wait_idle(s, 20000);
    bk_jobs_free(jobs);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(c.runs[i], 1);
        assert_int_equal(c.tries[i], 9);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f.runs[i], 0);
        assert_int_equal(f.tries[i], 5);
    }
    job_counts(s, counts);
    assert_int_equal(counts[BK_JOB_DONE] - before[BK_JOB_DONE], 4);
    assert_int_equal(counts[BK_JOB_DEAD] - before[BK_JOB_DEAD], 3);
    bk_arena_init(&arena);
    bk_errbuf_clear(&err);
    if (bk_store_begin(s, BK_TX_READ, &tx, &err))
        fail_msg("begin: %s", err.msg);
    for (int i = 0; i < 4; i++) {
        struct bk_job j;
        if (bk_store_job_get(tx, ids[i], &arena, &j, &err))
            fail_msg("get: %s", err.msg);
        assert_int_equal(j.attempts, 1);
    }
    bk_store_rollback(tx);
    bk_arena_release(&arena);
    pthread_mutex_destroy(&c.mu);
    pthread_mutex_destroy(&f.mu);
    bk_store_free(s);
}

/* ---- A kind that runs its jobs together ------------------------------- */

struct batcher {
    struct counter c;
    int calls;   /* run_batch calls */
    size_t most; /* the largest batch */
    bool mixed;  /* a batch held a job of another kind */
};

/* Completes the batch's jobs in one transaction, except that the first
 * attempt of every job numbered 3 mod 10 fails (BK_E_RETRY), as a
 * delivery that waits would. */
static void batch_run(void *ctx, struct bk_store *store,
                      const struct bk_job *const *jobs,
                      struct bk_arena *const *arenas, size_t n,
                      enum bk_err *results, struct bk_errbuf *errs)
{
    struct batcher *b = ctx;
    struct bk_tx *tx = NULL;
    struct bk_errbuf err;
    enum bk_err e;

    (void)arenas;
    pthread_mutex_lock(&b->c.mu);
    b->calls++;
    if (n > b->most)
        b->most = n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(jobs[i]->kind, "rb") != 0)
            b->mixed = true;
    pthread_mutex_unlock(&b->c.mu);
    bk_errbuf_clear(&err);
    e = bk_store_begin(store, BK_TX_WRITE, &tx, &err);
    for (size_t i = 0; i < n; i++) {
        results[i] = e;
        if (e)
            continue;
        if (atoi(jobs[i]->payload) % 10 == 3 && jobs[i]->attempts == 1)
            results[i] = bk_fail(&errs[i], BK_E_RETRY, "waits");
        else
            results[i] = bk_jobs_finish(tx, jobs[i], &errs[i]);
    }
    if (!e)
        e = bk_store_commit(tx, &err);
    else
        bk_store_rollback(tx);
    for (size_t i = 0; i < n; i++) {
        if (e && results[i] == BK_OK) {
            results[i] = e;
            errs[i] = err;
        }
        if (results[i] == BK_OK) {
            pthread_mutex_lock(&b->c.mu);
            b->c.runs[atoi(jobs[i]->payload)]++;
            b->c.total++;
            pthread_mutex_unlock(&b->c.mu);
        }
    }
}

/* A kind with run_batch gets the claimed jobs of its kind together (never
 * another kind's), each is done exactly once, and a job that failed in a
 * batch is retried on its own outcome while the rest of its batch stays
 * done. */
static void test_run_batch(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_jobs_config cfg = pool_config(2);
    struct bk_job_kind kinds[2];
    struct bk_jobs *jobs = NULL;
    struct batcher b;
    struct counter c;
    int64_t before[4], counts[4];

    (void)state;
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    pthread_mutex_init(&b.c.mu, NULL);
    pthread_mutex_init(&c.mu, NULL);
    kinds[0] = (struct bk_job_kind){
        .name = "rb", .run = count_run, .run_batch = batch_run, .ctx = &b};
    kinds[1] = (struct bk_job_kind){.name = "rc", .run = count_run, .ctx = &c};
    job_counts(s, before);
    enqueue_n(s, "rb", 200, NULL);
    enqueue_n(s, "rc", 30, NULL);
    OK(bk_jobs_start(s, &cfg, kinds, 2, &jobs, &err_));
    wait_idle(s, 30000);
    bk_jobs_free(jobs);
    for (int i = 0; i < 200; i++)
        assert_int_equal(b.c.runs[i], 1);
    for (int i = 0; i < 30; i++)
        assert_int_equal(c.runs[i], 1);
    assert_false(b.mixed);
    assert_true(b.most > 1);
    assert_true(b.most <= BK_JOBS_RUN_BATCH);
    assert_true(b.calls < 200);
    job_counts(s, counts);
    assert_int_equal(counts[BK_JOB_DONE] - before[BK_JOB_DONE], 230);
    assert_int_equal(counts[BK_JOB_DEAD], before[BK_JOB_DEAD]);
    pthread_mutex_destroy(&b.c.mu);
    pthread_mutex_destroy(&c.mu);
    bk_store_free(s);
}

/* One worker claims four jobs at once, and each takes longer than half the
 * lease: the jobs behind the first are given back instead of being run
 * late, claimed again, and each runs once, with one attempt counted. A
 * second pool (another instance) claims what it can meanwhile: had the
 * first held its jobs past their lease, the second would have taken them
 * again and run them twice. */
static void test_claimed_jobs_do_not_outlive_their_lease(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_jobs_config cfg = pool_config(1);
    struct bk_job_kind kind;
    struct bk_jobs *jobs = NULL, *other = NULL;
    struct bk_jobs_config other_cfg;
    struct bk_tx *tx = NULL;
    struct bk_arena arena;
    struct counter c;
    int64_t ids[4];

    (void)state;
    memset(&c, 0, sizeof(c));
    pthread_mutex_init(&c.mu, NULL);
    c.sleep_ms = 600; /* over half the lease, well within it */
    cfg.lease_ms = 1000;
    cfg.claim_batch = 4;
    kind = (struct bk_job_kind){.name = "slow", .run = count_run, .ctx = &c};
    other_cfg = cfg;
    other_cfg.claim_batch = 1;
    enqueue_n(s, "slow", 4, ids);
    OK(bk_jobs_start(s, &cfg, &kind, 1, &jobs, &err_));
    sleep_ms(20); /* the first claims all four */
    OK(bk_jobs_start(s, &other_cfg, &kind, 1, &other, &err_));
    wait_idle(s, 20000);
    bk_jobs_free(jobs);
    bk_jobs_free(other);
    for (int i = 0; i < 4; i++)
        assert_int_equal(c.runs[i], 1);
    bk_arena_init(&arena);
    OK(bk_store_begin(s, BK_TX_READ, &tx, &err_));
    for (int i = 0; i < 4; i++) {
        struct bk_job j;
        OK(bk_store_job_get(tx, ids[i], &arena, &j, &err_));
        assert_int_equal(j.status, BK_JOB_DONE);
        assert_int_equal(j.attempts, 1);
    }
    bk_store_rollback(tx);
    bk_arena_release(&arena);
    pthread_mutex_destroy(&c.mu);
    bk_store_free(s);
}

/* Stopping the pool gives back what it claimed and did not start: the
 * jobs are pending again at once, not running until their lease ends. */
static void test_stop_gives_back_claimed_jobs(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_jobs_config cfg = pool_config(1);
    struct bk_job_kind kind;
    struct bk_jobs *jobs = NULL;
    struct counter c;
    int64_t before[4], counts[4];

    (void)state;
    memset(&c, 0, sizeof(c));
    pthread_mutex_init(&c.mu, NULL);
    /* Long enough that, however busy the machine, the stop below comes
     * while the first job runs: 1..3 done, never 4. */
    c.sleep_ms = 1000;
    cfg.claim_batch = 4;
    kind = (struct bk_job_kind){.name = "stop", .run = count_run, .ctx = &c};
    job_counts(s, before);
    enqueue_n(s, "stop", 4, NULL);
    OK(bk_jobs_start(s, &cfg, &kind, 1, &jobs, &err_));
    /* Until the worker has claimed all four and started the first: a stop
     * before any started would leave none done, which is right but not
     * what this test is about. */
    for (int64_t until = bk_now_ms() + 10000;;) {
        int entered;
        job_counts(s, counts);
        pthread_mutex_lock(&c.mu);
        entered = c.entered;
        pthread_mutex_unlock(&c.mu);
        if (counts[BK_JOB_RUNNING] - before[BK_JOB_RUNNING] == 4 &&
            entered >= 1)
            break;
        if (bk_now_ms() > until)
            fail_msg("the worker did not claim four jobs");
        sleep_ms(5);
    }
    bk_jobs_free(jobs);
    job_counts(s, counts);
    assert_int_equal(counts[BK_JOB_RUNNING], before[BK_JOB_RUNNING]);
    assert_int_equal(counts[BK_JOB_DONE] - before[BK_JOB_DONE], c.total);
    assert_int_equal(counts[BK_JOB_PENDING] - before[BK_JOB_PENDING],
                     4 - c.total);
    assert_true(c.total >= 1 && c.total < 4);
    /* What is left runs when a pool starts again. */
    c.sleep_ms = 0;
    OK(bk_jobs_start(s, &cfg, &kind, 1, &jobs, &err_));
    wait_idle(s, 20000);
    bk_jobs_free(jobs);
    for (int i = 0; i < 4; i++)
        assert_int_equal(c.runs[i], 1);
    pthread_mutex_destroy(&c.mu);
    bk_store_free(s);
}

/* ---- Pruning ----------------------------------------------------------- */

#define DAY_MS (24 * 3600 * 1000LL)

/* A job of kind "old" that ends in status at time t (ms): done, dead, or
 * pending (due a day after now). Returns its id. */
static int64_t job_at(struct bk_store *s, const char *key, int64_t t,
                      enum bk_job_status status)
{
    struct bk_tx *tx = NULL;
    struct bk_arena arena;
    struct bk_job *b = NULL;
    size_t n = 0;
    int64_t id, now = bk_now_ms();
    bool existed;

    bk_arena_init(&arena);
    OK(bk_store_begin(s, BK_TX_QUEUE, &tx, &err_));
    OK(bk_store_job_enqueue(tx, "old", key, "x",
                            status == BK_JOB_PENDING ? now + DAY_MS : t, 3, t,
                            &id, &existed, &err_));
    if (status != BK_JOB_PENDING) {
        /* The oldest due job is this one. */
        OK(bk_store_job_claim_batch(tx, t, 1000, 77, 1, &arena, &b, &n, &err_));
        assert_int_equal(b[0].id, id);
        if (status == BK_JOB_DONE)
            OK(bk_store_job_complete(tx, id, 77, t, &err_));
        else
            OK(bk_store_job_fail(tx, id, 77, true, 0, "x", t, &err_));
    }
    OK(bk_store_commit(tx, &err_));
    bk_arena_release(&arena);
    return id;
}

static bool job_exists(struct bk_store *s, int64_t id, struct bk_job *out)
{
    struct bk_tx *tx = NULL;
    struct bk_arena arena;
    struct bk_errbuf err;
    struct bk_job j;
    enum bk_err e;

    bk_arena_init(&arena);
    OK(bk_store_begin(s, BK_TX_READ, &tx, &err_));
    e = bk_store_job_get(tx, id, &arena, &j, &err);
    bk_store_rollback(tx);
    bk_arena_release(&arena);
    if (e != BK_OK && e != BK_E_NOT_FOUND)
        fail_msg("job_get: %s", err.msg);
    if (out && e == BK_OK) {
        *out = j;
        out->kind = out->dedupe_key = out->payload = out->last_error = NULL;
    }
    return e == BK_OK;
}

/* The prune job of the period t is in (ms), interval ms: its id, 0 when
 * there is none. */
static int64_t prune_job(struct bk_store *s, int64_t interval, int64_t t)
{
    struct bk_tx *tx = NULL;
    char key[64];
    int64_t id = 0;
    bool existed = false;

    snprintf(key, sizeof(key), "jobs.prune:%lld", (long long)(t / interval));
    /* An enqueue that finds it; rolled back either way. */
    OK(bk_store_begin(s, BK_TX_QUEUE, &tx, &err_));
    OK(bk_store_job_enqueue(tx, "jobs.prune", key, NULL, 0, 1, 0, &id, &existed,
                            &err_));
    bk_store_rollback(tx);
    return existed ? id : 0;
}

/* Done jobs older than the retention go, in batches; younger done jobs,
 * dead and pending ones stay. The run of the current period enqueues the
 * next one's; a second pool (another instance) starting in the same period
 * adds no run. */
static void test_prune(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_jobs_config cfg = pool_config(2);
    struct bk_jobs_prune_config pc;
    struct bk_job_kind kind;
    struct bk_jobs *jobs = NULL, *other = NULL;
    struct bk_job j;
    int64_t now = bk_now_ms(), old[5], young[2], dead, pending, cur, next;
    int64_t interval = 3600 * 1000LL;

    (void)state;
    for (int i = 0; i < 5; i++) {
        char key[16];
        snprintf(key, sizeof(key), "old%d", i);
        old[i] = job_at(s, key, now - 3 * DAY_MS + i, BK_JOB_DONE);
    }
    young[0] = job_at(s, "young0", now - DAY_MS / 2, BK_JOB_DONE);
    young[1] = job_at(s, "young1", now - DAY_MS + 60000, BK_JOB_DONE);
    dead = job_at(s, "dead", now - 3 * DAY_MS, BK_JOB_DEAD);
    pending = job_at(s, "pending", now - 3 * DAY_MS, BK_JOB_PENDING);

    memset(&pc, 0, sizeof(pc));
    pc.retention_days = 1;
    pc.interval_ms = interval;
    pc.batch = 2;
    pc.max_attempts = 3;
    bk_jobs_prune_kind(&pc, &kind);
    OK(bk_jobs_start(s, &cfg, &kind, 1, &jobs, &err_));
    cur = prune_job(s, interval, bk_now_ms());
    assert_true(cur > 0);
    for (int64_t until = bk_now_ms() + 20000;;) {
        job_exists(s, cur, &j);
        if (j.status == BK_JOB_DONE)
            break;
        if (bk_now_ms() > until)
            fail_msg("the prune job did not run");
        sleep_ms(10);
    }
    OK(bk_jobs_start(s, &cfg, &kind, 1, &other, &err_));
    sleep_ms(200);
    bk_jobs_free(other);
    bk_jobs_free(jobs);

    for (int i = 0; i < 5; i++)
        assert_false(job_exists(s, old[i], NULL));
    assert_true(job_exists(s, young[0], NULL));
    assert_true(job_exists(s, young[1], NULL));
    assert_true(job_exists(s, dead, NULL));
    assert_true(job_exists(s, pending, NULL));
    /* The current period's ran once; the next one's waits for its start. */
    assert_true(job_exists(s, cur, &j));
    assert_int_equal(j.status, BK_JOB_DONE);
    assert_int_equal(j.attempts, 1);
    assert_int_equal(prune_job(s, interval, bk_now_ms()), cur);
    next = prune_job(s, interval, bk_now_ms() + interval);
    assert_true(next > 0);
    assert_true(job_exists(s, next, &j));
    assert_int_equal(j.status, BK_JOB_PENDING);
    assert_int_equal(j.run_at_ms, (bk_now_ms() / interval + 1) * interval);
    bk_store_free(s);
}

/* While another instance holds the prune singleton, a run deletes
 * nothing, and is done (the holder is pruning). PostgreSQL only: on
 * SQLite one process owns the file and the singleton is always granted. */
static void test_prune_skips_while_another_prunes(void **state)
{
    struct bk_store *s;
    struct bk_jobs_config cfg = pool_config(1);
    struct bk_jobs_prune_config pc;
    struct bk_job_kind kind;
    struct bk_jobs *jobs = NULL;
    struct bk_tx *holder = NULL;
    struct bk_job j;
    int64_t interval = 7200 * 1000LL, cur, old;
    bool got = false;

    (void)state;
    if (!pg_url)
        skip();
    s = fresh_store();
    old = job_at(s, "held-old", bk_now_ms() - 3 * DAY_MS, BK_JOB_DONE);
    OK(bk_store_begin(s, BK_TX_QUEUE, &holder, &err_));
    OK(bk_store_try_singleton(holder, BK_JOBS_PRUNE_SINGLETON, &got, &err_));
    assert_true(got);
    memset(&pc, 0, sizeof(pc));
    pc.retention_days = 1;
    pc.interval_ms = interval; /* periods of their own: a new key */
    pc.max_attempts = 3;
    bk_jobs_prune_kind(&pc, &kind);
    OK(bk_jobs_start(s, &cfg, &kind, 1, &jobs, &err_));
    cur = prune_job(s, interval, bk_now_ms());
    for (int64_t until = bk_now_ms() + 20000;;) {
        job_exists(s, cur, &j);
        if (j.status == BK_JOB_DONE)
            break;
        if (bk_now_ms() > until)
            fail_msg("the prune job did not run");
        sleep_ms(10);
    }
    bk_jobs_free(jobs);
    bk_store_rollback(holder);
    assert_true(job_exists(s, old, NULL));
    assert_int_equal(j.attempts, 1);
    bk_store_free(s);
}

/* ---- Clock steps ------------------------------------------------------ */

/* The pool's wall clock in these tests: the real one shifted by an offset
 * the test steps. */
static int64_t wall_offset_ms;

static int64_t stepped_wall_ms(void)
{
    return bk_now_ms() + __atomic_load_n(&wall_offset_ms, __ATOMIC_SEQ_CST);
}

static void step_wall(int64_t ms)
{
    __atomic_add_fetch(&wall_offset_ms, ms, __ATOMIC_SEQ_CST);
}

static int entered(struct counter *c)
{
    int n;

    pthread_mutex_lock(&c->mu);
    n = c->entered;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* A retry due in 2 s stays due in about 2 s when the wall clock steps back
 * an hour meanwhile: it used to wait for the hour (issue 12). */
static void test_backward_step_does_not_freeze_retries(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_jobs_config cfg = pool_config(1);
    struct bk_job_kind kind;
    struct bk_jobs *jobs = NULL;
    struct bk_errbuf err;
    struct counter c;
    int64_t until;

    (void)state;
    wall_offset_ms = 0;
    memset(&c, 0, sizeof(c));
    pthread_mutex_init(&c.mu, NULL);
    c.fail_first = 1;
    cfg.retry_base_ms = cfg.retry_max_ms = 2000;
    cfg.wall_ms = stepped_wall_ms;
    kind =
        (struct bk_job_kind){.name = "clock.back", .run = count_run, .ctx = &c};
    enqueue_n(s, "clock.back", 1, NULL);
    bk_errbuf_clear(&err);
    if (bk_jobs_start(s, &cfg, &kind, 1, &jobs, &err))
        fail_msg("start: %s", err.msg);
    for (until = bk_mono_ms() + 5000; entered(&c) < 1;) {
        if (bk_mono_ms() > until)
            fail_msg("the first attempt did not run");
        sleep_ms(10);
    }
    sleep_ms(200); /* its failure recorded: due in about 2 s */
    step_wall(-3600 * 1000);
    for (until = bk_mono_ms() + 8000; c.total < 1;) {
        if (bk_mono_ms() > until)
            fail_msg("the retry froze after the clock stepped back");
        sleep_ms(20);
    }
    assert_int_equal(entered(&c), 2);
    bk_jobs_free(jobs);
    bk_store_free(s);
    pthread_mutex_destroy(&c.mu);
}

/* A job that runs longer than its lease keeps it (renewed on the
 * monotonic clock), and a forward step of the wall clock past the lease
 * does not let the other worker run it while the first is alive. */
static void test_forward_step_keeps_running_jobs(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_jobs_config cfg = pool_config(2);
    struct bk_job_kind kind;
    struct bk_jobs *jobs = NULL;
    struct bk_errbuf err;
    struct counter c;
    int64_t until;

    (void)state;
    wall_offset_ms = 0;
    memset(&c, 0, sizeof(c));
    pthread_mutex_init(&c.mu, NULL);
    c.sleep_ms = 2500;
    cfg.lease_ms = 1000;
    cfg.wall_ms = stepped_wall_ms;
    kind =
        (struct bk_job_kind){.name = "clock.fwd", .run = count_run, .ctx = &c};
    enqueue_n(s, "clock.fwd", 1, NULL);
    bk_errbuf_clear(&err);
    if (bk_jobs_start(s, &cfg, &kind, 1, &jobs, &err))
        fail_msg("start: %s", err.msg);
    for (until = bk_mono_ms() + 5000; entered(&c) < 1;) {
        if (bk_mono_ms() > until)
            fail_msg("the job did not run");
        sleep_ms(10);
    }
    sleep_ms(300);
    step_wall(2 * 3600 * 1000);
    for (until = bk_mono_ms() + 8000; c.total < 1;) {
        if (bk_mono_ms() > until)
            fail_msg("the job did not finish");
        sleep_ms(20);
    }
    sleep_ms(200);
    assert_int_equal(entered(&c), 1);
    assert_int_equal(c.total, 1);
    bk_jobs_free(jobs);
    bk_store_free(s);
    pthread_mutex_destroy(&c.mu);
}

/* The fence before an external side effect: BK_OK while the worker holds
 * the job, BK_E_STALE once another worker has claimed it. */
struct fence_probe {
    enum bk_err first, second;
    bool done;
};

static enum bk_err fence_run(void *ctx, struct bk_store *store,
                             const struct bk_job *job, struct bk_arena *arena,
                             struct bk_errbuf *err)
{
    struct fence_probe *p = ctx;
    struct bk_tx *tx = NULL;
    struct bk_job *stolen = NULL;
    size_t n = 0;
    enum bk_err e;

    p->first = bk_jobs_fence(store, job, err);
    /* Another worker whose clock is a day ahead takes the job. */
    e = bk_store_begin(store, BK_TX_QUEUE, &tx, err);
    if (!e)
        e = bk_store_job_claim_batch(tx, bk_now_ms() + 86400000, 1000, 42, 1,
                                     arena, &stolen, &n, err);
    if (!e)
        e = bk_store_commit(tx, err);
    else
        bk_store_rollback(tx);
    if (e || n != 1)
        fail_msg("stealing the job: %s (%zu)", err->msg, n);
    p->second = bk_jobs_fence(store, job, err);
    __atomic_store_n(&p->done, true, __ATOMIC_SEQ_CST);
    return p->second;
}

static void test_fence(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_jobs_config cfg = pool_config(1);
    struct bk_job_kind kind;
    struct bk_jobs *jobs = NULL;
    struct bk_errbuf err;
    struct fence_probe p = {BK_E_INTERNAL, BK_E_INTERNAL, false};
    int64_t until;

    (void)state;
    kind = (struct bk_job_kind){
        .name = "clock.fence", .run = fence_run, .ctx = &p};
    enqueue_n(s, "clock.fence", 1, NULL);
    bk_errbuf_clear(&err);
    if (bk_jobs_start(s, &cfg, &kind, 1, &jobs, &err))
        fail_msg("start: %s", err.msg);
    for (until = bk_mono_ms() + 5000;
         !__atomic_load_n(&p.done, __ATOMIC_SEQ_CST);) {
        if (bk_mono_ms() > until)
            fail_msg("the job did not run");
        sleep_ms(10);
    }
    bk_jobs_free(jobs);
    assert_int_equal(p.first, BK_OK);
    assert_int_equal(p.second, BK_E_STALE);
    /* Outside a worker there is no lease to fence. */
    {
        struct bk_job j = {.id = 1, .lease_token = 1};
        assert_int_equal(bk_jobs_fence(s, &j, &err), BK_E_INTERNAL);
    }
    bk_store_free(s);
}

/* ---- A store that fails for a while ------------------------------------ */

struct sickly {
    struct counter c;
    struct bk_store *sick; /* a SQLite store whose file is gone */
    int fail_runs;         /* the first runs fail on it */
    int runs;
    int max_attempts_seen;
};

/* The first fail_runs runs begin a transaction on the sick store (its file
 * was deleted: the driver answers BK_E_UNAVAILABLE, as for a database that
 * is down) and return that error; later ones complete on the real store. */
static enum bk_err sickly_run(void *ctx, struct bk_store *store,
                              const struct bk_job *job, struct bk_arena *arena,
                              struct bk_errbuf *err)
{
    struct sickly *k = ctx;
    struct bk_tx *tx = NULL;
    bool fail;
    enum bk_err e;

    pthread_mutex_lock(&k->c.mu);
    fail = k->runs++ < k->fail_runs;
    if (job->attempts > k->max_attempts_seen)
        k->max_attempts_seen = job->attempts;
    pthread_mutex_unlock(&k->c.mu);
    if (!fail)
        return count_run(&k->c, store, job, arena, err);
    e = bk_store_begin(k->sick, BK_TX_QUEUE, &tx, err);
    bk_store_rollback(tx);
    return e ? e : bk_fail(err, BK_E_INTERNAL, "the sick store worked");
}

/* A store failing for longer than a job's attempts last turns no job into
 * a dead letter: the store's failures are not charged to the jobs (a
 * network error still is: test_every_job_once's BK_E_RETRY). */
static void test_store_failures_are_not_attempts(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_jobs_config cfg = pool_config(1);
    struct bk_job_kind kind;
    struct bk_jobs *jobs = NULL;
    struct sickly k;
    char path[128];
    int64_t before[4], counts[4];
    struct bk_errbuf err;

    (void)state;
    memset(&k, 0, sizeof(k));
    pthread_mutex_init(&k.c.mu, NULL);
    bk_errbuf_clear(&err);
    snprintf(path, sizeof(path), "sqlite:%s/sick", dir);
    if (bk_store_open(path, 2, &k.sick, &err))
        fail_msg("sick store: %s", err.msg);
    unlink(path + strlen("sqlite:"));
    k.fail_runs = 12; /* the jobs allow 5 attempts (enqueue_n) */
    kind = (struct bk_job_kind){.name = "sk", .run = sickly_run, .ctx = &k};
    job_counts(s, before);
    enqueue_n(s, "sk", 2, NULL);
    OK(bk_jobs_start(s, &cfg, &kind, 1, &jobs, &err_));
    /* Waits for the two (on PostgreSQL, earlier tests' jobs may remain). */
    for (int64_t until = bk_now_ms() + 30000;;) {
        job_counts(s, counts);
        if (counts[BK_JOB_DONE] - before[BK_JOB_DONE] + counts[BK_JOB_DEAD] -
                before[BK_JOB_DEAD] >=
            2)
            break;
        if (bk_now_ms() > until)
            fail_msg("the jobs did not end in 30 s (%d runs)", k.runs);
        sleep_ms(10);
    }
    bk_jobs_free(jobs);
    assert_true(k.runs >= 12);
    assert_int_equal(k.c.runs[0], 1);
    assert_int_equal(k.c.runs[1], 1);
    assert_true(k.max_attempts_seen <= 5);
    job_counts(s, counts);
    assert_int_equal(counts[BK_JOB_DONE] - before[BK_JOB_DONE], 2);
    assert_int_equal(counts[BK_JOB_DEAD], before[BK_JOB_DEAD]);
    bk_store_free(k.sick);
    for (int i = 0; i < 2; i++) {
        char side[160];
        snprintf(side, sizeof(side), "%s%s", path + strlen("sqlite:"),
                 i ? "-shm" : "-wal");
        unlink(side);
    }
    pthread_mutex_destroy(&k.c.mu);
    bk_store_free(s);
}

/* The run_at_ms of the job keyed key in tx; -1 when there is none. */
static int64_t run_at_of(struct bk_tx *tx, const char *key)
{
    struct bk_arena arena;
    struct bk_job j;
    int64_t id = 0, at = -1;
    bool found = false;

    bk_arena_init(&arena);
    OK(bk_store_job_find_key(tx, key, &id, &found, &err_));
    if (found) {
        OK(bk_store_job_get(tx, id, &arena, &j, &err_));
        at = j.run_at_ms;
    }
    bk_arena_release(&arena);
    return at;
}

/* A periodic kind's runs: the current period's due at its start, the
 * next one's at the next start, once per period whoever asks; after a
 * backward step of the clock, never a period already run, and due one
 * interval from now at the latest. */
static void test_enqueue_period(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_tx *tx = NULL;
    struct bk_errbuf err;
    const int64_t iv = 60000, now = 1000 * iv + 500;

    (void)state;
    bk_errbuf_clear(&err);
    OK(bk_store_begin(s, BK_TX_QUEUE, &tx, &err_));
    OK(bk_jobs_enqueue_period(tx, "t.kind", iv, 3, now, true, -1, &err_));
    assert_int_equal(run_at_of(tx, "t.kind:1000"), 1000 * iv);
    OK(bk_jobs_enqueue_period(tx, "t.kind", iv, 3, now, false, 1000, &err_));
    assert_int_equal(run_at_of(tx, "t.kind:1001"), 1001 * iv);
    /* Asked again (a restart, another instance): the same job. */
    OK(bk_jobs_enqueue_period(tx, "t.kind", iv, 3, now + 10, true, -1, &err_));
    OK(bk_jobs_enqueue_period(tx, "t.kind", iv, 3, now + 10, false, -1, &err_));
    assert_int_equal(run_at_of(tx, "t.kind:1000"), 1000 * iv);
    assert_int_equal(run_at_of(tx, "t.kind:1001"), 1001 * iv);
    assert_int_equal(run_at_of(tx, "t.kind:1002"), -1);
    /* The clock went back 100 periods after the run of period 1001. */
    OK(bk_jobs_enqueue_period(tx, "t.kind", iv, 3, now - 100 * iv, false, 1001,
                              &err_));
    assert_int_equal(run_at_of(tx, "t.kind:901"), -1);
    assert_int_equal(run_at_of(tx, "t.kind:1002"), now - 99 * iv);
    assert_int_equal(
        bk_jobs_enqueue_period(tx, "t.kind", 0, 3, now, true, -1, &err),
        BK_E_INTERNAL);
    bk_store_rollback(tx);
    bk_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds_table_checked),
        cmocka_unit_test(test_every_job_once),
        cmocka_unit_test(test_run_batch),
        cmocka_unit_test(test_rate_limited_jobs_are_deferred_not_dead),
        cmocka_unit_test(test_claimed_jobs_do_not_outlive_their_lease),
        cmocka_unit_test(test_stop_gives_back_claimed_jobs),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_enqueue_period),
        cmocka_unit_test(test_prune_skips_while_another_prunes),
        cmocka_unit_test(test_backward_step_does_not_freeze_retries),
        cmocka_unit_test(test_forward_step_keeps_running_jobs),
        cmocka_unit_test(test_fence),
        cmocka_unit_test(test_store_failures_are_not_attempts),
    };
    const char *url = getenv("BOOKINGD_TEST_DATABASE_URL");
    const char *tmp = getenv("TMPDIR");
    int rc;

    if (url && *url)
        pg_url = url;
    snprintf(dir, sizeof(dir), "%s/bk-jobs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (int i = 0; i < db_seq; i++)
        for (int k = 0; k < 3; k++) {
            char path[128];
            snprintf(path, sizeof(path), "%s/db%d%s", dir, i,
                     (const char *[]){"", "-wal", "-shm"}[k]);
            unlink(path);
        }
    rmdir(dir);
    return rc;
}
