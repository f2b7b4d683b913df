/* connectors/calendly_oauth.c — Calendly's OAuth 2.0 tokens: exchange,
 * storage, refresh with rotation (calendly_oauth.h). The state is one JSON
 * object in meta "calendly.oauth":
 *   {"credential": sealed {"access_token", "refresh_token"},
 *    "expires_ms", "lifetime_ms", "owner", "organization",
 *    "status": "active" | "needs_auth", "failures", "retry_at_ms",
 *    "last_error", "lease_until_ms", "lease_holder", "updated_ms"}
 * Tokens never appear in a log line or an error message. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "connectors/calendly_oauth.h"
#include "net/net.h"
#include "base/banned.h"

#define META_KEY       "calendly.oauth"
#define AAD            "calendly_oauth:credential"
#define KIND           "calendly.refresh"
#define MAX_TOKEN      2048
#define MAX_ANSWER     (64 * 1024)
#define AHEAD_MS       (10 * 60 * 1000) /* the periodic refresh's margin */
#define USE_AHEAD_MS   (60 * 1000)      /* refreshed before a call */
#define BACKOFF_MIN_MS (60 * 1000)
#define BACKOFF_MAX_MS (60 * 60 * 1000)

/* The threads of this instance refresh one at a time. */
static pthread_mutex_t refresh_mu = PTHREAD_MUTEX_INITIALIZER;

struct state {
    json_t *j;          /* the stored object (owned), or NULL: none */
    const char *access; /* opened, in arena */
    const char *refresh;
    int64_t expires_ms, lifetime_ms, retry_at_ms, lease_until_ms;
    const char *status, *lease_holder;
    int failures;
};

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int64_t jint(const json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

/* Reads the state in tx; st->j NULL when none is stored. */
static enum bk_err load(const struct bk_calendly_oauth_config *cfg,
                        struct bk_tx *tx, struct bk_arena *arena,
                        struct state *st, struct bk_errbuf *err)
{
    const char *text = NULL, *sealed;
    char *plain = NULL;
    size_t n = 0;
    json_t *t;
    enum bk_err e;

    memset(st, 0, sizeof(*st));
    e = bk_store_meta_get(tx, META_KEY, arena, &text, err);
    if (e == BK_E_NOT_FOUND || (!e && !text))
        return BK_OK;
    if (e)
        return e;
    st->j = json_loads(text, 0, NULL);
    if (!json_is_object(st->j)) {
        json_decref(st->j);
        st->j = NULL;
        return bk_fail(err, BK_E_MALFORMED,
                       "the stored Calendly account is not readable");
    }
    st->expires_ms = jint(st->j, "expires_ms");
    st->lifetime_ms = jint(st->j, "lifetime_ms");
    st->retry_at_ms = jint(st->j, "retry_at_ms");
    st->lease_until_ms = jint(st->j, "lease_until_ms");
    st->failures = (int)jint(st->j, "failures");
    st->status = jstr(st->j, "status");
    st->lease_holder = jstr(st->j, "lease_holder");
    if (!st->status)
        st->status = "needs_auth";
    sealed = jstr(st->j, "credential");
    if (!cfg->secret_key)
        return bk_fail(err, BK_E_UNAVAILABLE,
                       "BOOKINGD_SECRET_KEY is not set: the Calendly "
                       "tokens cannot be read");
    if (!sealed || (e = bk_secret_open(cfg->secret_key, AAD, sealed, arena,
                                       &plain, &n, err)))
        return sealed ? e
                      : bk_fail(err, BK_E_MALFORMED,
                                "the stored Calendly account has no tokens");
    t = json_loadb(plain, n, 0, NULL);
    memset(plain, 0, n);
    st->access = bk_arena_strdup(
        arena, jstr(t, "access_token") ? jstr(t, "access_token") : "");
    st->refresh = bk_arena_strdup(
        arena, jstr(t, "refresh_token") ? jstr(t, "refresh_token") : "");
    json_decref(t);
    if (!*st->access || !*st->refresh)
        return bk_fail(err, BK_E_MALFORMED,
                       "the stored Calendly tokens are not readable");
    return BK_OK;
}

static void set_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, v ? json_string(v) : json_null());
}

static void set_int(json_t *o, const char *k, int64_t v)
{
    json_object_set_new(o, k, json_integer((json_int_t)v));
}

