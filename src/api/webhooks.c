/* api/webhooks.c — POST /webhooks/{provider}: the HTTP glue around the
 * intake (webhooks/intake.c), which verifies, parses once, normalizes and
 * stores the delivery durably before this answers 2xx. Here: the request's
 * body and headers in, the status and JSON answer out. */
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

/* A NONE route: the intake owns its transactions (and its group commit). */
static enum bk_err receive(struct bk_api_call *c)
{
    struct bk_webhook_input in;
    struct bk_webhook_intake out;
    enum bk_err e;

    memset(&in, 0, sizeof(in));
    in.body = c->req->body;
    in.body_len = c->req->body_len;
    in.header = header_of;
    in.header_ctx = c->req;
    in.now_utc = bk_now_utc();
    in.remote_addr = c->req->remote_addr;
    if ((e = bk_webhooks_intake(c->api->webhooks, c->api->inbox,
                                bk_http_param(c->req, "provider"), &in,
                                c->arena, &out, c->err)))
        return e;
    if (out.challenge) {
        /* A verified handshake (Zoom's endpoint.url_validation): the
         * provider's answer, exactly; nothing was stored. */
        bk_api_reply(c, 200, out.challenge);
        return BK_OK;
    }
    if (out.problem && out.provider->ack_failed) {
        /* Stored as failed, for an admin; the provider is told it arrived
         * (webhooks.h, ack_failed), with why it cannot be applied. */
        json_t *why = json_pack("{s:s, s:s}", "code",
                                out.problem == BK_E_MALFORMED ? "invalid_json"
                                                              : "invalid_field",
                                "message", out.why.msg);
        json_t *body = json_pack("{s:s, s:s}", "status",
                                 out.duplicate ? "duplicate" : "failed",
                                 "delivery", out.delivery);
        if (out.why.field[0])
            json_object_set_new(why, "field", json_string(out.why.field));
        if (out.type)
            json_object_set_new(body, "type", json_string(out.type));
        json_object_set_new(body, "error", why);
        bk_api_reply(c, 200, body);
        return BK_OK;
    }
    if (out.problem) {
        if (out.problem == BK_E_MALFORMED)
            bk_errbuf_code(&out.why, "invalid_json");
        *c->err = out.why;
        bk_api_error_extra(c, json_pack("{s:s}", "delivery", out.delivery));
        return out.problem;
    }
    bk_api_reply(c, 200,
                 json_pack("{s:s, s:s, s:s?}", "status",
                           out.duplicate                       ? "duplicate"
                           : out.status == BK_DELIVERY_IGNORED ? "ignored"
                                                               : "received",
                           "delivery", out.delivery, "type", out.type));
    return BK_OK;
}

const struct bk_api_route bk_api_webhook_routes[] = {
    {"POST", "/webhooks/{provider}", receive, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
};
const size_t bk_api_webhook_n =
    sizeof(bk_api_webhook_routes) / sizeof(bk_api_webhook_routes[0]);
