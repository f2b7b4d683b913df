/* tests/unit/base/test_str.c — base/str.c: UTF-8 validation, slugs,
 * integer parsing, percent-encoding and the small copy/compare helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/str.h"

struct utf8_case {
    const char *s;
    size_t max;
    bool newlines;
    bool valid;
    const char *why;
};

static void test_utf8(void **state)
{
    static const struct utf8_case cases[] = {
        {"", 10, false, true, "empty"},
        {"hello", 10, false, true, "ASCII"},
        {"h\xc3\xa9llo", 10, false, true, "2-byte e-acute"},
        {"\xe2\x82\xac", 10, false, true, "3-byte euro sign"},
        {"\xf0\x9f\x98\x80", 10, false, true, "4-byte emoji"},
        {"\xef\xbf\xbd", 10, false, true, "U+FFFD"},
        {"\xf4\x8f\xbf\xbf", 10, false, true, "U+10FFFF, the last"},
        {"\xc2\xa0", 10, false, true, "U+00A0, just past C1"},
        {"\xed\x9f\xbf", 10, false, true, "U+D7FF, before surrogates"},
        {"\xee\x80\x80", 10, false, true, "U+E000, after surrogates"},
        /* Overlong forms. */
        {"\xc0\xaf", 10, false, false, "overlong '/' in 2 bytes"},
        {"\xc1\xbf", 10, false, false, "overlong in 2 bytes"},
        {"\xe0\x80\xaf", 10, false, false, "overlong '/' in 3 bytes"},
        {"\xe0\x9f\xbf", 10, false, false, "overlong U+07FF in 3 bytes"},
        {"\xf0\x80\x80\xaf", 10, false, false, "overlong '/' in 4 bytes"},
        {"\xf0\x8f\xbf\xbf", 10, false, false, "overlong U+FFFF in 4 bytes"},
        {"\xc0\x80", 10, false, false, "overlong NUL"},
        /* Surrogates and out of range. */
        {"\xed\xa0\x80", 10, false, false, "U+D800"},
        {"\xed\xbf\xbf", 10, false, false, "U+DFFF"},
        {"\xed\xa0\xbd\xed\xb8\x80", 10, false, false, "CESU-8 pair"},
        {"\xf4\x90\x80\x80", 10, false, false, "U+110000"},
        {"\xf5\x80\x80\x80", 10, false, false, "lead F5"},
        {"\xf8\x88\x80\x80\x80", 10, false, false, "5-byte form"},
        {"\xfe", 10, false, false, "FE"},
        {"\xff", 10, false, false, "FF"},
        /* Broken sequences. */
        {"\x80", 10, false, false, "lone continuation"},
        {"a\xbf"
         "b",
         10, false, false, "continuation inside ASCII"},
        {"\xc3", 10, false, false, "truncated 2-byte at the end"},
        {"\xc3"
         "a",
         10, false, false, "2-byte lead then ASCII"},
        {"\xe2\x82", 10, false, false, "truncated 3-byte"},
        {"\xf0\x9f\x98", 10, false, false, "truncated 4-byte"},
        {"\xe2\x28\xa1", 10, false, false, "bad second byte"},
        /* Controls. */
        {"a\x01"
         "b",
         10, true, false, "C0 control"},
        {"a\x1b[31m", 10, true, false, "escape"},
        {"a\x7f", 10, true, false, "DEL"},
        {"a\xc2\x85"
         "b",
         10, true, false, "C1 NEL"},
        {"a\xc2\x9f", 10, true, false, "C1 APC"},
        {"a\nb", 10, false, false, "newline not allowed"},
        {"a\nb", 10, true, true, "newline allowed"},
        {"a\r\n\tb", 10, true, true, "CR LF TAB allowed"},
        {"a\tb", 10, false, false, "tab not allowed"},
        /* Size in bytes. */
        {"abcd", 4, false, true, "exactly max"},
        {"abcde", 4, false, false, "one over max"},
        {"\xc3\xa9", 2, false, true, "2 bytes, max 2"},
        {"\xc3\xa9", 1, false, false, "2 bytes, max 1"},
        {"a\xf0\x9f\x98\x80", 4, false, false, "5 bytes, max 4"},
        {"", 0, false, true, "empty, max 0"},
        {"a", 0, false, false, "one byte, max 0"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (bk_utf8_valid(cases[i].s, cases[i].max, cases[i].newlines) !=
            cases[i].valid)
            fail_msg("case %zu (%s): want %s", i, cases[i].why,
                     cases[i].valid ? "valid" : "invalid");
}

