/* tests/unit/core/test_availability.c — core/availability.c against
 * DESIGN.md "Availability rules" and the interpretations in
 * docs/availability.md. Every expected slot below was worked out by hand
 * from the rules (the comment above each row shows the working); none was
 * copied from the engine. The golden case files in tests/golden/availability
 * hold the same kind of cases for the CLI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "avail_case.h"

struct golden {
    const char *name;
    const char *zone;
    const char *weekly;
    const char *overrides;
    struct bk_slot_rules rules;
    const char *bookings;
    const char *busy;
    const char *now;
    const char *out_zone; /* NULL: the schedule's */
    const char *from, *to;
    /* Space-separated slot starts "START" (the end is start + duration) or
     * "START/END" where the end is worth spelling out. The offsets must be
     * the output zone's at that instant. */
    const char *expect;
};

#define DUR(n) .duration_min = (n)

/* clang-format off */
static const struct golden cases[] = {
    /* ---- America/New_York, spring forward 2026-03-08 (02:00 EST -> 03:00
     * EDT at 07:00Z). */
    {"ny spring: an ordinary window on the switch day",
     "America/New_York", "sun 09:00-12:00", NULL, {DUR(60)}, NULL, NULL,
     "2026-03-01T00:00:00Z", NULL, "2026-03-08", "2026-03-08",
     /* 09:00 EDT = 13:00Z; hourly until 12:00. */
     "2026-03-08T09:00:00-04:00 2026-03-08T10:00:00-04:00 "
     "2026-03-08T11:00:00-04:00"},
    {"ny spring: a window containing the switch",
     "America/New_York", "sun 00:00-06:00", NULL, {DUR(60)}, NULL, NULL,
     "2026-03-01T00:00:00Z", NULL, "2026-03-08", "2026-03-08",
     /* 00:00 EST = 05:00Z .. 06:00 EDT = 10:00Z: five hours, hourly in
      * UTC; 01:00 EST + 1 h is 03:00 EDT. */
     "2026-03-08T00:00:00-05:00/2026-03-08T01:00:00-05:00 "
     "2026-03-08T01:00:00-05:00/2026-03-08T03:00:00-04:00 "
     "2026-03-08T03:00:00-04:00 2026-03-08T04:00:00-04:00 "
     "2026-03-08T05:00:00-04:00"},
    {"ny spring: a rule that starts inside the gap",
     "America/New_York", "sun 02:30-05:00", NULL, {DUR(30)}, NULL, NULL,
     "2026-03-01T00:00:00Z", NULL, "2026-03-08", "2026-03-15",
     /* 03-08: 02:30 read with EST = 07:30Z = 03:30 EDT, so 03:30..05:00.
      * 03-15: an ordinary Sunday, 02:30..05:00 EDT. */
     "2026-03-08T03:30:00-04:00 2026-03-08T04:00:00-04:00 "
     "2026-03-08T04:30:00-04:00 "
     "2026-03-15T02:30:00-04:00 2026-03-15T03:00:00-04:00 "
     "2026-03-15T03:30:00-04:00 2026-03-15T04:00:00-04:00 "
     "2026-03-15T04:30:00-04:00"},
    {"ny spring: a rule that ends inside the gap",
     "America/New_York", "sun 00:00-02:30", NULL, {DUR(60)}, NULL, NULL,
     "2026-03-01T00:00:00Z", NULL, "2026-03-08", "2026-03-08",
     /* 05:00Z .. 02:30 read with EST = 07:30Z: starts 05:00Z, 06:00Z;
      * 07:00Z would end 08:00Z > 07:30Z. */
     "2026-03-08T00:00:00-05:00 "
     "2026-03-08T01:00:00-05:00/2026-03-08T03:00:00-04:00"},
    {"ny spring: ranges in and around the gap",
     "America/New_York", "sun 02:00-02:30, sun 02:30-03:15, sun 09:00-09:30",
     NULL, {DUR(30)}, NULL, NULL, "2026-03-01T00:00:00Z", NULL, "2026-03-08",
     "2026-03-08",
     /* In local time 02:00-02:30 and 02:30-03:15 join into 02:00-03:15:
      * 02:00 read with EST = 07:00Z, 03:15 EDT = 07:15Z: one 15-minute
      * range, no 30-minute slot. 09:00-09:30 EDT is ordinary. */
     "2026-03-08T09:00:00-04:00"},
    {"ny spring: a range wholly inside the gap",
     "America/New_York", "sun 02:00-02:30", NULL, {DUR(30)}, NULL, NULL,
     "2026-03-01T00:00:00Z", NULL, "2026-03-08", "2026-03-08",
     /* 07:00Z-07:30Z = 03:00-03:30 EDT. */
     "2026-03-08T03:00:00-04:00"},
    {"ny spring: a range from inside the gap to just after it is empty",
     "America/New_York", "sun 02:30-03:15", NULL, {DUR(15)}, NULL, NULL,
     "2026-03-01T00:00:00Z", NULL, "2026-03-08", "2026-03-15",
     /* 03-08: 07:30Z to 07:15Z, empty. 03-15: 02:30, 02:45, 03:00 EDT. */
     "2026-03-15T02:30:00-04:00 2026-03-15T02:45:00-04:00 "
     "2026-03-15T03:00:00-04:00"},
    /* ---- America/New_York, fall back 2026-11-01 (02:00 EDT -> 01:00 EST
     * at 06:00Z). */
    {"ny fall: an ordinary window on the switch day",
     "America/New_York", "sun 09:00-11:00", NULL, {DUR(60)}, NULL, NULL,
     "2026-10-15T00:00:00Z", NULL, "2026-11-01", "2026-11-01",
     "2026-11-01T09:00:00-05:00 2026-11-01T10:00:00-05:00"},
    {"ny fall: a window containing the switch",
     "America/New_York", "sun 00:00-04:00", NULL, {DUR(60)}, NULL, NULL,
     "2026-10-15T00:00:00Z", NULL, "2026-11-01", "2026-11-01",
     /* 00:00 EDT = 04:00Z .. 04:00 EST = 09:00Z: five hours; 01:00 comes
      * twice. */
     "2026-11-01T00:00:00-04:00/2026-11-01T01:00:00-04:00 "
     "2026-11-01T01:00:00-04:00/2026-11-01T01:00:00-05:00 "
     "2026-11-01T01:00:00-05:00/2026-11-01T02:00:00-05:00 "
     "2026-11-01T02:00:00-05:00 2026-11-01T03:00:00-05:00"},
    {"ny fall: a rule that starts inside the repeated hour",
     "America/New_York", "sun 01:30-03:00", NULL, {DUR(30)}, NULL, NULL,
     "2026-10-15T00:00:00Z", NULL, "2026-11-01", "2026-11-01",
     /* 01:30 first occurrence = 05:30Z; 03:00 EST = 08:00Z; 30-min grid
      * aligned to the wall clock in either offset. */
     "2026-11-01T01:30:00-04:00/2026-11-01T01:00:00-05:00 "
     "2026-11-01T01:00:00-05:00 2026-11-01T01:30:00-05:00 "
     "2026-11-01T02:00:00-05:00 2026-11-01T02:30:00-05:00"},
    /* ---- Europe/Berlin, spring forward 2026-03-29 (02:00 CET -> 03:00 CEST
     * at 01:00Z). */
    {"berlin spring: a window containing the switch and an ordinary one",
     "Europe/Berlin", "sun 01:00-05:00, sun 10:00-12:00", NULL, {DUR(60)},
     NULL, NULL, "2026-03-20T00:00:00Z", NULL, "2026-03-29", "2026-03-29",
     /* 01:00 CET = 00:00Z .. 05:00 CEST = 03:00Z: three hours. */
     "2026-03-29T01:00:00+01:00/2026-03-29T03:00:00+02:00 "
     "2026-03-29T03:00:00+02:00 2026-03-29T04:00:00+02:00 "
     "2026-03-29T10:00:00+02:00 2026-03-29T11:00:00+02:00"},
    {"berlin spring: a rule that starts inside the gap (45-min grid)",
     "Europe/Berlin", "sun 02:15-04:00", NULL, {DUR(45)}, NULL, NULL,
     "2026-03-20T00:00:00Z", NULL, "2026-03-29", "2026-04-05",
     /* 03-29: 02:15 read with CET = 01:15Z = 03:15 CEST .. 04:00 CEST:
      * one 45-minute slot. 04-05: 02:15, 03:00 (03:45 would end 04:30). */
     "2026-03-29T03:15:00+02:00/2026-03-29T04:00:00+02:00 "
     "2026-04-05T02:15:00+02:00 2026-04-05T03:00:00+02:00"},
    /* ---- Europe/Berlin, fall back 2026-10-25 (03:00 CEST -> 02:00 CET at
     * 01:00Z). */
    {"berlin fall: a window containing the switch and an ordinary one",
     "Europe/Berlin", "sun 01:00-04:00, sun 10:00-11:00", NULL,
     {DUR(30), .interval_min = 60}, NULL, NULL, "2026-10-15T00:00:00Z",
     NULL, "2026-10-25", "2026-10-25",
     /* 01:00 CEST = 23:00Z (Oct 24) .. 04:00 CET = 03:00Z: hourly starts
      * 23:00Z 00:00Z 01:00Z 02:00Z; the first belongs to Oct 25 local. */
     "2026-10-25T01:00:00+02:00 2026-10-25T02:00:00+02:00 "
     "2026-10-25T02:00:00+01:00 2026-10-25T03:00:00+01:00 "
     "2026-10-25T10:00:00+01:00"},
    {"berlin fall: a rule that starts inside the repeated hour",
     "Europe/Berlin", "sun 02:30-04:00", NULL, {DUR(30)}, NULL, NULL,
     "2026-10-15T00:00:00Z", NULL, "2026-10-25", "2026-10-25",
     /* 02:30 first occurrence = 02:30 CEST = 00:30Z; 04:00 CET = 03:00Z:
      * half-hourly 00:30Z .. 02:30Z. */
     "2026-10-25T02:30:00+02:00 2026-10-25T02:00:00+01:00 "
     "2026-10-25T02:30:00+01:00 2026-10-25T03:00:00+01:00 "
     "2026-10-25T03:30:00+01:00"},
    {"lord howe: a 30-minute switch keeps the hourly grid on the hour",
     "Australia/Lord_Howe", "sun 00:00-06:00", NULL, {DUR(60)}, NULL, NULL,
     "2026-09-20T00:00:00Z", NULL, "2026-10-04", "2026-10-04",
     /* 2026-10-04 02:00 +10:30 -> 02:30 +11:00 (15:30Z on Oct 3). The range
      * is 00:00 +10:30 = 13:30Z to 06:00 +11:00 = 19:00Z. 00:00 and 01:00;
      * 01:00 + 1 h is 02:30 +11:00, off the hour, so the next start is
      * 03:00 +11:00; then 04:00 and 05:00. */
     "2026-10-04T00:00:00+10:30 2026-10-04T01:00:00+10:30 "
     "2026-10-04T03:00:00+11:00 2026-10-04T04:00:00+11:00 "
     "2026-10-04T05:00:00+11:00"},
    /* ---- Half- and quarter-hour zones. */
    {"kolkata: +05:30, grid on the local hour after a busy block",
     "Asia/Kolkata", "mon 09:00-12:00", NULL, {DUR(60)}, NULL,
     /* 10:30-10:40 IST */
     "2026-03-09T05:00:00Z 2026-03-09T05:10:00Z",
     "2026-03-01T00:00:00Z", NULL, "2026-03-09", "2026-03-09",
     /* 09:00 fits before; after 10:40 the next local hour is 11:00. */
     "2026-03-09T09:00:00+05:30 2026-03-09T11:00:00+05:30"},
    {"kolkata schedule shown in UTC: dates are the output zone's",
     "Asia/Kolkata", "mon 00:00-02:00", NULL, {DUR(60)}, NULL, NULL,
     "2026-03-01T00:00:00Z", "UTC", "2026-03-08", "2026-03-08",
     /* Monday 03-09 00:00 IST = Sunday 03-08 18:30Z. */
     "2026-03-08T18:30:00+00:00 2026-03-08T19:30:00+00:00"},
    {"kathmandu: +05:45, 30-min grid on the local clock",
     "Asia/Kathmandu", "mon 09:00-12:00", NULL, {DUR(30)}, NULL,
     /* 09:45-10:05 NPT */
     "2026-03-09T04:00:00Z 2026-03-09T04:20:00Z",
     "2026-03-01T00:00:00Z", NULL, "2026-03-09", "2026-03-09",
     /* 09:00 ends before 09:45; after 10:05 the grid restarts at 10:30. */
     "2026-03-09T09:00:00+05:45 2026-03-09T10:30:00+05:45 "
     "2026-03-09T11:00:00+05:45 2026-03-09T11:30:00+05:45"},
    /* ---- Date overrides. */
    {"override: other hours on one date (two ranges)",
     "Europe/Berlin", "mon 09:00-11:00, tue 09:00-11:00",
     "2026-06-15 13:00-15:00, 2026-06-15 16:00-17:00", {DUR(60)}, NULL, NULL,
     "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-16",
     "2026-06-15T13:00:00+02:00 2026-06-15T14:00:00+02:00 "
     "2026-06-15T16:00:00+02:00 "
     "2026-06-16T09:00:00+02:00 2026-06-16T10:00:00+02:00"},
    {"override: unavailable date, and hours on a day without weekly hours",
     "Europe/Berlin", "mon 09:00-11:00, tue 09:00-11:00",
     "2026-06-16 off, 2026-06-20 13:00-14:00", {DUR(60)}, NULL, NULL,
     "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-21",
     "2026-06-15T09:00:00+02:00 2026-06-15T10:00:00+02:00 "
     "2026-06-20T13:00:00+02:00"},
    {"override: ranges touching across midnight join like weekly ones",
     "Europe/Berlin", "mon 22:00-24:00", "2026-06-16 00:00-01:00",
     {DUR(60), .interval_min = 30}, NULL, NULL, "2026-06-01T00:00:00Z",
     NULL, "2026-06-15", "2026-06-16",
     /* One range Mon 22:00 .. Tue 01:00. */
     "2026-06-15T22:00:00+02:00 2026-06-15T22:30:00+02:00 "
     "2026-06-15T23:00:00+02:00 2026-06-15T23:30:00+02:00 "
     "2026-06-16T00:00:00+02:00"},
    /* ---- 24:00 and joining. */
    {"24:00 end joins the next day's 00:00 start: slots cross midnight",
     "Europe/Berlin", "mon 22:00-24:00, tue 00:00-02:00", NULL,
     {DUR(90), .interval_min = 30}, NULL, NULL, "2026-06-01T00:00:00Z",
     NULL, "2026-06-15", "2026-06-16",
     /* One range 22:00..02:00; starts every 30 min up to 00:30. */
     "2026-06-15T22:00:00+02:00 2026-06-15T22:30:00+02:00 "
     "2026-06-15T23:00:00+02:00/2026-06-16T00:30:00+02:00 "
     "2026-06-15T23:30:00+02:00 "
     "2026-06-16T00:00:00+02:00 2026-06-16T00:30:00+02:00"},
    {"a slot that starts on the last day and ends after midnight is in",
     "Europe/Berlin", "mon 22:00-24:00, tue 00:00-02:00", NULL,
     {DUR(90), .interval_min = 30}, NULL, NULL, "2026-06-01T00:00:00Z",
     NULL, "2026-06-15", "2026-06-15",
     "2026-06-15T22:00:00+02:00 2026-06-15T22:30:00+02:00 "
     "2026-06-15T23:00:00+02:00 2026-06-15T23:30:00+02:00"},
    {"range_start over a range joined across two midnights",
     "Europe/Berlin", "mon 22:00-24:00, tue 00:00-24:00, wed 00:00-02:00",
     NULL, {DUR(60), .interval_min = 50, .alignment = BK_ALIGN_RANGE_START},
     NULL, NULL, "2026-06-01T00:00:00Z", NULL, "2026-06-17", "2026-06-17",
     /* The grid starts Mon 22:00; Wed 00:00 is 1560 min later, so the
      * grid passes Tue 23:50 and Wed 00:40; 01:30 would end 02:30. */
     "2026-06-17T00:40:00+02:00"},
    {"clock alignment without a step (8 min) over a joined range",
     "Europe/Berlin", "mon 20:05-24:00, tue 00:00-24:00, wed 00:00-00:30",
     NULL, {DUR(8)}, NULL, NULL, "2026-06-01T00:00:00Z", NULL, "2026-06-17",
     "2026-06-17",
     /* No alignment divides 8, so the grid starts where the range does,
      * Mon 20:05 (minute 1205 = 5 mod 8), and 1440 = 0 mod 8: Wednesday's
      * starts are 5 mod 8 too. */
     "2026-06-17T00:05:00+02:00 2026-06-17T00:13:00+02:00 "
     "2026-06-17T00:21:00+02:00"},
    {"overlapping and touching weekly ranges join (range_start)",
     "Europe/Berlin", "mon 12:00-13:00, mon 10:00-12:00, mon 09:00-11:00",
     NULL, {DUR(50), .alignment = BK_ALIGN_RANGE_START}, NULL, NULL,
     "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-15",
     /* One range 09:00..13:00, every 50 min; 12:20 would end 13:10. */
     "2026-06-15T09:00:00+02:00 2026-06-15T09:50:00+02:00 "
     "2026-06-15T10:40:00+02:00 2026-06-15T11:30:00+02:00"},
    {"empty schedule", "Europe/Berlin", NULL, NULL, {DUR(30)}, NULL, NULL,
     "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-21", ""},
    /* ---- Buffers and busy time. */
    {"buffers on both sides add up; touching the widened block is allowed",
     "Europe/Berlin", "mon 09:00-13:00", NULL,
     {DUR(30), .interval_min = 10, .buffer_before_min = 10,
      .buffer_after_min = 20},
     "2026-06-15T10:00:00+02:00 2026-06-15T11:00:00+02:00 10 20 0", NULL,
     "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-15",
     /* The booking with its own buffers blocks 09:50..11:20. A start s
      * needs s+30+20 <= 09:50 (s <= 09:00) or s-10 >= 11:20 (s >= 11:30).
      * Without any one of the four buffers 09:10, 09:20 or 11:20 would
      * appear. The last slot's after-buffer reaches past 13:00. */
     "2026-06-15T09:00:00+02:00 2026-06-15T11:30:00+02:00 "
     "2026-06-15T11:40:00+02:00 2026-06-15T11:50:00+02:00 "
     "2026-06-15T12:00:00+02:00 2026-06-15T12:10:00+02:00 "
     "2026-06-15T12:20:00+02:00 2026-06-15T12:30:00+02:00"},
    {"busy blocks touching and overlapping range edges",
     "Europe/Berlin", "mon 09:00-12:00, tue 09:00-12:00", NULL, {DUR(60)},
     NULL,
     "2026-06-15T08:00:00+02:00 2026-06-15T09:00:00+02:00;"
     "2026-06-15T12:00:00+02:00 2026-06-15T13:00:00+02:00;"
     "2026-06-16T08:30:00+02:00 2026-06-16T09:10:00+02:00;"
     "2026-06-16T11:50:00+02:00 2026-06-16T12:30:00+02:00",
     "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-16",
     /* Mon: touching blocks change nothing. Tue: the grid restarts at
      * 10:00 after 09:10; 11:00 would run into 11:50. */
     "2026-06-15T09:00:00+02:00 2026-06-15T10:00:00+02:00 "
     "2026-06-15T11:00:00+02:00 2026-06-16T10:00:00+02:00"},
    {"touching busy blocks act as one; before-buffer after them",
     "Europe/Berlin", "mon 09:00-12:00", NULL,
     {DUR(30), .buffer_before_min = 10,
      .alignment = BK_ALIGN_RANGE_START},
     NULL,
     "2026-06-15T10:30:00+02:00 2026-06-15T11:00:00+02:00;"
     "2026-06-15T10:00:00+02:00 2026-06-15T10:30:00+02:00",
     "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-15",
     /* Starts <= 09:30 before the block; then >= 11:00 + 10 = 11:10. */
     "2026-06-15T09:00:00+02:00 2026-06-15T09:30:00+02:00 "
     "2026-06-15T11:10:00+02:00"},
    {"unsorted bookings and busy intervals",
     "Europe/Berlin", "mon 09:00-17:00", NULL, {DUR(60)},
     "2026-06-15T11:00:00+02:00 2026-06-15T11:30:00+02:00 0 0 0",
     "2026-06-15T15:00:00+02:00 2026-06-15T15:30:00+02:00;"
     "2026-06-15T09:30:00+02:00 2026-06-15T10:00:00+02:00;"
     "2026-06-15T12:00:00+02:00 2026-06-15T13:00:00+02:00",
     "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-15",
     /* Free: 10:00-11:00, 11:30-12:00, 13:00-15:00, 15:30-17:00. */
     "2026-06-15T10:00:00+02:00 2026-06-15T13:00:00+02:00 "
     "2026-06-15T14:00:00+02:00 2026-06-15T16:00:00+02:00"},
    {"range_start restarts exactly at a busy block's end",
     "Europe/Berlin", "mon 09:00-12:00", NULL,
     {DUR(45), .alignment = BK_ALIGN_RANGE_START}, NULL,
     "2026-06-15T09:50:00+02:00 2026-06-15T10:07:00+02:00",
     "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-15",
     "2026-06-15T09:00:00+02:00 2026-06-15T10:07:00+02:00 "
     "2026-06-15T10:52:00+02:00"},
    /* ---- Minimum notice and horizon. */
    {"notice restarts the clock grid; the before-buffer applies to it",
     "Europe/Berlin", "mon 09:00-12:00, tue 09:00-10:00", NULL,
     {DUR(30), .buffer_before_min = 25, .notice_min = 60}, NULL, NULL,
     /* 09:07 CEST */
     "2026-06-15T07:07:00Z", NULL, "2026-06-15", "2026-06-16",
     /* s - 25 >= 09:07 + 60 gives s >= 10:32: next half hour 11:00. */
     "2026-06-15T11:00:00+02:00 2026-06-15T11:30:00+02:00 "
     "2026-06-16T09:00:00+02:00 2026-06-16T09:30:00+02:00"},
    {"notice restarts the range_start grid at the next whole minute",
     "Europe/Berlin", "mon 09:00-12:00, tue 09:00-10:00", NULL,
     {DUR(40), .notice_min = 60, .alignment = BK_ALIGN_RANGE_START}, NULL,
     NULL,
     /* 09:07:30 CEST */
     "2026-06-15T07:07:30Z", NULL, "2026-06-15", "2026-06-16",
     /* Bound 10:07:30, so 10:08, 10:48; 11:28 would end 12:08. */
     "2026-06-15T10:08:00+02:00 2026-06-15T10:48:00+02:00 "
     "2026-06-16T09:00:00+02:00"},
    {"horizon cuts starts at now + horizon days",
     "Europe/Berlin",
     "mon 09:00-14:00, tue 09:00-14:00, wed 09:00-14:00, thu 09:00-14:00",
     NULL, {DUR(60), .horizon_days = 2}, NULL, NULL,
     /* 12:00 CEST Monday */
     "2026-06-15T10:00:00Z", NULL, "2026-06-15", "2026-06-18",
     /* Starts in [Mon 12:00, Wed 12:00). */
     "2026-06-15T12:00:00+02:00 2026-06-15T13:00:00+02:00 "
     "2026-06-16T09:00:00+02:00 2026-06-16T10:00:00+02:00 "
     "2026-06-16T11:00:00+02:00 2026-06-16T12:00:00+02:00 "
     "2026-06-16T13:00:00+02:00 "
     "2026-06-17T09:00:00+02:00 2026-06-17T10:00:00+02:00 "
     "2026-06-17T11:00:00+02:00"},
    /* ---- Per-day limit. */
    {"max_per_day counts same-type bookings by local start date",
     "Europe/Berlin",
     "mon 09:00-12:00, tue 09:00-12:00, wed 09:00-12:00, thu 09:00-12:00",
     NULL, {DUR(60), .max_per_day = 2},
     /* Mon: two of this type -> full. */
     "2026-06-15T09:00:00+02:00 2026-06-15T10:00:00+02:00 0 0 1;"
     "2026-06-15T11:00:00+02:00 2026-06-15T12:00:00+02:00 0 0 1;"
     /* Tue: one of this type; another starts Tue 22:30Z = Wed 00:30. */
     "2026-06-16T10:00:00+02:00 2026-06-16T11:00:00+02:00 0 0 1;"
     "2026-06-16T22:30:00Z 2026-06-16T23:30:00Z 0 0 1;"
     /* Wed: one more of this type -> full; one ending on Thursday. */
     "2026-06-17T09:00:00+02:00 2026-06-17T10:00:00+02:00 0 0 1;"
     "2026-06-17T23:30:00+02:00 2026-06-18T00:30:00+02:00 0 0 1;"
     /* Thu: another event type's booking does not count. */
     "2026-06-18T09:00:00+02:00 2026-06-18T10:00:00+02:00 0 0 0",
     NULL, "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-18",
     "2026-06-16T09:00:00+02:00 2026-06-16T11:00:00+02:00 "
     "2026-06-18T10:00:00+02:00 2026-06-18T11:00:00+02:00"},
    /* ---- Intervals and alignment. */
    {"interval 8 divides nothing: whole minutes from the range start",
     "Europe/Berlin", "mon 09:03-10:00", NULL, {DUR(8)}, NULL,
     "2026-06-15T09:20:00+02:00 2026-06-15T09:25:00+02:00",
     "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-15",
     /* 09:03, 09:11 (ends 09:19), then from 09:25 every 8 to 09:49. */
     "2026-06-15T09:03:00+02:00 2026-06-15T09:11:00+02:00 "
     "2026-06-15T09:25:00+02:00 2026-06-15T09:33:00+02:00 "
     "2026-06-15T09:41:00+02:00 2026-06-15T09:49:00+02:00"},
    {"interval 40, clock: aligned to 20 minutes",
     "Europe/Berlin", "mon 09:10-12:00", NULL, {DUR(40)}, NULL, NULL,
     "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-15",
     "2026-06-15T09:20:00+02:00 2026-06-15T10:00:00+02:00 "
     "2026-06-15T10:40:00+02:00 2026-06-15T11:20:00+02:00"},
    {"interval 40, range_start",
     "Europe/Berlin", "mon 09:10-12:00", NULL,
     {DUR(40), .alignment = BK_ALIGN_RANGE_START}, NULL, NULL,
     "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-15",
     "2026-06-15T09:10:00+02:00 2026-06-15T09:50:00+02:00 "
     "2026-06-15T10:30:00+02:00 2026-06-15T11:10:00+02:00"},
    {"interval 45 for a 30-min slot: aligned to 15 minutes",
     "Europe/Berlin", "mon 09:05-11:15", NULL,
     {DUR(30), .interval_min = 45}, NULL, NULL, "2026-06-01T00:00:00Z",
     NULL, "2026-06-15", "2026-06-15",
     "2026-06-15T09:15:00+02:00 2026-06-15T10:00:00+02:00 "
     "2026-06-15T10:45:00+02:00"},
    {"interval 90: aligned to 30 minutes",
     "Europe/Berlin", "mon 09:10-14:00", NULL, {DUR(90)}, NULL, NULL,
     "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-15",
     "2026-06-15T09:30:00+02:00 2026-06-15T11:00:00+02:00 "
     "2026-06-15T12:30:00+02:00"},
    /* ---- Window. */
    {"window in another zone: a Berlin schedule seen from New York",
     "Europe/Berlin", "mon 16:00-24:00, tue 00:00-08:00", NULL, {DUR(120)},
     NULL, NULL, "2026-06-01T00:00:00Z", "America/New_York", "2026-06-15",
     "2026-06-15",
     /* Berlin 16:00..08:00 every 2 h = New York 10:00..02:00; the New York
      * Monday holds 10:00..22:00; 00:00 (Berlin 06:00) is Tuesday. */
     "2026-06-15T10:00:00-04:00 2026-06-15T12:00:00-04:00 "
     "2026-06-15T14:00:00-04:00 2026-06-15T16:00:00-04:00 "
     "2026-06-15T18:00:00-04:00 2026-06-15T20:00:00-04:00 "
     "2026-06-15T22:00:00-04:00"},
};
/* clang-format on */

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

