/* webhooks/notion.c — Notion webhooks (PROVIDERS.md §5.5).
 * Signature: X-Notion-Signature: sha256=<hex>, the hex HMAC-SHA256 of the
 * raw body keyed with the subscription's verification_token
 * (NOTION_WEBHOOK_VERIFICATION_TOKEN). There is no timestamp: a replay is
 * caught by the delivery's id (the inbox keys deliveries by it).
 * The handshake: when a subscription is made, Notion POSTs
 * {"verification_token": "secret_..."} unsigned; it is logged (the
 * operator pastes it into the integration's Webhooks tab to verify the
 * subscription, and sets NOTION_WEBHOOK_VERIFICATION_TOKEN to it),
 * answered 200 and not stored.
 * Events are thin ({id, type, entity: {id, type}, ...}): a page event
 * (page.created, page.properties_updated, page.content_updated,
 * page.moved, page.deleted, page.undeleted) becomes REMOTE_CHANGED of the
 * page, which asks for a Notion pull soon (connectors/notion.c reads the
 * page itself). Other types are stored as ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "webhooks/webhooks.h"
#include "base/log.h"
#include "base/str.h"
#include "crypto/crypto.h"
#include "base/banned.h"

#define MAX_EVENT      64
#define MAX_SIG_HEADER 80
#define MAX_ID         64
#define MAX_HANDSHAKE  1024
#define MAX_TOKEN      200

static enum bk_err verify(const struct bk_webhook_input *in, const char *secret,
                          struct bk_errbuf *err)
{
    const char *sig = in->header(in->header_ctx, "X-Notion-Signature");
    unsigned char want[BK_SHA256_LEN], got[BK_SHA256_LEN];
    struct bk_iov part = {in->body, in->body_len};

    if (!sig || !*sig)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "missing X-Notion-Signature header");
    if (strlen(sig) > MAX_SIG_HEADER || strncmp(sig, "sha256=", 7) != 0 ||
        strlen(sig + 7) != 2 * BK_SHA256_LEN)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "X-Notion-Signature is not sha256=<hex HMAC-SHA256>");
    bk_hmac_sha256(secret, strlen(secret), &part, 1, want);
    if (!bk_hex_decode(sig + 7, got, sizeof(got)) ||
        !bk_ct_equal(want, got, sizeof(want)))
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "X-Notion-Signature does not match the body");
    return BK_OK;
}

/* A string of at most max bytes, or NULL. */
static const char *str(const json_t *obj, const char *key, size_t max)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_string(v) || json_string_length(v) > max)
        return NULL;
    return json_string_value(v);
}

/* Ids and event names: printable ASCII without spaces. */
static bool token_ok(const char *s, size_t max)
{
    if (!s || !*s || strlen(s) > max)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ||
            *s == '"' || *s == '\\')
            return false;
    return true;
}

static bool page_event(const char *t)
{
    static const char *const known[] = {
        "page.created",         "page.properties_updated",
        "page.content_updated", "page.moved",
        "page.deleted",         "page.undeleted"};

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(t, known[i]) == 0)
            return true;
    return false;
}

static enum bk_err identify(const json_t *root, struct bk_arena *arena,
                            struct bk_webhook_id *out, struct bk_errbuf *err)
{
    const char *type = str(root, "type", MAX_EVENT);
    const char *id = str(root, "id", MAX_ID);
    const char *entity = str(json_object_get(root, "entity"), "id", MAX_ID);

    memset(out, 0, sizeof(*out));
    if (!token_ok(type, MAX_EVENT))
        return bk_fail_field(err, BK_E_INVALID, "type",
                             "is required: a Notion event type such as "
                             "page.properties_updated");
    out->type = bk_arena_strdup(arena, type);
    out->known = page_event(type);
    if (token_ok(id, MAX_ID))
        out->delivery_key = bk_arena_strdup(arena, id);
    if (token_ok(entity, MAX_ID))
        out->subject = bk_arena_strdup(arena, entity);
    return BK_OK;
}

static enum bk_err normalize(const json_t *root, struct bk_arena *arena,
                             struct bk_ext_event *ev, struct bk_errbuf *err)
{
    const json_t *entity = json_object_get(root, "entity");
    const char *id = str(entity, "id", MAX_ID);
    const char *type = str(entity, "type", 32);

    if (!token_ok(id, MAX_ID))
        return bk_fail_field(err, BK_E_INVALID, "entity.id",
                             "is required: the page's id");
    if (type && strcmp(type, "page") != 0)
        return bk_fail_field(err, BK_E_INVALID, "entity.type",
                             "a page event must be about a page");
    bk_webhooks_event_init(ev, &bk_webhook_notion, BK_EXT_REMOTE_CHANGED);
    ev->booking.uid = bk_arena_strdup(arena, id);
    return BK_OK;
}

/* The unsigned {"verification_token": "..."} of a new subscription. */
static bool handshake(const struct bk_webhook_input *in)
{
    json_t *doc;
    const char *tok;
    bool yes = false;
    const char *sig = in->header(in->header_ctx, "X-Notion-Signature");

    if ((sig && *sig) || in->body_len == 0 || in->body_len > MAX_HANDSHAKE)
        return false;
    doc = json_loadb(in->body, in->body_len, JSON_REJECT_DUPLICATES, NULL);
    tok = str(doc, "verification_token", MAX_TOKEN);
    if (json_is_object(doc) && json_object_size(doc) == 1 &&
        token_ok(tok, MAX_TOKEN)) {
        yes = true;
        bk_log_warn("webhooks: notion: a subscription's verification_token "
                    "arrived from %s: %s (paste it into the integration's "
                    "Webhooks tab to verify the subscription, and set "
                    "NOTION_WEBHOOK_VERIFICATION_TOKEN to it)",
                    in->remote_addr ? in->remote_addr : "?", tok);
    }
    json_decref(doc);
    return yes;
}

const struct bk_webhook_provider bk_webhook_notion = {
    .name = "notion",
    .display_name = "Notion",
    .secret_env = "NOTION_WEBHOOK_VERIFICATION_TOKEN",
    .source = BK_SOURCE_NOTION,
    .ack_failed = false,
    .verify = verify,
    .identify = identify,
    .normalize = normalize,
    .handshake = handshake,
};
