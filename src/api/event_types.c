/* api/event_types.c — /api/v1/event-types and their slots. */
#include <string.h>

#include "api/decode.h"
#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/time.h"
#include "ledger/ledger.h"
#include "base/banned.h"

#define MAX_SLOT_SPAN_DAYS     62
#define DEFAULT_SLOT_SPAN_DAYS 13

static enum bk_err resolve_host(struct bk_tx *tx, struct bk_arena *arena,
                                const char *host_slug, struct bk_event_type *et,
                                struct bk_errbuf *err)
{
    struct bk_host h;
    enum bk_err e = bk_store_host_by_slug(tx, host_slug, arena, &h, err);

    if (e == BK_E_NOT_FOUND)
        return bk_fail_field(err, BK_E_INVALID, "host", "no host '%s'",
                             host_slug);
    if (e)
        return e;
    et->host_id = h.id;
    et->host_slug = h.slug;
    return BK_OK;
}

static void create(void *ctx, struct bk_http_request *req,
                   struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_event_type et;
    const char *host_slug = NULL;
    json_t *body = NULL;
    json_t *dur;
    enum bk_err e;

    bk_errbuf_clear(&err);
    memset(&et, 0, sizeof(et));
    et.active = true;
    if ((e = bk_api_body(req, false, &body, &err)))
        goto out;
    dur = json_object_get(body, "duration_minutes");
    bk_slot_rules_defaults(
        &et.rules, json_is_integer(dur) ? (int)json_integer_value(dur) : 0);
    if ((e = bk_decode_event_type(body, true, req->arena, &et, &host_slug,
                                  &err)))
        goto out;
    et.created_utc = et.updated_utc = bk_now_utc();
    if ((e = bk_store_begin(api->store, BK_TX_WRITE, &tx, &err)) ||
        (e = resolve_host(tx, req->arena, host_slug, &et, &err)) ||
        (e = bk_ledger_event_type_create(tx, &et, "admin", et.created_utc,
                                         req->arena, &et.id, &err)) ||
        (e = bk_store_event_type_get(tx, et.id, req->arena, &et, &err)))
        goto out;
    e = bk_store_commit(tx, &err);
    tx = NULL;
    if (!e)
        bk_api_json(req, resp, 201, bk_render_event_type(&et, true));
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
    struct bk_event_type *rows = NULL;
    struct bk_page page = {0, 0};
    const char *next = NULL, *active_q = bk_http_query(req, "active");
    bool bad, admin = bk_api_is_admin(api, req, &bad);
    int active = 1;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if (bad) {
        e = BK_E_UNAUTHORIZED;
        goto out;
    }
    if (admin) {
        active = -1;
        if (active_q && strcmp(active_q, "true") == 0)
            active = 1;
        else if (active_q && strcmp(active_q, "false") == 0)
            active = 0;
        else if (active_q) {
            e = bk_api_query_fail(&err, "active",
                                  "active must be true or false");
            goto out;
        }
    }
    if ((e = bk_api_page(req, 'e', &page, &err)))
        goto out;
    if ((e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)) ||
        (e = bk_store_event_type_list(tx, active, &page, req->arena, &rows, &n,
                                      &err)))
        goto out;
    if (bk_api_page_more(&page, &n))
        next = bk_api_cursor_encode(req->arena, 'e', rows[n - 1].id, 0);
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, bk_render_event_type(&rows[i], admin));
    bk_api_list(req, resp, data, next);
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

/* Loads {slug}; an inactive one exists for admins only. */
static enum bk_err load(struct bk_tx *tx, struct bk_http_request *req,
                        bool admin, struct bk_event_type *et,
                        struct bk_errbuf *err)
{
    const char *slug = bk_http_param(req, "slug");
    enum bk_err e = bk_store_event_type_by_slug(tx, slug, req->arena, et, err);

    if (e == BK_OK && !et->active && !admin)
        e = BK_E_NOT_FOUND;
    if (e == BK_E_NOT_FOUND)
        return bk_fail(err, e, "no event type '%s'", slug);
    return e;
}

static void get(void *ctx, struct bk_http_request *req,
                struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_event_type et;
    bool bad, admin = bk_api_is_admin(api, req, &bad);
    enum bk_err e;

    bk_errbuf_clear(&err);
    if (bad) {
        e = BK_E_UNAUTHORIZED;
        goto out;
    }
    if ((e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)) ||
        (e = load(tx, req, admin, &et, &err)))
        goto out;
    bk_api_json(req, resp, 200, bk_render_event_type(&et, admin));
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

static void patch(void *ctx, struct bk_http_request *req,
                  struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_event_type et;
    const char *host_slug = NULL;
    json_t *body = NULL;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_api_body(req, false, &body, &err)) ||
        (e = bk_store_begin(api->store, BK_TX_WRITE, &tx, &err)) ||
        (e = load(tx, req, true, &et, &err)) ||
        (e = bk_decode_event_type(body, false, req->arena, &et, &host_slug,
                                  &err)))
        goto out;
    if (host_slug && (e = resolve_host(tx, req->arena, host_slug, &et, &err)))
        goto out;
    et.updated_utc = bk_now_utc();
    if ((e = bk_ledger_event_type_update(tx, &et, "admin", et.updated_utc,
                                         req->arena, &err)) ||
        (e = bk_store_event_type_get(tx, et.id, req->arena, &et, &err)))
        goto out;
    e = bk_store_commit(tx, &err);
    tx = NULL;
    if (!e)
        bk_api_json(req, resp, 200, bk_render_event_type(&et, true));
out:
    bk_store_rollback(tx);
    json_decref(body);
    if (e)
        bk_api_error(req, resp, e, &err);
}

