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

static void receive(void *ctx, struct bk_http_request *req,
                    struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_webhook_input in;
    struct bk_webhook_intake out;
    struct bk_errbuf err;
    enum bk_err e;

    bk_errbuf_clear(&err);
    memset(&in, 0, sizeof(in));
    in.body = req->body;
    in.body_len = req->body_len;
    in.header = header_of;
    in.header_ctx = req;
    in.now_utc = bk_now_utc();
    in.remote_addr = req->remote_addr;
    e = bk_webhooks_intake(api->webhooks, api->inbox,
                           bk_http_param(req, "provider"), &in, req->arena,
                           &out, &err);
    if (e) {
        bk_api_error(req, resp, e, &err);
        return;
    }
    if (out.problem) {
        if (out.problem == BK_E_MALFORMED)
            bk_errbuf_code(&out.why, "invalid_json");
        bk_api_error_details(req, resp, out.problem, &out.why,
                             json_pack("{s:s}", "delivery", out.delivery));
        return;
    }
    bk_api_json(req, resp, 200,
                json_pack("{s:s, s:s, s:s?}", "status",
                          out.duplicate                       ? "duplicate"
                          : out.status == BK_DELIVERY_IGNORED ? "ignored"
                                                              : "received",
                          "delivery", out.delivery, "type", out.type));
}

const struct bk_route bk_api_webhook_routes[] = {
    {"POST", "/webhooks/{provider}", receive, BK_ROUTE_PUBLIC},
};
const size_t bk_api_webhook_n =
    sizeof(bk_api_webhook_routes) / sizeof(bk_api_webhook_routes[0]);
