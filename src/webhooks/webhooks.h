/* webhooks/webhooks.h — inbound providers and the intake of their
 * deliveries. A provider is one const table row of its name, display name,
 * source and three steps (verify, identify, normalize) in its own file
 * (calcom.c) plus one line in registry.c; docs/adding-a-provider.md walks
 * through it. The intake (intake.c) runs the steps on one delivery: the
 * body is parsed once, and the normalized event is stored with the
 * delivery for the apply job (apply.c). api/webhooks.c is only the HTTP
 * glue around bk_webhooks_intake. Provider steps are pure over their input
 * (no I/O, no clock) and thread-safe. */
#ifndef BK_WEBHOOKS_WEBHOOKS_H
#define BK_WEBHOOKS_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/arena.h"
#include "base/err.h"
#include "core/booking.h"
#include "core/event.h"
#include "jobs/inbox.h"
#include "jobs/jobs.h"

/* A received request as the intake sees it: the exact bytes and a header
 * lookup (case-insensitive; NULL when absent). */
struct bk_webhook_input {
    const char *body;
    size_t body_len;
    const char *(*header)(void *ctx, const char *name);
    void *header_ctx;
    int64_t now_utc;         /* for timestamp tolerance checks */
    const char *remote_addr; /* for logs; may be NULL */
};

/* What a delivery is, from its parsed body alone. */
struct bk_webhook_id {
    const char *delivery_key; /* the provider's delivery id, or one made
                                 from the body; NULL: the intake keys it by
                                 the body's hash */
    const char *type;         /* the provider's event name; may be NULL */
    const char *subject;      /* the provider object it is about (a
                                 booking uid); may be NULL */
    bool known;               /* a type this provider normalizes */
};

