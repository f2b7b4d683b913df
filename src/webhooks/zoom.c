/* webhooks/zoom.c — Zoom webhooks (PROVIDERS.md §4.1, §4.2).
 * Signature: x-zm-signature: v0=<hex>, the hex HMAC-SHA256 of
 * "v0:<x-zm-request-timestamp>:<raw body>" keyed with the app's Secret
 * Token (ZOOM_WEBHOOK_SECRET_TOKEN), accepted within ZOOM_TOLERANCE_S of
 * the clock either way. Zoom's own samples hash the re-serialized body;
 * this hashes the exact bytes received.
 * endpoint.url_validation is a challenge, not an event: once verified it is
 * answered {"plainToken", "encryptedToken": hex HMAC-SHA256(Secret Token,
 * plainToken)} and nothing is stored.
 * Bodies are {"event", "event_ts" (ms), "payload": {"account_id",
 * "object"}}. meeting.participant_joined becomes ATTENDEE_JOINED (the
 * participant's email, else user_name) and meeting.ended MEETING_ENDED
 * decided by attendance, of the booking whose Zoom meeting is object.id
 * (the link the meetings connector records): completed when its attendee
 * joined, no_show otherwise. Other events are stored (ignored). Zoom sends no
 * delivery id: the key is event + object.uuid + event_ts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "webhooks/webhooks.h"
#include "webhooks/fields.h"
#include "base/str.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "base/banned.h"

#define ZOOM_TOLERANCE_S 300
#define MAX_EVENT        64
#define MAX_SIG_HEADER   128
#define MAX_TS_DIGITS    12
#define MAX_MEETING_ID   20 /* an int64 in decimal */
#define MAX_UUID         64
#define MAX_PLAIN_TOKEN  256

static enum bk_err verify(const struct bk_webhook_input *in, const char *secret,
                          struct bk_errbuf *err)
{
    enum bk_err e;
    const char *sig = in->header(in->header_ctx, "x-zm-signature");
    const char *ts = in->header(in->header_ctx, "x-zm-request-timestamp");
    unsigned char want[BK_SHA256_LEN], got[BK_SHA256_LEN];
    int64_t t;

    if (!sig || !*sig)
        return bk_fail(err, BK_E_UNAUTHORIZED, "missing x-zm-signature header");
    if (!ts || !*ts)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "missing x-zm-request-timestamp header");
    if (strlen(sig) > MAX_SIG_HEADER || strncmp(sig, "v0=", 3) != 0)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "x-zm-signature is not v0=<hex HMAC-SHA256>");
    if (strlen(ts) > MAX_TS_DIGITS || strspn(ts, "0123456789") != strlen(ts))
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "x-zm-request-timestamp is not a Unix time in seconds");
    t = strtoll(ts, NULL, 10);
    {
        struct bk_iov parts[4] = {
            {"v0:", 3}, {ts, strlen(ts)}, {":", 1}, {in->body, in->body_len}};
        bk_hmac_sha256(secret, strlen(secret), parts, 4, want);
    }
    if (!bk_hex_decode(sig + 3, got, sizeof(got)) ||
        !bk_ct_equal(want, got, sizeof(want)))
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "x-zm-signature does not match the body");
    if ((e = bk_webhook_check_time("x-zm-request-timestamp", t, in->now_utc,
                                   ZOOM_TOLERANCE_S, err)))
        return e;
    return BK_OK;
}

static bool known(const char *t)
{
    return strcmp(t, "meeting.ended") == 0 ||
           strcmp(t, "meeting.participant_joined") == 0;
}

/* A meeting id: 1..20 decimal digits (Zoom sends it as a string in
 * webhooks, a number in the REST API). */
static bool meeting_id_ok(const char *s)
{
    return s && *s && strlen(s) <= MAX_MEETING_ID &&
           strspn(s, "0123456789") == strlen(s);
}

/* object.id as text: a string of digits or a non-negative integer. */
static const char *meeting_id(struct bk_arena *arena, const json_t *obj)
{
    const json_t *v = json_object_get(obj, "id");

    if (json_is_integer(v) && json_integer_value(v) > 0)
        return bk_arena_printf(arena, "%lld", (long long)json_integer_value(v));
    if (json_is_string(v) && meeting_id_ok(json_string_value(v)))
        return bk_arena_strdup(arena, json_string_value(v));
    return NULL;
}

static enum bk_err identify(const json_t *root, struct bk_arena *arena,
                            struct bk_webhook_id *out, struct bk_errbuf *err)
{
    const json_t *obj, *ts;
    const char *event, *uuid;

    memset(out, 0, sizeof(*out));
    event = bk_webhook_str(root, "event", MAX_EVENT);
    if (!bk_webhook_event_ok(event, MAX_EVENT))
        return bk_fail_field(err, BK_E_INVALID, "event",
                             "is required: a Zoom event name such as "
                             "meeting.ended");
    obj = json_object_get(json_object_get(root, "payload"), "object");
    out->type = bk_arena_strdup(arena, event);
    out->known = known(event);
    out->subject = json_is_object(obj) ? meeting_id(arena, obj) : NULL;
    uuid = json_is_object(obj) ? bk_webhook_str(obj, "uuid", MAX_UUID) : NULL;
    ts = json_object_get(root, "event_ts");
    /* Without both, the intake keys the delivery by the body's hash.
     * Participants joining in the same millisecond differ by their id. */
    if (bk_webhook_token_ok(uuid, MAX_UUID, ":") && json_is_integer(ts) &&
        json_integer_value(ts) > 0) {
        const json_t *pt = json_object_get(obj, "participant");
        const char *who = bk_webhook_str(pt, "participant_uuid", MAX_UUID);
        if (!bk_webhook_token_ok(who, MAX_UUID, ":"))
            who = bk_webhook_str(pt, "user_id", MAX_UUID);
        out->delivery_key =
            bk_arena_printf(arena, "%s:%s:%lld%s%s", event, uuid,
                            (long long)json_integer_value(ts),
                            bk_webhook_token_ok(who, MAX_UUID, ":") ? ":" : "",
                            bk_webhook_token_ok(who, MAX_UUID, ":") ? who : "");
    }
    return BK_OK;
}

