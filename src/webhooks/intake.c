/* webhooks/intake.c — one delivery from the wire to the inbox: the
 * provider's secret, its signature over the raw bytes, the content type,
 * one parse of the body, identify and normalize on that parsed document,
 * and the delivery stored durably with its normalized event before anyone
 * answers 2xx (DESIGN.md principle 2). A bad or missing signature stores
 * nothing; a delivery that verifies but cannot be applied (malformed JSON,
 * a missing field) is stored as failed, for an admin to inspect. The HTTP
 * side (reading the request, the answer's status and body) is
 * api/webhooks.c's. */
#include <string.h>
#include <strings.h>

#include "webhooks/webhooks.h"
#include "base/log.h"
#include "base/banned.h"

static bool json_content(const struct bk_webhook_input *in)
{
    const char *ct = in->header(in->header_ctx, "Content-Type");
    size_t n = strlen("application/json");

    return ct && strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Identifies and normalizes the body into item, parsing it once. A problem
 * is returned (and described in why) for the delivery to be stored as
 * failed. */
static enum bk_err examine(const struct bk_webhook_provider *p, json_t *doc,
                           enum bk_err parsed, struct bk_arena *arena,
                           struct bk_webhook_id *id, struct bk_inbox_item *item,
                           struct bk_errbuf *why)
{
    struct bk_ext_event ev;
    enum bk_err e = parsed;

    memset(id, 0, sizeof(*id));
    if (!e)
        e = p->identify(doc, arena, id, why);
    if (e) {
        /* Unidentifiable: keyed by the body's hash so a resend is a
         * replay. */
        memset(id, 0, sizeof(*id));
        goto out;
    }
    if (!id->known) {
        item->status = BK_DELIVERY_IGNORED;
        goto out;
    }
    e = p->normalize(doc, arena, &ev, why);
    if (!e)
        item->normalized = bk_webhooks_event_encode(&ev, arena);
out:
    return e;
}

/* A delivery between its submission to the inbox and the inbox's answer;
 * in the request's arena. */
struct intake {
    struct bk_inbox_item item;
    struct bk_webhook_intake out;
    struct bk_arena *arena;
    bk_webhooks_done_fn done;
    void *ctx;
};

/* The inbox's answer (on its committer thread): the outcome as the
 * caller sees it. */
static void stored(void *ctx, enum bk_err e, const struct bk_inbox_result *res,
                   const struct bk_errbuf *ierr)
{
    struct intake *in = ctx;
    struct bk_errbuf err;

    bk_errbuf_clear(&err);
    if (e) {
        /* Nothing was stored: the provider should send it again. */
        bk_log_error("webhooks: a %s delivery could not be stored: %s",
                     in->item.provider, ierr ? ierr->msg : "");
        bk_fail(&err, BK_E_UNAVAILABLE,
                "the delivery could not be stored; send it again shortly");
        in->done(in->ctx, BK_E_UNAVAILABLE, NULL, &err);
        return;
    }
    in->out.delivery = bk_arena_strdup(in->arena, res->public_id);
    in->out.duplicate = res->existed;
    in->out.status = in->item.status;
    in->done(in->ctx, BK_OK, &in->out, &err);
}

enum bk_err bk_webhooks_intake(const struct bk_webhook_registry *reg,
                               struct bk_inbox *inbox, const char *name,
                               const struct bk_webhook_input *in,
                               struct bk_arena *arena, bk_webhooks_done_fn done,
                               void *ctx, struct bk_errbuf *err)
{
    const struct bk_webhook_provider *p;
    const char *secret = NULL;
    struct bk_webhook_id id;
    struct intake *it;
    struct bk_inbox_item *item;
    struct bk_webhook_intake *out;
    json_t *doc = NULL;
    enum bk_err e, parsed;

    p = bk_webhooks_find(reg, name, &secret);
    if (!p)
        return bk_fail(err, BK_E_NOT_FOUND, "no webhook provider '%s'", name);
    if (p->handshake && p->handshake(in)) {
        struct bk_webhook_intake *hs = bk_arena_alloc(arena, sizeof(*hs));
        memset(hs, 0, sizeof(*hs));
        bk_errbuf_clear(&hs->why);
        hs->provider = p;
        hs->challenge = json_pack("{s:b}", "received", 1);
        done(ctx, BK_OK, hs, &hs->why);
        return BK_OK;
    }
    if (!secret || !inbox) {
        bk_log_warn("webhooks: refused a %s delivery: %s is not set, and "
                    "unsigned deliveries are never accepted",
                    p->name, p->secret_env);
        bk_fail(err, BK_E_UNAVAILABLE,
                "webhooks from %s are not configured on this server (%s is "
                "not set)",
                p->name, p->secret_env);
        bk_errbuf_code(err, "not_configured");
        return BK_E_UNAVAILABLE;
    }
    e = p->verify(in, secret, err);
    if (e) {
        bk_log_warn("webhooks: %s delivery refused from %s: %s", p->name,
                    in->remote_addr ? in->remote_addr : "?",
                    err ? err->msg : "");
        return BK_E_UNAUTHORIZED;
    }
    if (!json_content(in))
        return bk_fail(err, BK_E_UNSUPPORTED_MEDIA,
                       "expected Content-Type: application/json");

    it = bk_arena_alloc(arena, sizeof(*it));
    memset(it, 0, sizeof(*it));
    it->arena = arena;
    it->done = done;
    it->ctx = ctx;
    item = &it->item;
    out = &it->out;
    bk_errbuf_clear(&out->why);
    out->provider = p;
    item->provider = p->name;
    item->payload = in->body;
    item->payload_len = in->body_len;
    item->status = BK_DELIVERY_RECEIVED;
    /* The body is parsed once, for a challenge and the event alike. A
     * verified challenge (Zoom's endpoint.url_validation) is answered at
     * once and not stored. */
    parsed = bk_webhooks_parse(in->body, in->body_len, &doc, &out->why);
    if (!parsed && p->challenge &&
        (out->challenge = p->challenge(doc, secret)) != NULL) {
        json_decref(doc);
        bk_errbuf_clear(&out->why);
        done(ctx, BK_OK, out, &out->why);
        return BK_OK;
    }
    out->problem = examine(p, doc, parsed, arena, &id, item, &out->why);
    json_decref(doc);
    if (out->problem) {
        item->status = BK_DELIVERY_FAILED;
        item->normalized = NULL;
        item->error =
            out->why.field[0]
                ? bk_arena_printf(arena, "%s: %s", out->why.field, out->why.msg)
                : out->why.msg;
    }
    item->type = id.type;
    item->subject = out->problem ? NULL : id.subject;
    item->delivery_key = id.delivery_key;
    if (!item->delivery_key)
        item->delivery_key =
            bk_webhooks_body_key(in->body, in->body_len, arena);
    out->type = id.type;

    e = bk_inbox_submit(inbox, item, arena, stored, it, err);
    if (e) {
        bk_log_error("webhooks: a %s delivery could not be queued: %s", p->name,
                     err ? err->msg : "");
        return bk_fail(err, BK_E_UNAVAILABLE,
                       "the delivery could not be stored; send it again "
                       "shortly");
    }
    return BK_OK;
}
