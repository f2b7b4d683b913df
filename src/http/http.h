/* http/http.h — the request and response every handler sees.
 * Built by http/server.c from libmicrohttpd's connection; nothing here
 * exposes microhttpd.h. A request and everything it points at live in its
 * arena until the response has been sent. */
#ifndef BK_HTTP_HTTP_H
#define BK_HTTP_HTTP_H

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
     * BK_E_MALFORMED when the request line or headers were refused. */
    enum bk_err body_error;
    struct bk_arena *arena; /* request-scoped; handlers allocate here */
    int64_t start_ms;       /* monotonic, for the access log */
};

struct bk_http_response {
    int status; /* 0 means 500 */
    const char *content_type;
    const char *body; /* borrowed until sent: arena or static */
    size_t body_len;
    struct bk_kv headers[BK_HTTP_MAX_RESP_HEADERS];
    size_t n_headers;
};

/* Handler of every request; fills resp. Runs on a connection thread: many
 * run at once. */
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

#endif
