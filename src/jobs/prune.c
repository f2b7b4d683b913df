/* jobs/prune.c — the "jobs.prune" periodic job (prune.h). The queue's
 * storage is store/queue.c; running jobs is jobs.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/prune.h"
#include "base/log.h"
#include "base/time.h"
#include "base/banned.h"

#define DAY_MS (24 * 3600 * 1000LL)

static int batch_of(const struct bk_jobs_prune_config *cfg)
{
    return cfg->batch > 0 ? cfg->batch : 1000;
}

/* bk_jobs_enqueue_period for the pruning, when anything is to prune. */
static enum bk_err enqueue_period(const struct bk_jobs_prune_config *cfg,
                                  struct bk_tx *tx, int64_t now_ms,
                                  bool current, int64_t after,
                                  struct bk_errbuf *err)
{
    if (cfg->retention_days <= 0)
        return BK_OK; /* keep for ever: nothing to run */
    return bk_jobs_enqueue_period(tx, BK_JOBS_PRUNE_KIND, cfg->interval_ms,
                                  cfg->max_attempts, now_ms, current, after,
                                  err);
}

static enum bk_err schedule(void *ctx, struct bk_tx *tx, int64_t now_ms,
                            struct bk_errbuf *err)
{
    return enqueue_period(ctx, tx, now_ms, true, -1, err);
}

/* One batch in a transaction of its own, holding the singleton: *n
 * deleted, *skipped when another instance holds it (it is pruning). */
static enum bk_err prune_batch(const struct bk_jobs_prune_config *cfg,
                               struct bk_store *store, int64_t before_ms,
                               int *n, bool *skipped, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    bool got = false;
    enum bk_err e;

    *n = 0;
    *skipped = false;
    e = bk_store_begin(store, BK_TX_QUEUE, &tx, err);
    if (!e)
        e = bk_store_try_singleton(tx, BK_JOBS_PRUNE_SINGLETON, &got, err);
    if (!e && !got) {
        *skipped = true;
        goto out;
    }
    if (!e)
        e = bk_store_job_prune(tx, before_ms, batch_of(cfg), n, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
out:
    bk_store_rollback(tx);
    if (e)
        *n = 0;
    return e;
}

static enum bk_err run(void *ctx, struct bk_store *store,
                       const struct bk_job *job, struct bk_arena *arena,
                       struct bk_errbuf *err)
{
    const struct bk_jobs_prune_config *cfg = ctx;
    int64_t now = bk_now_ms(), before = now - cfg->retention_days * DAY_MS;
    /* Claimed at updated_ms until lease_until_ms: stop by half of it from
     * now, on the monotonic clock (a wall-clock step moves neither). */
    int64_t stop_by =
        bk_mono_ms() + (job->lease_until_ms - job->updated_ms) / 2;
    int max_batches = cfg->max_batches > 0 ? cfg->max_batches : 100;
    int total = 0, batches = 0, n = 0;
    bool skipped = false;
    enum bk_err e = BK_OK;

    (void)arena;
    while (cfg->retention_days > 0 && batches < max_batches) {
        e = prune_batch(cfg, store, before, &n, &skipped, err);
        if (e)
            return e; /* what was deleted stays deleted; retried later */
        batches++;
        total += n;
        if (skipped || n < batch_of(cfg) || bk_mono_ms() >= stop_by)
            break;
    }
    e = bk_jobs_finish_period(store, job, cfg->retention_days > 0,
                              cfg->interval_ms, cfg->max_attempts,
                              bk_jobs_period_of(job, BK_JOBS_PRUNE_KIND), err);
    if (e)
        return e;
    if (skipped && !total)
        bk_log_info("jobs: %s skipped: another instance is pruning",
                    job->dedupe_key);
    else if (total)
        bk_log_info("jobs: %s deleted %d done job(s) older than %d day(s)",
                    job->dedupe_key, total, cfg->retention_days);
    else
        bk_log_debug("jobs: %s found nothing to delete", job->dedupe_key);
    return BK_OK;
}

/* A prune that ran out of attempts: the next period's still comes. */
static enum bk_err on_dead(void *ctx, struct bk_tx *tx,
                           const struct bk_job *job, const char *error,
                           struct bk_errbuf *err)
{
    (void)error;
    return enqueue_period(ctx, tx, bk_now_ms(), false,
                          bk_jobs_period_of(job, BK_JOBS_PRUNE_KIND), err);
}

void bk_jobs_prune_kind(const struct bk_jobs_prune_config *cfg,
                        struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = BK_JOBS_PRUNE_KIND;
    out->run = run;
    out->on_dead = on_dead;
    out->schedule = schedule;
    out->ctx = (void *)cfg;
}
