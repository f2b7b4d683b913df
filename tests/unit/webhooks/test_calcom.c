/* tests/unit/webhooks/test_calcom.c — the Cal.com provider: signature,
 * delivery key and normalization, over fixtures shaped as PROVIDERS.md §3
 * documents, and their malformed and hostile forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/str.h"
#include "base/time.h"
#include "core/tz.h"
#include "crypto/crypto.h"
#include "webhooks/webhooks.h"

#define SECRET "whsec-calcom-test-secret"

static char *load(const char *name, size_t *len)
{
    char path[512];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

struct headers {
    const char *sig;
};

static const char *header(void *ctx, const char *name)
{
    struct headers *h = ctx;
    return bk_str_ieq(name, "X-Cal-Signature-256") ? h->sig : NULL;
}

static void sign(const char *body, size_t len, const char *secret, char out[65])
{
    unsigned char mac[BK_SHA256_LEN];
    struct bk_iov iov = {body, len};
    bk_hmac_sha256(secret, strlen(secret), &iov, 1, mac);
    bk_hex_encode(mac, sizeof(mac), out);
}

static enum bk_err verify(const char *body, size_t len, const char *sig)
{
    struct headers h = {sig};
    struct bk_webhook_input in = {body, len, header, &h, 0, NULL};
    return bk_webhook_calcom.verify(&in, SECRET, NULL);
}

static void test_signature(void **state)
{
    size_t len;
    char *body = load("booking_created.json", &len);
    char sig[65], upper[65];
    (void)state;

    sign(body, len, SECRET, sig);
    assert_int_equal(verify(body, len, sig), BK_OK);
    /* Hex digits in either case name the same digest. */
    for (int i = 0; i < 65; i++)
        upper[i] =
            (char)(sig[i] >= 'a' && sig[i] <= 'f' ? sig[i] - 32 : sig[i]);
    assert_int_equal(verify(body, len, upper), BK_OK);
    /* Missing, the no-secret marker, wrong secret, truncated, non-hex. */
    assert_int_equal(verify(body, len, NULL), BK_E_UNAUTHORIZED);
    assert_int_equal(verify(body, len, ""), BK_E_UNAUTHORIZED);
    assert_int_equal(verify(body, len, "no-secret-provided"),
                     BK_E_UNAUTHORIZED);
    sign(body, len, "another secret", sig);
    assert_int_equal(verify(body, len, sig), BK_E_UNAUTHORIZED);
    sign(body, len, SECRET, sig);
    sig[63] = '\0';
    assert_int_equal(verify(body, len, sig), BK_E_UNAUTHORIZED);
    sign(body, len, SECRET, sig);
    sig[10] = 'g';
    assert_int_equal(verify(body, len, sig), BK_E_UNAUTHORIZED);
    /* The signature covers the exact bytes: a re-serialized or altered
     * body fails. */
    sign(body, len, SECRET, sig);
    body[len - 2] = ' ';
    assert_int_equal(verify(body, len, sig), BK_E_UNAUTHORIZED);
    assert_int_equal(verify(body, len - 1, sig), BK_E_UNAUTHORIZED);
    free(body);
}

/* The provider's steps work on the body parsed once (as the intake and
 * the apply job do). */
static enum bk_err identify_body(const char *body, size_t len,
                                 struct bk_arena *a, struct bk_webhook_id *id,
                                 struct bk_errbuf *err)
{
    json_t *doc = NULL;
    enum bk_err e = bk_webhooks_parse(body, len, &doc, err);

    if (!e)
        e = bk_webhook_calcom.identify(doc, a, id, err);
    json_decref(doc);
    return e;
}

static enum bk_err normalize_body(const char *body, size_t len,
                                  struct bk_arena *a, struct bk_ext_event *ev,
                                  struct bk_errbuf *err)
{
    json_t *doc = NULL;
    enum bk_err e = bk_webhooks_parse(body, len, &doc, err);

    if (!e)
        e = bk_webhook_calcom.normalize(doc, a, ev, err);
    json_decref(doc);
    return e;
}

