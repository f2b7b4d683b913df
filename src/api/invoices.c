/* api/invoices.c — GET /api/v1/invoices and /api/v1/invoices/{number}
 * (admin): the invoices of paid bookings (ledger/invoices.c,
 * docs/payments.md "Invoices"); their printable HTML, and their PDF
 * (drawn by pdf/invoice.c; the admin's, or the booking's manage token's). */
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/str.h"
#include "base/time.h"
#include "ledger/payments.h"
#include "mail/template.h"
#include "pdf/invoice.h"
#include "base/banned.h"

#define MAX_QUERY_TEXT 64

static json_t *render_invoice(const struct bk_invoice *v)
{
    json_t *o = json_object(), *lines = json_array();

    json_array_append_new(lines, json_pack("{s:s, s:i, s:I}", "description",
                                           v->line, "quantity", 1, "amount",
                                           (json_int_t)v->amount_minor));
    json_object_set_new(o, "number", json_string(v->number));
    json_object_set_new(o, "status",
                        json_string(bk_invoice_status_name(v->status)));
    json_object_set_new(o, "issuer",
                        json_pack("{s:s, s:o}", "name", v->issuer_name,
                                  "address",
                                  bk_json_str_or_null(v->issuer_address)));
    json_object_set_new(o, "client",
                        json_pack("{s:o, s:o, s:s}", "id",
                                  bk_json_str_or_null(v->client_public_id),
                                  "name", bk_json_str_or_null(v->client_name),
                                  "email", v->client_email));
    json_object_set_new(o, "booking", bk_json_str_or_null(v->booking_uid));
    json_object_set_new(o, "lines", lines);
    json_object_set_new(o, "amount", json_integer(v->amount_minor));
    json_object_set_new(o, "refunded", json_integer(v->refunded_minor));
    json_object_set_new(o, "currency", json_string(v->currency));
    json_object_set_new(
        o, "stripe",
        json_pack("{s:o, s:o}", "checkout_session",
                  bk_json_str_or_null(v->stripe_session), "payment_intent",
                  bk_json_str_or_null(v->stripe_payment_intent)));
    json_object_set_new(o, "issued_at", bk_render_instant(v->issued_utc, NULL));
    json_object_set_new(o, "paid_at",
                        v->paid_utc ? bk_render_instant(v->paid_utc, NULL)
                                    : json_null());
    return o;
}

static enum bk_err query_day(const struct bk_http_request *req,
                             const char *name, int64_t def, int64_t *out,
                             struct bk_errbuf *err)
{
    const char *s = bk_http_query(req, name);

    *out = def;
    if (s && bk_date_parse(s, out) != BK_OK)
        return bk_api_query_fail(err, name, "%s must be a date YYYY-MM-DD",
                                 name);
    return BK_OK;
}

static enum bk_err list(struct bk_api_call *c)
{
    struct bk_invoice_filter f;
    struct bk_invoice *rows = NULL;
    const char *next = NULL, *status_q = bk_http_query(c->req, "status");
    int64_t from_day, to_day, unused;
    bool has_cursor;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    memset(&f, 0, sizeof(f));
    f.status = -1;
    f.client_public_id = bk_http_query(c->req, "client");
    if (f.client_public_id &&
        (!*f.client_public_id || strlen(f.client_public_id) > MAX_QUERY_TEXT))
        return bk_api_query_fail(c->err, "client",
                                 "client must be a client id (cli_...)");
    if (status_q && (f.status = bk_invoice_status_parse(status_q)) < 0)
        return bk_api_query_fail(c->err, "status",
                                 "status must be open, paid, void, refunded "
                                 "or partially_refunded");
    if ((e = query_day(c->req, "from", -1000000, &from_day, c->err)) ||
        (e = query_day(c->req, "to", 1000000, &to_day, c->err)))
        return e;
    if (from_day > to_day)
        return bk_api_query_fail(c->err, "from", "from must not be after to");
    f.from_utc = from_day * BK_SECS_PER_DAY;
    f.to_utc = (to_day + 1) * BK_SECS_PER_DAY;
    if ((e = bk_api_limit(c->req, &f.limit, c->err)) ||
        (e = bk_api_cursor(c->req, 'n', &f.before_id, &unused, &has_cursor,
                           c->err)))
        return e;
    f.limit++;
    if ((e = bk_store_invoice_list(c->tx, &f, c->arena, &rows, &n, c->err)))
        return e;
    if (n >= (size_t)f.limit) {
        n = (size_t)f.limit - 1;
        next = bk_api_cursor_encode(c->arena, 'n', rows[n - 1].id, 0);
    }
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, render_invoice(&rows[i]));
    bk_api_reply_list(c, data, next);
    return BK_OK;
}

