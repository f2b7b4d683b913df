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

static void serve(struct bk_http_request *req, struct bk_http_response *resp,
                  const char *name)
{
    const struct bk_web_asset *a = bk_web_asset_find(name);
    struct bk_errbuf err;

    if (!a) {
        bk_errbuf_clear(&err);
        bk_fail(&err, BK_E_NOT_FOUND, "no such file: %s", name);
        bk_api_error(req, resp, BK_E_NOT_FOUND, &err);
        return;
    }
    resp->status = 200;
    resp->content_type = a->content_type;
    resp->body = (const char *)a->data;
    resp->body_len = a->len;
    bk_http_add_header(resp, "Cache-Control", "no-cache");
    bk_http_add_header(resp, "Content-Security-Policy", CSP);
    bk_http_add_header(resp, "Referrer-Policy", "no-referrer");
}

static void index_page(void *ctx, struct bk_http_request *req,
                       struct bk_http_response *resp)
{
    (void)ctx;
    serve(req, resp, "index.html");
}

static void manage_page(void *ctx, struct bk_http_request *req,
                        struct bk_http_response *resp)
{
    (void)ctx;
    serve(req, resp, "manage.html");
}

static void static_file(void *ctx, struct bk_http_request *req,
                        struct bk_http_response *resp)
{
    const char *name = bk_http_param(req, "name");
    (void)ctx;
    /* Pages are not static files: they have their own paths. */
    if (strstr(name, ".html")) {
        bk_api_error(req, resp, BK_E_NOT_FOUND, NULL);
        return;
    }
    serve(req, resp, name);
}

const struct bk_route bk_api_page_routes[] = {
    {"GET", "/", index_page, BK_ROUTE_PUBLIC},
    {"GET", "/manage/{uid}", manage_page, BK_ROUTE_PUBLIC},
    {"GET", "/static/{name}", static_file, BK_ROUTE_PUBLIC},
};
const size_t bk_api_page_n =
    sizeof(bk_api_page_routes) / sizeof(bk_api_page_routes[0]);
