/* api/hosts.c — /api/v1/hosts and /api/v1/hosts/{slug}/schedule. The
 * fields are the host table's (fields.c); here: the ledger calls. */
#include <stddef.h>
#include <string.h>

#include "api/decode.h"
#include "api/fields.h"
#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/time.h"
#include "ledger/ledger.h"
#include "base/banned.h"

/* The host's fields (API.md "Hosts and schedules"; docs/openapi.json Host,
 * HostInput, HostPatch). */
static const struct bk_field host_fields[] = {
    {.name = "slug",
     .type = BK_FIELD_STRING,
     .flags = BK_FIELD_CREATE | BK_FIELD_REQUIRED | BK_FIELD_FIXED,
     .offset = offsetof(struct bk_host, slug),
     .text = BK_TEXT_SLUG,
     .max_len = BK_MAX_SLUG},
    {.name = "name",
     .type = BK_FIELD_STRING,
     .flags = BK_FIELD_WRITABLE | BK_FIELD_REQUIRED | BK_FIELD_NONEMPTY,
     .offset = offsetof(struct bk_host, name),
     .max_len = BK_MAX_NAME},
    {.name = "email",
     .type = BK_FIELD_STRING,
     .flags = BK_FIELD_WRITABLE | BK_FIELD_REQUIRED,
     .offset = offsetof(struct bk_host, email),
     .text = BK_TEXT_EMAIL,
     .max_len = BK_MAX_EMAIL},
    {.name = "timezone",
     .type = BK_FIELD_STRING,
     .flags = BK_FIELD_WRITABLE | BK_FIELD_REQUIRED,
     .offset = offsetof(struct bk_host, timezone),
     .text = BK_TEXT_TIMEZONE,
     .max_len = 64},
    {.name = "photo_url",
     .type = BK_FIELD_STRING,
     .flags = BK_FIELD_WRITABLE | BK_FIELD_NULLABLE | BK_FIELD_EMPTY_NULL,
     .offset = offsetof(struct bk_host, photo_url),
     .text = BK_TEXT_HTTPS_URL,
     .max_len = BK_MAX_URL},
    {.name = "bio",
     .type = BK_FIELD_STRING,
     .flags = BK_FIELD_WRITABLE | BK_FIELD_NULLABLE | BK_FIELD_EMPTY_NULL |
              BK_FIELD_MULTILINE,
     .offset = offsetof(struct bk_host, bio),
     .max_len = BK_MAX_BIO},
    {.name = "created_at",
     .type = BK_FIELD_INSTANT,
     .offset = offsetof(struct bk_host, created_utc)},
    {.name = "updated_at",
     .type = BK_FIELD_INSTANT,
     .offset = offsetof(struct bk_host, updated_utc)},
};
const struct bk_resource bk_resource_host = {
    "Host", host_fields, sizeof(host_fields) / sizeof(host_fields[0])};

static enum bk_err create(struct bk_api_call *c)
{
    struct bk_host h;
    json_t *body;
    enum bk_err e;

    memset(&h, 0, sizeof(h));
    if ((e = bk_api_call_body(c, false, &body)) ||
        (e = bk_decode_host(body, true, c->arena, &h, c->err)))
        return e;
    h.created_utc = h.updated_utc = bk_now_utc();
    if ((e = bk_ledger_host_create(c->tx, &h, "admin", h.created_utc, c->arena,
                                   &h.id, c->err)))
        return e;
    bk_api_reply(c, 201, bk_render_host(&h));
    return BK_OK;
}

static enum bk_err list(struct bk_api_call *c)
{
    struct bk_host *rows = NULL;
    struct bk_page page = {0, 0};
    const char *next = NULL;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    if ((e = bk_api_page(c->req, 'h', &page, c->err)) ||
        (e = bk_store_host_list(c->tx, &page, c->arena, &rows, &n, c->err)))
        return e;
    if (bk_api_page_more(&page, &n))
        next = bk_api_cursor_encode(c->arena, 'h', rows[n - 1].id, 0);
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, bk_render_host(&rows[i]));
    bk_api_reply_list(c, data, next);
    return BK_OK;
}

/* Loads the host named by the {slug} capture. */
static enum bk_err load(struct bk_api_call *c, struct bk_host *h)
{
    const char *slug = bk_http_param(c->req, "slug");
    enum bk_err e = bk_store_host_by_slug(c->tx, slug, c->arena, h, c->err);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no host '%s'", slug);
    return e;
}

