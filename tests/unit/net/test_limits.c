/* tests/unit/net/test_limits.c — the per-provider token bucket and circuit
 * breaker (net/limits.h) on an injected clock: waits, refusals, the
 * Retry-After pause, the breaker's open / half-open / closed cycle, the
 * overrides' syntax (hostile forms included) and many threads sharing a
 * bucket. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/time.h"
#include "net/limits.h"

struct fake {
    int64_t mono, wall, slept;
    int sleeps;
};

static int64_t f_mono(void *ctx)
{
    return ((struct fake *)ctx)->mono;
}

static int64_t f_wall(void *ctx)
{
    return ((struct fake *)ctx)->wall + ((struct fake *)ctx)->mono;
}

static void f_sleep(void *ctx, int64_t ms)
{
    struct fake *f = ctx;
    f->mono += ms;
    f->slept += ms;
    f->sleeps++;
}

static struct bk_net_limiter *make(struct fake *f, int64_t max_wait,
                                   const char *name, double rate, int burst,
                                   int failures, int64_t cooldown)
{
    struct bk_net_clock c = {f_mono, f_wall, f_sleep, f};
    struct bk_net_limiter *l = NULL;
    struct bk_net_limit lim = {rate, burst, failures, cooldown};

    memset(f, 0, sizeof(*f));
    f->mono = 1000000;
    f->wall = 1700000000000LL;
    assert_int_equal(bk_net_limiter_new(&c, max_wait, &l, NULL), BK_OK);
    assert_int_equal(bk_net_limiter_set(l, name, &lim, NULL), BK_OK);
    return l;
}

static enum bk_err go(struct bk_net_limiter *l, const char *p,
                      struct bk_net_ticket *t, char *msg)
{
    struct bk_errbuf err;
    enum bk_err e;

    bk_errbuf_clear(&err);
    e = bk_net_limiter_acquire(l, p, t, &err);
    if (msg)
        memcpy(msg, err.msg, sizeof(err.msg));
    return e;
}

/* One request to p answered status (or failing with e). */
static enum bk_err call(struct bk_net_limiter *l, const char *p, enum bk_err e,
                        int status)
{
    struct bk_net_ticket t;
    enum bk_err a = go(l, p, &t, NULL);

    if (a)
        return a;
    bk_net_limiter_done(l, &t, e, status, 0);
    return BK_OK;
}

static void test_bucket_waits_then_refuses(void **state)
{
    struct fake f;
    struct bk_net_limiter *l = make(&f, 1000, "notion", 2.0, 2, 0, 1000);
    struct bk_net_ticket t;
    char msg[256];

    (void)state;
    /* The burst goes at once. */
    assert_int_equal(call(l, "notion", BK_OK, 200), BK_OK);
    assert_int_equal(call(l, "notion", BK_OK, 200), BK_OK);
    assert_int_equal(f.slept, 0);
    /* Then one token every 500 ms. */
    assert_int_equal(call(l, "notion", BK_OK, 200), BK_OK);
    assert_int_equal(f.slept, 500);
    assert_int_equal(call(l, "notion", BK_OK, 200), BK_OK);
    assert_int_equal(f.slept, 1000);
    /* Another provider has its own bucket (and no limit here). */
    for (int i = 0; i < 50; i++)
        assert_int_equal(call(l, "somewhere", BK_OK, 200), BK_OK);
    assert_int_equal(f.slept, 1000);
    /* No provider: nothing counted. */
    assert_int_equal(go(l, NULL, &t, NULL), BK_OK);
    assert_int_equal(t.slot, -1);
    bk_net_limiter_free(l);

    /* A limiter that never waits refuses at once, saying why. */
    l = make(&f, 0, "calcom", 2.0, 1, 0, 1000);
    assert_int_equal(call(l, "calcom", BK_OK, 200), BK_OK);
    assert_int_equal(go(l, "calcom", &t, msg), BK_E_RATE_LIMITED);
    assert_non_null(strstr(msg, "calcom: rate limit"));
    assert_int_equal(f.slept, 0);
    /* The refusal took no token: 500 ms later one is there. */
    f.mono += 500;
    assert_int_equal(call(l, "calcom", BK_OK, 200), BK_OK);
    assert_int_equal(f.slept, 0);
    bk_net_limiter_free(l);

    /* A wait longer than the bound is refused, and gives its token back. */
    l = make(&f, 600, "zoom", 1.0, 1, 0, 1000);
    assert_int_equal(call(l, "zoom", BK_OK, 200), BK_OK);
    assert_int_equal(go(l, "zoom", &t, msg), BK_E_RATE_LIMITED);
    f.mono += 1000;
    assert_int_equal(call(l, "zoom", BK_OK, 200), BK_OK);
    assert_int_equal(f.slept, 0);
    bk_net_limiter_free(l);
}

