/* tests/fuzz/fuzz_dav.c — the WebDAV multistatus parser on any bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "dav/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bk_arena a;
    struct bk_dav_multistatus ms;

    bk_arena_init(&a);
    if (bk_dav_parse_multistatus((const char *)data, size, &a, &ms, NULL) ==
        BK_OK) {
        for (size_t i = 0; i < ms.n; i++)
            if (!ms.responses[i].href)
                abort(); /* every response read has its href */
    }
    bk_arena_release(&a);
    return 0;
}
