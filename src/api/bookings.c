/* api/bookings.c — /api/v1/bookings: create (public), read, list, cancel,
 * reschedule and history. The attendee's manage token authorizes one
 * booking's read, cancel and reschedule. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/decode.h"
#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/str.h"
#include "base/time.h"
#include "jobs/jobs.h"
#include "ledger/ledger.h"
#include "ledger/packages.h"
#include "ledger/payments.h"
#include "base/banned.h"

/* A priced booking's payment: hold_expires_at while it is pending,
 * "payment" {amount, currency, attempt, error}, and checkout_url while the
 * attendee can still pay on it (pending, unpaid, hold not over, a session
 * made). Free bookings have none of these. */
static void render_payment(struct bk_api_call *c, json_t *o,
                           const struct bk_booking *b, const struct bk_tz *tz)
{
    struct bk_event_type et;
    struct bk_payment p;
    json_t *pay;

    if (b->hold_expires_utc && b->status == BK_BOOKING_PENDING)
        json_object_set_new(o, "hold_expires_at",
                            bk_render_instant(b->hold_expires_utc, tz));
    /* Only a booking that had to be paid has a payment row. */
    if (b->payment_status == BK_PAYMENT_NONE ||
        bk_store_payment_get(c->tx, b->id, c->arena, &p, NULL) != BK_OK)
        return;
    pay = json_pack("{s:I, s:s, s:i}", "amount", (json_int_t)p.amount_minor,
                    "currency", p.currency, "attempt", p.attempt);
    if (pay && p.last_error && b->status == BK_BOOKING_PENDING)
        json_object_set_new(pay, "error", json_string(p.last_error));
    /* The invoice of a paid booking, whose PDF the same reader may fetch
     * (api/invoices.c: the admin or the booking's manage token). */
    if (pay && b->payment_status != BK_PAYMENT_UNPAID) {
        struct bk_invoice v;
        if (bk_store_invoice_by_booking(c->tx, b->id, c->arena, &v, NULL) ==
            BK_OK)
            json_object_set_new(pay, "invoice", json_string(v.number));
    }
    if (pay && b->status == BK_BOOKING_CONFIRMED &&
        b->payment_status == BK_PAYMENT_PAID && p.payment_intent &&
        !p.refund_reason && !p.refund_id &&
        bk_store_event_type_get(c->tx, b->event_type_id, c->arena, &et, NULL) ==
            BK_OK) {
        /* What cancelling now would give back (the manage page shows it
         * before the attendee confirms), and until when it is all. */
        bool full = false;
        int64_t due = bk_payment_refund_due(&et, p.amount_minor, b->start_utc,
                                            bk_now_utc(), &full);
        json_object_set_new(
            pay, "refund_if_cancelled",
            json_pack(
                "{s:I, s:b, s:o, s:i}", "amount", (json_int_t)due, "full", full,
                "full_refund_until",
                bk_render_instant(
                    b->start_utc - (int64_t)et.refund_full_hours * 3600, tz),
                "late_refund_percent", et.refund_late_percent));
    }
    if (pay)
        json_object_set_new(o, "payment", pay);
    if (p.checkout_url && b->status == BK_BOOKING_PENDING &&
        b->payment_status == BK_PAYMENT_UNPAID &&
        b->hold_expires_utc > bk_now_utc())
        json_object_set_new(o, "checkout_url", json_string(p.checkout_url));
}

/* A booking paid with a package credit: "credit" {package, purchase}
 * while it holds the credit (ledger/packages.h). */
static void render_credit(struct bk_api_call *c, json_t *o,
                          const struct bk_booking *b)
{
    struct bk_package_purchase p;
    int64_t credit, purchase, expires;

    if (b->payment_status != BK_PAYMENT_PAID ||
        bk_store_credit_of_booking(c->tx, b->id, &credit, &purchase, &expires,
                                   NULL) != BK_OK ||
        bk_store_purchase_get(c->tx, NULL, purchase, c->arena, &p, NULL) !=
            BK_OK)
        return;
    json_object_set_new(
        o, "credit",
        json_pack("{s:s, s:s}", "package", p.package_slug, "purchase", p.uid));
}

