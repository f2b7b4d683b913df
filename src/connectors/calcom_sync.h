/* connectors/calcom_sync.h — POST /api/v1/sync {"provider": "calcom"} and
 * the periodic "calcom.sync" job: pulls the API key's user's event types
 * (GET /v2/event-types) and bookings (GET /v2/bookings, every status,
 * offset pages) into the ledger, through the Cal.com webhook normalizer
 * and the same ledger rules as the webhooks, so that a sync fills what
 * webhooks missed and a second sync changes nothing
 * (docs/providers/calcom.md "Sync"). */
#ifndef BK_CONNECTORS_CALCOM_SYNC_H
#define BK_CONNECTORS_CALCOM_SYNC_H

#include <jansson.h>

#include "api/api.h"
#include "base/arena.h"
#include "base/err.h"
#include "connectors/calcom.h"
#include "core/event.h"
#include "jobs/jobs.h"
#include "store/store.h"

struct bk_calcom_sync {
    const struct bk_calcom_config *cfg; /* key, base, time-outs */
    struct bk_store *store;
    /* The webhook provider's normalizer (webhooks/calcom.c), wired by
     * cli/serve.c: an API booking is turned into the delivery a webhook
     * would have brought and normalized by it. */
    enum bk_err (*normalize)(const json_t *doc, struct bk_arena *arena,
                             struct bk_ext_event *out, struct bk_errbuf *err);
    int max_pages;      /* of bookings; 0: 50 */
    int64_t past_days;  /* CALCOM_SYNC_PAST_DAYS: the window before the
                           last sync (before now, the first time) */
    int64_t interval_s; /* CALCOM_SYNC_INTERVAL_S; 0: no periodic sync */
};

/* Runs one sync (ctx: a struct bk_calcom_sync): the event types as links
 * (imported inactive, "calcom-<slug>", mapped to the Cal.com id), then
 * the bookings starting from past_days before the previous successful
 * sync (before now the first time), future ones included. A booking that
 * cannot be applied is one of out->errors ("connection": "calcom"), the
 * ledger unchanged by it; a failure to read Cal.com at all (network, 401,
 * 429, an answer that is not the envelope) is one too, and the summary
 * holds what was done before it. Only one sync runs at a time in a process
 * (a second caller waits for it). BK_E_UNAVAILABLE without a key. */
BK_MUST_CHECK enum bk_err bk_calcom_sync_run(void *ctx, struct bk_arena *arena,
                                             struct bk_sync_summary *out,
                                             struct bk_errbuf *err);

/* The periodic job kind "calcom.sync" (ctx: a struct bk_calcom_sync,
 * borrowed): one run every interval_s, one instance at a time (the job is
 * a singleton of the queue). Enqueued at start only when interval_s > 0
 * and a key is set. */
void bk_calcom_sync_kind(struct bk_calcom_sync *s, struct bk_job_kind *out);

#endif
