/* tests/unit/http/test_router.c — route matching (http/router.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"

static void h_a(void *c, struct bk_http_request *q, struct bk_http_response *r)
{
    (void)c, (void)q, (void)r;
}
static void h_b(void *c, struct bk_http_request *q, struct bk_http_response *r)
{
    (void)c, (void)q, (void)r;
}

static const struct bk_route routes[] = {
    {"GET", "/api/v1/bookings", h_a, 0},
    {"POST", "/api/v1/bookings", h_b, 0},
    {"GET", "/api/v1/bookings/{uid}", h_a, 0},
    {"POST", "/api/v1/bookings/{uid}/cancel", h_b, 0},
    {"GET", "/", h_a, 0},
    {"GET", "/a/{x}/b/{y}", h_a, 0},
    {"GET", "/f/{n}.pdf", h_b, 0},
    {"GET", "/f/{n}", h_a, 0},
};
#define N (sizeof(routes) / sizeof(routes[0]))

static enum bk_err run(const char *method, const char *path,
                       struct bk_arena *arena, struct bk_http_request *req,
                       const struct bk_route **route, const char **allow)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->path = path;
    req->arena = arena;
    return bk_router_match(routes, N, req, route, allow);
}

static void test_literal_and_captures(void **state)
{
    struct bk_arena a;
    struct bk_http_request req;
    const struct bk_route *r;
    (void)state;

    bk_arena_init(&a);
    assert_int_equal(run("GET", "/api/v1/bookings", &a, &req, &r, NULL), BK_OK);
    assert_ptr_equal(r, &routes[0]);
    assert_int_equal(run("POST", "/api/v1/bookings", &a, &req, &r, NULL),
                     BK_OK);
    assert_ptr_equal(r, &routes[1]);
    assert_int_equal(
        run("POST", "/api/v1/bookings/abc/cancel", &a, &req, &r, NULL), BK_OK);
    assert_ptr_equal(r, &routes[3]);
    assert_string_equal(bk_http_param(&req, "uid"), "abc");
    assert_int_equal(run("GET", "/a/1/b/2", &a, &req, &r, NULL), BK_OK);
    assert_string_equal(bk_http_param(&req, "x"), "1");
    assert_string_equal(bk_http_param(&req, "y"), "2");
    assert_null(bk_http_param(&req, "z"));
    assert_int_equal(run("GET", "/", &a, &req, &r, NULL), BK_OK);
    assert_ptr_equal(r, &routes[4]);
    bk_arena_release(&a);
}

/* "{name}.suffix": the capture stops before a literal suffix. */
static void test_capture_with_suffix(void **state)
{
    struct bk_arena a;
    struct bk_http_request req;
    const struct bk_route *r;
    (void)state;

    bk_arena_init(&a);
    assert_int_equal(run("GET", "/f/INV-2026-0001.pdf", &a, &req, &r, NULL),
                     BK_OK);
    assert_ptr_equal(r, &routes[6]);
    assert_string_equal(bk_http_param(&req, "n"), "INV-2026-0001");
    assert_int_equal(run("GET", "/f/x.pdf.pdf", &a, &req, &r, NULL), BK_OK);
    assert_string_equal(bk_http_param(&req, "n"), "x.pdf");
    /* Nothing before the suffix: not this route; the plain capture
     * takes it. Another suffix is the plain capture's too. */
    assert_int_equal(run("GET", "/f/.pdf", &a, &req, &r, NULL), BK_OK);
    assert_ptr_equal(r, &routes[7]);
    assert_string_equal(bk_http_param(&req, "n"), ".pdf");
    assert_int_equal(run("GET", "/f/x.pdF", &a, &req, &r, NULL), BK_OK);
    assert_ptr_equal(r, &routes[7]);
    assert_int_equal(run("GET", "/f/pdf", &a, &req, &r, NULL), BK_OK);
    assert_ptr_equal(r, &routes[7]);
    bk_arena_release(&a);
}

static void test_not_found_and_method(void **state)
{
    struct bk_arena a;
    struct bk_http_request req;
    const struct bk_route *r;
    const char *allow;
    (void)state;

    bk_arena_init(&a);
    /* An empty capture, a trailing slash and extra segments do not match. */
    assert_int_equal(run("GET", "/api/v1/bookings/", &a, &req, &r, NULL),
                     BK_E_NOT_FOUND);
    assert_int_equal(run("GET", "/api/v1/bookings/x/", &a, &req, &r, NULL),
                     BK_E_NOT_FOUND);
    assert_int_equal(run("GET", "/api/v1/bookingsx", &a, &req, &r, NULL),
                     BK_E_NOT_FOUND);
    assert_int_equal(run("GET", "", &a, &req, &r, NULL), BK_E_NOT_FOUND);
    assert_int_equal(run("GET", "//", &a, &req, &r, NULL), BK_E_NOT_FOUND);
    assert_int_equal(run("GET", "api/v1/bookings", &a, &req, &r, NULL),
                     BK_E_NOT_FOUND);
    assert_null(r);
    /* The path exists with other methods: 405 with an Allow list. */
    assert_int_equal(run("DELETE", "/api/v1/bookings", &a, &req, &r, &allow),
                     BK_E_METHOD);
    assert_string_equal(allow, "GET, POST");
    assert_int_equal(
        run("GET", "/api/v1/bookings/u/cancel", &a, &req, &r, &allow),
        BK_E_METHOD);
    assert_string_equal(allow, "POST");
    bk_arena_release(&a);
}

static void test_hostile_paths(void **state)
{
    struct bk_arena a;
    struct bk_http_request req;
    const struct bk_route *r;
    char longpath[5000];
    (void)state;

    bk_arena_init(&a);
    memset(longpath, '/', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(run("GET", longpath, &a, &req, &r, NULL), BK_E_NOT_FOUND);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    assert_int_equal(run("GET", longpath, &a, &req, &r, NULL), BK_E_NOT_FOUND);
    /* A capture takes one segment only, whatever bytes it has. */
    assert_int_equal(run("GET", "/api/v1/bookings/..%2f..", &a, &req, &r, NULL),
                     BK_OK);
    assert_string_equal(bk_http_param(&req, "uid"), "..%2f..");
    assert_int_equal(run("GET", "/api/v1/bookings/../x", &a, &req, &r, NULL),
                     BK_E_NOT_FOUND);
    /* A path that is not UTF-8, or has control characters, matches no
     * route: its captures never reach a handler (nor a database). */
    assert_int_equal(run("GET", "/api/v1/bookings/\xc3(", &a, &req, &r, NULL),
                     BK_E_NOT_FOUND);
    assert_int_equal(
        run("GET", "/api/v1/bookings/\xed\xa0\x80", &a, &req, &r, NULL),
        BK_E_NOT_FOUND);
    assert_int_equal(
        run("POST", "/api/v1/bookings/u\x01/cancel", &a, &req, &r, NULL),
        BK_E_NOT_FOUND);
    assert_int_equal(
        run("GET", "/api/v1/bookings/\xc3\xa9", &a, &req, &r, NULL), BK_OK);
    bk_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_and_captures),
        cmocka_unit_test(test_capture_with_suffix),
        cmocka_unit_test(test_not_found_and_method),
        cmocka_unit_test(test_hostile_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