static enum bk_err get(struct bk_api_call *c)
{
    struct bk_host h;
    enum bk_err e;

    if ((e = load(c, &h)))
        return e;
    bk_api_reply(c, 200, bk_render_host(&h));
    return BK_OK;
}

/* The host card of the booking page: what a visitor may see of a host (no
 * email, no time zone). */
static enum bk_err profile(struct bk_api_call *c)
{
    struct bk_host h;
    enum bk_err e;

    if ((e = load(c, &h)))
        return e;
    bk_api_reply(c, 200,
                 json_pack("{s:s, s:s, s:o, s:o}", "slug", h.slug, "name",
                           h.name, "photo_url",
                           bk_json_str_or_null(h.photo_url), "bio",
                           bk_json_str_or_null(h.bio)));
    return BK_OK;
}

static enum bk_err patch(struct bk_api_call *c)
{
    struct bk_host h;
    json_t *body;
    enum bk_err e;

    if ((e = bk_api_call_body(c, false, &body)) || (e = load(c, &h)) ||
        (e = bk_decode_host(body, false, c->arena, &h, c->err)))
        return e;
    h.updated_utc = bk_now_utc();
    if ((e = bk_ledger_host_update(c->tx, &h, "admin", h.updated_utc, c->arena,
                                   c->err)))
        return e;
    bk_api_reply(c, 200, bk_render_host(&h));
    return BK_OK;
}

static enum bk_err del(struct bk_api_call *c)
{
    struct bk_host h;
    enum bk_err e;

    if ((e = load(c, &h)) ||
        (e = bk_ledger_host_delete(c->tx, h.id, h.slug, "admin", bk_now_utc(),
                                   c->arena, c->err)))
        return e;
    bk_api_reply_empty(c, 204);
    return BK_OK;
}

static enum bk_err schedule_put(struct bk_api_call *c)
{
    struct bk_host h;
    struct bk_schedule s;
    json_t *body;
    enum bk_err e;

    if ((e = bk_api_call_body(c, false, &body)) ||
        (e = bk_decode_schedule(body, "", c->arena, &s, c->err)) ||
        (e = load(c, &h)) ||
        (e = bk_ledger_schedule_put(c->tx, h.id, &s, "admin", bk_now_utc(),
                                    c->arena, c->err)) ||
        (e = bk_store_schedule_get(c->tx, h.id, c->arena, &s, c->err)))
        return e;
    bk_api_reply(c, 200, bk_render_schedule(&s));
    return BK_OK;
}

static enum bk_err schedule_get(struct bk_api_call *c)
{
    struct bk_host h;
    struct bk_schedule s;
    enum bk_err e;

    if ((e = load(c, &h)))
        return e;
    e = bk_store_schedule_get(c->tx, h.id, c->arena, &s, c->err);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "host '%s' has no schedule yet", h.slug);
    if (e)
        return e;
    bk_api_reply(c, 200, bk_render_schedule(&s));
    return BK_OK;
}

const struct bk_api_route bk_api_host_routes[] = {
    {"POST", "/api/v1/hosts", create, BK_ROUTE_ADMIN, BK_ROUTE_WRITE},
    {"GET", "/api/v1/hosts", list, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"GET", "/api/v1/hosts/{slug}", get, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"GET", "/api/v1/hosts/{slug}/profile", profile, BK_ROUTE_PUBLIC,
     BK_ROUTE_READ},
    {"PATCH", "/api/v1/hosts/{slug}", patch, BK_ROUTE_ADMIN, BK_ROUTE_WRITE},
    {"DELETE", "/api/v1/hosts/{slug}", del, BK_ROUTE_ADMIN, BK_ROUTE_WRITE},
    {"PUT", "/api/v1/hosts/{slug}/schedule", schedule_put, BK_ROUTE_ADMIN,
     BK_ROUTE_WRITE},
    {"GET", "/api/v1/hosts/{slug}/schedule", schedule_get, BK_ROUTE_ADMIN,
     BK_ROUTE_READ},
};
const size_t bk_api_host_n =
    sizeof(bk_api_host_routes) / sizeof(bk_api_host_routes[0]);
