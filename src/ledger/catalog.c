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

/* Two nullable strings are equal (NULL as ""). */
static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

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
    struct bk_client was;
    json_t *changed;
    enum bk_err e;

    /* The stored row first: the event names the fields that changed
     * (detail "changed"), so a subscriber knows what to look at. */
    if ((e = bk_store_client_get(tx, c->id, arena, &was, err)) ||
        (e = bk_store_client_update(tx, c, err)))
        return e;
    changed = json_array();
    if (!same(was.email, c->email))
        json_array_append_new(changed, json_string("email"));
    if (!same(was.name, c->name))
        json_array_append_new(changed, json_string("name"));
    if (!same(was.timezone, c->timezone))
        json_array_append_new(changed, json_string("timezone"));
    if (was.status != c->status)
        json_array_append_new(changed, json_string("status"));
    if (!same(was.phone, c->phone))
        json_array_append_new(changed, json_string("phone"));
    if (!same(was.notes, c->notes))
        json_array_append_new(changed, json_string("notes"));
    return emit(
        tx, BK_LEV_CLIENT_UPDATED, actor, now_utc, 0, 0, c->id,
        json_pack("{s:s?, s:o}", "client", c->public_id, "changed", changed),
        arena, err);
}
