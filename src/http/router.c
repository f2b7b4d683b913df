/* http/router.c — segment-by-segment route matching. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "http/router.h"
#include "base/str.h"
#include "base/banned.h"

/* Matches path against pattern; on success stores captures in req. */
static int match(const char *pattern, const char *path,
                 struct bk_http_request *req, bool capture)
{
    const char *p = pattern, *s = path;
    size_t n_params = 0;

    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        const char *pe = strchr(p, '/');
        const char *se = strchr(s, '/');
        size_t plen = pe ? (size_t)(pe - p) : strlen(p);
        size_t slen = se ? (size_t)(se - s) : strlen(s);
        const char *close =
            plen >= 2 && p[0] == '{' ? memchr(p, '}', plen) : NULL;
        if (close) {
            /* "{name}" or "{name}.suffix": the suffix is literal and the
             * capture is what comes before it (at least one byte). */
            size_t klen = (size_t)(close - p) - 1;
            size_t sufl = plen - klen - 2;
            if (slen <= sufl || n_params >= BK_HTTP_MAX_PARAMS ||
                memcmp(s + slen - sufl, close + 1, sufl) != 0)
                return 0;
            if (capture) {
                req->params[n_params].key =
                    bk_arena_strndup(req->arena, p + 1, klen);
                req->params[n_params].value =
                    bk_arena_strndup(req->arena, s, slen - sufl);
            }
            n_params++;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
    }
    if (*p || *s)
        return 0;
    if (capture)
        req->n_params = n_params;
    return 1;
}

enum bk_err bk_router_match(const struct bk_route *routes, size_t n_routes,
                            struct bk_http_request *req,
                            const struct bk_route **route, const char **allow)
{
    char methods[64] = "";
    size_t used = 0;
    bool path_matched = false;

    *route = NULL;
    if (allow)
        *allow = NULL;
    /* No route has bytes that are not UTF-8, nor control characters: such
     * a path is not found, and its captures reach no handler. */
    if (!bk_utf8_valid(req->path, SIZE_MAX, false))
        return BK_E_NOT_FOUND;
    for (size_t i = 0; i < n_routes; i++) {
        if (!match(routes[i].pattern, req->path, req, false))
            continue;
        if (strcmp(routes[i].method, req->method) == 0) {
            (void)match(routes[i].pattern, req->path, req, true);
            *route = &routes[i];
            return BK_OK;
        }
        path_matched = true;
        size_t mlen = strlen(routes[i].method);
        if (used + mlen + 3 < sizeof(methods) &&
            !strstr(methods, routes[i].method)) {
            if (used) {
                memcpy(methods + used, ", ", 2);
                used += 2;
            }
            memcpy(methods + used, routes[i].method, mlen);
            used += mlen;
            methods[used] = '\0';
        }
    }
    if (!path_matched)
        return BK_E_NOT_FOUND;
    if (allow)
        *allow = bk_arena_strdup(req->arena, methods);
    return BK_E_METHOD;
}