/* Renders b with its links and, for the attendee's first response and for
 * admins, its manage token and URL. Only an admin sees the stored client:
 * a visitor or a manage token gets the public form (render.h). The links are
 * read in the call's transaction; a NONE route (after a ledger operation that
 * committed) opens a read transaction for them, and renders without links when
 * that fails: the booking is made, and its answer must not say otherwise. */
static json_t *render(struct bk_api_call *c, const struct bk_booking *b,
                      const struct bk_tz *tz, bool with_token)
{
    struct bk_link *links = NULL;
    size_t n = 0;
    json_t *o;

    if (!c->tx &&
        bk_store_begin(c->api->store, BK_TX_READ, &c->tx, NULL) != BK_OK)
        c->tx = NULL;
    if (!c->tx || bk_store_link_list(c->tx, BK_LINK_BOOKING, b->id, c->arena,
                                     &links, &n, NULL) != BK_OK)
        n = 0;
    o = bk_render_booking(b, links, n, tz, c->admin);
    if (o && c->tx)
        render_payment(c, o, b, tz);
    if (o && c->tx)
        render_credit(c, o, b);
    if (o && with_token) {
        char token[48];
        bk_api_manage_token(c->api, b->uid, token);
        json_object_set_new(o, "manage_token", json_string(token));
        json_object_set_new(
            o, "manage_url",
            json_string(bk_arena_printf(c->arena, "%s/manage/%s?token=%s",
                                        c->api->base_url, b->uid, token)));
    }
    return o;
}

static enum bk_err authorize(struct bk_api_call *c, const char *uid);

/* Reads b->uid again in a read transaction of the call (kept for the
 * answer's rendering). */
static enum bk_err reread(struct bk_api_call *c, struct bk_booking *b)
{
    if (!c->tx) {
        enum bk_err e = bk_api_call_read(c);
        if (e)
            return e;
    }
    return bk_store_booking_by_uid(c->tx, b->uid, c->arena, b, c->err);
}

/* The answer of a deferred booking request (bk_api_answer_after_job):
 * the booking read again; arg non-NULL: with its manage token. */
static enum bk_err render_later(struct bk_api_call *c, const char *uid,
                                void *arg, json_t **out)
{
    struct bk_booking b;
    enum bk_err e;

    memset(&b, 0, sizeof(b));
    b.uid = uid;
    if ((e = reread(c, &b)))
        return e;
    if (!(*out = render(c, &b, NULL, arg != NULL)))
        return bk_fail(c->err, BK_E_INTERNAL,
                       "the booking could not be rendered");
    return BK_OK;
}

/* Defers the answer (status, booking uid) until the checkout job `job`
 * has run once, so that it carries the Checkout URL (waits.c). The call
 * must have no transaction open. */
static void answer_after_checkout(struct bk_api_call *c, int64_t job,
                                  const char *uid, int status, bool with_token)
{
    static char token; /* arg's non-NULL value: with the token */

    bk_api_answer_after_job(c, job, status, uid, render_later,
                            with_token ? &token : NULL);
}

/* A start with a fraction of a second is no slot start; the parser would
 * drop the fraction and book the whole second. */
static enum bk_err whole_start(const json_t *body, struct bk_errbuf *err)
{
    if (bk_rfc3339_has_fraction(
            json_string_value(json_object_get(body, "start"))))
        return bk_fail_field(err, BK_E_INVALID, "start",
                             "is not a slot of this event type (slots start "
                             "on whole minutes)");
    return BK_OK;
}

/* "use_credit": true with "credit_code": a package credit pays for the
 * booking (ledger/packages.h); the code, emailed to the buyer, proves who
 * is booking. */