struct expected_slot {
    int64_t start, end;
};

/* Parses the expect string; checks each offset against the output zone. */
static size_t parse_expect(const struct golden *g, const struct bk_tz *out,
                           struct expected_slot *v, size_t cap)
{
    const char *p = g->expect;
    size_t n = 0;

    while (*p) {
        char tok[80], a[40], b[40];
        int len = 0;
        int32_t off;

        if (sscanf(p, " %79s%n", tok, &len) != 1)
            break;
        p += len;
        if (n == cap)
            fail_msg("%s: too many expected slots", g->name);
        if (sscanf(tok, "%39[^/]/%39s", a, b) == 2) {
            v[n].start = ac_instant(a);
            v[n].end = ac_instant(b);
            assert_int_equal(bk_rfc3339_parse(b, NULL, &off), BK_OK);
            if (off != bk_tz_offset_at(out, v[n].end))
                fail_msg("%s: %s: wrong offset for the output zone", g->name,
                         b);
        } else {
            v[n].start = ac_instant(tok);
            v[n].end = v[n].start + (int64_t)g->rules.duration_min * 60;
            bk_strlcpy(a, tok, sizeof(a));
        }
        assert_int_equal(bk_rfc3339_parse(a, NULL, &off), BK_OK);
        if (off != bk_tz_offset_at(out, v[n].start))
            fail_msg("%s: %s: wrong offset for the output zone", g->name, a);
        n++;
    }
    return n;
}

