/* tests/unit/webhooks/test_stripe.c — the Stripe provider: the
 * Stripe-Signature scheme (PROVIDERS.md §1.1) against a vector made with
 * the official stripe package (webhooks.generateTestHeaderString), its
 * bad forms, and identify/normalize of Stripe's events, hostile ones
 * included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/str.h"
#include "webhooks/webhooks.h"

#define SECRET "whsec_test_vector"
#define T      1800000000
/* node -e: new Stripe(k).webhooks.generateTestHeaderString({payload: BODY,
 * secret: SECRET, timestamp: T}) */
#define BODY                                                                   \
    "{\"id\":\"evt_1\",\"object\":\"event\",\"type\":\"checkout.session."      \
    "completed\",\"data\":{\"object\":{\"id\":\"cs_test_1\",\"object\":"       \
    "\"checkout.session\",\"client_reference_id\":\"abcdefghij234567abcd\","   \
    "\"metadata\":{\"booking_uid\":\"abcdefghij234567abcd\"},\"payment_"       \
    "status\":\"paid\",\"payment_intent\":\"pi_1\",\"amount_total\":4500,"     \
    "\"currency\":\"eur\"}}}"
#define SIG "4b0838c7add5609d78fd49183e00fc2f42cac1890c752f1c166daa5014f84f27"

static const char *header(void *ctx, const char *name)
{
    return bk_str_ieq(name, "Stripe-Signature") ? ctx : NULL;
}

static enum bk_err verify_at(const char *body, const char *h, int64_t now)
{
    struct bk_webhook_input in = {body,      strlen(body), header,
                                  (void *)h, now,          NULL};
    return bk_webhook_stripe.verify(&in, SECRET, NULL);
}

static void test_signature(void **state)
{
    (void)state;
    assert_int_equal(verify_at(BODY, "t=1800000000,v1=" SIG, T), BK_OK);
    /* Several v1 (a secret being rolled), a v0 decoy, unknown items. */
    assert_int_equal(
        verify_at(BODY, "t=1800000000,v1=" SIG ",v1=potato,v0=" SIG, T), BK_OK);
    assert_int_equal(
        verify_at(BODY,
                  "t=1800000000,v1=0000000000000000000000000000000000000000"
                  "000000000000000000000000,v1=" SIG ",x=y",
                  T + 300),
        BK_OK);
}

