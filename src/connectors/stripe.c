/* connectors/stripe.c — the Stripe jobs (stripe.h): Checkout Sessions,
 * settling holds, refunds. Ledger changes are ledger/payments.c; the
 * webhooks are webhooks/stripe.c. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "connectors/stripe.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "core/ledger.h"
#include "crypto/crypto.h"
#include "ledger/packages.h"
#include "ledger/payments.h"
#include "net/net.h"
#include "base/banned.h"

/* The answers kept: a Checkout Session is a few kilobytes. */
#define MAX_ANSWER (256 * 1024)

static void pct(struct bk_arena *arena, char **buf, const char *s, bool key)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s), len = *buf ? strlen(*buf) : 0;
    char *out = bk_arena_alloc(arena, len + 3 * n + 1), *o = out + len;

    if (len)
        memcpy(out, *buf, len);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
            (key && (*p == '[' || *p == ']'))) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    *buf = out;
}

void bk_stripe_form_add(struct bk_arena *arena, char **buf, const char *key,
                        const char *value)
{
    if (*buf && **buf)
        *buf = bk_arena_printf(arena, "%s&", *buf);
    pct(arena, buf, key, true);
    *buf = bk_arena_printf(arena, "%s=", *buf);
    pct(arena, buf, value, false);
}

/* One call. BK_OK with *status and *doc (an owned JSON object, or NULL
 * when the answer is not one) when Stripe answered; BK_E_IO otherwise. */
static enum bk_err call(const struct bk_stripe_config *cfg, const char *method,
                        const char *path, const char *form, const char *idem,
                        struct bk_arena *arena, int *status, json_t **doc,
                        struct bk_errbuf *err)
{
    struct bk_net_post p;
    struct bk_net_result r;
    const char *headers[3];
    size_t nh = 0;
    enum bk_err e;

    *doc = NULL;
    *status = 0;
    headers[nh++] =
        bk_arena_printf(arena, "Authorization: Bearer %s", cfg->secret_key);
    headers[nh++] = "Stripe-Version: 2026-07-29.dahlia";
    if (idem)
        headers[nh++] = bk_arena_printf(arena, "Idempotency-Key: %s", idem);
    memset(&p, 0, sizeof(p));
    p.url = bk_arena_printf(arena, "%s%s", cfg->api_base, path);
    p.method = method;
    p.content_type = "application/x-www-form-urlencoded";
    p.user_agent = "bookingd/1";
    p.body = form ? form : "";
    p.body_len = form ? strlen(form) : 0;
    p.headers = headers;
    p.n_headers = nh;
    p.connect_timeout_ms = cfg->connect_timeout_ms;
    p.timeout_ms = cfg->timeout_ms;
    p.max_response = MAX_ANSWER;
    /* STRIPE_API_BASE is the operator's, not a visitor's: it may name a
     * local address (a test double, a proxy). */
    p.allow_private = true;
    p.provider = "stripe";
    e = bk_net_post(&p, arena, &r, err);
    if (e)
        return e;
    *status = r.status;
    *doc = json_loadb(r.body, r.body_len, 0, NULL);
    if (*doc && !json_is_object(*doc)) {
        json_decref(*doc);
        *doc = NULL;
    }
    return BK_OK;
}

/* What a failed answer means for the job: 409, 429 and 5xx are retried
 * (Stripe's own clients do); other 4xx are permanent (a bad request, a
 * wrong key), with Stripe's message. */
