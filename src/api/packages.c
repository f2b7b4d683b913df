/* api/packages.c — /api/v1/packages: packages of sessions (issue 9 §3,
 * docs/payments.md "Packages of sessions"). An admin creates one; anyone
 * lists the active ones and buys one (POST .../{slug}/checkout, a Stripe
 * Checkout Session made by the stripe.package job); an admin reads a
 * client's credits (GET /api/v1/clients/{id}/credits). */
#include <string.h>
#include <time.h>

#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/str.h"
#include "base/time.h"
#include "jobs/jobs.h"
#include "ledger/packages.h"
#include "base/banned.h"

static json_t *render_package(const struct bk_package *p, bool admin)
{
    json_t *ets = json_array(), *o;

    for (int i = 0; i < p->n_event_types; i++)
        json_array_append_new(ets, json_string(p->event_type_slugs[i]));
    o = json_pack("{s:s, s:s, s:o, s:i, s:{s:I, s:s}, s:i, s:b}", "slug",
                  p->slug, "name", p->name, "event_types", ets, "sessions",
                  p->sessions, "price", "amount", (json_int_t)p->price_minor,
                  "currency", p->currency, "valid_days", p->valid_days,
                  "active", p->active);
    if (o && admin) {
        json_object_set_new(o, "created_at",
                            bk_render_instant(p->created_utc, NULL));
        json_object_set_new(o, "updated_at",
                            bk_render_instant(p->updated_utc, NULL));
    }
    return o;
}

static enum bk_err decode_price(const json_t *body, struct bk_arena *arena,
                                struct bk_package *p, struct bk_errbuf *err)
{
    static const char *const keys[] = {"amount", "currency", NULL};
    const json_t *v = json_object_get(body, "price");
    const char *cur = NULL;
    int64_t amount = 0;
    enum bk_err e;

    if (!json_is_object(v))
        return bk_fail_field(err, BK_E_INVALID, "price",
                             "is required: {\"amount\", \"currency\"}");
    if ((e = bk_json_only(v, "price", keys, arena, err)) ||
        (e = bk_json_int(v, "price", "amount", true, 0, 100000000000LL, arena,
                         &amount, NULL, err)) ||
        (e = bk_json_str(v, "price", "currency", true, 3, false, arena, &cur,
                         err)))
        return e;
    if (strlen(cur) != 3 || cur[0] < 'A' || cur[0] > 'Z' || cur[1] < 'A' ||
        cur[1] > 'Z' || cur[2] < 'A' || cur[2] > 'Z')
        return bk_fail_field(err, BK_E_INVALID, "price.currency",
                             "must be an ISO 4217 code in upper case (EUR)");
    p->price_minor = amount;
    memcpy(p->currency, cur, 4);
    return BK_OK;
}

static enum bk_err decode_event_types(struct bk_api_call *c, const json_t *body,
                                      struct bk_package *p)
{
    const json_t *v = json_object_get(body, "event_types");
    size_t n = json_array_size(v);
    struct bk_event_type et;

    if (!json_is_array(v) || n == 0 || n > BK_MAX_PACKAGE_EVENT_TYPES)
        return bk_fail_field(c->err, BK_E_INVALID, "event_types",
                             "must be an array of 1 to %d event type slugs",
                             BK_MAX_PACKAGE_EVENT_TYPES);
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(v, i);
        const char *slug = json_string_value(s);
        enum bk_err e;

        if (!json_is_string(s) || !bk_slug_valid(slug, BK_MAX_SLUG))
            return bk_fail_field(c->err, BK_E_INVALID, "event_types",
                                 "entry %zu is not an event type slug", i);
        e = bk_store_event_type_by_slug(c->tx, slug, c->arena, &et, c->err);
        if (e == BK_E_NOT_FOUND)
            return bk_fail_field(c->err, BK_E_INVALID, "event_types",
                                 "no event type '%s'", slug);
        if (e)
            return e;
        for (int j = 0; j < p->n_event_types; j++)
            if (p->event_type_ids[j] == et.id)
                return bk_fail_field(c->err, BK_E_INVALID, "event_types",
                                     "'%s' is listed twice", slug);
        p->event_type_ids[p->n_event_types++] = et.id;
    }
    return BK_OK;
}

static enum bk_err create(struct bk_api_call *c)
{
    static const char *const keys[] = {"slug",     "name",  "event_types",
                                       "sessions", "price", "valid_days",
                                       "active",   NULL};
    struct bk_package p, *rows = NULL;
    int64_t sessions = 0, valid_days = 180, id = 0;
    bool has_valid = false;
    size_t n = 0;
    json_t *body;
    enum bk_err e;

