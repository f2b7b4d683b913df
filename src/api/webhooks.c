/* api/webhooks.c — POST /webhooks/{provider}: verify the raw body, identify
 * and check the delivery, store it durably, and only then answer 2xx
 * (DESIGN.md principle 2). A bad or missing signature stores nothing. A
 * delivery that verifies but cannot be applied (malformed JSON, a missing
 * field) is stored as failed, for an admin to inspect, and answered 4xx. */
#include <string.h>
#include <strings.h>

#include "api/internal.h"
#include "api/json.h"
#include "base/log.h"
#include "base/time.h"
#include "jobs/inbox.h"
#include "webhooks/webhooks.h"
#include "base/banned.h"

static const char *header_of(void *ctx, const char *name)
{
    return bk_http_header(ctx, name);
}

static bool json_content(const struct bk_http_request *req)
{
    const char *ct = bk_http_header(req, "Content-Type");
    size_t n = strlen("application/json");
    return ct && strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void receive(void *ctx, struct bk_http_request *req,
                    struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    const char *name = bk_http_param(req, "provider"), *secret = NULL;
    const struct bk_webhook_provider *p;
    struct bk_webhook_input in;
    struct bk_webhook_id id;
    struct bk_ext_event ev;
    struct bk_inbox_item item;
    struct bk_inbox_result res;
    struct bk_errbuf err, why;
    enum bk_err e, problem = BK_OK;

    bk_errbuf_clear(&err);
    bk_errbuf_clear(&why);
    p = bk_webhooks_find(api->webhooks, name, &secret);
    if (!p) {
        bk_fail(&err, BK_E_NOT_FOUND, "no webhook provider '%s'", name);
        bk_api_error(req, resp, BK_E_NOT_FOUND, &err);
        return;
    }
    if (!secret || !api->inbox) {
        bk_log_warn("webhooks: refused a %s delivery: %s is not set, and "
                    "unsigned deliveries are never accepted",
                    p->name, p->secret_env);
        bk_fail(&err, BK_E_UNAVAILABLE,
                "webhooks from %s are not configured on this server (%s is "
                "not set)",
                p->name, p->secret_env);
        bk_errbuf_code(&err, "not_configured");
        bk_api_error(req, resp, BK_E_UNAVAILABLE, &err);
        return;
    }
    memset(&in, 0, sizeof(in));
    in.body = req->body;
    in.body_len = req->body_len;
    in.header = header_of;
    in.header_ctx = req;
    in.now_utc = bk_now_utc();
    e = p->verify(&in, secret, &err);
    if (e) {
        bk_log_warn("webhooks: %s delivery refused from %s: %s", p->name,
                    req->remote_addr, err.msg);
        bk_api_error(req, resp, BK_E_UNAUTHORIZED, &err);
        return;
    }
    if (!json_content(req)) {
        bk_api_error(req, resp, BK_E_UNSUPPORTED_MEDIA, NULL);
        return;
    }

    memset(&item, 0, sizeof(item));
    item.provider = p->name;
    item.payload = req->body;
    item.payload_len = req->body_len;
    item.status = BK_DELIVERY_RECEIVED;
    problem = p->identify(req->body, req->body_len, req->arena, &id, &why);
    if (problem) {
        /* Unidentifiable: keyed by the body's hash so a resend is a
         * replay. */
        memset(&id, 0, sizeof(id));
    } else if (id.known) {
        problem = p->normalize(req->body, req->body_len, req->arena, &ev, &why);
    } else {
        item.status = BK_DELIVERY_IGNORED;
    }
    if (problem) {
        item.status = BK_DELIVERY_FAILED;
        item.error = why.field[0] ? bk_arena_printf(req->arena, "%s: %s",
                                                    why.field, why.msg)
                                  : why.msg;
    }
    item.type = id.type;
    item.subject = problem ? NULL : id.subject;
    item.delivery_key = id.delivery_key;
    if (!item.delivery_key)
        item.delivery_key =
            bk_webhooks_body_key(req->body, req->body_len, req->arena);

    e = bk_inbox_store(api->inbox, &item, req->arena, &res, &err);
    if (e) {
        /* Nothing was stored: the provider should send it again. */
        bk_log_error("webhooks: a %s delivery could not be stored: %s", p->name,
                     err.msg);
        bk_fail(&err, BK_E_UNAVAILABLE,
                "the delivery could not be stored; send it again shortly");
        bk_api_error(req, resp, BK_E_UNAVAILABLE, &err);
        return;
    }
    if (problem) {
        if (problem == BK_E_MALFORMED)
            bk_errbuf_code(&why, "invalid_json");
        bk_api_error_details(req, resp, problem, &why,
                             json_pack("{s:s}", "delivery", res.public_id));
        return;
    }
    bk_api_json(req, resp, 200,
                json_pack("{s:s, s:s, s:s?}", "status",
                          res.existed                          ? "duplicate"
                          : item.status == BK_DELIVERY_IGNORED ? "ignored"
                                                               : "received",
                          "delivery", res.public_id, "type", id.type));
}

const struct bk_route bk_api_webhook_routes[] = {
    {"POST", "/webhooks/{provider}", receive, BK_ROUTE_PUBLIC},
};
const size_t bk_api_webhook_n =
    sizeof(bk_api_webhook_routes) / sizeof(bk_api_webhook_routes[0]);