static void test_retry_after_pauses(void **state)
{
    struct fake f;
    struct bk_net_limiter *l = make(&f, 2000, "calendly", 100.0, 10, 0, 1000);
    struct bk_net_ticket t;
    struct bk_net_provider_status st[4];
    char msg[256];

    (void)state;
    assert_int_equal(go(l, "calendly", &t, NULL), BK_OK);
    bk_net_limiter_done(l, &t, BK_OK, 429, 5);
    /* Five seconds exceed the 2 s bound: refused, naming the pause. */
    assert_int_equal(go(l, "calendly", &t, msg), BK_E_RATE_LIMITED);
    assert_non_null(strstr(msg, "Retry-After"));
    assert_int_equal(bk_net_limiter_status(l, st, 4), 1);
    assert_int_equal(st[0].paused_until_ms, f.wall + f.mono + 5000);
    /* 3.5 s later the rest (1.5 s) is waited for. */
    f.mono += 3500;
    assert_int_equal(go(l, "calendly", &t, NULL), BK_OK);
    assert_true(f.slept >= 1500 && f.slept <= 1600);
    bk_net_limiter_done(l, &t, BK_OK, 200, 0);
    assert_int_equal(bk_net_limiter_status(l, st, 4), 1);
    assert_int_equal(st[0].paused_until_ms, 0);
    /* 503 with Retry-After pauses too; 429 without it, or a 400 with it,
     * does not. */
    assert_int_equal(go(l, "calendly", &t, NULL), BK_OK);
    bk_net_limiter_done(l, &t, BK_OK, 400, 30);
    assert_int_equal(go(l, "calendly", &t, NULL), BK_OK);
    bk_net_limiter_done(l, &t, BK_OK, 429, 0);
    f.slept = 0;
    assert_int_equal(go(l, "calendly", &t, NULL), BK_OK);
    assert_true(f.slept <= 10);
    bk_net_limiter_done(l, &t, BK_OK, 503, 1);
    f.slept = 0;
    assert_int_equal(go(l, "calendly", &t, NULL), BK_OK);
    assert_true(f.slept >= 1000 && f.slept <= 1010);
    bk_net_limiter_free(l);
}

