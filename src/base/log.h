/* base/log.h — one line per event on standard error.
 * Lines look like "2026-11-21T18:04:00Z info http: GET /healthz 200 0ms".
 * Thread-safe: each line is written with a single stdio call. */
#ifndef BK_BASE_LOG_H
#define BK_BASE_LOG_H

#include "base/err.h"

enum bk_log_level {
    BK_LOG_ERROR = 0,
    BK_LOG_WARN = 1,
    BK_LOG_INFO = 2,
    BK_LOG_DEBUG = 3,
};

/* Sets the most verbose level written (default BK_LOG_INFO). Call before
 * threads start. */
void bk_log_set_level(enum bk_log_level level);

/* Parses "error", "warn", "info" or "debug"; BK_E_INVALID otherwise. */
BK_MUST_CHECK enum bk_err bk_log_level_parse(const char *s,
                                             enum bk_log_level *out);

void bk_log(enum bk_log_level level, const char *fmt, ...) BK_PRINTF(2, 3);

#define bk_log_error(...) bk_log(BK_LOG_ERROR, __VA_ARGS__)
#define bk_log_warn(...)  bk_log(BK_LOG_WARN, __VA_ARGS__)
#define bk_log_info(...)  bk_log(BK_LOG_INFO, __VA_ARGS__)
#define bk_log_debug(...) bk_log(BK_LOG_DEBUG, __VA_ARGS__)

#endif
