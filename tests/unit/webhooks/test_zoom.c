/* tests/unit/webhooks/test_zoom.c — the Zoom provider: the x-zm-signature
 * v0 scheme (PROVIDERS.md §4.1) against a vector made with Python's hmac,
 * its bad forms and the timestamp window, the endpoint.url_validation
 * answer, and identify/normalize of meeting.ended and
 * meeting.participant_joined, hostile forms included, read back from the
 * stored form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/str.h"
#include "webhooks/webhooks.h"

#define SECRET "zoom-secret"
#define T      1800000000
#define BODY                                                                   \
    "{\"event\":\"meeting.ended\",\"event_ts\":1800000000000,\"payload\":{"    \
    "\"account_id\":\"A\",\"object\":{\"id\":\"85746065432\",\"uuid\":"        \
    "\"u1==\",\"start_time\":\"2027-01-15T10:00:00Z\",\"end_time\":\"2027-"    \
    "01-15T10:31:00Z\",\"topic\":\"Intro\"}}}"
/* python3: hmac.new(b"zoom-secret", b"v0:1800000000:" + BODY, sha256) */
#define SIG "f24c67fc2fdd907f89b1a23fa180c2e7459e503dcf8879661b9395ca500fab15"

struct hdrs {
    const char *sig, *ts;
};

static const char *header(void *ctx, const char *name)
{
    const struct hdrs *h = ctx;
    if (bk_str_ieq(name, "x-zm-signature"))
        return h->sig;
    if (bk_str_ieq(name, "x-zm-request-timestamp"))
        return h->ts;
    return NULL;
}

static enum bk_err verify_at(const char *body, const char *sig, const char *ts,
                             int64_t now)
{
    struct hdrs h = {sig, ts};
    struct bk_webhook_input in = {body, strlen(body), header, &h, now, NULL};
    return bk_webhook_zoom.verify(&in, SECRET, NULL);
}

static void test_signature(void **state)
{
    static const char *const bad[] = {
        NULL,           "",          SIG,           "v1=" SIG, "V0=" SIG,
        "v0=" SIG "00", "v0=zz" SIG, "v0=" SIG " ",
    };
    (void)state;
    assert_int_equal(verify_at(BODY, "v0=" SIG, "1800000000", T), BK_OK);
    assert_int_equal(verify_at(BODY, "v0=" SIG, "1800000000", T + 300), BK_OK);
    assert_int_equal(verify_at(BODY, "v0=" SIG, "1800000000", T - 300), BK_OK);
    assert_int_equal(verify_at(BODY, "v0=" SIG, "1800000000", T + 301),
                     BK_E_UNAUTHORIZED);
    assert_int_equal(verify_at(BODY, "v0=" SIG, "1800000000", T - 301),
                     BK_E_UNAUTHORIZED);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(verify_at(BODY, bad[i], "1800000000", T),
                         BK_E_UNAUTHORIZED);
    assert_int_equal(verify_at(BODY, "v0=" SIG, NULL, T), BK_E_UNAUTHORIZED);
    assert_int_equal(verify_at(BODY, "v0=" SIG, "1800000001", T),
                     BK_E_UNAUTHORIZED);
    assert_int_equal(verify_at(BODY, "v0=" SIG, "-1800000000", T),
                     BK_E_UNAUTHORIZED);
    assert_int_equal(verify_at(BODY, "v0=" SIG, "1800000000000", T),
                     BK_E_UNAUTHORIZED);
    assert_int_equal(verify_at(BODY " ", "v0=" SIG, "1800000000", T),
                     BK_E_UNAUTHORIZED);
}

static void test_url_validation(void **state)
{
    json_t *doc = NULL, *answer;
    (void)state;
    assert_int_equal(
        bk_webhooks_parse("{\"payload\":{\"plainToken\":\"qgg8vlvZRS6UYooatF"
                          "L8Aw\"},\"event_ts\":1654503849680,\"event\":"
                          "\"endpoint.url_validation\"}",
                          strlen("{\"payload\":{\"plainToken\":\"qgg8vlvZRS6"
                                 "UYooatFL8Aw\"},\"event_ts\":1654503849680,"
                                 "\"event\":\"endpoint.url_validation\"}"),
                          &doc, NULL),
        BK_OK);
    answer = bk_webhook_zoom.challenge(doc, SECRET);
    assert_non_null(answer);
    assert_int_equal(json_object_size(answer), 2);
    assert_string_equal(
        json_string_value(json_object_get(answer, "plainToken")),
        "qgg8vlvZRS6UYooatFL8Aw");
    /* python3: hmac.new(b"zoom-secret", b"qgg8vlvZRS6UYooatFL8Aw", sha256) */
    assert_string_equal(
        json_string_value(json_object_get(answer, "encryptedToken")),
        "b17f0320a1322a509340a1a835b3d9edbc491f0b0790ed2d20d0604d39dfe922");
    json_decref(answer);
    json_decref(doc);
    /* Other events are no challenge. */
    assert_int_equal(bk_webhooks_parse(BODY, strlen(BODY), &doc, NULL), BK_OK);
    assert_null(bk_webhook_zoom.challenge(doc, SECRET));
    json_decref(doc);
}

