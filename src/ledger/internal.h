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

struct bk_event_type;
struct bk_booking;

/* booking.c's slot claim inside a LOCKED or WRITE transaction: takes the
 * host's lock and checks that start_utc is a free slot of et at now_utc,
 * exclude_id not counting as busy. BK_E_SLOT_UNAVAILABLE or BK_E_INVALID
 * (field "start") otherwise. */
BK_MUST_CHECK enum bk_err
bk_ledger_claim_slot(struct bk_tx *tx, const struct bk_event_type *et,
                     int64_t start_utc, int64_t now_utc, int64_t exclude_id,
                     struct bk_arena *arena, struct bk_errbuf *err);

/* Reads the booking uid for a change: its host's lock, its row's lock,
 * then the row again. */
BK_MUST_CHECK enum bk_err
bk_ledger_load_locked(struct bk_tx *tx, const char *uid, struct bk_arena *arena,
                      struct bk_booking *b, struct bk_errbuf *err);

#endif
