/* api/api.c — dispatch: route tables, authentication and the helpers the
 * resource files share. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/internal.h"
#include "api/json.h"
#include "base/fault.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "http/ratelimit.h"
#include "base/banned.h"

struct table {
    const struct bk_api_route *routes;
    const size_t *n;
};

static const struct table tables[] = {
    {bk_api_ops_routes, &bk_api_ops_n},
    {bk_api_host_routes, &bk_api_host_n},
    {bk_api_event_type_routes, &bk_api_event_type_n},
    {bk_api_booking_routes, &bk_api_booking_n},
    {bk_api_metrics_routes, &bk_api_metrics_n},
    {bk_api_invoice_routes, &bk_api_invoice_n},
    {bk_api_package_routes, &bk_api_package_n},
    {bk_api_message_routes, &bk_api_message_n},
    {bk_api_client_routes, &bk_api_client_n},
    {bk_api_delivery_routes, &bk_api_delivery_n},
    {bk_api_job_routes, &bk_api_job_n},
    {bk_api_webhook_endpoint_routes, &bk_api_webhook_endpoint_n},
    {bk_api_webhook_routes, &bk_api_webhook_n},
    {bk_api_session_routes, &bk_api_session_n},
    {bk_api_calendar_routes, &bk_api_calendar_n},
    {bk_api_calendar_connection_routes, &bk_api_calendar_connection_n},
    {bk_api_calendly_routes, &bk_api_calendly_n},
    /* Last: its /{host} and /{host}/{event_type} take what no other
     * table has. */
    {bk_api_page_routes, &bk_api_page_n},
};

void bk_api_json(struct bk_http_request *req, struct bk_http_response *resp,
                 int status, json_t *v)
{
    static const char fallback[] =
        "{\"error\":{\"code\":\"internal\",\"message\":\"the answer "
        "could not be encoded\",\"details\":{}}}";

    resp->status = status;
    resp->content_type = "application/json";
    resp->body = bk_json_dump(req->arena, v, &resp->body_len);
    json_decref(v);
    if (!resp->body) {
        resp->status = 500;
        resp->body = fallback;
        resp->body_len = sizeof(fallback) - 1;
    }
}

enum bk_err bk_api_query_fail(struct bk_errbuf *err, const char *param,
                              const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return BK_E_MALFORMED;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    bk_strlcpy(err->field, param, sizeof(err->field));
    bk_errbuf_code(err, "invalid_query");
    return BK_E_MALFORMED;
}

enum bk_err bk_api_body(struct bk_http_request *req, bool allow_empty,
                        json_t **out, struct bk_errbuf *err)
{
    const char *ct = bk_http_header(req, "Content-Type");
    size_t n;

    *out = NULL;
    if (req->body_error)
        return req->body_error;
    if (allow_empty && req->body_len == 0) {
        *out = json_object();
        return BK_OK;
    }
    /* application/json, optionally with parameters (charset=utf-8). */
    n = strlen("application/json");
    if (!ct || strncasecmp(ct, "application/json", n) != 0 ||
        (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' '))
        return bk_fail(err, BK_E_UNSUPPORTED_MEDIA,
                       "expected Content-Type: application/json");
    return bk_json_parse_object(req->body, req->body_len, out, err);
}

bool bk_api_is_admin(const struct bk_api *api,
                     const struct bk_http_request *req, bool *bad)
{
    const char *auth = bk_http_header(req, "Authorization");
    unsigned char h[BK_SHA256_LEN];

    if (bad)
        *bad = false;
    if (!auth)
        return false;
    if (strncasecmp(auth, "Bearer ", 7) != 0) {
        if (bad)
            *bad = true;
        return false;
    }
    auth += 7;
    while (*auth == ' ')
        auth++;
    /* Hashing first makes the comparison independent of the key's
     * length. */
    bk_sha256(auth, strlen(auth), h);
    if (bk_ct_equal(h, api->admin_key_sha256, sizeof(h)))
        return true;
    if (bad)
        *bad = true;
    return false;
}

void bk_api_manage_token(const struct bk_api *api, const char *uid,
                         char out[48])
{
    bk_manage_token(api->manage_secret, uid, out);
}

bool bk_api_token_ok(const struct bk_api *api, const char *uid,
                     const char *token)
{
    char want[48];

    if (!token || !uid)
        return false;
    bk_api_manage_token(api, uid, want);
    return strlen(token) == strlen(want) &&
           bk_ct_equal(token, want, strlen(want));
}