static void test_slug(void **state)
{
    char s[80];

    (void)state;
    assert_true(bk_slug_valid("a", 63));
    assert_true(bk_slug_valid("intro-call", 63));
    assert_true(bk_slug_valid("a1-b2", 63));
    assert_true(bk_slug_valid("30min", 63));
    assert_true(bk_slug_valid("a--b", 63));
    assert_false(bk_slug_valid(NULL, 63));
    assert_false(bk_slug_valid("", 63));
    assert_false(bk_slug_valid("-a", 63));
    assert_false(bk_slug_valid("a-", 63));
    assert_false(bk_slug_valid("-", 63));
    assert_false(bk_slug_valid("Intro", 63));
    assert_false(bk_slug_valid("a_b", 63));
    assert_false(bk_slug_valid("a b", 63));
    assert_false(bk_slug_valid("a.b", 63));
    assert_false(bk_slug_valid("a/b", 63));
    assert_false(bk_slug_valid("..", 63));
    assert_false(bk_slug_valid("caf\xc3\xa9", 63));
    memset(s, 'a', sizeof(s));
    s[63] = '\0';
    assert_true(bk_slug_valid(s, 63));
    s[63] = 'a';
    s[64] = '\0';
    assert_false(bk_slug_valid(s, 63));
}

static void test_phone(void **state)
{
    (void)state;
    assert_true(bk_phone_valid("+49 30 1234567", 40));
    assert_true(bk_phone_valid("(030) 123-45.67", 40));
    assert_true(bk_phone_valid("112", 40));
    assert_false(bk_phone_valid(NULL, 40));
    assert_false(bk_phone_valid("", 40));
    assert_false(bk_phone_valid("12", 40));    /* 2 digits */
    assert_false(bk_phone_valid("1+234", 40)); /* '+' not first */
    assert_false(bk_phone_valid("++1234", 40));
    assert_true(bk_phone_valid("030/123  456", 40)); /* as people type */
    assert_false(bk_phone_valid("123_456", 40));     /* not an allowed sign */
    assert_false(bk_phone_valid("123\t456", 40));    /* a tab */
    assert_false(bk_phone_valid("123 ext 4", 40));   /* letters */
    assert_false(bk_phone_valid("123\n456", 40));    /* control */
    assert_false(
        bk_phone_valid("\xd9\xa1\xd9\xa2\xd9\xa3", 40)); /* Arabic digits */
    assert_false(bk_phone_valid("123456789012345678901", 40)); /* 21 digits */
    assert_false(bk_phone_valid("1234", 3));                   /* over max */
}

static void test_parse_i64(void **state)
{
    static const char *const malformed[] = {
        "",    "+1",  " 1",  "1 ",  "1a",  "0x10", "-",     "--1",
        "1.0", "1e3", "\t1", "1\n", "- 1", "١",    "1_000",
    };
    int64_t v = 77;

    (void)state;
    assert_int_equal(bk_parse_i64("0", INT64_MIN, INT64_MAX, &v), BK_OK);
    assert_int_equal(v, 0);
    assert_int_equal(bk_parse_i64("-0", INT64_MIN, INT64_MAX, &v), BK_OK);
    assert_int_equal(v, 0);
    assert_int_equal(bk_parse_i64("42", INT64_MIN, INT64_MAX, &v), BK_OK);
    assert_int_equal(v, 42);
    assert_int_equal(bk_parse_i64("-42", INT64_MIN, INT64_MAX, &v), BK_OK);
    assert_int_equal(v, -42);
    assert_int_equal(bk_parse_i64("007", 0, 10, &v), BK_OK);
    assert_int_equal(v, 7);
    assert_int_equal(
        bk_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), BK_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(
        bk_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), BK_OK);
    assert_true(v == INT64_MIN);
    v = 77;
    assert_int_equal(
        bk_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v),
        BK_E_INVALID);
    assert_int_equal(
        bk_parse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v),
        BK_E_INVALID);
    assert_int_equal(
        bk_parse_i64("99999999999999999999999", INT64_MIN, INT64_MAX, &v),
        BK_E_INVALID);
    /* Bounds are inclusive. */
    assert_int_equal(bk_parse_i64("1", 1, 10, &v), BK_OK);
    assert_int_equal(bk_parse_i64("10", 1, 10, &v), BK_OK);
    assert_int_equal(v, 10);
    v = 77;
    assert_int_equal(bk_parse_i64("0", 1, 10, &v), BK_E_INVALID);
    assert_int_equal(bk_parse_i64("11", 1, 10, &v), BK_E_INVALID);
    assert_int_equal(bk_parse_i64("-1", 0, 10, &v), BK_E_INVALID);
    assert_int_equal(bk_parse_i64(NULL, 0, 10, &v), BK_E_MALFORMED);
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
        if (bk_parse_i64(malformed[i], INT64_MIN, INT64_MAX, &v) !=
            BK_E_MALFORMED)
            fail_msg("\"%s\" should be malformed", malformed[i]);
    assert_int_equal(v, 77); /* untouched by failures */
}

