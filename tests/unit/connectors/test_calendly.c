/* tests/unit/connectors/test_calendly.c — the scheduled event's uuid that
 * the cancellation is sent for, taken from an invitee URI, and what is
 * refused (it becomes a path segment of the request). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "connectors/calendly.h"

static void test_event_uuid(void **state)
{
    char out[65];
    (void)state;

    assert_true(bk_calendly_event_uuid(
        "https://api.calendly.com/scheduled_events/GBGB-DCAA/invitees/AAAA",
        out, sizeof(out)));
    assert_string_equal(out, "GBGB-DCAA");
    /* Not an invitee URI, an empty or hostile uuid, one too long. */
    assert_false(bk_calendly_event_uuid(NULL, out, sizeof(out)));
    assert_false(bk_calendly_event_uuid("", out, sizeof(out)));
    assert_false(bk_calendly_event_uuid(
        "https://api.calendly.com/scheduled_events/GBGB", out, sizeof(out)));
    assert_false(bk_calendly_event_uuid(
        "https://api.calendly.com/scheduled_events//invitees/A", out,
        sizeof(out)));
    assert_false(bk_calendly_event_uuid(
        "https://x/scheduled_events/../invitees/A", out, sizeof(out)));
    assert_false(bk_calendly_event_uuid(
        "https://x/scheduled_events/a%2Fb/invitees/A", out, sizeof(out)));
    assert_false(bk_calendly_event_uuid(
        "https://x/scheduled_events/a?b/invitees/A", out, sizeof(out)));
    assert_false(bk_calendly_event_uuid(
        "https://x/scheduled_events/"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "/invitees/A",
        out, sizeof(out)));
    /* The buffer bounds the copy. */
    assert_false(bk_calendly_event_uuid(
        "https://x/scheduled_events/ABCDEFGH/invitees/A", out, 8));
    assert_true(bk_calendly_event_uuid(
        "https://x/scheduled_events/ABCDEFGH/invitees/A", out, 9));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_uuid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
