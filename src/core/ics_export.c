/* core/ics_export.c — bookings as iCalendar text over libical (libical
 * serializes, folds lines at 75 octets and escapes TEXT values). */
#include <stdlib.h>
#include <string.h>

#include <libical/ical.h>

#include "core/ics_export.h"
#include "core/booking.h"
#include "base/mem.h"
#include "base/banned.h"

#define PRODID "-//bookingd//bookingd 0.1//EN"

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

static struct icaltimetype utc_time(int64_t t)
{
    return icaltime_from_timet_with_zone((time_t)t, 0,
                                         icaltimezone_get_utc_timezone());
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

static void add_text(icalcomponent *ev, icalproperty *(*make)(const char *),
                     const char *value)
{
    char *v;

    if (!value || !*value)
        return;
    v = clean(value, false);
    icalcomponent_add_property(ev, make(v));
    free(v);
}

static icalproperty *mailto(icalproperty *(*make)(const char *),
                            const char *email)
{
    char *v = clean(email, true);
    size_t n = strlen(v) + 8;
    char *uri = bk_xmalloc(n);
    icalproperty *p;

    memcpy(uri, "mailto:", 7);
    memcpy(uri + 7, v, n - 7);
    p = make(uri);
    free(uri);
    free(v);
    return p;
}

enum bk_err bk_ics_export_booking(struct bk_buf *out,
                                  const struct bk_booking *b,
                                  const char *organizer_email)
{
    icalcomponent *ev = icalcomponent_new(ICAL_VEVENT_COMPONENT);
    icalproperty_status status;
    char *uid, *summary;
    size_t n;
    enum bk_err e;

    n = strlen(b->uid) + sizeof("@bookingd");
    uid = bk_xmalloc(n);
    memcpy(uid, b->uid, strlen(b->uid));
    memcpy(uid + strlen(b->uid), "@bookingd", sizeof("@bookingd"));
    icalcomponent_add_property(ev, icalproperty_new_uid(uid));
    free(uid);
    icalcomponent_add_property(
        ev, icalproperty_new_dtstamp(utc_time(b->updated_utc)));
    icalcomponent_add_property(
        ev, icalproperty_new_created(utc_time(b->created_utc)));
    icalcomponent_add_property(
        ev, icalproperty_new_lastmodified(utc_time(b->updated_utc)));
    icalcomponent_add_property(
        ev, icalproperty_new_dtstart(utc_time(b->start_utc)));
    icalcomponent_add_property(ev,
                               icalproperty_new_dtend(utc_time(b->end_utc)));
    {
        const char *what =
            b->event_type_title ? b->event_type_title : "Booking";
        const char *who = b->client_name && *b->client_name ? b->client_name
                                                            : b->client_email;
        n = strlen(what) + (who ? strlen(who) : 0) + 8;
        summary = bk_xmalloc(n);
        memcpy(summary, what, strlen(what) + 1);
        if (who) {
            memcpy(summary + strlen(what), " with ", 6);
            memcpy(summary + strlen(what) + 6, who, strlen(who) + 1);
        }
    }
    add_text(ev, icalproperty_new_summary, summary);
    free(summary);
    switch (b->status) {
    case BK_BOOKING_PENDING:
        status = ICAL_STATUS_TENTATIVE;
        break;
    case BK_BOOKING_CANCELLED:
        status = ICAL_STATUS_CANCELLED;
        break;
    default:
        status = ICAL_STATUS_CONFIRMED;
        break;
    }
    icalcomponent_add_property(ev, icalproperty_new_status(status));
    add_text(ev, icalproperty_new_location,
             b->location && *b->location ? b->location : b->meeting_url);
    add_text(ev, icalproperty_new_description, b->notes);
    if (organizer_email && *organizer_email)
        icalcomponent_add_property(
            ev, mailto(icalproperty_new_organizer, organizer_email));
    if (b->client_email && *b->client_email) {
        icalproperty *p = mailto(icalproperty_new_attendee, b->client_email);
        if (b->client_name && *b->client_name) {
            char *cn = clean(b->client_name, true);
            icalproperty_add_parameter(p, icalparameter_new_cn(cn));
            free(cn);
        }
        icalcomponent_add_property(ev, p);
    }
    e = append_component(out, ev, 0);
    icalcomponent_free(ev);
    return e;
}

enum bk_err bk_ics_export_end(struct bk_buf *out)
{
    return bk_buf_appends(out, "END:VCALENDAR\r\n");
}
