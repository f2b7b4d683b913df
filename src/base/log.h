/* base/log.h — one line per event on standard error.
 * Text lines (the default) look like
 * "2026-11-21T18:04:00Z info http GET /healthz 200 0ms id=...". JSON lines
 * (BOOKINGD_LOG_FORMAT=json) are one object each, for log collectors:
 * {"time":"2026-11-21T18:04:00Z","level":"info","message":"..."} plus, for
 * the access line of a request, request_id, method, path, route, status and
 * duration_ms. Thread-safe: each line is written with a single stdio call. */
#ifndef BK_BASE_LOG_H
#define BK_BASE_LOG_H

#include <stdint.h>

#include "base/err.h"

enum bk_log_level {
    BK_LOG_ERROR = 0,
    BK_LOG_WARN = 1,
    BK_LOG_INFO = 2,
    BK_LOG_DEBUG = 3,
};

enum bk_log_format {
    BK_LOG_TEXT = 0,
    BK_LOG_JSON = 1,
};

/* Sets the most verbose level written (default BK_LOG_INFO). Call before
 * threads start. */
void bk_log_set_level(enum bk_log_level level);

/* Parses "error", "warn", "info" or "debug"; BK_E_INVALID otherwise. */
BK_MUST_CHECK enum bk_err bk_log_level_parse(const char *s,
                                             enum bk_log_level *out);

/* Sets the line format (default BK_LOG_TEXT). Call before threads start. */
void bk_log_set_format(enum bk_log_format format);

/* Parses "text" or "json"; BK_E_INVALID otherwise. */
BK_MUST_CHECK enum bk_err bk_log_format_parse(const char *s,
                                              enum bk_log_format *out);

void bk_log(enum bk_log_level level, const char *fmt, ...) BK_PRINTF(2, 3);

/* The access line of one answered HTTP request. Strings are borrowed for
 * the call; route (the matched pattern, "/api/v1/hosts/{slug}") may be NULL
 * when no route matched. Bytes from outside (path) are escaped in JSON and
 * replaced by '?' in text when they are control characters. */
struct bk_log_request {
    const char *method;
    const char *path;
    const char *route;
    const char *request_id;
    int status;
    int64_t duration_ms;
};
void bk_log_request(const struct bk_log_request *r);

#define bk_log_error(...) bk_log(BK_LOG_ERROR, __VA_ARGS__)
#define bk_log_warn(...)  bk_log(BK_LOG_WARN, __VA_ARGS__)
#define bk_log_info(...)  bk_log(BK_LOG_INFO, __VA_ARGS__)
#define bk_log_debug(...) bk_log(BK_LOG_DEBUG, __VA_ARGS__)

#endif
