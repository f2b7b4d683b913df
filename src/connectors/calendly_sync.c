/* connectors/calendly_sync.c — the Calendly pull: the user's scheduled
 * events and their invitees, page by page, each invitee turned into the
 * delivery a webhook would have brought ({"event": "invitee.created" or
 * "invitee.canceled", "payload": the invitee with its scheduled_event})
 * and normalized by the webhook provider's own normalizer, then applied
 * with bk_ledger_sync_apply in a transaction of its own. The ledger rules
 * make it idempotent: what webhooks recorded already is skipped, and a
 * second sync changes nothing. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "connectors/calendly_sync.h"
#include "connectors/calendly_oauth.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "core/ledger.h"
#include "core/tz.h"
#include "ledger/sync.h"
#include "net/net.h"
#include "base/banned.h"

#define META_SINCE    "calendly.sync.since"
#define WINDOW_S      (30 * 86400)
#define PAGE_COUNT    100
#define MAX_ANSWER    (4 * 1024 * 1024)
#define MAX_ERRORS    100
#define DEFAULT_PAGES 50

/* method url (with a JSON body when body is not NULL); the answer's JSON
 * object in *out (json_decref; NULL for an empty answer) when its status
 * is ok (or 2xx when ok is 0). Errors carry a message for the summary. */
static enum bk_err call_json(const struct bk_calendly_sync *s,
                             const char *method, const char *url,
                             const char *body, int ok, struct bk_arena *arena,
                             json_t **out, struct bk_errbuf *err)
{
    const struct bk_calendly_config *cfg = s->cfg;
    const char *headers[2], *bearer = NULL;
    struct bk_net_request r;
    struct bk_net_response res;
    struct bk_errbuf nerr;
    json_error_t jerr;
    enum bk_err e;

    *out = NULL;
    for (int round = 0;; round++) {
        if ((e = bk_calendly_bearer(cfg->oauth, cfg->token, arena, &bearer,
                                    err)))
            return e;
        headers[0] = bk_arena_printf(arena, "Authorization: Bearer %s", bearer);
        headers[1] = "Accept: application/json";
        memset(&r, 0, sizeof(r));
        r.method = method;
        r.url = url;
        if (body) {
            r.content_type = "application/json";
            r.body = body;
            r.body_len = strlen(body);
        }
        r.headers = headers;
        r.n_headers = 2;
        r.connect_timeout_ms = cfg->connect_timeout_ms;
        r.timeout_ms = cfg->timeout_ms;
        r.max_response = MAX_ANSWER;
        r.allow_private = cfg->allow_private;
        r.allow_private_env = "CALENDLY_API_BASE";
        r.provider = "calendly";
        bk_errbuf_clear(&nerr);
        if ((e = bk_net_request(&r, arena, &res, &nerr)))
            return bk_fail(
                err, e == BK_E_INVALID || e == BK_E_RATE_LIMITED ? e : BK_E_IO,
                "Calendly: %s", nerr.msg);
        if (res.status == 401 && round == 0) {
            /* An expired or revoked OAuth access token: refreshed once. */
            if ((e = bk_calendly_rejected(cfg->oauth, bearer, arena, err)))
                return e;
            continue;
        }
        break;
    }
    if (res.status == 401)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "Calendly answered 401: check CALENDLY_TOKEN or "
                       "authorize the account again");
    if (res.status == 429)
        return bk_fail(err, BK_E_RATE_LIMITED,
                       "Calendly answered 429 (rate limited): sync again "
                       "in a minute");
    if (ok ? res.status != ok : res.status < 200 || res.status > 299)
        return bk_fail(err, BK_E_IO, "Calendly answered %d to %s %s: %.200s",
                       res.status, method, url, res.body ? res.body : "");
    if (res.truncated)
        return bk_fail(err, BK_E_TOO_LARGE,
                       "Calendly's answer is over %d bytes", MAX_ANSWER);
    if (!res.body_len)
        return BK_OK;
    *out = json_loadb(res.body ? res.body : "", res.body_len,
                      JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return bk_fail(err, BK_E_MALFORMED,
                       "Calendly's answer is not a JSON object");
    }
    return BK_OK;
}

