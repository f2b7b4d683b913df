/* jobs/inbox.c — the group-commit writer of webhook deliveries. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/inbox.h"
#include "base/fault.h"
#include "ledger/ledger.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "base/banned.h"

/* One delivery waiting for its commit; in the submitter's arena (or on
 * bk_inbox_store's stack) until done has been called. */
struct pending {
    const struct bk_inbox_item *item;
    bk_inbox_done_fn done;
    void *ctx;
    enum bk_err e;
    struct bk_errbuf err;
    int64_t id;
    bool existed;
    bool queued_job;
    enum bk_delivery_status status;
    char public_id[32];
    struct pending *next;
};

struct bk_inbox {
    struct bk_store *store;
    struct bk_jobs *jobs;
    struct bk_inbox_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct pending *head, *tail;
    int queued;
    bool stopping;
    pthread_t thread;
    struct bk_inbox_stats stats;
    /* The committer's heartbeat (GET /readyz): monotonic ms at which it
     * took the batch it is writing; 0 while it waits for deliveries. */
    _Atomic int64_t busy_since;
};

/* Writes one delivery (and its apply job) inside tx. */
static enum bk_err insert(struct bk_inbox *inbox, struct bk_tx *tx,
                          struct pending *p, int64_t now_ms,
                          struct bk_arena *arena)
{
    const struct bk_inbox_item *it = p->item;
    struct bk_delivery d;
    char key[64];
    int64_t job_id;
    bool job_existed;
    enum bk_err e;

    memset(&d, 0, sizeof(d));
    bk_ledger_new_public_id("dlv_", p->public_id);
    d.public_id = p->public_id;
    d.provider = it->provider;
    d.delivery_key = it->delivery_key;
    d.type = it->type;
    d.subject = it->subject;
    d.payload = it->payload;
    d.payload_len = it->payload_len;
    d.normalized = it->normalized;
    d.status = it->status;
    d.error = it->error;
    d.received_ms = now_ms;
    p->queued_job = false;
    e = bk_store_delivery_insert(tx, &d, &p->id, &p->existed, &p->err);
    if (e)
        return e;
    if (p->existed) {
        struct bk_delivery old;
        e = bk_store_delivery_get(tx, p->id, arena, &old, &p->err);
        if (e)
            return e;
        bk_strlcpy(p->public_id, old.public_id, sizeof(p->public_id));
        p->status = old.status;
        return BK_OK;
    }
    p->status = it->status;
    if (it->status != BK_DELIVERY_RECEIVED)
        return BK_OK;
    snprintf(key, sizeof(key), "inbox:%lld", (long long)p->id);
    e = bk_store_job_enqueue(tx, BK_INBOX_APPLY_KIND, key, key + 6, now_ms,
                             inbox->cfg.max_attempts, now_ms, &job_id,
                             &job_existed, &p->err);
    if (e)
        return e;
    p->queued_job = true;
    return bk_store_delivery_set_status(tx, p->id, BK_DELIVERY_RECEIVED, NULL,
                                        0, job_id, &p->err);
}

