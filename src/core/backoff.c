/* core/backoff.c — exponential backoff with jitter. */
#include "core/backoff.h"
#include "base/banned.h"

int64_t bk_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms,
                      uint32_t rand32)
{
    int64_t cap = base_ms < 1 ? 1 : base_ms;

    if (max_ms < cap)
        max_ms = cap;
    for (int i = 1; i < attempt && cap < max_ms; i++)
        cap = cap > max_ms / 2 ? max_ms : cap * 2;
    if (cap > max_ms)
        cap = max_ms;
    /* Scale the draw to [0, span] in 128 bits: no overflow for any cap. */
    return cap / 2 + (int64_t)(((unsigned __int128)rand32 *
                                (unsigned __int128)(cap - cap / 2 + 1)) >>
                               32);
}