static void test_bad_signatures(void **state)
{
    static const char *const bad[] = {
        NULL,
        "",
        "t=1800000000",              /* no v1 */
        "v1=" SIG,                   /* no t */
        "t=1800000000,v0=" SIG,      /* only the decoy scheme */
        "t=1800000001,v1=" SIG,      /* another timestamp */
        "t=abc,v1=" SIG,             /* not a number */
        "t=-1800000000,v1=" SIG,     /* negative */
        "t=1800000000,v1=" SIG "00", /* too long */
        "t=1800000000,v1=zz" SIG,    /* not hex */
        "t=1800000000;v1=" SIG,      /* wrong separator */
        "t=1800000000, v1=" SIG,     /* a space is part of the key */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(verify_at(BODY, bad[i], T), BK_E_UNAUTHORIZED);
    /* Tolerance: 300 s old at most; and not far in the future. */
    assert_int_equal(verify_at(BODY, "t=1800000000,v1=" SIG, T + 301),
                     BK_E_UNAUTHORIZED);
    assert_int_equal(verify_at(BODY, "t=1800000000,v1=" SIG, T - 301),
                     BK_E_UNAUTHORIZED);
    /* A changed body, one byte. */
    {
        char body[] = BODY;
        body[10] ^= 1;
        assert_int_equal(verify_at(body, "t=1800000000,v1=" SIG, T),
                         BK_E_UNAUTHORIZED);
    }
    /* Another secret. */
    {
        struct bk_webhook_input in = {BODY,   strlen(BODY),
                                      header, (void *)("t=1800000000,v1=" SIG),
                                      T,      NULL};
        assert_int_equal(bk_webhook_stripe.verify(&in, "whsec_other", NULL),
                         BK_E_UNAUTHORIZED);
    }
    /* A header longer than the cap. */
    {
        size_t n = 8000;
        char *h = malloc(n + 1);
        memset(h, 'v', n);
        memcpy(h, "t=1800000000,v1=" SIG ",", 16 + 64 + 1);
        h[n] = '\0';
        assert_int_equal(verify_at(BODY, h, T), BK_E_UNAUTHORIZED);
        free(h);
    }
}

static enum bk_err parse(const char *text, struct bk_arena *a,
                         struct bk_webhook_id *id, struct bk_ext_event *ev,
                         bool normalize)
{
    json_t *doc = NULL;
    enum bk_err e = bk_webhooks_parse(text, strlen(text), &doc, NULL);

    if (!e)
        e = bk_webhook_stripe.identify(doc, a, id, NULL);
    if (!e && normalize)
        e = bk_webhook_stripe.normalize(doc, a, ev, NULL);
    json_decref(doc);
    return e;
}

static void test_normalize(void **state)
{
    struct bk_arena a;
    struct bk_webhook_id id;
    struct bk_ext_event ev, back;
    const char *stored;
    (void)state;

    bk_arena_init(&a);
    assert_int_equal(parse(BODY, &a, &id, &ev, true), BK_OK);
    assert_string_equal(id.delivery_key, "evt_1");
    assert_string_equal(id.type, "checkout.session.completed");
    assert_string_equal(id.subject, "abcdefghij234567abcd");
    assert_true(id.known);
    assert_int_equal(ev.kind, BK_EXT_PAYMENT_COMPLETED);
    assert_string_equal(ev.payment.booking_uid, "abcdefghij234567abcd");
    assert_string_equal(ev.payment.session_id, "cs_test_1");
    assert_string_equal(ev.payment.payment_intent, "pi_1");
    assert_string_equal(ev.payment.payment_status, "paid");
    assert_string_equal(ev.payment.currency, "EUR");
    assert_int_equal(ev.payment.amount_minor, 4500);
    /* The stored form reads back the same. */
    stored = bk_webhooks_event_encode(&ev, &a);
    assert_int_equal(
        bk_webhooks_event_decode(stored, &bk_webhook_stripe, &a, &back, NULL),
        BK_OK);
    assert_int_equal(back.kind, ev.kind);
    assert_string_equal(back.payment.booking_uid, ev.payment.booking_uid);
    assert_string_equal(back.payment.session_id, ev.payment.session_id);
    assert_string_equal(back.payment.payment_status, "paid");
    assert_int_equal(back.payment.amount_minor, 4500);

    /* A refunded charge names its booking by its metadata. */
    assert_int_equal(
        parse("{\"id\":\"evt_2\",\"type\":\"charge.refunded\",\"data\":{"
              "\"object\":{\"id\":\"ch_1\",\"amount\":4500,"
              "\"amount_refunded\":4500,\"currency\":\"eur\","
              "\"payment_intent\":\"pi_1\",\"metadata\":{\"booking_uid\":"
              "\"abc\"}}}}",
              &a, &id, &ev, true),
        BK_OK);
    assert_int_equal(ev.kind, BK_EXT_PAYMENT_REFUNDED);
    assert_int_equal(ev.payment.refunded_minor, 4500);

    /* Not about a booking of ours, or a type not applied: ignored. */
    assert_int_equal(parse("{\"id\":\"evt_3\",\"type\":\"checkout.session."
                           "completed\",\"data\":{\"object\":{\"id\":"
                           "\"cs_1\"}}}",
                           &a, &id, NULL, false),
                     BK_OK);
    assert_false(id.known);
    assert_int_equal(parse("{\"id\":\"evt_4\",\"type\":\"invoice.paid\","
                           "\"data\":{\"object\":{\"metadata\":{"
                           "\"booking_uid\":\"abc\"}}}}",
                           &a, &id, NULL, false),
                     BK_OK);
    assert_false(id.known);
    /* Hostile uids are no booking's. */
    assert_int_equal(parse("{\"id\":\"evt_5\",\"type\":\"checkout.session."
                           "expired\",\"data\":{\"object\":{\"id\":\"cs_1\","
                           "\"metadata\":{\"booking_uid\":\"a' OR 1=1\"}}}}",
                           &a, &id, NULL, false),
                     BK_OK);
    assert_false(id.known);
    /* No event id, or not an event's: refused. */
    assert_int_equal(
        parse("{\"type\":\"checkout.session.expired\"}", &a, &id, NULL, false),
        BK_E_INVALID);
    assert_int_equal(
        parse("{\"id\":\"cs_1\",\"type\":\"x\"}", &a, &id, NULL, false),
        BK_E_INVALID);
    /* Bad field forms in a known event: refused at normalize. */
    assert_int_equal(
        parse("{\"id\":\"evt_6\",\"type\":\"checkout.session.completed\","
              "\"data\":{\"object\":{\"id\":\"cs_1\",\"client_reference_id\":"
              "\"abc\",\"payment_status\":\"maybe\"}}}",
              &a, &id, &ev, true),
        BK_E_INVALID);
    assert_int_equal(
        parse("{\"id\":\"evt_7\",\"type\":\"checkout.session.completed\","
              "\"data\":{\"object\":{\"id\":\"cs_1\",\"client_reference_id\":"
              "\"abc\",\"amount_total\":-5}}}",
              &a, &id, &ev, true),
        BK_E_INVALID);
    assert_int_equal(
        parse("{\"id\":\"evt_8\",\"type\":\"checkout.session.completed\","
              "\"data\":{\"object\":{\"id\":\"xx_1\",\"client_reference_id\":"
              "\"abc\"}}}",
              &a, &id, &ev, true),
        BK_E_INVALID);
    bk_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_bad_signatures),
        cmocka_unit_test(test_normalize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
