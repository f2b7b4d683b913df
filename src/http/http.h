/* http/http.h — the request and response every handler sees.
 * Built by http/server.c from libmicrohttpd's connection; nothing here
 * exposes microhttpd.h. A request and everything it points at live in its
 * arena until the response has been sent. */
#ifndef BK_HTTP_HTTP_H
#define BK_HTTP_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"

#define BK_HTTP_MAX_BODY         (1024 * 1024) /* 1 MiB, API.md */
#define BK_HTTP_MAX_HEADERS      64
#define BK_HTTP_MAX_QUERY        32
#define BK_HTTP_MAX_PARAMS       4
#define BK_HTTP_MAX_RESP_HEADERS 8
#define BK_HTTP_MAX_PATH         2048

struct bk_kv {
    const char *key;
    const char *value;
};

struct bk_http_request {
    const char *method;     /* "GET", "POST", ... */
    const char *path;       /* percent-decoded, without the query */
    const char *request_id; /* echoed in X-Request-Id */
    const char *remote_addr;
    const struct bk_kv *headers; /* as received, first BK_HTTP_MAX_HEADERS */
    size_t n_headers;
    const struct bk_kv *query; /* decoded; first BK_HTTP_MAX_QUERY */
    size_t n_query;
    struct bk_kv params[BK_HTTP_MAX_PARAMS]; /* captures of the route */
    size_t n_params;
    const char *body; /* NUL-terminated; body_len bytes */
    size_t body_len;
    /* BK_OK, or BK_E_TOO_LARGE when the body passed BK_HTTP_MAX_BODY (the
     * body is then empty and the handler must answer 413), or
     * BK_E_MALFORMED when the request's framing was refused (RFC 9112
     * §6: a transfer coding other than chunked, Content-Length values
     * that disagree, both Transfer-Encoding and Content-Length; the
     * handler must answer 400). The body has not been read then. */
    enum bk_err body_error;
    const char *error_msg;  /* with BK_E_MALFORMED: why, static text */
    struct bk_arena *arena; /* request-scoped; handlers allocate here */
    int64_t start_ms;       /* monotonic, for the access log */
    /* The matched route's pattern ("/api/v1/hosts/{slug}"), set by the
     * handler for the access log; NULL when none matched. */
    const char *route;
    /* 1 + the handler's own index of the matched route, 0 when none: what
     * the server's observer (server.h) sees of it. */
    unsigned route_slot;
    /* The server's: set by bk_http_defer; how bk_http_resume reaches the
     * server. Handlers do not touch them. */
    bool deferred;
    void (*resume)(struct bk_http_request *req);
};

struct bk_http_response {
    int status; /* 0 means 500 */
    const char *content_type;
    const char *body; /* borrowed until sent: arena or static */
    size_t body_len;
    struct bk_kv headers[BK_HTTP_MAX_RESP_HEADERS];
    size_t n_headers;
};

/* What the server counts of its connections (GET /metrics); the caller
 * owns it, zeroed, for as long as the server runs. Atomics, lock-free. */
struct bk_http_counters {
    _Atomic int64_t open;              /* connections open now */
    _Atomic uint64_t accepted;         /* connections taken since start */
    _Atomic uint64_t refused_limit;    /* refused: over the connection
                                          limit, or the per-address one */
    _Atomic uint64_t refused_stopping; /* refused while shutting down */
    _Atomic uint64_t timed_out;        /* closed: a request past its deadline */
    _Atomic int64_t in_flight;         /* requests begun, not yet completed */
};

/* Called once per response sent, on the thread that sends it, with its
 * status and how long it took (µs, monotonic, from the request's first
 * byte to the response queued). Must be cheap and must not block. */
typedef void (*bk_http_observe_fn)(void *ctx, const struct bk_http_request *req,
                                   int status, int64_t duration_us);

/* Handler of every request; fills resp (or defers it, below). Runs on one
 * of the server's event-loop threads, which serves many connections: a
 * handler that blocks for long stalls them, so waits that may be long are
 * deferred instead. Many run at once. */
typedef void (*bk_http_handler_fn)(void *ctx, struct bk_http_request *req,
                                   struct bk_http_response *resp);

/* Case-insensitive header lookup; NULL when absent. */
const char *bk_http_header(const struct bk_http_request *req, const char *name);

/* The first value of a query parameter; NULL when absent. */
const char *bk_http_query(const struct bk_http_request *req, const char *name);

/* A route capture by name ("uid"); NULL when absent. */
const char *bk_http_param(const struct bk_http_request *req, const char *name);

/* Adds a response header (name and value borrowed until sent); silently
 * drops past BK_HTTP_MAX_RESP_HEADERS. */
void bk_http_add_header(struct bk_http_response *resp, const char *name,
                        const char *value);

/* Answering later, without holding a thread (libmicrohttpd's
 * MHD_suspend_connection / MHD_resume_connection underneath).
 *
 * A handler that would block its thread (waiting for the inbox's group
 * commit, say) calls bk_http_defer(req) and returns without filling resp.
 * The connection is then suspended: it holds no thread, is not timed out,
 * and its request deadline does not run. Later, from any thread, the code
 * that took the request over fills the same resp (allocating in
 * req->arena, which stays valid) and calls bk_http_resume(req), exactly
 * once; one of the server's threads then sends the response. It may also
 * do so before the handler has returned (it completed at once).
 *
 * bk_http_defer: on the handler's thread, before the handler returns, at
 * most once per request; not for a request with body_error set.
 * bk_http_resume: thread-safe; after it, req, resp and the arena belong to
 * the server again and must not be touched. Every deferred request must
 * be resumed: bk_http_server_free waits for them. */
void bk_http_defer(struct bk_http_request *req);
void bk_http_resume(struct bk_http_request *req);

#endif
