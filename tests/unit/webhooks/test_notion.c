/* tests/unit/webhooks/test_notion.c — the Notion provider: the
 * X-Notion-Signature sha256= scheme (PROVIDERS.md §5.5) against a vector
 * made with Python's hmac and its bad forms, the unsigned
 * verification_token handshake and what is not one, and identify/normalize
 * of page events (REMOTE_CHANGED of the page) and other types, hostile
 * forms included, read back from the stored form. */
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

#define SECRET "secret_tok"
#define PAGE   "59833787-2cf9-4fdf-8782-e53db20768a5"
#define BODY                                                                   \
    "{\"id\":\"ev-1\",\"type\":\"page.properties_updated\",\"entity\":{"       \
    "\"id\":\"" PAGE "\",\"type\":\"page\"},\"data\":{}}"
/* python3: hmac.new(b"secret_tok", BODY, sha256).hexdigest() */
#define SIG "e0ef50b7eb7f7dd55fb8e1b9955d5bd2abc055152c73718c96da68ccc6864570"

static const char *header(void *ctx, const char *name)
{
    return bk_str_ieq(name, "X-Notion-Signature") ? ctx : NULL;
}

static enum bk_err verify(const char *body, const char *sig)
{
    struct bk_webhook_input in = {body, strlen(body), header, (void *)sig,
                                  0,    NULL};
    return bk_webhook_notion.verify(&in, SECRET, NULL);
}

static bool handshake(const char *body, const char *sig)
{
    struct bk_webhook_input in = {body, strlen(body), header, (void *)sig,
                                  0,    NULL};
    return bk_webhook_notion.handshake(&in);
}

static void test_signature(void **state)
{
    static const char *const bad[] = {
        NULL,
        "",
        SIG,
        "sha1=" SIG,
        "SHA256=" SIG,
        "sha256=" SIG "00",
        "sha256=zz" SIG,
        "sha256=" SIG " ",
        "sha256=",
    };
    (void)state;
    assert_int_equal(verify(BODY, "sha256=" SIG), BK_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(verify(BODY, bad[i]), BK_E_UNAUTHORIZED);
    assert_int_equal(verify(BODY " ", "sha256=" SIG), BK_E_UNAUTHORIZED);
    {
        char upper[80];
        snprintf(upper, sizeof(upper), "sha256=%s", SIG);
        for (char *p = upper + 7; *p; p++)
            if (*p >= 'a' && *p <= 'f')
                *p = (char)(*p - 32);
        /* Hex digits in either case decode to the same MAC. */
        assert_int_equal(verify(BODY, upper), BK_OK);
    }
}

static void test_handshake(void **state)
{
    (void)state;
    assert_true(handshake("{\"verification_token\":\"secret_abc\"}", NULL));
    assert_false(
        handshake("{\"verification_token\":\"secret_abc\"}", "sha256=" SIG));
    assert_false(handshake("{\"verification_token\":\"a b\"}", NULL));
    assert_false(handshake("{\"verification_token\":\"\"}", NULL));
    assert_false(handshake("{\"verification_token\":1}", NULL));
    assert_false(handshake(
        "{\"verification_token\":\"t\",\"type\":\"page.created\"}", NULL));
    assert_false(handshake("{\"verification_token\":\"a\","
                           "\"verification_token\":\"b\"}",
                           NULL));
    assert_false(handshake("[\"verification_token\"]", NULL));
    assert_false(handshake("{", NULL));
    assert_false(handshake(BODY, NULL));
    {
        char big[2048];
        memset(big, 'a', sizeof(big));
        memcpy(big, "{\"verification_token\":\"", 23);
        big[sizeof(big) - 3] = '"';
        big[sizeof(big) - 2] = '}';
        big[sizeof(big) - 1] = '\0';
        assert_false(handshake(big, NULL));
    }
}

static enum bk_err run(const char *body, struct bk_arena *a,
                       struct bk_webhook_id *id, struct bk_ext_event *ev)
{
    json_t *doc = NULL;
    enum bk_err e = bk_webhooks_parse(body, strlen(body), &doc, NULL);

    if (!e)
        e = bk_webhook_notion.identify(doc, a, id, NULL);
    if (!e && id->known)
        e = bk_webhook_notion.normalize(doc, a, ev, NULL);
    json_decref(doc);
    return e;
}

static void test_events(void **state)
{
    struct bk_arena a;
    struct bk_webhook_id id;
    struct bk_ext_event ev, back;
    const char *stored;
    (void)state;

    bk_arena_init(&a);
    assert_int_equal(run(BODY, &a, &id, &ev), BK_OK);
    assert_true(id.known);
    assert_string_equal(id.delivery_key, "ev-1");
    assert_string_equal(id.type, "page.properties_updated");
    assert_string_equal(id.subject, PAGE);
    assert_int_equal(ev.kind, BK_EXT_REMOTE_CHANGED);
    assert_string_equal(ev.provider, "notion");
    assert_int_equal(ev.source, BK_SOURCE_NOTION);
    assert_string_equal(ev.booking.uid, PAGE);
    stored = bk_webhooks_event_encode(&ev, &a);
    assert_int_equal(
        bk_webhooks_event_decode(stored, &bk_webhook_notion, &a, &back, NULL),
        BK_OK);
    assert_int_equal(back.kind, BK_EXT_REMOTE_CHANGED);
    assert_string_equal(back.booking.uid, PAGE);

    /* Other types: stored as ignored. */
    assert_int_equal(run("{\"id\":\"e2\",\"type\":\"comment.created\","
                         "\"entity\":{\"id\":\"c\",\"type\":\"comment\"}}",
                         &a, &id, &ev),
                     BK_OK);
    assert_false(id.known);
    /* Hostile and malformed. */
    assert_int_equal(run("{\"id\":\"e3\"}", &a, &id, &ev), BK_E_INVALID);
    assert_int_equal(run("{\"type\":\"page created\"}", &a, &id, &ev),
                     BK_E_INVALID);
    assert_int_equal(
        run("{\"id\":\"e4\",\"type\":\"page.created\"}", &a, &id, &ev),
        BK_E_INVALID);
    assert_int_equal(run("{\"id\":\"e5\",\"type\":\"page.created\","
                         "\"entity\":{\"id\":\"x\",\"type\":\"database\"}}",
                         &a, &id, &ev),
                     BK_E_INVALID);
    assert_int_equal(run("{\"id\":\"a b\",\"type\":\"page.created\","
                         "\"entity\":{\"id\":\"p q\",\"type\":\"page\"}}",
                         &a, &id, &ev),
                     BK_E_INVALID);
    assert_null(id.delivery_key); /* keyed by the body's hash */
    bk_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
