/* store/store.c — chooses a backend by URL and forwards every call to it. */
#include <string.h>

#include "store/backend.h"
#include "base/banned.h"

static const struct bk_store_backend *const backends[] = {
    &bk_store_sqlite,
};

enum bk_err bk_store_open(const char *url, int pool_size, struct bk_store **out,
                          struct bk_errbuf *err)
{
    *out = NULL;
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        size_t n = strlen(backends[i]->scheme);
        if (url && strncmp(url, backends[i]->scheme, n) == 0)
            return backends[i]->open(url, pool_size, out, err);
    }
    if (url && strncmp(url, "postgres", 8) == 0)
        return bk_fail(err, BK_E_CONFIG,
                       "PostgreSQL is not supported by this build yet; use "
                       "sqlite:PATH");
    return bk_fail(err, BK_E_CONFIG,
                   "unknown database URL scheme (expected sqlite:PATH)");
}

void bk_store_free(struct bk_store *store)
{
    if (store)
        store->vt->free(store);
}

const char *bk_store_backend(const struct bk_store *store)
{
    return store->vt->name;
}

void bk_store_rollback(struct bk_tx *tx)
{
    if (tx)
        tx->vt->rollback(tx);
}

enum bk_err bk_store_migrate(struct bk_store *store, int *from, int *to,
                             struct bk_errbuf *err)
{
    return store->vt->migrate(store, from, to, err);
}

enum bk_err bk_store_version(struct bk_store *store, int *current, int *newest,
                             struct bk_errbuf *err)
{
    return store->vt->version(store, current, newest, err);
}

enum bk_err bk_store_ping(struct bk_store *store, struct bk_errbuf *err)
{
    return store->vt->ping(store, err);
}

enum bk_err bk_store_begin(struct bk_store *store, enum bk_tx_mode mode,
                           struct bk_tx **out, struct bk_errbuf *err)
{
    return store->vt->begin(store, mode, out, err);
}

enum bk_err bk_store_commit(struct bk_tx *tx, struct bk_errbuf *err)
{
    return tx->vt->commit(tx, err);
}

enum bk_err bk_store_host_lock(struct bk_tx *tx, int64_t host_id,
                               struct bk_errbuf *err)
{
    return tx->vt->host_lock(tx, host_id, err);
}

enum bk_err bk_store_meta_get(struct bk_tx *tx, const char *key,
                              struct bk_arena *arena, const char **value,
                              struct bk_errbuf *err)
{
    return tx->vt->meta_get(tx, key, arena, value, err);
}

enum bk_err bk_store_meta_put(struct bk_tx *tx, const char *key,
                              const char *value, struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->meta_put(tx, key, value, err);
}

enum bk_err bk_store_host_insert(struct bk_tx *tx, const struct bk_host *h,
                                 int64_t *id, struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->host_insert(tx, h, id, err);
}

enum bk_err bk_store_host_update(struct bk_tx *tx, const struct bk_host *h,
                                 struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->host_update(tx, h, err);
}

enum bk_err bk_store_host_delete(struct bk_tx *tx, int64_t id,
                                 struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->host_delete(tx, id, err);
}

enum bk_err bk_store_host_get(struct bk_tx *tx, int64_t id,
                              struct bk_arena *arena, struct bk_host *out,
                              struct bk_errbuf *err)
{
    return tx->vt->host_get(tx, id, arena, out, err);
}

enum bk_err bk_store_host_by_slug(struct bk_tx *tx, const char *slug,
                                  struct bk_arena *arena, struct bk_host *out,
                                  struct bk_errbuf *err)
{
    return tx->vt->host_by_slug(tx, slug, arena, out, err);
}

enum bk_err bk_store_host_by_email(struct bk_tx *tx, const char *email,
                                   struct bk_arena *arena, struct bk_host *out,
                                   struct bk_errbuf *err)
{
    return tx->vt->host_by_email(tx, email, arena, out, err);
}