static enum bk_err normalize(const json_t *root, struct bk_arena *arena,
                             struct bk_ext_event *ev, struct bk_errbuf *err)
{
    const json_t *p, *obj;
    const char *event, *id, *t;

    memset(ev, 0, sizeof(*ev));
    event = bk_webhook_str(root, "event", MAX_EVENT);
    if (!bk_webhook_event_ok(event, MAX_EVENT) || !known(event))
        return bk_fail_field(err, BK_E_INVALID, "event",
                             "is not an event bookingd applies");
    p = json_object_get(root, "payload");
    if (!json_is_object(p))
        return bk_fail_field(err, BK_E_INVALID, "payload",
                             "is required: {account_id, object}");
    obj = json_object_get(p, "object");
    if (!json_is_object(obj))
        return bk_fail_field(err, BK_E_INVALID, "payload.object",
                             "is required: the meeting");
    id = meeting_id(arena, obj);
    if (!id)
        return bk_fail_field(err, BK_E_INVALID, "payload.object.id",
                             "is required: the meeting id, at most 20 "
                             "digits");
    if (strcmp(event, "meeting.participant_joined") == 0) {
        const json_t *pt = json_object_get(obj, "participant");
        const char *email;
        if (!json_is_object(pt))
            return bk_fail_field(err, BK_E_INVALID,
                                 "payload.object.participant",
                                 "is required: the participant who joined");
        bk_webhooks_event_init(ev, &bk_webhook_zoom, BK_EXT_ATTENDEE_JOINED);
        ev->booking.uid = id;
        email = bk_webhook_str(pt, "email", BK_MAX_EMAIL);
        ev->booking.attendee.email = email && bk_email_valid(email)
                                         ? bk_arena_strdup(arena, email)
                                         : NULL;
        t = bk_webhook_str(pt, "user_name", BK_MAX_NAME);
        ev->booking.attendee.name =
            t && *t && bk_utf8_valid(t, BK_MAX_NAME, false)
                ? bk_arena_strdup(arena, t)
                : NULL;
        if (!ev->booking.attendee.email && !ev->booking.attendee.name)
            return bk_fail_field(err, BK_E_INVALID,
                                 "payload.object.participant",
                                 "has neither an email nor a user_name");
        return BK_OK;
    }
    bk_webhooks_event_init(ev, &bk_webhook_zoom, BK_EXT_MEETING_ENDED);
    ev->booking.uid = id;
    ev->booking.by_attendance = true;
    /* Times are informative only: a meeting that ended never moves its
     * booking. Hostile ones are dropped. */
    t = bk_webhook_str(obj, "end_time", 64);
    if (t && bk_rfc3339_parse(t, &ev->booking.end_utc, NULL) != BK_OK)
        ev->booking.end_utc = 0;
    t = bk_webhook_str(obj, "start_time", 64);
    if (t && bk_rfc3339_parse(t, &ev->booking.start_utc, NULL) != BK_OK)
        ev->booking.start_utc = 0;
    if (!ev->booking.start_utc || !ev->booking.end_utc ||
        ev->booking.end_utc <= ev->booking.start_utc)
        ev->booking.start_utc = ev->booking.end_utc = 0;
    t = bk_webhook_str(obj, "topic", BK_MAX_TITLE);
    ev->booking.title = t && *t && bk_utf8_valid(t, BK_MAX_TITLE, true)
                            ? bk_arena_strdup(arena, t)
                            : NULL;
    return BK_OK;
}

/* endpoint.url_validation: {"plainToken", "encryptedToken"} as Zoom
 * requires, or NULL for any other event. A validation with a missing or
 * hostile plainToken is answered with NULL too (then stored as failed). */
static json_t *challenge(const json_t *root, const char *secret)
{
    const char *event = bk_webhook_str(root, "event", MAX_EVENT);
    const char *plain;
    unsigned char mac[BK_SHA256_LEN];
    char hex[2 * BK_SHA256_LEN + 1];

    if (!event || strcmp(event, "endpoint.url_validation") != 0)
        return NULL;
    plain = bk_webhook_str(json_object_get(root, "payload"), "plainToken",
                           MAX_PLAIN_TOKEN);
    if (!plain || !*plain || !bk_utf8_valid(plain, MAX_PLAIN_TOKEN, false))
        return NULL;
    {
        struct bk_iov part = {plain, strlen(plain)};
        bk_hmac_sha256(secret, strlen(secret), &part, 1, mac);
    }
    bk_hex_encode(mac, sizeof(mac), hex);
    return json_pack("{s:s, s:s}", "plainToken", plain, "encryptedToken", hex);
}

const struct bk_webhook_provider bk_webhook_zoom = {
    .name = "zoom",
    .display_name = "Zoom",
    .secret_env = "ZOOM_WEBHOOK_SECRET_TOKEN",
    .source = BK_SOURCE_API,
    .ack_failed = false,
    .verify = verify,
    .identify = identify,
    .normalize = normalize,
    .challenge = challenge,
};
