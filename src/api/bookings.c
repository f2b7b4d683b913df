/* api/bookings.c — /api/v1/bookings: create (public), read, list, cancel,
 * reschedule and history. The attendee's manage token authorizes one
 * booking's read, cancel and reschedule. */
#include <string.h>

#include "api/decode.h"
#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/str.h"
#include "base/time.h"
#include "ledger/ledger.h"
#include "base/banned.h"

/* Renders b with its links (read in tx, or in a transaction of its own when
 * tx is NULL) and, for the attendee's first response and for admins, its
 * manage token and URL. */
static json_t *render(struct bk_api *api, struct bk_http_request *req,
                      struct bk_tx *tx, const struct bk_booking *b,
                      const struct bk_tz *tz, bool with_token)
{
    struct bk_tx *own = NULL;
    struct bk_link *links = NULL;
    size_t n = 0;
    json_t *o;

    if (!tx && bk_store_begin(api->store, BK_TX_READ, &own, NULL) == BK_OK)
        tx = own;
    if (!tx || bk_store_link_list(tx, BK_LINK_BOOKING, b->id, req->arena,
                                  &links, &n, NULL) != BK_OK)
        n = 0;
    bk_store_rollback(own);
    o = bk_render_booking(b, links, n, tz);
    if (with_token) {
        char token[48];
        bk_api_manage_token(api, b->uid, token);
        json_object_set_new(o, "manage_token", json_string(token));
        json_object_set_new(
            o, "manage_url",
            json_string(bk_arena_printf(req->arena, "%s/manage/%s?token=%s",
                                        api->base_url, b->uid, token)));
    }
    return o;
}

/* A start with a fraction of a second is no slot start; the parser would
 * drop the fraction and book the whole second. */
static enum bk_err whole_start(const json_t *body, struct bk_errbuf *err)
{
    if (bk_rfc3339_has_fraction(
            json_string_value(json_object_get(body, "start"))))
        return bk_fail_field(err, BK_E_INVALID, "start",
                             "is not a slot of this event type (slots start "
                             "on whole minutes)");
    return BK_OK;
}

static void create(void *ctx, struct bk_http_request *req,
                   struct bk_http_response *resp)
{
    static const char *const keys[] = {"event_type", "start", "attendee",
                                       "notes", NULL};
    static const char *const akeys[] = {"name", "email", "timezone", NULL};
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_booking_request br;
    struct bk_booking b;
    json_t *body = NULL, *att;
    bool bad, admin = bk_api_is_admin(api, req, &bad);
    enum bk_err e;

    bk_errbuf_clear(&err);
    memset(&br, 0, sizeof(br));
    if (bad) {
        e = BK_E_UNAUTHORIZED;
        goto out;
    }
    if ((e = bk_api_body(req, false, &body, &err)) ||
        (e = bk_json_only(body, "", keys, req->arena, &err)) ||
        (e = bk_json_str(body, "", "event_type", true, BK_MAX_SLUG, false,
                         req->arena, &br.event_type_slug, &err)) ||
        (e = bk_decode_instant(body, "", "start", true, req->arena,
                               &br.start_utc, NULL, &err)) ||
        (e = bk_json_object(body, "", "attendee", true, req->arena, &att,
                            &err)) ||
        (e = bk_json_only(att, "attendee", akeys, req->arena, &err)) ||
        (e = bk_json_str(att, "attendee", "name", true, BK_MAX_NAME, false,
                         req->arena, &br.attendee_name, &err)) ||
        (e = bk_json_str(att, "attendee", "email", true, BK_MAX_EMAIL, false,
                         req->arena, &br.attendee_email, &err)) ||
        (e = bk_decode_timezone(att, "attendee", "timezone", false, req->arena,
                                &br.attendee_timezone, &err)) ||
        (e = bk_json_str(body, "", "notes", false, BK_MAX_TEXT, true,
                         req->arena, &br.notes, &err)))
        goto out;
    if ((e = whole_start(body, &err)))
        goto out;
    if (!*br.attendee_name) {
        e = bk_fail_field(&err, BK_E_INVALID, "attendee.name",
                          "must not be empty");
        goto out;
    }
    if (!bk_email_valid(br.attendee_email)) {
        e = bk_fail_field(&err, BK_E_INVALID, "attendee.email",
                          "must be an email address");
        goto out;
    }
    br.source = admin ? BK_SOURCE_API : BK_SOURCE_WEB;
    br.actor = admin ? "admin" : "attendee";
    e = bk_ledger_booking_create(api->store, &br, bk_now_utc(), req->arena, &b,
                                 &err);
    if (e)
        goto out;
    bk_api_json(req, resp, 201, render(api, req, NULL, &b, NULL, true));
out:
    json_decref(body);
    if (e)
        bk_api_error(req, resp, e, &err);
}

