/* tests/unit/base/test_buf.c — base/buf.c: bounded growth. An append past
 * the cap fails with BK_E_TOO_LARGE and leaves the buffer as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"

static void test_cap(void **state)
{
    struct bk_buf b;

    (void)state;
    bk_buf_init(&b, 10);
    assert_int_equal(bk_buf_appends(&b, "hello"), BK_OK);
    assert_int_equal(bk_buf_append(&b, "world", 5), BK_OK);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "helloworld");
    /* One byte over: refused, unchanged. */
    assert_int_equal(bk_buf_append(&b, "!", 1), BK_E_TOO_LARGE);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "helloworld");
    assert_int_equal(bk_buf_appendf(&b, "%d", 7), BK_E_TOO_LARGE);
    assert_string_equal(b.data, "helloworld");
    /* An empty append at the cap is fine. */
    assert_int_equal(bk_buf_append(&b, "", 0), BK_OK);
    assert_int_equal(bk_buf_appendf(&b, "%s", ""), BK_OK);
    /* Sizes that would overflow are refused, not wrapped. */
    assert_int_equal(bk_buf_append(&b, "x", SIZE_MAX), BK_E_TOO_LARGE);
    assert_int_equal(bk_buf_append(&b, "x", SIZE_MAX - 5), BK_E_TOO_LARGE);
    assert_int_equal(b.len, 10);
    bk_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(bk_buf_appendf(&b, "%s-%03d", "id", 7), BK_OK);
    assert_string_equal(b.data, "id-007");
    /* A formatted append that does not fit leaves the old contents. */
    assert_int_equal(bk_buf_appendf(&b, "%s", "12345"), BK_E_TOO_LARGE);
    assert_string_equal(b.data, "id-007");
    assert_int_equal(b.len, 6);
    bk_buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_zero_cap(void **state)
{
    struct bk_buf b;
    char *s;
    size_t len = 99;

    (void)state;
    bk_buf_init(&b, 0);
    assert_int_equal(bk_buf_appends(&b, "a"), BK_E_TOO_LARGE);
    assert_int_equal(b.len, 0);
    /* Detaching an empty buffer hands out an owned "". */
    s = bk_buf_detach(&b, &len);
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
    bk_buf_release(&b);
}

static void test_growth_and_detach(void **state)
{
    struct bk_buf b;
    char chunk[1000];
    char *s;
    size_t len;

    (void)state;
    bk_buf_init(&b, 1000 * 1000);
    for (int i = 0; i < 1000; i++) {
        memset(chunk, 'a' + i % 26, sizeof(chunk));
        assert_int_equal(bk_buf_append(&b, chunk, sizeof(chunk)), BK_OK);
    }
    assert_int_equal(b.len, 1000 * 1000);
    assert_int_equal(b.data[b.len], '\0');
    for (int i = 0; i < 1000; i++)
        assert_int_equal(b.data[i * 1000 + 999], 'a' + i % 26);
    assert_int_equal(bk_buf_append(&b, "x", 1), BK_E_TOO_LARGE);
    s = bk_buf_detach(&b, &len);
    assert_int_equal(len, 1000 * 1000);
    assert_int_equal(strlen(s), 1000 * 1000);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
    /* The buffer is reusable after a detach, with the same cap. */
    assert_int_equal(bk_buf_appends(&b, "again"), BK_OK);
    assert_string_equal(b.data, "again");
    bk_buf_release(&b);
    bk_buf_release(&b); /* twice is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_zero_cap),
        cmocka_unit_test(test_growth_and_detach),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
