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
    /* "Zg" is "f"; "Zh" has the same bits plus a set unused one: a second
     * text for the same bytes, refused (a sealed value's last character
     * changed must not open). */
    assert_int_equal(bk_base64_decode("Zg", true, dec, sizeof(dec), &n), BK_OK);
    assert_int_equal(bk_base64_decode("Zh", true, dec, sizeof(dec), &n),
                     BK_E_MALFORMED);
    assert_int_equal(bk_base64_decode("Zh==", true, dec, sizeof(dec), &n),
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
    bk_keyed_token(secret, BK_TOKEN_MANAGE, "BK7Q2UID", out);
    assert_string_equal(out, "VHIXzpMWfjj-QCXtqDw4WCEp8ry3akWKWh6ZWuUOvYY");
    /* The feed's and the CSRF token keep the values they had before they
     * shared this function (feed URLs already handed out stay valid). */
    bk_keyed_token(secret, BK_TOKEN_CALENDAR_FEED, "coach", out);
    assert_string_equal(out, "V9thGUZqA7zKWuIHLJrm70oXFpNGVl9hkvvryi00P8E");
    bk_keyed_token(secret, BK_TOKEN_ADMIN_CSRF, "sess-token", out);
    assert_string_equal(out, "Ck8bezSAz3sHQEZHE6qjMuxwNgyPNWGaQuFsdoddWtk");
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

static void test_secret_seal(void **state)
{
    struct bk_secret_key k, k2;
    struct bk_errbuf err;
    struct bk_arena a;
    char *sealed, *plain = NULL, *bad;
    size_t n = 0, len;
    (void)state;

    bk_arena_init(&a);
    /* Malformed keys: empty, not base64, 31 and 33 bytes. */
    assert_int_equal(bk_secret_key_parse("", &k, &err), BK_E_CONFIG);
    assert_int_equal(bk_secret_key_parse("not base64!", &k, &err), BK_E_CONFIG);
    assert_int_equal(
        bk_secret_key_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", &k,
                            &err),
        BK_E_CONFIG);
    assert_int_equal(
        bk_secret_key_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", &k,
                            &err),
        BK_E_CONFIG);
    assert_null(strstr(err.msg, "AAEC"));
    assert_int_equal(
        bk_secret_key_parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", &k,
                            &err),
        BK_OK);
    assert_int_equal(strlen(k.id), 8);
    assert_int_equal(
        bk_secret_key_parse("AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", &k2,
                            &err),
        BK_OK);
    assert_string_not_equal(k.id, k2.id);

    sealed = bk_secret_seal(&k, "row:1", "hunter2", 7, &a);
    assert_int_equal(strncmp(sealed, "bk1:", 4), 0);
    assert_null(strstr(sealed, "hunter2"));
    /* A fresh nonce per value: the same plain text seals differently. */
    assert_string_not_equal(sealed,
                            bk_secret_seal(&k, "row:1", "hunter2", 7, &a));
    assert_int_equal(bk_secret_open(&k, "row:1", sealed, &a, &plain, &n, &err),
                     BK_OK);
    assert_int_equal(n, 7);
    assert_string_equal(plain, "hunter2");

    /* Another row's associated data. */
    assert_int_equal(bk_secret_open(&k, "row:2", sealed, &a, &plain, &n, &err),
                     BK_E_UNAUTHORIZED);
    assert_null(plain);
    /* Another key (its id differs), and the right id with another key. */
    assert_int_equal(bk_secret_open(&k2, "row:1", sealed, &a, &plain, &n, &err),
                     BK_E_CONFIG);
    /* Rotation: k2 with k as its previous key opens what k sealed, and
     * names both ids when neither sealed a value. */
    {
        struct bk_secret_key k3;
        char id[9];
        assert_true(bk_secret_key_id_of(sealed, id));
        assert_string_equal(id, k.id);
        assert_false(bk_secret_key_id_of("bk1:short", id));
        k2.previous = &k;
        assert_int_equal(
            bk_secret_open(&k2, "row:1", sealed, &a, &plain, &n, &err), BK_OK);
        assert_string_equal(plain, "hunter2");
        assert_int_equal(
            bk_secret_open(&k2, "row:2", sealed, &a, &plain, &n, &err),
            BK_E_UNAUTHORIZED);
        assert_int_equal(
            bk_secret_key_parse(
                "AgECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", &k3, &err),
            BK_OK);
        k3.previous = &k2;
        k2.previous = NULL;
        assert_int_equal(
            bk_secret_open(&k3, "row:1", sealed, &a, &plain, &n, &err),
            BK_E_CONFIG);
        assert_non_null(strstr(err.msg, k.id));
        assert_non_null(strstr(err.msg, k2.id));
        assert_non_null(strstr(err.msg, k3.id));
    }
    memcpy(k2.id, k.id, sizeof(k.id));
    assert_int_equal(bk_secret_open(&k2, "row:1", sealed, &a, &plain, &n, &err),
                     BK_E_UNAUTHORIZED);
    /* Tampered: each character of the payload changed in turn. */
    len = strlen(sealed);
    bad = bk_arena_strdup(&a, sealed);
    for (size_t i = 13; i < len; i++) {
        char was = bad[i];
        bad[i] = was == 'A' ? 'B' : 'A';
        enum bk_err e = bk_secret_open(&k, "row:1", bad, &a, &plain, &n, &err);
        assert_true(e == BK_E_UNAUTHORIZED || e == BK_E_MALFORMED);
        bad[i] = was;
    }
    /* Truncated at every length. */
    for (size_t cut = 0; cut < len; cut++) {
        bad[cut] = '\0';
        assert_int_not_equal(
            bk_secret_open(&k, "row:1", bad, &a, &plain, &n, &err), BK_OK);
        memcpy(bad, sealed, len + 1);
    }
    assert_int_equal(
        bk_secret_open(&k, "row:1", "garbage", &a, &plain, &n, &err),
        BK_E_MALFORMED);
    assert_int_equal(bk_secret_open(&k, "row:1", NULL, &a, &plain, &n, &err),
                     BK_E_MALFORMED);
    /* Empty plain text round-trips. */
    sealed = bk_secret_seal(&k, "", "", 0, &a);
    assert_int_equal(bk_secret_open(&k, "", sealed, &a, &plain, &n, &err),
                     BK_OK);
    assert_int_equal(n, 0);
    bk_arena_release(&a);
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
        cmocka_unit_test(test_secret_seal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
