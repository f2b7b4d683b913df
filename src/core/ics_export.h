/* core/ics_export.h — bookings as an iCalendar stream (RFC 5545): the
 * `bookingd export bookings --format ics` output and a host's subscription
 * feed (GET /calendar/{host}.ics). A published calendar without METHOD
 * (RFC 5545 §3.7.2), one VEVENT per booking, times in UTC. Email invites
 * (iTIP) are core/ics.c's, whose VEVENT builder this reuses. Pure: appends text
 * to a caller's buffer. */
#ifndef BK_CORE_ICS_EXPORT_H
#define BK_CORE_ICS_EXPORT_H

#include "base/buf.h"
#include "base/err.h"
#include "core/ledger.h"

/* Appends the calendar's head: BEGIN:VCALENDAR, VERSION, PRODID, CALSCALE
 * and, when name is not NULL, X-WR-CALNAME (the name calendar apps show).
 * BK_E_TOO_LARGE when out's maximum is reached (out is left as it was). */
BK_MUST_CHECK enum bk_err bk_ics_export_begin(struct bk_buf *out,
                                              const char *name);

/* Appends one VEVENT for b (borrowed), built by core/ics.c's
 * bk_ics_vevent: UID the booking's uid (the invites' UID), SEQUENCE
 * `sequence` (the booking's current one), DTSTAMP and LAST-MODIFIED from
 * updated_utc, CREATED, DTSTART and DTEND in UTC, SUMMARY "<event type>
 * with <attendee>", STATUS (TENTATIVE for pending, CONFIRMED, CANCELLED),
 * LOCATION (or the meeting link), DESCRIPTION (the notes), ATTENDEE with
 * its CN (no RSVP: a published calendar invites no one), and ORGANIZER
 * when organizer_email is not NULL. Text is cleaned and escaped as
 * bk_ics_vevent says. BK_E_TOO_LARGE as above. */
BK_MUST_CHECK enum bk_err bk_ics_export_booking(struct bk_buf *out,
                                                const struct bk_booking *b,
                                                const char *organizer_email,
                                                int sequence);

/* Appends END:VCALENDAR. */
BK_MUST_CHECK enum bk_err bk_ics_export_end(struct bk_buf *out);

#endif