/* Seals access and refresh into o's credential. */
static void seal_tokens(const struct bk_calendly_oauth_config *cfg, json_t *o,
                        const char *access, const char *refresh,
                        struct bk_arena *arena)
{
    json_t *t = json_pack("{s:s, s:s}", "access_token", access, "refresh_token",
                          refresh);
    char *text = t ? json_dumps(t, JSON_COMPACT) : NULL;

    json_decref(t);
    if (!text)
        return;
    set_str(o, "credential",
            bk_secret_seal(cfg->secret_key, AAD, text, strlen(text), arena));
    memset(text, 0, strlen(text));
    free(text);
}

static enum bk_err save(struct bk_tx *tx, json_t *o, struct bk_arena *arena,
                        struct bk_errbuf *err)
{
    char *text;
    const char *copy;

    set_int(o, "updated_ms", bk_now_ms());
    text = json_dumps(o, JSON_COMPACT);
    if (!text)
        return bk_fail(err, BK_E_INTERNAL, "cannot encode the Calendly state");
    copy = bk_arena_strdup(arena, text);
    free(text);
    return bk_store_meta_put(tx, META_KEY, copy, err);
}

struct grant {
    const char *access, *refresh, *owner, *organization;
    int64_t expires_in_ms;
};

/* POST {oauth_base}/oauth/token with HTTP Basic client authentication
 * (a web client). BK_E_UNAUTHORIZED for invalid_grant; BK_E_INVALID for
 * another 4xx; BK_E_IO for the transport, 429 or a 5xx; BK_E_RATE_LIMITED
 * when net/limits.h refused it. */
static enum bk_err token_call(const struct bk_calendly_oauth_config *cfg,
                              const char *body, struct bk_arena *arena,
                              struct grant *out, struct bk_errbuf *err)
{
    struct bk_net_request r;
    struct bk_net_response res;
    struct bk_errbuf nerr;
    const char *headers[1] = {"Accept: application/json"};
    json_t *j;
    const char *what, *access, *refresh;
    json_int_t expires_in;
    enum bk_err e;

    memset(out, 0, sizeof(*out));
    memset(&r, 0, sizeof(r));
    r.method = "POST";
    r.url = bk_arena_printf(arena, "%s/oauth/token", cfg->oauth_base);
    r.content_type = "application/x-www-form-urlencoded";
    r.body = body;
    r.body_len = strlen(body);
    r.headers = headers;
    r.n_headers = 1;
    r.username = cfg->client_id;
    r.password = cfg->client_secret;
    r.connect_timeout_ms = cfg->connect_timeout_ms;
    r.timeout_ms = cfg->timeout_ms;
    r.max_response = MAX_ANSWER;
    r.allow_private = cfg->allow_private;
    r.allow_private_env = "CALENDLY_OAUTH_BASE";
    r.provider = "calendly";
    bk_errbuf_clear(&nerr);
    if ((e = bk_net_request(&r, arena, &res, &nerr)))
        return bk_fail(
            err, e == BK_E_INVALID || e == BK_E_RATE_LIMITED ? e : BK_E_IO,
            "Calendly's token endpoint: %s", nerr.msg);
    j = json_loadb(res.body ? res.body : "", res.body_len, 0, NULL);
    if (res.status != 200) {
        what = jstr(j, "error");
        e = res.status >= 500 || res.status == 429       ? BK_E_IO
            : what && strcmp(what, "invalid_grant") == 0 ? BK_E_UNAUTHORIZED
                                                         : BK_E_INVALID;
        e = bk_fail(err, e, "Calendly's token endpoint answered HTTP %d%s%.40s",
                    res.status, what ? ": " : "",
                    what && strspn(what, "abcdefghijklmnopqrstuvwxyz_") ==
                                strlen(what)
                        ? what
                        : "");
        json_decref(j);
        return e;
    }
    access = jstr(j, "access_token");
    refresh = jstr(j, "refresh_token");
    expires_in = json_integer_value(json_object_get(j, "expires_in"));
    if (!access || !refresh || !*access || !*refresh ||
        strlen(access) > MAX_TOKEN || strlen(refresh) > MAX_TOKEN ||
        strcspn(access, " \t\r\n") != strlen(access) || expires_in <= 0 ||
        expires_in > 366 * 86400) {
        json_decref(j);
        return bk_fail(err, BK_E_IO,
                       "Calendly's token endpoint answered without a usable "
                       "access_token, refresh_token and expires_in");
    }
    out->access = bk_arena_strdup(arena, access);
    out->refresh = bk_arena_strdup(arena, refresh);
    out->expires_in_ms = (int64_t)expires_in * 1000;
    if (jstr(j, "owner"))
        out->owner = bk_arena_strndup(arena, jstr(j, "owner"), 512);
    if (jstr(j, "organization"))
        out->organization =
            bk_arena_strndup(arena, jstr(j, "organization"), 512);
    json_decref(j);
    return BK_OK;
}

