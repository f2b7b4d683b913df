/* webhooks/calcom.c — Cal.com webhooks (PROVIDERS.md §3).
 * Signature: X-Cal-Signature-256 is the lowercase hex HMAC-SHA256 of the raw
 * body keyed with the webhook's secret; no timestamp, so replays are caught
 * by the inbox's delivery key instead. Cal.com sends no delivery id: the key
 * is trigger + uid + createdAt, or a hash of the body when those are absent.
 * Bodies are {"triggerEvent", "createdAt", "payload": {...}}, except
 * MEETING_STARTED/MEETING_ENDED, which carry the booking row's fields flat
 * next to triggerEvent (calcom issue #12494); both shapes are accepted. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "webhooks/webhooks.h"
#include "webhooks/fields.h"
#include "base/str.h"
#include "base/time.h"
#include "core/ledger.h"
#include "core/tz.h"
#include "crypto/crypto.h"
#include "base/banned.h"

#define MAX_TRIGGER    64
#define MAX_UID        200
#define MAX_CREATED_AT 64

static enum bk_err verify(const struct bk_webhook_input *in, const char *secret,
                          struct bk_errbuf *err)
{
    const char *sig = in->header(in->header_ctx, "X-Cal-Signature-256");
    unsigned char want[BK_SHA256_LEN], got[BK_SHA256_LEN];
    struct bk_iov body = {in->body, in->body_len};

    if (!sig || !*sig)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "missing X-Cal-Signature-256 header");
    if (strcmp(sig, "no-secret-provided") == 0)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "the Cal.com webhook has no secret; set the same "
                       "secret there as in CALCOM_WEBHOOK_SECRET");
    if (!bk_hex_decode(sig, got, sizeof(got)))
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "X-Cal-Signature-256 is not a SHA-256 hex digest");
    bk_hmac_sha256(secret, strlen(secret), &body, 1, want);
    if (!bk_ct_equal(want, got, sizeof(want)))
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "X-Cal-Signature-256 does not match the body");
    return BK_OK;
}

static bool trigger_ok(const char *t)
{
    if (!t || !*t || strlen(t) > MAX_TRIGGER)
        return false;
    for (; *t; t++)
        if (!((*t >= 'A' && *t <= 'Z') || *t == '_' ||
              (*t >= '0' && *t <= '9')))
            return false;
    return true;
}

static bool known(const char *t)
{
    return strcmp(t, "BOOKING_CREATED") == 0 ||
           strcmp(t, "BOOKING_RESCHEDULED") == 0 ||
           strcmp(t, "BOOKING_CANCELLED") == 0 ||
           strcmp(t, "MEETING_ENDED") == 0;
}

/* The object carrying the booking: payload when wrapped, else the root. */
static const json_t *booking_of(const json_t *root, const char **prefix)
{
    const json_t *p = json_object_get(root, "payload");
    if (json_is_object(p)) {
        *prefix = "payload.";
        return p;
    }
    *prefix = "";
    return root;
}

static enum bk_err identify(const json_t *root, struct bk_arena *arena,
                            struct bk_webhook_id *out, struct bk_errbuf *err)
{
    const json_t *b;
    const char *trigger, *uid, *created, *prefix;

    memset(out, 0, sizeof(*out));
    trigger = bk_webhook_str(root, "triggerEvent", MAX_TRIGGER);
    if (!trigger_ok(trigger))
        return bk_fail_field(err, BK_E_INVALID, "triggerEvent",
                             "is required: an upper-case trigger name such "
                             "as BOOKING_CREATED");
    b = booking_of(root, &prefix);
    uid = bk_webhook_str(b, "uid", MAX_UID);
    created = bk_webhook_str(root, "createdAt", MAX_CREATED_AT);
    out->type = bk_arena_strdup(arena, trigger);
    out->known = known(trigger);
    out->subject = uid && *uid ? bk_arena_strdup(arena, uid) : NULL;
    /* Without both, the intake keys the delivery by the body's hash. */
    if (uid && *uid && created && *created)
        out->delivery_key =
            bk_arena_printf(arena, "%s:%s:%s", trigger, uid, created);
    return BK_OK;
}

