/* api/webhooks.c — POST /webhooks/{provider}: the HTTP glue around the
 * intake (webhooks/intake.c), which verifies, parses once, normalizes and
 * stores the delivery durably before this answers 2xx. Here: the request's
 * body and headers in, the status and JSON answer out, sent once the
 * inbox has committed (a deferred answer). */
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "base/time.h"
#include "webhooks/webhooks.h"
#include "base/banned.h"

static const char *header_of(void *ctx, const char *name)
{
    return bk_http_header(ctx, name);
}

/* Where the intake's answer goes: the deferred request. */
struct answer {
    struct bk_http_request *req;
    struct bk_http_response *resp;
};

/* The intake's answer, on the inbox's committer thread (or at once for a
 * delivery refused before it was queued): the response, then the request
 * is resumed and sent by the server. */
static void answered(void *ctx, enum bk_err e,
                     const struct bk_webhook_intake *out,
                     const struct bk_errbuf *err)
{
    struct answer *a = ctx;

    if (e) {
        bk_api_error(a->req, a->resp, e, err);
    } else if (out->challenge) {
        /* A verified handshake (Zoom's endpoint.url_validation): the
         * provider's answer, exactly; nothing was stored. */
        bk_api_json(a->req, a->resp, 200, out->challenge);
    } else if (out->problem && out->provider->ack_failed) {
        /* Stored as failed, for an admin; the provider is told it arrived
         * (webhooks.h, ack_failed), with why it cannot be applied. */
        json_t *why = json_pack(
            "{s:s, s:s}", "code",
            out->problem == BK_E_MALFORMED ? "invalid_json" : "invalid_field",
            "message", out->why.msg);
        json_t *body = json_pack("{s:s, s:s}", "status",
                                 out->duplicate ? "duplicate" : "failed",
                                 "delivery", out->delivery);
        if (out->why.field[0])
            json_object_set_new(why, "field", json_string(out->why.field));
        if (out->type)
            json_object_set_new(body, "type", json_string(out->type));
        json_object_set_new(body, "error", why);
        bk_api_json(a->req, a->resp, 200, body);
    } else if (out->problem) {
        struct bk_errbuf why = out->why;
        if (out->problem == BK_E_MALFORMED)
            bk_errbuf_code(&why, "invalid_json");
        bk_api_error_details(a->req, a->resp, out->problem, &why,
                             json_pack("{s:s}", "delivery", out->delivery));
    } else {
        bk_api_json(a->req, a->resp, 200,
                    json_pack("{s:s, s:s, s:s?}", "status",
                              out->duplicate                       ? "duplicate"
                              : out->status == BK_DELIVERY_IGNORED ? "ignored"
                                                                   : "received",
                              "delivery", out->delivery, "type", out->type));
    }
    bk_http_resume(a->req);
}

/* A NONE route: the intake owns its transactions (and its group commit).
 * The request is deferred while the inbox commits: the connection waits
 * suspended and holds no thread of the server (http.h). */
static enum bk_err receive(struct bk_api_call *c)
{
    struct bk_webhook_input in;
    struct answer *a;
    enum bk_err e;

    /* Google's push notifications are not deliveries: headers only,
     * verified by channel, nothing stored (gwatch.c). */
    if (strcmp(bk_http_param(c->req, "provider"), "google") == 0)
        return bk_api_google_notify(c);
    memset(&in, 0, sizeof(in));
    in.body = c->req->body;
    in.body_len = c->req->body_len;
    in.header = header_of;
    in.header_ctx = c->req;
    in.now_utc = bk_now_utc();
    in.remote_addr = c->req->remote_addr;
    a = bk_arena_alloc(c->arena, sizeof(*a));
    a->req = c->req;
    a->resp = c->resp;
    /* Before the intake: its answer may come before it returns. */
    bk_http_defer(c->req);
    e = bk_webhooks_intake(c->api->webhooks, c->api->inbox,
                           bk_http_param(c->req, "provider"), &in, c->arena,
                           answered, a, c->err);
    if (e)
        answered(a, e, NULL, c->err); /* refused before it was queued */
    /* From here on req, resp and the arena are the answer's: nothing else
     * may touch them. */
    return BK_OK;
}

const struct bk_api_route bk_api_webhook_routes[] = {
    {"POST", "/webhooks/{provider}", receive, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
};
const size_t bk_api_webhook_n =
    sizeof(bk_api_webhook_routes) / sizeof(bk_api_webhook_routes[0]);
