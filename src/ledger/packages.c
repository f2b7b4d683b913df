/* ledger/packages.c — package purchases and their credits in the ledger
 * (packages.h). The call to Stripe is connectors/stripe.c's
 * stripe.package job. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ledger/packages.h"
#include "base/str.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "ledger/events.h"
#include "ledger/internal.h"
#include "ledger/ledger.h"
#include "ledger/payments.h"
#include "base/banned.h"

#define DEFAULT_ATTEMPTS 10
/* The token part of a credit code: 22 base64url characters (132 bits). */
#define CODE_TOKEN_LEN 22

void bk_credit_code(const unsigned char secret[32], const char *uid,
                    char out[BK_CREDIT_CODE_MAX])
{
    char token[48];

    bk_keyed_token(secret, BK_TOKEN_PACKAGE_CREDIT, uid, token);
    token[CODE_TOKEN_LEN] = '\0';
    snprintf(out, BK_CREDIT_CODE_MAX, "%.*s-%s", BK_UID_LEN, uid, token);
}

bool bk_credit_code_check(const unsigned char secret[32], const char *code,
                          char uid[BK_UID_LEN + 1])
{
    char want[BK_CREDIT_CODE_MAX];
    size_t n = code ? strlen(code) : 0;

    if (n != BK_UID_LEN + 1 + CODE_TOKEN_LEN || code[BK_UID_LEN] != '-')
        return false;
    for (size_t i = 0; i < BK_UID_LEN; i++)
        if (!((code[i] >= 'A' && code[i] <= 'Z') ||
              (code[i] >= 'a' && code[i] <= 'z') ||
              (code[i] >= '0' && code[i] <= '9')))
            return false;
    memcpy(uid, code, BK_UID_LEN);
    uid[BK_UID_LEN] = '\0';
    bk_credit_code(secret, uid, want);
    return bk_ct_equal(want, code, n);
}

static enum bk_err checkout_once(struct bk_store *store, const char *slug,
                                 const char *name, const char *email,
                                 int max_attempts, int64_t now_utc,
                                 struct bk_arena *arena,
                                 struct bk_package_purchase *out, int64_t *job,
                                 struct bk_errbuf *err)
{
    struct bk_package_purchase p;
    struct bk_package *pk = NULL;
    struct bk_client client;
    struct bk_tx *tx = NULL;
    char uid[BK_UID_LEN + 1];
    size_t n = 0;
    bool existed = false;
    enum bk_err e;

    *job = 0;
    e = bk_store_begin(store, BK_TX_LOCKED, &tx, err);
    if (!e)
        e = bk_store_package_list(tx, true, slug, 0, 1, arena, &pk, &n, err);
    if (!e && n != 1)
        e = bk_fail(err, BK_E_NOT_FOUND, "no package '%s' for sale", slug);
    if (e)
        goto out;
    if (pk->price_minor <= 0) {
        e = bk_fail(err, BK_E_CONFLICT,
                    "package '%s' is free: it is not sold through Stripe",
                    slug);
        bk_errbuf_code(err, "package_free");
        goto out;
    }
    e = bk_ledger_client_find_or_create(tx, email, name, NULL, BK_SOURCE_WEB,
                                        now_utc, arena, &client, NULL, err);
    if (e)
        goto out;
    memset(&p, 0, sizeof(p));
    bk_ledger_new_uid(uid);
    p.uid = uid;
    p.package_id = pk->id;
    p.client_id = client.id;
    p.attendee_name = name;
    p.attendee_email = email;
    p.sessions = pk->sessions;
    p.valid_days = pk->valid_days;
    p.amount_minor = pk->price_minor;
    memcpy(p.currency, pk->currency, sizeof(p.currency));
    p.status = BK_PURCHASE_AWAITING;
    p.session_expires_utc = now_utc + BK_PACKAGE_SESSION_S;
    p.created_utc = p.updated_utc = now_utc;
    if ((e = bk_store_purchase_insert(tx, &p, &p.id, err)))
        goto out;
    e = bk_store_job_enqueue(
        tx, BK_PACKAGE_CHECKOUT_KIND,
        bk_arena_printf(arena, BK_PACKAGE_CHECKOUT_KIND ":%s", uid),
        bk_ledger_json(arena, json_pack("{s:s}", "purchase_uid", uid)),
        bk_now_ms(), max_attempts > 0 ? max_attempts : DEFAULT_ATTEMPTS,
        bk_now_ms(), job, &existed, err);
    if (!e)
        e = bk_store_purchase_get(tx, NULL, p.id, arena, out, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
out:
    bk_store_rollback(tx);
    return e;
}

enum bk_err bk_ledger_package_checkout(struct bk_store *store, const char *slug,
                                       const char *name, const char *email,
                                       int max_attempts, int64_t now_utc,
                                       struct bk_arena *arena,
                                       struct bk_package_purchase *out,
                                       int64_t *job, struct bk_errbuf *err)
{
    enum bk_err e;

    BK_STORE_RETRY(e, checkout_once(store, slug, name, email, max_attempts,
                                    now_utc, arena, out, job, err));
    return e;
}

static enum bk_err load(struct bk_tx *tx, const char *uid,
                        struct bk_arena *arena, struct bk_package_purchase *p,
                        struct bk_errbuf *err)
{
    enum bk_err e = bk_store_purchase_get(tx, uid, 0, arena, p, err);

