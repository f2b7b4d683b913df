/* api/pages.c — the booking page (/), the manage page (/manage/{uid}), the
 * admin pages (/admin/...) and their static files (/static/{name}), served
 * from the embedded assets. Signing in is session.c's. */
#include <string.h>

#include "api/internal.h"
#include "base/str.h"
#include "web/assets.h"
#include "base/banned.h"

/* Pages load only their own scripts and styles and call only this origin. */
#define CSP                                                                    \
    "default-src 'self'; img-src 'self' data:; object-src 'none'; "            \
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

/* The booking page may also show the host's photo, an https URL the admin
 * set (GET /api/v1/hosts/{slug}/profile): its only request elsewhere. The
 * sites of BOOKINGD_EMBED_ORIGINS may frame it (docs/booking-page.md
 * "Embedding"). */
#define BOOK_CSP                                                               \
    "default-src 'self'; img-src 'self' data: https:; object-src 'none'; "     \
    "base-uri 'none'; form-action 'self'; frame-ancestors "

static const char *book_csp(struct bk_api_call *c)
{
    if (!c->api->embed_origins)
        return BOOK_CSP "'none'";
    return bk_arena_printf(c->arena, "%s'self' %s", BOOK_CSP,
                           c->api->embed_origins);
}

static enum bk_err serve_csp(struct bk_api_call *c, const char *name,
                             const char *cache, const char *csp)
{
    const struct bk_web_asset *a = bk_web_asset_find(name);

    if (!a)
        return bk_fail(c->err, BK_E_NOT_FOUND, "no such file: %s", name);
    bk_api_reply_raw(c, 200, a->content_type, (const char *)a->data, a->len);
    bk_http_add_header(c->resp, "Cache-Control", cache);
    bk_http_add_header(c->resp, "Content-Security-Policy", csp);
    bk_http_add_header(c->resp, "Referrer-Policy", "no-referrer");
    bk_http_add_header(c->resp, "X-Content-Type-Options", "nosniff");
    return BK_OK;
}

static enum bk_err serve_with(struct bk_api_call *c, const char *name,
                              const char *cache)
{
    return serve_csp(c, name, cache, CSP);
}

static enum bk_err serve(struct bk_api_call *c, const char *name)
{
    return serve_with(c, name, "no-cache");
}

static enum bk_err index_page(struct bk_api_call *c)
{
    return serve_csp(c, "index.html", "no-cache", book_csp(c));
}

/* /{host} and /{host}/{event-type}: the booking page for one host, or one
 * of its active event types (book.js reads the path). An unknown host, an
 * inactive event type or one of another host is 404, like any unknown
 * path, so a typo is not a blank page. */
static enum bk_err host_page(struct bk_api_call *c)
{
    const char *host = bk_http_param(c->req, "host");
    const char *slug = bk_http_param(c->req, "event_type");
    struct bk_host h;
    struct bk_event_type et;
    enum bk_err e;

    if (!bk_slug_valid(host, BK_MAX_SLUG) ||
        (slug && !bk_slug_valid(slug, BK_MAX_SLUG)))
        return bk_fail(c->err, BK_E_NOT_FOUND, "no such path: %s",
                       c->req->path);
    e = bk_store_host_by_slug(c->tx, host, c->arena, &h, c->err);
    if (!e && slug) {
        e = bk_store_event_type_by_slug(c->tx, slug, c->arena, &et, c->err);
        if (!e && (!et.active || et.host_id != h.id))
            e = BK_E_NOT_FOUND;
    }
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no such path: %s", c->req->path);
    if (e)
        return e;
    return serve_csp(c, "index.html", "no-cache", book_csp(c));
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

static enum bk_err login_page(struct bk_api_call *c)
{
    return serve_with(c, "login.html", "no-store");
}

/* Every admin page is admin.html, which routes on its path. Without a
 * session it is a redirect to the sign-in page, which carries no data (the
 * pages fetch everything from the API with the session). */
static enum bk_err admin_page(struct bk_api_call *c)
{
    if (!c->admin) {
        bk_api_reply_raw(c, 303, NULL, "", 0);
        bk_http_add_header(c->resp, "Location", "/admin/login");
        bk_http_add_header(c->resp, "Cache-Control", "no-store");
        return BK_OK;
    }
    return serve_with(c, "admin.html", "no-store");
}

const struct bk_api_route bk_api_page_routes[] = {
    {"GET", "/admin/login", login_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/bookings", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/bookings/{uid}", admin_page, BK_ROUTE_PUBLIC,
     BK_ROUTE_NONE},
    {"GET", "/admin/clients", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/clients/{id}", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/event-types", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/event-types/{slug}", admin_page, BK_ROUTE_PUBLIC,
     BK_ROUTE_NONE},
    {"GET", "/admin/hosts", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/hosts/{slug}", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/deliveries", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/integrations", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/metrics", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/", index_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/manage/{uid}", manage_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/static/{name}", static_file, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    /* Last: every fixed path above wins over a host's slug. */
    {"GET", "/{host}", host_page, BK_ROUTE_PUBLIC, BK_ROUTE_READ},
    {"GET", "/{host}/{event_type}", host_page, BK_ROUTE_PUBLIC, BK_ROUTE_READ},
};
const size_t bk_api_page_n =
    sizeof(bk_api_page_routes) / sizeof(bk_api_page_routes[0]);
