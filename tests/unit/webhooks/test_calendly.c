/* tests/unit/webhooks/test_calendly.c — the Calendly provider: the
 * t=,v1= signature and its tolerance window, the delivery key, and the
 * normalization of every invitee event (the reschedule pair as REPLACED and
 * RESCHEDULED, no-shows), over fixtures shaped as PROVIDERS.md §2.2
 * documents, and their malformed forms; the stored form read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/str.h"
#include "core/tz.h"
#include "crypto/crypto.h"
#include "webhooks/webhooks.h"

#define KEY "calendly-signing-key-test"
#define NOW 1796198400LL

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

static const char *header(void *ctx, const char *name)
{
    return bk_str_ieq(name, "Calendly-Webhook-Signature") ? ctx : NULL;
}

/* "t=<t>,v1=<hex of HMAC(key, "<t>.<body>")>" */
static void sign(const char *body, size_t len, const char *key, long long t,
                 char *out, size_t n)
{
    unsigned char mac[BK_SHA256_LEN];
    char ts[32], hex[65];
    struct bk_iov parts[3];

    snprintf(ts, sizeof(ts), "%lld", t);
    parts[0] = (struct bk_iov){ts, strlen(ts)};
    parts[1] = (struct bk_iov){".", 1};
    parts[2] = (struct bk_iov){body, len};
    bk_hmac_sha256(key, strlen(key), parts, 3, mac);
    bk_hex_encode(mac, sizeof(mac), hex);
    snprintf(out, n, "t=%s,v1=%s", ts, hex);
}

static enum bk_err verify(const char *body, size_t len, const char *sig)
{
    struct bk_webhook_input in = {body, len, header, (void *)sig, NOW, NULL};
    return bk_webhook_calendly.verify(&in, KEY, NULL);
}

static void test_signature(void **state)
{
    size_t len;
    char *body = load("invitee_created.json", &len);
    char sig[128], bad[400];
    (void)state;

    sign(body, len, KEY, NOW, sig, sizeof(sig));
    assert_int_equal(verify(body, len, sig), BK_OK);
    /* The window: 180 s either way, inclusive. */
    sign(body, len, KEY, NOW - 180, sig, sizeof(sig));
    assert_int_equal(verify(body, len, sig), BK_OK);
    sign(body, len, KEY, NOW + 180, sig, sizeof(sig));
    assert_int_equal(verify(body, len, sig), BK_OK);
    sign(body, len, KEY, NOW - 181, sig, sizeof(sig));
    assert_int_equal(verify(body, len, sig), BK_E_UNAUTHORIZED);
    sign(body, len, KEY, NOW + 181, sig, sizeof(sig));
    assert_int_equal(verify(body, len, sig), BK_E_UNAUTHORIZED);
    /* Wrong key, missing, malformed. */
    sign(body, len, "other", NOW, sig, sizeof(sig));
    assert_int_equal(verify(body, len, sig), BK_E_UNAUTHORIZED);
    assert_int_equal(verify(body, len, NULL), BK_E_UNAUTHORIZED);
    assert_int_equal(verify(body, len, ""), BK_E_UNAUTHORIZED);
    assert_int_equal(verify(body, len, "t=1796198400"), BK_E_UNAUTHORIZED);
    assert_int_equal(verify(body, len, "v1=00"), BK_E_UNAUTHORIZED);
    assert_int_equal(verify(body, len, "garbage"), BK_E_UNAUTHORIZED);
    /* An extra v1 and unknown schemes around the right one: accepted. */
    sign(body, len, KEY, NOW, sig, sizeof(sig));
    snprintf(bad, sizeof(bad), "%s,v1=%064d,v0=zz", sig, 0);
    assert_int_equal(verify(body, len, bad), BK_OK);
    /* The t signed must be the t sent. */
    snprintf(bad, sizeof(bad), "t=%lld%s", NOW + 1, strchr(sig, ','));
    assert_int_equal(verify(body, len, bad), BK_E_UNAUTHORIZED);
    /* The exact bytes. */
    assert_int_equal(verify(body, len - 1, sig), BK_E_UNAUTHORIZED);
    free(body);
}

