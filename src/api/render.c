/* api/render.c — records to JSON. */
#include <stdint.h>
#include <string.h>

#include "api/fields.h"
#include "base/arena.h"
#include "api/json.h"
#include "api/render.h"
#include "base/str.h"
#include "base/time.h"
#include "core/booking.h"
#include "base/banned.h"

json_t *bk_render_instant(int64_t utc, const struct bk_tz *tz)
{
    char buf[BK_RFC3339_MAX];

    if (tz)
        bk_rfc3339_format_offset(utc, bk_tz_offset_at(tz, utc), buf);
    else
        bk_rfc3339_format_utc(utc, buf);
    return json_string(buf);
}

static json_t *instant_or_null(int64_t utc, const struct bk_tz *tz)
{
    return utc ? bk_render_instant(utc, tz) : json_null();
}

json_t *bk_render_host(const struct bk_host *h)
{
    return bk_fields_render(&bk_resource_host, h, true);
}

json_t *bk_render_schedule(const struct bk_schedule *s)
{
    json_t *weekly = json_array(), *overrides = json_array();
    char a[6], b[6], d[11];

    for (size_t i = 0; i < s->n_weekly; i++) {
        bk_hhmm_format(s->weekly[i].start_min, a);
        bk_hhmm_format(s->weekly[i].end_min, b);
        json_array_append_new(weekly,
                              json_pack("{s:s, s:s, s:s}", "day",
                                        bk_weekday_name(s->weekly[i].day),
                                        "start", a, "end", b));
    }
    for (size_t i = 0; i < s->n_overrides; i++) {
        const struct bk_date_override *o = &s->overrides[i];
        bk_date_format(o->date, d);
        if (o->unavailable) {
            json_array_append_new(overrides, json_pack("{s:s, s:b}", "date", d,
                                                       "unavailable", 1));
        } else {
            bk_hhmm_format(o->start_min, a);
            bk_hhmm_format(o->end_min, b);
            json_array_append_new(
                overrides,
                json_pack("{s:s, s:s, s:s}", "date", d, "start", a, "end", b));
        }
    }
    return json_pack("{s:s, s:o, s:o}", "timezone", s->timezone, "weekly",
                     weekly, "overrides", overrides);
}