static void test_small_helpers(void **state)
{
    char buf[8], low[] = "MiXeD-123 \xc3\x89";
    const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff};
    char hex[9];

    (void)state;
    assert_int_equal(bk_strlcpy(buf, "abc", sizeof(buf)), 3);
    assert_string_equal(buf, "abc");
    assert_int_equal(bk_strlcpy(buf, "abcdefghij", sizeof(buf)), 10);
    assert_string_equal(buf, "abcdefg");
    assert_int_equal(bk_strlcpy(buf, "xyz", 1), 3);
    assert_string_equal(buf, "");
    buf[0] = 'Q';
    assert_int_equal(bk_strlcpy(buf, "xyz", 0), 3);
    assert_int_equal(buf[0], 'Q');

    assert_string_equal(bk_str_ascii_lower(low), "mixed-123 \xc3\x89");
    assert_true(bk_str_ieq("Bearer", "bEARER"));
    assert_true(bk_str_ieq("", ""));
    assert_false(bk_str_ieq("abc", "abcd"));
    assert_false(bk_str_ieq("abcd", "abc"));
    assert_false(bk_str_ieq("a[", "a{"));

    assert_true(bk_ct_memeq("abcd", "abcd", 4));
    assert_false(bk_ct_memeq("abcd", "abce", 4));
    assert_false(bk_ct_memeq("xbcd", "abcd", 4));
    assert_true(bk_ct_memeq("a", "b", 0));

    bk_hex_encode(bytes, sizeof(bytes), hex);
    assert_string_equal(hex, "000fa5ff");
    bk_hex_encode(bytes, 0, hex);
    assert_string_equal(hex, "");
}

static void test_qenc(void **state)
{
    static const struct {
        const char *in, *out, *why;
    } cases[] = {
        {"", "", "empty"},
        {"AZaz09-._~", "AZaz09-._~", "RFC 3986 unreserved kept"},
        {"a b/c@d.e~_-", "a%20b%2Fc%40d.e~_-", "space, slash, at"},
        {":/?#[]@!$&'()*+,;=",
         "%3A%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B"
         "%2C%3B%3D",
         "every reserved character"},
        {"%41", "%2541", "a percent sign is encoded, not passed"},
        {"x\"<>\\^`{|}", "x%22%3C%3E%5C%5E%60%7B%7C%7D", "other ASCII"},
        {"caf\xc3\xa9", "caf%C3%A9", "UTF-8 byte by byte, uppercase hex"},
        {"\xf0\x9f\x98\x80", "%F0%9F%98%80", "4-byte emoji"},
        {"\xff\xfe\x80", "%FF%FE%80", "invalid UTF-8 still encoded"},
        {"\x01\t\n\r\x7f", "%01%09%0A%0D%7F", "controls"},
        {"a=1&b=2", "a%3D1%26b%3D2", "no injected query pairs"},
        {"https://x.example/cb?a=b", "https%3A%2F%2Fx.example%2Fcb%3Fa%3Db",
         "a redirect URI as one value"},
    };
    struct bk_arena a;
    char *big;
    const char *out;
    size_t n = 64 * 1024;
    (void)state;

    bk_arena_init(&a);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        out = bk_str_qenc(&a, cases[i].in);
        assert_non_null(out);
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("%s: got %s, want %s", cases[i].why, out, cases[i].out);
    }
    assert_null(bk_str_qenc(&a, NULL));
    /* The largest growth (3 bytes each) of a large value, in full. */
    big = bk_arena_alloc(&a, n + 1);
    memset(big, ' ', n);
    out = bk_str_qenc(&a, big);
    assert_int_equal(strlen(out), 3 * n);
    assert_memory_equal(out, "%20%20", 6);
    assert_memory_equal(out + 3 * n - 3, "%20", 3);
    memset(big, 'a', n);
    assert_int_equal(strlen(bk_str_qenc(&a, big)), n);
    bk_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),          cmocka_unit_test(test_slug),
        cmocka_unit_test(test_phone),         cmocka_unit_test(test_parse_i64),
        cmocka_unit_test(test_small_helpers), cmocka_unit_test(test_qenc),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
