/* api/messages.c — what bookingd told people about a booking: its email
 * messages (admin) and the booking as an iCalendar file (admin or the
 * manage token). Deciding and sending messages is mail/. */
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/time.h"
#include "mail/mail.h"
#include "base/banned.h"

static json_t *render_message(const struct bk_message *m,
                              const struct bk_tz *tz)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:o, s:o, s:o}", "kind", m->kind,
        "to", m->recipient, "subject", m->subject, "status",
        bk_message_status_name(m->status), "message_id", m->message_id,
        "sequence", m->sequence, "attempts", m->attempts, "last_error",
        bk_json_str_or_null(m->last_error), "sent_at",
        m->sent_utc ? bk_render_instant(m->sent_utc, tz) : json_null(),
        "created_at", bk_render_instant(m->created_utc, tz));
}

static void messages(void *ctx, struct bk_http_request *req,
                     struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_booking b;
    struct bk_message *rows = NULL;
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
    if (e || (e = bk_store_message_list(tx, b.id, req->arena, &rows, &n, &err)))
        goto out;
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, render_message(&rows[i], tz));
    bk_api_json(req, resp, 200,
                json_pack("{s:s, s:o}", "booking", b.uid, "data", data));
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

static void ics(void *ctx, struct bk_http_request *req,
                struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_booking b;
    const char *uid = bk_http_param(req, "uid");
    char *text = NULL;
    bool bad, admin;
    enum bk_err e;

    bk_errbuf_clear(&err);
    admin = bk_api_is_admin(api, req, &bad);
    if (bad) {
        e = BK_E_UNAUTHORIZED;
        goto out;
    }
    if (!admin && !bk_api_token_ok(api, uid, bk_http_query(req, "token"))) {
        e = bk_fail(&err, BK_E_UNAUTHORIZED,
                    "the admin key or this booking's manage token is "
                    "required");
        goto out;
    }
    if ((e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)))
        goto out;
    e = bk_store_booking_by_uid(tx, uid, req->arena, &b, &err);
    if (e == BK_E_NOT_FOUND)
        bk_fail(&err, e, "no booking '%s'", uid);
    if (e ||
        (e = bk_mail_booking_ics(tx, b.id, api->base_url, api->manage_secret,
                                 bk_now_utc(), req->arena, &text, &err)))
        goto out;
    resp->status = 200;
    resp->content_type = "text/calendar; charset=utf-8";
    resp->body = text;
    resp->body_len = strlen(text);
    bk_http_add_header(
        resp, "Content-Disposition",
        bk_arena_printf(req->arena, "attachment; filename=\"%s.ics\"", b.uid));
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

const struct bk_route bk_api_message_routes[] = {
    {"GET", "/api/v1/bookings/{uid}/messages", messages, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/bookings/{uid}/ics", ics, BK_ROUTE_PUBLIC},
};
const size_t bk_api_message_n =
    sizeof(bk_api_message_routes) / sizeof(bk_api_message_routes[0]);
