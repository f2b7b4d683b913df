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

static json_t *render_message(const struct bk_wh_message *m)
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

static enum bk_err endpoint_of(struct bk_tx *tx, struct bk_http_request *req,
                               struct bk_wh_endpoint *ep, struct bk_errbuf *err)
{
    const char *id = bk_http_param(req, "id");
    enum bk_err e = bk_store_wh_endpoint_get(tx, id, 0, req->arena, ep, err);

    if (e == BK_E_NOT_FOUND)
        bk_fail(err, e, "no webhook endpoint '%s'", id);
    return e;
}

static void create(void *ctx, struct bk_http_request *req,
                   struct bk_http_response *resp)
{
    static const char *const keys[] = {"url", "events", "description", NULL};
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_wh_endpoint ep;
    unsigned char key[32];
    char secret[64], public_id[32];
    json_t *body = NULL;
    int64_t now_ms = bk_now_ms();
    enum bk_err e;

    bk_errbuf_clear(&err);
    memset(&ep, 0, sizeof(ep));
    if ((e = bk_api_body(req, false, &body, &err)) ||
        (e = bk_json_only(body, "", keys, req->arena, &err)) ||
        (e = decode_url(api, body, true, req->arena, &ep.url, &err)) ||
        (e = decode_events(body, true, req->arena, &ep.events, &err)) ||
        (e = bk_json_str(body, "", "description", false, MAX_DESCRIPTION, false,
                         req->arena, &ep.description, &err)))
        goto out;
    bk_random_bytes(key, sizeof(key));
    memcpy(secret, "whsec_", 6);
    bk_base64_encode(key, sizeof(key), secret + 6);
    bk_ledger_new_public_id("ep_", public_id);
    ep.public_id = public_id;
    ep.secret = secret;
    ep.status = BK_WH_ENDPOINT_ENABLED;
    ep.created_ms = ep.updated_ms = now_ms;
    if ((e = bk_store_begin(api->store, BK_TX_WRITE, &tx, &err)) ||
        (e = bk_store_wh_endpoint_insert(tx, &ep, &ep.id, &err)))
        goto out;
    e = bk_store_commit(tx, &err);
    tx = NULL;
    if (e)
        goto out;
    bk_api_json(req, resp, 201, render_endpoint(&ep, secret));
out:
    bk_store_rollback(tx);
    json_decref(body);
    if (e)
        bk_api_error(req, resp, e, &err);
}

static void list(void *ctx, struct bk_http_request *req,
                 struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_wh_endpoint *rows = NULL;
    struct bk_page page;
    const char *next = NULL;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_api_page(req, 'w', &page, &err)) ||
        (e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)) ||
        (e = bk_store_wh_endpoint_list(tx, &page, false, req->arena, &rows, &n,
                                       &err)))
        goto out;
    if (bk_api_page_more(&page, &n))
        next = bk_api_cursor_encode(req->arena, 'w', rows[n - 1].id, 0);
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, render_endpoint(&rows[i], NULL));
    bk_api_list(req, resp, data, next);
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

static void get(void *ctx, struct bk_http_request *req,
                struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_wh_endpoint ep;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)) ||
        (e = endpoint_of(tx, req, &ep, &err)))
        goto out;
    bk_api_json(req, resp, 200, render_endpoint(&ep, NULL));
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

/* PATCH: url, events, description, and status "enabled" (which clears the
 * reason and the run of failures) or "disabled". */
static void patch(void *ctx, struct bk_http_request *req,
                  struct bk_http_response *resp)
{
    static const char *const keys[] = {"url", "events", "description", "status",
                                       NULL};
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_wh_endpoint ep;
    const char *url = NULL, *events = NULL, *desc = NULL, *status = NULL;
    json_t *body = NULL;
    int64_t now_ms = bk_now_ms();
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_api_body(req, false, &body, &err)) ||
        (e = bk_json_only(body, "", keys, req->arena, &err)) ||
        (e = decode_url(api, body, false, req->arena, &url, &err)) ||
        (e = decode_events(body, false, req->arena, &events, &err)) ||
        (e = bk_json_str(body, "", "description", false, MAX_DESCRIPTION, false,
                         req->arena, &desc, &err)) ||
        (e = bk_json_str(body, "", "status", false, 16, false, req->arena,
                         &status, &err)))
        goto out;
    if (status && strcmp(status, "enabled") != 0 &&
        strcmp(status, "disabled") != 0) {
        e = bk_fail_field(&err, BK_E_INVALID, "status",
                          "must be enabled or disabled");
        goto out;
    }
    if ((e = bk_store_begin(api->store, BK_TX_WRITE, &tx, &err)) ||
        (e = endpoint_of(tx, req, &ep, &err)))
        goto out;
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
    if ((e = bk_store_wh_endpoint_update(tx, &ep, &err)))
        goto out;
    e = bk_store_commit(tx, &err);
    tx = NULL;
    if (e)
        goto out;
    bk_api_json(req, resp, 200, render_endpoint(&ep, NULL));
