/* api/webhook_endpoints.c — /api/v1/webhook-endpoints: the receivers of
 * outbound webhooks (Standard Webhooks), their messages and replays, for
 * admins. Sending is connectors/outwebhooks.c; the rows store/outbox.c. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/str.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "jobs/jobs.h"
#include "ledger/events.h"
#include "ledger/ledger.h"
#include "net/net.h"
#include "base/banned.h"

#define MAX_DESCRIPTION 500
#define MAX_EVENTS      16

static json_t *ms_or_null(int64_t ms)
{
    return ms ? bk_render_instant(bk_floordiv(ms, 1000), NULL) : json_null();
}

static json_t *render_endpoint(const struct bk_wh_endpoint *ep,
                               const char *secret)
{
    json_t *o = json_object();
    json_t *events = json_loads(ep->events ? ep->events : "[]", 0, NULL);

    json_object_set_new(o, "id", json_string(ep->public_id));
    json_object_set_new(o, "url", json_string(ep->url));
    json_object_set_new(o, "events", events ? events : json_array());
    json_object_set_new(o, "description", bk_json_str_or_null(ep->description));
    json_object_set_new(o, "status",
                        json_string(ep->status == BK_WH_ENDPOINT_ENABLED
                                        ? "enabled"
                                        : "disabled"));
    json_object_set_new(o, "disabled_reason",
                        bk_json_str_or_null(ep->disabled_reason));
    json_object_set_new(o, "failing_since", ms_or_null(ep->failing_since_ms));
    json_object_set_new(o, "created_at", ms_or_null(ep->created_ms));
    json_object_set_new(o, "updated_at", ms_or_null(ep->updated_ms));
    if (secret) /* shown once, at creation */
        json_object_set_new(o, "secret", json_string(secret));
    return o;
}

/* The message's attempts among atts (the endpoint's, by message id), as
 * "attempt_history", oldest first. */
static json_t *render_attempts(const struct bk_wh_message *m,
                               const struct bk_wh_attempt *atts, size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++) {
        const struct bk_wh_attempt *a = &atts[i];
        json_t *o;

        if (a->message_id != m->id)
            continue;
        o = json_object();
        json_object_set_new(o, "attempt", json_integer(a->attempt));
        json_object_set_new(o, "at", ms_or_null(a->at_ms));
        json_object_set_new(o, "status_code",
                            a->status_code ? json_integer(a->status_code)
                                           : json_null());
        json_object_set_new(o, "duration_ms", json_integer(a->duration_ms));
        json_object_set_new(o, "error", bk_json_str_or_null(a->error));
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *render_message(const struct bk_wh_message *m,
                              const struct bk_wh_attempt *atts, size_t n_atts)
{
    static const char *const names[] = {"pending", "delivered", "failed"};
    json_t *o = json_object();
    const char *status =
        (int)m->status >= 0 && (int)m->status < 3 ? names[m->status] : "?";

    if (m->status == BK_WH_MESSAGE_PENDING && m->attempts > 0 && m->last_error)
        status = "retrying";
    json_object_set_new(o, "id", json_string(m->public_id));
    json_object_set_new(o, "event_type", json_string(m->event_type));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "attempts", json_integer(m->attempts));
    json_object_set_new(o, "last_status_code",
                        m->last_status_code ? json_integer(m->last_status_code)
                                            : json_null());
    json_object_set_new(o, "last_duration_ms",
                        m->attempts ? json_integer(m->last_duration_ms)
                                    : json_null());
    json_object_set_new(o, "last_error", bk_json_str_or_null(m->last_error));
    json_object_set_new(o, "next_attempt_at", ms_or_null(m->next_attempt_ms));
    json_object_set_new(o, "created_at", ms_or_null(m->created_ms));
    json_object_set_new(o, "delivered_at", ms_or_null(m->delivered_ms));
    json_object_set_new(o, "attempt_history", render_attempts(m, atts, n_atts));
    return o;
}

/* "events": a non-empty array of known event names, or ["*"]; into a
 * canonical JSON text in the arena. */
static enum bk_err decode_events(const json_t *obj, bool required,
                                 struct bk_arena *arena, const char **out,
                                 struct bk_errbuf *err)
{
    json_t *a = NULL, *canon = NULL, *v;
    size_t i;
    enum bk_err e;