static void test_identify(void **state)
{
    struct bk_arena a;
    struct bk_webhook_id id;
    size_t len;
    char *body;
    (void)state;

    bk_arena_init(&a);
    body = load("booking_created.json", &len);
    assert_int_equal(identify_body(body, len, &a, &id, NULL), BK_OK);
    assert_string_equal(id.type, "BOOKING_CREATED");
    assert_true(id.known);
    assert_string_equal(id.delivery_key, "BOOKING_CREATED:"
                                         "bFJeNb2uX8ANpT3JL5EfXw:"
                                         "2026-11-20T10:15:02.512Z");
    free(body);

    /* The flat shape keys on the booking row's uid and createdAt. */
    body = load("meeting_ended_flat.json", &len);
    assert_int_equal(identify_body(body, len, &a, &id, NULL), BK_OK);
    assert_string_equal(id.type, "MEETING_ENDED");
    assert_true(id.known);
    assert_string_equal(id.delivery_key, "MEETING_ENDED:"
                                         "bFJeNb2uX8ANpT3JL5EfXw:"
                                         "2026-11-20T10:15:02.100Z");
    free(body);

    body = load("booking_requested.json", &len);
    assert_int_equal(identify_body(body, len, &a, &id, NULL), BK_OK);
    assert_string_equal(id.type, "BOOKING_REQUESTED");
    assert_false(id.known);
    free(body);

    /* No uid or createdAt: no key; the intake uses the body's hash. */
    {
        const char *b = "{\"triggerEvent\":\"PING\",\"payload\":{}}";
        const char *key = bk_webhooks_body_key(b, strlen(b), &a);
        assert_int_equal(identify_body(b, strlen(b), &a, &id, NULL), BK_OK);
        assert_null(id.delivery_key);
        assert_int_equal(strncmp(key, "sha256:", 7), 0);
        assert_int_equal(strlen(key), 7 + 64);
    }
    bk_arena_release(&a);
}

static enum bk_err ident(struct bk_arena *a, const char *body,
                         struct bk_errbuf *err)
{
    struct bk_webhook_id id;
    bk_errbuf_clear(err);
    return identify_body(body, strlen(body), a, &id, err);
}

