/* connectors/packages.c — the daily "packages.expire" job (packages.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/packages.h"
#include "base/log.h"
#include "base/time.h"
#include "ledger/packages.h"
#include "base/banned.h"

#define DAY_MS (24 * 3600 * 1000LL)

/* The day of a run, from its dedupe key; -1 when it has none. */
static int64_t day_of(const struct bk_job *job)
{
    const char *p = job && job->dedupe_key ? job->dedupe_key : "";
    size_t n = strlen(BK_PACKAGES_EXPIRE_KIND ":");
    char *end = NULL;
    long long v;

    if (strncmp(p, BK_PACKAGES_EXPIRE_KIND ":", n) != 0)
        return -1;
    v = strtoll(p + n, &end, 10);
    return end && *end == '\0' ? (int64_t)v : -1;
}

static enum bk_err enqueue_day(struct bk_tx *tx, int64_t day, int64_t run_at_ms,
                               int64_t now_ms, struct bk_errbuf *err)
{
    char key[64];
    int64_t id;
    bool existed;

    snprintf(key, sizeof(key), BK_PACKAGES_EXPIRE_KIND ":%" PRId64, day);
    return bk_store_job_enqueue(tx, BK_PACKAGES_EXPIRE_KIND, key, NULL,
                                run_at_ms, 0, now_ms, &id, &existed, err);
}

/* The day after both now and the run `job` was for. */
static int64_t next_day(const struct bk_job *job)
{
    int64_t day = bk_now_ms() / DAY_MS + 1;
    return day <= day_of(job) ? day_of(job) + 1 : day;
}

/* At start: today's run, due now, when any credit is available. */
static enum bk_err schedule(void *ctx, struct bk_tx *tx, int64_t now_ms,
                            struct bk_errbuf *err)
{
    int n = 0, left = 0;
    enum bk_err e;

    (void)ctx;
    /* now 0: marks nothing, counts what is available. */
    e = bk_store_credit_expire(tx, 0, &n, &left, err);
    if (e || !left)
        return e;
    return enqueue_day(tx, now_ms / DAY_MS, now_ms, now_ms, err);
}

static enum bk_err run(void *ctx, struct bk_store *store,
                       const struct bk_job *job, struct bk_arena *arena,
                       struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    bool got = false;
    int n = 0, left = 0;
    enum bk_err e;

    (void)ctx;
    (void)arena;
    e = bk_store_begin(store, BK_TX_QUEUE, &tx, err);
    if (!e)
        e = bk_store_try_singleton(tx, BK_PACKAGES_EXPIRE_SINGLETON, &got, err);
    if (!e && got)
        e = bk_store_credit_expire(tx, bk_now_utc(), &n, &left, err);
    /* The next day's run while credits remain (a grant enqueues the run
     * of its expiry day too). */
    if (!e && (left || !got))
        e = enqueue_day(tx, next_day(job), next_day(job) * DAY_MS, bk_now_ms(),
                        err);
    if (!e)
        e = bk_jobs_finish(tx, job, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    if (!e && !got)
        bk_log_info("packages: %s skipped: another instance is expiring "
                    "credits",
                    job->dedupe_key);
    else if (!e && n)
        bk_log_info("packages: %s marked %d credit(s) expired", job->dedupe_key,
                    n);
    return e;
}

/* A run that ran out of attempts: the next day's still comes. */
static enum bk_err on_dead(void *ctx, struct bk_tx *tx,
                           const struct bk_job *job, const char *error,
                           struct bk_errbuf *err)
{
    (void)ctx;
    (void)error;
    return enqueue_day(tx, next_day(job), next_day(job) * DAY_MS, bk_now_ms(),
                       err);
}

void bk_packages_expire_kind(struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = BK_PACKAGES_EXPIRE_KIND;
    out->run = run;
    out->on_dead = on_dead;
    out->schedule = schedule;
}
