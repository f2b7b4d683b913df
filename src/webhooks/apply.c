/* webhooks/apply.c — the "inbox.apply" job: a stored delivery into the
 * ledger. The event is the one normalized at intake and stored with the
 * delivery; a delivery stored before that existed (schema version 1) is
 * parsed and normalized here, once per attempt. The ledger change, the
 * delivery's new status and the job's completion commit together, so a
 * delivery is applied exactly once however often the job runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhooks/webhooks.h"
#include "base/fault.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "jobs/inbox.h"
#include "ledger/sync.h"
#include "base/banned.h"

static enum bk_err delivery_of(struct bk_store *store, const struct bk_job *job,
                               struct bk_arena *arena, struct bk_delivery *d,
                               struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    int64_t id;
    enum bk_err e;

    if (bk_parse_i64(job->payload, 1, INT64_MAX, &id) != BK_OK)
        return bk_fail(err, BK_E_INVALID,
                       "job payload '%s' is not a "
                       "delivery id",
                       job->payload);
    e = bk_store_begin(store, BK_TX_READ, &tx, err);
    if (!e)
        e = bk_store_delivery_get(tx, id, arena, d, err);
    bk_store_rollback(tx);
    return e;
}

/* The delivery's one transaction: the event into the ledger, waiting
 * deliveries woken, the delivery's status and its job's completion. */
static enum bk_err apply_once(struct bk_store *store, const struct bk_job *job,
                              const struct bk_delivery *d, bool known,
                              const struct bk_ext_event *ev,
                              enum bk_delivery_status status,
                              struct bk_arena *arena,
                              struct bk_sync_outcome *outcome, int *woken,
                              struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e;

    memset(outcome, 0, sizeof(*outcome));
    *woken = 0;
    e = bk_store_begin(store, BK_TX_WRITE, &tx, err);
    if (e)
        return e;
    if (known)
        e = bk_ledger_sync_apply(tx, ev, bk_now_utc(), arena, outcome, err);
    /* Deliveries that waited for this booking to be known (a cancellation
     * that arrived before its creation) are due now, even dead ones. */
    if (!e && known)
        e = bk_store_delivery_wake(tx, d->provider, bk_ext_event_subject(ev),
                                   d->id, bk_now_ms(), woken, err);
    if (!e)
        e = bk_store_delivery_set_status(tx, d->id, status, NULL, bk_now_ms(),
                                         job->id, err);
    if (!e)
        e = bk_jobs_finish(tx, job, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

/* The event of a delivery stored without a normalized one: its payload,
 * parsed and normalized now. *known is false for a type the provider does
 * not apply. */
static enum bk_err normalize_payload(const struct bk_webhook_provider *p,
                                     const struct bk_delivery *d,
                                     struct bk_arena *arena, bool *known,
                                     struct bk_ext_event *ev,
                                     struct bk_errbuf *err)
{
    struct bk_webhook_id id;
    json_t *doc = NULL;
    enum bk_err e;

    *known = false;
    e = bk_webhooks_parse(d->payload, d->payload_len, &doc, err);
    if (!e)
        e = p->identify(doc, arena, &id, err);
    if (!e && id.known) {
        *known = true;
        e = p->normalize(doc, arena, ev, err);
    }
    json_decref(doc);
    return e;
}

static enum bk_err run(void *ctx, struct bk_store *store,
                       const struct bk_job *job, struct bk_arena *arena,
                       struct bk_errbuf *err)
{
    const struct bk_webhook_registry *reg = ctx;
    const struct bk_webhook_provider *p;
    struct bk_delivery d;
    struct bk_ext_event ev;
    struct bk_sync_outcome outcome;
    enum bk_delivery_status status = BK_DELIVERY_PROCESSED;
    bool known = true;
    int woken = 0;
    enum bk_err e;

    memset(&outcome, 0, sizeof(outcome));
    memset(&ev, 0, sizeof(ev));
    e = delivery_of(store, job, arena, &d, err);
    if (e)
        return e;
    p = bk_webhooks_find(reg, d.provider, NULL);
    if (!p)
        return bk_fail(err, BK_E_INVALID, "no provider '%s' in this build",
                       d.provider);
    if (!d.normalized ||
        bk_webhooks_event_decode(d.normalized, p, arena, &ev, NULL) != BK_OK)
        e = normalize_payload(p, &d, arena, &known, &ev, err);
    if (e) {
        if (err && err->field[0]) {
            char msg[sizeof(err->msg) + sizeof(err->field) + 2];
            snprintf(msg, sizeof(msg), "%s: %s", err->field, err->msg);
            bk_strlcpy(err->msg, msg, sizeof(err->msg));
        }
        return e;
    }
    if (!known)
        status = BK_DELIVERY_IGNORED;

    if (bk_fault("inbox.apply"))
        return bk_fail(err, BK_E_IO, "injected fault: inbox.apply");
    BK_STORE_RETRY(e, apply_once(store, job, &d, known, &ev, status, arena,
                                 &outcome, &woken, err));
    if (!e)
        bk_log_info("inbox: %s delivery %s (%s) %s%s%s%s", d.provider,
                    d.public_id, d.type ? d.type : "?",
                    known ? outcome.action : "ignored",
                    outcome.booking_uid ? " booking " : "",
                    outcome.booking_uid ? outcome.booking_uid : "",
                    woken ? "; woke deliveries waiting for it" : "");
    return e;
}

static enum bk_err on_dead(void *ctx, struct bk_tx *tx,
                           const struct bk_job *job, const char *error,
                           struct bk_errbuf *err)
{
    int64_t id;

    (void)ctx;
    if (bk_parse_i64(job->payload, 1, INT64_MAX, &id) != BK_OK)
        return BK_OK; /* nothing to mark */
    return bk_store_delivery_set_status(tx, id, BK_DELIVERY_FAILED, error,
                                        bk_now_ms(), job->id, err);
}

void bk_webhooks_apply_kind(const struct bk_webhook_registry *reg,
                            struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = BK_INBOX_APPLY_KIND;
    out->run = run;
    out->on_dead = on_dead;
    out->ctx = (void *)reg;
}