static enum bk_err get(struct bk_api_call *c)
{
    struct bk_invoice v;
    const char *number = bk_http_param(c->req, "number");
    enum bk_err e;

    if (strlen(number) > MAX_QUERY_TEXT)
        return bk_fail(c->err, BK_E_NOT_FOUND, "no such invoice");
    e = bk_store_invoice_get(c->tx, number, c->arena, &v, c->err);
    if (e)
        return e;
    bk_api_reply(c, 200, render_invoice(&v));
    return BK_OK;
}

/* The printable invoice: one self-contained page (no script, no outside
 * resource), every value HTML-escaped by the template renderer. */
static const char PRINTABLE[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>Invoice {{number}}</title>\n"
    "<style>body{font:11pt/1.4 system-ui,sans-serif;max-width:42em;"
    "margin:2em auto;color:#111}h1{font-size:1.6em;margin:0}"
    "table{width:100%;border-collapse:collapse;margin:1.5em 0}"
    "th,td{text-align:left;padding:.4em;border-bottom:1px solid #ccc}"
    "td.n,th.n{text-align:right}.addr{white-space:pre-line}"
    ".meta{display:flex;justify-content:space-between;gap:2em}"
    "@media print{body{margin:0}}</style></head>\n<body>\n"
    "<div class=\"meta\"><div><h1>Invoice</h1>\n"
    "<p>Number: <strong id=\"number\">{{number}}</strong><br>\n"
    "Issued: {{issued}}<br>\nStatus: <span id=\"status\">{{status}}"
    "</span></p></div>\n"
    "<div><strong>{{issuer}}</strong>\n"
    "<div class=\"addr\">{{issuer_address}}</div></div></div>\n"
    "<h2>Billed to</h2>\n<p>{{#client_name}}{{client_name}}<br>\n"
    "{{/client_name}}{{client_email}}</p>\n"
    "<table><thead><tr><th>Description</th><th class=\"n\">Quantity</th>"
    "<th class=\"n\">Amount</th></tr></thead>\n<tbody><tr><td>{{line}}</td>"
    "<td class=\"n\">1</td><td class=\"n\">{{amount}}</td></tr></tbody>\n"
    "<tfoot><tr><th colspan=\"2\">Total</th><th class=\"n\" id=\"total\">"
    "{{amount}}</th></tr>\n{{#paid}}<tr><td colspan=\"2\">Paid {{paid}}"
    "</td><td class=\"n\">{{amount}}</td></tr>\n{{/paid}}{{#refunded}}"
    "<tr><td colspan=\"2\">Refunded</td><td class=\"n\">{{refunded}}"
    "</td></tr>\n{{/refunded}}</tfoot></table>\n"
    "{{#payment}}<p>Stripe payment: {{payment}}</p>\n{{/payment}}"
    "</body></html>\n";

static const char *day_of(struct bk_arena *arena, int64_t utc)
{
    char buf[11];

    bk_date_format(utc / BK_SECS_PER_DAY, buf);
    return bk_arena_strdup(arena, buf);
}

static enum bk_err printable(struct bk_api_call *c)
{
    struct bk_invoice v;
    const char *number = bk_http_param(c->req, "number");
    char *html;
    enum bk_err e;

    if (strlen(number) > MAX_QUERY_TEXT)
        return bk_fail(c->err, BK_E_NOT_FOUND, "no such invoice");
    e = bk_store_invoice_get(c->tx, number, c->arena, &v, c->err);
    if (e)
        return e;
    {
        struct bk_mail_var vars[] = {
            {"number", v.number},
            {"issued", day_of(c->arena, v.issued_utc)},
            {"status", bk_invoice_status_name(v.status)},
            {"issuer", v.issuer_name},
            {"issuer_address", v.issuer_address},
            {"client_name", v.client_name},
            {"client_email", v.client_email},
            {"line", v.line},
            {"amount", bk_payment_money(c->arena, v.amount_minor, v.currency)},
            {"paid", v.paid_utc ? day_of(c->arena, v.paid_utc) : NULL},
            {"refunded",
             v.refunded_minor
                 ? bk_payment_money(c->arena, v.refunded_minor, v.currency)
                 : NULL},
            {"payment", v.stripe_payment_intent},
        };
        html = bk_mail_template_render(
            PRINTABLE, vars, sizeof(vars) / sizeof(vars[0]), true, c->arena);
    }
    bk_api_reply_raw(c, 200, "text/html; charset=utf-8", html, strlen(html));
    return BK_OK;
}

/* The PDF: for the admin, or with ?token= the manage token of the
 * invoice's booking (the attendee's link, as the booking's own routes).
 * Without the admin key a missing invoice and a wrong token are the same
 * 401, so numbers cannot be probed. */
static enum bk_err pdf(struct bk_api_call *c)
{
    struct bk_invoice v;
    const char *number = bk_http_param(c->req, "number");
    const char *token = bk_http_query(c->req, "token"), *doc = NULL;
    size_t len = 0;
    enum bk_err e;

    if (c->bad_key)
        return BK_E_UNAUTHORIZED;
    if (!c->admin && !token)
        return bk_fail(c->err, BK_E_UNAUTHORIZED,
                       "the admin key or the booking's manage token is "
                       "required");
    e = strlen(number) > MAX_QUERY_TEXT
            ? bk_fail(c->err, BK_E_NOT_FOUND, "no such invoice")
            : bk_store_invoice_get(c->tx, number, c->arena, &v, c->err);
    if (!c->admin && (e == BK_E_NOT_FOUND ||
                      (!e && (!v.booking_uid ||
                              !bk_api_token_ok(c->api, v.booking_uid, token)))))
        return bk_fail(c->err, BK_E_UNAUTHORIZED,
                       "the admin key or the booking's manage token is "
                       "required");
    if (e || (e = bk_pdf_invoice(&v, c->arena, &doc, &len, c->err)))
        return e;
    bk_http_add_header(
        c->resp, "Content-Disposition",
        bk_arena_printf(c->arena, "inline; filename=\"%s.pdf\"", v.number));
    bk_http_add_header(c->resp, "Cache-Control", "private, no-store");
    bk_api_reply_raw(c, 200, "application/pdf", doc, len);
    return BK_OK;
}

const struct bk_api_route bk_api_invoice_routes[] = {
    {"GET", "/api/v1/invoices", list, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    /* Before {number}, which would also take "INV-2026-0001.pdf". */
    {"GET", "/api/v1/invoices/{number}.pdf", pdf, BK_ROUTE_PUBLIC,
     BK_ROUTE_READ},
    {"GET", "/api/v1/invoices/{number}", get, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"GET", "/api/v1/invoices/{number}/html", printable, BK_ROUTE_ADMIN,
     BK_ROUTE_READ},
};
const size_t bk_api_invoice_n =
    sizeof(bk_api_invoice_routes) / sizeof(bk_api_invoice_routes[0]);