/* Admin key or the booking's manage token (?token=). A wrong admin key is
 * 401 even with a right token. */
static enum bk_err authorize(struct bk_api *api, struct bk_http_request *req,
                             const char *uid, bool *admin,
                             struct bk_errbuf *err)
{
    bool bad;

    *admin = bk_api_is_admin(api, req, &bad);
    if (bad)
        return BK_E_UNAUTHORIZED;
    if (*admin || bk_api_token_ok(api, uid, bk_http_query(req, "token")))
        return BK_OK;
    return bk_fail(err, BK_E_UNAUTHORIZED,
                   "the admin key or this booking's manage token is "
                   "required");
}

static void get(void *ctx, struct bk_http_request *req,
                struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_booking b;
    const struct bk_tz *tz = NULL;
    const char *uid = bk_http_param(req, "uid");
    bool admin;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = authorize(api, req, uid, &admin, &err)) ||
        (e = bk_api_query_tz(req, "timezone", &tz, &err)) ||
        (e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)))
        goto out;
    e = bk_store_booking_by_uid(tx, uid, req->arena, &b, &err);
    if (e == BK_E_NOT_FOUND)
        bk_fail(&err, e, "no booking '%s'", uid);
    if (e)
        goto out;
    bk_api_json(req, resp, 200, render(api, req, tx, &b, tz, admin));
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

static void cancel(void *ctx, struct bk_http_request *req,
                   struct bk_http_response *resp)
{
    static const char *const keys[] = {"reason", NULL};
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_booking b;
    const char *uid = bk_http_param(req, "uid"), *reason = NULL;
    json_t *body = NULL;
    bool admin;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = authorize(api, req, uid, &admin, &err)) ||
        (e = bk_api_body(req, true, &body, &err)) ||
        (e = bk_json_only(body, "", keys, req->arena, &err)) ||
        (e = bk_json_str(body, "", "reason", false, BK_MAX_TEXT, true,
                         req->arena, &reason, &err)))
        goto out;
    e = bk_ledger_booking_cancel(api->store, uid, reason,
                                 admin ? "admin" : "attendee", bk_now_utc(),
                                 req->arena, &b, &err);
    if (e == BK_E_NOT_FOUND)
        bk_fail(&err, e, "no booking '%s'", uid);
    if (e)
        goto out;
    bk_api_json(req, resp, 200, render(api, req, NULL, &b, NULL, false));
out:
    json_decref(body);
    if (e)
        bk_api_error(req, resp, e, &err);
}

static void reschedule(void *ctx, struct bk_http_request *req,
                       struct bk_http_response *resp)
{
    static const char *const keys[] = {"start", NULL};
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_booking b;
    const char *uid = bk_http_param(req, "uid");
    int64_t start;
    json_t *body = NULL;
    bool admin;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = authorize(api, req, uid, &admin, &err)) ||
        (e = bk_api_body(req, false, &body, &err)) ||
        (e = bk_json_only(body, "", keys, req->arena, &err)) ||
        (e = bk_decode_instant(body, "", "start", true, req->arena, &start,
                               NULL, &err)))
        goto out;
    if ((e = whole_start(body, &err)))
        goto out;
    e = bk_ledger_booking_reschedule(api->store, uid, start,
                                     admin ? "admin" : "attendee", bk_now_utc(),
                                     req->arena, &b, &err);
    if (e == BK_E_NOT_FOUND)
        bk_fail(&err, e, "no booking '%s'", uid);
    if (e)
        goto out;
    bk_api_json(req, resp, 200, render(api, req, NULL, &b, NULL, false));
out:
    json_decref(body);
    if (e)
        bk_api_error(req, resp, e, &err);
}

static void history(void *ctx, struct bk_http_request *req,
                    struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_booking b;
    struct bk_booking_change *rows = NULL;
    const struct bk_tz *tz = NULL;
    const char *uid = bk_http_param(req, "uid");
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_api_query_tz(req, "timezone", &tz, &err)) ||
        (e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)))
        goto out;
    e = bk_store_booking_by_uid(tx, uid, req->arena, &b, &err);
    if (e == BK_E_NOT_FOUND)
        bk_fail(&err, e, "no booking '%s'", uid);
    if (e || (e = bk_store_history_list(tx, b.id, req->arena, &rows, &n, &err)))
        goto out;
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, bk_render_change(&rows[i], tz));
    bk_api_json(req, resp, 200,
                json_pack("{s:s, s:o}", "booking", b.uid, "data", data));
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