static void print_slots(const char *title, const struct bk_slot *s, size_t n,
                        const struct bk_tz *out)
{
    print_message("  %s (%zu):\n", title, n);
    for (size_t i = 0; i < n; i++) {
        char a[BK_RFC3339_MAX], b[BK_RFC3339_MAX];
        bk_rfc3339_format_offset(s[i].start_utc,
                                 bk_tz_offset_at(out, s[i].start_utc), a);
        bk_rfc3339_format_offset(s[i].end_utc,
                                 bk_tz_offset_at(out, s[i].end_utc), b);
        print_message("    %s/%s\n", a, b);
    }
}

static bool run_golden(const struct golden *g)
{
    struct avail_setup s;
    struct bk_arena arena;
    struct bk_slot *got = NULL;
    size_t n_got = 0, n_want;
    struct expected_slot want[AC_MAX];
    struct bk_slot want_slots[AC_MAX];
    struct bk_errbuf err;
    const struct bk_tz *out;
    bool ok = true;

    avail_setup(&s, g->zone, g->weekly, g->overrides, &g->rules, g->bookings,
                g->busy, g->now, g->out_zone, g->from, g->to);
    out = g->out_zone ? bk_tz_get(g->out_zone) : s.q.tz;
    n_want = parse_expect(g, out, want, AC_MAX);
    bk_arena_init(&arena);
    bk_errbuf_clear(&err);
    if (bk_availability(&s.q, &arena, &got, &n_got, &err) != BK_OK) {
        print_message("FAIL %s: error %s\n", g->name, err.msg);
        bk_arena_release(&arena);
        return false;
    }
    if (n_got != n_want)
        ok = false;
    for (size_t i = 0; ok && i < n_got; i++)
        if (got[i].start_utc != want[i].start || got[i].end_utc != want[i].end)
            ok = false;
    if (n_got == 0 && got != NULL)
        ok = false;
    if (!ok) {
        print_message("FAIL %s\n", g->name);
        for (size_t i = 0; i < n_want; i++) {
            want_slots[i].start_utc = want[i].start;
            want_slots[i].end_utc = want[i].end;
        }
        print_slots("want", want_slots, n_want, out);
        print_slots("got", got, n_got, out);
    }
    bk_arena_release(&arena);
    return ok;
}

