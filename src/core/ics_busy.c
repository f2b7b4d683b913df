/* core/ics_busy.c — busy intervals of calendar objects (ics_busy.h), with
 * libical's parser and recurrence iterator; wall times become UTC through
 * core/tz.c (RFC 5545 §3.3.5 gap rules), not libical's conversion. */
#include <stdbool.h>
#include <string.h>

#include <libical/ical.h>

#include "base/time.h"
#include "core/ics_busy.h"
#include "base/banned.h"

struct acc {
    struct bk_ics_busy *v;
    size_t n, cap, instances;
    struct bk_arena *arena;
    const char *summary; /* of the event being expanded */
};

static void push(struct acc *a, int64_t s, int64_t e, const char *uid)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct bk_ics_busy *v = bk_arena_alloc(a->arena, cap * sizeof(*v));
        if (a->n)
            memcpy(v, a->v, a->n * sizeof(*v));
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n].start_utc = s;
    a->v[a->n].end_utc = e;
    a->v[a->n].uid = uid;
    a->v[a->n].summary = a->summary;
    a->n++;
}

/* The zone a DTSTART/DTEND property names, or dflt. */
static const struct bk_tz *zone_of(icalproperty *p, const struct bk_tz *dflt)
{
    icalparameter *tzid =
        p ? icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER) : NULL;
    const char *name = tzid ? icalparameter_get_tzid(tzid) : NULL;
    const struct bk_tz *tz;
    const char *slash;

    if (!name)
        return dflt;
    if ((tz = bk_tz_get(name)))
        return tz;
    /* "/mozilla.org/20050126_1/Europe/Berlin" and the like: the last two
     * segments are often an IANA name. */
    slash = strrchr(name, '/');
    while (slash && slash > name) {
        const char *p2 = slash - 1;
        while (p2 > name && *p2 != '/')
            p2--;
        if ((tz = bk_tz_get(*p2 == '/' ? p2 + 1 : p2)))
            return tz;
        break;
    }
    return dflt;
}

/* A wall time (or a UTC one) as UTC seconds. */
static int64_t to_utc(struct icaltimetype t, const struct bk_tz *tz)
{
    int64_t local = bk_days_from_civil(t.year, t.month, t.day) * 86400 +
                    (t.is_date ? 0 : t.hour * 3600 + t.minute * 60 + t.second);

    if (icaltime_is_utc(t))
        return local;
    return bk_tz_local_to_utc(tz, local);
}

/* Whether the event is free time: transparent or cancelled. */
static bool is_free(icalcomponent *ev)
{
    icalproperty *p =
        icalcomponent_get_first_property(ev, ICAL_TRANSP_PROPERTY);

    if (p && icalproperty_get_transp(p) == ICAL_TRANSP_TRANSPARENT)
        return true;
    p = icalcomponent_get_first_property(ev, ICAL_STATUS_PROPERTY);
    return p && icalproperty_get_status(p) == ICAL_STATUS_CANCELLED;
}

/* The event's length in seconds from an instance's start (UTC) in zone;
 * the wall-clock length for all-day events, so that a day stays a day
 * across a DST change. */
static int64_t end_of(icalcomponent *ev, struct icaltimetype start,
                      struct icaltimetype dtstart, const struct bk_tz *tz)
{
    icalproperty *pe =
        icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY);
    icalproperty *pd =
        icalcomponent_get_first_property(ev, ICAL_DURATION_PROPERTY);
    struct icaltimetype end;

    if (pe) {
        struct icaltimetype dtend = icalproperty_get_dtend(pe);
        const struct bk_tz *etz = zone_of(pe, tz);
        int64_t len_wall =
            (bk_days_from_civil(dtend.year, dtend.month, dtend.day) -
             bk_days_from_civil(dtstart.year, dtstart.month, dtstart.day)) *
                86400 +
            (dtend.is_date
                 ? 0
                 : dtend.hour * 3600 + dtend.minute * 60 + dtend.second) -
            (dtstart.is_date
                 ? 0
                 : dtstart.hour * 3600 + dtstart.minute * 60 + dtstart.second);
        if (dtstart.is_date) {
            end = start;
            icaltime_adjust(&end, (int)(len_wall / 86400), 0, 0, 0);
            return to_utc(end, tz);
        }
        /* Timed: the same absolute length as the master's. */
        return to_utc(start, tz) + (to_utc(dtend, etz) - to_utc(dtstart, tz));
    }
    if (pd) {
        struct icaldurationtype d = icalproperty_get_duration(pd);
        end = icaltime_add(start, d);
        if (dtstart.is_date)
            return to_utc(end, tz);
        return to_utc(start, tz) + icaldurationtype_as_int(d);
    }
    if (dtstart.is_date) {
        end = start;
        icaltime_adjust(&end, 1, 0, 0, 0);
        return to_utc(end, tz);
    }
    return to_utc(start, tz); /* no length: free */
}

/* Whether the master's instance at t (a wall time) is replaced by an
 * override of the same UID, or excluded by EXDATE. */
static bool replaced(icalcomponent *vcal, icalcomponent *master,
                     const char *uid, struct icaltimetype t,
                     const struct bk_tz *tz)
{
    int64_t at = to_utc(t, tz);

    for (icalproperty *p =
             icalcomponent_get_first_property(master, ICAL_EXDATE_PROPERTY);
         p; p = icalcomponent_get_next_property(master, ICAL_EXDATE_PROPERTY))
        if (to_utc(icalproperty_get_exdate(p), zone_of(p, tz)) == at)
            return true;
    /* An iterator of its own: the caller walks vcal's internal one. */
    for (icalcompiter it =
             icalcomponent_begin_component(vcal, ICAL_VEVENT_COMPONENT);
         icalcompiter_deref(&it); icalcompiter_next(&it)) {
        icalcomponent *c = icalcompiter_deref(&it);
        icalproperty *rid =
            icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY);
        const char *u = icalcomponent_get_uid(c);
        if (c == master || !rid || !u || strcmp(u, uid) != 0)
            continue;
        if (to_utc(icalproperty_get_recurrenceid(rid), zone_of(rid, tz)) == at)
            return true;
    }
    return false;
}