/* ?from= / ?to=: an RFC 3339 instant, or a date meaning that UTC day's
 * start (from) or the end of that UTC day (to, inclusive). */
static enum bk_err query_instant(const struct bk_http_request *req,
                                 const char *name, bool end_of_day,
                                 int64_t *out, struct bk_errbuf *err)
{
    const char *s = bk_http_query(req, name);
    int64_t days;

    *out = 0;
    if (!s)
        return BK_OK;
    if (bk_rfc3339_parse(s, out, NULL) == BK_OK)
        return BK_OK;
    if (bk_date_parse(s, &days) == BK_OK) {
        *out = (days + (end_of_day ? 1 : 0)) * BK_SECS_PER_DAY;
        return BK_OK;
    }
    return bk_api_query_fail(err, name,
                             "%s must be a date YYYY-MM-DD or an RFC 3339 "
                             "date-time",
                             name);
}

static void list(void *ctx, struct bk_http_request *req,
                 struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_booking *rows = NULL;
    struct bk_booking_filter f;
    const struct bk_tz *tz = NULL;
    const char *next = NULL, *s;
    bool has_cursor;
    size_t n = 0;
    json_t *data;
    int limit;
    enum bk_err e;

    bk_errbuf_clear(&err);
    memset(&f, 0, sizeof(f));
    f.status = -1;
    f.source = -1;
    if ((e = bk_api_limit(req, &limit, &err)) ||
        (e = bk_api_cursor(req, 'b', &f.after_start_utc, &f.after_id,
                           &has_cursor, &err)) ||
        (e = bk_api_query_tz(req, "timezone", &tz, &err)) ||
        (e = query_instant(req, "from", false, &f.from_utc, &err)) ||
        (e = query_instant(req, "to", true, &f.to_utc, &err)))
        goto out;
    f.has_after = has_cursor;
    f.limit = limit + 1;
    if ((s = bk_http_query(req, "status")) &&
        (f.status = bk_booking_status_parse(s)) < 0) {
        e = bk_api_query_fail(&err, "status",
                              "status must be pending, confirmed, cancelled, "
                              "completed or no_show");
        goto out;
    }
    if ((s = bk_http_query(req, "source")) &&
        (f.source = bk_source_parse(s)) < 0) {
        e = bk_api_query_fail(&err, "source",
                              "source must be web, api, calcom, calendly, "
                              "notion or calendar");
        goto out;
    }
    if ((e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)))
        goto out;
    if ((s = bk_http_query(req, "client"))) {
        struct bk_client c;
        e = bk_store_client_by_public_id(tx, s, req->arena, &c, &err);
        if (e == BK_E_NOT_FOUND)
            e = bk_store_client_by_email(tx, s, req->arena, &c, &err);
        if (e == BK_E_NOT_FOUND) {
            bk_api_list(req, resp, json_array(), NULL); /* nobody's */
            e = BK_OK;
            goto out;
        }
        if (e)
            goto out;
        f.client_id = c.id;
    }
    if ((s = bk_http_query(req, "event_type"))) {
        struct bk_event_type et;
        e = bk_store_event_type_by_slug(tx, s, req->arena, &et, &err);
        if (e == BK_E_NOT_FOUND) {
            bk_api_list(req, resp, json_array(), NULL);
            e = BK_OK;
            goto out;
        }
        if (e)
            goto out;
        f.event_type_id = et.id;
    }
    if ((e = bk_store_booking_list(tx, &f, req->arena, &rows, &n, &err)))
        goto out;
    if (n > (size_t)limit) {
        n = (size_t)limit;
        next = bk_api_cursor_encode(req->arena, 'b', rows[n - 1].start_utc,
                                    rows[n - 1].id);
    }
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, render(api, req, tx, &rows[i], tz, false));
    bk_api_list(req, resp, data, next);
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

const struct bk_route bk_api_booking_routes[] = {
    {"POST", "/api/v1/bookings", create, BK_ROUTE_PUBLIC},
    {"GET", "/api/v1/bookings", list, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/bookings/{uid}", get, BK_ROUTE_PUBLIC},
    {"POST", "/api/v1/bookings/{uid}/cancel", cancel, BK_ROUTE_PUBLIC},
    {"POST", "/api/v1/bookings/{uid}/reschedule", reschedule, BK_ROUTE_PUBLIC},
    {"GET", "/api/v1/bookings/{uid}/history", history, BK_ROUTE_ADMIN},
};
const size_t bk_api_booking_n =
    sizeof(bk_api_booking_routes) / sizeof(bk_api_booking_routes[0]);
