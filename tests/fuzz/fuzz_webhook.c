/* tests/fuzz/fuzz_webhook.c — one harness for the webhook providers whose
 * checks are alike (fuzz_calendly, fuzz_zoom and fuzz_notion are this file
 * built with BK_FUZZ_PROVIDER=calendly, zoom or notion): the provider's
 * verifier, challenge or handshake (when it has one), identifier and
 * normalizer on arbitrary bodies and signature headers, parsed once as the
 * intake does; the stored form of what it normalized read back; the body
 * itself read as a stored normalized event. Input: the signature header up
 * to the first newline within the first 256 bytes (for Notion an empty one
 * is absent), then the body (a separate timestamp header, where the
 * provider has one, is fixed). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/tz.h"
#include "webhooks/webhooks.h"

#ifndef BK_FUZZ_PROVIDER
#error "build with -DBK_FUZZ_PROVIDER=calendly, zoom or notion"
#endif
#define PROVIDER_OF_(p) bk_webhook_##p
#define PROVIDER_OF(p)  PROVIDER_OF_(p)
#define PROVIDER        PROVIDER_OF(BK_FUZZ_PROVIDER)

#define NOW_UTC 1796198400

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The provider's secret and its separate timestamp header (or NULL). */
static const char *secret_of(const char *name)
{
    if (strcmp(name, "notion") == 0)
        return "secret_token";
    return strcmp(name, "zoom") == 0 ? "secret-token" : "signing-key";
}

static const char *ts_header_of(const char *name)
{
    return strcmp(name, "zoom") == 0 ? "x-zm-request-timestamp" : NULL;
}

static const char *header(void *ctx, const char *name)
{
    const char *ts = ts_header_of(PROVIDER.name);

    if (ts && strcmp(name, ts) == 0)
        return "1796198400";
    if (strcmp(PROVIDER.name, "notion") == 0 && !*(const char *)ctx)
        return NULL; /* Notion's input: an empty header is an absent one */
    return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    const struct bk_webhook_provider *p = &PROVIDER;
    const char *secret = secret_of(p->name);
    struct bk_arena a;
    struct bk_webhook_id id;
    struct bk_ext_event ev;
    struct bk_webhook_input in;
    char sig[257];
    const uint8_t *nl;
    char *body;
    json_t *doc = NULL;

    if (!init) {
        bk_tz_init();
        init = 1;
    }
    memset(sig, 0, sizeof(sig));
    nl = memchr(data, '\n', size < 256 ? size : 256);
    if (nl) {
        memcpy(sig, data, (size_t)(nl - data));
        size -= (size_t)(nl - data) + 1;
        data = nl + 1;
    }
    body = malloc(size + 1);
    memcpy(body, data, size);
    body[size] = '\0';
    bk_arena_init(&a);
    memset(&in, 0, sizeof(in));
    in.body = body;
    in.body_len = size;
    in.header = header;
    in.header_ctx = sig;
    in.now_utc = NOW_UTC;
    if (p->verify(&in, secret, NULL) == BK_OK)
        abort(); /* a forged signature was accepted */
    if (p->handshake && p->handshake(&in) && sig[0])
        abort(); /* a signed body is never the handshake */
    if (bk_webhooks_parse(body, size, &doc, NULL) == BK_OK) {
        if (p->challenge) {
            json_t *answer = p->challenge(doc, secret);
            if (answer &&
                (!json_is_string(json_object_get(answer, "plainToken")) ||
                 strlen(json_string_value(
                     json_object_get(answer, "encryptedToken"))) != 64))
                abort(); /* a challenge answer has both tokens */
            json_decref(answer);
        }
        if (p->identify(doc, &a, &id, NULL) == BK_OK && id.known &&
            p->normalize(doc, &a, &ev, NULL) == BK_OK) {
            const char *text = bk_webhooks_event_encode(&ev, &a);
            struct bk_ext_event back;
            if (!ev.booking.uid ||
                bk_webhooks_event_decode(text, p, &a, &back, NULL) != BK_OK ||
                strcmp(back.booking.uid, ev.booking.uid) != 0 ||
                back.kind != ev.kind)
                abort(); /* what was stored must read back */
        }
    }
    json_decref(doc);
    {
        struct bk_ext_event stored;
        if (bk_webhooks_event_decode(body, p, &a, &stored, NULL) == BK_OK &&
            !stored.booking.uid)
            abort();
    }
    bk_arena_release(&a);
    free(body);
    return 0;
}