static const char *copy(struct bk_arena *arena, const json_t *obj,
                        const char *key, size_t max)
{
    return bk_arena_strdup(arena, bk_webhook_str(obj, key, max));
}

/* An http(s) URL of sane length, or NULL. */
static const char *url(struct bk_arena *arena, const char *s)
{
    if (!s || strlen(s) > BK_MAX_URL ||
        (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0))
        return NULL;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ')
            return NULL;
    return bk_arena_strdup(arena, s);
}

static enum bk_err instant(const json_t *b, const char *prefix, const char *key,
                           bool required, struct bk_arena *arena, int64_t *out,
                           struct bk_errbuf *err)
{
    const json_t *v = json_object_get(b, key);

    *out = 0;
    if (!v || json_is_null(v)) {
        if (required)
            return bk_fail_field(err, BK_E_INVALID,
                                 bk_arena_printf(arena, "%s%s", prefix, key),
                                 "is required");
        return BK_OK;
    }
    if (!json_is_string(v) ||
        bk_rfc3339_parse(json_string_value(v), out, NULL) != BK_OK)
        return bk_fail_field(err, BK_E_INVALID,
                             bk_arena_printf(arena, "%s%s", prefix, key),
                             "must be an ISO 8601 / RFC 3339 date-time");
    return BK_OK;
}

/* A person object: {name, email, timeZone[, username]}. Overlong or
 * invalid values are dropped rather than trusted. */
static void person(struct bk_arena *arena, const json_t *o,
                   struct bk_ext_person *out)
{
    const char *tz, *email;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(o))
        return;
    out->name = copy(arena, o, "name", BK_MAX_NAME);
    email = bk_webhook_str(o, "email", BK_MAX_EMAIL);
    out->email = bk_email_valid(email) ? bk_arena_strdup(arena, email) : NULL;
    tz = bk_webhook_str(o, "timeZone", 64);
    out->timezone = tz && bk_tz_get(tz) ? bk_arena_strdup(arena, tz) : NULL;
    out->username = copy(arena, o, "username", BK_MAX_SLUG);
}

/* responses.<key> is a string in booking rows and {"value": string} in
 * wrapped payloads. */
static const char *response(const json_t *b, const char *key, size_t max)
{
    const json_t *r = json_object_get(json_object_get(b, "responses"), key);
    if (json_is_object(r))
        r = json_object_get(r, "value");
    if (!json_is_string(r) || json_string_length(r) > max)
        return NULL;
    return json_string_value(r);
}

static int64_t number(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v) && json_integer_value(v) > 0)
        return json_integer_value(v);
    return 0;
}

static enum bk_err normalize(const json_t *root, struct bk_arena *arena,
                             struct bk_ext_event *ev, struct bk_errbuf *err)
{
    struct bk_ext_booking *bk = &ev->booking;
    const json_t *b, *atts, *meta, *vcd;
    const char *trigger, *prefix, *uid;
    enum bk_ext_kind kind;
    int64_t id;
    bool needs_times;
    enum bk_err e = BK_OK;

    memset(ev, 0, sizeof(*ev));
    trigger = bk_webhook_str(root, "triggerEvent", MAX_TRIGGER);
    if (!trigger_ok(trigger) || !known(trigger))
        return bk_fail_field(err, BK_E_INVALID, "triggerEvent",
                             "is not a trigger bookingd applies");
    if (strcmp(trigger, "BOOKING_CREATED") == 0)
        kind = BK_EXT_BOOKING_CREATED;
    else if (strcmp(trigger, "BOOKING_RESCHEDULED") == 0)
        kind = BK_EXT_BOOKING_RESCHEDULED;
    else if (strcmp(trigger, "BOOKING_CANCELLED") == 0)
        kind = BK_EXT_BOOKING_CANCELLED;
    else
        kind = BK_EXT_MEETING_ENDED;
    bk_webhooks_event_init(ev, &bk_webhook_calcom, kind);

