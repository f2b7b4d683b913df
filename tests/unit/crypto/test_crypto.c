/* tests/unit/crypto/test_crypto.c — known-answer tests (FIPS 180-4 SHA-256,
 * RFC 4231 HMAC-SHA256, RFC 4648 base64) and the random helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/str.h"
#include "crypto/crypto.h"

static void hex(const unsigned char *p, size_t n, char *out)
{
    bk_hex_encode(p, n, out);
}

static void test_sha256(void **state)
{
    unsigned char h[BK_SHA256_LEN];
    char x[65];
    (void)state;

    bk_sha256("abc", 3, h);
    hex(h, 32, x);
    assert_string_equal(
        x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    bk_sha256("", 0, h);
    hex(h, 32, x);
    assert_string_equal(
        x, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_hmac_rfc4231(void **state)
{
    unsigned char key[20], mac[BK_SHA256_LEN], big[131];
    char x[65];
    struct bk_iov one = {"Hi There", 8};
    struct bk_iov parts[3] = {
        {"what do ya", 10}, {" want ", 6}, {"for nothing?", 12}};
    struct bk_iov big_msg = {"Test Using Larger Than Block-Size Key - "
                             "Hash Key First",
                             54};
    (void)state;

    /* Test case 1. */
    memset(key, 0x0b, sizeof(key));
    bk_hmac_sha256(key, 20, &one, 1, mac);
    hex(mac, 32, x);
    assert_string_equal(
        x, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* Test case 2, the message fed in three parts. */
    bk_hmac_sha256("Jefe", 4, parts, 3, mac);
    hex(mac, 32, x);
    assert_string_equal(
        x, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* Test case 6: a key longer than the block. */
    memset(big, 0xaa, sizeof(big));
    bk_hmac_sha256(big, sizeof(big), &big_msg, 1, mac);
    hex(mac, 32, x);
    assert_string_equal(
        x, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_ct_equal(void **state)
{
    (void)state;
    assert_true(bk_ct_equal("abcd", "abcd", 4));
    assert_false(bk_ct_equal("abcd", "abce", 4));
    assert_true(bk_ct_equal("", "", 0));
}

static void test_base64(void **state)
{
    char out[64];
    unsigned char dec[64];
    size_t n;
    (void)state;

    /* RFC 4648 §10 vectors, unpadded url alphabet. */
    assert_int_equal(
        bk_base64url_encode((const unsigned char *)"foobar", 6, out), 8);
    assert_string_equal(out, "Zm9vYmFy");
    bk_base64url_encode((const unsigned char *)"fo", 2, out);
    assert_string_equal(out, "Zm8");
    bk_base64url_encode((const unsigned char *)"\xfb\xff", 2, out);
    assert_string_equal(out, "-_8");
    assert_int_equal(bk_base64_decode("Zm9vYg==", true, dec, sizeof(dec), &n),
                     BK_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(dec, "foob", 4);
    assert_int_equal(bk_base64_decode("-_8", false, dec, sizeof(dec), &n),
                     BK_OK);
    assert_memory_equal(dec, "\xfb\xff", 2);
    /* Standard alphabet only when asked for. */
    assert_int_equal(bk_base64_decode("+/8", false, dec, sizeof(dec), &n),
                     BK_E_MALFORMED);
    assert_int_equal(bk_base64_decode("+/8", true, dec, sizeof(dec), &n),
                     BK_OK);
    assert_int_equal(bk_base64_decode("Z", true, dec, sizeof(dec), &n),
                     BK_E_MALFORMED);
    assert_int_equal(bk_base64_decode("Zm9v!", true, dec, sizeof(dec), &n),
                     BK_E_MALFORMED);
    assert_int_equal(bk_base64_decode("Zm9vYmFy", true, dec, 3, &n),
                     BK_E_TOO_LARGE);
}

/* The manage token the API checks and the emails carry: one formula, its
 * value fixed here (computed independently with Python's hmac). */
static void test_manage_token(void **state)
{
    unsigned char secret[32];
    char out[48];

    (void)state;
    for (int i = 0; i < 32; i++)
        secret[i] = (unsigned char)i;
    bk_manage_token(secret, "BK7Q2UID", out);
    assert_string_equal(out, "VHIXzpMWfjj-QCXtqDw4WCEp8ry3akWKWh6ZWuUOvYY");
}

static void test_random_token(void **state)
{
    char a[41], b[41];
    (void)state;

    bk_random_token(a, 40);
    bk_random_token(b, 40);
    assert_int_equal(strlen(a), 40);
    assert_string_not_equal(a, b);
    for (size_t i = 0; i < 40; i++)
        assert_true((a[i] >= 'a' && a[i] <= 'z') ||
                    (a[i] >= '2' && a[i] <= '7'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_random_token),
        cmocka_unit_test(test_manage_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
