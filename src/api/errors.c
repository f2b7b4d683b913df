/* api/errors.c — the one mapping from bk_err to an HTTP status and the
 * JSON error body {"error": {"code", "message", "details"}}. */
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "base/log.h"
#include "base/banned.h"

static int status_of(enum bk_err e)
{
    switch (e) {
    case BK_OK:
        return 200;
    case BK_E_INVALID:
        return 422;
    case BK_E_MALFORMED:
        return 400;
    case BK_E_NOT_FOUND:
        return 404;
    case BK_E_CONFLICT:
    case BK_E_SLOT_UNAVAILABLE:
    case BK_E_ILLEGAL_TRANSITION:
    case BK_E_DUPLICATE:
        return 409;
    case BK_E_UNAUTHORIZED:
        return 401;
    case BK_E_FORBIDDEN:
        return 403;
    case BK_E_TOO_LARGE:
        return 413;
    case BK_E_UNSUPPORTED_MEDIA:
        return 415;
    case BK_E_RATE_LIMITED:
        return 429;
    case BK_E_UNAVAILABLE:
    case BK_E_BUSY:
    case BK_E_SERIALIZATION:
    case BK_E_STORAGE_FULL:
        return 503;
    case BK_E_METHOD:
        return 405;
    case BK_E_IO:
    case BK_E_INTERNAL:
    case BK_E_CONFIG:
    case BK_E_RETRY:
    case BK_E_STALE:
        return 500;
    }
    return 500;
}

static const char *default_message(enum bk_err e)
{
    switch (e) {
    case BK_E_NOT_FOUND:
        return "not found";
    case BK_E_UNAUTHORIZED:
        return "a valid admin key is required";
    case BK_E_TOO_LARGE:
        return "the request body is larger than 1 MiB";
    case BK_E_UNSUPPORTED_MEDIA:
        return "expected Content-Type: "
               "application/json";
    case BK_E_UNAVAILABLE:
    case BK_E_BUSY:
    case BK_E_SERIALIZATION:
        return "temporarily unavailable; retry shortly";
    case BK_E_STORAGE_FULL:
        return "the database has no room to write; retry later";
    case BK_E_METHOD:
        return "method not allowed on this path";
    default:
        return "the request could not be processed";
    }
}

void bk_api_error(struct bk_http_request *req, struct bk_http_response *resp,
                  enum bk_err e, const struct bk_errbuf *err)
{
    bk_api_error_details(req, resp, e, err, NULL);
}

void bk_api_error_details(struct bk_http_request *req,
                          struct bk_http_response *resp, enum bk_err e,
                          const struct bk_errbuf *err, json_t *extra)
{
    int status = status_of(e);
    const char *code = bk_err_name(e);
    const char *msg = err && err->msg[0] ? err->msg : default_message(e);
    json_t *details = extra ? extra : json_object();

    if (status >= 500 && status != 503) {
        bk_log_error("request %s %s failed (id=%s): %s: %s", req->method,
                     req->path, req->request_id, bk_err_name(e),
                     err ? err->msg : "");
        code = "internal";
        msg = "internal error; the server log has the details under this "
              "request id";
    } else if (err && err->code[0]) {
        code = err->code;
    } else if (e == BK_E_MALFORMED) {
        code = "bad_request";
    }
    if (err && err->field[0] && status < 500)
        json_object_set_new(details, "field", json_string(err->field));
    json_object_set_new(details, "request_id", json_string(req->request_id));
    if (status == 401)
        bk_http_add_header(resp, "WWW-Authenticate", "Bearer");
    /* A full disk is not freed within a second: ask for a longer pause
     * than a lock or a lost race needs. */
    if (status == 503)
        bk_http_add_header(resp, "Retry-After",
                           e == BK_E_STORAGE_FULL ? "30" : "1");
    bk_api_json(req, resp, status,
                json_pack("{s:{s:s, s:s, s:o}}", "error", "code", code,
                          "message", msg, "details", details));
}
