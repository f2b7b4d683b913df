/* connectors/stripe.h — the calls bookingd makes to Stripe (PROVIDERS.md
 * §1), as three job kinds of the outbox: "stripe.checkout" creates a
 * booking's Checkout Session (POST /v1/checkout/sessions), "stripe.settle"
 * settles a hold at its end whose webhooks never came (GET the session;
 * expire it when still open), "stripe.refund" gives a payment back (POST
 * /v1/refunds). Each call is form-encoded, authenticated with the secret
 * key, fenced (bk_jobs_fence) and sent with an Idempotency-Key derived from
 * the booking, so a retried job never makes a second session or refund.
 * What the results do to the ledger is ledger/payments.c; Stripe's
 * webhooks are webhooks/stripe.c. docs/payments.md tells the whole flow. */
#ifndef BK_CONNECTORS_STRIPE_H
#define BK_CONNECTORS_STRIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "jobs/jobs.h"

/* Stripe's API unless STRIPE_API_BASE says otherwise. */
#define BK_STRIPE_API_BASE "https://api.stripe.com"

struct bk_stripe_config {
    const char *secret_key; /* STRIPE_SECRET_KEY ("sk_..."); NULL: off */
    const char *api_base;   /* STRIPE_API_BASE, no trailing slash */
    const char *base_url;   /* BOOKINGD_BASE_URL: the manage page's */
    unsigned char manage_secret[32]; /* for the manage links */
    int connect_timeout_ms;
    int timeout_ms; /* one call, whole */
};

/* The job kinds; cfg is borrowed and must outlive the pool. */
void bk_stripe_checkout_kind(const struct bk_stripe_config *cfg,
                             struct bk_job_kind *out);
void bk_stripe_settle_kind(const struct bk_stripe_config *cfg,
                           struct bk_job_kind *out);
void bk_stripe_refund_kind(const struct bk_stripe_config *cfg,
                           struct bk_job_kind *out);
/* "stripe.package": a package purchase's Checkout Session
 * (ledger/packages.h), Idempotency-Key bookingd-package-UID. */
void bk_stripe_package_kind(const struct bk_stripe_config *cfg,
                            struct bk_job_kind *out);

/* Appends "key=value" to a form body (application/x-www-form-urlencoded):
 * "&" between pairs, the value percent-encoded except for unreserved
 * characters (RFC 3986), the key likewise except that "[" and "]" are
 * kept, as Stripe's own clients send them. buf is a growable string in
 * arena (*buf NULL to start). */
void bk_stripe_form_add(struct bk_arena *arena, char **buf, const char *key,
                        const char *value);

#endif
