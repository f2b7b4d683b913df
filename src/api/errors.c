/* api/errors.c — the one mapping from bk_err to an HTTP status and the
 * JSON error body {"error": {"code", "message", "details"}}. */
#include <stdint.h>
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "base/log.h"
#include "base/str.h"
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
    case BK_E_IO: /* a database or a service that failed to answer: not a
                     bug of ours (500), a condition to retry after */
        return 503;
    case BK_E_METHOD:
        return 405;
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
    case BK_E_IO:
        return "the database or a service failed to answer; retry shortly";
    case BK_E_METHOD:
        return "method not allowed on this path";
    default:
        return "the request could not be processed";
    }
}

/* The length of the valid UTF-8 sequence at p (RFC 3629: no overlong
 * forms, surrogates or code points past U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned c = p[0], cp;
    size_t extra;

    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        extra = 1;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        extra = 2;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        extra = 3;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i <= extra; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
        (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return extra + 1;
}

/* s as JSON can hold it: messages quote what the client sent (a path, a
 * parameter), which may be any bytes; each byte that is not part of valid
 * UTF-8 becomes U+FFFD, so that the error always has its body. */
static const char *printable(struct bk_arena *arena, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    char *out, *w;

    if (bk_utf8_valid(s, SIZE_MAX, true))
        return s;
    out = w = bk_arena_alloc(arena, 3 * strlen(s) + 1);
    while (*p) {
        size_t n = utf8_seq(p);
        if (n) {
            memcpy(w, p, n);
            w += n;
            p += n;
        } else {
            memcpy(w, "\xEF\xBF\xBD", 3);
            w += 3;
            p++;
        }
    }
    *w = '\0';
    return out;
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
    json_t *body;

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
    msg = printable(req->arena, msg);
    if (err && err->field[0] && status < 500)
        json_object_set_new(details, "field",
                            json_string(printable(req->arena, err->field)));
    json_object_set_new(details, "request_id", json_string(req->request_id));
    if (status == 401)
        bk_http_add_header(resp, "WWW-Authenticate", "Bearer");
    /* A full disk is not freed within a second: ask for a longer pause
     * than a lock or a lost race needs. */
    if (status == 503)
        bk_http_add_header(resp, "Retry-After",
                           e == BK_E_STORAGE_FULL ? "30"
                           : e == BK_E_IO         ? "5"
                                                  : "1");
    body = json_pack("{s:{s:s, s:s, s:o}}", "error", "code", code, "message",
                     msg, "details", details);
    if (!body) /* cannot happen with the above; an error still has a body */
        body =
            json_pack("{s:{s:s, s:s, s:{}}}", "error", "code", "internal",
                      "message", "the error could not be encoded", "details");
    bk_api_json(req, resp, status, body);
}
