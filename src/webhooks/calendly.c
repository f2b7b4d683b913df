/* webhooks/calendly.c — Calendly webhooks (PROVIDERS.md §2.1, §2.2).
 * Signature: Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex>, the
 * hex HMAC-SHA256 of "<t>.<raw body>" keyed with the subscription's signing
 * key, accepted within CALENDLY_TOLERANCE_S of the clock either way
 * (Calendly's own sample allows three minutes). Calendly sends no delivery
 * id: the key is event + payload.uri (the invitee) + the envelope's
 * created_at, or a hash of the body when those are absent.
 * Bodies are {"event", "created_at", "created_by", "payload": Invitee with
 * its scheduled_event embedded}. A reschedule is two deliveries: the old
 * invitee's invitee.canceled (rescheduled: true, new_invitee) and the new
 * invitee's invitee.created (old_invitee); they become a REPLACED event
 * (which never cancels) and a RESCHEDULED one (which moves the booking),
 * so either order ends in one booking at the new time. */
#include <stdio.h>
#include <stdlib.h>
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

#define CALENDLY_TOLERANCE_S 180
#define MAX_EVENT            64
#define MAX_URI              300
#define MAX_CREATED_AT       64
#define MAX_SIG_HEADER       1024
#define MAX_T_DIGITS         12

/* Walks "k=v,k=v": the t value and whether any v1 value matches the HMAC
 * of "<t>.<body>". Unknown schemes are ignored (a future v2 next to v1). */
static enum bk_err verify(const struct bk_webhook_input *in, const char *secret,
                          struct bk_errbuf *err)
{
    enum bk_err e;
    const char *h = in->header(in->header_ctx, "Calendly-Webhook-Signature");
    char buf[MAX_SIG_HEADER + 1];
    const char *t = NULL;
    const char *v1[8];
    size_t n_v1 = 0;
    unsigned char want[BK_SHA256_LEN], got[BK_SHA256_LEN];
    bool match = false;
    int64_t ts;

    if (!h || !*h)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "missing Calendly-Webhook-Signature header");
    if (strlen(h) > MAX_SIG_HEADER)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "Calendly-Webhook-Signature is too long");
    bk_strlcpy(buf, h, sizeof(buf));
    for (char *part = buf, *next; part; part = next) {
        char *eq;
        next = strchr(part, ',');
        if (next)
            *next++ = '\0';
        while (*part == ' ')
            part++;
        eq = strchr(part, '=');
        if (!eq)
            return bk_fail(err, BK_E_UNAUTHORIZED,
                           "Calendly-Webhook-Signature is not "
                           "t=<seconds>,v1=<hex>");
        *eq = '\0';
        if (strcmp(part, "t") == 0) {
            if (t)
                return bk_fail(err, BK_E_UNAUTHORIZED,
                               "Calendly-Webhook-Signature has two t values");
            t = eq + 1;
        } else if (strcmp(part, "v1") == 0 && n_v1 < 8) {
            v1[n_v1++] = eq + 1;
        }
    }
    if (!t || !n_v1)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "Calendly-Webhook-Signature needs t= and v1=");
    if (!*t || strlen(t) > MAX_T_DIGITS || strspn(t, "0123456789") != strlen(t))
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "the t of Calendly-Webhook-Signature is not a Unix "
                       "time in seconds");
    ts = strtoll(t, NULL, 10);
    {
        struct bk_iov parts[3] = {
            {t, strlen(t)}, {".", 1}, {in->body, in->body_len}};
        bk_hmac_sha256(secret, strlen(secret), parts, 3, want);
    }
    for (size_t i = 0; i < n_v1; i++) {
        /* Every candidate is compared, in constant time each. */
        if (bk_hex_decode(v1[i], got, sizeof(got)) &&
            bk_ct_equal(want, got, sizeof(want)))
            match = true;
    }
    if (!match)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "Calendly-Webhook-Signature does not match the body");
    if ((e = bk_webhook_check_time("Calendly-Webhook-Signature", ts,
                                   in->now_utc, CALENDLY_TOLERANCE_S, err)))
        return e;
    return BK_OK;
}

