/* webhooks/apply.c — the "inbox.apply" job: a stored delivery into the
 * ledger. Normalizing is pure and repeatable; the ledger change, the
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
static enum bk_err
apply_once(struct bk_store *store, const struct bk_job *job,
           const struct bk_delivery *d, const struct bk_webhook_id *id,
           const struct bk_ext_event *ev, enum bk_delivery_status status,
           struct bk_arena *arena, struct bk_sync_outcome *outcome, int *woken,
           struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e;

    memset(outcome, 0, sizeof(*outcome));
    *woken = 0;
    e = bk_store_begin(store, BK_TX_WRITE, &tx, err);
    if (e)
        return e;
    if (id->known)
        e = bk_ledger_sync_apply(tx, ev, bk_now_utc(), arena, outcome, err);
    /* Deliveries that waited for this booking to be known (a cancellation
     * that arrived before its creation) are due now, even dead ones. */
    if (!e && id->known)
        e = bk_store_delivery_wake(tx, d->provider, ev->uid, d->id, bk_now_ms(),
                                   woken, err);
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

static enum bk_err run(void *ctx, struct bk_store *store,
                       const struct bk_job *job, struct bk_arena *arena,
                       struct bk_errbuf *err)
{
    const struct bk_webhook_registry *reg = ctx;
    const struct bk_webhook_provider *p;
    struct bk_delivery d;
    struct bk_webhook_id id;
    struct bk_ext_event ev;
    struct bk_sync_outcome outcome;
    enum bk_delivery_status status = BK_DELIVERY_PROCESSED;
    int woken = 0;
    enum bk_err e;

    memset(&outcome, 0, sizeof(outcome));
    e = delivery_of(store, job, arena, &d, err);
    if (e)
        return e;
    p = bk_webhooks_find(reg, d.provider, NULL);
    if (!p)
        return bk_fail(err, BK_E_INVALID, "no provider '%s' in this build",
                       d.provider);
    e = p->identify(d.payload, d.payload_len, arena, &id, err);
    if (e)
        return e;
    if (id.known) {
        e = p->normalize(d.payload, d.payload_len, arena, &ev, err);
        if (e) {
            if (err && err->field[0]) {
                char msg[sizeof(err->msg) + sizeof(err->field) + 2];
                snprintf(msg, sizeof(msg), "%s: %s", err->field, err->msg);
                bk_strlcpy(err->msg, msg, sizeof(err->msg));
            }
            return e;
        }
    } else {
        status = BK_DELIVERY_IGNORED;
    }

    if (bk_fault("inbox.apply"))
        return bk_fail(err, BK_E_IO, "injected fault: inbox.apply");
    BK_STORE_RETRY(e, apply_once(store, job, &d, &id, &ev, status, arena,
                                 &outcome, &woken, err));
    if (!e)
        bk_log_info("inbox: %s delivery %s (%s) %s%s%s%s", d.provider,
                    d.public_id, d.type ? d.type : "?",
                    id.known ? outcome.action : "ignored",
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
