/* api/internal.h — shared by the files of api/ only. */
#ifndef BK_API_INTERNAL_H
#define BK_API_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "api/api.h"
#include "base/buf.h"
#include "base/err.h"
#include "core/tz.h"
#include "http/http.h"
#include "http/router.h"
#include "store/store.h"

/* Who may call a route. */
#define BK_ROUTE_ADMIN  1u /* needs the admin key */
#define BK_ROUTE_PUBLIC 2u /* anyone; the handler may still look at auth */

/* How a route uses the store. The dispatcher begins the transaction before
 * the handler runs and ends it after: commit when the handler returned
 * BK_OK (and its answer rendered), roll back otherwise. A WRITE route is run
 * again whole when its transaction loses a serialization race
 * (BK_E_SERIALIZATION, at most BK_STORE_TX_TRIES runs), so a WRITE handler
 * must have no effect outside its transaction. NONE: the handler calls
 * operations that own their transactions (the booking ledger, the webhook
 * intake) and may open one read transaction with bk_api_call_read. */
enum bk_route_tx {
    BK_ROUTE_NONE = 0,
    BK_ROUTE_READ = 1,
    BK_ROUTE_WRITE = 2,
};

/* What a handler gets: everything is borrowed for the call. */
struct bk_api_call {
    struct bk_api *api;
    struct bk_http_request *req;
    struct bk_http_response *resp;
    struct bk_tx *tx;       /* the route's transaction; NULL for NONE */
    struct bk_errbuf *err;  /* detail of the handler's error */
    struct bk_arena *arena; /* the request's */
    bool admin;             /* the request carries the admin key */
    bool bad_key;           /* an Authorization header that is not it */
    /* The admin session cookie (session.c): admin is also set by a valid
     * session, for writes only with its CSRF token and a same Origin. */
    bool has_session_cookie;     /* one was sent, valid or not */
    bool csrf_refused;           /* a valid session's write without them */
    const char *session_user;    /* the signed-in user; NULL without */
    const char *session_token;   /* the cookie's token; NULL without */
    int64_t session_expires_utc; /* 0 without */
    /* The answer, set through bk_api_reply and friends; the dispatcher's. */
    int status;
    json_t *body;
    json_t *details;
    json_t *parsed;
    bool raw;
    bool replied;
};

/* A handler: returns BK_OK after setting its answer, or the error the
 * dispatcher answers with (detail in call->err). */
typedef enum bk_err (*bk_api_handler_fn)(struct bk_api_call *call);

struct bk_api_route {
    const char *method;  /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *pattern; /* http/router.h */
    bk_api_handler_fn handler;
    unsigned auth;       /* BK_ROUTE_ADMIN or BK_ROUTE_PUBLIC */
    enum bk_route_tx tx; /* BK_ROUTE_NONE, _READ or _WRITE */
};

/* The handler's answer: status with body serialized (takes ownership of
 * body). A NULL body, or one that cannot be serialized, is answered 500
 * internal (and logged) — never a success without its body. For WRITE and
 * READ routes the body is serialized before the commit, so a write whose
 * answer cannot be rendered is rolled back. */
void bk_api_reply(struct bk_api_call *call, int status, json_t *body);

/* {"data": data, "next_cursor": next or null} with 200 (takes data). */
void bk_api_reply_list(struct bk_api_call *call, json_t *data,
                       const char *next_cursor);

/* An answer without a body (204). */
void bk_api_reply_empty(struct bk_api_call *call, int status);

/* An answer that is not JSON: body (len bytes) is borrowed until sent
 * (static, or in the request's arena); content_type is static. */
void bk_api_reply_raw(struct bk_api_call *call, int status,
                      const char *content_type, const char *body, size_t len);

/* More details for the error the handler is about to return (takes
 * details, a JSON object). */
void bk_api_error_extra(struct bk_api_call *call, json_t *details);

/* The request body as a JSON object, parsed once per request and owned by
 * the call (valid until the handler returns); see bk_api_body. */
BK_MUST_CHECK enum bk_err bk_api_call_body(struct bk_api_call *call,
                                           bool allow_empty, json_t **out);

/* For NONE routes: begins a read transaction in call->tx, which the
 * dispatcher ends after the handler (or bk_api_call_end, earlier). */
BK_MUST_CHECK enum bk_err bk_api_call_read(struct bk_api_call *call);
void bk_api_call_end(struct bk_api_call *call);

/* Answers with the JSON error of API.md for e; the one place mapping a
 * bk_err to an HTTP status. err may be NULL (a generic message is used).
 * Server errors are logged with the request id and hidden from clients. */
void bk_api_error(struct bk_http_request *req, struct bk_http_response *resp,
                  enum bk_err e, const struct bk_errbuf *err);

