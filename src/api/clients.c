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

static void list(void *ctx, struct bk_http_request *req,
                 struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_client *rows = NULL;
    struct bk_page page = {0, 0};
    const char *next = NULL, *email = bk_http_query(req, "email");
    const char *status_q = bk_http_query(req, "status");
    int status = -1;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if (status_q && (status = bk_client_status_parse(status_q)) < 0) {
        e = bk_api_query_fail(&err, "status",
                              "status must be prospect, active or inactive");
        goto out;
    }
    if ((e = bk_api_page(req, 'c', &page, &err)))
        goto out;
    if ((e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)) ||
        (e = bk_store_client_list(tx, email, status, &page, req->arena, &rows,
                                  &n, &err)))
        goto out;
    if (bk_api_page_more(&page, &n))
        next = bk_api_cursor_encode(req->arena, 'c', rows[n - 1].id, 0);
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, bk_render_client(&rows[i]));
    bk_api_list(req, resp, data, next);
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

static enum bk_err load(struct bk_tx *tx, struct bk_http_request *req,
                        struct bk_client *c, struct bk_errbuf *err)
{
    const char *id = bk_http_param(req, "id");
    enum bk_err e = bk_store_client_by_public_id(tx, id, req->arena, c, err);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(err, e, "no client '%s'", id);
    return e;
}

static void get(void *ctx, struct bk_http_request *req,
                struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_client c;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)) ||
        (e = load(tx, req, &c, &err)))
        goto out;
    bk_api_json(req, resp, 200, bk_render_client(&c));
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

static void patch(void *ctx, struct bk_http_request *req,
                  struct bk_http_response *resp)
{
    static const char *const keys[] = {"name", "email", "timezone", "status",
                                       NULL};
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_client c;
    const char *name, *email, *tz, *status;
    json_t *body = NULL;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = bk_api_body(req, false, &body, &err)) ||
        (e = bk_json_only(body, "", keys, req->arena, &err)) ||
        (e = bk_json_str(body, "", "name", false, BK_MAX_NAME, false,
                         req->arena, &name, &err)) ||
        (e = bk_json_str(body, "", "email", false, BK_MAX_EMAIL, false,
                         req->arena, &email, &err)) ||
        (e = bk_decode_timezone(body, "", "timezone", false, req->arena, &tz,
                                &err)) ||
        (e = bk_json_str(body, "", "status", false, 16, false, req->arena,
                         &status, &err)))
        goto out;
    if (email && !bk_email_valid(email)) {
        e = bk_fail_field(&err, BK_E_INVALID, "email",
                          "must be an email address");
        goto out;
    }
    if (status && bk_client_status_parse(status) < 0) {
        e = bk_fail_field(&err, BK_E_INVALID, "status",
                          "must be prospect, active or inactive");
        goto out;
    }
    if ((e = bk_store_begin(api->store, BK_TX_WRITE, &tx, &err)) ||
        (e = load(tx, req, &c, &err)))
        goto out;
    if (json_object_get(body, "name"))
        c.name = name && *name ? name : NULL;
    if (email)
        c.email = email;
    if (json_object_get(body, "timezone"))
        c.timezone = tz;
    if (status)
        c.status = (enum bk_client_status)bk_client_status_parse(status);
    c.updated_utc = bk_now_utc();
    if ((e = bk_ledger_client_update(tx, &c, "admin", c.updated_utc, req->arena,
                                     &err)))
        goto out;
    e = bk_store_commit(tx, &err);
    tx = NULL;
    if (!e)
        bk_api_json(req, resp, 200, bk_render_client(&c));
out:
    bk_store_rollback(tx);
    json_decref(body);
    if (e)
        bk_api_error(req, resp, e, &err);
}

const struct bk_route bk_api_client_routes[] = {
    {"GET", "/api/v1/clients", list, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/clients/{id}", get, BK_ROUTE_ADMIN},
    {"PATCH", "/api/v1/clients/{id}", patch, BK_ROUTE_ADMIN},
};
const size_t bk_api_client_n =
    sizeof(bk_api_client_routes) / sizeof(bk_api_client_routes[0]);