static void test_breaker_cycle(void **state)
{
    struct fake f;
    struct bk_net_limiter *l = make(&f, 1000, "stripe", 0.0, 1, 3, 10000);
    struct bk_net_ticket t, t2;
    struct bk_net_provider_status st[2];
    char msg[256];

    (void)state;
    /* Failures must be consecutive: a success in between resets. */
    assert_int_equal(call(l, "stripe", BK_E_IO, 0), BK_OK);
    assert_int_equal(call(l, "stripe", BK_OK, 502), BK_OK);
    assert_int_equal(call(l, "stripe", BK_OK, 201), BK_OK);
    assert_int_equal(call(l, "stripe", BK_OK, 500), BK_OK);
    assert_int_equal(call(l, "stripe", BK_E_IO, 0), BK_OK);
    /* 4xx answers are not failures; a request not sent is neutral. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(call(l, "stripe", BK_OK, 404), BK_OK);
        assert_int_equal(call(l, "stripe", BK_OK, 429), BK_OK);
    }
    assert_int_equal(call(l, "stripe", BK_OK, 500), BK_OK);
    assert_int_equal(call(l, "stripe", BK_E_IO, 0), BK_OK);
    assert_int_equal(call(l, "stripe", BK_E_INVALID, 0), BK_OK);
    assert_int_equal(bk_net_limiter_status(l, st, 2), 1);
    assert_string_equal(st[0].state, "closed");
    assert_int_equal(st[0].consecutive_failures, 2);
    /* The third opens it. */
    assert_int_equal(call(l, "stripe", BK_OK, 503), BK_OK);
    assert_int_equal(bk_net_limiter_status(l, st, 2), 1);
    assert_string_equal(st[0].state, "open");
    assert_int_equal(st[0].consecutive_failures, 3);
    assert_int_equal(st[0].opened_at_ms, f.wall + f.mono);
    assert_int_equal(st[0].next_probe_ms, f.wall + f.mono + 10000);
    /* Open: refused at once, without waiting. */
    f.mono += 9999;
    assert_int_equal(go(l, "stripe", &t, msg), BK_E_RATE_LIMITED);
    assert_non_null(strstr(msg, "circuit breaker is open"));
    assert_int_equal(f.slept, 0);
    /* After the cooldown one probe goes; the others are refused. */
    f.mono += 1;
    assert_int_equal(bk_net_limiter_status(l, st, 2), 1);
    assert_string_equal(st[0].state, "half_open");
    assert_int_equal(go(l, "stripe", &t, NULL), BK_OK);
    assert_true(t.probe);
    assert_int_equal(go(l, "stripe", &t2, msg), BK_E_RATE_LIMITED);
    assert_non_null(strstr(msg, "half-open"));
    /* The probe fails: open again for another cooldown. */
    bk_net_limiter_done(l, &t, BK_E_IO, 0, 0);
    assert_int_equal(go(l, "stripe", &t2, NULL), BK_E_RATE_LIMITED);
    assert_int_equal(bk_net_limiter_status(l, st, 2), 1);
    assert_string_equal(st[0].state, "open");
    assert_int_equal(st[0].next_probe_ms, f.wall + f.mono + 10000);
    f.mono += 10000;
    /* A probe that is never sent (a refused URL) lets the next probe. */
    assert_int_equal(go(l, "stripe", &t, NULL), BK_OK);
    assert_true(t.probe);
    bk_net_limiter_done(l, &t, BK_E_INVALID, 0, 0);
    assert_int_equal(go(l, "stripe", &t, NULL), BK_OK);
    assert_true(t.probe);
    /* A 4xx answer is the server answering: it closes. */
    bk_net_limiter_done(l, &t, BK_OK, 400, 0);
    assert_int_equal(bk_net_limiter_status(l, st, 2), 1);
    assert_string_equal(st[0].state, "closed");
    assert_int_equal(st[0].consecutive_failures, 0);
    assert_int_equal(st[0].opened_at_ms, 0);
    assert_int_equal(go(l, "stripe", &t, NULL), BK_OK);
    assert_false(t.probe);
    bk_net_limiter_done(l, &t, BK_OK, 200, 0);
    assert_true(st[0].refused >= 3);
    bk_net_limiter_free(l);

    /* failures=0: no breaker at all. */
    l = make(&f, 1000, "google", 0.0, 1, 0, 1000);
    for (int i = 0; i < 20; i++)
        assert_int_equal(call(l, "google", BK_E_IO, 0), BK_OK);
    bk_net_limiter_free(l);
}