json_t *bk_render_event_type(const struct bk_event_type *et, bool admin)
{
    const struct bk_slot_rules *r = &et->rules;
    json_t *o = json_object();

    json_object_set_new(o, "slug", json_string(et->slug));
    json_object_set_new(o, "title", json_string(et->title));
    json_object_set_new(o, "description", bk_json_str_or_null(et->description));
    json_object_set_new(o, "host", bk_json_str_or_null(et->host_slug));
    json_object_set_new(o, "duration_minutes", json_integer(r->duration_min));
    {
        /* Written by the ledger only, so well-formed; public (the booking
         * form asks them). */
        json_t *q = json_loads(et->questions ? et->questions : "[]", 0, NULL);
        json_object_set_new(o, "questions",
                            json_is_array(q) ? q : json_array());
        if (q && !json_is_array(q))
            json_decref(q);
    }
    json_object_set_new(
        o, "slot_interval_minutes",
        json_integer(r->interval_min ? r->interval_min : r->duration_min));
    json_object_set_new(o, "buffer_before_minutes",
                        json_integer(r->buffer_before_min));
    json_object_set_new(o, "buffer_after_minutes",
                        json_integer(r->buffer_after_min));
    json_object_set_new(o, "minimum_notice_minutes",
                        json_integer(r->notice_min));
    json_object_set_new(o, "horizon_days", json_integer(r->horizon_days));
    json_object_set_new(o, "max_per_day",
                        r->max_per_day ? json_integer(r->max_per_day)
                                       : json_null());
    json_object_set_new(o, "slot_alignment",
                        json_string(r->alignment == BK_ALIGN_RANGE_START
                                        ? "range_start"
                                        : "clock"));
    if (et->has_price)
        json_object_set_new(o, "price",
                            json_pack("{s:I, s:s}", "amount",
                                      (json_int_t)et->price_minor, "currency",
                                      et->currency));
    else
        json_object_set_new(o, "price", json_null());
    json_object_set_new(
        o, "refund_policy",
        json_pack("{s:i, s:i}", "full_refund_until_hours",
                  et->has_refund_policy ? et->refund_full_hours
                                        : BK_DEFAULT_REFUND_FULL_HOURS,
                  "late_refund_percent",
                  et->has_refund_policy ? et->refund_late_percent
                                        : BK_DEFAULT_REFUND_LATE_PERCENT));
    if (et->location_kind != BK_LOCATION_NONE)
        json_object_set_new(o, "location",
                            json_pack("{s:s, s:o}", "kind",
                                      bk_location_kind_name(et->location_kind),
                                      "value",
                                      bk_json_str_or_null(et->location_value)));
    else
        json_object_set_new(o, "location", json_null());
    json_object_set_new(o, "active", json_boolean(et->active));
    if (admin) {
        json_t *ids = json_object();
        const char *calcom = bk_event_type_external_id(et, "calcom");
        int64_t calcom_id = 0;

        for (size_t i = 0; i < et->n_external_ids; i++)
            json_object_set_new(ids, et->external_ids[i].provider,
                                json_string(et->external_ids[i].id));
        json_object_set_new(o, "external_ids", ids);
        /* Deprecated alias: external_ids.calcom as the integer it was. */
        if (calcom && bk_parse_i64(calcom, 1, INT64_MAX, &calcom_id) != BK_OK)
            calcom_id = 0;
        json_object_set_new(o, "calcom_event_type_id",
                            calcom_id ? json_integer(calcom_id) : json_null());
        json_object_set_new(o, "imported", json_boolean(et->imported));
        {
            json_t *rem = json_array();
            if (!et->has_reminders) {
                json_array_append_new(rem, json_integer(1440));
                json_array_append_new(rem, json_integer(60));
            }
            for (int i = 0; et->has_reminders && i < et->n_reminders; i++)
                json_array_append_new(rem, json_integer(et->reminders_min[i]));
            json_object_set_new(o, "reminders_minutes", rem);
        }
        json_object_set_new(o, "created_at",
                            bk_render_instant(et->created_utc, NULL));
        json_object_set_new(o, "updated_at",
                            bk_render_instant(et->updated_utc, NULL));
    }
    return o;
}

json_t *bk_render_client(const struct bk_client *c)
{
    return bk_fields_render(&bk_resource_client, c, true);
}

json_t *bk_render_booking(const struct bk_booking *b,
                          const struct bk_link *links, size_t n_links,
                          const struct bk_tz *tz, bool with_client)
{
    json_t *o = json_object(), *jl = json_array();

    json_object_set_new(o, "uid", json_string(b->uid));
    json_object_set_new(o, "event_type",
                        bk_json_str_or_null(b->event_type_slug));
    json_object_set_new(o, "event_type_title",
                        bk_json_str_or_null(b->event_type_title));
    json_object_set_new(o, "host", bk_json_str_or_null(b->host_slug));
    json_object_set_new(
        o, "client",
        with_client ? json_pack("{s:o, s:o, s:o}", "id",
                                bk_json_str_or_null(b->client_public_id),
                                "name", bk_json_str_or_null(b->client_name),
                                "email", bk_json_str_or_null(b->client_email))
                    : json_null());
    json_object_set_new(
        o, "attendee",
        json_pack("{s:o, s:o}", "name", bk_json_str_or_null(b->attendee_name),
                  "email", bk_json_str_or_null(b->attendee_email)));
    json_object_set_new(o, "start", bk_render_instant(b->start_utc, tz));
    json_object_set_new(o, "end", bk_render_instant(b->end_utc, tz));
    json_object_set_new(o, "attendee_timezone",
                        bk_json_str_or_null(b->attendee_timezone));
    json_object_set_new(o, "status",
                        json_string(bk_booking_status_name(b->status)));
    json_object_set_new(o, "payment_status",
                        json_string(bk_payment_status_name(b->payment_status)));
    json_object_set_new(o, "source", json_string(bk_source_name(b->source)));
    json_object_set_new(o, "location", bk_json_str_or_null(b->location));
    json_object_set_new(o, "meeting_url", bk_json_str_or_null(b->meeting_url));
    json_object_set_new(o, "notes", bk_json_str_or_null(b->notes));
    if (with_client) {
        /* The answers to the event type's questions: the host's only. */
        json_t *a = b->answers ? json_loads(b->answers, 0, NULL) : NULL;
        json_object_set_new(o, "answers", json_is_array(a) ? a : json_array());
        if (a && !json_is_array(a))
            json_decref(a);
        /* Why it waits for the admin (docs/calendars.md "Ask"): the
         * admin's only. */
        json_object_set_new(o, "flag", bk_json_str_or_null(b->flag));
    }
    json_object_set_new(o, "cancellation_reason",
                        bk_json_str_or_null(b->cancellation_reason));
    json_object_set_new(o, "rescheduled_from",
                        instant_or_null(b->rescheduled_from_utc, tz));
    json_object_set_new(o, "created_at",
                        bk_render_instant(b->created_utc, NULL));
    json_object_set_new(o, "updated_at",
                        bk_render_instant(b->updated_utc, NULL));
    for (size_t i = 0; i < n_links; i++)
        json_array_append_new(jl, json_pack("{s:s, s:s, s:s, s:b}", "provider",
                                            links[i].provider, "kind",
                                            links[i].kind, "external_id",
                                            links[i].external_id, "superseded",
                                            links[i].superseded));
    json_object_set_new(o, "links", jl);
    return o;
}

