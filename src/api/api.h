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
struct bk_arena;

/* What POST /api/v1/sync answers (docs/calendars.md "Sync"). */
struct bk_sync_error {
    const char *connection; /* public id */
    const char *message;
};
struct bk_sync_summary {
    int64_t total;   /* events read from the calendars */
    int64_t created; /* busy events new since the last sync */
    int64_t updated; /* busy events changed, bookings moved or cancelled */
    int64_t skipped; /* events unchanged (or in calendars unchanged) */
    struct bk_sync_error *errors;
    size_t n_errors;
};

/* The calendar sync the API calls (connectors/calendars.c, wired by
 * cli/serve.c: api/ may not depend on connectors/). connection: a public
 * id, or host: a slug, or both NULL for every connection; kind ("caldav",
 * "google") or NULL for both; reconcile: the full compare of
 * docs/calendars.md "Reconcile". BK_E_NOT_FOUND
 * for an unknown connection or host; a connection's failure is one of
 * out->errors, not an error of the call. */
typedef enum bk_err (*bk_api_sync_fn)(void *ctx, const char *connection,
                                      const char *host, const char *kind,
                                      bool reconcile, struct bk_arena *arena,
                                      struct bk_sync_summary *out,
                                      struct bk_errbuf *err);
/* A provider's sync (Calendly): its summary, errors named by the
 * provider ("connection": "calendly"). */
typedef enum bk_err (*bk_api_provider_sync_fn)(void *ctx,
                                               struct bk_arena *arena,
                                               struct bk_sync_summary *out,
                                               struct bk_errbuf *err);
/* What the Google hook gives the OAuth callback (docs/calendars.md
 * "Google Calendar"): the tokens as JSON text to seal, the account's
 * calendars as the connection's calendars JSON, the primary calendar's id
 * (the account's address). */
struct bk_google_grant_result {
    const char *tokens;
    const char *calendars;
    const char *account;
};
/* Exchanges an authorization code (connectors/google.c, wired by
 * cli/serve.c). BK_E_UNAUTHORIZED when Google refused the code. */
typedef enum bk_err (*bk_api_google_connect_fn)(
    void *ctx, const char *code, const char *verifier, const char *redirect_uri,
    struct bk_arena *arena, struct bk_google_grant_result *out,
    struct bk_errbuf *err);
struct json_t;
/* Calendly OAuth (connectors/calendly_oauth.c, wired by cli/serve.c):
 * exchanges a code and answers the account's status; the status; forgets
 * the account. */
typedef enum bk_err (*bk_api_calendly_connect_fn)(
    void *ctx, const char *code, const char *verifier, const char *redirect_uri,
    struct bk_arena *arena, struct json_t **out, struct bk_errbuf *err);
typedef enum bk_err (*bk_api_calendly_status_fn)(void *ctx, bool pat,
                                                 struct bk_arena *arena,
                                                 struct json_t **out,
                                                 struct bk_errbuf *err);
typedef enum bk_err (*bk_api_calendly_forget_fn)(void *ctx,
                                                 struct bk_errbuf *err);
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
    const char *embed_origins;  /* BOOKINGD_EMBED_ORIGINS (checked), or NULL */
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
    /* Payments: hold_min > 0 when Stripe is configured
     * (BOOKINGD_HOLD_MINUTES), 0 when priced event types cannot be booked
     * publicly; how long a booking request waits for its Checkout
     * Session (BOOKINGD_CHECKOUT_WAIT_MS); the payment jobs' attempts. */
    int hold_min;
    int64_t checkout_wait_ms;
    int job_max_attempts;
    /* Calendar connections (api/calendars.c, docs/calendars.md). */
    const struct bk_secret_key *secret_key; /* BOOKINGD_SECRET_KEY, or NULL:
                                               credentials are refused */
    bool calendar_allow_private;     /* BOOKINGD_CALENDAR_ALLOW_PRIVATE */
    int calendar_connect_timeout_ms; /* BOOKINGD_CALENDAR_CONNECT_TIMEOUT_MS */
    int calendar_timeout_ms;         /* BOOKINGD_CALENDAR_TIMEOUT_MS */
    size_t calendar_max_response;    /* BOOKINGD_CALENDAR_MAX_RESPONSE */
    bk_api_sync_fn calendar_sync;    /* NULL: POST /api/v1/sync is 503 */
    void *calendar_sync_ctx;
    /* POST /api/v1/sync {"provider": "calendly"} (connectors/
     * calendly_sync.c, wired by cli/serve.c); NULL while CALENDLY_TOKEN is
     * not set. */
    bk_api_provider_sync_fn calendly_sync;
    void *calendly_sync_ctx;
    /* Notion's mirror and pull (connectors/notion.c); NULL while
     * NOTION_TOKEN is not set. */
    bk_api_provider_sync_fn notion_sync;
    void *notion_sync_ctx;
    /* POST /api/v1/sync {"provider": "calcom"} (connectors/calcom_sync.c,
     * wired by cli/serve.c); NULL while CALCOM_API_KEY is not set. */
    bk_api_provider_sync_fn calcom_sync;
    void *calcom_sync_ctx;
    /* Google Calendar (GOOGLE_CLIENT_ID ...): NULL client id: the
     * authorize route answers 503 not_configured. */
    const char *google_client_id;
    const char *google_auth_url; /* GOOGLE_OAUTH_BASE + /o/oauth2/v2/auth */
    bk_api_google_connect_fn google_connect;
    void *google_connect_ctx;
    /* Calendly OAuth (CALENDLY_CLIENT_ID ...): NULL client id: the
     * authorize route answers 503 not_configured (api/calendly.c). */
    const char *calendly_client_id;
    const char *calendly_auth_url; /* CALENDLY_OAUTH_BASE + /oauth/authorize */
    bool calendly_pat;             /* CALENDLY_TOKEN is set */
    bk_api_calendly_connect_fn calendly_connect;
    bk_api_calendly_status_fn calendly_status;
    bk_api_calendly_forget_fn calendly_forget;
    void *calendly_ctx;
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

/* At shutdown, before the server drains: the requests waiting for a job
 * (a booking's Checkout Session, api/waits.c) are answered now with what
 * they have, and later ones do not wait. Thread-safe; once. */
void bk_api_waits_end(void);

/* The manage token of a booking: unpadded base64url of
 * HMAC-SHA256(manage_secret, "manage:" + uid), 43 characters + NUL. */
void bk_api_manage_token(const struct bk_api *api, const char *uid,
                         char out[48]);

#endif