static enum bk_err answer_error(int status, const json_t *doc, const char *what,
                                struct bk_errbuf *err)
{
    const json_t *e = json_object_get(doc, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *type = json_string_value(json_object_get(e, "type"));
    bool retry = status == 409 || status == 429 || status >= 500 || status == 0;

    return bk_fail(err, retry ? BK_E_RETRY : BK_E_INVALID,
                   "Stripe %s: HTTP %d%s%s%s%s", what, status, type ? " " : "",
                   type ? type : "", msg ? ": " : "", msg ? msg : "");
}

static const char *str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The job payload's booking uid and attempt. */
static enum bk_err payload_of(const struct bk_job *job, struct bk_arena *arena,
                              const char **uid, int *attempt, const char **pi,
                              const char **reason, struct bk_errbuf *err)
{
    json_t *o = json_loads(job->payload ? job->payload : "", 0, NULL);
    const char *u = str_of(o, "booking_uid");
    enum bk_err e = BK_OK;

    if (!u || strlen(u) > 64) {
        e = bk_fail(err, BK_E_MALFORMED, "job payload names no booking");
        goto out;
    }
    *uid = bk_arena_strdup(arena, u);
    if (attempt)
        *attempt = (int)json_integer_value(json_object_get(o, "attempt"));
    if (pi)
        *pi = str_of(o, "payment_intent")
                  ? bk_arena_strdup(arena, str_of(o, "payment_intent"))
                  : NULL;
    if (reason)
        *reason = str_of(o, "reason")
                      ? bk_arena_strdup(arena, str_of(o, "reason"))
                      : NULL;
out:
    json_decref(o);
    return e;
}

/* What the checkout job needs, read in one snapshot. */
struct state {
    struct bk_booking b;
    struct bk_payment p;
    struct bk_event_type et;
};

static enum bk_err read_state(struct bk_store *store, const char *uid,
                              struct bk_arena *arena, struct state *s,
                              struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e = bk_store_begin(store, BK_TX_READ, &tx, err);

    if (!e)
        e = bk_store_booking_by_uid(tx, uid, arena, &s->b, err);
    if (!e)
        e = bk_store_payment_get(tx, s->b.id, arena, &s->p, err);
    if (!e)
        e = bk_store_event_type_get(tx, s->b.event_type_id, arena, &s->et, err);
    bk_store_rollback(tx);
    return e;
}

/* ---- stripe.checkout ---------------------------------------------------- */

struct session_rec {
    const char *uid;
    int attempt;
    const char *id, *url, *error;
    int64_t expires;
};

static enum bk_err record_session(struct bk_tx *tx, void *ctx,
                                  struct bk_arena *arena, struct bk_errbuf *err)
{
    struct session_rec *r = ctx;
    return bk_ledger_payment_session(tx, r->uid, r->attempt, r->id, r->url,
                                     r->expires, bk_now_utc(), arena, err);
}

static enum bk_err record_error(struct bk_tx *tx, void *ctx,
                                struct bk_arena *arena, struct bk_errbuf *err)
{
    struct session_rec *r = ctx;
    return bk_ledger_payment_error(tx, r->uid, r->attempt, r->error,
                                   bk_now_utc(), arena, err);
}

/* Records a failure's message without finishing the job (a retry
 * follows). Best effort: the job's own error says it too. */
static void note_error(struct bk_store *store, struct session_rec *r,
                       struct bk_arena *arena)
{
    struct bk_tx *tx = NULL;

    if (bk_store_begin(store, BK_TX_WRITE, &tx, NULL) != BK_OK)
        return;
    if (record_error(tx, r, arena, NULL) == BK_OK &&
        bk_store_commit(tx, NULL) == BK_OK)
        tx = NULL;
    bk_store_rollback(tx);
}

static const char *manage_url(const struct bk_stripe_config *cfg,
                              const char *uid, const char *outcome,
                              struct bk_arena *arena)
{
    char token[48];

    bk_manage_token(cfg->manage_secret, uid, token);
    return bk_arena_printf(arena, "%s/manage/%s?token=%s&checkout=%s",
                           cfg->base_url, uid, token, outcome);
}

static enum bk_err checkout_run(void *ctx, struct bk_store *store,
                                const struct bk_job *job,
                                struct bk_arena *arena, struct bk_errbuf *err)
{
    const struct bk_stripe_config *cfg = ctx;
    struct session_rec rec;
    struct state s;
    char currency[4], *form = NULL;
    json_t *doc = NULL;
    int status = 0;
    int64_t now = bk_now_utc();
    enum bk_err e;