    b = booking_of(root, &prefix);
    if (ev->kind != BK_EXT_MEETING_ENDED && !*prefix) {
        e = bk_fail_field(err, BK_E_INVALID, "payload",
                          "is required: an object with the booking");
        goto out;
    }
    uid = bk_webhook_str(b, "uid", MAX_UID);
    if (!uid || !*uid) {
        e = bk_fail_field(err, BK_E_INVALID,
                          bk_arena_printf(arena, "%suid", prefix),
                          json_is_string(json_object_get(b, "uid")) &&
                                  json_string_length(json_object_get(b, "uid"))
                              ? "must be at most 200 characters"
                              : "is required: the Cal.com booking uid");
        goto out;
    }
    bk->uid = bk_arena_strdup(arena, uid);
    needs_times = ev->kind == BK_EXT_BOOKING_CREATED ||
                  ev->kind == BK_EXT_BOOKING_RESCHEDULED;
    if ((e = instant(b, prefix, "startTime", needs_times, arena, &bk->start_utc,
                     err)) ||
        (e = instant(b, prefix, "endTime", needs_times, arena, &bk->end_utc,
                     err)))
        goto out;
    if (bk->start_utc && bk->end_utc && bk->end_utc <= bk->start_utc) {
        e = bk_fail_field(err, BK_E_INVALID,
                          bk_arena_printf(arena, "%sendTime", prefix),
                          "must be after startTime");
        goto out;
    }
    if (!bk->start_utc || !bk->end_utc)
        bk->start_utc = bk->end_utc = 0; /* half a time is no time */

    atts = json_object_get(b, "attendees");
    if (json_is_array(atts) && json_array_size(atts) > 0)
        person(arena, json_array_get(atts, 0), &bk->attendee);
    if (!bk->attendee.email) {
        const char *email = response(b, "email", BK_MAX_EMAIL);
        if (bk_email_valid(email))
            bk->attendee.email = bk_arena_strdup(arena, email);
    }
    if (!bk->attendee.name)
        bk->attendee.name =
            bk_arena_strdup(arena, response(b, "name", BK_MAX_NAME));
    if (needs_times && !bk->attendee.email) {
        e = bk_fail_field(
            err, BK_E_INVALID,
            bk_arena_printf(arena, "%sattendees[0].email", prefix),
            "is required: the attendee's email address");
        goto out;
    }
    person(arena, json_object_get(b, "organizer"), &bk->organizer);

    if (ev->kind == BK_EXT_BOOKING_RESCHEDULED)
        bk->previous_uid = copy(arena, b, "rescheduleUid", MAX_UID);
    id = number(b, *prefix ? "bookingId" : "id");
    if (id)
        bk->booking_id = bk_arena_printf(arena, "%lld", (long long)id);
    id = number(b, "eventTypeId");
    if (id)
        bk->event_type_id = bk_arena_printf(arena, "%lld", (long long)id);
    bk->event_type_slug = copy(arena, b, "type", BK_MAX_SLUG);
    bk->event_type_title = copy(arena, b, "eventTitle", BK_MAX_TITLE);
    id = number(b, "length");
    bk->length_min = id > 0 && id <= 1440 ? (int)id : 0;
    bk->title = copy(arena, b, "title", BK_MAX_TITLE);
    bk->notes = copy(arena, b, "additionalNotes", BK_MAX_TEXT);
    if (!bk->notes)
        bk->notes = copy(arena, b, "description", BK_MAX_TEXT);
    bk->location = copy(arena, b, "location", BK_MAX_URL);
    meta = json_object_get(b, "metadata");
    vcd = json_object_get(b, "videoCallData");
    bk->meeting_url =
        url(arena, bk_webhook_str(meta, "videoCallUrl", BK_MAX_URL));
    if (!bk->meeting_url)
        bk->meeting_url = url(arena, bk_webhook_str(vcd, "url", BK_MAX_URL));
    bk->cancellation_reason = copy(arena, b, "cancellationReason", BK_MAX_TEXT);
out:
    return e;
}

const struct bk_webhook_provider bk_webhook_calcom = {
    .name = "calcom",
    .display_name = "Cal.com",
    .secret_env = "CALCOM_WEBHOOK_SECRET",
    .source = BK_SOURCE_CALCOM,
    .verify = verify,
    .identify = identify,
    .normalize = normalize,
};
