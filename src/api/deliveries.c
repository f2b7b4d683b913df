/* api/deliveries.c — /api/v1/webhook-deliveries: the inbox, for admins. */
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "jobs/inbox.h"
#include "base/banned.h"

static void list(void *ctx, struct bk_http_request *req,
                 struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_delivery *rows = NULL;
    const char *next = NULL, *provider = bk_http_query(req, "provider");
    const char *status_q = bk_http_query(req, "status");
    int64_t before = 0, unused;
    int status = -1, limit;
    bool has_cursor;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if (status_q && (status = bk_delivery_status_parse(status_q)) < 0) {
        e = bk_api_query_fail(&err, "status",
                              "status must be received, processed, ignored "
                              "or failed");
        goto out;
    }
    if ((e = bk_api_limit(req, &limit, &err)) ||
        (e = bk_api_cursor(req, 'd', &before, &unused, &has_cursor, &err)) ||
        (e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)) ||
        (e = bk_store_delivery_list(tx, provider, status, before, limit + 1,
                                    req->arena, &rows, &n, &err)))
        goto out;
    if (n > (size_t)limit) {
        n = (size_t)limit;
        next = bk_api_cursor_encode(req->arena, 'd', rows[n - 1].id, 0);
    }
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, bk_render_delivery(&rows[i], false));
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
    struct bk_delivery d;
    const char *id = bk_http_param(req, "id");
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)))
        goto out;
    e = bk_store_delivery_by_public_id(tx, id, req->arena, &d, &err);
    if (e == BK_E_NOT_FOUND)
        bk_fail(&err, e, "no delivery '%s'", id);
    if (e)
        goto out;
    bk_api_json(req, resp, 200, bk_render_delivery(&d, true));
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

/* POST /api/v1/webhook-deliveries/{id}/replay: apply the stored delivery
 * again (after a fix, or to retry a dead one). Applying is idempotent, so a
 * replay of a processed delivery changes nothing in the ledger. */
static void replay(void *ctx, struct bk_http_request *req,
                   struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_delivery d;
    const char *id = bk_http_param(req, "id");
    enum bk_err e;

    bk_errbuf_clear(&err);
    if (!api->inbox) {
        e = bk_fail(&err, BK_E_UNAVAILABLE, "the inbox is not running");
        goto out;
    }
    e = bk_inbox_replay(api->inbox, id, &err);
    if (e == BK_E_NOT_FOUND)
        bk_fail(&err, e, "no delivery '%s'", id);
    if (e == BK_E_CONFLICT)
        bk_fail(&err, e, "delivery '%s' is being applied right now", id);
    if (e)
        goto out;
    if ((e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)) ||
        (e = bk_store_delivery_by_public_id(tx, id, req->arena, &d, &err)))
        goto out;
    bk_api_json(req, resp, 202, bk_render_delivery(&d, false));
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

const struct bk_route bk_api_delivery_routes[] = {
    {"POST", "/api/v1/webhook-deliveries/{id}/replay", replay, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/webhook-deliveries", list, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/webhook-deliveries/{id}", get, BK_ROUTE_ADMIN},
};
const size_t bk_api_delivery_n =
    sizeof(bk_api_delivery_routes) / sizeof(bk_api_delivery_routes[0]);
