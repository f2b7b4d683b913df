/* base/err.c — error names and the error buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/str.h"
#include "base/banned.h"

const char *bk_err_name(enum bk_err e)
{
    switch (e) {
    case BK_OK:
        return "ok";
    case BK_E_INVALID:
        return "invalid_field";
    case BK_E_MALFORMED:
        return "malformed";
    case BK_E_NOT_FOUND:
        return "not_found";
    case BK_E_CONFLICT:
        return "conflict";
    case BK_E_SLOT_UNAVAILABLE:
        return "slot_unavailable";
    case BK_E_ILLEGAL_TRANSITION:
        return "illegal_transition";
    case BK_E_DUPLICATE:
        return "duplicate";
    case BK_E_UNAUTHORIZED:
        return "unauthorized";
    case BK_E_FORBIDDEN:
        return "forbidden";
    case BK_E_TOO_LARGE:
        return "payload_too_large";
    case BK_E_UNSUPPORTED_MEDIA:
        return "unsupported_media_type";
    case BK_E_RATE_LIMITED:
        return "rate_limited";
    case BK_E_UNAVAILABLE:
        return "unavailable";
    case BK_E_BUSY:
        return "busy";
    case BK_E_IO:
        return "io_error";
    case BK_E_INTERNAL:
        return "internal";
    case BK_E_CONFIG:
        return "invalid_config";
    case BK_E_RETRY:
        return "retry";
    case BK_E_STALE:
        return "stale";
    case BK_E_METHOD:
        return "method_not_allowed";
    case BK_E_SERIALIZATION:
        return "serialization_failure";
    case BK_E_STORAGE_FULL:
        return "storage_full";
    }
    return "unknown";
}

void bk_errbuf_clear(struct bk_errbuf *err)
{
    if (!err)
        return;
    err->msg[0] = '\0';
    err->field[0] = '\0';
    err->code[0] = '\0';
}

BK_PRINTF(2, 0)
static void vset(struct bk_errbuf *err, const char *fmt, va_list ap)
{
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

enum bk_err bk_fail(struct bk_errbuf *err, enum bk_err e, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return e;
    va_start(ap, fmt);
    vset(err, fmt, ap);
    va_end(ap);
    return e;
}

enum bk_err bk_fail_field(struct bk_errbuf *err, enum bk_err e,
                          const char *field, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return e;
    va_start(ap, fmt);
    vset(err, fmt, ap);
    va_end(ap);
    bk_strlcpy(err->field, field ? field : "", sizeof(err->field));
    return e;
}

void bk_errbuf_code(struct bk_errbuf *err, const char *code)
{
    if (err)
        bk_strlcpy(err->code, code ? code : "", sizeof(err->code));
}
