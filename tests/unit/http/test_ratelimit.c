/* tests/unit/http/test_ratelimit.c — token buckets per address in a
 * bounded table (http/ratelimit.c): the burst, the refill, Retry-After,
 * addresses apart, IPv6 per /64, and the table's bound under a flood of
 * addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/ratelimit.h"

#define T0 1000000 /* a monotonic start time, ms */

static struct bk_ratelimit *make(int64_t per_minute, int64_t burst,
                                 size_t addresses)
{
    struct bk_ratelimit_rule rules[2] = {{0, 0}, {per_minute, burst}};
    struct bk_ratelimit *rl = NULL;
    struct bk_errbuf err;

    assert_int_equal(bk_ratelimit_new(rules, 2, addresses, &rl, &err), BK_OK);
    return rl;
}

static void test_parse(void **state)
{
    struct bk_ratelimit_rule r;
    struct bk_errbuf err;
    (void)state;

    assert_int_equal(bk_ratelimit_parse("60,10", &r, &err), BK_OK);
    assert_int_equal(r.per_minute, 60);
    assert_int_equal(r.burst, 10);
    assert_int_equal(bk_ratelimit_parse("30", &r, &err), BK_OK);
    assert_int_equal(r.per_minute, 30);
    assert_int_equal(r.burst, 30);
    assert_int_equal(bk_ratelimit_parse("0", &r, &err), BK_OK);
    assert_int_equal(r.per_minute, 0);
    assert_int_equal(bk_ratelimit_parse("0,5", &r, &err), BK_OK);
    assert_int_equal(r.per_minute, 0);
    const char *bad[] = {"",        ",",
                         "-1,5",    "5,0",
                         "5,-1",    "x,1",
                         "5,x",     "5,1,2",
                         "1000001", "5,1000001",
                         " 5,1",    "5, 1",
                         "5;1",     "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bk_errbuf_clear(&err);
        assert_int_equal(bk_ratelimit_parse(bad[i], &r, &err), BK_E_CONFIG);
        assert_non_null(strstr(err.msg, "PER_MINUTE,BURST"));
    }
    assert_int_equal(bk_ratelimit_parse(NULL, &r, &err), BK_E_CONFIG);
}

static void test_burst_refill_and_retry_after(void **state)
{
    struct bk_ratelimit *rl = make(60, 3, 64); /* one a second, 3 at once */
    int64_t retry;
    (void)state;

    for (int i = 0; i < 3; i++)
        assert_true(bk_ratelimit_take(rl, 1, "192.0.2.1", T0, &retry));
    assert_false(bk_ratelimit_take(rl, 1, "192.0.2.1", T0, &retry));
    assert_int_equal(retry, 1000);
    /* Half a token later: still refused, for the other half. */
    assert_false(bk_ratelimit_take(rl, 1, "192.0.2.1", T0 + 500, &retry));
    assert_int_equal(retry, 500);
    assert_true(bk_ratelimit_take(rl, 1, "192.0.2.1", T0 + 1000, &retry));
    assert_false(bk_ratelimit_take(rl, 1, "192.0.2.1", T0 + 1000, &retry));
    /* Long idle: full again, never more than the burst. */
    for (int i = 0; i < 3; i++)
        assert_true(
            bk_ratelimit_take(rl, 1, "192.0.2.1", T0 + 3600000, &retry));
    assert_false(bk_ratelimit_take(rl, 1, "192.0.2.1", T0 + 3600000, &retry));
    /* A class without a limit, and a NULL table, always allow. */
    for (int i = 0; i < 1000; i++)
        assert_true(bk_ratelimit_take(rl, 0, "192.0.2.1", T0, &retry));
    assert_true(bk_ratelimit_take(NULL, 1, "192.0.2.1", T0, &retry));
    assert_false(bk_ratelimit_on(rl, 0));
    assert_true(bk_ratelimit_on(rl, 1));
    assert_false(bk_ratelimit_on(rl, 7));
    bk_ratelimit_free(rl);
    bk_ratelimit_free(NULL);
}

static void test_slow_rates_round_retry_after_up(void **state)
{
    struct bk_ratelimit *rl = make(1, 1, 64); /* one a minute */
    int64_t retry;
    (void)state;

    assert_true(bk_ratelimit_take(rl, 1, "192.0.2.9", T0, &retry));
    assert_false(bk_ratelimit_take(rl, 1, "192.0.2.9", T0 + 1, &retry));
    assert_int_equal(retry, 59999);
    assert_false(bk_ratelimit_take(rl, 1, "192.0.2.9", T0 + 59999, &retry));
    assert_int_equal(retry, 1);
    assert_true(bk_ratelimit_take(rl, 1, "192.0.2.9", T0 + 60000, &retry));
    bk_ratelimit_free(rl);
}