static void test_golden_table(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < N_CASES; i++)
        if (!run_golden(&cases[i]))
            failed++;
    if (failed)
        fail_msg("%d of %zu cases failed", failed, N_CASES);
}

/* ---- Properties that hold for every case. */

/* The slots of a day do not depend on the window they were asked with:
 * 6-hour windows give exactly the slots that a window starting three days
 * earlier and ending a day later gives for the same hours. (range_start
 * and unaligned grids follow ranges joined across midnight back past the
 * window's edge instead of starting there.) */
static void test_window_independence(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < N_CASES; i++) {
        const struct golden *g = &cases[i];
        struct avail_setup s;
        struct bk_arena arena;
        struct bk_slot *wide, *piece;
        size_t n_wide, n_piece, k = 0;
        int64_t from, to;
        bool ok = true;

        avail_setup(&s, g->zone, g->weekly, g->overrides, &g->rules,
                    g->bookings, g->busy, g->now, g->out_zone, g->from, g->to);
        from = s.q.from_utc;
        to = s.q.to_utc;
        s.q.from_utc = from - 3 * BK_SECS_PER_DAY;
        s.q.to_utc = to + BK_SECS_PER_DAY;
        bk_arena_init(&arena);
        assert_int_equal(bk_availability(&s.q, &arena, &wide, &n_wide, NULL),
                         BK_OK);
        while (k < n_wide && wide[k].start_utc < from)
            k++;
        for (int64_t a = from; ok && a < to; a += 6 * 3600) {
            s.q.from_utc = a;
            s.q.to_utc = a + 6 * 3600 < to ? a + 6 * 3600 : to;
            assert_int_equal(
                bk_availability(&s.q, &arena, &piece, &n_piece, NULL), BK_OK);
            for (size_t j = 0; ok && j < n_piece; j++, k++)
                if (k >= n_wide || piece[j].start_utc != wide[k].start_utc)
                    ok = false;
            if (ok && k < n_wide && wide[k].start_utc < s.q.to_utc)
                ok = false;
        }
        if (!ok) {
            print_message("FAIL %s: a 6-hour window disagrees with a wider "
                          "one\n",
                          g->name);
            failed++;
        }
        bk_arena_release(&arena);
    }
    if (failed)
        fail_msg("%d cases depend on the window", failed);
}

