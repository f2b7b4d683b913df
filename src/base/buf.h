/* base/buf.h — a growable byte buffer with a maximum size.
 * Every buffer that holds outside input is created with a cap (STYLE.md
 * "Bounded input"); appends past the cap fail with BK_E_TOO_LARGE and leave
 * the buffer as it was. */
#ifndef BK_BASE_BUF_H
#define BK_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "base/err.h"

/* A value type. data is NUL-terminated after every successful append. */
struct bk_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* largest len allowed */
};

/* max: the largest content length in bytes the buffer may reach. */
void bk_buf_init(struct bk_buf *b, size_t max);
void bk_buf_release(struct bk_buf *b);
void bk_buf_reset(struct bk_buf *b);

BK_MUST_CHECK enum bk_err bk_buf_append(struct bk_buf *b, const void *p,
                                        size_t n);
BK_MUST_CHECK enum bk_err bk_buf_appends(struct bk_buf *b, const char *s);
BK_MUST_CHECK enum bk_err bk_buf_appendf(struct bk_buf *b, const char *fmt, ...)
    BK_PRINTF(2, 3);

/* Hands the contents to the caller: returns an owned NUL-terminated string
 * (free with free()) and leaves `b` empty. */
char *bk_buf_detach(struct bk_buf *b, size_t *len);

#endif