static enum bk_err decode_credit(struct bk_api_call *c, const json_t *body,
                                 struct bk_booking_request *br)
{
    const char *code = NULL;
    bool use = false, has_use = false, has_code;
    char *uid;
    enum bk_err e;

    if ((e = bk_json_bool(body, "", "use_credit", false, c->arena, &use,
                          &has_use, c->err)) ||
        (e = bk_json_str(body, "", "credit_code", false, BK_CREDIT_CODE_MAX,
                         false, c->arena, &code, c->err)))
        return e;
    has_code = code != NULL;
    if (!use) {
        if (has_code)
            return bk_fail_field(c->err, BK_E_INVALID, "credit_code",
                                 "is only sent with \"use_credit\": true");
        return BK_OK;
    }
    if (!has_code || !*code)
        return bk_fail_field(c->err, BK_E_INVALID, "credit_code",
                             "is required with \"use_credit\": true (the "
                             "code emailed when the package was bought)");
    uid = bk_arena_alloc(c->arena, BK_UID_LEN + 1);
    if (!bk_credit_code_check(c->api->manage_secret, code, uid))
        return bk_fail_field(c->err, BK_E_INVALID, "credit_code",
                             "is not a valid credit code");
    br->credit_purchase_uid = uid;
    return BK_OK;
}

static enum bk_err create(struct bk_api_call *c)
{
    static const char *const keys[] = {"event_type",  "start",   "attendee",
                                       "notes",       "answers", "use_credit",
                                       "credit_code", NULL};
    static const char *const akeys[] = {"name", "email", "timezone", NULL};
    struct bk_booking_request br;
    struct bk_booking b;
    json_t *body, *att;
    int64_t job = 0;
    enum bk_err e;

    memset(&br, 0, sizeof(br));
    if (c->bad_key)
        return BK_E_UNAUTHORIZED;
    if ((e = bk_api_call_body(c, false, &body)) ||
        (e = bk_json_only(body, "", keys, c->arena, c->err)) ||
        (e = bk_json_str(body, "", "event_type", true, BK_MAX_SLUG, false,
                         c->arena, &br.event_type_slug, c->err)) ||
        (e = bk_decode_instant(body, "", "start", true, c->arena, &br.start_utc,
                               NULL, c->err)) ||
        (e = bk_json_object(body, "", "attendee", true, c->arena, &att,
                            c->err)) ||
        (e = bk_json_only(att, "attendee", akeys, c->arena, c->err)) ||
        (e = bk_json_str(att, "attendee", "name", true, BK_MAX_NAME, false,
                         c->arena, &br.attendee_name, c->err)) ||
        (e = bk_json_str(att, "attendee", "email", true, BK_MAX_EMAIL, false,
                         c->arena, &br.attendee_email, c->err)) ||
        (e = bk_decode_timezone(att, "attendee", "timezone", false, c->arena,
                                &br.attendee_timezone, c->err)) ||
        (e = bk_json_str(body, "", "notes", false, BK_MAX_TEXT, true, c->arena,
                         &br.notes, c->err)) ||
        (e = whole_start(body, c->err)))
        return e;
    if (!*br.attendee_name)
        return bk_fail_field(c->err, BK_E_INVALID, "attendee.name",
                             "must not be empty");
    if (!bk_email_valid(br.attendee_email))
        return bk_fail_field(c->err, BK_E_INVALID, "attendee.email",
                             "must be an email address");
    if ((e = decode_credit(c, body, &br)))
        return e;
    br.answers = json_object_get(body, "answers");
    if (json_is_null(br.answers))
        br.answers = NULL;
    br.source = c->admin ? BK_SOURCE_API : BK_SOURCE_WEB;
    br.actor = c->admin ? "admin" : "attendee";
    /* An admin's booking is not charged (paid elsewhere, or free). */
    br.charge = !c->admin;
    br.hold_min = c->api->hold_min;
    br.job_max_attempts = c->api->job_max_attempts;
    br.checkout_job = &job;
    if ((e = bk_ledger_booking_create(c->api->store, &br, bk_now_utc(),
                                      c->arena, &b, c->err)))
        return e;
    if (job) {
        answer_after_checkout(c, job, b.uid, 201, true);
        return BK_OK;
    }
    bk_api_reply(c, 201, render(c, &b, NULL, true));
    return BK_OK;
}

