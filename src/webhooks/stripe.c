/* webhooks/stripe.c — Stripe webhooks (PROVIDERS.md §1).
 * Signature: Stripe-Signature is "t=<unix>,v1=<hex>[,v1=<hex>...]": the
 * lowercase hex HMAC-SHA256 of "<t>.<raw body>" keyed with the endpoint
 * secret as shown ("whsec_..." included, not decoded). Any v1 may match
 * (one per active secret while one is rolled); other schemes (v0, the
 * test-mode decoy) are ignored. The timestamp must be at most 300 s old
 * (Stripe's default tolerance) and, as a guard against clocks set far
 * ahead, at most 300 s in the future. The delivery key is the event id
 * (evt_...), so a resent event is a replay. Events are applied to the
 * booking named by the session's metadata[booking_uid] (or its
 * client_reference_id), the charge's metadata[booking_uid] for refunds;
 * events about other objects of the account are stored as ignored. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "webhooks/webhooks.h"
#include "webhooks/fields.h"
#include "base/str.h"
#include "core/ledger.h"
#include "crypto/crypto.h"
#include "base/banned.h"

#define TOLERANCE_S    300
#define MAX_HEADER     4096
#define MAX_SIGNATURES 8
#define MAX_ID         255
#define MAX_TYPE       100

static enum bk_err verify(const struct bk_webhook_input *in, const char *secret,
                          struct bk_errbuf *err)
{
    enum bk_err e;
    const char *h = in->header(in->header_ctx, "Stripe-Signature");
    unsigned char sigs[MAX_SIGNATURES][BK_SHA256_LEN], want[BK_SHA256_LEN];
    char ts[24] = "";
    size_t n_sigs = 0;
    bool has_t = false;
    int64_t t = 0;

    if (!h || !*h)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "missing Stripe-Signature header");
    if (strlen(h) > MAX_HEADER)
        return bk_fail(err, BK_E_UNAUTHORIZED, "Stripe-Signature is too long");
    for (const char *p = h; *p;) {
        const char *end = strchr(p, ','), *eq;
        size_t len = end ? (size_t)(end - p) : strlen(p);

        eq = memchr(p, '=', len);
        if (eq) {
            size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
            const char *v = eq + 1;
            if (klen == 1 && p[0] == 't' && vlen > 0 && vlen < sizeof(ts)) {
                memcpy(ts, v, vlen);
                ts[vlen] = '\0';
                has_t = bk_parse_i64(ts, 0, INT64_MAX / 2, &t) == BK_OK;
            } else if (klen == 2 && p[0] == 'v' && p[1] == '1' &&
                       vlen == 2 * BK_SHA256_LEN && n_sigs < MAX_SIGNATURES) {
                char hex[2 * BK_SHA256_LEN + 1];
                memcpy(hex, v, vlen);
                hex[vlen] = '\0';
                if (bk_hex_decode(hex, sigs[n_sigs], BK_SHA256_LEN))
                    n_sigs++;
            }
        }
        p += len;
        if (*p == ',')
            p++;
    }
    if (!has_t)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "unable to extract the timestamp from "
                       "Stripe-Signature");
    if (!n_sigs)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "no signatures found with the expected scheme (v1) in "
                       "Stripe-Signature");
    if ((e = bk_webhook_check_time("Stripe-Signature", t, in->now_utc,
                                   TOLERANCE_S, err)))
        return e;
    {
        struct bk_iov parts[3] = {
            {ts, strlen(ts)}, {".", 1}, {in->body, in->body_len}};
        bk_hmac_sha256(secret, strlen(secret), parts, 3, want);
    }
    for (size_t i = 0; i < n_sigs; i++)
        if (bk_ct_equal(want, sigs[i], sizeof(want)))
            return BK_OK;
    return bk_fail(err, BK_E_UNAUTHORIZED,
                   "no Stripe-Signature v1 signature matches the body");
}

/* A string of 1..max bytes, or NULL. */
static const char *str(const json_t *obj, const char *key, size_t max)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > max)
        return NULL;
    return json_string_value(v);
}

/* A booking uid as bookingd makes them: [A-Za-z0-9], 1..64. */
static const char *uid_of(const char *s)
{
    if (!s || strlen(s) > 64)
        return NULL;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              (*p >= '0' && *p <= '9')))
            return NULL;
    return s;
}

static const char *const types[] = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
};
static const enum bk_ext_kind kinds[] = {
    BK_EXT_PAYMENT_COMPLETED, BK_EXT_PAYMENT_SUCCEEDED, BK_EXT_PAYMENT_FAILED,
    BK_EXT_PAYMENT_EXPIRED,   BK_EXT_PAYMENT_REFUNDED,
};

static int type_index(const char *t)
{
    for (size_t i = 0; t && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(types[i], t) == 0)
            return (int)i;
    return -1;
}

static const json_t *object_of(const json_t *root)
{
    return json_object_get(json_object_get(root, "data"), "object");
}

/* The booking the object is about: metadata[booking_uid], else (a
 * session) client_reference_id. */
static const char *booking_of(const json_t *obj)
{
    const char *u =
        uid_of(str(json_object_get(obj, "metadata"), "booking_uid", 64));
    return u ? u : uid_of(str(obj, "client_reference_id", 64));
}

