/* tests/fuzz/fuzz_calcom.c — the Cal.com verifier, identifier and
 * normalizer on arbitrary bodies and signature headers, parsed once as the
 * intake does; the stored form of what it normalized read back; the body
 * itself read as a stored normalized event. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/tz.h"
#include "webhooks/webhooks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *header(void *ctx, const char *name)
{
    (void)name;
    return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    struct bk_arena a;
    struct bk_webhook_id id;
    struct bk_ext_event ev;
    struct bk_webhook_input in;
    char sig[65];
    char *body;
    json_t *doc = NULL;

    if (!init) {
        bk_tz_init();
        init = 1;
    }
    /* The first 64 bytes (if any) are the signature header. */
    memset(sig, 0, sizeof(sig));
    if (size >= 64) {
        memcpy(sig, data, 64);
        data += 64;
        size -= 64;
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
    (void)bk_webhook_calcom.verify(&in, "secret", NULL);
    if (bk_webhooks_parse(body, size, &doc, NULL) == BK_OK &&
        bk_webhook_calcom.identify(doc, &a, &id, NULL) == BK_OK && id.known &&
        bk_webhook_calcom.normalize(doc, &a, &ev, NULL) == BK_OK) {
        const char *text = bk_webhooks_event_encode(&ev, &a);
        struct bk_ext_event back;
        if (bk_webhooks_event_decode(text, &bk_webhook_calcom, &a, &back,
                                     NULL) != BK_OK)
            abort(); /* what was stored must read back */
    }
    json_decref(doc);
    {
        struct bk_ext_event stored;
        if (bk_webhooks_event_decode(body, &bk_webhook_calcom, &a, &stored,
                                     NULL) == BK_OK &&
            !stored.booking.uid)
            abort();
    }
    bk_arena_release(&a);
    free(body);
    return 0;
}