static bool ready(const struct bk_calendly_oauth_config *cfg)
{
    return cfg && cfg->client_id && cfg->client_secret && cfg->store &&
           cfg->secret_key;
}

/* Loads the state in a read transaction. */
static enum bk_err read_state(const struct bk_calendly_oauth_config *cfg,
                              struct bk_arena *arena, struct state *st,
                              struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e;

    memset(st, 0, sizeof(*st));
    if ((e = bk_store_begin(cfg->store, BK_TX_READ, &tx, err)))
        return e;
    e = load(cfg, tx, arena, st, err);
    bk_store_rollback(tx);
    if (e) { /* nothing half-read is kept */
        json_decref(st->j);
        st->j = NULL;
    }
    return e;
}

static enum bk_err needs_auth(struct bk_errbuf *err)
{
    enum bk_err e = bk_fail(err, BK_E_RATE_LIMITED,
                            "the Calendly grant was revoked: authorize "
                            "again (GET /api/v1/calendly/authorize); the "
                            "job waits");
    bk_errbuf_code(err, BK_CALENDLY_NEEDS_AUTH);
    return e;
}

/* The lease's holder id of this process. */
static char holder_id[17];
static pthread_once_t holder_once = PTHREAD_ONCE_INIT;

static void make_holder(void)
{
    unsigned char b[8];

    bk_random_bytes(b, sizeof(b));
    for (int i = 0; i < 8; i++)
        snprintf(holder_id + 2 * i, 3, "%02x", b[i]);
}

static const char *holder(void)
{
    pthread_once(&holder_once, make_holder);
    return holder_id;
}

enum refresh_why { PROACTIVE, REJECTED };

/* Refreshes the stored tokens when still needed: for REJECTED, when the
 * stored access token is still `used`; for PROACTIVE, when it expires
 * within ahead_ms. Under refresh_mu; the token endpoint is called outside
 * any transaction, under the stored lease. */