out:
    bk_store_rollback(tx);
    json_decref(body);
    if (e)
        bk_api_error(req, resp, e, &err);
}

static void delete_(void *ctx, struct bk_http_request *req,
                    struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_wh_endpoint ep;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_store_begin(api->store, BK_TX_WRITE, &tx, &err)) ||
        (e = endpoint_of(tx, req, &ep, &err)) ||
        (e = bk_store_wh_endpoint_delete(tx, ep.id, &err)))
        goto out;
    e = bk_store_commit(tx, &err);
    tx = NULL;
    if (e)
        goto out;
    resp->status = 204;
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

/* GET .../{id}/messages — newest first, with the last attempt of each. */
static void messages(void *ctx, struct bk_http_request *req,
                     struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_wh_endpoint ep;
    struct bk_wh_message *rows = NULL;
    const char *next = NULL;
    int64_t before = 0, unused;
    int limit;
    bool has_cursor;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_api_limit(req, &limit, &err)) ||
        (e = bk_api_cursor(req, 'm', &before, &unused, &has_cursor, &err)) ||
        (e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)) ||
        (e = endpoint_of(tx, req, &ep, &err)) ||
        (e = bk_store_wh_message_list(tx, ep.id, before, limit + 1, req->arena,
                                      &rows, &n, &err)))
        goto out;
    if (n > (size_t)limit) {
        n = (size_t)limit;
        next = bk_api_cursor_encode(req->arena, 'm', rows[n - 1].id, 0);
    }
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, render_message(&rows[i]));
    bk_api_list(req, resp, data, next);
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

/* POST .../{id}/messages/{msg}/replay: the message is pending again and
 * its send job due now (a new job if its old one was pruned). Same
 * webhook-id: a receiver that had it already can tell. */
static void replay(void *ctx, struct bk_http_request *req,
                   struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_wh_endpoint ep;
    struct bk_wh_message m;
    const char *msg = bk_http_param(req, "msg");
    int64_t now_ms = bk_now_ms();
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_store_begin(api->store, BK_TX_WRITE, &tx, &err)) ||
        (e = endpoint_of(tx, req, &ep, &err)))
        goto out;
    e = bk_store_wh_message_get(tx, msg, 0, req->arena, &m, &err);
    if (e == BK_OK && m.endpoint_id != ep.id)
        e = BK_E_NOT_FOUND;
    if (e == BK_E_NOT_FOUND)
        bk_fail(&err, e, "no message '%s' of this endpoint", msg);
    if (e)
        goto out;
    if (ep.status != BK_WH_ENDPOINT_ENABLED) {
        e = bk_fail(&err, BK_E_CONFLICT,
                    "the endpoint is disabled; enable it first");
        goto out;
    }
    e = m.job_id ? bk_store_job_requeue(tx, m.job_id, now_ms, &err)
                 : BK_E_NOT_FOUND;
    if (e == BK_E_NOT_FOUND) { /* its job was pruned */
        char key[96], payload[24];
        bool existed = false;
        snprintf(key, sizeof(key), "webhooks.send:%s:%" PRId64, m.public_id,
                 now_ms);
        snprintf(payload, sizeof(payload), "%" PRId64, m.id);
        bk_errbuf_clear(&err);
        e = bk_store_job_enqueue(tx, "webhooks.send", key, payload, now_ms,
                                 api->webhook_max_attempts, now_ms, &m.job_id,
                                 &existed, &err);
    }
    if (e)
        goto out;
    m.status = BK_WH_MESSAGE_PENDING;
    m.delivered_ms = 0;
    m.updated_ms = now_ms;
    if ((e = bk_store_wh_message_record(tx, &m, &err)))
        goto out;
    e = bk_store_commit(tx, &err);
    tx = NULL;
    if (e)
        goto out;
    bk_jobs_wake(api->jobs);
    m.next_attempt_ms = now_ms;
    bk_api_json(req, resp, 202, render_message(&m));
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

const struct bk_route bk_api_webhook_endpoint_routes[] = {
    {"POST", "/api/v1/webhook-endpoints", create, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/webhook-endpoints", list, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/webhook-endpoints/{id}", get, BK_ROUTE_ADMIN},
    {"PATCH", "/api/v1/webhook-endpoints/{id}", patch, BK_ROUTE_ADMIN},
    {"DELETE", "/api/v1/webhook-endpoints/{id}", delete_, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/webhook-endpoints/{id}/messages", messages,
     BK_ROUTE_ADMIN},
    {"POST", "/api/v1/webhook-endpoints/{id}/messages/{msg}/replay", replay,
     BK_ROUTE_ADMIN},
};
const size_t bk_api_webhook_endpoint_n =
    sizeof(bk_api_webhook_endpoint_routes) /
    sizeof(bk_api_webhook_endpoint_routes[0]);