    *out = NULL;
    if ((e = bk_json_array(obj, "", "events", required, MAX_EVENTS, arena, &a,
                           err)) ||
        !a)
        return e;
    if (json_array_size(a) == 0)
        return bk_fail_field(err, BK_E_INVALID, "events",
                             "must name at least one event, or \"*\"");
    canon = json_array();
    json_array_foreach(a, i, v)
    {
        const char *s = json_string_value(v);
        bool dup = false;
        size_t j;
        json_t *w;
        if (!s ||
            (strcmp(s, "*") != 0 && bk_ledger_event_public_parse(s) < 0)) {
            json_decref(canon);
            return bk_fail_field(err, BK_E_INVALID,
                                 bk_json_index(arena, "events", i),
                                 "must be \"*\" or one of booking.created, "
                                 "booking.rescheduled, booking.cancelled, "
                                 "booking.completed, booking.no_show, "
                                 "client.created, client.updated");
        }
        json_array_foreach(canon, j, w) if (strcmp(json_string_value(w), s) ==
                                            0) dup = true;
        if (!dup)
            json_array_append_new(canon, json_string(s));
    }
    *out = bk_json_dump(arena, canon, NULL);
    json_decref(canon);
    return BK_OK;
}

static enum bk_err decode_url(const struct bk_api *api, const json_t *obj,
                              bool required, struct bk_arena *arena,
                              const char **out, struct bk_errbuf *err)
{
    enum bk_err e;
    struct bk_errbuf why;

    if ((e = bk_json_str(obj, "", "url", required, BK_NET_URL_MAX, false, arena,
                         out, err)) ||
        !*out)
        return e;
    bk_errbuf_clear(&why);
    if (bk_net_url_check(*out, api->webhook_allow_private, &why) != BK_OK)
        return bk_fail_field(err, BK_E_INVALID, "url", "%s", why.msg);
    return BK_OK;
}

static enum bk_err endpoint_of(struct bk_api_call *c, struct bk_wh_endpoint *ep)
{
    const char *id = bk_http_param(c->req, "id");
    enum bk_err e =
        bk_store_wh_endpoint_get(c->tx, id, 0, c->arena, ep, c->err);

    if (e == BK_E_NOT_FOUND)
        bk_fail(c->err, e, "no webhook endpoint '%s'", id);
    return e;
}

/* A WRITE route: the secret and the public id are drawn again if the
 * transaction is run again; nothing is seen before the commit. */
static enum bk_err create(struct bk_api_call *c)
{
    static const char *const keys[] = {"url", "events", "description", NULL};
    struct bk_wh_endpoint ep;
    unsigned char key[32];
    char secret[64], public_id[32];
    json_t *body = NULL;
    int64_t now_ms = bk_now_ms();
    enum bk_err e;

    memset(&ep, 0, sizeof(ep));
    if ((e = bk_api_call_body(c, false, &body)) ||
        (e = bk_json_only(body, "", keys, c->arena, c->err)) ||
        (e = decode_url(c->api, body, true, c->arena, &ep.url, c->err)) ||
        (e = decode_events(body, true, c->arena, &ep.events, c->err)) ||
        (e = bk_json_str(body, "", "description", false, MAX_DESCRIPTION, false,
                         c->arena, &ep.description, c->err)))
        return e;
    bk_random_bytes(key, sizeof(key));
    memcpy(secret, "whsec_", 6);
    bk_base64_encode(key, sizeof(key), secret + 6);
    bk_ledger_new_public_id("ep_", public_id);
    ep.public_id = public_id;
    /* Sealed at rest under BOOKINGD_SECRET_KEY, bound to this row; without
     * the key it is stored as it is (docs/outbound-webhooks.md). */
    ep.secret = c->api->secret_key
                    ? bk_secret_seal(c->api->secret_key,
                                     bk_arena_printf(c->arena, BK_WH_SECRET_AAD,
                                                     public_id),
                                     secret, strlen(secret), c->arena)
                    : secret;
    ep.status = BK_WH_ENDPOINT_ENABLED;
    ep.created_ms = ep.updated_ms = now_ms;
    if ((e = bk_store_wh_endpoint_insert(c->tx, &ep, &ep.id, c->err)))
        return e;
    /* Rendered now: secret and public_id are this function's. */
    bk_api_reply(c, 201, render_endpoint(&ep, secret));
    return BK_OK;
}

