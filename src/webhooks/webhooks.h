/* webhooks/webhooks.h — inbound providers: verify, identify, normalize.
 * A provider is one const table of function pointers in its own file
 * (calcom.c) plus one line in registry.c; docs/adding-a-provider.md walks
 * through it. Every function here is pure over its input (no I/O, no
 * clock) and thread-safe. */
#ifndef BK_WEBHOOKS_WEBHOOKS_H
#define BK_WEBHOOKS_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "core/booking.h"
#include "core/event.h"
#include "jobs/jobs.h"

/* A received request as a verifier sees it: the exact bytes and a header
 * lookup (case-insensitive; NULL when absent). */
struct bk_webhook_input {
    const char *body;
    size_t body_len;
    const char *(*header)(void *ctx, const char *name);
    void *header_ctx;
    int64_t now_utc; /* for timestamp tolerance checks */
};

/* What a delivery is, from its body alone. */
struct bk_webhook_id {
    const char *delivery_key; /* the provider's delivery id, or ours */
    const char *type;         /* the provider's event name; may be NULL */
    const char *subject;      /* the provider object it is about (a
                                 booking uid); may be NULL */
    bool known;               /* a type this provider applies */
};

struct bk_webhook_provider {
    const char *name;       /* POST /webhooks/<name>; links' namespace */
    const char *secret_env; /* the environment variable with the secret */
    enum bk_source source;  /* bookings it creates */
    /* BK_OK when the signature over the raw body is right;
     * BK_E_UNAUTHORIZED (with a reason in err) otherwise. */
    enum bk_err (*verify)(const struct bk_webhook_input *in, const char *secret,
                          struct bk_errbuf *err);
    /* Delivery key and type. BK_E_MALFORMED when the body is not JSON of
     * the provider's shape, BK_E_INVALID (err->field) when a field the
     * key needs is wrong. Strings in arena. */
    enum bk_err (*identify)(const char *body, size_t len,
                            struct bk_arena *arena, struct bk_webhook_id *out,
                            struct bk_errbuf *err);
    /* The payload of a known type as a core event. BK_E_MALFORMED or
     * BK_E_INVALID (err->field names the payload field) when it cannot
     * be applied; both are permanent. Strings in arena. */
    enum bk_err (*normalize)(const char *body, size_t len,
                             struct bk_arena *arena, struct bk_ext_event *out,
                             struct bk_errbuf *err);
};

#define BK_WEBHOOKS_MAX 8

/* The providers this build has, with their secrets read from the
 * environment once at start (NULL: not configured). */
struct bk_webhook_registry {
    struct {
        const struct bk_webhook_provider *provider;
        const char *secret; /* borrowed from the environment */
    } entries[BK_WEBHOOKS_MAX];
    size_t n;
};

/* Fills reg from the built-in provider table and the environment. */
void bk_webhooks_init(struct bk_webhook_registry *reg);

/* The provider named name and its secret (NULL when unset), or NULL. */
const struct bk_webhook_provider *
bk_webhooks_find(const struct bk_webhook_registry *reg, const char *name,
                 const char **secret);

/* The fallback delivery key of a body: "sha256:" + its hex SHA-256, in
 * arena. A resend of the same bytes is then a replay. */
const char *bk_webhooks_body_key(const char *body, size_t len,
                                 struct bk_arena *arena);

/* The "inbox.apply" job kind: loads a stored delivery, normalizes it with
 * its provider and applies it to the ledger in one transaction together with
 * the delivery's new status and the job's completion. reg is borrowed. */
void bk_webhooks_apply_kind(const struct bk_webhook_registry *reg,
                            struct bk_job_kind *out);

extern const struct bk_webhook_provider bk_webhook_calcom;

#endif
