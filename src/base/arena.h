/* base/arena.h — a request-, delivery- or job-scoped allocator.
 * Everything allocated from an arena lives until bk_arena_release(); nothing
 * is freed one by one. Not thread-safe: one arena belongs to one thread. */
#ifndef BK_BASE_ARENA_H
#define BK_BASE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include "base/err.h"

struct bk_arena_chunk;

/* A value type: embed it, bk_arena_init() it, bk_arena_release() it. */
struct bk_arena {
    struct bk_arena_chunk *head;
    size_t total; /* bytes handed out, for diagnostics */
};

void bk_arena_init(struct bk_arena *a);

/* Frees every block allocated from `a`; `a` is then empty and reusable. */
void bk_arena_release(struct bk_arena *a);

/* Returns `n` zeroed bytes aligned for any type, valid until release.
 * Aborts on allocation failure (base/mem.h). */
void *bk_arena_alloc(struct bk_arena *a, size_t n);

/* Returns zeroed room for `count` elements of `size` bytes; aborts on
 * overflow of count * size. */
void *bk_arena_array(struct bk_arena *a, size_t count, size_t size);

/* Copies; NULL in gives NULL out. */
char *bk_arena_strdup(struct bk_arena *a, const char *s);
char *bk_arena_strndup(struct bk_arena *a, const char *s, size_t n);
void *bk_arena_memdup(struct bk_arena *a, const void *p, size_t n);

/* Returns a formatted NUL-terminated string allocated in `a`. */
char *bk_arena_printf(struct bk_arena *a, const char *fmt, ...) BK_PRINTF(2, 3);
char *bk_arena_vprintf(struct bk_arena *a, const char *fmt, va_list ap)
    BK_PRINTF(2, 0);

#endif