    if (!cfg || !cfg->secret_key)
        return bk_fail(err, BK_E_RETRY, "STRIPE_SECRET_KEY is not set");
    memset(&rec, 0, sizeof(rec));
    if ((e = payload_of(job, arena, &rec.uid, &rec.attempt, NULL, NULL, err)))
        return e;
    e = read_state(store, rec.uid, arena, &s, err);
    if (e == BK_E_NOT_FOUND) /* deleted since: nothing to pay */
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, arena,
                                    err);
    if (e)
        return e;
    if (s.b.status != BK_BOOKING_PENDING ||
        s.b.payment_status != BK_PAYMENT_UNPAID || rec.attempt != s.p.attempt ||
        s.p.session_id) {
        bk_log_debug("stripe: checkout %s attempt %d: nothing to do", rec.uid,
                     rec.attempt);
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, arena,
                                    err);
    }
    if (s.p.session_expires_utc < now + BK_STRIPE_MIN_EXPIRY_S + 5) {
        /* Stripe was out of reach for longer than the attempt's slack: its
         * expires_at is no longer allowed. The attendee may retry. */
        rec.error = "the payment page could not be made in time; retry the "
                    "payment";
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, record_error, &rec,
                                    arena, err);
    }
    for (int i = 0; i < 3; i++)
        currency[i] = (char)tolower((unsigned char)s.p.currency[i]);
    currency[3] = '\0';
    bk_stripe_form_add(arena, &form, "mode", "payment");
    bk_stripe_form_add(arena, &form, "line_items[0][price_data][currency]",
                       currency);
    bk_stripe_form_add(arena, &form, "line_items[0][price_data][unit_amount]",
                       bk_arena_printf(arena, "%" PRId64, s.p.amount_minor));
    bk_stripe_form_add(arena, &form,
                       "line_items[0][price_data][product_data][name]",
                       s.et.title);
    bk_stripe_form_add(arena, &form, "line_items[0][quantity]", "1");
    bk_stripe_form_add(arena, &form, "customer_email", s.b.client_email);
    bk_stripe_form_add(arena, &form, "client_reference_id", s.b.uid);
    bk_stripe_form_add(arena, &form, "metadata[booking_uid]", s.b.uid);
    bk_stripe_form_add(arena, &form,
                       "payment_intent_data[metadata][booking_uid]", s.b.uid);
    bk_stripe_form_add(
        arena, &form, "expires_at",
        bk_arena_printf(arena, "%" PRId64, s.p.session_expires_utc));
    bk_stripe_form_add(arena, &form, "success_url",
                       manage_url(cfg, s.b.uid, "success", arena));
    bk_stripe_form_add(arena, &form, "cancel_url",
                       manage_url(cfg, s.b.uid, "cancel", arena));
    if ((e = bk_jobs_fence(store, job, err)))
        return e;
    e = call(
        cfg, "POST", "/v1/checkout/sessions", form,
        bk_arena_printf(arena, "bookingd-checkout-%s-%d", s.b.uid, rec.attempt),
        arena, &status, &doc, err);
    if (!e && (status < 200 || status > 299))
        e = answer_error(status, doc, "could not create a Checkout Session",
                         err);
    if (!e) {
        rec.id = str_of(doc, "id");
        rec.url = str_of(doc, "url");
        rec.expires = json_integer_value(json_object_get(doc, "expires_at"));
        if (!rec.id || strncmp(rec.id, "cs_", 3) != 0 || !rec.url ||
            strlen(rec.id) > 255 || strlen(rec.url) > BK_MAX_URL ||
            (strncmp(rec.url, "https://", 8) != 0 &&
             strncmp(rec.url, "http://", 7) != 0)) {
            e = bk_fail(err, BK_E_RETRY,
                        "Stripe answered a Checkout Session without a "
                        "proper id and url");
        } else {
            rec.id = bk_arena_strdup(arena, rec.id);
            rec.url = bk_arena_strdup(arena, rec.url);
            e = bk_jobs_finish_alone(store, BK_TX_WRITE, job, record_session,
                                     &rec, arena, err);
            if (!e)
                bk_log_info("stripe: booking %s attempt %d: session %s",
                            rec.uid, rec.attempt, rec.id);
        }
    }
    if (e && e != BK_E_STALE && e != BK_E_INVALID) {
        rec.error = bk_arena_printf(arena, "the payment service is not "
                                           "reachable; retrying");
        note_error(store, &rec, arena);
    }
    json_decref(doc);
    return e;
}

