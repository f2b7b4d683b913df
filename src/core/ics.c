/* core/ics.c — the booking as iCalendar (ics.h), with libical. Time zone
 * data is tz.c's; every time here is UTC. */
#include <stdlib.h>
#include <string.h>

#include <libical/ical.h>

#include "core/ics.h"
#include "base/banned.h"

#define PRODID "-//bookingd//bookingd//EN"

/* A copy of s fit for an iCalendar value: control characters other than
 * LF and TAB become spaces (RFC 5545 §3.3.11 allows neither CR alone nor
 * other controls); with param, '"' becomes '\'' (a parameter value cannot
 * hold it, §3.1) and LF and TAB become spaces too. */
static const char *clean(const char *s, bool param, struct bk_arena *arena)
{
    char *out = bk_arena_strdup(arena, s ? s : "");

    for (char *p = out; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && (param || (c != '\n' && c != '\t'))) || c == 0x7F)
            *p = ' ';
        else if (param && c == '"')
            *p = '\'';
    }
    return out;
}

static struct icaltimetype utc_time(int64_t t)
{
    return icaltime_from_timet_with_zone((time_t)t, 0,
                                         icaltimezone_get_utc_timezone());
}

static void add_text(icalcomponent *vev, icalproperty *(*make)(const char *),
                     const char *value, struct bk_arena *arena)
{
    if (value && *value)
        icalcomponent_add_property(vev, make(clean(value, false, arena)));
}

static icalproperty *party(bool organizer, const struct bk_ics_event *ev,
                           struct bk_arena *arena)
{
    const char *name = organizer ? ev->organizer_name : ev->attendee_name;
    const char *email = organizer ? ev->organizer_email : ev->attendee_email;
    const char *uri =
        bk_arena_printf(arena, "mailto:%s", clean(email, true, arena));
    icalproperty *p = organizer ? icalproperty_new_organizer(uri)
                                : icalproperty_new_attendee(uri);

    if (name && *name)
        icalproperty_add_parameter(
            p, icalparameter_new_cn(clean(name, true, arena)));
    if (!organizer && ev->rsvp) {
        icalproperty_add_parameter(
            p, icalparameter_new_role(ICAL_ROLE_REQPARTICIPANT));
        icalproperty_add_parameter(
            p, icalparameter_new_partstat(ICAL_PARTSTAT_NEEDSACTION));
        icalproperty_add_parameter(p, icalparameter_new_rsvp(ICAL_RSVP_TRUE));
    }
    if (ev->schedule_agent_client)
        icalproperty_add_parameter(
            p, icalparameter_new_scheduleagent(ICAL_SCHEDULEAGENT_CLIENT));
    return p;
}

static icalcomponent *vevent_new(const struct bk_ics_event *ev,
                                 struct bk_arena *arena)
{
    icalcomponent *vev = icalcomponent_new_vevent();
    icalproperty_status st =
        ev->status == BK_ICS_CANCELLED   ? ICAL_STATUS_CANCELLED
        : ev->status == BK_ICS_TENTATIVE ? ICAL_STATUS_TENTATIVE
                                         : ICAL_STATUS_CONFIRMED;

    icalcomponent_add_property(vev, icalproperty_new_uid(ev->uid));
    icalcomponent_add_property(vev, icalproperty_new_sequence(ev->sequence));
    icalcomponent_add_property(
        vev, icalproperty_new_dtstamp(utc_time(ev->stamp_utc)));
    if (ev->created_utc)
        icalcomponent_add_property(
            vev, icalproperty_new_created(utc_time(ev->created_utc)));
    if (ev->modified_utc)
        icalcomponent_add_property(
            vev, icalproperty_new_lastmodified(utc_time(ev->modified_utc)));
    icalcomponent_add_property(
        vev, icalproperty_new_dtstart(utc_time(ev->start_utc)));
    icalcomponent_add_property(vev,
                               icalproperty_new_dtend(utc_time(ev->end_utc)));
    add_text(vev, icalproperty_new_summary,
             ev->summary && *ev->summary ? ev->summary : "Booking", arena);
    add_text(vev, icalproperty_new_description, ev->description, arena);
    add_text(vev, icalproperty_new_location, ev->location, arena);
    add_text(vev, icalproperty_new_url, ev->url, arena);
    icalcomponent_add_property(vev, icalproperty_new_status(st));
    if (ev->organizer_email && *ev->organizer_email)
        icalcomponent_add_property(vev, party(true, ev, arena));
    if (ev->attendee_email && *ev->attendee_email)
        icalcomponent_add_property(vev, party(false, ev, arena));
    return vev;
}

static char *text_of(icalcomponent *c, struct bk_arena *arena)
{
    char *text = icalcomponent_as_ical_string_r(c);
    char *out = bk_arena_strdup(arena, text ? text : "");

    icalmemory_free_buffer(text);
    icalcomponent_free(c);
    return out;
}

char *bk_ics_vevent(const struct bk_ics_event *ev, struct bk_arena *arena)
{
    return text_of(vevent_new(ev, arena), arena);
}

char *bk_ics_build(const struct bk_ics_event *ev, struct bk_arena *arena)
{
    icalcomponent *cal = icalcomponent_new_vcalendar();

    icalcomponent_add_property(cal, icalproperty_new_prodid(PRODID));
    icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
    icalcomponent_add_property(cal, icalproperty_new_calscale("GREGORIAN"));
    if (ev->method)
        icalcomponent_add_property(
            cal,
            icalproperty_new_method(icalenum_string_to_method(ev->method)));
    icalcomponent_add_component(cal, vevent_new(ev, arena));
    return text_of(cal, arena);
}