/* The order of bookings and busy intervals does not matter, nor whether
 * busy time arrives as bookings without buffers or as busy intervals: each
 * case gives the same slots with both lists reversed, rotated, and with its
 * busy intervals moved into the bookings list (and back). */
static bool same_slots(const struct bk_slot *a, size_t na,
                       const struct bk_slot *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (a[i].start_utc != b[i].start_utc || a[i].end_utc != b[i].end_utc)
            return false;
    return true;
}

static void test_order_independence(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < N_CASES; i++) {
        const struct golden *g = &cases[i];
        struct avail_setup s, t;
        struct bk_arena arena;
        struct bk_slot *want, *got;
        size_t n_want, n_got, nb, ni;
        bool ok = true;

        avail_setup(&s, g->zone, g->weekly, g->overrides, &g->rules,
                    g->bookings, g->busy, g->now, g->out_zone, g->from, g->to);
        nb = s.q.n_bookings;
        ni = s.q.n_busy;
        bk_arena_init(&arena);
        assert_int_equal(bk_availability(&s.q, &arena, &want, &n_want, NULL),
                         BK_OK);
        for (int variant = 0; variant < 3 && ok; variant++) {
            t = s;
            t.q.schedule = &t.schedule;
            t.schedule.weekly = t.weekly;
            t.schedule.overrides = t.overrides;
            t.q.rules = &t.rules;
            t.q.bookings = t.bookings;
            t.q.busy = t.busy;
            if (variant == 0) { /* reversed */
                for (size_t k = 0; k < nb; k++)
                    t.bookings[k] = s.bookings[nb - 1 - k];
                for (size_t k = 0; k < ni; k++)
                    t.busy[k] = s.busy[ni - 1 - k];
            } else if (variant == 1) { /* rotated by one */
                for (size_t k = 0; k < nb; k++)
                    t.bookings[k] = s.bookings[(k + 1) % nb];
                for (size_t k = 0; k < ni; k++)
                    t.busy[k] = s.busy[(k + 1) % ni];
            } else { /* busy intervals as bookings without buffers */
                if (nb + ni > AC_MAX)
                    continue;
                for (size_t k = 0; k < ni; k++) {
                    struct bk_busy_booking *b = &t.bookings[nb + k];
                    memset(b, 0, sizeof(*b));
                    b->start_utc = s.busy[ni - 1 - k].start_utc;
                    b->end_utc = s.busy[ni - 1 - k].end_utc;
                }
                t.q.n_bookings = nb + ni;
                t.q.n_busy = 0;
            }
            assert_int_equal(bk_availability(&t.q, &arena, &got, &n_got, NULL),
                             BK_OK);
            if (!same_slots(want, n_want, got, n_got)) {
                print_message("FAIL %s: input order variant %d changes "
                              "the slots\n",
                              g->name, variant);
                ok = false;
            }
        }
        if (!ok)
            failed++;
        bk_arena_release(&arena);
    }
    if (failed)
        fail_msg("%d cases depend on input order", failed);
}

