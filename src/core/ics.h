/* core/ics.h — a booking as an iCalendar VEVENT (RFC 5545), the one
 * builder behind every calendar object bookingd writes: the invites email
 * carries (iMIP, RFC 6047), the booking's .ics download, the events pushed
 * into a host's CalDAV calendar, `bookingd export --format ics` and the
 * host's subscription feed (core/ics_export.h frames those two). One UID
 * per booking everywhere (its uid, bare), so a calendar that receives the
 * invite and subscribes to the feed shows one event. Built with libical;
 * pure: the caller passes every value, the stamp included. Sending it is
 * mail/; serving it is api/. */
#ifndef BK_CORE_ICS_H
#define BK_CORE_ICS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"

/* The VEVENT's STATUS (RFC 5545 §3.8.1.11). */
enum bk_ics_status {
    BK_ICS_CONFIRMED = 0,
    BK_ICS_TENTATIVE, /* a pending booking (a hold awaiting payment) */
    BK_ICS_CANCELLED,
};

/* One booking as a VEVENT. Strings are borrowed for the call; optional
 * ones may be NULL. */
struct bk_ics_event {
    const char *uid;             /* the booking's UID: stable across changes */
    int sequence;                /* SEQUENCE: 0 at creation, +1 per change
                                    that sends an invite (ledger's
                                    bk_ledger_invite_sequence) */
    const char *method;          /* "REQUEST", "CANCEL", "PUBLISH" or NULL (no
                                    METHOD: a plain calendar file) */
    enum bk_ics_status status;   /* STATUS */
    int64_t start_utc;           /* DTSTART, UTC seconds */
    int64_t end_utc;             /* DTEND, UTC seconds */
    int64_t stamp_utc;           /* DTSTAMP, UTC seconds */
    int64_t created_utc;         /* CREATED; 0 = none */
    int64_t modified_utc;        /* LAST-MODIFIED; 0 = none */
    const char *summary;         /* the event type's title and whom with */
    const char *description;     /* includes the manage link; optional */
    const char *location;        /* optional */
    const char *url;             /* meeting link; optional */
    const char *organizer_name;  /* the host; optional */
    const char *organizer_email; /* optional: no ORGANIZER without it */
    const char *attendee_name;   /* the client; optional */
    const char *attendee_email;  /* optional: no ATTENDEE without it */
    bool rsvp;                   /* an invitation (iTIP): ROLE, PARTSTAT and
                                    RSVP=TRUE on the attendee; a published
                                    calendar lists the attendee, no more */
    bool schedule_agent_client;  /* SCHEDULE-AGENT=CLIENT on both parties
                                    (RFC 6638 §7.1): a CalDAV server must
                                    not send invitations of its own (the
                                    copy PUT into the host's calendar) */
};

/* Returns the VCALENDAR text (CRLF lines, folded) in arena: PRODID,
 * VERSION, CALSCALE, METHOD when set, and the VEVENT of bk_ics_vevent. */
char *bk_ics_build(const struct bk_ics_event *ev, struct bk_arena *arena);

/* Returns the VEVENT alone (BEGIN:VEVENT ... END:VEVENT, CRLF lines,
 * folded at 75 octets) in arena. Every text is cleaned the same way:
 * control characters other than LF and TAB become spaces (§3.3.11), and
 * libical escapes the rest; a name in a CN parameter loses its double
 * quotes, which become single ones (§3.1 forbids them there). */
char *bk_ics_vevent(const struct bk_ics_event *ev, struct bk_arena *arena);

#endif
