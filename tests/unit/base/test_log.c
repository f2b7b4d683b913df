/* tests/unit/base/test_log.c — base/log.c: text lines keep their form with
 * control bytes replaced; JSON lines are one object each, with any bytes
 * (quotes, backslashes, controls, invalid UTF-8, overlong input) escaped so
 * that the line stays valid JSON. Standard error is captured in a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"

static char captured[1 << 16];

/* Runs fn with standard error going to a temporary file; leaves what it
 * wrote in `captured`. */
static void capture(void (*fn)(void))
{
    FILE *f = tmpfile();
    int saved = dup(2);
    size_t n;

    assert_non_null(f);
    fflush(stderr);
    dup2(fileno(f), 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    n = fread(captured, 1, sizeof(captured) - 1, f);
    captured[n] = '\0';
    fclose(f);
}

static void log_hostile(void)
{
    char big[5000];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    bk_log_info("quote \" backslash \\ newline \n tab \t bell \x07 "
                "bad \xff\xc3( ok \xc3\xa9 cut \xe2\x82");
    bk_log_debug("not written at info");
    bk_log_request(&(struct bk_log_request){
        .method = "GET",
        .path = "/x\"\\\n\xff",
        .route = NULL,
        .request_id = "r-1",
        .status = 404,
        .duration_ms = 3,
    });
    bk_log_warn("%s", big);
}

static void test_text(void **state)
{
    (void)state;
    bk_log_set_format(BK_LOG_TEXT);
    capture(log_hostile);
    /* Three lines; the newline inside the message became '?'. */
    assert_non_null(strstr(captured, " info quote \" backslash \\ newline ? "
                                     "tab \t bell ? bad "));
    assert_non_null(strstr(captured, " info http GET /x\"\\?"));
    assert_non_null(strstr(captured, " 404 3ms id=r-1\n"));
    assert_null(strstr(captured, "not written"));
}

static void test_json(void **state)
{
    (void)state;
    bk_log_set_format(BK_LOG_JSON);
    capture(log_hostile);
    bk_log_set_format(BK_LOG_TEXT);
    assert_true(strncmp(captured, "{\"time\":\"", 9) == 0);
    assert_non_null(strstr(captured,
                           "\"level\":\"info\",\"message\":\"quote \\\" "
                           "backslash \\\\ newline \\n tab \\t bell \\u0007 "
                           "bad \\ufffd\\ufffd( ok \xc3\xa9 cut "
                           "\\ufffd\\ufffd\"}\n"));
    assert_non_null(strstr(captured, "\"request_id\":\"r-1\",\"method\":"
                                     "\"GET\",\"path\":\"/x\\\"\\\\\\n"
                                     "\\ufffd\",\"route\":null,\"status\":404,"
                                     "\"duration_ms\":3}\n"));
    /* The long message is cut at 2047 bytes, and the line is whole. */
    assert_non_null(strstr(captured, "\"level\":\"warn\""));
    assert_true(strlen(captured) > 2047);
    assert_non_null(strstr(captured, "xxx\"}\n"));
    /* Exactly three lines. */
    {
        int lines = 0;
        for (const char *p = captured; *p; p++)
            lines += *p == '\n';
        assert_int_equal(lines, 3);
    }
}

static void test_parse(void **state)
{
    enum bk_log_format f = BK_LOG_TEXT;

    (void)state;
    assert_int_equal(bk_log_format_parse("json", &f), BK_OK);
    assert_int_equal(f, BK_LOG_JSON);
    assert_int_equal(bk_log_format_parse("text", &f), BK_OK);
    assert_int_equal(f, BK_LOG_TEXT);
    assert_int_equal(bk_log_format_parse("JSON", &f), BK_E_INVALID);
    assert_int_equal(bk_log_format_parse("", &f), BK_E_INVALID);
    assert_int_equal(bk_log_format_parse("json ", &f), BK_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
