/* core/ics.c — the booking as iCalendar (ics.h), with libical. Time zone
 * data is tz.c's; every time here is UTC. */
#include <stdlib.h>
#include <string.h>

#include <libical/ical.h>

#include "core/ics.h"
#include "base/banned.h"

/* A CN parameter value: no DQUOTE or control characters (RFC 5545 §3.1
 * param-value), which libical would otherwise copy as they are. */
static const char *param_text(const char *s, struct bk_arena *arena)
{
    char *out = bk_arena_strdup(arena, s), *w = out;

    for (const char *r = out; *r; r++)
        if ((unsigned char)*r >= 0x20 && *r != '"' && *r != 0x7f)
            *w++ = *r;
    *w = '\0';
    return out;
}

static struct icaltimetype utc_time(int64_t t)
{
    return icaltime_from_timet_with_zone((time_t)t, 0,
                                         icaltimezone_get_utc_timezone());
}

static icalproperty *party(bool organizer, const char *name, const char *email,
                           struct bk_arena *arena)
{
    const char *uri = bk_arena_printf(arena, "mailto:%s", email);
    icalproperty *p = organizer ? icalproperty_new_organizer(uri)
                                : icalproperty_new_attendee(uri);

    if (name && *name)
        icalproperty_add_parameter(
            p, icalparameter_new_cn(param_text(name, arena)));
    if (!organizer) {
        icalproperty_add_parameter(
            p, icalparameter_new_role(ICAL_ROLE_REQPARTICIPANT));
        icalproperty_add_parameter(
            p, icalparameter_new_partstat(ICAL_PARTSTAT_NEEDSACTION));
        icalproperty_add_parameter(p, icalparameter_new_rsvp(ICAL_RSVP_TRUE));
    }
    return p;
}

char *bk_ics_build(const struct bk_ics_event *ev, struct bk_arena *arena)
{
    icalcomponent *cal = icalcomponent_new_vcalendar();
    icalcomponent *vev = icalcomponent_new_vevent();
    char *text, *out;

    icalcomponent_add_property(
        cal, icalproperty_new_prodid("-//bookingd//bookingd//EN"));
    icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
    icalcomponent_add_property(cal, icalproperty_new_calscale("GREGORIAN"));
    if (ev->method)
        icalcomponent_add_property(
            cal,
            icalproperty_new_method(icalenum_string_to_method(ev->method)));
    icalcomponent_add_property(vev, icalproperty_new_uid(ev->uid));
    icalcomponent_add_property(vev, icalproperty_new_sequence(ev->sequence));
    icalcomponent_add_property(
        vev, icalproperty_new_dtstamp(utc_time(ev->stamp_utc)));
    icalcomponent_add_property(
        vev, icalproperty_new_dtstart(utc_time(ev->start_utc)));
    icalcomponent_add_property(vev,
                               icalproperty_new_dtend(utc_time(ev->end_utc)));
    icalcomponent_add_property(vev, icalproperty_new_summary(ev->summary));
    if (ev->description)
        icalcomponent_add_property(
            vev, icalproperty_new_description(ev->description));
    if (ev->location && *ev->location)
        icalcomponent_add_property(vev,
                                   icalproperty_new_location(ev->location));
    if (ev->url && *ev->url)
        icalcomponent_add_property(vev, icalproperty_new_url(ev->url));
    icalcomponent_add_property(
        vev, icalproperty_new_status(ev->cancelled ? ICAL_STATUS_CANCELLED
                                                   : ICAL_STATUS_CONFIRMED));
    {
        icalproperty *org =
            party(true, ev->organizer_name, ev->organizer_email, arena);
        icalproperty *att =
            party(false, ev->attendee_name, ev->attendee_email, arena);
        if (ev->schedule_agent_client) {
            icalproperty_add_parameter(org, icalparameter_new_scheduleagent(
                                                ICAL_SCHEDULEAGENT_CLIENT));
            icalproperty_add_parameter(att, icalparameter_new_scheduleagent(
                                                ICAL_SCHEDULEAGENT_CLIENT));
        }
        icalcomponent_add_property(vev, org);
        icalcomponent_add_property(vev, att);
    }
    icalcomponent_add_component(cal, vev);
    text = icalcomponent_as_ical_string_r(cal);
    out = bk_arena_strdup(arena, text ? text : "");
    free(text);
    icalcomponent_free(cal);
    return out;
}