    memset(&p, 0, sizeof(p));
    p.active = true;
    if ((e = bk_api_call_body(c, false, &body)) ||
        (e = bk_json_only(body, "", keys, c->arena, c->err)) ||
        (e = bk_json_str(body, "", "slug", true, BK_MAX_SLUG, false, c->arena,
                         &p.slug, c->err)))
        return e;
    if (!bk_slug_valid(p.slug, BK_MAX_SLUG))
        return bk_fail_field(c->err, BK_E_INVALID, "slug",
                             "must be 1-64 characters a-z, 0-9 and '-'");
    if ((e = bk_json_str(body, "", "name", true, BK_MAX_TITLE, false, c->arena,
                         &p.name, c->err)))
        return e;
    if (!*p.name)
        return bk_fail_field(c->err, BK_E_INVALID, "name", "must not be empty");
    if ((e = bk_json_int(body, "", "sessions", true, 1, 1000, c->arena,
                         &sessions, NULL, c->err)) ||
        (e = bk_json_int(body, "", "valid_days", false, 1, 3660, c->arena,
                         &valid_days, &has_valid, c->err)) ||
        (e = bk_json_bool(body, "", "active", false, c->arena, &p.active, NULL,
                          c->err)) ||
        (e = decode_price(body, c->arena, &p, c->err)) ||
        (e = decode_event_types(c, body, &p)))
        return e;
    if (!has_valid)
        valid_days = 180;
    p.sessions = (int)sessions;
    p.valid_days = (int)valid_days;
    p.created_utc = p.updated_utc = bk_now_utc();
    if ((e = bk_store_package_insert(c->tx, &p, &id, c->err)) ||
        (e = bk_store_package_list(c->tx, false, p.slug, 0, 1, c->arena, &rows,
                                   &n, c->err)))
        return e;
    if (n != 1)
        return bk_fail(c->err, BK_E_INTERNAL, "the package just made is gone");
    bk_api_reply(c, 201, render_package(&rows[0], true));
    return BK_OK;
}

static enum bk_err list(struct bk_api_call *c)
{
    struct bk_package *rows = NULL;
    const char *next = NULL;
    int64_t after = 0, unused;
    bool has_cursor;
    int limit;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    if (c->bad_key)
        return BK_E_UNAUTHORIZED;
    /* Anyone sees the active ones; an admin sees every one. Oldest
     * first. */
    if ((e = bk_api_limit(c->req, &limit, c->err)) ||
        (e = bk_api_cursor(c->req, 'k', &after, &unused, &has_cursor,
                           c->err)) ||
        (e = bk_store_package_list(c->tx, !c->admin, NULL, after, limit + 1,
                                   c->arena, &rows, &n, c->err)))
        return e;
    if (n > (size_t)limit) {
        n = (size_t)limit;
        next = bk_api_cursor_encode(c->arena, 'k', rows[n - 1].id, 0);
    }
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, render_package(&rows[i], c->admin));
    bk_api_reply_list(c, data, next);
    return BK_OK;
}

static const char *purchase_status_name(enum bk_purchase_status s)
{
    switch (s) {
    case BK_PURCHASE_AWAITING:
        return "awaiting_payment";
    case BK_PURCHASE_PAID:
        return "paid";
    case BK_PURCHASE_EXPIRED:
        return "expired";
    case BK_PURCHASE_REFUNDED:
        return "refunded";
    }
    return "?";
}

static json_t *render_purchase(const struct bk_package_purchase *p)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:i, s:{s:I, s:s}, s:s?, s:s?}", "purchase", p->uid,
        "package", p->package_slug, "status", purchase_status_name(p->status),
        "sessions", p->sessions, "price", "amount", (json_int_t)p->amount_minor,
        "currency", p->currency, "checkout_url",
        p->status == BK_PURCHASE_AWAITING ? p->checkout_url : NULL, "error",
        p->last_error);
    return o;
}

/* The answer of a deferred checkout (bk_api_answer_after_job): the
 * purchase read again, with its Checkout URL once the stripe.package job
 * has run. */
static enum bk_err render_later(struct bk_api_call *c, const char *uid,
                                void *arg, json_t **out)
{
    struct bk_package_purchase p;
    enum bk_err e;

    (void)arg;
    if ((e = bk_store_purchase_get(c->tx, uid, 0, c->arena, &p, c->err)))
        return e;
    *out = render_purchase(&p);
    return BK_OK;
}

/* POST /api/v1/packages/{slug}/checkout: anyone buys a package. Nothing
 * is stored when the input is refused. */