static json_t *status_or_null(int s)
{
    return s >= 0
               ? json_string(bk_booking_status_name((enum bk_booking_status)s))
               : json_null();
}

json_t *bk_render_change(const struct bk_booking_change *c,
                         const struct bk_tz *tz)
{
    json_t *o = json_object(), *changes = json_object();

    json_object_set_new(o, "at", bk_render_instant(c->at_utc, NULL));
    json_object_set_new(o, "action", json_string(c->action));
    json_object_set_new(o, "actor", json_string(c->actor));
    if (c->from_status >= 0 || c->to_status >= 0)
        json_object_set_new(changes, "status",
                            json_pack("[o, o]", status_or_null(c->from_status),
                                      status_or_null(c->to_status)));
    if (c->new_start_utc || c->old_start_utc)
        json_object_set_new(changes, "start",
                            json_pack("[o, o]",
                                      instant_or_null(c->old_start_utc, tz),
                                      instant_or_null(c->new_start_utc, tz)));
    if (c->new_end_utc || c->old_end_utc)
        json_object_set_new(changes, "end",
                            json_pack("[o, o]",
                                      instant_or_null(c->old_end_utc, tz),
                                      instant_or_null(c->new_end_utc, tz)));
    json_object_set_new(o, "changes", changes);
    json_object_set_new(o, "note", bk_json_str_or_null(c->note));
    return o;
}

json_t *bk_render_activity(const struct bk_activity *a)
{
    json_t *o = json_object(), *detail = NULL;

    if (a->detail)
        detail = json_loads(a->detail, 0, NULL);
    json_object_set_new(o, "id", json_integer(a->id));
    json_object_set_new(o, "at", bk_render_instant(a->at_utc, NULL));
    json_object_set_new(o, "kind", json_string(a->kind));
    json_object_set_new(o, "booking", bk_json_str_or_null(a->booking_uid));
    json_object_set_new(o, "client", bk_json_str_or_null(a->client_public_id));
    json_object_set_new(o, "source", bk_json_str_or_null(a->source));
    json_object_set_new(o, "detail", detail ? detail : json_null());
    return o;
}

static json_t *ms_or_null(int64_t ms)
{
    if (!ms)
        return json_null();
    return bk_render_instant(bk_floordiv(ms, 1000), NULL);
}

const char *bk_render_job_state(enum bk_job_status status, int attempts)
{
    if (status == BK_JOB_PENDING)
        return attempts > 0 ? "retrying" : "queued";
    return bk_job_status_name(status);
}