static void del(void *ctx, struct bk_http_request *req,
                struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_event_type et;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_store_begin(api->store, BK_TX_WRITE, &tx, &err)) ||
        (e = load(tx, req, true, &et, &err)) ||
        (e = bk_ledger_event_type_delete(tx, &et, "admin", bk_now_utc(),
                                         req->arena, &err)))
        goto out;
    e = bk_store_commit(tx, &err);
    tx = NULL;
    if (!e) {
        resp->status = 204;
        resp->body = "";
        resp->body_len = 0;
    }
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

/* ?name= as a date; *present tells whether it was given. */
static enum bk_err query_date(const struct bk_http_request *req,
                              const char *name, int64_t *out, bool *present,
                              struct bk_errbuf *err)
{
    const char *s = bk_http_query(req, name);
    enum bk_err e;

    *present = s != NULL;
    if (!s)
        return BK_OK;
    e = bk_date_parse(s, out);
    if (e == BK_E_INVALID)
        return bk_api_query_fail(err, name, "%s is not an existing date", name);
    if (e)
        return bk_api_query_fail(err, name, "%s must be a date YYYY-MM-DD",
                                 name);
    return BK_OK;
}

/* ?exclude=<uid>&token=<manage token>: the booking its attendee is moving
 * does not count as busy, and a deactivated event type still shows its
 * slots to that attendee. The token (or the admin key) must be the
 * booking's, and the booking of this event type. */
static enum bk_err excluded(struct bk_api *api, struct bk_http_request *req,
                            struct bk_tx *tx, bool admin, int64_t *id,
                            struct bk_errbuf *err)
{
    const char *uid = bk_http_query(req, "exclude");
    struct bk_booking b;
    enum bk_err e;

    *id = 0;
    if (!uid)
        return BK_OK;
    if (!admin && !bk_api_token_ok(api, uid, bk_http_query(req, "token")))
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "exclude needs the booking's manage token in token");
    e = bk_store_booking_by_uid(tx, uid, req->arena, &b, err);
    if (e == BK_E_NOT_FOUND ||
        (!e && strcmp(b.event_type_slug, bk_http_param(req, "slug")) != 0))
        return bk_api_query_fail(err, "exclude",
                                 "exclude must name a booking of this event "
                                 "type");
    if (e)
        return e;
    *id = b.id;
    return BK_OK;
}

/* GET /api/v1/event-types/{slug}/slots?from=&to=&timezone=[&exclude=&token=]
 */
static void slots(void *ctx, struct bk_http_request *req,
                  struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_event_type et;
    struct bk_schedule sched;
    struct bk_host host;
    struct bk_slot *out = NULL;
    const struct bk_tz *tz = NULL;
    int64_t from_date = 0, to_date = 0, from_utc, to_utc, now = bk_now_utc();
    int64_t exclude_id = 0;
    bool has_from, has_to, bad, admin = bk_api_is_admin(api, req, &bad);
    size_t n = 0;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if (bad) {
        e = BK_E_UNAUTHORIZED;
        goto out;
    }
    if ((e = bk_api_query_tz(req, "timezone", &tz, &err)) ||
        (e = query_date(req, "from", &from_date, &has_from, &err)) ||
        (e = query_date(req, "to", &to_date, &has_to, &err)) ||
        (e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)) ||
        (e = excluded(api, req, tx, admin, &exclude_id, &err)) ||
        (e = load(tx, req, admin || exclude_id, &et, &err)))
        goto out;
    /* The default zone is the schedule's (or the host's without one). */
    if (!tz) {
        e = bk_store_schedule_get(tx, et.host_id, req->arena, &sched, &err);
        if (e == BK_OK) {
            tz = bk_tz_get(sched.timezone);
        } else if (e == BK_E_NOT_FOUND) {
            if ((e = bk_store_host_get(tx, et.host_id, req->arena, &host,
                                       &err)))
                goto out;
            tz = bk_tz_get(host.timezone);
        } else {
            goto out;
        }
        if (!tz)
            tz = bk_tz_utc();
    }
    bk_store_rollback(tx);
    tx = NULL;
    if (!has_from)
        from_date = bk_tz_local_date(tz, now);
    if (!has_to)
        to_date = from_date + DEFAULT_SLOT_SPAN_DAYS;
    if (to_date < from_date) {
        e = bk_api_query_fail(&err, "to", "to must not be before from");
        goto out;
    }
    if (to_date - from_date > MAX_SLOT_SPAN_DAYS) {
        e = bk_api_query_fail(&err, "to",
                              "from and to must be at most %d days apart",
                              MAX_SLOT_SPAN_DAYS);
        goto out;
    }
    bk_dates_window(tz, from_date, to_date, &from_utc, &to_utc);
    e = bk_ledger_slots(api->store, et.slug, true, exclude_id, from_utc, to_utc,
                        now, req->arena, &et, &out, &n, &err);
    if (e)
        goto out;
    bk_api_json(req, resp, 200, bk_render_slots(et.slug, tz, out, n));
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

const struct bk_route bk_api_event_type_routes[] = {
    {"POST", "/api/v1/event-types", create, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/event-types", list, BK_ROUTE_PUBLIC},
    {"GET", "/api/v1/event-types/{slug}", get, BK_ROUTE_PUBLIC},
    {"PATCH", "/api/v1/event-types/{slug}", patch, BK_ROUTE_ADMIN},
    {"DELETE", "/api/v1/event-types/{slug}", del, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/event-types/{slug}/slots", slots, BK_ROUTE_PUBLIC},
};
const size_t bk_api_event_type_n =
    sizeof(bk_api_event_type_routes) / sizeof(bk_api_event_type_routes[0]);
