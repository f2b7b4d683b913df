/* jobs/lifecycle.h — the client lifecycle's daily job
 * ("clients.lifecycle", docs/payments.md "Client lifecycle"): active
 * clients without bookings for BOOKINGD_CLIENT_INACTIVE_DAYS become
 * inactive (ledger.h bk_ledger_clients_inactivate). Once per interval in
 * one instance at a time: one job row per period (dedupe key
 * "clients.lifecycle:<period number>"), each run enqueueing the next
 * period's, and every batch it changes holds the singleton
 * BK_JOBS_LIFECYCLE_SINGLETON (as jobs/prune.h does). */
#ifndef BK_JOBS_LIFECYCLE_H
#define BK_JOBS_LIFECYCLE_H

#include <stdint.h>

#include "jobs/jobs.h"

#define BK_JOBS_LIFECYCLE_KIND "clients.lifecycle"
/* The bk_store_try_singleton key of the lifecycle job (prune's is 1). */
#define BK_JOBS_LIFECYCLE_SINGLETON 2

struct bk_jobs_lifecycle_config {
    int inactive_days;   /* 1..3650; 0: never (nothing is scheduled) */
    int64_t interval_ms; /* one run per interval (UTC-aligned periods) */
    int batch;           /* clients per transaction (0: 200) */
    int max_attempts;    /* of each run */
};

/* Fills out with the "clients.lifecycle" kind; cfg is borrowed and must
 * outlive the worker pool. */
void bk_jobs_lifecycle_kind(const struct bk_jobs_lifecycle_config *cfg,
                            struct bk_job_kind *out);

#endif