/* Writes the deliveries of list in one transaction; returns its outcome. */
static enum bk_err write_batch(struct bk_inbox *inbox, struct pending *list,
                               bool single, struct bk_arena *arena)
{
    struct bk_tx *tx = NULL;
    struct bk_errbuf err;
    int64_t now = bk_now_ms();
    enum bk_err e;

    bk_errbuf_clear(&err);
    /* QUEUE: inserts guarded by unique keys need no serializable reads. */
    e = bk_store_begin(inbox->store, BK_TX_QUEUE, &tx, &err);
    for (struct pending *p = list; !e && p; p = single ? NULL : p->next)
        e = insert(inbox, tx, p, now, arena);
    if (!e && bk_fault("inbox.commit"))
        e = bk_fail(&err, BK_E_IO, "injected fault: inbox.commit");
    if (!e) {
        e = bk_store_commit(tx, &err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    if (e && err.msg[0])
        for (struct pending *p = list; p; p = single ? NULL : p->next)
            if (!p->err.msg[0])
                p->err = err;
    return e;
}

static void *committer(void *arg)
{
    struct bk_inbox *inbox = arg;
    struct bk_arena arena;

    bk_arena_init(&arena);
    for (;;) {
        struct pending *batch, *p;
        int n = 0;
        bool wake = false;
        enum bk_err e;

        pthread_mutex_lock(&inbox->lock);
        while (!inbox->head && !inbox->stopping)
            pthread_cond_wait(&inbox->work, &inbox->lock);
        if (!inbox->head) {
            pthread_mutex_unlock(&inbox->lock);
            break;
        }
        /* Take what has queued up, up to a batch. */
        batch = inbox->head;
        for (p = batch; p->next && n + 1 < inbox->cfg.max_batch; p = p->next)
            n++;
        n++;
        inbox->head = p->next;
        if (!inbox->head)
            inbox->tail = NULL;
        p->next = NULL;
        inbox->queued -= n;
        pthread_mutex_unlock(&inbox->lock);

        {
            int64_t now = bk_mono_ms();
            atomic_store(&inbox->busy_since, now ? now : 1);
        }
        /* Test builds: a committer that hangs until the test lets it go. */
        bk_fault_hold("inbox.hold");
        e = write_batch(inbox, batch, false, &arena);
        if (e && n > 1) {
            /* One bad delivery must not sink the others: each alone. */
            for (p = batch; p; p = p->next) {
                bk_errbuf_clear(&p->err);
                p->e = write_batch(inbox, p, true, &arena);
            }
        } else {
            for (p = batch; p; p = p->next)
                p->e = e;
        }
        bk_arena_release(&arena);

        pthread_mutex_lock(&inbox->lock);
        if (!e)
            inbox->stats.batches++;
        for (p = batch; p; p = p->next) {
            if (p->e) {
                inbox->stats.failures++;
            } else if (p->existed) {
                inbox->stats.replays++;
            } else {
                inbox->stats.stored++;
                wake |= p->queued_job;
            }
        }
        pthread_mutex_unlock(&inbox->lock);
        atomic_store(&inbox->busy_since, 0);
        /* Outside the lock: each caller's answer is sent from here. */
        for (p = batch; p;) {
            struct pending *next = p->next; /* p is gone once answered */
            struct bk_inbox_result res;
            memset(&res, 0, sizeof(res));
            if (!p->e) {
                res.id = p->id;
                res.existed = p->existed;
                res.status = p->status;
                res.public_id = p->public_id;
            }
            p->done(p->ctx, p->e, p->e ? NULL : &res, &p->err);
            p = next;
        }
        if (wake)
            bk_jobs_wake(inbox->jobs);
    }
    bk_arena_release(&arena);
    return NULL;
}

enum bk_err bk_inbox_start(struct bk_store *store, struct bk_jobs *jobs,
                           const struct bk_inbox_config *cfg,
                           struct bk_inbox **out, struct bk_errbuf *err)
{
    struct bk_inbox *inbox;

    *out = NULL;
    if (cfg->max_batch < 1 || cfg->max_queue < 1 || cfg->max_attempts < 1)
        return bk_fail(err, BK_E_CONFIG, "invalid inbox configuration");
    inbox = bk_xcalloc(1, sizeof(*inbox));
    inbox->store = store;
    inbox->jobs = jobs;
    inbox->cfg = *cfg;
    pthread_mutex_init(&inbox->lock, NULL);
    pthread_cond_init(&inbox->work, NULL);
    if (pthread_create(&inbox->thread, NULL, committer, inbox) != 0) {
        pthread_cond_destroy(&inbox->work);
        pthread_mutex_destroy(&inbox->lock);
        free(inbox);
        return bk_fail(err, BK_E_INTERNAL, "cannot start the inbox thread");
    }
    *out = inbox;
    return BK_OK;
}

/* Queues p; BK_E_BUSY when the queue is full or the inbox stops. */
static enum bk_err enqueue(struct bk_inbox *inbox, struct pending *p,
                           struct bk_errbuf *err)
{
    pthread_mutex_lock(&inbox->lock);
    if (inbox->stopping || inbox->queued >= inbox->cfg.max_queue) {
        pthread_mutex_unlock(&inbox->lock);
        return bk_fail(err, BK_E_BUSY,
                       "the inbox is full; retry the delivery shortly");
    }
    if (inbox->tail)
        inbox->tail->next = p;
    else
        inbox->head = p;
    inbox->tail = p;
    inbox->queued++;
    pthread_cond_signal(&inbox->work);
    pthread_mutex_unlock(&inbox->lock);
    return BK_OK;
}

enum bk_err bk_inbox_submit(struct bk_inbox *inbox,
                            const struct bk_inbox_item *item,
                            struct bk_arena *arena, bk_inbox_done_fn done,
                            void *ctx, struct bk_errbuf *err)
{
    struct pending *p = bk_arena_alloc(arena, sizeof(*p));

    memset(p, 0, sizeof(*p));
    p->item = item;
    p->done = done;
    p->ctx = ctx;
    return enqueue(inbox, p, err);
}

/* bk_inbox_store's waiting caller. */
struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
    enum bk_err e;
    struct bk_errbuf err;
    struct bk_inbox_result res;
    char public_id[32];
};

static void wake_waiter(void *ctx, enum bk_err e,
                        const struct bk_inbox_result *res,
                        const struct bk_errbuf *err)
{
    struct waiter *w = ctx;

    pthread_mutex_lock(&w->mu);
    w->e = e;
    if (e) {
        w->err = *err;
    } else {
        w->res = *res;
        bk_strlcpy(w->public_id, res->public_id, sizeof(w->public_id));
    }
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

enum bk_err bk_inbox_store(struct bk_inbox *inbox,
                           const struct bk_inbox_item *item,
                           struct bk_arena *arena, struct bk_inbox_result *out,
                           struct bk_errbuf *err)
{
    struct pending p;
    struct waiter w;
    enum bk_err e;

    memset(&p, 0, sizeof(p));
    memset(&w, 0, sizeof(w));
    memset(out, 0, sizeof(*out));
    p.item = item;
    p.done = wake_waiter;
    p.ctx = &w;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cond, NULL);
    e = enqueue(inbox, &p, err);
    if (!e) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cond, &w.mu);
        pthread_mutex_unlock(&w.mu);
        e = w.e;
        if (e && err)
            *err = w.err;
    }
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.mu);
    if (e)
        return e;
    *out = w.res;
    out->public_id = bk_arena_strdup(arena, w.public_id);
    return BK_OK;
}

