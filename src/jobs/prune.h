/* jobs/prune.h — the periodic job that deletes done jobs older than a
 * retention period, so that the queue does not grow for ever. It runs once
 * per interval in exactly one instance: one job row per period (dedupe key
 * "jobs.prune:<period number>"), claimed like any job, each run enqueueing
 * the next period's; and every batch it deletes holds the singleton
 * BK_JOBS_PRUNE_SINGLETON, so that two instances never prune at once.
 * Pending, running and dead jobs are never deleted. */
#ifndef BK_JOBS_PRUNE_H
#define BK_JOBS_PRUNE_H

#include <stdint.h>

#include "jobs/jobs.h"

#define BK_JOBS_PRUNE_KIND "jobs.prune"
/* The bk_store_try_singleton key of pruning. */
#define BK_JOBS_PRUNE_SINGLETON 1

struct bk_jobs_prune_config {
    int retention_days;  /* done jobs older than this go; 0: keep for ever
                            (nothing is scheduled) */
    int64_t interval_ms; /* one prune per interval (UTC-aligned periods) */
    int batch;           /* jobs deleted per transaction, 1..10000 (0:
                            1000) */
    int max_batches;     /* batches per run at most (0: 100); the rest waits
                            for the next period */
    int max_attempts;    /* of each prune job */
};

/* Fills out with the "jobs.prune" kind; cfg is borrowed and must outlive
 * the worker pool. A run stops early, to finish within half its lease. */
void bk_jobs_prune_kind(const struct bk_jobs_prune_config *cfg,
                        struct bk_job_kind *out);

#endif