static enum bk_err get_json(const struct bk_calendly_sync *s, const char *url,
                            struct bk_arena *arena, json_t **out,
                            struct bk_errbuf *err)
{
    enum bk_err e = call_json(s, "GET", url, NULL, 200, arena, out, err);

    if (!e && !*out)
        return bk_fail(err, BK_E_MALFORMED, "Calendly's answer is empty");
    return e;
}

static void add_error(struct bk_sync_summary *out, struct bk_arena *arena,
                      const char *msg)
{
    struct bk_sync_error *n;

    if (out->n_errors >= MAX_ERRORS)
        return;
    n = bk_arena_alloc(arena, (out->n_errors + 1) * sizeof(*n));
    if (out->n_errors)
        memcpy(n, out->errors, out->n_errors * sizeof(*n));
    n[out->n_errors].connection = "calendly";
    n[out->n_errors].message = bk_arena_strdup(arena, msg);
    out->errors = n;
    out->n_errors++;
}

static enum bk_err apply_once(struct bk_store *store,
                              const struct bk_ext_event *ev,
                              struct bk_arena *arena,
                              struct bk_sync_outcome *outcome,
                              struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e = bk_store_begin(store, BK_TX_WRITE, &tx, err);

    if (!e)
        e = bk_ledger_sync_apply(tx, ev, bk_now_utc(), arena, outcome, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

/* One synthetic delivery normalized and applied; *changed when the ledger
 * changed, *created when a booking was made. */
static enum bk_err apply_doc(const struct bk_calendly_sync *s, json_t *doc,
                             struct bk_arena *arena, bool *created,
                             bool *changed, struct bk_errbuf *err)
{
    struct bk_ext_event ev;
    struct bk_sync_outcome outcome;
    enum bk_err e = s->normalize(doc, arena, &ev, err);

    if (e)
        return e;
    BK_STORE_RETRY(e, apply_once(s->store, &ev, arena, &outcome, err));
    if (e)
        return e;
    if (outcome.made)
        *created = true;
    else if (outcome.action && strcmp(outcome.action, "unchanged") != 0)
        *changed = true;
    return BK_OK;
}

static void sync_invitee(const struct bk_calendly_sync *s, json_t *event,
                         json_t *inv, struct bk_arena *arena,
                         struct bk_sync_summary *out)
{
    const char *status = json_string_value(json_object_get(inv, "status"));
    const char *uri = json_string_value(json_object_get(inv, "uri"));
    json_t *payload, *doc;
    bool created = false, changed = false;
    struct bk_errbuf err;
    enum bk_err e;

    out->total++;
    bk_errbuf_clear(&err);
    payload = json_deep_copy(inv);
    json_object_set(payload, "scheduled_event", event);
    doc =
        json_pack("{s:s, s:o}", "event",
                  status && strcmp(status, "canceled") == 0 ? "invitee.canceled"
                                                            : "invitee.created",
                  "payload", payload);
    e = apply_doc(s, doc, arena, &created, &changed, &err);
    if (!e && json_is_object(json_object_get(inv, "no_show"))) {
        json_object_set_new(doc, "event",
                            json_string("invitee_no_show.created"));
        e = apply_doc(s, doc, arena, &created, &changed, &err);
    }
    json_decref(doc);
    if (e) {
        add_error(out, arena,
                  bk_arena_printf(arena, "invitee %s: %s%s%s",
                                  uri ? uri : "(no uri)", err.field,
                                  err.field[0] ? ": " : "", err.msg));
        return;
    }
    if (created)
        out->created++;
    else if (changed)
        out->updated++;
    else
        out->skipped++;
}

/* The uuid of a scheduled event URI (".../scheduled_events/{uuid}"). */
static const char *event_uuid(struct bk_arena *arena, const char *uri)
{
    const char *p = uri ? strstr(uri, "/scheduled_events/") : NULL;
    size_t n;

    if (!p)
        return NULL;
    p += strlen("/scheduled_events/");
    n = strlen(p);
    if (!n || n > 64)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
            return NULL;
    return bk_arena_strdup(arena, p);
}

/* The next page's token, or NULL. */
static const char *next_token(struct bk_arena *arena, const json_t *page)
{
    const char *t = json_string_value(json_object_get(
        json_object_get(page, "pagination"), "next_page_token"));
    return t && *t && strlen(t) <= 512 ? bk_arena_strdup(arena, t) : NULL;
}

static enum bk_err sync_event(const struct bk_calendly_sync *s, json_t *event,
                              struct bk_arena *arena,
                              struct bk_sync_summary *out,
                              struct bk_errbuf *err)
{
    const char *uuid =
        event_uuid(arena, json_string_value(json_object_get(event, "uri")));
    const char *token = NULL;
    int max = s->max_pages > 0 ? s->max_pages : DEFAULT_PAGES;

    if (!uuid) {
        add_error(out, arena, "a scheduled event without a valid uri");
        return BK_OK;
    }
    for (int page = 0; page < max; page++) {
        const char *url = bk_arena_printf(
            arena, "%s/scheduled_events/%s/invitees?count=%d%s%s",
            s->cfg->api_base, uuid, PAGE_COUNT, token ? "&page_token=" : "",
            token ? bk_str_qenc(arena, token) : "");
        json_t *j = NULL, *coll, *inv;
        size_t i;
        enum bk_err e = get_json(s, url, arena, &j, err);

        if (e)
            return e;
        coll = json_object_get(j, "collection");
        json_array_foreach(coll, i, inv) if (json_is_object(inv))
            sync_invitee(s, event, inv, arena, out);
        token = next_token(arena, j);
        json_decref(j);
        if (!token)
            return BK_OK;
    }
    add_error(out, arena,
              bk_arena_printf(arena,
                              "scheduled event %s: more than %d pages of "
                              "invitees; the rest was not read",
                              uuid, max));
    return BK_OK;
}

static enum bk_err import_once(struct bk_store *store,
                               const struct bk_ext_event *ev,
                               struct bk_arena *arena, bool *made,
                               struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_event_type et;
    enum bk_err e = bk_store_begin(store, BK_TX_WRITE, &tx, err);

    if (!e)
        e = bk_ledger_sync_event_type(tx, ev, bk_now_utc(), arena, &et, made,
                                      err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

/* The user's event types as links: each one not mapped yet is imported
 * (inactive, "calendly-<slug>", its external_ids naming the URI), so
 * that its bookings land on it and an admin can map it elsewhere. */
static enum bk_err
sync_event_types(const struct bk_calendly_sync *s, const char *user,
                 const struct bk_ext_person *host, struct bk_arena *arena,
                 struct bk_sync_summary *out, struct bk_errbuf *err)
{
    const char *token = NULL;
    int max = s->max_pages > 0 ? s->max_pages : DEFAULT_PAGES;

    for (int page = 0; page < max; page++) {
        const char *url = bk_arena_printf(
            arena, "%s/event_types?user=%s&count=%d%s%s", s->cfg->api_base,
            bk_str_qenc(arena, user), PAGE_COUNT, token ? "&page_token=" : "",
            token ? bk_str_qenc(arena, token) : "");
        json_t *j = NULL, *it;
        size_t i;
        enum bk_err e = get_json(s, url, arena, &j, err);

        if (e)
            return e;
        json_array_foreach(json_object_get(j, "collection"), i, it)
        {
            struct bk_ext_event ev;
            struct bk_errbuf why;
            const char *uri = json_string_value(json_object_get(it, "uri"));
            const char *slug = json_string_value(json_object_get(it, "slug"));
            const char *name = json_string_value(json_object_get(it, "name"));
            json_int_t dur =
                json_integer_value(json_object_get(it, "duration"));
            bool made = false;

            out->total++;
            if (!uri || !bk_external_id_valid(uri)) {
                add_error(out, arena, "an event type without a valid uri");
                continue;
            }
            memset(&ev, 0, sizeof(ev));
            ev.kind = BK_EXT_BOOKING_CREATED;
            ev.provider = "calendly";
            ev.provider_display = "Calendly";
            ev.source = BK_SOURCE_CALENDLY;
            ev.booking.uid = uri;
            ev.booking.event_type_id = bk_arena_strdup(arena, uri);
            ev.booking.event_type_slug =
                slug && bk_utf8_valid(slug, BK_MAX_SLUG, false)
                    ? bk_arena_strdup(arena, slug)
                    : NULL;
            ev.booking.event_type_title =
                name && bk_utf8_valid(name, BK_MAX_TITLE, false)
                    ? bk_arena_strdup(arena, name)
                    : NULL;
            ev.booking.length_min = dur > 0 && dur <= 1440 ? (int)dur : 30;
            ev.booking.organizer = *host;
            bk_errbuf_clear(&why);
            BK_STORE_RETRY(e, import_once(s->store, &ev, arena, &made, &why));
            if (e) {
                add_error(
                    out, arena,
                    bk_arena_printf(arena, "event type %s: %s", uri, why.msg));
                continue;
            }
            if (made)
                out->created++;
            else
                out->skipped++;
        }
        token = next_token(arena, j);
        json_decref(j);
        if (!token)
            return BK_OK;
    }
    add_error(out, arena,
              bk_arena_printf(arena, "more than %d pages of event types", max));
    return BK_OK;
}

/* The webhook subscription this server needs (docs/providers/calendly.md): one
 * for its callback URL, active, for the four events bookingd applies; made when
 * missing, made again when Calendly disabled it (after a day of failed
 * deliveries it must be recreated). Problems are summary errors. */
static void ensure_subscription(const struct bk_calendly_sync *s,
                                const char *user, const char *org,
                                struct bk_arena *arena,
                                struct bk_sync_summary *out)
{
    const char *url, *token = NULL, *stale = NULL;
    json_t *j = NULL, *sub, *body;
    char *text;
    size_t i;
    bool found = false;
    struct bk_errbuf why;
    enum bk_err e = BK_OK;

    if (!s->callback_url || !s->signing_key || !org)
        return;
    bk_errbuf_clear(&why);
    for (int page = 0; !e && !found && page < 10; page++) {
        url = bk_arena_printf(
            arena,
            "%s/webhook_subscriptions?organization=%s&user=%s&scope=user"
            "&count=100%s%s",
            s->cfg->api_base, bk_str_qenc(arena, org), bk_str_qenc(arena, user),
            token ? "&page_token=" : "",
            token ? bk_str_qenc(arena, token) : "");
        if ((e = get_json(s, url, arena, &j, &why)))
            break;
        json_array_foreach(json_object_get(j, "collection"), i, sub)
        {
            const char *cb =
                json_string_value(json_object_get(sub, "callback_url"));
            const char *state =
                json_string_value(json_object_get(sub, "state"));
            if (!cb || strcmp(cb, s->callback_url) != 0)
                continue;
            if (state && strcmp(state, "disabled") == 0)
                stale = bk_arena_strdup(
                    arena, json_string_value(json_object_get(sub, "uri")));
            else
                found = true;
        }
        token = next_token(arena, j);
        json_decref(j);
        j = NULL;
        if (!token)
            break;
    }
    if (!e && !found && stale) {
        /* A disabled subscription cannot be enabled again: it goes. */
        const char *uuid = strrchr(stale, '/');
        if (uuid && uuid[1])
            e = call_json(s, "DELETE",
                          bk_arena_printf(arena, "%s/webhook_subscriptions/%s",
                                          s->cfg->api_base, uuid + 1),
                          NULL, 204, arena, &j, &why);
        json_decref(j);
        j = NULL;
    }
    if (!e && !found) {
        body = json_pack("{s:s, s:[s,s,s,s], s:s, s:s, s:s, s:s}", "url",
                         s->callback_url, "events", "invitee.created",
                         "invitee.canceled", "invitee_no_show.created",
                         "invitee_no_show.deleted", "organization", org, "user",
                         user, "scope", "user", "signing_key", s->signing_key);
        text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        e = call_json(s, "POST",
                      bk_arena_printf(arena, "%s/webhook_subscriptions",
                                      s->cfg->api_base),
                      text, 201, arena, &j, &why);
        free(text);
        json_decref(j);
        if (!e)
            bk_log_info("calendly: webhook subscription created for %s",
                        s->callback_url);
    }
    if (e)
        add_error(out, arena,
                  bk_arena_printf(arena, "webhook subscription: %s", why.msg));
}

enum bk_err bk_calendly_sync_run(void *ctx, struct bk_arena *arena,
                                 struct bk_sync_summary *out,
                                 struct bk_errbuf *err)
{
    const struct bk_calendly_sync *s = ctx;
    int64_t now = bk_now_utc(), since, from;
    const char *since_text = NULL;
    char iso[BK_RFC3339_MAX];
    const char *user, *org, *token = NULL;
    struct bk_ext_person host;
    json_t *me = NULL;
    int max;
    struct bk_errbuf why;
    enum bk_err e;

    memset(out, 0, sizeof(*out));
    if (!s || !s->cfg || (!s->cfg->token && !s->cfg->oauth) || !s->normalize)
        return bk_fail(err, BK_E_UNAVAILABLE,
                       "Calendly is not connected: CALENDLY_TOKEN is not set");
    max = s->max_pages > 0 ? s->max_pages : DEFAULT_PAGES;
    if ((e = bk_store_meta_read(s->store, META_SINCE, arena, &since_text, err)))
        return e;
    if (!since_text || bk_parse_i64(since_text, 0, INT64_MAX, &since) != BK_OK)
        since = 0;
    from = (since && since < now ? since : now) - WINDOW_S;
    bk_rfc3339_format_utc(from, iso);
    bk_errbuf_clear(&why);
    e = get_json(s, bk_arena_printf(arena, "%s/users/me", s->cfg->api_base),
                 arena, &me, &why);
    user = e ? NULL
             : json_string_value(
                   json_object_get(json_object_get(me, "resource"), "uri"));
    if (!e && !user)
        e = bk_fail(&why, BK_E_MALFORMED,
                    "Calendly's /users/me has no resource.uri");
    user = user ? bk_arena_strdup(arena, user) : NULL;
    memset(&host, 0, sizeof(host));
    if (!e) {
        const json_t *r = json_object_get(me, "resource");
        const char *email = json_string_value(json_object_get(r, "email"));
        const char *name = json_string_value(json_object_get(r, "name"));
        const char *tz = json_string_value(json_object_get(r, "timezone"));
        host.email =
            bk_email_valid(email) ? bk_arena_strdup(arena, email) : NULL;
        host.name = name && bk_utf8_valid(name, BK_MAX_NAME, false)
                        ? bk_arena_strdup(arena, name)
                        : NULL;
        host.timezone = tz && bk_tz_get(tz) ? bk_arena_strdup(arena, tz) : NULL;
    }
    org = e ? NULL
            : json_string_value(json_object_get(json_object_get(me, "resource"),
                                                "current_organization"));
    org = org ? bk_arena_strdup(arena, org) : NULL;
    json_decref(me);
    if (!e)
        ensure_subscription(s, user, org, arena, out);
    if (!e)
        e = sync_event_types(s, user, &host, arena, out, &why);
    for (int page = 0; !e && page < max; page++) {
        const char *url = bk_arena_printf(
            arena,
            "%s/scheduled_events?user=%s&min_start_time=%s&count=%d"
            "&sort=start_time%%3Aasc%s%s",
            s->cfg->api_base, bk_str_qenc(arena, user), bk_str_qenc(arena, iso),
            PAGE_COUNT, token ? "&page_token=" : "",
            token ? bk_str_qenc(arena, token) : "");
        json_t *j = NULL, *ev;
        size_t i;

        if ((e = get_json(s, url, arena, &j, &why)))
            break;
        json_array_foreach(json_object_get(j, "collection"), i, ev)
        {
            if (!json_is_object(ev))
                continue;
            if ((e = sync_event(s, ev, arena, out, &why)))
                break;
        }
        token = next_token(arena, j);
        json_decref(j);
        if (!token)
            break;
        if (page + 1 == max)
            add_error(out, arena,
                      bk_arena_printf(arena,
                                      "more than %d pages of scheduled "
                                      "events; sync again for the rest",
                                      max));
    }
    if (e) {
        /* Calendly could not be read (to the end): what was applied
         * stays; the window is not moved, so the next sync reads it
         * again. */
        add_error(out, arena, why.msg);
        bk_log_warn("calendly: sync stopped: %s", why.msg);
        return BK_OK;
    }
    e = bk_store_meta_write(s->store, META_SINCE,
                            bk_arena_printf(arena, "%" PRId64, now), err);
    if (!e)
        bk_log_info("calendly: sync: %" PRId64 " invitees, %" PRId64
                    " created, %" PRId64 " updated, %" PRId64
                    " skipped, %zu errors",
                    out->total, out->created, out->updated, out->skipped,
                    out->n_errors);
    return e;
}