    if (!e)
        e = bk_store_purchase_lock(tx, p->id, err);
    if (!e)
        e = bk_store_purchase_get(tx, NULL, p->id, arena, p, err);
    return e;
}

enum bk_err bk_ledger_package_session(struct bk_tx *tx, const char *uid,
                                      const char *session_id, const char *url,
                                      int64_t now_utc, struct bk_arena *arena,
                                      struct bk_errbuf *err)
{
    struct bk_package_purchase p;
    enum bk_err e = load(tx, uid, arena, &p, err);

    if (e || p.session_id)
        return e;
    p.session_id = session_id;
    p.checkout_url = url;
    p.last_error = NULL;
    p.updated_utc = now_utc;
    return bk_store_purchase_update(tx, &p, err);
}

enum bk_err bk_ledger_package_error(struct bk_tx *tx, const char *uid,
                                    const char *error, int64_t now_utc,
                                    struct bk_arena *arena,
                                    struct bk_errbuf *err)
{
    struct bk_package_purchase p;
    enum bk_err e = load(tx, uid, arena, &p, err);

    if (e || p.session_id)
        return e;
    p.last_error = error;
    p.updated_utc = now_utc;
    return bk_store_purchase_update(tx, &p, err);
}

static void event_of(struct bk_ledger_event *ev, enum bk_ledger_event_kind k,
                     const struct bk_package_purchase *p, int64_t now_utc)
{
    bk_ledger_event_init(ev, k, now_utc, "system");
    ev->source = "stripe";
    ev->client_id = p->client_id;
}

/* The payment of purchase p arrived: its credits. */
static enum bk_err grant(struct bk_tx *tx, const struct bk_ext_payment *pay,
                         struct bk_package_purchase *p, int64_t now_utc,
                         struct bk_arena *arena, struct bk_sync_outcome *out,
                         struct bk_errbuf *err)
{
    struct bk_ledger_event ev;
    bool existed = false;
    int64_t job = 0;
    enum bk_err e;