json_t *bk_render_job(const struct bk_job *j, bool with_payload)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_integer(j->id));
    json_object_set_new(o, "kind", json_string(j->kind));
    json_object_set_new(
        o, "status", json_string(bk_render_job_state(j->status, j->attempts)));
    json_object_set_new(o, "attempts", json_integer(j->attempts));
    json_object_set_new(o, "max_attempts", json_integer(j->max_attempts));
    json_object_set_new(o, "last_error", bk_json_str_or_null(j->last_error));
    json_object_set_new(o, "next_attempt_at",
                        j->status == BK_JOB_PENDING ? ms_or_null(j->run_at_ms)
                                                    : json_null());
    json_object_set_new(o, "lease_until",
                        j->status == BK_JOB_RUNNING
                            ? ms_or_null(j->lease_until_ms)
                            : json_null());
    json_object_set_new(o, "dedupe_key", bk_json_str_or_null(j->dedupe_key));
    json_object_set_new(o, "created_at", ms_or_null(j->created_ms));
    json_object_set_new(o, "updated_at", ms_or_null(j->updated_ms));
    if (with_payload) {
        json_t *p = NULL;
        if (j->payload)
            p = json_loads(j->payload, JSON_DECODE_ANY, NULL);
        if (!p && j->payload)
            p = json_string(j->payload);
        json_object_set_new(o, "payload", p ? p : json_null());
    }
    return o;
}

json_t *bk_render_delivery(const struct bk_delivery *d, bool with_payload)
{
    json_t *o = json_object();
    const char *status = bk_delivery_status_name(d->status);

    /* A stored delivery whose job has failed attempts is being retried. */
    if (d->status == BK_DELIVERY_RECEIVED && d->attempts > 0 && d->error)
        status = "retrying";
    json_object_set_new(o, "id", json_string(d->public_id));
    json_object_set_new(o, "provider", json_string(d->provider));
    json_object_set_new(o, "delivery_id", json_string(d->delivery_key));
    json_object_set_new(o, "type", bk_json_str_or_null(d->type));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "attempts", json_integer(d->attempts));
    json_object_set_new(o, "last_error", bk_json_str_or_null(d->error));
    json_object_set_new(o, "received_at", ms_or_null(d->received_ms));
    json_object_set_new(o, "processed_at", ms_or_null(d->processed_ms));
    json_object_set_new(o, "next_attempt_at", ms_or_null(d->next_attempt_ms));
    json_object_set_new(o, "payload_bytes",
                        json_integer((json_int_t)d->payload_len));
    if (with_payload) {
        json_t *p =
            d->payload ? json_stringn(d->payload, d->payload_len) : NULL;
        /* A body that is not valid UTF-8 cannot be a JSON string. */
        json_object_set_new(o, "payload", p ? p : json_null());
    }
    return o;
}

json_t *bk_render_slots(const char *event_type_slug, const struct bk_tz *tz,
                        const struct bk_slot *slots, size_t n)
{
    json_t *days = json_object(), *day = NULL;
    int64_t cur = INT64_MIN;
    char d[11];

    for (size_t i = 0; i < n; i++) {
        int64_t date = bk_tz_local_date(tz, slots[i].start_utc);
        if (date != cur || !day) {
            cur = date;
            bk_date_format(date, d);
            day = json_object_get(days, d);
            if (!day) {
                day = json_array();
                json_object_set_new(days, d, day);
            }
        }
        json_array_append_new(
            day, json_pack("{s:o, s:o}", "start",
                           bk_render_instant(slots[i].start_utc, tz), "end",
                           bk_render_instant(slots[i].end_utc, tz)));
    }
    return json_pack("{s:o, s:s, s:o}", "event_type",
                     bk_json_str_or_null(event_type_slug), "timezone",
                     bk_tz_name(tz), "slots", days);
}

/* ---- The slots answer, written directly ---------------------------------
 * The tree of bk_render_slots costs an allocation per value and a
 * serialization of the whole tree twice (bk_json_dump sizes it first), and
 * every slot looked its offset up three times behind libical's lock: most
 * of a slot query's time. */

/* An offset and the instants [from, until) in which it is in force. */
struct offset_cache {
    int64_t from, until;
    int32_t off;
    bool valid;
};