/* "Retry payment": a new Checkout attempt for a pending booking whose
 * page could not be made (or was left); answers the booking with its new
 * checkout_url when Stripe answered within the wait. Admin or the manage
 * token. */
static enum bk_err pay(struct bk_api_call *c)
{
    struct bk_payment p;
    struct bk_booking b;
    const char *uid = bk_http_param(c->req, "uid");
    int64_t job = 0;
    json_t *body;
    enum bk_err e;

    if ((e = authorize(c, uid)) || (e = bk_api_call_body(c, true, &body)) ||
        (e = bk_json_only(body, "", (const char *const[]){NULL}, c->arena,
                          c->err)))
        return e;
    if (c->api->hold_min <= 0) {
        bk_errbuf_code(c->err, "payments_not_configured");
        return bk_fail(c->err, BK_E_UNAVAILABLE,
                       "payments are not configured (STRIPE_SECRET_KEY)");
    }
    e = bk_ledger_payment_retry(c->api->store, uid, c->api->job_max_attempts,
                                bk_now_utc(), c->arena, &p, &job, c->err);
    if (e)
        return e;
    if (job) {
        answer_after_checkout(c, job, uid, 200, false);
        return BK_OK;
    }
    memset(&b, 0, sizeof(b));
    b.uid = uid;
    if ((e = reread(c, &b)))
        return e;
    bk_api_reply(c, 200, render(c, &b, NULL, false));
    return BK_OK;
}

/* Admin key or the booking's manage token (?token=). A wrong admin key is
 * 401 even with a right token. */
static enum bk_err authorize(struct bk_api_call *c, const char *uid)
{
    if (c->bad_key)
        return BK_E_UNAUTHORIZED;
    if (c->admin ||
        bk_api_token_ok(c->api, uid, bk_http_query(c->req, "token")))
        return BK_OK;
    if (c->csrf_refused)
        return bk_fail(c->err, BK_E_FORBIDDEN,
                       "a write made with the session cookie needs its "
                       "X-CSRF-Token header and a same-origin Origin");
    return bk_fail(c->err, BK_E_UNAUTHORIZED,
                   "the admin key or this booking's manage token is "
                   "required");
}

static enum bk_err get(struct bk_api_call *c)
{
    struct bk_booking b;
    const struct bk_tz *tz = NULL;
    const char *uid = bk_http_param(c->req, "uid");
    enum bk_err e;

    if ((e = authorize(c, uid)) ||
        (e = bk_api_query_tz(c->req, "timezone", &tz, c->err)))
        return e;
    e = bk_store_booking_by_uid(c->tx, uid, c->arena, &b, c->err);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no booking '%s'", uid);
    if (e)
        return e;
    bk_api_reply(c, 200, render(c, &b, tz, c->admin));
    return BK_OK;
}

static enum bk_err cancel(struct bk_api_call *c)
{
    static const char *const keys[] = {"reason", NULL};
    struct bk_booking b;
    const char *uid = bk_http_param(c->req, "uid"), *reason = NULL;
    json_t *body;
    enum bk_err e;

    if ((e = authorize(c, uid)) || (e = bk_api_call_body(c, true, &body)) ||
        (e = bk_json_only(body, "", keys, c->arena, c->err)) ||
        (e = bk_json_str(body, "", "reason", false, BK_MAX_TEXT, true, c->arena,
                         &reason, c->err)))
        return e;
    e = bk_ledger_booking_cancel(c->api->store, uid, reason,
                                 c->admin ? "admin" : "attendee", bk_now_utc(),
                                 c->arena, &b, c->err);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no booking '%s'", uid);
    if (e)
        return e;
    bk_api_reply(c, 200, render(c, &b, NULL, false));
    return BK_OK;
}

