/* connectors/packages.h — "packages.expire", the daily job that marks the
 * package credits whose validity ended (ledger/packages.h). It runs once a
 * day while any credit is available, and not at all otherwise: one job row
 * per UTC day (dedupe key "packages.expire:<day number>"); paying a
 * purchase enqueues the run of the day its credits expire, due at that
 * moment; each run enqueues the next day's while credits remain; a start
 * enqueues today's when any is available. The marking holds the
 * singleton BK_PACKAGES_EXPIRE_SINGLETON: one instance at a time. Using a
 * credit checks its expiry itself, so the job only makes the stored state
 * say what is already true. */
#ifndef BK_CONNECTORS_PACKAGES_H
#define BK_CONNECTORS_PACKAGES_H

#include "jobs/jobs.h"

/* Fills out with the kind; max_attempts of each run (0: the queue's
 * default). */
void bk_packages_expire_kind(struct bk_job_kind *out);

#endif
