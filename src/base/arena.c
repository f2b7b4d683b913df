/* base/arena.c — chunked bump allocator. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/mem.h"
#include "base/banned.h"

#define ARENA_CHUNK 8192
#define ARENA_ALIGN 16

struct bk_arena_chunk {
    struct bk_arena_chunk *next;
    size_t size; /* usable bytes in data[] */
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

void bk_arena_init(struct bk_arena *a)
{
    a->head = NULL;
    a->total = 0;
}

void bk_arena_release(struct bk_arena *a)
{
    struct bk_arena_chunk *c = a->head, *next;

    while (c) {
        next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}

void *bk_arena_alloc(struct bk_arena *a, size_t n)
{
    struct bk_arena_chunk *c = a->head;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    void *p;

    if (need < n) /* overflow */
        need = SIZE_MAX;
    if (!c || c->size - c->used < need) {
        size_t size = need > ARENA_CHUNK / 2 ? need : ARENA_CHUNK;
        if (size > SIZE_MAX - sizeof(*c)) {
            fprintf(stderr, "bookingd: arena request too large\n");
            abort();
        }
        c = bk_xmalloc(sizeof(*c) + size);
        c->size = size;
        c->used = 0;
        /* A large block gets its own chunk behind the current one, so the
         * current chunk's free room is not abandoned. */
        if (a->head && need > ARENA_CHUNK / 2) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    p = c->data + c->used;
    c->used += need;
    a->total += need;
    memset(p, 0, n);
    return p;
}

void *bk_arena_array(struct bk_arena *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) {
        fprintf(stderr, "bookingd: arena array overflow\n");
        abort();
    }
    return bk_arena_alloc(a, count * size);
}

char *bk_arena_strndup(struct bk_arena *a, const char *s, size_t n)
{
    char *p;
    size_t len;

    if (!s)
        return NULL;
    len = strnlen(s, n);
    p = bk_arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *bk_arena_strdup(struct bk_arena *a, const char *s)
{
    return s ? bk_arena_strndup(a, s, strlen(s)) : NULL;
}

void *bk_arena_memdup(struct bk_arena *a, const void *src, size_t n)
{
    void *p = bk_arena_alloc(a, n + 1); /* +1: a NUL for text blobs */
    if (n)
        memcpy(p, src, n);
    return p;
}

char *bk_arena_vprintf(struct bk_arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    char *p;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return bk_arena_strdup(a, "");
    p = bk_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *bk_arena_printf(struct bk_arena *a, const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = bk_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}
