/* webhooks/registry.c — the table of inbound providers. Adding a provider:
 * one new file and one line below (and its name leaves `planned`). */
#include <stdlib.h>
#include <string.h>

#include "webhooks/webhooks.h"
#include "base/str.h"
#include "crypto/crypto.h"
#include "base/banned.h"

static const struct bk_webhook_provider *const providers[] = {
    &bk_webhook_calcom, &bk_webhook_calendly, &bk_webhook_stripe,
    &bk_webhook_zoom,   &bk_webhook_notion,
};

/* Providers the roadmap names, not built yet: an event type may record its
 * id there already (external_ids), so that mappings are in place when the
 * integration arrives. A typo is refused rather than stored unused. */
static const char *const planned[] = {
    "google",
    "caldav",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

void bk_webhooks_init(struct bk_webhook_registry *reg)
{
    memset(reg, 0, sizeof(*reg));
    for (size_t i = 0; i < COUNT(providers) && i < BK_WEBHOOKS_MAX; i++) {
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

bool bk_webhooks_provider_known(const char *name)
{
    if (!name)
        return false;
    for (size_t i = 0; i < COUNT(providers); i++)
        if (strcmp(providers[i]->name, name) == 0)
            return true;
    for (size_t i = 0; i < COUNT(planned); i++)
        if (strcmp(planned[i], name) == 0)
            return true;
    return false;
}

const char *bk_webhooks_provider_names(struct bk_arena *arena)
{
    const char *s = NULL;

    for (size_t i = 0; i < COUNT(providers); i++)
        s = s ? bk_arena_printf(arena, "%s, %s", s, providers[i]->name)
              : providers[i]->name;
    for (size_t i = 0; i < COUNT(planned); i++)
        s = s ? bk_arena_printf(arena, "%s, %s", s, planned[i]) : planned[i];
    return s ? s : "";
}

void bk_webhooks_event_init(struct bk_ext_event *ev,
                            const struct bk_webhook_provider *p,
                            enum bk_ext_kind kind)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->provider = p->name;
    ev->provider_display = p->display_name;
    ev->source = p->source;
}

enum bk_err bk_webhooks_parse(const char *body, size_t len, json_t **out,
                              struct bk_errbuf *err)
{
    json_error_t jerr;

    *out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*out)
        return bk_fail(err, BK_E_MALFORMED,
                       "malformed JSON at line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return bk_fail(err, BK_E_MALFORMED, "the body is not a JSON object");
    }
    return BK_OK;
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