static enum bk_err refresh(const struct bk_calendly_oauth_config *cfg,
                           enum refresh_why why, const char *used,
                           int64_t ahead_ms, struct bk_arena *arena,
                           struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct state st;
    struct grant g;
    struct bk_errbuf gerr;
    const char *r_used, *body;
    int64_t now = bk_now_ms();
    enum bk_err e, ge;

    pthread_mutex_lock(&refresh_mu);
    /* 1. Is it still needed? Take the lease. */
    if ((e = bk_store_begin(cfg->store, BK_TX_WRITE, &tx, err)) ||
        (e = load(cfg, tx, arena, &st, err)))
        goto out;
    if (!st.j) {
        e = bk_fail(err, BK_E_UNAVAILABLE, "no Calendly account is connected");
        goto out;
    }
    if (strcmp(st.status, "active") != 0) {
        e = needs_auth(err);
        goto out;
    }
    if (why == REJECTED
            ? strcmp(st.access, used) != 0
            : st.expires_ms - now > ahead_ms && st.retry_at_ms <= now) {
        e = BK_OK; /* refreshed meanwhile (or not due) */
        goto out;
    }
    if (st.retry_at_ms > now) {
        e = bk_fail(err, BK_E_RETRY,
                    "refreshing the Calendly token failed %d time(s); next "
                    "try in %" PRId64 " s",
                    st.failures, (st.retry_at_ms - now + 999) / 1000);
        goto out;
    }
    if (st.lease_until_ms > now && st.lease_holder &&
        strcmp(st.lease_holder, holder()) != 0) {
        e = bk_fail(err, BK_E_RETRY,
                    "another instance is refreshing the Calendly token");
        goto out;
    }
    set_int(st.j, "lease_until_ms",
            now + 2 * (int64_t)cfg->timeout_ms +
                2 * (int64_t)cfg->connect_timeout_ms + 5000);
    set_str(st.j, "lease_holder", holder());
    if ((e = save(tx, st.j, arena, err)) || (e = bk_store_commit(tx, err))) {
        tx = NULL;
        goto out;
    }
    tx = NULL;
    r_used = st.refresh;
    json_decref(st.j);
    st.j = NULL;

    /* 2. The token endpoint (single-use refresh token: rotated). */
    body = bk_arena_printf(arena, "grant_type=refresh_token&refresh_token=%s",
                           bk_str_qenc(arena, r_used));
    bk_errbuf_clear(&gerr);
    ge = token_call(cfg, body, arena, &g, &gerr);

    /* 3. Store the outcome: the new access token with the rotated refresh
     * token in one transaction. */
    for (int attempt = 1;; attempt++) {
        struct state cur;
        memset(&cur, 0, sizeof(cur));
        now = bk_now_ms();
        e = bk_store_begin(cfg->store, BK_TX_WRITE, &tx, err);
        if (!e)
            e = load(cfg, tx, arena, &cur, err);
        if (!e && !cur.j)
            e = bk_fail(err, BK_E_UNAVAILABLE,
                        "the Calendly account was disconnected meanwhile");
        if (!e) {
            bool ours =
                cur.lease_holder && strcmp(cur.lease_holder, holder()) == 0;
            if (ours) {
                set_int(cur.j, "lease_until_ms", 0);
                set_str(cur.j, "lease_holder", NULL);
            }
            if (ge == BK_OK) {
                seal_tokens(cfg, cur.j, g.access, g.refresh, arena);
                set_int(cur.j, "expires_ms", now + g.expires_in_ms);
                set_int(cur.j, "lifetime_ms", g.expires_in_ms);
                set_str(cur.j, "status", "active");
                set_int(cur.j, "failures", 0);
                set_int(cur.j, "retry_at_ms", 0);
                set_str(cur.j, "last_error", NULL);
            } else if (ge == BK_E_UNAUTHORIZED &&
                       strcmp(cur.refresh, r_used) == 0) {
                /* The token we used is still the stored one: revoked. */
                set_str(cur.j, "status", "needs_auth");
                set_str(cur.j, "last_error", gerr.msg);
            } else if (ge != BK_E_UNAUTHORIZED &&
                       strcmp(cur.refresh, r_used) == 0) {
                int f = (int)jint(cur.j, "failures") + 1;
                int64_t d =
                    cfg->backoff_ms > 0 ? cfg->backoff_ms : BACKOFF_MIN_MS;
                for (int i = 1; i < f && d < BACKOFF_MAX_MS; i++)
                    d *= 2;
                if (d > BACKOFF_MAX_MS)
                    d = BACKOFF_MAX_MS;
                set_int(cur.j, "failures", f);
                set_int(cur.j, "retry_at_ms", now + d);
                set_str(cur.j, "last_error", gerr.msg);
            }
            e = save(tx, cur.j, arena, err);
        }
        json_decref(cur.j);
        if (!e) {
            e = bk_store_commit(tx, err);
            tx = NULL;
        }
        bk_store_rollback(tx);
        tx = NULL;
        if (e != BK_E_SERIALIZATION && e != BK_E_BUSY)
            break;
        if (attempt >= BK_STORE_TX_TRIES)
            break;
        bk_store_retry_pause(attempt);
    }
    if (e) {
        if (ge == BK_OK)
            bk_log_error("calendly: the rotated tokens could not be stored "
                         "(%s): the account may need authorizing again",
                         err ? err->msg : "");
        goto out;
    }
    if (ge == BK_OK) {
        bk_log_info("calendly: the access token was refreshed (%s)",
                    why == REJECTED ? "after a 401" : "before it expires");
    } else if (ge == BK_E_UNAUTHORIZED) {
        bk_log_warn("calendly: refreshing the token: %s", gerr.msg);
        e = needs_auth(err);
    } else {
        bk_log_warn("calendly: refreshing the token: %s", gerr.msg);
        e = bk_fail(err, ge == BK_E_RATE_LIMITED ? ge : BK_E_RETRY,
                    "refreshing the Calendly token: %s", gerr.msg);
    }
out:
    if (st.j)
        json_decref(st.j);
    bk_store_rollback(tx);
    pthread_mutex_unlock(&refresh_mu);
    return e;
}

