/* jobs/inbox.h — durable intake of webhook deliveries with group commit.
 * DESIGN.md principle 2: a delivery is stored in a committed transaction
 * before it is acknowledged. Many HTTP threads hand deliveries to one
 * committer thread, which writes whatever has queued up in one transaction
 * (one fsync for the batch) and then answers each caller with its result
 * (a callback: an HTTP request waits suspended, holding no thread); no
 * answer comes before the transaction holding its delivery committed. A
 * stored delivery that needs applying gets an "inbox.apply" job in the same
 * transaction (the job payload is the delivery's row id). */
#ifndef BK_JOBS_INBOX_H
#define BK_JOBS_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "core/ledger.h"
#include "jobs/jobs.h"
#include "store/store.h"

#define BK_INBOX_APPLY_KIND "inbox.apply"

struct bk_inbox;

struct bk_inbox_config {
    int max_batch;    /* deliveries per transaction at most */
    int max_queue;    /* waiting deliveries at most; more get BK_E_BUSY */
    int max_attempts; /* of each apply job */
};

/* One delivery to store; all borrowed for the call. */
struct bk_inbox_item {
    const char *provider;     /* "calcom" */
    const char *delivery_key; /* idempotency key; (provider, key) unique */
    const char *type;         /* trigger, or NULL */
    const char *subject;      /* the booking uid it is about, or NULL */
    const char *payload;      /* the raw body */
    size_t payload_len;
    const char *normalized; /* the normalized event as JSON, or NULL */
    /* RECEIVED: queue it for applying; IGNORED or FAILED: store only. */
    enum bk_delivery_status status;
    const char *error; /* for FAILED */
};

struct bk_inbox_result {
    int64_t id;
    const char *public_id; /* in the caller's arena */
    bool existed;          /* a replay: the stored row was left as it was */
    enum bk_delivery_status status; /* of the stored row */
};

/* Starts the committer thread. jobs (may be NULL) is woken after each batch
 * that queued apply jobs. Returns an owned inbox; free with bk_inbox_free
 * after the HTTP server has stopped. */
BK_MUST_CHECK enum bk_err bk_inbox_start(struct bk_store *store,
                                         struct bk_jobs *jobs,
                                         const struct bk_inbox_config *cfg,
                                         struct bk_inbox **out,
                                         struct bk_errbuf *err);

/* The answer of a submitted delivery: e is BK_OK once it is durable (res
 * then tells how it was stored; res->public_id is valid during the call
 * only), or why nothing was stored (BK_E_IO, BK_E_BUSY, ... from the
 * database, with err; the provider should send it again). Called exactly
 * once, on the committer's thread, after the transaction holding the
 * delivery committed or failed; it must not block (it delays the next
 * batch) and must not call into the inbox. */
typedef void (*bk_inbox_done_fn)(void *ctx, enum bk_err e,
                                 const struct bk_inbox_result *res,
                                 const struct bk_errbuf *err);

/* Queues one delivery for the next batch without waiting for it: done(ctx,
 * ...) is called later, as above. BK_E_BUSY (nothing queued, done never
 * called) when the queue is full or the inbox is stopping. item and
 * everything it points at, and arena (where the queue entry is allocated
 * here, on the caller's thread), must stay valid until done has been
 * called. Thread-safe. */
BK_MUST_CHECK enum bk_err bk_inbox_submit(struct bk_inbox *inbox,
                                          const struct bk_inbox_item *item,
                                          struct bk_arena *arena,
                                          bk_inbox_done_fn done, void *ctx,
                                          struct bk_errbuf *err);

/* Stores one delivery and returns once it is durable (BK_OK), or failed
 * (BK_E_BUSY when the queue is full, BK_E_IO/BK_E_BUSY when the database
 * refused: nothing was stored, the provider should retry): bk_inbox_submit
 * and a wait. Blocks the calling thread (not for HTTP handlers, which
 * defer instead: api/webhooks.c); thread-safe. */
BK_MUST_CHECK enum bk_err bk_inbox_store(struct bk_inbox *inbox,
                                         const struct bk_inbox_item *item,
                                         struct bk_arena *arena,
                                         struct bk_inbox_result *out,
                                         struct bk_errbuf *err);

/* Queues an admin's replay of a stored delivery: its apply job is made
 * pending again (or created), and the delivery is marked received.
 * BK_E_NOT_FOUND, or BK_E_CONFLICT while it is being applied. */
BK_MUST_CHECK enum bk_err bk_inbox_replay(struct bk_inbox *inbox,
                                          const char *public_id,
                                          struct bk_errbuf *err);

/* Stops the committer (after the batch in flight) and frees. NULL is a
 * no-op. No bk_inbox_store call may be running. */
void bk_inbox_free(struct bk_inbox *inbox);

/* Liveness of the committer (GET /readyz): it beats when it takes a batch
 * and rests while it waits for deliveries, on the monotonic clock. */
struct bk_inbox_health {
    int64_t busy_ms; /* how long the batch being written has taken; 0 idle */
    bool stalled;    /* busy_ms > stall_ms */
    int queued;      /* deliveries waiting for the next batch */
};

/* Fills out (all zero for NULL). Thread-safe; never waits for the
 * committer (its lock is held only around queue operations). */
void bk_inbox_health(struct bk_inbox *inbox, int64_t stall_ms,
                     struct bk_inbox_health *out);

/* Counters since start, for bench/ingest and metrics. */
struct bk_inbox_stats {
    uint64_t stored;   /* new deliveries committed */
    uint64_t replays;  /* deliveries that existed already */
    uint64_t batches;  /* transactions committed */
    uint64_t failures; /* deliveries refused */
};
void bk_inbox_stats(struct bk_inbox *inbox, struct bk_inbox_stats *out);

#endif