static enum bk_err parse(const char *text, struct bk_arena *a,
                         struct bk_webhook_id *id, struct bk_ext_event *ev)
{
    json_t *doc = NULL;
    enum bk_err e = bk_webhooks_parse(text, strlen(text), &doc, NULL);

    if (!e)
        e = bk_webhook_zoom.identify(doc, a, id, NULL);
    if (!e && id->known)
        e = bk_webhook_zoom.normalize(doc, a, ev, NULL);
    json_decref(doc);
    return e;
}

static void test_normalize(void **state)
{
    struct bk_arena a;
    struct bk_webhook_id id;
    struct bk_ext_event ev, back;
    (void)state;

    bk_arena_init(&a);
    assert_int_equal(parse(BODY, &a, &id, &ev), BK_OK);
    assert_true(id.known);
    assert_string_equal(id.type, "meeting.ended");
    assert_string_equal(id.subject, "85746065432");
    assert_string_equal(id.delivery_key, "meeting.ended:u1==:1800000000000");
    assert_int_equal(ev.kind, BK_EXT_MEETING_ENDED);
    assert_string_equal(ev.booking.uid, "85746065432");
    assert_true(ev.booking.by_attendance);
    assert_int_equal(ev.booking.end_utc - ev.booking.start_utc, 31 * 60);
    assert_int_equal(bk_webhooks_event_decode(bk_webhooks_event_encode(&ev, &a),
                                              &bk_webhook_zoom, &a, &back,
                                              NULL),
                     BK_OK);
    assert_int_equal(back.kind, BK_EXT_MEETING_ENDED);
    assert_true(back.booking.by_attendance);

    /* A join: the participant as the attendee; an id as a number. */
    assert_int_equal(
        parse("{\"event\":\"meeting.participant_joined\",\"event_ts\":5,"
              "\"payload\":{\"object\":{\"id\":85746065432,\"uuid\":\"u\","
              "\"participant\":{\"user_name\":\"Ada\",\"email\":\"a@b.co\","
              "\"participant_uuid\":\"p1\"}}}}",
              &a, &id, &ev),
        BK_OK);
    assert_string_equal(id.delivery_key, "meeting.participant_joined:u:5:p1");
    assert_int_equal(ev.kind, BK_EXT_ATTENDEE_JOINED);
    assert_string_equal(ev.booking.uid, "85746065432");
    assert_string_equal(ev.booking.attendee.email, "a@b.co");
    assert_string_equal(ev.booking.attendee.name, "Ada");
    assert_int_equal(bk_webhooks_event_decode(bk_webhooks_event_encode(&ev, &a),
                                              &bk_webhook_zoom, &a, &back,
                                              NULL),
                     BK_OK);
    assert_int_equal(back.kind, BK_EXT_ATTENDEE_JOINED);
    assert_string_equal(back.booking.attendee.email, "a@b.co");

    /* Not applied: stored as ignored. */
    assert_int_equal(
        parse("{\"event\":\"meeting.started\",\"payload\":{}}", &a, &id, &ev),
        BK_OK);
    assert_false(id.known);
    assert_null(id.delivery_key);

    /* Hostile ids and participants. */
    static const char *const bad[] = {
        "{\"event\":\"meeting.ended\",\"payload\":{\"object\":{}}}",
        "{\"event\":\"meeting.ended\",\"payload\":{\"object\":{\"id\":-1}}}",
        "{\"event\":\"meeting.ended\",\"payload\":{\"object\":{\"id\":1.5}}}",
        "{\"event\":\"meeting.ended\",\"payload\":{\"object\":{\"id\":\"1a\"}}"
        "}",
        "{\"event\":\"meeting.ended\",\"payload\":{\"object\":{\"id\":"
        "\"123456789012345678901\"}}}",
        "{\"event\":\"meeting.ended\",\"payload\":[]}",
        "{\"event\":\"meeting.participant_joined\",\"payload\":{\"object\":{"
        "\"id\":\"1\"}}}",
        "{\"event\":\"meeting.participant_joined\",\"payload\":{\"object\":{"
        "\"id\":\"1\",\"participant\":{\"email\":\"no\",\"user_name\":\"\"}}}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], &a, &id, &ev), BK_E_INVALID);
    assert_int_equal(parse("{\"event\":5}", &a, &id, &ev), BK_E_INVALID);
    bk_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_url_validation),
        cmocka_unit_test(test_normalize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