enum bk_err bk_store_host_list(struct bk_tx *tx, const struct bk_page *page,
                               struct bk_arena *arena, struct bk_host **out,
                               size_t *n, struct bk_errbuf *err)
{
    return tx->vt->host_list(tx, page, arena, out, n, err);
}

enum bk_err bk_store_schedule_put(struct bk_tx *tx, int64_t host_id,
                                  const struct bk_schedule *s, int64_t now_utc,
                                  struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->schedule_put(tx, host_id, s, now_utc, err);
}

enum bk_err bk_store_schedule_get(struct bk_tx *tx, int64_t host_id,
                                  struct bk_arena *arena,
                                  struct bk_schedule *out,
                                  struct bk_errbuf *err)
{
    return tx->vt->schedule_get(tx, host_id, arena, out, err);
}

enum bk_err bk_store_event_type_insert(struct bk_tx *tx,
                                       const struct bk_event_type *et,
                                       int64_t *id, struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->event_type_insert(tx, et, id, err);
}

enum bk_err bk_store_event_type_update(struct bk_tx *tx,
                                       const struct bk_event_type *et,
                                       struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->event_type_update(tx, et, err);
}

enum bk_err bk_store_event_type_delete(struct bk_tx *tx, int64_t id,
                                       struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->event_type_delete(tx, id, err);
}

enum bk_err bk_store_event_type_get(struct bk_tx *tx, int64_t id,
                                    struct bk_arena *arena,
                                    struct bk_event_type *out,
                                    struct bk_errbuf *err)
{
    return tx->vt->event_type_get(tx, id, arena, out, err);
}

enum bk_err bk_store_event_type_by_slug(struct bk_tx *tx, const char *slug,
                                        struct bk_arena *arena,
                                        struct bk_event_type *out,
                                        struct bk_errbuf *err)
{
    return tx->vt->event_type_by_slug(tx, slug, arena, out, err);
}

enum bk_err bk_store_event_type_by_calcom_id(struct bk_tx *tx,
                                             int64_t calcom_id,
                                             struct bk_arena *arena,
                                             struct bk_event_type *out,
                                             struct bk_errbuf *err)
{
    return tx->vt->event_type_by_calcom_id(tx, calcom_id, arena, out, err);
}

enum bk_err bk_store_event_type_list(struct bk_tx *tx, int active,
                                     const struct bk_page *page,
                                     struct bk_arena *arena,
                                     struct bk_event_type **out, size_t *n,
                                     struct bk_errbuf *err)
{
    return tx->vt->event_type_list(tx, active, page, arena, out, n, err);
}

enum bk_err bk_store_client_insert(struct bk_tx *tx, const struct bk_client *c,
                                   int64_t *id, struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->client_insert(tx, c, id, err);
}

enum bk_err bk_store_client_update(struct bk_tx *tx, const struct bk_client *c,
                                   struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->client_update(tx, c, err);
}

enum bk_err bk_store_client_get(struct bk_tx *tx, int64_t id,
                                struct bk_arena *arena, struct bk_client *out,
                                struct bk_errbuf *err)
{
    return tx->vt->client_get(tx, id, arena, out, err);
}

enum bk_err bk_store_client_by_public_id(struct bk_tx *tx,
                                         const char *public_id,
                                         struct bk_arena *arena,
                                         struct bk_client *out,
                                         struct bk_errbuf *err)
{
    return tx->vt->client_by_public_id(tx, public_id, arena, out, err);
}

enum bk_err bk_store_client_by_email(struct bk_tx *tx, const char *email,
                                     struct bk_arena *arena,
                                     struct bk_client *out,
                                     struct bk_errbuf *err)
{
    return tx->vt->client_by_email(tx, email, arena, out, err);
}

enum bk_err bk_store_client_list(struct bk_tx *tx, const char *email,
                                 int status, const struct bk_page *page,
                                 struct bk_arena *arena, struct bk_client **out,
                                 size_t *n, struct bk_errbuf *err)
{
    return tx->vt->client_list(tx, email, status, page, arena, out, n, err);
}

