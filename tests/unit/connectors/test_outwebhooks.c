/* tests/unit/connectors/test_outwebhooks.c — the Standard Webhooks
 * signature, against the specification's example (the secret, id,
 * timestamp and payload of the reference libraries' tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "connectors/outwebhooks.h"

static void test_sign_known_answer(void **state)
{
    const char *body = "{\"test\": 2432232314}";
    char sig[64];
    struct bk_errbuf err;
    (void)state;

    assert_int_equal(
        bk_outwebhooks_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                            "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                            strlen(body), sig, &err),
        BK_OK);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_sign_refuses_bad_secrets(void **state)
{
    char sig[64];
    struct bk_errbuf err;
    (void)state;

    assert_int_equal(bk_outwebhooks_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                         "msg_x", 1, "{}", 2, sig, &err),
                     BK_E_INVALID);
    assert_int_equal(
        bk_outwebhooks_sign("whsec_!!!", "msg_x", 1, "{}", 2, sig, &err),
        BK_E_INVALID);
    assert_int_equal(bk_outwebhooks_sign(NULL, "msg_x", 1, "{}", 2, sig, &err),
                     BK_E_INVALID);
}

/* An endpoint's secret: plaintext as it is, sealed opened with the key and
 * the endpoint's own row only. */
static void test_secret_at_rest(void **state)
{
    static const char plain[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    struct bk_secret_key key, other;
    struct bk_errbuf err;
    struct bk_arena a;
    struct bk_wh_endpoint ep = {.public_id = "ep_one", .secret = plain};
    const char *got = NULL;

    (void)state;
    bk_arena_init(&a);
    bk_errbuf_clear(&err);
    assert_int_equal(
        bk_secret_key_parse(
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &key, &err),
        BK_OK);
    assert_int_equal(
        bk_secret_key_parse(
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", &other, &err),
        BK_OK);
    /* Legacy plaintext, with or without a key. */
    assert_int_equal(bk_outwebhooks_secret(NULL, &ep, &a, &got, &err), BK_OK);
    assert_string_equal(got, plain);
    assert_int_equal(bk_outwebhooks_secret(&key, &ep, &a, &got, &err), BK_OK);
    assert_string_equal(got, plain);
    /* Sealed for its row. */
    ep.secret = bk_secret_seal(&key, "webhook_endpoint:ep_one:secret", plain,
                               strlen(plain), &a);
    assert_true(strncmp(ep.secret, "bk1:", 4) == 0);
    assert_null(strstr(ep.secret, plain + 6));
    assert_int_equal(bk_outwebhooks_secret(&key, &ep, &a, &got, &err), BK_OK);
    assert_string_equal(got, plain);
    /* No key, another key, another row: refused, the secret never shown. */
    assert_int_equal(bk_outwebhooks_secret(NULL, &ep, &a, &got, &err),
                     BK_E_CONFIG);
    assert_null(got);
    assert_non_null(strstr(err.msg, "BOOKINGD_SECRET_KEY"));
    assert_int_equal(bk_outwebhooks_secret(&other, &ep, &a, &got, &err),
                     BK_E_CONFIG);
    ep.public_id = "ep_two";
    assert_int_equal(bk_outwebhooks_secret(&key, &ep, &a, &got, &err),
                     BK_E_UNAUTHORIZED);
    assert_null(strstr(err.msg, plain + 6));
    bk_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_known_answer),
        cmocka_unit_test(test_sign_refuses_bad_secrets),
        cmocka_unit_test(test_secret_at_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
