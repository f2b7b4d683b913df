/* api/ops.c — GET /healthz, GET /readyz and GET /api/v1/activity. */
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/banned.h"

static void healthz(void *ctx, struct bk_http_request *req,
                    struct bk_http_response *resp)
{
    (void)ctx;
    bk_api_json(req, resp, 200, json_pack("{s:s}", "status", "ok"));
}

static void readyz(void *ctx, struct bk_http_request *req,
                   struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    enum bk_err e;

    bk_errbuf_clear(&err);
    e = bk_store_ping(api->store, &err);
    if (e) {
        bk_fail(&err, BK_E_UNAVAILABLE, "the database does not answer");
        bk_api_error(req, resp, BK_E_UNAVAILABLE, &err);
        return;
    }
    bk_api_json(req, resp, 200,
                json_pack("{s:s, s:s}", "status", "ready", "database",
                          bk_store_backend(api->store)));
}

/* GET /api/v1/activity?kind=&booking=&limit=&cursor= — newest first. */
static void activity_list(void *ctx, struct bk_http_request *req,
                          struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_activity *rows = NULL;
    struct bk_booking b;
    const char *kind = bk_http_query(req, "kind");
    const char *uid = bk_http_query(req, "booking");
    const char *next = NULL;
    int64_t before = 0, unused;
    int limit;
    bool has_cursor;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_api_limit(req, &limit, &err)) ||
        (e = bk_api_cursor(req, 'a', &before, &unused, &has_cursor, &err)))
        goto out;
    e = bk_store_begin(api->store, BK_TX_READ, &tx, &err);
    if (e)
        goto out;
    memset(&b, 0, sizeof(b));
    if (uid) {
        e = bk_store_booking_by_uid(tx, uid, req->arena, &b, &err);
        if (e == BK_E_NOT_FOUND) {
            e = bk_api_query_fail(&err, "booking", "no booking '%s'", uid);
            goto out;
        }
        if (e)
            goto out;
    }
    e = bk_store_activity_list(tx, kind, b.id, before, limit + 1, req->arena,
                               &rows, &n, &err);
    if (e)
        goto out;
    if (n > (size_t)limit) {
        n = (size_t)limit;
        next = bk_api_cursor_encode(req->arena, 'a', rows[n - 1].id, 0);
    }
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, bk_render_activity(&rows[i]));
    bk_api_list(req, resp, data, next);
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

const struct bk_route bk_api_ops_routes[] = {
    {"GET", "/healthz", healthz, BK_ROUTE_PUBLIC},
    {"GET", "/readyz", readyz, BK_ROUTE_PUBLIC},
    {"GET", "/api/v1/activity", activity_list, BK_ROUTE_ADMIN},
};
const size_t bk_api_ops_n =
    sizeof(bk_api_ops_routes) / sizeof(bk_api_ops_routes[0]);
