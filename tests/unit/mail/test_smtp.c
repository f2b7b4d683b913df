/* tests/unit/mail/test_smtp.c — mail/smtp.c without a server: RFC 2047
 * encoded words (plain ASCII kept, UTF-8 split at character boundaries,
 * control characters dropped so nothing can start a header line), the
 * RFC 5322 date, and the BOOKINGD_SMTP_URL check; mail/mail.c's
 * BOOKINGD_MAIL_FROM parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail/mail.h"
#include "mail/smtp.h"

static void test_encode_words(void **state)
{
    struct bk_arena a;
    const char *s;

    (void)state;
    bk_arena_init(&a);
    assert_string_equal(bk_smtp_encode_words("Ada Lovelace", &a),
                        "Ada Lovelace");
    /* "Zoë Ångström" */
    s = bk_smtp_encode_words("Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m", &a);
    assert_string_equal(s, "=?UTF-8?B?Wm/DqyDDhW5nc3Ryw7Zt?=");
    /* Quotes, angle brackets and line breaks: one encoded word, no CR/LF. */
    s = bk_smtp_encode_words("Eve\r\nBcc: evil@example.net", &a);
    assert_null(strpbrk(s, "\r\n"));
    assert_string_equal(s, "=?UTF-8?B?RXZlQmNjOiBldmlsQGV4YW1wbGUubmV0?=");
    s = bk_smtp_encode_words("\"x\" <y@z>", &a);
    assert_null(strchr(s, '<'));
    assert_null(strchr(s, '"'));
    /* Long text: words of at most 75 characters, split between
     * characters (2-byte "é" never cut). */
    {
        char long_text[301];
        for (int i = 0; i < 150; i++)
            memcpy(long_text + 2 * i, "\xc3\xa9", 2);
        long_text[300] = '\0';
        s = bk_smtp_encode_words(long_text, &a);
        for (const char *w = s; *w;) {
            size_t n = strcspn(w, " ");
            assert_true(n <= 75);
            assert_memory_equal(w, "=?UTF-8?B?", 10);
            w += n;
            while (*w == ' ')
                w++;
        }
    }
    bk_arena_release(&a);
}

static void test_date(void **state)
{
    char out[40];

    (void)state;
    bk_smtp_date(1796115600, out); /* 2026-12-01T09:00:00Z, a Tuesday */
    assert_string_equal(out, "Tue, 01 Dec 2026 09:00:00 +0000");
    bk_smtp_date(0, out);
    assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 +0000");
}

static void test_url_check(void **state)
{
    struct bk_errbuf err;

    (void)state;
    assert_int_equal(bk_smtp_url_check("smtp://u:p@mail.example.com:587", &err),
                     BK_OK);
    assert_int_equal(bk_smtp_url_check("smtps://u:p@mail.example.com", &err),
                     BK_OK);
    assert_int_equal(bk_smtp_url_check("smtp+insecure://127.0.0.1:2525", &err),
                     BK_OK);
    assert_int_equal(bk_smtp_url_check("http://x", &err), BK_E_CONFIG);
    assert_int_equal(bk_smtp_url_check("smtp://u:secret@", &err), BK_E_CONFIG);
    assert_null(strstr(err.msg, "secret"));
    assert_int_equal(bk_smtp_url_check("smtp://h\r\n:25", &err), BK_E_CONFIG);
}

static void test_parse_from(void **state)
{
    struct bk_arena a;
    struct bk_errbuf err;
    const char *name, *addr;

    (void)state;
    bk_arena_init(&a);
    assert_int_equal(bk_mail_parse_from("\"Studio Ada\" <b@example.com>", &a,
                                        &name, &addr, &err),
                     BK_OK);
    assert_string_equal(name, "Studio Ada");
    assert_string_equal(addr, "b@example.com");
    assert_int_equal(
        bk_mail_parse_from("Studio <b@example.com>", &a, &name, &addr, &err),
        BK_OK);
    assert_string_equal(name, "Studio");
    assert_int_equal(
        bk_mail_parse_from("b@example.com", &a, &name, &addr, &err), BK_OK);
    assert_null(name);
    assert_int_equal(
        bk_mail_parse_from("Studio <b@example.com", &a, &name, &addr, &err),
        BK_E_CONFIG);
    assert_int_equal(bk_mail_parse_from("nobody", &a, &name, &addr, &err),
                     BK_E_CONFIG);
    bk_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_words),
        cmocka_unit_test(test_date),
        cmocka_unit_test(test_url_check),
        cmocka_unit_test(test_parse_from),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