static void test_open_probe_waits_for_token(void **state)
{
    struct fake f;
    struct bk_net_limiter *l = make(&f, 0, "notion", 1.0, 1, 1, 500);
    struct bk_net_provider_status st[1];
    struct bk_net_ticket t;
    char msg[256];

    (void)state;
    assert_int_equal(call(l, "notion", BK_E_IO, 0), BK_OK); /* opens */
    /* The cooldown is over but the bucket is half full: refused for the
     * token, and the probe is not kept out by the refused request. */
    f.mono += 500;
    assert_int_equal(go(l, "notion", &t, msg), BK_E_RATE_LIMITED);
    assert_non_null(strstr(msg, "rate limit"));
    assert_int_equal(bk_net_limiter_status(l, st, 1), 1);
    assert_string_equal(st[0].state, "half_open");
    f.mono += 500;
    assert_int_equal(go(l, "notion", &t, NULL), BK_OK);
    assert_true(t.probe);
    bk_net_limiter_done(l, &t, BK_OK, 200, 0);
    assert_int_equal(bk_net_limiter_status(l, st, 1), 1);
    assert_string_equal(st[0].state, "closed");
    bk_net_limiter_free(l);
}

static void test_keys_and_defaults(void **state)
{
    struct bk_net_limit d;
    struct fake f;
    struct bk_net_limiter *l;
    struct bk_net_limit lim = {0.0, 1, 2, 5000};
    struct bk_net_provider_status st[8];

    (void)state;
    bk_net_limit_default("notion", &d);
    assert_true(d.rate == 3.0);
    bk_net_limit_default("calcom", &d);
    assert_true(d.rate * 60.0 > 119.9 && d.rate * 60.0 < 120.1);
    bk_net_limit_default("caldav:dav.example.org", &d);
    assert_true(d.rate == 0.0 && d.failures == 5);
    bk_net_limit_default("nobody", &d);
    assert_true(d.rate == 0.0 && d.failures == 5);
    /* "caldav" overrides every "caldav:host", each with its own state. */
    l = make(&f, 0, "caldav", lim.rate, lim.burst, lim.failures,
             lim.cooldown_ms);
    assert_int_equal(call(l, "caldav:a", BK_E_IO, 0), BK_OK);
    assert_int_equal(call(l, "caldav:a", BK_E_IO, 0), BK_OK);
    assert_int_equal(call(l, "caldav:a", BK_OK, 200), BK_E_RATE_LIMITED);
    assert_int_equal(call(l, "caldav:b", BK_OK, 200), BK_OK);
    assert_int_equal(bk_net_limiter_status(l, st, 8), 2);
    assert_string_equal(st[0].provider, "caldav:a");
    assert_string_equal(st[0].state, "open");
    assert_string_equal(st[1].provider, "caldav:b");
    assert_string_equal(st[1].state, "closed");
    assert_int_equal(st[1].limit.failures, 2);
    /* A name too long is not tracked, and not refused. */
    {
        char longname[200];
        memset(longname, 'x', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        for (int i = 0; i < 10; i++)
            assert_int_equal(call(l, longname, BK_E_IO, 0), BK_OK);
    }
    /* Bad overrides are refused. */
    lim.burst = 0;
    assert_int_equal(bk_net_limiter_set(l, "x", &lim, NULL), BK_E_CONFIG);
    lim.burst = 1;
    lim.cooldown_ms = 0;
    assert_int_equal(bk_net_limiter_set(l, "x", &lim, NULL), BK_E_CONFIG);
    lim.cooldown_ms = 1000;
    assert_int_equal(bk_net_limiter_set(l, "", &lim, NULL), BK_E_CONFIG);
    bk_net_limiter_free(l);
}

static void test_parse(void **state)
{
    static const char *const bad[] = {
        "",
        ",",
        "rate",
        "rate=",
        "rate=/s",
        "rate=3",
        "rate=3/h",
        "rate=3/ss",
        "rate=-3/s",
        "rate=1e9/s",
        "rate=0/s",
        "rate=3/s,",
        "rate=3/s,,burst=2",
        "burst=0",
        "burst=1.5",
        "burst=99999999999999",
        "failures=-1",
        "cooldown=0",
        "cooldown=5h",
        "cooldown=2000m",
        "cooldown=s",
        "speed=3",
        "rate=3/s;burst=2",
        " rate=3/s",
        "rate=3 /s",
        "rate=.5/s",
        "rate=5./s",
    };
    struct bk_net_limit l = {1.0, 1, 5, 30000};
    struct bk_errbuf err;
    char huge[400];

    (void)state;
    assert_int_equal(bk_net_limit_parse("rate=3/s", &l, NULL), BK_OK);
    assert_true(l.rate == 3.0 && l.burst == 1 && l.failures == 5);
    assert_int_equal(
        bk_net_limit_parse("rate=120/m,burst=10,failures=3,cooldown=2m", &l,
                           NULL),
        BK_OK);
    assert_true(l.rate == 2.0 && l.burst == 10 && l.failures == 3 &&
                l.cooldown_ms == 120000);
    assert_int_equal(
        bk_net_limit_parse("rate=0.5/s,cooldown=7s,failures=0", &l, NULL),
        BK_OK);
    assert_true(l.rate == 0.5 && l.cooldown_ms == 7000 && l.failures == 0);
    assert_int_equal(bk_net_limit_parse("rate=off,cooldown=9", &l, NULL),
                     BK_OK);
    assert_true(l.rate == 0.0 && l.cooldown_ms == 9000);
    assert_int_equal(bk_net_limit_parse("rate=30/min", &l, NULL), BK_OK);
    assert_true(l.rate == 0.5);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bk_net_limit before = l;
        bk_errbuf_clear(&err);
        if (bk_net_limit_parse(bad[i], &l, &err) != BK_E_CONFIG)
            fail_msg("'%s' was accepted", bad[i]);
        assert_true(err.msg[0] != '\0');
        /* A refused spec changes nothing. */
        assert_memory_equal(&before, &l, sizeof(l));
    }
    memset(huge, '1', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    memcpy(huge, "rate=", 5);
    assert_int_equal(bk_net_limit_parse(huge, &l, NULL), BK_E_CONFIG);
    assert_int_equal(bk_net_limit_parse(NULL, &l, NULL), BK_E_CONFIG);
}

/* Many threads on the real clock share one bucket: 40 requests at
 * 100/s with a burst of 1 take at least 390 ms, and none is lost. */
struct worker {
    struct bk_net_limiter *l;
    int ok;
};

static void *run_worker(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < 10; i++) {
        struct bk_net_ticket t;
        if (bk_net_limiter_acquire(w->l, "shared", &t, NULL) == BK_OK) {
            bk_net_limiter_done(w->l, &t, BK_OK, 200, 0);
            w->ok++;
        }
    }
    return NULL;
}

static void test_threads_share_bucket(void **state)
{
    struct bk_net_limiter *l = NULL;
    struct bk_net_limit lim = {100.0, 1, 0, 1000};
    struct worker w[4];
    pthread_t th[4];
    int64_t t0;
    int total = 0;

    (void)state;
    assert_int_equal(bk_net_limiter_new(NULL, 60000, &l, NULL), BK_OK);
    assert_int_equal(bk_net_limiter_set(l, "shared", &lim, NULL), BK_OK);
    t0 = bk_mono_ms();
    for (int i = 0; i < 4; i++) {
        w[i].l = l;
        w[i].ok = 0;
        assert_int_equal(pthread_create(&th[i], NULL, run_worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += w[i].ok;
    }
    assert_int_equal(total, 40);
    assert_true(bk_mono_ms() - t0 >= 385);
    bk_net_limiter_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_waits_then_refuses),
        cmocka_unit_test(test_retry_after_pauses),
        cmocka_unit_test(test_breaker_cycle),
        cmocka_unit_test(test_open_probe_waits_for_token),
        cmocka_unit_test(test_keys_and_defaults),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_threads_share_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