static enum bk_err run(const char *body, size_t len, struct bk_arena *a,
                       struct bk_webhook_id *id, struct bk_ext_event *ev,
                       struct bk_errbuf *err)
{
    json_t *doc = NULL;
    enum bk_err e = bk_webhooks_parse(body, len, &doc, err);

    if (!e)
        e = bk_webhook_calendly.identify(doc, a, id, err);
    if (!e && id->known)
        e = bk_webhook_calendly.normalize(doc, a, ev, err);
    json_decref(doc);
    return e;
}

#define INV_A                                                                  \
    "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/"     \
    "AAAAAAAAAAAAAAAA"
#define INV_B                                                                  \
    "https://api.calendly.com/scheduled_events/HCHCEDBBEBFEDSA3/invitees/"     \
    "BBBBBBBBBBBBBBBB"

static void fixture(const char *name, struct bk_arena *a,
                    struct bk_webhook_id *id, struct bk_ext_event *ev)
{
    size_t len;
    char *body = load(name, &len);
    struct bk_errbuf err;

    bk_errbuf_clear(&err);
    memset(ev, 0, sizeof(*ev));
    assert_int_equal(run(body, len, a, id, ev, &err), BK_OK);
    free(body);
}

static void round_trip(struct bk_arena *a, const struct bk_ext_event *ev)
{
    const char *text = bk_webhooks_event_encode(ev, a);
    struct bk_ext_event back;

    assert_non_null(text);
    assert_int_equal(
        bk_webhooks_event_decode(text, &bk_webhook_calendly, a, &back, NULL),
        BK_OK);
    assert_int_equal(back.kind, ev->kind);
    assert_string_equal(back.booking.uid, ev->booking.uid);
    assert_true((!back.booking.next_uid && !ev->booking.next_uid) ||
                strcmp(back.booking.next_uid, ev->booking.next_uid) == 0);
    assert_true((!back.booking.mark_id && !ev->booking.mark_id) ||
                strcmp(back.booking.mark_id, ev->booking.mark_id) == 0);
    assert_int_equal(back.booking.start_utc, ev->booking.start_utc);
}

static void test_fixtures(void **state)
{
    struct bk_arena a;
    struct bk_webhook_id id;
    struct bk_ext_event ev;
    (void)state;

    bk_arena_init(&a);
    fixture("invitee_created.json", &a, &id, &ev);
    assert_true(id.known);
    assert_string_equal(id.type, "invitee.created");
    assert_string_equal(id.subject, INV_A);
    assert_string_equal(id.delivery_key, "invitee.created:" INV_A
                                         ":2026-11-30T10:00:01.000000Z");
    assert_int_equal(ev.kind, BK_EXT_BOOKING_CREATED);
    assert_int_equal(ev.source, BK_SOURCE_CALENDLY);
    assert_string_equal(ev.provider, "calendly");
    assert_string_equal(ev.booking.uid, INV_A);
    assert_int_equal(ev.booking.end_utc - ev.booking.start_utc, 1800);
    assert_string_equal(ev.booking.attendee.email, "alex@client.example");
    assert_string_equal(ev.booking.attendee.timezone, "Europe/Paris");
    assert_string_equal(ev.booking.organizer.email, "coach@example.com");
    assert_string_equal(ev.booking.event_type_id,
                        "https://api.calendly.com/event_types/"
                        "GBGBDCAADAEDCRZ2");
    assert_string_equal(ev.booking.meeting_url,
                        "https://calendly.zoom.us/j/95532418271");
    assert_int_equal(ev.booking.length_min, 30);
    round_trip(&a, &ev);

    fixture("invitee_canceled.json", &a, &id, &ev);
    assert_int_equal(ev.kind, BK_EXT_BOOKING_CANCELLED);
    assert_string_equal(ev.booking.cancellation_reason, "Something came up");
    round_trip(&a, &ev);

    fixture("invitee_canceled_rescheduled.json", &a, &id, &ev);
    assert_int_equal(ev.kind, BK_EXT_BOOKING_REPLACED);
    assert_string_equal(ev.booking.uid, INV_A);
    assert_string_equal(ev.booking.next_uid, INV_B);
    round_trip(&a, &ev);

    fixture("invitee_created_rescheduled.json", &a, &id, &ev);
    assert_int_equal(ev.kind, BK_EXT_BOOKING_RESCHEDULED);
    assert_string_equal(ev.booking.uid, INV_B);
    assert_string_equal(ev.booking.previous_uid, INV_A);
    round_trip(&a, &ev);

    fixture("invitee_no_show_created.json", &a, &id, &ev);
    assert_int_equal(ev.kind, BK_EXT_NO_SHOW_MARKED);
    assert_string_equal(ev.booking.mark_id, "https://api.calendly.com/"
                                            "invitee_no_shows/"
                                            "CCCCCCCCCCCCCCCC");
    round_trip(&a, &ev);

    fixture("invitee_no_show_deleted.json", &a, &id, &ev);
    assert_int_equal(ev.kind, BK_EXT_NO_SHOW_CLEARED);
    round_trip(&a, &ev);

    fixture("routing_form_submission_created.json", &a, &id, &ev);
    assert_false(id.known);
    assert_string_equal(id.type, "routing_form_submission.created");
    bk_arena_release(&a);
}

