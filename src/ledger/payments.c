/* ledger/payments.c — paid bookings in the ledger: the payment row, its
 * jobs, and Stripe's events applied to the booking (payments.h). The calls
 * to Stripe are connectors/stripe.c. */
#include <inttypes.h>
#include <string.h>

#include <jansson.h>

#include "ledger/payments.h"
#include "base/str.h"
#include "base/time.h"
#include "core/booking.h"
#include "ledger/events.h"
#include "ledger/internal.h"
#include "ledger/ledger.h"
#include "ledger/packages.h"
#include "base/banned.h"

#define DEFAULT_ATTEMPTS 10

static enum bk_err load(struct bk_tx *tx, const char *uid,
                        struct bk_arena *arena, struct bk_booking *b,
                        struct bk_payment *p, struct bk_errbuf *err);

int64_t bk_payment_planned_expiry(int64_t hold_end_utc, int64_t now_utc)
{
    int64_t soonest =
        now_utc + BK_STRIPE_MIN_EXPIRY_S + BK_STRIPE_EXPIRY_SLACK_S;
    return hold_end_utc > soonest ? hold_end_utc : soonest;
}

static int attempts_or_default(int n)
{
    return n > 0 ? n : DEFAULT_ATTEMPTS;
}

static enum bk_err enqueue(struct bk_tx *tx, const char *kind, const char *key,
                           json_t *payload, int64_t run_at_ms, int max_attempts,
                           struct bk_arena *arena, int64_t *id,
                           struct bk_errbuf *err)
{
    const char *text = bk_ledger_json(arena, payload);
    int64_t job = 0;
    bool existed = false;
    enum bk_err e = bk_store_job_enqueue(tx, kind, key, text, run_at_ms,
                                         attempts_or_default(max_attempts),
                                         bk_now_ms(), &job, &existed, err);
    if (!e && id)
        *id = job;
    return e;
}

static enum bk_err enqueue_checkout(struct bk_tx *tx, const char *uid,
                                    int attempt, int max_attempts,
                                    struct bk_arena *arena, int64_t *id,
                                    struct bk_errbuf *err)
{
    return enqueue(
        tx, BK_STRIPE_CHECKOUT_KIND,
        bk_arena_printf(arena, BK_STRIPE_CHECKOUT_KIND ":%s:%d", uid, attempt),
        json_pack("{s:s, s:i}", "booking_uid", uid, "attempt", attempt),
        bk_now_ms(), max_attempts, arena, id, err);
}

static enum bk_err enqueue_refund_of(struct bk_tx *tx, const char *uid,
                                     const char *pi, const char *reason,
                                     int64_t amount_minor,
                                     struct bk_arena *arena,
                                     struct bk_errbuf *err)
{
    json_t *payload;

    if (!pi)
        return bk_fail(err, BK_E_INVALID,
                       "a payment to refund has no payment intent");
    payload = json_pack("{s:s, s:s, s:s}", "booking_uid", uid, "payment_intent",
                        pi, "reason", reason);
    if (amount_minor > 0)
        json_object_set_new(payload, "amount",
                            json_integer((json_int_t)amount_minor));
    return enqueue(tx, BK_STRIPE_REFUND_KIND,
                   bk_arena_printf(arena, BK_STRIPE_REFUND_KIND ":%s", pi),
                   payload, bk_now_ms(), 0, arena, NULL, err);
}

static enum bk_err enqueue_refund(struct bk_tx *tx, const char *uid,
                                  const char *pi, const char *reason,
                                  struct bk_arena *arena, struct bk_errbuf *err)
{
    return enqueue_refund_of(tx, uid, pi, reason, 0, arena, err);
}

static void event_of(struct bk_ledger_event *ev, enum bk_ledger_event_kind k,
                     const struct bk_booking *b, int64_t now_utc,
                     const char *actor)
{
    bk_ledger_event_init(ev, k, now_utc, actor);
    ev->source = "stripe";
    ev->booking_id = b->id;
    ev->client_id = b->client_id;
    ev->host_id = b->host_id;
    ev->event_type_id = b->event_type_id;
}

