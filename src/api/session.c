/* api/session.c — admin sign-in for the browser: the session cookie, its
 * CSRF token and Origin check, the sign-in rate limit, and the routes
 * /admin/login, /admin/logout and /admin/session (docs/admin.md). The admin
 * pages themselves are pages.c's; the sessions table is store/sessions.c.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "base/banned.h"

/* The cookie's token: 32 random bytes, base64url (43 characters). */
#define TOKEN_BYTES 32
#define TOKEN_CHARS 43

/* Sign-in failures allowed from one address per window, after which every
 * sign-in from it is answered 429 until the window ends. */
#define FAIL_MAX      5
#define FAIL_WINDOW_S (15 * 60)
#define FAIL_SLOTS    128
#define MAX_KEY_BYTES 1024
#define SESSION_USER  "admin"

struct fail_slot {
    char addr[64];
    int64_t window_start;
    int fails;
};

static struct fail_slot fail_slots[FAIL_SLOTS];
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

const char *bk_api_session_cookie_name(const struct bk_api *api)
{
    /* The __Host- prefix (RFC 6265bis §4.1.3.2) makes browsers refuse the
     * cookie unless it is Secure, host-only and Path=/; it needs https. */
    return api->base_url && strncasecmp(api->base_url, "https://", 8) == 0
               ? "__Host-bookingd_admin"
               : "bookingd_admin";
}

static bool secure(const struct bk_api *api)
{
    return api->base_url && strncasecmp(api->base_url, "https://", 8) == 0;
}

/* The value of cookie `name` in the Cookie header (RFC 6265 §5.4 form:
 * "a=1; b=2"), copied into the arena, or NULL. */
