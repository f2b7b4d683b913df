/* tests/unit/core/test_backoff.c — core/backoff.c: the delay lies in
 * [cap/2, cap] with cap = min(max, base * 2^(attempt-1)), spans that range
 * as the draw goes from 0 to 2^32-1, and grows monotonically with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/backoff.h"

static void test_caps(void **state)
{
    static const struct {
        int attempt;
        int64_t base, max, cap;
    } cases[] = {
        {1, 1000, 60000, 1000},
        {2, 1000, 60000, 2000},
        {3, 1000, 60000, 4000},
        {6, 1000, 60000, 32000},
        {7, 1000, 60000, 60000},
        {8, 1000, 60000, 60000},
        {1000, 1000, 60000, 60000},
        {0, 1000, 60000, 1000}, /* attempt < 1 acts as 1 */
        {-5, 1000, 60000, 1000},
        {1, 500, 100, 500}, /* max < base: max becomes base */
        {10, 1, 1, 1},
        {31, 1, 3600000, 3600000},
        {64, 1, 86400000, 86400000},
        {3, 0, 10, 4}, /* base < 1 acts as 1 */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t cap = cases[i].cap;
        int64_t lo =
            bk_backoff_ms(cases[i].attempt, cases[i].base, cases[i].max, 0);
        int64_t hi = bk_backoff_ms(cases[i].attempt, cases[i].base,
                                   cases[i].max, UINT32_MAX);
        if (lo != cap / 2 || hi != cap)
            fail_msg("case %zu: [%lld, %lld], want [%lld, %lld]", i,
                     (long long)lo, (long long)hi, (long long)(cap / 2),
                     (long long)cap);
    }
}

static void test_monotonic_in_draw(void **state)
{
    /* Up to a day in milliseconds, as jobs use it. */
    static const int64_t maxes[] = {1000, 60000, 3600000, 86400000};

    (void)state;
    for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
        for (int attempt = 1; attempt <= 40; attempt++) {
            int64_t prev = -1;
            for (uint64_t r = 0; r <= UINT32_MAX; r += 0x01000193u) {
                int64_t d = bk_backoff_ms(attempt, 250, maxes[m], (uint32_t)r);
                if (d < prev || d > maxes[m] || d < 125)
                    fail_msg("attempt %d draw %llu: %lld after %lld", attempt,
                             (unsigned long long)r, (long long)d,
                             (long long)prev);
                prev = d;
            }
        }
    }
}

/* Caps far beyond a day still spread over [cap/2, cap] (the scaling of the
 * draw must not overflow). */
static void test_huge_cap(void **state)
{
    const int64_t cap = 1000000000000LL;
    (void)state;
    assert_int_equal(bk_backoff_ms(60, cap, cap, 0), cap / 2);
    assert_true(bk_backoff_ms(60, cap, cap, 0xffffffffu) > cap - cap / 1000);
    assert_true(bk_backoff_ms(60, cap, cap, 0xffffffffu) <= cap);
    assert_true(bk_backoff_ms(60, cap, cap, 0x80000000u) > cap * 7 / 10);
}

static void test_midpoint(void **state)
{
    (void)state;
    /* cap 1000: 500 + floor(2^31 * 501 / 2^32) = 500 + 250. */
    assert_int_equal(bk_backoff_ms(1, 1000, 60000, 0x80000000u), 750);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_monotonic_in_draw),
        cmocka_unit_test(test_midpoint),
        cmocka_unit_test(test_huge_cap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