static enum bk_err list(struct bk_api_call *c)
{
    struct bk_wh_endpoint *rows = NULL;
    struct bk_page page;
    const char *next = NULL;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    if ((e = bk_api_page(c->req, 'w', &page, c->err)) ||
        (e = bk_store_wh_endpoint_list(c->tx, &page, false, c->arena, &rows, &n,
                                       c->err)))
        return e;
    if (bk_api_page_more(&page, &n))
        next = bk_api_cursor_encode(c->arena, 'w', rows[n - 1].id, 0);
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, render_endpoint(&rows[i], NULL));
    bk_api_reply_list(c, data, next);
    return BK_OK;
}

static enum bk_err get(struct bk_api_call *c)
{
    struct bk_wh_endpoint ep;
    enum bk_err e;

    if ((e = endpoint_of(c, &ep)))
        return e;
    bk_api_reply(c, 200, render_endpoint(&ep, NULL));
    return BK_OK;
}

/* PATCH: url, events, description, and status "enabled" (which clears the
 * reason and the run of failures) or "disabled". */
static enum bk_err patch(struct bk_api_call *c)
{
    static const char *const keys[] = {"url", "events", "description", "status",
                                       NULL};
    struct bk_wh_endpoint ep;
    const char *url = NULL, *events = NULL, *desc = NULL, *status = NULL;
    json_t *body = NULL;
    int64_t now_ms = bk_now_ms();
    enum bk_err e;

    if ((e = bk_api_call_body(c, false, &body)) ||
        (e = bk_json_only(body, "", keys, c->arena, c->err)) ||
        (e = decode_url(c->api, body, false, c->arena, &url, c->err)) ||
        (e = decode_events(body, false, c->arena, &events, c->err)) ||
        (e = bk_json_str(body, "", "description", false, MAX_DESCRIPTION, false,
                         c->arena, &desc, c->err)) ||
        (e = bk_json_str(body, "", "status", false, 16, false, c->arena,
                         &status, c->err)))
        return e;
    if (status && strcmp(status, "enabled") != 0 &&
        strcmp(status, "disabled") != 0)
        return bk_fail_field(c->err, BK_E_INVALID, "status",
                             "must be enabled or disabled");
    if ((e = endpoint_of(c, &ep)))
        return e;
    if (url)
        ep.url = url;
    if (events)
        ep.events = events;
    if (json_object_get(body, "description"))
        ep.description = desc; /* null clears it */
    if (status && strcmp(status, "enabled") == 0) {
        ep.status = BK_WH_ENDPOINT_ENABLED;
        ep.disabled_reason = NULL;
        ep.failing_since_ms = 0;
    } else if (status && ep.status == BK_WH_ENDPOINT_ENABLED) {
        ep.status = BK_WH_ENDPOINT_DISABLED;
        ep.disabled_reason = "disabled by an admin";
    }
    ep.updated_ms = now_ms;
    if ((e = bk_store_wh_endpoint_update(c->tx, &ep, c->err)))
        return e;
    bk_api_reply(c, 200, render_endpoint(&ep, NULL));
    return BK_OK;
}

static enum bk_err delete_(struct bk_api_call *c)
{
    struct bk_wh_endpoint ep;
    enum bk_err e;

    if ((e = endpoint_of(c, &ep)) ||
        (e = bk_store_wh_endpoint_delete(c->tx, ep.id, c->err)))
        return e;
    bk_api_reply_empty(c, 204);
    return BK_OK;
}

/* GET .../{id}/messages — newest first, with every attempt of each. */
static enum bk_err messages(struct bk_api_call *c)
{
    struct bk_wh_endpoint ep;
    struct bk_wh_message *rows = NULL;
    struct bk_wh_attempt *atts = NULL;
    size_t n_atts = 0;
    const char *next = NULL;
    int64_t before = 0, unused;
    int limit;
    bool has_cursor;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    if ((e = bk_api_limit(c->req, &limit, c->err)) ||
        (e = bk_api_cursor(c->req, 'm', &before, &unused, &has_cursor,
                           c->err)) ||
        (e = endpoint_of(c, &ep)) ||
        (e = bk_store_wh_message_list(c->tx, ep.id, before, limit + 1, c->arena,
                                      &rows, &n, c->err)))
        return e;
    if (n > (size_t)limit) {
        n = (size_t)limit;
        next = bk_api_cursor_encode(c->arena, 'm', rows[n - 1].id, 0);
    }
    /* One query for the page's attempts (rows are newest first). */
    if (n &&
        (e = bk_store_wh_attempt_list(c->tx, ep.id, rows[n - 1].id, rows[0].id,
                                      c->arena, &atts, &n_atts, c->err)))
        return e;
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, render_message(&rows[i], atts, n_atts));
    bk_api_reply_list(c, data, next);
    return BK_OK;
}