    if (p->status == BK_PURCHASE_PAID || p->status == BK_PURCHASE_REFUNDED) {
        out->note = "already paid";
        return BK_OK;
    }
    p->status = BK_PURCHASE_PAID;
    if (pay->session_id && !p->session_id)
        p->session_id = pay->session_id;
    p->payment_intent = pay->payment_intent;
    p->paid_utc = now_utc;
    p->credits_expire_utc = now_utc + (int64_t)p->valid_days * BK_SECS_PER_DAY;
    p->updated_utc = now_utc;
    if ((e = bk_ledger_invoice_purchase(tx, p, now_utc, arena,
                                        &p->invoice_number, err)) ||
        (e = bk_store_purchase_update(tx, p, err)) ||
        (e = bk_store_credit_grant(tx, p->id, p->client_id, p->sessions,
                                   p->credits_expire_utc, now_utc, err)))
        return e;
    event_of(&ev, BK_LEV_PAYMENT_COMPLETED, p, now_utc);
    ev.detail = bk_ledger_json(
        arena,
        json_pack("{s:I, s:s, s:s?, s:s?, s:s}", "amount",
                  (json_int_t)(pay->amount_minor ? pay->amount_minor
                                                 : p->amount_minor),
                  "currency", pay->currency ? pay->currency : p->currency,
                  "session", pay->session_id, "payment_intent",
                  pay->payment_intent, "package_purchase", p->uid));
    if ((e = bk_ledger_emit(tx, &ev, err)))
        return e;
    event_of(&ev, BK_LEV_PACKAGE_PURCHASED, p, now_utc);
    ev.detail = bk_ledger_json(
        arena,
        json_pack("{s:s, s:s, s:i, s:s, s:I, s:s}", "package", p->package_slug,
                  "purchase", p->uid, "sessions", p->sessions, "expires",
                  bk_ledger_iso(arena, p->credits_expire_utc), "amount",
                  (json_int_t)p->amount_minor, "currency", p->currency));
    if ((e = bk_ledger_emit(tx, &ev, err)))
        return e;
    /* The buyer's email with the credit code (mail/package.c). */
    e = bk_store_job_enqueue(
        tx, BK_PACKAGE_MAIL_KIND,
        bk_arena_printf(arena, BK_PACKAGE_MAIL_KIND ":%s", p->uid),
        bk_ledger_json(arena, json_pack("{s:s}", "purchase_uid", p->uid)),
        bk_now_ms(), DEFAULT_ATTEMPTS, bk_now_ms(), &job, &existed, err);
    if (e)
        return e;
    /* The daily expiry job's run of the day these credits expire, due at
     * that moment (connectors/packages.h). */
    e = bk_store_job_enqueue(
        tx, BK_PACKAGES_EXPIRE_KIND,
        bk_arena_printf(arena, BK_PACKAGES_EXPIRE_KIND ":%lld",
                        (long long)(p->credits_expire_utc / BK_SECS_PER_DAY)),
        NULL, p->credits_expire_utc * 1000, DEFAULT_ATTEMPTS, bk_now_ms(), &job,
        &existed, err);
    if (e)
        return e;
    out->action = "credits_granted";
    return BK_OK;
}

static enum bk_err refunded(struct bk_tx *tx, struct bk_package_purchase *p,
                            int64_t now_utc, struct bk_arena *arena,
                            struct bk_sync_outcome *out, struct bk_errbuf *err)
{
    struct bk_ledger_event ev;
    int n = 0;
    enum bk_err e;

    if (p->status == BK_PURCHASE_REFUNDED) {
        out->note = "already refunded";
        return BK_OK;
    }
    if (p->status != BK_PURCHASE_PAID)
        return bk_fail(err, BK_E_RETRY,
                       "a refund of package purchase %s, whose payment is not "
                       "recorded yet",
                       p->uid);
    (void)n;
    p->status = BK_PURCHASE_REFUNDED;
    p->updated_utc = now_utc;
    /* Its unused credits end now (a used one stays with its booking). */
    p->credits_expire_utc = now_utc;
    if ((e = bk_store_purchase_update(tx, p, err)) ||
        (e = bk_store_credit_expire_purchase(tx, p->id, now_utc, err)) ||
        (p->invoice_number &&
         (e = bk_ledger_invoice_purchase_refunded(tx, p->invoice_number,
                                                  now_utc, arena, err))))
        return e;
    event_of(&ev, BK_LEV_REFUND_ISSUED, p, now_utc);
    ev.detail = bk_ledger_json(arena, json_pack("{s:I, s:s, s:s}", "amount",
                                                (json_int_t)p->amount_minor,
                                                "currency", p->currency,
                                                "package_purchase", p->uid));
    out->action = "refunded";
    return bk_ledger_emit(tx, &ev, err);
}

enum bk_err bk_ledger_package_apply(struct bk_tx *tx,
                                    const struct bk_ext_event *x,
                                    int64_t now_utc, struct bk_arena *arena,
                                    struct bk_sync_outcome *out,
                                    struct bk_errbuf *err)
{
    const struct bk_ext_payment *pay = &x->payment;
    struct bk_package_purchase p;
    enum bk_err e;