/* Stores the error of a dead checkout job on its payment. */
static enum bk_err checkout_dead(void *ctx, struct bk_tx *tx,
                                 const struct bk_job *job, const char *error,
                                 struct bk_errbuf *err)
{
    struct bk_arena arena;
    struct session_rec rec;
    enum bk_err e;

    (void)ctx;
    bk_arena_init(&arena);
    memset(&rec, 0, sizeof(rec));
    e = payload_of(job, &arena, &rec.uid, &rec.attempt, NULL, NULL, NULL);
    if (!e) {
        rec.error = bk_arena_printf(&arena, "payment page not made: %s",
                                    error ? error : "unknown error");
        e = record_error(tx, &rec, &arena, err);
        if (e == BK_E_NOT_FOUND)
            e = BK_OK;
    } else {
        e = BK_OK;
    }
    bk_arena_release(&arena);
    return e;
}

void bk_stripe_checkout_kind(const struct bk_stripe_config *cfg,
                             struct bk_job_kind *out)
{
    bk_jobs_kind_init(out, BK_STRIPE_CHECKOUT_KIND, checkout_run, checkout_dead,
                      (void *)cfg);
}

/* ---- stripe.settle ------------------------------------------------------ */

struct settle_rec {
    struct bk_ext_event ev;
    const char *uid;
};

static enum bk_err apply_event(struct bk_tx *tx, void *ctx,
                               struct bk_arena *arena, struct bk_errbuf *err)
{
    struct settle_rec *r = ctx;
    struct bk_sync_outcome out;
    enum bk_err e =
        bk_ledger_payment_apply(tx, &r->ev, 0, bk_now_utc(), arena, &out, err);
    if (!e)
        bk_log_info("stripe: hold of booking %s settled: %s%s%s", r->uid,
                    out.action ? out.action : "?", out.note ? ": " : "",
                    out.note ? out.note : "");
    return e;
}

static enum bk_err expire_unmade(struct bk_tx *tx, void *ctx,
                                 struct bk_arena *arena, struct bk_errbuf *err)
{
    struct settle_rec *r = ctx;
    return bk_ledger_payment_expire(tx, r->uid, bk_now_utc(), arena, err);
}

/* A Checkout Session object as a payment event of kind k. */
static void session_event(const json_t *s, const char *uid, enum bk_ext_kind k,
                          struct bk_arena *arena, struct bk_ext_event *ev)
{
    const char *cur = str_of(s, "currency"), *pi = str_of(s, "payment_intent");

    memset(ev, 0, sizeof(*ev));
    ev->kind = k;
    ev->provider = "stripe";
    ev->provider_display = "Stripe";
    ev->source = BK_SOURCE_API;
    ev->payment.booking_uid = uid;
    ev->payment.session_id = bk_arena_strdup(arena, str_of(s, "id"));
    ev->payment.payment_intent = pi ? bk_arena_strdup(arena, pi) : NULL;
    ev->payment.payment_status =
        str_of(s, "payment_status")
            ? bk_arena_strdup(arena, str_of(s, "payment_status"))
            : NULL;
    ev->payment.amount_minor =
        json_integer_value(json_object_get(s, "amount_total"));
    if (cur && strlen(cur) == 3) {
        char *c = bk_arena_strdup(arena, cur);
        for (int i = 0; i < 3; i++)
            c[i] = (char)toupper((unsigned char)c[i]);
        ev->payment.currency = c;
    }
}