/* POST /api/v1/bookings/{uid}/complete and /no-show (admin): the
 * attendance the host marks by hand (docs/api.md). */
static enum bk_err mark(struct bk_api_call *c, enum bk_booking_event which)
{
    static const char *const keys[] = {"note", NULL};
    struct bk_booking b;
    const char *uid = bk_http_param(c->req, "uid"), *note = NULL;
    json_t *body;
    enum bk_err e;

    if ((e = bk_api_call_body(c, true, &body)) ||
        (e = bk_json_only(body, "", keys, c->arena, c->err)) ||
        (e = bk_json_str(body, "", "note", false, BK_MAX_TEXT, true, c->arena,
                         &note, c->err)))
        return e;
    e = bk_ledger_booking_mark(c->api->store, uid, which, note, "admin",
                               bk_now_utc(), c->arena, &b, c->err);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no booking '%s'", uid);
    if (e)
        return e;
    bk_api_reply(c, 200, render(c, &b, NULL, false));
    return BK_OK;
}

static enum bk_err complete(struct bk_api_call *c)
{
    return mark(c, BK_EV_COMPLETE);
}

static enum bk_err no_show(struct bk_api_call *c)
{
    return mark(c, BK_EV_NO_SHOW);
}

static enum bk_err reschedule(struct bk_api_call *c)
{
    static const char *const keys[] = {"start", NULL};
    struct bk_booking b;
    const char *uid = bk_http_param(c->req, "uid");
    int64_t start;
    json_t *body;
    enum bk_err e;

    if ((e = authorize(c, uid)) || (e = bk_api_call_body(c, false, &body)) ||
        (e = bk_json_only(body, "", keys, c->arena, c->err)) ||
        (e = bk_decode_instant(body, "", "start", true, c->arena, &start, NULL,
                               c->err)) ||
        (e = whole_start(body, c->err)))
        return e;
    e = bk_ledger_booking_reschedule(c->api->store, uid, start,
                                     c->admin ? "admin" : "attendee",
                                     bk_now_utc(), c->arena, &b, c->err);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no booking '%s'", uid);
    if (e)
        return e;
    bk_api_reply(c, 200, render(c, &b, NULL, false));
    return BK_OK;
}

static enum bk_err history(struct bk_api_call *c)
{
    struct bk_booking b;
    struct bk_booking_change *rows = NULL;
    const struct bk_tz *tz = NULL;
    const char *uid = bk_http_param(c->req, "uid");
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    if ((e = bk_api_query_tz(c->req, "timezone", &tz, c->err)))
        return e;
    e = bk_store_booking_by_uid(c->tx, uid, c->arena, &b, c->err);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no booking '%s'", uid);
    if (e ||
        (e = bk_store_history_list(c->tx, b.id, c->arena, &rows, &n, c->err)))
        return e;
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, bk_render_change(&rows[i], tz));
    bk_api_reply(c, 200,
                 json_pack("{s:s, s:o}", "booking", b.uid, "data", data));
    return BK_OK;
}

/* ?from= / ?to=: an RFC 3339 instant, or a date meaning that UTC day's
 * start (from) or the end of that UTC day (to, inclusive). */
static enum bk_err query_instant(const struct bk_http_request *req,
                                 const char *name, bool end_of_day,
                                 int64_t *out, struct bk_errbuf *err)
{
    const char *s = bk_http_query(req, name);
    int64_t days;

    *out = 0;
    if (!s)
        return BK_OK;
    if (bk_rfc3339_parse(s, out, NULL) == BK_OK)
        return BK_OK;
    if (bk_date_parse(s, &days) == BK_OK) {
        *out = (days + (end_of_day ? 1 : 0)) * BK_SECS_PER_DAY;
        return BK_OK;
    }
    return bk_api_query_fail(err, name,
                             "%s must be a date YYYY-MM-DD or an RFC 3339 "
                             "date-time",
                             name);
}

