/* tests/unit/webhooks/test_webhook_fields.c — the checks and readers the
 * webhook providers share (webhooks/fields.h): the timestamp window's edges and
 * message, and the field readers on wrong types, lengths and bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "webhooks/fields.h"

static void test_time_window(void **state)
{
    struct bk_errbuf err;
    const int64_t now = 1796198400;

    (void)state;
    assert_int_equal(bk_webhook_check_time("X-Sig", now, now, 180, NULL),
                     BK_OK);
    assert_int_equal(bk_webhook_check_time("X-Sig", now - 180, now, 180, NULL),
                     BK_OK);
    assert_int_equal(bk_webhook_check_time("X-Sig", now + 180, now, 180, NULL),
                     BK_OK);
    bk_errbuf_clear(&err);
    assert_int_equal(bk_webhook_check_time("X-Sig", now - 181, now, 180, &err),
                     BK_E_UNAUTHORIZED);
    assert_string_equal(err.msg, "the X-Sig timestamp is more than 180 s from "
                                 "this server's clock (a replay, or a clock "
                                 "out of sync)");
    assert_int_equal(bk_webhook_check_time("X-Sig", now + 181, now, 180, NULL),
                     BK_E_UNAUTHORIZED);
    assert_int_equal(bk_webhook_check_time("X-Sig", 0, now, 300, NULL),
                     BK_E_UNAUTHORIZED);
    assert_int_equal(
        bk_webhook_check_time("X-Sig", INT64_MIN / 2, now, 300, NULL),
        BK_E_UNAUTHORIZED);
}

static void test_readers(void **state)
{
    json_t *o =
        json_pack("{s:s, s:i, s:n, s:s, s:s, s:s}", "a", "hello", "n", 3, "z",
                  "long", "0123456789", "e", "", "bad", "x\x01y");
    struct bk_arena arena;

    (void)state;
    bk_arena_init(&arena);
    assert_string_equal(bk_webhook_str(o, "a", 5), "hello");
    assert_null(bk_webhook_str(o, "a", 4));  /* too long */
    assert_null(bk_webhook_str(o, "n", 10)); /* not a string */
    assert_null(bk_webhook_str(o, "z", 10)); /* null */
    assert_null(bk_webhook_str(o, "missing", 10));
    assert_null(bk_webhook_str(NULL, "a", 10));
    assert_string_equal(bk_webhook_str(o, "e", 10), "");
    assert_null(bk_webhook_copy(&arena, o, "e", 10));   /* empty */
    assert_null(bk_webhook_copy(&arena, o, "bad", 10)); /* a control */
    assert_string_equal(bk_webhook_copy(&arena, o, "a", 10), "hello");
    assert_true(bk_webhook_event_ok("invitee.created", 64));
    assert_false(bk_webhook_event_ok("Invitee.created", 64));
    assert_false(bk_webhook_event_ok("", 64));
    assert_false(bk_webhook_event_ok(NULL, 64));
    assert_false(bk_webhook_event_ok("meeting.ended", 5));
    assert_false(bk_webhook_event_ok("a b", 64));
    assert_true(bk_webhook_token_ok("https://api.calendly.com/x", 64, NULL));
    assert_false(bk_webhook_token_ok("a b", 64, NULL));
    assert_false(bk_webhook_token_ok("caf\xc3\xa9", 64, NULL));
    assert_false(bk_webhook_token_ok("a:b", 64, ":"));
    assert_true(bk_webhook_token_ok("a/b+c==", 64, ":"));
    assert_false(bk_webhook_token_ok("abcdef", 5, NULL));
    assert_false(bk_webhook_token_ok("", 5, NULL));
    bk_arena_release(&arena);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_window),
        cmocka_unit_test(test_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
