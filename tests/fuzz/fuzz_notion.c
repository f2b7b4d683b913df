/* tests/fuzz/fuzz_notion.c — the Notion verifier, handshake, identifier and
 * normalizer on arbitrary bodies and signature headers, parsed once as the
 * intake does; the stored form of what it normalized read back. Input: the
 * X-Notion-Signature header up to the first newline within the first 256
 * bytes (an empty one: absent), then the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/tz.h"
#include "webhooks/webhooks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *header(void *ctx, const char *name)
{
    (void)name;
    return *(const char *)ctx ? ctx : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
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
    if (bk_webhook_notion.verify(&in, "secret_token", NULL) == BK_OK)
        abort(); /* a forged signature was accepted */
    if (bk_webhook_notion.handshake(&in) && sig[0])
        abort(); /* a signed body is never the handshake */
    if (bk_webhooks_parse(body, size, &doc, NULL) == BK_OK) {
        if (bk_webhook_notion.identify(doc, &a, &id, NULL) == BK_OK &&
            id.known &&
            bk_webhook_notion.normalize(doc, &a, &ev, NULL) == BK_OK) {
            const char *text = bk_webhooks_event_encode(&ev, &a);
            struct bk_ext_event back;
            if (!ev.booking.uid ||
                bk_webhooks_event_decode(text, &bk_webhook_notion, &a, &back,
                                         NULL) != BK_OK ||
                strcmp(back.booking.uid, ev.booking.uid) != 0 ||
                back.kind != ev.kind)
                abort(); /* what was stored must read back */
        }
    }
    json_decref(doc);
    bk_arena_release(&a);
    free(body);
    return 0;
}
