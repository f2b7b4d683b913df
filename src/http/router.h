/* http/router.h — matching a method and path against a route table.
 * Patterns are literal segments and {name} captures:
 * "/api/v1/bookings/{uid}/cancel"; a capture may end its segment with a
 * literal suffix, "/api/v1/invoices/{number}.pdf" (the capture is what
 * precedes it, at least one byte). Routes are tried in table order. Pure: no
 * I/O, no allocation beyond the request's arena. */
#ifndef BK_HTTP_ROUTER_H
#define BK_HTTP_ROUTER_H

#include <stddef.h>

#include "base/err.h"
#include "http/http.h"

struct bk_route {
    const char *method;  /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *pattern; /* see above */
    bk_http_handler_fn handler;
    unsigned flags; /* for the caller (api/ uses them for auth) */
};

/* Finds the route for req->method and req->path and fills req->params
 * (values allocated in req->arena). Returns BK_OK and *route; BK_E_NOT_FOUND
 * when no pattern matches the path; BK_E_METHOD when a pattern matches but
 * not with this method (*allow then lists the methods that would, e.g.
 * "GET, POST", allocated in the arena). A capture never matches an empty
 * segment; trailing slashes are not ignored. A path that is not valid
 * UTF-8 or has control characters is BK_E_NOT_FOUND. */
BK_MUST_CHECK enum bk_err bk_router_match(const struct bk_route *routes,
                                          size_t n_routes,
                                          struct bk_http_request *req,
                                          const struct bk_route **route,
                                          const char **allow);

#endif
