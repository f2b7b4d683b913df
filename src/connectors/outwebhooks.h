/* connectors/outwebhooks.h — outbound webhooks per the Standard Webhooks
 * specification (PROVIDERS.md §8). A ledger subscriber's job
 * (webhooks.fanout) turns one ledger event into one message row and one
 * send job per matching endpoint, so an endpoint's outage delays only its
 * own messages; each send job (webhooks.send) signs and POSTs its message
 * with bounded time-outs and is retried with the queue's backoff. The
 * endpoints' HTTP API is api/webhook_endpoints.c. */
#ifndef BK_CONNECTORS_OUTWEBHOOKS_H
#define BK_CONNECTORS_OUTWEBHOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "jobs/jobs.h"
#include "ledger/events.h"
#include "store/store.h"

struct bk_outwebhooks_config {
    bool allow_private;       /* BOOKINGD_WEBHOOK_ALLOW_PRIVATE */
    int connect_timeout_ms;   /* BOOKINGD_WEBHOOK_CONNECT_TIMEOUT_MS */
    int timeout_ms;           /* BOOKINGD_WEBHOOK_TIMEOUT_MS, whole request */
    int max_attempts;         /* BOOKINGD_WEBHOOK_MAX_ATTEMPTS per message */
    int64_t disable_after_ms; /* BOOKINGD_WEBHOOK_DISABLE_AFTER_S: an
                                 endpoint failing this long is disabled */
    const struct bk_secret_key *secret_key; /* BOOKINGD_SECRET_KEY, or NULL:
                                               opens sealed endpoint
                                               secrets */
};

/* What the kinds share; lives as long as the worker pool. */
struct bk_outwebhooks {
    struct bk_outwebhooks_config cfg;
    struct bk_jobs *jobs; /* woken after a fan-out; set once started */
};

/* The ledger subscriber (job kind "webhooks.fanout") of the published
 * events (bk_ledger_event_public_name). Static. */
const struct bk_ledger_subscriber *bk_outwebhooks_subscriber(void);

/* The job kinds "webhooks.fanout" and "webhooks.send"; ow is borrowed. */
void bk_outwebhooks_fanout_kind(struct bk_outwebhooks *ow,
                                struct bk_job_kind *out);
void bk_outwebhooks_send_kind(struct bk_outwebhooks *ow,
                              struct bk_job_kind *out);

/* The signature header's value for one attempt: "v1," + base64 of
 * HMAC-SHA256(secret's decoded bytes, id "." timestamp "." body).
 * secret is "whsec_" + base64. out gets at most 64 bytes.
 * BK_E_INVALID for a secret that does not decode. */
/* The signing secret ("whsec_...") of ep: its stored secret as it is
 * (a legacy plaintext row, or one written without BOOKINGD_SECRET_KEY), or
 * opened with key when sealed ("bk1:", bound to BK_WH_SECRET_AAD).
 * BK_E_CONFIG when sealed and key is NULL or another key; bk_secret_open's
 * errors otherwise. *out is in arena or ep's. */
BK_MUST_CHECK enum bk_err bk_outwebhooks_secret(const struct bk_secret_key *key,
                                                const struct bk_wh_endpoint *ep,
                                                struct bk_arena *arena,
                                                const char **out,
                                                struct bk_errbuf *err);

BK_MUST_CHECK enum bk_err
bk_outwebhooks_sign(const char *secret, const char *msg_id, int64_t timestamp_s,
                    const char *body, size_t body_len, char out[64],
                    struct bk_errbuf *err);

#endif