static enum bk_err list(struct bk_api_call *c)
{
    struct bk_booking *rows = NULL;
    struct bk_booking_filter f;
    const struct bk_tz *tz = NULL;
    const char *next = NULL, *s;
    bool has_cursor;
    size_t n = 0;
    json_t *data;
    int limit;
    enum bk_err e;

    memset(&f, 0, sizeof(f));
    f.status = -1;
    f.source = -1;
    if ((e = bk_api_limit(c->req, &limit, c->err)) ||
        (e = bk_api_cursor(c->req, 'b', &f.after_start_utc, &f.after_id,
                           &has_cursor, c->err)) ||
        (e = bk_api_query_tz(c->req, "timezone", &tz, c->err)) ||
        (e = query_instant(c->req, "from", false, &f.from_utc, c->err)) ||
        (e = query_instant(c->req, "to", true, &f.to_utc, c->err)))
        return e;
    f.has_after = has_cursor;
    f.limit = limit + 1;
    if ((s = bk_http_query(c->req, "status")) &&
        (f.status = bk_booking_status_parse(s)) < 0)
        return bk_api_query_fail(c->err, "status",
                                 "status must be pending, confirmed, "
                                 "cancelled, completed or no_show");
    if ((s = bk_http_query(c->req, "source")) &&
        (f.source = bk_source_parse(s)) < 0)
        return bk_api_query_fail(c->err, "source",
                                 "source must be web, api, calcom, calendly, "
                                 "notion or calendar");
    if ((s = bk_http_query(c->req, "client"))) {
        struct bk_client cl;
        e = bk_store_client_by_public_id(c->tx, s, c->arena, &cl, c->err);
        if (e == BK_E_NOT_FOUND)
            e = bk_store_client_by_email(c->tx, s, c->arena, &cl, c->err);
        if (e == BK_E_NOT_FOUND) {
            bk_api_reply_list(c, json_array(), NULL); /* nobody's */
            return BK_OK;
        }
        if (e)
            return e;
        f.client_id = cl.id;
    }
    if ((s = bk_http_query(c->req, "event_type"))) {
        struct bk_event_type et;
        e = bk_store_event_type_by_slug(c->tx, s, c->arena, &et, c->err);
        if (e == BK_E_NOT_FOUND) {
            bk_api_reply_list(c, json_array(), NULL);
            return BK_OK;
        }
        if (e)
            return e;
        f.event_type_id = et.id;
    }
    if ((s = bk_http_query(c->req, "host"))) {
        struct bk_host h;
        e = bk_store_host_by_slug(c->tx, s, c->arena, &h, c->err);
        if (e == BK_E_NOT_FOUND) {
            bk_api_reply_list(c, json_array(), NULL);
            return BK_OK;
        }
        if (e)
            return e;
        f.host_id = h.id;
    }
    if ((s = bk_http_query(c->req, "flagged"))) {
        if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
            return bk_api_query_fail(c->err, "flagged",
                                     "flagged must be true or false");
        f.flagged = strcmp(s, "true") == 0;
    }
    if ((e = bk_store_booking_list(c->tx, &f, c->arena, &rows, &n, c->err)))
        return e;
    if (n > (size_t)limit) {
        n = (size_t)limit;
        next = bk_api_cursor_encode(c->arena, 'b', rows[n - 1].start_utc,
                                    rows[n - 1].id);
    }
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, render(c, &rows[i], tz, false));
    bk_api_reply_list(c, data, next);
    return BK_OK;
}

/* An admin's refund of a paid booking, all or {"amount"} of it, through
 * Stripe: 202, the refund under way (its job's answer and Stripe's
 * charge.refunded record it). */
static enum bk_err refund(struct bk_api_call *c)
{
    static const char *const keys[] = {"amount", "reason", NULL};
    const char *uid = bk_http_param(c->req, "uid"), *reason = NULL;
    struct bk_booking b;
    json_int_t amount = 0;
    json_t *body, *a;
    enum bk_err e;