/* Like bk_api_error, with more details (takes extra, a JSON object). */
void bk_api_error_details(struct bk_http_request *req,
                          struct bk_http_response *resp, enum bk_err e,
                          const struct bk_errbuf *err, json_t *extra);

/* Answers status with v serialized (takes v); for error answers, whose
 * body always serializes (errors.c). */
void bk_api_json(struct bk_http_request *req, struct bk_http_response *resp,
                 int status, json_t *v);

/* The request body as a JSON object: BK_E_UNSUPPORTED_MEDIA unless the
 * content type is application/json, BK_E_TOO_LARGE past the body limit,
 * BK_E_MALFORMED for bad JSON. allow_empty: an empty body gives an empty
 * object. Returns an owned json_t. */
BK_MUST_CHECK enum bk_err bk_api_body(struct bk_http_request *req,
                                      bool allow_empty, json_t **out,
                                      struct bk_errbuf *err);

/* Whether the request carries the admin key. A present but wrong
 * Authorization header sets *bad. */
bool bk_api_is_admin(const struct bk_api *api,
                     const struct bk_http_request *req, bool *bad);

/* Deferred waits for an outbox job (waits.c). Calls done(ctx) — on a
 * waiter thread, or at once on the caller's when wait_ms <= 0 or job is 0
 * — when the job has run once (done, dead, or failed and due again) or
 * wait_ms has passed, whichever comes first. The wait is allocated in
 * arena (a deferred request's, valid until done resumes it). done must
 * not block for long: it renders the answer and resumes the request
 * (http.h bk_http_resume). Thread-safe. */
typedef void (*bk_api_wait_done_fn)(void *ctx);
void bk_api_wait_job(struct bk_store *store, int64_t job, int64_t wait_ms,
                     struct bk_arena *arena, bk_api_wait_done_fn done,
                     void *ctx);

/* What a deferred answer says (bk_api_answer_after_job): reads `uid`
 * in c's read transaction (already open) and sets *out to an owned
 * json_t, or fails with c->err set (answered as the API's error). */
typedef enum bk_err (*bk_api_answer_fn)(struct bk_api_call *c, const char *uid,
                                        void *arg, json_t **out);

/* Answers the call `status` with what render(c, uid, arg) says once the
 * outbox job `job` has run once (done, dead, or failed and due again) or
 * BOOKINGD_CHECKOUT_WAIT_MS (api->checkout_wait_ms, milliseconds) has
 * passed, whichever comes first; the job may run on any instance. Defers
 * the request (http.h bk_http_defer: it holds no server thread meanwhile)
 * and wakes the job runner. The call must have no transaction open and,
 * from here on, must not answer: its request, response and arena are the
 * answer's. uid is copied into the request's arena; arg is borrowed and
 * must live as long as the request (the arena, or static). render runs
 * on the waiter thread (or at once when job is 0) in a call of its own
 * (api, req, resp, arena and admin of c) with a read transaction open;
 * a failure to open it, or render's, is answered as the API's error.
 * Nothing to free: everything lives in the request's arena. */
void bk_api_answer_after_job(struct bk_api_call *c, int64_t job, int status,
                             const char *uid, bk_api_answer_fn render,
                             void *arg);

/* Admin sessions (session.c, docs/admin.md): a session ends after
 * BK_ADMIN_SESSION_IDLE_S without a request, and BK_ADMIN_SESSION_MAX_S
 * after the sign-in whatever its use. */
#define BK_ADMIN_SESSION_IDLE_S (12 * 3600)
#define BK_ADMIN_SESSION_MAX_S  (7 * 86400)

/* Looks at the request's session cookie, when there is one and no
 * Authorization header: sets call->admin (and session_*) for a valid,
 * unexpired session — for a method other than GET/HEAD/OPTIONS only with
 * the session's X-CSRF-Token and a same-origin Origin, else sets
 * call->csrf_refused. Extends the session (sliding expiry). Runs its own
 * short transactions. */
void bk_api_session_check(struct bk_api_call *call);

/* Whether the request's Origin header names this server (the origin of
 * base_url, or the Host the browser used); false when absent. */
bool bk_api_origin_ok(const struct bk_api *api,
                      const struct bk_http_request *req);

/* The session cookie's name: "__Host-bookingd_admin" when base_url is
 * https, "bookingd_admin" otherwise. Static. */
const char *bk_api_session_cookie_name(const struct bk_api *api);

/* Whether token is the manage token of uid (constant time). */
bool bk_api_token_ok(const struct bk_api *api, const char *uid,
                     const char *token);

/* ?limit= (1..500, default 50). BK_E_MALFORMED (invalid_query, field
 * "limit") otherwise. */
