/* webhooks/apply.c — the "inbox.apply" job: a stored delivery into the
 * ledger. The event is the one normalized at intake and stored with the
 * delivery; a delivery stored before that existed (schema version 1) is
 * parsed and normalized here, once per attempt. The ledger change, the
 * delivery's new status and the job's completion commit together, so a
 * delivery is applied exactly once however often the job runs. The pool
 * hands over the claimed jobs of this kind together (run_batch): their
 * deliveries are read and applied in one write transaction, in claim
 * order, each with its own outcome. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhooks/webhooks.h"
#include "base/fault.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "jobs/inbox.h"
#include "ledger/sync.h"
#include "base/banned.h"

/* One delivery of a batch: its job, the delivery and its event (loaded
 * once, in the first transaction that reaches it), and what applying it
 * did. */
struct item {
    const struct bk_job *job;
    struct bk_arena *arena;
    int64_t id;
    bool loaded, known, done, retried;
    bool in_tx; /* in the last attempt's transaction */
    struct bk_delivery d;
    struct bk_ext_event ev;
    enum bk_delivery_status status;
    struct bk_sync_outcome outcome;
    int woken;
};

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

/* Reads its delivery inside tx and decodes the event stored with it (a
 * delivery stored before normalized events existed is parsed instead). */
static enum bk_err load(const struct bk_webhook_registry *reg, struct bk_tx *tx,
                        struct item *it, struct bk_errbuf *err)
{
    const struct bk_webhook_provider *p;
    enum bk_err e;

    memset(&it->ev, 0, sizeof(it->ev));
    it->known = true;
    e = bk_store_delivery_get(tx, it->id, it->arena, &it->d, err);
    if (e)
        return e;
    p = bk_webhooks_find(reg, it->d.provider, NULL);
    if (!p)
        return bk_fail(err, BK_E_INVALID, "no provider '%s' in this build",
                       it->d.provider);
    if (!it->d.normalized ||
        bk_webhooks_event_decode(it->d.normalized, p, it->arena, &it->ev,
                                 NULL) != BK_OK)
        e = normalize_payload(p, &it->d, it->arena, &it->known, &it->ev, err);
    if (e) {
        if (err && err->field[0]) {
            char msg[sizeof(err->msg) + sizeof(err->field) + 2];
            snprintf(msg, sizeof(msg), "%s: %s", err->field, err->msg);
            bk_strlcpy(err->msg, msg, sizeof(err->msg));
        }
        return e;
    }
    it->status = it->known ? BK_DELIVERY_PROCESSED : BK_DELIVERY_IGNORED;
    it->loaded = true;
    return BK_OK;
}

/* One delivery inside tx: the event into the ledger, waiting deliveries
 * woken, the delivery's status and its job's completion. */
static enum bk_err apply_in(struct bk_tx *tx, struct item *it,
                            struct bk_errbuf *err)
{
    enum bk_err e = BK_OK;

    memset(&it->outcome, 0, sizeof(it->outcome));
    it->woken = 0;
    if (it->known)
        e = bk_ledger_sync_apply(tx, &it->ev, bk_now_utc(), it->arena,
                                 &it->outcome, err);
    /* Deliveries that waited for this booking to be known (a cancellation
     * that arrived before its creation) are due now, even dead ones. */
    if (!e && it->known)
        e = bk_store_delivery_wake(tx, it->d.provider,
                                   bk_ext_event_subject(&it->ev), it->d.id,
                                   bk_now_ms(), &it->woken, err);
    if (!e)
        e = bk_store_delivery_set_status(tx, it->d.id, it->status, NULL,
                                         bk_now_ms(), it->job->id, err);
    if (!e)
        e = bk_jobs_finish(tx, it->job, err);
    return e;
}

/* An error that is the transaction's (or the database's) rather than one
 * delivery's: every delivery of the attempt shares it. */
static bool whole(enum bk_err e)
{
    return e == BK_E_SERIALIZATION || e == BK_E_BUSY || e == BK_E_IO ||
           e == BK_E_UNAVAILABLE;
}

/* One write transaction over (at most limit of) the deliveries of items
 * not done yet, in order; those get in_tx. On an error of one delivery's,
 * *bad is its index (else -1). */
