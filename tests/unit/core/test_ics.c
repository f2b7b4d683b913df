/* tests/unit/core/test_ics.c — core/ics.c: the VEVENT carries what an
 * invite needs (METHOD, UID, SEQUENCE, UTC times, ORGANIZER, ATTENDEE with
 * RSVP, STATUS), and names or texts with quotes and line breaks cannot add
 * a property or a parameter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ics.h"

/* 2026-12-01T09:00:00Z */
#define T0 1796115600

static struct bk_ics_event sample(void)
{
    struct bk_ics_event ev = {.uid = "abc123",
                              .sequence = 2,
                              .method = "REQUEST",
                              .start_utc = T0,
                              .end_utc = T0 + 1800,
                              .stamp_utc = T0 - 86400,
                              .summary = "Intro call with Ada",
                              .description = "Manage: https://x/manage/abc",
                              .location = "Room 1",
                              .url = "https://meet.example/abc",
                              .organizer_name = "Studio Ada",
                              .organizer_email = "host@example.com",
                              .attendee_name =
                                  "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m",
                              .attendee_email = "zoe@example.com",
                              .rsvp = true};
    return ev;
}

static void test_request(void **state)
{
    struct bk_arena a;
    struct bk_ics_event ev = sample();
    char *s;

    (void)state;
    bk_arena_init(&a);
    s = bk_ics_build(&ev, &a);
    assert_non_null(strstr(s, "BEGIN:VCALENDAR\r\n"));
    assert_non_null(strstr(s, "\r\nMETHOD:REQUEST\r\n"));
    assert_non_null(strstr(s, "\r\nUID:abc123\r\n"));
    assert_non_null(strstr(s, "\r\nSEQUENCE:2\r\n"));
    assert_non_null(strstr(s, "\r\nDTSTART:20261201T090000Z\r\n"));
    assert_non_null(strstr(s, "\r\nDTEND:20261201T093000Z\r\n"));
    assert_non_null(strstr(s, "\r\nSTATUS:CONFIRMED\r\n"));
    assert_non_null(
        strstr(s, "ORGANIZER;CN=Studio Ada:mailto:host@example.com"));
    assert_non_null(strstr(s, "RSVP=TRUE"));
    assert_non_null(strstr(s, "mailto:zoe@example.com"));
    assert_non_null(strstr(s, "\r\nLOCATION:Room 1\r\n"));
    assert_non_null(strstr(s, "\r\nURL:https://meet.example/abc\r\n"));
    bk_arena_release(&a);
}

static void test_cancel(void **state)
{
    struct bk_arena a;
    struct bk_ics_event ev = sample();
    char *s;

    (void)state;
    bk_arena_init(&a);
    ev.method = "CANCEL";
    ev.status = BK_ICS_CANCELLED;
    s = bk_ics_build(&ev, &a);
    assert_non_null(strstr(s, "\r\nMETHOD:CANCEL\r\n"));
    assert_non_null(strstr(s, "\r\nSTATUS:CANCELLED\r\n"));
    ev.method = NULL;
    s = bk_ics_build(&ev, &a);
    assert_null(strstr(s, "METHOD:"));
    bk_arena_release(&a);
}

static void test_injection(void **state)
{
    struct bk_arena a;
    struct bk_ics_event ev = sample();
    char *s;

    (void)state;
    bk_arena_init(&a);
    ev.attendee_name = "Eve\":mailto:evil@x\r\nATTENDEE:mailto:b@x";
    ev.summary = "Call\r\nATTENDEE:mailto:c@x";
    ev.description = "line1\nline2;x,y";
    s = bk_ics_build(&ev, &a);
    assert_null(strstr(s, "\nATTENDEE:mailto:b@x"));
    assert_null(strstr(s, "\nATTENDEE:mailto:c@x"));
    assert_null(strstr(s, "\"Eve\":"));
    assert_null(strstr(s, "mailto:evil@x\r"));
    assert_non_null(strstr(s, "line1\\nline2\\;x\\,y"));
    bk_arena_release(&a);
}

/* The VEVENT alone is the one bk_ics_build frames; a published object
 * (no rsvp) lists its parties without asking for an answer, and a party
 * without an email is left out. */
static void test_vevent(void **state)
{
    struct bk_arena a;
    struct bk_ics_event ev = sample();
    char *s, *cal;

    (void)state;
    bk_arena_init(&a);
    ev.rsvp = false;
    ev.status = BK_ICS_TENTATIVE;
    ev.created_utc = T0 - 7200;
    ev.modified_utc = T0 - 3600;
    ev.organizer_email = NULL;
    s = bk_ics_vevent(&ev, &a);
    assert_true(strncmp(s, "BEGIN:VEVENT\r\n", 14) == 0);
    assert_int_equal(strlen(strstr(s, "END:VEVENT\r\n")), 12);
    assert_null(strstr(s, "VCALENDAR"));
    assert_null(strstr(s, "RSVP"));
    assert_null(strstr(s, "ORGANIZER"));
    assert_non_null(strstr(s, "\r\nUID:abc123\r\n"));
    assert_non_null(strstr(s, "\r\nSTATUS:TENTATIVE\r\n"));
    assert_non_null(strstr(s, "\r\nCREATED:20261201T070000Z\r\n"));
    assert_non_null(strstr(s, "\r\nLAST-MODIFIED:20261201T080000Z\r\n"));
    assert_non_null(strstr(s, "ATTENDEE;CN="));
    cal = bk_ics_build(&ev, &a);
    assert_non_null(strstr(cal, s));
    ev.attendee_email = "";
    assert_null(strstr(bk_ics_vevent(&ev, &a), "ATTENDEE"));
    bk_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_injection),
        cmocka_unit_test(test_vevent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