static bool known(const char *t)
{
    return strcmp(t, "invitee.created") == 0 ||
           strcmp(t, "invitee.canceled") == 0 ||
           strcmp(t, "invitee_no_show.created") == 0 ||
           strcmp(t, "invitee_no_show.deleted") == 0;
}

static enum bk_err identify(const json_t *root, struct bk_arena *arena,
                            struct bk_webhook_id *out, struct bk_errbuf *err)
{
    const json_t *p;
    const char *event, *uri, *created;

    memset(out, 0, sizeof(*out));
    event = bk_webhook_str(root, "event", MAX_EVENT);
    if (!bk_webhook_event_ok(event, MAX_EVENT))
        return bk_fail_field(err, BK_E_INVALID, "event",
                             "is required: a Calendly event name such as "
                             "invitee.created");
    p = json_object_get(root, "payload");
    uri = json_is_object(p) ? bk_webhook_str(p, "uri", MAX_URI) : NULL;
    created = bk_webhook_str(root, "created_at", MAX_CREATED_AT);
    out->type = bk_arena_strdup(arena, event);
    out->known = known(event);
    out->subject = bk_webhook_token_ok(uri, MAX_URI, NULL)
                       ? bk_arena_strdup(arena, uri)
                       : NULL;
    /* Without both, the intake keys the delivery by the body's hash. */
    if (out->subject && created && *created &&
        bk_utf8_valid(created, MAX_CREATED_AT, false))
        out->delivery_key =
            bk_arena_printf(arena, "%s:%s:%s", event, uri, created);
    return BK_OK;
}

/* An http(s) URL of sane length, or NULL. */
static const char *url(struct bk_arena *arena, const char *s)
{
    if (!s || strlen(s) > BK_MAX_URL ||
        (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0))
        return NULL;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return NULL;
    return bk_arena_strdup(arena, s);
}

static const char *field(struct bk_arena *arena, const char *key)
{
    return bk_arena_printf(arena, "payload.%s", key);
}

static enum bk_err instant(const json_t *se, const char *key, bool required,
                           struct bk_arena *arena, int64_t *out,
                           struct bk_errbuf *err)
{
    const json_t *v = json_object_get(se, key);
    const char *name =
        bk_arena_printf(arena, "payload.scheduled_event.%s", key);

    *out = 0;
    if (!v || json_is_null(v)) {
        if (required)
            return bk_fail_field(err, BK_E_INVALID, name, "is required");
        return BK_OK;
    }
    if (!json_is_string(v) ||
        bk_rfc3339_parse(json_string_value(v), out, NULL) != BK_OK)
        return bk_fail_field(err, BK_E_INVALID, name,
                             "must be an ISO 8601 / RFC 3339 date-time");
    return BK_OK;
}

/* payload.<key>: absent, null or a URI; another type is refused. */
static enum bk_err opt_uri(const json_t *p, const char *key,
                           struct bk_arena *arena, const char **out,
                           struct bk_errbuf *err)
{
    const json_t *v = json_object_get(p, key);

    *out = NULL;
    if (!v || json_is_null(v))
        return BK_OK;
    if (!json_is_string(v) ||
        !bk_webhook_token_ok(json_string_value(v), MAX_URI, NULL))
        return bk_fail_field(err, BK_E_INVALID, field(arena, key),
                             "must be null or an invitee URI of at most 300 "
                             "characters");
    *out = bk_arena_strdup(arena, json_string_value(v));
    return BK_OK;
}

/* questions_and_answers as "question: answer" lines, bounded. */
static const char *answers(struct bk_arena *arena, const json_t *qa)
{
    const char *out = NULL;
    size_t i;
    const json_t *item;

    if (!json_is_array(qa))
        return NULL;
    json_array_foreach(qa, i, item)
    {
        const char *q = bk_webhook_str(item, "question", BK_MAX_TEXT);
        const char *a = bk_webhook_str(item, "answer", BK_MAX_TEXT);
        const char *line;
        if (i >= 50 || !q || !a || !bk_utf8_valid(q, BK_MAX_TEXT, true) ||
            !bk_utf8_valid(a, BK_MAX_TEXT, true))
            continue;
        line = bk_arena_printf(arena, "%s: %s", q, a);
        line = out ? bk_arena_printf(arena, "%s\n%s", out, line) : line;
        if (strlen(line) > BK_MAX_TEXT)
            break;
        out = line;
    }
    return out;
}