/* Every listed start checks as FREE, and every other whole minute of the
 * window does not. */
static void test_check_agrees_with_listing(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CASES; i++) {
        const struct golden *g = &cases[i];
        struct avail_setup s;
        struct bk_arena arena;
        struct bk_slot *all;
        size_t n_all, k = 0;

        avail_setup(&s, g->zone, g->weekly, g->overrides, &g->rules,
                    g->bookings, g->busy, g->now, g->out_zone, g->from, g->to);
        bk_arena_init(&arena);
        assert_int_equal(bk_availability(&s.q, &arena, &all, &n_all, NULL),
                         BK_OK);
        for (int64_t t = s.q.from_utc; t < s.q.to_utc; t += 60) {
            bool listed = k < n_all && all[k].start_utc == t;
            enum bk_slot_verdict v = bk_availability_check(&s.q, t, &arena);
            if (listed)
                k++;
            if (listed != (v == BK_SLOT_FREE))
                fail_msg("%s: start %lld listed=%d but verdict %d", g->name,
                         (long long)t, listed, v);
            /* Keep the arena small over a long window. */
            if (arena.total > (1u << 22)) {
                bk_arena_release(&arena);
                bk_arena_init(&arena);
                assert_int_equal(
                    bk_availability(&s.q, &arena, &all, &n_all, NULL), BK_OK);
            }
        }
        bk_arena_release(&arena);
    }
}

/* ---- bk_availability_check verdicts. */

struct verdict_case {
    const char *start;
    enum bk_slot_verdict want;
    const char *why;
};

static void run_verdicts(struct avail_setup *s, const struct verdict_case *v,
                         size_t n)
{
    struct bk_arena arena;
    int failed = 0;

    bk_arena_init(&arena);
    for (size_t i = 0; i < n; i++) {
        enum bk_slot_verdict got =
            bk_availability_check(&s->q, ac_instant(v[i].start), &arena);
        if (got != v[i].want) {
            print_message("FAIL %s (%s): verdict %d, want %d\n", v[i].start,
                          v[i].why, got, v[i].want);
            failed++;
        }
    }
    bk_arena_release(&arena);
    if (failed)
        fail_msg("%d of %zu verdicts wrong", failed, n);
}

static void test_check_verdicts(void **state)
{
    struct avail_setup s;
    struct bk_slot_rules r = {
        .duration_min = 30, .notice_min = 60, .horizon_days = 10};
    /* Now is Monday 09:00 CEST; the notice bound 10:00; the horizon ends
     * Thursday 06-25 09:00 CEST. Tuesday 09:50-10:30 is busy. */
    static const struct verdict_case v[] = {
        {"2026-06-15T08:30:00+02:00", BK_SLOT_PAST, "before now"},
        {"2026-06-15T08:59:59+02:00", BK_SLOT_PAST, "a second before now"},
        {"2026-06-15T09:00:00+02:00", BK_SLOT_TOO_SOON, "exactly now"},
        {"2026-06-15T09:30:00+02:00", BK_SLOT_TOO_SOON, "inside the notice"},
        {"2026-06-15T10:00:00+02:00", BK_SLOT_FREE, "at the notice bound"},
        {"2026-06-15T11:30:00+02:00", BK_SLOT_FREE, "last of the range"},
        {"2026-06-15T10:15:00+02:00", BK_SLOT_OFF_GRID, "between starts"},
        {"2026-06-15T10:00:30+02:00", BK_SLOT_OFF_GRID, "not a whole minute"},
        {"2026-06-15T12:00:00+02:00", BK_SLOT_OFF_GRID, "would end outside"},
        {"2026-06-20T10:00:00+02:00", BK_SLOT_OFF_GRID, "a day without hours"},
        {"2026-06-16T10:00:00+02:00", BK_SLOT_TAKEN, "busy"},
        {"2026-06-16T09:30:00+02:00", BK_SLOT_TAKEN, "would run into busy"},
        {"2026-06-16T09:00:00+02:00", BK_SLOT_FREE, "ends before busy"},
        {"2026-06-16T10:30:00+02:00", BK_SLOT_FREE, "right after busy"},
        {"2026-06-22T10:00:00+02:00", BK_SLOT_FREE, "inside the horizon"},
        {"2026-06-25T09:00:00+02:00", BK_SLOT_TOO_FAR, "at the horizon"},
        {"2026-06-29T10:00:00+02:00", BK_SLOT_TOO_FAR, "beyond the horizon"},
        {"2026-06-29T10:15:00+02:00", BK_SLOT_OFF_GRID, "far and off grid"},
    };

    (void)state;
    avail_setup(&s, "Europe/Berlin",
                "mon 09:00-12:00, tue 09:00-12:00, wed 09:00-12:00, "
                "thu 09:00-12:00",
                NULL, &r, NULL,
                "2026-06-16T09:50:00+02:00 2026-06-16T10:30:00+02:00",
                "2026-06-15T07:00:00Z", NULL, NULL, NULL);
    run_verdicts(&s, v, sizeof(v) / sizeof(v[0]));
}

static void test_check_verdicts_limit_and_buffers(void **state)
{
    struct avail_setup s;
    struct bk_slot_rules r = {
        .duration_min = 60, .buffer_before_min = 15, .max_per_day = 1};
    /* Now Monday 08:50 CEST, no notice, but a 15-min before-buffer: starts
     * from 09:05 on, so 09:00 is too soon. Tuesday already has one of this
     * event type. */
    static const struct verdict_case v[] = {
        {"2026-06-15T09:00:00+02:00", BK_SLOT_TOO_SOON,
         "the before-buffer reaches back before now"},
        {"2026-06-15T10:00:00+02:00", BK_SLOT_FREE, "free"},
        {"2026-06-16T10:00:00+02:00", BK_SLOT_TAKEN, "the day is full"},
        {"2026-06-16T09:00:00+02:00", BK_SLOT_TAKEN, "the day is full"},
    };

    (void)state;
    avail_setup(&s, "Europe/Berlin", "mon 09:00-12:00, tue 09:00-12:00", NULL,
                &r, "2026-06-16T11:00:00+02:00 2026-06-16T12:00:00+02:00 0 0 1",
                NULL, "2026-06-15T06:50:00Z", NULL, NULL, NULL);
    run_verdicts(&s, v, sizeof(v) / sizeof(v[0]));
}

/* A start of the usual grid that the notice bound has pushed the grid off
 * is no longer offered. Like a start displaced by a busy block, it is
 * TAKEN (409 to a client holding a stale list), not TOO_FAR. */