enum bk_err bk_api_limit(const struct bk_http_request *req, int *limit,
                         struct bk_errbuf *err)
{
    const char *s = bk_http_query(req, "limit");
    int64_t v;

    *limit = 50;
    if (!s)
        return BK_OK;
    if (bk_parse_i64(s, 1, 500, &v) != BK_OK)
        return bk_api_query_fail(err, "limit",
                                 "limit must be an integer 1..500");
    *limit = (int)v;
    return BK_OK;
}

const char *bk_api_cursor_encode(struct bk_arena *arena, char tag, int64_t a,
                                 int64_t b)
{
    char raw[64];
    char *out = bk_arena_alloc(arena, 96);
    int n = snprintf(raw, sizeof(raw), "%c:%lld:%lld", tag, (long long)a,
                     (long long)b);
    bk_base64url_encode((const unsigned char *)raw, (size_t)n, out);
    return out;
}

enum bk_err bk_api_cursor(const struct bk_http_request *req, char tag,
                          int64_t *a, int64_t *b, bool *present,
                          struct bk_errbuf *err)
{
    const char *s = bk_http_query(req, "cursor");
    unsigned char raw[64];
    char text[65], *p, *q;
    size_t n;

    *present = false;
    if (!s)
        return BK_OK;
    if (strlen(s) > 80 ||
        bk_base64_decode(s, false, raw, sizeof(raw) - 1, &n) != BK_OK)
        goto bad;
    memcpy(text, raw, n);
    text[n] = '\0';
    if (n < 5 || text[0] != tag || text[1] != ':')
        goto bad;
    p = text + 2;
    q = strchr(p, ':');
    if (!q)
        goto bad;
    *q = '\0';
    if (bk_parse_i64(p, INT64_MIN, INT64_MAX, a) != BK_OK ||
        bk_parse_i64(q + 1, INT64_MIN, INT64_MAX, b) != BK_OK)
        goto bad;
    *present = true;
    return BK_OK;
bad:
    return bk_api_query_fail(err, "cursor",
                             "cursor is not one this API issued");
}

enum bk_err bk_api_page(const struct bk_http_request *req, char tag,
                        struct bk_page *page, struct bk_errbuf *err)
{
    int64_t unused;
    bool present;
    enum bk_err e;

    page->after_id = 0;
    if ((e = bk_api_limit(req, &page->limit, err)) ||
        (e = bk_api_cursor(req, tag, &page->after_id, &unused, &present, err)))
        return e;
    page->limit++;
    return BK_OK;
}

bool bk_api_page_more(const struct bk_page *page, size_t *n)
{
    if (*n < (size_t)page->limit)
        return false;
    *n = (size_t)page->limit - 1;
    return true;
}

enum bk_err bk_api_query_tz(const struct bk_http_request *req, const char *name,
                            const struct bk_tz **out, struct bk_errbuf *err)
{
    const char *s = bk_http_query(req, name);

    *out = NULL;
    if (!s)
        return BK_OK;
    *out = bk_tz_get(s);
    if (!*out)
        return bk_api_query_fail(err, name,
                                 "unknown time zone (an IANA name such as "
                                 "Europe/Berlin is expected)");
    return BK_OK;
}

/* The route tables as http/router.h matches them: the same method and
 * pattern, flags holding the index into the API table. Built once. */
#define N_TABLES         (sizeof(tables) / sizeof(tables[0]))
#define MAX_TABLE_ROUTES 32
/* The public routes with a rate limit (api.h enum bk_rate_class), by
 * method and pattern; requests with the admin key are not limited. */
static const struct {
    const char *method, *pattern;
    enum bk_rate_class cls;
} rate_routes[] = {
    {"POST", "/api/v1/bookings", BK_RATE_BOOKINGS},
    {"GET", "/api/v1/event-types/{slug}/slots", BK_RATE_SLOTS},
    {"POST", "/webhooks/{provider}", BK_RATE_WEBHOOKS},
    {"GET", "/api/v1/bookings/{uid}", BK_RATE_MANAGE},
    {"POST", "/api/v1/bookings/{uid}/cancel", BK_RATE_MANAGE},
    {"POST", "/api/v1/bookings/{uid}/reschedule", BK_RATE_MANAGE},
    {"GET", "/api/v1/bookings/{uid}/ics", BK_RATE_MANAGE},
    {"POST", "/api/v1/bookings/{uid}/payment", BK_RATE_MANAGE},
    {"GET", "/calendar/{file}", BK_RATE_MANAGE},
};