enum bk_err bk_ledger_payment_open(struct bk_tx *tx, const struct bk_booking *b,
                                   const struct bk_event_type *et,
                                   int max_attempts, int64_t now_utc,
                                   struct bk_arena *arena,
                                   int64_t *checkout_job, struct bk_errbuf *err)
{
    struct bk_payment p;
    enum bk_err e;

    memset(&p, 0, sizeof(p));
    p.booking_id = b->id;
    p.amount_minor = et->price_minor;
    memcpy(p.currency, et->currency, sizeof(p.currency));
    p.attempt = 1;
    p.session_expires_utc =
        bk_payment_planned_expiry(b->hold_expires_utc, now_utc);
    p.created_utc = p.updated_utc = now_utc;
    if ((e = bk_store_payment_insert(tx, &p, err)) ||
        (e = enqueue_checkout(tx, b->uid, 1, max_attempts, arena, checkout_job,
                              err)))
        return e;
    /* The settle job runs a little after the hold's end, when Stripe has
     * expired the session (its expires_at is the hold's end). */
    return enqueue(tx, BK_STRIPE_SETTLE_KIND,
                   bk_arena_printf(arena, BK_STRIPE_SETTLE_KIND ":%s", b->uid),
                   json_pack("{s:s}", "booking_uid", b->uid),
                   (b->hold_expires_utc + 5) * 1000, max_attempts, arena, NULL,
                   err);
}

enum bk_err bk_ledger_payment_cancelled(struct bk_tx *tx,
                                        const struct bk_booking *b,
                                        struct bk_arena *arena,
                                        struct bk_errbuf *err)
{
    return enqueue(
        tx, BK_STRIPE_SETTLE_KIND,
        bk_arena_printf(arena, BK_STRIPE_SETTLE_KIND ":%s:cancelled", b->uid),
        json_pack("{s:s}", "booking_uid", b->uid), bk_now_ms(), 0, arena, NULL,
        err);
}

int64_t bk_payment_refund_due(const struct bk_event_type *et,
                              int64_t paid_minor, int64_t start_utc,
                              int64_t now_utc, bool *full)
{
    int hours = et->has_refund_policy ? et->refund_full_hours
                                      : BK_DEFAULT_REFUND_FULL_HOURS;
    int percent = et->has_refund_policy ? et->refund_late_percent
                                        : BK_DEFAULT_REFUND_LATE_PERCENT;
    int64_t due;

    if (paid_minor <= 0) {
        if (full)
            *full = false;
        return 0;
    }
    if (start_utc - now_utc >= (int64_t)hours * 3600) {
        if (full)
            *full = true;
        return paid_minor;
    }
    /* paid_minor <= 1e11 (the API's bound), so the product fits. */
    due = paid_minor * percent / 100;
    if (full)
        *full = due == paid_minor;
    return due;
}

