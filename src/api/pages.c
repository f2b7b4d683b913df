/* api/pages.c — the booking page (/), the manage page (/manage/{uid}) and
 * their static files (/static/{name}), served from the embedded assets. */
#include <string.h>

#include "api/internal.h"
#include "web/assets.h"
#include "base/banned.h"

/* Pages load only their own scripts and styles and call only this origin. */
#define CSP                                                                    \
    "default-src 'self'; img-src 'self' data:; object-src 'none'; "            \
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

static enum bk_err serve(struct bk_api_call *c, const char *name)
{
    const struct bk_web_asset *a = bk_web_asset_find(name);

    if (!a)
        return bk_fail(c->err, BK_E_NOT_FOUND, "no such file: %s", name);
    bk_api_reply_raw(c, 200, a->content_type, (const char *)a->data, a->len);
    bk_http_add_header(c->resp, "Cache-Control", "no-cache");
    bk_http_add_header(c->resp, "Content-Security-Policy", CSP);
    bk_http_add_header(c->resp, "Referrer-Policy", "no-referrer");
    return BK_OK;
}

static enum bk_err index_page(struct bk_api_call *c)
{
    return serve(c, "index.html");
}

static enum bk_err manage_page(struct bk_api_call *c)
{
    return serve(c, "manage.html");
}

static enum bk_err static_file(struct bk_api_call *c)
{
    const char *name = bk_http_param(c->req, "name");

    /* Pages are not static files: they have their own paths. */
    if (strstr(name, ".html"))
        return BK_E_NOT_FOUND;
    return serve(c, name);
}

const struct bk_api_route bk_api_page_routes[] = {
    {"GET", "/", index_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/manage/{uid}", manage_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/static/{name}", static_file, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
};
const size_t bk_api_page_n =
    sizeof(bk_api_page_routes) / sizeof(bk_api_page_routes[0]);
