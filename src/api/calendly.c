/* api/calendly.c — connecting a Calendly account with OAuth 2.0
 * (docs/providers/calendly.md "OAuth"): GET /api/v1/calendly (the
 * account's status), GET /api/v1/calendly/authorize (a redirect to
 * Calendly's consent page), GET /oauth/calendly/callback (Calendly sends
 * the browser back: the code is exchanged, the tokens stored) and
 * DELETE /api/v1/calendly (the account forgotten). The state is signed
 * with the manage secret, expires in 10 minutes and is good once; the
 * PKCE verifier (RFC 7636, S256) is derived from its nonce, so nothing is
 * kept between the redirect and the callback. The exchange and the
 * storage are connectors/calendly_oauth.c's, reached through hooks. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "base/str.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "base/banned.h"

#define STATE_TTL_S 600
#define NONCE_LEN   16
#define MAX_STATE   512
#define MAX_CODE    2048
#define USED_STATES 64

/* Nonces of states used by a callback, until they expire. */
static struct {
    char nonce[NONCE_LEN + 1];
    int64_t expires_utc;
} used[USED_STATES];
static pthread_mutex_t used_lock = PTHREAD_MUTEX_INITIALIZER;

static bool use_nonce(const char *nonce, int64_t expires_utc, int64_t now)
{
    size_t slot = USED_STATES, oldest = 0;
    bool fresh = true;

    pthread_mutex_lock(&used_lock);
    for (size_t i = 0; i < USED_STATES; i++) {
        if (used[i].expires_utc > now && strcmp(used[i].nonce, nonce) == 0) {
            fresh = false;
            break;
        }
        if (used[i].expires_utc <= now && slot == USED_STATES)
            slot = i;
        if (used[i].expires_utc < used[oldest].expires_utc)
            oldest = i;
    }
    if (fresh) {
        size_t i = slot < USED_STATES ? slot : oldest;
        bk_strlcpy(used[i].nonce, nonce, sizeof(used[i].nonce));
        used[i].expires_utc = expires_utc;
    }
    pthread_mutex_unlock(&used_lock);
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

static const char *redirect_uri(const struct bk_api *api,
                                struct bk_arena *arena)
{
    return bk_arena_printf(arena, "%s/oauth/calendly/callback",
                           api->base_url ? api->base_url : "");
}

static const char *qenc(struct bk_arena *arena, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = bk_arena_alloc(arena, strlen(s) * 3 + 1), *o = out;

    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
            ch == '~') {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o = '\0';
    return out;
}

static enum bk_err ready(struct bk_api_call *c)
{
    enum bk_err e;

    if (!c->api->calendly_client_id || !c->api->calendly_connect) {
        e = bk_fail(c->err, BK_E_UNAVAILABLE,
                    "Calendly OAuth is not configured: set "
                    "CALENDLY_CLIENT_ID and CALENDLY_CLIENT_SECRET");
        bk_errbuf_code(c->err, "not_configured");
        return e;
    }
    if (!c->api->secret_key) {
        e = bk_fail(c->err, BK_E_UNAVAILABLE,
                    "BOOKINGD_SECRET_KEY is not set: bookingd cannot store "
                    "the Calendly tokens");
        bk_errbuf_code(c->err, "secret_key_missing");
        return e;
    }
    return BK_OK;
}

/* GET /api/v1/calendly */
static enum bk_err status(struct bk_api_call *c)
{
    json_t *o = NULL;
    enum bk_err e;

    if (!c->api->calendly_status) {
        o = json_pack(
            "{s:o, s:o, s:n, s:n, s:n, s:i, s:n, s:n}", "auth",
            c->api->calendly_pat ? json_string("token") : json_null(), "status",
            c->api->calendly_pat ? json_string("active") : json_null(), "owner",
            "organization", "expires_at", "refresh_failures", 0,
            "next_refresh_at", "last_error");
        bk_api_reply(c, 200, o);
        return BK_OK;
    }
    if ((e = c->api->calendly_status(c->api->calendly_ctx, c->api->calendly_pat,
                                     c->arena, &o, c->err)))
        return e;
    bk_api_reply(c, 200, o);
    return BK_OK;
}

/* GET /api/v1/calendly/authorize — 302 to Calendly's consent page. */
static enum bk_err authorize(struct bk_api_call *c)
{
    char nonce[NONCE_LEN + 1], mac[48], verifier[48], challenge[48];
    unsigned char digest[BK_SHA256_LEN];
    const char *payload, *state, *url, *text;
    char *b;
    json_t *o;
    enum bk_err e;

    if ((e = ready(c)))
        return e;
    bk_random_token(nonce, NONCE_LEN);
    payload = bk_arena_printf(c->arena, "c1|%" PRId64 "|%s",
                              bk_now_utc() + STATE_TTL_S, nonce);
    b = bk_arena_alloc(c->arena, strlen(payload) * 4 / 3 + 8);
    bk_base64url_encode((const unsigned char *)payload, strlen(payload), b);
    mac_of(c->api, "calendly-oauth-state:", b, mac);
    state = bk_arena_printf(c->arena, "%s.%s", b, mac);
    mac_of(c->api, "calendly-pkce:", nonce, verifier);
    bk_sha256(verifier, strlen(verifier), digest);
    bk_base64url_encode(digest, sizeof(digest), challenge);
    url = bk_arena_printf(
        c->arena,
        "%s?client_id=%s&response_type=code&redirect_uri=%s&state=%s"
        "&code_challenge=%s&code_challenge_method=S256",
        c->api->calendly_auth_url, qenc(c->arena, c->api->calendly_client_id),
        qenc(c->arena, redirect_uri(c->api, c->arena)), state, challenge);
    o = json_pack("{s:s}", "authorize_url", url);
    text = bk_json_dump(c->arena, o, NULL);
    json_decref(o);
    bk_api_reply_raw(c, 302, "application/json", text, strlen(text));
    bk_http_add_header(c->resp, "Location", url);
    bk_http_add_header(c->resp, "Cache-Control", "no-store");
    return BK_OK;
}

static enum bk_err bad_state(struct bk_api_call *c, const char *why)
{
    enum bk_err e = bk_fail_field(c->err, BK_E_FORBIDDEN, "state", "%s", why);

    bk_errbuf_code(c->err, "invalid_state");
    return e;
}

/* GET /oauth/calendly/callback?code&state | ?error&state */
static enum bk_err callback(struct bk_api_call *c)
{
    const char *state = bk_http_query(c->req, "state");
    const char *code = bk_http_query(c->req, "code");
    const char *error = bk_http_query(c->req, "error");
    const char *dot, *parts[3];
    char mac[48], verifier[48], *payload, *p;
    unsigned char *raw;
    size_t blen, n = 0;
    int64_t expires = 0, now = bk_now_utc();
    struct bk_errbuf why;
    json_t *o = NULL;
    enum bk_err e;

    if ((e = ready(c)))
        return e;
    if (!state || !*state)
        return bad_state(c, "is missing");
    dot = strchr(state, '.');
    if (strlen(state) > MAX_STATE || !dot)
        return bad_state(c, "is not a state this server issued");
    blen = (size_t)(dot - state);
    {
        char *b = bk_arena_strndup(c->arena, state, blen);
        mac_of(c->api, "calendly-oauth-state:", b, mac);
        if (strlen(dot + 1) != strlen(mac) ||
            !bk_ct_equal(dot + 1, mac, strlen(mac)))
            return bad_state(c, "is not a state this server issued");
        raw = bk_arena_alloc(c->arena, blen + 1);
        if (bk_base64_decode(b, false, raw, blen + 1, &n) != BK_OK)
            return bad_state(c, "is not a state this server issued");
    }
    payload = bk_arena_strndup(c->arena, (const char *)raw, n);
    p = payload;
    for (int i = 0; i < 3; i++) {
        parts[i] = p;
        p = strchr(p, '|');
        if (i < 2 && !p)
            return bad_state(c, "is not a state this server issued");
        if (p)
            *p++ = '\0';
    }
    if (strcmp(parts[0], "c1") != 0 ||
        bk_parse_i64(parts[1], 0, INT64_MAX, &expires) != BK_OK ||
        strlen(parts[2]) != NONCE_LEN)
        return bad_state(c, "is not a state this server issued");
    if (expires <= now)
        return bad_state(c, "the authorization took longer than 10 minutes: "
                            "start again");
    if (!use_nonce(parts[2], expires, now))
        return bad_state(c, "was used already: start the authorization again");
    if (error) {
        e = bk_fail_field(
            c->err, BK_E_INVALID, "error",
            "Calendly did not authorize access (%s): nothing was stored",
            strlen(error) <= 64 &&
                    strspn(error, "abcdefghijklmnopqrstuvwxyz_") ==
                        strlen(error)
                ? error
                : "an unknown error");
        bk_errbuf_code(c->err, "authorization_denied");
        return e;
    }
    if (!code || !*code || strlen(code) > MAX_CODE)
        return bk_fail_field(c->err, BK_E_INVALID, "code",
                             code && *code ? "is too long" : "is missing");
    mac_of(c->api, "calendly-pkce:", parts[2], verifier);
    bk_errbuf_clear(&why);
    e = c->api->calendly_connect(c->api->calendly_ctx, code, verifier,
                                 redirect_uri(c->api, c->arena), c->arena, &o,
                                 &why);
    if (e == BK_E_INVALID || e == BK_E_UNAUTHORIZED) {
        e = bk_fail_field(c->err, BK_E_INVALID, "code", "%s", why.msg);
        bk_errbuf_code(c->err, "calendly_grant_refused");
        return e;
    }
    if (e)
        return bk_fail(c->err, e, "%s", why.msg);
    bk_api_reply(c, 200, o);
    return BK_OK;
}

/* DELETE /api/v1/calendly — forgets the OAuth account (CALENDLY_TOKEN, if
 * set, is used again). */
static enum bk_err forget(struct bk_api_call *c)
{
    enum bk_err e;

    if (!c->api->calendly_forget) {
        e = bk_fail(c->err, BK_E_UNAVAILABLE,
                    "Calendly OAuth is not configured");
        bk_errbuf_code(c->err, "not_configured");
        return e;
    }
    if ((e = c->api->calendly_forget(c->api->calendly_ctx, c->err)))
        return e;
    bk_api_reply_empty(c, 204);
    return BK_OK;
}

const struct bk_api_route bk_api_calendly_routes[] = {
    {"GET", "/api/v1/calendly", status, BK_ROUTE_ADMIN, BK_ROUTE_NONE},
    {"DELETE", "/api/v1/calendly", forget, BK_ROUTE_ADMIN, BK_ROUTE_NONE},
    {"GET", "/api/v1/calendly/authorize", authorize, BK_ROUTE_ADMIN,
     BK_ROUTE_NONE},
    {"GET", "/oauth/calendly/callback", callback, BK_ROUTE_PUBLIC,
     BK_ROUTE_NONE},
};
const size_t bk_api_calendly_n =
    sizeof(bk_api_calendly_routes) / sizeof(bk_api_calendly_routes[0]);
