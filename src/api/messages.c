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

static enum bk_err messages(struct bk_api_call *c)
{
    struct bk_booking b;
    struct bk_message *rows = NULL;
    const struct bk_tz *tz = NULL;
    const char *uid = bk_http_param(c->req, "uid");
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    if ((e = bk_api_query_tz(c->req, "timezone", &tz, c->err)))
        return e;
    e = bk_store_booking_by_uid(c->tx, uid, c->arena, &b, c->err);
    if (e == BK_E_NOT_FOUND)
        bk_fail(c->err, e, "no booking '%s'", uid);
    if (e ||
        (e = bk_store_message_list(c->tx, b.id, c->arena, &rows, &n, c->err)))
        return e;
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, render_message(&rows[i], tz));
    bk_api_reply(c, 200,
                 json_pack("{s:s, s:o}", "booking", b.uid, "data", data));
    return BK_OK;
}

static enum bk_err ics(struct bk_api_call *c)
{
    struct bk_booking b;
    const char *uid = bk_http_param(c->req, "uid");
    char *text = NULL;
    enum bk_err e;

    if (c->bad_key)
        return BK_E_UNAUTHORIZED;
    if (!c->admin &&
        !bk_api_token_ok(c->api, uid, bk_http_query(c->req, "token")))
        return bk_fail(c->err, BK_E_UNAUTHORIZED,
                       "the admin key or this booking's manage token is "
                       "required");
    e = bk_store_booking_by_uid(c->tx, uid, c->arena, &b, c->err);
    if (e == BK_E_NOT_FOUND)
        bk_fail(c->err, e, "no booking '%s'", uid);
    if (e || (e = bk_mail_booking_ics(c->tx, b.id, c->api->base_url,
                                      c->api->manage_secret, bk_now_utc(),
                                      c->arena, &text, c->err)))
        return e;
    bk_api_reply_raw(c, 200, "text/calendar; charset=utf-8", text,
                     strlen(text));
    bk_http_add_header(
        c->resp, "Content-Disposition",
        bk_arena_printf(c->arena, "attachment; filename=\"%s.ics\"", b.uid));
    return BK_OK;
}

const struct bk_api_route bk_api_message_routes[] = {
    {"GET", "/api/v1/bookings/{uid}/messages", messages, BK_ROUTE_ADMIN,
     BK_ROUTE_READ},
    {"GET", "/api/v1/bookings/{uid}/ics", ics, BK_ROUTE_PUBLIC, BK_ROUTE_READ},
};
const size_t bk_api_message_n =
    sizeof(bk_api_message_routes) / sizeof(bk_api_message_routes[0]);