static void test_bad(void **state)
{
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{}", "event"},
        {"{\"event\":7}", "event"},
        {"{\"event\":\"Invitee.Created\"}", "event"},
        {"{\"event\":\"invitee.created\"}", "payload"},
        {"{\"event\":\"invitee.created\",\"payload\":[]}", "payload"},
        {"{\"event\":\"invitee.created\",\"payload\":{}}", "payload.uri"},
        {"{\"event\":\"invitee.created\",\"payload\":{\"uri\":\"u\","
         "\"old_invitee\":3}}",
         "payload.old_invitee"},
        {"{\"event\":\"invitee.canceled\",\"payload\":{\"uri\":\"u\","
         "\"rescheduled\":\"true\"}}",
         "payload.rescheduled"},
        {"{\"event\":\"invitee.created\",\"payload\":{\"uri\":\"u\"}}",
         "payload.scheduled_event"},
        {"{\"event\":\"invitee.created\",\"payload\":{\"uri\":\"u\","
         "\"scheduled_event\":{\"start_time\":\"2026-12-08T15:00:00Z\","
         "\"end_time\":\"2026-12-08T14:00:00Z\"}}}",
         "payload.scheduled_event.end_time"},
        {"{\"event\":\"invitee.created\",\"payload\":{\"uri\":\"u\","
         "\"scheduled_event\":{\"start_time\":\"2026-12-08T15:00:00Z\","
         "\"end_time\":\"2026-12-08T16:00:00Z\"}}}",
         "payload.email"},
        {"{\"event\":\"invitee_no_show.created\",\"payload\":{\"uri\":\"u\","
         "\"no_show\":\"x\"}}",
         "payload.no_show"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bk_arena a;
        struct bk_webhook_id id;
        struct bk_ext_event ev;
        struct bk_errbuf err;

        bk_arena_init(&a);
        bk_errbuf_clear(&err);
        assert_int_equal(
            run(cases[i].body, strlen(cases[i].body), &a, &id, &ev, &err),
            BK_E_INVALID);
        if (strcmp(err.field, cases[i].field) != 0)
            fail_msg("case %zu: field '%s', expected '%s' (%s)", i, err.field,
                     cases[i].field, err.msg);
        bk_arena_release(&a);
    }
}

/* A cancel without its scheduled event (not enough to record an unknown
 * booking) still normalizes: the ledger waits for the creation. */
static void test_bare_cancel(void **state)
{
    const char *body = "{\"event\":\"invitee.canceled\",\"created_at\":\"x\","
                       "\"payload\":{\"uri\":\"u\"}}";
    struct bk_arena a;
    struct bk_webhook_id id;
    struct bk_ext_event ev;
    (void)state;

    bk_arena_init(&a);
    assert_int_equal(run(body, strlen(body), &a, &id, &ev, NULL), BK_OK);
    assert_int_equal(ev.kind, BK_EXT_BOOKING_CANCELLED);
    assert_int_equal(ev.booking.start_utc, 0);
    assert_null(ev.booking.attendee.email);
    assert_string_equal(id.delivery_key, "invitee.canceled:u:x");
    bk_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_bare_cancel),
    };
    int rc;

    bk_tz_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    return rc;
}