static const char *cookie_value(const struct bk_http_request *req,
                                const char *name)
{
    const char *h = bk_http_header(req, "Cookie"), *p, *end;
    size_t nl = strlen(name);

    if (!h)
        return NULL;
    for (p = h; *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        if ((size_t)(end - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=')
            return bk_arena_strndup(req->arena, p + nl + 1,
                                    (size_t)(end - p) - nl - 1);
        p = end;
    }
    return NULL;
}

/* A token as this file issues them: 43 base64url characters. */
static bool token_shaped(const char *t)
{
    if (!t || strlen(t) != TOKEN_CHARS)
        return false;
    for (const char *p = t; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return false;
    return true;
}

static void token_hash(const char *token, char out[2 * BK_SHA256_LEN + 1])
{
    unsigned char h[BK_SHA256_LEN];

    bk_sha256(token, strlen(token), h);
    bk_hex_encode(h, sizeof(h), out);
}

/* The session's CSRF token: base64url of HMAC-SHA256(manage secret,
 * "admin-csrf:" token). Derived, not stored: only a holder of the cookie's
 * token (the server, the signed-in page through /admin/session) has it. */
static void csrf_token(const struct bk_api *api, const char *token,
                       char out[48])
{
    bk_keyed_token(api->manage_secret, BK_TOKEN_ADMIN_CSRF, token, out);
}

/* "https://host:port" of a URL (up to the first '/' after "://"). */
static size_t origin_len(const char *url)
{
    const char *p = strstr(url, "://"), *slash;

    if (!p)
        return strlen(url);
    slash = strchr(p + 3, '/');
    return slash ? (size_t)(slash - url) : strlen(url);
}

/* Whether the request's Origin is this server: the origin of
 * BOOKINGD_BASE_URL, or the scheme and Host header the browser used (a
 * browser's cross-site request carries our Host but the other site's
 * Origin). A missing Origin is refused: browsers send one with every
 * POST, PUT, PATCH and DELETE. */
bool bk_api_origin_ok(const struct bk_api *api,
                      const struct bk_http_request *req)
{
    const char *o = bk_http_header(req, "Origin"), *host, *auth;
    size_t n;

    if (!o || strcmp(o, "null") == 0)
        return false;
    if (api->base_url) {
        n = origin_len(api->base_url);
        if (strlen(o) == n && strncasecmp(o, api->base_url, n) == 0)
            return true;
    }
    host = bk_http_header(req, "Host");
    auth = strstr(o, "://");
    if (!host || !auth || strchr(auth + 3, '/'))
        return false;
    return strcasecmp(auth + 3, host) == 0;
}

static bool safe_method(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ||
           strcmp(m, "OPTIONS") == 0;
}

/* A sliding expiry: idle time-out from now, capped by the absolute
 * lifetime from the sign-in. */
static int64_t expiry(int64_t created, int64_t now)
{
    int64_t idle = now + BK_ADMIN_SESSION_IDLE_S,
            cap = created + BK_ADMIN_SESSION_MAX_S;

    return idle < cap ? idle : cap;
}

void bk_api_session_check(struct bk_api_call *call)
{
    struct bk_api *api = call->api;
    struct bk_http_request *req = call->req;
    const char *token = cookie_value(req, bk_api_session_cookie_name(api));
    char hash[2 * BK_SHA256_LEN + 1], want[48];
    const char *got;
    struct bk_admin_session s;
    struct bk_tx *tx = NULL;
    struct bk_errbuf err;
    int64_t now = bk_now_utc();
    enum bk_err e;

    if (!token)
        return;
    call->has_session_cookie = true;
    if (!token_shaped(token))
        return;
    token_hash(token, hash);
    bk_errbuf_clear(&err);
    e = bk_store_begin(api->store, BK_TX_READ, &tx, &err);
    if (!e)
        e = bk_store_admin_session_get(tx, hash, req->arena, &s, &err);
    bk_store_rollback(tx);
    tx = NULL;
    if (e) {
        if (e != BK_E_NOT_FOUND)
            bk_log_warn("admin session: %s", err.msg);
        return;
    }
    if (s.expires_utc <= now)
        return;
    if (!safe_method(req->method)) {
        got = bk_http_header(req, "X-CSRF-Token");
        csrf_token(api, token, want);
        if (!got || strlen(got) != strlen(want) ||
            !bk_ct_equal(got, want, strlen(want)) ||
            !bk_api_origin_ok(api, req)) {
            call->csrf_refused = true;
            return;
        }
    }
    /* Sliding expiry, written at most once a minute per session so that
     * reading pages is not a write per request. A failed write only
     * leaves the session to expire earlier. */
    if (now - s.last_seen_utc >= 60) {
        s.expires_utc = expiry(s.created_utc, now);
        e = bk_store_begin(api->store, BK_TX_WRITE, &tx, &err);
        if (!e)
            e = bk_store_admin_session_touch(tx, s.id, now, s.expires_utc,
                                             &err);
        if (!e) {
            e = bk_store_commit(tx, &err);
            tx = NULL;
        }
        bk_store_rollback(tx);
        if (e)
            bk_log_debug("admin session: not extended: %s", err.msg);
    }
    call->admin = true;
    call->session_user = s.user_name;
    call->session_token = bk_arena_strdup(req->arena, token);
    call->session_expires_utc = s.expires_utc;
}

/* ---- sign-in rate limit ------------------------------------------------ */

static struct fail_slot *fail_find(const char *addr, int64_t now, bool make)
{
    struct fail_slot *oldest = &fail_slots[0];

    for (size_t i = 0; i < FAIL_SLOTS; i++) {
        struct fail_slot *f = &fail_slots[i];
        if (f->addr[0] && strcmp(f->addr, addr) == 0) {
            if (now - f->window_start >= FAIL_WINDOW_S) {
                f->window_start = now;
                f->fails = 0;
            }
            return f;
        }
        if (f->window_start < oldest->window_start)
            oldest = f;
    }
    if (!make)
        return NULL;
    /* Reuses the slot whose window began longest ago: a flood of
     * addresses forgets old failures rather than growing memory. */
    bk_strlcpy(oldest->addr, addr, sizeof(oldest->addr));
    oldest->window_start = now;
    oldest->fails = 0;
    return oldest;
}

/* Seconds until addr may try again (0: now). */
static int64_t fail_wait(const char *addr, int64_t now)
{
    struct fail_slot *f;
    int64_t wait = 0;

    pthread_mutex_lock(&fail_lock);
    f = fail_find(addr, now, false);
    if (f && f->fails >= FAIL_MAX)
        wait = f->window_start + FAIL_WINDOW_S - now;
    pthread_mutex_unlock(&fail_lock);
    return wait > 0 ? wait : 0;
}

static void fail_note(const char *addr, int64_t now)
{
    pthread_mutex_lock(&fail_lock);
    fail_find(addr, now, true)->fails++;
    pthread_mutex_unlock(&fail_lock);
}

static void fail_clear(const char *addr, int64_t now)
{
    struct fail_slot *f;

    pthread_mutex_lock(&fail_lock);
    f = fail_find(addr, now, false);
    if (f)
        f->fails = 0;
    pthread_mutex_unlock(&fail_lock);
}

/* ---- routes ------------------------------------------------------------ */

static json_t *session_json(struct bk_api_call *c, const char *user,
                            const char *token, int64_t expires)
{
    char csrf[48];

    if (token)
        csrf_token(c->api, token, csrf);
    return json_pack("{s:s, s:o, s:o}", "user", user, "csrf_token",
                     token ? json_string(csrf) : json_null(), "expires_at",
                     expires ? bk_render_instant(expires, NULL) : json_null());
}

static void set_cookie(struct bk_api_call *c, const char *value,
                       int64_t max_age)
{
    bk_http_add_header(c->resp, "Set-Cookie",
                       bk_arena_printf(c->arena,
                                       "%s=%s; Path=/; Max-Age=%" PRId64
                                       "; HttpOnly; SameSite=Strict%s",
                                       bk_api_session_cookie_name(c->api),
                                       value, max_age,
                                       secure(c->api) ? "; Secure" : ""));
    bk_http_add_header(c->resp, "Cache-Control", "no-store");
}

/* POST /admin/login {"key": "..."}: a session for the admin key. */
static enum bk_err login(struct bk_api_call *c)
{
    static const char *const keys[] = {"key", NULL};
    const char *addr = c->req->remote_addr ? c->req->remote_addr : "?";
    const char *key = NULL, *o = bk_http_header(c->req, "Origin");
    unsigned char raw[TOKEN_BYTES], h[BK_SHA256_LEN];
    char token[48], hash[2 * BK_SHA256_LEN + 1];
    struct bk_admin_session s;
    int64_t now = bk_now_utc(), wait;
    json_t *body;
    enum bk_err e;

    /* Login CSRF: a browser posting from another site says so. */
    if (o && !bk_api_origin_ok(c->api, c->req))
        return bk_fail(c->err, BK_E_FORBIDDEN,
                       "sign-in from another origin is refused");
    if ((wait = fail_wait(addr, now)) > 0) {
        bk_http_add_header(c->resp, "Retry-After",
                           bk_arena_printf(c->arena, "%" PRId64, wait));
        return bk_fail(c->err, BK_E_RATE_LIMITED,
                       "too many failed sign-ins; try again in %" PRId64 " s",
                       wait);
    }
    if ((e = bk_api_call_body(c, false, &body)) ||
        (e = bk_json_only(body, "", keys, c->arena, c->err)) ||
        (e = bk_json_str(body, "", "key", true, MAX_KEY_BYTES, false, c->arena,
                         &key, c->err)))
        return e;
    bk_sha256(key, strlen(key), h);
    if (!bk_ct_equal(h, c->api->admin_key_sha256, sizeof(h))) {
        fail_note(addr, now);
        bk_log_warn("admin sign-in refused from %s: wrong key", addr);
        return bk_fail(c->err, BK_E_UNAUTHORIZED, "that is not the admin key");
    }
    bk_random_bytes(raw, sizeof(raw));
    bk_base64url_encode(raw, sizeof(raw), token);
    token_hash(token, hash);
    memset(&s, 0, sizeof(s));
    s.token_sha256 = hash;
    s.user_name = SESSION_USER;
    s.created_utc = s.last_seen_utc = now;
    s.expires_utc = expiry(now, now);
    if ((e = bk_store_admin_session_prune(c->tx, now, NULL, c->err)) ||
        (e = bk_store_admin_session_insert(c->tx, &s, NULL, c->err)))
        return e;
    fail_clear(addr, now);
    set_cookie(c, token, BK_ADMIN_SESSION_MAX_S);
    bk_api_reply(c, 200, session_json(c, SESSION_USER, token, s.expires_utc));
    return BK_OK;
}

/* POST /admin/logout: ends the cookie's session (CSRF-checked like every
 * write made with the cookie) and clears the cookie. */
static enum bk_err logout(struct bk_api_call *c)
{
    const char *token =
        cookie_value(c->req, bk_api_session_cookie_name(c->api));
    char hash[2 * BK_SHA256_LEN + 1];
    enum bk_err e;

    if (token_shaped(token)) {
        token_hash(token, hash);
        if ((e = bk_store_admin_session_delete(c->tx, hash, NULL, c->err)))
            return e;
    }
    set_cookie(c, "", 0);
    bk_api_reply_empty(c, 204);
    return BK_OK;
}

/* GET /admin/session: who is signed in and the CSRF token the pages send
 * in X-CSRF-Token. */
static enum bk_err session(struct bk_api_call *c)
{
    bk_http_add_header(c->resp, "Cache-Control", "no-store");
    bk_api_reply(c, 200,
                 session_json(c,
                              c->session_user ? c->session_user : SESSION_USER,
                              c->session_token, c->session_expires_utc));
    return BK_OK;
}

const struct bk_api_route bk_api_session_routes[] = {
    {"POST", "/admin/login", login, BK_ROUTE_PUBLIC, BK_ROUTE_WRITE},
    {"POST", "/admin/logout", logout, BK_ROUTE_ADMIN, BK_ROUTE_WRITE},
    {"GET", "/admin/session", session, BK_ROUTE_ADMIN, BK_ROUTE_NONE},
};
const size_t bk_api_session_n =
    sizeof(bk_api_session_routes) / sizeof(bk_api_session_routes[0]);