/* A booking cancelled before it was paid: its session, if still open, is
 * expired at Stripe so that no payment can follow (one that came first
 * is refunded when its event arrives: ledger/payments.c). */
static enum bk_err close_session(const struct bk_stripe_config *cfg,
                                 struct bk_store *store,
                                 const struct bk_job *job,
                                 const struct state *s, struct bk_arena *arena,
                                 struct bk_errbuf *err)
{
    const char *path =
        bk_arena_printf(arena, "/v1/checkout/sessions/%s", s->p.session_id);
    json_t *doc = NULL;
    const char *st;
    int status = 0;
    enum bk_err e;

    e = call(cfg, "GET", path, NULL, NULL, arena, &status, &doc, err);
    if (!e && (status < 200 || status > 299))
        e = answer_error(status, doc, "could not read a Checkout Session", err);
    st = e ? NULL : str_of(doc, "status");
    if (!e && st && strcmp(st, "open") == 0) {
        json_decref(doc);
        doc = NULL;
        if (!(e = bk_jobs_fence(store, job, err)))
            e = call(
                cfg, "POST", bk_arena_printf(arena, "%s/expire", path), "",
                bk_arena_printf(arena, "bookingd-expire-%s", s->p.session_id),
                arena, &status, &doc, err);
        if (!e && (status < 200 || status > 299))
            e = bk_fail(err, BK_E_RETRY,
                        "Stripe did not expire session %s (HTTP %d)",
                        s->p.session_id, status);
    }
    json_decref(doc);
    if (!e) {
        bk_log_info("stripe: booking %s cancelled: its session %s is closed",
                    s->b.uid, s->p.session_id);
        e = bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, arena,
                                 err);
    }
    return e;
}

static enum bk_err settle_run(void *ctx, struct bk_store *store,
                              const struct bk_job *job, struct bk_arena *arena,
                              struct bk_errbuf *err)
{
    const struct bk_stripe_config *cfg = ctx;
    struct settle_rec rec;
    struct state s;
    json_t *doc = NULL;
    const char *st, *path;
    int status = 0;
    enum bk_err e;

    if (!cfg || !cfg->secret_key)
        return bk_fail(err, BK_E_RETRY, "STRIPE_SECRET_KEY is not set");
    memset(&rec, 0, sizeof(rec));
    if ((e = payload_of(job, arena, &rec.uid, NULL, NULL, NULL, err)))
        return e;
    e = read_state(store, rec.uid, arena, &s, err);
    if (e == BK_E_NOT_FOUND)
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, arena,
                                    err);
    if (e)
        return e;
    if (s.b.status == BK_BOOKING_CANCELLED &&
        s.b.payment_status == BK_PAYMENT_UNPAID && s.p.session_id)
        return close_session(cfg, store, job, &s, arena, err);
    if (s.b.status != BK_BOOKING_PENDING ||
        s.b.payment_status != BK_PAYMENT_UNPAID)
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, arena,
                                    err);
    if (s.b.hold_expires_utc > bk_now_utc())
        return bk_fail(err, BK_E_RETRY, "the hold of %s has not ended yet",
                       rec.uid);
    if (!s.p.session_id)
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, expire_unmade,
                                    &rec, arena, err);
    path = bk_arena_printf(arena, "/v1/checkout/sessions/%s", s.p.session_id);
    e = call(cfg, "GET", path, NULL, NULL, arena, &status, &doc, err);
    if (!e && (status < 200 || status > 299))
        e = answer_error(status, doc, "could not read a Checkout Session", err);
    if (e)
        goto out;
    st = str_of(doc, "status");
    if (st && strcmp(st, "open") == 0) {
        /* Still payable: end it now, so that no payment can follow the
         * hold's end. */
        json_decref(doc);
        doc = NULL;
        if ((e = bk_jobs_fence(store, job, err)))
            goto out;
        e = call(cfg, "POST", bk_arena_printf(arena, "%s/expire", path), "",
                 bk_arena_printf(arena, "bookingd-expire-%s", s.p.session_id),
                 arena, &status, &doc, err);
        if (!e && (status < 200 || status > 299))
            /* Completed meanwhile: the next run reads it. */
            e = bk_fail(err, BK_E_RETRY,
                        "Stripe did not expire session %s (HTTP %d)",
                        s.p.session_id, status);
        if (e)
            goto out;
        st = str_of(doc, "status");
    }
    if (st && strcmp(st, "expired") == 0)
        session_event(doc, rec.uid, BK_EXT_PAYMENT_EXPIRED, arena, &rec.ev);
    else if (st && strcmp(st, "complete") == 0)
        session_event(doc, rec.uid, BK_EXT_PAYMENT_COMPLETED, arena, &rec.ev);
    else {
        e = bk_fail(err, BK_E_RETRY, "session %s is %s", s.p.session_id,
                    st ? st : "of no status");
        goto out;
    }
    e = bk_jobs_finish_alone(store, BK_TX_WRITE, job, apply_event, &rec, arena,
                             err);