static struct bk_route matchable[N_TABLES][MAX_TABLE_ROUTES];
static size_t table_offset[N_TABLES]; /* of each table's first route */
static unsigned char rate_of[N_TABLES][MAX_TABLE_ROUTES]; /* rate class */
static size_t n_routes_total;
static pthread_once_t matchable_once = PTHREAD_ONCE_INIT;

#define N_RATE_ROUTES (sizeof(rate_routes) / sizeof(rate_routes[0]))

static void matchable_build(void)
{
    bool rate_found[N_RATE_ROUTES] = {false};

    for (size_t t = 0; t < N_TABLES; t++) {
        table_offset[t] = n_routes_total;
        n_routes_total += *tables[t].n;
        if (*tables[t].n > MAX_TABLE_ROUTES) {
            bk_log_error("api: route table %zu has more than %d routes", t,
                         MAX_TABLE_ROUTES);
            abort();
        }
        for (size_t i = 0; i < *tables[t].n; i++) {
            matchable[t][i].method = tables[t].routes[i].method;
            matchable[t][i].pattern = tables[t].routes[i].pattern;
            matchable[t][i].handler = NULL;
            matchable[t][i].flags = (unsigned)i;
            for (size_t r = 0; r < N_RATE_ROUTES; r++)
                if (strcmp(rate_routes[r].method, tables[t].routes[i].method) ==
                        0 &&
                    strcmp(rate_routes[r].pattern,
                           tables[t].routes[i].pattern) == 0) {
                    rate_of[t][i] = (unsigned char)rate_routes[r].cls;
                    rate_found[r] = true;
                }
        }
    }
    /* A renamed route must not silently lose its limit. */
    for (size_t r = 0; r < N_RATE_ROUTES; r++)
        if (!rate_found[r]) {
            bk_log_error("api: the rate-limited route %s %s is in no table",
                         rate_routes[r].method, rate_routes[r].pattern);
            abort();
        }
}

size_t bk_api_route_count(void)
{
    pthread_once(&matchable_once, matchable_build);
    return n_routes_total;
}

const struct bk_api_route *bk_api_route_at(size_t i)
{
    pthread_once(&matchable_once, matchable_build);
    for (size_t t = N_TABLES; t-- > 0;)
        if (i >= table_offset[t])
            return i - table_offset[t] < *tables[t].n
                       ? &tables[t].routes[i - table_offset[t]]
                       : NULL;
    return NULL;
}

void bk_api_reply(struct bk_api_call *call, int status, json_t *body)
{
    json_decref(call->body);
    call->status = status;
    call->body = body;
    call->raw = false;
    call->replied = true;
}

void bk_api_reply_list(struct bk_api_call *call, json_t *data,
                       const char *next_cursor)
{
    bk_api_reply(call, 200,
                 data ? json_pack("{s:o, s:o}", "data", data, "next_cursor",
                                  bk_json_str_or_null(next_cursor))
                      : NULL);
}

void bk_api_reply_empty(struct bk_api_call *call, int status)
{
    bk_api_reply_raw(call, status, NULL, "", 0);
}

void bk_api_reply_raw(struct bk_api_call *call, int status,
                      const char *content_type, const char *body, size_t len)
{
    json_decref(call->body);
    call->body = NULL;
    call->status = status;
    call->raw = true;
    call->replied = true;
    call->resp->status = status;
    call->resp->content_type = content_type;
    call->resp->body = body;
    call->resp->body_len = len;
}

void bk_api_error_extra(struct bk_api_call *call, json_t *details)
{
    json_decref(call->details);
    call->details = details;
}

enum bk_err bk_api_call_body(struct bk_api_call *call, bool allow_empty,
                             json_t **out)
{
    enum bk_err e;

    *out = NULL;
    if (!call->parsed) {
        e = bk_api_body(call->req, allow_empty, &call->parsed, call->err);
        if (e)
            return e;
    }
    *out = call->parsed;
    return BK_OK;
}