static int32_t cached_offset(const struct bk_tz *tz, struct offset_cache *c,
                             int64_t utc)
{
    if (!c->valid || utc < c->from || utc >= c->until) {
        c->off = bk_tz_offset_span(tz, utc, &c->until);
        c->from = utc;
        c->valid = true;
    }
    return c->off;
}

/* The longest JSON string of n bytes: every byte as \u00XX, and quotes. */
static size_t escaped_max(const char *s)
{
    return s ? 6 * strlen(s) + 2 : 4;
}

/* s as a JSON string, as jansson writes it: '"' and '\\' escaped, the
 * control characters as \b \f \n \r \t or \u00XX, everything else
 * (UTF-8 included) as is. NULL is null. */
static char *put_string(char *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    if (!s) {
        memcpy(p, "null", 4);
        return p + 4;
    }
    *p++ = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char esc = 0;

        switch (ch) {
        case '"':
            esc = '"';
            break;
        case '\\':
            esc = '\\';
            break;
        case '\b':
            esc = 'b';
            break;
        case '\f':
            esc = 'f';
            break;
        case '\n':
            esc = 'n';
            break;
        case '\r':
            esc = 'r';
            break;
        case '\t':
            esc = 't';
            break;
        default:
            break;
        }
        if (esc) {
            *p++ = '\\';
            *p++ = esc;
        } else if (ch < 0x20) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[ch >> 4];
            p[5] = hex[ch & 15];
            p += 6;
        } else {
            *p++ = (char)ch;
        }
    }
    *p++ = '"';
    return p;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_instant(char *p, int64_t utc, int32_t off)
{
    char buf[BK_RFC3339_MAX];

    bk_rfc3339_format_offset(utc, off, buf);
    return put(p, buf, strlen(buf));
}

char *bk_render_slots_text(struct bk_arena *arena, const char *event_type_slug,
                           const struct bk_tz *tz, const struct bk_slot *slots,
                           size_t n, size_t *len)
{
    /* {"start":"…","end":"…"}, and a comma; a new day "YYYY-MM-DD":[ ],. */
    const size_t per_slot = 2 * BK_RFC3339_MAX + 24, per_day = 32;
    struct offset_cache at_start = {0}, at_end = {0};
    int64_t cur = INT64_MIN;
    size_t cap;
    char *text, *p;

    cap = 64 + escaped_max(event_type_slug) + escaped_max(bk_tz_name(tz)) +
          n * (per_slot + per_day);
    text = p = bk_arena_alloc(arena, cap);
    p = PUT(p, "{\"event_type\":");
    p = put_string(p, event_type_slug);
    p = PUT(p, ",\"timezone\":");
    p = put_string(p, bk_tz_name(tz));
    p = PUT(p, ",\"slots\":{");
    for (size_t i = 0; i < n; i++) {
        int32_t off = cached_offset(tz, &at_start, slots[i].start_utc);
        int64_t date = bk_floordiv(slots[i].start_utc + off, BK_SECS_PER_DAY);

        if (date < cur) {
            /* A fall-back across midnight: a later slot starts on an
             * earlier date, and the tree files it under that date's key
             * (bk_render_slots). Rare enough to take the slow way. */
            json_t *tree = bk_render_slots(event_type_slug, tz, slots, n);
            text = bk_json_dump(arena, tree, len);
            json_decref(tree);
            return text;
        }
        if (date != cur) {
            char d[11];
            if (i > 0)
                p = PUT(p, "],");
            cur = date;
            bk_date_format(date, d);
            *p++ = '"';
            p = put(p, d, 10);
            p = PUT(p, "\":[");
        } else {
            *p++ = ',';
        }
        p = PUT(p, "{\"start\":\"");
        p = put_instant(p, slots[i].start_utc, off);
        p = PUT(p, "\",\"end\":\"");
        p = put_instant(p, slots[i].end_utc,
                        cached_offset(tz, &at_end, slots[i].end_utc));
        p = PUT(p, "\"}");
    }
    if (n > 0)
        *p++ = ']';
    p = PUT(p, "}}");
    *p = '\0';
    *len = (size_t)(p - text);
    return text;
}