static void test_check_grid_restarted_by_notice(void **state)
{
    struct avail_setup s;
    struct bk_slot_rules clock = {.duration_min = 90};
    struct bk_slot_rules range = {.duration_min = 30,
                                  .alignment = BK_ALIGN_RANGE_START};
    /* Now 09:10 CEST: the 90-min grid restarts at 09:30, so 09:30 11:00
     * 12:30; 10:30 belonged to the grid from 09:00. */
    static const struct verdict_case v_clock[] = {
        {"2026-06-15T09:00:00+02:00", BK_SLOT_PAST, "past"},
        {"2026-06-15T09:30:00+02:00", BK_SLOT_FREE, "restarted grid"},
        {"2026-06-15T11:00:00+02:00", BK_SLOT_FREE, "restarted grid"},
        {"2026-06-15T10:30:00+02:00", BK_SLOT_TAKEN, "displaced start"},
        {"2026-06-15T12:00:00+02:00", BK_SLOT_TAKEN, "displaced start"},
        {"2026-06-15T10:00:00+02:00", BK_SLOT_OFF_GRID, "never a start"},
    };
    /* range_start: the grid restarts at 09:10: 09:10 09:40 ...; 09:30 was
     * a start of the grid from 09:00. */
    static const struct verdict_case v_range[] = {
        {"2026-06-15T09:10:00+02:00", BK_SLOT_FREE, "restarted grid"},
        {"2026-06-15T09:40:00+02:00", BK_SLOT_FREE, "restarted grid"},
        {"2026-06-15T09:30:00+02:00", BK_SLOT_TAKEN, "displaced start"},
        {"2026-06-15T09:35:00+02:00", BK_SLOT_OFF_GRID, "never a start"},
    };

    /* A range_start grid over a range joined across two midnights (Mon
     * 00:00 .. Wed 24:00), 50-min slots: from Mon 00:00 the grid passes
     * Wed 00:20 and so Wed 10:20. Now is Wed 10:05, so the grid restarts
     * at 10:05 and 10:20 is displaced. */
    struct bk_slot_rules chain = {.duration_min = 50,
                                  .alignment = BK_ALIGN_RANGE_START};
    static const struct verdict_case v_chain[] = {
        {"2026-06-17T10:05:00+02:00", BK_SLOT_FREE, "restarted grid"},
        {"2026-06-17T10:55:00+02:00", BK_SLOT_FREE, "restarted grid"},
        {"2026-06-17T10:20:00+02:00", BK_SLOT_TAKEN,
         "displaced start of the grid from Monday"},
        {"2026-06-17T11:10:00+02:00", BK_SLOT_TAKEN,
         "displaced start of the grid from Monday"},
        {"2026-06-17T10:10:00+02:00", BK_SLOT_OFF_GRID, "never a start"},
    };

    /* A busy block restarts a range_start grid the same way: busy
     * 09:00-09:10 gives 09:10, 09:40, ...; 09:30 was a start. */
    static const struct verdict_case v_busy[] = {
        {"2026-06-15T09:10:00+02:00", BK_SLOT_FREE, "restarted grid"},
        {"2026-06-15T09:30:00+02:00", BK_SLOT_TAKEN, "displaced by busy"},
        {"2026-06-15T09:00:00+02:00", BK_SLOT_TAKEN, "busy"},
    };

    (void)state;
    avail_setup(&s, "Europe/Berlin", "mon 09:00-15:00", NULL, &range, NULL,
                "2026-06-15T09:00:00+02:00 2026-06-15T09:10:00+02:00",
                "2026-06-01T00:00:00Z", NULL, NULL, NULL);
    run_verdicts(&s, v_busy, sizeof(v_busy) / sizeof(v_busy[0]));
    avail_setup(&s, "Europe/Berlin",
                "mon 00:00-24:00, tue 00:00-24:00, wed 00:00-24:00", NULL,
                &chain, NULL, NULL, "2026-06-17T08:05:00Z", NULL, NULL, NULL);
    run_verdicts(&s, v_chain, sizeof(v_chain) / sizeof(v_chain[0]));
    avail_setup(&s, "Europe/Berlin", "mon 09:00-15:00", NULL, &clock, NULL,
                NULL, "2026-06-15T07:10:00Z", NULL, NULL, NULL);
    run_verdicts(&s, v_clock, sizeof(v_clock) / sizeof(v_clock[0]));
    avail_setup(&s, "Europe/Berlin", "mon 09:00-15:00", NULL, &range, NULL,
                NULL, "2026-06-15T07:10:00Z", NULL, NULL, NULL);
    run_verdicts(&s, v_range, sizeof(v_range) / sizeof(v_range[0]));
}

/* ---- Errors. */

static void test_window_limits(void **state)
{
    struct avail_setup s;
    struct bk_slot_rules r = {.duration_min = 30};
    struct bk_arena arena;
    struct bk_slot *out = (struct bk_slot *)&s;
    size_t n = 99;
    struct bk_errbuf err;
    int64_t from;

    (void)state;
    avail_setup(&s, "Europe/Berlin", "mon 09:00-10:00", NULL, &r, NULL, NULL,
                "2026-01-01T00:00:00Z", NULL, "2026-06-15", "2026-06-15");
    bk_arena_init(&arena);
    from = s.q.from_utc;

    s.q.to_utc = from;
    assert_int_equal(bk_availability(&s.q, &arena, &out, &n, &err),
                     BK_E_INVALID);
    assert_null(out);
    assert_int_equal(n, 0);
    s.q.to_utc = from - 1;
    assert_int_equal(bk_availability(&s.q, &arena, &out, &n, NULL),
                     BK_E_INVALID);
    s.q.to_utc = from + (int64_t)BK_AVAIL_MAX_WINDOW_DAYS * BK_SECS_PER_DAY + 1;
    assert_int_equal(bk_availability(&s.q, &arena, &out, &n, &err),
                     BK_E_INVALID);
    assert_non_null(strstr(err.msg, "400"));
    /* Exactly the maximum is accepted; with a horizon long enough, it
     * holds one slot per Monday. */
    s.rules.horizon_days = 3650;
    s.q.to_utc = from + (int64_t)BK_AVAIL_MAX_WINDOW_DAYS * BK_SECS_PER_DAY;
    assert_int_equal(bk_availability(&s.q, &arena, &out, &n, &err), BK_OK);
    /* 400 days from a Monday hold 58 Mondays (57 weeks + 1 day). */
    assert_int_equal(n, 2 * 58);
    /* A one-second window that holds a start. */
    s.q.from_utc = ac_instant("2026-06-15T09:30:00+02:00");
    s.q.to_utc = s.q.from_utc + 1;
    assert_int_equal(bk_availability(&s.q, &arena, &out, &n, NULL), BK_OK);
    assert_int_equal(n, 1);
    /* No slots: *out is NULL. */
    s.q.from_utc = ac_instant("2026-06-15T09:31:00+02:00");
    s.q.to_utc = s.q.from_utc + 60;
    assert_int_equal(bk_availability(&s.q, &arena, &out, &n, NULL), BK_OK);
    assert_int_equal(n, 0);
    assert_null(out);
    bk_arena_release(&arena);
}

struct rules_case {
    struct bk_slot_rules r;
    const char *field; /* NULL: valid */
};