static void test_identify_bad(void **state)
{
    struct bk_arena a;
    struct bk_errbuf err;
    char deep[20001];
    (void)state;

    bk_arena_init(&a);
    assert_int_equal(ident(&a, "", &err), BK_E_MALFORMED);
    assert_int_equal(ident(&a, "{", &err), BK_E_MALFORMED);
    assert_int_equal(ident(&a, "[1,2]", &err), BK_E_MALFORMED);
    assert_int_equal(ident(&a, "\"BOOKING_CREATED\"", &err), BK_E_MALFORMED);
    assert_int_equal(
        ident(&a, "{\"triggerEvent\":\"A\",\"triggerEvent\":\"B\"}", &err),
        BK_E_MALFORMED);
    assert_int_equal(ident(&a, "{\"payload\":{}}", &err), BK_E_INVALID);
    assert_string_equal(err.field, "triggerEvent");
    assert_int_equal(ident(&a, "{\"triggerEvent\":42}", &err), BK_E_INVALID);
    assert_int_equal(ident(&a, "{\"triggerEvent\":\"booking created\"}", &err),
                     BK_E_INVALID);
    assert_int_equal(ident(&a, "{\"triggerEvent\":\"\"}", &err), BK_E_INVALID);
    /* Invalid UTF-8 is not JSON. */
    assert_int_equal(ident(&a, "{\"triggerEvent\":\"\xff\xfe\"}", &err),
                     BK_E_MALFORMED);
    /* Deep nesting is refused by the parser, not the stack. */
    memset(deep, '[', sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = '\0';
    assert_int_equal(ident(&a, deep, &err), BK_E_MALFORMED);
    bk_arena_release(&a);
}

static void test_normalize_created(void **state)
{
    struct bk_arena a;
    struct bk_ext_event ev;
    int64_t t;
    size_t len;
    char *body = load("booking_created.json", &len);
    (void)state;

    bk_arena_init(&a);
    assert_int_equal(normalize_body(body, len, &a, &ev, NULL), BK_OK);
    assert_int_equal(ev.kind, BK_EXT_BOOKING_CREATED);
    assert_int_equal(ev.source, BK_SOURCE_CALCOM);
    assert_string_equal(ev.provider, "calcom");
    assert_string_equal(ev.provider_display, "Cal.com");
    assert_string_equal(ev.booking.uid, "bFJeNb2uX8ANpT3JL5EfXw");
    assert_null(ev.booking.previous_uid);
    assert_string_equal(ev.booking.booking_id, "91");
    assert_int_equal(bk_rfc3339_parse("2026-12-02T09:00:00Z", &t, NULL), BK_OK);
    assert_int_equal(ev.booking.start_utc, t);
    assert_int_equal(ev.booking.end_utc, t + 1800);
    assert_string_equal(ev.booking.attendee.email, "alex@client.example");
    assert_string_equal(ev.booking.attendee.name, "Alex Attendee");
    assert_string_equal(ev.booking.attendee.timezone, "America/New_York");
    assert_string_equal(ev.booking.organizer.email, "jane@coach.example");
    assert_string_equal(ev.booking.organizer.username, "jane");
    assert_string_equal(ev.booking.event_type_id, "731");
    assert_string_equal(ev.booking.event_type_slug, "30min");
    assert_string_equal(ev.booking.event_type_title, "30 Min Meeting");
    assert_int_equal(ev.booking.length_min, 30);
    assert_string_equal(ev.booking.notes, "Looking forward to it");
    assert_string_equal(ev.booking.location, "integrations:daily");
    assert_string_equal(ev.booking.meeting_url,
                        "https://app.cal.com/video/bFJeNb2uX8ANpT3JL5EfXw");
    free(body);
    bk_arena_release(&a);
}

static void test_normalize_other_triggers(void **state)
{
    struct bk_arena a;
    struct bk_ext_event ev;
    size_t len;
    char *body;
    (void)state;

    bk_arena_init(&a);
    body = load("booking_rescheduled.json", &len);
    assert_int_equal(normalize_body(body, len, &a, &ev, NULL), BK_OK);
    assert_int_equal(ev.kind, BK_EXT_BOOKING_RESCHEDULED);
    assert_string_equal(ev.booking.uid, "r2NewUid9bbQ4pDoWkZ1yq");
    assert_string_equal(ev.booking.previous_uid, "bFJeNb2uX8ANpT3JL5EfXw");
    assert_string_equal(ev.booking.booking_id, "92");
    free(body);

    body = load("booking_cancelled.json", &len);
    assert_int_equal(normalize_body(body, len, &a, &ev, NULL), BK_OK);
    assert_int_equal(ev.kind, BK_EXT_BOOKING_CANCELLED);
    assert_string_equal(ev.booking.cancellation_reason, "Something came up");
    free(body);

    /* The flat shape: the row's id, responses with plain values. */
    body = load("meeting_ended_flat.json", &len);
    assert_int_equal(normalize_body(body, len, &a, &ev, NULL), BK_OK);
    assert_int_equal(ev.kind, BK_EXT_MEETING_ENDED);
    assert_string_equal(ev.booking.uid, "bFJeNb2uX8ANpT3JL5EfXw");
    assert_string_equal(ev.booking.booking_id, "91");
    assert_string_equal(ev.booking.attendee.email, "alex@client.example");
    assert_string_equal(ev.booking.attendee.name, "Alex Attendee");
    assert_true(ev.booking.end_utc - ev.booking.start_utc == 1800);
    free(body);

    body = load("meeting_ended_wrapped.json", &len);
    assert_int_equal(normalize_body(body, len, &a, &ev, NULL), BK_OK);
    assert_int_equal(ev.kind, BK_EXT_MEETING_ENDED);
    assert_string_equal(ev.booking.uid, "bFJeNb2uX8ANpT3JL5EfXw");
    free(body);
    bk_arena_release(&a);
}

static enum bk_err norm(struct bk_arena *a, const char *body,
                        struct bk_ext_event *ev, struct bk_errbuf *err)
{
    bk_errbuf_clear(err);
    return normalize_body(body, strlen(body), a, ev, err);
}

static void test_normalize_bad(void **state)
{
    struct bk_arena a;
    struct bk_ext_event ev;
    struct bk_errbuf err;
    char big[600];
    (void)state;

    bk_arena_init(&a);
    /* A created booking needs its uid, times and attendee email. */
    assert_int_equal(
        norm(&a, "{\"triggerEvent\":\"BOOKING_CREATED\"}", &ev, &err),
        BK_E_INVALID);
    assert_string_equal(err.field, "payload");
    assert_int_equal(norm(&a,
                          "{\"triggerEvent\":\"BOOKING_CREATED\",\"payload\":"
                          "{\"startTime\":\"2026-12-02T09:00:00Z\"}}",
                          &ev, &err),
                     BK_E_INVALID);
    assert_string_equal(err.field, "payload.uid");
    assert_int_equal(norm(&a,
                          "{\"triggerEvent\":\"BOOKING_CREATED\",\"payload\":"
                          "{\"uid\":\"u1\",\"endTime\":"
                          "\"2026-12-02T09:30:00Z\"}}",
                          &ev, &err),
                     BK_E_INVALID);
    assert_string_equal(err.field, "payload.startTime");
    assert_int_equal(norm(&a,
                          "{\"triggerEvent\":\"BOOKING_CREATED\",\"payload\":"
                          "{\"uid\":\"u1\",\"startTime\":\"yesterday\","
                          "\"endTime\":\"2026-12-02T09:30:00Z\"}}",
                          &ev, &err),
                     BK_E_INVALID);
    assert_string_equal(err.field, "payload.startTime");
    assert_int_equal(norm(&a,
                          "{\"triggerEvent\":\"BOOKING_CREATED\",\"payload\":"
                          "{\"uid\":\"u1\",\"startTime\":"
                          "\"2026-12-02T10:00:00Z\",\"endTime\":"
                          "\"2026-12-02T09:30:00Z\"}}",
                          &ev, &err),
                     BK_E_INVALID);
    assert_string_equal(err.field, "payload.endTime");
    assert_int_equal(norm(&a,
                          "{\"triggerEvent\":\"BOOKING_CREATED\",\"payload\":"
                          "{\"uid\":\"u1\",\"startTime\":"
                          "\"2026-12-02T09:00:00Z\",\"endTime\":"
                          "\"2026-12-02T09:30:00Z\",\"attendees\":[{\"email\""
                          ":\"not an email\"}]}}",
                          &ev, &err),
                     BK_E_INVALID);
    assert_string_equal(err.field, "payload.attendees[0].email");
    /* A uid of the wrong type or absurd length. */
    assert_int_equal(norm(&a,
                          "{\"triggerEvent\":\"BOOKING_CANCELLED\","
                          "\"payload\":{\"uid\":123}}",
                          &ev, &err),
                     BK_E_INVALID);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    {
        char *body = bk_arena_printf(&a,
                                     "{\"triggerEvent\":\"BOOKING_CANCELLED\","
                                     "\"payload\":{\"uid\":\"%s\"}}",
                                     big);
        assert_int_equal(norm(&a, body, &ev, &err), BK_E_INVALID);
    }
    /* A cancellation needs no times: a late one may be all there is. */
    assert_int_equal(norm(&a,
                          "{\"triggerEvent\":\"BOOKING_CANCELLED\","
                          "\"payload\":{\"uid\":\"u1\"}}",
                          &ev, &err),
                     BK_OK);
    assert_int_equal(ev.booking.start_utc, 0);
    /* Unknown triggers are not normalized. */
    assert_int_equal(norm(&a, "{\"triggerEvent\":\"BOOKING_PAID\"}", &ev, &err),
                     BK_E_INVALID);
    /* Hostile values are dropped, not trusted. */
    assert_int_equal(
        norm(&a,
             "{\"triggerEvent\":\"BOOKING_CREATED\",\"payload\":{\"uid\":"
             "\"u2\",\"startTime\":\"2026-12-02T09:00:00Z\",\"endTime\":"
             "\"2026-12-02T09:30:00Z\",\"attendees\":[{\"email\":\"a@b."
             "example\","
             "\"timeZone\":\"../../etc/"
             "passwd\"}],\"metadata\":{\"videoCallUrl\":"
             "\"javascript:alert(1)\"},\"length\":-5}}",
             &ev, &err),
        BK_OK);
    assert_null(ev.booking.attendee.timezone);
    assert_null(ev.booking.meeting_url);
    assert_int_equal(ev.booking.length_min, 0);
    bk_arena_release(&a);
}

/* The normalized event stored with a delivery reads back the same; other
 * versions and other providers' are not read. */
static void test_event_round_trip(void **state)
{
    struct bk_arena a;
    struct bk_ext_event ev, back;
    struct bk_errbuf err;
    const char *text;
    size_t len;
    char *body = load("booking_rescheduled.json", &len);
    (void)state;

    bk_arena_init(&a);
    assert_int_equal(normalize_body(body, len, &a, &ev, NULL), BK_OK);
    text = bk_webhooks_event_encode(&ev, &a);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"version\":1"));
    assert_int_equal(
        bk_webhooks_event_decode(text, &bk_webhook_calcom, &a, &back, &err),
        BK_OK);
    assert_int_equal(back.kind, ev.kind);
    assert_string_equal(back.provider, "calcom");
    assert_string_equal(back.provider_display, "Cal.com");
    assert_int_equal(back.source, BK_SOURCE_CALCOM);
    assert_string_equal(back.booking.uid, ev.booking.uid);
    assert_string_equal(back.booking.previous_uid, ev.booking.previous_uid);
    assert_string_equal(back.booking.booking_id, ev.booking.booking_id);
    assert_int_equal(back.booking.start_utc, ev.booking.start_utc);
    assert_int_equal(back.booking.end_utc, ev.booking.end_utc);
    assert_string_equal(back.booking.attendee.email, ev.booking.attendee.email);
    assert_string_equal(back.booking.organizer.username,
                        ev.booking.organizer.username);
    assert_string_equal(back.booking.event_type_id, ev.booking.event_type_id);
    assert_int_equal(back.booking.length_min, ev.booking.length_min);
    /* The same text again: encoding is deterministic. */
    assert_string_equal(bk_webhooks_event_encode(&back, &a), text);

    assert_int_equal(bk_webhooks_event_decode("{\"version\":2,\"kind\":"
                                              "\"created\",\"provider\":"
                                              "\"calcom\",\"booking\":{"
                                              "\"uid\":\"x\"}}",
                                              &bk_webhook_calcom, &a, &back,
                                              &err),
                     BK_E_INVALID);
    assert_int_equal(bk_webhooks_event_decode("{\"version\":1,\"kind\":"
                                              "\"created\",\"provider\":"
                                              "\"stripe\",\"booking\":{"
                                              "\"uid\":\"x\"}}",
                                              &bk_webhook_calcom, &a, &back,
                                              &err),
                     BK_E_INVALID);
    assert_int_equal(bk_webhooks_event_decode("{\"version\":1,\"kind\":"
                                              "\"paid\",\"provider\":"
                                              "\"calcom\"}",
                                              &bk_webhook_calcom, &a, &back,
                                              &err),
                     BK_E_INVALID);
    assert_int_equal(bk_webhooks_event_decode("not json", &bk_webhook_calcom,
                                              &a, &back, &err),
                     BK_E_INVALID);
    assert_int_equal(
        bk_webhooks_event_decode(NULL, &bk_webhook_calcom, &a, &back, &err),
        BK_E_INVALID);
    free(body);
    bk_arena_release(&a);
}

/* Names accepted in event types' external_ids. */
static void test_provider_names(void **state)
{
    (void)state;
    assert_true(bk_webhooks_provider_known("calcom"));
    assert_true(bk_webhooks_provider_known("calendly"));
    assert_false(bk_webhooks_provider_known("calcomm"));
    assert_false(bk_webhooks_provider_known(""));
    assert_false(bk_webhooks_provider_known(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_identify),
        cmocka_unit_test(test_identify_bad),
        cmocka_unit_test(test_normalize_created),
        cmocka_unit_test(test_normalize_other_triggers),
        cmocka_unit_test(test_normalize_bad),
        cmocka_unit_test(test_event_round_trip),
        cmocka_unit_test(test_provider_names),
    };
    bk_tz_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
