/* ledger/catalog.c — changes of the business's catalog (hosts, schedules,
 * event types, clients), each a store write and its ledger event in the
 * caller's transaction. The API and `bookingd apply` both go through
 * here, so every catalog change reaches the activity log and the
 * subscribers (a Notion mirror needs client changes). */
#include <string.h>

#include <jansson.h>

#include "ledger/events.h"
#include "ledger/internal.h"
#include "ledger/ledger.h"
#include "base/banned.h"

static enum bk_err emit(struct bk_tx *tx, enum bk_ledger_event_kind kind,
                        const char *actor, int64_t now_utc, int64_t host_id,
                        int64_t event_type_id, int64_t client_id,
                        json_t *detail, struct bk_arena *arena,
                        struct bk_errbuf *err)
{
    struct bk_ledger_event ev;

    bk_ledger_event_init(&ev, kind, now_utc, actor);
    ev.host_id = host_id;
    ev.event_type_id = event_type_id;
    ev.client_id = client_id;
    ev.detail = detail ? bk_ledger_json(arena, detail) : NULL;
    return bk_ledger_emit(tx, &ev, err);
}

enum bk_err bk_ledger_host_create(struct bk_tx *tx, const struct bk_host *h,
                                  const char *actor, int64_t now_utc,
                                  struct bk_arena *arena, int64_t *id,
                                  struct bk_errbuf *err)
{
    enum bk_err e = bk_store_host_insert(tx, h, id, err);

    if (e)
        return e;
    return emit(tx, BK_LEV_HOST_CREATED, actor, now_utc, *id, 0, 0,
                json_pack("{s:s}", "host", h->slug), arena, err);
}

enum bk_err bk_ledger_host_update(struct bk_tx *tx, const struct bk_host *h,
                                  const char *actor, int64_t now_utc,
                                  struct bk_arena *arena, struct bk_errbuf *err)
{
    enum bk_err e = bk_store_host_update(tx, h, err);

    if (e)
        return e;
    return emit(tx, BK_LEV_HOST_UPDATED, actor, now_utc, h->id, 0, 0,
                json_pack("{s:s?}", "host", h->slug), arena, err);
}

enum bk_err bk_ledger_host_delete(struct bk_tx *tx, int64_t id,
                                  const char *slug, const char *actor,
                                  int64_t now_utc, struct bk_arena *arena,
                                  struct bk_errbuf *err)
{
    enum bk_err e = bk_store_host_delete(tx, id, err);

    if (e)
        return e;
    return emit(tx, BK_LEV_HOST_DELETED, actor, now_utc, id, 0, 0,
                json_pack("{s:s?}", "host", slug), arena, err);
}

enum bk_err bk_ledger_schedule_put(struct bk_tx *tx, int64_t host_id,
                                   const struct bk_schedule *s,
                                   const char *actor, int64_t now_utc,
                                   struct bk_arena *arena,
                                   struct bk_errbuf *err)
{
    enum bk_err e = bk_store_schedule_put(tx, host_id, s, now_utc, err);

    if (e)
        return e;
    return emit(tx, BK_LEV_SCHEDULE_UPDATED, actor, now_utc, host_id, 0, 0,
                json_pack("{s:s?, s:I, s:I}", "timezone", s->timezone, "weekly",
                          (json_int_t)s->n_weekly, "overrides",
                          (json_int_t)s->n_overrides),
                arena, err);
}

enum bk_err bk_ledger_event_type_create(struct bk_tx *tx,
                                        const struct bk_event_type *et,
                                        const char *actor, int64_t now_utc,
                                        struct bk_arena *arena, int64_t *id,
                                        struct bk_errbuf *err)
{
    enum bk_err e = bk_store_event_type_insert(tx, et, id, err);

    if (e)
        return e;
    return emit(tx, BK_LEV_EVENT_TYPE_CREATED, actor, now_utc, et->host_id, *id,
                0, json_pack("{s:s}", "event_type", et->slug), arena, err);
}

enum bk_err bk_ledger_event_type_update(struct bk_tx *tx,
                                        const struct bk_event_type *et,
                                        const char *actor, int64_t now_utc,
                                        struct bk_arena *arena,
                                        struct bk_errbuf *err)
{
    enum bk_err e = bk_store_event_type_update(tx, et, err);

    if (e)
        return e;
    return emit(tx, BK_LEV_EVENT_TYPE_UPDATED, actor, now_utc, et->host_id,
                et->id, 0, json_pack("{s:s?}", "event_type", et->slug), arena,
                err);
}

enum bk_err bk_ledger_event_type_delete(struct bk_tx *tx,
                                        const struct bk_event_type *et,
                                        const char *actor, int64_t now_utc,
                                        struct bk_arena *arena,
                                        struct bk_errbuf *err)
{
    enum bk_err e = bk_store_event_type_delete(tx, et->id, err);

    if (e)
        return e;
    return emit(tx, BK_LEV_EVENT_TYPE_DELETED, actor, now_utc, et->host_id,
                et->id, 0, json_pack("{s:s?}", "event_type", et->slug), arena,
                err);
}

enum bk_err bk_ledger_client_update(struct bk_tx *tx, const struct bk_client *c,
                                    const char *actor, int64_t now_utc,
                                    struct bk_arena *arena,
                                    struct bk_errbuf *err)
{
    enum bk_err e = bk_store_client_update(tx, c, err);

    if (e)
        return e;
    return emit(tx, BK_LEV_CLIENT_UPDATED, actor, now_utc, 0, 0, c->id,
                json_pack("{s:s?}", "client", c->public_id), arena, err);
}
