/* api/hosts.c — /api/v1/hosts and /api/v1/hosts/{slug}/schedule. */
#include <string.h>

#include "api/decode.h"
#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/time.h"
#include "ledger/ledger.h"
#include "base/banned.h"

static void create(void *ctx, struct bk_http_request *req,
                   struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_host h;
    json_t *body = NULL;
    enum bk_err e;

    bk_errbuf_clear(&err);
    memset(&h, 0, sizeof(h));
    if ((e = bk_api_body(req, false, &body, &err)) ||
        (e = bk_decode_host(body, true, req->arena, &h, &err)))
        goto out;
    h.created_utc = h.updated_utc = bk_now_utc();
    if ((e = bk_store_begin(api->store, BK_TX_WRITE, &tx, &err)) ||
        (e = bk_ledger_host_create(tx, &h, "admin", h.created_utc, req->arena,
                                   &h.id, &err)))
        goto out;
    e = bk_store_commit(tx, &err);
    tx = NULL;
    if (!e)
        bk_api_json(req, resp, 201, bk_render_host(&h));
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
    struct bk_host *rows = NULL;
    struct bk_page page = {0, 0};
    const char *next = NULL;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_api_page(req, 'h', &page, &err)))
        goto out;
    if ((e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)) ||
        (e = bk_store_host_list(tx, &page, req->arena, &rows, &n, &err)))
        goto out;
    if (bk_api_page_more(&page, &n))
        next = bk_api_cursor_encode(req->arena, 'h', rows[n - 1].id, 0);
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, bk_render_host(&rows[i]));
    bk_api_list(req, resp, data, next);
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

/* Loads the host named by the {slug} capture. */
static enum bk_err load(struct bk_tx *tx, struct bk_http_request *req,
                        struct bk_host *h, struct bk_errbuf *err)
{
    const char *slug = bk_http_param(req, "slug");
    enum bk_err e = bk_store_host_by_slug(tx, slug, req->arena, h, err);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(err, e, "no host '%s'", slug);
    return e;
}

static void get(void *ctx, struct bk_http_request *req,
                struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_host h;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)) ||
        (e = load(tx, req, &h, &err)))
        goto out;
    bk_api_json(req, resp, 200, bk_render_host(&h));
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
    struct bk_host h;
    json_t *body = NULL;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_api_body(req, false, &body, &err)) ||
        (e = bk_store_begin(api->store, BK_TX_WRITE, &tx, &err)) ||
        (e = load(tx, req, &h, &err)) ||
        (e = bk_decode_host(body, false, req->arena, &h, &err)))
        goto out;
    h.updated_utc = bk_now_utc();
    if ((e = bk_ledger_host_update(tx, &h, "admin", h.updated_utc, req->arena,
                                   &err)))
        goto out;
    e = bk_store_commit(tx, &err);
    tx = NULL;
    if (!e)
        bk_api_json(req, resp, 200, bk_render_host(&h));
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
    struct bk_host h;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_store_begin(api->store, BK_TX_WRITE, &tx, &err)) ||
        (e = load(tx, req, &h, &err)) ||
        (e = bk_ledger_host_delete(tx, h.id, h.slug, "admin", bk_now_utc(),
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

static void schedule_put(void *ctx, struct bk_http_request *req,
                         struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_host h;
    struct bk_schedule s;
    json_t *body = NULL;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_api_body(req, false, &body, &err)) ||
        (e = bk_decode_schedule(body, "", req->arena, &s, &err)) ||
        (e = bk_store_begin(api->store, BK_TX_WRITE, &tx, &err)) ||
        (e = load(tx, req, &h, &err)) ||
        (e = bk_ledger_schedule_put(tx, h.id, &s, "admin", bk_now_utc(),
                                    req->arena, &err)) ||
        (e = bk_store_schedule_get(tx, h.id, req->arena, &s, &err)))
        goto out;
    e = bk_store_commit(tx, &err);
    tx = NULL;
    if (!e)
        bk_api_json(req, resp, 200, bk_render_schedule(&s));
out:
    bk_store_rollback(tx);
    json_decref(body);
    if (e)
        bk_api_error(req, resp, e, &err);
}

static void schedule_get(void *ctx, struct bk_http_request *req,
                         struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_host h;
    struct bk_schedule s;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)) ||
        (e = load(tx, req, &h, &err)))
        goto out;
    e = bk_store_schedule_get(tx, h.id, req->arena, &s, &err);
    if (e == BK_E_NOT_FOUND)
        bk_fail(&err, e, "host '%s' has no schedule yet", h.slug);
    if (e)
        goto out;
    bk_api_json(req, resp, 200, bk_render_schedule(&s));
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

const struct bk_route bk_api_host_routes[] = {
    {"POST", "/api/v1/hosts", create, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/hosts", list, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/hosts/{slug}", get, BK_ROUTE_ADMIN},
    {"PATCH", "/api/v1/hosts/{slug}", patch, BK_ROUTE_ADMIN},
    {"DELETE", "/api/v1/hosts/{slug}", del, BK_ROUTE_ADMIN},
    {"PUT", "/api/v1/hosts/{slug}/schedule", schedule_put, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/hosts/{slug}/schedule", schedule_get, BK_ROUTE_ADMIN},
};
const size_t bk_api_host_n =
    sizeof(bk_api_host_routes) / sizeof(bk_api_host_routes[0]);
