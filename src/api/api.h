/* api/api.h — the HTTP API of API.md and the pages, as one handler for
 * http/server.h. */
#ifndef BK_API_API_H
#define BK_API_API_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "store/store.h"

struct bk_inbox;
struct bk_ratelimit;

/* The rate limits of public endpoints, per client address
 * (http/ratelimit.h; README "Configuration"). Requests with the admin key
 * are never limited. */
enum bk_rate_class {
    BK_RATE_NONE = 0,
    BK_RATE_BOOKINGS = 1, /* POST /api/v1/bookings */
    BK_RATE_SLOTS = 2,    /* GET /api/v1/event-types/{slug}/slots */
    BK_RATE_WEBHOOKS = 3, /* POST /webhooks/{provider} */
    BK_RATE_MANAGE = 4,   /* the manage token's endpoints, the ICS feed */
};
#define BK_RATE_CLASSES 5

/* The class's name ("bookings", "slots", "webhooks", "manage"; "none"):
 * its environment variable is BOOKINGD_RATE_LIMIT_ + the name in capitals,
 * its metric label the name. */
const char *bk_api_rate_class_name(enum bk_rate_class cls);
struct bk_jobs;
struct bk_webhook_registry;

/* What the handlers share. Everything is borrowed and must outlive the
 * server. */
struct bk_api {
    struct bk_store *store;
    /* SHA-256 of the admin key; requests present the key itself. */
    unsigned char admin_key_sha256[BK_SHA256_LEN];
    /* HMAC key of manage tokens (random, kept in the database). */
    unsigned char manage_secret[32];
    const char *base_url;       /* "http://127.0.0.1:8080", no trailing slash */
    struct bk_inbox *inbox;     /* webhooks in; may be NULL */
    struct bk_jobs *jobs;       /* woken after a replay; may be NULL */
    bool webhook_allow_private; /* BOOKINGD_WEBHOOK_ALLOW_PRIVATE */
    int webhook_max_attempts;   /* BOOKINGD_WEBHOOK_MAX_ATTEMPTS */
    /* BOOKINGD_READY_STALL_MS: a worker busy with one job, or the inbox
     * with one batch, longer than this makes GET /readyz 503. */
    int64_t ready_stall_ms;
    struct bk_http_counters *http_counters; /* the server's; may be NULL */
    /* Token buckets indexed by enum bk_rate_class; NULL: no limits. */
    struct bk_ratelimit *ratelimit;
    const struct bk_webhook_registry *webhooks; /* providers; may be NULL */
};

/* The handler: routes, authenticates, answers. ctx is a struct bk_api. */
void bk_api_handle(void *ctx, struct bk_http_request *req,
                   struct bk_http_response *resp);

/* The server's observer (http/http.h bk_http_observe_fn): counts the
 * response by route, method and status and its latency in a histogram,
 * in fixed tables of atomics (no lock, no allocation). ctx is a struct
 * bk_api. */
void bk_api_observe(void *ctx, const struct bk_http_request *req, int status,
                    int64_t duration_us);

/* The manage token of a booking: unpadded base64url of
 * HMAC-SHA256(manage_secret, "manage:" + uid), 43 characters + NUL. */
void bk_api_manage_token(const struct bk_api *api, const char *uid,
                         char out[48]);

#endif