    if ((e = bk_api_call_body(c, true, &body)) ||
        (e = bk_json_only(body, "", keys, c->arena, c->err)) ||
        (e = bk_json_str(body, "", "reason", false, BK_MAX_TEXT, true, c->arena,
                         &reason, c->err)))
        return e;
    a = json_object_get(body, "amount");
    if (a && !json_is_null(a)) {
        if (!json_is_integer(a) || json_integer_value(a) < 1 ||
            json_integer_value(a) > 99999999)
            return bk_fail_field(c->err, BK_E_INVALID, "amount",
                                 "must be an integer amount in minor units, "
                                 "1 or more");
        amount = json_integer_value(a);
    }
    if (c->api->hold_min <= 0) {
        bk_errbuf_code(c->err, "payments_not_configured");
        return bk_fail(c->err, BK_E_UNAVAILABLE,
                       "payments are not configured (STRIPE_SECRET_KEY)");
    }
    e = bk_ledger_payment_refund(c->api->store, uid, (int64_t)amount,
                                 reason && *reason ? reason
                                                   : "refunded by the admin",
                                 bk_now_utc(), c->arena, &b, c->err);
    if (e)
        return e;
    bk_jobs_wake(c->api->jobs);
    bk_api_reply(c, 202, render(c, &b, NULL, false));
    return BK_OK;
}

/* Supersedes the booking's calendar event links (a push makes the events
 * again) and enqueues that push (connectors/calendars.c, job
 * "calendars.push"). */
static enum bk_err push_events_again(struct bk_api_call *c,
                                     const struct bk_booking *b)
{
    struct bk_link *links = NULL;
    size_t n = 0;
    char key[96], payload[64];
    int64_t id = 0, now_ms = bk_now_ms();
    bool existed = false;
    enum bk_err e;

    if ((e = bk_store_link_list(c->tx, BK_LINK_BOOKING, b->id, c->arena, &links,
                                &n, c->err)))
        return e;
    for (size_t i = 0; i < n; i++) {
        if ((strcmp(links[i].provider, "caldav") != 0 &&
             strcmp(links[i].provider, "google") != 0) ||
            strncmp(links[i].kind, "event:", 6) != 0 || links[i].superseded)
            continue;
        links[i].superseded = true;
        links[i].etag = NULL;
        if ((e = bk_store_link_update(c->tx, &links[i], c->err)))
            return e;
    }
    snprintf(key, sizeof(key), "calendars.push:keep:%" PRId64 ":%" PRId64,
             b->id, now_ms);
    snprintf(payload, sizeof(payload), "{\"booking_id\": %" PRId64 "}", b->id);
    return bk_store_job_enqueue(c->tx, "calendars.push", key, payload, now_ms,
                                0, now_ms, &id, &existed, c->err);
}

/* Clears b's flag, appends ch, and (keep) pushes its events again, in one
 * write transaction of the call. */
static enum bk_err resolve_once(struct bk_api_call *c,
                                const struct bk_booking *b, bool keep,
                                const struct bk_booking_change *ch)
{
    enum bk_err e;

    bk_store_rollback(c->tx);
    c->tx = NULL;
    if ((e = bk_store_begin(c->api->store, BK_TX_WRITE, &c->tx, c->err)) ||
        (e = bk_store_booking_set_flag(c->tx, b->id, NULL, ch->at_utc,
                                       c->err)) ||
        (e = bk_store_history_append(c->tx, ch, c->err)) ||
        (keep && (e = push_events_again(c, b))))
        goto out;
    e = bk_store_commit(c->tx, c->err);
out:
    if (e)
        bk_store_rollback(c->tx);
    c->tx = NULL;
    return e;
}

/* POST /api/v1/bookings/{uid}/resolve-flag {"action": "cancel"|"keep"}:
 * an admin's answer to a flagged booking (docs/calendars.md "Ask"):
 * cancel it ("deleted in calendar"), or keep it and put its event back in
 * the calendars. Either clears the flag, with a line in its history. 409
 * when the booking has no flag. */
