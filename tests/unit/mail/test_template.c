/* tests/unit/mail/test_template.c — mail/template.c: variables, sections
 * kept or dropped, HTML escaping, the embedded templates all load, and
 * templates with unknown variables or unclosed or nested sections are
 * refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mail/template.h"

static void test_render(void **state)
{
    struct bk_arena a;
    struct bk_mail_var vars[] = {
        {"name", "Ada <&>"}, {"where", ""}, {"notes", "hi"}};

    (void)state;
    bk_arena_init(&a);
    assert_string_equal(
        bk_mail_template_render("Hello {{name}}!{{#where}} at {{where}}"
                                "{{/where}}{{#notes}} ({{notes}}){{/notes}}",
                                vars, 3, false, &a),
        "Hello Ada <&>! (hi)");
    assert_string_equal(
        bk_mail_template_render("<p>{{name}}</p>{{title}}", vars, 3, true, &a),
        "<p>Ada &lt;&amp;&gt;</p>");
    bk_arena_release(&a);
}

static void test_load(void **state)
{
    struct bk_arena a;
    struct bk_mail_templates t;
    struct bk_errbuf err;
    char dir[] = "/tmp/bk-template-XXXXXX", path[64];
    FILE *f;

    (void)state;
    bk_arena_init(&a);
    assert_int_equal(bk_mail_templates_load(NULL, &a, &t, &err), BK_OK);
    assert_int_equal(t.n, 16);
    assert_non_null(bk_mail_template_get(&t, "attendee_reminder.html"));
    assert_non_null(
        bk_mail_template_get(&t, "attendee_payment_incomplete.txt"));
    assert_non_null(bk_mail_template_get(&t, "attendee_confirmed.txt"));
    assert_non_null(bk_mail_template_get(&t, "host_cancelled.html"));
    assert_null(bk_mail_template_get(&t, "nope.txt"));

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/host_new.txt", dir);
    f = fopen(path, "w");
    fputs("Custom {{client}}", f);
    fclose(f);
    assert_int_equal(bk_mail_templates_load(dir, &a, &t, &err), BK_OK);
    assert_string_equal(bk_mail_template_get(&t, "host_new.txt"),
                        "Custom {{client}}");
    static const char *const bad[] = {
        "{{nosuch}}", "{{#notes}}x", "{{#notes}}{{#where}}{{/where}}{{/notes}}",
        "{{/notes}}", "{{name"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        assert_int_equal(bk_mail_templates_load(dir, &a, &t, &err),
                         BK_E_CONFIG);
        assert_non_null(strstr(err.msg, "host_new.txt"));
    }
    f = fopen(path, "w");
    for (int i = 0; i < BK_MAIL_TEMPLATE_MAX / 8 + 1; i++)
        fputs("xxxxxxxx", f);
    fclose(f);
    assert_int_equal(bk_mail_templates_load(dir, &a, &t, &err), BK_E_CONFIG);
    assert_non_null(strstr(err.msg, "larger than"));
    unlink(path);
    rmdir(dir);
    bk_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_load),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