enum bk_err bk_api_call_read(struct bk_api_call *call)
{
    if (call->tx)
        return bk_fail(call->err, BK_E_INTERNAL,
                       "a transaction is already open");
    return bk_store_begin(call->api->store, BK_TX_READ, &call->tx, call->err);
}

void bk_api_call_end(struct bk_api_call *call)
{
    bk_store_rollback(call->tx);
    call->tx = NULL;
}

/* Serializes the handler's JSON answer into the response. A missing or
 * unserializable body is BK_E_INTERNAL: the write it answers is then
 * rolled back, and the client gets a 500 with a body. */
static enum bk_err render(struct bk_api_call *call, bool fault)
{
    struct bk_http_response *resp = call->resp;
    char *text = NULL;
    size_t len = 0;

    if (call->raw)
        return BK_OK;
    if (!call->replied)
        return bk_fail(call->err, BK_E_INTERNAL,
                       "the handler returned no answer");
    if (call->body && !fault)
        text = bk_json_dump(call->arena, call->body, &len);
    if (!text)
        return bk_fail(call->err, BK_E_INTERNAL,
                       "the answer (status %d) could not be rendered",
                       call->status);
    resp->status = call->status;
    resp->content_type = "application/json";
    resp->body = text;
    resp->body_len = len;
    return BK_OK;
}

/* One run of the route: begin, handler, render, commit or roll back. */
static enum bk_err run(const struct bk_api_route *route,
                       struct bk_api_call *call)
{
    static const enum bk_tx_mode modes[] = {BK_TX_READ, BK_TX_READ,
                                            BK_TX_WRITE};
    enum bk_err e = BK_OK;

    if (route->tx != BK_ROUTE_NONE)
        e = bk_store_begin(call->api->store, modes[route->tx], &call->tx,
                           call->err);
    if (!e)
        e = route->handler(call);
    if (!e && !call->req->deferred)
        e = render(call, route->tx == BK_ROUTE_WRITE && bk_fault("api.render"));
    /* Only a write has anything to commit; reads end by rolling back. */
    if (!e && call->tx && route->tx == BK_ROUTE_WRITE) {
        e = bk_store_commit(call->tx, call->err);
        call->tx = NULL;
    }
    bk_store_rollback(call->tx);
    call->tx = NULL;
    return e;
}

/* Forgets the answer of a run that is being run again. */
static void reset(struct bk_api_call *call, size_t n_headers)
{
    json_decref(call->body);
    json_decref(call->details);
    call->body = call->details = NULL;
    call->status = 0;
    call->raw = call->replied = false;
    call->resp->status = 0;
    call->resp->body = NULL;
    call->resp->body_len = 0;
    call->resp->content_type = NULL;
    call->resp->n_headers = n_headers;
    bk_errbuf_clear(call->err);
}

const char *bk_api_rate_class_name(enum bk_rate_class cls)
{
    static const char *const names[BK_RATE_CLASSES] = {
        "none", "bookings", "slots", "webhooks", "manage"};
    return (unsigned)cls < BK_RATE_CLASSES ? names[cls] : "none";
}

/* Takes a token of the route's class for the client's address; when there
 * is none, answers 429 with Retry-After (whole seconds, rounded up) and
 * returns true. */
static bool rate_limited(struct bk_api *api, enum bk_rate_class rate,
                         struct bk_http_request *req,
                         struct bk_http_response *resp)
{
    struct bk_errbuf err;
    int64_t retry_ms, secs;
    const char *name = bk_api_rate_class_name(rate);

    if (bk_ratelimit_take(api->ratelimit, (size_t)rate, req->remote_addr,
                          bk_mono_ms(), &retry_ms))
        return false;
    secs = (retry_ms + 999) / 1000;
    bk_http_add_header(resp, "Retry-After",
                       bk_arena_printf(req->arena, "%lld", (long long)secs));
    bk_errbuf_clear(&err);
    bk_fail(&err, BK_E_RATE_LIMITED,
            "too many requests (%s) from this address; retry after %lld s",
            name, (long long)secs);
    bk_api_error_details(req, resp, BK_E_RATE_LIMITED, &err,
                         json_pack("{s:s, s:I}", "limit", name, "retry_after",
                                   (json_int_t)secs));
    bk_api_count_rate_limited(rate);
    return true;
}

