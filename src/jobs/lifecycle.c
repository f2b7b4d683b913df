/* jobs/lifecycle.c — the "clients.lifecycle" daily job (lifecycle.h);
 * what it changes is the ledger's (ledger/lifecycle.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/lifecycle.h"
#include "ledger/ledger.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "base/banned.h"

/* bk_jobs_enqueue_period for the lifecycle run, when it has anything to
 * do. */
static enum bk_err enqueue(const struct bk_jobs_lifecycle_config *cfg,
                           struct bk_tx *tx, int64_t now_ms, bool now,
                           int64_t after, struct bk_errbuf *err)
{
    if (cfg->inactive_days <= 0)
        return BK_OK;
    return bk_jobs_enqueue_period(tx, BK_JOBS_LIFECYCLE_KIND, cfg->interval_ms,
                                  cfg->max_attempts, now_ms, now, after, err);
}

static enum bk_err schedule(void *ctx, struct bk_tx *tx, int64_t now_ms,
                            struct bk_errbuf *err)
{
    return enqueue(ctx, tx, now_ms, true, -1, err);
}

/* One batch in its own write transaction under the singleton. */
static enum bk_err batch(const struct bk_jobs_lifecycle_config *cfg,
                         struct bk_store *store, int64_t after_id,
                         int64_t *last_id, int *changed, bool *skipped,
                         struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    bool got = false;
    enum bk_err e;

    *last_id = 0;
    *changed = 0;
    *skipped = false;
    e = bk_store_begin(store, BK_TX_WRITE, &tx, err);
    if (!e)
        e = bk_store_try_singleton(tx, BK_JOBS_LIFECYCLE_SINGLETON, &got, err);
    if (!e && !got)
        *skipped = true;
    if (!e && got)
        e = bk_ledger_clients_inactivate(
            tx, cfg->inactive_days, after_id, cfg->batch > 0 ? cfg->batch : 200,
            bk_now_utc(), arena, last_id, changed, err);
    if (!e && got) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    if (e)
        *changed = 0;
    return e;
}

static enum bk_err run(void *ctx, struct bk_store *store,
                       const struct bk_job *job, struct bk_arena *arena,
                       struct bk_errbuf *err)
{
    const struct bk_jobs_lifecycle_config *cfg = ctx;
    int64_t after = 0, last = 0;
    int changed = 0, total = 0;
    bool skipped = false;
    enum bk_err e;

    do {
        BK_STORE_RETRY(
            e, batch(cfg, store, after, &last, &changed, &skipped, arena, err));
        if (e)
            return e; /* the batches done stay done; retried later */
        total += changed;
        after = last;
    } while (!skipped && last > 0);
    if ((e = bk_jobs_finish_period(
             store, job, cfg->inactive_days > 0, cfg->interval_ms,
             cfg->max_attempts, bk_jobs_period_of(job, BK_JOBS_LIFECYCLE_KIND),
             err)))
        return e;
    if (skipped)
        bk_log_info("clients: %s skipped: another instance runs it",
                    job->dedupe_key);
    else if (total)
        bk_log_info("clients: %s: %d client(s) inactive after %d days "
                    "without bookings",
                    job->dedupe_key, total, cfg->inactive_days);
    return BK_OK;
}

/* A run out of attempts: the next period's still comes. */
static enum bk_err on_dead(void *ctx, struct bk_tx *tx,
                           const struct bk_job *job, const char *error,
                           struct bk_errbuf *err)
{
    (void)error;
    return enqueue(ctx, tx, bk_now_ms(), false,
                   bk_jobs_period_of(job, BK_JOBS_LIFECYCLE_KIND), err);
}

void bk_jobs_lifecycle_kind(const struct bk_jobs_lifecycle_config *cfg,
                            struct bk_job_kind *out)
{
    bk_jobs_kind_init(out, BK_JOBS_LIFECYCLE_KIND, run, on_dead, (void *)cfg);
    out->schedule = schedule;
}
