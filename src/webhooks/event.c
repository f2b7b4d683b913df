/* webhooks/event.c — a normalized event (core/event.h) as the JSON text
 * stored with its delivery (inbox.normalized), and back. The intake
 * encodes what the provider normalized; the apply job decodes it instead of
 * parsing the payload again. The text carries a version: a build reads only
 * its own version and normalizes the payload again otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "webhooks/webhooks.h"
#include "base/str.h"
#include "core/ledger.h"
#include "base/banned.h"

static void put_str(json_t *o, const char *key, const char *s)
{
    if (s)
        json_object_set_new(o, key, json_string(s));
}

static void put_int(json_t *o, const char *key, int64_t v)
{
    if (v)
        json_object_set_new(o, key, json_integer((json_int_t)v));
}

static json_t *person(const struct bk_ext_person *p)
{
    json_t *o = json_object();

    put_str(o, "name", p->name);
    put_str(o, "email", p->email);
    put_str(o, "timezone", p->timezone);
    put_str(o, "username", p->username);
    return o;
}

static json_t *booking(const struct bk_ext_booking *b)
{
    json_t *o = json_object();

    put_str(o, "uid", b->uid);
    put_str(o, "previous_uid", b->previous_uid);
    put_str(o, "booking_id", b->booking_id);
    put_int(o, "start_utc", b->start_utc);
    put_int(o, "end_utc", b->end_utc);
    json_object_set_new(o, "attendee", person(&b->attendee));
    json_object_set_new(o, "organizer", person(&b->organizer));
    put_str(o, "event_type_id", b->event_type_id);
    put_str(o, "event_type_slug", b->event_type_slug);
    put_str(o, "event_type_title", b->event_type_title);
    put_int(o, "length_min", b->length_min);
    put_str(o, "title", b->title);
    put_str(o, "notes", b->notes);
    put_str(o, "location", b->location);
    put_str(o, "meeting_url", b->meeting_url);
    put_str(o, "cancellation_reason", b->cancellation_reason);
    put_str(o, "next_uid", b->next_uid);
    put_str(o, "mark_id", b->mark_id);
    if (b->by_attendance)
        json_object_set_new(o, "by_attendance", json_true());
    return o;
}

const char *bk_webhooks_event_encode(const struct bk_ext_event *ev,
                                     struct bk_arena *arena)
{
    json_t *o = json_object();
    const char *out = NULL;
    char *text;

    json_object_set_new(o, "version", json_integer(BK_EXT_EVENT_VERSION));
    json_object_set_new(o, "kind", json_string(bk_ext_kind_name(ev->kind)));
    put_str(o, "provider", ev->provider);
    switch (ev->kind) {
    case BK_EXT_BOOKING_CREATED:
    case BK_EXT_BOOKING_RESCHEDULED:
    case BK_EXT_BOOKING_CANCELLED:
    case BK_EXT_MEETING_ENDED:
    case BK_EXT_BOOKING_REPLACED:
    case BK_EXT_NO_SHOW_MARKED:
    case BK_EXT_NO_SHOW_CLEARED:
    case BK_EXT_ATTENDEE_JOINED:
    case BK_EXT_REMOTE_CHANGED:
        json_object_set_new(o, "booking", booking(&ev->booking));
        break;
    case BK_EXT_PAYMENT_COMPLETED:
    case BK_EXT_PAYMENT_SUCCEEDED:
    case BK_EXT_PAYMENT_FAILED:
    case BK_EXT_PAYMENT_EXPIRED:
    case BK_EXT_PAYMENT_REFUNDED: {
        json_t *p = json_object();
        put_str(p, "booking_uid", ev->payment.booking_uid);
        put_str(p, "session_id", ev->payment.session_id);
        put_str(p, "payment_intent", ev->payment.payment_intent);
        put_str(p, "payment_status", ev->payment.payment_status);
        put_int(p, "amount_minor", ev->payment.amount_minor);
        put_int(p, "refunded_minor", ev->payment.refunded_minor);
        put_str(p, "currency", ev->payment.currency);
        json_object_set_new(o, "payment", p);
        break;
    }
    }
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    if (text)
        out = bk_arena_strdup(arena, text);
    free(text);
    json_decref(o);
    return out;
}

static const char *get_str(struct bk_arena *arena, const json_t *o,
                           const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? bk_arena_strdup(arena, json_string_value(v))
                             : NULL;
}

static int64_t get_int(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static void get_person(struct bk_arena *arena, const json_t *o,
                       struct bk_ext_person *p)
{
    memset(p, 0, sizeof(*p));
    p->name = get_str(arena, o, "name");
    p->email = get_str(arena, o, "email");
    p->timezone = get_str(arena, o, "timezone");
    p->username = get_str(arena, o, "username");
}

enum bk_err bk_webhooks_event_decode(const char *text,
                                     const struct bk_webhook_provider *p,
                                     struct bk_arena *arena,
                                     struct bk_ext_event *ev,
                                     struct bk_errbuf *err)
{
    json_t *o = NULL;
    const json_t *b;
    const char *provider;
    int kind;
    int64_t len;
    enum bk_err e = BK_OK;

    if (!text || bk_webhooks_parse(text, strlen(text), &o, NULL) != BK_OK)
        return bk_fail(err, BK_E_INVALID, "no stored normalized event");
    kind = bk_ext_kind_parse(json_string_value(json_object_get(o, "kind")));
    provider = json_string_value(json_object_get(o, "provider"));
    if (get_int(o, "version") != BK_EXT_EVENT_VERSION || kind < 0 ||
        !provider || strcmp(provider, p->name) != 0) {
        e = bk_fail(err, BK_E_INVALID,
                    "the stored normalized event is not one of version %d "
                    "from %s",
                    BK_EXT_EVENT_VERSION, p->name);
        goto out;
    }
    bk_webhooks_event_init(ev, p, (enum bk_ext_kind)kind);
    if (BK_EXT_IS_PAYMENT(ev->kind)) {
        b = json_object_get(o, "payment");
        ev->payment.booking_uid = get_str(arena, b, "booking_uid");
        ev->payment.session_id = get_str(arena, b, "session_id");
        ev->payment.payment_intent = get_str(arena, b, "payment_intent");
        ev->payment.payment_status = get_str(arena, b, "payment_status");
        ev->payment.amount_minor = get_int(b, "amount_minor");
        ev->payment.refunded_minor = get_int(b, "refunded_minor");
        ev->payment.currency = get_str(arena, b, "currency");
        if (!ev->payment.booking_uid)
            e = bk_fail(err, BK_E_INVALID,
                        "the stored normalized event has no booking uid");
        goto out;
    }
    b = json_object_get(o, "booking");
    if (!json_is_object(b)) {
        e = bk_fail(err, BK_E_INVALID,
                    "the stored normalized event has no booking");
        goto out;
    }
    ev->booking.uid = get_str(arena, b, "uid");
    ev->booking.previous_uid = get_str(arena, b, "previous_uid");
    ev->booking.booking_id = get_str(arena, b, "booking_id");
    ev->booking.start_utc = get_int(b, "start_utc");
    ev->booking.end_utc = get_int(b, "end_utc");
    get_person(arena, json_object_get(b, "attendee"), &ev->booking.attendee);
    get_person(arena, json_object_get(b, "organizer"), &ev->booking.organizer);
    ev->booking.event_type_id = get_str(arena, b, "event_type_id");
    ev->booking.event_type_slug = get_str(arena, b, "event_type_slug");
    ev->booking.event_type_title = get_str(arena, b, "event_type_title");
    len = get_int(b, "length_min");
    ev->booking.length_min = len > 0 && len <= 1440 ? (int)len : 0;
    ev->booking.title = get_str(arena, b, "title");
    ev->booking.notes = get_str(arena, b, "notes");
    ev->booking.location = get_str(arena, b, "location");
    ev->booking.meeting_url = get_str(arena, b, "meeting_url");
    ev->booking.cancellation_reason = get_str(arena, b, "cancellation_reason");
    ev->booking.next_uid = get_str(arena, b, "next_uid");
    ev->booking.mark_id = get_str(arena, b, "mark_id");
    ev->booking.by_attendance =
        json_is_true(json_object_get(b, "by_attendance"));
    if (!ev->booking.uid)
        e = bk_fail(err, BK_E_INVALID,
                    "the stored normalized event has no booking uid");
out:
    json_decref(o);
    return e;
}
