/* base/mem.c — aborting allocators. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

static void oom(size_t n)
{
    fprintf(stderr, "bookingd: out of memory allocating %zu bytes\n", n);
    abort();
}

void *bk_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *bk_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *bk_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *bk_xstrdup(const char *s)
{
    return bk_xstrndup(s, strlen(s));
}

char *bk_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = bk_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