static enum bk_err identify(const json_t *root, struct bk_arena *arena,
                            struct bk_webhook_id *out, struct bk_errbuf *err)
{
    const char *id = str(root, "id", MAX_ID),
               *type = str(root, "type", MAX_TYPE);
    const json_t *obj = object_of(root);
    const char *uid;

    memset(out, 0, sizeof(*out));
    if (!id || strncmp(id, "evt_", 4) != 0)
        return bk_fail_field(err, BK_E_INVALID, "id",
                             "is required: the event id evt_...");
    if (!type)
        return bk_fail_field(err, BK_E_INVALID, "type",
                             "is required: the event type");
    uid = json_is_object(obj) ? booking_of(obj) : NULL;
    out->delivery_key = bk_arena_strdup(arena, id);
    out->type = bk_arena_strdup(arena, type);
    out->subject = uid ? bk_arena_strdup(arena, uid) : NULL;
    /* A type bookingd applies, about a booking of its own. */
    out->known = type_index(type) >= 0 && uid;
    return BK_OK;
}

static const char *copy(struct bk_arena *arena, const json_t *obj,
                        const char *key, size_t max)
{
    const char *s = str(obj, key, max);
    return s ? bk_arena_strdup(arena, s) : NULL;
}

static enum bk_err normalize(const json_t *root, struct bk_arena *arena,
                             struct bk_ext_event *ev, struct bk_errbuf *err)
{
    const json_t *obj = object_of(root);
    int i = type_index(str(root, "type", MAX_TYPE));
    const char *cur, *ps;
    bool charge;

    if (i < 0)
        return bk_fail_field(err, BK_E_INVALID, "type",
                             "is not a type bookingd applies");
    if (!json_is_object(obj))
        return bk_fail_field(err, BK_E_INVALID, "data.object",
                             "must be an object");
    charge = kinds[i] == BK_EXT_PAYMENT_REFUNDED;
    bk_webhooks_event_init(ev, &bk_webhook_stripe, kinds[i]);
    {
        const char *u = booking_of(obj);
        if (!u)
            return bk_fail_field(err, BK_E_INVALID,
                                 "data.object.metadata.booking_uid",
                                 "names no booking");
        ev->payment.booking_uid = bk_arena_strdup(arena, u);
    }
    if (!charge) {
        const char *id = str(obj, "id", MAX_ID);
        if (!id || strncmp(id, "cs_", 3) != 0)
            return bk_fail_field(err, BK_E_INVALID, "data.object.id",
                                 "must be a Checkout Session id cs_...");
        ev->payment.session_id = bk_arena_strdup(arena, id);
        ps = str(obj, "payment_status", 32);
        if (ps && strcmp(ps, "paid") != 0 && strcmp(ps, "unpaid") != 0 &&
            strcmp(ps, "no_payment_required") != 0)
            return bk_fail_field(err, BK_E_INVALID,
                                 "data.object.payment_status",
                                 "must be paid, unpaid or "
                                 "no_payment_required");
        ev->payment.payment_status = ps ? bk_arena_strdup(arena, ps) : NULL;
        if (json_is_integer(json_object_get(obj, "amount_total")))
            ev->payment.amount_minor =
                json_integer_value(json_object_get(obj, "amount_total"));
    } else {
        if (json_is_integer(json_object_get(obj, "amount")))
            ev->payment.amount_minor =
                json_integer_value(json_object_get(obj, "amount"));
        if (json_is_integer(json_object_get(obj, "amount_refunded")))
            ev->payment.refunded_minor =
                json_integer_value(json_object_get(obj, "amount_refunded"));
    }
    if (ev->payment.amount_minor < 0 || ev->payment.refunded_minor < 0)
        return bk_fail_field(err, BK_E_INVALID, "data.object.amount",
                             "must not be negative");
    ev->payment.payment_intent = copy(arena, obj, "payment_intent", MAX_ID);
    if (ev->payment.payment_intent &&
        strncmp(ev->payment.payment_intent, "pi_", 3) != 0)
        return bk_fail_field(err, BK_E_INVALID, "data.object.payment_intent",
                             "must be a PaymentIntent id pi_...");
    if (charge && !ev->payment.payment_intent)
        return bk_fail_field(err, BK_E_INVALID, "data.object.payment_intent",
                             "is required on a refunded charge");
    cur = str(obj, "currency", 3);
    if (cur && strlen(cur) == 3) {
        char *c = bk_arena_strdup(arena, cur);
        for (int k = 0; k < 3; k++) {
            if (c[k] < 'a' || c[k] > 'z')
                return bk_fail_field(err, BK_E_INVALID, "data.object.currency",
                                     "must be a lower-case ISO 4217 code");
            c[k] = (char)(c[k] - 'a' + 'A');
        }
        ev->payment.currency = c;
    }
    return BK_OK;
}

const struct bk_webhook_provider bk_webhook_stripe = {
    .name = "stripe",
    .display_name = "Stripe",
    .secret_env = "STRIPE_WEBHOOK_SECRET",
    .source = BK_SOURCE_API,
    .verify = verify,
    .identify = identify,
    .normalize = normalize,
};