/* POST .../{id}/messages/{msg}/replay: the message is pending again and
 * its send job due now (a new job if its old one was pruned). Same
 * webhook-id: a receiver that had it already can tell. A NONE route: it
 * owns its transaction, and wakes the workers only after the commit. */
static enum bk_err replay(struct bk_api_call *c)
{
    struct bk_wh_endpoint ep;
    struct bk_wh_message m;
    const char *msg = bk_http_param(c->req, "msg");
    struct bk_wh_attempt *atts = NULL;
    size_t n_atts = 0;
    int64_t now_ms = bk_now_ms();
    enum bk_err e;

    if ((e = bk_store_begin(c->api->store, BK_TX_WRITE, &c->tx, c->err)) ||
        (e = endpoint_of(c, &ep)))
        goto out;
    e = bk_store_wh_message_get(c->tx, msg, 0, c->arena, &m, c->err);
    if (e == BK_OK && m.endpoint_id != ep.id)
        e = BK_E_NOT_FOUND;
    if (e == BK_E_NOT_FOUND)
        bk_fail(c->err, e, "no message '%s' of this endpoint", msg);
    if (e)
        goto out;
    if (ep.status != BK_WH_ENDPOINT_ENABLED) {
        e = bk_fail(c->err, BK_E_CONFLICT,
                    "the endpoint is disabled; enable it first");
        goto out;
    }
    e = m.job_id ? bk_store_job_requeue(c->tx, m.job_id, now_ms, c->err)
                 : BK_E_NOT_FOUND;
    if (e == BK_E_NOT_FOUND) { /* its job was pruned */
        char key[96], payload[24];
        bool existed = false;
        snprintf(key, sizeof(key), "webhooks.send:%s:%" PRId64, m.public_id,
                 now_ms);
        snprintf(payload, sizeof(payload), "%" PRId64, m.id);
        bk_errbuf_clear(c->err);
        e = bk_store_job_enqueue(c->tx, "webhooks.send", key, payload, now_ms,
                                 c->api->webhook_max_attempts, now_ms,
                                 &m.job_id, &existed, c->err);
    }
    if (e)
        goto out;
    m.status = BK_WH_MESSAGE_PENDING;
    m.delivered_ms = 0;
    m.updated_ms = now_ms;
    if ((e = bk_store_wh_message_record(c->tx, &m, c->err)) ||
        (e = bk_store_wh_attempt_list(c->tx, ep.id, m.id, m.id, c->arena, &atts,
                                      &n_atts, c->err)))
        goto out;
    e = bk_store_commit(c->tx, c->err);
    c->tx = NULL;
    if (e)
        goto out;
    bk_jobs_wake(c->api->jobs);
    m.next_attempt_ms = now_ms;
    bk_api_reply(c, 202, render_message(&m, atts, n_atts));
out:
    bk_api_call_end(c);
    return e;
}

const struct bk_api_route bk_api_webhook_endpoint_routes[] = {
    {"POST", "/api/v1/webhook-endpoints", create, BK_ROUTE_ADMIN,
     BK_ROUTE_WRITE},
    {"GET", "/api/v1/webhook-endpoints", list, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"GET", "/api/v1/webhook-endpoints/{id}", get, BK_ROUTE_ADMIN,
     BK_ROUTE_READ},
    {"PATCH", "/api/v1/webhook-endpoints/{id}", patch, BK_ROUTE_ADMIN,
     BK_ROUTE_WRITE},
    {"DELETE", "/api/v1/webhook-endpoints/{id}", delete_, BK_ROUTE_ADMIN,
     BK_ROUTE_WRITE},
    {"GET", "/api/v1/webhook-endpoints/{id}/messages", messages, BK_ROUTE_ADMIN,
     BK_ROUTE_READ},
    {"POST", "/api/v1/webhook-endpoints/{id}/messages/{msg}/replay", replay,
     BK_ROUTE_ADMIN, BK_ROUTE_NONE},
};
const size_t bk_api_webhook_endpoint_n =
    sizeof(bk_api_webhook_endpoint_routes) /
    sizeof(bk_api_webhook_endpoint_routes[0]);