enum bk_err bk_store_booking_insert(struct bk_tx *tx,
                                    const struct bk_booking *b, int64_t *id,
                                    struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->booking_insert(tx, b, id, err);
}

enum bk_err bk_store_booking_update(struct bk_tx *tx,
                                    const struct bk_booking *b,
                                    struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->booking_update(tx, b, err);
}

enum bk_err bk_store_booking_get(struct bk_tx *tx, int64_t id,
                                 struct bk_arena *arena, struct bk_booking *out,
                                 struct bk_errbuf *err)
{
    return tx->vt->booking_get(tx, id, arena, out, err);
}

enum bk_err bk_store_booking_by_uid(struct bk_tx *tx, const char *uid,
                                    struct bk_arena *arena,
                                    struct bk_booking *out,
                                    struct bk_errbuf *err)
{
    return tx->vt->booking_by_uid(tx, uid, arena, out, err);
}

enum bk_err bk_store_booking_list(struct bk_tx *tx,
                                  const struct bk_booking_filter *f,
                                  struct bk_arena *arena,
                                  struct bk_booking **out, size_t *n,
                                  struct bk_errbuf *err)
{
    return tx->vt->booking_list(tx, f, arena, out, n, err);
}

enum bk_err bk_store_booking_busy(struct bk_tx *tx, int64_t host_id,
                                  int64_t from_utc, int64_t to_utc,
                                  int64_t now_utc, int64_t exclude_id,
                                  struct bk_arena *arena,
                                  struct bk_booking_span **out, size_t *n,
                                  struct bk_errbuf *err)
{
    return tx->vt->booking_busy(tx, host_id, from_utc, to_utc, now_utc,
                                exclude_id, arena, out, n, err);
}

enum bk_err bk_store_history_append(struct bk_tx *tx,
                                    const struct bk_booking_change *c,
                                    struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->history_append(tx, c, err);
}

enum bk_err bk_store_history_list(struct bk_tx *tx, int64_t booking_id,
                                  struct bk_arena *arena,
                                  struct bk_booking_change **out, size_t *n,
                                  struct bk_errbuf *err)
{
    return tx->vt->history_list(tx, booking_id, arena, out, n, err);
}

enum bk_err bk_store_link_insert(struct bk_tx *tx, const struct bk_link *l,
                                 struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->link_insert(tx, l, err);
}

enum bk_err bk_store_link_update(struct bk_tx *tx, const struct bk_link *l,
                                 struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->link_update(tx, l, err);
}

enum bk_err bk_store_link_find(struct bk_tx *tx, const char *provider,
                               const char *kind, const char *external_id,
                               struct bk_arena *arena, struct bk_link *out,
                               struct bk_errbuf *err)
{
    return tx->vt->link_find(tx, provider, kind, external_id, arena, out, err);
}

enum bk_err bk_store_link_list(struct bk_tx *tx, enum bk_link_entity entity,
                               int64_t entity_id, struct bk_arena *arena,
                               struct bk_link **out, size_t *n,
                               struct bk_errbuf *err)
{
    return tx->vt->link_list(tx, entity, entity_id, arena, out, n, err);
}

enum bk_err bk_store_activity_append(struct bk_tx *tx,
                                     const struct bk_activity *a,
                                     struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->activity_append(tx, a, err);
}

enum bk_err bk_store_activity_list(struct bk_tx *tx, const char *kind,
                                   int64_t booking_id, int64_t before_id,
                                   int limit, struct bk_arena *arena,
                                   struct bk_activity **out, size_t *n,
                                   struct bk_errbuf *err)
{
    return tx->vt->activity_list(tx, kind, booking_id, before_id, limit, arena,
                                 out, n, err);
}

enum bk_err bk_store_delivery_insert(struct bk_tx *tx,
                                     const struct bk_delivery *d, int64_t *id,
                                     bool *existed, struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->delivery_insert(tx, d, id, existed, err);
}