void bk_api_handle(void *ctx, struct bk_http_request *req,
                   struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    const struct bk_route *matched = NULL;
    const struct bk_api_route *route = NULL;
    const char *allow = NULL, *method = req->method;
    struct bk_api_call call;
    struct bk_errbuf err;
    enum bk_err e = BK_E_NOT_FOUND;
    enum bk_rate_class rate = BK_RATE_NONE;
    size_t n_headers, fb_index = 0;
    int fb_table = -1;

    bk_errbuf_clear(&err);
    pthread_once(&matchable_once, matchable_build);
    if (req->body_error == BK_E_MALFORMED) {
        /* Refused framing (http.h): whatever the path, the body was not
         * read, so the request cannot be routed. */
        bk_fail(&err, BK_E_MALFORMED, "%s",
                req->error_msg ? req->error_msg : "malformed request");
        bk_api_error(req, resp, BK_E_MALFORMED, &err);
        return;
    }
    if (strcmp(method, "HEAD") == 0)
        req->method = "GET"; /* the server sends no body for HEAD */
    /* A pattern that starts with a capture ("/{host}", the booking pages)
     * catches any path: it is taken only when no other route knows the
     * path, so that a path of another route with another method stays a
     * 405 (API.md). */
    for (size_t i = 0; i < N_TABLES; i++) {
        const char *a = NULL;
        enum bk_err m =
            bk_router_match(matchable[i], *tables[i].n, req, &matched, &a);
        if (m == BK_OK && tables[i].routes[matched->flags].pattern[1] == '{' &&
            fb_table < 0) {
            fb_table = (int)i;
            fb_index = matched->flags;
            continue;
        }
        if (m == BK_OK) {
            fb_table = -1;
            route = &tables[i].routes[matched->flags];
            e = BK_OK;
            req->route = route->pattern; /* for the access log */
            req->route_slot = (unsigned)(table_offset[i] + matched->flags) + 1;
            rate = (enum bk_rate_class)rate_of[i][matched->flags];
            break;
        }
        if (m == BK_E_METHOD && !allow) {
            allow = a;
            e = BK_E_METHOD;
        }
    }
    if (!route && fb_table >= 0 && e != BK_E_METHOD) {
        size_t i = (size_t)fb_table;
        route = &tables[i].routes[fb_index];
        e = BK_OK;
        req->route = route->pattern;
        req->route_slot = (unsigned)(table_offset[i] + fb_index) + 1;
        rate = (enum bk_rate_class)rate_of[i][fb_index];
    }
    if (e == BK_E_METHOD) {
        bk_http_add_header(resp, "Allow", allow);
        bk_fail(&err, e, "use %s on this path", allow);
        bk_api_error(req, resp, e, &err);
        return;
    }
    if (e) {
        bk_fail(&err, e, "no such path: %s", req->path);
        bk_api_error(req, resp, e, &err);
        return;
    }
    if (req->body_error) {
        bk_api_error(req, resp, req->body_error, NULL);
        return;
    }
    memset(&call, 0, sizeof(call));
    call.api = api;
    call.req = req;
    call.resp = resp;
    call.err = &err;
    call.arena = req->arena;
    call.admin = bk_api_is_admin(api, req, &call.bad_key);
    /* The bearer key wins: the cookie counts only without Authorization. */
    if (!call.admin && !bk_http_header(req, "Authorization"))
        bk_api_session_check(&call);
    if (route->auth == BK_ROUTE_ADMIN && !call.admin) {
        if (call.csrf_refused)
            bk_fail(&err, BK_E_FORBIDDEN,
                    "a write made with the session cookie needs its "
                    "X-CSRF-Token header and a same-origin Origin");
        bk_api_error(req, resp,
                     call.csrf_refused ? BK_E_FORBIDDEN : BK_E_UNAUTHORIZED,
                     call.csrf_refused ? &err : NULL);
        return;
    }
    if (rate && !call.admin && rate_limited(api, rate, req, resp))
        return;
    n_headers = resp->n_headers;
    for (int try = 1;; try++) {
        e = run(route, &call);
        if (e != BK_E_SERIALIZATION || route->tx != BK_ROUTE_WRITE ||
            try >= BK_STORE_TX_TRIES)
            break;
        reset(&call, n_headers);
        bk_store_retry_pause(try);
    }
    if (e)
        bk_api_error_details(req, resp, e, &err, call.details);
    else
        json_decref(call.details);
    json_decref(call.body);
    json_decref(call.parsed);
}
