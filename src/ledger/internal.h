/* ledger/internal.h — helpers shared by the files of ledger/ only. */
#ifndef BK_LEDGER_INTERNAL_H
#define BK_LEDGER_INTERNAL_H

#include <stdint.h>

#include <jansson.h>

#include "base/arena.h"
#include "base/err.h"
#include "store/store.h"

/* v serialized compactly into the arena (takes v): activity details. */
const char *bk_ledger_json(struct bk_arena *arena, json_t *v);

/* utc as RFC 3339 in UTC, in the arena. */
const char *bk_ledger_iso(struct bk_arena *arena, int64_t utc);

/* Appends one entry to a booking's history inside tx. Statuses are enum
 * bk_booking_status or -1; times 0 when unchanged. */
BK_MUST_CHECK enum bk_err bk_ledger_change(
    struct bk_tx *tx, int64_t booking_id, const char *action,
    const char *actor, int from_status, int to_status, int64_t old_start,
    int64_t old_end, int64_t new_start, int64_t new_end, const char *note,
    int64_t now_utc, struct bk_errbuf *err);

#endif