static enum bk_err attempt(const struct bk_webhook_registry *reg,
                           struct bk_store *store, struct item *items, size_t n,
                           size_t limit, ptrdiff_t *bad, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    size_t taken = 0;
    enum bk_err e;

    *bad = -1;
    for (size_t i = 0; i < n; i++)
        items[i].in_tx = false;
    e = bk_store_begin(store, BK_TX_WRITE, &tx, err);
    for (size_t i = 0; i < n && !e && taken < limit; i++) {
        if (items[i].done)
            continue;
        items[i].in_tx = true;
        taken++;
        if (!items[i].loaded)
            e = load(reg, tx, &items[i], err);
        if (!e)
            e = apply_in(tx, &items[i], err);
        if (e)
            *bad = (ptrdiff_t)i;
    }
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

static void log_applied(const struct item *it)
{
    bk_log_info("inbox: %s delivery %s (%s) %s%s%s%s", it->d.provider,
                it->d.public_id, it->d.type ? it->d.type : "?",
                it->known ? it->outcome.action : "ignored",
                it->outcome.booking_uid ? " booking " : "",
                it->outcome.booking_uid ? it->outcome.booking_uid : "",
                it->woken ? "; woke deliveries waiting for it" : "");
}

/* Applies deliveries together: one write transaction for all of them
 * (each delivery's ledger change, status and job completion), so that a
 * batch costs one commit. A delivery whose own change fails is left out
 * and the rest go again without it; an error of the transaction's fails
 * them all (retried later, each on its own job). A delivery that waited
 * for a booking another one of the batch created (BK_E_RETRY) goes once
 * more after that one committed. */
static void run_batch(void *ctx, struct bk_store *store,
                      const struct bk_job *const *jobs,
                      struct bk_arena *const *arenas, size_t n,
                      enum bk_err *results, struct bk_errbuf *errs)
{
    const struct bk_webhook_registry *reg = ctx;
    struct item *items = bk_xcalloc(n ? n : 1, sizeof(*items));
    struct bk_errbuf err;
    size_t pending = 0, limit = n;
    int tries = 0;

    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        it->job = jobs[i];
        it->arena = arenas[i];
        results[i] = BK_OK;
        if (bk_parse_i64(jobs[i]->payload, 1, INT64_MAX, &it->id) != BK_OK)
            results[i] = bk_fail(&errs[i], BK_E_INVALID,
                                 "job payload '%s' is not a delivery id",
                                 jobs[i]->payload);
        else if (bk_fault("inbox.apply"))
            /* The apply's own failure, counted as an attempt: not BK_E_IO,
             * which the pool takes for the store's (not counted) when the
             * thread saw the store fail meanwhile — as another delivery of
             * the batch may make it (a serialization failure). */
            results[i] =
                bk_fail(&errs[i], BK_E_INTERNAL, "injected fault: inbox.apply");
        it->done = results[i] != BK_OK;
        if (!it->done)
            pending++;
    }
    while (pending) {
        ptrdiff_t bad;
        enum bk_err e;

        bk_errbuf_clear(&err);
        e = attempt(reg, store, items, n, limit, &bad, &err);
        if (e == BK_E_SERIALIZATION && ++tries < BK_STORE_TX_TRIES) {
            /* Batches that failed each other would again (PostgreSQL):
             * one delivery a transaction from now on. */
            limit = 1;
            bk_store_retry_pause(tries);
            continue;
        }
        if (e && bad >= 0 && !whole(e)) {
            results[bad] = e;
            errs[bad] = err;
            items[bad].done = true;
            pending--;
            continue;
        }
        tries = 0;
        for (size_t i = 0; i < n; i++) {
            /* An error of the transaction's is every remaining one's. */
            if (items[i].done || (!e && !items[i].in_tx))
                continue;
            items[i].done = true;
            pending--;
            results[i] = e;
            if (e)
                errs[i] = err;
            else
                log_applied(&items[i]);
        }
        if (e)
            break;
        /* All committed: what waited for one of them may go now. */
        if (!pending)
            for (size_t i = 0; i < n; i++)
                if (results[i] == BK_E_RETRY && !items[i].retried) {
                    items[i].retried = true;
                    items[i].done = false;
                    pending++;
                }
    }
    free(items);
}

static enum bk_err run(void *ctx, struct bk_store *store,
                       const struct bk_job *job, struct bk_arena *arena,
                       struct bk_errbuf *err)
{
    struct bk_errbuf errs[1];
    enum bk_err e;

    bk_errbuf_clear(&errs[0]);
    run_batch(ctx, store, &job, &arena, 1, &e, errs);
    if (e && err)
        *err = errs[0];
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
    out->run_batch = run_batch;
    out->on_dead = on_dead;
    out->ctx = (void *)reg;
}
