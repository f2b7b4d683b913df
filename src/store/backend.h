/* store/backend.h — what a storage backend implements (STYLE.md: pluggable
 * parts are const tables of function pointers chosen by name). Visible to
 * store/ and its backends only; callers use store.h. Every entry has the
 * contract of the store.h function of the same name. */
#ifndef BK_STORE_BACKEND_H
#define BK_STORE_BACKEND_H

#include "store/store.h"

struct bk_store_backend;

/* Backends embed these as the first member of their own store and
 * transaction structs. */
struct bk_store {
    const struct bk_store_backend *vt;
};

struct bk_tx {
    const struct bk_store_backend *vt;
    enum bk_tx_mode mode;
};

struct bk_store_backend {
    const char *name;   /* "sqlite" */
    const char *scheme; /* URL prefix it opens: "sqlite:" */
    enum bk_err (*open)(const char *url, int pool_size, struct bk_store **out,
                        struct bk_errbuf *err);
    void (*free)(struct bk_store *store);
    void (*rollback)(struct bk_tx *tx);
    enum bk_err (*migrate)(struct bk_store *store, int *from, int *to,
                           struct bk_errbuf *err);
    enum bk_err (*version)(struct bk_store *store, int *current, int *newest,
                           struct bk_errbuf *err);
    enum bk_err (*ping)(struct bk_store *store, struct bk_errbuf *err);
    enum bk_err (*begin)(struct bk_store *store, enum bk_tx_mode mode,
                         struct bk_tx **out, struct bk_errbuf *err);
    enum bk_err (*commit)(struct bk_tx *tx, struct bk_errbuf *err);
    enum bk_err (*host_lock)(struct bk_tx *tx, int64_t host_id,
                             struct bk_errbuf *err);
    enum bk_err (*meta_get)(struct bk_tx *tx, const char *key,
                            struct bk_arena *arena, const char **value,
                            struct bk_errbuf *err);
    enum bk_err (*meta_put)(struct bk_tx *tx, const char *key,
                            const char *value, struct bk_errbuf *err);
    enum bk_err (*host_insert)(struct bk_tx *tx, const struct bk_host *h,
                               int64_t *id, struct bk_errbuf *err);
    enum bk_err (*host_update)(struct bk_tx *tx, const struct bk_host *h,
                               struct bk_errbuf *err);
    enum bk_err (*host_delete)(struct bk_tx *tx, int64_t id,
                               struct bk_errbuf *err);
    enum bk_err (*host_get)(struct bk_tx *tx, int64_t id,
                            struct bk_arena *arena, struct bk_host *out,
                            struct bk_errbuf *err);
    enum bk_err (*host_by_slug)(struct bk_tx *tx, const char *slug,
                                struct bk_arena *arena, struct bk_host *out,
                                struct bk_errbuf *err);
    enum bk_err (*host_by_email)(struct bk_tx *tx, const char *email,
                                 struct bk_arena *arena, struct bk_host *out,
                                 struct bk_errbuf *err);
    enum bk_err (*host_list)(struct bk_tx *tx, const struct bk_page *page,
                             struct bk_arena *arena, struct bk_host **out,
                             size_t *n, struct bk_errbuf *err);
    enum bk_err (*schedule_put)(struct bk_tx *tx, int64_t host_id,
                                const struct bk_schedule *s, int64_t now_utc,
                                struct bk_errbuf *err);
    enum bk_err (*schedule_get)(struct bk_tx *tx, int64_t host_id,
                                struct bk_arena *arena, struct bk_schedule *out,
                                struct bk_errbuf *err);
    enum bk_err (*event_type_insert)(struct bk_tx *tx,
                                     const struct bk_event_type *et,
                                     int64_t *id, struct bk_errbuf *err);
    enum bk_err (*event_type_update)(struct bk_tx *tx,
                                     const struct bk_event_type *et,
                                     struct bk_errbuf *err);
    enum bk_err (*event_type_delete)(struct bk_tx *tx, int64_t id,
                                     struct bk_errbuf *err);
    enum bk_err (*event_type_get)(struct bk_tx *tx, int64_t id,
                                  struct bk_arena *arena,
                                  struct bk_event_type *out,
                                  struct bk_errbuf *err);
    enum bk_err (*event_type_by_slug)(struct bk_tx *tx, const char *slug,
                                      struct bk_arena *arena,
                                      struct bk_event_type *out,
                                      struct bk_errbuf *err);
    enum bk_err (*event_type_by_calcom_id)(struct bk_tx *tx, int64_t calcom_id,
                                           struct bk_arena *arena,
                                           struct bk_event_type *out,
                                           struct bk_errbuf *err);
    enum bk_err (*event_type_list)(struct bk_tx *tx, int active,
                                   const struct bk_page *page,
                                   struct bk_arena *arena,
                                   struct bk_event_type **out, size_t *n,
                                   struct bk_errbuf *err);
    enum bk_err (*client_insert)(struct bk_tx *tx, const struct bk_client *c,
                                 int64_t *id, struct bk_errbuf *err);
    enum bk_err (*client_update)(struct bk_tx *tx, const struct bk_client *c,
                                 struct bk_errbuf *err);
    enum bk_err (*client_get)(struct bk_tx *tx, int64_t id,
                              struct bk_arena *arena, struct bk_client *out,
                              struct bk_errbuf *err);
    enum bk_err (*client_by_public_id)(struct bk_tx *tx, const char *public_id,
                                       struct bk_arena *arena,
                                       struct bk_client *out,
                                       struct bk_errbuf *err);
    enum bk_err (*client_by_email)(struct bk_tx *tx, const char *email,
                                   struct bk_arena *arena,
                                   struct bk_client *out,
                                   struct bk_errbuf *err);
    enum bk_err (*client_list)(struct bk_tx *tx, const char *email, int status,
                               const struct bk_page *page,
                               struct bk_arena *arena, struct bk_client **out,
                               size_t *n, struct bk_errbuf *err);
    enum bk_err (*booking_insert)(struct bk_tx *tx, const struct bk_booking *b,
                                  int64_t *id, struct bk_errbuf *err);
    enum bk_err (*booking_update)(struct bk_tx *tx, const struct bk_booking *b,
                                  struct bk_errbuf *err);
    enum bk_err (*booking_get)(struct bk_tx *tx, int64_t id,
                               struct bk_arena *arena, struct bk_booking *out,
                               struct bk_errbuf *err);
    enum bk_err (*booking_by_uid)(struct bk_tx *tx, const char *uid,
                                  struct bk_arena *arena,
                                  struct bk_booking *out,
                                  struct bk_errbuf *err);
    enum bk_err (*booking_list)(struct bk_tx *tx,
                                const struct bk_booking_filter *f,
                                struct bk_arena *arena, struct bk_booking **out,
                                size_t *n, struct bk_errbuf *err);
    enum bk_err (*booking_busy)(struct bk_tx *tx, int64_t host_id,
                                int64_t from_utc, int64_t to_utc,
                                int64_t now_utc, int64_t exclude_id,
                                struct bk_arena *arena,
                                struct bk_booking_span **out, size_t *n,
                                struct bk_errbuf *err);
    enum bk_err (*history_append)(struct bk_tx *tx,
                                  const struct bk_booking_change *c,
                                  struct bk_errbuf *err);
    enum bk_err (*history_list)(struct bk_tx *tx, int64_t booking_id,
                                struct bk_arena *arena,
                                struct bk_booking_change **out, size_t *n,
                                struct bk_errbuf *err);
    enum bk_err (*link_insert)(struct bk_tx *tx, const struct bk_link *l,
                               struct bk_errbuf *err);
    enum bk_err (*link_update)(struct bk_tx *tx, const struct bk_link *l,
                               struct bk_errbuf *err);
    enum bk_err (*link_find)(struct bk_tx *tx, const char *provider,
                             const char *kind, const char *external_id,
                             struct bk_arena *arena, struct bk_link *out,
                             struct bk_errbuf *err);
    enum bk_err (*link_list)(struct bk_tx *tx, enum bk_link_entity entity,
                             int64_t entity_id, struct bk_arena *arena,
                             struct bk_link **out, size_t *n,
                             struct bk_errbuf *err);
    enum bk_err (*activity_append)(struct bk_tx *tx,
                                   const struct bk_activity *a,
                                   struct bk_errbuf *err);
    enum bk_err (*activity_list)(struct bk_tx *tx, const char *kind,
                                 int64_t booking_id, int64_t before_id,
                                 int limit, struct bk_arena *arena,
                                 struct bk_activity **out, size_t *n,
                                 struct bk_errbuf *err);
    enum bk_err (*delivery_insert)(struct bk_tx *tx,
                                   const struct bk_delivery *d, int64_t *id,
                                   bool *existed, struct bk_errbuf *err);
    enum bk_err (*delivery_set_status)(struct bk_tx *tx, int64_t id,
                                       enum bk_delivery_status status,
                                       const char *error, int64_t processed_ms,
                                       int64_t job_id, struct bk_errbuf *err);
    enum bk_err (*delivery_get)(struct bk_tx *tx, int64_t id,
                                struct bk_arena *arena, struct bk_delivery *out,
                                struct bk_errbuf *err);
    enum bk_err (*delivery_by_public_id)(struct bk_tx *tx,
                                         const char *public_id,
                                         struct bk_arena *arena,
                                         struct bk_delivery *out,
                                         struct bk_errbuf *err);
    enum bk_err (*delivery_list)(struct bk_tx *tx, const char *provider,
                                 int status, int64_t before_id, int limit,
                                 struct bk_arena *arena,
                                 struct bk_delivery **out, size_t *n,
                                 struct bk_errbuf *err);
    enum bk_err (*delivery_wake)(struct bk_tx *tx, const char *provider,
                                 const char *subject, int64_t except_id,
                                 int64_t now_ms, int *n, struct bk_errbuf *err);
    enum bk_err (*job_enqueue)(struct bk_tx *tx, const char *kind,
                               const char *dedupe_key, const char *payload,
                               int64_t run_at_ms, int max_attempts,
                               int64_t now_ms, int64_t *id, bool *existed,
                               struct bk_errbuf *err);
    enum bk_err (*job_claim)(struct bk_tx *tx, int64_t now_ms, int64_t lease_ms,
                             int64_t token, struct bk_arena *arena,
                             struct bk_job *out, struct bk_errbuf *err);
    enum bk_err (*job_complete)(struct bk_tx *tx, int64_t id, int64_t token,
                                int64_t now_ms, struct bk_errbuf *err);
    enum bk_err (*job_fail)(struct bk_tx *tx, int64_t id, int64_t token,
                            bool dead, int64_t run_at_ms, const char *error,
                            int64_t now_ms, struct bk_errbuf *err);
    enum bk_err (*job_requeue)(struct bk_tx *tx, int64_t id, int64_t now_ms,
                               struct bk_errbuf *err);
    enum bk_err (*job_get)(struct bk_tx *tx, int64_t id, struct bk_arena *arena,
                           struct bk_job *out, struct bk_errbuf *err);
    enum bk_err (*job_next_due)(struct bk_tx *tx, int64_t *due_ms,
                                struct bk_errbuf *err);
    enum bk_err (*job_counts)(struct bk_tx *tx, int64_t counts[4],
                              struct bk_errbuf *err);
};

/* The backends this build has. */
extern const struct bk_store_backend bk_store_sqlite;

#endif