out:
    json_decref(doc);
    return e;
}

void bk_stripe_settle_kind(const struct bk_stripe_config *cfg,
                           struct bk_job_kind *out)
{
    bk_jobs_kind_init(out, BK_STRIPE_SETTLE_KIND, settle_run, NULL,
                      (void *)cfg);
}

/* ---- stripe.refund ------------------------------------------------------ */

struct refund_rec {
    const char *uid, *id;
    int64_t amount;
};

static enum bk_err record_refund(struct bk_tx *tx, void *ctx,
                                 struct bk_arena *arena, struct bk_errbuf *err)
{
    struct refund_rec *r = ctx;
    return bk_ledger_payment_refunded(tx, r->uid, r->id, r->amount,
                                      bk_now_utc(), arena, err);
}

static enum bk_err refund_run(void *ctx, struct bk_store *store,
                              const struct bk_job *job, struct bk_arena *arena,
                              struct bk_errbuf *err)
{
    const struct bk_stripe_config *cfg = ctx;
    struct refund_rec rec;
    struct state s;
    const char *pi = NULL, *reason = NULL;
    char *form = NULL;
    json_t *doc = NULL;
    int status = 0;
    bool own;
    enum bk_err e;

    if (!cfg || !cfg->secret_key)
        return bk_fail(err, BK_E_RETRY, "STRIPE_SECRET_KEY is not set");
    memset(&rec, 0, sizeof(rec));
    if ((e = payload_of(job, arena, &rec.uid, NULL, &pi, &reason, err)))
        return e;
    if (!pi)
        return bk_fail(err, BK_E_MALFORMED, "job payload names no payment");
    e = read_state(store, rec.uid, arena, &s, err);
    if (e)
        return e;
    /* The booking's own payment, or a second one to give back. */
    own = s.p.payment_intent && strcmp(s.p.payment_intent, pi) == 0;
    if (own && s.b.payment_status == BK_PAYMENT_REFUNDED)
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, arena,
                                    err);
    {
        json_t *o = json_loads(job->payload ? job->payload : "", 0, NULL);
        rec.amount = json_integer_value(json_object_get(o, "amount"));
        json_decref(o);
    }
    bk_stripe_form_add(arena, &form, "payment_intent", pi);
    if (rec.amount > 0)
        bk_stripe_form_add(arena, &form, "amount",
                           bk_arena_printf(arena, "%" PRId64, rec.amount));
    bk_stripe_form_add(arena, &form, "metadata[booking_uid]", rec.uid);
    if ((e = bk_jobs_fence(store, job, err)))
        return e;
    e = call(cfg, "POST", "/v1/refunds", form,
             bk_arena_printf(arena, "bookingd-refund-%s", pi), arena, &status,
             &doc, err);
    if (!e && (status < 200 || status > 299))
        e = answer_error(status, doc, "could not refund", err);
    if (!e) {
        const char *id = str_of(doc, "id");
        rec.id = id ? bk_arena_strdup(arena, id) : NULL;
        e = bk_jobs_finish_alone(store, BK_TX_WRITE, job,
                                 own ? record_refund : NULL, &rec, arena, err);
        if (!e)
            bk_log_info("stripe: booking %s: payment %s refunded (%s): %s",
                        rec.uid, pi, rec.id ? rec.id : "?",
                        reason ? reason : "");
    }
    json_decref(doc);
    return e;
}