enum bk_err bk_calendly_bearer(const struct bk_calendly_oauth_config *cfg,
                               const char *pat, struct bk_arena *arena,
                               const char **bearer, struct bk_errbuf *err)
{
    struct state st;
    enum bk_err e;

    *bearer = NULL;
    if (ready(cfg)) {
        if ((e = read_state(cfg, arena, &st, err)))
            return e;
        if (st.j) {
            bool active = strcmp(st.status, "active") == 0;
            int64_t left = st.expires_ms - bk_now_ms();
            json_decref(st.j);
            if (!active)
                return needs_auth(err);
            if (left < USE_AHEAD_MS) {
                if ((e = refresh(cfg, PROACTIVE, NULL, USE_AHEAD_MS, arena,
                                 err)) ||
                    (e = read_state(cfg, arena, &st, err)))
                    return e;
                json_decref(st.j);
            }
            *bearer = st.access;
            return BK_OK;
        }
    }
    if (pat) {
        *bearer = pat;
        return BK_OK;
    }
    return bk_fail(err, BK_E_UNAVAILABLE,
                   "Calendly is not connected: set CALENDLY_TOKEN, or "
                   "authorize an account (GET /api/v1/calendly/authorize)");
}

enum bk_err bk_calendly_rejected(const struct bk_calendly_oauth_config *cfg,
                                 const char *bearer, struct bk_arena *arena,
                                 struct bk_errbuf *err)
{
    struct state st;
    enum bk_err e;

    if (!ready(cfg))
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "Calendly answered 401: check CALENDLY_TOKEN");
    if ((e = read_state(cfg, arena, &st, err)))
        return e;
    if (!st.j)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "Calendly answered 401: check CALENDLY_TOKEN");
    json_decref(st.j);
    return refresh(cfg, REJECTED, bearer, 0, arena, err);
}

enum bk_err bk_calendly_oauth_connect(void *ctx, const char *code,
                                      const char *verifier,
                                      const char *redirect_uri,
                                      struct bk_arena *arena, json_t **out,
                                      struct bk_errbuf *err)
{
    const struct bk_calendly_oauth_config *cfg = ctx;
    struct grant g;
    struct bk_tx *tx = NULL;
    const char *body;
    json_t *o;
    int64_t now;
    enum bk_err e;

    *out = NULL;
    if (!ready(cfg))
        return bk_fail(err, BK_E_UNAVAILABLE,
                       "Calendly OAuth is not configured");
    body = bk_arena_printf(
        arena, "grant_type=authorization_code&code=%s&redirect_uri=%s%s%s",
        bk_str_qenc(arena, code), bk_str_qenc(arena, redirect_uri),
        verifier ? "&code_verifier=" : "", verifier ? verifier : "");
    if ((e = token_call(cfg, body, arena, &g, err)))
        return e == BK_E_UNAUTHORIZED
                   ? bk_fail(err, BK_E_INVALID, "%s", err ? err->msg : "")
                   : e;
    now = bk_now_ms();
    o = json_object();
    seal_tokens(cfg, o, g.access, g.refresh, arena);
    set_int(o, "expires_ms", now + g.expires_in_ms);
    set_int(o, "lifetime_ms", g.expires_in_ms);
    set_str(o, "owner", g.owner);
    set_str(o, "organization", g.organization);
    set_str(o, "status", "active");
    set_int(o, "failures", 0);
    set_int(o, "retry_at_ms", 0);
    set_str(o, "last_error", NULL);
    set_int(o, "lease_until_ms", 0);
    set_str(o, "lease_holder", NULL);
    for (int attempt = 1;; attempt++) {
        e = bk_store_begin(cfg->store, BK_TX_WRITE, &tx, err);
        if (!e)
            e = save(tx, o, arena, err);
        if (!e) {
            e = bk_store_commit(tx, err);
            tx = NULL;
        }
        bk_store_rollback(tx);
        tx = NULL;
        if (e != BK_E_SERIALIZATION || attempt >= BK_STORE_TX_TRIES)
            break;
        bk_store_retry_pause(attempt);
    }
    json_decref(o);
    if (e)
        return e;
    bk_log_info("calendly: an account was authorized (OAuth)");
    return bk_calendly_oauth_status(ctx, false, arena, out, err);
}

static json_t *instant(int64_t ms)
{
    char buf[40];

    if (ms <= 0)
        return json_null();
    bk_rfc3339_format_utc(bk_floordiv(ms, 1000), buf);
    return json_string(buf);
}

enum bk_err bk_calendly_oauth_status(void *ctx, bool pat,
                                     struct bk_arena *arena, json_t **out,
                                     struct bk_errbuf *err)
{
    const struct bk_calendly_oauth_config *cfg = ctx;
    struct bk_tx *tx = NULL;
    const char *text = NULL;
    json_t *j = NULL;
    enum bk_err e;

