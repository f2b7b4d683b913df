/* tests/fuzz/fuzz_stripe.c — the Stripe verifier, identifier and
 * normalizer on arbitrary bodies and Stripe-Signature headers, parsed once
 * as the intake does; the stored form of what it normalized read back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhooks/webhooks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *header(void *ctx, const char *name)
{
    (void)name;
    return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bk_arena a;
    struct bk_webhook_id id;
    struct bk_ext_event ev;
    struct bk_webhook_input in;
    const uint8_t *nl = memchr(data, '\n', size);
    char *sig, *body;
    size_t slen = nl ? (size_t)(nl - data) : 0, blen;
    json_t *doc = NULL;

    /* The first line (if any) is the signature header, the rest the body. */
    sig = malloc(slen + 1);
    memcpy(sig, data, slen);
    sig[slen] = '\0';
    blen = nl ? size - slen - 1 : size;
    body = malloc(blen + 1);
    memcpy(body, nl ? nl + 1 : data, blen);
    body[blen] = '\0';
    bk_arena_init(&a);
    memset(&in, 0, sizeof(in));
    in.body = body;
    in.body_len = blen;
    in.header = header;
    in.header_ctx = sig;
    in.now_utc = 1800000000;
    (void)bk_webhook_stripe.verify(&in, "whsec_fuzz", NULL);
    if (bk_webhooks_parse(body, blen, &doc, NULL) == BK_OK &&
        bk_webhook_stripe.identify(doc, &a, &id, NULL) == BK_OK && id.known &&
        bk_webhook_stripe.normalize(doc, &a, &ev, NULL) == BK_OK) {
        const char *text = bk_webhooks_event_encode(&ev, &a);
        struct bk_ext_event back;
        if (bk_webhooks_event_decode(text, &bk_webhook_stripe, &a, &back,
                                     NULL) != BK_OK ||
            !back.payment.booking_uid)
            abort(); /* what was stored must read back */
    }
    json_decref(doc);
    bk_arena_release(&a);
    free(body);
    free(sig);
    return 0;
}
