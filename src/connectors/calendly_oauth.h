/* connectors/calendly_oauth.h — a Calendly account connected with OAuth 2.0
 * (PROVIDERS.md §2.3, docs/providers/calendly.md "OAuth"), in place of the
 * personal access token CALENDLY_TOKEN: the authorization code exchanged
 * for tokens (the API's callback route calls bk_calendly_oauth_connect),
 * the tokens sealed with BOOKINGD_SECRET_KEY in the database (meta
 * "calendly.oauth"), the access token refreshed before it expires (the
 * periodic job "calendly.refresh", and before a call when it is about to
 * expire) and once on a 401. Calendly's refresh tokens are single-use and
 * rotate: the new refresh token is stored in the same transaction as the
 * new access token, and the threads of an instance refresh one at a time
 * (a lease in the stored state keeps other instances from refreshing the
 * same token at once). A refresh that fails (network, 5xx, 429) is retried
 * with exponential backoff (1 min doubling to 1 h); `invalid_grant` (the
 * grant was revoked) sets the account's status to needs_auth: its jobs
 * wait, deferred, until it is authorized again. */
#ifndef BK_CONNECTORS_CALENDLY_OAUTH_H
#define BK_CONNECTORS_CALENDLY_OAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/arena.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "jobs/jobs.h"
#include "store/store.h"

#define BK_CALENDLY_OAUTH_BASE "https://auth.calendly.com"

struct bk_calendly_oauth_config {
    const char *client_id;     /* CALENDLY_CLIENT_ID; NULL: OAuth is off */
    const char *client_secret; /* CALENDLY_CLIENT_SECRET */
    const char *oauth_base;    /* CALENDLY_OAUTH_BASE, no trailing '/' */
    bool allow_private;        /* the base was set by the operator */
    int connect_timeout_ms;
    int timeout_ms;
    int64_t refresh_interval_ms; /* the periodic job's period */
    int64_t backoff_ms; /* the first retry after a failed refresh (doubling
                           up to an hour); 0: a minute */
    const struct bk_secret_key *secret_key; /* NULL: tokens cannot be kept */
    struct bk_store *store;
};

/* The errbuf code of a refusal because the grant needs consent again. */
#define BK_CALENDLY_NEEDS_AUTH "needs_auth"

/* The bearer token for Calendly's API: the OAuth access token when an
 * account is connected (refreshed first when it expires within a minute),
 * else pat (CALENDLY_TOKEN) when not NULL. BK_E_UNAVAILABLE when neither;
 * BK_E_RATE_LIMITED (code BK_CALENDLY_NEEDS_AUTH) while the grant waits
 * for consent — a job deferred, not failed; BK_E_RETRY when a refresh
 * failed or is backing off. *bearer in arena. */
BK_MUST_CHECK enum bk_err
bk_calendly_bearer(const struct bk_calendly_oauth_config *cfg, const char *pat,
                   struct bk_arena *arena, const char **bearer,
                   struct bk_errbuf *err);

/* After Calendly answered 401 to bearer: refreshes the access token when
 * bearer is the stored one (another thread may have done it already).
 * BK_OK: call bk_calendly_bearer again and retry once. Other errors as
 * bk_calendly_bearer; BK_E_UNAUTHORIZED when bearer is the personal access
 * token (nothing to refresh). */
BK_MUST_CHECK enum bk_err
bk_calendly_rejected(const struct bk_calendly_oauth_config *cfg,
                     const char *bearer, struct bk_arena *arena,
                     struct bk_errbuf *err);

/* The API's callback hook (api.h bk_api_calendly_connect_fn; ctx: this
 * config): exchanges code (with the PKCE verifier and the redirect URI
 * sent to the consent page), stores the sealed tokens, status active, and
 * answers the account's status in *out. BK_E_INVALID when Calendly
 * refuses the code; BK_E_IO for the transport or a 5xx. */
enum bk_err bk_calendly_oauth_connect(void *ctx, const char *code,
                                      const char *verifier,
                                      const char *redirect_uri,
                                      struct bk_arena *arena, json_t **out,
                                      struct bk_errbuf *err);

/* The API's status hook (ctx: this config): {"auth": "oauth" | "token" |
 * null, "status": "active" | "needs_auth" | null, "owner", "organization",
 * "expires_at", "refresh_failures", "next_refresh_at", "last_error"};
 * pat: whether CALENDLY_TOKEN is set. */
enum bk_err bk_calendly_oauth_status(void *ctx, bool pat,
                                     struct bk_arena *arena, json_t **out,
                                     struct bk_errbuf *err);

/* The API's disconnect hook: forgets the stored account. */
enum bk_err bk_calendly_oauth_forget(void *ctx, struct bk_errbuf *err);

/* The periodic job "calendly.refresh": refreshes the access token when it
 * expires within 10 minutes (or half its lifetime), or when a failed
 * refresh's backoff is over. cfg borrowed. */
void bk_calendly_refresh_kind(const struct bk_calendly_oauth_config *cfg,
                              struct bk_job_kind *out);

#endif