BK_MUST_CHECK enum bk_err bk_api_limit(const struct bk_http_request *req,
                                       int *limit, struct bk_errbuf *err);

/* Opaque cursors: a tag and up to two integers, base64url-encoded. */
const char *bk_api_cursor_encode(struct bk_arena *arena, char tag, int64_t a,
                                 int64_t b);
/* ?cursor= into a and b; absent: *present = false. BK_E_MALFORMED
 * (invalid_query, field "cursor") for a cursor this API did not issue. */
BK_MUST_CHECK enum bk_err bk_api_cursor(const struct bk_http_request *req,
                                        char tag, int64_t *a, int64_t *b,
                                        bool *present, struct bk_errbuf *err);

/* ?limit= and ?cursor= of a list keyed by row id (tag: the list's cursor
 * letter) into page; page->limit is one more than asked, to learn whether a
 * next page exists. */
BK_MUST_CHECK enum bk_err bk_api_page(const struct bk_http_request *req,
                                      char tag, struct bk_page *page,
                                      struct bk_errbuf *err);

/* After reading with a page from bk_api_page: whether there is a next page
 * (then *n is trimmed to the rows to show, and the cursor continues after
 * row *n - 1). */
bool bk_api_page_more(const struct bk_page *page, size_t *n);

/* ?name= as a time zone (NULL when absent). BK_E_MALFORMED (400) naming
 * the parameter when unknown. */
BK_MUST_CHECK enum bk_err bk_api_query_tz(const struct bk_http_request *req,
                                          const char *name,
                                          const struct bk_tz **out,
                                          struct bk_errbuf *err);

/* A query-parameter error: BK_E_MALFORMED with code invalid_query. */
enum bk_err bk_api_query_fail(struct bk_errbuf *err, const char *param,
                              const char *fmt, ...) BK_PRINTF(3, 4);

/* Every route of every table, in one index (GET /metrics): how many,
 * and the one at i (NULL past the end). req->route_slot is 1 + this
 * index for a matched request. */
size_t bk_api_route_count(void);
const struct bk_api_route *bk_api_route_at(size_t i);

/* Counts a request answered 429 in class cls (http_metrics.c). */
void bk_api_count_rate_limited(enum bk_rate_class cls);

/* Appends the HTTP metrics (requests by route, method and status with
 * latency histograms; connections) and the database's errors by class to
 * b, in Prometheus text format 0.0.4 (http_metrics.c). */
BK_MUST_CHECK enum bk_err bk_api_metrics_render(const struct bk_api *api,
                                                struct bk_buf *b);

/* The route tables of each resource file. */
extern const struct bk_api_route bk_api_ops_routes[];
extern const size_t bk_api_ops_n;
extern const struct bk_api_route bk_api_calendly_routes[];
extern const size_t bk_api_calendly_n;
extern const struct bk_api_route bk_api_host_routes[];
extern const size_t bk_api_host_n;
extern const struct bk_api_route bk_api_event_type_routes[];
extern const size_t bk_api_event_type_n;
extern const struct bk_api_route bk_api_package_routes[];
extern const size_t bk_api_package_n;
extern const struct bk_api_route bk_api_invoice_routes[];
extern const size_t bk_api_invoice_n;
extern const struct bk_api_route bk_api_metrics_routes[];
extern const size_t bk_api_metrics_n;
extern const struct bk_api_route bk_api_booking_routes[];
extern const size_t bk_api_booking_n;
extern const struct bk_api_route bk_api_message_routes[];
extern const size_t bk_api_message_n;
extern const struct bk_api_route bk_api_client_routes[];
extern const size_t bk_api_client_n;
extern const struct bk_api_route bk_api_delivery_routes[];
extern const size_t bk_api_delivery_n;
extern const struct bk_api_route bk_api_webhook_endpoint_routes[];
extern const size_t bk_api_webhook_endpoint_n;
extern const struct bk_api_route bk_api_job_routes[];
extern const size_t bk_api_job_n;
/* POST /webhooks/google (gwatch.c), taken by the webhooks route. */
enum bk_err bk_api_google_notify(struct bk_api_call *c);
extern const struct bk_api_route bk_api_webhook_routes[];
extern const size_t bk_api_webhook_n;
extern const struct bk_api_route bk_api_page_routes[];
extern const size_t bk_api_page_n;
extern const struct bk_api_route bk_api_session_routes[];
extern const size_t bk_api_session_n;
extern const struct bk_api_route bk_api_calendar_routes[];
extern const size_t bk_api_calendar_n;
extern const struct bk_api_route bk_api_calendar_connection_routes[];
extern const size_t bk_api_calendar_connection_n;

#endif