struct bk_webhook_provider {
    /* POST /webhooks/<name>; links' namespace; the slug prefix of imported
     * hosts and event types ("calcom-..."). [a-z0-9_]. */
    const char *name;
    const char *display_name; /* for people: "Imported from Cal.com" */
    const char *secret_env;   /* the environment variable with the secret */
    enum bk_source source;    /* of the bookings its events create */
    /* A delivery that verifies but can never be applied (stored as failed)
     * is answered 200 with status "failed" instead of 400/422: for a
     * provider that disables its subscription after a day of non-2xx
     * answers (Calendly), where one bad payload must not cut off every
     * later one. The admin sees it in the inbox either way. */
    bool ack_failed;
    /* BK_OK when the signature over the raw body is right;
     * BK_E_UNAUTHORIZED (with a reason in err) otherwise. */
    enum bk_err (*verify)(const struct bk_webhook_input *in, const char *secret,
                          struct bk_errbuf *err);
    /* Delivery key, type and subject of the parsed body (a JSON object,
     * borrowed). BK_E_INVALID (err->field) when a field the key needs is
     * wrong. Strings in arena. */
    enum bk_err (*identify)(const json_t *doc, struct bk_arena *arena,
                            struct bk_webhook_id *out, struct bk_errbuf *err);
    /* The parsed body of a known type as a core event; the provider starts
     * it with bk_webhooks_event_init (its row's name, display name and
     * source). BK_E_MALFORMED or BK_E_INVALID (err->field names the payload
     * field) when it cannot be applied; both are permanent. Strings in
     * arena. */
    enum bk_err (*normalize)(const json_t *doc, struct bk_arena *arena,
                             struct bk_ext_event *out, struct bk_errbuf *err);
    /* Optional: a verified body that is a handshake rather than an event
     * (Zoom's endpoint.url_validation) gets this answer (an owned JSON
     * object, sent with 200) and is not stored; NULL for anything else. */
    json_t *(*challenge)(const json_t *doc, const char *secret);
    /* Optional: whether an unsigned request is the provider's set-up
     * handshake (Notion's {"verification_token"}), which arrives before
     * the secret can be configured: it is handled here (logged), answered
     * 200 {"received": true} and not stored, whether or not the secret is
     * set. Must look at nothing but the request. */
    bool (*handshake)(const struct bk_webhook_input *in);
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

/* Whether name is a provider this build knows: one of the built-in table,
 * or one the roadmap names whose ids may be recorded before its
 * integration exists (stripe, zoom, google, caldav, notion).
 * Event types' external_ids accept these names only. */
bool bk_webhooks_provider_known(const char *name);
/* Those names, comma-separated, for messages; in arena. */
const char *bk_webhooks_provider_names(struct bk_arena *arena);

/* Starts ev for a provider: zeroes it, sets kind and the row's name,
 * display name and source. */
void bk_webhooks_event_init(struct bk_ext_event *ev,
                            const struct bk_webhook_provider *p,
                            enum bk_ext_kind kind);

/* Parses a body once: a JSON object without duplicate keys.
 * BK_E_MALFORMED otherwise. Returns an owned json_t (json_decref). */
BK_MUST_CHECK enum bk_err bk_webhooks_parse(const char *body, size_t len,
                                            json_t **out,
                                            struct bk_errbuf *err);

/* The fallback delivery key of a body: "sha256:" + its hex SHA-256, in
 * arena. A resend of the same bytes is then a replay. */
const char *bk_webhooks_body_key(const char *body, size_t len,
                                 struct bk_arena *arena);

/* ---- Normalized events as stored with a delivery (event.c) ------------ */

/* The version of the stored form; a stored event of another version is
 * not read (the apply job normalizes the payload again). */
#define BK_EXT_EVENT_VERSION 1

/* ev as JSON text in arena: {"version": 1, "kind": "created",
 * "provider": "calcom", "booking": {...}}; absent fields are left out. */
const char *bk_webhooks_event_encode(const struct bk_ext_event *ev,
                                     struct bk_arena *arena);
/* The event stored as text; provider, display name and source come from p
 * (the delivery's provider row), not from the text. BK_E_INVALID when the
 * text is not a stored event of BK_EXT_EVENT_VERSION (or of p). Strings
 * in arena. */
BK_MUST_CHECK enum bk_err
bk_webhooks_event_decode(const char *text, const struct bk_webhook_provider *p,
                         struct bk_arena *arena, struct bk_ext_event *ev,
                         struct bk_errbuf *err);

/* ---- Intake (intake.c) -------------------------------------------------- */

/* What the intake stored. */
struct bk_webhook_intake {
    const struct bk_webhook_provider *provider;
    const char *delivery; /* its public id, in arena */
    const char *type;     /* the provider's event name; may be NULL */
    bool duplicate;       /* a replay: the stored row was left as it was */
    /* Stored as received (to be applied), ignored (a type the provider
     * does not apply) or failed (see problem). */
    enum bk_delivery_status status;
    /* Why it was stored as failed (BK_E_MALFORMED: not JSON; BK_E_INVALID:
     * a field, in why.field); BK_OK otherwise. The provider should not
     * send it again: the answer is a 4xx. */
    enum bk_err problem;
    struct bk_errbuf why;
    /* The provider's challenge answer, given to done at once (owned: done
     * sends or json_decrefs it); nothing was stored. NULL otherwise. */
    json_t *challenge;
};

/* The intake's answer for one delivery: e is BK_OK once it is stored
 * durably (out tells how; valid during the call, its strings in the
 * intake's arena), or BK_E_UNAVAILABLE when the inbox could not store it
 * (err says so; the provider should send it again). */
typedef void (*bk_webhooks_done_fn)(void *ctx, enum bk_err e,
                                    const struct bk_webhook_intake *out,
                                    const struct bk_errbuf *err);

/* Takes one delivery for provider `name`: checks it is configured,
 * verifies the signature on the raw bytes, checks the content type, parses
 * the body once, identifies and normalizes it, and hands it with its
 * normalized event to the inbox, which stores it durably (DESIGN.md
 * principle 2) and only then answers: done(ctx, ...) is called exactly
 * once, on the inbox's committer thread, after the batch holding the
 * delivery committed (or failed). The caller does not wait: an HTTP
 * request is deferred meanwhile (api/webhooks.c).
 *
 * Returns an error at once, nothing stored and done never called:
 * BK_E_NOT_FOUND (no such provider), BK_E_UNAVAILABLE (its secret is not
 * set: code "not_configured"; or the inbox's queue is full: the provider
 * should send it again), BK_E_UNAUTHORIZED (signature),
 * BK_E_UNSUPPORTED_MEDIA (not application/json). BK_OK: done will be
 * called (perhaps before this returns). A delivery that verifies but
 * cannot be applied is stored as failed, for an admin, with out->problem
 * set. reg, inbox and in are borrowed; in's body, arena and ctx must stay
 * valid until done has been called. Thread-safe. */
BK_MUST_CHECK enum bk_err
bk_webhooks_intake(const struct bk_webhook_registry *reg,
                   struct bk_inbox *inbox, const char *name,
                   const struct bk_webhook_input *in, struct bk_arena *arena,
                   bk_webhooks_done_fn done, void *ctx, struct bk_errbuf *err);

/* ---- Applying (apply.c) ------------------------------------------------- */

/* The "inbox.apply" job kind: loads a stored delivery, takes its stored
 * normalized event (or, for a delivery stored without one, parses and
 * normalizes the payload with its provider) and applies it to the ledger
 * in one transaction together with the delivery's new status and the
 * job's completion. reg is borrowed. */
void bk_webhooks_apply_kind(const struct bk_webhook_registry *reg,
                            struct bk_job_kind *out);

extern const struct bk_webhook_provider bk_webhook_calcom;
extern const struct bk_webhook_provider bk_webhook_calendly;
extern const struct bk_webhook_provider bk_webhook_stripe;
extern const struct bk_webhook_provider bk_webhook_zoom;
extern const struct bk_webhook_provider bk_webhook_notion;

#endif