void bk_stripe_refund_kind(const struct bk_stripe_config *cfg,
                           struct bk_job_kind *out)
{
    bk_jobs_kind_init(out, BK_STRIPE_REFUND_KIND, refund_run, NULL,
                      (void *)cfg);
}

/* ---- stripe.package: a package purchase's Checkout Session ------------- */

struct package_rec {
    const char *uid, *id, *url, *error;
};

static enum bk_err record_package(struct bk_tx *tx, void *ctx,
                                  struct bk_arena *arena, struct bk_errbuf *err)
{
    struct package_rec *r = ctx;
    if (r->error)
        return bk_ledger_package_error(tx, r->uid, r->error, bk_now_utc(),
                                       arena, err);
    return bk_ledger_package_session(tx, r->uid, r->id, r->url, bk_now_utc(),
                                     arena, err);
}

static enum bk_err package_run(void *ctx, struct bk_store *store,
                               const struct bk_job *job, struct bk_arena *arena,
                               struct bk_errbuf *err)
{
    const struct bk_stripe_config *cfg = ctx;
    struct bk_package_purchase p;
    struct package_rec rec;
    struct bk_tx *tx = NULL;
    char currency[4], *form = NULL;
    json_t *doc = NULL, *o;
    int status = 0;
    enum bk_err e;