static enum bk_err one_event(icalcomponent *vcal, icalcomponent *ev,
                             int64_t from_utc, int64_t to_utc_,
                             const struct bk_tz *zone, struct acc *a,
                             struct bk_errbuf *err)
{
    icalproperty *ps =
        icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    icalproperty *rr =
        icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY);
    icalproperty *rid =
        icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY);
    const char *uid = icalcomponent_get_uid(ev);
    const char *uid_copy = bk_arena_strdup(a->arena, uid ? uid : "");
    const char *summary = icalcomponent_get_summary(ev);
    struct icaltimetype dtstart;
    const struct bk_tz *tz;

    if (!ps || is_free(ev))
        return BK_OK;
    a->summary = summary ? bk_arena_strdup(a->arena, summary) : NULL;
    dtstart = icalproperty_get_dtstart(ps);
    if (icaltime_is_null_time(dtstart) || !icaltime_is_valid_time(dtstart))
        return BK_OK;
    tz = dtstart.is_date ? zone : zone_of(ps, zone);
    if (!rr || rid) { /* a single event, or one override */
        int64_t s = to_utc(dtstart, tz), e = end_of(ev, dtstart, dtstart, tz);
        if (e > s && e > from_utc && s < to_utc_)
            push(a, s, e, uid_copy);
        if (++a->instances > BK_ICS_BUSY_MAX_INSTANCES)
            return bk_fail(err, BK_E_TOO_LARGE,
                           "more than %d event instances in the window",
                           BK_ICS_BUSY_MAX_INSTANCES);
        return BK_OK;
    }
    {
        struct icalrecurrencetype rule = icalproperty_get_rrule(rr);
        icalrecur_iterator *it = icalrecur_iterator_new(rule, dtstart);
        struct icaltimetype t;
        enum bk_err e = BK_OK;
        size_t steps = 0;

        if (!it)
            return BK_OK; /* a rule libical cannot run: the event is skipped */
        for (t = icalrecur_iterator_next(it); !icaltime_is_null_time(t);
             t = icalrecur_iterator_next(it)) {
            int64_t s = to_utc(t, tz), end;
            if (s >= to_utc_)
                break;
            /* Instances long before the window cost steps too: bounded. */
            if (++steps > 20 * BK_ICS_BUSY_MAX_INSTANCES) {
                e = bk_fail(err, BK_E_TOO_LARGE,
                            "a recurrence of more than %d steps before the "
                            "window's end",
                            20 * BK_ICS_BUSY_MAX_INSTANCES);
                break;
            }
            end = end_of(ev, t, dtstart, tz);
            if (end <= from_utc || end <= s ||
                replaced(vcal, ev, uid ? uid : "", t, tz))
                continue;
            push(a, s, end, uid_copy);
            if (++a->instances > BK_ICS_BUSY_MAX_INSTANCES) {
                e = bk_fail(err, BK_E_TOO_LARGE,
                            "more than %d event instances in the window",
                            BK_ICS_BUSY_MAX_INSTANCES);
                break;
            }
        }
        icalrecur_iterator_free(it);
        if (e)
            return e;
        for (icalproperty *p =
                 icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY);
             p; p = icalcomponent_get_next_property(ev, ICAL_RDATE_PROPERTY)) {
            struct icaldatetimeperiodtype r = icalproperty_get_rdate(p);
            int64_t s, end;
            if (icaltime_is_null_time(r.time))
                continue;
            s = to_utc(r.time, zone_of(p, tz));
            end = s + (end_of(ev, dtstart, dtstart, tz) - to_utc(dtstart, tz));
            if (end > from_utc && s < to_utc_ && end > s &&
                !replaced(vcal, ev, uid ? uid : "", r.time, tz))
                push(a, s, end, uid_copy);
        }
    }
    return BK_OK;
}

enum bk_err bk_ics_busy(const char *text, int64_t from_utc, int64_t to_utc_,
                        const struct bk_tz *zone, struct bk_arena *arena,
                        struct bk_ics_busy **out, size_t *n,
                        struct bk_errbuf *err)
{
    icalcomponent *root = text ? icalparser_parse_string(text) : NULL;
    icalcomponent *vcal = root;
    struct acc a = {*out, *n, *n, 0, arena, NULL};
    enum bk_err e = BK_OK;

    if (!root)
        return bk_fail(err, BK_E_MALFORMED, "not an iCalendar object");
    if (icalcomponent_isa(root) == ICAL_XROOT_COMPONENT)
        vcal =
            icalcomponent_get_first_component(root, ICAL_VCALENDAR_COMPONENT);
    if (!vcal || icalcomponent_isa(vcal) != ICAL_VCALENDAR_COMPONENT) {
        icalcomponent_free(root);
        return bk_fail(err, BK_E_MALFORMED, "not a VCALENDAR");
    }
    for (icalcomponent *ev =
             icalcomponent_get_first_component(vcal, ICAL_VEVENT_COMPONENT);
         ev && !e;
         ev = icalcomponent_get_next_component(vcal, ICAL_VEVENT_COMPONENT))
        e = one_event(vcal, ev, from_utc, to_utc_, zone, &a, err);
    icalcomponent_free(root);
    *out = a.v;
    *n = a.n;
    return e;
}
