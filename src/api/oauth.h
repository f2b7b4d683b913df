/* api/oauth.h — what the OAuth 2.0 routes of api/ (calendly.c, and the
 * Google flow of calendars.c) do alike: the state, signed with the manage
 * secret and good once (its nonce remembered until it expires); the PKCE
 * verifier (RFC 7636, S256) derived from the nonce, so nothing is kept
 * between the redirect and the callback; the redirect URI; query
 * encoding; the answer when the provider did not authorize. Shared by the
 * files of api/ only. */
#ifndef BK_API_OAUTH_H
#define BK_API_OAUTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/internal.h"

#define BK_OAUTH_NONCE_LEN 16

/* Nonces of states a callback used, until they expire. Define one with
 * BK_OAUTH_USED(name, count). */
struct bk_oauth_used_slot {
    char nonce[BK_OAUTH_NONCE_LEN + 1];
    int64_t expires_utc;
};
struct bk_oauth_used {
    struct bk_oauth_used_slot *slot;
    size_t n;
    pthread_mutex_t lock;
};
#define BK_OAUTH_USED(name, count)                                             \
    static struct bk_oauth_used_slot name##_slots[count];                      \
    static struct bk_oauth_used name = {name##_slots, count,                   \
                                        PTHREAD_MUTEX_INITIALIZER}

/* Marks nonce used until expires_utc; false when it was already (a full
 * table forgets the state that expires first). */
bool bk_oauth_use_nonce(struct bk_oauth_used *used, const char *nonce,
                        int64_t expires_utc, int64_t now);

/* "base64url(payload).base64url(HMAC(manage secret, purpose || the
 * former))". */
const char *bk_oauth_state_sign(const struct bk_api *api, const char *purpose,
                                const char *payload, struct bk_arena *arena);

/* The payload of a state that state_sign made with purpose, split at '|'
 * into exactly n parts (a part after the n-th is dropped); false when the
 * state is longer than max, malformed, not signed by us or has fewer
 * parts. */
bool bk_oauth_state_open(const struct bk_api *api, const char *purpose,
                         const char *state, size_t max, struct bk_arena *arena,
                         char **parts, int n);

/* The PKCE verifier of a nonce (HMAC(manage secret, purpose || nonce),
 * base64url) and, when challenge is not NULL, its S256 challenge. */
void bk_oauth_pkce(const struct bk_api *api, const char *purpose,
                   const char *nonce, char verifier[48], char challenge[48]);

/* BOOKINGD_BASE_URL/oauth/<provider>/callback. */
const char *bk_oauth_redirect_uri(const struct bk_api *api,
                                  const char *provider, struct bk_arena *arena);

/* The error when the provider (who, as a person reads it: "Google") sent
 * the browser back with ?error: invalid, code authorization_denied; the
 * provider's error named when it is a plain short word. */
enum bk_err bk_oauth_denied(struct bk_api_call *c, const char *who,
                            const char *error);

#endif