static enum bk_err checkout(struct bk_api_call *c)
{
    static const char *const keys[] = {"attendee", NULL};
    static const char *const akeys[] = {"name", "email", NULL};
    struct bk_package_purchase p;
    const char *slug = bk_http_param(c->req, "slug"), *name = NULL,
               *email = NULL;
    json_t *body, *att;
    int64_t job = 0;
    enum bk_err e;

    if (c->bad_key)
        return BK_E_UNAUTHORIZED;
    if (!bk_slug_valid(slug, BK_MAX_SLUG))
        return bk_fail(c->err, BK_E_NOT_FOUND, "no package for sale here");
    if ((e = bk_api_call_body(c, false, &body)) ||
        (e = bk_json_only(body, "", keys, c->arena, c->err)) ||
        (e = bk_json_object(body, "", "attendee", true, c->arena, &att,
                            c->err)) ||
        (e = bk_json_only(att, "attendee", akeys, c->arena, c->err)) ||
        (e = bk_json_str(att, "attendee", "name", true, BK_MAX_NAME, false,
                         c->arena, &name, c->err)) ||
        (e = bk_json_str(att, "attendee", "email", true, BK_MAX_EMAIL, false,
                         c->arena, &email, c->err)))
        return e;
    if (!*name)
        return bk_fail_field(c->err, BK_E_INVALID, "attendee.name",
                             "must not be empty");
    if (!bk_email_valid(email))
        return bk_fail_field(c->err, BK_E_INVALID, "attendee.email",
                             "must be an email address");
    if (c->api->hold_min <= 0) {
        bk_errbuf_code(c->err, "payments_not_configured");
        return bk_fail(c->err, BK_E_UNAVAILABLE,
                       "payments are not configured (STRIPE_SECRET_KEY)");
    }
    if ((e = bk_ledger_package_checkout(c->api->store, slug, name, email,
                                        c->api->job_max_attempts, bk_now_utc(),
                                        c->arena, &p, &job, c->err)))
        return e;
    if (job) { /* answered when the job has run once, or at the bound */
        bk_api_answer_after_job(c, job, 201, p.uid, render_later, NULL);
        return BK_OK;
    }
    if ((e = bk_api_call_read(c)) ||
        (e = bk_store_purchase_get(c->tx, p.uid, 0, c->arena, &p, c->err)))
        return e;
    bk_api_reply(c, 201, render_purchase(&p));
    return BK_OK;
}

/* GET /api/v1/clients/{id}/credits (admin): the client's paid purchases
 * with their credits counted. */
static enum bk_err credits(struct bk_api_call *c)
{
    const char *id = bk_http_param(c->req, "id");
    struct bk_credit_summary *rows = NULL;
    struct bk_client cl;
    int64_t now = bk_now_utc();
    int remaining = 0, used = 0, expired = 0;
    size_t n = 0;
    json_t *data;
    enum bk_err e =
        bk_store_client_by_public_id(c->tx, id, c->arena, &cl, c->err);

    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no client '%s'", id);
    if (e || (e = bk_store_credit_summary(c->tx, cl.id, now, c->arena, &rows,
                                          &n, c->err)))
        return e;
    data = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct bk_package_purchase *p = &rows[i].purchase;
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:o, s:o, s:s?}",
            "package", p->package_slug, "name", p->package_name, "purchase",
            p->uid, "status", purchase_status_name(p->status), "sessions",
            p->sessions, "remaining", rows[i].remaining, "used", rows[i].used,
            "expired", rows[i].expired, "purchased_at",
            bk_render_instant(p->paid_utc, NULL), "expires_at",
            bk_render_instant(p->credits_expire_utc, NULL), "invoice",
            p->invoice_number);
        json_array_append_new(data, o);
        remaining += rows[i].remaining;
        used += rows[i].used;
        expired += rows[i].expired;
    }
    bk_api_reply(c, 200,
                 json_pack("{s:s, s:o, s:{s:i, s:i, s:i}}", "client", id,
                           "data", data, "total", "remaining", remaining,
                           "used", used, "expired", expired));
    return BK_OK;
}

const struct bk_api_route bk_api_package_routes[] = {
    {"POST", "/api/v1/packages", create, BK_ROUTE_ADMIN, BK_ROUTE_WRITE},
    {"GET", "/api/v1/packages", list, BK_ROUTE_PUBLIC, BK_ROUTE_READ},
    {"POST", "/api/v1/packages/{slug}/checkout", checkout, BK_ROUTE_PUBLIC,
     BK_ROUTE_NONE},
    {"GET", "/api/v1/clients/{id}/credits", credits, BK_ROUTE_ADMIN,
     BK_ROUTE_READ},
};
const size_t bk_api_package_n =
    sizeof(bk_api_package_routes) / sizeof(bk_api_package_routes[0]);