static enum bk_err resolve_flag(struct bk_api_call *c)
{
    static const char *const keys[] = {"action", NULL};
    const char *uid = bk_http_param(c->req, "uid"), *action = NULL;
    struct bk_booking b, out;
    struct bk_booking_change ch;
    json_t *body;
    bool keep;
    enum bk_err e;

    if ((e = bk_api_call_body(c, false, &body)) ||
        (e = bk_json_only(body, "", keys, c->arena, c->err)) ||
        (e = bk_json_str(body, "", "action", true, 16, false, c->arena, &action,
                         c->err)))
        return e;
    if (strcmp(action, "cancel") != 0 && strcmp(action, "keep") != 0)
        return bk_fail_field(c->err, BK_E_INVALID, "action",
                             "must be cancel or keep");
    keep = strcmp(action, "keep") == 0;
    if ((e = bk_api_call_read(c)))
        return e;
    e = bk_store_booking_by_uid(c->tx, uid, c->arena, &b, c->err);
    bk_store_rollback(c->tx);
    c->tx = NULL;
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no booking '%s'", uid);
    if (e)
        return e;
    if (!b.flag)
        return bk_fail(c->err, BK_E_CONFLICT, "booking '%s' has no flag", uid);
    /* Cancelled meanwhile (by the attendee, say): only the flag goes. */
    if (!keep && b.status != BK_BOOKING_CANCELLED &&
        (e = bk_ledger_booking_cancel(c->api->store, uid, "deleted in calendar",
                                      "admin", bk_now_utc(), c->arena, &out,
                                      c->err)))
        return e;
    memset(&ch, 0, sizeof(ch));
    ch.booking_id = b.id;
    ch.at_utc = bk_now_utc();
    ch.action = "flag_resolved";
    ch.actor = "admin";
    ch.from_status = -1;
    ch.to_status = -1;
    ch.note = keep ? "kept: its event is put back in the calendar"
                   : "cancelled: its event was deleted in the calendar";
    BK_STORE_RETRY(e, resolve_once(c, &b, keep, &ch));
    if (e)
        return e;
    if ((e = reread(c, &b)))
        return e;
    bk_api_reply(c, 200, render(c, &b, NULL, false));
    return BK_OK;
}

const struct bk_api_route bk_api_booking_routes[] = {
    {"POST", "/api/v1/bookings", create, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/api/v1/bookings", list, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"GET", "/api/v1/bookings/{uid}", get, BK_ROUTE_PUBLIC, BK_ROUTE_READ},
    {"POST", "/api/v1/bookings/{uid}/cancel", cancel, BK_ROUTE_PUBLIC,
     BK_ROUTE_NONE},
    {"POST", "/api/v1/bookings/{uid}/reschedule", reschedule, BK_ROUTE_PUBLIC,
     BK_ROUTE_NONE},
    {"GET", "/api/v1/bookings/{uid}/history", history, BK_ROUTE_ADMIN,
     BK_ROUTE_READ},
    {"POST", "/api/v1/bookings/{uid}/payment", pay, BK_ROUTE_PUBLIC,
     BK_ROUTE_NONE},
    {"POST", "/api/v1/bookings/{uid}/refund", refund, BK_ROUTE_ADMIN,
     BK_ROUTE_NONE},
    {"POST", "/api/v1/bookings/{uid}/resolve-flag", resolve_flag,
     BK_ROUTE_ADMIN, BK_ROUTE_NONE},
    {"POST", "/api/v1/bookings/{uid}/complete", complete, BK_ROUTE_ADMIN,
     BK_ROUTE_NONE},
    {"POST", "/api/v1/bookings/{uid}/no-show", no_show, BK_ROUTE_ADMIN,
     BK_ROUTE_NONE},
};
const size_t bk_api_booking_n =
    sizeof(bk_api_booking_routes) / sizeof(bk_api_booking_routes[0]);