static void test_addresses_apart(void **state)
{
    struct bk_ratelimit *rl = make(60, 1, 64);
    int64_t retry;
    (void)state;

    assert_true(bk_ratelimit_take(rl, 1, "127.0.0.1", T0, &retry));
    assert_false(bk_ratelimit_take(rl, 1, "127.0.0.1", T0, &retry));
    assert_true(bk_ratelimit_take(rl, 1, "127.0.0.2", T0, &retry));
    /* IPv4-mapped IPv6 is the IPv4 address. */
    assert_false(bk_ratelimit_take(rl, 1, "::ffff:127.0.0.1", T0, &retry));
    /* IPv6 counts per /64. */
    assert_true(bk_ratelimit_take(rl, 1, "2001:db8:1:2::1", T0, &retry));
    assert_false(bk_ratelimit_take(rl, 1, "2001:db8:1:2:ffff::9", T0, &retry));
    assert_true(bk_ratelimit_take(rl, 1, "2001:db8:1:3::1", T0, &retry));
    /* Whatever is not an address shares one bucket. */
    assert_true(bk_ratelimit_take(rl, 1, "", T0, &retry));
    assert_false(bk_ratelimit_take(rl, 1, "not an address", T0, &retry));
    assert_false(bk_ratelimit_take(rl, 1, NULL, T0, &retry));
    bk_ratelimit_free(rl);
}

static void test_the_table_stays_bounded(void **state)
{
    struct bk_ratelimit *rl = make(60, 1, 1000);
    size_t cap = bk_ratelimit_capacity(rl);
    int64_t retry;
    char addr[64];
    (void)state;

    /* Rounded up to whole sets of 8, a power of two of them. */
    assert_true(cap >= 1000 && cap <= 2048);
    assert_int_equal(cap % BK_RATELIMIT_WAYS, 0);
    /* The address being limited, then a flood of 200,000 others. */
    assert_true(bk_ratelimit_take(rl, 1, "198.51.100.7", T0, &retry));
    assert_false(bk_ratelimit_take(rl, 1, "198.51.100.7", T0, &retry));
    for (unsigned i = 0; i < 200000; i++) {
        snprintf(addr, sizeof(addr), "10.%u.%u.%u", (i >> 16) & 255,
                 (i >> 8) & 255, i & 255);
        assert_true(bk_ratelimit_take(rl, 1, addr, T0 + 1 + i / 1000, &retry));
        if (i % 4096 == 0)
            assert_true(bk_ratelimit_count(rl) <= cap);
    }
    assert_true(bk_ratelimit_count(rl) <= cap);
    /* The table is full of the flood's addresses (most sets filled), and
     * the newest of them are still held: one just seen is limited. */
    assert_true(bk_ratelimit_count(rl) > cap / 2);
    assert_false(
        bk_ratelimit_take(rl, 1, addr, T0 + 1 + 199999 / 1000, &retry));
    bk_ratelimit_free(rl);
}

static void test_bad_rules(void **state)
{
    struct bk_ratelimit_rule rules[BK_RATELIMIT_MAX_CLASSES + 1] = {{5, 0}};
    struct bk_ratelimit *rl = NULL;
    struct bk_errbuf err;
    (void)state;

    assert_int_equal(bk_ratelimit_new(rules, 1, 64, &rl, &err), BK_E_CONFIG);
    assert_null(rl);
    memset(rules, 0, sizeof(rules));
    assert_int_equal(
        bk_ratelimit_new(rules, BK_RATELIMIT_MAX_CLASSES + 1, 64, &rl, &err),
        BK_E_CONFIG);
    assert_int_equal(
        bk_ratelimit_new(rules, BK_RATELIMIT_MAX_CLASSES, 0, &rl, &err), BK_OK);
    assert_int_equal(bk_ratelimit_capacity(rl), BK_RATELIMIT_WAYS);
    bk_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_burst_refill_and_retry_after),
        cmocka_unit_test(test_slow_rates_round_retry_after_up),
        cmocka_unit_test(test_addresses_apart),
        cmocka_unit_test(test_the_table_stays_bounded),
        cmocka_unit_test(test_bad_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
