/* api/clients.c — /api/v1/clients. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "api/fields.h"
#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/time.h"
#include "ledger/ledger.h"
#include "core/booking.h"
#include "base/banned.h"

/* enum bk_client_status by value (core/booking.h). */
static const char *const status_names[] = {"prospect", "active", "inactive",
                                           NULL};

/* The client's fields (API.md "Clients"; docs/openapi.json Client,
 * ClientPatch). Clients are created by bookings, not through this table. */
static const struct bk_field client_fields[] = {
    {.name = "id",
     .type = BK_FIELD_STRING,
     .offset = offsetof(struct bk_client, public_id),
     .pattern = "^cli_[a-z2-7]{16}$"},
    {.name = "email",
     .type = BK_FIELD_STRING,
     .flags = BK_FIELD_UPDATE,
     .offset = offsetof(struct bk_client, email),
     .text = BK_TEXT_EMAIL,
     .max_len = BK_MAX_EMAIL},
    {.name = "name",
     .type = BK_FIELD_STRING,
     .flags = BK_FIELD_UPDATE | BK_FIELD_NULLABLE | BK_FIELD_EMPTY_NULL,
     .offset = offsetof(struct bk_client, name),
     .max_len = BK_MAX_NAME},
    {.name = "timezone",
     .type = BK_FIELD_STRING,
     .flags = BK_FIELD_UPDATE | BK_FIELD_NULLABLE,
     .offset = offsetof(struct bk_client, timezone),
     .text = BK_TEXT_TIMEZONE,
     .max_len = 64},
    {.name = "phone",
     .type = BK_FIELD_STRING,
     .flags = BK_FIELD_UPDATE | BK_FIELD_NULLABLE | BK_FIELD_EMPTY_NULL,
     .offset = offsetof(struct bk_client, phone),
     .text = BK_TEXT_PHONE,
     .max_len = BK_MAX_CLIENT_PHONE},
    {.name = "notes",
     .type = BK_FIELD_STRING,
     .flags = BK_FIELD_UPDATE | BK_FIELD_NULLABLE | BK_FIELD_EMPTY_NULL |
              BK_FIELD_MULTILINE,
     .offset = offsetof(struct bk_client, notes),
     .max_len = BK_MAX_TEXT},
    {.name = "status",
     .type = BK_FIELD_ENUM,
     .flags = BK_FIELD_UPDATE,
     .offset = offsetof(struct bk_client, status),
     .max_len = 16,
     .names = status_names},
    {.name = "created_at",
     .type = BK_FIELD_INSTANT,
     .offset = offsetof(struct bk_client, created_utc)},
    {.name = "updated_at",
     .type = BK_FIELD_INSTANT,
     .offset = offsetof(struct bk_client, updated_utc)},
};
const struct bk_resource bk_resource_client = {
    "Client", client_fields, sizeof(client_fields) / sizeof(client_fields[0])};

/* Adds the admin's figures to the rendered clients o[i] (ids[i]): sessions
 * (completed bookings) and revenue [{currency, amount}], what their paid
 * invoices brought net of refunds, by currency (docs/api.md "Clients"). */
static enum bk_err add_stats(struct bk_api_call *c, json_t *const *o,
                             const int64_t *ids, size_t n)
{
    struct bk_client_stat *st = NULL;
    int64_t lo = INT64_MAX, hi = 0;
    size_t k = 0;
    enum bk_err e;

    if (n == 0)
        return BK_OK;
    for (size_t i = 0; i < n; i++) {
        lo = ids[i] < lo ? ids[i] : lo;
        hi = ids[i] > hi ? ids[i] : hi;
        json_object_set_new(o[i], "sessions", json_integer(0));
        json_object_set_new(o[i], "revenue", json_array());
    }
    if ((e = bk_store_client_stats(c->tx, lo, hi, c->arena, &st, &k, c->err)))
        return e;
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < n; i++) {
            if (ids[i] != st[j].client_id)
                continue;
            if (!st[j].currency)
                json_object_set_new(o[i], "sessions",
                                    json_integer((json_int_t)st[j].value));
            else
                json_array_append_new(json_object_get(o[i], "revenue"),
                                      json_pack("{s:s, s:I}", "currency",
                                                st[j].currency, "amount",
                                                (json_int_t)st[j].value));
            break;
        }
    return BK_OK;
}

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
    {
        json_t **objs = bk_arena_alloc(c->arena, (n + 1) * sizeof(*objs));
        int64_t *ids = bk_arena_alloc(c->arena, (n + 1) * sizeof(*ids));
        data = json_array();
        for (size_t i = 0; i < n; i++) {
            objs[i] = bk_render_client(&rows[i]);
            ids[i] = rows[i].id;
            json_array_append_new(data, objs[i]);
        }
        if ((e = add_stats(c, objs, ids, n))) {
            json_decref(data);
            return e;
        }
    }
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

    json_t *o;

    if ((e = load(c, &cl)))
        return e;
    o = bk_render_client(&cl);
    if ((e = add_stats(c, &o, &cl.id, 1))) {
        json_decref(o);
        return e;
    }
    bk_api_reply(c, 200, o);
    return BK_OK;
}

static enum bk_err patch(struct bk_api_call *c)
{
    struct bk_client cl, scratch;
    json_t *body, *o;
    enum bk_err e;

    /* The body is checked before the client is looked up (a bad body is
     * 422 whichever client it names), then applied to the stored one. */
    memset(&scratch, 0, sizeof(scratch));
    if ((e = bk_api_call_body(c, false, &body)) ||
        (e = bk_fields_decode(&bk_resource_client, body, false, c->arena,
                              &scratch, c->err)) ||
        (e = load(c, &cl)) ||
        (e = bk_fields_decode(&bk_resource_client, body, false, c->arena, &cl,
                              c->err)))
        return e;
    cl.updated_utc = bk_now_utc();
    if ((e = bk_ledger_client_update(c->tx, &cl, "admin", cl.updated_utc,
                                     c->arena, c->err)))
        return e;
    o = bk_render_client(&cl);
    if ((e = add_stats(c, &o, &cl.id, 1))) {
        json_decref(o);
        return e;
    }
    bk_api_reply(c, 200, o);
    return BK_OK;
}

const struct bk_api_route bk_api_client_routes[] = {
    {"GET", "/api/v1/clients", list, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"GET", "/api/v1/clients/{id}", get, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"PATCH", "/api/v1/clients/{id}", patch, BK_ROUTE_ADMIN, BK_ROUTE_WRITE},
};
const size_t bk_api_client_n =
    sizeof(bk_api_client_routes) / sizeof(bk_api_client_routes[0]);
