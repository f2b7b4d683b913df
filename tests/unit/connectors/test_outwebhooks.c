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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_known_answer),
        cmocka_unit_test(test_sign_refuses_bad_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
