/* tests/unit/ledger/test_packages.c — the credit code of a package
 * purchase (ledger/packages.h bk_credit_code, bk_credit_code_check): the
 * uid, a dash and 22 characters of a keyed HMAC; only the code made with
 * the same secret for the same uid passes, and every malformed, truncated,
 * padded or tampered form fails without reading out of bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/packages.h"

static const char UID[] = "abcdefghij0123456789";

static void secret_of(unsigned char s[32], unsigned char seed)
{
    for (int i = 0; i < 32; i++)
        s[i] = (unsigned char)(seed + i * 7);
}

static void test_round_trip(void **state)
{
    unsigned char s[32];
    char code[BK_CREDIT_CODE_MAX], uid[BK_UID_LEN + 1];

    (void)state;
    secret_of(s, 1);
    bk_credit_code(s, UID, code);
    assert_int_equal(strlen(code), BK_UID_LEN + 1 + 22);
    assert_memory_equal(code, UID, BK_UID_LEN);
    assert_int_equal(code[BK_UID_LEN], '-');
    assert_true(bk_credit_code_check(s, code, uid));
    assert_string_equal(uid, UID);
}

static void test_refused(void **state)
{
    unsigned char s[32], other[32];
    char code[BK_CREDIT_CODE_MAX], bad[2 * BK_CREDIT_CODE_MAX],
        uid[BK_UID_LEN + 1];
    char other_uid[] = "abcdefghij0123456780";

    (void)state;
    secret_of(s, 1);
    secret_of(other, 2);
    bk_credit_code(s, UID, code);
    /* Another secret, another uid. */
    assert_false(bk_credit_code_check(other, code, uid));
    memcpy(bad, code, sizeof(code));
    memcpy(bad, other_uid, BK_UID_LEN);
    assert_false(bk_credit_code_check(s, bad, uid));
    /* Each character changed in turn. */
    for (size_t i = 0; i < strlen(code); i++) {
        memcpy(bad, code, sizeof(code));
        bad[i] = bad[i] == 'x' ? 'y' : 'x';
        assert_false(bk_credit_code_check(s, bad, uid));
    }
    /* Truncated, padded, empty, NULL, a dash elsewhere, hostile bytes. */
    memcpy(bad, code, sizeof(code));
    bad[strlen(code) - 1] = '\0';
    assert_false(bk_credit_code_check(s, bad, uid));
    snprintf(bad, sizeof(bad), "%s ", code);
    assert_false(bk_credit_code_check(s, bad, uid));
    snprintf(bad, sizeof(bad), "%sA", code);
    assert_false(bk_credit_code_check(s, bad, uid));
    assert_false(bk_credit_code_check(s, "", uid));
    assert_false(bk_credit_code_check(s, NULL, uid));
    assert_false(bk_credit_code_check(s, "-", uid));
    memcpy(bad, code, sizeof(code));
    bad[3] = '-';
    assert_false(bk_credit_code_check(s, bad, uid));
    memcpy(bad, code, sizeof(code));
    bad[5] = '\xff';
    assert_false(bk_credit_code_check(s, bad, uid));
    assert_false(bk_credit_code_check(
        s, "' OR 1=1 --aaaaaaaaaaaaaaaaaaaaaaaaaaaaa", uid));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
