/* connectors/calendly_sync.h — POST /api/v1/sync {"provider": "calendly"}:
 * pulls the Calendly user's scheduled events (GET /scheduled_events,
 * paginated) and their invitees (GET /scheduled_events/{uuid}/invitees)
 * into the ledger, through the same normalizer and the same ledger rules
 * as the webhooks, so that a sync fills what webhooks missed and a second
 * sync changes nothing. */
#ifndef BK_CONNECTORS_CALENDLY_SYNC_H
#define BK_CONNECTORS_CALENDLY_SYNC_H

#include <jansson.h>

#include "api/api.h"
#include "base/arena.h"
#include "base/err.h"
#include "connectors/calendly.h"
#include "core/event.h"
#include "store/store.h"

struct bk_calendly_sync {
    const struct bk_calendly_config *cfg; /* token, base, time-outs */
    struct bk_store *store;
    /* The webhook provider's normalizer (webhooks/calendly.c), wired by
     * cli/serve.c: a synthetic delivery {"event", "payload": invitee with
     * its scheduled_event} becomes the same event a webhook would. */
    enum bk_err (*normalize)(const json_t *doc, struct bk_arena *arena,
                             struct bk_ext_event *out, struct bk_errbuf *err);
    int max_pages; /* of each list; 0: 50 */
    /* The webhook subscription made when missing (both set: the public
     * BOOKINGD_BASE_URL + "/webhooks/calendly" and
     * CALENDLY_WEBHOOK_SIGNING_KEY); NULL: not managed. */
    const char *callback_url;
    const char *signing_key;
};

/* Runs one sync (ctx: a struct bk_calendly_sync): makes sure the webhook
 * subscription exists (when callback_url and signing_key are set), imports
 * the user's event types as links, then the events. Reads events starting
 * from 30 days before the previous successful sync (or before now, the
 * first time): Calendly filters its list by start time only. A failure of
 * one invitee is one of out->errors ("connection": "calendly"); a failure
 * to read Calendly at all (network, 401, 429) is one too, and the summary
 * holds what was done before it. BK_E_UNAVAILABLE without a token. */
BK_MUST_CHECK enum bk_err bk_calendly_sync_run(void *ctx,
                                               struct bk_arena *arena,
                                               struct bk_sync_summary *out,
                                               struct bk_errbuf *err);

#endif
