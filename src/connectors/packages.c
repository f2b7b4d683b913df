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

/* Enqueues the run of today (current) or of the day after `after`. */
static enum bk_err enqueue_day(struct bk_tx *tx, int64_t now_ms, bool current,
                               int64_t after, struct bk_errbuf *err)
{
    int64_t day = now_ms / DAY_MS + (current ? 0 : 1), id;
    char key[64];
    bool existed;

    if (after >= 0 && day <= after)
        day = after + 1;
    snprintf(key, sizeof(key), BK_PACKAGES_EXPIRE_KIND ":%" PRId64, day);
    return bk_store_job_enqueue(tx, BK_PACKAGES_EXPIRE_KIND, key, NULL,
                                current ? now_ms : day * DAY_MS, 0, now_ms, &id,
                                &existed, err);
}

static enum bk_err schedule(void *ctx, struct bk_tx *tx, int64_t now_ms,
                            struct bk_errbuf *err)
{
    (void)ctx;
    return enqueue_day(tx, now_ms, true, -1, err);
}

static enum bk_err run(void *ctx, struct bk_store *store,
                       const struct bk_job *job, struct bk_arena *arena,
                       struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    bool got = false;
    int n = 0;
    enum bk_err e;

    (void)ctx;
    (void)arena;
    e = bk_store_begin(store, BK_TX_QUEUE, &tx, err);
    if (!e)
        e = bk_store_try_singleton(tx, BK_PACKAGES_EXPIRE_SINGLETON, &got, err);
    if (!e && got)
        e = bk_store_credit_expire(tx, bk_now_utc(), &n, err);
    if (!e)
        e = enqueue_day(tx, bk_now_ms(), false, day_of(job), err);
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
    return enqueue_day(tx, bk_now_ms(), false, day_of(job), err);
}

void bk_packages_expire_kind(struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = BK_PACKAGES_EXPIRE_KIND;
    out->run = run;
    out->on_dead = on_dead;
    out->schedule = schedule;
}