static void invitee_person(struct bk_arena *arena, const json_t *p,
                           struct bk_ext_person *out)
{
    const char *email = bk_webhook_str(p, "email", BK_MAX_EMAIL);
    const char *tz = bk_webhook_str(p, "timezone", 64);

    memset(out, 0, sizeof(*out));
    out->email = bk_email_valid(email) ? bk_arena_strdup(arena, email) : NULL;
    out->name = bk_webhook_copy(arena, p, "name", BK_MAX_NAME);
    if (!out->name) {
        const char *f =
            bk_webhook_copy(arena, p, "first_name", BK_MAX_NAME / 2);
        const char *l = bk_webhook_copy(arena, p, "last_name", BK_MAX_NAME / 2);
        out->name = f && l ? bk_arena_printf(arena, "%s %s", f, l) : f ? f : l;
    }
    out->timezone = tz && bk_tz_get(tz) ? bk_arena_strdup(arena, tz) : NULL;
}

/* The host: the first of scheduled_event.event_memberships. */
static void organizer(struct bk_arena *arena, const json_t *se,
                      struct bk_ext_person *out)
{
    const json_t *m = json_object_get(se, "event_memberships");
    const char *email;

    memset(out, 0, sizeof(*out));
    if (!json_is_array(m) || !json_is_object(json_array_get(m, 0)))
        return;
    m = json_array_get(m, 0);
    email = bk_webhook_str(m, "user_email", BK_MAX_EMAIL);
    out->email = bk_email_valid(email) ? bk_arena_strdup(arena, email) : NULL;
    out->name = bk_webhook_copy(arena, m, "user_name", BK_MAX_NAME);
}

static enum bk_err normalize(const json_t *root, struct bk_arena *arena,
                             struct bk_ext_event *ev, struct bk_errbuf *err)
{
    struct bk_ext_booking *bk = &ev->booking;
    const json_t *p, *se, *loc, *v;
    const char *event, *uri, *old_invitee = NULL, *new_invitee = NULL;
    bool is_create, is_cancel, rescheduled = false, needs_times;
    enum bk_ext_kind kind;
    enum bk_err e;

    memset(ev, 0, sizeof(*ev));
    event = bk_webhook_str(root, "event", MAX_EVENT);
    if (!bk_webhook_event_ok(event, MAX_EVENT) || !known(event))
        return bk_fail_field(err, BK_E_INVALID, "event",
                             "is not an event bookingd applies");
    is_create = strcmp(event, "invitee.created") == 0;
    is_cancel = strcmp(event, "invitee.canceled") == 0;
    p = json_object_get(root, "payload");
    if (!json_is_object(p))
        return bk_fail_field(err, BK_E_INVALID, "payload",
                             "is required: the invitee object");
    uri = bk_webhook_str(p, "uri", MAX_URI);
    if (!bk_webhook_token_ok(uri, MAX_URI, NULL))
        return bk_fail_field(
            err, BK_E_INVALID, "payload.uri",
            "is required: the invitee's URI, at most 300 characters");
    if ((e = opt_uri(p, "old_invitee", arena, &old_invitee, err)) ||
        (e = opt_uri(p, "new_invitee", arena, &new_invitee, err)))
        return e;
    v = json_object_get(p, "rescheduled");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return bk_fail_field(err, BK_E_INVALID, "payload.rescheduled",
                             "must be true, false or null");
    rescheduled = json_is_true(v);

