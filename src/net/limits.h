/* net/limits.h — what every outbound request to a provider passes first: a
 * token bucket (the provider's rate limit, kept on our side so that a burst
 * of jobs is spread out rather than answered 429) and a circuit breaker (a
 * provider that keeps failing is not called for a while; jobs fail fast and
 * retry later). Keyed by bk_net_request.provider; shared by every thread of
 * the process (one mutex); not shared between instances (each instance
 * keeps its own budget: docs/providers/README.md "Rate limits and the
 * circuit breaker").
 *
 * Bucket: `rate` tokens a second, at most `burst` kept. A request takes a
 * token, waiting for one at most max_wait_ms (callers queue in order: a
 * token is reserved before the wait); a longer wait is refused with
 * BK_E_RATE_LIMITED at once, so the job retries later rather than holding its
 * worker. A 429 or 503 answer with Retry-After pauses the bucket (every
 * thread's requests to that provider) until then.
 *
 * Breaker: closed; `failures` consecutive failures (no answer: connection
 * refused, time-out, TLS; or a 5xx answer — never a 4xx) open it; while
 * open every request is refused at once (BK_E_RATE_LIMITED); after cooldown_ms
 * one request is let through (half-open, the probe; the others are still
 * refused); its success closes the breaker, its failure opens it again for
 * another cooldown. */
#ifndef BK_NET_LIMITS_H
#define BK_NET_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct bk_net_limit {
    double rate;         /* tokens a second; 0: no rate limit */
    int burst;           /* most tokens kept, >= 1 */
    int failures;        /* consecutive failures that open; 0: no breaker */
    int64_t cooldown_ms; /* how long the breaker stays open, > 0 */
};

/* The built-in limit of provider (a name such as "notion", or
 * "caldav:host", whose part before ':' is looked up): the figures of
 * PROVIDERS.md where it gives them (docs/providers/README.md lists them).
 * An unknown provider has no rate limit and the default breaker. */
void bk_net_limit_default(const char *provider, struct bk_net_limit *out);

/* Parses an override "rate=3/s,burst=5,failures=5,cooldown=30s" into *l
 * (fields not named keep their value). rate is N/s, N/m or "off" (no rate
 * limit); cooldown is N, Ns or Nm (seconds or minutes); failures=0 turns
 * the breaker off. BK_E_CONFIG with the reason otherwise. */
BK_MUST_CHECK enum bk_err bk_net_limit_parse(const char *spec,
                                             struct bk_net_limit *l,
                                             struct bk_errbuf *err);

/* The clock (tests inject theirs; NULL members: the real ones). */
struct bk_net_clock {
    int64_t (*mono_ms)(void *ctx);
    int64_t (*wall_ms)(void *ctx);
    void (*sleep_ms)(void *ctx, int64_t ms);
    void *ctx;
};

struct bk_net_limiter;

/* A limiter; clock NULL: the real clocks. max_wait_ms: the longest wait
 * for a token (0: never wait). */
BK_MUST_CHECK enum bk_err bk_net_limiter_new(const struct bk_net_clock *clock,
                                             int64_t max_wait_ms,
                                             struct bk_net_limiter **out,
                                             struct bk_errbuf *err);
void bk_net_limiter_free(struct bk_net_limiter *l);

/* Overrides the limit of provider (and of "provider:..." keys) from now
 * on, in place of bk_net_limit_default. BK_E_CONFIG for a bad limit. */
BK_MUST_CHECK enum bk_err bk_net_limiter_set(struct bk_net_limiter *l,
                                             const char *provider,
                                             const struct bk_net_limit *lim,
                                             struct bk_errbuf *err);

/* What one request holds between acquire and done. */
struct bk_net_ticket {
    int slot;   /* -1: not counted (no provider, or the table is full) */
    bool probe; /* the half-open breaker's one request */
};

/* Before a request to provider (NULL or "": nothing, BK_OK): waits for a
 * token. BK_E_RATE_LIMITED, with a message naming the provider and when to try
 * again, when the breaker is open (or its probe is out) or no token comes
 * within max_wait_ms. Thread-safe. */
BK_MUST_CHECK enum bk_err bk_net_limiter_acquire(struct bk_net_limiter *l,
                                                 const char *provider,
                                                 struct bk_net_ticket *t,
                                                 struct bk_errbuf *err);

/* The errbuf code (bk_errbuf_code) of acquire's refusals, for callers that
 * keep only the message. */
#define BK_NET_LIMITED_CODE "provider_limited"

/* After it: e is what the request returned (BK_E_IO: a failure; another
 * error: not sent, neutral), status its HTTP status (>= 500 or 0: a
 * failure), retry_after_s its Retry-After (pauses the bucket on 429 and
 * 503). Thread-safe. */
void bk_net_limiter_done(struct bk_net_limiter *l,
                         const struct bk_net_ticket *t, enum bk_err e,
                         int status, int retry_after_s);

/* One provider's state, for the admin API. Times are wall-clock Unix ms,
 * 0 when not applicable. */
struct bk_net_provider_status {
    char provider[64];
    const char *state; /* "closed", "open", "half_open" */
    int consecutive_failures;
    int64_t opened_at_ms;    /* when the breaker last opened (while open) */
    int64_t next_probe_ms;   /* when a probe may go (while open) */
    int64_t paused_until_ms; /* a Retry-After pause, while it lasts */
    struct bk_net_limit limit;
    double tokens; /* left in the bucket (negative: reserved by waiters) */
    uint64_t requests, waited, refused, failed;
};

/* Copies the state of up to max providers seen (or configured) into out,
 * by name; returns how many. Thread-safe. */
size_t bk_net_limiter_status(struct bk_net_limiter *l,
                             struct bk_net_provider_status *out, size_t max);

/* The most providers a limiter tracks; beyond them requests pass
 * unlimited (and a warning is logged once). */
#define BK_NET_LIMIT_SLOTS 128

/* ---- the process's limiter, used by bk_net_request ---------------------- */

/* The process's limiter (made on first use, with the defaults). */
struct bk_net_limiter *bk_net_limits(void);

/* Reads BOOKINGD_LIMIT_<PROVIDER> (provider names upper-cased, e.g.
 * BOOKINGD_LIMIT_NOTION, BOOKINGD_LIMIT_CALDAV) for the known providers
 * and BOOKINGD_LIMIT_WAIT_MS into the process's limiter. Call at start,
 * before requests. BK_E_CONFIG naming the variable when one is wrong. */
BK_MUST_CHECK enum bk_err bk_net_limits_load_env(struct bk_errbuf *err);

#endif