/* Stripe's zero-decimal currencies (docs.stripe.com/currencies). */
static bool zero_decimal(const char *cur)
{
    static const char *const list[] = {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF",
                                       "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                                       "VUV", "XAF", "XOF", "XPF", NULL};

    for (size_t i = 0; list[i]; i++)
        if (strcmp(cur, list[i]) == 0)
            return true;
    return false;
}

const char *bk_payment_money(struct bk_arena *arena, int64_t amount_minor,
                             const char *currency)
{
    if (zero_decimal(currency))
        return bk_arena_printf(arena, "%lld %s", (long long)amount_minor,
                               currency);
    return bk_arena_printf(arena, "%lld.%02lld %s",
                           (long long)(amount_minor / 100),
                           (long long)(amount_minor % 100), currency);
}

enum bk_err
bk_ledger_payment_cancel_refund(struct bk_tx *tx, const struct bk_booking *b,
                                int64_t now_utc, struct bk_arena *arena,
                                int64_t *refund_minor, struct bk_errbuf *err)
{
    struct bk_event_type et;
    struct bk_payment p;
    int64_t due, ahead_h;
    enum bk_err e;

    *refund_minor = 0;
    if (b->payment_status != BK_PAYMENT_PAID)
        return BK_OK;
    e = bk_store_payment_get(tx, b->id, arena, &p, err);
    if (e == BK_E_NOT_FOUND)
        return BK_OK; /* paid elsewhere (an admin's booking) */
    if (e)
        return e;
    if (!p.payment_intent || p.refund_reason || p.refund_id)
        return BK_OK;
    if ((e = bk_store_event_type_get(tx, b->event_type_id, arena, &et, err)))
        return e;
    due =
        bk_payment_refund_due(&et, p.amount_minor, b->start_utc, now_utc, NULL);
    if (due <= 0)
        return BK_OK;
    ahead_h = (b->start_utc - now_utc) / 3600;
    if (b->start_utc - now_utc >= (int64_t)et.refund_full_hours * 3600)
        p.refund_reason = bk_arena_printf(
            arena,
            "%s refunded in full: cancelled %lld hours before the start "
            "(the refund policy refunds in full until %d hours before)",
            bk_payment_money(arena, due, p.currency), (long long)ahead_h,
            et.refund_full_hours);
    else
        p.refund_reason = bk_arena_printf(
            arena,
            "%s of %s refunded (%d %%): cancelled less than %d hours before "
            "the start",
            bk_payment_money(arena, due, p.currency),
            bk_payment_money(arena, p.amount_minor, p.currency),
            et.refund_late_percent, et.refund_full_hours);
    p.updated_utc = now_utc;
    if ((e = bk_store_payment_update(tx, &p, err)) ||
        (e = enqueue_refund_of(tx, b->uid, p.payment_intent, p.refund_reason,
                               due == p.amount_minor ? 0 : due, arena, err)))
        return e;
    *refund_minor = due;
    return BK_OK;
}

static enum bk_err refund_once(struct bk_store *store, const char *uid,
                               int64_t amount_minor, const char *reason,
                               int64_t now_utc, struct bk_arena *arena,
                               struct bk_booking *out, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_payment p;
    enum bk_err e;

    e = bk_store_begin(store, BK_TX_LOCKED, &tx, err);
    if (!e)
        e = load(tx, uid, arena, out, &p, err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, BK_E_NOT_FOUND, "no paid booking '%s'", uid);
    if (e)
        goto out;
    if (out->payment_status != BK_PAYMENT_PAID || !p.payment_intent) {
        e = bk_fail(err, BK_E_ILLEGAL_TRANSITION,
                    "a booking with payment %s cannot be refunded",
                    bk_payment_status_name(out->payment_status));
        goto out;
    }
    if (p.refund_reason || p.refund_id) {
        e = bk_fail(err, BK_E_ILLEGAL_TRANSITION,
                    "this payment has been refunded already, or its refund "
                    "is under way");
        goto out;
    }
    if (amount_minor > p.amount_minor) {
        e = bk_fail_field(err, BK_E_INVALID, "amount",
                          "is more than was paid (%lld)",
                          (long long)p.amount_minor);
        goto out;
    }
    p.refund_reason = reason;
    p.updated_utc = now_utc;
    if ((e = bk_store_payment_update(tx, &p, err)) ||
        (e = enqueue_refund_of(
             tx, uid, p.payment_intent, reason,
             amount_minor == p.amount_minor ? 0 : amount_minor, arena, err)))
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    return e;
}

enum bk_err bk_ledger_payment_refund(struct bk_store *store, const char *uid,
                                     int64_t amount_minor, const char *reason,
                                     int64_t now_utc, struct bk_arena *arena,
                                     struct bk_booking *out,
                                     struct bk_errbuf *err)
{
    enum bk_err e;

    BK_STORE_RETRY(e, refund_once(store, uid, amount_minor, reason, now_utc,
                                  arena, out, err));
    return e;
}

static enum bk_err retry_once(struct bk_store *store, const char *uid,
                              int max_attempts, int64_t now_utc,
                              struct bk_arena *arena, struct bk_payment *out,
                              int64_t *checkout_job, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_booking b;
    enum bk_err e;

    *checkout_job = 0;
    e = bk_store_begin(store, BK_TX_LOCKED, &tx, err);
    if (!e)
        e = bk_ledger_load_locked(tx, uid, arena, &b, err);
    if (!e)
        e = bk_store_payment_get(tx, b.id, arena, out, err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(err, BK_E_NOT_FOUND, "no booking '%s' awaiting payment",
                    uid);
    if (e)
        goto out;
    if (b.status != BK_BOOKING_PENDING ||
        b.payment_status != BK_PAYMENT_UNPAID ||
        b.hold_expires_utc < now_utc + 60) {
        e = bk_fail(err, BK_E_ILLEGAL_TRANSITION,
                    "this booking is not awaiting payment (%s, payment %s%s)",
                    bk_booking_status_name(b.status),
                    bk_payment_status_name(b.payment_status),
                    b.status == BK_BOOKING_PENDING ? ", its hold has ended"
                                                   : "");
        goto out;
    }
    if (out->checkout_url && out->session_expires_utc > now_utc)
        goto out; /* the current attempt's page is open: nothing to do */
    out->attempt++;
    out->session_id = NULL;
    out->checkout_url = NULL;
    out->session_expires_utc =
        bk_payment_planned_expiry(b.hold_expires_utc, now_utc);
    out->last_error = NULL;
    out->updated_utc = now_utc;
    if ((e = bk_store_payment_update(tx, out, err)) ||
        (e = enqueue_checkout(tx, b.uid, out->attempt, max_attempts, arena,
                              checkout_job, err)))
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    return e;
}

enum bk_err bk_ledger_payment_retry(struct bk_store *store, const char *uid,
                                    int max_attempts, int64_t now_utc,
                                    struct bk_arena *arena,
                                    struct bk_payment *out,
                                    int64_t *checkout_job,
                                    struct bk_errbuf *err)
{
    enum bk_err e;

    BK_STORE_RETRY(e, retry_once(store, uid, max_attempts, now_utc, arena, out,
                                 checkout_job, err));
    return e;
}

/* The booking uid and its payment, both locked for a change. */
static enum bk_err load(struct bk_tx *tx, const char *uid,
                        struct bk_arena *arena, struct bk_booking *b,
                        struct bk_payment *p, struct bk_errbuf *err)
{
    enum bk_err e = bk_ledger_load_locked(tx, uid, arena, b, err);

    if (!e)
        e = bk_store_payment_get(tx, b->id, arena, p, err);
    return e;
}

static enum bk_err link_put(struct bk_tx *tx, const struct bk_booking *b,
                            const char *kind, const char *id, int64_t now_utc,
                            struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_link l, got;
    bool existed = false;

    if (!id)
        return BK_OK;
    memset(&l, 0, sizeof(l));
    l.entity = BK_LINK_BOOKING;
    l.entity_id = b->id;
    l.provider = "stripe";
    l.kind = kind;
    l.external_id = id;
    l.created_utc = now_utc;
    return bk_store_link_put(tx, &l, arena, &got, &existed, err);
}

enum bk_err bk_ledger_payment_session(struct bk_tx *tx, const char *uid,
                                      int attempt, const char *session_id,
                                      const char *url, int64_t expires_utc,
                                      int64_t now_utc, struct bk_arena *arena,
                                      struct bk_errbuf *err)
{
    struct bk_ledger_event ev;
    struct bk_booking b;
    struct bk_payment p;
    enum bk_err e;

    if ((e = load(tx, uid, arena, &b, &p, err)) ||
        (e = link_put(tx, &b, "checkout_session", session_id, now_utc, arena,
                      err)))
        return e;
    if (attempt != p.attempt)
        return BK_OK; /* a later attempt replaced it */
    p.session_id = session_id;
    p.checkout_url = url;
    p.session_expires_utc = expires_utc;
    p.last_error = NULL;
    p.updated_utc = now_utc;
    if ((e = bk_store_payment_update(tx, &p, err)))
        return e;
    event_of(&ev, BK_LEV_CHECKOUT_INITIATED, &b, now_utc, "system");
    ev.detail = bk_ledger_json(
        arena, json_pack("{s:s, s:i, s:I, s:s}", "session", session_id,
                         "attempt", attempt, "amount",
                         (json_int_t)p.amount_minor, "currency", p.currency));
    return bk_ledger_emit(tx, &ev, err);
}

enum bk_err bk_ledger_payment_error(struct bk_tx *tx, const char *uid,
                                    int attempt, const char *error,
                                    int64_t now_utc, struct bk_arena *arena,
                                    struct bk_errbuf *err)
{
    struct bk_booking b;
    struct bk_payment p;
    enum bk_err e = load(tx, uid, arena, &b, &p, err);

    if (e || attempt != p.attempt)
        return e;
    p.last_error = error;
    p.updated_utc = now_utc;
    return bk_store_payment_update(tx, &p, err);
}

enum bk_err bk_ledger_payment_refunded(struct bk_tx *tx, const char *uid,
                                       const char *refund_id,
                                       int64_t amount_minor, int64_t now_utc,
                                       struct bk_arena *arena,
                                       struct bk_errbuf *err)
{
    struct bk_ledger_event ev;
    struct bk_booking b;
    struct bk_payment p;
    enum bk_err e = load(tx, uid, arena, &b, &p, err);

    if (e)
        return e;
    if (amount_minor > 0 && amount_minor < p.amount_minor &&
        b.payment_status == BK_PAYMENT_PAID) {
        /* A part given back: the booking stays paid; the refund is
         * recorded and told. */
        if (p.refund_id && refund_id && strcmp(p.refund_id, refund_id) == 0)
            return BK_OK;
        p.refund_id = refund_id;
        p.updated_utc = now_utc;
        if ((e = bk_store_payment_update(tx, &p, err)) ||
            (e = bk_ledger_invoice_refunded(tx, &b, amount_minor, now_utc,
                                            arena, err)))
            return e;
        event_of(&ev, BK_LEV_REFUND_ISSUED, &b, now_utc, "system");
        ev.detail = bk_ledger_json(
            arena,
            json_pack("{s:s?, s:I, s:s, s:s?, s:b}", "refund", refund_id,
                      "amount", (json_int_t)amount_minor, "currency",
                      p.currency, "reason", p.refund_reason, "partial", 1));
        return bk_ledger_emit(tx, &ev, err);
    }
    if (b.payment_status == BK_PAYMENT_REFUNDED) {
        /* Told twice (the refund job's answer and Stripe's
         * charge.refunded, in either order): one REFUND_ISSUED. */
        if (p.refund_id || !refund_id)
            return BK_OK;
        p.refund_id = refund_id;
        p.updated_utc = now_utc;
        return bk_store_payment_update(tx, &p, err);
    }
    p.refund_id = refund_id;
    p.updated_utc = now_utc;
    b.payment_status = BK_PAYMENT_REFUNDED;
    b.updated_utc = now_utc;
    if ((e = bk_store_payment_update(tx, &p, err)) ||
        (e = bk_store_booking_update(tx, &b, err)) ||
        (e = bk_ledger_invoice_refunded(tx, &b, 0, now_utc, arena, err)))
        return e;
    event_of(&ev, BK_LEV_REFUND_ISSUED, &b, now_utc, "system");
    ev.detail = bk_ledger_json(
        arena, json_pack("{s:s?, s:I, s:s, s:s?}", "refund", refund_id,
                         "amount", (json_int_t)p.amount_minor, "currency",
                         p.currency, "reason", p.refund_reason));
    return bk_ledger_emit(tx, &ev, err);
}

/* pending -> cancelled, with its reason, as `kind` (EXPIRE or CANCEL). */
static enum bk_err cancel_pending(struct bk_tx *tx, struct bk_booking *b,
                                  enum bk_booking_event how, const char *reason,
                                  int64_t now_utc, struct bk_arena *arena,
                                  struct bk_errbuf *err)
{
    struct bk_ledger_event ev;
    enum bk_booking_status from = b->status, to;
    enum bk_err e;

    if (bk_booking_transition(from, how, &to) != BK_OK)
        return bk_fail(err, BK_E_ILLEGAL_TRANSITION,
                       "a %s booking cannot be cancelled",
                       bk_booking_status_name(from));
    b->status = to;
    b->cancellation_reason = reason;
    b->updated_utc = now_utc;
    if ((e = bk_store_booking_update(tx, b, err)))
        return e;
    event_of(&ev, BK_LEV_BOOKING_CANCELLED, b, now_utc, "system");
    ev.from_status = (int)from;
    ev.to_status = (int)to;
    ev.note = reason;
    ev.detail = bk_ledger_json(
        arena, json_pack("{s:s, s:s}", "reason", reason, "by", "system"));
    return bk_ledger_emit(tx, &ev, err);
}

static enum bk_err expire(struct bk_tx *tx, struct bk_booking *b,
                          struct bk_payment *p, int64_t now_utc,
                          struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_ledger_event ev;
    enum bk_err e;

    e = cancel_pending(tx, b, BK_EV_EXPIRE,
                       "payment not completed before the hold ended", now_utc,
                       arena, err);
    if (e)
        return e;
    event_of(&ev, BK_LEV_CHECKOUT_EXPIRED, b, now_utc, "system");
    ev.detail =
        bk_ledger_json(arena, json_pack("{s:s?, s:i}", "session", p->session_id,
                                        "attempt", p->attempt));
    return bk_ledger_emit(tx, &ev, err);
}

enum bk_err bk_ledger_payment_expire(struct bk_tx *tx, const char *uid,
                                     int64_t now_utc, struct bk_arena *arena,
                                     struct bk_errbuf *err)
{
    struct bk_booking b;
    struct bk_payment p;
    enum bk_err e = load(tx, uid, arena, &b, &p, err);

    if (e)
        return e;
    if (b.status != BK_BOOKING_PENDING || b.payment_status != BK_PAYMENT_UNPAID)
        return BK_OK;
    return expire(tx, &b, &p, now_utc, arena, err);
}

/* A prospect with a paid booking becomes active. */
static enum bk_err activate_client(struct bk_tx *tx, const struct bk_booking *b,
                                   int64_t now_utc, struct bk_arena *arena,
                                   struct bk_errbuf *err)
{
    struct bk_ledger_event ev;
    struct bk_client c;
    enum bk_client_status to;
    enum bk_err e = bk_store_client_get(tx, b->client_id, arena, &c, err);

    if (e)
        return e;
    to = bk_client_status_after(c.status, b->status, b->payment_status);
    if (to == c.status)
        return BK_OK;
    c.status = to;
    c.updated_utc = now_utc;
    if ((e = bk_store_client_update(tx, &c, err)))
        return e;
    event_of(&ev, BK_LEV_CLIENT_ACTIVATED, b, now_utc, "system");
    ev.booking_id = 0;
    return bk_ledger_emit(tx, &ev, err);
}

/* The payment of b arrived (paid). */
static enum bk_err paid(struct bk_tx *tx, const struct bk_ext_event *x,
                        struct bk_booking *b, struct bk_payment *p,
                        int64_t now_utc, struct bk_arena *arena,
                        struct bk_sync_outcome *out, struct bk_errbuf *err)
{
    const struct bk_ext_payment *pay = &x->payment;
    struct bk_ledger_event ev;
    struct bk_event_type et;
    struct bk_errbuf why;
    const char *refund = NULL;
    enum bk_booking_status from = b->status, to;
    enum bk_err e;

    if (b->payment_status == BK_PAYMENT_PAID ||
        b->payment_status == BK_PAYMENT_REFUNDED) {
        if (!pay->payment_intent || !p->payment_intent ||
            strcmp(pay->payment_intent, p->payment_intent) == 0) {
            out->action = "unchanged";
            out->note = "already paid";
            return BK_OK;
        }
        /* Two sessions of one booking were both paid: the second is
         * given back. */
        out->action = "refunding";
        out->note = "a second payment of a paid booking";
        return enqueue_refund(tx, b->uid, pay->payment_intent,
                              "a second payment of a paid booking", arena, err);
    }
    if (pay->session_id && (e = link_put(tx, b, "checkout_session",
                                         pay->session_id, now_utc, arena, err)))
        return e;
    if ((e = link_put(tx, b, "payment_intent", pay->payment_intent, now_utc,
                      arena, err)))
        return e;
    p->payment_intent = pay->payment_intent;
    p->updated_utc = now_utc;
    b->payment_status = BK_PAYMENT_PAID;
    b->updated_utc = now_utc;
    if (b->status == BK_BOOKING_PENDING && b->hold_expires_utc &&
        b->hold_expires_utc <= now_utc) {
        /* Late: the slot was free for others since the hold ended. */
        bk_errbuf_clear(&why);
        e = bk_store_event_type_get(tx, b->event_type_id, arena, &et, err);
        if (e)
            return e;
        e = bk_ledger_claim_slot(tx, &et, b->start_utc, now_utc, b->id, arena,
                                 &why);
        if (e == BK_E_SLOT_UNAVAILABLE || e == BK_E_INVALID)
            refund = bk_arena_printf(arena,
                                     "paid after the hold ended, and the "
                                     "slot is no longer available (%s): "
                                     "the payment is refunded",
                                     why.msg);
        else if (e)
            return e;
    } else if (b->status != BK_BOOKING_PENDING &&
               b->status != BK_BOOKING_CONFIRMED) {
        refund = bk_arena_printf(arena,
                                 "paid for a %s booking: the payment is "
                                 "refunded",
                                 bk_booking_status_name(b->status));
    }
    if (refund)
        p->refund_reason = refund;
    if ((e = bk_store_payment_update(tx, p, err)))
        return e;
    if (b->status == BK_BOOKING_PENDING && !refund) {
        if (bk_booking_transition(from, BK_EV_CONFIRM, &to) != BK_OK)
            return bk_fail(err, BK_E_INTERNAL, "pending cannot be confirmed");
        b->status = to;
        if ((e = bk_store_booking_update(tx, b, err)))
            return e;
        event_of(&ev, BK_LEV_BOOKING_CONFIRMED, b, now_utc, "stripe");
        ev.from_status = (int)from;
        ev.to_status = (int)to;
        ev.note = "paid";
        ev.detail = bk_ledger_json(
            arena, json_pack("{s:s?, s:s?}", "session", pay->session_id,
                             "payment_intent", pay->payment_intent));
        if ((e = bk_ledger_emit(tx, &ev, err)))
            return e;
        out->action = "confirmed";
    } else if (b->status == BK_BOOKING_PENDING) {
        if ((e = cancel_pending(tx, b, BK_EV_CANCEL, refund, now_utc, arena,
                                err)))
            return e;
        out->action = "refunding";
    } else {
        if ((e = bk_store_booking_update(tx, b, err)))
            return e;
        out->action = refund ? "refunding" : "paid";
    }
    event_of(&ev, BK_LEV_PAYMENT_COMPLETED, b, now_utc, "stripe");
    ev.detail = bk_ledger_json(
        arena,
        json_pack("{s:I, s:s, s:s?, s:s?}", "amount",
                  (json_int_t)(pay->amount_minor ? pay->amount_minor
                                                 : p->amount_minor),
                  "currency", pay->currency ? pay->currency : p->currency,
                  "session", pay->session_id, "payment_intent",
                  pay->payment_intent));
    if ((e = bk_ledger_emit(tx, &ev, err)) ||
        (e = bk_ledger_invoice_paid(tx, b, p, now_utc, arena, err)))
        return e;
    if (refund) {
        out->note = refund;
        return enqueue_refund(tx, b->uid, pay->payment_intent, refund, arena,
                              err);
    }
    return activate_client(tx, b, now_utc, arena, err);
}

enum bk_err bk_ledger_payment_apply(struct bk_tx *tx,
                                    const struct bk_ext_event *x,
                                    int max_attempts, int64_t now_utc,
                                    struct bk_arena *arena,
                                    struct bk_sync_outcome *out,
                                    struct bk_errbuf *err)
{
    const struct bk_ext_payment *pay = &x->payment;
    struct bk_booking b;
    struct bk_payment p;
    enum bk_err e;

    (void)max_attempts;
    memset(out, 0, sizeof(*out));
    if (!pay->booking_uid || !*pay->booking_uid)
        return bk_fail_field(err, BK_E_INVALID, "booking_uid",
                             "the event names no booking");
    e = load(tx, pay->booking_uid, arena, &b, &p, err);
    if (e == BK_E_NOT_FOUND) { /* a package purchase's (ledger/packages.c)? */
        e = bk_ledger_package_apply(tx, x, now_utc, arena, out, err);
        if (e != BK_E_NOT_FOUND)
            return e;
    }
    if (e == BK_E_NOT_FOUND) {
        out->action = "unchanged";
        out->note = "not a payment of a bookingd booking";
        return BK_OK;
    }
    if (e)
        return e;
    out->booking_uid = b.uid;
    out->action = "unchanged";
    switch (x->kind) {
    case BK_EXT_PAYMENT_COMPLETED:
        if (pay->payment_status && strcmp(pay->payment_status, "unpaid") == 0) {
            out->note = "awaiting a delayed payment";
            if (pay->payment_intent && !p.payment_intent) {
                p.payment_intent = pay->payment_intent;
                p.updated_utc = now_utc;
                return bk_store_payment_update(tx, &p, err);
            }
            return BK_OK;
        }
        return paid(tx, x, &b, &p, now_utc, arena, out, err);
    case BK_EXT_PAYMENT_SUCCEEDED:
        return paid(tx, x, &b, &p, now_utc, arena, out, err);
    case BK_EXT_PAYMENT_FAILED:
        if (b.status != BK_BOOKING_PENDING ||
            b.payment_status != BK_PAYMENT_UNPAID) {
            out->note = "not awaiting payment";
            return BK_OK;
        }
        b.payment_status = BK_PAYMENT_FAILED;
        out->action = "cancelled";
        return cancel_pending(tx, &b, BK_EV_CANCEL, "the payment failed",
                              now_utc, arena, err);
    case BK_EXT_PAYMENT_EXPIRED:
        if (pay->session_id && p.session_id &&
            strcmp(pay->session_id, p.session_id) != 0) {
            out->note = "an earlier attempt's session";
            return BK_OK;
        }
        if (b.status != BK_BOOKING_PENDING ||
            b.payment_status != BK_PAYMENT_UNPAID) {
            out->note = "not awaiting payment";
            return BK_OK;
        }
        out->action = "expired";
        return expire(tx, &b, &p, now_utc, arena, err);
    case BK_EXT_PAYMENT_REFUNDED:
        if (b.payment_status == BK_PAYMENT_REFUNDED) {
            out->note = "already refunded";
            return BK_OK;
        }
        if (b.payment_status != BK_PAYMENT_PAID)
            return bk_fail(err, BK_E_RETRY,
                           "a refund of booking %s, whose payment is not "
                           "recorded yet",
                           b.uid);
        if (pay->refunded_minor && pay->amount_minor &&
            pay->refunded_minor < pay->amount_minor) {
            out->note = "a partial refund";
            return BK_OK;
        }
        out->action = "refunded";
        return bk_ledger_payment_refunded(tx, b.uid, p.refund_id, 0, now_utc,
                                          arena, err);
    default:
        break;
    }
    return bk_fail(err, BK_E_INVALID, "not a payment event");
}