enum bk_err bk_store_delivery_set_status(struct bk_tx *tx, int64_t id,
                                         enum bk_delivery_status status,
                                         const char *error,
                                         int64_t processed_ms, int64_t job_id,
                                         struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->delivery_set_status(tx, id, status, error, processed_ms,
                                       job_id, err);
}

enum bk_err bk_store_delivery_get(struct bk_tx *tx, int64_t id,
                                  struct bk_arena *arena,
                                  struct bk_delivery *out,
                                  struct bk_errbuf *err)
{
    return tx->vt->delivery_get(tx, id, arena, out, err);
}

enum bk_err bk_store_delivery_by_public_id(struct bk_tx *tx,
                                           const char *public_id,
                                           struct bk_arena *arena,
                                           struct bk_delivery *out,
                                           struct bk_errbuf *err)
{
    return tx->vt->delivery_by_public_id(tx, public_id, arena, out, err);
}

enum bk_err bk_store_delivery_list(struct bk_tx *tx, const char *provider,
                                   int status, int64_t before_id, int limit,
                                   struct bk_arena *arena,
                                   struct bk_delivery **out, size_t *n,
                                   struct bk_errbuf *err)
{
    return tx->vt->delivery_list(tx, provider, status, before_id, limit, arena,
                                 out, n, err);
}

enum bk_err bk_store_delivery_wake(struct bk_tx *tx, const char *provider,
                                   const char *subject, int64_t except_id,
                                   int64_t now_ms, int *n,
                                   struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->delivery_wake(tx, provider, subject, except_id, now_ms, n,
                                 err);
}

enum bk_err bk_store_job_enqueue(struct bk_tx *tx, const char *kind,
                                 const char *dedupe_key, const char *payload,
                                 int64_t run_at_ms, int max_attempts,
                                 int64_t now_ms, int64_t *id, bool *existed,
                                 struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->job_enqueue(tx, kind, dedupe_key, payload, run_at_ms,
                               max_attempts, now_ms, id, existed, err);
}

enum bk_err bk_store_job_claim(struct bk_tx *tx, int64_t now_ms,
                               int64_t lease_ms, int64_t token,
                               struct bk_arena *arena, struct bk_job *out,
                               struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->job_claim(tx, now_ms, lease_ms, token, arena, out, err);
}

enum bk_err bk_store_job_complete(struct bk_tx *tx, int64_t id, int64_t token,
                                  int64_t now_ms, struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->job_complete(tx, id, token, now_ms, err);
}

enum bk_err bk_store_job_fail(struct bk_tx *tx, int64_t id, int64_t token,
                              bool dead, int64_t run_at_ms, const char *error,
                              int64_t now_ms, struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->job_fail(tx, id, token, dead, run_at_ms, error, now_ms, err);
}

enum bk_err bk_store_job_requeue(struct bk_tx *tx, int64_t id, int64_t now_ms,
                                 struct bk_errbuf *err)
{
    if (tx->mode != BK_TX_WRITE)
        return bk_fail(err, BK_E_INTERNAL, "%s needs a write transaction",
                       __func__);
    return tx->vt->job_requeue(tx, id, now_ms, err);
}

enum bk_err bk_store_job_get(struct bk_tx *tx, int64_t id,
                             struct bk_arena *arena, struct bk_job *out,
                             struct bk_errbuf *err)
{
    return tx->vt->job_get(tx, id, arena, out, err);
}

enum bk_err bk_store_job_next_due(struct bk_tx *tx, int64_t *due_ms,
                                  struct bk_errbuf *err)
{
    return tx->vt->job_next_due(tx, due_ms, err);
}

enum bk_err bk_store_job_counts(struct bk_tx *tx, int64_t counts[4],
                                struct bk_errbuf *err)
{
    return tx->vt->job_counts(tx, counts, err);
}
