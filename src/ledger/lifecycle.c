/* ledger/lifecycle.c — the client lifecycle's later steps (DESIGN.md
 * "client"; docs/payments.md "Client lifecycle"): an active client without
 * bookings for a while becomes inactive, and an inactive client who books
 * again is active again. prospect -> active is bk_client_status_after's
 * (core/booking.c), applied where a booking is paid or completed. */
#include <inttypes.h>
#include <string.h>

#include <jansson.h>

#include "ledger/events.h"
#include "ledger/internal.h"
#include "ledger/ledger.h"
#include "base/banned.h"

/* c's status moves from -> to: stored, and CLIENT_UPDATED (client.updated)
 * says so, with why. */
static enum bk_err set_status(struct bk_tx *tx, struct bk_client *c,
                              enum bk_client_status to, const char *actor,
                              const char *why, int64_t now_utc,
                              struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_ledger_event ev;
    enum bk_client_status from = c->status;
    enum bk_err e;

    c->status = to;
    c->updated_utc = now_utc;
    if ((e = bk_store_client_update(tx, c, err)))
        return e;
    bk_ledger_event_init(&ev, BK_LEV_CLIENT_UPDATED, now_utc, actor);
    ev.client_id = c->id;
    ev.detail = bk_ledger_json(
        arena, json_pack("{s:s, s:s, s:s, s:s}", "client", c->public_id,
                         "status", bk_client_status_name(to), "from",
                         bk_client_status_name(from), "reason", why));
    return bk_ledger_emit(tx, &ev, err);
}

enum bk_err bk_ledger_clients_inactivate(struct bk_tx *tx, int inactive_days,
                                         int64_t after_id, int limit,
                                         int64_t now_utc,
                                         struct bk_arena *arena,
                                         int64_t *last_id, int *n_changed,
                                         struct bk_errbuf *err)
{
    struct bk_client *rows = NULL;
    size_t n = 0;
    const char *why;
    enum bk_err e;

    *n_changed = 0;
    *last_id = 0;
    e = bk_store_client_dormant(tx, now_utc - (int64_t)inactive_days * 86400,
                                after_id, limit, arena, &rows, &n, err);
    if (e)
        return e;
    why = bk_arena_printf(arena, "no bookings for %d days", inactive_days);
    for (size_t i = 0; i < n; i++) {
        /* Read again under the row's lock: a booking made meanwhile by a
         * concurrent transaction reactivates it after us, never before. */
        if ((e = bk_store_client_lock(tx, rows[i].id, err)) ||
            (e = bk_store_client_get(tx, rows[i].id, arena, &rows[i], err)))
            return e;
        *last_id = rows[i].id;
        if (rows[i].status != BK_CLIENT_ACTIVE)
            continue;
        if ((e = set_status(tx, &rows[i], BK_CLIENT_INACTIVE, "system", why,
                            now_utc, arena, err)))
            return e;
        (*n_changed)++;
    }
    if (n < (size_t)limit)
        *last_id = 0; /* the last batch */
    return BK_OK;
}

enum bk_err bk_ledger_client_booked(struct bk_tx *tx, struct bk_client *c,
                                    const char *actor, int64_t now_utc,
                                    struct bk_arena *arena,
                                    struct bk_errbuf *err)
{
    enum bk_err e;

    if (c->status != BK_CLIENT_INACTIVE)
        return BK_OK;
    if ((e = bk_store_client_lock(tx, c->id, err)) ||
        (e = bk_store_client_get(tx, c->id, arena, c, err)))
        return e;
    if (c->status != BK_CLIENT_INACTIVE)
        return BK_OK;
    return set_status(tx, c, BK_CLIENT_ACTIVE, actor, "booked again", now_utc,
                      arena, err);
}
