/* base/buf.c — bounded growable buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "base/banned.h"

void bk_buf_init(struct bk_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void bk_buf_release(struct bk_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void bk_buf_reset(struct bk_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static enum bk_err reserve(struct bk_buf *b, size_t extra)
{
    size_t want;

    if (extra > b->max || b->len > b->max - extra)
        return BK_E_TOO_LARGE;
    want = b->len + extra + 1;
    if (want <= b->cap)
        return BK_OK;
    if (b->cap < 64)
        b->cap = 64;
    while (b->cap < want)
        b->cap = b->cap > ((size_t)-1) / 2 ? want : b->cap * 2;
    b->data = bk_xrealloc(b->data, b->cap);
    return BK_OK;
}

enum bk_err bk_buf_append(struct bk_buf *b, const void *p, size_t n)
{
    enum bk_err e = reserve(b, n);
    if (e)
        return e;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return BK_OK;
}

enum bk_err bk_buf_appends(struct bk_buf *b, const char *s)
{
    return bk_buf_append(b, s, strlen(s));
}

enum bk_err bk_buf_appendf(struct bk_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    int n;
    enum bk_err e;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        va_end(ap);
        return BK_E_INTERNAL;
    }
    e = reserve(b, (size_t)n);
    if (e) {
        va_end(ap);
        return e;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return BK_OK;
}

char *bk_buf_detach(struct bk_buf *b, size_t *len)
{
    char *p = b->data ? b->data : bk_xstrdup("");
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
