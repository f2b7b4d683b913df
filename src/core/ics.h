/* core/ics.h — a booking as an iCalendar object (RFC 5545), for the
 * invites email carries (iMIP, RFC 6047) and the booking's .ics download.
 * Built with libical; pure: the caller passes every value, the stamp
 * included. Sending it is mail/; serving it is api/. */
#ifndef BK_CORE_ICS_H
#define BK_CORE_ICS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"

/* One booking as a VEVENT. Strings are borrowed for the call; optional
 * ones may be NULL. */
struct bk_ics_event {
    const char *uid;             /* the booking's UID: stable across changes */
    int sequence;                /* SEQUENCE: 0 at creation, +1 per change */
    const char *method;          /* "REQUEST", "CANCEL", "PUBLISH" or NULL (no
                                    METHOD: a plain calendar file) */
    bool cancelled;              /* STATUS:CANCELLED, else CONFIRMED */
    int64_t start_utc;           /* DTSTART, UTC seconds */
    int64_t end_utc;             /* DTEND, UTC seconds */
    int64_t stamp_utc;           /* DTSTAMP, UTC seconds */
    const char *summary;         /* the event type's title and whom with */
    const char *description;     /* includes the manage link; optional */
    const char *location;        /* optional */
    const char *url;             /* meeting link; optional */
    const char *organizer_name;  /* the host; optional */
    const char *organizer_email; /* required */
    const char *attendee_name;   /* the client; optional */
    const char *attendee_email;  /* required; RSVP=TRUE */
    bool schedule_agent_client;  /* SCHEDULE-AGENT=CLIENT on both parties
                                    (RFC 6638 §7.1): a CalDAV server must
                                    not send invitations of its own (the
                                    copy PUT into the host's calendar) */
};

/* Returns the VCALENDAR text (CRLF lines, folded) in arena. Characters
 * that cannot appear in a parameter value (double quotes, controls) are
 * dropped from the names; everything else is escaped by libical. */
char *bk_ics_build(const struct bk_ics_event *ev, struct bk_arena *arena);

#endif