    memset(out, 0, sizeof(*out));
    e = bk_store_purchase_get(tx, pay->booking_uid, 0, arena, &p, NULL);
    if (e)
        return e;
    if ((e = load(tx, pay->booking_uid, arena, &p, err)))
        return e;
    out->action = "unchanged";
    switch (x->kind) {
    case BK_EXT_PAYMENT_COMPLETED:
        if (pay->payment_status && strcmp(pay->payment_status, "unpaid") == 0) {
            out->note = "awaiting a delayed payment";
            return BK_OK;
        }
        return grant(tx, pay, &p, now_utc, arena, out, err);
    case BK_EXT_PAYMENT_SUCCEEDED:
        return grant(tx, pay, &p, now_utc, arena, out, err);
    case BK_EXT_PAYMENT_FAILED:
    case BK_EXT_PAYMENT_EXPIRED:
        if (p.status != BK_PURCHASE_AWAITING) {
            out->note = "not awaiting payment";
            return BK_OK;
        }
        p.status = BK_PURCHASE_EXPIRED;
        p.updated_utc = now_utc;
        out->action = "expired";
        return bk_store_purchase_update(tx, &p, err);
    case BK_EXT_PAYMENT_REFUNDED:
        if (pay->refunded_minor && pay->amount_minor &&
            pay->refunded_minor < pay->amount_minor) {
            out->note = "a partial refund";
            return BK_OK;
        }
        return refunded(tx, &p, now_utc, arena, out, err);
    default:
        break;
    }
    return bk_fail(err, BK_E_INVALID, "not a payment event");
}

enum bk_err bk_ledger_credit_use(struct bk_tx *tx, const struct bk_booking *b,
                                 const struct bk_event_type *et,
                                 const char *purchase_uid, int64_t now_utc,
                                 struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_package_purchase p;
    struct bk_package *pk = NULL;
    struct bk_ledger_event ev;
    int64_t credit = 0;
    size_t n = 0;
    bool covers = false;
    enum bk_err e = bk_store_purchase_get(tx, purchase_uid, 0, arena, &p, NULL);

    if (e == BK_E_NOT_FOUND ||
        (!e && strcasecmp(p.attendee_email, b->attendee_email) != 0))
        return bk_fail(err, BK_E_FORBIDDEN,
                       "this credit code is not for %s: use the email the "
                       "package was bought with",
                       b->attendee_email);
    if (e)
        return e;
    if (p.status != BK_PURCHASE_PAID)
        return bk_fail_field(
            err, BK_E_INVALID, "use_credit",
            "the package of this credit code is %s",
            p.status == BK_PURCHASE_AWAITING
                ? "not paid yet"
                : (p.status == BK_PURCHASE_REFUNDED ? "refunded" : "not paid"));
    if ((e = bk_store_package_list(tx, false, p.package_slug, 0, 1, arena, &pk,
                                   &n, err)))
        return e;
    for (int i = 0; n == 1 && i < pk->n_event_types; i++)
        if (pk->event_type_ids[i] == et->id)
            covers = true;
    if (!covers)
        return bk_fail_field(err, BK_E_INVALID, "use_credit",
                             "package '%s' does not cover event type '%s'",
                             p.package_slug, et->slug);
    e = bk_store_credit_take(tx, p.id, b->id, now_utc, &credit, err);
    if (e == BK_E_NOT_FOUND) {
        e = bk_fail(err, BK_E_CONFLICT,
                    "no credit left on package '%s' (every credit is used "
                    "or expired)",
                    p.package_slug);
        bk_errbuf_code(err, "no_credit_left");
        return e;
    }
    if (e)
        return e;
    bk_ledger_event_init(&ev, BK_LEV_CREDIT_USED, now_utc, "attendee");
    ev.source = "web";
    ev.booking_id = b->id;
    ev.client_id = b->client_id;
    ev.host_id = b->host_id;
    ev.event_type_id = b->event_type_id;
    ev.detail = bk_ledger_json(
        arena, json_pack("{s:s, s:s, s:I}", "package", p.package_slug,
                         "purchase", p.uid, "credit", (json_int_t)credit));
    return bk_ledger_emit(tx, &ev, err);
}

enum bk_err bk_ledger_credit_cancelled(struct bk_tx *tx, struct bk_booking *b,
                                       int64_t now_utc, struct bk_arena *arena,
                                       int *returned, struct bk_errbuf *err)
{
    struct bk_event_type et;
    int64_t credit, purchase, expires;
    enum bk_err e = bk_store_credit_of_booking(tx, b->id, &credit, &purchase,
                                               &expires, NULL);

    *returned = -1;
    if (e == BK_E_NOT_FOUND)
        return BK_OK;
    if (e ||
        (e = bk_store_event_type_get(tx, b->event_type_id, arena, &et, err)))
        return e;
    *returned = 0;
    if (bk_payment_refund_due(&et, 1, b->start_utc, now_utc, NULL) < 1)
        return BK_OK; /* outside the policy: the credit is spent */
    if ((e = bk_store_credit_return(tx, credit, now_utc, err)))
        return e;
    *returned = 1;
    b->payment_status = BK_PAYMENT_REFUNDED;
    b->updated_utc = now_utc;
    return bk_store_booking_update(tx, b, err);
}
