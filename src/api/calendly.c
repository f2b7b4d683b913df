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
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "api/oauth.h"
#include "base/str.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "base/banned.h"

#define STATE_TTL_S 600
#define NONCE_LEN   BK_OAUTH_NONCE_LEN
#define MAX_STATE   512
#define MAX_CODE    2048
#define USED_STATES 64

BK_OAUTH_USED(used, USED_STATES);

static const char *redirect_uri(const struct bk_api *api,
                                struct bk_arena *arena)
{
    return bk_oauth_redirect_uri(api, "calendly", arena);
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
    char nonce[NONCE_LEN + 1], verifier[48], challenge[48];
    const char *payload, *state, *url, *text;
    json_t *o;
    enum bk_err e;

    if ((e = ready(c)))
        return e;
    bk_random_token(nonce, NONCE_LEN);
    payload = bk_arena_printf(c->arena, "c1|%" PRId64 "|%s",
                              bk_now_utc() + STATE_TTL_S, nonce);
    state =
        bk_oauth_state_sign(c->api, "calendly-oauth-state:", payload, c->arena);
    bk_oauth_pkce(c->api, "calendly-pkce:", nonce, verifier, challenge);
    url = bk_arena_printf(
        c->arena,
        "%s?client_id=%s&response_type=code&redirect_uri=%s&state=%s"
        "&code_challenge=%s&code_challenge_method=S256",
        c->api->calendly_auth_url,
        bk_str_qenc(c->arena, c->api->calendly_client_id),
        bk_str_qenc(c->arena, redirect_uri(c->api, c->arena)), state,
        challenge);
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
    char verifier[48], *parts[3];
    int64_t expires = 0, now = bk_now_utc();
    struct bk_errbuf why;
    json_t *o = NULL;
    enum bk_err e;

    if ((e = ready(c)))
        return e;
    if (!state || !*state)
        return bad_state(c, "is missing");
    if (!bk_oauth_state_open(c->api, "calendly-oauth-state:", state, MAX_STATE,
                             c->arena, parts, 3))
        return bad_state(c, "is not a state this server issued");
    if (strcmp(parts[0], "c1") != 0 ||
        bk_parse_i64(parts[1], 0, INT64_MAX, &expires) != BK_OK ||
        strlen(parts[2]) != NONCE_LEN)
        return bad_state(c, "is not a state this server issued");
    if (expires <= now)
        return bad_state(c, "the authorization took longer than 10 minutes: "
                            "start again");
    if (!bk_oauth_use_nonce(&used, parts[2], expires, now))
        return bad_state(c, "was used already: start the authorization again");
    if (error)
        return bk_oauth_denied(c, "Calendly", error);
    if (!code || !*code || strlen(code) > MAX_CODE)
        return bk_fail_field(c->err, BK_E_INVALID, "code",
                             code && *code ? "is too long" : "is missing");
    bk_oauth_pkce(c->api, "calendly-pkce:", parts[2], verifier, NULL);
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
