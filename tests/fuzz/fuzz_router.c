/* tests/fuzz/fuzz_router.c — route matching on arbitrary methods and
 * paths, against the shapes of the real route table. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void h(void *c, struct bk_http_request *q, struct bk_http_response *r)
{
    (void)c, (void)q, (void)r;
}

static const struct bk_route routes[] = {
    {"GET", "/", h, 0},
    {"GET", "/api/v1/bookings/{uid}", h, 0},
    {"POST", "/api/v1/bookings/{uid}/cancel", h, 0},
    {"GET", "/api/v1/event-types/{slug}/slots", h, 0},
    {"POST", "/webhooks/{provider}", h, 0},
    {"GET", "/a/{b}/{c}/{d}/{e}/{f}", h, 0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bk_arena a;
    struct bk_http_request req;
    const struct bk_route *r;
    const char *allow;
    char *buf = malloc(size + 1), *sp;

    memcpy(buf, data, size);
    buf[size] = '\0';
    sp = strchr(buf, ' ');
    bk_arena_init(&a);
    memset(&req, 0, sizeof(req));
    req.arena = &a;
    req.method = sp ? buf : "GET";
    if (sp)
        *sp = '\0';
    req.path = sp ? sp + 1 : buf;
    (void)bk_router_match(routes, sizeof(routes) / sizeof(routes[0]), &req, &r,
                          &allow);
    bk_arena_release(&a);
    free(buf);
    return 0;
}