    *out = NULL;
    if (cfg && cfg->store) {
        if ((e = bk_store_begin(cfg->store, BK_TX_READ, &tx, err)))
            return e;
        e = bk_store_meta_get(tx, META_KEY, arena, &text, err);
        bk_store_rollback(tx);
        if (e && e != BK_E_NOT_FOUND)
            return e;
        j = text ? json_loads(text, 0, NULL) : NULL;
    }
    if (json_is_object(j)) {
        int64_t retry = jint(j, "retry_at_ms"), exp = jint(j, "expires_ms");
        *out = json_pack(
            "{s:s, s:s?, s:s?, s:s?, s:o, s:I, s:o, s:s?}", "auth", "oauth",
            "status", jstr(j, "status"), "owner", jstr(j, "owner"),
            "organization", jstr(j, "organization"), "expires_at", instant(exp),
            "refresh_failures", (json_int_t)jint(j, "failures"),
            "next_refresh_at", instant(retry > 0 ? retry : exp - AHEAD_MS),
            "last_error", jstr(j, "last_error"));
    } else {
        *out = json_pack("{s:o, s:o, s:n, s:n, s:n, s:i, s:n, s:n}", "auth",
                         pat ? json_string("token") : json_null(), "status",
                         pat ? json_string("active") : json_null(), "owner",
                         "organization", "expires_at", "refresh_failures", 0,
                         "next_refresh_at", "last_error");
    }
    json_decref(j);
    if (!*out)
        return bk_fail(err, BK_E_INTERNAL, "cannot render the Calendly state");
    return BK_OK;
}

enum bk_err bk_calendly_oauth_forget(void *ctx, struct bk_errbuf *err)
{
    const struct bk_calendly_oauth_config *cfg = ctx;
    struct bk_tx *tx = NULL;
    enum bk_err e;

    if (!cfg || !cfg->store)
        return bk_fail(err, BK_E_UNAVAILABLE, "Calendly OAuth is off");
    if ((e = bk_store_begin(cfg->store, BK_TX_WRITE, &tx, err)))
        return e;
    e = bk_store_meta_delete(tx, META_KEY, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

/* ---- the periodic job ---------------------------------------------------- */

/* One refresh per period of this length (ms). */
static int64_t refresh_interval(const struct bk_calendly_oauth_config *cfg)
{
    return cfg->refresh_interval_ms > 0 ? cfg->refresh_interval_ms : 300000;
}

static enum bk_err refresh_schedule(void *ctx, struct bk_tx *tx, int64_t now_ms,
                                    struct bk_errbuf *err)
{
    const struct bk_calendly_oauth_config *cfg = ctx;

    if (!ready(cfg))
        return BK_OK;
    return bk_jobs_enqueue_period(tx, KIND, refresh_interval(cfg), 3, now_ms,
                                  true, -1, err);
}

static enum bk_err refresh_run(void *ctx, struct bk_store *store,
                               const struct bk_job *job, struct bk_arena *arena,
                               struct bk_errbuf *err)
{
    const struct bk_calendly_oauth_config *cfg = ctx;
    struct state st;
    struct bk_errbuf why;

    memset(&st, 0, sizeof(st));
    if (ready(cfg) && read_state(cfg, arena, &st, NULL) != BK_OK) {
        json_decref(st.j);
        st.j = NULL;
    }
    if (st.j && st.retry_at_ms > bk_now_ms()) {
        json_decref(st.j); /* a failed refresh backs off: later */
    } else if (st.j) {
        int64_t ahead = AHEAD_MS;
        if (st.lifetime_ms > 0 && st.lifetime_ms / 2 < ahead)
            ahead = st.lifetime_ms / 2;
        json_decref(st.j);
        bk_errbuf_clear(&why);
        /* A failure is recorded in the state (its backoff, or
         * needs_auth); the next period tries again. */
        if (refresh(cfg, PROACTIVE, NULL, ahead, arena, &why) &&
            strcmp(why.code, BK_CALENDLY_NEEDS_AUTH) != 0)
            bk_log_info("calendly.refresh: %s", why.msg);
    }
    return bk_jobs_finish_period(store, job, ready(cfg), refresh_interval(cfg),
                                 3, bk_jobs_period_of(job, KIND), err);
}

void bk_calendly_refresh_kind(const struct bk_calendly_oauth_config *cfg,
                              struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = KIND;
    out->run = refresh_run;
    out->schedule = refresh_schedule;
    out->ctx = (void *)cfg;
}
