/* core/ics_export.c — bookings as iCalendar text over libical (libical
 * serializes, folds lines at 75 octets and escapes TEXT values). */
#include <stdlib.h>
#include <string.h>

#include <libical/ical.h>

#include "core/ics_export.h"
#include "core/booking.h"
#include "core/ics.h"
#include "base/mem.h"
#include "base/banned.h"

#define PRODID "-//bookingd//bookingd//EN" /* core/ics.c's */

/* A copy of s fit for an iCalendar value: control characters other than
 * LF and TAB become spaces (RFC 5545 §3.3.11 allows neither CR alone nor
 * other controls); with no_quotes, '"' becomes '\'' (a parameter value
 * cannot hold it, §3.1). Free with free(). */
static char *clean(const char *s, bool no_quotes)
{
    char *out = bk_xstrdup(s ? s : "");

    for (char *p = out; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F)
            *p = ' ';
        else if (no_quotes && c == '"')
            *p = '\'';
    }
    return out;
}

/* Appends the serialization of c, less `drop` trailing bytes. */
static enum bk_err append_component(struct bk_buf *out, icalcomponent *c,
                                    size_t drop)
{
    char *text = icalcomponent_as_ical_string_r(c);
    size_t n;
    enum bk_err e;

    if (!text)
        return BK_E_INTERNAL;
    n = strlen(text);
    e = bk_buf_append(out, text, n > drop ? n - drop : 0);
    icalmemory_free_buffer(text);
    return e;
}

enum bk_err bk_ics_export_begin(struct bk_buf *out, const char *name)
{
    static const char end[] = "END:VCALENDAR\r\n";
    icalcomponent *cal = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
    enum bk_err e;

    icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
    icalcomponent_add_property(cal, icalproperty_new_prodid(PRODID));
    icalcomponent_add_property(cal, icalproperty_new_calscale("GREGORIAN"));
    if (name) {
        char *v = clean(name, false);
        icalproperty *p = icalproperty_new_x(v);
        icalproperty_set_x_name(p, "X-WR-CALNAME");
        icalcomponent_add_property(cal, p);
        free(v);
    }
    /* The head is the calendar without its last line. */
    e = append_component(out, cal, sizeof(end) - 1);
    icalcomponent_free(cal);
    return e;
}

enum bk_err bk_ics_export_booking(struct bk_buf *out,
                                  const struct bk_booking *b,
                                  const char *organizer_email, int sequence)
{
    const char *what = b->event_type_title ? b->event_type_title : "Booking";
    const char *who =
        b->client_name && *b->client_name ? b->client_name : b->client_email;
    struct bk_ics_event ev = {
        .uid = b->uid,
        .sequence = sequence,
        .status = b->status == BK_BOOKING_PENDING     ? BK_ICS_TENTATIVE
                  : b->status == BK_BOOKING_CANCELLED ? BK_ICS_CANCELLED
                                                      : BK_ICS_CONFIRMED,
        .start_utc = b->start_utc,
        .end_utc = b->end_utc,
        .stamp_utc = b->updated_utc,
        .created_utc = b->created_utc,
        .modified_utc = b->updated_utc,
        .description = b->notes,
        .location = b->location && *b->location ? b->location : b->meeting_url,
        .organizer_email = organizer_email,
        .attendee_name = b->client_name,
        .attendee_email = b->client_email,
    };
    struct bk_arena arena;
    enum bk_err e;

    bk_arena_init(&arena);
    ev.summary =
        who && *who ? bk_arena_printf(&arena, "%s with %s", what, who) : what;
    e = bk_buf_appends(out, bk_ics_vevent(&ev, &arena));
    bk_arena_release(&arena);
    return e;
}

enum bk_err bk_ics_export_end(struct bk_buf *out)
{
    return bk_buf_appends(out, "END:VCALENDAR\r\n");
}
