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

#endif
