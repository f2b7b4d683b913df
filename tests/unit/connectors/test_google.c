/* tests/unit/connectors/test_google.c — the Google event id of a booking
 * (deterministic, base32hex, 5..1024 characters), the sealed tokens' JSON
 * read back and refused when malformed, and the query encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "connectors/google.h"

static void test_event_id(void **state)
{
    struct bk_arena a;
    const char *x, *y, *z;
    (void)state;

    bk_arena_init(&a);
    x = bk_google_event_id("abc234", &a);
    y = bk_google_event_id("abc234", &a);
    z = bk_google_event_id("abc235", &a);
    assert_string_equal(x, y);
    assert_string_not_equal(x, z);
    assert_int_equal(strlen(x), 64);
    /* base32hex: a-v and 0-9 only. */
    assert_int_equal(strspn(x, "0123456789abcdefghijklmnopqrstuv"), 64);
    assert_int_equal(strlen(bk_google_event_id("", &a)), 64);
    bk_arena_release(&a);
}

static void test_tokens(void **state)
{
    struct bk_arena a;
    struct bk_google_tokens t = {"ya29.x", "1//r", 1234}, back;
    struct bk_errbuf err;
    const char *text;
    (void)state;

    bk_arena_init(&a);
    text = bk_google_tokens_dump(&t, &a);
    assert_non_null(text);
    assert_int_equal(bk_google_tokens_parse(text, &a, &back, &err), BK_OK);
    assert_string_equal(back.access_token, "ya29.x");
    assert_string_equal(back.refresh_token, "1//r");
    assert_int_equal(back.expires_ms, 1234);
    assert_int_equal(bk_google_tokens_parse("", &a, &back, &err),
                     BK_E_MALFORMED);
    assert_int_equal(
        bk_google_tokens_parse("{\"access_token\": 1}", &a, &back, &err),
        BK_E_MALFORMED);
    assert_int_equal(bk_google_tokens_parse(NULL, &a, &back, &err),
                     BK_E_MALFORMED);
    /* The message never repeats the text. */
    assert_null(strstr(err.msg, "ya29"));
    bk_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_id),
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
