/* api/deliveries.c — /api/v1/webhook-deliveries: the inbox, for admins. */
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "jobs/inbox.h"
#include "base/banned.h"

static enum bk_err list(struct bk_api_call *c)
{
    struct bk_delivery *rows = NULL;
    const char *next = NULL, *provider = bk_http_query(c->req, "provider");
    const char *status_q = bk_http_query(c->req, "status");
    int64_t before = 0, unused;
    int status = -1, limit;
    bool has_cursor;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    if (status_q && (status = bk_delivery_status_parse(status_q)) < 0)
        return bk_api_query_fail(c->err, "status",
                                 "status must be received, processed, "
                                 "ignored or failed");
    if ((e = bk_api_limit(c->req, &limit, c->err)) ||
        (e = bk_api_cursor(c->req, 'd', &before, &unused, &has_cursor,
                           c->err)) ||
        (e = bk_store_delivery_list(c->tx, provider, status, before, limit + 1,
                                    c->arena, &rows, &n, c->err)))
        return e;
    if (n > (size_t)limit) {
        n = (size_t)limit;
        next = bk_api_cursor_encode(c->arena, 'd', rows[n - 1].id, 0);
    }
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, bk_render_delivery(&rows[i], false));
    bk_api_reply_list(c, data, next);
    return BK_OK;
}

static enum bk_err get(struct bk_api_call *c)
{
    struct bk_delivery d;
    const char *id = bk_http_param(c->req, "id");
    enum bk_err e;

    e = bk_store_delivery_by_public_id(c->tx, id, c->arena, &d, c->err);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no delivery '%s'", id);
    if (e)
        return e;
    bk_api_reply(c, 200, bk_render_delivery(&d, true));
    return BK_OK;
}

/* POST /api/v1/webhook-deliveries/{id}/replay: apply the stored delivery
 * again (after a fix, or to retry a dead one). Applying is idempotent, so a
 * replay of a processed delivery changes nothing in the ledger. A NONE
 * route: the inbox owns the replay's transaction; the answer is read after
 * it. */
static enum bk_err replay(struct bk_api_call *c)
{
    struct bk_delivery d;
    const char *id = bk_http_param(c->req, "id");
    enum bk_err e;

    if (!c->api->inbox)
        return bk_fail(c->err, BK_E_UNAVAILABLE, "the inbox is not running");
    e = bk_inbox_replay(c->api->inbox, id, c->err);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no delivery '%s'", id);
    if (e == BK_E_CONFLICT)
        return bk_fail(c->err, e, "delivery '%s' is being applied right now",
                       id);
    if (e || (e = bk_api_call_read(c)) ||
        (e = bk_store_delivery_by_public_id(c->tx, id, c->arena, &d, c->err)))
        return e;
    bk_api_reply(c, 202, bk_render_delivery(&d, false));
    return BK_OK;
}

const struct bk_api_route bk_api_delivery_routes[] = {
    {"POST", "/api/v1/webhook-deliveries/{id}/replay", replay, BK_ROUTE_ADMIN,
     BK_ROUTE_NONE},
    {"GET", "/api/v1/webhook-deliveries", list, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"GET", "/api/v1/webhook-deliveries/{id}", get, BK_ROUTE_ADMIN,
     BK_ROUTE_READ},
};
const size_t bk_api_delivery_n =
    sizeof(bk_api_delivery_routes) / sizeof(bk_api_delivery_routes[0]);