static void test_rules_check(void **state)
{
#define OK_RULES .duration_min = 30, .horizon_days = 60
    static const struct rules_case cases_r[] = {
        {{OK_RULES}, NULL},
        {{.duration_min = 1, .horizon_days = 1}, NULL},
        {{.duration_min = 1440,
          .interval_min = 1440,
          .buffer_before_min = 1440,
          .buffer_after_min = 1440,
          .notice_min = 525600,
          .horizon_days = 3650,
          .max_per_day = 1000,
          .alignment = BK_ALIGN_RANGE_START},
         NULL},
        {{.duration_min = 0, .horizon_days = 60}, "duration_minutes"},
        {{.duration_min = -5, .horizon_days = 60}, "duration_minutes"},
        {{.duration_min = 1441, .horizon_days = 60}, "duration_minutes"},
        {{OK_RULES, .interval_min = -1}, "slot_interval_minutes"},
        {{OK_RULES, .interval_min = 1441}, "slot_interval_minutes"},
        {{OK_RULES, .buffer_before_min = -1}, "buffer_before_minutes"},
        {{OK_RULES, .buffer_before_min = 1441}, "buffer_before_minutes"},
        {{OK_RULES, .buffer_after_min = -1}, "buffer_after_minutes"},
        {{OK_RULES, .buffer_after_min = 1441}, "buffer_after_minutes"},
        {{OK_RULES, .notice_min = -1}, "minimum_notice_minutes"},
        {{OK_RULES, .notice_min = 525601}, "minimum_notice_minutes"},
        {{.duration_min = 30, .horizon_days = 0}, "horizon_days"},
        {{.duration_min = 30, .horizon_days = 3651}, "horizon_days"},
        {{OK_RULES, .max_per_day = -1}, "max_per_day"},
        {{OK_RULES, .max_per_day = 1001}, "max_per_day"},
        {{OK_RULES, .alignment = (enum bk_alignment)2}, "slot_alignment"},
        {{OK_RULES, .alignment = (enum bk_alignment) - 1}, "slot_alignment"},
    };
#undef OK_RULES
    struct avail_setup s;
    struct bk_arena arena;

    (void)state;
    avail_setup(&s, "Europe/Berlin", "mon 09:00-10:00", NULL, &cases_r[0].r,
                NULL, NULL, "2026-06-01T00:00:00Z", NULL, "2026-06-15",
                "2026-06-15");
    bk_arena_init(&arena);
    for (size_t i = 0; i < sizeof(cases_r) / sizeof(cases_r[0]); i++) {
        struct bk_errbuf err;
        struct bk_slot *out;
        size_t n;
        enum bk_err e;

        bk_errbuf_clear(&err);
        e = bk_slot_rules_check(&cases_r[i].r, &err);
        if (!cases_r[i].field) {
            if (e != BK_OK)
                fail_msg("rules case %zu: %s (%s)", i, err.msg, err.field);
            continue;
        }
        if (e != BK_E_INVALID || strcmp(err.field, cases_r[i].field) != 0)
            fail_msg("rules case %zu: error %d field \"%s\", want \"%s\"", i, e,
                     err.field, cases_r[i].field);
        assert_true(err.msg[0] != '\0');
        /* The engine refuses the same rules with the same field. */
        s.q.rules = &cases_r[i].r;
        bk_errbuf_clear(&err);
        assert_int_equal(bk_availability(&s.q, &arena, &out, &n, &err),
                         BK_E_INVALID);
        assert_string_equal(err.field, cases_r[i].field);
        /* A check against invalid rules offers nothing. */
        assert_int_not_equal(
            bk_availability_check(&s.q, ac_instant("2026-06-15T09:00:00Z"),
                                  &arena),
            BK_SLOT_FREE);
    }
    bk_arena_release(&arena);
}

static void test_alignment_minutes(void **state)
{
    static const int table[][2] = {
        {1, 0},    {5, 5},    {7, 0},     {8, 0},   {10, 10}, {12, 0},
        {15, 15},  {20, 20},  {25, 5},    {30, 30}, {35, 5},  {40, 20},
        {45, 15},  {50, 10},  {60, 60},   {75, 15}, {80, 20}, {90, 30},
        {100, 20}, {120, 60}, {1440, 60}, {0, 0},   {-30, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (bk_alignment_minutes(table[i][0]) != table[i][1])
            fail_msg("interval %d: alignment %d, want %d", table[i][0],
                     bk_alignment_minutes(table[i][0]), table[i][1]);
}

/* An empty or reversed busy interval blocks nothing. */
static void test_degenerate_busy(void **state)
{
    struct avail_setup s;
    struct bk_slot_rules r = {.duration_min = 60};
    struct bk_arena arena;
    struct bk_slot *out;
    size_t n;

    (void)state;
    avail_setup(&s, "Europe/Berlin", "mon 09:00-12:00", NULL, &r, NULL,
                "2026-06-15T10:00:00+02:00 2026-06-15T10:00:00+02:00;"
                "2026-06-15T11:00:00+02:00 2026-06-15T10:30:00+02:00",
                "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-15");
    bk_arena_init(&arena);
    assert_int_equal(bk_availability(&s.q, &arena, &out, &n, NULL), BK_OK);
    assert_int_equal(n, 3);
    bk_arena_release(&arena);
}

/* A busy list far longer than the schedule: only the blocks that meet a
 * range matter, and the result does not depend on their order. */
static void test_many_blocks(void **state)
{
    struct avail_setup s;
    struct bk_slot_rules r = {.duration_min = 30};
    struct bk_arena arena;
    struct bk_slot *out;
    size_t n;
    static struct bk_interval busy[2000];
    int64_t monday = ac_instant("2026-06-15T00:00:00+02:00");

    (void)state;
    avail_setup(&s, "Europe/Berlin", "mon 09:00-12:00", NULL, &r, NULL, NULL,
                "2026-06-01T00:00:00Z", NULL, "2026-06-15", "2026-06-15");
    /* Blocks of 5 minutes every 10 minutes all Monday long, given from the
     * last to the first, except 10:00..11:00 which stays free. */
    size_t k = 0;
    for (int i = 143; i >= 0; i--) {
        int64_t a = monday + (int64_t)i * 600;
        if (a >= monday + 10 * 3600 && a < monday + 11 * 3600)
            continue;
        busy[k].start_utc = a;
        busy[k].end_utc = a + 300;
        k++;
    }
    s.q.busy = busy;
    s.q.n_busy = k;
    bk_arena_init(&arena);
    assert_int_equal(bk_availability(&s.q, &arena, &out, &n, NULL), BK_OK);
    /* Free 09:55..11:00 (the block at 09:50 ends 09:55, the next starts
     * 11:00): the 30-min grid gives 10:00 and 10:30. */
    assert_int_equal(n, 2);
    assert_int_equal(out[0].start_utc, monday + 10 * 3600);
    assert_int_equal(out[1].start_utc, monday + 10 * 3600 + 1800);
    bk_arena_release(&arena);
}

/* A bound (max_slots) computes exactly the first max_slots + 1 slots of
 * the unbounded answer, or all of them when there are no more. */
static void test_max_slots_is_a_prefix(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CASES; i++) {
        const struct golden *g = &cases[i];
        struct avail_setup s;
        struct bk_arena arena;
        struct bk_slot *all, *some;
        size_t n_all, n_some;

        avail_setup(&s, g->zone, g->weekly, g->overrides, &g->rules,
                    g->bookings, g->busy, g->now, g->out_zone, g->from, g->to);
        bk_arena_init(&arena);
        assert_int_equal(bk_availability(&s.q, &arena, &all, &n_all, NULL),
                         BK_OK);
        for (size_t max = 1; max <= n_all + 1; max++) {
            s.q.max_slots = max;
            assert_int_equal(
                bk_availability(&s.q, &arena, &some, &n_some, NULL), BK_OK);
            if (n_some != (n_all > max ? max + 1 : n_all) ||
                (n_some && memcmp(some, all, n_some * sizeof(*some)) != 0))
                fail_msg("%s: max_slots %zu gave %zu of %zu slots", g->name,
                         max, n_some, n_all);
        }
        bk_arena_release(&arena);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_table),
        cmocka_unit_test(test_max_slots_is_a_prefix),
        cmocka_unit_test(test_window_independence),
        cmocka_unit_test(test_order_independence),
        cmocka_unit_test(test_check_agrees_with_listing),
        cmocka_unit_test(test_check_verdicts),
        cmocka_unit_test(test_check_verdicts_limit_and_buffers),
        cmocka_unit_test(test_check_grid_restarted_by_notice),
        cmocka_unit_test(test_window_limits),
        cmocka_unit_test(test_rules_check),
        cmocka_unit_test(test_alignment_minutes),
        cmocka_unit_test(test_degenerate_busy),
        cmocka_unit_test(test_many_blocks),
    };

    bk_tz_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
