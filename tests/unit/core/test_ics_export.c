/* tests/unit/core/test_ics_export.c — core/ics_export.c: the calendar's
 * frame, one VEVENT per booking with its status, text escaped and folded
 * (RFC 5545 §3.1, §3.3.11) whatever the stored values hold, and the
 * buffer's cap honoured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/booking.h"
#include "core/ics_export.h"

static struct bk_booking hostile(void)
{
    struct bk_booking b;

    memset(&b, 0, sizeof(b));
    b.uid = "abcdefghijklmnopqrst";
    b.event_type_title = "Intro, call; \"x\"";
    b.client_name = "Eve \"Quote\" Mc;Name:x\x01\r";
    b.client_email = "eve@example.com";
    b.start_utc = 1767261600; /* 2026-01-01T10:00:00Z */
    b.end_utc = 1767263400;
    b.created_utc = b.updated_utc = 1767000000;
    b.status = BK_BOOKING_PENDING;
    b.notes = "line one\nline two, with \\ and ; and a very long tail that "
              "goes past seventy-five octets so that it must be folded";
    b.location = "Room\x7f 1";
    return b;
}

/* Every line ends in CRLF, is at most 75 octets and holds no control
 * character but a folding line's leading space. */
static void assert_lines_ok(const char *s)
{
    const char *p = s;

    while (*p) {
        const char *eol = strstr(p, "\r\n");
        assert_non_null(eol);
        assert_true(eol - p <= 75);
        for (const char *q = p; q < eol; q++)
            assert_true((unsigned char)*q >= 0x20 && *q != 0x7f);
        p = eol + 2;
    }
}

static void test_calendar(void **state)
{
    struct bk_booking b = hostile(), c = hostile();
    struct bk_buf out;

    (void)state;
    c.uid = "zzzzzzzzzzzzzzzzzzzz";
    c.status = BK_BOOKING_CANCELLED;
    bk_buf_init(&out, 1 << 20);
    assert_int_equal(bk_ics_export_begin(&out, "Coach\nCarter"), BK_OK);
    assert_int_equal(bk_ics_export_booking(&out, &b, "coach@example.com", 3),
                     BK_OK);
    assert_int_equal(bk_ics_export_booking(&out, &c, NULL, 0), BK_OK);
    assert_int_equal(bk_ics_export_end(&out), BK_OK);
    assert_lines_ok(out.data);
    assert_true(strncmp(out.data, "BEGIN:VCALENDAR\r\n", 17) == 0);
    assert_non_null(strstr(out.data, "VERSION:2.0\r\n"));
    assert_non_null(strstr(out.data, "X-WR-CALNAME:Coach\\nCarter\r\n"));
    assert_int_equal(strlen(strstr(out.data, "END:VCALENDAR\r\n")), 15);
    /* The invites' UID (no "@bookingd" suffix) and the current SEQUENCE. */
    assert_non_null(strstr(out.data, "UID:abcdefghijklmnopqrst\r\n"));
    assert_non_null(strstr(out.data, "SEQUENCE:3\r\n"));
    assert_non_null(strstr(out.data, "SEQUENCE:0\r\n"));
    assert_null(strstr(out.data, "@bookingd"));
    assert_null(strstr(out.data, "RSVP"));
    assert_non_null(strstr(out.data, "DTSTART:20260101T100000Z\r\n"));
    assert_non_null(strstr(out.data, "DTEND:20260101T103000Z\r\n"));
    assert_non_null(strstr(out.data, "STATUS:TENTATIVE\r\n"));
    assert_non_null(strstr(out.data, "STATUS:CANCELLED\r\n"));
    assert_non_null(strstr(out.data, "ORGANIZER:mailto:coach@example.com"));
    /* TEXT escaping, and a CN without its double quotes. */
    assert_non_null(strstr(out.data, "SUMMARY:Intro\\, call\\; \"x\" with "));
    assert_non_null(strstr(out.data, "DESCRIPTION:line one\\nline two\\, "));
    assert_non_null(strstr(out.data, "with Eve \"Quote\" Mc\\;Name:x  \r\n"));
    assert_non_null(strstr(out.data, "ATTENDEE;CN=\"Eve 'Quote' Mc;Name:x  \":"
                                     "mailto:eve@example.com\r\n"));
    /* One ORGANIZER: the second booking had none. */
    assert_null(strstr(strstr(out.data, "ORGANIZER") + 1, "ORGANIZER"));
    bk_buf_release(&out);
}

static void test_cap(void **state)
{
    struct bk_booking b = hostile();
    struct bk_buf out;
    size_t len;

    (void)state;
    bk_buf_init(&out, 300);
    assert_int_equal(bk_ics_export_begin(&out, NULL), BK_OK);
    len = out.len;
    assert_int_equal(bk_ics_export_booking(&out, &b, NULL, 0), BK_E_TOO_LARGE);
    assert_int_equal(out.len, len);
    bk_buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_cap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