    if (!cfg || !cfg->secret_key)
        return bk_fail(err, BK_E_RETRY, "STRIPE_SECRET_KEY is not set");
    memset(&rec, 0, sizeof(rec));
    o = json_loads(job->payload ? job->payload : "", 0, NULL);
    rec.uid = str_of(o, "purchase_uid")
                  ? bk_arena_strdup(arena, str_of(o, "purchase_uid"))
                  : NULL;
    json_decref(o);
    if (!rec.uid || strlen(rec.uid) > 64)
        return bk_fail(err, BK_E_MALFORMED, "job payload names no purchase");
    e = bk_store_begin(store, BK_TX_READ, &tx, err);
    if (!e)
        e = bk_store_purchase_get(tx, rec.uid, 0, arena, &p, err);
    bk_store_rollback(tx);
    if (e == BK_E_NOT_FOUND)
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, arena,
                                    err);
    if (e)
        return e;
    if (p.status != BK_PURCHASE_AWAITING || p.session_id)
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, arena,
                                    err);
    if (p.session_expires_utc < bk_now_utc() + BK_STRIPE_MIN_EXPIRY_S + 5) {
        rec.error = "the payment page could not be made in time; buy again";
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, record_package,
                                    &rec, arena, err);
    }
    for (int i = 0; i < 3; i++)
        currency[i] = (char)tolower((unsigned char)p.currency[i]);
    currency[3] = '\0';
    bk_stripe_form_add(arena, &form, "mode", "payment");
    bk_stripe_form_add(arena, &form, "line_items[0][price_data][currency]",
                       currency);
    bk_stripe_form_add(arena, &form, "line_items[0][price_data][unit_amount]",
                       bk_arena_printf(arena, "%" PRId64, p.amount_minor));
    bk_stripe_form_add(
        arena, &form, "line_items[0][price_data][product_data][name]",
        bk_arena_printf(arena, "%s (%d session%s)", p.package_name, p.sessions,
                        p.sessions == 1 ? "" : "s"));
    bk_stripe_form_add(arena, &form, "line_items[0][quantity]", "1");
    bk_stripe_form_add(arena, &form, "customer_email", p.attendee_email);
    bk_stripe_form_add(arena, &form, "client_reference_id", p.uid);
    bk_stripe_form_add(arena, &form, "metadata[package_purchase]", p.uid);
    bk_stripe_form_add(arena, &form, "metadata[package]", p.package_slug);
    bk_stripe_form_add(
        arena, &form, "payment_intent_data[metadata][package_purchase]", p.uid);
    bk_stripe_form_add(
        arena, &form, "expires_at",
        bk_arena_printf(arena, "%" PRId64, p.session_expires_utc));
    bk_stripe_form_add(arena, &form, "success_url",
                       bk_arena_printf(arena, "%s/?package=%s&checkout=success",
                                       cfg->base_url, p.package_slug));
    bk_stripe_form_add(arena, &form, "cancel_url",
                       bk_arena_printf(arena, "%s/?package=%s&checkout=cancel",
                                       cfg->base_url, p.package_slug));
    if ((e = bk_jobs_fence(store, job, err)))
        return e;
    e = call(cfg, "POST", "/v1/checkout/sessions", form,
             bk_arena_printf(arena, "bookingd-package-%s", p.uid), arena,
             &status, &doc, err);
    if (!e && (status < 200 || status > 299))
        e = answer_error(status, doc, "could not create a Checkout Session",
                         err);
    if (!e) {
        rec.id = str_of(doc, "id");
        rec.url = str_of(doc, "url");
        if (!rec.id || strncmp(rec.id, "cs_", 3) != 0 || !rec.url ||
            strlen(rec.id) > 255 || strlen(rec.url) > BK_MAX_URL ||
            (strncmp(rec.url, "https://", 8) != 0 &&
             strncmp(rec.url, "http://", 7) != 0)) {
            e = bk_fail(err, BK_E_RETRY,
                        "Stripe answered a Checkout Session without a "
                        "proper id and url");
        } else {
            rec.id = bk_arena_strdup(arena, rec.id);
            rec.url = bk_arena_strdup(arena, rec.url);
            e = bk_jobs_finish_alone(store, BK_TX_WRITE, job, record_package,
                                     &rec, arena, err);
            if (!e)
                bk_log_info("stripe: package purchase %s: session %s", rec.uid,
                            rec.id);
        }
    }
    json_decref(doc);
    return e;
}

static enum bk_err package_dead(void *ctx, struct bk_tx *tx,
                                const struct bk_job *job, const char *error,
                                struct bk_errbuf *err)
{
    struct bk_arena arena;
    struct package_rec rec;
    json_t *o = json_loads(job->payload ? job->payload : "", 0, NULL);
    enum bk_err e = BK_OK;

    (void)ctx;
    bk_arena_init(&arena);
    memset(&rec, 0, sizeof(rec));
    rec.uid = str_of(o, "purchase_uid");
    if (rec.uid) {
        rec.error = bk_arena_printf(&arena, "payment page not made: %s",
                                    error ? error : "unknown error");
        e = record_package(tx, &rec, &arena, err);
        if (e == BK_E_NOT_FOUND)
            e = BK_OK;
    }
    json_decref(o);
    bk_arena_release(&arena);
    return e;
}

void bk_stripe_package_kind(const struct bk_stripe_config *cfg,
                            struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = BK_PACKAGE_CHECKOUT_KIND;
    out->run = package_run;
    out->on_dead = package_dead;
    out->ctx = (void *)cfg;
}
