/* core/backoff.h — retry delays for jobs: exponential backoff with full
 * jitter ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
 * Pure: the random draw is a parameter. */
#ifndef BK_CORE_BACKOFF_H
#define BK_CORE_BACKOFF_H

#include <stdint.h>

/* The delay in milliseconds before attempt number `attempt` + 1, after
 * `attempt` (>= 1) failed attempts: uniform in [cap/2, cap] where
 * cap = min(max_ms, base_ms * 2^(attempt-1)), using rand32 (any 32-bit
 * value) as the draw. Half of the delay is kept so that retries never
 * bunch up at zero. base_ms >= 1, max_ms >= base_ms. */
int64_t bk_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms,
                      uint32_t rand32);

#endif
