/* api/oauth.c — the OAuth 2.0 state, PKCE verifier, redirect URI and
 * query encoding that api/calendly.c and api/calendars.c share (see
 * api/oauth.h). */
#include <stdio.h>
#include <string.h>

#include "api/oauth.h"
#include "base/arena.h"
#include "base/str.h"
#include "crypto/crypto.h"
#include "base/banned.h"

bool bk_oauth_use_nonce(struct bk_oauth_used *used, const char *nonce,
                        int64_t expires_utc, int64_t now)
{
    size_t free_slot = used->n, oldest = 0;
    bool fresh = true;

    pthread_mutex_lock(&used->lock);
    for (size_t i = 0; i < used->n; i++) {
        if (used->slot[i].expires_utc > now &&
            strcmp(used->slot[i].nonce, nonce) == 0) {
            fresh = false;
            break;
        }
        if (used->slot[i].expires_utc <= now && free_slot == used->n)
            free_slot = i;
        if (used->slot[i].expires_utc < used->slot[oldest].expires_utc)
            oldest = i;
    }
    if (fresh) {
        size_t i = free_slot < used->n ? free_slot : oldest;
        bk_strlcpy(used->slot[i].nonce, nonce, sizeof(used->slot[i].nonce));
        used->slot[i].expires_utc = expires_utc;
    }
    pthread_mutex_unlock(&used->lock);
    return fresh;
}

/* base64url(HMAC(manage_secret, purpose || text)). */
static void mac_of(const struct bk_api *api, const char *purpose,
                   const char *text, char out[48])
{
    unsigned char mac[BK_SHA256_LEN];
    struct bk_iov parts[2] = {{purpose, strlen(purpose)}, {text, strlen(text)}};

    bk_hmac_sha256(api->manage_secret, sizeof(api->manage_secret), parts, 2,
                   mac);
    bk_base64url_encode(mac, sizeof(mac), out);
}

const char *bk_oauth_state_sign(const struct bk_api *api, const char *purpose,
                                const char *payload, struct bk_arena *arena)
{
    char mac[48];
    char *b = bk_arena_alloc(arena, strlen(payload) * 4 / 3 + 8);

    bk_base64url_encode((const unsigned char *)payload, strlen(payload), b);
    mac_of(api, purpose, b, mac);
    return bk_arena_printf(arena, "%s.%s", b, mac);
}

bool bk_oauth_state_open(const struct bk_api *api, const char *purpose,
                         const char *state, size_t max, struct bk_arena *arena,
                         char **parts, int n)
{
    const char *dot = strchr(state, '.');
    char mac[48], *b, *p;
    unsigned char *raw;
    size_t blen, len = 0;

    if (strlen(state) > max || !dot)
        return false;
    blen = (size_t)(dot - state);
    b = bk_arena_strndup(arena, state, blen);
    mac_of(api, purpose, b, mac);
    if (strlen(dot + 1) != strlen(mac) ||
        !bk_ct_equal(dot + 1, mac, strlen(mac)))
        return false;
    raw = bk_arena_alloc(arena, blen + 1);
    if (bk_base64_decode(b, false, raw, blen + 1, &len) != BK_OK)
        return false;
    p = bk_arena_strndup(arena, (const char *)raw, len);
    for (int i = 0; i < n; i++) {
        parts[i] = p;
        p = strchr(p, '|');
        if (i < n - 1 && !p)
            return false;
        if (p)
            *p++ = '\0';
    }
    return true;
}

void bk_oauth_pkce(const struct bk_api *api, const char *purpose,
                   const char *nonce, char verifier[48], char challenge[48])
{
    unsigned char digest[BK_SHA256_LEN];

    mac_of(api, purpose, nonce, verifier);
    if (!challenge)
        return;
    bk_sha256(verifier, strlen(verifier), digest);
    bk_base64url_encode(digest, sizeof(digest), challenge);
}

const char *bk_oauth_redirect_uri(const struct bk_api *api,
                                  const char *provider, struct bk_arena *arena)
{
    return bk_arena_printf(arena, "%s/oauth/%s/callback",
                           api->base_url ? api->base_url : "", provider);
}

enum bk_err bk_oauth_denied(struct bk_api_call *c, const char *who,
                            const char *error)
{
    enum bk_err e = bk_fail_field(
        c->err, BK_E_INVALID, "error",
        "%s did not authorize access (%s): nothing was stored", who,
        strlen(error) <= 64 &&
                strspn(error, "abcdefghijklmnopqrstuvwxyz_") == strlen(error)
            ? error
            : "an unknown error");

    bk_errbuf_code(c->err, "authorization_denied");
    return e;
}
