/* base/mem.h — allocation that never returns NULL.
 * Allocation failure aborts the process with a message (STYLE.md): there is
 * no partial state to recover in a daemon whose allocator is exhausted. */
#ifndef BK_BASE_MEM_H
#define BK_BASE_MEM_H

#include <stddef.h>

/* Each returns an owned block; free with free(). Abort on failure. */
void *bk_xmalloc(size_t n);
void *bk_xcalloc(size_t count, size_t size);
void *bk_xrealloc(void *p, size_t n);
char *bk_xstrdup(const char *s);
char *bk_xstrndup(const char *s, size_t n);

#endif
