/* tests/unit/dav/test_xml.c — WebDAV multistatus answers as servers write
 * them (any prefixes, propstats of 200 and 404, sync tokens) and hostile
 * ones (document types, entities, not XML, not a multistatus, too many
 * responses); the URL helpers of net/ that discovery relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dav/dav.h"
#include "dav/xml.h"
#include "net/net.h"

static enum bk_err parse(const char *s, struct bk_arena *a,
                         struct bk_dav_multistatus *ms)
{
    return bk_dav_parse_multistatus(s, strlen(s), a, ms, NULL);
}

static void test_home_listing(void **state)
{
    /* Prefixes as Radicale and SabreDAV write them, a collection that is
     * not a calendar, a VTODO-only calendar, one without a component set
     * (all components), and a 404 propstat that must not count. */
    static const char doc[] =
        "<?xml version=\"1.0\"?>\n"
        "<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\""
        " xmlns:CS=\"http://calendarserver.org/ns/\">"
        "<response><href>/u/</href><propstat><prop><resourcetype><collection/>"
        "</resourcetype><C:calendar-home-set><href>/u/</href>"
        "</C:calendar-home-set></prop><status>HTTP/1.1 200 OK</status>"
        "</propstat></response>"
        "<response><href>/u/work/</href><propstat><prop><resourcetype>"
        "<collection/><C:calendar/></resourcetype><displayname> Work "
        "</displayname><C:supported-calendar-component-set><C:comp "
        "name=\"VEVENT\"/></C:supported-calendar-component-set>"
        "<CS:getctag>\"c1\"</CS:getctag></prop><status>HTTP/1.1 200 OK"
        "</status></propstat><propstat><prop><getetag/></prop>"
        "<status>HTTP/1.1 404 Not Found</status></propstat></response>"
        "<x:response xmlns:x=\"DAV:\"><x:href>/u/tasks/</x:href><x:propstat>"
        "<x:prop><x:resourcetype><C:calendar/></x:resourcetype>"
        "<C:supported-calendar-component-set><C:comp name=\"VTODO\"/>"
        "</C:supported-calendar-component-set></x:prop><x:status>HTTP/1.1 "
        "200 OK</x:status></x:propstat></x:response>"
        "<response><href>/u/all/</href><propstat><prop><resourcetype>"
        "<C:calendar/></resourcetype><getetag>\"e\"</getetag></prop>"
        "<status>HTTP/1.1 404 Not Found</status></propstat></response>"
        "<sync-token>http://x/sync/7</sync-token>"
        "</multistatus>";
    struct bk_arena a;
    struct bk_dav_multistatus ms;
    (void)state;

    bk_arena_init(&a);
    assert_int_equal(parse(doc, &a, &ms), BK_OK);
    assert_int_equal(ms.n, 4);
    assert_string_equal(ms.sync_token, "http://x/sync/7");
    assert_string_equal(ms.responses[0].home_href, "/u/");
    assert_false(ms.responses[0].is_calendar);
    assert_true(ms.responses[1].is_calendar);
    assert_true(ms.responses[1].vevent);
    assert_string_equal(ms.responses[1].displayname, "Work");
    assert_string_equal(ms.responses[1].ctag, "\"c1\"");
    assert_null(ms.responses[1].etag);
    assert_true(ms.responses[2].has_comp_set);
    assert_false(ms.responses[2].vevent);
    /* Only a 404 propstat: nothing read from it. */
    assert_false(ms.responses[3].is_calendar);
    assert_null(ms.responses[3].etag);
    bk_arena_release(&a);
}

static void test_hostile(void **state)
{
    static const char *const bad[] = {
        "",
        "not xml",
        "<multistatus xmlns=\"DAV:\">",
        "<multistatus xmlns=\"urn:other\"></multistatus>",
        "<propfind xmlns=\"DAV:\"/>",
        "<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY a \"aaaa\">"
        "<!ENTITY b \"&a;&a;&a;&a;\">]><multistatus xmlns=\"DAV:\">&b;"
        "</multistatus>",
        "<?xml version=\"1.0\"?><!DOCTYPE m SYSTEM \"file:///etc/passwd\">"
        "<multistatus xmlns=\"DAV:\"/>",
        "<multistatus xmlns=\"DAV:\"><response><propstat/></response>"
        "</multistatus>",
    };
    struct bk_arena a;
    struct bk_dav_multistatus ms;
    char *many;
    size_t n = 0, cap = 64 + (BK_DAV_MAX_RESPONSES + 1) * 40;
    (void)state;

    bk_arena_init(&a);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], &a, &ms), BK_E_MALFORMED);
    assert_int_equal(bk_dav_parse_multistatus(NULL, 0, &a, &ms, NULL),
                     BK_E_MALFORMED);
    many = malloc(cap);
    n += (size_t)snprintf(many + n, cap - n, "<multistatus xmlns=\"DAV:\">");
    for (int i = 0; i <= BK_DAV_MAX_RESPONSES; i++)
        n += (size_t)snprintf(many + n, cap - n,
                              "<response><href>/%d</href></response>", i);
    snprintf(many + n, cap - n, "</multistatus>");
    assert_int_equal(parse(many, &a, &ms), BK_E_TOO_LARGE);
    free(many);
    bk_arena_release(&a);
}

static void test_urls(void **state)
{
    struct bk_arena a;
    const char *u = NULL;
    (void)state;

    bk_arena_init(&a);
    assert_int_equal(bk_net_url_join("https://dav.example.com/a/b/", "/u/cal/",
                                     &a, &u, NULL),
                     BK_OK);
    assert_string_equal(u, "https://dav.example.com/u/cal/");
    assert_int_equal(
        bk_net_url_join("https://dav.example.com/a/b/", "c/", &a, &u, NULL),
        BK_OK);
    assert_string_equal(u, "https://dav.example.com/a/b/c/");
    assert_true(
        bk_net_same_origin("https://a.example/x", "https://a.example/y"));
    assert_false(bk_net_same_origin("https://a.example/", "http://a.example/"));
    assert_false(
        bk_net_same_origin("https://a.example/", "https://a.example:444/"));
    assert_false(
        bk_net_same_origin("https://a.example/", "https://b.example/"));
    assert_false(bk_net_same_origin("https://a.example/", "not a url"));
    bk_arena_release(&a);
}

static void test_describe(void **state)
{
    struct bk_arena a;
    (void)state;

    bk_arena_init(&a);
    assert_string_equal(bk_dav_describe(401,
                                        "<html><body>Access\n\tdenied"
                                        "</body></html>",
                                        &a),
                        "HTTP 401: Access denied");
    assert_string_equal(bk_dav_describe(500, "", &a), "HTTP 500");
    assert_string_equal(bk_dav_describe(500, "\x01\x02", &a), "HTTP 500");
    bk_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_home_listing),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