    if (is_create)
        kind =
            old_invitee ? BK_EXT_BOOKING_RESCHEDULED : BK_EXT_BOOKING_CREATED;
    else if (is_cancel)
        kind = rescheduled ? BK_EXT_BOOKING_REPLACED : BK_EXT_BOOKING_CANCELLED;
    else if (strcmp(event, "invitee_no_show.created") == 0)
        kind = BK_EXT_NO_SHOW_MARKED;
    else
        kind = BK_EXT_NO_SHOW_CLEARED;
    bk_webhooks_event_init(ev, &bk_webhook_calendly, kind);
    bk->uid = bk_arena_strdup(arena, uri);
    if (kind == BK_EXT_BOOKING_RESCHEDULED)
        bk->previous_uid = old_invitee;
    if (kind == BK_EXT_BOOKING_REPLACED)
        bk->next_uid = new_invitee;
    if (kind == BK_EXT_NO_SHOW_MARKED || kind == BK_EXT_NO_SHOW_CLEARED) {
        const json_t *ns = json_object_get(p, "no_show");
        const char *mark = bk_webhook_str(ns, "uri", MAX_URI);
        if (ns && !json_is_null(ns) && !json_is_object(ns))
            return bk_fail_field(err, BK_E_INVALID, "payload.no_show",
                                 "must be null or an object");
        bk->mark_id = bk_webhook_token_ok(mark, MAX_URI, NULL)
                          ? bk_arena_strdup(arena, mark)
                          : NULL;
    }

    se = json_object_get(p, "scheduled_event");
    needs_times = is_create;
    if (se && !json_is_null(se) && !json_is_object(se))
        return bk_fail_field(err, BK_E_INVALID, "payload.scheduled_event",
                             "must be an object");
    if (needs_times && !json_is_object(se))
        return bk_fail_field(err, BK_E_INVALID, "payload.scheduled_event",
                             "is required: the scheduled event");
    if ((e = instant(se, "start_time", needs_times, arena, &bk->start_utc,
                     err)) ||
        (e = instant(se, "end_time", needs_times, arena, &bk->end_utc, err)))
        return e;
    if (bk->start_utc && bk->end_utc && bk->end_utc <= bk->start_utc)
        return bk_fail_field(err, BK_E_INVALID,
                             "payload.scheduled_event.end_time",
                             "must be after start_time");
    if (!bk->start_utc || !bk->end_utc)
        bk->start_utc = bk->end_utc = 0; /* half a time is no time */

    invitee_person(arena, p, &bk->attendee);
    if (needs_times && !bk->attendee.email)
        return bk_fail_field(err, BK_E_INVALID, "payload.email",
                             "is required: the invitee's email address");
    organizer(arena, se, &bk->organizer);

    v = json_object_get(se, "uri");
    if (json_is_string(v) &&
        bk_webhook_token_ok(json_string_value(v), MAX_URI, NULL))
        bk->booking_id = bk_arena_strdup(arena, json_string_value(v));
    v = json_object_get(se, "event_type");
    if (json_is_string(v) && bk_external_id_valid(json_string_value(v)))
        bk->event_type_id = bk_arena_strdup(arena, json_string_value(v));
    bk->title = bk_webhook_copy(arena, se, "name", BK_MAX_TITLE);
    bk->event_type_title = bk->title;
    bk->event_type_slug = bk->title; /* slugified by the ledger */
    if (bk->start_utc) {
        int64_t len = (bk->end_utc - bk->start_utc) / 60;
        bk->length_min = len > 0 && len <= 1440 ? (int)len : 0;
    }
    loc = json_object_get(se, "location");
    if (json_is_object(loc)) {
        bk->meeting_url =
            url(arena, bk_webhook_str(loc, "join_url", BK_MAX_URL));
        bk->location = bk_webhook_copy(arena, loc, "location", BK_MAX_URL);
    }
    bk->notes = answers(arena, json_object_get(p, "questions_and_answers"));
    bk->cancellation_reason = bk_webhook_copy(
        arena, json_object_get(p, "cancellation"), "reason", BK_MAX_TEXT);
    return BK_OK;
}

const struct bk_webhook_provider bk_webhook_calendly = {
    .name = "calendly",
    .display_name = "Calendly",
    .secret_env = "CALENDLY_WEBHOOK_SIGNING_KEY",
    .source = BK_SOURCE_CALENDLY,
    /* Calendly disables a subscription after 24 h of non-2xx answers. */
    .ack_failed = true,
    .verify = verify,
    .identify = identify,
    .normalize = normalize,
};
