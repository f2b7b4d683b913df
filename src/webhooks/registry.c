/* webhooks/registry.c — the table of inbound providers. Adding a provider:
 * one new file and one line below. */
#include <stdlib.h>
#include <string.h>

#include "webhooks/webhooks.h"
#include "base/str.h"
#include "crypto/crypto.h"
#include "base/banned.h"

static const struct bk_webhook_provider *const providers[] = {
    &bk_webhook_calcom,
};

void bk_webhooks_init(struct bk_webhook_registry *reg)
{
    memset(reg, 0, sizeof(*reg));
    for (size_t i = 0;
         i < sizeof(providers) / sizeof(providers[0]) && i < BK_WEBHOOKS_MAX;
         i++) {
        const char *s = getenv(providers[i]->secret_env);
        reg->entries[i].provider = providers[i];
        reg->entries[i].secret = s && *s ? s : NULL;
        reg->n++;
    }
}

const struct bk_webhook_provider *
bk_webhooks_find(const struct bk_webhook_registry *reg, const char *name,
                 const char **secret)
{
    for (size_t i = 0; reg && i < reg->n; i++) {
        if (strcmp(reg->entries[i].provider->name, name) == 0) {
            if (secret)
                *secret = reg->entries[i].secret;
            return reg->entries[i].provider;
        }
    }
    return NULL;
}

const char *bk_webhooks_body_key(const char *body, size_t len,
                                 struct bk_arena *arena)
{
    unsigned char h[BK_SHA256_LEN];
    char hex[2 * BK_SHA256_LEN + 1];

    bk_sha256(body, len, h);
    bk_hex_encode(h, sizeof(h), hex);
    return bk_arena_printf(arena, "sha256:%s", hex);
}
