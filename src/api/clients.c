/* api/clients.c — /api/v1/clients. */
#include <string.h>

#include "api/decode.h"
#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/time.h"
#include "ledger/ledger.h"
#include "core/booking.h"
#include "base/banned.h"

static enum bk_err list(struct bk_api_call *c)
{
    struct bk_client *rows = NULL;
    struct bk_page page = {0, 0};
    const char *next = NULL, *email = bk_http_query(c->req, "email");
    const char *status_q = bk_http_query(c->req, "status");
    int status = -1;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    if (status_q && (status = bk_client_status_parse(status_q)) < 0)
        return bk_api_query_fail(c->err, "status",
                                 "status must be prospect, active or "
                                 "inactive");
    if ((e = bk_api_page(c->req, 'c', &page, c->err)) ||
        (e = bk_store_client_list(c->tx, email, status, &page, c->arena, &rows,
                                  &n, c->err)))
        return e;
    if (bk_api_page_more(&page, &n))
        next = bk_api_cursor_encode(c->arena, 'c', rows[n - 1].id, 0);
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, bk_render_client(&rows[i]));
    bk_api_reply_list(c, data, next);
    return BK_OK;
}

static enum bk_err load(struct bk_api_call *c, struct bk_client *cl)
{
    const char *id = bk_http_param(c->req, "id");
    enum bk_err e =
        bk_store_client_by_public_id(c->tx, id, c->arena, cl, c->err);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no client '%s'", id);
    return e;
}

static enum bk_err get(struct bk_api_call *c)
{
    struct bk_client cl;
    enum bk_err e;

    if ((e = load(c, &cl)))
        return e;
    bk_api_reply(c, 200, bk_render_client(&cl));
    return BK_OK;
}

static enum bk_err patch(struct bk_api_call *c)
{
    static const char *const keys[] = {"name", "email", "timezone", "status",
                                       NULL};
    struct bk_client cl;
    const char *name, *email, *tz, *status;
    json_t *body;
    enum bk_err e;

    if ((e = bk_api_call_body(c, false, &body)) ||
        (e = bk_json_only(body, "", keys, c->arena, c->err)) ||
        (e = bk_json_str(body, "", "name", false, BK_MAX_NAME, false, c->arena,
                         &name, c->err)) ||
        (e = bk_json_str(body, "", "email", false, BK_MAX_EMAIL, false,
                         c->arena, &email, c->err)) ||
        (e = bk_decode_timezone(body, "", "timezone", false, c->arena, &tz,
                                c->err)) ||
        (e = bk_json_str(body, "", "status", false, 16, false, c->arena,
                         &status, c->err)))
        return e;
    if (email && !bk_email_valid(email))
        return bk_fail_field(c->err, BK_E_INVALID, "email",
                             "must be an email address");
    if (status && bk_client_status_parse(status) < 0)
        return bk_fail_field(c->err, BK_E_INVALID, "status",
                             "must be prospect, active or inactive");
    if ((e = load(c, &cl)))
        return e;
    if (json_object_get(body, "name"))
        cl.name = name && *name ? name : NULL;
    if (email)
        cl.email = email;
    if (json_object_get(body, "timezone"))
        cl.timezone = tz;
    if (status)
        cl.status = (enum bk_client_status)bk_client_status_parse(status);
    cl.updated_utc = bk_now_utc();
    if ((e = bk_ledger_client_update(c->tx, &cl, "admin", cl.updated_utc,
                                     c->arena, c->err)))
        return e;
    bk_api_reply(c, 200, bk_render_client(&cl));
    return BK_OK;
}

const struct bk_api_route bk_api_client_routes[] = {
    {"GET", "/api/v1/clients", list, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"GET", "/api/v1/clients/{id}", get, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"PATCH", "/api/v1/clients/{id}", patch, BK_ROUTE_ADMIN, BK_ROUTE_WRITE},
};
const size_t bk_api_client_n =
    sizeof(bk_api_client_routes) / sizeof(bk_api_client_routes[0]);