static enum bk_err replay_once(struct bk_inbox *inbox, const char *public_id,
                               struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_arena arena;
    struct bk_delivery d;
    int64_t now = bk_now_ms(), job_id;
    bool existed;
    char key[64];
    enum bk_err e;

    bk_arena_init(&arena);
    e = bk_store_begin(inbox->store, BK_TX_WRITE, &tx, err);
    if (!e)
        e = bk_store_delivery_by_public_id(tx, public_id, &arena, &d, err);
    if (e)
        goto out;
    job_id = d.job_id;
    if (job_id) {
        e = bk_store_job_requeue(tx, job_id, now, err);
    } else {
        snprintf(key, sizeof(key), "inbox:%lld", (long long)d.id);
        e = bk_store_job_enqueue(tx, BK_INBOX_APPLY_KIND, key, key + 6, now,
                                 inbox->cfg.max_attempts, now, &job_id,
                                 &existed, err);
        if (!e && existed)
            e = bk_store_job_requeue(tx, job_id, now, err);
    }
    if (e)
        goto out;
    e = bk_store_delivery_set_status(tx, d.id, BK_DELIVERY_RECEIVED, NULL, 0,
                                     job_id, err);
    if (e)
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
    if (!e)
        bk_jobs_wake(inbox->jobs);
out:
    bk_store_rollback(tx);
    bk_arena_release(&arena);
    return e;
}

/* A WRITE transaction: on PostgreSQL it can lose a serialization race with
 * the committer or a worker touching the same job, and is then run again
 * (seen as a 503 under load). */
enum bk_err bk_inbox_replay(struct bk_inbox *inbox, const char *public_id,
                            struct bk_errbuf *err)
{
    enum bk_err e;

    BK_STORE_RETRY(e, replay_once(inbox, public_id, err));
    return e;
}

void bk_inbox_stats(struct bk_inbox *inbox, struct bk_inbox_stats *out)
{
    pthread_mutex_lock(&inbox->lock);
    *out = inbox->stats;
    pthread_mutex_unlock(&inbox->lock);
}

void bk_inbox_health(struct bk_inbox *inbox, int64_t stall_ms,
                     struct bk_inbox_health *out)
{
    int64_t since;

    memset(out, 0, sizeof(*out));
    if (!inbox)
        return;
    since = atomic_load(&inbox->busy_since);
    if (since)
        out->busy_ms = bk_mono_ms() - since;
    out->stalled = since && out->busy_ms > stall_ms;
    pthread_mutex_lock(&inbox->lock);
    out->queued = inbox->queued;
    pthread_mutex_unlock(&inbox->lock);
}

void bk_inbox_free(struct bk_inbox *inbox)
{
    if (!inbox)
        return;
    pthread_mutex_lock(&inbox->lock);
    inbox->stopping = true;
    pthread_cond_signal(&inbox->work);
    pthread_mutex_unlock(&inbox->lock);
    pthread_join(inbox->thread, NULL);
    pthread_cond_destroy(&inbox->work);
    pthread_mutex_destroy(&inbox->lock);
    free(inbox);
}
